/*
 * edgectl's commands other than deploy: each is one or two API calls (the contract's table)
 * and a few lines or a table for people; --json leaves the printing to the API's own answer.
 * Confirmations go to stdout, except where stdout carries a secret (a new token), which is
 * then the only thing on stdout so that `TOKEN=$(edgectl token create)` works.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/edgectl/edgectl.h"

static const char *const ctl_quota_opts[][2] = {
    {"cpu-ms", "cpu_ms"},
    {"heap-mb", "heap_mb"},
    {"max-children", "max_children"},
    {"storage-bytes", "storage_bytes"},
    {"requests-per-s", "requests_per_s"},
    {"bundle-bytes", "bundle_bytes"},
    {"workers", "workers"},
};

/* The quota options given, as the API's quotas object. Returns the count, or -1 after a
 * message (*out NULL). */
static int quotas_from_options(struct dp_ctl *c, json_t **out)
{
    *out = json_object();
    if (!*out) {
        dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
        return -1;
    }
    int n = 0;
    for (size_t i = 0; i < sizeof ctl_quota_opts / sizeof ctl_quota_opts[0]; i++) {
        long long v;
        int rc = dp_ctl_opt_int(c, ctl_quota_opts[i][0], &v);
        if (rc < 0)
            goto out_fail;
        if (rc == 0) {
            if (json_object_set_new(*out, ctl_quota_opts[i][1], json_integer(v)))
                goto out_fail;
            n++;
        }
    }
    return n;
out_fail:
    json_decref(*out);
    *out = NULL;
    return -1;
}

/* A tenant for people: one "key  value" line per field. */
static void print_tenant(struct dp_ctl *c, const json_t *t)
{
    char buf[1024];
    struct dp_ctl_table tab;
    dp_ctl_table_init(&tab, 2);
    static const char *const keys[] = {"name", "status", "cordon", "created"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        dp_ctl_table_row(&tab, keys[i],
                         dp_ctl_cell(json_object_get(t, keys[i]), i == 3, buf, sizeof buf));
    struct ed_buf b;
    ed_buf_init(&b);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(t, "quotas"), k, v)
    {
        ed_buf_appendf(&b, "%s%s=%s", b.len ? " " : "", k,
                       dp_ctl_cell(v, false, buf, sizeof buf) ? buf : "-");
    }
    dp_ctl_table_row(&tab, "quotas", b.len ? b.data : "(the node's defaults)");
    ed_buf_clear(&b);
    size_t i;
    json_array_foreach(json_object_get(t, "routes_allowed"), i, v)
    {
        ed_buf_appendf(&b, "%s%s", b.len ? ", " : "", json_string_value(v) ?: "?");
    }
    dp_ctl_table_row(&tab, "routes allowed", b.len ? b.data : "(none)");
    ed_buf_dispose(&b);
    dp_ctl_table_print(&tab, c->out);
    dp_ctl_table_dispose(&tab);
}

/* PATCH /v1/tenants/NAME with body (taken), then the tenant as the API returned it. */
static int patch_tenant(struct dp_ctl *c, const char *name, json_t *body)
{
    char *path = dp_ctl_tenant_path(name, NULL);
    if (!body || !path) {
        json_decref(body);
        free(path);
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    }
    json_t *doc = NULL;
    int rc = dp_ctl_call(c, "PATCH", path, body, NULL, NULL, 0, &doc);
    if (rc == 0 && !c->json) {
        if (json_is_object(doc))
            print_tenant(c, doc);
        else
            fprintf(c->out, "tenant %s updated\n", name);
    }
    json_decref(doc);
    json_decref(body);
    free(path);
    return rc;
}

/* A call on a tenant-scoped path: suffix after /v1/tenants/T (T from dp_ctl_tenant). */
static int tenant_call(struct dp_ctl *c, const char *method, const char *suffix, const json_t *body,
                       json_t **doc, const char **tenant_out)
{
    const char *tenant;
    int rc = dp_ctl_tenant(c, &tenant);
    if (rc)
        return rc;
    if (tenant_out)
        *tenant_out = tenant;
    char *path = dp_ctl_tenant_path(tenant, suffix);
    if (!path)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    rc = dp_ctl_call(c, method, path, body, NULL, NULL, 0, doc);
    free(path);
    return rc;
}

