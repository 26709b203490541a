/*
 * isolates/ — the C ABI over V8. Everything that touches a V8 type lives in the .cc files of isolates/
 * behind this header; the rest of edged sees opaque handles and whole tasks: start the
 * platform, build a worker instance from a bundle of modules, dispatch one fetch to it,
 * terminate it from another thread. JavaScript exceptions come back as data (struct
 * ed_error), never as C++ exceptions: every entry point is noexcept.
 *
 * Threading: one platform per process. A worker instance (struct iso_worker, one V8 isolate)
 * is created, used and freed on one thread only; the single exception is
 * iso_worker_terminate(), which any thread may call while the instance is alive.
 *
 * Limits: policy lives in C (callers decide CPU budgets and call iso_worker_terminate() from
 * a watchdog, see iso_watchdog_*), the mechanism lives here (heap limits with a near-heap-
 * limit callback that terminates instead of aborting, array-buffer memory counted against
 * the same limit). An instance that was terminated or hit a limit is retired: the caller
 * must free it and never dispatch to it again (its module state may be half-mutated).
 *
 * Prefix: iso_.
 */
#ifndef EDGED_ISOLATES_H
#define EDGED_ISOLATES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#ifdef __cplusplus
extern "C" {
/* The shim (C++) defines these entry points noexcept: no C++ exception crosses into C. */
#define ISO_NOEXCEPT noexcept
#else
#define ISO_NOEXCEPT
#endif

/* ---- platform -------------------------------------------------------------------------- */

/* Starts V8 for this process. Call once, before any other iso_ function, from the main
 * thread. Returns 0 or a negative code with err filled. */
int iso_platform_init(struct ed_error *err) ISO_NOEXCEPT;
/* Stops V8. Every iso_worker must have been freed. */
void iso_platform_dispose(void) ISO_NOEXCEPT;
/* "10.2.154.26-node.37": static string. */
const char *iso_v8_version(void) ISO_NOEXCEPT;

/* ---- worker instances ------------------------------------------------------------------ */

struct iso_worker;

/* One module of a worker bundle. All pointers are borrowed for the duration of the call. */
struct iso_module {
    const char *name;   /* e.g. "worker.js"; the bundle's main module is named in the config */
    const char *source; /* UTF-8 JavaScript (ES module) */
    size_t source_len;
};

/* A plain-text binding: env[name] === value inside the worker. Borrowed. */
struct iso_var {
    const char *name;
    const char *value;
};

/* Where console.* of a worker goes: the tenant's log, never the operator's. level is one of
 * "debug", "log", "info", "warn", "error". msg is borrowed for the call and not
 * NUL-terminated. Called on the instance's thread. */
typedef void (*iso_log_cb)(void *ud, const char *level, const char *msg, size_t len);

struct iso_worker_config {
    const char *tenant; /* borrowed; for messages only */
    const char *worker; /* borrowed; for messages only */
    const struct iso_module *modules;
    size_t n_modules;
    const char *main_module; /* name of the module whose default export handles fetch */
    const struct iso_var *vars;
    size_t n_vars;
    /* V8 heap plus ArrayBuffer memory; 0 = 128 MiB. The live heap is judged after every
     * garbage collection and every dispatch (over it: ED_EHEAPLIMIT, retired); an ArrayBuffer
     * that would not fit is refused with a RangeError the worker can catch. */
    size_t heap_limit_bytes;
    iso_log_cb log; /* may be NULL: console output dropped */
    void *log_ud;
    /* The module's top level is tenant code too: when watch is non-NULL, iso_worker_new arms
     * it for the new isolate with these budgets (see iso_watch_arm) while the modules are
     * evaluated, and disarms it before returning, so `while(true){}` at top level ends with
     * ED_ECPULIMIT instead of hanging the shard. watch is borrowed, must belong to the calling
     * thread and must not be armed (iso_worker_new would replace that arm, then disarm). */
    struct iso_watch_slot *watch;
    uint64_t cpu_budget_ns, wall_budget_ns;
};

/* Creates a V8 isolate on the calling thread, loads the runtime and evaluates the bundle's
 * modules. The main module's default export must be an object with a fetch() method.
 * On success *out is owned by the caller (free with iso_worker_free on this thread).
 * Errors: ED_EBADWORKER (syntax error, failed import, top-level throw, no fetch handler;
 * err->msg says which, with the JS message), ED_EHEAPLIMIT / ED_ECPULIMIT / ED_ETERMINATED if
 * evaluation was stopped, ED_ENOMEM. On error *out is untouched. */
int iso_worker_new(const struct iso_worker_config *cfg, struct iso_worker **out,
                   struct ed_error *err) ISO_NOEXCEPT;

/* Disposes the isolate. Must run on the creating thread; w may be NULL. */
void iso_worker_free(struct iso_worker *w) ISO_NOEXCEPT;

/* Stops whatever JavaScript w is running, as soon as V8 next checks for interrupts, and
 * retires w; reason (ED_ECPULIMIT, ED_EWALLLIMIT, ED_ETERMINATED...) is what the running
 * dispatch reports. Safe from any thread while w is alive; a no-op if w runs nothing. */
void iso_worker_terminate(struct iso_worker *w, int reason) ISO_NOEXCEPT;

/* True once w was terminated or hit its heap limit: free it, never dispatch to it again. */
bool iso_worker_retired(const struct iso_worker *w) ISO_NOEXCEPT;

/* Current V8 heap use plus ArrayBuffer memory of w, in bytes. On w's thread only. */
size_t iso_worker_memory(const struct iso_worker *w) ISO_NOEXCEPT;

/* ---- dispatching a fetch --------------------------------------------------------------- */

struct iso_header {
    const char *name; /* borrowed, not NUL-terminated */
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* The request handed to the worker's fetch(request, env, ctx). All borrowed for the call. */
struct iso_request {
    const char *method; /* NUL-terminated, e.g. "GET" */
    const char *url;    /* absolute URL, e.g. "http://example.com/path?q" */
    size_t url_len;
    const struct iso_header *headers;
    size_t n_headers;
    const uint8_t *body; /* NULL when there is no body */
    size_t body_len;
};

/* How the response leaves the isolate. Every pointer passed to a callback is borrowed for
 * that call only. A callback returning non-zero cancels the dispatch (the worker's stream is
 * cancelled and iso_worker_fetch returns ED_ECANCELED through on_abort). */
struct iso_response_sink {
    /* Status, headers, and the body length if known (-1: unknown, e.g. a stream; the
     * caller chooses chunked encoding). Called exactly once, first. */
    int (*on_head)(void *ud, int status, const struct iso_header *headers, size_t n_headers,
                   int64_t content_length);
    /* A piece of body, in order. Zero or more times, after on_head. */
    int (*on_body)(void *ud, const uint8_t *data, size_t len);
    /* The body is complete. */
    void (*on_end)(void *ud);
    /* The body failed after on_head (stream errored, limit hit mid-stream). code and msg as
     * in the return of iso_worker_fetch; msg borrowed. */
    void (*on_abort)(void *ud, int code, const char *msg);
};

/* Runs w's fetch handler for req and streams its Response into sink, then returns. (Today
 * every source of asynchrony inside a worker is a microtask, so the whole exchange completes
 * within this call; the sink shape already allows a later asynchronous implementation.)
 *
 * Returns 0 when on_head was called (followed by on_body* and exactly one of on_end or
 * on_abort). Returns a negative code when the worker failed before producing a head, and
 * then no sink callback was called: ED_EJS (the handler threw or rejected; err->msg has the
 * exception with its stack, for the tenant's log), ED_EBADRESPONSE (resolved to something
 * that is not a Response), ED_ECPULIMIT / ED_EWALLLIMIT / ED_ETERMINATED (terminated through
 * iso_worker_terminate), ED_EHEAPLIMIT (heap limit reached; w is retired), ED_EBUSY (w is
 * already dispatching), ED_EINVAL (w is retired). A limit can also strike after on_head (the
 * body then ends in on_abort) or in the checks after the handler finished: look at
 * iso_worker_retired() after every dispatch, whatever it returned. */
int iso_worker_fetch(struct iso_worker *w, const struct iso_request *req,
                     const struct iso_response_sink *sink, void *ud,
                     struct ed_error *err) ISO_NOEXCEPT;

/* ---- watchdog -------------------------------------------------------------------------
 * Enforces per-invocation CPU and wall-time budgets. One watchdog thread per process; a
 * shard registers a slot once, then arms it around every entry into JavaScript. The
 * watchdog reads the shard thread's CPU clock and calls iso_worker_terminate() when a budget
 * is spent. It sleeps until the earliest moment any armed slot could run out (CPU time never
 * runs faster than wall time), so a request that finishes within budget costs no wake-up. */

struct iso_watch_slot;

/* Starts the watchdog thread. Returns 0 or a negative code. */
int iso_watchdog_start(struct ed_error *err);
/* Stops and joins it; every slot must have been freed. */
void iso_watchdog_stop(void);

/* Registers the calling thread (its CPU clock is what the slot measures). Returns owned
 * (free with iso_watch_slot_free on any thread, after the last disarm). */
int iso_watch_slot_new(struct iso_watch_slot **out);
void iso_watch_slot_free(struct iso_watch_slot *s);

/* Arms s for w: from now on, w is terminated with ED_ECPULIMIT once this thread has spent
 * cpu_budget_ns of CPU, or with ED_EWALLLIMIT once wall_budget_ns of wall time have passed
 * (0 = no such budget). Call on the slot's thread, just before entering JavaScript. */
void iso_watch_arm(struct iso_watch_slot *s, struct iso_worker *w, uint64_t cpu_budget_ns,
                   uint64_t wall_budget_ns);
/* Disarms s and returns the CPU time spent since the arm, in nanoseconds. After it returns
 * the watchdog will not touch the worker that was armed. */
uint64_t iso_watch_disarm(struct iso_watch_slot *s);

#ifdef __cplusplus
}
#endif
#endif
