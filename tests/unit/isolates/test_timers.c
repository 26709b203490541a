/*
 * Timers, ctx.waitUntil(), the frozen clock and the other Spectre-minded rules, through the
 * shim's public API: a test attaches a stand-in timer driver (iso_test.h) and runs the
 * thread's timers as the shard's loop would. Also runs the JavaScript tests of tests/js/ that
 * this issue added under a stand-in for the `edged:test` runner, so they are proven before the
 * real runner exists.
 */
#include <criterion/criterion.h>
#include <unistd.h>

#include "iso_test.h"

static void setup(void)
{
    iso_test_setup();
    struct ed_error err = {0};
    cr_assert_eq(iso_watchdog_start(&err), 0);
    timers_attach();
}

TestSuite(timers, .init = setup);

/* Starts a GET with budgets (0: none) into c; the sink may finish later. */
static void start(struct iso_worker *w, struct capture *c, uint64_t cpu_ms, uint64_t wall_ms)
{
    struct ed_error err = {0};
    capture_init(c);
    struct iso_request req = {
        .method = "GET",
        .url = "http://x/",
        .url_len = 9,
        .cpu_budget_ns = cpu_ms * 1000000u,
        .wall_budget_ns = wall_ms * 1000000u,
    };
    int rc = iso_worker_fetch(w, &req, cap_sink(), c, &err);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    ed_error_dispose(&err);
}

