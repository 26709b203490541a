/*
 * End-to-end durable objects (issue 5): a real edged with four shards, so that a request and
 * the object it calls are usually on different shards, serving the worker in
 * tests/e2e/objects/index.js. The Durable Objects API runs inside an object and reports every
 * check that failed (cursor shapes, Workers' error messages, key-value, transactions, alarms,
 * ids); RPC and fetch() reach objects, values that cannot cross are refused; 100 concurrent
 * increments from many connections give exactly 100; an idle object leaves memory and comes
 * back with its storage; a restart keeps the value; a tenant cannot reach another tenant's
 * object; a class that the main module does not export stops the node at start-up.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"

TestSuite(objects, .fini = e2e_teardown, .timeout = 120);

static const char *METADATA =
    "{\"main_module\": \"index.js\", \"bindings\": [\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"COUNTERS\", \"class_name\": \"Counter\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"BATTERY\", \"class_name\": \"Battery\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"GATED\", \"class_name\": \"Gated\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"PLAIN\", \"class_name\": \"Plain\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"ALARMED\", \"class_name\": \"Alarmed\"}]}\n";

static void put(const char *path, const char *text)
{
    cr_assert_eq(e2e_write_file(path, text), 0, "%s", e2e_errmsg());
}

/* A tenant serving tests/e2e/objects/index.js on host <tenant>.test. */
static void objects_tenant(const char *dir, const char *tenant)
{
    const char *src = getenv("EDGED_SOURCE_DIR");
    if (!src)
        src = EDGED_SOURCE_DIR;
    char *js = e2e_read_file(e2e_fmt("%s/tests/e2e/objects/index.js", src), NULL);
    cr_assert_not_null(js, "cannot read the objects worker: %s", e2e_errmsg());
    /* CPU room for the battery under the sanitizers (a runaway query is cut after it) */
    put(e2e_fmt("%s/%s/tenant.conf", dir, tenant),
        e2e_fmt("route = %s.test api\ncpu_ms = 1000\n", tenant));
    put(e2e_fmt("%s/%s/api/index.js", dir, tenant), js);
    put(e2e_fmt("%s/%s/api.metadata.json", dir, tenant), METADATA);
    free(js);
}

/* GET path on host, asserting status 200; returns the body (valid until teardown). */
static const char *get_ok(struct e2e_server *s, const char *host, const char *path)
{
    struct e2e_response r;
    E2E_GET(s->port, host, path, &r);
    cr_assert_eq(r.status, 200, "GET %s%s: %d %s", host, path, r.status, r.body);
    const char *body = e2e_fmt("%s", r.body);
    e2e_response_dispose(&r);
    return body;
}

static struct e2e_server *start(const char *dir, const char *data, const char *idle_ms)
{
    const char *args[] = {"--tenants",        dir,     "--threads", "4", "--data", data,
                          "--object-idle-ms", idle_ms, NULL};
    struct e2e_server *s = e2e_server_start(args);
    cr_assert_not_null(s, "edged did not start: %s", e2e_errmsg());
    return s;
}

Test(objects, the_api_inside_an_object)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    objects_tenant(dir, "acme");
    struct e2e_server *s = start(dir, e2e_fmt("%s/data", dir), "30000");
    cr_expect_str_eq(get_ok(s, "acme.test", "/battery"), "ok");
    /* errors crossing from an object, missing methods, values that cannot cross, RPC to a
     * class that does not extend DurableObject, a plain value echoed */
    cr_expect_str_eq(get_ok(s, "acme.test", "/errors"), "ok\nok\nok\nok\nok");
    /* blockConcurrencyWhile() in the constructor holds the first call until it settles */
    cr_expect_str_eq(get_ok(s, "acme.test", "/gated?name=g1"), "true");
    cr_expect_str_eq(get_ok(s, "acme.test", "/plain-fetch"), "plain p");
    /* fetch() with a 100 KB body (read whole, sent as bytes) */
    cr_expect_str_eq(get_ok(s, "acme.test", "/fetch?name=f"), "POST /some/path 100000 0");
    cr_expect_str_eq(get_ok(s, "acme.test", "/inc?name=f"), "1");
    /* a query that would never end stops after the tenant's CPU budget of a call: the query
     * fails, or the limit ends the call; the object works on */
    struct e2e_response r;
    uint64_t t0 = e2e_now_ms();
    E2E_GET(s->port, "acme.test", "/runaway?name=f", &r);
    cr_expect(e2e_now_ms() - t0 < 10000, "the runaway query ran %llu ms",
              (unsigned long long)(e2e_now_ms() - t0));
    cr_expect((r.status == 200 && strncmp(r.body, "interrupted", 11) == 0) || r.status == 500 ||
                  r.status == 503,
              "%d %s", r.status, r.body);
    e2e_response_dispose(&r);
    cr_expect_str_eq(get_ok(s, "acme.test", "/inc?name=f"), "2");
    const char *stats = get_ok(s, "acme.test", "/stats?name=f");
    const char *id = get_ok(s, "acme.test", "/id?name=f");
    cr_expect(strstr(stats, e2e_fmt("\"id\":\"%s\",\"name\":\"f\"", id)), "%s", stats);
    E2E_STOP_OK(s);
}

