/*
 * storage/: the usage counters that billing reads. Counts must be exact: across flushes,
 * restarts, concurrent shard threads, failed commits and reads that race the writer. Each test
 * works in its own mkdtemp directory under /tmp and removes it.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "storage/storage.h"

#define DAY "2026-03-01"
#define LONG_FLUSH 60000 /* ms: nothing is flushed unless a test asks */

static char tmpdir[64];

static void make_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/edged-st-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tmp(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(storage_usage, .init = make_tmp, .fini = remove_tmp, .timeout = 60);

static struct st_db *open_db(uint32_t flush_ms)
{
    struct st_db *db = NULL;
    struct ed_error err = {0};
    int rc = st_open(tmpdir, flush_ms, &db, &err);
    cr_assert_eq(rc, 0, "st_open: %s", ed_error_msg(&err));
    ed_error_dispose(&err);
    return db;
}

static struct st_usage get(struct st_db *db, const char *tenant, const char *day)
{
    struct st_usage u;
    struct ed_error err = {0};
    int rc = st_usage_get(db, tenant, day, &u, &err);
    cr_assert_eq(rc, 0, "st_usage_get: %s", ed_error_msg(&err));
    ed_error_dispose(&err);
    return u;
}

static void flush(struct st_db *db)
{
    struct ed_error err = {0};
    int rc = st_flush(db, &err);
    cr_assert_eq(rc, 0, "st_flush: %s", ed_error_msg(&err));
    ed_error_dispose(&err);
}

static void key_of(uint8_t key[32], unsigned n)
{
    memset(key, 0, 32);
    memcpy(key, &n, sizeof n);
    key[31] = 0x5a;
}

Test(storage_usage, day_text)
{
    char buf[ST_DAY_LEN];
    cr_assert_str_eq(st_day(0, buf), "1970-01-01");
    cr_assert_str_eq(st_day(1772323199, buf), "2026-02-28"); /* 23:59:59 UTC */
    cr_assert_str_eq(st_day(1772323200, buf), "2026-03-01");
    cr_assert_str_eq(st_day(INT64_MAX, buf), "9999-12-31");
}

Test(storage_usage, add_and_read_back)
{
    struct st_db *db = open_db(LONG_FLUSH);
    struct st_usage d = {.requests = 1,
                         .cpu_us = 250,
                         .subrequests = 2,
                         .child_invocations = 3,
                         .child_cpu_us = 40,
                         .rows_read = 5,
                         .rows_written = 6};
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    flush(db);
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    struct st_usage u = get(db, "acme", DAY);
    cr_assert_eq(u.requests, 3);
    cr_assert_eq(u.cpu_us, 750);
    cr_assert_eq(u.subrequests, 6);
    cr_assert_eq(u.children_loaded, 0);
    cr_assert_eq(u.child_invocations, 9);
    cr_assert_eq(u.child_cpu_us, 120);
    cr_assert_eq(u.rows_read, 15);
    cr_assert_eq(u.rows_written, 18);
    u = get(db, "other", DAY);
    cr_assert_eq(u.requests, 0);
    st_close(db);
}

Test(storage_usage, invalid_arguments)
{
    struct st_db *db = open_db(LONG_FLUSH);
    struct st_usage d = {.requests = 1};
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(st_usage_add(db, "", DAY, &d), ED_EINVAL);
    cr_assert_eq(st_usage_add(db, long_name, DAY, &d), ED_EINVAL);
    cr_assert_eq(st_usage_add(db, "t", "2026-3-01", &d), ED_EINVAL);
    cr_assert_eq(st_usage_add(db, "t", "2026-03-01x", &d), ED_EINVAL);
    cr_assert_eq(st_usage_add(db, "t", NULL, &d), ED_EINVAL);
    cr_assert_eq(st_usage_child_loaded(db, NULL, DAY, NULL), ED_EINVAL);
    struct st_usage u;
    struct ed_error err = {0};
    cr_assert_eq(st_usage_get(db, "t", "yesterday", &u, &err), ED_EINVAL);
    char *json = NULL;
    cr_assert_eq(st_usage_json(db, NULL, "", &json, &err), ED_EINVAL);
    cr_assert_null(json);
    ed_error_dispose(&err);
    st_close(db);
}

Test(storage_usage, restart_keeps_counts)
{
    struct st_usage d = {.requests = 2, .cpu_us = 10};
    uint8_t key[32];
    key_of(key, 7);
    for (int round = 0; round < 3; round++) {
        struct st_db *db = open_db(0);
        cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
        cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, key), 0);
        flush(db);
        st_close(db);
    }
    struct st_db *db = open_db(0);
    struct st_usage u = get(db, "acme", DAY);
    cr_assert_eq(u.requests, 6);
    cr_assert_eq(u.cpu_us, 30);
    cr_assert_eq(u.children_loaded, 1, "one key across three runs: %llu",
                 (unsigned long long)u.children_loaded);
    st_close(db);
}

