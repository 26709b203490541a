/*
 * The key-value API of a durable object (ctx.storage.get/put/delete/list/deleteAll) on its
 * SQLite database, as workerd keeps it: one table _cf_KV (key TEXT PRIMARY KEY, value BLOB)
 * WITHOUT ROWID, made by the first put, keys in byte order. deleteAll() empties the whole
 * database — the tenant's SQL tables too — and keeps the alarm, as Workers does for
 * SQLite-backed objects; all of it inside the implicit transaction, so it commits (or not)
 * with the rest of the turn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "do_int.h"
#include "st_int.h"

int st__table_exists(struct st_object *o, const char *table, bool *exists, struct ed_error *err)
{
    sqlite3_stmt *st = NULL;
    o->trusted = true;
    int rc = sqlite3_prepare_v2(
        o->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    o->trusted = false;
    *exists = rc == SQLITE_ROW;
    int out = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : st__sqlite_error(o->db, o->path, err);
    sqlite3_finalize(st);
    return out;
}

/* Opens the transaction and finds (or, with create, makes) _cf_KV. *ready tells whether it is
 * there. */
static int kv_begin(struct st_object *o, bool create, bool *ready, struct ed_error *err)
{
    int rc = st__txn(o, err);
    if (rc)
        return rc;
    if (!o->kv_ready && (rc = st__table_exists(o, "_cf_KV", &o->kv_ready, err)))
        return rc;
    if (!o->kv_ready && create) {
        int s = st__exec_trusted(o, ST__KV_SQL);
        if (s != SQLITE_OK) {
            rc = st__sqlite_error(o->db, "durable object: creating _cf_KV", err);
            st__txn_check(o, s);
            return rc;
        }
        o->kv_ready = true;
    }
    *ready = o->kv_ready;
    return 0;
}

static int check_key(const char *key, size_t key_len, struct ed_error *err)
{
    if (!key && key_len)
        return ed_error_set(err, ED_EINVAL, "no key");
    if (key_len > ST_KV_MAX_KEY)
        return ed_error_set(err, ED_ERANGE, "Keys cannot be larger than %d bytes.", ST_KV_MAX_KEY);
    return 0;
}

/* Fails a statement: sets err, notes a transaction SQLite rolled back, resets the statement. */
static int kv_fail(struct st_object *o, sqlite3_stmt *st, int s, const char *what,
                   struct ed_error *err)
{
    int rc = st__sqlite_error(o->db, what, err);
    rc = st__quota_error(o, s, rc, err);
    st__txn_check(o, s);
    if (st)
        sqlite3_reset(st);
    return rc;
}

int st_kv_get(struct st_object *o, const char *key, size_t key_len,
              int (*found)(void *ud, const void *value, size_t len), void *ud,
              struct st_counts *counts, struct ed_error *err)
{
    bool ready;
    int rc = check_key(key, key_len, err);
    if (rc || (rc = kv_begin(o, false, &ready, err)))
        return rc;
    if (counts)
        counts->rows_read++;
    if (!ready)
        return ED_ENOENT;
    int s = st__prepare_trusted(o, &o->s_kv_get, "SELECT value FROM _cf_KV WHERE key = ?");
    if (s != SQLITE_OK)
        return kv_fail(o, NULL, s, "durable object: get", err);
    sqlite3_bind_text64(o->s_kv_get, 1, key ? key : "", key_len, SQLITE_STATIC, SQLITE_UTF8);
    o->trusted = true;
    s = sqlite3_step(o->s_kv_get);
    o->trusted = false;
    if (s == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(o->s_kv_get, 0);
        size_t len = (size_t)sqlite3_column_bytes(o->s_kv_get, 0);
        rc = found ? found(ud, v ? v : "", len) : 0;
    } else if (s == SQLITE_DONE) {
        rc = ED_ENOENT;
    } else {
        return kv_fail(o, o->s_kv_get, s, "durable object: get", err);
    }
    sqlite3_reset(o->s_kv_get);
    return rc;
}

