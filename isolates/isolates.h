/*
 * isolates/ — the C ABI over V8. Everything that touches a V8 type lives in the .cc files of isolates/
 * behind this header; the rest of edged sees opaque handles and whole tasks: start the
 * platform, build a worker instance from a bundle of modules, start a fetch on it (answered
 * now or once the calls it awaits are answered), call into it from another worker, terminate
 * it from another thread. JavaScript exceptions come back as data (struct ed_error, or a code
 * and a message in a callback), never as C++ exceptions: every entry point is noexcept.
 *
 * Threading: one platform per process. A worker instance (struct iso_worker, one V8 isolate)
 * is created, used and freed on one thread only; the single exception is
 * iso_worker_terminate(), which any thread may call while the instance is alive. Isolates of
 * one thread nest: inside a callback of one worker (iso_host.call, a sink, a result callback)
 * the caller may create, call into or free another, or call into the same one again.
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

/* What a module's source is, as in Workers' upload format and the Worker Loader's modules. */
enum iso_module_type {
    ISO_MODULE_ESM = 0, /* ES module */
    ISO_MODULE_CJS,     /* CommonJS: `module.exports` becomes the default export */
    ISO_MODULE_TEXT,    /* default export: the source as a string */
    ISO_MODULE_DATA,    /* default export: the source bytes as an ArrayBuffer */
    ISO_MODULE_JSON,    /* default export: JSON.parse(source) */
};

/* One module of a worker bundle. All pointers are borrowed for the duration of the call.
 * Names may have folders ("lib/util.js"); imports (and a CommonJS module's require()) resolve
 * "./x" and "../x" against the importer's folder, other names from the bundle's root, and
 * "cloudflare:workers" to the built-in module (WorkerEntrypoint, RpcTarget, DurableObject,
 * env). A CommonJS module's code runs when it is first imported or required. */
struct iso_module {
    const char *name;   /* e.g. "worker.js"; the bundle's main module is named in the config */
    const char *source; /* UTF-8 text (bytes for ISO_MODULE_DATA) */
    size_t source_len;
    enum iso_module_type type;
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
    /* The shim arms watch (borrowed; it must belong to the worker's thread and outlive the
     * worker) on every entry into the isolate and disarms it before leaving: with these
     * budgets while the modules are evaluated (so `while(true){}` at top level ends with
     * ED_ECPULIMIT instead of hanging the shard), and for stub calls and answers that arrive
     * for no invocation still in flight; with the invocation's own budgets otherwise (see
     * iso_request). Callers no longer arm it around shim calls: an entry into another isolate
     * nested inside (a child run from a parent's callback) disarms the outer entry and re-arms
     * it afterwards, so a child's CPU is never charged to its parent. NULL: no limits. */
    struct iso_watch_slot *watch;
    uint64_t cpu_budget_ns, wall_budget_ns;

    /* ---- dynamic workers (see "calls between isolates" below) ---- */
    /* Where the worker's calls out of its isolate go (loader bindings, stubs). Borrowed;
     * must outlive the worker. NULL: the worker has no loader bindings and no stubs. */
    const struct iso_host *host;
    /* Names of worker_loader bindings: env[name] is a WorkerLoader. Borrowed. */
    const char *const *loaders;
    size_t n_loaders;
    /* A child's env as its parent gave it: a value serialized by the parent's isolate (see
     * iso_child_code.env), whose functions and RpcTargets are stubs that call back through
     * host. Its own properties are copied into env after the vars. NULL for none. */
    const uint8_t *env;
    size_t env_len;
    /* The peer (see "calls between isolates") that env's stubs and the outbound stub belong
     * to: the parent, as host names it. */
    uint64_t env_peer;
    /* A child's egress (globalOutbound): see enum iso_outbound. outbound_stub names the
     * parent's stub when outbound is ISO_OUTBOUND_STUB. With ISO_OUTBOUND_INHERIT (every
     * parent, and a child whose globalOutbound was omitted) fetch() goes out through
     * host->fetcher (see "outbound HTTP" below); without one it rejects with a TypeError. */
    int outbound;
    uint64_t outbound_stub;
    /* A child need not export a fetch handler: any entrypoint (default export, named
     * WorkerEntrypoint classes) is enough. */
    bool child;
    /* eval() and new Function() work while the modules' top level runs (the operator's
     * --allow-eval-at-startup). Either way they throw an EvalError ("Code generation from
     * strings disallowed for this context") once the worker is built, as in Workers. */
    bool allow_eval_at_startup;
    /* Durable object namespaces (see "durable objects" below): env[name] is a
     * DurableObjectNamespace of class cls, which must be a class exported by name from the
     * main module (iso_worker_new fails with ED_EBADWORKER otherwise). Borrowed. */
    const struct iso_object_ns *objects;
    size_t n_objects;
};

/* A durable object namespace binding ({"type": "durable_object_namespace", "name": ...,
 * "class_name": ...} in Workers' upload metadata). Borrowed. */
struct iso_object_ns {
    const char *name; /* the env property */
    const char *cls;  /* the exported class */
};

/* A child's globalOutbound. */
enum iso_outbound {
    ISO_OUTBOUND_INHERIT = 0, /* omitted: the parent's outbound */
    ISO_OUTBOUND_NONE,        /* null: every fetch() rejects with Workers' TypeError */
    ISO_OUTBOUND_STUB,        /* a fetcher from the parent: every fetch() goes to it */
};

/* Creates a V8 isolate on the calling thread, loads the runtime and evaluates the bundle's
 * modules. Unless cfg->child, the main module's default export must be an object with a
 * fetch() method or a class whose instances have one (a WorkerEntrypoint: a fresh instance,
 * constructed with (ctx, env), serves each request). Top-level await cannot wait for calls to
 * other workers unless the host answers them within iso_host.call.
 * On success *out is owned by the caller (free with iso_worker_free on this thread).
 * Errors: ED_EBADWORKER (syntax error, failed import, top-level throw, no fetch handler;
 * err->msg says which, with the JS message), ED_EHEAPLIMIT / ED_ECPULIMIT / ED_ETERMINATED if
 * evaluation was stopped, ED_ENOMEM. On error *out is untouched. */
