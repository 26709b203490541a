/*
 * Outbound fetch(): the native half of isolates/js/75_fetch.js. A worker's request to the
 * network goes to the HTTP client its host hands out (struct iso_fetcher, edge/'s in the node),
 * after the invocation's subrequest limit was checked; each operation on it (the response
 * head, a piece of a streamed request body, the next piece of the response body) is a call out
 * of the isolate (struct Call, counted with the calls to other workers, so a handler waiting on
 * the network is never taken for stalled) whose promise is settled when the client answers,
 * inside an entry armed for the invocation that made it. Closing a fetch (end of body, abort,
 * the Response collected) orphans its operations still pending: their answers are dropped.
 */
#include <cstring>

#include "isolates/shim_int.h"

namespace iso {

namespace {

constexpr size_t kMaxUrl = 16 * 1024;      /* as Workers */
constexpr size_t kMaxHeaders = 128 * 1024; /* names and values together, as Workers */
constexpr size_t kMaxMethod = 64;

iso_worker *worker_of(v8::Isolate *isolate)
{
    return static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
}

void throw_type_error(v8::Isolate *isolate, const char *msg)
{
    v8::Local<v8::String> s;
    if (!str(isolate, msg, strlen(msg)).ToLocal(&s))
        s = str(isolate, "fetch failed");
    isolate->ThrowException(v8::Exception::TypeError(s));
}

/* A byte string (header names and values, the status text) as JavaScript sees it: one
 * character per byte, as the Fetch Standard's byte strings. */
v8::Local<v8::String> bytes_string(v8::Isolate *isolate, const char *p, size_t n)
{
    v8::Local<v8::String> s;
    if (!v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t *>(p),
                                    v8::NewStringType::kNormal, (int)n)
             .ToLocal(&s))
        s = v8::String::Empty(isolate);
    return s;
}

/* The error an operation rejects with: what the client said, as a TypeError (the Fetch
 * Standard's network error). */
v8::Local<v8::Value> network_error(v8::Isolate *isolate, int code, const char *msg)
{
    const char *text = msg && *msg ? msg : ed_strerror(code);
    v8::Local<v8::String> s;
    if (!str(isolate, text, strnlen(text, kMaxMessage)).ToLocal(&s))
        s = str(isolate, "Network connection lost.");
    return v8::Exception::TypeError(s);
}

/* The answer of c has come: takes it off its worker's calls and says whether to settle it
 * (false: its worker or its fetch is gone, c was freed). */
bool answer_due(Call *c)
{
    iso_worker *w = c->w;
    if (!w) {
        delete c;
        return false;
    }
    unlink_call(w, c);
    if (w->stop_reason.load() || w->free_requested) {
        c->resolver.Reset();
        delete c;
        return false;
    }
    return true;
}

/* Settles c's promise inside an entry of its worker for the invocation that made it. */
template <typename F> void settle(Call *c, F &&make)
{
    iso_worker *w = c->w;
    try {
        run_in(w, find_invocation(w, c->inv_id),
               [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, Entry &) {
                   v8::Local<v8::Promise::Resolver> resolver = c->resolver.Get(w->isolate);
                   c->resolver.Reset();
                   make(context, try_catch, resolver);
               });
    } catch (...) {
        /* Out of memory: the promise stays pending; finish() fails what waits on it. */
    }
    delete c;
}

void on_head(void *ud, int code, const iso_fetch_head *h, const char *msg)
{
    Call *c = static_cast<Call *>(ud);
    if (!answer_due(c))
        return;
    v8::Isolate *isolate = c->w->isolate;
    settle(c, [&](v8::Local<v8::Context> context, v8::TryCatch &,
                  v8::Local<v8::Promise::Resolver> resolver) {
        if (code || !h) {
            resolver->Reject(context, network_error(isolate, code ? code : ED_EIO, msg))
                .FromMaybe(false);
            return;
        }
        v8::Local<v8::Array> flat = v8::Array::New(isolate, (int)(2 * h->n_headers));
        for (size_t i = 0; i < h->n_headers; i++) {
            const iso_header &hd = h->headers[i];
            if (flat->Set(context, (uint32_t)(2 * i), bytes_string(isolate, hd.name, hd.name_len))
                    .IsNothing() ||
                flat->Set(context, (uint32_t)(2 * i + 1),
                          bytes_string(isolate, hd.value, hd.value_len))
                    .IsNothing())
                return;
        }
        v8::Local<v8::Value> parts[] = {
            v8::Integer::New(isolate, h->status),
            bytes_string(isolate, h->status_text, h->status_text_len),
            flat,
            bytes_string(isolate, h->url, h->url_len),
            v8::Boolean::New(isolate, h->redirected),
            v8::Boolean::New(isolate, h->has_body),
        };
        resolver->Resolve(context, v8::Array::New(isolate, parts, 6)).FromMaybe(false);
    });
}

void on_data(void *ud, int code, const uint8_t *data, size_t len, const char *msg)
{
    Call *c = static_cast<Call *>(ud);
    if (!answer_due(c))
        return;
    iso_worker *w = c->w;
    v8::Isolate *isolate = w->isolate;
    settle(c, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch,
                  v8::Local<v8::Promise::Resolver> resolver) {
        if (code) {
            resolver->Reject(context, network_error(isolate, code, msg)).FromMaybe(false);
            return;
        }
        if (len == 0) {
            resolver->Resolve(context, v8::Null(isolate)).FromMaybe(false);
            return;
        }
        /* A fresh ArrayBuffer made by JavaScript, so the worker's memory limit can refuse it
         * with a RangeError the reader gets instead of the process aborting. */
        v8::Local<v8::Value> n = v8::Number::New(isolate, (double)len), buffer;
        if (!w->hooks.new_buffer.Get(isolate)
                 ->Call(context, v8::Undefined(isolate), 1, &n)
                 .ToLocal(&buffer) ||
            !buffer->IsArrayBuffer() || buffer.As<v8::ArrayBuffer>()->ByteLength() != len) {
            if (try_catch.HasTerminated() || !try_catch.HasCaught())
                return;
            v8::Local<v8::Value> e = try_catch.Exception();
            try_catch.Reset();
            resolver->Reject(context, e).FromMaybe(false);
            return;
        }
        v8::Local<v8::ArrayBuffer> ab = buffer.As<v8::ArrayBuffer>();
        memcpy(ab->Data(), data, len);
        resolver->Resolve(context, v8::Uint8Array::New(ab, 0, len)).FromMaybe(false);
    });
}

