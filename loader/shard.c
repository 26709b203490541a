/*
 * The loader's per-shard state: a queue of tasks run from an idle handle (so the loop does not
 * sleep in poll while work is queued), a timer that evicts idle children, the children whose
 * isolates wait to be freed between requests, each tenant's share of its caps, the pool of
 * pre-created isolates its children start from, the reduction of idle children's memory, and
 * the usage counters it feeds. Tasks queued while the queue drains run on the next turn, so a
 * chain of calls between isolates cannot starve the connections of the shard. It is also the
 * thread's JavaScript timer driver: one libuv timer, set to the earliest deadline of every
 * timer the shim keeps for the thread's isolates (parents and children alike), runs them from
 * the loop.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader/ld_int.h"

#define SWEEP_MS 1000
/* Never-used isolates kept ready per shard: each costs about 1 MB of idle memory, and a burst
 * of new children longer than this pays the creation on the request path again. */
#define POOL_TARGET 4
/* A child that ran JavaScript keeps what its creation and its calls left behind (the young
 * generation they filled, V8's old string table) until a collection it may never need: about
 * 50 KB of its 1 MB. iso_worker_reduce_memory gives that back for about 0.7 ms of CPU, so it
 * runs only once the loader saw no call for this long (a shard busy with calls between
 * isolates, e.g. a never-seen child per request, pays nothing), one child per loop turn (a
 * request arriving meanwhile waits at most one reduction), and again for a child only after it
 * ran JavaScript again. */
#define REDUCE_QUIET_MS 100

static void on_js_timers(uv_timer_t *h)
{
    (void)h;
    iso_timers_run();
}

static void schedule_js_timers(void *ud, uint64_t deadline_ns)
{
    struct ld_shard *sh = ud;
    if (deadline_ns == 0 || sh->closing) {
        uv_timer_stop(&sh->js_timers);
        return;
    }
    uint64_t now = ed_now_ns();
    uint64_t ms = deadline_ns > now ? (deadline_ns - now + 999999) / 1000000 : 0;
    /* libuv counts from the loop's cached time, which may lag: refresh it so no timer fires
     * early (it would only find nothing due and wait again). */
    uv_update_time(sh->cfg.loop);
    uv_timer_start(&sh->js_timers, on_js_timers, ms, 0);
}

static void on_idle(uv_idle_t *h)
{
    struct ld_shard *sh = h->data;
    struct ld__task *t = sh->head;
    sh->head = sh->tail = NULL;
    uv_idle_stop(&sh->idle);
    while (t) {
        struct ld__task *next = t->next;
        t->run(t);
        t = next;
    }
}

void ld__post(struct ld_shard *sh, struct ld__task *t)
{
    sh->last_task_ns = ed_now_ns();
    t->next = NULL;
    if (sh->tail)
        sh->tail->next = t;
    else
        sh->head = t;
    sh->tail = t;
    uv_idle_start(&sh->idle, on_idle);
}

void ld__run_drops(struct ld_shard *sh)
{
    struct ld__task **pp = &sh->head, *kept = NULL;
    while (*pp) {
        struct ld__task *t = *pp;
        if (!t->no_js) {
            kept = t;
            pp = &t->next;
            continue;
        }
        *pp = t->next;
        if (sh->tail == t)
            sh->tail = kept;
        t->run(t); /* may queue more behind the tail: they are looked at too */
    }
}

void ld__pool_refill(struct ld_shard *sh, size_t heap_limit)
{
    /* The filler thread refills as children take isolates; a new class or the first child
     * tells it what to make. */
    if (!sh->closing && heap_limit != sh->pool_heap) {
        sh->pool_heap = heap_limit;
        iso_pool_want(heap_limit, POOL_TARGET);
    }
}

/* The dying children's isolates, between the shard's requests: all of them, since a busy loop
 * turn can retire many children and a backlog would hold their memory. */
