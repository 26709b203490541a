/*
 * The request path inside a shard: route the request, find or build this shard's isolate of
 * the worker (with its loader context), start its fetch handler, and turn what the sink
 * receives into an HTTP response — at once, or on a later turn of the loop when the worker
 * awaits a child. Failures map to responses here: a worker's own error is a 500 with a
 * generic body (the details go to the tenant's log, never to the client), a limit is a 503
 * that names the limit, and an isolate that hit a limit is retired before the next request.
 * The response goes first; the exchange itself lives on (without its connection) while the
 * worker's ctx.waitUntil() work runs, and is counted and freed when the shim says that is over.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "edge/edge_int.h"

/* ---- the sink: the worker's response into the connection --------------------------------- */

/* A streamed response stops being read from the worker while the connection holds more than
 * STREAM_HIGH bytes it has not handed to the kernel, and reads on once that fell to STREAM_LOW:
 * the node holds at most about STREAM_HIGH plus one chunk per streaming connection. */
#define STREAM_HIGH (256u << 10)
#define STREAM_LOW (64u << 10)

static struct ed_buf *out_of(struct edge_exchange *ex)
{
    return ex->abandoned || !ex->c ? NULL : &ex->c->out;
}

static int on_head(void *ud, int status, const struct iso_header *h, size_t n,
                   int64_t content_length)
{
    struct edge_exchange *ex = ud;
    struct ed_buf *out = out_of(ex);
    if (!out)
        return ED_ECANCELED; /* nobody to send it to: the worker's stream is cancelled */
    ex->head_sent = true;
    ex->progress_ns = ed_now_ns();
    /* The rest of a streamed request body is not waited for once the answer is done. */
    if (edge_h1_body_streaming(&ex->c->parser))
        ex->keep_alive = H1_CLOSE;
    struct h1_out_header small[32], *hs = n ? small : NULL;
    if (n > sizeof small / sizeof *small && !(hs = malloc(n * sizeof *hs)))
        return ED_ENOMEM;
    for (size_t i = 0; i < n; i++)
        hs[i] = (struct h1_out_header){h[i].name, h[i].name_len, h[i].value, h[i].value_len};
    ex->status = status;
    if (!edge_h1_status_has_body(status))
        ex->head_only = true;
    ex->chunked = content_length < 0 && !ex->http10;
    if (content_length < 0 && ex->http10) { /* HTTP/1.0 cannot read chunked: close-delimit */
        content_length = H1_UNFRAMED;
        ex->keep_alive = H1_CLOSE;
    }
    int rc = edge_h1_write_head(out, status, hs, n, content_length, ex->keep_alive);
    if (hs && hs != small)
        free(hs);
    return rc;
}

static int on_body(void *ud, const uint8_t *data, size_t len)
{
    struct edge_exchange *ex = ud;
    struct ed_buf *out = out_of(ex);
    if (!out)
        return ED_ECANCELED; /* the client is gone: stop the worker's stream */
    if (ex->head_only) {
        /* HEAD, 204, 304: none of the body is sent, so none of it is produced either */
        ex->body_skipped = true;
        return ED_ECANCELED;
    }
    int rc = ex->chunked ? edge_h1_write_chunk(out, data, len) : ed_buf_append(out, data, len);
    if (rc)
        return rc;
    struct edge_conn *c = ex->c;
    ex->progress_ns = ed_now_ns();
    if (!c->in_process)
        edge__conn_mark_dirty(c); /* a body produced later leaves as it comes */
    if (c->out.len + c->writing.len > STREAM_HIGH) {
        ex->paused = true; /* edge__conn_resume reads on once the client took enough */
        return ISO_SINK_PAUSE;
    }
    return 0;
}

void edge__conn_resume(struct edge_conn *c)
{
    struct edge_exchange *ex = c->ex;
    if (!ex || !ex->paused || ex->abandoned || c->out.len + c->writing.len > STREAM_LOW)
        return;
    ex->paused = false;
    ex->progress_ns = ed_now_ns();
    iso_worker_fetch_resume(ex->inst->w, ex); /* may finish ex, even free it */
}

/* ---- a streamed request body: what the worker's request.body reads ----------------------- */

