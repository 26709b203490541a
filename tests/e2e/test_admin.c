/*
 * End-to-end admin API (issue 6, first part): a real edged with --admin-listen on loopback,
 * driven over real HTTP. The operator's token is printed once at a data directory's first start
 * and kept in DATA/operator.token (0600); the operator creates tenants, a tenant deploys with its
 * own token (multipart upload, as Cloudflare's), lists versions and rolls back, binds routes;
 * and every refusal the issue lists: no or bad token, another tenant's token, a malformed
 * bundle, a missing main module, an import of a missing module, a quota exceeded, a route owned
 * by another tenant. A failed deploy stores nothing. Uploads larger than the workers' body
 * limit (16 MiB) reach the admin listener.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/common.h"
#include "e2e.h"

TestSuite(admin, .fini = e2e_teardown, .timeout = 120);

static json_t *kept[512];
static int n_kept;

static struct e2e_server *start(const char *data)
{
    const char *tenants = e2e_tmpdir();
    cr_assert_not_null(tenants);
    if (data)
        return E2E_START("--tenants", tenants, "--threads", "1", "--admin-listen", "127.0.0.1:0",
                         "--data", data);
    return E2E_START("--tenants", tenants, "--threads", "1", "--admin-listen", "127.0.0.1:0");
}

static const char *operator_token(const struct e2e_server *s)
{
    char *t = e2e_read_file(e2e_fmt("%s/operator.token", s->data_dir), NULL);
    cr_assert_not_null(t, "%s", e2e_errmsg());
    t[strcspn(t, "\n")] = '\0';
    const char *out = e2e_fmt("%s", t);
    free(t);
    return out;
}

/* One request to the admin port; asserts the status; returns the JSON body (NULL for 204). */
static json_t *api_ct(struct e2e_server *s, const char *method, const char *path, const char *token,
                      const char *ctype, const char *body, int want)
{
    const char *hdr =
        e2e_fmt("%s%s%s%s%s", token ? "Authorization: Bearer " : "", token ? token : "",
                token ? "\r\n" : "", ctype ? e2e_fmt("Content-Type: %s\r\n", ctype) : "",
                "Connection: close\r\n");
    struct e2e_response r;
    int rc = e2e_request(s->admin_port, method, "127.0.0.1", path, hdr, body, &r);
    cr_assert_eq(rc, 0, "%s %s: %s", method, path, e2e_errmsg());
    cr_expect_eq(r.status, want, "%s %s: %d, expected %d: %.400s", method, path, r.status, want,
                 r.body);
    json_t *j = NULL;
    if (r.status != 204) {
        j = json_loads(r.body, 0, NULL);
        cr_assert_not_null(j, "%s %s: not JSON: %.300s", method, path, r.body);
        cr_expect_str_eq(e2e_header(&r, "content-type") ? e2e_header(&r, "content-type") : "",
                         "application/json");
        if (n_kept < 512)
            kept[n_kept++] = j;
    } else {
        cr_expect_eq(r.body_len, 0);
    }
    e2e_response_dispose(&r);
    return j;
}

static json_t *api(struct e2e_server *s, const char *method, const char *path, const char *token,
                   const char *json, int want)
{
    return api_ct(s, method, path, token, json ? "application/json" : NULL, json, want);
}

static const char *str(json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v ? v : "";
}

static long long num(json_t *j, const char *key)
{
    return (long long)json_integer_value(json_object_get(j, key));
}

/* A multipart upload: metadata, then NAME=SOURCE pairs (NULL-terminated), typed by extension. */
static const char *upload(const char *meta, ...)
{
    struct ed_buf b;
    ed_buf_init(&b);
    ed_buf_appendf(&b,
                   "--e2eBoundary\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
                   "Content-Type: application/json\r\n\r\n%s\r\n",
                   meta);
    va_list ap;
    va_start(ap, meta);
    const char *name;
    while ((name = va_arg(ap, const char *))) {
        const char *src = va_arg(ap, const char *);
        ed_buf_appendf(&b,
                       "--e2eBoundary\r\nContent-Disposition: form-data; name=\"%s\"; "
                       "filename=\"%s\"\r\n\r\n%s\r\n",
                       name, name, src);
    }
    va_end(ap);
    ed_buf_appends(&b, "--e2eBoundary--\r\n");
    const char *out = e2e_fmt("%s", b.data);
    ed_buf_dispose(&b);
    return out;
}

