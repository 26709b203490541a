/*
 * End-to-end durable objects, the second part of issue 5 (tests/e2e/objects/facets.js on a real
 * edged with four shards): facets — a supervisor object gives a child worker's class a facet
 * whose SQL goes to a database of its own, which the supervisor's database never sees and which
 * the child cannot leave, that survives eviction and a restart, and that abort() stops and
 * delete() removes; a call a limit kills loses what it wrote in its turn (an object's and a
 * facet's); two calls in async transactions at once are serialized, and transactions nest;
 * alarm() gets its retryCount; a tenant's storage quota refuses a write past its bytes and an
 * object past its count.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"

TestSuite(objects_facets, .fini = e2e_teardown, .timeout = 180);

static const char *METADATA =
    "{\"main_module\": \"index.js\", \"bindings\": [\n"
    " {\"type\": \"worker_loader\", \"name\": \"LOADER\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"SUPERVISORS\", \"class_name\": "
    "\"Supervisor\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"DOOMED\", \"class_name\": \"Doomed\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"TXN\", \"class_name\": \"Txn\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"RETRIED\", \"class_name\": "
    "\"Retried\"},\n"
    " {\"type\": \"durable_object_namespace\", \"name\": \"STORES\", \"class_name\": \"Store\"}]}\n";

static void put(const char *path, const char *text)
{
    cr_assert_eq(e2e_write_file(path, text), 0, "%s", e2e_errmsg());
}

/* A tenant serving tests/e2e/objects/facets.js on host <tenant>.test; extra goes to tenant.conf. */
static void facets_tenant(const char *dir, const char *tenant, const char *extra)
{
    const char *src = getenv("EDGED_SOURCE_DIR");
    if (!src)
        src = EDGED_SOURCE_DIR;
    char *js = e2e_read_file(e2e_fmt("%s/tests/e2e/objects/facets.js", src), NULL);
    cr_assert_not_null(js, "cannot read the facets worker: %s", e2e_errmsg());
    /* CPU room under the sanitizers; the spins end after it */
    put(e2e_fmt("%s/%s/tenant.conf", dir, tenant),
        e2e_fmt("route = %s.test api\ncpu_ms = 500\n%s", tenant, extra ? extra : ""));
    put(e2e_fmt("%s/%s/api/index.js", dir, tenant), js);
    put(e2e_fmt("%s/%s/api.metadata.json", dir, tenant), METADATA);
    free(js);
}

/* GET path on host; returns "STATUS BODY" (valid until teardown). */
static const char *get(struct e2e_server *s, const char *host, const char *path)
{
    struct e2e_response r;
    E2E_GET(s->port, host, path, &r);
    const char *out = e2e_fmt("%d %s", r.status, r.body);
    e2e_response_dispose(&r);
    return out;
}

static const char *get_ok(struct e2e_server *s, const char *host, const char *path)
{
    const char *r = get(s, host, path);
    cr_assert(strncmp(r, "200 ", 4) == 0, "GET %s%s: %s", host, path, r);
    return r + 4;
}

static struct e2e_server *start(const char *dir, const char *data, const char *idle_ms)
{
    const char *args[] = {"--tenants",        dir,     "--threads", "4", "--data", data,
                          "--object-idle-ms", idle_ms, NULL};
    struct e2e_server *s = e2e_server_start(args);
    cr_assert_not_null(s, "edged did not start: %s", e2e_errmsg());
    return s;
}

/* Files named *.sqlite in dir. */
static int sqlite_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        n += len > 7 && strcmp(e->d_name + len - 7, ".sqlite") == 0;
    }
    closedir(d);
    return n;
}

