/*
 * isolates/: the runtime snapshot and the per-thread pool of pre-created child isolates. A
 * worker made from the snapshot has every runtime global and nothing another worker did (its
 * own Math.random sequence included); a pooled isolate goes to one child only, the pool never
 * holds one that ran code, serves only children of its heap limit, and heap and CPU limits
 * hold for pooled children as for any other. A child whose memory is reduced
 * (iso_worker_reduce_memory) gives back its garbage and goes on as the same child.
 */
#include <unistd.h>

#include "iso_test.h"
#include "isolates/iso_int.h"

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
    iso_pool_drain();
    iso_watch_slot_free(g_slot);
    iso_watchdog_stop();
}

TestSuite(pool, .init = setup, .fini = teardown);

#define MiB ((size_t)1 << 20)

/* A worker (a child when child) with a fetch handler, under the test's watch slot. */
static int make(const char *src, bool child, size_t heap, uint64_t cpu_ns, struct iso_worker **out,
                struct ed_error *err)
{
    struct iso_module m = {"worker.js", src, strlen(src), ISO_MODULE_ESM};
    struct iso_worker_config cfg = {
        .tenant = "t",
        .worker = "w",
        .modules = &m,
        .n_modules = 1,
        .main_module = "worker.js",
        .heap_limit_bytes = heap,
        .watch = g_slot,
        .cpu_budget_ns = cpu_ns,
        .child = child,
    };
    return iso_worker_new(&cfg, out, err);
}

static struct iso_worker *make_ok(const char *src, bool child, size_t heap)
{
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = make(src, child, heap, 0, &w, &err);
    cr_assert_eq(rc, 0, "iso_worker_new: %s: %s", ed_errname(rc), ed_error_msg(&err));
    ed_error_dispose(&err);
    return w;
}

#define GLOBALS                                                                                   \
    "const names = ['Headers', 'Request', 'Response', 'ReadableStream', 'TextEncoder',\n"         \
    "  'TextDecoder', 'console', 'queueMicrotask', 'fetch'];\n"                                   \
    "export default { fetch() {\n"                                                                \
    "  const missing = names.filter((n) => typeof globalThis[n] === 'undefined');\n"              \
    "  const own = Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith('leak'));\n" \
    "  return new Response(JSON.stringify({ missing, own,\n"                                      \
    "    proto: 'leak' in Headers.prototype, env: typeof globalThis.internals }));\n"             \
    "} };"

#define LEAKER                                            \
    "globalThis.leak1 = 1; Headers.prototype.leak = 2;\n" \
    "export default { fetch() { globalThis.leak2 = 3; return new Response('ok'); } };"

static void expect_clean(struct iso_worker *w)
{
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c),
                     "{\"missing\":[],\"own\":[],\"proto\":false,\"env\":\"undefined\"}");
    capture_dispose(&c);
}

Test(pool, snapshot_workers_have_the_runtime_and_nothing_of_another)
{
    /* the snapshot came from the warm-up child's calls, not the eager fallback */
    cr_assert(iso__snapshot_warmed());
    struct iso_worker *leaker = make_ok(LEAKER, false, 0);
    struct capture c;
    cr_assert_str_eq(get_ok(leaker, "http://x/", &c), "ok");
    capture_dispose(&c);
    struct iso_worker *plain = make_ok(GLOBALS, false, 0);
    expect_clean(plain);
    struct iso_worker *child = make_ok(GLOBALS, true, 0);
    expect_clean(child);
    iso_worker_free(child);
    iso_worker_free(plain);
    iso_worker_free(leaker);
}

#define RANDOM "export default { fetch() { return new Response(String(Math.random())); } };"

