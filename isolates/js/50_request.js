// Request (Fetch Standard), as far as a server-side worker needs it today: method, url,
// headers and a body read once. The edge's requests are built by the shim through
// internals.newIncomingRequest with immutable headers, as in Cloudflare Workers. A worker's
// `new Request(input)` parses input with the URL Standard (no base URL exists in a worker, so a
// relative URL is a TypeError) and keeps it serialized; an incoming request's URL, built by the
// edge (or a parent), is parsed only when a worker first reads `url`.
'use strict';
(function (internals) {
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

        static {
            internals.mixinBody(Request.prototype, (r) => r.#body);
            internals.isRequest = (v) => typeof v === 'object' && v !== null && #body in v;
            internals.requestBody = (r) => r.#body; // for sending it to another worker
        }

        clone() {
            const copy = new Request(INTERNAL, [this.#method, this.url, new Headers(this.#headers),
                internals.cloneBody(this.#body)]);
            copy.#redirect = this.#redirect;
            return copy;
        }

        get [Symbol.toStringTag]() {
            return 'Request';
        }
    }

    // The shim's request: method and URL as the edge parsed them, headers as a flat
    // [name, value...] array, the body as an ArrayBuffer the shim filled (or undefined).
    internals.newIncomingRequest = function newIncomingRequest(method, url, flatHeaders, buffer) {
        const headers = internals.headersFromFlat(flatHeaders, true);
        const body = internals.newBody(buffer === undefined ? null : new Uint8Array(buffer));
        return new Request(INTERNAL, [method, url, headers, body, false]);
    };

    internals.Request = Request; // for the runtime, whatever a worker does to the global
    internals.expose('Request', Request);
})
