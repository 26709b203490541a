/*
 * End-to-end live deploys (issue 6): a real edged with --admin-listen, driven over real HTTP.
 * What the control plane holds is what the shards serve: a deploy through the admin API is
 * served on its route as soon as the answer says "live": true; a rollback serves the old
 * version again; a route change moves traffic; a suspended tenant's routes answer 503, a
 * deleted tenant's 404; quotas apply (CPU per request, requests per second); a request in
 * flight during a deploy finishes on the old version; a load of requests on 8 connections
 * during 20 deploys alternating two versions sees no error and only old-or-new bodies (the
 * issue's zero-downtime test, which prints the deploy latency: upload to live on all shards);
 * a durable object keeps its data across a deploy of its worker.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "e2e.h"

TestSuite(deploy, .fini = e2e_teardown, .timeout = 240);

static json_t *kept[1024];
static int n_kept;

static struct e2e_server *start(const char *threads)
{
    const char *tenants = e2e_tmpdir();
    cr_assert_not_null(tenants);
    return E2E_START("--tenants", tenants, "--threads", threads, "--admin-listen", "127.0.0.1:0");
}

static const char *operator_token(const struct e2e_server *s)
{
    char *t = e2e_read_file(e2e_fmt("%s/operator.token", s->data_dir), NULL);
    cr_assert_not_null(t, "%s", e2e_errmsg());
    t[strcspn(t, "\n")] = '\0';
    const char *out = e2e_fmt("%s", t);
    free(t);
    return out;
}

/* One request to the admin port; asserts the status; returns the JSON body (NULL for 204). */
static json_t *api_ct(struct e2e_server *s, const char *method, const char *path, const char *token,
                      const char *ctype, const char *body, int want)
{
    const char *hdr = e2e_fmt("Authorization: Bearer %s\r\n%sConnection: close\r\n", token,
                              ctype ? e2e_fmt("Content-Type: %s\r\n", ctype) : "");
    struct e2e_response r;
    int rc = e2e_request(s->admin_port, method, "127.0.0.1", path, hdr, body, &r);
    cr_assert_eq(rc, 0, "%s %s: %s", method, path, e2e_errmsg());
    cr_assert_eq(r.status, want, "%s %s: %d, expected %d: %.400s", method, path, r.status, want,
                 r.body);
    json_t *j = NULL;
    if (r.status != 204) {
        j = json_loads(r.body, 0, NULL);
        cr_assert_not_null(j, "%s %s: not JSON: %.300s", method, path, r.body);
        if (n_kept < 1024)
            kept[n_kept++] = j;
    }
    e2e_response_dispose(&r);
    return j;
}

static json_t *api(struct e2e_server *s, const char *method, const char *path, const char *token,
                   const char *json, int want)
{
    return api_ct(s, method, path, token, json ? "application/json" : NULL, json, want);
}

static const char *str(json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v ? v : "";
}

/* A multipart upload: metadata, then NAME=SOURCE pairs (NULL-terminated), typed by extension. */
static const char *upload(const char *meta, ...)
{
    struct ed_buf b;
    ed_buf_init(&b);
    ed_buf_appendf(&b,
                   "--e2eBoundary\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
                   "Content-Type: application/json\r\n\r\n%s\r\n",
                   meta);
    va_list ap;
    va_start(ap, meta);
    const char *name;
    while ((name = va_arg(ap, const char *))) {
        const char *src = va_arg(ap, const char *);
        ed_buf_appendf(&b,
                       "--e2eBoundary\r\nContent-Disposition: form-data; name=\"%s\"; "
                       "filename=\"%s\"\r\n\r\n%s\r\n",
                       name, name, src);
    }
    va_end(ap);
    ed_buf_appends(&b, "--e2eBoundary--\r\n");
    const char *out = e2e_fmt("%s", b.data);
    ed_buf_dispose(&b);
    return out;
}

