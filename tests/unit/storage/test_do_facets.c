/*
 * Facets, rollback and quotas of storage/'s durable objects: a facet's database lies beside its
 * object's under a hashed name and shares nothing with it; st_facet_delete removes it;
 * st_object_rollback undoes a turn's writes (savepoints included) and leaves the object out of
 * the commit; a tenant's quota follows its databases as they grow, shrink, close and reopen,
 * a write past its byte limit fails with SQLITE_FULL and the quota's message while the turn's
 * other writes stand, and no database is created past the object limit.
 */
#include <sqlite3.h>

#include "do_test.h"

TestSuite(do_facets, .init = make_tmp, .fini = remove_tmp);

static struct st_object *facet(struct st_objects *os, const char *object_name, const char *name)
{
    char hex[ST_OBJECT_ID_HEX];
    cr_assert_eq(
        st_object_id_from_name(test_key, "acme", "Counter", object_name, strlen(object_name), hex),
        0);
    struct st_object *o = NULL;
    struct ed_error err = {0};
    int rc = st_facet_get(os, "acme", "Counter", hex, name, strlen(name), &o, &err);
    cr_assert_eq(rc, 0, "st_facet_get: %s", ed_error_msg(&err));
    ed_error_dispose(&err);
    return o;
}

static void commit(struct st_objects *os)
{
    cr_assert_eq(st_objects_commit(os, NULL, NULL), 0);
}

Test(do_facets, a_facet_has_a_database_of_its_own)
{
    struct st_objects *os = objects_new(0);
    struct st_object *parent = object(os, "p");
    free(sql_ok(parent, "CREATE TABLE secret (v TEXT); INSERT INTO secret VALUES ('parent')"));
    struct st_object *f = facet(os, "p", "app/../../x");
    size_t len = 0;
    cr_assert_str_eq(st_object_facet(f, &len), "app/../../x");
    cr_assert_eq(len, 11);
    cr_assert_str_eq(st_object_hex(f), st_object_hex(object(os, "p")));
    char *msg = sql_fails(facet(os, "p", "app/../../x"), "SELECT * FROM secret", NULL, 0, ED_ESQL);
    cr_expect(strstr(msg, "no such table: secret"), "%s", msg);
    free(msg);
    free(sql_ok(facet(os, "p", "app/../../x"), "CREATE TABLE t (v); INSERT INTO t VALUES (1)"));
    /* another name is another database; the object does not see the facet's table */
    msg = sql_fails(facet(os, "p", "other"), "SELECT * FROM t", NULL, 0, ED_ESQL);
    free(msg);
    msg = sql_fails(object(os, "p"), "SELECT * FROM t", NULL, 0, ED_ESQL);
    free(msg);
    /* no alarm in a facet */
    struct ed_error err = {0};
    cr_expect_eq(st_alarm_set(facet(os, "p", "other"), 1000, &err), ED_EINVAL);
    ed_error_dispose(&err);
    commit(os);

    /* on disk: <id>.facets/<64 hex>.sqlite, the name nowhere in a path */
    char hex[ST_OBJECT_ID_HEX], dir[512];
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", "p", 1, hex), 0);
    snprintf(dir, sizeof dir, "%s/tenants/acme/do/Counter/%s.facets", tmpdir, hex);
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    uint64_t n = 0, bytes = 0;
    cr_assert_eq(st_tenant_objects(tmpdir, "acme", &n, &bytes, NULL), 0);
    cr_expect_eq(n, 1, "facets are not objects");
    uint64_t before = bytes;

    /* reopened after the cache closed it, the facet still has its rows */
    st_objects_free(os);
    os = objects_new(0);
    char *rows = sql_ok(facet(os, "p", "app/../../x"), "SELECT v FROM t");
    cr_expect_str_eq(rows, "v\n1\n");
    free(rows);
    commit(os);

    /* deleted: gone from the disk, and empty when made again */
    cr_assert_eq(st_facet_delete(os, "acme", "Counter", hex, "app/../../x", 11, &err), 0, "%s",
                 ed_error_msg(&err));
    cr_assert_eq(st_tenant_objects(tmpdir, "acme", &n, &bytes, NULL), 0);
    cr_expect_lt(bytes, before);
    msg = sql_fails(facet(os, "p", "app/../../x"), "SELECT * FROM t", NULL, 0, ED_ESQL);
    free(msg);
    cr_expect_eq(st_facet_get(os, "acme", "Counter", hex, "", 0, &f, &err), ED_EINVAL);
    ed_error_dispose(&err);
    commit(os);
    st_objects_free(os);
}

