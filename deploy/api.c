/*
 * The admin API: one request in, one JSON answer out. dp_handle authenticates the bearer token
 * (operator, tenant, or a tenant.conf tenant), splits the target into path segments and query,
 * and runs the endpoint: tenants (operator), tokens, workers and versions, routes, usage and
 * whoami. Authorization is decided here, before any endpoint runs: a tenant's token reaches
 * only /v1/tenants/<itself>/..., /v1/usage for itself and /v1/whoami; a suspended tenant may
 * read but not change anything. Secrets (tokens after their creation, secret_text bindings)
 * never appear in an answer.
 */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "deploy/dp_int.h"

#define MAX_SEGMENTS 8
#define MAX_SEGMENT 255
#define MAX_ROUTES_ALLOWED 100
#define MAX_LABEL 128

/* ---- answers --------------------------------------------------------------------------------- */

int dp__json(struct dp_response *res, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(v);
    if (!s) {
        static const char oom[] = "{\"error\":\"out of memory\"}\n";
        res->status = 500;
        res->body = ed_strdup(oom);
        res->body_len = res->body ? sizeof oom - 1 : 0;
        return 500;
    }
    size_t n = strlen(s);
    char *b = realloc(s, n + 2);
    if (!b) {
        free(s);
        return dp__json(res, status, NULL);
    }
    b[n] = '\n';
    b[n + 1] = '\0';
    res->status = status;
    res->body = b;
    res->body_len = n + 1;
    return status;
}

int dp__error(struct dp_response *res, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one line, whatever a message quoted */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return dp__json(res, status, json_pack("{s:s}", "error", msg));
}

static int no_content(struct dp_response *res)
{
    res->status = 204;
    res->body = NULL;
    res->body_len = 0;
    return 204;
}

int dp__status_of(int code)
{
    switch (code) {
    case ED_ENOENT:
        return 404;
    case ED_EEXIST:
        return 409;
    case ED_ETOOBIG:
        return 413;
    case ED_EINVAL:
        return 400;
    case ED_EACCES:
        return 403;
    case ED_EBADWORKER:
        return 422;
    default:
        return 500;
    }
}

/* Answers a storage error: its message for the caller's mistakes, a generic one (and the
 * operator's log) for the node's own trouble. */
static int st_failed(struct dp_response *res, const char *op, struct ed_error *e)
{
    int status = dp__status_of(e->code);
    if (status == 500) {
        ED_ERROR("event=admin_error op=%s code=%s msg=\"%s\"", op, ed_errname(e->code),
                 ed_error_msg(e));
        dp__error(res, 500, "the control plane failed: %s", ed_strerror(e->code));
    } else {
        dp__error(res, status, "%s", ed_error_msg(e));
    }
    ed_error_dispose(e);
    return status;
}

static json_t *iso_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

/* ---- names, quotas, patterns ------------------------------------------------------------------ */

bool dp__name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static const struct {
    const char *key;
    size_t off;
    uint64_t min, max, dflt;
} quota_keys[] = {
    {"cpu_ms", offsetof(struct dp_quotas, cpu_ms), 1, 600000, 50},
    {"heap_mb", offsetof(struct dp_quotas, heap_mb), 8, 65536, 128},
    {"max_children", offsetof(struct dp_quotas, max_children), 0, 1000000, 100},
    {"storage_bytes", offsetof(struct dp_quotas, storage_bytes), 0, 1ull << 50, 1ull << 30},
    {"requests_per_s", offsetof(struct dp_quotas, requests_per_s), 0, 1000000000, 0},
    {"bundle_bytes", offsetof(struct dp_quotas, bundle_bytes), 1, DP_MAX_BUNDLE_BYTES,
     DP_MAX_BUNDLE_BYTES},
    {"workers", offsetof(struct dp_quotas, workers), 0, 100000, 100},
};
#define N_QUOTAS (sizeof quota_keys / sizeof quota_keys[0])

static uint64_t *quota_field(struct dp_quotas *q, size_t i)
{
    return (uint64_t *)((char *)q + quota_keys[i].off);
}

void dp__quotas_of(const struct dp_api *api, const char *quotas_json, struct dp_quotas *out)
{
    *out = api->defaults;
    json_t *q = quotas_json ? json_loads(quotas_json, 0, NULL) : NULL;
    for (size_t i = 0; i < N_QUOTAS && json_is_object(q); i++) {
        json_t *v = json_object_get(q, quota_keys[i].key);
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            *quota_field(out, i) = (uint64_t)json_integer_value(v);
    }
    json_decref(q);
}

void dp_quotas_of(const struct dp_api *api, const char *quotas_json, struct dp_quotas *out)
{
    dp__quotas_of(api, quotas_json, out);
}

static json_t *quotas_json(const struct dp_quotas *q)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < N_QUOTAS; i++)
        json_object_set_new(o, quota_keys[i].key,
                            json_integer((json_int_t)*quota_field((struct dp_quotas *)q, i)));
    return o;
}

/* Applies the quotas object `in` to the stored object `stored` (a key set to null goes back
 * to the node's default). Returns 0 or 400 with res set. */
