/*
 * isolates/: limits that retire a worker instead of the process — the heap limit (JS heap and
 * ArrayBuffer memory), CPU and wall budgets through the watchdog, and iso_worker_terminate()
 * from another thread — and that the thread goes on serving with a fresh worker afterwards.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "iso_test.h"

/* The shard's slot: workers name it in their config and the shim arms it on every entry. */
static struct iso_watch_slot *g_slot;

static void setup(void)
{
    iso_test_setup();
    struct ed_error err = {0};
    cr_assert_eq(iso_watchdog_start(&err), 0);
    cr_assert_eq(iso_watch_slot_new(&g_slot), 0);
}

static void teardown(void)
{
    iso_watch_slot_free(g_slot);
    iso_watchdog_stop();
}

TestSuite(limits, .init = setup, .fini = teardown);

#define HELLO "export default { fetch() { return new Response('hello'); } };"

#define BOMB                                                                     \
    "export default { fetch() {\n"                                               \
    "  const a = []; while (true) a.push(new Array(1e5).fill(Math.random()));\n" \
    "} };"

#define LOOP "export default { fetch() { while (true) {} } };"

static void expect_hello_works(void)
{
    struct iso_worker *w = worker_ok(HELLO);
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "hello");
    capture_dispose(&c);
    iso_worker_free(w);
}

/* A GET whose response is not looked at (it fails before its head, or is "hello"). */
static int fetch_once(struct iso_worker *w, struct ed_error *err)
{
    struct capture c;
    capture_init(&c);
    int rc = fetch_into(w, "GET", "http://x/", NULL, NULL, &c, err);
    cr_assert_eq(c.heads, rc == 0);
    capture_dispose(&c);
    return rc;
}

/* A GET whose outcome is only returned (a head may or may not have been sent). */
static int fetch_once_any(struct iso_worker *w, struct ed_error *err)
{
    struct capture c;
    capture_init(&c);
    int rc = fetch_into(w, "GET", "http://x/", NULL, NULL, &c, err);
    capture_dispose(&c);
    return rc;
}

Test(limits, memory_bomb_retires_the_worker_not_the_process)
{
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(worker_from(BOMB, 16u << 20, NULL, &w, &err), 0, "%s", ed_error_msg(&err));
    uint64_t t0 = ed_now_ns();
    cr_assert_eq(fetch_once(w, &err), ED_EHEAPLIMIT, "%s", ed_error_msg(&err));
    cr_assert_lt(ed_now_ns() - t0, 5000000000u);
    cr_assert(iso_worker_retired(w));
    cr_assert_eq(fetch_once(w, &err), ED_EINVAL);
    cr_assert(strstr(err.msg, "retired"), "%s", err.msg);
    iso_worker_free(w);
    expect_hello_works();
    ed_error_dispose(&err);
}

Test(limits, strings_and_objects_bomb_too)
{
    static const char *bombs[] = {
        "export default { fetch() { let s = 'x'; const keep = []; while (true) { s += s;"
        " keep.push(s + '!'); } } };",
        "export default { fetch() { const m = new Map(); for (let i = 0; ; i++) m.set(i, { i }); } };",
        "export default { fetch() { const k = []; for (;;) k.push('x'.repeat(2 ** 24) + k.length); } };",
        "export default { fetch() { const a = []; while (true) a.push(new Array(1e6).fill(1.5)); } };",
    };
    for (size_t i = 0; i < sizeof bombs / sizeof *bombs; i++) {
        struct iso_worker *w = NULL;
        struct ed_error err = {0};
        cr_assert_eq(worker_from(bombs[i], 16u << 20, NULL, &w, &err), 0);
        int rc = fetch_once(w, &err);
        /* The string bomb may instead hit V8's maximum string length, a RangeError. */
        cr_assert(rc == ED_EHEAPLIMIT || (i == 0 && rc == ED_EJS), "bomb %zu: %s: %s", i,
                  ed_errname(rc), ed_error_msg(&err));
        iso_worker_free(w);
        ed_error_dispose(&err);
    }
    expect_hello_works();
}

