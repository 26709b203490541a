/*
 * isolates/: calls between isolates — a parent's env.LOADER.get()/load(), fetch and RPC into a
 * child, env stubs and globalOutbound calling back into the parent, the checks on the code a
 * parent hands over, errors crossing, and fetches that wait on calls answered on a later turn.
 * The host is tests/unit/isolates/iso_host.h, which routes calls the way loader/ does.
 */
#include <unistd.h>

#include "iso_host.h"

static void setup(void)
{
    iso_test_setup();
    struct ed_error err = {0};
    cr_assert_eq(iso_watchdog_start(&err), 0);
}

static void teardown(void)
{
    iso_watchdog_stop();
}

TestSuite(calls, .init = setup, .fini = teardown);

/* Helpers every parent below has: code(main, extra) is a one-module worker code object, and
 * failures are answered as "Name: message". */
#define PARENT(body)                                                                       \
    "import { RpcTarget, WorkerEntrypoint } from 'cloudflare:workers';\n"                  \
    "const code = (src, extra = {}) => ({ compatibilityDate: '2025-06-01',\n"              \
    "  mainModule: 'main.js', modules: { 'main.js': src }, ...extra });\n"                 \
    "const err = (e) => `${e.name}: ${e.message}`;\n"                                      \
    "export default { async fetch(request, env, ctx) {\n"                                  \
    "  const path = request.url.replace(/^[a-z]+:\\/\\/[^/]*/, '');\n"                     \
    "  try {\n" body "\n  } catch (e) { return new Response(err(e), { status: 500 }); }\n" \
    "  return new Response('no route ' + path, { status: 404 });\n"                        \
    "} };"

/* Runs a GET of url on the parent, drains the host, and returns the body (owned by c). */
static const char *call_ok(struct fake_host *fh, struct iso_worker *w, const char *url,
                           struct capture *c)
{
    struct ed_error err = {0};
    capture_init(c);
    int rc = fetch_into(w, "GET", url, NULL, NULL, c, &err);
    cr_assert_eq(rc, 0, "fetch %s: %s: %s", url, ed_errname(rc), ed_error_msg(&err));
    fake_host_drain(fh);
    cr_assert(cap_done(c), "%s: no answer (pending %zu)", url, iso_worker_pending(w));
    cr_assert_eq(c->heads, 1, "%s: %s", url, c->fail_msg);
    cr_assert_eq(c->ends, 1);
    ed_error_dispose(&err);
    return c->body.data ? c->body.data : "";
}

static void expect_body(struct fake_host *fh, struct iso_worker *w, const char *url,
                        const char *want)
{
    struct capture c;
    const char *got = call_ok(fh, w, url, &c);
    cr_assert_str_eq(got, want, "%s: got\n%s\nwant\n%s", url, got, want);
    capture_dispose(&c);
}

#define COUNTER_CHILD                                                                            \
    "\"let n = 0; export default { count() { return ++n; }, add(a, b) { return a + b; },\\n\" +" \
    "\"  hello(name) { return `hello ${name}`; } };\""