static int merge_quotas(json_t *stored, json_t *in, struct dp_response *res)
{
    if (!json_is_object(in))
        return dp__error(res, 400, "quotas must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
    {
        size_t i = 0;
        while (i < N_QUOTAS && strcmp(quota_keys[i].key, key) != 0)
            i++;
        if (i == N_QUOTAS)
            return dp__error(res, 400,
                             "unknown quota %s (cpu_ms, heap_mb, max_children, storage_bytes, "
                             "requests_per_s, bundle_bytes, workers)",
                             key);
        if (json_is_null(v)) {
            json_object_del(stored, key);
            continue;
        }
        if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)quota_keys[i].min ||
            (uint64_t)json_integer_value(v) > quota_keys[i].max)
            return dp__error(res, 400, "quota %s must be an integer from %llu to %llu", key,
                             (unsigned long long)quota_keys[i].min,
                             (unsigned long long)quota_keys[i].max);
        json_object_set(stored, key, v);
    }
    return 0;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int dp__pattern_normalize(const char *in, size_t len, char out[DP__PATTERN_MAX + 1],
                          struct ed_error *err)
{
    if (len == 0 || len > DP__PATTERN_MAX - 2)
        return ed_error_set(err, ED_EINVAL, "a route pattern must be 1 to %d bytes",
                            DP__PATTERN_MAX - 2);
    const char *slash = memchr(in, '/', len);
    size_t hlen = slash ? (size_t)(slash - in) : len, o = 0, i = 0, label = 0;
    if (hlen == 1 && in[0] == '*') {
        out[o++] = '*';
        label = 1;
    } else if (hlen >= 2 && in[0] == '*' && in[1] == '.') {
        out[o++] = '*';
        out[o++] = '.';
        i = 2;
    }
    for (; i < hlen && !(hlen == 1 && in[0] == '*'); i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '.' && label == 0)
            break; /* an empty label */
        if (c != '.' && !host_char(c))
            break;
        label = c == '.' ? 0 : label + 1;
        out[o++] = c;
    }
    if (label == 0 || (i < hlen && !(hlen == 1 && in[0] == '*')))
        return ed_error_set(err, ED_EINVAL,
                            "route pattern %.*s: the host must be a name, *.name or *", (int)len,
                            in);
    if (!slash) {
        memcpy(out + o, "/*", 3);
        return 0;
    }
    for (i = hlen; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || (c == '*' && i != len - 1))
            return ed_error_set(err, ED_EINVAL,
                                "route pattern %.*s: the path may hold no spaces, '?', '#' or "
                                "'*' but a last one",
                                (int)len, in);
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* host (no '/') within allowed host: equal, or allowed "*.s" and host "s"'s subdomain (or
 * "*.t" with t in s), or allowed "*". */
static bool host_within(const char *h, size_t hl, const char *a, size_t al)
{
    if (al == 1 && a[0] == '*')
        return true;
    if (hl == 1 && h[0] == '*')
        return false;
    if (al >= 2 && a[0] == '*') {
        const char *suffix = a + 1; /* ".s" */
        size_t sl = al - 1;
        const char *hn = h[0] == '*' ? h + 1 : h;
        size_t hnl = h[0] == '*' ? hl - 1 : hl;
        return hnl > sl && memcmp(hn + hnl - sl, suffix, sl) == 0;
    }
    return hl == al && memcmp(h, a, hl) == 0;
}

bool dp__pattern_within(const char *p, const char *allowed)
{
    const char *ps = strchr(p, '/'), *as = strchr(allowed, '/');
    if (!ps || !as || !host_within(p, (size_t)(ps - p), allowed, (size_t)(as - allowed)))
        return false;
    size_t pl = strlen(ps), al = strlen(as);
    bool pprefix = ps[pl - 1] == '*', aprefix = as[al - 1] == '*';
    if (!aprefix) /* an exact path allows that path only */
        return !pprefix && pl == al && memcmp(ps, as, al) == 0;
    al--; /* without its '*' */
    if (pprefix)
        pl--;
    return pl >= al && memcmp(ps, as, al) == 0;
}

/* ---- requests -------------------------------------------------------------------------------- */

const char *dp__header(const struct dp_request *req, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct dp_header *h = &req->headers[i];
        if (h->name_len == nl && strncasecmp(h->name, name, nl) == 0) {
            *len = h->value_len;
            return h->value;
        }
    }
    *len = 0;
    return NULL;
}

static int unhex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The value of key in a query string, percent-decoded ('+' is a space) into out (cap bytes,
 * NUL-terminated). 1 found, 0 absent, -1 malformed or too long or holding a NUL. */
static int query_get(const char *q, size_t qlen, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *end = q + qlen;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) >= klen && memcmp(q, key, klen) == 0 &&
            (q + klen == stop || q[klen] == '=')) {
            const char *v = q + klen + (q + klen < stop);
            size_t o = 0;
            for (; v < stop; v++) {
                int c = (unsigned char)*v;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    if (stop - v < 3 || unhex(v[1]) < 0 || unhex(v[2]) < 0)
                        return -1;
                    c = unhex(v[1]) << 4 | unhex(v[2]);
                    v += 2;
                }
                if (c == 0 || o + 1 >= cap)
                    return -1;
                out[o++] = (char)c;
            }
            out[o] = '\0';
            return 1;
        }
        q = amp ? amp + 1 : end;
    }
    return 0;
}