Test(limits, one_huge_allocation_retires_the_worker)
{
    /* 256 MiB in one piece under a 16 MiB limit: V8 would abort the process if its own heap
     * limit were the worker's. Kept alive, it retires the worker (during the request or in
     * the check after it); dropped before the request ends, it is garbage and the live heap
     * is what the limit judges. */
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = worker_from("let keep;\n"
                         "export default { fetch(req) {\n"
                         "  const a = new Array(2 ** 25).fill(0);\n"
                         "  if (req.url.endsWith('/keep')) keep = a;\n"
                         "  return new Response(String(a.length));\n"
                         "} };",
                         16u << 20, NULL, &w, &err);
    cr_assert_eq(rc, 0);
    rc = fetch_once_any(w, &err);
    cr_assert(rc == 0 || rc == ED_EHEAPLIMIT, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    if (!iso_worker_retired(w)) {
        struct capture c;
        capture_init(&c);
        rc = fetch_into(w, "GET", "http://x/keep", NULL, NULL, &c, &err);
        cr_assert(rc == 0 || rc == ED_EHEAPLIMIT, "%s: %s", ed_errname(rc), ed_error_msg(&err));
        capture_dispose(&c);
        cr_assert(iso_worker_retired(w));
    }
    iso_worker_free(w);
    ed_error_dispose(&err);
    expect_hello_works();
}

Test(limits, bomb_at_top_level_fails_worker_new)
{
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = worker_from("const a = []; while (true) a.push(new Array(1e5).fill(0.5));\n"
                         "export default { fetch() {} };",
                         16u << 20, NULL, &w, &err);
    cr_assert_eq(rc, ED_EHEAPLIMIT, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert_null(w);
    ed_error_dispose(&err);
    expect_hello_works();
}

Test(limits, array_buffers_count_against_the_limit)
{
    /* Backing stores live outside the V8 heap; the allocator refuses them past the limit
     * with a RangeError the worker can catch, and the worker stays usable. */
    struct iso_worker *w = worker_ok(
        "export default { fetch(req) {\n"
        "  if (req.url.endsWith('/big')) {\n"
        "    try { new ArrayBuffer(200 * 1024 * 1024); } catch (e) { return new Response(e.name); }\n"
        "    return new Response('allocated');\n"
        "  }\n"
        "  const keep = [];\n"
        "  try { for (let i = 0; i < 1000; i++) keep.push(new Uint8Array(1 << 20)); }\n"
        "  catch (e) { return new Response(`${e.name} after ${keep.length}`); }\n"
        "  return new Response('no limit');\n"
        "} };");
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/big", &c), "RangeError");
    capture_dispose(&c);
    const char *body = get_ok(w, "http://x/many", &c);
    int n = 0;
    cr_assert_eq(sscanf(body, "RangeError after %d", &n), 1, "%s", body);
    cr_assert(n > 64 && n < 128, "%d MiB of buffers under a 128 MiB limit", n);
    capture_dispose(&c);
    cr_assert_not(iso_worker_retired(w));
    cr_assert_str_eq(get_ok(w, "http://x/big", &c), "RangeError");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(limits, small_typed_arrays_are_never_refused)
{
    /* Fill the ArrayBuffer budget, then materialise the buffer of a small on-heap typed array:
     * V8 aborts the process if that allocation fails, so the allocator must not refuse it. */
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = worker_from("export default { fetch() {\n"
                         "  const keep = [];\n"
                         "  try { for (;;) keep.push(new ArrayBuffer(1 << 20)); } catch {}\n"
                         "  try { for (;;) keep.push(new ArrayBuffer(65)); } catch {}\n"
                         "  const small = [];\n"
                         "  for (let i = 0; i < 100; i++) small.push(new Uint8Array(64).buffer);\n"
                         "  return new Response(`${small.length} ${keep.length > 16}`);\n"
                         "} };",
                         32u << 20, NULL, &w, &err);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "100 true");
    capture_dispose(&c);
    iso_worker_free(w);
}

/* A worker watched through g_slot. */
static struct iso_worker *watched(const char *src)
{
    struct iso_module m = {"w.js", src, strlen(src), ISO_MODULE_ESM};
    struct iso_worker_config cfg = {
        .modules = &m, .n_modules = 1, .main_module = "w.js", .watch = g_slot};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = iso_worker_new(&cfg, &w, &err);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    return w;
}

/* A GET with budgets into c; returns the fetch's code or the code on_fail got. */
static int fetch_budgets(struct iso_worker *w, uint64_t cpu_ns, uint64_t wall_ns,
                         uint64_t *cpu_used, struct capture *c)
{
    struct iso_request req = {.method = "GET",
                              .url = "http://x/",
                              .url_len = 9,
                              .cpu_budget_ns = cpu_ns,
                              .wall_budget_ns = wall_ns,
                              .cpu_used_ns = cpu_used};
    struct ed_error err = {0};
    int rc = iso_worker_fetch(w, &req, cap_sink(), c, &err);
    ed_error_dispose(&err);
    return rc ? rc : c->fails ? c->fail_code : 0;
}

/* Runs src's fetch with the given budgets; returns the fetch's code, the wall time it took and
 * the CPU time the shim counted for it. */
static int run_armed(const char *src, uint64_t cpu_ns, uint64_t wall_ns, uint64_t *took_ns,
                     uint64_t *cpu_spent_ns, struct iso_worker **out)
{
    struct iso_worker *w = watched(src);
    struct capture c;
    capture_init(&c);
    *cpu_spent_ns = 0;
    uint64_t t0 = ed_now_ns();
    int rc = fetch_budgets(w, cpu_ns, wall_ns, cpu_spent_ns, &c);
    *took_ns = ed_now_ns() - t0;
    cr_assert_eq(c.heads, rc == 0);
    capture_dispose(&c);
    *out = w;
    return rc;
}

Test(limits, cpu_budget_stops_an_infinite_loop)
{
    struct iso_worker *w;
    uint64_t took, cpu;
    int rc = run_armed(LOOP, 50000000u, 0, &took, &cpu, &w);
    cr_assert_eq(rc, ED_ECPULIMIT, "%s", ed_errname(rc));
    cr_assert_geq(cpu, 50000000u);
    cr_assert_leq(cpu, took + 1000000u);
    cr_assert_lt(took, 1000000000u, "took %llu ns", (unsigned long long)took);
    cr_assert(iso_worker_retired(w));
    iso_worker_free(w);
    expect_hello_works(); /* same thread, fresh isolate */
}

Test(limits, wall_budget_stops_an_infinite_loop)
{
    struct iso_worker *w;
    uint64_t took, cpu;
    int rc = run_armed(LOOP, 0, 30000000u, &took, &cpu, &w);
    cr_assert_eq(rc, ED_EWALLLIMIT, "%s", ed_errname(rc));
    cr_assert_lt(took, 1000000000u);
    cr_assert(iso_worker_retired(w));
    iso_worker_free(w);
}

Test(limits, budget_not_spent_leaves_the_worker_alone)
{
    struct iso_worker *w;
    uint64_t took, cpu;
    cr_assert_eq(run_armed(HELLO, 20000000u, 20000000u, &took, &cpu, &w), 0);
    cr_assert_lt(cpu, 20000000u);
    usleep(50000); /* past both budgets, disarmed: nothing may happen now */
    cr_assert_not(iso_worker_retired(w));
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "hello");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(limits, cpu_budget_during_a_streamed_body)
{
    struct iso_worker *w = watched("export default { fetch() {\n"
                                   "  let i = 0;\n"
                                   "  return new Response(new ReadableStream({ pull(c) {\n"
                                   "    if (i++ < 2) return c.enqueue(new Uint8Array(1));\n"
                                   "    while (true) {}\n"
                                   "  } }));\n"
                                   "} };");
    struct capture c;
    capture_init(&c);
    uint64_t cpu = 0;
    cr_assert_eq(fetch_budgets(w, 30000000u, 0, &cpu, &c), 0);
    cr_assert_eq(c.heads, 1);
    cr_assert_geq(c.bodies, 1); /* pull runs ahead of reads: the loop may stop the second */
    cr_assert_eq(c.aborts, 1);
    cr_assert_eq(c.abort_code, ED_ECPULIMIT);
    cr_assert_geq(cpu, 30000000u);
    cr_assert(iso_worker_retired(w));
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(limits, cpu_budget_at_top_level)
{
    struct iso_watch_slot *slot = NULL;
    cr_assert_eq(iso_watch_slot_new(&slot), 0);
    static const char src[] = "while (true) {}\nexport default { fetch() {} };";
    struct iso_module m = {"w.js", src, sizeof src - 1, ISO_MODULE_ESM};
    struct iso_worker_config cfg = {.modules = &m,
                                    .n_modules = 1,
                                    .main_module = "w.js",
                                    .watch = slot,
                                    .cpu_budget_ns = 30000000u};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), ED_ECPULIMIT, "%s", ed_error_msg(&err));
    cr_assert_null(w);
    /* The slot was disarmed on the way out: it can watch the next worker. */
    struct iso_worker *ok = NULL;
    static const char hello[] = HELLO;
    m.source = hello;
    m.source_len = sizeof hello - 1;
    cr_assert_eq(iso_worker_new(&cfg, &ok, &err), 0, "%s", ed_error_msg(&err));
    iso_worker_free(ok);
    iso_watch_slot_free(slot);
    ed_error_dispose(&err);
}

static void *terminate_later(void *arg)
{
    usleep(30000);
    iso_worker_terminate(arg, ED_ETERMINATED);
    return NULL;
}

Test(limits, terminate_from_another_thread)
{
    struct iso_worker *w = worker_ok(LOOP);
    pthread_t t;
    pthread_create(&t, NULL, terminate_later, w);
    struct ed_error err = {0};
    uint64_t t0 = ed_now_ns();
    cr_assert_eq(fetch_once(w, &err), ED_ETERMINATED);
    cr_assert_lt(ed_now_ns() - t0, 2000000000u);
    pthread_join(t, NULL);
    cr_assert(iso_worker_retired(w));
    cr_assert_eq(fetch_once(w, &err), ED_EINVAL);
    ed_error_dispose(&err);
    iso_worker_free(w);
    expect_hello_works();
}

Test(limits, memory_is_reported)
{
    struct iso_worker *w =
        worker_ok("const keep = new Uint8Array(8 << 20);\n"
                  "export default { fetch() { return new Response(String(keep.length)); } };");
    cr_assert_gt(iso_worker_memory(w), 8u << 20);
    cr_assert_lt(iso_worker_memory(w), 32u << 20);
    iso_worker_free(w);
}
