// The entries the shim calls for a worker: setup() once, building env (plain-text vars, a
// WorkerLoader per loader binding, a child's env from its parent) and the global fetch() its
// outbound allows; dispatch() for each request: build the Request, call the worker's
// fetch(request, env, ctx) (or, for a default export that is a WorkerEntrypoint class, a fresh
// instance's fetch(request)) and hand back a promise of what it produced. A synchronous throw
// becomes a rejection so the shim has one outcome to inspect.
'use strict';
(function (internals) {
    internals.setup = function setup(vars, loaders, childEnv, outbound, outboundStub, parent,
        objects) {
        internals.startClock();
        const env = {};
        for (let i = 0; i + 1 < vars.length; i += 2)
            env[vars[i]] = vars[i + 1];
        for (const name of loaders)
            env[name] = internals.newWorkerLoader(name);
        for (const name of objects)
            env[name] = internals.newObjectNamespace(name);
        if (typeof childEnv === 'object' && childEnv !== null) {
            for (const key of Object.keys(childEnv))
                env[key] = childEnv[key];
        }
        const stub = outbound === 2
            ? internals.makeStub(parent, outboundStub, internals.STUB_OBJECT) : null;
        internals.outbound = [outbound, stub]; // for fetch() (75_fetch.js)
        return Object.freeze(env);
    };

    internals.dispatch = function dispatch(handler, env, method, url, flatHeaders, buffer,
        bodyHandle, bodyLength) {
        try {
            const request = internals.newIncomingRequest(method, url, flatHeaders, buffer,
                bodyHandle, bodyLength);
            const ctx = internals.newContext(undefined);
            if (typeof handler === 'function')
                return Promise.resolve(new handler(ctx, env).fetch(request));
            return Promise.resolve(handler.fetch(request, env, ctx));
        } catch (e) {
            return Promise.reject(e);
        }
    };
})
