/*
 * The process's code cache: V8 code caches (bytecode of a module's functions) shared by every
 * isolate on every shard, keyed by SHA-256 of what V8 would otherwise compile, so a second
 * worker (any tenant's) that loads the same library deserializes it instead of compiling it.
 * The key must be a content hash: V8 10.2 checks a cache against its source by length and
 * origin options only, and happily runs a same-length source's cached code instead of the
 * source it was given. The key also covers the module's name, because a consumed cache keeps
 * the name of the script it was made from (stack traces would show another tenant's file
 * name), and its kind (an ES module and a CommonJS function wrapper compile the same text
 * differently). Entries are immutable bytes behind a reference count: a compile holds its
 * entry while V8 reads it, and eviction or a rejection elsewhere only drops the table's
 * reference. Bounded: kCodeCacheMaxBytes in all, least recently used first out; an entry over
 * kCodeCacheMaxEntryBytes is not kept. The bytes are trusted as V8 made them (this V8 runs
 * with --no-verify-snapshot-checksum, which also skips the code cache's checksum): nothing
 * writes an entry after it was put.
 */
#include <nettle/sha2.h>

#include <atomic>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>

#include "isolates/iso_int.h"
#include "isolates/shim_int.h"

namespace iso {

namespace {

struct KeyHash {
    size_t operator()(const CacheKey &k) const noexcept
    {
        size_t h;
        memcpy(&h, k.bytes, sizeof h); /* a SHA-256 is as good a hash as any of its words */
        return h;
    }
};

struct KeyEq {
    bool operator()(const CacheKey &a, const CacheKey &b) const noexcept
    {
        return memcmp(a.bytes, b.bytes, sizeof a.bytes) == 0;
    }
};

struct CacheEntry {
    CacheKey key;
    CacheBlob bytes;
};

/* Most recently used first; the map finds an entry's place in the list. */
struct Cache {
    std::mutex lock;
    std::list<CacheEntry> lru;
    std::unordered_map<CacheKey, std::list<CacheEntry>::iterator, KeyHash, KeyEq> index;
    size_t bytes = 0;
    size_t max_bytes = kCodeCacheMaxBytes;
    /* read without the lock */
    std::atomic<size_t> max_entry{kCodeCacheMaxEntryBytes}, min_source{kCodeCacheMinSource};
    uint64_t hits = 0, misses = 0, rejected = 0, evicted = 0;
};

Cache g_cache;

void put_len(sha256_ctx *h, uint64_t n)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(n >> (8 * i));
    sha256_update(h, sizeof b, b);
}

/* Drops the least recently used entries until extra more bytes fit. Under the lock. */
void make_room(size_t extra)
{
    while (!g_cache.lru.empty() && g_cache.bytes + extra > g_cache.max_bytes) {
        CacheEntry &last = g_cache.lru.back();
        g_cache.bytes -= last.bytes->size();
        g_cache.index.erase(last.key);
        g_cache.lru.pop_back();
        g_cache.evicted++;
    }
}

void key_of(iso_module_type kind, const std::string &name, const char *source, size_t len,
            CacheKey *out)
{
    static const char kDomain[] = "edged code cache v1";
    sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, sizeof kDomain, reinterpret_cast<const uint8_t *>(kDomain));
    put_len(&h, (uint64_t)kind);
    put_len(&h, name.size());
    sha256_update(&h, name.size(), reinterpret_cast<const uint8_t *>(name.data()));
    put_len(&h, len);
    sha256_update(&h, len, reinterpret_cast<const uint8_t *>(source));
    sha256_digest(&h, sizeof out->bytes, out->bytes);
}

/* Keeps data (taken) under key unless it is too large or the key has an entry already. */
void put(const CacheKey &key, v8::ScriptCompiler::CachedData *data)
{
    std::unique_ptr<v8::ScriptCompiler::CachedData> owned(data);
    if (!data || data->length <= 0)
        return;
    try {
        size_t len = (size_t)data->length;
        if (len > g_cache.max_entry.load(std::memory_order_relaxed))
            return;
        {
            std::lock_guard<std::mutex> guard(g_cache.lock);
            if (g_cache.index.count(key))
                return; /* another worker put it first */
        }
        /* Copied outside the lock: it can be a few hundred KB. */
        CacheBlob blob = std::make_shared<const std::vector<uint8_t>>(data->data, data->data + len);
        std::lock_guard<std::mutex> guard(g_cache.lock);
        if (g_cache.index.count(key) || len > g_cache.max_bytes)
            return;
        make_room(len);
        g_cache.lru.push_front(CacheEntry{key, std::move(blob)});
        g_cache.index.emplace(key, g_cache.lru.begin());
        g_cache.bytes += len;
    } catch (...) {
        /* out of memory: the module simply stays uncached */
    }
}

} // namespace

