/*
 * The per-shard cache of durable object databases: names checked before they become paths,
 * databases opened lazily (WAL, synchronous=NORMAL) and closed least recently used first so a
 * shard never holds more than max_open of them, the implicit transaction every operation runs
 * in, savepoints for transactionSync, and the group commit that ends each loop turn.
 *
 * synchronous=NORMAL: a commit appends to the WAL with write() and does not fsync, so a
 * process killed at any moment loses nothing committed (the kernel holds the pages), and a
 * power loss may lose the last commits but never corrupts a database. One shard thread owns
 * an st_objects and everything in it, so nothing here locks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "do_int.h"
#include "st_int.h"

/* ---- names --------------------------------------------------------------------------------- */

bool st__tenant_ok(const char *s)
{
    size_t n = strnlen(s, ST__TENANT_MAX + 1);
    if (n == 0 || n > ST__TENANT_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

bool st__class_ok(const char *s)
{
    size_t n = strnlen(s, ST__CLASS_MAX + 1);
    if (n == 0 || n > ST__CLASS_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
        if (!alpha && (i == 0 || c < '0' || c > '9'))
            return false;
    }
    return true;
}

const char *st_object_tenant(const struct st_object *o)
{
    return o->tenant;
}

const char *st_object_class(const struct st_object *o)
{
    return o->cls;
}

const char *st_object_hex(const struct st_object *o)
{
    return o->hex;
}

/* ---- trusted statements -------------------------------------------------------------------- */

int st__prepare_trusted(struct st_object *o, sqlite3_stmt **slot, const char *sql)
{
    if (*slot)
        return SQLITE_OK;
    o->trusted = true;
    int rc = sqlite3_prepare_v3(o->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
    o->trusted = false;
    return rc;
}

int st__step_trusted(struct st_object *o, sqlite3_stmt **slot, const char *sql)
{
    int rc = st__prepare_trusted(o, slot, sql);
    if (rc != SQLITE_OK)
        return rc;
    o->trusted = true;
    do
        rc = sqlite3_step(*slot);
    while (rc == SQLITE_ROW);
    o->trusted = false;
    sqlite3_reset(*slot);
    return rc;
}

int st__exec_trusted(struct st_object *o, const char *sql)
{
    o->trusted = true;
    int rc = sqlite3_exec(o->db, sql, NULL, NULL, NULL);
    o->trusted = false;
    return rc;
}

/* ---- transactions -------------------------------------------------------------------------- */

void st__forget_schema(struct st_object *o)
{
    o->kv_ready = false;
    o->meta_ready = false;
    o->alarm_known = false;
}

void st__txn_check(struct st_object *o, int rc)
{
    if (!o->in_txn || o->txn_lost || !sqlite3_get_autocommit(o->db))
        return;
    /* SQLite rolled the whole transaction back (an I/O error, a full disk, an interrupt): every
     * write of this turn is gone, so the commit must report failure. */
    o->txn_lost = true;
    o->savepoints = 0;
    o->lost_code = (rc & 0xff) == SQLITE_INTERRUPT ? ED_ETIMEDOUT : ED_ESQLITE;
    free(o->lost_msg);
    o->lost_msg = NULL;
    struct ed_error why = {0};
    st__quota_error(o, rc, ED_ESQLITE, &why); /* past the quota: say so */
    if (asprintf(&o->lost_msg, "the transaction was rolled back: %s",
                 why.msg ? why.msg : sqlite3_errmsg(o->db)) < 0)
        o->lost_msg = NULL;
    ed_error_dispose(&why);
    st__forget_schema(o);
}

static void dirty_push(struct st_object *o)
{
    if (o->in_dirty)
        return;
    o->in_dirty = true;
    o->dnext = o->os->dirty;
    o->os->dirty = o;
}

int st__txn(struct st_object *o, struct ed_error *err)
{
    struct st_objects *os = o->os;
    o->deadline_ns =
        os->deadline_ns ? os->deadline_ns : ed_now_ns() + (uint64_t)ST__DEFAULT_EXEC_MS * 1000000u;
    if (o->txn_lost)
        return ed_error_set(err, o->lost_code, "%s",
                            o->lost_msg ? o->lost_msg : "the transaction was rolled back");
    st__quota_cap(o);
    if (o->in_txn)
        return 0;
    int rc = st__step_trusted(o, &o->s_begin, "BEGIN IMMEDIATE");
    if (rc != SQLITE_DONE)
        return st__sqlite_error(o->db, "durable object: begin", err);
    o->in_txn = true;
    dirty_push(o);
    return 0;
}

bool st_object_dirty(const struct st_object *o)
{
    return o && o->in_txn;
}

void st__dirty_remove(struct st_object *o)
{
    if (!o->in_dirty)
        return;
    for (struct st_object **pp = &o->os->dirty; *pp; pp = &(*pp)->dnext) {
        if (*pp == o) {
            *pp = o->dnext;
            break;
        }
    }
    o->dnext = NULL;
    o->in_dirty = false;
}

static void object_close(struct st_objects *os, struct st_object *o);

int st_object_rollback(struct st_object *o, struct ed_error *err)
{
    if (!o || !o->in_txn)
        return 0;
    int rc = 0;
    o->deadline_ns = UINT64_MAX; /* a deadline already past must not interrupt the rollback */
    if (!sqlite3_get_autocommit(o->db) &&
        st__step_trusted(o, &o->s_rollback, "ROLLBACK") != SQLITE_DONE)
        rc = st__sqlite_error(o->db, "durable object: rollback", err);
    o->in_txn = false;
    o->txn_lost = false;
    o->savepoints = 0;
    o->alarm_touched = false;
    free(o->lost_msg);
    o->lost_msg = NULL;
    st__forget_schema(o);
    st__stmt_cache_clear(o);
    st__dirty_remove(o);
    if (rc) {
        /* a connection that cannot roll back holds the writes in its open transaction: closing
         * it is what discards them */
        object_close(o->os, o);
        return rc;
    }
    st__quota_charge(o);
    return 0;
}

int st_object_savepoint(struct st_object *o, struct ed_error *err)
{
    int rc = st__txn(o, err);
    if (rc)
        return rc;
    if (st__exec_trusted(o, "SAVEPOINT _cf_sp") != SQLITE_OK) {
        rc = st__sqlite_error(o->db, "durable object: savepoint", err);
        st__txn_check(o, rc);
        return rc;
    }
    o->savepoints++;
    return 0;
}

int st_object_release(struct st_object *o, bool commit, struct ed_error *err)
{
    if (o->txn_lost)
        return ed_error_set(err, o->lost_code, "%s",
                            o->lost_msg ? o->lost_msg : "the transaction was rolled back");
    if (!o->in_txn || o->savepoints == 0)
        return ed_error_set(err, ED_EINVAL, "no savepoint is open");
    const char *sql = commit ? "RELEASE _cf_sp" : "ROLLBACK TO _cf_sp; RELEASE _cf_sp";
    if (st__exec_trusted(o, sql) != SQLITE_OK) {
        int rc = st__sqlite_error(o->db, "durable object: release", err);
        st__txn_check(o, SQLITE_ERROR);
        return rc;
    }
    o->savepoints--;
    if (!commit) {
        /* what the cached state knew may have been undone (a table made, an alarm set) */
        st__forget_schema(o);
        st__stmt_cache_clear(o);
    }
    return 0;
}

/* Commits (or, when SQLite already rolled it back, reports) o's transaction. Returns 0 or a
 * negative code with msg (owned) set. */
static int commit_one(struct st_object *o, char **msg)
{
    int code = 0;
    struct ed_error err = {0};
    *msg = NULL;
    o->deadline_ns = UINT64_MAX; /* a deadline already past must not interrupt the commit */
    if (o->txn_lost) {
        code = o->lost_code;
        *msg = o->lost_msg;
        o->lost_msg = NULL;
        goto out;
    }
    /* a savepoint left open (st_objects_free) is undone: its work never finished */
    while (o->savepoints > 0) {
        st__exec_trusted(o, "ROLLBACK TO _cf_sp; RELEASE _cf_sp");
        o->savepoints--;
        st__forget_schema(o);
    }
    if ((code = st__alarm_before_commit(o, &err)) == 0) {
        int rc = st__step_trusted(o, &o->s_commit, "COMMIT");
        if (rc == SQLITE_DONE)
            st__alarm_after_commit(o);
        else
            code = st__sqlite_error(o->db, "durable object: commit", &err);
    }
    if (code) {
        *msg = err.msg;
        err.msg = NULL;
        if (!sqlite3_get_autocommit(o->db))
            st__step_trusted(o, &o->s_rollback, "ROLLBACK");
        st__forget_schema(o);
        st__stmt_cache_clear(o);
    }
out:
    o->in_txn = false;
    o->txn_lost = false;
    o->alarm_touched = false;
    st__quota_charge(o); /* committed or rolled back, the size it has now */
    ed_error_dispose(&err);
    return code;
}

static int commit_all(struct st_objects *os, st_commit_cb done, void *ud, bool force);

/* ---- the cache ----------------------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t name_hash(const char *tenant, const char *cls, const char *hex, const char *facet,
                          size_t facet_len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, tenant, strlen(tenant) + 1);
    h = fnv1a(h, cls, strlen(cls) + 1);
    h = fnv1a(h, hex, 64);
    return facet ? fnv1a(fnv1a(h, "/", 1), facet, facet_len) : h;
}

static bool same_facet(const struct st_object *o, const char *facet, size_t facet_len)
{
    if (!o->facet || !facet)
        return !o->facet && !facet;
    return o->facet_len == facet_len && memcmp(o->facet, facet, facet_len) == 0;
}

static void lru_unlink(struct st_objects *os, struct st_object *o)
{
    if (o->lru_prev)
        o->lru_prev->lru_next = o->lru_next;
    else
        os->lru_head = o->lru_next;
    if (o->lru_next)
        o->lru_next->lru_prev = o->lru_prev;
    else
        os->lru_tail = o->lru_prev;
    o->lru_prev = o->lru_next = NULL;
}

static void lru_push(struct st_objects *os, struct st_object *o)
{
    o->lru_prev = NULL;
    o->lru_next = os->lru_head;
    if (os->lru_head)
        os->lru_head->lru_prev = o;
    os->lru_head = o;
    if (!os->lru_tail)
        os->lru_tail = o;
}

static void object_free(struct st_object *o)
{
    if (o->db) {
        st__stmt_cache_clear(o);
        sqlite3_stmt *stmts[] = {o->s_begin,    o->s_commit, o->s_rollback, o->s_kv_get,
                                 o->s_kv_put,   o->s_kv_del, o->s_meta_get, o->s_meta_put,
                                 o->s_meta_del, o->s_pages};
        for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
            sqlite3_finalize(stmts[i]);
        /* no checkpoint on close (see object_open): the WAL stays for the next open */
        if (sqlite3_close(o->db) != SQLITE_OK)
            ED_WARN("event=storage_error op=object_close path=%s msg=\"%s\"", o->path,
                    sqlite3_errmsg(o->db));
        /* closed, the database stands for its files again */
        if (o->quota)
            atomic_fetch_add(&o->quota->bytes, st__disk_size(o->path) - o->charged);
    }
    free(o->lost_msg);
    free(o->facet);
    free(o->path);
    free(o->tenant);
    free(o->cls);
    free(o);
}

/* Takes o out of the cache and closes it. It must have no open transaction. */
static void object_close(struct st_objects *os, struct st_object *o)
{
    struct st_object **pp = &os->buckets[o->hash & (os->nbuckets - 1)];
    while (*pp && *pp != o)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = o->hnext;
    lru_unlink(os, o);
    os->open--;
    object_free(o);
}

/* Closes least recently used objects without a transaction until at most keep are open. */
static void trim(struct st_objects *os, uint32_t keep)
{
    struct st_object *o = os->lru_tail;
    while (o && os->open > keep) {
        struct st_object *prev = o->lru_prev;
        if (!o->in_txn && !o->in_dirty)
            object_close(os, o);
        o = prev;
    }
}

int st_objects_new(const char *data_dir, struct st_db *db, uint32_t max_open,
                   struct st_objects **out, struct ed_error *err)
{
    if (!data_dir || !*data_dir || !out)
        return ed_error_set(err, ED_EINVAL, "st_objects_new: no data directory");
    struct st_objects *os = calloc(1, sizeof *os);
    if (!os)
        return ed_error_set(err, ED_ENOMEM, NULL);
    os->db = db;
    os->max_open = max_open ? max_open : ST__DEFAULT_MAX_OPEN;
    os->nbuckets = 16;
    while (os->nbuckets < 2 * (size_t)os->max_open && os->nbuckets < (1u << 20))
        os->nbuckets *= 2;
    os->buckets = calloc(os->nbuckets, sizeof *os->buckets);
    os->data_dir = ed_strdup(data_dir);
    if (!os->buckets || !os->data_dir) {
        free(os->buckets);
        free(os->data_dir);
        free(os);
        return ed_error_set(err, ED_ENOMEM, NULL);
    }
    *out = os;
    return 0;
}

void st_objects_free(struct st_objects *os)
{
    if (!os)
        return;
    commit_all(os, NULL, NULL, true);
    while (os->lru_head)
        object_close(os, os->lru_head);
    st__alarm_close(os);
    free(os->buckets);
    free(os->data_dir);
    free(os);
}

void st_objects_set_quotas(struct st_objects *os, st_quota_cb lookup, void *ud)
{
    os->quota_of = lookup;
    os->quota_ud = ud;
}

void st_objects_set_fsync(struct st_objects *os, bool fsync)
{
    os->fsync = fsync;
}

void st_objects_set_deadline(struct st_objects *os, uint64_t deadline_ns)
{
    os->deadline_ns = deadline_ns;
}

uint32_t st_objects_open_count(const struct st_objects *os)
{
    return os ? os->open : 0;
}

/* force: also objects with a savepoint open (their savepoints are rolled back). */
static int commit_all(struct st_objects *os, st_commit_cb done, void *ud, bool force)
{
    int failed = 0;
    struct st_object **pp = &os->dirty;
    while (*pp) {
        struct st_object *o = *pp;
        /* a transaction(async fn) still running keeps its object's work open */
        if (o->savepoints > 0 && !o->txn_lost && !force) {
            pp = &o->dnext;
            continue;
        }
        *pp = o->dnext;
        o->dnext = NULL;
        o->in_dirty = false;
        char *msg = NULL;
        int code = o->in_txn ? commit_one(o, &msg) : 0;
        if (code) {
            failed++;
            struct ed_error e = {.code = code, .msg = msg};
            char extra[400];
            snprintf(extra, sizeof extra, "tenant=%s class=%s id=%s", o->tenant, o->cls, o->hex);
            st__log_error("object_commit", &e, extra);
        }
        if (done)
            done(ud, o, code, code ? (msg ? msg : ed_strerror(code)) : NULL);
        free(msg);
    }
    trim(os, os->max_open);
    return failed;
}

int st_objects_commit(struct st_objects *os, st_commit_cb done, void *ud)
{
    return os ? commit_all(os, done, ud, false) : 0;
}

/* ---- opening ------------------------------------------------------------------------------- */

static int on_progress(void *ud)
{
    struct st_object *o = ud;
    return ed_now_ns() > o->deadline_ns;
}

/* DATA/tenants/<tenant>/do/<class>: made 0700 when missing, and must be a real directory (a
 * symbolic link planted there would lead outside the tenant's tree). */
static int make_dir(struct st_object *o, const char *data_dir, char **dir, struct ed_error *err)
{
    int n = o->facet ? asprintf(dir, "%s/tenants/%s/do/%s/%s.facets", data_dir, o->tenant, o->cls,
                                o->hex)
                     : asprintf(dir, "%s/tenants/%s/do/%s", data_dir, o->tenant, o->cls);
    if (n < 0) {
        *dir = NULL;
        return ed_error_set(err, ED_ENOMEM, NULL);
    }
    if (o->facet) { /* the class directory may not be a symbolic link either */
        char *cls_dir = strndup(*dir, strrchr(*dir, '/') - *dir);
        struct stat st;
        if (!cls_dir)
            return ed_error_set(err, ED_ENOMEM, NULL);
        int bad = ed_mkdirs(cls_dir, 0700) != 0 || lstat(cls_dir, &st) != 0 || !S_ISDIR(st.st_mode);
        free(cls_dir);
        if (bad)
            return ed_error_set(err, ED_EIO, "the class directory of %s is not a directory", *dir);
    }
    int rc = ed_mkdirs(*dir, 0700);
    if (rc)
        return ed_error_set(err, rc == ED_ENOMEM ? rc : ED_EIO, "cannot create %s: %s", *dir,
                            ed_strerror(rc));
    struct stat st;
    if (lstat(*dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ed_error_set(err, ED_EIO, "%s is not a directory", *dir);
    return 0;
}

/* Sets a pragma whose answer is a row (journal_mode): checks it took. */
static int pragma_wal(struct st_object *o, struct ed_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    o->trusted = true;
    if (sqlite3_prepare_v2(o->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = st__sqlite_error(o->db, o->path, err);
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0)
            rc = ed_error_set(err, ED_ESQLITE, "%s: cannot use WAL mode (journal_mode=%s)", o->path,
                              mode ? mode : "?");
    }
    o->trusted = false;
    sqlite3_finalize(st);
    return rc;
}

/* A new object's database counts against the tenant's object limit: one more if there is room.
 * Returns 0 or ED_ETOOBIG with the message. */
static int count_object(struct st_object *o, struct ed_error *err)
{
    struct st_quota *q = o->quota;
    int64_t n = atomic_load(&q->objects);
    do {
        if (q->max_objects && (uint64_t)n >= q->max_objects)
            return ed_error_set(err, ED_ETOOBIG,
                                "Exceeded the Durable Object limit of this tenant: it has %lld "
                                "objects with storage, the most it may have.",
                                (long long)n);
    } while (!atomic_compare_exchange_weak(&q->objects, &n, n + 1));
    return 0;
}

static int object_open(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                       const char *facet, size_t facet_len, uint64_t hash, struct st_object **out,
                       struct ed_error *err)
{
    struct st_object *o = calloc(1, sizeof *o);
    if (!o)
        return ed_error_set(err, ED_ENOMEM, NULL);
    o->os = os;
    o->hash = hash;
    memcpy(o->hex, hex, 64);
    o->hex[64] = '\0';
    char *dir = NULL;
    char file[ST_OBJECT_ID_HEX];
    int rc;
    bool counted = false;
    if (!(o->tenant = ed_strdup(tenant)) || !(o->cls = ed_strdup(cls)) ||
        (facet && !(o->facet = ed_strndup(facet, facet_len)))) {
        rc = ed_error_set(err, ED_ENOMEM, NULL);
        goto out_free;
    }
    o->facet_len = facet ? facet_len : 0;
    if (facet && (rc = st__facet_file(facet, facet_len, file)))
        goto out_free_msg;
    if ((rc = make_dir(o, os->data_dir, &dir, err)))
        goto out_free;
    if (asprintf(&o->path, "%s/%s.sqlite", dir, facet ? file : o->hex) < 0) {
        o->path = NULL;
        rc = ed_error_set(err, ED_ENOMEM, NULL);
        goto out_free;
    }
    o->quota = os->quota_of ? os->quota_of(os->quota_ud, tenant) : NULL;
    struct stat st;
    bool exists = lstat(o->path, &st) == 0;
    if (o->quota && !facet && !exists) {
        if ((rc = count_object(o, err)))
            goto out_free_quota;
        counted = true;
    }
    o->charged = o->quota ? st__disk_size(o->path) : 0;
    /* NOFOLLOW: the database file itself may not be a symbolic link either */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOFOLLOW;
    if (sqlite3_open_v2(o->path, &o->db, flags, NULL) != SQLITE_OK) {
        rc = o->db ? ed_error_set(err, ED_ESQLITE, "cannot open %s: %s", o->path,
                                  sqlite3_errmsg(o->db))
                   : ed_error_set(err, ED_ENOMEM, NULL);
        goto out_free;
    }
    if ((rc = st__secure(o, err)))
        goto out_free;
    /* A checkpoint on close costs two fsyncs (~6 ms here) on the shard's thread, for every
     * object the LRU closes: the WAL stays instead (as safe against a crash), the next open
     * reads it back, and autocheckpoint folds it in as it grows. */
    sqlite3_db_config(o->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    /* auto_vacuum only takes on a new database (before its first table): deleteAll then gives
     * pages back with incremental_vacuum. */
    if (st__exec_trusted(o, "PRAGMA auto_vacuum = INCREMENTAL") != SQLITE_OK) {
        rc = st__sqlite_error(o->db, o->path, err);
        goto out_free;
    }
    if ((rc = pragma_wal(o, err)))
        goto out_free;
    char pragmas[200];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA synchronous = %s; PRAGMA foreign_keys = ON; PRAGMA cache_size = -%d; "
             "PRAGMA journal_size_limit = %d;",
             o->os->fsync ? "FULL" : "NORMAL", ST__CACHE_KIB, ST__WAL_KEEP_BYTES);
    if (st__exec_trusted(o, pragmas) != SQLITE_OK) {
        rc = st__sqlite_error(o->db, o->path, err);
        goto out_free;
    }
    /* Only this process opens the file, but a test or an operator may read it meanwhile. */
    sqlite3_busy_timeout(o->db, 2000);
    sqlite3_progress_handler(o->db, 4096, on_progress, o);
    free(dir);
    st__quota_charge(o); /* open, it stands for its pages rather than its files */
    *out = o;
    return 0;

out_free_msg:
    ed_error_set(err, rc, "cannot name the facet's database: %s", ed_strerror(rc));
out_free:
    if (counted)
        atomic_fetch_sub(&o->quota->objects, 1);
out_free_quota:
    free(dir);
    object_free(o);
    return rc;
}

static int lookup(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                  const char *facet, size_t facet_len, struct st_object **out,
                  struct ed_error *err);

int st_object_get(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                  struct st_object **out, struct ed_error *err)
{
    return lookup(os, tenant, cls, hex, NULL, 0, out, err);
}

int st_facet_get(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                 const char *facet, size_t facet_len, struct st_object **out, struct ed_error *err)
{
    if (!facet || facet_len == 0 || facet_len > ST_FACET_NAME_MAX)
        return ed_error_set(err, ED_EINVAL, "a facet's name must be 1 to %d bytes",
                            ST_FACET_NAME_MAX);
    return lookup(os, tenant, cls, hex, facet, facet_len, out, err);
}

const char *st_object_facet(const struct st_object *o, size_t *len)
{
    if (len)
        *len = o->facet_len;
    return o->facet;
}

int st_facet_delete(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                    const char *facet, size_t facet_len, struct ed_error *err)
{
    struct st_object *o = NULL;
    int rc = st_facet_get(os, tenant, cls, hex, facet, facet_len, &o, err);
    if (rc)
        return rc;
    struct st_quota *q = o->quota;
    char *path = strdup(o->path);
    if (!path)
        return ed_error_set(err, ED_ENOMEM, NULL);
    if (st_object_rollback(o, NULL) == 0) /* else it closed the database itself */
        object_close(os, o);
    /* closed, it was counted as its files; they go now */
    int64_t size = st__disk_size(path);
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix && rc == 0; i++) {
        char *f = NULL;
        if (asprintf(&f, "%s%s", path, suffix[i]) < 0) {
            rc = ed_error_set(err, ED_ENOMEM, NULL);
            break;
        }
        if (unlink(f) != 0 && errno != ENOENT)
            rc = ed_error_set(err, ED_EIO, "cannot delete %s: %s", f, strerror(errno));
        free(f);
    }
    if (q)
        atomic_fetch_sub(&q->bytes, size - st__disk_size(path));
    free(path);
    return rc;
}

static int lookup(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                  const char *facet, size_t facet_len, struct st_object **out, struct ed_error *err)
{
    if (!os || !out)
        return ed_error_set(err, ED_EINVAL, "st_object_get: no cache");
    if (!tenant || !st__tenant_ok(tenant))
        return ed_error_set(err, ED_EINVAL, "invalid tenant name");
    if (!cls || !st__class_ok(cls))
        return ed_error_set(err, ED_EINVAL, "invalid Durable Object class name");
    if (!hex || !st__hex_ok(hex, strnlen(hex, 65)))
        return ed_error_set(err, ED_EINVAL, "Invalid Durable Object ID: must be 64 hex digits");
    uint64_t h = name_hash(tenant, cls, hex, facet, facet_len);
    for (struct st_object *o = os->buckets[h & (os->nbuckets - 1)]; o; o = o->hnext) {
        if (o->hash == h && memcmp(o->hex, hex, 64) == 0 && strcmp(o->cls, cls) == 0 &&
            strcmp(o->tenant, tenant) == 0 && same_facet(o, facet, facet_len)) {
            if (os->lru_head != o) {
                lru_unlink(os, o);
                lru_push(os, o);
            }
            *out = o;
            return 0;
        }
    }
    if (os->open >= os->max_open)
        trim(os, os->max_open - 1);
    struct st_object *o = NULL;
    int rc = object_open(os, tenant, cls, hex, facet, facet_len, h, &o, err);
    if (rc)
        return rc;
    struct st_object **b = &os->buckets[h & (os->nbuckets - 1)];
    o->hnext = *b;
    *b = o;
    lru_push(os, o);
    os->open++;
    *out = o;
    return 0;
}
