/*
 * The outbound HTTP/1.1 client: one per shard, on the shard's loop, behind workers' fetch()
 * (struct iso_fetcher). A request resolves its host (uv_getaddrinfo; an IP literal needs none),
 * refuses addresses the operator's rules deny before any socket connects, connects within the
 * connect timeout (trying the next allowed address when one fails), speaks TLS through
 * ob_tls.c for https:, writes the head with the body (Content-Length, or chunked for a stream
 * of unknown length), parses the response with llhttp, follows redirects as the Fetch Standard
 * says (up to 20 hops, each judged by the rules again), and keeps the body it receives until
 * the worker reads it: past a high-water mark the socket is no longer read, so a slow reader
 * slows the server instead of filling memory. A connection whose response was read to its end
 * goes back to a pool per (tenant, origin) — tenants never share a connection — and is reused
 * by the next request there; a reused connection that turns out dead before any response byte
 * is retried once on a fresh one when the body can be sent again.
 *
 * Answers to the worker (iso_fetcher's callbacks) are queued and delivered from an idle
 * handle, never from inside a call the worker made, so no worker's JavaScript ever runs inside
 * the client's own frames on a connection.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>

#include "edge/ob_int.h"

#define OB_CHUNK (256u * 1024)      /* the most a read() answers with */
#define OB_HIGH_WATER (256u * 1024) /* body bytes held before the socket is no longer read */
#define OB_MAX_HEAD (64u * 1024)    /* a response's status line and headers */
#define OB_MAX_HEADERS 256
#define OB_MAX_REDIRECTS 20
#define OB_MAX_ADDRS 8
#define OB_POOL_PER_KEY 8
#define OB_POOL_MAX 128
#define OB_POOL_IDLE_MS 30000

struct ob_fetch;

enum ob_timer { T_NONE, T_CONNECT, T_RESPONSE, T_POOL };

struct ob_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_getaddrinfo_t gai;
    uv_write_t wreq;
    struct edge_fetcher *fc;
    struct ob_conn *prev, *next; /* fc->conns, most recently pooled first */
    struct ob_fetch *f;          /* the request on it; NULL when pooled or closing */
    char *key;                   /* "tenant\x1fhttps://host:port": what the pool matches */
    struct edge_tls *tls;
    struct ed_buf out;     /* bytes for the socket (ciphertext with TLS), not yet written */
    struct ed_buf writing; /* owned by the uv_write in flight */
    struct sockaddr_storage addrs[OB_MAX_ADDRS];
    int n_addrs, next_addr;
    int last_error; /* the last connect failure (a libuv code) */
    enum ob_timer timer_for;
    uint64_t connect_deadline; /* uv_now() by which DNS, connect and TLS must be done */
    uint32_t timer_left;       /* ms to that deadline, once connected */
    int handles;               /* tcp and timer, until their close callbacks */
    bool gai_pending, connect_pending, write_pending;
    bool connected, handshaken, reading, pooled, closing;
    bool retiring_tcp; /* the tcp handle is closing to try the next address */
};

struct ob_header {
    char *name, *value;
    size_t name_len, value_len;
};

struct ob_fetch {
    struct edge_fetcher *fc;
    struct ob_fetch *prev, *next; /* fc->fetches */
    char *tenant;
    char *method;
    struct edge_url url;
    struct ob_header *hdrs; /* the worker's request headers, framing ones dropped */
    size_t n_hdrs;
    uint8_t *body; /* a fixed body (owned) */
    size_t body_len;
    bool body_stream;
    int64_t content_length;     /* a streamed body's declared length, or -1: chunked */
    uint64_t body_sent;         /* streamed bytes framed so far */
    bool body_ended;            /* the stream's end came (or there is no streamed body) */
    bool body_dropped;          /* a redirect turned the request into a GET: writes are discarded */
    struct ed_buf body_pending; /* framed stream bytes before the request could be sent */
    int redirect_mode;
    int hops;
    bool redirected, retried;
    struct ob_conn *conn;
    bool conn_reused, request_sent;

    /* the response being parsed */
    llhttp_t llh;
    llhttp_settings_t settings;
    struct ed_buf status_text;
    struct ed_buf rhead; /* header bytes; offsets below point in here */
    uint32_t (*rh)[4];   /* name offset, name length, value offset, value length */
    size_t n_rh, cap_rh;
    bool rh_in_value;
    int status;
    bool informational, head_done, message_done, keep_alive, got_bytes, extra;
    bool redirect_pending;
    struct ed_buf body_in; /* received, not yet read by the worker */

    int err_code; /* once it failed */
    char *err_msg;

    /* operations waiting for their answer, and the event each will be answered with
     * (allocated when the operation starts, so an answer never fails to be made) */
    struct ob_event *ev_head, *ev_read, *ev_write;
    iso_fetch_head_cb head_cb;
    void *head_ud;
    iso_fetch_data_cb read_cb;
    void *read_ud;
    iso_fetch_done_cb write_cb;
    void *write_ud;
};

enum ob_event_kind { EV_HEAD, EV_DATA, EV_WRITTEN };

/* One answer waiting to be delivered; owns what it carries. */
struct ob_event {
    struct ob_event *next;
    enum ob_event_kind kind;
    void *ud;
    iso_fetch_head_cb head_cb;
    iso_fetch_data_cb data_cb;
    iso_fetch_done_cb done_cb;
    int code;
    char *msg;
    uint8_t *data;
    size_t len;
    struct iso_fetch_head head;
    char *arena;
    struct iso_header *hdrs;
};

struct edge_fetcher {
    struct iso_fetcher iface;
    uv_loop_t *loop;
    struct edge_outbound *ob;
    uv_idle_t deliver;
    struct ob_event *ev_head, *ev_tail;
    struct ob_fetch *fetches;
    struct ob_conn *conns;
    size_t n_pooled;
    bool closing;
    char rbuf[65536];  /* what a socket read lands in (consumed within the callback) */
    char plain[65536]; /* TLS plaintext */
};

