/*
 * deploy/: the admin API's handlers through dp_handle, with a real control.sqlite in a temporary
 * directory and the real V8 platform (deploys are compiled by iso_bundle_check): the operator
 * token, authentication and authorization, tenants, tokens, deploys (and every way one is
 * refused), versions and rollback, routes, usage, whoami.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deploy/dp_int.h"
#include "isolates/isolates.h"

static char tmpdir[64];
static struct st_db *db;
static struct dp_api *api;
static char *op; /* the operator's token */

/* A tenant of the site (tenant.conf): "legacy", token "legacy-secret". */
static const char *site_token(void *ud, const uint8_t h[32])
{
    (void)ud;
    uint8_t want[32];
    dp__sha256("legacy-secret", 13, want);
    return memcmp(h, want, 32) == 0 ? "legacy" : NULL;
}

static bool site_tenant(void *ud, const char *name)
{
    (void)ud;
    return strcmp(name, "legacy") == 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/edged-dp-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    struct ed_error err = {0};
    cr_assert_eq(st_open(tmpdir, 50, &db, &err), 0, "st_open: %s", ed_error_msg(&err));
    cr_assert_eq(dp_operator_token_init(db, tmpdir, &op, &err), 0, "%s", ed_error_msg(&err));
    cr_assert_not_null(op);
    cr_assert_eq(iso_platform_init(&err), 0, "%s", ed_error_msg(&err));
    struct dp_config cfg = {.db = db,
                            .data_dir = tmpdir,
                            .defaults = {.cpu_ms = 50, .heap_mb = 128},
                            .site_token = site_token,
                            .site_tenant = site_tenant};
    cr_assert_eq(dp_api_new(&cfg, &api, &err), 0, "%s", ed_error_msg(&err));
}

