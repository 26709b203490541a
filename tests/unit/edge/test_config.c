/*
 * edge/config.c and edge/site.c: flags with defaults and bounds, the tenants directory format,
 * and the one-line errors a config mistake produces.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/edge_int.h"

static int parse(struct edge_config *cfg, struct ed_error *err, int argc, char **argv)
{
    return edge__config_parse(cfg, argc, argv, err);
}

Test(edge_config, defaults)
{
    struct edge_config cfg;
    struct ed_error err = {0};
    char *argv[] = {"edged", NULL};
    cr_assert_eq(parse(&cfg, &err, 1, argv), EDGE_CONFIG_RUN);
    cr_assert_str_eq(cfg.listen_host, "127.0.0.1");
    cr_assert_eq(cfg.listen_port, 8080);
    cr_assert_eq(cfg.cpu_ms, 50);
    cr_assert_eq(cfg.heap_mb, 128);
    cr_assert_eq(cfg.max_header_bytes, 16384);
    cr_assert(strstr(cfg.tenants_dir, "examples/tenants"));
    cr_assert(strstr(cfg.data_dir, "/data"));
    cr_assert_geq(cfg.threads, 1);
    edge__config_dispose(&cfg);
}

Test(edge_config, flags_and_worker_disables_default_tenants)
{
    struct edge_config cfg;
    struct ed_error err = {0};
    char *argv[] = {"edged", "--listen", "[::1]:0",        "--threads",        "3",  "--cpu-ms",
                    "20",    "--worker", "a.com/api=x.js", "--max-body-bytes", "10", NULL};
    cr_assert_eq(parse(&cfg, &err, 11, argv), EDGE_CONFIG_RUN, "%s", ed_error_msg(&err));
    cr_assert_str_eq(cfg.listen_host, "::1");
    cr_assert_eq(cfg.listen_port, 0);
    cr_assert_eq(cfg.threads, 3);
    cr_assert_eq(cfg.cpu_ms, 20);
    cr_assert_eq(cfg.max_body_bytes, 10);
    cr_assert_null(cfg.tenants_dir);
    cr_assert_eq(cfg.n_worker_flags, 1);
    cr_assert_str_eq(cfg.worker_flags[0].route, "a.com/api");
    cr_assert_str_eq(cfg.worker_flags[0].file, "x.js");
    edge__config_dispose(&cfg);
}

static void expect_bad(int argc, char **argv, const char *needle)
{
    struct edge_config cfg;
    struct ed_error err = {0};
    cr_assert_eq(parse(&cfg, &err, argc, argv), ED_EINVAL);
    cr_assert(strstr(ed_error_msg(&err), needle), "'%s' lacks '%s'", ed_error_msg(&err), needle);
    cr_assert_null(strchr(ed_error_msg(&err), '\n'), "errors are one line");
    ed_error_dispose(&err);
    edge__config_dispose(&cfg);
}

Test(edge_config, bad_flags_say_which)
{
    char *a1[] = {"edged", "--nope", NULL};
    expect_bad(2, a1, "--nope");
    char *a2[] = {"edged", "--threads", "0", NULL};
    expect_bad(3, a2, "--threads");
    char *a3[] = {"edged", "--cpu-ms", "abc", NULL};
    expect_bad(3, a3, "--cpu-ms");
    char *a4[] = {"edged", "--listen", "nowhere", NULL};
    expect_bad(3, a4, "--listen");
    char *a5[] = {"edged", "--worker", "noequals", NULL};
    expect_bad(3, a5, "--worker");
    char *a6[] = {"edged", "--threads", NULL};
    expect_bad(2, a6, "needs a value");
    char *a7[] = {"edged", "stray", NULL};
    expect_bad(2, a7, "stray");
    char *a8[] = {"edged", "--log-level", "loud", NULL};
    expect_bad(3, a8, "--log-level");
}

/* ---- site loading -------------------------------------------------------------------- */

static char tmp[64];

