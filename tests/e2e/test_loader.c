/*
 * End-to-end dynamic workers (issue 3) through a real edged: a parent worker whose
 * WORKER.metadata.json declares a worker_loader binding loads child isolates from code it
 * receives. Checked here: id caching (same id, same child and module state; new id, new
 * child), load() freshness, named entrypoints with props, structured clone both ways, env
 * functions and RpcTargets calling back into the parent, the three globalOutbound modes, the
 * error messages, limits on hostile children (loop, memory bomb, fetch flood) while another
 * tenant is hammered, the size limits, eviction under max_children (never of a busy child),
 * tenant isolation, metadata errors, the exact usage counters in DATA/control.sqlite, and
 * the demo's POST /run Code Mode executor.
 *
 * Most tests drive one generic parent (PARENT_JS): POST /call with a child's main module as
 * the body (or ?src=NAME for a built-in child) and query parameters choosing get(id)/load(),
 * env, globalOutbound, limits, entrypoint, method and arguments. It answers 200 with JSON
 * {ok, result | stage+error, codeCalls, seen, apiCount, plainA}, so every check reads one
 * JSON document; codeCalls counts getCode callbacks in that parent isolate (use --threads 1
 * where it is compared).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

static void loader_fini(void);

TestSuite(loader_cache, .fini = loader_fini, .timeout = 60);
TestSuite(loader_rpc, .fini = loader_fini, .timeout = 60);
TestSuite(loader_env, .fini = loader_fini, .timeout = 60);
TestSuite(loader_outbound, .fini = loader_fini, .timeout = 60);
TestSuite(loader_errors, .fini = loader_fini, .timeout = 60);
TestSuite(loader_limits, .fini = loader_fini, .timeout = 120);
TestSuite(loader_sizes, .fini = loader_fini, .timeout = 120);
TestSuite(loader_eviction, .fini = loader_fini, .timeout = 60);
TestSuite(loader_isolation, .fini = loader_fini, .timeout = 60);
TestSuite(loader_metadata, .fini = loader_fini, .timeout = 60);
TestSuite(loader_billing, .fini = loader_fini, .timeout = 120);
TestSuite(loader_demo, .fini = loader_fini, .timeout = 60);

#define NULL_OUTBOUND_MSG                                                                     \
    "This worker is not permitted to access the internet via global functions like fetch(). " \
    "It must use capabilities (such as bindings in 'env') to talk to the outside world."

/* clang-format off */
/* The generic parent. Child sources inside it are backtick strings (no ${...} in them). */
static const char PARENT_JS[] =
    "import { WorkerEntrypoint, RpcTarget } from 'cloudflare:workers';\n"
    E2E_JS_PATHOF
    "function query(u) {\n"
    "  const q = {};\n"
    "  const i = u.indexOf('?');\n"
    "  if (i < 0) return q;\n"
    "  for (const kv of u.slice(i + 1).split('&')) {\n"
    "    if (!kv) continue;\n"
    "    const j = kv.indexOf('=');\n"
    "    const k = decodeURIComponent(j < 0 ? kv : kv.slice(0, j));\n"
    "    q[k] = j < 0 ? '' : decodeURIComponent(kv.slice(j + 1));\n"
    "  }\n"
    "  return q;\n"
    "}\n"
    "function json(v) {\n"
    "  const headers = { 'content-type': 'application/json' };\n"
    "  return new Response(JSON.stringify(v), { headers });\n"
    "}\n"
    "function msg(e) { return String(e && e.message !== undefined ? e.message : e); }\n"
    "let codeCalls = 0;\n"
    "const W = `import { WorkerEntrypoint } from 'cloudflare:workers';\n`;\n"
    "const BUILTIN = {\n"
    "  counter: W + `let n = 0;\n"
    "    export default class extends WorkerEntrypoint { run() { return ++n; } }`,\n"
    "  counter2: W + `let n = 100;\n"
    "    export default class extends WorkerEntrypoint { run() { return ++n; } }`,\n"
    "  loop: W + `let n = 0;\n"
    "    export default class extends WorkerEntrypoint {\n"
    "      ping() { return ++n; }\n"
    "      run() { n++; while (true) {} }\n"
    "    }`,\n"
    "  bomb: W + `let n = 0;\n"
    "    export default class extends WorkerEntrypoint {\n"
    "      ping() { return ++n; }\n"
    "      run() {\n"
    "        const keep = [];\n"
    "        for (let i = 0; i < 1e7; i++) keep.push(new Array(10000).fill(i));\n"
    "        return keep.length;\n"
    "      }\n"
    "    }`,\n"
    "  envlen: W + `export default class extends WorkerEntrypoint {\n"
    "      run() { return this.env.big.length; }\n"
    "    }`,\n"
    "  padlen: W + `import pad from './pad.txt';\n"
    "    export default class extends WorkerEntrypoint { run() { return pad.length; } }`,\n"
    "  gated: W + `let n = 0;\n"
    "    export default class extends WorkerEntrypoint {\n"
    "      async wait() {\n"
    "        const v = await this.env.gate();\n"
    "        return this.env.tag + ':' + v + ':' + (++n);\n"
    "      }\n"
    "      bump() { return this.env.tag + ':' + (++n); }\n"
    "    }`,\n"
    "};\n"
    "async function outboundFetch(seen, request) {\n"
    "  seen.push(request.method + ' ' + request.url + ' ' + request.headers.get('x-child') +\n"
    "            ' ' +\n"
    "            (await request.text()));\n"
    "  return new Response('via parent', { status: 203, headers: { 'x-parent': 'p' } });\n"
    "}\n"
    "class Outbound extends RpcTarget {\n"
    "  constructor(seen) { super(); this.seen = seen; }\n"
    "  fetch(request) { return outboundFetch(this.seen, request); }\n"
    "}\n"
    "class Api extends RpcTarget {\n"
    "  constructor() { super(); this.count = 0; }\n"
    "  mul(a, b) { return a * b; }\n"
    "  inc() { return ++this.count; }\n"
    "}\n"
    "function cloneArg() {\n"
    "  return { date: new Date(86400000), map: new Map([['k', 1]]), set: new Set([1, 2]),\n"
    "           bytes: new Uint8Array([1, 2, 3]), nested: { a: [1, 'two', null], u: undefined },\n"
    "           big: 12345678901234567890n };\n"
    "}\n"
    "function describe(v) {\n"
    "  return {\n"
    "    date: v.date instanceof Date ? v.date.getTime() : 'not a Date',\n"
    "    map: v.map instanceof Map ? v.map.get('k') : 'not a Map',\n"
    "    set: v.set instanceof Set ? v.set.size : 'not a Set',\n"
    "    bytes: v.bytes instanceof Uint8Array ? Array.from(v.bytes).join(',') : 'not bytes',\n"
    "    nested: JSON.stringify(v.nested),\n"
    "    undef: 'u' in v.nested && v.nested.u === undefined,\n"
    "    big: typeof v.big === 'bigint' ? String(v.big) : 'not a bigint',\n"
    "  };\n"
    "}\n"
    "async function attempt(f) {\n"
    "  try {\n"
    "    const r = await f();\n"
    "    return 'status:' + r.status + ':' + (await r.text()) + ':' + r.headers.get('x-parent');\n"
    "  } catch (e) { return 'error:' + msg(e); }\n"
    "}\n"
    "async function call(request, env, q) {\n"
    "  const main = q.main || 'm.js';\n"
    "  const body = q.src ? BUILTIN[q.src] : await request.text();\n"
    "  const seen = [];\n"
    "  const plain = { a: 1, list: [1, 'two', null] };\n"
    "  const api = new Api();\n"
    "  const code = { compatibilityDate: '2026-11-01', mainModule: main,\n"
    "                 modules: { [main]: body } };\n"
    "  if (q.env === 'rich')\n"
    "    code.env = { PLAIN: plain, NUM: 42, add: (a, b) => a + b,\n"
    "                 slowAdd: async (a, b) => { await null; return a + b; },\n"
    "                 record: (s) => { seen.push(s); return seen.length; },\n"
    "                 fail: () => { throw new Error('parent-says-no-3318'); }, api };\n"
    "  else if (q.env === 'big')\n"
    "    code.env = { big: 'x'.repeat(Number(q.size)) };\n"
    "  if (q.pad) code.modules['pad.txt'] = { text: 'x'.repeat(Number(q.pad)) };\n"
    "  if (q.mods === 'types')\n"
    "    Object.assign(code.modules, {\n"
    "      'lib.cjs': { cjs: 'module.exports = { triple: (x) => x * 3 };' },\n"
    "      'note.txt': { text: 'some text' },\n"
    "      'blob.bin': { data: new Uint8Array([1, 2, 3]).buffer },\n"
    "      'conf.json': { json: { k: 'v', n: 2 } },\n"
    "      'plain.js': 'export const two = 2;',\n"
    "      'esm2.js': { js: 'export const three = 3;' },\n"
    "    });\n"
    "  if (q.out === 'null') code.globalOutbound = null;\n"
    "  else if (q.out === 'stub') code.globalOutbound = new Outbound(seen);\n"
    "  else if (q.out === 'object')\n"
    "    code.globalOutbound = { fetch: (r) => outboundFetch(seen, r) };\n"
    "  if (q.cpu || q.subreq) {\n"
    "    code.limits = {};\n"
    "    if (q.cpu) code.limits.cpuMs = Number(q.cpu);\n"
    "    if (q.subreq) code.limits.subRequests = Number(q.subreq);\n"
    "  }\n"
    "  const getCode =\n"
    "    q.getcode === 'throw' ? () => { codeCalls++; throw new Error('getcode-sync-1207'); } :\n"
    "    q.getcode === 'reject' ? async () => { codeCalls++; await null;\n"
    "                                           throw new Error('getcode-async-1208'); } :\n"
    "    async () => { codeCalls++; return code; };\n"
    "  const done = (o) => {\n"
    "    o.codeCalls = codeCalls; o.seen = seen; o.apiCount = api.count; o.plainA = plain.a;\n"
    "    return json(o);\n"
    "  };\n"
    "  let stub;\n"
    "  try {\n"
    "    stub = q.id !== undefined ? env.LOADER.get(q.id, getCode) : env.LOADER.load(code);\n"
    "  } catch (e) {\n"
    "    return done({ ok: false, stage: 'get', error: msg(e) });\n"
    "  }\n"
    "  try {\n"
    "    const opts = {};\n"
    "    if (q.props) opts.props = JSON.parse(q.props);\n"
    "    if (q.epcpu) opts.limits = { cpuMs: Number(q.epcpu) };\n"
    "    const ep = stub.getEntrypoint(q.ep || undefined, opts);\n"
    "    const m = q.m || 'run';\n"
    "    let result;\n"
    "    for (let i = 0; i < Number(q.times || 1); i++) {\n"
    "      if (m === 'fetch') {\n"
    "        const resp = await ep.fetch(new Request('http://child.example/p?x=1',\n"
    "          { method: 'POST', headers: { 'x-test': 'abc' }, body: 'hello child' }));\n"
    "        result = { status: resp.status, header: resp.headers.get('x-child'),\n"
    "                   text: await resp.text() };\n"
    "      } else if (q.args === 'clone') {\n"
    "        const r = await ep[m](cloneArg());\n"
    "        result = { child: r.seen, back: describe(r.v) };\n"
    "      } else {\n"
    "        result = await ep[m](...(q.args ? JSON.parse(q.args) : []));\n"
    "      }\n"
    "    }\n"
    "    const o = { ok: true, result };\n"
    "    if (q.pfetch) o.parentFetch = await attempt(() => fetch('http://127.0.0.1:1/closed'));\n"
    "    return done(o);\n"
    "  } catch (e) {\n"
    "    return done({ ok: false, stage: 'call', error: msg(e) });\n"
    "  }\n"
    "}\n"
    /* A child busy in a call (awaiting the parent's gate) must survive the eviction that
     * creating another child under max_children = 2 forces; an idle one goes instead. */
    "async function inflight(env) {\n"
    "  let release;\n"
    "  const gate = new Promise((r) => { release = r; });\n"
    "  const mk = (tag) => async () => {\n"
    "    codeCalls++;\n"
    "    return { compatibilityDate: '2026-11-01', mainModule: 'g.js',\n"
    "             modules: { 'g.js': BUILTIN.gated }, env: { gate: () => gate, tag } };\n"
    "  };\n"
    "  const get = (id, tag) => env.LOADER.get(id, mk(tag)).getEntrypoint();\n"
    "  try {\n"
    "    const c0 = codeCalls;\n"
    "    const pA = get('ga', 'a').wait();\n"
    "    const rc = await get('gc', 'c').bump();\n"
    "    const rb = await get('gb', 'b').bump();\n"
    "    release('open');\n"
    "    const ra = await pA;\n"
    "    const c1 = codeCalls;\n"
    "    const ra2 = await get('ga', 'a').bump();\n"
    "    const c2 = codeCalls;\n"
    "    const rc2 = await get('gc', 'c').bump();\n"
    "    return json({ ok: true, rc, rb, ra, ra2, rc2, loads: c1 - c0, reloadA: c2 - c1,\n"
    "                  reloadC: codeCalls - c2 });\n"
    "  } catch (e) {\n"
    "    release('failed');\n"
    "    return json({ ok: false, error: msg(e) });\n"
    "  }\n"
    "}\n"
    "export default {\n"
    "  async fetch(request, env) {\n"
    "    const path = pathOf(request.url);\n"
    "    const q = query(request.url);\n"
    "    if (path === '/ping') return new Response('pong ' + env.X + ' ' + typeof env.LOADER);\n"
    "    if (path === '/vars') return json({ X: env.X, TV: env.TV, LATE: env.LATE, loader: typeof env.LOADER });\n"
    "    if (path === '/call') return call(request, env, q);\n"
    "    if (path === '/inflight') return inflight(env);\n"
    "    return new Response('not found', { status: 404 });\n"
    "  }\n"
    "};\n";

