/*
 * Values crossing between isolates: V8's structured clone (ValueSerializer) with one
 * extension, the marker. What the clone cannot copy — a function, an RpcTarget, a stub, a
 * ReadableStream — the runtime's encode() exports into the sender's export table and replaces
 * with a marker (a host object carrying the export's id and kind); a Request or Response
 * becomes an array headed by a tag marker. The serializer writes a marker as a reference and
 * the receiver's deserializer reads it back as a marker that also names the peer it came from;
 * the runtime's revive() then turns each into a stub, a stream, a Request or a Response
 * (isolates/js/65_rpc.js), since no JavaScript may run inside the deserializer. Anything else
 * that V8 cannot clone fails with a DataCloneError the worker can catch. Output is bounded
 * (kMaxSerialized) so that one value cannot take the process's memory outside the heap limit.
 */
#include <cstdlib>
#include <cstring>

#include "isolates/shim_int.h"

namespace iso {

namespace {

constexpr uint32_t kStubTag = 0x53545542; /* "STUB" */

void throw_clone_error(v8::Isolate *isolate, v8::Local<v8::String> message)
{
    v8::Local<v8::Value> e = v8::Exception::Error(message);
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    if (e->IsObject())
        e.As<v8::Object>()
            ->Set(context, str(isolate, "name"), str(isolate, "DataCloneError"))
            .FromMaybe(false);
    isolate->ThrowException(e);
}

class Writer final : public v8::ValueSerializer::Delegate {
  public:
    explicit Writer(iso_worker *w) : w_(w)
    {
    }
    void ThrowDataCloneError(v8::Local<v8::String> message) override
    {
        throw_clone_error(w_->isolate, message);
    }
    v8::Maybe<bool> WriteHostObject(v8::Isolate *isolate, v8::Local<v8::Object> object) override
    {
        {
            uint64_t id, peer;
            int kind;
            if (marker_info(w_, object, &id, &kind, &peer)) {
                ser_->WriteUint32(kStubTag);
                ser_->WriteUint64(id);
                ser_->WriteUint32((uint32_t)kind);
                return v8::Just(true);
            }
        }
        throw_clone_error(isolate, str(isolate, "This host object could not be cloned."));
        return v8::Just(false); /* the exception is what V8 looks at */
    }
    void *ReallocateBufferMemory(void *old_buffer, size_t size, size_t *actual_size) override
    {
        if (size > kMaxSerialized)
            return nullptr; /* V8 reports it as a DataCloneError (out of memory) */
        void *p = realloc(old_buffer, size);
        if (p)
            *actual_size = size;
        return p;
    }
    void FreeBufferMemory(void *buffer) override
    {
        free(buffer);
    }
    v8::ValueSerializer *ser_ = nullptr;

  private:
    iso_worker *w_;
};

class Reader final : public v8::ValueDeserializer::Delegate {
  public:
    Reader(iso_worker *w, v8::Local<v8::Context> context, uint64_t peer)
        : w_(w), context_(context), peer_(peer)
    {
    }
    /* No JavaScript may run while V8 deserializes: a marker stands in for the stub until
     * revive() replaces it. */
    v8::MaybeLocal<v8::Object> ReadHostObject(v8::Isolate *isolate) override
    {
        if (plain_) {
            throw_clone_error(isolate, str(isolate, "Unexpected host object in stored value."));
            return {};
        }
        uint32_t tag = 0, kind = 0;
        uint64_t id = 0;
        if (!des_->ReadUint32(&tag) || tag != kStubTag || !des_->ReadUint64(&id) ||
            !des_->ReadUint32(&kind)) {
            throw_clone_error(isolate, str(isolate, "Unreadable stub in a serialized value."));
            return {};
        }
        markers_++;
        return new_marker(w_, context_, id, (int)kind, peer_);
    }
    v8::ValueDeserializer *des_ = nullptr;
    size_t markers_ = 0;
    bool plain_ = false; /* a stored value: no markers */