Test(pool, every_worker_has_its_own_random_sequence)
{
    struct iso_worker *a = make_ok(RANDOM, false, 0), *b = make_ok(RANDOM, true, 0);
    iso_pool_fill(0, 1, UINT64_MAX);
    struct iso_worker *p = make_ok(RANDOM, true, 0);
    struct capture ca, cb, cp;
    const char *ra = get_ok(a, "http://x/", &ca), *rb = get_ok(b, "http://x/", &cb),
               *rp = get_ok(p, "http://x/", &cp);
    cr_assert_str_neq(ra, rb);
    cr_assert_str_neq(ra, rp);
    cr_assert_str_neq(rb, rp);
    capture_dispose(&ca);
    capture_dispose(&cb);
    capture_dispose(&cp);
    iso_worker_free(a);
    iso_worker_free(b);
    iso_worker_free(p);
}

Test(pool, a_pooled_isolate_goes_to_one_child_only)
{
    cr_assert_eq(iso_pool_fill(0, 3, UINT64_MAX), 3);
    cr_assert_eq(iso_pool_size(0), 3);
    cr_assert_eq(iso_pool_size(128 * MiB), 3); /* 0 means the default, 128 MiB */
    /* Not a child: the pool is left alone. */
    struct iso_worker *parent = make_ok(GLOBALS, false, 0);
    cr_assert_eq(iso_pool_size(0), 3);
    /* Each child takes one; each leaks into its own isolate only. */
    struct iso_worker *kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = make_ok(LEAKER, true, 0);
        cr_assert_eq(iso_pool_size(0), i < 3 ? (size_t)(2 - i) : 0u);
        struct capture c;
        cr_assert_str_eq(get_ok(kids[i], "http://x/", &c), "ok");
        capture_dispose(&c);
    }
    /* The pool never holds an isolate that ran code: a new one is clean. */
    cr_assert_eq(iso_pool_fill(0, 2, UINT64_MAX), 2);
    struct iso_worker *fresh = make_ok(GLOBALS, true, 0);
    expect_clean(fresh);
    expect_clean(parent);
    iso_worker_free(fresh);
    for (int i = 0; i < 4; i++)
        iso_worker_free(kids[i]);
    iso_worker_free(parent);
    cr_assert_eq(iso_pool_size(0), 1);
    iso_pool_drain();
    cr_assert_eq(iso_pool_size(0), 0);
}

Test(pool, serves_heap_classes_and_a_budget_bounds_a_fill)
{
    cr_assert_eq(iso_pool_fill(32 * MiB, 2, UINT64_MAX), 2);
    cr_assert_eq(iso_pool_size(30 * MiB), 2); /* 30 and 32 MiB: one class */
    struct iso_worker *other = make_ok(GLOBALS, true, 64 * MiB);
    cr_assert_eq(iso_pool_size(32 * MiB), 2); /* a 64 MiB child took none */
    /* Filling for another class keeps the first; a zero budget makes one at a time. */
    cr_assert_eq(iso_pool_fill(64 * MiB, 4, 0), 1);
    cr_assert_eq(iso_pool_size(32 * MiB), 2);
    cr_assert_eq(iso_pool_size(64 * MiB), 1);
    struct iso_worker *child = make_ok(GLOBALS, true, 60 * MiB);
    cr_assert_eq(iso_pool_size(64 * MiB), 0);
    expect_clean(child);
    iso_worker_free(child);
    /* The pool holds at most twice the target: the other classes' oldest make room. */
    cr_assert_eq(iso_pool_fill(64 * MiB, 2, UINT64_MAX), 2);
    cr_assert_eq(iso_pool_size(32 * MiB), 2);
    cr_assert_eq(iso_pool_fill(96 * MiB, 2, UINT64_MAX), 2);
    cr_assert_eq(iso_pool_size(32 * MiB), 0);
    cr_assert_eq(iso_pool_size(64 * MiB), 2);
    iso_worker_free(other);
    iso_pool_drain();
}

#define BOMB_TOP                                                               \
    "const a = []; while (true) a.push(new Array(1e5).fill(Math.random()));\n" \
    "export default { fetch() { return new Response('never'); } };"
#define BOMB_FETCH                                                               \
    "export default { fetch() {\n"                                               \
    "  const a = []; while (true) a.push(new Array(1e5).fill(Math.random()));\n" \
    "} };"