static void teardown(void)
{
    dp_api_free(api);
    st_close(db);
    free(op);
    if (tmpdir[0])
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(admin_api, .init = setup, .fini = teardown, .timeout = 60);

/* ---- requests ---- */

static json_t *kept[256];
static int n_kept;

/* method target with token (NULL: none) and body; asserts the status; returns the JSON body
 * (freed at exit: tests are processes) or NULL for 204. */
static json_t *call_ct(const char *method, const char *target, const char *token, const char *ctype,
                       const void *body, size_t len, int want)
{
    char auth[128];
    struct dp_header h[2];
    size_t n = 0;
    if (token) {
        snprintf(auth, sizeof auth, "Bearer %s", token);
        h[n++] = (struct dp_header){"Authorization", auth, 13, strlen(auth)};
    }
    if (ctype)
        h[n++] = (struct dp_header){"Content-Type", ctype, 12, strlen(ctype)};
    struct dp_request req = {.method = method,
                             .target = target,
                             .target_len = strlen(target),
                             .headers = h,
                             .n_headers = n,
                             .body = body,
                             .body_len = len};
    struct dp_response res;
    dp_handle(api, &req, &res);
    cr_expect_eq(res.status, want, "%s %s: %d, expected %d: %s", method, target, res.status, want,
                 res.body ? res.body : "");
    json_t *j = NULL;
    if (res.status == 204) {
        cr_expect_null(res.body);
    } else {
        cr_assert_not_null(res.body, "%s %s: no body", method, target);
        cr_expect_eq(res.body[res.body_len - 1], '\n');
        j = json_loads(res.body, 0, NULL);
        cr_assert_not_null(j, "%s %s: not JSON: %s", method, target, res.body);
        if (res.status >= 400)
            cr_expect(json_is_string(json_object_get(j, "error")), "%s", res.body);
        if (n_kept < 256)
            kept[n_kept++] = j;
    }
    dp_response_dispose(&res);
    return j;
}

static json_t *call(const char *method, const char *target, const char *token, const char *json,
                    int want)
{
    return call_ct(method, target, token, json ? "application/json" : NULL, json,
                   json ? strlen(json) : 0, want);
}

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

static const char *err_of(json_t *j)
{
    return str(j, "error");
}

/* A tenant; returns its first token (valid for the test). */
static const char *tenant(const char *name, const char *extra)
{
    char body[512];
    snprintf(body, sizeof body, "{\"name\": \"%s\"%s%s}", name, extra ? ", " : "",
             extra ? extra : "");
    json_t *j = call("POST", "/v1/tenants", op, body, 201);
    cr_expect_str_eq(str(j, "name"), name);
    cr_expect(strncmp(str(j, "token"), "edtk_", 5) == 0, "%s", str(j, "token"));
    cr_expect_eq(strlen(str(j, "token")), 48);
    return str(j, "token");
}

/* ---- multipart uploads ---- */

struct upload {
    struct ed_buf b;
};

static void part(struct upload *u, const char *name, const char *ctype, const char *data)
{
    ed_buf_appendf(&u->b, "--XyZ\r\nContent-Disposition: form-data; name=\"%s\"", name);
    if (strcmp(name, "metadata") != 0)
        ed_buf_appendf(&u->b, "; filename=\"%s\"", name);
    ed_buf_appends(&u->b, "\r\n");
    if (ctype)
        ed_buf_appendf(&u->b, "Content-Type: %s\r\n", ctype);
    ed_buf_appendf(&u->b, "\r\n%s\r\n", data);
}

static json_t *deploy_u(const char *tenant_name, const char *worker, const char *token,
                        struct upload *u, int want)
{
    ed_buf_appends(&u->b, "--XyZ--\r\n");
    char target[256];
    snprintf(target, sizeof target, "/v1/tenants/%s/workers/%s", tenant_name, worker);
    json_t *j = call_ct("PUT", target, token, "multipart/form-data; boundary=XyZ", u->b.data,
                        u->b.len, want);
    ed_buf_dispose(&u->b);
    return j;
}

/* A one-module worker answering text, with metadata. */
static json_t *deploy_text(const char *tenant_name, const char *worker, const char *token,
                           const char *text, int want)
{
    struct upload u = {0};
    part(&u, "metadata", "application/json",
         "{\"main_module\": \"index.js\", \"compatibility_date\": \"2026-01-01\", \"bindings\": "
         "[{\"type\": \"plain_text\", \"name\": \"GREETING\", \"text\": \"hi\"}, {\"type\": "
         "\"secret_text\", \"name\": \"KEY\", \"text\": \"s3cr3t-value\"}, {\"type\": "
         "\"worker_loader\", \"name\": \"LOADER\"}]}");
    char src[256];
    snprintf(src, sizeof src,
             "import { t } from './lib/t.js';\nexport default { fetch() { return new "
             "Response(t + %s); } };",
             text);
    part(&u, "index.js", "application/javascript+module", src);
    part(&u, "lib/t.js", NULL, "export const t = 'v:';");
    part(&u, "data.bin", "application/octet-stream", "\x01\x02");
    return deploy_u(tenant_name, worker, token, &u, want);
}

/* ---- tests ---- */

Test(admin_api, the_operator_token_is_made_once_and_kept_in_a_0600_file)
{
    char path[128];
    snprintf(path, sizeof path, "%s/operator.token", tmpdir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
    FILE *f = fopen(path, "r");
    char line[128] = "";
    cr_assert(f && fgets(line, sizeof line, f));
    fclose(f);
    cr_expect_eq(strlen(op), 48);
    cr_expect(strncmp(op, "edop_", 5) == 0);
    cr_expect(strncmp(line, op, 48) == 0 && line[48] == '\n', "file holds %s", line);
    char *again = NULL;
    struct ed_error err = {0};
    cr_expect_eq(dp_operator_token_init(db, tmpdir, &again, &err), 0);
    cr_expect_null(again, "a second token was made");
    json_t *j = call("GET", "/v1/whoami", op, NULL, 200);
    cr_expect(json_is_null(json_object_get(j, "tenant")));
}

Test(admin_api, tokens_decide_who_may_do_what)
{
    const char *acme = tenant("acme", NULL);
    const char *evil = tenant("evil", NULL);
    cr_expect_str_eq(err_of(call("GET", "/v1/tenants", NULL, NULL, 401)),
                     "no token: send Authorization: Bearer TOKEN");
    call("GET", "/v1/tenants", "edtk_nope", NULL, 401);
    call("GET", "/v1/whoami", "", NULL, 401);
    call_ct("GET", "/v1/whoami", NULL, NULL, NULL, 0, 401);
    /* a tenant's token: itself only, nothing of the operator's */
    cr_expect_str_eq(str(call("GET", "/v1/whoami", acme, NULL, 200), "tenant"), "acme");
    call("GET", "/v1/tenants", acme, NULL, 403);
    call("POST", "/v1/tenants", acme, "{\"name\": \"x\"}", 403);
    call("GET", "/v1/tenants/acme", acme, NULL, 200);
    cr_expect_str_eq(err_of(call("GET", "/v1/tenants/evil", acme, NULL, 403)),
                     "this token belongs to another tenant");
    call("GET", "/v1/tenants/evil/workers", acme, NULL, 403);
    call("POST", "/v1/tenants/evil/tokens", acme, NULL, 403);
    call("PATCH", "/v1/tenants/acme", acme, "{\"status\": \"active\"}", 403);
    call("DELETE", "/v1/tenants/acme", acme, NULL, 403);
    deploy_text("evil", "w", acme, "'x'", 403);
    call("GET", "/v1/tenants/evil", evil, NULL, 200);
    /* the operator reaches every tenant; unknown ones are 404 */
    call("GET", "/v1/tenants/evil/workers", op, NULL, 200);
    call("GET", "/v1/tenants/nobody", op, NULL, 404);
    call("GET", "/v1/nothing", op, NULL, 404);
    call("GET", "/v1/tenants/acme/nothing", op, NULL, 404);
    call("GET", "/v1/tenants/acme/logs", op, NULL, 501);
    call("POST", "/v1/whoami", op, NULL, 405);
    /* a site tenant (tenant.conf token_sha256) reads its usage and asks who it is */
    cr_expect_str_eq(str(call("GET", "/v1/whoami", "legacy-secret", NULL, 200), "tenant"),
                     "legacy");
    call("GET", "/v1/tenants/legacy", "legacy-secret", NULL, 404);
    call("POST", "/v1/tenants", op, "{\"name\": \"legacy\"}", 409);
}

Test(admin_api, tenants_are_created_changed_and_deleted)
{
    const char *t = tenant("acme", "\"quotas\": {\"cpu_ms\": 20}");
    call("POST", "/v1/tenants", op, "{\"name\": \"acme\"}", 409);
    call("POST", "/v1/tenants", op, "{\"name\": \".hidden\"}", 400);
    call("POST", "/v1/tenants", op, "{\"name\": \"a/b\"}", 400);
    call("POST", "/v1/tenants", op, "{\"nom\": \"x\"}", 400);
    call("POST", "/v1/tenants", op, "{\"name\": \"x\", \"quotas\": {\"cpu_ms\": 0}}", 400);
    call("POST", "/v1/tenants", op, "{\"name\": \"x\", \"quotas\": {\"ram\": 1}}", 400);
    call("POST", "/v1/tenants", op, "{\"name\": \"x\", \"status\": \"gone\"}", 400);
    call("POST", "/v1/tenants", op, "not json", 400);
    call("POST", "/v1/tenants", op, "[1]", 400);
    call("POST", "/v1/tenants", op, "{\"name\": \"x\", \"name\": \"y\"}", 400);

    json_t *j = call("GET", "/v1/tenants", op, NULL, 200);
    json_t *list = json_object_get(j, "tenants");
    cr_assert_eq(json_array_size(list), 1);
    json_t *a = json_array_get(list, 0);
    cr_expect_str_eq(str(a, "name"), "acme");
    cr_expect_str_eq(str(a, "status"), "active");
    cr_expect_str_eq(str(a, "cordon"), "default");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(a, "quotas"), "cpu_ms")), 20);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(a, "quotas"), "heap_mb")), 128,
                 "defaults fill the rest");
    cr_expect_eq(strlen(str(a, "created")), 20, "%s", str(a, "created"));

    j = call("PATCH", "/v1/tenants/acme", op,
             "{\"status\": \"suspended\", \"cordon\": \"own\", \"quotas\": {\"cpu_ms\": null, "
             "\"workers\": 3}, \"routes_allowed\": [\"API.Acme.test\", \"*.acme.test/x*\"]}",
             200);
    cr_expect_str_eq(str(j, "status"), "suspended");
    cr_expect_str_eq(str(j, "cordon"), "own");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "quotas"), "cpu_ms")), 50);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "quotas"), "workers")), 3);
    json_t *ra = json_object_get(j, "routes_allowed");
    cr_expect_str_eq(json_string_value(json_array_get(ra, 0)), "api.acme.test/*");
    cr_expect_str_eq(json_string_value(json_array_get(ra, 1)), "*.acme.test/x*");
    call("PATCH", "/v1/tenants/acme", op, "{\"routes_allowed\": [\"bad host/\"]}", 400);
    call("PATCH", "/v1/tenants/acme", op, "{\"name\": \"other\"}", 400);
    call("PATCH", "/v1/tenants/nobody", op, "{\"status\": \"active\"}", 404);

    /* suspended: the tenant reads, but changes nothing */
    call("GET", "/v1/tenants/acme/workers", t, NULL, 200);
    deploy_text("acme", "api", t, "'x'", 403);
    call("POST", "/v1/tenants/acme/tokens", t, NULL, 403);
    call("PATCH", "/v1/tenants/acme", op, "{\"status\": \"active\"}", 200);
    deploy_text("acme", "api", t, "'x'", 201);

    /* delete: rows and files go, its tokens stop working */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/tenants/acme/do/X", tmpdir);
    cr_assert_eq(ed_mkdirs(dir, 0700), 0);
    call("DELETE", "/v1/tenants/acme", op, NULL, 204);
    snprintf(dir, sizeof dir, "%s/tenants/acme", tmpdir);
    cr_expect_neq(access(dir, F_OK), 0, "the tenant's directory is still there");
    call("GET", "/v1/whoami", t, NULL, 401);
    call("DELETE", "/v1/tenants/acme", op, NULL, 404);
}

