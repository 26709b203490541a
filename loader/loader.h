/*
 * loader/ — child workers. A parent worker's loader binding (env.LOADER) asks for a child by
 * id with the code its getCode callback returned; the loader keeps this shard's live
 * children of that parent instance, creates missing ones (one fresh V8 isolate each, on the
 * parent's thread, never shared across tenants or parent instances), routes calls into them
 * and their calls back through stubs, evicts idle and least-recently-used children under
 * the tenant's caps, and counts what they cost for billing (storage/ usage counters).
 *
 * Every call between isolates runs as its own task on the shard's loop, never nested inside
 * another isolate's JavaScript: each task enters exactly one isolate, so the shard's watchdog
 * slot always watches the JavaScript that is running, and a child killed for a limit unwinds
 * only itself.
 *
 * Prefix: ld_.
 */
#ifndef EDGED_LOADER_H
#define EDGED_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/common.h"
#include "isolates/isolates.h"
#include "storage/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ld_shard;
struct ld_parent;

/* Where a tenant's child output goes: worker is "child:<id>" (or "child:load" for load()). */
typedef void (*ld_log_cb)(void *ud, const char *worker, const char *level, const char *msg,
                          size_t len);

struct ld_config {
    uv_loop_t *loop;              /* borrowed: the shard's loop; tasks run on it */
    struct iso_watch_slot *watch; /* borrowed: the shard's watchdog slot */
    struct st_db *db;             /* borrowed: usage counters; NULL counts nothing */
    uint32_t idle_ms;             /* a child unused this long is evicted (0: 60000) */
    uint32_t shards;              /* shards sharing each tenant's caps (0: 1) */
    /* Borrowed: the shard's HTTP client, for the fetch() of parents and of children whose
     * globalOutbound was omitted (each counted as a subrequest of the tenant). NULL: no
     * outbound HTTP (fetch() rejects). */
    const struct iso_fetcher *fetcher;
};

/* Per-shard loader state. Returns owned (free with ld_shard_free on the shard's thread, after
 * every ld_parent of it was freed and the loop has run its closing callbacks). */
int ld_shard_new(const struct ld_config *cfg, struct ld_shard **out, struct ed_error *err);
/* Starts closing the shard's handles; the loop must run once more to finish. */
void ld_shard_close(struct ld_shard *sh);
void ld_shard_free(struct ld_shard *sh);

/* Live children on this shard, all tenants (for tests and the operator's log). */
size_t ld_shard_children(const struct ld_shard *sh);

/* Durable object facets (ctx.facets): an object of the parent calls into a class that one of
 * its children exports (ISO_CALL_FACET). The loader finds or makes the child as for any call
 * into it, getCode included, then hands the call to call() instead of invoking an entrypoint;
 * whoever hosts the objects runs it (iso_worker_call_object) and keeps the facets' storage.
 * Everything borrowed; must outlive the parent context. */
struct ld_facet_host {
    void *ud;
    /* Runs call (its child named the child) in child: returns 0 and later calls cb exactly once
     * (cpu_used_ns stays valid until then), or a negative code without calling cb. Runs as a
     * loop task of its own, outside any isolate. */
    int (*call)(void *ud, struct iso_worker *child, const struct iso_call *call,
                uint64_t cpu_budget_ns, uint64_t *cpu_used_ns, iso_result_cb cb, void *cb_ud,
                struct ed_error *err);
    /* child's isolate is about to be freed: forget what refers to it. Runs no JavaScript. */
    void (*child_gone)(void *ud, struct iso_worker *child);
    /* The children's iso_host.objects: the storage of the facets they host. */
    const struct iso_object_host *storage;
};

/* The tenant's limits for its children. max_children and max_children_heap are the tenant's
 * across every parent worker and shard: each shard holds its even share of them (at least one
 * child), so the sum never exceeds them without any lock between shards. */
struct ld_parent_config {
    const char *tenant;         /* borrowed; copied */
    const char *worker;         /* borrowed; copied */
    uint32_t cpu_ms;            /* tenant maximum CPU per child call (code and getEntrypoint limits
                           may only lower it) */
    uint32_t heap_mb;           /* heap of each child isolate */
    uint32_t max_children;      /* the tenant's live children (0: 100) */
    uint64_t max_children_heap; /* their total heap, bytes (0: 512 MiB) */
    uint32_t idle_ms;           /* a child unused this long is evicted (0: the shard's) */
    uint32_t sub_requests;      /* outbound fetches per child call (0: 50); code and
                                   getEntrypoint limits may only lower it */
    ld_log_cb log;              /* the tenant's log; may be NULL */
    void *log_ud;
    const struct ld_facet_host *facets; /* NULL: ISO_CALL_FACET is refused */
};

/* A parent worker instance's loader context: create it before the parent's isolate, pass
 * ld_parent_host() as iso_worker_config.host, then ld_parent_attach() the new isolate.
 * Returns owned (free with ld_parent_free). */
int ld_parent_new(struct ld_shard *sh, const struct ld_parent_config *cfg, struct ld_parent **out,
                  struct ed_error *err);
/* Borrowed; valid until ld_parent_free. */
const struct iso_host *ld_parent_host(struct ld_parent *p);
/* The parent's isolate (borrowed; must stay alive until ld_parent_free). */
void ld_parent_attach(struct ld_parent *p, struct iso_worker *w);
/* Frees the parent's children and drops every call still in flight for it: call it before
 * freeing the parent's isolate. Children with calls in flight are freed once those end. */
void ld_parent_free(struct ld_parent *p);

#ifdef __cplusplus
}
#endif
#endif
