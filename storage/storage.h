/*
 * storage/ — every SQLite handle edged opens: the control-plane database (DATA/control.sqlite,
 * WAL) with the per-tenant, per-UTC-day usage counters that billing reads, the node's key, the
 * durable objects' alarm index and the control plane's tenants, tokens, workers, versions and
 * routes (st_cp_*); and one database per durable object
 * (DATA/tenants/<tenant>/do/<class>/<id>.sqlite), held open by a per-shard cache (st_objects).
 *
 * Writes never run on a shard's loop: shards hand usage deltas to st_usage_add() (a mutex and
 * a memcpy), and one writer thread folds them into a transaction every flush interval, so an
 * fsync never stalls a request. Reads (st_usage_get) see committed rows plus what is still
 * queued, so a counter read right after a request already includes it.
 *
 * Prefix: st_.
 */
#ifndef EDGED_STORAGE_H
#define EDGED_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct st_db;

/* Opens (creating if needed) DIR/control.sqlite, migrates its schema and starts the writer
 * thread, which flushes queued usage every flush_ms (0: 200 ms). dir is borrowed (copied);
 * it is created with its parents if missing. One st_db holds a directory at a time (a lock on
 * DIR/control.lock). Returns owned (close with st_close) or a negative code with err set
 * (ED_ESQLITE with SQLite's message, e.g. not a database or a schema newer than this edged;
 * ED_EIO when the directory cannot be created or locked; ED_EBUSY when another st_db, in this
 * process or another, holds it). */
int st_open(const char *dir, uint32_t flush_ms, struct st_db **out, struct ed_error *err);
/* Flushes everything queued, stops the writer thread and closes the database. NULL is fine.
 * A flush that keeps failing is retried a few times, then what it held is logged as lost.
 * No other st_ call on db may run concurrently or afterwards. */
void st_close(struct st_db *db);
/* Flushes what is queued now and waits until it is committed (blocks on the disk: not for a
 * shard's loop). Returns 0 or a negative code with err set (ED_ESQLITE); after a failure the
 * deltas stay queued and are retried. */
int st_flush(struct st_db *db, struct ed_error *err);

/* A UTC day as "YYYY-MM-DD" for a Unix time in seconds (clamped to years 0000-9999). buf holds
 * ST_DAY_LEN bytes. Returns buf. */
#define ST_DAY_LEN 11
char *st_day(int64_t unix_seconds, char *buf);

/* What one tenant used on one day. Additive: st_usage_add adds each field. */
struct st_usage {
    uint64_t requests;          /* parent requests served */
    uint64_t cpu_us;            /* parent CPU time */
    uint64_t subrequests;       /* outbound fetches and child invocations made by the parent */
    uint64_t children_loaded;   /* unique child workers loaded (billing unit; see below) */
    uint64_t child_invocations; /* calls into children */
    uint64_t child_cpu_us;      /* children's CPU time, start-up included */
    uint64_t rows_read, rows_written; /* storage (durable objects), later */
};

/* Queues deltas for (tenant, day). Thread-safe, never blocks on I/O. tenant and day are
 * borrowed. Returns 0, ED_EINVAL (tenant empty or over 255 bytes, day not "YYYY-MM-DD") or
 * ED_ENOMEM (the delta is lost; counted in the operator's log): the queue holds at most
 * 100,000 distinct (tenant, day) and 100,000 child keys while the disk does not take them,
 * and adding to a (tenant, day) already queued is always accepted. */
int st_usage_add(struct st_db *db, const char *tenant, const char *day,
                 const struct st_usage *delta);

/* Records that tenant loaded the child worker identified by key (a 32-byte hash of loader
 * id + code) on day. children_loaded grows by one the first time a key is seen for
 * (tenant, day) — across shards and restarts — and never again that day. anonymous (load(),
 * id-less get()) counts every call: pass key NULL. Thread-safe, never blocks on I/O. tenant,
 * day and key are borrowed. Returns as st_usage_add. */
int st_usage_child_loaded(struct st_db *db, const char *tenant, const char *day,
                          const uint8_t key[32]);

/* The counters of (tenant, day): committed plus queued, never a delta counted twice or missed
 * while a flush commits. A read of the database (WAL: it never waits for the writer's fsync,
 * only for other readers), so fine for an occasional read from a shard's loop. Returns 0 (all
 * zero when nothing was recorded) or a negative code with err set. */
