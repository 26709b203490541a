/*
 * A per-thread pool of never-used isolates for children. Creating an isolate and its context
 * from the runtime snapshot is most of what a new child costs (about 1.6 ms of 2 here, and
 * Isolate::New grows with the number of live isolates), so isolates are created ahead of need
 * and iso_worker_new() takes one of the child's heap class. Each thread that asks for a pool
 * gets a filler thread of its own, at a lower priority, which creates the isolates so that the
 * shard's thread spends no time on them at all: an isolate may move between threads when only
 * one uses it at a time (the pool's mutex orders the hand-over) and the new thread sets the
 * isolate's stack limit to its own stack (V8 took the creator's). An isolate leaves the pool
 * before any worker code runs in it and never comes back: the pool only ever holds isolates
 * that ran nothing but the snapshot's deserialisation.
 */
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>

#include "isolates/shim_int.h"

namespace iso {

namespace {

/* V8's default stack budget for JavaScript (its --stack-size, 984 KiB), below the point where
 * a thread takes an isolate: shard threads have 8 MiB stacks, far more than this needs. */
constexpr uintptr_t kStackBudget = 984 * 1024;

struct Pooled {
    v8::Isolate *isolate;
    std::shared_ptr<Allocator> allocator;
    size_t heap_class; /* serves every heap limit of this class (heap_class()) */
    v8::Global<v8::Context> context;
};

/* An isolate's teardown: its heap's pages unmapped, ~0.6 ms of a child's ~2.5 ms life here. */
void dispose_isolate(v8::Isolate *isolate)
{
    v8::platform::NotifyIsolateShutdown(platform(), isolate);
    isolate->Dispose();
}

void dispose_pooled(Pooled *p)
{
    p->context.Reset();
    dispose_isolate(p->isolate);
    delete p;
}

/* One thread's pool and its filler. Everything but `filler` is guarded by mu. */
struct Pool {
    std::mutex mu;
    std::condition_variable wake;
    std::vector<Pooled *> entries; /* oldest first */
    size_t want_class = 0;         /* what the filler makes, up to want_target of it */
    size_t want_target = 0;
    bool stopping = false;
    bool filler_failed = false;        /* V8 made none (no snapshot): wait for the next request */
    std::vector<v8::Isolate *> doomed; /* retired workers' isolates the filler disposes */
    std::thread filler;

    size_t count(size_t cls)
    {
        size_t n = 0;
        for (const Pooled *p : entries)
            n += p->heap_class == cls;
        return n;
    }
    /* Frees the oldest isolates of other classes while the pool would hold more than twice
     * the target once `need` more are made. */
    void trim(size_t cls, size_t target, size_t need)
    {
        for (size_t i = 0; i < entries.size() && entries.size() + need > 2 * target;) {
            if (entries[i]->heap_class == cls) {
                i++;
                continue;
            }
            dispose_pooled(entries[i]);
            entries.erase(entries.begin() + (ptrdiff_t)i);
        }
    }
};

thread_local Pool *t_pool;

Pool *my_pool()
{
    if (!t_pool)
        t_pool = new Pool;
    return t_pool;
}

/* A never-used isolate of class cls with its context, or NULL (no snapshot, out of memory). */
Pooled *create(size_t cls)
{
    try {
        std::shared_ptr<Allocator> allocator;
        v8::Isolate *isolate;
        bool from_snapshot;
        if (!make_isolate(cls, true, &allocator, &isolate, &from_snapshot))
            return nullptr;
        auto *p = new Pooled{isolate, std::move(allocator), cls, {}};
        {
            v8::Isolate::Scope isolate_scope(isolate);
            v8::HandleScope handle_scope(isolate);
            v8::Local<v8::Context> context;
            /* Without the snapshot a pooled context would lack the runtime: no pool then. */
            if (from_snapshot)
                context = v8::Context::New(isolate);
            if (context.IsEmpty()) {
                dispose_pooled(p);
                return nullptr;
            }
            p->context.Reset(isolate, context);
        }
        return p;
    } catch (...) {
        return nullptr;
    }
}

void fill_loop(Pool *pool)
{
    pthread_setname_np(pthread_self(), "edged-pool");
    /* Behind the shard threads: a request that needs the CPU gets it before a spare isolate. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5);
    std::unique_lock<std::mutex> lock(pool->mu);
    for (;;) {
        pool->wake.wait(lock, [pool] {
            return pool->stopping || !pool->doomed.empty() ||
                   (!pool->filler_failed && pool->count(pool->want_class) < pool->want_target);
        });
        if (pool->stopping)
            return;
        /* Creation first: a taker that finds the pool empty creates on its request's path,
         * while a full disposal queue only sends the owner back to disposing between requests,
         * which it did before the filler existed. */
        bool short_of = !pool->filler_failed && pool->count(pool->want_class) < pool->want_target;
        if (!short_of) {
            v8::Isolate *isolate = pool->doomed.back();
            pool->doomed.pop_back();
            lock.unlock();
            dispose_isolate(isolate);
            lock.lock();
            continue;
        }
        size_t cls = pool->want_class;
        pool->trim(cls, pool->want_target, 1);
        lock.unlock();
        Pooled *p = create(cls);
        lock.lock();
        if (!p)
            pool->filler_failed = true;
        else
            pool->entries.push_back(p);
    }
}

/* Retired isolates waiting for the filler; beyond this the owner disposes them itself, so a
 * filler that falls behind cannot pile up their memory. */
constexpr size_t kMaxDoomed = 8;

} // namespace

