/*
 * Between the commands and HTTP: where the node and the token come from (flags, then the
 * environment, then the node's data folder for the operator's token), one call to the API with
 * its answer turned into an exit code and a one-line message, and the tenant a command acts
 * on. Every message the API sends is printed on one line whatever bytes it holds, so scripts
 * can grep it, and a token is never printed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/edgectl/edgectl.h"

#define CTL_DEFAULT_URL "http://127.0.0.1:8081"
#define CTL_MAX_TOKEN 1024

int dp_ctl_fail(struct dp_ctl *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("edgectl: ", c->errs);
    vfprintf(c->errs, fmt, ap);
    fputc('\n', c->errs);
    va_end(ap);
    return code;
}

/* DIR/operator.token, trimmed. */
static int read_token_file(struct dp_ctl *c)
{
    char *path = NULL;
    if (asprintf(&path, "%s/operator.token", c->data_dir) < 0)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        int rc = dp_ctl_fail(c, DP_CTL_USAGE, "cannot read the operator token %s: %s", path,
                             strerror(e));
        free(path);
        return rc;
    }
    char buf[CTL_MAX_TOKEN + 2];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    int rc = 0;
    if (n == 0 || n > CTL_MAX_TOKEN)
        rc = dp_ctl_fail(c, DP_CTL_USAGE, "%s does not hold a token", path);
    else if (!(c->token_owned = strdup(buf)))
        rc = dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    memset(buf, 0, sizeof buf);
    free(path);
    return rc;
}

/* Picks the node's URL and the token, once. Returns 0 or an exit code. */
static int ctl_connect(struct dp_ctl *c)
{
    if (c->http.base)
        return 0;
    const char *url = c->url;
    if (!url || !*url)
        url = getenv("EDGED_URL");
    if (!url || !*url)
        url = CTL_DEFAULT_URL;
    /* the contract's order: --token, $EDGED_TOKEN, then the operator's file under --data */
    const char *token = c->token;
    if (!token || !*token)
        token = getenv("EDGED_TOKEN");
    if ((!token || !*token) && c->data_dir) {
        int rc = read_token_file(c);
        if (rc)
            return rc;
        token = c->token_owned;
    }
    if (!token || !*token)
        return dp_ctl_fail(c, DP_CTL_USAGE,
                           "no token: pass --token TOKEN, set EDGED_TOKEN, or give --data DIR "
                           "(the node's data folder, for its operator token)");
    for (const char *p = token; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return dp_ctl_fail(c, DP_CTL_USAGE, "the token contains spaces or control characters");
    if (dp_ctl_http_init(&c->http, url, token))
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    return 0;
}

/* The API's error message (its "error" field, else the start of the body) on one line. */
static void error_message(const struct dp_ctl_response *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    json_t *doc = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(doc, "error"));
    if (msg)
        snprintf(buf, cap, "%s", msg);
    else if (r->body.len)
        snprintf(buf, cap, "%.*s", (int)(r->body.len < 200 ? r->body.len : 200), r->body.data);
    json_decref(doc);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = ' ';
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
    if (!buf[0])
        snprintf(buf, cap, "the node refused the request");
}