static struct iso_worker *worker_logs(const char *src, struct logs *logs)
{
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    memset(logs, 0, sizeof *logs);
    ed_buf_init(&logs->text);
    int rc = worker_from(src, 0, logs, &w, &err);
    cr_assert_eq(rc, 0, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    return w;
}

static const char *body(struct capture *c)
{
    return c->body.data ? c->body.data : "";
}

Test(timers, a_response_can_wait_for_a_timer)
{
    struct iso_worker *w =
        worker_ok("export default { async fetch() {\n"
                  "  const t0 = Date.now();\n"
                  "  const v = await new Promise((r) => setTimeout(r, 30, 'late'));\n"
                  "  return new Response(`${v} ${Date.now() - t0 >= 30}`);\n"
                  "} };");
    struct capture c;
    uint64_t t0 = ed_now_ns();
    start(w, &c, 0, 0);
    cr_assert_eq(c.heads, 0, "answered before the timer fired");
    cr_assert_eq(iso_worker_pending(w), 1);
    timers_run(&c.ends, 2000);
    cr_assert_eq(c.ends, 1, "fails=%d %s", c.fails, c.fail_msg);
    cr_assert_str_eq(body(&c), "late true");
    cr_assert_geq(ed_now_ns() - t0, 30000000u);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_code, 0);
    cr_assert_eq(iso_worker_pending(w), 0);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(timers, order_arguments_clear_and_intervals)
{
    struct iso_worker *w = worker_ok(
        "export default { async fetch() {\n"
        "  const out = [];\n"
        "  setTimeout((a, b) => out.push(`c${a}${b}`), 20, 1, 2);\n"
        "  setTimeout(() => out.push('a'), 0);\n"
        "  setTimeout(() => out.push('b'), 5);\n"
        "  setTimeout(() => out.push('a2'), 0);\n"
        "  const gone = setTimeout(() => out.push('never'), 1);\n"
        "  clearTimeout(gone);\n"
        "  clearTimeout(gone); clearTimeout(undefined); clearTimeout('x'); clearTimeout(1e9);\n"
        "  await new Promise((r) => setTimeout(r, 40));\n"
        "  let n = 0;\n"
        "  await new Promise((r) => { const id = setInterval(() => {\n"
        "    out.push(`i${++n}`); if (n === 3) { clearInterval(id); r(); } }, 0); });\n"
        "  const ids = [setTimeout(() => {}), setInterval(() => {}, 5)];\n"
        "  ids.forEach(clearInterval);\n"
        "  out.push(typeof ids[0], ids[1] > ids[0]);\n"
        "  return new Response(out.join(' '));\n"
        "} };");
    struct capture c;
    start(w, &c, 0, 0);
    timers_run(&c.ends, 2000);
    cr_assert_eq(c.ends, 1, "fails=%d %s", c.fails, c.fail_msg);
    cr_assert_str_eq(body(&c), "a a2 b c12 i1 i2 i3 number true");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(timers, clocks_freeze_while_javascript_runs)
{
    struct iso_worker *w = worker_ok(
        "export default { async fetch() {\n"
        "  const d0 = Date.now(), p0 = performance.now(), n0 = new Date().getTime();\n"
        "  const until = Date.now(); let spins = 0;\n"
        "  for (let i = 0; i < 3e7; i++) spins += i & 1;\n" /* tens of ms of CPU */
        "  const frozen = Date.now() === d0 && performance.now() === p0 &&\n"
        "    new Date().getTime() === n0 && n0 === d0 && until === d0;\n"
        "  await new Promise((r) => setTimeout(r, 25));\n"
        "  const moved = Date.now() - d0, pmoved = performance.now() - p0;\n"
        "  return new Response(JSON.stringify({ frozen, moved: moved >= 25,\n"
        "    pmoved: pmoved >= 25 && pmoved === moved, origin: performance.timeOrigin > 1.6e12,\n"
        "    sum: performance.timeOrigin + performance.now() === Date.now(), spins: spins > 0 }));\n"
        "} };");
    struct capture c;
    start(w, &c, 0, 0);
    timers_run(&c.ends, 2000);
    cr_assert_eq(c.ends, 1, "fails=%d %s", c.fails, c.fail_msg);
    cr_assert_str_eq(body(&c), "{\"frozen\":true,\"moved\":true,\"pmoved\":true,\"origin\":true,"
                               "\"sum\":true,\"spins\":true}");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(timers, without_a_driver_a_timer_never_settles)
{
    iso_timers_attach(NULL);
    struct iso_worker *w = worker_ok("export default { async fetch() {\n"
                                     "  await new Promise((r) => setTimeout(r, 10));\n"
                                     "  return new Response('no');\n"
                                     "} };");
    struct capture c;
    start(w, &c, 0, 0);
    cr_assert_eq(c.fails, 1);
    cr_assert(strstr(c.fail_msg, "never settled"), "%s", c.fail_msg);
    cr_assert_eq(iso_worker_pending(w), 0);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(timers, top_level_timers_are_refused)
{
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = worker_from("setTimeout(() => {}, 1);\n"
                         "export default { fetch() { return new Response('x'); } };",
                         0, NULL, &w, &err);
    cr_assert_eq(rc, ED_EBADWORKER);
    cr_assert(strstr(ed_error_msg(&err), "Disallowed operation called within global scope"), "%s",
              ed_error_msg(&err));
    ed_error_dispose(&err);
}

Test(timers, a_throwing_callback_is_logged_and_the_request_goes_on)
{
    struct logs logs;
    struct iso_worker *w = worker_logs("export default { async fetch() {\n"
                                       "  setTimeout(() => { throw new TypeError('boom'); }, 1);\n"
                                       "  setTimeout('alert(1)', 1);\n"
                                       "  return new Response('x');\n"
                                       "} };",
                                       &logs);
    struct capture c;
    start(w, &c, 0, 0);
    cr_assert_eq(c.fails, 1, "a string callback must throw");
    cr_assert(strstr(c.fail_msg, "TypeError: setTimeout: the callback must be a function"), "%s",
              c.fail_msg);
    capture_dispose(&c);
    iso_worker_free(w);
    ed_buf_dispose(&logs.text);

    w = worker_logs("export default { async fetch() {\n"
                    "  setTimeout(() => { throw new TypeError('boom'); }, 1);\n"
                    "  await new Promise((r) => setTimeout(r, 10));\n"
                    "  return new Response('still here');\n"
                    "} };",
                    &logs);
    start(w, &c, 0, 0);
    timers_run(&c.ends, 2000);
    cr_assert_eq(c.ends, 1, "fails=%d %s", c.fails, c.fail_msg);
    cr_assert_str_eq(body(&c), "still here");
    cr_assert(strstr(logs.text.data, "error: Uncaught TypeError: boom"), "%s", logs.text.data);
    capture_dispose(&c);
    iso_worker_free(w);
    ed_buf_dispose(&logs.text);
}

Test(timers, timers_end_with_their_request)
{
    struct logs logs;
    struct iso_worker *w = worker_logs("export default { fetch() {\n"
                                       "  setTimeout(() => console.log('too late'), 5);\n"
                                       "  setInterval(() => console.log('too late'), 5);\n"
                                       "  return new Response('now');\n"
                                       "} };",
                                       &logs);
    struct capture c;
    start(w, &c, 0, 0);
    cr_assert_eq(c.ends, 1);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(iso_test_deadline, 0, "a timer outlived its request");
    timers_run(NULL, 30);
    cr_assert_eq(logs.lines, 0);
    capture_dispose(&c);
    iso_worker_free(w);
    ed_buf_dispose(&logs.text);
}

Test(timers, a_million_timers_hit_the_limit)
{
    struct iso_worker *w = worker_ok(
        "export default { fetch() {\n"
        "  let n = 0, err;\n"
        "  try { for (; n < 1e6; n++) setTimeout(() => {}, 60000); } catch (e) { err = e; }\n"
        "  return new Response(`${n} ${err.name}: ${err.message}`);\n"
        "} };");
    struct capture c;
    start(w, &c, 0, 0);
    cr_assert_eq(c.ends, 1, "fails=%d %s", c.fails, c.fail_msg);
    cr_assert_str_eq(body(&c),
                     "10000 RangeError: Too many timers: a request may have at most 10000 pending");
    cr_assert_eq(iso_test_deadline, 0);
    capture_dispose(&c);
    /* and again: the first request's timers are gone */
    start(w, &c, 0, 0);
    cr_assert_eq(c.ends, 1);
    cr_assert(strncmp(body(&c), "10000 ", 6) == 0, "%s", body(&c));
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(timers, waiting_past_the_wall_budget_fails_only_the_request)
{
    struct iso_worker *w = worker_ok("export default { async fetch(req) {\n"
                                     "  if (req.url.endsWith('/slow'))\n"
                                     "    await new Promise((r) => setTimeout(r, 5000));\n"
                                     "  return new Response('ok');\n"
                                     "} };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    struct iso_request req = {
        .method = "GET", .url = "http://x/slow", .url_len = 13, .wall_budget_ns = 40000000u};
    uint64_t t0 = ed_now_ns();
    cr_assert_eq(iso_worker_fetch(w, &req, cap_sink(), &c, &err), 0);
    timers_run(&c.dones, 3000);
    cr_assert_eq(c.fails, 1);
    cr_assert_eq(c.fail_code, ED_EWALLLIMIT, "%s", c.fail_msg);
    cr_assert_lt(ed_now_ns() - t0, 1000000000u);
    cr_assert_not(iso_worker_retired(w));
    cr_assert_eq(iso_test_deadline, 0, "the 5 s timer outlived its request");
    capture_dispose(&c);
    struct capture c2;
    cr_assert_str_eq(get_ok(w, "http://x/", &c2), "ok");
    capture_dispose(&c2);
    iso_worker_free(w);
}

Test(timers, a_busy_interval_is_stopped_by_the_cpu_budget)
{
    struct iso_watch_slot *slot = NULL;
    cr_assert_eq(iso_watch_slot_new(&slot), 0);
    static const char src[] = "export default { async fetch() {\n"
                              "  setInterval(() => { const t = Date.now();\n"
                              "    for (let i = 0; i < 2e6; i++); }, 1);\n"
                              "  await new Promise(() => {});\n"
                              "} };";
    struct iso_module m = MOD("worker.js", src);
    struct iso_worker_config cfg = {
        .modules = &m, .n_modules = 1, .main_module = "worker.js", .watch = slot};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), 0, "%s", ed_error_msg(&err));
    struct capture c;
    start(w, &c, 30, 0);
    timers_run(&c.dones, 5000);
    cr_assert_eq(c.fails, 1);
    cr_assert_eq(c.fail_code, ED_ECPULIMIT, "%s", c.fail_msg);
    cr_assert(iso_worker_retired(w));
    cr_assert_eq(iso_test_deadline, 0, "a retired worker kept its timers");
    capture_dispose(&c);
    iso_worker_free(w);
    iso_watch_slot_free(slot);
}

Test(timers, freeing_a_worker_with_pending_timers)
{
    struct iso_worker *w = worker_ok("export default { async fetch() {\n"
                                     "  await new Promise((r) => setTimeout(r, 10));\n"
                                     "  return new Response('x');\n"
                                     "} };");
    struct capture c;
    start(w, &c, 0, 0);
    cr_assert_neq(iso_test_deadline, 0);
    iso_worker_free(w);
    cr_assert_eq(c.fails, 1);
    cr_assert_eq(c.fail_code, ED_ECANCELED);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(iso_test_deadline, 0);
    iso_timers_run(); /* nothing left to run, nothing freed touched */
    capture_dispose(&c);
}

Test(timers, wait_until_outlives_the_response)
{
    struct logs logs;
    struct iso_worker *w = worker_logs(
        "export default { fetch(req, env, ctx) {\n"
        "  ctx.waitUntil(new Promise((r) => setTimeout(() => { console.log('bg done'); r(); },\n"
        "    20)));\n"
        "  ctx.waitUntil(Promise.reject(new Error('bg failed')));\n"
        "  ctx.waitUntil(42);\n"
        "  ctx.passThroughOnException();\n"
        "  return new Response('first');\n"
        "} };",
        &logs);
    struct capture c;
    start(w, &c, 0, 0);
    cr_assert_eq(c.ends, 1, "the response must not wait for waitUntil");
    cr_assert_str_eq(body(&c), "first");
    cr_assert_eq(c.dones, 0);
    cr_assert_eq(iso_worker_pending(w), 1);
    timers_run(&c.dones, 2000);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_code, 0, "%s", c.done_msg);
    cr_assert_eq(iso_worker_pending(w), 0);
    cr_assert(strstr(logs.text.data, "log: bg done"), "%s", logs.text.data);
    cr_assert(strstr(logs.text.data, "error: Uncaught Error: bg failed"), "%s", logs.text.data);
    capture_dispose(&c);
    iso_worker_free(w);
    ed_buf_dispose(&logs.text);
}

Test(timers, wait_until_is_bounded)
{
    struct iso_worker *w =
        worker_ok("export default { fetch(req, env, ctx) {\n"
                  "  if (req.url.endsWith('/never')) ctx.waitUntil(new Promise(() => {}));\n"
                  "  else ctx.waitUntil(new Promise((r) => setTimeout(r, 5000)));\n"
                  "  return new Response('first');\n"
                  "} };");
    /* past the wall budget: cut short, the timers with it */
    struct capture c;
    start(w, &c, 0, 40);
    cr_assert_eq(c.ends, 1);
    uint64_t t0 = ed_now_ns();
    timers_run(&c.dones, 3000);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_code, ED_EWALLLIMIT, "%s", c.done_msg);
    cr_assert_lt(ed_now_ns() - t0, 1000000000u);
    cr_assert_eq(iso_test_deadline, 0);
    capture_dispose(&c);

    /* a promise nothing can settle ends the background work at once */
    struct ed_error err = {0};
    capture_init(&c);
    struct iso_request req = {.method = "GET", .url = "http://x/never", .url_len = 14};
    cr_assert_eq(iso_worker_fetch(w, &req, cap_sink(), &c, &err), 0);
    cr_assert_eq(c.ends, 1);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.done_code, ED_EJS);
    cr_assert(strstr(c.done_msg, "waitUntil() promise never settled"), "%s", c.done_msg);
    cr_assert_eq(iso_worker_pending(w), 0);
    capture_dispose(&c);
    iso_worker_free(w);
}