/* "/workers/W" + rest, W escaped. Returns owned or NULL. */
static char *worker_suffix(const char *worker, const char *rest)
{
    char *w = dp_ctl_escape(worker);
    char *s = NULL;
    if (w && asprintf(&s, "/workers/%s%s", w, rest ? rest : "") < 0)
        s = NULL;
    free(w);
    return s;
}

/* Prints rows of an array of objects as a table: keys[i] under heads[i]. */
static void print_list(struct dp_ctl *c, const json_t *list, size_t ncols, const char *const *heads,
                       const char *const *keys, const char *empty)
{
    if (json_array_size(list) == 0) {
        fprintf(c->out, "%s\n", empty);
        return;
    }
    struct dp_ctl_table tab;
    dp_ctl_table_init(&tab, ncols);
    const char *h[6] = {0};
    for (size_t i = 0; i < ncols && i < 6; i++)
        h[i] = heads[i];
    dp_ctl_table_row(&tab, h[0], h[1], h[2], h[3], h[4], h[5]);
    size_t r;
    const json_t *row;
    json_array_foreach(list, r, row)
    {
        char bufs[6][512];
        const char *cell[6] = {0};
        for (size_t i = 0; i < ncols && i < 6; i++) {
            bool is_time = strcmp(keys[i], "created") == 0 || strcmp(keys[i], "deployed") == 0 ||
                           strcmp(keys[i], "last_used") == 0;
            cell[i] = dp_ctl_cell(json_object_get(row, keys[i]), is_time, bufs[i], 512);
        }
        dp_ctl_table_row(&tab, cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]);
    }
    dp_ctl_table_print(&tab, c->out);
    dp_ctl_table_dispose(&tab);
}

/* ---- tenants (operator) ------------------------------------------------------------------ */

int dp_ctl_cmd_tenant_create(struct dp_ctl *c)
{
    json_t *quotas;
    int n = quotas_from_options(c, &quotas);
    if (n < 0)
        return DP_CTL_USAGE;
    json_t *body = json_pack("{s:s}", "name", c->args[0]);
    if (!body || (n > 0 && json_object_set(body, "quotas", quotas))) {
        json_decref(body);
        json_decref(quotas);
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    }
    json_decref(quotas);
    json_t *doc = NULL;
    int rc = dp_ctl_call(c, "POST", "/v1/tenants", body, NULL, NULL, 0, &doc);
    json_decref(body);
    if (rc == 0 && !c->json) {
        const char *token = json_string_value(json_object_get(doc, "token"));
        fprintf(c->errs, "edgectl: tenant %s created%s\n", c->args[0],
                token ? "; its token, shown once (keep it):" : "");
        if (token)
            fprintf(c->out, "%s\n", token);
    }
    json_decref(doc);
    return rc;
}

int dp_ctl_cmd_tenant_list(struct dp_ctl *c)
{
    json_t *doc = NULL;
    int rc = dp_ctl_call(c, "GET", "/v1/tenants", NULL, NULL, NULL, 0, &doc);
    if (rc == 0 && !c->json) {
        static const char *const heads[] = {"NAME", "STATUS", "CORDON", "CREATED"};
        static const char *const keys[] = {"name", "status", "cordon", "created"};
        print_list(c, json_object_get(doc, "tenants"), 4, heads, keys, "no tenants");
    }
    json_decref(doc);
    return rc;
}

int dp_ctl_cmd_tenant_show(struct dp_ctl *c)
{
    char *path = dp_ctl_tenant_path(c->args[0], NULL);
    if (!path)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    json_t *doc = NULL;
    int rc = dp_ctl_call(c, "GET", path, NULL, NULL, NULL, 0, &doc);
    if (rc == 0 && !c->json)
        print_tenant(c, doc);
    json_decref(doc);
    free(path);
    return rc;
}

int dp_ctl_cmd_tenant_quota(struct dp_ctl *c)
{
    json_t *quotas;
    int n = quotas_from_options(c, &quotas);
    if (n < 0)
        return DP_CTL_USAGE;
    if (n == 0) {
        json_decref(quotas);
        return dp_ctl_fail(c, DP_CTL_USAGE,
                           "tenant quota: give at least one quota (see `edgectl tenant quota "
                           "--help`)");
    }
    return patch_tenant(c, c->args[0], json_pack("{s:o}", "quotas", quotas));
}

