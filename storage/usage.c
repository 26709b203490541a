/*
 * Usage counters: the in-memory queue that shard threads add to (one mutex, no I/O), the
 * transaction the writer thread turns it into, and the reads that add what is still queued
 * to what is committed. Billing's unit, the unique child worker per (tenant, day), is kept
 * exact by the database itself: child_loads has one row per key, and children_loaded grows
 * only when an INSERT OR IGNORE there inserted a row, in the same transaction.
 *
 * A read copies the queue first and reads the database second, in one read transaction that
 * also yields usage_flush.seq: a batch copied from memory whose seq is at most that was
 * committed in between and is already in the rows read, so nothing is counted twice or lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_int.h"

#define ST__FIRST_BUCKETS 64
#define ST__FIRST_KEY_BUCKETS 8

/* ---- the queue -------------------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t entry_hash(const char *tenant, size_t tlen, const char *day)
{
    /* tenant's NUL separates it from day, so ("ab", day) and ("a", "b"+day) differ */
    return fnv1a(fnv1a(0xcbf29ce484222325ull, tenant, tlen + 1), day, ST_DAY_LEN - 1);
}

static uint64_t key_hash(const uint8_t key[32])
{
    return fnv1a(0xcbf29ce484222325ull, key, 32);
}

static bool usage_zero(const struct st_usage *u)
{
#define ST__NONZERO(f) || u->f
    return !(0 ST__USAGE_FIELDS(ST__NONZERO));
#undef ST__NONZERO
}

static void usage_sum(struct st_usage *to, const struct st_usage *d)
{
#define ST__SUM(f) to->f += d->f;
    ST__USAGE_FIELDS(ST__SUM)
#undef ST__SUM
}

static struct st__entry *batch_find(const struct st__batch *b, uint64_t h, const char *tenant,
                                    size_t tlen, const char *day)
{
    if (!b || b->nb == 0)
        return NULL;
    for (struct st__entry *e = b->b[h & (b->nb - 1)]; e; e = e->next)
        if (e->hash == h && e->tlen == tlen && memcmp(e->tenant, tenant, tlen) == 0 &&
            memcmp(e->day, day, ST_DAY_LEN - 1) == 0)
            return e;
    return NULL;
}

/* Doubles b's table when it is full (or allocates its first). Failing is harmless once a table
 * exists: chains just grow longer. Returns false only when b has no table at all. */
static bool batch_reserve(struct st__batch *b)
{
    if (b->nb && b->n < b->nb)
        return true;
    size_t nb = b->nb ? b->nb * 2 : ST__FIRST_BUCKETS;
    struct st__entry **t = calloc(nb, sizeof *t);
    if (!t)
        return b->nb > 0;
    for (size_t i = 0; i < b->nb; i++)
        for (struct st__entry *e = b->b[i], *next; e; e = next) {
            next = e->next;
            e->next = t[e->hash & (nb - 1)];
            t[e->hash & (nb - 1)] = e;
        }
    free(b->b);
    b->b = t;
    b->nb = nb;
    return true;
}

static void batch_link(struct st__batch *b, struct st__entry *e)
{
    struct st__entry **head = &b->b[e->hash & (b->nb - 1)];
    e->next = *head;
    *head = e;
    b->n++;
}

static bool entry_has_key(const struct st__entry *e, const uint8_t key[32], uint64_t h)
{
    if (!e || e->nkb == 0)
        return false;
    for (const struct st__key *k = e->kb[h & (e->nkb - 1)]; k; k = k->next)
        if (memcmp(k->key, key, 32) == 0)
            return true;
    return false;
}

/* As batch_reserve, for an entry's key set. */
static bool entry_reserve_keys(struct st__entry *e)
{
    if (e->nkb && e->nkeys < e->nkb)
        return true;
    size_t nb = e->nkb ? e->nkb * 2 : ST__FIRST_KEY_BUCKETS;
    struct st__key **t = calloc(nb, sizeof *t);
    if (!t)
        return e->nkb > 0;
    for (size_t i = 0; i < e->nkb; i++)
        for (struct st__key *k = e->kb[i], *next; k; k = next) {
            next = k->next;
            uint64_t h = key_hash(k->key);
            k->next = t[h & (nb - 1)];
            t[h & (nb - 1)] = k;
        }
    free(e->kb);
    e->kb = t;
    e->nkb = nb;
    return true;
}

