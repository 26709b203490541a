/*
 * The watchdog: one thread for the process that enforces per-invocation CPU and wall-time
 * budgets. A shard registers a slot (its thread's CPU clock) once and arms it around every
 * entry into JavaScript; the thread sleeps until the earliest moment an armed slot could run
 * out (a thread's CPU clock never runs faster than the wall clock, so the CPU budget left is a
 * lower bound on the wall time left), then reads the CPU clocks and terminates what overran.
 * Arming costs a clock read and an uncontended lock; it wakes the thread only when it moves
 * the planned wake-up earlier, so at a steady request rate the thread wakes about once per
 * budget, not once per request. Disarming takes the slot's lock, which the thread holds while
 * it checks and terminates, so after a disarm the watchdog never touches that worker again.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "isolates/iso_int.h"
#include "isolates/isolates.h"

#define NEVER UINT64_MAX
/* A budget ran out while its worker was between two stretches of JavaScript (just armed, or
 * just finished and not yet disarmed): look again this soon. */
#define RETRY_NS 1000000u

struct iso_watch_slot {
    struct iso_watch_slot *prev, *next; /* in wd.slots, under wd.lock */
    clockid_t cpu_clock;                /* the registering thread's CPU clock */
    pthread_mutex_t lock;               /* guards the fields below */
    bool armed;
    struct iso_worker *worker;        /* what a spent budget terminates (may be NULL) */
    bool fired;                       /* the worker was terminated: done until re-armed */
    uint64_t cpu_start, cpu_budget;   /* thread CPU time at arm; budget 0 = none */
    uint64_t wall_start, wall_budget; /* monotonic time at arm; budget 0 = none */
};

static struct {
    pthread_mutex_t lock; /* slots, started, stopping, and the condition variable */
    pthread_cond_t cond;  /* on CLOCK_MONOTONIC */
    pthread_t thread;
    bool started, stopping;
    struct iso_watch_slot *slots;
    /* When the thread plans to wake up next; 0 while it scans the slots, so an arm racing
     * with a scan always signals. */
    _Atomic uint64_t next_wake;
} wd = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_wake = NEVER};

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t since(uint64_t start, uint64_t now)
{
    return now > start ? now - start : 0;
}

/* Checks one slot at monotonic time now; returns when it next needs a look (NEVER: idle). */
static uint64_t check_slot(struct iso_watch_slot *s, uint64_t now)
{
    uint64_t wake = NEVER;
    pthread_mutex_lock(&s->lock);
    if (s->armed && s->worker && !s->fired) {
        uint64_t left = NEVER;
        int reason = 0;
        if (s->cpu_budget) {
            uint64_t used = since(s->cpu_start, clock_ns(s->cpu_clock));
            if (used >= s->cpu_budget)
                reason = ED_ECPULIMIT;
            else
                left = s->cpu_budget - used;
        }
        if (!reason && s->wall_budget) {
            uint64_t used = since(s->wall_start, now);
            if (used >= s->wall_budget)
                reason = ED_EWALLLIMIT;
            else if (s->wall_budget - used < left)
                left = s->wall_budget - used;
        }
        if (!reason)
            wake = now + left;
        else if (iso__worker_stop_running(s->worker, reason))
            s->fired = true;
        else
            wake = now + RETRY_NS;
    }
    pthread_mutex_unlock(&s->lock);
    return wake;
}

static void *watch(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd.lock);
    while (!wd.stopping) {
        atomic_store(&wd.next_wake, 0);
        uint64_t now = ed_now_ns(), wake = NEVER;
        for (struct iso_watch_slot *s = wd.slots; s; s = s->next) {
            uint64_t t = check_slot(s, now);
            if (t < wake)
                wake = t;
        }
        atomic_store(&wd.next_wake, wake);
        if (wake == NEVER) {
            pthread_cond_wait(&wd.cond, &wd.lock);
        } else {
            struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000u),
                                  .tv_nsec = (long)(wake % 1000000000u)};
            pthread_cond_timedwait(&wd.cond, &wd.lock, &ts);
        }
    }
    pthread_mutex_unlock(&wd.lock);
    return NULL;
}

