/*
 * storage/: the key-value API of a durable object (st_kv_*): get/put/delete, list with every
 * combination of prefix, start, end, limit and reverse against a model, Workers' size limits,
 * and deleteAll(), which empties the whole database (SQL tables too, with foreign keys between
 * them and full-text tables) but keeps the alarm.
 */
#include "do_test.h"

TestSuite(do_kv, .init = make_tmp, .fini = remove_tmp, .timeout = 60);

static int copy_value(void *ud, const void *value, size_t len)
{
    struct ed_buf *b = ud;
    ed_buf_clear(b);
    ed_buf_append(b, value, len);
    return 0;
}

static void put(struct st_object *o, const char *k, const char *v)
{
    struct ed_error err = {0};
    cr_assert_eq(st_kv_put(o, k, strlen(k), v, strlen(v), NULL, &err), 0, "%s", ed_error_msg(&err));
}

/* The value of k as a string, or NULL when absent. */
static char *get(struct st_object *o, const char *k)
{
    struct ed_buf b;
    ed_buf_init(&b);
    ed_buf_appends(&b, "");
    int rc = st_kv_get(o, k, strlen(k), copy_value, &b, NULL, NULL);
    if (rc == ED_ENOENT) {
        ed_buf_dispose(&b);
        return NULL;
    }
    cr_assert_eq(rc, 0);
    return b.data;
}

Test(do_kv, get_put_delete)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "kv");
    struct st_counts c = {0};
    cr_assert_eq(st_kv_get(o, "a", 1, copy_value, NULL, &c, NULL), ED_ENOENT);
    cr_assert_eq(st_kv_delete(o, "a", 1, &c, NULL), 0);
    put(o, "a", "1");
    put(o, "b", "2");
    put(o, "a", "3");
    char *v = get(o, "a");
    cr_assert_str_eq(v, "3");
    free(v);
    cr_assert_eq(st_kv_delete(o, "a", 1, &c, NULL), 1);
    cr_assert_eq(st_kv_delete(o, "a", 1, &c, NULL), 0);
    cr_assert_null(get(o, "a"));
    /* binary values, empty values, empty keys, keys with NUL and non-ASCII bytes */
    static const char bin[] = {0, 1, 2, (char)0xff};
    cr_assert_eq(st_kv_put(o, "bin", 3, bin, sizeof bin, NULL, NULL), 0);
    cr_assert_eq(st_kv_put(o, "", 0, "", 0, NULL, NULL), 0);
    cr_assert_eq(st_kv_put(o, "k\0x", 3, "nul", 3, NULL, NULL), 0);
    struct ed_buf b;
    ed_buf_init(&b);
    cr_assert_eq(st_kv_get(o, "bin", 3, copy_value, &b, NULL, NULL), 0);
    cr_assert_eq(b.len, sizeof bin);
    cr_assert_eq(memcmp(b.data, bin, sizeof bin), 0);
    cr_assert_eq(st_kv_get(o, "", 0, copy_value, &b, NULL, NULL), 0);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(st_kv_get(o, "k\0x", 3, copy_value, &b, NULL, NULL), 0);
    cr_assert_eq(b.len, 3);
    cr_assert_eq(st_kv_get(o, "k", 1, copy_value, &b, NULL, NULL), ED_ENOENT);
    ed_buf_dispose(&b);
    commit_ok(os);
    /* committed, and there after a reopen */
    st_objects_free(os);
    os = objects_new(0);
    o = object(os, "kv");
    v = get(o, "b");
    cr_assert_str_eq(v, "2");
    free(v);
    /* the tenant's SQL cannot see the table */
    char *m = sql_fails(o, "SELECT key FROM _cf_KV", NULL, 0, ED_EINVAL);
    free(m);
    commit_ok(os);
    st_objects_free(os);
}

