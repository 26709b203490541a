/*
 * A worker's bindings, declared beside its code in WORKER.metadata.json in the shape of
 * Cloudflare's script-upload metadata, so the deploy API can later accept the same file:
 *   {"main_module": "hello.js", "compatibility_date": "2026-11-01",
 *    "bindings": [{"type": "worker_loader", "name": "LOADER"},
 *                 {"type": "plain_text", "name": "GREETING", "text": "hi"},
 *                 {"type": "durable_object_namespace", "name": "COUNTERS",
 *                  "class_name": "Counter"}]}
 * A folder worker (WORKER/, a bundle of modules) may also list the types of its modules, with
 * the type names of the Worker Loader's module objects (js, cjs, text, data, json); files it
 * does not list are typed by extension:
 *   {"main_module": "src/index.js", "modules": [{"name": "templates/page", "type": "text"}]}
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

/* A class name as the storage layer accepts it in a path: [A-Za-z_$][A-Za-z0-9_$]{0,127}. */
static bool class_name_ok(const char *s)
{
    return binding_name_ok(s) && !(*s >= '0' && *s <= '9');
}

/* {"type": "durable_object_namespace", "name": "COUNTERS", "class_name": "Counter"}: a class
 * of this worker's main module (script_name, another worker's class, is not supported). */
static int push_object_ns(struct edge_worker *w, json_t *b, const char *path, const char *name,
                          struct ed_error *err)
{
    const char *cls = NULL, *script = NULL;
    json_error_t je;
    if (json_unpack_ex(b, &je, 0, "{s?s, s?s}", "class_name", &cls, "script_name", &script) ||
        !cls || !class_name_ok(cls))
        return ed_error_set(err, ED_ECONFIG,
                            "%s: binding %s: a durable_object_namespace needs a class_name (a "
                            "JavaScript class name of at most 128 characters)",
                            path, name);
    if (script && strcmp(script, w->name) != 0)
        return ed_error_set(err, ED_ECONFIG,
                            "%s: binding %s: script_name %s: only classes of the worker itself "
                            "are supported",
                            path, name, script);
    struct iso_object_ns *p = realloc(w->objects, (w->n_objects + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    w->objects = p;
    p[w->n_objects].name = strdup(name);
    p[w->n_objects].cls = strdup(cls);
    w->n_objects++;
    return p[w->n_objects - 1].name && p[w->n_objects - 1].cls ? 0 : ED_ENOMEM;
}

void edge__bundle_meta_dispose(struct edge_bundle_meta *meta)
{
    free(meta->main_module);
    for (size_t i = 0; i < meta->n_modules; i++)
        free(meta->modules[i].name);
    free(meta->modules);
    memset(meta, 0, sizeof *meta);
}

static const struct {
    const char *name;
    enum iso_module_type type;
} type_names[] = {
    {"js", ISO_MODULE_ESM},    {"esm", ISO_MODULE_ESM},   {"cjs", ISO_MODULE_CJS},
    {"text", ISO_MODULE_TEXT}, {"data", ISO_MODULE_DATA}, {"json", ISO_MODULE_JSON},
};

static const struct {
    const char *ext;
    enum iso_module_type type;
} extensions[] = {
    {".js", ISO_MODULE_ESM},    {".mjs", ISO_MODULE_ESM},  {".cjs", ISO_MODULE_CJS},
    {".json", ISO_MODULE_JSON}, {".txt", ISO_MODULE_TEXT}, {".html", ISO_MODULE_TEXT},
    {".md", ISO_MODULE_TEXT},   {".css", ISO_MODULE_TEXT}, {".svg", ISO_MODULE_TEXT},
    {".bin", ISO_MODULE_DATA},
};

int edge__module_type(const struct edge_bundle_meta *meta, const char *name,
                      enum iso_module_type *out)
{
    for (size_t i = 0; meta && i < meta->n_modules; i++) {
        if (strcmp(meta->modules[i].name, name) == 0) {
            *out = meta->modules[i].type;
            return 0;
        }
    }
    const char *base = strrchr(name, '/');
    const char *dot = strrchr(base ? base : name, '.');
    for (size_t i = 0; dot && i < sizeof extensions / sizeof extensions[0]; i++) {
        if (strcmp(dot, extensions[i].ext) == 0) {
            *out = extensions[i].type;
            return 0;
        }
    }
    return ED_ECONFIG;
}

static int load_module_decls(json_t *modules, const char *path, struct edge_bundle_meta *meta,
                             struct ed_error *err)
{
    if (!json_is_array(modules))
        return ed_error_set(err, ED_ECONFIG, "%s: modules must be an array", path);
    size_t n = json_array_size(modules);
    if (n > EDGE_MAX_BUNDLE_MODULES)
        return ed_error_set(err, ED_ECONFIG, "%s: more than %u modules", path,
                            EDGE_MAX_BUNDLE_MODULES);
    meta->modules = n ? calloc(n, sizeof *meta->modules) : NULL;
    if (n && !meta->modules)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(modules, i, m)
    {
        const char *name = NULL, *type = NULL;
        json_error_t je;
        if (json_unpack_ex(m, &je, 0, "{s:s, s:s}", "name", &name, "type", &type) || !*name)
            return ed_error_set(err, ED_ECONFIG, "%s: module %zu needs a name and a type", path, i);
        size_t t = 0;
        while (t < sizeof type_names / sizeof type_names[0] && strcmp(type_names[t].name, type))
            t++;
        if (t == sizeof type_names / sizeof type_names[0])
            return ed_error_set(err, ED_ECONFIG,
                                "%s: module %s: type %s is not one of js, cjs, text, data, json",
                                path, name, type);
        if (!(meta->modules[meta->n_modules].name = strdup(name)))
            return ed_error_set(err, ED_ENOMEM, "out of memory");
        meta->modules[meta->n_modules++].type = type_names[t].type;
    }
    return 0;
}

int edge__metadata_load(struct edge_worker *w, const char *path, struct edge_bundle_meta *meta,
                        struct ed_error *err)
{
    memset(meta, 0, sizeof *meta);
    if (access(path, F_OK) != 0)
        return 0; /* no metadata: no bindings beyond the tenant's vars */
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return ed_error_set(err, ED_ECONFIG, "%s:%d: %s", path, je.line, je.text);
    int rc = 0;
    const char *main = NULL;
    json_t *bindings = NULL, *modules = NULL;
    if (!json_is_object(root) ||
        json_unpack_ex(root, &je, 0, "{s?s, s?o, s?o}", "main_module", &main, "bindings", &bindings,
                       "modules", &modules)) {
        rc = ed_error_set(err, ED_ECONFIG, "%s: expected an object with main_module and bindings",
                          path);
        goto out;
    }
    if (main && !(meta->main_module = strdup(main))) {
        rc = ed_error_set(err, ED_ENOMEM, "out of memory");
        goto out;
    }
    if (modules) {
        rc = load_module_decls(modules, path, meta, err);
        if (rc)
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
        else if (strcmp(type, "durable_object_namespace") == 0)
            rc = push_object_ns(w, b, path, name, err);
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
