/*
 * End-to-end timers and request lifetimes on a real edged: a response that waits for a
 * setTimeout while another request on the same shard is served, a response streamed by
 * timers, ctx.waitUntil() work that runs after the response is on the wire (and is cut short
 * by the wall budget), a timer callback that throws reaching the tenant's log, children whose
 * methods await timers, and eval refused at request time unless the operator allows it at
 * start-up (--allow-eval-at-startup), and then only during top-level evaluation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

TestSuite(timers, .fini = e2e_teardown, .timeout = 60);

/* clang-format off */
static const char TIMERS_JS[] =
    E2E_JS_PATHOF
    "const sleep = (ms) => new Promise((r) => setTimeout(r, ms));\n"
    "let served = 0;\n"
    "export default {\n"
    "  async fetch(request, env, ctx) {\n"
    "    const path = pathOf(request.url);\n"
    "    if (path === '/fast') return new Response('fast');\n"
    "    if (path === '/count') return new Response(String(++served));\n"
    "    if (path === '/sleep') {\n"
    "      const t0 = Date.now();\n"
    "      await sleep(200);\n"
    "      return new Response('slept ' + (Date.now() - t0 >= 200));\n"
    "    }\n"
    "    if (path === '/stream') {\n"
    "      let i = 0;\n"
    "      const enc = new TextEncoder();\n"
    "      return new Response(new ReadableStream({\n"
    "        async pull(c) {\n"
    "          await scheduler.wait(10);\n"
    "          if (i === 5) c.close(); else c.enqueue(enc.encode(String(i++)));\n"
    "        },\n"
    "      }));\n"
    "    }\n"
    "    if (path === '/background') {\n"
    "      ctx.waitUntil(sleep(400).then(() => console.log('background done')));\n"
    "      return new Response('sent');\n"
    "    }\n"
    "    if (path === '/background-forever') {\n"
    "      ctx.waitUntil(sleep(60000).then(() => console.log('never printed')));\n"
    "      return new Response('sent');\n"
    "    }\n"
    "    if (path === '/throw') {\n"
    "      setTimeout(() => { throw new Error('tick boom'); }, 1);\n"
    "      await sleep(20);\n"
    "      return new Response('survived');\n"
    "    }\n"
    "    if (path === '/forever') { await sleep(60000); return new Response('late'); }\n"
    "    return new Response('not found', { status: 404 });\n"
    "  }\n"
    "};\n";

static const char EVAL_JS[] =
    "const early = (() => { try { return eval('6 * 7'); } catch (e) { return e.name; } })();\n"
    "export default {\n"
    "  fetch() {\n"
    "    let late;\n"
    "    try { late = new Function('return 1')(); } catch (e) { late = e.name + ': ' + e.message; }\n"
    "    return new Response(early + ' | ' + late);\n"
    "  }\n"
    "};\n";

static const char PARENT_JS[] =
    "const code = { compatibilityDate: '2026-01-01', mainModule: 'child.js', modules: {\n"
    "  'child.js': \"import { WorkerEntrypoint } from 'cloudflare:workers';\\n\" +\n"
    "    'export default class extends WorkerEntrypoint {\\n' +\n"
    "    '  async later(ms) { const t0 = Date.now(); await scheduler.wait(ms);\\n' +\n"
    "    '    this.ctx.waitUntil(scheduler.wait(50).then(() => console.log(\"child bg\")));\\n' +\n"
    "    '    return Date.now() - t0 >= ms; }\\n' +\n"
    "    '}\\n',\n"
    "}, globalOutbound: null };\n"
    "export default {\n"
    "  async fetch(request, env) {\n"
    "    const child = env.LOADER.get('timed', () => code).getEntrypoint();\n"
    "    const ok = await child.later(30);\n"
    "    return new Response('child waited ' + ok);\n"
    "  }\n"
    "};\n";

static const char PARENT_META[] =
    "{\"main_module\": \"parent.js\",\n"
    " \"bindings\": [{\"type\": \"worker_loader\", \"name\": \"LOADER\"}]}\n";
/* clang-format on */

static struct e2e_server *start_timers(const char *extra_flag, const char *extra_value)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "t", "route = t.test main\n", "main", TIMERS_JS), 0, "%s",
                 e2e_errmsg());
    if (extra_flag)
        return E2E_START("--tenants", dir, "--threads", "1", extra_flag, extra_value);
    return E2E_START("--tenants", dir, "--threads", "1");
}

Test(timers, a_response_waits_for_its_timer_while_the_shard_serves_others)
{
    struct e2e_server *s = start_timers(NULL, NULL);
    struct e2e_conn *slow = E2E_CONNECT(s->port);
    uint64_t t0 = e2e_now_ms();
    E2E_SEND(slow, "GET /sleep HTTP/1.1\r\nHost: t.test\r\n\r\n");
    /* meanwhile, on the same (only) shard */
    struct e2e_response r;
    E2E_GET(s->port, "t.test", "/fast", &r);
    E2E_EXPECT(&r, 200, "fast");
    e2e_response_dispose(&r);
    cr_expect_lt(e2e_now_ms() - t0, 150, "the fast request waited for the slow one's timer");
    E2E_READ(slow, &r, 0);
    E2E_EXPECT(&r, 200, "slept true");
    e2e_response_dispose(&r);
    cr_expect_geq(e2e_now_ms() - t0, 200);
    e2e_close(slow);
    E2E_STOP_OK(s);
}