static int body_peek(void *ud, const uint8_t **data, size_t *len)
{
    struct edge_exchange *ex = ud;
    if (ex->body_error)
        return ex->body_error;
    if (!ex->c)
        return ED_ECANCELED; /* the client went away before the body was read */
    const struct h1_parser *p = &ex->c->parser;
    *data = (const uint8_t *)p->req.body.data;
    *len = p->req.body.len;
    if (!edge_h1_body_streaming(p))
        return ISO_BODY_END;
    if (*len == 0)
        ex->body_wanted = true;
    return 0;
}

static void body_consume(void *ud, size_t n)
{
    struct edge_exchange *ex = ud;
    if (!ex->c)
        return;
    edge_h1_body_consume(&ex->c->parser, n);
    edge__conn_read_body(ex->c); /* reading may start again: the body buffer has room */
}

static const struct iso_body_source body_source = {body_peek, body_consume};

void edge__exchange_body_arrived(struct edge_exchange *ex)
{
    if (!ex->body_wanted || !ex->inst)
        return;
    ex->body_wanted = false;
    iso_worker_body_ready(ex->inst->w, ex);
}

void edge__exchange_body_failed(struct edge_exchange *ex, int code, int status, const char *reason)
{
    if (!ex->body_error)
        ex->body_error = code;
    ex->keep_alive = H1_CLOSE;
    struct edge_conn *c = ex->c;
    if (status && c && !ex->abandoned && !ex->head_sent) {
        /* The client's fault, and the worker has not answered yet: the node answers as it
         * would have before the body was streamed (400, 408, 413), the worker's answer is
         * dropped. */
        ex->status = status;
        edge_h1_write_simple(&c->out, status, reason, H1_CLOSE);
        edge__access_log(ex->shard, ex->worker->tenant->name, ex->worker->name, ex->req, status,
                         edge__conn_out_pos(c) - ex->out0, ed_now_ns() - ex->t0, ex->cpu_ns);
        c->close_after_write = true;
        c->ex = NULL;
        ex->c = NULL;
        ex->abandoned = true;
    }
    edge__exchange_body_arrived(ex); /* may free ex */
}

static void respond_done(struct edge_exchange *ex);
static void exchange_done(struct edge_exchange *ex);

static void on_end(void *ud)
{
    struct edge_exchange *ex = ud;
    struct ed_buf *out = out_of(ex);
    if (out && ex->chunked && !ex->head_only)
        edge_h1_write_last_chunk(out);
    respond_done(ex);
}

static void on_abort(void *ud, int code, const char *msg)
{
    struct edge_exchange *ex = ud;
    if (ex->body_skipped && code == ED_ECANCELED) { /* on_body stopped it: a whole answer */
        respond_done(ex);
        return;
    }
    if (ex->c && !ex->abandoned) {
        /* The head is gone already: the only honest signal left is a truncated body. */
        ex->keep_alive = H1_CLOSE;
        edge__tenant_log(ex->inst->worker->tenant, ex->inst->worker->name, "error", msg,
                         strlen(msg));
    }
    respond_done(ex);
}

/* The 503/500 a failure becomes; the tenant's log gets the details of its own errors. */
static int failure_response(struct edge_exchange *ex, const struct edge_worker *w, int code,
                            const char *detail)
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
                 ex->c ? ex->c->shard->srv->cfg->wall_ms : 0);
        break;
    case ED_ETERMINATED:
        snprintf(msg, sizeof msg, "Worker was terminated");
        break;
    default:
        status = 500;
        snprintf(msg, sizeof msg, "Internal Server Error");
        break;
    }
    if (status == 503) {
        ED_WARN("event=limit tenant=%s worker=%s limit=%s", t->name, w->name, ed_errname(code));
        edge__tenant_log(t, w->name, "error", msg, strlen(msg));
    } else {
        edge__tenant_log(t, w->name, "error", detail, strlen(detail));
    }
    ex->status = status;
    struct ed_buf *out = out_of(ex);
    if (out)
        edge_h1_write_simple(out, status, msg, ex->keep_alive);
    return status;
}

