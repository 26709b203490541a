// Response (Fetch Standard): status, headers and a body, plus Response.json() and
// Response.redirect(). internals.responseParts is how the shim takes a Response apart once the
// handler resolved: [status, flat headers, body, length] where body is null, a string, a
// Uint8Array or a ReadableStream (length: the bytes a stream will produce when known, else -1),
// and the body is marked used so it leaves exactly once.
'use strict';
(function (internals) {
    const { INTERNAL, Headers } = internals;
    const NULL_BODY_STATUS = [101, 103, 204, 205, 304];
    const REDIRECT_STATUS = [301, 302, 303, 307, 308];

    // Web IDL `unsigned short`: what `status: "404"` or `status: 200.7` become.
    function toUnsignedShort(v) {
        const n = Math.trunc(Number(v));
        return Number.isFinite(n) ? ((n % 65536) + 65536) % 65536 : 0;
    }

    class Response {
        #status;
        #statusText;
        #headers;
        #body;
        #url = '';
        #redirected = false;

        constructor(body = null, init = undefined) {
            if (body === INTERNAL) {
                [this.#status, this.#statusText, this.#headers, this.#body] = init;
                return;
            }
            if (init !== undefined && init !== null && typeof init !== 'object')
                throw new TypeError('Response: init must be an object');
            const status = init?.status === undefined ? 200 : toUnsignedShort(init.status);
            if (status < 200 || status > 599)
                throw new RangeError(`Response: status ${status} is not in the range 200 to 599`);
            const statusText = init?.statusText === undefined ? '' : String(init.statusText);
            if (!internals.isReasonPhrase(statusText))
                throw new TypeError('Response: invalid statusText');
            this.#status = status;
            this.#statusText = statusText;
            this.#headers = new Headers(init?.headers);
            if (body !== null && body !== undefined) {
                if (NULL_BODY_STATUS.includes(status))
                    throw new TypeError(`Response with null body status ${status} cannot have a body`);
                const [state, type] = internals.extractBody(body);
                this.#body = state;
                if (type !== null && !this.#headers.has('content-type'))
                    this.#headers.set('content-type', type);
            } else {
                this.#body = internals.newBody(null);
            }
        }

        static json(data = undefined, init = undefined) {
            const text = JSON.stringify(data);
            if (text === undefined)
                throw new TypeError('Response.json: the value cannot be converted to JSON');
            const headers = new Headers(init?.headers);
            if (!headers.has('content-type'))
                headers.set('content-type', 'application/json');
            return new Response(text, { status: init?.status, statusText: init?.statusText, headers });
        }

        static redirect(url, status = 302) {
            const s = toUnsignedShort(status);
            if (!REDIRECT_STATUS.includes(s))
                throw new RangeError(`Response.redirect: ${s} is not a redirect status`);
            const location = internals.parseUrl(url instanceof internals.URL ? url.href
                : String(url));
            if (location === null)
                throw new TypeError(`Response.redirect: invalid URL: ${String(url).slice(0, 200)}`);
            const headers = new Headers([['location', location]]);
            internals.freezeHeaders(headers);
            return new Response(INTERNAL, [s, '', headers, internals.newBody(null)]);
        }

        get type() {
            return 'default';
        }

        get url() {
            return this.#url;
        }

        get redirected() {
            return this.#redirected;
        }

        get status() {
            return this.#status;
        }

        get ok() {
            return this.#status >= 200 && this.#status <= 299;
        }

        get statusText() {
            return this.#statusText;
        }

        get headers() {
            return this.#headers;
        }

        static {
            internals.mixinBody(Response.prototype, (r) => r.#body, (r) => r.#headers);
        }

        clone() {
            const copy = new Response(INTERNAL, [this.#status, this.#statusText,
                new Headers(this.#headers), internals.cloneBody(this.#body)]);
            copy.#url = this.#url;
            copy.#redirected = this.#redirected;
            return copy;
        }

        get [Symbol.toStringTag]() {
            return 'Response';
        }

        static {
            internals.isResponse = (v) => typeof v === 'object' && v !== null && #status in v;
            internals.responseBody = (r) => r.#body; // for sending it to another worker
            // A response fetch() received: the URL that answered, and whether redirects led there.
            internals.setResponseUrl = (r, url, redirected) => {
                r.#url = url;
                r.#redirected = redirected;
            };
            internals.responseParts = function responseParts(v) {
                if (typeof v !== 'object' || v === null || !(#status in v))
                    return undefined;
                const state = v.#body;
                if (internals.bodyUsed(state))
                    throw new TypeError('The Response body has already been used; a Response can be returned only once.');
                const body = state.stream !== null ? state.stream : state.source;
                if (state.stream !== null && state.stream.locked)
                    throw new TypeError('The Response body is a ReadableStream locked to a reader.');
                state.used = true;
                const flat = [];
                for (const [name, value] of internals.headersList(v.#headers))
                    flat.push(name, value);
                const length = state.stream !== null ? internals.streams.streamLength(state.stream) : -1;
                return [v.#status, flat, body, length];
            };
        }
    }

    internals.Response = Response; // for the runtime, whatever a worker does to the global
    internals.expose('Response', Response);
})
