/*
 * `edgectl deploy`: a project folder (with or without a wrangler file) or one file becomes one
 * upload — a metadata part (main module, compatibility date and flags, bindings) and one part
 * per module — sent as PUT /v1/tenants/T/workers/W; then the --route patterns are bound. What
 * the command line says overrides the configuration file, which overrides the defaults. Local
 * checks (names, types, sizes) happen before anything is sent, so a project that cannot be
 * deployed fails with exit code 2 and the node sees nothing. Secrets come from the
 * environment and are never printed, not even by --dry-run.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "deploy/edgectl/edgectl.h"

static bool ctl_is_day(const char *d)
{
    if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Drops bindings named name from the array (a command-line --var replaces the config's). */
static void drop_binding(json_t *bindings, const char *name)
{
    for (size_t i = json_array_size(bindings); i-- > 0;) {
        const char *n = json_string_value(json_object_get(json_array_get(bindings, i), "name"));
        if (n && strcmp(n, name) == 0)
            json_array_remove(bindings, i);
    }
}

/* --var NAME=VALUE and --secret NAME, in the order given, into bindings. */
static int add_option_bindings(struct dp_ctl *c, json_t *bindings)
{
    for (size_t i = 0; i < c->nopts; i++) {
        const char *opt = c->opts[i].name, *v = c->opts[i].value;
        json_t *b = NULL;
        if (strncmp(opt, "var=", 4) == 0) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v)
                return dp_ctl_fail(c, DP_CTL_USAGE, "--var wants NAME=VALUE, not %s", v);
            char *name = strndup(v, (size_t)(eq - v));
            if (!name)
                return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
            drop_binding(bindings, name);
            b = json_pack("{s:s, s:s, s:s}", "type", "plain_text", "name", name, "text", eq + 1);
            free(name);
        } else if (strncmp(opt, "secret=", 7) == 0) {
            const char *value = getenv(v);
            if (!value)
                return dp_ctl_fail(c, DP_CTL_USAGE,
                                   "--secret %s: the environment variable %s is not set (the "
                                   "secret's value is read from it)",
                                   v, v);
            drop_binding(bindings, v);
            b = json_pack("{s:s, s:s, s:s}", "type", "secret_text", "name", v, "text", value);
        } else {
            continue;
        }
        if (!b || json_array_append_new(bindings, b))
            return dp_ctl_fail(c, DP_CTL_USAGE, "%s: not valid UTF-8", v);
    }
    return 0;
}

/* The metadata with secret values replaced, for --dry-run. Returns owned or NULL. */
static json_t *redacted(const json_t *metadata)
{
    json_t *copy = json_deep_copy(metadata);
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(copy, "bindings"), i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (type && strcmp(type, "secret_text") == 0)
            json_object_set_new(b, "text", json_string("(secret)"));
    }
    return copy;
}

static int dry_run(struct dp_ctl *c, const char *worker, const char *root, const json_t *metadata,
                   const struct dp_ctl_bundle *b)
{
    json_t *shown = redacted(metadata);
    json_t *mods = json_array();
    for (size_t i = 0; mods && i < b->n; i++)
        json_array_append_new(mods, json_pack("{s:s, s:s, s:I}", "name", b->mods[i].name, "type",
                                              b->mods[i].content_type, "bytes",
                                              (json_int_t)b->mods[i].len));
    json_t *doc = json_pack("{s:s, s:s, s:o, s:o, s:I}", "worker", worker, "root", root, "metadata",
                            shown, "modules", mods, "bytes", (json_int_t)b->bytes);
    if (!doc)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    if (c->json) {
        dp_ctl_print_pretty(c->out, doc);
    } else {
        fprintf(c->out, "would deploy worker %s from %s (nothing sent)\n", worker, root);
        fprintf(c->out, "metadata:\n");
        dp_ctl_print_pretty(c->out, shown);
        struct dp_ctl_table tab;
        dp_ctl_table_init(&tab, 3);
        dp_ctl_table_row(&tab, "MODULE", "TYPE", "BYTES");
        for (size_t i = 0; i < b->n; i++) {
            char n[32];
            snprintf(n, sizeof n, "%zu", b->mods[i].len);
            dp_ctl_table_row(&tab, b->mods[i].name, b->mods[i].content_type, n);
        }
        dp_ctl_table_print(&tab, c->out);
        dp_ctl_table_dispose(&tab);
        fprintf(c->out, "%zu modules, %zu bytes\n", b->n, b->bytes);
    }
    json_decref(doc);
    return DP_CTL_OK;
}

