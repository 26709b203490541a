/*
 * storage/: the per-shard cache of durable object databases. Files land where the contract
 * says with 0700 directories, names never escape the tenant's tree, LRU closes (max_open 2
 * with 5 objects) lose nothing, one st_objects_commit commits every object written in a turn
 * and says so per object, savepoints nest and roll back, an open savepoint keeps its object out
 * of the commit, alarms reach the control plane's index, and the tenant's objects are counted.
 */
#include <errno.h>
#include <sqlite3.h>

#include "do_test.h"

TestSuite(do_objects, .init = make_tmp, .fini = remove_tmp, .timeout = 60);

static char *counter(struct st_object *o)
{
    return sql_ok(o, "SELECT v FROM c");
}

static void bump(struct st_object *o)
{
    free(sql_ok(o, "CREATE TABLE IF NOT EXISTS c (v INTEGER); "
                   "INSERT INTO c SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM c); "
                   "UPDATE c SET v = v + 1"));
}

Test(do_objects, files_and_paths)
{
    struct st_objects *os = objects_new(0);
    char hex[ST_OBJECT_ID_HEX];
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", "x", 1, hex), 0);
    struct st_object *o = object(os, "x");
    cr_assert_str_eq(st_object_hex(o), hex);
    cr_assert_str_eq(st_object_tenant(o), "acme");
    cr_assert_str_eq(st_object_class(o), "Counter");
    bump(o);
    commit_ok(os);
    char path[256];
    snprintf(path, sizeof path, "%s/tenants/acme/do/Counter/%s.sqlite", tmpdir, hex);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    snprintf(path, sizeof path, "%s/tenants/acme/do/Counter", tmpdir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/tenants/acme/do", tmpdir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    /* WAL while open */
    snprintf(path, sizeof path, "%s/tenants/acme/do/Counter/%s.sqlite-wal", tmpdir, hex);
    cr_assert_eq(stat(path, &st), 0);

    /* names that would leave the tree are refused before any path is made */
    struct st_object *bad = NULL;
    struct ed_error err = {0};
    static const char *const tenants[] = {"..", ".", "", "a/b", "../acme", ".x", "a b", NULL};
    for (int i = 0; tenants[i]; i++)
        cr_assert_eq(st_object_get(os, tenants[i], "Counter", hex, &bad, &err), ED_EINVAL, "%s",
                     tenants[i]);
    static const char *const classes[] = {"..", "a/b", "1a", "", "a-b", "a.b", NULL};
    for (int i = 0; classes[i]; i++)
        cr_assert_eq(st_object_get(os, "acme", classes[i], hex, &bad, &err), ED_EINVAL, "%s",
                     classes[i]);
    cr_assert_eq(st_object_get(os, "acme", "Counter", "../../../etc/passwd", &bad, &err),
                 ED_EINVAL);
    cr_assert_str_eq(ed_error_msg(&err), "Invalid Durable Object ID: must be 64 hex digits");
    char upper[ST_OBJECT_ID_HEX];
    memcpy(upper, hex, sizeof upper);
    for (int i = 0; i < 64; i++)
        if (upper[i] >= 'a')
            upper[i] = (char)(upper[i] - 'a' + 'A');
    cr_assert_eq(st_object_get(os, "acme", "Counter", upper, &bad, &err), ED_EINVAL);
    /* a class directory replaced by a symbolic link is refused */
    snprintf(path, sizeof path, "%s/tenants/acme/do/Evil", tmpdir);
    cr_assert_eq(symlink("/tmp", path), 0);
    cr_assert_eq(st_object_get(os, "acme", "Evil", hex, &bad, &err), ED_EIO);
    /* and so is a database file that is a symbolic link */
    snprintf(path, sizeof path, "%s/tenants/acme/do/Link", tmpdir);
    cr_assert_eq(ed_mkdirs(path, 0700), 0);
    char target[300];
    snprintf(target, sizeof target, "%s/tenants/acme/do/Counter/%s.sqlite", tmpdir, hex);
    snprintf(path, sizeof path, "%s/tenants/acme/do/Link/%s.sqlite", tmpdir, hex);
    cr_assert_eq(symlink(target, path), 0);
    cr_assert_neq(st_object_get(os, "acme", "Link", hex, &bad, &err), 0);
    ed_error_dispose(&err);

    uint64_t n = 0, bytes = 0;
    cr_assert_eq(st_tenant_objects(tmpdir, "acme", &n, &bytes, NULL), 0);
    cr_assert_eq(n, 1);
    cr_assert_gt(bytes, 0);
    cr_assert_eq(st_tenant_objects(tmpdir, "nobody", &n, &bytes, NULL), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(st_tenant_objects(tmpdir, "../acme", &n, &bytes, NULL), ED_EINVAL);
    st_objects_free(os);
}

Test(do_objects, lru_closes_and_reopens_intact)
{
    struct st_objects *os = objects_new(2);
    static const char *const names[] = {"o1", "o2", "o3", "o4", "o5"};
    /* rounds of one write per object, committed per round as a shard would */
    for (int round = 1; round <= 4; round++) {
        for (int i = 0; i < 5; i++)
            bump(object(os, names[i]));
        /* all 5 have an open transaction: none could be closed yet */
        cr_assert_eq(st_objects_open_count(os), 5);
        commit_ok(os);
        cr_assert_leq(st_objects_open_count(os), 2);
        for (int i = 0; i < 5; i++) {
            struct st_object *o = object(os, names[i]);
            char *v = counter(o);
            char want[16];
            snprintf(want, sizeof want, "v\n%d\n", round);
            cr_assert_str_eq(v, want, "%s round %d", names[i], round);
            free(v);
            commit_ok(os); /* read-only: no transaction left open to pin it */
            cr_assert_leq(st_objects_open_count(os), 2);
        }
    }
    uint64_t n = 0, bytes = 0;
    cr_assert_eq(st_tenant_objects(tmpdir, "acme", &n, &bytes, NULL), 0);
    cr_assert_eq(n, 5);
    st_objects_free(os);
    /* and from a fresh cache, as after a restart */
    os = objects_new(0);
    for (int i = 0; i < 5; i++) {
        char *v = counter(object(os, names[i]));
        cr_assert_str_eq(v, "v\n4\n");
        free(v);
    }
    st_objects_free(os);
}

struct done_log {
    int calls, failed;
    char ids[8][ST_OBJECT_ID_HEX];
};

static void on_done(void *ud, const struct st_object *o, int code, const char *msg)
{
    struct done_log *d = ud;
    const char *hex = st_object_hex(o);
    cr_assert_str_eq(st_object_tenant(o), "acme");
    cr_assert_str_eq(st_object_class(o), "Counter");
    cr_assert_null(st_object_facet(o, NULL));
    if (code) {
        d->failed++;
        cr_assert_not_null(msg);
    }
    if (d->calls < 8)
        snprintf(d->ids[d->calls], ST_OBJECT_ID_HEX, "%s", hex);
    d->calls++;
}

Test(do_objects, group_commit_across_objects)
{
    struct st_objects *os = objects_new(0);
    struct st_object *a = object(os, "a");
    cr_assert(!st_object_dirty(a));
    for (int i = 0; i < 10; i++) {
        bump(object(os, "a"));
        bump(object(os, "b"));
    }
    bump(object(os, "c"));
    cr_assert(st_object_dirty(object(os, "a")));
    struct done_log d = {0};
    cr_assert_eq(st_objects_commit(os, on_done, &d), 0);
    cr_assert_eq(d.calls, 3);
    cr_assert_eq(d.failed, 0);
    cr_assert(!st_object_dirty(object(os, "a")));
    /* nothing open: a commit does nothing */
    d = (struct done_log){0};
    cr_assert_eq(st_objects_commit(os, on_done, &d), 0);
    cr_assert_eq(d.calls, 0);

    /* what was committed is visible to another connection */
    char hex[ST_OBJECT_ID_HEX], path[256];
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", "b", 1, hex), 0);
    snprintf(path, sizeof path, "%s/tenants/acme/do/Counter/%s.sqlite", tmpdir, hex);
    sqlite3 *peek = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &peek, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(peek, "SELECT v FROM c", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 10);
    sqlite3_finalize(st);
    /* and what is not committed is not */
    bump(object(os, "b"));
    cr_assert_eq(sqlite3_prepare_v2(peek, "SELECT v FROM c", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 10);
    sqlite3_finalize(st);
    sqlite3_close(peek);
    commit_ok(os);
    st_objects_free(os);
}

Test(do_objects, savepoints)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "sp");
    bump(o); /* 1 */
    cr_assert_eq(st_object_savepoint(o, NULL), 0);
    bump(o); /* 2 */
    cr_assert_eq(st_object_savepoint(o, NULL), 0);
    bump(o);                                                   /* 3, undone */
    cr_assert_eq(st_kv_put(o, "k", 1, "v", 1, NULL, NULL), 0); /* makes _cf_KV: undone too */
    cr_assert_eq(st_object_release(o, false, NULL), 0);
    char *v = counter(o);
    cr_assert_str_eq(v, "v\n2\n");
    free(v);
    cr_assert_eq(st_kv_get(o, "k", 1, NULL, NULL, NULL, NULL), ED_ENOENT);
    cr_assert_eq(st_kv_put(o, "k2", 2, "v", 1, NULL, NULL), 0); /* _cf_KV made again */
    cr_assert_eq(st_object_release(o, true, NULL), 0);
    struct ed_error err = {0};
    cr_assert_eq(st_object_release(o, true, &err), ED_EINVAL);
    ed_error_dispose(&err);
    commit_ok(os);
    v = counter(o);
    cr_assert_str_eq(v, "v\n2\n");
    free(v);
    cr_assert_eq(st_kv_get(o, "k2", 2, NULL, NULL, NULL, NULL), 0);

    /* an open savepoint keeps the object out of the commit until it is released */
    cr_assert_eq(st_object_savepoint(o, NULL), 0);
    bump(o); /* 3 */
    struct done_log d = {0};
    cr_assert_eq(st_objects_commit(os, on_done, &d), 0);
    cr_assert_eq(d.calls, 0);
    cr_assert(st_object_dirty(o));
    cr_assert_eq(st_object_release(o, true, NULL), 0);
    cr_assert_eq(st_objects_commit(os, on_done, &d), 0);
    cr_assert_eq(d.calls, 1);
    /* st_objects_free rolls an unfinished savepoint back and commits the rest */
    bump(o); /* 4 */
    cr_assert_eq(st_object_savepoint(o, NULL), 0);
    bump(o); /* 5, never finished */
    st_objects_free(os);
    os = objects_new(0);
    v = counter(object(os, "sp"));
    cr_assert_str_eq(v, "v\n4\n");
    free(v);
    st_objects_free(os);
}

struct alarm_row {
    int n;
    char hex[4][ST_OBJECT_ID_HEX];
    int64_t at[4];
};

static int on_alarm(void *ud, const char *tenant, const char *cls, const char *hex, int64_t at)
{
    struct alarm_row *r = ud;
    cr_assert_str_eq(tenant, "acme");
    cr_assert_str_eq(cls, "Counter");
    if (r->n < 4) {
        snprintf(r->hex[r->n], ST_OBJECT_ID_HEX, "%s", hex);
        r->at[r->n] = at;
    }
    r->n++;
    return 0;
}

static struct alarm_row alarms(struct st_db *db)
{
    struct alarm_row r = {0};
    struct ed_error err = {0};
    cr_assert_eq(st_alarms_list(db, on_alarm, &r, &err), 0, "%s", ed_error_msg(&err));
    ed_error_dispose(&err);
    return r;
}

Test(do_objects, alarms_and_their_index)
{
    struct st_db *db = NULL;
    struct ed_error err = {0};
    cr_assert_eq(st_open(tmpdir, 0, &db, &err), 0, "%s", ed_error_msg(&err));
    struct st_objects *os = NULL;
    cr_assert_eq(st_objects_new(tmpdir, db, 0, &os, &err), 0);
    struct st_object *a = object(os, "alarm-a");
    int64_t at = -1;
    cr_assert_eq(st_alarm_get(a, &at, NULL), 0);
    cr_assert_eq(at, 0);
    cr_assert_eq(st_alarm_set(a, 2000, NULL), 0);
    cr_assert_eq(st_alarm_set(object(os, "alarm-b"), 1000, NULL), 0);
    cr_assert_eq(alarms(db).n, 0); /* not before the commit */
    commit_ok(os);
    struct alarm_row r = alarms(db);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.at[0], 1000);
    cr_assert_eq(r.at[1], 2000);
    cr_assert_str_eq(r.hex[1], st_object_hex(object(os, "alarm-a")));

    /* moved, then deleted */
    a = object(os, "alarm-a");
    cr_assert_eq(st_alarm_set(a, 500, NULL), 0);
    commit_ok(os);
    r = alarms(db);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.at[0], 500);
    cr_assert_eq(st_alarm_set(object(os, "alarm-b"), 0, NULL), 0);
    commit_ok(os);
    r = alarms(db);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.at[0], 500);

    /* a set undone by its savepoint never reaches the index */
    struct st_object *c = object(os, "alarm-c");
    cr_assert_eq(st_object_savepoint(c, NULL), 0);
    cr_assert_eq(st_alarm_set(c, 700, NULL), 0);
    cr_assert_eq(st_object_release(c, false, NULL), 0);
    cr_assert_eq(st_alarm_get(c, &at, NULL), 0);
    cr_assert_eq(at, 0);
    commit_ok(os);
    cr_assert_eq(alarms(db).n, 1);

    /* a stale index entry (the object has no alarm) goes once the caller clears it */
    cr_assert_eq(st_alarm_set(object(os, "alarm-a"), 0, NULL), 0);
    commit_ok(os);
    cr_assert_eq(alarms(db).n, 0);

    /* the alarm survives a restart of everything */
    cr_assert_eq(st_alarm_set(object(os, "alarm-b"), 123456, NULL), 0);
    commit_ok(os);
    st_objects_free(os);
    st_close(db);
    cr_assert_eq(st_open(tmpdir, 0, &db, &err), 0, "%s", ed_error_msg(&err));
    r = alarms(db);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.at[0], 123456);
    cr_assert_eq(st_objects_new(tmpdir, db, 0, &os, &err), 0);
    cr_assert_eq(st_alarm_get(object(os, "alarm-b"), &at, NULL), 0);
    cr_assert_eq(at, 123456);
    commit_ok(os);
    st_objects_free(os);
    st_close(db);
    ed_error_dispose(&err);
}