static void on_reap(uv_idle_t *h)
{
    struct ld_shard *sh = h->data;
    struct ld_child *c = sh->dying;
    sh->dying = NULL;
    uv_idle_stop(&sh->reap);
    while (c) {
        struct ld_child *next = c->next;
        ld__child_free(c);
        c = next;
    }
}

void ld__reap_later(struct ld_shard *sh, struct ld_child *c)
{
    if (sh->closing) {
        ld__child_free(c);
        return;
    }
    c->next = sh->dying;
    sh->dying = c;
    uv_idle_start(&sh->reap, on_reap);
}

struct ld__tenant *ld__tenant_get(struct ld_shard *sh, const struct ld_parent_config *cfg)
{
    for (struct ld__tenant *t = sh->tenants; t; t = t->next) {
        if (strcmp(t->name, cfg->tenant) == 0) {
            t->parents++;
            return t;
        }
    }
    struct ld__tenant *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(cfg->tenant))) {
        free(t);
        return NULL;
    }
    uint32_t shards = sh->cfg.shards ? sh->cfg.shards : 1;
    size_t max_children = cfg->max_children ? cfg->max_children : 100;
    uint64_t max_heap = cfg->max_children_heap ? cfg->max_children_heap : 512ull << 20;
    t->max_children = max_children / shards ? max_children / shards : 1;
    t->max_heap = max_heap / shards;
    t->parents = 1;
    t->next = sh->tenants;
    sh->tenants = t;
    return t;
}

