/*
 * Durable object alarms: each object keeps its alarm time in its own _cf_METADATA table (key 1,
 * ms since the epoch), written in its implicit transaction like any other write, and the
 * control plane keeps an index alarms(tenant, class, id, at_ms) so a restart can schedule every
 * alarm without opening every object.
 *
 * The index is written on the shard's own connection to control.sqlite (synchronous=NORMAL, as
 * the objects: a write(), no fsync) at commit time: a set alarm's entry before the object
 * commits, a deleted alarm's entry removed after. So a committed alarm always has its entry
 * (never lost on SIGKILL), and the only inconsistency a failure can leave is an entry whose
 * object has no such alarm, which the caller drops when it fires. It is on the shard's thread
 * rather than the usage writer's because an entry queued there could still be in memory when
 * the process dies after its object committed; setAlarm is rare next to the writes it guards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "do_int.h"
#include "st_int.h"

/* Reads the stored alarm into o->alarm_ms (in the transaction). */
static int load(struct st_object *o, struct ed_error *err)
{
    if (o->alarm_known)
        return 0;
    int rc = 0;
    if (!o->meta_ready && (rc = st__table_exists(o, "_cf_METADATA", &o->meta_ready, err)))
        return rc;
    o->alarm_ms = 0;
    if (o->meta_ready) {
        int s =
            st__prepare_trusted(o, &o->s_meta_get, "SELECT value FROM _cf_METADATA WHERE key = 1");
        if (s == SQLITE_OK) {
            o->trusted = true;
            s = sqlite3_step(o->s_meta_get);
            o->trusted = false;
            if (s == SQLITE_ROW)
                o->alarm_ms = sqlite3_column_int64(o->s_meta_get, 0);
            sqlite3_reset(o->s_meta_get);
        }
        if (s != SQLITE_ROW && s != SQLITE_DONE) {
            rc = st__sqlite_error(o->db, "durable object: reading the alarm", err);
            st__txn_check(o, s);
            return rc;
        }
    }
    o->alarm_known = true;
    return 0;
}

int st_alarm_get(struct st_object *o, int64_t *at_ms, struct ed_error *err)
{
    int rc = st__txn(o, err);
    if (rc == 0)
        rc = load(o, err);
    *at_ms = rc ? 0 : o->alarm_ms;
    return rc;
}

int st_alarm_set(struct st_object *o, int64_t at_ms, struct ed_error *err)
{
    if (at_ms < 0)
        return ed_error_set(err, ED_EINVAL, "alarm time must not be negative");
    if (o->facet && at_ms > 0) /* the index names objects, not facets */
        return ed_error_set(err, ED_EINVAL, "Alarms are not supported in facets.");
    int rc = st__txn(o, err);
    if (rc)
        return rc;
    if (!o->meta_ready && (rc = st__table_exists(o, "_cf_METADATA", &o->meta_ready, err)))
        return rc;
    int s = SQLITE_DONE;
    if (at_ms > 0) {
        if (!o->meta_ready) {
            s = st__exec_trusted(o, ST__META_SQL);
            if (s != SQLITE_OK)
                goto fail;
            o->meta_ready = true;
        }
        s = st__prepare_trusted(o, &o->s_meta_put,
                                "INSERT INTO _cf_METADATA (key, value) VALUES (1, ?) "
                                "ON CONFLICT DO UPDATE SET value = excluded.value");
        if (s != SQLITE_OK)
            goto fail;
        sqlite3_bind_int64(o->s_meta_put, 1, at_ms);
        o->trusted = true;
        s = sqlite3_step(o->s_meta_put);
        o->trusted = false;
        sqlite3_reset(o->s_meta_put);
    } else if (o->meta_ready) {
        s = st__step_trusted(o, &o->s_meta_del, "DELETE FROM _cf_METADATA WHERE key = 1");
    }
    if (s != SQLITE_DONE)
        goto fail;
    o->alarm_ms = at_ms;
    o->alarm_known = true;
    o->alarm_touched = true;
    return 0;
fail:
    rc = st__sqlite_error(o->db, "durable object: setting the alarm", err);
    st__txn_check(o, s);
    return rc;
}

/* ---- the control plane's index ------------------------------------------------------------- */

