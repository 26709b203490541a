/*
 * isolates/js/: the Web APIs of the runtime, tested from inside a worker. Each test is a piece
 * of JavaScript run by a fetch handler with small assertion helpers; the handler answers "ok"
 * or the list of failed checks.
 */
#include "iso_test.h"

TestSuite(runtime, .init = iso_test_setup);

#define PRELUDE                                                                                 \
    "const failures = [];\n"                                                                    \
    "const show = (v) => { try { return JSON.stringify(v); } catch { return String(v); } };\n"  \
    "function eq(got, want, what) {\n"                                                          \
    "  if (!Object.is(got, want) && show(got) !== show(want))\n"                                \
    "    failures.push(`${what}: got ${show(got)}, want ${show(want)}`);\n"                     \
    "}\n"                                                                                       \
    "function throws(fn, type, what) {\n"                                                       \
    "  try { fn(); failures.push(`${what}: did not throw`); }\n"                                \
    "  catch (e) { if (!(e instanceof type)) failures.push(`${what}: threw ${e}`); }\n"         \
    "}\n"                                                                                       \
    "async function rejects(p, type, what) {\n"                                                 \
    "  try { await p; failures.push(`${what}: did not reject`); }\n"                            \
    "  catch (e) { if (!(e instanceof type)) failures.push(`${what}: rejected with ${e}`); }\n" \
    "}\n"                                                                                       \
    "const bytes = (u8) => Array.from(u8);\n"

#define CHECKS(body)                                         \
    PRELUDE "export default { async fetch(request) {\n" body \
            "\nreturn new Response(failures.length ? failures.join('\\n') : 'ok');\n} };"

