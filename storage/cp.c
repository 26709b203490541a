/*
 * The control plane's tables (schema step 3): tenants, tokens, workers, versions with their
 * modules, routes, and the generation counter the shards will watch. Every st_cp_ call is one
 * transaction on a connection of its own (db->cdb), taken under cp_mu on the caller's thread:
 * the admin API's, never a shard's loop, since a write waits for an fsync (synchronous=FULL).
 * The usage writer keeps its own connection; WAL lets both work, and the busy timeout covers
 * the moments one waits for the other's commit. Callers check names and shapes (deploy/);
 * this file keeps the tables consistent: foreign keys cascade a tenant's or a worker's rows
 * away, and a change the shards must see bumps cp_state.generation in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st_int.h"

#define CP_BUSY_TIMEOUT_MS 5000
/* last_used is written at most this often per token, so authenticated reads cost no fsync. */
#define CP_LAST_USED_MS 60000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cp_error(struct st_db *db, const char *what, struct ed_error *err)
{
    int ext = sqlite3_extended_errcode(db->cdb);
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        return ed_error_set(err, ED_EEXIST, "%s: already exists", what);
    if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
        return ed_error_set(err, ED_ENOENT, "%s: refers to something that does not exist", what);
    if (ext == SQLITE_NOMEM)
        return ed_error_set(err, ED_ENOMEM, "%s: out of memory", what);
    return st__sqlite_error(db->cdb, what, err);
}