static void conn_close(struct ob_conn *c);
static void hop_start(struct ob_fetch *f);
static void fetch_fail(struct ob_fetch *f, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- answers ---------------------------------------------------------------------------- */

static void on_deliver(uv_idle_t *h)
{
    struct edge_fetcher *fc = h->data;
    struct ob_event *e = fc->ev_head;
    fc->ev_head = fc->ev_tail = NULL;
    while (e) {
        struct ob_event *next = e->next;
        const char *msg = e->msg ? e->msg : (e->code ? ed_strerror(e->code) : NULL);
        switch (e->kind) {
        case EV_HEAD:
            e->head_cb(e->ud, e->code, e->code ? NULL : &e->head, msg);
            break;
        case EV_DATA:
            e->data_cb(e->ud, e->code, e->data, e->len, msg);
            break;
        case EV_WRITTEN:
            e->done_cb(e->ud, e->code, msg);
            break;
        }
        free(e->msg);
        free(e->data);
        free(e->arena);
        free(e->hdrs);
        free(e);
        e = next;
    }
    if (!fc->ev_head)
        uv_idle_stop(&fc->deliver);
}

/* Queues e for the idle handle. */
static void post(struct edge_fetcher *fc, struct ob_event *e)
{
    e->next = NULL;
    if (fc->ev_tail)
        fc->ev_tail->next = e;
    else
        fc->ev_head = e;
    fc->ev_tail = e;
    uv_idle_start(&fc->deliver, on_deliver);
}

/* The event op's answer goes out in: taken from the fetch, which allocated it when the
 * operation started. */
static struct ob_event *take(struct ob_event **spare, enum ob_event_kind kind)
{
    struct ob_event *e = *spare;
    *spare = NULL;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    return e;
}

static void answer_head_error(struct ob_fetch *f, int code, const char *msg)
{
    struct ob_event *e = take(&f->ev_head, EV_HEAD);
    e->head_cb = f->head_cb;
    e->ud = f->head_ud;
    e->code = code;
    e->msg = ed_strdup(msg); /* NULL (out of memory): the generic text goes instead */
    f->head_cb = NULL;
    post(f->fc, e);
}

static void answer_read(struct ob_fetch *f, int code, const char *msg, const uint8_t *data,
                        size_t len)
{
    struct ob_event *e = take(&f->ev_read, EV_DATA);
    if (len && !(e->data = malloc(len))) {
        code = ED_ENOMEM; /* the reader gets an error, not silence */
        len = 0;
        msg = "out of memory receiving a response body";
    }
    if (len)
        memcpy(e->data, data, len);
    e->len = len;
    e->data_cb = f->read_cb;
    e->ud = f->read_ud;
    e->code = code;
    e->msg = code ? ed_strdup(msg) : NULL;
    f->read_cb = NULL;
    post(f->fc, e);
}

static void answer_write(struct ob_fetch *f, int code, const char *msg)
{
    struct ob_event *e = take(&f->ev_write, EV_WRITTEN);
    e->done_cb = f->write_cb;
    e->ud = f->write_ud;
    e->code = code;
    e->msg = code ? ed_strdup(msg) : NULL;
    f->write_cb = NULL;
    post(f->fc, e);
}

/* The parsed head as the worker gets it. */
static void answer_head(struct ob_fetch *f)
{
    size_t n = f->n_rh;
    size_t arena = f->status_text.len + f->rhead.len + strlen(f->url.href) + 1;
    char *mem = malloc(arena);
    struct iso_header *hdrs = calloc(n ? n : 1, sizeof *hdrs);
    if (!mem || !hdrs) {
        free(mem);
        free(hdrs);
        answer_head_error(f, ED_ENOMEM, "out of memory receiving a response");
        return;
    }
    struct ob_event *e = take(&f->ev_head, EV_HEAD);
    e->arena = mem;
    e->hdrs = hdrs;
    char *p = e->arena;
    memcpy(p, f->status_text.data ? f->status_text.data : "", f->status_text.len);
    e->head.status_text = p;
    e->head.status_text_len = f->status_text.len;
    p += f->status_text.len;
    if (f->rhead.len)
        memcpy(p, f->rhead.data, f->rhead.len);
    for (size_t i = 0; i < n; i++)
        e->hdrs[i] =
            (struct iso_header){p + f->rh[i][0], f->rh[i][1], p + f->rh[i][2], f->rh[i][3]};
    p += f->rhead.len;
    size_t ulen = strlen(f->url.href);
    memcpy(p, f->url.href, ulen + 1);
    e->head.url = p;
    e->head.url_len = ulen;
    e->head.status = f->status;
    e->head.headers = e->hdrs;
    e->head.n_headers = n;
    e->head.redirected = f->redirected;
    e->head.has_body =
        strcmp(f->method, "HEAD") != 0 && f->status != 204 && f->status != 205 && f->status != 304;
    e->head_cb = f->head_cb;
    e->ud = f->head_ud;
    f->head_cb = NULL;
    post(f->fc, e);
}

/* ---- reading -------------------------------------------------------------------------- */

static void timer_arm(struct ob_conn *c, enum ob_timer what, uint32_t ms);

static void read_start(struct ob_conn *c);

/* Answers a waiting read() when there is something to say: bytes, the end, a failure. */
static void maybe_answer_read(struct ob_fetch *f)
{
    if (!f->read_cb)
        return;
    if (f->body_in.len) {
        size_t n = f->body_in.len < OB_CHUNK ? f->body_in.len : OB_CHUNK;
        answer_read(f, 0, NULL, (const uint8_t *)f->body_in.data, n);
        ed_buf_consume(&f->body_in, n);
        if (f->body_in.len == 0) { /* let a burst's buffer go */
            ed_buf_dispose(&f->body_in);
        }
        struct ob_conn *c = f->conn;
        if (c && !c->reading && !f->message_done && !f->err_code && f->body_in.len < OB_HIGH_WATER)
            read_start(c);
    } else if (f->err_code) {
        answer_read(f, f->err_code, f->err_msg, NULL, 0);
    } else if (f->message_done) {
        answer_read(f, 0, NULL, NULL, 0);
    }
}

static struct ob_fetch *parser_fetch(llhttp_t *p)
{
    return p->data;
}

static int on_message_begin(llhttp_t *p)
{
    struct ob_fetch *f = parser_fetch(p);
    ed_buf_clear(&f->status_text);
    ed_buf_clear(&f->rhead);
    f->n_rh = 0;
    f->rh_in_value = false;
    f->informational = false;
    return 0;
}

static int head_room(struct ob_fetch *f, size_t more)
{
    if (f->status_text.len + f->rhead.len + more > OB_MAX_HEAD) {
        llhttp_set_error_reason(&f->llh, "the response head is over 64 KiB");
        return -1;
    }
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t len)
{
    struct ob_fetch *f = parser_fetch(p);
    if (head_room(f, len) || ed_buf_append(&f->status_text, at, len))
        return -1;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct ob_fetch *f = parser_fetch(p);
    if (head_room(f, len))
        return -1;
    if (f->n_rh == 0 || f->rh_in_value) {
        if (f->n_rh == OB_MAX_HEADERS) {
            llhttp_set_error_reason(&f->llh, "the response has over 256 headers");
            return -1;
        }
        if (f->n_rh == f->cap_rh) {
            size_t cap = f->cap_rh ? 2 * f->cap_rh : 16;
            void *q = realloc(f->rh, cap * sizeof *f->rh);
            if (!q)
                return -1;
            f->rh = q;
            f->cap_rh = cap;
        }
        f->rh[f->n_rh][0] = (uint32_t)f->rhead.len;
        f->rh[f->n_rh][1] = 0;
        f->rh[f->n_rh][2] = (uint32_t)f->rhead.len;
        f->rh[f->n_rh][3] = 0;
        f->n_rh++;
        f->rh_in_value = false;
    }
    if (ed_buf_append(&f->rhead, at, len))
        return -1;
    f->rh[f->n_rh - 1][1] += (uint32_t)len;
    f->rh[f->n_rh - 1][2] = (uint32_t)f->rhead.len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct ob_fetch *f = parser_fetch(p);
    if (head_room(f, len) || f->n_rh == 0)
        return -1;
    if (!f->rh_in_value) {
        f->rh[f->n_rh - 1][2] = (uint32_t)f->rhead.len;
        f->rh_in_value = true;
    }
    if (ed_buf_append(&f->rhead, at, len))
        return -1;
    f->rh[f->n_rh - 1][3] += (uint32_t)len;
    return 0;
}

/* The value of the first response header called name, or NULL. */
static const char *rheader(struct ob_fetch *f, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < f->n_rh; i++) {
        if (f->rh[i][1] == n && strncasecmp(f->rhead.data + f->rh[i][0], name, n) == 0) {
            *len = f->rh[i][3];
            return f->rhead.data + f->rh[i][2];
        }
    }
    return NULL;
}

