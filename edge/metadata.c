/*
 * A worker's bindings, declared beside its code in WORKER.metadata.json in the shape of
 * Cloudflare's script-upload metadata, so the deploy API can later accept the same file:
 *   {"main_module": "hello.js", "compatibility_date": "2026-11-01",
 *    "bindings": [{"type": "worker_loader", "name": "LOADER"},
 *                 {"type": "plain_text", "name": "GREETING", "text": "hi"}]}
 * Unknown binding types are refused rather than ignored: a worker that expects a binding
 * must not start without it.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/edge_int.h"

static bool binding_name_ok(const char *s)
{
    if (!*s || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '$'))
            return false;
    return true;
}

static int push_str(char ***arr, size_t *n, const char *v)
{
    char **p = realloc(*arr, (*n + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    *arr = p;
    if (!(p[*n] = strdup(v)))
        return ED_ENOMEM;
    (*n)++;
    return 0;
}

static int push_var(struct edge_worker *w, const char *name, const char *value)
{
    struct iso_var *p = realloc(w->vars, (w->n_vars + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    w->vars = p;
    p[w->n_vars].name = strdup(name);
    p[w->n_vars].value = strdup(value);
    w->n_vars++;
    return p[w->n_vars - 1].name && p[w->n_vars - 1].value ? 0 : ED_ENOMEM;
}

int edge__metadata_load(struct edge_worker *w, const char *path, struct ed_error *err)
{
    if (access(path, F_OK) != 0)
        return 0; /* no metadata: no bindings beyond the tenant's vars */
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return ed_error_set(err, ED_ECONFIG, "%s:%d: %s", path, je.line, je.text);
    int rc = 0;
    const char *main = NULL;
    json_t *bindings = NULL;
    if (!json_is_object(root) ||
        json_unpack_ex(root, &je, 0, "{s?s, s?o}", "main_module", &main, "bindings", &bindings)) {
        rc = ed_error_set(err, ED_ECONFIG, "%s: expected an object with main_module and bindings",
                          path);
        goto out;
    }
    if (main && strcmp(main, w->module_name) != 0) {
        rc = ed_error_set(err, ED_ECONFIG, "%s: main_module %s is not the worker's module %s", path,
                          main, w->module_name);
        goto out;
    }
    if (bindings && !json_is_array(bindings)) {
        rc = ed_error_set(err, ED_ECONFIG, "%s: bindings must be an array", path);
        goto out;
    }
    size_t i;
    json_t *b;
    json_array_foreach(bindings, i, b)
    {
        const char *type = NULL, *name = NULL, *text = NULL;
        if (json_unpack_ex(b, &je, 0, "{s:s, s:s, s?s}", "type", &type, "name", &name, "text",
                           &text) ||
            !binding_name_ok(name)) {
            rc = ed_error_set(err, ED_ECONFIG, "%s: binding %zu needs a type and a valid name",
                              path, i);
            break;
        }
        if (strcmp(type, "worker_loader") == 0)
            rc = push_str(&w->loaders, &w->n_loaders, name);
        else if (strcmp(type, "plain_text") == 0 && text)
            rc = push_var(w, name, text);
        else
            rc = ed_error_set(err, ED_ECONFIG, "%s: binding %s: type %s is not supported", path,
                              name, type);
        if (rc == ED_ENOMEM)
            ed_error_set(err, rc, "out of memory");
        if (rc)
            break;
    }
out:
    json_decref(root);
    return rc;
}
