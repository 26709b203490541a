/*
 * deploy/edgectl/toml.c: the subset of TOML that wrangler.toml files use, read into JSON, and
 * everything outside it refused with the line it is on.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "deploy/edgectl/edgectl.h"

static json_t *parse_ok(const char *text)
{
    json_t *doc = NULL;
    struct ed_error err = {0};
    int rc = dp_toml_parse(text, strlen(text), "t.toml", &doc, &err);
    cr_assert_eq(rc, 0, "parse failed: %s\n--- input:\n%s", ed_error_msg(&err), text);
    cr_assert_not_null(doc);
    ed_error_dispose(&err);
    return doc;
}

/* Asserts text is refused with a message that contains want (e.g. "t.toml:3: "). */
static void parse_fails(const char *text, const char *want)
{
    json_t *doc = NULL;
    struct ed_error err = {0};
    int rc = dp_toml_parse(text, strlen(text), "t.toml", &doc, &err);
    cr_assert_neq(rc, 0, "accepted:\n%s", text);
    cr_assert_null(doc);
    cr_assert(strstr(ed_error_msg(&err), want), "message \"%s\" lacks \"%s\"\n--- input:\n%s",
              ed_error_msg(&err), want, text);
    ed_error_dispose(&err);
}

/* The document as compact JSON with sorted keys, to compare whole trees. */
static void expect_json(json_t *doc, const char *want)
{
    char *got = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(got, want);
    free(got);
    json_decref(doc);
}

Test(toml, scalars)
{
    expect_json(parse_ok("a = \"x\"\n"
                         "b = 'C:\\path\\n'\n"
                         "c = 42\n"
                         "d = -7\n"
                         "e = +1_000\n"
                         "f = 3.5\n"
                         "g = 1e3\n"
                         "h = true\n"
                         "i = false\n"
                         "j = \"tab\\there \\\"q\\\" \\u00e9 \\U0001F600\"\n"
                         "\"quoted key\" = 1\n"
                         "'lit.key' = 2\n"
                         "k = \"\"\n"),
                "{\"a\":\"x\",\"b\":\"C:\\\\path\\\\n\",\"c\":42,\"d\":-7,"
                "\"e\":1000,\"f\":3.5,\"g\":1000.0,\"h\":true,\"i\":false,"
                "\"j\":\"tab\\there \\\"q\\\" \xc3\xa9 \xf0\x9f\x98\x80\",\"k\":\"\","
                "\"lit.key\":2,\"quoted key\":1}");
}

Test(toml, quoted_key_with_dot_is_one_key)
{
    json_t *doc = parse_ok("'lit.key' = 2\n");
    cr_expect(json_is_integer(json_object_get(doc, "lit.key")));
    json_decref(doc);
}

Test(toml, comments_blank_lines_crlf_bom)
{
    expect_json(parse_ok("\xef\xbb\xbf# leading comment\r\n"
                         "\r\n"
                         "   a = 1   # trailing comment\r\n"
                         "\t\n"
                         "b = \"# not a comment\"\r\n"
                         "# last line without newline"),
                "{\"a\":1,\"b\":\"# not a comment\"}");
}

Test(toml, arrays_span_lines_with_comments_and_trailing_comma)
{
    expect_json(parse_ok("flags = [\n"
                         "  \"nodejs_compat\", # why\n"
                         "\n"
                         "  \"streams_enable_constructors\",\n"
                         "]\n"
                         "empty = []\n"
                         "nested = [[1, 2], [\"a\"]]\n"
                         "mixed = [1, \"a\", true]\n"),
                "{\"empty\":[],\"flags\":[\"nodejs_compat\",\"streams_enable_constructors\"],"
                "\"mixed\":[1,\"a\",true],\"nested\":[[1,2],[\"a\"]]}");
}

Test(toml, tables_dotted_keys_inline_tables)
{
    expect_json(parse_ok("name = \"w\"\n"
                         "[vars]\n"
                         "A = \"1\"\n"
                         "B = \"2\"\n"
                         "[build]\n"
                         "upload.format = \"modules\"\n"
                         "[a.b.c]\n"
                         "d = 1\n"
                         "[a]\n"
                         "e = 2\n"
                         "[durable_objects]\n"
                         "bindings = [\n"
                         "  { name = \"C\", class_name = \"Counter\" },\n"
                         "  { name = \"D\", class_name = \"Other\", x.y = 1 }\n"
                         "]\n"),
                "{\"a\":{\"b\":{\"c\":{\"d\":1}},\"e\":2},\"build\":{\"upload\":{\"format\":"
                "\"modules\"}},\"durable_objects\":{\"bindings\":[{\"class_name\":\"Counter\","
                "\"name\":\"C\"},{\"class_name\":\"Other\",\"name\":\"D\",\"x\":{\"y\":1}}]},"
                "\"name\":\"w\",\"vars\":{\"A\":\"1\",\"B\":\"2\"}}");
}

