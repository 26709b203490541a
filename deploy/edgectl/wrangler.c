/*
 * A Workers project's configuration (wrangler.toml, wrangler.jsonc, wrangler.json) mapped onto
 * what a deploy needs: the worker's name, its main module, its compatibility date and flags,
 * and its bindings in the upload metadata's shape. Only the keys that edged can honour are
 * read; a project that also sets account_id, routes, build or migrations deploys the same,
 * since those are wrangler's business or the operator's here. A key edged reads but whose value
 * has the wrong shape is an error naming it, so a typo does not silently drop a binding.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/edgectl/edgectl.h"

char *dp_wrangler_find(const char *dir)
{
    static const char *const names[] = {"wrangler.json", "wrangler.jsonc", "wrangler.toml"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
            return NULL;
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return path;
        free(path);
    }
    return NULL;
}

void dp_wrangler_dispose(struct dp_wrangler *w)
{
    free(w->path);
    free(w->name);
    free(w->main);
    free(w->compatibility_date);
    json_decref(w->compatibility_flags);
    json_decref(w->bindings);
    memset(w, 0, sizeof *w);
}

static int opt_string(const json_t *doc, const char *key, const char *file, char **out,
                      struct ed_error *err)
{
    const json_t *v = json_object_get(doc, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return ed_error_set(err, ED_ECONFIG, "%s: %s must be a non-empty string", file, key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return ed_error_set(err, ED_ECONFIG, "%s: %s contains a NUL", file, key);
    *out = strdup(json_string_value(v));
    return *out ? 0 : ED_ENOMEM;
}

static int push_binding(json_t *bindings, json_t *b)
{
    return b && json_array_append_new(bindings, b) == 0 ? 0 : ED_ENOMEM;
}

/* vars = { NAME = "text" }: strings become plain_text bindings. Workers would send any other
 * value as a JSON binding, which edged does not have; refusing beats changing its type. */
static int map_vars(const json_t *vars, const char *file, json_t *bindings, struct ed_error *err)
{
    if (!json_is_object(vars))
        return ed_error_set(err, ED_ECONFIG, "%s: vars must be a table of NAME = \"value\"", file);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)vars, k, v)
    {
        if (!json_is_string(v))
            return ed_error_set(err, ED_ECONFIG,
                                "%s: vars.%s: only string values are supported (edged has no "
                                "JSON bindings): quote it",
                                file, k);
        if (push_binding(bindings,
                         json_pack("{s:s, s:s, s:O}", "type", "plain_text", "name", k, "text", v)))
            return ED_ENOMEM;
    }
    return 0;
}

static int map_durable_objects(const json_t *dobj, const char *file, json_t *bindings,
                               struct ed_error *err)
{
    if (!json_is_object(dobj))
        return ed_error_set(err, ED_ECONFIG, "%s: durable_objects must be a table", file);
    const json_t *list = json_object_get(dobj, "bindings");
    if (!list)
        return 0;
    if (!json_is_array(list))
        return ed_error_set(err, ED_ECONFIG,
                            "%s: durable_objects.bindings must be an array of "
                            "{ name = \"X\", class_name = \"Y\" }",
                            file);
    size_t i;
    const json_t *b;
    json_array_foreach(list, i, b)
    {
        const json_t *name = json_object_get(b, "name");
        const json_t *cls = json_object_get(b, "class_name");
        if (!json_is_object(b) || !json_is_string(name) || !json_is_string(cls))
            return ed_error_set(err, ED_ECONFIG,
                                "%s: durable_objects.bindings[%zu] needs name and class_name "
                                "strings",
                                file, i);
        if (json_object_get(b, "script_name"))
            return ed_error_set(err, ED_ECONFIG,
                                "%s: durable_objects.bindings[%zu]: script_name (a class of "
                                "another worker) is not supported: the class must be exported "
                                "by this worker",
                                file, i);
        if (push_binding(bindings, json_pack("{s:s, s:O, s:O}", "type", "durable_object_namespace",
                                             "name", name, "class_name", cls)))
            return ED_ENOMEM;
    }
    return 0;
}