/* rows_written of (tenant, today) in the control plane, after the server stopped. */
static long long rows_written(const char *data, const char *tenant)
{
    sqlite3 *db = NULL;
    long long n = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(e2e_fmt("%s/control.sqlite", data), &db, SQLITE_OPEN_READONLY, NULL) ==
            SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT rows_written FROM usage WHERE tenant = ? AND day = ?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, e2e_utc_day(), -1, SQLITE_STATIC);
        n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

Test(objects, concurrent_increments_count_exactly_and_survive_a_restart)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    objects_tenant(dir, "acme");
    const char *data = e2e_fmt("%s/data", dir);
    struct e2e_server *s = start(dir, data, "30000");
    enum { N = 100 };
    struct e2e_job jobs[N];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N; i++) {
        jobs[i].host = "acme.test";
        jobs[i].path = "/inc?name=shared";
    }
    cr_assert_eq(e2e_run_jobs(s->port, jobs, N, 16, 30000), 0, "%s", e2e_errmsg());
    bool seen[N + 1] = {false};
    for (int i = 0; i < N; i++) {
        cr_expect_eq(jobs[i].status, 200, "job %d: %d %s %s", i, jobs[i].status,
                     jobs[i].body ? jobs[i].body : "", jobs[i].err);
        int v = jobs[i].body ? atoi(jobs[i].body) : 0;
        cr_expect(v >= 1 && v <= N && !seen[v], "job %d answered %d twice or out of range", i, v);
        if (v >= 1 && v <= N)
            seen[v] = true;
    }
    e2e_jobs_dispose(jobs, N);
    cr_expect_str_eq(get_ok(s, "acme.test", "/get?name=shared"), "100");
    /* the requests came in on several shards: most of them called the object across shards */
    char *log = e2e_server_stderr(s);
    int shards = 0;
    for (int i = 0; i < 4; i++)
        shards += strstr(log, e2e_fmt("shard=%d tenant=acme worker=api method=GET path=\"/inc", i))
                      ? 1
                      : 0;
    free(log);
    cr_expect_geq(shards, 2, "every increment came in on one shard");
    E2E_STOP_OK(s);
    cr_expect_geq(rows_written(data, "acme"), N, "rows written were not counted");

    s = start(dir, data, "30000");
    cr_expect_str_eq(get_ok(s, "acme.test", "/get?name=shared"), "100");
    cr_expect_str_eq(get_ok(s, "acme.test", "/inc?name=shared"), "101");
    E2E_STOP_OK(s);
}

Test(objects, an_idle_object_leaves_memory_and_comes_back_intact)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    objects_tenant(dir, "acme");
    struct e2e_server *s = start(dir, e2e_fmt("%s/data", dir), "200");
    cr_expect_str_eq(get_ok(s, "acme.test", "/inc?name=idle"), "1");
    cr_expect_str_eq(get_ok(s, "acme.test", "/inc?name=idle"), "2");
    const char *before = get_ok(s, "acme.test", "/stats?name=idle");
    cr_expect(strstr(before, "\"value\":2,\"constructed\":1,"), "%s", before);
    e2e_sleep_ms(800); /* several sweeps past 200 ms idle */
    const char *after = get_ok(s, "acme.test", "/stats?name=idle");
    /* a new instance (the isolate made a second one), the value read back from its database */
    cr_expect(strstr(after, "\"value\":2,\"constructed\":2,"), "%s", after);
    E2E_STOP_OK(s);
}

Test(objects, an_object_whose_isolate_a_limit_retired_is_rebuilt_from_storage)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    objects_tenant(dir, "acme");
    struct e2e_server *s = start(dir, e2e_fmt("%s/data", dir), "30000");
    cr_expect_str_eq(get_ok(s, "acme.test", "/inc?name=spin"), "1");
    struct e2e_response r;
    E2E_GET(s->port, "acme.test", "/spin?name=spin", &r);
    /* 503 when the caller ran in the retired isolate too, else the caller's uncaught error */
    cr_expect(r.status == 500 || r.status == 503, "%d %s", r.status, r.body);
    e2e_response_dispose(&r);
    cr_expect_str_eq(get_ok(s, "acme.test", "/inc?name=spin"), "2");
    const char *stats = get_ok(s, "acme.test", "/stats?name=spin");
    cr_expect(strstr(stats, "\"value\":2,\"constructed\":1,"), "a fresh isolate: %s", stats);
    E2E_STOP_OK(s);
}