Test(admin_api, tenant_tokens_are_shown_once_and_revoked)
{
    const char *t = tenant("acme", NULL);
    json_t *j = call("POST", "/v1/tenants/acme/tokens", t, "{\"label\": \"ci\"}", 201);
    const char *t2 = str(j, "token"), *id = str(j, "id");
    cr_expect_str_eq(str(j, "label"), "ci");
    cr_expect(strncmp(id, "tok_", 4) == 0 && strlen(id) == 16, "%s", id);
    call("POST", "/v1/tenants/acme/tokens", t, "{\"label\": 5}", 400);
    call("POST", "/v1/tenants/acme/tokens", t, "{\"label\": \"x\", \"admin\": true}", 400);
    cr_expect_str_eq(str(call("GET", "/v1/whoami", t2, NULL, 200), "tenant"), "acme");

    j = call("GET", "/v1/tenants/acme/tokens", op, NULL, 200);
    json_t *list = json_object_get(j, "tokens");
    cr_assert_eq(json_array_size(list), 2);
    char *dump = json_dumps(j, 0);
    cr_expect_null(strstr(dump, "edtk_"), "a token is listed: %s", dump);
    free(dump);

    char target[128];
    snprintf(target, sizeof target, "/v1/tenants/acme/tokens/%s", id);
    const char *other = tenant("other", NULL);
    call("DELETE", target, other, NULL, 403);
    call("DELETE", "/v1/tenants/other/tokens/tok_000000000000", other, NULL, 404);
    call("DELETE", target, t2, NULL, 204); /* a token may revoke itself */
    cr_expect_str_eq(err_of(call("GET", "/v1/whoami", t2, NULL, 401)), "this token was revoked");
    call("GET", "/v1/whoami", t, NULL, 200);
    j = call("GET", "/v1/tenants/acme/tokens", t, NULL, 200);
    list = json_object_get(j, "tokens");
    int revoked = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        revoked += json_is_true(json_object_get(json_array_get(list, i), "revoked"));
    cr_expect_eq(revoked, 1);
}