/* Deploys and asserts the answer says the version is live on every shard. */
static json_t *deploy(struct e2e_server *s, const char *tenant, const char *worker,
                      const char *token, const char *body)
{
    json_t *j = api_ct(s, "PUT", e2e_fmt("/v1/tenants/%s/workers/%s", tenant, worker), token,
                       "multipart/form-data; boundary=e2eBoundary", body, 201);
    cr_expect(json_is_true(json_object_get(j, "live")), "not live: %s", json_dumps(j, 0));
    return j;
}

#define META "{\"main_module\": \"index.js\", \"compatibility_date\": \"2026-01-01\"}"
/* A worker answering text; /slow answers it after 400 ms. */
#define WORKER(text)                                                                 \
    "export default { async fetch(req) {\n"                                          \
    "  if (req.url.endsWith('/slow')) await new Promise(r => setTimeout(r, 400));\n" \
    "  if (req.url.endsWith('/env')) return new Response(env_of(req));\n"            \
    "  return new Response(" text ");\n"                                             \
    "} };\n"                                                                         \
    "function env_of() { return ''; }\n"

/* An operator, and a tenant allowed *.NAME.test with its token. */
static const char *tenant(struct e2e_server *s, const char *op, const char *name,
                          const char *quotas)
{
    json_t *j = api(s, "POST", "/v1/tenants", op,
                    e2e_fmt("{\"name\": \"%s\", \"routes_allowed\": [\"*.%s.test\", "
                            "\"%s.test\"]%s%s}",
                            name, name, name, quotas ? ", \"quotas\": " : "", quotas ? quotas : ""),
                    201);
    return e2e_fmt("%s", str(j, "token"));
}

static json_t *route(struct e2e_server *s, const char *tenant, const char *token,
                     const char *pattern, const char *worker)
{
    json_t *j = api(s, "PUT", e2e_fmt("/v1/tenants/%s/routes", tenant), token,
                    e2e_fmt("{\"pattern\": \"%s\", \"worker\": \"%s\"}", pattern, worker), 201);
    cr_expect(json_is_true(json_object_get(j, "live")), "not live: %s", json_dumps(j, 0));
    return j;
}

static void expect_get(struct e2e_server *s, const char *host, const char *path, int status,
                       const char *body)
{
    struct e2e_response r;
    E2E_GET(s->port, host, path, &r);
    cr_expect_eq(r.status, status, "GET %s%s: %d, expected %d: %.300s", host, path, r.status,
                 status, r.body);
    if (body)
        cr_expect(strstr(r.body, body), "GET %s%s: body %.300s lacks %s", host, path, r.body, body);
    e2e_response_dispose(&r);
}