static json_t *deploy(struct e2e_server *s, const char *tenant, const char *worker,
                      const char *token, const char *body, int want)
{
    return api_ct(s, "PUT", e2e_fmt("/v1/tenants/%s/workers/%s", tenant, worker), token,
                  "multipart/form-data; boundary=e2eBoundary", body, want);
}

#define META "{\"main_module\": \"index.js\", \"compatibility_date\": \"2026-01-01\"}"
#define WORKER(text)                            \
    "import { greet } from './lib/greet.js';\n" \
    "export default { fetch() { return new Response(greet(" text ")); } };\n"
#define GREET "lib/greet.js", "export function greet(n) { return 'hello ' + n; }\n"

/* The message of an error answer holds needle. */
#define EXPECT_ERROR(j, needle)                                                                \
    cr_expect(strstr(str((j), "error"), (needle)), "error '%s' lacks '%s'", str((j), "error"), \
              (needle))

Test(admin, the_operator_token_is_shown_once_and_kept)
{
    struct e2e_server *s = start(NULL);
    const char *op = operator_token(s);
    cr_expect_eq(strlen(op), 48, "%s", op);
    cr_expect(strncmp(op, "edop_", 5) == 0, "%s", op);
    struct stat st;
    cr_assert_eq(stat(e2e_fmt("%s/operator.token", s->data_dir), &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "operator.token has mode %o", st.st_mode & 0777);
    char *err = e2e_server_stderr(s);
    cr_expect(strstr(err, e2e_fmt("edged: operator token (shown once): %s\n", op)), "%s", err);
    free(err);
    json_t *j = api(s, "GET", "/v1/whoami", op, NULL, 200);
    cr_expect(json_is_null(json_object_get(j, "tenant")));
    E2E_STOP_OK(s);

    /* a restart keeps it, and shows nothing */
    struct e2e_server *s2 = start(s->data_dir);
    cr_expect_str_eq(operator_token(s2), op);
    err = e2e_server_stderr(s2);
    cr_expect_null(strstr(err, "operator token (shown once)"), "%s", err);
    free(err);
    api(s2, "GET", "/v1/tenants", op, NULL, 200);
    E2E_STOP_OK(s2);
}

Test(admin, tenants_deploy_roll_back_and_are_refused_what_is_not_theirs)
{
    struct e2e_server *s = start(NULL);
    const char *op = operator_token(s);

    /* no token, a bad one */
    api(s, "GET", "/v1/tenants", NULL, NULL, 401);
    api(s, "GET", "/v1/tenants", "edop_not-the-token", NULL, 401);
    api_ct(s, "GET", "/v1/usage", NULL, NULL, NULL, 401);

    /* the operator makes two tenants; each gets a first token */
    json_t *j = api(s, "POST", "/v1/tenants", op,
                    "{\"name\": \"acme\", \"quotas\": {\"bundle_bytes\": 100000}, "
                    "\"routes_allowed\": [\"acme.test\", \"*.shared.test\"]}",
                    201);
    const char *acme = e2e_fmt("%s", str(j, "token"));
    j = api(s, "POST", "/v1/tenants", op,
            "{\"name\": \"evil\", \"routes_allowed\": [\"*.shared.test\"]}", 201);
    const char *evil = e2e_fmt("%s", str(j, "token"));
    api(s, "POST", "/v1/tenants", op, "{\"name\": \"acme\"}", 409);
    cr_expect_str_eq(str(api(s, "GET", "/v1/whoami", acme, NULL, 200), "tenant"), "acme");

    /* a tenant's token is not the operator's, nor another tenant's */
    api(s, "GET", "/v1/tenants", acme, NULL, 403);
    j = deploy(s, "acme", "api", evil, upload(META, "index.js", WORKER("'x'"), GREET, NULL), 403);
    EXPECT_ERROR(j, "another tenant");
    api(s, "GET", "/v1/tenants/acme/workers", evil, NULL, 403);
    api(s, "GET", "/v1/usage?tenant=acme", evil, NULL, 403);

    /* bundles that do not validate change nothing */
    j = deploy(
        s, "acme", "api", acme,
        upload(META, "index.js", "export default { fetch() { return new Response('x') ;", NULL),
        422);
    EXPECT_ERROR(j, "SyntaxError");
    j = deploy(s, "acme", "api", acme,
               upload("{\"main_module\": \"src/main.js\"}", "index.js", WORKER("'x'"), GREET, NULL),
               422);
    EXPECT_ERROR(j, "main module src/main.js is not among the uploaded modules");
    j = deploy(s, "acme", "api", acme, upload(META, "index.js", WORKER("'x'"), NULL), 422);
    EXPECT_ERROR(j, "lib/greet.js");
    j = api_ct(s, "PUT", "/v1/tenants/acme/workers/api", acme,
               "multipart/form-data; boundary=e2eBoundary", "--e2eBoundary\r\nnot a part", 400);
    EXPECT_ERROR(j, "malformed upload");
    j = deploy(s, "acme", "api", acme, upload("{\"main_module\": ", "index.js", "1", NULL), 400);
    EXPECT_ERROR(j, "metadata is not JSON");
    /* over the tenant's bundle quota (100,000 bytes) */
    struct ed_buf big;
    ed_buf_init(&big);
    ed_buf_appends(&big, "export const big = '");
    for (int i = 0; i < 1100; i++)
        ed_buf_appends(&big, "0123456789012345678901234567890123456789012345678901234567890123"
                             "456789012345678901234567890123456789");
    ed_buf_appends(&big, "';\n");
    j = deploy(s, "acme", "api", acme,
               upload(META, "index.js", WORKER("'x'"), GREET, "big.js", big.data, NULL), 413);
    ed_buf_dispose(&big);
    EXPECT_ERROR(j, "bundle_bytes = 100000");
    j = api(s, "GET", "/v1/tenants/acme/workers", acme, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "workers")), 0, "a failed deploy stored %s",
                 json_dumps(j, 0));

    /* deploy, deploy again, versions, rollback */
    j = deploy(s, "acme", "api", acme, upload(META, "index.js", WORKER("'one'"), GREET, NULL), 201);
    cr_expect_eq(num(j, "version"), 1);
    cr_expect_eq(num(j, "modules"), 2);
    j = deploy(s, "acme", "api", acme, upload(META, "index.js", WORKER("'two'"), GREET, NULL), 201);
    cr_expect_eq(num(j, "version"), 2);
    j = api(s, "GET", "/v1/tenants/acme/workers/api/versions", acme, NULL, 200);
    json_t *vs = json_object_get(j, "versions");
    cr_assert_eq(json_array_size(vs), 2);
    cr_expect_eq(num(json_array_get(vs, 0), "version"), 2);
    cr_expect(json_is_true(json_object_get(json_array_get(vs, 0), "live")));
    j = api(s, "POST", "/v1/tenants/acme/workers/api/rollback", acme, "{\"version\": 1}", 200);
    cr_expect_eq(num(j, "version"), 1);
    j = api(s, "GET", "/v1/tenants/acme/workers", acme, NULL, 200);
    cr_expect_eq(num(json_array_get(json_object_get(j, "workers"), 0), "version"), 1);
    j = api(s, "GET", "/v1/tenants/acme/workers/api/versions", acme, NULL, 200);
    vs = json_object_get(j, "versions");
    cr_expect(json_is_false(json_object_get(json_array_get(vs, 0), "live")));
    cr_expect(json_is_true(json_object_get(json_array_get(vs, 1), "live")));
    api(s, "POST", "/v1/tenants/acme/workers/api/rollback", acme, "{\"version\": 3}", 404);

    /* routes: within routes_allowed, and not another tenant's */
    api(s, "PUT", "/v1/tenants/acme/routes", acme,
        "{\"pattern\": \"acme.test/*\", \"worker\": \"api\"}", 201);
    j = api(s, "PUT", "/v1/tenants/acme/routes", acme,
            "{\"pattern\": \"other.test/*\", \"worker\": \"api\"}", 403);
    EXPECT_ERROR(j, "routes_allowed");
    api(s, "PUT", "/v1/tenants/acme/routes", acme,
        "{\"pattern\": \"a.shared.test/*\", \"worker\": \"api\"}", 201);
    deploy(s, "evil", "w", evil, upload(META, "index.js", WORKER("'evil'"), GREET, NULL), 201);
    j = api(s, "PUT", "/v1/tenants/evil/routes", evil,
            "{\"pattern\": \"a.shared.test/*\", \"worker\": \"w\"}", 409);
    EXPECT_ERROR(j, "belongs to another tenant");
    j = api(s, "GET", "/v1/tenants/acme/routes", acme, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "routes")), 2);
    api(s, "DELETE", "/v1/tenants/acme/routes?pattern=a.shared.test%2F*", acme, NULL, 204);
    api(s, "PUT", "/v1/tenants/evil/routes", evil,
        "{\"pattern\": \"a.shared.test/*\", \"worker\": \"w\"}", 201);

    /* tokens: a second one, revoked */
    j = api(s, "POST", "/v1/tenants/acme/tokens", acme, "{\"label\": \"ci\"}", 201);
    const char *ci = e2e_fmt("%s", str(j, "token"));
    const char *id = e2e_fmt("%s", str(j, "id"));
    api(s, "GET", "/v1/tenants/acme/workers", ci, NULL, 200);
    api(s, "DELETE", e2e_fmt("/v1/tenants/acme/tokens/%s", id), acme, NULL, 204);
    api(s, "GET", "/v1/tenants/acme/workers", ci, NULL, 401);

    /* suspended by the operator: reads only */
    api(s, "PATCH", "/v1/tenants/acme", op, "{\"status\": \"suspended\"}", 200);
    deploy(s, "acme", "api", acme, upload(META, "index.js", WORKER("'3'"), GREET, NULL), 403);
    api(s, "GET", "/v1/tenants/acme/workers", acme, NULL, 200);

    /* usage: the tenant's own */
    j = api(s, "GET", "/v1/usage", acme, NULL, 200);
    cr_expect_not_null(json_object_get(j, "day"));

    /* deleting the tenant ends its tokens */
    api(s, "DELETE", "/v1/tenants/acme", op, NULL, 204);
    api(s, "GET", "/v1/whoami", acme, NULL, 401);
    j = api(s, "GET", "/v1/tenants", op, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "tenants")), 1);
    E2E_STOP_OK(s);
}

Test(admin, an_upload_larger_than_the_workers_body_limit_is_taken)
{
    struct e2e_server *s = start(NULL);
    const char *op = operator_token(s);
    json_t *j = api(s, "POST", "/v1/tenants", op, "{\"name\": \"big\"}", 201);
    const char *tok = e2e_fmt("%s", str(j, "token"));
    /* 20 MiB of text module: over --max-body-bytes' 16 MiB default, under the 64 MiB bundle */
    size_t n = 20u << 20;
    char *text = malloc(n + 1);
    cr_assert_not_null(text);
    memset(text, 'a', n);
    text[n] = '\0';
    static const char src[] = "import t from './t.txt';\n"
                              "export default { fetch() { return new Response(t.length); } };";
    uint64_t t0 = e2e_now_ms();
    j = deploy(s, "big", "api", tok, upload(META, "index.js", src, "t.txt", text, NULL), 201);
    uint64_t ms = e2e_now_ms() - t0;
    free(text);
    cr_expect_eq(num(j, "bytes"), (long long)(n + sizeof src - 1));
    printf("figures: admin deploy of a 20 MiB bundle: %llu ms (upload to stored)\n",
           (unsigned long long)ms);
    E2E_STOP_OK(s);
}
