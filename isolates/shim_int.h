/*
 * isolates/ internals: what the shim's C++ files share. The shape of a worker instance (one
 * isolate, its context, the main module's default export and the JS runtime's private entry
 * points), the scope every entry point opens, the run bracket that lets another thread stop
 * JavaScript, and the helpers that turn V8 outcomes into struct ed_error. Only the .cc files of
 * isolates/ include this header (it includes V8); nothing outside isolates/ may.
 */
#ifndef EDGED_ISOLATES_SHIM_INT_H
#define EDGED_ISOLATES_SHIM_INT_H

#include <libplatform/libplatform.h>
#include <v8.h>

#include <atomic>
#include <memory>
#include <string>
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
    const size_t limit_;
    std::atomic<size_t> used_{0};
    std::atomic<size_t> heap_used_{0};
};

/* The process's platform (platform.cc); NULL before iso_platform_init. */
v8::Platform *platform();

/* Isolate data slot that points back at the struct iso_worker. */
constexpr uint32_t kWorkerSlot = 0;

/* Longest exception text or log line the shim copies out of an isolate. */
constexpr size_t kMaxMessage = 64 * 1024;

/* The JS runtime's private entry points (the files in isolates/js/ put them on `internals`). */
struct Hooks {
    v8::Global<v8::Function> dispatch;       /* (handler, env, method, url, headers, body) */
    v8::Global<v8::Function> response_parts; /* (value) -> [status, headers, body] | undefined */
    v8::Global<v8::Function> open_stream;    /* (stream) -> reader */
    v8::Global<v8::Function> read_chunk;     /* (reader) -> Promise<Uint8Array | null> */
    v8::Global<v8::Function> cancel_stream;  /* (reader, reason) */
    v8::Global<v8::Function> new_buffer;     /* (length) -> ArrayBuffer */

    void reset()
    {
        dispatch.Reset();
        response_parts.Reset();
        open_stream.Reset();
        read_chunk.Reset();
        cancel_stream.Reset();
        new_buffer.Reset();
    }
};

/* A module of the bundle, kept for the resolver (and later for dynamic import). */
struct Module {
    std::string name;
    v8::Global<v8::Module> module;
    int hash;
};

} // namespace iso

struct iso_worker {
    v8::Isolate *isolate = nullptr;
    std::shared_ptr<iso::Allocator> allocator;
    size_t heap_limit = 0;
    uint32_t large_spaces = 0; /* bit i: heap space i holds large objects (check_heap) */
    v8::Global<v8::Context> context;
    v8::Global<v8::Object> handler; /* the main module's default export */
    v8::Global<v8::Object> env;
    iso::Hooks hooks;
    std::vector<iso::Module> modules;
    std::string link_error;   /* why the module resolver failed, for the message */
    std::string tenant, name; /* for messages */
    iso_log_cb log = nullptr;
    void *log_ud = nullptr;
    bool busy = false; /* a dispatch is running (reentrancy guard); owner thread only */

    /* Shared with iso_worker_terminate() on other threads. */
    pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
    bool running = false;            /* under run_lock: JS of this worker may be on the stack */
    std::atomic<int> stop_reason{0}; /* why the worker was stopped (retired), 0 while usable */
};

/* Opens what running JS in w needs: the isolate, a handle scope, w's context and a TryCatch
 * (named try_catch). Every entry point that touches JS starts with it. */
#define ISO_SCOPE(w)                                            \
    v8::Isolate *const isolate = (w)->isolate;                  \
    v8::Isolate::Scope isolate_scope_(isolate);                 \
    v8::HandleScope handle_scope_(isolate);                     \
    v8::Local<v8::Context> context = (w)->context.Get(isolate); \
    v8::Context::Scope context_scope_(context);                 \
    v8::TryCatch try_catch(isolate)

namespace iso {

/* Marks a stretch in which w runs JavaScript: iso_worker_terminate() stops w only inside one
 * (outside, there is nothing to stop and a pending termination would hit the next request). */
class RunScope {
  public:
    explicit RunScope(iso_worker *w);
    ~RunScope();
    RunScope(const RunScope &) = delete;
    RunScope &operator=(const RunScope &) = delete;

  private:
    iso_worker *w_;
};

/* V8 heap sizes for a worker limited to limit bytes. */
void set_heap_constraints(v8::ResourceConstraints *c, size_t limit);

/* Retires w if its live heap is over its limit (collecting garbage first when the heap looks
 * too large). Called at the end of a dispatch, outside any JavaScript. */
void check_heap(iso_worker *w);

/* Registers w's heap-limit and GC callbacks on its new isolate. */
void install_limits(iso_worker *w);

/* Retires w with reason (first reason wins) and terminates its JavaScript. When only_running,
 * does nothing unless w is inside a RunScope. Returns whether it acted. Any thread. */
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

/* Runs ready foreground tasks (GC finalisation and the like) for w's isolate. */
void pump(iso_worker *w);

/* ---- runtime.cc ---- */

/* Loads the runtime's .js files into w's (entered) context and fills w->hooks. */
int load_runtime(iso_worker *w, v8::Local<v8::Context> context, ed_error *err);

/* ---- modules.cc ---- */

/* Compiles, links and evaluates the bundle; on success returns the main module's default
 * export through *handler. */
int load_bundle(iso_worker *w, v8::Local<v8::Context> context, const struct iso_worker_config *cfg,
                v8::Local<v8::Object> *handler, ed_error *err);

/* ---- encoding.cc ---- */

/* Emits s as UTF-8 in pieces of at most about 64 KiB (lone surrogates as U+FFFD), without
 * materialising the whole encoding. Stops at and returns the first non-zero emit result. */
int utf8_pieces(v8::Isolate *isolate, v8::Local<v8::String> s,
                int (*emit)(void *ud, const uint8_t *data, size_t len), void *ud);

/* Bytes of a view: a pointer into its backing store, or, for a small on-heap typed array
 * (which has no backing store yet), a copy in scratch. Never allocates in V8. */
const uint8_t *view_bytes(v8::Local<v8::ArrayBufferView> view, std::vector<uint8_t> &scratch);

/* The native bindings: the `native` object of the runtime files. */
struct NativeFunction {
    const char *name;
    v8::FunctionCallback callback;
};
extern const NativeFunction kEncodingNatives[];
extern const NativeFunction kConsoleNatives[];

} // namespace iso

#endif
