/*
 * isolates/: module types of a bundle (ES, CommonJS, text, data, JSON; names with folders and
 * relative imports) and the built-in "cloudflare:workers" module, in parents and children.
 */
#include "iso_test.h"

TestSuite(modules, .init = iso_test_setup);

static struct iso_worker *bundle_ok(const struct iso_module *mods, size_t n, const char *main)
{
    struct iso_worker_config cfg = {.modules = mods, .n_modules = n, .main_module = main};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = iso_worker_new(&cfg, &w, &err);
    cr_assert_eq(rc, 0, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    return w;
}

static void expect_bad(const struct iso_module *mods, size_t n, const char *main, const char *msg)
{
    struct iso_worker_config cfg = {.modules = mods, .n_modules = n, .main_module = main};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), ED_EBADWORKER, "%s", ed_error_msg(&err));
    cr_assert(strstr(err.msg, msg), "%s", err.msg);
    ed_error_dispose(&err);
}

Test(modules, every_type_is_a_default_export)
{
    static const struct iso_module mods[] = {
        MOD("main.js", "import text from './assets/hello.txt';\n"
                       "import data from './assets/bytes.bin';\n"
                       "import json from './config.json';\n"
                       "import lib from './lib/math.cjs';\n"
                       "import * as ns from './lib/math.cjs';\n"
                       "export default { fetch() {\n"
                       "  return Response.json({ text, data: [...new Uint8Array(data)],\n"
                       "    isBuffer: data instanceof ArrayBuffer, json, twice: lib.twice(21),\n"
                       "    k: lib.k, names: Object.keys(ns), loaded: lib.loaded });\n"
                       "} };"),
        MODT("assets/hello.txt", "héllo text", ISO_MODULE_TEXT),
        MODT("assets/bytes.bin", "\x01\x02\xff", ISO_MODULE_DATA),
        MODT("config.json", "{\"a\": [1, 2], \"b\": null}", ISO_MODULE_JSON),
        MODT("lib/math.cjs",
             "const util = require('./util.cjs');\n"
             "const text = require('../assets/hello.txt');\n"
             "module.exports = { twice: (x) => util.k * x, k: util.k, loaded: text.length };",
             ISO_MODULE_CJS),
        MODT("lib/util.cjs", "exports.k = 2; this.viaThis = true;", ISO_MODULE_CJS),
    };
    struct iso_worker *w = bundle_ok(mods, sizeof mods / sizeof *mods, "main.js");
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c),
                     "{\"text\":\"héllo text\",\"data\":[1,2,255],\"isBuffer\":true,\"json\":"
                     "{\"a\":[1,2],\"b\":null},\"twice\":42,\"k\":2,\"names\":[\"default\"],"
                     "\"loaded\":10}");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(modules, commonjs_main_and_require_errors)
{
    static const struct iso_module mods[] = {
        MODT("main.cjs",
             "let missing;\n"
             "try { require('./nope.js'); } catch (e) { missing = e.message; }\n"
             "const { WorkerEntrypoint } = require('cloudflare:workers');\n"
             "module.exports = { fetch() { return new Response(`${missing} | ${typeof "
             "WorkerEntrypoint}`); } };",
             ISO_MODULE_CJS),
    };
    struct iso_worker *w = bundle_ok(mods, 1, "main.cjs");
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c),
                     "Cannot find module './nope.js' from 'main.cjs': it is not a module of this "
                     "worker | function");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(modules, bad_modules_are_reported_at_load)
{
    static const struct iso_module json[] = {
        MOD("main.js", "import j from './bad.json'; export default { fetch() {} };"),
        MODT("bad.json", "{ nope", ISO_MODULE_JSON),
    };
    expect_bad(json, 2, "main.js", "bad.json");
    static const struct iso_module cjs[] = {
        MOD("main.js", "import j from './bad.cjs'; export default { fetch() {} };"),
        MODT("bad.cjs", "module.exports = ;", ISO_MODULE_CJS),
    };
    expect_bad(cjs, 2, "main.js", "bad.cjs:1: SyntaxError");
    static const struct iso_module throws[] = {
        MOD("main.js", "import j from './t.cjs'; export default { fetch() {} };"),
        MODT("t.cjs", "throw new Error('cjs top');", ISO_MODULE_CJS),
    };
    expect_bad(throws, 2, "main.js", "Error: cjs top");
}

Test(modules, cloudflare_workers_in_a_parent)
{
    static const struct iso_module mods[] = {
        MOD("main.js",
            "import { WorkerEntrypoint, RpcTarget, DurableObject, env } from 'cloudflare:workers';\n"
            "import * as cf from 'cloudflare:workers';\n"
            "const atTop = env.NAME;\n"
            "export default class extends WorkerEntrypoint {\n"
            "  async fetch(request) {\n"
            "    const d = new DurableObject('c', 'e');\n"
            "    return new Response([this.env.NAME, atTop, typeof this.ctx.waitUntil,\n"
            "      JSON.stringify(this.ctx.props), typeof RpcTarget, d.ctx + d.env,\n"
            "      Object.keys(cf).sort().join(','), request.url].join(' '));\n"
            "  }\n"
            "}"),
    };
    static const struct iso_var vars[] = {{"NAME", "edged"}};
    struct iso_worker_config cfg = {
        .modules = mods, .n_modules = 1, .main_module = "main.js", .vars = vars, .n_vars = 1};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), 0, "%s", ed_error_msg(&err));
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/y", &c),
                     "edged edged function {} function ce "
                     "DurableObject,RpcTarget,WorkerEntrypoint,env http://x/y");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(modules, a_class_without_fetch_is_no_handler)
{
    static const struct iso_module mods[] = {
        MOD("main.js", "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
                       "export default class extends WorkerEntrypoint { other() {} }"),
    };
    expect_bad(mods, 1, "main.js", "has no default export with a fetch() method");
}
