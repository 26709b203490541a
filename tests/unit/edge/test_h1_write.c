/*
 * Tests for edge/h1_write.c: exact bytes of heads, chunks and the node's own responses; the
 * framing and hop-by-hop headers a worker sets are dropped; a CR, LF or NUL in a worker's
 * header cannot split the response; and what is written parses back with llhttp.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "edge/h1_int.h"

#define S(lit) lit, sizeof(lit) - 1
#define H(n, v)                            \
    {                                      \
        n, sizeof(n) - 1, v, sizeof(v) - 1 \
    }

/* out with the Date value (checked for shape) replaced by "X", for exact comparisons. */
static char *without_date(const struct ed_buf *out)
{
    static char copy[4096];
    const char *d = strstr(out->data, "\r\nDate: ");
    cr_assert_not_null(d, "no Date header in %s", out->data);
    d += 8;
    const char *end = strstr(d, "\r\n");
    cr_assert_not_null(end);
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    cr_assert_eq(end - d, 29, "Date %.*s", (int)(end - d), d);
    cr_assert_eq(memcmp(d + 26, "GMT", 3), 0);
    cr_assert_eq(d[3], ',');
    size_t head = (size_t)(d - out->data);
    cr_assert_lt(out->len, sizeof copy);
    memcpy(copy, out->data, head);
    copy[head] = 'X';
    strcpy(copy + head + 1, end);
    return copy;
}

TestSuite(h1_write);

Test(h1_write, fixed_length_head)
{
    struct ed_buf out;
    const struct h1_out_header hs[] = {H("Content-Type", "text/html"), H("X-Multi", "a"),
                                       H("x-multi", "b"), H("X-Empty", "")};
    ed_buf_init(&out);
    cr_assert_eq(edge_h1_write_head(&out, 200, hs, 4, 5, true), 0);
    cr_assert_str_eq(without_date(&out), "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Length: 5\r\n"
                                         "Content-Type: text/html\r\nX-Multi: a\r\nx-multi: b\r\n"
                                         "X-Empty: \r\n\r\n");
    ed_buf_dispose(&out);

    ed_buf_init(&out);
    cr_assert_eq(edge_h1_write_head(&out, 404, NULL, 0, 0, false), 0);
    cr_assert_str_eq(without_date(&out), "HTTP/1.1 404 Not Found\r\nDate: X\r\nContent-Length: 0"
                                         "\r\nConnection: close\r\n\r\n");
    ed_buf_dispose(&out);
}

Test(h1_write, appends_to_existing_output)
{
    struct ed_buf out;
    ed_buf_init(&out);
    cr_assert_eq(ed_buf_appends(&out, "previous response"), 0);
    cr_assert_eq(edge_h1_write_head(&out, 599, NULL, 0, 1, true), 0);
    cr_assert_eq(strncmp(out.data, "previous responseHTTP/1.1 599 Unknown\r\n", 39), 0);
    ed_buf_dispose(&out);
}

Test(h1_write, chunked)
{
    struct ed_buf out;
    char big[300];
    memset(big, 'z', sizeof big);
    ed_buf_init(&out);
    cr_assert_eq(edge_h1_write_head(&out, 201, NULL, 0, -1, true), 0);
    cr_assert_str_eq(without_date(&out), "HTTP/1.1 201 Created\r\nDate: X\r\n"
                                         "Transfer-Encoding: chunked\r\n\r\n");
    size_t head = out.len;
    cr_assert_eq(edge_h1_write_chunk(&out, "hello", 5), 0);
    cr_assert_eq(edge_h1_write_chunk(&out, "", 0), 0, "an empty chunk writes nothing");
    cr_assert_eq(edge_h1_write_chunk(&out, big, sizeof big), 0);
    cr_assert_eq(edge_h1_write_last_chunk(&out), 0);
    cr_assert_eq(out.len - head, 3 + 5 + 2 + 5 + 300 + 2 + 5);
    cr_assert_eq(memcmp(out.data + head, "5\r\nhello\r\n12c\r\nzzz", 18), 0);
    cr_assert_str_eq(out.data + out.len - 7, "\r\n0\r\n\r\n");
    ed_buf_dispose(&out);
}

Test(h1_write, framing_and_hop_by_hop_headers_dropped)
{
    struct ed_buf out;
    const struct h1_out_header hs[] = {
        H("Connection", "keep-alive"),
        H("KEEP-ALIVE", "timeout=5"),
        H("transfer-encoding", "gzip"),
        H("Content-Length", "999"),
        H("Date", "yesterday"),
        H("Upgrade", "websocket"),
        H("Proxy-Connection", "close"),
        H("TE", "trailers"),
        H("Trailer", "X"),
        H("X-Kept", "yes"),
        H("Content-Lengthy", "kept"),
        H("te-x", "kept"),
    };
    ed_buf_init(&out);
    cr_assert_eq(edge_h1_write_head(&out, 200, hs, sizeof hs / sizeof hs[0], 3, true), 0);
    cr_assert_str_eq(without_date(&out), "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Length: 3\r\n"
                                         "X-Kept: yes\r\nContent-Lengthy: kept\r\nte-x: kept\r\n"
                                         "\r\n");
    ed_buf_dispose(&out);
}

