/*
 * storage/ internals of durable objects, shared by objects.c (the per-shard cache: paths,
 * opening, LRU, implicit transactions, group commit, savepoints), sql.c (the authorizer, the
 * limits and st_sql_exec), kv.c (_cf_KV), alarms.c (_cf_METADATA and the control plane's
 * index) and ids.c. Nothing outside storage/ includes this header.
 *
 * An st_object exists only while its database is open: closing it (LRU, st_objects_free)
 * frees it, and st_object_get makes a new one. Internal statements run "trusted" (o->trusted
 * set around their prepare and step, which may re-prepare): the authorizer lets them touch
 * _cf_* tables and transactions; the tenant's SQL never runs trusted.
 */
#ifndef EDGED_STORAGE_DO_INT_H
#define EDGED_STORAGE_DO_INT_H

#include <sqlite3.h>
#include <stdatomic.h>

#include "storage/storage.h"

#define ST__DEFAULT_MAX_OPEN 256
#define ST__DEFAULT_EXEC_MS 30000
#define ST__CLASS_MAX 128
/* Per open database: page cache (KiB; SQLite's default is 2 MB, times 256 open per shard) */
#define ST__CACHE_KIB 512
/* A WAL is truncated back to this after a checkpoint (it stays between opens, see objects.c). */
#define ST__WAL_KEEP_BYTES (256 * 1024)
/* Cached prepared statements of the tenant's SQL, per object (single-statement queries). */
#define ST__STMT_CACHE 16

/* The internal tables, as sqlite_schema keeps their text (st_sql_exec compares it after an
 * ALTER TABLE, so a table renamed into _cf_* by the tenant is refused). */
#define ST__KV_SQL "CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"
#define ST__KV_SQL_Q "'" ST__KV_SQL "'"
#define ST__META_SQL "CREATE TABLE _cf_METADATA (key INTEGER PRIMARY KEY, value)"
#define ST__META_SQL_Q "'" ST__META_SQL "'"

/* One prepared statement of the tenant's SQL kept for reuse, keyed by its text. */
struct st__cached {
    sqlite3_stmt *st;
    char *sql; /* owned */
    size_t len;
    uint64_t used; /* os->tick when last used: the least recent is replaced */
};

struct st_object {
    struct st_objects *os;
    struct st_object *lru_prev, *lru_next; /* open objects, most recently used first */
    struct st_object *hnext;               /* hash chain */
    struct st_object *dnext;               /* objects with an open transaction */
    uint64_t hash;
    sqlite3 *db;

    bool in_txn;      /* BEGIN IMMEDIATE done, COMMIT not yet */
    bool in_dirty;    /* on os->dirty */
    bool txn_lost;    /* SQLite rolled the transaction back (I/O error, interrupt...) */
    bool trusted;     /* an internal statement is being prepared or stepped */
    bool kv_ready;    /* _cf_KV exists (in this transaction's view) */
    bool meta_ready;  /* _cf_METADATA exists */
    bool alarm_known; /* alarm_ms is the stored value */
    bool alarm_touched;
    bool altered; /* the statement being prepared alters a table */
    int64_t alarm_ms;
    uint32_t savepoints;  /* open st_object_savepoint depth */
    const char *auth_msg; /* a refusal's message, set by the authorizer (static string) */
    uint64_t deadline_ns; /* the progress handler interrupts past it */
    int lost_code;
    char *lost_msg; /* owned: why txn_lost */

    /* Internal statements, prepared on first use, finalized at close. */
    sqlite3_stmt *s_begin, *s_commit, *s_rollback;
    sqlite3_stmt *s_kv_get, *s_kv_put, *s_kv_del;
    sqlite3_stmt *s_meta_get, *s_meta_put, *s_meta_del;
    struct st__cached cache[ST__STMT_CACHE];

    char *path;         /* owned */
    char *tenant, *cls; /* owned */
    char hex[ST_OBJECT_ID_HEX];
    char *facet; /* owned: the facet's name (NULL for the object's own database) */
    size_t facet_len;

    /* The tenant's quota (borrowed from the cache's lookup; NULL: nothing counted). charged is
     * what this database stands for in quota->bytes: its size on disk before it was opened,
     * then page_count * page_size as measured after each commit (and after each write when the
     * quota has a byte limit). cap_pages is the max_page_count last set (0: none). */
    struct st_quota *quota;
    int64_t charged;
    int64_t page_size;
    int64_t cap_pages;
    sqlite3_stmt *s_pages;
};