#define ALLOC_17_25_MIB                                                               \
    "export default { fetch() {\n"                                                    \
    "  try { new ArrayBuffer(17.25 * 1048576); return new Response('allocated'); }\n" \
    "  catch (e) { return new Response(e.name); }\n"                                  \
    "} };"

Test(pool, a_pooled_isolate_takes_the_childs_own_heap_limit)
{
    /* 17 and 20 MiB share the 20 MiB class (4 MiB steps in 16..32 MiB): each child, pooled,
     * still gets its own limit, which is what refuses the 17.25 MiB buffer in the first. */
    iso_pool_fill(17 * MiB, 2, UINT64_MAX);
    cr_assert_eq(iso_pool_size(20 * MiB), 2);
    struct iso_worker *small = make_ok(ALLOC_17_25_MIB, true, 17 * MiB);
    struct iso_worker *large = make_ok(ALLOC_17_25_MIB, true, 20 * MiB);
    cr_assert_eq(iso_pool_size(20 * MiB), 0);
    struct capture c;
    cr_expect_str_eq(get_ok(small, "http://x/", &c), "RangeError");
    capture_dispose(&c);
    cr_expect_str_eq(get_ok(large, "http://x/", &c), "allocated");
    capture_dispose(&c);
    iso_worker_free(small);
    iso_worker_free(large);
}

#define LOOP_TOP "while (true) {}\nexport default { fetch() { return new Response('never'); } };"
#define LOOP_FETCH "export default { fetch() { while (true) {} } };"

