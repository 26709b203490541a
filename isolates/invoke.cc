/*
 * Calls into a worker from another isolate: an entrypoint's method (iso_worker_invoke, a
 * parent calling its child) or an exported stub (iso_worker_call_stub: a child calling back
 * into its parent, a parent calling what a child returned, either side pulling a stream).
 * Arguments arrive serialized, their stubs naming the caller's isolate; the runtime
 * (isolates/js/65_rpc.js) finds the target and calls it; the settled value is serialized for
 * the result callback (its stubs held by the caller), a rejection becomes a code and a
 * one-line "Name: message". Like a fetch, a call is an invocation that may wait on calls of its
 * own and completes on a later entry.
 */
#include <cstring>
#include <new>

#include "isolates/shim_int.h"

namespace iso {

namespace {

void answer_error(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                  v8::Local<v8::Value> thrown)
{
    std::string msg;
    int code = describe_error(w, context, thrown, &msg);
    complete(w, inv, Invocation::Final::kResult, code, std::move(msg));
}

/* The exception of a failed step, answered (unless w was stopped: finish() fails it then). */
void answer_exception(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                      v8::TryCatch &try_catch)
{
    if (try_catch.HasTerminated() || w->stop_reason.load())
        return;
    v8::Local<v8::Value> e = try_catch.HasCaught()
                                 ? try_catch.Exception()
                                 : v8::Local<v8::Value>(v8::Undefined(w->isolate));
    try_catch.Reset();
    answer_error(w, inv, context, e);
}

int new_call(iso_worker *w, iso_result_cb cb, void *cb_ud, uint64_t peer, uint64_t cpu_budget,
             uint64_t *cpu_used, Invocation **out, ed_error *err)
{
    if (w->stop_reason.load() || w->free_requested)
        return ed_error_set(
            err, ED_EINVAL, "the worker is retired (%s)",
            ed_strerror(w->stop_reason.load() ? w->stop_reason.load() : ED_ECANCELED));
    Invocation *inv = new_invocation(w, Invocation::Kind::kCall);
    if (!inv)
        return ed_error_set(err, ED_ENOMEM, "out of memory starting a call");
    inv->cb = cb;
    inv->cb_ud = cb_ud;
    inv->cpu_budget = cpu_budget;
    inv->wall_budget = w->wall_budget;
    inv->cpu_used_out = cpu_used;
    inv->peer = peer;
    try {
        track(w, inv);
    } catch (...) {
        recycle(w, inv);
        return ed_error_set(err, ED_ENOMEM, "out of memory starting a call");
    }
    *out = inv;
    return 0;
}

v8::Local<v8::Value> str_or_null(v8::Isolate *isolate, const char *s)
{
    v8::Local<v8::String> v;
    if (!s || !str(isolate, s, strnlen(s, 4096)).ToLocal(&v))
        return v8::Null(isolate);
    return v;
}

/* Runs hook(a0..a3) for inv: inv then waits on the promise it returns. */
void start(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context, v8::TryCatch &try_catch,
           v8::Local<v8::Function> hook, v8::Local<v8::Value> *argv, int argc)
{
    v8::Local<v8::Value> promise;
    if (!hook->Call(context, v8::Undefined(w->isolate), argc, argv).ToLocal(&promise))
        return answer_exception(w, inv, context, try_catch);
    inv->awaited.Reset(w->isolate, promise);
}

/* The call's arguments (a serialized array) as a JS array. */
bool read_args(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
               v8::TryCatch &try_catch, const uint8_t *data, size_t len, v8::Local<v8::Value> *out)
{
    v8::Local<v8::Value> v;
    if (!deserialize(w, context, data, len, inv->peer).ToLocal(&v)) {
        answer_exception(w, inv, context, try_catch);
        return false;
    }
    if (v->IsUndefined())
        v = v8::Array::New(w->isolate);
    if (!v->IsArray()) {
        complete(w, inv, Invocation::Final::kResult, ED_EINVAL,
                 "the call's arguments are not a list");
        return false;
    }
    *out = v;
    return true;
}

} // namespace

void call_step(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
               v8::TryCatch &try_catch)
{
    v8::Local<v8::Value> v = inv->awaited.Get(w->isolate);
    inv->awaited.Reset();
    if (v->IsPromise()) {
        v8::Local<v8::Promise> p = v.As<v8::Promise>();
        if (p->State() == v8::Promise::kRejected)
            return answer_error(w, inv, context, p->Result());
        v = p->Result();
    }
    std::string bytes;
    ExportLog log;
    log.peer = inv->peer; /* the caller holds the result's stubs */
    if (!v->IsUndefined() && !serialize(w, context, v, inv->mode, &log, &bytes))
        return answer_exception(w, inv, context, try_catch);
    complete(w, inv, Invocation::Final::kResult, 0, std::string(), std::move(bytes));
}

} // namespace iso

