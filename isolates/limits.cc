/*
 * How a worker is stopped. Two things stop one: iso_worker_terminate() from any thread (the
 * watchdog's CPU and wall budgets, a shutdown) and the worker's heap outgrowing its limit. Both
 * retire the worker for good: the first reason is recorded and TerminateExecution unwinds
 * whatever JavaScript runs. A termination is requested only while an Entry of the worker is
 * open, so a watchdog that fires just after a request finished cannot poison the next one.
 *
 * The memory limit is enforced on the heap's size after each garbage collection (and after
 * each dispatch), not through V8's own heap limit, because V8 10.2 aborts the whole process
 * when one allocation does not fit under its limit (no callback runs first), and a single
 * JavaScript object can take up to 1 GiB: `new Array(2 ** 25).fill(0)` is 256 MiB in one
 * piece, a growing Map doubles its table, an array changing element kind is copied. So V8's
 * limit sits kHeadroom above the worker's: the giant allocation succeeds, the next collection
 * sees the heap over the limit and terminates the worker. The near-heap-limit callback is the
 * last line: it terminates and raises V8's limit a step at a time, kMaxRaise in all, so the
 * unwinding can finish. Measured: gradual growth stops within a few MiB of the limit; a 1 GiB
 * double array survives at ~2.4 GB RSS for a few seconds; only a worker that keeps allocating
 * gigabytes in uninterruptible builtins still reaches V8's abort, which V8 leaves no way to
 * prevent. The headroom is address space, not memory: a worker that stays under its limit
 * never touches it.
 */
#include <cstring>

#include "isolates/iso_int.h"
#include "isolates/shim_int.h"

