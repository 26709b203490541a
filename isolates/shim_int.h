/*
 * isolates/ internals: what the shim's C++ files share. The shape of a worker instance (one
 * isolate, its context, the main module's exports and the JS runtime's private entry points),
 * its invocations in flight and its calls out, the entry bracket that arms the watchdog and
 * lets another thread stop JavaScript, and the helpers that turn V8 outcomes into struct
 * ed_error. Only the .cc files of
 * isolates/ include this header (it includes V8); nothing outside isolates/ may.
 */
#ifndef EDGED_ISOLATES_SHIM_INT_H
#define EDGED_ISOLATES_SHIM_INT_H

#include <libplatform/libplatform.h>
#include <v8.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "isolates/isolates.h"

/* The runtime's .js files, embedded by cmake/embed_js.cmake (generated runtime_js.c). */
extern "C" {
struct iso__js_file {
    const char *name;
    const char *source;
    size_t len;
};
extern const struct iso__js_file iso__runtime_files[];
extern const size_t iso__runtime_n_files;
}

namespace iso {

/* The per-isolate ArrayBuffer allocator (allocator.cc): counts backing-store bytes and
 * refuses an allocation that would take the worker past its memory limit. */
class Allocator final : public v8::ArrayBuffer::Allocator {
  public:
    explicit Allocator(size_t limit) : limit_(limit)
    {
    }
    /* A pooled isolate's allocator takes the limit of the worker that takes the isolate. */
    void set_limit(size_t limit)
    {
        limit_.store(limit, std::memory_order_relaxed);
    }
    void *Allocate(size_t length) override;
    void *AllocateUninitialized(size_t length) override;
    void Free(void *data, size_t length) override;
    /* Bytes of live backing stores. */
    size_t used() const
    {
        return used_.load(std::memory_order_relaxed);
    }
    /* The V8 heap's size after the last GC, which shares the limit (set by a GC epilogue). */
    void set_heap_used(size_t bytes)
    {
        heap_used_.store(bytes, std::memory_order_relaxed);
    }
    size_t heap_used() const
    {
        return heap_used_.load(std::memory_order_relaxed);
    }

  private:
    bool reserve(size_t length);
    std::atomic<size_t> limit_;
    std::atomic<size_t> used_{0};
    std::atomic<size_t> heap_used_{0};
};

/* The process's platform (platform.cc); NULL before iso_platform_init. */
v8::Platform *platform();

/* A worker's heap limit when its config gives none. */
constexpr size_t kDefaultHeapLimit = 128u << 20;

/* Isolate data slot that points back at the struct iso_worker. */
constexpr uint32_t kWorkerSlot = 0;

/* Longest exception text or log line the shim copies out of an isolate. */
constexpr size_t kMaxMessage = 64 * 1024;

/* The JS runtime's private entry points (the files in isolates/js/ put them on `internals`). */
struct Hooks {
    v8::Global<v8::Function> dispatch;       /* (handler, env, method, url, headers, body) */
    v8::Global<v8::Function> response_parts; /* (value) -> [status, headers, body] | undefined */
    v8::Global<v8::Function> open_stream;    /* (stream) -> reader; see stream_hooks */
    v8::Global<v8::Function> read_chunk;     /* (reader) -> Promise<Uint8Array | null> */
    v8::Global<v8::Function> cancel_stream;  /* (reader, reason) */
    v8::Global<v8::Function> new_buffer;     /* (length) -> ArrayBuffer */
    v8::Global<v8::Function> setup;          /* (vars, loaders, env, outbound, stub, peer) -> env */
    v8::Global<v8::Function> invoke;         /* (ns, env, entrypoint, method, props, args) */
    v8::Global<v8::Function> call_export;    /* (value, kind, method, args, id) -> Promise */
    v8::Global<v8::Function> describe_error; /* (thrown) -> [code, one-line text] */
    v8::Global<v8::Function> call_error;     /* (code, message) -> Error for a failed call */
    v8::Global<v8::Function> encode;         /* (value, mode) -> value with stubs as markers */
    v8::Global<v8::Function> revive;         /* (value) -> value with markers made stubs */