static int ctl_call(struct dp_ctl *c, bool show, const char *method, const char *path,
                    const json_t *body, const char *content_type, const void *raw, size_t len,
                    json_t **doc)
{
    if (doc)
        *doc = NULL;
    int rc = ctl_connect(c);
    if (rc)
        return rc;
    char *dump = NULL;
    if (body) {
        if (!(dump = json_dumps(body, JSON_COMPACT)))
            return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
        content_type = "application/json";
        raw = dump;
        len = strlen(dump);
    }
    struct dp_ctl_response r;
    struct ed_error err = {0};
    rc = dp_ctl_http_request(&c->http, method, path, raw ? content_type : NULL, raw, len, &r, &err);
    free(dump);
    if (rc) {
        rc = dp_ctl_fail(c, rc == ED_EINVAL ? DP_CTL_USAGE : DP_CTL_UNREACHABLE, "%s",
                         ed_error_msg(&err));
        ed_error_dispose(&err);
        return rc;
    }
    if (r.status < 200 || r.status > 299) {
        char msg[512];
        error_message(&r, msg, sizeof msg);
        if (c->json && r.body.len) {
            fwrite(r.body.data, 1, r.body.len, c->out);
            if (r.body.data[r.body.len - 1] != '\n')
                fputc('\n', c->out);
        }
        rc = dp_ctl_fail(c, DP_CTL_REFUSED, "%s (HTTP %ld)", msg, r.status);
        dp_ctl_response_dispose(&r);
        return rc;
    }
    if (show && c->json && r.body.len) {
        fwrite(r.body.data, 1, r.body.len, c->out);
        if (r.body.data[r.body.len - 1] != '\n')
            fputc('\n', c->out);
    }
    if (doc && r.body.len) {
        json_error_t je;
        *doc = json_loadb(r.body.data, r.body.len, 0, &je);
        if (!*doc)
            rc = dp_ctl_fail(c, DP_CTL_REFUSED, "the node's answer to %s %s is not JSON: %s",
                             method, path, je.text);
    }
    dp_ctl_response_dispose(&r);
    return rc;
}

int dp_ctl_call(struct dp_ctl *c, const char *method, const char *path, const json_t *body,
                const char *content_type, const void *raw, size_t len, json_t **doc)
{
    return ctl_call(c, true, method, path, body, content_type, raw, len, doc);
}

char *dp_ctl_tenant_path(const char *tenant, const char *suffix)
{
    char *t = dp_ctl_escape(tenant);
    char *path = NULL;
    if (t && asprintf(&path, "/v1/tenants/%s%s", t, suffix ? suffix : "") < 0)
        path = NULL;
    free(t);
    return path;
}

int dp_ctl_tenant(struct dp_ctl *c, const char **tenant)
{
    if (c->tenant && *c->tenant) {
        *tenant = c->tenant;
        return 0;
    }
    if (!c->whoami) {
        json_t *doc = NULL;
        int rc = ctl_call(c, false, "GET", "/v1/whoami", NULL, NULL, NULL, 0, &doc);
        if (rc)
            return rc;
        const json_t *t = json_object_get(doc, "tenant");
        if (!json_is_string(t) && !json_is_null(t)) {
            json_decref(doc);
            return dp_ctl_fail(c, DP_CTL_REFUSED,
                               "the node's /v1/whoami did not say whose the token is");
        }
        c->whoami = strdup(json_is_string(t) ? json_string_value(t) : "");
        json_decref(doc);
        if (!c->whoami)
            return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    }
    if (!*c->whoami)
        return dp_ctl_fail(c, DP_CTL_USAGE,
                           "the operator's token belongs to no tenant: pass --tenant T");
    *tenant = c->whoami;
    return 0;
}

int dp_ctl_call_quiet(struct dp_ctl *c, const char *method, const char *path, const json_t *body,
                      json_t **doc)
{
    return ctl_call(c, false, method, path, body, NULL, NULL, 0, doc);
}

int dp_ctl_stream(struct dp_ctl *c, const char *path)
{
    int rc = ctl_connect(c);
    if (rc)
        return rc;
    struct dp_ctl_response r;
    struct ed_error err = {0};
    rc = dp_ctl_http_stream(&c->http, path, c->out, &r, &err);
    if (rc) {
        rc = dp_ctl_fail(c, rc == ED_EINVAL ? DP_CTL_USAGE : DP_CTL_UNREACHABLE, "%s",
                         ed_error_msg(&err));
        ed_error_dispose(&err);
        return rc;
    }
    if (r.status >= 200 && r.status <= 299) {
        dp_ctl_response_dispose(&r);
        return DP_CTL_OK;
    }
    char msg[512];
    error_message(&r, msg, sizeof msg);
    if (r.status == 404 || r.status == 405) /* a node from before the endpoint existed */
        rc = dp_ctl_fail(c, DP_CTL_REFUSED, "this node may not have %s yet: %s (HTTP %ld)", path,
                         msg, r.status);
    else
        rc = dp_ctl_fail(c, DP_CTL_REFUSED, "%s (HTTP %ld)", msg, r.status);
    dp_ctl_response_dispose(&r);
    return rc;
}
