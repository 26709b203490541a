/*
 * The control-plane database: opening DIR/control.sqlite (WAL, synchronous=FULL so a commit
 * survives a crash), its schema migrations, and the writer thread that turns the usage queue
 * into one transaction (one fsync) per flush interval. A data directory is held by one st_db at
 * a time (flock on DIR/control.lock), which is what lets the writer number its flushes and
 * readers trust that numbering.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "st_int.h"

#define ST__BUSY_TIMEOUT_MS 5000
#define ST__CLOSE_TRIES 3

/* The schema, one step per entry: PRAGMA user_version counts the steps applied. Later issues
 * (tenants, tokens, workers, versions, routes, quotas...) append steps; a step already shipped
 * is never edited. */
static const char *const st__migrations[] = {
    /* 1: usage counters (issue 3). usage_flush.seq is the last flush committed (see st_int.h). */
    "CREATE TABLE usage ("
    " tenant TEXT NOT NULL, day TEXT NOT NULL,"
    " requests INTEGER NOT NULL DEFAULT 0, cpu_us INTEGER NOT NULL DEFAULT 0,"
    " subrequests INTEGER NOT NULL DEFAULT 0, children_loaded INTEGER NOT NULL DEFAULT 0,"
    " child_invocations INTEGER NOT NULL DEFAULT 0, child_cpu_us INTEGER NOT NULL DEFAULT 0,"
    " rows_read INTEGER NOT NULL DEFAULT 0, rows_written INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (tenant, day)) WITHOUT ROWID;"
    "CREATE INDEX usage_by_day ON usage (day);"
    "CREATE TABLE child_loads ("
    " tenant TEXT NOT NULL, day TEXT NOT NULL, key BLOB NOT NULL,"
    " PRIMARY KEY (tenant, day, key)) WITHOUT ROWID;"
    "CREATE TABLE usage_flush (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);"
    "INSERT INTO usage_flush (id, seq) VALUES (1, 0);",
    /* 2: durable objects (issue 5): the node's id key (made by st_node_key on first use) and
     * the index of alarms, so a restart finds them without opening every object. */
    "CREATE TABLE node_keys (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " key BLOB NOT NULL CHECK (length(key) = 32));"
    "CREATE TABLE alarms ("
    " tenant TEXT NOT NULL, class TEXT NOT NULL, id TEXT NOT NULL, at_ms INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, class, id)) WITHOUT ROWID;"
    "CREATE INDEX alarms_by_time ON alarms (at_ms);",
};
#define ST__NMIGRATIONS ((int)(sizeof st__migrations / sizeof st__migrations[0]))

char *st_day(int64_t unix_seconds, char *buf)
{
    /* Clamped to years 0000..9999 so the text always has the documented shape. */
    if (unix_seconds < -62167219200LL)
        unix_seconds = -62167219200LL;
    if (unix_seconds > 253402300799LL)
        unix_seconds = 253402300799LL;
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, ST_DAY_LEN, "1970-01-01");
        return buf;
    }
    snprintf(buf, ST_DAY_LEN, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
    return buf;
}

int st__check_key(const char *tenant, const char *day)
{
    if (!tenant || !day)
        return ED_EINVAL;
    size_t tlen = strnlen(tenant, ST__TENANT_MAX + 1);
    if (tlen == 0 || tlen > ST__TENANT_MAX)
        return ED_EINVAL;
    for (int i = 0; i < ST_DAY_LEN - 1; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? day[i] != '-' : (day[i] < '0' || day[i] > '9'))
            return ED_EINVAL;
    }
    return day[ST_DAY_LEN - 1] == '\0' ? 0 : ED_EINVAL;
}

int st__sqlite_error(sqlite3 *conn, const char *what, struct ed_error *err)
{
    if (!conn)
        return ed_error_set(err, ED_ESQLITE, "%s: out of memory", what);
    return ed_error_set(err, ED_ESQLITE, "%s: %s (sqlite %d)", what, sqlite3_errmsg(conn),
                        sqlite3_extended_errcode(conn));
}

void st__log_error(const char *op, const struct ed_error *err, const char *extra)
{
    if (ED_LOG_ERROR > ed_log_level)
        return;
    struct ed_buf b;
    ed_buf_init(&b);
    const char *msg = ed_error_msg(err);
    ed_buf_append_logvalue(&b, msg, strlen(msg));
    ED_ERROR("event=storage_error op=%s code=%s msg=%s%s%s", op, ed_errname(err->code),
             b.data ? b.data : "\"\"", extra ? " " : "", extra ? extra : "");
    ed_buf_dispose(&b);
}

