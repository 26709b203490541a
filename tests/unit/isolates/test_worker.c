/*
 * isolates/: building a worker from a bundle of modules and dispatching fetches to it — the
 * request the handler sees, each kind of response body, and every way a worker can fail.
 */
#include "iso_test.h"

TestSuite(worker, .init = iso_test_setup);

#define HELLO "export default { fetch() { return new Response('hello'); } };"

Test(worker, hello)
{
    struct iso_worker *w = worker_ok(HELLO);
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://example.com/", &c), "hello");
    cr_assert_eq(c.status, 200);
    cr_assert_eq(c.content_length, 5);
    cr_assert_str_eq(c.headers, "content-type: text/plain;charset=UTF-8\n");
    cr_assert_not(iso_worker_retired(w));
    cr_assert_gt(iso_worker_memory(w), 100000);
    capture_dispose(&c);
    iso_worker_free(w);
    cr_assert_str_eq(iso_v8_version(), "10.2.154.26-node.37");
}

Test(worker, request_fields_seen_by_js)
{
    struct iso_worker *w =
        worker_ok("export default { async fetch(req) {\n"
                  "  const body = await req.text();\n"
                  "  return new Response(JSON.stringify({ method: req.method, url: req.url,\n"
                  "    type: req.headers.get('Content-Type'), multi: req.headers.get('x-multi'),\n"
                  "    body, used: req.bodyUsed, names: [...req.headers.keys()] }));\n"
                  "} };");
    const char *headers[] = {"Content-Type: text/plain", "X-Multi: a", "x-multi: b", NULL};
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    int rc = fetch_into(w, "POST", "http://example.com/p?q=1", "héllo", headers, &c, &err);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    cr_assert_str_eq(c.body.data,
                     "{\"method\":\"POST\",\"url\":\"http://example.com/p?q=1\",\"type\":"
                     "\"text/plain\",\"multi\":\"a, b\",\"body\":\"héllo\",\"used\":true,"
                     "\"names\":[\"content-type\",\"x-multi\"]}");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, request_json_and_array_buffer)
{
    struct iso_worker *w = worker_ok(
        "export default { async fetch(req) {\n"
        "  if (req.method === 'PUT') return new Response(String((await req.arrayBuffer()).byteLength));\n"
        "  const data = await req.json();\n"
        "  return Response.json({ sum: data.a + data.b });\n"
        "} };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "POST", "http://x/", "{\"a\":1,\"b\":41}", NULL, &c, &err), 0);
    cr_assert_str_eq(c.body.data, "{\"sum\":42}");
    cr_assert_str_eq(c.headers, "content-type: application/json\n");
    capture_dispose(&c);
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "PUT", "http://x/", "12345", NULL, &c, &err), 0);
    cr_assert_str_eq(c.body.data, "5");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, response_status_headers_and_bytes)
{
    struct iso_worker *w = worker_ok(
        "export default { fetch() {\n"
        "  const h = new Headers({ 'X-One': '1' });\n"
        "  h.append('Set-Cookie', 'a=1'); h.append('set-cookie', 'b=2');\n"
        "  return new Response(new Uint8Array([104, 105, 0, 255]), { status: 201, headers: h });\n"
        "} };");
    struct capture c;
    get_ok(w, "http://x/", &c);
    cr_assert_eq(c.status, 201);
    cr_assert_eq(c.content_length, 4);
    cr_assert_eq(c.body.len, 4);
    cr_assert(memcmp(c.body.data, "hi\0\xff", 4) == 0);
    cr_assert_str_eq(c.headers, "x-one: 1\nset-cookie: a=1\nset-cookie: b=2\n");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, large_bodies_keep_their_length)
{
    /* A string body over the one-piece threshold, with a surrogate pair on a piece boundary,
     * and an ArrayBuffer body: content_length must match the bytes delivered. */
    struct iso_worker *w = worker_ok(
        "export default { fetch(req) {\n"
        "  if (req.url.endsWith('/bytes')) return new Response(new ArrayBuffer(200000));\n"
        "  return new Response('a'.repeat(16383) + '\\u{1F600}' + 'é'.repeat(40000) + '\\uD800');\n"
        "} };");
    struct capture c;
    get_ok(w, "http://x/text", &c);
    cr_assert_eq(c.content_length, 16383 + 4 + 80000 + 3);
    cr_assert_eq((int64_t)c.body.len, c.content_length);
    cr_assert(memcmp(c.body.data + 16383, "\xf0\x9f\x98\x80\xc3\xa9", 6) == 0);
    cr_assert(memcmp(c.body.data + c.body.len - 3, "\xef\xbf\xbd", 3) == 0);
    cr_assert_gt(c.bodies, 1);
    capture_dispose(&c);
    get_ok(w, "http://x/bytes", &c);
    cr_assert_eq(c.content_length, 200000);
    cr_assert_eq(c.body.len, 200000);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, streamed_body_arrives_in_chunks)
{
    struct iso_worker *w =
        worker_ok("export default { fetch() {\n"
                  "  let i = 0; const enc = new TextEncoder();\n"
                  "  const body = new ReadableStream({ async pull(c) {\n"
                  "    await null;\n"
                  "    if (i === 3) return c.close();\n"
                  "    c.enqueue(enc.encode('chunk' + i++ + ';'));\n"
                  "  } });\n"
                  "  return new Response(body, { headers: { 'content-type': 'text/plain' } });\n"
                  "} };");
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "chunk0;chunk1;chunk2;");
    cr_assert_eq(c.content_length, -1);
    cr_assert_eq(c.bodies, 3);
    cr_assert_eq(c.aborts, 0);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, stream_that_errors_aborts_after_head)
{
    struct iso_worker *w = worker_ok(
        "export default { fetch() {\n"
        "  let n = 0;\n"
        "  const body = new ReadableStream({ pull(c) {\n"
        "    if (n++ === 0) c.enqueue(new Uint8Array([65])); else c.error(new Error('broken'));\n"
        "  } });\n"
        "  return new Response(body);\n"
        "} };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    int rc = fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err);
    cr_assert_eq(rc, 0, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert_eq(c.heads, 1);
    cr_assert_eq(c.bodies, 1);
    cr_assert_eq(c.ends, 0);
    cr_assert_eq(c.aborts, 1);
    cr_assert_eq(c.abort_code, ED_EJS);
    cr_assert(strstr(c.abort_msg, "broken"), "%s", c.abort_msg);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, stream_that_stalls_or_yields_strings_aborts)
{
    struct iso_worker *w = worker_ok(
        "export default { fetch(req) {\n"
        "  if (req.url.endsWith('/stall')) return new Response(new ReadableStream({}));\n"
        "  return new Response(new ReadableStream({ start(c) { c.enqueue('text'); } }));\n"
        "} };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://x/stall", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.aborts, 1);
    cr_assert(strstr(c.abort_msg, "stalled"), "%s", c.abort_msg);
    capture_dispose(&c);
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://x/str", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.aborts, 1);
    cr_assert(strstr(c.abort_msg, "did not return bytes"), "%s", c.abort_msg);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, sink_cancel_cancels_the_stream)
{
    struct iso_worker *w =
        worker_ok("let canceled = 'no';\n"
                  "export default { fetch(req) {\n"
                  "  if (req.url.endsWith('/state')) return new Response(canceled);\n"
                  "  return new Response(new ReadableStream({\n"
                  "    pull(c) { c.enqueue(new Uint8Array(10)); },\n"
                  "    cancel(reason) { canceled = 'yes'; } }));\n"
                  "} };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    c.cancel_after_bodies = 2;
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.bodies, 2);
    cr_assert_eq(c.aborts, 1);
    cr_assert_eq(c.abort_code, ED_ECANCELED);
    capture_dispose(&c);
    cr_assert_str_eq(get_ok(w, "http://x/state", &c), "yes");
    capture_dispose(&c);

    capture_init(&c);
    c.cancel_head = 1;
    cr_assert_eq(fetch_into(w, "GET", "http://x/state", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.bodies, 0);
    cr_assert_eq(c.aborts, 1);
    cr_assert_eq(c.abort_code, ED_ECANCELED);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, throwing_handler_is_ed_ejs_with_stack)
{
    struct iso_worker *w = worker_ok(
        "function inner() { throw new Error('boom'); }\n"
        "export default { fetch(req) {\n"
        "  if (req.url.endsWith('/async')) return Promise.reject(new TypeError('later'));\n"
        "  if (req.url.endsWith('/value')) throw 42;\n"
        "  inner();\n"
        "} };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    int rc = fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err);
    cr_assert_eq(rc, ED_EJS);
    cr_assert_eq(c.heads, 0);
    cr_assert(strstr(err.msg, "Error: boom"), "%s", err.msg);
    cr_assert(strstr(err.msg, "at inner (worker.js:1:"), "%s", err.msg);
    cr_assert(strstr(err.msg, "at Object.fetch (worker.js:5:"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "edged:runtime"), "runtime frames are hidden: %s", err.msg);
    cr_assert_eq(fetch_into(w, "GET", "http://x/async", NULL, NULL, &c, &err), ED_EJS);
    cr_assert(strstr(err.msg, "TypeError: later"), "%s", err.msg);
    cr_assert_eq(fetch_into(w, "GET", "http://x/value", NULL, NULL, &c, &err), ED_EJS);
    cr_assert_str_eq(err.msg, "42");
    cr_assert_not(iso_worker_retired(w));
    cr_assert_eq(c.heads, 0);
    ed_error_dispose(&err);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, non_response_is_ed_ebadresponse)
{
    struct iso_worker *w = worker_ok("export default { async fetch(req) {\n"
                                     "  if (req.url.endsWith('/str')) return 'hello';\n"
                                     "  return { status: 200 };\n"
                                     "} };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), ED_EBADRESPONSE);
    cr_assert(strstr(err.msg, "an object, not a Response"), "%s", err.msg);
    cr_assert_eq(fetch_into(w, "GET", "http://x/str", NULL, NULL, &c, &err), ED_EBADRESPONSE);
    cr_assert(strstr(err.msg, "a string, not a Response"), "%s", err.msg);
    cr_assert_eq(c.heads, 0);
    ed_error_dispose(&err);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, promise_that_never_settles_is_ed_ejs)
{
    struct iso_worker *w =
        worker_ok("export default { fetch() { return new Promise(() => {}); } };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), ED_EJS);
    cr_assert(strstr(err.msg, "never settled"), "%s", err.msg);
    ed_error_dispose(&err);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, response_used_twice_is_ed_ejs)
{
    struct iso_worker *w = worker_ok("const r = new Response('once');\n"
                                     "export default { fetch() { return r; } };");
    struct capture c;
    struct ed_error err = {0};
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "once");
    capture_dispose(&c);
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), ED_EJS);
    cr_assert(strstr(err.msg, "already been used"), "%s", err.msg);
    ed_error_dispose(&err);
    capture_dispose(&c);
    iso_worker_free(w);
}

static void expect_bad_worker(const char *source, const char *message)
{
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = worker_from(source, 0, NULL, &w, &err);
    cr_assert_eq(rc, ED_EBADWORKER, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert_null(w);
    cr_assert(strstr(ed_error_msg(&err), message), "%s", ed_error_msg(&err));
    ed_error_dispose(&err);
}

Test(worker, bad_workers_are_ed_ebadworker)
{
    expect_bad_worker("throw new Error('no config');\nexport default {};",
                      "uncaught exception while evaluating worker.js: Error: no config");
    expect_bad_worker("export default { fetch() { return 1 } ;", "worker.js:1: SyntaxError");
    expect_bad_worker("export default {};", "has no default export with a fetch() method");
    expect_bad_worker("export const fetch = () => 1;", "has no default export with a fetch()");
    expect_bad_worker("await Promise.reject(new RangeError('tla'));\nexport default {};",
                      "RangeError: tla");
    expect_bad_worker("await new Promise(() => {});\nexport default {};", "never settled");
}

static int bundle(const struct iso_module *mods, size_t n, const char *main, struct iso_worker **w,
                  struct ed_error *err)
{
    struct iso_worker_config cfg = {.modules = mods, .n_modules = n, .main_module = main};
    return iso_worker_new(&cfg, w, err);
}

Test(worker, imports_between_modules)
{
    static const struct iso_module mods[] = {
        MOD("lib/greet.js", "import { punct } from '../util.js';\n"
                            "export const greet = (n) => `hello ${n}${punct}`;"),
        MOD("util.js", "export const punct = '!';"),
        MOD("main.js", "import { greet } from './lib/greet.js';\n"
                       "await null;\n"
                       "export default { fetch() { return new Response(greet('you')); } };"),
    };
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = bundle(mods, 3, "main.js", &w, &err);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "hello you!");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, missing_import_names_the_module)
{
    static const struct iso_module mods[] = {
        MOD("main.js", "import { x } from './missing.js';\nexport default { fetch() {} };"),
    };
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(bundle(mods, 1, "main.js", &w, &err), ED_EBADWORKER);
    cr_assert_str_eq(err.msg,
                     "main.js imports \"./missing.js\", which is not a module of this worker");
    static const struct iso_module mods2[] = {
        MOD("a.js", "export const y = 1;"),
        MOD("main.js", "import { x } from './a.js';\nexport default { fetch() {} };"),
    };
    cr_assert_eq(bundle(mods2, 2, "main.js", &w, &err), ED_EBADWORKER);
    cr_assert(strstr(err.msg, "does not provide an export named 'x'"), "%s", err.msg);
    cr_assert_eq(bundle(mods2, 2, "nope.js", &w, &err), ED_EBADWORKER);
    cr_assert(strstr(err.msg, "\"nope.js\" is not among"), "%s", err.msg);
    static const struct iso_module bad[] = {
        MOD("lib/b.js", "export const b = ;"),
        MOD("main.js", "export default { fetch() {} };"),
    };
    cr_assert_eq(bundle(bad, 2, "main.js", &w, &err), ED_EBADWORKER);
    cr_assert(strstr(err.msg, "lib/b.js:1: SyntaxError: Unexpected token ';'"), "%s", err.msg);
    static const struct iso_module dup[] = {MOD("a.js", ""), MOD("a.js", "")};
    cr_assert_eq(bundle(dup, 2, "a.js", &w, &err), ED_EBADWORKER);
    cr_assert_eq(bundle(dup, 0, "a.js", &w, &err), ED_EBADWORKER);
    cr_assert_null(w);
    ed_error_dispose(&err);
}

Test(worker, console_reaches_the_log_callback)
{
    struct logs logs = {0};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = worker_from(
        "console.log('starting');\n"
        "export default { fetch() {\n"
        "  console.log('n=%d s=%s', 42, 'str', { a: [1, 'two'], b: null }, [undefined]);\n"
        "  console.warn(new Map([[1, { deep: { deeper: { deepest: 1 } } }]]));\n"
        "  console.error(new Error('bad'));\n"
        "  console.debug(1n, -0, Symbol('s'), function f() {});\n"
        "  console.info('%c styled', 'color: red');\n"
        "  const o = {}; o.self = o; console.log(o);\n"
        "  return new Response('ok');\n"
        "} };",
        0, &logs, &w, &err);
    cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
    struct capture c;
    get_ok(w, "http://x/", &c);
    const char *t = logs.text.data;
    cr_assert(strstr(t, "log: starting\n"), "%s", t);
    cr_assert(strstr(t, "log: n=42 s=str { a: [ 1, 'two' ], b: null } [ undefined ]\n"), "%s", t);
    cr_assert(strstr(t, "warn: Map(1) { 1 => { deep: { deeper: [Object] } } }\n"), "%s", t);
    cr_assert(strstr(t, "error: Error: bad\n    at Object.fetch (worker.js:5:"), "%s", t);
    cr_assert(strstr(t, "debug: 1n -0 Symbol(s) [Function: f]\n"), "%s", t);
    cr_assert(strstr(t, "info:  styled\n"), "%s", t);
    cr_assert(strstr(t, "log: { self: [Circular] }\n"), "%s", t);
    cr_assert_eq(logs.lines, 7);
    capture_dispose(&c);
    ed_buf_dispose(&logs.text);
    iso_worker_free(w);
}

Test(worker, module_state_persists_across_fetches)
{
    struct iso_worker *w =
        worker_ok("let count = 0;\n"
                  "export default { fetch() { return new Response(String(++count)); } };");
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "1");
    capture_dispose(&c);
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "2");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, env_is_frozen_and_ctx_has_wait_until)
{
    static const struct iso_module m = MOD(
        "w.js",
        "export default { fetch(req, env, ctx) {\n"
        "  ctx.waitUntil(Promise.reject(new Error('ignored')));\n"
        "  ctx.passThroughOnException();\n"
        "  let threw = false; try { env.NAME = 'x'; } catch { threw = true; }\n"
        "  return new Response(`${env.NAME} ${env.EMPTY === ''} ${Object.isFrozen(env)} ${threw}`);\n"
        "} };");
    static const struct iso_var vars[] = {{"NAME", "edged"}, {"EMPTY", ""}};
    struct iso_worker_config cfg = {
        .modules = &m, .n_modules = 1, .main_module = "w.js", .vars = vars, .n_vars = 2};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), 0, "%s", ed_error_msg(&err));
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c), "edged true true true");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, eval_refused_unless_allowed_at_startup)
{
    static const char src[] =
        "const early = eval('1 + 1') + new Function('return 1')();\n"
        "export default { fetch() {\n"
        "  const out = [early];\n"
        "  for (const f of [() => eval('2'), () => new Function('return 2'),\n"
        "                   () => (0, eval)('3'), () => Function.prototype.constructor('4')])\n"
        "    try { f(); out.push('ran'); } catch (e) { out.push(`${e.name}: ${e.message}`); }\n"
        "  return new Response(out.join('|'));\n"
        "} };";
    struct iso_module m = MOD("worker.js", src);
    struct iso_worker_config cfg = {
        .modules = &m, .n_modules = 1, .main_module = "worker.js", .allow_eval_at_startup = true};
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), 0, "%s", ed_error_msg(&err));
    struct capture c;
    const char *refused = "EvalError: Code generation from strings disallowed for this context";
    char want[512];
    snprintf(want, sizeof want, "3|%s|%s|%s|%s", refused, refused, refused, refused);
    cr_assert_str_eq(get_ok(w, "http://x/", &c), want);
    capture_dispose(&c);
    iso_worker_free(w);

    /* by default not even the top level may */
    cfg.allow_eval_at_startup = false;
    cr_assert_eq(iso_worker_new(&cfg, &w, &err), ED_EBADWORKER);
    cr_assert(strstr(ed_error_msg(&err), "EvalError: Code generation from strings disallowed"),
              "%s", ed_error_msg(&err));
    ed_error_dispose(&err);
}

