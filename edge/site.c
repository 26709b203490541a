/*
 * Loading the site: tenants, their workers' code and their routes, from a tenants directory
 * (DIR/<tenant>/tenant.conf plus DIR/<tenant>/<worker>.js, or a folder DIR/<tenant>/<worker>/
 * whose files are the modules of a bundle) and from --worker flags, into the plain route
 * table router/ matches on. Reading a bundle is bounded (size, count, depth) and never leaves
 * the worker's folder; whether its imports resolve is V8's to say (edge__site_check). This
 * site is the base: loaded once, it is part of every generation that edge/live.c builds from
 * the control plane. Sites, tenants and workers are reference-counted, so a generation can
 * share what did not change with the one before it.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/edge_int.h"

#define MAX_BUNDLE_DEPTH 16 /* folders inside a worker folder */

/* Tenant and worker names become directory and file names: letters, digits, '-', '_' and
 * '.', never starting with '.' (no "..", no hidden files). */
static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
            return false;
    return true;
}

static void tenant_free(struct edge_tenant *t)
{
    for (size_t i = 0; i < t->n_vars; i++) {
        free((char *)t->vars[i].name);
        free((char *)t->vars[i].value);
    }
    free(t->vars);
    free(t->token_hashes);
    if (t->log_fd >= 0)
        close(t->log_fd);
    free(t->cp_key);
    st_quota_free(t->quota);
    free(t->name);
    free(t);
}

struct edge_tenant *edge__tenant_ref(struct edge_tenant *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void edge__tenant_unref(struct edge_tenant *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        tenant_free(t);
}

void edge__worker_free(struct edge_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_loaders; i++)
        free(w->loaders[i]);
    free(w->loaders);
    for (size_t i = 0; i < w->n_objects; i++) {
        free((char *)w->objects[i].name);
        free((char *)w->objects[i].cls);
    }
    free(w->objects);
    for (size_t i = 0; i < w->n_vars; i++) {
        free((char *)w->vars[i].name);
        free((char *)w->vars[i].value);
    }
    free(w->vars);
    for (size_t i = 0; i < w->n_modules; i++) {
        free((char *)w->modules[i].name);
        free((char *)w->modules[i].source);
    }
    free(w->modules);
    edge__tenant_unref(w->tenant);
    free(w->name);
    free(w->main_module);
    free(w);
}

struct edge_worker *edge__worker_ref(struct edge_worker *w)
{
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    return w;
}

void edge__worker_unref(struct edge_worker *w)
{
    if (w && atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1)
        edge__worker_free(w);
}

static void site_free(struct edge_site *site)
{
    for (size_t i = 0; i < site->n_workers; i++)
        edge__worker_unref(site->workers[i]);
    for (size_t i = 0; i < site->n_tenants; i++)
        edge__tenant_unref(site->tenants[i]);
    for (size_t i = 0; i < site->n_static_routes; i++) {
        free(site->static_routes[i].host);
        free(site->static_routes[i].path);
    }
    free(site->static_routes);
    free(site->workers);
    free(site->by_addr);
    free(site->tenants);
    if (site->routes)
        rt_table_unref(site->routes);
    free(site);
}

struct edge_site *edge__site_ref(struct edge_site *site)
{
    atomic_fetch_add_explicit(&site->refs, 1, memory_order_relaxed);
    return site;
}

void edge__site_unref(struct edge_site *site)
{
    if (site && atomic_fetch_sub_explicit(&site->refs, 1, memory_order_acq_rel) == 1)
        site_free(site);
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (struct edge_worker *const *)a;
    uintptr_t y = (uintptr_t) * (struct edge_worker *const *)b;
    return x < y ? -1 : x > y;
}

int edge__site_seal(struct edge_site *site)
{
    free(site->by_addr);
    site->by_addr = malloc((site->n_workers ? site->n_workers : 1) * sizeof *site->by_addr);
    if (!site->by_addr)
        return ED_ENOMEM;
    if (site->n_workers)
        memcpy(site->by_addr, site->workers, site->n_workers * sizeof *site->by_addr);
    qsort(site->by_addr, site->n_workers, sizeof *site->by_addr, by_address);
    rt_table_seal(site->routes);
    return 0;
}