int st_usage_get(struct st_db *db, const char *tenant, const char *day, struct st_usage *out,
                 struct ed_error *err);

/* Every tenant's counters for day as a JSON object {"day": "...", "tenants": {"t":
 * {"requests": n, ...}}}, keys named as the fields of struct st_usage, tenants sorted by
 * name; tenant NULL for all tenants that recorded something that day, else only that one
 * (listed with zeros when it recorded nothing). Names that are not UTF-8 have their bad bytes
 * replaced by U+FFFD. Returns owned (free with free()) through *json, or a negative code with
 * err set. */
int st_usage_json(struct st_db *db, const char *tenant, const char *day, char **json,
                  struct ed_error *err);

/* ==== the control plane =====================================================================
 * Tenants, their tokens, workers with their versions and modules, and routes (schema step 3).
 * Every function here is one transaction on the control plane's own connection, run on the
 * caller's thread (the admin API's) and serialized by a mutex: each blocks on the disk
 * (synchronous=FULL, one fsync per write), so none is for a shard's loop except
 * st_cp_generation. Names are checked by the caller (deploy/); strings passed in are borrowed
 * for the call, strings handed to callbacks are borrowed for that call only. A callback's
 * non-zero return stops the listing and is returned; it may not call st_ functions on db.
 * Times are Unix milliseconds. Errors: ED_ENOENT (no such tenant, worker, version, token or
 * route), ED_EEXIST (the name or pattern is taken), ED_ETOOBIG (a quota), ED_ENOMEM,
 * ED_ESQLITE (the disk's trouble), with err set. */

struct st_tenant {
    const char *name;
    const char *status;         /* "active" | "suspended" (update: NULL keeps it) */
    const char *cordon;         /* "default" | "own" (update: NULL keeps it) */
    const char *quotas;         /* a JSON object, stored as given (update: NULL keeps it) */
    const char *routes_allowed; /* a JSON array of patterns, as given (update: NULL keeps it) */
    int64_t created;            /* set by st_cp_tenant_create */
};

struct st_token {
    const char *id;             /* "tok_" + 12 hex digits, made by the caller */
    const char *tenant;         /* NULL: an operator token */
    const char *label;          /* may be "" */
    int64_t created, last_used; /* last_used 0: never */
    bool revoked;
};

/* A token's hash is SHA-256 of the whole token text; the token itself is never stored. */
#define ST_TOKEN_HASH 32

/* Creates a tenant (status, cordon, quotas and routes_allowed default to "active", "default",
 * "{}" and "[]" when NULL) and, when first is not NULL, its first token with hash, in one
 * transaction. ED_EEXIST when the name (or the token's id or hash) is taken. */
int st_cp_tenant_create(struct st_db *db, const struct st_tenant *t, const struct st_token *first,
                        const uint8_t hash[ST_TOKEN_HASH], struct ed_error *err);
/* Calls each(ud, t) with the tenant (ED_ENOENT when there is none). */
int st_cp_tenant_get(struct st_db *db, const char *name,
                     int (*each)(void *ud, const struct st_tenant *t), void *ud,
                     struct ed_error *err);
/* Every tenant, by name. */
int st_cp_tenants_list(struct st_db *db, int (*each)(void *ud, const struct st_tenant *t), void *ud,
                       struct ed_error *err);
/* Sets the fields of t that are not NULL on tenant t->name; bumps the generation. */
int st_cp_tenant_update(struct st_db *db, const struct st_tenant *t, struct ed_error *err);
/* Deletes the tenant with its tokens, workers, versions, modules and routes; bumps the
 * generation. Its files are the caller's to remove. */
int st_cp_tenant_delete(struct st_db *db, const char *name, struct ed_error *err);

/* Stores a token (t->created is set now). ED_ENOENT when t->tenant is not a tenant, ED_EEXIST
 * when the id or the hash is taken. */
int st_cp_token_add(struct st_db *db, const struct st_token *t, const uint8_t hash[ST_TOKEN_HASH],
                    struct ed_error *err);
/* The token whose hash is hash: found through the index, then the stored hash is compared
 * with hash in constant time. Calls found(ud, t) (revoked tokens too: the caller refuses them)
 * and records the use (last_used, at most once a minute, so reads cost no fsync each).
 * ED_ENOENT when no token has that hash. */
