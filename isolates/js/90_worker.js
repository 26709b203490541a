// The entry the shim calls for each request: build the Request, call the worker's
// fetch(request, env, ctx) and hand back a promise of what it produced. A synchronous throw
// becomes a rejection so the shim has one outcome to inspect. ctx is a fresh execution context
// per request; waitUntil() keeps nothing alive yet (every promise settles within the dispatch
// today) and only makes sure a rejected background task is not reported as unhandled.
'use strict';
(function (internals) {
    function newContext() {
        return Object.freeze({
            waitUntil(promise) {
                Promise.resolve(promise).catch(() => {});
            },
            passThroughOnException() {},
        });
    }

    internals.dispatch = function dispatch(handler, env, method, url, flatHeaders, buffer) {
        try {
            const request = internals.newIncomingRequest(method, url, flatHeaders, buffer);
            return Promise.resolve(handler.fetch(request, env, newContext()));
        } catch (e) {
            return Promise.reject(e);
        }
    };
})
