// AbortController and AbortSignal: abort(reason), aborted, reason, throwIfAborted, onabort,
// AbortSignal.abort(), AbortSignal.timeout() (on the request's timers), AbortSignal.any().
import { test, assert } from "edged:test";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("a new controller's signal is not aborted", () => {
    const c = new AbortController();
    assert.equal(c.signal.aborted, false);
    assert.equal(c.signal.reason, undefined);
    c.signal.throwIfAborted();
    assert.equal(c.signal, c.signal);
    assert(c.signal instanceof AbortSignal);
    assert(c.signal instanceof EventTarget);
    assert.equal(Object.prototype.toString.call(c.signal), "[object AbortSignal]");
});

test("abort(reason) sets aborted and reason once, and fires abort once", () => {
    const c = new AbortController();
    const seen = [];
    c.signal.addEventListener("abort", (e) => seen.push(["listener", e.type, e.target === c.signal]));
    c.signal.onabort = (e) => seen.push(["onabort", e.type]);
    const reason = new Error("why");
    c.abort(reason);
    c.abort(new Error("ignored"));
    assert.equal(c.signal.aborted, true);
    assert.equal(c.signal.reason, reason);
    assert.deepEqual(seen, [["listener", "abort", true], ["onabort", "abort"]]);
    assert.throws(() => c.signal.throwIfAborted(), { message: "why" });
});

test("abort() without a reason gives an AbortError DOMException", () => {
    const c = new AbortController();
    c.abort();
    assert.equal(c.signal.reason.name, "AbortError");
    assert.equal(c.signal.reason.code, 20);
    if (typeof DOMException === "function")
        assert(c.signal.reason instanceof DOMException);
    assert.throws(() => c.signal.throwIfAborted(), { name: "AbortError" });
});

test("any value can be a reason, falsy ones included", () => {
    for (const r of [0, "", null, false, 42, "text"]) {
        const c = new AbortController();
        c.abort(r);
        assert.equal(c.signal.reason, r);
    }
});

test("onabort is an event handler: replaced, cleared, not called twice", () => {
    const c = new AbortController();
    let a = 0, b = 0;
    c.signal.onabort = () => a++;
    c.signal.onabort = () => b++;
    assert.equal(typeof c.signal.onabort, "function");
    c.abort();
    assert.equal(a, 0);
    assert.equal(b, 1);
    const d = new AbortController();
    d.signal.onabort = () => a++;
    d.signal.onabort = null;
    assert.equal(d.signal.onabort, null);
    d.abort();
    assert.equal(a, 0);
});

test("AbortSignal.abort(reason) is aborted already", () => {
    const s = AbortSignal.abort();
    assert.equal(s.aborted, true);
    assert.equal(s.reason.name, "AbortError");
    assert.equal(AbortSignal.abort("r").reason, "r");
});

test("AbortSignal.timeout aborts with a TimeoutError after its delay", async () => {
    const t0 = Date.now();
    const s = AbortSignal.timeout(10);
    assert.equal(s.aborted, false);
    const e = await new Promise((resolve) => s.addEventListener("abort", resolve, { once: true }));
    assert.equal(e.type, "abort");
    assert.equal(s.aborted, true);
    assert.equal(s.reason.name, "TimeoutError");
    assert.equal(s.reason.code, 23);
    assert(Date.now() - t0 >= 10);
    assert.throws(() => AbortSignal.timeout(-1), TypeError);
    assert.throws(() => AbortSignal.timeout(Infinity), TypeError);
});

test("AbortSignal.any follows the first of its signals", async () => {
    const a = new AbortController(), b = new AbortController();
    const s = AbortSignal.any([a.signal, b.signal]);
    assert.equal(s.aborted, false);
    b.abort("b first");
    a.abort("a later");
    assert.equal(s.aborted, true);
    assert.equal(s.reason, "b first");
    const already = AbortSignal.any([new AbortController().signal, AbortSignal.abort("done")]);
    assert.equal(already.reason, "done");
    const timed = AbortSignal.any([AbortSignal.timeout(5)]);
    await sleep(15);
    assert.equal(timed.reason.name, "TimeoutError");
    assert.throws(() => AbortSignal.any([{}]), TypeError);
    assert.equal(AbortSignal.any([]).aborted, false);
});

test("AbortSignal cannot be constructed, and its getters check their receiver", () => {
    assert.throws(() => new AbortSignal(), TypeError);
    const get = Object.getOwnPropertyDescriptor(AbortSignal.prototype, "aborted").get;
    assert.throws(() => get.call({}), TypeError);
    assert.throws(() => AbortController.prototype.abort.call({}), TypeError);
});

test("a listener added with a signal goes when the signal aborts", () => {
    const target = new EventTarget();
    const c = new AbortController();
    let n = 0;
    target.addEventListener("ping", () => n++, { signal: c.signal });
    target.dispatchEvent(new Event("ping"));
    c.abort();
    target.dispatchEvent(new Event("ping"));
    assert.equal(n, 1);
    target.addEventListener("ping", () => n++, { signal: c.signal }); // aborted: never added
    target.dispatchEvent(new Event("ping"));
    assert.equal(n, 1);
    assert.throws(() => target.addEventListener("ping", () => {}, { signal: "no" }), TypeError);
});

test("a throwing abort listener does not stop the others", () => {
    const c = new AbortController();
    let ran = false;
    c.signal.addEventListener("abort", () => { throw new Error("reported"); });
    c.signal.addEventListener("abort", () => { ran = true; });
    c.abort();
    assert.equal(ran, true);
});
