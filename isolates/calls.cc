/*
 * Calls out of a worker: the native half of WorkerLoader, WorkerStub and stubs
 * (isolates/js/65_rpc.js, 70_loader.js). A call becomes a struct iso_call for the host with
 * its arguments serialized, and a promise the worker awaits; the host answers through
 * on_answer, now or on a later turn of the loop, and the promise is settled inside an entry
 * armed for the invocation that made the call. A call's record outlives its worker if need
 * be: the host may answer after iso_worker_free, and the answer is then dropped. The
 * export table is what a worker handed to other isolates as stubs (functions, RpcTargets,
 * fetchers, streams, in env, arguments or results), each entry tagged with the peer that holds
 * it: arguments' stubs go when their call is answered, the rest when the holder drops them,
 * is gone (iso_worker_release_peer) or, for env, when the host releases them.
 */
#include <cstring>

#include "isolates/shim_int.h"

namespace iso {

namespace {

constexpr size_t kMaxCode = 64u << 20;
constexpr size_t kMaxEnv = 1u << 20;
constexpr size_t kMaxName = 4096;

iso_worker *worker_of(v8::Isolate *isolate)
{
    return static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
}

void throw_error(v8::Isolate *isolate, v8::Local<v8::Value> (*make)(v8::Local<v8::String>),
                 const std::string &msg)
{
    v8::Local<v8::String> s;
    if (!str(isolate, msg.data(), msg.size()).ToLocal(&s))
        s = str(isolate, "error");
    isolate->ThrowException(make(s));
}

/* The Error a failed call rejects with (65_rpc.js rebuilds the callee's error type). */
v8::Local<v8::Value> call_error(iso_worker *w, v8::Local<v8::Context> context, int code,
                                const char *msg)
{
    v8::Isolate *isolate = w->isolate;
    const char *text = msg && *msg ? msg : ed_strerror(code);
    v8::Local<v8::String> s;
    if (!str(isolate, text, strnlen(text, kMaxMessage)).ToLocal(&s))
        s = str(isolate, "call failed");
    v8::TryCatch inner(isolate);
    v8::Local<v8::Value> args[] = {v8::Integer::New(isolate, code), s};
    v8::Local<v8::Value> e;
    if (w->hooks.call_error.Get(isolate)
            ->Call(context, v8::Undefined(isolate), 2, args)
            .ToLocal(&e))
        return e;
    return v8::Exception::Error(s);
}

/* Settles c's promise with the host's answer (inside an entry of c->w). */
void settle_call(iso_worker *w, Call *c, v8::Local<v8::Context> context, v8::TryCatch &try_catch,
                 int code, const uint8_t *data, size_t len, const char *msg, uint64_t peer)
{
    v8::Isolate *isolate = w->isolate;
    v8::Local<v8::Promise::Resolver> resolver = c->resolver.Get(isolate);
    c->resolver.Reset();
    if (code == 0) {
        v8::Local<v8::Value> v;
        if (deserialize(w, context, data, len, peer).ToLocal(&v)) {
            resolver->Resolve(context, v).FromMaybe(false);
            return;
        }
        if (try_catch.HasTerminated() || !try_catch.HasCaught())
            return;
        v8::Local<v8::Value> e = try_catch.Exception();
        try_catch.Reset();
        resolver->Reject(context, e).FromMaybe(false);
        return;
    }
    resolver->Reject(context, call_error(w, context, code, msg)).FromMaybe(false);
}

/* The call is over: its arguments' stubs go, its streams stay with the callee that answered
 * (or go too when nobody did). */
void settle_exports(iso_worker *w, Call *c, uint64_t peer)
{
    unexport(w, c->scoped);
    for (uint64_t id : c->held) {
        auto it = w->exports.find(id);
        if (it == w->exports.end() || it->second.peer != kPeerPending)
            continue;
        if (peer)
            it->second.peer = peer;
        else
            w->exports.erase(it);
    }
}

void on_answer(void *ud, int code, const uint8_t *data, size_t len, const char *msg, uint64_t peer)
{
    Call *c = static_cast<Call *>(ud);
    iso_worker *w = c->w;
    if (!w) {
        delete c;
        return;
    }
    unlink_call(w, c);
    settle_exports(w, c, peer);
    if (w->stop_reason.load() || w->free_requested) {
        c->resolver.Reset();
        delete c;
        return;
    }
    try {
        run_in(w, find_invocation(w, c->inv_id),
               [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, Entry &) {
                   settle_call(w, c, context, try_catch, code, data, len, msg, peer);
               });
    } catch (...) {
        /* Out of memory: the promise stays pending; finish() fails what waits on it. */
    }
    delete c;
}

/* Starts a call on the host; returns its promise (rejected at once when the host refuses), or
 * an empty handle when w is being terminated. The exports made for the call (args: its
 * arguments' stubs, code_stubs: a child's env) are released when it cannot start. */
v8::Local<v8::Promise> start_call(iso_worker *w, v8::Local<v8::Context> context, iso_call *call,
                                  const std::vector<uint64_t> *code_stubs, const ExportLog &args)
{
    v8::Isolate *isolate = w->isolate;
    auto undo = [&]() {
        unexport(w, args.ids);
        if (code_stubs)
            unexport(w, *code_stubs);
    };
    v8::Local<v8::Promise::Resolver> resolver;
    if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) {
        undo();
        return {}; /* terminating */
    }
    Invocation *inv = current_invocation(w);
    Call *c = new Call{w, nullptr, nullptr, inv ? inv->id : 0, {}, {}, {}};
    for (uint64_t id : args.ids) {
        auto it = w->exports.find(id);
        if (it != w->exports.end())
            ((it->second.kind & kHeld) ? c->held : c->scoped).push_back(id);
    }
    c->resolver.Reset(isolate, resolver);
    link_call(w, c);
    ed_error err = {0, nullptr};
    int rc = w->host->call(w->host->ud, w, call, on_answer, c, &err);
    if (rc) {
        unlink_call(w, c);
        c->resolver.Reset();
        delete c;
        undo();
        resolver->Reject(context, call_error(w, context, rc, ed_error_msg(&err))).FromMaybe(false);
    }
    ed_error_dispose(&err);
    return resolver->GetPromise();
}

bool get_string(v8::Isolate *isolate, v8::Local<v8::Value> v, const char *what, std::string *out,
                size_t max = kMaxName)
{
    if (!v->IsString()) {
        throw_error(isolate, v8::Exception::TypeError, std::string(what) + " must be a string");
        return false;
    }
    if ((size_t)v.As<v8::String>()->Utf8Length(isolate) > max) {
        throw_error(isolate, v8::Exception::RangeError, std::string(what) + " is too long");
        return false;
    }
    *out = utf8(isolate, v.As<v8::String>(), max);
    return true;
}

uint32_t get_u32(v8::Local<v8::Value> v)
{
    if (!v->IsNumber())
        return 0;
    double d = v.As<v8::Number>()->Value();
    return d > 0 && d < 4294967296.0 ? (uint32_t)d : 0;
}

/* A child's code as 70_loader.js laid it out: [mainModule, compatibilityDate, names, types,
 * sources, env, outbound, outboundStub, cpuMs, subRequests, stubs]. */
struct Code {
    std::vector<std::string> names, sources;
    std::vector<iso_module> modules;
    std::string main, date, env;
    std::vector<uint64_t> stubs;
    iso_child_code c = {};
};

bool read_code(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Array> a, Code *code)
{
    v8::Isolate *isolate = w->isolate;
    v8::Local<v8::Value> f[11];
    for (uint32_t i = 0; i < 11; i++)
        if (!a->Get(context, i).ToLocal(&f[i]))
            return false;
    if (f[10]->IsArray()) {
        v8::Local<v8::Array> ids = f[10].As<v8::Array>();
        for (uint32_t i = 0; i < ids->Length(); i++) {
            v8::Local<v8::Value> id;
            if (!ids->Get(context, i).ToLocal(&id))
                return false;
            if (id->IsNumber())
                code->stubs.push_back((uint64_t)id.As<v8::Number>()->Value());
        }
    }
    if (!get_string(isolate, f[0], "mainModule", &code->main) ||
        (f[1]->IsString() && !get_string(isolate, f[1], "compatibilityDate", &code->date)))
        return false;
    if (!f[2]->IsArray() || !f[3]->IsArray() || !f[4]->IsArray()) {
        throw_error(isolate, v8::Exception::TypeError, "malformed worker code");
        return false;
    }
    v8::Local<v8::Array> names = f[2].As<v8::Array>(), types = f[3].As<v8::Array>(),
                         sources = f[4].As<v8::Array>();
    uint32_t n = names->Length();
    std::vector<v8::Local<v8::Value>> srcs;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        v8::Local<v8::Value> source;
        if (!sources->Get(context, i).ToLocal(&source))
            return false;
        if (source->IsString())
            total += (size_t)source.As<v8::String>()->Utf8Length(isolate);
        else if (source->IsUint8Array())
            total += source.As<v8::Uint8Array>()->ByteLength();
        srcs.push_back(source);
    }
    if (total > kMaxCode) {
        throw_error(isolate, v8::Exception::RangeError,
                    "The worker's code is " + std::to_string(total) + " bytes, over the limit of " +
                        std::to_string(kMaxCode));
        return false;
    }
    std::vector<uint8_t> scratch;
    for (uint32_t i = 0; i < n; i++) {
        v8::Local<v8::Value> name, type, source = srcs[i];
        if (!names->Get(context, i).ToLocal(&name) || !types->Get(context, i).ToLocal(&type))
            return false;
        std::string nm;
        if (!get_string(isolate, name, "a module name", &nm))
            return false;
        std::string text;
        if (source->IsString()) {
            text = utf8(isolate, source.As<v8::String>(), kMaxCode);
        } else if (source->IsUint8Array()) {
            v8::Local<v8::Uint8Array> view = source.As<v8::Uint8Array>();
            const uint8_t *p = view_bytes(view, scratch);
            text.assign(reinterpret_cast<const char *>(p), view->ByteLength());
        } else {
            throw_error(isolate, v8::Exception::TypeError, "malformed module " + nm);
            return false;
        }
        code->names.push_back(std::move(nm));
        code->sources.push_back(std::move(text));
        int t = type->IsInt32() ? type.As<v8::Int32>()->Value() : 0;
        code->modules.push_back(iso_module{
            nullptr, nullptr, 0,
            t >= ISO_MODULE_ESM && t <= ISO_MODULE_JSON ? (iso_module_type)t : ISO_MODULE_ESM});
    }
    for (size_t i = 0; i < code->modules.size(); i++) {
        code->modules[i].name = code->names[i].c_str();
        code->modules[i].source = code->sources[i].data();
        code->modules[i].source_len = code->sources[i].size();
    }
    if (!f[5]->IsUndefined()) {
        ExportLog log;
        bool ok = serialize(w, context, f[5], Mode::kEnv, &log, &code->env);
        code->stubs.insert(code->stubs.end(), log.ids.begin(), log.ids.end());
        if (!ok)
            return false;
        if (code->env.size() > kMaxEnv) {
            throw_error(isolate, v8::Exception::RangeError,
                        "env is " + std::to_string(code->env.size()) +
                            " bytes, over the limit of " + std::to_string(kMaxEnv));
            return false;
        }
    }
    iso_child_code &c = code->c;
    c.modules = code->modules.data();
    c.n_modules = code->modules.size();
    c.main_module = code->main.c_str();
    c.compatibility_date = code->date.empty() ? nullptr : code->date.c_str();
    c.env = code->env.empty() ? nullptr : reinterpret_cast<const uint8_t *>(code->env.data());
    c.env_len = code->env.size();
    c.outbound = f[6]->IsInt32() ? f[6].As<v8::Int32>()->Value() : ISO_OUTBOUND_INHERIT;
    c.outbound_stub = f[7]->IsNumber() ? (uint64_t)f[7].As<v8::Number>()->Value() : 0;
    c.cpu_ms = get_u32(f[8]);
    c.sub_requests = get_u32(f[9]);
    c.stubs = code->stubs.data();
    c.n_stubs = code->stubs.size();
    return true;
}