    void reset()
    {
        for (v8::Global<v8::Function> *g :
             {&dispatch, &response_parts, &open_stream, &read_chunk, &cancel_stream, &new_buffer,
              &setup, &invoke, &call_export, &describe_error, &call_error, &encode, &revive})
            g->Reset();
    }
};

/* A code cache's key: SHA-256 of a module's kind, name and source (code_cache.cc). */
struct CacheKey {
    uint8_t bytes[32];
};

/* A code cache's bytes as V8 made them; immutable, shared by the table and every compile
 * reading them. */
using CacheBlob = std::shared_ptr<const std::vector<uint8_t>>;

/* A module of the bundle, kept for the resolver, require() and the synthetic modules'
 * evaluation (module_types.cc). */
struct Module {
    std::string name;
    v8::Global<v8::Module> module;
    int hash;
    iso_module_type type = ISO_MODULE_ESM;
    v8::Global<v8::Value> value;       /* TEXT, DATA, JSON: the default export */
    v8::Global<v8::Function> cjs;      /* CJS: function (module, exports, require) */
    v8::Global<v8::Object> cjs_module; /* CJS: its `module` once it started running */
    int cjs_state = 0;                 /* CJS: 0 not run, 1 running, 2 done */
    bool cache_produce = false;        /* compiled from source for want of a cache entry */
    CacheKey cache_key;                /* when cache_produce: where its code cache goes */
};

/* What a marker in a serialized value stands for (shared with isolates/js/65_rpc.js). */
constexpr int kStubFunction = 1; /* a function: calling the stub calls it */
constexpr int kStubObject = 2;   /* an RpcTarget or fetcher: the stub's methods call its methods */
constexpr int kStubStream = 3;   /* a ReadableStream: the receiver pulls chunks with "read" */
constexpr int kTagRequest = 4;   /* no export: the array it heads is a Request */
constexpr int kTagResponse = 5;  /* no export: the array it heads is a Response */
constexpr int kKindMask = 0xff;
constexpr int kHeld = 0x100; /* flag: the receiver holds it until its stub is garbage */

/* How a value is serialized (what the runtime's encode() makes of its stubs). */
enum class Mode : int {
    kArgs = 0,   /* a call's arguments: stubs live until the call is answered */
    kResult = 1, /* a call's result: stubs held by the receiver */
    kEnv = 2,    /* a child's env: stubs released by the host with the child */
    kObject = 3, /* to or from a durable object: no stubs or streams, bodies whole */
};

/* Nobody yet: an export made for a call whose callee is not known until it answers. */
constexpr uint64_t kPeerPending = UINT64_MAX;

/* An object the worker exported as a stub. */
struct Export {
    v8::Global<v8::Value> value;
    int kind;      /* kStub* | kHeld */
    uint64_t peer; /* who holds it (kPeerPending: the callee of a call not yet answered) */
};

/* The exports made while one value was serialized, and who will hold them. */
struct ExportLog {
    uint64_t peer = kPeerPending;
    std::vector<uint64_t> ids;
};

/* One invocation of a worker: a fetch (answered through a sink) or a call (iso_worker_invoke,
 * iso_worker_call_stub; answered through a result callback). It stays in the worker's table
 * of in-flight invocations while the promise it waits on is pending; once it has an outcome
 * it moves to the completion queue, whose final callbacks run after the shim left the
 * isolate (so the CPU it used is counted first, and a callback may re-enter or free the
 * worker). An invocation whose ctx.waitUntil() promises are still pending when it answered
 * lives on in the background list until they settle or its budget runs out; its timers are
 * cancelled when it ends. */
struct Invocation {
    enum class Kind : uint8_t { kFetch, kCall };
    enum class State : uint8_t { kAwaitResult, kStreaming, kDone, kBackground };
    enum class Final : uint8_t { kEnd, kAbort, kFail, kResult };
    Kind kind;
    State state = State::kAwaitResult;
    Final final = Final::kEnd;
    bool head_sent = false;
    uint64_t id = 0;
    const iso_response_sink *sink = nullptr; /* kFetch */
    void *ud = nullptr;
    iso_result_cb cb = nullptr; /* kCall */
    void *cb_ud = nullptr;
    uint64_t cpu_budget = 0, wall_budget = 0; /* 0 = none */
    uint64_t started = 0;                     /* ed_now_ns() at start, when wall_budget */
    uint64_t cpu_used = 0;
    uint64_t *cpu_used_out = nullptr;     /* borrowed from the caller until the final callback */
    uint32_t sub_limit = 0, sub_used = 0; /* fetch() calls allowed (0: any) and made */
    uint64_t peer = 0;                    /* kCall: the caller, who holds the result's stubs */
    Mode mode = Mode::kResult;            /* kCall: how its result is serialized */
    v8::Global<v8::Value> awaited;        /* the promise (or value) it waits on */
    v8::Global<v8::Value> reader;         /* kStreaming: the response body's reader */
    bool paused = false;                  /* kStreaming: the sink asked to wait (host resumes) */
    uint64_t body_id = 0;                 /* kFetch: its request body still arriving (bodies) */
    int64_t expected = -1;                /* kStreaming: the body's declared length, -1 unknown */
    int64_t sent = 0;                     /* kStreaming: bytes handed to the sink */
    int code = 0;                         /* the outcome, once kDone */
    std::string msg, result;
    bool responded = false; /* its final callback (sink or result) was called */
    /* ctx.waitUntil() promises not yet seen settled; the invocation outlives its answer while
     * any is pending. */
    std::vector<v8::Global<v8::Promise>> wait_until;
    int bg_code = 0; /* why its background work ended (0: every promise settled) */
    std::string bg_msg;
    uint32_t timers = 0;   /* its JS timers pending */
    bool deadline = false; /* a deadline timer watches its wall budget */