static void entry_link_key(struct st__entry *e, struct st__key *k)
{
    struct st__key **head = &e->kb[key_hash(k->key) & (e->nkb - 1)];
    k->next = *head;
    *head = k;
    e->nkeys++;
}

static void entry_free(struct st__entry *e)
{
    for (size_t i = 0; i < e->nkb; i++)
        for (struct st__key *k = e->kb[i], *next; k; k = next) {
            next = k->next;
            free(k);
        }
    free(e->kb);
    free(e);
}

void st__batch_free(struct st__batch *b)
{
    for (size_t i = 0; i < b->nb; i++)
        for (struct st__entry *e = b->b[i], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    free(b->b);
    uint64_t seq = b->seq;
    memset(b, 0, sizeof *b);
    b->seq = seq;
}

void st__batch_merge(struct st__batch *dst, struct st__batch *src)
{
    if (dst->n == 0) {
        uint64_t seq = dst->seq;
        free(dst->b);
        *dst = *src;
        dst->seq = seq;
        memset(src, 0, sizeof *src);
        return;
    }
    for (size_t i = 0; i < src->nb; i++) {
        for (struct st__entry *e = src->b[i], *next; e; e = next) {
            next = e->next;
            struct st__entry *d = batch_find(dst, e->hash, e->tenant, e->tlen, e->day);
            if (!d) {
                batch_reserve(dst); /* dst->n > 0, so a table exists whatever this returns */
                batch_link(dst, e);
                dst->nkeys += e->nkeys;
                continue;
            }
            usage_sum(&d->delta, &e->delta);
            if (d->nkb == 0) {
                d->kb = e->kb, d->nkb = e->nkb, d->nkeys = e->nkeys;
                dst->nkeys += e->nkeys;
                e->kb = NULL, e->nkb = 0;
            } else {
                for (size_t j = 0; j < e->nkb; j++)
                    for (struct st__key *k = e->kb[j], *knext; k; k = knext) {
                        knext = k->next;
                        if (entry_has_key(d, k->key, key_hash(k->key))) {
                            free(k);
                            continue;
                        }
                        entry_reserve_keys(d);
                        entry_link_key(d, k);
                        dst->nkeys++;
                    }
                free(e->kb);
                e->kb = NULL, e->nkb = 0;
            }
            entry_free(e);
        }
    }
    free(src->b);
    memset(src, 0, sizeof *src);
}

/* The pending entry of (tenant, day), created if there is room. q_mu held. NULL when the
 * queue is full or memory is short. */
static struct st__entry *pending_entry(struct st_db *db, uint64_t h, const char *tenant,
                                       size_t tlen, const char *day)
{
    struct st__entry *e = batch_find(&db->pending, h, tenant, tlen, day);
    if (e)
        return e;
    size_t total = db->pending.n + (db->inflight ? db->inflight->n : 0);
    if (total >= ST__MAX_ENTRIES || !batch_reserve(&db->pending))
        return NULL;
    e = calloc(1, sizeof *e + tlen + 1);
    if (!e)
        return NULL;
    e->hash = h;
    e->tlen = tlen;
    memcpy(e->tenant, tenant, tlen + 1);
    memcpy(e->day, day, ST_DAY_LEN);
    batch_link(&db->pending, e);
    return e;
}

int st_usage_add(struct st_db *db, const char *tenant, const char *day,
                 const struct st_usage *delta)
{
    if (!db || !delta || st__check_key(tenant, day))
        return ED_EINVAL;
    if (usage_zero(delta))
        return 0;
    size_t tlen = strlen(tenant);
    uint64_t h = entry_hash(tenant, tlen, day);
    pthread_mutex_lock(&db->q_mu);
    struct st__entry *e = pending_entry(db, h, tenant, tlen, day);
    if (!e) {
        db->dropped++;
        pthread_mutex_unlock(&db->q_mu);
        return ED_ENOMEM;
    }
    usage_sum(&e->delta, delta);
    if (!db->deadline_ns)
        st__pending_armed(db);
    pthread_mutex_unlock(&db->q_mu);
    return 0;
}

int st_usage_child_loaded(struct st_db *db, const char *tenant, const char *day,
                          const uint8_t key[32])
{
    if (!key) {
        struct st_usage one = {.children_loaded = 1};
        return st_usage_add(db, tenant, day, &one);
    }
    if (!db || st__check_key(tenant, day))
        return ED_EINVAL;
    size_t tlen = strlen(tenant);
    uint64_t h = entry_hash(tenant, tlen, day), kh = key_hash(key);
    int rc = 0;
    pthread_mutex_lock(&db->q_mu);
    /* Seen already in this interval, or being committed now: nothing to add (a failed commit
     * puts the inflight key back in the queue). */
    if (entry_has_key(batch_find(&db->pending, h, tenant, tlen, day), key, kh) ||
        entry_has_key(batch_find(db->inflight, h, tenant, tlen, day), key, kh))
        goto out_unlock;
    size_t total = db->pending.nkeys + (db->inflight ? db->inflight->nkeys : 0);
    struct st__entry *e = NULL;
    struct st__key *k = NULL;
    if (total >= ST__MAX_KEYS || !(e = pending_entry(db, h, tenant, tlen, day)) ||
        !entry_reserve_keys(e) || !(k = malloc(sizeof *k))) {
        db->dropped++;
        rc = ED_ENOMEM;
        goto out_unlock;
    }
    memcpy(k->key, key, 32);
    entry_link_key(e, k);
    db->pending.nkeys++;
    if (!db->deadline_ns)
        st__pending_armed(db);
out_unlock:
    pthread_mutex_unlock(&db->q_mu);
    return rc;
}

/* ---- statements ------------------------------------------------------------------------- */

#define ST__COLS                                                                        \
    "requests, cpu_us, subrequests, children_loaded, child_invocations, child_cpu_us, " \
    "rows_read, rows_written"

static int prepare(sqlite3 *conn, const char *sql, sqlite3_stmt **st, struct ed_error *err)
{
    if (sqlite3_prepare_v3(conn, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return st__sqlite_error(conn, "control.sqlite: prepare", err);
    return 0;
}

int st__usage_prepare(struct st_db *db, struct ed_error *err)
{
    sqlite3 *w = db->wdb, *r = db->rdb;
    int rc;
    if ((rc = prepare(w, "BEGIN IMMEDIATE", &db->w_begin, err)) ||
        (rc = prepare(w, "COMMIT", &db->w_commit, err)) ||
        (rc = prepare(w, "ROLLBACK", &db->w_rollback, err)) ||
        (rc = prepare(w,
                      "INSERT INTO usage (tenant, day, " ST__COLS ") "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                      "ON CONFLICT (tenant, day) DO UPDATE SET "
                      "requests = requests + excluded.requests, "
                      "cpu_us = cpu_us + excluded.cpu_us, "
                      "subrequests = subrequests + excluded.subrequests, "
                      "children_loaded = children_loaded + excluded.children_loaded, "
                      "child_invocations = child_invocations + excluded.child_invocations, "
                      "child_cpu_us = child_cpu_us + excluded.child_cpu_us, "
                      "rows_read = rows_read + excluded.rows_read, "
                      "rows_written = rows_written + excluded.rows_written",
                      &db->w_upsert, err)) ||
        (rc = prepare(w, "INSERT OR IGNORE INTO child_loads (tenant, day, key) VALUES (?, ?, ?)",
                      &db->w_child, err)) ||
        (rc = prepare(w, "UPDATE usage_flush SET seq = ? WHERE id = 1", &db->w_seq, err)) ||
        (rc = prepare(r, "BEGIN", &db->r_begin, err)) ||
        (rc = prepare(r, "COMMIT", &db->r_end, err)) ||
        (rc = prepare(r, "SELECT seq FROM usage_flush WHERE id = 1", &db->r_seq, err)) ||
        (rc = prepare(r, "SELECT tenant, " ST__COLS " FROM usage WHERE tenant = ? AND day = ?",
                      &db->r_row, err)) ||
        (rc =
             prepare(r, "SELECT tenant, " ST__COLS " FROM usage WHERE day = ?", &db->r_day, err)) ||
        (rc = prepare(r, "SELECT 1 FROM child_loads WHERE tenant = ? AND day = ? AND key = ?",
                      &db->r_child, err)))
        return rc;
    return 0;
}

int st__usage_read_seq(struct st_db *db, uint64_t *seq, struct ed_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db->wdb, "SELECT seq FROM usage_flush WHERE id = 1", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        rc = st__sqlite_error(db->wdb, "control.sqlite: reading usage_flush", err);
    else
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* ---- the writer's transaction ----------------------------------------------------------- */

/* Steps a statement that returns no row and resets it. Returns 0 or the SQLite code. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : rc;
}

static int write_entry(struct st_db *db, const struct st__entry *e)
{
    struct st_usage u = e->delta;
    int rc;
    for (size_t i = 0; i < e->nkb; i++)
        for (const struct st__key *k = e->kb[i]; k; k = k->next) {
            sqlite3_bind_text(db->w_child, 1, e->tenant, (int)e->tlen, SQLITE_STATIC);
            sqlite3_bind_text(db->w_child, 2, e->day, ST_DAY_LEN - 1, SQLITE_STATIC);
            sqlite3_bind_blob(db->w_child, 3, k->key, 32, SQLITE_STATIC);
            if ((rc = step_done(db->w_child)))
                return rc;
            u.children_loaded += (uint64_t)sqlite3_changes(db->wdb);
        }
    if (usage_zero(&u))
        return 0;
    sqlite3_stmt *st = db->w_upsert;
    sqlite3_bind_text(st, 1, e->tenant, (int)e->tlen, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->day, ST_DAY_LEN - 1, SQLITE_STATIC);
    int col = 3;
#define ST__BIND(f) sqlite3_bind_int64(st, col++, (sqlite3_int64)u.f);
    ST__USAGE_FIELDS(ST__BIND)
#undef ST__BIND
    return step_done(st);
}

int st__batch_write(struct st_db *db, const struct st__batch *b, struct ed_error *err)
{
    int rc = step_done(db->w_begin);
    if (rc)
        return st__sqlite_error(db->wdb, "control.sqlite: begin", err);
    for (size_t i = 0; i < b->nb && rc == 0; i++)
        for (const struct st__entry *e = b->b[i]; e && rc == 0; e = e->next)
            rc = write_entry(db, e);
    if (rc == 0) {
        sqlite3_bind_int64(db->w_seq, 1, (sqlite3_int64)b->seq);
        rc = step_done(db->w_seq);
    }
    if (rc == 0)
        rc = step_done(db->w_commit);
    if (rc == 0)
        return 0;
    st__sqlite_error(db->wdb, "control.sqlite: usage flush", err);
    if (!sqlite3_get_autocommit(db->wdb))
        step_done(db->w_rollback);
    return ED_ESQLITE;
}

/* ---- reads ------------------------------------------------------------------------------ */

/* One tenant's contribution to a read: a committed row, or an entry copied from the queue
 * with the seq of its batch. After folding, the tenant's totals. */
struct st__item {
    char *tenant;
    uint64_t seq; /* 0: a committed row */
    struct st_usage u;
    uint8_t (*keys)[32];
    size_t nkeys;
};

struct st__items {
    struct st__item *v;
    size_t n, cap;
};

static void items_dispose(struct st__items *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->v[i].tenant);
        free(it->v[i].keys);
    }
    free(it->v);
    memset(it, 0, sizeof *it);
}

static struct st__item *items_push(struct st__items *it, const char *tenant, size_t tlen)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 8;
        struct st__item *v = realloc(it->v, cap * sizeof *v);
        if (!v)
            return NULL;
        it->v = v;
        it->cap = cap;
    }
    struct st__item *x = &it->v[it->n];
    memset(x, 0, sizeof *x);
    if (!(x->tenant = ed_strndup(tenant, tlen)))
        return NULL;
    it->n++;
    return x;
}