/* Serializes args (an array) and props (undefined: none); the stubs in them go to log. */
bool read_args(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> args,
               v8::Local<v8::Value> props, ExportLog *log, std::string *args_out,
               std::string *props_out)
{
    if (!args->IsArray()) {
        throw_error(w->isolate, v8::Exception::TypeError, "malformed call arguments");
        return false;
    }
    if (!serialize(w, context, args, Mode::kArgs, log, args_out))
        return false;
    if (props->IsUndefined() || serialize(w, context, props, Mode::kArgs, log, props_out))
        return true;
    unexport(w, log->ids);
    return false;
}

bool has_host(iso_worker *w, v8::Isolate *isolate)
{
    if (w && w->host && w->host->call)
        return true;
    throw_error(isolate, v8::Exception::TypeError,
                "This worker cannot call other workers (it has no host for calls)");
    return false;
}

/* native.callLoader(binding, id, anonymous, code, entrypoint, method, props, cpuMs,
 * subRequests, args) -> Promise */
void call_loader(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!has_host(w, isolate))
        return;
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    Code code;
    ExportLog log; /* the callee is known once it answers */
    bool with_code = info[3]->IsArray();
    try {
        std::string binding, id, entrypoint, method, args, props;
        if (with_code && !read_code(w, context, info[3].As<v8::Array>(), &code)) {
            unexport(w, code.stubs);
            return;
        }
        if (!get_string(isolate, info[0], "binding", &binding) ||
            !get_string(isolate, info[1], "id", &id) ||
            (!info[4]->IsNullOrUndefined() &&
             !get_string(isolate, info[4], "entrypoint", &entrypoint)) ||
            !get_string(isolate, info[5], "method", &method) ||
            !read_args(w, context, info[9], info[6], &log, &args, &props)) {
            unexport(w, code.stubs);
            return;
        }
        iso_call call = {};
        call.kind = ISO_CALL_LOADER;
        call.binding = binding.c_str();
        call.child_id = id.c_str();
        call.child_id_len = id.size();
        call.anonymous = info[2]->IsTrue();
        call.code = with_code ? &code.c : nullptr;
        call.entrypoint = info[4]->IsNullOrUndefined() ? nullptr : entrypoint.c_str();
        call.method = method.c_str();
        call.props = props.empty() ? nullptr : reinterpret_cast<const uint8_t *>(props.data());
        call.props_len = props.size();
        call.cpu_ms = get_u32(info[7]);
        call.sub_requests = get_u32(info[8]);
        call.args = reinterpret_cast<const uint8_t *>(args.data());
        call.args_len = args.size();
        v8::Local<v8::Promise> p =
            start_call(w, context, &call, with_code ? &code.stubs : nullptr, log);
        if (!p.IsEmpty())
            info.GetReturnValue().Set(p);
    } catch (...) {
        unexport(w, code.stubs);
        unexport(w, log.ids);
        throw_error(isolate, v8::Exception::RangeError, "out of memory preparing a call");
    }
}

