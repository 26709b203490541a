/*
 * The deploy endpoint (PUT /v1/tenants/T/workers/W): Cloudflare's script upload. The body is
 * multipart/form-data with a part named "metadata" (JSON: main_module, compatibility_date,
 * compatibility_flags, bindings) and one part per module, named by the part's name (or its
 * filename) and typed by its Content-Type (or, without one, by extension). Everything is
 * checked before anything is stored, in order of cost: the framing, the metadata and its
 * bindings, the sizes against the tenant's quotas, and last the bundle itself, compiled and
 * linked by iso_bundle_check in a throw-away isolate. Only a bundle that passes becomes a
 * version (st_cp_deploy, one transaction), so a failed deploy changes nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deploy/dp_int.h"
#include "isolates/isolates.h"

#define MAX_PART_HEADER_BYTES 8192
#define MAX_MODULE_NAME 1000
#define MAX_BINDINGS 1000
#define MAX_FLAGS 64
#define UPLOAD_SLACK (4u << 20) /* framing and metadata beyond the bundle's bytes */
#define KEEP_VERSIONS 20

static const char *const type_names[] = {
    [ISO_MODULE_ESM] = "esm",   [ISO_MODULE_CJS] = "cjs",   [ISO_MODULE_TEXT] = "text",
    [ISO_MODULE_DATA] = "data", [ISO_MODULE_JSON] = "json",
};

static const struct {
    const char *ct;
    int type; /* enum iso_module_type, or -1: refused */
} content_types[] = {
    {"application/javascript+module", ISO_MODULE_ESM},
    {"text/javascript+module", ISO_MODULE_ESM},
    {"application/javascript", ISO_MODULE_CJS},
    {"text/javascript", ISO_MODULE_CJS},
    {"text/plain", ISO_MODULE_TEXT},
    {"application/octet-stream", ISO_MODULE_DATA},
    {"application/json", ISO_MODULE_JSON},
    {"application/wasm", -1},
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

/* A module's type from its part. Returns 0 or 400 with res set. */
static int module_type(const struct dp__part *p, const char *name, enum iso_module_type *out,
                       struct dp_response *res)
{
    if (p->content_type) {
        size_t n = p->content_type_len;
        const char *semi = memchr(p->content_type, ';', n);
        if (semi)
            n = (size_t)(semi - p->content_type);
        while (n && (p->content_type[n - 1] == ' ' || p->content_type[n - 1] == '\t'))
            n--;
        for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
            if (strlen(content_types[i].ct) == n &&
                strncasecmp(content_types[i].ct, p->content_type, n) == 0) {
                if (content_types[i].type < 0)
                    return dp__error(res, 400, "module %s: WebAssembly modules are not supported",
                                     name);
                *out = (enum iso_module_type)content_types[i].type;
                return 0;
            }
        }
        return dp__error(res, 400,
                         "module %s: Content-Type %.*s is not a module type "
                         "(application/javascript+module, application/javascript, text/plain, "
                         "application/octet-stream, application/json)",
                         name, (int)(n > 100 ? 100 : n), p->content_type);
    }
    const char *base = strrchr(name, '/');
    const char *dot = strrchr(base ? base : name, '.');
    for (size_t i = 0; dot && i < sizeof extensions / sizeof extensions[0]; i++) {
        if (strcmp(dot, extensions[i].ext) == 0) {
            *out = extensions[i].type;
            return 0;
        }
    }
    return dp__error(res, 400, "module %s: no Content-Type and no known extension", name);
}

/* Module names as the shim resolves them: relative, '/'-separated, no empty, "." or ".."
 * segments, no backslash or control bytes. */
static bool module_name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > MAX_MODULE_NAME || s[0] == '/')
        return false;
    const char *seg = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t sl = (size_t)(p - seg);
            if (sl == 0 || (sl == 1 && seg[0] == '.') ||
                (sl == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            seg = p + 1;
        } else if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\') {
            return false;
        }
    }
}

/* A binding's name: a JavaScript identifier of ASCII letters, digits, '_' and '$'. */
static bool binding_name_ok(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > 128 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '$'))
            return false;
    return true;
}