int st_cp_token_lookup(struct st_db *db, const uint8_t hash[ST_TOKEN_HASH],
                       int (*found)(void *ud, const struct st_token *t), void *ud,
                       struct ed_error *err);
/* Tokens of tenant (NULL: the operator's), oldest first. */
int st_cp_tokens_list(struct st_db *db, const char *tenant,
                      int (*each)(void *ud, const struct st_token *t), void *ud,
                      struct ed_error *err);
/* Revokes token id of tenant (NULL: the operator's). ED_ENOENT when it has no such token. */
int st_cp_token_revoke(struct st_db *db, const char *tenant, const char *id, struct ed_error *err);
/* How many operator tokens are stored, revoked ones included (0 on a fresh data directory). */
int st_cp_operator_tokens(struct st_db *db, uint64_t *n, struct ed_error *err);

/* One module of a version. source is bytes (text as UTF-8); type is the caller's name for it
 * ("esm", "cjs", "text", "data", "json"). */
struct st_module {
    const char *name;
    const char *type;
    const void *source;
    size_t len;
};

/* What a deploy stores: a new version of tenant's worker, live at once. */
struct st_deploy {
    const char *tenant, *worker;
    const char *metadata; /* JSON: main_module, compatibility_date, bindings (secrets too) */
    const struct st_module *modules;
    size_t n_modules;
    uint64_t bytes;         /* the modules' total size */
    uint32_t max_workers;   /* a new worker beyond this many of the tenant's: ED_ETOOBIG */
    uint32_t keep_versions; /* older versions than the newest this many are dropped (0: keep) */
};
/* Stores d as the worker's next version (1 for a new worker) and makes it live, in one
 * transaction; bumps the generation. *version gets its number. ED_ENOENT when the tenant is
 * gone. The live version is never dropped by keep_versions. */
int st_cp_deploy(struct st_db *db, const struct st_deploy *d, int64_t *version,
                 struct ed_error *err);

struct st_worker_info {
    const char *tenant, *name;
    int64_t live_version;
    int64_t deployed; /* when the live version was made */
};
/* Workers of tenant (NULL: every tenant's), by tenant and name. */
int st_cp_workers_list(struct st_db *db, const char *tenant,
                       int (*each)(void *ud, const struct st_worker_info *w), void *ud,
                       struct ed_error *err);

struct st_version_info {
    int64_t version, created;
    uint64_t bytes;
    bool live;
    const char *metadata; /* as stored (secrets included: never echo it) */
};
/* Versions of a worker, newest first. ED_ENOENT when the worker does not exist. */
int st_cp_versions_list(struct st_db *db, const char *tenant, const char *worker,
                        int (*each)(void *ud, const struct st_version_info *v), void *ud,
                        struct ed_error *err);
/* Makes version live; bumps the generation. ED_ENOENT when the worker or version is absent. */
int st_cp_rollback(struct st_db *db, const char *tenant, const char *worker, int64_t version,
                   struct ed_error *err);
/* Deletes the worker, its versions, modules and routes; bumps the generation. */
int st_cp_worker_delete(struct st_db *db, const char *tenant, const char *worker,
                        struct ed_error *err);
/* A version of a worker (version 0: the live one) as the shards load it: info(ud, v) once,
 * then module(ud, m) for each of its modules by name. ED_ENOENT when absent. */
int st_cp_version_load(struct st_db *db, const char *tenant, const char *worker, int64_t version,
                       int (*info)(void *ud, const struct st_version_info *v),
                       int (*module)(void *ud, const struct st_module *m), void *ud,
                       struct ed_error *err);

struct st_route {
    const char *pattern; /* "host/path*", normalized by the caller */
    const char *tenant, *worker;
};
/* Binds pattern to tenant's worker (re-binding the tenant's own pattern moves it); bumps the
 * generation. ED_ENOENT when the worker does not exist, ED_EEXIST when another tenant owns
 * the pattern. */
int st_cp_route_put(struct st_db *db, const struct st_route *r, struct ed_error *err);
/* ED_ENOENT when tenant has no route with that pattern. Bumps the generation. */
int st_cp_route_delete(struct st_db *db, const char *tenant, const char *pattern,
                       struct ed_error *err);
/* Routes of tenant (NULL: every tenant's), by pattern. */
int st_cp_routes_list(struct st_db *db, const char *tenant,
                      int (*each)(void *ud, const struct st_route *r), void *ud,
                      struct ed_error *err);