Test(calls, async_fetch_waits_for_a_call_answered_later)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w = parent_ok(
        &fh, PARENT("const stub = env.LOADER.get('adder', () => code(" COUNTER_CHILD "));\n"
                    "const r = await stub.getEntrypoint().add(2, 40);\n"
                    "return new Response(`sum ${r}`);"));
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    uint64_t cpu = 0;
    struct iso_request req = {
        .method = "GET", .url = "http://p/", .url_len = 9, .cpu_used_ns = &cpu};
    cr_assert_eq(iso_worker_fetch(w, &req, cap_sink(), &c, &err), 0);
    cr_assert_not(cap_done(&c), "the answer cannot be there before the host ran");
    cr_assert_eq(iso_worker_pending(w), 1);
    cr_assert_gt(cpu, 0);
    uint64_t before = cpu;
    cr_assert_eq(fake_host_drain(&fh), 1);
    cr_assert_eq(c.ends, 1, "%s", c.fail_msg);
    cr_assert_str_eq(c.body.data, "sum 42");
    cr_assert_eq(iso_worker_pending(w), 0);
    cr_assert_gt(cpu, before, "the entry that finished the fetch counted its CPU");
    cr_assert_eq(fh.created, 1);
    cr_assert_gt(fh.children[0].cpu_used_ns, 0);
    capture_dispose(&c);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, get_reuses_the_child_and_load_makes_new_ones)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT("const c = code(" COUNTER_CHILD ");\n"
               "if (path === '/get') {\n"
               "  let calls = 0;\n"
               "  const stub = env.LOADER.get('counter', () => { calls++; return c; });\n"
               "  const ep = stub.getEntrypoint();\n"
               "  const a = await ep.count(), b = await ep.count();\n"
               "  const other = await env.LOADER.get('other', () => c).getEntrypoint().count();\n"
               "  return new Response(`${a} ${b} ${other} getCode=${calls}`);\n"
               "}\n"
               "if (path === '/load') {\n"
               "  const a = await env.LOADER.load(c).getEntrypoint().count();\n"
               "  const stub = env.LOADER.load(c);\n"
               "  const b = await stub.getEntrypoint().count();\n"
               "  const b2 = await stub.getEntrypoint().count();\n"
               "  return new Response(`${a} ${b} ${b2}`);\n"
               "}"));
    expect_body(&fh, w, "http://p/get", "1 2 1 getCode=1");
    cr_assert_eq(fh.created, 2);
    /* The id is live: a second request runs no getCode and keeps the child's state. */
    expect_body(&fh, w, "http://p/get", "3 4 2 getCode=0");
    cr_assert_eq(fh.created, 2);
    expect_body(&fh, w, "http://p/load", "1 1 2");
    cr_assert_eq(fh.created, 4);
    cr_assert(fh.children[2].anonymous && fh.children[3].anonymous);
    cr_assert(memcmp(fh.children[2].id, "$load:", 6) == 0);
    cr_assert_neq(strcmp(fh.children[2].id, fh.children[3].id), 0);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, child_evicted_after_the_look_gets_its_code)
{
    /* child_live said yes, the call found none: ED_ENOENT, then getCode and a second call. */
    struct fake_host fh;
    fake_host_init(&fh);
    fh.claim_live = true;
    struct iso_worker *w = parent_ok(
        &fh, PARENT("let calls = 0;\n"
                    "const ep = env.LOADER.get('e', () => { calls++; return code(" COUNTER_CHILD
                    "); }).getEntrypoint();\n"
                    "return new Response(`${await ep.hello('you')} ${calls}`);"));
    expect_body(&fh, w, "http://p/", "hello you 1");
    cr_assert_eq(fh.created, 1);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, fetch_crosses_as_request_and_response)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT(
            "const child = \"export default { async fetch(req, env, ctx) {\\n\" +\n"
            "  \"  const body = await req.text();\\n\" +\n"
            "  \"  return new Response(`${req.method} ${req.url} ${req.headers.get('x-a')} ${body}`,\\n\" +\n"
            "  \"    { status: 201, headers: { 'x-child': 'yes' } });\\n\" +\n"
            "  \"} };\";\n"
            "const ep = env.LOADER.get('f', () => code(child)).getEntrypoint();\n"
            "const r = await ep.fetch('http://child.example/path?q=1',\n"
            "  { method: 'POST', body: 'payload', headers: { 'X-A': 'one' } });\n"
            "const r2 = await ep.fetch(new Request('http://child.example/2'));\n"
            "return new Response(`${r.status} ${r.headers.get('x-child')} ${await r.text()} | ${await r2.text()}`);"));
    expect_body(&fh, w, "http://p/",
                "201 yes POST http://child.example/path?q=1 one payload | "
                "GET http://child.example/2 null ");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, named_entrypoint_gets_props_and_env)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT(
            "const child = \"import { WorkerEntrypoint } from 'cloudflare:workers';\\n\" +\n"
            "  \"export class Greeter extends WorkerEntrypoint {\\n\" +\n"
            "  \"  hello(name) { return `${this.ctx.props.greeting}, ${name} (${this.env.X})`; }\\n\" +\n"
            "  \"  async fetch(req) { return new Response(this.ctx.props.greeting + ' ' + req.url); }\\n\" +\n"
            "  \"}\\n\" +\n"
            "  \"export default { plain(a, env, ctx) { return `${a} ${env.X} ${JSON.stringify(ctx.props)}`; } };\";\n"
            "const stub = env.LOADER.get('g', () => code(child, { env: { X: 'ex' } }));\n"
            "const g = stub.getEntrypoint('Greeter', { props: { greeting: 'hi' } });\n"
            "const a = await g.hello('bob');\n"
            "const b = await (await g.fetch('http://c/')).text();\n"
            "const c = await stub.getEntrypoint().plain(7);\n"
            "const d = await stub.getEntrypoint(undefined, { props: { p: 1 } }).plain(8);\n"
            "return new Response(`${a} | ${b} | ${c} | ${d}`);"));
    expect_body(&fh, w, "http://p/", "hi, bob (ex) | hi http://c/ | 7 ex {} | 8 ex {\"p\":1}");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, missing_entrypoint_and_method)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh, PARENT("const out = [];\n"
                    "const stub = env.LOADER.get('m', () => code('export class X {}\\n"
                    "export const obj = { f() { return 1; } };'));\n"
                    "for (const [ep, m] of [['Nope', 'f'], [undefined, 'f'], ['X', 'f'],\n"
                    "    ['obj', 'g'], ['obj', 'toString'], ['obj', 'hasOwnProperty']]) {\n"
                    "  try { await stub.getEntrypoint(ep)[m](); out.push('no error'); }\n"
                    "  catch (e) { out.push(e.message); }\n"
                    "}\n"
                    "out.push(await stub.getEntrypoint('obj').f());\n"
                    "return new Response(out.join('\\n'));"));
    expect_body(&fh, w, "http://p/",
                "Worker has no such entrypoint: Nope\n"
                "Worker has no such entrypoint: default\n"
                "Worker has no such entrypoint: X\n"
                "The RPC receiver does not implement the method \"g\".\n"
                "The RPC receiver does not implement the method \"toString\".\n"
                "The RPC receiver does not implement the method \"hasOwnProperty\".\n"
                "1");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, child_errors_reach_the_parent)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT(
            "const out = [];\n"
            "const bad = env.LOADER.get('top', () => code(\"throw new Error('boom at top');\"));\n"
            "try { await bad.getEntrypoint().f(); } catch (e) { out.push(err(e)); }\n"
            "const child = env.LOADER.get('t', () => code(\"export default {\\n\" +\n"
            "  \"  type() { throw new TypeError('bad type'); },\\n\" +\n"
            "  \"  custom() { class MyError extends Error {} const e = new MyError('mine');\\n\" +\n"
            "  \"    e.name = 'MyError'; throw e; },\\n\" +\n"
            "  \"  value() { throw 42; },\\n\" +\n"
            "  \"  fn() { return Symbol('not for export'); },\\n\" +\n"
            "  \"  async later() { await null; throw new RangeError('later'); } };\"));\n"
            "for (const m of ['type', 'custom', 'value', 'fn', 'later']) {\n"
            "  try { await child.getEntrypoint()[m](); out.push('no error'); }\n"
            "  catch (e) { out.push(`${err(e)} ${e instanceof Error}`); }\n"
            "}\n"
            "return new Response(out.join('\\n'));"));
    struct capture c;
    const char *body = call_ok(&fh, w, "http://p/", &c);
    cr_assert(strstr(body, "Error: uncaught exception while evaluating main.js: Error: boom at "
                           "top\n"),
              "%s", body);
    cr_assert(strstr(body, "\nTypeError: bad type true\n"
                           "MyError: mine true\n"
                           "Error: 42 true\n"
                           "DataCloneError: "),
              "%s", body);
    cr_assert(strstr(body, "could not be cloned. true\nRangeError: later true"), "%s", body);
    capture_dispose(&c);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

#define STUB_PARENT                                                                                               \
    PARENT(                                                                                                       \
        "const log = [];\n"                                                                                       \
        "const store = new Map();\n"                                                                              \
        "class Api extends RpcTarget {\n"                                                                         \
        "  put(k, v) { store.set(k, v); return store.size; }\n"                                                   \
        "  async get(k) { await null; return store.get(k) ?? null; }\n"                                           \
        "  fail() { throw new TypeError('api says no'); }\n"                                                      \
        "}\n"                                                                                                     \
        "const child = \"export default { async run(env) {\\n\" +\n"                                              \
        "  \"  const n = await env.log('hi from child');\\n\" +\n"                                                \
        "  \"  await env.api.put('k', { deep: [1, 2] });\\n\" +\n"                                                \
        "  \"  const v = await env.api.get('k');\\n\" +\n"                                                        \
        "  \"  let e = null; try { await env.api.fail(); } catch (x) { e = `${x.name}: ${x.message}`; }\\n\" +\n" \
        "  \"  return { n, v, e, plain: env.plain, map: [...env.map], again: env.same === env.api };\\n\" +\n"    \
        "  \"} };\";\n"                                                                                           \
        "const api = new Api();\n"                                                                                \
        "const stub = env.LOADER.load(code(child, { env: {\n"                                                     \
        "  log: (m) => { log.push(m); return m.length; }, api, same: api,\n"                                      \
        "  plain: { a: [1, 'two'], d: new Date(0).toISOString() }, map: new Map([[1, 'x']]) } }));\n"             \
        "const r = await stub.getEntrypoint().run();\n"                                                           \
        "return Response.json({ r, log });")

