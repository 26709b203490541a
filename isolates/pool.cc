/*
 * A per-thread pool of never-used isolates for children. Creating an isolate and its context
 * from the runtime snapshot is most of what a new child costs (about 2.5 ms of 2.7 here, and
 * Isolate::New grows with the number of live isolates), so the loader creates a few ahead of
 * need from its idle handling, and iso_worker_new() takes one for a child whose heap limit
 * matches. An isolate leaves the pool before any worker code runs in it and never comes back:
 * the pool only ever holds isolates that ran nothing but the snapshot's deserialisation.
 */
#include <new>

#include "isolates/shim_int.h"

namespace iso {

namespace {

struct Pooled {
    v8::Isolate *isolate;
    std::shared_ptr<Allocator> allocator;
    size_t heap_limit;
    v8::Global<v8::Context> context;
};

/* The calling thread's pool: isolates belong to the thread that created them. */
thread_local std::vector<Pooled *> t_pool;

void dispose_pooled(Pooled *p)
{
    p->context.Reset();
    v8::platform::NotifyIsolateShutdown(platform(), p->isolate);
    p->isolate->Dispose();
    delete p;
}

} // namespace

bool make_isolate(size_t heap_limit, bool child, std::shared_ptr<Allocator> *allocator,
                  v8::Isolate **isolate, bool *from_snapshot)
{
    *allocator = std::make_shared<Allocator>(heap_limit);
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator_shared = *allocator;
    set_heap_constraints(&params.constraints, heap_limit, child);
    *from_snapshot = snapshot_params(&params);
    *isolate = v8::Isolate::New(params);
    if (!*isolate)
        return false;
    (*isolate)->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
    return true;
}

bool pool_take(size_t heap_limit, iso_worker *w)
{
    for (size_t i = t_pool.size(); i-- > 0;) {
        Pooled *p = t_pool[i];
        if (p->heap_limit != heap_limit)
            continue;
        t_pool.erase(t_pool.begin() + (ptrdiff_t)i);
        w->isolate = p->isolate;
        w->allocator = std::move(p->allocator);
        w->from_snapshot = true;
        {
            v8::HandleScope scope(p->isolate);
            w->context.Reset(p->isolate, p->context.Get(p->isolate));
        }
        p->context.Reset();
        delete p;
        return true;
    }
    return false;
}

} // namespace iso

extern "C" size_t iso_pool_fill(size_t heap_limit_bytes, size_t target, uint64_t budget_ns) noexcept
{
    if (!iso::platform())
        return 0;
    if (!heap_limit_bytes)
        heap_limit_bytes = iso::kDefaultHeapLimit;
    /* The pool serves one heap limit at a time (the one the thread's children use now). */
    for (size_t i = iso::t_pool.size(); i-- > 0;) {
        if (iso::t_pool[i]->heap_limit != heap_limit_bytes) {
            iso::dispose_pooled(iso::t_pool[i]);
            iso::t_pool.erase(iso::t_pool.begin() + (ptrdiff_t)i);
        }
    }
    uint64_t start = ed_now_ns();
    try {
        while (iso::t_pool.size() < target) {
            std::shared_ptr<iso::Allocator> allocator;
            v8::Isolate *isolate;
            bool from_snapshot;
            /* Without the snapshot a pooled context would lack the runtime: no pool then. */
            if (!iso::make_isolate(heap_limit_bytes, true, &allocator, &isolate, &from_snapshot))
                break;
            auto *p = new iso::Pooled{isolate, std::move(allocator), heap_limit_bytes, {}};
            {
                v8::Isolate::Scope isolate_scope(isolate);
                v8::HandleScope handle_scope(isolate);
                v8::Local<v8::Context> context;
                if (from_snapshot)
                    context = v8::Context::New(isolate);
                if (context.IsEmpty()) {
                    iso::dispose_pooled(p);
                    break;
                }
                p->context.Reset(isolate, context);
            }
            iso::t_pool.push_back(p);
            if (ed_now_ns() - start >= budget_ns)
                break;
        }
    } catch (...) {
        /* out of memory: the pool stays as it is */
    }
    return iso::t_pool.size();
}

extern "C" size_t iso_pool_size(size_t heap_limit_bytes) noexcept
{
    if (!heap_limit_bytes)
        heap_limit_bytes = iso::kDefaultHeapLimit;
    size_t n = 0;
    for (const iso::Pooled *p : iso::t_pool)
        n += p->heap_limit == heap_limit_bytes;
    return n;
}

extern "C" void iso_pool_drain(void) noexcept
{
    for (iso::Pooled *p : iso::t_pool)
        iso::dispose_pooled(p);
    iso::t_pool.clear();
}