void ld__tenant_put(struct ld_shard *sh, struct ld__tenant *t)
{
    if (--t->parents > 0)
        return;
    for (struct ld__tenant **pp = &sh->tenants; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    free(t->name);
    free(t);
}

/* The least recently used child that ran JavaScript since its last reduction and has nothing
 * in flight, or NULL. */
static struct ld_child *next_to_reduce(struct ld_shard *sh)
{
    struct ld_child *found = NULL;
    for (struct ld_parent *p = sh->parents; p; p = p->next) {
        if (p->dead)
            continue;
        for (struct ld_child *c = p->children; c; c = c->next)
            /* a child with background work would be skipped by the shim and lose its turn;
             * one that only exports stubs is idle and may shrink */
            if (c->dirty && c->refs == 1 && c->w && !iso_worker_retired(c->w) &&
                iso_worker_pending(c->w) == 0)
                found = c;
        if (found)
            return found;
    }
    return NULL;
}

static void reduce_later(struct ld_shard *sh, uint64_t delay_ms);

static void on_reduce(uv_idle_t *h)
{
    struct ld_shard *sh = h->data;
    if (sh->head || ed_now_ns() - sh->last_task_ns < (uint64_t)REDUCE_QUIET_MS * 1000000u) {
        uv_idle_stop(&sh->reduce); /* calls resumed: wait for the next lull */
        reduce_later(sh, REDUCE_QUIET_MS);
        return;
    }
    struct ld_child *c = next_to_reduce(sh);
    if (!c) {
        uv_idle_stop(&sh->reduce);
        return;
    }
    c->dirty = false;
    iso_worker_reduce_memory(c->w);
    ld__child_measure(c); /* the caps weigh what is left */
}

static void on_reduce_timer(uv_timer_t *h)
{
    struct ld_shard *sh = h->data;
    uint64_t quiet_ms = (ed_now_ns() - sh->last_task_ns) / 1000000u;
    if (quiet_ms < REDUCE_QUIET_MS)
        reduce_later(sh, REDUCE_QUIET_MS - quiet_ms);
    else
        uv_idle_start(&sh->reduce, on_reduce);
}

static void reduce_later(struct ld_shard *sh, uint64_t delay_ms)
{
    if (!sh->closing && !uv_is_active((uv_handle_t *)&sh->reduce))
        uv_timer_start(&sh->reduce_timer, on_reduce_timer, delay_ms, 0);
}

void ld__child_dirty(struct ld_child *c)
{
    struct ld_shard *sh = c->parent->shard;
    c->dirty = true;
    if (!uv_is_active((uv_handle_t *)&sh->reduce_timer))
        reduce_later(sh, REDUCE_QUIET_MS);
}

static void on_sweep(uv_timer_t *h)
{
    struct ld_shard *sh = h->data;
    uint64_t now = ed_now_ns();
    for (struct ld_parent *p = sh->parents; p; p = p->next) {
        uint32_t ms = p->cfg.idle_ms ? p->cfg.idle_ms : sh->cfg.idle_ms;
        ld__children_sweep(p, now, (uint64_t)ms * 1000000u);
    }
}

int ld_shard_new(const struct ld_config *cfg, struct ld_shard **out, struct ed_error *err)
{
    struct ld_shard *sh = calloc(1, sizeof *sh);
    if (!sh)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    sh->cfg = *cfg;
    if (!sh->cfg.idle_ms)
        sh->cfg.idle_ms = 60000;
    uv_idle_init(cfg->loop, &sh->idle);
    uv_timer_init(cfg->loop, &sh->sweep);
    uv_idle_init(cfg->loop, &sh->reap);
    uv_timer_init(cfg->loop, &sh->reduce_timer);
    uv_idle_init(cfg->loop, &sh->reduce);
    uv_timer_init(cfg->loop, &sh->js_timers);
    sh->idle.data = sh->sweep.data = sh->reap.data = sh->js_timers.data = sh;
    sh->reduce_timer.data = sh->reduce.data = sh;
    sh->handles_open = 6;
    sh->timer_driver.ud = sh;
    sh->timer_driver.schedule = schedule_js_timers;
    iso_timers_attach(&sh->timer_driver);
    uv_timer_start(&sh->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    /* eviction and reductions alone must not keep a draining loop up */
    uv_unref((uv_handle_t *)&sh->sweep);
    uv_unref((uv_handle_t *)&sh->reduce_timer);
    uv_unref((uv_handle_t *)&sh->reduce);
    *out = sh;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct ld_shard *sh = h->data;
    sh->handles_open--;
}

void ld_shard_close(struct ld_shard *sh)
{
    if (!sh)
        return;
    sh->closing = true;      /* no more refills; children are freed at their last reference */
    iso_timers_attach(NULL); /* timers still pending die with their isolates */
    /* tasks still queued belong to parents already freed: run them, they drop themselves */
    if (sh->head)
        on_idle(&sh->idle);
    while (sh->dying) {
        struct ld_child *c = sh->dying;
        sh->dying = c->next;
        ld__child_free(c);
    }
    if (!uv_is_closing((uv_handle_t *)&sh->idle)) {
        uv_close((uv_handle_t *)&sh->idle, on_closed);
        uv_close((uv_handle_t *)&sh->sweep, on_closed);
        uv_close((uv_handle_t *)&sh->reap, on_closed);
        uv_close((uv_handle_t *)&sh->reduce_timer, on_closed);
        uv_close((uv_handle_t *)&sh->reduce, on_closed);
        uv_close((uv_handle_t *)&sh->js_timers, on_closed);
    }
    iso_pool_drain();
}

void ld_shard_free(struct ld_shard *sh)
{
    if (sh)
        iso_pool_drain(); /* the shard's thread: its pool goes with it */
    free(sh);
}

size_t ld_shard_children(const struct ld_shard *sh)
{
    return sh->n_children;
}

static const char *today(char *buf)
{
    return st_day((int64_t)time(NULL), buf);
}

void ld__usage(struct ld_parent *p, const struct st_usage *delta)
{
    char day[ST_DAY_LEN];
    if (p->shard->cfg.db)
        st_usage_add(p->shard->cfg.db, p->tenant, today(day), delta);
}

void ld__usage_child_loaded(struct ld_parent *p, const uint8_t key[32])
{
    char day[ST_DAY_LEN];
    if (p->shard->cfg.db)
        st_usage_child_loaded(p->shard->cfg.db, p->tenant, today(day), key);
}
