/*
 * storage/: durable object ids and the node key. An id from a name is the same every time for
 * one (key, tenant, class), different for another tenant, class or key; a unique id is new
 * each time; an id made for one namespace, or altered, or made up, fails the check of every
 * other with Workers' messages; the node key is made once and kept across opens.
 */
#include "do_test.h"

TestSuite(do_ids, .init = make_tmp, .fini = remove_tmp, .timeout = 60);

static void from_name(const uint8_t *key, const char *tenant, const char *cls, const char *name,
                      char hex[ST_OBJECT_ID_HEX])
{
    cr_assert_eq(st_object_id_from_name(key, tenant, cls, name, strlen(name), hex), 0);
    cr_assert_eq(strlen(hex), 64);
    for (int i = 0; i < 64; i++)
        cr_assert((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'));
}

static int check(const uint8_t *key, const char *tenant, const char *cls, const char *hex,
                 char *msg, size_t cap)
{
    struct ed_error err = {0};
    int rc = st_object_id_check(key, tenant, cls, hex, strlen(hex), &err);
    snprintf(msg, cap, "%s", rc ? ed_error_msg(&err) : "");
    ed_error_dispose(&err);
    return rc;
}

Test(do_ids, from_name_deterministic_and_bound)
{
    char a[ST_OBJECT_ID_HEX], b[ST_OBJECT_ID_HEX], c[ST_OBJECT_ID_HEX], msg[128];
    from_name(test_key, "acme", "Counter", "alice", a);
    from_name(test_key, "acme", "Counter", "alice", b);
    cr_assert_str_eq(a, b);
    cr_assert_eq(check(test_key, "acme", "Counter", a, msg, sizeof msg), 0);

    from_name(test_key, "acme", "Counter", "bob", c);
    cr_assert_str_neq(a, c);
    from_name(test_key, "other", "Counter", "alice", c);
    cr_assert_str_neq(a, c);
    from_name(test_key, "acme", "Room", "alice", c);
    cr_assert_str_neq(a, c);
    uint8_t key2[32];
    memcpy(key2, test_key, 32);
    key2[0] ^= 1;
    from_name(key2, "acme", "Counter", "alice", c);
    cr_assert_str_neq(a, c);
    /* the separators keep ("ab", "c") and ("a", "bc") apart */
    char d[ST_OBJECT_ID_HEX], e[ST_OBJECT_ID_HEX];
    from_name(test_key, "ab", "Counter", "x", d);
    from_name(test_key, "a", "bCounter", "x", e);
    cr_assert_str_neq(d, e);
    /* names are bytes: a NUL inside counts */
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", "a\0b", 3, d), 0);
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", "a\0c", 3, e), 0);
    cr_assert_str_neq(d, e);
    /* a long name */
    char *big = malloc(100000);
    memset(big, 'n', 100000);
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", big, 100000, d), 0);
    free(big);

    /* another tenant's or class's check refuses it */
    cr_assert_eq(check(test_key, "other", "Counter", a, msg, sizeof msg), ED_EINVAL);
    cr_assert_str_eq(msg, "Durable Object ID is not valid for this namespace.");
    cr_assert_eq(check(test_key, "acme", "Room", a, msg, sizeof msg), ED_EINVAL);
    cr_assert_str_eq(msg, "Durable Object ID is not valid for this namespace.");
    cr_assert_eq(check(key2, "acme", "Counter", a, msg, sizeof msg), ED_EINVAL);
}

Test(do_ids, forged_and_malformed)
{
    char a[ST_OBJECT_ID_HEX], msg[128];
    from_name(test_key, "acme", "Counter", "alice", a);
    /* every single-digit change of the tag or of R is refused */
    for (int i = 0; i < 64; i++) {
        char f[ST_OBJECT_ID_HEX];
        memcpy(f, a, sizeof f);
        f[i] = f[i] == '0' ? '1' : '0';
        cr_assert_eq(check(test_key, "acme", "Counter", f, msg, sizeof msg), ED_EINVAL, "%d", i);
        cr_assert_str_eq(msg, "Durable Object ID is not valid for this namespace.");
    }
    static const char *const bad[] = {
        "",
        "abc",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "../../../../etc/passwd../../../../etc/passwd../../../../etc/pass",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(check(test_key, "acme", "Counter", bad[i], msg, sizeof msg), ED_EINVAL);
        cr_assert_str_eq(msg, "Invalid Durable Object ID: must be 64 hex digits");
    }
    /* made-up ids: none passes (2^-128 each) */
    for (int i = 0; i < 1000; i++) {
        char f[ST_OBJECT_ID_HEX];
        cr_assert_eq(st_object_id_unique(test_key, "acme", "Counter", f), 0);
        f[40] = f[40] == 'a' ? 'b' : 'a';
        cr_assert_eq(check(test_key, "acme", "Counter", f, msg, sizeof msg), ED_EINVAL);
    }
    /* bad names never make an id */
    char h[ST_OBJECT_ID_HEX];
    cr_assert_eq(st_object_id_from_name(test_key, "../x", "Counter", "n", 1, h), ED_EINVAL);
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "1Counter", "n", 1, h), ED_EINVAL);
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "a/b", "n", 1, h), ED_EINVAL);
    cr_assert_eq(st_object_id_from_name(test_key, ".hidden", "C", "n", 1, h), ED_EINVAL);
}