static struct iso_worker *reentrant_w;
static int reentrant_rc;
static struct capture reentrant_inner;

static int reenter_head(void *ud, int status, const struct iso_header *h, size_t n, int64_t len)
{
    struct ed_error err = {0};
    reentrant_rc = fetch_into(reentrant_w, "GET", "http://x/", NULL, NULL, &reentrant_inner, &err);
    ed_error_dispose(&err);
    return cap_head(ud, status, h, n, len);
}

Test(worker, reentrant_fetch_from_a_sink_callback_completes)
{
    /* A sink may start another fetch on the same worker while it is being called (pipelined
     * requests): the second one is in flight at once and answered before the first returns. */
    reentrant_w = worker_ok(HELLO);
    struct iso_response_sink sink = *cap_sink();
    sink.on_head = reenter_head;
    struct iso_request req = {.method = "GET", .url = "http://x/", .url_len = 9};
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    capture_init(&reentrant_inner);
    cr_assert_eq(iso_worker_fetch(reentrant_w, &req, &sink, &c, &err), 0);
    cr_assert_eq(reentrant_rc, 0);
    cr_assert_eq(c.ends, 1);
    cr_assert_eq(reentrant_inner.ends, 1);
    cr_assert_str_eq(reentrant_inner.body.data, "hello");
    cr_assert_eq(iso_worker_pending(reentrant_w), 0);
    capture_dispose(&c);
    capture_dispose(&reentrant_inner);
    iso_worker_free(reentrant_w);
}

