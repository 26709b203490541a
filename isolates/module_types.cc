/*
 * The modules of a bundle that are not ES modules, and the built-in ones. CommonJS, text,
 * data and JSON modules (the types of Workers' upload format and the Worker Loader) become V8
 * synthetic modules whose default export is their value: the text as a string, the bytes as an
 * ArrayBuffer, the parsed JSON, or a CommonJS module's `module.exports` (its code runs when
 * the module is first imported or required, once). A CommonJS module's `require` reaches the
 * bundle's other modules by the same names imports use. "cloudflare:workers" is built in:
 * WorkerEntrypoint, RpcTarget and DurableObject from the runtime (isolates/js/
 * 15_cloudflare_workers.js), and the worker's env.
 */
#include <cstring>

#include "isolates/shim_int.h"

namespace iso {

namespace {

const char *const kCloudflareWorkers = "cloudflare:workers";
const char *const kCfExports[] = {"WorkerEntrypoint", "RpcTarget", "DurableObject", "env"};

iso_worker *worker_of(v8::Isolate *isolate)
{
    return static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
}

void throw_error(v8::Isolate *isolate, const std::string &msg)
{
    v8::Local<v8::String> s;
    if (!str(isolate, msg.data(), msg.size()).ToLocal(&s))
        s = str(isolate, "module error");
    isolate->ThrowException(v8::Exception::Error(s));
}

v8::MaybeLocal<v8::Value> cf_export(iso_worker *w, v8::Local<v8::Context> context, const char *name)
{
    v8::Isolate *isolate = w->isolate;
    if (strcmp(name, "env") == 0)
        return w->env.IsEmpty() ? v8::Local<v8::Value>(v8::Undefined(isolate))
                                : v8::Local<v8::Value>(w->env.Get(isolate));
    v8::Local<v8::Value> classes;
    if (!w->internals.Get(isolate)
             ->Get(context, str(isolate, "cloudflareWorkers"))
             .ToLocal(&classes) ||
        !classes->IsObject())
        return {};
    return classes.As<v8::Object>()->Get(context, str(isolate, name));
}

v8::MaybeLocal<v8::Value> run_cjs(iso_worker *w, v8::Local<v8::Context> context, size_t index);

/* require(specifier) inside CommonJS module number Data(). */
void require(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    if (!info[0]->IsString())
        return throw_error(isolate, "require: the module name must be a string");
    try {
        size_t from = (size_t)info.Data().As<v8::Int32>()->Value();
        std::string spec = utf8(isolate, info[0].As<v8::String>(), 1024);
        if (spec == kCloudflareWorkers) {
            v8::Local<v8::Object> o = v8::Object::New(isolate);
            for (const char *name : kCfExports) {
                v8::Local<v8::Value> v;
                if (!cf_export(w, context, name).ToLocal(&v) ||
                    o->Set(context, str(isolate, name), v).IsNothing())
                    return;
            }
            return info.GetReturnValue().Set(o);
        }
        const std::string &from_name = w->modules[from].name;
        Module *m = find_by_name(w, resolve_name(from_name, spec));
        if (!m)
            return throw_error(isolate, "Cannot find module '" + spec + "' from '" + from_name +
                                            "': it is not a module of this worker");
        v8::Local<v8::Value> v;
        switch (m->type) {
        case ISO_MODULE_CJS:
            if (run_cjs(w, context, (size_t)(m - w->modules.data())).ToLocal(&v))
                info.GetReturnValue().Set(v);
            return;
        case ISO_MODULE_TEXT:
        case ISO_MODULE_DATA:
        case ISO_MODULE_JSON:
            return info.GetReturnValue().Set(m->value.Get(isolate));
        case ISO_MODULE_ESM:
            break;
        }
        v8::Local<v8::Module> mod = m->module.Get(isolate);
        if (mod->GetStatus() != v8::Module::kEvaluated)
            return throw_error(isolate, "require() of ES module " + m->name +
                                            " before it was evaluated: use import instead");
        info.GetReturnValue().Set(mod->GetModuleNamespace());
    } catch (...) {
        throw_error(isolate, "out of memory in require()");
    }
}

v8::MaybeLocal<v8::Value> run_cjs(iso_worker *w, v8::Local<v8::Context> context, size_t index)
{
    v8::Isolate *isolate = w->isolate;
    Module *m = &w->modules[index];
    v8::Local<v8::Object> module;
    if (m->cjs_state != 0) { /* done, or a require cycle: the exports as they are now */
        return m->cjs_module.Get(isolate)->Get(context, str(isolate, "exports"));
    }
    module = v8::Object::New(isolate);
    v8::Local<v8::Object> exports = v8::Object::New(isolate);
    v8::Local<v8::Function> req;
    if (module->Set(context, str(isolate, "exports"), exports).IsNothing() ||
        !v8::Function::New(context, require, v8::Integer::New(isolate, (int32_t)index), 1,
                           v8::ConstructorBehavior::kThrow)
             .ToLocal(&req))
        return {};
    m->cjs_module.Reset(isolate, module);
    m->cjs_state = 1;
    v8::Local<v8::Value> args[] = {module, exports, req};
    if (m->cjs.Get(isolate)->Call(context, exports, 3, args).IsEmpty())
        return {};
    m = &w->modules[index];
    m->cjs_state = 2;
    return module->Get(context, str(isolate, "exports"));
}

v8::MaybeLocal<v8::Value> resolved(v8::Local<v8::Context> context)
{
    v8::Local<v8::Promise::Resolver> r;
    if (!v8::Promise::Resolver::New(context).ToLocal(&r) ||
        r->Resolve(context, v8::Undefined(context->GetIsolate())).IsNothing())
        return {};
    return r->GetPromise();
}

v8::MaybeLocal<v8::Value> evaluate_steps(iso_worker *w, v8::Local<v8::Context> context,
                                         v8::Local<v8::Module> module)
{
    v8::Isolate *isolate = w->isolate;
    if (!w->cf_module.IsEmpty() && w->cf_module.Get(isolate) == module) {
        for (const char *name : kCfExports) {
            v8::Local<v8::Value> v;
            if (!cf_export(w, context, name).ToLocal(&v) ||
                module->SetSyntheticModuleExport(isolate, str(isolate, name), v).IsNothing())
                return {};
        }
        return resolved(context);
    }
    Module *m = find_by_module(w, module);
    if (!m) {
        throw_error(isolate, "unknown synthetic module");
        return {};
    }
    v8::Local<v8::Value> v;
    if (m->type == ISO_MODULE_CJS) {
        if (!run_cjs(w, context, (size_t)(m - w->modules.data())).ToLocal(&v))
            return {};
    } else {
        v = m->value.Get(isolate);
    }
    if (module->SetSyntheticModuleExport(isolate, str(isolate, "default"), v).IsNothing())
        return {};
    return resolved(context);
}

/* V8 wants a failed evaluation to leave its exception pending, not scheduled by an API call:
 * catch it here and throw it again (what Node does for its synthetic modules). */
v8::MaybeLocal<v8::Value> evaluate(v8::Local<v8::Context> context, v8::Local<v8::Module> module)
{
    v8::Isolate *isolate = context->GetIsolate();
    v8::TryCatch try_catch(isolate);
    v8::MaybeLocal<v8::Value> result;
    try {
        result = evaluate_steps(worker_of(isolate), context, module);
    } catch (...) {
        throw_error(isolate, "out of memory evaluating a module");
    }
    if (try_catch.HasCaught() && !try_catch.HasTerminated()) {
        try_catch.ReThrow();
        return {};
    }
    return result;
}

int fail(iso_worker *w, v8::TryCatch &try_catch, const std::string &name, ed_error *err)
{
    int rc = stopped(w, err);
    if (rc)
        return rc;
    std::string where = location_of(w->isolate, try_catch.Message());
    return js_failure(w, try_catch, ED_EBADWORKER, (where.empty() ? name : where).c_str(), err);
}

} // namespace

int compile_synthetic(iso_worker *w, v8::Local<v8::Context> context, const iso_module &src,
                      Module *m, v8::TryCatch &try_catch, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    const std::string &name = m->name;
    m->type = src.type;
    v8::Local<v8::String> text, resource;
    if (!str(isolate, name.data(), name.size()).ToLocal(&resource) ||
        (src.type != ISO_MODULE_DATA &&
         !str(isolate, src.source ? src.source : "", src.source_len).ToLocal(&text)))
        return ed_error_set(err, ED_EBADWORKER, "%s: module is too large", name.c_str());
    switch (src.type) {
    case ISO_MODULE_TEXT:
        m->value.Reset(isolate, text);
        break;
    case ISO_MODULE_JSON: {
        v8::Local<v8::Value> v;
        if (!v8::JSON::Parse(context, text).ToLocal(&v))
            return fail(w, try_catch, name, err);
        m->value.Reset(isolate, v);
        break;
    }
    case ISO_MODULE_DATA: {
        v8::Local<v8::Value> n = v8::Number::New(isolate, (double)src.source_len), buffer;
        if (!w->hooks.new_buffer.Get(isolate)
                 ->Call(context, v8::Undefined(isolate), 1, &n)
                 .ToLocal(&buffer) ||
            !buffer->IsArrayBuffer())
            return fail(w, try_catch, name, err);
        if (src.source_len)
            memcpy(buffer.As<v8::ArrayBuffer>()->Data(), src.source, src.source_len);
        m->value.Reset(isolate, buffer);
        break;
    }
    case ISO_MODULE_CJS: {
        v8::ScriptOrigin origin(isolate, resource);
        CacheUse cache(ISO_MODULE_CJS, name, src.source, w->link_only ? 0 : src.source_len);
        v8::ScriptCompiler::Source source(text, origin, cache.data());
        v8::Local<v8::String> params[] = {str(isolate, "module"), str(isolate, "exports"),
                                          str(isolate, "require")};
        v8::Local<v8::Function> fn;
        if (!v8::ScriptCompiler::CompileFunction(context, &source, 3, params, 0, nullptr,
                                                 cache.options())
                 .ToLocal(&fn))
            return fail(w, try_catch, name, err);
        m->cjs.Reset(isolate, fn);
        cache.done(source, m);
        break;
    }
    case ISO_MODULE_ESM:
    default:
        return ed_error_set(err, ED_EBADWORKER, "%s: unknown module type %d", name.c_str(),
                            (int)src.type);
    }
    std::vector<v8::Local<v8::String>> names = {str(isolate, "default")};
    v8::Local<v8::Module> module =
        v8::Module::CreateSyntheticModule(isolate, resource, names, evaluate);
    m->module.Reset(isolate, module);
    m->hash = module->GetIdentityHash();
    return 0;
}

v8::MaybeLocal<v8::Module> builtin_module(iso_worker *w, v8::Local<v8::Context> context,
                                          const std::string &spec)
{
    (void)context;
    v8::Isolate *isolate = w->isolate;
    if (spec != kCloudflareWorkers)
        return {};
    if (w->cf_module.IsEmpty()) {
        std::vector<v8::Local<v8::String>> names;
        for (const char *name : kCfExports)
            names.push_back(str(isolate, name));
        w->cf_module.Reset(
            isolate, v8::Module::CreateSyntheticModule(isolate, str(isolate, kCloudflareWorkers),
                                                       names, evaluate));
    }
    return w->cf_module.Get(isolate);
}

} // namespace iso
