// Calls between isolates, the runtime's half (the shim's is isolates/calls.cc, invoke.cc and
// serialize.cc). Values cross as structured clones after encode() replaced what a clone cannot
// copy: a function, an RpcTarget or a stub becomes a stub marker (exported, so the receiver's
// stub calls back into this isolate), a ReadableStream a stream marker (the receiver pulls
// each chunk with a call), and a Request or Response an array headed by a tag marker whose body
// is inline bytes (fixed and small) or a stream marker. revive() turns what arrives back into
// stubs, ReadableStreams, Requests and Responses. A stub is a Proxy whose methods call the
// original (fetch() takes a Request and answers a Response) or a function; every call returns a
// promise. Stubs in arguments live until the call returns; stubs in results and streams are
// held by the receiver until its stub is garbage (a FinalizationRegistry tells the exporter).
// On the receiving side, invoke() finds the entrypoint a parent called and callExport() the
// object a stub names. Errors cross as a code and "Name: message", and come back as an Error of
// the same type.
'use strict';
(function (internals, native) {
    const CODES = native.errorCodes();
    // Marker kinds and flags, shared with isolates/shim_int.h.
    const STUB_FUNCTION = 1;
    const STUB_OBJECT = 2;
    const STUB_STREAM = 3;
    const TAG_REQUEST = 4;
    const TAG_RESPONSE = 5;
    const KIND = 0xff;
    const HELD = 0x100; // the receiver holds it until its stub is garbage
    // What is being serialized (enum class Mode in isolates/shim_int.h).
    const MODE_ARGS = 0;
    const MODE_RESULT = 1;
    const MODE_OBJECT = 3; // to or from a durable object: no stubs, bodies whole
    const INLINE_BODY = 64 * 1024; // a fixed body up to this size crosses as bytes
    const MAX_CHUNK = 256 * 1024; // a stream chunk crosses in pieces of at most this size
    const ERRORS = {
        Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
    };
    const NAMED = /^([A-Z][A-Za-z0-9_$]*): ([\s\S]*)$/;
    const codeOf = new WeakMap(); // Error -> code from the table of common/common.h
    const stubs = new WeakSet(); // every stub and fetcher, so they can be passed on as stubs
    // Stubs this isolate holds of another's exports: when one is garbage, the exporter may
    // let go of the original.
    const held = new FinalizationRegistry((h) => native.dropStub(h.peer, h.id));

    internals.codes = CODES;
    internals.STUB_FUNCTION = STUB_FUNCTION;
    internals.STUB_OBJECT = STUB_OBJECT;
    internals.isStub = (v) => (typeof v === 'object' || typeof v === 'function') && v !== null &&
        stubs.has(v);
    // Values that must not cross at all (70_loader.js adds WorkerLoader and WorkerStub).
    internals.refuseClone = () => null;

    function coded(code, error) {
        codeOf.set(error, code);
        return error;
    }
    internals.errorCode = (e) => (typeof e === 'object' && e !== null ? codeOf.get(e) ?? 0 : 0);

    // The ctx of a handler or entrypoint: props from the caller, and waitUntil(promise), which
    // keeps the invocation that made this ctx alive after its response (or result) went, until
    // the promise settles or the request's CPU or wall budget runs out (the shim waits, see
    // Invocation::wait_until); a rejection is logged as uncaught. passThroughOnException() is
    // a documented no-op: there is no origin to pass a failed request through to.
    const NO_PROPS = Object.freeze({});
    class ExecutionContext {
        #invocation;

        constructor(props) {
            this.props = props === undefined ? NO_PROPS : props;
            this.#invocation = native.invocation();
        }

        waitUntil(promise) {
            if (!(#invocation in this))
                throw new TypeError('Illegal invocation');
            const watched = Promise.resolve(promise).then(undefined, (e) => native.reportError(e));
            native.waitUntil(this.#invocation, watched);
        }

        passThroughOnException() {}
    }
    internals.newContext = (props) => new ExecutionContext(props);

    internals.requestOf = (input, init) => (input instanceof internals.Request && init === undefined
        ? input : new internals.Request(input, init));

    function describeType(v) {
        if (v === null)
            return 'null';
        return typeof v === 'object' ? 'an object' : typeof v;
    }

    function checkResponse(response) {
        if (!internals.isResponse(response))
            throw new TypeError(`The fetch handler's result is ${describeType(response)}, not a Response`);
        return response;
    }

    // ---- streams ------------------------------------------------------------------------

    // A Uint8Array that owns its whole buffer: the clone of a view copies the buffer under it.
    function exactBytes(bytes) {
        return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
            ? bytes : bytes.slice();
    }

    // What the sender exports for a stream: the receiver's pulls read it through its own
    // reader, one chunk (at most MAX_CHUNK bytes) per call. The export goes once the stream
    // ended, failed or was cancelled.
    class StreamSource {
        #reader;
        #rest = null;

        constructor(stream) {
            if (stream.locked)
                throw new TypeError('This ReadableStream is locked to a reader and cannot be sent to another worker.');
            this.#reader = internals.streams.openStream(stream);
        }

        async read() {
            for (;;) {
                let bytes = this.#rest;
                this.#rest = null;
                if (bytes === null) {
                    const { value, done } = await this.#reader.read();
                    if (done)
                        return null;
                    bytes = internals.asBytes(value);
                    if (bytes === null)
                        throw new TypeError('This ReadableStream did not return bytes.');
                }
                if (bytes.length === 0)
                    continue;
                if (bytes.length > MAX_CHUNK) {
                    this.#rest = bytes.subarray(MAX_CHUNK);
                    bytes = bytes.subarray(0, MAX_CHUNK);
                }
                return exactBytes(bytes);
            }
        }

        cancel(reason) {
            this.#rest = null;
            return this.#reader.cancel(reason);
        }
    }

    // The receiver's side: a ReadableStream that asks the sender for a chunk only when read
    // (highWaterMark 0), so backpressure is the reader's pace. The registry watches the source
    // object, which lives as long as the stream's state (a reader keeps it, not the stream).
    function remoteStream(peer, id, isHeld) {
        const token = {};
        let open = true;
        const finish = () => {
            if (open && isHeld)
                held.unregister(token);
            open = false;
        };
        const source = {
            async pull(controller) {
                let chunk;
                try {
                    chunk = await native.callStub(peer, id, 'read', []);
                } catch (e) {
                    finish(); // the sender let go of a stream that failed
                    throw e;
                }
                if (chunk === null) {
                    finish();
                    controller.close();
                } else {
                    controller.enqueue(chunk);
                }
            },
            cancel(reason) {
                if (!open)
                    return undefined;
                finish();
                const why = reason === undefined ? undefined : String(reason);
                return callStub(peer, id, 'cancel', [why]).then(() => undefined, () => undefined);
            },
        };
        const stream = new internals.streams.ReadableStream(source, { highWaterMark: 0 });
        if (isHeld)
            held.register(source, { peer, id }, token);
        return stream;
    }

    // ---- encode: what cannot be cloned becomes a marker -----------------------------------

    function isLeaf(v) {
        return v instanceof ArrayBuffer || ArrayBuffer.isView(v) || v instanceof Date ||
            v instanceof RegExp || v instanceof Error || v instanceof Boolean ||
            v instanceof Number || v instanceof String || v instanceof BigInt;
    }

    function isSpecial(v) {
        return stubs.has(v) || internals.isRpcTarget(v) || internals.isRequest(v) ||
            internals.isResponse(v) || internals.isReadableStream(v) ||
            internals.refuseClone(v) !== null;
    }

    // Whether anything in root needs encode(): most values are plain data, which V8 clones
    // as they are.
    function needsEncoding(root) {
        const seen = new Set();
        const todo = [root];
        while (todo.length > 0) {
            const v = todo.pop();
            if (typeof v === 'function')
                return true;
            if (typeof v !== 'object' || v === null || seen.has(v))
                continue;
            seen.add(v);
            if (isSpecial(v))
                return true;
            if (isLeaf(v))
                continue;
            if (v instanceof Map) {
                for (const [k, x] of v)
                    todo.push(k, x);
            } else if (v instanceof Set) {
                for (const x of v)
                    todo.push(x);
            } else if (Array.isArray(v)) {
                for (let i = 0; i < v.length; i++)
                    todo.push(v[i]);
            } else {
                for (const k of Object.keys(v))
                    todo.push(v[k]);
            }
        }
        return false;
    }

    function exported(value, kind) {
        return native.stubMarker(native.exportStub(value, kind), kind);
    }

    function headersFlat(headers) {
        const flat = [];
        for (const [name, value] of internals.headersList(headers))
            flat.push(name, value);
        return flat;
    }

    function cloneError(what) {
        return new internals.DOMException(`${what} cannot be sent to a Durable Object: only values that structuredClone() can copy, and Requests and Responses, cross to one.`, 'DataCloneError');
    }

    // A body leaves once: null, its bytes when fixed and small (or always, whole), else a
    // stream marker.
    function encodeBody(state, what, whole) {
        if (internals.bodyUsed(state))
            throw new TypeError(`The ${what} body has already been used; it cannot be sent to another worker.`);
        if (state.stream === null && state.source === null)
            return null;
        let stream = state.stream;
        if (stream === null) {
            const src = state.source;
            const bytes = typeof src === 'string' ? internals.encodeUtf8(src) : src;
            if (whole || bytes.length <= INLINE_BODY) {
                state.used = true;
                return exactBytes(bytes).buffer;
            }
            stream = internals.streams.streamOfBytes(bytes);
        } else if (whole) {
            throw cloneError(`A ${what} with a streamed body`);
        }
        const marker = exported(new StreamSource(stream), STUB_STREAM | HELD);
        state.used = true;
        return marker;
    }

    // The copy of root that V8 clones; mode is MODE_ARGS, MODE_RESULT or MODE_ENV.
    internals.encode = function encode(root, mode) {
        if (!needsEncoding(root))
            return root;
        const memo = new Map();
        const flags = mode === MODE_RESULT ? HELD : 0;
        const whole = mode === MODE_OBJECT;
        const walk = (v) => {
            if (typeof v !== 'object' && typeof v !== 'function' || v === null)
                return v;
            const seen = memo.get(v);
            if (seen !== undefined)
                return seen;
            let out;
            if (whole && (typeof v === 'function' || stubs.has(v) || internals.isRpcTarget(v) ||
                internals.isReadableStream(v))) {
                throw cloneError(typeof v === 'function' ? 'A function' : internals.isReadableStream(v)
                    ? 'A ReadableStream' : 'An RPC stub or RpcTarget');
            } else if (stubs.has(v)) {
                out = exported(v, (typeof v === 'function' ? STUB_FUNCTION : STUB_OBJECT) | flags);
            } else if (typeof v === 'function') {
                out = exported(v, STUB_FUNCTION | flags);
            } else if (internals.isRpcTarget(v)) {
                out = exported(v, STUB_OBJECT | flags);
            } else if (internals.isReadableStream(v)) {
                out = exported(new StreamSource(v), STUB_STREAM | HELD);
            } else if (internals.isRequest(v)) {
                out = [native.stubMarker(0, TAG_REQUEST), v.method, v.url, headersFlat(v.headers),
                    encodeBody(internals.requestBody(v), 'Request', whole)];
            } else if (internals.isResponse(v)) {
                out = [native.stubMarker(0, TAG_RESPONSE), v.status, v.statusText,
                    headersFlat(v.headers), encodeBody(internals.responseBody(v), 'Response', whole)];
            } else if (internals.refuseClone(v) !== null) {
                throw new TypeError(internals.refuseClone(v));
            } else if (isLeaf(v)) {
                out = v;
            } else if (Array.isArray(v)) {
                out = [];
                memo.set(v, out);
                for (let i = 0; i < v.length; i++)
                    out[i] = walk(v[i]);
            } else if (v instanceof Map) {
                out = new Map();
                memo.set(v, out);
                for (const [k, x] of v)
                    out.set(walk(k), walk(x));
            } else if (v instanceof Set) {
                out = new Set();
                memo.set(v, out);
                for (const x of v)
                    out.add(walk(x));
            } else {
                out = {};
                memo.set(v, out);
                for (const k of Object.keys(v))
                    out[k] = walk(v[k]);
            }
            memo.set(v, out);
            return out;
        };
        return walk(root);
    };

    // ---- revive: markers become stubs, streams, Requests and Responses --------------------

    async function callStub(peer, id, method, args) {
        return native.callStub(peer, id, method, args);
    }

    // A stub of peer's export id; kind as the marker said.
    internals.makeStub = function makeStub(peer, id, kind) {
        const k = kind & KIND;
        const isHeld = (kind & HELD) !== 0;
        if (k === STUB_STREAM)
            return remoteStream(peer, id, isHeld);
        let stub;
        if (k === STUB_FUNCTION) {
            stub = (...args) => callStub(peer, id, null, args);
            stubs.add(stub);
        } else {
            stub = internals.newFetcher((method, args) => callStub(peer, id, method, args));
        }
        if (isHeld)
            held.register(stub, { peer, id });
        return stub;
    };

    function bodyOf(b) {
        if (b instanceof ArrayBuffer)
            return internals.newBody(new Uint8Array(b));
        if (internals.isReadableStream(b)) {
            const state = internals.newBody(b);
            state.stream = b;
            return state;
        }
        return internals.newBody(null);
    }

    function untag(kind, a) {
        const [, x, y, flat, body] = a;
        if (!Array.isArray(flat) || flat.some((s) => typeof s !== 'string'))
            throw new TypeError('Malformed headers from another worker');
        if (kind === TAG_REQUEST) {
            return new internals.Request(internals.INTERNAL, [String(x), String(y),
                internals.headersFromFlat(flat, true), bodyOf(body)]);
        }
        if (typeof x !== 'number' || x < 200 || x > 599)
            throw new TypeError('Malformed Response status from another worker');
        return new internals.Response(internals.INTERNAL, [x, String(y),
            internals.headersFromFlat(flat, false), bodyOf(body)]);
    }

    function tagOf(v) {
        const m = native.markerInfo(v);
        if (m === undefined)
            return 0;
        const k = m[1] & KIND;
        return k === TAG_REQUEST || k === TAG_RESPONSE ? k : 0;
    }

    // A value as deserialized holds markers where the sender had stubs (no JavaScript may run
    // inside the deserializer): make them what they stand for, one per marker.
    internals.revive = function revive(root) {
        const done = new Map();
        const fix = (v) => {
            if (typeof v !== 'object' || v === null)
                return v;
            if (done.has(v))
                return done.get(v);
            const marker = native.markerInfo(v);
            if (marker !== undefined) {
                const [id, kind, peer] = marker;
                const k = kind & KIND;
                const out = k === TAG_REQUEST || k === TAG_RESPONSE
                    ? v : internals.makeStub(peer, id, kind);
                done.set(v, out);
                return out;
            }
            done.set(v, v);
            if (Array.isArray(v)) {
                for (let i = 0; i < v.length; i++)
                    v[i] = fix(v[i]);
                const tag = v.length === 5 ? tagOf(v[0]) : 0;
                if (tag !== 0) {
                    const out = untag(tag, v);
                    done.set(v, out);
                    return out;
                }
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

    // A stub over call(method, args) -> Promise: any method name is a call, fetch() sends a
    // Request and answers a Response. `then` stays undefined so that awaiting a stub does not
    // call it.
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
                            const answer = await call('fetch', [internals.requestOf(input, init)]);
                            if (!internals.isResponse(answer))
                                throw new TypeError('The other worker did not answer with a Response');
                            return answer;
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

    // ---- the receiving side -------------------------------------------------------------

    // What an RPC call may reach: methods of the object's classes (and, for a plain object,
    // its own methods), not those every object or entrypoint inherits (toString,
    // constructor...). An RpcTarget's own properties are data, as in Workers: not callable.
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
        let o = internals.isRpcTarget(target) ? Object.getPrototypeOf(target) : target;
        for (; o !== null && !bases.has(o); o = Object.getPrototypeOf(o)) {
            const d = Object.getOwnPropertyDescriptor(o, name);
            if (d === undefined)
                continue;
            const v = 'value' in d ? d.value : target[name];
            return typeof v === 'function' ? v : undefined;
        }
        return undefined;
    }

    internals.findMethod = findMethod;

    function noMethod(method) {
        return coded(CODES.EINVAL, new TypeError(`The RPC receiver does not implement the method "${method}".`));
    }

    function fetchRequest(args) {
        const request = args[0];
        if (!internals.isRequest(request))
            throw new TypeError('fetch() from another worker must carry a Request');
        return request;
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
                const request = fetchRequest(args);
                const result = Reflect.apply(fn, target, plain ? [request, env, ctx] : [request]);
                return Promise.resolve(result).then(checkResponse);
            }
            return Promise.resolve(Reflect.apply(fn, target, plain ? [...args, env, ctx] : args));
        } catch (e) {
            return Promise.reject(e);
        }
    };

    // iso_worker_call_stub: value is what this worker exported (a function, an RpcTarget, a
    // fetcher, a stream's source) as export id.
    internals.callExport = function callExport(value, kind, method, args, id) {
        try {
            if (kind === STUB_FUNCTION)
                return Promise.resolve(Reflect.apply(value, undefined, args));
            if (kind === STUB_STREAM) {
                if (method !== 'read' && method !== 'cancel')
                    throw noMethod(method);
                const p = method === 'read' ? value.read() : value.cancel(args[0]);
                return p.then((chunk) => {
                    if (method === 'cancel' || chunk === null)
                        native.unexport([id]);
                    return method === 'cancel' ? undefined : chunk;
                }, (e) => {
                    native.unexport([id]);
                    throw e;
                });
            }
            if (method === null)
                throw new TypeError('This stub stands for an object: call one of its methods');
            const fn = findMethod(value, method);
            if (fn === undefined)
                throw noMethod(method);
            if (method === 'fetch' && !stubs.has(value)) {
                const request = fetchRequest(args);
                return Promise.resolve(Reflect.apply(fn, value, [request])).then(checkResponse);
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