#define STUB_ANSWER                                                                              \
    "{\"r\":{\"n\":13,\"v\":{\"deep\":[1,2]},\"e\":\"TypeError: api says no\",\"plain\":{\"a\":" \
    "[1,\"two\"],\"d\":\"1970-01-01T00:00:00.000Z\"},\"map\":[[1,\"x\"]],\"again\":true},"       \
    "\"log\":[\"hi from child\"]}"

Test(calls, env_stubs_call_back_into_the_parent)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(&fh, STUB_PARENT);
    expect_body(&fh, w, "http://p/", STUB_ANSWER);
    cr_assert_eq(fh.stub_calls, 4);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, env_stubs_with_answers_on_later_turns)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w = parent_ok(&fh, STUB_PARENT);
    expect_body(&fh, w, "http://p/", STUB_ANSWER);
    cr_assert_eq(fh.stub_calls, 4);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

/* A host without a fetcher (the fake's) gives no network: a parent's fetch() and an inheriting
 * child's reject with a TypeError. */
Test(calls, global_outbound_modes)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT(
            "const child = \"export default { async go() {\\n\" +\n"
            "  \"  try { const r = await fetch('http://example.com/x', { headers: { 'x-k': 'v' } });\\n\" +\n"
            "  \"    return `${r.status} ${await r.text()}`; }\\n\" +\n"
            "  \"  catch (e) { return `${e.name}: ${e.message}`; } } };\";\n"
            "class Egress extends RpcTarget {\n"
            "  fetch(req) { return new Response(`via parent ${req.url} ${req.headers.get('x-k')}`,\n"
            "    { status: 203 }); }\n"
            "}\n"
            "const none = await env.LOADER.load(code(child, { globalOutbound: null })).getEntrypoint().go();\n"
            "const stubbed = await env.LOADER.load(code(child, { globalOutbound: new Egress() })).getEntrypoint().go();\n"
            "const inherit = await env.LOADER.load(code(child)).getEntrypoint().go();\n"
            "let own; try { await fetch('http://example.com/'); } catch (e) { own = e.message; }\n"
            "return new Response([none, stubbed, inherit, own].join('\\n'));"));
    expect_body(&fh, w, "http://p/",
                "TypeError: This worker is not permitted to access the internet via global "
                "functions like fetch(). It must use capabilities (such as bindings in 'env') to "
                "talk to the outside world.\n"
                "203 via parent http://example.com/x v\n"
                "TypeError: fetch() to the internet is not available in this worker.\n"
                "fetch() to the internet is not available in this worker.");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, worker_code_is_checked)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT(
            "const out = [];\n"
            "const tries = [\n"
            "  42,\n"
            "  { mainModule: 'main.js', modules: { 'main.js': '' } },\n"
            "  code('', { modules: { 'main.ts': 'export default {}' }, mainModule: 'main.ts' }),\n"
            "  code('', { modules: { 'main.js': '', 'x.tsx': { js: '' } } }),\n"
            "  code('', { modules: { 'main.js': '', 'notes.txt': 'hello' } }),\n"
            "  code('', { modules: { 'main.js': '', 'x.js': { js: '', text: '' } } }),\n"
            "  code('', { modules: { 'main.js': '', 'x.bin': { data: 'not bytes' } } }),\n"
            "  code('', { mainModule: 'other.js' }),\n"
            "  code('', { env: 'no' }),\n"
            "  code('', { globalOutbound: 'http://x' }),\n"
            "  code('', { env: { big: 'x'.repeat(1100000) } }),\n"
            "  code('', { modules: { 'main.js': '', 'big.bin': { data: new ArrayBuffer(65 << 20) } } }),\n"
            "];\n"
            "let k = 0;\n"
            "for (const c of tries) {\n"
            "  const stub = env.LOADER.get(`k${k++}`, () => c);\n"
            "  try { await stub.getEntrypoint().f(); out.push('no error'); }\n"
            "  catch (e) { out.push(err(e)); }\n"
            "}\n"
            "return new Response(out.join('\\n'));"));
    struct capture c;
    const char *body = call_ok(&fh, w, "http://p/", &c);
    const char *want[] = {
        "TypeError: The worker code must be an object { compatibilityDate, mainModule, modules, "
        "... }, not a number",
        "TypeError: The worker code must have a compatibilityDate such as \"2025-06-01\"",
        "TypeError: Module \"main.ts\": TypeScript and JSX are not supported; the worker must be "
        "bundled to JavaScript first",
        "TypeError: Module \"x.tsx\": TypeScript and JSX are not supported",
        "TypeError: Module \"notes.txt\": a module given as a string must be an ES module named "
        ".js or .mjs; give other kinds as an object",
        "TypeError: Module \"x.js\" must have exactly one of js, cjs, text, data, json (it has js, "
        "text)",
        "TypeError: Module \"x.bin\": data must be an ArrayBuffer or a view of one",
        "TypeError: mainModule \"other.js\" is not one of the modules",
        "TypeError: env must be an object, not a string",
        "TypeError: globalOutbound must be null or a fetcher",
        "RangeError: env is 1100014 bytes, over the limit of 1048576",
        "RangeError: The worker's code is 68157440 bytes, over the limit of 67108864",
    };
    const char *at = body;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *hit = strstr(at, want[i]);
        cr_assert(hit, "want \"%s\" in:\n%s", want[i], body);
        at = hit + strlen(want[i]);
    }
    capture_dispose(&c);
    cr_assert_eq(fh.created, 0, "no child was made from bad code");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, get_code_errors_surface_at_first_use)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT(
            "const out = [];\n"
            "const a = env.LOADER.get('a', () => { throw new RangeError('no code for a'); });\n"
            "out.push('stub made');\n"
            "const b = env.LOADER.get('b', async () => { await null; throw new SyntaxError('late'); });\n"
            "for (const s of [a, b]) {\n"
            "  try { await s.getEntrypoint().f(); } catch (e) { out.push(err(e)); }\n"
            "}\n"
            "try { env.LOADER.get('x', 'not a function'); } catch (e) { out.push(err(e)); }\n"
            "try { env.LOADER.get('$load:1', () => ({})); } catch (e) { out.push(err(e)); }\n"
            "return new Response(out.join('\\n'));"));
    expect_body(
        &fh, w, "http://p/",
        "stub made\n"
        "RangeError: no code for a\n"
        "SyntaxError: late\n"
        "TypeError: WorkerLoader.get(id, getCode): getCode must be a function that returns "
        "the worker code\n"
        "TypeError: WorkerLoader.get: ids starting with \"$load:\" are reserved for load()");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, child_killed_by_a_limit_fails_the_call_not_the_parent)
{
    struct fake_host fh;
    fake_host_init(&fh);
    cr_assert_eq(iso_watch_slot_new(&fh.watch), 0);
    fh.child_cpu_ns = 50000000u;
    struct iso_worker *w = parent_ok(
        &fh, PARENT("const out = [];\n"
                    "const spin = env.LOADER.get('spin', () => code('export default {\\n"
                    "  spin() { while (true) {} }, ok() { return \"fine\"; } };'));\n"
                    "try { await spin.getEntrypoint().spin(); } catch (e) { out.push(err(e)); }\n"
                    "out.push(await spin.getEntrypoint().ok());\n"
                    "return new Response(out.join('\\n'));"));
    struct iso_request req = {
        .method = "GET", .url = "http://p/", .url_len = 9, .cpu_budget_ns = 2000000000u};
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    uint64_t t0 = ed_now_ns();
    cr_assert_eq(iso_worker_fetch(w, &req, cap_sink(), &c, &err), 0);
    cr_assert_lt(ed_now_ns() - t0, 1000000000u);
    cr_assert_eq(c.ends, 1, "%s", c.fail_msg);
    /* The killed child was freed from inside its own callback; the id then made a new one. */
    cr_assert_str_eq(c.body.data, "Error: Worker exceeded CPU time limit\nfine");
    cr_assert_eq(fh.created, 2);
    cr_assert_null(fh.children[0].w);
    cr_assert_not(iso_worker_retired(w));
    capture_dispose(&c);
    fake_host_dispose(&fh);
    iso_worker_free(w);
    iso_watch_slot_free(fh.watch);
}

