// The harness itself (edged:test): each assertion passes and fails where it should, async tests
// are awaited, tests run in order, and the environment is the one the contract promises (the
// full runtime, no network).
import { test, assert } from 'edged:test';
import { env } from 'cloudflare:workers';

const order = [];

test('tests run in registration order', () => {
    order.push(1);
});

test('async tests are awaited before the next one starts', async () => {
    await Promise.resolve();
    await new Promise((resolve) => queueMicrotask(resolve));
    order.push(2);
});

test('... so this one sees both', () => {
    assert.deepEqual(order, [1, 2]);
});

test('assert and assert.ok pass on truthy values and fail on falsy ones', () => {
    assert(1);
    assert.ok('x');
    assert.throws(() => assert(0), { name: 'AssertionError', message: 'expected a truthy value' });
    assert.throws(() => assert.ok(''), { message: /truthy/ });
    assert.throws(() => assert(false, 'my message'), { message: 'my message' });
});

test('assert.equal uses Object.is', () => {
    assert.equal(NaN, NaN);
    assert.notEqual(0, -0);
    assert.throws(() => assert.equal(0, -0), { message: 'expected -0, got 0' });
    assert.throws(() => assert.equal('1', 1), { name: 'AssertionError' });
    assert.throws(() => assert.notEqual(2, 2), { message: 'expected anything but 2' });
});

test('assert.deepEqual compares structure', () => {
    assert.deepEqual({ a: [1, { b: 2 }], c: 'x' }, { c: 'x', a: [1, { b: 2 }] });
    assert.deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]));
    assert.deepEqual(new Uint8Array([1, 2]).buffer, new Uint8Array([1, 2]).buffer);
    assert.deepEqual(new Map([[1, { a: 1 }]]), new Map([[1, { a: 1 }]]));
    assert.deepEqual(new Set([1, 'a', { x: 1 }]), new Set([{ x: 1 }, 'a', 1]));
    assert.deepEqual(new Date(5), new Date(5));
    const cyclic = { a: null };
    cyclic.a = cyclic;
    const cyclic2 = { a: null };
    cyclic2.a = cyclic2;
    assert.deepEqual(cyclic, cyclic2);
    assert.throws(() => assert.deepEqual({ a: 1 }, { a: 2 }), { message: 'value.a differs' });
    assert.throws(() => assert.deepEqual([1, 2], [1, 2, 3]), { message: 'length 2 vs 3' });
    assert.throws(() => assert.deepEqual(new Uint8Array([1]), new Int8Array([1])));
    assert.throws(() => assert.deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])),
        { message: 'byte 1' });
    assert.throws(() => assert.deepEqual(new Map([[1, 1]]), new Map([[1, 2]])));
    assert.throws(() => assert.deepEqual(new Set([1]), new Set([2])));
    assert.throws(() => assert.deepEqual(new Date(5), new Date(6)));
    assert.throws(() => assert.deepEqual({}, []), { message: 'different types' });
});

test('assert.throws checks the class, the name and the message', () => {
    const e = assert.throws(() => { throw new RangeError('out of range'); }, RangeError);
    assert.equal(e.message, 'out of range');
    assert.throws(() => { throw new TypeError('bad'); }, Error);
    assert.throws(() => { throw new TypeError('bad thing'); }, { name: 'TypeError', message: 'thing' });
    assert.throws(() => { throw new TypeError('bad thing'); }, { message: /^bad/ });
    assert.throws(() => assert.throws(() => {}), { message: 'nothing was thrown' });
    assert.throws(() => assert.throws(() => { throw new TypeError('x'); }, RangeError),
        { message: 'expected an instance of RangeError' });
    assert.throws(() => assert.throws(() => { throw new TypeError('x'); }, { name: 'RangeError' }),
        { name: 'AssertionError' });
    assert.throws(() => assert.throws(() => { throw new TypeError('x'); }, { message: 'y' }),
        { name: 'AssertionError' });
});

test('assert.rejects takes a promise or an async function', async () => {
    await assert.rejects(Promise.reject(new TypeError('nope')), TypeError);
    await assert.rejects(async () => { throw new RangeError('late'); }, { message: 'late' });
    await assert.rejects(() => { throw new Error('sync'); }, { message: 'sync' });
    await assert.rejects(assert.rejects(Promise.resolve(1)), { message: 'the promise fulfilled' });
    await assert.rejects(assert.rejects(Promise.reject(new TypeError('x')), RangeError),
        { name: 'AssertionError' });
});

test('assert.fail always throws', () => {
    assert.throws(() => assert.fail('because'), { name: 'AssertionError', message: 'because' });
});

test('test() refuses registration once the run started', () => {
    assert.throws(() => test('late', () => {}), { message: 'top level' });
});

test('the runtime is there and the network is not', async () => {
    for (const name of ['Request', 'Response', 'Headers', 'TextEncoder', 'TextDecoder', 'ReadableStream'])
        assert.equal(typeof globalThis[name], 'function', name);
    await assert.rejects(fetch('http://example.com/'),
        { name: 'TypeError', message: 'not permitted to access the internet' });
});

test('env.LOADER runs child workers', async () => {
    const child = env.LOADER.get('adder', () => ({
        compatibilityDate: '2025-01-01',
        mainModule: 'main.js',
        modules: { 'main.js': 'export default { add(a, b) { return a + b; } };' },
    }));
    assert.equal(await child.getEntrypoint().add(2, 3), 5);
});

test('console output is passed through', () => {
    console.log('runner.test.js: a line of test output');
});