static int module_seen(void *ud, const struct st_module *m)
{
    ed_buf_appendf(ud, "%s:%s:%zu ", m->name, m->type, m->len);
    return 0;
}

static int meta_seen(void *ud, const struct st_version_info *v)
{
    ed_buf_appendf(ud, "v%lld %s ", (long long)v->version, v->metadata);
    return 0;
}

Test(admin_api, a_deploy_stores_a_version_and_rollback_moves_the_live_one)
{
    const char *t = tenant("acme", NULL);
    json_t *j = deploy_text("acme", "api", t, "'one'", 201);
    cr_expect_str_eq(str(j, "worker"), "api");
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 1);
    cr_expect_eq(json_integer_value(json_object_get(j, "modules")), 3);
    uint64_t g = st_cp_generation(db);
    j = deploy_text("acme", "api", op, "'two'", 201);
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 2);
    cr_expect_gt(st_cp_generation(db), g);

    /* what the shards will load: modules typed, metadata with the bindings (and the secret) */
    struct ed_buf b = {0};
    struct ed_error err = {0};
    cr_assert_eq(st_cp_version_load(db, "acme", "api", 0, meta_seen, module_seen, &b, &err), 0);
    cr_expect_str_eq(b.data, "v2 {\"bindings\":[{\"name\":\"GREETING\",\"text\":\"hi\",\"type\":"
                             "\"plain_text\"},{\"name\":\"KEY\",\"text\":\"s3cr3t-value\",\"type\":"
                             "\"secret_text\"},{\"name\":\"LOADER\",\"type\":\"worker_loader\"}],"
                             "\"compatibility_date\":\"2026-01-01\",\"main_module\":\"index.js\"} "
                             "data.bin:data:2 index.js:esm:95 lib/t.js:esm:22 ");
    ed_buf_dispose(&b);

    j = call("GET", "/v1/tenants/acme/workers", t, NULL, 200);
    json_t *w = json_array_get(json_object_get(j, "workers"), 0);
    cr_expect_str_eq(str(w, "name"), "api");
    cr_expect_eq(json_integer_value(json_object_get(w, "version")), 2);
    cr_expect_eq(strlen(str(w, "deployed")), 20);

    j = call("GET", "/v1/tenants/acme/workers/api/versions", t, NULL, 200);
    json_t *vs = json_object_get(j, "versions");
    cr_assert_eq(json_array_size(vs), 2);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(vs, 0), "version")), 2);
    cr_expect(json_is_true(json_object_get(json_array_get(vs, 0), "live")));
    cr_expect(json_is_false(json_object_get(json_array_get(vs, 1), "live")));
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(vs, 1), "bytes")), 119);
    char *dump = json_dumps(j, 0);
    cr_expect_null(strstr(dump, "s3cr3t"), "a secret is echoed: %s", dump);
    free(dump);

    j = call("POST", "/v1/tenants/acme/workers/api/rollback", t, "{\"version\": 1}", 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "version")), 1);
    j = call("GET", "/v1/tenants/acme/workers/api/versions", t, NULL, 200);
    vs = json_object_get(j, "versions");
    cr_expect(json_is_true(json_object_get(json_array_get(vs, 1), "live")));
    call("POST", "/v1/tenants/acme/workers/api/rollback", t, "{\"version\": 9}", 404);
    call("POST", "/v1/tenants/acme/workers/api/rollback", t, "{\"version\": \"1\"}", 400);
    call("POST", "/v1/tenants/acme/workers/nope/rollback", t, "{\"version\": 1}", 404);
    call("GET", "/v1/tenants/acme/workers/nope/versions", t, NULL, 404);
    call("GET", "/v1/tenants/acme/workers/api", t, NULL, 405);

    call("DELETE", "/v1/tenants/acme/workers/api", t, NULL, 204);
    call("DELETE", "/v1/tenants/acme/workers/api", t, NULL, 404);
    j = call("GET", "/v1/tenants/acme/workers", t, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "workers")), 0);
}

