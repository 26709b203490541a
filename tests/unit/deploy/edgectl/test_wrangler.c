/*
 * deploy/edgectl/jsonc.c and wrangler.c: JSON with comments and trailing commas (positions
 * kept for messages), and a Workers project's configuration — the same in TOML and in JSONC —
 * mapped onto a deploy's name, main module, date, flags and bindings.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy/edgectl/edgectl.h"

static json_t *jsonc_ok(const char *text)
{
    json_t *doc = NULL;
    struct ed_error err = {0};
    int rc = dp_jsonc_parse(text, strlen(text), "w.jsonc", &doc, &err);
    cr_assert_eq(rc, 0, "parse failed: %s\n--- input:\n%s", ed_error_msg(&err), text);
    ed_error_dispose(&err);
    return doc;
}

static void jsonc_fails(const char *text, const char *want)
{
    json_t *doc = NULL;
    struct ed_error err = {0};
    int rc = dp_jsonc_parse(text, strlen(text), "w.jsonc", &doc, &err);
    cr_assert_neq(rc, 0, "accepted:\n%s", text);
    cr_assert_null(doc);
    cr_assert(strstr(ed_error_msg(&err), want), "message \"%s\" lacks \"%s\"", ed_error_msg(&err),
              want);
    ed_error_dispose(&err);
}

static void expect_json(json_t *doc, const char *want)
{
    char *got = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(got, want);
    free(got);
    json_decref(doc);
}

Test(jsonc, comments_and_trailing_commas)
{
    expect_json(jsonc_ok("// a wrangler.jsonc\n"
                         "{\n"
                         "  \"name\": \"w\", // the worker\n"
                         "  /* block\n"
                         "     comment */\n"
                         "  \"url\": \"https://example.com/*not a comment*/\",\n"
                         "  \"slashes\": \"a // b\",\n"
                         "  \"esc\": \"q\\\" // still a string\",\n"
                         "  \"flags\": [\"a\", \"b\",],\n"
                         "  \"nested\": {\"x\": [1, 2, /* two */ ], },\n"
                         "  \"last\": 1, // trailing comma before the close\n"
                         "}\n"),
                "{\"esc\":\"q\\\" // still a string\",\"flags\":[\"a\",\"b\"],\"last\":1,"
                "\"name\":\"w\",\"nested\":{\"x\":[1,2]},\"slashes\":\"a // b\","
                "\"url\":\"https://example.com/*not a comment*/\"}");
}

Test(jsonc, errors_keep_lines_and_columns)
{
    /* the error is on line 5 of the file, after a 2-line block comment */
    jsonc_fails("{\n  /* one\n     two */\n  \"a\": 1,\n  \"b\": ,\n}\n", "w.jsonc:5:");
    jsonc_fails("{\n  \"a\": 1 /* never closed\n}\n", "w.jsonc:2: unterminated /* comment");
    jsonc_fails("[1, 2]\n", "the top level must be an object");
    jsonc_fails("{\"a\": 1, \"a\": 2}\n", "duplicate");
    jsonc_fails("{,}\n", "w.jsonc:1:");
}

/* ---- the mapping ---------------------------------------------------------------------------- */

static const char wrangler_toml[] = "name = \"api\"\n"
                                    "main = \"src/index.js\"\n"
                                    "compatibility_date = \"2026-01-15\"\n"
                                    "compatibility_flags = [\"nodejs_compat\"]\n"
                                    "account_id = \"ignored\"\n"
                                    "workers_dev = true\n"
                                    "routes = [\"example.com/*\"]\n"
                                    "[vars]\n"
                                    "GREETING = \"hi\"\n"
                                    "[[durable_objects.bindings]]\n"
                                    "name = \"COUNTER\"\n"
                                    "class_name = \"Counter\"\n"
                                    "[[worker_loaders]]\n"
                                    "binding = \"LOADER\"\n"
                                    "[[migrations]]\n"
                                    "tag = \"v1\"\n"
                                    "new_sqlite_classes = [\"Counter\"]\n";