int dp_ctl_cmd_tenant_suspend(struct dp_ctl *c)
{
    return patch_tenant(c, c->args[0], json_pack("{s:s}", "status", "suspended"));
}

int dp_ctl_cmd_tenant_resume(struct dp_ctl *c)
{
    return patch_tenant(c, c->args[0], json_pack("{s:s}", "status", "active"));
}

int dp_ctl_cmd_tenant_cordon(struct dp_ctl *c)
{
    const char *which = c->args[1];
    if (strcmp(which, "default") != 0 && strcmp(which, "own") != 0)
        return dp_ctl_fail(c, DP_CTL_USAGE, "tenant cordon: the cordon is default or own, not %s",
                           which);
    return patch_tenant(c, c->args[0], json_pack("{s:s}", "cordon", which));
}

int dp_ctl_cmd_tenant_delete(struct dp_ctl *c)
{
    char *path = dp_ctl_tenant_path(c->args[0], NULL);
    if (!path)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    int rc = dp_ctl_call(c, "DELETE", path, NULL, NULL, NULL, 0, NULL);
    if (rc == 0 && !c->json)
        fprintf(c->out, "tenant %s deleted\n", c->args[0]);
    free(path);
    return rc;
}

int dp_ctl_cmd_tenant_allow_route(struct dp_ctl *c)
{
    char *path = dp_ctl_tenant_path(c->args[0], NULL);
    if (!path)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    json_t *doc = NULL;
    int rc = dp_ctl_call_quiet(c, "GET", path, NULL, &doc);
    free(path);
    if (rc)
        return rc;
    const json_t *have = json_object_get(doc, "routes_allowed");
    json_t *allowed = json_is_array(have) ? json_copy((json_t *)have) : json_array();
    json_decref(doc);
    if (!allowed)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    for (size_t a = 1; a < c->nargs; a++) {
        bool dup = false;
        size_t i;
        const json_t *v;
        json_array_foreach(allowed, i, v) dup =
            dup || (json_is_string(v) && strcmp(json_string_value(v), c->args[a]) == 0);
        if (!dup && json_array_append_new(allowed, json_string(c->args[a]))) {
            json_decref(allowed);
            return dp_ctl_fail(c, DP_CTL_USAGE, "%s: not a valid UTF-8 pattern", c->args[a]);
        }
    }
    return patch_tenant(c, c->args[0], json_pack("{s:o}", "routes_allowed", allowed));
}

/* ---- workers, versions, routes ------------------------------------------------------------- */

int dp_ctl_cmd_workers(struct dp_ctl *c)
{
    json_t *doc = NULL;
    int rc = tenant_call(c, "GET", "/workers", NULL, &doc, NULL);
    if (rc == 0 && !c->json) {
        static const char *const heads[] = {"NAME", "VERSION", "DEPLOYED"};
        static const char *const keys[] = {"name", "version", "deployed"};
        print_list(c, json_object_get(doc, "workers"), 3, heads, keys, "no workers");
    }
    json_decref(doc);
    return rc;
}

int dp_ctl_cmd_delete_worker(struct dp_ctl *c)
{
    char *suffix = worker_suffix(c->args[0], NULL);
    if (!suffix)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    const char *tenant = NULL;
    int rc = tenant_call(c, "DELETE", suffix, NULL, NULL, &tenant);
    if (rc == 0 && !c->json)
        fprintf(c->out, "worker %s/%s deleted\n", tenant, c->args[0]);
    free(suffix);
    return rc;
}

int dp_ctl_cmd_versions(struct dp_ctl *c)
{
    char *suffix = worker_suffix(c->args[0], "/versions");
    if (!suffix)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    json_t *doc = NULL;
    int rc = tenant_call(c, "GET", suffix, NULL, &doc, NULL);
    free(suffix);
    if (rc == 0 && !c->json) {
        /* "live" as a word, not yes/no: one row has it */
        json_t *list = json_object_get(doc, "versions");
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            json_object_set_new(
                v, "live", json_string(json_is_true(json_object_get(v, "live")) ? "live" : ""));
        }
        static const char *const heads[] = {"VERSION", "CREATED", "BYTES", "LIVE"};
        static const char *const keys[] = {"version", "created", "bytes", "live"};
        print_list(c, list, 4, heads, keys, "no versions");
    }
    json_decref(doc);
    return rc;
}