/* The request's JSON body as an object (an empty body is {}). NULL with res set (400). */
static json_t *body_object(const struct dp_request *req, struct dp_response *res)
{
    if (req->body_len == 0)
        return json_object();
    json_error_t je;
    json_t *v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(v)) {
        json_decref(v);
        if (v)
            dp__error(res, 400, "the body must be a JSON object");
        else
            dp__error(res, 400, "the body is not JSON: %s (line %d)", je.text, je.line);
        return NULL;
    }
    return v;
}

/* ---- authentication -------------------------------------------------------------------------- */

struct found_token {
    struct dp__caller *caller;
    bool revoked;
};

static int on_token(void *ud, const struct st_token *t)
{
    struct found_token *f = ud;
    f->revoked = t->revoked;
    f->caller->operator= t->tenant == NULL;
    if (t->tenant)
        snprintf(f->caller->tenant, sizeof f->caller->tenant, "%s", t->tenant);
    return 0;
}

/* Fills caller from the Authorization header. Returns 0 or 401/500 with res set. */
static int authenticate(struct dp_api *api, const struct dp_request *req, struct dp__caller *caller,
                        struct dp_response *res)
{
    memset(caller, 0, sizeof *caller);
    size_t len;
    const char *v = dp__header(req, "authorization", &len);
    if (!v)
        return dp__error(res, 401, "no token: send Authorization: Bearer TOKEN");
    if (len < 8 || strncasecmp(v, "Bearer ", 7) != 0)
        return dp__error(res, 401, "the Authorization header must be Bearer TOKEN");
    v += 7;
    len -= 7;
    while (len && *v == ' ')
        v++, len--;
    while (len && v[len - 1] == ' ')
        len--;
    if (len == 0 || len > 1024)
        return dp__error(res, 401, "unknown token");
    uint8_t h[32];
    dp__sha256(v, len, h);
    struct found_token f = {.caller = caller};
    struct ed_error e = {0};
    int rc = st_cp_token_lookup(api->db, h, on_token, &f, &e);
    if (rc == 0) {
        if (f.revoked)
            return dp__error(res, 401, "this token was revoked");
        return 0;
    }
    if (rc != ED_ENOENT)
        return st_failed(res, "token_lookup", &e);
    ed_error_dispose(&e);
    const char *site = api->site_token ? api->site_token(api->ud, h) : NULL;
    if (site && strlen(site) < sizeof caller->tenant) {
        snprintf(caller->tenant, sizeof caller->tenant, "%s", site);
        caller->site = true;
        return 0;
    }
    return dp__error(res, 401, "unknown token");
}

/* ---- tenants --------------------------------------------------------------------------------- */

struct tenant_copy {
    struct dp_api *api;
    json_t *json; /* the tenant as answered */
    char status[16], *quotas, *routes_allowed;
};

static json_t *tenant_json(struct dp_api *api, const struct st_tenant *t)
{
    struct dp_quotas q;
    dp__quotas_of(api, t->quotas, &q);
    json_t *ra = json_loads(t->routes_allowed, 0, NULL);
    if (!json_is_array(ra)) {
        json_decref(ra);
        ra = json_array();
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name", t->name, "status", t->status,
                     "cordon", t->cordon, "quotas", quotas_json(&q), "routes_allowed", ra,
                     "created", iso_time(t->created));
}

static int copy_tenant(void *ud, const struct st_tenant *t)
{
    struct tenant_copy *c = ud;
    c->json = tenant_json(c->api, t);
    snprintf(c->status, sizeof c->status, "%s", t->status);
    c->quotas = ed_strdup(t->quotas);
    c->routes_allowed = ed_strdup(t->routes_allowed);
    return c->json && c->quotas && c->routes_allowed ? 0 : ED_ENOMEM;
}

static void tenant_copy_dispose(struct tenant_copy *c)
{
    json_decref(c->json);
    free(c->quotas);
    free(c->routes_allowed);
}

static int list_tenant(void *ud, const struct st_tenant *t)
{
    struct tenant_copy *c = ud;
    json_t *j = tenant_json(c->api, t);
    return j && json_array_append_new(c->json, j) == 0 ? 0 : ED_ENOMEM;
}

/* Checks routes_allowed (an array of patterns) and returns it normalized, owned; NULL with
 * res set (400). */
static json_t *routes_allowed_of(json_t *in, struct dp_response *res)
{
    if (!json_is_array(in) || json_array_size(in) > MAX_ROUTES_ALLOWED) {
        dp__error(res, 400, "routes_allowed must be an array of at most %d patterns",
                  MAX_ROUTES_ALLOWED);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v)
    {
        char norm[DP__PATTERN_MAX + 1];
        struct ed_error e = {0};
        if (!json_is_string(v) ||
            dp__pattern_normalize(json_string_value(v), json_string_length(v), norm, &e)) {
            dp__error(res, 400, "routes_allowed: %s",
                      e.code ? ed_error_msg(&e) : "every entry must be a string");
            ed_error_dispose(&e);
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, json_string(norm));
    }
    return out;
}