static const char wrangler_jsonc[] =
    "{\n"
    "  \"$schema\": \"node_modules/wrangler/config-schema.json\",\n"
    "  \"name\": \"api\",\n"
    "  \"main\": \"src/index.js\",\n"
    "  \"compatibility_date\": \"2026-01-15\",\n"
    "  \"compatibility_flags\": [\"nodejs_compat\"],\n"
    "  \"vars\": { \"GREETING\": \"hi\" },\n"
    "  \"durable_objects\": {\n"
    "    \"bindings\": [{ \"name\": \"COUNTER\", \"class_name\": \"Counter\" }],\n"
    "  },\n"
    "  \"worker_loaders\": [{ \"binding\": \"LOADER\" }], // dynamic workers\n"
    "  \"migrations\": [{ \"tag\": \"v1\", \"new_sqlite_classes\": [\"Counter\"] }],\n"
    "}\n";

static const char expected_bindings[] =
    "[{\"name\":\"GREETING\",\"text\":\"hi\",\"type\":\"plain_text\"},"
    "{\"class_name\":\"Counter\",\"name\":\"COUNTER\",\"type\":\"durable_object_namespace\"},"
    "{\"name\":\"LOADER\",\"type\":\"worker_loader\"}]";

static void expect_mapped(const struct dp_wrangler *w)
{
    cr_expect_str_eq(w->name, "api");
    cr_expect_str_eq(w->main, "src/index.js");
    cr_expect_str_eq(w->compatibility_date, "2026-01-15");
    char *flags = json_dumps(w->compatibility_flags, JSON_COMPACT);
    cr_expect_str_eq(flags, "[\"nodejs_compat\"]");
    free(flags);
    char *b = json_dumps(w->bindings, JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(b, expected_bindings);
    free(b);
}

Test(wrangler, toml_and_jsonc_map_alike)
{
    json_t *doc = NULL;
    struct ed_error err = {0};
    cr_assert_eq(dp_toml_parse(wrangler_toml, strlen(wrangler_toml), "wrangler.toml", &doc, &err),
                 0, "%s", ed_error_msg(&err));
    struct dp_wrangler w = {0};
    cr_assert_eq(dp_wrangler_map(doc, "wrangler.toml", &w, &err), 0, "%s", ed_error_msg(&err));
    expect_mapped(&w);
    dp_wrangler_dispose(&w);
    json_decref(doc);

    doc = jsonc_ok(wrangler_jsonc);
    cr_assert_eq(dp_wrangler_map(doc, "wrangler.jsonc", &w, &err), 0, "%s", ed_error_msg(&err));
    expect_mapped(&w);
    dp_wrangler_dispose(&w);
    json_decref(doc);
}

Test(wrangler, minimal_config_has_no_bindings)
{
    json_t *doc = jsonc_ok("{\"name\": \"x\"}");
    struct dp_wrangler w = {0};
    struct ed_error err = {0};
    cr_assert_eq(dp_wrangler_map(doc, "wrangler.json", &w, &err), 0);
    cr_expect_str_eq(w.name, "x");
    cr_expect_null(w.main);
    cr_expect_null(w.compatibility_date);
    cr_expect_null(w.compatibility_flags);
    cr_expect_eq(json_array_size(w.bindings), 0);
    dp_wrangler_dispose(&w);
    json_decref(doc);
}

static void map_fails(const char *toml, const char *want)
{
    json_t *doc = NULL;
    struct ed_error err = {0};
    cr_assert_eq(dp_toml_parse(toml, strlen(toml), "wrangler.toml", &doc, &err), 0, "%s",
                 ed_error_msg(&err));
    struct dp_wrangler w = {0};
    cr_expect_neq(dp_wrangler_map(doc, "wrangler.toml", &w, &err), 0, "accepted: %s", toml);
    cr_expect(strstr(ed_error_msg(&err), want), "message \"%s\" lacks \"%s\"", ed_error_msg(&err),
              want);
    dp_wrangler_dispose(&w);
    json_decref(doc);
    ed_error_dispose(&err);
}

Test(wrangler, wrong_shapes_are_named)
{
    map_fails("name = 1\n", "wrangler.toml: name must be a non-empty string");
    map_fails("main = \"\"\n", "main must be a non-empty string");
    map_fails("compatibility_flags = \"x\"\n", "compatibility_flags must be an array of strings");
    map_fails("compatibility_flags = [1]\n", "compatibility_flags must be an array of strings");
    map_fails("[vars]\nN = 1\n", "vars.N: only string values are supported");
    map_fails("vars = [\"a\"]\n", "vars must be a table");
    map_fails("[[durable_objects.bindings]]\nname = \"A\"\n",
              "durable_objects.bindings[0] needs name and class_name");
    map_fails("[[durable_objects.bindings]]\nname = \"A\"\nclass_name = \"C\"\n"
              "[[durable_objects.bindings]]\nname = \"B\"\nclass_name = \"D\"\n"
              "script_name = \"other\"\n",
              "durable_objects.bindings[1]: script_name");
    map_fails("durable_objects = 1\n", "durable_objects must be a table");
    map_fails("[durable_objects]\nbindings = 1\n", "durable_objects.bindings must be an array");
    map_fails("[[worker_loaders]]\nname = \"L\"\n", "worker_loaders[0] needs a binding string");
    map_fails("worker_loaders = { binding = \"L\" }\n", "worker_loaders must be an array");
}

/* ---- files ---------------------------------------------------------------------------------- */

static char tmp[64];

static void mk_tmp(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/edgectl-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    cr_expect_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(wrangler, find_prefers_json_then_jsonc_then_toml, .init = mk_tmp, .fini = rm_tmp)
{
    cr_expect_null(dp_wrangler_find(tmp));
    write_file("wrangler.toml", wrangler_toml);
    char *p = dp_wrangler_find(tmp);
    cr_expect(p && strstr(p, "/wrangler.toml"));
    free(p);
    write_file("wrangler.jsonc", wrangler_jsonc);
    p = dp_wrangler_find(tmp);
    cr_expect(p && strstr(p, "/wrangler.jsonc"));
    free(p);
    write_file("wrangler.json", "{\"name\": \"j\"}");
    p = dp_wrangler_find(tmp);
    cr_expect(p && strstr(p, "/wrangler.json") && !strstr(p, "jsonc"));
    free(p);
}

Test(wrangler, read_by_extension, .init = mk_tmp, .fini = rm_tmp)
{
    struct dp_wrangler w;
    struct ed_error err = {0};
    char path[256];
    write_file("wrangler.toml", wrangler_toml);
    snprintf(path, sizeof path, "%s/wrangler.toml", tmp);
    cr_assert_eq(dp_wrangler_read(path, &w, &err), 0, "%s", ed_error_msg(&err));
    expect_mapped(&w);
    cr_expect_str_eq(w.path, path);
    dp_wrangler_dispose(&w);

    write_file("wrangler.jsonc", wrangler_jsonc);
    snprintf(path, sizeof path, "%s/wrangler.jsonc", tmp);
    cr_assert_eq(dp_wrangler_read(path, &w, &err), 0, "%s", ed_error_msg(&err));
    expect_mapped(&w);
    dp_wrangler_dispose(&w);

    /* errors carry the file's base name and the line */
    write_file("wrangler.toml", "name = \"x\"\n\nmain = src/index.js\n");
    snprintf(path, sizeof path, "%s/wrangler.toml", tmp);
    cr_expect_neq(dp_wrangler_read(path, &w, &err), 0);
    cr_expect(strstr(ed_error_msg(&err), "wrangler.toml:3: expected a value"), "%s",
              ed_error_msg(&err));
    dp_wrangler_dispose(&w);

    snprintf(path, sizeof path, "%s/absent.toml", tmp);
    cr_expect_neq(dp_wrangler_read(path, &w, &err), 0);
    cr_expect(strstr(ed_error_msg(&err), "No such file"), "%s", ed_error_msg(&err));
    dp_wrangler_dispose(&w);
    ed_error_dispose(&err);
}
