/*
 * The request path inside a shard: route the request, find or build this shard's isolate of
 * the worker, run its fetch handler under the watchdog, and turn the result into an HTTP
 * response. Failures map to responses here: a worker's own error is a 500 with a generic body
 * (the details go to the tenant's log, never to the client), a limit is a 503 that names the
 * limit, and an isolate that hit a limit is retired before the next request.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "edge/edge_int.h"

struct sink_ctx {
    struct edge_conn *c;
    bool head_only; /* HEAD, 204, 304: framing headers but no body */
    bool chunked;
    bool http10;    /* no chunked encoding: a stream is delimited by closing */
    int keep_alive; /* enum h1_conn */
    int status;
};

static int on_head(void *ud, int status, const struct iso_header *h, size_t n,
                   int64_t content_length)
{
    struct sink_ctx *s = ud;
    struct h1_out_header small[32], *hs = n ? small : NULL;
    if (n > sizeof small / sizeof *small && !(hs = malloc(n * sizeof *hs)))
        return ED_ENOMEM;
    for (size_t i = 0; i < n; i++)
        hs[i] = (struct h1_out_header){h[i].name, h[i].name_len, h[i].value, h[i].value_len};
    s->status = status;
    if (!edge_h1_status_has_body(status))
        s->head_only = true;
    s->chunked = content_length < 0 && !s->http10;
    if (content_length < 0 && s->http10) {
        content_length = H1_UNFRAMED;
        s->keep_alive = H1_CLOSE;
        s->c->close_after_write = true;
    }
    int rc = edge_h1_write_head(&s->c->out, status, hs, n, content_length, s->keep_alive);
    if (hs && hs != small)
        free(hs);
    return rc;
}

static int on_body(void *ud, const uint8_t *data, size_t len)
{
    struct sink_ctx *s = ud;
    if (s->head_only)
        return 0;
    return s->chunked ? edge_h1_write_chunk(&s->c->out, data, len)
                      : ed_buf_append(&s->c->out, data, len);
}

static void on_end(void *ud)
{
    struct sink_ctx *s = ud;
    if (s->chunked && !s->head_only)
        edge_h1_write_last_chunk(&s->c->out);
}

static void on_abort(void *ud, int code, const char *msg)
{
    struct sink_ctx *s = ud;
    (void)code;
    (void)msg;
    /* The head is gone already: the only honest signal left is a truncated body. */
    s->c->close_after_write = true;
}

static const struct iso_response_sink sink = {on_head, on_body, on_end, on_abort};

static void on_console(void *ud, const char *level, const char *msg, size_t len)
{
    const struct edge_worker *w = ud;
    edge__tenant_log(w->tenant, w->name, level, msg, len);
}

/* The 503/500 a failure becomes; the tenant's log gets the details of its own errors. */
static int failure_response(struct edge_conn *c, const struct edge_worker *w, int code,
                            const struct ed_error *err, int keep_alive)
{
    const struct edge_tenant *t = w->tenant;
    char msg[160];
    int status = 503;
    switch (code) {
    case ED_ECPULIMIT:
        snprintf(msg, sizeof msg, "Worker exceeded its CPU time limit (%u ms)", t->cpu_ms);
        break;
    case ED_EHEAPLIMIT:
        snprintf(msg, sizeof msg, "Worker exceeded its memory limit (%u MB)", t->heap_mb);
        break;
    case ED_EWALLLIMIT:
        snprintf(msg, sizeof msg, "Worker exceeded its wall time limit (%u ms)",
                 c->shard->srv->cfg->wall_ms);
        break;
    case ED_ETERMINATED:
        snprintf(msg, sizeof msg, "Worker was terminated");
        break;
    default:
        status = 500;
        snprintf(msg, sizeof msg, "Internal Server Error");
        break;
    }
    const char *detail = ed_error_msg(err);
    if (status == 503) {
        ED_WARN("event=limit tenant=%s worker=%s limit=%s", t->name, w->name, ed_errname(code));
        edge__tenant_log(t, w->name, "error", msg, strlen(msg));
    } else {
        edge__tenant_log(t, w->name, "error", detail, strlen(detail));
    }
    edge_h1_write_simple(&c->out, status, msg, keep_alive);
    return status;
}

