// Streams Standard: ReadableStream (default and byte sources, default and BYOB readers, tee,
// pipeTo/pipeThrough, async iteration, from), WritableStream, TransformStream, the queuing
// strategies, TextEncoderStream/TextDecoderStream, and Workers' IdentityTransformStream and
// FixedLengthStream; error paths throw or reject with the standard's TypeError/RangeError.
import { test, assert } from 'edged:test';

const enc = new TextEncoder();
const dec = new TextDecoder();
const tick = async (n = 5) => {
    for (let i = 0; i < n; i++)
        await null;
};

async function readAll(stream) {
    const out = [];
    for await (const chunk of stream)
        out.push(chunk);
    return out;
}

function recorder(extra = {}) {
    const log = [];
    const sink = {
        write(chunk) {
            log.push(['write', chunk]);
        },
        close() {
            log.push(['close']);
        },
        abort(reason) {
            log.push(['abort', reason]);
        },
        ...extra,
    };
    return { log, stream: new WritableStream(sink) };
}

test('ReadableStream: start, pull on demand, close', async () => {
    let pulls = 0;
    const s = new ReadableStream({
        start(c) {
            c.enqueue('a');
        },
        pull(c) {
            pulls++;
            if (pulls === 3)
                c.close();
            else
                c.enqueue(`p${pulls}`);
        },
    }, { highWaterMark: 2 });
    await tick();
    assert.equal(pulls, 1, 'pulled until the queue reached the high-water mark');
    assert.deepEqual(await readAll(s), ['a', 'p1', 'p2']);
});

test('ReadableStream: desiredSize follows the strategy size', async () => {
    let controller;
    new ReadableStream({ start(c) { controller = c; } }, new CountQueuingStrategy({ highWaterMark: 3 }));
    assert.equal(controller.desiredSize, 3);
    controller.enqueue('x');
    assert.equal(controller.desiredSize, 2);
    let bc;
    new ReadableStream({ start(c) { bc = c; } }, new ByteLengthQueuingStrategy({ highWaterMark: 10 }));
    bc.enqueue(new Uint8Array(4));
    assert.equal(bc.desiredSize, 6);
    controller.close();
    assert.equal(controller.desiredSize, 2, 'closing: the queue still counts');
    let empty;
    new ReadableStream({ start(c) { empty = c; } }).getReader();
    empty.close();
    assert.equal(empty.desiredSize, 0);
});

test('ReadableStream: locked streams and released readers are TypeErrors', async () => {
    const s = new ReadableStream();
    const r = s.getReader();
    assert.equal(s.locked, true);
    assert.throws(() => s.getReader(), TypeError);
    await assert.rejects(s.cancel(), TypeError);
    assert.throws(() => new ReadableStreamDefaultReader(s), TypeError);
    r.releaseLock();
    assert.equal(s.locked, false);
    await assert.rejects(r.read(), TypeError);
    await assert.rejects(r.closed, TypeError);
    assert.throws(() => s.getReader({ mode: 'nope' }), TypeError);
    assert.throws(() => new ReadableStreamDefaultController(), TypeError);
});

test('ReadableStream: releaseLock rejects pending reads', async () => {
    const r = new ReadableStream().getReader();
    const p = r.read();
    r.releaseLock();
    await assert.rejects(p, TypeError);
});

test('ReadableStream: cancel reaches the source and reads end', async () => {
    let reason;
    const s = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { reason = r; } });
    await s.cancel('why');
    assert.equal(reason, 'why');
    assert.deepEqual(await s.getReader().read(), { value: undefined, done: true });
});

test('ReadableStream: errors reject reads and closed', async () => {
    const e = new Error('boom');
    const s = new ReadableStream({ start(c) { c.error(e); } });
    const r = s.getReader();
    await assert.rejects(r.read(), { message: 'boom' });
    await assert.rejects(r.closed, Error);
    const thrown = new ReadableStream({ pull() { throw new RangeError('pull'); } });
    await assert.rejects(thrown.getReader().read(), RangeError);
    assert.throws(() => new ReadableStream({ start() { throw new SyntaxError('x'); } }), SyntaxError);
});

