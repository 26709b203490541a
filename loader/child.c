/*
 * Children of one parent instance: found by (binding, id), created from the code the parent
 * handed over, kept in their tenant's most-recently-used list on the shard, and evicted when
 * idle too long, when the tenant's caps on live children or their heap need room, or when a
 * limit retired them. A child is busy while calls (or their ctx.waitUntil() work) are in flight or its parent holds stubs into
 * it (RpcTargets it returned, response bodies still being read): a busy child is never evicted,
 * and a load() child whose stub was collected stays until it is idle. A child that leaves the
 * lists otherwise (a limit) keeps serving the calls in flight and its isolate is freed after
 * its last reference, off the request path; the parent's stubs into it then fail. When it
 * goes, the parent releases what it held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/ld_int.h"

static void child_log(void *ud, const char *level, const char *msg, size_t len)
{
    struct ld_child *c = ud;
    struct ld_parent *p = c->parent;
    if (p->cfg.log)
        p->cfg.log(p->cfg.log_ud, c->log_name, level, msg, len);
}

struct ld_child *ld__child_find(struct ld_parent *p, const char *binding, const char *id,
                                size_t id_len)
{
    for (struct ld_child *c = p->children; c; c = c->next)
        if (c->id_len == id_len && memcmp(c->id, id, id_len) == 0 &&
            strcmp(c->binding, binding) == 0)
            return c;
    return NULL;
}

static void list_remove(struct ld_child *c)
{
    struct ld_parent *p = c->parent;
    struct ld__tenant *t = p->tenant_caps;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->children = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        t->lru = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        t->lru_tail = c->tprev;
    c->tprev = c->tnext = NULL;
}

static void list_push_front(struct ld_child *c)
{
    struct ld_parent *p = c->parent;
    struct ld__tenant *t = p->tenant_caps;
    c->prev = NULL;
    c->next = p->children;
    if (p->children)
        p->children->prev = c;
    p->children = c;
    c->tprev = NULL;
    c->tnext = t->lru;
    if (t->lru)
        t->lru->tprev = c;
    else
        t->lru_tail = c;
    t->lru = c;
}

struct ld_child *ld__child_by_serial(struct ld_parent *p, uint64_t serial)
{
    for (struct ld_child *c = p->children; c; c = c->next)
        if (c->serial == serial)
            return c;
    return NULL;
}

bool ld__child_busy(const struct ld_child *c)
{
    /* pending: ctx.waitUntil() work of calls already answered still runs in it */
    return c->refs > 1 || (c->w && (iso_worker_exports(c->w) > 0 || iso_worker_pending(c->w) > 0));
}

void ld__child_release(struct ld_child *c)
{
    if (ld__child_busy(c))
        c->release_pending = true;
    else
        ld__child_unregister(c);
}

void ld__child_touch(struct ld_child *c)
{
    c->last_used_ns = ed_now_ns();
    ld__child_dirty(c);
    if (c->registered && c->parent->tenant_caps->lru != c) {
        list_remove(c);
        list_push_front(c);
    }
}

void ld__child_free(struct ld_child *c)
{
    struct ld_parent *p = c->parent;
    if (p->w && !p->dead) {
        if (c->n_stubs)
            iso_worker_release_stubs(p->w, c->stubs, c->n_stubs);
        iso_worker_release_peer(p->w, c->serial); /* what the child held of its results */
    }
    /* what hosts the objects forgets the facets this child held (never after the parent died:
     * its facet host went with it, and with it every record of this child) */
    if (!p->dead && p->cfg.facets && p->cfg.facets->child_gone && c->w)
        p->cfg.facets->child_gone(p->cfg.facets->ud, c->w);
    iso_worker_free(c->w);
    free(c->binding);
    free(c->id);
    free(c->log_name);
    free(c->stubs);
    free(c);
    ld__parent_unref(p);
}

void ld__child_unref(struct ld_child *c)
{
    if (--c->refs == 0)
        ld__reap_later(c->parent->shard, c);
    else if (c->refs == 1 && c->registered && c->release_pending && !ld__child_busy(c))
        ld__child_unregister(c);
}

void ld__child_unregister(struct ld_child *c)
{
    if (!c->registered)
        return;
    struct ld__tenant *t = c->parent->tenant_caps;
    c->registered = false;
    list_remove(c);
    c->parent->shard->n_children--;
    t->n_children--;
    t->children_heap -= c->heap;
    ld__child_unref(c);
}

void ld__children_sweep(struct ld_parent *p, uint64_t now_ns, uint64_t idle_ns)
{
    struct ld_child *c = p->children, *next;
    for (; c; c = next) {
        next = c->next;
        if (!ld__child_busy(c) && now_ns - c->last_used_ns > idle_ns)
            ld__child_unregister(c);
    }
}

void ld__child_measure(struct ld_child *c)
{
    if (!c->registered || !c->w)
        return;
    size_t now = iso_worker_memory(c->w);
    struct ld__tenant *t = c->parent->tenant_caps;
    t->children_heap += now - c->heap;
    c->heap = now;
}

/* Every child of p's tenant here is busy, maybe only held by stubs its parents no longer
 * reference: collects the parents' garbage and runs the drops their finalizers queued (they
 * run no JavaScript), so that the children those stubs pinned can go. A full collection of
 * each parent (milliseconds), only when the caps would otherwise refuse a child. */
