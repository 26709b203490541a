/*
 * deploy/multipart.c: the strict multipart/form-data parser of the deploy upload. What curl,
 * undici (wrangler) and browsers send parses; every deviation from the grammar is refused
 * with a reason; limits hold at their edges; and every split of a valid body's length (a
 * truncated upload) is refused without reading past the end (ASan watches).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/dp_int.h"

TestSuite(multipart, .timeout = 30);

static const struct dp__multipart_limits LIM = {
    .max_parts = 16, .max_header_bytes = 512, .max_name = 64};

/* Parses body (a copy in a heap block of its exact length, so ASan sees any over-read). */
static int parse(const char *body, size_t len, const char *boundary, struct dp__multipart *m,
                 char *msg, size_t cap)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    struct ed_error err = {0};
    int rc = dp__multipart_parse(copy, len, boundary, strlen(boundary), &LIM, m, &err);
    snprintf(msg, cap, "%s", rc ? ed_error_msg(&err) : "");
    ed_error_dispose(&err);
    /* the parts point into the copy: tests only look at them through check_part below */
    if (rc == 0)
        for (size_t i = 0; i < m->n; i++)
            m->parts[i].data = body + (m->parts[i].data - copy),
            m->parts[i].content_type =
                m->parts[i].content_type ? body + (m->parts[i].content_type - copy) : NULL;
    free(copy);
    return rc;
}

static void check_part(const struct dp__part *p, const char *name, const char *filename,
                       const char *ct, const char *data)
{
    cr_expect_str_eq(p->name, name);
    if (filename)
        cr_expect(p->filename && strcmp(p->filename, filename) == 0, "filename %s, expected %s",
                  p->filename ? p->filename : "(none)", filename);
    else
        cr_expect_null(p->filename, "filename %s", p->filename);
    if (ct)
        cr_expect(p->content_type && strlen(ct) == p->content_type_len &&
                      memcmp(p->content_type, ct, p->content_type_len) == 0,
                  "content type %.*s, expected %s", (int)p->content_type_len,
                  p->content_type ? p->content_type : "", ct);
    else
        cr_expect_null(p->content_type);
    cr_expect_eq(p->len, strlen(data), "data length %zu, expected %zu", p->len, strlen(data));
    cr_expect(memcmp(p->data, data, p->len) == 0, "data %.*s", (int)p->len, p->data);
}

/* What curl -F sends (with its boundary). */
static const char CURL[] = "--------------------------d74496d66958873e\r\n"
                           "Content-Disposition: form-data; name=\"metadata\"\r\n"
                           "Content-Type: application/json\r\n"
                           "\r\n"
                           "{\"main_module\":\"index.js\"}\r\n"
                           "--------------------------d74496d66958873e\r\n"
                           "Content-Disposition: form-data; name=\"index.js\"; "
                           "filename=\"index.js\"\r\n"
                           "Content-Type: application/javascript+module\r\n"
                           "\r\n"
                           "export default {}\r\n\r\n"
                           "--------------------------d74496d66958873e\r\n"
                           "Content-Disposition: form-data; name=\"lib/a.txt\"\r\n"
                           "\r\n"
                           "\r\n"
                           "--------------------------d74496d66958873e--\r\n";
#define CURL_B "------------------------d74496d66958873e"