static void expect_ok(const char *src)
{
    struct iso_worker *w = worker_ok(src);
    struct capture c;
    const char *headers[] = {"X-Test: 1", NULL};
    struct ed_error err = {0};
    capture_init(&c);
    int rc = fetch_into(w, "POST", "http://example.com/", "in", headers, &c, &err);
    cr_assert_eq(rc, 0, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert_str_eq(c.body.data, "ok");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(runtime, headers)
{
    expect_ok(CHECKS(
        "const h = new Headers({ 'Content-Type': 'text/html', 'X-A': ' padded \\t' });\n"
        "eq(h.get('content-type'), 'text/html', 'case-insensitive get');\n"
        "eq(h.has('CONTENT-TYPE'), true, 'has');\n"
        "eq(h.get('x-a'), 'padded', 'value trimmed');\n"
        "eq(h.get('missing'), null, 'missing is null');\n"
        "h.append('X-A', 'second');\n"
        "eq(h.get('x-a'), 'padded, second', 'combined');\n"
        "h.set('x-a', 'only');\n"
        "eq(h.get('X-A'), 'only', 'set replaces');\n"
        "h.append('Set-Cookie', 'a=1'); h.append('set-cookie', 'b=2');\n"
        "eq([...h], [['content-type', 'text/html'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'],"
        "  ['x-a', 'only']], 'sorted iteration, cookies apart');\n"
        "eq(h.getSetCookie(), ['a=1', 'b=2'], 'getSetCookie');\n"
        "eq([...h.keys()].length, 4, 'keys');\n"
        "eq([...h.values()][0], 'text/html', 'values');\n"
        "h.delete('Set-Cookie');\n"
        "eq(h.has('set-cookie'), false, 'delete');\n"
        "const seen = []; h.forEach((v, k, o) => seen.push(k, v, o === h));\n"
        "eq(seen, ['content-type', 'text/html', true, 'x-a', 'only', true], 'forEach');\n"
        "eq([...new Headers([['a', '1'], ['b', '2']])], [['a', '1'], ['b', '2']], 'from pairs');\n"
        "eq(new Headers(h).get('x-a'), 'only', 'from Headers');\n"
        "throws(() => new Headers([['a', '1', '2']]), TypeError, 'pair of three');\n"
        "throws(() => new Headers(null), TypeError, 'null init');\n"
        "throws(() => h.set('bad name', 'x'), TypeError, 'bad name');\n"
        "throws(() => h.set('x', 'a\\r\\nInjected: 1'), TypeError, 'CRLF value');\n"
        "throws(() => h.set('x', '\\u0100'), TypeError, 'non-byte value');\n"
        "throws(() => request.headers.set('x', '1'), TypeError, 'request headers immutable');\n"
        "eq(request.headers.get('x-test'), '1', 'request header');\n"
        "eq(Object.prototype.toString.call(h), '[object Headers]', 'toStringTag');\n"));
}

Test(runtime, request)
{
    expect_ok(CHECKS(
        "eq(request.method, 'POST', 'incoming method');\n"
        "eq(request.url, 'http://example.com/', 'incoming url');\n"
        "eq(await request.text(), 'in', 'incoming body');\n"
        "eq(request.bodyUsed, true, 'bodyUsed');\n"
        "await rejects(request.text(), TypeError, 'read twice');\n"
        "const r = new Request('http://a/x', { method: 'post', body: 'data', headers: { A: 'b' } });\n"
        "eq(r.method, 'POST', 'method normalised');\n"
        "eq(new Request('http://a/', { method: 'patch' }).method, 'patch', 'patch kept');\n"
        "eq(r.headers.get('content-type'), 'text/plain;charset=UTF-8', 'content type');\n"
        "const c = r.clone();\n"
        "eq(await r.json().catch((e) => e.name), 'SyntaxError', 'json of text');\n"
        "eq(bytes(new Uint8Array(await c.arrayBuffer())), [100, 97, 116, 97], 'clone body');\n"
        "throws(() => new Request('http://a/', { body: 'x' }), TypeError, 'GET with body');\n"
        "throws(() => new Request('http://a/', { method: 'CONNECT' }), TypeError, 'CONNECT');\n"
        "throws(() => new Request('http://a/', { method: 'a b' }), TypeError, 'bad method');\n"
        "const src = new Request('http://a/', { method: 'PUT', body: 'moved' });\n"
        "const dst = new Request(src);\n"
        "eq(src.bodyUsed, true, 'source body taken');\n"
        "eq(await dst.text(), 'moved', 'body moved');\n"
        "const s = new Request('http://a/', { method: 'POST', body: 'streamed' });\n"
        "const reader = s.body.getReader();\n"
        "eq(new TextDecoder().decode((await reader.read()).value), 'streamed', 'body stream');\n"
        "eq((await reader.read()).done, true, 'body stream done');\n"
        "eq(new Request('http://a/').body, null, 'no body');\n"));
}

Test(runtime, response)
{
    expect_ok(CHECKS(
        "const r = new Response();\n"
        "eq([r.status, r.ok, r.statusText, r.body, r.type], [200, true, '', null, 'default'], 'defaults');\n"
        "const nf = new Response('gone', { status: 404, statusText: 'Not Found' });\n"
        "eq([nf.status, nf.ok, nf.statusText], [404, false, 'Not Found'], 'status');\n"
        "throws(() => new Response('', { status: 199 }), RangeError, 'status 199');\n"
        "throws(() => new Response('', { status: 600 }), RangeError, 'status 600');\n"
        "throws(() => new Response('x', { status: 204 }), TypeError, 'body on 204');\n"
        "throws(() => new Response('', { statusText: 'a\\nb' }), TypeError, 'statusText');\n"
        "const j = Response.json({ a: [1] }, { status: 201, headers: { 'X-Y': 'z' } });\n"
        "eq([j.status, j.headers.get('content-type'), j.headers.get('x-y')],"
        "  [201, 'application/json', 'z'], 'Response.json');\n"
        "eq(await j.json(), { a: [1] }, 'json body');\n"
        "const red = Response.redirect('http://b/', 301);\n"
        "eq([red.status, red.headers.get('location')], [301, 'http://b/'], 'redirect');\n"
        "throws(() => red.headers.set('a', 'b'), TypeError, 'redirect headers immutable');\n"
        "throws(() => Response.redirect('http://b/', 200), RangeError, 'redirect status');\n"
        "const src = new Uint8Array([1, 2, 3]);\n"
        "const b = new Response(src); src[0] = 9;\n"
        "eq(bytes(new Uint8Array(await b.arrayBuffer())), [1, 2, 3], 'bytes copied');\n"
        "eq(b.bodyUsed, true, 'used after read');\n"
        "eq(bytes(new Uint8Array(await new Response('é').arrayBuffer())), [195, 169], 'utf-8');\n"
        "eq(await new Response(new Uint16Array([0x6968]).buffer).text(), 'hi', 'ArrayBuffer body');\n"
        "eq(await new Response(new DataView(new Uint8Array([104, 105]).buffer)).text(), 'hi', 'DataView');\n"
        "const s = new Response('streamed body');\n"
        "const reader = s.body.getReader();\n"
        "eq(s.bodyUsed, false, 'unused until read');\n"
        "eq(new TextDecoder().decode((await reader.read()).value), 'streamed body', 'body stream');\n"
        "eq(s.bodyUsed, true, 'read through the stream');\n"
        "const c1 = new Response('twice'); const c2 = c1.clone();\n"
        "eq([await c1.text(), await c2.text()], ['twice', 'twice'], 'clone');\n"
        "eq(await new Response(new ReadableStream({ start(c) {\n"
        "  c.enqueue(new Uint8Array([97])); c.enqueue(new Uint8Array([98])); c.close(); } })).text(),"
        "  'ab', 'stream body text');\n"
        "eq(await new Response(123).text(), '123', 'other values become strings');\n"));
}

Test(runtime, readable_stream)
{
    expect_ok(CHECKS(
        "let pulls = 0, canceled;\n"
        "const s = new ReadableStream({\n"
        "  start(c) { c.enqueue('a'); },\n"
        "  pull(c) { pulls++; if (pulls === 3) c.close(); else c.enqueue('p' + pulls); },\n"
        "  cancel(reason) { canceled = reason; },\n"
        "}, { highWaterMark: 2 });\n"
        "await null; await null;\n"
        "eq(s.locked, false, 'unlocked');\n"
        "const r = s.getReader();\n"
        "eq(s.locked, true, 'locked');\n"
        "throws(() => s.getReader(), TypeError, 'second reader');\n"
        "const got = [];\n"
        "for (;;) { const { value, done } = await r.read(); if (done) break; got.push(value); }\n"
        "eq(got, ['a', 'p1', 'p2'], 'chunks in order');\n"
        "await r.closed;\n"
        "r.releaseLock();\n"
        "eq(s.locked, false, 'released');\n"
        "await rejects(r.read(), TypeError, 'read after release');\n"
        "const s2 = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(x) { canceled = x; } });\n"
        "await s2.cancel('why');\n"
        "eq(canceled, 'why', 'cancel reaches the source');\n"
        "eq((await s2.getReader().read()).done, true, 'canceled stream is done');\n"
        "const err = new Error('e');\n"
        "const s3 = new ReadableStream({ start(c) { c.error(err); } });\n"
        "await rejects(s3.getReader().read(), Error, 'errored stream rejects');\n"
        "const s4 = new ReadableStream({ start(c) { c.close(); throws(() => c.enqueue(1), TypeError,"
        "  'enqueue after close'); } });\n"
        "eq((await s4.getReader().read()).done, true, 'closed');\n"
        "let n = 0; const out = [];\n"
        "for await (const v of new ReadableStream({ pull(c) { n < 3 ? c.enqueue(n++) : c.close(); } }))\n"
        "  out.push(v);\n"
        "eq(out, [0, 1, 2], 'async iteration');\n"
        "const s5 = new ReadableStream({ start(c) { eq(c.desiredSize, 1, 'desiredSize'); } });\n"
        "throws(() => new ReadableStreamDefaultController(), TypeError, 'no public controller');\n"
        "throws(() => s5.getReader({ mode: 'byob' }), TypeError, 'byob needs a byte stream');\n"
        "throws(() => new ReadableStream({ start() { throw new SyntaxError('x'); } }), SyntaxError,"
        "  'start throws');\n"));
}

Test(runtime, encoding)
{
    expect_ok(CHECKS(
        "const enc = new TextEncoder();\n"
        "eq(enc.encoding, 'utf-8', 'encoding');\n"
        "eq(bytes(enc.encode('h\\u00e9\\u20ac\\u{1F600}')),"
        "  [104, 195, 169, 226, 130, 172, 240, 159, 152, 128], 'encode');\n"
        "eq(bytes(enc.encode('\\uD800x')), [239, 191, 189, 120], 'lone surrogate');\n"
        "eq(enc.encode().length, 0, 'empty');\n"
        "const dst = new Uint8Array(5);\n"
        "eq(enc.encodeInto('a\\u{1F600}b', dst), { read: 3, written: 5 }, 'encodeInto fits');\n"
        "eq(enc.encodeInto('\\u{1F600}\\u{1F600}', new Uint8Array(6)), { read: 2, written: 4 },"
        "  'encodeInto stops at a character');\n"
        "const big = new Uint8Array(1000);\n"
        "eq(enc.encodeInto('x'.repeat(2000), big).written, 1000, 'encodeInto off-heap');\n"
        "const dec = new TextDecoder();\n"
        "eq(dec.decode(new Uint8Array([0xEF, 0xBB, 0xBF, 104, 105])), 'hi', 'BOM stripped');\n"
        "eq(new TextDecoder('utf8', { ignoreBOM: true }).decode(new Uint8Array([0xEF, 0xBB, 0xBF]))"
        "  .charCodeAt(0), 0xFEFF, 'ignoreBOM');\n"
        "eq(dec.decode(new Uint8Array([0xFF, 0x41])), '\\uFFFDA', 'replacement');\n"
        "eq(dec.decode(new Uint8Array([0xF0, 0x9F, 0x41])), '\\uFFFDA', 'truncated sequence');\n"
        "throws(() => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xC0, 0x80])),"
        "  TypeError, 'fatal');\n"
        "eq(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xE2, 0x82, 0xAC])),"
        "  '\\u20AC', 'fatal accepts valid');\n"
        "const sd = new TextDecoder();\n"
        "eq(sd.decode(new Uint8Array([0xE2, 0x82]), { stream: true }) +"
        "   sd.decode(new Uint8Array([0xAC, 0x21])), '\\u20AC!', 'streaming split');\n"
        "eq(sd.decode(new Uint8Array([0xE2]), { stream: true }) + sd.decode(), '\\uFFFD', 'flush');\n"
        "throws(() => new TextDecoder('x-unknown'), RangeError, 'unknown encodings');\n"
        "eq(dec.decode(), '', 'decode()');\n"
        "eq(dec.decode(new Uint16Array([0x6968]).buffer), 'hi', 'ArrayBuffer');\n"
        "eq(dec.decode(new Uint8Array(100).fill(97).subarray(98)), 'aa', 'subarray');\n"));
}

Test(runtime, queue_microtask_and_intl)
{
    expect_ok(CHECKS("let ran = false; queueMicrotask(() => { ran = true; }); await null;\n"
                     "eq(ran, true, 'queueMicrotask');\n"
                     "throws(() => queueMicrotask(1), TypeError, 'callback required');\n"
                     "eq(new Intl.NumberFormat('en-US').format(1234.5), '1,234.5', 'Intl');\n"
                     "eq('\\u00e9'.normalize('NFD').length, 2, 'normalize');\n"
                     "eq(typeof WebAssembly.instantiate, 'function', 'wasm');\n"));
}

Test(runtime, body_mixin_members)
{
    expect_ok(
        CHECKS("for (const C of [Request, Response]) {\n"
               "  for (const m of ['text', 'json', 'arrayBuffer'])\n"
               "    eq(typeof C.prototype[m], 'function', `${C.name}.${m}`);\n"
               "  eq(Object.keys(C.prototype).length, 0, `${C.name} members are not enumerable`);\n"
               "  let threw = null;\n"
               "  try { C.prototype.text.call({}); } catch (e) { threw = e; }\n"
               "  eq(threw instanceof TypeError, true, `${C.name}.text on a foreign object`);\n"
               "  threw = null;\n"
               "  try { Object.getOwnPropertyDescriptor(C.prototype, 'bodyUsed').get.call({}); }\n"
               "  catch (e) { threw = e; }\n"
               "  eq(threw instanceof TypeError, true, `${C.name}.bodyUsed on a foreign object`);\n"
               "}\n"
               "const r = new Response('abc');\n"
               "eq(r.bodyUsed, false, 'unused');\n"
               "eq(await r.text(), 'abc', 'text');\n"
               "eq(r.bodyUsed, true, 'used after text()');\n"
               "eq(await request.text(), 'in', 'the request body through the mixin');"));
}