static const char PARENT_META[] =
    "{\"main_module\": \"parent.js\", \"compatibility_date\": \"2026-11-01\",\n"
    " \"bindings\": [{\"type\": \"worker_loader\", \"name\": \"LOADER\"},\n"
    "              {\"type\": \"plain_text\", \"name\": \"X\", \"text\": \"y\"}]}\n";

static const char HEALTHY_JS[] =
    E2E_JS_PATHOF
    "export default {\n"
    "  async fetch(request) { return new Response('healthy:' + pathOf(request.url)); }\n"
    "};\n";

/* Children posted as the body of /call (module m.js unless ?main= says otherwise). */
static const char CHILD_RPC[] =
    "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
    "let n = 0;\n"
    "function describe(v) {\n"
    "  return {\n"
    "    date: v.date instanceof Date ? v.date.getTime() : 'not a Date',\n"
    "    map: v.map instanceof Map ? v.map.get('k') : 'not a Map',\n"
    "    set: v.set instanceof Set ? v.set.size : 'not a Set',\n"
    "    bytes: v.bytes instanceof Uint8Array ? Array.from(v.bytes).join(',') : 'not bytes',\n"
    "    nested: JSON.stringify(v.nested),\n"
    "    undef: 'u' in v.nested && v.nested.u === undefined,\n"
    "    big: typeof v.big === 'bigint' ? String(v.big) : 'not a bigint',\n"
    "  };\n"
    "}\n"
    "export class Greeter extends WorkerEntrypoint {\n"
    "  greet(name) { return this.ctx.props.greeting + ', ' + name + ' (' + (++n) + ')'; }\n"
    "  async fetch(request) { return new Response('greeter ' + this.ctx.props.greeting); }\n"
    "}\n"
    "export default class extends WorkerEntrypoint {\n"
    "  add(a, b) { return a + b; }\n"
    "  echo(v) { return { v, seen: describe(v) }; }\n"
    "  boom() { throw new Error('child-rpc-boom-8812'); }\n"
    "  async fetch(request) {\n"
    "    const t = await request.text();\n"
    "    return new Response('child saw ' + request.method + ' ' + request.url + ' ' +\n"
    "                        request.headers.get('x-test') + ' ' + t,\n"
    "                        { status: 201, headers: { 'x-child': 'yes' } });\n"
    "  }\n"
    "}\n";

/* A plain-object default export with only a fetch handler. */
static const char CHILD_FETCH_OBJECT[] =
    "export default {\n"
    "  async fetch(request, env, ctx) {\n"
    "    return new Response('object child ' + request.method + ' ' + (await request.text()),\n"
    "                        { headers: { 'x-child': 'obj' } });\n"
    "  }\n"
    "};\n";

static const char CHILD_ENV[] =
    "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
    "export default class extends WorkerEntrypoint {\n"
    "  async run() {\n"
    "    const env = this.env;\n"
    "    const out = { plain: JSON.parse(JSON.stringify(env.PLAIN)), num: env.NUM };\n"
    "    out.types = [typeof env.add, typeof env.api.mul].join(',');\n"
    "    out.add = await env.add(2, 3);\n"
    "    out.slowAdd = await env.slowAdd(4, 5);\n"
    "    out.mul = await env.api.mul(6, 7);\n"
    "    out.inc = [await env.api.inc(), await env.api.inc()];\n"
    "    out.record = await env.record('from child');\n"
    "    try { await env.fail(); out.fail = 'no error'; } catch (e) { out.fail = e.message; }\n"
    "    env.PLAIN.a = 99;\n"
    "    return out;\n"
    "  }\n"
    "}\n";

static const char CHILD_OUTBOUND[] =
    "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
    "async function attempt(f) {\n"
    "  try {\n"
    "    const r = await f();\n"
    "    return 'status:' + r.status + ':' + (await r.text()) + ':' + r.headers.get('x-parent');\n"
    "  } catch (e) { return 'error:' + (e && e.message !== undefined ? e.message : String(e)); }\n"
    "}\n"
    "export default class extends WorkerEntrypoint {\n"
    "  async run() {\n"
    "    return {\n"
    "      post: await attempt(() => fetch('http://127.0.0.1:1/x',\n"
    "        { method: 'POST', headers: { 'x-child': '7' }, body: 'payload' })),\n"
    "      get: await attempt(() => fetch('http://127.0.0.1:1/closed')),\n"
    "      req: await attempt(() => fetch(new Request('http://127.0.0.1:1/r',\n"
    "        { method: 'PUT', body: 'r' }))),\n"
    "      global: await attempt(() => globalThis.fetch('http://127.0.0.1:1/g')),\n"
    "    };\n"
    "  }\n"
    "  async probe() { return await attempt(() => fetch('http://127.0.0.1:1/closed')); }\n"
    "}\n";

static const char CHILD_FLOOD[] =
    "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
    "export default class extends WorkerEntrypoint {\n"
    "  async run() {\n"
    "    let ok = 0, err = '';\n"
    "    for (let i = 0; i < 10; i++) {\n"
    "      try { await fetch('http://127.0.0.1:1/f' + i); ok++; }\n"
    "      catch (e) { err = e.message; break; }\n"
    "    }\n"
    "    return { ok, err };\n"
    "  }\n"
    "}\n";

static const char CHILD_TYPES[] =
    "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
    "import lib from './lib.cjs';\n"
    "import note from './note.txt';\n"
    "import blob from './blob.bin';\n"
    "import conf from './conf.json';\n"
    "import { two } from './plain.js';\n"
    "import { three } from './esm2.js';\n"
    "export default class extends WorkerEntrypoint {\n"
    "  run() {\n"
    "    return { triple: lib.triple(2), note, conf, two, three,\n"
    "             blob: blob instanceof ArrayBuffer ? Array.from(new Uint8Array(blob)).join(',')\n"
    "                                               : 'not an ArrayBuffer' };\n"
    "  }\n"
    "}\n";

static const char CHILD_TOP_THROW[] =
    "throw new Error('top-level-boom-9921');\n"
    "export default {};\n";

static const char CHILD_SYNTAX[] = "export default class extends { run( }\n";

static const char CHILD_TS[] =
    "export default { run(): number { return 1; } };\n";
/* clang-format on */

/* ---- helpers --------------------------------------------------------------------------------- */

#define MAX_JSON 256
static json_t *jsons[MAX_JSON];
static size_t n_jsons;

static void loader_fini(void)
{
    for (size_t i = 0; i < n_jsons; i++)
        json_decref(jsons[i]);
    n_jsons = 0;
    e2e_teardown();
}

static json_t *keep_json(json_t *j)
{
    if (j && n_jsons < MAX_JSON)
        jsons[n_jsons++] = j;
    return j;
}

/* Writes tenant `name` with tenant.conf `conf` and the generic parent (parent.js with its
 * metadata) into dir. */
static void parent_tenant(const char *dir, const char *name, const char *conf)
{
    cr_assert_eq(e2e_tenant(dir, name, conf, "parent", PARENT_JS), 0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/%s/parent.metadata.json", dir, name), PARENT_META), 0,
                 "%s", e2e_errmsg());
}

/* A tenants dir with one parent tenant "a" on a.test (extra conf lines appended). */
static const char *one_parent(const char *extra_conf)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    parent_tenant(dir, "a", e2e_fmt("route = a.test parent\n%s", extra_conf ? extra_conf : ""));
    return dir;
}

/* Percent-encodes s for a query value. Returns borrowed (e2e_fmt). */
static const char *urlenc(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    cr_assert_not_null(out);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            out[o++] = (char)c;
        else
            o += (size_t)sprintf(out + o, "%%%02X", c);
    }
    out[o] = '\0';
    const char *r = e2e_fmt("%s", out);
    free(out);
    return r;
}

/* One request; asserts the status and that the body is JSON. Returns the document (released
 * at the suite's fini). */
static json_t *request_json(struct e2e_server *s, const char *method, const char *host,
                            const char *path, const char *body, int want_status)
{
    struct e2e_response r;
    int rc = e2e_request(s->port, method, host, path, NULL, body, &r);
    cr_assert_eq(rc, 0, "%s http://%s%s: %s", method, host, path, e2e_errmsg());
    cr_assert_eq(r.status, want_status, "%s http://%s%s: status %d, expected %d; body: %.600s",
                 method, host, path, r.status, want_status, r.body);
    json_error_t je;
    json_t *j = json_loads(r.body, JSON_DECODE_ANY, &je);
    cr_assert_not_null(j, "%s http://%s%s: body is not JSON (%s): %.600s", method, host, path,
                       je.text, r.body);
    e2e_response_dispose(&r);
    return keep_json(j);
}

