/*
 * End-to-end folder workers (issue 4, "Modules"): a worker that is a folder DIR/<tenant>/W/
 * is a bundle of modules (ES modules importing each other by relative path, text, JSON, data
 * and CommonJS modules typed by extension or by W.metadata.json), served through a real
 * edged; a bundle whose import names no module of it, or climbs out of it, or that is over
 * the size limit, stops the node at start-up with exit code 2 and a one-line error naming the
 * tenant, the worker, the importing module and the name.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

TestSuite(bundle, .fini = e2e_teardown, .timeout = 60);

static void put(const char *dir, const char *rel, const char *text)
{
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/%s", dir, rel), text), 0, "%s", e2e_errmsg());
}

/* Starts edged on dir expecting it to refuse: exit 2 and stderr holding needle. */
static void expect_refused(const char *dir, const char *needle)
{
    const char *d = e2e_tmpdir();
    cr_assert_not_null(d);
    const char *args[] = {"--tenants", dir,           "--data", e2e_fmt("%s/data", d),
                          "--listen",  "127.0.0.1:0", NULL};
    char *out = NULL, *err = NULL;
    int rc = e2e_run(args, 20000, &out, &err);
    cr_expect_eq(rc, 2, "edged exited with %d: %s", rc, err ? err : "");
    cr_expect(err && strstr(err, needle), "stderr '%s' lacks '%s'", err ? err : "", needle);
    free(out);
    free(err);
}

Test(bundle, a_folder_worker_serves_its_modules)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    put(dir, "acme/tenant.conf", "route = * api\n");
    put(dir, "acme/api/index.js",
        "import { greet } from './lib/greet.js';\n"
        "import page from './templates/page.html';\n"
        "import conf from './conf.json';\n"
        "import raw from './blob.bin';\n"
        "import row from 'templates/row';\n"
        "import cj from './lib/count.cjs';\n"
        "export default { fetch(req, env) {\n"
        "  return Response.json({ greet: greet(conf.name), page, conf, bytes: raw.byteLength,\n"
        "                         row, cj: cj.n, k: env.K });\n"
        "} };\n");
    put(dir, "acme/api/lib/greet.js",
        "import { PREFIX } from '../lib/consts/prefix.js';\n"
        "export function greet(n) { return PREFIX + n; }\n");
    put(dir, "acme/api/lib/consts/prefix.js", "export const PREFIX = 'hello, ';\n");
    put(dir, "acme/api/lib/count.cjs", "module.exports = { n: 3 };\n");
    put(dir, "acme/api/templates/page.html", "<h1>hi</h1>");
    put(dir, "acme/api/templates/row", "<tr>");
    put(dir, "acme/api/conf.json", "{\"name\": \"bundle\"}");
    put(dir, "acme/api/blob.bin", "12345");
    put(dir, "acme/api.metadata.json",
        "{\"modules\": [{\"name\": \"templates/row\", \"type\": \"text\"}],\n"
        " \"bindings\": [{\"type\": \"plain_text\", \"name\": \"K\", \"text\": \"v\"}]}");
    struct e2e_server *s = E2E_START("--tenants", dir);
    struct e2e_response r;
    E2E_GET(s->port, "example.com", "/", &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(r.body, "{\"greet\":\"hello, bundle\",\"page\":\"<h1>hi</h1>\","
                             "\"conf\":{\"name\":\"bundle\"},\"bytes\":5,\"row\":\"<tr>\","
                             "\"cj\":3,\"k\":\"v\"}");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(bundle, a_missing_import_stops_the_node_at_start)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    put(dir, "acme/tenant.conf", "route = * api\n");
    put(dir, "acme/api/index.js", "import './lib/a.js';\nexport default { fetch() {} };\n");
    put(dir, "acme/api/lib/a.js", "import { x } from './missing.js';\nexport const a = x;\n");
    expect_refused(dir, "edged: tenant acme worker api: lib/a.js imports \"./missing.js\", which "
                        "is not a module of this worker\n");
}

Test(bundle, an_import_out_of_the_bundle_is_refused_not_read)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    put(dir, "acme/tenant.conf", "route = * api\n");
    /* the file the import names exists on disk, two folders up: it must not be read */
    put(dir, "acme/secret.txt", "on disk, outside the bundle");
    put(dir, "acme/api/index.js",
        "import s from '../../acme/secret.txt';\n"
        "import p from '../../etc/passwd';\n"
        "export default { fetch() { return new Response(s + p); } };\n");
    expect_refused(dir, "edged: tenant acme worker api: index.js imports "
                        "\"../../acme/secret.txt\", which is outside the worker's bundle\n");
}

Test(bundle, a_syntax_error_anywhere_in_the_bundle_stops_the_node)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    put(dir, "acme/tenant.conf", "route = * api\n");
    put(dir, "acme/api/index.js", "export default { fetch() {} };\n");
    put(dir, "acme/api/lib/unused.js", "export const = 1;\n");
    expect_refused(dir, "edged: tenant acme worker api: lib/unused.js:1");
}

Test(bundle, a_bundle_over_64_mib_is_refused_with_its_size)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    put(dir, "acme/tenant.conf", "route = * api\n");
    put(dir, "acme/api/index.js", "export default { fetch() {} };\n");
    put(dir, "acme/api/big.bin", "");
    /* sparse: the sizes are judged before anything is read */
    cr_assert_eq(truncate(e2e_fmt("%s/acme/api/big.bin", dir), 65 << 20), 0);
    expect_refused(dir, "edged: tenant acme worker api: the bundle is 68157440 bytes or more "
                        "(the largest module, big.bin, 68157440), over the 67108864-byte (64 "
                        "MiB) limit\n");
}