static void write_file(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    cr_assert_eq(system(cmd), 0);
    *slash = '/';
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void mk_tmp(void)
{
    strcpy(tmp, "/tmp/edged-site-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(edge_site, .init = mk_tmp, .fini = rm_tmp);

static int load(const char *tenants_dir, struct edge_site **site, struct ed_error *err)
{
    struct edge_config cfg;
    char *argv[] = {"edged", NULL};
    cr_assert_eq(edge__config_parse(&cfg, 1, argv, NULL), 0);
    free(cfg.tenants_dir);
    free(cfg.data_dir);
    cfg.tenants_dir = tenants_dir ? strdup(tenants_dir) : NULL;
    if (asprintf(&cfg.data_dir, "%s/data", tmp) < 0)
        cr_assert_fail();
    int rc = edge__site_load(&cfg, site, err);
    edge__config_dispose(&cfg);
    return rc;
}

Test(edge_site, loads_tenants_routes_vars_and_limits)
{
    write_file("t/acme/tenant.conf", "# acme\ncpu_ms = 20\nheap_mb = 64\n"
                                     "var = GREETING=hi there\n"
                                     "route = acme.com api\nroute = *.acme.com/v1 api\n");
    write_file("t/acme/api.js", "export default { fetch() { return new Response('a') } }");
    write_file("t/beta/tenant.conf",
               "route = * web\n"
               "token_sha256 = 3F8AD42D6DC52445378196CB2E49281F812253EAEA7830FE46F4756F2CA0A3D4\n");
    write_file("t/beta/web.js", "export default { fetch() { return new Response('b') } }");
    write_file("t/not-a-tenant/readme.txt", "no tenant.conf here");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/t", tmp);
    struct edge_site *site = NULL;
    struct ed_error err = {0};
    cr_assert_eq(load(dir, &site, &err), 0, "%s", ed_error_msg(&err));
    cr_assert_eq(site->n_tenants, 2);
    cr_assert_eq(site->n_workers, 2);
    cr_assert_eq(rt_table_size(site->routes), 3);
    const struct edge_tenant *acme = site->tenants[0];
    cr_assert_str_eq(acme->name, "acme");
    cr_assert_eq(acme->cpu_ms, 20);
    cr_assert_eq(acme->heap_mb, 64);
    cr_assert_eq(acme->n_vars, 1);
    cr_assert_str_eq(acme->vars[0].value, "hi there");
    const struct rt_route *r = rt_match(site->routes, "x.acme.com", 10, "/v1/a", 5);
    cr_assert_not_null(r);
    cr_assert_str_eq(((struct edge_worker *)r->target)->name, "api");
    r = rt_match(site->routes, "other", 5, "/", 1);
    cr_assert_str_eq(r->tenant, "beta");
    const struct edge_tenant *beta = site->tenants[1];
    cr_assert_eq(beta->n_tokens, 1);
    cr_assert_eq(beta->token_hashes[0][0], 0x3f);
    cr_assert_eq(beta->token_hashes[0][31], 0xd4);
    char log[256];
    snprintf(log, sizeof log, "%s/data/tenants/acme/logs/worker.log", tmp);
    cr_assert_eq(access(log, W_OK), 0, "tenant log created");
    edge__site_unref(site);
}

static void expect_site_error(const char *conf, const char *needle)
{
    write_file("t/x/tenant.conf", conf);
    write_file("t/x/w.js", "export default {}");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/t", tmp);
    struct edge_site *site = NULL;
    struct ed_error err = {0};
    cr_assert_neq(load(dir, &site, &err), 0);
    cr_assert(strstr(ed_error_msg(&err), needle), "'%s' lacks '%s'", ed_error_msg(&err), needle);
    cr_assert_null(strchr(ed_error_msg(&err), '\n'));
    cr_assert_null(site);
    ed_error_dispose(&err);
}

Test(edge_site, config_mistakes_are_one_line_errors)
{
    expect_site_error("cpu_ms = lots\n", "cpu_ms");
    expect_site_error("colour = blue\n", "unknown key");
    expect_site_error("route = *\n", "expected route");
    expect_site_error("route = * missing\n", "missing.js");
    expect_site_error("route = a*b w\n", "bad host pattern");
    expect_site_error("var = NOVALUE\n", "NAME=VALUE");
    expect_site_error("route = * w\nroute = * w\n", "already taken");
    expect_site_error("token_sha256 = secret\n", "64 hex digits");
    expect_site_error("token_sha256 = "
                      "3f8ad42d6dc52445378196cb2e49281f812253eaea7830fe46f4756f2ca0a3dz\n",
                      "64 hex digits");
}

Test(edge_site, missing_tenants_dir)
{
    struct edge_site *site = NULL;
    struct ed_error err = {0};
    cr_assert_eq(load("/nonexistent/tenants", &site, &err), ED_ECONFIG);
    cr_assert(strstr(ed_error_msg(&err), "/nonexistent/tenants"));
    ed_error_dispose(&err);
}

/* ---- folder workers: a bundle of modules ------------------------------------------------- */

static const struct iso_module *module_named(const struct edge_worker *w, const char *name)
{
    for (size_t i = 0; i < w->n_modules; i++)
        if (strcmp(w->modules[i].name, name) == 0)
            return &w->modules[i];
    return NULL;
}

Test(edge_site, a_worker_folder_is_a_bundle_typed_by_extension_and_metadata)
{
    write_file("t/acme/tenant.conf", "route = * api\n");
    write_file("t/acme/api/index.js", "import './lib/a.js'; export default {}");
    write_file("t/acme/api/lib/a.js", "export const a = 1;");
    write_file("t/acme/api/lib/deep/c.cjs", "module.exports = 1;");
    write_file("t/acme/api/page.html", "<p>hi</p>");
    write_file("t/acme/api/conf.json", "{}");
    write_file("t/acme/api/blob.bin", "\x01\x02");
    write_file("t/acme/api/templates/row", "<tr>");
    write_file("t/acme/api/.git/HEAD", "hidden: skipped");
    write_file("t/acme/api.metadata.json",
               "{\"modules\": [{\"name\": \"templates/row\", \"type\": \"text\"},"
               "{\"name\": \"conf.json\", \"type\": \"data\"}],"
               "\"bindings\": [{\"type\": \"plain_text\", \"name\": \"K\", \"text\": \"v\"}]}");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/t", tmp);
    struct edge_site *site = NULL;
    struct ed_error err = {0};
    cr_assert_eq(load(dir, &site, &err), 0, "%s", ed_error_msg(&err));
    const struct edge_worker *w = site->workers[0];
    cr_assert_eq(w->n_modules, 7);
    cr_assert_str_eq(w->main_module, "index.js");
    cr_assert_eq(module_named(w, "index.js")->type, ISO_MODULE_ESM);
    cr_assert_eq(module_named(w, "lib/a.js")->type, ISO_MODULE_ESM);
    cr_assert_eq(module_named(w, "lib/deep/c.cjs")->type, ISO_MODULE_CJS);
    cr_assert_eq(module_named(w, "page.html")->type, ISO_MODULE_TEXT);
    cr_assert_eq(module_named(w, "conf.json")->type, ISO_MODULE_DATA, "declared beats extension");
    cr_assert_eq(module_named(w, "blob.bin")->type, ISO_MODULE_DATA);
    cr_assert_eq(module_named(w, "templates/row")->type, ISO_MODULE_TEXT);
    cr_assert_eq(module_named(w, "blob.bin")->source_len, 2);
    cr_assert_str_eq(module_named(w, "page.html")->source, "<p>hi</p>");
    cr_assert_null(module_named(w, ".git/HEAD"));
    cr_assert_eq(w->n_vars, 1);
    cr_assert_eq(w->bundle_bytes, 93);
    edge__site_unref(site);
}

Test(edge_site, main_module_names_the_entry_of_a_folder)
{
    write_file("t/acme/tenant.conf", "route = * api\n");
    write_file("t/acme/api/src/main.mjs", "export default {}");
    write_file("t/acme/api.metadata.json", "{\"main_module\": \"src/main.mjs\"}");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/t", tmp);
    struct edge_site *site = NULL;
    struct ed_error err = {0};
    cr_assert_eq(load(dir, &site, &err), 0, "%s", ed_error_msg(&err));
    cr_assert_str_eq(site->workers[0]->main_module, "src/main.mjs");
    edge__site_unref(site);
}

/* Writes a tenant x whose worker w is a folder holding index.js and then calls prep. */
static void expect_bundle_error(void (*prep)(void), const char *needle)
{
    rm_tmp();
    mk_tmp();
    write_file("t/x/tenant.conf", "route = * w\n");
    write_file("t/x/w/index.js", "export default {}");
    prep();
    char dir[128];
    snprintf(dir, sizeof dir, "%s/t", tmp);
    struct edge_site *site = NULL;
    struct ed_error err = {0};
    cr_assert_neq(load(dir, &site, &err), 0, "expected '%s'", needle);
    cr_assert(strstr(ed_error_msg(&err), needle), "'%s' lacks '%s'", ed_error_msg(&err), needle);
    cr_assert_null(strchr(ed_error_msg(&err), '\n'));
    cr_assert_null(site);
    ed_error_dispose(&err);
}

static void unknown_extension(void)
{
    write_file("t/x/w/logo.png", "png");
}
static void symlink_out(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/t/x/w/passwd.txt", tmp);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
}
static void no_index(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/t/x/w/index.js", tmp);
    cr_assert_eq(unlink(path), 0);
    write_file("t/x/w/main.js", "export default {}");
}
static void declared_missing(void)
{
    write_file("t/x/w.metadata.json",
               "{\"modules\": [{\"name\": \"gone.txt\", \"type\": \"text\"}]}");
}
static void bad_type(void)
{
    write_file("t/x/w.metadata.json",
               "{\"modules\": [{\"name\": \"index.js\", \"type\": \"wasm\"}]}");
}
static void text_main(void)
{
    write_file("t/x/w.metadata.json", "{\"main_module\": \"a.txt\"}");
    write_file("t/x/w/a.txt", "hi");
}
static void both_forms(void)
{
    write_file("t/x/w.js", "export default {}");
}
static void over_64_mib(void)
{
    /* sparse: the sizes are judged before anything is read */
    write_file("t/x/w/big.bin", "");
    char path[256];
    snprintf(path, sizeof path, "%s/t/x/w/big.bin", tmp);
    cr_assert_eq(truncate(path, (64 << 20) - 10), 0);
    write_file("t/x/w/more.bin", "0123456789");
}

Test(edge_site, bad_bundles_are_one_line_errors)
{
    expect_bundle_error(unknown_extension, "tenant x worker w: module logo.png: no type");
    expect_bundle_error(symlink_out, "passwd.txt is not a regular file or folder");
    expect_bundle_error(no_index, "main module index.js is not a file in");
    expect_bundle_error(declared_missing, "types module gone.txt, which is not a file in");
    expect_bundle_error(bad_type, "type wasm is not one of js, cjs, text, data, json");
    expect_bundle_error(text_main, "main module a.txt must be an ES or CommonJS module");
    expect_bundle_error(both_forms, "keep one");
    expect_bundle_error(over_64_mib, "the bundle is 67108871 bytes or more (the largest module, "
                                     "big.bin, 67108854), over the 67108864-byte (64 MiB) limit");
}

Test(edge_site, a_bundle_is_bounded_by_the_limit_given)
{
    write_file("t/acme/w/index.js", "export default {}"); /* 17 bytes */
    write_file("t/acme/w/a.txt", "0123456789");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/t/acme/w", tmp);
    struct edge_worker w = {.name = "w"};
    struct edge_bundle_meta meta = {0};
    struct ed_error err = {0};
    cr_assert_eq(edge__bundle_read(&w, dir, &meta, 26, "tenant acme worker w", &err), ED_ETOOBIG);
    cr_assert(strstr(ed_error_msg(&err), "over the 26-byte"), "%s", ed_error_msg(&err));
    ed_error_dispose(&err);
    for (size_t i = 0; i < w.n_modules; i++) {
        free((char *)w.modules[i].name);
        free((char *)w.modules[i].source);
    }
    free(w.modules);
    memset(&w, 0, sizeof w);
    cr_assert_eq(edge__bundle_read(&w, dir, &meta, 27, "tenant acme worker w", &err), 0, "%s",
                 ed_error_msg(&err));
    cr_assert_eq(w.bundle_bytes, 27);
    for (size_t i = 0; i < w.n_modules; i++) {
        free((char *)w.modules[i].name);
        free((char *)w.modules[i].source);
    }
    free(w.modules);
    free(w.main_module);
}

Test(edge_site, the_worker_flag_takes_a_folder)
{
    write_file("f/api/index.js", "export default {}");
    write_file("f/api/x.txt", "x");
    write_file("f/api.metadata.json",
               "{\"bindings\": [{\"type\": \"plain_text\", \"name\": \"K\", \"text\": \"v\"}]}");
    char *flag, *data;
    if (asprintf(&flag, "example.com=%s/f/api/", tmp) < 0 || asprintf(&data, "%s/data", tmp) < 0)
        cr_assert_fail();
    char *argv[] = {"edged", "--worker", flag, "--data", data, NULL};
    struct edge_config cfg;
    struct ed_error err = {0};
    cr_assert_eq(edge__config_parse(&cfg, 5, argv, &err), 0, "%s", ed_error_msg(&err));
    struct edge_site *site = NULL;
    int rc = edge__site_load(&cfg, &site, &err);
    edge__config_dispose(&cfg);
    free(flag);
    free(data);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    cr_assert_str_eq(site->workers[0]->name, "api");
    cr_assert_eq(site->workers[0]->n_modules, 2);
    cr_assert_eq(site->workers[0]->n_vars, 1);
    edge__site_unref(site);
}
