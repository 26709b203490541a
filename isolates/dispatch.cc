/*
 * One fetch through a worker: the request crosses into the isolate as strings and one
 * ArrayBuffer, the runtime's dispatch() calls the handler, the microtask queue runs until the
 * handler's promise settles, and the Response leaves through the caller's sink: head first,
 * then the body as one piece (string or bytes) or chunk by chunk (a ReadableStream). Every
 * source of asynchrony today is a microtask, so a promise still pending after a checkpoint
 * can never settle and is reported as such instead of waiting.
 */
#include <cstring>
#include <new>

#include "isolates/shim_int.h"

namespace iso {

namespace {

/* The state of one exchange with the sink. */
struct Exchange {
    iso_worker *w;
    const iso_response_sink *sink;
    void *ud;
    bool head_sent = false;
    bool finished = false; /* on_end or on_abort was called */

    void end()
    {
        finished = true;
        sink->on_end(ud);
    }
    void abort(int code, const std::string &msg)
    {
        finished = true;
        sink->on_abort(ud, code, msg.c_str());
    }
    void abort(int code)
    {
        abort(code, ed_strerror(code));
    }
};

int emit_body(void *p, const uint8_t *data, size_t len)
{
    auto *x = static_cast<Exchange *>(p);
    if (len == 0)
        return 0;
    return x->sink->on_body(x->ud, data, len) ? ED_ECANCELED : 0;
}

enum class Settled { kFulfilled, kRejected, kPending, kStopped };

/* Runs microtasks, then reports how value (a promise or a plain value) ended up. */
Settled settle(iso_worker *w, v8::Local<v8::Value> value, v8::Local<v8::Value> *result)
{
    w->isolate->PerformMicrotaskCheckpoint();
    if (w->stop_reason.load() || w->isolate->IsExecutionTerminating())
        return Settled::kStopped;
    if (!value->IsPromise()) {
        *result = value;
        return Settled::kFulfilled;
    }
    v8::Local<v8::Promise> promise = value.As<v8::Promise>();
    switch (promise->State()) {
    case v8::Promise::kPending:
        return Settled::kPending;
    case v8::Promise::kRejected:
        *result = promise->Result();
        return Settled::kRejected;
    case v8::Promise::kFulfilled:
        break;
    }
    *result = promise->Result();
    return Settled::kFulfilled;
}

int stop_code(iso_worker *w)
{
    int reason = w->stop_reason.load();
    return reason ? reason : ED_ETERMINATED;
}

v8::Local<v8::String> byte_string(v8::Isolate *isolate, const char *s, size_t len)
{
    v8::Local<v8::String> out;
    if (len > (size_t)v8::String::kMaxLength ||
        !v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t *>(s),
                                    v8::NewStringType::kNormal, (int)len)
             .ToLocal(&out))
        return v8::String::Empty(isolate);
    return out;
}

/* "undefined", "null", "a string", "an object"... for a message about a wrong value. */
std::string describe_type(v8::Isolate *isolate, v8::Local<v8::Value> v)
{
    if (v->IsUndefined())
        return "undefined";
    if (v->IsNull())
        return "null";
    std::string type = utf8(isolate, v->TypeOf(isolate), 64);
    return (type == "object" ? "an " : "a ") + type;
}

/* dispatch()'s arguments: handler, env, method, url, flat headers, body buffer. */
int request_args(iso_worker *w, v8::Local<v8::Context> context, const iso_request *req,
                 v8::Local<v8::Value> *args, v8::TryCatch &try_catch, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    args[0] = w->handler.Get(isolate);
    args[1] = w->env.Get(isolate);
    args[2] = byte_string(isolate, req->method, strlen(req->method));
    v8::Local<v8::String> url;
    if (!str(isolate, req->url ? req->url : "", req->url_len).ToLocal(&url))
        return ed_error_set(err, ED_EINVAL, "request URL too long");
    args[3] = url;
    std::vector<v8::Local<v8::Value>> flat;
    flat.reserve(2 * req->n_headers);
    for (size_t i = 0; i < req->n_headers; i++) {
        const iso_header &h = req->headers[i];
        flat.push_back(byte_string(isolate, h.name, h.name_len));
        flat.push_back(byte_string(isolate, h.value, h.value_len));
    }
    args[4] = v8::Array::New(isolate, flat.data(), flat.size());
    args[5] = v8::Undefined(isolate);
    if (req->body) {
        v8::Local<v8::Value> n = v8::Number::New(isolate, (double)req->body_len);
        v8::Local<v8::Value> buffer;
        if (!w->hooks.new_buffer.Get(isolate)
                 ->Call(context, v8::Undefined(isolate), 1, &n)
                 .ToLocal(&buffer))
            return js_failure(w, try_catch, ED_EJS, "the request body does not fit in memory", err);
        if (!buffer->IsArrayBuffer() || buffer.As<v8::ArrayBuffer>()->ByteLength() != req->body_len)
            return ed_error_set(err, ED_EJS, "the request body does not fit in memory");
        if (req->body_len)
            memcpy(buffer.As<v8::ArrayBuffer>()->Data(), req->body, req->body_len);
        args[5] = buffer;
    }
    return 0;
}

/* A response head as C sees it: the strings copied out of the isolate into one arena. */
struct Head {
    std::string arena;
    std::vector<size_t> offsets; /* name, name end, value, value end, ... */
    std::vector<iso_header> headers;
};

bool field_ok(const char *p, size_t n, bool name)
{
    if (name && n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return false;
    return true;
}

int read_head(v8::Isolate *isolate, v8::Local<v8::Context> context, v8::Local<v8::Value> v,
              Head *head, ed_error *err)
{
    if (!v->IsArray() || v.As<v8::Array>()->Length() % 2)
        return ed_error_set(err, ED_EBADRESPONSE, "malformed response headers");
    v8::Local<v8::Array> flat = v.As<v8::Array>();
    uint32_t n = flat->Length();
    for (uint32_t i = 0; i < n; i++) {
        v8::Local<v8::Value> s;
        if (!flat->Get(context, i).ToLocal(&s) || !s->IsString() ||
            !s.As<v8::String>()->ContainsOnlyOneByte())
            return ed_error_set(err, ED_EBADRESPONSE, "malformed response header");
        size_t at = head->arena.size(), len = (size_t)s.As<v8::String>()->Length();
        head->arena.resize(at + len);
        s.As<v8::String>()->WriteOneByte(isolate, reinterpret_cast<uint8_t *>(&head->arena[at]), 0,
                                         (int)len, v8::String::NO_NULL_TERMINATION);
        if (!field_ok(&head->arena[at], len, i % 2 == 0))
            return ed_error_set(err, ED_EBADRESPONSE, "a response header contains CR, LF or NUL");
        head->offsets.push_back(at);
        head->offsets.push_back(at + len);
    }
    const char *base = head->arena.data();
    for (size_t i = 0; i + 3 < head->offsets.size(); i += 4)
        head->headers.push_back(
            iso_header{base + head->offsets[i], head->offsets[i + 1] - head->offsets[i],
                       base + head->offsets[i + 2], head->offsets[i + 3] - head->offsets[i + 2]});
    return 0;
}

/* Cancels the worker's response stream (the client is gone or the stream stalled) and lets
 * its cancel() run; what it throws has nowhere to go. */
void cancel(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> reader,
            v8::TryCatch &try_catch)
{
    v8::Isolate *isolate = w->isolate;
    v8::Local<v8::Value> args[] = {reader, v8::Undefined(isolate)};
    v8::MaybeLocal<v8::Value> r =
        w->hooks.cancel_stream.Get(isolate)->Call(context, v8::Undefined(isolate), 2, args);
    (void)r;
    if (!w->stop_reason.load())
        isolate->PerformMicrotaskCheckpoint();
    if (!try_catch.HasTerminated())
        try_catch.Reset();
}

/* Drains a ReadableStream (already locked by reader) into the sink; on_head was called. */
void drain_stream(Exchange &x, v8::Local<v8::Context> context, v8::Local<v8::Value> reader,
                  v8::TryCatch &try_catch)
{
    iso_worker *w = x.w;
    v8::Isolate *isolate = w->isolate;
    std::vector<uint8_t> scratch;
    for (;;) {
        v8::HandleScope scope(isolate);
        v8::Local<v8::Value> promise, chunk;
        if (!w->hooks.read_chunk.Get(isolate)
                 ->Call(context, v8::Undefined(isolate), 1, &reader)
                 .ToLocal(&promise)) {
            ed_error e = {0, nullptr};
            int code = js_failure(w, try_catch, ED_EJS, "reading the response body", &e);
            x.abort(code, ed_error_msg(&e));
            ed_error_dispose(&e);
            return;
        }
        switch (settle(w, promise, &chunk)) {
        case Settled::kStopped:
            return x.abort(stop_code(w));
        case Settled::kRejected:
            return x.abort(ED_EJS, exception_text(isolate, chunk));
        case Settled::kPending: {
            cancel(w, context, reader, try_catch);
            return x.abort(ED_EJS, "the response body stream stalled: nothing can enqueue more "
                                   "data, and it was never closed");
        }
        case Settled::kFulfilled:
            break;
        }
        if (chunk->IsNull())
            return x.end();
        if (!chunk->IsUint8Array())
            return x.abort(ED_EJS, "the response body stream produced a chunk that is not bytes");
        v8::Local<v8::Uint8Array> view = chunk.As<v8::Uint8Array>();
        size_t len = view->ByteLength();
        const uint8_t *data = view_bytes(view, scratch);
        if (len && x.sink->on_body(x.ud, data, len)) {
            cancel(w, context, reader, try_catch);
            return x.abort(ED_ECANCELED);
        }
    }
}

int respond(Exchange &x, v8::Local<v8::Context> context, v8::Local<v8::Value> value,
            v8::TryCatch &try_catch, ed_error *err)
{
    iso_worker *w = x.w;
    v8::Isolate *isolate = w->isolate;
    v8::Local<v8::Value> parts;
    if (!w->hooks.response_parts.Get(isolate)
             ->Call(context, v8::Undefined(isolate), 1, &value)
             .ToLocal(&parts))
        return js_failure(w, try_catch, ED_EJS, nullptr, err);
    if (parts->IsUndefined())
        return ed_error_set(err, ED_EBADRESPONSE,
                            "the fetch handler's result is %s, not a Response",
                            describe_type(isolate, value).c_str());
    v8::Local<v8::Value> status_v, headers_v, body;
    if (!parts->IsArray() || !parts.As<v8::Array>()->Get(context, 0).ToLocal(&status_v) ||
        !parts.As<v8::Array>()->Get(context, 1).ToLocal(&headers_v) ||
        !parts.As<v8::Array>()->Get(context, 2).ToLocal(&body) || !status_v->IsInt32())
        return ed_error_set(err, ED_EBADRESPONSE, "malformed Response");
    int status = status_v.As<v8::Int32>()->Value();
    if (status < 200 || status > 599)
        return ed_error_set(err, ED_EBADRESPONSE, "Response status %d is out of range", status);
    Head head;
    int rc = read_head(isolate, context, headers_v, &head, err);
    if (rc)
        return rc;

    /* Everything that can fail before the head is done; from here on failures end in
     * on_abort. */
    int64_t length = 0;
    std::vector<uint8_t> scratch;
    const uint8_t *bytes = nullptr;
    v8::Local<v8::Value> reader;
    if (body->IsString()) {
        length = body.As<v8::String>()->Utf8Length(isolate);
    } else if (body->IsUint8Array()) {
        length = (int64_t)body.As<v8::Uint8Array>()->ByteLength();
        bytes = view_bytes(body.As<v8::Uint8Array>(), scratch);
    } else if (body->IsObject()) {
        length = -1;
        if (!w->hooks.open_stream.Get(isolate)
                 ->Call(context, v8::Undefined(isolate), 1, &body)
                 .ToLocal(&reader))
            return js_failure(w, try_catch, ED_EJS, nullptr, err);
    } else if (!body->IsNull()) {
        return ed_error_set(err, ED_EBADRESPONSE, "malformed Response body");
    }

    x.head_sent = true;
    if (x.sink->on_head(x.ud, status, head.headers.data(), head.headers.size(), length)) {
        if (!reader.IsEmpty())
            cancel(w, context, reader, try_catch);
        x.abort(ED_ECANCELED);
        return 0;
    }
    if (body->IsString()) {
        if (utf8_pieces(isolate, body.As<v8::String>(), emit_body, &x))
            x.abort(ED_ECANCELED);
        else
            x.end();
    } else if (bytes) {
        if (length > 0 && x.sink->on_body(x.ud, bytes, (size_t)length))
            x.abort(ED_ECANCELED);
        else
            x.end();
    } else if (!reader.IsEmpty()) {
        drain_stream(x, context, reader, try_catch);
    } else {
        x.end();
    }
    return 0;
}

int run_fetch(Exchange &x, const iso_request *req, ed_error *err)
{
    iso_worker *w = x.w;
    ISO_SCOPE(w);
    RunScope run(w);
    v8::Local<v8::Value> args[6];
    int rc = request_args(w, context, req, args, try_catch, err);
    if (rc)
        return rc;
    v8::Local<v8::Value> promise, value;
    if (!w->hooks.dispatch.Get(isolate)
             ->Call(context, v8::Undefined(isolate), 6, args)
             .ToLocal(&promise))
        return js_failure(w, try_catch, ED_EJS, nullptr, err);
    switch (settle(w, promise, &value)) {
    case Settled::kStopped:
        rc = stopped(w, err);
        return rc ? rc : ed_error_set(err, ED_ETERMINATED, "%s", ed_strerror(ED_ETERMINATED));
    case Settled::kPending:
        return ed_error_set(err, ED_EJS,
                            "the fetch handler's promise never settled: the script will never "
                            "generate a response");
    case Settled::kRejected:
        return ed_error_set(err, ED_EJS, "%s", exception_text(isolate, value).c_str());
    case Settled::kFulfilled:
        break;
    }
    rc = respond(x, context, value, try_catch, err);
    if (!w->stop_reason.load())
        pump(w);
    if (!w->stop_reason.load())
        check_heap(w);
    return rc;
}

} // namespace

} // namespace iso

extern "C" int iso_worker_fetch(struct iso_worker *w, const struct iso_request *req,
                                const struct iso_response_sink *sink, void *ud,
                                struct ed_error *err) noexcept
{
    if (!w || !req || !req->method || !sink || !sink->on_head || !sink->on_body || !sink->on_end ||
        !sink->on_abort)
        return ed_error_set(err, ED_EINVAL, "iso_worker_fetch: missing argument");
    if (w->busy)
        return ed_error_set(err, ED_EBUSY, "the worker is already dispatching a request");
    if (w->stop_reason.load())
        return ed_error_set(err, ED_EINVAL, "the worker is retired (%s)",
                            ed_strerror(w->stop_reason.load()));
    iso::Exchange x{w, sink, ud};
    int rc;
    w->busy = true;
    try {
        rc = iso::run_fetch(x, req, err);
    } catch (...) {
        /* std::bad_alloc or std::length_error from a container: nothing else throws */
        rc = ed_error_set(err, ED_ENOMEM, "out of memory dispatching a request");
    }
    w->busy = false;
    if (x.head_sent) {
        if (!x.finished)
            x.abort(rc ? rc : ED_ENOMEM);
        return 0;
    }
    return rc;
}