/* Sends the bundle. Returns an exit code. */
static int upload(struct dp_ctl *c, const char *worker, const json_t *metadata,
                  const struct dp_ctl_bundle *b)
{
    char *meta = json_dumps(metadata, JSON_COMPACT);
    struct dp_form_part *parts = calloc(b->n + 1, sizeof *parts);
    if (!meta || !parts) {
        free(meta);
        free(parts);
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    }
    parts[0] = (struct dp_form_part){
        .name = "metadata", .content_type = "application/json", .data = meta, .len = strlen(meta)};
    for (size_t i = 0; i < b->n; i++)
        parts[i + 1] = (struct dp_form_part){.name = b->mods[i].name,
                                             .filename = b->mods[i].name,
                                             .content_type = b->mods[i].content_type,
                                             .data = b->mods[i].data,
                                             .len = b->mods[i].len};
    struct ed_buf body;
    ed_buf_init(&body);
    char *content_type = NULL;
    struct ed_error err = {0};
    int rc = dp_form_build(parts, b->n + 1, NULL, &body, &content_type, &err);
    /* the metadata may hold secrets: wipe the copies made here */
    memset(meta, 0, strlen(meta));
    free(meta);
    free(parts);
    if (rc) {
        rc = dp_ctl_fail(c, DP_CTL_USAGE, "%s", ed_error_msg(&err));
        ed_error_dispose(&err);
        goto out_body;
    }
    const char *tenant;
    if ((rc = dp_ctl_tenant(c, &tenant)))
        goto out_body;
    char *w = dp_ctl_escape(worker);
    char *suffix = NULL;
    if (!w || asprintf(&suffix, "/workers/%s", w) < 0)
        suffix = NULL;
    free(w);
    char *path = suffix ? dp_ctl_tenant_path(tenant, suffix) : NULL;
    free(suffix);
    if (!path) {
        rc = dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
        goto out_body;
    }
    json_t *doc = NULL;
    rc = dp_ctl_call(c, "PUT", path, NULL, content_type, body.data, body.len, &doc);
    free(path);
    if (rc == 0 && !c->json) {
        const json_t *v = json_object_get(doc, "version");
        fprintf(c->out, "deployed %s/%s version %lld (%zu modules, %zu bytes)\n", tenant, worker,
                json_is_integer(v) ? (long long)json_integer_value(v) : 0LL, b->n, b->bytes);
    }
    json_decref(doc);
out_body:
    if (body.data)
        memset(body.data, 0, body.len);
    ed_buf_dispose(&body);
    free(content_type);
    return rc;
}

