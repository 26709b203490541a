/*
 * Loading the site: tenants, their workers' code and their routes, from a tenants directory
 * (DIR/<tenant>/tenant.conf plus DIR/<tenant>/<worker>.js) and from --worker flags, into the
 * plain route table router/ matches on. This is the stand-in for the control plane that
 * storage/ and the deploy API will provide; its output shape (tenants, workers, a sealed
 * rt_table) is what they will produce.
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

#define MAX_WORKER_SOURCE (10u << 20) /* a parent worker bundle, as Workers' paid limit */

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
    if (!t)
        return;
    for (size_t i = 0; i < t->n_vars; i++) {
        free((char *)t->vars[i].name);
        free((char *)t->vars[i].value);
    }
    free(t->vars);
    free(t->token_hashes);
    if (t->log_fd >= 0)
        close(t->log_fd);
    free(t->name);
    free(t);
}

static void worker_free(struct edge_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_loaders; i++)
        free(w->loaders[i]);
    free(w->loaders);
    for (size_t i = 0; i < w->n_vars; i++) {
        free((char *)w->vars[i].name);
        free((char *)w->vars[i].value);
    }
    free(w->vars);
    free(w->name);
    free(w->module_name);
    free(w->source);
    free(w);
}

void edge__site_free(struct edge_site *site)
{
    if (!site)
        return;
    for (size_t i = 0; i < site->n_workers; i++)
        worker_free(site->workers[i]);
    for (size_t i = 0; i < site->n_tenants; i++)
        tenant_free(site->tenants[i]);
    free(site->workers);
    free(site->tenants);
    if (site->routes)
        rt_table_unref(site->routes);
    free(site);
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

static int add_tenant(struct edge_site *site, const struct edge_config *cfg, const char *name,
                      struct edge_tenant **out, struct ed_error *err)
{
    struct edge_tenant *t = calloc(1, sizeof *t);
    struct edge_tenant **p = realloc(site->tenants, (site->n_tenants + 1) * sizeof *p);
    if (!t || !p) {
        free(t);
        if (p)
            site->tenants = p;
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    site->tenants = p;
    t->log_fd = -1;
    t->name = strdup(name);
    t->cpu_ms = cfg->cpu_ms;
    t->heap_mb = cfg->heap_mb;
    t->subrequests = 50;
    site->tenants[site->n_tenants++] = t;
    if (!t->name)
        return ed_error_set(err, ED_ENOMEM, "out of memory");

    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tenants/%s/logs", cfg->data_dir, name);
    int rc = ed_mkdirs(dir, 0755);
    if (rc)
        return ed_error_set(err, ED_EIO, "cannot create %s: %s", dir, ed_strerror(rc));
    strncat(dir, "/worker.log", sizeof dir - strlen(dir) - 1);
    t->log_fd = open(dir, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (t->log_fd < 0)
        return ed_error_set(err, ED_EIO, "cannot open %s: %s", dir, strerror(errno));
    *out = t;
    return 0;
}

static int read_file(const char *path, char **out, size_t *len, struct ed_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ed_error_set(err, ED_ENOENT, "cannot read worker %s: %s", path, strerror(errno));
    struct ed_buf b;
    ed_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_WORKER_SOURCE)
            rc = ed_error_set(err, ED_ETOOBIG, "worker %s is larger than %u bytes", path,
                              MAX_WORKER_SOURCE);
        else
            rc = ed_buf_append(&b, chunk, n);
    }
    if (rc == 0 && ferror(f))
        rc = ed_error_set(err, ED_EIO, "cannot read worker %s: %s", path, strerror(errno));
    fclose(f);
    if (rc == 0 && b.len == 0)
        rc = ed_error_set(err, ED_ECONFIG, "worker %s is empty", path);
    if (rc) {
        ed_buf_dispose(&b);
        return rc == ED_ENOMEM ? ed_error_set(err, rc, "out of memory") : rc;
    }
    *out = b.data;
    *len = b.len;
    return 0;
}

static int add_worker(struct edge_site *site, struct edge_tenant *t, const char *name,
                      const char *path, struct edge_worker **out, struct ed_error *err)
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
    w->tenant = t;
    w->index = site->n_workers;
    w->name = strdup(name);
    site->workers[site->n_workers++] = w;
    if (!w->name || asprintf(&w->module_name, "%s.js", name) < 0)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    int rc = read_file(path, &w->source, &w->source_len, err);
    if (rc)
        return rc;
    /* bindings beside the code: hello.js -> hello.metadata.json */
    char meta[4096];
    size_t plen = strlen(path);
    if (plen > 3 && strcmp(path + plen - 3, ".js") == 0)
        plen -= 3;
    snprintf(meta, sizeof meta, "%.*s.metadata.json", (int)plen, path);
    rc = edge__metadata_load(w, meta, err);
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
    return rc;
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
            char wpath[4096];
            snprintf(wpath, sizeof wpath, "%s/%s/%s.js", dir, name, wname);
            struct edge_worker *w;
            rc = add_worker(site, t, wname, wpath, &w, err);
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
    const char *base = strrchr(wf->file, '/');
    base = base ? base + 1 : wf->file;
    n = 0;
    for (const char *p = base; *p && strcmp(p, ".js") != 0 && n < sizeof wname - 1; p++)
        wname[n++] = isalnum((unsigned char)*p) || *p == '_' ? *p : '-';
    wname[n] = '\0';
    if (!name_ok(tname, strlen(tname)) || !name_ok(wname, strlen(wname)))
        return ed_error_set(err, ED_ECONFIG,
                            "--worker %s=%s: cannot name a tenant and worker from it", wf->route,
                            wf->file);
    struct edge_tenant *t = find_tenant(site, tname);
    int rc = t ? 0 : add_tenant(site, cfg, tname, &t, err);
    struct edge_worker *w;
    if (rc == 0)
        rc = add_worker(site, t, wname, wf->file, &w, err);
    return rc ? rc : add_route(site, wf->route, t, w, err);
}

int edge__site_load(const struct edge_config *cfg, struct edge_site **out, struct ed_error *err)
{
    struct edge_site *site = calloc(1, sizeof *site);
    if (!site)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    int rc = rt_table_new(&site->routes);
    if (rc)
        ed_error_set(err, rc, "out of memory");
    if (rc == 0 && cfg->tenants_dir)
        rc = load_tenants_dir(site, cfg, err);
    for (size_t i = 0; rc == 0 && i < cfg->n_worker_flags; i++)
        rc = load_worker_flag(site, cfg, &cfg->worker_flags[i], err);
    if (rc == 0 && site->n_workers == 0)
        rc = ed_error_set(err, ED_ECONFIG,
                          "no workers to serve: give --tenants DIR or --worker HOST=FILE");
    if (rc) {
        edge__site_free(site);
        return rc;
    }
    rt_table_seal(site->routes);
    *out = site;
    return 0;
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