Test(storage_usage, same_key_counts_once_other_key_twice)
{
    struct st_db *db = open_db(LONG_FLUSH);
    uint8_t a[32], b[32];
    key_of(a, 1);
    key_of(b, 2);
    /* N loads, some in the queue, some after a commit, some from both sides of a flush */
    for (int i = 0; i < 10; i++)
        cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, a), 0);
    cr_assert_eq(get(db, "acme", DAY).children_loaded, 1);
    flush(db);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, a), 0);
    cr_assert_eq(get(db, "acme", DAY).children_loaded, 1, "committed key queued again");
    flush(db);
    cr_assert_eq(get(db, "acme", DAY).children_loaded, 1);
    /* a changed code under the same id is another key */
    cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, b), 0);
    cr_assert_eq(get(db, "acme", DAY).children_loaded, 2);
    flush(db);
    cr_assert_eq(get(db, "acme", DAY).children_loaded, 2);
    /* the same key is counted per tenant */
    cr_assert_eq(st_usage_child_loaded(db, "globex", DAY, a), 0);
    cr_assert_eq(get(db, "globex", DAY).children_loaded, 1);
    st_close(db);
}

Test(storage_usage, new_day_starts_at_zero)
{
    struct st_db *db = open_db(LONG_FLUSH);
    uint8_t a[32];
    key_of(a, 1);
    struct st_usage d = {.requests = 5};
    cr_assert_eq(st_usage_add(db, "acme", "2026-03-01", &d), 0);
    cr_assert_eq(st_usage_child_loaded(db, "acme", "2026-03-01", a), 0);
    flush(db);
    struct st_usage u = get(db, "acme", "2026-03-02");
    cr_assert_eq(u.requests, 0);
    cr_assert_eq(u.children_loaded, 0);
    cr_assert_eq(st_usage_child_loaded(db, "acme", "2026-03-02", a), 0);
    cr_assert_eq(get(db, "acme", "2026-03-02").children_loaded, 1, "a new day bills again");
    cr_assert_eq(get(db, "acme", "2026-03-01").children_loaded, 1);
    cr_assert_eq(get(db, "acme", "2026-03-01").requests, 5);
    st_close(db);
}

Test(storage_usage, anonymous_counts_every_call)
{
    struct st_db *db = open_db(LONG_FLUSH);
    for (int i = 0; i < 7; i++)
        cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, NULL), 0);
    cr_assert_eq(get(db, "acme", DAY).children_loaded, 7);
    flush(db);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, NULL), 0);
    cr_assert_eq(get(db, "acme", DAY).children_loaded, 10);
    st_close(db);
}