int iso_worker_new(const struct iso_worker_config *cfg, struct iso_worker **out,
                   struct ed_error *err) ISO_NOEXCEPT;

/* Checks a bundle the way iso_worker_new loads it, running none of it: every module is
 * compiled (or parsed, for JSON) and the main module's static imports are linked, in a
 * throw-away isolate on the calling thread (a few milliseconds). For a deploy or a node's
 * start-up, so that a bad bundle is refused before any request reaches it. modules and
 * main_module are borrowed. Returns 0 or ED_EBADWORKER with a one-line message: a syntax
 * error (with its location), two modules of one name, a main module not in the bundle, or
 * an import of a name that is not a module of the bundle ('lib/a.js imports "./b.js", which
 * is not a module of this worker'; '... which is outside the worker's bundle' for a relative
 * name that climbs above its root). A require() or import() is resolved when it runs, and a
 * missing fetch handler is found by iso_worker_new. ED_ENOMEM; ED_EINVAL without a platform. */
int iso_bundle_check(const struct iso_module *modules, size_t n_modules, const char *main_module,
                     struct ed_error *err) ISO_NOEXCEPT;

/* iso_bundle_check, and also that the main module exports each durable object class named in
 * objects (by name: nothing runs, so that it is a class is checked by iso_worker_new):
 * ED_EBADWORKER 'Durable Object namespace COUNTERS: class "Counter" is not exported by the
 * main module "index.js"' otherwise. objects borrowed. */
int iso_bundle_check_objects(const struct iso_module *modules, size_t n_modules,
                             const char *main_module, const struct iso_object_ns *objects,
                             size_t n_objects, struct ed_error *err) ISO_NOEXCEPT;

/* Disposes the isolate. Must run on the creating thread; w may be NULL. Every invocation
 * still in flight fails first (ED_ECANCELED through on_fail, on_abort or its result callback;
 * a stream already started ends in on_abort). Calls w made that the host has not answered yet
 * are detached: their answers are dropped when they come. May be called from inside any
 * callback of w (a sink's, a result callback, iso_host.call): w is then stopped at once and
 * disposed when the shim's frames using it have returned; never use w again either way. */
void iso_worker_free(struct iso_worker *w) ISO_NOEXCEPT;

/* Stops whatever JavaScript w is running, as soon as V8 next checks for interrupts, and
 * retires w; reason (ED_ECPULIMIT, ED_EWALLLIMIT, ED_ETERMINATED...) is what the running
 * dispatch reports. Safe from any thread while w is alive; a no-op if w runs nothing. */
void iso_worker_terminate(struct iso_worker *w, int reason) ISO_NOEXCEPT;

/* True once w was terminated or hit its heap limit: free it, never dispatch to it again. */
bool iso_worker_retired(const struct iso_worker *w) ISO_NOEXCEPT;

/* Current V8 heap use plus ArrayBuffer memory of w, in bytes. On w's thread only. */
size_t iso_worker_memory(const struct iso_worker *w) ISO_NOEXCEPT;

/* Hands back to the system what w's isolate holds without needing it: a full, memory-reducing
 * collection that also empties and uncommits the young generation and frees V8's leftovers
 * of creating the isolate (about 50 KB of an idle child's 1 MB). It costs about 0.7 ms of CPU
 * for a small worker, so call it when w went idle and the thread has nothing better to do;
 * w stays usable (a later call may recompile functions it has not run for a while). On w's
 * thread, outside w's callbacks; a no-op while w has invocations in flight or is retired. */
void iso_worker_reduce_memory(struct iso_worker *w) ISO_NOEXCEPT;

/* ---- the child pool ---------------------------------------------------------------------
 * Creating an isolate and its context is most of a new child's cost, so a thread that makes
 * children keeps a few never-used ones ready: iso_worker_new() with cfg->child takes one of
 * the child's heap class (limits within 25% of each other share a class; 0 means 128 MiB, as
 * in the config) instead of creating one. A pooled isolate has run nothing but the runtime
 * snapshot's set-up; it leaves the pool before any worker code runs in it and never returns to
 * it. The pool belongs to the calling thread, whose children alone use it; its isolates may be
 * created by a filler thread of its own. The pool never holds more than twice its target: the
 * oldest isolates of other classes make room. */

/* Creates isolates for the calling thread's pool on this thread, one at a time, until it
 * holds target of heap_limit_bytes's class or budget_ns of wall time have been spent (at least
 * one is made when the pool is short). Returns how many of the class the pool holds; creates
 * none when the runtime snapshot is unavailable. */
size_t iso_pool_fill(size_t heap_limit_bytes, size_t target, uint64_t budget_ns) ISO_NOEXCEPT;

/* Asks the calling thread's filler thread (started on the first call, at a lower priority) to
 * keep target isolates of heap_limit_bytes's class in the pool, refilling as children take
 * them; returns at once. A later call changes the class and target. */
void iso_pool_want(size_t heap_limit_bytes, size_t target) ISO_NOEXCEPT;

/* How many pooled isolates of this heap limit's class the calling thread has. */
size_t iso_pool_size(size_t heap_limit_bytes) ISO_NOEXCEPT;

/* Stops the calling thread's filler and frees its pool. A thread that filled it or asked for
 * isolates must call this before it ends (and before iso_platform_dispose). */
void iso_pool_drain(void) ISO_NOEXCEPT;

/* ---- dispatching a fetch --------------------------------------------------------------- */

