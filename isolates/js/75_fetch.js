// The global fetch(). Outbound HTTP does not exist in edged yet (issue 4), so a parent's fetch()
// and a child's with globalOutbound omitted refuse with a TypeError saying so; a child whose
// parent passed globalOutbound: null refuses as Workers does; a child given a fetcher sends
// every request to it (the parent may add credentials the child never sees). Like the standard
// fetch(), it never throws: every failure is a rejected promise.
'use strict';
(function (internals) {
    const NOT_PERMITTED = "This worker is not permitted to access the internet via global functions like fetch(). It must use capabilities (such as bindings in 'env') to talk to the outside world.";
    const NOT_YET = 'fetch() to the internet is not available yet: outbound requests are not implemented in edged. Use the bindings in env to reach other workers.';
    let outbound = null; // (request) => Promise<Response>, or null: refuse with `refusal`
    let refusal = NOT_YET;

    function fetch(input, init = undefined) {
        try {
            if (outbound === null)
                throw new TypeError(refusal);
            return outbound(internals.requestOf(input, init));
        } catch (e) {
            return Promise.reject(e);
        }
    }

    // mode: enum iso_outbound (0 inherit, 1 none, 2 a stub).
    internals.setOutbound = function setOutbound(mode, stub) {
        outbound = mode === 2 ? (request) => stub.fetch(request) : null;
        refusal = mode === 1 ? NOT_PERMITTED : NOT_YET;
    };

    internals.expose('fetch', fetch);
})