static void collect_tenant_garbage(struct ld_parent *p)
{
    for (struct ld_parent *q = p->shard->parents; q; q = q->next)
        if (q->tenant_caps == p->tenant_caps && q->w && !q->dead)
            iso_worker_collect_garbage(q->w);
    ld__run_drops(p->shard);
}

/* Makes room for one more child of p's tenant on this shard: evicts idle children, whichever
 * parent of the tenant they belong to, from the least recently used end. */
static int make_room(struct ld_parent *p, struct ed_error *err)
{
    struct ld__tenant *t = p->tenant_caps;
    struct ld_child *victim = t->lru_tail;
    bool collected = false;
    while (t->n_children >= t->max_children || (t->n_children && t->children_heap > t->max_heap)) {
        while (victim && ld__child_busy(victim))
            victim = victim->tprev;
        if (!victim && !collected) {
            collected = true;
            collect_tenant_garbage(p);
            victim = t->lru_tail;
            continue;
        }
        if (!victim)
            return ed_error_set(err, ED_EBUSY,
                                "too many live child workers (%zu on this thread, all busy); "
                                "try again later",
                                t->n_children);
        struct ld_child *prev = victim->tprev;
        ld__child_unregister(victim);
        victim = prev;
    }
    return 0;
}

static uint32_t lowest(uint32_t a, uint32_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

int ld__child_create(struct ld_parent *p, const char *binding, const char *id, size_t id_len,
                     bool anonymous, const struct iso_child_code *code, uint32_t call_cpu_ms,
                     struct ld_child **out, struct ed_error *err)
{
    int rc = make_room(p, err);
    if (rc)
        return rc;
    struct ld_child *c = calloc(1, sizeof *c);
    if (!c)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    c->parent = p;
    c->binding = strdup(binding);
    c->id = malloc(id_len + 1);
    c->anonymous = anonymous;
    c->id_len = id_len;
    if (c->id) {
        memcpy(c->id, id, id_len);
        c->id[id_len] = '\0';
    }
    if (asprintf(&c->log_name, "child:%.*s", anonymous ? 4 : (int)(id_len > 64 ? 64 : id_len),
                 anonymous ? "load" : id) < 0)
        c->log_name = NULL;
    if (code->n_stubs) {
        c->stubs = malloc(code->n_stubs * sizeof *c->stubs);
        if (c->stubs) {
            memcpy(c->stubs, code->stubs, code->n_stubs * sizeof *c->stubs);
            c->n_stubs = code->n_stubs;
        }
    }
    if (!c->binding || !c->id || !c->log_name || (code->n_stubs && !c->stubs)) {
        free(c->binding);
        free(c->id);
        free(c->log_name);
        free(c->stubs);
        free(c);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    c->cpu_ms = lowest(lowest(p->cfg.cpu_ms, code->cpu_ms), call_cpu_ms);
    c->sub_requests = lowest(p->cfg.sub_requests ? p->cfg.sub_requests : 50, code->sub_requests);
    c->has_outbound = code->outbound == ISO_OUTBOUND_STUB;
    c->no_outbound = code->outbound == ISO_OUTBOUND_NONE;
    c->outbound_stub = code->outbound_stub;
    c->host.ud = c;
    c->host.call = ld__child_host_call;
    c->host.child_live = ld__child_host_child_live;
    c->host.fetcher = ld__child_host_fetcher;
    c->host.objects = p->cfg.facets ? p->cfg.facets->storage : NULL;

    struct iso_worker_config wc = {
        .tenant = p->tenant,
        .worker = c->log_name,
        .modules = code->modules,
        .n_modules = code->n_modules,
        .main_module = code->main_module,
        .heap_limit_bytes = (size_t)p->cfg.heap_mb << 20,
        .log = child_log,
        .log_ud = c,
        .watch = p->shard->cfg.watch,
        .cpu_budget_ns = (uint64_t)c->cpu_ms * 1000000u,
        .host = &c->host,
        .env = code->env,
        .env_len = code->env_len,
        .env_peer = LD_PEER_PARENT,
        .outbound = code->outbound,
        .outbound_stub = code->outbound_stub,
        .child = true,
    };
    uint64_t cpu0 = ed_thread_cpu_ns();
    rc = iso_worker_new(&wc, &c->w, err);
    struct st_usage u = {.child_cpu_us = (ed_thread_cpu_ns() - cpu0) / 1000u};
    ld__usage(p, &u);
    if (rc) { /* the caller releases the stubs exported with code */
        free(c->binding);
        free(c->id);
        free(c->log_name);
        free(c->stubs);
        free(c);
        return rc;
    }
    ld__pool_refill(p->shard, wc.heap_limit_bytes);
    uint8_t key[32];
    ld__code_key(id, id_len, code, key);
    ld__usage_child_loaded(p, anonymous ? NULL : key);

    c->serial = ++p->next_serial;
    p->refs++;
    p->shard->n_children++;
    p->tenant_caps->n_children++;
    c->heap = iso_worker_memory(c->w);
    p->tenant_caps->children_heap += c->heap;
    c->refs = 1;
    c->registered = true;
    c->last_used_ns = ed_now_ns();
    list_push_front(c);
    *out = c;
    return 0;
}