/* A tenant's storage totals, shared by every shard (atomics: no lock). */
struct st_quota {
    _Atomic int64_t bytes;
    _Atomic int64_t objects;
    uint64_t max_bytes, max_objects; /* 0: no limit */
};

struct st_objects {
    char *data_dir;
    struct st_db *db; /* borrowed; NULL: no alarm index */
    sqlite3 *ctl;     /* this shard's connection to control.sqlite, for the alarm index */
    sqlite3_stmt *ctl_put, *ctl_del;
    uint32_t max_open, open;
    struct st_object **buckets;
    size_t nbuckets; /* power of two */
    struct st_object *lru_head, *lru_tail;
    struct st_object *dirty; /* singly linked through dnext */
    uint64_t deadline_ns;
    uint64_t tick;
    st_quota_cb quota_of; /* the tenant's quota, looked up when a database opens */
    void *quota_ud;
    bool fsync; /* synchronous=FULL for databases opened from now on */
};

/* ---- objects.c ---- */
/* Opens the implicit transaction if none is open. Returns 0 or a negative code with err. */
int st__txn(struct st_object *o, struct ed_error *err);
/* Notes that SQLite ended the transaction on its own (after an error): it is reported as
 * failed by the next commit. */
void st__txn_check(struct st_object *o, int rc);
/* Forgets what the cached state knows of the schema (after a rollback or deleteAll). */
void st__forget_schema(struct st_object *o);
/* Runs a trusted statement to its end: prepares *slot on first use (sql is its text), binds
 * nothing, resets it after. Returns the SQLite code (SQLITE_DONE on success). */
int st__step_trusted(struct st_object *o, sqlite3_stmt **slot, const char *sql);
/* Prepares sql trusted into *slot if not yet. Returns the SQLite code. */
int st__prepare_trusted(struct st_object *o, sqlite3_stmt **slot, const char *sql);
/* Executes sql (no rows) trusted, with sqlite3_exec. Returns the SQLite code. */
int st__exec_trusted(struct st_object *o, const char *sql);
/* Takes o off os->dirty (its transaction ended outside a commit). */
void st__dirty_remove(struct st_object *o);
/* Checks a tenant name / a class name. */
bool st__tenant_ok(const char *s);
bool st__class_ok(const char *s);
bool st__hex_ok(const char *s, size_t len);

/* ---- sql.c ---- */
/* Applies the limits, defensive mode and the authorizer to a new connection. */
int st__secure(struct st_object *o, struct ed_error *err);
/* Sets err from the connection's last error as workerd words it ("msg at offset N:
 * SQLITE_NAME (extended: ...)"), with code. Returns code. */
int st__sql_error(struct st_object *o, int rc, int code, struct ed_error *err);
/* The code st_sql_exec returns for an SQLite result. */
int st__sql_code(int rc);
/* Finalizes the tenant-statement cache. */
void st__stmt_cache_clear(struct st_object *o);

/* ---- quota.c ---- */
/* Measures o's size and adds the change to its tenant's bytes. */
void st__quota_charge(struct st_object *o);
/* Before an operation: with a byte limit, caps the database's pages at what the tenant has
 * left (SQLITE_FULL past it). */
void st__quota_cap(struct st_object *o);
/* After a failed statement: a SQLITE_FULL under a byte limit becomes the quota's message.
 * Returns code. */
int st__quota_error(struct st_object *o, int rc, int code, struct ed_error *err);
/* Bytes of path and path-wal on disk (0 when absent). */
int64_t st__disk_size(const char *path);

/* ---- ids.c ---- */
/* The file name of facet name (64 hex digits of a SHA-256 HMAC of it, and a NUL): facet names
 * are the tenant's strings, never path components. */
int st__facet_file(const char *name, size_t len, char hex[ST_OBJECT_ID_HEX]);

/* ---- kv.c ---- */
/* Whether table exists in the database (trusted read of sqlite_schema). */
int st__table_exists(struct st_object *o, const char *table, bool *exists, struct ed_error *err);

/* ---- alarms.c ---- */
/* Before COMMIT: writes the index entry of an alarm set in this transaction. */
int st__alarm_before_commit(struct st_object *o, struct ed_error *err);
/* After COMMIT: removes the index entry of an alarm deleted in this transaction. */
void st__alarm_after_commit(struct st_object *o);
/* Closes the shard's control-plane connection. */
void st__alarm_close(struct st_objects *os);

#endif
