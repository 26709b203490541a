/*
 * Loads the JavaScript runtime (the files of isolates/js/, embedded in name order) into a new
 * context. Each file is a classic script whose completion value is a function; it is called
 * with two null-prototype objects that only the runtime and the shim hold: `internals` (shared
 * between the files, and where the shim finds its entry points afterwards) and `native` (the
 * C++ bindings). Tenant code sees only the globals the files expose.
 *
 * Compiling the runtime is most of a new worker's cost, so the first worker of the process
 * leaves V8 code caches behind (taken once the worker is built, so they include what the
 * files, env set-up and module loading compiled lazily) and every later worker, on any
 * thread, compiles from them. Both are the fallback: normally every isolate starts from the
 * runtime snapshot (snapshot.cc), whose context ran these files already, with the functions a
 * child's first calls run compiled (from a warmed-up child's code caches, Compile::kWarm), and
 * load_runtime only picks up the hooks. The lazy files (lazy.cc) are not run here: their
 * placeholders are installed instead, and a file runs when a worker first uses what it defines.
 */
#include <atomic>
#include <cstring>
#include <mutex>

#include "isolates/shim_int.h"

namespace iso {

const NativeFunction *const kNativeTables[] = {kEncodingNatives, kConsoleNatives, kCallNatives,
                                               kCryptoNatives,   kTimerNatives,   kFetchNatives,
                                               kStreamNatives,   kObjectNatives};
const size_t kNumNativeTables = sizeof kNativeTables / sizeof kNativeTables[0];

v8::MaybeLocal<v8::Object> make_natives(v8::Local<v8::Context> context, const char *file,
                                        v8::Local<v8::Value> proto)
{
    v8::Isolate *isolate = context->GetIsolate();
    v8::Local<v8::Object> native = v8::Object::New(isolate, proto, nullptr, nullptr, 0);
    for (const NativeFunction *table : kNativeTables) {
        for (const NativeFunction *f = table; f->name; f++) {
            if (file ? !f->lazy_file || strcmp(f->lazy_file, file) != 0 : f->lazy_file != nullptr)
                continue;
            v8::Local<v8::Function> fn;
            if (!v8::Function::New(context, f->callback, v8::Local<v8::Value>(), 0,
                                   v8::ConstructorBehavior::kThrow)
                     .ToLocal(&fn) ||
                native->CreateDataProperty(context, str(isolate, f->name), fn).IsNothing())
                return {};
        }
    }
    return native;
}

bool has_lazy_natives(const char *file)
{
    for (const NativeFunction *table : kNativeTables)
        for (const NativeFunction *f = table; f->name; f++)
            if (f->lazy_file && strcmp(f->lazy_file, file) == 0)
                return true;
    return false;
}

namespace {

/* A runtime file's text as an external string: V8 reads it where it is embedded instead of
 * copying it into the heap. Listed among the snapshot's external references (source_refs), it
 * also keeps the text out of the snapshot: every isolate made from it refers to the embedded
 * copy instead of deserializing its own (85 KB of source per child otherwise). One-byte strings
 * are Latin-1, so only an all-ASCII file can be one; another would be copied (as UTF-8). */
class Source final : public v8::String::ExternalOneByteStringResource {
  public:
    const char *data() const override
    {
        return file_->source;
    }
    size_t length() const override
    {
        return file_->len;
    }
    void Dispose() override
    {
        /* static: never freed */
    }
    void init(const iso__js_file *file)
    {
        file_ = file;
        ascii_ = true;
        for (size_t i = 0; i < file->len; i++)
            ascii_ = ascii_ && (unsigned char)file->source[i] < 0x80;
    }
    bool ascii() const
    {
        return ascii_;
    }