static int map_worker_loaders(const json_t *list, const char *file, json_t *bindings,
                              struct ed_error *err)
{
    if (!json_is_array(list))
        return ed_error_set(err, ED_ECONFIG,
                            "%s: worker_loaders must be an array of { binding = \"X\" }", file);
    size_t i;
    const json_t *b;
    json_array_foreach(list, i, b)
    {
        const json_t *name = json_object_get(b, "binding");
        if (!json_is_object(b) || !json_is_string(name))
            return ed_error_set(err, ED_ECONFIG, "%s: worker_loaders[%zu] needs a binding string",
                                file, i);
        if (push_binding(bindings, json_pack("{s:s, s:O}", "type", "worker_loader", "name", name)))
            return ED_ENOMEM;
    }
    return 0;
}

int dp_wrangler_map(const json_t *doc, const char *file, struct dp_wrangler *w,
                    struct ed_error *err)
{
    int rc;
    if ((rc = opt_string(doc, "name", file, &w->name, err)) ||
        (rc = opt_string(doc, "main", file, &w->main, err)) ||
        (rc = opt_string(doc, "compatibility_date", file, &w->compatibility_date, err)))
        return rc == ED_ENOMEM ? ed_error_set(err, rc, "out of memory") : rc;
    const json_t *flags = json_object_get(doc, "compatibility_flags");
    if (flags) {
        size_t i;
        const json_t *f;
        bool ok = json_is_array(flags);
        json_array_foreach(flags, i, f) ok = ok && json_is_string(f);
        if (!ok)
            return ed_error_set(err, ED_ECONFIG,
                                "%s: compatibility_flags must be an array of strings", file);
        w->compatibility_flags = json_incref((json_t *)flags);
    }
    if (!(w->bindings = json_array()))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    const json_t *v;
    if ((v = json_object_get(doc, "vars")) && (rc = map_vars(v, file, w->bindings, err)))
        goto out_rc;
    if ((v = json_object_get(doc, "durable_objects")) &&
        (rc = map_durable_objects(v, file, w->bindings, err)))
        goto out_rc;
    if ((v = json_object_get(doc, "worker_loaders")) &&
        (rc = map_worker_loaders(v, file, w->bindings, err)))
        goto out_rc;
    return 0;
out_rc:
    return rc == ED_ENOMEM ? ed_error_set(err, rc, "out of memory") : rc;
}

int dp_wrangler_read(const char *path, struct dp_wrangler *w, struct ed_error *err)
{
    memset(w, 0, sizeof *w);
    if (!(w->path = strdup(path)))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ed_error_set(err, -errno, "%s: %s", path, strerror(errno));
    struct ed_buf b;
    ed_buf_init(&b);
    int rc = 0;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > DP_CTL_MAX_CONFIG_BYTES) {
            rc = ed_error_set(err, ED_ETOOBIG, "%s: larger than %u bytes", path,
                              DP_CTL_MAX_CONFIG_BYTES);
            goto out_f;
        }
        if (ed_buf_append(&b, chunk, n)) {
            rc = ed_error_set(err, ED_ENOMEM, "out of memory");
            goto out_f;
        }
    }
    if (ferror(f)) {
        rc = ed_error_set(err, ED_EIO, "%s: read error", path);
        goto out_f;
    }
    json_t *doc = NULL;
    size_t blen = strlen(base);
    if (blen > 5 && strcmp(base + blen - 5, ".toml") == 0)
        rc = dp_toml_parse(b.data ? b.data : "", b.len, base, &doc, err);
    else
        rc = dp_jsonc_parse(b.data ? b.data : "", b.len, base, &doc, err);
    if (rc == 0) {
        rc = dp_wrangler_map(doc, base, w, err);
        json_decref(doc);
    }
out_f:
    fclose(f);
    ed_buf_dispose(&b);
    return rc;
}
