/*
 * Live generations: the shards serve what the control plane holds. A builder thread
 * (`edged-site`) waits for st_cp_generation() to move (an admin request kicks it; a poll every
 * second is the backstop), then builds a new site from the base (the tenants directory's
 * tenants, workers and routes, which always come first and win a name or route clash) and the
 * control plane's tenants, live worker versions and routes, and publishes it: a pointer swap
 * under a mutex and a uv_async_t to every shard. Each shard adopts it at its next loop turn
 * (edge__shard_adopt): new requests route through the new site, requests in flight finish on
 * the isolates they run on, and the isolates of workers that left the site are drained (freed
 * once nothing runs on them). A generation shares every tenant and worker that did not change
 * with the one before it (same live version, same tenant status and quotas), so a deploy of
 * one worker leaves every other isolate alone. Sites, tenants and workers are
 * reference-counted, so whichever thread drops the last reference frees them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "deploy/deploy.h"
#include "edge/edge_int.h"

struct edge_live {
    pthread_mutex_t lock;
    pthread_cond_t kick;    /* the builder waits on it */
    pthread_cond_t adopted; /* deploy waiters wait on it */
    struct edge_site *current;
    bool kicked, stop, running;
    uv_thread_t thread;
};

/* ---- reading the control plane ------------------------------------------------------------- */

struct strs {
    char **v;
    size_t n;
};

