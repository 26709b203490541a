/*
 * isolates/watchdog.c: slots measure their own thread's CPU time, budgets are enforced per
 * slot (one shard's runaway worker does not touch another's), a budget that runs out before
 * the JavaScript starts still stops it, and arming stays cheap on the request path.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "iso_test.h"

static void setup(void)
{
    iso_test_setup();
    struct ed_error err = {0};
    cr_assert_eq(iso_watchdog_start(&err), 0);
    cr_assert_eq(iso_watchdog_start(&err), 0, "a second start is harmless");
}

static void teardown(void)
{
    iso_watchdog_stop();
}

TestSuite(watchdog, .init = setup, .fini = teardown);

#define LOOP "export default { fetch() { while (true) {} } };"
#define HELLO "export default { fetch() { return new Response('hello'); } };"

static void spin_cpu(uint64_t ns)
{
    uint64_t start = ed_thread_cpu_ns();
    while (ed_thread_cpu_ns() - start < ns)
        ;
}

static int fetch_code(struct iso_worker *w)
{
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    int rc = fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err);
    capture_dispose(&c);
    ed_error_dispose(&err);
    return rc;
}

Test(watchdog, disarm_reports_cpu_spent)
{
    struct iso_watch_slot *s = NULL;
    cr_assert_eq(iso_watch_slot_new(&s), 0);
    iso_watch_arm(s, NULL, 0, 0);
    spin_cpu(20000000u);
    uint64_t spent = iso_watch_disarm(s);
    cr_assert_geq(spent, 20000000u);
    cr_assert_lt(spent, 200000000u);
    cr_assert_eq(iso_watch_disarm(s), 0, "a disarmed slot spent nothing");
    iso_watch_slot_free(s);
}

Test(watchdog, budget_spent_before_javascript_still_stops_it)
{
    /* The budget runs out while the thread is busy in C (the worker is not running, so the
     * first termination cannot take); the watchdog keeps looking and stops the loop soon
     * after it starts. */
    struct iso_watch_slot *s = NULL;
    cr_assert_eq(iso_watch_slot_new(&s), 0);
    struct iso_worker *w = worker_ok(LOOP);
    iso_watch_arm(s, w, 10000000u, 0);
    spin_cpu(30000000u);
    cr_assert_not(iso_worker_retired(w));
    uint64_t t0 = ed_now_ns();
    cr_assert_eq(fetch_code(w), ED_ECPULIMIT);
    cr_assert_lt(ed_now_ns() - t0, 200000000u);
    iso_watch_disarm(s);
    iso_worker_free(w);
    iso_watch_slot_free(s);
}

struct shard {
    const char *src;
    uint64_t cpu_budget;
    int rc;
    uint64_t took;
};

static void *run_shard(void *arg)
{
    struct shard *sh = arg;
    struct iso_watch_slot *s = NULL;
    if (iso_watch_slot_new(&s) != 0)
        return NULL;
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    if (worker_from(sh->src, 0, NULL, &w, &err) == 0) {
        uint64_t t0 = ed_now_ns();
        for (int i = 0; i < 20 && sh->rc == 0; i++) {
            iso_watch_arm(s, w, sh->cpu_budget, 0);
            sh->rc = fetch_code(w);
            iso_watch_disarm(s);
        }
        sh->took = ed_now_ns() - t0;
        iso_worker_free(w);
    } else {
        sh->rc = 1;
    }
    ed_error_dispose(&err);
    iso_watch_slot_free(s);
    return NULL;
}

Test(watchdog, slots_are_independent_across_threads)
{
    struct shard shards[4] = {
        {LOOP, 40000000u, 0, 0},
        {HELLO, 40000000u, 0, 0},
        {LOOP, 80000000u, 0, 0},
        {HELLO, 1000000000u, 0, 0},
    };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, run_shard, &shards[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(shards[0].rc, ED_ECPULIMIT);
    cr_assert_eq(shards[1].rc, 0);
    cr_assert_eq(shards[2].rc, ED_ECPULIMIT);
    cr_assert_eq(shards[3].rc, 0);
    /* CPU budgets: the thread had at least its budget of wall time, and not much more. */
    cr_assert_geq(shards[0].took, 40000000u);
    cr_assert_lt(shards[0].took, 2000000000u);
    cr_assert_geq(shards[2].took, 80000000u);
}

Test(watchdog, arm_and_disarm_are_cheap)
{
    struct iso_watch_slot *s = NULL;
    cr_assert_eq(iso_watch_slot_new(&s), 0);
    struct iso_worker *w = worker_ok(HELLO);
    enum { N = 100000 };
    uint64_t t0 = ed_now_ns();
    for (int i = 0; i < N; i++) {
        iso_watch_arm(s, w, 50000000u, 100000000u);
        iso_watch_disarm(s);
    }
    uint64_t per = (ed_now_ns() - t0) / N;
    cr_log_info("arm + disarm: %llu ns", (unsigned long long)per);
    cr_assert_lt(per, 20000u, "arm + disarm took %llu ns", (unsigned long long)per);
    cr_assert_not(iso_worker_retired(w));
    iso_worker_free(w);
    iso_watch_slot_free(s);
}

Test(watchdog, stop_and_restart)
{
    iso_watchdog_stop();
    iso_watchdog_stop();
    struct ed_error err = {0};
    cr_assert_eq(iso_watchdog_start(&err), 0);
    struct iso_watch_slot *s = NULL;
    cr_assert_eq(iso_watch_slot_new(&s), 0);
    struct iso_worker *w = worker_ok(LOOP);
    iso_watch_arm(s, w, 20000000u, 0);
    cr_assert_eq(fetch_code(w), ED_ECPULIMIT);
    iso_watch_disarm(s);
    iso_worker_free(w);
    iso_watch_slot_free(s);
}
