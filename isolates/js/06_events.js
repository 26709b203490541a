// Event, EventTarget and CustomEvent, as the DOM Standard has them for targets that form no
// tree (a worker has no DOM): dispatch reaches the target's own listeners only, in the order
// they were added, so capture and bubbling phases never happen (eventPhase is AT_TARGET during
// dispatch). addEventListener takes a function or an object with handleEvent, and the options
// capture, once, passive and signal (an AbortSignal that removes the listener when it aborts).
// A listener that throws is reported to the tenant's log, as an uncaught exception, and the
// other listeners still run. A lazy runtime file (isolates/lazy.cc): it runs when a worker first
// uses one of its globals, or AbortSignal (08_abort.js) does.
'use strict';
(function (internals, native) {
    const NONE = 0;
    const CAPTURING_PHASE = 1;
    const AT_TARGET = 2;
    const BUBBLING_PHASE = 3;
    const { dateNow } = internals;
    // What the classes share of each other's private state (set in their static blocks).
    let isEvent, dispatchTo, removeListener;

    class Event {
        #type;
        #bubbles;
        #cancelable;
        #composed;
        #canceled = false;
        #stop = false;
        #stopImmediate = false;
        #target = null;
        #current = null;
        #phase = NONE;
        #dispatching = false;
        #passive = false;
        #timeStamp;

        constructor(type, init = undefined) {
            if (arguments.length === 0)
                throw new TypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
            if (init !== undefined && init !== null && typeof init !== 'object')
                throw new TypeError("Failed to construct 'Event': The provided value is not of type 'EventInit'.");
            this.#type = String(type);
            this.#bubbles = Boolean(init?.bubbles);
            this.#cancelable = Boolean(init?.cancelable);
            this.#composed = Boolean(init?.composed);
            this.#timeStamp = dateNow() - internals.timeOrigin();
        }

        static #check(e) {
            if (typeof e !== 'object' || e === null || !(#type in e))
                throw new TypeError('Illegal invocation');
            return e;
        }

        get type() {
            return Event.#check(this).#type;
        }

        get bubbles() {
            return Event.#check(this).#bubbles;
        }

        get cancelable() {
            return Event.#check(this).#cancelable;
        }

        get composed() {
            return Event.#check(this).#composed;
        }

        get defaultPrevented() {
            return Event.#check(this).#canceled;
        }

        get returnValue() {
            return !Event.#check(this).#canceled;
        }

        set returnValue(v) {
            if (!v)
                this.preventDefault();
        }

        get cancelBubble() {
            return Event.#check(this).#stop;
        }

        set cancelBubble(v) {
            if (v)
                this.stopPropagation();
        }

        get target() {
            return Event.#check(this).#target;
        }

        get srcElement() {
            return Event.#check(this).#target;
        }

        get currentTarget() {
            return Event.#check(this).#current;
        }

        get eventPhase() {
            return Event.#check(this).#phase;
        }

        get isTrusted() {
            Event.#check(this);
            return false;
        }

        get timeStamp() {
            return Event.#check(this).#timeStamp;
        }

        composedPath() {
            const e = Event.#check(this);
            return e.#current === null ? [] : [e.#current];
        }

        preventDefault() {
            const e = Event.#check(this);
            if (e.#cancelable && !e.#passive)
                e.#canceled = true;
        }

        stopPropagation() {
            Event.#check(this).#stop = true;
        }

        stopImmediatePropagation() {
            const e = Event.#check(this);
            e.#stop = true;
            e.#stopImmediate = true;
        }

        // Dispatches e to target's listeners (EventTarget.prototype.dispatchEvent's work).
        static #dispatch(e, target, listeners) {
            if (e.#dispatching)
                throw new internals.DOMException('The event is already being dispatched.', 'InvalidStateError');
            e.#dispatching = true;
            e.#target = target;
            e.#current = target;
            e.#phase = AT_TARGET;
            try {
                for (const l of listeners) {
                    if (e.#stopImmediate)
                        break;
                    if (l.removed)
                        continue;
                    if (l.once)
                        removeListener(target, l);
                    e.#passive = l.passive;
                    const cb = l.callback;
                    try {
                        if (typeof cb === 'function') {
                            Reflect.apply(cb, target, [e]);
                        } else {
                            const handle = cb.handleEvent;
                            if (typeof handle !== 'function')
                                throw new TypeError("The listener's handleEvent is not a function");
                            Reflect.apply(handle, cb, [e]);
                        }
                    } catch (err) {
                        native.reportError(err);
                    }
                    e.#passive = false;
                }
            } finally {
                e.#dispatching = false;
                e.#phase = NONE;
                e.#current = null;
                e.#stop = false;
                e.#stopImmediate = false;
            }
            return !e.#canceled;
        }

        static {
            isEvent = (v) => typeof v === 'object' && v !== null && #type in v;
            dispatchTo = (e, target, listeners) => Event.#dispatch(e, target, listeners);
        }
    }
    for (const [name, value] of [['NONE', NONE], ['CAPTURING_PHASE', CAPTURING_PHASE],
        ['AT_TARGET', AT_TARGET], ['BUBBLING_PHASE', BUBBLING_PHASE]]) {
        Object.defineProperty(Event, name, { value, enumerable: true });
        Object.defineProperty(Event.prototype, name, { value, enumerable: true });
    }

    class CustomEvent extends Event {
        #detail;

        constructor(type, init = undefined) {
            if (arguments.length === 0)
                throw new TypeError("Failed to construct 'CustomEvent': 1 argument required, but only 0 present.");
            super(type, init);
            this.#detail = init?.detail ?? null;
        }

        get detail() {
            if (typeof this !== 'object' || this === null || !(#detail in this))
                throw new TypeError('Illegal invocation');
            return this.#detail;
        }
    }

    function flatten(options) {
        if (typeof options === 'boolean')
            return { capture: options, once: false, passive: false, signal: undefined };
        if (typeof options !== 'object' || options === null)
            return { capture: false, once: false, passive: false, signal: undefined };
        return {
            capture: Boolean(options.capture),
            once: Boolean(options.once),
            passive: Boolean(options.passive),
            signal: options.signal,
        };
    }

    class EventTarget {
        #listeners = new Map(); // type -> [{ callback, capture, once, passive, removed }]

        static #check(t) {
            if (typeof t !== 'object' && typeof t !== 'function' || t === null || !(#listeners in t))
                throw new TypeError('Illegal invocation');
            return t;
        }

        addEventListener(type, callback, options = undefined) {
            const t = EventTarget.#check(this);
            if (arguments.length < 2)
                throw new TypeError("Failed to execute 'addEventListener' on 'EventTarget': 2 arguments required.");
            const o = flatten(options);
            if (o.signal !== undefined && !internals.isAbortSignal(o.signal))
                throw new TypeError("Failed to execute 'addEventListener' on 'EventTarget': member signal is not of type AbortSignal.");
            if (callback === null || callback === undefined)
                return;
            if (typeof callback !== 'function' && typeof callback !== 'object')
                throw new TypeError("Failed to execute 'addEventListener' on 'EventTarget': The callback provided as parameter 2 is not an object.");
            if (o.signal !== undefined && o.signal.aborted)
                return;
            type = String(type);
            let list = t.#listeners.get(type);
            if (list === undefined) {
                list = [];
                t.#listeners.set(type, list);
            }
            if (list.some((l) => l.callback === callback && l.capture === o.capture))
                return;
            const l = { type, callback, capture: o.capture, once: o.once, passive: o.passive, removed: false };
            list.push(l);
            if (o.signal !== undefined)
                internals.onAbort(o.signal, () => EventTarget.#remove(t, l));
        }

        removeEventListener(type, callback, options = undefined) {
            const t = EventTarget.#check(this);
            const capture = typeof options === 'boolean' ? options
                : typeof options === 'object' && options !== null && Boolean(options.capture);
            const list = t.#listeners.get(String(type));
            if (list === undefined)
                return;
            const l = list.find((x) => x.callback === callback && x.capture === capture);
            if (l !== undefined)
                EventTarget.#remove(t, l);
        }

        dispatchEvent(event) {
            const t = EventTarget.#check(this);
            if (!isEvent(event))
                throw new TypeError("Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.");
            const list = t.#listeners.get(event.type);
            return dispatchTo(event, t, list === undefined ? [] : list.slice());
        }

        static #remove(t, l) {
            l.removed = true;
            const list = t.#listeners.get(l.type);
            if (list === undefined)
                return;
            const i = list.indexOf(l);
            if (i >= 0)
                list.splice(i, 1);
            if (list.length === 0)
                t.#listeners.delete(l.type);
        }

        static {
            removeListener = (t, l) => EventTarget.#remove(t, l);
        }
    }

    internals.Event = Event;
    internals.EventTarget = EventTarget;
    internals.expose('Event', Event);
    internals.expose('CustomEvent', CustomEvent);
    internals.expose('EventTarget', EventTarget);
})