void on_written(void *ud, int code, const char *msg)
{
    Call *c = static_cast<Call *>(ud);
    if (!answer_due(c))
        return;
    v8::Isolate *isolate = c->w->isolate;
    settle(c, [&](v8::Local<v8::Context> context, v8::TryCatch &,
                  v8::Local<v8::Promise::Resolver> resolver) {
        if (code)
            resolver->Reject(context, network_error(isolate, code, msg)).FromMaybe(false);
        else
            resolver->Resolve(context, v8::Undefined(isolate)).FromMaybe(false);
    });
}

/* A new operation record of fetch id for the invocation now running, with its promise. */
Call *new_op(iso_worker *w, v8::Local<v8::Context> context, uint64_t id,
             v8::Local<v8::Promise> *promise)
{
    v8::Local<v8::Promise::Resolver> resolver;
    if (!v8::Promise::Resolver::New(context).ToLocal(&resolver))
        return nullptr; /* terminating */
    Invocation *inv = current_invocation(w);
    Call *c = new Call{w, nullptr, nullptr, inv ? inv->id : 0, {}, {}, {}, id};
    c->resolver.Reset(w->isolate, resolver);
    *promise = resolver->GetPromise();
    return c;
}

bool read_string(v8::Isolate *isolate, v8::Local<v8::Value> v, size_t max, const char *what,
                 std::string *out)
{
    if (!v->IsString()) {
        throw_type_error(isolate, (std::string("fetch: ") + what + " must be a string").c_str());
        return false;
    }
    v8::Local<v8::String> s = v.As<v8::String>();
    if ((size_t)s->Length() > max) {
        throw_type_error(isolate, (std::string("fetch: the ") + what + " is longer than " +
                                   std::to_string(max) + " characters")
                                      .c_str());
        return false;
    }
    *out = utf8(isolate, s, max * 3);
    return true;
}

/* A byte string (a header name or value the runtime checked: no character above U+00FF) as
 * its bytes. */
void latin1(v8::Isolate *isolate, v8::Local<v8::String> s, std::string *out)
{
    out->resize((size_t)s->Length());
    s->WriteOneByte(isolate, reinterpret_cast<uint8_t *>(&(*out)[0]), 0, s->Length(),
                    v8::String::NO_NULL_TERMINATION);
}