Test(h1_write, response_splitting_dropped)
{
    struct ed_buf out;
    const struct h1_out_header hs[] = {
        H("X-A", "a\r\nSet-Cookie: stolen=1"),
        H("X-B", "b\nX-Injected: 1"),
        H("X-C", "c\rd"),
        {"X-D", 3, "d\0e", 3},
        H("X-E\r\nX-Injected", "1"),
        H("X F", "space in name"),
        H("X:G", "colon in name"),
        {"X\0H", 3, "nul in name", 11},
        H("", "empty name"),
        H("X-Ok", "fine \t value, with \"quotes\" and UTF-8 \xc3\xa9"),
    };
    ed_buf_init(&out);
    cr_assert_eq(edge_h1_write_head(&out, 200, hs, sizeof hs / sizeof hs[0], 0, true), 0);
    cr_assert_str_eq(without_date(&out),
                     "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Length: 0\r\n"
                     "X-Ok: fine \t value, with \"quotes\" and UTF-8 \xc3\xa9\r\n\r\n");
    cr_assert_null(strstr(out.data, "Injected"));
    cr_assert_null(strstr(out.data, "stolen"));
    ed_buf_dispose(&out);
}

Test(h1_write, no_framing_without_body)
{
    struct ed_buf out;
    ed_buf_init(&out);
    cr_assert_eq(edge_h1_write_head(&out, 204, NULL, 0, 10, true), 0);
    cr_assert_str_eq(without_date(&out), "HTTP/1.1 204 No Content\r\nDate: X\r\n\r\n");
    ed_buf_clear(&out);
    cr_assert_eq(edge_h1_write_head(&out, 304, NULL, 0, -1, false), 0);
    cr_assert_str_eq(without_date(&out), "HTTP/1.1 304 Not Modified\r\nDate: X\r\n"
                                         "Connection: close\r\n\r\n");
    ed_buf_dispose(&out);
    cr_assert_not(edge_h1_status_has_body(100));
    cr_assert(edge_h1_status_has_body(200));
    cr_assert(edge_h1_status_has_body(205));
}

Test(h1_write, invalid_status_leaves_output_alone)
{
    struct ed_buf out;
    ed_buf_init(&out);
    cr_assert_eq(ed_buf_appends(&out, "kept"), 0);
    cr_assert_eq(edge_h1_write_head(&out, 99, NULL, 0, 0, true), ED_EINVAL);
    cr_assert_eq(edge_h1_write_head(&out, 1000, NULL, 0, 0, true), ED_EINVAL);
    cr_assert_eq(edge_h1_write_head(&out, 200, NULL, 0, -2, true), ED_EINVAL);
    cr_assert_str_eq(out.data, "kept");
    ed_buf_dispose(&out);
}

Test(h1_write, simple)
{
    struct ed_buf out;
    ed_buf_init(&out);
    cr_assert_eq(edge_h1_write_simple(&out, 431, "request header fields too large", false), 0);
    cr_assert_str_eq(without_date(&out),
                     "HTTP/1.1 431 Request Header Fields Too Large\r\nDate: X\r\n"
                     "Content-Length: 32\r\nConnection: close\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                     "request header fields too large\n");
    ed_buf_clear(&out);
    cr_assert_eq(edge_h1_write_simple(&out, 503, NULL, true), 0);
    cr_assert_str_eq(without_date(&out), "HTTP/1.1 503 Service Unavailable\r\nDate: X\r\n"
                                         "Content-Length: 20\r\n"
                                         "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                                         "Service Unavailable\n");
    ed_buf_clear(&out);
    cr_assert_eq(edge_h1_write_simple(&out, 304, "ignored", true), 0);
    cr_assert_str_eq(without_date(&out), "HTTP/1.1 304 Not Modified\r\nDate: X\r\n\r\n");
    ed_buf_dispose(&out);
}

Test(h1_write, reasons)
{
    static const struct {
        int status;
        const char *reason;
    } want[] = {
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {299, "Unknown"},
        {0, "Unknown"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_str_eq(edge_h1_reason(want[i].status), want[i].reason);
}

/* ---- round trip through llhttp --------------------------------------------------------- */

struct seen {
    struct ed_buf body;
    int complete, status;
    bool keep_alive;
};

static int on_body(llhttp_t *l, const char *at, size_t len)
{
    struct seen *s = l->data;
    return ed_buf_append(&s->body, at, len) ? -1 : 0;
}

static int on_message_complete(llhttp_t *l)
{
    struct seen *s = l->data;
    s->complete++;
    s->status = l->status_code;
    s->keep_alive = llhttp_should_keep_alive(l);
    return 0;
}

Test(h1_write, parses_back)
{
    struct ed_buf out;
    struct seen seen = {.complete = 0};
    llhttp_settings_t settings;
    llhttp_t llh;
    const struct h1_out_header hs[] = {H("X-Evil", "1\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200")};

    ed_buf_init(&out);
    ed_buf_init(&seen.body);
    cr_assert_eq(edge_h1_write_head(&out, 200, hs, 1, -1, true), 0);
    cr_assert_eq(edge_h1_write_chunk(&out, "first,", 6), 0);
    cr_assert_eq(edge_h1_write_chunk(&out, "second", 6), 0);
    cr_assert_eq(edge_h1_write_last_chunk(&out), 0);
    cr_assert_eq(edge_h1_write_simple(&out, 404, "no route", false), 0);

    llhttp_settings_init(&settings);
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    llhttp_init(&llh, HTTP_RESPONSE, &settings);
    llh.data = &seen;
    cr_assert_eq(llhttp_execute(&llh, out.data, out.len), HPE_OK);
    cr_assert_eq(seen.complete, 2, "two responses, not three");
    cr_assert_str_eq(seen.body.data, "first,secondno route\n");
    cr_assert_eq(seen.status, 404);
    cr_assert_not(seen.keep_alive);
    ed_buf_dispose(&seen.body);
    ed_buf_dispose(&out);
}
