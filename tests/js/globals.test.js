// DOMException, atob/btoa, structuredClone and queueMicrotask: results and the exact errors.
import { test, assert } from 'edged:test';

test('DOMException: names, messages, legacy codes and constants', () => {
    const e = new DOMException('bad char', 'InvalidCharacterError');
    assert(e instanceof DOMException);
    assert(e instanceof Error);
    assert.equal(e.name, 'InvalidCharacterError');
    assert.equal(e.message, 'bad char');
    assert.equal(e.code, 5);
    assert.equal(String(e), 'InvalidCharacterError: bad char');
    assert.equal(typeof e.stack, 'string');
    assert.equal(Object.prototype.toString.call(e), '[object DOMException]');
    const d = new DOMException();
    assert.equal(d.name, 'Error');
    assert.equal(d.message, '');
    assert.equal(d.code, 0);
    assert.equal(new DOMException('x', 'OperationError').code, 0, 'no legacy code');
    assert.equal(new DOMException('x', 'DataCloneError').code, 25);
    assert.equal(new DOMException('x', 'AbortError').code, 20);
    assert.equal(new DOMException('x', 'NotSupportedError').code, 9);
    assert.equal(DOMException.INVALID_CHARACTER_ERR, 5);
    assert.equal(DOMException.DATA_CLONE_ERR, 25);
    assert.equal(e.QUOTA_EXCEEDED_ERR, 22);
    assert.throws(() => Object.getOwnPropertyDescriptor(DOMException.prototype, 'name').get.call({}),
        TypeError);
    assert.throws(() => DOMException('x'), TypeError, 'needs new');
});

test('btoa and atob round-trip Latin-1 and follow forgiving base64', () => {
    assert.equal(btoa(''), '');
    assert.equal(btoa('f'), 'Zg==');
    assert.equal(btoa('fo'), 'Zm8=');
    assert.equal(btoa('foo'), 'Zm9v');
    assert.equal(btoa('\u00ff\u00fe'), '//4=');
    assert.equal(btoa(12), 'MTI=');
    assert.equal(atob('Zm9v'), 'foo');
    assert.equal(atob('Zg'), 'f', 'padding optional');
    assert.equal(atob(' Zm 9v\n'), 'foo', 'ASCII whitespace ignored');
    assert.equal(atob('//4='), '\u00ff\u00fe');
    assert.equal(atob(''), '');
    let all = '';
    for (let i = 0; i < 256; i++)
        all += String.fromCharCode(i);
    assert.equal(atob(btoa(all)), all);
    const long = 'x'.repeat(100000);
    assert.equal(atob(btoa(long)), long);
});

test('atob and btoa fail with InvalidCharacterError DOMExceptions', () => {
    for (const bad of ['Zm9v=', 'Z', 'Zm9v====', 'Z===', 'Zm$v', 'Zm=v', '\u0100AAA']) {
        const e = assert.throws(() => atob(bad), DOMException, bad);
        assert.equal(e.name, 'InvalidCharacterError');
        assert.equal(e.code, 5);
    }
    assert.throws(() => btoa('\u20ac'), { name: 'InvalidCharacterError', message: 'Latin1' });
    assert.throws(() => atob(), TypeError);
    assert.throws(() => btoa(), TypeError);
});

test('structuredClone copies deeply, keeps cycles and types', () => {
    const cyclic = { n: 1, when: new Date(7), re: /x/g, m: new Map([[1, { a: 1 }]]),
        s: new Set([1, 2]), bytes: new Uint8Array([1, 2, 3]), big: 10n, err: new RangeError('r') };
    cyclic.self = cyclic;
    const c = structuredClone(cyclic);
    assert.notEqual(c, cyclic);
    assert.equal(c.self, c);
    assert.deepEqual(c.m, cyclic.m);
    assert.notEqual(c.m.get(1), cyclic.m.get(1));
    assert.deepEqual(c.when, cyclic.when);
    assert.equal(String(c.re), '/x/g');
    assert.deepEqual(c.bytes, cyclic.bytes);
    assert.equal(c.big, 10n);
    assert(c.err instanceof RangeError);
    assert.equal(c.err.message, 'r');
    assert.equal(structuredClone(undefined), undefined);
    assert.equal(structuredClone('s'), 's');
});

test('structuredClone transfers ArrayBuffers', () => {
    const buf = new Uint8Array([9, 8, 7]).buffer;
    const c = structuredClone({ buf }, { transfer: [buf] });
    assert.equal(buf.byteLength, 0, 'detached');
    assert.deepEqual(new Uint8Array(c.buf), new Uint8Array([9, 8, 7]));
    assert.throws(() => structuredClone(buf, { transfer: [buf] }), { name: 'DataCloneError' });
    const b2 = new ArrayBuffer(1);
    assert.throws(() => structuredClone(1, { transfer: [b2, b2] }), { name: 'DataCloneError' });
    assert.throws(() => structuredClone(1, { transfer: [{}] }), { name: 'DataCloneError' });
    assert.throws(() => structuredClone(1, { transfer: 5 }), TypeError);
});

test('what cannot be cloned is a DataCloneError DOMException', () => {
    for (const v of [() => 1, { f() {} }, Symbol('s'), new WeakMap(), Promise.resolve()]) {
        const e = assert.throws(() => structuredClone(v), DOMException);
        assert.equal(e.name, 'DataCloneError');
        assert.equal(e.code, 25);
    }
    assert.throws(() => structuredClone(), TypeError);
    const thrower = { get x() { throw new RangeError('from a getter'); } };
    assert.throws(() => structuredClone(thrower), RangeError, 'a getter\'s error passes through');
});

test('queueMicrotask runs callbacks in order; bad callbacks are TypeErrors', async () => {
    const seen = [];
    queueMicrotask(() => seen.push(1));
    queueMicrotask(() => seen.push(2));
    await new Promise((resolve) => queueMicrotask(resolve));
    assert.deepEqual(seen, [1, 2]);
    assert.throws(() => queueMicrotask(1), TypeError);
});