static void on_fail(void *ud, int code, const char *msg)
{
    struct edge_exchange *ex = ud;
    if (!ex->abandoned)
        failure_response(ex, ex->inst->worker, code, msg);
    respond_done(ex);
}

/* The invocation is over, ctx.waitUntil() work included: code says why that work was cut
 * short, if it was (the tenant's log gets it; a shutdown is no news to the tenant). */
static void on_done(void *ud, int code, const char *msg)
{
    struct edge_exchange *ex = ud;
    if (code && code != ED_ECANCELED && ex->worker) {
        char line[512];
        int n = snprintf(line, sizeof line, "ctx.waitUntil() work was cut short: %s", msg);
        edge__tenant_log(ex->worker->tenant, ex->worker->name, "warn", line,
                         n < 0                     ? 0
                         : (size_t)n < sizeof line ? (size_t)n
                                                   : sizeof line - 1);
    }
    exchange_done(ex);
}

static const struct iso_response_sink sink = {
    .on_head = on_head,
    .on_body = on_body,
    .on_end = on_end,
    .on_abort = on_abort,
    .on_fail = on_fail,
    .on_done = on_done,
};

/* ---- instances ------------------------------------------------------------------------------- */

static void on_console(void *ud, const char *level, const char *msg, size_t len)
{
    const struct edge_worker *w = ud;
    edge__tenant_log(w->tenant, w->name, level, msg, len);
}

static void on_child_console(void *ud, const char *worker, const char *level, const char *msg,
                             size_t len)
{
    const struct edge_worker *w = ud;
    edge__tenant_log(w->tenant, worker, level, msg, len);
}

/* ---- the shard's instance map: its live isolate of each worker, by the worker's address ---- */

static size_t inst_bucket(const struct edge_shard *sh, const struct edge_worker *w)
{
    return (size_t)(((uintptr_t)w >> 4) * 0x9e3779b97f4a7c15ull) & (sh->inst_buckets - 1);
}

static struct edge_instance *inst_find(const struct edge_shard *sh, const struct edge_worker *w)
{
    if (!sh->inst_buckets)
        return NULL;
    for (struct edge_instance *i = sh->inst_map[inst_bucket(sh, w)]; i; i = i->next_live)
        if (i->worker == w)
            return i;
    return NULL;
}

static int inst_insert(struct edge_shard *sh, struct edge_instance *inst)
{
    if (sh->n_inst + 1 > sh->inst_buckets) {
        size_t n = sh->inst_buckets ? sh->inst_buckets * 2 : 16;
        struct edge_instance **map = calloc(n, sizeof *map);
        if (!map)
            return ED_ENOMEM;
        size_t old_n = sh->inst_buckets;
        struct edge_instance **old = sh->inst_map;
        sh->inst_map = map;
        sh->inst_buckets = n;
        for (size_t b = 0; b < old_n; b++) {
            for (struct edge_instance *i = old[b], *next; i; i = next) {
                next = i->next_live;
                size_t k = inst_bucket(sh, i->worker);
                i->next_live = map[k];
                map[k] = i;
            }
        }
        free(old);
    }
    size_t k = inst_bucket(sh, inst->worker);
    inst->next_live = sh->inst_map[k];
    sh->inst_map[k] = inst;
    sh->n_inst++;
    return 0;
}

static void inst_remove(struct edge_shard *sh, struct edge_instance *inst)
{
    if (!sh->inst_buckets)
        return;
    for (struct edge_instance **pp = &sh->inst_map[inst_bucket(sh, inst->worker)]; *pp;
         pp = &(*pp)->next_live) {
        if (*pp == inst) {
            *pp = inst->next_live;
            inst->next_live = NULL;
            sh->n_inst--;
            return;
        }
    }
}

static void to_graveyard(struct edge_shard *sh, struct edge_instance *inst)
{
    inst->retiring = true;
    inst_remove(sh, inst);
    inst->next_grave = sh->graveyard;
    sh->graveyard = inst;
}

static void retire(struct edge_shard *sh, struct edge_instance *inst, bool force)
{
    edge__instance_retire(sh, inst, force);
}

