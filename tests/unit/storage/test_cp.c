/*
 * storage/: the control plane's tables (tenants, tokens, workers, versions, modules, routes)
 * through the st_cp_ API, on a real control.sqlite in a mkdtemp directory: what each call
 * stores, the errors it answers with, cascades, the generation counter, and calls from several
 * threads while the usage writer commits beside them (SQLITE_BUSY must never surface).
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/common.h"
#include "storage/storage.h"

static char tmpdir[64];

static void make_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/edged-cp-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tmp(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(storage_cp, .init = make_tmp, .fini = remove_tmp, .timeout = 60);

static struct st_db *open_db(void)
{
    struct st_db *db = NULL;
    struct ed_error err = {0};
    int rc = st_open(tmpdir, 50, &db, &err);
    cr_assert_eq(rc, 0, "st_open: %s", ed_error_msg(&err));
    ed_error_dispose(&err);
    return db;
}

/* Asserts rc == want, printing err's message. */
#define CHECK(call, want)                                                                    \
    do {                                                                                     \
        struct ed_error e_ = {0};                                                            \
        struct ed_error *err = &e_;                                                          \
        int rc_ = (call);                                                                    \
        cr_assert_eq(rc_, (want), "%s: %d (%s), expected %d", #call, rc_, ed_error_msg(err), \
                     (want));                                                                \
        ed_error_dispose(&e_);                                                               \
    } while (0)

static void hash_of(const char *s, uint8_t h[ST_TOKEN_HASH])
{
    /* not SHA-256: storage never hashes, it stores what it is given */
    memset(h, 0, ST_TOKEN_HASH);
    for (size_t i = 0; s[i]; i++)
        h[i % ST_TOKEN_HASH] ^= (uint8_t)(s[i] * 31 + i);
}

/* ---- collecting callbacks ---- */

struct names {
    char v[32][128];
    int n;
};

static int add_tenant(void *ud, const struct st_tenant *t)
{
    struct names *n = ud;
    snprintf(n->v[n->n++], 128, "%s %s %s %s %s", t->name, t->status, t->cordon, t->quotas,
             t->routes_allowed);
    return 0;
}

static int add_token(void *ud, const struct st_token *t)
{
    struct names *n = ud;
    snprintf(n->v[n->n++], 128, "%s %s %s %d", t->id, t->tenant ? t->tenant : "(operator)",
             t->label, t->revoked);
    return 0;
}

static int add_worker(void *ud, const struct st_worker_info *w)
{
    struct names *n = ud;
    snprintf(n->v[n->n++], 128, "%s/%s v%lld", w->tenant, w->name, (long long)w->live_version);
    cr_expect_gt(w->deployed, 0);
    return 0;
}

static int add_version(void *ud, const struct st_version_info *v)
{
    struct names *n = ud;
    snprintf(n->v[n->n++], 128, "v%lld %llu%s %s", (long long)v->version,
             (unsigned long long)v->bytes, v->live ? " live" : "", v->metadata);
    return 0;
}

static int add_route(void *ud, const struct st_route *r)
{
    struct names *n = ud;
    snprintf(n->v[n->n++], 128, "%s %s %s", r->pattern, r->tenant, r->worker);
    return 0;
}

static int add_module(void *ud, const struct st_module *m)
{
    struct names *n = ud;
    char hex[64] = "";
    for (size_t i = 0; i < m->len && i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *)m->source)[i]);
    snprintf(n->v[n->n++], 128, "%s %s %zu %s", m->name, m->type, m->len, hex);
    return 0;
}

static int stop_at_first(void *ud, const struct st_tenant *t)
{
    (void)t;
    ++*(int *)ud;
    return 42;
}

static void create_tenant(struct st_db *db, const char *name, const char *token)
{
    uint8_t h[ST_TOKEN_HASH];
    hash_of(token, h);
    char id[32];
    snprintf(id, sizeof id, "tok_%s", name);
    struct st_tenant t = {.name = name};
    struct st_token first = {.id = id, .label = "first"};
    CHECK(st_cp_tenant_create(db, &t, &first, h, err), 0);
}

