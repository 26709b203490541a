/*
 * Native halves of small Web APIs whose JavaScript lives in isolates/js/: the URL Standard's
 * "domain to ASCII" (UTS #46 through ICU 72, the ICU libnode itself links, for
 * isolates/js/12_url.js) and structuredClone() (V8's ValueSerializer within one isolate, with
 * ArrayBuffer transfer, for isolates/js/05_globals.js). Both are listed in the encoding natives'
 * table (encoding.cc), so they are part of the snapshot's external references.
 */
#include <unicode/uidna.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "isolates/shim_int.h"

namespace iso {

namespace {

/* ---- IDNA ------------------------------------------------------------------------------ */

/* The URL Standard's domain to ASCII with beStrict false: CheckHyphens, UseSTD3ASCIIRules and
 * VerifyDnsLength off, CheckBidi and CheckJoiners on, nontransitional processing. ICU cannot
 * turn the hyphen and length checks off, so their errors are ignored instead. */
constexpr uint32_t kIgnoredErrors = UIDNA_ERROR_EMPTY_LABEL | UIDNA_ERROR_LABEL_TOO_LONG |
                                    UIDNA_ERROR_DOMAIN_NAME_TOO_LONG | UIDNA_ERROR_LEADING_HYPHEN |
                                    UIDNA_ERROR_TRAILING_HYPHEN | UIDNA_ERROR_HYPHEN_3_4;

/* One UTS #46 instance for the process: immutable once opened, usable from any thread. */
UIDNA *uts46()
{
    static std::once_flag once;
    static UIDNA *idna;
    std::call_once(once, [] {
        UErrorCode status = U_ZERO_ERROR;
        UIDNA *p =
            uidna_openUTS46(UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ |
                                UIDNA_NONTRANSITIONAL_TO_ASCII | UIDNA_NONTRANSITIONAL_TO_UNICODE,
                            &status);
        idna = U_SUCCESS(status) ? p : nullptr;
    });
    return idna;
}

/* native.domainToASCII(string) -> the ASCII domain, or null when UTS #46 fails it */
void domain_to_ascii_or_throw(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    if (!info[0]->IsString()) {
        isolate->ThrowException(
            v8::Exception::TypeError(str(isolate, "domainToASCII: bad argument")));
        return;
    }
    UIDNA *idna = uts46();
    if (!idna) {
        isolate->ThrowException(
            v8::Exception::Error(str(isolate, "domainToASCII: IDNA is not available")));
        return;
    }
    std::string in = utf8(isolate, info[0].As<v8::String>(), 1 << 20);
    std::string out(in.size() * 4 + 64, '\0');
    for (int attempt = 0; attempt < 2; attempt++) {
        UErrorCode status = U_ZERO_ERROR;
        UIDNAInfo result = UIDNA_INFO_INITIALIZER;
        int32_t n = uidna_nameToASCII_UTF8(idna, in.data(), (int32_t)in.size(), &out[0],
                                           (int32_t)out.size(), &result, &status);
        if (status == U_BUFFER_OVERFLOW_ERROR && attempt == 0) {
            out.assign((size_t)n + 1, '\0');
            continue;
        }
        if (U_FAILURE(status) || (result.errors & ~kIgnoredErrors) != 0) {
            info.GetReturnValue().SetNull();
            return;
        }
        v8::Local<v8::String> s;
        if (str(isolate, out.data(), (size_t)n).ToLocal(&s))
            info.GetReturnValue().Set(s);
        return;
    }
    info.GetReturnValue().SetNull();
}

} // namespace

void web_domain_to_ascii(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    try {
        domain_to_ascii_or_throw(info);
    } catch (...) {
        /* No C++ exception may unwind through V8's frames. */
        v8::Isolate *isolate = info.GetIsolate();
        isolate->ThrowException(v8::Exception::RangeError(str(isolate, "out of memory")));
    }
}

namespace {

/* ---- structuredClone ------------------------------------------------------------------- */

/* Throws new DOMException(message, "DataCloneError") with the runtime's class (passed in by the
 * caller, since the natives cannot reach `internals`). */
void throw_data_clone_error(v8::Isolate *isolate, v8::Local<v8::Function> dom_exception,
                            v8::Local<v8::String> message)
{
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    v8::Local<v8::Value> args[] = {message, str(isolate, "DataCloneError")};
    v8::Local<v8::Object> e;
    if (dom_exception->NewInstance(context, 2, args).ToLocal(&e))
        isolate->ThrowException(e);
}

class CloneWriter final : public v8::ValueSerializer::Delegate {
  public:
    CloneWriter(v8::Isolate *isolate, v8::Local<v8::Function> dom_exception)
        : isolate_(isolate), dom_exception_(dom_exception)
    {
    }
    void ThrowDataCloneError(v8::Local<v8::String> message) override
    {
        throw_data_clone_error(isolate_, dom_exception_, message);
    }
    v8::Maybe<bool> WriteHostObject(v8::Isolate *isolate, v8::Local<v8::Object>) override
    {
        throw_data_clone_error(isolate, dom_exception_,
                               str(isolate, "This host object could not be cloned."));
        return v8::Just(false); /* the exception is what V8 looks at (Nothing() trips GCC's
                                   uninitialised-use warning under ASan) */
    }
    void *ReallocateBufferMemory(void *old_buffer, size_t size, size_t *actual_size) override
    {
        if (size > kMaxSerialized)
            return nullptr; /* V8 reports it as a DataCloneError */
        void *p = realloc(old_buffer, size);
        if (p)
            *actual_size = size;
        return p;
    }
    void FreeBufferMemory(void *buffer) override
    {
        free(buffer);
    }

