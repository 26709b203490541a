/*
 * End-to-end limits of edged: oversized headers (431) and bodies (413), slowloris and idle
 * connections timed out without blocking anyone else, and hostile workers — an endless loop,
 * a memory bomb, a thrower, a module that does not parse — each failing only its own request
 * with the documented status while the isolate is retired and every other tenant keeps being
 * served. The noisy-neighbour test runs all of them at once next to a healthy tenant.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

TestSuite(limits, .fini = e2e_teardown, .timeout = 60);

/* clang-format off */
static const char HELLO_JS[] =
    "export default {\n"
    "  async fetch(request, env, ctx) { return new Response('hello world\\n'); }\n"
    "};\n";

static const char TEXT_ECHO_JS[] =
    "export default {\n"
    "  async fetch(request) {\n"
    "    const t = await request.text();\n"
    "    return new Response(request.method + ' ' + t.length);\n"
    "  }\n"
    "};\n";

static const char HEALTHY_JS[] =
    E2E_JS_PATHOF
    "let served = 0;\n"
    "export default {\n"
    "  async fetch(request) { served++; return new Response('healthy:' + pathOf(request.url)); }\n"
    "};\n";

/* /count answers how many requests this isolate has counted; anything else spins forever. */
static const char LOOP_JS[] =
    E2E_JS_PATHOF
    "let n = 0;\n"
    "export default {\n"
    "  fetch(request) {\n"
    "    if (pathOf(request.url) === '/count') return new Response(String(++n));\n"
    "    while (true) {}\n"
    "  }\n"
    "};\n";

/* /count as above; anything else keeps allocating reachable arrays (80 KB each). */
static const char BOMB_JS[] =
    E2E_JS_PATHOF
    "let n = 0;\n"
    "export default {\n"
    "  async fetch(request) {\n"
    "    if (pathOf(request.url) === '/count') return new Response(String(++n));\n"
    "    const keep = [];\n"
    "    for (let i = 0; i < 1e7; i++) keep.push(new Array(10000).fill(i));\n"
    "    return new Response('survived ' + keep.length);\n"
    "  }\n"
    "};\n";

#define SECRET "kaboom-secret-7781"

static const char THROW_JS[] =
    E2E_JS_PATHOF
    "export default {\n"
    "  async fetch(request) {\n"
    "    if (pathOf(request.url) === '/async') { await null; throw new Error('" SECRET "-a'); }\n"
    "    throw new Error('" SECRET "');\n"
    "  }\n"
    "};\n";
/* clang-format on */

/* A tenants dir with the given tenants; each entry: name, conf, worker source. */
struct tenant_spec {
    const char *name, *conf, *js;
};

static const char *write_tenants(const struct tenant_spec *t, size_t n)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(e2e_tenant(dir, t[i].name, t[i].conf, "main", t[i].js), 0, "%s", e2e_errmsg());
    return dir;
}

static const char *hello_tenants(void)
{
    const struct tenant_spec t[] = {
        {"web", "route = hello.test main\n", HELLO_JS},
        {"text", "route = text.test main\n", TEXT_ECHO_JS},
    };
    return write_tenants(t, 2);
}

static void expect_hello(int port)
{
    struct e2e_response r;
    E2E_GET(port, "hello.test", "/", &r);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
}

/* Sends raw on a fresh connection and reads one response (5 s). */
static void send_and_read(int port, const char *raw, struct e2e_response *r)
{
    struct e2e_conn *c = E2E_CONNECT(port);
    int rc = e2e_sends(c, raw);
    /* The server may answer and close before it has read everything; the response is still
     * readable, so only a failed read is fatal. */
    int rd = e2e_read_response(c, r, 0, 5000);
    cr_assert_eq(rd, 0, "no response (send rc %d): %s", rc, e2e_errmsg());
    e2e_close(c);
}