/* Deploys index.js (ES) with src and optional extra modules; expects status and, for an error,
 * needle in its message. */
static void deploy_expect(const char *t, const char *meta, const char *src, const char *extra_name,
                          const char *extra_src, int want, const char *needle)
{
    struct upload u = {0};
    if (meta)
        part(&u, "metadata", "application/json", meta);
    if (src)
        part(&u, "index.js", "application/javascript+module", src);
    if (extra_name)
        part(&u, extra_name, NULL, extra_src);
    json_t *j = deploy_u("acme", "api", t, &u, want);
    if (needle)
        cr_expect(strstr(err_of(j), needle), "'%s' lacks '%s'", err_of(j), needle);
}

#define META "{\"main_module\": \"index.js\"}"
#define OK_SRC "export default { fetch() { return new Response('ok'); } };"

Test(admin_api, a_bad_deploy_is_refused_and_changes_nothing)
{
    const char *t = tenant("acme", "\"quotas\": {\"bundle_bytes\": 4096, \"workers\": 1}");
    /* not multipart, no metadata, bad metadata */
    call("PUT", "/v1/tenants/acme/workers/api", t, "{}", 400);
    call_ct("PUT", "/v1/tenants/acme/workers/api", t, "multipart/form-data", "", 0, 400);
    call_ct("PUT", "/v1/tenants/acme/workers/api", t, "multipart/form-data; boundary=XyZ",
            "garbage", 7, 400);
    deploy_expect(t, NULL, OK_SRC, NULL, NULL, 400, "no metadata part");
    deploy_expect(t, "{nope", OK_SRC, NULL, NULL, 400, "metadata is not JSON");
    deploy_expect(t, "{}", OK_SRC, NULL, NULL, 400, "main_module");
    deploy_expect(t, "{\"main_module\": \"index.js\", \"compatibility_date\": \"soon\"}", OK_SRC,
                  NULL, NULL, 400, "compatibility_date");
    deploy_expect(t,
                  "{\"main_module\": \"index.js\", \"bindings\": [{\"type\": \"kv_namespace\", "
                  "\"name\": \"KV\"}]}",
                  OK_SRC, NULL, NULL, 400, "type kv_namespace is not supported");
    deploy_expect(t,
                  "{\"main_module\": \"index.js\", \"bindings\": [{\"type\": \"plain_text\", "
                  "\"name\": \"A\", \"text\": \"1\"}, {\"type\": \"worker_loader\", \"name\": "
                  "\"A\"}]}",
                  OK_SRC, NULL, NULL, 400, "two bindings named A");
    deploy_expect(t,
                  "{\"main_module\": \"index.js\", \"bindings\": [{\"type\": "
                  "\"durable_object_namespace\", \"name\": \"DO\"}]}",
                  OK_SRC, NULL, NULL, 400, "class_name");
    deploy_expect(t, META, OK_SRC, "../x.js", "1", 400, "not a relative path");
    deploy_expect(t, META, OK_SRC, "x.wat", "1", 400, "no known extension");
    /* bundles that do not validate: 422 */
    deploy_expect(t, "{\"main_module\": \"main.js\"}", OK_SRC, NULL, NULL, 422,
                  "main module main.js is not among the uploaded modules");
    deploy_expect(t, META, "export default {", NULL, NULL, 422, "SyntaxError");
    deploy_expect(t, META, "import { x } from './missing.js';\n" OK_SRC, NULL, NULL, 422,
                  "missing.js");
    deploy_expect(t, "{\"main_module\": \"a.txt\"}", NULL, "a.txt", "hello", 422,
                  "must be JavaScript");
    deploy_expect(t,
                  "{\"main_module\": \"index.js\", \"bindings\": [{\"type\": "
                  "\"durable_object_namespace\", \"name\": \"DO\", \"class_name\": \"Nope\"}]}",
                  OK_SRC, NULL, NULL, 422, "class \"Nope\" is not exported by the main module");
    /* quotas: 413 */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    deploy_expect(t, META, OK_SRC, "big.txt", big, 413, "bundle_bytes = 4096");
    /* nothing of all that was stored */
    json_t *j = call("GET", "/v1/tenants/acme/workers", t, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "workers")), 0);
    /* workers = 1: a second worker is over the quota */
    deploy_expect(t, META, OK_SRC, NULL, NULL, 201, NULL);
    struct upload u = {0};
    part(&u, "metadata", "application/json", META);
    part(&u, "index.js", "application/javascript+module", OK_SRC);
    j = deploy_u("acme", "second", t, &u, 413);
    cr_expect(strstr(err_of(j), "quota (workers = 1)"), "%s", err_of(j));
    call("PUT", "/v1/tenants/acme/workers/.bad", t, NULL, 400);
}