Test(do_ids, unique_and_shards)
{
    char a[ST_OBJECT_ID_HEX], b[ST_OBJECT_ID_HEX], msg[128];
    cr_assert_eq(st_object_id_unique(test_key, "acme", "Counter", a), 0);
    cr_assert_eq(st_object_id_unique(test_key, "acme", "Counter", b), 0);
    cr_assert_str_neq(a, b);
    cr_assert_eq(check(test_key, "acme", "Counter", a, msg, sizeof msg), 0);
    cr_assert_eq(check(test_key, "other", "Counter", a, msg, sizeof msg), ED_EINVAL);

    cr_assert_eq(st_object_shard("0000000000000005"
                                 "0000000000000000000000000000000000000000000000"
                                 "00",
                                 4),
                 1);
    cr_assert_eq(st_object_shard("ffffffffffffffff"
                                 "0000000000000000000000000000000000000000000000"
                                 "00",
                                 10),
                 (uint32_t)(UINT64_MAX % 10));
    cr_assert_eq(st_object_shard(a, 0), 0);
    /* ids spread over shards */
    unsigned hits[4] = {0};
    for (int i = 0; i < 400; i++) {
        char name[16], h[ST_OBJECT_ID_HEX];
        snprintf(name, sizeof name, "n%d", i);
        from_name(test_key, "acme", "Counter", name, h);
        hits[st_object_shard(h, 4)]++;
    }
    for (int i = 0; i < 4; i++)
        cr_assert(hits[i] > 50, "shard %d got %u of 400", i, hits[i]);
}

Test(do_ids, node_key_made_once)
{
    struct st_db *db = NULL;
    struct ed_error err = {0};
    cr_assert_eq(st_open(tmpdir, 0, &db, &err), 0, "%s", ed_error_msg(&err));
    uint8_t k1[32], k2[32], zero[32] = {0};
    cr_assert_eq(st_node_key(db, k1, &err), 0, "%s", ed_error_msg(&err));
    cr_assert_neq(memcmp(k1, zero, 32), 0);
    cr_assert_eq(st_node_key(db, k2, &err), 0, "%s", ed_error_msg(&err));
    cr_assert_eq(memcmp(k1, k2, 32), 0);
    st_close(db);
    cr_assert_eq(st_open(tmpdir, 0, &db, &err), 0, "%s", ed_error_msg(&err));
    cr_assert_eq(st_node_key(db, k2, &err), 0, "%s", ed_error_msg(&err));
    cr_assert_eq(memcmp(k1, k2, 32), 0);
    st_close(db);
    ed_error_dispose(&err);

    /* another data directory, another key */
    char other[96];
    snprintf(other, sizeof other, "%s/other", tmpdir);
    cr_assert_eq(st_open(other, 0, &db, NULL), 0);
    cr_assert_eq(st_node_key(db, k2, NULL), 0);
    cr_assert_neq(memcmp(k1, k2, 32), 0);
    st_close(db);
}
