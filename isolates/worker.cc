/*
 * A worker instance: one isolate with its heap limit and counting allocator, one context with
 * the runtime loaded, the bundle evaluated, and the pieces each dispatch needs (the main
 * module's default export, the frozen env). Code generation from strings (eval, new Function)
 * is allowed while the modules' top level runs and disabled afterwards, as in Cloudflare
 * Workers: request-time code must be code the tenant deployed.
 */
#include <cstring>
#include <new>

#include "isolates/shim_int.h"

namespace {

constexpr size_t kDefaultHeapLimit = 128u << 20;

/* Arms cfg->watch around the evaluation of the bundle, disarms on every way out. */
class WatchScope {
  public:
    WatchScope(const iso_worker_config *cfg, iso_worker *w) : slot_(cfg->watch)
    {
        if (slot_)
            iso_watch_arm(slot_, w, cfg->cpu_budget_ns, cfg->wall_budget_ns);
    }
    ~WatchScope()
    {
        if (slot_)
            iso_watch_disarm(slot_);
    }
    WatchScope(const WatchScope &) = delete;
    WatchScope &operator=(const WatchScope &) = delete;

  private:
    iso_watch_slot *slot_;
};

int make_env(iso_worker *w, v8::Local<v8::Context> context, const iso_worker_config *cfg,
             v8::Local<v8::Object> *out, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Object> env = v8::Object::New(isolate);
    for (size_t i = 0; i < cfg->n_vars; i++) {
        const iso_var &var = cfg->vars[i];
        if (!var.name)
            return ed_error_set(err, ED_EINVAL, "env var %zu has no name", i);
        const char *value = var.value ? var.value : "";
        v8::Local<v8::String> name, text;
        if (!iso::str(isolate, var.name, strlen(var.name)).ToLocal(&name) ||
            !iso::str(isolate, value, strlen(value)).ToLocal(&text) ||
            env->CreateDataProperty(context, name, text).IsNothing())
            return iso::js_failure(w, try_catch, ED_ENOMEM, "building env", err);
    }
    if (env->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen).IsNothing())
        return iso::js_failure(w, try_catch, ED_ENOMEM, "building env", err);
    *out = env;
    return 0;
}

int build(iso_worker *w, const iso_worker_config *cfg, ed_error *err)
{
    w->tenant = cfg->tenant ? cfg->tenant : "";
    w->name = cfg->worker ? cfg->worker : "";
    w->log = cfg->log;
    w->log_ud = cfg->log_ud;
    w->heap_limit = cfg->heap_limit_bytes ? cfg->heap_limit_bytes : kDefaultHeapLimit;
    w->allocator = std::make_shared<iso::Allocator>(w->heap_limit);

    v8::Isolate::CreateParams params;
    params.array_buffer_allocator_shared = w->allocator;
    iso::set_heap_constraints(&params.constraints, w->heap_limit);
    w->isolate = v8::Isolate::New(params);
    if (!w->isolate)
        return ed_error_set(err, ED_ENOMEM, "cannot create an isolate");
    v8::Isolate *isolate = w->isolate;
    isolate->SetData(iso::kWorkerSlot, w);
    isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
    iso::install_limits(w);

    v8::Isolate::Scope isolate_scope(isolate);
    v8::HandleScope handle_scope(isolate);
    v8::Local<v8::Context> context = v8::Context::New(isolate);
    if (context.IsEmpty())
        return w->stop_reason ? iso::stopped(w, err)
                              : ed_error_set(err, ED_ENOMEM, "cannot create a context");
    w->context.Reset(isolate, context);
    v8::Context::Scope context_scope(context);

    WatchScope watch(cfg, w);
    iso::RunScope run(w);
    int rc = iso::load_runtime(w, context, err);
    if (rc)
        return rc;
    v8::Local<v8::Object> handler, env;
    rc = iso::load_bundle(w, context, cfg, &handler, err);
    if (rc)
        return rc;
    rc = make_env(w, context, cfg, &env, err);
    if (rc)
        return rc;
    w->handler.Reset(isolate, handler);
    w->env.Reset(isolate, env);
    context->AllowCodeGenerationFromStrings(false);
    iso::pump(w);
    iso::check_heap(w);
    return iso::stopped(w, err);
}

} // namespace

extern "C" int iso_worker_new(const struct iso_worker_config *cfg, struct iso_worker **out,
                              struct ed_error *err) noexcept
{
    if (!cfg || !out)
        return ed_error_set(err, ED_EINVAL, "iso_worker_new: no config or no out pointer");
    if (!iso::platform())
        return ed_error_set(err, ED_EINVAL, "iso_worker_new: the V8 platform is not started");
    iso_worker *w = new (std::nothrow) iso_worker();
    if (!w)
        return ed_error_set(err, ED_ENOMEM, "out of memory creating a worker");
    int rc;
    try {
        rc = build(w, cfg, err);
    } catch (...) {
        /* std::bad_alloc or std::length_error from a container: nothing else throws */
        rc = ed_error_set(err, ED_ENOMEM, "out of memory creating a worker");
    }
    if (rc) {
        iso_worker_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

extern "C" void iso_worker_free(struct iso_worker *w) noexcept
{
    if (!w)
        return;
    if (w->isolate) {
        /* Handles first: a Global must die before its isolate. */
        w->handler.Reset();
        w->env.Reset();
        w->hooks.reset();
        w->modules.clear();
        w->context.Reset();
        v8::platform::NotifyIsolateShutdown(iso::platform(), w->isolate);
        w->isolate->Dispose();
    }
    pthread_mutex_destroy(&w->run_lock);
    delete w;
}