int st_kv_put(struct st_object *o, const char *key, size_t key_len, const void *value, size_t len,
              struct st_counts *counts, struct ed_error *err)
{
    bool ready;
    int rc = check_key(key, key_len, err);
    if (rc)
        return rc;
    if (len > ST_KV_MAX_VALUE)
        return ed_error_set(err, ED_ERANGE, "Values cannot be larger than %d bytes.",
                            ST_KV_MAX_VALUE);
    if ((rc = kv_begin(o, true, &ready, err)))
        return rc;
    int s = st__prepare_trusted(o, &o->s_kv_put,
                                "INSERT INTO _cf_KV (key, value) VALUES (?, ?) "
                                "ON CONFLICT DO UPDATE SET value = excluded.value");
    if (s != SQLITE_OK)
        return kv_fail(o, NULL, s, "durable object: put", err);
    sqlite3_bind_text64(o->s_kv_put, 1, key ? key : "", key_len, SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_blob64(o->s_kv_put, 2, value ? value : "", len, SQLITE_STATIC);
    o->trusted = true;
    s = sqlite3_step(o->s_kv_put);
    o->trusted = false;
    if (s != SQLITE_DONE)
        return kv_fail(o, o->s_kv_put, s, "durable object: put", err);
    sqlite3_reset(o->s_kv_put);
    if (counts)
        counts->rows_written++;
    return 0;
}

int st_kv_delete(struct st_object *o, const char *key, size_t key_len, struct st_counts *counts,
                 struct ed_error *err)
{
    bool ready;
    int rc = check_key(key, key_len, err);
    if (rc || (rc = kv_begin(o, false, &ready, err)))
        return rc;
    if (!ready)
        return 0;
    int s = st__prepare_trusted(o, &o->s_kv_del, "DELETE FROM _cf_KV WHERE key = ?");
    if (s != SQLITE_OK)
        return kv_fail(o, NULL, s, "durable object: delete", err);
    sqlite3_bind_text64(o->s_kv_del, 1, key ? key : "", key_len, SQLITE_STATIC, SQLITE_UTF8);
    o->trusted = true;
    s = sqlite3_step(o->s_kv_del);
    o->trusted = false;
    if (s != SQLITE_DONE)
        return kv_fail(o, o->s_kv_del, s, "durable object: delete", err);
    sqlite3_reset(o->s_kv_del);
    int n = sqlite3_changes(o->db);
    if (counts)
        counts->rows_written += (uint64_t)n;
    return n > 0 ? 1 : 0;
}

/* ---- list ---------------------------------------------------------------------------------- */

struct st__bound {
    const char *p;
    size_t len;
    bool set;
};

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl ? 1 : 0);
}

int st_kv_list(struct st_object *o, const struct st_kv_range *r,
               int (*each)(void *ud, const char *key, size_t key_len, const void *value,
                           size_t len),
               void *ud, struct st_counts *counts, struct ed_error *err)
{
    struct st_kv_range none = {0};
    if (!r)
        r = &none;
    bool ready;
    int rc = kv_begin(o, false, &ready, err);
    if (rc || !ready)
        return rc;
    /* [lo, hi): start and the prefix raise lo; end and the prefix's successor lower hi */
    struct st__bound lo = {r->start, r->start_len, r->start != NULL};
    struct st__bound hi = {r->end, r->end_len, r->end != NULL};
    char *succ = NULL;
    if (r->prefix && r->prefix_len > 0) {
        if (!lo.set || bytes_cmp(r->prefix, r->prefix_len, lo.p, lo.len) > 0)
            lo = (struct st__bound){r->prefix, r->prefix_len, true};
        size_t n = r->prefix_len;
        while (n > 0 && (unsigned char)r->prefix[n - 1] == 0xff)
            n--;
        if (n > 0) {
            if (!(succ = malloc(n)))
                return ed_error_set(err, ED_ENOMEM, NULL);
            memcpy(succ, r->prefix, n);
            succ[n - 1] = (char)((unsigned char)succ[n - 1] + 1);
            if (!hi.set || bytes_cmp(succ, n, hi.p, hi.len) < 0)
                hi = (struct st__bound){succ, n, true};
        }
    }
    if (lo.set && hi.set && bytes_cmp(lo.p, lo.len, hi.p, hi.len) >= 0) {
        free(succ);
        return 0;
    }
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT key, value FROM _cf_KV WHERE 1%s%s ORDER BY key %s LIMIT ?3",
             lo.set ? " AND key >= ?1" : "", hi.set ? " AND key < ?2" : "",
             r->reverse ? "DESC" : "ASC");
    sqlite3_stmt *st = NULL;
    o->trusted = true;
    int s = sqlite3_prepare_v2(o->db, sql, -1, &st, NULL);
    o->trusted = false;
    if (s != SQLITE_OK) {
        free(succ);
        return kv_fail(o, NULL, s, "durable object: list", err);
    }
    if (lo.set)
        sqlite3_bind_text64(st, 1, lo.len ? lo.p : "", lo.len, SQLITE_STATIC, SQLITE_UTF8);
    if (hi.set)
        sqlite3_bind_text64(st, 2, hi.len ? hi.p : "", hi.len, SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_int64(st, 3, r->limit ? (sqlite3_int64)r->limit : -1);
    uint64_t rows = 0;
    o->trusted = true;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        const char *k = (const char *)sqlite3_column_text(st, 0);
        size_t kl = (size_t)sqlite3_column_bytes(st, 0);
        const void *v = sqlite3_column_blob(st, 1);
        size_t vl = (size_t)sqlite3_column_bytes(st, 1);
        o->trusted = false;
        rc = each ? each(ud, k ? k : "", kl, v ? v : "", vl) : 0;
        o->trusted = true;
        if (rc)
            break;
    }
    o->trusted = false;
    if (counts)
        counts->rows_read += rows;
    if (!rc && s != SQLITE_DONE)
        rc = kv_fail(o, NULL, s, "durable object: list", err);
    sqlite3_finalize(st);
    free(succ);
    return rc;
}