/* This shard's isolate of w, built on first use; its top-level code runs under the same
 * budgets as a request. */
static int get_instance(struct edge_shard *sh, const struct edge_worker *w, uint64_t cpu_budget,
                        uint64_t wall_budget, struct iso_worker **out, struct ed_error *err)
{
    if (sh->instances[w->index]) {
        *out = sh->instances[w->index];
        return 0;
    }
    const struct edge_tenant *t = w->tenant;
    struct iso_module mod = {w->module_name, w->source, w->source_len};
    struct iso_worker_config wc = {
        .tenant = t->name,
        .worker = w->name,
        .modules = &mod,
        .n_modules = 1,
        .main_module = w->module_name,
        .vars = t->vars,
        .n_vars = t->n_vars,
        .heap_limit_bytes = (size_t)t->heap_mb << 20,
        .log = on_console,
        .log_ud = (void *)w,
        .watch = sh->watch,
        .cpu_budget_ns = cpu_budget,
        .wall_budget_ns = wall_budget,
    };
    uint64_t t0 = ed_now_ns();
    int rc = iso_worker_new(&wc, out, err);
    if (rc == 0) {
        sh->instances[w->index] = *out;
        ED_DEBUG("event=isolate_created shard=%d tenant=%s worker=%s us=%llu", sh->id, t->name,
                 w->name, (unsigned long long)((ed_now_ns() - t0) / 1000));
    }
    return rc;
}

static void retire(struct edge_shard *sh, const struct edge_worker *w)
{
    ED_INFO("event=isolate_retired shard=%d tenant=%s worker=%s", sh->id, w->tenant->name, w->name);
    iso_worker_free(sh->instances[w->index]);
    sh->instances[w->index] = NULL;
}

/* The absolute URL the worker sees. Returns 0 or an HTTP status to fail with. */
static int build_url(const struct h1_request *req, const char *host, size_t host_len,
                     struct ed_buf *url)
{
    const char *target = edge_h1_url(req);
    if (req->url_len >= 7 && strncasecmp(target, "http://", 7) == 0)
        return ed_buf_append(url, target, req->url_len) ? 500 : 0;
    if (req->url_len == 0 || target[0] != '/')
        return 400;
    for (size_t i = 0; i < host_len; i++)
        if (strchr("/?#@ \\", host[i]) || (unsigned char)host[i] < 0x21)
            return 400;
    if (ed_buf_appends(url, "http://") || ed_buf_append(url, host, host_len) ||
        ed_buf_append(url, target, req->url_len))
        return 500;
    return 0;
}