static int64_t deploy(struct st_db *db, const char *tenant, const char *worker, const char *src,
                      uint32_t max_workers, uint32_t keep, int want)
{
    struct st_module mods[2] = {
        {.name = "index.js", .type = "esm", .source = src, .len = strlen(src)},
        {.name = "data.bin", .type = "data", .source = "\0\1\2\0", .len = 4},
    };
    struct st_deploy d = {.tenant = tenant,
                          .worker = worker,
                          .metadata = "{\"main_module\":\"index.js\"}",
                          .modules = mods,
                          .n_modules = 2,
                          .bytes = strlen(src) + 4,
                          .max_workers = max_workers,
                          .keep_versions = keep};
    int64_t v = -1;
    CHECK(st_cp_deploy(db, &d, &v, err), want);
    return v;
}

Test(storage_cp, tenants_are_created_listed_updated_and_deleted)
{
    struct st_db *db = open_db();
    uint64_t g0 = st_cp_generation(db);
    create_tenant(db, "beta", "tb");
    create_tenant(db, "alpha", "ta");
    cr_expect_gt(st_cp_generation(db), g0);

    struct names n = {0};
    CHECK(st_cp_tenants_list(db, add_tenant, &n, err), 0);
    cr_assert_eq(n.n, 2);
    cr_expect_str_eq(n.v[0], "alpha active default {} []");
    cr_expect_str_eq(n.v[1], "beta active default {} []");

    /* a name is taken once, and a failed create leaves nothing (its token neither) */
    struct st_tenant dup = {.name = "alpha"};
    struct st_token tok = {.id = "tok_other", .label = ""};
    uint8_t h[ST_TOKEN_HASH];
    hash_of("tother", h);
    CHECK(st_cp_tenant_create(db, &dup, &tok, h, err), ED_EEXIST);
    CHECK(st_cp_token_lookup(db, h, NULL, NULL, err), ED_ENOENT);

    uint64_t g1 = st_cp_generation(db);
    struct st_tenant up = {.name = "alpha", .status = "suspended", .quotas = "{\"cpu_ms\":10}"};
    CHECK(st_cp_tenant_update(db, &up, err), 0);
    cr_expect_gt(st_cp_generation(db), g1);
    n.n = 0;
    CHECK(st_cp_tenant_get(db, "alpha", add_tenant, &n, err), 0);
    cr_expect_str_eq(n.v[0], "alpha suspended default {\"cpu_ms\":10} []");
    struct st_tenant ghost = {.name = "ghost", .status = "active"};
    CHECK(st_cp_tenant_update(db, &ghost, err), ED_ENOENT);
    CHECK(st_cp_tenant_get(db, "ghost", add_tenant, &n, err), ED_ENOENT);

    /* a callback's code stops the listing and comes back */
    int calls = 0;
    CHECK(st_cp_tenants_list(db, stop_at_first, &calls, err), 42);
    cr_expect_eq(calls, 1);

    /* delete cascades: tokens, workers, versions, routes */
    deploy(db, "alpha", "api", "export default {}", 0, 0, 0);
    struct st_route r = {.pattern = "a.example/*", .tenant = "alpha", .worker = "api"};
    CHECK(st_cp_route_put(db, &r, err), 0);
    CHECK(st_cp_tenant_delete(db, "alpha", err), 0);
    CHECK(st_cp_tenant_delete(db, "alpha", err), ED_ENOENT);
    hash_of("ta", h);
    CHECK(st_cp_token_lookup(db, h, NULL, NULL, err), ED_ENOENT);
    n.n = 0;
    CHECK(st_cp_workers_list(db, NULL, add_worker, &n, err), 0);
    CHECK(st_cp_routes_list(db, NULL, add_route, &n, err), 0);
    cr_expect_eq(n.n, 0, "left behind: %s", n.v[0]);
    /* and the name is free again */
    create_tenant(db, "alpha", "ta2");
    st_close(db);
}

static int grab_token(void *ud, const struct st_token *t)
{
    snprintf(ud, 128, "%s %s %s %d %d", t->id, t->tenant ? t->tenant : "(operator)", t->label,
             t->revoked, t->last_used > 0);
    return 0;
}