/* A counter that grows with every committed change the shards must see (tenants, deploys,
 * rollbacks, workers, routes); it survives restarts. An atomic read: any thread, any time. */
uint64_t st_cp_generation(struct st_db *db);

/* ==== durable objects ======================================================================
 * One SQLite database per object. A shard owns an st_objects (its open databases); every
 * function taking an st_objects or st_object runs on that shard's thread (no locks). Every
 * operation runs inside the object's implicit transaction, opened by the first operation after
 * a commit; st_objects_commit commits all of them at the end of the shard's loop turn (group
 * commit), and only then may answers that followed a write leave (output gate). */

/* The node's secret for durable object ids (32 bytes): made with BoringSSL's RAND_bytes on the
 * first call and kept in control.sqlite (table node_keys); later calls, and later processes,
 * read the same key. Blocks on the disk (once, at start-up). Returns 0 or a negative code with
 * err set (ED_ESQLITE; ED_EIO/ED_EINVAL when BoringSSL cannot be loaded). */
int st_node_key(struct st_db *db, uint8_t key[32], struct ed_error *err);

/* ---- ids ----
 * id = R (16 bytes) || T (16 bytes), shown as 64 lower-case hex digits, with
 * T = HMAC-SHA256(key, "edged-do-id\0" tenant "\0" class "\0" R)[0..16): an id names an
 * object of one (tenant, class) only. idFromName: R = HMAC-SHA256(key, "edged-do-name\0" tenant
 * "\0" class "\0" name)[0..16); newUniqueId: R random. hex receives 64 digits and a NUL.
 * These return 0, or ED_EINVAL (tenant or class not a valid name, see st_object_get), ED_ENOMEM,
 * or BoringSSL's load error (they load it on first use). All strings are borrowed. */
#define ST_OBJECT_ID_HEX 65
int st_object_id_from_name(const uint8_t key[32], const char *tenant, const char *cls,
                           const char *name, size_t name_len, char hex[ST_OBJECT_ID_HEX]);
int st_object_id_unique(const uint8_t key[32], const char *tenant, const char *cls,
                        char hex[ST_OBJECT_ID_HEX]);
/* Whether hex (len bytes, not NUL-terminated) is an id of (tenant, class). Returns 0, or
 * ED_EINVAL with Workers' message: "Invalid Durable Object ID: must be 64 hex digits" (wrong
 * shape; upper-case digits count as wrong, so one object has one spelling) or "Durable Object
 * ID is not valid for this namespace." (made for another tenant or class, or forged). */
int st_object_id_check(const uint8_t key[32], const char *tenant, const char *cls, const char *hex,
                       size_t len, struct ed_error *err);
/* The shard that owns the object: first 8 bytes of the id, big-endian, modulo shards (0 when
 * shards is 0 or hex is no id). */
uint32_t st_object_shard(const char *hex, uint32_t shards);

/* ---- the per-shard cache ---- */
struct st_objects;
struct st_object;

/* A shard's open object databases under data_dir (borrowed, copied): at most max_open open at
 * once (0: 256); opening one more closes the least recently used one that has no open
 * transaction (when all have one, the cache goes over max_open until the next commit closes
 * the extra ones). An open database holds 3 file descriptors (database, WAL, shared memory):
 * pick max_open so that shards * max_open * 3 stays well under RLIMIT_NOFILE. db (borrowed; may
 * be NULL: no alarm index, for tests) is the control plane that holds the alarm index; it must
 * outlive os. Returns owned (free with st_objects_free) or ED_EINVAL/ED_ENOMEM with err set. */
int st_objects_new(const char *data_dir, struct st_db *db, uint32_t max_open,
                   struct st_objects **out, struct ed_error *err);
/* Commits every open transaction (as st_objects_commit, no callback) and closes every
 * database. NULL is fine. */
void st_objects_free(struct st_objects *os);

/* Operations running past this monotonic time (ed_now_ns) are interrupted inside SQLite (a
 * query that runs away); 0: the default, 30 s from the start of each call. A query interrupted
 * this way fails with ED_ETIMEDOUT; when it was writing, SQLite rolls the object's whole
 * transaction back, the object's later operations fail until the commit, which reports it. */
void st_objects_set_deadline(struct st_objects *os, uint64_t deadline_ns);

/* How many databases are open now (for tests and the operator). */
uint32_t st_objects_open_count(const struct st_objects *os);

