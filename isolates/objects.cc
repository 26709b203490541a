/*
 * Durable objects, the native half of isolates/js/67_objects.js: ids and stub calls go to the
 * host (iso_host.objects, ISO_CALL_OBJECT), and ctx.storage's SQL, key-value, transaction and
 * alarm operations run synchronously through the host's storage of the object, named by the
 * handle the host gave iso_worker_call_object. Values move as SQL values (numbers, strings,
 * ArrayBuffers, null) or, for the key-value API, as structured clones made here. The runtime's
 * record of each object the worker hosts is kept by handle in w->objects, so the host can drop
 * an instance without running JavaScript.
 */
#include <cmath>
#include <cstring>

#include "isolates/shim_int.h"

namespace iso {

namespace {

iso_worker *worker_of(v8::Isolate *isolate)
{
    return static_cast<iso_worker *>(isolate->GetData(kWorkerSlot));
}

void throw_text(v8::Isolate *isolate, v8::Local<v8::Value> (*make)(v8::Local<v8::String>),
                const char *msg)
{
    v8::Local<v8::String> s;
    if (!str(isolate, msg, strnlen(msg, kMaxMessage)).ToLocal(&s))
        s = str(isolate, "storage error");
    isolate->ThrowException(make(s));
}

/* A host failure as the runtime throws it: ED_ERANGE a RangeError, ED_EINVAL a TypeError when
 * type_errors (ids), anything else an Error with the host's message. */
void throw_host(v8::Isolate *isolate, int code, ed_error *err, bool type_errors)
{
    const char *msg = ed_error_msg(err);
    if (code == ED_ERANGE)
        throw_text(isolate, v8::Exception::RangeError, msg);
    else if (code == ED_EINVAL && type_errors)
        throw_text(isolate, v8::Exception::TypeError, msg);
    else
        throw_text(isolate, v8::Exception::Error, msg);
    ed_error_dispose(err);
}

const iso_object_host *host_of(v8::Isolate *isolate, iso_worker **w_out)
{
    iso_worker *w = worker_of(isolate);
    *w_out = w;
    if (w && w->host && w->host->objects)
        return w->host->objects;
    throw_text(isolate, v8::Exception::Error, "Durable Objects are not available in this worker");
    return nullptr;
}

bool get_key(v8::Isolate *isolate, v8::Local<v8::Value> v, uint64_t *key)
{
    if (v->IsNumber()) {
        double d = v.As<v8::Number>()->Value();
        if (d >= 1 && d < 9007199254740992.0) {
            *key = (uint64_t)d;
            return true;
        }
    }
    throw_text(isolate, v8::Exception::TypeError, "bad object handle");
    return false;
}

/* UTF-8 of a string argument (what tenant code passed: bounded by the host's limits after). */
bool get_text(v8::Isolate *isolate, v8::Local<v8::Value> v, std::string *out)
{
    if (!v->IsString()) {
        throw_text(isolate, v8::Exception::TypeError, "expected a string");
        return false;
    }
    *out = utf8(isolate, v.As<v8::String>(), (size_t)-1);
    return true;
}

/* native.objectId(binding, op, arg) -> 64 hex digits */
void object_id(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    if (!h)
        return;
    std::string binding, arg;
    if (!get_text(isolate, info[0], &binding) || !get_text(isolate, info[2], &arg))
        return;
    int op = info[1]->IsInt32() ? info[1].As<v8::Int32>()->Value() : -1;
    char hex[65] = {0};
    ed_error err = {0, nullptr};
    int rc = h->id(h->ud, w, binding.c_str(), op, arg.data(), arg.size(), hex, &err);
    if (rc)
        return throw_host(isolate, rc, &err, true);
    info.GetReturnValue().Set(str(isolate, hex, strnlen(hex, 64)).ToLocalChecked());
}

/* native.objectGet(key) -> the runtime's record of the object, or undefined */
void object_get(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    uint64_t key;
    if (!w || !get_key(isolate, info[0], &key))
        return;
    auto it = w->objects.find(key);
    if (it != w->objects.end())
        info.GetReturnValue().Set(it->second.Get(isolate));
}

/* native.objectSet(key, record) */
void object_set(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    uint64_t key;
    if (!w || !get_key(isolate, info[0], &key))
        return;
    try {
        w->objects[key].Reset(isolate, info[1]);
    } catch (...) {
        throw_text(isolate, v8::Exception::RangeError, "out of memory keeping a Durable Object");
    }
}

/* native.objectDelete(key, record): forgets the record if it is still the object's. */
void object_delete(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w = worker_of(isolate);
    uint64_t key;
    if (!w || !get_key(isolate, info[0], &key))
        return;
    auto it = w->objects.find(key);
    if (it != w->objects.end() && it->second.Get(isolate)->StrictEquals(info[1]))
        w->objects.erase(it);
}

/* ---- SQL ---- */

/* Bindings as SQL values; strings and bytes stay in holder/views for the call. */
bool read_bindings(v8::Isolate *isolate, v8::Local<v8::Context> context, v8::Local<v8::Value> arr,
                   std::vector<iso_sql_value> *out, std::vector<std::string> *holder)
{
    if (!arr->IsArray()) {
        throw_text(isolate, v8::Exception::TypeError, "malformed bindings");
        return false;
    }
    v8::Local<v8::Array> a = arr.As<v8::Array>();
    uint32_t n = a->Length();
    out->resize(n);
    holder->resize(n);
    for (uint32_t i = 0; i < n; i++) {
        v8::Local<v8::Value> v;
        if (!a->Get(context, i).ToLocal(&v))
            return false;
        iso_sql_value &sv = (*out)[i];
        sv = iso_sql_value{ISO_SQL_NULL, 0, 0, nullptr, 0};
        if (v->IsNullOrUndefined())
            continue;
        if (v->IsNumber()) {
            double d = v.As<v8::Number>()->Value();
            /* an integral number binds as an INTEGER (LIMIT ?, integer keys), others as REAL */
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0) {
                sv.type = ISO_SQL_INTEGER;
                sv.i = (int64_t)d;
            } else {
                sv.type = ISO_SQL_REAL;
                sv.d = d;
            }
        } else if (v->IsBoolean()) {
            sv.type = ISO_SQL_INTEGER;
            sv.i = v->IsTrue() ? 1 : 0;
        } else if (v->IsBigInt()) {
            bool lossless = true;
            sv.type = ISO_SQL_INTEGER;
            sv.i = v.As<v8::BigInt>()->Int64Value(&lossless);
            if (!lossless) {
                throw_text(isolate, v8::Exception::RangeError,
                           "A BigInt binding must fit in a signed 64-bit integer");
                return false;
            }
        } else if (v->IsString()) {
            (*holder)[i] = utf8(isolate, v.As<v8::String>(), (size_t)-1);
            sv.type = ISO_SQL_TEXT;
            sv.p = (*holder)[i].data();
            sv.len = (*holder)[i].size();
        } else if (v->IsArrayBuffer() || v->IsArrayBufferView()) {
            std::vector<uint8_t> scratch;
            const uint8_t *p;
            size_t len;
            if (v->IsArrayBuffer()) {
                std::shared_ptr<v8::BackingStore> bs = v.As<v8::ArrayBuffer>()->GetBackingStore();
                p = static_cast<const uint8_t *>(bs->Data());
                len = bs->ByteLength();
            } else {
                v8::Local<v8::ArrayBufferView> view = v.As<v8::ArrayBufferView>();
                p = view_bytes(view, scratch);
                len = view->ByteLength();
            }
            (*holder)[i].assign(reinterpret_cast<const char *>(p), len);
            sv.type = ISO_SQL_BLOB;
            sv.p = (*holder)[i].data();
            sv.len = len;
        } else {
            throw_text(isolate, v8::Exception::TypeError,
                       "SQL bindings must be strings, numbers, bigints, booleans, ArrayBuffers "
                       "or views of them, or null");
            return false;
        }
    }
    return true;
}

/* What the host's rows become: [names, rows, rowsRead, rowsWritten]. */
struct Rows {
    v8::Isolate *isolate;
    v8::Local<v8::Context> context;
    v8::Local<v8::Array> names;
    v8::Local<v8::Array> rows;
    uint32_t n_rows = 0;
    bool failed = false;
};

v8::MaybeLocal<v8::Value> sql_value(v8::Isolate *isolate, const iso_sql_value &v)
{
    switch (v.type) {
    case ISO_SQL_INTEGER:
        /* as workerd: integers are numbers (a double), not BigInts */
        return v8::Number::New(isolate, (double)v.i);
    case ISO_SQL_REAL:
        return v8::Number::New(isolate, v.d);
    case ISO_SQL_TEXT: {
        v8::Local<v8::String> s;
        if (!str(isolate, static_cast<const char *>(v.p), v.len).ToLocal(&s))
            return {};
        return s;
    }
    case ISO_SQL_BLOB: {
        v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(isolate, v.len);
        if (v.len)
            memcpy(ab->GetBackingStore()->Data(), v.p, v.len);
        return ab;
    }
    default:
        return v8::Null(isolate);
    }
}

int on_columns(void *ud, const char *const *names, size_t n)
{
    Rows *r = static_cast<Rows *>(ud);
    std::vector<v8::Local<v8::Value>> v;
    for (size_t i = 0; i < n; i++) {
        v8::Local<v8::String> s;
        if (!str(r->isolate, names[i], strlen(names[i])).ToLocal(&s)) {
            r->failed = true;
            return ED_ENOMEM;
        }
        v.push_back(s);
    }
    r->names = v8::Array::New(r->isolate, v.data(), v.size());
    return 0;
}

int on_row(void *ud, const iso_sql_value *values, size_t n)
{
    Rows *r = static_cast<Rows *>(ud);
    v8::Local<v8::Array> row = v8::Array::New(r->isolate, (int)n);
    for (size_t i = 0; i < n; i++) {
        v8::Local<v8::Value> v;
        if (!sql_value(r->isolate, values[i]).ToLocal(&v) ||
            row->Set(r->context, (uint32_t)i, v).IsNothing()) {
            r->failed = true;
            return ED_ENOMEM;
        }
    }
    if (r->rows->Set(r->context, r->n_rows++, row).IsNothing()) {
        r->failed = true;
        return ED_ENOMEM;
    }
    return 0;
}

const iso_sql_sink kRowsSink = {on_columns, on_row};

/* native.sqlExec(key, query, bindings) -> [names, rows, rowsRead, rowsWritten] */
void sql_exec(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    try {
        std::string query;
        std::vector<iso_sql_value> binds;
        std::vector<std::string> holder;
        if (!get_text(isolate, info[1], &query) ||
            !read_bindings(isolate, context, info[2], &binds, &holder))
            return;
        Rows r{isolate, context, v8::Array::New(isolate), v8::Array::New(isolate)};
        iso_storage_counts counts = {0, 0};
        ed_error err = {0, nullptr};
        int rc = h->sql(h->ud, w, key, query.data(), query.size(), binds.data(), binds.size(),
                        &kRowsSink, &r, &counts, &err);
        if (r.failed) {
            ed_error_dispose(&err);
            if (!isolate->IsExecutionTerminating())
                throw_text(isolate, v8::Exception::RangeError, "out of memory reading SQL rows");
            return;
        }
        if (rc)
            return throw_host(isolate, rc, &err, false);
        v8::Local<v8::Value> parts[] = {r.names, r.rows,
                                        v8::Number::New(isolate, (double)counts.rows_read),
                                        v8::Number::New(isolate, (double)counts.rows_written)};
        info.GetReturnValue().Set(v8::Array::New(isolate, parts, 4));
    } catch (...) {
        throw_text(isolate, v8::Exception::RangeError, "out of memory running SQL");
    }
}

/* native.sqlSize(key) -> bytes */
void sql_size(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key, bytes = 0;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    ed_error err = {0, nullptr};
    int rc = h->size(h->ud, w, key, &bytes, &err);
    if (rc)
        return throw_host(isolate, rc, &err, false);
    info.GetReturnValue().Set(v8::Number::New(isolate, (double)bytes));
}

/* ---- key-value ---- */

bool read_keys(v8::Isolate *isolate, v8::Local<v8::Context> context, v8::Local<v8::Value> arr,
               std::vector<std::string> *out)
{
    if (!arr->IsArray()) {
        throw_text(isolate, v8::Exception::TypeError, "malformed keys");
        return false;
    }
    v8::Local<v8::Array> a = arr.As<v8::Array>();
    for (uint32_t i = 0; i < a->Length(); i++) {
        v8::Local<v8::Value> v;
        std::string k;
        if (!a->Get(context, i).ToLocal(&v) || !get_text(isolate, v, &k))
            return false;
        out->push_back(std::move(k));
    }
    return true;
}

struct Found {
    iso_worker *w;
    v8::Local<v8::Context> context;
    v8::Local<v8::Value> value;
    bool failed = false;
};

int on_found(void *ud, const void *value, size_t len)
{
    Found *f = static_cast<Found *>(ud);
    if (!deserialize_plain(f->w, f->context, static_cast<const uint8_t *>(value), len)
             .ToLocal(&f->value)) {
        f->failed = true;
        return ED_EINVAL;
    }
    return 0;
}

/* native.kvGet(key, keys) -> [value | undefined...] */
void kv_get(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    try {
        std::vector<std::string> keys;
        if (!read_keys(isolate, context, info[1], &keys))
            return;
        v8::Local<v8::Array> out = v8::Array::New(isolate, (int)keys.size());
        for (size_t i = 0; i < keys.size(); i++) {
            Found f{w, context, v8::Undefined(isolate)};
            iso_storage_counts counts = {0, 0};
            ed_error err = {0, nullptr};
            int rc = h->kv_get(h->ud, w, key, keys[i].data(), keys[i].size(), on_found, &f, &counts,
                               &err);
            if (f.failed) {
                ed_error_dispose(&err);
                return; /* the deserializer's exception is pending */
            }
            if (rc && rc != ED_ENOENT)
                return throw_host(isolate, rc, &err, false);
            ed_error_dispose(&err);
            if (out->Set(context, (uint32_t)i, f.value).IsNothing())
                return;
        }
        info.GetReturnValue().Set(out);
    } catch (...) {
        throw_text(isolate, v8::Exception::RangeError, "out of memory reading storage");
    }
}

/* native.kvPut(key, [k, v, k, v...]) */
void kv_put(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key) || !info[1]->IsArray())
        return;
    try {
        v8::Local<v8::Array> a = info[1].As<v8::Array>();
        /* every value is serialized before anything is written: a value that cannot be cloned
         * leaves the batch unwritten */
        std::vector<std::string> keys, values;
        for (uint32_t i = 0; i + 1 < a->Length(); i += 2) {
            v8::Local<v8::Value> k, v;
            std::string ks, vs;
            if (!a->Get(context, i).ToLocal(&k) || !a->Get(context, i + 1).ToLocal(&v) ||
                !get_text(isolate, k, &ks) || !serialize_plain(w, context, v, &vs))
                return;
            keys.push_back(std::move(ks));
            values.push_back(std::move(vs));
        }
        for (size_t i = 0; i < keys.size(); i++) {
            iso_storage_counts counts = {0, 0};
            ed_error err = {0, nullptr};
            int rc = h->kv_put(h->ud, w, key, keys[i].data(), keys[i].size(), values[i].data(),
                               values[i].size(), &counts, &err);
            if (rc)
                return throw_host(isolate, rc, &err, false);
        }
    } catch (...) {
        throw_text(isolate, v8::Exception::RangeError, "out of memory writing storage");
    }
}