Test(admin_api, module_types_come_from_content_type_or_extension)
{
    const char *t = tenant("acme", NULL);
    struct upload u = {0};
    part(&u, "metadata", "application/json", "{\"main_module\": \"w.cjs\"}");
    part(&u, "w.cjs", NULL,
         "const d = require('./d.json'); module.exports = { fetch() { return new "
         "Response(d.a); } };");
    part(&u, "d.json", NULL, "{\"a\": \"b\"}");
    part(&u, "t", "text/plain; charset=utf-8", "text");
    part(&u, "raw", "application/octet-stream", "raw");
    part(&u, "j", "application/json", "[1]");
    part(&u, "c", "application/javascript", "module.exports = 1;");
    part(&u, "m", "text/javascript+module", "export default 1;");
    deploy_u("acme", "api", t, &u, 201);
    struct ed_buf b = {0};
    struct ed_error err = {0};
    cr_assert_eq(st_cp_version_load(db, "acme", "api", 0, NULL, module_seen, &b, &err), 0);
    cr_expect_str_eq(b.data, "c:cjs:19 d.json:json:10 j:json:3 m:esm:17 raw:data:3 t:text:4 "
                             "w.cjs:cjs:90 ");
    ed_buf_dispose(&b);
    u = (struct upload){0};
    part(&u, "metadata", "application/json", "{\"main_module\": \"w.wasm\"}");
    part(&u, "w.wasm", "application/wasm", "\x00asm");
    json_t *j = deploy_u("acme", "api", t, &u, 400);
    cr_expect(strstr(err_of(j), "WebAssembly"), "%s", err_of(j));
}