  private:
    v8::Isolate *isolate_;
    v8::Local<v8::Function> dom_exception_;
};

/* native.structuredClone(value, transfer: ArrayBuffer[], DOMException) -> the clone; the
 * transferred buffers are detached and their memory moves to the clone. The runtime checked
 * transfer (ArrayBuffers only, no duplicates). */
void structured_clone_or_throw(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    if (!info[1]->IsArray() || !info[2]->IsFunction()) {
        isolate->ThrowException(
            v8::Exception::TypeError(str(isolate, "structuredClone: bad arguments")));
        return;
    }
    v8::Local<v8::Array> list = info[1].As<v8::Array>();
    v8::Local<v8::Function> dom_exception = info[2].As<v8::Function>();
    std::vector<v8::Local<v8::ArrayBuffer>> transfer;
    for (uint32_t i = 0; i < list->Length(); i++) {
        v8::Local<v8::Value> v;
        if (!list->Get(context, i).ToLocal(&v))
            return;
        if (!v->IsArrayBuffer() || !v.As<v8::ArrayBuffer>()->IsDetachable() ||
            v.As<v8::ArrayBuffer>()->WasDetached()) {
            throw_data_clone_error(isolate, dom_exception,
                                   str(isolate, "An ArrayBuffer could not be transferred."));
            return;
        }
        transfer.push_back(v.As<v8::ArrayBuffer>());
    }

    CloneWriter writer(isolate, dom_exception);
    v8::ValueSerializer ser(isolate, &writer);
    for (size_t i = 0; i < transfer.size(); i++)
        ser.TransferArrayBuffer((uint32_t)i, transfer[i]);
    ser.WriteHeader();
    if (ser.WriteValue(context, info[0]).IsNothing())
        return;
    std::pair<uint8_t *, size_t> buf = ser.Release();
    std::unique_ptr<uint8_t, decltype(&free)> owned(buf.first, &free);

    v8::ValueDeserializer des(isolate, buf.first, buf.second);
    for (size_t i = 0; i < transfer.size(); i++) {
        std::shared_ptr<v8::BackingStore> store = transfer[i]->GetBackingStore();
        transfer[i]->Detach();
        des.TransferArrayBuffer((uint32_t)i, v8::ArrayBuffer::New(isolate, store));
    }
    v8::Maybe<bool> header = des.ReadHeader(context);
    if (header.IsNothing())
        return;
    v8::Local<v8::Value> clone;
    if (!des.ReadValue(context).ToLocal(&clone))
        return;
    info.GetReturnValue().Set(clone);
}

} // namespace

void web_structured_clone(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    try {
        structured_clone_or_throw(info);
    } catch (...) {
        v8::Isolate *isolate = info.GetIsolate();
        isolate->ThrowException(
            v8::Exception::RangeError(str(isolate, "structuredClone: out of memory")));
    }
}

} // namespace iso