/* The object's database, opened (and created, with its directories, mode 0700) on first use:
 * WAL, synchronous=NORMAL, foreign keys on, the SQL limits and refusals below. tenant: 1-255
 * of [A-Za-z0-9._-], not starting with '.'; cls: [A-Za-z_$][A-Za-z0-9_$]{0,127}; hex: 64
 * lower-case hex digits (an id checked with st_object_id_check: the cache does not check the
 * tag, it only keeps paths inside the tenant's directory). Borrowed: valid until the next
 * st_objects_* or st_object_get call on os (which may close it) — fetch it again for each
 * operation. Returns 0, ED_EINVAL (a bad name), ED_EIO (the directory or file cannot be made)
 * or ED_ESQLITE, with err set. */
int st_object_get(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                  struct st_object **out, struct ed_error *err);

/* Names the object was opened with. Borrowed: valid as the object. */
const char *st_object_tenant(const struct st_object *o);
const char *st_object_class(const struct st_object *o);
const char *st_object_hex(const struct st_object *o);

/* ---- SQL ---- */
enum st_type { ST_NULL = 0, ST_INTEGER, ST_REAL, ST_TEXT, ST_BLOB };
/* A SQL value. text/blob bytes are borrowed for the call they appear in. */
struct st_value {
    int type; /* enum st_type */
    int64_t i;
    double d;
    const void *p; /* ST_TEXT (UTF-8, not NUL-terminated) and ST_BLOB; never NULL when len > 0 */
    size_t len;
};
/* Where the last statement's rows go. Either callback may be NULL. A non-zero return stops the
 * query, and st_sql_exec returns that code (the statements already run stay run). */
struct st_rows_sink {
    /* The last statement's column names, once, before its first row (also when it has none).
     * names borrowed for the call. */
    int (*columns)(void *ud, const char *const *names, size_t n);
    /* One row of the last statement; values borrowed for the call. */
    int (*row)(void *ud, const struct st_value *values, size_t n);
};
/* Rows read and written, added to by every operation. rows_written counts rows inserted,
 * updated or deleted (triggers included); rows_read approximates Workers' count (rows returned,
 * or rows stepped over by full scans, or rows changed, whichever is most, per statement):
 * stock SQLite has no per-statement "rows read" counter. */
struct st_counts {
    uint64_t rows_read, rows_written;
};

/* Workers' limits, enforced by SQLite (sqlite3_limit). */
#define ST_SQL_MAX_LENGTH 100000 /* bytes of SQL per call */
#define ST_SQL_MAX_PARAMS 100    /* bound parameters per statement */
#define ST_SQL_MAX_VALUE 2000000 /* bytes of a string, a blob or a row */

/* Runs every statement of sql (several may be separated by ';', as in Workers: each runs to
 * its end now; only the last may have parameters, and binds are bound to it in order) inside
 * the object's implicit transaction. The last statement's columns and rows go to sink. Errors,
 * with workerd's message in err ("no such table: t: SQLITE_ERROR", "not authorized:
 * SQLITE_AUTH", "string or blob too big: SQLITE_TOOBIG"...): ED_EINVAL (refused before it ran:
 * BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE, ATTACH/DETACH, PRAGMA outside the safe list, tables
 * named _cf_*, temporary tables, virtual tables other than fts5/rtree; wrong number of
 * bindings; over a limit), ED_ESQL (SQLite refused or failed it: errors, constraints, functions
 * outside SQLite's ordinary ones such as load_extension() or sqlite_version() ("not authorized
 * to use function: ..."), writes to sqlite_schema ("table sqlite_master may not be modified");
 * the transaction stays open and usable), ED_ETIMEDOUT (past the deadline), ED_ESQLITE (the
 * disk's trouble), or the sink's code. counts (may be NULL) is added to. sql and binds are
 * borrowed. */
int st_sql_exec(struct st_object *o, const char *sql, size_t sql_len, const struct st_value *binds,
                size_t n_binds, const struct st_rows_sink *sink, void *ud, struct st_counts *counts,
                struct ed_error *err);
/* The database's size in bytes (page_count * page_size): ctx.storage.sql.databaseSize. */
uint64_t st_object_size(struct st_object *o);

