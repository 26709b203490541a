/*
 * deploy/edgectl/form.c and bundle.c: the multipart/form-data body of a deploy (exact bytes,
 * escaping, a boundary that never occurs in a part) and the modules collected from a project
 * folder (what is skipped, names, types, limits checked before reading).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/edgectl/edgectl.h"

Test(form, exact_bytes_with_a_given_boundary)
{
    const struct dp_form_part parts[] = {
        {.name = "metadata", .content_type = "application/json", .data = "{}", .len = 2},
        {.name = "lib/a.js",
         .filename = "lib/a.js",
         .content_type = "application/javascript+module",
         .data = "export default 1;\n",
         .len = 18},
        {.name = "bin", .data = "\0\r\n--x", .len = 6},
    };
    struct ed_buf out;
    ed_buf_init(&out);
    char *ct = NULL;
    struct ed_error err = {0};
    cr_assert_eq(dp_form_build(parts, 3, "B0UND", &out, &ct, &err), 0, "%s", ed_error_msg(&err));
    cr_expect_str_eq(ct, "multipart/form-data; boundary=B0UND");
    static const char want[] = "--B0UND\r\n"
                               "Content-Disposition: form-data; name=\"metadata\"\r\n"
                               "Content-Type: application/json\r\n"
                               "\r\n"
                               "{}\r\n"
                               "--B0UND\r\n"
                               "Content-Disposition: form-data; name=\"lib/a.js\"; "
                               "filename=\"lib/a.js\"\r\n"
                               "Content-Type: application/javascript+module\r\n"
                               "\r\n"
                               "export default 1;\n\r\n"
                               "--B0UND\r\n"
                               "Content-Disposition: form-data; name=\"bin\"\r\n"
                               "\r\n"
                               "\0\r\n--x\r\n"
                               "--B0UND--\r\n";
    cr_assert_eq(out.len, sizeof want - 1, "length %zu, want %zu:\n%s", out.len, sizeof want - 1,
                 out.data);
    cr_expect_eq(memcmp(out.data, want, out.len), 0, "got:\n%s", out.data);
    free(ct);
    ed_buf_dispose(&out);
}

Test(form, names_are_escaped)
{
    const struct dp_form_part part = {
        .name = "a\"b\r\nc", .filename = "x\"y", .data = "", .len = 0};
    struct ed_buf out;
    ed_buf_init(&out);
    char *ct = NULL;
    cr_assert_eq(dp_form_build(&part, 1, "b", &out, &ct, NULL), 0);
    cr_expect(strstr(out.data, "name=\"a%22b%0D%0Ac\"; filename=\"x%22y\"\r\n"), "%s", out.data);
    free(ct);
    ed_buf_dispose(&out);
}

Test(form, a_boundary_found_in_a_part_is_refused)
{
    const struct dp_form_part part = {.name = "m", .data = "abc\r\n--B0UND--\r\n", .len = 15};
    struct ed_buf out;
    ed_buf_init(&out);
    char *ct = NULL;
    struct ed_error err = {0};
    cr_expect_eq(dp_form_build(&part, 1, "B0UND", &out, &ct, &err), ED_EINVAL);
    cr_expect_null(ct);
    cr_expect_eq(out.len, 0);
    cr_expect(strstr(ed_error_msg(&err), "occurs in a part"));
    ed_error_dispose(&err);
    cr_expect_eq(dp_form_build(&part, 1, "bad\"quote", &out, &ct, &err), ED_EINVAL);
    ed_error_dispose(&err);
    ed_buf_dispose(&out);
}

Test(form, random_boundaries_differ_and_frame_the_parts)
{
    const struct dp_form_part part = {.name = "m", .data = "hello", .len = 5};
    char *seen = NULL;
    for (int i = 0; i < 4; i++) {
        struct ed_buf out;
        ed_buf_init(&out);
        char *ct = NULL;
        cr_assert_eq(dp_form_build(&part, 1, NULL, &out, &ct, NULL), 0);
        const char *b = strstr(ct, "boundary=");
        cr_assert_not_null(b);
        b += 9;
        cr_expect_eq(strncmp(b, "edgectl-", 8), 0);
        cr_expect_eq(strlen(b), 8 + 32);
        char open[80], close[80];
        snprintf(open, sizeof open, "--%s\r\n", b);
        snprintf(close, sizeof close, "\r\n--%s--\r\n", b);
        cr_expect_eq(strncmp(out.data, open, strlen(open)), 0);
        cr_expect_str_eq(out.data + out.len - strlen(close), close);
        if (seen)
            cr_expect_str_neq(seen, b);
        free(seen);
        seen = strdup(b);
        free(ct);
        ed_buf_dispose(&out);
    }
    free(seen);
}

/* ---- bundles -------------------------------------------------------------------------------- */

