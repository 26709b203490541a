/*
 * libFuzzer target for the HTTP/1.1 request parser (edge/h1_parse.c): the input is parsed
 * once whole and once in reads whose sizes come from its first bytes, and both must yield the
 * same requests (and an error after the same ones), since a read boundary must never change what a request
 * means. Build with clang: -fsanitize=fuzzer,address,undefined plus h1_parse.c, llhttp and
 * common/; it is not part of the gcc build (tests/CMakeLists.txt globs only unit/ and e2e/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/h1_int.h"

static const struct h1_limits limits = {.max_header_bytes = 512, .max_body_bytes = 256};

static void describe(struct h1_parser *p, enum h1_event ev, struct ed_buf *out)
{
    const struct h1_request *r = &p->req;
    /* Which error a request both malformed and oversized gets (400 or 413/414/431) depends
     * on whether llhttp reaches the bad byte before a read boundary hands us the bytes that
     * cross the limit; that an error comes, and where, does not. */
    if (ev == H1_ERROR) {
        ed_buf_appends(out, "error|");
        return;
    }
    ed_buf_appendf(out, "%s %d.%d %d %d ", r->method, r->http_major, r->http_minor, r->keep_alive,
                   r->expect_continue);
    ed_buf_append(out, edge_h1_url(r), r->url_len);
    for (size_t i = 0; i < r->n_headers; i++) {
        ed_buf_appendf(out, "\n%u:", r->headers[i].name_len);
        ed_buf_append(out, edge_h1_hname(r, i), r->headers[i].name_len);
        ed_buf_appendf(out, "=%u:", r->headers[i].value_len);
        ed_buf_append(out, edge_h1_hvalue(r, i), r->headers[i].value_len);
    }
    ed_buf_appendf(out, "\n%zu:", r->body.len);
    ed_buf_append(out, r->body.data ? r->body.data : "", r->body.len);
    ed_buf_appends(out, "|");
}

/* Reads are sizes[k % n_sizes] bytes (each 1..16); n_sizes 0 means one read. */
static void parse(const char *msg, size_t len, const uint8_t *sizes, size_t n_sizes,
                  struct ed_buf *out)
{
    struct h1_parser p;
    size_t pos = 0, received = 0, k = 0;

    if (edge_h1_init(&p, &limits))
        abort();
    for (size_t round = 0; round < 2 * len + 4; round++) {
        if (pos == received) {
            if (received == len)
                break;
            received = n_sizes ? received + 1 + sizes[k++ % n_sizes] % 16 : len;
            if (received > len)
                received = len;
        }
        size_t consumed = 0;
        enum h1_event ev = edge_h1_feed(&p, msg + pos, received - pos, &consumed);
        if (consumed > received - pos)
            abort();
        pos += consumed;
        if (ev == H1_ERROR) {
            describe(&p, ev, out);
            break;
        }
        if (ev == H1_REQUEST) {
            describe(&p, ev, out);
            edge_h1_next(&p);
        } else if (pos != received) {
            abort();
        }
    }
    edge_h1_dispose(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ed_buf whole, split;
    size_t n_sizes;

    if (size < 1)
        return 0;
    n_sizes = data[0] % 8;
    if (size < 1 + n_sizes)
        return 0;
    const uint8_t *sizes = data + 1;
    const char *msg = (const char *)data + 1 + n_sizes;
    size_t len = size - 1 - n_sizes;

    ed_buf_init(&whole);
    ed_buf_init(&split);
    parse(msg, len, NULL, 0, &whole);
    parse(msg, len, sizes, n_sizes ? n_sizes : 1, &split);
    if (whole.len != split.len || (whole.len && memcmp(whole.data, split.data, whole.len)))
        abort();
    ed_buf_dispose(&whole);
    ed_buf_dispose(&split);
    return 0;
}