/* ---- key-value (ctx.storage.get/put/delete/list) ----
 * Table _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID, as workerd's. Keys are
 * compared as bytes (UTF-8 order); values are opaque bytes (the shim serializes). Keys up to
 * ST_KV_MAX_KEY bytes, values up to ST_KV_MAX_VALUE: past them ED_ERANGE with Workers'
 * message ("Keys cannot be larger than 2048 bytes." / "Values cannot be larger than 131072
 * bytes."). Keys and values passed in are borrowed; those passed to callbacks are borrowed for
 * the call. Each counts its rows in counts (may be NULL). */
#define ST_KV_MAX_KEY 2048
#define ST_KV_MAX_VALUE 131072
/* 0 and found(ud, value, len) called once, or ED_ENOENT when the key is absent; found's
 * non-zero return is returned. */
int st_kv_get(struct st_object *o, const char *key, size_t key_len,
              int (*found)(void *ud, const void *value, size_t len), void *ud,
              struct st_counts *counts, struct ed_error *err);
int st_kv_put(struct st_object *o, const char *key, size_t key_len, const void *value, size_t len,
              struct st_counts *counts, struct ed_error *err);
/* 1 deleted, 0 absent, or a negative code. */
int st_kv_delete(struct st_object *o, const char *key, size_t key_len, struct st_counts *counts,
                 struct ed_error *err);
/* list({start, end, prefix, limit, reverse}): keys >= start, < end, starting with prefix, in
 * byte order (descending when reverse), at most limit (0: all). NULL pointers are unset. */
struct st_kv_range {
    const char *prefix, *start, *end;
    size_t prefix_len, start_len, end_len;
    uint32_t limit;
    bool reverse;
};
/* Calls each(ud, key, key_len, value, len) per pair; its non-zero return stops the listing and
 * is returned. */
int st_kv_list(struct st_object *o, const struct st_kv_range *r,
               int (*each)(void *ud, const char *key, size_t key_len, const void *value,
                           size_t len),
               void *ud, struct st_counts *counts, struct ed_error *err);
/* deleteAll(): drops every table, index, view and trigger of the database — the user's SQL
 * tables as well as the KV pairs, as Workers' deleteAll() does for SQLite-backed objects — in
 * the implicit transaction, and gives the space back (auto_vacuum); the alarm stays, as in
 * Workers. */
int st_kv_delete_all(struct st_object *o, struct ed_error *err);

/* ---- transactionSync(fn) / transaction(fn) ----
 * A savepoint inside the implicit transaction; nested calls nest. release(true) keeps what was
 * done since the matching st_object_savepoint, release(false) undoes it. An object with a
 * savepoint still open is left out of st_objects_commit until it is released. */
int st_object_savepoint(struct st_object *o, struct ed_error *err);
int st_object_release(struct st_object *o, bool commit, struct ed_error *err);

/* ---- alarms ----
 * Times are ms since the epoch; 0 = no alarm. The object's alarm lives in its _cf_METADATA
 * table (in the transaction); the control plane's index alarms(tenant, class, id, at_ms) lets
 * a restart find every alarm without opening every file. st_objects_commit writes the index
 * entry of a set alarm before it commits the object (so a committed alarm always has one;
 * synchronous=NORMAL, as the objects) and removes a deleted one after: an index entry whose
 * object has no alarm (a commit that failed, a crash between the two) is dropped by the
 * caller when it fires and finds none (st_alarm_get gives 0: call st_alarm_set(o, 0)). */
int st_alarm_get(struct st_object *o, int64_t *at_ms, struct ed_error *err);
int st_alarm_set(struct st_object *o, int64_t at_ms, struct ed_error *err);
/* Every alarm of the index, earliest first (at start-up: schedule them); each's non-zero
 * return stops and is returned. Reads control.sqlite on the reader connection, whose lock each
 * runs under: it may not call st_ functions on db. Blocks on the disk. Strings borrowed for
 * the call. */
int st_alarms_list(struct st_db *db,
                   int (*each)(void *ud, const char *tenant, const char *cls, const char *hex,
                               int64_t at_ms),
                   void *ud, struct ed_error *err);

/* ---- group commit ---- */
/* Whether the object has an open implicit transaction (since the last st_objects_commit). */
bool st_object_dirty(const struct st_object *o);
/* o is borrowed for the call: only its getters (st_object_tenant...) may be used. */
typedef void (*st_commit_cb)(void *ud, const struct st_object *o, int code, const char *msg);
/* Commits every open implicit transaction of os (one WAL append each, no fsync), then closes
 * databases beyond max_open. done (may be NULL) is called once per object committed, with
 * code 0, or a negative code and a message when the commit failed and was rolled back (the
 * caller drops its instance: its in-memory state may hold what was lost); msg is borrowed for
 * the call, and done may not call st_ functions on os other than the getters. Returns how
 * many objects failed (0: all committed). */
