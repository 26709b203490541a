/*
 * Internal to loader/: the shard's task queue, parent contexts and children.
 */
#ifndef EDGED_LOADER_LD_INT_H
#define EDGED_LOADER_LD_INT_H

#include "loader/loader.h"

struct ld__task;
typedef void (*ld__task_cb)(struct ld__task *t);

/* How a child's isolate names its parent in stubs (iso_call.peer); a parent names each child
 * by its serial (ld_child.serial, from 1 up). */
#define LD_PEER_PARENT 1

/* A unit of work on the shard's loop. run() does the work and frees the task. */
struct ld__task {
    struct ld__task *next;
    ld__task_cb run;
    bool no_js; /* runs no JavaScript (a stub drop): may run early, from ld__run_drops */
};

/* A tenant's share of its caps on this shard: the caps of loader.h split evenly across the
 * shards, so that the tenant's children on all shards together stay within them without
 * locks, and the tenant's children here, least recently used last, across all its parents. */
struct ld__tenant {
    struct ld__tenant *next;
    char *name;
    size_t max_children;
    uint64_t max_heap;
    size_t n_children;
    size_t children_heap; /* sum of the children's heap as last measured */
    struct ld_child *lru, *lru_tail;
    int parents; /* parents of the tenant on this shard: the record goes with the last */
};

struct ld_shard {
    struct ld_config cfg;
    uv_idle_t idle;   /* runs queued tasks; started only while some are queued */
    uv_timer_t sweep; /* evicts idle children */
    size_t pool_heap; /* the heap limit the shard's pool filler was last asked for */
    /* Reductions of idle children's memory (iso_worker_reduce_memory): the timer waits for a
     * lull in the loader's calls, then the idle handle reduces one child per loop turn. */
    uv_timer_t reduce_timer;
    uv_idle_t reduce;
    uint64_t last_task_ns; /* when a task was last queued */
    struct ld__task *head, *tail;
    struct ld_parent *parents;
    struct ld__tenant *tenants;
    /* Children out of every list whose isolate waits to be freed off the request path (an
     * isolate's disposal takes ~0.25 ms), from the reap handle. */
    struct ld_child *dying;
    uv_idle_t reap;
    uv_timer_t js_timers; /* the thread's JavaScript timers (iso_timers_run) */
    struct iso_timer_driver timer_driver;
    size_t n_children;
    int handles_open;
    bool closing; /* ld_shard_close ran: no more refills */
};

struct ld_child {
    struct ld_parent *parent;       /* owner; the child never outlives its parent's list */
    struct ld_child *prev, *next;   /* parent's list (found by binding and id) */
    struct ld_child *tprev, *tnext; /* tenant's list on the shard, most recently used first */
    uint64_t serial;                /* the parent's name for it in stubs (unique per parent) */
    char *binding;
    char *id;
    size_t id_len;
    bool anonymous;
    bool registered; /* in the parent's list; false once evicted or released */
    /* its load() stub was collected while the parent still held stubs into it (or a call was in
     * flight): it leaves the list once neither is left */
    bool release_pending;
    struct iso_worker *w;
    struct iso_host host; /* the child's own calls (stubs, drops) come back through here */
    char *log_name;       /* "child:<id>" */
    uint64_t *stubs;      /* the parent's exports this child holds */
    size_t n_stubs;
    uint32_t cpu_ms;
    size_t heap;           /* measured at creation and after every call: what make_room weighs */
    uint32_t sub_requests; /* outbound fetches per call: the child's cap */
    uint32_t sub_limit, sub_used; /* this call's cap (getEntrypoint may lower it), and use */
    bool has_outbound;            /* globalOutbound is a stub of the parent's */
    bool no_outbound;             /* globalOutbound is null: no fetch() at all */
    uint64_t outbound_stub;
    uint64_t last_used_ns;
    bool dirty; /* JavaScript ran in it since its memory was last reduced */
    int refs;   /* one for the parent's list, one per task or call in flight */
};

