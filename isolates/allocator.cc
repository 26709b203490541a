/*
 * The ArrayBuffer allocator of one worker. ArrayBuffer memory lives outside the V8 heap, so the
 * heap limit alone would let `new ArrayBuffer(1e9)` through; this allocator counts every
 * backing store and returns nullptr (which V8 turns into a RangeError the worker can catch) when
 * an allocation would take backing stores plus the heap (as of the last GC) past the worker's
 * limit. Allocations of at most 64 bytes are never refused: V8 keeps typed arrays that small
 * inside the heap and, when one needs its own backing store later (`.buffer`), treats a refusal
 * as a fatal out-of-memory; the heap limit bounds those through their JS objects instead.
 */
#include <cstdlib>

#include "isolates/shim_int.h"

namespace iso {

/* V8_TYPED_ARRAY_MAX_SIZE_IN_HEAP: V8's default, checked by tests/unit/isolates/test_limits.c. */
constexpr size_t kMaxOnHeapTypedArray = 64;

bool Allocator::reserve(size_t length)
{
    size_t cur = used_.load(std::memory_order_relaxed);
    for (;;) {
        size_t next = cur + length;
        if (next < cur)
            return false;
        if (length > kMaxOnHeapTypedArray &&
            next + heap_used_.load(std::memory_order_relaxed) > limit_)
            return false;
        if (used_.compare_exchange_weak(cur, next, std::memory_order_relaxed))
            return true;
    }
}

void *Allocator::Allocate(size_t length)
{
    if (!reserve(length))
        return nullptr;
    void *p = calloc(1, length ? length : 1);
    if (!p)
        used_.fetch_sub(length, std::memory_order_relaxed);
    return p;
}

void *Allocator::AllocateUninitialized(size_t length)
{
    if (!reserve(length))
        return nullptr;
    void *p = malloc(length ? length : 1);
    if (!p)
        used_.fetch_sub(length, std::memory_order_relaxed);
    return p;
}

void Allocator::Free(void *data, size_t length)
{
    if (!data)
        return;
    free(data);
    used_.fetch_sub(length, std::memory_order_relaxed);
}

} // namespace iso
