/*
 * Crash safety of durable objects (issue 5): a write load (increments of one counter object
 * from many connections, on four shards) while edged is killed with SIGKILL at random
 * moments, a bounded number of times, restarting it on the same data directory each time.
 * Every increment that was acknowledged (a 200 carrying the new value) must be in the
 * database afterwards, none may be counted twice, and every SQLite file must pass
 * PRAGMA integrity_check. The random moments come from a seed printed with any failure.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2e.h"

TestSuite(objects_crash, .fini = e2e_teardown, .timeout = 240);

enum { ROUNDS = 5, JOBS = 5000, CLIENTS = 12 };

struct load {
    int port;
    struct e2e_job jobs[JOBS];
};

static void *run_load(void *arg)
{
    struct load *l = arg;
    e2e_run_jobs(l->port, l->jobs, JOBS, CLIENTS, 5000);
    return NULL;
}

static void put(const char *path, const char *text)
{
    cr_assert_eq(e2e_write_file(path, text), 0, "%s", e2e_errmsg());
}

static struct e2e_server *start(const char *dir, const char *data)
{
    const char *args[] = {"--tenants", dir, "--threads", "4", "--data", data, NULL};
    struct e2e_server *s = e2e_server_start(args);
    cr_assert_not_null(s, "edged did not start: %s", e2e_errmsg());
    return s;
}

/* "ok" from PRAGMA integrity_check of path, or what it said instead. */
static const char *integrity(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    const char *out = "cannot open";
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK)
        out = sqlite3_step(st) == SQLITE_ROW ? e2e_fmt("%s", sqlite3_column_text(st, 0))
                                             : e2e_fmt("%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

Test(objects_crash, sigkill_loses_no_acknowledged_increment)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    const char *data = e2e_fmt("%s/data", dir);
    put(e2e_fmt("%s/acme/tenant.conf", dir), "route = acme.test api\n");
    put(e2e_fmt("%s/acme/api.metadata.json", dir),
        "{\"bindings\": [{\"type\": \"durable_object_namespace\", \"name\": \"COUNTERS\", "
        "\"class_name\": \"Counter\"}]}");
    put(e2e_fmt("%s/acme/api/index.js", dir),
        "import { DurableObject } from 'cloudflare:workers';\n"
        "export class Counter extends DurableObject {\n"
        "  constructor(ctx, env) {\n"
        "    super(ctx, env);\n"
        "    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS c (id INTEGER PRIMARY KEY, v "
        "INTEGER)');\n"
        "  }\n"
        "  inc() {\n"
        "    const sql = this.ctx.storage.sql;\n"
        "    sql.exec('INSERT INTO c VALUES (1, 1) ON CONFLICT(id) DO UPDATE SET v = v + 1');\n"
        "    this.ctx.storage.put('last', Date.now());\n" /* a KV write in the same commit */
        "    return sql.exec('SELECT v FROM c WHERE id = 1').one().v;\n"
        "  }\n"
        "  get() {\n"
        "    const r = this.ctx.storage.sql.exec('SELECT v FROM c WHERE id = 1').toArray();\n"
        "    return r.length ? r[0].v : 0;\n"
        "  }\n"
        "}\n"
        "export default { async fetch(req, env) {\n"
        "  const stub = env.COUNTERS.getByName('crash');\n"
        "  return new Response(String(req.url.endsWith('/inc') ? await stub.inc() : await "
        "stub.get()));\n"
        "} };\n");

    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    static struct load load;
    long acked = 0, attempted = 0, max_acked = 0;
    static char seen[ROUNDS * JOBS + 2];
    memset(seen, 0, sizeof seen);
    for (int round = 0; round < ROUNDS; round++) {
        struct e2e_server *s = start(dir, data);
        memset(&load, 0, sizeof load);
        load.port = s->port;
        for (int i = 0; i < JOBS; i++) {
            load.jobs[i].host = "acme.test";
            load.jobs[i].path = "/inc";
        }
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, run_load, &load), 0);
        e2e_sleep_ms(30 + rand() % 300); /* somewhere in the middle of the load */
        cr_assert_eq(e2e_server_signal(s, SIGKILL), 0, "%s", e2e_errmsg());
        e2e_server_wait(s, 5000);
        pthread_join(t, NULL);
        long round_acked = 0;
        for (int i = 0; i < JOBS; i++) {
            const struct e2e_job *j = &load.jobs[i];
            if (j->status != -1)
                attempted++;
            if (j->status != 200 || !j->body)
                continue;
            long v = atol(j->body);
            cr_expect(v >= 1 && v <= ROUNDS * JOBS && !seen[v],
                      "seed %u: the value %ld was acknowledged twice or is out of range", seed, v);
            if (v >= 1 && v <= ROUNDS * JOBS)
                seen[v] = 1;
            if (v > max_acked)
                max_acked = v;
            round_acked++;
        }
        acked += round_acked;
        cr_log_info("round %d: killed after %ld acknowledged increments", round, round_acked);
        e2e_jobs_dispose(load.jobs, JOBS);
    }
    cr_expect_gt(acked, 0, "seed %u: no increment was ever acknowledged", seed);

    struct e2e_server *s = start(dir, data);
    struct e2e_response r;
    E2E_GET(s->port, "acme.test", "/get", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    long value = atol(r.body);
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
    /* every acknowledged increment is there (the largest value acknowledged was reached, and
     * at least as many as were acknowledged), and none that was never attempted */
    cr_expect_geq(value, max_acked, "seed %u: value %ld < acknowledged %ld", seed, value,
                  max_acked);
    cr_expect_geq(value, acked, "seed %u: value %ld < %ld acknowledged", seed, value, acked);
    cr_expect_leq(value, attempted + JOBS, "seed %u: value %ld > attempted %ld", seed, value,
                  attempted);

    const char *objects = e2e_fmt("%s/tenants/acme/do/Counter", data);
    DIR *d = opendir(objects);
    cr_assert_not_null(d, "no object databases under %s", objects);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 7 || strcmp(e->d_name + n - 7, ".sqlite") != 0)
            continue;
        files++;
        const char *path = e2e_fmt("%s/%s", objects, e->d_name);
        cr_expect_str_eq(integrity(path), "ok", "%s", path);
    }
    closedir(d);
    cr_expect_eq(files, 1);
    cr_expect_str_eq(integrity(e2e_fmt("%s/control.sqlite", data)), "ok");
}