/* native.kvDelete(key, keys) -> how many existed */
void kv_delete(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    try {
        std::vector<std::string> keys;
        if (!read_keys(isolate, context, info[1], &keys))
            return;
        double deleted = 0;
        for (const std::string &k : keys) {
            iso_storage_counts counts = {0, 0};
            ed_error err = {0, nullptr};
            int rc = h->kv_delete(h->ud, w, key, k.data(), k.size(), &counts, &err);
            if (rc < 0)
                return throw_host(isolate, rc, &err, false);
            deleted += rc;
        }
        info.GetReturnValue().Set(v8::Number::New(isolate, deleted));
    } catch (...) {
        throw_text(isolate, v8::Exception::RangeError, "out of memory deleting from storage");
    }
}

struct Listed {
    iso_worker *w;
    v8::Local<v8::Context> context;
    v8::Local<v8::Array> out;
    uint32_t n = 0;
    bool failed = false;
};

int on_listed(void *ud, const char *key, size_t key_len, const void *value, size_t len)
{
    Listed *l = static_cast<Listed *>(ud);
    v8::Local<v8::String> k;
    v8::Local<v8::Value> v;
    if (!str(l->w->isolate, key, key_len).ToLocal(&k) ||
        !deserialize_plain(l->w, l->context, static_cast<const uint8_t *>(value), len)
             .ToLocal(&v) ||
        l->out->Set(l->context, l->n++, k).IsNothing() ||
        l->out->Set(l->context, l->n++, v).IsNothing()) {
        l->failed = true;
        return ED_EINVAL;
    }
    return 0;
}

