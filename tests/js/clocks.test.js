// The Spectre-minded clocks: Date.now(), new Date() and performance.now() are frozen while
// JavaScript runs and move only at I/O boundaries (here: a timer firing); no
// SharedArrayBuffer, no Atomics.wait, no eval or new Function at request time.
import { test, assert } from "edged:test";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function spin(ms) {
    // Busy for about ms of real time without reading a clock that could tell: count loop
    // iterations calibrated very roughly (the clocks are frozen, so we cannot measure).
    let x = 0;
    for (let i = 0; i < ms * 200000; i++)
        x += i & 1;
    return x;
}

test("Date.now, new Date and performance.now do not advance in a busy loop", () => {
    const d = Date.now();
    const n = new Date().getTime();
    const p = performance.now();
    spin(30);
    assert.equal(Date.now(), d);
    assert.equal(new Date().getTime(), n);
    assert.equal(new Date().valueOf(), d);
    assert.equal(performance.now(), p);
    assert.equal(n, d);
});

test("the clocks move across an await of a timer", async () => {
    const d = Date.now();
    const p = performance.now();
    await sleep(20);
    assert(Date.now() - d >= 20, `moved ${Date.now() - d} ms`);
    assert(performance.now() - p >= 20);
    assert.equal(Date.now() - d, performance.now() - p);
});

test("a resolved promise alone is no I/O: the clock stays", async () => {
    const d = Date.now();
    spin(10);
    await Promise.resolve();
    await null;
    assert.equal(Date.now(), d);
});

test("performance.timeOrigin plus performance.now() is Date.now()", () => {
    assert.equal(typeof performance.timeOrigin, "number");
    assert(performance.timeOrigin > Date.UTC(2020, 0, 1));
    assert.equal(performance.timeOrigin + performance.now(), Date.now());
    assert(performance.now() >= 0);
    assert.equal(Object.prototype.toString.call(performance), "[object Performance]");
    assert.deepEqual(performance.toJSON(), { timeOrigin: performance.timeOrigin });
});

test("the clocks have whole-millisecond resolution", () => {
    assert(Number.isInteger(Date.now()));
    assert(Number.isInteger(performance.now()));
});

test("no SharedArrayBuffer, and Atomics.wait refuses", () => {
    assert.equal(typeof SharedArrayBuffer, "undefined");
    assert.equal(globalThis.SharedArrayBuffer, undefined);
    assert.throws(() => Atomics.wait(new Int32Array(4), 0, 0, 0), TypeError);
    // shared WebAssembly memory is no way around it: its buffer is not shared
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    assert.equal(Object.prototype.toString.call(mem.buffer), "[object ArrayBuffer]");
});

test("eval and new Function throw an EvalError at request time", () => {
    const refused = { name: "EvalError", message: "Code generation from strings disallowed" };
    assert.throws(() => eval("1 + 1"), refused);
    assert.throws(() => (0, eval)("1 + 1"), refused);
    assert.throws(() => new Function("return 1"), refused);
    assert.throws(() => Function("return 1"), refused);
    assert.throws(() => (async function () {}).constructor("return 1"), refused);
    assert.throws(() => (function* () {}).constructor("yield 1"), refused);
    // what needs no code generation still works
    assert.equal(JSON.parse("[1]")[0], 1);
    assert.equal(new RegExp("a+").test("aa"), true);
});
