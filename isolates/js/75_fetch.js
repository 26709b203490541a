// The global fetch(). A parent's fetch(), and a child's whose globalOutbound was omitted, goes
// to the network through the HTTP client the host hands out (isolates/fetch.cc): the response
// head answers the fetch, and the body is a ReadableStream that asks the client for the next
// piece only when it is read (highWaterMark 0), so a slow reader slows the download instead of
// filling memory. A streamed request body is pumped to the client one chunk at a time, each
// write awaited. An AbortSignal (anything with `aborted`, `reason` and
// addEventListener('abort')) rejects the fetch, or errors its body, with the signal's reason
// and closes the connection. A child whose parent passed globalOutbound: null refuses as
// Workers does; a child given a fetcher sends every request to it (the parent may add
// credentials the child never sees). Like the standard fetch(), it never throws: every failure
// is a rejected promise. A lazy runtime file (isolates/lazy.cc): which outbound the worker has
// is set up without it (90_worker.js's setup() keeps it in internals.outbound).
'use strict';
(function (internals, native) {
    const NOT_PERMITTED = "This worker is not permitted to access the internet via global functions like fetch(). It must use capabilities (such as bindings in 'env') to talk to the outside world.";
    const OUTBOUND_NETWORK = 0; // enum iso_outbound
    const OUTBOUND_NONE = 1;
    const REDIRECT = { follow: 0, manual: 1, error: 2 }; // enum iso_redirect
    // A fixed body up to this size is handed to the client whole (and sent again on a 307/308
    // redirect); a larger one is streamed to it with its length, so the client never holds a
    // copy of a large body outside the worker's memory limit.
    const WHOLE_BODY = 1024 * 1024;

    function fetch(input, init = undefined) {
        try {
            // [mode, stub]: enum iso_outbound (0: the network, 1: none, 2: the parent's stub)
            const [mode, stub] = internals.outbound;
            if (mode === OUTBOUND_NETWORK)
                return fetchNetwork(input, init);
            if (mode === OUTBOUND_NONE)
                throw new TypeError(NOT_PERMITTED);
            return stub.fetch(internals.requestOf(input, init));
        } catch (e) {
            return Promise.reject(e);
        }
    }

    function abortError() {
        return new internals.DOMException('The operation was aborted.', 'AbortError');
    }

    function reasonOf(signal) {
        const r = signal.reason;
        return r === undefined ? abortError() : r;
    }

    function signalOf(input, init) {
        let signal = init?.signal;
        if (signal === undefined && internals.isRequest(input))
            signal = input.signal;
        if (signal === undefined || signal === null)
            return null;
        if (typeof signal !== 'object' || typeof signal.addEventListener !== 'function')
            throw new TypeError("fetch: 'signal' must be an AbortSignal");
        return signal;
    }

    function redirectOf(request, init) {
        const mode = init?.redirect !== undefined ? String(init.redirect) : request.redirect;
        if (!Object.hasOwn(REDIRECT, mode))
            throw new TypeError(`fetch: redirect must be "follow", "manual" or "error", not "${mode.slice(0, 32)}"`);
        return REDIRECT[mode];
    }

    // Closes the fetches whose Response (or its body stream) was collected unread.
    const unread = new FinalizationRegistry((id) => native.fetchClose(id));

    // One request on the network, from start to the end of its response body.
    class Outbound {
        #id;
        #signal;
        #open = true;
        #onAbort = null;
        #rejectHead = null; // while the head is awaited
        #controller = null; // while the body is read

        constructor(id, signal) {
            this.#id = id;
            this.#signal = signal;
            if (signal !== null) {
                this.#onAbort = () => this.#abort(reasonOf(signal));
                signal.addEventListener('abort', this.#onAbort, { once: true });
            }
        }

        #close() {
            if (!this.#open)
                return;
            this.#open = false;
            if (this.#onAbort !== null) {
                try {
                    this.#signal.removeEventListener?.('abort', this.#onAbort);
                } catch {
                    // a signal of the worker's own making; the listener is harmless
                }
                this.#onAbort = null;
            }
            unread.unregister(this);
            native.fetchClose(this.#id);
        }

        #abort(reason) {
            if (!this.#open)
                return;
            const rejectHead = this.#rejectHead;
            const controller = this.#controller;
            this.#close();
            if (rejectHead !== null)
                rejectHead(reason);
            else if (controller !== null)
                controller.error(reason);
        }

        // The Response, once the head came.
        response(head) {
            return new Promise((resolve, reject) => {
                this.#rejectHead = reject;
                head.then((h) => {
                    if (!this.#open)
                        return; // aborted meanwhile: rejected already
                    this.#rejectHead = null;
                    const [status, statusText, flat, url, redirected, hasBody] = h;
                    const headers = internals.headersFromFlat(flat, true);
                    let body;
                    if (hasBody) {
                        const stream = this.#bodyStream();
                        body = internals.newBody(stream);
                        body.stream = stream;
                    } else {
                        this.#close();
                        body = internals.newBody(null);
                    }
                    const response = new internals.Response(internals.INTERNAL,
                        [status, statusText, headers, body]);
                    internals.setResponseUrl(response, url, redirected);
                    resolve(response);
                }, (e) => {
                    this.#rejectHead = null;
                    this.#close();
                    reject(e);
                });
            });
        }

        #bodyStream() {
            const id = this.#id;
            const source = {
                start: (controller) => {
                    this.#controller = controller;
                },
                pull: (controller) => native.fetchRead(id).then((chunk) => {
                    if (chunk === null) {
                        this.#controller = null;
                        this.#close();
                        controller.close();
                    } else {
                        controller.enqueue(chunk);
                    }
                }, (e) => {
                    this.#controller = null;
                    this.#close();
                    throw e;
                }),
                cancel: () => {
                    this.#controller = null;
                    this.#close();
                },
            };
            const stream = new internals.streams.ReadableStream(source, { highWaterMark: 0 });
            unread.register(source, id, this);
            return stream;
        }

        // Sends a streamed request body, one awaited write per chunk. A failure before the
        // response head fails the fetch; after it (the server answered early) the rest of the
        // body is not needed.
        async pump(stream) {
            const reader = internals.streams.openStream(stream);
            try {
                for (;;) {
                    const { value, done } = await reader.read();
                    if (!this.#open) {
                        reader.cancel().catch(() => {});
                        return;
                    }
                    if (done) {
                        await native.fetchWrite(this.#id, null);
                        return;
                    }
                    const bytes = internals.asBytes(value);
                    if (bytes === null)
                        throw new TypeError('The request body stream did not return bytes.');
                    if (bytes.length > 0)
                        await native.fetchWrite(this.#id, bytes);
                }
            } catch (e) {
                reader.cancel(e).catch(() => {});
                if (this.#rejectHead !== null)
                    this.#abort(e);
            }
        }
    }

    function fetchNetwork(input, init) {
        const signal = signalOf(input, init);
        const request = internals.requestOf(input, init);
        const redirect = redirectOf(request, init);
        if (signal !== null && signal.aborted)
            throw reasonOf(signal);
        const state = internals.requestBody(request);
        if (internals.bodyUsed(state))
            throw new TypeError('fetch: the Request body has already been used.');
        let body = null;
        let stream = null;
        if (state.stream !== null) {
            if (state.stream.locked)
                throw new TypeError('fetch: the Request body is a ReadableStream locked to a reader.');
            stream = state.stream;
            body = -1;
        } else if (state.source !== null) {
            const bytes = typeof state.source === 'string'
                ? internals.encodeUtf8(state.source) : state.source;
            if (bytes.length > WHOLE_BODY) {
                stream = internals.streams.streamOfBytes(bytes);
                body = bytes.length;
            } else {
                body = bytes;
            }
        }
        const flat = [];
        for (const [name, value] of internals.headersList(request.headers))
            flat.push(name, value);
        const [id, head] = native.fetchStart(request.method, request.url, flat, body, redirect);
        state.used = state.source !== null || state.stream !== null;
        const out = new Outbound(id, signal);
        if (stream !== null)
            out.pump(stream);
        return out.response(head);
    }

    internals.expose('fetch', fetch);
})
