// Calls between isolates, the runtime's half (the shim's is isolates/calls.cc and invoke.cc).
// Values cross as structured clones; a Request or Response crosses as a plain object
// { method, url, headers: [[name, value]...], body: ArrayBuffer | null } (bodies are read whole
// for now). A stub is what a worker holds of an object in another isolate: a Proxy whose
// methods call it (fetch() takes a Request and answers a Response) or a function; every call
// returns a promise. On the receiving side, invoke() finds the entrypoint a parent called and
// callExport() the object a child's stub names. Errors cross as a code and "Name: message",
// and come back as an Error of the same type.
'use strict';
(function (internals, native) {
    const CODES = native.errorCodes();
    const STUB_FUNCTION = 1; // shared with isolates/shim_int.h
    const STUB_OBJECT = 2;
    const ERRORS = {
        Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
    };
    const NAMED = /^([A-Z][A-Za-z0-9_$]*): ([\s\S]*)$/;
    const codeOf = new WeakMap(); // Error -> code from the table of common/common.h
    const stubs = new WeakSet(); // every stub and fetcher, so they can be passed on as stubs

    internals.codes = CODES;
    internals.STUB_FUNCTION = STUB_FUNCTION;
    internals.STUB_OBJECT = STUB_OBJECT;
    internals.isStub = (v) => (typeof v === 'object' || typeof v === 'function') && v !== null &&
        stubs.has(v);

    function coded(code, error) {
        codeOf.set(error, code);
        return error;
    }
    internals.errorCode = (e) => (typeof e === 'object' && e !== null ? codeOf.get(e) ?? 0 : 0);

    // The ctx of a handler or entrypoint: props from the caller, waitUntil (which keeps
    // nothing alive yet; it only keeps a rejected background task from being reported).
    const NO_PROPS = Object.freeze({});
    class ExecutionContext {
        constructor(props) {
            this.props = props === undefined ? NO_PROPS : props;
        }

        waitUntil(promise) {
            Promise.resolve(promise).catch(() => {});
        }

        passThroughOnException() {}
    }
    internals.newContext = (props) => new ExecutionContext(props);

    internals.requestOf = (input, init) => (input instanceof internals.Request && init === undefined
        ? input : new internals.Request(input, init));

    internals.marshalRequest = async function marshalRequest(request) {
        const headers = internals.headersList(request.headers).map(([k, v]) => [k, v]);
        const body = request.body === null ? null : await request.arrayBuffer();
        return { method: request.method, url: request.url, headers, body };
    };

    internals.unmarshalRequest = function unmarshalRequest(o) {
        if (typeof o !== 'object' || o === null || typeof o.method !== 'string' ||
            typeof o.url !== 'string')
            throw new TypeError('fetch() from another worker must carry a Request');
        const flat = [];
        for (const [name, value] of Array.isArray(o.headers) ? o.headers : [])
            flat.push(String(name), String(value));
        const body = o.body instanceof ArrayBuffer ? o.body : undefined;
        return internals.newIncomingRequest(o.method, o.url, flat, body);
    };

    internals.marshalResponse = async function marshalResponse(response) {
        if (!internals.isResponse(response))
            throw new TypeError(`The fetch handler's result is ${typeof response === 'object' ? (response === null ? 'null' : 'an object') : typeof response}, not a Response`);
        const headers = internals.headersList(response.headers).map(([k, v]) => [k, v]);
        const body = response.body === null ? null : await response.arrayBuffer();
        return { status: response.status, statusText: response.statusText, headers, body };
    };

    internals.unmarshalResponse = function unmarshalResponse(o) {
        if (typeof o !== 'object' || o === null || typeof o.status !== 'number')
            throw new TypeError('The other worker did not answer with a Response');
        const body = o.body instanceof ArrayBuffer && o.body.byteLength > 0 ? o.body : null;
        return new internals.Response(body, {
            status: o.status,
            statusText: String(o.statusText ?? ''),
            headers: Array.isArray(o.headers) ? o.headers : [],
        });
    };

    // A stub over call(method, args) -> Promise: any method name is a call, fetch() marshals a
    // Request and its answer. `then` stays undefined so that awaiting a stub does not call it.
    internals.newFetcher = function newFetcher(call) {
        const methods = new Map();
        const proxy = new Proxy(Object.create(null), {
            get(target, prop) {
                if (typeof prop !== 'string' || prop === 'then' || prop === 'constructor')
                    return undefined;
                let m = methods.get(prop);
                if (m === undefined) {
                    m = prop === 'fetch'
                        ? async (input, init) => {
                            const request = internals.requestOf(input, init);
                            const answer = await call('fetch', [await internals.marshalRequest(request)]);
                            return internals.unmarshalResponse(answer);
                        }
                        : (...args) => call(prop, args);
                    methods.set(prop, m);
                }
                return m;
            },
            set() {
                return false;
            },
            defineProperty() {
                return false;
            },
        });
        stubs.add(proxy);
        return proxy;
    };

    // A stub the parent exported into this child's env (the shim calls this while reading it).
    async function callStub(id, method, args) {
        return native.callStub(id, method, args);
    }
    internals.makeStub = function makeStub(id, kind) {
        if (kind === STUB_FUNCTION) {
            const f = (...args) => callStub(id, null, args);
            stubs.add(f);
            return f;
        }
        return internals.newFetcher((method, args) => callStub(id, method, args));
    };

    // A child's env as deserialized holds markers where its parent exported stubs (no
    // JavaScript may run inside the deserializer): make them stubs, one per marker.
    internals.revive = function revive(root) {
        const done = new Map();
        const fix = (v) => {
            if (typeof v !== 'object' || v === null)
                return v;
            if (done.has(v))
                return done.get(v);
            const marker = native.markerInfo(v);
            if (marker !== undefined) {
                const stub = internals.makeStub(marker[0], marker[1]);
                done.set(v, stub);
                return stub;
            }
            done.set(v, v);
            if (Array.isArray(v)) {
                for (let i = 0; i < v.length; i++)
                    v[i] = fix(v[i]);
            } else if (v instanceof Map) {
                const entries = [...v];
                v.clear();
                for (const [k, x] of entries)
                    v.set(fix(k), fix(x));
            } else if (v instanceof Set) {
                const items = [...v];
                v.clear();
                for (const x of items)
                    v.add(fix(x));
            } else if (Object.getPrototypeOf(v) === Object.prototype) {
                for (const k of Object.keys(v))
                    v[k] = fix(v[k]);
            }
            return v;
        };
        return fix(root);
    };

    // What an RPC call may reach: methods of the object and its classes, not those every object
    // or entrypoint inherits (toString, constructor...).
    let bases = null;
    function findMethod(target, name) {
        if (stubs.has(target))
            return target[name];
        if (bases === null) {
            const { WorkerEntrypoint, RpcTarget, DurableObject } = internals.cloudflareWorkers;
            bases = new Set([Object.prototype, Function.prototype, WorkerEntrypoint.prototype,
                RpcTarget.prototype, DurableObject.prototype]);
        }
        if (name === 'constructor')
            return undefined;
        for (let o = target; o !== null && !bases.has(o); o = Object.getPrototypeOf(o)) {
            const d = Object.getOwnPropertyDescriptor(o, name);
            if (d === undefined)
                continue;
            const v = 'value' in d ? d.value : target[name];
            return typeof v === 'function' ? v : undefined;
        }
        return undefined;
    }

    function noMethod(method) {
        return coded(CODES.EINVAL, new TypeError(`The RPC receiver does not implement the method "${method}".`));
    }

    // iso_worker_invoke: entrypoint is null for the default export. A class extending
    // WorkerEntrypoint is instantiated with (ctx, env) and its methods get the arguments; a
    // plain object's methods get the arguments followed by env and ctx, as fetch(request, env,
    // ctx) does.
    internals.invoke = function invoke(ns, env, entrypoint, method, props, args) {
        try {
            const name = entrypoint ?? 'default';
            const exp = ns === undefined ? undefined : ns[name];
            const ctx = new ExecutionContext(props);
            let target;
            let plain = false;
            if (internals.isEntrypointClass(exp)) {
                target = new exp(ctx, env);
            } else if (typeof exp === 'object' && exp !== null) {
                target = exp;
                plain = true;
            } else {
                throw coded(CODES.EINVAL, new Error(`Worker has no such entrypoint: ${name}`));
            }
            const fn = findMethod(target, method);
            if (fn === undefined)
                throw noMethod(method);
            if (method === 'fetch') {
                const request = internals.unmarshalRequest(args[0]);
                const result = Reflect.apply(fn, target, plain ? [request, env, ctx] : [request]);
                return Promise.resolve(result).then(internals.marshalResponse);
            }
            return Promise.resolve(Reflect.apply(fn, target, plain ? [...args, env, ctx] : args));
        } catch (e) {
            return Promise.reject(e);
        }
    };

    // iso_worker_call_stub: value is what this worker exported (a function, an RpcTarget, a
    // fetcher).
    internals.callExport = function callExport(value, kind, method, args) {
        try {
            if (kind === STUB_FUNCTION)
                return Promise.resolve(Reflect.apply(value, undefined, args));
            if (method === null)
                throw new TypeError('This stub stands for an object: call one of its methods');
            const fn = findMethod(value, method);
            if (fn === undefined)
                throw noMethod(method);
            if (method === 'fetch') {
                const request = internals.unmarshalRequest(args[0]);
                return Promise.resolve(Reflect.apply(fn, value, [request]))
                    .then(internals.marshalResponse);
            }
            return Promise.resolve(Reflect.apply(fn, value, args));
        } catch (e) {
            return Promise.reject(e);
        }
    };

    // [code, one line] for the caller of a failed call (code 0: an ordinary exception).
    internals.describeError = function describeError(e) {
        try {
            const code = internals.errorCode(e);
            if (code !== 0)
                return [code, String(e.message)];
            if (typeof e === 'object' && e !== null && 'message' in e) {
                const name = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
                return [0, `${name}: ${String(e.message)}`];
            }
            return [0, String(e)];
        } catch {
            return [0, 'an exception that cannot be described'];
        }
    };

    // The Error a failed call rejects with: the callee's own type and message for an exception
    // it threw, else the message the host gave (a limit, a missing entrypoint...).
    internals.callError = function callError(code, msg) {
        let text = String(msg);
        let e;
        const m = code === CODES.JS ? NAMED.exec(text) : null;
        if (m !== null) {
            const type = Object.hasOwn(ERRORS, m[1]) ? ERRORS[m[1]] : null;
            e = type !== null ? new type(m[2]) : new Error(m[2]);
            if (type === null)
                Object.defineProperty(e, 'name', {
                    value: m[1], writable: true, configurable: true,
                });
        } else {
            if (code !== CODES.JS && text.indexOf('\n') >= 0)
                text = text.slice(0, text.indexOf('\n'));
            e = new Error(text);
        }
        return coded(code, e);
    };
})