struct answer {
    int calls, code;
    char msg[256];
};

static void on_result(void *ud, int code, const uint8_t *result, size_t len, const char *msg)
{
    struct answer *a = ud;
    (void)result;
    (void)len;
    a->calls++;
    a->code = code;
    snprintf(a->msg, sizeof a->msg, "%s", msg ? msg : "");
}

Test(timers, a_call_answers_first_and_its_wait_until_runs_after)
{
    struct logs logs;
    memset(&logs, 0, sizeof logs);
    ed_buf_init(&logs.text);
    static const char src[] =
        "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
        "export default class extends WorkerEntrypoint {\n"
        "  async ping() {\n"
        "    this.ctx.waitUntil(scheduler.wait(15).then(() => console.log('after')));\n"
        "    await scheduler.wait(5);\n"
        "    return 'pong';\n"
        "  }\n"
        "}";
    struct iso_module m = MOD("child.js", src);
    struct iso_worker_config cfg = {.modules = &m,
                                    .n_modules = 1,
                                    .main_module = "child.js",
                                    .child = true,
                                    .log = on_log,
                                    .log_ud = &logs};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), 0, "%s", ed_error_msg(&err));
    struct answer a = {0};
    cr_assert_eq(
        iso_worker_invoke(w, NULL, "ping", NULL, 0, NULL, 0, 1, 0, NULL, on_result, &a, &err), 0);
    timers_run(&a.calls, 2000);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(a.code, 0, "%s", a.msg);
    cr_assert_eq(logs.lines, 0);
    cr_assert_eq(iso_worker_pending(w), 1);
    timers_run(NULL, 2000);
    cr_assert(strstr(logs.text.data, "log: after"), "%s", logs.text.data);
    cr_assert_eq(iso_worker_pending(w), 0);
    iso_worker_free(w);
    ed_buf_dispose(&logs.text);
}