/* native.kvList(key, prefix, start, end, limit, reverse) -> [k, v, k, v...] */
void kv_list(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    try {
        std::string part[3];
        iso_kv_range r = {};
        for (int i = 0; i < 3; i++)
            if (!info[1 + i]->IsNull() && !get_text(isolate, info[1 + i], &part[i]))
                return;
        if (!info[1]->IsNull())
            r.prefix = part[0].data(), r.prefix_len = part[0].size();
        if (!info[2]->IsNull())
            r.start = part[1].data(), r.start_len = part[1].size();
        if (!info[3]->IsNull())
            r.end = part[2].data(), r.end_len = part[2].size();
        double limit = info[4]->IsNumber() ? info[4].As<v8::Number>()->Value() : 0;
        r.limit = limit >= 1 && limit < 4294967296.0 ? (uint32_t)limit : 0;
        r.reverse = info[5]->IsTrue();
        Listed l{w, context, v8::Array::New(isolate)};
        iso_storage_counts counts = {0, 0};
        ed_error err = {0, nullptr};
        int rc = h->kv_list(h->ud, w, key, &r, on_listed, &l, &counts, &err);
        if (l.failed) {
            ed_error_dispose(&err);
            return;
        }
        if (rc)
            return throw_host(isolate, rc, &err, false);
        info.GetReturnValue().Set(l.out);
    } catch (...) {
        throw_text(isolate, v8::Exception::RangeError, "out of memory listing storage");
    }
}