Test(do_kv, limits)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "kv-limits");
    char *big = calloc(1, ST_KV_MAX_VALUE + 1);
    struct ed_error err = {0};
    cr_assert_eq(st_kv_put(o, big, ST_KV_MAX_KEY + 1, "v", 1, NULL, &err), ED_ERANGE);
    cr_assert_str_eq(ed_error_msg(&err), "Keys cannot be larger than 2048 bytes.");
    cr_assert_eq(st_kv_get(o, big, ST_KV_MAX_KEY + 1, copy_value, NULL, NULL, &err), ED_ERANGE);
    cr_assert_eq(st_kv_put(o, "k", 1, big, ST_KV_MAX_VALUE + 1, NULL, &err), ED_ERANGE);
    cr_assert_str_eq(ed_error_msg(&err), "Values cannot be larger than 131072 bytes.");
    memset(big, 'k', ST_KV_MAX_KEY);
    cr_assert_eq(st_kv_put(o, big, ST_KV_MAX_KEY, big, ST_KV_MAX_VALUE, NULL, &err), 0, "%s",
                 ed_error_msg(&err));
    ed_error_dispose(&err);
    free(big);
    commit_ok(os);
    st_objects_free(os);
}

/* ---- list against a model ---- */

#define NKEYS 12
static const char *const keys[NKEYS] = {"",   "a", "aa",    "ab", "ab\xff", "ab\xff\xff",
                                        "ac", "b", "b\x01", "ba", "\xff",   "\xff\xff"};

struct listed {
    struct ed_buf b;
    int n;
};

static int collect(void *ud, const char *k, size_t kl, const void *v, size_t vl)
{
    struct listed *l = ud;
    cr_assert_eq(vl, kl + 1); /* values are "=" + key */
    cr_assert_eq(memcmp((const char *)v + 1, k, kl), 0);
    ed_buf_append(&l->b, k, kl);
    ed_buf_appends(&l->b, ",");
    l->n++;
    return 0;
}

static int bcmp_len(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

static void model(const struct st_kv_range *r, struct ed_buf *out)
{
    const char *sorted[NKEYS];
    memcpy(sorted, keys, sizeof sorted);
    for (int i = 0; i < NKEYS; i++)
        for (int j = i + 1; j < NKEYS; j++)
            if (bcmp_len(sorted[j], strlen(sorted[j]), sorted[i], strlen(sorted[i])) < 0) {
                const char *t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    const char *in[NKEYS];
    int n = 0;
    for (int i = 0; i < NKEYS; i++) {
        const char *k = sorted[i];
        size_t kl = strlen(k);
        if (r->start && bcmp_len(k, kl, r->start, r->start_len) < 0)
            continue;
        if (r->end && bcmp_len(k, kl, r->end, r->end_len) >= 0)
            continue;
        if (r->prefix && (kl < r->prefix_len || memcmp(k, r->prefix, r->prefix_len) != 0))
            continue;
        in[n++] = k;
    }
    int taken = 0;
    for (int i = 0; i < n && (!r->limit || taken < (int)r->limit); i++, taken++) {
        const char *k = r->reverse ? in[n - 1 - i] : in[i];
        ed_buf_appends(out, k);
        ed_buf_appends(out, ",");
    }
}

Test(do_kv, list_ranges)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "kv-list");
    struct st_kv_range none = {0};
    struct listed l = {0};
    ed_buf_init(&l.b);
    cr_assert_eq(st_kv_list(o, &none, collect, &l, NULL, NULL), 0); /* no table yet */
    cr_assert_eq(l.n, 0);
    for (int i = 0; i < NKEYS; i++) {
        char v[8];
        snprintf(v, sizeof v, "=%s", keys[i]);
        put(o, keys[i], v);
    }
    static const char *const bounds[] = {NULL, "", "a", "ab", "ab\xff", "b", "bz", "\xff", "zz"};
    static const char *const prefixes[] = {NULL, "", "a", "ab", "ab\xff", "b", "\xff", "q"};
    static const uint32_t limits[] = {0, 1, 2, 100};
    int cases = 0;
    for (size_t s = 0; s < sizeof bounds / sizeof bounds[0]; s++)
        for (size_t e = 0; e < sizeof bounds / sizeof bounds[0]; e++)
            for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++)
                for (size_t li = 0; li < 4; li++)
                    for (int rev = 0; rev < 2; rev++) {
                        struct st_kv_range r = {
                            .start = bounds[s],
                            .start_len = bounds[s] ? strlen(bounds[s]) : 0,
                            .end = bounds[e],
                            .end_len = bounds[e] ? strlen(bounds[e]) : 0,
                            .prefix = prefixes[p],
                            .prefix_len = prefixes[p] ? strlen(prefixes[p]) : 0,
                            .limit = limits[li],
                            .reverse = rev,
                        };
                        struct ed_buf want;
                        ed_buf_init(&want);
                        ed_buf_appends(&want, "");
                        model(&r, &want);
                        ed_buf_clear(&l.b);
                        ed_buf_appends(&l.b, "");
                        l.n = 0;
                        struct st_counts c = {0};
                        cr_assert_eq(st_kv_list(o, &r, collect, &l, &c, NULL), 0);
                        cr_assert_str_eq(l.b.data, want.data,
                                         "start=%zu end=%zu prefix=%zu limit=%u reverse=%d", s, e,
                                         p, limits[li], rev);
                        cr_assert_eq(c.rows_read, (uint64_t)l.n);
                        ed_buf_dispose(&want);
                        cases++;
                    }
    cr_assert_gt(cases, 4000);
    ed_buf_dispose(&l.b);
    commit_ok(os);
    st_objects_free(os);
}