uint64_t get_id(v8::Local<v8::Value> v)
{
    if (!v->IsNumber())
        return 0;
    double d = v.As<v8::Number>()->Value();
    return d > 0 && d < 18446744073709551616.0 ? (uint64_t)d : 0;
}

/* native.callStub(peer, id, method | null, args) -> Promise */
void call_stub(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!has_host(w, isolate))
        return;
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    ExportLog log;
    log.peer = get_id(info[0]); /* the callee: it holds the arguments' stubs */
    try {
        std::string method, args, props;
        if ((!info[2]->IsNullOrUndefined() && !get_string(isolate, info[2], "method", &method)) ||
            !read_args(w, context, info[3], v8::Undefined(isolate), &log, &args, &props))
            return;
        iso_call call = {};
        call.kind = ISO_CALL_STUB;
        call.peer = log.peer;
        call.stub = get_id(info[1]);
        call.method = info[2]->IsNullOrUndefined() ? nullptr : method.c_str();
        call.args = reinterpret_cast<const uint8_t *>(args.data());
        call.args_len = args.size();
        v8::Local<v8::Promise> p = start_call(w, context, &call, nullptr, log);
        if (!p.IsEmpty())
            info.GetReturnValue().Set(p);
    } catch (...) {
        unexport(w, log.ids);
        throw_error(isolate, v8::Exception::RangeError, "out of memory preparing a call");
    }
}