Test(admin_api, routes_stay_within_what_the_operator_allowed)
{
    const char *acme =
        tenant("acme", "\"routes_allowed\": [\"acme.test\", \"*.shared.test/acme*\"]");
    const char *evil = tenant("evil", "\"routes_allowed\": [\"*\"]");
    deploy_text("acme", "api", acme, "'a'", 201);
    deploy_text("evil", "api", evil, "'e'", 201);
    call("PUT", "/v1/tenants/acme/routes", acme,
         "{\"pattern\": \"other.test/*\", \"worker\": \"api\"}", 403);
    call("PUT", "/v1/tenants/acme/routes", acme,
         "{\"pattern\": \"x.shared.test/evil\", \"worker\": \"api\"}", 403);
    json_t *j = call("PUT", "/v1/tenants/acme/routes", acme,
                     "{\"pattern\": \"ACME.test/api*\", \"worker\": \"api\"}", 201);
    cr_expect_str_eq(str(j, "pattern"), "acme.test/api*");
    call("PUT", "/v1/tenants/acme/routes", acme,
         "{\"pattern\": \"x.shared.test/acme/v1\", \"worker\": \"api\"}", 201);
    call("PUT", "/v1/tenants/acme/routes", acme,
         "{\"pattern\": \"acme.test/*\", \"worker\": \"nope\"}", 404);
    call("PUT", "/v1/tenants/acme/routes", acme, "{\"pattern\": \"acme.test/*\"}", 400);
    call("PUT", "/v1/tenants/acme/routes", acme, "{\"pattern\": \"a b/\", \"worker\": \"api\"}",
         400);
    /* another tenant may be allowed everything, but not what acme owns */
    j = call("PUT", "/v1/tenants/evil/routes", evil,
             "{\"pattern\": \"acme.test/api*\", \"worker\": \"api\"}", 409);
    cr_expect(strstr(err_of(j), "another tenant"), "%s", err_of(j));
    j = call("GET", "/v1/tenants/acme/routes", acme, NULL, 200);
    json_t *rs = json_object_get(j, "routes");
    cr_assert_eq(json_array_size(rs), 2);
    cr_expect_str_eq(str(json_array_get(rs, 0), "pattern"), "acme.test/api*");
    cr_expect_str_eq(str(json_array_get(rs, 0), "worker"), "api");
    call("DELETE", "/v1/tenants/evil/routes?pattern=acme.test%2Fapi%2A", evil, NULL, 404);
    call("DELETE", "/v1/tenants/acme/routes?pattern=acme.test%2Fapi%2A", acme, NULL, 204);
    call("DELETE", "/v1/tenants/acme/routes", acme, NULL, 400);
    call("DELETE", "/v1/tenants/acme/routes?pattern=%zz", acme, NULL, 400);
    /* a worker's routes go with it */
    call("DELETE", "/v1/tenants/acme/workers/api", acme, NULL, 204);
    j = call("GET", "/v1/tenants/acme/routes", acme, NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "routes")), 0);
}