Test(do_facets, a_rollback_undoes_the_turn)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "r");
    free(sql_ok(o, "CREATE TABLE c (v INTEGER); INSERT INTO c VALUES (1)"));
    commit(os);
    free(sql_ok(object(os, "r"), "UPDATE c SET v = 2"));
    cr_assert_eq(st_object_savepoint(object(os, "r"), NULL), 0);
    free(sql_ok(object(os, "r"), "UPDATE c SET v = 3; CREATE TABLE d (x)"));
    struct ed_error err = {0};
    cr_assert(st_object_dirty(object(os, "r")));
    cr_assert_eq(st_object_rollback(object(os, "r"), &err), 0, "%s", ed_error_msg(&err));
    cr_assert(!st_object_dirty(object(os, "r")));
    /* nothing to commit: the rolled-back object is not reported */
    int calls = 0;
    cr_assert_eq(st_objects_commit(os, NULL, &calls), 0);
    char *rows = sql_ok(object(os, "r"), "SELECT v FROM c");
    cr_expect_str_eq(rows, "v\n1\n");
    free(rows);
    char *msg = sql_fails(object(os, "r"), "SELECT * FROM d", NULL, 0, ED_ESQL);
    free(msg);
    /* without a transaction it does nothing */
    commit(os);
    cr_assert_eq(st_object_rollback(object(os, "r"), &err), 0);
    st_objects_free(os);
}

static struct st_quota *the_quota;

static struct st_quota *quota_of(void *ud, const char *tenant)
{
    (void)ud;
    return strcmp(tenant, "acme") == 0 ? the_quota : NULL;
}

static uint64_t quota_bytes(void)
{
    uint64_t b = 0;
    st_quota_get(the_quota, &b, NULL);
    return b;
}

Test(do_facets, the_quota_follows_the_databases)
{
    the_quota = st_quota_new(0, 0);
    cr_assert_not_null(the_quota);
    struct st_objects *os = objects_new(2);
    st_objects_set_quotas(os, quota_of, NULL);
    free(sql_ok(object(os, "a"), "CREATE TABLE t (v BLOB)"));
    commit(os);
    uint64_t objects = 0;
    st_quota_get(the_quota, NULL, &objects);
    cr_expect_eq(objects, 1);
    uint64_t small = quota_bytes();
    cr_expect_gt(small, 0);
    struct st_value big = {.type = ST_BLOB, .p = calloc(1, 300000), .len = 300000};
    free(sql_binds(object(os, "a"), "INSERT INTO t VALUES (?)", &big, 1, NULL));
    commit(os);
    cr_expect_gt(quota_bytes(), small + 290000);
    /* closing and reopening counts the files, then the pages: no drift */
    free(sql_ok(object(os, "b"), "CREATE TABLE t (v)"));
    free(sql_ok(object(os, "c"), "CREATE TABLE t (v)"));
    commit(os);
    free(sql_ok(object(os, "a"), "SELECT count(*) FROM t"));
    commit(os);
    uint64_t open_again = quota_bytes();
    st_objects_free(os);
    uint64_t n = 0, disk = 0;
    cr_assert_eq(st_tenant_objects(tmpdir, "acme", &n, &disk, NULL), 0);
    cr_expect_eq(n, 3);
    st_quota_get(the_quota, NULL, &objects);
    cr_expect_eq(objects, 3);
    cr_expect_eq(quota_bytes(), disk, "closed: the totals are the files (%llu vs %llu)",
                 (unsigned long long)quota_bytes(), (unsigned long long)disk);
    cr_expect_geq(disk + 65536, open_again);
    free((void *)big.p);
    st_quota_free(the_quota);
}

