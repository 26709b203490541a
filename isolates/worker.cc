/*
 * A worker instance: one isolate with its heap limit and counting allocator, one context with
 * the runtime loaded, the bundle evaluated, and the pieces each invocation needs (the main
 * module's exports, the frozen env). Code generation from strings (eval, new Function) is
 * refused with an EvalError, as in Cloudflare Workers: request-time code must be code the
 * tenant deployed; the operator may allow it while the modules' top level runs
 * (--allow-eval-at-startup). Atomics.wait is refused too (with no SharedArrayBuffer it could
 * only block on nothing). A worker may be freed from inside its own
 * callbacks: it is then stopped at once and disposed when the shim's last frame using it
 * returns.
 */
#include <cstring>
#include <new>

#include "isolates/shim_int.h"

namespace {

/* env: the plain-text vars, a WorkerLoader per loader binding, and a child's env from its
 * parent (stubs included); the runtime's setup() also installs the global fetch() that
 * cfg->outbound calls for. */
int make_env(iso_worker *w, v8::Local<v8::Context> context, const iso_worker_config *cfg,
             ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    v8::TryCatch try_catch(isolate);
    std::vector<v8::Local<v8::Value>> vars, loaders, objects;
    for (size_t i = 0; i < cfg->n_vars; i++) {
        const iso_var &var = cfg->vars[i];
        if (!var.name)
            return ed_error_set(err, ED_EINVAL, "env var %zu has no name", i);
        const char *value = var.value ? var.value : "";
        v8::Local<v8::String> name, text;
        if (!iso::str(isolate, var.name, strlen(var.name)).ToLocal(&name) ||
            !iso::str(isolate, value, strlen(value)).ToLocal(&text))
            return iso::js_failure(w, try_catch, ED_ENOMEM, "building env", err);
        vars.push_back(name);
        vars.push_back(text);
    }
    for (size_t i = 0; i < cfg->n_loaders; i++) {
        v8::Local<v8::String> name;
        const char *n = cfg->loaders ? cfg->loaders[i] : nullptr;
        if (!n || !iso::str(isolate, n, strlen(n)).ToLocal(&name))
            return ed_error_set(err, ED_EINVAL, "loader binding %zu has no name", i);
        loaders.push_back(name);
    }
    for (size_t i = 0; i < cfg->n_objects; i++) {
        v8::Local<v8::String> name;
        const char *n = cfg->objects ? cfg->objects[i].name : nullptr;
        if (!n || !cfg->objects[i].cls || !iso::str(isolate, n, strlen(n)).ToLocal(&name))
            return ed_error_set(err, ED_EINVAL, "durable object namespace %zu has no name", i);
        objects.push_back(name);
    }
    v8::Local<v8::Value> child_env = v8::Undefined(isolate);
    if (cfg->env && cfg->env_len &&
        !iso::deserialize(w, context, cfg->env, cfg->env_len, cfg->env_peer).ToLocal(&child_env))
        return iso::js_failure(w, try_catch, ED_EBADWORKER, "reading the env from the parent", err);
    v8::Local<v8::Value> args[] = {
        v8::Array::New(isolate, vars.data(), vars.size()),
        v8::Array::New(isolate, loaders.data(), loaders.size()),
        child_env,
        v8::Integer::New(isolate, cfg->outbound),
        v8::Number::New(isolate, (double)cfg->outbound_stub),
        v8::Number::New(isolate, (double)cfg->env_peer),
        v8::Array::New(isolate, objects.data(), objects.size()),
    };
    v8::Local<v8::Value> env;
    if (!w->hooks.setup.Get(isolate)
             ->Call(context, v8::Undefined(isolate), 7, args)
             .ToLocal(&env) ||
        !env->IsObject())
        return iso::js_failure(w, try_catch, ED_EBADWORKER, "building env", err);
    w->env.Reset(isolate, env.As<v8::Object>());
    return 0;
}

int build(iso_worker *w, const iso_worker_config *cfg, ed_error *err)
{
    w->tenant = cfg->tenant ? cfg->tenant : "";
    w->name = cfg->worker ? cfg->worker : "";
    w->log = cfg->log;
    w->log_ud = cfg->log_ud;
    w->host = cfg->host;
    w->watch = cfg->watch;
    w->cpu_budget = cfg->cpu_budget_ns;
    w->wall_budget = cfg->wall_budget_ns;
    w->child = cfg->child;
    w->heap_limit = cfg->heap_limit_bytes ? cfg->heap_limit_bytes : iso::kDefaultHeapLimit;

    /* A child takes a never-used isolate (and context) from the thread's pool when one with
     * its heap limit is ready; anything else makes its own. */
    if (!(cfg->child && iso::pool_take(w->heap_limit, w)) &&
        !iso::make_isolate(w->heap_limit, cfg->child, &w->allocator, &w->isolate,
                           &w->from_snapshot))
        return ed_error_set(err, ED_ENOMEM, "cannot create an isolate");
    v8::Isolate *isolate = w->isolate;
    isolate->SetData(iso::kWorkerSlot, w);
    isolate->SetAllowAtomicsWait(false);
    iso::install_limits(w);
    iso::init_markers(w);
    w->spare.reserve(iso::kSpareInvocations);

    v8::Isolate::Scope isolate_scope(isolate);
    v8::HandleScope handle_scope(isolate);
    v8::Local<v8::Context> context =
        w->context.IsEmpty() ? v8::Context::New(isolate) : w->context.Get(isolate);
    if (context.IsEmpty())
        return w->stop_reason ? iso::stopped(w, err)
                              : ed_error_set(err, ED_ENOMEM, "cannot create a context");
    w->context.Reset(isolate, context);
    v8::Context::Scope context_scope(context);

    /* The module's top level is tenant code: it runs under the config's budgets. */
    iso::Entry entry(w, nullptr);
    int rc = iso::load_runtime(w, context, err);
    if (rc)
        return rc;
    rc = make_env(w, context, cfg, err);
    if (rc)
        return rc;
    context->AllowCodeGenerationFromStrings(cfg->allow_eval_at_startup);
    w->building = true;
    rc = iso::load_bundle(w, context, cfg, err);
    w->building = false;
    context->AllowCodeGenerationFromStrings(false);
    if (rc)
        return rc;
    if (w->link_only)
        return 0; /* nothing ran: no caches worth keeping, nothing to pump */
    iso::save_runtime_cache(w);
    iso::save_module_caches(w);
    iso::pump(w);
    iso::check_heap(w);
    return iso::stopped(w, err);
}

} // namespace

