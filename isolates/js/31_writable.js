// WritableStream (Streams Standard): the stream, its default writer and default controller,
// with the standard's state machine (writable, erroring, errored, closed), one write or close in
// flight at a time, a queue with sizes and backpressure through writer.ready. As in 30_streams.js
// the state is a record the public objects point to; internals.ws is what pipeTo() and
// TransformStream use. controller.signal is an AbortSignal when the runtime has AbortController
// (made on first use, already aborted if the stream was). A lazy runtime file (isolates/lazy.cc),
// which runs 30_streams.js first (it takes that file's helpers as it loads).
'use strict';
(function (internals) {
    const { INTERNAL } = internals;
    const { deferred, handledPromise: handled, promiseCall, dictMethod: method } = internals.streams;
    const { enqueueValueWithSize, dequeueValue, resetQueue, extractHWM, extractSize } =
        internals.streams;
    const CLOSE = Symbol('close sentinel');

    // A promise with its settlers that knows whether it settled (ready and closed are replaced
    // or settled depending on that). Marked handled: nobody has to await a writer's promises.
    function tracked() {
        const d = deferred();
        const t = {
            promise: handled(d.promise),
            done: false,
            resolve(v) {
                if (!t.done) {
                    t.done = true;
                    d.resolve(v);
                }
            },
            reject(e) {
                if (!t.done) {
                    t.done = true;
                    d.reject(e);
                }
            },
        };
        return t;
    }
    function resolvedTracked() {
        const t = tracked();
        t.resolve(undefined);
        return t;
    }
    function rejectedTracked(e) {
        const t = tracked();
        t.reject(e);
        return t;
    }

    function newRecord() {
        return {
            state: 'writable',
            storedError: undefined,
            writer: undefined,
            controller: undefined,
            inFlightWriteRequest: undefined,
            closeRequest: undefined,
            inFlightCloseRequest: undefined,
            pendingAbortRequest: undefined,
            writeRequests: [],
            backpressure: false,
            object: undefined,
        };
    }

    // ---- WritableStream abstract operations ------------------------------------------------------

    function closeQueuedOrInFlight(s) {
        return s.closeRequest !== undefined || s.inFlightCloseRequest !== undefined;
    }
    function hasOperationMarkedInFlight(s) {
        return s.inFlightWriteRequest !== undefined || s.inFlightCloseRequest !== undefined;
    }

    function abort(s, reason) {
        if (s.state === 'closed' || s.state === 'errored')
            return Promise.resolve(undefined);
        signalAbort(s.controller, reason);
        const state = s.state;
        if (state === 'closed' || state === 'errored')
            return Promise.resolve(undefined);
        if (s.pendingAbortRequest !== undefined)
            return s.pendingAbortRequest.promise;
        let wasAlreadyErroring = false;
        if (state === 'erroring') {
            wasAlreadyErroring = true;
            reason = undefined;
        }
        const d = deferred();
        s.pendingAbortRequest = { promise: d.promise, resolve: d.resolve, reject: d.reject, reason, wasAlreadyErroring };
        if (!wasAlreadyErroring)
            startErroring(s, reason);
        return d.promise;
    }

    function close(s) {
        const state = s.state;
        if (state === 'closed' || state === 'errored')
            return Promise.reject(new TypeError('The WritableStream is closed or errored and cannot be closed'));
        const d = deferred();
        s.closeRequest = d;
        const w = s.writer;
        if (w !== undefined && s.backpressure && state === 'writable')
            w.ready.resolve(undefined);
        enqueueValueWithSize(s.controller, CLOSE, 0);
        advanceQueueIfNeeded(s.controller);
        return d.promise;
    }

    function dealWithRejection(s, error) {
        if (s.state === 'writable') {
            startErroring(s, error);
            return;
        }
        finishErroring(s);
    }

    function startErroring(s, reason) {
        const c = s.controller;
        s.state = 'erroring';
        s.storedError = reason;
        const w = s.writer;
        if (w !== undefined)
            ensureReadyPromiseRejected(w, reason);
        if (!hasOperationMarkedInFlight(s) && c.started)
            finishErroring(s);
    }

    function finishErroring(s) {
        s.state = 'errored';
        resetQueue(s.controller);
        const error = s.storedError;
        for (const req of s.writeRequests)
            req.reject(error);
        s.writeRequests = [];
        const abortRequest = s.pendingAbortRequest;
        if (abortRequest === undefined) {
            rejectCloseAndClosedPromiseIfNeeded(s);
            return;
        }
        s.pendingAbortRequest = undefined;
        if (abortRequest.wasAlreadyErroring) {
            abortRequest.reject(error);
            rejectCloseAndClosedPromiseIfNeeded(s);
            return;
        }
        const c = s.controller;
        const p = c.abortAlgorithm(abortRequest.reason);
        clearAlgorithms(c);
        p.then(() => {
            abortRequest.resolve(undefined);
            rejectCloseAndClosedPromiseIfNeeded(s);
        }, (r) => {
            abortRequest.reject(r);
            rejectCloseAndClosedPromiseIfNeeded(s);
        });
    }

    function finishInFlightWrite(s) {
        s.inFlightWriteRequest.resolve(undefined);
        s.inFlightWriteRequest = undefined;
    }
    function finishInFlightWriteWithError(s, error) {
        s.inFlightWriteRequest.reject(error);
        s.inFlightWriteRequest = undefined;
        dealWithRejection(s, error);
    }
    function finishInFlightClose(s) {
        s.inFlightCloseRequest.resolve(undefined);
        s.inFlightCloseRequest = undefined;
        if (s.state === 'erroring') {
            s.storedError = undefined;
            if (s.pendingAbortRequest !== undefined) {
                s.pendingAbortRequest.resolve(undefined);
                s.pendingAbortRequest = undefined;
            }
        }
        s.state = 'closed';
        const w = s.writer;
        if (w !== undefined)
            w.closed.resolve(undefined);
    }
    function finishInFlightCloseWithError(s, error) {
        s.inFlightCloseRequest.reject(error);
        s.inFlightCloseRequest = undefined;
        if (s.pendingAbortRequest !== undefined) {
            s.pendingAbortRequest.reject(error);
            s.pendingAbortRequest = undefined;
        }
        dealWithRejection(s, error);
    }

    function rejectCloseAndClosedPromiseIfNeeded(s) {
        if (s.closeRequest !== undefined) {
            s.closeRequest.reject(s.storedError);
            s.closeRequest = undefined;
        }
        const w = s.writer;
        if (w !== undefined)
            w.closed.reject(s.storedError);
    }

    function updateBackpressure(s, backpressure) {
        const w = s.writer;
        if (w !== undefined && backpressure !== s.backpressure) {
            if (backpressure) {
                w.ready = tracked();
            } else {
                w.ready.resolve(undefined);
            }
        }
        s.backpressure = backpressure;
    }

    // ---- the writer (record) -----------------------------------------------------------------

    function acquireWriter(s) {
        if (s.writer !== undefined)
            throw new TypeError('This WritableStream is locked to a writer');
        const w = { stream: s, ready: null, closed: null, object: undefined };
        s.writer = w;
        const state = s.state;
        if (state === 'writable') {
            w.ready = !closeQueuedOrInFlight(s) && s.backpressure ? tracked() : resolvedTracked();
            w.closed = tracked();
        } else if (state === 'erroring') {
            w.ready = rejectedTracked(s.storedError);
            w.closed = tracked();
        } else if (state === 'closed') {
            w.ready = resolvedTracked();
            w.closed = resolvedTracked();
        } else {
            w.ready = rejectedTracked(s.storedError);
            w.closed = rejectedTracked(s.storedError);
        }
        return w;
    }

    function ensureReadyPromiseRejected(w, error) {
        if (w.ready.done)
            w.ready = rejectedTracked(error);
        else
            w.ready.reject(error);
    }
    function ensureClosedPromiseRejected(w, error) {
        if (w.closed.done)
            w.closed = rejectedTracked(error);
        else
            w.closed.reject(error);
    }

    function writerRelease(w) {
        const e = new TypeError('This writer has released its lock');
        ensureReadyPromiseRejected(w, e);
        ensureClosedPromiseRejected(w, e);
        w.stream.writer = undefined;
        w.stream = undefined;
    }

    function writerDesiredSize(w) {
        const s = w.stream;
        if (s.state === 'errored' || s.state === 'erroring')
            return null;
        if (s.state === 'closed')
            return 0;
        return s.controller.hwm - s.controller.queueTotalSize;
    }

    function writerWrite(w, chunk) {
        const s = w.stream;
        const c = s.controller;
        const size = getChunkSize(c, chunk);
        if (s !== w.stream)
            return Promise.reject(new TypeError('This writer has released its lock'));
        const state = s.state;
        if (state === 'errored')
            return Promise.reject(s.storedError);
        if (closeQueuedOrInFlight(s) || state === 'closed')
            return Promise.reject(new TypeError('The WritableStream is closing or closed and cannot be written to'));
        if (state === 'erroring')
            return Promise.reject(s.storedError);
        const d = deferred();
        s.writeRequests.push(d);
        controllerWrite(c, chunk, size);
        return d.promise;
    }

    function closeWithErrorPropagation(w) {
        const s = w.stream;
        const state = s.state;
        if (closeQueuedOrInFlight(s) || state === 'closed')
            return Promise.resolve(undefined);
        if (state === 'errored')
            return Promise.reject(s.storedError);
        return close(s);
    }

    // ---- the controller ------------------------------------------------------------------------

    function clearAlgorithms(c) {
        c.writeAlgorithm = undefined;
        c.closeAlgorithm = undefined;
        c.abortAlgorithm = undefined;
        c.sizeAlgorithm = undefined;
    }
    function getChunkSize(c, chunk) {
        if (c.sizeAlgorithm === undefined)
            return 1;
        try {
            return c.sizeAlgorithm(chunk);
        } catch (e) {
            errorIfNeeded(c, e);
            return 1;
        }
    }
    function getBackpressure(c) {
        return c.hwm - c.queueTotalSize <= 0;
    }
    function controllerWrite(c, chunk, size) {
        try {
            enqueueValueWithSize(c, chunk, size);
        } catch (e) {
            errorIfNeeded(c, e);
            return;
        }
        const s = c.stream;
        if (!closeQueuedOrInFlight(s) && s.state === 'writable')
            updateBackpressure(s, getBackpressure(c));
        advanceQueueIfNeeded(c);
    }
    function advanceQueueIfNeeded(c) {
        const s = c.stream;
        if (!c.started || s.inFlightWriteRequest !== undefined)
            return;
        if (s.state === 'erroring') {
            finishErroring(s);
            return;
        }
        if (c.queue.length === 0)
            return;
        const value = c.queue[0].value;
        if (value === CLOSE)
            processClose(c);
        else
            processWrite(c, value);
    }
    function errorIfNeeded(c, error) {
        if (c.stream.state === 'writable')
            controllerError(c, error);
    }
    function processClose(c) {
        const s = c.stream;
        s.inFlightCloseRequest = s.closeRequest;
        s.closeRequest = undefined;
        dequeueValue(c);
        const p = c.closeAlgorithm();
        clearAlgorithms(c);
        p.then(() => finishInFlightClose(s), (r) => finishInFlightCloseWithError(s, r));
    }
    function processWrite(c, chunk) {
        const s = c.stream;
        s.inFlightWriteRequest = s.writeRequests.shift();
        c.writeAlgorithm(chunk).then(() => {
            finishInFlightWrite(s);
            const state = s.state;
            dequeueValue(c);
            if (!closeQueuedOrInFlight(s) && state === 'writable')
                updateBackpressure(s, getBackpressure(c));
            advanceQueueIfNeeded(c);
        }, (reason) => {
            if (s.state === 'writable')
                clearAlgorithms(c);
            finishInFlightWriteWithError(s, reason);
        });
    }
    function controllerError(c, error) {
        clearAlgorithms(c);
        startErroring(c.stream, error);
    }

    // The controller's AbortSignal, made on first use.
    function signalAbort(c, reason) {
        c.aborted = true;
        c.abortReason = reason;
        if (c.abortController !== undefined)
            c.abortController.abort(reason);
    }
    function controllerSignal(c) {
        if (c.abortController === undefined) {
            const AC = globalThis.AbortController;
            if (typeof AC !== 'function')
                return undefined;
            c.abortController = new AC();
            if (c.aborted)
                c.abortController.abort(c.abortReason);
        }
        return c.abortController.signal;
    }

    function setUpController(s, c, start, write, closeAlg, abortAlg, hwm, size) {
        c.stream = s;
        s.controller = c;
        resetQueue(c);
        c.abortController = undefined;
        c.aborted = false;
        c.abortReason = undefined;
        c.started = false;
        c.sizeAlgorithm = size;
        c.hwm = hwm;
        c.writeAlgorithm = write;
        c.closeAlgorithm = closeAlg;
        c.abortAlgorithm = abortAlg;
        updateBackpressure(s, getBackpressure(c));
        const startResult = start();
        Promise.resolve(startResult).then(() => {
            c.started = true;
            advanceQueueIfNeeded(c);
        }, (r) => {
            c.started = true;
            dealWithRejection(s, r);
        });
    }

    // CreateWritableStream for the runtime (TransformStream): returns the record.
    function createWritable(start, write, closeAlg, abortAlg, hwm = 1, size = () => 1) {
        const s = newRecord();
        const c = {};
        c.object = new WritableStreamDefaultController(INTERNAL, c);
        setUpController(s, c, start, write, closeAlg, abortAlg, hwm, size);
        s.object = new WritableStream(INTERNAL, s);
        return s;
    }

    // ---- public objects --------------------------------------------------------------------------

    class WritableStreamDefaultController {
        #c;

        constructor(token = undefined, c = undefined) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#c = c;
        }

        get signal() {
            return controllerSignal(this.#c);
        }

        error(e = undefined) {
            const c = this.#c;
            if (c.stream.state !== 'writable')
                return;
            controllerError(c, e);
        }

        get [Symbol.toStringTag]() {
            return 'WritableStreamDefaultController';
        }
    }

    class WritableStreamDefaultWriter {
        #w;

        constructor(stream) {
            const s = record(stream);
            if (s === null)
                throw new TypeError('WritableStreamDefaultWriter: argument is not a WritableStream');
            this.#w = acquireWriter(s);
            this.#w.object = this;
        }

        get closed() {
            return this.#w.closed.promise;
        }

        get ready() {
            return this.#w.ready.promise;
        }

        get desiredSize() {
            if (this.#w.stream === undefined)
                throw new TypeError('This writer has released its lock');
            return writerDesiredSize(this.#w);
        }

        abort(reason = undefined) {
            const w = this.#w;
            if (w.stream === undefined)
                return Promise.reject(new TypeError('This writer has released its lock'));
            return abort(w.stream, reason);
        }

        close() {
            const w = this.#w;
            if (w.stream === undefined)
                return Promise.reject(new TypeError('This writer has released its lock'));
            if (closeQueuedOrInFlight(w.stream))
                return Promise.reject(new TypeError('The WritableStream is already closing'));
            return close(w.stream);
        }

        releaseLock() {
            if (this.#w.stream !== undefined)
                writerRelease(this.#w);
        }

        write(chunk = undefined) {
            const w = this.#w;
            if (w.stream === undefined)
                return Promise.reject(new TypeError('This writer has released its lock'));
            return writerWrite(w, chunk);
        }

        get [Symbol.toStringTag]() {
            return 'WritableStreamDefaultWriter';
        }
    }

    let record;

    class WritableStream {
        #s;

        constructor(sink = undefined, strategy = undefined) {
            if (sink === INTERNAL) {
                this.#s = strategy;
                return;
            }
            if (sink === null)
                throw new TypeError('WritableStream: the underlying sink must be an object');
            if (sink !== undefined && typeof sink !== 'object' && typeof sink !== 'function')
                throw new TypeError('WritableStream: the underlying sink must be an object');
            if (strategy !== undefined && strategy !== null && typeof strategy !== 'object')
                throw new TypeError('WritableStream: the strategy must be an object');
            const what = 'WritableStream';
            const start = method(sink, 'start', what);
            const write = method(sink, 'write', what);
            const closeFn = method(sink, 'close', what);
            const abortFn = method(sink, 'abort', what);
            if (sink !== undefined && sink.type !== undefined)
                throw new RangeError('WritableStream: the sink type must be undefined');
            const size = extractSize(strategy);
            const hwm = extractHWM(strategy, 1);
            const s = newRecord();
            s.object = this;
            this.#s = s;
            const c = {};
            c.object = new WritableStreamDefaultController(INTERNAL, c);
            setUpController(s, c,
                () => (start ? Reflect.apply(start, sink, [c.object]) : undefined),
                write ? (chunk) => promiseCall(write, sink, [chunk, c.object]) : () => Promise.resolve(undefined),
                closeFn ? () => promiseCall(closeFn, sink, []) : () => Promise.resolve(undefined),
                abortFn ? (reason) => promiseCall(abortFn, sink, [reason]) : () => Promise.resolve(undefined),
                hwm, size);
        }

        get locked() {
            return this.#s.writer !== undefined;
        }

        abort(reason = undefined) {
            if (this.#s.writer !== undefined)
                return Promise.reject(new TypeError('This WritableStream is locked to a writer'));
            return abort(this.#s, reason);
        }

        close() {
            const s = this.#s;
            if (s.writer !== undefined)
                return Promise.reject(new TypeError('This WritableStream is locked to a writer'));
            if (closeQueuedOrInFlight(s))
                return Promise.reject(new TypeError('The WritableStream is already closing'));
            return close(s);
        }

        getWriter() {
            return new WritableStreamDefaultWriter(this);
        }

        get [Symbol.toStringTag]() {
            return 'WritableStream';
        }

        static {
            record = (v) => (typeof v === 'object' && v !== null && #s in v ? v.#s : null);
        }
    }

    internals.ws = {
        record, acquireWriter, writerRelease, writerWrite, closeWithErrorPropagation, abort,
        closeQueuedOrInFlight, createWritable, errorIfNeeded, controllerError,
        desiredSize: (c) => c.hwm - c.queueTotalSize,
    };
    internals.expose('WritableStream', WritableStream);
    internals.expose('WritableStreamDefaultWriter', WritableStreamDefaultWriter);
    internals.expose('WritableStreamDefaultController', WritableStreamDefaultController);
})