Test(limits, header_over_limit_is_431)
{
    struct e2e_server *s = E2E_START("--tenants", hello_tenants(), "--max-header-bytes", "16384");
    char *big = malloc(20001);
    cr_assert_not_null(big);
    memset(big, 'a', 20000);
    big[20000] = '\0';
    struct e2e_response r;
    send_and_read(s->port, e2e_fmt("GET / HTTP/1.1\r\nHost: hello.test\r\nX-Big: %s\r\n\r\n", big),
                  &r);
    free(big);
    cr_expect_eq(r.status, 431, "status %d, expected 431", r.status);
    e2e_response_dispose(&r);

    /* Under the limit is fine. */
    char mid[8001];
    memset(mid, 'b', 8000);
    mid[8000] = '\0';
    send_and_read(s->port, e2e_fmt("GET / HTTP/1.1\r\nHost: hello.test\r\nX-Mid: %s\r\n\r\n", mid),
                  &r);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(limits, declared_body_over_limit_is_413_before_the_body)
{
    struct e2e_server *s = E2E_START("--tenants", hello_tenants(), "--max-body-bytes", "1024");
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "POST / HTTP/1.1\r\nHost: text.test\r\nContent-Length: 1000000\r\n\r\n");
    /* No body is sent: the server has to decide on the headers alone. */
    struct e2e_response r;
    int rc = e2e_read_response(c, &r, 0, 3000);
    cr_assert_eq(rc, 0, "no answer to an oversized Content-Length: %s", e2e_errmsg());
    cr_expect_eq(r.status, 413, "status %d, expected 413", r.status);
    e2e_response_dispose(&r);
    e2e_close(c);

    /* Exactly at the limit is accepted. */
    char body[1025];
    memset(body, 'x', 1024);
    body[1024] = '\0';
    int rq = e2e_request(s->port, "POST", "text.test", "/", NULL, body, &r);
    cr_assert_eq(rq, 0, "%s", e2e_errmsg());
    E2E_EXPECT(&r, 200, "POST 1024");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(limits, chunked_body_over_limit_is_413)
{
    struct e2e_server *s = E2E_START("--tenants", hello_tenants(), "--max-body-bytes", "1024");
    char chunk[513];
    memset(chunk, 'y', 512);
    chunk[512] = '\0';
    const char *req = e2e_fmt("POST / HTTP/1.1\r\nHost: text.test\r\nTransfer-Encoding: chunked\r\n"
                              "\r\n200\r\n%s\r\n200\r\n%s\r\n200\r\n%s\r\n200\r\n%s\r\n0\r\n\r\n",
                              chunk, chunk, chunk, chunk);
    struct e2e_response r;
    send_and_read(s->port, req, &r);
    cr_expect_eq(r.status, 413, "status %d, expected 413", r.status);
    e2e_response_dispose(&r);
    expect_hello(s->port);
    E2E_STOP_OK(s);
}

Test(limits, slowloris_gets_408_and_does_not_block_others)
{
    struct e2e_server *s =
        E2E_START("--tenants", hello_tenants(), "--threads", "1", "--header-timeout-ms", "500");
    const char *req =
        "GET / HTTP/1.1\r\nHost: hello.test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    struct e2e_conn *c = E2E_CONNECT(s->port);
    uint64_t t0 = e2e_now_ms();
    bool other_served = false;
    size_t sent = 0;
    for (int i = 0; i < 30 && req[sent]; i++) {
        if (e2e_send(c, req + sent, 1) != 0)
            break; /* closed on us: read what it said */
        sent++;
        if (i == 2) {
            /* A normal client, meanwhile, on the same (only) shard. */
            uint64_t t1 = e2e_now_ms();
            expect_hello(s->port);
            cr_expect_lt(e2e_now_ms() - t1, 400, "normal request took %llu ms during slowloris",
                         (unsigned long long)(e2e_now_ms() - t1));
            other_served = true;
        }
        if (e2e_readable(c, 100))
            break;
    }
    cr_expect(other_served, "the normal client never ran");
    struct e2e_response r;
    int rc = e2e_read_response(c, &r, 0, 1000);
    uint64_t elapsed = e2e_now_ms() - t0;
    cr_assert_eq(rc, 0, "no 408 after %llu ms: %s", (unsigned long long)elapsed, e2e_errmsg());
    cr_expect_eq(r.status, 408, "status %d, expected 408", r.status);
    cr_expect_leq(elapsed, 1500, "408 took %llu ms with --header-timeout-ms 500",
                  (unsigned long long)elapsed);
    cr_expect_geq(elapsed, 400, "408 after only %llu ms", (unsigned long long)elapsed);
    e2e_response_dispose(&r);
    cr_expect_eq(e2e_wait_closed(c, 1000), 1, "connection left open after 408");
    e2e_close(c);
    expect_hello(s->port);
    E2E_STOP_OK(s);
}

Test(limits, idle_keep_alive_is_closed)
{
    struct e2e_server *s = E2E_START("--tenants", hello_tenants(), "--idle-timeout-ms", "400");
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "GET / HTTP/1.1\r\nHost: hello.test\r\n\r\n");
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    uint64_t t0 = e2e_now_ms();
    cr_expect_eq(e2e_wait_closed(c, 150), 0, "closed before the idle timeout");
    cr_assert_eq(e2e_wait_closed(c, 3000), 1, "idle connection still open after 3 s");
    uint64_t idle = e2e_now_ms() - t0;
    cr_expect_geq(idle, 300, "closed after %llu ms idle (timeout 400)", (unsigned long long)idle);
    cr_expect_leq(idle, 1500, "closed after %llu ms idle (timeout 400)", (unsigned long long)idle);
    cr_expect_eq(c->len, 0, "an idle close sends nothing, got: %s", c->buf);
    e2e_close(c);

    /* A connection that never sends a byte is idle too. */
    c = E2E_CONNECT(s->port);
    cr_expect_eq(e2e_wait_closed(c, 3000), 1, "silent connection still open after 3 s");
    e2e_close(c);
    expect_hello(s->port);
    E2E_STOP_OK(s);
}