/* native.callObject(binding, id, name | null, method, args) -> Promise: a call to a durable
 * object, whose arguments carry no stubs (Mode::kObject refuses them). */
void call_object(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!has_host(w, isolate))
        return;
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    ExportLog log;
    try {
        std::string binding, id, name, method, args;
        if (!get_string(isolate, info[0], "binding", &binding) ||
            !get_string(isolate, info[1], "id", &id) ||
            (!info[2]->IsNull() && !get_string(isolate, info[2], "name", &name, kMaxEnv)) ||
            !get_string(isolate, info[3], "method", &method))
            return;
        if (!info[4]->IsArray()) {
            throw_error(isolate, v8::Exception::TypeError, "malformed call arguments");
            return;
        }
        if (!serialize(w, context, info[4], Mode::kObject, &log, &args))
            return;
        iso_call call = {};
        call.kind = ISO_CALL_OBJECT;
        call.binding = binding.c_str();
        call.object_id = id.c_str();
        call.object_name = info[2]->IsNull() ? nullptr : name.data();
        call.object_name_len = name.size();
        call.method = method.c_str();
        call.args = reinterpret_cast<const uint8_t *>(args.data());
        call.args_len = args.size();
        v8::Local<v8::Promise> p = start_call(w, context, &call, nullptr, log);
        if (!p.IsEmpty())
            info.GetReturnValue().Set(p);
    } catch (...) {
        unexport(w, log.ids);
        throw_error(isolate, v8::Exception::RangeError, "out of memory preparing a call");
    }
}