Test(multipart, what_curl_sends)
{
    struct dp__multipart m;
    char msg[256];
    cr_assert_eq(parse(CURL, sizeof CURL - 1, CURL_B, &m, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(m.n, 3);
    check_part(&m.parts[0], "metadata", NULL, "application/json", "{\"main_module\":\"index.js\"}");
    check_part(&m.parts[1], "index.js", "index.js", "application/javascript+module",
               "export default {}\r\n");
    check_part(&m.parts[2], "lib/a.txt", NULL, NULL, "");
    dp__multipart_dispose(&m);
}

Test(multipart, preamble_epilogue_padding_and_case)
{
    static const char body[] = "this is a preamble\r\n"
                               "--b  \t\r\n"
                               "content-disposition: FORM-DATA ; Name=x ;filename=\"a;b.js\"\r\n"
                               "CONTENT-TYPE:text/plain  \r\n"
                               "X-Other: ignored\r\n"
                               "Content-Transfer-Encoding: binary\r\n"
                               "\r\n"
                               "x --b y: not a delimiter without a CRLF before it\r\n"
                               "--b--\r\nepilogue --b junk";
    struct dp__multipart m;
    char msg[256];
    cr_assert_eq(parse(body, sizeof body - 1, "b", &m, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(m.n, 1);
    check_part(&m.parts[0], "x", "a;b.js", "text/plain",
               "x --b y: not a delimiter without a CRLF before it");
    dp__multipart_dispose(&m);
}

Test(multipart, binary_data_and_an_empty_form)
{
    static const char body[] = "--q\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\n"
                               "\0\r\n\r--\r\n-\xff\r\n--q--";
    struct dp__multipart m;
    char msg[256];
    cr_assert_eq(parse(body, sizeof body - 1, "q", &m, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(m.n, 1);
    cr_expect_eq(m.parts[0].len, 10);
    cr_expect(memcmp(m.parts[0].data, "\0\r\n\r--\r\n-\xff", 10) == 0);
    dp__multipart_dispose(&m);
    cr_assert_eq(parse("--q--", 5, "q", &m, msg, sizeof msg), 0, "%s", msg);
    cr_expect_eq(m.n, 0);
    dp__multipart_dispose(&m);
}

static void refused(const char *body, const char *boundary, int code, const char *needle)
{
    struct dp__multipart m;
    struct ed_error err = {0};
    size_t len = strlen(body);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    int rc = dp__multipart_parse(copy, len, boundary, strlen(boundary), &LIM, &m, &err);
    cr_expect_eq(rc, code, "%s: %d (%s), expected %d", body, rc, ed_error_msg(&err), code);
    cr_expect(strstr(ed_error_msg(&err), needle), "%s: '%s' lacks '%s'", body, ed_error_msg(&err),
              needle);
    ed_error_dispose(&err);
    dp__multipart_dispose(&m);
    free(copy);
}

#define CD "Content-Disposition: form-data; name=\"a\"\r\n"

Test(multipart, everything_outside_the_grammar_is_refused)
{
    refused("", "b", ED_EINVAL, "no multipart boundary");
    refused("--c\r\n" CD "\r\nx\r\n--c--", "b", ED_EINVAL, "no multipart boundary");
    refused("--b\n" CD "\r\nx\r\n--b--", "b", ED_EINVAL, "boundary line is malformed");
    refused("--bx\r\n" CD "\r\nx\r\n--b--", "b", ED_EINVAL, "boundary line is malformed");
    refused("--b\r\n" CD "\r\nx\r\n--bogus", "b", ED_EINVAL, "boundary line is malformed");
    refused("--b\r\n" CD "\r\nx", "b", ED_EINVAL, "no closing boundary");
    refused("--b\r\n" CD "\r\nx\r\n--b", "b", ED_EINVAL, "ends inside a boundary");
    refused("--b\r\nContent-Disposition: form-data; name=a\n\r\nx\r\n--b--", "b", ED_EINVAL,
            "CRLF");
    refused("--b\r\n" CD " folded\r\n\r\nx\r\n--b--", "b", ED_EINVAL, "folded");
    refused("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "b", ED_EINVAL,
            "no Content-Disposition");
    refused("--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--", "b", ED_EINVAL,
            "not form-data");
    refused("--b\r\nContent-Disposition: form-datax; name=a\r\n\r\nx\r\n--b--", "b", ED_EINVAL,
            "not form-data");
    refused("--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", "b", ED_EINVAL, "no name");
    refused("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--", "b", ED_EINVAL,
            "malformed");
    refused("--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nx\r\n--b--", "b",
            ED_EINVAL, "two names");
    refused("--b\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''x\r\n\r\nx\r\n--b--",
            "b", ED_EINVAL, "filename*");
    refused("--b\r\n" CD CD "\r\nx\r\n--b--", "b", ED_EINVAL, "two Content-Disposition");
    refused("--b\r\n" CD "Content-Type: a\r\nContent-Type: b\r\n\r\nx\r\n--b--", "b", ED_EINVAL,
            "two Content-Type");
    refused("--b\r\n" CD "Content-Transfer-Encoding: base64\r\n\r\nx\r\n--b--", "b", ED_EINVAL,
            "Transfer-Encoding");
    refused("--b\r\n" CD "Bad Header: x\r\n\r\nx\r\n--b--", "b", ED_EINVAL, "malformed header");
    refused("--b\r\n" CD "X: a\x01z\r\n\r\nx\r\n--b--", "b", ED_EINVAL, "control character");
    refused("--b\r\nContent-Disposition: form-data; name=\"a\tb\"\r\n\r\nx\r\n--b--", "b",
            ED_EINVAL, "control character");
    refused("--b\r\n" CD, "b", ED_EINVAL, "ends inside a part's headers");
}

Test(multipart, limits)
{
    /* names: 64 bytes pass, 65 do not */
    char body[4096];
    char name[80];
    memset(name, 'n', 64);
    name[64] = '\0';
    snprintf(body, sizeof body,
             "--b\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nx\r\n--b--", name);
    struct dp__multipart m;
    char msg[256];
    cr_expect_eq(parse(body, strlen(body), "b", &m, msg, sizeof msg), 0, "%s", msg);
    dp__multipart_dispose(&m);
    strcat(name, "n");
    snprintf(body, sizeof body,
             "--b\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nx\r\n--b--", name);
    refused(body, "b", ED_ETOOBIG, "longer than 64");

    /* parts: 16 pass, 17 do not */
    size_t o = 0;
    for (int i = 0; i < 17; i++) {
        o += (size_t)snprintf(body + o, sizeof body - o, "--b\r\n" CD "\r\nx\r\n");
        if (i == 15) {
            memcpy(body + o, "--b--", 6);
            cr_expect_eq(parse(body, o + 5, "b", &m, msg, sizeof msg), 0, "%s", msg);
            cr_expect_eq(m.n, 16);
            dp__multipart_dispose(&m);
        }
    }
    snprintf(body + o, sizeof body - o, "--b--");
    refused(body, "b", ED_ETOOBIG, "more than 16 parts");

    /* a part's header section: at most 512 bytes; more than 16 header lines */
    o = (size_t)snprintf(body, sizeof body, "--b\r\n" CD "X: ");
    memset(body + o, 'v', 600);
    o += 600;
    snprintf(body + o, sizeof body - o, "\r\n\r\nx\r\n--b--");
    refused(body, "b", ED_ETOOBIG, "exceed 512");
    o = (size_t)snprintf(body, sizeof body, "--b\r\n" CD);
    for (int i = 0; i < 17; i++)
        o += (size_t)snprintf(body + o, sizeof body - o, "X: 1\r\n");
    snprintf(body + o, sizeof body - o, "\r\nx\r\n--b--");
    refused(body, "b", ED_ETOOBIG, "more than 16 headers");
}

Test(multipart, every_truncation_is_refused_cleanly)
{
    /* every prefix of a valid body (but the whole, and the whole minus its final CRLF) fails,
     * and no length reads past the end */
    size_t len = sizeof CURL - 1;
    for (size_t n = 0; n < len - 2; n++) {
        struct dp__multipart m;
        char msg[256];
        int rc = parse(CURL, n, CURL_B, &m, msg, sizeof msg);
        cr_expect_neq(rc, 0, "a body cut at %zu bytes parsed", n);
        dp__multipart_dispose(&m);
    }
}

Test(multipart, the_boundary_comes_from_content_type)
{
    char b[DP__BOUNDARY_MAX + 1];
    size_t bl = 0;
    struct ed_error err = {0};
    const char *ok[][2] = {
        {"multipart/form-data; boundary=abc", "abc"},
        {"Multipart/Form-Data;boundary=\"a b:c\"", "a b:c"},
        {"multipart/form-data; charset=utf-8; BOUNDARY=x-y_z", "x-y_z"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = dp__multipart_boundary(ok[i][0], strlen(ok[i][0]), b, &bl, &err);
        cr_expect_eq(rc, 0, "%s: %s", ok[i][0], ed_error_msg(&err));
        cr_expect_str_eq(b, ok[i][1]);
        cr_expect_eq(bl, strlen(ok[i][1]));
    }
    const char *bad[] = {
        "application/json",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"a \"",
        "multipart/form-data; boundary=a; boundary=b",
        "multipart/form-data; boundary=\"a\\\"b\"",
        "multipart/form-datax; boundary=a",
        "multipart/form-data; boundary=12345678901234567890123456789012345678901234567890"
        "123456789012345678901",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(dp__multipart_boundary(bad[i], strlen(bad[i]), b, &bl, &err), ED_EINVAL,
                     "%s was accepted", bad[i]);
    ed_error_dispose(&err);
}
