// ctx-independent parts of the request lifetime that a test file can see: timers belong to the
// invocation that runs the tests, and queueMicrotask/await order is kept across timers. (The
// response-before-waitUntil behaviour needs a server: tests/e2e/test_timers.c.)
import { test, assert } from "edged:test";

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