void edge__instance_retire(struct edge_shard *sh, struct edge_instance *inst, bool force)
{
    if (!inst->retiring || inst->draining) {
        /* its objects' next calls go to the new isolate; what they wrote in the turn is undone */
        edge__objects_instance_gone(inst, true);
        ED_INFO("event=isolate_retired shard=%d tenant=%s worker=%s", sh->id,
                inst->worker->tenant->name, inst->worker->name);
        if (!inst->retiring)
            to_graveyard(sh, inst);
        inst->draining = false;
    }
    inst->force |= force;
}

void edge__instance_drain(struct edge_shard *sh, struct edge_instance *inst)
{
    if (inst->retiring)
        return;
    ED_DEBUG("event=isolate_draining shard=%d tenant=%s worker=%s version=%lld", sh->id,
             inst->worker->tenant->name, inst->worker->name, (long long)inst->worker->version);
    inst->draining = true;
    to_graveyard(sh, inst);
    edge__objects_instance_drain(inst);
}

void edge__shard_retire_all(struct edge_shard *sh)
{
    for (size_t b = 0; b < sh->inst_buckets; b++) {
        while (sh->inst_map[b]) {
            struct edge_instance *inst = sh->inst_map[b];
            to_graveyard(sh, inst);
        }
    }
    free(sh->inst_map);
    sh->inst_map = NULL;
    sh->inst_buckets = sh->n_inst = 0;
}

static void instance_free(struct edge_instance *inst)
{
    edge__objects_instance_gone(inst, false);
    ld_parent_free(inst->loader); /* before the isolate: drops calls in flight for it */
    iso_worker_free(inst->w);
    while (inst->exchanges) { /* only when forced: their sinks will never be called */
        struct edge_exchange *ex = inst->exchanges;
        inst->exchanges = ex->next;
        if (ex->c)
            ex->c->ex = NULL;
        free(ex);
    }
    edge__worker_unref((struct edge_worker *)inst->worker);
    free(inst);
}

void edge__shard_bury(struct edge_shard *sh, bool all)
{
    struct edge_instance **pp = &sh->graveyard;
    while (*pp) {
        struct edge_instance *inst = *pp;
        if (all || inst->force || iso_worker_pending(inst->w) == 0) {
            *pp = inst->next_grave;
            instance_free(inst);
        } else {
            pp = &inst->next_grave;
        }
    }
}

/* This shard's isolate of w, built on first use; its top-level code runs under the same
 * budgets as a request. */
