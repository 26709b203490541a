/*
 * One fetch through a worker: the request crosses into the isolate as strings and one
 * ArrayBuffer, the runtime's dispatch() calls the handler, and the Response leaves through the
 * caller's sink: head first, then the body as one piece (string or bytes) or chunk by chunk (a
 * ReadableStream). The handler may await calls answered on later turns of the loop: the
 * fetch is then an invocation in flight (entry.cc) that moves on whenever its promise, or the
 * promise of the stream's next chunk, has settled. Hello world never leaves the first entry:
 * the handler's promise settles at the first microtask checkpoint and the whole response is
 * delivered before iso_worker_fetch returns.
 */
#include <cstring>
#include <new>

#include "isolates/shim_int.h"

namespace iso {

namespace {

int emit_body(void *p, const uint8_t *data, size_t len)
{
    auto *inv = static_cast<Invocation *>(p);
    if (len == 0)
        return 0;
    int rc = inv->sink->on_body(inv->ud, data, len);
    return rc && rc != ISO_SINK_PAUSE ? ED_ECANCELED : 0; /* a whole body is handed over */
}

std::string error_text(ed_error *e)
{
    std::string text = ed_error_msg(e);
    ed_error_dispose(e);
    return text;
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

/* dispatch()'s arguments: handler, env, method, url, flat headers, body buffer, and for a
 * body still arriving its handle and declared length. */
constexpr int kDispatchArgs = 8;

int request_args(iso_worker *w, v8::Local<v8::Context> context, const iso_request *req,
                 Invocation *inv, v8::Local<v8::Value> *args, v8::TryCatch &try_catch,
                 ed_error *err)
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
    args[6] = v8::Undefined(isolate);
    args[7] = v8::Undefined(isolate);
    if (!req->body && req->body_source) {
        inv->body_id = register_body(w, req->body_source, req->body_ud, inv->id);
        args[6] = v8::Number::New(isolate, (double)inv->body_id);
        args[7] = v8::Number::New(isolate, (double)req->body_length);
    }
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
    if (!w->stop_reason.load() && w->depth == 1)
        isolate->PerformMicrotaskCheckpoint();
    if (!try_catch.HasTerminated())
        try_catch.Reset();
}

void fail(iso_worker *w, Invocation *inv, int code, std::string msg)
{
    complete(w, inv, inv->head_sent ? Invocation::Final::kAbort : Invocation::Final::kFail, code,
             std::move(msg));
}

void fail_js(iso_worker *w, Invocation *inv, v8::TryCatch &try_catch, int code, const char *what)
{
    ed_error e = {0, nullptr};
    int rc = js_failure(w, try_catch, code, what, &e);
    fail(w, inv, rc, error_text(&e));
}

/* A streamed body is usually a new ArrayBuffer per chunk that is garbage once sent, and V8
 * collects young ArrayBuffers only when its heap (not their memory) asks for it: a 100 MB
 * stream left ~40 MB of dead chunks behind. Once the worker's ArrayBuffer memory has grown by
 * kChunkGarbage since the last look, collect: the node's memory stays flat whatever the size
 * of the stream. */
constexpr size_t kChunkGarbage = 8u << 20;

void collect_chunks(iso_worker *w)
{
    size_t used = w->allocator->used();
    if (used < w->buffers_seen + kChunkGarbage) {
        if (used < w->buffers_seen)
            w->buffers_seen = used;
        return;
    }
    w->isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
    w->buffers_seen = w->allocator->used();
}

/* Asks the stream for its next chunk: inv then waits on that promise. */
void read_next(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
               v8::Local<v8::Value> reader, v8::TryCatch &try_catch)
{
    v8::Isolate *isolate = w->isolate;
    v8::Local<v8::Value> promise;
    if (!w->hooks.read_chunk.Get(isolate)
             ->Call(context, v8::Undefined(isolate), 1, &reader)
             .ToLocal(&promise))
        return fail_js(w, inv, try_catch, ED_EJS, "reading the response body");
    inv->awaited.Reset(isolate, promise);
}

/* The handler's result arrived: the head, then the body or the first read of its stream. */
void respond(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
             v8::Local<v8::Value> value, v8::TryCatch &try_catch)
{
    v8::Isolate *isolate = w->isolate;
    v8::Local<v8::Value> parts;
    if (!w->hooks.response_parts.Get(isolate)
             ->Call(context, v8::Undefined(isolate), 1, &value)
             .ToLocal(&parts))
        return fail_js(w, inv, try_catch, ED_EJS, nullptr);
    if (parts->IsUndefined())
        return fail(w, inv, ED_EBADRESPONSE,
                    "the fetch handler's result is " + describe_type(isolate, value) +
                        ", not a Response");
    v8::Local<v8::Value> status_v, headers_v, body, length_v;
    if (!parts->IsArray() || !parts.As<v8::Array>()->Get(context, 0).ToLocal(&status_v) ||
        !parts.As<v8::Array>()->Get(context, 1).ToLocal(&headers_v) ||
        !parts.As<v8::Array>()->Get(context, 2).ToLocal(&body) ||
        !parts.As<v8::Array>()->Get(context, 3).ToLocal(&length_v) || !status_v->IsInt32())
        return fail(w, inv, ED_EBADRESPONSE, "malformed Response");
    int status = status_v.As<v8::Int32>()->Value();
    if (status < 200 || status > 599)
        return fail(w, inv, ED_EBADRESPONSE,
                    "Response status " + std::to_string(status) + " is out of range");
    Head head;
    ed_error e = {0, nullptr};
    int rc = read_head(isolate, context, headers_v, &head, &e);
    if (rc)
        return fail(w, inv, rc, error_text(&e));

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
        /* A stream whose length is known (FixedLengthStream, a body of fixed bytes) leaves
         * with a Content-Length; the shim holds it to that length. */
        length = length_v->IsNumber() && length_v.As<v8::Number>()->Value() >= 0
                     ? (int64_t)length_v.As<v8::Number>()->Value()
                     : -1;
        inv->expected = length;
        if (!stream_hooks(w, context) || !w->hooks.open_stream.Get(isolate)
                                              ->Call(context, v8::Undefined(isolate), 1, &body)
                                              .ToLocal(&reader))
            return fail_js(w, inv, try_catch, ED_EJS, nullptr);
    } else if (!body->IsNull()) {
        return fail(w, inv, ED_EBADRESPONSE, "malformed Response body");
    }