static char tmp[64];

static void mk_tmp(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/edgectl-bundle-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    cr_expect_eq(system(cmd), 0);
}

static void put(const char *name, const char *text)
{
    char path[256], dir[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    cr_assert_eq(ed_mkdirs(dir, 0755), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(bundle, types_by_extension)
{
    cr_expect_str_eq(dp_ctl_module_type("a.js"), "application/javascript+module");
    cr_expect_str_eq(dp_ctl_module_type("x/a.mjs"), "application/javascript+module");
    cr_expect_str_eq(dp_ctl_module_type("a.cjs"), "application/javascript");
    cr_expect_str_eq(dp_ctl_module_type("d.json"), "application/json");
    cr_expect_str_eq(dp_ctl_module_type("p.html"), "text/plain");
    cr_expect_str_eq(dp_ctl_module_type("s.svg"), "text/plain");
    cr_expect_str_eq(dp_ctl_module_type("b.bin"), "application/octet-stream");
    cr_expect_null(dp_ctl_module_type("w.wasm"));
    cr_expect_null(dp_ctl_module_type("index.ts"));
    cr_expect_null(dp_ctl_module_type("dir.js/README"));
}

Test(bundle, folder_walk_skips_and_names, .init = mk_tmp, .fini = rm_tmp)
{
    put("index.js", "import './lib/a.js';\n");
    put("lib/a.js", "export const a = 1;\n");
    put("lib/deep/page.html", "<p>hi</p>");
    put("data.json", "{}");
    put(".env", "SECRET=1");
    put(".git/config", "x");
    put("node_modules/pkg/index.js", "x");
    put("lib/node_modules/x.js", "x");
    put("wrangler.toml", "name = \"x\"");
    put("lib/.hidden.js", "x");
    struct dp_ctl_bundle b;
    struct ed_error err = {0};
    cr_assert_eq(dp_ctl_bundle_dir(&b, tmp, "./index.js", 1 << 20, 100, &err), 0, "%s",
                 ed_error_msg(&err));
    cr_expect_str_eq(b.main_module, "index.js");
    cr_assert_eq(b.n, 4);
    const char *names[] = {"data.json", "index.js", "lib/a.js", "lib/deep/page.html"};
    size_t total = 0;
    for (size_t i = 0; i < 4; i++) {
        cr_expect_str_eq(b.mods[i].name, names[i]);
        cr_expect_not_null(b.mods[i].data);
        total += b.mods[i].len;
    }
    cr_expect_eq(b.bytes, total);
    cr_expect_eq(memcmp(b.mods[2].data, "export const a = 1;\n", b.mods[2].len), 0);
    cr_expect_str_eq(b.mods[3].content_type, "text/plain");
    dp_ctl_bundle_dispose(&b);
}

Test(bundle, refusals_name_the_file, .init = mk_tmp, .fini = rm_tmp)
{
    struct dp_ctl_bundle b;
    struct ed_error err = {0};
    put("index.js", "export default {};\n");
    cr_expect_eq(dp_ctl_bundle_dir(&b, tmp, "main.js", 1 << 20, 100, &err), ED_ENOENT);
    cr_expect(strstr(ed_error_msg(&err), "the main module main.js is not among the files"), "%s",
              ed_error_msg(&err));
    dp_ctl_bundle_dispose(&b);

    put("module.wasm", "\0asm");
    cr_expect_eq(dp_ctl_bundle_dir(&b, tmp, "index.js", 1 << 20, 100, &err), ED_EINVAL);
    cr_expect(strstr(ed_error_msg(&err), "module.wasm: no module type for this extension"), "%s",
              ed_error_msg(&err));
    dp_ctl_bundle_dispose(&b);
    char path[256];
    snprintf(path, sizeof path, "%s/module.wasm", tmp);
    unlink(path);

    put("q\"uote.js", "x");
    cr_expect_eq(dp_ctl_bundle_dir(&b, tmp, "index.js", 1 << 20, 100, &err), ED_EINVAL);
    cr_expect(strstr(ed_error_msg(&err), "may not contain quotes"), "%s", ed_error_msg(&err));
    dp_ctl_bundle_dispose(&b);
    snprintf(path, sizeof path, "%s/q\"uote.js", tmp);
    unlink(path);

    char target[256];
    snprintf(target, sizeof target, "%s/other", tmp);
    cr_assert_eq(ed_mkdirs(target, 0755), 0);
    snprintf(path, sizeof path, "%s/link", tmp);
    cr_assert_eq(symlink(target, path), 0);
    cr_expect_eq(dp_ctl_bundle_dir(&b, tmp, "index.js", 1 << 20, 100, &err), ED_EINVAL);
    cr_expect(strstr(ed_error_msg(&err), "symbolic link to a folder"), "%s", ed_error_msg(&err));
    dp_ctl_bundle_dispose(&b);
    unlink(path);
    ed_error_dispose(&err);
}

Test(bundle, limits_are_checked_before_reading, .init = mk_tmp, .fini = rm_tmp)
{
    struct dp_ctl_bundle b;
    struct ed_error err = {0};
    put("index.js", "0123456789");
    put("b.js", "0123456789");
    /* exactly at the limit is fine */
    cr_expect_eq(dp_ctl_bundle_dir(&b, tmp, "index.js", 20, 2, &err), 0, "%s", ed_error_msg(&err));
    dp_ctl_bundle_dispose(&b);
    cr_expect_eq(dp_ctl_bundle_dir(&b, tmp, "index.js", 19, 100, &err), ED_ETOOBIG);
    cr_expect(strstr(ed_error_msg(&err), "over"), "%s", ed_error_msg(&err));
    dp_ctl_bundle_dispose(&b);
    cr_expect_eq(dp_ctl_bundle_dir(&b, tmp, "index.js", 100, 1, &err), ED_ETOOBIG);
    cr_expect(strstr(ed_error_msg(&err), "more than 1 files"), "%s", ed_error_msg(&err));
    dp_ctl_bundle_dispose(&b);
    /* the 64 MiB check happens on sizes: a sparse 65 MiB file is never read */
    char path[256];
    snprintf(path, sizeof path, "%s/huge.bin", tmp);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ftruncate(fileno(f), (off_t)65 << 20), 0);
    fclose(f);
    cr_expect_eq(
        dp_ctl_bundle_dir(&b, tmp, "index.js", DP_CTL_MAX_BUNDLE_BYTES, DP_CTL_MAX_MODULES, &err),
        ED_ETOOBIG);
    cr_expect(strstr(ed_error_msg(&err), "over 64 MiB"), "%s", ed_error_msg(&err));
    dp_ctl_bundle_dispose(&b);
    cr_expect_eq(dp_ctl_bundle_file(&b, path, DP_CTL_MAX_BUNDLE_BYTES, &err), ED_ETOOBIG);
    dp_ctl_bundle_dispose(&b);
    ed_error_dispose(&err);
}

Test(bundle, one_file, .init = mk_tmp, .fini = rm_tmp)
{
    put("sub/worker.mjs", "export default {};\n");
    char path[256];
    snprintf(path, sizeof path, "%s/sub/worker.mjs", tmp);
    struct dp_ctl_bundle b;
    struct ed_error err = {0};
    cr_assert_eq(dp_ctl_bundle_file(&b, path, 1 << 20, &err), 0, "%s", ed_error_msg(&err));
    cr_expect_str_eq(b.main_module, "worker.mjs");
    cr_assert_eq(b.n, 1);
    cr_expect_str_eq(b.mods[0].name, "worker.mjs");
    cr_expect_eq(b.mods[0].len, 19);
    dp_ctl_bundle_dispose(&b);
    snprintf(path, sizeof path, "%s/sub", tmp);
    cr_expect_eq(dp_ctl_bundle_file(&b, path, 1 << 20, &err), ED_EINVAL);
    dp_ctl_bundle_dispose(&b);
    ed_error_dispose(&err);
}
