// TransformStream (Streams Standard) and the transform streams built on it: TextEncoderStream
// and TextDecoderStream (Encoding Standard), and Cloudflare Workers' IdentityTransformStream
// (bytes in, the same bytes out, through a byte stream that BYOB readers can read) and
// FixedLengthStream (an IdentityTransformStream that must carry exactly the length it was given,
// which a Response then sends with a Content-Length instead of chunked encoding). A lazy runtime
// file (isolates/lazy.cc); what it takes from 30_streams.js and 31_writable.js as it loads runs
// them first.
'use strict';
(function (internals) {
    const { INTERNAL, ws } = internals;
    const { deferred, handledPromise: handled, promiseCall, dictMethod: method } = internals.streams;
    const { extractHWM, extractSize, rs, createStream, createByteStream } = internals.streams;
    let newTransformStream; // set in TransformStream's static block

    // ---- TransformStream abstract operations --------------------------------------------------

    function setBackpressure(t, backpressure) {
        if (t.backpressureChange !== undefined)
            t.backpressureChange.resolve(undefined);
        t.backpressureChange = deferred();
        t.backpressure = backpressure;
    }
    function unblockWrite(t) {
        if (t.backpressure)
            setBackpressure(t, false);
    }
    function clearAlgorithms(c) {
        c.transformAlgorithm = undefined;
        c.flushAlgorithm = undefined;
        c.cancelAlgorithm = undefined;
    }
    function errorWritableAndUnblockWrite(t, e) {
        clearAlgorithms(t.controller);
        ws.errorIfNeeded(t.writable.controller, e);
        unblockWrite(t);
    }
    function transformError(t, e) {
        rs.ctrlError(t.readable.controller, e);
        errorWritableAndUnblockWrite(t, e);
    }
    function controllerEnqueue(c, chunk) {
        const t = c.stream;
        const rc = t.readable.controller;
        if (!rs.ctrlCanCloseOrEnqueue(rc))
            throw new TypeError('TransformStream: the readable side is closed or errored and cannot be enqueued to');
        try {
            rs.ctrlEnqueue(rc, chunk);
        } catch (e) {
            errorWritableAndUnblockWrite(t, e);
            throw t.readable.storedError;
        }
        const backpressure = rs.ctrlHasBackpressure(rc);
        if (backpressure !== t.backpressure && backpressure)
            setBackpressure(t, true);
    }
    function controllerTerminate(c) {
        const t = c.stream;
        rs.ctrlClose(t.readable.controller);
        errorWritableAndUnblockWrite(t, new TypeError('The TransformStream was terminated'));
    }
    function performTransform(c, chunk) {
        return c.transformAlgorithm(chunk).then(undefined, (r) => {
            transformError(c.stream, r);
            throw r;
        });
    }

    function sinkWrite(t, chunk) {
        const c = t.controller;
        if (t.backpressure) {
            return t.backpressureChange.promise.then(() => {
                const w = t.writable;
                if (w.state === 'erroring')
                    throw w.storedError;
                return performTransform(c, chunk);
            });
        }
        return performTransform(c, chunk);
    }
    function sinkAbort(t, reason) {
        const c = t.controller;
        if (c.finishPromise !== undefined)
            return c.finishPromise.promise;
        const readable = t.readable;
        c.finishPromise = deferred();
        const p = c.cancelAlgorithm(reason);
        clearAlgorithms(c);
        p.then(() => {
            if (readable.state === 'errored') {
                c.finishPromise.reject(readable.storedError);
            } else {
                rs.ctrlError(readable.controller, reason);
                c.finishPromise.resolve(undefined);
            }
        }, (r) => {
            rs.ctrlError(readable.controller, r);
            c.finishPromise.reject(r);
        });
        return c.finishPromise.promise;
    }
    function sinkClose(t) {
        const c = t.controller;
        if (c.finishPromise !== undefined)
            return c.finishPromise.promise;
        const readable = t.readable;
        c.finishPromise = deferred();
        const p = c.flushAlgorithm();
        clearAlgorithms(c);
        p.then(() => {
            if (readable.state === 'errored') {
                c.finishPromise.reject(readable.storedError);
            } else {
                rs.ctrlClose(readable.controller);
                c.finishPromise.resolve(undefined);
            }
        }, (r) => {
            rs.ctrlError(readable.controller, r);
            c.finishPromise.reject(r);
        });
        return c.finishPromise.promise;
    }
    function sourceCancel(t, reason) {
        const c = t.controller;
        if (c.finishPromise !== undefined)
            return c.finishPromise.promise;
        const writable = t.writable;
        c.finishPromise = deferred();
        const p = c.cancelAlgorithm(reason);
        clearAlgorithms(c);
        p.then(() => {
            if (writable.state === 'errored') {
                c.finishPromise.reject(writable.storedError);
            } else {
                ws.errorIfNeeded(writable.controller, reason);
                unblockWrite(t);
                c.finishPromise.resolve(undefined);
            }
        }, (r) => {
            ws.errorIfNeeded(writable.controller, r);
            unblockWrite(t);
            c.finishPromise.reject(r);
        });
        return c.finishPromise.promise;
    }
    function sourcePull(t) {
        setBackpressure(t, false);
        return t.backpressureChange.promise;
    }

    // InitializeTransformStream plus the controller's set-up. algorithms: { transform(chunk),
    // flush(), cancel(reason) } returning promises. byteReadable: the readable is a byte stream.
    function initialize(t, startPromise, writableHWM, writableSize, readableHWM, readableSize,
        algorithms, byteReadable) {
        const start = () => startPromise;
        t.writable = ws.createWritable(start, (chunk) => sinkWrite(t, chunk),
            () => sinkClose(t), (reason) => sinkAbort(t, reason), writableHWM, writableSize);
        const pull = () => sourcePull(t);
        const cancel = (reason) => sourceCancel(t, reason);
        t.readable = byteReadable
            ? createByteStream(start, pull, cancel, readableHWM)
            : createStream(start, pull, cancel, readableHWM, readableSize);
        t.backpressure = undefined;
        t.backpressureChange = undefined;
        setBackpressure(t, true);
        const c = {
            stream: t,
            transformAlgorithm: algorithms.transform,
            flushAlgorithm: algorithms.flush,
            cancelAlgorithm: algorithms.cancel,
            finishPromise: undefined,
            object: undefined,
        };
        c.object = new TransformStreamDefaultController(INTERNAL, c);
        t.controller = c;
        return c;
    }

    // ---- public objects --------------------------------------------------------------------------

    class TransformStreamDefaultController {
        #c;

        constructor(token = undefined, c = undefined) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#c = c;
        }

        get desiredSize() {
            return rs.ctrlDesiredSize(this.#c.stream.readable.controller);
        }

        enqueue(chunk = undefined) {
            controllerEnqueue(this.#c, chunk);
        }

        error(reason = undefined) {
            transformError(this.#c.stream, reason);
        }

        terminate() {
            controllerTerminate(this.#c);
        }

        get [Symbol.toStringTag]() {
            return 'TransformStreamDefaultController';
        }
    }

    class TransformStream {
        #t;

        constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
            if (transformer === INTERNAL) {
                this.#t = writableStrategy;
                return;
            }
            if (transformer === null)
                throw new TypeError('TransformStream: the transformer must be an object');
            if (transformer !== undefined && typeof transformer !== 'object' && typeof transformer !== 'function')
                throw new TypeError('TransformStream: the transformer must be an object');
            const what = 'TransformStream';
            const start = method(transformer, 'start', what);
            const transform = method(transformer, 'transform', what);
            const flush = method(transformer, 'flush', what);
            const cancel = method(transformer, 'cancel', what);
            if (transformer !== undefined && transformer.readableType !== undefined)
                throw new RangeError('TransformStream: readableType must be undefined');
            if (transformer !== undefined && transformer.writableType !== undefined)
                throw new RangeError('TransformStream: writableType must be undefined');
            const readableHWM = extractHWM(readableStrategy, 0);
            const readableSize = extractSize(readableStrategy);
            const writableHWM = extractHWM(writableStrategy, 1);
            const writableSize = extractSize(writableStrategy);
            const startPromise = deferred();
            const t = { object: this };
            this.#t = t;
            let c;
            const algorithms = {
                transform: transform
                    ? (chunk) => promiseCall(transform, transformer, [chunk, c.object])
                    : (chunk) => {
                        try {
                            controllerEnqueue(c, chunk);
                            return Promise.resolve(undefined);
                        } catch (e) {
                            return Promise.reject(e);
                        }
                    },
                flush: flush ? () => promiseCall(flush, transformer, [c.object]) : () => Promise.resolve(undefined),
                cancel: cancel ? (reason) => promiseCall(cancel, transformer, [reason]) : () => Promise.resolve(undefined),
            };
            c = initialize(t, startPromise.promise, writableHWM, writableSize, readableHWM,
                readableSize, algorithms, false);
            startPromise.resolve(start ? Reflect.apply(start, transformer, [c.object]) : undefined);
        }

        get readable() {
            return this.#t.readable.object;
        }

        get writable() {
            return this.#t.writable.object;
        }

        get [Symbol.toStringTag]() {
            return 'TransformStream';
        }

        static {
            // A TransformStream whose algorithms are the runtime's own (bytes in and out).
            newTransformStream = function newTransformStream(self, algorithms, byteReadable,
                writableHWM = 1) {
                const t = { object: self };
                if (self !== null)
                    self.#t = t;
                initialize(t, Promise.resolve(undefined), writableHWM, () => 1, 0, () => 1,
                    algorithms, byteReadable);
                return t;
            };
        }
    }

    // ---- Workers' byte transforms ---------------------------------------------------------------

    function identityAlgorithms(getT, onBytes, onClose) {
        return {
            transform(chunk) {
                try {
                    const bytes = internals.asBytes(chunk);
                    if (bytes === null)
                        throw new TypeError('This TransformStream is being used as a byte stream, but received an object of non-ArrayBuffer/ArrayBufferView type on its writable side.');
                    if (onBytes !== undefined)
                        onBytes(bytes.byteLength);
                    if (bytes.byteLength > 0)
                        controllerEnqueue(getT().controller, bytes.slice()); // the writer keeps its buffer
                    return Promise.resolve(undefined);
                } catch (e) {
                    return Promise.reject(e);
                }
            },
            flush() {
                try {
                    if (onClose !== undefined)
                        onClose();
                    return Promise.resolve(undefined);
                } catch (e) {
                    return Promise.reject(e);
                }
            },
            cancel: () => Promise.resolve(undefined),
        };
    }

    function readHWMOption(options) {
        if (options === undefined || options === null)
            return 1;
        if (typeof options !== 'object')
            throw new TypeError('options must be an object');
        return extractHWM(options, 1);
    }

    class IdentityTransformStream extends TransformStream {
        constructor(options = undefined) {
            super(INTERNAL, undefined);
            if (options === INTERNAL)
                return; // a FixedLengthStream sets itself up
            const hwm = readHWMOption(options);
            let t;
            t = newTransformStream(this, identityAlgorithms(() => t), true, hwm);
        }

        get [Symbol.toStringTag]() {
            return 'IdentityTransformStream';
        }
    }

    class FixedLengthStream extends IdentityTransformStream {
        constructor(expectedLength, options = undefined) {
            let length = typeof expectedLength === 'bigint' ? Number(expectedLength) : Number(expectedLength);
            if (!Number.isInteger(length) || length < 0 || length > Number.MAX_SAFE_INTEGER)
                throw new TypeError('FixedLengthStream requires a non-negative integer expected length.');
            const hwm = readHWMOption(options);
            super(INTERNAL);
            let seen = 0;
            let t;
            t = newTransformStream(this, identityAlgorithms(() => t, (n) => {
                seen += n;
                if (seen > length)
                    throw new TypeError('Attempt to write too many bytes through a FixedLengthStream.');
            }, () => {
                if (seen < length)
                    throw new TypeError('FixedLengthStream did not see all expected bytes before close().');
            }), true, hwm);
            t.readable.length = length;
        }

        get [Symbol.toStringTag]() {
            return 'FixedLengthStream';
        }
    }

    // ---- TextEncoderStream / TextDecoderStream ----------------------------------------------------

    const REPLACEMENT = [0xef, 0xbf, 0xbd];

    class TextEncoderStream {
        #transform;
        #pending = ''; // a high surrogate that the next chunk may complete

        constructor() {
            const self = this;
            let t;
            t = newTransformStream(null, {
                transform(chunk) {
                    try {
                        let text = self.#pending + String(chunk);
                        self.#pending = '';
                        const last = text.length > 0 ? text.charCodeAt(text.length - 1) : 0;
                        if (last >= 0xd800 && last <= 0xdbff) {
                            self.#pending = text[text.length - 1];
                            text = text.slice(0, -1);
                        }
                        if (text.length > 0)
                            controllerEnqueue(t.controller, internals.encodeUtf8(text));
                        return Promise.resolve(undefined);
                    } catch (e) {
                        return Promise.reject(e);
                    }
                },
                flush() {
                    if (self.#pending !== '') {
                        self.#pending = '';
                        controllerEnqueue(t.controller, new Uint8Array(REPLACEMENT));
                    }
                    return Promise.resolve(undefined);
                },
                cancel: () => Promise.resolve(undefined),
            }, false);
            this.#transform = t;
        }

        get encoding() {
            return 'utf-8';
        }

        get readable() {
            return this.#transform.readable.object;
        }

        get writable() {
            return this.#transform.writable.object;
        }

        get [Symbol.toStringTag]() {
            return 'TextEncoderStream';
        }
    }

    class TextDecoderStream {
        #transform;
        #decoder;

        constructor(label = 'utf-8', options = undefined) {
            const decoder = new internals.TextDecoder(label, options);
            this.#decoder = decoder;
            let t;
            t = newTransformStream(null, {
                transform(chunk) {
                    try {
                        if (internals.asBytes(chunk) === null)
                            throw new TypeError('TextDecoderStream: chunks must be ArrayBuffers or views');
                        const text = decoder.decode(chunk, { stream: true });
                        if (text.length > 0)
                            controllerEnqueue(t.controller, text);
                        return Promise.resolve(undefined);
                    } catch (e) {
                        return Promise.reject(e);
                    }
                },
                flush() {
                    try {
                        const text = decoder.decode();
                        if (text.length > 0)
                            controllerEnqueue(t.controller, text);
                        return Promise.resolve(undefined);
                    } catch (e) {
                        return Promise.reject(e);
                    }
                },
                cancel: () => Promise.resolve(undefined),
            }, false);
            this.#transform = t;
        }

        get encoding() {
            return this.#decoder.encoding;
        }

        get fatal() {
            return this.#decoder.fatal;
        }

        get ignoreBOM() {
            return this.#decoder.ignoreBOM;
        }

        get readable() {
            return this.#transform.readable.object;
        }

        get writable() {
            return this.#transform.writable.object;
        }

        get [Symbol.toStringTag]() {
            return 'TextDecoderStream';
        }
    }

    internals.expose('TransformStream', TransformStream);
    internals.expose('TransformStreamDefaultController', TransformStreamDefaultController);
    internals.expose('IdentityTransformStream', IdentityTransformStream);
    internals.expose('FixedLengthStream', FixedLengthStream);
    internals.expose('TextEncoderStream', TextEncoderStream);
    internals.expose('TextDecoderStream', TextDecoderStream);
})
