// The classes of the built-in module "cloudflare:workers" (the shim resolves the import and
// adds the worker's `env`). WorkerEntrypoint and DurableObject keep the (ctx, env) their
// constructor is given, as in Workers; RpcTarget marks objects whose methods may be called
// from another worker (an instance in a child's env crosses as a stub, not as a copy).
// Durable Object storage arrives with issue 5.
'use strict';
(function (internals) {
    class RpcTarget {}

    class WorkerEntrypoint {
        constructor(ctx, env) {
            this.ctx = ctx;
            this.env = env;
        }
    }

    class DurableObject {
        constructor(ctx, env) {
            this.ctx = ctx;
            this.env = env;
        }
    }

    internals.cloudflareWorkers = Object.freeze({ WorkerEntrypoint, RpcTarget, DurableObject });
    internals.isEntrypointClass = (v) => typeof v === 'function' &&
        v.prototype instanceof WorkerEntrypoint;
    // Objects whose methods cross as a stub (as in Workers, the three classes are unrelated).
    internals.isRpcTarget = (v) => v instanceof RpcTarget || v instanceof WorkerEntrypoint ||
        v instanceof DurableObject;
})