extern "C" int iso_worker_invoke(struct iso_worker *w, const char *entrypoint, const char *method,
                                 const uint8_t *props, size_t props_len, const uint8_t *args,
                                 size_t args_len, uint64_t peer, uint64_t cpu_budget_ns,
                                 uint64_t *cpu_used_ns, iso_result_cb cb, void *cb_ud,
                                 struct ed_error *err) noexcept
{
    if (!w || !method || !cb || (!args && args_len) || (!props && props_len))
        return ed_error_set(err, ED_EINVAL, "iso_worker_invoke: missing argument");
    iso::Invocation *inv = nullptr;
    int rc = iso::new_call(w, cb, cb_ud, peer, cpu_budget_ns, cpu_used_ns, &inv, err);
    if (rc)
        return rc;
    iso::run_in(w, inv, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, iso::Entry &) {
        v8::Isolate *isolate = w->isolate;
        v8::Local<v8::Value> argv[6];
        if (!iso::read_args(w, inv, context, try_catch, args, args_len, &argv[5]))
            return;
        if (!iso::deserialize(w, context, props, props_len, peer).ToLocal(&argv[4]))
            return iso::answer_exception(w, inv, context, try_catch);
        argv[0] = w->ns.IsEmpty() ? v8::Local<v8::Value>(v8::Undefined(isolate))
                                  : v8::Local<v8::Value>(w->ns.Get(isolate));
        argv[1] = w->env.Get(isolate);
        argv[2] = iso::str_or_null(isolate, entrypoint);
        argv[3] = iso::str_or_null(isolate, method);
        iso::start(w, inv, context, try_catch, w->hooks.invoke.Get(isolate), argv, 6);
    });
    return 0;
}

extern "C" int iso_worker_call_stub(struct iso_worker *w, uint64_t stub, const char *method,
                                    const uint8_t *args, size_t args_len, uint64_t peer,
                                    uint64_t *cpu_used_ns, iso_result_cb cb, void *cb_ud,
                                    struct ed_error *err) noexcept
{
    if (!w || !cb || (!args && args_len))
        return ed_error_set(err, ED_EINVAL, "iso_worker_call_stub: missing argument");
    if (w->exports.find(stub) == w->exports.end())
        return ed_error_set(err, ED_ENOENT,
                            "This RPC stub was released: it came in the arguments of a call that "
                            "has returned, or was disposed (stub %llu)",
                            (unsigned long long)stub);
    iso::Invocation *inv = nullptr;
    int rc = iso::new_call(w, cb, cb_ud, peer, w->cpu_budget, cpu_used_ns, &inv, err);
    if (rc)
        return rc;
    iso::run_in(w, inv, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, iso::Entry &) {
        v8::Isolate *isolate = w->isolate;
        auto it = w->exports.find(stub);
        if (it == w->exports.end())
            return iso::complete(w, inv, iso::Invocation::Final::kResult, ED_ENOENT,
                                 "This RPC stub was released");
        v8::Local<v8::Value> argv[5];
        argv[0] = it->second.value.Get(isolate);
        argv[1] = v8::Integer::New(isolate, it->second.kind & iso::kKindMask);
        argv[2] = iso::str_or_null(isolate, method);
        argv[4] = v8::Number::New(isolate, (double)stub);
        if (!iso::read_args(w, inv, context, try_catch, args, args_len, &argv[3]))
            return;
        iso::start(w, inv, context, try_catch, w->hooks.call_export.Get(isolate), argv, 5);
    });
    return 0;
}

extern "C" int iso_worker_call_object(struct iso_worker *w, const struct iso_object_call *call,
                                      uint64_t cpu_budget_ns, uint64_t *cpu_used_ns,
                                      iso_result_cb cb, void *cb_ud, struct ed_error *err) noexcept
{
    if (!w || !call || !call->cls || !call->id || !call->method || !cb ||
        (!call->args && call->args_len) || (!call->name && call->name_len))
        return ed_error_set(err, ED_EINVAL, "iso_worker_call_object: missing argument");
    iso::Invocation *inv = nullptr;
    int rc = iso::new_call(w, cb, cb_ud, 0, cpu_budget_ns, cpu_used_ns, &inv, err);
    if (rc)
        return rc;
    inv->mode = iso::Mode::kObject;
    bool alarm = strcmp(call->method, "alarm") == 0;
    iso::run_in(w, inv, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, iso::Entry &) {
        v8::Isolate *isolate = w->isolate;
        v8::Local<v8::Value> argv[9];
        if (alarm) {
            /* alarm({retryCount, isRetry}), as Workers calls it */
            v8::Local<v8::Object> info = v8::Object::New(isolate);
            uint32_t n = call->alarm_retries;
            if (info->Set(context, iso::str(isolate, "retryCount"),
                          v8::Integer::NewFromUnsigned(isolate, n))
                    .IsNothing() ||
                info->Set(context, iso::str(isolate, "isRetry"), v8::Boolean::New(isolate, n > 0))
                    .IsNothing())
                return iso::answer_exception(w, inv, context, try_catch);
            v8::Local<v8::Value> one[] = {info};
            argv[7] = v8::Array::New(isolate, one, 1);
        } else if (!iso::read_args(w, inv, context, try_catch, call->args, call->args_len,
                                   &argv[7])) {
            return;
        }
        v8::Local<v8::Value> hook;
        if (!w->internals.Get(isolate)
                 ->Get(context, iso::str(isolate, "objectCall"))
                 .ToLocal(&hook) ||
            !hook->IsFunction())
            return iso::answer_exception(w, inv, context, try_catch);
        v8::Local<v8::String> s;
        argv[0] = w->ns.IsEmpty() ? v8::Local<v8::Value>(v8::Undefined(isolate))
                                  : v8::Local<v8::Value>(w->ns.Get(isolate));
        argv[1] = w->env.Get(isolate);
        argv[2] = iso::str_or_null(isolate, call->cls);
        argv[3] = v8::Number::New(isolate, (double)call->object);
        argv[4] = iso::str_or_null(isolate, call->id);
        argv[5] = v8::Null(isolate);
        if (call->name && iso::str(isolate, call->name, call->name_len).ToLocal(&s))
            argv[5] = s;
        argv[6] = iso::str_or_null(isolate, call->method);
        argv[8] = v8::Boolean::New(isolate, call->facet);
        iso::start(w, inv, context, try_catch, hook.As<v8::Function>(), argv, 9);
    });
    return 0;
}