int dp_ctl_cmd_rollback(struct dp_ctl *c)
{
    char *end;
    long long version = strtoll(c->args[1], &end, 10);
    if (!*c->args[1] || *end || version < 1)
        return dp_ctl_fail(c, DP_CTL_USAGE,
                           "rollback: VERSION is a number from `edgectl "
                           "versions`, not %s",
                           c->args[1]);
    char *suffix = worker_suffix(c->args[0], "/rollback");
    json_t *body = json_pack("{s:I}", "version", (json_int_t)version);
    if (!suffix || !body) {
        free(suffix);
        json_decref(body);
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    }
    json_t *doc = NULL;
    const char *tenant = NULL;
    int rc = tenant_call(c, "POST", suffix, body, &doc, &tenant);
    if (rc == 0 && !c->json) {
        const json_t *live = json_object_get(doc, "version");
        fprintf(c->out, "%s/%s: version %lld is live\n", tenant, c->args[0],
                json_is_integer(live) ? (long long)json_integer_value(live) : version);
    }
    json_decref(doc);
    json_decref(body);
    free(suffix);
    return rc;
}

int dp_ctl_cmd_routes_list(struct dp_ctl *c)
{
    json_t *doc = NULL;
    int rc = tenant_call(c, "GET", "/routes", NULL, &doc, NULL);
    if (rc == 0 && !c->json) {
        static const char *const heads[] = {"PATTERN", "WORKER"};
        static const char *const keys[] = {"pattern", "worker"};
        print_list(c, json_object_get(doc, "routes"), 2, heads, keys, "no routes");
    }
    json_decref(doc);
    return rc;
}

/* Also used by deploy --route. */
int dp_ctl_route_add(struct dp_ctl *c, const char *pattern, const char *worker)
{
    json_t *body = json_pack("{s:s, s:s}", "pattern", pattern, "worker", worker);
    if (!body)
        return dp_ctl_fail(c, DP_CTL_USAGE, "%s: not a valid UTF-8 pattern", pattern);
    int rc = tenant_call(c, "PUT", "/routes", body, NULL, NULL);
    if (rc == 0 && !c->json)
        fprintf(c->out, "route %s -> %s\n", pattern, worker);
    json_decref(body);
    return rc;
}

int dp_ctl_cmd_routes_add(struct dp_ctl *c)
{
    return dp_ctl_route_add(c, c->args[0], c->args[1]);
}

int dp_ctl_cmd_routes_rm(struct dp_ctl *c)
{
    char *p = dp_ctl_escape(c->args[0]);
    char *suffix = NULL;
    if (!p || asprintf(&suffix, "/routes?pattern=%s", p) < 0) {
        free(p);
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    }
    free(p);
    int rc = tenant_call(c, "DELETE", suffix, NULL, NULL, NULL);
    if (rc == 0 && !c->json)
        fprintf(c->out, "route %s removed\n", c->args[0]);
    free(suffix);
    return rc;
}

/* ---- usage, tokens, logs, whoami ----------------------------------------------------------- */

static bool is_day(const char *d)
{
    static const char shape[] = "dddd-dd-dd";
    if (strlen(d) != sizeof shape - 1)
        return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (d[i] < '0' || d[i] > '9') : d[i] != '-')
            return false;
    return true;
}