static struct iso_worker *freed_w;
static int free_at; /* 1: in on_head, 2: in on_end */

static int free_head(void *ud, int status, const struct iso_header *h, size_t n, int64_t len)
{
    if (free_at == 1)
        iso_worker_free(freed_w);
    return cap_head(ud, status, h, n, len);
}

static void free_end(void *ud)
{
    if (free_at == 2)
        iso_worker_free(freed_w);
    cap_end(ud);
}

Test(worker, a_sink_may_free_the_worker)
{
    /* The server frees a retired worker from the last callback; the shim lets go of it
     * once its own frames have returned (ASan checks nothing is touched after). */
    for (free_at = 1; free_at <= 2; free_at++) {
        freed_w = worker_ok(HELLO);
        struct iso_response_sink sink = *cap_sink();
        sink.on_head = free_head;
        sink.on_end = free_end;
        struct iso_request req = {.method = "GET", .url = "http://x/", .url_len = 9};
        struct capture c;
        struct ed_error err = {0};
        capture_init(&c);
        cr_assert_eq(iso_worker_fetch(freed_w, &req, &sink, &c, &err), 0);
        cr_assert_eq(c.heads, 1);
        cr_assert_eq(c.ends + c.aborts, 1);
        capture_dispose(&c);
    }
}