Test(storage_usage, get_sees_queued_before_flush)
{
    struct st_db *db = open_db(LONG_FLUSH);
    uint8_t a[32], b[32];
    key_of(a, 1);
    key_of(b, 2);
    struct st_usage d = {.requests = 1, .cpu_us = 9};
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, a), 0);
    struct st_usage u = get(db, "acme", DAY);
    cr_assert_eq(u.requests, 1);
    cr_assert_eq(u.cpu_us, 9);
    cr_assert_eq(u.children_loaded, 1);
    flush(db);
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, a), 0); /* committed already */
    cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, b), 0); /* new */
    u = get(db, "acme", DAY);
    cr_assert_eq(u.requests, 2);
    cr_assert_eq(u.children_loaded, 2);
    st_close(db);
}

Test(storage_usage, close_flushes)
{
    struct st_db *db = open_db(LONG_FLUSH);
    uint8_t a[32];
    key_of(a, 3);
    struct st_usage d = {.requests = 4, .child_cpu_us = 77};
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, a), 0);
    st_close(db); /* no st_flush */
    db = open_db(LONG_FLUSH);
    struct st_usage u = get(db, "acme", DAY);
    cr_assert_eq(u.requests, 4);
    cr_assert_eq(u.child_cpu_us, 77);
    cr_assert_eq(u.children_loaded, 1);
    st_close(db);
    st_close(NULL);
}

Test(storage_usage, timer_flushes_without_being_asked)
{
    struct st_db *db = open_db(20);
    struct st_usage d = {.requests = 1};
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    /* read the file from outside: the row appears once the writer's interval has passed */
    char path[128];
    snprintf(path, sizeof path, "%s/control.sqlite", tmpdir);
    sqlite3 *conn = NULL;
    cr_assert_eq(sqlite3_open(path, &conn), SQLITE_OK);
    long long seen = 0;
    for (int i = 0; i < 200 && seen == 0; i++) {
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(conn, "SELECT requests FROM usage WHERE tenant = 'acme'", -1, &st, NULL);
        if (sqlite3_step(st) == SQLITE_ROW)
            seen = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (seen == 0)
            usleep(10000);
    }
    cr_assert_eq(seen, 1, "the writer committed within its interval");
    sqlite3_close(conn);
    st_close(db);
}

struct worker {
    struct st_db *db;
    int id;
    int rounds;
    int refused;
};

#define THREADS 8
#define ROUNDS 5000
#define KEYS 50

static void *add_loop(void *arg)
{
    struct worker *w = arg;
    struct st_usage d = {.requests = 1, .cpu_us = 3, .child_invocations = 2};
    char tenant[16];
    for (int i = 0; i < w->rounds; i++) {
        snprintf(tenant, sizeof tenant, "t%d", i % 4);
        if (st_usage_add(w->db, tenant, DAY, &d) != 0)
            w->refused++;
        uint8_t key[32];
        key_of(key, (unsigned)(i + w->id) % KEYS);
        if (st_usage_child_loaded(w->db, "t0", DAY, key) != 0)
            w->refused++;
        if (i % 50 == 49)
            usleep(3000); /* spread the adds over about a hundred flushes */
    }
    return NULL;
}

struct watcher {
    struct st_db *db;
    int stop; /* atomic */
    int reads, went_back, overshot;
};

static void *watch_loop(void *arg)
{
    struct watcher *w = arg;
    uint64_t last_req = 0, last_children = 0;
    for (int i = 0; i < 100000 && !__atomic_load_n(&w->stop, __ATOMIC_RELAXED); i++) {
        struct st_usage u;
        if (st_usage_get(w->db, "t0", DAY, &u, NULL) != 0)
            continue;
        w->reads++;
        if (u.requests < last_req || u.children_loaded < last_children)
            w->went_back++;
        if (u.requests > (uint64_t)THREADS * ROUNDS / 4 || u.children_loaded > KEYS)
            w->overshot++;
        last_req = u.requests;
        last_children = u.children_loaded;
    }
    return NULL;
}