int st__cp_open(struct st_db *db, struct ed_error *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/control.sqlite", db->dir) < 0)
        return ed_error_set(err, ED_ENOMEM, NULL);
    int rc = 0;
    if (sqlite3_open_v2(path, &db->cdb,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                        NULL) != SQLITE_OK) {
        rc = st__sqlite_error(db->cdb, "control.sqlite: control plane", err);
        goto out;
    }
    sqlite3_busy_timeout(db->cdb, CP_BUSY_TIMEOUT_MS);
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db->cdb, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->cdb, "SELECT generation FROM cp_state WHERE id = 1", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = st__sqlite_error(db->cdb, "control.sqlite: control plane", err);
    } else {
        atomic_store(&db->cp_gen, (uint64_t)sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
out:
    free(path);
    return rc;
}

uint64_t st_cp_generation(struct st_db *db)
{
    return db ? atomic_load(&db->cp_gen) : 0;
}

/* ---- transactions ---------------------------------------------------------------------------
 * begin() takes cp_mu and opens the transaction (IMMEDIATE for writes, so a write never fails
 * half-way on a lock upgrade); end() commits (bumping the generation first when asked) or
 * rolls back, and releases cp_mu. Every public function is begin ... end. */

static int begin(struct st_db *db, bool write, struct ed_error *err)
{
    if (!db)
        return ed_error_set(err, ED_EINVAL, "control plane: no database");
    pthread_mutex_lock(&db->cp_mu);
    if (sqlite3_exec(db->cdb, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = cp_error(db, "control plane: begin", err);
        pthread_mutex_unlock(&db->cp_mu);
        return rc;
    }
    return 0;
}

static int end(struct st_db *db, int rc, bool bump, struct ed_error *err)
{
    int64_t gen = -1;
    if (rc == 0 && bump) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db->cdb,
                               "UPDATE cp_state SET generation = generation + 1 WHERE id = 1 "
                               "RETURNING generation",
                               -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW)
            rc = cp_error(db, "control plane: generation", err);
        else
            gen = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (rc == 0 && sqlite3_exec(db->cdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = cp_error(db, "control plane: commit", err);
    if (rc != 0 && !sqlite3_get_autocommit(db->cdb))
        sqlite3_exec(db->cdb, "ROLLBACK", NULL, NULL, NULL);
    if (rc == 0 && gen >= 0)
        atomic_store(&db->cp_gen, (uint64_t)gen);
    pthread_mutex_unlock(&db->cp_mu);
    return rc;
}

static int prep(struct st_db *db, const char *sql, sqlite3_stmt **st, struct ed_error *err)
{
    if (sqlite3_prepare_v2(db->cdb, sql, -1, st, NULL) != SQLITE_OK)
        return cp_error(db, "control plane: prepare", err);
    return 0;
}

/* Binds texts in order (NULL binds SQL NULL); borrowed until the statement is finalized. */
static void bind_texts(sqlite3_stmt *st, int first, const char *const *v, int n)
{
    for (int i = 0; i < n; i++)
        sqlite3_bind_text(st, first + i, v[i], -1, SQLITE_STATIC);
}

/* Steps a statement that returns no rows; what names it in errors. */
static int run(struct st_db *db, sqlite3_stmt *st, const char *what, struct ed_error *err)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return cp_error(db, what, err);
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* ---- tenants --------------------------------------------------------------------------------- */

int st_cp_tenant_create(struct st_db *db, const struct st_tenant *t, const struct st_token *first,
                        const uint8_t hash[ST_TOKEN_HASH], struct ed_error *err)
{
    if (!t || !t->name || (first && (!hash || !first->id)))
        return ed_error_set(err, ED_EINVAL, "st_cp_tenant_create: no tenant or token");
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    int64_t now = now_ms();
    if (!(rc = prep(db,
                    "INSERT INTO tenants (name, status, cordon, quotas, routes_allowed, created) "
                    "VALUES (?1, coalesce(?2, 'active'), coalesce(?3, 'default'), "
                    "coalesce(?4, '{}'), coalesce(?5, '[]'), ?6)",
                    &st, err))) {
        const char *v[] = {t->name, t->status, t->cordon, t->quotas, t->routes_allowed};
        bind_texts(st, 1, v, 5);
        sqlite3_bind_int64(st, 6, now);
        rc = run(db, st, "tenant", err);
        sqlite3_finalize(st);
        st = NULL;
    }
    if (rc == 0 && first &&
        !(rc = prep(db,
                    "INSERT INTO tokens (id, tenant, sha256, label, created) "
                    "VALUES (?1, ?2, ?3, coalesce(?4, ''), ?5)",
                    &st, err))) {
        const char *v[] = {first->id, t->name};
        bind_texts(st, 1, v, 2);
        sqlite3_bind_blob(st, 3, hash, ST_TOKEN_HASH, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, first->label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, now);
        rc = run(db, st, "token", err);
        sqlite3_finalize(st);
    }
    return end(db, rc, true, err);
}

static int each_tenant(struct st_db *db, sqlite3_stmt *st,
                       int (*each)(void *ud, const struct st_tenant *t), void *ud, int *rows,
                       struct ed_error *err)
{
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        struct st_tenant t = {.name = col_text(st, 0),
                              .status = col_text(st, 1),
                              .cordon = col_text(st, 2),
                              .quotas = col_text(st, 3),
                              .routes_allowed = col_text(st, 4),
                              .created = sqlite3_column_int64(st, 5)};
        (*rows)++;
        int rc = each ? each(ud, &t) : 0;
        if (rc)
            return rc;
    }
    return s == SQLITE_DONE ? 0 : cp_error(db, "tenants", err);
}

#define TENANT_COLS "SELECT name, status, cordon, quotas, routes_allowed, created FROM tenants"

int st_cp_tenant_get(struct st_db *db, const char *name,
                     int (*each)(void *ud, const struct st_tenant *t), void *ud,
                     struct ed_error *err)
{
    int rc = begin(db, false, err), rows = 0;
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db, TENANT_COLS " WHERE name = ?1", &st, err))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = each_tenant(db, st, each, ud, &rows, err);
        sqlite3_finalize(st);
    }
    if (rc == 0 && rows == 0)
        rc = ed_error_set(err, ED_ENOENT, "no tenant %s", name);
    return end(db, rc, false, err);
}

int st_cp_tenants_list(struct st_db *db, int (*each)(void *ud, const struct st_tenant *t), void *ud,
                       struct ed_error *err)
{
    int rc = begin(db, false, err), rows = 0;
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db, TENANT_COLS " ORDER BY name", &st, err))) {
        rc = each_tenant(db, st, each, ud, &rows, err);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}