Test(worker, globals_are_only_the_standard_ones)
{
    struct iso_worker *w = worker_ok(
        "export default { fetch() {\n"
        "  const own = Object.getOwnPropertyNames(globalThis);\n"
        "  const ours = ['Headers', 'Request', 'Response', 'ReadableStream', 'TextEncoder',\n"
        "    'TextDecoder', 'console', 'ReadableStreamDefaultReader', 'queueMicrotask',\n"
        "    'ReadableStreamDefaultController', 'fetch', 'crypto',\n"
        "    'atob', 'btoa', 'structuredClone', 'setTimeout', 'setInterval',\n"
        "    'clearTimeout', 'clearInterval', 'scheduler', 'performance'];\n"
        "  const extra = own.filter((k) => !ours.includes(k) && /^[a-z_]/.test(k) &&\n"
        "    !['globalThis', 'undefined', 'escape', 'unescape', 'eval', 'isFinite', 'isNaN', 'parseFloat',\n"
        "      'parseInt', 'decodeURI', 'decodeURIComponent', 'encodeURI',\n"
        "      'encodeURIComponent'].includes(k));\n"
        "  return new Response(JSON.stringify({ extra, enumerable: Object.keys(globalThis),\n"
        "    sab: typeof SharedArrayBuffer, wasm: typeof WebAssembly }));\n"
        "} };");
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://x/", &c),
                     "{\"extra\":[],\"enumerable\":[],\"sab\":\"undefined\",\"wasm\":\"object\"}");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(worker, retired_worker_refuses_and_null_args)
{
    struct iso_worker *w = worker_ok(HELLO);
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(iso_worker_fetch(NULL, NULL, NULL, NULL, &err), ED_EINVAL);
    iso_worker_terminate(w, ED_ETERMINATED); /* idle: a no-op */
    cr_assert_not(iso_worker_retired(w));
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), 0);
    cr_assert_eq(iso_worker_new(NULL, &w, &err), ED_EINVAL);
    iso_worker_free(NULL);
    ed_error_dispose(&err);
    capture_dispose(&c);
    iso_worker_free(w);
}