Test(toml, arrays_of_tables)
{
    expect_json(parse_ok("[[durable_objects.bindings]]\n"
                         "name = \"A\"\n"
                         "class_name = \"ClassA\"\n"
                         "\n"
                         "[[durable_objects.bindings]]\n"
                         "name = \"B\"\n"
                         "class_name = \"ClassB\"\n"
                         "[durable_objects.bindings.extra]\n"
                         "k = 1\n"
                         "[[worker_loaders]]\n"
                         "binding = \"LOADER\"\n"
                         "[[migrations]]\n"
                         "tag = \"v1\"\n"
                         "new_sqlite_classes = [\"ClassA\"]\n"),
                "{\"durable_objects\":{\"bindings\":[{\"class_name\":\"ClassA\",\"name\":\"A\"},"
                "{\"class_name\":\"ClassB\",\"extra\":{\"k\":1},\"name\":\"B\"}]},"
                "\"migrations\":[{\"new_sqlite_classes\":[\"ClassA\"],\"tag\":\"v1\"}],"
                "\"worker_loaders\":[{\"binding\":\"LOADER\"}]}");
}

Test(toml, env_sections_are_plain_tables)
{
    json_t *doc = parse_ok("name = \"w\"\n"
                           "[env.staging]\n"
                           "name = \"w-staging\"\n"
                           "[env.staging.vars]\n"
                           "A = \"s\"\n");
    cr_expect_str_eq(json_string_value(json_object_get(doc, "name")), "w");
    json_t *st = json_object_get(json_object_get(doc, "env"), "staging");
    cr_expect_str_eq(json_string_value(json_object_get(st, "name")), "w-staging");
    json_decref(doc);
}

Test(toml, errors_name_the_line)
{
    parse_fails("a = 1\na = 2\n", "t.toml:2: a is defined twice");
    parse_fails("[x]\na = 1\n[x]\n", "t.toml:3: [x] is defined twice");
    parse_fails("a = \"\"\"\nmulti\n\"\"\"\n", "t.toml:1: multi-line strings are not supported");
    parse_fails("\n\na = '''x'''\n", "t.toml:3: multi-line strings");
    parse_fails("d = 2024-01-01\n", "t.toml:1: dates and times are not supported");
    parse_fails("t = 07:32:00\n", "dates and times are not supported");
    parse_fails("a 1\n", "t.toml:1: expected '=' after the key");
    parse_fails("a = \"open\n", "t.toml:1: unterminated string");
    parse_fails("a = \"\\q\"\n", "unknown escape \\q");
    parse_fails("a = \"\\u12\"\n", "\\u needs 4 hex digits");
    parse_fails("a = \"\\uD800\"\n", "not a Unicode scalar value");
    parse_fails("a = \"\\u0000\"\n", "\\u0000 is not allowed");
    parse_fails("a = { b = 1,\n c = 2 }\n", "t.toml:1: an inline table must end");
    parse_fails("a = { b = 1, }\n", "trailing comma in an inline table");
    parse_fails("a = [1, 2]\n[[a]]\n", "t.toml:2: [[a]]: a is already defined");
    parse_fails("a = { b = 1 }\n[a.c]\n", "t.toml:2: a is already a value");
    parse_fails("a = { b = 1 }\na.c = 2\n", "t.toml:2: a is already a value");
    parse_fails("a = 1\n[a.b]\n", "t.toml:2: a is already a value");
    parse_fails("x = 012\n", "leading zeros");
    parse_fails("x = 0x1f\n", "hexadecimal, octal and binary");
    parse_fails("x = inf\n", "inf and nan");
    parse_fails("x = 1__0\n", "'_' in a number");
    parse_fails("x = 1.\n", "a decimal point needs digits");
    parse_fails("x = 99999999999999999999\n", "out of range");
    parse_fails("a = 1 b = 2\n", "t.toml:1: unexpected 'b' after the value");
    parse_fails("a = [1, 2\n\n", "t.toml:3: unterminated array");
    parse_fails("a = [1 2]\n", "expected ',' or ']' in an array");
    parse_fails("a =\n", "t.toml:1: expected a value after '='");
    parse_fails("a = bare\n", "expected a value");
    parse_fails("[table\n", "expected ']' to close the table header");
    parse_fails("[[aot]\n", "expected ']]'");
    parse_fails("= 1\n", "expected a key");
    parse_fails("a = 1\r\nb = 2\r", "carriage return");
    parse_fails("# bell \x07 here\n", "control character in a comment");
    parse_fails("a = \"x\x01\"\n", "control character in a string");
    parse_fails("s = \"\xff\"\n", "not valid UTF-8");
}

Test(toml, nul_bytes_are_refused_with_their_line)
{
    static const char text[] = "ok = 1\n\n\nnul = \"a\"\0\n";
    json_t *doc = NULL;
    struct ed_error err = {0};
    cr_expect_neq(dp_toml_parse(text, sizeof text - 1, "t.toml", &doc, &err), 0);
    cr_expect(strstr(ed_error_msg(&err), "t.toml:4: NUL byte"), "%s", ed_error_msg(&err));
    ed_error_dispose(&err);
}

Test(toml, dotted_table_cannot_be_redefined_by_header)
{
    parse_fails("a.b = 1\n[a]\n", "t.toml:2: [a] is defined twice");
    /* but a sub-table of it can be made by a header */
    expect_json(parse_ok("[fruit]\napple.color = \"red\"\n[fruit.apple.texture]\nsmooth = true\n"),
                "{\"fruit\":{\"apple\":{\"color\":\"red\",\"texture\":{\"smooth\":true}}}}");
}

Test(toml, deep_nesting_is_bounded)
{
    char text[256] = "a = ";
    for (int i = 0; i < 40; i++)
        strcat(text, "[");
    strcat(text, "\n");
    parse_fails(text, "nested more than");
}

Test(toml, empty_document_is_an_empty_object)
{
    expect_json(parse_ok(""), "{}");
    expect_json(parse_ok("# only a comment\n"), "{}");
}