/* POST /call?query with body (NULL: empty) on host; the parent always answers 200. */
static json_t *call_on(struct e2e_server *s, const char *host, const char *query, const char *body)
{
    return request_json(s, "POST", host, e2e_fmt("/call?%s", query), body ? body : "", 200);
}

static json_t *call(struct e2e_server *s, const char *query, const char *body)
{
    return call_on(s, "a.test", query, body);
}

/* The node at a dotted path ("result.n", "seen.0"), or NULL. */
static json_t *at(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *j = root;
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); j && part; part = strtok_r(NULL, ".", &save)) {
        if (json_is_array(j)) {
            char *end;
            long i = strtol(part, &end, 10);
            j = *end ? NULL : json_array_get(j, (size_t)i);
        } else {
            j = json_object_get(j, part);
        }
    }
    return j;
}

static const char *dump(json_t *j)
{
    if (!j)
        return "(absent)";
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    const char *r = e2e_fmt("%s", s ? s : "(unprintable)");
    free(s);
    return r;
}

/* Expects root.path to equal the JSON text `expected`. */
#define EXPECT_AT(root, path, expected)                                                        \
    do {                                                                                       \
        json_error_t e__je;                                                                    \
        json_t *e__want = json_loads((expected), JSON_DECODE_ANY, &e__je);                     \
        cr_assert_not_null(e__want, "bad expected JSON in the test: %s", (expected));          \
        json_t *e__got = at((root), (path));                                                   \
        cr_expect(e__got &&json_equal(e__got, e__want), "%s: expected %s, got %s (whole: %s)", \
                  (path), (expected), dump(e__got), dump(root));                               \
        json_decref(e__want);                                                                  \
    } while (0)

/* The string at path, or "" (with a failed expectation) when it is not a string. */
static const char *str_at(json_t *root, const char *path)
{
    json_t *j = at(root, path);
    cr_expect(json_is_string(j), "%s: expected a string, got %s (whole: %s)", path, dump(j),
              dump(root));
    return json_is_string(j) ? json_string_value(j) : "";
}

static long long int_at(json_t *root, const char *path)
{
    json_t *j = at(root, path);
    cr_expect(json_is_integer(j), "%s: expected an integer, got %s (whole: %s)", path, dump(j),
              dump(root));
    return json_is_integer(j) ? (long long)json_integer_value(j) : -1;
}

/* The parent's call succeeded; shows the child's error otherwise. */
#define EXPECT_OK(j)                                                                          \
    cr_expect(json_is_true(at((j), "ok")), "the call failed: stage %s, error %s (whole: %s)", \
              dump(at((j), "stage")), dump(at((j), "error")), dump(j))

/* The call failed and its error message contains needle (case-insensitively if icase). */
static void expect_error(json_t *j, const char *needle, bool icase, const char *what)
{
    cr_expect(json_is_false(at(j, "ok")), "%s: expected the call to fail, got %s", what, dump(j));
    const char *err = json_string_value(at(j, "error"));
    cr_expect(err && (icase ? strcasestr(err, needle) : strstr(err, needle)),
              "%s: error should contain \"%s\", got %s", what, needle, dump(at(j, "error")));
}

static const char *text_get(struct e2e_server *s, const char *host, const char *path,
                            int want_status)
{
    struct e2e_response r;
    E2E_GET(s->port, host, path, &r);
    cr_expect_eq(r.status, want_status, "GET http://%s%s: status %d, expected %d (body %.300s)",
                 host, path, r.status, want_status, r.body);
    const char *body = e2e_fmt("%s", r.body);
    e2e_response_dispose(&r);
    return body;
}

static void expect_ping(struct e2e_server *s, const char *host)
{
    cr_expect_str_eq(text_get(s, host, "/ping", 200), "pong y object",
                     "the parent on %s stopped serving", host);
}

/* ---- id caching, load() ---------------------------------------------------------------------- */

Test(loader_cache, same_id_same_child_new_id_new_child)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL), "--threads", "1");
    for (int i = 1; i <= 3; i++) {
        json_t *j = call(s, "id=alpha&src=counter", NULL);
        EXPECT_OK(j);
        cr_expect_eq(int_at(j, "result"), i, "call %d on id alpha: module state not kept", i);
        cr_expect_eq(int_at(j, "codeCalls"), 1, "getCode ran again for a live id (call %d)", i);
    }
    json_t *j = call(s, "id=beta&src=counter", NULL);
    EXPECT_OK(j);
    cr_expect_eq(int_at(j, "result"), 1, "a new id must get a new child");
    cr_expect_eq(int_at(j, "codeCalls"), 2);
    j = call(s, "id=alpha&src=counter", NULL);
    cr_expect_eq(int_at(j, "result"), 4, "id alpha lost its state after id beta was loaded");
    cr_expect_eq(int_at(j, "codeCalls"), 2);
    /* Several calls on one stub in one request reach the same child. */
    j = call(s, "id=gamma&src=counter&times=3", NULL);
    cr_expect_eq(int_at(j, "result"), 3);
    cr_expect_eq(int_at(j, "codeCalls"), 3);
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

/* Once the loader has been quiet for a moment it reduces idle children's memory
 * (iso_worker_reduce_memory): a reduced child is the same child, with its module state. */
Test(loader_cache, idle_children_keep_their_state_when_their_memory_is_reduced)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL), "--threads", "1");
    const char *ids[] = {"r1", "r2", "r3"};
    for (int round = 1; round <= 3; round++) {
        for (size_t k = 0; k < 3; k++) {
            char q[64];
            snprintf(q, sizeof q, "id=%s&src=counter", ids[k]);
            json_t *j = call(s, q, NULL);
            EXPECT_OK(j);
            cr_expect_eq(int_at(j, "result"), round, "child %s lost its state (round %d)", ids[k],
                         round);
        }
        usleep(300 * 1000); /* past the loader's quiet period: the three are reduced */
    }
    json_t *j = call(s, "id=r1&src=counter", NULL);
    cr_expect_eq(int_at(j, "codeCalls"), 3, "a reduced child was made again");
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

Test(loader_cache, load_is_fresh_every_time)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL), "--threads", "1");
    for (int i = 0; i < 3; i++) {
        json_t *j = call(s, "src=counter", NULL);
        EXPECT_OK(j);
        cr_expect_eq(int_at(j, "result"), 1, "load() #%d reused a child", i);
        cr_expect_eq(int_at(j, "codeCalls"), 0, "load() must not call any getCode");
    }
    /* One load() stub is one child: its calls share module state. */
    json_t *j = call(s, "src=counter&times=4", NULL);
    EXPECT_OK(j);
    cr_expect_eq(int_at(j, "result"), 4);
    /* load() children never answer a get() with an id. */
    j = call(s, "id=x&src=counter", NULL);
    cr_expect_eq(int_at(j, "result"), 1);
    cr_expect_eq(int_at(j, "codeCalls"), 1);
    E2E_STOP_OK(s);
}

/* ---- entrypoints, RPC, fetch, structured clone ----------------------------------------------- */

Test(loader_rpc, default_entrypoint_rpc_and_errors)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    json_t *j = call(s, e2e_fmt("m=add&args=%s", urlenc("[2,3]")), CHILD_RPC);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "5");
    j = call(s, e2e_fmt("m=add&args=%s", urlenc("[\"a\",\"b\"]")), CHILD_RPC);
    EXPECT_AT(j, "result", "\"ab\"");
    j = call(s, "m=boom", CHILD_RPC);
    expect_error(j, "child-rpc-boom-8812", false, "a child method that throws");
    cr_expect_str_eq(str_at(j, "error"), "child-rpc-boom-8812");
    j = call(s, "m=nosuchmethod", CHILD_RPC);
    cr_expect(json_is_false(at(j, "ok")), "calling a missing method succeeded: %s", dump(j));
    E2E_STOP_OK(s);
}

Test(loader_rpc, named_entrypoint_gets_props)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    const char *props = urlenc("{\"greeting\":\"Hi\"}");
    json_t *j = call(s, e2e_fmt("ep=Greeter&m=greet&props=%s&args=%s", props, urlenc("[\"Ann\"]")),
                     CHILD_RPC);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "\"Hi, Ann (1)\"");
    j = call(s,
             e2e_fmt("ep=Greeter&m=greet&props=%s&args=%s", urlenc("{\"greeting\":\"Hej\"}"),
                     urlenc("[\"Bo\"]")),
             CHILD_RPC);
    EXPECT_AT(j, "result", "\"Hej, Bo (1)\"");
    j = call(s, e2e_fmt("ep=Greeter&m=fetch&props=%s", props), CHILD_RPC);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "{\"status\":200,\"header\":null,\"text\":\"greeter Hi\"}");
    j = call(s, "ep=Nope&m=add&args=%5B1%2C2%5D", CHILD_RPC);
    expect_error(j, "Worker has no such entrypoint: Nope", false, "a missing entrypoint");
    cr_expect_str_eq(str_at(j, "error"), "Worker has no such entrypoint: Nope");
    E2E_STOP_OK(s);
}

Test(loader_rpc, fetch_reaches_the_child_fetch_handler)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    json_t *j = call(s, "m=fetch", CHILD_RPC);
    EXPECT_OK(j);
    EXPECT_AT(j, "result",
              "{\"status\":201,\"header\":\"yes\","
              "\"text\":\"child saw POST http://child.example/p?x=1 abc hello child\"}");
    j = call(s, "m=fetch", CHILD_FETCH_OBJECT);
    EXPECT_OK(j);
    EXPECT_AT(j, "result",
              "{\"status\":200,\"header\":\"obj\",\"text\":\"object child POST hello child\"}");
    E2E_STOP_OK(s);
}

Test(loader_rpc, arguments_and_results_are_structured_clones)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    json_t *j = call(s, "m=echo&args=clone", CHILD_RPC);
    EXPECT_OK(j);
    static const char want[] = "{\"date\":86400000,\"map\":1,\"set\":2,\"bytes\":\"1,2,3\","
                               "\"nested\":\"{\\\"a\\\":[1,\\\"two\\\",null]}\",\"undef\":true,"
                               "\"big\":\"12345678901234567890\"}";
    EXPECT_AT(j, "result.child", want); /* what the child received */
    EXPECT_AT(j, "result.back", want);  /* what came back to the parent */
    E2E_STOP_OK(s);
}

Test(loader_rpc, module_types)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    json_t *j = call(s, "mods=types", CHILD_TYPES);
    EXPECT_OK(j);
    EXPECT_AT(j, "result",
              "{\"triple\":6,\"note\":\"some text\",\"conf\":{\"k\":\"v\",\"n\":2},\"two\":2,"
              "\"three\":3,\"blob\":\"1,2,3\"}");
    E2E_STOP_OK(s);
}

Test(loader_rpc, child_console_goes_to_the_tenant_log)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    json_t *j = call(s, "id=logger",
                     "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
                     "export default class extends WorkerEntrypoint {\n"
                     "  run() { console.log('child-log-7731'); return 7; }\n"
                     "}\n");
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "7");
    const char *log = e2e_tenant_log(s, "a");
    cr_expect(e2e_wait_file_contains(log, "child-log-7731", 3000), "%s", e2e_errmsg());
    cr_expect(e2e_wait_file_contains(log, "child:logger", 3000),
              "the tenant log does not say which child wrote: %s", e2e_errmsg());
    E2E_STOP_OK(s);
    char *err = e2e_server_stderr(s);
    cr_expect_null(strstr(err, "child-log-7731"), "a child's console reached the operator log");
    free(err);
}