    inv->head_sent = true;
    if (inv->sink->on_head(inv->ud, status, head.headers.data(), head.headers.size(), length)) {
        if (!reader.IsEmpty())
            cancel(w, context, reader, try_catch);
        return fail(w, inv, ED_ECANCELED, ed_strerror(ED_ECANCELED));
    }
    if (body->IsString()) {
        if (utf8_pieces(isolate, body.As<v8::String>(), emit_body, inv))
            return fail(w, inv, ED_ECANCELED, ed_strerror(ED_ECANCELED));
    } else if (bytes) {
        if (length > 0 && emit_body(inv, bytes, (size_t)length))
            return fail(w, inv, ED_ECANCELED, ed_strerror(ED_ECANCELED));
    } else if (!reader.IsEmpty()) {
        inv->state = Invocation::State::kStreaming;
        inv->reader.Reset(isolate, reader);
        return read_next(w, inv, context, reader, try_catch);
    }
    complete(w, inv, Invocation::Final::kEnd, 0);
}

/* A chunk of the response body arrived (or its end). */
void on_chunk(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
              v8::Local<v8::Value> chunk, v8::TryCatch &try_catch)
{
    v8::Isolate *isolate = w->isolate;
    if (chunk->IsNull()) {
        if (inv->expected >= 0 && inv->sent != inv->expected)
            return fail(w, inv, ED_EBADRESPONSE,
                        "the response body stream ended after " + std::to_string(inv->sent) +
                            " of the " + std::to_string(inv->expected) + " bytes it declared");
        return complete(w, inv, Invocation::Final::kEnd, 0);
    }
    v8::Local<v8::Value> reader = inv->reader.Get(isolate);
    if (!chunk->IsUint8Array()) {
        cancel(w, context, reader, try_catch);
        return fail(w, inv, ED_EJS, "the response body stream produced a chunk that is not bytes");
    }
    v8::Local<v8::Uint8Array> view = chunk.As<v8::Uint8Array>();
    size_t len = view->ByteLength();
    if (inv->expected >= 0 && (int64_t)len > inv->expected - inv->sent) {
        cancel(w, context, reader, try_catch);
        return fail(w, inv, ED_EBADRESPONSE,
                    "the response body stream produced more than the " +
                        std::to_string(inv->expected) + " bytes it declared");
    }
    inv->sent += (int64_t)len;
    collect_chunks(w);
    std::vector<uint8_t> scratch;
    const uint8_t *data = view_bytes(view, scratch);
    int rc = len ? inv->sink->on_body(inv->ud, data, len) : 0;
    if (rc == ISO_SINK_PAUSE) {
        inv->paused = true; /* iso_worker_fetch_resume reads on */
        w->host_waits++;
        return;
    }
    if (rc) {
        cancel(w, context, reader, try_catch);
        return fail(w, inv, ED_ECANCELED, ed_strerror(ED_ECANCELED));
    }
    read_next(w, inv, context, reader, try_catch);
}

} // namespace

