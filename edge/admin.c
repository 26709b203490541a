/*
 * The admin listener's glue (--admin-listen): every request is handed to the admin API
 * (deploy/'s dp_handle), which authenticates it and answers JSON. dp_handle waits for the disk
 * (each control-plane write is fsynced) and for V8 (a deploy compiles its bundle), so it runs
 * on libuv's thread pool with its own copy of the request (the body is taken from the parser,
 * not copied); the answer is written on the shard's loop. A connection that goes away
 * meanwhile detaches its exchange, and the answer is dropped. Tokens of today's tenant.conf
 * (`token_sha256`) reach the API through dp_config.site_token. A request that changed what the
 * shards serve (st_cp_generation moved: a deploy, a rollback, a route, a tenant's status or
 * quotas) wakes the site builder and is answered once every shard serves the change, or after
 * LIVE_WAIT_MS: its JSON answer then says "live": true or false.
 */
#include <stdlib.h>
#include <string.h>

#include "deploy/deploy.h"
#include "edge/edge_int.h"

#define LIVE_WAIT_MS 2000

struct admin_job {
    uv_work_t work;
    struct edge_exchange *ex;
    struct edge_server *srv;
    struct dp_api *api;
    const char *method; /* llhttp's static string */
    char *target;
    size_t target_len;
    struct dp_header *headers;
    size_t n_headers;
    char *hbytes; /* the headers' names and values */
    struct ed_buf body;
    struct dp_response res;
};

static void job_free(struct admin_job *j)
{
    dp_response_dispose(&j->res);
    ed_buf_dispose(&j->body);
    free(j->target);
    free(j->headers);
    free(j->hbytes);
    free(j);
}

/* Adds "live": bool to a JSON object answer ({...}\n, as deploy/ writes them). */
static void add_live(struct dp_response *res, bool live)
{
    if (!res->body || res->body_len < 2)
        return;
    char *end = res->body + res->body_len;
    while (end > res->body && end[-1] != '}')
        end--;
    if (end == res->body || res->body[0] != '{')
        return;
    size_t head = (size_t)(end - 1 - res->body); /* up to the closing brace */
    bool empty = head == 1;
    const char *add = live ? "\"live\":true}\n" : "\"live\":false}\n";
    size_t n = head + (empty ? 0 : 1) + strlen(add);
    char *b = malloc(n + 1);
    if (!b)
        return;
    memcpy(b, res->body, head);
    if (!empty)
        b[head] = ',';
    memcpy(b + head + (empty ? 0 : 1), add, strlen(add) + 1);
    free(res->body);
    res->body = b;
    res->body_len = n;
}

static void on_work(uv_work_t *w)
{
    struct admin_job *j = w->data;
    struct dp_request req = {.method = j->method,
                             .target = j->target,
                             .target_len = j->target_len,
                             .headers = j->headers,
                             .n_headers = j->n_headers,
                             .body = j->body.data ? j->body.data : "",
                             .body_len = j->body.len};
    uint64_t gen0 = st_cp_generation(j->srv->db), t0 = ed_now_ns();
    dp_handle(j->api, &req, &j->res);
    uint64_t gen = st_cp_generation(j->srv->db);
    if (gen == gen0)
        return;
    edge__live_kick(j->srv);
    if (j->res.status < 200 || j->res.status > 299)
        return;
    bool live = edge__live_wait(j->srv, gen, LIVE_WAIT_MS);
    uint64_t us = (ed_now_ns() - t0) / 1000;
    ED_INFO("event=admin_change_live method=%s generation=%llu live=%s us=%llu", j->method,
            (unsigned long long)gen, live ? "true" : "false", (unsigned long long)us);
    add_live(&j->res, live);
}

static void answer(struct edge_exchange *ex, const struct dp_response *res)
{
    static const char ct[] = "application/json";
    struct h1_out_header h = {"Content-Type", 12, ct, sizeof ct - 1};
    bool body = res->body && edge_h1_status_has_body(res->status);
    ex->status = res->status;
    edge_h1_write_head(&ex->c->out, res->status, &h, body ? 1 : 0,
                       body ? (int64_t)res->body_len : 0, ex->keep_alive);
    if (body)
        ed_buf_append(&ex->c->out, res->body, res->body_len);
}

static void on_done(uv_work_t *w, int status)
{
    struct admin_job *j = w->data;
    struct edge_exchange *ex = j->ex;
    if (ex->c && !ex->abandoned) {
        if (status == 0)
            answer(ex, &j->res);
        else
            edge_h1_write_simple(&ex->c->out, (ex->status = 503), NULL, ex->keep_alive);
    }
    job_free(j);
    edge__exchange_finish(ex);
}

/* Copies what dp_handle reads of req (it outlives the connection if the client leaves). */
static struct admin_job *job_new(struct edge_exchange *ex, const struct h1_request *req)
{
    struct admin_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    size_t hb = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        hb += req->headers[i].name_len + req->headers[i].value_len;
    j->target = malloc(req->url_len ? req->url_len : 1);
    j->headers = calloc(req->n_headers ? req->n_headers : 1, sizeof *j->headers);
    j->hbytes = malloc(hb ? hb : 1);
    if (!j->target || !j->headers || !j->hbytes) {
        job_free(j);
        return NULL;
    }
    j->ex = ex;
    j->srv = ex->shard->srv;
    j->api = ex->shard->srv->api;
    j->method = req->method;
    memcpy(j->target, edge_h1_url(req), req->url_len);
    j->target_len = req->url_len;
    char *o = j->hbytes;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct h1_header *h = &req->headers[i];
        memcpy(o, edge_h1_hname(req, i), h->name_len);
        memcpy(o + h->name_len, edge_h1_hvalue(req, i), h->value_len);
        j->headers[i] = (struct dp_header){o, o + h->name_len, h->name_len, h->value_len};
        o += h->name_len + h->value_len;
    }
    j->n_headers = req->n_headers;
    /* the body moves: the parser starts its next request with an empty buffer */
    j->body = ex->c->parser.req.body;
    ed_buf_init(&ex->c->parser.req.body);
    j->work.data = j;
    return j;
}

void edge__admin_start(struct edge_exchange *ex, const struct h1_request *req)
{
    struct edge_conn *c = ex->c;
    struct admin_job *j = ex->shard->srv->api ? job_new(ex, req) : NULL;
    if (!j || uv_queue_work(&ex->shard->loop, &j->work, on_work, on_done) != 0) {
        if (j)
            job_free(j);
        ex->status = 503;
        edge_h1_write_simple(&c->out, 503, "the admin API is unavailable", ex->keep_alive);
        edge__exchange_finish(ex);
    }
}