/* native.callFacet(object, facet, cls, idHex, idName | null, binding, childId, anonymous,
 * code | null, method, args) -> Promise: a call into a facet of the calling durable object, an
 * instance of a class of a child worker; its arguments carry no stubs (Mode::kObject). */
void call_facet(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!has_host(w, isolate))
        return;
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    Code code;
    ExportLog log;
    bool with_code = info[8]->IsArray();
    try {
        std::string facet, cls, id_hex, id_name, binding, child, method, args;
        if (with_code && !read_code(w, context, info[8].As<v8::Array>(), &code)) {
            unexport(w, code.stubs);
            return;
        }
        if (!get_string(isolate, info[1], "facet", &facet) ||
            !get_string(isolate, info[2], "class", &cls) ||
            !get_string(isolate, info[3], "id", &id_hex) ||
            (!info[4]->IsNull() && !get_string(isolate, info[4], "name", &id_name, kMaxEnv)) ||
            !get_string(isolate, info[5], "binding", &binding) ||
            !get_string(isolate, info[6], "id", &child) ||
            !get_string(isolate, info[9], "method", &method)) {
            unexport(w, code.stubs);
            return;
        }
        if (!info[10]->IsArray()) {
            unexport(w, code.stubs);
            throw_error(isolate, v8::Exception::TypeError, "malformed call arguments");
            return;
        }
        if (!serialize(w, context, info[10], Mode::kObject, &log, &args)) {
            unexport(w, code.stubs);
            return;
        }
        iso_call call = {};
        call.kind = ISO_CALL_FACET;
        call.object = get_id(info[0]);
        call.facet = facet.data();
        call.facet_len = facet.size();
        call.facet_class = cls.c_str();
        call.object_id = id_hex.c_str();
        call.object_name = info[4]->IsNull() ? nullptr : id_name.data();
        call.object_name_len = id_name.size();
        call.binding = binding.c_str();
        call.child_id = child.c_str();
        call.child_id_len = child.size();
        call.anonymous = info[7]->IsTrue();
        call.code = with_code ? &code.c : nullptr;
        call.method = method.c_str();
        call.args = reinterpret_cast<const uint8_t *>(args.data());
        call.args_len = args.size();
        v8::Local<v8::Promise> p =
            start_call(w, context, &call, with_code ? &code.stubs : nullptr, log);
        if (!p.IsEmpty())
            info.GetReturnValue().Set(p);
    } catch (...) {
        unexport(w, code.stubs);
        unexport(w, log.ids);
        throw_error(isolate, v8::Exception::RangeError, "out of memory preparing a call");
    }
}

/* native.dropStub(peer, id): this worker's stub of peer's export was collected. */
void drop_stub(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!w || !w->host || !w->host->call || w->free_requested)
        return;
    iso_call call = {};
    call.kind = ISO_CALL_DROP;
    call.peer = get_id(info[0]);
    call.stub = get_id(info[1]);
    ed_error err = {0, nullptr};
    (void)w->host->call(w->host->ud, w, &call, nullptr, nullptr, &err);
    ed_error_dispose(&err);
}