static int copy_entry(struct st__items *it, const struct st__entry *e, uint64_t seq)
{
    struct st__item *x = items_push(it, e->tenant, e->tlen);
    if (!x)
        return ED_ENOMEM;
    x->seq = seq;
    x->u = e->delta;
    if (e->nkeys == 0)
        return 0;
    if (!(x->keys = malloc(e->nkeys * sizeof *x->keys)))
        return ED_ENOMEM;
    for (size_t i = 0; i < e->nkb; i++)
        for (const struct st__key *k = e->kb[i]; k; k = k->next)
            memcpy(x->keys[x->nkeys++], k->key, 32);
    return 0;
}

/* Copies the queued entries of (tenant or every tenant, day). q_mu taken here. */
static int copy_queue(struct st_db *db, const char *tenant, const char *day, struct st__items *it)
{
    int rc = 0;
    pthread_mutex_lock(&db->q_mu);
    const struct st__batch *batches[2] = {db->inflight, &db->pending};
    for (int bi = 0; bi < 2 && rc == 0; bi++) {
        const struct st__batch *b = batches[bi];
        if (!b || b->n == 0)
            continue;
        if (tenant) {
            size_t tlen = strlen(tenant);
            const struct st__entry *e =
                batch_find(b, entry_hash(tenant, tlen, day), tenant, tlen, day);
            if (e)
                rc = copy_entry(it, e, b->seq);
            continue;
        }
        for (size_t i = 0; i < b->nb && rc == 0; i++)
            for (const struct st__entry *e = b->b[i]; e && rc == 0; e = e->next)
                if (memcmp(e->day, day, ST_DAY_LEN - 1) == 0)
                    rc = copy_entry(it, e, b->seq);
    }
    pthread_mutex_unlock(&db->q_mu);
    return rc;
}

