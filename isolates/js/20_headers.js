// Headers (Fetch Standard): an ordered list of (lower-cased name, value) pairs. get() and
// iteration combine values of one name with ", " except Set-Cookie, which is never combined;
// the list itself keeps every pair in order so a response leaves with exactly the fields the
// worker set. Names must be HTTP tokens and values byte strings without NUL, CR or LF, which is
// what keeps a worker from smuggling a field into the response head.
'use strict';
(function (internals) {
    const { isToken, badHeaderValue, trimHttpWhitespace } = internals;

    function normalizeName(name) {
        const s = String(name);
        if (!isToken(s))
            throw new TypeError(`Invalid header name: "${s.slice(0, 64)}"`);
        return s.toLowerCase();
    }

    function normalizeValue(value) {
        const s = trimHttpWhitespace(String(value));
        if (badHeaderValue(s))
            throw new TypeError('Invalid header value: contains NUL, CR, LF or a non-byte character');
        return s;
    }

    function requireArgs(n, count, what) {
        if (n < count)
            throw new TypeError(`Headers.${what}: ${count} argument(s) required, but only ${n} present`);
    }

    // The "sort and combine" view that get() and iteration show.
    function sortAndCombine(list) {
        const names = [...new Set(list.map((p) => p[0]))].sort();
        const out = [];
        for (const name of names) {
            if (name === 'set-cookie') {
                for (const [n, v] of list)
                    if (n === name)
                        out.push([name, v]);
            } else {
                out.push([name, combined(list, name)]);
            }
        }
        return out;
    }

    function combined(list, name) {
        let value = null;
        for (const [n, v] of list)
            if (n === name)
                value = value === null ? v : `${value}, ${v}`;
        return value;
    }

    class Headers {
        #list = [];
        #immutable = false;

        constructor(init = undefined) {
            if (init === undefined)
                return;
            if (init === null || (typeof init !== 'object' && typeof init !== 'function'))
                throw new TypeError('Headers: init must be an object, an array of pairs or Headers');
            if (#list in init) {
                this.#list = init.#list.map((p) => [p[0], p[1]]);
            } else if (typeof init[Symbol.iterator] === 'function') {
                for (const pair of init) {
                    const p = [...pair];
                    if (p.length !== 2)
                        throw new TypeError('Headers: each header pair must have exactly two items');
                    this.append(p[0], p[1]);
                }
            } else {
                for (const key of Reflect.ownKeys(init)) {
                    const desc = Reflect.getOwnPropertyDescriptor(init, key);
                    if (desc === undefined || !desc.enumerable)
                        continue;
                    if (typeof key === 'symbol')
                        throw new TypeError('Headers: a symbol is not a header name');
                    this.append(key, init[key]);
                }
            }
        }

        #mutable() {
            if (this.#immutable)
                throw new TypeError("Can't modify immutable headers.");
        }

        append(name, value) {
            requireArgs(arguments.length, 2, 'append');
            const n = normalizeName(name);
            const v = normalizeValue(value);
            this.#mutable();
            this.#list.push([n, v]);
        }

        delete(name) {
            requireArgs(arguments.length, 1, 'delete');
            const n = normalizeName(name);
            this.#mutable();
            this.#list = this.#list.filter((p) => p[0] !== n);
        }

        get(name) {
            requireArgs(arguments.length, 1, 'get');
            return combined(this.#list, normalizeName(name));
        }

        getSetCookie() {
            return this.#list.filter((p) => p[0] === 'set-cookie').map((p) => p[1]);
        }

        has(name) {
            requireArgs(arguments.length, 1, 'has');
            const n = normalizeName(name);
            return this.#list.some((p) => p[0] === n);
        }

        set(name, value) {
            requireArgs(arguments.length, 2, 'set');
            const n = normalizeName(name);
            const v = normalizeValue(value);
            this.#mutable();
            const i = this.#list.findIndex((p) => p[0] === n);
            if (i < 0) {
                this.#list.push([n, v]);
                return;
            }
            this.#list[i] = [n, v];
            this.#list = this.#list.filter((p, j) => j <= i || p[0] !== n);
        }

        forEach(callback, thisArg = undefined) {
            if (typeof callback !== 'function')
                throw new TypeError('Headers.forEach: callback must be a function');
            for (const [name, value] of sortAndCombine(this.#list))
                callback.call(thisArg, value, name, this);
        }

        entries() {
            return sortAndCombine(this.#list)[Symbol.iterator]();
        }

        keys() {
            return sortAndCombine(this.#list).map((p) => p[0])[Symbol.iterator]();
        }

        values() {
            return sortAndCombine(this.#list).map((p) => p[1])[Symbol.iterator]();
        }

        [Symbol.iterator]() {
            return this.entries();
        }

        get [Symbol.toStringTag]() {
            return 'Headers';
        }

        static {
            // The raw list, for the shim (response heads) and Request/Response.
            internals.headersList = (h) => h.#list;
            internals.isHeaders = (v) => typeof v === 'object' && v !== null && #list in v;
            // Incoming request headers: [name, value, name, value...] straight from the edge,
            // which already parsed them; immutable like the request they belong to.
            internals.headersFromFlat = function headersFromFlat(flat, immutable) {
                const h = new Headers();
                for (let i = 0; i + 1 < flat.length; i += 2)
                    h.#list.push([flat[i].toLowerCase(), flat[i + 1]]);
                h.#immutable = immutable;
                return h;
            };
            internals.freezeHeaders = (h) => {
                h.#immutable = true;
            };
        }
    }

    internals.Headers = Headers; // for Request and Response, whatever a worker does to the global
    internals.expose('Headers', Headers);
})
