// AbortController and AbortSignal (DOM Standard). A signal is an EventTarget that aborts once,
// with a reason (an "AbortError" DOMException when none is given): aborted and reason change,
// the runtime's own abort steps run (internals.onAbort: listeners added with a signal option,
// scheduler.wait, signals that follow it), then an "abort" event is dispatched, which reaches
// onabort and the "abort" listeners. AbortSignal.abort(reason) is aborted already;
// AbortSignal.timeout(ms) aborts with a "TimeoutError" DOMException after ms, on a timer of
// the request that made it (so it is cancelled with the request); AbortSignal.any(signals)
// aborts with the first of its sources' reasons. A lazy runtime file (isolates/lazy.cc), as
// 06_events.js that it extends.
'use strict';
(function (internals, native) {
    const { EventTarget, Event, INTERNAL } = internals;

    class AbortSignal extends EventTarget {
        #aborted = false;
        #reason = undefined;
        #onabort = null;
        #steps = [];

        constructor(key) {
            if (key !== INTERNAL)
                throw new TypeError('Illegal constructor');
            super();
        }

        static #check(s) {
            if (typeof s !== 'object' || s === null || !(#aborted in s))
                throw new TypeError('Illegal invocation');
            return s;
        }

        get aborted() {
            return AbortSignal.#check(this).#aborted;
        }

        get reason() {
            return AbortSignal.#check(this).#reason;
        }

        throwIfAborted() {
            const s = AbortSignal.#check(this);
            if (s.#aborted)
                throw s.#reason;
        }

        get onabort() {
            return AbortSignal.#check(this).#onabort;
        }

        set onabort(handler) {
            const s = AbortSignal.#check(this);
            const first = s.#onabort === null;
            s.#onabort = typeof handler === 'function' ? handler : null;
            // One listener forwards to whatever handler is set when the event comes, as an
            // event handler attribute does (it keeps its place among the listeners).
            if (first && s.#onabort !== null) {
                const forward = function (e) {
                    const h = s.#onabort;
                    if (h !== null)
                        return Reflect.apply(h, s, [e]);
                    return undefined;
                };
                EventTarget.prototype.addEventListener.call(s, 'abort', forward);
            }
        }

        static abort(reason = undefined) {
            const s = new AbortSignal(INTERNAL);
            s.#aborted = true;
            s.#reason = reason !== undefined ? reason
                : new internals.DOMException('This operation was aborted', 'AbortError');
            return s;
        }

        static timeout(ms) {
            const n = Number(ms);
            if (!Number.isFinite(n) || n < 0 || n > Number.MAX_SAFE_INTEGER)
                throw new TypeError("Failed to execute 'timeout' on 'AbortSignal': Value is outside the 'unsigned long long' value range.");
            const s = new AbortSignal(INTERNAL);
            internals.setTimer(() => AbortSignal.#signalAbort(s,
                new internals.DOMException('The operation was aborted due to timeout', 'TimeoutError')), n);
            return s;
        }

        static any(signals) {
            const list = [];
            for (const s of signals) {
                if (!internals.isAbortSignal(s))
                    throw new TypeError("Failed to execute 'any' on 'AbortSignal': Failed to convert value to 'AbortSignal'.");
                list.push(s);
            }
            const out = new AbortSignal(INTERNAL);
            for (const s of list) {
                if (s.#aborted) {
                    out.#aborted = true;
                    out.#reason = s.#reason;
                    return out;
                }
            }
            for (const s of list)
                s.#steps.push(() => AbortSignal.#signalAbort(out, s.#reason));
            return out;
        }

        static #signalAbort(s, reason) {
            if (s.#aborted)
                return;
            s.#aborted = true;
            s.#reason = reason !== undefined ? reason
                : new internals.DOMException('This operation was aborted', 'AbortError');
            const steps = s.#steps;
            s.#steps = [];
            for (const step of steps) {
                try {
                    step();
                } catch (e) {
                    native.reportError(e);
                }
            }
            s.dispatchEvent(new Event('abort'));
        }

        static {
            internals.isAbortSignal = (v) => typeof v === 'object' && v !== null && #aborted in v;
            internals.signalAbort = (s, reason) => AbortSignal.#signalAbort(s, reason);
            // Runs step once s aborts (at once if it has); used by the runtime's own features.
            internals.onAbort = (s, step) => {
                if (s.#aborted)
                    step();
                else
                    s.#steps.push(step);
            };
        }
    }
    Object.defineProperty(AbortSignal.prototype, Symbol.toStringTag, {
        value: 'AbortSignal', configurable: true,
    });

    class AbortController {
        #signal = new AbortSignal(INTERNAL);

        static #check(c) {
            if (typeof c !== 'object' || c === null || !(#signal in c))
                throw new TypeError('Illegal invocation');
            return c;
        }

        get signal() {
            return AbortController.#check(this).#signal;
        }

        abort(reason = undefined) {
            internals.signalAbort(AbortController.#check(this).#signal, reason);
        }
    }
    Object.defineProperty(AbortController.prototype, Symbol.toStringTag, {
        value: 'AbortController', configurable: true,
    });

    internals.expose('AbortSignal', AbortSignal);
    internals.expose('AbortController', AbortController);
})