static int cmp_item(const void *a, const void *b)
{
    const struct st__item *x = a, *y = b;
    int c = strcmp(x->tenant, y->tenant);
    /* committed rows first, so the fold below keeps the row and adds the queue to it */
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Reads committed rows into it, drops copied queue entries the snapshot already holds, and
 * folds everything into one item per tenant (sorted by name). rd_mu held, inside the read
 * transaction. Returns 0 or a SQLite code. */
static int read_and_fold(struct st_db *db, const char *tenant, const char *day,
                         struct st__items *it)
{
    int rc = sqlite3_step(db->r_seq);
    uint64_t committed = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(db->r_seq, 0) : 0;
    sqlite3_reset(db->r_seq);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;

    sqlite3_stmt *st = tenant ? db->r_row : db->r_day;
    if (tenant) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, day, ST_DAY_LEN - 1, SQLITE_STATIC);
    } else {
        sqlite3_bind_text(st, 1, day, ST_DAY_LEN - 1, SQLITE_STATIC);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct st__item *x = items_push(it, (const char *)sqlite3_column_text(st, 0),
                                        (size_t)sqlite3_column_bytes(st, 0));
        if (!x) {
            rc = SQLITE_NOMEM;
            break;
        }
        int col = 1;
#define ST__COL(f) x->u.f = (uint64_t)sqlite3_column_int64(st, col++);
        ST__USAGE_FIELDS(ST__COL)
#undef ST__COL
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;

    /* Drop what the snapshot already holds, then sort and fold per tenant. */
    size_t n = 0;
    for (size_t i = 0; i < it->n; i++) {
        if (it->v[i].seq != 0 && it->v[i].seq <= committed) {
            free(it->v[i].tenant);
            free(it->v[i].keys);
            continue;
        }
        it->v[n++] = it->v[i];
    }
    it->n = n;
    if (it->n > 1)
        qsort(it->v, it->n, sizeof *it->v, cmp_item);

    /* Per tenant, queued keys count when the snapshot does not hold them yet, each once. */
    for (size_t gs = 0, ge; gs < it->n; gs = ge) {
        size_t nk = it->v[gs].nkeys;
        for (ge = gs + 1; ge < it->n && strcmp(it->v[ge].tenant, it->v[gs].tenant) == 0; ge++)
            nk += it->v[ge].nkeys;
        if (nk == 0)
            continue;
        uint8_t(*keys)[32] = malloc(nk * sizeof *keys);
        if (!keys)
            return SQLITE_NOMEM;
        nk = 0;
        for (size_t i = gs; i < ge; i++) {
            if (it->v[i].nkeys)
                memcpy(keys[nk], it->v[i].keys, it->v[i].nkeys * sizeof *keys);
            nk += it->v[i].nkeys;
        }
        qsort(keys, nk, sizeof *keys, cmp_key);
        for (size_t j = 0; j < nk; j++) {
            if (j && memcmp(keys[j], keys[j - 1], 32) == 0)
                continue;
            sqlite3_bind_text(db->r_child, 1, it->v[gs].tenant, -1, SQLITE_STATIC);
            sqlite3_bind_text(db->r_child, 2, day, ST_DAY_LEN - 1, SQLITE_STATIC);
            sqlite3_bind_blob(db->r_child, 3, keys[j], 32, SQLITE_STATIC);
            rc = sqlite3_step(db->r_child);
            sqlite3_reset(db->r_child);
            if (rc == SQLITE_DONE)
                it->v[gs].u.children_loaded++;
            else if (rc != SQLITE_ROW)
                break;
        }
        free(keys);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            return rc;
    }

    /* One item per tenant. */
    n = 0;
    for (size_t i = 0; i < it->n; i++) {
        struct st__item *x = &it->v[i];
        if (n && strcmp(it->v[n - 1].tenant, x->tenant) == 0) {
            usage_sum(&it->v[n - 1].u, &x->u);
            free(x->tenant);
            free(x->keys);
        } else {
            it->v[n++] = *x;
        }
    }
    it->n = n;
    return 0;
}