struct ld_parent {
    struct ld_shard *shard;
    struct ld_parent *prev, *next;
    char *tenant, *worker;
    struct ld_parent_config cfg; /* tenant and worker point at the copies above */
    struct iso_host host;
    struct iso_worker *w;
    struct ld__tenant *tenant_caps; /* the tenant's record on this shard (shared by parents) */
    struct ld_child *children;
    uint64_t next_serial; /* the next child's serial */
    int refs;             /* one while alive, one per task in flight */
    bool dead;
};

/* shard.c */
void ld__post(struct ld_shard *sh, struct ld__task *t);
/* Runs the queued tasks that run no JavaScript now, in order, leaving the others queued. */
void ld__run_drops(struct ld_shard *sh);
/* A child with this heap limit was just made: the pool's filler thread makes the next. */
void ld__pool_refill(struct ld_shard *sh, size_t heap_limit);
/* The tenant's record on sh, created for its first parent with the caps in cfg. NULL: out of
 * memory. Release with ld__tenant_put. */
struct ld__tenant *ld__tenant_get(struct ld_shard *sh, const struct ld_parent_config *cfg);
void ld__tenant_put(struct ld_shard *sh, struct ld__tenant *t);
/* Frees c's isolate later, from the reap handle (c is out of every list, its refs are 0). */
void ld__reap_later(struct ld_shard *sh, struct ld_child *c);
/* JavaScript ran in c (it was made, called or answered): reduce its memory at the next lull. */
void ld__child_dirty(struct ld_child *c);
void ld__usage(struct ld_parent *p, const struct st_usage *delta);
void ld__usage_child_loaded(struct ld_parent *p, const uint8_t key[32]);

/* parent.c */
void ld__parent_unref(struct ld_parent *p);

/* child.c */
struct ld_child *ld__child_find(struct ld_parent *p, const char *binding, const char *id,
                                size_t id_len);
/* The live child with this serial, or NULL (gone: unloaded, evicted, stopped by a limit). */
struct ld_child *ld__child_by_serial(struct ld_parent *p, uint64_t serial);
/* Calls in flight, stubs the parent holds into it (results, streams), or ctx.waitUntil() work
 * still running: never evicted. */
bool ld__child_busy(const struct ld_child *c);
/* A load() child's last stub was collected: it goes now, or once it is no longer busy. */
void ld__child_release(struct ld_child *c);
int ld__child_create(struct ld_parent *p, const char *binding, const char *id, size_t id_len,
                     bool anonymous, const struct iso_child_code *code, uint32_t call_cpu_ms,
                     struct ld_child **out, struct ed_error *err);
void ld__child_touch(struct ld_child *c);
/* Re-measures c's heap after a call (the caps weigh the last measurement). */
void ld__child_measure(struct ld_child *c);
/* Takes c out of its parent's list (eviction, release, retirement); freed at its last unref. */
void ld__child_unregister(struct ld_child *c);
/* Drops a reference; a child whose release was pending leaves the list once it is idle. */
void ld__child_unref(struct ld_child *c);
/* Frees c now (its refs are 0 and it is out of every list). */
void ld__child_free(struct ld_child *c);
void ld__children_sweep(struct ld_parent *p, uint64_t now_ns, uint64_t idle_ns);

/* calls.c */
int ld__host_call(void *ud, struct iso_worker *from, const struct iso_call *call, iso_answer_cb cb,
                  void *cb_ud, struct ed_error *err);
bool ld__host_child_live(void *ud, struct iso_worker *from, const char *binding, const char *id,
                         size_t id_len);
int ld__child_host_call(void *ud, struct iso_worker *from, const struct iso_call *call,
                        iso_answer_cb cb, void *cb_ud, struct ed_error *err);
bool ld__child_host_child_live(void *ud, struct iso_worker *from, const char *binding,
                               const char *id, size_t id_len);
const struct iso_fetcher *ld__host_fetcher(void *ud, struct iso_worker *from, struct ed_error *err);
const struct iso_fetcher *ld__child_host_fetcher(void *ud, struct iso_worker *from,
                                                 struct ed_error *err);

/* hash.c: SHA-256 of (id, main module, modules) — what makes a child "the same worker". */
void ld__code_key(const char *id, size_t id_len, const struct iso_child_code *code,
                  uint8_t out[32]);

#endif
