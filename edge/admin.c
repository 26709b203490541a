/*
 * The admin listener's endpoints (--admin-listen; loopback by default in every example): today
 * GET /v1/usage[?tenant=T][&day=YYYY-MM-DD], usage counters for a UTC day, today by default.
 * With `Authorization: Bearer TOKEN` whose SHA-256 a tenant lists (tenant.conf token_sha256),
 * the caller is that tenant and sees its own counters only; without one it is the operator and
 * sees every tenant's. The operator's own token and the rest of the admin API come with the
 * deploy issue; until then the listener's address is what keeps tenants out of the operator's
 * view.
 */
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge/edge_int.h"

/* Copies the value of key from a query string ("a=1&b=2") into buf; false if absent. Values
 * are taken verbatim: tenant names and days need no percent-decoding. */
static bool query_param(const char *q, size_t qlen, const char *key, char *buf, size_t cap)
{
    size_t klen = strlen(key);
    const char *end = q + qlen;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) > klen && memcmp(q, key, klen) == 0 && q[klen] == '=') {
            size_t n = (size_t)(stop - q) - klen - 1;
            if (n >= cap)
                return false;
            memcpy(buf, q + klen + 1, n);
            buf[n] = '\0';
            return true;
        }
        q = amp ? amp + 1 : end;
    }
    return false;
}

static bool day_ok(const char *d)
{
    if (strlen(d) != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
            return false;
    return true;
}

static int answer_json(struct edge_conn *c, int status, const char *json, int keep_alive)
{
    static const char ct[] = "application/json";
    struct h1_out_header h = {"Content-Type", 12, ct, sizeof ct - 1};
    size_t len = strlen(json);
    edge_h1_write_head(&c->out, status, &h, 1, (int64_t)len + 1, keep_alive);
    ed_buf_append(&c->out, json, len);
    ed_buf_append(&c->out, "\n", 1);
    return status;
}

/* The tenant whose token the request bears; *bad when an Authorization header names none. */
static const struct edge_tenant *bearer(struct edge_conn *c, const struct h1_request *req,
                                        bool *bad)
{
    size_t len;
    const char *v = edge_h1_header(req, "authorization", &len);
    *bad = false;
    if (!v)
        return NULL;
    *bad = true;
    if (len < 8 || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    uint8_t h[SHA256_DIGEST_SIZE];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len - 7, (const uint8_t *)v + 7);
    sha256_digest(&ctx, sizeof h, h);
    const struct edge_site *site = c->shard->srv->site;
    for (size_t i = 0; i < site->n_tenants; i++) {
        const struct edge_tenant *t = site->tenants[i];
        for (size_t k = 0; k < t->n_tokens; k++) {
            if (memcmp(t->token_hashes[k], h, sizeof h) == 0) {
                *bad = false;
                return t;
            }
        }
    }
    return NULL;
}

int edge__admin_answer(struct edge_conn *c, const struct h1_request *req, int keep_alive)
{
    const char *url = edge_h1_url(req);
    size_t len = req->url_len;
    const char *q = memchr(url, '?', len);
    size_t plen = q ? (size_t)(q - url) : len;
    size_t qlen = q ? len - plen - 1 : 0;
    if (plen != 9 || memcmp(url, "/v1/usage", 9) != 0)
        return answer_json(c, 404, "{\"error\":\"no such endpoint\"}", keep_alive);
    if (strcmp(req->method, "GET") != 0)
        return answer_json(c, 405, "{\"error\":\"use GET\"}", keep_alive);
    bool bad;
    const struct edge_tenant *caller = bearer(c, req, &bad);
    if (bad)
        return answer_json(c, 401, "{\"error\":\"unknown token\"}", keep_alive);
    char tenant[128], day[ST_DAY_LEN + 1];
    bool one = q && query_param(q + 1, qlen, "tenant", tenant, sizeof tenant);
    if (caller && one && strcmp(tenant, caller->name) != 0)
        return answer_json(c, 403, "{\"error\":\"a tenant's token reads only its own usage\"}",
                           keep_alive);
    if (caller) {
        snprintf(tenant, sizeof tenant, "%s", caller->name);
        one = true;
    }
    if (!(q && query_param(q + 1, qlen, "day", day, sizeof day)))
        st_day(time(NULL), day);
    if (!day_ok(day))
        return answer_json(c, 400, "{\"error\":\"day must be YYYY-MM-DD\"}", keep_alive);
    struct st_db *db = c->shard->srv->db;
    char *json = NULL;
    struct ed_error err = {0};
    int rc = db ? st_usage_json(db, one ? tenant : NULL, day, &json, &err) : ED_EINVAL;
    int status = rc ? answer_json(c, 500, "{\"error\":\"usage is unavailable\"}", keep_alive)
                    : answer_json(c, 200, json, keep_alive);
    if (rc)
        ED_ERROR("event=usage_error error=\"%s\"", ed_error_msg(&err));
    free(json);
    ed_error_dispose(&err);
    return status;
}