int dp_ctl_cmd_usage(struct dp_ctl *c)
{
    const char *day = dp_ctl_opt(c, "day");
    if (day && !is_day(day))
        return dp_ctl_fail(c, DP_CTL_USAGE, "--day is a UTC day as YYYY-MM-DD, not %s", day);
    char *t = c->tenant ? dp_ctl_escape(c->tenant) : NULL;
    char *path = NULL;
    if (asprintf(&path, "/v1/usage%s%s%s%s", t ? "?tenant=" : "", t ? t : "",
                 day ? (t ? "&day=" : "?day=") : "", day ? day : "") < 0)
        path = NULL;
    free(t);
    if (!path)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    json_t *doc = NULL;
    int rc = dp_ctl_call(c, "GET", path, NULL, NULL, NULL, 0, &doc);
    free(path);
    if (rc == 0 && !c->json) {
        const json_t *tenants = json_object_get(doc, "tenants");
        fprintf(c->out, "usage on %s (UTC)\n",
                json_string_value(json_object_get(doc, "day")) ?: (day ? day : "today"));
        if (json_object_size(tenants) == 0) {
            fprintf(c->out, "no usage\n");
        } else {
            /* one block per tenant: the counters are many, a wide table would wrap */
            struct dp_ctl_table tab;
            dp_ctl_table_init(&tab, 2);
            const char *k, *ck;
            json_t *v, *cv;
            char buf[64];
            json_object_foreach((json_t *)tenants, k, v)
            {
                dp_ctl_table_row(&tab, "tenant", k);
                json_object_foreach(v, ck, cv)
                {
                    dp_ctl_table_row(&tab, ck, dp_ctl_cell(cv, false, buf, sizeof buf));
                }
            }
            dp_ctl_table_print(&tab, c->out);
            dp_ctl_table_dispose(&tab);
        }
    }
    json_decref(doc);
    return rc;
}

int dp_ctl_cmd_token_create(struct dp_ctl *c)
{
    const char *label = dp_ctl_opt(c, "label");
    json_t *body = label ? json_pack("{s:s}", "label", label) : json_object();
    if (!body)
        return dp_ctl_fail(c, DP_CTL_USAGE, "--label must be UTF-8 text");
    json_t *doc = NULL;
    const char *tenant = NULL;
    int rc = tenant_call(c, "POST", "/tokens", body, &doc, &tenant);
    json_decref(body);
    if (rc == 0 && !c->json) {
        const char *token = json_string_value(json_object_get(doc, "token"));
        const char *id = json_string_value(json_object_get(doc, "id"));
        fprintf(c->errs, "edgectl: token %s created for tenant %s; shown once (keep it):\n",
                id ? id : "?", tenant);
        if (token)
            fprintf(c->out, "%s\n", token);
    }
    json_decref(doc);
    return rc;
}

int dp_ctl_cmd_token_list(struct dp_ctl *c)
{
    json_t *doc = NULL;
    int rc = tenant_call(c, "GET", "/tokens", NULL, &doc, NULL);
    if (rc == 0 && !c->json) {
        static const char *const heads[] = {"ID", "LABEL", "CREATED", "LAST USED", "REVOKED"};
        static const char *const keys[] = {"id", "label", "created", "last_used", "revoked"};
        print_list(c, json_object_get(doc, "tokens"), 5, heads, keys, "no tokens");
    }
    json_decref(doc);
    return rc;
}

int dp_ctl_cmd_token_revoke(struct dp_ctl *c)
{
    char *id = dp_ctl_escape(c->args[0]);
    char *suffix = NULL;
    if (!id || asprintf(&suffix, "/tokens/%s", id) < 0) {
        free(id);
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    }
    free(id);
    int rc = tenant_call(c, "DELETE", suffix, NULL, NULL, NULL);
    if (rc == 0 && !c->json)
        fprintf(c->out, "token %s revoked\n", c->args[0]);
    free(suffix);
    return rc;
}

int dp_ctl_cmd_logs(struct dp_ctl *c)
{
    const char *tenant;
    int rc = dp_ctl_tenant(c, &tenant);
    if (rc)
        return rc;
    char *path = dp_ctl_tenant_path(tenant, dp_ctl_flag(c, "follow") ? "/logs?follow=1" : "/logs");
    if (!path)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    /* NDJSON either way: printed as it comes, --json or not */
    rc = dp_ctl_stream(c, path);
    free(path);
    return rc;
}

int dp_ctl_cmd_whoami(struct dp_ctl *c)
{
    json_t *doc = NULL;
    int rc = dp_ctl_call(c, "GET", "/v1/whoami", NULL, NULL, NULL, 0, &doc);
    if (rc == 0 && !c->json) {
        const char *t = json_string_value(json_object_get(doc, "tenant"));
        if (t)
            fprintf(c->out, "tenant %s\n", t);
        else
            fprintf(c->out, "operator\n");
    }
    json_decref(doc);
    return rc;
}
