/*
 * The native half of the runtime's streams (isolates/js/30_streams.js) and of a request body
 * that is still arriving while the worker runs. ArrayBuffer transfer (the Streams Standard
 * detaches a buffer when a byte stream takes it) moves the backing store into a new buffer.
 * An incoming body is a source the host registered with the fetch (iso_request.body_source):
 * the runtime's request.body asks how many bytes arrived, copies them into an ArrayBuffer it
 * allocated itself (so the worker's memory limit refuses it with a RangeError rather than V8
 * aborting), and when nothing has arrived yet waits on a promise that iso_worker_body_ready()
 * settles. While a worker waits on its host that way, or a response stream is paused for the
 * host (iso_worker_fetch_resume), the shim knows something will wake it: w->host_waits.
 */
#include <algorithm>
#include <cstring>

#include "isolates/shim_int.h"

namespace iso {

namespace {

constexpr size_t kMaxBodyPiece = 256u << 10;

iso_worker *worker_of(v8::Isolate *isolate)
{
    return static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
}

void throw_type_error(v8::Isolate *isolate, const std::string &msg)
{
    v8::Local<v8::String> s;
    if (!str(isolate, msg.data(), msg.size()).ToLocal(&s))
        s = str(isolate, "error");
    isolate->ThrowException(v8::Exception::TypeError(s));
}

/* native.transfer(buffer) -> a new ArrayBuffer over the same memory; buffer is detached. A
 * buffer that cannot be detached (WebAssembly memory) is returned as it is. */
void transfer(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    if (info.Length() < 1 || !info[0]->IsArrayBuffer())
        return throw_type_error(isolate, "transfer: not an ArrayBuffer");
    v8::Local<v8::ArrayBuffer> ab = info[0].As<v8::ArrayBuffer>();
    if (ab->WasDetached())
        return throw_type_error(isolate, "The ArrayBuffer has been detached");
    if (!ab->IsDetachable()) {
        info.GetReturnValue().Set(ab);
        return;
    }
    std::shared_ptr<v8::BackingStore> store = ab->GetBackingStore();
    ab->Detach();
    info.GetReturnValue().Set(v8::ArrayBuffer::New(isolate, std::move(store)));
}

/* native.isDetached(buffer) -> bool */
void is_detached(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    bool detached = info.Length() > 0 && info[0]->IsArrayBuffer() &&
                    info[0].As<v8::ArrayBuffer>()->WasDetached();
    info.GetReturnValue().Set(detached);
}

/* The body behind handle, or nullptr with a TypeError thrown. */
BodyRef *body_of(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    uint64_t id =
        info.Length() > 0 && info[0]->IsNumber() ? (uint64_t)info[0].As<v8::Number>()->Value() : 0;
    auto it = w->bodies.find(id);
    if (it == w->bodies.end()) {
        throw_type_error(isolate, "The request this body belongs to has ended; its body can no "
                                  "longer be read.");
        return nullptr;
    }
    return &it->second;
}

/* What the source says now: 0 with data and len, ISO_BODY_END, or a negative code (thrown). */
int peek(const v8::FunctionCallbackInfo<v8::Value> &info, BodyRef *b, const uint8_t **data,
         size_t *len)
{
    *data = nullptr;
    *len = 0;
    int rc = b->src->peek(b->ud, data, len);
    if (rc < 0) {
        const char *why = rc == ED_ETOOBIG     ? "it is larger than the request body limit"
                          : rc == ED_ETIMEDOUT ? "the client sent it too slowly"
                          : rc == ED_ECANCELED ? "the client went away"
                          : rc == ED_EHTTP     ? "it was malformed"
                                               : ed_strerror(rc);
        throw_type_error(info.GetIsolate(),
                         std::string("The request body could not be received completely: ") + why);
    }
    return rc;
}

/* native.bodyAvailable(handle) -> bytes ready to take (at most 256 KiB), 0 when none arrived
 * yet, -1 at the end of the body; throws a TypeError when it cannot be completed. */
void body_available(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    BodyRef *b = body_of(info);
    if (!b)
        return;
    const uint8_t *data;
    size_t len;
    int rc = peek(info, b, &data, &len);
    if (rc < 0)
        return;
    if (rc == ISO_BODY_END && len == 0) {
        info.GetReturnValue().Set(-1);
        return;
    }
    info.GetReturnValue().Set((double)std::min(len, kMaxBodyPiece));
}

/* native.bodyTake(handle, buffer) -> bytes copied into buffer (all of it that is ready). */
void body_take(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    BodyRef *b = body_of(info);
    if (!b)
        return;
    if (info.Length() < 2 || !info[1]->IsArrayBuffer())
        return throw_type_error(info.GetIsolate(), "bodyTake: not an ArrayBuffer");
    v8::Local<v8::ArrayBuffer> ab = info[1].As<v8::ArrayBuffer>();
    const uint8_t *data;
    size_t len;
    if (peek(info, b, &data, &len) < 0)
        return;
    size_t n = std::min(len, ab->ByteLength());
    if (n) {
        memcpy(ab->Data(), data, n);
        b->src->consume(b->ud, n);
    }
    info.GetReturnValue().Set((double)n);
}

/* native.bodyWait(handle) -> a promise settled when more of the body arrived (or it ended or
 * failed): iso_worker_body_ready(). */
void body_wait(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    BodyRef *b = body_of(info);
    if (!b)
        return;
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    if (!b->waiting.IsEmpty()) {
        info.GetReturnValue().Set(b->waiting.Get(isolate)->GetPromise());
        return;
    }
    v8::Local<v8::Promise::Resolver> resolver;
    if (!v8::Promise::Resolver::New(context).ToLocal(&resolver))
        return;
    b->waiting.Reset(isolate, resolver);
    w->host_waits++;
    info.GetReturnValue().Set(resolver->GetPromise());
}

} // namespace

const NativeFunction kStreamNatives[] = {
    {"transfer", transfer, "30_streams.js"},
    {"isDetached", is_detached, "30_streams.js"},
    {"bodyAvailable", body_available},
    {"bodyTake", body_take},
    {"bodyWait", body_wait},
    {nullptr, nullptr},
};

uint64_t register_body(iso_worker *w, const iso_body_source *src, void *ud, uint64_t inv)
{
    uint64_t id = w->next_body++;
    BodyRef &b = w->bodies[id];
    b.src = src;
    b.ud = ud;
    b.inv = inv;
    return id;
}

void release_body(iso_worker *w, uint64_t id)
{
    auto it = w->bodies.find(id);
    if (it == w->bodies.end())
        return;
    if (!it->second.waiting.IsEmpty())
        w->host_waits--;
    w->bodies.erase(it);
}

} // namespace iso

extern "C" void iso_worker_body_ready(struct iso_worker *w, void *body_ud) noexcept
{
    if (!w || w->stop_reason.load() || w->free_requested)
        return;
    uint64_t id = 0;
    for (auto &entry : w->bodies) {
        if (entry.second.ud == body_ud && !entry.second.waiting.IsEmpty()) {
            id = entry.first;
            break;
        }
    }
    if (!id)
        return;
    iso::BodyRef &b = w->bodies[id];
    try {
        iso::run_in(w, iso::find_invocation(w, b.inv),
                    [&](v8::Local<v8::Context> context, v8::TryCatch &, iso::Entry &) {
                        auto it = w->bodies.find(id);
                        if (it == w->bodies.end() || it->second.waiting.IsEmpty())
                            return;
                        v8::Local<v8::Promise::Resolver> r = it->second.waiting.Get(w->isolate);
                        it->second.waiting.Reset();
                        w->host_waits--;
                        v8::Maybe<bool> ok = r->Resolve(context, v8::Undefined(w->isolate));
                        (void)ok;
                    });
    } catch (...) {
        /* Out of memory: the wait stays pending; the wall-time limit ends the request. */
    }
}