Test(objects, a_tenant_cannot_reach_another_tenants_object)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    objects_tenant(dir, "alpha");
    objects_tenant(dir, "beta");
    const char *data = e2e_fmt("%s/data", dir);
    struct e2e_server *s = start(dir, data, "30000");
    const char *id_a = get_ok(s, "alpha.test", "/id?name=x");
    const char *id_b = get_ok(s, "beta.test", "/id?name=x");
    cr_expect_str_neq(id_a, id_b, "one name gave one id in two tenants");
    cr_expect_str_eq(get_ok(s, "alpha.test", "/inc?name=x"), "1");
    cr_expect_str_eq(get_ok(s, "alpha.test", "/inc?name=x"), "2");
    /* the same name in beta is another object */
    cr_expect_str_eq(get_ok(s, "beta.test", "/get?name=x"), "0");
    /* alpha's id in beta, and a forged one: refused, never data */
    struct e2e_response r;
    E2E_GET(s->port, "beta.test", e2e_fmt("/by-id?id=%s", id_a), &r);
    cr_expect_eq(r.status, 400, "%d %s", r.status, r.body);
    cr_expect_str_eq(r.body, "TypeError: Durable Object ID is not valid for this namespace.");
    e2e_response_dispose(&r);
    E2E_GET(s->port, "beta.test", "/by-id?id=..%2F..%2Falpha", &r);
    cr_expect_str_eq(r.body, "TypeError: Invalid Durable Object ID: must be 64 hex digits");
    e2e_response_dispose(&r);
    cr_expect_str_eq(get_ok(s, "alpha.test", e2e_fmt("/by-id?id=%s", id_a)), "2");
    E2E_STOP_OK(s);
    /* each tenant's file under its own directory */
    struct stat st;
    cr_expect_eq(stat(e2e_fmt("%s/tenants/alpha/do/Counter/%s.sqlite", data, id_a), &st), 0);
    cr_expect_eq(stat(e2e_fmt("%s/tenants/beta/do/Counter/%s.sqlite", data, id_b), &st), 0);
    cr_expect_neq(stat(e2e_fmt("%s/tenants/beta/do/Counter/%s.sqlite", data, id_a), &st), 0);
}

Test(objects, a_class_the_main_module_does_not_export_stops_the_node)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    put(e2e_fmt("%s/acme/tenant.conf", dir), "route = * api\n");
    put(e2e_fmt("%s/acme/api/index.js", dir),
        "export class Counter {}\nexport default { fetch() { return new Response('x'); } };\n");
    put(e2e_fmt("%s/acme/api.metadata.json", dir),
        "{\"bindings\": [{\"type\": \"durable_object_namespace\", \"name\": \"C\", "
        "\"class_name\": \"Nope\"}]}");
    const char *args[] = {"--tenants", dir,           "--data", e2e_fmt("%s/data", dir),
                          "--listen",  "127.0.0.1:0", NULL};
    char *out = NULL, *err = NULL;
    int rc = e2e_run(args, 20000, &out, &err);
    cr_expect_eq(rc, 2, "edged exited with %d: %s", rc, err ? err : "");
    cr_expect(err && strstr(err, "tenant acme worker api: Durable Object namespace C: class "
                                 "\"Nope\" is not exported by the main module \"index.js\""),
              "%s", err ? err : "");
    free(out);
    free(err);
}

/* Polls path until it answers want (every 50 ms, at most timeout_ms); returns the last body. */
static const char *wait_for(struct e2e_server *s, const char *host, const char *path,
                            const char *want, int timeout_ms)
{
    const char *body = "";
    for (uint64_t t0 = e2e_now_ms(); e2e_now_ms() - t0 < (uint64_t)timeout_ms;) {
        body = get_ok(s, host, path);
        if (strcmp(body, want) == 0)
            break;
        e2e_sleep_ms(50);
    }
    return body;
}

Test(objects, alarms_fire_are_retried_and_survive_a_restart)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    objects_tenant(dir, "acme");
    const char *data = e2e_fmt("%s/data", dir);
    struct e2e_server *s = start(dir, data, "30000");
    /* fires once, with its alarm deleted before alarm() runs */
    cr_expect_str_eq(get_ok(s, "acme.test", "/arm?name=a1&ms=100"), "true");
    cr_expect_str_eq(wait_for(s, "acme.test", "/fired?name=a1", "1 null", 5000), "1 null");
    /* alarm() throws twice: retried after 1 s and 2 s, then it runs */
    cr_expect_str_eq(get_ok(s, "acme.test", "/arm?name=a2&ms=10&failures=2"), "true");
    cr_expect_str_eq(wait_for(s, "acme.test", "/fired?name=a2", "1 null", 8000), "1 null");
    /* set, then the node stops before it is due: the next run fires it (due by then) */
    cr_expect_str_eq(get_ok(s, "acme.test", "/arm?name=a3&ms=700"), "true");
    E2E_STOP_OK(s);
    e2e_sleep_ms(800);
    s = start(dir, data, "30000");
    cr_expect_str_eq(wait_for(s, "acme.test", "/fired?name=a3", "1 null", 5000), "1 null");
    cr_expect_str_eq(get_ok(s, "acme.test", "/fired?name=a1"), "1 null", "fired again");
    E2E_STOP_OK(s);
}