  private:
    iso_worker *w_;
    v8::Local<v8::Context> context_;
    uint64_t peer_;
};

bool write(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> value,
           std::string *out)
{
    Writer writer(w);
    v8::ValueSerializer ser(w->isolate, &writer);
    writer.ser_ = &ser;
    ser.WriteHeader();
    if (ser.WriteValue(context, value).IsNothing())
        return false;
    std::pair<uint8_t *, size_t> buf = ser.Release();
    try {
        out->assign(reinterpret_cast<const char *>(buf.first), buf.second);
    } catch (...) {
        free(buf.first);
        throw_clone_error(w->isolate, str(w->isolate, "Out of memory cloning a value."));
        return false;
    }
    free(buf.first);
    return true;
}

} // namespace

void init_markers(iso_worker *w)
{
    v8::HandleScope scope(w->isolate);
    v8::Local<v8::FunctionTemplate> t = v8::FunctionTemplate::New(w->isolate);
    t->InstanceTemplate()->SetInternalFieldCount(3);
    w->marker.Reset(w->isolate, t);
}

v8::MaybeLocal<v8::Object> new_marker(iso_worker *w, v8::Local<v8::Context> context, uint64_t id,
                                      int kind, uint64_t peer)
{
    v8::Isolate *isolate = w->isolate;
    v8::Local<v8::Object> o;
    if (!w->marker.Get(isolate)->InstanceTemplate()->NewInstance(context).ToLocal(&o))
        return {};
    o->SetInternalField(0, v8::Number::New(isolate, (double)id));
    o->SetInternalField(1, v8::Integer::New(isolate, kind));
    o->SetInternalField(2, v8::Number::New(isolate, (double)peer));
    return o;
}

void unexport(iso_worker *w, const std::vector<uint64_t> &ids)
{
    for (uint64_t id : ids)
        w->exports.erase(id);
}

bool serialize(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> value, Mode mode,
               ExportLog *log, std::string *out)
{
    ExportLog own;
    if (!log)
        log = &own;
    size_t first = log->ids.size();
    auto undo = [&]() {
        for (size_t i = first; i < log->ids.size(); i++)
            w->exports.erase(log->ids[i]);
        log->ids.resize(first);
    };
    if (value->IsObject()) {
        /* Only objects can hold what encode() replaces; primitives go straight through. */
        v8::Isolate *isolate = w->isolate;
        ExportLog *outer = w->export_log;
        w->export_log = log;
        v8::Local<v8::Value> argv[] = {value, v8::Integer::New(isolate, (int)mode)};
        v8::MaybeLocal<v8::Value> encoded =
            w->hooks.encode.Get(isolate)->Call(context, v8::Undefined(isolate), 2, argv);
        w->export_log = outer;
        if (!encoded.ToLocal(&value)) {
            undo();
            return false;
        }
    }
    if (!write(w, context, value, out)) {
        undo();
        return false;
    }
    return true;
}

v8::MaybeLocal<v8::Value> deserialize(iso_worker *w, v8::Local<v8::Context> context,
                                      const uint8_t *data, size_t len, uint64_t peer)
{
    v8::Isolate *isolate = w->isolate;
    if (len == 0)
        return v8::Undefined(isolate);
    Reader reader(w, context, peer);
    v8::ValueDeserializer des(isolate, data, len, &reader);
    reader.des_ = &des;
    v8::Maybe<bool> header = des.ReadHeader(context);
    if (header.IsNothing())
        return {}; /* V8 threw */
    if (!header.FromJust()) {
        throw_clone_error(isolate, str(isolate, "Malformed serialized value."));
        return {};
    }
    v8::Local<v8::Value> v;
    if (!des.ReadValue(context).ToLocal(&v))
        return {};
    if (reader.markers_ == 0)
        return v;
    return w->hooks.revive.Get(isolate)->Call(context, v8::Undefined(isolate), 1, &v);
}

bool serialize_plain(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Value> value,
                     std::string *out)
{
    return write(w, context, value, out);
}

v8::MaybeLocal<v8::Value> deserialize_plain(iso_worker *w, v8::Local<v8::Context> context,
                                            const uint8_t *data, size_t len)
{
    v8::Isolate *isolate = w->isolate;
    Reader reader(w, context, 0);
    reader.plain_ = true;
    v8::ValueDeserializer des(isolate, data, len, &reader);
    reader.des_ = &des;
    v8::Maybe<bool> header = des.ReadHeader(context);
    if (header.IsNothing())
        return {};
    if (!header.FromJust()) {
        throw_clone_error(isolate, str(isolate, "Malformed stored value."));
        return {};
    }
    return des.ReadValue(context);
}

bool marker_info(iso_worker *w, v8::Local<v8::Value> v, uint64_t *id, int *kind, uint64_t *peer)
{
    if (!v->IsObject() || w->marker.IsEmpty() || !w->marker.Get(w->isolate)->HasInstance(v))
        return false;
    v8::Local<v8::Object> o = v.As<v8::Object>();
    if (o->InternalFieldCount() != 3)
        return false;
    v8::Local<v8::Value> i = o->GetInternalField(0), k = o->GetInternalField(1),
                         p = o->GetInternalField(2);
    if (!i->IsNumber() || !k->IsInt32() || !p->IsNumber())
        return false;
    *id = (uint64_t)i.As<v8::Number>()->Value();
    *kind = k.As<v8::Int32>()->Value();
    *peer = (uint64_t)p.As<v8::Number>()->Value();
    return true;
}

} // namespace iso