/* native.kvDeleteAll(key) */
void kv_delete_all(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    ed_error err = {0, nullptr};
    int rc = h->delete_all(h->ud, w, key, &err);
    if (rc)
        throw_host(isolate, rc, &err, false);
}

/* native.objectTxn(key, op): 0 opens a savepoint, 1 keeps and 2 undoes the innermost */
void object_txn(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    int op = info[1]->IsInt32() ? info[1].As<v8::Int32>()->Value() : -1;
    ed_error err = {0, nullptr};
    int rc = op == 0 ? h->savepoint(h->ud, w, key, &err) : h->release(h->ud, w, key, op == 1, &err);
    if (rc)
        throw_host(isolate, rc, &err, false);
}

/* native.alarmGet(key) -> ms (0: none) */
void alarm_get(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    int64_t at = 0;
    ed_error err = {0, nullptr};
    int rc = h->alarm_get(h->ud, w, key, &at, &err);
    if (rc)
        return throw_host(isolate, rc, &err, false);
    info.GetReturnValue().Set(v8::Number::New(isolate, (double)at));
}

/* native.alarmSet(key, ms) (0: delete) */
void alarm_set(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key) || !info[1]->IsNumber())
        return;
    double ms = info[1].As<v8::Number>()->Value();
    ed_error err = {0, nullptr};
    int rc = h->alarm_set(h->ud, w, key, ms > 0 && ms < 9.2e18 ? (int64_t)ms : 0, &err);
    if (rc)
        throw_host(isolate, rc, &err, false);
}

