// Timers and time: setTimeout, setInterval, clearTimeout, clearInterval, scheduler.wait() and
// performance. The timers themselves live in the shim (isolates/timers.cc), driven by the
// shard's loop: each belongs to the request (or call) that set it, keeps it alive while it
// waits, and is cancelled when it ends. Ids are numbers, unique in the worker; clearTimeout
// and clearInterval take either kind, as in browsers. A delay that is not a positive number
// is 0, one above 2^31 - 1 ms is clamped to it; an interval is at least 1 ms. There is no
// nesting clamp (browsers raise nested delays to 4 ms; Workers, like this, does not).
// performance.now() is milliseconds since performance.timeOrigin (when the worker was built),
// read from the same frozen clock as Date.now(): both move only between events, never while
// JavaScript runs, so neither has more than millisecond resolution (the clock is
// 00_internals.js's, started when the worker is built). A lazy runtime file (isolates/lazy.cc).
'use strict';
(function (internals, native) {
    const { dateNow, timeOrigin } = internals;

    function delayOf(delay) {
        const ms = Number(delay);
        return ms > 0 ? ms : 0;
    }

    function callbackOf(callback, what) {
        if (typeof callback !== 'function')
            throw new TypeError(`${what}: the callback must be a function (strings are not evaluated)`);
        return callback;
    }

    function setTimeout(callback, delay = 0, ...args) {
        return native.setTimer(callbackOf(callback, 'setTimeout'), delayOf(delay), false, args);
    }

    function setInterval(callback, delay = 0, ...args) {
        return native.setTimer(callbackOf(callback, 'setInterval'), delayOf(delay), true, args);
    }

    function clearTimeout(id) {
        if (typeof id === 'number')
            native.clearTimer(id);
    }

    function clearInterval(id) {
        if (typeof id === 'number')
            native.clearTimer(id);
    }

    // The runtime's own timers (AbortSignal.timeout): a callback after ms; returns the id.
    internals.setTimer = (fn, ms) => native.setTimer(fn, delayOf(ms), false, []);

    // scheduler.wait(ms[, { signal }]): a promise fulfilled after ms, as in Workers.
    class Scheduler {
        wait(delay = 0, options = undefined) {
            const signal = options?.signal;
            if (signal !== undefined && !internals.isAbortSignal(signal))
                return Promise.reject(new TypeError('scheduler.wait: signal must be an AbortSignal'));
            if (signal !== undefined && signal.aborted)
                return Promise.reject(signal.reason);
            return new Promise((resolve, reject) => {
                const id = native.setTimer(resolve, delayOf(delay), false, []);
                if (signal !== undefined) {
                    internals.onAbort(signal, () => {
                        native.clearTimer(id);
                        reject(signal.reason);
                    });
                }
            });
        }
    }

    class Performance {
        constructor(key) {
            if (key !== internals.INTERNAL)
                throw new TypeError('Illegal constructor');
        }

        get timeOrigin() {
            return timeOrigin();
        }

        now() {
            return dateNow() - timeOrigin();
        }

        toJSON() {
            return { timeOrigin: timeOrigin() };
        }
    }
    Object.defineProperty(Performance.prototype, Symbol.toStringTag, {
        value: 'Performance', configurable: true,
    });

    internals.expose('setTimeout', setTimeout);
    internals.expose('setInterval', setInterval);
    internals.expose('clearTimeout', clearTimeout);
    internals.expose('clearInterval', clearInterval);
    internals.expose('scheduler', new Scheduler());
    internals.expose('performance', new Performance(internals.INTERNAL));
    internals.expose('Performance', Performance);
})