/* ---- env: copies and stubs into the parent --------------------------------------------------- */

Test(loader_env, functions_and_rpc_targets_call_back_into_the_parent)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    for (int round = 0; round < 2; round++) {
        /* round 0: load(); round 1: get() with an id */
        json_t *j = call(s, round ? "id=envchild&env=rich" : "env=rich", CHILD_ENV);
        EXPECT_OK(j);
        EXPECT_AT(j, "result.plain", "{\"a\":1,\"list\":[1,\"two\",null]}");
        EXPECT_AT(j, "result.num", "42");
        EXPECT_AT(j, "result.types", "\"function,function\"");
        EXPECT_AT(j, "result.add", "5");
        EXPECT_AT(j, "result.slowAdd", "9");
        EXPECT_AT(j, "result.mul", "42");
        EXPECT_AT(j, "result.inc", "[1,2]");
        EXPECT_AT(j, "result.record", "1");
        EXPECT_AT(j, "result.fail", "\"parent-says-no-3318\"");
        /* the calls ran in the parent: its own objects changed */
        EXPECT_AT(j, "seen", "[\"from child\"]");
        EXPECT_AT(j, "apiCount", "2");
        /* the plain value was copied: the child's write did not reach the parent's object */
        EXPECT_AT(j, "plainA", "1");
    }
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

/* ---- globalOutbound -------------------------------------------------------------------------- */

Test(loader_outbound, null_blocks_every_fetch_with_the_exact_message)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    json_t *j = call(s, "out=null", CHILD_OUTBOUND);
    EXPECT_OK(j);
    const char *want = e2e_fmt("\"error:%s\"", NULL_OUTBOUND_MSG);
    EXPECT_AT(j, "result.post", want);
    EXPECT_AT(j, "result.get", want);
    EXPECT_AT(j, "result.req", want);
    EXPECT_AT(j, "result.global", want);
    EXPECT_AT(j, "seen", "[]");
    E2E_STOP_OK(s);
}

static void expect_via_parent(json_t *j)
{
    EXPECT_OK(j);
    EXPECT_AT(j, "result.post", "\"status:203:via parent:p\"");
    EXPECT_AT(j, "result.get", "\"status:203:via parent:p\"");
    EXPECT_AT(j, "result.req", "\"status:203:via parent:p\"");
    EXPECT_AT(j, "result.global", "\"status:203:via parent:p\"");
    EXPECT_AT(j, "seen",
              "[\"POST http://127.0.0.1:1/x 7 payload\", \"GET http://127.0.0.1:1/closed null \","
              " \"PUT http://127.0.0.1:1/r null r\", \"GET http://127.0.0.1:1/g null \"]");
}

Test(loader_outbound, rpc_target_receives_every_fetch)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    expect_via_parent(call(s, "out=stub", CHILD_OUTBOUND));
    expect_via_parent(call(s, "id=out1&out=stub", CHILD_OUTBOUND));
    E2E_STOP_OK(s);
}

Test(loader_outbound, object_with_fetch_receives_every_fetch)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    expect_via_parent(call(s, "out=object", CHILD_OUTBOUND));
    E2E_STOP_OK(s);
}

Test(loader_outbound, omitted_inherits_the_parents_fetch)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    /* 127.0.0.1:1 is closed: whatever the parent's own fetch() does with it, the child's does
     * the same, and it is not the globalOutbound: null refusal. */
    json_t *j = call(s, "m=probe&pfetch=1", CHILD_OUTBOUND);
    EXPECT_OK(j);
    const char *child = str_at(j, "result"), *parent = str_at(j, "parentFetch");
    cr_expect_str_eq(child, parent, "child fetch (%s) differs from the parent's (%s)", child,
                     parent);
    cr_expect_null(strstr(child, "not permitted to access the internet"),
                   "an omitted globalOutbound must not block fetch: %s", child);
    EXPECT_AT(j, "seen", "[]");
    E2E_STOP_OK(s);
}

/* ---- error messages -------------------------------------------------------------------------- */

Test(loader_errors, get_code_that_throws_or_rejects_fails_the_first_call)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL), "--threads", "1");
    json_t *j = call(s, "id=bad1&src=counter&getcode=throw", NULL);
    expect_error(j, "getcode-sync-1207", false, "getCode throwing");
    EXPECT_AT(j, "stage", "\"call\""); /* get() itself returned a stub */
    j = call(s, "id=bad2&src=counter&getcode=reject", NULL);
    expect_error(j, "getcode-async-1208", false, "getCode rejecting");
    EXPECT_AT(j, "stage", "\"call\"");
    /* A failed getCode leaves no child behind: the next get() asks again. */
    j = call(s, "id=bad1&src=counter", NULL);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "1");
    EXPECT_AT(j, "codeCalls", "3");
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

Test(loader_errors, child_start_up_failures)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    json_t *j = call(s, "", CHILD_TOP_THROW);
    expect_error(j, "top-level-boom-9921", false, "a child whose top level throws");
    j = call(s, "id=topthrow", CHILD_TOP_THROW);
    expect_error(j, "top-level-boom-9921", false, "a child (by id) whose top level throws");
    j = call(s, "", CHILD_SYNTAX);
    cr_expect(json_is_false(at(j, "ok")), "a child with a syntax error ran: %s", dump(j));
    cr_expect(json_string_length(at(j, "error")) > 0, "no message for a syntax error: %s", dump(j));
    cr_log_info("syntax error in a child reads: %s", dump(at(j, "error")));
    /* an empty main module has no entrypoint to call */
    j = call(s, "", NULL);
    cr_expect(json_is_false(at(j, "ok")), "an empty child answered run(): %s", dump(j));
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

Test(loader_errors, typescript_and_jsx_are_refused_with_a_hint_to_bundle)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    static const char *const names[] = {"m.ts", "m.tsx", "m.jsx"};
    for (size_t i = 0; i < 3; i++) {
        json_t *j = call(s, e2e_fmt("main=%s", names[i]), CHILD_TS);
        expect_error(j, "bundle", true, names[i]);
    }
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

/* ---- limits on hostile children -------------------------------------------------------------- */

/* A child killed for CPU: the call fails naming the CPU limit, fast; the same id then gets a
 * fresh child (getCode runs again, module state restarts); the parent keeps serving. */
static void cpu_kill_round(struct e2e_server *s, const char *limits, int round)
{
    const char *id = e2e_fmt("spin%d", round);
    json_t *j = call(s, e2e_fmt("id=%s&src=loop&m=ping%s", id, limits), NULL);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "1");
    long long calls0 = int_at(j, "codeCalls");
    uint64_t t0 = e2e_now_ms();
    j = call(s, e2e_fmt("id=%s&src=loop%s", id, limits), NULL);
    uint64_t took = e2e_now_ms() - t0;
    expect_error(j, "CPU", true, e2e_fmt("while(true) with %s", limits));
    cr_expect_leq(took, 2000, "while(true){} in a child ran %llu ms (%s)", (unsigned long long)took,
                  limits);
    expect_ping(s, "a.test");
    j = call(s, e2e_fmt("id=%s&src=loop&m=ping%s", id, limits), NULL);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "1"); /* not 3: the killed child was not reused */
    cr_expect_eq(int_at(j, "codeCalls"), calls0 + 1,
                 "getCode did not run again after the child was killed (%s)", limits);
}

Test(loader_limits, endless_loop_in_a_child_is_killed_for_cpu)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "a", "cpu_ms = 5000\nroute = a.test parent\n");
    parent_tenant(dir, "t", "cpu_ms = 100\nroute = t.test parent\n");
    cr_assert_eq(e2e_tenant(dir, "other", "route = other.test main\n", "main", HEALTHY_JS), 0);
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "1");
    cpu_kill_round(s, "&cpu=50", 0);              /* the code's limits.cpuMs */
    cpu_kill_round(s, "&epcpu=50", 1);            /* getEntrypoint's limits.cpuMs */
    cpu_kill_round(s, "&cpu=100000&epcpu=50", 2); /* the lower wins */
    cr_expect_str_eq(text_get(s, "other.test", "/x", 200), "healthy:/x");

    /* The tenant's cpu_ms caps a child whose code asks for more. */
    uint64_t t0 = e2e_now_ms();
    json_t *j = call_on(s, "t.test", "src=loop&cpu=100000", NULL);
    uint64_t took = e2e_now_ms() - t0;
    expect_error(j, "CPU", true, "while(true) under tenant cpu_ms = 100");
    cr_expect_leq(took, 2000, "the tenant's cpu_ms did not cap the child: %llu ms",
                  (unsigned long long)took);
    expect_ping(s, "t.test");
    cr_expect_str_eq(text_get(s, "other.test", "/y", 200), "healthy:/y");
    E2E_STOP_OK(s);
}

Test(loader_limits, memory_bomb_in_a_child_is_killed_for_heap)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "a", "heap_mb = 64\ncpu_ms = 5000\nroute = a.test parent\n");
    cr_assert_eq(e2e_tenant(dir, "other", "route = other.test main\n", "main", HEALTHY_JS), 0);
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "1");
    for (int round = 0; round < 2; round++) {
        /* round 1 finds the fresh child round 0 ended with, which has answered once */
        json_t *j = call(s, "id=bomb&src=bomb&m=ping", NULL);
        EXPECT_OK(j);
        EXPECT_AT(j, "result", round ? "2" : "1");
        long long calls0 = int_at(j, "codeCalls");
        uint64_t t0 = e2e_now_ms();
        j = call(s, "id=bomb&src=bomb", NULL);
        uint64_t took = e2e_now_ms() - t0;
        cr_assert(e2e_server_alive(s), "a child's memory bomb took the server down");
        cr_expect(json_is_false(at(j, "ok")), "the memory bomb survived: %s", dump(j));
        const char *err = json_string_value(at(j, "error"));
        cr_expect(err && (strcasestr(err, "memory") || strcasestr(err, "heap")),
                  "the error does not name the heap/memory limit: %s", dump(at(j, "error")));
        cr_expect_leq(took, 10000, "the memory bomb took %llu ms", (unsigned long long)took);
        expect_ping(s, "a.test");
        cr_expect_str_eq(text_get(s, "other.test", "/m", 200), "healthy:/m");
        j = call(s, "id=bomb&src=bomb&m=ping", NULL);
        EXPECT_AT(j, "result", "1");
        cr_expect_eq(int_at(j, "codeCalls"), calls0 + 1,
                     "the child killed for its heap was reused (round %d)", round);
    }
    E2E_STOP_OK(s);
}

Test(loader_limits, fetch_flood_stops_at_sub_requests)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent(NULL));
    json_t *j = call(s, "out=stub&subreq=5", CHILD_FLOOD);
    EXPECT_OK(j);
    EXPECT_AT(j, "result.ok", "5");
    const char *err = str_at(j, "result.err");
    cr_expect(strcasestr(err, "subrequest") || strcasestr(err, "sub-request") ||
                  strcasestr(err, "subRequests"),
              "the 6th fetch should fail naming the subrequest limit, got \"%s\"", err);
    cr_expect_eq(json_array_size(at(j, "seen")), 5, "the parent's outbound saw %s",
                 dump(at(j, "seen")));
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