static int on_headers_complete(llhttp_t *p)
{
    struct ob_fetch *f = parser_fetch(p);
    int status = p->status_code;
    if (status < 200) {
        if (status == 101) {
            llhttp_set_error_reason(&f->llh, "the server switched protocols uninvited");
            return -1;
        }
        f->informational = true; /* 100 Continue, 103 Early Hints: the real answer follows */
        return 0;
    }
    f->status = status;
    size_t loc_len = 0;
    bool redirect =
        (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
        rheader(f, "location", &loc_len) && f->redirect_mode != ISO_REDIRECT_MANUAL;
    if (redirect) {
        f->redirect_pending = true; /* its body is read and dropped */
    } else {
        f->head_done = true;
        if (f->head_cb)
            answer_head(f);
    }
    /* a HEAD request's response has no body, whatever its Content-Length says */
    return strcmp(f->method, "HEAD") == 0 ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct ob_fetch *f = parser_fetch(p);
    if (f->redirect_pending)
        return 0;
    return ed_buf_append(&f->body_in, at, len) ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct ob_fetch *f = parser_fetch(p);
    if (f->informational)
        return 0; /* the final response is the next message */
    f->message_done = true;
    f->keep_alive = llhttp_should_keep_alive(p);
    return HPE_PAUSED; /* nothing after it belongs to this request */
}

static void parser_reset(struct ob_fetch *f)
{
    llhttp_settings_init(&f->settings);
    f->settings.on_message_begin = on_message_begin;
    f->settings.on_status = on_status;
    f->settings.on_header_field = on_header_field;
    f->settings.on_header_value = on_header_value;
    f->settings.on_headers_complete = on_headers_complete;
    f->settings.on_body = on_body;
    f->settings.on_message_complete = on_message_complete;
    llhttp_init(&f->llh, HTTP_RESPONSE, &f->settings);
    f->llh.data = f;
    ed_buf_clear(&f->status_text);
    ed_buf_clear(&f->rhead);
    f->n_rh = 0;
    f->rh_in_value = f->informational = f->head_done = f->message_done = false;
    f->keep_alive = f->got_bytes = f->extra = f->redirect_pending = false;
    f->status = 0;
}

static void follow_redirect(struct ob_fetch *f);

/* Plaintext from the server for f. */
static void feed(struct ob_fetch *f, const char *data, size_t len)
{
    if (len == 0)
        return;
    f->got_bytes = true;
    if (f->message_done) {
        f->extra = true; /* bytes after the response: the connection is not reused */
        return;
    }
    enum llhttp_errno e = llhttp_execute(&f->llh, data, len);
    if (e == HPE_PAUSED) {
        if (llhttp_get_error_pos(&f->llh) != data + len)
            f->extra = true;
    } else if (e != HPE_OK) {
        const char *why = llhttp_get_error_reason(&f->llh);
        fetch_fail(f, ED_EIO, "Network connection lost: the response from %s is malformed (%s)",
                   f->url.host, why ? why : llhttp_errno_name(e));
        return;
    }
    if (f->redirect_pending) {
        follow_redirect(f);
        return;
    }
    struct ob_conn *c = f->conn;
    if (c && f->message_done)
        uv_timer_stop(&c->timer);
    else if (c && f->body_in.len >= OB_HIGH_WATER && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp); /* backpressure: the worker reads slower */
        c->reading = false;
        uv_timer_stop(&c->timer);
    } else if (c) {
        timer_arm(c, T_RESPONSE, f->fc->ob->timeout_ms);
    }
    maybe_answer_read(f);
}

/* The server closed (or reset) the connection while f used it. */
static void on_peer_closed(struct ob_fetch *f, int status)
{
    struct ob_conn *c = f->conn;
    if (c && c->tls && !c->handshaken) {
        fetch_fail(f, ED_EIO, "TLS handshake with %s failed: the connection was closed",
                   f->url.host);
        return;
    }
    /* a pooled connection the server had dropped: once more on a fresh one, when the body can
     * be sent again */
    if (f->conn_reused && !f->got_bytes && !f->retried && !f->body_stream) {
        f->retried = true;
        conn_close(c);
        hop_start(f);
        return;
    }
    if (!f->message_done && status == UV_EOF) {
        enum llhttp_errno e = llhttp_finish(&f->llh); /* a body delimited by the close ends */
        (void)e;
    }
    if (f->redirect_pending && f->message_done) {
        f->extra = true;
        follow_redirect(f);
        return;
    }
    if (f->message_done) {
        f->extra = true; /* not reusable */
        if (c)
            conn_close(c);
        maybe_answer_read(f);
        return;
    }
    if (!f->head_done)
        fetch_fail(f, ED_EIO,
                   "Network connection lost: %s closed the connection before answering (%s)",
                   f->url.host, uv_err_name(status));
    else
        fetch_fail(f, ED_EIO, "Network connection lost: the response body from %s was cut short",
                   f->url.host);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ob_conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->fc->rbuf, sizeof c->fc->rbuf);
}