namespace iso {

void destroy(iso_worker *w)
{
    w->holds++; /* callbacks below may call iso_worker_free(w) again */
    w->free_requested = true;
    if (w->isolate) {
        try {
            fail_all(w, w->stop_reason.load() ? w->stop_reason.load() : ED_ECANCELED);
            run_completions(w);
        } catch (...) {
            /* a message could not be allocated: the sinks left are not told */
        }
        for (Invocation *inv : w->inflight)
            delete inv;
        w->inflight.clear();
        for (Invocation *inv : w->background)
            delete inv;
        w->background.clear();
        w->live.clear();
        timers_clear(w);
        for (Invocation *inv : w->spare)
            delete inv;
        w->spare.clear();
        orphan_calls(w);
        close_fetches(w);
        /* Handles first: a Global must die before its isolate. */
        w->exports.clear();
        w->bodies.clear();
        w->handler.Reset();
        w->ns.Reset();
        w->env.Reset();
        w->internals.Reset();
        w->marker.Reset();
        w->cf_module.Reset();
        w->objects.clear();
        w->hooks.reset();
        w->runtime_scripts.clear();
        w->modules.clear();
        w->context.Reset();
        remove_limits(w); /* the isolate outlives w: nothing of it may call back with w */
        w->isolate->SetData(kWorkerSlot, nullptr);
        dispose_later(w->isolate);
    }
    pthread_mutex_destroy(&w->run_lock);
    delete w;
}

} // namespace iso

namespace {

int create(const iso_worker_config *cfg, bool keep_scripts, bool link_only, iso_worker **out,
           ed_error *err)
{
    if (!cfg || !out)
        return ed_error_set(err, ED_EINVAL, "iso_worker_new: no config or no out pointer");
    if (!iso::platform())
        return ed_error_set(err, ED_EINVAL, "iso_worker_new: the V8 platform is not started");
    iso_worker *w = new (std::nothrow) iso_worker();
    if (!w)
        return ed_error_set(err, ED_ENOMEM, "out of memory creating a worker");
    w->keep_scripts = keep_scripts;
    w->link_only = link_only;
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

} // namespace

int iso::new_worker(const iso_worker_config *cfg, bool keep_scripts, iso_worker **out,
                    ed_error *err)
{
    return create(cfg, keep_scripts, false, out, err);
}

extern "C" int iso_worker_new(const struct iso_worker_config *cfg, struct iso_worker **out,
                              struct ed_error *err) noexcept
{
    return iso::new_worker(cfg, false, out, err);
}

extern "C" int iso_bundle_check(const struct iso_module *modules, size_t n_modules,
                                const char *main_module, struct ed_error *err) noexcept
{
    return iso_bundle_check_objects(modules, n_modules, main_module, nullptr, 0, err);
}

extern "C" int iso_bundle_check_objects(const struct iso_module *modules, size_t n_modules,
                                        const char *main_module,
                                        const struct iso_object_ns *objects, size_t n_objects,
                                        struct ed_error *err) noexcept
{
    iso_worker_config cfg = {};
    cfg.tenant = "";
    cfg.worker = "";
    cfg.modules = modules;
    cfg.n_modules = n_modules;
    cfg.main_module = main_module;
    cfg.objects = objects;
    cfg.n_objects = n_objects;
    iso_worker *w = nullptr;
    int rc = create(&cfg, false, true, &w, err);
    iso_worker_free(w);
    return rc;
}

extern "C" void iso_worker_free(struct iso_worker *w) noexcept
{
    if (!w || (w->free_requested && w->holds > 0))
        return;
    if (w->holds > 0) {
        /* Called from inside one of w's own callbacks: stop its JavaScript, and let the frame
         * that holds w last free it. */
        w->free_requested = true;
        iso::stop(w, ED_ECANCELED, false);
        return;
    }
    iso::destroy(w);
}