void edge__dispatch(struct edge_conn *c, const struct h1_request *req)
{
    struct edge_shard *sh = c->shard;
    const struct edge_config *cfg = sh->srv->cfg;
    uint64_t t0 = ed_now_ns(), cpu_ns = 0;
    size_t out0 = c->out.len; /* the response is appended whole within this call */
    bool http10 = req->http_major == 1 && req->http_minor == 0;
    int keep_alive = !req->keep_alive || sh->draining ? H1_CLOSE
                     : http10                         ? H1_KEEP_ALIVE_10
                                                      : H1_KEEP_ALIVE;
    struct sink_ctx s = {.c = c,
                         .keep_alive = keep_alive,
                         .http10 = http10,
                         .head_only = strcmp(req->method, "HEAD") == 0};
    struct ed_buf url;
    struct ed_error err = {0};
    const char *tenant = "-", *worker = "-";
    ed_buf_init(&url);

    size_t host_len = 0;
    const char *host = edge_h1_header(req, "host", &host_len);
    if (!host && (req->http_major > 1 || req->http_minor >= 1)) {
        s.status = 400;
        edge_h1_write_simple(&c->out, 400, "Missing Host header", keep_alive);
        goto out;
    }
    if (!host) {
        host = "localhost";
        host_len = 9;
    }
    int bad = build_url(req, host, host_len, &url);
    if (bad) {
        s.status = bad;
        edge_h1_write_simple(&c->out, bad, edge_h1_reason(bad), keep_alive);
        goto out;
    }
    const struct rt_route *route =
        rt_match(sh->srv->site->routes, host, host_len, edge_h1_url(req), req->url_len);
    if (!route) {
        s.status = 404;
        edge_h1_write_simple(&c->out, 404, "No worker is routed for this host and path",
                             keep_alive);
        goto out;
    }
    const struct edge_worker *w = route->target;
    tenant = w->tenant->name;
    worker = w->name;

    struct iso_worker *inst = NULL;
    uint64_t cpu_budget = (uint64_t)w->tenant->cpu_ms * 1000000u;
    uint64_t wall_budget = (uint64_t)cfg->wall_ms * 1000000u;
    uint64_t cpu0 = ed_thread_cpu_ns();
    int rc = get_instance(sh, w, cpu_budget, wall_budget, &inst, &err);
    cpu_ns += ed_thread_cpu_ns() - cpu0;
    if (rc == 0) {
        struct iso_header hs_small[64], *hs = hs_small;
        if (req->n_headers > 64 && !(hs = malloc(req->n_headers * sizeof *hs))) {
            rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < req->n_headers; i++)
                hs[i] = (struct iso_header){edge_h1_hname(req, i), req->headers[i].name_len,
                                            edge_h1_hvalue(req, i), req->headers[i].value_len};
            struct iso_request ir = {
                .method = req->method,
                .url = url.data,
                .url_len = url.len,
                .headers = hs,
                .n_headers = req->n_headers,
                .body = req->body.len ? (const uint8_t *)req->body.data : NULL,
                .body_len = req->body.len,
            };
            iso_watch_arm(sh->watch, inst, cpu_budget, wall_budget);
            rc = iso_worker_fetch(inst, &ir, &sink, &s, &err);
            cpu_ns += iso_watch_disarm(sh->watch);
            if (hs != hs_small)
                free(hs);
        }
    }
    if (rc != 0)
        s.status = failure_response(c, w, rc, &err, keep_alive);
    if (sh->instances[w->index] && iso_worker_retired(sh->instances[w->index]))
        retire(sh, w);

out:
    if (s.keep_alive == H1_CLOSE || s.status == 0)
        c->close_after_write = true;
    edge__access_log(sh, tenant, worker, req, s.status, c->out.len - out0, ed_now_ns() - t0,
                     cpu_ns);
    ed_buf_dispose(&url);
    ed_error_dispose(&err);
}

void edge__access_log(struct edge_shard *sh, const char *tenant, const char *worker,
                      const struct h1_request *req, int status, uint64_t bytes, uint64_t wall_ns,
                      uint64_t cpu_ns)
{
    if (ed_log_level < ED_LOG_INFO)
        return;
    struct ed_buf *b = &sh->access;
    char ts[ED_TS_LEN];
    ed_buf_appendf(b, "ts=%s level=info event=request shard=%d tenant=%s worker=%s method=%s path=",
                   ed_log_ts(ts), sh->id, tenant, worker, req ? req->method : "-");
    if (req)
        ed_buf_append_logvalue(b, edge_h1_url(req), req->url_len);
    else
        ed_buf_append(b, "-", 1);
    ed_buf_appendf(b, " status=%d bytes=%llu wall_us=%llu cpu_us=%llu\n", status,
                   (unsigned long long)bytes, (unsigned long long)(wall_ns / 1000u),
                   (unsigned long long)(cpu_ns / 1000u));
    if (b->len > 65536) {
        ssize_t n = write(sh->srv->access_fd, b->data, b->len);
        (void)n;
        ed_buf_clear(b);
    }
}
