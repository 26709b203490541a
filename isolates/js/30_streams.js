// ReadableStream (Streams Standard): default and byte sources, default and BYOB readers, tee(),
// pipeTo()/pipeThrough(), async iteration, ReadableStream.from(), and the two queuing
// strategies. The algorithms follow the standard's abstract operations (named in comments where
// it helps), on plain records that the public objects point to through a private field, so tenant
// code only ever holds the public objects. Deviations: a byte stream's tee() reads its source with
// a default reader (the branches are byte streams and accept BYOB readers); "transferring" an
// ArrayBuffer detaches it through native.transfer, as the standard asks, except for buffers that
// cannot be detached (WebAssembly memory), which are used in place. WritableStream (31_) and
// TransformStream (32_) share these records through internals. A lazy runtime file
// (isolates/lazy.cc): it runs when a worker first uses a stream (a body's `.body`, a streamed
// request or response, a stream sent over RPC), not for every body.
'use strict';
(function (internals, native) {
    const { INTERNAL } = internals;
    // What the rest of the runtime (31_writable.js, 32_transform.js, bodies, RPC, fetch, the
    // shim's streamed responses) uses of this file: one internals entry, internals.streams, so
    // that every isolate holds one placeholder for it, not one per name (lazy.cc).
    const streams = {};

    // ---- helpers ------------------------------------------------------------------------------

    function deferred() {
        const d = {};
        d.promise = new Promise((resolve, reject) => {
            d.resolve = resolve;
            d.reject = reject;
        });
        return d;
    }
    function handled(p) {
        p.then(undefined, () => {});
        return p;
    }
    function rejectedHandled(e) {
        return handled(Promise.reject(e));
    }
    const resolvedUndefined = () => Promise.resolve(undefined);
    // Calls o[name] (if it is a function) with args as a promise, as the standard's
    // "invoke a callback function" on dictionary members does: a throw becomes a rejection.
    function promiseCall(fn, self, args) {
        try {
            return Promise.resolve(Reflect.apply(fn, self, args));
        } catch (e) {
            return Promise.reject(e);
        }
    }
    function method(dict, name, what) {
        if (dict === undefined || dict === null)
            return undefined;
        const fn = dict[name];
        if (fn === undefined || fn === null)
            return undefined;
        if (typeof fn !== 'function')
            throw new TypeError(`${what}: ${name} must be a function`);
        return fn;
    }
    streams.deferred = deferred;
    streams.promiseCall = promiseCall;
    streams.dictMethod = method;
    streams.handledPromise = handled;

    function abortError(reason) {
        if (reason !== undefined)
            return reason;
        return new internals.DOMException('The operation was aborted.', 'AbortError');
    }

    // ArrayBuffer transfer: the same memory in a new ArrayBuffer, the old one detached.
    function transfer(buffer) {
        return native.transfer(buffer);
    }
    function isDetached(buffer) {
        return native.isDetached(buffer);
    }

    // A QueuingStrategy's highWaterMark and size (ExtractHighWaterMark, ExtractSizeAlgorithm).
    function extractHWM(strategy, dflt) {
        if (strategy === undefined || strategy === null)
            return dflt;
        const v = strategy.highWaterMark;
        if (v === undefined)
            return dflt;
        const hwm = Number(v);
        if (Number.isNaN(hwm) || hwm < 0)
            throw new RangeError('highWaterMark must be a non-negative number');
        return hwm;
    }
    function extractSize(strategy) {
        const size = strategy === undefined || strategy === null ? undefined : strategy.size;
        if (size === undefined)
            return () => 1;
        if (typeof size !== 'function')
            throw new TypeError('strategy.size must be a function');
        return (chunk) => size(chunk);
    }
    streams.extractHWM = extractHWM;
    streams.extractSize = extractSize;

    // Queue-with-sizes (controllers of both kinds of stream).
    function enqueueValueWithSize(c, value, size) {
        size = Number(size);
        if (!(size >= 0) || size === Infinity)
            throw new RangeError('The chunk size must be a finite, non-negative number');
        c.queue.push({ value, size });
        c.queueTotalSize += size;
    }
    function dequeueValue(c) {
        const pair = c.queue.shift();
        c.queueTotalSize -= pair.size;
        if (c.queueTotalSize < 0 || c.queue.length === 0)
            c.queueTotalSize = 0; // no drift from floating-point sizes
        return pair.value;
    }
    function resetQueue(c) {
        c.queue = [];
        c.queueTotalSize = 0;
    }
    streams.enqueueValueWithSize = enqueueValueWithSize;
    streams.dequeueValue = dequeueValue;
    streams.resetQueue = resetQueue;

    function isView(v) {
        return ArrayBuffer.isView(v);
    }

    // ---- the stream record --------------------------------------------------------------------

    function newStreamRecord() {
        return {
            state: 'readable',
            reader: undefined, // reader record
            storedError: undefined,
            disturbed: false,
            controller: undefined, // controller record
            object: undefined, // the public ReadableStream
            length: -1, // bytes it will produce when known (FixedLengthStream, fixed bodies)
        };
    }

    // ---- readers (records) --------------------------------------------------------------------

    function readerInit(r, s) {
        r.stream = s;
        s.reader = r;
        if (s.state === 'readable') {
            r.closed = deferred();
            handled(r.closed.promise);
        } else if (s.state === 'closed') {
            r.closed = { promise: Promise.resolve(undefined), resolve() {}, reject() {} };
        } else {
            r.closed = { promise: rejectedHandled(s.storedError), resolve() {}, reject() {} };
        }
    }

    function acquireDefaultReader(s) {
        if (s.reader !== undefined)
            throw new TypeError('This ReadableStream is locked to a reader');
        const r = { byob: false, stream: undefined, closed: null, readRequests: [], object: undefined };
        readerInit(r, s);
        return r;
    }

    function acquireBYOBReader(s) {
        if (s.reader !== undefined)
            throw new TypeError('This ReadableStream is locked to a reader');
        if (!s.controller.byte)
            throw new TypeError('A BYOB reader needs a ReadableStream of type "bytes"');
        const r = { byob: true, stream: undefined, closed: null, readIntoRequests: [], object: undefined };
        readerInit(r, s);
        return r;
    }

    function genericRelease(r) {
        const s = r.stream;
        const e = new TypeError('This reader has released its lock');
        if (s.state === 'readable')
            r.closed.reject(e);
        else
            r.closed = { promise: rejectedHandled(e), resolve() {}, reject() {} };
        handled(r.closed.promise);
        s.controller.releaseSteps(s.controller);
        s.reader = undefined;
        r.stream = undefined;
    }

    function defaultReaderRelease(r) {
        genericRelease(r);
        const e = new TypeError('This reader has released its lock');
        const requests = r.readRequests;
        r.readRequests = [];
        for (const req of requests)
            req.error(e);
    }

    function byobReaderRelease(r) {
        genericRelease(r);
        const e = new TypeError('This reader has released its lock');
        const requests = r.readIntoRequests;
        r.readIntoRequests = [];
        for (const req of requests)
            req.error(e);
    }

    function readerRelease(r) {
        if (r.byob)
            byobReaderRelease(r);
        else
            defaultReaderRelease(r);
    }

    // ReadableStreamDefaultReaderRead
    function defaultReaderRead(r, req) {
        const s = r.stream;
        s.disturbed = true;
        if (s.state === 'closed')
            req.close();
        else if (s.state === 'errored')
            req.error(s.storedError);
        else
            s.controller.pullSteps(s.controller, req);
    }

    // A read request that settles a promise of { value, done }.
    function promiseReadRequest() {
        const d = deferred();
        return {
            promise: d.promise,
            chunk: (value) => d.resolve({ value, done: false }),
            close: () => d.resolve({ value: undefined, done: true }),
            error: (e) => d.reject(e),
        };
    }

    // ---- stream operations ----------------------------------------------------------------------

    function streamClose(s) {
        s.state = 'closed';
        const r = s.reader;
        if (r === undefined)
            return;
        r.closed.resolve(undefined);
        if (!r.byob) {
            const requests = r.readRequests;
            r.readRequests = [];
            for (const req of requests)
                req.close();
        }
    }

    function streamError(s, e) {
        s.state = 'errored';
        s.storedError = e;
        const r = s.reader;
        if (r === undefined)
            return;
        r.closed.reject(e);
        handled(r.closed.promise);
        if (r.byob) {
            const requests = r.readIntoRequests;
            r.readIntoRequests = [];
            for (const req of requests)
                req.error(e);
        } else {
            const requests = r.readRequests;
            r.readRequests = [];
            for (const req of requests)
                req.error(e);
        }
    }

    // ReadableStreamCancel
    function streamCancel(s, reason) {
        s.disturbed = true;
        if (s.state === 'closed')
            return Promise.resolve(undefined);
        if (s.state === 'errored')
            return Promise.reject(s.storedError);
        streamClose(s);
        const r = s.reader;
        if (r !== undefined && r.byob) {
            const requests = r.readIntoRequests;
            r.readIntoRequests = [];
            for (const req of requests)
                req.close(undefined);
        }
        return s.controller.cancelSteps(s.controller, reason).then(() => undefined);
    }

    function numReadRequests(s) {
        return s.reader !== undefined && !s.reader.byob ? s.reader.readRequests.length : 0;
    }
    function numReadIntoRequests(s) {
        return s.reader !== undefined && s.reader.byob ? s.reader.readIntoRequests.length : 0;
    }
    function fulfillReadRequest(s, chunk, done) {
        const req = s.reader.readRequests.shift();
        if (done)
            req.close();
        else
            req.chunk(chunk);
    }

    // ---- the default controller ---------------------------------------------------------------

    function dcCanCloseOrEnqueue(c) {
        return !c.closeRequested && c.stream.state === 'readable';
    }
    function dcDesiredSize(c) {
        const state = c.stream.state;
        if (state === 'errored')
            return null;
        if (state === 'closed')
            return 0;
        return c.hwm - c.queueTotalSize;
    }
    function dcShouldCallPull(c) {
        if (!dcCanCloseOrEnqueue(c) || !c.started)
            return false;
        const s = c.stream;
        if (s.reader !== undefined && numReadRequests(s) > 0)
            return true;
        return dcDesiredSize(c) > 0;
    }
    function dcClearAlgorithms(c) {
        c.pullAlgorithm = undefined;
        c.cancelAlgorithm = undefined;
        c.sizeAlgorithm = undefined;
    }
    function dcCallPullIfNeeded(c) {
        if (!dcShouldCallPull(c))
            return;
        if (c.pulling) {
            c.pullAgain = true;
            return;
        }
        c.pulling = true;
        c.pullAlgorithm().then(() => {
            c.pulling = false;
            if (c.pullAgain) {
                c.pullAgain = false;
                dcCallPullIfNeeded(c);
            }
        }, (e) => dcError(c, e));
    }
    function dcError(c, e) {
        const s = c.stream;
        if (s.state !== 'readable')
            return;
        resetQueue(c);
        dcClearAlgorithms(c);
        streamError(s, e);
    }
    function dcClose(c) {
        if (!dcCanCloseOrEnqueue(c))
            return;
        c.closeRequested = true;
        if (c.queue.length === 0) {
            dcClearAlgorithms(c);
            streamClose(c.stream);
        }
    }
    function dcEnqueue(c, chunk) {
        if (!dcCanCloseOrEnqueue(c))
            return;
        const s = c.stream;
        if (s.reader !== undefined && numReadRequests(s) > 0) {
            fulfillReadRequest(s, chunk, false);
        } else {
            let size;
            try {
                size = c.sizeAlgorithm(chunk);
            } catch (e) {
                dcError(c, e);
                throw e;
            }
            try {
                enqueueValueWithSize(c, chunk, size);
            } catch (e) {
                dcError(c, e);
                throw e;
            }
        }
        dcCallPullIfNeeded(c);
    }
    function dcHasBackpressure(c) {
        return !dcShouldCallPull(c);
    }

    const defaultControllerSteps = {
        byte: false,
        cancelSteps(c, reason) {
            resetQueue(c);
            const result = c.cancelAlgorithm(reason);
            dcClearAlgorithms(c);
            return result;
        },
        pullSteps(c, req) {
            const s = c.stream;
            if (c.queue.length > 0) {
                const chunk = dequeueValue(c);
                if (c.closeRequested && c.queue.length === 0) {
                    dcClearAlgorithms(c);
                    streamClose(s);
                } else {
                    dcCallPullIfNeeded(c);
                }
                req.chunk(chunk);
            } else {
                s.reader.readRequests.push(req);
                dcCallPullIfNeeded(c);
            }
        },
        releaseSteps() {},
    };

    function setUpDefaultController(s, c, start, pull, cancel, hwm, size) {
        Object.assign(c, defaultControllerSteps);
        c.stream = s;
        resetQueue(c);
        c.started = c.closeRequested = c.pullAgain = c.pulling = false;
        c.sizeAlgorithm = size;
        c.hwm = hwm;
        c.pullAlgorithm = pull;
        c.cancelAlgorithm = cancel;
        s.controller = c;
        const startResult = start();
        Promise.resolve(startResult).then(() => {
            c.started = true;
            dcCallPullIfNeeded(c);
        }, (e) => dcError(c, e));
    }

    // ---- the byte controller ------------------------------------------------------------------

    function bcDesiredSize(c) {
        return dcDesiredSize(c);
    }
    function bcShouldCallPull(c) {
        const s = c.stream;
        if (s.state !== 'readable' || c.closeRequested || !c.started)
            return false;
        if (numReadRequests(s) > 0 || numReadIntoRequests(s) > 0)
            return true;
        return bcDesiredSize(c) > 0;
    }
    function bcClearAlgorithms(c) {
        c.pullAlgorithm = undefined;
        c.cancelAlgorithm = undefined;
    }
    function bcCallPullIfNeeded(c) {
        if (!bcShouldCallPull(c))
            return;
        if (c.pulling) {
            c.pullAgain = true;
            return;
        }
        c.pulling = true;
        c.pullAlgorithm().then(() => {
            c.pulling = false;
            if (c.pullAgain) {
                c.pullAgain = false;
                bcCallPullIfNeeded(c);
            }
        }, (e) => bcError(c, e));
    }
    function bcInvalidateBYOBRequest(c) {
        if (c.byobRequest === null)
            return;
        c.byobRequest.controller = undefined;
        c.byobRequest.view = null;
        c.byobRequest = null;
    }
    function bcClearPendingPullIntos(c) {
        bcInvalidateBYOBRequest(c);
        c.pendingPullIntos = [];
    }
    function bcError(c, e) {
        const s = c.stream;
        if (s.state !== 'readable')
            return;
        bcClearPendingPullIntos(c);
        resetQueue(c);
        bcClearAlgorithms(c);
        streamError(s, e);
    }
    function bcClose(c) {
        const s = c.stream;
        if (c.closeRequested || s.state !== 'readable')
            return;
        if (c.queueTotalSize > 0) {
            c.closeRequested = true;
            return;
        }
        if (c.pendingPullIntos.length > 0) {
            const first = c.pendingPullIntos[0];
            if (first.bytesFilled % first.elementSize !== 0) {
                const e = new TypeError('Insufficient bytes to fill elements in the given buffer');
                bcError(c, e);
                throw e;
            }
        }
        bcClearAlgorithms(c);
        streamClose(s);
    }
    function bcEnqueueChunkToQueue(c, buffer, byteOffset, byteLength) {
        c.queue.push({ buffer, byteOffset, byteLength });
        c.queueTotalSize += byteLength;
    }
    function bcEnqueueClonedChunkToQueue(c, buffer, byteOffset, byteLength) {
        let cloned;
        try {
            cloned = buffer.slice(byteOffset, byteOffset + byteLength);
        } catch (e) {
            bcError(c, e);
            throw e;
        }
        bcEnqueueChunkToQueue(c, cloned, 0, byteLength);
    }
    function bcShiftPendingPullInto(c) {
        return c.pendingPullIntos.shift();
    }
    function bcEnqueueDetachedPullIntoToQueue(c, p) {
        if (p.bytesFilled > 0)
            bcEnqueueClonedChunkToQueue(c, p.buffer, p.byteOffset, p.bytesFilled);
        bcShiftPendingPullInto(c);
    }
    function bcFillReadRequestFromQueue(c, req) {
        const entry = c.queue.shift();
        c.queueTotalSize -= entry.byteLength;
        bcHandleQueueDrain(c);
        req.chunk(new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
    }
    function bcHandleQueueDrain(c) {
        if (c.queueTotalSize === 0 && c.closeRequested) {
            bcClearAlgorithms(c);
            streamClose(c.stream);
        } else {
            bcCallPullIfNeeded(c);
        }
    }
    function bcProcessReadRequestsUsingQueue(c) {
        const r = c.stream.reader;
        while (r.readRequests.length > 0) {
            if (c.queueTotalSize === 0)
                return;
            bcFillReadRequestFromQueue(c, r.readRequests.shift());
        }
    }
    function bcFillPullIntoFromQueue(c, p) {
        const maxBytesToCopy = Math.min(c.queueTotalSize, p.byteLength - p.bytesFilled);
        const maxBytesFilled = p.bytesFilled + maxBytesToCopy;
        let remaining = maxBytesToCopy;
        let ready = false;
        const maxAlignedBytes = maxBytesFilled - (maxBytesFilled % p.elementSize);
        if (maxAlignedBytes >= p.minimumFill) {
            remaining = maxAlignedBytes - p.bytesFilled;
            ready = true;
        }
        while (remaining > 0) {
            const head = c.queue[0];
            const n = Math.min(remaining, head.byteLength);
            const destStart = p.byteOffset + p.bytesFilled;
            new Uint8Array(p.buffer, destStart, n).set(new Uint8Array(head.buffer, head.byteOffset, n));
            if (head.byteLength === n) {
                c.queue.shift();
            } else {
                head.byteOffset += n;
                head.byteLength -= n;
            }
            c.queueTotalSize -= n;
            p.bytesFilled += n;
            remaining -= n;
        }
        return ready;
    }
    function bcConvertPullInto(p) {
        const buffer = transfer(p.buffer);
        return new p.viewConstructor(buffer, p.byteOffset, p.bytesFilled / p.elementSize);
    }
    function bcCommitPullInto(s, p) {
        let done = false;
        if (s.state === 'closed')
            done = true;
        const view = bcConvertPullInto(p);
        if (p.readerType === 'default') {
            fulfillReadRequest(s, view, done);
        } else {
            const req = s.reader.readIntoRequests.shift();
            if (done)
                req.close(view);
            else
                req.chunk(view);
        }
    }
    function bcProcessPullIntosUsingQueue(c) {
        const filled = [];
        while (c.pendingPullIntos.length > 0) {
            if (c.queueTotalSize === 0)
                break;
            const p = c.pendingPullIntos[0];
            if (bcFillPullIntoFromQueue(c, p)) {
                bcShiftPendingPullInto(c);
                filled.push(p);
            }
        }
        return filled;
    }
    function bcEnqueue(c, chunk) {
        const s = c.stream;
        if (c.closeRequested || s.state !== 'readable')
            return;
        const { byteOffset, byteLength } = chunk;
        const buffer = transfer(chunk.buffer);
        if (c.pendingPullIntos.length > 0) {
            const first = c.pendingPullIntos[0];
            if (isDetached(first.buffer))
                throw new TypeError("The BYOB request's buffer has been detached");
            bcInvalidateBYOBRequest(c);
            first.buffer = transfer(first.buffer);
            if (first.readerType === 'none')
                bcEnqueueDetachedPullIntoToQueue(c, first);
        }
        const r = s.reader;
        if (r !== undefined && !r.byob) {
            bcProcessReadRequestsUsingQueue(c);
            if (r.readRequests.length === 0) {
                bcEnqueueChunkToQueue(c, buffer, byteOffset, byteLength);
            } else {
                if (c.pendingPullIntos.length > 0)
                    bcShiftPendingPullInto(c);
                fulfillReadRequest(s, new Uint8Array(buffer, byteOffset, byteLength), false);
            }
        } else if (r !== undefined && r.byob) {
            bcEnqueueChunkToQueue(c, buffer, byteOffset, byteLength);
            for (const p of bcProcessPullIntosUsingQueue(c))
                bcCommitPullInto(s, p);
        } else {
            bcEnqueueChunkToQueue(c, buffer, byteOffset, byteLength);
        }
        bcCallPullIfNeeded(c);
    }
    function bcGetBYOBRequest(c) {
        if (c.byobRequest === null && c.pendingPullIntos.length > 0) {
            const first = c.pendingPullIntos[0];
            const view = new Uint8Array(first.buffer, first.byteOffset + first.bytesFilled,
                first.byteLength - first.bytesFilled);
            const req = { controller: c, view };
            req.object = new ReadableStreamBYOBRequest(INTERNAL, req);
            c.byobRequest = req;
        }
        return c.byobRequest === null ? null : c.byobRequest.object;
    }
    function bcPullInto(c, view, min, req) {
        const s = c.stream;
        let elementSize = 1;
        let ctor = DataView;
        if (!(view instanceof DataView)) {
            ctor = view.constructor;
            elementSize = ctor.BYTES_PER_ELEMENT;
        }
        const minimumFill = min * elementSize;
        const { byteOffset, byteLength } = view;
        let buffer;
        try {
            buffer = transfer(view.buffer);
        } catch (e) {
            req.error(e);
            return;
        }
        const p = {
            buffer, bufferByteLength: buffer.byteLength, byteOffset, byteLength, bytesFilled: 0,
            minimumFill, elementSize, viewConstructor: ctor, readerType: 'byob',
        };
        if (c.pendingPullIntos.length > 0) {
            c.pendingPullIntos.push(p);
            s.reader.readIntoRequests.push(req);
            return;
        }
        if (s.state === 'closed') {
            req.close(new ctor(p.buffer, p.byteOffset, 0));
            return;
        }
        if (c.queueTotalSize > 0) {
            if (bcFillPullIntoFromQueue(c, p)) {
                const filled = bcConvertPullInto(p);
                bcHandleQueueDrain(c);
                req.chunk(filled);
                return;
            }
            if (c.closeRequested) {
                const e = new TypeError('Insufficient bytes to fill elements in the given buffer');
                bcError(c, e);
                req.error(e);
                return;
            }
        }
        c.pendingPullIntos.push(p);
        s.reader.readIntoRequests.push(req);
        bcCallPullIfNeeded(c);
    }
    function bcRespondInClosedState(c, first) {
        if (first.readerType === 'none')
            bcShiftPendingPullInto(c);
        const s = c.stream;
        if (s.reader !== undefined && s.reader.byob) {
            const filled = [];
            while (filled.length < numReadIntoRequests(s))
                filled.push(bcShiftPendingPullInto(c));
            for (const p of filled)
                bcCommitPullInto(s, p);
        }
    }
    function bcRespondInReadableState(c, bytesWritten, p) {
        p.bytesFilled += bytesWritten;
        if (p.readerType === 'none') {
            bcEnqueueDetachedPullIntoToQueue(c, p);
            for (const q of bcProcessPullIntosUsingQueue(c))
                bcCommitPullInto(c.stream, q);
            return;
        }
        if (p.bytesFilled < p.minimumFill)
            return;
        bcShiftPendingPullInto(c);
        const remainder = p.bytesFilled % p.elementSize;
        if (remainder > 0) {
            const end = p.byteOffset + p.bytesFilled;
            bcEnqueueClonedChunkToQueue(c, p.buffer, end - remainder, remainder);
        }
        p.bytesFilled -= remainder;
        const filled = bcProcessPullIntosUsingQueue(c);
        bcCommitPullInto(c.stream, p);
        for (const q of filled)
            bcCommitPullInto(c.stream, q);
    }
    function bcRespondInternal(c, bytesWritten) {
        const first = c.pendingPullIntos[0];
        bcInvalidateBYOBRequest(c);
        if (c.stream.state === 'closed')
            bcRespondInClosedState(c, first);
        else
            bcRespondInReadableState(c, bytesWritten, first);
        bcCallPullIfNeeded(c);
    }
    function bcRespond(c, bytesWritten) {
        const first = c.pendingPullIntos[0];
        if (c.stream.state === 'closed') {
            if (bytesWritten !== 0)
                throw new TypeError('bytesWritten must be 0 when calling respond() on a closed stream');
        } else {
            if (bytesWritten === 0)
                throw new TypeError('bytesWritten must be greater than 0 when calling respond() on a readable stream');
            if (first.bytesFilled + bytesWritten > first.byteLength)
                throw new RangeError('bytesWritten out of range');
        }
        first.buffer = transfer(first.buffer);
        bcRespondInternal(c, bytesWritten);
    }
    function bcRespondWithNewView(c, view) {
        const first = c.pendingPullIntos[0];
        if (c.stream.state === 'closed') {
            if (view.byteLength !== 0)
                throw new TypeError("The view's length must be 0 when calling respondWithNewView() on a closed stream");
        } else if (view.byteLength === 0) {
            throw new TypeError("The view's length must be greater than 0 when calling respondWithNewView() on a readable stream");
        }
        if (first.byteOffset + first.bytesFilled !== view.byteOffset)
            throw new RangeError('The region specified by view does not match byobRequest');
        if (first.bufferByteLength !== view.buffer.byteLength)
            throw new RangeError('The buffer of view has different capacity than byobRequest');
        if (first.bytesFilled + view.byteLength > first.byteLength)
            throw new RangeError('The region specified by view is larger than byobRequest');
        const n = view.byteLength;
        first.buffer = transfer(view.buffer);
        bcRespondInternal(c, n);
    }

    const byteControllerSteps = {
        byte: true,
        cancelSteps(c, reason) {
            bcClearPendingPullIntos(c);
            resetQueue(c);
            const result = c.cancelAlgorithm(reason);
            bcClearAlgorithms(c);
            return result;
        },
        pullSteps(c, req) {
            const s = c.stream;
            if (c.queueTotalSize > 0) {
                bcFillReadRequestFromQueue(c, req);
                return;
            }
            const size = c.autoAllocateChunkSize;
            if (size !== undefined) {
                let buffer;
                try {
                    buffer = new ArrayBuffer(size);
                } catch (e) {
                    req.error(e);
                    return;
                }
                c.pendingPullIntos.push({
                    buffer, bufferByteLength: size, byteOffset: 0, byteLength: size, bytesFilled: 0,
                    minimumFill: 1, elementSize: 1, viewConstructor: Uint8Array, readerType: 'default',
                });
            }
            s.reader.readRequests.push(req);
            bcCallPullIfNeeded(c);
        },
        releaseSteps(c) {
            if (c.pendingPullIntos.length > 0) {
                const first = c.pendingPullIntos[0];
                first.readerType = 'none';
                c.pendingPullIntos = [first];
            }
        },
    };

    function setUpByteController(s, c, start, pull, cancel, hwm, autoAllocateChunkSize) {
        Object.assign(c, byteControllerSteps);
        c.stream = s;
        c.pullAgain = c.pulling = false;
        c.byobRequest = null;
        resetQueue(c);
        c.closeRequested = c.started = false;
        c.hwm = hwm;
        c.pullAlgorithm = pull;
        c.cancelAlgorithm = cancel;
        c.autoAllocateChunkSize = autoAllocateChunkSize;
        c.pendingPullIntos = [];
        s.controller = c;
        const startResult = start();
        Promise.resolve(startResult).then(() => {
            c.started = true;
            bcCallPullIfNeeded(c);
        }, (e) => bcError(c, e));
    }

    // Generic operations on either kind of controller (tee, TransformStream, the runtime).
    function ctrlEnqueue(c, chunk) {
        if (c.byte)
            bcEnqueue(c, chunk);
        else
            dcEnqueue(c, chunk);
    }
    function ctrlClose(c) {
        if (c.byte) {
            bcClose(c);
            if (c.pendingPullIntos.length > 0 && c.stream.state === 'closed')
                bcRespondInClosedState(c, c.pendingPullIntos[0]);
        } else {
            dcClose(c);
        }
    }
    function ctrlError(c, e) {
        if (c.byte)
            bcError(c, e);
        else
            dcError(c, e);
    }
    function ctrlCanCloseOrEnqueue(c) {
        return !c.closeRequested && c.stream.state === 'readable';
    }
    function ctrlHasBackpressure(c) {
        return c.byte ? !bcShouldCallPull(c) : !dcShouldCallPull(c);
    }
    streams.rs = {
        dcEnqueue, dcClose, dcError, dcDesiredSize, dcCanCloseOrEnqueue, dcHasBackpressure,
        ctrlEnqueue, ctrlClose, ctrlError, ctrlCanCloseOrEnqueue, ctrlHasBackpressure,
        ctrlDesiredSize: dcDesiredSize,
    };

    // ---- public controller, reader and request objects ----------------------------------------

    class ReadableStreamDefaultController {
        #c;

        constructor(token = undefined, c = undefined) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#c = c;
        }

        get desiredSize() {
            return dcDesiredSize(this.#c);
        }

        close() {
            if (!dcCanCloseOrEnqueue(this.#c))
                throw new TypeError('ReadableStream: the stream is already closing or closed');
            dcClose(this.#c);
        }

        enqueue(chunk = undefined) {
            if (!dcCanCloseOrEnqueue(this.#c))
                throw new TypeError('ReadableStream: cannot enqueue after the stream was closed');
            dcEnqueue(this.#c, chunk);
        }

        error(e = undefined) {
            dcError(this.#c, e);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStreamDefaultController';
        }
    }

    class ReadableByteStreamController {
        #c;

        constructor(token = undefined, c = undefined) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#c = c;
        }

        get byobRequest() {
            return bcGetBYOBRequest(this.#c);
        }

        get desiredSize() {
            return bcDesiredSize(this.#c);
        }

        close() {
            const c = this.#c;
            if (c.closeRequested)
                throw new TypeError('ReadableStream: the stream is already closing');
            if (c.stream.state !== 'readable')
                throw new TypeError('ReadableStream: the stream is not readable');
            bcClose(c);
        }

        enqueue(chunk) {
            const c = this.#c;
            if (!isView(chunk))
                throw new TypeError('ReadableByteStreamController.enqueue: chunk must be an ArrayBufferView');
            if (chunk.byteLength === 0)
                throw new TypeError('ReadableByteStreamController.enqueue: chunk must not be empty');
            if (chunk.buffer.byteLength === 0)
                throw new TypeError("ReadableByteStreamController.enqueue: chunk's buffer is detached or empty");
            if (c.closeRequested)
                throw new TypeError('ReadableStream: cannot enqueue after the stream was closed');
            if (c.stream.state !== 'readable')
                throw new TypeError('ReadableStream: the stream is not readable');
            bcEnqueue(c, chunk);
        }

        error(e = undefined) {
            bcError(this.#c, e);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableByteStreamController';
        }
    }

    class ReadableStreamBYOBRequest {
        #r;

        constructor(token = undefined, r = undefined) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#r = r;
        }

        get view() {
            return this.#r.view;
        }

        respond(bytesWritten) {
            const r = this.#r;
            if (r.controller === undefined)
                throw new TypeError('This BYOB request has been invalidated');
            const n = Number(bytesWritten);
            if (!Number.isFinite(n) || n < 0)
                throw new TypeError('bytesWritten must be a non-negative number');
            if (isDetached(r.view.buffer))
                throw new TypeError("The BYOB request's buffer has been detached");
            bcRespond(r.controller, Math.trunc(n));
        }

        respondWithNewView(view) {
            const r = this.#r;
            if (!isView(view))
                throw new TypeError('respondWithNewView: view must be an ArrayBufferView');
            if (r.controller === undefined)
                throw new TypeError('This BYOB request has been invalidated');
            if (isDetached(view.buffer))
                throw new TypeError("The view's buffer has been detached");
            bcRespondWithNewView(r.controller, view);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStreamBYOBRequest';
        }
    }

    class ReadableStreamDefaultReader {
        #r;

        constructor(stream) {
            const s = streamState(stream);
            if (s === null)
                throw new TypeError('ReadableStreamDefaultReader: argument is not a ReadableStream');
            this.#r = acquireDefaultReader(s);
            this.#r.object = this;
        }

        get closed() {
            return this.#r.closed.promise;
        }

        read() {
            const r = this.#r;
            if (r.stream === undefined)
                return Promise.reject(new TypeError('This reader has released its lock'));
            const req = promiseReadRequest();
            defaultReaderRead(r, req);
            return req.promise;
        }

        cancel(reason = undefined) {
            const r = this.#r;
            if (r.stream === undefined)
                return Promise.reject(new TypeError('This reader has released its lock'));
            return streamCancel(r.stream, reason);
        }

        releaseLock() {
            if (this.#r.stream !== undefined)
                defaultReaderRelease(this.#r);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStreamDefaultReader';
        }
    }

    class ReadableStreamBYOBReader {
        #r;

        constructor(stream) {
            const s = streamState(stream);
            if (s === null)
                throw new TypeError('ReadableStreamBYOBReader: argument is not a ReadableStream');
            this.#r = acquireBYOBReader(s);
            this.#r.object = this;
        }

        get closed() {
            return this.#r.closed.promise;
        }

        read(view, options = undefined) {
            const r = this.#r;
            if (!isView(view))
                return Promise.reject(new TypeError('ReadableStreamBYOBReader.read: view must be an ArrayBufferView'));
            if (view.byteLength === 0)
                return Promise.reject(new TypeError('ReadableStreamBYOBReader.read: view must not be empty'));
            if (view.buffer.byteLength === 0 || isDetached(view.buffer))
                return Promise.reject(new TypeError("ReadableStreamBYOBReader.read: view's buffer is detached"));
            let min = 1;
            if (options !== undefined && options !== null && options.min !== undefined) {
                min = Number(options.min);
                if (!Number.isFinite(min) || min < 0)
                    return Promise.reject(new TypeError('ReadableStreamBYOBReader.read: min must be a positive number'));
                min = Math.trunc(min);
            }
            if (min === 0)
                return Promise.reject(new TypeError('ReadableStreamBYOBReader.read: min must be greater than 0'));
            const limit = view instanceof DataView ? view.byteLength : view.length;
            if (min > limit)
                return Promise.reject(new RangeError('ReadableStreamBYOBReader.read: min exceeds the view length'));
            if (r.stream === undefined)
                return Promise.reject(new TypeError('This reader has released its lock'));
            const d = deferred();
            const req = {
                chunk: (value) => d.resolve({ value, done: false }),
                close: (value) => d.resolve({ value, done: true }),
                error: (e) => d.reject(e),
            };
            const s = r.stream;
            s.disturbed = true;
            if (s.state === 'errored')
                req.error(s.storedError);
            else
                bcPullInto(s.controller, view, min, req);
            return d.promise;
        }

        cancel(reason = undefined) {
            const r = this.#r;
            if (r.stream === undefined)
                return Promise.reject(new TypeError('This reader has released its lock'));
            return streamCancel(r.stream, reason);
        }

        releaseLock() {
            if (this.#r.stream !== undefined)
                byobReaderRelease(this.#r);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStreamBYOBReader';
        }
    }

    // ---- creating streams ---------------------------------------------------------------------

    // CreateReadableStream / CreateReadableByteStream for the runtime: algorithms return
    // promises; returns the stream record (record.object is the public stream).
    function createStream(start, pull, cancel, hwm = 1, size = () => 1) {
        const s = newStreamRecord();
        const c = { object: undefined };
        setUpDefaultController(s, c, start, pull, cancel, hwm, size);
        c.object = new ReadableStreamDefaultController(INTERNAL, c);
        s.object = new ReadableStream(INTERNAL, s);
        return s;
    }
    function createByteStream(start, pull, cancel, hwm = 0, autoAllocate = undefined) {
        const s = newStreamRecord();
        const c = { object: undefined };
        setUpByteController(s, c, start, pull, cancel, hwm, autoAllocate);
        c.object = new ReadableByteStreamController(INTERNAL, c);
        s.object = new ReadableStream(INTERNAL, s);
        return s;
    }
    streams.createStream = createStream;
    streams.createByteStream = createByteStream;

    function setUpFromSource(s, source, strategy) {
        const what = 'ReadableStream';
        const start = method(source, 'start', what);
        const pull = method(source, 'pull', what);
        const cancel = method(source, 'cancel', what);
        const type = source === undefined ? undefined : source.type;
        let typeName;
        if (type !== undefined) {
            typeName = String(type);
            if (typeName !== 'bytes')
                throw new TypeError(`ReadableStream: "${typeName}" is not a valid source type`);
        }
        const c = { object: undefined };
        if (typeName === 'bytes') {
            if (strategy !== undefined && strategy !== null && strategy.size !== undefined)
                throw new RangeError('ReadableStream: a byte stream cannot have a strategy with a size');
            const hwm = extractHWM(strategy, 0);
            let auto = source.autoAllocateChunkSize;
            if (auto !== undefined) {
                auto = Number(auto);
                if (!Number.isInteger(auto) || auto <= 0)
                    throw new TypeError('ReadableStream: autoAllocateChunkSize must be a positive integer');
            }
            c.object = new ReadableByteStreamController(INTERNAL, c);
            setUpByteController(s, c,
                () => (start ? Reflect.apply(start, source, [c.object]) : undefined),
                pull ? () => promiseCall(pull, source, [c.object]) : resolvedUndefined,
                cancel ? (reason) => promiseCall(cancel, source, [reason]) : resolvedUndefined,
                hwm, auto);
        } else {
            const size = extractSize(strategy);
            const hwm = extractHWM(strategy, 1);
            c.object = new ReadableStreamDefaultController(INTERNAL, c);
            setUpDefaultController(s, c,
                () => (start ? Reflect.apply(start, source, [c.object]) : undefined),
                pull ? () => promiseCall(pull, source, [c.object]) : resolvedUndefined,
                cancel ? (reason) => promiseCall(cancel, source, [reason]) : resolvedUndefined,
                hwm, size);
        }
    }

    // ---- tee ----------------------------------------------------------------------------------

    function tee(s) {
        const byte = s.controller.byte;
        const reader = acquireDefaultReader(s);
        let reading = false, readAgain = false;
        let canceled1 = false, canceled2 = false;
        let reason1, reason2;
        let branch1, branch2;
        const cancelPromise = deferred();
        const pull = () => {
            if (reading) {
                readAgain = true;
                return Promise.resolve(undefined);
            }
            reading = true;
            defaultReaderRead(reader, {
                chunk(chunk) {
                    Promise.resolve().then(() => {
                        readAgain = false;
                        let chunk2 = chunk;
                        if (byte && !canceled1 && !canceled2) {
                            try {
                                chunk2 = chunk.slice(); // each branch owns its bytes
                            } catch (e) {
                                ctrlError(branch1.controller, e);
                                ctrlError(branch2.controller, e);
                                cancelPromise.resolve(streamCancel(s, e));
                                return;
                            }
                        }
                        if (!canceled1 && ctrlCanCloseOrEnqueue(branch1.controller))
                            ctrlEnqueue(branch1.controller, chunk);
                        if (!canceled2 && ctrlCanCloseOrEnqueue(branch2.controller))
                            ctrlEnqueue(branch2.controller, chunk2);
                        reading = false;
                        if (readAgain)
                            pull();
                    });
                },
                close() {
                    reading = false;
                    if (!canceled1)
                        ctrlClose(branch1.controller);
                    if (!canceled2)
                        ctrlClose(branch2.controller);
                    if (!canceled1 || !canceled2)
                        cancelPromise.resolve(undefined);
                },
                error() {
                    reading = false;
                },
            });
            return Promise.resolve(undefined);
        };
        const cancel1 = (reason) => {
            canceled1 = true;
            reason1 = reason;
            if (canceled2)
                cancelPromise.resolve(streamCancel(s, [reason1, reason2]));
            return cancelPromise.promise;
        };
        const cancel2 = (reason) => {
            canceled2 = true;
            reason2 = reason;
            if (canceled1)
                cancelPromise.resolve(streamCancel(s, [reason1, reason2]));
            return cancelPromise.promise;
        };
        const start = () => undefined;
        if (byte) {
            branch1 = createByteStream(start, pull, cancel1);
            branch2 = createByteStream(start, pull, cancel2);
        } else {
            branch1 = createStream(start, pull, cancel1);
            branch2 = createStream(start, pull, cancel2);
        }
        branch1.length = branch2.length = s.length;
        reader.closed.promise.then(undefined, (r) => {
            ctrlError(branch1.controller, r);
            ctrlError(branch2.controller, r);
            if (!canceled1 || !canceled2)
                cancelPromise.resolve(undefined);
        });
        return [branch1.object, branch2.object];
    }

    // ---- pipeTo -------------------------------------------------------------------------------

    function isAbortSignal(v) {
        return typeof v === 'object' && v !== null && internals.isAbortSignal(v);
    }

    function pipeTo(source, dest, preventClose, preventAbort, preventCancel, signal) {
        const ws = internals.ws;
        const reader = acquireDefaultReader(source);
        const writer = ws.acquireWriter(dest);
        source.disturbed = true;
        let shuttingDown = false;
        let currentWrite = Promise.resolve(undefined);
        const done = deferred();
        let abortAlgorithm;

        const waitForWritesToFinish = () => {
            const old = currentWrite;
            return currentWrite.then(() => (old !== currentWrite ? waitForWritesToFinish() : undefined));
        };
        const finalize = (isError, error) => {
            ws.writerRelease(writer);
            defaultReaderRelease(reader);
            if (signal !== undefined)
                signal.removeEventListener('abort', abortAlgorithm);
            if (isError)
                done.reject(error);
            else
                done.resolve(undefined);
        };
        const shutdownWithAnAction = (action, originalIsError, originalError) => {
            if (shuttingDown)
                return;
            shuttingDown = true;
            const doTheRest = () => {
                let p;
                try {
                    p = Promise.resolve(action());
                } catch (e) {
                    p = Promise.reject(e);
                }
                p.then(() => finalize(originalIsError, originalError), (e) => finalize(true, e));
            };
            if (dest.state === 'writable' && !ws.closeQueuedOrInFlight(dest))
                waitForWritesToFinish().then(doTheRest);
            else
                doTheRest();
        };
        const shutdown = (isError, error) => {
            if (shuttingDown)
                return;
            shuttingDown = true;
            if (dest.state === 'writable' && !ws.closeQueuedOrInFlight(dest))
                waitForWritesToFinish().then(() => finalize(isError, error));
            else
                finalize(isError, error);
        };

        if (signal !== undefined) {
            abortAlgorithm = () => {
                const error = abortError(signal.reason);
                const actions = [];
                if (!preventAbort)
                    actions.push(() => (dest.state === 'writable' ? ws.abort(dest, error) : Promise.resolve(undefined)));
                if (!preventCancel)
                    actions.push(() => (source.state === 'readable' ? streamCancel(source, error) : Promise.resolve(undefined)));
                shutdownWithAnAction(() => Promise.all(actions.map((a) => a())), true, error);
            };
            if (signal.aborted) {
                abortAlgorithm();
                return done.promise;
            }
            signal.addEventListener('abort', abortAlgorithm);
        }

        // Errors must be propagated forward, errors backward, closing forward, closing backward.
        const onSourceError = (e) => {
            if (!preventAbort)
                shutdownWithAnAction(() => ws.abort(dest, e), true, e);
            else
                shutdown(true, e);
        };
        const onDestError = (e) => {
            if (!preventCancel)
                shutdownWithAnAction(() => streamCancel(source, e), true, e);
            else
                shutdown(true, e);
        };
        const onSourceClosed = () => {
            if (!preventClose)
                shutdownWithAnAction(() => ws.closeWithErrorPropagation(writer));
            else
                shutdown();
        };
        if (source.state === 'errored')
            onSourceError(source.storedError);
        else
            reader.closed.promise.then(undefined, onSourceError);
        if (dest.state === 'errored')
            onDestError(dest.storedError);
        else
            writer.closed.promise.then(undefined, onDestError);
        if (source.state === 'closed')
            onSourceClosed();
        else
            reader.closed.promise.then(onSourceClosed, () => {});
        if (ws.closeQueuedOrInFlight(dest) || dest.state === 'closed') {
            const e = new TypeError('The destination writable stream closed before all the data could be piped to it.');
            if (!preventCancel)
                shutdownWithAnAction(() => streamCancel(source, e), true, e);
            else
                shutdown(true, e);
        }

        const step = () => {
            if (shuttingDown)
                return Promise.resolve(true);
            return writer.ready.promise.then(() => new Promise((resolve, reject) => {
                if (shuttingDown) {
                    resolve(true);
                    return;
                }
                defaultReaderRead(reader, {
                    chunk(chunk) {
                        currentWrite = handled(ws.writerWrite(writer, chunk));
                        resolve(false);
                    },
                    close: () => resolve(true),
                    error: reject,
                });
            }));
        };
        const loop = () => {
            step().then((stop) => {
                if (!stop)
                    loop();
            }, () => {});
        };
        loop();
        return done.promise;
    }

    function readPipeOptions(options) {
        if (options === undefined || options === null)
            return [false, false, false, undefined];
        if (typeof options !== 'object' && typeof options !== 'function')
            throw new TypeError('pipeTo: options must be an object');
        const signal = options.signal;
        if (signal !== undefined && !isAbortSignal(signal))
            throw new TypeError('pipeTo: options.signal must be an AbortSignal');
        return [Boolean(options.preventClose), Boolean(options.preventAbort),
            Boolean(options.preventCancel), signal];
    }

    // ---- async iteration ----------------------------------------------------------------------

    const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(
        Object.getPrototypeOf((async function* () {})())));

    class ReadableStreamAsyncIterator {
        #reader;
        #preventCancel;
        #ongoing = undefined;
        #finished = false;

        constructor(token, reader, preventCancel) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#reader = reader;
            this.#preventCancel = preventCancel;
        }

        #nextSteps() {
            if (this.#finished)
                return Promise.resolve({ value: undefined, done: true });
            const r = this.#reader;
            if (r.stream === undefined)
                return Promise.reject(new TypeError('The iterator has released its reader'));
            const d = deferred();
            defaultReaderRead(r, {
                chunk: (value) => d.resolve({ value, done: false }),
                close: () => {
                    this.#finished = true;
                    defaultReaderRelease(r);
                    d.resolve({ value: undefined, done: true });
                },
                error: (e) => {
                    this.#finished = true;
                    defaultReaderRelease(r);
                    d.reject(e);
                },
            });
            return d.promise;
        }

        #returnSteps(value) {
            if (this.#finished)
                return Promise.resolve({ value, done: true });
            this.#finished = true;
            const r = this.#reader;
            if (r.stream === undefined)
                return Promise.resolve({ value, done: true });
            if (!this.#preventCancel) {
                const result = streamCancel(r.stream, value);
                defaultReaderRelease(r);
                return result.then(() => ({ value, done: true }));
            }
            defaultReaderRelease(r);
            return Promise.resolve({ value, done: true });
        }

        next() {
            const run = () => this.#nextSteps();
            this.#ongoing = this.#ongoing === undefined ? run() : this.#ongoing.then(run, run);
            const p = this.#ongoing;
            p.then(() => {
                if (this.#ongoing === p)
                    this.#ongoing = undefined;
            }, () => {
                if (this.#ongoing === p)
                    this.#ongoing = undefined;
            });
            return p;
        }

        return(value = undefined) {
            const run = () => this.#returnSteps(value);
            return this.#ongoing === undefined ? run() : this.#ongoing.then(run, run);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStream AsyncIterator';
        }
    }
    Object.setPrototypeOf(ReadableStreamAsyncIterator.prototype, AsyncIteratorPrototype);

    // ---- ReadableStream -----------------------------------------------------------------------

    let streamState;

    class ReadableStream {
        #s;

        constructor(source = undefined, strategy = undefined) {
            if (source === INTERNAL) {
                this.#s = strategy;
                return;
            }
            if (source === null)
                throw new TypeError('ReadableStream: the underlying source must be an object');
            if (source !== undefined && typeof source !== 'object' && typeof source !== 'function')
                throw new TypeError('ReadableStream: the underlying source must be an object');
            if (strategy !== undefined && strategy !== null && typeof strategy !== 'object')
                throw new TypeError('ReadableStream: the strategy must be an object');
            const s = newStreamRecord();
            s.object = this;
            this.#s = s;
            setUpFromSource(s, source, strategy);
        }

        static from(asyncIterable) {
            if (asyncIterable === null || asyncIterable === undefined)
                throw new TypeError('ReadableStream.from: the argument must be iterable');
            let iterator, next;
            const asyncMethod = asyncIterable[Symbol.asyncIterator];
            if (asyncMethod !== undefined && asyncMethod !== null) {
                if (typeof asyncMethod !== 'function')
                    throw new TypeError('ReadableStream.from: Symbol.asyncIterator must be a function');
                iterator = Reflect.apply(asyncMethod, asyncIterable, []);
            } else {
                const syncMethod = asyncIterable[Symbol.iterator];
                if (typeof syncMethod !== 'function')
                    throw new TypeError('ReadableStream.from: the argument is not iterable');
                const syncIterator = Reflect.apply(syncMethod, asyncIterable, []);
                iterator = (async function* () {
                    yield* { [Symbol.iterator]: () => syncIterator };
                })();
            }
            if (typeof iterator !== 'object' || iterator === null)
                throw new TypeError('ReadableStream.from: the iterator is not an object');
            next = iterator.next;
            let s;
            const pull = () => {
                let result;
                try {
                    result = Reflect.apply(next, iterator, []);
                } catch (e) {
                    return Promise.reject(e);
                }
                return Promise.resolve(result).then((r) => {
                    if (typeof r !== 'object' || r === null)
                        throw new TypeError('ReadableStream.from: the iterator result is not an object');
                    if (r.done)
                        dcClose(s.controller);
                    else
                        dcEnqueue(s.controller, r.value);
                });
            };
            const cancel = (reason) => {
                let ret;
                try {
                    ret = iterator.return;
                    if (ret === undefined || ret === null)
                        return Promise.resolve(undefined);
                    return Promise.resolve(Reflect.apply(ret, iterator, [reason])).then((r) => {
                        if (typeof r !== 'object' || r === null)
                            throw new TypeError('ReadableStream.from: the iterator return() result is not an object');
                    });
                } catch (e) {
                    return Promise.reject(e);
                }
            };
            s = createStream(() => undefined, pull, cancel, 0);
            return s.object;
        }

        get locked() {
            return this.#s.reader !== undefined;
        }

        cancel(reason = undefined) {
            if (this.#s.reader !== undefined)
                return Promise.reject(new TypeError('This ReadableStream is locked to a reader'));
            return streamCancel(this.#s, reason);
        }

        getReader(options = undefined) {
            const mode = options === undefined || options === null ? undefined : options.mode;
            if (mode === undefined)
                return new ReadableStreamDefaultReader(this);
            if (String(mode) !== 'byob')
                throw new TypeError(`ReadableStream.getReader: "${String(mode)}" is not a valid reader mode`);
            return new ReadableStreamBYOBReader(this);
        }

        pipeThrough(transform, options = undefined) {
            const s = this.#s;
            if (typeof transform !== 'object' || transform === null)
                throw new TypeError('pipeThrough: the transform must be an object with readable and writable');
            const { readable, writable } = transform;
            if (streamState(readable) === null)
                throw new TypeError('pipeThrough: transform.readable must be a ReadableStream');
            const ws = internals.ws.record(writable);
            if (ws === null)
                throw new TypeError('pipeThrough: transform.writable must be a WritableStream');
            const [preventClose, preventAbort, preventCancel, signal] = readPipeOptions(options);
            if (s.reader !== undefined)
                throw new TypeError('This ReadableStream is locked to a reader');
            if (ws.writer !== undefined)
                throw new TypeError('The WritableStream is locked to a writer');
            handled(pipeTo(s, ws, preventClose, preventAbort, preventCancel, signal));
            return readable;
        }

        pipeTo(destination, options = undefined) {
            try {
                const s = this.#s;
                const ws = internals.ws.record(destination);
                if (ws === null)
                    throw new TypeError('pipeTo: the destination must be a WritableStream');
                const [preventClose, preventAbort, preventCancel, signal] = readPipeOptions(options);
                if (s.reader !== undefined)
                    throw new TypeError('This ReadableStream is locked to a reader');
                if (ws.writer !== undefined)
                    throw new TypeError('The WritableStream is locked to a writer');
                return pipeTo(s, ws, preventClose, preventAbort, preventCancel, signal);
            } catch (e) {
                return Promise.reject(e);
            }
        }

        tee() {
            return tee(this.#s);
        }

        values(options = undefined) {
            const preventCancel = options === undefined || options === null
                ? false : Boolean(options.preventCancel);
            const reader = acquireDefaultReader(this.#s);
            return new ReadableStreamAsyncIterator(INTERNAL, reader, preventCancel);
        }

        get [Symbol.toStringTag]() {
            return 'ReadableStream';
        }

        static {
            streamState = (v) => (typeof v === 'object' && v !== null && #s in v ? v.#s : null);
        }
    }
    Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, {
        value: ReadableStream.prototype.values, writable: true, configurable: true, enumerable: false,
    });

    // ---- queuing strategies -------------------------------------------------------------------

    function readInit(init, what) {
        if (init === undefined || init === null || typeof init !== 'object')
            throw new TypeError(`${what}: the init argument must be an object with highWaterMark`);
        if (init.highWaterMark === undefined)
            throw new TypeError(`${what}: highWaterMark is required`);
        return Number(init.highWaterMark);
    }
    const byteLengthSize = function size(chunk) {
        return chunk.byteLength;
    };
    const countSize = function size() {
        return 1;
    };

    class ByteLengthQueuingStrategy {
        #hwm;

        constructor(init) {
            this.#hwm = readInit(init, 'ByteLengthQueuingStrategy');
        }

        get highWaterMark() {
            return this.#hwm;
        }

        get size() {
            return byteLengthSize;
        }

        get [Symbol.toStringTag]() {
            return 'ByteLengthQueuingStrategy';
        }
    }

    class CountQueuingStrategy {
        #hwm;

        constructor(init) {
            this.#hwm = readInit(init, 'CountQueuingStrategy');
        }

        get highWaterMark() {
            return this.#hwm;
        }

        get size() {
            return countSize;
        }

        get [Symbol.toStringTag]() {
            return 'CountQueuingStrategy';
        }
    }

    // ---- what the rest of the runtime uses ----------------------------------------------------

    streams.ReadableStream = ReadableStream; // whatever a worker does to the global
    internals.isReadableStream = (v) => streamState(v) !== null; // replaces 00_internals.js's
    streams.isDisturbed = (stream) => streamState(stream).disturbed;
    // Bytes a stream will produce when known (-1: unknown): FixedLengthStream, fixed bodies.
    streams.streamLength = (stream) => streamState(stream).length;

    // A byte stream that yields bytes once and closes: the `body` of a Request or Response
    // built from a string, a BufferSource or a Blob. Its length is known.
    streams.streamOfBytes = function streamOfBytes(bytes) {
        let sent = false;
        const s = createByteStream(() => undefined, () => {
            if (!sent) {
                sent = true;
                if (bytes.length > 0)
                    bcEnqueue(s.controller, bytes);
            }
            bcClose(s.controller);
            if (s.controller.pendingPullIntos.length > 0 && s.state === 'closed')
                bcRespondInClosedState(s.controller, s.controller.pendingPullIntos[0]);
            return Promise.resolve(undefined);
        }, () => {
            bytes = null;
            return Promise.resolve(undefined);
        });
        s.length = bytes.length;
        return s.object;
    };

    // Reads a whole stream into one Uint8Array (Body's text()/arrayBuffer()/json()).
    streams.readAllBytes = function readAllBytes(stream) {
        const r = acquireDefaultReader(streamState(stream));
        const chunks = [];
        let total = 0;
        const d = deferred();
        const step = () => {
            defaultReaderRead(r, {
                chunk(value) {
                    const bytes = internals.asBytes(value);
                    if (bytes === null) {
                        const e = new TypeError('This ReadableStream did not return bytes.');
                        streamCancel(r.stream, e).catch(() => {});
                        defaultReaderRelease(r);
                        d.reject(e);
                        return;
                    }
                    chunks.push(bytes);
                    total += bytes.length;
                    step();
                },
                close() {
                    defaultReaderRelease(r);
                    if (chunks.length === 1) {
                        d.resolve(chunks[0]);
                        return;
                    }
                    const out = new Uint8Array(total);
                    let at = 0;
                    for (const c of chunks) {
                        out.set(c, at);
                        at += c.length;
                    }
                    d.resolve(out);
                },
                error(e) {
                    defaultReaderRelease(r);
                    d.reject(e);
                },
            });
        };
        step();
        return d.promise;
    };

    // The shim's side of a streamed response: lock the stream, then one chunk per call as a
    // promise of a Uint8Array, or null at the end; cancel when the client goes away.
    streams.openStream = (stream) => new ReadableStreamDefaultReader(stream);
    streams.readChunk = function readChunk(reader) {
        return reader.read().then(({ value, done }) => {
            if (done)
                return null;
            const bytes = internals.asBytes(value);
            if (bytes === null)
                throw new TypeError('This ReadableStream did not return bytes.');
            return bytes;
        });
    };
    streams.cancelStream = function cancelStream(reader, reason) {
        reader.cancel(reason).catch(() => {});
    };

    internals.streams = streams;
    internals.expose('ReadableStream', ReadableStream);
    internals.expose('ReadableStreamDefaultReader', ReadableStreamDefaultReader);
    internals.expose('ReadableStreamBYOBReader', ReadableStreamBYOBReader);
    internals.expose('ReadableStreamDefaultController', ReadableStreamDefaultController);
    internals.expose('ReadableByteStreamController', ReadableByteStreamController);
    internals.expose('ReadableStreamBYOBRequest', ReadableStreamBYOBRequest);
    internals.expose('ByteLengthQueuingStrategy', ByteLengthQueuingStrategy);
    internals.expose('CountQueuingStrategy', CountQueuingStrategy);
})
