/*
 * isolates/lazy.cc: the lazy runtime files. A worker that does not use them never runs them
 * (a child that answers fetch() and RPC calls, as agents' children do, runs none); their
 * globals behave as Web IDL globals whatever a worker does first (reads them, tests them with
 * `in` or typeof, describes, assigns, deletes or redefines them); what the eager runtime uses of
 * them (Request's URL parser) loads them, and what it only asks about (is this a stream?) does
 * not; a load that fails (a stack overflow) leaves them to load on the next use; and a lazy
 * file's captured built-ins are the originals. Each case runs in a fresh worker, since a file
 * runs once per isolate.
 */
#include "iso_host.h"

#include "isolates/iso_int.h"

TestSuite(lazy, .init = iso_test_setup);

static const char *const kLazyFiles[] = {
    "03_domexception.js", "05_globals.js",   "06_events.js", "07_timers.js",
    "08_abort.js",        "10_encoding.js",  "12_url.js",    "30_streams.js",
    "31_writable.js",     "32_transform.js", "35_blob.js",   "45_crypto.js",
    "67_objects.js",      "70_loader.js",    "75_fetch.js",  "80_console.js"};
#define N_LAZY (sizeof kLazyFiles / sizeof kLazyFiles[0])

#define PRELUDE                                                                                \
    "const failures = [];\n"                                                                   \
    "const show = (v) => { try { return JSON.stringify(v); } catch { return String(v); } };\n" \
    "function eq(got, want, what) {\n"                                                         \
    "  if (!Object.is(got, want) && show(got) !== show(want))\n"                               \
    "    failures.push(`${what}: got ${show(got)}, want ${show(want)}`);\n"                    \
    "}\n"                                                                                      \
    "const desc = (name) => Object.getOwnPropertyDescriptor(globalThis, name);\n"              \
    "const attrs = (d) => d && [typeof d.value, d.writable, d.enumerable, d.configurable];\n"

#define CHECKS(body)                                         \
    PRELUDE "export default { async fetch(request) {\n" body \
            "\nreturn new Response(failures.length ? failures.join('\\n') : 'ok');\n} };"

/* Runs src's fetch in a fresh worker, expects "ok", and returns the worker (free it). */
static struct iso_worker *run_ok(const char *src)
{
    struct iso_worker *w = worker_ok(src);
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://example.com/", &c), "ok");
    capture_dispose(&c);
    return w;
}

static void expect_loaded(struct iso_worker *w, const char *const *files, size_t n)
{
    for (size_t i = 0; i < N_LAZY; i++) {
        bool want = false;
        for (size_t j = 0; j < n; j++)
            want = want || strcmp(files[j], kLazyFiles[i]) == 0;
        cr_expect_eq(iso__worker_lazy_loaded(w, kLazyFiles[i]), want, "%s: loaded %d, want %d",
                     kLazyFiles[i], !want, want);
    }
}

Test(lazy, a_worker_that_uses_none_loads_none)
{
    /* Headers, a body, the globals' presence: nothing of a lazy file runs. */
    struct iso_worker *w = run_ok(CHECKS(
        "const r = new Response('x', { headers: { 'x-a': '1' } });\n"
        "eq(await r.text(), 'x', 'body');\n"
        "for (const name of ['URL', 'URLSearchParams', 'crypto', 'Crypto', 'SubtleCrypto',\n"
        "    'CryptoKey', 'DOMException', 'atob', 'btoa', 'structuredClone', 'queueMicrotask',\n"
        "    'TextEncoder', 'TextDecoder', 'console', 'Event', 'CustomEvent', 'EventTarget',\n"
        "    'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'scheduler',\n"
        "    'performance', 'Performance', 'AbortSignal', 'AbortController', 'ReadableStream',\n"
        "    'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader',\n"
        "    'ReadableStreamDefaultController', 'ReadableByteStreamController',\n"
        "    'ReadableStreamBYOBRequest', 'ByteLengthQueuingStrategy', 'CountQueuingStrategy',\n"
        "    'WritableStream', 'WritableStreamDefaultWriter', 'WritableStreamDefaultController',\n"
        "    'TransformStream', 'TransformStreamDefaultController', 'IdentityTransformStream',\n"
        "    'FixedLengthStream', 'TextEncoderStream', 'TextDecoderStream', 'Blob', 'File',\n"
        "    'FormData', 'fetch'])\n"
        "  eq(name in globalThis && Object.getOwnPropertyNames(globalThis).includes(name), true,\n"
        "     name + ' is there');\n"
        "const listed = /^[A-Z]|crypto|console|fetch|Timeout|Interval|scheduler|performance/;\n"
        "eq(Object.keys(globalThis).filter((k) => listed.test(k)), [], 'none is enumerable');\n"
        "eq(request.method, 'GET', 'an incoming request');\n"
        "eq(await Response.json({ a: [1] }).json(), { a: [1] }, 'Response.json');\n"
        "eq(await new Request('http://x/', { method: 'POST', body: new Uint8Array([104]) })\n"
        "   .text(), 'h', 'a Request body (a URL parse aside)');\n"
        "eq(new Response(null, { status: 204 }).body, null, 'a null body');\n"));
    const char *url[] = {"12_url.js"}; /* new Request parsed its URL */
    expect_loaded(w, url, 1);
    iso_worker_free(w);
}

