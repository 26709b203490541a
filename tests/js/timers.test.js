// setTimeout, setInterval, clearTimeout, clearInterval and scheduler.wait: ordering, arguments,
// cancellation, intervals (0 is clamped to 1 ms), ids, bad arguments, the per-request limit.
import { test, assert } from "edged:test";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("timeouts run in order of due time, then of creation", async () => {
    const out = [];
    setTimeout(() => out.push("c"), 15);
    setTimeout(() => out.push("a1"), 0);
    setTimeout(() => out.push("b"), 5);
    setTimeout(() => out.push("a2"), 0);
    setTimeout(() => out.push("a3"));
    await sleep(30);
    assert.deepEqual(out, ["a1", "a2", "a3", "b", "c"]);
});

test("a timeout passes its extra arguments", async () => {
    const got = await new Promise((resolve) => setTimeout((...args) => resolve(args), 1, "x", 2, null));
    assert.deepEqual(got, ["x", 2, null]);
});

test("microtasks run before the next timer", async () => {
    const out = [];
    setTimeout(() => {
        out.push("t1");
        queueMicrotask(() => out.push("m1"));
        Promise.resolve().then(() => out.push("p1"));
    }, 1);
    setTimeout(() => out.push("t2"), 1);
    await sleep(10);
    assert.deepEqual(out, ["t1", "m1", "p1", "t2"]);
});

test("clearTimeout cancels, and ignores what is not a pending timer", async () => {
    let ran = false;
    const id = setTimeout(() => { ran = true; }, 1);
    assert.equal(typeof id, "number");
    clearTimeout(id);
    clearTimeout(id);
    clearTimeout(undefined);
    clearTimeout(null);
    clearTimeout("1");
    clearTimeout(-1);
    clearTimeout(1.5);
    clearTimeout(2 ** 53);
    await sleep(10);
    assert.equal(ran, false);
});

test("ids are distinct and clearTimeout/clearInterval are interchangeable", async () => {
    const a = setTimeout(() => {}, 1);
    const b = setInterval(() => {}, 1);
    assert.notEqual(a, b);
    assert(b > a, "ids increase");
    let ran = 0;
    const c = setInterval(() => ran++, 1);
    clearTimeout(c);
    clearInterval(a);
    clearTimeout(b);
    await sleep(10);
    assert.equal(ran, 0);
});

test("an interval repeats until cleared, even from its own callback", async () => {
    let n = 0;
    await new Promise((resolve) => {
        const id = setInterval(() => {
            n++;
            if (n === 3) {
                clearInterval(id);
                resolve();
            }
        }, 2);
    });
    await sleep(10);
    assert.equal(n, 3);
});

test("setInterval with 0 runs (every millisecond), not in a busy loop", async () => {
    let n = 0;
    const t0 = Date.now();
    const id = setInterval(() => n++, 0);
    await sleep(20);
    clearInterval(id);
    const elapsed = Date.now() - t0;
    assert(n >= 2, `ran ${n} times`);
    assert(n <= elapsed + 1, `ran ${n} times in ${elapsed} ms`);
});

test("odd delays: negative, NaN and strings are 0 or their number", async () => {
    const out = [];
    setTimeout(() => out.push("nan"), NaN);
    setTimeout(() => out.push("neg"), -5);
    setTimeout(() => out.push("str"), "3");
    setTimeout(() => out.push("zero"), 0);
    await sleep(15);
    assert.deepEqual(out, ["nan", "neg", "zero", "str"]);
});

test("a callback that is not a function is a TypeError (strings are never evaluated)", () => {
    assert.throws(() => setTimeout("globalThis.x = 1", 1), TypeError);
    assert.throws(() => setInterval(undefined, 1), { name: "TypeError", message: "must be a function" });
    assert.throws(() => setTimeout(), TypeError);
});

test("a callback that throws does not stop the others", async () => {
    const out = [];
    setTimeout(() => { throw new Error("reported to the tenant's log"); }, 1);
    setTimeout(() => out.push("next"), 2);
    await sleep(10);
    assert.deepEqual(out, ["next"]);
});

test("a request may have at most 10000 timers pending", () => {
    const ids = [];
    let err;
    try {
        for (let i = 0; i < 1e6; i++)
            ids.push(setTimeout(() => {}, 60000));
    } catch (e) {
        err = e;
    }
    ids.forEach(clearTimeout);
    assert(err instanceof RangeError, String(err));
    assert.equal(ids.length, 10000);
    assert(err.message.includes("at most 10000"), err.message);
    // cleared: there is room again
    clearTimeout(setTimeout(() => {}, 1));
});

test("scheduler.wait resolves after its delay and honours a signal", async () => {
    const t0 = Date.now();
    assert.equal(await scheduler.wait(10), undefined);
    assert(Date.now() - t0 >= 10);
    const c = new AbortController();
    const p = scheduler.wait(60000, { signal: c.signal });
    c.abort(new Error("enough"));
    await assert.rejects(p, { message: "enough" });
    await assert.rejects(scheduler.wait(1, { signal: AbortSignal.abort() }), { name: "AbortError" });
    await assert.rejects(scheduler.wait(1, { signal: {} }), TypeError);
});

test("a timer set in a test keeps the test waiting until it fires", async () => {
    let fired = false;
    await new Promise((resolve) => setTimeout(() => {
        fired = true;
        resolve();
    }, 5));
    assert.equal(fired, true);
});

test("nested timers chain", async () => {
    const out = [];
    await new Promise((resolve) => {
        setTimeout(() => {
            out.push(1);
            setTimeout(() => {
                out.push(2);
                setTimeout(() => {
                    out.push(3);
                    resolve();
                }, 0);
            }, 1);
        }, 1);
    });
    assert.deepEqual(out, [1, 2, 3]);
});