int st_objects_commit(struct st_objects *os, st_commit_cb done, void *ud);
/* Undoes o's implicit transaction, savepoints included: every write since its last commit is
 * gone (the turn of a call a limit killed, as Workers discards the uncommitted writes of an
 * isolate it stops). The object leaves the next commit (done is not called for it). A no-op
 * without an open transaction. Returns 0 or ED_ESQLITE (the database is closed then, so
 * nothing of the transaction can survive). */
int st_object_rollback(struct st_object *o, struct ed_error *err);

/* ---- facets ----
 * A facet (Cloudflare's ctx.facets) is a database of its own beside its object's:
 * DATA/tenants/<tenant>/do/<class>/<id>.facets/<F>.sqlite, F being 64 hex digits of a keyed
 * hash of the facet's name, so the name (any string up to ST_FACET_NAME_MAX bytes) never
 * becomes a path component. It works as an object's database in every other way (same cache,
 * transactions, group commit), except that it holds no alarm. */
#define ST_FACET_NAME_MAX 1024
/* The facet's database, opened (and created) on first use. Borrowed as st_object_get's. Errors
 * as st_object_get's, and ED_EINVAL for an empty or too long name. */
int st_facet_get(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                 const char *facet, size_t facet_len, struct st_object **out, struct ed_error *err);
/* Deletes the facet's database: closed if open (its transaction rolled back), its files
 * removed. Returns 0 (also when it never existed) or a negative code with err set. */
int st_facet_delete(struct st_objects *os, const char *tenant, const char *cls, const char *hex,
                    const char *facet, size_t facet_len, struct ed_error *err);
/* The facet's name (len bytes, not NUL-terminated), or NULL for an object's own database.
 * Borrowed: valid while o is. */
const char *st_object_facet(const struct st_object *o, size_t *len);

/* ---- quotas ----
 * A tenant's storage totals live in one st_quota that every shard's cache updates with atomic
 * additions (no lock): bytes of its databases (facets included) and how many objects have a
 * database. Each database counts its size on disk while closed and page_count * page_size
 * while open, re-measured after each commit, so the totals follow the files without a walk.
 * With a byte limit every write is checked as it runs: the database's max_page_count is set
 * to what the tenant has left, so a write past it fails with SQLITE_FULL ("Exceeded the
 * storage quota ...") and the turn's other writes stand. With several shards writing at the
 * same instant the tenant may pass its limit by what they wrote then. With an object limit, a
 * database that does not exist yet is not created past it (facets do not count). */
struct st_quota;
/* Returns owned (free with st_quota_free, after every cache that used it). 0: no limit. */
struct st_quota *st_quota_new(uint64_t max_bytes, uint64_t max_objects);
void st_quota_free(struct st_quota *q);
/* Sets the totals (at start-up, from st_tenant_objects). */
void st_quota_set(struct st_quota *q, uint64_t bytes, uint64_t objects);
void st_quota_get(const struct st_quota *q, uint64_t *bytes, uint64_t *objects);
/* The quota of tenant (borrowed for as long as the cache lives), or NULL: not counted. */
typedef struct st_quota *(*st_quota_cb)(void *ud, const char *tenant);
/* Databases os opens from now on count against lookup's quotas. */
void st_objects_set_quotas(struct st_objects *os, st_quota_cb lookup, void *ud);
/* Databases os opens from now on fsync every commit (synchronous=FULL: a group commit waits for
 * the disk, so an acknowledged write also survives a power loss) instead of only writing the
 * WAL (synchronous=NORMAL, the default: it survives a killed process). */
void st_objects_set_fsync(struct st_objects *os, bool fsync);

/* How many objects tenant has (database files under DATA/tenants/<tenant>/do) and their bytes
 * on disk (databases and WAL files, facets' included). A directory walk: a few µs per object,
 * not per request. Returns 0 (zeros when there are none) or a negative code with err set. */
int st_tenant_objects(const char *data_dir, const char *tenant, uint64_t *objects, uint64_t *bytes,
                      struct ed_error *err);

#ifdef __cplusplus
}
#endif
#endif