int st_cp_tenant_update(struct st_db *db, const struct st_tenant *t, struct ed_error *err)
{
    if (!t || !t->name)
        return ed_error_set(err, ED_EINVAL, "st_cp_tenant_update: no tenant");
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db,
                    "UPDATE tenants SET status = coalesce(?2, status), cordon = coalesce(?3, "
                    "cordon), quotas = coalesce(?4, quotas), routes_allowed = coalesce(?5, "
                    "routes_allowed) WHERE name = ?1",
                    &st, err))) {
        const char *v[] = {t->name, t->status, t->cordon, t->quotas, t->routes_allowed};
        bind_texts(st, 1, v, 5);
        rc = run(db, st, "tenant", err);
        if (rc == 0 && sqlite3_changes(db->cdb) == 0)
            rc = ed_error_set(err, ED_ENOENT, "no tenant %s", t->name);
        sqlite3_finalize(st);
    }
    return end(db, rc, true, err);
}

int st_cp_tenant_delete(struct st_db *db, const char *name, struct ed_error *err)
{
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db, "DELETE FROM tenants WHERE name = ?1", &st, err))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = run(db, st, "tenant", err);
        if (rc == 0 && sqlite3_changes(db->cdb) == 0)
            rc = ed_error_set(err, ED_ENOENT, "no tenant %s", name);
        sqlite3_finalize(st);
    }
    return end(db, rc, true, err);
}

/* ---- tokens ---------------------------------------------------------------------------------- */

int st_cp_token_add(struct st_db *db, const struct st_token *t, const uint8_t hash[ST_TOKEN_HASH],
                    struct ed_error *err)
{
    if (!t || !t->id || !hash)
        return ed_error_set(err, ED_EINVAL, "st_cp_token_add: no token");
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db,
                    "INSERT INTO tokens (id, tenant, sha256, label, created) "
                    "VALUES (?1, ?2, ?3, coalesce(?4, ''), ?5)",
                    &st, err))) {
        const char *v[] = {t->id, t->tenant};
        bind_texts(st, 1, v, 2);
        sqlite3_bind_blob(st, 3, hash, ST_TOKEN_HASH, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, t->label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, now_ms());
        rc = run(db, st, t->tenant ? "token" : "operator token", err);
        if (rc == ED_ENOENT)
            ed_error_set(err, rc, "no tenant %s", t->tenant);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}

/* Compares in time that depends on n only, not on where the bytes differ. */
static bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

static struct st_token token_row(sqlite3_stmt *st)
{
    return (struct st_token){.id = col_text(st, 0),
                             .tenant = col_text(st, 1),
                             .label = col_text(st, 2),
                             .created = sqlite3_column_int64(st, 3),
                             .last_used = sqlite3_column_int64(st, 4),
                             .revoked = sqlite3_column_int(st, 5) != 0};
}

#define TOKEN_COLS "SELECT id, tenant, label, created, last_used, revoked"

int st_cp_token_lookup(struct st_db *db, const uint8_t hash[ST_TOKEN_HASH],
                       int (*found)(void *ud, const struct st_token *t), void *ud,
                       struct ed_error *err)
{
    if (!hash)
        return ed_error_set(err, ED_EINVAL, "st_cp_token_lookup: no hash");
    /* IMMEDIATE although it mostly reads: recording the use must not need a lock upgrade. It
     * costs a moment of the write lock, never an fsync unless last_used is written. */
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    bool stale = false;
    char *id = NULL;
    if (!(rc = prep(db, TOKEN_COLS ", sha256 FROM tokens WHERE sha256 = ?1", &st, err))) {
        sqlite3_bind_blob(st, 1, hash, ST_TOKEN_HASH, SQLITE_STATIC);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW && sqlite3_column_bytes(st, 6) == ST_TOKEN_HASH &&
            same_bytes(sqlite3_column_blob(st, 6), hash, ST_TOKEN_HASH)) {
            struct st_token t = token_row(st);
            int64_t now = now_ms();
            stale = !t.revoked && (t.last_used > now || now - t.last_used >= CP_LAST_USED_MS);
            if (stale && !(id = ed_strdup(t.id)))
                rc = ed_error_set(err, ED_ENOMEM, NULL);
            if (rc == 0 && found)
                rc = found(ud, &t);
        } else if (s == SQLITE_ROW || s == SQLITE_DONE) {
            rc = ed_error_set(err, ED_ENOENT, "unknown token");
        } else {
            rc = cp_error(db, "token", err);
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (rc == 0 && stale &&
        !(rc = prep(db, "UPDATE tokens SET last_used = ?2 WHERE id = ?1", &st, err))) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now_ms());
        rc = run(db, st, "token", err);
        sqlite3_finalize(st);
    }
    free(id);
    return end(db, rc, false, err);
}