Test(pool, heap_limit_holds_for_pooled_children)
{
    iso_pool_fill(16 * MiB, 2, UINT64_MAX);
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = make(BOMB_TOP, true, 16 * MiB, 0, &w, &err);
    cr_assert_eq(rc, ED_EHEAPLIMIT, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert_eq(iso_pool_size(16 * MiB), 1);
    ed_error_dispose(&err);

    w = make_ok(BOMB_FETCH, true, 16 * MiB);
    cr_assert_eq(iso_pool_size(16 * MiB), 0);
    struct capture c;
    capture_init(&c);
    rc = fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err);
    cr_assert_eq(rc, ED_EHEAPLIMIT, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert(iso_worker_retired(w));
    capture_dispose(&c);
    ed_error_dispose(&err);
    iso_worker_free(w);
}

Test(pool, cpu_limit_holds_for_pooled_children)
{
    iso_pool_fill(0, 2, UINT64_MAX);
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    uint64_t t0 = ed_now_ns();
    int rc = make(LOOP_TOP, true, 0, 50000000u, &w, &err);
    cr_assert_eq(rc, ED_ECPULIMIT, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert_lt(ed_now_ns() - t0, 1000000000u);
    cr_assert_eq(iso_pool_size(0), 1);
    ed_error_dispose(&err);

    rc = make(LOOP_FETCH, true, 0, 50000000u, &w, &err);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    cr_assert_eq(iso_pool_size(0), 0);
    struct iso_request req = {
        .method = "GET", .url = "http://x/", .url_len = 9, .cpu_budget_ns = 50000000u};
    struct capture c;
    capture_init(&c);
    rc = iso_worker_fetch(w, &req, cap_sink(), &c, &err);
    cr_assert_eq(rc, 0);
    cr_assert_eq(c.fail_code, ED_ECPULIMIT, "%s", ed_errname(c.fail_code));
    cr_assert(iso_worker_retired(w));
    capture_dispose(&c);
    ed_error_dispose(&err);
    iso_worker_free(w);
}

/* Waits (at most 10 s) for the filler thread to bring the pool of heap's class to n. */
static void wait_pool(size_t heap, size_t n)
{
    for (int i = 0; i < 1000 && iso_pool_size(heap) < n; i++)
        usleep(10000);
    cr_assert_geq(iso_pool_size(heap), n, "the filler made %zu of %zu", iso_pool_size(heap), n);
}

#define RECURSE                                                                            \
    "function down(n) { return n === 0 ? 0 : 1 + down(n - 1); }\n"                         \
    "export default { fetch() {\n"                                                         \
    "  try { down(1e7); return new Response('no overflow'); }\n"                           \
    "  catch (e) { return new Response(e.name + ': ' + e.message + ' ' + down(5000)); }\n" \
    "} };"

Test(pool, isolates_made_by_the_filler_thread_run_with_this_threads_stack_and_limits)
{
    iso_pool_want(0, 3);
    wait_pool(0, 3);
    /* Deep recursion meets V8's stack limit, now at this thread's stack, not the filler's. */
    struct iso_worker *w = make_ok(RECURSE, true, 0);
    struct capture c;
    cr_expect_str_eq(get_ok(w, "http://x/", &c),
                     "RangeError: Maximum call stack size exceeded 5000");
    capture_dispose(&c);
    cr_expect_str_eq(get_ok(w, "http://x/", &c),
                     "RangeError: Maximum call stack size exceeded 5000");
    capture_dispose(&c);
    iso_worker_free(w);
    wait_pool(0, 3); /* refilled after the take */

    struct ed_error err = {0};
    int rc = make(LOOP_FETCH, true, 0, 50000000u, &w, &err);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    capture_init(&c);
    struct iso_request req = {
        .method = "GET", .url = "http://x/", .url_len = 9, .cpu_budget_ns = 50000000u};
    cr_assert_eq(iso_worker_fetch(w, &req, cap_sink(), &c, &err), 0);
    cr_expect_eq(c.fail_code, ED_ECPULIMIT, "%s", ed_errname(c.fail_code));
    capture_dispose(&c);
    iso_worker_free(w);

    iso_pool_want(16 * MiB, 2);
    wait_pool(16 * MiB, 2);
    w = make_ok(BOMB_FETCH, true, 16 * MiB);
    capture_init(&c);
    rc = fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err);
    cr_expect_eq(rc, ED_EHEAPLIMIT, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    capture_dispose(&c);
    ed_error_dispose(&err);
    iso_worker_free(w);
    /* Many takes in a row: each one is refilled, none is handed out twice. */
    struct iso_worker *kids[12];
    for (int i = 0; i < 12; i++)
        kids[i] = make_ok(GLOBALS, true, 16 * MiB);
    for (int i = 0; i < 12; i++) {
        expect_clean(kids[i]);
        iso_worker_free(kids[i]);
    }
    wait_pool(16 * MiB, 2);
}

/* A child that leaves garbage behind on every call and counts its calls in module state. */
#define LITTERING                                                      \
    "let n = 0;\n"                                                     \
    "export default { fetch() {\n"                                     \
    "  const junk = [];\n"                                             \
    "  for (let i = 0; i < 2000; i++) junk.push({ i, s: 'x' + i });\n" \
    "  return new Response(String(++n) + ':' + junk.length);\n"        \
    "} };"

Test(pool, reduce_memory_frees_garbage_and_keeps_the_child_working)
{
    iso_pool_fill(0, 1, UINT64_MAX);
    struct iso_worker *w = make_ok(LITTERING, true, 0);
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "1:2000");
    capture_dispose(&c);
    size_t before = iso_worker_memory(w);
    iso_worker_reduce_memory(w);
    size_t after = iso_worker_memory(w);
    cr_assert_lt(after, before, "reduce_memory collected nothing: %zu -> %zu bytes", before, after);
    cr_assert(!iso_worker_retired(w));
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "2:2000", "module state lost");
    capture_dispose(&c);
    /* Reducing again, and reducing nothing, are harmless. */
    iso_worker_reduce_memory(w);
    iso_worker_reduce_memory(NULL);
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "3:2000");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(pool, reduce_memory_leaves_a_retired_child_alone)
{
    struct iso_worker *w = make_ok(BOMB_FETCH, true, 16 * MiB);
    struct capture c;
    capture_init(&c);
    struct ed_error err = {0};
    int rc = fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err);
    cr_assert_eq(rc, ED_EHEAPLIMIT, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert(iso_worker_retired(w));
    iso_worker_reduce_memory(w);
    cr_assert(iso_worker_retired(w));
    capture_dispose(&c);
    ed_error_dispose(&err);
    iso_worker_free(w);
}
