/*
 * The operator's endpoints, on the admin listener only (--admin-listen; loopback by
 * default in every example): today GET /v1/usage[?tenant=T][&day=YYYY-MM-DD], every
 * tenant's (or one tenant's) usage counters for a UTC day, today by default. Tokens and the
 * rest of the admin API come with the deploy issue.
 */
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
    char tenant[128], day[ST_DAY_LEN + 1];
    bool one = q && query_param(q + 1, qlen, "tenant", tenant, sizeof tenant);
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