    explicit Invocation(Kind k) : kind(k)
    {
    }
};

/* A timer of a worker (timers.cc): a JS callback (setTimeout, setInterval) owned by the
 * invocation that set it, or an invocation's deadline (no callback: its wall budget ends). */
struct Timer {
    uint64_t due = 0;      /* ed_now_ns() clock */
    uint64_t interval = 0; /* ns between runs; 0: runs once */
    uint64_t inv = 0;      /* the owning invocation's id */
    bool deadline = false;
    v8::Global<v8::Function> fn;
    std::vector<v8::Global<v8::Value>> args;
};

/* A request body that is still arriving (iso_request.body_source), readable until its fetch
 * completes. waiting: the runtime awaits iso_worker_body_ready(). */
struct BodyRef {
    const iso_body_source *src = nullptr;
    void *ud = nullptr;
    uint64_t inv = 0; /* the fetch it belongs to */
    v8::Global<v8::Promise::Resolver> waiting;
};

/* A call out of the worker (through iso_host.call) awaiting its answer. */
struct Call {
    iso_worker *w;     /* nullptr once w was freed: the answer is then dropped */
    Call *prev, *next; /* in w->calls */
    uint64_t inv_id;   /* the invocation it was made for (0: none), whose budget the answer uses */
    v8::Global<v8::Promise::Resolver> resolver;
    /* Exports made for its arguments: released when it is answered (scoped), or then handed
     * to the callee that answered (held: streams, which outlive the call). */
    std::vector<uint64_t> scoped, held;
    /* An operation of this outbound fetch (fetch.cc), 0 for a call to another isolate. */
    uint64_t fetch = 0;
};

/* An outbound fetch in flight: the HTTP client's record of it and the client (fetch.cc). */
struct OutFetch {
    iso_fetch *f;
    const iso_fetcher *via;
};

} // namespace iso

struct iso_worker {
    v8::Isolate *isolate = nullptr;
    std::shared_ptr<iso::Allocator> allocator;
    size_t heap_limit = 0;
    uint32_t large_spaces = 0; /* bit i: heap space i holds large objects (check_heap) */
    v8::Global<v8::Context> context;
    v8::Global<v8::Value> handler; /* the main module's default export */
    v8::Global<v8::Object> ns;     /* the main module's namespace (entrypoints) */
    v8::Global<v8::Object> env;
    v8::Global<v8::Object> internals;
    v8::Global<v8::FunctionTemplate> marker; /* stub markers (serialize.cc) */
    v8::Global<v8::Module> cf_module;        /* "cloudflare:workers", once imported */
    /* Durable objects it hosts: the runtime's record of each, by the host's handle. */
    std::unordered_map<uint64_t, v8::Global<v8::Value>> objects;
    iso::Hooks hooks;
    /* One per runtime file (empty: a lazy file not loaded), until save_runtime_cache. */
    std::vector<v8::Global<v8::UnboundScript>> runtime_scripts;
    bool keep_scripts = false; /* the snapshot's warm-up worker: runtime_scripts stay */
    bool link_only = false;    /* iso_bundle_check: compile and link, evaluate nothing */
    uint32_t lazy_loaded = 0;  /* bit k: lazy runtime file k ran in this isolate (lazy.cc) */
    uint32_t lazy_loading = 0; /* bit k: it is running now */
    std::vector<iso::Module> modules;
    std::string link_error;   /* why the module resolver failed, for the message */
    std::string tenant, name; /* for messages */
    iso_log_cb log = nullptr;
    void *log_ud = nullptr;
    bool child = false;
    bool from_snapshot = false; /* the context came from the runtime snapshot */

    /* Where calls out go and how entries are watched (from the config; borrowed). */
    const iso_host *host = nullptr;
    iso_watch_slot *watch = nullptr;
    uint64_t cpu_budget = 0, wall_budget = 0; /* for entries on behalf of no invocation */

    /* Owner thread only. */
    int depth = 0;                              /* nested entries (iso::Entry) into w */
    int holds = 0;                              /* shim frames using w (iso::Hold) */
    bool free_requested = false;                /* iso_worker_free came while holds > 0 */
    std::vector<iso::Invocation *> inflight;    /* waiting on a promise, in start order */
    std::vector<iso::Invocation *> completions; /* outcomes whose final callback is due */
    bool completing = false;                    /* run_completions is delivering them */
    std::vector<iso::Invocation *> spare;       /* finished invocations kept for reuse */
    size_t pending = 0;                         /* started, final callback not yet called */
    uint64_t next_invocation = 1;
    iso::Call *calls = nullptr; /* calls out awaiting an answer */
    size_t calls_out = 0;
    /* Things only the host can move on: request bodies awaited and response streams paused
     * (while any, a pending promise may still settle). */
    size_t host_waits = 0;
    size_t buffers_seen = 0; /* ArrayBuffer bytes at the last look of collect_chunks() */
    std::unordered_map<uint64_t, iso::BodyRef> bodies; /* request bodies still arriving */
    uint64_t next_body = 1;
    std::unordered_map<uint64_t, iso::Export> exports;
    uint64_t next_export = 1;
    std::unordered_map<uint64_t, iso::OutFetch> fetches; /* outbound fetches not closed yet */
    uint64_t next_fetch = 1;
    iso::ExportLog *export_log = nullptr; /* the value being serialized, if any */
    /* Invocations by id, from track() until they end (background included). */
    std::unordered_map<uint64_t, iso::Invocation *> live;
    std::vector<iso::Invocation *> background; /* answered, ctx.waitUntil() work pending */