/* The folded counters of (tenant or every tenant, day): committed plus queued. */
static int collect(struct st_db *db, const char *tenant, const char *day, struct st__items *it,
                   struct ed_error *err)
{
    if (!db || st__check_key(tenant ? tenant : "-", day))
        return ed_error_set(err, ED_EINVAL, "usage: invalid tenant or day");
    memset(it, 0, sizeof *it);
    /* Queue first, database second: see the top of this file. */
    int rc = copy_queue(db, tenant, day, it);
    if (rc) {
        items_dispose(it);
        return ed_error_set(err, rc, NULL);
    }
    pthread_mutex_lock(&db->rd_mu);
    rc = sqlite3_step(db->r_begin);
    sqlite3_reset(db->r_begin);
    if (rc == SQLITE_DONE)
        rc = read_and_fold(db, tenant, day, it);
    if (rc != 0 && rc != SQLITE_DONE)
        rc = st__sqlite_error(db->rdb, "control.sqlite: usage read", err);
    else
        rc = 0;
    if (!sqlite3_get_autocommit(db->rdb)) {
        sqlite3_step(db->r_end);
        sqlite3_reset(db->r_end);
    }
    pthread_mutex_unlock(&db->rd_mu);
    if (rc)
        items_dispose(it);
    return rc;
}

