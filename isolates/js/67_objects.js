// Durable Objects, Cloudflare's API over SQLite storage. The caller's side: env.NS is a
// DurableObjectNamespace whose ids come from the host (keyed hashes bound to the tenant and
// class: idFromName, newUniqueId, idFromString), and get(id) a stub whose fetch() and RPC methods
// become calls to the host, which runs them where the object lives. The object's side:
// objectCall() finds or makes the instance of an object (`new Class(ctx, env)` on its first
// call, kept by the shim per object until the host drops it), waits while its
// blockConcurrencyWhile() callback runs, and calls the method; ctx.storage (SQL, key-value,
// transactions, alarms) reaches the object's database through the host, synchronously: a
// storage promise is settled before it is returned, so no other event can come between. Values
// cross to and from an object without stubs or streams: a body is read whole before it goes.
// ctx.facets gives an object facets: instances of classes that child workers (env.LOADER)
// export, each with a database of its own beside the object's, reached through the host as
// calls into the child (internals.callFacet, 70_loader.js). A transaction() runs alone: another
// one, and any new event, waits until it settles (an input gate); one started inside it nests.
// A lazy file (isolates/lazy.cc): a worker without durable objects never runs it.
'use strict';
(function (internals, native) {
    const { INTERNAL } = internals;
    const OP_NAME = 0; // enum iso_object_id_op
    const OP_UNIQUE = 1;
    const OP_STRING = 2;
    const TXN_BEGIN = 0; // native.objectTxn
    const TXN_COMMIT = 1;
    const TXN_ROLLBACK = 2;
    const MAX_KEYS = 128; // per get/put/delete batch, as in Workers
    const FACET_ABORT = 0; // enum iso_facet_op
    const FACET_DELETE = 1;
    const MAX_FACET_NAME = 128; // characters, as in workerd

    // ---- ids --------------------------------------------------------------------------------

    const idParts = new WeakMap(); // DurableObjectId -> { hex, name }

    class DurableObjectId {
        constructor(token, hex, name) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            idParts.set(this, { hex, name });
        }

        toString() {
            return partsOf(this).hex;
        }

        equals(other) {
            const mine = partsOf(this);
            const theirs = idParts.get(other);
            return theirs !== undefined && theirs.hex === mine.hex;
        }

        get name() {
            return partsOf(this).name;
        }

        get [Symbol.toStringTag]() {
            return 'DurableObjectId';
        }
    }

    function partsOf(id) {
        const p = idParts.get(id);
        if (p === undefined)
            throw new TypeError('Illegal invocation');
        return p;
    }

    // ---- the caller's side --------------------------------------------------------------------

    // A Request whose body is a stream is read whole first: nothing streams to an object.
    async function wholeRequest(request) {
        const state = internals.requestBody(request);
        if (state.stream === null)
            return request;
        const body = await request.arrayBuffer();
        return new internals.Request(request.url, {
            method: request.method, headers: request.headers, body, redirect: request.redirect,
        });
    }

    // A stub over one object: fetch() sends a Request and answers a Response, any other
    // method name is an RPC call; `id` and `name` are the object's. `then` stays undefined so
    // that awaiting a stub does not call it.
    function newStub(binding, id) {
        const { hex, name } = partsOf(id);
        // a value that cannot cross rejects the call's promise, as any other failure does
        const call = (method, args) => {
            try {
                return native.callObject(binding, hex, name ?? null, method, args);
            } catch (e) {
                return Promise.reject(e);
            }
        };
        return newProxy(call, { id, name });
    }

    // fetch() and RPC methods over call(method, args); own are the stub's properties.
    function newProxy(call, own) {
        const methods = new Map();
        const proxy = new Proxy(Object.create(null), {
            get(target, prop) {
                if (Object.hasOwn(own, prop))
                    return own[prop];
                if (typeof prop !== 'string' || prop === 'then' || prop === 'constructor')
                    return undefined;
                let m = methods.get(prop);
                if (m === undefined) {
                    m = prop === 'fetch'
                        ? async (input, init) => {
                            const request = await wholeRequest(internals.requestOf(input, init));
                            const answer = await call('fetch', [request]);
                            if (!internals.isResponse(answer))
                                throw new TypeError('The Durable Object did not answer with a Response');
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
        return proxy;
    }

    function noJurisdiction(options) {
        if (options !== undefined && options !== null && typeof options !== 'object')
            throw new TypeError('The options must be an object');
        if (options?.jurisdiction !== undefined)
            throw new Error('Jurisdiction restrictions are not implemented in edged.');
    }

    class DurableObjectNamespace {
        #binding;

        constructor(token, binding) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#binding = binding;
        }

        newUniqueId(options = undefined) {
            noJurisdiction(options);
            return new DurableObjectId(INTERNAL, native.objectId(this.#binding, OP_UNIQUE, ''),
                undefined);
        }

        idFromName(name) {
            const text = String(name);
            return new DurableObjectId(INTERNAL, native.objectId(this.#binding, OP_NAME, text), text);
        }

        idFromString(id) {
            return new DurableObjectId(INTERNAL,
                native.objectId(this.#binding, OP_STRING, String(id)), undefined);
        }

        get(id, options = undefined) {
            if (!idParts.has(id))
                throw new TypeError('get() expects a DurableObjectId (from idFromName(), newUniqueId() or idFromString())');
            noJurisdiction(options);
            // an id of another namespace of another class names no object of this one
            native.objectId(this.#binding, OP_STRING, partsOf(id).hex);
            return newStub(this.#binding, id);
        }

        getByName(name, options = undefined) {
            return this.get(this.idFromName(name), options);
        }

        get [Symbol.toStringTag]() {
            return 'DurableObjectNamespace';
        }
    }

    internals.newObjectNamespace = (binding) => new DurableObjectNamespace(INTERNAL, binding);

    // Waits until p settles, in entries of this invocation's own. A continuation runs in the
    // entry of whoever settled its promise, and the shim counts what runs in an entry (timers,
    // calls out) as that entry's invocation's: a call that waited behind another call's gate
    // would have its timers die with the other call. So the wait is a timer of the waiting
    // invocation (which also keeps it alive meanwhile), made due at once when p settles.
    function ownWait(p) {
        return new Promise((resolve) => {
            const id = internals.setTimer(resolve, 2147483647); // runs 07_timers.js if needed
            const hurry = () => native.hurryTimer(id);
            p.then(hurry, hurry);
        });
    }

    // ---- SQL ----------------------------------------------------------------------------------

    // The rows of the query's last statement, read eagerly by the host: [names, rows (arrays),
    // rowsRead, rowsWritten].
    class SqlStorageCursor {
        #names;
        #rows;
        #next = 0;
        #read;
        #written;

        constructor(token, result) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            [this.#names, this.#rows, this.#read, this.#written] = result;
        }

        #row(values) {
            const row = {};
            const names = this.#names;
            for (let i = 0; i < names.length; i++)
                row[names[i]] = values[i];
            return row;
        }

        #take() {
            return this.#next < this.#rows.length ? this.#rows[this.#next++] : undefined;
        }

        next() {
            const values = this.#take();
            return values === undefined ? { done: true, value: undefined }
                : { done: false, value: this.#row(values) };
        }

        toArray() {
            const out = [];
            for (let values = this.#take(); values !== undefined; values = this.#take())
                out.push(this.#row(values));
            return out;
        }

        one() {
            const values = this.#take();
            if (values === undefined)
                throw new Error('Expected exactly one result from SQL query, but got no results.');
            if (this.#next < this.#rows.length) {
                this.#next = this.#rows.length;
                throw new Error('Expected exactly one result from SQL query, but got multiple results.');
            }
            return this.#row(values);
        }

        // The same rows as arrays of values, in column order; shares the cursor's position.
        raw() {
            const take = () => this.#take();
            const iterator = {
                next() {
                    const values = take();
                    return values === undefined ? { done: true, value: undefined }
                        : { done: false, value: values };
                },
                toArray() {
                    const out = [];
                    for (let values = take(); values !== undefined; values = take())
                        out.push(values);
                    return out;
                },
                [Symbol.iterator]() {
                    return iterator;
                },
            };
            return iterator;
        }

        get columnNames() {
            return this.#names;
        }

        get rowsRead() {
            return this.#read;
        }

        get rowsWritten() {
            return this.#written;
        }

        [Symbol.iterator]() {
            return this;
        }

        get [Symbol.toStringTag]() {
            return 'SqlStorageCursor';
        }
    }

    class SqlStorage {
        #key;

        constructor(token, key) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#key = key;
        }

        exec(query, ...bindings) {
            if (typeof query !== 'string')
                throw new TypeError('exec() expects the SQL query as a string');
            return new SqlStorageCursor(INTERNAL, native.sqlExec(this.#key, query, bindings));
        }

        get databaseSize() {
            return native.sqlSize(this.#key);
        }

        get [Symbol.toStringTag]() {
            return 'SqlStorage';
        }
    }

    // ---- key-value, transactions, alarms ---------------------------------------------------------

    function keyList(keys, what) {
        if (keys.length > MAX_KEYS)
            throw new RangeError(`Maximum number of keys is ${MAX_KEYS}. ${keys.length} keys were provided.`);
        return keys.map((k) => String(k));
    }

    // Byte (UTF-8) order, as the database keeps keys: code point order, not UTF-16's.
    function compareKeys(a, b) {
        const x = internals.encodeUtf8(a);
        const y = internals.encodeUtf8(b);
        const n = Math.min(x.length, y.length);
        for (let i = 0; i < n; i++) {
            if (x[i] !== y[i])
                return x[i] - y[i];
        }
        return x.length - y.length;
    }

    function optionalString(v, name) {
        if (v === undefined || v === null)
            return null;
        if (typeof v !== 'string')
            throw new TypeError(`list(): ${name} must be a string`);
        return v;
    }

    function alarmTime(time) {
        const ms = time instanceof Date ? time.getTime() : time;
        if (typeof ms !== 'number' || !Number.isFinite(ms))
            throw new TypeError('setAlarm() expects a Date or a number of milliseconds since the epoch');
        return Math.max(1, Math.trunc(ms));
    }

    // Settles now: storage runs synchronously, so what the promise stands for is done.
    function settled(fn) {
        try {
            return Promise.resolve(fn());
        } catch (e) {
            return Promise.reject(e);
        }
    }

    class DurableObjectStorage {
        #key;
        #rec;
        #sql = null;

        constructor(token, rec) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#key = rec.key;
            this.#rec = rec;
        }

        get sql() {
            if (this.#sql === null)
                this.#sql = new SqlStorage(INTERNAL, this.#key);
            return this.#sql;
        }

        get(keys, options = undefined) {
            return settled(() => {
                if (!Array.isArray(keys))
                    return native.kvGet(this.#key, [String(keys)])[0];
                const list = keyList(keys);
                const values = native.kvGet(this.#key, list);
                const found = [];
                for (let i = 0; i < list.length; i++) {
                    if (values[i] !== undefined)
                        found.push([list[i], values[i]]);
                }
                found.sort((a, b) => compareKeys(a[0], b[0]));
                return new Map(found);
            });
        }

        put(keyOrEntries, value = undefined, options = undefined) {
            return settled(() => {
                const flat = [];
                if (typeof keyOrEntries === 'object' && keyOrEntries !== null) {
                    const keys = keyList(Object.keys(keyOrEntries));
                    for (const k of keys)
                        flat.push(k, keyOrEntries[k]);
                } else {
                    if (value === undefined)
                        throw new TypeError('put() called with undefined value.');
                    flat.push(String(keyOrEntries), value);
                }
                native.kvPut(this.#key, flat);
            });
        }

        delete(keys, options = undefined) {
            return settled(() => {
                if (!Array.isArray(keys))
                    return native.kvDelete(this.#key, [String(keys)]) === 1;
                return native.kvDelete(this.#key, keyList(keys));
            });
        }

        list(options = undefined) {
            return settled(() => {
                const o = options ?? {};
                if (typeof o !== 'object')
                    throw new TypeError('list() expects an options object');
                let start = optionalString(o.start, 'start');
                const after = optionalString(o.startAfter, 'startAfter');
                if (start !== null && after !== null)
                    throw new TypeError('list() cannot be called with both start and startAfter values.');
                if (after !== null)
                    start = `${after}\0`; // the first key after it, in byte order
                let limit = 0;
                if (o.limit !== undefined && o.limit !== null) {
                    if (typeof o.limit !== 'number' || !(o.limit >= 1))
                        throw new RangeError('List limit must be positive.');
                    limit = Math.min(Math.trunc(o.limit), 0xffffffff);
                }
                const flat = native.kvList(this.#key, optionalString(o.prefix, 'prefix'), start,
                    optionalString(o.end, 'end'), limit, o.reverse === true);
                const map = new Map();
                for (let i = 0; i + 1 < flat.length; i += 2)
                    map.set(flat[i], flat[i + 1]);
                return map;
            });
        }

        deleteAll(options = undefined) {
            return settled(() => {
                native.kvDeleteAll(this.#key);
            });
        }

        transactionSync(callback) {
            if (typeof callback !== 'function')
                throw new TypeError('transactionSync() expects a function');
            native.objectTxn(this.#key, TXN_BEGIN);
            let result;
            try {
                result = callback();
            } catch (e) {
                native.objectTxn(this.#key, TXN_ROLLBACK);
                throw e;
            }
            native.objectTxn(this.#key, TXN_COMMIT);
            return result;
        }

        // One transaction at a time per object: its savepoint is the innermost until it
        // settles, so another call's transaction waits (else the two would release each
        // other's savepoints), and so do new events (their writes would land in it). One
        // started by the closure (what runs inside it, across awaits, as V8 carries the async
        // context) nests instead.
        async transaction(closure) {
            if (typeof closure !== 'function')
                throw new TypeError('transaction() expects a function');
            const rec = this.#rec;
            const outer = native.asyncContext();
            if (outer !== undefined && outer !== null && outer.rec === rec && outer.open)
                return this.#run(closure, outer);
            while (rec.txn !== null)
                await ownWait(rec.txn.done);
            let settle;
            const token = { rec, open: true, done: new Promise((resolve) => { settle = resolve; }) };
            rec.txn = token;
            try {
                return await this.#run(closure, token);
            } finally {
                token.open = false;
                rec.txn = null;
                settle();
            }
        }

        async #run(closure, token) {
            native.objectTxn(this.#key, TXN_BEGIN);
            const txn = new DurableObjectTransaction(INTERNAL, this);
            const saved = native.asyncContext();
            let result;
            try {
                native.setAsyncContext(token);
                try {
                    result = closure(txn);
                } finally {
                    native.setAsyncContext(saved);
                }
                result = await result;
            } catch (e) {
                native.objectTxn(this.#key, TXN_ROLLBACK);
                throw e;
            }
            native.objectTxn(this.#key, txnRolledBack(txn) ? TXN_ROLLBACK : TXN_COMMIT);
            return result;
        }

        getAlarm(options = undefined) {
            return settled(() => {
                const ms = native.alarmGet(this.#key);
                return ms === 0 ? null : ms;
            });
        }

        setAlarm(scheduledTime, options = undefined) {
            return settled(() => {
                native.alarmSet(this.#key, alarmTime(scheduledTime));
            });
        }

        deleteAlarm(options = undefined) {
            return settled(() => {
                native.alarmSet(this.#key, 0);
            });
        }

        // Writes are committed at the end of the loop turn; what a caller sees waits for that.
        sync() {
            return Promise.resolve();
        }

        get [Symbol.toStringTag]() {
            return 'DurableObjectStorage';
        }
    }

    // transaction()'s argument: the storage's methods, and rollback(), which undoes what the
    // transaction did when its closure returns.
    const rolledBack = new WeakSet();
    function txnRolledBack(txn) {
        return rolledBack.has(txn);
    }

    class DurableObjectTransaction {
        #storage;

        constructor(token, storage) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#storage = storage;
        }

        get(keys, options) {
            return this.#storage.get(keys, options);
        }

        put(keyOrEntries, value, options) {
            return this.#storage.put(keyOrEntries, value, options);
        }

        delete(keys, options) {
            return this.#storage.delete(keys, options);
        }

        list(options) {
            return this.#storage.list(options);
        }

        getAlarm(options) {
            return this.#storage.getAlarm(options);
        }

        setAlarm(time, options) {
            return this.#storage.setAlarm(time, options);
        }

        deleteAlarm(options) {
            return this.#storage.deleteAlarm(options);
        }

        rollback() {
            rolledBack.add(this);
        }
    }

    // ---- the object's side ------------------------------------------------------------------------

    // An object's record (kept by the shim per handle): its instance, the promise events wait
    // on while blockConcurrencyWhile() callbacks run, and whether its class speaks RPC.
    function dropRecord(rec, error) {
        rec.broken = error;
        native.objectDelete(rec.key, rec);
    }

    class DurableObjectState {
        #rec;
        #id;
        #storage = null;
        #facets = null;

        constructor(token, rec, id) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#rec = rec;
            this.#id = id;
        }

        get id() {
            return this.#id;
        }

        get storage() {
            if (this.#storage === null)
                this.#storage = new DurableObjectStorage(INTERNAL, this.#rec);
            return this.#storage;
        }

        get facets() {
            if (this.#facets === null)
                this.#facets = new DurableObjectFacets(INTERNAL, this.#rec, this.#id);
            return this.#facets;
        }

        // No other event reaches the object until callback's promise settles; if it rejects,
        // the instance is dropped (the next event makes a new one), as in Workers.
        blockConcurrencyWhile(callback) {
            if (typeof callback !== 'function')
                throw new TypeError('blockConcurrencyWhile() expects a function');
            const rec = this.#rec;
            const result = (async () => callback())();
            const done = result.then(() => undefined, (e) => dropRecord(rec, e));
            const gate = rec.gate === null ? done : Promise.all([rec.gate, done]).then(() => undefined);
            rec.gate = gate;
            gate.then(() => {
                if (rec.gate === gate)
                    rec.gate = null;
            });
            return result;
        }

        waitUntil(promise) {
            const invocation = native.invocation();
            const watched = Promise.resolve(promise).then(undefined, (e) => native.reportError(e));
            if (invocation !== 0)
                native.waitUntil(invocation, watched);
        }

        abort(reason = undefined) {
            dropRecord(this.#rec, reason ?? new Error('Durable Object was aborted.'));
        }

        get [Symbol.toStringTag]() {
            return 'DurableObjectState';
        }
    }

    // ---- facets ------------------------------------------------------------------------------

    function facetName(name) {
        if (typeof name !== 'string')
            throw new TypeError('A facet name must be a string.');
        if (name.length === 0 || name.length > MAX_FACET_NAME)
            throw new TypeError(`A facet name must be 1 to ${MAX_FACET_NAME} characters long.`);
        if (/[\u0000-\u001f\u007f/]/.test(name))
            throw new TypeError('A facet name cannot contain control characters nor "/".');
        return name;
    }

    // What getStartupOptions() gave: the class (checked by 70_loader.js) and the facet's ctx.id.
    function startupOptions(options, parentId) {
        if (typeof options !== 'object' || options === null)
            throw new TypeError('getStartupOptions() must return an object { class, id }');
        const cls = options.class;
        internals.facetClassCheck(cls);
        let idHex;
        let idName;
        const id = options.id;
        if (id === undefined || id === null) {
            ({ hex: idHex, name: idName } = partsOf(parentId));
        } else if (typeof id === 'string') {
            idHex = '';
            idName = id;
        } else if (idParts.has(id)) {
            ({ hex: idHex, name: idName } = partsOf(id));
        } else {
            throw new TypeError('The facet\'s id must be a DurableObjectId or a string');
        }
        return { cls, idHex, idName: idName ?? null };
    }

    // ctx.facets: each facet of the object by name, started (getStartupOptions() run) on its
    // first call and kept until abort() or delete(). A facet whose child worker or instance
    // went (evicted, a limit) is started again from the same options by its next call.
    class DurableObjectFacets {
        #rec;
        #id;

        constructor(token, rec, id) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#rec = rec;
            this.#id = id;
        }

        #check() {
            if (this.#rec.facet)
                throw new Error('This Durable Object does not support creating facets.');
        }

        get(name, getStartupOptions) {
            this.#check();
            name = facetName(name);
            if (typeof getStartupOptions !== 'function')
                throw new TypeError('facets.get(name, getStartupOptions): getStartupOptions must be a function');
            const rec = this.#rec;
            const parentId = this.#id;
            const options = () => {
                let f = rec.facets.get(name);
                if (f === undefined) {
                    const p = (async () => startupOptions(await getStartupOptions(), parentId))();
                    f = { options: p };
                    rec.facets.set(name, f);
                    p.catch(() => {
                        if (rec.facets.get(name) === f)
                            rec.facets.delete(name);
                    });
                }
                return f.options;
            };
            const call = async (method, args) => {
                const o = await options();
                return internals.callFacet(o.cls, rec.key, name, o.idHex, o.idName, method, args);
            };
            return newProxy(call, {});
        }

        abort(name, reason = undefined) {
            this.#check();
            name = facetName(name);
            this.#rec.facets.delete(name);
            const text = reason === undefined ? 'The facet was aborted.'
                : reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
            native.facetCtl(this.#rec.key, FACET_ABORT, name, text);
        }

        delete(name) {
            this.#check();
            name = facetName(name);
            this.#rec.facets.delete(name);
            native.facetCtl(this.#rec.key, FACET_DELETE, name, null);
        }

        get [Symbol.toStringTag]() {
            return 'DurableObjectFacets';
        }
    }

    function construct(ns, env, cls, key, hex, name, facet) {
        const Class = ns === undefined ? undefined : ns[cls];
        if (typeof Class !== 'function')
            throw new TypeError(`Durable Object class ${cls} is not exported by the main module`);
        const { DurableObject } = internals.cloudflareWorkers;
        const rec = {
            key, instance: null, gate: null, broken: null, txn: null, facet,
            facets: new Map(), rpc: Class.prototype instanceof DurableObject,
        };
        native.objectSet(key, rec);
        // a facet's id may be a plain string (ctx.id is then that string, as in workerd)
        const id = hex === '' ? name : new DurableObjectId(INTERNAL, hex, name ?? undefined);
        const state = new DurableObjectState(INTERNAL, rec, id);
        try {
            rec.instance = Reflect.construct(Class, [state, env]);
        } catch (e) {
            dropRecord(rec, e);
            throw e;
        }
        return rec;
    }

    async function wholeResponse(response) {
        if (!internals.isResponse(response))
            throw new TypeError('The Durable Object\'s fetch() did not return a Response');
        if (internals.responseBody(response).stream === null)
            return response;
        const body = await response.arrayBuffer();
        return new internals.Response(body, {
            status: response.status, statusText: response.statusText, headers: response.headers,
        });
    }

    async function deliver(rec, method, args) {
        while (rec.gate !== null || rec.txn !== null)
            await ownWait(rec.gate ?? rec.txn.done);
        if (rec.broken !== null)
            throw rec.broken;
        const target = rec.instance;
        if (method === 'fetch' || method === 'alarm') {
            const fn = target[method];
            if (typeof fn !== 'function') {
                throw new TypeError(method === 'fetch'
                    ? 'The Durable Object has no fetch() method.'
                    : 'The Durable Object has no alarm() method.');
            }
            if (method === 'alarm') {
                const info = args.length > 0 ? args[0] : { retryCount: 0, isRetry: false };
                return void await Reflect.apply(fn, target, [info]);
            }
            if (!internals.isRequest(args[0]))
                throw new TypeError('fetch() to a Durable Object must carry a Request');
            return wholeResponse(await Reflect.apply(fn, target, [args[0]]));
        }
        if (!rec.rpc)
            throw new TypeError('The receiving Durable Object does not support RPC, because its class was not declared with `extends DurableObject`.');
        const fn = internals.findMethod(target, method);
        if (fn === undefined)
            throw new TypeError(`The RPC receiver does not implement the method "${method}".`);
        return Reflect.apply(fn, target, args);
    }

    // iso_worker_call_object: method of the object with handle key, made if need be.
    internals.objectCall = function objectCall(ns, env, cls, key, hex, name, method, args, facet) {
        try {
            let rec = native.objectGet(key);
            if (rec === undefined)
                rec = construct(ns, env, cls, key, hex, name, facet === true);
            return deliver(rec, method, args);
        } catch (e) {
            return Promise.reject(e);
        }
    };
})