/* native.facetCtl(key, op, name, reason | null): ctx.facets.abort() / delete() */
void facet_ctl(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    v8::Isolate *isolate = info.GetIsolate();
    iso_worker *w;
    const iso_object_host *h = host_of(isolate, &w);
    uint64_t key;
    if (!h || !get_key(isolate, info[0], &key))
        return;
    if (!h->facet_ctl)
        return throw_text(isolate, v8::Exception::Error,
                          "This Durable Object does not support creating facets.");
    try {
        std::string name, reason;
        int op = info[1]->IsInt32() ? info[1].As<v8::Int32>()->Value() : -1;
        if (!get_text(isolate, info[2], &name) ||
            (!info[3]->IsNull() && !get_text(isolate, info[3], &reason)))
            return;
        ed_error err = {0, nullptr};
        int rc = h->facet_ctl(h->ud, w, key, op, name.data(), name.size(),
                              info[3]->IsNull() ? nullptr : reason.c_str(), &err);
        if (rc)
            throw_host(isolate, rc, &err, false);
    } catch (...) {
        throw_text(isolate, v8::Exception::RangeError, "out of memory");
    }
}

/* native.asyncContext() -> the value set for the running continuation (undefined if none):
 * V8 carries it from a promise reaction's creation to its run, so what a transaction()'s
 * closure starts knows it runs inside that transaction. */
