// Request (Fetch Standard), as far as a server-side worker needs it today: method, url,
// headers and a body read once. The edge's requests are built by the shim through
// internals.newIncomingRequest with immutable headers, as in Cloudflare Workers. A worker's
// `new Request(input)` parses input with the URL Standard (no base URL exists in a worker, so a
// relative URL is a TypeError) and keeps it serialized; an incoming request's URL, built by the
// edge (or a parent), is parsed only when a worker first reads `url`.
'use strict';
(function (internals, native) {
    const { INTERNAL, Headers } = internals;
    const NORMALIZED = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
    const FORBIDDEN = ['CONNECT', 'TRACE', 'TRACK'];

    function normalizeMethod(m) {
        const s = String(m);
        if (!internals.isToken(s))
            throw new TypeError(`Invalid HTTP method: "${s.slice(0, 64)}"`);
        const upper = s.toUpperCase();
        if (FORBIDDEN.includes(upper))
            throw new TypeError(`HTTP method ${upper} is not allowed`);
        return NORMALIZED.includes(upper) ? upper : s;
    }

    const REDIRECTS = ['follow', 'manual', 'error'];

    class Request {
        #method;
        #url;
        #urlParsed = true; // false: #url is as the edge or a parent gave it, not yet parsed
        #headers;
        #body;
        #redirect = 'follow';
        #signal = null; // an AbortSignal, or null until `signal` is read

        constructor(input, init = undefined) {
            if (input === INTERNAL) {
                [this.#method, this.#url, this.#headers, this.#body] = init;
                this.#urlParsed = init.length < 5 || init[4];
                return;
            }
            if (arguments.length < 1)
                throw new TypeError('Request: 1 argument required, but only 0 present');
            if (init !== undefined && init !== null && typeof init !== 'object')
                throw new TypeError('Request: init must be an object');
            let base = null;
            if (typeof input === 'object' && input !== null && #method in input)
                base = input;
            if (base !== null) {
                this.#url = base.url;
            } else {
                const url = internals.parseUrl(input instanceof internals.URL ? input.href
                    : String(input));
                if (url === null)
                    throw new TypeError(`Invalid URL: ${String(input).slice(0, 200)}`);
                this.#url = url;
            }
            this.#method = init?.method !== undefined ? normalizeMethod(init.method)
                : base !== null ? base.#method : 'GET';
            if (init?.redirect !== undefined) {
                const redirect = String(init.redirect);
                if (!REDIRECTS.includes(redirect))
                    throw new TypeError(`Request: redirect must be "follow", "manual" or "error", not "${redirect.slice(0, 32)}"`);
                this.#redirect = redirect;
            } else if (base !== null) {
                this.#redirect = base.#redirect;
            }
            const headersInit = init?.headers !== undefined ? init.headers
                : base !== null ? base.#headers : undefined;
            this.#headers = new Headers(headersInit);
            if (init?.redirect !== undefined) {
                const r = String(init.redirect);
                if (!REDIRECTS.includes(r))
                    throw new TypeError(`Request: "${r.slice(0, 64)}" is not a valid redirect mode`);
                this.#redirect = r;
            } else if (base !== null) {
                this.#redirect = base.#redirect;
            }
            if (init?.signal !== undefined && init.signal !== null) {
                const AS = globalThis.AbortSignal;
                const ok = typeof AS === 'function' ? init.signal instanceof AS
                    : typeof init.signal.addEventListener === 'function';
                if (!ok)
                    throw new TypeError('Request: init.signal must be an AbortSignal');
                this.#signal = init.signal;
            } else if (init?.signal === undefined && base !== null) {
                this.#signal = base.#signal;
            }

            const bodyInit = init?.body;
            if (bodyInit !== undefined && bodyInit !== null) {
                if (this.#method === 'GET' || this.#method === 'HEAD')
                    throw new TypeError('Request with a GET or HEAD method cannot have a body.');
                const [state, type] = internals.extractBody(bodyInit);
                this.#body = state;
                if (type !== null && !this.#headers.has('content-type'))
                    this.#headers.set('content-type', type);
            } else if (base !== null && bodyInit === undefined) {
                // The new request takes over the old one's body, which becomes used.
                if (internals.bodyUsed(base.#body))
                    throw new TypeError('Request: the input request body has already been used');
                this.#body = base.#body;
                base.#body = internals.newBody(null);
                base.#body.used = this.#body.source !== null;
            } else {
                this.#body = internals.newBody(null);
            }
        }

        get method() {
            return this.#method;
        }

        get url() {
            if (!this.#urlParsed) {
                // what the edge built is absolute; one that does not parse stays as it came
                this.#url = internals.parseUrl(this.#url) ?? this.#url;
                this.#urlParsed = true;
            }
            return this.#url;
        }

        get headers() {
            return this.#headers;
        }

        get redirect() {
            return this.#redirect;
        }

        // The request's AbortSignal: the one it was made with, else one that never aborts.
        get signal() {
            if (this.#signal === null && typeof globalThis.AbortController === 'function')
                this.#signal = new globalThis.AbortController().signal;
            return this.#signal;
        }

        static {
            internals.mixinBody(Request.prototype, (r) => r.#body, (r) => r.#headers);
            internals.isRequest = (v) => typeof v === 'object' && v !== null && #body in v;
            internals.requestBody = (r) => r.#body; // for sending it to another worker
        }

        clone() {
            const r = new Request(INTERNAL, [this.#method, this.url, new Headers(this.#headers),
                internals.cloneBody(this.#body)]);
            r.#redirect = this.#redirect;
            r.#signal = this.#signal;
            return r;
        }

        get [Symbol.toStringTag]() {
            return 'Request';
        }
    }

    // A request body still arriving from the client: a byte stream whose pulls take what the
    // edge received (native.bodyAvailable/bodyTake) and wait for more (native.bodyWait). Its
    // length is the declared Content-Length (-1: chunked).
    const MAX_PIECE = 256 * 1024;
    function incomingBodyStream(handle, length) {
        let s;
        const pull = async () => {
            for (;;) {
                const n = native.bodyAvailable(handle);
                if (n < 0) {
                    internals.streams.rs.ctrlClose(s.controller);
                    return;
                }
                if (n > 0) {
                    const buffer = new ArrayBuffer(Math.min(n, MAX_PIECE));
                    const got = native.bodyTake(handle, buffer);
                    internals.streams.rs.ctrlEnqueue(s.controller, new Uint8Array(buffer, 0, got));
                    return;
                }
                await native.bodyWait(handle);
            }
        };
        s = internals.streams.createByteStream(() => undefined, pull, () => Promise.resolve(undefined), 0);
        s.length = length;
        return s.object;
    }

    // The shim's request: method and URL as the edge parsed them, headers as a flat
    // [name, value...] array, the body as an ArrayBuffer the shim filled (or undefined), or the
    // handle of a body still arriving and its declared length.
    internals.newIncomingRequest = function newIncomingRequest(method, url, flatHeaders, buffer,
        bodyHandle, bodyLength) {
        const headers = internals.headersFromFlat(flatHeaders, true);
        let body;
        if (bodyHandle !== undefined) {
            const stream = incomingBodyStream(bodyHandle, bodyLength);
            body = internals.newBody(stream);
            body.stream = stream;
        } else {
            body = internals.newBody(buffer === undefined ? null : new Uint8Array(buffer));
        }
        return new Request(INTERNAL, [method, url, headers, body, false]);
    };

    internals.Request = Request; // for the runtime, whatever a worker does to the global
    internals.expose('Request', Request);
})