test('ReadableStream: constructor argument checks', () => {
    assert.throws(() => new ReadableStream(null), TypeError);
    assert.throws(() => new ReadableStream({ type: 'nope' }), TypeError);
    assert.throws(() => new ReadableStream({ pull: 5 }), TypeError);
    assert.throws(() => new ReadableStream({}, { highWaterMark: -1 }), RangeError);
    assert.throws(() => new ReadableStream({}, { size: 5 }), TypeError);
    assert.throws(() => new ReadableStream({ type: 'bytes' }, { size: () => 1 }), RangeError);
    assert.throws(() => new ReadableStream({ type: 'bytes', autoAllocateChunkSize: 0 }), TypeError);
    assert.throws(() => new ReadableStream({ start(c) { c.close(); c.enqueue(1); } }), TypeError);
});

test('ReadableStream: enqueue with a bad size errors the stream', async () => {
    let c;
    const s = new ReadableStream({ start(x) { c = x; } }, { size: () => -1 });
    assert.throws(() => c.enqueue('a'), RangeError);
    await assert.rejects(s.getReader().read(), RangeError);
});

test('byte stream: default reader gets Uint8Arrays', async () => {
    const s = new ReadableStream({
        type: 'bytes',
        start(c) {
            c.enqueue(new Uint8Array([1, 2, 3]));
            c.close();
        },
    });
    const chunks = await readAll(s);
    assert.equal(chunks.length, 1);
    assert.ok(chunks[0] instanceof Uint8Array);
    assert.deepEqual(chunks[0], new Uint8Array([1, 2, 3]));
});

test('byte stream: BYOB reader fills the caller\'s buffer from the queue', async () => {
    const s = new ReadableStream({
        type: 'bytes',
        start(c) {
            c.enqueue(new Uint8Array([1, 2, 3, 4, 5]));
            c.close();
        },
    });
    const r = s.getReader({ mode: 'byob' });
    assert.ok(r instanceof ReadableStreamBYOBReader);
    const first = await r.read(new Uint8Array(2));
    assert.deepEqual(first.value, new Uint8Array([1, 2]));
    const second = await r.read(new Uint8Array(8));
    assert.deepEqual(second.value, new Uint8Array([3, 4, 5]));
    const end = await r.read(new Uint8Array(8));
    assert.equal(end.done, true);
    assert.equal(end.value.byteLength, 0);
});

test('byte stream: byobRequest.respond and the min option', async () => {
    let n = 0;
    const s = new ReadableStream({
        type: 'bytes',
        pull(c) {
            const view = c.byobRequest.view;
            view[0] = ++n;
            c.byobRequest.respond(1);
        },
    });
    const r = s.getReader({ mode: 'byob' });
    const { value } = await r.read(new Uint8Array(4), { min: 3 });
    assert.deepEqual(value, new Uint8Array([1, 2, 3]));
    const u16 = await r.read(new Uint16Array(1));
    assert.ok(u16.value instanceof Uint16Array);
    assert.equal(u16.value.length, 1);
    await assert.rejects(r.read(new Uint8Array(0)), TypeError);
    await assert.rejects(r.read(new Uint8Array(2), { min: 3 }), RangeError);
    await assert.rejects(r.read(new Uint8Array(2), { min: 0 }), TypeError);
    await assert.rejects(r.read('x'), TypeError);
});

test('byte stream: the read view\'s buffer is transferred', async () => {
    const s = new ReadableStream({
        type: 'bytes',
        pull(c) {
            c.byobRequest.view[0] = 7;
            c.byobRequest.respond(1);
        },
    });
    const buffer = new ArrayBuffer(4);
    const { value } = await s.getReader({ mode: 'byob' }).read(new Uint8Array(buffer));
    assert.equal(buffer.byteLength, 0, 'the caller\'s buffer is detached');
    assert.equal(value.buffer.byteLength, 4);
    assert.equal(value[0], 7);
});

test('byte stream: autoAllocateChunkSize gives default readers a byobRequest', async () => {
    const s = new ReadableStream({
        type: 'bytes',
        autoAllocateChunkSize: 16,
        pull(c) {
            const v = c.byobRequest.view;
            assert.equal(v.byteLength, 16);
            v.set([9, 8]);
            c.byobRequest.respond(2);
            c.close();
        },
    });
    const r = s.getReader();
    assert.deepEqual((await r.read()).value, new Uint8Array([9, 8]));
    assert.equal((await r.read()).done, true);
});

test('byte stream: enqueue checks', () => {
    let c;
    new ReadableStream({ type: 'bytes', start(x) { c = x; } });
    assert.throws(() => c.enqueue('str'), TypeError);
    assert.throws(() => c.enqueue(new Uint8Array(0)), TypeError);
    c.close();
    assert.throws(() => c.enqueue(new Uint8Array(1)), TypeError);
    assert.throws(() => c.close(), TypeError);
});