Test(timers, a_stream_produced_by_timers_is_sent_chunked)
{
    struct e2e_server *s = start_timers(NULL, NULL);
    struct e2e_response r;
    E2E_GET(s->port, "t.test", "/stream", &r);
    E2E_EXPECT(&r, 200, "01234");
    cr_expect(r.chunked);
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(timers, wait_until_runs_after_the_response_is_sent)
{
    struct e2e_server *s = start_timers(NULL, NULL);
    struct e2e_response r;
    uint64_t t0 = e2e_now_ms();
    E2E_GET(s->port, "t.test", "/background", &r);
    E2E_EXPECT(&r, 200, "sent");
    e2e_response_dispose(&r);
    cr_expect_lt(e2e_now_ms() - t0, 350, "the response waited for ctx.waitUntil()");
    const char *log = e2e_tenant_log(s, "t");
    cr_assert(e2e_wait_file_contains(log, "background done", 3000), "no background work logged");
    E2E_STOP_OK(s);
    /* the request was counted once, when its background work ended */
    struct e2e_usage u;
    cr_assert_eq(e2e_usage_read(s->data_dir, "t", e2e_utc_day(), &u), 0, "%s", e2e_errmsg());
    cr_expect_eq(u.requests, 1);
}

Test(timers, wait_until_is_cut_short_by_the_wall_budget)
{
    struct e2e_server *s = start_timers("--wall-ms", "300");
    struct e2e_response r;
    E2E_GET(s->port, "t.test", "/background-forever", &r);
    E2E_EXPECT(&r, 200, "sent");
    e2e_response_dispose(&r);
    const char *log = e2e_tenant_log(s, "t");
    cr_assert(e2e_wait_file_contains(log, "ctx.waitUntil() work was cut short", 3000),
              "no wall-time cut logged");
    char *text = e2e_read_file(log, NULL);
    cr_expect(text && !strstr(text, "never printed"));
    free(text);
    /* a request waiting on a timer past the budget gets the wall-time 503 alone: the isolate
     * (its module state, this counter) lives on */
    E2E_GET(s->port, "t.test", "/count", &r);
    E2E_EXPECT(&r, 200, "1");
    e2e_response_dispose(&r);
    uint64_t t0 = e2e_now_ms();
    E2E_GET(s->port, "t.test", "/forever", &r);
    cr_expect_eq(r.status, 503, "status %d", r.status);
    cr_expect(strstr(r.body, "wall time"), "%s", r.body);
    e2e_response_dispose(&r);
    cr_expect_lt(e2e_now_ms() - t0, 2000);
    E2E_GET(s->port, "t.test", "/count", &r);
    E2E_EXPECT(&r, 200, "2");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(timers, a_throwing_timer_is_reported_in_the_tenant_log)
{
    struct e2e_server *s = start_timers(NULL, NULL);
    struct e2e_response r;
    E2E_GET(s->port, "t.test", "/throw", &r);
    E2E_EXPECT(&r, 200, "survived");
    e2e_response_dispose(&r);
    cr_assert(e2e_wait_file_contains(e2e_tenant_log(s, "t"), "Uncaught Error: tick boom", 3000));
    E2E_STOP_OK(s);
}

Test(timers, children_wait_on_timers_too)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "p", "route = p.test parent\n", "parent", PARENT_JS), 0, "%s",
                 e2e_errmsg());
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/p/parent.metadata.json", dir), PARENT_META), 0, "%s",
                 e2e_errmsg());
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "1");
    struct e2e_response r;
    for (int i = 0; i < 3; i++) {
        E2E_GET(s->port, "p.test", "/", &r);
        E2E_EXPECT(&r, 200, "child waited true");
        e2e_response_dispose(&r);
    }
    cr_assert(e2e_wait_file_contains(e2e_tenant_log(s, "p"), "child bg", 3000));
    E2E_STOP_OK(s);
}

static struct e2e_server *start_eval(bool allow)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "e", "route = e.test main\n", "main", EVAL_JS), 0, "%s",
                 e2e_errmsg());
    if (allow)
        return E2E_START("--tenants", dir, "--threads", "1", "--allow-eval-at-startup");
    return E2E_START("--tenants", dir, "--threads", "1");
}

Test(timers, eval_is_refused_unless_allowed_at_startup)
{
    struct e2e_server *s = start_eval(false);
    struct e2e_response r;
    E2E_GET(s->port, "e.test", "/", &r);
    E2E_EXPECT(&r, 200,
               "EvalError | EvalError: Code generation from strings disallowed for this context");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);

    s = start_eval(true);
    E2E_GET(s->port, "e.test", "/", &r);
    E2E_EXPECT(&r, 200, "42 | EvalError: Code generation from strings disallowed for this context");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}