    /* Timers (timers.cc), owner thread only. */
    std::map<uint64_t, iso::Timer> timers;               /* by id */
    std::set<std::pair<uint64_t, uint64_t>> timer_queue; /* (due, id), earliest first */
    uint64_t next_timer = 1;
    size_t js_timers = 0;      /* timers with a callback (deadlines excluded) */
    uint64_t timer_head = 0;   /* the due this worker is registered with on its thread, 0: none */
    uint64_t timer_serial = 0; /* this worker in its thread's registry, 0: not registered */
    bool building = false;     /* the bundle's top level is being evaluated */

    /* Shared with iso_worker_terminate() on other threads. */
    pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
    bool running = false;            /* under run_lock: JS of this worker may be on the stack */
    std::atomic<int> stop_reason{0}; /* why the worker was stopped (retired), 0 while usable */
};

namespace iso {

/* One stretch of JavaScript in w on behalf of an invocation (nullptr: none, e.g. module
 * evaluation or an answer for a finished invocation). Entries nest, within one isolate (a
 * stub call arriving while w waits in a native call) and across isolates (a parent's native
 * callback running a child): the innermost entry is the one armed on its worker's watch slot
 * with the remaining budget of its invocation; the entry it interrupted is disarmed meanwhile
 * and re-armed when it resumes, so a child's CPU time is never charged to its parent. The
 * CPU an entry used is added to its invocation's cpu_used (and *cpu_used_out) when it
 * disarms. While any entry of w is open, iso_worker_terminate() may stop w. */
class Entry {
  public:
    Entry(iso_worker *w, Invocation *inv);
    ~Entry();
    Entry(const Entry &) = delete;
    Entry &operator=(const Entry &) = delete;
    /* Continues on behalf of inv: the CPU so far goes to the previous one, the budget is
     * inv's from now on. */
    void act_for(Invocation *inv);
    /* No other entry of w is open below this one: microtasks may run, invocations settle. */
    bool outermost() const
    {
        return outermost_;
    }
    iso_worker *worker() const
    {
        return w_;
    }
    Invocation *invocation() const
    {
        return inv_;
    }
    Entry *outer() const
    {
        return outer_;
    }

  private:
    void arm();
    void disarm();
    iso_worker *w_;
    Invocation *inv_;
    Entry *outer_;
    bool outermost_;
    enum { kNone, kWatch, kClock } armed_ = kNone;
    uint64_t cpu_start_ = 0;
};

/* Keeps w alive across a shim frame that calls out (sinks, result callbacks, the host): an
 * iso_worker_free() meanwhile only marks w, and the last Hold to go frees it. */
class Hold {
  public:
    explicit Hold(iso_worker *w);
    ~Hold();
    Hold(const Hold &) = delete;
    Hold &operator=(const Hold &) = delete;