static const char *get_body(int port, const char *host, const char *path, int want_status)
{
    struct e2e_response r;
    E2E_GET(port, host, path, &r);
    cr_expect_eq(r.status, want_status, "%s%s: status %d, expected %d (body %.200s)", host, path,
                 r.status, want_status, r.body);
    const char *body = e2e_fmt("%s", r.body);
    e2e_response_dispose(&r);
    return body;
}

Test(limits, endless_loop_is_503_and_isolate_is_fresh_after)
{
    const struct tenant_spec t[] = {
        {"web", "route = hello.test main\n", HELLO_JS},
        {"loop", "route = loop.test main\n", LOOP_JS},
    };
    struct e2e_server *s =
        E2E_START("--tenants", write_tenants(t, 2), "--threads", "1", "--cpu-ms", "50");
    cr_expect_str_eq(get_body(s->port, "loop.test", "/count", 200), "1");
    cr_expect_str_eq(get_body(s->port, "loop.test", "/count", 200), "2");
    for (int round = 0; round < 2; round++) {
        uint64_t t0 = e2e_now_ms();
        const char *body = get_body(s->port, "loop.test", "/spin", 503);
        uint64_t took = e2e_now_ms() - t0;
        cr_expect(strcasestr(body, "CPU"), "503 body does not name the CPU limit: %s", body);
        cr_expect_leq(took, 2000, "while(true) ran %llu ms with --cpu-ms 50",
                      (unsigned long long)took);
        cr_expect_str_eq(get_body(s->port, "loop.test", "/count", 200), "1",
                         "the isolate was reused after a CPU kill (round %d)", round);
    }
    expect_hello(s->port);
    cr_expect(e2e_server_alive(s), "%s", e2e_errmsg());
    E2E_STOP_OK(s);
}

