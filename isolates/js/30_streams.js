// A minimal ReadableStream (Streams Standard, default controller and default reader only):
// enough for a worker to build a streamed response body with start/pull/cancel and for the shim
// to drain one chunk at a time. Queueing follows the standard's algorithms for the supported
// surface (highWaterMark and size() counted per chunk, pull called while there is demand).
// A source of type "bytes" is accepted and behaves as a default stream (no BYOB readers yet).
// The state lives in a plain record shared by the stream, its controller and its reader;
// tenant code only ever holds the three public objects.
'use strict';
(function (internals) {
    const { INTERNAL } = internals;

    function newState(source, strategy) {
        const hwm = strategy?.highWaterMark === undefined ? 1 : Number(strategy.highWaterMark);
        if (Number.isNaN(hwm) || hwm < 0)
            throw new RangeError('ReadableStream: highWaterMark must be a non-negative number');
        const size = strategy?.size;
        if (size !== undefined && typeof size !== 'function')
            throw new TypeError('ReadableStream: strategy.size must be a function');
        return {
            state: 'readable', // 'readable' | 'closed' | 'errored'
            source,
            hwm,
            size,
            queue: [], // [chunk, size] pairs
            queueSize: 0,
            closeRequested: false,
            started: false,
            pulling: false,
            pullAgain: false,
            disturbed: false,
            storedError: undefined,
            controller: null,
            reader: null,
            readRequests: [], // {resolve, reject}
            closed: null, // the reader's closed promise and its settlers
        };
    }

    function desiredSize(s) {
        if (s.state === 'errored')
            return null;
        if (s.state === 'closed')
            return 0;
        return s.hwm - s.queueSize;
    }

    function callSource(s, method, arg) {
        const fn = s.source === undefined || s.source === null ? undefined : s.source[method];
        if (fn === undefined || fn === null)
            return undefined;
        if (typeof fn !== 'function')
            throw new TypeError(`ReadableStream: underlying source ${method} must be a function`);
        return fn.call(s.source, arg);
    }

    function pullIfNeeded(s) {
        if (s.state !== 'readable' || s.closeRequested || !s.started)
            return;
        if (s.readRequests.length === 0 && !(desiredSize(s) > 0))
            return;
        if (s.pulling) {
            s.pullAgain = true;
            return;
        }
        s.pulling = true;
        let result;
        try {
            result = callSource(s, 'pull', s.controller);
        } catch (e) {
            errorStream(s, e);
            return;
        }
        Promise.resolve(result).then(() => {
            s.pulling = false;
            if (s.pullAgain) {
                s.pullAgain = false;
                pullIfNeeded(s);
            }
        }, (e) => errorStream(s, e));
    }

    function finishClose(s) {
        s.state = 'closed';
        const requests = s.readRequests;
        s.readRequests = [];
        for (const r of requests)
            r.resolve({ value: undefined, done: true });
        if (s.closed !== null)
            s.closed.resolve(undefined);
    }

    function errorStream(s, e) {
        if (s.state !== 'readable')
            return;
        s.state = 'errored';
        s.storedError = e;
        s.queue = [];
        s.queueSize = 0;
        const requests = s.readRequests;
        s.readRequests = [];
        for (const r of requests)
            r.reject(e);
        if (s.closed !== null)
            s.closed.reject(e);
    }

    function cancelStream(s, reason) {
        s.disturbed = true;
        if (s.state === 'closed')
            return Promise.resolve(undefined);
        if (s.state === 'errored')
            return Promise.reject(s.storedError);
        s.queue = [];
        s.queueSize = 0;
        finishClose(s);
        let result;
        try {
            result = callSource(s, 'cancel', reason);
        } catch (e) {
            return Promise.reject(e);
        }
        return Promise.resolve(result).then(() => undefined);
    }

    function readFrom(s) {
        s.disturbed = true;
        if (s.state === 'closed')
            return Promise.resolve({ value: undefined, done: true });
        if (s.state === 'errored')
            return Promise.reject(s.storedError);
        if (s.queue.length > 0) {
            const [chunk, size] = s.queue.shift();
            s.queueSize -= size;
            if (s.queue.length === 0)
                s.queueSize = 0; // no drift from floating-point sizes
            if (s.closeRequested && s.queue.length === 0)
                finishClose(s);
            else
                pullIfNeeded(s);
            return Promise.resolve({ value: chunk, done: false });
        }
        const p = new Promise((resolve, reject) => s.readRequests.push({ resolve, reject }));
        pullIfNeeded(s);
        return p;
    }

    function newClosedPromise(s) {
        const c = {};
        c.promise = new Promise((resolve, reject) => {
            c.resolve = resolve;
            c.reject = reject;
        });
        c.promise.catch(() => {}); // an errored stream nobody waits on is not an unhandled error
        if (s.state === 'closed')
            c.resolve(undefined);
        else if (s.state === 'errored')
            c.reject(s.storedError);
        return c;
    }

    class ReadableStreamDefaultController {
        #s;

        constructor(token = undefined, s = undefined) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#s = s;
        }

        get desiredSize() {
            return desiredSize(this.#s);
        }

        enqueue(chunk = undefined) {
            const s = this.#s;
            if (s.closeRequested || s.state !== 'readable')
                throw new TypeError('ReadableStream: cannot enqueue after the stream was closed');
            if (s.readRequests.length > 0) {
                s.readRequests.shift().resolve({ value: chunk, done: false });
            } else {
                let size = 1;
                if (s.size !== undefined) {
                    try {
                        size = Number(s.size.call(undefined, chunk));
                    } catch (e) {
                        errorStream(s, e);
                        throw e;
                    }
                    if (!(size >= 0) || size === Infinity) {
                        const e = new RangeError('ReadableStream: chunk size must be a finite, non-negative number');
                        errorStream(s, e);
                        throw e;
                    }
                }
                s.queue.push([chunk, size]);
                s.queueSize += size;
            }
            pullIfNeeded(s);
        }

        close() {
            const s = this.#s;
            if (s.closeRequested || s.state !== 'readable')
                throw new TypeError('ReadableStream: the stream is already closing or closed');
            s.closeRequested = true;
            if (s.queue.length === 0)
                finishClose(s);
        }

        error(e = undefined) {
            errorStream(this.#s, e);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStreamDefaultController';
        }
    }

    class ReadableStreamDefaultReader {
        #s = null;
        #closed;

        constructor(stream) {
            const s = internals.streamState(stream);
            if (s === null)
                throw new TypeError('ReadableStreamDefaultReader: argument is not a ReadableStream');
            if (s.reader !== null)
                throw new TypeError('ReadableStream is locked to a reader');
            s.reader = this;
            this.#s = s;
            this.#closed = s.closed = newClosedPromise(s);
        }

        get closed() {
            return this.#closed.promise;
        }

        read() {
            if (this.#s === null)
                return Promise.reject(new TypeError('This reader has released its lock'));
            return readFrom(this.#s);
        }

        cancel(reason = undefined) {
            if (this.#s === null)
                return Promise.reject(new TypeError('This reader has released its lock'));
            return cancelStream(this.#s, reason);
        }

        releaseLock() {
            const s = this.#s;
            if (s === null)
                return;
            const e = new TypeError('This reader has released its lock');
            const requests = s.readRequests;
            s.readRequests = [];
            for (const r of requests)
                r.reject(e);
            if (s.state === 'readable')
                this.#closed.reject(e);
            else
                this.#closed = newClosedPromise({ state: 'errored', storedError: e });
            s.reader = null;
            s.closed = null;
            this.#s = null;
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStreamDefaultReader';
        }
    }

    class ReadableStream {
        #s;

        constructor(source = undefined, strategy = undefined) {
            if (source === null)
                throw new TypeError('ReadableStream: the underlying source must be an object');
            const type = source?.type;
            if (type !== undefined && String(type) !== 'bytes')
                throw new RangeError(`ReadableStream: unsupported source type "${type}"`);
            const s = newState(source, strategy);
            this.#s = s;
            s.controller = new ReadableStreamDefaultController(INTERNAL, s);
            const started = callSource(s, 'start', s.controller);
            Promise.resolve(started).then(() => {
                s.started = true;
                pullIfNeeded(s);
            }, (e) => errorStream(s, e));
        }

        get locked() {
            return this.#s.reader !== null;
        }

        cancel(reason = undefined) {
            if (this.#s.reader !== null)
                return Promise.reject(new TypeError('ReadableStream is locked to a reader'));
            return cancelStream(this.#s, reason);
        }

        getReader(options = undefined) {
            if (options?.mode !== undefined)
                throw new RangeError('ReadableStream.getReader: only default readers are supported');
            return new ReadableStreamDefaultReader(this);
        }

        async *values(options = undefined) {
            const preventCancel = Boolean(options?.preventCancel);
            const reader = this.getReader();
            let done = false;
            try {
                for (;;) {
                    const r = await reader.read();
                    if (r.done) {
                        done = true;
                        return;
                    }
                    yield r.value;
                }
            } finally {
                if (!done && !preventCancel)
                    await reader.cancel();
                reader.releaseLock();
            }
        }

        [Symbol.asyncIterator](options = undefined) {
            return this.values(options);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStream';
        }

        static {
            internals.streamState = (v) => (typeof v === 'object' && v !== null && #s in v ? v.#s : null);
        }
    }

    internals.ReadableStream = ReadableStream; // for the runtime, whatever a worker does to the global
    internals.isReadableStream = (v) => internals.streamState(v) !== null;
    internals.isDisturbed = (stream) => internals.streamState(stream).disturbed;

    // A stream that yields bytes once and closes: the `body` of a Request or Response built
    // from a string or a BufferSource.
    internals.streamOfBytes = function streamOfBytes(bytes) {
        return new ReadableStream({
            start(controller) {
                if (bytes.length > 0)
                    controller.enqueue(bytes);
                controller.close();
            },
        }, { highWaterMark: 0 });
    };

    // Reads a whole stream into one Uint8Array (Body's text()/arrayBuffer()/json()).
    internals.readAllBytes = async function readAllBytes(stream) {
        const reader = new ReadableStreamDefaultReader(stream);
        const chunks = [];
        let total = 0;
        for (;;) {
            const { value, done } = await reader.read();
            if (done)
                break;
            const bytes = internals.asBytes(value);
            if (bytes === null)
                throw new TypeError('This ReadableStream did not return bytes.');
            chunks.push(bytes);
            total += bytes.length;
        }
        if (chunks.length === 1)
            return chunks[0];
        const out = new Uint8Array(total);
        let at = 0;
        for (const c of chunks) {
            out.set(c, at);
            at += c.length;
        }
        return out;
    };

    // The shim's side of a streamed response: lock the stream, then one chunk per call as a
    // promise of a Uint8Array, or null at the end; cancel when the client goes away.
    internals.openStream = (stream) => new ReadableStreamDefaultReader(stream);
    internals.readChunk = function readChunk(reader) {
        return reader.read().then(({ value, done }) => {
            if (done)
                return null;
            const bytes = internals.asBytes(value);
            if (bytes === null)
                throw new TypeError('This ReadableStream did not return bytes.');
            return bytes;
        });
    };
    internals.cancelStream = function cancelStream(reader, reason) {
        reader.cancel(reason).catch(() => {});
    };

    internals.expose('ReadableStream', ReadableStream);
    internals.expose('ReadableStreamDefaultReader', ReadableStreamDefaultReader);
    internals.expose('ReadableStreamDefaultController', ReadableStreamDefaultController);
})