Test(storage_usage, concurrent_adds_sum_exactly)
{
    /* a short interval, so flushes commit while the threads add and the watcher reads */
    struct st_db *db = open_db(2);
    pthread_t th[THREADS], wt;
    struct worker w[THREADS];
    struct watcher watcher = {.db = db};
    cr_assert_eq(pthread_create(&wt, NULL, watch_loop, &watcher), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.db = db, .id = i, .rounds = ROUNDS};
        cr_assert_eq(pthread_create(&th[i], NULL, add_loop, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].refused, 0);
    }
    __atomic_store_n(&watcher.stop, 1, __ATOMIC_RELAXED);
    pthread_join(wt, NULL);
    for (int t = 0; t < 4; t++) {
        char tenant[16];
        snprintf(tenant, sizeof tenant, "t%d", t);
        struct st_usage u = get(db, tenant, DAY);
        cr_assert_eq(u.requests, THREADS * ROUNDS / 4, "%s: %llu", tenant,
                     (unsigned long long)u.requests);
        cr_assert_eq(u.cpu_us, 3ull * THREADS * ROUNDS / 4);
        cr_assert_eq(u.child_invocations, 2ull * THREADS * ROUNDS / 4);
        cr_assert_eq(u.children_loaded, t == 0 ? KEYS : 0);
    }
    cr_assert_gt(watcher.reads, 0);
    cr_assert_eq(watcher.went_back, 0, "a read raced a commit and lost counts");
    cr_assert_eq(watcher.overshot, 0, "a read raced a commit and counted twice");
    st_close(db);
    db = open_db(0);
    struct st_usage u = get(db, "t0", DAY);
    cr_assert_eq(u.requests, THREADS * ROUNDS / 4);
    cr_assert_eq(u.children_loaded, KEYS);
    st_close(db);
}

Test(storage_usage, json_shape)
{
    struct st_db *db = open_db(LONG_FLUSH);
    struct st_usage d = {.requests = 1, .cpu_us = 2};
    cr_assert_eq(st_usage_add(db, "zeta", DAY, &d), 0);
    flush(db);
    cr_assert_eq(st_usage_add(db, "zeta", DAY, &d), 0);
    cr_assert_eq(st_usage_add(db, "a\"b\\c\n\x01", DAY, &d), 0);
    cr_assert_eq(st_usage_add(db, "caf\xc3\xa9 \xff", DAY, &d), 0);
    cr_assert_eq(st_usage_add(db, "other-day", "2026-03-02", &d), 0);
    cr_assert_eq(st_usage_child_loaded(db, "zeta", DAY, NULL), 0);

    char *json = NULL;
    struct ed_error err = {0};
    cr_assert_eq(st_usage_json(db, NULL, DAY, &json, &err), 0, "%s", ed_error_msg(&err));
    const char *one = "{\"requests\": 1, \"cpu_us\": 2, \"subrequests\": 0, "
                      "\"children_loaded\": 0, \"child_invocations\": 0, \"child_cpu_us\": 0, "
                      "\"rows_read\": 0, \"rows_written\": 0}";
    char want[1024];
    snprintf(want, sizeof want,
             "{\"day\": \"" DAY "\", \"tenants\": {"
             "\"a\\\"b\\\\c\\u000a\\u0001\": %s, "
             "\"caf\xc3\xa9 \\ufffd\": %s, "
             "\"zeta\": {\"requests\": 2, \"cpu_us\": 4, \"subrequests\": 0, "
             "\"children_loaded\": 1, \"child_invocations\": 0, \"child_cpu_us\": 0, "
             "\"rows_read\": 0, \"rows_written\": 0}}}",
             one, one);
    cr_assert_str_eq(json, want);
    free(json);

    cr_assert_eq(st_usage_json(db, "other-day", "2026-03-02", &json, &err), 0);
    snprintf(want, sizeof want, "{\"day\": \"2026-03-02\", \"tenants\": {\"other-day\": %s}}", one);
    cr_assert_str_eq(json, want);
    free(json);

    /* one tenant with nothing recorded: listed, with zeros */
    cr_assert_eq(st_usage_json(db, "nobody", DAY, &json, &err), 0);
    cr_assert_not_null(strstr(json, "\"nobody\": {\"requests\": 0,"));
    free(json);
    /* a day with nothing: no tenants */
    cr_assert_eq(st_usage_json(db, NULL, "2000-01-01", &json, &err), 0);
    cr_assert_str_eq(json, "{\"day\": \"2000-01-01\", \"tenants\": {}}");
    free(json);
    ed_error_dispose(&err);
    st_close(db);
}