/* native.childLive(binding, id) -> bool */
void child_live(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    bool live = false;
    try {
        std::string binding, id;
        if (w && w->host && w->host->child_live &&
            get_string(isolate, info[0], "binding", &binding) &&
            get_string(isolate, info[1], "id", &id))
            live = w->host->child_live(w->host->ud, w, binding.c_str(), id.c_str(), id.size());
    } catch (...) {
        live = false;
    }
    info.GetReturnValue().Set(live);
}

/* native.release(binding, id): a load() child's last stub was collected. */
void release(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!w || !w->host || !w->host->call || w->free_requested)
        return;
    try {
        std::string binding, id;
        if (!get_string(isolate, info[0], "binding", &binding) ||
            !get_string(isolate, info[1], "id", &id))
            return;
        iso_call call = {};
        call.kind = ISO_CALL_RELEASE;
        call.binding = binding.c_str();
        call.child_id = id.c_str();
        call.child_id_len = id.size();
        call.anonymous = true;
        ed_error err = {0, nullptr};
        (void)w->host->call(w->host->ud, w, &call, nullptr, nullptr, &err);
        ed_error_dispose(&err);
    } catch (...) {
        /* nothing to undo: the child is reclaimed with its parent */
    }
}

/* native.exportStub(value, kind) -> id; listed in the log of the value being serialized. */
void export_stub(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    int kind = info[1]->IsInt32() ? info[1].As<v8::Int32>()->Value() : 0;
    int base = kind & kKindMask;
    if (!w || (base != kStubFunction && base != kStubObject && base != kStubStream) ||
        (kind & ~(kKindMask | kHeld)))
        return throw_error(isolate, v8::Exception::TypeError, "bad export");
    try {
        uint64_t id = w->next_export;
        if (w->export_log)
            w->export_log->ids.push_back(id); /* first: a failed insert is then undone too */
        Export &e = w->exports[id];
        w->next_export++;
        e.value.Reset(isolate, info[0]);
        e.kind = kind;
        e.peer = w->export_log ? w->export_log->peer : kPeerPending;
        info.GetReturnValue().Set(v8::Number::New(isolate, (double)id));
    } catch (...) {
        throw_error(isolate, v8::Exception::RangeError, "out of memory exporting a stub");
    }
}

/* native.unexport([ids]) */
void unexport_stubs(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!w || !info[0]->IsArray())
        return;
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    v8::Local<v8::Array> ids = info[0].As<v8::Array>();
    for (uint32_t i = 0; i < ids->Length(); i++) {
        v8::Local<v8::Value> id;
        if (ids->Get(context, i).ToLocal(&id) && id->IsNumber())
            w->exports.erase((uint64_t)id.As<v8::Number>()->Value());
    }
}

/* native.stubMarker(id, kind) -> a host object the serializer writes as a stub reference */
void stub_marker(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!w || !info[0]->IsNumber() || !info[1]->IsInt32())
        return throw_error(isolate, v8::Exception::TypeError, "bad stub marker");
    v8::Local<v8::Object> m;
    if (new_marker(w, isolate->GetCurrentContext(), (uint64_t)info[0].As<v8::Number>()->Value(),
                   info[1].As<v8::Int32>()->Value(), 0)
            .ToLocal(&m))
        info.GetReturnValue().Set(m);
}

/* native.markerInfo(value) -> [id, kind, peer] when value is a marker, else undefined */
void marker_info_native(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    uint64_t id, peer;
    int kind;
    if (!w || !marker_info(w, info[0], &id, &kind, &peer))
        return;
    v8::Local<v8::Value> triple[] = {v8::Number::New(isolate, (double)id),
                                     v8::Integer::New(isolate, kind),
                                     v8::Number::New(isolate, (double)peer)};
    info.GetReturnValue().Set(v8::Array::New(isolate, triple, 3));
}