struct iso_header {
    const char *name; /* borrowed, not NUL-terminated */
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* A request body that is still arriving while the worker runs (the edge streams large and
 * chunked bodies). The shim reads it only while the fetch it came with is in flight, on the
 * worker's thread, and never after the sink's last callback. */
struct iso_body_source {
    /* What arrived and was not read yet: *data (borrowed until consume or the next peek) and
     * *len. Returns 0 (with *len 0 when nothing arrived yet: the host then calls
     * iso_worker_body_ready() once more arrived, or the body ended or failed), ISO_BODY_END
     * once the body is complete (*len may still be > 0: the last bytes), or a negative code
     * when the body can never be completed (the client went away, a limit, a timeout). */
    int (*peek)(void *ud, const uint8_t **data, size_t *len);
    /* n bytes of what peek gave were read. */
    void (*consume)(void *ud, size_t n);
};

#define ISO_BODY_END 1

/* The request handed to the worker's fetch(request, env, ctx). All borrowed for the call. */
struct iso_request {
    const char *method; /* NUL-terminated, e.g. "GET" */
    const char *url;    /* absolute URL, e.g. "http://example.com/path?q" */
    size_t url_len;
    const struct iso_header *headers;
    size_t n_headers;
    const uint8_t *body; /* NULL when there is no body */
    size_t body_len;
    /* Or a body still arriving (body is then NULL): request.body reads it as the worker
     * pulls. body_ud is the source's (and identifies it to iso_worker_body_ready); borrowed
     * until the sink's last callback. body_length: its declared length, -1 when unknown. */
    const struct iso_body_source *body_source;
    void *body_ud;
    int64_t body_length;
    /* Budgets of this invocation, enforced through the config's watch slot on every entry
     * into the isolate on its behalf (0 = none): the CPU it has used so far and the wall time
     * since the fetch started count against them. JavaScript that runs past either terminates
     * w (ED_ECPULIMIT / ED_EWALLLIMIT, w retired); a wall budget that runs out while the
     * invocation only waits fails it alone with ED_EWALLLIMIT (w is not retired) when the
     * thread's timer driver reaches its deadline (see iso_timers_attach), or else the next
     * time it would move on. The wall budget ends with the head: a streamed body takes the
     * client's time, which the caller bounds (it pauses and cancels the stream). */
    uint64_t cpu_budget_ns, wall_budget_ns;
    /* Where the shim adds the CPU time this invocation used. Borrowed; must stay valid until
     * the sink's last callback. May be NULL. */
    uint64_t *cpu_used_ns;
    /* fetch() calls this invocation may make (0: no limit); the one past it rejects with
     * "Too many subrequests...". */
    uint32_t sub_requests;
};

/* How the response leaves the isolate. Every pointer passed to a callback is borrowed for
 * that call only. A callback returning non-zero cancels the dispatch (the worker's stream is
 * cancelled and the sink gets on_abort with ED_ECANCELED). on_head and on_body are called
 * while the shim is inside the isolate; the last callback (on_end, on_abort, on_fail) only
 * once the shim left it and counted the CPU. Any callback may start another fetch on w (it is
 * answered before the outermost shim call returns, or later) or free w. */
struct iso_response_sink {
    /* Status, headers, and the body length if known (-1: unknown, e.g. a stream; the
     * caller chooses chunked encoding). Called exactly once, first. */
    int (*on_head)(void *ud, int status, const struct iso_header *headers, size_t n_headers,
                   int64_t content_length);
    /* A piece of body, in order. Zero or more times, after on_head. Returning ISO_SINK_PAUSE
     * asks the shim not to read the worker's stream further until iso_worker_fetch_resume()
     * (the client's connection has enough unsent output; a body the shim holds whole is
     * handed over regardless). */
    int (*on_body)(void *ud, const uint8_t *data, size_t len);
    /* The body is complete. */
    void (*on_end)(void *ud);
    /* The body failed after on_head (stream errored, limit hit mid-stream). code and msg as
     * for on_fail; msg borrowed. */
    void (*on_abort)(void *ud, int code, const char *msg);
    /* The worker failed before producing a head: ED_EJS (the handler threw or rejected; msg
     * has the exception with its stack, for the tenant's log), ED_EBADRESPONSE (resolved to
     * something that is not a Response), ED_ECPULIMIT / ED_EWALLLIMIT / ED_ETERMINATED
     * (terminated through iso_worker_terminate; w is retired), ED_EHEAPLIMIT (heap limit;
     * w is retired). msg borrowed. */
    void (*on_fail)(void *ud, int code, const char *msg);
    /* Optional; when set, the sink's last callback. The response is over at on_end, on_abort
     * or on_fail, but the invocation may go on in the background: ctx.waitUntil() promises
     * still pending keep it (and its timers) alive until they settle, bounded by the request's
     * CPU and wall budgets. on_done comes once that work is over (at once after the response
     * when there is none): code 0, or why it was cut short (ED_EWALLLIMIT, ED_EJS when its
     * promises could never settle, a limit that stopped w, ED_ECANCELED when w was freed) with
     * a message (borrowed). *cpu_used_ns keeps counting until then. When NULL, the background
     * work runs all the same but its CPU is no longer added to *cpu_used_ns. */
    void (*on_done)(void *ud, int code, const char *msg);
};

/* Starts w's fetch handler for req; its Response is streamed into sink, now or later. A
 * worker may await things that finish on later turns of the thread's loop (calls into child
 * workers, stubs): the exchange then completes when the host resolves them (see
 * iso_result_cb). An isolate serves any number of invocations at once, as in Workers.
 *
 * Returns 0 when the invocation started: the sink then gets, exactly once and possibly
 * before iso_worker_fetch returns, either on_fail, or on_head followed by on_body* and one
 * of on_end or on_abort. req is copied before the call returns. Returns ED_EINVAL (w is
 * retired, or an argument is missing: every sink callback is required) or ED_ENOMEM without
 * calling the sink. A limit that kills w fails every invocation in flight on it; check
 * iso_worker_retired() after the sink's last callback.
 *
 * A handler (or a response stream) waiting on a promise moves on whenever the shim next
 * enters w: an answer from the host, a timer, another fetch, more of a request body. When w
 * has no call out awaiting an answer, no timer that can fire (see iso_timers_attach), waits for
 * no request body and has no response stream paused by its sink, nothing can settle a pending
 * promise any more, and what waits on one fails: on_fail ED_EJS "the fetch handler's promise
 * never settled...", or on_abort ED_EJS "the response body stream stalled..." (the stream is
 * cancelled). One that waits past its wall budget fails with ED_EWALLLIMIT (w goes on). */
int iso_worker_fetch(struct iso_worker *w, const struct iso_request *req,
                     const struct iso_response_sink *sink, void *ud,
                     struct ed_error *err) ISO_NOEXCEPT;

/* on_body's answer: hold the stream until iso_worker_fetch_resume(). */
#define ISO_SINK_PAUSE 1

/* Reads on from the response stream of the fetch whose sink ud is ud, paused by on_body
 * returning ISO_SINK_PAUSE; its sink may be called before this returns. Returns 0, or
 * ED_ENOENT when no such fetch is paused. Not from inside on_head or on_body (the final
 * callbacks may call it, as they may start a fetch). */
int iso_worker_fetch_resume(struct iso_worker *w, void *ud) ISO_NOEXCEPT;

/* Cancels the response stream of the fetch whose sink ud is ud (the client went away): the
 * worker's stream is cancelled and the sink gets on_abort with ED_ECANCELED, possibly before
 * this returns. A fetch that has not produced its head yet is cancelled when it does (its
 * on_head should then return non-zero). Returns 0 or ED_ENOENT. Not from inside on_head or
 * on_body. */
int iso_worker_fetch_cancel(struct iso_worker *w, void *ud) ISO_NOEXCEPT;

/* More of the request body whose source ud is body_ud arrived, or it ended or failed: wakes the
 * worker if it waits for it. From the worker's thread, outside its callbacks. */
void iso_worker_body_ready(struct iso_worker *w, void *body_ud) ISO_NOEXCEPT;

/* Invocations started on w whose sink or result callback has not had its last call yet, and
 * invocations answered whose ctx.waitUntil() work still runs. */
size_t iso_worker_pending(const struct iso_worker *w) ISO_NOEXCEPT;

/* ---- timers ------------------------------------------------------------------------------
 * setTimeout and setInterval (and AbortSignal.timeout, scheduler.wait) run on the loop of the
 * thread that owns the worker. The shim keeps every timer of the thread's workers; the thread
 * attaches a driver that it asks to be woken at the earliest deadline, and from a task of its
 * loop (never from inside an isolate) the thread calls iso_timers_run(). A timer belongs to
 * the invocation that set it (setting one at a module's top level throws, as in Workers): it
 * keeps that invocation alive while it waits, runs under its budgets, and is cancelled when
 * the invocation ends (response sent and ctx.waitUntil() work over) or its worker is retired
 * or freed. An invocation may have at most 10,000 timers pending (a RangeError says so), a
 * worker 100,000. Without a driver, timers never fire, and what waits only on them fails as
 * "never settled". */

struct iso_timer_driver {
    void *ud;
    /* The earliest deadline of the thread's timers changed: call iso_timers_run() at (or after)
     * deadline_ns, on ed_now_ns()'s clock; 0: no timer is pending. Called on the thread, from
     * inside shim calls (never re-enter the shim from it). */
    void (*schedule)(void *ud, uint64_t deadline_ns);
};

/* Attaches driver (borrowed; must stay valid until detached) to the calling thread, or
 * detaches it (NULL). schedule is called at once with the current earliest deadline. */
void iso_timers_attach(const struct iso_timer_driver *driver) ISO_NOEXCEPT;

/* Runs the callbacks of every timer of the calling thread's workers that is due, each in its
 * own entry (microtasks and the invocations they settle run in between, final callbacks are
 * delivered after), then tells the driver the next deadline. Timers set meanwhile wait for
 * the next call. Must not be called from inside an isolate. */
void iso_timers_run(void) ISO_NOEXCEPT;

/* ---- calls between isolates ------------------------------------------------------------
 * Parent and child never share a heap: arguments and results cross as V8-serialized bytes
 * (structured clone) with three things the clone cannot copy turned into references:
 *   - a function, an RpcTarget (or WorkerEntrypoint) instance, or a stub held from another
 *     isolate, anywhere in a value, becomes a stub: an entry in the sender's export table that
 *     the receiver calls back into (ISO_CALL_STUB). A stub held from elsewhere is exported
 *     again, so calls through it are relayed by this isolate;
 *   - a ReadableStream becomes a stream stub: the receiver's ReadableStream pulls each chunk
 *     with a call ("read", then "cancel" if it gives up), so neither side holds the whole body;
 *   - a Request or Response keeps its class: method/status, URL, headers, and a body that is
 *     copied inline when it is fixed bytes of at most 64 KiB, else crosses as a stream stub.
 * Every call is asynchronous to its caller: the shim hands it to the host (struct iso_host,
 * the loader in practice), which answers through an iso_answer_cb once the callee is done;
 * the shim then resolves the caller's promise and runs its microtasks.
 *
 * Peers. A stub names the isolate that exported it by a peer number that the *receiving*
 * worker's host chose (the loader: a parent names each child by a serial, a child names its
 * parent 1); 0 is no isolate. The host tells each isolate who is calling
 * (iso_worker_invoke/iso_worker_call_stub take the caller's peer) and who answered (the answer
 * carries the callee's peer), and routes ISO_CALL_STUB and ISO_CALL_DROP to the peer named.
 *
 * Lifetimes of exports (the exporter's table entries):
 *   - stubs in a call's arguments live until that call is answered (the receiver's stubs then
 *     fail with "released"), as Workers disposes parameter stubs when the call returns;
 *   - stubs in a result, and every stream stub, are held by the receiver until its stub is
 *     garbage-collected (it then sends ISO_CALL_DROP), a stream until it was read to its end
 *     or cancelled, or until the host calls iso_worker_release_peer() because the holder's
 *     isolate is gone;
 *   - stubs in a child's env live until the host releases them (iso_child_code.stubs).
 * A call into an export that is gone, or into a peer that is gone, fails with a message that
 * says so. */

/* The answer to a call: code 0 and the serialized result (len 0: undefined), or a negative
 * code and a message (result NULL): ED_EJS with the callee's exception as "Name: message"
 * (the caller rethrows an error of that type), ED_EINVAL "Worker has no such entrypoint:
 * NAME" or 'The RPC receiver does not implement the method "NAME".', a limit that killed the
 * callee with "Worker exceeded CPU time limit" (memory limit, wall time limit; "Worker was
 * terminated"), ED_ECANCELED when it was freed, ED_ENOENT when the stub was released. The
 * caller's error keeps the first line of a message whose code is not ED_EJS. result and msg
 * are borrowed for the call. Called exactly once, after the shim left the callee's isolate
 * (it may free the callee). */
typedef void (*iso_result_cb)(void *ud, int code, const uint8_t *result, size_t len,
                              const char *msg);

/* The answer a host gives to a call out of an isolate: iso_result_cb's, plus peer, the callee
 * as the caller's host names it (whose exports the stubs in result are; 0 when no isolate
 * answered, e.g. a child that could not be created). */
typedef void (*iso_answer_cb)(void *ud, int code, const uint8_t *result, size_t len,
                              const char *msg, uint64_t peer);

enum iso_call_kind {
    ISO_CALL_LOADER = 1, /* into a child through a loader binding (get/load + entrypoint) */
    ISO_CALL_STUB,       /* into the isolate that exported a stub (peer) */
    ISO_CALL_RELEASE,    /* a load() stub was garbage-collected: the child may go */
    ISO_CALL_DROP,       /* the caller no longer holds stub of peer (its stub was collected) */
    ISO_CALL_OBJECT,     /* into a durable object: binding, object_id, object_name, method, args */
    ISO_CALL_FACET,      /* into a facet of the calling durable object (see "durable objects") */
};

/* A child's code as the parent's getCode callback (or load()) gave it, checked by the runtime:
 * module names ending in .ts/.tsx/.jsx (and .mts/.cts) are refused, a string module must be
 * named .js or .mjs, an object module has exactly one of js, cjs, text, data, json (json is
 * stringified here, data copied); all sources together are at most 64 MiB and the serialized
 * env at most 1 MiB (the call fails with a RangeError naming the size otherwise). Borrowed. */
struct iso_child_code {
    const struct iso_module *modules;
    size_t n_modules;
    const char *main_module;
    const char *compatibility_date; /* may be NULL */
    const uint8_t *env;             /* serialized env (see iso_worker_config.env); may be NULL */
    size_t env_len;
    int outbound; /* enum iso_outbound */
    uint64_t outbound_stub;
    uint32_t cpu_ms, sub_requests; /* limits: 0 = not set */
    /* Stubs the parent exported into env and outbound (fresh ids for every call that carries
     * code): release them with iso_worker_release_stubs(parent, ...) when the child made from
     * this code is freed, or at once when the host makes no child from it (the child was live
     * already, or could not be created). */
    const uint64_t *stubs;
    size_t n_stubs;
};

/* A call out of an isolate. Everything is borrowed for the duration of iso_host.call. */
struct iso_call {
    int kind;            /* enum iso_call_kind */
    const char *binding; /* ISO_CALL_LOADER, ISO_CALL_RELEASE: the loader binding's name */
    /* The id given to get(); for load() (and get(null, ...)) "$load:N", unique in the caller's
     * isolate (get() refuses ids that start with "$load:"). */
    const char *child_id;
    size_t child_id_len;
    bool anonymous; /* load(): a child of its own, counted once per load */
    /* NULL: the caller believes the child is live (child_live said so just before). If it is
     * not, answer ED_ENOENT: the runtime then runs getCode and calls again with code. */
    const struct iso_child_code *code;
    const char *entrypoint; /* NULL: the default export */
    const char *method;     /* "fetch" or an RPC method name */
    const uint8_t *props;   /* serialized ctx.props; may be NULL */
    size_t props_len;
    uint32_t cpu_ms, sub_requests; /* getEntrypoint() limits: 0 = not set */
    /* ISO_CALL_STUB, ISO_CALL_DROP: the stub's id in its exporter, and the exporter (the host
     * calls iso_worker_call_stub(exporter, stub, method, args, caller's peer...) or
     * iso_worker_drop_stub(exporter, caller's peer, stub)); method is NULL for a function. */
    uint64_t peer;
    uint64_t stub;
    const uint8_t *args; /* serialized array of arguments */
    size_t args_len;
    /* ISO_CALL_OBJECT: the object's id (64 hex digits, checked by the host against the
     * binding's namespace) and the name it was made from (idFromName; NULL otherwise). Its
     * args carry no stubs and no streams (see iso_worker_call_object). */
    const char *object_id;
    const char *object_name;
    size_t object_name_len;
    /* ISO_CALL_FACET: a call into facet (facet_len bytes) of the calling durable object (its
     * handle: object), an instance of class facet_class exported by the child named by binding,
     * child_id and anonymous as for ISO_CALL_LOADER (code NULL: the caller believes the child is
     * live). object_id and object_name are the facet's ctx.id: an id's hex and name, or ("",
     * the string) for a string id. args carry no stubs and no streams. */
    uint64_t object;
    const char *facet;
    size_t facet_len;
    const char *facet_class;
};

struct iso_fetcher;
struct iso_object_host;

/* What an isolate needs from the thread that runs it. */
struct iso_host {
    void *ud;
    /* A call out of worker from. Returns 0 and later (or right away, from inside this call)
     * calls cb(cb_ud, ...) exactly once, or returns a negative code with err set and never
     * calls cb. cb must come even after from was freed (the shim's record of the call is freed
     * then and the answer dropped). For ISO_CALL_RELEASE and ISO_CALL_DROP no answer is
     * expected and cb is NULL; they run no JavaScript of from and may be deferred. */
    int (*call)(void *ud, struct iso_worker *from, const struct iso_call *call, iso_answer_cb cb,
                void *cb_ud, struct ed_error *err);
    /* Whether a live child with this id exists for from's tenant (the parent then skips its
     * getCode callback). */
    bool (*child_live)(void *ud, struct iso_worker *from, const char *binding, const char *id,
                       size_t id_len);
    /* A fetch() out of from (its outbound is ISO_OUTBOUND_INHERIT): returns the HTTP client
     * that carries it (borrowed; it must outlive every fetch it starts), having counted the
     * subrequest, or NULL with err set to what fetch() rejects with (no outbound here, a
     * limit). NULL member: fetch() rejects with a TypeError. */
    const struct iso_fetcher *(*fetcher)(void *ud, struct iso_worker *from, struct ed_error *err);
    /* Durable objects: ids, and the storage of the objects the worker hosts. NULL: the worker
     * has no durable object namespaces. Borrowed; must outlive the worker. */
    const struct iso_object_host *objects;
};

/* ---- outbound HTTP ----------------------------------------------------------------------
 * A worker's fetch() to the network goes to an HTTP client (edge/ implements it) through the
 * struct iso_fetcher its host hands out. One request is a struct iso_fetch of the client's:
 * start() sends the request (following redirects as asked) and answers its response head;
 * write() sends the next piece of a streamed request body; read() answers the next piece of
 * the response body, so the body comes only as fast as the worker reads it; close() ends the
 * request (at the end of the body, on abort, or when the worker lets go of the Response).
 *
 * Every callback comes exactly once per call that returned 0, never from inside start, write,
 * read or close (always from the loop later), and also after close (then with ED_ECANCELED or
 * whatever it had): the caller frees its record of the operation there. After close the
 * caller never passes f again. Errors are a negative code and a one-line message that fetch()
 * rejects with as a TypeError (ED_ECANCELED once closed). */

struct iso_fetch;

enum iso_redirect {
    ISO_REDIRECT_FOLLOW = 0, /* up to 20 hops, methods rewritten as the Fetch Standard says */
    ISO_REDIRECT_MANUAL,     /* the 3xx response is the answer */
    ISO_REDIRECT_ERROR,      /* a redirect fails the request */
};

/* A request. Borrowed for the duration of start(). */
struct iso_fetch_request {
    const char *tenant; /* whose request: the client keeps connections apart per tenant */
    const char *method; /* NUL-terminated */
    const char *url;    /* absolute http: or https: URL */
    size_t url_len;
    const struct iso_header *headers; /* as the worker set them; framing is the client's */
    size_t n_headers;
    const uint8_t *body; /* a fixed body (NULL and 0: none) */
    size_t body_len;
    bool body_stream;       /* the body comes through write() instead... */
    int64_t content_length; /* ...of this many bytes (Content-Length), or -1: chunked */
    int redirect;           /* enum iso_redirect */
};

/* A response head. Borrowed for the callback only. */
struct iso_fetch_head {
    int status;
    const char *status_text;
    size_t status_text_len;
    const struct iso_header *headers; /* in the order received; repeated names repeat */
    size_t n_headers;
    const char *url; /* the URL that answered (after redirects) */
    size_t url_len;
    bool redirected;
    bool has_body; /* false: no body will follow (HEAD, 204, 304); read() answers the end */
};

/* start()'s answer: code 0 and head, or a negative code and msg (head NULL). */
typedef void (*iso_fetch_head_cb)(void *ud, int code, const struct iso_fetch_head *head,
                                  const char *msg);
/* read()'s answer: code 0 and the next bytes (len > 0), or code 0 and len 0 at the end of
 * the body, or a negative code and msg. data and msg borrowed for the call. */
typedef void (*iso_fetch_data_cb)(void *ud, int code, const uint8_t *data, size_t len,
                                  const char *msg);
/* write()'s answer: 0 once the bytes were handed to the connection, or a negative code. */
typedef void (*iso_fetch_done_cb)(void *ud, int code, const char *msg);

struct iso_fetcher {
    void *ud;
    /* Starts req; *out is the client's until close(). Returns 0 (cb comes later) or a
     * negative code with err set (no callback; nothing to close). */
    int (*start)(void *ud, const struct iso_fetch_request *req, iso_fetch_head_cb cb, void *cb_ud,
                 struct iso_fetch **out, struct ed_error *err);
    /* The next piece of a streamed body (copied; len 0: the end). One at a time: the next
     * only once cb came. Returns 0 or a negative code (no callback). */
    int (*write)(void *ud, struct iso_fetch *f, const uint8_t *data, size_t len,
                 iso_fetch_done_cb cb, void *cb_ud);
    /* The next piece of the response body, once the head came. One at a time. Returns 0 or
     * a negative code (no callback). */
    int (*read)(void *ud, struct iso_fetch *f, iso_fetch_data_cb cb, void *cb_ud);
    /* Ends the request; a connection whose response was read to its end may be reused. */
    void (*close)(void *ud, struct iso_fetch *f);
};

/* Calls method of entrypoint (NULL: the default export) in w with serialized args (an
 * array) and props (ctx.props; may be NULL), whose stubs belong to peer (the caller, as w's
 * host names it), under the given budgets (the wall budget is the config's) with the CPU used
 * added to *cpu_used_ns (may be NULL; valid until cb). An entrypoint that is a class extending
 * WorkerEntrypoint is constructed with (ctx, env) and its method gets the arguments; a plain
 * object's method gets the arguments followed by env and ctx (fetch: (request, env, ctx)).
 * "fetch" takes a Request and answers a Response (bodies streamed as described above). Only
 * methods of an RpcTarget's or entrypoint class's prototype chain can be called, not own
 * properties. Stubs in the result are held by peer. Returns 0 and calls cb exactly once
 * (possibly before returning), or a negative code without calling cb (ED_EINVAL: w retired).
 * A missing entrypoint answers ED_EINVAL "Worker has no such entrypoint: NAME" (NAME
 * "default" for the default export), a missing method ED_EINVAL 'The RPC receiver does not
 * implement the method "NAME".'. */
int iso_worker_invoke(struct iso_worker *w, const char *entrypoint, const char *method,
                      const uint8_t *props, size_t props_len, const uint8_t *args, size_t args_len,
                      uint64_t peer, uint64_t cpu_budget_ns, uint64_t *cpu_used_ns,
                      iso_result_cb cb, void *cb_ud, struct ed_error *err) ISO_NOEXCEPT;

/* Calls stub (exported by w) for peer with serialized args: the function itself, or method of
 * the RpcTarget or fetcher ("fetch" as for iso_worker_invoke), or "read"/"cancel" of a stream.
 * As iso_worker_invoke, under the config's budgets with the CPU used added to *cpu_used_ns
 * (may be NULL). An id w does not export (released) returns ED_ENOENT without calling cb. */
int iso_worker_call_stub(struct iso_worker *w, uint64_t stub, const char *method,
                         const uint8_t *args, size_t args_len, uint64_t peer, uint64_t *cpu_used_ns,
                         iso_result_cb cb, void *cb_ud, struct ed_error *err) ISO_NOEXCEPT;

/* Releases stubs w exported (listed in iso_child_code.stubs when the child's code was
 * handed over): the child that held them is gone. Unknown ids are ignored. Runs no JS. */
void iso_worker_release_stubs(struct iso_worker *w, const uint64_t *stubs, size_t n) ISO_NOEXCEPT;

/* ISO_CALL_DROP's end: peer no longer holds stub of w. Ignored unless peer holds it (or the
 * call that carried it is still unanswered). Runs no JS. */
void iso_worker_drop_stub(struct iso_worker *w, uint64_t peer, uint64_t stub) ISO_NOEXCEPT;

/* Releases every export of w that peer holds: peer's isolate is gone. Runs no JS. */
void iso_worker_release_peer(struct iso_worker *w, uint64_t peer) ISO_NOEXCEPT;

/* Entries in w's export table (stubs other isolates may call into w through). */
size_t iso_worker_exports(const struct iso_worker *w) ISO_NOEXCEPT;

/* Runs a full garbage collection in w and then its finalizers (stubs w no longer references
 * are dropped through its host). For tests and for hosts short of memory. */
void iso_worker_collect_garbage(struct iso_worker *w) ISO_NOEXCEPT;

/* ---- durable objects ---------------------------------------------------------------------
 * A worker that declares durable object namespaces (iso_worker_config.objects) gets
 * env[name], a DurableObjectNamespace: ids come from the host (iso_object_host.id, which
 * binds them to the tenant and class with a keyed hash), and a stub's calls (fetch() and RPC
 * methods) become ISO_CALL_OBJECT calls to the host. The host runs each on the isolate that
 * hosts the object (iso_worker_call_object): there the runtime keeps one instance per object,
 * `new Class(ctx, env)` on its first call, until iso_worker_object_drop. ctx.storage reaches
 * the object's database through iso_object_host, synchronously, on the worker's thread; every
 * operation names the object by the handle the host gave iso_worker_call_object.
 *
 * Values to and from an object cross as structured clones without stubs: functions,
 * RpcTargets, stubs and streams are refused with a DataCloneError; a Request's or Response's
 * body is read whole by the runtime and crosses as bytes. */

/* How an id is made (iso_object_host.id). */
enum iso_object_id_op {
    ISO_OBJECT_ID_NAME = 0, /* idFromName(arg) */
    ISO_OBJECT_ID_UNIQUE,   /* newUniqueId() (arg unused) */
    ISO_OBJECT_ID_STRING,   /* idFromString(arg): checked, not made */
};

/* A SQL value (the shape of storage's). text/blob bytes borrowed for the call they are in. */
enum iso_sql_type { ISO_SQL_NULL = 0, ISO_SQL_INTEGER, ISO_SQL_REAL, ISO_SQL_TEXT, ISO_SQL_BLOB };
struct iso_sql_value {
    int type; /* enum iso_sql_type */
    int64_t i;
    double d;
    const void *p; /* ISO_SQL_TEXT (UTF-8) and ISO_SQL_BLOB */
    size_t len;
};

/* Where a query's last statement's rows go; a non-zero return stops it with that code. */
struct iso_sql_sink {
    int (*columns)(void *ud, const char *const *names, size_t n);
    int (*row)(void *ud, const struct iso_sql_value *values, size_t n);
};

/* Rows a storage operation read and wrote (cursor.rowsRead/rowsWritten; billing). */
struct iso_storage_counts {
    uint64_t rows_read, rows_written;
};

/* list({prefix, start, end, limit, reverse}); NULL pointers and 0 are unset. */
struct iso_kv_range {
    const char *prefix, *start, *end;
    size_t prefix_len, start_len, end_len;
    uint32_t limit;
    bool reverse;
};

/* The host's side of durable objects. Every function runs on the worker's thread, inside the
 * worker's JavaScript (it must not call back into the shim), and returns 0 (or what it says)
 * or a negative code with err set to the message the runtime throws: ED_EINVAL as a
 * TypeError for ids, ED_ERANGE as a RangeError, anything else as an Error. object is the
 * handle of iso_worker_call_object; one the host no longer knows (the object was dropped)
 * fails with ED_ENOENT. Strings and values are borrowed for the call. */
struct iso_object_host {
    void *ud;
    /* Writes an id of binding's namespace (64 lower-case hex digits and a NUL) into hex. For
     * ISO_OBJECT_ID_STRING, arg must be such an id of this namespace: ED_EINVAL "Invalid
     * Durable Object ID: must be 64 hex digits" or "Durable Object ID is not valid for this
     * namespace." otherwise. */
    int (*id)(void *ud, struct iso_worker *from, const char *binding, int op, const char *arg,
              size_t arg_len, char hex[65], struct ed_error *err);
    /* sql.exec(): every statement of sql runs now; the last one's rows go to sink. */
    int (*sql)(void *ud, struct iso_worker *from, uint64_t object, const char *sql, size_t len,
               const struct iso_sql_value *binds, size_t n_binds, const struct iso_sql_sink *sink,
               void *sink_ud, struct iso_storage_counts *counts, struct ed_error *err);
    /* sql.databaseSize */
    int (*size)(void *ud, struct iso_worker *from, uint64_t object, uint64_t *bytes,
                struct ed_error *err);
    /* get(key): 0 with found(ud, value, len) called, or ED_ENOENT when absent. */
    int (*kv_get)(void *ud, struct iso_worker *from, uint64_t object, const char *key,
                  size_t key_len, int (*found)(void *ud, const void *value, size_t len),
                  void *found_ud, struct iso_storage_counts *counts, struct ed_error *err);
    int (*kv_put)(void *ud, struct iso_worker *from, uint64_t object, const char *key,
                  size_t key_len, const void *value, size_t len, struct iso_storage_counts *counts,
                  struct ed_error *err);
    /* 1 deleted, 0 absent. */
    int (*kv_delete)(void *ud, struct iso_worker *from, uint64_t object, const char *key,
                     size_t key_len, struct iso_storage_counts *counts, struct ed_error *err);
    int (*kv_list)(void *ud, struct iso_worker *from, uint64_t object,
                   const struct iso_kv_range *range,
                   int (*each)(void *ud, const char *key, size_t key_len, const void *value,
                               size_t len),
                   void *each_ud, struct iso_storage_counts *counts, struct ed_error *err);
    /* deleteAll() */
    int (*delete_all)(void *ud, struct iso_worker *from, uint64_t object, struct ed_error *err);
    /* transactionSync()/transaction(): open a savepoint; close the innermost, keeping or
     * undoing what was done since. */
    int (*savepoint)(void *ud, struct iso_worker *from, uint64_t object, struct ed_error *err);
    int (*release)(void *ud, struct iso_worker *from, uint64_t object, bool commit,
                   struct ed_error *err);
    /* getAlarm()/setAlarm()/deleteAlarm(): ms since the epoch, 0 = none. */
    int (*alarm_get)(void *ud, struct iso_worker *from, uint64_t object, int64_t *at_ms,
                     struct ed_error *err);
    int (*alarm_set)(void *ud, struct iso_worker *from, uint64_t object, int64_t at_ms,
                     struct ed_error *err);
    /* ctx.facets.abort(name, reason) / delete(name) for the facets of object: stops the facet's
     * instance (its uncommitted writes undone, what waited for them failed with reason); delete
     * also removes its database. May be NULL: the runtime refuses facets. */
    int (*facet_ctl)(void *ud, struct iso_worker *from, uint64_t object, int op, const char *name,
                     size_t name_len, const char *reason, struct ed_error *err);
};

/* iso_object_host.facet_ctl's op. */
enum iso_facet_op { ISO_FACET_ABORT = 0, ISO_FACET_DELETE };

/* A call into a durable object (or a facet) that w hosts; see iso_worker_call_object. */
struct iso_object_call {
    const char *cls;  /* the class, exported by name from w's main module */
    uint64_t object;  /* the host's handle for the object */
    const char *id;   /* ctx.id: 64 hex digits; "" with name for a facet's string id */
    const char *name; /* the id's name (idFromName), or NULL */
    size_t name_len;
    const char *method;
    const uint8_t *args; /* serialized array; for "fetch", one Request; ignored for "alarm" */
    size_t args_len;
    uint32_t alarm_retries; /* "alarm": how many times it failed before (retryCount) */
    bool facet;             /* a facet: its ctx.facets refuses to make facets of its own */
};

/* Calls call->method of the durable object call->cls that w hosts, with serialized args (an
 * array; for "fetch", one Request). call->object is the host's handle for the object: the
 * runtime keeps one instance per handle, made with `new cls(ctx, env)` on its first call
 * (ctx.id from id and name; ctx.storage through w's iso_host.objects with this handle), and
 * delivers calls to it until iso_worker_object_drop (or a failed constructor or
 * blockConcurrencyWhile() callback, which drop it so the next call makes it again). Calls
 * wait while the instance's blockConcurrencyWhile() callback or a transaction() runs.
 * "alarm" calls the instance's alarm({retryCount, isRetry}) from call->alarm_retries. Only
 * methods of the class's prototype chain can be called, and RPC only on a class that extends
 * DurableObject, as in Workers (fetch and alarm on any class). The result is serialized
 * without stubs (functions, RpcTargets and streams fail the call with a DataCloneError; a
 * Response's body is read whole). call is borrowed for the call. Budgets, cpu_used_ns and the
 * callback as iso_worker_invoke. */
int iso_worker_call_object(struct iso_worker *w, const struct iso_object_call *call,
                           uint64_t cpu_budget_ns, uint64_t *cpu_used_ns, iso_result_cb cb,
                           void *cb_ud, struct ed_error *err) ISO_NOEXCEPT;

/* Forgets the instance of object (evicted, or its storage failed): the next call makes a new
 * one. Runs no JavaScript; a call of it still running finishes. */
void iso_worker_object_drop(struct iso_worker *w, uint64_t object) ISO_NOEXCEPT;

/* Instances of durable objects w holds. */
size_t iso_worker_objects(const struct iso_worker *w) ISO_NOEXCEPT;

/* ---- code cache ------------------------------------------------------------------------
 * Compiled code is shared by every isolate of the process: an ES or CommonJS module of at least
 * 4 KiB is looked up by SHA-256 of its kind, name and source, compiled from V8's code cache on
 * a hit, and on a miss leaves its code cache behind once its worker was built (functions that
 * ran at top level included). At most 64 MiB of caches, least recently used out first; one
 * over 8 MiB is not kept. What another tenant can learn from it is only, by timing, that the
 * exact same module (name and bytes) was loaded before. */
struct iso_code_cache_stats {
    uint64_t hits;     /* compiles that used a cached entry */
    uint64_t misses;   /* compiles of a cacheable module that found no entry */
    uint64_t rejected; /* entries V8 refused (dropped; the module compiled from source) */
    uint64_t evicted;  /* entries dropped to make room */
    uint64_t entries;  /* entries held now */
    uint64_t bytes;    /* their size in bytes */
};

/* Fills *out with the counters since the process started. Any thread. */
void iso_code_cache_stats(struct iso_code_cache_stats *out) ISO_NOEXCEPT;

/* ---- watchdog -------------------------------------------------------------------------
 * Enforces per-invocation CPU and wall-time budgets. One watchdog thread per process; a
 * shard registers a slot once and names it in its workers' configs: the shim arms it around
 * every entry into JavaScript (see iso_worker_config.watch). The
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
