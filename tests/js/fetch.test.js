// fetch() and the parts of Request/Response it adds (issue 4). The runner's isolates have no
// network (globalOutbound: null), so fetch() itself is checked for how it refuses; the
// network paths are end-to-end tests (tests/e2e/test_fetch.c).
import { test, assert } from "edged:test";

const NOT_PERMITTED = "This worker is not permitted to access the internet via global functions like fetch(). It must use capabilities (such as bindings in 'env') to talk to the outside world.";

test("fetch() without outbound rejects with Workers' TypeError and never throws", async () => {
    let p;
    try {
        p = fetch("https://example.com/");
    } catch (e) {
        assert.fail(`fetch() threw synchronously: ${e}`);
    }
    assert.ok(p instanceof Promise);
    await assert.rejects(p, { name: "TypeError", message: NOT_PERMITTED });
    await assert.rejects(fetch(), TypeError);
    await assert.rejects(fetch(new Request("http://example.com/x", { method: "POST", body: "b" })), TypeError);
});

test("Request.redirect: follow by default, manual and error kept, others refused", () => {
    assert.equal(new Request("http://a/").redirect, "follow");
    assert.equal(new Request("http://a/", { redirect: "manual" }).redirect, "manual");
    assert.equal(new Request("http://a/", { redirect: "error" }).redirect, "error");
    assert.throws(() => new Request("http://a/", { redirect: "sideways" }), { name: "TypeError", message: "redirect must be" });
});

test("Request.redirect survives new Request(request) and clone(), init overrides it", () => {
    const r = new Request("http://a/", { redirect: "manual" });
    assert.equal(new Request(r).redirect, "manual");
    assert.equal(r.clone().redirect, "manual");
    assert.equal(new Request(r, { redirect: "error" }).redirect, "error");
});

test("Response.url and redirected: empty and false unless fetch() made the response", () => {
    const r = new Response("x");
    assert.equal(r.url, "");
    assert.equal(r.redirected, false);
    assert.equal(r.clone().url, "");
    assert.equal(Response.redirect("http://a/b", 301).url, "");
    assert.equal(Response.json({}).redirected, false);
});