Test(deploy, a_deploy_is_served_rolled_back_and_rerouted_live)
{
    struct e2e_server *s = start("2");
    const char *op = operator_token(s);
    const char *tok = tenant(s, op, "acme", NULL);

    expect_get(s, "acme.test", "/", 404, NULL);
    deploy(s, "acme", "api", tok, upload(META, "index.js", WORKER("'one'"), NULL));
    route(s, "acme", tok, "acme.test/*", "api");
    /* both shards serve it (connections spread over them) */
    for (int i = 0; i < 8; i++)
        expect_get(s, "acme.test", "/", 200, "one");

    /* a request in flight when the next version goes live finishes on the old one */
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "GET /slow HTTP/1.1\r\nHost: acme.test\r\n\r\n");
    e2e_sleep_ms(100);
    deploy(s, "acme", "api", tok, upload(META, "index.js", WORKER("'two'"), NULL));
    expect_get(s, "acme.test", "/", 200, "two");
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "one");
    e2e_response_dispose(&r);
    /* the same connection's next request sees the new version */
    E2E_SEND(c, "GET / HTTP/1.1\r\nHost: acme.test\r\n\r\n");
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "two");
    e2e_response_dispose(&r);
    e2e_close(c);

    /* rollback serves the old version */
    json_t *j =
        api(s, "POST", "/v1/tenants/acme/workers/api/rollback", tok, "{\"version\": 1}", 200);
    cr_expect(json_is_true(json_object_get(j, "live")), "%s", json_dumps(j, 0));
    for (int i = 0; i < 4; i++)
        expect_get(s, "acme.test", "/", 200, "one");

    /* a route change moves traffic: to another worker, then a path of its own */
    deploy(s, "acme", "web", tok, upload(META, "index.js", WORKER("'web'"), NULL));
    expect_get(s, "acme.test", "/", 200, "one");
    route(s, "acme", tok, "acme.test/*", "web");
    for (int i = 0; i < 4; i++)
        expect_get(s, "acme.test", "/", 200, "web");
    route(s, "acme", tok, "acme.test/api*", "api");
    expect_get(s, "acme.test", "/api/x", 200, "one");
    expect_get(s, "acme.test", "/x", 200, "web");
    api(s, "DELETE", "/v1/tenants/acme/routes?pattern=acme.test%2Fapi*", tok, NULL, 204);
    e2e_sleep_ms(50); /* a 204 has no body to say "live": the builder follows within ms */
    for (int i = 0; i < 100; i++) {
        struct e2e_response q;
        E2E_GET(s->port, "acme.test", "/api/x", &q);
        bool moved = strstr(q.body, "web") != NULL;
        e2e_response_dispose(&q);
        if (moved)
            break;
        e2e_sleep_ms(20);
    }
    expect_get(s, "acme.test", "/api/x", 200, "web");

    /* bindings: plain_text and secret_text reach env */
    deploy(s, "acme", "api", tok,
           upload("{\"main_module\": \"index.js\", \"bindings\": ["
                  "{\"type\": \"plain_text\", \"name\": \"GREETING\", \"text\": \"hi\"},"
                  "{\"type\": \"secret_text\", \"name\": \"KEY\", \"text\": \"s3cret\"}]}",
                  "index.js",
                  "export default { fetch(req, env) { return new Response(env.GREETING + ' ' + "
                  "env.KEY.length); } };\n",
                  NULL));
    route(s, "acme", tok, "api.acme.test/*", "api");
    expect_get(s, "api.acme.test", "/", 200, "hi 6");
    E2E_STOP_OK(s);
}

Test(deploy, tenant_status_and_quotas_apply_to_its_routes)
{
    struct e2e_server *s = start("2");
    const char *op = operator_token(s);
    const char *tok = tenant(s, op, "acme", "{\"cpu_ms\": 20}");
    deploy(s, "acme", "api", tok,
           upload(META, "index.js",
                  "export default { fetch(req) {\n"
                  "  if (req.url.endsWith('/spin')) { for (;;) {} }\n"
                  "  return new Response('ok');\n"
                  "} };\n",
                  NULL));
    route(s, "acme", tok, "acme.test/*", "api");
    expect_get(s, "acme.test", "/", 200, "ok");
    /* cpu_ms from the control plane */
    expect_get(s, "acme.test", "/spin", 503, "CPU time limit (20 ms)");
    expect_get(s, "acme.test", "/", 200, "ok");

    /* suspended: 503 with a clear body; active again: served */
    json_t *j = api(s, "PATCH", "/v1/tenants/acme", op, "{\"status\": \"suspended\"}", 200);
    cr_expect(json_is_true(json_object_get(j, "live")), "%s", json_dumps(j, 0));
    expect_get(s, "acme.test", "/", 503, "Tenant acme is suspended");
    api(s, "PATCH", "/v1/tenants/acme", op, "{\"status\": \"active\"}", 200);
    expect_get(s, "acme.test", "/", 200, "ok");

    /* requests_per_s: a burst beyond it gets 429 */
    api(s, "PATCH", "/v1/tenants/acme", op, "{\"quotas\": {\"requests_per_s\": 5}}", 200);
    int ok = 0, limited = 0;
    struct e2e_conn *c = E2E_CONNECT(s->port);
    for (int i = 0; i < 20; i++) {
        struct e2e_response r;
        E2E_SEND(c, "GET / HTTP/1.1\r\nHost: acme.test\r\n\r\n");
        E2E_READ(c, &r, 0);
        if (r.status == 200)
            ok++;
        else if (r.status == 429 && strstr(r.body, "rate limit (5 requests/s)"))
            limited++;
        e2e_response_dispose(&r);
    }
    e2e_close(c);
    cr_expect(ok >= 5 && ok <= 7, "%d requests of a burst of 20 passed a 5/s limit", ok);
    cr_expect_eq(ok + limited, 20, "ok %d, limited %d", ok, limited);
    e2e_sleep_ms(1100);
    expect_get(s, "acme.test", "/", 200, "ok");

    /* deleted: its routes are gone */
    api(s, "DELETE", "/v1/tenants/acme", op, NULL, 204);
    for (int i = 0; i < 100; i++) {
        struct e2e_response r;
        E2E_GET(s->port, "acme.test", "/", &r);
        int st = r.status;
        e2e_response_dispose(&r);
        if (st == 404)
            break;
        e2e_sleep_ms(20);
    }
    expect_get(s, "acme.test", "/", 404, NULL);
    E2E_STOP_OK(s);
}