namespace iso {

namespace {

constexpr size_t kMiB = 1u << 20;
constexpr size_t kHeadroom = 2048 * kMiB;
constexpr size_t kRaiseStep = 256 * kMiB;
constexpr size_t kMaxRaise = 1024 * kMiB;
/* V8 10.2's young generation is two semi-spaces plus a new large-object space of the same
 * size: 3 x one 256 KB page. */
constexpr size_t kChildYoungGeneration = 3 * 256 * 1024;

size_t on_near_heap_limit(void *data, size_t current_limit, size_t initial_limit)
{
    auto *w = static_cast<iso_worker *>(data);
    stop(w, ED_EHEAPLIMIT, false);
    if (current_limit + kRaiseStep > initial_limit + kMaxRaise)
        return current_limit;
    return current_limit + kRaiseStep;
}

void on_gc_epilogue(v8::Isolate *isolate, v8::GCType, v8::GCCallbackFlags, void *data)
{
    auto *w = static_cast<iso_worker *>(data);
    v8::HeapStatistics hs;
    isolate->GetHeapStatistics(&hs);
    w->allocator->set_heap_used(hs.used_heap_size());
    if (hs.used_heap_size() > w->heap_limit)
        stop(w, ED_EHEAPLIMIT, false);
}

} // namespace

size_t heap_class(size_t limit)
{
    if (limit < 4)
        return 4;
    size_t top = size_t{1} << (63 - __builtin_clzll(limit)); /* highest power of two <= limit */
    size_t step = top / 4;
    return (limit + step - 1) / step * step;
}

void set_heap_constraints(v8::ResourceConstraints *c, size_t limit, bool child)
{
    /* Our own check enforces the worker's exact limit (check_heap, the GC epilogue); V8's
     * sizes come from the class, so one pooled isolate serves every limit of the class. */
    c->ConfigureDefaultsFromHeapSize(0, heap_class(limit));
    size_t old_gen = c->max_old_generation_size_in_bytes();
    /* The first full collection comes at about half the worker's limit, not half of V8's. */
    c->set_initial_old_generation_size_in_bytes(old_gen / 2);
    c->set_max_old_generation_size_in_bytes(old_gen + kHeadroom);
    /* A child starts with the smallest young generation V8 has: semi-spaces of one page. Every
     * committed page costs its header and marking bitmap (8 KB) even empty, and V8's default
     * start (two pages per semi-space) was 24 KB of each idle child's RSS. V8 grows the young
     * generation when much survives its collections, so a busy child still gets room (up to
     * the default maximum); parents keep V8's default start, so a hello-world parent does not
     * collect its young generation more often. */
    if (child)
        c->set_initial_young_generation_size_in_bytes(kChildYoungGeneration);
}

void check_heap(iso_worker *w)
{
    /* Growth between collections that a request can make in one piece lands in the large
     * object spaces; the rest was measured by the last collection. Two cheap reads (10 ns
     * each) on every dispatch, the full statistics (200 ns) only when that looks too much. */
    size_t large = 0;
    for (size_t i = 0; i < w->isolate->NumberOfHeapSpaces(); i++) {
        v8::HeapSpaceStatistics ss;
        if (!(w->large_spaces & (1u << i)) || !w->isolate->GetHeapSpaceStatistics(&ss, i))
            continue;
        large += ss.space_used_size();
    }
    if (w->allocator->heap_used() + large <= w->heap_limit)
        return;
    v8::HeapStatistics hs;
    w->isolate->GetHeapStatistics(&hs);
    if (hs.used_heap_size() <= w->heap_limit)
        return;
    /* Over the limit, maybe with garbage V8 had no reason to collect yet: collect, then
     * judge (the GC epilogue retires the worker if the live heap is still too large). */
    w->isolate->LowMemoryNotification();
}

void install_limits(iso_worker *w)
{
    for (size_t i = 0; i < w->isolate->NumberOfHeapSpaces() && i < 32; i++) {
        v8::HeapSpaceStatistics ss;
        if (w->isolate->GetHeapSpaceStatistics(&ss, i) && strstr(ss.space_name(), "large_object"))
            w->large_spaces |= 1u << i;
    }
    w->isolate->AddNearHeapLimitCallback(on_near_heap_limit, w);
    w->isolate->AddGCEpilogueCallback(on_gc_epilogue, w);
}

void remove_limits(iso_worker *w)
{
    w->isolate->RemoveNearHeapLimitCallback(on_near_heap_limit, 0);
    w->isolate->RemoveGCEpilogueCallback(on_gc_epilogue, w);
}

bool stop(iso_worker *w, int reason, bool only_running)
{
    pthread_mutex_lock(&w->run_lock);
    bool took = !only_running || w->running;
    if (took) {
        int none = 0;
        w->stop_reason.compare_exchange_strong(none, reason);
        w->isolate->TerminateExecution();
    }
    pthread_mutex_unlock(&w->run_lock);
    return took;
}

int stopped(iso_worker *w, ed_error *err)
{
    int reason = w->stop_reason.load();
    if (reason == 0)
        return 0;
    return ed_error_set(err, reason, "%s", ed_strerror(reason));
}

} // namespace iso

extern "C" void iso_worker_terminate(struct iso_worker *w, int reason) noexcept
{
    if (!w)
        return;
    iso::stop(w, reason < 0 ? reason : ED_ETERMINATED, true);
}

extern "C" bool iso__worker_stop_running(struct iso_worker *w, int reason) noexcept
{
    return w && iso::stop(w, reason, true);
}

extern "C" bool iso_worker_retired(const struct iso_worker *w) noexcept
{
    return w && w->stop_reason.load() != 0;
}

extern "C" void iso_worker_reduce_memory(struct iso_worker *w) noexcept
{
    if (!w || w->depth || w->holds || w->pending || w->free_requested || w->stop_reason.load())
        return;
    v8::Isolate::Scope isolate_scope(w->isolate);
    /* kCritical runs the collection now, on this thread (LowMemoryNotification does the same
     * work several times over: 2.5 ms instead of 0.7). kNone right after, or V8 would stay in
     * its memory-saving mode and collect more often when w runs again. */
    w->isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
    w->isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kNone);
}

extern "C" size_t iso_worker_memory(const struct iso_worker *w) noexcept
{
    if (!w)
        return 0;
    v8::HeapStatistics hs;
    w->isolate->GetHeapStatistics(&hs);
    return hs.used_heap_size() + w->allocator->used();
}