Test(calls, a_limit_fails_every_fetch_in_flight)
{
    /* Three fetches wait on a child; a fourth spins past its CPU budget: the worker is
     * retired and all four fail with the limit, and the answers that come later are dropped. */
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    cr_assert_eq(iso_watch_slot_new(&fh.watch), 0);
    struct iso_worker *w =
        parent_ok(&fh, PARENT("if (path === '/spin') while (true) {}\n"
                              "const r = await env.LOADER.get('c', () => code(" COUNTER_CHILD "))"
                              ".getEntrypoint().count();\nreturn new Response(String(r));"));
    struct capture c[4];
    struct ed_error err = {0};
    for (int i = 0; i < 4; i++) {
        capture_init(&c[i]);
        struct iso_request req = {.method = "GET",
                                  .url = i < 3 ? "http://p/wait" : "http://p/spin",
                                  .url_len = 13,
                                  .cpu_budget_ns = 30000000u};
        cr_assert_eq(iso_worker_fetch(w, &req, cap_sink(), &c[i], &err), 0);
    }
    cr_assert(iso_worker_retired(w));
    cr_assert_eq(iso_worker_pending(w), 0);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(c[i].fails, 1, "%d", i);
        cr_assert_eq(c[i].fail_code, ED_ECPULIMIT, "%d: %s", i, ed_errname(c[i].fail_code));
        capture_dispose(&c[i]);
    }
    fake_host_drain(&fh);
    fake_host_dispose(&fh);
    iso_worker_free(w);
    iso_watch_slot_free(fh.watch);
}

