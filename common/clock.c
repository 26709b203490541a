/*
 * Clocks. CPU limits are measured on the thread's own CPU clock, not wall time, so a
 * request is charged only for the cycles its JavaScript burnt on this shard.
 */
#include <time.h>

#include "common.h"

static uint64_t ts_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ed_now_ns(void)
{
    return ts_ns(CLOCK_MONOTONIC);
}

uint64_t ed_thread_cpu_ns(void)
{
    return ts_ns(CLOCK_THREAD_CPUTIME_ID);
}
