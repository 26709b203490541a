/*
 * Lazy runtime files: runtime files that are not run when the runtime is made, so that the
 * startup snapshot, and so every isolate, holds none of their functions (each costs an isolate
 * its SharedFunctionInfo, scope info and closure whether it is used or not: Web Crypto and URL
 * were 120 KB of every idle child's RSS, streams, Blob, events, timers and fetch 170 KB) until a
 * worker first uses what they define. A child that answers fetch() and RPC calls with plain
 * values and bodies runs none. The eager files use what a lazy one defines only inside their
 * functions, never as they load; what they only ask about (is this value a stream, a Blob?) has
 * an eager answer that the file replaces when it runs (no stream exists before), and native
 * bindings only a lazy file calls are made when it runs (NativeFunction::lazy_file). The files
 * and the names each defines are listed once, in kLazyFiles. For each name, the runtime made
 * without them holds a placeholder: a native data property (no JavaScript function) on the
 * global object, not enumerable as a Web IDL global, or on `internals` for what the eager
 * files use of a lazy one (Request's URL parser). A placeholder looks like a data property:
 * reading it, `typeof`, or Object.getOwnPropertyDescriptor runs the file and answers its value,
 * and the file's internals.expose() and `internals.x = ...` replace the placeholders with plain
 * data properties; assigning to a global placeholder before that makes it a data property
 * with the worker's value, and `in`, delete and defineProperty work as on any configurable
 * property. A global the worker assigned or deleted before its file ran stays as the worker
 * left it (internals.runLazy in 00_internals.js skips it). A file runs through V8's code cache
 * of it, made once per process (by the snapshot's warm-up, which uses each lazy file the way
 * a worker usually does, else by the first isolate that ran it), so a later isolate's first
 * use compiles nothing it already ran. A file that throws while it runs (a stack overflow,
 * the memory limit) leaves its placeholders in place and throws to the use that ran it; the
 * next use runs it again.
 */
#include <cstring>
#include <memory>
#include <mutex>

#include "isolates/shim_int.h"