/* Whether the database at path has a table named table. */
static bool has_table(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

Test(objects_facets, a_child_gets_a_database_the_parent_never_sees)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    facets_tenant(dir, "acme", NULL);
    const char *data = e2e_fmt("%s/data", dir);
    struct e2e_server *s = start(dir, data, "30000");
    cr_expect_str_eq(get_ok(s, "acme.test", "/add?v=one"), "1");
    cr_expect_str_eq(get_ok(s, "acme.test", "/add?v=two"), "2");
    cr_expect_str_eq(get_ok(s, "acme.test", "/add?facet=other&v=x"), "1", "one facet per name");
    /* each sees its own tables only */
    cr_expect_str_eq(get_ok(s, "acme.test", "/tables"),
                     "{\"own\":[\"secret\"],\"facet\":[\"notes\"]}");
    /* the child reaches nothing of the parent's: no table, no ATTACH, no facets of its own, no
     * alarm, no namespace */
    cr_expect_str_eq(get_ok(s, "acme.test", "/probe"),
                     "[\"no such table\",\"no attach\",\"This Durable Object does not support "
                     "creating facets.\",\"Alarms are not supported in facets.\",\"undefined\"]");
    cr_expect_str_eq(get_ok(s, "acme.test", "/facet-fetch"), "facet /hello 2");
    /* ctx.id: the parent's by default, or what the options gave */
    const char *sid = get_ok(s, "acme.test", "/supervisor-id");
    cr_expect(strstr(get_ok(s, "acme.test", "/info?facet=ids"), e2e_fmt("\"id\":\"%s\"", sid)));
    cr_expect(strstr(get_ok(s, "acme.test", "/info?facet=named&id=mine"), "\"id\":\"mine\""));
    /* bad names and classes */
    cr_expect_str_eq(get_ok(s, "acme.test", "/bad-names"),
                     "[\"TypeError\",\"TypeError\",\"TypeError\",\"TypeError\"]");
    cr_expect(strncmp(get_ok(s, "acme.test", "/bad-class"),
                      "TypeError: The facet's class must be a DurableObjectClass", 57) == 0);
    E2E_STOP_OK(s);

    /* on disk: the facets beside the object, in files of their own */
    char *id = strdup(sid);
    const char *obj = e2e_fmt("%s/tenants/acme/do/Supervisor/%s.sqlite", data, id);
    const char *facets = e2e_fmt("%s/tenants/acme/do/Supervisor/%s.facets", data, id);
    free(id);
    cr_expect_eq(sqlite_files(facets), 4, "app, other, ids, named");
    cr_expect(has_table(obj, "secret"));
    cr_expect(!has_table(obj, "notes"), "the facet's table is in the parent's database");
}

Test(objects_facets, a_facet_survives_eviction_and_a_restart_and_goes_with_delete)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    facets_tenant(dir, "acme", NULL);
    const char *data = e2e_fmt("%s/data", dir);
    struct e2e_server *s = start(dir, data, "200");
    cr_expect_str_eq(get_ok(s, "acme.test", "/add?v=a"), "1");
    cr_expect_str_eq(get_ok(s, "acme.test", "/add?v=b"), "2");
    const char *before = get_ok(s, "acme.test", "/info");
    e2e_sleep_ms(800); /* the supervisor and its facet leave memory */
    const char *after = get_ok(s, "acme.test", "/info");
    cr_expect(strstr(after, "\"count\":2"), "%s", after);
    cr_expect_str_neq(before, after, "the facet was not rebuilt: %s", after);
    E2E_STOP_OK(s);

    s = start(dir, data, "30000");
    cr_expect_str_eq(get_ok(s, "acme.test", "/count"), "2");
    /* abort: stopped, its data kept; the next call starts it again */
    cr_expect_str_eq(get_ok(s, "acme.test", "/abort"), "aborted");
    cr_expect_str_eq(get_ok(s, "acme.test", "/add?v=c"), "3");
    /* delete: its database is gone */
    cr_expect_str_eq(get_ok(s, "acme.test", "/delete"), "deleted");
    cr_expect_str_eq(get_ok(s, "acme.test", "/count"), "0");
    E2E_STOP_OK(s);
}

Test(objects_facets, a_call_a_limit_kills_loses_its_writes)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    facets_tenant(dir, "acme", NULL);
    struct e2e_server *s = start(dir, e2e_fmt("%s/data", dir), "30000");
    /* an object: it wrote, then the CPU limit stopped its isolate */
    cr_expect_str_eq(get_ok(s, "acme.test", "/doomed"), "1");
    const char *r = get(s, "acme.test", "/doomed-spin");
    cr_expect(strstr(r, "exceeded CPU time limit") || strncmp(r, "503", 3) == 0, "%s", r);
    cr_expect_str_eq(get_ok(s, "acme.test", "/doomed-get"), "1", "the killed call's write stayed");
    cr_expect_str_eq(get_ok(s, "acme.test", "/doomed"), "2");
    /* a facet: its child is stopped, its turn undone, the supervisor goes on */
    cr_expect_str_eq(get_ok(s, "acme.test", "/add?v=kept"), "1");
    r = get_ok(s, "acme.test", "/facet-spin");
    cr_expect(strstr(r, "exceeded CPU time limit"), "%s", r);
    cr_expect_str_eq(get_ok(s, "acme.test", "/count"), "1", "the killed facet call's write stayed");
    cr_expect_str_eq(get_ok(s, "acme.test", "/add?v=more"), "2");
    E2E_STOP_OK(s);
}

