/*
 * storage/: crash safety of durable objects at this layer, and the figures group commit is
 * judged by. A forked child writes to three objects (through an LRU of two, so objects close
 * and reopen under load) in turns committed by st_objects_commit, and after each commit
 * reports through a pipe what it acknowledged; the parent SIGKILLs it at a random moment
 * (bounded: a few rounds, each under a second), then reopens everything and checks that every
 * reported commit is there, that each turn's two writes (a counter update and a KV put) landed
 * together or not at all, and that PRAGMA integrity_check passes on every database.
 *
 * Figures (run with --verbose=1): commits/s of a one-row UPDATE committed after every
 * operation, and operations/s when 64 share a commit (what a shard's loop turn does).
 */
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include "do_test.h"

TestSuite(do_crash, .init = make_tmp, .fini = remove_tmp, .timeout = 120);

#define NOBJ 3

static const char *const names[NOBJ] = {"crash-0", "crash-1", "crash-2"};

/* What the child reports after each commit: everything up to seq is committed, and object j's
 * counter was values[j]. Small enough for one atomic pipe write. */
struct report {
    uint64_t seq;
    int64_t values[NOBJ];
};

static int64_t read_counter(struct st_object *o)
{
    char *r = sql_ok(o, "SELECT coalesce((SELECT v FROM c), 0) AS v");
    int64_t v = strtoll(r + 2, NULL, 10);
    free(r);
    return v;
}

/* The child: continues from what is on disk, never returns. */
static void child(int fd, uint64_t seq)
{
    struct st_objects *os = objects_new(2);
    int64_t values[NOBJ];
    for (int j = 0; j < NOBJ; j++) {
        struct st_object *o = object(os, names[j]);
        free(sql_ok(o, "CREATE TABLE IF NOT EXISTS c (v INTEGER NOT NULL);"
                       "INSERT INTO c SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM c)"));
        values[j] = read_counter(o);
    }
    if (st_objects_commit(os, NULL, NULL) != 0)
        _exit(3);
    uint64_t deadline = ed_now_ns() + 3000000000ull; /* the parent kills long before */
    unsigned r = (unsigned)getpid();
    while (ed_now_ns() < deadline) {
        /* one turn: 1-8 operations over the objects */
        int ops = 1 + (int)((r = r * 1103515245u + 12345u) >> 16) % 8;
        for (int k = 0; k < ops; k++) {
            seq++;
            int j = (int)(seq % NOBJ);
            struct st_object *o = NULL;
            char hex[ST_OBJECT_ID_HEX], key[32];
            if (st_object_id_from_name(test_key, "acme", "Counter", names[j], strlen(names[j]),
                                       hex) ||
                st_object_get(os, "acme", "Counter", hex, &o, NULL))
                _exit(4);
            struct ed_error err = {0};
            if (st_sql_exec(o, "UPDATE c SET v = v + 1", 22, NULL, 0, NULL, NULL, NULL, &err))
                _exit(5);
            snprintf(key, sizeof key, "op%llu", (unsigned long long)seq);
            if (st_kv_put(o, key, strlen(key), &seq, sizeof seq, NULL, &err))
                _exit(6);
            values[j]++;
        }
        if (st_objects_commit(os, NULL, NULL) != 0)
            _exit(7);
        struct report rep = {.seq = seq};
        memcpy(rep.values, values, sizeof values);
        if (write(fd, &rep, sizeof rep) != (ssize_t)sizeof rep)
            _exit(8);
    }
    _exit(0);
}

static int count_keys(void *ud, const char *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl, (void)v, (void)vl;
    (*(int64_t *)ud)++;
    return 0;
}