void dispose_later(v8::Isolate *isolate)
{
    Pool *pool = t_pool;
    if (pool) {
        std::lock_guard<std::mutex> lock(pool->mu);
        if (pool->filler.joinable() && !pool->stopping && pool->doomed.size() < kMaxDoomed) {
            try {
                pool->doomed.push_back(isolate);
                pool->wake.notify_one();
                return;
            } catch (...) {
                /* no room in the queue: dispose here */
            }
        }
    }
    dispose_isolate(isolate);
}

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
    if (!t_pool)
        return false;
    size_t cls = heap_class(heap_limit);
    Pooled *p = nullptr;
    {
        std::lock_guard<std::mutex> lock(t_pool->mu);
        std::vector<Pooled *> &e = t_pool->entries;
        for (size_t i = e.size(); i-- > 0;) {
            if (e[i]->heap_class == cls) {
                p = e[i];
                e.erase(e.begin() + (ptrdiff_t)i);
                break;
            }
        }
        if (p)
            t_pool->wake.notify_one(); /* one short: the filler makes the next */
    }
    if (!p)
        return false;
    char here;
    p->isolate->SetStackLimit(reinterpret_cast<uintptr_t>(&here) - kStackBudget);
    w->isolate = p->isolate;
    w->allocator = std::move(p->allocator);
    w->allocator->set_limit(heap_limit);
    w->from_snapshot = true;
    {
        v8::Isolate::Scope isolate_scope(p->isolate);
        v8::HandleScope scope(p->isolate);
        w->context.Reset(p->isolate, p->context.Get(p->isolate));
    }
    p->context.Reset();
    delete p;
    return true;
}

} // namespace iso

extern "C" size_t iso_pool_fill(size_t heap_limit_bytes, size_t target, uint64_t budget_ns) noexcept
{
    if (!iso::platform())
        return 0;
    if (!heap_limit_bytes)
        heap_limit_bytes = iso::kDefaultHeapLimit;
    size_t cls = iso::heap_class(heap_limit_bytes);
    iso::Pool *pool;
    try {
        pool = iso::my_pool();
    } catch (...) {
        return 0;
    }
    std::unique_lock<std::mutex> lock(pool->mu);
    size_t have = pool->count(cls);
    pool->trim(cls, target, have < target ? target - have : 0);
    uint64_t start = ed_now_ns();
    while (have < target) {
        lock.unlock();
        iso::Pooled *p = iso::create(cls);
        lock.lock();
        if (!p)
            break;
        try {
            pool->entries.push_back(p);
        } catch (...) {
            iso::dispose_pooled(p);
            break;
        }
        have++;
        if (ed_now_ns() - start >= budget_ns)
            break;
    }
    return have;
}

extern "C" void iso_pool_want(size_t heap_limit_bytes, size_t target) noexcept
{
    if (!iso::platform())
        return;
    if (!heap_limit_bytes)
        heap_limit_bytes = iso::kDefaultHeapLimit;
    try {
        iso::Pool *pool = iso::my_pool();
        std::lock_guard<std::mutex> lock(pool->mu);
        pool->want_class = iso::heap_class(heap_limit_bytes);
        pool->want_target = target;
        pool->filler_failed = false;
        if (!pool->filler.joinable())
            pool->filler = std::thread(iso::fill_loop, pool);
        pool->wake.notify_one();
    } catch (...) {
        /* no thread: children are created on the request path instead */
    }
}

extern "C" size_t iso_pool_size(size_t heap_limit_bytes) noexcept
{
    if (!iso::t_pool)
        return 0;
    if (!heap_limit_bytes)
        heap_limit_bytes = iso::kDefaultHeapLimit;
    std::lock_guard<std::mutex> lock(iso::t_pool->mu);
    return iso::t_pool->count(iso::heap_class(heap_limit_bytes));
}

extern "C" void iso_pool_drain(void) noexcept
{
    iso::Pool *pool = iso::t_pool;
    if (!pool)
        return;
    {
        std::lock_guard<std::mutex> lock(pool->mu);
        pool->stopping = true;
        pool->wake.notify_one();
    }
    if (pool->filler.joinable())
        pool->filler.join();
    for (v8::Isolate *isolate : pool->doomed)
        iso::dispose_isolate(isolate);
    for (iso::Pooled *p : pool->entries)
        iso::dispose_pooled(p);
    delete pool;
    iso::t_pool = nullptr;
}