namespace {

/* inv's awaited promise (or value) v settled. */
void on_settled(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                v8::Local<v8::Value> v, v8::TryCatch &try_catch)
{
    bool rejected = false;
    if (v->IsPromise()) {
        rejected = v.As<v8::Promise>()->State() == v8::Promise::kRejected;
        v = v.As<v8::Promise>()->Result();
    }
    if (rejected)
        return fail(w, inv, ED_EJS, exception_text(w->isolate, v));
    if (inv->state == Invocation::State::kStreaming)
        on_chunk(w, inv, context, v, try_catch);
    else
        respond(w, inv, context, v, try_catch);
}

} // namespace

void fetch_step(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                v8::TryCatch &try_catch)
{
    v8::Local<v8::Value> v = inv->awaited.Get(w->isolate);
    inv->awaited.Reset();
    on_settled(w, inv, context, v, try_catch);
}

void fetch_cancel(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                  v8::TryCatch &try_catch, int code, const std::string &msg)
{
    v8::HandleScope scope(w->isolate);
    if (inv->state == Invocation::State::kStreaming && !inv->reader.IsEmpty())
        cancel(w, context, inv->reader.Get(w->isolate), try_catch);
    fail(w, inv, code, msg);
}

void fetch_stalled(iso_worker *w, Invocation *inv, v8::Local<v8::Context> context,
                   v8::TryCatch &try_catch)
{
    v8::HandleScope scope(w->isolate);
    cancel(w, context, inv->reader.Get(w->isolate), try_catch);
    fail(w, inv, ED_EJS,
         "the response body stream stalled: nothing can enqueue more data, and it was never "
         "closed");
}

} // namespace iso