int dp_ctl_cmd_deploy(struct dp_ctl *c)
{
    const char *target = c->nargs ? c->args[0] : ".";
    struct stat st;
    if (stat(target, &st) != 0)
        return dp_ctl_fail(c, DP_CTL_USAGE, "%s: %s", target, strerror(errno));
    bool is_dir = S_ISDIR(st.st_mode);
    struct dp_wrangler w = {0};
    struct dp_ctl_bundle b = {0};
    struct ed_error err = {0};
    char *root = NULL, *main_path = NULL, *stem = NULL;
    json_t *metadata = NULL;
    int rc = 0;

    if (is_dir) {
        char *cfg = dp_wrangler_find(target);
        if (cfg) {
            int r = dp_wrangler_read(cfg, &w, &err);
            free(cfg);
            if (r) {
                rc = dp_ctl_fail(c, DP_CTL_USAGE, "%s", ed_error_msg(&err));
                goto out;
            }
        }
    }
    const char *worker = dp_ctl_opt(c, "name");
    if (!worker)
        worker = w.name;
    if (!worker && !is_dir) {
        const char *base = strrchr(target, '/');
        stem = strdup(base ? base + 1 : target);
        char *dot = stem ? strrchr(stem, '.') : NULL;
        if (dot && dot != stem)
            *dot = '\0';
        worker = stem;
    }
    if (!worker || !*worker) {
        rc = dp_ctl_fail(c, DP_CTL_USAGE, "no worker name: pass --name N%s",
                         is_dir ? " or set name in wrangler.toml" : "");
        goto out;
    }

    if (is_dir) {
        const char *main = dp_ctl_opt(c, "main");
        if (!main)
            main = w.main ? w.main : "index.js";
        if (ends_with(main, ".ts") || ends_with(main, ".tsx") || ends_with(main, ".mts")) {
            rc = dp_ctl_fail(c, DP_CTL_USAGE,
                             "main module %s is TypeScript: build it to JavaScript and point "
                             "main (or --main) at the output; edgectl uploads modules as they "
                             "are",
                             main);
            goto out;
        }
        if (asprintf(&main_path, "%s/%s", target, main) < 0) {
            main_path = NULL;
            rc = dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
            goto out;
        }
        char *copy = strdup(main_path);
        char *dir = copy ? dirname(copy) : NULL;
        root = dir ? strdup(dir) : NULL;
        free(copy);
        char *copy2 = strdup(main_path);
        char *base = copy2 ? basename(copy2) : NULL;
        if (!root || !base) {
            free(copy2);
            rc = dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
            goto out;
        }
        int r =
            dp_ctl_bundle_dir(&b, root, base, DP_CTL_MAX_BUNDLE_BYTES, DP_CTL_MAX_MODULES, &err);
        free(copy2);
        if (r) {
            rc = dp_ctl_fail(c, DP_CTL_USAGE, "%s", ed_error_msg(&err));
            goto out;
        }
    } else {
        if (!(root = strdup(target))) {
            rc = dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
            goto out;
        }
        if (dp_ctl_bundle_file(&b, target, DP_CTL_MAX_BUNDLE_BYTES, &err)) {
            rc = dp_ctl_fail(c, DP_CTL_USAGE, "%s", ed_error_msg(&err));
            goto out;
        }
    }

    char today[16];
    const char *date = dp_ctl_opt(c, "compatibility-date");
    if (!date)
        date = w.compatibility_date;
    if (!date) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(today, sizeof today, "%Y-%m-%d", &tm);
        date = today;
    }
    if (!ctl_is_day(date)) {
        rc = dp_ctl_fail(c, DP_CTL_USAGE, "compatibility date %s is not YYYY-MM-DD", date);
        goto out;
    }
    json_t *bindings = w.bindings ? json_incref(w.bindings) : json_array();
    metadata = json_pack("{s:s, s:s, s:o}", "main_module", b.main_module, "compatibility_date",
                         date, "bindings", bindings);
    if (!metadata || (w.compatibility_flags &&
                      json_object_set(metadata, "compatibility_flags", w.compatibility_flags))) {
        rc = dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
        goto out;
    }
    if ((rc = add_option_bindings(c, json_object_get(metadata, "bindings"))))
        goto out;

    if (dp_ctl_flag(c, "dry-run")) {
        rc = dry_run(c, worker, root, metadata, &b);
        goto out;
    }
    if ((rc = upload(c, worker, metadata, &b)))
        goto out;
    for (size_t i = 0; i < c->nopts && rc == 0; i++)
        if (strncmp(c->opts[i].name, "route=", 6) == 0)
            rc = dp_ctl_route_add(c, c->opts[i].value, worker);
out:
    ed_error_dispose(&err);
    json_decref(metadata);
    dp_ctl_bundle_dispose(&b);
    dp_wrangler_dispose(&w);
    free(root);
    free(main_path);
    free(stem);
    return rc;
}
