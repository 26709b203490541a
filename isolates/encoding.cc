/*
 * UTF-8 in both directions: the native half of TextEncoder/TextDecoder (isolates/js/
 * 10_encoding.js) and the shim's own string-to-bytes path for response bodies. Encoding always
 * replaces lone surrogates with U+FFFD, so what leaves an isolate is valid UTF-8 and its
 * length is what String::Utf8Length promised. Native functions validate their arguments even
 * though only runtime code can call them.
 */
#include <algorithm>
#include <climits>

#include "isolates/shim_int.h"

namespace iso {

namespace {

constexpr int kWriteFlags = v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8;
/* UTF-16 units converted per piece: at most 48 KiB of UTF-8 per emit. */
constexpr int kPiece = 16384;

void throw_error(v8::Isolate *isolate, v8::Local<v8::Value> (*make)(v8::Local<v8::String>),
                 const char *msg)
{
    isolate->ThrowException(make(str(isolate, msg)));
}

/* Unicode Table 3-7 (well-formed UTF-8 byte sequences), as TextDecoder's fatal mode needs. */
bool valid_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) {
            need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            need = 2;
            if (b == 0xe0)
                lo = 0xa0;
            else if (b == 0xed)
                hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            need = 3;
            if (b == 0xf0)
                lo = 0x90;
            else if (b == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

size_t put_utf8(uint8_t *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (uint8_t)(0xc0 | (c >> 6));
        o[1] = (uint8_t)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xe0 | (c >> 12));
        o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | (c >> 18));
    o[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (c & 0x3f));
    return 4;
}

/* native.utf8Length(string) -> bytes of its UTF-8 encoding */
void utf8_length(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    if (!info[0]->IsString())
        return throw_error(isolate, v8::Exception::TypeError, "utf8Length: not a string");
    info.GetReturnValue().Set((double)info[0].As<v8::String>()->Utf8Length(isolate));
}

/* native.encode(string, arrayBuffer) -> bytes written; the buffer is utf8Length long */
void encode(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    if (!info[0]->IsString() || !info[1]->IsArrayBuffer())
        return throw_error(isolate, v8::Exception::TypeError, "encode: bad arguments");
    v8::Local<v8::ArrayBuffer> buffer = info[1].As<v8::ArrayBuffer>();
    size_t cap = std::min(buffer->ByteLength(), (size_t)INT_MAX);
    int written = 0;
    if (cap > 0)
        written = info[0].As<v8::String>()->WriteUtf8(isolate, static_cast<char *>(buffer->Data()),
                                                      (int)cap, nullptr, kWriteFlags);
    info.GetReturnValue().Set(written);
}

/* native.encodeInto(string, uint8Array) -> [UTF-16 units read, bytes written] */
void encode_into(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    if (!info[0]->IsString() || !info[1]->IsUint8Array())
        return throw_error(isolate, v8::Exception::TypeError, "encodeInto: bad arguments");
    v8::Local<v8::Uint8Array> view = info[1].As<v8::Uint8Array>();
    size_t cap = std::min(view->ByteLength(), (size_t)INT_MAX);
    int read = 0, written = 0;
    if (cap > 0) {
        /* An on-heap array gets its backing store here: at most 64 bytes, which the
         * allocator never refuses (allocator.cc). */
        char *dest = static_cast<char *>(view->Buffer()->Data()) + view->ByteOffset();
        written = info[0].As<v8::String>()->WriteUtf8(isolate, dest, (int)cap, &read, kWriteFlags);
    }
    v8::Local<v8::Value> pair[2] = {v8::Integer::New(isolate, read),
                                    v8::Integer::New(isolate, written)};
    info.GetReturnValue().Set(v8::Array::New(isolate, pair, 2));
}

/* native.decode(bufferSource, fatal) -> string; malformed input becomes U+FFFD, or a
 * TypeError when fatal */
void decode_or_throw(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    std::vector<uint8_t> scratch;
    const uint8_t *data;
    size_t len;
    if (info[0]->IsArrayBufferView()) {
        v8::Local<v8::ArrayBufferView> view = info[0].As<v8::ArrayBufferView>();
        len = view->ByteLength();
        data = view_bytes(view, scratch);
    } else if (info[0]->IsArrayBuffer()) {
        v8::Local<v8::ArrayBuffer> buffer = info[0].As<v8::ArrayBuffer>();
        len = buffer->ByteLength();
        data = static_cast<const uint8_t *>(buffer->Data());
    } else {
        return throw_error(isolate, v8::Exception::TypeError, "decode: not a BufferSource");
    }
    if (len == 0)
        return info.GetReturnValue().SetEmptyString();
    if (info[1]->IsTrue() && !valid_utf8(data, len))
        return throw_error(isolate, v8::Exception::TypeError,
                           "The encoded data was not valid for encoding utf-8");
    v8::Local<v8::String> s;
    if (len > INT_MAX || !v8::String::NewFromUtf8(isolate, reinterpret_cast<const char *>(data),
                                                  v8::NewStringType::kNormal, (int)len)
                              .ToLocal(&s))
        return throw_error(isolate, v8::Exception::RangeError, "decode: the text is too long");
    info.GetReturnValue().Set(s);
}

void decode(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    try {
        decode_or_throw(info);
    } catch (...) {
        /* No C++ exception may unwind through V8's frames. */
        throw_error(info.GetIsolate(), v8::Exception::RangeError, "decode: out of memory");
    }
}

} // namespace

