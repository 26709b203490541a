/*
 * HTTP/1.1 request parser: llhttp's callbacks copy the request target, the header fields and
 * the (de-chunked) body of one request into struct h1_request, whatever way the bytes were
 * split across reads, while the limits are checked as bytes arrive so that an oversized head
 * or body costs at most the limit in memory. on_message_complete pauses llhttp, so each
 * feed stops right after a request and pipelined requests come out one at a time. llhttp
 * runs without lenient flags: conflicting framing (Transfer-Encoding with Content-Length,
 * duplicate Content-Length, a final encoding other than chunked) is rejected there, the
 * remaining request-smuggling guards (obsolete line folding, duplicate Host) here.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "edge/h1_int.h"

/* Per-line overhead counted against max_header_bytes: ": " and CRLF for a header, method,
 * spaces, "HTTP/1.1" and CRLF for the request line (methods are at most ~12 bytes). */
#define H1_HEADER_OVERHEAD 4
#define H1_REQLINE_OVERHEAD 24

static struct h1_parser *parser_of(llhttp_t *llh)
{
    return llh->data;
}

/* Records the first error; the callback then returns -1 so llhttp stops. */
static int fail(struct h1_parser *p, int status, const char *reason)
{
    if (!p->error_status) {
        p->error_status = status;
        p->error_reason = reason;
    }
    return -1;
}

/* Counts n more head bytes; over the limit the request is refused with 431. */
static int count_head(struct h1_parser *p, size_t n)
{
    p->header_bytes += n;
    if (p->header_bytes > p->limits.max_header_bytes)
        return fail(p, 431, "request header fields too large");
    return 0;
}

static int append_raw(struct h1_parser *p, const char *at, size_t len)
{
    /* raw never outgrows max_header_bytes (checked first), but offsets are 32-bit. */
    if (p->req.raw.len + len > UINT32_MAX)
        return fail(p, 431, "request header fields too large");
    if (ed_buf_append(&p->req.raw, at, len))
        return fail(p, 500, "out of memory");
    return 0;
}

static void request_reset(struct h1_request *r)
{
    r->method = NULL;
    ed_buf_clear(&r->raw);
    r->url_off = r->url_len = 0;
    r->n_headers = 0;
    ed_buf_clear(&r->body);
    r->body_received = 0;
    r->body_length = -1;
    r->streamed = false;
    r->http_major = r->http_minor = 0;
    r->keep_alive = false;
    r->expect_continue = false;
    r->host_index = -1;
}

static int on_message_begin(llhttp_t *llh)
{
    struct h1_parser *p = parser_of(llh);
    p->in_message = true;
    p->req.url_off = (uint32_t)p->req.raw.len;
    return count_head(p, H1_REQLINE_OVERHEAD);
}

static int on_url(llhttp_t *llh, const char *at, size_t len)
{
    struct h1_parser *p = parser_of(llh);
    /* Only the target's own length is checked here, so 414 versus 431 does not depend on
     * where the reads were split; the whole line is counted at on_url_complete. */
    if (p->req.url_len + len > p->limits.max_header_bytes)
        return fail(p, 414, "request target too long");
    if (append_raw(p, at, len))
        return -1;
    p->req.url_len += (uint32_t)len;
    return 0;
}

static int on_url_complete(llhttp_t *llh)
{
    struct h1_parser *p = parser_of(llh);
    return count_head(p, p->req.url_len);
}

static int on_header_field(llhttp_t *llh, const char *at, size_t len)
{
    struct h1_parser *p = parser_of(llh);
    struct h1_request *r = &p->req;
    bool fresh = p->in_value;

    p->in_value = false;
    if (count_head(p, len + (fresh ? H1_HEADER_OVERHEAD : 0)))
        return -1;
    if (p->headers_done)
        return 0; /* a trailer: counted, never stored (it must not override a header) */
    if (fresh) {
        if (r->n_headers == r->cap_headers) {
            size_t cap = r->cap_headers ? r->cap_headers * 2 : 16;
            struct h1_header *h = realloc(r->headers, cap * sizeof *h);
            if (!h)
                return fail(p, 500, "out of memory");
            r->headers = h;
            r->cap_headers = cap;
        }
        struct h1_header *h = &r->headers[r->n_headers++];
        h->name_off = (uint32_t)r->raw.len;
        h->name_len = 0;
        h->value_off = h->value_len = 0;
    }
    if (append_raw(p, at, len))
        return -1;
    r->headers[r->n_headers - 1].name_len += (uint32_t)len;
    return 0;
}