/* count_before: what /count answers first (the isolate's count so far plus one). */
static void bomb_round(struct e2e_server *s, const char *count_before)
{
    cr_expect_str_eq(get_body(s->port, "bomb.test", "/count", 200), count_before);
    uint64_t t0 = e2e_now_ms();
    const char *body = get_body(s->port, "bomb.test", "/bomb", 503);
    cr_expect(strcasestr(body, "memory"), "503 body does not name memory: %s", body);
    cr_expect_leq(e2e_now_ms() - t0, 5000, "memory bomb took %llu ms",
                  (unsigned long long)(e2e_now_ms() - t0));
    cr_assert(e2e_server_alive(s), "the memory bomb took the server down: %s", e2e_errmsg());
    cr_expect_str_eq(get_body(s->port, "bomb.test", "/count", 200), "1",
                     "the isolate was reused after a heap kill");
    expect_hello(s->port);
}

Test(limits, memory_bomb_is_503_with_heap_flag)
{
    const struct tenant_spec t[] = {
        {"web", "route = hello.test main\n", HELLO_JS},
        {"bomb", "route = bomb.test main\n", BOMB_JS},
    };
    struct e2e_server *s = E2E_START("--tenants", write_tenants(t, 2), "--threads", "1",
                                     "--heap-mb", "32", "--cpu-ms", "2000");
    bomb_round(s, "1");
    bomb_round(s, "2"); /* the fresh isolate has counted once */
    E2E_STOP_OK(s);
}

Test(limits, memory_bomb_is_503_with_tenant_heap_mb)
{
    const struct tenant_spec t[] = {
        {"web", "route = hello.test main\n", HELLO_JS},
        {"bomb",
         "# tight limits for this tenant only\nheap_mb = 32\ncpu_ms = 2000\n"
         "route = bomb.test main\n",
         BOMB_JS},
    };
    struct e2e_server *s = E2E_START("--tenants", write_tenants(t, 2), "--threads", "1");
    bomb_round(s, "1");
    E2E_STOP_OK(s);
}

Test(limits, thrown_exception_is_500_and_logged)
{
    const struct tenant_spec t[] = {
        {"web", "route = hello.test main\n", HELLO_JS},
        {"thrower", "route = thrower.test main\n", THROW_JS},
    };
    struct e2e_server *s = E2E_START("--tenants", write_tenants(t, 2));
    const char *paths[] = {"/sync", "/async"};
    for (int i = 0; i < 2; i++) {
        const char *body = get_body(s->port, "thrower.test", paths[i], 500);
        cr_expect_null(strstr(body, SECRET), "500 body leaks the exception: %s", body);
    }
    const char *log = e2e_tenant_log(s, "thrower");
    cr_expect(e2e_wait_file_contains(log, SECRET, 3000), "%s", e2e_errmsg());
    cr_expect(e2e_wait_file_contains(log, SECRET "-a", 3000), "async: %s", e2e_errmsg());
    char *err = e2e_server_stderr(s);
    cr_expect_null(strstr(err, SECRET), "tenant exception leaked into the operator log");
    free(err);
    expect_hello(s->port);
    E2E_STOP_OK(s);
}

Test(limits, module_top_level_throw_is_500_and_logged)
{
    /* A syntax error stops the node at start (tests/e2e/test_bundle.c); a module's top level
     * runs only when a shard builds its isolate, so a throw there fails requests. */
    const struct tenant_spec t[] = {
        {"web", "route = hello.test main\n", HELLO_JS},
        {"broken", "route = broken.test main\n",
         "throw new TypeError('broken at the top level');\n"
         "export default { fetch(request) { return new Response('no'); } };\n"},
    };
    struct e2e_server *s = E2E_START("--tenants", write_tenants(t, 2));
    get_body(s->port, "broken.test", "/", 500);
    get_body(s->port, "broken.test", "/again", 500);
    cr_expect(e2e_wait_file_contains(e2e_tenant_log(s, "broken"), "broken at the top level", 3000),
              "%s", e2e_errmsg());
    expect_hello(s->port);
    E2E_STOP_OK(s);
}

enum { HEALTHY, LOOP, BOMB, THROWER };

