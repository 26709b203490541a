// Fetch API bodies and objects: Request/Response bodies from strings, BufferSources, streams,
// URLSearchParams, Blob/File and FormData (multipart and urlencoded, both ways), Response.json,
// Response.redirect, clone() (a teed stream), bodyUsed, Headers (multi-value, case-insensitive,
// getSetCookie), Request's init and its error paths; Blob, File and FormData themselves.
import { test, assert } from 'edged:test';

const enc = new TextEncoder();

function streamOf(...chunks) {
    return new ReadableStream({
        start(c) {
            for (const chunk of chunks)
                c.enqueue(typeof chunk === 'string' ? enc.encode(chunk) : chunk);
            c.close();
        },
    });
}

test('Response bodies: string, ArrayBuffer, views, stream', async () => {
    const s = new Response('héllo');
    assert.equal(s.headers.get('content-type'), 'text/plain;charset=UTF-8');
    assert.equal(await s.text(), 'héllo');
    const ab = new Uint8Array([104, 105]).buffer;
    const r = new Response(ab);
    assert.equal(r.headers.get('content-type'), null);
    new Uint8Array(ab)[0] = 0; // the body copied it
    assert.equal(await r.text(), 'hi');
    assert.equal(await new Response(new Uint16Array([0x6968])).text(), 'hi');
    assert.equal(await new Response(new DataView(new Uint8Array([111, 107]).buffer)).text(), 'ok');
    assert.equal(await new Response(streamOf('a', 'b', 'c')).text(), 'abc');
    assert.deepEqual(new Uint8Array(await new Response('xy').arrayBuffer()), new Uint8Array([120, 121]));
    assert.deepEqual(await new Response('xy').bytes(), new Uint8Array([120, 121]));
    assert.deepEqual(await new Response('{"a":[1]}').json(), { a: [1] });
    assert.equal(await new Response(null).text(), '');
    assert.equal(new Response().body, null);
});

test('bodyUsed and reading twice', async () => {
    const r = new Response('once');
    assert.equal(r.bodyUsed, false);
    await r.text();
    assert.equal(r.bodyUsed, true);
    await assert.rejects(r.text(), TypeError);
    await assert.rejects(r.arrayBuffer(), TypeError);
    const streamed = new Response('s');
    const reader = streamed.body.getReader();
    assert.equal(streamed.bodyUsed, false);
    await reader.read();
    assert.equal(streamed.bodyUsed, true);
    const locked = new Response(streamOf('x'));
    locked.body.getReader();
    await assert.rejects(locked.text(), TypeError);
    const body = streamOf('y');
    body.getReader();
    assert.throws(() => new Response(body), TypeError, 'a locked stream is no body');
});

test('clone() tees a stream body; both copies read it all', async () => {
    const r = new Response(streamOf('one ', 'two'));
    const c = r.clone();
    assert.equal(await c.text(), 'one two');
    assert.equal(await r.text(), 'one two');
    const fixed = new Response('f');
    const f2 = fixed.clone();
    assert.equal(await fixed.text(), 'f');
    assert.equal(await f2.text(), 'f');
    const used = new Response('u');
    await used.text();
    assert.throws(() => used.clone(), TypeError);
    const req = new Request('http://x/', { method: 'POST', body: streamOf('req') });
    const rc = req.clone();
    assert.equal(await req.text(), 'req');
    assert.equal(await rc.text(), 'req');
});

test('Response.json and Response.redirect', async () => {
    const j = Response.json({ a: 1 }, { status: 201, headers: { 'X-Y': 'z' } });
    assert.equal(j.status, 201);
    assert.equal(j.headers.get('content-type'), 'application/json');
    assert.equal(j.headers.get('x-y'), 'z');
    assert.deepEqual(await j.json(), { a: 1 });
    assert.equal(Response.json('s', { headers: { 'content-type': 'text/x' } }).headers.get('content-type'), 'text/x');
    assert.throws(() => Response.json(undefined), TypeError);
    assert.throws(() => Response.json(1n), TypeError);
    for (const status of [301, 302, 303, 307, 308]) {
        const red = Response.redirect('http://example.com/a', status);
        assert.equal(red.status, status);
        assert.equal(red.headers.get('location'), 'http://example.com/a');
    }
    assert.equal(Response.redirect('http://example.com/').status, 302);
    assert.throws(() => Response.redirect('http://example.com/', 200), RangeError);
    assert.throws(() => Response.redirect('http://example.com/', 304), RangeError);
    assert.throws(() => Response.redirect('http://x/').headers.set('a', 'b'), TypeError);
    if (typeof URL === 'function')
        assert.throws(() => Response.redirect('not a url'), TypeError);
});