static void conn_flush(struct ob_conn *c);
static void conn_ready(struct ob_conn *c);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ob_conn *c = s->data;
    struct ob_fetch *f = c->f;
    if (nread == 0)
        return;
    if (!f || c->closing) { /* pooled: data or EOF on an idle connection ends it */
        conn_close(c);
        return;
    }
    if (nread < 0) {
        on_peer_closed(f, (int)nread);
        return;
    }
    if (!c->tls) {
        feed(f, buf->base, (size_t)nread);
        return;
    }
    struct ed_error err = {0};
    if (edge__tls_feed(c->tls, buf->base, (size_t)nread) != 0) {
        fetch_fail(f, ED_ENOMEM, "out of memory");
        return;
    }
    if (!c->handshaken) {
        int r = edge__tls_handshake(c->tls, &err);
        if (edge__tls_take(c->tls, &c->out) == 0)
            conn_flush(c);
        if (r < 0) {
            fetch_fail(f, r, "TLS handshake with %s failed: %s", f->url.host, ed_error_msg(&err));
            ed_error_dispose(&err);
            return;
        }
        if (r == 1)
            return;
        c->handshaken = true;
        atomic_fetch_add(&c->fc->ob->tls_handshakes, 1);
        ED_DEBUG("event=outbound_tls tenant=%s host=%s version=%s", f->tenant, f->url.host,
                 edge__tls_version(c->tls));
        conn_ready(c);
        if (c->f != f)
            return;
    }
    for (;;) {
        int n = edge__tls_read(c->tls, c->fc->plain, sizeof c->fc->plain, &err);
        if (n > 0) {
            feed(f, c->fc->plain, (size_t)n);
            if (c->f != f || f->err_code) /* redirected, failed or done with it */
                break;
            continue;
        }
        if (n == ED_ECANCELED) { /* close_notify: the server is done */
            on_peer_closed(f, UV_EOF);
        } else if (n < 0) {
            fetch_fail(f, ED_EIO, "Network connection lost: TLS: %s", ed_error_msg(&err));
        }
        break;
    }
    ed_error_dispose(&err);
    if (c->f == f && edge__tls_take(c->tls, &c->out) == 0) /* TLS 1.3 tickets, key updates */
        conn_flush(c);
}

static void read_start(struct ob_conn *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
    if (c->f && !c->f->message_done)
        timer_arm(c, T_RESPONSE, c->fc->ob->timeout_ms);
}

/* ---- writing -------------------------------------------------------------------------- */

static void on_drained(struct ob_conn *c)
{
    struct ob_fetch *f = c->f;
    if (f && f->request_sent && f->write_cb && !f->body_pending.len)
        answer_write(f, 0, NULL);
}

static void on_write(uv_write_t *req, int status)
{
    struct ob_conn *c = req->data;
    c->write_pending = false;
    ed_buf_clear(&c->writing);
    if (c->closing)
        return;
    struct ob_fetch *f = c->f;
    if (status < 0) {
        if (f && f->head_done) { /* the server answered and stopped reading: fine */
            f->extra = true;
            f->body_dropped = true;
            if (f->write_cb)
                answer_write(f, 0, NULL);
            return;
        }
        if (f)
            fetch_fail(f, ED_EIO, "Network connection lost: sending to %s failed (%s)", f->url.host,
                       uv_err_name(status));
        else
            conn_close(c);
        return;
    }
    if (c->out.len)
        conn_flush(c);
    else
        on_drained(c);
}

static void conn_flush(struct ob_conn *c)
{
    if (c->write_pending || c->out.len == 0 || c->closing || !c->connected)
        return;
    struct ed_buf t = c->writing;
    c->writing = c->out;
    c->out = t;
    ed_buf_clear(&c->out);
    uv_buf_t b = uv_buf_init(c->writing.data, (unsigned)c->writing.len);
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc) {
        if (c->f)
            fetch_fail(c->f, ED_EIO, "Network connection lost: cannot send to %s (%s)",
                       c->f->url.host, uv_err_name(rc));
        else
            conn_close(c);
        return;
    }
    c->write_pending = true;
}

/* Plaintext for the server. Returns 0 or fails f. */
static int conn_send(struct ob_conn *c, const void *data, size_t len)
{
    struct ob_fetch *f = c->f;
    if (c->tls) {
        struct ed_error err = {0};
        int rc = edge__tls_write(c->tls, data, len, &err);
        if (rc == 0)
            rc = edge__tls_take(c->tls, &c->out);
        if (rc) {
            fetch_fail(f, ED_EIO, "Network connection lost: TLS: %s", ed_error_msg(&err));
            ed_error_dispose(&err);
            return rc;
        }
        ed_error_dispose(&err);
    } else if (ed_buf_append(&c->out, data, len)) {
        fetch_fail(f, ED_ENOMEM, "out of memory");
        return ED_ENOMEM;
    }
    conn_flush(c);
    return 0;
}