Test(calls, child_over_its_heap_limit_fails_the_call)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.child_heap = 16u << 20;
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT("const bomb = env.LOADER.get('bomb', () => code('export default {\\n"
               "  grow() { const a = []; while (true) a.push(new Array(1e5).fill(0.5)); } };'));\n"
               "try { await bomb.getEntrypoint().grow(); return new Response('no error'); }\n"
               "catch (e) { return new Response(err(e)); }"));
    expect_body(&fh, w, "http://p/", "Error: Worker exceeded memory limit");
    cr_assert_not(iso_worker_retired(w));
    cr_assert_null(fh.children[0].w, "the host freed the retired child");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, child_modules_of_every_type)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT(
            "const stub = env.LOADER.get('types', () => ({ compatibilityDate: '2025-06-01',\n"
            "  mainModule: 'src/main.mjs', modules: {\n"
            "    'src/main.mjs': \"import t from '../assets/t.txt'; import d from '../assets/d.bin';\\n\" +\n"
            "      \"import j from '../assets/j.json'; import c from './lib.cjs'; import { k } from './k.js';\\n\" +\n"
            "      \"export default { all() { return [t, [...new Uint8Array(d)], j, c.twice(k)]; } };\",\n"
            "    'src/k.js': { js: 'export const k = 21;' },\n"
            "    'src/lib.cjs': { cjs: 'module.exports = { twice: (x) => 2 * x };' },\n"
            "    'assets/t.txt': { text: 'some text' },\n"
            "    'assets/d.bin': { data: new Uint8Array([7, 8, 9]) },\n"
            "    'assets/j.json': { json: { list: [1, 'a'], nested: { ok: true } } },\n"
            "  } }));\n"
            "return Response.json(await stub.getEntrypoint().all());"));
    expect_body(&fh, w, "http://p/",
                "[\"some text\",[7,8,9],{\"list\":[1,\"a\"],\"nested\":{\"ok\":true}},42]");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, many_fetches_in_flight_on_one_isolate)
{
    enum { N = 200 };
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w =
        parent_ok(&fh, PARENT("const ep = env.LOADER.get('echo', () => code('export default {\\n"
                              "  async echo(x) { return x * 2; } };')).getEntrypoint();\n"
                              "const n = Number(path.slice(1));\n"
                              "return new Response(String(await ep.echo(n)));"));
    static struct capture caps[N];
    char url[64];
    struct ed_error err = {0};
    for (int i = 0; i < N; i++) {
        capture_init(&caps[i]);
        snprintf(url, sizeof url, "http://p/%d", i);
        cr_assert_eq(fetch_into(w, "GET", url, NULL, NULL, &caps[i], &err), 0);
        cr_assert_not(cap_done(&caps[i]));
    }
    cr_assert_eq(iso_worker_pending(w), N);
    fake_host_drain(&fh);
    cr_assert_eq(iso_worker_pending(w), 0);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "%d", 2 * i);
        cr_assert_eq(caps[i].ends, 1, "%d: %s", i, caps[i].fail_msg);
        cr_assert_str_eq(caps[i].body.data, want);
        capture_dispose(&caps[i]);
    }
    cr_assert_eq(fh.created, 1, "concurrent first calls share one child");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, stream_waiting_on_a_call_continues_later)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w =
        parent_ok(&fh, PARENT("const ep = env.LOADER.get('w', () => code('export default {\\n"
                              "  word(i) { return \"w\" + i; } };')).getEntrypoint();\n"
                              "let i = 0; const enc = new TextEncoder();\n"
                              "return new Response(new ReadableStream({ async pull(c) {\n"
                              "  if (i === 3) return c.close();\n"
                              "  c.enqueue(enc.encode(await ep.word(i++) + ';'));\n"
                              "} }));"));
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://p/", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.heads, 1, "the head leaves before the body is known");
    cr_assert_eq(c.ends, 0);
    fake_host_drain(&fh);
    cr_assert_eq(c.ends, 1, "%s", c.abort_msg);
    cr_assert_str_eq(c.body.data, "w0;w1;w2;");
    capture_dispose(&c);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, freeing_a_parent_with_calls_in_flight)
{
    /* The fetch fails with ED_ECANCELED; the host's later answer finds no worker. */
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w =
        parent_ok(&fh, PARENT("await env.LOADER.get('x', () => code('export default { f() {} };'))"
                              ".getEntrypoint().f();\nreturn new Response('done');"));
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://p/", NULL, NULL, &c, &err), 0);
    iso_worker_free(w);
    cr_assert_eq(c.fails, 1);
    cr_assert_eq(c.fail_code, ED_ECANCELED);
    for (size_t i = 0; i < fh.n_children; i++)
        fh.children[i].parent = NULL; /* their parent is gone */
    fake_host_drain(&fh);
    capture_dispose(&c);
    fake_host_dispose(&fh);
}

Test(calls, wall_budget_spent_while_waiting_fails_only_that_fetch)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w =
        parent_ok(&fh, PARENT("const r = await env.LOADER.get('s', () => code(" COUNTER_CHILD "))"
                              ".getEntrypoint().count();\nreturn new Response(String(r));"));
    struct iso_request req = {
        .method = "GET", .url = "http://p/", .url_len = 9, .wall_budget_ns = 30000000u};
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(iso_worker_fetch(w, &req, cap_sink(), &c, &err), 0);
    usleep(60000);
    fake_host_drain(&fh);
    cr_assert_eq(c.fails, 1);
    cr_assert_eq(c.fail_code, ED_EWALLLIMIT);
    cr_assert_not(iso_worker_retired(w));
    capture_dispose(&c);
    expect_body(&fh, w, "http://p/", "2");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, stub_calls_need_an_exported_stub)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(&fh, PARENT("return new Response('x');"));
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_call_stub(w, 12345, NULL, NULL, 0, 1, NULL, fake_answered, NULL, &err),
                 ED_ENOENT);
    cr_assert(strstr(err.msg, "released"), "%s", err.msg);
    uint64_t ids[] = {1, 2, 3};
    iso_worker_release_stubs(w, ids, 3); /* unknown ids are ignored */
    cr_assert_eq(iso_worker_invoke(w, NULL, NULL, NULL, 0, NULL, 0, 1, 0, NULL, NULL, NULL, &err),
                 ED_EINVAL);
    ed_error_dispose(&err);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, load_stubs_are_released_when_collected)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        PARENT("const c = code('export default { f() { return 1; } };');\n"
               "await env.LOADER.load(c).getEntrypoint().f();\n"
               "for (let i = 0; i < 20000; i++) env.LOADER.load(c);\n"
               "let junk = []; for (let i = 0; i < 200000; i++) junk.push({ i }); junk = null;\n"
               "return new Response('ok');"));
    for (int i = 0; i < 20 && fh.releases == 0; i++)
        expect_body(&fh, w, "http://p/", "ok");
    cr_assert_gt(fh.releases, 0, "FinalizationRegistry released load() children");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

/* ---- stubs anywhere in values -------------------------------------------------------------- */

/* A child with RPC methods that take and return stubs. Child sources below are backtick
 * strings inside the parent (no backticks or ${...} in them). */
#define CHILD_STUBS                                                                                   \
    "const CHILD = `import { RpcTarget, WorkerEntrypoint } from 'cloudflare:workers';\n"              \
    "let kept = null;\n"                                                                              \
    "class Box extends RpcTarget {\n"                                                                 \
    "  constructor(v) { super(); this.v = v; this.own = () => 'own'; }\n"                             \
    "  get() { return this.v; }\n"                                                                    \
    "  add(n) { this.v += n; return this.v; }\n"                                                      \
    "}\n"                                                                                             \
    "export default class extends WorkerEntrypoint {\n"                                               \
    "  async twice(f, x) { return [await f(x), await f(x + 1)]; }\n"                                  \
    "  async nested(f) { return await f((y) => y * 10); }\n"                                          \
    "  async useEnv() { return await this.env.apply((a) => 'child saw ' + a, 5); }\n"                 \
    "  async target(t) { return [await t.get(), await t.add(2), await t.get()]; }\n"                  \
    "  async probe(t) {\n"                                                                            \
    "    const out = [];\n"                                                                           \
    "    for (const m of ['own', 'v', 'secret', '#secret', 'toString', 'get']) {\n"                   \
    "      try { out.push(m + '=' + await t[m]()); } catch (e) { out.push(m + ': ' + e.message); }\n" \
    "    }\n"                                                                                         \
    "    return out.join('\\\\n');\n"                                                                 \
    "  }\n"                                                                                           \
    "  keep(f) { kept = f; return 'kept'; }\n"                                                        \
    "  async callKept() { return await kept(1); }\n"                                                  \
    "  box(v) { return new Box(v); }\n"                                                               \
    "  fn(k) { return (x) => x * k; }\n"                                                              \
    "  both(v) { return { box: new Box(v), list: [(s) => s + '!'] }; }\n"                             \
    "  spin() { while (true) {} }\n"                                                                  \
    "}`;\n"