static int ctl_open(struct st_objects *os, struct ed_error *err)
{
    if (os->ctl)
        return 0;
    char *path = NULL;
    if (asprintf(&path, "%s/control.sqlite", os->db->dir) < 0)
        return ed_error_set(err, ED_ENOMEM, NULL);
    int rc = 0;
    if (sqlite3_open_v2(path, &os->ctl,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(os->ctl, "PRAGMA synchronous = NORMAL;", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(os->ctl,
                           "INSERT INTO alarms (tenant, class, id, at_ms) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (tenant, class, id) DO UPDATE SET at_ms = excluded.at_ms",
                           -1, SQLITE_PREPARE_PERSISTENT, &os->ctl_put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(os->ctl, "DELETE FROM alarms WHERE tenant = ? AND class = ? AND id = ?",
                           -1, SQLITE_PREPARE_PERSISTENT, &os->ctl_del, NULL) != SQLITE_OK) {
        rc = st__sqlite_error(os->ctl, "control.sqlite: alarm index", err);
        st__alarm_close(os);
    } else {
        /* the usage writer may hold the write lock for its fsync */
        sqlite3_busy_timeout(os->ctl, 5000);
    }
    free(path);
    return rc;
}

void st__alarm_close(struct st_objects *os)
{
    sqlite3_finalize(os->ctl_put);
    sqlite3_finalize(os->ctl_del);
    sqlite3_close(os->ctl);
    os->ctl_put = os->ctl_del = NULL;
    os->ctl = NULL;
}

static void bind_names(sqlite3_stmt *st, const struct st_object *o)
{
    sqlite3_bind_text(st, 1, o->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o->cls, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->hex, 64, SQLITE_STATIC);
}

int st__alarm_before_commit(struct st_object *o, struct ed_error *err)
{
    struct st_objects *os = o->os;
    if (!o->alarm_touched || !os->db)
        return 0;
    int rc = load(o, err); /* a savepoint rolled back may have undone the set */
    if (rc || o->alarm_ms == 0 || (rc = ctl_open(os, err)))
        return rc;
    bind_names(os->ctl_put, o);
    sqlite3_bind_int64(os->ctl_put, 4, o->alarm_ms);
    if (sqlite3_step(os->ctl_put) != SQLITE_DONE)
        rc = st__sqlite_error(os->ctl, "control.sqlite: writing the alarm index", err);
    sqlite3_reset(os->ctl_put);
    return rc;
}

void st__alarm_after_commit(struct st_object *o)
{
    struct st_objects *os = o->os;
    if (!o->alarm_touched || !os->db || !o->alarm_known || o->alarm_ms != 0)
        return;
    struct ed_error err = {0};
    if (ctl_open(os, &err) == 0) {
        bind_names(os->ctl_del, o);
        if (sqlite3_step(os->ctl_del) != SQLITE_DONE)
            st__sqlite_error(os->ctl, "control.sqlite: removing an alarm", &err);
        sqlite3_reset(os->ctl_del);
    }
    /* a stale entry is harmless (dropped when it fires), so this is only logged */
    if (err.code)
        st__log_error("alarm_index", &err, NULL);
    ed_error_dispose(&err);
}

int st_alarms_list(struct st_db *db,
                   int (*each)(void *ud, const char *tenant, const char *cls, const char *hex,
                               int64_t at_ms),
                   void *ud, struct ed_error *err)
{
    if (!db)
        return ed_error_set(err, ED_EINVAL, "st_alarms_list: no database");
    pthread_mutex_lock(&db->rd_mu);
    sqlite3_stmt *st = NULL;
    int rc = 0, s = sqlite3_prepare_v2(db->rdb,
                                       "SELECT tenant, class, id, at_ms FROM alarms ORDER BY at_ms",
                                       -1, &st, NULL);
    if (s == SQLITE_OK) {
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            const char *c = (const char *)sqlite3_column_text(st, 1);
            const char *h = (const char *)sqlite3_column_text(st, 2);
            if (t && c && h && (rc = each(ud, t, c, h, sqlite3_column_int64(st, 3))))
                break;
        }
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = st__sqlite_error(db->rdb, "control.sqlite: listing alarms", err);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->rd_mu);
    return rc;
}