int st_cp_tokens_list(struct st_db *db, const char *tenant,
                      int (*each)(void *ud, const struct st_token *t), void *ud,
                      struct ed_error *err)
{
    int rc = begin(db, false, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db, TOKEN_COLS " FROM tokens WHERE tenant IS ?1 ORDER BY created, id", &st,
                    err))) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        int s = SQLITE_DONE;
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct st_token t = token_row(st);
            rc = each ? each(ud, &t) : 0;
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = cp_error(db, "tokens", err);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}

int st_cp_token_revoke(struct st_db *db, const char *tenant, const char *id, struct ed_error *err)
{
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc =
              prep(db, "UPDATE tokens SET revoked = 1 WHERE id = ?1 AND tenant IS ?2", &st, err))) {
        const char *v[] = {id, tenant};
        bind_texts(st, 1, v, 2);
        rc = run(db, st, "token", err);
        if (rc == 0 && sqlite3_changes(db->cdb) == 0)
            rc = ed_error_set(err, ED_ENOENT, "no token %s", id);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}

int st_cp_operator_tokens(struct st_db *db, uint64_t *n, struct ed_error *err)
{
    int rc = begin(db, false, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db, "SELECT count(*) FROM tokens WHERE tenant IS NULL", &st, err))) {
        if (sqlite3_step(st) == SQLITE_ROW)
            *n = (uint64_t)sqlite3_column_int64(st, 0);
        else
            rc = cp_error(db, "tokens", err);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}

/* ---- workers and versions -------------------------------------------------------------------- */

/* 1 when (tenant, worker) exists, 0 when not; *live gets its live version. */
static int worker_live(struct st_db *db, const char *tenant, const char *worker, int64_t *live,
                       struct ed_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(db, "SELECT live_version FROM workers WHERE tenant = ?1 AND name = ?2", &st, err);
    if (rc)
        return rc;
    const char *v[] = {tenant, worker};
    bind_texts(st, 1, v, 2);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *live = sqlite3_column_int64(st, 0);
        rc = 1;
    } else if (s != SQLITE_DONE) {
        rc = cp_error(db, "worker", err);
    }
    sqlite3_finalize(st);
    return rc;
}

static int count_rows(struct st_db *db, const char *sql, const char *a, const char *b, int64_t *n,
                      struct ed_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(db, sql, &st, err);
    if (rc)
        return rc;
    const char *v[] = {a, b};
    bind_texts(st, 1, v, b ? 2 : 1);
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = cp_error(db, "count", err);
    sqlite3_finalize(st);
    return rc;
}