/* The snapshot's warm-up uses every lazy file but the durable objects' (which needs a host),
 * so that a worker's first use of one compiles nothing the warm-up ran
 * (figures/lazy_first_use): a warm-up that fails leaves no cache. */
Test(lazy, the_warm_up_left_a_code_cache_of_every_file)
{
    for (size_t i = 0; i < N_LAZY; i++)
        if (strcmp(kLazyFiles[i], "67_objects.js") != 0)
            cr_expect(iso__lazy_cache_warm(kLazyFiles[i]), "no warm code cache of %s",
                      kLazyFiles[i]);
}

/* A child as agents' children and bench/loader.js's are: fetch() answered with a Response and
 * RPC methods called with plain data, from a parent, through a plain object and a
 * WorkerEntrypoint class. */
Test(lazy, a_child_that_answers_fetch_and_rpc_loads_none)
{
    struct fake_host fh;
    fake_host_init(&fh);
    struct iso_worker *w = parent_ok(
        &fh,
        "const child = { compatibilityDate: '2025-06-01', mainModule: 'main.js', modules: {\n"
        "  'main.js': `import { WorkerEntrypoint } from 'cloudflare:workers';\n"
        "    export class Calc extends WorkerEntrypoint { mul(a, b) { return a * b; } }\n"
        "    export default {\n"
        "      fetch(request) { return new Response('hi ' + request.method); },\n"
        "      add(a, b) { return a + b; },\n"
        "      echo(v) { return v; },\n"
        "    };` } };\n"
        "export default { async fetch(request, env) {\n"
        "  const stub = env.LOADER.get('c', () => child);\n"
        "  const ep = stub.getEntrypoint();\n"
        "  const a = await (await ep.fetch('http://c/')).text();\n"
        "  const b = await ep.add(1, 2);\n"
        "  const v = await ep.echo({ n: [1, 'x', null], m: new Map([[1, 2]]), d: new Date(0),\n"
        "    u: new Uint8Array([1, 2]) });\n"
        "  const c = await stub.getEntrypoint('Calc').mul(6, 7);\n"
        "  return new Response([a, b, v.m.get(1), v.u[1], c].join(' '));\n"
        "} };");
    struct capture c;
    cr_assert_str_eq(get_ok(w, "http://p/", &c), "hi GET 3 2 2 42");
    capture_dispose(&c);
    cr_assert_eq(fh.n_children, 1);
    expect_loaded(fh.children[0].w, NULL, 0);
    fake_host_dispose(&fh);
    iso_worker_free(w);
}

/* Each use in a fresh worker, with the files it must run (and no other). */
Test(lazy, each_file_runs_on_the_first_use_of_what_it_defines)
{
    static const struct {
        const char *op;
        const char *files[5];
    } uses[] = {
        {"new Event('x').timeStamp", {"06_events.js"}},
        {"new EventTarget().dispatchEvent(new CustomEvent('x'))", {"06_events.js"}},
        {"typeof setTimeout", {"07_timers.js"}},
        {"performance.now()", {"07_timers.js"}},
        {"new AbortController().signal.aborted", {"06_events.js", "08_abort.js"}},
        {"new TextEncoder().encode('x')", {"10_encoding.js"}},
        {"new ReadableStream().locked", {"30_streams.js"}},
        {"await new Response('x').body.getReader().read()", {"30_streams.js"}},
        {"new WritableStream().locked", {"30_streams.js", "31_writable.js"}},
        {"new TransformStream().readable", {"30_streams.js", "31_writable.js", "32_transform.js"}},
        {"new TextDecoderStream().encoding",
         {"10_encoding.js", "30_streams.js", "31_writable.js", "32_transform.js"}},
        {"await new Blob(['x']).text()", {"35_blob.js"}},
        {"await new Response(new Blob(['x'])).text()", {"35_blob.js"}},
        {"await new Response('a').blob()", {"35_blob.js"}},
        {"typeof fetch", {"75_fetch.js"}},
    };
    for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++) {
        char src[1024];
        snprintf(src, sizeof src, CHECKS("%s;"), uses[i].op);
        struct iso_worker *w = run_ok(src);
        size_t n = 0;
        while (n < 5 && uses[i].files[n])
            n++;
        cr_log_info("%s", uses[i].op);
        expect_loaded(w, uses[i].files, n);
        iso_worker_free(w);
    }
}