CacheUse::CacheUse(iso_module_type kind, const std::string &name, const char *source, size_t len)
    : wanted_(len >= g_cache.min_source.load(std::memory_order_relaxed) &&
              len <= g_cache.max_entry.load(std::memory_order_relaxed))
{
    if (!wanted_)
        return;
    key_of(kind, name, source, len, &key_);
    std::lock_guard<std::mutex> guard(g_cache.lock);
    auto it = g_cache.index.find(key_);
    if (it == g_cache.index.end()) {
        g_cache.misses++;
        return;
    }
    g_cache.lru.splice(g_cache.lru.begin(), g_cache.lru, it->second);
    blob_ = it->second->bytes;
}

v8::ScriptCompiler::CachedData *CacheUse::data()
{
    if (!blob_)
        return nullptr;
    return new v8::ScriptCompiler::CachedData(blob_->data(), (int)blob_->size(),
                                              v8::ScriptCompiler::CachedData::BufferNotOwned);
}

void CacheUse::done(const v8::ScriptCompiler::Source &src, Module *m)
{
    if (!wanted_)
        return;
    const v8::ScriptCompiler::CachedData *used = src.GetCachedData();
    bool rejected = blob_ && (!used || used->rejected);
    if (blob_) {
        std::lock_guard<std::mutex> guard(g_cache.lock);
        if (!rejected) {
            g_cache.hits++;
            return;
        }
        g_cache.rejected++;
        auto it = g_cache.index.find(key_);
        /* Another thread may have replaced the entry meanwhile: drop only the one V8 refused. */
        if (it != g_cache.index.end() && it->second->bytes == blob_) {
            g_cache.bytes -= blob_->size();
            g_cache.lru.erase(it->second);
            g_cache.index.erase(it);
        }
    }
    m->cache_produce = true;
    m->cache_key = key_;
}

void save_module_caches(iso_worker *w)
{
    v8::Isolate *isolate = w->isolate;
    v8::HandleScope scope(isolate);
    for (Module &m : w->modules) {
        if (!m.cache_produce)
            continue;
        m.cache_produce = false;
        v8::ScriptCompiler::CachedData *data = nullptr;
        if (m.type == ISO_MODULE_ESM)
            data = v8::ScriptCompiler::CreateCodeCache(
                m.module.Get(isolate)->GetUnboundModuleScript());
        else if (m.type == ISO_MODULE_CJS && !m.cjs.IsEmpty())
            data = v8::ScriptCompiler::CreateCodeCacheForFunction(m.cjs.Get(isolate));
        put(m.cache_key, data);
    }
}

} // namespace iso

extern "C" void iso_code_cache_stats(struct iso_code_cache_stats *out) noexcept
{
    if (!out)
        return;
    std::lock_guard<std::mutex> guard(iso::g_cache.lock);
    out->hits = iso::g_cache.hits;
    out->misses = iso::g_cache.misses;
    out->rejected = iso::g_cache.rejected;
    out->evicted = iso::g_cache.evicted;
    out->entries = iso::g_cache.index.size();
    out->bytes = iso::g_cache.bytes;
}

extern "C" void iso__code_cache_limits(size_t max_bytes, size_t max_entry_bytes,
                                       size_t min_source) noexcept
{
    std::lock_guard<std::mutex> guard(iso::g_cache.lock);
    iso::g_cache.max_bytes = max_bytes ? max_bytes : iso::kCodeCacheMaxBytes;
    iso::g_cache.max_entry = max_entry_bytes ? max_entry_bytes : iso::kCodeCacheMaxEntryBytes;
    iso::g_cache.min_source = min_source ? min_source : iso::kCodeCacheMinSource;
    iso::make_room(0);
}

extern "C" size_t iso__code_cache_spoil(void) noexcept
{
    std::lock_guard<std::mutex> guard(iso::g_cache.lock);
    size_t n = 0;
    try {
        for (iso::CacheEntry &e : iso::g_cache.lru) {
            /* Bytes 4..7 of a V8 10.2 code cache are its version hash: V8 refuses a cache
             * whose hash is not its own before it reads anything else. */
            if (e.bytes->size() < 8)
                continue;
            auto copy = std::make_shared<std::vector<uint8_t>>(*e.bytes);
            (*copy)[4] ^= 0xff;
            e.bytes = std::move(copy);
            n++;
        }
    } catch (...) {
    }
    return n;
}

extern "C" void iso__code_cache_clear(void) noexcept
{
    std::lock_guard<std::mutex> guard(iso::g_cache.lock);
    iso::g_cache.lru.clear();
    iso::g_cache.index.clear();
    iso::g_cache.bytes = 0;
}
