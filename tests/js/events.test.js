// Event, EventTarget and CustomEvent: listeners in order, once, duplicates, removal during
// dispatch, handleEvent objects, preventDefault, stopImmediatePropagation, bad arguments.
import { test, assert } from "edged:test";

test("an Event has its type and init flags", () => {
    const e = new Event("x", { cancelable: true, bubbles: true, composed: true });
    assert.equal(e.type, "x");
    assert.equal(e.cancelable, true);
    assert.equal(e.bubbles, true);
    assert.equal(e.composed, true);
    assert.equal(e.defaultPrevented, false);
    assert.equal(e.eventPhase, Event.NONE);
    assert.equal(e.isTrusted, false);
    assert.equal(e.target, null);
    assert.equal(typeof e.timeStamp, "number");
    assert.equal(Event.AT_TARGET, 2);
    assert.equal(e.AT_TARGET, 2);
    assert.deepEqual(e.composedPath(), []);
    const plain = new Event("y");
    assert.equal(plain.cancelable, false);
    assert.throws(() => new Event(), TypeError);
    assert.throws(() => new Event("z", 5), TypeError);
    assert.equal(new Event(undefined).type, "undefined");
});

test("listeners run in order with the target as this and currentTarget", () => {
    const t = new EventTarget();
    const out = [];
    t.addEventListener("go", function (e) { out.push(["a", this === t, e.currentTarget === t, e.eventPhase]); });
    t.addEventListener("go", (e) => out.push(["b", e.target === t]));
    t.addEventListener("other", () => out.push(["never"]));
    const e = new Event("go");
    assert.equal(t.dispatchEvent(e), true);
    assert.deepEqual(out, [["a", true, true, 2], ["b", true]]);
    assert.equal(e.eventPhase, 0);
    assert.equal(e.currentTarget, null);
    assert.equal(e.target, t);
});

test("the same listener is added once per capture flag", () => {
    const t = new EventTarget();
    let n = 0;
    const f = () => n++;
    t.addEventListener("go", f);
    t.addEventListener("go", f);
    t.addEventListener("go", f, { capture: true });
    t.addEventListener("go", f, true);
    t.dispatchEvent(new Event("go"));
    assert.equal(n, 2);
    t.removeEventListener("go", f);
    t.dispatchEvent(new Event("go"));
    assert.equal(n, 3);
    t.removeEventListener("go", f, { capture: true });
    t.dispatchEvent(new Event("go"));
    assert.equal(n, 3);
});

test("once listeners run once", () => {
    const t = new EventTarget();
    let n = 0;
    t.addEventListener("go", () => n++, { once: true });
    t.dispatchEvent(new Event("go"));
    t.dispatchEvent(new Event("go"));
    assert.equal(n, 1);
});

test("a listener removed during dispatch does not run; one added does not run yet", () => {
    const t = new EventTarget();
    const out = [];
    const second = () => out.push("second");
    const late = () => out.push("late");
    t.addEventListener("go", () => {
        out.push("first");
        t.removeEventListener("go", second);
        t.addEventListener("go", late);
    });
    t.addEventListener("go", second);
    t.dispatchEvent(new Event("go"));
    assert.deepEqual(out, ["first"]);
    t.dispatchEvent(new Event("go"));
    assert.deepEqual(out, ["first", "first", "late"]);
});

test("handleEvent objects are listeners", () => {
    const t = new EventTarget();
    const l = {
        n: 0,
        handleEvent(e) {
            this.n++;
            assert.equal(e.type, "go");
        },
    };
    t.addEventListener("go", l);
    t.dispatchEvent(new Event("go"));
    assert.equal(l.n, 1);
});

test("preventDefault only works on cancelable events and not in passive listeners", () => {
    const t = new EventTarget();
    t.addEventListener("go", (e) => e.preventDefault());
    const c = new Event("go", { cancelable: true });
    assert.equal(t.dispatchEvent(c), false);
    assert.equal(c.defaultPrevented, true);
    assert.equal(c.returnValue, false);
    const n = new Event("go");
    assert.equal(t.dispatchEvent(n), true);
    assert.equal(n.defaultPrevented, false);
    const p = new EventTarget();
    p.addEventListener("go", (e) => e.preventDefault(), { passive: true });
    const pe = new Event("go", { cancelable: true });
    assert.equal(p.dispatchEvent(pe), true);
    assert.equal(pe.defaultPrevented, false);
});

test("stopImmediatePropagation stops the remaining listeners", () => {
    const t = new EventTarget();
    const out = [];
    t.addEventListener("go", (e) => { out.push(1); e.stopImmediatePropagation(); });
    t.addEventListener("go", () => out.push(2));
    t.dispatchEvent(new Event("go"));
    assert.deepEqual(out, [1]);
});

test("an event cannot be dispatched while it is being dispatched", () => {
    const t = new EventTarget();
    const e = new Event("go");
    let inner;
    t.addEventListener("go", () => {
        try {
            t.dispatchEvent(e);
        } catch (err) {
            inner = err;
        }
    });
    t.dispatchEvent(e);
    assert.equal(inner.name, "InvalidStateError");
    t.dispatchEvent(e); // and again once it is done
});

test("a throwing listener does not stop dispatch", () => {
    const t = new EventTarget();
    let ran = false;
    t.addEventListener("go", () => { throw new Error("reported to the tenant's log"); });
    t.addEventListener("go", () => { ran = true; });
    assert.equal(t.dispatchEvent(new Event("go")), true);
    assert.equal(ran, true);
});

test("CustomEvent carries detail", () => {
    const t = new EventTarget();
    let got;
    t.addEventListener("data", (e) => { got = e.detail; });
    t.dispatchEvent(new CustomEvent("data", { detail: { x: 1 } }));
    assert.deepEqual(got, { x: 1 });
    assert.equal(new CustomEvent("d").detail, null);
    assert(new CustomEvent("d") instanceof Event);
});

test("EventTarget can be subclassed", () => {
    class Clock extends EventTarget {
        tick() {
            this.dispatchEvent(new Event("tick"));
        }
    }
    const c = new Clock();
    let n = 0;
    c.addEventListener("tick", () => n++);
    c.tick();
    assert.equal(n, 1);
});

test("bad arguments are TypeErrors", () => {
    const t = new EventTarget();
    assert.throws(() => t.dispatchEvent({ type: "go" }), TypeError);
    assert.throws(() => t.addEventListener("go"), TypeError);
    assert.throws(() => t.addEventListener("go", 5), TypeError);
    t.addEventListener("go", null); // ignored
    assert.throws(() => EventTarget.prototype.addEventListener.call({}, "go", () => {}), TypeError);
    assert.throws(() => Object.getOwnPropertyDescriptor(Event.prototype, "type").get.call({}), TypeError);
});