Test(lazy, first_use_loads_only_its_file)
{
    struct iso_worker *w = run_ok(CHECKS("eq(typeof crypto, 'object', 'typeof crypto');\n"
                                         "eq(crypto.randomUUID().length, 36, 'randomUUID');\n"));
    const char *crypto_deps[] = {"03_domexception.js", "45_crypto.js"}; /* it throws them */
    expect_loaded(w, crypto_deps, 2);
    iso_worker_free(w);

    w = run_ok(CHECKS("eq(new URL('HTTP://A.example/b/../c').href, 'http://a.example/c', 'URL');\n"
                      "eq(request.url, 'http://example.com/', 'request.url');\n"));
    const char *url_deps[] = {"12_url.js"};
    expect_loaded(w, url_deps, 1);
    iso_worker_free(w);

    /* Request's URL parser is an internals entry: it loads URL, the global stays unread */
    w = run_ok(CHECKS("eq(new Request('https://a.example/x?y').url, 'https://a.example/x?y',\n"
                      "   'new Request parses');\n"));
    expect_loaded(w, url_deps, 1);
    iso_worker_free(w);

    /* atob throws a DOMException: 05 runs, and 03 with it */
    w = run_ok(CHECKS("let e; try { atob('*'); } catch (x) { e = x; }\n"
                      "eq(e.name, 'InvalidCharacterError', 'DOMException from atob');\n"
                      "eq(e instanceof DOMException, true, 'the global class');\n"));
    const char *atob_deps[] = {"03_domexception.js", "05_globals.js"};
    expect_loaded(w, atob_deps, 2);
    iso_worker_free(w);
}

