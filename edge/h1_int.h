/*
 * HTTP/1.1 message layer, internal to edge/: a request parser over llhttp that turns bytes
 * (in reads split anywhere) into whole requests, enforcing the header-size and body-size
 * limits, and a response writer that serialises heads, fixed-length and chunked bodies.
 * Neither half touches a socket, so both are unit-tested byte by byte.
 *
 * Pipelining: the parser stops after each complete request (llhttp pause) and reports how
 * much input it consumed; the connection answers that request, calls edge_h1_next(), and
 * feeds the rest. Responses therefore leave in request order.
 */
#ifndef EDGED_EDGE_H1_INT_H
#define EDGED_EDGE_H1_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "common/common.h"

struct h1_limits {
    size_t max_header_bytes; /* request line + all header lines; over it: 431 (414 if the
                                request target alone is over it) */
    uint64_t max_body_bytes; /* declared or received body; over it: 413 */
    /* A body that is chunked or declares more than this many bytes is streamed: the request
     * comes out at the end of its head (H1_HEADERS) and its body after it, piece by piece,
     * as it is fed (0: every body is buffered whole before H1_REQUEST). */
    uint64_t stream_body_over;
};

/* One header of the current request: offsets into h1_request.raw. */
struct h1_header {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
};

/* The request being parsed, or the complete one after H1_REQUEST. Owned by the parser;
 * valid until edge_h1_next() or edge_h1_dispose(). */
struct h1_request {
    const char *method; /* static string from llhttp, e.g. "GET" */
    struct ed_buf raw;  /* URL and header bytes; h1_header offsets point in here */
    uint32_t url_off, url_len;
    struct h1_header *headers;
    size_t n_headers, cap_headers;
    struct ed_buf body;     /* de-chunked body (streamed: what arrived and was not consumed) */
    uint64_t body_received; /* body bytes received so far (counted against the limit) */
    int64_t body_length;    /* declared Content-Length, -1 when chunked or absent */
    bool streamed;          /* dispatched at H1_HEADERS; body bytes follow */
    int http_major, http_minor;
    bool keep_alive;      /* llhttp_should_keep_alive() once complete */
    bool expect_continue; /* "Expect: 100-continue" was sent */
    int64_t host_index;   /* index of the Host header, -1 if none */
};

enum h1_event {
    H1_NEED_MORE = 0, /* all input consumed, no complete request yet */
    H1_REQUEST,       /* a complete request is in parser->req (or a streamed one's body ended) */
    H1_ERROR,         /* malformed or over a limit: answer error_status and close */
    H1_HEADERS,       /* the head of a request whose body is streamed (req.streamed) */
};

struct h1_parser {
    llhttp_t llh;
    llhttp_settings_t settings;
    struct h1_limits limits;
    struct h1_request req;
    size_t header_bytes;    /* counted against max_header_bytes */
    bool in_message;        /* first byte of a request seen and not yet complete */
    bool headers_done;      /* headers of the current request complete */
    bool complete;          /* current request complete, parser paused */
    bool head_pause;        /* paused at the end of a streamed request's head */
    bool in_value;          /* not inside a header name: the next name piece starts a new header */
    const char *feed_start; /* the data of the current edge_h1_feed call */
    char feed_prev;         /* last non-blank byte fed before it (obs-fold detection) */
    int error_status;       /* 400, 413, 414, 431, 500 (out of memory), 501, 505 once H1_ERROR */
    const char *error_reason; /* static text for the log and the error body */
};

/* Prepares p for a new connection. limits is copied. Returns 0 or ED_ENOMEM. */
int edge_h1_init(struct h1_parser *p, const struct h1_limits *limits);
void edge_h1_dispose(struct h1_parser *p);

/* Feeds len bytes. Sets *consumed to the bytes used (less than len only when a complete
 * request or a streamed request's head was found: the rest belongs to the next, pipelined
 * request, or is the streamed body, to be fed next) and returns the event. A streamed request
 * (limits.stream_body_over) comes out as H1_HEADERS once its head is complete; the caller then
 * feeds on, takes body bytes from req.body as they arrive (edge_h1_body_consume), and gets
 * H1_REQUEST when the body is complete (req stays valid until edge_h1_next()).
 * After H1_REQUEST, call edge_h1_next() before feeding again. After H1_ERROR the connection
 * must be answered with p->error_status and closed; further feeds return H1_ERROR. data is borrowed
 * for the call only. Once headers_done, req's headers (and expect_continue, for sending
 * "100 Continue" before the body) are readable even while H1_NEED_MORE. Beyond llhttp's own
 * checks: HTTP/1.1 without exactly one Host, and obs-fold, are 400; versions other than 1.x
 * are 505; CONNECT and the HTTP/2 preface are 501; an Upgrade header is ignored (the
 * request is answered over HTTP/1.1). Chunked trailers are counted against
 * max_header_bytes and discarded. */