Test(storage_cp, tokens_are_found_by_hash_and_revoked)
{
    struct st_db *db = open_db();
    uint64_t n_ops = 99;
    CHECK(st_cp_operator_tokens(db, &n_ops, err), 0);
    cr_expect_eq(n_ops, 0);
    uint8_t h[ST_TOKEN_HASH], h2[ST_TOKEN_HASH];
    hash_of("operator", h);
    struct st_token op = {.id = "tok_000000000001", .label = "operator"};
    CHECK(st_cp_token_add(db, &op, h, err), 0);
    CHECK(st_cp_operator_tokens(db, &n_ops, err), 0);
    cr_expect_eq(n_ops, 1);
    char got[128];
    CHECK(st_cp_token_lookup(db, h, grab_token, got, err), 0);
    cr_expect_str_eq(got, "tok_000000000001 (operator) operator 0 0"); /* never used before */
    CHECK(st_cp_token_lookup(db, h, grab_token, got, err), 0);
    cr_expect_str_eq(got, "tok_000000000001 (operator) operator 0 1"); /* the use is recorded */

    create_tenant(db, "acme", "t1");
    hash_of("t2", h2);
    struct st_token t2 = {.id = "tok_000000000002", .tenant = "acme", .label = "ci"};
    CHECK(st_cp_token_add(db, &t2, h2, err), 0);
    CHECK(st_cp_token_add(db, &t2, h2, err), ED_EEXIST); /* same id */
    struct st_token t3 = {.id = "tok_000000000003", .tenant = "acme"};
    CHECK(st_cp_token_add(db, &t3, h2, err), ED_EEXIST); /* same hash */
    struct st_token t4 = {.id = "tok_000000000004", .tenant = "nobody"};
    hash_of("t4", h);
    CHECK(st_cp_token_add(db, &t4, h, err), ED_ENOENT);

    CHECK(st_cp_token_lookup(db, h2, grab_token, got, err), 0);
    cr_expect_str_eq(got, "tok_000000000002 acme ci 0 0");
    /* one bit off is another token */
    h2[31] ^= 1;
    CHECK(st_cp_token_lookup(db, h2, grab_token, got, err), ED_ENOENT);
    h2[31] ^= 1;

    struct names n = {0};
    CHECK(st_cp_tokens_list(db, "acme", add_token, &n, err), 0);
    cr_assert_eq(n.n, 2);
    /* oldest first; made in the same millisecond, by id */
    bool first0 = strcmp(n.v[0], "tok_acme acme first 0") == 0;
    cr_expect_str_eq(n.v[first0 ? 0 : 1], "tok_acme acme first 0");
    cr_expect_str_eq(n.v[first0 ? 1 : 0], "tok_000000000002 acme ci 0");
    n.n = 0;
    CHECK(st_cp_tokens_list(db, NULL, add_token, &n, err), 0);
    cr_expect_eq(n.n, 1);

    /* revoking is per tenant: another tenant's id is not found */
    create_tenant(db, "other", "o1");
    CHECK(st_cp_token_revoke(db, "other", "tok_000000000002", err), ED_ENOENT);
    CHECK(st_cp_token_revoke(db, "acme", "tok_000000000002", err), 0);
    CHECK(st_cp_token_lookup(db, h2, grab_token, got, err), 0);
    cr_expect_str_eq(got, "tok_000000000002 acme ci 1 1", "revoked tokens are found, flagged");
    st_close(db);
}

