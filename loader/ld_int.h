/*
 * Internal to loader/: the shard's task queue, parent contexts and children.
 */
#ifndef EDGED_LOADER_LD_INT_H
#define EDGED_LOADER_LD_INT_H

#include "loader/loader.h"

struct ld__task;
typedef void (*ld__task_cb)(struct ld__task *t);

/* A unit of work on the shard's loop. run() does the work and frees the task. */
struct ld__task {
    struct ld__task *next;
    ld__task_cb run;
};

struct ld_shard {
    struct ld_config cfg;
    uv_idle_t idle;   /* runs queued tasks; started only while some are queued */
    uv_timer_t sweep; /* evicts idle children */
    /* Tops up this thread's pool of never-used isolates (iso_pool_fill), one per loop turn;
     * started when a child took one, stopped once the pool is full again. */
    uv_idle_t refill;
    size_t pool_heap; /* the heap limit of the last child made: the one the pool serves */
    /* Reductions of idle children's memory (iso_worker_reduce_memory): the timer waits for a
     * lull in the loader's calls, then the idle handle reduces one child per loop turn. */
    uv_timer_t reduce_timer;
    uv_idle_t reduce;
    uint64_t last_task_ns; /* when a task was last queued */
    struct ld__task *head, *tail;
    struct ld_parent *parents;
    size_t n_children;
    int handles_open;
    bool closing; /* ld_shard_close ran: no more refills */
};

struct ld_child {
    struct ld_parent *parent;     /* owner; the child never outlives its parent's list */
    struct ld_child *prev, *next; /* parent's list, most recently used first */
    char *binding;
    char *id;
    size_t id_len;
    bool anonymous;
    bool registered; /* in the parent's list; false once evicted or released */
    struct iso_worker *w;
    struct iso_host host; /* the child's own calls (env stubs) come back through here */
    char *log_name;       /* "child:<id>" */
    uint64_t *stubs;      /* the parent's exports this child holds */
    size_t n_stubs;
    uint32_t cpu_ms;
    size_t heap;           /* measured at creation and after every call: what make_room weighs */
    uint32_t sub_requests; /* outbound fetches per call: the child's cap */
    uint32_t sub_limit, sub_used; /* this call's cap (getEntrypoint may lower it), and use */
    bool has_outbound;            /* globalOutbound is a stub of the parent's */
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
    struct ld_child *children;
    size_t n_children;
    size_t children_heap; /* sum of the children's heap as last measured */
    int refs;             /* one while alive, one per task in flight */
    bool dead;
};

/* shard.c */
void ld__post(struct ld_shard *sh, struct ld__task *t);
/* A child with this heap limit was just made: refill the pool off the request path. */
void ld__pool_refill(struct ld_shard *sh, size_t heap_limit);
/* JavaScript ran in c (it was made, called or answered): reduce its memory at the next lull. */
void ld__child_dirty(struct ld_child *c);
void ld__usage(struct ld_parent *p, const struct st_usage *delta);
void ld__usage_child_loaded(struct ld_parent *p, const uint8_t key[32]);

/* parent.c */
void ld__parent_unref(struct ld_parent *p);

/* child.c */
struct ld_child *ld__child_find(struct ld_parent *p, const char *binding, const char *id,
                                size_t id_len);
int ld__child_create(struct ld_parent *p, const char *binding, const char *id, size_t id_len,
                     bool anonymous, const struct iso_child_code *code, uint32_t call_cpu_ms,
                     struct ld_child **out, struct ed_error *err);
void ld__child_touch(struct ld_child *c);
/* Re-measures c's heap after a call (the caps weigh the last measurement). */
void ld__child_measure(struct ld_child *c);
/* Takes c out of its parent's list (eviction, release, retirement); freed at its last unref. */
void ld__child_unregister(struct ld_child *c);
void ld__child_unref(struct ld_child *c);
void ld__children_sweep(struct ld_parent *p, uint64_t now_ns, uint64_t idle_ns);

/* calls.c */
int ld__host_call(void *ud, struct iso_worker *from, const struct iso_call *call, iso_result_cb cb,
                  void *cb_ud, struct ed_error *err);
bool ld__host_child_live(void *ud, struct iso_worker *from, const char *binding, const char *id,
                         size_t id_len);
int ld__child_host_call(void *ud, struct iso_worker *from, const struct iso_call *call,
                        iso_result_cb cb, void *cb_ud, struct ed_error *err);
bool ld__child_host_child_live(void *ud, struct iso_worker *from, const char *binding,
                               const char *id, size_t id_len);

/* hash.c: SHA-256 of (id, main module, modules) — what makes a child "the same worker". */
void ld__code_key(const char *id, size_t id_len, const struct iso_child_code *code,
                  uint8_t out[32]);

#endif