/* The request head (and fixed body, and streamed bytes framed so far) onto c. */
static void send_request(struct ob_fetch *f)
{
    struct ob_conn *c = f->conn;
    struct ed_buf h;
    ed_buf_init(&h);
    bool v6 = strchr(f->url.host, ':') != NULL;
    bool default_port = f->url.port == (f->url.https ? 443 : 80);
    int rc = ed_buf_appendf(&h, "%s %s HTTP/1.1\r\nHost: %s%s%s", f->method, f->url.target,
                            v6 ? "[" : "", f->url.host, v6 ? "]" : "");
    if (rc == 0 && !default_port)
        rc = ed_buf_appendf(&h, ":%u", f->url.port);
    rc = rc ? rc : ed_buf_appends(&h, "\r\n");
    for (size_t i = 0; rc == 0 && i < f->n_hdrs; i++) {
        const struct ob_header *x = &f->hdrs[i];
        rc = ed_buf_append(&h, x->name, x->name_len) || ed_buf_append(&h, ": ", 2) ||
             ed_buf_append(&h, x->value, x->value_len) || ed_buf_append(&h, "\r\n", 2);
    }
    if (rc == 0) {
        if (f->body_stream && !f->body_dropped && f->content_length < 0)
            rc = ed_buf_appends(&h, "Transfer-Encoding: chunked\r\n");
        else if (f->body_stream && !f->body_dropped)
            rc = ed_buf_appendf(&h, "Content-Length: %lld\r\n", (long long)f->content_length);
        else if (f->body || strcmp(f->method, "POST") == 0 || strcmp(f->method, "PUT") == 0)
            rc = ed_buf_appendf(&h, "Content-Length: %zu\r\n", f->body_len); /* as Fetch */
    }
    rc = rc ? rc : ed_buf_appends(&h, "\r\n");
    if (rc == 0 && f->body_len)
        rc = ed_buf_append(&h, f->body, f->body_len);
    if (rc == 0 && f->body_pending.len)
        rc = ed_buf_append(&h, f->body_pending.data, f->body_pending.len);
    if (rc) {
        ed_buf_dispose(&h);
        fetch_fail(f, ED_ENOMEM, "out of memory");
        return;
    }
    ed_buf_dispose(&f->body_pending);
    f->request_sent = true;
    rc = conn_send(c, h.data, h.len);
    ed_buf_dispose(&h);
    if (rc == 0 && f->conn == c) {
        read_start(c);
        timer_arm(c, T_RESPONSE, f->fc->ob->timeout_ms);
    }
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_maybe_free(struct ob_conn *c)
{
    if (c->handles > 0 || c->gai_pending)
        return;
    struct edge_fetcher *fc = c->fc;
    if (c->prev)
        c->prev->next = c->next;
    else
        fc->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    edge__tls_free(c->tls);
    ed_buf_dispose(&c->out);
    ed_buf_dispose(&c->writing);
    free(c->key);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ob_conn *c = h->data;
    c->handles--;
    conn_maybe_free(c);
}

static void on_tcp_retired(struct ob_conn *c);

/* The socket closed: for good, or to try the next address on a new one. */
static void on_tcp_closed(uv_handle_t *h)
{
    struct ob_conn *c = h->data;
    c->handles--;
    if (c->retiring_tcp)
        on_tcp_retired(c);
    else
        conn_maybe_free(c);
}

static void conn_close(struct ob_conn *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    if (c->pooled) {
        c->pooled = false;
        c->fc->n_pooled--;
    }
    if (c->f && c->f->conn == c)
        c->f->conn = NULL;
    c->f = NULL;
    if (c->gai_pending)
        uv_cancel((uv_req_t *)&c->gai);
    if (!c->retiring_tcp)
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* Back to the pool once its response was read to the end; else closed. */
static void conn_release(struct ob_conn *c, bool reusable)
{
    struct edge_fetcher *fc = c->fc;
    if (!reusable || fc->closing || c->closing || fc->n_pooled >= OB_POOL_MAX) {
        conn_close(c);
        return;
    }
    size_t same = 0;
    for (struct ob_conn *o = fc->conns; o; o = o->next)
        same += o->pooled && strcmp(o->key, c->key) == 0;
    if (same >= OB_POOL_PER_KEY) {
        conn_close(c);
        return;
    }
    c->f = NULL;
    c->pooled = true;
    fc->n_pooled++;
    /* most recently pooled first: the next request takes the warmest */
    if (c->prev) {
        c->prev->next = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->prev = NULL;
        c->next = fc->conns;
        fc->conns->prev = c;
        fc->conns = c;
    }
    read_start(c); /* an idle connection's EOF or stray bytes end it */
    timer_arm(c, T_POOL, OB_POOL_IDLE_MS);
}

static struct ob_conn *pool_take(struct edge_fetcher *fc, const char *key)
{
    for (struct ob_conn *c = fc->conns; c; c = c->next) {
        if (c->pooled && !c->closing && strcmp(c->key, key) == 0) {
            c->pooled = false;
            fc->n_pooled--;
            uv_timer_stop(&c->timer);
            return c;
        }
    }
    return NULL;
}

static void on_timer(uv_timer_t *t)
{
    struct ob_conn *c = t->data;
    struct ob_fetch *f = c->f;
    const struct edge_outbound *ob = c->fc->ob;
    switch (c->timer_for) {
    case T_CONNECT:
        if (f)
            fetch_fail(f, ED_ETIMEDOUT,
                       "Network connection lost: connecting to %s:%u timed out after %u ms",
                       f->url.host, f->url.port, ob->connect_timeout_ms);
        else
            conn_close(c);
        break;
    case T_RESPONSE:
        if (f)
            fetch_fail(f, ED_ETIMEDOUT,
                       "Network connection lost: %s sent nothing for %u ms (timed out)",
                       f->url.host, ob->timeout_ms);
        else
            conn_close(c);
        break;
    default:
        conn_close(c);
        break;
    }
}

static void timer_arm(struct ob_conn *c, enum ob_timer what, uint32_t ms)
{
    if (c->closing)
        return;
    c->timer_for = what;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* Connected (and through the TLS handshake): the request goes out. */
static void conn_ready(struct ob_conn *c)
{
    uv_timer_stop(&c->timer);
    if (c->f)
        send_request(c->f);
}

static void conn_try_next(struct ob_conn *c);

static void on_connect(uv_connect_t *req, int status)
{
    struct ob_conn *c = req->data;
    c->connect_pending = false;
    if (c->closing)
        return;
    struct ob_fetch *f = c->f;
    uint64_t now = uv_now(c->fc->loop);
    c->timer_left = c->connect_deadline > now ? (uint32_t)(c->connect_deadline - now) : 1;
    if (status < 0) {
        c->last_error = status;
        if (c->next_addr < c->n_addrs) { /* the next address, on a fresh socket */
            c->retiring_tcp = true;
            uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
            return;
        }
        fetch_fail(f, ED_EIO, "Network connection lost: cannot connect to %s:%u (%s)", f->url.host,
                   f->url.port,
                   status == UV_ECONNREFUSED ? "connection refused" : uv_strerror(status));
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    read_start(c);
    timer_arm(c, T_CONNECT, c->timer_left); /* what DNS and connect left for the handshake */
    if (!f->url.https) {
        conn_ready(c);
        return;
    }
    struct ed_error err = {0};
    if (!c->fc->ob->tls) {
        fetch_fail(f, ED_EIO, "TLS is not available: %s",
                   c->fc->ob->tls_error ? c->fc->ob->tls_error : "no trusted certificates");
        return;
    }
    int rc = edge__tls_new(c->fc->ob->tls, f->url.host, f->url.host_is_ip, &c->tls, &err);
    if (rc == 0)
        rc = edge__tls_handshake(c->tls, &err);
    if (rc < 0) {
        fetch_fail(f, rc, "TLS handshake with %s failed: %s", f->url.host, ed_error_msg(&err));
        ed_error_dispose(&err);
        return;
    }
    if (edge__tls_take(c->tls, &c->out) == 0)
        conn_flush(c);
}

/* After a failed connect's socket closed: the next address on a new one. */
static void on_tcp_retired(struct ob_conn *c)
{
    c->retiring_tcp = false;
    if (c->closing) {
        conn_maybe_free(c);
        return;
    }
    uv_tcp_init(c->fc->loop, &c->tcp);
    c->tcp.data = c;
    c->handles++;
    conn_try_next(c);
}

/* Connects to the next address the rules allow; fails the request when none is left. */
static void conn_try_next(struct ob_conn *c)
{
    struct ob_fetch *f = c->f;
    struct edge_outbound *ob = c->fc->ob;
    const char *denied_why = NULL;
    char addr[INET6_ADDRSTRLEN], denied_addr[INET6_ADDRSTRLEN] = "";
    while (c->next_addr < c->n_addrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->next_addr++];
        const char *why;
        edge__addr_str(sa, addr, sizeof addr);
        if (edge__netlist_denied(&ob->net, sa, &why)) {
            atomic_fetch_add(&ob->denied, 1);
            ED_INFO("event=outbound_denied tenant=%s host=%s addr=%s port=%u why=\"%s\"", f->tenant,
                    f->url.host, addr, f->url.port, why);
            if (!denied_why) {
                denied_why = why;
                snprintf(denied_addr, sizeof denied_addr, "%s", addr);
            }
            continue;
        }
        ED_DEBUG("event=outbound_connect tenant=%s host=%s addr=%s port=%u", f->tenant, f->url.host,
                 addr, f->url.port);
        atomic_fetch_add(&ob->connects, 1);
        c->connect_req.data = c;
        int rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connect);
        if (rc == 0) {
            c->connect_pending = true;
            return;
        }
        c->last_error = rc;
    }
    if (denied_why && !c->last_error)
        fetch_fail(f, ED_EACCES,
                   "fetch() to %s is not allowed: %s (%s) is not reachable from workers on this "
                   "node",
                   f->url.host, denied_addr, denied_why);
    else
        fetch_fail(f, ED_EIO, "Network connection lost: cannot connect to %s:%u (%s)", f->url.host,
                   f->url.port,
                   c->last_error == UV_ECONNREFUSED ? "connection refused"
                   : c->last_error                  ? uv_strerror(c->last_error)
                                                    : "no address");
}

/* "localhost" or a name under it (the URL parser has lower-cased the host). */
static bool is_localhost(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--; /* the root's dot */
    return (n == 9 && strncmp(host, "localhost", 9) == 0) ||
           (n > 10 && strncmp(host + n - 10, ".localhost", 10) == 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct ob_conn *c = req->data;
    c->gai_pending = false;
    if (c->closing) {
        if (res)
            uv_freeaddrinfo(res);
        conn_maybe_free(c);
        return;
    }
    struct ob_fetch *f = c->f;
    if (status < 0) {
        fetch_fail(f, ED_EIO, "Network connection lost: DNS lookup of %s failed (%s)", f->url.host,
                   uv_strerror(status));
        return;
    }
    for (struct addrinfo *a = res; a && c->n_addrs < OB_MAX_ADDRS; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
            continue;
        struct sockaddr_storage *ss = &c->addrs[c->n_addrs++];
        memcpy(ss, a->ai_addr, a->ai_addrlen);
        if (a->ai_family == AF_INET)
            ((struct sockaddr_in *)ss)->sin_port = htons(f->url.port);
        else
            ((struct sockaddr_in6 *)ss)->sin6_port = htons(f->url.port);
    }
    uv_freeaddrinfo(res);
    conn_try_next(c);
}

/* ---- requests ----------------------------------------------------------------------------- */

static char *pool_key(struct ob_fetch *f)
{
    struct ed_buf k;
    ed_buf_init(&k);
    if (ed_buf_appendf(&k, "%s\x1f%s://%s:%u", f->tenant, f->url.https ? "https" : "http",
                       f->url.host, f->url.port)) {
        ed_buf_dispose(&k);
        return NULL;
    }
    return k.data;
}

/* One hop: a pooled connection to the origin, or a new one. */
static void hop_start(struct ob_fetch *f)
{
    struct edge_fetcher *fc = f->fc;
    char *key = pool_key(f);
    if (!key) {
        fetch_fail(f, ED_ENOMEM, "out of memory");
        return;
    }
    parser_reset(f);
    f->request_sent = false;
    f->conn_reused = false;
    if (!f->retried) {
        struct ob_conn *c = pool_take(fc, key);
        if (c) {
            free(key);
            atomic_fetch_add(&fc->ob->reused, 1);
            c->f = f;
            f->conn = c;
            f->conn_reused = true;
            send_request(f);
            return;
        }
    }
    struct ob_conn *c = calloc(1, sizeof *c);
    if (!c) {
        free(key);
        fetch_fail(f, ED_ENOMEM, "out of memory");
        return;
    }
    c->fc = fc;
    c->key = key;
    c->f = f;
    f->conn = c;
    ed_buf_init(&c->out);
    ed_buf_init(&c->writing);
    uv_tcp_init(fc->loop, &c->tcp);
    uv_timer_init(fc->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = fc->conns;
    if (fc->conns)
        fc->conns->prev = c;
    fc->conns = c;
    c->connect_deadline = uv_now(fc->loop) + fc->ob->connect_timeout_ms;
    timer_arm(c, T_CONNECT, fc->ob->connect_timeout_ms);
    if (f->url.host_is_ip) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&c->addrs[0];
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->addrs[0];
        if (inet_pton(AF_INET, f->url.host, &in4->sin_addr) == 1) {
            in4->sin_family = AF_INET;
            in4->sin_port = htons(f->url.port);
        } else {
            inet_pton(AF_INET6, f->url.host, &in6->sin6_addr);
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(f->url.port);
        }
        c->n_addrs = 1;
        conn_try_next(c);
        return;
    }
    if (is_localhost(f->url.host)) {
        /* RFC 6761 6.3: localhost names are loopback without asking DNS (whose answer for them
         * a machine may lack, or may get wrong); the rules still judge the addresses. */
        struct sockaddr_in *in4 = (struct sockaddr_in *)&c->addrs[0];
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->addrs[1];
        in4->sin_family = AF_INET;
        in4->sin_port = htons(f->url.port);
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(f->url.port);
        in6->sin6_addr = in6addr_loopback;
        c->n_addrs = 2;
        conn_try_next(c);
        return;
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    c->gai.data = c;
    int rc = uv_getaddrinfo(fc->loop, &c->gai, on_resolved, f->url.host, NULL, &hints);
    if (rc) {
        fetch_fail(f, ED_EIO, "Network connection lost: DNS lookup of %s failed (%s)", f->url.host,
                   uv_strerror(rc));
        return;
    }
    c->gai_pending = true;
}

static void fetch_fail(struct ob_fetch *f, int code, const char *fmt, ...)
{
    if (f->err_code)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    f->err_code = code;
    f->err_msg = ed_strdup(msg);
    atomic_fetch_add(&f->fc->ob->failures, 1);
    ED_INFO("event=outbound_error tenant=%s host=%s error=%s msg=\"%s\"", f->tenant, f->url.host,
            ed_errname(code), msg);
    if (f->conn)
        conn_close(f->conn);
    if (f->head_cb)
        answer_head_error(f, code, msg);
    if (f->write_cb)
        answer_write(f, code, msg);
    maybe_answer_read(f);
}

/* Drops a request header by name (case-insensitive). */
static void drop_header(struct ob_fetch *f, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < f->n_hdrs;) {
        struct ob_header *h = &f->hdrs[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            free(h->name);
            free(h->value);
            memmove(h, h + 1, (f->n_hdrs - i - 1) * sizeof *h);
            f->n_hdrs--;
        } else {
            i++;
        }
    }
}

/* The Fetch Standard's HTTP-redirect fetch, for the response whose head just came. */
static void follow_redirect(struct ob_fetch *f)
{
    int status = f->status;
    size_t len = 0;
    const char *loc = rheader(f, "location", &len);
    struct edge_url next;
    struct ed_error err = {0};
    f->redirect_pending = false;
    if (f->redirect_mode == ISO_REDIRECT_ERROR) {
        fetch_fail(f, ED_EIO, "fetch() was redirected (%d) and its redirect mode is \"error\"",
                   status);
        return;
    }
    if (f->hops >= OB_MAX_REDIRECTS) {
        fetch_fail(f, ED_EIO, "Too many redirects (more than %d): the last was to %.*s",
                   OB_MAX_REDIRECTS, (int)(len > 200 ? 200 : len), loc);
        return;
    }
    if (edge__url_resolve(&f->url, loc, len, &next, &err) != 0) {
        fetch_fail(f, ED_EIO, "fetch() was redirected to a URL it cannot follow: %s",
                   ed_error_msg(&err));
        ed_error_dispose(&err);
        return;
    }
    bool to_get =
        ((status == 301 || status == 302) && strcmp(f->method, "POST") == 0) ||
        (status == 303 && strcmp(f->method, "GET") != 0 && strcmp(f->method, "HEAD") != 0);
    if (!to_get && f->body_stream && !f->body_dropped) {
        edge__url_dispose(&next);
        fetch_fail(f, ED_EIO,
                   "fetch() cannot follow a %d redirect: the request body was a stream, which "
                   "cannot be sent again",
                   status);
        return;
    }
    if (to_get) {
        char *get = strdup("GET");
        if (!get) {
            edge__url_dispose(&next);
            fetch_fail(f, ED_ENOMEM, "out of memory");
            return;
        }
        free(f->method);
        f->method = get;
        free(f->body);
        f->body = NULL;
        f->body_len = 0;
        if (f->body_stream)
            f->body_dropped = true;
        f->body_stream = false;
        ed_buf_dispose(&f->body_pending);
        static const char *const body_headers[] = {"content-type", "content-encoding",
                                                   "content-language", "content-location"};
        for (size_t i = 0; i < sizeof body_headers / sizeof *body_headers; i++)
            drop_header(f, body_headers[i]);
    }
    if (!edge__url_same_origin(&f->url, &next))
        drop_header(f, "authorization");
    struct ob_conn *c = f->conn;
    if (c) {
        bool reusable = f->message_done && f->keep_alive && !f->extra && !f->body_stream;
        c->f = NULL;
        f->conn = NULL;
        conn_release(c, reusable);
    }
    edge__url_dispose(&f->url);
    f->url = next;
    f->redirected = true;
    f->hops++;
    f->retried = false;
    ed_buf_dispose(&f->body_in);
    hop_start(f);
}

/* ---- struct iso_fetcher ------------------------------------------------------------------- */

/* Headers a worker may not set: framing and the connection are the client's. */
static bool framing_header(const char *name, size_t n)
{
    static const char *const names[] = {
        "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding",
        "te",   "trailer",    "upgrade",    "content-length",   "expect"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0)
            return true;
    return false;
}

static bool field_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return false;
    return true;
}

static void fetch_dispose(struct ob_fetch *f)
{
    for (size_t i = 0; i < f->n_hdrs; i++) {
        free(f->hdrs[i].name);
        free(f->hdrs[i].value);
    }
    free(f->hdrs);
    free(f->tenant);
    free(f->method);
    free(f->body);
    edge__url_dispose(&f->url);
    ed_buf_dispose(&f->body_pending);
    ed_buf_dispose(&f->status_text);
    ed_buf_dispose(&f->rhead);
    ed_buf_dispose(&f->body_in);
    free(f->rh);
    free(f->err_msg);
    free(f->ev_head);
    free(f->ev_read);
    free(f->ev_write);
    free(f);
}

static void fetch_free(struct ob_fetch *f)
{
    struct edge_fetcher *fc = f->fc;
    if (f->prev)
        f->prev->next = f->next;
    else
        fc->fetches = f->next;
    if (f->next)
        f->next->prev = f->prev;
    fetch_dispose(f);
}

static int ob_start(void *ud, const struct iso_fetch_request *req, iso_fetch_head_cb cb,
                    void *cb_ud, struct iso_fetch **out, struct ed_error *err)
{
    struct edge_fetcher *fc = ud;
    if (fc->closing)
        return ed_error_set(err, ED_ECANCELED, "edged is shutting down");
    struct ob_fetch *f = calloc(1, sizeof *f);
    if (!f)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    f->fc = fc;
    int rc = edge__url_parse(req->url, req->url_len, &f->url, err);
    if (rc) {
        free(f);
        return rc;
    }
    f->tenant = ed_strdup(req->tenant ? req->tenant : "-");
    f->method = ed_strdup(req->method);
    f->hdrs = calloc(req->n_headers ? req->n_headers : 1, sizeof *f->hdrs);
    f->content_length = -1;
    bool oom = !f->tenant || !f->method || !f->hdrs;
    for (size_t i = 0; !oom && i < req->n_headers; i++) {
        const struct iso_header *h = &req->headers[i];
        if (!field_ok(h->name, h->name_len) || !field_ok(h->value, h->value_len) ||
            h->name_len == 0) {
            rc = ed_error_set(err, ED_EINVAL, "fetch: invalid header %.*s",
                              (int)(h->name_len > 64 ? 64 : h->name_len), h->name);
            break;
        }
        if (h->name_len == 14 && strncasecmp(h->name, "content-length", 14) == 0 &&
            req->body_stream && req->content_length < 0) {
            /* a stream whose length the worker declared goes out with it */
            char num[24];
            size_t n = h->value_len < sizeof num ? h->value_len : sizeof num - 1;
            memcpy(num, h->value, n);
            num[n] = '\0';
            char *end;
            long long v = strtoll(num, &end, 10);
            if (n && !*end && v >= 0)
                f->content_length = v;
        }
        if (framing_header(h->name, h->name_len))
            continue;
        struct ob_header *x = &f->hdrs[f->n_hdrs];
        x->name = ed_strndup(h->name, h->name_len);
        x->value = ed_strndup(h->value, h->value_len);
        x->name_len = h->name_len;
        x->value_len = h->value_len;
        f->n_hdrs++;
        oom = !x->name || !x->value;
    }
    if (!oom && rc == 0 && req->body_len) {
        f->body = malloc(req->body_len);
        oom = !f->body;
        if (f->body) {
            memcpy(f->body, req->body, req->body_len);
            f->body_len = req->body_len;
        }
    }
    if (!oom && rc == 0)
        oom = !(f->ev_head = calloc(1, sizeof *f->ev_head));
    if (oom || rc) {
        if (!rc)
            rc = ed_error_set(err, ED_ENOMEM, "out of memory");
        fetch_dispose(f); /* not linked yet */
        return rc;
    }
    f->body_stream = req->body_stream;
    if (req->body_stream && req->content_length >= 0)
        f->content_length = req->content_length;
    f->body_ended = !req->body_stream;
    f->redirect_mode = req->redirect;
    f->head_cb = cb;
    f->head_ud = cb_ud;
    ed_buf_init(&f->body_pending);
    f->next = fc->fetches;
    if (fc->fetches)
        fc->fetches->prev = f;
    fc->fetches = f;
    *out = (struct iso_fetch *)f;
    hop_start(f);
    return 0;
}

static int ob_write(void *ud, struct iso_fetch *handle, const uint8_t *data, size_t len,
                    iso_fetch_done_cb cb, void *cb_ud)
{
    struct ob_fetch *f = (struct ob_fetch *)handle;
    (void)ud;
    if (f->write_cb || (!f->body_stream && !f->body_dropped))
        return ED_EINVAL;
    if (!f->ev_write && !(f->ev_write = calloc(1, sizeof *f->ev_write)))
        return ED_ENOMEM;
    f->write_cb = cb;
    f->write_ud = cb_ud;
    if (f->err_code) {
        answer_write(f, f->err_code, f->err_msg);
        return 0;
    }
    if (f->message_done || (f->head_done && !f->conn))
        f->body_dropped = true;             /* the server answered and is gone: it needs no more */
    if (f->body_dropped || f->body_ended) { /* a redirect to GET, or the server answered */
        answer_write(f, 0, NULL);
        return 0;
    }
    struct ed_buf framed;
    ed_buf_init(&framed);
    int rc = 0;
    if (len == 0) {
        f->body_ended = true;
        if (f->content_length < 0)
            rc = ed_buf_appends(&framed, "0\r\n\r\n");
        else if (f->body_sent != (uint64_t)f->content_length) {
            fetch_fail(f, ED_EIO,
                       "fetch: the request body stream ended after %llu bytes, but its "
                       "Content-Length is %lld",
                       (unsigned long long)f->body_sent, (long long)f->content_length);
            return 0;
        }
    } else if (f->content_length >= 0) {
        if (f->body_sent + len > (uint64_t)f->content_length) {
            fetch_fail(f, ED_EIO,
                       "fetch: the request body stream is longer than its Content-Length (%lld)",
                       (long long)f->content_length);
            return 0;
        }
        rc = ed_buf_append(&framed, data, len);
    } else {
        rc = ed_buf_appendf(&framed, "%zx\r\n", len) || ed_buf_append(&framed, data, len) ||
             ed_buf_append(&framed, "\r\n", 2);
    }
    f->body_sent += len;
    if (rc) {
        ed_buf_dispose(&framed);
        fetch_fail(f, ED_ENOMEM, "out of memory");
        return 0;
    }
    struct ob_conn *c = f->conn;
    if (c && f->request_sent) {
        if (framed.len == 0) {
            if (!c->write_pending && !c->out.len)
                answer_write(f, 0, NULL);
        } else {
            conn_send(c, framed.data, framed.len); /* answered once the connection drained */
        }
    } else if (ed_buf_append(&f->body_pending, framed.data ? framed.data : "", framed.len)) {
        fetch_fail(f, ED_ENOMEM, "out of memory");
    }
    ed_buf_dispose(&framed);
    return 0;
}

static int ob_read(void *ud, struct iso_fetch *handle, iso_fetch_data_cb cb, void *cb_ud)
{
    struct ob_fetch *f = (struct ob_fetch *)handle;
    (void)ud;
    if (f->read_cb)
        return ED_EINVAL;
    if (!f->ev_read && !(f->ev_read = calloc(1, sizeof *f->ev_read)))
        return ED_ENOMEM;
    f->read_cb = cb;
    f->read_ud = cb_ud;
    if (!f->head_done && !f->err_code) { /* read before the head: not how the runtime works */
        answer_read(f, ED_EINVAL, "the response head has not come yet", NULL, 0);
        return 0;
    }
    maybe_answer_read(f);
    return 0;
}

static void ob_close(void *ud, struct iso_fetch *handle)
{
    struct ob_fetch *f = (struct ob_fetch *)handle;
    (void)ud;
    if (f->head_cb)
        answer_head_error(f, ED_ECANCELED, "the fetch was closed");
    if (f->read_cb)
        answer_read(f, ED_ECANCELED, "the fetch was closed", NULL, 0);
    if (f->write_cb)
        answer_write(f, ED_ECANCELED, "the fetch was closed");
    struct ob_conn *c = f->conn;
    if (c) {
        bool reusable = f->message_done && f->keep_alive && !f->extra && !f->err_code &&
                        f->body_ended && !c->write_pending && !c->out.len && !c->closing &&
                        (!c->tls || c->handshaken);
        c->f = NULL;
        f->conn = NULL;
        conn_release(c, reusable);
    }
    fetch_free(f);
}

/* ---- the client ------------------------------------------------------------------------- */

int edge__fetcher_new(uv_loop_t *loop, struct edge_outbound *ob, struct edge_fetcher **out,
                      struct ed_error *err)
{
    struct edge_fetcher *fc = calloc(1, sizeof *fc);
    if (!fc)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    fc->loop = loop;
    fc->ob = ob;
    fc->iface = (struct iso_fetcher){fc, ob_start, ob_write, ob_read, ob_close};
    uv_idle_init(loop, &fc->deliver);
    fc->deliver.data = fc;
    *out = fc;
    return 0;
}

const struct iso_fetcher *edge__fetcher_iface(struct edge_fetcher *fc)
{
    return &fc->iface;
}

void edge__fetcher_close(struct edge_fetcher *fc)
{
    if (!fc || fc->closing)
        return;
    fc->closing = true;
    for (struct ob_fetch *f = fc->fetches; f; f = f->next)
        fetch_fail(f, ED_ECANCELED, "edged is shutting down");
    for (struct ob_conn *c = fc->conns; c; c = c->next)
        conn_close(c);
}

static void on_deliver_closed(uv_handle_t *h)
{
    struct edge_fetcher *fc = h->data;
    /* requests nobody closed (an isolate freed without the shim closing them cannot happen,
     * but a leak must not either) */
    while (fc->fetches)
        fetch_free(fc->fetches);
    free(fc);
}

void edge__fetcher_free(struct edge_fetcher *fc)
{
    if (!fc)
        return;
    /* the last answers (to operations the isolates closed on their way out) free the shim's
     * records of them */
    while (fc->ev_head)
        on_deliver(&fc->deliver);
    uv_close((uv_handle_t *)&fc->deliver, on_deliver_closed);
}