enum h1_event edge_h1_feed(struct h1_parser *p, const char *data, size_t len, size_t *consumed);

/* Releases the complete request and readies the parser for the next one on the connection. */
void edge_h1_next(struct h1_parser *p);

/* n bytes of a streamed request's body (the front of req.body) were read. */
void edge_h1_body_consume(struct h1_parser *p, size_t n);

/* Whether a streamed request's body is still arriving (its head came out, not its end). */
static inline bool edge_h1_body_streaming(const struct h1_parser *p)
{
    return p->req.streamed && p->in_message;
}

/* Pointers into a complete (or partial) request. Borrowed: valid as for h1_request. */
static inline const char *edge_h1_url(const struct h1_request *r)
{
    return r->raw.data + r->url_off;
}
static inline const char *edge_h1_hname(const struct h1_request *r, size_t i)
{
    return r->raw.data + r->headers[i].name_off;
}
static inline const char *edge_h1_hvalue(const struct h1_request *r, size_t i)
{
    return r->raw.data + r->headers[i].value_off;
}
/* Value of the first header named name (case-insensitive), or NULL; *len set. Borrowed. */
const char *edge_h1_header(const struct h1_request *r, const char *name, size_t *len);

/* ---- response writer ----------------------------------------------------------------- */

struct h1_out_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* False for statuses whose responses never carry a body (1xx, 204, 304): the writer sends
 * no framing header for them and the caller must send no body (nor a last chunk). */
static inline bool edge_h1_status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* What the response says about the connection (the keep_alive argument of the writers). */
enum h1_conn {
    H1_CLOSE = 0,        /* "Connection: close" */
    H1_KEEP_ALIVE = 1,   /* nothing: HTTP/1.1 keeps the connection by default */
    H1_KEEP_ALIVE_10 = 2 /* "Connection: keep-alive", for an HTTP/1.0 client that asked */
};

/* content_length for a body delimited by closing the connection (HTTP/1.0 clients cannot
 * read chunked encoding); needs H1_CLOSE. */
#define H1_UNFRAMED (-2)

/* Appends a status line and headers to out. content_length >= 0 writes Content-Length;
 * -1 writes "Transfer-Encoding: chunked" (then body pieces go through
 * edge_h1_write_chunk and edge_h1_write_last_chunk); H1_UNFRAMED writes neither; nor does a
 * status without a body (edge_h1_status_has_body). Headers the worker set that are
 * hop-by-hop or framing (Connection, Keep-Alive, Transfer-Encoding, Content-Length, Date,
 * Upgrade, Proxy-Connection, TE, Trailer) are dropped: framing is ours; so are headers whose
 * name is not a token or whose value holds CR, LF or NUL (response splitting). keep_alive is
 * an enum h1_conn (a bool works: false is H1_CLOSE). Also writes Date. headers is borrowed.
 * Returns 0, ED_EINVAL (status outside 100..999, content_length below H1_UNFRAMED,
 * H1_UNFRAMED without H1_CLOSE) or ED_ENOMEM; on error out is left as it was. */
int edge_h1_write_head(struct ed_buf *out, int status, const struct h1_out_header *headers,
                       size_t n_headers, int64_t content_length, int keep_alive);

/* One chunk of a chunked body (len 0 writes nothing: a zero chunk would end the body).
 * data is borrowed. */
int edge_h1_write_chunk(struct ed_buf *out, const void *data, size_t len);
/* The terminating zero-length chunk. */
int edge_h1_write_last_chunk(struct ed_buf *out);

/* A complete small response generated by the node itself (errors, limit hits): text/plain
 * body `msg` (borrowed; NULL: the reason phrase) plus a newline. */
int edge_h1_write_simple(struct ed_buf *out, int status, const char *msg, int keep_alive);

/* Reason phrase for a status code ("Not Found"); "Unknown" for codes without one. */
const char *edge_h1_reason(int status);

#endif