void async_context(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    info.GetReturnValue().Set(
        info.GetIsolate()->GetCurrentContext()->GetContinuationPreservedEmbedderData());
}

/* native.setAsyncContext(value) */
void set_async_context(const v8::FunctionCallbackInfo<v8::Value> &info)
{
    info.GetIsolate()->GetCurrentContext()->SetContinuationPreservedEmbedderData(info[0]);
}

} // namespace

const NativeFunction kObjectNatives[] = {
    {"facetCtl", facet_ctl, "67_objects.js"},
    {"asyncContext", async_context, "67_objects.js"},
    {"setAsyncContext", set_async_context, "67_objects.js"},
    {"objectId", object_id, "67_objects.js"},
    {"objectGet", object_get, "67_objects.js"},
    {"objectSet", object_set, "67_objects.js"},
    {"objectDelete", object_delete, "67_objects.js"},
    {"sqlExec", sql_exec, "67_objects.js"},
    {"sqlSize", sql_size, "67_objects.js"},
    {"kvGet", kv_get, "67_objects.js"},
    {"kvPut", kv_put, "67_objects.js"},
    {"kvDelete", kv_delete, "67_objects.js"},
    {"kvList", kv_list, "67_objects.js"},
    {"kvDeleteAll", kv_delete_all, "67_objects.js"},
    {"objectTxn", object_txn, "67_objects.js"},
    {"alarmGet", alarm_get, "67_objects.js"},
    {"alarmSet", alarm_set, "67_objects.js"},
    {nullptr, nullptr},
};

int check_object_classes(iso_worker *w, v8::Local<v8::Context> context, v8::Local<v8::Object> ns,
                         const iso_worker_config *cfg, ed_error *err)
{
    v8::Isolate *isolate = w->isolate;
    if (cfg->n_objects == 0)
        return 0;
    v8::TryCatch try_catch(isolate);
    const char *main = cfg->main_module ? cfg->main_module : "";
    for (size_t i = 0; i < cfg->n_objects; i++) {
        const iso_object_ns &o = cfg->objects[i];
        if (!o.name || !o.cls)
            return ed_error_set(err, ED_EINVAL, "durable object namespace %zu has no name", i);
        v8::Local<v8::String> cls = str(isolate, o.cls, strlen(o.cls)).ToLocalChecked();
        /* [[HasProperty]] of a module namespace looks at its export names only: it reads no
         * binding, so it works before evaluation (no TDZ) */
        v8::Maybe<bool> has = ns->Has(context, cls);
        if (has.IsNothing())
            return js_failure(w, try_catch, ED_EBADWORKER, "reading the main module's exports",
                              err);
        bool found = has.FromJust();
        if (!found)
            return ed_error_set(err, ED_EBADWORKER,
                                "Durable Object namespace %s: class \"%s\" is not exported by the "
                                "main module \"%s\"",
                                o.name, o.cls, main);
        if (w->link_only)
            continue;
        v8::Local<v8::Value> v;
        if (!ns->Get(context, cls).ToLocal(&v))
            return js_failure(w, try_catch, ED_EBADWORKER, main, err);
        if (!v->IsFunction())
            return ed_error_set(err, ED_EBADWORKER,
                                "Durable Object namespace %s: the main module's export \"%s\" is "
                                "not a class",
                                o.name, o.cls);
    }
    return 0;
}

} // namespace iso

extern "C" void iso_worker_object_drop(struct iso_worker *w, uint64_t object) noexcept
{
    if (w)
        w->objects.erase(object);
}

extern "C" size_t iso_worker_objects(const struct iso_worker *w) noexcept
{
    return w ? w->objects.size() : 0;
}