static int stop_after_two(void *ud, const char *k, size_t kl, const void *v, size_t vl)
{
    (void)k, (void)kl, (void)v, (void)vl;
    return ++*(int *)ud == 2 ? 42 : 0;
}

Test(do_kv, list_stops)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "kv-stop");
    put(o, "a", "1");
    put(o, "b", "2");
    put(o, "c", "3");
    int n = 0;
    cr_assert_eq(st_kv_list(o, NULL, stop_after_two, &n, NULL, NULL), 42);
    cr_assert_eq(n, 2);
    commit_ok(os);
    st_objects_free(os);
}

Test(do_kv, delete_all_empties_everything_but_the_alarm)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "kv-all");
    free(sql_ok(o, "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                   "CREATE TABLE child (id INTEGER PRIMARY KEY, p REFERENCES parent (id));"
                   "CREATE INDEX child_p ON child (p);"
                   "CREATE VIEW v AS SELECT * FROM child;"
                   "CREATE TRIGGER t AFTER INSERT ON parent BEGIN SELECT 1; END;"
                   "CREATE VIRTUAL TABLE docs USING fts5(body);"
                   "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, x);"
                   "INSERT INTO parent VALUES (1), (2);"
                   "INSERT INTO child VALUES (1, 1), (2, 2);"
                   "INSERT INTO seq (x) VALUES (1);"
                   "INSERT INTO docs VALUES ('some text')"));
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%03d", i);
        put(o, k, "a value that takes some room in the database file........................");
    }
    cr_assert_eq(st_alarm_set(o, 1234567, NULL), 0);
    commit_ok(os);
    uint64_t before = st_object_size(o);

    struct ed_error err = {0};
    cr_assert_eq(st_kv_delete_all(o, &err), 0, "%s", ed_error_msg(&err));
    commit_ok(os);
    char *r = sql_ok(o, "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite%'");
    cr_assert_str_eq(r, "type|name\ntable|_cf_METADATA\n"); /* the alarm's */
    free(r);
    cr_assert_null(get(o, "key000"));
    int64_t at = 0;
    cr_assert_eq(st_alarm_get(o, &at, NULL), 0);
    cr_assert_eq(at, 1234567);
    uint64_t after = st_object_size(o);
    cr_assert_lt(after, before, "size %llu -> %llu", (unsigned long long)before,
                 (unsigned long long)after);
    /* the object works as new: the same names can be made again */
    free(sql_ok(o, "CREATE TABLE parent (x); INSERT INTO parent VALUES (1)"));
    put(o, "k", "v");
    commit_ok(os);

    /* undone with its savepoint like any write */
    cr_assert_eq(st_object_savepoint(o, NULL), 0);
    cr_assert_eq(st_kv_delete_all(o, NULL), 0);
    cr_assert_eq(st_object_release(o, false, NULL), 0);
    char *v = get(o, "k");
    cr_assert_str_eq(v, "v");
    free(v);
    r = sql_ok(o, "SELECT x FROM parent");
    cr_assert_str_eq(r, "x\n1\n");
    free(r);
    commit_ok(os);
    ed_error_dispose(&err);
    st_objects_free(os);
}