  private:
    iso_worker *w_;
};

/* ---- entry.cc: invocations ---- */

/* The invocation of w that the innermost open entry of w acts for, or nullptr. */
Invocation *current_invocation(iso_worker *w);

/* The in-flight invocation with this id, or nullptr. */
Invocation *find_invocation(iso_worker *w, uint64_t id);

/* Starts tracking inv (pending and in flight); its id is assigned here. */
void track(iso_worker *w, Invocation *inv);

/* Gives inv its outcome: out of the in-flight table, into the completion queue. For kFetch
 * final is kEnd, kAbort (code, msg) or kFail (code, msg); for kCall, kResult with code 0 and
 * result, or a negative code and msg. */
void complete(iso_worker *w, Invocation *inv, Invocation::Final final, int code,
              std::string msg = std::string(), std::string result = std::string());

/* Fails every in-flight invocation of w with code (w was stopped or is being freed). Runs no
 * JavaScript. */
void fail_all(iso_worker *w, int code);

/* What a caller reads when a call failed for a limit or a shutdown ("Worker exceeded CPU time
 * limit"...). */
std::string limit_message(int code);

/* The end of the outermost entry of w: runs microtasks and moves every invocation whose
 * promise settled forward (responses and results are delivered as they become ready), runs
 * platform tasks, checks the heap, and fails what can never settle: when w has no call out
 * awaiting an answer, nothing can wake a pending promise any more. */
void finish(iso_worker *w, Entry &e, v8::Local<v8::Context> context, v8::TryCatch &try_catch);

/* Calls the final callbacks of w's completed invocations and frees them. Only at depth 0. */
void run_completions(iso_worker *w);

/* An invocation of kind, reused from w's spares when it has one; nullptr when out of memory.
 * recycle() takes one back after its final callback. */
constexpr size_t kSpareInvocations = 8;
Invocation *new_invocation(iso_worker *w, Invocation::Kind kind);
void recycle(iso_worker *w, Invocation *inv);

/* The frame of every entry point that runs JavaScript in w on behalf of inv: holds w, opens
 * an entry and the scopes, runs body(context, try_catch, entry), finishes (when outermost),
 * closes the entry, then delivers completions. w may be freed when it returns. */
template <typename F> void run_in(iso_worker *w, Invocation *inv, F &&body)
{
    Hold hold(w);
    {
        Entry entry(w, inv);
        v8::Isolate *const isolate = w->isolate;
        v8::Isolate::Scope isolate_scope(isolate);
        v8::HandleScope handle_scope(isolate);
        v8::Local<v8::Context> context = w->context.Get(isolate);
        v8::Context::Scope context_scope(context);
        v8::TryCatch try_catch(isolate);
        body(context, try_catch, entry);
        if (entry.outermost())
            finish(w, entry, context, try_catch);
    }
    if (w->depth == 0)
        run_completions(w);
}

/* Steps an in-flight invocation whose awaited promise settled (dispatch.cc for fetches,
 * invoke.cc for calls). */
void fetch_step(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                v8::TryCatch &try_catch);
void call_step(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
               v8::TryCatch &try_catch);
/* Fails an in-flight fetch with code and msg (on_fail, or on_abort once its head went, its
 * stream cancelled). */
void fetch_cancel(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                  v8::TryCatch &try_catch, int code, const std::string &msg);
/* Ends the background work of inv (answered, in w->background): its final on_done gets code
 * and msg once the shim left the isolate. */
void background_end(iso_worker *w, Invocation *inv, int code, const std::string &msg);
/* Ends an in-flight fetch whose stream can never produce more (cancelling it). */
void fetch_stalled(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                   v8::TryCatch &try_catch);

/* Frees w now (holds == 0): fails what is in flight, orphans calls out, disposes the isolate. */
void destroy(iso_worker *w);

/* iso_worker_new, and for the snapshot's warm-up (keep_scripts) a worker that keeps its
 * runtime's scripts for runtime_caches. */
int new_worker(const iso_worker_config *cfg, bool keep_scripts, iso_worker **out, ed_error *err);

/* V8 heap sizes for a worker limited to limit bytes (child: a child worker's isolate): those
 * of its heap class. */
void set_heap_constraints(v8::ResourceConstraints *c, size_t limit, bool child);
/* The heap class of a limit: the limit rounded up to a quarter of its power of two, so that
 * limits close to each other share V8's heap sizes (and a pool), within 25%. */
size_t heap_class(size_t limit);

/* Retires w if its live heap is over its limit (collecting garbage first when the heap looks
 * too large). Called at the end of a dispatch, outside any JavaScript. */
void check_heap(iso_worker *w);

/* Takes w's heap-limit and GC callbacks off its isolate again (before it is disposed). */
void remove_limits(iso_worker *w);
/* Disposes a retired worker's isolate (its handles already reset, no callback of the worker
 * left on it): on the thread's pool filler when one runs, off the request path, else now. */
void dispose_later(v8::Isolate *isolate);
/* Registers w's heap-limit and GC callbacks on its new isolate. */
void install_limits(iso_worker *w);

/* Retires w with reason (first reason wins) and terminates its JavaScript. When only_running,
 * does nothing unless an Entry of w is open. Returns whether it acted. Any thread. */
bool stop(iso_worker *w, int reason, bool only_running);

/* If w was stopped, sets err to the reason and returns it; else returns 0. */
int stopped(iso_worker *w, ed_error *err);

/* A failed JS step: the stop reason if w was stopped, else code with "<what>: <exception>"
 * (just the exception when what is NULL; its stack when it has one). Resets try_catch. */
int js_failure(iso_worker *w, v8::TryCatch &try_catch, int code, const char *what, ed_error *err);

/* Text for a thrown value: its stack (without the runtime's own frames) if it is an object
 * with a string stack, else String(value); bounded by kMaxMessage; never throws (runs tenant
 * getters inside its own TryCatch). */
std::string exception_text(v8::Isolate *isolate, v8::Local<v8::Value> exception);

/* "file:line" of a compile or link error's message, or "" when unknown. */
std::string location_of(v8::Isolate *isolate, v8::Local<v8::Message> message);

/* UTF-8 copy of a string (lone surrogates as U+FFFD), at most max bytes, cut on a character
 * boundary. */
std::string utf8(v8::Isolate *isolate, v8::Local<v8::String> s, size_t max = kMaxMessage);

/* A V8 string from a UTF-8 C string; empty when too long for V8. */
v8::MaybeLocal<v8::String> str(v8::Isolate *isolate, const char *s, size_t len);
v8::Local<v8::String> str(v8::Isolate *isolate, const char *literal);

/* ---- clock.cc: the frozen clock ---- */

/* The platform V8 is given: base's everything, except that the wall clock behind Date.now()
 * and new Date() is the calling thread's frozen clock. Takes nothing; base must outlive it. */
std::unique_ptr<v8::Platform> clock_platform(v8::Platform *base);
/* Moves the calling thread's frozen clock to now (never backwards): called when the shim
 * enters an isolate for a new event. */
void clock_tick();
/* The calling thread's frozen clock, in ms since the epoch (whole ms). */
double clock_ms();

/* ---- timers.cc ---- */

/* Pending JS timers of w may still fire: the thread has a timer driver and w has one. */
bool timers_pending(iso_worker *w);
/* Cancels inv's timers (it ended). Runs no JS. */
void timers_cancel_for(iso_worker *w, Invocation *inv);
/* Cancels every timer of w and takes it off its thread's registry (w retired or freed). */
void timers_clear(iso_worker *w);
/* A timer that ends inv when its wall budget runs out, if it has one and none yet. */
void timers_deadline(iso_worker *w, Invocation *inv);
/* The live invocation with this id (in flight, answering or in the background), or nullptr. */
Invocation *live_invocation(iso_worker *w, uint64_t id);
/* Logs an exception nobody caught (a timer callback's, a waitUntil() rejection) to the
 * tenant's log as "Uncaught ...". */
void report_uncaught(iso_worker *w, v8::Local<v8::Value> exception);

/* Runs ready foreground tasks (GC finalisation and the like) for w's isolate. */
void pump(iso_worker *w);

/* ---- runtime.cc ---- */

/* Loads the runtime's .js files into w's (entered) context and fills w->hooks; a context made
 * from the runtime snapshot (w->from_snapshot) has them loaded already and only the hooks are
 * taken. */
int load_runtime(iso_worker *w, v8::Local<v8::Context> context, ed_error *err);

/* Fills w's hooks for a streamed response (open_stream, read_chunk, cancel_stream) if they are
 * not yet: they come from 30_streams.js (internals.streams), a lazy file, which a worker runs
 * only once it has a stream. False (an exception pending) when the runtime lacks them. */
bool stream_hooks(iso_worker *w, v8::Local<v8::Context> context);

/* V8 code caches, one per runtime file in load order. */
using CodeCaches = std::vector<std::unique_ptr<v8::ScriptCompiler::CachedData>>;

/* How run_runtime compiles the runtime's files: kLazy as V8 does by default (functions when
 * first called), from the process's code caches once the first worker left them (the
 * fallback when there is no snapshot); kEager every function now; kWarm from the given caches
 * (runtime_caches of a warmed-up worker): what they hold comes compiled, the rest is lazy. */
enum class Compile { kLazy, kEager, kWarm };

/* Runs the runtime's .js files in context; *out is their `internals`. warm (borrowed) is
 * read for kWarm only. */
int run_runtime(iso_worker *w, v8::Local<v8::Context> context, Compile how, const CodeCaches *warm,
                v8::Local<v8::Object> *out, ed_error *err);

/* Code caches of w's runtime files (w->keep_scripts), with the bytecode of every function w
 * compiled so far; false when w kept no scripts or V8 made no cache. */
bool runtime_caches(iso_worker *w, CodeCaches *out);

/* Appends the addresses of the runtime files' external source resources to refs: a snapshot
 * that lists them refers to the embedded text instead of holding a copy of it. */
void source_refs(std::vector<intptr_t> *refs);

/* Runtime file i's text (external: the embedded copy, when it is ASCII) and its script name. */
v8::MaybeLocal<v8::String> runtime_source(v8::Isolate *isolate, size_t i);
v8::Local<v8::String> runtime_name(v8::Isolate *isolate, size_t i);

/* ---- lazy.cc ---- */

/* Whether runtime file i is lazy: run_runtime does not run it but installs its placeholders. */
bool lazy_file(size_t i);

/* Installs the placeholders of every lazy file on the global object and on internals (before
 * the eager files run, so that what they use of a lazy file at run time finds them). */
int install_lazy(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Object> internals,
                 v8::Local<v8::Object> native, ed_error *err);

/* The name of a lazy file w loaded (lazy_loaded), for a message. */
const char *lazy_loaded_name(const iso_worker *w);

/* Appends the placeholders' callbacks to the snapshot's external references. */
void lazy_refs(std::vector<intptr_t> *refs);

/* Publishes the lazy files' code caches found in caches (runtime_caches of the snapshot's
 * warm-up worker, one per runtime file), for every later first use in the process. */
void set_lazy_caches(CodeCaches *caches);

/* ---- pool.cc ---- */

/* A new isolate for a worker limited to heap_limit bytes (from the runtime snapshot when there
 * is one: *from_snapshot), with its counting allocator; false when V8 cannot make one. child:
 * for a child worker (set_heap_constraints). */
bool make_isolate(size_t heap_limit, bool child, std::shared_ptr<Allocator> *allocator,
                  v8::Isolate **isolate, bool *from_snapshot);

/* Moves a never-used pooled isolate with this heap limit, and its context, into w (isolate,
 * allocator, context, from_snapshot); false when the thread's pool has none. */
bool pool_take(size_t heap_limit, iso_worker *w);

/* ---- snapshot.cc ---- */

/* Builds the process's runtime snapshot (once, from iso_platform_init); on failure workers
 * load the runtime from source. */
void snapshot_build();
void snapshot_dispose();
/* Points params at the snapshot and its external references; false when there is none. */
bool snapshot_params(v8::Isolate::CreateParams *params);

/* Once w is built: the process's first worker leaves the runtime's code caches behind. */
void save_runtime_cache(iso_worker *w);

/* ---- modules.cc ---- */

/* Compiles, links and evaluates the bundle; on success w->ns holds the main module's
 * namespace and w->handler its default export. A worker that is not a child must have a fetch
 * handler (an object with fetch(), or a class whose prototype has one). */
int load_bundle(iso_worker *w, v8::Local<v8::Context> context, const struct iso_worker_config *cfg,
                ed_error *err);

/* "dir/a.js" + "./b.js" -> "dir/b.js"; "../x.js" climbs; a bare or "/"-rooted name is taken
 * from the bundle's root. Returns "" when the path climbs above the root. */
std::string resolve_name(const std::string &referrer, const std::string &specifier);
Module *find_by_name(iso_worker *w, const std::string &name);
Module *find_by_module(iso_worker *w, v8::Local<v8::Module> module);

/* ---- code_cache.cc ---- */

/* The process's code cache bounds: bytes of V8 code caches held in all, and the largest one
 * kept (a larger source is not even hashed: its cache, bigger than the source, could not be
 * kept). */
constexpr size_t kCodeCacheMaxBytes = 64u << 20;
constexpr size_t kCodeCacheMaxEntryBytes = 8u << 20;
/* Sources shorter than this compile without the cache. Consuming a cache is faster than
 * compiling at every size (a child with a 1 KB library: 215 us instead of 330; tests/unit/
 * isolates/test_code_cache.c prints the figures), but a miss makes V8 produce the cache, which
 * costs about 120 us plus 14 us per KB of source whatever the size (most of it per isolate,
 * before the first byte is written), and a source seen only once never repays it. From about
 * 3 KB one hit saves more than the miss cost (4 KB: a miss costs 200 us, a hit saves 240 us;
 * 1 KB: 145 and 120); below that, unique small code (what agents send) would only get slower. */
constexpr size_t kCodeCacheMinSource = 4096;

/* One compile's use of the code cache: construct it before the ScriptCompiler::Source (it
 * holds the entry V8 reads, so it must outlive the Source), pass data() and options() to the
 * Source and the compile, then call done() once the compile succeeded. */
class CacheUse {
  public:
    CacheUse(iso_module_type kind, const std::string &name, const char *source, size_t len);
    CacheUse(const CacheUse &) = delete;
    CacheUse &operator=(const CacheUse &) = delete;
    /* A view of the entry for the Source to take (nullptr: compile from source). */
    v8::ScriptCompiler::CachedData *data();
    v8::ScriptCompiler::CompileOptions options() const
    {
        return blob_ ? v8::ScriptCompiler::kConsumeCodeCache
                     : v8::ScriptCompiler::kNoCompileOptions;
    }
    /* Counts the hit or drops a rejected entry; marks m to leave a code cache once evaluated
     * when it was compiled from source. */
    void done(const v8::ScriptCompiler::Source &src, Module *m);