Test(storage_usage, bad_directory_is_a_clean_error)
{
    char path[128];
    struct st_db *db = (struct st_db *)1;
    struct ed_error err = {0};

    /* a regular file where a directory should be */
    snprintf(path, sizeof path, "%s/file", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    strcat(path, "/data");
    cr_assert_eq(st_open(path, 0, &db, &err), ED_EIO);
    cr_assert_null(db);
    cr_assert_not_null(strstr(ed_error_msg(&err), "cannot create data directory"), "%s",
                       ed_error_msg(&err));

    /* a control.sqlite that is not a database */
    snprintf(path, sizeof path, "%s/junk", tmpdir);
    cr_assert_eq(mkdir(path, 0700), 0);
    strcat(path, "/control.sqlite");
    f = fopen(path, "w");
    for (int i = 0; i < 200; i++)
        fputs("this is not a database, it is a text file. ", f);
    fclose(f);
    *strrchr(path, '/') = '\0';
    cr_assert_eq(st_open(path, 0, &db, &err), ED_ESQLITE);
    cr_assert_null(db);
    cr_assert_not_null(strstr(ed_error_msg(&err), "not a database"), "%s", ed_error_msg(&err));

    cr_assert_eq(st_open("", 0, &db, &err), ED_EINVAL);
    ed_error_dispose(&err);
}

Test(storage_usage, one_holder_per_directory)
{
    struct st_db *db = open_db(0), *second = NULL;
    struct ed_error err = {0};
    cr_assert_eq(st_open(tmpdir, 0, &second, &err), ED_EBUSY, "%s", ed_error_msg(&err));
    cr_assert_null(second);
    st_close(db);
    cr_assert_eq(st_open(tmpdir, 0, &second, &err), 0);
    st_close(second);
    ed_error_dispose(&err);
}

Test(storage_usage, schema_is_versioned_and_wal)
{
    st_close(open_db(0));
    char path[128];
    snprintf(path, sizeof path, "%s/control.sqlite", tmpdir);
    sqlite3 *conn = NULL;
    cr_assert_eq(sqlite3_open(path, &conn), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(conn, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_geq(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    /* a database from a newer edged is refused, not half-used */
    cr_assert_eq(sqlite3_exec(conn, "PRAGMA user_version = 9999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(conn);
    struct st_db *db = NULL;
    struct ed_error err = {0};
    cr_assert_eq(st_open(tmpdir, 0, &db, &err), ED_ESQLITE);
    cr_assert_not_null(strstr(ed_error_msg(&err), "newer than this edged"), "%s",
                       ed_error_msg(&err));
    ed_error_dispose(&err);
}

Test(storage_usage, failed_flush_is_retried_not_lost)
{
    struct st_db *db = open_db(LONG_FLUSH);
    char path[128];
    snprintf(path, sizeof path, "%s/control.sqlite", tmpdir);
    sqlite3 *conn = NULL;
    cr_assert_eq(sqlite3_open(path, &conn), SQLITE_OK);
    /* a trigger makes every usage write fail, as a full or broken disk would */
    cr_assert_eq(sqlite3_exec(conn,
                              "CREATE TRIGGER fail BEFORE INSERT ON usage "
                              "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    uint8_t a[32];
    key_of(a, 9);
    struct st_usage d = {.requests = 3};
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, a), 0);
    struct ed_error err = {0};
    cr_assert_eq(st_flush(db, &err), ED_ESQLITE);
    cr_assert_not_null(strstr(ed_error_msg(&err), "injected failure"), "%s", ed_error_msg(&err));
    /* still counted while queued, and more can be added to it */
    cr_assert_eq(st_usage_add(db, "acme", DAY, &d), 0);
    cr_assert_eq(st_usage_child_loaded(db, "acme", DAY, a), 0);
    struct st_usage u = get(db, "acme", DAY);
    cr_assert_eq(u.requests, 6);
    cr_assert_eq(u.children_loaded, 1);
    cr_assert_eq(sqlite3_exec(conn, "DROP TRIGGER fail", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(conn);
    flush(db);
    st_close(db);
    db = open_db(0);
    u = get(db, "acme", DAY);
    cr_assert_eq(u.requests, 6);
    cr_assert_eq(u.children_loaded, 1);
    st_close(db);
    ed_error_dispose(&err);
}

Test(storage_usage, queue_is_bounded)
{
    struct st_db *db = open_db(LONG_FLUSH);
    struct st_usage d = {.requests = 1};
    char tenant[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(tenant, sizeof tenant, "tenant-%d", i);
        cr_assert_eq(st_usage_add(db, tenant, DAY, &d), 0, "add %d", i);
    }
    cr_assert_eq(st_usage_add(db, "one-too-many", DAY, &d), ED_ENOMEM);
    cr_assert_eq(st_usage_add(db, "tenant-5", DAY, &d), 0, "an entry already queued grows");
    uint8_t a[32];
    key_of(a, 1);
    cr_assert_eq(st_usage_child_loaded(db, "one-too-many", DAY, a), ED_ENOMEM);
    flush(db);
    cr_assert_eq(st_usage_add(db, "one-too-many", DAY, &d), 0);
    cr_assert_eq(get(db, "tenant-5", DAY).requests, 2);
    cr_assert_eq(get(db, "tenant-99999", DAY).requests, 1);
    st_close(db);
}

Test(storage_usage, flush_cost)
{
    /* The figures the report quotes: 10,000 adds over 100 tenants then one st_flush (one
     * interval's transaction, fsync included), then 1,000 new child keys over the same tenants
     * and another st_flush. */
    struct st_db *db = open_db(LONG_FLUSH);
    struct st_usage d = {.requests = 1, .cpu_us = 120, .subrequests = 1};
    char tenant[32];
    uint64_t t0 = ed_now_ns();
    for (int i = 0; i < 10000; i++) {
        snprintf(tenant, sizeof tenant, "tenant-%d", i % 100);
        cr_assert_eq(st_usage_add(db, tenant, DAY, &d), 0);
    }
    uint64_t t1 = ed_now_ns();
    flush(db);
    uint64_t t2 = ed_now_ns();
    for (unsigned i = 0; i < 1000; i++) {
        uint8_t key[32];
        key_of(key, i);
        snprintf(tenant, sizeof tenant, "tenant-%u", i % 100);
        cr_assert_eq(st_usage_child_loaded(db, tenant, DAY, key), 0);
    }
    uint64_t t3 = ed_now_ns();
    flush(db);
    uint64_t t4 = ed_now_ns();
    flush(db); /* nothing queued */
    uint64_t t5 = ed_now_ns();
    fprintf(stderr,
            "storage flush_cost: st_usage_add %.0f ns each; st_flush of 10,000 adds over 100 "
            "tenants %.2f ms; st_usage_child_loaded %.0f ns each; st_flush of 1,000 new keys "
            "%.2f ms; empty st_flush %.3f ms\n",
            (double)(t1 - t0) / 10000, (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1000,
            (double)(t4 - t3) / 1e6, (double)(t5 - t4) / 1e6);
    cr_assert_eq(get(db, "tenant-42", DAY).requests, 100);
    cr_assert_eq(get(db, "tenant-42", DAY).children_loaded, 10);
    st_close(db);
}