#define STUBS_PARENT                                                                               \
    PARENT(CHILD_STUBS                                                                             \
           "class Box extends RpcTarget {\n"                                                       \
           "  #hidden = 1;\n"                                                                      \
           "  constructor(v) { super(); this.v = v; this.own = () => 'own'; }\n"                   \
           "  get() { return this.v; }\n"                                                          \
           "  add(n) { this.v += n; return this.v; }\n"                                            \
           "  #secret() { return 'secret'; }\n"                                                    \
           "}\n"                                                                                   \
           "const apply = async (f, x) => (await f(x)) + '/' + x;\n"                               \
           "const get = (id) => env.LOADER.get(id, () => code(CHILD, { env: { apply } }))"         \
           ".getEntrypoint();\n"                                                                   \
           "const ep = get('rpc');\n"                                                              \
           "if (path === '/callbacks') {\n"                                                        \
           "  const a = await ep.twice((x) => x * 2, 3);\n"                                        \
           "  const b = await ep.nested(async (g) => (await g(4)) + 1);\n"                         \
           "  const c = await ep.useEnv();\n"                                                      \
           "  const box = new Box(1);\n"                                                           \
           "  const d = await ep.target(box);\n"                                                   \
           "  return Response.json({ a, b, c, d, after: box.v });\n"                               \
           "}\n"                                                                                   \
           "if (path === '/probe') return new Response(await ep.probe(new Box(0)));\n"             \
           "if (path === '/results') {\n"                                                          \
           "  const box = await ep.box(10);\n"                                                     \
           "  const r1 = [await box.get(), await box.add(5)];\n"                                   \
           "  const times3 = await ep.fn(3);\n"                                                    \
           "  const r2 = [typeof times3, await times3(7)];\n"                                      \
           "  const both = await ep.both(1);\n"                                                    \
           "  const r3 = [await both.box.add(1), await both.list[0]('hi')];\n"                     \
           "  globalThis.saved = box;\n"                                                           \
           "  return Response.json({ r1, r2, r3 });\n"                                             \
           "}\n"                                                                                   \
           "if (path === '/saved') return Response.json(await globalThis.saved.add(1));\n"         \
           "if (path === '/relay') {\n"                                                            \
           "  const box = await get('A').box(100);\n"                                              \
           "  return Response.json(await get('B').target(box));\n"                                 \
           "}\n"                                                                                   \
           "if (path === '/expired') {\n"                                                          \
           "  await ep.keep((x) => x);\n"                                                          \
           "  try { await ep.callKept(); return new Response('no error'); }\n"                     \
           "  catch (e) { return new Response(err(e)); }\n"                                        \
           "}\n"                                                                                   \
           "if (path === '/many') {\n"                                                             \
           "  for (let i = 0; i < 100; i++) { await ep.twice((x) => x, i); await ep.useEnv(); }\n" \
           "  return new Response('ok');\n"                                                        \
           "}\n"                                                                                   \
           "if (path === '/garbage') {\n"                                                          \
           "  for (let i = 0; i < 100; i++) await (await ep.box(i)).get();\n"                      \
           "  return new Response('ok');\n"                                                        \
           "}\n"                                                                                   \
           "if (path === '/gone') {\n"                                                             \
           "  const m = get('mortal');\n"                                                          \
           "  const box = await m.box(1);\n"                                                       \
           "  const before = await box.get();\n"                                                   \
           "  try { await m.spin(); } catch (e) { }\n"                                             \
           "  try { await box.get(); return new Response('no error'); }\n"                         \
           "  catch (e) { return new Response(before + ' ' + err(e)); }\n"                         \
           "}")

static void stubs_both_ways(bool async)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = async;
    struct iso_worker *w = parent_ok(&fh, STUBS_PARENT);
    expect_body(&fh, w, "http://p/callbacks",
                "{\"a\":[6,8],\"b\":41,\"c\":\"child saw 5/5\",\"d\":[1,3,3],\"after\":3}");
    expect_body(&fh, w, "http://p/results",
                "{\"r1\":[10,15],\"r2\":[\"function\",21],\"r3\":[2,\"hi!\"]}");
    /* A result's stub outlives its request: the child keeps its state behind it. */
    expect_body(&fh, w, "http://p/saved", "16");
    expect_body(&fh, w, "http://p/saved", "17");
    /* A stub of child A passed to child B: B's calls are relayed by the parent. */
    expect_body(&fh, w, "http://p/relay", "[100,102,102]");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, stubs_in_arguments_and_results_both_ways)
{
    stubs_both_ways(false);
}

Test(calls, stubs_in_arguments_and_results_answered_later)
{
    stubs_both_ways(true);
}

Test(calls, only_prototype_methods_of_an_rpc_target_are_callable)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(&fh, STUBS_PARENT);
    expect_body(&fh, w, "http://p/probe",
                "own: The RPC receiver does not implement the method \"own\".\n"
                "v: The RPC receiver does not implement the method \"v\".\n"
                "secret: The RPC receiver does not implement the method \"secret\".\n"
                "#secret: The RPC receiver does not implement the method \"#secret\".\n"
                "toString: The RPC receiver does not implement the method \"toString\".\n"
                "get=0");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, argument_stubs_are_released_when_the_call_returns)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(&fh, STUBS_PARENT);
    struct capture c;
    const char *body = call_ok(&fh, w, "http://p/expired", &c);
    cr_assert(strstr(body, "Error: This RPC stub was released: it came in the arguments of a "
                           "call that has returned"),
              "%s", body);
    capture_dispose(&c);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, many_calls_with_callbacks_do_not_grow_the_export_tables)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w = parent_ok(&fh, STUBS_PARENT);
    expect_body(&fh, w, "http://p/many", "ok");
    size_t parent_exports = iso_worker_exports(w);
    cr_assert_leq(parent_exports, 1, "only env's apply is left, got %zu", parent_exports);
    cr_assert_eq(iso_worker_exports(fh.children[0].w), 0);
    expect_body(&fh, w, "http://p/many", "ok");
    cr_assert_eq(iso_worker_exports(w), parent_exports);
    cr_assert_eq(iso_worker_exports(fh.children[0].w), 0);
    cr_assert_geq(fh.stub_calls, 600);
    cr_assert_geq(fh.child_stub_calls, 200);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, result_stubs_are_released_when_collected)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(&fh, STUBS_PARENT);
    expect_body(&fh, w, "http://p/garbage", "ok");
    struct iso_worker *child = fh.children[0].w;
    cr_assert_gt(iso_worker_exports(child), 0, "the parent's stubs were not collected yet");
    for (int i = 0; i < 3 && iso_worker_exports(child) > 0; i++) {
        iso_worker_collect_garbage(w);
        fake_host_drain(&fh);
    }
    cr_assert_eq(iso_worker_exports(child), 0, "%zu left", iso_worker_exports(child));
    cr_assert_geq(fh.drops, 100);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, a_stub_into_a_child_that_is_gone_rejects)
{
    struct fake_host fh;
    fake_host_init(&fh);
    cr_assert_eq(iso_watch_slot_new(&fh.watch), 0);
    fh.child_cpu_ns = 50000000u;
    struct iso_worker *w = parent_ok(&fh, STUBS_PARENT);
    expect_body(&fh, w, "http://p/gone", "1 Error: The worker this RPC stub belongs to is gone");
    fake_host_dispose(&fh);
    iso_worker_free(w);
    iso_watch_slot_free(fh.watch);
}