enum { HEALTHY, LOOP, BOMB };

Test(loader_limits, hostile_children_do_not_hurt_a_healthy_tenant, .timeout = 120)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "evil", "heap_mb = 64\ncpu_ms = 2000\nroute = evil.test parent\n");
    cr_assert_eq(e2e_tenant(dir, "healthy", "route = healthy.test main\n", "main", HEALTHY_JS), 0);
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "2");

    enum { N_HEALTHY = 200, N_HOSTILE = 20, N = N_HEALTHY + 2 * N_HOSTILE };
    static struct e2e_job jobs[N];
    size_t n = 0;
    for (int i = 0; i < N_HEALTHY; i++)
        jobs[n++] =
            (struct e2e_job){.host = "healthy.test", .path = e2e_fmt("/h/%d", i), .tag = HEALTHY};
    for (int i = 0; i < N_HOSTILE; i++) {
        jobs[n++] = (struct e2e_job){
            .host = "evil.test", .path = e2e_fmt("/call?src=loop&cpu=50&n=%d", i), .tag = LOOP};
        jobs[n++] = (struct e2e_job){
            .host = "evil.test", .path = e2e_fmt("/call?src=bomb&n=%d", i), .tag = BOMB};
    }
    uint32_t seed = 4242;
    for (size_t i = n - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 8) % (i + 1);
        struct e2e_job tmp = jobs[i];
        jobs[i] = jobs[k];
        jobs[k] = tmp;
    }
    uint64_t t0 = e2e_now_ms();
    cr_assert_eq(e2e_run_jobs(s->port, jobs, n, 8, 30000), 0, "%s", e2e_errmsg());
    uint64_t took = e2e_now_ms() - t0;

    int bad[3] = {0};
    char first[3][400] = {{0}};
    uint64_t healthy_max_ms = 0;
    for (size_t i = 0; i < n; i++) {
        const struct e2e_job *jb = &jobs[i];
        bool ok = false;
        if (jb->tag == HEALTHY) {
            ok = jb->status == 200 && jb->body &&
                 strcmp(jb->body, e2e_fmt("healthy:%s", jb->path)) == 0;
            if (jb->wall_ms > healthy_max_ms)
                healthy_max_ms = jb->wall_ms;
        } else if (jb->status == 200 && jb->body) {
            json_t *j = keep_json(json_loads(jb->body, 0, NULL));
            const char *err = j ? json_string_value(at(j, "error")) : NULL;
            ok = j && json_is_false(at(j, "ok")) && err &&
                 (jb->tag == LOOP ? strcasestr(err, "CPU") != NULL
                                  : strcasestr(err, "memory") || strcasestr(err, "heap"));
        }
        if (!ok && bad[jb->tag]++ == 0)
            snprintf(first[jb->tag], sizeof first[jb->tag], "%s%s -> %d %.200s %s", jb->host,
                     jb->path, jb->status, jb->body ? jb->body : "", jb->status < 0 ? jb->err : "");
    }
    cr_expect_eq(bad[HEALTHY], 0, "%d of %d healthy requests failed; first: %s", bad[HEALTHY],
                 N_HEALTHY, first[HEALTHY]);
    cr_expect_eq(bad[LOOP], 0, "%d looping children not reported as a CPU kill; first: %s",
                 bad[LOOP], first[LOOP]);
    cr_expect_eq(bad[BOMB], 0, "%d memory bombs not reported as a heap kill; first: %s", bad[BOMB],
                 first[BOMB]);
    cr_log_info("hostile children: %zu requests in %llu ms, slowest healthy %llu ms", n,
                (unsigned long long)took, (unsigned long long)healthy_max_ms);
    e2e_jobs_dispose(jobs, n);
    cr_assert(e2e_server_alive(s), "server died under hostile children: %s", e2e_errmsg());
    cr_expect_str_eq(text_get(s, "healthy.test", "/after", 200), "healthy:/after");
    expect_ping(s, "evil.test");
    json_t *j = call_on(s, "evil.test", "src=counter", NULL);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "1");
    E2E_STOP_OK(s);
}

/* ---- size limits ----------------------------------------------------------------------------- */

/* True if msg contains the decimal number v, or v written in MiB ("1 MiB", "1.5MiB", ...). */
static bool names_size(const char *msg, unsigned long long v, const char *mib)
{
    char dec[32];
    snprintf(dec, sizeof dec, "%llu", v);
    return strstr(msg, dec) || (mib && strcasestr(msg, mib));
}

/* The first number in msg of at least min (digits only, e.g. 1572880). */
static unsigned long long number_at_least(const char *msg, unsigned long long min)
{
    for (const char *p = msg; *p; p++) {
        if (*p < '0' || *p > '9' || (p > msg && p[-1] >= '0' && p[-1] <= '9'))
            continue;
        unsigned long long v = strtoull(p, NULL, 10);
        if (v >= min)
            return v;
    }
    return 0;
}

Test(loader_sizes, env_over_one_mib_is_refused_with_the_sizes)
{
    struct e2e_server *s = E2E_START("--tenants", one_parent("heap_mb = 256\ncpu_ms = 5000\n"));
    /* just under: a 1,000,000-character string serializes to a little over 1,000,000 bytes */
    json_t *j = call(s, "src=envlen&env=big&size=1000000", NULL);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "1000000");
    j = call(s, "src=envlen&env=big&size=1572864", NULL);
    cr_expect(json_is_false(at(j, "ok")), "a 1.5 MiB env was accepted: %s", dump(j));
    const char *err = json_string_value(at(j, "error"));
    err = err ? err : "";
    cr_expect(names_size(err, 1048576, "1 MiB") || strcasestr(err, "1MiB"),
              "the env error does not name the 1 MiB limit: %s", err);
    unsigned long long actual = number_at_least(err, 1048577);
    cr_expect((actual >= 1572864 && actual < 1572864 + 256) || strcasestr(err, "1.5 MiB") ||
                  strcasestr(err, "1.5MiB"),
              "the env error does not name the env's size (about 1572870 bytes): %s", err);
    j = call(s, "id=bigenv&src=envlen&env=big&size=1572864", NULL);
    cr_expect(json_is_false(at(j, "ok")), "a 1.5 MiB env was accepted through get(): %s", dump(j));
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

Test(loader_sizes, code_over_64_mib_is_refused_with_the_sizes, .timeout = 120)
{
    struct e2e_server *s =
        E2E_START("--tenants", one_parent("heap_mb = 512\ncpu_ms = 20000\n"), "--threads", "1");
    json_t *j = call(s, "src=padlen&pad=1048576", NULL);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "1048576");
    j = call(s, e2e_fmt("src=padlen&pad=%d", (64 << 20) + 1), NULL);
    cr_expect(json_is_false(at(j, "ok")), "a 64 MiB + 1 byte bundle was accepted: %s",
              dump(at(j, "result")));
    const char *err = json_string_value(at(j, "error"));
    err = err ? err : "";
    cr_expect(names_size(err, 67108864ull, "64 MiB") || strcasestr(err, "64MiB"),
              "the code-size error does not name the 64 MiB limit: %s", err);
    cr_expect(number_at_least(err, 67108865ull) != 0 || strcasestr(err, "MiB"),
              "the code-size error does not name the bundle's size: %s", err);
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

/* ---- eviction -------------------------------------------------------------------------------- */

/* Calls the counter child `id`; expects its answer and the parent's getCode count. */
static void counter_call(struct e2e_server *s, const char *host, const char *id, int want,
                         int want_code_calls)
{
    json_t *j = call_on(s, host, e2e_fmt("id=%s&src=counter", id), NULL);
    EXPECT_OK(j);
    cr_expect_eq(int_at(j, "result"), want, "%s id %s: counter %lld, expected %d", host, id,
                 int_at(j, "result"), want);
    cr_expect_eq(int_at(j, "codeCalls"), want_code_calls,
                 "%s id %s: getCode ran %lld times in all, expected %d", host, id,
                 int_at(j, "codeCalls"), want_code_calls);
}

Test(loader_eviction, least_recently_used_child_goes_under_max_children)
{
    struct e2e_server *s =
        E2E_START("--tenants", one_parent("max_children = 3\ncpu_ms = 1000\n"), "--threads", "1");
    counter_call(s, "a.test", "e1", 1, 1);
    counter_call(s, "a.test", "e2", 1, 2);
    counter_call(s, "a.test", "e3", 1, 3);
    counter_call(s, "a.test", "e1", 2, 3); /* e1 is now the most recently used */
    counter_call(s, "a.test", "e4", 1, 4); /* evicts e2, the least recently used */
    counter_call(s, "a.test", "e1", 3, 4);
    counter_call(s, "a.test", "e3", 2, 4);
    counter_call(s, "a.test", "e2", 1, 5); /* reloaded; evicts e4 */
    counter_call(s, "a.test", "e4", 1, 6); /* reloaded; evicts e1 */
    counter_call(s, "a.test", "e3", 3, 6);
    /* Churn through many ids: never more than 3 live, so the first ones come back fresh. */
    int calls = 6;
    for (int i = 0; i < 20; i++)
        counter_call(s, "a.test", e2e_fmt("churn%d", i), 1, ++calls);
    counter_call(s, "a.test", "e3", 1, ++calls);
    counter_call(s, "a.test", "churn19", 2, calls);
    expect_ping(s, "a.test");
    E2E_STOP_OK(s);
}

Test(loader_eviction, a_busy_child_is_never_evicted_from_under_its_call)
{
    struct e2e_server *s =
        E2E_START("--tenants", one_parent("max_children = 2\n"), "--threads", "1");
    json_t *j = request_json(s, "GET", "a.test", "/inflight", NULL, 200);
    EXPECT_AT(j, "ok", "true");
    EXPECT_AT(j, "rc", "\"c:1\"");
    EXPECT_AT(j, "rb", "\"b:1\"");
    EXPECT_AT(j, "ra", "\"a:open:1\""); /* the in-flight call completed */
    EXPECT_AT(j, "ra2", "\"a:2\"");     /* and its child stayed live: the idle c went instead */
    EXPECT_AT(j, "loads", "3");
    EXPECT_AT(j, "reloadA", "0");
    EXPECT_AT(j, "reloadC", "1");
    EXPECT_AT(j, "rc2", "\"c:1\"");
    E2E_STOP_OK(s);
}

Test(loader_eviction, the_caps_are_the_tenants_across_its_parent_workers)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    /* cpu_ms: this tests caps, not CPU; a loaded CI machine must not fail it on time */
    parent_tenant(
        dir, "a",
        "route = a.test parent\nroute = b.test parent2\nmax_children = 2\ncpu_ms = 1000\n");
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/a/parent2.js", dir), PARENT_JS), 0, "%s", e2e_errmsg());
    char meta[sizeof PARENT_META + 8];
    snprintf(meta, sizeof meta, "{\"main_module\": \"parent2.js\"%s", strchr(PARENT_META, ','));
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/a/parent2.metadata.json", dir), meta), 0, "%s",
                 e2e_errmsg());
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "1");
    counter_call(s, "a.test", "e1", 1, 1);
    counter_call(s, "b.test", "f1", 1, 1);
    counter_call(s, "a.test", "e1", 2, 1); /* two live children: the tenant's cap */
    counter_call(s, "b.test", "f2", 1, 2); /* evicts f1, the tenant's least recently used */
    counter_call(s, "a.test", "e1", 3, 1);
    counter_call(s, "b.test", "f1", 1, 3); /* reloaded; evicts f2 */
    counter_call(s, "a.test", "e1", 4, 1);
    E2E_STOP_OK(s);
}