/* Fields shared by create and update: status, cordon, routes_allowed (quotas apart). The
 * strings set in t point into body or into *ra_text (owned, free()). Returns 0 or 400. */
static int tenant_fields(json_t *body, struct st_tenant *t, char **ra_text, struct dp_response *res)
{
    json_t *status = json_object_get(body, "status"), *cordon = json_object_get(body, "cordon");
    json_t *ra = json_object_get(body, "routes_allowed");
    if (status) {
        const char *s = json_string_value(status);
        if (!s || (strcmp(s, "active") != 0 && strcmp(s, "suspended") != 0))
            return dp__error(res, 400, "status must be \"active\" or \"suspended\"");
        t->status = s;
    }
    if (cordon) {
        const char *s = json_string_value(cordon);
        if (!s || (strcmp(s, "default") != 0 && strcmp(s, "own") != 0))
            return dp__error(res, 400, "cordon must be \"default\" or \"own\"");
        t->cordon = s;
    }
    if (ra) {
        json_t *norm = routes_allowed_of(ra, res);
        if (!norm)
            return 400;
        *ra_text = json_dumps(norm, JSON_COMPACT);
        json_decref(norm);
        if (!*ra_text)
            return dp__error(res, 500, "out of memory");
        t->routes_allowed = *ra_text;
    }
    return 0;
}

static int tenants_create(struct dp_api *api, const struct dp_request *req, struct dp_response *res)
{
    json_t *body = body_object(req, res);
    if (!body)
        return 400;
    int status = 0;
    char *ra_text = NULL, *q_text = NULL;
    json_t *stored = json_object();
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *allowed[] = {"name", "quotas", "status", "cordon", "routes_allowed"};
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t i = 0;
        while (i < 5 && strcmp(allowed[i], key) != 0)
            i++;
        if (i == 5) {
            status = dp__error(res, 400, "unknown field %s", key);
            goto out;
        }
    }
    if (!name || !dp__name_ok(name, strlen(name))) {
        status = dp__error(res, 400,
                           "name must be 1 to 63 letters, digits, '-', '_' or '.', not starting "
                           "with '.'");
        goto out;
    }
    if (api->site_tenant && api->site_tenant(api->ud, name)) {
        status = dp__error(res, 409, "tenant %s exists (in the tenants directory)", name);
        goto out;
    }
    struct st_tenant t = {.name = name};
    if ((status = tenant_fields(body, &t, &ra_text, res)))
        goto out;
    json_t *q = json_object_get(body, "quotas");
    if (q && (status = merge_quotas(stored, q, res)))
        goto out;
    if (!(q_text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS))) {
        status = dp__error(res, 500, "out of memory");
        goto out;
    }
    t.quotas = q_text;
    char tok[DP__TOKEN_LEN + 1], id[DP__TOKEN_ID_LEN];
    uint8_t h[32];
    struct ed_error e = {0};
    if (dp__token_make("edtk_", tok, id, h, &e)) {
        status = st_failed(res, "token", &e);
        goto out;
    }
    struct st_token first = {.id = id, .label = "first"};
    if (st_cp_tenant_create(api->db, &t, &first, h, &e)) {
        if (e.code == ED_EEXIST)
            ed_error_set(&e, ED_EEXIST, "tenant %s exists", name);
        status = st_failed(res, "tenant_create", &e);
        goto out;
    }
    ED_INFO("event=tenant_created tenant=%s", name);
    status = dp__json(res, 201,
                      json_pack("{s:s, s:s, s:s}", "name", name, "token", tok, "token_id", id));
    memset(tok, 0, sizeof tok);
out:
    free(ra_text);
    free(q_text);
    json_decref(stored);
    json_decref(body);
    return status;
}

static int tenants_list(struct dp_api *api, struct dp_response *res)
{
    struct tenant_copy c = {.api = api, .json = json_array()};
    struct ed_error e = {0};
    int rc = c.json ? st_cp_tenants_list(api->db, list_tenant, &c, &e) : ED_ENOMEM;
    if (rc) {
        json_decref(c.json);
        if (!e.code)
            ed_error_set(&e, rc, "out of memory");
        return st_failed(res, "tenants_list", &e);
    }
    return dp__json(res, 200, json_pack("{s:o}", "tenants", c.json));
}

/* Reads tenant name into c (its JSON and stored fields). Returns 0 or the status with res set
 * (404 when absent). */
static int tenant_load(struct dp_api *api, const char *name, struct tenant_copy *c,
                       struct dp_response *res)
{
    memset(c, 0, sizeof *c);
    c->api = api;
    struct ed_error e = {0};
    int rc = st_cp_tenant_get(api->db, name, copy_tenant, c, &e);
    if (rc) {
        tenant_copy_dispose(c);
        memset(c, 0, sizeof *c);
        if (!e.code)
            ed_error_set(&e, rc, "out of memory");
        return st_failed(res, "tenant_get", &e);
    }
    return 0;
}