test('tee: both branches see every chunk; cancel of both cancels the source with both reasons', async () => {
    const s = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } });
    const [x, y] = s.tee();
    assert.equal(s.locked, true);
    assert.deepEqual(await readAll(x), ['a', 'b']);
    assert.deepEqual(await readAll(y), ['a', 'b']);

    let reason;
    const src = new ReadableStream({ cancel(r) { reason = r; } });
    const [p, q] = src.tee();
    const c1 = p.cancel('one');
    await tick();
    assert.equal(reason, undefined, 'one branch cancelled: the source goes on');
    await q.cancel('two');
    await c1;
    assert.deepEqual(reason, ['one', 'two']);
});

test('tee: an error reaches both branches; byte streams give each branch its own bytes', async () => {
    let c;
    const [a, b] = new ReadableStream({ start(x) { c = x; } }).tee();
    c.error(new TypeError('bad'));
    await assert.rejects(a.getReader().read(), TypeError);
    await assert.rejects(b.getReader().read(), TypeError);

    const bytes = new ReadableStream({ type: 'bytes', start(x) { x.enqueue(new Uint8Array([1, 2])); x.close(); } });
    const [u, v] = bytes.tee();
    const [cu] = await readAll(u);
    const [cv] = await readAll(v);
    cu[0] = 99;
    assert.equal(cv[0], 1);
    const [w] = new ReadableStream({ type: 'bytes' }).tee();
    assert.ok(w.getReader({ mode: 'byob' }) instanceof ReadableStreamBYOBReader);
});

test('async iteration: break cancels unless preventCancel', async () => {
    let canceled = 0;
    const mk = () => new ReadableStream({
        pull(c) { c.enqueue(1); },
        cancel() { canceled++; },
    });
    const s = mk();
    for await (const v of s) {
        assert.equal(v, 1);
        break;
    }
    assert.equal(canceled, 1);
    assert.equal(s.locked, false);
    const kept = mk();
    for await (const v of kept.values({ preventCancel: true })) {
        assert.equal(v, 1);
        break;
    }
    assert.equal(canceled, 1);
    assert.equal(kept.locked, false);
    assert.equal((await kept.getReader().read()).value, 1);
    assert.equal(ReadableStream.prototype[Symbol.asyncIterator], ReadableStream.prototype.values);
});

test('async iteration: errors are thrown from the loop', async () => {
    const s = new ReadableStream({ start(c) { c.enqueue(1); c.error(new RangeError('r')); } });
    await assert.rejects(async () => {
        for await (const v of s)
            void v;
    }, RangeError);
});

test('ReadableStream.from: async and sync iterables', async () => {
    async function* gen() {
        yield 1;
        yield 2;
    }
    assert.deepEqual(await readAll(ReadableStream.from(gen())), [1, 2]);
    assert.deepEqual(await readAll(ReadableStream.from(['a', 'b'])), ['a', 'b']);
    assert.throws(() => ReadableStream.from(5), TypeError);
    let returned = false;
    const it = { [Symbol.asyncIterator]() { return { next: async () => ({ value: 0, done: false }), return: async () => { returned = true; return {}; } }; } };
    const s = ReadableStream.from(it);
    await s.cancel('x');
    assert.ok(returned);
});

test('WritableStream: writes in order, one at a time, then close', async () => {
    const log = [];
    let inFlight = 0;
    const ws = new WritableStream({
        async write(chunk) {
            inFlight++;
            assert.equal(inFlight, 1, 'one write at a time');
            await tick(2);
            log.push(chunk);
            inFlight--;
        },
        close() {
            log.push('closed');
        },
    });
    const w = ws.getWriter();
    await Promise.all([w.write('a'), w.write('b'), w.write('c')]);
    await w.close();
    assert.deepEqual(log, ['a', 'b', 'c', 'closed']);
    await w.closed;
    assert.equal(w.desiredSize, 0);
});

test('WritableStream: backpressure through ready and desiredSize', async () => {
    let release;
    const ws = new WritableStream({
        write() {
            return new Promise((r) => { release = r; });
        },
    }, new CountQueuingStrategy({ highWaterMark: 2 }));
    const w = ws.getWriter();
    assert.equal(w.desiredSize, 2);
    w.write('1');
    w.write('2');
    assert.equal(w.desiredSize, 0);
    let ready = false;
    w.ready.then(() => { ready = true; });
    await tick();
    assert.equal(ready, false, 'ready waits while the queue is full');
    release();
    await tick(10);
    assert.equal(ready, true);
});