static int strs_push(struct strs *s, const char *a)
{
    char **p = realloc(s->v, (s->n + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    s->v = p;
    if (!(p[s->n] = strdup(a ? a : "")))
        return ED_ENOMEM;
    s->n++;
    return 0;
}

static void strs_dispose(struct strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* Tenants as rows of 3 (name, status, quotas), routes as rows of 3 (pattern, tenant, worker),
 * workers as rows of 3 (tenant, name, live version in decimal). */
static int each_tenant(void *ud, const struct st_tenant *t)
{
    struct strs *s = ud;
    return strs_push(s, t->name) || strs_push(s, t->status) || strs_push(s, t->quotas) ? ED_ENOMEM
                                                                                       : 0;
}

static int each_route(void *ud, const struct st_route *r)
{
    struct strs *s = ud;
    return strs_push(s, r->pattern) || strs_push(s, r->tenant) || strs_push(s, r->worker)
               ? ED_ENOMEM
               : 0;
}

static int each_worker(void *ud, const struct st_worker_info *w)
{
    struct strs *s = ud;
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)w->live_version);
    return strs_push(s, w->tenant) || strs_push(s, w->name) || strs_push(s, v) ? ED_ENOMEM : 0;
}

static const struct {
    const char *name;
    enum iso_module_type type;
} module_types[] = {
    {"esm", ISO_MODULE_ESM},   {"cjs", ISO_MODULE_CJS},   {"text", ISO_MODULE_TEXT},
    {"data", ISO_MODULE_DATA}, {"json", ISO_MODULE_JSON},
};

/* A version being loaded into a worker. */
struct load {
    struct edge_worker *w;
    char *metadata;
    int rc;
};

static int on_version(void *ud, const struct st_version_info *v)
{
    struct load *l = ud;
    return (l->metadata = strdup(v->metadata ? v->metadata : "{}")) ? 0 : ED_ENOMEM;
}

static int on_module(void *ud, const struct st_module *m)
{
    struct edge_worker *w = ((struct load *)ud)->w;
    struct iso_module *p = realloc(w->modules, (w->n_modules + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    w->modules = p;
    struct iso_module *mod = &p[w->n_modules];
    memset(mod, 0, sizeof *mod);
    mod->type = ISO_MODULE_ESM;
    for (size_t i = 0; i < sizeof module_types / sizeof *module_types; i++)
        if (strcmp(m->type, module_types[i].name) == 0)
            mod->type = module_types[i].type;
    char *src = malloc(m->len + 1); /* NUL-terminated, as the tenants directory's */
    char *name = strdup(m->name);
    if (!src || !name) {
        free(src);
        free(name);
        return ED_ENOMEM;
    }
    if (m->len)
        memcpy(src, m->source, m->len);
    src[m->len] = '\0';
    mod->name = name;
    mod->source = src;
    mod->source_len = m->len;
    w->n_modules++;
    w->bundle_bytes += m->len;
    return 0;
}

static char *dup_json(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return strdup(v ? v : "");
}

/* The bindings of a stored version's metadata (deploy/ normalized them): plain_text and
 * secret_text become env strings, worker_loader a loader, durable_object_namespace a
 * namespace of a class this worker exports. */
static int apply_metadata(struct edge_worker *w, const char *metadata)
{
    json_t *root = json_loads(metadata, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return ED_EINVAL;
    }
    int rc = (w->main_module = dup_json(root, "main_module")) ? 0 : ED_ENOMEM;
    json_t *bindings = json_object_get(root, "bindings");
    size_t n = json_array_size(bindings);
    if (rc == 0 && n) {
        w->vars = calloc(n, sizeof *w->vars);
        w->loaders = calloc(n, sizeof *w->loaders);
        w->objects = calloc(n, sizeof *w->objects);
        if (!w->vars || !w->loaders || !w->objects)
            rc = ED_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *b = json_array_get(bindings, i);
        const char *type = json_string_value(json_object_get(b, "type"));
        type = type ? type : "";
        if (strcmp(type, "plain_text") == 0 || strcmp(type, "secret_text") == 0) {
            struct iso_var *v = &w->vars[w->n_vars++];
            v->name = dup_json(b, "name");
            v->value = dup_json(b, "text");
            rc = v->name && v->value ? 0 : ED_ENOMEM;
        } else if (strcmp(type, "worker_loader") == 0) {
            rc = (w->loaders[w->n_loaders++] = dup_json(b, "name")) ? 0 : ED_ENOMEM;
        } else if (strcmp(type, "durable_object_namespace") == 0) {
            struct iso_object_ns *o = &w->objects[w->n_objects++];
            o->name = dup_json(b, "name");
            o->cls = dup_json(b, "class_name");
            rc = o->name && o->cls ? 0 : ED_ENOMEM;
        }
    }
    json_decref(root);
    return rc;
}

/* ---- building a generation ----------------------------------------------------------------- */

static int push_tenant(struct edge_site *site, struct edge_tenant *t)
{
    struct edge_tenant **p = realloc(site->tenants, (site->n_tenants + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    site->tenants = p;
    p[site->n_tenants++] = t;
    return 0;
}

static int push_worker(struct edge_site *site, struct edge_worker *w)
{
    struct edge_worker **p = realloc(site->workers, (site->n_workers + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    site->workers = p;
    p[site->n_workers++] = w;
    return 0;
}

static struct edge_tenant *find_tenant(const struct edge_site *site, const char *name, bool managed)
{
    for (size_t i = 0; site && i < site->n_tenants; i++)
        if (site->tenants[i]->managed == managed && strcmp(site->tenants[i]->name, name) == 0)
            return site->tenants[i];
    return NULL;
}

static struct edge_worker *find_worker(const struct edge_site *site, const char *tenant,
                                       const char *name)
{
    for (size_t i = 0; site && i < site->n_workers; i++) {
        struct edge_worker *w = site->workers[i];
        if (w->tenant->managed && strcmp(w->name, name) == 0 &&
            strcmp(w->tenant->name, tenant) == 0)
            return w;
    }
    return NULL;
}

/* The control plane's tenant, as in prev when its status and quotas did not change. */
static int cp_tenant(struct edge_server *srv, const struct edge_site *prev, const char *name,
                     const char *status, const char *quotas, struct edge_tenant **out,
                     struct ed_error *err)
{
    size_t klen = strlen(status) + strlen(quotas) + 2;
    char *key = malloc(klen);
    if (!key)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    snprintf(key, klen, "%s\n%s", status, quotas);
    struct edge_tenant *old = find_tenant(prev, name, true);
    if (old && strcmp(old->cp_key, key) == 0) {
        free(key);
        *out = edge__tenant_ref(old);
        return 0;
    }
    struct edge_tenant *t;
    int rc = edge__tenant_new(srv->cfg, name, &t, err);
    if (rc) {
        free(key);
        return rc;
    }
    struct dp_quotas q;
    dp_quotas_of(srv->api, quotas, &q);
    t->managed = true;
    t->cp_key = key;
    t->suspended = strcmp(status, "active") != 0;
    t->cpu_ms = q.cpu_ms ? (uint32_t)q.cpu_ms : srv->cfg->cpu_ms;
    t->heap_mb = q.heap_mb ? (uint32_t)q.heap_mb : srv->cfg->heap_mb;
    /* the loader reads 0 as its default: a tenant allowed no children gets one at most */
    t->max_children = q.max_children ? (uint32_t)q.max_children : 1;
    t->requests_per_s = q.requests_per_s;
    *out = t;
    return 0;
}

/* The control plane's live version of a worker, as in prev when neither it nor its tenant
 * changed; loaded from the control plane otherwise. */
static int cp_worker(struct edge_server *srv, const struct edge_site *prev, struct edge_tenant *t,
                     const char *name, int64_t version, struct edge_worker **out,
                     struct ed_error *err)
{
    struct edge_worker *old = find_worker(prev, t->name, name);
    if (old && old->tenant == t && old->version == version) {
        *out = edge__worker_ref(old);
        return 0;
    }
    struct edge_worker *w = calloc(1, sizeof *w);
    if (!w)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    atomic_init(&w->refs, 1);
    w->tenant = edge__tenant_ref(t);
    w->version = version;
    struct load l = {.w = w};
    int rc = (w->name = strdup(name)) ? 0 : ED_ENOMEM;
    if (rc == 0)
        rc = st_cp_version_load(srv->db, t->name, name, version, on_version, on_module, &l, err);
    if (rc == 0)
        rc = apply_metadata(w, l.metadata ? l.metadata : "{}");
    free(l.metadata);
    if (rc == ED_ENOMEM || rc == ED_EINVAL)
        rc = ed_error_set(err, rc, "tenant %s worker %s version %lld: %s", t->name, name,
                          (long long)version,
                          rc == ED_ENOMEM ? "out of memory" : "its metadata is not JSON");
    if (rc) {
        edge__worker_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* "host/path*" (normalized by deploy/) into the router's host and path prefix. */
static int add_cp_route(struct edge_site *site, const char *pattern, struct edge_worker *w)
{
    char host[256], path[2048];
    const char *slash = strchr(pattern, '/');
    size_t hl = slash ? (size_t)(slash - pattern) : strlen(pattern);
    if (hl == 0 || hl >= sizeof host)
        return ED_EINVAL;
    memcpy(host, pattern, hl);
    host[hl] = '\0';
    snprintf(path, sizeof path, "%s", slash ? slash : "/");
    size_t pl = strlen(path);
    if (pl && path[pl - 1] == '*')
        path[--pl] = '\0';
    struct rt_route r = {.host = host,
                         .path = pl ? path : "/",
                         .tenant = w->tenant->name,
                         .worker = w->name,
                         .target = w};
    struct ed_error e = {0};
    int rc = rt_table_add(site->routes, &r, &e);
    if (rc && rc != ED_ENOMEM)
        ED_WARN("event=route_skipped pattern=\"%s\" tenant=%s worker=%s error=\"%s\"", pattern,
                w->tenant->name, w->name, ed_error_msg(&e));
    ed_error_dispose(&e);
    return rc == ED_ENOMEM ? rc : 0;
}

static int build(struct edge_server *srv, const struct edge_site *prev, uint64_t gen,
                 struct edge_site **out, struct ed_error *err)
{
    const struct edge_site *base = srv->site;
    struct strs tenants = {0}, workers = {0}, routes = {0};
    struct edge_site *site = calloc(1, sizeof *site);
    if (!site)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    atomic_init(&site->refs, 1);
    site->generation = gen;
    int rc = rt_table_new(&site->routes);
    /* the tenants directory's, first: they win a clash */
    for (size_t i = 0; rc == 0 && i < base->n_tenants; i++)
        if ((rc = push_tenant(site, base->tenants[i])) == 0)
            edge__tenant_ref(base->tenants[i]);
    for (size_t i = 0; rc == 0 && i < base->n_workers; i++)
        if ((rc = push_worker(site, base->workers[i])) == 0)
            edge__worker_ref(base->workers[i]);
    for (size_t i = 0; rc == 0 && i < base->n_static_routes; i++) {
        const struct edge_static_route *sr = &base->static_routes[i];
        struct rt_route r = {.host = sr->host,
                             .path = sr->path,
                             .tenant = sr->worker->tenant->name,
                             .worker = sr->worker->name,
                             .target = sr->worker};
        rc = rt_table_add(site->routes, &r, NULL);
    }
    if (rc) {
        rc = ed_error_set(err, ED_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = st_cp_tenants_list(srv->db, each_tenant, &tenants, err)) ||
        (rc = st_cp_workers_list(srv->db, NULL, each_worker, &workers, err)) ||
        (rc = st_cp_routes_list(srv->db, NULL, each_route, &routes, err))) {
        if (rc == ED_ENOMEM)
            ed_error_set(err, rc, "out of memory");
        goto out;
    }
    for (size_t i = 0; rc == 0 && i + 2 < tenants.n; i += 3) {
        const char *name = tenants.v[i];
        if (find_tenant(base, name, false)) {
            ED_WARN("event=tenant_shadowed tenant=%s reason=\"the tenants directory has a tenant "
                    "of this name; the control plane's is not served\"",
                    name);
            continue;
        }
        struct edge_tenant *t = NULL;
        if ((rc = cp_tenant(srv, prev, name, tenants.v[i + 1], tenants.v[i + 2], &t, err)) == 0 &&
            (rc = push_tenant(site, t)) != 0) {
            edge__tenant_unref(t);
            rc = ed_error_set(err, ED_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; rc == 0 && i + 2 < workers.n; i += 3) {
        struct edge_tenant *t = find_tenant(site, workers.v[i], true);
        if (!t)
            continue;
        struct edge_worker *w = NULL;
        rc =
            cp_worker(srv, prev, t, workers.v[i + 1], strtoll(workers.v[i + 2], NULL, 10), &w, err);
        if (rc == ED_ENOENT) { /* gone since it was listed: the generation moved on */
            rc = 0;
            continue;
        }
        if (rc == 0 && (rc = push_worker(site, w)) != 0) {
            edge__worker_unref(w);
            rc = ed_error_set(err, ED_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; rc == 0 && i + 2 < routes.n; i += 3) {
        struct edge_worker *w = find_worker(site, routes.v[i + 1], routes.v[i + 2]);
        if (w && (rc = add_cp_route(site, routes.v[i], w)) != 0)
            rc = ed_error_set(err, rc, "out of memory");
    }
    if (rc == 0 && edge__site_seal(site))
        rc = ed_error_set(err, ED_ENOMEM, "out of memory");
out:
    strs_dispose(&tenants);
    strs_dispose(&workers);
    strs_dispose(&routes);
    if (rc) {
        edge__site_unref(site);
        return rc;
    }
    *out = site;
    return 0;
}

/* ---- publishing and adopting ----------------------------------------------------------------- */

static void publish(struct edge_server *srv, struct edge_site *site)
{
    struct edge_live *lv = srv->live;
    pthread_mutex_lock(&lv->lock);
    struct edge_site *old = lv->current;
    lv->current = site;
    for (int i = 0; srv->shards && i < srv->n_shards; i++)
        if (!srv->shards[i].live_closed)
            uv_async_send(&srv->shards[i].site_wake);
    pthread_mutex_unlock(&lv->lock);
    edge__site_unref(old);
}

struct edge_site *edge__live_current(struct edge_server *srv)
{
    struct edge_live *lv = srv->live;
    pthread_mutex_lock(&lv->lock);
    struct edge_site *s = edge__site_ref(lv->current);
    pthread_mutex_unlock(&lv->lock);
    return s;
}

void edge__shard_adopt(struct edge_shard *sh)
{
    struct edge_site *next = edge__live_current(sh->srv);
    if (next == sh->site) {
        edge__site_unref(next);
        return;
    }
    struct edge_site *old = sh->site;
    sh->site = next;
    /* isolates of workers the new site no longer has: drained (their requests finish) */
    size_t drained = 0;
    for (size_t b = 0; b < sh->inst_buckets; b++) {
        for (struct edge_instance *i = sh->inst_map[b], *next_i; i; i = next_i) {
            next_i = i->next_live;
            if (!edge__site_has_worker(next, i->worker)) {
                edge__instance_drain(sh, i);
                drained++;
            }
        }
    }
    struct edge_live *lv = sh->srv->live;
    pthread_mutex_lock(&lv->lock);
    atomic_store(&sh->site_gen, next->generation);
    pthread_cond_broadcast(&lv->adopted);
    pthread_mutex_unlock(&lv->lock);
    ED_DEBUG("event=site_adopted shard=%d generation=%llu workers=%zu drained=%zu", sh->id,
             (unsigned long long)next->generation, next->n_workers, drained);
    edge__site_unref(old);
}

void edge__live_shard_closed(struct edge_shard *sh)
{
    struct edge_live *lv = sh->srv->live;
    pthread_mutex_lock(&lv->lock);
    sh->live_closed = true;
    pthread_cond_broadcast(&lv->adopted);
    pthread_mutex_unlock(&lv->lock);
}

static void deadline_in(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

bool edge__live_wait(struct edge_server *srv, uint64_t gen, uint32_t timeout_ms)
{
    struct edge_live *lv = srv->live;
    struct timespec until;
    deadline_in(&until, timeout_ms);
    pthread_mutex_lock(&lv->lock);
    bool all;
    for (;;) {
        all = true;
        for (int i = 0; srv->shards && i < srv->n_shards; i++)
            if (!srv->shards[i].live_closed && atomic_load(&srv->shards[i].site_gen) < gen)
                all = false;
        if (all || pthread_cond_timedwait(&lv->adopted, &lv->lock, &until) != 0)
            break;
    }
    if (!all) { /* the last look, after the timeout */
        all = true;
        for (int i = 0; srv->shards && i < srv->n_shards; i++)
            if (!srv->shards[i].live_closed && atomic_load(&srv->shards[i].site_gen) < gen)
                all = false;
    }
    pthread_mutex_unlock(&lv->lock);
    return all;
}

void edge__live_kick(struct edge_server *srv)
{
    struct edge_live *lv = srv->live;
    pthread_mutex_lock(&lv->lock);
    lv->kicked = true;
    pthread_cond_signal(&lv->kick);
    pthread_mutex_unlock(&lv->lock);
}

/* ---- the builder --------------------------------------------------------------------------- */

#define POLL_MS 1000 /* a change no admin request announced (none today) is seen this late */

static void builder(void *arg)
{
    struct edge_server *srv = arg;
    struct edge_live *lv = srv->live;
    pthread_setname_np(pthread_self(), "edged-site");
    pthread_mutex_lock(&lv->lock);
    while (!lv->stop) {
        if (!lv->kicked && st_cp_generation(srv->db) == lv->current->generation) {
            struct timespec until;
            deadline_in(&until, POLL_MS);
            pthread_cond_timedwait(&lv->kick, &lv->lock, &until);
            continue;
        }
        lv->kicked = false;
        struct edge_site *prev = edge__site_ref(lv->current);
        pthread_mutex_unlock(&lv->lock);
        uint64_t gen = st_cp_generation(srv->db), t0 = ed_now_ns();
        struct edge_site *site = NULL;
        struct ed_error err = {0};
        int rc = gen == prev->generation ? 0 : build(srv, prev, gen, &site, &err);
        edge__site_unref(prev);
        if (rc) {
            ED_ERROR("event=site_build_failed generation=%llu error=\"%s\"",
                     (unsigned long long)gen, ed_error_msg(&err));
            struct timespec until; /* retried after a pause, not in a loop */
            deadline_in(&until, POLL_MS);
            pthread_mutex_lock(&lv->lock);
            if (!lv->stop)
                pthread_cond_timedwait(&lv->kick, &lv->lock, &until);
            pthread_mutex_unlock(&lv->lock);
        } else if (site) {
            ED_INFO("event=site_built generation=%llu tenants=%zu workers=%zu routes=%zu us=%llu",
                    (unsigned long long)gen, site->n_tenants, site->n_workers,
                    rt_table_size(site->routes), (unsigned long long)((ed_now_ns() - t0) / 1000));
            publish(srv, site);
        }
        ed_error_dispose(&err);
        pthread_mutex_lock(&lv->lock);
    }
    pthread_mutex_unlock(&lv->lock);
}

int edge__live_start(struct edge_server *srv, struct ed_error *err)
{
    struct edge_live *lv = calloc(1, sizeof *lv);
    if (!lv)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    pthread_mutex_init(&lv->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lv->kick, &ca);
    pthread_cond_init(&lv->adopted, &ca);
    pthread_condattr_destroy(&ca);
    srv->live = lv;
    int rc = build(srv, NULL, st_cp_generation(srv->db), &lv->current, err);
    if (rc) {
        edge__live_stop(srv);
        return rc;
    }
    ED_INFO("event=site_built generation=%llu tenants=%zu workers=%zu routes=%zu",
            (unsigned long long)lv->current->generation, lv->current->n_tenants,
            lv->current->n_workers, rt_table_size(lv->current->routes));
    return 0;
}

int edge__live_run(struct edge_server *srv, struct ed_error *err)
{
    struct edge_live *lv = srv->live;
    if (uv_thread_create(&lv->thread, builder, srv) != 0)
        return ed_error_set(err, ED_ENOMEM, "cannot start the site builder thread");
    lv->running = true;
    return 0;
}

void edge__live_stop_builder(struct edge_server *srv)
{
    struct edge_live *lv = srv->live;
    if (!lv || !lv->running)
        return;
    pthread_mutex_lock(&lv->lock);
    lv->stop = true;
    pthread_cond_signal(&lv->kick);
    pthread_mutex_unlock(&lv->lock);
    uv_thread_join(&lv->thread);
    lv->running = false;
}

void edge__live_stop(struct edge_server *srv)
{
    struct edge_live *lv = srv->live;
    if (!lv)
        return;
    edge__live_stop_builder(srv);
    edge__site_unref(lv->current);
    pthread_cond_destroy(&lv->kick);
    pthread_cond_destroy(&lv->adopted);
    pthread_mutex_destroy(&lv->lock);
    free(lv);
    srv->live = NULL;
}