/* ---- streamed bodies --------------------------------------------------------------------- */

/* A child whose responses stream from pull-based ReadableStreams: /big/TOTAL/CHUNK (chunk i
 * filled with 'A' + i % 26), /spin (spins on the third pull), /echo (the request's own body),
 * /count (reads the request body as a stream), /small; and RPC methods with streams. */
#define CHILD_STREAMS                                                                                        \
    "const CHILD = `import { WorkerEntrypoint } from 'cloudflare:workers';\n"                                \
    "let cancelReason = null, pulls = 0;\n"                                                                  \
    "function counted(total, chunk, spinAt) {\n"                                                             \
    "  let sent = 0, i = 0;\n"                                                                               \
    "  return new ReadableStream({\n"                                                                        \
    "    pull(c) {\n"                                                                                        \
    "      pulls++;\n"                                                                                       \
    "      if (pulls === spinAt) while (true) {}\n"                                                          \
    "      if (sent >= total) { c.close(); return; }\n"                                                      \
    "      const n = Math.min(chunk, total - sent);\n"                                                       \
    "      c.enqueue(new Uint8Array(n).fill(65 + i++ % 26));\n"                                              \
    "      sent += n;\n"                                                                                     \
    "    },\n"                                                                                               \
    "    cancel(r) { cancelReason = String(r); },\n"                                                         \
    "  }, { highWaterMark: 0 });\n"                                                                          \
    "}\n"                                                                                                    \
    "async function drain(stream) {\n"                                                                       \
    "  const reader = stream.getReader();\n"                                                                 \
    "  let bytes = 0, chunks = 0;\n"                                                                         \
    "  for (;;) {\n"                                                                                         \
    "    const { value, done } = await reader.read();\n"                                                     \
    "    if (done) return { bytes, chunks };\n"                                                              \
    "    bytes += value.length; chunks++;\n"                                                                 \
    "  }\n"                                                                                                  \
    "}\n"                                                                                                    \
    "export default class extends WorkerEntrypoint {\n"                                                      \
    "  async fetch(req) {\n"                                                                                 \
    "    const p = req.url.slice(req.url.indexOf('/', 8)).split('/');\n"                                     \
    "    if (p[1] === 'big')\n"                                                                              \
    "      return new Response(counted(Number(p[2]), Number(p[3])), { headers: { 'x-kind': 'stream' } });\n" \
    "    if (p[1] === 'spin') return new Response(counted(1 << 20, 1024, 3));\n"                             \
    "    if (p[1] === 'echo') return new Response(req.body);\n"                                              \
    "    if (p[1] === 'count') {\n"                                                                          \
    "      const isStream = req.body instanceof ReadableStream;\n"                                           \
    "      return Response.json({ isStream, ...(await drain(req.body)) });\n"                                \
    "    }\n"                                                                                                \
    "    return new Response('small body');\n"                                                               \
    "  }\n"                                                                                                  \
    "  cancelled() { return cancelReason; }\n"                                                               \
    "  streamIn(s) { return drain(s); }\n"                                                                   \
    "  streamOut(n) { return { body: counted(n, 1000), tag: 'out' }; }\n"                                    \
    "  reqIn(r) { return r.method + ' ' + r.url + ' ' + r.headers.get('x-a'); }\n"                           \
    "}`;\n"