Test(limits, noisy_neighbours_do_not_hurt_the_healthy_tenant, .timeout = 120)
{
    const struct tenant_spec t[] = {
        {"healthy", "route = healthy.test main\n", HEALTHY_JS},
        {"loop", "cpu_ms = 50\nroute = loop.test main\n", LOOP_JS},
        {"bomb", "heap_mb = 32\ncpu_ms = 2000\nroute = bomb.test main\n", BOMB_JS},
        {"thrower", "route = thrower.test main\n", THROW_JS},
    };
    struct e2e_server *s = E2E_START("--tenants", write_tenants(t, 4), "--threads", "2");

    enum { N_HEALTHY = 200, N_HOSTILE = 20, N = N_HEALTHY + 3 * N_HOSTILE };
    static struct e2e_job jobs[N];
    static const char *hosts[] = {"healthy.test", "loop.test", "bomb.test", "thrower.test"};
    size_t n = 0;
    for (int i = 0; i < N_HEALTHY; i++)
        jobs[n++] =
            (struct e2e_job){.host = hosts[HEALTHY], .path = e2e_fmt("/h/%d", i), .tag = HEALTHY};
    for (int k = LOOP; k <= THROWER; k++)
        for (int i = 0; i < N_HOSTILE; i++)
            jobs[n++] = (struct e2e_job){.host = hosts[k], .path = e2e_fmt("/x/%d", i), .tag = k};
    /* Deterministic shuffle so hostile requests are spread among healthy ones. */
    uint32_t seed = 12345;
    for (size_t i = n - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        size_t j = (seed >> 8) % (i + 1);
        struct e2e_job tmp = jobs[i];
        jobs[i] = jobs[j];
        jobs[j] = tmp;
    }

    uint64_t t0 = e2e_now_ms();
    cr_assert_eq(e2e_run_jobs(s->port, jobs, n, 8, 30000), 0, "%s", e2e_errmsg());
    uint64_t took = e2e_now_ms() - t0;

    int bad[4] = {0};
    char first[4][300] = {{0}};
    uint64_t healthy_max_ms = 0;
    for (size_t i = 0; i < n; i++) {
        const struct e2e_job *j = &jobs[i];
        bool ok;
        switch (j->tag) {
        case HEALTHY:
            ok =
                j->status == 200 && j->body && strcmp(j->body, e2e_fmt("healthy:%s", j->path)) == 0;
            if (j->wall_ms > healthy_max_ms)
                healthy_max_ms = j->wall_ms;
            break;
        case LOOP:
            ok = j->status == 503 && j->body && strcasestr(j->body, "CPU");
            break;
        case BOMB:
            ok = j->status == 503 && j->body && strcasestr(j->body, "memory");
            break;
        default:
            ok = j->status == 500 && j->body && !strstr(j->body, SECRET);
            break;
        }
        if (!ok) {
            if (bad[j->tag]++ == 0)
                snprintf(first[j->tag], sizeof first[j->tag], "%s%s -> %d %.120s %s", j->host,
                         j->path, j->status, j->body ? j->body : "", j->status < 0 ? j->err : "");
        }
    }
    cr_expect_eq(bad[HEALTHY], 0, "%d of %d healthy requests failed; first: %s", bad[HEALTHY],
                 N_HEALTHY, first[HEALTHY]);
    cr_expect_eq(bad[LOOP], 0, "%d loop requests not 503/CPU; first: %s", bad[LOOP], first[LOOP]);
    cr_expect_eq(bad[BOMB], 0, "%d bomb requests not 503/memory; first: %s", bad[BOMB],
                 first[BOMB]);
    cr_expect_eq(bad[THROWER], 0, "%d thrower requests not a generic 500; first: %s", bad[THROWER],
                 first[THROWER]);
    cr_log_info("noisy neighbours: %zu requests in %llu ms, slowest healthy %llu ms", n,
                (unsigned long long)took, (unsigned long long)healthy_max_ms);
    e2e_jobs_dispose(jobs, n);

    cr_assert(e2e_server_alive(s), "server died under hostile load: %s", e2e_errmsg());
    struct e2e_response r;
    E2E_GET(s->port, "healthy.test", "/after", &r);
    E2E_EXPECT(&r, 200, "healthy:/after");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}