extern "C" int iso_worker_fetch(struct iso_worker *w, const struct iso_request *req,
                                const struct iso_response_sink *sink, void *ud,
                                struct ed_error *err) noexcept
{
    if (!w || !req || !req->method || !sink || !sink->on_head || !sink->on_body || !sink->on_end ||
        !sink->on_abort || !sink->on_fail)
        return ed_error_set(err, ED_EINVAL, "iso_worker_fetch: missing argument");
    if (w->stop_reason.load() || w->free_requested)
        return ed_error_set(
            err, ED_EINVAL, "the worker is retired (%s)",
            ed_strerror(w->stop_reason.load() ? w->stop_reason.load() : ED_ECANCELED));
    using iso::Invocation;
    Invocation *inv = iso::new_invocation(w, Invocation::Kind::kFetch);
    if (!inv)
        return ed_error_set(err, ED_ENOMEM, "out of memory dispatching a request");
    inv->sink = sink;
    inv->ud = ud;
    inv->cpu_budget = req->cpu_budget_ns;
    inv->wall_budget = req->wall_budget_ns;
    inv->sub_limit = req->sub_requests;
    inv->cpu_used_out = req->cpu_used_ns;
    try {
        iso::track(w, inv);
    } catch (...) {
        iso::recycle(w, inv);
        return ed_error_set(err, ED_ENOMEM, "out of memory dispatching a request");
    }
    iso::run_in(w, inv,
                [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, iso::Entry &entry) {
                    v8::Isolate *isolate = w->isolate;
                    v8::Local<v8::Value> args[iso::kDispatchArgs];
                    ed_error e = {0, nullptr};
                    int rc = iso::request_args(w, context, req, inv, args, try_catch, &e);
                    if (rc)
                        return iso::fail(w, inv, rc, iso::error_text(&e));
                    v8::Local<v8::Value> promise;
                    if (!w->hooks.dispatch.Get(isolate)
                             ->Call(context, v8::Undefined(isolate), iso::kDispatchArgs, args)
                             .ToLocal(&promise))
                        return iso::fail_js(w, inv, try_catch, ED_EJS, nullptr);
                    if (entry.outermost()) {
                        /* The common case settles at once: no handle to keep, nothing to look up. */
                        isolate->PerformMicrotaskCheckpoint();
                        if (!w->stop_reason.load() && !isolate->IsExecutionTerminating() &&
                            (!promise->IsPromise() ||
                             promise.As<v8::Promise>()->State() != v8::Promise::kPending))
                            return iso::on_settled(w, inv, context, promise, try_catch);
                    }
                    inv->awaited.Reset(isolate, promise);
                });
    return 0;
}

namespace {

/* The in-flight fetch of w whose sink ud is ud, or nullptr. */
iso::Invocation *fetch_of(struct iso_worker *w, void *ud)
{
    for (iso::Invocation *inv : w->inflight)
        if (inv->kind == iso::Invocation::Kind::kFetch && inv->ud == ud)
            return inv;
    return nullptr;
}

} // namespace

extern "C" int iso_worker_fetch_resume(struct iso_worker *w, void *ud) noexcept
{
    if (!w || w->stop_reason.load() || w->free_requested)
        return ED_ENOENT;
    iso::Invocation *inv = fetch_of(w, ud);
    if (!inv || !inv->paused)
        return ED_ENOENT;
    inv->paused = false;
    w->host_waits--;
    try {
        iso::run_in(w, inv,
                    [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, iso::Entry &) {
                        iso::read_next(w, inv, context, inv->reader.Get(w->isolate), try_catch);
                    });
    } catch (...) {
        return ED_ENOMEM;
    }
    return 0;
}

extern "C" int iso_worker_fetch_cancel(struct iso_worker *w, void *ud) noexcept
{
    if (!w || w->stop_reason.load() || w->free_requested)
        return ED_ENOENT;
    iso::Invocation *inv = fetch_of(w, ud);
    if (!inv || inv->state != iso::Invocation::State::kStreaming)
        return ED_ENOENT; /* no head yet: the sink refuses it when it comes */
    try {
        iso::run_in(w, inv,
                    [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch, iso::Entry &) {
                        iso::cancel(w, context, inv->reader.Get(w->isolate), try_catch);
                        iso::fail(w, inv, ED_ECANCELED, ed_strerror(ED_ECANCELED));
                    });
    } catch (...) {
        return ED_ENOMEM;
    }
    return 0;
}