int iso_watchdog_start(struct ed_error *err)
{
    pthread_mutex_lock(&wd.lock);
    if (wd.started) {
        pthread_mutex_unlock(&wd.lock);
        return 0;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&wd.cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc) {
        pthread_mutex_unlock(&wd.lock);
        return ed_error_set(err, -rc, "watchdog: pthread_cond_init failed");
    }
    /* The thread takes no signals: they belong to the server's loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    wd.stopping = false;
    rc = pthread_create(&wd.thread, NULL, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&wd.cond);
        pthread_mutex_unlock(&wd.lock);
        return ed_error_set(err, -rc, "watchdog: cannot start its thread");
    }
    pthread_setname_np(wd.thread, "edged-watchdog");
    wd.started = true;
    pthread_mutex_unlock(&wd.lock);
    return 0;
}

void iso_watchdog_stop(void)
{
    pthread_mutex_lock(&wd.lock);
    if (!wd.started) {
        pthread_mutex_unlock(&wd.lock);
        return;
    }
    wd.stopping = true;
    pthread_cond_signal(&wd.cond);
    pthread_mutex_unlock(&wd.lock);
    pthread_join(wd.thread, NULL);
    pthread_mutex_lock(&wd.lock);
    pthread_cond_destroy(&wd.cond);
    wd.started = false;
    atomic_store(&wd.next_wake, NEVER);
    pthread_mutex_unlock(&wd.lock);
}

int iso_watch_slot_new(struct iso_watch_slot **out)
{
    struct iso_watch_slot *s = calloc(1, sizeof *s);
    if (!s)
        return ED_ENOMEM;
    int rc = pthread_getcpuclockid(pthread_self(), &s->cpu_clock);
    if (rc) {
        free(s);
        return -rc;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_lock(&wd.lock);
    s->next = wd.slots;
    if (wd.slots)
        wd.slots->prev = s;
    wd.slots = s;
    pthread_mutex_unlock(&wd.lock);
    *out = s;
    return 0;
}

void iso_watch_slot_free(struct iso_watch_slot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&wd.lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        wd.slots = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&wd.lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void iso_watch_arm(struct iso_watch_slot *s, struct iso_worker *w, uint64_t cpu_budget_ns,
                   uint64_t wall_budget_ns)
{
    uint64_t cpu = ed_thread_cpu_ns(), now = ed_now_ns();
    pthread_mutex_lock(&s->lock);
    s->armed = true;
    s->worker = w;
    s->fired = false;
    s->cpu_start = cpu;
    s->cpu_budget = cpu_budget_ns;
    s->wall_start = now;
    s->wall_budget = wall_budget_ns;
    pthread_mutex_unlock(&s->lock);

    uint64_t deadline = NEVER;
    if (w && cpu_budget_ns)
        deadline = now + cpu_budget_ns;
    if (w && wall_budget_ns && now + wall_budget_ns < deadline)
        deadline = now + wall_budget_ns;
    uint64_t planned = atomic_load(&wd.next_wake);
    if (deadline != NEVER && (planned == 0 || deadline < planned)) {
        pthread_mutex_lock(&wd.lock);
        if (wd.started)
            pthread_cond_signal(&wd.cond);
        pthread_mutex_unlock(&wd.lock);
    }
}

uint64_t iso_watch_disarm(struct iso_watch_slot *s)
{
    uint64_t cpu = ed_thread_cpu_ns();
    pthread_mutex_lock(&s->lock);
    uint64_t spent = s->armed ? since(s->cpu_start, cpu) : 0;
    s->armed = false;
    s->worker = NULL;
    s->fired = false;
    pthread_mutex_unlock(&s->lock);
    return spent;
}