/* ---- deleteAll ----------------------------------------------------------------------------- */

/* The next schema object to drop: views first, then virtual tables (which take their shadow
 * tables with them), then tables. Returns owned "DROP ..." SQL, NULL when none is left. */
static int next_drop(struct st_object *o, char **sql)
{
    sqlite3_stmt *st = NULL;
    *sql = NULL;
    o->trusted = true;
    int s = sqlite3_prepare_v2(o->db,
                               "SELECT type, name FROM sqlite_schema WHERE type IN ('view', "
                               "'table') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> "
                               "'_cf_METADATA' ORDER BY type = 'table', sql NOT LIKE 'CREATE "
                               "VIRTUAL%' LIMIT 1",
                               -1, &st, NULL);
    if (s == SQLITE_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        *sql =
            sqlite3_mprintf("DROP %s \"%w\"", type && strcmp(type, "view") == 0 ? "VIEW" : "TABLE",
                            name ? name : "");
        s = *sql ? SQLITE_OK : SQLITE_NOMEM;
    } else if (s == SQLITE_DONE) {
        s = SQLITE_OK;
    }
    o->trusted = false;
    sqlite3_finalize(st);
    return s;
}

int st_kv_delete_all(struct st_object *o, struct ed_error *err)
{
    int rc = st__txn(o, err);
    if (rc)
        return rc;
    /* rows of a dropped parent table must not fail a child's foreign key before the child is
     * dropped too: checks wait for the commit, by which time nothing is left to check */
    /* in a savepoint, so a failure half-way leaves the database as it was */
    int s = st__exec_trusted(o, "SAVEPOINT _cf_delete_all");
    if (s == SQLITE_OK)
        s = st__exec_trusted(o, "PRAGMA defer_foreign_keys = ON");
    /* bounded: each round drops one object (SQLite caps a schema far below this) */
    for (int round = 0; s == SQLITE_OK && round < 1000000; round++) {
        char *sql = NULL;
        if ((s = next_drop(o, &sql)) != SQLITE_OK || !sql)
            break;
        s = st__exec_trusted(o, sql);
        sqlite3_free(sql);
    }
    if (s == SQLITE_OK)
        s = st__exec_trusted(o, "PRAGMA incremental_vacuum");
    /* statements prepared against the dropped tables would only fail to re-prepare */
    st__stmt_cache_clear(o);
    o->kv_ready = false;
    if (s == SQLITE_OK && (s = st__exec_trusted(o, "RELEASE _cf_delete_all")) == SQLITE_OK)
        return 0;
    rc = st__sqlite_error(o->db, "durable object: deleteAll", err);
    st__txn_check(o, s);
    if (!o->txn_lost)
        st__exec_trusted(o, "ROLLBACK TO _cf_delete_all; RELEASE _cf_delete_all");
    return rc;
}