Test(admin_api, patterns)
{
    char out[DP__PATTERN_MAX + 1];
    struct ed_error err = {0};
    const char *ok[][2] = {{"Example.COM", "example.com/*"},
                           {"example.com/", "example.com/"},
                           {"*.example.com/api/*", "*.example.com/api/*"},
                           {"*", "*/*"},
                           {"*/x", "*/x"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_expect_eq(dp__pattern_normalize(ok[i][0], strlen(ok[i][0]), out, &err), 0, "%s: %s",
                     ok[i][0], ed_error_msg(&err));
        cr_expect_str_eq(out, ok[i][1]);
    }
    const char *bad[] = {"",       "/x",      "a..b", ".a",        "a.",       "*.",      "a*b",
                         "*x.com", "a_b.com", "a:80", "a.com/x*y", "a.com/ x", "a.com/?q"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(dp__pattern_normalize(bad[i], strlen(bad[i]), out, &err), ED_EINVAL, "%s",
                     bad[i]);
    ed_error_dispose(&err);
    cr_expect(dp__pattern_within("a.com/x/y*", "a.com/*"));
    cr_expect(dp__pattern_within("a.com/x", "a.com/x"));
    cr_expect(!dp__pattern_within("a.com/x*", "a.com/x"));
    cr_expect(!dp__pattern_within("a.com/y", "a.com/x*"));
    cr_expect(dp__pattern_within("b.a.com/*", "*.a.com/*"));
    cr_expect(dp__pattern_within("*.b.a.com/*", "*.a.com/*"));
    cr_expect(!dp__pattern_within("a.com/*", "*.a.com/*"));
    cr_expect(!dp__pattern_within("xa.com/*", "*.a.com/*"));
    cr_expect(!dp__pattern_within("*/*", "*.a.com/*"));
    cr_expect(dp__pattern_within("anything.test/p", "*/*"));
    cr_expect(!dp__pattern_within("b.com/*", "a.com/*"));
}

Test(admin_api, usage_is_the_operators_or_the_tenants_own)
{
    const char *t = tenant("acme", NULL);
    tenant("evil", NULL);
    char day[ST_DAY_LEN];
    st_day(time(NULL), day);
    struct st_usage u = {.requests = 3};
    st_usage_add(db, "acme", day, &u);
    st_usage_add(db, "evil", day, &u);
    st_usage_add(db, "legacy", day, &u);
    json_t *j = call("GET", "/v1/usage", op, NULL, 200);
    cr_expect_eq(json_object_size(json_object_get(j, "tenants")), 3);
    j = call("GET", "/v1/usage", t, NULL, 200);
    cr_expect_eq(json_object_size(json_object_get(j, "tenants")), 1);
    cr_expect_eq(json_integer_value(json_object_get(
                     json_object_get(json_object_get(j, "tenants"), "acme"), "requests")),
                 3);
    call("GET", "/v1/usage?tenant=evil", t, NULL, 403);
    j = call("GET", "/v1/usage?tenant=evil", op, NULL, 200);
    cr_expect_not_null(json_object_get(json_object_get(j, "tenants"), "evil"));
    j = call("GET", "/v1/usage", "legacy-secret", NULL, 200);
    cr_expect_not_null(json_object_get(json_object_get(j, "tenants"), "legacy"));
    call("GET", "/v1/usage?day=yesterday", op, NULL, 400);
    call("POST", "/v1/usage", op, NULL, 405);
}