test('WritableStream: abort waits for the write in flight, rejects queued writes', async () => {
    let finish;
    const { log, stream } = recorder({ write: () => new Promise((r) => { finish = r; }) });
    const w = stream.getWriter();
    const p1 = w.write('a');
    const p2 = w.write('b');
    await tick();
    const aborted = w.abort('stop');
    assert.equal(w.desiredSize, null);
    finish();
    await p1;
    await assert.rejects(p2, undefined);
    await aborted;
    assert.deepEqual(log, [['abort', 'stop']]);
    await assert.rejects(w.closed, undefined);
});

test('WritableStream: abort with no write in flight', async () => {
    const { log, stream } = recorder();
    await stream.abort('why');
    assert.deepEqual(log, [['abort', 'why']]);
    await assert.rejects(stream.getWriter().write('x'), undefined);
});

test('WritableStream: a failing sink errors the stream', async () => {
    const ws = new WritableStream({ write() { throw new RangeError('w'); } });
    const w = ws.getWriter();
    await assert.rejects(w.write('x'), RangeError);
    await assert.rejects(w.closed, RangeError);
    await assert.rejects(w.write('y'), RangeError);
});

test('WritableStream: locks and released writers', async () => {
    const ws = new WritableStream();
    const w = ws.getWriter();
    assert.equal(ws.locked, true);
    assert.throws(() => ws.getWriter(), TypeError);
    await assert.rejects(ws.close(), TypeError);
    await assert.rejects(ws.abort(), TypeError);
    w.releaseLock();
    await assert.rejects(w.write('x'), TypeError);
    assert.throws(() => w.desiredSize, TypeError);
    await assert.rejects(w.closed, TypeError);
    await ws.close();
    await assert.rejects(ws.getWriter().write('x'), TypeError);
    assert.throws(() => new WritableStream({ type: 'bytes' }), RangeError);
    assert.throws(() => new WritableStreamDefaultWriter({}), TypeError);
});

test('WritableStream: controller.error and start failures', async () => {
    let controller;
    const ws = new WritableStream({ start(c) { controller = c; } });
    controller.error(new TypeError('e'));
    await assert.rejects(ws.getWriter().closed, TypeError);
    const bad = new WritableStream({ start() { return Promise.reject(new RangeError('s')); } });
    await assert.rejects(bad.getWriter().write('x'), RangeError);
});

test('pipeTo: copies every chunk and closes the destination', async () => {
    const src = new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(2); c.close(); } });
    const { log, stream } = recorder();
    await src.pipeTo(stream);
    assert.deepEqual(log, [['write', 1], ['write', 2], ['close']]);
    assert.equal(src.locked, false);
    assert.equal(stream.locked, false);
});

test('pipeTo: preventClose leaves the destination open', async () => {
    const src = new ReadableStream({ start(c) { c.enqueue('x'); c.close(); } });
    const { log, stream } = recorder();
    await src.pipeTo(stream, { preventClose: true });
    assert.deepEqual(log, [['write', 'x']]);
    const w = stream.getWriter();
    await w.write('y');
    assert.deepEqual(log, [['write', 'x'], ['write', 'y']]);
});

test('pipeTo: a source error aborts the destination unless preventAbort', async () => {
    const e = new Error('src');
    const { log, stream } = recorder();
    await assert.rejects(new ReadableStream({ start(c) { c.error(e); } }).pipeTo(stream), { message: 'src' });
    assert.deepEqual(log, [['abort', e]]);
    const kept = recorder();
    await assert.rejects(new ReadableStream({ start(c) { c.error(e); } }).pipeTo(kept.stream, { preventAbort: true }), Error);
    assert.deepEqual(kept.log, []);
});

test('pipeTo: a destination error cancels the source unless preventCancel', async () => {
    let canceled = null;
    const mk = () => new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { canceled = r; } });
    const bad = () => new WritableStream({ write() { throw new TypeError('sink'); } });
    await assert.rejects(mk().pipeTo(bad()), TypeError);
    assert.ok(canceled instanceof TypeError);
    canceled = null;
    const src = mk();
    await assert.rejects(src.pipeTo(bad(), { preventCancel: true }), TypeError);
    assert.equal(canceled, null);
    assert.equal(src.locked, false);
});