/* ---- zero downtime ------------------------------------------------------------------------ */

#define LOAD_CONNS 8
#define LOAD_MAX_REQUESTS 20000 /* per connection */

struct load {
    int port;
    atomic_bool *stop;
    int ok, errors, other;
    char first_error[200];
};

static void *load_thread(void *arg)
{
    struct load *l = arg;
    struct e2e_conn *c = NULL;
    uint64_t until = e2e_now_ms() + 120000;
    for (int i = 0; i < LOAD_MAX_REQUESTS && !atomic_load(l->stop) && e2e_now_ms() < until; i++) {
        if (!c && !(c = e2e_connect(l->port))) {
            l->errors++;
            snprintf(l->first_error, sizeof l->first_error, "connect: %s", e2e_errmsg());
            break;
        }
        struct e2e_response r;
        if (e2e_sends(c, "GET / HTTP/1.1\r\nHost: zd.test\r\n\r\n") != 0 ||
            e2e_read_response(c, &r, 0, 10000) != 0) {
            if (!l->errors++)
                snprintf(l->first_error, sizeof l->first_error, "request %d: %s", i, e2e_errmsg());
            e2e_close(c);
            c = NULL;
            continue;
        }
        if (r.status == 200 && (strcmp(r.body, "A") == 0 || strcmp(r.body, "B") == 0)) {
            l->ok++;
        } else {
            if (!l->other++)
                snprintf(l->first_error, sizeof l->first_error, "status %d body %.100s", r.status,
                         r.body);
        }
        e2e_response_dispose(&r);
    }
    if (c)
        e2e_close(c);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(deploy, twenty_deploys_under_load_fail_no_request)
{
    struct e2e_server *s = start("2");
    const char *op = operator_token(s);
    const char *tok = tenant(s, op, "zd", NULL);
    const char *va = upload(META, "index.js", WORKER("'A'"), NULL);
    const char *vb = upload(META, "index.js", WORKER("'B'"), NULL);
    deploy(s, "zd", "api", tok, va);
    route(s, "zd", tok, "zd.test/*", "api");
    expect_get(s, "zd.test", "/", 200, "A");

    atomic_bool stop = false;
    struct load loads[LOAD_CONNS];
    pthread_t th[LOAD_CONNS];
    for (int i = 0; i < LOAD_CONNS; i++) {
        loads[i] = (struct load){.port = s->port, .stop = &stop};
        cr_assert_eq(pthread_create(&th[i], NULL, load_thread, &loads[i]), 0);
    }
    e2e_sleep_ms(100);
    uint64_t lat[20];
    for (int d = 0; d < 20; d++) {
        uint64_t t0 = e2e_now_ms();
        deploy(s, "zd", "api", tok, d % 2 ? va : vb);
        lat[d] = e2e_now_ms() - t0;
        /* once live, every new request sees the version just deployed */
        expect_get(s, "zd.test", "/", 200, d % 2 ? "A" : "B");
        e2e_sleep_ms(20);
    }
    atomic_store(&stop, true);
    int ok = 0, errors = 0, other = 0;
    for (int i = 0; i < LOAD_CONNS; i++) {
        pthread_join(th[i], NULL);
        ok += loads[i].ok;
        errors += loads[i].errors;
        other += loads[i].other;
        cr_expect(loads[i].errors == 0 && loads[i].other == 0, "connection %d: %s", i,
                  loads[i].first_error);
    }
    cr_expect_eq(errors, 0);
    cr_expect_eq(other, 0);
    cr_expect(ok > 100, "only %d requests ran during the deploys", ok);
    qsort(lat, 20, sizeof *lat, cmp_u64);
    printf("figures/deploy_live: 20 deploys under load (%d connections, %d requests, 0 errors): "
           "upload to live on all shards p50 %llu ms, max %llu ms\n",
           LOAD_CONNS, ok, (unsigned long long)lat[10], (unsigned long long)lat[19]);
    fflush(stdout);
    E2E_STOP_OK(s);
}

/* ---- durable objects across a deploy ------------------------------------------------------ */

#define DO_META                                                                                \
    "{\"main_module\": \"index.js\", \"bindings\": [{\"type\": \"durable_object_namespace\", " \
    "\"name\": \"COUNTERS\", \"class_name\": \"Counter\"}]}"
#define DO_WORKER(tag)                                                   \
    "import { DurableObject } from 'cloudflare:workers';\n"              \
    "export class Counter extends DurableObject {\n"                     \
    "  async inc() {\n"                                                  \
    "    const n = ((await this.ctx.storage.get('n')) ?? 0) + 1;\n"      \
    "    await this.ctx.storage.put('n', n);\n"                          \
    "    return " tag " + n;\n"                                          \
    "  }\n"                                                              \
    "}\n"                                                                \
    "export default { async fetch(req, env) {\n"                         \
    "  const stub = env.COUNTERS.get(env.COUNTERS.idFromName('one'));\n" \
    "  return new Response(await stub.inc());\n"                         \
    "} };\n"

Test(deploy, a_durable_object_keeps_its_data_across_a_deploy)
{
    struct e2e_server *s = start("2");
    const char *op = operator_token(s);
    const char *tok = tenant(s, op, "dob", NULL);
    deploy(s, "dob", "api", tok, upload(DO_META, "index.js", DO_WORKER("'v1:'"), NULL));
    route(s, "dob", tok, "dob.test/*", "api");
    expect_get(s, "dob.test", "/", 200, "v1:1");
    expect_get(s, "dob.test", "/", 200, "v1:2");
    deploy(s, "dob", "api", tok, upload(DO_META, "index.js", DO_WORKER("'v2:'"), NULL));
    expect_get(s, "dob.test", "/", 200, "v2:3");
    expect_get(s, "dob.test", "/", 200, "v2:4");
    api(s, "POST", "/v1/tenants/dob/workers/api/rollback", tok, "{\"version\": 1}", 200);
    expect_get(s, "dob.test", "/", 200, "v1:5");
    E2E_STOP_OK(s);
}

/* An object that keeps its count in memory (read from storage once, when it is built): two
 * live instances of it at once would hand out one number twice. */
#define DO_MEM_WORKER(tag)                                                                     \
    "import { DurableObject } from 'cloudflare:workers';\n"                                    \
    "export class Counter extends DurableObject {\n"                                           \
    "  constructor(ctx, env) {\n"                                                              \
    "    super(ctx, env);\n"                                                                   \
    "    ctx.blockConcurrencyWhile(async () => { this.n = (await ctx.storage.get('n')) ?? 0; " \
    "});\n"                                                                                    \
    "  }\n"                                                                                    \
    "  async inc() {\n"                                                                        \
    "    const n = ++this.n;\n"                                                                \
    "    await new Promise(r => setTimeout(r, 1));\n"                                          \
    "    await this.ctx.storage.put('n', n);\n"                                                \
    "    return " tag " + n;\n"                                                                \
    "  }\n"                                                                                    \
    "}\n"                                                                                      \
    "export default { async fetch(req, env) {\n"                                               \
    "  const stub = env.COUNTERS.get(env.COUNTERS.idFromName('hot'));\n"                       \
    "  return new Response(await stub.inc());\n"                                               \
    "} };\n"

#define DO_CONNS 4
#define DO_MAX_REQUESTS 3000

struct do_load {
    int port;
    atomic_bool *stop;
    int n, errors;
    int *seen; /* numbers handed out to this connection */
    char first_error[200];
};

static void *do_load_thread(void *arg)
{
    struct do_load *l = arg;
    struct e2e_conn *c = e2e_connect(l->port);
    uint64_t until = e2e_now_ms() + 60000;
    for (int i = 0; c && i < DO_MAX_REQUESTS && !atomic_load(l->stop) && e2e_now_ms() < until;
         i++) {
        struct e2e_response r;
        if (e2e_sends(c, "GET / HTTP/1.1\r\nHost: hot.test\r\n\r\n") != 0 ||
            e2e_read_response(c, &r, 0, 10000) != 0) {
            if (!l->errors++)
                snprintf(l->first_error, sizeof l->first_error, "%s", e2e_errmsg());
            break;
        }
        const char *colon = strchr(r.body, ':');
        if (r.status != 200 || !colon) {
            if (!l->errors++)
                snprintf(l->first_error, sizeof l->first_error, "status %d body %.100s", r.status,
                         r.body);
        } else {
            l->seen[l->n++] = atoi(colon + 1);
        }
        e2e_response_dispose(&r);
    }
    if (c)
        e2e_close(c);
    return NULL;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

Test(deploy, a_busy_durable_object_has_one_live_instance_across_deploys)
{
    struct e2e_server *s = start("2");
    const char *op = operator_token(s);
    const char *tok = tenant(s, op, "hot", NULL);
    const char *v1 = upload(DO_META, "index.js", DO_MEM_WORKER("'v1:'"), NULL);
    const char *v2 = upload(DO_META, "index.js", DO_MEM_WORKER("'v2:'"), NULL);
    deploy(s, "hot", "api", tok, v1);
    route(s, "hot", tok, "hot.test/*", "api");
    expect_get(s, "hot.test", "/", 200, "v1:1");

    atomic_bool stop = false;
    struct do_load loads[DO_CONNS];
    pthread_t th[DO_CONNS];
    for (int i = 0; i < DO_CONNS; i++) {
        loads[i] = (struct do_load){.port = s->port, .stop = &stop};
        loads[i].seen = calloc(DO_MAX_REQUESTS, sizeof(int));
        cr_assert_eq(pthread_create(&th[i], NULL, do_load_thread, &loads[i]), 0);
    }
    for (int d = 0; d < 10; d++) {
        e2e_sleep_ms(30);
        deploy(s, "hot", "api", tok, d % 2 ? v1 : v2);
    }
    e2e_sleep_ms(30);
    atomic_store(&stop, true);
    int total = 0;
    int *all = calloc(DO_CONNS * DO_MAX_REQUESTS, sizeof(int));
    for (int i = 0; i < DO_CONNS; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(loads[i].errors, 0, "connection %d: %s", i, loads[i].first_error);
        memcpy(all + total, loads[i].seen, (size_t)loads[i].n * sizeof(int));
        total += loads[i].n;
        free(loads[i].seen);
    }
    qsort(all, (size_t)total, sizeof(int), cmp_int);
    int dups = 0;
    for (int i = 1; i < total; i++)
        dups += all[i] == all[i - 1];
    cr_expect_eq(dups, 0, "%d numbers were handed out twice: two live instances at once", dups);
    cr_expect(total > 20, "only %d calls ran", total);
    if (total)
        cr_expect_eq(all[total - 1], total + 1, "the count %d after %d calls (+1 before)",
                     all[total - 1], total);
    free(all);
    /* idle now: the version deployed next takes the object, with its count */
    deploy(s, "hot", "api", tok, upload(DO_META, "index.js", DO_MEM_WORKER("'v3:'"), NULL));
    expect_get(s, "hot.test", "/", 200, e2e_fmt("v3:%d", total + 2));
    E2E_STOP_OK(s);
}