const NativeFunction kEncodingNatives[] = {
    {"utf8Length", utf8_length},
    {"encode", encode},
    {"encodeInto", encode_into, "10_encoding.js"},
    {"decode", decode},
    {"domainToASCII", web_domain_to_ascii, "12_url.js"},
    {"structuredClone", web_structured_clone, "05_globals.js"},
    {nullptr, nullptr},
};

const uint8_t *view_bytes(v8::Local<v8::ArrayBufferView> view, std::vector<uint8_t> &scratch)
{
    if (view->HasBuffer())
        return static_cast<const uint8_t *>(view->Buffer()->Data()) + view->ByteOffset();
    scratch.resize(view->ByteLength());
    view->CopyContents(scratch.data(), scratch.size());
    return scratch.data();
}

int utf8_pieces(v8::Isolate *isolate, v8::Local<v8::String> s,
                int (*emit)(void *ud, const uint8_t *data, size_t len), void *ud)
{
    int len = s->Length();
    if (len == 0)
        return 0;
    if (len <= 1024) {
        uint8_t buf[3 * 1024];
        int n = s->WriteUtf8(isolate, reinterpret_cast<char *>(buf), (int)sizeof buf, nullptr,
                             kWriteFlags);
        return emit(ud, buf, (size_t)n);
    }
    /* Larger strings go through UTF-16 a piece at a time, so a 100 MB string never needs a
     * 300 MB buffer; a surrogate pair split between pieces is carried over. */
    std::vector<uint16_t> units((size_t)std::min(len, kPiece));
    std::vector<uint8_t> out(3 * units.size() + 8);
    uint32_t high = 0;
    for (int pos = 0; pos < len;) {
        int n = std::min(kPiece, len - pos);
        s->Write(isolate, units.data(), pos, n, v8::String::NO_NULL_TERMINATION);
        pos += n;
        size_t o = 0;
        for (int i = 0; i < n; i++) {
            uint32_t c = units[(size_t)i];
            if (high) {
                if (c >= 0xdc00 && c <= 0xdfff) {
                    o += put_utf8(&out[o], 0x10000 + ((high - 0xd800) << 10) + (c - 0xdc00));
                    high = 0;
                    continue;
                }
                o += put_utf8(&out[o], 0xfffd);
                high = 0;
            }
            if (c >= 0xd800 && c <= 0xdbff) {
                high = c;
                continue;
            }
            o += put_utf8(&out[o], c >= 0xdc00 && c <= 0xdfff ? 0xfffd : c);
        }
        if (high && pos == len)
            o += put_utf8(&out[o], 0xfffd);
        if (o > 0) {
            int rc = emit(ud, out.data(), o);
            if (rc)
                return rc;
        }
    }
    return 0;
}

} // namespace iso