/* native.errorCodes() -> { EINVAL, NOENT }: the codes the runtime attaches to errors. */
void error_codes(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    v8::Local<v8::Object> o = v8::Object::New(isolate);
    o->Set(context, str(isolate, "EINVAL"), v8::Integer::New(isolate, ED_EINVAL)).FromMaybe(false);
    o->Set(context, str(isolate, "NOENT"), v8::Integer::New(isolate, ED_ENOENT)).FromMaybe(false);
    o->Set(context, str(isolate, "JS"), v8::Integer::New(isolate, ED_EJS)).FromMaybe(false);
    info.GetReturnValue().Set(o);
}

} // namespace

void link_call(iso_worker *w, Call *c)
{
    c->prev = nullptr;
    c->next = w->calls;
    if (w->calls)
        w->calls->prev = c;
    w->calls = c;
    w->calls_out++;
}

void unlink_call(iso_worker *w, Call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = nullptr;
    w->calls_out--;
}

int describe_error(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> thrown,
                   std::string *msg)
{
    v8::Isolate *isolate = w->isolate;
    v8::TryCatch inner(isolate);
    v8::Local<v8::Value> r, code, text;
    if (w->hooks.describe_error.Get(isolate)
            ->Call(context, v8::Undefined(isolate), 1, &thrown)
            .ToLocal(&r) &&
        r->IsArray() && r.As<v8::Array>()->Get(context, 0).ToLocal(&code) &&
        r.As<v8::Array>()->Get(context, 1).ToLocal(&text) && text->IsString()) {
        *msg = utf8(isolate, text.As<v8::String>());
        int c = code->IsInt32() ? code.As<v8::Int32>()->Value() : 0;
        return c < 0 ? c : ED_EJS;
    }
    *msg = exception_text(isolate, thrown);
    return ED_EJS;
}

const NativeFunction kCallNatives[] = {
    {"callLoader", call_loader, "70_loader.js"},
    {"callStub", call_stub},
    {"dropStub", drop_stub},
    {"childLive", child_live, "70_loader.js"},
    {"release", release, "70_loader.js"},
    {"exportStub", export_stub},
    {"unexport", unexport_stubs},
    {"stubMarker", stub_marker},
    {"markerInfo", marker_info_native},
    {"errorCodes", error_codes},
    {"callObject", call_object, "67_objects.js"},
    {"callFacet", call_facet, "70_loader.js"},
    {nullptr, nullptr},
};

/* Called by worker.cc when w goes: answers still to come find no worker. */
void orphan_calls(iso_worker *w)
{
    for (Call *c = w->calls; c;) {
        Call *next = c->next;
        c->w = nullptr;
        c->resolver.Reset();
        c->prev = c->next = nullptr;
        c = next;
    }
    w->calls = nullptr;
    w->calls_out = 0;
}

} // namespace iso

extern "C" void iso_worker_release_stubs(struct iso_worker *w, const uint64_t *stubs,
                                         size_t n) noexcept
{
    if (!w || !stubs)
        return;
    for (size_t i = 0; i < n; i++)
        w->exports.erase(stubs[i]);
}

extern "C" void iso_worker_drop_stub(struct iso_worker *w, uint64_t peer, uint64_t stub) noexcept
{
    if (!w)
        return;
    auto it = w->exports.find(stub);
    if (it != w->exports.end() && (it->second.kind & iso::kHeld) &&
        (it->second.peer == peer || it->second.peer == iso::kPeerPending))
        w->exports.erase(it);
}

extern "C" void iso_worker_release_peer(struct iso_worker *w, uint64_t peer) noexcept
{
    if (!w || !peer)
        return;
    for (auto it = w->exports.begin(); it != w->exports.end();) {
        if (it->second.peer == peer)
            it = w->exports.erase(it);
        else
            ++it;
    }
}

extern "C" size_t iso_worker_exports(const struct iso_worker *w) noexcept
{
    return w ? w->exports.size() : 0;
}

extern "C" void iso_worker_collect_garbage(struct iso_worker *w) noexcept
{
    if (!w || w->stop_reason.load() || w->free_requested)
        return;
    try {
        /* The outermost entry's end pumps the platform's tasks: the finalizers run there. */
        iso::run_in(w, nullptr, [&](v8::Local<v8::Context>, v8::TryCatch &, iso::Entry &) {
            w->isolate->LowMemoryNotification();
        });
    } catch (...) {
        /* out of memory: nothing was collected */
    }
}