static int deploy_in(struct st_db *db, const struct st_deploy *d, int64_t *version,
                     struct ed_error *err)
{
    int64_t live = 0, n = 0;
    int rc = worker_live(db, d->tenant, d->worker, &live, err);
    if (rc < 0)
        return rc;
    bool exists = rc == 1;
    sqlite3_stmt *st = NULL;
    if (!exists) {
        if ((rc = count_rows(db, "SELECT count(*) FROM tenants WHERE name = ?1", d->tenant, NULL,
                             &n, err)))
            return rc;
        if (n == 0)
            return ed_error_set(err, ED_ENOENT, "no tenant %s", d->tenant);
        if ((rc = count_rows(db, "SELECT count(*) FROM workers WHERE tenant = ?1", d->tenant, NULL,
                             &n, err)))
            return rc;
        if (d->max_workers && n >= (int64_t)d->max_workers)
            return ed_error_set(err, ED_ETOOBIG,
                                "tenant %s has %lld workers, its quota (workers = %u)", d->tenant,
                                (long long)n, d->max_workers);
        if ((rc = prep(db, "INSERT INTO workers (tenant, name, live_version) VALUES (?1, ?2, 0)",
                       &st, err)))
            return rc;
        const char *v[] = {d->tenant, d->worker};
        bind_texts(st, 1, v, 2);
        rc = run(db, st, "worker", err);
        sqlite3_finalize(st);
        if (rc)
            return rc;
    }
    if ((rc = count_rows(db,
                         "SELECT coalesce(max(version), 0) + 1 FROM versions WHERE tenant = ?1 "
                         "AND worker = ?2",
                         d->tenant, d->worker, version, err)))
        return rc;
    if ((rc = prep(db,
                   "INSERT INTO versions (tenant, worker, version, created, metadata, bytes) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                   &st, err)))
        return rc;
    const char *v[] = {d->tenant, d->worker};
    bind_texts(st, 1, v, 2);
    sqlite3_bind_int64(st, 3, *version);
    sqlite3_bind_int64(st, 4, now_ms());
    sqlite3_bind_text(st, 5, d->metadata ? d->metadata : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (int64_t)d->bytes);
    rc = run(db, st, "version", err);
    sqlite3_finalize(st);
    if (rc || (rc = prep(db,
                         "INSERT INTO modules (tenant, worker, version, name, type, source) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         &st, err)))
        return rc;
    for (size_t i = 0; rc == 0 && i < d->n_modules; i++) {
        const struct st_module *m = &d->modules[i];
        const char *mv[] = {d->tenant, d->worker};
        bind_texts(st, 1, mv, 2);
        sqlite3_bind_int64(st, 3, *version);
        sqlite3_bind_text(st, 4, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, m->type, -1, SQLITE_STATIC);
        /* a zero-length blob must still be a blob, not NULL */
        sqlite3_bind_blob64(st, 6, m->len ? m->source : "", m->len, SQLITE_STATIC);
        rc = run(db, st, "module", err);
        if (rc == ED_EEXIST)
            ed_error_set(err, rc, "two modules named %s", m->name);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc || (rc = prep(db, "UPDATE workers SET live_version = ?3 WHERE tenant = ?1 AND name = ?2",
                         &st, err)))
        return rc;
    bind_texts(st, 1, v, 2);
    sqlite3_bind_int64(st, 3, *version);
    rc = run(db, st, "worker", err);
    sqlite3_finalize(st);
    if (rc || d->keep_versions == 0)
        return rc;
    if ((rc = prep(db,
                   "DELETE FROM versions WHERE tenant = ?1 AND worker = ?2 AND version <= ?3 "
                   "AND version <> ?4",
                   &st, err)))
        return rc;
    bind_texts(st, 1, v, 2);
    sqlite3_bind_int64(st, 3, *version - (int64_t)d->keep_versions);
    sqlite3_bind_int64(st, 4, *version);
    rc = run(db, st, "old versions", err);
    sqlite3_finalize(st);
    return rc;
}

int st_cp_deploy(struct st_db *db, const struct st_deploy *d, int64_t *version,
                 struct ed_error *err)
{
    if (!d || !d->tenant || !d->worker || !version || (d->n_modules && !d->modules))
        return ed_error_set(err, ED_EINVAL, "st_cp_deploy: no deploy");
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    rc = deploy_in(db, d, version, err);
    return end(db, rc, true, err);
}

int st_cp_workers_list(struct st_db *db, const char *tenant,
                       int (*each)(void *ud, const struct st_worker_info *w), void *ud,
                       struct ed_error *err)
{
    int rc = begin(db, false, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db,
                    "SELECT w.tenant, w.name, w.live_version, coalesce(v.created, 0) "
                    "FROM workers w LEFT JOIN versions v ON v.tenant = w.tenant AND "
                    "v.worker = w.name AND v.version = w.live_version "
                    "WHERE ?1 IS NULL OR w.tenant = ?1 ORDER BY w.tenant, w.name",
                    &st, err))) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        int s = SQLITE_DONE;
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct st_worker_info w = {.tenant = col_text(st, 0),
                                       .name = col_text(st, 1),
                                       .live_version = sqlite3_column_int64(st, 2),
                                       .deployed = sqlite3_column_int64(st, 3)};
            rc = each ? each(ud, &w) : 0;
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = cp_error(db, "workers", err);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}

static struct st_version_info version_row(sqlite3_stmt *st, int64_t live)
{
    int64_t v = sqlite3_column_int64(st, 0);
    return (struct st_version_info){.version = v,
                                    .created = sqlite3_column_int64(st, 1),
                                    .bytes = (uint64_t)sqlite3_column_int64(st, 2),
                                    .live = v == live,
                                    .metadata = col_text(st, 3)};
}

int st_cp_versions_list(struct st_db *db, const char *tenant, const char *worker,
                        int (*each)(void *ud, const struct st_version_info *v), void *ud,
                        struct ed_error *err)
{
    int rc = begin(db, false, err);
    if (rc)
        return rc;
    int64_t live = 0;
    rc = worker_live(db, tenant, worker, &live, err);
    if (rc == 0)
        rc = ed_error_set(err, ED_ENOENT, "tenant %s has no worker %s", tenant, worker);
    sqlite3_stmt *st = NULL;
    if (rc == 1 && !(rc = prep(db,
                               "SELECT version, created, bytes, metadata FROM versions "
                               "WHERE tenant = ?1 AND worker = ?2 ORDER BY version DESC",
                               &st, err))) {
        const char *v[] = {tenant, worker};
        bind_texts(st, 1, v, 2);
        int s = SQLITE_DONE;
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct st_version_info vi = version_row(st, live);
            rc = each ? each(ud, &vi) : 0;
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = cp_error(db, "versions", err);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}

int st_cp_rollback(struct st_db *db, const char *tenant, const char *worker, int64_t version,
                   struct ed_error *err)
{
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    int64_t live = 0;
    rc = worker_live(db, tenant, worker, &live, err);
    if (rc == 0)
        rc = ed_error_set(err, ED_ENOENT, "tenant %s has no worker %s", tenant, worker);
    else if (rc == 1)
        rc = 0;
    sqlite3_stmt *st = NULL;
    if (rc == 0 && !(rc = prep(db,
                               "UPDATE workers SET live_version = ?3 WHERE tenant = ?1 AND "
                               "name = ?2 AND EXISTS (SELECT 1 FROM versions WHERE tenant = ?1 "
                               "AND worker = ?2 AND version = ?3)",
                               &st, err))) {
        const char *v[] = {tenant, worker};
        bind_texts(st, 1, v, 2);
        sqlite3_bind_int64(st, 3, version);
        rc = run(db, st, "rollback", err);
        if (rc == 0 && sqlite3_changes(db->cdb) == 0)
            rc = ed_error_set(err, ED_ENOENT, "worker %s has no version %lld", worker,
                              (long long)version);
        sqlite3_finalize(st);
    }
    return end(db, rc, true, err);
}

int st_cp_worker_delete(struct st_db *db, const char *tenant, const char *worker,
                        struct ed_error *err)
{
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db, "DELETE FROM workers WHERE tenant = ?1 AND name = ?2", &st, err))) {
        const char *v[] = {tenant, worker};
        bind_texts(st, 1, v, 2);
        rc = run(db, st, "worker", err);
        if (rc == 0 && sqlite3_changes(db->cdb) == 0)
            rc = ed_error_set(err, ED_ENOENT, "tenant %s has no worker %s", tenant, worker);
        sqlite3_finalize(st);
    }
    return end(db, rc, true, err);
}

int st_cp_version_load(struct st_db *db, const char *tenant, const char *worker, int64_t version,
                       int (*info)(void *ud, const struct st_version_info *v),
                       int (*module)(void *ud, const struct st_module *m), void *ud,
                       struct ed_error *err)
{
    int rc = begin(db, false, err);
    if (rc)
        return rc;
    int64_t live = 0;
    rc = worker_live(db, tenant, worker, &live, err);
    if (rc == 0)
        rc = ed_error_set(err, ED_ENOENT, "tenant %s has no worker %s", tenant, worker);
    if (rc == 1) {
        rc = 0;
        if (version == 0)
            version = live;
    }
    sqlite3_stmt *st = NULL;
    if (rc == 0 && !(rc = prep(db,
                               "SELECT version, created, bytes, metadata FROM versions "
                               "WHERE tenant = ?1 AND worker = ?2 AND version = ?3",
                               &st, err))) {
        const char *v[] = {tenant, worker};
        bind_texts(st, 1, v, 2);
        sqlite3_bind_int64(st, 3, version);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            struct st_version_info vi = version_row(st, live);
            rc = info ? info(ud, &vi) : 0;
        } else {
            rc = s == SQLITE_DONE ? ed_error_set(err, ED_ENOENT, "worker %s has no version %lld",
                                                 worker, (long long)version)
                                  : cp_error(db, "version", err);
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (rc == 0 && !(rc = prep(db,
                               "SELECT name, type, source FROM modules WHERE tenant = ?1 AND "
                               "worker = ?2 AND version = ?3 ORDER BY name",
                               &st, err))) {
        const char *v[] = {tenant, worker};
        bind_texts(st, 1, v, 2);
        sqlite3_bind_int64(st, 3, version);
        int s = SQLITE_DONE;
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct st_module m = {.name = col_text(st, 0), .type = col_text(st, 1)};
            m.source = sqlite3_column_blob(st, 2);
            m.len = (size_t)sqlite3_column_bytes(st, 2);
            if (!m.source)
                m.source = "";
            rc = module ? module(ud, &m) : 0;
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = cp_error(db, "modules", err);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}

/* ---- routes ---------------------------------------------------------------------------------- */

int st_cp_route_put(struct st_db *db, const struct st_route *r, struct ed_error *err)
{
    if (!r || !r->pattern || !r->tenant || !r->worker)
        return ed_error_set(err, ED_EINVAL, "st_cp_route_put: no route");
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    int64_t live = 0;
    rc = worker_live(db, r->tenant, r->worker, &live, err);
    if (rc == 0)
        rc = ed_error_set(err, ED_ENOENT, "tenant %s has no worker %s", r->tenant, r->worker);
    sqlite3_stmt *st = NULL;
    if (rc == 1 && !(rc = prep(db, "SELECT tenant FROM routes WHERE pattern = ?1", &st, err))) {
        sqlite3_bind_text(st, 1, r->pattern, -1, SQLITE_STATIC);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW && strcmp(col_text(st, 0), r->tenant) != 0)
            rc = ed_error_set(err, ED_EEXIST, "route %s belongs to another tenant", r->pattern);
        else if (s != SQLITE_ROW && s != SQLITE_DONE)
            rc = cp_error(db, "route", err);
        sqlite3_finalize(st);
        st = NULL;
    }
    if (rc == 0 && !(rc = prep(db,
                               "INSERT INTO routes (pattern, tenant, worker) VALUES (?1, ?2, ?3) "
                               "ON CONFLICT (pattern) DO UPDATE SET worker = excluded.worker",
                               &st, err))) {
        const char *v[] = {r->pattern, r->tenant, r->worker};
        bind_texts(st, 1, v, 3);
        rc = run(db, st, "route", err);
        sqlite3_finalize(st);
    }
    return end(db, rc, true, err);
}

int st_cp_route_delete(struct st_db *db, const char *tenant, const char *pattern,
                       struct ed_error *err)
{
    int rc = begin(db, true, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db, "DELETE FROM routes WHERE pattern = ?1 AND tenant = ?2", &st, err))) {
        const char *v[] = {pattern, tenant};
        bind_texts(st, 1, v, 2);
        rc = run(db, st, "route", err);
        if (rc == 0 && sqlite3_changes(db->cdb) == 0)
            rc = ed_error_set(err, ED_ENOENT, "tenant %s has no route %s", tenant, pattern);
        sqlite3_finalize(st);
    }
    return end(db, rc, true, err);
}

int st_cp_routes_list(struct st_db *db, const char *tenant,
                      int (*each)(void *ud, const struct st_route *r), void *ud,
                      struct ed_error *err)
{
    int rc = begin(db, false, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (!(rc = prep(db,
                    "SELECT pattern, tenant, worker FROM routes WHERE ?1 IS NULL OR tenant = ?1 "
                    "ORDER BY pattern",
                    &st, err))) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        int s = SQLITE_DONE;
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct st_route r = {
                .pattern = col_text(st, 0), .tenant = col_text(st, 1), .worker = col_text(st, 2)};
            rc = each ? each(ud, &r) : 0;
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = cp_error(db, "routes", err);
        sqlite3_finalize(st);
    }
    return end(db, rc, false, err);
}