Test(storage_cp, deploys_number_versions_and_roll_back)
{
    struct st_db *db = open_db();
    create_tenant(db, "acme", "t");
    cr_expect_eq(deploy(db, "acme", "api", "v1", 0, 0, 0), 1);
    cr_expect_eq(deploy(db, "acme", "api", "v2", 0, 0, 0), 2);
    cr_expect_eq(deploy(db, "acme", "web", "w1", 0, 0, 0), 1);
    deploy(db, "nobody", "api", "x", 0, 0, ED_ENOENT);

    struct names n = {0};
    CHECK(st_cp_workers_list(db, "acme", add_worker, &n, err), 0);
    cr_assert_eq(n.n, 2);
    cr_expect_str_eq(n.v[0], "acme/api v2");
    cr_expect_str_eq(n.v[1], "acme/web v1");

    n.n = 0;
    CHECK(st_cp_versions_list(db, "acme", "api", add_version, &n, err), 0);
    cr_assert_eq(n.n, 2);
    cr_expect_str_eq(n.v[0], "v2 6 live {\"main_module\":\"index.js\"}");
    cr_expect_str_eq(n.v[1], "v1 6 {\"main_module\":\"index.js\"}");
    CHECK(st_cp_versions_list(db, "acme", "nope", add_version, &n, err), ED_ENOENT);

    uint64_t g = st_cp_generation(db);
    CHECK(st_cp_rollback(db, "acme", "api", 1, err), 0);
    cr_expect_gt(st_cp_generation(db), g);
    CHECK(st_cp_rollback(db, "acme", "api", 7, err), ED_ENOENT);
    CHECK(st_cp_rollback(db, "acme", "nope", 1, err), ED_ENOENT);

    /* the live version's modules, bytes intact (NULs too), by name */
    n.n = 0;
    CHECK(st_cp_version_load(db, "acme", "api", 0, add_version, add_module, &n, err), 0);
    cr_assert_eq(n.n, 3);
    cr_expect_str_eq(n.v[0], "v1 6 live {\"main_module\":\"index.js\"}");
    cr_expect_str_eq(n.v[1], "data.bin data 4 00010200");
    cr_expect_str_eq(n.v[2], "index.js esm 2 7631");
    n.n = 0;
    CHECK(st_cp_version_load(db, "acme", "api", 2, add_version, add_module, &n, err), 0);
    cr_expect_str_eq(n.v[2], "index.js esm 2 7632");
    CHECK(st_cp_version_load(db, "acme", "api", 3, add_version, add_module, &n, err), ED_ENOENT);

    /* a deploy goes live even after a rollback, numbered after the newest */
    cr_expect_eq(deploy(db, "acme", "api", "v3", 0, 0, 0), 3);
    n.n = 0;
    CHECK(st_cp_workers_list(db, "acme", add_worker, &n, err), 0);
    cr_expect_str_eq(n.v[0], "acme/api v3");

    CHECK(st_cp_worker_delete(db, "acme", "api", err), 0);
    CHECK(st_cp_worker_delete(db, "acme", "api", err), ED_ENOENT);
    CHECK(st_cp_version_load(db, "acme", "api", 0, NULL, NULL, NULL, err), ED_ENOENT);
    st_close(db);
}

Test(storage_cp, quotas_and_old_versions)
{
    struct st_db *db = open_db();
    create_tenant(db, "acme", "t");
    deploy(db, "acme", "a", "x", 2, 0, 0);
    deploy(db, "acme", "b", "x", 2, 0, 0);
    deploy(db, "acme", "c", "x", 2, 0, ED_ETOOBIG);
    deploy(db, "acme", "a", "x", 2, 0, 0); /* a new version of a worker it has is fine */
    struct names n = {0};
    CHECK(st_cp_workers_list(db, NULL, add_worker, &n, err), 0);
    cr_expect_eq(n.n, 2, "a refused deploy stored its worker");

    /* keep_versions 3: versions older than the newest three go, never the live one */
    for (int i = 0; i < 4; i++)
        deploy(db, "acme", "b", "x", 0, 0, 0); /* b: v1..v5 */
    CHECK(st_cp_rollback(db, "acme", "b", 1, err), 0);
    deploy(db, "acme", "b", "x", 0, 3, 0); /* v6 */
    n.n = 0;
    CHECK(st_cp_versions_list(db, "acme", "b", add_version, &n, err), 0);
    cr_assert_eq(n.n, 3);
    cr_expect(strncmp(n.v[0], "v6 ", 3) == 0, "%s", n.v[0]);
    cr_expect(strncmp(n.v[1], "v5 ", 3) == 0, "%s", n.v[1]);
    cr_expect(strncmp(n.v[2], "v4 ", 3) == 0, "%s", n.v[2]);
    /* the version a deploy replaces is an old one like the others */
    CHECK(st_cp_rollback(db, "acme", "b", 4, err), 0);
    deploy(db, "acme", "b", "x", 0, 1, 0); /* v7 live; v4..v6 go */
    n.n = 0;
    CHECK(st_cp_versions_list(db, "acme", "b", add_version, &n, err), 0);
    cr_expect_eq(n.n, 1, "%s / %s", n.v[0], n.v[1]);
    st_close(db);
}