static int tenant_update(struct dp_api *api, const char *name, const struct dp_request *req,
                         struct dp_response *res)
{
    json_t *body = body_object(req, res);
    if (!body)
        return 400;
    struct tenant_copy cur;
    int status = tenant_load(api, name, &cur, res);
    char *ra_text = NULL, *q_text = NULL;
    json_t *stored = NULL;
    if (status)
        goto out;
    const char *allowed[] = {"quotas", "status", "cordon", "routes_allowed"};
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t i = 0;
        while (i < 4 && strcmp(allowed[i], key) != 0)
            i++;
        if (i == 4) {
            status = dp__error(res, 400,
                               "unknown field %s (quotas, status, cordon, "
                               "routes_allowed)",
                               key);
            goto out;
        }
    }
    struct st_tenant t = {.name = name};
    if ((status = tenant_fields(body, &t, &ra_text, res)))
        goto out;
    json_t *q = json_object_get(body, "quotas");
    if (q) {
        stored = json_loads(cur.quotas, 0, NULL);
        if (!json_is_object(stored)) {
            json_decref(stored);
            stored = json_object();
        }
        if ((status = merge_quotas(stored, q, res)))
            goto out;
        if (!(q_text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS))) {
            status = dp__error(res, 500, "out of memory");
            goto out;
        }
        t.quotas = q_text;
    }
    struct ed_error e = {0};
    if (st_cp_tenant_update(api->db, &t, &e)) {
        status = st_failed(res, "tenant_update", &e);
        goto out;
    }
    if (t.status && strcmp(t.status, cur.status) != 0)
        ED_INFO("event=tenant_%s tenant=%s",
                strcmp(t.status, "active") == 0 ? "resumed" : "suspended", name);
    tenant_copy_dispose(&cur);
    status = tenant_load(api, name, &cur, res);
    if (status == 0) {
        status = dp__json(res, 200, cur.json);
        cur.json = NULL;
    }
out:
    tenant_copy_dispose(&cur);
    json_decref(stored);
    free(ra_text);
    free(q_text);
    json_decref(body);
    return status;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) != 0)
        ED_WARN("event=tenant_files_left path=\"%s\"", path);
    return 0;
}

static int tenant_delete(struct dp_api *api, const char *name, struct dp_response *res)
{
    struct ed_error e = {0};
    if (st_cp_tenant_delete(api->db, name, &e))
        return st_failed(res, "tenant_delete", &e);
    /* name passed dp__name_ok: the path stays inside DATA/tenants */
    char *dir = NULL;
    if (asprintf(&dir, "%s/tenants/%s", api->data_dir, name) >= 0) {
        struct stat st;
        if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
    }
    ED_INFO("event=tenant_deleted tenant=%s", name);
    return no_content(res);
}

/* ---- tokens ---------------------------------------------------------------------------------- */

static int list_token(void *ud, const struct st_token *t)
{
    json_t *j =
        json_pack("{s:s, s:s, s:o, s:o, s:b}", "id", t->id, "label", t->label, "created",
                  iso_time(t->created), "last_used", iso_time(t->last_used), "revoked", t->revoked);
    return j && json_array_append_new(ud, j) == 0 ? 0 : ED_ENOMEM;
}

static int tokens(struct dp_api *api, const char *tenant, const char *id,
                  const struct dp_request *req, struct dp_response *res)
{
    struct ed_error e = {0};
    if (!id && strcmp(req->method, "GET") == 0) {
        json_t *a = json_array();
        int rc = a ? st_cp_tokens_list(api->db, tenant, list_token, a, &e) : ED_ENOMEM;
        if (rc) {
            json_decref(a);
            if (!e.code)
                ed_error_set(&e, rc, "out of memory");
            return st_failed(res, "tokens_list", &e);
        }
        return dp__json(res, 200, json_pack("{s:o}", "tokens", a));
    }
    if (!id && strcmp(req->method, "POST") == 0) {
        json_t *body = body_object(req, res);
        if (!body)
            return 400;
        json_t *lv = json_object_get(body, "label");
        const char *label = lv ? json_string_value(lv) : "";
        if (!label || strlen(label) > MAX_LABEL || json_object_size(body) > (lv ? 1u : 0u)) {
            json_decref(body);
            return dp__error(res, 400,
                             "the body may hold only a label (a string of at most %d "
                             "bytes)",
                             MAX_LABEL);
        }
        char tok[DP__TOKEN_LEN + 1], tid[DP__TOKEN_ID_LEN];
        uint8_t h[32];
        struct st_token t = {.id = tid, .tenant = tenant, .label = label};
        int status;
        if (dp__token_make("edtk_", tok, tid, h, &e) || st_cp_token_add(api->db, &t, h, &e))
            status = st_failed(res, "token_add", &e);
        else
            status = dp__json(
                res, 201, json_pack("{s:s, s:s, s:s}", "id", tid, "token", tok, "label", label));
        memset(tok, 0, sizeof tok);
        json_decref(body);
        return status;
    }
    if (id && strcmp(req->method, "DELETE") == 0) {
        if (st_cp_token_revoke(api->db, tenant, id, &e))
            return st_failed(res, "token_revoke", &e);
        return no_content(res);
    }
    return dp__error(res, 405, "method not allowed");
}

/* ---- workers --------------------------------------------------------------------------------- */

static int list_worker(void *ud, const struct st_worker_info *w)
{
    json_t *j = json_pack("{s:s, s:I, s:o}", "name", w->name, "version",
                          (json_int_t)w->live_version, "deployed", iso_time(w->deployed));
    return j && json_array_append_new(ud, j) == 0 ? 0 : ED_ENOMEM;
}