/* native.fetchStart(method, url, flatHeaders, body, redirect) -> [id, Promise<head>]:
 * body is null, a Uint8Array (a fixed body) or a number (a body streamed with fetchWrite:
 * its length, or -1 when unknown); head is [status, statusText, flatHeaders, url, redirected,
 * hasBody]. Throws when the request cannot start (the runtime turns it into a rejection). */
void fetch_start(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    if (!w || !w->host || !w->host->fetcher)
        return throw_type_error(isolate,
                                "fetch() to the internet is not available in this worker.");
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    Invocation *inv = current_invocation(w);
    if (inv && inv->sub_limit && inv->sub_used >= inv->sub_limit) {
        std::string msg = "Too many subrequests: this worker may make " +
                          std::to_string(inv->sub_limit) + " fetch() calls per request.";
        isolate->ThrowException(v8::Exception::Error(str(isolate, msg.c_str())));
        return;
    }
    try {
        std::string method, url;
        if (!read_string(isolate, info[0], kMaxMethod, "method", &method) ||
            !read_string(isolate, info[1], kMaxUrl, "URL", &url))
            return;
        if (!info[2]->IsArray())
            return throw_type_error(isolate, "fetch: malformed headers");
        v8::Local<v8::Array> flat = info[2].As<v8::Array>();
        std::vector<std::string> fields;
        size_t total = 0;
        for (uint32_t i = 0; i < flat->Length(); i++) {
            v8::Local<v8::Value> v;
            if (!flat->Get(context, i).ToLocal(&v))
                return;
            if (!v->IsString())
                return throw_type_error(isolate, "fetch: malformed headers");
            fields.emplace_back();
            latin1(isolate, v.As<v8::String>(), &fields.back());
            total += fields.back().size();
            if (total > kMaxHeaders)
                return throw_type_error(isolate,
                                        "fetch: the request headers are over 128 KiB in all");
        }
        std::vector<iso_header> headers;
        for (size_t i = 0; i + 1 < fields.size(); i += 2)
            headers.push_back(iso_header{fields[i].data(), fields[i].size(), fields[i + 1].data(),
                                         fields[i + 1].size()});
        iso_fetch_request req = {};
        req.tenant = w->tenant.c_str();
        req.method = method.c_str();
        req.url = url.data();
        req.url_len = url.size();
        req.headers = headers.data();
        req.n_headers = headers.size();
        req.redirect = info[4]->IsInt32() ? info[4].As<v8::Int32>()->Value() : 0;
        req.content_length = -1;
        std::vector<uint8_t> scratch;
        if (info[3]->IsUint8Array()) {
            v8::Local<v8::Uint8Array> body = info[3].As<v8::Uint8Array>();
            req.body = view_bytes(body, scratch);
            req.body_len = body->ByteLength();
        } else if (info[3]->IsNumber()) {
            req.body_stream = true;
            double n = info[3].As<v8::Number>()->Value();
            req.content_length = n >= 0 && n < 9007199254740992.0 ? (int64_t)n : -1;
        }

        ed_error err = {0, nullptr};
        const iso_fetcher *via = w->host->fetcher(w->host->ud, w, &err);
        if (!via) {
            std::string msg = ed_error_msg(&err);
            bool limit = err.code == ED_ERANGE;
            ed_error_dispose(&err);
            v8::Local<v8::String> s = str(isolate, msg.c_str());
            isolate->ThrowException(limit ? v8::Exception::Error(s) : v8::Exception::TypeError(s));
            return;
        }
        if (inv)
            inv->sub_used++;
        uint64_t id = w->next_fetch++;
        v8::Local<v8::Promise> promise;
        Call *c = new_op(w, context, id, &promise);
        if (!c)
            return;
        link_call(w, c);
        iso_fetch *f = nullptr;
        int rc = via->start(via->ud, &req, on_head, c, &f, &err);
        if (rc) {
            unlink_call(w, c);
            c->resolver.Reset();
            delete c;
            std::string msg = ed_error_msg(&err);
            ed_error_dispose(&err);
            return throw_type_error(isolate, msg.c_str());
        }
        try {
            w->fetches[id] = OutFetch{f, via};
        } catch (...) {
            /* c's answer comes after the close, and is dropped there */
            unlink_call(w, c);
            c->w = nullptr;
            c->resolver.Reset();
            via->close(via->ud, f);
            throw;
        }
        v8::Local<v8::Value> pair[] = {v8::Number::New(isolate, (double)id), promise};
        info.GetReturnValue().Set(v8::Array::New(isolate, pair, 2));
    } catch (...) {
        isolate->ThrowException(
            v8::Exception::RangeError(str(isolate, "out of memory starting a fetch")));
    }
}