  private:
    bool wanted_;
    CacheKey key_;
    CacheBlob blob_;
};

/* Once w's modules were evaluated: those compiled from source for want of an entry leave
 * their code caches (functions that already ran included) for the next worker. */
void save_module_caches(iso_worker *w);

/* ---- module_types.cc ---- */

/* Compiles a module that is not an ES module (CJS, TEXT, DATA, JSON) into a synthetic module
 * whose default export is its value; fills m. */
int compile_synthetic(iso_worker *w, v8::Local<v8::Context> context, const iso_module &src,
                      Module *m, v8::TryCatch &try_catch, ed_error *err);

/* The built-in module named spec ("cloudflare:workers"), or an empty handle (no exception)
 * when there is none by that name. */
v8::MaybeLocal<v8::Module> builtin_module(iso_worker *w, v8::Local<v8::Context> context,
                                          const std::string &spec);

/* ---- serialize.cc ---- */

/* Prepares w's stub markers (host objects that stand for stubs and tags in a value). */
void init_markers(iso_worker *w);

/* A marker for export id of kind (kStub* | kHeld, or a kTag*), exported by peer (0 for a
 * marker w makes for its own exports). */
v8::MaybeLocal<v8::Object> new_marker(iso_worker *w, v8::Local<v8::Context> context, uint64_t id,
                                      int kind, uint64_t peer);

/* The id, kind and peer of a marker; false when v is no marker. */
bool marker_info(iso_worker *w, v8::Local<v8::Value> v, uint64_t *id, int *kind, uint64_t *peer);

/* Structured clone of value into *out, after the runtime's encode() turned what cannot be
 * cloned (functions, RpcTargets, stubs, streams, Requests, Responses) into markers; the
 * exports it made are tagged with log->peer and listed in log (may be NULL: tagged pending,
 * not listed). Returns false with an exception pending (a DataCloneError) when value cannot
 * be cloned or is over kMaxSerialized; the exports made are then released. */
bool serialize(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> value, Mode mode,
               ExportLog *log, std::string *out);

/* The value of serialized bytes (len 0: undefined); stub references become stubs that call
 * into peer through w's host. Empty with an exception pending when the bytes are malformed. */
v8::MaybeLocal<v8::Value> deserialize(iso_worker *w, v8::Local<v8::Context> context,
                                      const uint8_t *data, size_t len, uint64_t peer);

/* A plain structured clone (a durable object's stored value): nothing is exported, and host
 * objects are refused with a DataCloneError; false with an exception pending. */
bool serialize_plain(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> value,
                     std::string *out);
/* Its reverse; empty with an exception pending when the bytes are malformed. */
v8::MaybeLocal<v8::Value> deserialize_plain(iso_worker *w, v8::Local<v8::Context> context,
                                            const uint8_t *data, size_t len);

/* Erases the exports listed. */
void unexport(iso_worker *w, const std::vector<uint64_t> &ids);

/* Largest serialized value (arguments, results, env) the shim produces. */
constexpr size_t kMaxSerialized = 64u << 20;

/* ---- calls.cc ---- */

/* Detaches w's calls out awaiting an answer: their answers will be dropped. */
void orphan_calls(iso_worker *w);

/* Adds c to (takes it off) w's calls out awaiting an answer. */
void link_call(iso_worker *w, Call *c);
void unlink_call(iso_worker *w, Call *c);

/* ---- fetch.cc ---- */

/* Closes w's outbound fetches (w is going; their calls were orphaned already). */
void close_fetches(iso_worker *w);

/* The (code, "Name: message") the runtime makes of a thrown value; never throws. */
int describe_error(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> thrown,
                   std::string *msg);

/* ---- encoding.cc ---- */

/* Emits s as UTF-8 in pieces of at most about 64 KiB (lone surrogates as U+FFFD), without
 * materialising the whole encoding. Stops at and returns the first non-zero emit result. */
int utf8_pieces(v8::Isolate *isolate, v8::Local<v8::String> s,
                int (*emit)(void *ud, const uint8_t *data, size_t len), void *ud);

/* Bytes of a view: a pointer into its backing store, or, for a small on-heap typed array
 * (which has no backing store yet), a copy in scratch. Never allocates in V8. */
const uint8_t *view_bytes(v8::Local<v8::ArrayBufferView> view, std::vector<uint8_t> &scratch);

/* ---- webnatives.cc (listed in kEncodingNatives) ---- */

/* native.domainToASCII(string) -> string | null: the URL Standard's domain to ASCII (UTS #46). */
void web_domain_to_ascii(const v8::FunctionCallbackInfo<v8::Value> &info);
/* native.structuredClone(value, transfer, DOMException) -> a clone within the isolate. */
void web_structured_clone(const v8::FunctionCallbackInfo<v8::Value> &info);

/* The native bindings: the `native` object of the runtime files. One that only a lazy runtime
 * file calls names that file (lazy_file): the snapshot's `native` leaves it out, and the file
 * gets it when it runs (each binding costs every isolate its function, template and name). */
struct NativeFunction {
    const char *name;
    v8::FunctionCallback callback;
    const char *lazy_file = nullptr;
};
/* Every table below; the runtime's `native` has the bindings of all of them. */
extern const NativeFunction *const kNativeTables[];
extern const size_t kNumNativeTables;
/* A new `native` object with prototype proto: the bindings whose lazy_file is file (nullptr: the
 * eager ones), made in context; empty when one cannot be made (an exception is pending). */
v8::MaybeLocal<v8::Object> make_natives(v8::Local<v8::Context> context, const char *file,
                                        v8::Local<v8::Value> proto);
/* Whether a binding names lazy file file. */
bool has_lazy_natives(const char *file);
extern const NativeFunction kEncodingNatives[];
extern const NativeFunction kConsoleNatives[];
extern const NativeFunction kCallNatives[];
extern const NativeFunction kCryptoNatives[];
extern const NativeFunction kTimerNatives[];
extern const NativeFunction kFetchNatives[];
extern const NativeFunction kStreamNatives[];
extern const NativeFunction kObjectNatives[];

/* ---- objects.cc ---- */

/* After the bundle was evaluated (or, link_only, instantiated: by name only): each durable
 * object class cfg names is exported by the main module (a function, once evaluated). */
int check_object_classes(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Object> ns,
                         const iso_worker_config *cfg, ed_error *err);

/* ---- streams.cc ---- */

/* Registers a request body that is still arriving for invocation inv; returns its handle. */
uint64_t register_body(iso_worker *w, const iso_body_source *src, void *ud, uint64_t inv);
/* Forgets a request body (its fetch completed): later reads throw. Runs no JavaScript. */
void release_body(iso_worker *w, uint64_t id);

} // namespace iso

#endif