int edge__instance_get(struct edge_shard *sh, const struct edge_worker *w, uint64_t cpu_budget,
                       uint64_t wall_budget, struct edge_instance **out, uint64_t *cpu_ns,
                       struct ed_error *err)
{
    struct edge_instance *found = inst_find(sh, w);
    if (found) {
        *out = found;
        return 0;
    }
    const struct edge_tenant *t = w->tenant;
    struct edge_instance *inst = calloc(1, sizeof *inst);
    if (!inst)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    inst->worker = w;
    inst->shard = sh;
    struct ld_parent_config lc = {
        .tenant = t->name,
        .worker = w->name,
        .cpu_ms = t->cpu_ms,
        .heap_mb = t->heap_mb,
        .max_children = t->max_children,
        .max_children_heap = (uint64_t)t->max_children_heap_mb << 20,
        .idle_ms = t->child_idle_ms,
        .sub_requests = t->subrequests,
        .log = on_child_console,
        .log_ud = (void *)w,
        .facets = w->n_objects ? &inst->facet_host : NULL, /* filled by edge__objects_host */
    };
    int rc = ld_parent_new(sh->loader, &lc, &inst->loader, err);
    if (rc) {
        free(inst);
        return rc;
    }
    /* env: the tenant's vars, then the worker's own plain_text bindings */
    size_t n_vars = t->n_vars + w->n_vars;
    struct iso_var *vars = n_vars ? malloc(n_vars * sizeof *vars) : NULL;
    if (n_vars && !vars) {
        ld_parent_free(inst->loader);
        free(inst);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    if (t->n_vars)
        memcpy(vars, t->vars, t->n_vars * sizeof *vars);
    if (w->n_vars)
        memcpy(vars + t->n_vars, w->vars, w->n_vars * sizeof *vars);
    edge__objects_host(inst, ld_parent_host(inst->loader));
    struct iso_worker_config wc = {
        .tenant = t->name,
        .worker = w->name,
        .modules = w->modules,
        .n_modules = w->n_modules,
        .main_module = w->main_module,
        .vars = vars,
        .n_vars = n_vars,
        .heap_limit_bytes = (size_t)t->heap_mb << 20,
        .log = on_console,
        .log_ud = (void *)w,
        .watch = sh->watch,
        .cpu_budget_ns = cpu_budget,
        .wall_budget_ns = wall_budget,
        .host = &inst->host,
        .loaders = (const char *const *)w->loaders,
        .n_loaders = w->n_loaders,
        .allow_eval_at_startup = sh->srv->cfg->allow_eval_at_startup,
        .objects = w->objects,
        .n_objects = w->n_objects,
    };
    uint64_t t0 = ed_now_ns(), cpu0 = ed_thread_cpu_ns();
    rc = iso_worker_new(&wc, &inst->w, err);
    *cpu_ns += ed_thread_cpu_ns() - cpu0;
    free(vars);
    if (rc) {
        ld_parent_free(inst->loader);
        free(inst);
        return rc;
    }
    if (inst_insert(sh, inst) != 0) {
        iso_worker_free(inst->w);
        ld_parent_free(inst->loader);
        free(inst);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    ld_parent_attach(inst->loader, inst->w);
    edge__worker_ref((struct edge_worker *)w); /* the isolate's code: kept while it lives */
    ED_DEBUG("event=isolate_created shard=%d tenant=%s worker=%s us=%llu", sh->id, t->name, w->name,
             (unsigned long long)((ed_now_ns() - t0) / 1000));
    *out = inst;
    return 0;
}

/* ---- the exchange ---------------------------------------------------------------------------- */

/* The response is over (the sink's on_end, on_abort or on_fail): the connection goes on.
 * The exchange stays, detached, until exchange_done. */
static void respond_done(struct edge_exchange *ex)
{
    struct edge_conn *c = ex->c;
    struct edge_instance *inst = ex->inst;
    struct edge_shard *sh = ex->shard;
    if (inst && inst->w && iso_worker_retired(inst->w))
        retire(sh, inst, false);
    bool answered = c && !ex->abandoned;
    ex->c = NULL;
    ex->abandoned = true; /* no sink callback but on_done is left */
    if (!answered) {
        if (c && c->ex == ex) /* answered by the node already */
            c->ex = NULL;
        return;
    }
    if (ex->keep_alive == H1_CLOSE || ex->status == 0)
        c->close_after_write = true;
    const char *tenant = ex->worker ? ex->worker->tenant->name : "-";
    const char *worker = ex->worker ? ex->worker->name : "-";
    edge__access_log(sh, tenant, worker, ex->req, ex->status, edge__conn_out_pos(c) - ex->out0,
                     ed_now_ns() - ex->t0, ex->cpu_ns);
    ex->req = NULL; /* the parser's, gone with the connection's next request */
    c->ex = NULL;
    edge__conn_answered(c);
}

/* The worker is done with ex (or ex never reached a worker): account, release. */
static void exchange_done(struct edge_exchange *ex)
{
    struct edge_instance *inst = ex->inst;
    struct edge_shard *sh = ex->shard;
    if (ex->worker && sh->srv->db) { /* a request the tenant's worker served, or failed */
        char day[ST_DAY_LEN];
        struct st_usage u = {.requests = 1, .cpu_us = ex->cpu_ns / 1000u};
        st_usage_add(sh->srv->db, ex->worker->tenant->name, st_day(time(NULL), day), &u);
    }
    if (inst) {
        if (ex->prev)
            ex->prev->next = ex->next;
        else
            inst->exchanges = ex->next;
        if (ex->next)
            ex->next->prev = ex->prev;
        if (inst->w && iso_worker_retired(inst->w))
            retire(sh, inst, false);
    }
    free(ex);
}

/* Both at once: an exchange no worker's sink will hear of. */
static void finish(struct edge_exchange *ex)
{
    respond_done(ex);
    exchange_done(ex);
}

void edge__exchange_detach(struct edge_exchange *ex)
{
    ex->c = NULL;
    ex->abandoned = true;
    /* A response being streamed stops now rather than at its next chunk (a paused one would
     * never get there); a worker waiting for the request body learns it will not come. */
    if (ex->inst && ex->head_sent)
        iso_worker_fetch_cancel(ex->inst->w, ex); /* may free ex */
    else if (ex->inst)
        edge__exchange_body_failed(ex, ED_ECANCELED, 0, NULL);
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

void edge__exchange_finish(struct edge_exchange *ex)
{
    finish(ex);
}

/* requests_per_s as GCRA on one atomic (the theoretical arrival time): equivalent to a token
 * bucket of requests_per_s tokens refilled at requests_per_s a second, node-wide, for one
 * compare-and-swap per request and no lock. */
static bool rate_ok(struct edge_tenant *t)
{
    if (!t->requests_per_s)
        return true;
    uint64_t interval = 1000000000u / t->requests_per_s;
    if (interval == 0)
        interval = 1;
    uint64_t now = ed_now_ns(), tat = atomic_load_explicit(&t->rate_tat, memory_order_relaxed);
    for (;;) {
        uint64_t base = tat > now ? tat : now;
        if (base - now + interval > 1000000000u)
            return false;
        if (atomic_compare_exchange_weak_explicit(&t->rate_tat, &tat, base + interval,
                                                  memory_order_relaxed, memory_order_relaxed))
            return true;
    }
}

static void answer_now(struct edge_exchange *ex, int status, const char *msg)
{
    ex->status = status;
    edge_h1_write_simple(&ex->c->out, status, msg, ex->keep_alive);
    finish(ex);
}

void edge__dispatch(struct edge_conn *c, const struct h1_request *req)
{
    struct edge_shard *sh = c->shard;
    const struct edge_config *cfg = sh->srv->cfg;
    struct edge_exchange *ex = calloc(1, sizeof *ex);
    if (!ex) {
        edge_h1_write_simple(&c->out, 503, "Service Unavailable", H1_CLOSE);
        c->close_after_write = true;
        edge__conn_answered(c);
        return;
    }
    bool http10 = req->http_major == 1 && req->http_minor == 0;
    ex->c = c;
    ex->shard = sh;
    ex->req = req;
    ex->t0 = ed_now_ns();
    ex->out0 = edge__conn_out_pos(c);
    ex->http10 = http10;
    ex->head_only = strcmp(req->method, "HEAD") == 0;
    ex->keep_alive = !req->keep_alive || sh->draining ? H1_CLOSE
                     : http10                         ? H1_KEEP_ALIVE_10
                                                      : H1_KEEP_ALIVE;
    c->ex = ex;
    if (c->admin) {
        edge__admin_start(ex, req);
        return;
    }

    size_t host_len = 0;
    const char *host = edge_h1_header(req, "host", &host_len);
    if (!host && !http10) {
        answer_now(ex, 400, "Missing Host header");
        return;
    }
    if (!host) {
        host = "localhost";
        host_len = 9;
    }
    struct ed_buf url;
    ed_buf_init(&url);
    int bad = build_url(req, host, host_len, &url);
    const struct rt_route *route =
        bad ? NULL : rt_match(sh->site->routes, host, host_len, edge_h1_url(req), req->url_len);
    if (bad || !route) {
        ed_buf_dispose(&url);
        answer_now(ex, bad ? bad : 404,
                   bad ? edge_h1_reason(bad) : "No worker is routed for this host and path");
        return;
    }
    const struct edge_worker *w = route->target;
    if (w->tenant->suspended || !rate_ok(w->tenant)) {
        char msg[200];
        bool suspended = w->tenant->suspended;
        if (suspended)
            snprintf(msg, sizeof msg, "Tenant %s is suspended: its workers do not serve requests",
                     w->tenant->name);
        else
            snprintf(msg, sizeof msg, "Tenant %s is over its rate limit (%llu requests/s)",
                     w->tenant->name, (unsigned long long)w->tenant->requests_per_s);
        ed_buf_dispose(&url);
        answer_now(ex, suspended ? 503 : 429, msg);
        return;
    }
    ex->worker = w;
    uint64_t cpu_budget = (uint64_t)w->tenant->cpu_ms * 1000000u;
    uint64_t wall_budget = (uint64_t)cfg->wall_ms * 1000000u;
    struct edge_instance *inst = NULL;
    struct ed_error err = {0};
    int rc = edge__instance_get(sh, w, cpu_budget, wall_budget, &inst, &ex->cpu_ns, &err);
    struct iso_header hs_small[64], *hs = hs_small;
    if (rc == 0 && req->n_headers > 64 && !(hs = malloc(req->n_headers * sizeof *hs)))
        rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
    if (rc) {
        /* no instance: answer as the worker's failure, without an instance to retire */
        failure_response(ex, w, rc, ed_error_msg(&err));
        ed_error_dispose(&err);
        ed_buf_dispose(&url);
        finish(ex);
        return;
    }
    ex->inst = inst;
    ex->next = inst->exchanges;
    if (inst->exchanges)
        inst->exchanges->prev = ex;
    inst->exchanges = ex;

    for (size_t i = 0; i < req->n_headers; i++)
        hs[i] = (struct iso_header){edge_h1_hname(req, i), req->headers[i].name_len,
                                    edge_h1_hvalue(req, i), req->headers[i].value_len};
    bool streamed = edge_h1_body_streaming(&c->parser);
    struct iso_request ir = {
        .method = req->method,
        .url = url.data,
        .url_len = url.len,
        .headers = hs,
        .n_headers = req->n_headers,
        .body = req->body.len && !streamed ? (const uint8_t *)req->body.data : NULL,
        .body_len = streamed ? 0 : req->body.len,
        .body_source = streamed ? &body_source : NULL,
        .body_ud = ex,
        .body_length = req->body_length,
        .cpu_budget_ns = cpu_budget,
        .wall_budget_ns = wall_budget,
        .cpu_used_ns = &ex->cpu_ns,
        .sub_requests = w->tenant->subrequests,
    };
    rc = iso_worker_fetch(inst->w, &ir, &sink, ex, &err);
    if (hs != hs_small)
        free(hs);
    ed_buf_dispose(&url);
    if (rc) { /* not started: the sink will not be called */
        failure_response(ex, w, rc, ed_error_msg(&err));
        finish(ex);
    }
    ed_error_dispose(&err);
}

/* Called by the connection's timer when a request outlives the wall-time limit while its
 * worker waits on something: answer 503 now and retire the isolate, whose in-flight work is
 * dropped with it. */
void edge__exchange_timeout(struct edge_exchange *ex)
{
    struct edge_conn *c = ex->c;
    struct edge_instance *inst = ex->inst;
    if (!inst || !c)
        return;
    struct edge_shard *sh = c->shard;
    if (ex->head_sent) {
        /* A streamed response that neither produced nor sent anything for the wall-time
         * limit: cancel it and close (the client sees a truncated body). */
        static const char msg[] =
            "the response body stream made no progress for the wall time limit";
        ex->keep_alive = H1_CLOSE;
        edge__tenant_log(inst->worker->tenant, inst->worker->name, "error", msg, sizeof msg - 1);
        if (iso_worker_fetch_cancel(inst->w, ex) == 0)
            return;
    }
    for (struct edge_exchange *o = inst->exchanges; o; o = o->next) {
        if (o->abandoned || !o->c)
            continue;
        struct edge_conn *oc = o->c;
        if (o->head_sent) /* mid-body: only a truncated body can say it */
            o->keep_alive = H1_CLOSE;
        else
            failure_response(o, inst->worker, ED_EWALLLIMIT, "");
        o->abandoned = true;
        oc->ex = NULL;
        edge__access_log(sh, inst->worker->tenant->name, inst->worker->name, o->req, o->status,
                         edge__conn_out_pos(oc) - o->out0, ed_now_ns() - o->t0, o->cpu_ns);
        if (o->keep_alive == H1_CLOSE)
            oc->close_after_write = true;
        o->c = NULL;
        edge__conn_answered(oc);
    }
    iso_worker_terminate(inst->w, ED_EWALLLIMIT);
    retire(sh, inst, true);
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