Test(timers, abort_signal_timeout_and_scheduler_wait)
{
    struct iso_worker *w = worker_ok(
        "export default { async fetch() {\n"
        "  const s = AbortSignal.timeout(10);\n"
        "  const seen = await new Promise((r) => { s.onabort = (e) => r(e.type); });\n"
        "  const c = new AbortController();\n"
        "  setTimeout(() => c.abort('stop'), 5);\n"
        "  let why;\n"
        "  try { await scheduler.wait(10000, { signal: c.signal }); } catch (e) { why = e; }\n"
        "  await scheduler.wait(1);\n"
        "  return new Response([seen, s.aborted, s.reason.name, why].join(' '));\n"
        "} };");
    struct capture c;
    start(w, &c, 0, 0);
    timers_run(&c.ends, 2000);
    cr_assert_eq(c.ends, 1, "fails=%d %s", c.fails, c.fail_msg);
    cr_assert_str_eq(body(&c), "abort true TimeoutError stop");
    cr_assert_eq(iso_test_deadline, 0, "the cancelled wait's timer stayed");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(timers, no_shared_memory_and_no_atomics_wait)
{
    struct iso_worker *w =
        worker_ok("export default { fetch() {\n"
                  "  let wait;\n"
                  "  try { Atomics.wait(new Int32Array(4), 0, 0, 0); wait = 'waited'; }\n"
                  "  catch (e) { wait = e.name; }\n"
                  "  const mem = Object.prototype.toString.call(\n"
                  "    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer);\n"
                  "  return new Response([typeof SharedArrayBuffer, wait, mem].join(' '));\n"
                  "} };");
    struct capture c;
    const char *b = get_ok(w, "http://x/", &c);
    cr_assert_str_eq(b, "undefined TypeError [object ArrayBuffer]");
    capture_dispose(&c);
    iso_worker_free(w);
}

/* ---- the JavaScript tests, under a stand-in for the edged:test runner -------------------- */

/* What `edged:test` provides, per the runner's contract, enough to run a file's tests in order
 * and say which failed. */
static const char stand_in[] =
    "const tests = [];\n"
    "export function test(name, fn) { tests.push([name, fn]); }\n"
    "function fail(msg) { throw new Error(msg); }\n"
    "function matches(e, expected) {\n"
    "  if (typeof expected === 'function') return e instanceof expected;\n"
    "  if (expected && typeof expected === 'object') {\n"
    "    if (expected.name !== undefined && e?.name !== expected.name) return false;\n"
    "    const m = expected.message;\n"
    "    if (typeof m === 'string' && !String(e?.message).includes(m)) return false;\n"
    "    if (m instanceof RegExp && !m.test(String(e?.message))) return false;\n"
    "  }\n"
    "  return true;\n"
    "}\n"
    "export function assert(c, msg) { if (!c) fail(msg ?? 'assertion failed'); }\n"
    "assert.ok = assert;\n"
    "assert.fail = (msg) => fail(msg ?? 'failed');\n"
    "assert.equal = (a, b, msg) => { if (!Object.is(a, b))\n"
    "  fail(msg ?? `expected ${String(b)}, got ${String(a)}`); };\n"
    "assert.notEqual = (a, b, msg) => { if (Object.is(a, b)) fail(msg ?? `got ${String(a)}`); };\n"
    "assert.deepEqual = (a, b, msg) => { const x = JSON.stringify(a), y = JSON.stringify(b);\n"
    "  if (x !== y) fail(msg ?? `expected ${y}, got ${x}`); };\n"
    "assert.throws = (fn, expected, msg) => {\n"
    "  try { fn(); } catch (e) { if (!matches(e, expected)) fail(msg ?? `wrong error: ${e}`);\n"
    "    return; }\n"
    "  fail(msg ?? 'did not throw'); };\n"
    "assert.rejects = async (p, expected, msg) => {\n"
    "  try { await (typeof p === 'function' ? p() : p); }\n"
    "  catch (e) { if (!matches(e, expected)) fail(msg ?? `wrong error: ${e}`); return; }\n"
    "  fail(msg ?? 'did not reject'); };\n"
    "export async function run() {\n"
    "  const out = [];\n"
    "  for (const [name, fn] of tests) {\n"
    "    try { await fn(); out.push(`ok - ${name}`); }\n"
    "    catch (e) { out.push(`FAIL - ${name}: ${e && e.stack || e}`); }\n"
    "  }\n"
    "  return out.join('\\n');\n"
    "}\n";

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Runs tests/js/NAME under the stand-in: every test must pass. */
static void run_js_file(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/js/%s", EDGED_SOURCE_DIR, name);
    char *src = read_text(path);
    /* the file imports "edged:test": point it at the stand-in module */
    char *at = strstr(src, "\"edged:test\"");
    cr_assert(at, "%s does not import edged:test", name);
    memcpy(at, "\"./_test.js\"", 12);
    static const char main_src[] = "import { run } from './_test.js';\n"
                                   "import './file.js';\n"
                                   "export default { async fetch() { return new Response(await "
                                   "run()); } };";
    struct iso_module mods[] = {
        MOD("main.js", main_src),
        {"_test.js", stand_in, sizeof stand_in - 1, ISO_MODULE_ESM},
        {"file.js", src, strlen(src), ISO_MODULE_ESM},
    };
    struct logs logs;
    memset(&logs, 0, sizeof logs);
    ed_buf_init(&logs.text);
    struct iso_worker_config cfg = {.modules = mods,
                                    .n_modules = 3,
                                    .main_module = "main.js",
                                    .child = true,
                                    .log = on_log,
                                    .log_ud = &logs};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), 0, "%s: %s", name, ed_error_msg(&err));
    struct capture c;
    start(w, &c, 0, 10000);
    timers_run(&c.dones, 10000);
    cr_assert_eq(c.ends, 1, "%s: fails=%d %s", name, c.fails, c.fail_msg);
    cr_assert(strstr(body(&c), "FAIL") == NULL, "%s:\n%s", name, body(&c));
    cr_assert(strstr(body(&c), "ok - "), "%s ran no test", name);
    cr_log_info("%s:\n%s", name, body(&c));
    capture_dispose(&c);
    iso_worker_free(w);
    ed_buf_dispose(&logs.text);
    free(src);
}

Test(timers, js_timers_test)
{
    run_js_file("timers.test.js");
}

Test(timers, js_abort_test)
{
    run_js_file("abort.test.js");
}

Test(timers, js_events_test)
{
    run_js_file("events.test.js");
}

Test(timers, js_clocks_test)
{
    run_js_file("clocks.test.js");
}