static int list_version(void *ud, const struct st_version_info *v)
{
    json_t *j = json_pack("{s:I, s:o, s:I, s:b}", "version", (json_int_t)v->version, "created",
                          iso_time(v->created), "bytes", (json_int_t)v->bytes, "live", v->live);
    return j && json_array_append_new(ud, j) == 0 ? 0 : ED_ENOMEM;
}

static int listing(struct dp_response *res, const char *key, json_t *a, int rc, struct ed_error *e,
                   const char *op)
{
    if (rc) {
        json_decref(a);
        if (!e->code)
            ed_error_set(e, rc, "out of memory");
        return st_failed(res, op, e);
    }
    return dp__json(res, 200, json_pack("{s:o}", key, a));
}

static int workers(struct dp_api *api, const struct st_tenant *t, const char *worker,
                   const char *what, const struct dp_request *req, struct dp_response *res)
{
    struct ed_error e = {0};
    const char *m = req->method;
    if (!worker) {
        if (strcmp(m, "GET") != 0)
            return dp__error(res, 405, "method not allowed");
        json_t *a = json_array();
        int rc = a ? st_cp_workers_list(api->db, t->name, list_worker, a, &e) : ED_ENOMEM;
        return listing(res, "workers", a, rc, &e, "workers_list");
    }
    if (!dp__name_ok(worker, strlen(worker)))
        return dp__error(res, 400,
                         "a worker's name is 1 to 63 letters, digits, '-', '_' or '.', not "
                         "starting with '.'");
    if (!what) {
        if (strcmp(m, "PUT") == 0)
            return dp__deploy(api, t, worker, req, res);
        if (strcmp(m, "DELETE") == 0) {
            if (st_cp_worker_delete(api->db, t->name, worker, &e))
                return st_failed(res, "worker_delete", &e);
            ED_INFO("event=worker_deleted tenant=%s worker=%s", t->name, worker);
            return no_content(res);
        }
        return dp__error(res, 405, "method not allowed");
    }
    if (strcmp(what, "versions") == 0) {
        if (strcmp(m, "GET") != 0)
            return dp__error(res, 405, "method not allowed");
        json_t *a = json_array();
        int rc = a ? st_cp_versions_list(api->db, t->name, worker, list_version, a, &e) : ED_ENOMEM;
        return listing(res, "versions", a, rc, &e, "versions_list");
    }
    if (strcmp(what, "rollback") == 0) {
        if (strcmp(m, "POST") != 0)
            return dp__error(res, 405, "method not allowed");
        json_t *body = body_object(req, res);
        if (!body)
            return 400;
        json_t *v = json_object_get(body, "version");
        json_int_t version = json_is_integer(v) ? json_integer_value(v) : 0;
        json_decref(body);
        if (version < 1)
            return dp__error(res, 400, "the body must be {\"version\": N}, N a version number");
        if (st_cp_rollback(api->db, t->name, worker, version, &e))
            return st_failed(res, "rollback", &e);
        ED_INFO("event=rollback tenant=%s worker=%s version=%lld", t->name, worker,
                (long long)version);
        return dp__json(res, 200, json_pack("{s:s, s:I}", "worker", worker, "version", version));
    }
    return dp__error(res, 404, "no such endpoint");
}

/* ---- routes ---------------------------------------------------------------------------------- */

static int list_route(void *ud, const struct st_route *r)
{
    json_t *j = json_pack("{s:s, s:s}", "pattern", r->pattern, "worker", r->worker);
    return j && json_array_append_new(ud, j) == 0 ? 0 : ED_ENOMEM;
}

static int routes(struct dp_api *api, const struct st_tenant *t, const char *query, size_t qlen,
                  const struct dp_request *req, struct dp_response *res)
{
    struct ed_error e = {0};
    const char *m = req->method;
    char norm[DP__PATTERN_MAX + 1];
    if (strcmp(m, "GET") == 0) {
        json_t *a = json_array();
        int rc = a ? st_cp_routes_list(api->db, t->name, list_route, a, &e) : ED_ENOMEM;
        return listing(res, "routes", a, rc, &e, "routes_list");
    }
    if (strcmp(m, "DELETE") == 0) {
        char raw[DP__PATTERN_MAX + 1];
        if (query_get(query, qlen, "pattern", raw, sizeof raw) != 1)
            return dp__error(res, 400, "name the route: DELETE .../routes?pattern=P");
        if (dp__pattern_normalize(raw, strlen(raw), norm, &e))
            return st_failed(res, "route", &e);
        if (st_cp_route_delete(api->db, t->name, norm, &e))
            return st_failed(res, "route_delete", &e);
        return no_content(res);
    }
    if (strcmp(m, "PUT") != 0 && strcmp(m, "POST") != 0)
        return dp__error(res, 405, "method not allowed");
    json_t *body = body_object(req, res);
    if (!body)
        return 400;
    int status;
    json_t *pv = json_object_get(body, "pattern");
    const char *worker = json_string_value(json_object_get(body, "worker"));
    if (!json_is_string(pv) || !worker) {
        status = dp__error(res, 400, "the body must be {\"pattern\": P, \"worker\": W}");
        goto out;
    }
    if (dp__pattern_normalize(json_string_value(pv), json_string_length(pv), norm, &e)) {
        status = st_failed(res, "route", &e);
        goto out;
    }
    json_t *allowed = json_loads(t->routes_allowed, 0, NULL);
    bool ok = false;
    size_t i;
    json_t *a;
    json_array_foreach(allowed, i, a)
    {
        if (json_is_string(a) && dp__pattern_within(norm, json_string_value(a)))
            ok = true;
    }
    json_decref(allowed);
    if (!ok) {
        status = dp__error(res, 403,
                           "route %s is not within the routes tenant %s is allowed "
                           "(routes_allowed, set by the operator)",
                           norm, t->name);
        goto out;
    }
    struct st_route r = {.pattern = norm, .tenant = t->name, .worker = worker};
    if (st_cp_route_put(api->db, &r, &e)) {
        status = st_failed(res, "route_put", &e);
        goto out;
    }
    ED_INFO("event=route_bound tenant=%s worker=%s pattern=\"%s\"", t->name, worker, norm);
    status = dp__json(res, 201, json_pack("{s:s, s:s}", "pattern", norm, "worker", worker));
out:
    json_decref(body);
    return status;
}