test('pipeTo: argument and lock checks reject with TypeError', async () => {
    const s = new ReadableStream();
    await assert.rejects(s.pipeTo({}), TypeError);
    const ws = new WritableStream();
    ws.getWriter();
    await assert.rejects(s.pipeTo(ws), TypeError);
    s.getReader();
    await assert.rejects(s.pipeTo(new WritableStream()), TypeError);
    await assert.rejects(new ReadableStream().pipeTo(new WritableStream(), { signal: {} }), TypeError);
});

test('pipeTo: an AbortSignal stops the pipe', async () => {
    if (typeof AbortController !== 'function')
        return; // AbortController arrives with the timers work
    const ac = new AbortController();
    let canceled = false;
    const src = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel() { canceled = true; } });
    const { log, stream } = recorder();
    const p = src.pipeTo(stream, { signal: ac.signal });
    await tick(20);
    ac.abort();
    await assert.rejects(p, { name: 'AbortError' });
    assert.ok(canceled, 'the source was cancelled');
    assert.equal(log[log.length - 1][0], 'abort', 'the destination was aborted');
    assert.ok(log.length > 1, 'chunks were piped before the abort');

    const already = new AbortController();
    already.abort(new RangeError('early'));
    await assert.rejects(new ReadableStream().pipeTo(new WritableStream(), { signal: already.signal }), RangeError);
    const kept = recorder();
    const ac2 = new AbortController();
    const p2 = new ReadableStream({ pull(c) { c.enqueue(2); } })
        .pipeTo(kept.stream, { signal: ac2.signal, preventAbort: true, preventCancel: true });
    await tick(5);
    ac2.abort();
    await assert.rejects(p2, { name: 'AbortError' });
    assert.notEqual(kept.log[kept.log.length - 1][0], 'abort', 'preventAbort');
});

test('pipeThrough: returns the readable side; locks are checked', async () => {
    const src = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } });
    const up = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); } });
    assert.deepEqual(await readAll(src.pipeThrough(up)), ['A', 'B']);
    assert.throws(() => src.pipeThrough(new TransformStream()), TypeError);
    assert.throws(() => new ReadableStream().pipeThrough({}), TypeError);
    const t = new TransformStream();
    t.writable.getWriter();
    assert.throws(() => new ReadableStream().pipeThrough(t), TypeError);
});

test('TransformStream: identity by default; transform and flush', async () => {
    const id = new TransformStream();
    const w = id.writable.getWriter();
    w.write('x');
    w.close();
    assert.deepEqual(await readAll(id.readable), ['x']);

    const t = new TransformStream({
        transform(chunk, c) {
            c.enqueue(chunk);
            c.enqueue(chunk);
        },
        flush(c) {
            c.enqueue('end');
        },
    });
    const writer = t.writable.getWriter();
    writer.write(1);
    writer.close();
    assert.deepEqual(await readAll(t.readable), [1, 1, 'end']);
    assert.throws(() => new TransformStream({ readableType: 'bytes' }), RangeError);
    assert.throws(() => new TransformStreamDefaultController(), TypeError);
});

test('TransformStream: errors and terminate', async () => {
    const t = new TransformStream({ transform() { throw new TypeError('t'); } });
    const read = t.readable.getReader().read(); // writes wait for a reader (highWaterMark 0)
    const w = t.writable.getWriter();
    await assert.rejects(w.write('x'), TypeError);
    await assert.rejects(read, TypeError);

    const term = new TransformStream({ start(c) { c.enqueue('only'); c.terminate(); } });
    assert.deepEqual(await readAll(term.readable), ['only']);
    await assert.rejects(term.writable.getWriter().write('x'), TypeError);
});

test('TransformStream: cancelling the readable errors the writable', async () => {
    let reason;
    const t = new TransformStream({ cancel(r) { reason = r; } });
    await t.readable.cancel('gone');
    assert.equal(reason, 'gone');
    await assert.rejects(t.writable.getWriter().write('x'), undefined);
});

test('TransformStream: backpressure holds writes until read', async () => {
    const t = new TransformStream({}, undefined, { highWaterMark: 0 });
    const w = t.writable.getWriter();
    let done = false;
    w.write('a').then(() => { done = true; });
    await tick();
    assert.equal(done, false);
    const r = t.readable.getReader();
    assert.equal((await r.read()).value, 'a');
    await tick();
    assert.equal(done, true);
});