static bool date_ok(const char *d)
{
    if (strlen(d) != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
            return false;
    return true;
}

/* Checks the bindings and copies them, normalized, into out (an array). Returns 0 or 400. */
static int check_bindings(json_t *bindings, json_t *out, struct dp_response *res)
{
    if (!json_is_array(bindings) || json_array_size(bindings) > MAX_BINDINGS)
        return dp__error(res, 400, "metadata: bindings must be an array of at most %d",
                         MAX_BINDINGS);
    size_t i;
    json_t *b;
    json_array_foreach(bindings, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *name = json_string_value(json_object_get(b, "name"));
        if (!json_is_object(b) || !type || !binding_name_ok(name))
            return dp__error(res, 400,
                             "metadata: binding %zu needs a type and a name (letters, digits, "
                             "'_', '$', at most 128)",
                             i);
        for (size_t k = 0; k < json_array_size(out); k++)
            if (strcmp(json_string_value(json_object_get(json_array_get(out, k), "name")), name) ==
                0)
                return dp__error(res, 400, "metadata: two bindings named %s", name);
        json_t *copy = NULL;
        if (strcmp(type, "plain_text") == 0 || strcmp(type, "secret_text") == 0) {
            json_t *text = json_object_get(b, "text");
            if (!json_is_string(text))
                return dp__error(res, 400, "metadata: binding %s (%s) needs a text", name, type);
            copy = json_pack("{s:s, s:s, s:O}", "type", type, "name", name, "text", text);
        } else if (strcmp(type, "worker_loader") == 0) {
            copy = json_pack("{s:s, s:s}", "type", type, "name", name);
        } else if (strcmp(type, "durable_object_namespace") == 0) {
            const char *cls = json_string_value(json_object_get(b, "class_name"));
            if (json_object_get(b, "script_name"))
                return dp__error(res, 400,
                                 "metadata: binding %s: classes of another worker (script_name) "
                                 "are not supported",
                                 name);
            if (!binding_name_ok(cls))
                return dp__error(res, 400, "metadata: binding %s needs a class_name", name);
            copy = json_pack("{s:s, s:s, s:s}", "type", type, "name", name, "class_name", cls);
        } else {
            return dp__error(res, 400,
                             "metadata: binding %s: type %s is not supported (plain_text, "
                             "secret_text, worker_loader, durable_object_namespace)",
                             name, type);
        }
        if (!copy || json_array_append_new(out, copy))
            return dp__error(res, 500, "out of memory");
    }
    return 0;
}

/* The metadata part: checked, normalized into *out (owned). Returns 0 or 400. */
static int check_metadata(const struct dp__part *p, json_t **out, struct dp_response *res)
{
    json_error_t je;
    json_t *m = json_loadb(p->data, p->len, JSON_REJECT_DUPLICATES, &je);
    int status = 0;
    json_t *norm = json_object(), *bindings = json_array();
    if (!json_is_object(m)) {
        status = m ? dp__error(res, 400, "metadata must be a JSON object")
                   : dp__error(res, 400, "metadata is not JSON: %s (line %d)", je.text, je.line);
        goto out;
    }
    const char *main = json_string_value(json_object_get(m, "main_module"));
    if (!main) {
        status = dp__error(res, 400, "metadata: main_module (a string) is required");
        goto out;
    }
    json_object_set_new(norm, "main_module", json_string(main));
    json_t *date = json_object_get(m, "compatibility_date");
    if (date) {
        if (!json_is_string(date) || !date_ok(json_string_value(date))) {
            status = dp__error(res, 400, "metadata: compatibility_date must be YYYY-MM-DD");
            goto out;
        }
        json_object_set(norm, "compatibility_date", date);
    }
    json_t *flags = json_object_get(m, "compatibility_flags");
    if (flags) {
        size_t i;
        json_t *f;
        bool ok = json_is_array(flags) && json_array_size(flags) <= MAX_FLAGS;
        json_array_foreach(flags, i, f) ok = ok && json_is_string(f) && json_string_length(f) <= 64;
        if (!ok) {
            status = dp__error(res, 400, "metadata: compatibility_flags must be at most %d strings",
                               MAX_FLAGS);
            goto out;
        }
        json_object_set(norm, "compatibility_flags", flags);
    }
    json_t *b = json_object_get(m, "bindings");
    if (b && (status = check_bindings(b, bindings, res)))
        goto out;
    json_object_set(norm, "bindings", bindings);
    *out = norm;
    norm = NULL;
out:
    json_decref(norm);
    json_decref(bindings);
    json_decref(m);
    return status;
}

int dp__deploy(struct dp_api *api, const struct st_tenant *t, const char *worker,
               const struct dp_request *req, struct dp_response *res)
{
    struct dp_quotas q;
    dp__quotas_of(api, t->quotas, &q);
    size_t ctl;
    const char *ct = dp__header(req, "content-type", &ctl);
    char boundary[DP__BOUNDARY_MAX + 1];
    size_t blen;
    struct ed_error e = {0};
    if (!ct || dp__multipart_boundary(ct, ctl, boundary, &blen, &e)) {
        int status = dp__error(res, 400, "%s",
                               ct ? ed_error_msg(&e) : "the upload must be multipart/form-data");
        ed_error_dispose(&e);
        return status;
    }
    if (req->body_len > q.bundle_bytes + UPLOAD_SLACK)
        return dp__error(res, 413,
                         "the upload is %zu bytes, over the tenant's bundle quota (bundle_bytes "
                         "= %llu)",
                         req->body_len, (unsigned long long)q.bundle_bytes);
    struct dp__multipart mp;
    struct dp__multipart_limits lim = {.max_parts = DP_MAX_MODULES + 1,
                                       .max_header_bytes = MAX_PART_HEADER_BYTES,
                                       .max_name = MAX_MODULE_NAME};
    int status = 0;
    json_t *meta = NULL;
    struct iso_module *mods = NULL;
    struct st_module *smods = NULL;
    struct iso_object_ns *ns = NULL;
    char *meta_text = NULL;
    if (dp__multipart_parse(req->body, req->body_len, boundary, blen, &lim, &mp, &e)) {
        status = dp__error(res,
                           e.code == ED_ETOOBIG  ? 413
                           : e.code == ED_ENOMEM ? 500
                                                 : 400,
                           "malformed upload: %s", ed_error_msg(&e));
        goto out;
    }
    const struct dp__part *mpart = NULL;
    for (size_t i = 0; i < mp.n; i++) {
        if (strcmp(mp.parts[i].name, "metadata") != 0)
            continue;
        if (mpart) {
            status = dp__error(res, 400, "the upload has two metadata parts");
            goto out;
        }
        mpart = &mp.parts[i];
    }
    if (!mpart) {
        status = dp__error(res, 400, "the upload has no metadata part");
        goto out;
    }
    if ((status = check_metadata(mpart, &meta, res)))
        goto out;
    const char *main = json_string_value(json_object_get(meta, "main_module"));
    size_t n = mp.n - 1;
    if (n > DP_MAX_MODULES) {
        status = dp__error(res, 413, "the bundle has %zu modules, more than %u", n, DP_MAX_MODULES);
        goto out;
    }
    mods = calloc(n ? n : 1, sizeof *mods);
    smods = calloc(n ? n : 1, sizeof *smods);
    if (!mods || !smods) {
        status = dp__error(res, 500, "out of memory");
        goto out;
    }
    uint64_t bytes = 0;
    size_t k = 0;
    const struct iso_module *main_mod = NULL;
    for (size_t i = 0; i < mp.n; i++) {
        const struct dp__part *p = &mp.parts[i];
        if (p == mpart)
            continue;
        const char *name = p->name[0] ? p->name : p->filename ? p->filename : "";
        if (!module_name_ok(name)) {
            status = dp__error(res, 400,
                               "module name \"%.100s\" is not a relative path (no empty, '.' or "
                               "'..' segments, no backslash, at most %d bytes)",
                               name, MAX_MODULE_NAME);
            goto out;
        }
        for (size_t j = 0; j < k; j++)
            if (strcmp(mods[j].name, name) == 0) {
                status = dp__error(res, 400, "two modules named %s", name);
                goto out;
            }
        enum iso_module_type type = ISO_MODULE_ESM;
        if ((status = module_type(p, name, &type, res)))
            goto out;
        mods[k] = (struct iso_module){
            .name = name, .source = p->data, .source_len = p->len, .type = type};
        smods[k] = (struct st_module){
            .name = name, .type = type_names[type], .source = p->data, .len = p->len};
        if (strcmp(name, main) == 0)
            main_mod = &mods[k];
        bytes += p->len;
        k++;
    }
    if (bytes > q.bundle_bytes) {
        status = dp__error(res, 413,
                           "the bundle is %llu bytes, over the tenant's quota (bundle_bytes = "
                           "%llu)",
                           (unsigned long long)bytes, (unsigned long long)q.bundle_bytes);
        goto out;
    }
    if (!main_mod) {
        status = dp__error(res, 422, "the main module %s is not among the uploaded modules", main);
        goto out;
    }
    if (main_mod->type != ISO_MODULE_ESM && main_mod->type != ISO_MODULE_CJS) {
        status =
            dp__error(res, 422, "the main module %s must be JavaScript (ES or CommonJS)", main);
        goto out;
    }
    if (q.workers == 0) {
        status = dp__error(res, 413, "tenant %s may have no workers (workers = 0)", t->name);
        goto out;
    }
    /* the durable object namespaces' classes must be named exports of the main module */
    json_t *bindings = json_object_get(meta, "bindings");
    size_t n_ns = 0;
    if (!(ns = calloc(json_array_size(bindings) + 1, sizeof *ns))) {
        status = dp__error(res, 500, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(bindings); i++) {
        json_t *b = json_array_get(bindings, i);
        if (strcmp(json_string_value(json_object_get(b, "type")), "durable_object_namespace"))
            continue;
        ns[n_ns++] =
            (struct iso_object_ns){.name = json_string_value(json_object_get(b, "name")),
                                   .cls = json_string_value(json_object_get(b, "class_name"))};
    }
    uint64_t t0 = ed_now_ns();
    if (iso_bundle_check_objects(mods, k, main, ns, n_ns, &e)) {
        status = e.code == ED_EBADWORKER
                     ? dp__error(res, 422, "%s", ed_error_msg(&e))
                     : dp__error(res, 500, "the bundle could not be checked: %s", ed_error_msg(&e));
        goto out;
    }
    uint64_t check_us = (ed_now_ns() - t0) / 1000;
    if (!(meta_text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS))) {
        status = dp__error(res, 500, "out of memory");
        goto out;
    }
    struct st_deploy d = {.tenant = t->name,
                          .worker = worker,
                          .metadata = meta_text,
                          .modules = smods,
                          .n_modules = k,
                          .bytes = bytes,
                          .max_workers = q.workers > UINT32_MAX ? UINT32_MAX : (uint32_t)q.workers,
                          .keep_versions = KEEP_VERSIONS};
    int64_t version = 0;
    if (st_cp_deploy(api->db, &d, &version, &e)) {
        status = dp__status_of(e.code);
        if (status == 500) {
            ED_ERROR("event=admin_error op=deploy tenant=%s worker=%s msg=\"%s\"", t->name, worker,
                     ed_error_msg(&e));
            dp__error(res, 500, "the control plane failed: %s", ed_strerror(e.code));
        } else {
            dp__error(res, status, "%s", ed_error_msg(&e));
        }
        goto out;
    }
    ED_INFO("event=deployed tenant=%s worker=%s version=%lld modules=%zu bytes=%llu "
            "check_us=%llu",
            t->name, worker, (long long)version, k, (unsigned long long)bytes,
            (unsigned long long)check_us);
    status =
        dp__json(res, 201,
                 json_pack("{s:s, s:I, s:I, s:I}", "worker", worker, "version", (json_int_t)version,
                           "modules", (json_int_t)k, "bytes", (json_int_t)bytes));
out:
    free(meta_text);
    free(ns);
    free(mods);
    free(smods);
    json_decref(meta);
    dp__multipart_dispose(&mp);
    ed_error_dispose(&e);
    return status;
}