Test(lazy, globals_behave_as_web_idl_globals)
{
    /* described before any use: the file runs, the descriptor is the real one */
    iso_worker_free(run_ok(CHECKS(
        "const d = desc('URL');\n"
        "eq(attrs(d), ['function', true, false, true], 'descriptor before use');\n"
        "eq(d.value, URL, 'its value is the class');\n"
        "eq(new d.value('http://a/').host, 'a', 'which works');\n"
        "eq(attrs(desc('URLSearchParams')), ['function', true, false, true], 'its sibling');\n"
        "eq(attrs(desc('crypto')), ['object', true, false, true], 'crypto');\n"
        "eq(Object.prototype.toString.call(crypto), '[object Crypto]', 'a Crypto');\n"
        "eq(attrs(desc('TextEncoder')), ['function', true, false, true], 'TextEncoder');\n")));

    /* assigned before any use: the worker's value, with the global's attributes; the sibling
     * and what the runtime uses of the file still work */
    struct iso_worker *w = run_ok(CHECKS(
        "globalThis.URL = 5;\n"
        "eq(URL, 5, 'the assigned value');\n"
        "eq(attrs(desc('URL')), ['number', true, false, true], 'still not enumerable');\n"
        "eq(new Request('http://a.example/p').url, 'http://a.example/p', 'Request parses');\n"
        "eq(URL, 5, 'the file did not overwrite it');\n"
        "eq(typeof URLSearchParams, 'function', 'the sibling is the real class');\n"
        "eq(new URLSearchParams('a=1').get('a'), '1', 'which works');\n"));
    const char *url_deps[] = {"12_url.js"};
    expect_loaded(w, url_deps, 1);
    iso_worker_free(w);

    /* one global of a file assigned, another used: the file runs around the worker's value */
    iso_worker_free(
        run_ok(CHECKS("CryptoKey = 'mine';\n"
                      "const d = await crypto.subtle.digest('SHA-1', new Uint8Array(0));\n"
                      "eq(d.byteLength, 20, 'digest');\n"
                      "eq(CryptoKey, 'mine', 'the worker keeps its CryptoKey');\n"
                      "eq(typeof SubtleCrypto, 'function', 'SubtleCrypto is real');\n")));

    /* deleted before any use: it stays deleted, the file's other names work */
    iso_worker_free(run_ok(
        CHECKS("eq(delete globalThis.URLSearchParams, true, 'delete');\n"
               "eq('URLSearchParams' in globalThis, false, 'gone');\n"
               "const u = new URL('http://a/?x=1');\n"
               "eq(u.searchParams.get('x'), '1', 'searchParams without the global');\n"
               "eq('URLSearchParams' in globalThis, false, 'still gone after URL ran');\n")));

    /* redefined before any use, as an accessor and as an enumerable value */
    iso_worker_free(run_ok(CHECKS(
        "Object.defineProperty(globalThis, 'crypto', { get() { return 'got'; }, configurable: true });\n"
        "eq(crypto, 'got', 'the worker accessor');\n"
        "Object.defineProperty(globalThis, 'atob', { value: 1, enumerable: true, writable: false,\n"
        "  configurable: true });\n"
        "eq(attrs(desc('atob')), ['number', false, true, true], 'the attributes asked for');\n"
        "eq(btoa('a'), 'YQ==', 'btoa from the same file');\n"
        "eq(atob, 1, 'atob kept');\n")));

    /* after first use: ordinary data properties a worker can replace */
    iso_worker_free(
        run_ok(CHECKS("const U = URL;\n"
                      "eq(attrs(desc('URL')), ['function', true, false, true], 'after');\n"
                      "URL = null;\n"
                      "eq(URL, null, 'replaced');\n"
                      "eq(new Request('http://b/').url, 'http://b/', 'runtime unaffected');\n"
                      "eq(new U('http://c/').href, 'http://c/', 'old class works');\n")));

    /* a frozen global object: the placeholders answer as frozen data properties do */
    iso_worker_free(run_ok(CHECKS(
        "Object.freeze(globalThis);\n"
        "eq(new Request('http://d/').url, 'http://d/', 'Request parses');\n"
        "eq(new URL('http://a/b').href, 'http://a/b', 'URL');\n"
        "eq(URL === URL && typeof URLSearchParams, 'function', 'the same class each time');\n"
        "eq(attrs(desc('URL')), ['function', false, false, false], 'frozen');\n"
        "eq(Reflect.set(globalThis, 'URL', 1), false, 'read-only');\n"
        "eq(typeof crypto.subtle, 'object', 'crypto');\n")));
}

Test(lazy, a_failed_load_runs_again_on_the_next_use)
{
    /* at the bottom of a deep recursion the file's run overflows the stack: the use throws, and
     * a use further up (more stack) runs the file again and succeeds */
    struct iso_worker *w =
        run_ok(CHECKS("let overflows = 0;\n"
                      "function down(n) {\n"
                      "  try { return down(n + 1); } catch (e) {\n"
                      "    if (!(e instanceof RangeError)) throw e;\n"
                      "    try { return new URL('http://a.example/x').href; }\n"
                      "    catch (e2) { overflows++; throw e2; }\n"
                      "  }\n"
                      "}\n"
                      "eq(down(0), 'http://a.example/x', 'a use that had the stack');\n"
                      "eq(overflows > 0, true, 'some uses ran out of stack');\n"
                      "eq(new URL('http://b/') instanceof URL, true, 'one URL class');\n"
                      "eq(new Request('http://c/').url, 'http://c/', 'Request parses');\n"
                      "eq(attrs(desc('URL')), ['function', true, false, true], 'descriptor');\n"));
    iso_worker_free(w);
}

Test(lazy, crypto_takes_the_original_built_ins)
{
    iso_worker_free(run_ok(CHECKS(
        "const D = DOMException;\n"
        "globalThis.DOMException = class Fake {};\n"
        "globalThis.Uint8Array = function () { throw new Error('tampered'); };\n"
        "JSON.stringify = () => { throw new Error('tampered'); };\n"
        "let e; try { crypto.getRandomValues(new Float32Array(1)); } catch (x) { e = x; }\n"
        "eq(e instanceof D && e.name, 'TypeMismatchError', 'the runtime DOMException');\n"
        "const key = await crypto.subtle.importKey('raw', new Int8Array(16), 'AES-GCM', true,\n"
        "  ['encrypt']);\n"
        "const jwk = await crypto.subtle.exportKey('jwk', key);\n"
        "eq(jwk.k, 'AAAAAAAAAAAAAAAAAAAAAA', 'jwk export through the original JSON');\n")));
}