test('queuing strategies', () => {
    const b = new ByteLengthQueuingStrategy({ highWaterMark: 16 });
    assert.equal(b.highWaterMark, 16);
    assert.equal(b.size(new Uint8Array(5)), 5);
    const c = new CountQueuingStrategy({ highWaterMark: 2 });
    assert.equal(c.size('anything'), 1);
    assert.equal(new CountQueuingStrategy({ highWaterMark: 1 }).size, c.size);
    assert.throws(() => new CountQueuingStrategy(), TypeError);
    assert.throws(() => new ByteLengthQueuingStrategy({}), TypeError);
});

test('TextEncoderStream and TextDecoderStream, split characters included', async () => {
    const te = new TextEncoderStream();
    assert.equal(te.encoding, 'utf-8');
    const w = te.writable.getWriter();
    w.write('h\u00e9\ud83d');
    w.write('\ude00!');
    w.close();
    const chunks = await readAll(te.readable);
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
        all.set(c, at);
        at += c.length;
    }
    assert.equal(dec.decode(all), 'h\u00e9\u{1F600}!');

    const td = new TextDecoderStream();
    assert.equal(td.encoding, 'utf-8');
    const dw = td.writable.getWriter();
    const euro = enc.encode('\u20ac');
    dw.write(euro.subarray(0, 1));
    dw.write(euro.subarray(1));
    dw.close();
    assert.equal((await readAll(td.readable)).join(''), '\u20ac');

    const fatal = new TextDecoderStream('utf-8', { fatal: true });
    assert.equal(fatal.fatal, true);
    const fw = fatal.writable.getWriter();
    fw.write(new Uint8Array([0x80, 0x41])).catch(() => {});
    fw.close().catch(() => {});
    await assert.rejects(fatal.readable.getReader().read(), TypeError);
    const bad = new TextDecoderStream();
    const pending = bad.readable.getReader().read();
    await assert.rejects(bad.writable.getWriter().write('not bytes'), TypeError);
    await assert.rejects(pending, TypeError);
    assert.throws(() => new TextDecoderStream('nope'), RangeError);
});

test('pipeThrough a TextDecoderStream from a byte stream', async () => {
    const src = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(enc.encode('abc')); c.close(); } });
    assert.deepEqual(await readAll(src.pipeThrough(new TextDecoderStream())), ['abc']);
});

test('IdentityTransformStream: bytes through a BYOB-readable side', async () => {
    const t = new IdentityTransformStream();
    assert.ok(t instanceof TransformStream);
    const w = t.writable.getWriter();
    const r = t.readable.getReader({ mode: 'byob' });
    const read = r.read(new Uint8Array(8));
    const src = new Uint8Array([1, 2, 3]);
    await w.write(src);
    src[0] = 9; // the stream copied what was written
    w.close();
    const { value } = await read;
    assert.deepEqual(value, new Uint8Array([1, 2, 3]));
    assert.equal((await r.read(new Uint8Array(8))).done, true);
    const bad = new IdentityTransformStream();
    bad.readable.getReader().read().catch(() => {});
    await assert.rejects(bad.writable.getWriter().write('str'), TypeError);
});

test('FixedLengthStream: exactly its length', async () => {
    assert.throws(() => new FixedLengthStream(-1), TypeError);
    assert.throws(() => new FixedLengthStream(1.5), TypeError);
    const ok = new FixedLengthStream(3);
    const w = ok.writable.getWriter();
    w.write(new Uint8Array([1, 2]));
    w.write(new Uint8Array([3]));
    w.close();
    assert.deepEqual((await readAll(ok.readable)).length, 2);
    const long = new FixedLengthStream(1);
    long.readable.getReader().read().catch(() => {});
    await assert.rejects(long.writable.getWriter().write(new Uint8Array(2)), TypeError);
    const short = new FixedLengthStream(5);
    const sr = short.readable.getReader();
    const sw = short.writable.getWriter();
    sw.write(new Uint8Array(1));
    await sr.read();
    await assert.rejects(sw.close(), TypeError);
    await assert.rejects(sr.read(), TypeError);
});

test('toStringTag of every stream class', () => {
    const t = new TransformStream();
    assert.equal(String(new ReadableStream()), '[object ReadableStream]');
    assert.equal(String(new WritableStream()), '[object WritableStream]');
    assert.equal(String(t), '[object TransformStream]');
    assert.equal(String(new ReadableStream().getReader()), '[object ReadableStreamDefaultReader]');
    assert.equal(String(new ReadableStream({ type: 'bytes' }).getReader({ mode: 'byob' })), '[object ReadableStreamBYOBReader]');
    assert.equal(String(new WritableStream().getWriter()), '[object WritableStreamDefaultWriter]');
});
