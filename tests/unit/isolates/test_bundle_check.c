/*
 * isolates/: iso_bundle_check, the validation a deploy and a node's start-up run on a bundle
 * before any request reaches it: modules compile, static imports resolve inside the bundle,
 * and none of the bundle's code runs.
 */
#include "iso_test.h"

TestSuite(bundle_check, .init = iso_test_setup);

#define ESM(name, src)                            \
    {                                             \
        name, src, sizeof src - 1, ISO_MODULE_ESM \
    }
#define TEXT(name, src)                            \
    {                                              \
        name, src, sizeof src - 1, ISO_MODULE_TEXT \
    }

static void expect_bad(const struct iso_module *mods, size_t n, const char *main, const char *msg)
{
    struct ed_error err = {0};
    cr_assert_eq(iso_bundle_check(mods, n, main, &err), ED_EBADWORKER, "%s", ed_error_msg(&err));
    cr_assert(strstr(ed_error_msg(&err), msg), "'%s' lacks '%s'", ed_error_msg(&err), msg);
    cr_assert_null(strchr(ed_error_msg(&err), '\n'));
    ed_error_dispose(&err);
}

Test(bundle_check, a_linked_bundle_passes_without_running)
{
    /* The top level throws and loops: a check that ran it would fail or hang. */
    struct iso_module mods[] = {
        ESM("index.js", "import { f } from './lib/f.js'; import t from 'lib/t.txt';\n"
                        "import { env } from 'cloudflare:workers';\n"
                        "throw new Error('ran'); export default { fetch() {} }"),
        ESM("lib/f.js", "import t from '../lib/t.txt'; while (true) {} export const f = 1;"),
        TEXT("lib/t.txt", "text"),
        {"data.json", "{\"a\":1}", 7, ISO_MODULE_JSON},
    };
    struct ed_error err = {0};
    cr_assert_eq(iso_bundle_check(mods, 4, "index.js", &err), 0, "%s", ed_error_msg(&err));
}

Test(bundle_check, a_missing_import_names_the_importer_and_the_name)
{
    struct iso_module mods[] = {
        ESM("index.js", "import './lib/a.js'; export default { fetch() {} }"),
        ESM("lib/a.js", "export * from './b.js';"),
    };
    expect_bad(mods, 2, "index.js",
               "lib/a.js imports \"./b.js\", which is not a module of this "
               "worker");
}

Test(bundle_check, an_import_above_the_root_is_outside_the_bundle)
{
    struct iso_module mods[] = {
        ESM("index.js", "import p from '../../etc/passwd'; export default { fetch() {} }"),
    };
    expect_bad(mods, 1, "index.js",
               "index.js imports \"../../etc/passwd\", which is outside the worker's bundle");
}

Test(bundle_check, syntax_errors_bad_json_and_a_missing_main)
{
    struct iso_module syntax[] = {ESM("index.js", "export default {"), ESM("lib/x.js", "let = ;")};
    expect_bad(syntax, 2, "index.js", "index.js");
    struct iso_module json[] = {ESM("index.js", "export default {}"),
                                {"c.json", "{nope", 5, ISO_MODULE_JSON}};
    expect_bad(json, 2, "index.js", "c.json");
    struct iso_module one[] = {ESM("index.js", "export default {}")};
    expect_bad(one, 1, "main.js", "main module \"main.js\" is not among the worker's modules");
}