#define STREAMS_PARENT                                                                                                       \
    PARENT(                                                                                                                  \
        CHILD_STREAMS                                                                                                        \
        "const ep = env.LOADER.get(path.split('/')[1], () => code(CHILD)).getEntrypoint();\n"                                \
        "async function drain(stream) {\n"                                                                                   \
        "  const reader = stream.getReader();\n"                                                                             \
        "  let bytes = 0, chunks = 0, last = 0;\n"                                                                           \
        "  for (;;) {\n"                                                                                                     \
        "    const { value, done } = await reader.read();\n"                                                                 \
        "    if (done) return { bytes, chunks, last };\n"                                                                    \
        "    bytes += value.length; chunks++; last = value[value.length - 1];\n"                                             \
        "  }\n"                                                                                                              \
        "}\n"                                                                                                                \
        "if (path === '/big') {\n"                                                                                           \
        "  const r = await ep.fetch('http://c/big/16777216/65536');\n"                                                       \
        "  return Response.json({ kind: r.headers.get('x-kind'), ...(await drain(r.body)) });\n"                             \
        "}\n"                                                                                                                \
        "if (path === '/relay') return ep.fetch('http://c/big/4194304/65536');\n"                                            \
        "if (path === '/whole') {\n"                                                                                         \
        "  const r = await ep.fetch('http://c/big/16777216/65536');\n"                                                       \
        "  return new Response(String((await r.arrayBuffer()).byteLength));\n"                                               \
        "}\n"                                                                                                                \
        "if (path === '/cancel') {\n"                                                                                        \
        "  const r = await ep.fetch('http://c/big/16777216/65536');\n"                                                       \
        "  const reader = r.body.getReader();\n"                                                                             \
        "  const first = (await reader.read()).value.length;\n"                                                              \
        "  await reader.cancel('enough');\n"                                                                                 \
        "  return Response.json({ first, reason: await ep.cancelled() });\n"                                                 \
        "}\n"                                                                                                                \
        "if (path === '/killed') {\n"                                                                                        \
        "  const r = await ep.fetch('http://c/spin');\n"                                                                     \
        "  const reader = r.body.getReader();\n"                                                                             \
        "  const out = [];\n"                                                                                                \
        "  try {\n"                                                                                                          \
        "    for (let i = 0; i < 10; i++) {\n"                                                                               \
        "      const { done } = await reader.read();\n"                                                                      \
        "      out.push(done ? 'end' : 'chunk');\n"                                                                          \
        "    }\n"                                                                                                            \
        "  } catch (e) { out.push(err(e)); }\n"                                                                              \
        "  return new Response(out.join(','));\n"                                                                            \
        "}\n"                                                                                                                \
        "if (path.startsWith('/post/')) {\n"                                                                                 \
        "  const body = 'x'.repeat(Number(path.split('/')[2]));\n"                                                           \
        "  const r = await ep.fetch('http://c/count', { method: 'POST', body });\n"                                          \
        "  return new Response(await r.text());\n"                                                                           \
        "}\n"                                                                                                                \
        "if (path === '/echo') {\n"                                                                                          \
        "  const r = await ep.fetch('http://c/echo', { method: 'POST', body: 'e'.repeat(300000) });\n"                       \
        "  const t = await r.text();\n"                                                                                      \
        "  return new Response(t.length + ' ' + t.slice(0, 3));\n"                                                           \
        "}\n"                                                                                                                \
        "if (path === '/values') {\n"                                                                                        \
        "  let i = 0;\n"                                                                                                     \
        "  const mine = new ReadableStream({ pull(c) { if (i++ < 5) c.enqueue(new Uint8Array(100)); else c.close(); } });\n" \
        "  const a = await ep.streamIn(mine);\n"                                                                             \
        "  const o = await ep.streamOut(2500);\n"                                                                            \
        "  const b = await drain(o.body);\n"                                                                                 \
        "  const c = await ep.reqIn(new Request('http://x/y', { headers: { 'x-a': 'b' } }));\n"                              \
        "  const small = await ep.fetch('http://c/small');\n"                                                                \
        "  return Response.json({ a, b, tag: o.tag, c, small: await small.text() });\n"                                      \
        "}")

Test(calls, a_large_response_streams_chunk_by_chunk)
{
    /* 16 MiB through a parent limited to 12 MiB of heap: it never holds the body whole. */
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w = parent_with_heap(&fh, STREAMS_PARENT, 12u << 20);
    expect_body(&fh, w, "http://p/big",
                "{\"kind\":\"stream\",\"bytes\":16777216,\"chunks\":256,\"last\":86}");
    /* One pull is one call into the child: 256 chunks and the end. */
    cr_assert_eq(fh.child_stub_calls, 257);
    cr_assert_eq(iso_worker_exports(fh.children[0].w), 0, "the stream was released at its end");
    cr_assert_not(iso_worker_retired(w));
    /* The same body read whole does not fit: the limit the stream stayed under is real. */
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://p/whole", NULL, NULL, &c, &err), 0);
    fake_host_drain(&fh);
    cr_assert(c.fails == 1 || (c.heads == 1 && c.status == 500), "%d %s", c.status,
              c.body.data ? c.body.data : c.fail_msg);
    capture_dispose(&c);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, a_child_response_relayed_as_the_parents_streams_into_the_sink)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w = parent_with_heap(&fh, STREAMS_PARENT, 12u << 20);
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://p/relay", NULL, NULL, &c, &err), 0);
    fake_host_drain(&fh);
    cr_assert_eq(c.ends, 1, "%s %s", c.fail_msg, c.abort_msg);
    cr_assert_eq(c.content_length, -1);
    cr_assert_eq(c.body.len, 4u << 20);
    cr_assert_geq(c.bodies, 64);
    for (size_t i = 0; i < c.body.len; i += 65536)
        cr_assert_eq(c.body.data[i], 'A' + (char)((i / 65536) % 26), "chunk %zu", i / 65536);
    capture_dispose(&c);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, the_receiver_cancelling_cancels_the_senders_stream)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(&fh, STREAMS_PARENT);
    expect_body(&fh, w, "http://p/cancel", "{\"first\":65536,\"reason\":\"enough\"}");
    cr_assert_eq(iso_worker_exports(fh.children[0].w), 0, "the stream's export was released");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, a_sender_killed_mid_stream_fails_the_read_with_its_limit)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    cr_assert_eq(iso_watch_slot_new(&fh.watch), 0);
    fh.child_cpu_ns = 50000000u;
    struct iso_worker *w = parent_ok(&fh, STREAMS_PARENT);
    expect_body(&fh, w, "http://p/killed", "chunk,chunk,Error: Worker exceeded CPU time limit");
    cr_assert_null(fh.children[0].w, "the host freed the child a limit retired");
    cr_assert_not(iso_worker_retired(w));
    fake_host_dispose(&fh);
    iso_worker_free(w);
    iso_watch_slot_free(fh.watch);
}

Test(calls, a_request_body_arrives_as_a_stream)
{
    struct fake_host fh;
    fake_host_init(&fh);
    fh.async = true;
    struct iso_worker *w = parent_ok(&fh, STREAMS_PARENT);
    /* Small fixed bodies cross inline, larger ones as a stream of 256 KiB pieces. */
    expect_body(&fh, w, "http://p/post/100", "{\"isStream\":true,\"bytes\":100,\"chunks\":1}");
    expect_body(&fh, w, "http://p/post/5000000",
                "{\"isStream\":true,\"bytes\":5000000,\"chunks\":20}");
    cr_assert_eq(iso_worker_exports(w), 0, "the request body's export went at its end");
    /* The child answers with the request's own body: the parent reads its own bytes back
     * through the child. */
    expect_body(&fh, w, "http://p/echo", "300000 eee");
    cr_assert_eq(iso_worker_exports(w), 0);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

Test(calls, streams_and_requests_anywhere_in_values)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(&fh, STREAMS_PARENT);
    expect_body(
        &fh, w, "http://p/values",
        "{\"a\":{\"bytes\":500,\"chunks\":5},\"b\":{\"bytes\":2500,\"chunks\":3,\"last\":67},"
        "\"tag\":\"out\",\"c\":\"GET http://x/y b\",\"small\":\"small body\"}");
    fake_host_dispose(&fh);
    iso_worker_free(w);
}
