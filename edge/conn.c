/*
 * One client connection: reads feed the HTTP/1.1 parser, each complete request is answered
 * in order (pipelining), responses are batched into one write per read, and a single timer
 * enforces the header, body and idle timeouts. A connection that must close sends its last
 * response, then shuts down its side and discards input briefly (lingering close) so the
 * client reads the response instead of a reset.
 */
#include <stdlib.h>
#include <string.h>

#include "deploy/deploy.h"
#include "edge/edge_int.h"

#define MAX_PENDING_OUT (1u << 20) /* stop reading while this much response is unsent */
#define LINGER_MS 2000
/* A request body larger than this (or chunked) is streamed to the worker as it arrives, and
 * reading pauses while more than BODY_BUFFER of it waits for the worker to read it. */
#define STREAM_BODY_OVER (64u << 10)
#define BODY_BUFFER (256u << 10)

static void on_close(uv_handle_t *h)
{
    struct edge_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    struct edge_shard *sh = c->shard;
    if (c->dirty) {
        struct edge_conn **pp = &sh->dirty;
        while (*pp && *pp != c)
            pp = &(*pp)->next_dirty;
        if (*pp)
            *pp = c->next_dirty;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        sh->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    sh->n_conns--;
    if (c->ex) /* its worker is still at it: the exchange outlives us, output dropped */
        edge__exchange_detach(c->ex);
    edge_h1_dispose(&c->parser);
    ed_buf_dispose(&c->pending_in);
    ed_buf_dispose(&c->out);
    ed_buf_dispose(&c->writing);
    free(c);
    edge__shard_conn_gone(sh);
}

void edge__conn_close(struct edge_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

bool edge__conn_idle(const struct edge_conn *c)
{
    return !c->ex && !c->parser.in_message && !c->write_pending && c->out.len == 0;
}

static void arm_timer(struct edge_conn *c);
static void flush(struct edge_conn *c);
static void start_reading(struct edge_conn *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);

static void on_linger_timeout(uv_timer_t *t)
{
    edge__conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct edge_conn *c = req->data;
    free(req);
    if (status < 0 || c->closing)
        edge__conn_close(c);
}

/* All output is out: send FIN, keep reading (and discarding) until the client closes. */
static void start_linger(struct edge_conn *c)
{
    if (c->lingering || c->closing)
        return;
    c->lingering = true;
    uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        edge__conn_close(c);
        return;
    }
    req->data = c;
    start_reading(c); /* to see the client's EOF; on_read discards what arrives meanwhile */
}

static void start_reading(struct edge_conn *c)
{
    if (!c->reading && !c->closing && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
}

static void stop_reading(struct edge_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* Whether c should read more of a streamed request body for its exchange. */
static bool want_body(const struct edge_conn *c)
{
    return c->ex && !c->closing && !c->close_after_write && !c->lingering &&
           edge_h1_body_streaming(&c->parser) && c->parser.req.body.len <= BODY_BUFFER &&
           c->out.len + c->writing.len <= MAX_PENDING_OUT;
}

void edge__conn_read_body(struct edge_conn *c)
{
    if (want_body(c))
        start_reading(c);
}

static void after_output(struct edge_conn *c)
{
    if (c->closing || c->write_pending || c->out.len || c->ex)
        return;
    if (c->close_after_write) {
        start_linger(c);
        return;
    }
    if (c->shard->draining && edge__conn_idle(c)) {
        edge__conn_close(c);
        return;
    }
    start_reading(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct edge_conn *c = req->data;
    c->write_pending = false;
    ed_buf_clear(&c->writing);
    if (status < 0) {
        edge__conn_close(c);
        return;
    }
    if (c->ex && c->ex->head_sent)
        c->ex->progress_ns = ed_now_ns(); /* the client is reading: the stream moves */
    flush(c);
}

static void flush(struct edge_conn *c)
{
    if (c->closing)
        return;
    if (c->out.len && !c->write_pending) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n > 0) {
            c->out_base += (uint64_t)n;
            ed_buf_consume(&c->out, (size_t)n);
        } else if (n < 0 && n != UV_EAGAIN) {
            edge__conn_close(c);
            return;
        }
        if (c->out.len) {
            /* swap buffers: out keeps collecting while writing is in flight */
            struct ed_buf tmp = c->writing;
            c->writing = c->out;
            c->out = tmp;
            c->out_base += c->writing.len;
            ed_buf_clear(&c->out);
            b = uv_buf_init(c->writing.data, (unsigned)c->writing.len);
            c->wreq.data = c;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
                edge__conn_close(c);
                return;
            }
            c->write_pending = true;
        }
    }
    if (c->out.len + c->writing.len > MAX_PENDING_OUT)
        stop_reading(c);
    else if (want_body(c))
        start_reading(c);
    after_output(c);
    if (!c->closing && !c->lingering)
        arm_timer(c);
    /* Last: a paused response stream that may now read on can finish the exchange. */
    if (!c->closing)
        edge__conn_resume(c);
}

static void fail(struct edge_conn *c, int status, const char *msg)
{
    size_t out0 = c->out.len;
    edge_h1_write_simple(&c->out, status, msg, false);
    c->close_after_write = true;
    ED_DEBUG("event=bad_request shard=%d status=%d reason=\"%s\"", c->shard->id, status, msg);
    edge__access_log(c->shard, "-", "-", NULL, status, c->out.len - out0, 0, 0);
}

static uint64_t body_deadline(const struct edge_conn *c)
{
    return c->headers_done_ns + (uint64_t)c->shard->srv->cfg->body_timeout_ms * 1000000u;
}

/* When c's exchange times out: the wall-time limit from its start or, once its response
 * head is out, from its last progress. */
static uint64_t exchange_deadline(const struct edge_conn *c)
{
    const struct edge_exchange *ex = c->ex;
    return (ex->head_sent ? ex->progress_ns : ex->t0) +
           (uint64_t)c->shard->srv->cfg->wall_ms * 1000000u;
}

/* Whether the streamed request body's timeout is what c's timer waits for. */
static bool body_timer(const struct edge_conn *c)
{
    return c->ex && edge_h1_body_streaming(&c->parser) && !c->ex->body_error &&
           body_deadline(c) <= exchange_deadline(c);
}

static void on_timeout(uv_timer_t *t)
{
    struct edge_conn *c = t->data;
    if (body_timer(c)) {
        /* The streamed request body did not arrive in time: 408 unless the worker answered
         * already, its reads fail, and the connection closes. */
        c->close_after_write = true;
        stop_reading(c);
        edge__exchange_body_failed(c->ex, ED_ETIMEDOUT, 408, "Request body timeout");
        flush(c);
        return;
    }
    if (c->ex) {
        edge__exchange_timeout(c->ex);
        return;
    }
    if (c->write_pending || !c->parser.in_message) {
        edge__conn_close(c); /* idle keep-alive, or a client that stopped reading */
        return;
    }
    stop_reading(c);
    fail(c, 408, c->parser.headers_done ? "Request body timeout" : "Request header timeout");
    flush(c);
}

/* One timer per connection; its deadline depends on what the connection is waiting for. */
static void arm_timer(struct edge_conn *c)
{
    const struct edge_config *cfg = c->shard->srv->cfg;
    uint64_t now = ed_now_ns(), deadline;
    if (c->ex) {
        /* a worker awaiting something: the request's wall-time limit (the shim fails a request
         * that only waits at its wall budget by itself, the isolate staying; this is the
         * backstop, a little later, that retires the isolate); a streamed response that makes
         * no progress (no chunk, no write) for as long; a streamed request body that does not
         * arrive within the body timeout */
        deadline = body_timer(c)
                       ? body_deadline(c)
                       : exchange_deadline(c) + (c->ex->head_sent ? 0 : EDGE_WALL_GRACE_NS);
    } else if (c->parser.in_message && !c->write_pending) {
        if (!c->request_start_ns)
            c->request_start_ns = now;
        if (c->parser.headers_done && !c->headers_done_ns)
            c->headers_done_ns = now;
        /* measured from the request's first byte: trickling bytes buys no time (slowloris) */
        deadline = c->parser.headers_done
                       ? c->headers_done_ns + (uint64_t)cfg->body_timeout_ms * 1000000u
                       : c->request_start_ns + (uint64_t)cfg->header_timeout_ms * 1000000u;
    } else {
        deadline = now + (uint64_t)cfg->idle_timeout_ms * 1000000u;
    }
    uint64_t ms = deadline > now ? (deadline - now + 999999u) / 1000000u : 0;
    uv_timer_start(&c->timer, on_timeout, ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct edge_conn *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->shard->read_buf, sizeof c->shard->read_buf);
}

/* Feeds input to the parser and answers each complete request. Stops at a request whose
 * answer is still being made, keeping the rest of the input for when it is done. */
static void process(struct edge_conn *c, const char *data, size_t len)
{
    size_t off = 0;
    c->in_process = true;
    while (off < len && !c->close_after_write && !c->closing) {
        if (c->ex && !edge_h1_body_streaming(&c->parser)) {
            /* answered later: hold the pipelined rest, stop reading meanwhile */
            if (ed_buf_append(&c->pending_in, data + off, len - off) != 0)
                c->close_after_write = true;
            off = len;
            stop_reading(c);
            break;
        }
        size_t used = 0;
        enum h1_event ev = edge_h1_feed(&c->parser, data + off, len - off, &used);
        off += used;
        if (ev == H1_ERROR) {
            if (c->ex) { /* a streamed body went wrong: its worker's reads fail, we close */
                int status = c->parser.error_status;
                c->close_after_write = true;
                stop_reading(c);
                edge__exchange_body_failed(c->ex, status == 413 ? ED_ETOOBIG : ED_EHTTP, status,
                                           c->parser.error_reason);
                break;
            }
            fail(c, c->parser.error_status, c->parser.error_reason);
            break;
        }
        if (ev == H1_HEADERS) { /* a large or chunked body: the worker starts now */
            if (c->parser.req.expect_continue && !c->continue_sent) {
                ed_buf_appends(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                c->continue_sent = true;
            }
            c->headers_done_ns = ed_now_ns();
            edge__dispatch(c, &c->parser.req);
            continue;
        }
        if (ev == H1_NEED_MORE) {
            if (c->ex && edge_h1_body_streaming(&c->parser)) {
                if (c->parser.req.body.len > BODY_BUFFER)
                    stop_reading(c); /* the worker reads on: edge__conn_read_body */
                edge__exchange_body_arrived(c->ex);
            }
            break;
        }
        if (c->parser.req.streamed) { /* the end of a body whose request is being answered */
            if (!c->ex) {
                c->close_after_write = true;
                break;
            }
            edge__exchange_body_arrived(c->ex);
            continue;
        }
        edge__dispatch(c, &c->parser.req);
    }
    if (c->parser.headers_done && c->parser.req.expect_continue && !c->continue_sent &&
        !c->close_after_write && !c->ex) {
        ed_buf_appends(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        c->continue_sent = true;
    }
    c->in_process = false;
}

void edge__conn_answered(struct edge_conn *c)
{
    if (edge_h1_body_streaming(&c->parser)) {
        /* answered before its body arrived: the rest is not read, the connection closes */
        c->close_after_write = true;
        stop_reading(c);
        if (!c->in_process && !c->closing)
            flush(c);
        return;
    }
    edge_h1_next(&c->parser);
    c->request_start_ns = c->headers_done_ns = 0;
    c->continue_sent = false;
    if (c->in_process || c->closing)
        return; /* process() goes on with the input it holds */
    /* answered on a later turn: go on with the input that waited for it */
    struct ed_buf held = c->pending_in;
    ed_buf_init(&c->pending_in);
    if (held.len && !c->close_after_write)
        process(c, held.data, held.len);
    ed_buf_dispose(&held);
    if (c->close_after_write)
        stop_reading(c);
    flush(c);
}

void edge__conn_flush(struct edge_conn *c)
{
    flush(c);
}

static void on_write_dirty(uv_idle_t *h)
{
    edge__shard_write_dirty(h->data);
}

void edge__conn_mark_dirty(struct edge_conn *c)
{
    struct edge_shard *sh = c->shard;
    if (c->dirty || c->closing)
        return;
    c->dirty = true;
    c->next_dirty = sh->dirty;
    sh->dirty = c;
    if (!uv_is_active((uv_handle_t *)&sh->writer) && !uv_is_closing((uv_handle_t *)&sh->writer))
        uv_idle_start(&sh->writer, on_write_dirty);
}

/* One write (and at most one resumed read of the worker's stream) per dirty connection per
 * loop turn: a fast stream cannot starve the shard's other connections. */
void edge__shard_write_dirty(struct edge_shard *sh)
{
    struct edge_conn *list = sh->dirty;
    sh->dirty = NULL;
    uv_idle_stop(&sh->writer);
    while (list) {
        struct edge_conn *c = list;
        list = c->next_dirty;
        c->dirty = false;
        c->next_dirty = NULL;
        flush(c);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct edge_conn *c = s->data;
    if (nread < 0) {
        /* EOF or error: a half-received request has nobody to answer to */
        edge__conn_close(c);
        return;
    }
    if (c->lingering || nread == 0)
        return;
    process(c, buf->base, (size_t)nread);
    if (c->close_after_write)
        stop_reading(c);
    flush(c);
}

void edge__conn_accept(struct edge_shard *sh, uv_stream_t *listener, bool admin)
{
    struct edge_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->shard = sh;
    /* the admin listener takes a whole deploy upload, whatever the workers' body limit */
    uint64_t max_body = sh->srv->cfg->max_body_bytes;
    if (admin && max_body < DP_MAX_UPLOAD_BYTES)
        max_body = DP_MAX_UPLOAD_BYTES;
    struct h1_limits lim = {.max_header_bytes = sh->srv->cfg->max_header_bytes,
                            .max_body_bytes = max_body,
                            .stream_body_over = admin ? 0 : STREAM_BODY_OVER};
    if (edge_h1_init(&c->parser, &lim) != 0) {
        free(c);
        return;
    }
    ed_buf_init(&c->out);
    ed_buf_init(&c->writing);
    uv_tcp_init(&sh->loop, &c->tcp);
    uv_timer_init(&sh->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->next = sh->conns;
    if (sh->conns)
        sh->conns->prev = c;
    sh->conns = c;
    sh->n_conns++;
    c->admin = admin;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        edge__conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    start_reading(c);
    arm_timer(c);
}