test('Response init checks', () => {
    assert.throws(() => new Response('', { status: 199 }), RangeError);
    assert.throws(() => new Response('', { status: 600 }), RangeError);
    assert.throws(() => new Response('x', { status: 204 }), TypeError);
    assert.throws(() => new Response('x', { status: 304 }), TypeError);
    assert.throws(() => new Response('', { statusText: 'bad\n' }), TypeError);
    assert.throws(() => new Response('', 5), TypeError);
    const r = new Response('', { status: 404, statusText: 'Nope' });
    assert.equal(r.ok, false);
    assert.equal(r.statusText, 'Nope');
});

test('Headers: case-insensitive, multi-value, getSetCookie', () => {
    const h = new Headers({ 'Content-Type': 'text/html' });
    assert.equal(h.get('CONTENT-type'), 'text/html');
    h.append('Accept', 'a');
    h.append('accept', 'b');
    assert.equal(h.get('accept'), 'a, b');
    h.append('Set-Cookie', 'x=1');
    h.append('set-cookie', 'y=2');
    assert.deepEqual(h.getSetCookie(), ['x=1', 'y=2']);
    assert.deepEqual([...h].filter(([n]) => n === 'set-cookie'), [['set-cookie', 'x=1'], ['set-cookie', 'y=2']]);
    assert.equal(h.get('set-cookie'), 'x=1, y=2');
    h.delete('ACCEPT');
    assert.equal(h.has('accept'), false);
    assert.deepEqual(new Headers().getSetCookie(), []);
    assert.throws(() => h.append('bad name', 'v'), TypeError);
    assert.throws(() => h.set('x', 'a\nb'), TypeError);
    assert.throws(() => new Headers([['only-one']]), TypeError);
    const res = new Response('', { headers: [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']] });
    assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2']);
});

test('Request: init with method, headers, body, redirect, signal', async () => {
    const r = new Request('http://example.com/p', {
        method: 'post',
        headers: { 'X-A': '1' },
        body: 'data',
        redirect: 'manual',
    });
    assert.equal(r.method, 'POST');
    assert.equal(r.url, 'http://example.com/p');
    assert.equal(r.headers.get('x-a'), '1');
    assert.equal(r.headers.get('content-type'), 'text/plain;charset=UTF-8');
    assert.equal(r.redirect, 'manual');
    assert.equal(await r.text(), 'data');
    for (const [given, want] of [['get', 'GET'], ['Delete', 'DELETE'], ['options', 'OPTIONS'],
        ['put', 'PUT'], ['head', 'HEAD'], ['patch', 'patch'], ['CUSTOM', 'CUSTOM']])
        assert.equal(new Request('http://x/', { method: given }).method, want, given);
    assert.equal(new Request('http://x/').redirect, 'follow');
    assert.throws(() => new Request('http://x/', { redirect: 'sometimes' }), TypeError);
    assert.throws(() => new Request('http://x/', { body: 'b' }), TypeError);
    assert.throws(() => new Request('http://x/', { method: 'HEAD', body: 'b' }), TypeError);
    assert.throws(() => new Request('http://x/', { method: 'TRACE' }), TypeError);
    assert.throws(() => new Request('http://x/', { method: 'a b' }), TypeError);
    assert.throws(() => new Request('http://x/', { signal: {} }), TypeError);
    assert.throws(() => new Request(), TypeError);
    if (typeof AbortController === 'function') {
        const ac = new AbortController();
        const withSignal = new Request('http://x/', { signal: ac.signal });
        assert.equal(withSignal.signal, ac.signal);
        assert.equal(new Request(withSignal).signal, ac.signal);
        assert.equal(new Request('http://x/').signal.aborted, false);
    }
});

test('Request from a Request takes its body', async () => {
    const src = new Request('http://x/', { method: 'PUT', body: 'moved', redirect: 'error' });
    const dst = new Request(src, { headers: { 'x-b': '2' } });
    assert.equal(dst.method, 'PUT');
    assert.equal(dst.redirect, 'error');
    assert.equal(dst.headers.get('x-b'), '2');
    assert.equal(src.bodyUsed, true);
    assert.equal(await dst.text(), 'moved');
    assert.throws(() => new Request(src), TypeError);
});

test('URLSearchParams bodies are form-urlencoded', async () => {
    if (typeof URLSearchParams !== 'function')
        return; // URLSearchParams arrives with the URL work
    const r = new Request('http://x/', { method: 'POST', body: new URLSearchParams({ a: '1 2', b: 'é' }) });
    assert.equal(r.headers.get('content-type'), 'application/x-www-form-urlencoded;charset=UTF-8');
    const form = await r.formData();
    assert.equal(form.get('a'), '1 2');
    assert.equal(form.get('b'), 'é');
});

test('formData() of an urlencoded body', async () => {
    const r = new Response('a=1&b=x+y&b=%C3%A9&c&=e', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const form = await r.formData();
    assert.equal(form.get('a'), '1');
    assert.deepEqual(form.getAll('b'), ['x y', 'é']);
    assert.equal(form.get('c'), '');
    assert.equal(form.get(''), 'e');
    await assert.rejects(new Response('x', { headers: { 'content-type': 'text/plain' } }).formData(), TypeError);
    await assert.rejects(new Response('x').formData(), TypeError);
});

test('FormData bodies: multipart/form-data both ways', async () => {
    const form = new FormData();
    form.append('name', 'value');
    form.append('lines', 'a\nb');
    form.append('quote"d', 'q');
    form.append('file', new File(['file body'], 'a.txt', { type: 'text/plain' }));
    form.append('blob', new Blob([new Uint8Array([0, 255, 10])]));
    const req = new Request('http://x/', { method: 'POST', body: form });
    const type = req.headers.get('content-type');
    assert.ok(type.startsWith('multipart/form-data; boundary='), type);
    const copy = req.clone();
    const raw = await copy.text();
    assert.ok(raw.includes('Content-Disposition: form-data; name="name"\r\n\r\nvalue\r\n'), raw);
    assert.ok(raw.includes('a\r\nb'), 'newlines are CRLF');
    assert.ok(raw.includes('name="quote%22d"'), 'quotes escaped');
    assert.ok(raw.includes('filename="a.txt"\r\nContent-Type: text/plain'), raw);
    assert.ok(raw.includes('filename="blob"\r\nContent-Type: application/octet-stream'), raw);
    const back = await req.formData();
    assert.equal(back.get('name'), 'value');
    assert.equal(back.get('lines'), 'a\r\nb');
    assert.equal(back.get('quote%22d'), 'q');
    const file = back.get('file');
    assert.ok(file instanceof File);
    assert.equal(file.name, 'a.txt');
    assert.equal(file.type, 'text/plain');
    assert.equal(await file.text(), 'file body');
    const blob = back.get('blob');
    assert.equal(blob.name, 'blob');
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), new Uint8Array([0, 255, 10]));
});

test('formData() of a hand-written multipart body; malformed ones reject', async () => {
    const body = '--XyZ\r\nContent-Disposition: form-data; name="f"; filename="n.bin"\r\n' +
        'Content-Type: application/x-bin\r\n\r\nBIN\r\n--XyZ\r\nContent-Disposition: form-data; name=plain\r\n\r\n' +
        'text\r\n--XyZ--\r\n';
    const form = await new Response(body, { headers: { 'content-type': 'multipart/form-data; boundary="XyZ"' } }).formData();
    assert.equal(form.get('plain'), 'text');
    assert.equal(form.get('f').name, 'n.bin');
    assert.equal(form.get('f').type, 'application/x-bin');
    assert.equal(await form.get('f').text(), 'BIN');
    const type = { 'content-type': 'multipart/form-data; boundary=XyZ' };
    await assert.rejects(new Response('garbage', { headers: type }).formData(), TypeError);
    await assert.rejects(new Response('--XyZ\r\nno-disposition: x\r\n\r\nv\r\n--XyZ--', { headers: type }).formData(), TypeError);
    await assert.rejects(new Response('x', { headers: { 'content-type': 'multipart/form-data' } }).formData(), TypeError);
});

test('Blob: parts, type, slice, text, arrayBuffer, stream', async () => {
    const b = new Blob(['ab', new Uint8Array([99]), new Blob(['d'])], { type: 'Text/Plain' });
    assert.equal(b.size, 4);
    assert.equal(b.type, 'text/plain');
    assert.equal(await b.text(), 'abcd');
    assert.equal(await b.slice(1, 3).text(), 'bc');
    assert.equal(await b.slice(-2).text(), 'cd');
    assert.equal(b.slice(0, 1, 'x/y').type, 'x/y');
    assert.equal(b.slice(3, 1).size, 0);
    assert.deepEqual(new Uint8Array(await b.arrayBuffer()), enc.encode('abcd'));
    assert.deepEqual(await b.bytes(), enc.encode('abcd'));
    const chunks = [];
    for await (const c of b.stream())
        chunks.push(...c);
    assert.deepEqual(chunks, [97, 98, 99, 100]);
    assert.equal(new Blob().size, 0);
    assert.equal(new Blob(['x'], { type: 'bad\u0001' }).type, '');
    assert.throws(() => new Blob('not a sequence'), TypeError);
    assert.throws(() => new Blob([], { endings: 'weird' }), TypeError);
    assert.equal(String(b), '[object Blob]');
});

test('Blob and File bodies take the type; blob() reads one back', async () => {
    const r = new Response(new Blob(['{"k":2}'], { type: 'application/json' }));
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.deepEqual(await r.json(), { k: 2 });
    const b = await new Response('xyz', { headers: { 'content-type': 'Text/X' } }).blob();
    assert.equal(b.type, 'text/x');
    assert.equal(await b.text(), 'xyz');
    const shared = new Blob(['same']);
    const one = await new Response(shared).arrayBuffer();
    new Uint8Array(one)[0] = 0;
    assert.equal(await shared.text(), 'same', 'reading a Blob body copies');
});

test('File: name, lastModified, type', () => {
    const f = new File(['x'], 'f.txt', { type: 'text/plain', lastModified: 42 });
    assert.ok(f instanceof Blob);
    assert.equal(f.name, 'f.txt');
    assert.equal(f.lastModified, 42);
    assert.equal(f.type, 'text/plain');
    assert.equal(f.size, 1);
    assert.equal(typeof new File([], 'n').lastModified, 'number');
    assert.throws(() => new File(['x']), TypeError);
    assert.equal(String(f), '[object File]');
});

test('FormData: append, get, getAll, has, set, delete, iteration', () => {
    const f = new FormData();
    f.append('a', '1');
    f.append('a', 2);
    f.append('b', new Blob(['x'], { type: 'text/plain' }));
    f.append('c', new Blob(['y']), 'named.txt');
    assert.equal(f.get('a'), '1');
    assert.deepEqual(f.getAll('a'), ['1', '2']);
    assert.equal(f.has('b'), true);
    assert.equal(f.get('missing'), null);
    assert.ok(f.get('b') instanceof File);
    assert.equal(f.get('b').name, 'blob');
    assert.equal(f.get('c').name, 'named.txt');
    f.set('a', 'only');
    assert.deepEqual(f.getAll('a'), ['only']);
    assert.deepEqual([...f.keys()], ['a', 'b', 'c']);
    f.delete('b');
    assert.deepEqual([...f.entries()].map(([k]) => k), ['a', 'c']);
    const seen = [];
    f.forEach((v, k) => seen.push(k));
    assert.deepEqual(seen, ['a', 'c']);
    assert.throws(() => f.append('x'), TypeError);
    assert.throws(() => f.append('x', 'y', 'file.txt'), TypeError);
    assert.throws(() => new FormData({}), TypeError);
    assert.equal(String(f), '[object FormData]');
});

test('a stream body with a known length: FixedLengthStream and fixed bodies', async () => {
    const { readable, writable } = new FixedLengthStream(3);
    const w = writable.getWriter();
    w.write(enc.encode('abc'));
    w.close();
    assert.equal(await new Response(readable).text(), 'abc');
    assert.equal(await new Response(new Response('fixed').body).text(), 'fixed');
});