bool edge__site_has_worker(const struct edge_site *site, const struct edge_worker *w)
{
    return site->n_workers &&
           bsearch(&w, site->by_addr, site->n_workers, sizeof *site->by_addr, by_address);
}

static int hex_nibble(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int add_token_hash(struct edge_tenant *t, const char *hex, const char *where,
                          struct ed_error *err)
{
    uint8_t h[32];
    for (size_t i = 0; i < 32; i++) {
        int hi = strlen(hex) == 64 ? hex_nibble(hex[2 * i]) : -1;
        int lo = hi < 0 ? -1 : hex_nibble(hex[2 * i + 1]);
        if (lo < 0)
            return ed_error_set(err, ED_ECONFIG,
                                "%s: token_sha256 must be 64 hex digits (sha256sum of the token)",
                                where);
        h[i] = (uint8_t)(hi << 4 | lo);
    }
    uint8_t(*grown)[32] = realloc(t->token_hashes, (t->n_tokens + 1) * sizeof *grown);
    if (!grown)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    memcpy(grown[t->n_tokens++], h, 32);
    t->token_hashes = grown;
    return 0;
}

static struct edge_tenant *find_tenant(struct edge_site *site, const char *name)
{
    for (size_t i = 0; i < site->n_tenants; i++)
        if (strcmp(site->tenants[i]->name, name) == 0)
            return site->tenants[i];
    return NULL;
}

int edge__tenant_new(const struct edge_config *cfg, const char *name, struct edge_tenant **out,
                     struct ed_error *err)
{
    struct edge_tenant *t = calloc(1, sizeof *t);
    if (!t)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    atomic_init(&t->refs, 1);
    atomic_init(&t->rate_tat, 0);
    t->log_fd = -1;
    t->cpu_ms = cfg->cpu_ms;
    t->heap_mb = cfg->heap_mb;
    t->subrequests = 50;
    if (!(t->name = strdup(name))) {
        tenant_free(t);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tenants/%s/logs", cfg->data_dir, name);
    int rc = ed_mkdirs(dir, 0755);
    if (rc) {
        tenant_free(t);
        return ed_error_set(err, ED_EIO, "cannot create %s: %s", dir, ed_strerror(rc));
    }
    strncat(dir, "/worker.log", sizeof dir - strlen(dir) - 1);
    t->log_fd = open(dir, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (t->log_fd < 0) {
        rc = ed_error_set(err, ED_EIO, "cannot open %s: %s", dir, strerror(errno));
        tenant_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static int add_tenant(struct edge_site *site, const struct edge_config *cfg, const char *name,
                      struct edge_tenant **out, struct ed_error *err)
{
    struct edge_tenant **p = realloc(site->tenants, (site->n_tenants + 1) * sizeof *p);
    if (!p)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    site->tenants = p;
    struct edge_tenant *t;
    int rc = edge__tenant_new(cfg, name, &t, err);
    if (rc)
        return rc;
    site->tenants[site->n_tenants++] = t;
    *out = t;
    return 0;
}

/* Reads path whole, at most max bytes (more: ED_ETOOBIG). *out is owned (free), NUL-terminated
 * past *len. */
static int read_file(const char *path, size_t max, char **out, size_t *len, struct ed_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return ed_error_set(err, ED_ENOENT, "cannot read worker %s: %s", path, strerror(errno));
    struct ed_buf b;
    ed_buf_init(&b);
    char chunk[65536];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = ed_error_set(err, ED_EIO, "cannot read worker %s: %s", path, strerror(errno));
        else if (b.len + (size_t)n > max)
            rc = ED_ETOOBIG;
        else
            rc = ed_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    if (rc == 0)
        rc = ed_buf_append(&b, "", 1);
    if (rc) {
        ed_buf_dispose(&b);
        return rc == ED_ENOMEM ? ed_error_set(err, rc, "out of memory") : rc;
    }
    *out = b.data ? b.data : strdup("");
    *len = b.len ? b.len - 1 : 0;
    return *out ? 0 : ed_error_set(err, ED_ENOMEM, "out of memory");
}

static int too_big(const char *where, size_t total, size_t max, const char *biggest,
                   size_t biggest_size, struct ed_error *err)
{
    return ed_error_set(err, ED_ETOOBIG,
                        "%s: the bundle is %zu bytes or more (the largest module, %s, %zu), over "
                        "the %zu-byte (%zu MiB) limit",
                        where, total, biggest, biggest_size, max, max >> 20);
}

/* A bundle being read: files found so far, in name order. */
struct walk {
    const char *root;
    const char *where;
    size_t max_bytes;
    struct edge_worker *w;
    size_t total;
    const char *biggest; /* borrowed from w->modules */
    size_t biggest_size;
};

/* Names are what imports spell: printable, no backslash (not a path separator here). */
static bool module_name_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\\')
            return false;
    return true;
}

static int add_module(struct walk *wk, const char *rel, off_t size, struct ed_error *err)
{
    struct edge_worker *w = wk->w;
    if (w->n_modules >= EDGE_MAX_BUNDLE_MODULES)
        return ed_error_set(err, ED_ETOOBIG, "%s: more than %u modules in %s", wk->where,
                            EDGE_MAX_BUNDLE_MODULES, wk->root);
    struct iso_module *p = realloc(w->modules, (w->n_modules + 1) * sizeof *p);
    if (!p)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    w->modules = p;
    char *name = strdup(rel);
    if (!name)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    p[w->n_modules++] = (struct iso_module){.name = name, .source = NULL, .source_len = 0};
    wk->total += (size_t)size;
    if (!wk->biggest || (size_t)size > wk->biggest_size) {
        wk->biggest = name;
        wk->biggest_size = (size_t)size;
    }
    if (wk->total > wk->max_bytes)
        return too_big(wk->where, wk->total, wk->max_bytes, wk->biggest, wk->biggest_size, err);
    return 0;
}

/* Lists the files under root/rel (rel "" or "a/b/"), depth folders down. Only names and sizes:
 * the sizes are judged before anything is read. */
static int walk_dir(struct walk *wk, const char *rel, int depth, struct ed_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", wk->root, rel);
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0)
        return ed_error_set(err, ED_EIO, "%s: cannot read %s: %s", wk->where, path,
                            strerror(errno));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char child_rel[EDGE_MAX_MODULE_NAME + 260]; /* + a d_name and '/' */
        struct stat st;
        if (rc || name[0] == '.') /* ".", "..", and hidden files (.git, .DS_Store) */
            goto next;
        if (strlen(rel) + strlen(name) > EDGE_MAX_MODULE_NAME) {
            rc = ed_error_set(err, ED_ECONFIG, "%s: a module name longer than %u bytes in %s",
                              wk->where, EDGE_MAX_MODULE_NAME, wk->root);
            goto next;
        }
        snprintf(child_rel, sizeof child_rel, "%s%s", rel, name);
        if (!module_name_ok(child_rel)) {
            rc = ed_error_set(err, ED_ECONFIG,
                              "%s: a module name in %s has a control character or a backslash",
                              wk->where, wk->root);
            goto next;
        }
        if ((size_t)snprintf(path, sizeof path, "%s/%s", wk->root, child_rel) >= sizeof path) {
            rc = ed_error_set(err, ED_ECONFIG, "%s: a path in %s is too long", wk->where, wk->root);
        } else if (lstat(path, &st) != 0) {
            rc = ed_error_set(err, ED_EIO, "%s: cannot read %s: %s", wk->where, path,
                              strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            if (depth >= MAX_BUNDLE_DEPTH) {
                rc = ed_error_set(err, ED_ECONFIG, "%s: %s is more than %d folders deep", wk->where,
                                  path, MAX_BUNDLE_DEPTH);
            } else {
                strcat(child_rel, "/");
                rc = walk_dir(wk, child_rel, depth + 1, err);
            }
        } else if (S_ISREG(st.st_mode)) {
            rc = add_module(wk, child_rel, st.st_size, err);
        } else {
            rc = ed_error_set(err, ED_ECONFIG,
                              "%s: %s is not a regular file or folder (a bundle holds only files "
                              "inside its folder; symbolic links are refused)",
                              wk->where, path);
        }
next:
        free(names[i]);
    }
    free(names);
    return rc;
}

int edge__bundle_read(struct edge_worker *w, const char *dir, const struct edge_bundle_meta *meta,
                      size_t max_bytes, const char *where, struct ed_error *err)
{
    struct walk wk = {.root = dir, .where = where, .max_bytes = max_bytes, .w = w};
    int rc = walk_dir(&wk, "", 0, err);
    if (rc)
        return rc;
    if (w->n_modules == 0)
        return ed_error_set(err, ED_ECONFIG, "%s: the folder %s holds no modules", where, dir);
    for (size_t i = 0; i < meta->n_modules; i++) {
        size_t j = 0;
        while (j < w->n_modules && strcmp(w->modules[j].name, meta->modules[i].name) != 0)
            j++;
        if (j == w->n_modules)
            return ed_error_set(err, ED_ECONFIG,
                                "%s: the metadata types module %s, which is not a file in %s",
                                where, meta->modules[i].name, dir);
    }
    const char *main = meta->main_module ? meta->main_module : "index.js";
    struct iso_module *main_mod = NULL;
    size_t total = 0;
    for (size_t i = 0; i < w->n_modules; i++) {
        struct iso_module *m = &w->modules[i];
        if (edge__module_type(meta, m->name, &m->type))
            return ed_error_set(err, ED_ECONFIG,
                                "%s: module %s: no type for its extension; give it one in the "
                                "metadata's \"modules\" (js, cjs, text, data, json)",
                                where, m->name);
        if (strcmp(m->name, main) == 0)
            main_mod = m;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, m->name);
        char *src;
        size_t len;
        rc = read_file(path, max_bytes - total, &src, &len, err);
        if (rc == ED_ETOOBIG) /* it grew since it was listed */
            return too_big(where, max_bytes + 1, max_bytes, m->name, len, err);
        if (rc)
            return rc;
        m->source = src;
        m->source_len = len;
        total += len;
    }
    if (!main_mod)
        return ed_error_set(err, ED_ECONFIG,
                            "%s: main module %s is not a file in %s (name it with main_module in "
                            "the metadata)",
                            where, main, dir);
    if (main_mod->type != ISO_MODULE_ESM && main_mod->type != ISO_MODULE_CJS)
        return ed_error_set(err, ED_ECONFIG, "%s: main module %s must be an ES or CommonJS module",
                            where, main);
    w->bundle_bytes = total;
    w->main_module = strdup(main);
    return w->main_module ? 0 : ed_error_set(err, ED_ENOMEM, "out of memory");
}

/* A worker that is one file: one ES module named after it. */
static int read_single(struct edge_worker *w, const char *path, const struct edge_bundle_meta *meta,
                       const char *meta_path, const char *where, struct ed_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (meta->n_modules)
        return ed_error_set(err, ED_ECONFIG,
                            "%s: modules: only a folder worker has modules to type", meta_path);
    w->modules = calloc(1, sizeof *w->modules);
    if (!w->modules || !(w->main_module = malloc(strlen(w->name) + 4)))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    sprintf(w->main_module, "%s.js", w->name);
    if (meta->main_module && strcmp(meta->main_module, w->main_module) != 0)
        return ed_error_set(err, ED_ECONFIG, "%s: main_module %s is not the worker's module %s",
                            meta_path, meta->main_module, w->main_module);
    char *src;
    size_t len;
    int rc = read_file(path, EDGE_MAX_BUNDLE_BYTES, &src, &len, err);
    if (rc == ED_ETOOBIG)
        return too_big(where, (size_t)EDGE_MAX_BUNDLE_BYTES + 1, EDGE_MAX_BUNDLE_BYTES, base,
                       (size_t)EDGE_MAX_BUNDLE_BYTES + 1, err);
    if (rc)
        return rc;
    w->modules[0] = (struct iso_module){.source = src, .source_len = len, .type = ISO_MODULE_ESM};
    w->n_modules = 1;
    if (!(w->modules[0].name = strdup(w->main_module)))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    w->bundle_bytes = len;
    if (len == 0)
        return ed_error_set(err, ED_ECONFIG, "worker %s is empty", path);
    return 0;
}

/* code is the worker's file or folder, meta_path its WORKER.metadata.json (absent is fine). */
static int add_worker(struct edge_site *site, struct edge_tenant *t, const char *name,
                      const char *code, const char *meta_path, struct edge_worker **out,
                      struct ed_error *err)
{
    for (size_t i = 0; i < site->n_workers; i++) {
        struct edge_worker *w = site->workers[i];
        if (w->tenant == t && strcmp(w->name, name) == 0) {
            *out = w;
            return 0;
        }
    }
    struct edge_worker *w = calloc(1, sizeof *w);
    struct edge_worker **p = realloc(site->workers, (site->n_workers + 1) * sizeof *p);
    if (!w || !p) {
        free(w);
        if (p)
            site->workers = p;
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    site->workers = p;
    atomic_init(&w->refs, 1);
    w->tenant = edge__tenant_ref(t);
    w->name = strdup(name);
    site->workers[site->n_workers++] = w;
    if (!w->name)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    char where[200];
    snprintf(where, sizeof where, "tenant %s worker %s", t->name, name);
    struct edge_bundle_meta meta;
    int rc = edge__metadata_load(w, meta_path, &meta, err);
    struct stat st;
    if (rc == 0 && stat(code, &st) == 0 && S_ISDIR(st.st_mode))
        rc = edge__bundle_read(w, code, &meta, EDGE_MAX_BUNDLE_BYTES, where, err);
    else if (rc == 0)
        rc = read_single(w, code, &meta, meta_path, where, err);
    edge__bundle_meta_dispose(&meta);
    if (rc)
        return rc;
    *out = w;
    return 0;
}

static int add_route(struct edge_site *site, const char *route, struct edge_tenant *t,
                     struct edge_worker *w, struct ed_error *err)
{
    char host[256];
    const char *slash = strchr(route, '/');
    size_t hlen = slash ? (size_t)(slash - route) : strlen(route);
    if (hlen == 0 || hlen >= sizeof host)
        return ed_error_set(err, ED_ECONFIG, "route '%s': expected HOST[/PATH]", route);
    memcpy(host, route, hlen);
    host[hlen] = '\0';
    struct rt_route r = {
        .host = host, .path = slash, .tenant = t->name, .worker = w->name, .target = w};
    struct ed_error e = {0};
    int rc = rt_table_add(site->routes, &r, &e);
    if (rc)
        rc = ed_error_set(err, rc == ED_ENOMEM ? rc : ED_ECONFIG, "tenant %s: %s", t->name,
                          ed_error_msg(&e));
    ed_error_dispose(&e);
    if (rc)
        return rc;
    /* kept: every generation built from the control plane adds the directory's routes first */
    struct edge_static_route *p =
        realloc(site->static_routes, (site->n_static_routes + 1) * sizeof *p);
    if (!p)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    site->static_routes = p;
    p[site->n_static_routes] =
        (struct edge_static_route){strdup(host), slash ? strdup(slash) : NULL, w};
    if (!p[site->n_static_routes].host || (slash && !p[site->n_static_routes].path)) {
        free(p[site->n_static_routes].host);
        free(p[site->n_static_routes].path);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    site->n_static_routes++;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int add_var(struct edge_tenant *t, const char *spec, const char *where, struct ed_error *err)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec)
        return ed_error_set(err, ED_ECONFIG, "%s: var needs NAME=VALUE", where);
    struct iso_var *p = realloc(t->vars, (t->n_vars + 1) * sizeof *p);
    if (!p)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    t->vars = p;
    p[t->n_vars].name = strndup(spec, (size_t)(eq - spec));
    p[t->n_vars].value = strdup(eq + 1);
    t->n_vars++;
    return p[t->n_vars - 1].name && p[t->n_vars - 1].value ? 0 : ED_ENOMEM;
}

/* One tenant directory: tenant.conf names limits, vars and routes to <worker>.js files. */
static int load_tenant_dir(struct edge_site *site, const struct edge_config *cfg, const char *dir,
                           const char *name, struct ed_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/tenant.conf", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return ed_error_set(err, ED_ECONFIG, "cannot read %s: %s", path, strerror(errno));
    struct edge_tenant *t;
    int rc = add_tenant(site, cfg, name, &t, err);
    char line[1024];
    int lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = ed_error_set(err, ED_ECONFIG, "%s: expected key = value", where);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (strcmp(key, "subrequests") == 0) {
            char *end;
            unsigned long v = strtoul(val, &end, 10);
            if (*end || !*val || v < 1 || v > 100000)
                rc = ed_error_set(err, ED_ECONFIG, "%s: bad subrequests '%s' (1 to 100000)", where,
                                  val);
            else
                t->subrequests = (uint32_t)v;
        } else if (strcmp(key, "max_children") == 0 || strcmp(key, "max_children_heap_mb") == 0 ||
                   strcmp(key, "child_idle_ms") == 0) {
            char *end;
            unsigned long v = strtoul(val, &end, 10);
            if (*end || !*val || v < 1 || v > 86400000)
                rc = ed_error_set(err, ED_ECONFIG, "%s: bad %s '%s'", where, key, val);
            else if (strcmp(key, "max_children") == 0)
                t->max_children = (uint32_t)v;
            else if (strcmp(key, "child_idle_ms") == 0)
                t->child_idle_ms = (uint32_t)v;
            else
                t->max_children_heap_mb = (uint32_t)v;
        } else if (strcmp(key, "storage_mb") == 0 || strcmp(key, "max_objects") == 0) {
            char *end;
            unsigned long long v = strtoull(val, &end, 10);
            if (*end || !*val || v < 1 || v > 1000000000ull)
                rc = ed_error_set(err, ED_ECONFIG, "%s: bad %s '%s' (1 to 1000000000)", where, key,
                                  val);
            else if (key[0] == 's')
                t->storage_mb = v;
            else
                t->max_objects = v;
        } else if (strcmp(key, "cpu_ms") == 0 || strcmp(key, "heap_mb") == 0) {
            char *end;
            unsigned long v = strtoul(val, &end, 10);
            bool cpu = key[0] == 'c';
            if (*end || !*val || v < (cpu ? 1u : 8u) || v > (cpu ? 600000u : 65536u))
                rc = ed_error_set(err, ED_ECONFIG, "%s: bad %s '%s'", where, key, val);
            else if (cpu)
                t->cpu_ms = (uint32_t)v;
            else
                t->heap_mb = (uint32_t)v;
        } else if (strcmp(key, "var") == 0) {
            rc = add_var(t, val, where, err);
        } else if (strcmp(key, "token_sha256") == 0) {
            rc = add_token_hash(t, val, where, err);
        } else if (strcmp(key, "route") == 0) {
            char *sp = val + strcspn(val, " \t");
            char *wname = trim(sp);
            if (!*sp || !*wname || !name_ok(wname, strlen(wname))) {
                rc =
                    ed_error_set(err, ED_ECONFIG, "%s: expected route = HOST[/PATH] WORKER", where);
                break;
            }
            *sp = '\0';
            /* WORKER/ (a bundle) or WORKER.js, with WORKER.metadata.json beside either */
            char wdir[4096], wfile[4096 + 4], wmeta[4096 + 16];
            struct stat st;
            snprintf(wdir, sizeof wdir, "%s/%s/%s", dir, name, wname);
            snprintf(wfile, sizeof wfile, "%s.js", wdir);
            snprintf(wmeta, sizeof wmeta, "%s.metadata.json", wdir);
            bool is_dir = stat(wdir, &st) == 0 && S_ISDIR(st.st_mode);
            if (is_dir && access(wfile, F_OK) == 0) {
                rc = ed_error_set(err, ED_ECONFIG, "%s: both %s and %s/ exist: keep one", where,
                                  wfile, wdir);
                break;
            }
            struct edge_worker *w;
            rc = add_worker(site, t, wname, is_dir ? wdir : wfile, wmeta, &w, err);
            if (rc == 0)
                rc = add_route(site, val, t, w, err);
        } else {
            rc = ed_error_set(err, ED_ECONFIG, "%s: unknown key '%s'", where, key);
        }
    }
    fclose(f);
    return rc;
}

static int load_tenants_dir(struct edge_site *site, const struct edge_config *cfg,
                            struct ed_error *err)
{
    DIR *d = opendir(cfg->tenants_dir);
    if (!d)
        return ed_error_set(err, ED_ECONFIG, "cannot read tenants directory %s: %s",
                            cfg->tenants_dir, strerror(errno));
    /* sorted, so the order of tenants (and of route conflicts) does not depend on readdir */
    struct dirent **names;
    closedir(d);
    int n = scandir(cfg->tenants_dir, &names, NULL, alphasort);
    if (n < 0)
        return ed_error_set(err, ED_ECONFIG, "cannot read tenants directory %s: %s",
                            cfg->tenants_dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char conf[4096];
        struct stat st;
        snprintf(conf, sizeof conf, "%s/%s/tenant.conf", cfg->tenants_dir, name);
        if (rc == 0 && name[0] != '.' && stat(conf, &st) == 0) {
            if (!name_ok(name, strlen(name)))
                rc = ed_error_set(
                    err, ED_ECONFIG,
                    "tenant directory '%s': names are letters, digits, '-', '_' and '.'", name);
            else
                rc = load_tenant_dir(site, cfg, cfg->tenants_dir, name, err);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* --worker HOST[/PATH]=FILE: the tenant is named after the host ("*" -> "any"). */
static int load_worker_flag(struct edge_site *site, const struct edge_config *cfg,
                            const struct edge_worker_flag *wf, struct ed_error *err)
{
    char tname[64] = "", wname[64] = "";
    size_t n = 0;
    for (const char *p = wf->route; *p && *p != '/' && *p != ':' && n < sizeof tname - 4; p++) {
        if (*p == '*') {
            memcpy(tname + n, "any", 3);
            n += 3;
        } else {
            tname[n++] =
                isalnum((unsigned char)*p) || *p == '.' ? (char)tolower((unsigned char)*p) : '-';
        }
    }
    tname[n] = '\0';
    const char *base = wf->file + strlen(wf->file);
    while (base > wf->file && base[-1] == '/') /* a folder: "dir/" names the worker "dir" */
        base--;
    const char *end = base;
    while (base > wf->file && base[-1] != '/')
        base--;
    n = 0;
    if (end - base > 3 && strncmp(end - 3, ".js", 3) == 0)
        end -= 3;
    for (const char *p = base; p < end && n < sizeof wname - 1; p++)
        wname[n++] = isalnum((unsigned char)*p) || *p == '_' ? *p : '-';
    wname[n] = '\0';
    if (!name_ok(tname, strlen(tname)) || !name_ok(wname, strlen(wname)))
        return ed_error_set(err, ED_ECONFIG,
                            "--worker %s=%s: cannot name a tenant and worker from it", wf->route,
                            wf->file);
    struct edge_tenant *t = find_tenant(site, tname);
    int rc = t ? 0 : add_tenant(site, cfg, tname, &t, err);
    /* bindings beside the code: hello.js or hello/ -> hello.metadata.json */
    char meta[4096];
    size_t plen = strlen(wf->file);
    while (plen > 1 && wf->file[plen - 1] == '/')
        plen--;
    if (plen > 3 && strncmp(wf->file + plen - 3, ".js", 3) == 0)
        plen -= 3;
    snprintf(meta, sizeof meta, "%.*s.metadata.json", (int)plen, wf->file);
    struct edge_worker *w;
    if (rc == 0)
        rc = add_worker(site, t, wname, wf->file, meta, &w, err);
    return rc ? rc : add_route(site, wf->route, t, w, err);
}

/* The tenant's storage totals, counted from its files, and its limits (tenant.conf). */
static int tenant_quota(struct edge_tenant *t, const struct edge_config *cfg, struct ed_error *err)
{
    uint64_t objects = 0, bytes = 0;
    if (!(t->quota = st_quota_new(t->storage_mb << 20, t->max_objects)))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    int rc = st_tenant_objects(cfg->data_dir, t->name, &objects, &bytes, err);
    if (rc == ED_EINVAL) /* a name storage/ refuses has no objects */
        return 0;
    if (rc)
        return rc;
    st_quota_set(t->quota, bytes, objects);
    if (objects)
        ED_INFO("event=storage_counted tenant=%s objects=%llu bytes=%llu", t->name,
                (unsigned long long)objects, (unsigned long long)bytes);
    return 0;
}

int edge__site_load(const struct edge_config *cfg, struct edge_site **out, struct ed_error *err)
{
    struct edge_site *site = calloc(1, sizeof *site);
    if (!site)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    atomic_init(&site->refs, 1);
    int rc = rt_table_new(&site->routes);
    if (rc)
        ed_error_set(err, rc, "out of memory");
    if (rc == 0 && cfg->tenants_dir)
        rc = load_tenants_dir(site, cfg, err);
    for (size_t i = 0; rc == 0 && i < cfg->n_worker_flags; i++)
        rc = load_worker_flag(site, cfg, &cfg->worker_flags[i], err);
    /* with the admin API, tenants deploy their workers after the start */
    if (rc == 0 && site->n_workers == 0 && !cfg->admin_host)
        rc = ed_error_set(err, ED_ECONFIG,
                          "no workers to serve: give --tenants DIR, --worker HOST=FILE or "
                          "--admin-listen ADDR:PORT");
    for (size_t i = 0; rc == 0 && i < site->n_tenants; i++)
        rc = tenant_quota(site->tenants[i], cfg, err);
    if (rc == 0 && edge__site_seal(site))
        rc = ed_error_set(err, ED_ENOMEM, "out of memory");
    if (rc) {
        edge__site_unref(site);
        return rc;
    }
    *out = site;
    return 0;
}

int edge__site_check(const struct edge_site *site, struct ed_error *err)
{
    for (size_t i = 0; i < site->n_workers; i++) {
        const struct edge_worker *w = site->workers[i];
        struct ed_error e = {0};
        int rc = iso_bundle_check_objects(w->modules, w->n_modules, w->main_module, w->objects,
                                          w->n_objects, &e);
        if (rc)
            rc = ed_error_set(err, rc, "tenant %s worker %s: %s", w->tenant->name, w->name,
                              ed_error_msg(&e));
        ed_error_dispose(&e);
        if (rc)
            return rc;
        /* An object's database is DATA/tenants/<tenant>/do/<class>/: two workers of one tenant
         * hosting a class of one name would share its objects' files. */
        for (size_t j = 0; j < i; j++) {
            const struct edge_worker *o = site->workers[j];
            if (o->tenant != w->tenant)
                continue;
            for (size_t a = 0; a < w->n_objects; a++)
                for (size_t b = 0; b < o->n_objects; b++)
                    if (strcmp(w->objects[a].cls, o->objects[b].cls) == 0)
                        return ed_error_set(err, ED_EBADWORKER,
                                            "tenant %s: Durable Object class %s is declared by "
                                            "both worker %s and worker %s",
                                            w->tenant->name, w->objects[a].cls, o->name, w->name);
        }
    }
    return 0;
}

const struct edge_worker *edge__site_object_worker(const struct edge_site *site, const char *tenant,
                                                   const char *cls, size_t *ns)
{
    for (size_t i = 0; i < site->n_workers; i++) {
        const struct edge_worker *w = site->workers[i];
        if (strcmp(w->tenant->name, tenant) != 0)
            continue;
        for (size_t j = 0; j < w->n_objects; j++) {
            if (strcmp(w->objects[j].cls, cls) == 0) {
                if (ns)
                    *ns = j;
                return w;
            }
        }
    }
    return NULL;
}

void edge__tenant_log(const struct edge_tenant *t, const char *worker, const char *level,
                      const char *msg, size_t len)
{
    if (t->log_fd < 0)
        return;
    char ts[ED_TS_LEN];
    struct ed_buf b;
    ed_buf_init(&b);
    ed_buf_appendf(&b, "ts=%s worker=%s level=%s msg=", ed_log_ts(ts), worker, level);
    ed_buf_append_logvalue(&b, msg, len);
    if (ed_buf_append(&b, "\n", 1) == 0) {
        ssize_t w = write(t->log_fd, b.data, b.len); /* O_APPEND: one line, one write */
        (void)w;
    }
    ed_buf_dispose(&b);
}