static void integrity_ok(const char *name)
{
    char hex[ST_OBJECT_ID_HEX], path[256];
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", name, strlen(name), hex), 0);
    snprintf(path, sizeof path, "%s/tenants/acme/do/Counter/%s.sqlite", tmpdir, hex);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok", "%s", name);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(do_crash, sigkill_loses_no_acknowledged_commit)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint64_t seq = 0, total_reports = 0;
    for (int round = 0; round < 5; round++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            child(fds[1], seq);
        }
        close(fds[1]);
        /* kill it 30-330 ms in, while it writes */
        struct timespec ts = {0, (long)(30 + rand() % 300) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the child ended on its own (status %d) before the kill", status);
        /* every report it sent is in the pipe; the last one holds the most */
        struct report rep = {0}, last = {0};
        ssize_t n;
        uint64_t reports = 0;
        while ((n = read(fds[0], &rep, sizeof rep)) == (ssize_t)sizeof rep) {
            last = rep;
            reports++;
        }
        close(fds[0]);
        total_reports += reports;

        struct st_objects *os = objects_new(0);
        int64_t on_disk_total = 0;
        for (int j = 0; j < NOBJ; j++) {
            struct st_object *o = object(os, names[j]);
            int64_t v = read_counter(o), keys = 0;
            cr_assert_eq(st_kv_list(o, NULL, count_keys, &keys, NULL, NULL), 0);
            /* acknowledged commits are there; a commit that beat the kill to its report may
             * be there too; and both writes of each operation or neither */
            cr_assert_geq(v, last.values[j], "round %d object %d: %lld < acknowledged %lld", round,
                          j, (long long)v, (long long)last.values[j]);
            cr_assert_eq(v, keys, "object %d: counter %lld, %lld keys", j, (long long)v,
                         (long long)keys);
            on_disk_total += v;
        }
        /* every acknowledged operation's key, in the object it went to */
        for (uint64_t s = seq + 1; s <= last.seq; s++) {
            char key[32];
            snprintf(key, sizeof key, "op%llu", (unsigned long long)s);
            struct st_object *o = object(os, names[s % NOBJ]);
            cr_assert_eq(st_kv_get(o, key, strlen(key), NULL, NULL, NULL, NULL), 0, "%s", key);
        }
        commit_ok(os);
        st_objects_free(os);
        for (int j = 0; j < NOBJ; j++)
            integrity_ok(names[j]);
        /* the next child goes on from what is on disk */
        seq = (uint64_t)on_disk_total;
        cr_assert_geq(seq, last.seq);
    }
    cr_log_info("crash: 5 SIGKILLs, %llu acknowledged commits checked, %llu operations on disk",
                (unsigned long long)total_reports, (unsigned long long)seq);
    cr_assert_gt(total_reports, 0);
}

/* ---- figures ---- */

static double rate(struct st_objects *os, struct st_object *o, int batch, double seconds)
{
    uint64_t ops = 0, t0 = ed_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    while (ed_now_ns() < end) {
        for (int k = 0; k < batch; k++) {
            struct ed_error err = {0};
            cr_assert_eq(
                st_sql_exec(o, "UPDATE c SET v = v + 1", 22, NULL, 0, NULL, NULL, NULL, &err), 0);
            ops++;
        }
        cr_assert_eq(st_objects_commit(os, NULL, NULL), 0);
    }
    return (double)ops / ((double)(ed_now_ns() - t0) / 1e9);
}

Test(do_crash, figures_group_commit)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "figures");
    free(sql_ok(o, "CREATE TABLE c (v INTEGER NOT NULL); INSERT INTO c VALUES (0)"));
    commit_ok(os);
    rate(os, o, 1, 0.2); /* warm up */
    double one = rate(os, o, 1, 1.0);
    double b64 = rate(os, o, 64, 1.0);
    cr_log_info("figures: one-row UPDATE, one commit per op: %.0f commits/s; 64 ops per commit: "
                "%.0f ops/s (%.0f commits/s)",
                one, b64, b64 / 64);
    char *r = sql_ok(o, "SELECT v > 0 AS ok FROM c");
    cr_assert_str_eq(r, "ok\n1\n");
    free(r);
    /* loose: sanitizer builds and busy machines are slow; the printed numbers are the point */
    cr_assert_gt(one, 500);
    cr_assert_gt(b64, one);
    st_objects_free(os);
}
