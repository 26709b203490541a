// The Worker Loader binding (Cloudflare's Dynamic Workers): env.LOADER.get(id, getCode) and
// env.LOADER.load(code) return a WorkerStub at once; stub.getEntrypoint(name?, { props, limits })
// returns a fetcher whose fetch() and other methods call into the child. Nothing happens until
// the first call: then, unless the host says a child with that id is live, getCode() runs (its
// error is that call's error), the code is checked and laid out for the shim (modules, env —
// whose functions and RpcTargets the shim's serializer exports as stubs —, globalOutbound,
// limits), and the call goes to the host, which creates the child if need be. A load() child has an id of its own and is released
// through the host when the last stub or fetcher for it is garbage. stub.getDurableObjectClass(name)
// names a class the child exports, for a durable object's ctx.facets (67_objects.js): a facet's
// calls go through the host the same way, getCode() included, as calls into that class.
'use strict';
(function (internals, native) {
    const { INTERNAL, STUB_OBJECT } = internals;
    const ANONYMOUS = '$load:';
    const TYPES = { js: 0, cjs: 1, text: 2, data: 3, json: 4 }; // enum iso_module_type
    const OUTBOUND_INHERIT = 0; // enum iso_outbound
    const OUTBOUND_NONE = 1;
    const OUTBOUND_STUB = 2;
    const NOT_JS = /\.(ts|tsx|mts|cts|jsx)$/i;
    const MAX_ID = 1024;
    let anonymous = 0;

    const registry = new FinalizationRegistry((held) => native.release(held.binding, held.id));

    function describe(v) {
        if (v === null)
            return 'null';
        if (Array.isArray(v))
            return 'an array';
        if (typeof v === 'object')
            return 'an object';
        return v === undefined ? 'undefined' : `a ${typeof v}`;
    }

    function readCount(v, name) {
        if (v === undefined)
            return 0;
        if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))
            throw new TypeError(`limits.${name} must be a non-negative number`);
        return Math.min(Math.ceil(v), 0xffffffff);
    }

    function readLimits(limits) {
        if (limits === undefined || limits === null)
            return { cpuMs: 0, subRequests: 0 };
        if (typeof limits !== 'object')
            throw new TypeError('limits must be an object { cpuMs, subRequests }');
        return {
            cpuMs: readCount(limits.cpuMs, 'cpuMs'),
            subRequests: readCount(limits.subRequests, 'subRequests'),
        };
    }

    function moduleOf(name, m) {
        if (NOT_JS.test(name))
            throw new TypeError(`Module "${name}": TypeScript and JSX are not supported; the worker must be bundled to JavaScript first`);
        if (typeof m === 'string') {
            if (/\.m?js$/.test(name))
                return [TYPES.js, m];
            throw new TypeError(`Module "${name}": a module given as a string must be an ES module named .js or .mjs; give other kinds as an object: { js }, { cjs }, { text }, { data } or { json }`);
        }
        if (typeof m !== 'object' || m === null)
            throw new TypeError(`Module "${name}" must be a string or an object with one of js, cjs, text, data, json, not ${describe(m)}`);
        const kinds = Object.keys(m).filter((k) => m[k] !== undefined);
        if (kinds.length !== 1 || !Object.hasOwn(TYPES, kinds[0]))
            throw new TypeError(`Module "${name}" must have exactly one of js, cjs, text, data, json (it has ${kinds.join(', ') || 'none'})`);
        const kind = kinds[0];
        const v = m[kind];
        if (kind === 'data') {
            const bytes = internals.asBytes(v);
            if (bytes === null)
                throw new TypeError(`Module "${name}": data must be an ArrayBuffer or a view of one`);
            return [TYPES.data, bytes];
        }
        if (kind === 'json') {
            const text = JSON.stringify(v);
            if (text === undefined)
                throw new TypeError(`Module "${name}": json must be a value JSON can represent`);
            return [TYPES.json, text];
        }
        if (typeof v !== 'string')
            throw new TypeError(`Module "${name}": ${kind} must be a string, not ${describe(v)}`);
        return [TYPES[kind], v];
    }

    // The worker code as the shim reads it (isolates/calls.cc, read_code).
    function layOut(code) {
        if (typeof code !== 'object' || code === null)
            throw new TypeError(`The worker code must be an object { compatibilityDate, mainModule, modules, ... }, not ${describe(code)}`);
        const date = code.compatibilityDate;
        if (typeof date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(date))
            throw new TypeError('The worker code must have a compatibilityDate such as "2025-06-01"');
        const flags = code.compatibilityFlags;
        if (flags !== undefined &&
            (!Array.isArray(flags) || flags.some((f) => typeof f !== 'string')))
            throw new TypeError('compatibilityFlags must be an array of strings');
        const modules = code.modules;
        if (typeof modules !== 'object' || modules === null || Array.isArray(modules))
            throw new TypeError('The worker code must have modules: an object mapping module names to their code');
        const names = [];
        const types = [];
        const sources = [];
        for (const name of Object.keys(modules)) {
            const [type, source] = moduleOf(name, modules[name]);
            names.push(name);
            types.push(type);
            sources.push(source);
        }
        if (names.length === 0)
            throw new TypeError('The worker code has no modules');
        const main = code.mainModule;
        if (typeof main !== 'string' || !names.includes(main))
            throw new TypeError(`mainModule ${typeof main === 'string' ? `"${main}"` : describe(main)} is not one of the modules`);
        const limits = readLimits(code.limits);
        const env = code.env;
        if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env)))
            throw new TypeError(`env must be an object, not ${describe(env)}`);
        const outbound = code.globalOutbound;
        if (outbound !== undefined && outbound !== null && !internals.isStub(outbound) &&
            !(typeof outbound === 'object' && typeof outbound.fetch === 'function'))
            throw new TypeError('globalOutbound must be null or a fetcher (such as stub.getEntrypoint(), or an object with a fetch() method)');
        const stubs = [];
        try {
            let mode = OUTBOUND_INHERIT;
            let outboundStub = 0;
            if (outbound === null) {
                mode = OUTBOUND_NONE;
            } else if (outbound !== undefined) {
                mode = OUTBOUND_STUB;
                outboundStub = native.exportStub(outbound, STUB_OBJECT);
                stubs.push(outboundStub);
            }
            return [main, date, names, types, sources, env, mode, outboundStub, limits.cpuMs,
                limits.subRequests, stubs];
        } catch (e) {
            native.unexport(stubs);
            throw e;
        }
    }

    // getCode() once at a time per stub: calls that find the child missing together share it.
    function codeFor(st) {
        if (st.pending === null) {
            const p = (async () => st.getCode())();
            st.pending = p;
            const done = () => {
                if (st.pending === p)
                    st.pending = null;
            };
            p.then(done, done);
        }
        return st.pending.then(layOut);
    }

    async function callChild(st, entrypoint, props, limits, method, args) {
        const call = (code) => native.callLoader(st.binding, st.id, st.anonymous, code, entrypoint,
            method, props, limits.cpuMs, limits.subRequests, args);
        if (!native.childLive(st.binding, st.id))
            return call(await codeFor(st));
        try {
            return await call(null);
        } catch (e) {
            // The child went between the look and the call: its code is needed after all.
            if (internals.errorCode(e) !== internals.codes.NOENT)
                throw e;
        }
        return call(await codeFor(st));
    }

    // getCode() when the child is not live, then the call; again with code if it went meanwhile.
    async function withChild(st, call) {
        if (!native.childLive(st.binding, st.id))
            return call(await codeFor(st));
        try {
            return await call(null);
        } catch (e) {
            if (internals.errorCode(e) !== internals.codes.NOENT)
                throw e;
        }
        return call(await codeFor(st));
    }

    // A class exported by a child: what a facet is an instance of.
    const classParts = new WeakMap(); // DurableObjectClass -> { st, name }

    class DurableObjectClass {
        constructor(token, st, name) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            classParts.set(this, { st, name });
        }

        get [Symbol.toStringTag]() {
            return 'DurableObjectClass';
        }
    }

    internals.facetClassCheck = (cls) => {
        if (!classParts.has(cls))
            throw new TypeError('The facet\'s class must be a DurableObjectClass, from a WorkerStub\'s getDurableObjectClass(name)');
    };

    // A call into facet `facet` of the object with handle key: an instance of cls in its child.
    internals.callFacet = (cls, key, facet, idHex, idName, method, args) => {
        const { st, name } = classParts.get(cls);
        return withChild(st, (code) => native.callFacet(key, facet, name, idHex, idName,
            st.binding, st.id, st.anonymous, code, method, args));
    };

    class WorkerStub {
        #st;

        constructor(token, st) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#st = st;
        }

        getEntrypoint(name = undefined, options = undefined) {
            if (name !== undefined && name !== null && typeof name !== 'string')
                throw new TypeError('getEntrypoint: the entrypoint name must be a string');
            if (options !== undefined && options !== null && typeof options !== 'object')
                throw new TypeError('getEntrypoint: options must be an object { props, limits }');
            const limits = readLimits(options?.limits);
            const props = options?.props;
            const st = this.#st;
            const entrypoint = name ?? null;
            return internals.newFetcher(
                (method, args) => callChild(st, entrypoint, props, limits, method, args));
        }

        // A class the child exports, for ctx.facets.get(): checked when a facet starts.
        getDurableObjectClass(name) {
            if (typeof name !== 'string' || !/^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/.test(name))
                throw new TypeError('getDurableObjectClass: the class name must be a JavaScript identifier (at most 128 characters)');
            return new DurableObjectClass(INTERNAL, this.#st, name);
        }

        get [Symbol.toStringTag]() {
            return 'WorkerStub';
        }
    }

    function newStub(binding, id, getCode) {
        const st = { binding, id, anonymous: false, getCode, pending: null };
        if (id === null) {
            st.id = `${ANONYMOUS}${++anonymous}`;
            st.anonymous = true;
            registry.register(st, { binding, id: st.id });
        }
        return new WorkerStub(INTERNAL, st);
    }

    class WorkerLoader {
        #binding;

        constructor(token, binding) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#binding = binding;
        }

        get(id, getCode) {
            if (typeof getCode !== 'function')
                throw new TypeError('WorkerLoader.get(id, getCode): getCode must be a function that returns the worker code');
            if (id === null || id === undefined)
                return newStub(this.#binding, null, getCode);
            if (typeof id !== 'string' || id === '')
                throw new TypeError('WorkerLoader.get: the id must be a non-empty string');
            if (id.length > MAX_ID)
                throw new RangeError(`WorkerLoader.get: the id is longer than ${MAX_ID} characters`);
            if (id.startsWith(ANONYMOUS))
                throw new TypeError(`WorkerLoader.get: ids starting with "${ANONYMOUS}" are reserved for load()`);
            return newStub(this.#binding, id, getCode);
        }

        load(code) {
            if (typeof code !== 'object' || code === null)
                throw new TypeError('WorkerLoader.load(code): code must be an object { compatibilityDate, mainModule, modules, ... }');
            return newStub(this.#binding, null, () => code);
        }

        get [Symbol.toStringTag]() {
            return 'WorkerLoader';
        }
    }

    internals.newWorkerLoader = (binding) => new WorkerLoader(INTERNAL, binding);
    internals.refuseClone = (v) => (v instanceof WorkerLoader || v instanceof WorkerStub ||
        v instanceof DurableObjectClass
        ? 'A WorkerLoader, WorkerStub or DurableObjectClass cannot be sent to another worker; send a fetcher (stub.getEntrypoint()) instead'
        : null);
})