  private:
    const iso__js_file *file_ = nullptr;
    bool ascii_ = false;
};

/* One per runtime file, made on first use and never freed (V8 may point at them until exit). */
Source *sources()
{
    static Source *s = [] {
        auto *a = new Source[iso__runtime_n_files ? iso__runtime_n_files : 1];
        for (size_t i = 0; i < iso__runtime_n_files; i++)
            a[i].init(&iso__runtime_files[i]);
        return a;
    }();
    return s;
}

/* One code cache per runtime file; written once under lock, then only read. */
struct CodeCache {
    std::mutex lock;
    std::atomic<bool> ready{false};
    std::vector<std::unique_ptr<v8::ScriptCompiler::CachedData>> files;
};
CodeCache g_cache;

/* scripts: one per runtime file, empty for a lazy file (whose cache lazy.cc keeps). */
void save_code_cache(const std::vector<v8::Local<v8::UnboundScript>> &scripts)
{
    std::lock_guard<std::mutex> guard(g_cache.lock);
    if (g_cache.ready.load(std::memory_order_relaxed))
        return;
    for (const v8::Local<v8::UnboundScript> &script : scripts)
        g_cache.files.emplace_back(script.IsEmpty() ? nullptr
                                                    : v8::ScriptCompiler::CreateCodeCache(script));
    g_cache.ready.store(true, std::memory_order_release);
}

/* A borrowed view of file i's cache for one compile (the Source owns the view), or nullptr. */
v8::ScriptCompiler::CachedData *cached(size_t i)
{
    if (!g_cache.ready.load(std::memory_order_acquire) || i >= g_cache.files.size() ||
        !g_cache.files[i])
        return nullptr;
    const v8::ScriptCompiler::CachedData &c = *g_cache.files[i];
    return new v8::ScriptCompiler::CachedData(c.data, c.length);
}

bool get_hook(v8::Isolate *isolate, v8::Local<v8::Context> context, v8::Local<v8::Object> internals,
              const char *name, v8::Global<v8::Function> *out)
{
    v8::Local<v8::Value> v;
    if (!internals->Get(context, str(isolate, name)).ToLocal(&v) || !v->IsFunction())
        return false;
    out->Reset(isolate, v.As<v8::Function>());
    return true;
}

/* Compiles and runs runtime file i, then calls the function it evaluates to. */
int run_file(iso_worker *w, v8::Local<v8::Context> context, size_t i, v8::Local<v8::Value> *args,
             Compile how, const CodeCaches *warm, v8::TryCatch &try_catch,
             std::vector<v8::Local<v8::UnboundScript>> *scripts, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    std::string name = std::string("edged:runtime/") + iso__runtime_files[i].name;
    v8::Local<v8::String> source;
    if (!runtime_source(isolate, i).ToLocal(&source))
        return ed_error_set(err, ED_ENOMEM, "%s: cannot load", name.c_str());
    v8::ScriptOrigin origin(isolate, runtime_name(isolate, i));
    v8::ScriptCompiler::CachedData *cache = nullptr;
    if (how == Compile::kWarm && warm && i < warm->size() && (*warm)[i])
        cache = new v8::ScriptCompiler::CachedData((*warm)[i]->data, (*warm)[i]->length);
    else if (how == Compile::kLazy)
        cache = cached(i);
    v8::ScriptCompiler::Source src(source, origin, cache);
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> result;
    if (!v8::ScriptCompiler::Compile(context, &src,
                                     how == Compile::kEager ? v8::ScriptCompiler::kEagerCompile
                                     : cache                ? v8::ScriptCompiler::kConsumeCodeCache
                                                            : v8::ScriptCompiler::kNoCompileOptions)
             .ToLocal(&script) ||
        !script->Run(context).ToLocal(&result))
        return js_failure(w, try_catch, ED_EINVAL, name.c_str(), err);
    if (!result->IsFunction())
        return ed_error_set(err, ED_EINVAL, "%s: does not evaluate to a function", name.c_str());
    if (result.As<v8::Function>()->Call(context, v8::Undefined(isolate), 2, args).IsEmpty())
        return js_failure(w, try_catch, ED_EINVAL, name.c_str(), err);
    scripts->push_back(script->GetUnboundScript());
    return 0;
}

} // namespace

v8::MaybeLocal<v8::String> runtime_source(v8::Isolate *isolate, size_t i)
{
    Source *ext = &sources()[i];
    if (ext->ascii())
        return v8::String::NewExternalOneByte(isolate, ext);
    return str(isolate, iso__runtime_files[i].source, iso__runtime_files[i].len);
}

v8::Local<v8::String> runtime_name(v8::Isolate *isolate, size_t i)
{
    std::string name = std::string("edged:runtime/") + iso__runtime_files[i].name;
    return str(isolate, name.c_str());
}

void source_refs(std::vector<intptr_t> *refs)
{
    for (size_t i = 0; i < iso__runtime_n_files; i++)
        if (sources()[i].ascii())
            refs->push_back(reinterpret_cast<intptr_t>(&sources()[i]));
}

int run_runtime(iso_worker *w, v8::Local<v8::Context> context, Compile how, const CodeCaches *warm,
                v8::Local<v8::Object> *out, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Object> internals =
        v8::Object::New(isolate, v8::Null(isolate), nullptr, nullptr, 0);
    v8::Local<v8::Object> native;
    if (!make_natives(context, nullptr, v8::Null(isolate)).ToLocal(&native))
        return js_failure(w, try_catch, ED_ENOMEM, "creating the runtime's bindings", err);

    v8::Local<v8::Value> args[] = {internals, native};
    std::vector<v8::Local<v8::UnboundScript>> scripts;
    int rc = install_lazy(w, context, internals, native, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < iso__runtime_n_files; i++) {
        if (lazy_file(i)) {
            scripts.emplace_back();
            continue;
        }
        rc = run_file(w, context, i, args, how, warm, try_catch, &scripts, err);
        if (rc)
            return rc;
    }
    /* What an eager file uses of a lazy one while the runtime is made would be made with it
     * (into the snapshot, for every isolate): it must wait for a worker's first use. */
    if (w->lazy_loaded)
        return ed_error_set(err, ED_EINVAL, "a runtime file used %s while the runtime was made",
                            lazy_loaded_name(w));
    if (w->keep_scripts || !g_cache.ready.load(std::memory_order_acquire)) {
        w->runtime_scripts.resize(iso__runtime_n_files);
        for (size_t i = 0; i < iso__runtime_n_files; i++)
            if (!scripts[i].IsEmpty())
                w->runtime_scripts[i].Reset(isolate, scripts[i]);
    }
    *out = internals;
    return 0;
}

int load_runtime(iso_worker *w, v8::Local<v8::Context> context, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Object> internals;
    if (w->from_snapshot) {
        /* The snapshot's context ran the runtime already; its internals are data slot 0. */
        if (!context->GetDataFromSnapshotOnce<v8::Object>(0).ToLocal(&internals))
            return ed_error_set(err, ED_EINVAL, "the runtime snapshot has no internals");
    } else {
        int rc = run_runtime(w, context, Compile::kLazy, nullptr, &internals, err);
        if (rc)
            return rc;
    }

    iso::Hooks &h = w->hooks;
    if (!get_hook(isolate, context, internals, "dispatch", &h.dispatch) ||
        !get_hook(isolate, context, internals, "responseParts", &h.response_parts) ||
        !get_hook(isolate, context, internals, "newBuffer", &h.new_buffer) ||
        !get_hook(isolate, context, internals, "setup", &h.setup) ||
        !get_hook(isolate, context, internals, "invoke", &h.invoke) ||
        !get_hook(isolate, context, internals, "callExport", &h.call_export) ||
        !get_hook(isolate, context, internals, "describeError", &h.describe_error) ||
        !get_hook(isolate, context, internals, "callError", &h.call_error) ||
        !get_hook(isolate, context, internals, "encode", &h.encode) ||
        !get_hook(isolate, context, internals, "revive", &h.revive))
        return js_failure(w, try_catch, ED_EINVAL, "the runtime lacks an entry point", err);
    w->internals.Reset(isolate, internals);
    return 0;
}

bool stream_hooks(iso_worker *w, v8::Local<v8::Context> context)
{
    iso::Hooks &h = w->hooks;
    if (!h.open_stream.IsEmpty() && !h.read_chunk.IsEmpty() && !h.cancel_stream.IsEmpty())
        return true;
    v8::Isolate *isolate = w->isolate;
    v8::Local<v8::Value> streams;
    /* reading it runs the file (which may throw) */
    if (!w->internals.Get(isolate)->Get(context, str(isolate, "streams")).ToLocal(&streams))
        return false;
    auto take = [&](const char *name, v8::Global<v8::Function> *out) {
        v8::Local<v8::Value> v;
        if (!streams.As<v8::Object>()->Get(context, str(isolate, name)).ToLocal(&v))
            return false;
        if (!v->IsFunction()) {
            isolate->ThrowException(
                v8::Exception::Error(str(isolate, "the runtime lacks its stream entry points")));
            return false;
        }
        out->Reset(isolate, v.As<v8::Function>());
        return true;
    };
    if (!streams->IsObject()) {
        isolate->ThrowException(
            v8::Exception::Error(str(isolate, "the runtime lacks its stream entry points")));
        return false;
    }
    return take("openStream", &h.open_stream) && take("readChunk", &h.read_chunk) &&
           take("cancelStream", &h.cancel_stream);
}

void save_runtime_cache(iso_worker *w)
{
    if (w->runtime_scripts.empty() || w->keep_scripts)
        return;
    if (!g_cache.ready.load(std::memory_order_acquire) &&
        w->runtime_scripts.size() == iso__runtime_n_files) {
        v8::HandleScope scope(w->isolate);
        std::vector<v8::Local<v8::UnboundScript>> scripts;
        for (size_t i = 0; i < iso__runtime_n_files; i++)
            scripts.push_back(lazy_file(i) ? v8::Local<v8::UnboundScript>()
                                           : w->runtime_scripts[i].Get(w->isolate));
        save_code_cache(scripts);
    }
    w->runtime_scripts.clear();
}

bool runtime_caches(iso_worker *w, CodeCaches *out)
{
    if (w->runtime_scripts.size() != iso__runtime_n_files)
        return false;
    v8::Isolate::Scope isolate_scope(w->isolate);
    v8::HandleScope scope(w->isolate);
    out->clear();
    for (size_t i = 0; i < iso__runtime_n_files; i++) {
        const v8::Global<v8::UnboundScript> &g = w->runtime_scripts[i];
        if (g.IsEmpty()) { /* a lazy file this worker did not load */
            out->emplace_back();
            continue;
        }
        out->emplace_back(v8::ScriptCompiler::CreateCodeCache(g.Get(w->isolate)));
        if (!out->back())
            return false;
    }
    return true;
}

} // namespace iso