/* ---- tenant isolation ------------------------------------------------------------------------ */

Test(loader_isolation, the_same_id_in_two_tenants_is_two_children)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "a", "route = a.test parent\n");
    parent_tenant(dir, "b", "route = b.test parent\n");
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "1");
    counter_call(s, "a.test", "shared", 1, 1);
    counter_call(s, "a.test", "shared", 2, 1);
    counter_call(s, "b.test", "shared", 1, 1); /* b's own child, b's own getCode */
    counter_call(s, "a.test", "shared", 3, 1);
    counter_call(s, "b.test", "shared", 2, 1);
    E2E_STOP_OK(s);
}

/* A child of about 6 KB, like one bundling a small library: over the code cache's 4 KiB
 * threshold. Returns a static buffer. */
static const char *library_child(void)
{
    static char buf[16384];
    size_t at = (size_t)snprintf(buf, sizeof buf,
                                 "import { WorkerEntrypoint } from 'cloudflare:workers';\n");
    for (int i = 0; i < 80; i++)
        at += (size_t)snprintf(
            buf + at, sizeof buf - at,
            "function f%d(x) { const o = { k: x, n: %d }; return o.k * 3 + o.n; }\n", i, i);
    snprintf(buf + at, sizeof buf - at,
             "const TOP = f0(1) + f1(2);\n"
             "export default class extends WorkerEntrypoint {\n"
             "  run() { return TOP + f79(3); }\n"
             "}\n");
    return buf;
}

Test(loader_isolation, a_module_two_tenants_load_compiles_once)
{
    /* The code cache is process-wide: b's child (its own isolate, its own id) compiles from
     * the code cache a's child left, and so does b's parent (both tenants run the same
     * parent.js); the operator's log says so at exit. */
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "a", "route = a.test parent\n");
    parent_tenant(dir, "b", "route = b.test parent\n");
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "1");
    const char *child = library_child();
    json_t *j = call_on(s, "a.test", "id=lib-a", child);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "98");
    j = call_on(s, "b.test", "id=lib-b", child);
    EXPECT_OK(j);
    EXPECT_AT(j, "result", "98");
    E2E_STOP_OK(s);
    char *err = e2e_server_stderr(s);
    cr_expect(strstr(err, "event=code_cache hits=2 misses=2 rejected=0"),
              "the operator log should count a's parent and child as misses, b's as hits: %s", err);
    free(err);
}

/* ---- metadata -------------------------------------------------------------------------------- */

Test(loader_metadata, plain_text_and_loader_bindings_reach_env)
{
    /* The tenant's vars reach env wherever they stand in tenant.conf, next to the metadata's
     * plain_text bindings (the demo's tenant.conf declares its var after its route). */
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "a", "var = TV=tenant-var\nroute = a.test parent\nvar = LATE=late\n");
    struct e2e_server *s = E2E_START("--tenants", dir);
    json_t *j = request_json(s, "GET", "a.test", "/vars", NULL, 200);
    EXPECT_AT(j, "", "{\"X\":\"y\",\"TV\":\"tenant-var\",\"LATE\":\"late\",\"loader\":\"object\"}");
    E2E_STOP_OK(s);
}

/* edged must refuse to start: exit 2 and one line on stderr naming the metadata file. */
static void expect_bad_metadata(const char *what, const char *meta)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "a", "route = a.test parent\n");
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/a/parent.metadata.json", dir), meta), 0);
    const char *args[] = {"--listen",  "127.0.0.1:0", "--data", e2e_fmt("%s/data", dir),
                          "--tenants", dir,           NULL};
    char *out = NULL, *err = NULL;
    int code = e2e_run(args, 10000, &out, &err);
    cr_expect_eq(code, 2, "%s: exit %d, expected 2 (%s); stderr: %s", what, code, e2e_errmsg(),
                 err);
    size_t len = strlen(err);
    const char *nl = strchr(err, '\n');
    cr_expect(len > 1 && nl && nl == err + len - 1,
              "%s: stderr should be exactly one line, got: \"%s\"", what, err);
    cr_expect(strstr(err, "parent.metadata.json"), "%s: the error does not name the file: %s", what,
              err);
    free(out);
    free(err);
}

Test(loader_metadata, unknown_binding_type_exits_2)
{
    expect_bad_metadata("unknown binding type",
                        "{\"main_module\": \"parent.js\", \"bindings\": [{\"type\": "
                        "\"kv_namespace\", \"name\": \"KV\", \"namespace_id\": \"x\"}]}\n");
}

Test(loader_metadata, bad_json_exits_2)
{
    expect_bad_metadata("bad JSON", "{\"main_module\": \"parent.js\", \"bindings\": [\n");
}

/* ---- billing --------------------------------------------------------------------------------- */

/* Reads (tenant, today) after the server stopped; skips the test if the UTC day turned. */
static struct e2e_usage usage_of(struct e2e_server *s, const char *tenant, const char *day)
{
    if (strcmp(day, e2e_utc_day()) != 0)
        cr_skip_test("the UTC day changed during the test");
    struct e2e_usage u;
    cr_assert_eq(e2e_usage_read(s->data_dir, tenant, day, &u), 0, "%s", e2e_errmsg());
    cr_log_info("usage %s %s: requests %lld cpu_us %lld subrequests %lld children_loaded %lld "
                "child_invocations %lld child_cpu_us %lld",
                tenant, day, (long long)u.requests, (long long)u.cpu_us, (long long)u.subrequests,
                (long long)u.children_loaded, (long long)u.child_invocations,
                (long long)u.child_cpu_us);
    return u;
}

/* Calls id (NULL: load()) with src `times` times in one request; checks result and getCode. */
static void bill_call(struct e2e_server *s, const char *id, const char *src, int times, int want,
                      int want_code_calls)
{
    const char *q = id ? e2e_fmt("id=%s&src=%s&times=%d", id, src, times)
                       : e2e_fmt("src=%s&times=%d", src, times);
    json_t *j = call_on(s, "bill.test", q, NULL);
    EXPECT_OK(j);
    cr_expect_eq(int_at(j, "result"), want, "%s: counter %lld, expected %d", q, int_at(j, "result"),
                 want);
    cr_expect_eq(int_at(j, "codeCalls"), want_code_calls, "%s: getCode ran %lld times, expected %d",
                 q, int_at(j, "codeCalls"), want_code_calls);
}

Test(loader_billing, children_loaded_counts_unique_code_per_day)
{
    const char *day = e2e_utc_day();
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "bill", "max_children = 1\nroute = bill.test parent\n");
    cr_assert_eq(e2e_tenant(dir, "other", "route = other.test main\n", "main", HEALTHY_JS), 0);
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "1");
    /* requests  children_loaded  child_invocations */
    bill_call(s, "a", "counter", 1, 1, 1);    /* 1  1 (a,v1)   1 */
    bill_call(s, "a", "counter", 1, 2, 1);    /* 2  1          2 */
    bill_call(s, "a", "counter", 1, 3, 1);    /* 3  1          3 */
    bill_call(s, "b", "counter", 1, 1, 2);    /* 4  2 (b,v1)   4  evicts a */
    bill_call(s, "a", "counter", 1, 1, 3);    /* 5  2 (seen)   5  a reloaded, evicts b */
    bill_call(s, "a", "counter2", 1, 2, 3);   /* 6  2          6  a live: getCode not called */
    bill_call(s, "b", "counter", 1, 1, 4);    /* 7  2 (seen)   7  evicts a */
    bill_call(s, "a", "counter2", 1, 101, 5); /* 8 3 (a,v2)  8  changed code, same id */
    bill_call(s, NULL, "counter", 3, 3, 5);   /* 9  4 (load)  11 */
    bill_call(s, NULL, "counter", 3, 3, 5);   /* 10 5 (load)  14 */
    cr_expect_str_eq(text_get(s, "other.test", "/1", 200), "healthy:/1");
    cr_expect_str_eq(text_get(s, "other.test", "/2", 200), "healthy:/2");
    E2E_STOP_OK(s);

    struct e2e_usage u = usage_of(s, "bill", day);
    cr_expect(u.found, "no usage row for tenant bill on %s", day);
    cr_expect_eq(u.requests, 10, "requests %lld, expected 10", (long long)u.requests);
    cr_expect_eq(u.children_loaded, 5, "children_loaded %lld, expected 5",
                 (long long)u.children_loaded);
    cr_expect_eq(u.child_invocations, 14, "child_invocations %lld, expected 14",
                 (long long)u.child_invocations);
    cr_expect_gt(u.child_cpu_us, 0, "child_cpu_us is 0");
    cr_expect_gt(u.cpu_us, 0, "cpu_us is 0");
    /* storage.h: subrequests = outbound fetches and child invocations made by the parent */
    cr_expect_eq(u.subrequests, 14, "subrequests %lld, expected 14 (one per child invocation)",
                 (long long)u.subrequests);
    struct e2e_usage o = usage_of(s, "other", day);
    cr_expect_eq(o.requests, 2, "other: requests %lld, expected 2", (long long)o.requests);
    cr_expect_eq(o.children_loaded, 0);
    cr_expect_eq(o.child_invocations, 0);
    cr_expect_eq(o.child_cpu_us, 0);

    /* A restart keeps the counters and the set of children seen today. */
    const char *data = e2e_fmt("%s", s->data_dir);
    struct e2e_server *s2 = E2E_START("--tenants", dir, "--threads", "1", "--data", data);
    bill_call(s2, "a", "counter", 1, 1, 1); /* (a,v1) again: already counted today */
    bill_call(s2, "c", "counter", 1, 1, 2); /* (c,v1): new */
    E2E_STOP_OK(s2);
    u = usage_of(s2, "bill", day);
    cr_expect_eq(u.requests, 12, "after restart: requests %lld, expected 12",
                 (long long)u.requests);
    cr_expect_eq(u.children_loaded, 6, "after restart: children_loaded %lld, expected 6",
                 (long long)u.children_loaded);
    cr_expect_eq(u.child_invocations, 16, "after restart: child_invocations %lld, expected 16",
                 (long long)u.child_invocations);
}