Test(objects_facets, transactions_of_two_calls_do_not_tangle)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    facets_tenant(dir, "acme", NULL);
    struct e2e_server *s = start(dir, e2e_fmt("%s/data", dir), "30000");
    /* a's transaction waits 30 ms, b's (which fails) starts meanwhile: b waits for a, then is
     * rolled back alone */
    cr_expect_str_eq(get_ok(s, "acme.test", "/txn"),
                     "{\"results\":[\"a\",\"undo b-fail\"],\"log\":[\"a:begin\",\"a:end\"]}");
    cr_expect_str_eq(get_ok(s, "acme.test", "/txn-nested"), "[\"inner\",\"sync\",\"outer\"]");
    E2E_STOP_OK(s);
}

Test(objects_facets, alarm_gets_its_retry_count)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    facets_tenant(dir, "acme", NULL);
    struct e2e_server *s = start(dir, e2e_fmt("%s/data", dir), "30000");
    cr_expect_str_eq(get_ok(s, "acme.test", "/arm?failures=2"), "armed");
    const char *seen = "";
    for (uint64_t t0 = e2e_now_ms(); e2e_now_ms() - t0 < 10000;) {
        seen = get_ok(s, "acme.test", "/seen");
        if (strcmp(seen, "0/false 1/true 2/true") == 0)
            break;
        e2e_sleep_ms(100);
    }
    cr_expect_str_eq(seen, "0/false 1/true 2/true");
    E2E_STOP_OK(s);
}

Test(objects_facets, the_storage_quota_refuses_bytes_and_objects_past_it)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    facets_tenant(dir, "small", "storage_mb = 1\nmax_objects = 3\n");
    const char *data = e2e_fmt("%s/data", dir);
    struct e2e_server *s = start(dir, data, "30000");
    cr_expect_str_eq(get_ok(s, "small.test", "/write?name=w&kb=300"), "ok");
    cr_expect_str_eq(get_ok(s, "small.test", "/write?name=w&kb=300"), "ok");
    const char *r = get_ok(s, "small.test", "/write?name=w&kb=600");
    cr_expect(strstr(r, "Exceeded the storage quota of this tenant (1048576 bytes)") &&
                  strstr(r, "SQLITE_FULL"),
              "%s", r);
    cr_expect_str_eq(get_ok(s, "small.test", "/rows?name=w"), "2");
    /* objects: w, then two more; the fourth has no room */
    cr_expect_str_eq(get_ok(s, "small.test", "/write?name=o2&kb=1"), "ok");
    cr_expect_str_eq(get_ok(s, "small.test", "/write?name=o3&kb=1"), "ok");
    r = get_ok(s, "small.test", "/write?name=o4&kb=1");
    cr_expect(strstr(r, "Exceeded the Durable Object limit of this tenant"), "%s", r);
    E2E_STOP_OK(s);
    /* counted again from the files at start-up: still full, and the operator sees the totals
     * beside today's usage */
    const char *args[] = {
        "--tenants",        dir,     "--threads",      "4",           "--data", data,
        "--object-idle-ms", "30000", "--admin-listen", "127.0.0.1:0", NULL};
    s = e2e_server_start(args);
    cr_assert_not_null(s, "edged did not start: %s", e2e_errmsg());
    char *token = e2e_read_file(e2e_fmt("%s/operator.token", data), NULL);
    cr_assert_not_null(token, "%s", e2e_errmsg());
    token[strcspn(token, "\n")] = '\0';
    struct e2e_response u;
    cr_assert_eq(e2e_request(s->admin_port, "GET", "127.0.0.1", "/v1/usage?tenant=small",
                             e2e_fmt("Authorization: Bearer %s\r\nConnection: close\r\n", token),
                             NULL, &u),
                 0, "%s", e2e_errmsg());
    free(token);
    cr_expect_eq(u.status, 200, "%d %s", u.status, u.body);
    cr_expect(strstr(u.body, "\"objects\":3") && strstr(u.body, "\"storage_bytes\":"), "%s",
              u.body);
    e2e_response_dispose(&u);
    r = get_ok(s, "small.test", "/write?name=o5&kb=1");
    cr_expect(strstr(r, "Exceeded the Durable Object limit of this tenant"), "%s", r);
    r = get_ok(s, "small.test", "/write?name=w&kb=600");
    cr_expect(strstr(r, "Exceeded the storage quota"), "%s", r);
    cr_expect_str_eq(get_ok(s, "small.test", "/write?name=o2&kb=1"), "ok");
    E2E_STOP_OK(s);
}