/* ---- usage, whoami ----------------------------------------------------------------------------- */

static bool day_ok(const char *d)
{
    if (strlen(d) != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
            return false;
    return true;
}

/* Adds what each listed tenant's durable objects hold now ("storage_bytes", "objects": gauges,
 * not sums over the day) to the usage JSON *json (replaced). Returns 0 or ED_ENOMEM. */
static int add_storage(struct dp_api *api, char **json)
{
    json_t *root = json_loads(*json, 0, NULL);
    json_t *tenants = json_object_get(root, "tenants");
    const char *name;
    json_t *t;
    json_object_foreach(tenants, name, t)
    {
        uint64_t bytes, objects;
        if (api->storage(api->ud, name, &bytes, &objects) == 0) {
            json_object_set_new(t, "storage_bytes", json_integer((json_int_t)bytes));
            json_object_set_new(t, "objects", json_integer((json_int_t)objects));
        }
    }
    char *out = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!out)
        return ED_ENOMEM;
    free(*json);
    *json = out;
    return 0;
}

static int usage(struct dp_api *api, const struct dp__caller *caller, const char *q, size_t qlen,
                 struct dp_response *res)
{
    char tenant[128], day[16];
    int one = query_get(q, qlen, "tenant", tenant, sizeof tenant);
    int has_day = query_get(q, qlen, "day", day, sizeof day);
    if (one < 0 || has_day < 0)
        return dp__error(res, 400, "malformed query");
    if (!caller->operator) {
        if (one && strcmp(tenant, caller->tenant) != 0)
            return dp__error(res, 403, "a tenant's token reads only its own usage");
        snprintf(tenant, sizeof tenant, "%s", caller->tenant);
        one = 1;
    }
    if (!has_day)
        st_day(time(NULL), day);
    if (!day_ok(day))
        return dp__error(res, 400, "day must be YYYY-MM-DD");
    char *json = NULL;
    struct ed_error e = {0};
    if (st_usage_json(api->db, one ? tenant : NULL, day, &json, &e))
        return st_failed(res, "usage", &e);
    char today[ST_DAY_LEN];
    if (api->storage && strcmp(day, st_day(time(NULL), today)) == 0 && add_storage(api, &json))
        return dp__error(res, 500, "out of memory");
    size_t n = strlen(json);
    char *b = realloc(json, n + 2);
    if (!b) {
        free(json);
        return dp__error(res, 500, "out of memory");
    }
    memcpy(b + n, "\n", 2);
    res->status = 200;
    res->body = b;
    res->body_len = n + 1;
    return 200;
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static bool is(const char *seg, const char *s)
{
    return seg && strcmp(seg, s) == 0;
}

static bool method(const struct dp_request *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

/* /v1/tenants/T/...: seg[2] is T. */
static int tenant_scope(struct dp_api *api, const struct dp__caller *caller, char **seg, int n,
                        const char *q, size_t qlen, const struct dp_request *req,
                        struct dp_response *res)
{
    const char *name = seg[2];
    if (!caller->operator&& strcmp(name, caller->tenant) != 0)
        return dp__error(res, 403, "this token belongs to another tenant");
    if (!dp__name_ok(name, strlen(name)))
        return dp__error(res, 404, "no tenant %s", name);
    if (caller->site)
        return dp__error(res, 404,
                         "tenant %s comes from the tenants directory (tenant.conf), not the "
                         "control plane",
                         name);
    if (n == 3) {
        if (method(req, "PATCH") || method(req, "DELETE")) {
            if (!caller->operator)
                return dp__error(res, 403, "only the operator may change or delete a tenant");
            return method(req, "PATCH") ? tenant_update(api, name, req, res)
                                        : tenant_delete(api, name, res);
        }
        if (!method(req, "GET"))
            return dp__error(res, 405, "method not allowed");
    }
    struct tenant_copy c;
    int status = tenant_load(api, name, &c, res);
    if (status)
        return status;
    if (n == 3) {
        status = dp__json(res, 200, c.json);
        c.json = NULL;
        goto out;
    }
    bool reading = method(req, "GET");
    if (!caller->operator&& !reading && strcmp(c.status, "active") != 0) {
        status = dp__error(res, 403, "tenant %s is suspended", name);
        goto out;
    }
    struct st_tenant t = {
        .name = name, .status = c.status, .quotas = c.quotas, .routes_allowed = c.routes_allowed};
    const char *what = seg[3];
    if (is(what, "tokens") && n <= 5)
        status = tokens(api, name, n == 5 ? seg[4] : NULL, req, res);
    else if (is(what, "workers") && n <= 6)
        status = workers(api, &t, n >= 5 ? seg[4] : NULL, n == 6 ? seg[5] : NULL, req, res);
    else if (is(what, "routes") && n == 4)
        status = routes(api, &t, q, qlen, req, res);
    else if (is(what, "logs") && n == 4)
        status = dp__error(res, 501, "logs are not available yet");
    else
        status = dp__error(res, 404, "no such endpoint");
out:
    tenant_copy_dispose(&c);
    return status;
}

static int route_request(struct dp_api *api, const struct dp__caller *caller, char **seg, int n,
                         const char *q, size_t qlen, const struct dp_request *req,
                         struct dp_response *res)
{
    if (n < 2 || !is(seg[0], "v1"))
        return dp__error(res, 404, "no such endpoint");
    if (n == 2 && is(seg[1], "whoami")) {
        if (!method(req, "GET"))
            return dp__error(res, 405, "use GET");
        return dp__json(res, 200,
                        json_pack("{s:o}", "tenant",
                                  caller->operator? json_null() : json_string(caller->tenant)));
    }
    if (n == 2 && is(seg[1], "usage")) {
        if (!method(req, "GET"))
            return dp__error(res, 405, "use GET");
        return usage(api, caller, q, qlen, res);
    }
    if (!is(seg[1], "tenants"))
        return dp__error(res, 404, "no such endpoint");
    if (n == 2) {
        if (!caller->operator)
            return dp__error(res, 403, "only the operator lists and creates tenants");
        if (method(req, "GET"))
            return tenants_list(api, res);
        if (method(req, "POST"))
            return tenants_create(api, req, res);
        return dp__error(res, 405, "method not allowed");
    }
    return tenant_scope(api, caller, seg, n, q, qlen, req, res);
}

void dp_handle(struct dp_api *api, const struct dp_request *req, struct dp_response *res)
{
    memset(res, 0, sizeof *res);
    struct dp__caller caller;
    if (authenticate(api, req, &caller, res))
        return;
    const char *t = req->target, *end = t + req->target_len;
    const char *qm = memchr(t, '?', req->target_len);
    const char *pend = qm ? qm : end;
    const char *q = qm ? qm + 1 : end;
    size_t qlen = (size_t)(end - q);
    /* segments of the path, each copied NUL-terminated */
    char buf[MAX_SEGMENTS * (MAX_SEGMENT + 1)];
    char *seg[MAX_SEGMENTS + 1] = {0};
    int n = 0;
    size_t o = 0;
    if (t == pend || *t != '/') {
        dp__error(res, 404, "no such endpoint");
        return;
    }
    const char *p = t + 1;
    while (p <= pend) {
        const char *s = memchr(p, '/', (size_t)(pend - p));
        const char *se = s ? s : pend;
        size_t sl = (size_t)(se - p);
        if (sl == 0 && !s && n > 0) /* a trailing slash */
            break;
        if (n == MAX_SEGMENTS || sl == 0 || sl > MAX_SEGMENT) {
            dp__error(res, 404, "no such endpoint");
            return;
        }
        memcpy(buf + o, p, sl);
        buf[o + sl] = '\0';
        seg[n++] = buf + o;
        o += sl + 1;
        if (!s)
            break;
        p = s + 1;
    }
    route_request(api, &caller, seg, n, q, qlen, req, res);
}

void dp_response_dispose(struct dp_response *res)
{
    free(res->body);
    memset(res, 0, sizeof *res);
}

int dp_api_new(const struct dp_config *cfg, struct dp_api **out, struct ed_error *err)
{
    if (!cfg || !cfg->db || !cfg->data_dir || !out)
        return ed_error_set(err, ED_EINVAL, "dp_api_new: no database or data directory");
    struct dp_api *api = calloc(1, sizeof *api);
    if (!api || !(api->data_dir = ed_strdup(cfg->data_dir))) {
        free(api);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    api->db = cfg->db;
    api->defaults = cfg->defaults;
    for (size_t i = 0; i < N_QUOTAS; i++) {
        uint64_t *f = quota_field(&api->defaults, i);
        if (*f == 0 || *f > quota_keys[i].max)
            *f = quota_keys[i].dflt;
    }
    api->site_token = cfg->site_token;
    api->site_tenant = cfg->site_tenant;
    api->storage = cfg->storage;
    api->ud = cfg->ud;
    *out = api;
    return 0;
}

void dp_api_free(struct dp_api *api)
{
    if (!api)
        return;
    free(api->data_dir);
    free(api);
}