Test(do_facets, a_write_past_the_byte_limit_fails)
{
    the_quota = st_quota_new(256 * 1024, 0);
    struct st_objects *os = objects_new(0);
    st_objects_set_quotas(os, quota_of, NULL);
    struct st_value v = {.type = ST_BLOB, .p = calloc(1, 100000), .len = 100000};
    free(sql_binds(object(os, "q"), "CREATE TABLE t (v BLOB); INSERT INTO t VALUES (?)", &v, 1,
                   NULL));
    commit(os);
    /* the next 100 KB fit, the one after does not: SQLITE_FULL, with the quota's message */
    int refused = 0;
    for (int i = 0; i < 3 && !refused; i++) {
        struct ed_error err = {0};
        int rc = st_sql_exec(object(os, "q"), "INSERT INTO t VALUES (?)", 24, &v, 1, NULL, NULL,
                             NULL, &err);
        if (rc) {
            refused++;
            cr_expect(strstr(ed_error_msg(&err), "Exceeded the storage quota of this tenant") &&
                          strstr(ed_error_msg(&err), "SQLITE_FULL"),
                      "%s", ed_error_msg(&err));
        }
        ed_error_dispose(&err);
    }
    cr_expect_eq(refused, 1);
    /* as SQLite does on SQLITE_FULL, the whole turn is rolled back: its commit fails */
    struct ed_error err = {0};
    cr_expect_neq(st_kv_put(object(os, "q"), "k", 1, "v", 1, NULL, &err), 0);
    cr_expect(strstr(ed_error_msg(&err), "Exceeded the storage quota"), "%s", ed_error_msg(&err));
    ed_error_dispose(&err);
    cr_expect_eq(st_objects_commit(os, NULL, NULL), 1);
    char *rows = sql_ok(object(os, "q"), "SELECT count(*) AS n FROM t");
    cr_expect_str_eq(rows, "n\n1\n");
    free(rows);
    commit(os);
    cr_expect_leq(quota_bytes(), 256 * 1024);
    /* a facet counts against the same bytes */
    cr_expect_eq(st_kv_put(facet(os, "q", "f"), "k1", 2, v.p, 100000, NULL, &err), 0);
    cr_expect_neq(st_kv_put(facet(os, "q", "f"), "k2", 2, v.p, 100000, NULL, &err), 0);
    ed_error_dispose(&err);
    cr_expect_eq(st_objects_commit(os, NULL, NULL), 1);
    /* freeing space makes room again (deleteAll gives the pages back) */
    cr_assert_eq(st_kv_delete_all(object(os, "q"), NULL), 0);
    commit(os);
    free(sql_ok(object(os, "q"), "CREATE TABLE t (v BLOB)"));
    free(sql_binds(object(os, "q"), "INSERT INTO t VALUES (?)", &v, 1, NULL));
    free(sql_binds(object(os, "q"), "INSERT INTO t VALUES (?)", &v, 1, NULL));
    commit(os);
    free((void *)v.p);
    st_objects_free(os);
    st_quota_free(the_quota);
}

Test(do_facets, no_object_is_created_past_the_object_limit)
{
    the_quota = st_quota_new(0, 2);
    struct st_objects *os = objects_new(0);
    st_objects_set_quotas(os, quota_of, NULL);
    free(sql_ok(object(os, "one"), "SELECT 1"));
    free(sql_ok(object(os, "two"), "SELECT 1"));
    free(sql_ok(facet(os, "two", "f"), "SELECT 1")); /* facets are not objects */
    char hex[ST_OBJECT_ID_HEX];
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", "three", 5, hex), 0);
    struct st_object *o = NULL;
    struct ed_error err = {0};
    cr_expect_eq(st_object_get(os, "acme", "Counter", hex, &o, &err), ED_ETOOBIG);
    cr_expect(strstr(ed_error_msg(&err), "Exceeded the Durable Object limit"), "%s",
              ed_error_msg(&err));
    ed_error_dispose(&err);
    char path[512];
    snprintf(path, sizeof path, "%s/tenants/acme/do/Counter/%s.sqlite", tmpdir, hex);
    struct stat st;
    cr_expect_neq(stat(path, &st), 0, "the refused object's file exists");
    /* an existing one opens */
    commit(os);
    st_objects_free(os);
    os = objects_new(0);
    st_objects_set_quotas(os, quota_of, NULL);
    free(sql_ok(object(os, "one"), "SELECT 1"));
    commit(os);
    st_objects_free(os);
    st_quota_free(the_quota);
}