namespace iso {

namespace {

/* A lazy runtime file: its name in isolates/js/ and every name it defines, as a global
 * (through internals.expose) and on internals (as `internals.x = ...`); a name it defines and
 * does not list is an error when it runs. */
struct LazyFile {
    const char *file;
    const char *const *globals;
    const char *const *internals;
};

const char *const kNone[] = {nullptr};
const char *const kUrlGlobals[] = {"URL", "URLSearchParams", nullptr};
const char *const kUrlInternals[] = {"parseUrl", "URL", "URLSearchParams", "urlSearchParamsString",
                                     nullptr};
const char *const kCryptoGlobals[] = {"crypto", "Crypto", "SubtleCrypto", "CryptoKey", nullptr};

const char *const kLoaderInternals[] = {"newWorkerLoader", "facetClassCheck", "callFacet", nullptr};
const char *const kObjectsInternals[] = {"newObjectNamespace", "objectCall", nullptr};
const char *const kConsoleGlobals[] = {"console", nullptr};
const char *const kGlobalsGlobals[] = {"queueMicrotask", "atob", "btoa", "structuredClone",
                                       nullptr};
const char *const kDomExceptionGlobals[] = {"DOMException", nullptr};
const char *const kDomExceptionInternals[] = {"DOMException", nullptr};
const char *const kEventsGlobals[] = {"Event", "CustomEvent", "EventTarget", nullptr};
const char *const kEventsInternals[] = {"Event", "EventTarget", nullptr};
const char *const kTimersGlobals[] = {"setTimeout", "setInterval", "clearTimeout", "clearInterval",
                                      "scheduler",  "performance", "Performance",  nullptr};
const char *const kTimersInternals[] = {"setTimer", nullptr};
const char *const kAbortGlobals[] = {"AbortSignal", "AbortController", nullptr};
const char *const kAbortInternals[] = {"isAbortSignal", "signalAbort", "onAbort", nullptr};
const char *const kEncodingGlobals[] = {"TextEncoder", "TextDecoder", nullptr};
const char *const kEncodingInternals[] = {"TextDecoder", nullptr};
const char *const kStreamsGlobals[] = {"ReadableStream",
                                       "ReadableStreamDefaultReader",
                                       "ReadableStreamBYOBReader",
                                       "ReadableStreamDefaultController",
                                       "ReadableByteStreamController",
                                       "ReadableStreamBYOBRequest",
                                       "ByteLengthQueuingStrategy",
                                       "CountQueuingStrategy",
                                       nullptr};
const char *const kStreamsInternals[] = {"streams", nullptr};
const char *const kWritableGlobals[] = {"WritableStream", "WritableStreamDefaultWriter",
                                        "WritableStreamDefaultController", nullptr};
const char *const kWritableInternals[] = {"ws", nullptr};
const char *const kTransformGlobals[] = {"TransformStream",
                                         "TransformStreamDefaultController",
                                         "IdentityTransformStream",
                                         "FixedLengthStream",
                                         "TextEncoderStream",
                                         "TextDecoderStream",
                                         nullptr};
const char *const kBlobGlobals[] = {"Blob", "File", "FormData", nullptr};
const char *const kBlobInternals[] = {"blobs", nullptr};
const char *const kFetchGlobals[] = {"fetch", nullptr};
/* (A file may also replace an eager default on internals that it does not list: 00_internals.js's
 * isReadableStream, isBlob and isFormData answer false until 30_streams.js or 35_blob.js ran, and
 * 65_rpc.js's refuseClone null until 70_loader.js did, so asking never runs a file.) */
const LazyFile kLazyFiles[] = {
    {"03_domexception.js", kDomExceptionGlobals, kDomExceptionInternals},
    {"05_globals.js", kGlobalsGlobals, kNone},
    {"06_events.js", kEventsGlobals, kEventsInternals},
    {"07_timers.js", kTimersGlobals, kTimersInternals},
    {"08_abort.js", kAbortGlobals, kAbortInternals},
    {"10_encoding.js", kEncodingGlobals, kEncodingInternals},
    {"12_url.js", kUrlGlobals, kUrlInternals},
    {"30_streams.js", kStreamsGlobals, kStreamsInternals},
    {"31_writable.js", kWritableGlobals, kWritableInternals},
    {"32_transform.js", kTransformGlobals, kNone},
    {"35_blob.js", kBlobGlobals, kBlobInternals},
    {"45_crypto.js", kCryptoGlobals, kNone},
    {"67_objects.js", kNone, kObjectsInternals},
    {"70_loader.js", kNone, kLoaderInternals},
    {"75_fetch.js", kFetchGlobals, kNone},
    {"80_console.js", kConsoleGlobals, kNone},
};
constexpr size_t kNumLazy = sizeof kLazyFiles / sizeof kLazyFiles[0];
static_assert(kNumLazy <= 32, "lazy_loaded is a 32-bit mask");

/* Where each lazy file is among the embedded runtime files (SIZE_MAX: it is not). */
struct Index {
    size_t file[kNumLazy];
};

const Index &index()
{
    static const Index ix = [] {
        Index x;
        for (size_t k = 0; k < kNumLazy; k++) {
            x.file[k] = SIZE_MAX;
            for (size_t i = 0; i < iso__runtime_n_files; i++)
                if (strcmp(iso__runtime_files[i].name, kLazyFiles[k].file) == 0)
                    x.file[k] = i;
        }
        return x;
    }();
    return ix;
}

/* The process's code cache of each lazy file: set once, then only read (any thread). */
struct Cache {
    std::mutex lock;
    std::atomic<bool> ready{false};
    std::atomic<bool> warm{false}; /* the warm-up's */
    std::unique_ptr<v8::ScriptCompiler::CachedData> data;
};
Cache g_caches[kNumLazy];

/* replace: the warm-up's cache, which replaces the one its first use left (made before the
 * file's functions ran); it comes before any worker exists, so no compile is reading it. */
void publish(size_t k, std::unique_ptr<v8::ScriptCompiler::CachedData> data, bool replace)
{
    if (!data)
        return;
    std::lock_guard<std::mutex> guard(g_caches[k].lock);
    if (g_caches[k].ready.load(std::memory_order_relaxed) && !replace)
        return;
    g_caches[k].data = std::move(data);
    g_caches[k].warm.store(replace, std::memory_order_relaxed);
    g_caches[k].ready.store(true, std::memory_order_release);
}

/* A view of file k's code cache for one compile (the Source owns the view), or nullptr. */
v8::ScriptCompiler::CachedData *cache_view(size_t k)
{
    if (!g_caches[k].ready.load(std::memory_order_acquire))
        return nullptr;
    const v8::ScriptCompiler::CachedData &c = *g_caches[k].data;
    return new v8::ScriptCompiler::CachedData(c.data, c.length);
}

/* Where the loader finds `internals` and `native`: the context's embedder data (a
 * placeholder's data, k, must be a number: V8 puts accessors and their data in the snapshot's
 * part shared by all contexts, which cannot hold the context's objects). */
enum { kEmbedderInternals = 1, kEmbedderNative = 2, kEmbedderFrozen = 3 };

void on_get(v8::Local<v8::Name> name, const v8::PropertyCallbackInfo<v8::Value> &info);
void on_set(v8::Local<v8::Name> name, v8::Local<v8::Value> value,
            const v8::PropertyCallbackInfo<void> &info);

bool install_name(v8::Local<v8::Context> context, v8::Local<v8::Object> on, const char *name,
                  size_t k, v8::PropertyAttribute attributes)
{
    v8::Isolate *isolate = context->GetIsolate();
    return on
        ->SetNativeDataProperty(context, str(isolate, name), on_get, on_set,
                                v8::Integer::New(isolate, (int)k), attributes)
        .FromMaybe(false);
}

bool is_placeholder(v8::Local<v8::Context> context, v8::Local<v8::Object> on, const char *name)
{
    return on->HasRealNamedCallbackProperty(context, str(context->GetIsolate(), name))
        .FromMaybe(false);
}

void throw_error(v8::Isolate *isolate, const std::string &msg)
{
    isolate->ThrowException(v8::Exception::Error(str(isolate, msg.c_str())));
}

/* Puts back the placeholders of file k that a failed run replaced (pending: the globals that
 * were placeholders when it started). */
void reinstall(v8::Local<v8::Context> context, size_t k, v8::Local<v8::Object> internals,
               const std::vector<const char *> &pending)
{
    for (const char *name : pending)
        if (!is_placeholder(context, context->Global(), name))
            install_name(context, context->Global(), name, k, v8::DontEnum);
    for (const char *const *n = kLazyFiles[k].internals; *n; n++)
        if (!is_placeholder(context, internals, *n))
            install_name(context, internals, *n, k, v8::None);
}

/* Names on internals that file k added and does not list (its run added `added` names). */
std::string unlisted(v8::Local<v8::Context> context, v8::Local<v8::Array> before,
                     v8::Local<v8::Array> after)
{
    v8::Isolate *isolate = context->GetIsolate();
    std::string out;
    for (uint32_t j = 0; j < after->Length(); j++) {
        v8::Local<v8::Value> key;
        if (!after->Get(context, j).ToLocal(&key))
            continue;
        bool found = false;
        for (uint32_t m = 0; m < before->Length() && !found; m++) {
            v8::Local<v8::Value> old;
            found = before->Get(context, m).ToLocal(&old) && old->StrictEquals(key);
        }
        if (!found && key->IsString())
            out += (out.empty() ? "" : ", ") + utf8(isolate, key.As<v8::String>(), 200);
    }
    return out;
}

enum class Load { kDone, kRunning, kThrew };

/* Runs lazy file k in context unless it runs already (a use by the file itself: kRunning).
 * kThrew: an exception is pending. */
Load load(v8::Isolate *isolate, v8::Local<v8::Context> context, uint32_t k)
{
    auto *w = static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
    v8::Local<v8::Value> iv = context->GetEmbedderData(kEmbedderInternals);
    v8::Local<v8::Value> nv = context->GetEmbedderData(kEmbedderNative);
    if (!w || k >= kNumLazy || !iv->IsObject() || !nv->IsObject()) {
        throw_error(isolate, "a lazy runtime file was used outside a worker");
        return Load::kThrew;
    }
    const uint32_t bit = 1u << k;
    if (w->lazy_loaded & bit) /* a placeholder the worker froze */
        return Load::kDone;
    if (w->lazy_loading & bit)
        return Load::kRunning;
    const LazyFile &lf = kLazyFiles[k];
    const size_t i = index().file[k];
    v8::Local<v8::Object> internals = iv.As<v8::Object>();
    v8::Local<v8::Object> global = context->Global();

    /* What internals.expose does with each global of the file (see 00_internals.js): true,
     * define it (a placeholder); false, leave it (the worker's own); null, keep its value for
     * the placeholder to answer (a placeholder the worker froze, which cannot be replaced). */
    std::vector<const char *> pending, frozen;
    v8::Local<v8::Object> exposing =
        v8::Object::New(isolate, v8::Null(isolate), nullptr, nullptr, 0);
    for (const char *const *n = lf.globals; *n; n++) {
        v8::Local<v8::Value> mode = v8::False(isolate);
        v8::PropertyAttribute attributes;
        if (!is_placeholder(context, global, *n)) {
        } else if (global->GetRealNamedPropertyAttributes(context, str(isolate, *n))
                       .To(&attributes) &&
                   (attributes & v8::DontDelete)) {
            frozen.push_back(*n);
            mode = v8::Null(isolate);
        } else {
            pending.push_back(*n);
            mode = v8::True(isolate);
        }
        if (exposing->CreateDataProperty(context, str(isolate, *n), mode).IsNothing())
            return Load::kThrew;
    }

    v8::Local<v8::String> source;
    if (!runtime_source(isolate, i).ToLocal(&source)) {
        throw_error(isolate, std::string("cannot load lazy runtime file ") + lf.file);
        return Load::kThrew;
    }
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Value> run_lazy, fn, native = nv;
    v8::Local<v8::Array> before, after;
    v8::Local<v8::Script> script;
    v8::ScriptCompiler::CachedData *view = cache_view(k);
    v8::ScriptCompiler::Source src(source, v8::ScriptOrigin(isolate, runtime_name(isolate, i)),
                                   view);
    std::string problem;
    w->lazy_loading |= bit;
    /* the file's own bindings, over the eager ones */
    v8::Local<v8::Object> own;
    if (has_lazy_natives(lf.file)) {
        if (make_natives(context, lf.file, nv).ToLocal(&own))
            native = own;
        else
            native.Clear();
    }
    bool ok = !native.IsEmpty() &&
              internals->Get(context, str(isolate, "runLazy")).ToLocal(&run_lazy) &&
              run_lazy->IsFunction() &&
              internals->GetOwnPropertyNames(context, v8::ALL_PROPERTIES).ToLocal(&before) &&
              v8::ScriptCompiler::Compile(context, &src,
                                          view ? v8::ScriptCompiler::kConsumeCodeCache
                                               : v8::ScriptCompiler::kNoCompileOptions)
                  .ToLocal(&script) &&
              script->Run(context).ToLocal(&fn) && fn->IsFunction();
    if (ok) {
        v8::Local<v8::Value> args[] = {fn, exposing, native};
        ok = !run_lazy.As<v8::Function>()->Call(context, internals, 3, args).IsEmpty();
    }
    w->lazy_loading &= ~bit;
    if (ok && internals->GetOwnPropertyNames(context, v8::ALL_PROPERTIES).ToLocal(&after)) {
        for (const char *const *n = lf.internals; *n && problem.empty(); n++)
            if (is_placeholder(context, internals, *n))
                problem = std::string("it did not define internals.") + *n;
        if (problem.empty() && after->Length() != before->Length())
            problem = "it defined internals it does not list: " + unlisted(context, before, after);
    }
    v8::Local<v8::Value> store = context->GetEmbedderData(kEmbedderFrozen);
    for (const char *name : frozen) {
        v8::Local<v8::Value> kept;
        if (ok && problem.empty() &&
            (!exposing->Get(context, str(isolate, name)).ToLocal(&kept) || !kept->IsArray() ||
             !kept.As<v8::Array>()->Get(context, 0).ToLocal(&kept) || !store->IsObject() ||
             store.As<v8::Object>()
                 ->CreateDataProperty(context, str(isolate, name), kept)
                 .IsNothing()))
            ok = false;
    }
    if (!ok || !problem.empty()) {
        /* (all within try_catch, which hands the exception on as it goes) */
        if (!try_catch.HasCaught())
            throw_error(isolate,
                        std::string("lazy runtime file ") + lf.file + ": " +
                            (problem.empty() ? "does not evaluate to a function" : problem));
        if (!try_catch.HasTerminated())
            reinstall(context, k, internals, pending);
        try_catch.ReThrow();
        return Load::kThrew;
    }
    w->lazy_loaded |= bit;
    v8::Local<v8::UnboundScript> unbound = script->GetUnboundScript();
    if (w->keep_scripts) {
        if (w->runtime_scripts.size() < iso__runtime_n_files)
            w->runtime_scripts.resize(iso__runtime_n_files);
        w->runtime_scripts[i].Reset(isolate, unbound);
    }
    if (!view && !g_caches[k].ready.load(std::memory_order_acquire))
        publish(k,
                std::unique_ptr<v8::ScriptCompiler::CachedData>(
                    v8::ScriptCompiler::CreateCodeCache(unbound)),
                false);
    return Load::kDone;
}

void on_get(v8::Local<v8::Name> name, const v8::PropertyCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    if (!info.Data()->IsUint32() ||
        load(isolate, context, info.Data().As<v8::Uint32>()->Value()) != Load::kDone)
        return; /* thrown, or undefined while the file runs */
    v8::Local<v8::Object> holder = info.Holder();
    if (holder->HasRealNamedCallbackProperty(context, name).FromMaybe(true)) {
        /* a placeholder the worker froze answers its value; one its file did not define is a
         * runtime bug (and must not loop back here) */
        v8::Local<v8::Value> store = context->GetEmbedderData(kEmbedderFrozen), value;
        if (store->IsObject() &&
            store.As<v8::Object>()->HasOwnProperty(context, name).FromMaybe(false) &&
            store.As<v8::Object>()->Get(context, name).ToLocal(&value)) {
            info.GetReturnValue().Set(value);
            return;
        }
        throw_error(isolate, "a lazy runtime file did not define " +
                                 (name->IsString() ? utf8(isolate, name.As<v8::String>(), 200)
                                                   : std::string("a symbol")));
        return;
    }
    v8::Local<v8::Value> value;
    if (holder->Get(context, name).ToLocal(&value))
        info.GetReturnValue().Set(value);
}

/* A store into a placeholder: an assignment (by the worker before the file ran, or by the file
 * to internals), or Object.defineProperty with a value (internals.expose), which V8 hands to
 * the setter of a native data property after giving it the attributes asked for. The
 * placeholder becomes a plain data property with the value and those attributes (deleted
 * first: defining over it would call this setter again). */
void on_set(v8::Local<v8::Name> name, v8::Local<v8::Value> value,
            const v8::PropertyCallbackInfo<void> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    v8::Local<v8::Object> self = info.This();
    v8::PropertyAttribute attributes;
    if (!self->GetRealNamedPropertyAttributes(context, name).To(&attributes) ||
        !self->Delete(context, name).FromMaybe(false))
        return; /* thrown, or not ours to replace */
    if (self->DefineOwnProperty(context, name, value, attributes).IsNothing())
        return; /* thrown */
}

} // namespace

bool lazy_file(size_t i)
{
    for (size_t k = 0; k < kNumLazy; k++)
        if (index().file[k] == i)
            return true;
    return false;
}

int install_lazy(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Object> internals,
                 v8::Local<v8::Object> native, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    context->SetEmbedderData(kEmbedderInternals, internals);
    context->SetEmbedderData(kEmbedderNative, native);
    context->SetEmbedderData(kEmbedderFrozen,
                             v8::Object::New(isolate, v8::Null(isolate), nullptr, nullptr, 0));
    for (size_t k = 0; k < kNumLazy; k++) {
        const LazyFile &lf = kLazyFiles[k];
        if (index().file[k] == SIZE_MAX)
            return ed_error_set(err, ED_EINVAL, "lazy runtime file %s is not in isolates/js/",
                                lf.file);
        bool ok = true;
        for (const char *const *n = lf.globals; ok && *n; n++)
            ok = install_name(context, context->Global(), *n, k, v8::DontEnum);
        for (const char *const *n = lf.internals; ok && *n; n++)
            ok = install_name(context, internals, *n, k, v8::None);
        if (!ok)
            return ed_error_set(err, ED_ENOMEM, "cannot install the placeholders of %s", lf.file);
    }
    return 0;
}

const char *lazy_loaded_name(const iso_worker *w)
{
    for (size_t k = 0; k < kNumLazy; k++)
        if (w->lazy_loaded & (1u << k))
            return kLazyFiles[k].file;
    return "no lazy file";
}

void lazy_refs(std::vector<intptr_t> *refs)
{
    refs->push_back(reinterpret_cast<intptr_t>(on_get));
    refs->push_back(reinterpret_cast<intptr_t>(on_set));
}

void set_lazy_caches(CodeCaches *caches)
{
    for (size_t k = 0; k < kNumLazy; k++) {
        size_t i = index().file[k];
        if (i < caches->size() && (*caches)[i])
            publish(k, std::move((*caches)[i]), true);
    }
}

} // namespace iso

extern "C" bool iso__worker_lazy_loaded(const struct iso_worker *w, const char *file) noexcept
{
    for (size_t k = 0; k < iso::kNumLazy; k++)
        if (strcmp(iso::kLazyFiles[k].file, file) == 0)
            return (w->lazy_loaded >> k) & 1;
    return false;
}

extern "C" bool iso__lazy_cache_warm(const char *file) noexcept
{
    for (size_t k = 0; k < iso::kNumLazy; k++)
        if (strcmp(iso::kLazyFiles[k].file, file) == 0)
            return iso::g_caches[k].ready.load(std::memory_order_acquire) &&
                   iso::g_caches[k].warm.load(std::memory_order_relaxed);
    return false;
}

extern "C" void iso__lazy_caches_clear(void) noexcept
{
    for (iso::Cache &c : iso::g_caches) {
        std::lock_guard<std::mutex> guard(c.lock);
        c.ready.store(false, std::memory_order_release);
        c.warm.store(false, std::memory_order_relaxed);
        c.data.reset();
    }
}
