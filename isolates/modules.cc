/*
 * A worker's bundle: every module is compiled up front (so a syntax error anywhere is reported
 * at deploy, not at first import; modules of other types go through module_types.cc), imports
 * are resolved by name within the bundle ("./x.js" and "../lib/x.js" relative to the importing
 * module, bare names as they are) or to a built-in ("cloudflare:workers"), the main module is
 * instantiated and evaluated with its graph, and top-level await is driven by the microtask
 * queue. Nothing outside the bundle can be imported: there is no file system or network behind
 * the resolver.
 */
#include "isolates/shim_int.h"

namespace iso {

std::string resolve_name(const std::string &referrer, const std::string &specifier)
{
    std::vector<std::string> parts;
    std::string rest = specifier;
    bool relative = specifier.rfind("./", 0) == 0 || specifier.rfind("../", 0) == 0;
    if (relative) {
        size_t slash = referrer.rfind('/');
        if (slash != std::string::npos)
            rest = referrer.substr(0, slash + 1) + specifier;
    }
    size_t start = 0;
    while (start <= rest.size()) {
        size_t end = rest.find('/', start);
        if (end == std::string::npos)
            end = rest.size();
        std::string seg = rest.substr(start, end - start);
        if (seg == "..") {
            if (parts.empty())
                return "";
            parts.pop_back();
        } else if (!seg.empty() && seg != ".") {
            parts.push_back(seg);
        }
        start = end + 1;
    }
    std::string out;
    for (const std::string &p : parts)
        out += (out.empty() ? "" : "/") + p;
    return out;
}

Module *find_by_name(iso_worker *w, const std::string &name)
{
    for (Module &m : w->modules)
        if (m.name == name)
            return &m;
    return nullptr;
}

Module *find_by_module(iso_worker *w, v8::Local<v8::Module> module)
{
    int hash = module->GetIdentityHash();
    for (Module &m : w->modules)
        if (m.hash == hash && m.module.Get(w->isolate) == module)
            return &m;
    return nullptr;
}

namespace {

v8::MaybeLocal<v8::Module> resolve_or_throw(v8::Local<v8::Context> context,
                                            v8::Local<v8::String> specifier,
                                            v8::Local<v8::Module> referrer)
{
    v8::Isolate *isolate = context->GetIsolate();
    auto *w = static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
    const Module *from = find_by_module(w, referrer);
    std::string from_name = from ? from->name : "?";
    std::string spec = utf8(isolate, specifier, 1024);
    v8::Local<v8::Module> builtin;
    if (builtin_module(w, context, spec).ToLocal(&builtin))
        return builtin;
    std::string resolved = resolve_name(from_name, spec);
    const Module *target = find_by_name(w, resolved);
    if (target)
        return target->module.Get(isolate);
    w->link_error =
        from_name + " imports \"" + spec + "\", which is " +
        (resolved.empty() ? "outside the worker's bundle" : "not a module of this worker");
    v8::Local<v8::String> text;
    if (str(isolate, w->link_error.data(), w->link_error.size()).ToLocal(&text))
        isolate->ThrowException(v8::Exception::Error(text));
    return {};
}

v8::MaybeLocal<v8::Module> resolve(v8::Local<v8::Context> context, v8::Local<v8::String> specifier,
                                   v8::Local<v8::FixedArray>, v8::Local<v8::Module> referrer)
{
    try {
        return resolve_or_throw(context, specifier, referrer);
    } catch (...) {
        /* No C++ exception may unwind through V8's frames. */
        v8::Isolate *isolate = context->GetIsolate();
        isolate->ThrowException(
            v8::Exception::Error(str(isolate, "out of memory resolving an import")));
        return {};
    }
}

int compile(iso_worker *w, v8::Local<v8::Context> context, const iso_module &m,
            v8::TryCatch &try_catch, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    if (!m.name || !*m.name || (!m.source && m.source_len))
        return ed_error_set(err, ED_EBADWORKER, "a module has no name or no source");
    std::string name = m.name;
    if (find_by_name(w, name))
        return ed_error_set(err, ED_EBADWORKER, "two modules are named %s", m.name);
    if (m.type != ISO_MODULE_ESM) {
        Module synthetic;
        synthetic.name = name;
        int rc = compile_synthetic(w, context, m, &synthetic, try_catch, err);
        if (rc == 0)
            w->modules.push_back(std::move(synthetic));
        return rc;
    }
    v8::Local<v8::String> source, resource;
    if (!str(isolate, m.source ? m.source : "", m.source_len).ToLocal(&source) ||
        !str(isolate, name.data(), name.size()).ToLocal(&resource))
        return ed_error_set(err, ED_EBADWORKER, "%s: module is too large", m.name);
    v8::ScriptOrigin origin(isolate, resource, 0, 0, false, -1, v8::Local<v8::Value>(), false,
                            false, true);
    /* a check (link_only) leaves the code cache and its counters as it found them */
    CacheUse cache(ISO_MODULE_ESM, name, m.source, w->link_only ? 0 : m.source_len);
    v8::ScriptCompiler::Source src(source, origin, cache.data());
    v8::Local<v8::Module> module;
    if (!v8::ScriptCompiler::CompileModule(isolate, &src, cache.options()).ToLocal(&module)) {
        int rc = stopped(w, err);
        if (rc)
            return rc;
        std::string where = location_of(isolate, try_catch.Message());
        return js_failure(w, try_catch, ED_EBADWORKER, (where.empty() ? name : where).c_str(), err);
    }
    Module entry;
    entry.name = name;
    entry.module.Reset(isolate, module);
    entry.hash = module->GetIdentityHash();
    cache.done(src, &entry);
    w->modules.push_back(std::move(entry));
    return 0;
}

/* Runs the microtask queue until a module's evaluation promise settles (top-level await). */
int await_evaluation(iso_worker *w, const std::string &main, v8::Local<v8::Value> result,
                     ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    isolate->PerformMicrotaskCheckpoint();
    int rc = stopped(w, err);
    if (rc)
        return rc;
    if (!result->IsPromise())
        return 0;
    v8::Local<v8::Promise> promise = result.As<v8::Promise>();
    switch (promise->State()) {
    case v8::Promise::kFulfilled:
        return 0;
    case v8::Promise::kPending:
        return ed_error_set(err, ED_EBADWORKER,
                            "%s: top-level await never settled (no I/O is possible at startup)",
                            main.c_str());
    case v8::Promise::kRejected:
        break;
    }
    std::string text = exception_text(isolate, promise->Result());
    return ed_error_set(err, ED_EBADWORKER, "uncaught exception while evaluating %s: %s",
                        main.c_str(), text.c_str());
}

} // namespace

int load_bundle(iso_worker *w, v8::Local<v8::Context> context, const struct iso_worker_config *cfg,
                ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    v8::TryCatch try_catch(isolate);
    if (cfg->n_modules == 0 || !cfg->modules)
        return ed_error_set(err, ED_EBADWORKER, "the worker has no modules");
    for (size_t i = 0; i < cfg->n_modules; i++) {
        int rc = compile(w, context, cfg->modules[i], try_catch, err);
        if (rc)
            return rc;
    }
    std::string main = cfg->main_module ? cfg->main_module : "";
    const Module *m = find_by_name(w, main);
    if (!m)
        return ed_error_set(err, ED_EBADWORKER,
                            "main module \"%s\" is not among the worker's modules", main.c_str());
    v8::Local<v8::Module> module = m->module.Get(isolate);
    if (module->InstantiateModule(context, resolve).IsNothing()) {
        if (!w->link_error.empty() && !w->stop_reason.load())
            return ed_error_set(err, ED_EBADWORKER, "%s", w->link_error.c_str());
        std::string where = location_of(isolate, try_catch.Message());
        return js_failure(w, try_catch, ED_EBADWORKER, (where.empty() ? main : where).c_str(), err);
    }
    if (w->link_only)
        return check_object_classes(w, context, module->GetModuleNamespace().As<v8::Object>(), cfg,
                                    err);
    v8::Local<v8::Value> result;
    if (!module->Evaluate(context).ToLocal(&result)) {
        std::string what = "uncaught exception while evaluating " + main;
        return js_failure(w, try_catch, ED_EBADWORKER, what.c_str(), err);
    }
    int rc = await_evaluation(w, main, result, err);
    if (rc)
        return rc;

    v8::Local<v8::Value> def, fetch;
    v8::Local<v8::Object> ns = module->GetModuleNamespace().As<v8::Object>();
    if (!ns->Get(context, str(isolate, "default")).ToLocal(&def))
        return js_failure(w, try_catch, ED_EBADWORKER, main.c_str(), err);
    w->ns.Reset(isolate, ns);
    w->handler.Reset(isolate, def);
    rc = check_object_classes(w, context, ns, cfg, err);
    if (rc)
        return rc;
    if (cfg->child)
        return 0; /* any entrypoint will do; a missing one is reported when it is called */
    /* An object with fetch(), or a class (WorkerEntrypoint) whose instances have one. */
    v8::Local<v8::Value> holder = def;
    if (def->IsFunction() &&
        !def.As<v8::Object>()->Get(context, str(isolate, "prototype")).ToLocal(&holder))
        return js_failure(w, try_catch, ED_EBADWORKER, main.c_str(), err);
    if (!holder->IsObject() ||
        !holder.As<v8::Object>()->Get(context, str(isolate, "fetch")).ToLocal(&fetch))
        fetch = v8::Undefined(isolate);
    if (!fetch->IsFunction()) {
        if (try_catch.HasCaught() || try_catch.HasTerminated())
            return js_failure(w, try_catch, ED_EBADWORKER, main.c_str(), err);
        return ed_error_set(err, ED_EBADWORKER,
                            "main module \"%s\" has no default export with a fetch() method",
                            main.c_str());
    }
    return 0;
}

} // namespace iso