Test(storage_cp, routes_belong_to_one_tenant)
{
    struct st_db *db = open_db();
    create_tenant(db, "acme", "t1");
    create_tenant(db, "evil", "t2");
    deploy(db, "acme", "api", "x", 0, 0, 0);
    deploy(db, "acme", "web", "x", 0, 0, 0);
    deploy(db, "evil", "api", "x", 0, 0, 0);
    struct st_route r = {.pattern = "acme.test/*", .tenant = "acme", .worker = "api"};
    CHECK(st_cp_route_put(db, &r, err), 0);
    struct st_route steal = {.pattern = "acme.test/*", .tenant = "evil", .worker = "api"};
    CHECK(st_cp_route_put(db, &steal, err), ED_EEXIST);
    struct st_route nowhere = {.pattern = "x.test/*", .tenant = "acme", .worker = "nope"};
    CHECK(st_cp_route_put(db, &nowhere, err), ED_ENOENT);
    r.worker = "web"; /* the owner moves it */
    CHECK(st_cp_route_put(db, &r, err), 0);
    struct st_route r2 = {.pattern = "acme.test/api*", .tenant = "acme", .worker = "api"};
    CHECK(st_cp_route_put(db, &r2, err), 0);
    struct names n = {0};
    CHECK(st_cp_routes_list(db, "acme", add_route, &n, err), 0);
    cr_assert_eq(n.n, 2);
    cr_expect_str_eq(n.v[0], "acme.test/* acme web");
    cr_expect_str_eq(n.v[1], "acme.test/api* acme api");
    n.n = 0;
    CHECK(st_cp_routes_list(db, "evil", add_route, &n, err), 0);
    cr_expect_eq(n.n, 0);

    CHECK(st_cp_route_delete(db, "evil", "acme.test/*", err), ED_ENOENT);
    CHECK(st_cp_route_delete(db, "acme", "acme.test/*", err), 0);
    /* a worker's routes go with it */
    CHECK(st_cp_worker_delete(db, "acme", "api", err), 0);
    n.n = 0;
    CHECK(st_cp_routes_list(db, NULL, add_route, &n, err), 0);
    cr_expect_eq(n.n, 0, "%s", n.v[0]);
    st_close(db);
}

Test(storage_cp, the_generation_survives_a_restart)
{
    struct st_db *db = open_db();
    create_tenant(db, "acme", "t");
    deploy(db, "acme", "api", "x", 0, 0, 0);
    uint64_t g = st_cp_generation(db);
    cr_expect_geq(g, 2);
    /* reads and token changes do not move it */
    struct names n = {0};
    CHECK(st_cp_tenants_list(db, add_tenant, &n, err), 0);
    CHECK(st_cp_token_revoke(db, "acme", "tok_acme", err), 0);
    cr_expect_eq(st_cp_generation(db), g);
    st_close(db);
    db = open_db();
    cr_expect_eq(st_cp_generation(db), g);
    deploy(db, "acme", "api", "y", 0, 0, 0);
    cr_expect_eq(st_cp_generation(db), g + 1);
    st_close(db);
}

/* ---- threads ---- */

struct racer {
    struct st_db *db;
    int id;
    int failures;
    char msg[256];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char worker[32], day[ST_DAY_LEN];
    snprintf(worker, sizeof worker, "w%d", r->id);
    st_day(0, day);
    for (int i = 0; i < 25; i++) {
        struct st_module m = {.name = "index.js", .type = "esm", .source = "x", .len = 1};
        struct st_deploy d = {.tenant = "acme",
                              .worker = worker,
                              .metadata = "{}",
                              .modules = &m,
                              .n_modules = 1,
                              .bytes = 1};
        int64_t v;
        struct ed_error err = {0};
        struct st_usage u = {.requests = 1};
        st_usage_add(r->db, "acme", day, &u); /* keeps the usage writer committing */
        if (st_cp_deploy(r->db, &d, &v, &err) != 0 || v != i + 1) {
            r->failures++;
            snprintf(r->msg, sizeof r->msg, "%s (v %lld)", ed_error_msg(&err), (long long)v);
        }
        ed_error_dispose(&err);
    }
    return NULL;
}

Test(storage_cp, calls_from_many_threads_beside_the_usage_writer)
{
    struct st_db *db = open_db();
    create_tenant(db, "acme", "t");
    uint64_t g = st_cp_generation(db);
    struct racer r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct racer){.db = db, .id = i};
        cr_assert_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(r[i].failures, 0, "thread %d: %s", i, r[i].msg);
    }
    cr_expect_eq(st_cp_generation(db), g + 100);
    CHECK(st_flush(db, err), 0);
    struct st_usage u;
    char day[ST_DAY_LEN];
    CHECK(st_usage_get(db, "acme", st_day(0, day), &u, err), 0);
    cr_expect_eq(u.requests, 100);
    st_close(db);
}