/* GET path on the admin listener with an Authorization header (NULL: none); the JSON body. */
static json_t *admin_json(struct e2e_server *s, const char *path, const char *auth, int want)
{
    struct e2e_response r;
    const char *hdr = auth ? e2e_fmt("Authorization: %s\r\n", auth) : NULL;
    cr_assert_gt(s->admin_port, 0, "no admin port in the port file");
    int rc = e2e_request(s->admin_port, "GET", "127.0.0.1", path, hdr, NULL, &r);
    cr_assert_eq(rc, 0, "GET admin %s: %s", path, e2e_errmsg());
    cr_expect_eq(r.status, want, "GET admin %s (%s): status %d, expected %d: %.300s", path,
                 auth ? auth : "no token", r.status, want, r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_assert_not_null(j, "admin %s: body is not JSON: %.300s", path, r.body);
    e2e_response_dispose(&r);
    return keep_json(j);
}

Test(loader_billing, a_tenant_reads_its_own_usage_with_its_token)
{
    /* `printf %s alpha-secret | sha256sum`: the node stores only the hashes of tokens. */
    static const char ALPHA_SHA[] =
        "3f8ad42d6dc52445378196cb2e49281f812253eaea7830fe46f4756f2ca0a3d4";
    static const char BETA_SHA[] =
        "d40ab4efae8afe82f0fda0f0fc785ff61bec7b5f329c6070c453594397e03568";
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "alpha",
                  e2e_fmt("route = alpha.test parent\ntoken_sha256 = %s\n", ALPHA_SHA));
    parent_tenant(dir, "beta", e2e_fmt("route = beta.test parent\ntoken_sha256 = %s\n", BETA_SHA));
    struct e2e_server *s =
        E2E_START("--tenants", dir, "--threads", "1", "--admin-listen", "127.0.0.1:0");
    EXPECT_OK(call_on(s, "alpha.test", "id=x&src=counter", NULL));
    EXPECT_OK(call_on(s, "beta.test", "id=y&src=counter", NULL));

    json_t *j = admin_json(s, "/v1/usage", "Bearer alpha-secret", 200);
    cr_expect_not_null(json_object_get(json_object_get(j, "tenants"), "alpha"), "%s", dump(j));
    cr_expect_null(json_object_get(json_object_get(j, "tenants"), "beta"), "%s", dump(j));
    cr_expect_eq(json_object_size(json_object_get(j, "tenants")), 1, "%s", dump(j));
    j = admin_json(s, "/v1/usage?tenant=alpha", "Bearer alpha-secret", 200);
    cr_expect_not_null(json_object_get(json_object_get(j, "tenants"), "alpha"), "%s", dump(j));
    j = admin_json(s, "/v1/usage?tenant=beta", "Bearer alpha-secret", 403);
    cr_expect(strstr(json_string_value(json_object_get(j, "error")), "own usage"), "%s", dump(j));
    j = admin_json(s, "/v1/usage", "Bearer beta-secret", 200);
    cr_expect_not_null(json_object_get(json_object_get(j, "tenants"), "beta"), "%s", dump(j));
    cr_expect_null(json_object_get(json_object_get(j, "tenants"), "alpha"), "%s", dump(j));
    admin_json(s, "/v1/usage", "Bearer gamma-secret", 401);
    admin_json(s, "/v1/usage", "Basic YWxwaGE6c2VjcmV0", 401);
    admin_json(s, "/v1/usage", e2e_fmt("Bearer %s", ALPHA_SHA), 401); /* the hash is no token */
    /* no token is no one; the operator's token (DATA/operator.token) sees any tenant */
    admin_json(s, "/v1/usage", NULL, 401);
    char *op = e2e_read_file(e2e_fmt("%s/operator.token", s->data_dir), NULL);
    cr_assert_not_null(op, "%s", e2e_errmsg());
    op[strcspn(op, "\n")] = '\0';
    const char *bearer_op = e2e_fmt("Bearer %s", op);
    free(op);
    j = admin_json(s, "/v1/usage?tenant=beta", bearer_op, 200);
    cr_expect_not_null(json_object_get(json_object_get(j, "tenants"), "beta"), "%s", dump(j));
    admin_json(s, "/v1/usage?day=yesterday", bearer_op, 400);
    admin_json(s, "/v1/nothing", bearer_op, 404);
    E2E_STOP_OK(s);
}

Test(loader_billing, one_id_on_every_shard_counts_once)
{
    const char *day = e2e_utc_day();
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    parent_tenant(dir, "bill", "route = bill.test parent\n");
    struct e2e_server *s = E2E_START("--tenants", dir, "--threads", "2");
    enum { N = 16 };
    int ones = 0;
    for (int i = 0; i < N; i++) {
        json_t *j = call_on(s, "bill.test", "id=same&src=counter", NULL);
        EXPECT_OK(j);
        ones += int_at(j, "result") == 1;
    }
    cr_log_info("%d of %d calls created a child (one per shard that served one)", ones, N);
    cr_expect(ones >= 1 && ones <= 2, "%d children for one id on 2 shards", ones);
    /* The node flushes every 200 ms: the counters reach the disk while it runs. */
    struct e2e_usage live = {0};
    uint64_t deadline = e2e_now_ms() + 3000;
    for (int i = 0; i < 300 && e2e_now_ms() < deadline; i++) {
        if (e2e_usage_read(s->data_dir, "bill", day, &live) == 0 && live.requests == N &&
            live.child_invocations == N)
            break;
        e2e_sleep_ms(20);
    }
    cr_expect(live.requests == N && live.child_invocations == N,
              "3 s after the last request the database holds requests %lld, child_invocations "
              "%lld (expected %d each): no periodic flush?",
              (long long)live.requests, (long long)live.child_invocations, N);
    E2E_STOP_OK(s);
    struct e2e_usage u = usage_of(s, "bill", day);
    cr_expect_eq(u.requests, N, "requests %lld, expected %d", (long long)u.requests, N);
    cr_expect_eq(u.children_loaded, 1, "children_loaded %lld, expected 1 for one id + code",
                 (long long)u.children_loaded);
    cr_expect_eq(u.child_invocations, N, "child_invocations %lld, expected %d",
                 (long long)u.child_invocations, N);
}

/* ---- the demo: POST /run --------------------------------------------------------------------- */

static struct e2e_server *start_demo(void)
{
    const char *src = getenv("EDGED_SOURCE_DIR");
    if (!src || !*src)
        src = EDGED_SOURCE_DIR;
    return E2E_START("--tenants", e2e_fmt("%s/examples/tenants", src));
}

static const char *demo_agent(void)
{
    const char *src = getenv("EDGED_SOURCE_DIR");
    if (!src || !*src)
        src = EDGED_SOURCE_DIR;
    const char *path = e2e_fmt("%s/examples/agent.js", src);
    char *text = e2e_read_file(path, NULL);
    cr_assert_not_null(text, "%s", e2e_errmsg());
    const char *r = e2e_fmt("%s", text);
    free(text);
    return r;
}

Test(loader_demo, agent_js_runs_in_a_child_without_network)
{
    struct e2e_server *s = start_demo();
    json_t *j = request_json(s, "POST", "localhost", "/run", demo_agent(), 200);
    EXPECT_AT(j, "ok", "true");
    EXPECT_AT(j, "result.primes", "[2,3,5,7,11,13,17,19,23,29]");
    EXPECT_AT(j, "result.keys", "[\"primes\"]");
    EXPECT_AT(j, "result.fetch", e2e_fmt("\"%s\"", NULL_OUTBOUND_MSG));
    EXPECT_AT(j, "logs", "[\"found 10 primes\"]");
    /* every run is a fresh child with a fresh scratchpad */
    j = request_json(s, "POST", "localhost", "/run", demo_agent(), 200);
    EXPECT_AT(j, "result.keys", "[\"primes\"]");
    EXPECT_AT(j, "logs", "[\"found 10 primes\"]");
    struct e2e_response r;
    E2E_GET(s->port, "localhost", "/", &r);
    E2E_EXPECT(&r, 200, "Hello from edged!\n");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(loader_demo, failing_agents_get_422)
{
    struct e2e_server *s = start_demo();
    json_t *j = request_json(s, "POST", "localhost", "/run",
                             "export default {\n"
                             "  async run(api) {\n"
                             "    await api.log('about to fail');\n"
                             "    throw new Error('agent failed 5521');\n"
                             "  },\n"
                             "};\n",
                             422);
    EXPECT_AT(j, "ok", "false");
    EXPECT_AT(j, "error", "\"agent failed 5521\"");
    EXPECT_AT(j, "logs", "[\"about to fail\"]");

    j = request_json(s, "POST", "localhost", "/run",
                     "export default { async run(api) { return (; } };\n", 422);
    EXPECT_AT(j, "ok", "false");
    cr_expect(json_string_length(at(j, "error")) > 0, "no message for a syntax error: %s", dump(j));

    j = request_json(s, "POST", "localhost", "/run", "export default { notRun: 1 };\n", 422);
    EXPECT_AT(j, "ok", "false");
    cr_expect(strstr(str_at(j, "error"), "must export default"), "%s", dump(j));

    /* An endless loop is cut by the demo tenant's cpu_ms and the demo keeps serving. */
    uint64_t t0 = e2e_now_ms();
    j = request_json(s, "POST", "localhost", "/run",
                     "export default { async run() { while (true) {} } };\n", 422);
    EXPECT_AT(j, "ok", "false");
    cr_expect(strcasestr(str_at(j, "error"), "CPU"), "%s", dump(j));
    cr_expect_leq(e2e_now_ms() - t0, 3000, "the looping agent ran %llu ms",
                  (unsigned long long)(e2e_now_ms() - t0));
    j = request_json(s, "POST", "localhost", "/run", demo_agent(), 200);
    EXPECT_AT(j, "ok", "true");
    E2E_STOP_OK(s);
}

/* ---- stubs anywhere in values, streamed bodies ----------------------------------------------- */

TestSuite(loader_stubs, .fini = loader_fini, .timeout = 60);
TestSuite(loader_streams, .fini = loader_fini, .timeout = 120);

/* clang-format off */
/* A parent whose routes each drive one child: stubs passed both ways and kept across requests,
 * and bodies streamed both ways. Children are backtick strings (no ${...} in them). */
static const char RPC_PARENT_JS[] =
    "import { RpcTarget } from 'cloudflare:workers';\n"
    E2E_JS_PATHOF
    "const W = `import { RpcTarget, WorkerEntrypoint } from 'cloudflare:workers';\n`;\n"
    "const CHILD = W + `\n"
    "let cancelReason = null, pulls = 0;\n"
    "class Counter extends RpcTarget {\n"
    "  constructor(n) { super(); this.n = n; }\n"
    "  next() { return ++this.n; }\n"
    "}\n"
    "function counted(total, chunk, spinAt) {\n"
    "  let sent = 0, i = 0;\n"
    "  return new ReadableStream({\n"
    "    pull(c) {\n"
    "      if (++pulls === spinAt) while (true) {}\n"
    "      if (sent >= total) { c.close(); return; }\n"
    "      const n = Math.min(chunk, total - sent);\n"
    "      c.enqueue(new Uint8Array(n).fill(97 + i++ % 26));\n"
    "      sent += n;\n"
    "    },\n"
    "    cancel(r) { cancelReason = String(r); },\n"
    "  }, { highWaterMark: 0 });\n"
    "}\n"
    "export default class extends WorkerEntrypoint {\n"
    "  async fetch(req) {\n"
    "    const p = req.url.slice(req.url.indexOf('/', 8)).split('/');\n"
    "    if (p[1] === 'big') return new Response(counted(Number(p[2]), 65536));\n"
    "    if (p[1] === 'spin') return new Response(counted(1 << 20, 4096, 3));\n"
    "    const isStream = req.body instanceof ReadableStream;\n"
    "    const reader = req.body.getReader();\n"
    "    let bytes = 0, chunks = 0;\n"
    "    for (;;) {\n"
    "      const { value, done } = await reader.read();\n"
    "      if (done) break;\n"
    "      bytes += value.length; chunks++;\n"
    "    }\n"
    "    return Response.json({ isStream, bytes, chunks });\n"
    "  }\n"
    "  async map(list, f) { const out = []; for (const x of list) out.push(await f(x)); return out; }\n"
    "  async ask() { return await this.env.greet((name) => 'hello ' + name); }\n"
    "  counter(n) { return new Counter(n); }\n"
    "  adder(k) { return (x) => x + k; }\n"
    "  cancelled() { return cancelReason; }\n"
    "  spin() { while (true) {} }\n"
    "}`;\n"
    "class Log extends RpcTarget {\n"
    "  constructor() { super(); this.lines = []; }\n"
    "  add(s) { this.lines.push(s); return this.lines.length; }\n"
    "}\n"
    "let saved = null;\n"
    "async function drain(stream) {\n"
    "  const reader = stream.getReader();\n"
    "  let bytes = 0, chunks = 0;\n"
    "  for (;;) {\n"
    "    const { value, done } = await reader.read();\n"
    "    if (done) return { bytes, chunks };\n"
    "    bytes += value.length; chunks++;\n"
    "  }\n"
    "}\n"
    "const msg = (e) => String(e && e.message !== undefined ? e.message : e);\n"
    "export default {\n"
    "  async fetch(request, env) {\n"
    "    const path = pathOf(request.url);\n"
    "    const child = (id, limits) => env.LOADER.get(id, () => ({\n"
    "      compatibilityDate: '2026-11-01', mainModule: 'c.js', modules: { 'c.js': CHILD },\n"
    "      env: { greet: async (f) => (await f('parent')) + '!' }, limits })).getEntrypoint();\n"
    "    try {\n"
    "      if (path === '/callbacks') {\n"
    "        const ep = child('cb');\n"
    "        const log = new Log();\n"
    "        const mapped = await ep.map([1, 2, 3], async (x) => { await log.add(x); return x * x; });\n"
    "        let total = 0;\n"
    "        for (let i = 0; i < 200; i++) total += (await ep.map([i], (x) => x)).length;\n"
    "        return Response.json({ mapped, logged: log.lines, ask: await ep.ask(), total });\n"
    "      }\n"
    "      if (path === '/keep') {\n"
    "        saved = await child('keep').counter(10);\n"
    "        const add5 = await child('keep').adder(5);\n"
    "        return Response.json([await saved.next(), await add5(1)]);\n"
    "      }\n"
    "      if (path === '/next') return Response.json(await saved.next());\n"
    "      if (path === '/gone') {\n"
    "        const t = await child('mortal', { cpuMs: 50 }).counter(1);\n"
    "        const before = await t.next();\n"
    "        let killed = '';\n"
    "        try { await child('mortal').spin(); } catch (e) { killed = msg(e); }\n"
    "        try { await t.next(); return Response.json('no error'); }\n"
    "        catch (e) { return Response.json([before, killed, msg(e)]); }\n"
    "      }\n"
    "      if (path === '/garbage') {\n"
    "        const out = [];\n"
    "        for (const id of ['g1', 'g2', 'g3', 'g4']) out.push(await (await child(id).counter(10)).next());\n"
    "        return Response.json(out);\n"
    "      }\n"
    "      if (path === '/churn') {\n"
    "        const out = [];\n"
    "        for (const id of ['c1', 'c2', 'c3']) out.push((await child(id).map([id], (x) => x))[0]);\n"
    "        return Response.json(out);\n"
    "      }\n"
    "      if (path === '/big') {\n"
    "        const r = await child('big').fetch('http://c/big/16777216');\n"
    "        return Response.json(await drain(r.body));\n"
    "      }\n"
    "      if (path === '/relay') return await child('relay').fetch('http://c/big/' + request.headers.get('x-n'));\n"
    "      if (path === '/cancel') {\n"
    "        const r = await child('cancel').fetch('http://c/big/16777216');\n"
    "        const reader = r.body.getReader();\n"
    "        const first = (await reader.read()).value.length;\n"
    "        await reader.cancel('client gave up');\n"
    "        return Response.json({ first, reason: await child('cancel').cancelled() });\n"
    "      }\n"
    "      if (path === '/killed') {\n"
    "        const r = await child('killed', { cpuMs: 50 }).fetch('http://c/spin');\n"
    "        const reader = r.body.getReader();\n"
    "        const out = [];\n"
    "        try {\n"
    "          for (let i = 0; i < 10; i++) out.push((await reader.read()).done ? 'end' : 'chunk');\n"
    "        } catch (e) { out.push('error: ' + msg(e)); }\n"
    "        return Response.json(out);\n"
    "      }\n"
    "      if (path === '/count') return await child('count').fetch(request);\n"
    "      return new Response('not found', { status: 404 });\n"
    "    } catch (e) {\n"
    "      return new Response('failed: ' + msg(e), { status: 500 });\n"
    "    }\n"
    "  }\n"
    "};\n";
/* clang-format on */

/* Tenant "r" on r.test running RPC_PARENT_JS (heap and CPU from conf). */
static struct e2e_server *start_rpc_parent(const char *conf)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    cr_assert_eq(
        e2e_tenant(dir, "r", e2e_fmt("route = r.test parent\n%s", conf), "parent", RPC_PARENT_JS),
        0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/r/parent.metadata.json", dir), PARENT_META), 0, "%s",
                 e2e_errmsg());
    return E2E_START("--tenants", dir, "--threads", "1");
}