/* The value (possibly empty, so possibly with no on_header_value at all) comes next. */
static int on_header_field_complete(llhttp_t *llh)
{
    struct h1_parser *p = parser_of(llh);
    p->in_value = true;
    if (!p->headers_done)
        p->req.headers[p->req.n_headers - 1].value_off = (uint32_t)p->req.raw.len;
    return 0;
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* llhttp 8.1 accepts obs-fold (a header line continued by a line starting with SP or HT)
 * and joins the parts; a proxy in front of us may not, which makes it a request-smuggling
 * tool, so it is refused (RFC 9112 5.2 allows that). A value span never follows a line
 * break except in a fold: look back from it over whitespace, into the earlier feeds'
 * last byte if the span opens this feed. (llhttp reports an empty value as an empty span
 * just after its line, so only spans with bytes are checked.) */
static bool after_line_break(const struct h1_parser *p, const char *at)
{
    const char *c = at;
    while (c > p->feed_start && is_wsp(c[-1]))
        c--;
    return (c > p->feed_start ? c[-1] : p->feed_prev) == '\n';
}

static int on_header_value(llhttp_t *llh, const char *at, size_t len)
{
    struct h1_parser *p = parser_of(llh);
    if (len > 0 && after_line_break(p, at))
        return fail(p, 400, "obsolete line folding in a header");
    if (count_head(p, len))
        return -1;
    if (p->headers_done)
        return 0;
    if (append_raw(p, at, len))
        return -1;
    p->req.headers[p->req.n_headers - 1].value_len += (uint32_t)len;
    return 0;
}

/* Trailing whitespace is not part of a value (RFC 9110 5.5); llhttp strips only the leading. */
static int on_header_value_complete(llhttp_t *llh)
{
    struct h1_parser *p = parser_of(llh);
    if (p->headers_done)
        return 0;
    struct h1_header *h = &p->req.headers[p->req.n_headers - 1];
    while (h->value_len > 0 && is_wsp(p->req.raw.data[h->value_off + h->value_len - 1]))
        h->value_len--;
    return 0;
}

static bool name_is(const struct h1_request *r, size_t i, const char *name)
{
    size_t n = strlen(name);
    return r->headers[i].name_len == n && strncasecmp(edge_h1_hname(r, i), name, n) == 0;
}

static int on_headers_complete(llhttp_t *llh)
{
    struct h1_parser *p = parser_of(llh);
    struct h1_request *r = &p->req;

    p->headers_done = true;
    r->method = llhttp_method_name(llh->method);
    r->http_major = llh->http_major;
    r->http_minor = llh->http_minor;
    if (r->http_major != 1)
        return fail(p, 505, "HTTP version not supported");
    if (llh->method == HTTP_CONNECT)
        return fail(p, 501, "CONNECT is not supported");
    /* A server may ignore Upgrade (RFC 9110 7.8): answering over HTTP/1.1 keeps "Upgrade:
     * h2c" clients working. Clearing the flag makes llhttp frame the body as usual instead
     * of stopping with HPE_PAUSED_UPGRADE. */
    llh->upgrade = 0;

    for (size_t i = 0; i < r->n_headers; i++) {
        if (name_is(r, i, "host")) {
            /* Two Hosts could route one request to two tenants (RFC 9112 3.2). */
            if (r->host_index >= 0)
                return fail(p, 400, "duplicate Host header");
            r->host_index = (int64_t)i;
        } else if (name_is(r, i, "expect")) {
            size_t vlen = r->headers[i].value_len;
            if (vlen == 12 && strncasecmp(edge_h1_hvalue(r, i), "100-continue", 12) == 0)
                r->expect_continue = true;
        }
    }
    if (r->host_index < 0 && r->http_minor >= 1)
        return fail(p, 400, "missing Host header");

    /* Refuse a declared body before any of it is read. */
    bool chunked = llh->flags & F_CHUNKED;
    bool declared = !chunked && (llh->flags & F_CONTENT_LENGTH);
    if (declared && llh->content_length > p->limits.max_body_bytes)
        return fail(p, 413, "request body too large");
    r->body_length = declared ? (int64_t)llh->content_length : -1;
    /* A large or chunked body is streamed: the request leaves now, its body follows. */
    if (p->limits.stream_body_over &&
        (chunked || (declared && llh->content_length > p->limits.stream_body_over))) {
        r->streamed = true;
        r->keep_alive = llhttp_should_keep_alive(llh); /* known from the head already */
        p->head_pause = true;
        return HPE_PAUSED;
    }
    return 0;
}

static int on_chunk_header(llhttp_t *llh)
{
    struct h1_parser *p = parser_of(llh);
    /* content_length holds the size of the chunk about to be read. */
    if (llh->content_length > p->limits.max_body_bytes - p->req.body_received)
        return fail(p, 413, "request body too large");
    return 0;
}

static int on_body(llhttp_t *llh, const char *at, size_t len)
{
    struct h1_parser *p = parser_of(llh);
    if (len > p->limits.max_body_bytes - p->req.body_received)
        return fail(p, 413, "request body too large");
    if (ed_buf_append(&p->req.body, at, len))
        return fail(p, 500, "out of memory");
    p->req.body_received += len;
    return 0;
}

static int on_message_complete(llhttp_t *llh)
{
    struct h1_parser *p = parser_of(llh);
    p->req.keep_alive = llhttp_should_keep_alive(llh);
    p->in_message = false;
    p->complete = true;
    return HPE_PAUSED;
}

int edge_h1_init(struct h1_parser *p, const struct h1_limits *limits)
{
    memset(p, 0, sizeof *p);
    p->limits = *limits;
    p->in_value = true;
    ed_buf_init(&p->req.raw);
    ed_buf_init(&p->req.body);
    p->req.host_index = -1;
    p->req.body_length = -1;
    /* Reserve now so that an empty request still has a valid raw.data for edge_h1_url. */
    if (ed_buf_reserve(&p->req.raw, 256))
        return ED_ENOMEM;

    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_url_complete = on_url_complete;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_field_complete = on_header_field_complete;
    p->settings.on_header_value = on_header_value;
    p->settings.on_header_value_complete = on_header_value_complete;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_chunk_header = on_chunk_header;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    llhttp_init(&p->llh, HTTP_REQUEST, &p->settings);
    p->llh.data = p;
    p->req.raw.data[0] = '\0';
    return 0;
}

void edge_h1_dispose(struct h1_parser *p)
{
    ed_buf_dispose(&p->req.raw);
    ed_buf_dispose(&p->req.body);
    free(p->req.headers);
    p->req.headers = NULL;
    p->req.n_headers = p->req.cap_headers = 0;
}

/* Error text for what llhttp itself refused; its own reasons are static strings too. */
static const char *llhttp_reason(const struct h1_parser *p, llhttp_errno_t err)
{
    const char *reason = llhttp_get_error_reason(&p->llh);
    return reason ? reason : llhttp_errno_name(err);
}

/* Keeps the last byte before the trailing whitespace of what was fed, for after_line_break. */
static void remember_last_byte(struct h1_parser *p, const char *data, size_t len)
{
    while (len > 0 && is_wsp(data[len - 1]))
        len--;
    if (len > 0)
        p->feed_prev = data[len - 1];
}

enum h1_event edge_h1_feed(struct h1_parser *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->error_status)
        return H1_ERROR;
    if (p->complete)
        return H1_REQUEST; /* edge_h1_next() was not called: nothing more is read */

    p->feed_start = data;
    llhttp_errno_t err = llhttp_execute(&p->llh, data, len);
    enum h1_event ev = H1_ERROR;
    if (err == HPE_OK) {
        *consumed = len;
        ev = H1_NEED_MORE;
    } else if (err == HPE_PAUSED && p->complete) {
        *consumed = (size_t)(llhttp_get_error_pos(&p->llh) - data);
        ev = H1_REQUEST;
    } else if (err == HPE_PAUSED && p->head_pause) {
        /* A streamed request's head: the body is fed on from here. */
        *consumed = (size_t)(llhttp_get_error_pos(&p->llh) - data);
        p->head_pause = false;
        llhttp_resume(&p->llh);
        ev = H1_HEADERS;
    } else if (!p->error_status) {
        p->error_status = 400;
        p->error_reason = llhttp_reason(p, err);
        if (err == HPE_PAUSED_H2_UPGRADE) {
            p->error_status = 501;
            p->error_reason = "HTTP/2 prior knowledge is not supported on this port";
        }
    }
    remember_last_byte(p, data, *consumed);
    return ev;
}

void edge_h1_body_consume(struct h1_parser *p, size_t n)
{
    ed_buf_consume(&p->req.body, n);
}

void edge_h1_next(struct h1_parser *p)
{
    request_reset(&p->req);
    p->header_bytes = 0;
    p->in_message = false;
    p->headers_done = false;
    p->complete = false;
    p->head_pause = false;
    p->in_value = true;
    if (!p->error_status)
        llhttp_resume(&p->llh);
}

const char *edge_h1_header(const struct h1_request *r, const char *name, size_t *len)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        if (name_is(r, i, name)) {
            *len = r->headers[i].value_len;
            return edge_h1_hvalue(r, i);
        }
    }
    *len = 0;
    return NULL;
}