int st_usage_get(struct st_db *db, const char *tenant, const char *day, struct st_usage *out,
                 struct ed_error *err)
{
    if (!out || !tenant)
        return ed_error_set(err, ED_EINVAL, "usage: no tenant");
    memset(out, 0, sizeof *out);
    struct st__items it;
    int rc = collect(db, tenant, day, &it, err);
    if (rc)
        return rc;
    if (it.n > 0)
        *out = it.v[0].u;
    items_dispose(&it);
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Appends s as a JSON string: quotes, backslashes and control bytes escaped, bytes that are
 * not UTF-8 replaced by U+FFFD so the document stays valid whatever the name holds. */
static int json_string(struct ed_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    int rc = ed_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && rc == 0;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = ed_buf_append(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            rc = ed_buf_appendf(b, "\\u%04x", c);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            rc = len ? ed_buf_append(b, p + i, len) : ed_buf_append(b, "\\ufffd", 6);
            i += len ? len : 1;
        }
    }
    return rc ? rc : ed_buf_append(b, "\"", 1);
}

static int json_usage(struct ed_buf *b, const struct st_usage *u)
{
    int rc = 0;
    const char *sep = "{";
#define ST__JSON(f)                                                                  \
    if (rc == 0)                                                                     \
        rc = ed_buf_appendf(b, "%s\"" #f "\": %llu", sep, (unsigned long long)u->f); \
    sep = ", ";
    ST__USAGE_FIELDS(ST__JSON)
#undef ST__JSON
    return rc ? rc : ed_buf_append(b, "}", 1);
}

int st_usage_json(struct st_db *db, const char *tenant, const char *day, char **json,
                  struct ed_error *err)
{
    if (!json)
        return ed_error_set(err, ED_EINVAL, "usage: no output");
    *json = NULL;
    struct st__items it;
    int rc = collect(db, tenant, day, &it, err);
    if (rc)
        return rc;
    struct ed_buf b;
    ed_buf_init(&b);
    rc = ed_buf_appendf(&b, "{\"day\": \"%.10s\", \"tenants\": {", day);
    for (size_t i = 0; i < it.n && rc == 0; i++) {
        if (i)
            rc = ed_buf_append(&b, ", ", 2);
        if (rc == 0)
            rc = json_string(&b, it.v[i].tenant);
        if (rc == 0)
            rc = ed_buf_append(&b, ": ", 2);
        if (rc == 0)
            rc = json_usage(&b, &it.v[i].u);
    }
    if (rc == 0 && tenant && it.n == 0) {
        /* one tenant asked for: it is there, with zeros, even before its first request */
        static const struct st_usage zero;
        if ((rc = json_string(&b, tenant)) == 0 && (rc = ed_buf_append(&b, ": ", 2)) == 0)
            rc = json_usage(&b, &zero);
    }
    if (rc == 0)
        rc = ed_buf_append(&b, "}}", 2);
    items_dispose(&it);
    if (rc) {
        ed_buf_dispose(&b);
        return ed_error_set(err, rc, NULL);
    }
    *json = b.data; /* ed_buf data is malloc'd: the caller frees it with free() */
    return 0;
}