Test(loader_stubs, callbacks_and_rpc_targets_cross_both_ways)
{
    struct e2e_server *s = start_rpc_parent("");
    json_t *j = request_json(s, "GET", "r.test", "/callbacks", NULL, 200);
    /* the child called the parent's callback, which called the parent's RpcTarget; the
     * child's own callback went to the parent's env function and was called back */
    EXPECT_AT(j, "",
              "{\"mapped\":[1,4,9],\"logged\":[1,2,3],\"ask\":\"hello parent!\","
              "\"total\":200}");
    E2E_STOP_OK(s);
}

Test(loader_stubs, a_returned_rpc_target_keeps_its_state_across_requests)
{
    struct e2e_server *s = start_rpc_parent("");
    json_t *j = request_json(s, "GET", "r.test", "/keep", NULL, 200);
    EXPECT_AT(j, "", "[11,6]");
    for (int i = 12; i <= 14; i++) {
        j = request_json(s, "GET", "r.test", "/next", NULL, 200);
        EXPECT_AT(j, "", e2e_fmt("%d", i));
    }
    E2E_STOP_OK(s);
}

Test(loader_stubs, a_child_the_parent_holds_stubs_into_is_never_evicted)
{
    /* Room for two children: the churn evicts its own idle children, never the one whose
     * RpcTarget the parent keeps. */
    struct e2e_server *s = start_rpc_parent("max_children = 2\n");
    json_t *j = request_json(s, "GET", "r.test", "/keep", NULL, 200);
    EXPECT_AT(j, "", "[11,6]");
    j = request_json(s, "GET", "r.test", "/churn", NULL, 200);
    EXPECT_AT(j, "", "[\"c1\",\"c2\",\"c3\"]");
    j = request_json(s, "GET", "r.test", "/next", NULL, 200);
    EXPECT_AT(j, "", "12");
    E2E_STOP_OK(s);
}

Test(loader_stubs, stubs_the_parent_dropped_do_not_keep_children_from_eviction)
{
    /* Each RpcTarget pins its child until the parent's GC finds the stub unreferenced: with
     * room for two, the third child needs that collection to happen first. */
    struct e2e_server *s = start_rpc_parent("max_children = 2\n");
    json_t *j = request_json(s, "GET", "r.test", "/garbage", NULL, 200);
    EXPECT_AT(j, "", "[11,11,11,11]");
    E2E_STOP_OK(s);
}

Test(loader_stubs, a_stub_into_a_child_a_limit_stopped_rejects)
{
    struct e2e_server *s = start_rpc_parent("cpu_ms = 2000\n");
    json_t *j = request_json(s, "GET", "r.test", "/gone", NULL, 200);
    EXPECT_AT(j, "",
              "[2,\"Worker exceeded CPU time limit\",\"The worker this RPC stub belongs to is "
              "gone (it was unloaded or stopped by a limit)\"]");
    E2E_STOP_OK(s);
}

Test(loader_streams, a_16_mib_response_streams_through_a_12_mib_parent)
{
    struct e2e_server *s = start_rpc_parent("heap_mb = 12\ncpu_ms = 2000\n");
    json_t *j = request_json(s, "GET", "r.test", "/big", NULL, 200);
    EXPECT_AT(j, "", "{\"bytes\":16777216,\"chunks\":256}");
    /* and again: nothing of the first was kept */
    j = request_json(s, "GET", "r.test", "/big", NULL, 200);
    EXPECT_AT(j, "", "{\"bytes\":16777216,\"chunks\":256}");
    E2E_STOP_OK(s);
}

Test(loader_streams, a_child_response_relayed_to_the_client)
{
    struct e2e_server *s = start_rpc_parent("heap_mb = 12\ncpu_ms = 2000\n");
    struct e2e_response r;
    int rc = e2e_request(s->port, "GET", "r.test", "/relay", "x-n: 8388608\r\n", NULL, &r);
    cr_assert_eq(rc, 0, "%s", e2e_errmsg());
    cr_assert_eq(r.status, 200, "%d %.300s", r.status, r.body);
    cr_expect(r.chunked, "a streamed body of unknown length goes out chunked");
    cr_assert_eq(r.body_len, 8u << 20);
    for (size_t i = 0; i < r.body_len; i += 65536)
        cr_assert_eq(r.body[i], 'a' + (char)((i / 65536) % 26), "chunk %zu", i / 65536);
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(loader_streams, the_parent_cancelling_cancels_the_childs_stream)
{
    struct e2e_server *s = start_rpc_parent("");
    json_t *j = request_json(s, "GET", "r.test", "/cancel", NULL, 200);
    EXPECT_AT(j, "", "{\"first\":65536,\"reason\":\"client gave up\"}");
    E2E_STOP_OK(s);
}

Test(loader_streams, a_child_killed_mid_stream_fails_the_read)
{
    struct e2e_server *s = start_rpc_parent("cpu_ms = 2000\n");
    json_t *j = request_json(s, "GET", "r.test", "/killed", NULL, 200);
    EXPECT_AT(j, "", "[\"chunk\",\"chunk\",\"error: Worker exceeded CPU time limit\"]");
    E2E_STOP_OK(s);
}

Test(loader_streams, a_large_post_body_reaches_the_child_as_a_stream)
{
    struct e2e_server *s = start_rpc_parent("cpu_ms = 2000\n");
    size_t n = 8u << 20;
    char *body = malloc(n + 1);
    cr_assert_not_null(body);
    memset(body, 'p', n);
    body[n] = '\0';
    json_t *j = request_json(s, "POST", "r.test", "/count", body, 200);
    free(body);
    /* The body streams from the client's socket on: pieces of at most 256 KiB, cut where the
     * reads were, so at least 32 of them. */
    EXPECT_AT(j, "isStream", "true");
    EXPECT_AT(j, "bytes", "8388608");
    json_t *chunks = at(j, "chunks");
    cr_expect(json_is_integer(chunks) && json_integer_value(chunks) >= 32, "chunks: %s",
              dump(chunks));
    j = request_json(s, "POST", "r.test", "/count", "tiny", 200);
    EXPECT_AT(j, "", "{\"isStream\":true,\"bytes\":4,\"chunks\":1}");
    E2E_STOP_OK(s);
}