OutFetch *find_fetch(iso_worker *w, v8::Local<v8::Value> id, uint64_t *out)
{
    if (!w || !id->IsNumber())
        return nullptr;
    double d = id.As<v8::Number>()->Value();
    if (!(d > 0 && d < 9007199254740992.0))
        return nullptr;
    *out = (uint64_t)d;
    auto it = w->fetches.find(*out);
    return it == w->fetches.end() ? nullptr : &it->second;
}

/* Starts operation op on fetch id: returns its promise (rejected at once when the client
 * refuses), or nothing when the fetch is closed (a TypeError is thrown). */
template <typename Op> void start_op(const v8::FunctionCallbackInfo<v8::Value> &info, Op &&op)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    uint64_t id = 0;
    OutFetch *of = find_fetch(w, info[0], &id);
    if (!of)
        return throw_type_error(isolate, "This fetch() was closed (aborted, or its body was "
                                         "read to the end or cancelled).");
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    try {
        v8::Local<v8::Promise> promise;
        Call *c = new_op(w, context, id, &promise);
        if (!c)
            return;
        link_call(w, c);
        int rc = op(*of, c);
        if (rc) {
            unlink_call(w, c);
            v8::Local<v8::Promise::Resolver> resolver = c->resolver.Get(isolate);
            c->resolver.Reset();
            delete c;
            resolver->Reject(context, network_error(isolate, rc, nullptr)).FromMaybe(false);
        }
        info.GetReturnValue().Set(promise);
    } catch (...) {
        isolate->ThrowException(
            v8::Exception::RangeError(str(isolate, "out of memory in fetch()")));
    }
}

/* native.fetchWrite(id, bytes | null) -> Promise: the next piece of a streamed request body
 * (null: the end), settled once the client took it. */
void fetch_write(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    std::vector<uint8_t> scratch;
    const uint8_t *data = nullptr;
    size_t len = 0;
    if (info[1]->IsUint8Array()) {
        v8::Local<v8::Uint8Array> bytes = info[1].As<v8::Uint8Array>();
        data = view_bytes(bytes, scratch);
        len = bytes->ByteLength();
        if (len == 0) {
            v8::Local<v8::Context> context = info.GetIsolate()->GetCurrentContext();
            v8::Local<v8::Promise::Resolver> r;
            if (v8::Promise::Resolver::New(context).ToLocal(&r)) {
                r->Resolve(context, v8::Undefined(info.GetIsolate())).FromMaybe(false);
                info.GetReturnValue().Set(r->GetPromise());
            }
            return;
        }
    }
    start_op(info, [&](OutFetch &of, Call *c) {
        return of.via->write(of.via->ud, of.f, data, len, on_written, c);
    });
}

/* native.fetchRead(id) -> Promise<Uint8Array | null>: the next piece of the response body,
 * null at its end. */
void fetch_read(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    start_op(info,
             [&](OutFetch &of, Call *c) { return of.via->read(of.via->ud, of.f, on_data, c); });
}

/* Orphans the operations of fetch id still pending: their answers will be dropped. */
void orphan_ops(iso_worker *w, uint64_t id)
{
    for (Call *c = w->calls; c;) {
        Call *next = c->next;
        if (c->fetch == id) {
            unlink_call(w, c);
            c->w = nullptr;
            c->resolver.Reset();
        }
        c = next;
    }
}

/* native.fetchClose(id): the fetch is over (body read or cancelled, aborted, collected). */
void fetch_close(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    iso_worker *w = worker_of(info.GetIsolate());
    uint64_t id = 0;
    OutFetch *of = find_fetch(w, info[0], &id);
    if (!of)
        return;
    OutFetch copy = *of;
    w->fetches.erase(id);
    orphan_ops(w, id);
    copy.via->close(copy.via->ud, copy.f);
}

} // namespace

void close_fetches(iso_worker *w)
{
    for (auto &entry : w->fetches)
        entry.second.via->close(entry.second.via->ud, entry.second.f);
    w->fetches.clear();
}

const NativeFunction kFetchNatives[] = {
    {"fetchStart", fetch_start, "75_fetch.js"},
    {"fetchWrite", fetch_write, "75_fetch.js"},
    {"fetchRead", fetch_read, "75_fetch.js"},
    {"fetchClose", fetch_close, "75_fetch.js"},
    {nullptr, nullptr},
};

} // namespace iso