/* ---- opening ---------------------------------------------------------------------------- */

static int mkdir_p(const char *dir, struct ed_error *err)
{
    int rc = ed_mkdirs(dir, 0700);
    if (rc)
        return ed_error_set(err, rc == ED_ENOMEM ? rc : ED_EIO,
                            "cannot create data directory %s: %s", dir, ed_strerror(rc));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ed_error_set(err, ED_EIO, "data directory %s is not a directory", dir);
    return 0;
}

static int lock_dir(struct st_db *db, struct ed_error *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/control.lock", db->dir) < 0)
        return ed_error_set(err, ED_ENOMEM, NULL);
    int rc = 0;
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (db->lock_fd < 0)
        rc = ed_error_set(err, ED_EIO, "cannot open %s: %s", path, strerror(errno));
    else if (flock(db->lock_fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK
                 ? ed_error_set(err, ED_EBUSY, "data directory %s is in use (%s is locked)",
                                db->dir, path)
                 : ed_error_set(err, ED_EIO, "cannot lock %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

static int exec(sqlite3 *conn, const char *sql, struct ed_error *err)
{
    if (sqlite3_exec(conn, sql, NULL, NULL, NULL) != SQLITE_OK)
        return st__sqlite_error(conn, "control.sqlite", err);
    return 0;
}

static int open_conn(struct st_db *db, bool reader, sqlite3 **out, struct ed_error *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/control.sqlite", db->dir) < 0)
        return ed_error_set(err, ED_ENOMEM, NULL);
    /* NOMUTEX: each connection is used by one thread at a time (the writer thread, or a
     * reader holding rd_mu), so SQLite's own per-connection mutex would only add cost. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
                (reader ? 0 : SQLITE_OPEN_CREATE);
    int rc = 0;
    if (sqlite3_open_v2(path, out, flags, NULL) != SQLITE_OK) {
        rc = *out ? ed_error_set(err, ED_ESQLITE, "cannot open %s: %s", path, sqlite3_errmsg(*out))
                  : ed_error_set(err, ED_ENOMEM, NULL);
        goto out_path;
    }
    sqlite3_busy_timeout(*out, ST__BUSY_TIMEOUT_MS);
    if (reader) {
        rc = exec(*out, "PRAGMA query_only = ON;", err);
        goto out_path;
    }
    /* WAL lets readers work beside the writer; FULL makes every commit durable (DESIGN.md
     * decision 7), at one fsync per flush since the writer batches. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(*out, "PRAGMA journal_mode = WAL;", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = st__sqlite_error(*out, path, err);
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0)
            rc = ed_error_set(err, ED_ESQLITE, "%s: cannot use WAL mode (journal_mode=%s)", path,
                              mode ? mode : "?");
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = exec(*out, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", err);
out_path:
    free(path);
    return rc;
}

static int migrate(struct st_db *db, struct ed_error *err)
{
    int rc = exec(db->wdb, "BEGIN IMMEDIATE;", err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db->wdb, "PRAGMA user_version;", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < 0) {
        rc = st__sqlite_error(db->wdb, "control.sqlite: reading schema version", err);
        goto out_rollback;
    }
    if (version > ST__NMIGRATIONS) {
        rc = ed_error_set(err, ED_ESQLITE,
                          "control.sqlite has schema version %d, newer than this edged (%d)",
                          version, ST__NMIGRATIONS);
        goto out_rollback;
    }
    for (int i = version; i < ST__NMIGRATIONS; i++) {
        char set[64];
        snprintf(set, sizeof set, "PRAGMA user_version = %d;", i + 1);
        if ((rc = exec(db->wdb, st__migrations[i], err)) || (rc = exec(db->wdb, set, err))) {
            ed_error_set(err, rc, "control.sqlite: schema step %d: %s", i + 1,
                         sqlite3_errmsg(db->wdb));
            goto out_rollback;
        }
    }
    rc = exec(db->wdb, "COMMIT;", err);
    if (rc == 0) {
        if (version < ST__NMIGRATIONS)
            ED_INFO("event=storage_migrated from=%d to=%d", version, ST__NMIGRATIONS);
        return 0;
    }
out_rollback:
    sqlite3_exec(db->wdb, "ROLLBACK;", NULL, NULL, NULL);
    return rc;
}

/* ---- the writer thread ------------------------------------------------------------------- */

static uint64_t retry_ns(const struct st_db *db)
{
    uint64_t ms = db->flush_ms;
    for (uint32_t i = 1; i < db->failures && ms < ST__RETRY_MAX_MS; i++)
        ms *= 2;
    return (ms < ST__RETRY_MAX_MS ? ms : ST__RETRY_MAX_MS) * 1000000u;
}

void st__pending_armed(struct st_db *db)
{
    db->deadline_ns = ed_now_ns() + (db->failures ? retry_ns(db) : db->flush_ms * 1000000ull);
    if (db->writer_idle)
        pthread_cond_signal(&db->q_cond);
}

/* One flush attempt: takes the pending batch, commits it with q_mu released, then settles the
 * outcome for st_flush callers. On failure the batch goes back to the queue (merged, no memory
 * needed) and is retried after a backoff. q_mu held on entry and exit. */
static int flush_locked(struct st_db *db)
{
    uint64_t serving = db->flush_req;
    struct ed_error err = {0};
    int rc = 0;
    if (db->pending.n > 0) {
        struct st__batch b = db->pending;
        memset(&db->pending, 0, sizeof db->pending);
        db->pending.seq = b.seq + 1;
        db->deadline_ns = 0;
        db->inflight = &b;
        pthread_mutex_unlock(&db->q_mu);

        uint64_t t0 = ed_now_ns();
        rc = st__batch_write(db, &b, &err);
        uint64_t took_us = (ed_now_ns() - t0) / 1000;

        pthread_mutex_lock(&db->q_mu);
        db->inflight = NULL;
        if (rc == 0) {
            ED_DEBUG("event=storage_flush seq=%llu entries=%zu keys=%zu took_us=%llu",
                     (unsigned long long)b.seq, b.n, b.nkeys, (unsigned long long)took_us);
            st__batch_free(&b);
            db->failures = 0;
        } else {
            size_t n = b.n, nkeys = b.nkeys;
            st__batch_merge(&db->pending, &b);
            db->failures++;
            st__pending_armed(db);
            char extra[128];
            snprintf(extra, sizeof extra, "entries=%zu keys=%zu failures=%u retry_ms=%llu", n,
                     nkeys, db->failures, (unsigned long long)(retry_ns(db) / 1000000u));
            pthread_mutex_unlock(&db->q_mu);
            st__log_error("usage_flush", &err, extra);
            pthread_mutex_lock(&db->q_mu);
        }
    }
    db->flush_attempted = serving;
    db->flush_rc = rc;
    free(db->flush_msg);
    db->flush_msg = err.msg; /* takes it */
    pthread_cond_broadcast(&db->done_cond);
    return rc;
}

static void log_dropped_locked(struct st_db *db)
{
    if (db->dropped == db->dropped_logged)
        return;
    unsigned long long n = db->dropped - db->dropped_logged, total = db->dropped;
    db->dropped_logged = db->dropped;
    pthread_mutex_unlock(&db->q_mu);
    ED_ERROR("event=storage_error op=usage_add code=ED_ENOMEM msg=\"usage queue full, deltas "
             "dropped\" dropped=%llu dropped_total=%llu",
             n, total);
    pthread_mutex_lock(&db->q_mu);
}

static void wait_until(struct st_db *db, uint64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                          .tv_nsec = (long)(deadline_ns % 1000000000u)};
    pthread_cond_timedwait(&db->q_cond, &db->q_mu, &ts);
}

static void *writer_main(void *arg)
{
    struct st_db *db = arg;
    int close_tries = 0;
    pthread_mutex_lock(&db->q_mu);
    for (;;) {
        log_dropped_locked(db);
        bool due = db->deadline_ns && ed_now_ns() >= db->deadline_ns;
        if (db->stopping || due || db->flush_req > db->flush_attempted) {
            int rc = flush_locked(db);
            if (!db->stopping)
                continue;
            if (rc == 0 && db->pending.n == 0)
                break;
            if (rc != 0 && ++close_tries >= ST__CLOSE_TRIES)
                break;
            if (rc != 0)
                wait_until(db, ed_now_ns() + 100000000u); /* a moment for the disk */
            continue;
        }
        if (db->deadline_ns) {
            wait_until(db, db->deadline_ns);
        } else {
            db->writer_idle = true;
            pthread_cond_wait(&db->q_cond, &db->q_mu);
            db->writer_idle = false;
        }
    }
    if (db->pending.n > 0) {
        ED_ERROR("event=storage_error op=close code=ED_ESQLITE msg=\"usage not committed at "
                 "close, lost\" entries=%zu keys=%zu",
                 db->pending.n, db->pending.nkeys);
        st__batch_free(&db->pending);
    }
    log_dropped_locked(db);
    pthread_mutex_unlock(&db->q_mu);
    return NULL;
}

/* ---- public ----------------------------------------------------------------------------- */

static void db_free(struct st_db *db)
{
    sqlite3_stmt *stmts[] = {db->w_begin, db->w_commit, db->w_rollback, db->w_upsert,
                             db->w_child, db->w_seq,    db->r_begin,    db->r_end,
                             db->r_seq,   db->r_row,    db->r_day,      db->r_child};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
        sqlite3_finalize(stmts[i]);
    /* The reader first, so the writer's close is the last and checkpoints the WAL away. */
    sqlite3_close(db->rdb);
    sqlite3_close(db->wdb);
    st__batch_free(&db->pending);
    free(db->flush_msg);
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    pthread_cond_destroy(&db->done_cond);
    pthread_cond_destroy(&db->q_cond);
    pthread_mutex_destroy(&db->q_mu);
    pthread_mutex_destroy(&db->rd_mu);
    free(db->dir);
    free(db);
}

int st_open(const char *dir, uint32_t flush_ms, struct st_db **out, struct ed_error *err)
{
    if (!dir || !*dir || !out)
        return ed_error_set(err, ED_EINVAL, "st_open: no data directory");
    *out = NULL;
    struct st_db *db = calloc(1, sizeof *db);
    if (!db)
        return ed_error_set(err, ED_ENOMEM, NULL);
    db->lock_fd = -1;
    db->flush_ms = flush_ms ? flush_ms : 200;
    pthread_mutex_init(&db->rd_mu, NULL);
    pthread_mutex_init(&db->q_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines come from ed_now_ns() */
    pthread_cond_init(&db->q_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&db->done_cond, NULL);

    int rc;
    if (!(db->dir = ed_strdup(dir))) {
        rc = ed_error_set(err, ED_ENOMEM, NULL);
        goto out_free;
    }
    if ((rc = mkdir_p(dir, err)) || (rc = lock_dir(db, err)) ||
        (rc = open_conn(db, false, &db->wdb, err)) || (rc = migrate(db, err)) ||
        (rc = open_conn(db, true, &db->rdb, err)) || (rc = st__usage_prepare(db, err)))
        goto out_free;
    uint64_t seq = 0;
    if ((rc = st__usage_read_seq(db, &seq, err)))
        goto out_free;
    db->pending.seq = seq + 1;
    if ((rc = -pthread_create(&db->thread, NULL, writer_main, db))) {
        ed_error_set(err, rc, "cannot start the storage writer thread: %s", strerror(-rc));
        goto out_free;
    }
    db->thread_started = true;
    *out = db;
    return 0;

out_free:
    db_free(db);
    return rc;
}

void st_close(struct st_db *db)
{
    if (!db)
        return;
    if (db->thread_started) {
        pthread_mutex_lock(&db->q_mu);
        db->stopping = true;
        pthread_cond_signal(&db->q_cond);
        pthread_mutex_unlock(&db->q_mu);
        pthread_join(db->thread, NULL);
    }
    db_free(db);
}

int st_flush(struct st_db *db, struct ed_error *err)
{
    if (!db)
        return ed_error_set(err, ED_EINVAL, "st_flush: no database");
    pthread_mutex_lock(&db->q_mu);
    uint64_t mine = ++db->flush_req;
    pthread_cond_signal(&db->q_cond);
    while (db->flush_attempted < mine)
        pthread_cond_wait(&db->done_cond, &db->q_mu);
    int rc = db->flush_rc;
    if (rc)
        ed_error_set(err, rc, "%s", db->flush_msg ? db->flush_msg : ed_strerror(rc));
    pthread_mutex_unlock(&db->q_mu);
    return rc;
}
