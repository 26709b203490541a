// The runtime's shared plumbing. Every file in isolates/js/ is a classic script whose completion
// value is a function; the shim calls each, in name order, with two objects no tenant code can
// reach: `internals` (what the files share with each other and with the shim) and `native`
// (the C++ bindings). A file installs its Web APIs on globalThis through internals.expose and
// leaves nothing else behind, so a worker sees only the standard globals. The files listed in
// isolates/lazy.cc (URL, crypto, encoding...) run only when a worker first uses what they
// define; such a file must list there every global and internals entry it defines, and take
// what it captures of the built-ins from internals.primordials.
'use strict';
(function (internals, native) {
    const ObjectDefineProperty = Object.defineProperty;

    // While a lazy runtime file runs (isolates/lazy.cc: it runs when a worker first uses a
    // global or internals entry it defines, not when the snapshot is made), the globals it
    // defines: true for those still its placeholders, false for those the worker assigned or
    // deleted before, which stay as the worker left them, null for placeholders the worker
    // froze (their value is kept here for lazy.cc, which answers it).
    let exposing = null;

    // Installs a global the way Web IDL interfaces are: writable, configurable, not enumerable.
    internals.expose = function expose(name, value) {
        if (exposing !== null && exposing[name] !== true) {
            if (exposing[name] === null)
                exposing[name] = [value];
            else if (exposing[name] !== false)
                throw new Error('runtime: a lazy file defines a global that lazy.cc does not list');
            return;
        }
        ObjectDefineProperty(globalThis, name, {
            value,
            writable: true,
            configurable: true,
            enumerable: false,
        });
    };

    // Runs a lazy runtime file's function with its `native` (the shim's lazy loader calls it: a
    // binding only a lazy file uses is made when that file runs).
    internals.runLazy = function runLazy(file, globals, fileNative) {
        const outer = exposing;
        exposing = globals;
        try {
            file(internals, fileNative);
        } finally {
            exposing = outer;
        }
    };

    // What lazy files take from the built-ins, taken here, before any worker code could
    // replace them: a lazy file runs after worker code, and what it captures when it runs
    // (45_crypto.js, which promises that replacing a global cannot change how keys are
    // checked) must be the originals. A list, not an object, and methods bound to the original
    // Function.prototype.call rather than closures: every name and function here is held by
    // every isolate (see lazy.cc). 45_crypto.js names the entries in this order.
    const uncurryThis = Function.prototype.bind.bind(Function.prototype.call);
    const describe = Object.getOwnPropertyDescriptor;
    const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
    internals.primordials = [
        Reflect.apply, ObjectDefineProperty, Uint8Array, ArrayBuffer, ArrayBuffer.isView,
        uncurryThis(ArrayBuffer.prototype.slice),
        uncurryThis(describe(ArrayBuffer.prototype, 'byteLength').get),
        uncurryThis(describe(TypedArrayProto, Symbol.toStringTag).get),
        uncurryThis(describe(TypedArrayProto, 'byteLength').get), uncurryThis(TypedArrayProto.set),
        uncurryThis(describe(DataView.prototype, 'byteLength').get), JSON.stringify, JSON.parse,
        uncurryThis(String.prototype.toUpperCase), Symbol.iterator, Symbol.toStringTag,
        Promise.reject.bind(Promise), Promise.resolve.bind(Promise),
    ];

    // Passed to a constructor by runtime code to build an instance from trusted parts; tenant
    // code cannot name it, so it gets the public, validating path.
    internals.INTERNAL = Symbol('edged.internal');

    // Whether a value is a ReadableStream, a Blob or a FormData: false until the lazy file
    // that makes them (30_streams.js, 35_blob.js) runs and puts its own test here; before it
    // ran no worker can hold one, and asking (every body, every RPC value) must not run it.
    internals.isReadableStream = internals.isBlob = internals.isFormData = () => false;

    // The worker's clock, for performance (07_timers.js) and Event.timeStamp: setup() starts
    // it when the worker is built. Date.now() is the shim's clock, frozen while JavaScript runs.
    const dateNow = Date.now;
    let timeOrigin = 0;
    internals.dateNow = dateNow;
    internals.startClock = () => {
        timeOrigin = dateNow();
    };
    internals.timeOrigin = () => timeOrigin;

    // Bytes the shim fills (a request body): a fresh ArrayBuffer always has its own backing
    // store, so the shim can write into it without V8 moving it. Throws RangeError when the
    // worker's memory limit refuses it.
    internals.newBuffer = function newBuffer(length) {
        return new ArrayBuffer(length);
    };

    // Character checks made on every header and status line, as loops rather than regular
    // expressions: V8 compiles a regular expression anew in every isolate on its first use
    // (about 0.15 ms of a never-seen child's first call), while these are bytecode already in
    // the runtime snapshot.
    // An HTTP token (RFC 9110 tchar+): visible ASCII except the delimiters "(),/:;<=>?@[\]{}.
    internals.isToken = function isToken(s) {
        if (s.length === 0)
            return false;
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x28 || c === 0x29 || c === 0x2c ||
                c === 0x2f || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x5d) ||
                c === 0x7b || c === 0x7d)
                return false;
        }
        return true;
    };
    // A header value that may not leave: NUL, CR, LF or a character above U+00FF.
    internals.badHeaderValue = function badHeaderValue(s) {
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c === 0 || c === 0x0a || c === 0x0d || c > 0xff)
                return true;
        }
        return false;
    };
    // s without leading and trailing HTTP whitespace (tab, LF, CR, space).
    internals.trimHttpWhitespace = function trimHttpWhitespace(s) {
        const ws = (c) => c === 0x09 || c === 0x0a || c === 0x0d || c === 0x20;
        let start = 0, end = s.length;
        while (start < end && ws(s.charCodeAt(start)))
            start++;
        while (end > start && ws(s.charCodeAt(end - 1)))
            end--;
        return start === 0 && end === s.length ? s : s.slice(start, end);
    };
    // A reason phrase: tab, visible ASCII, space, or U+0080..U+00FF only.
    internals.isReasonPhrase = function isReasonPhrase(s) {
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c !== 0x09 && (c < 0x20 || c === 0x7f || c > 0xff))
                return false;
        }
        return true;
    };

    // The Encoding Standard's "UTF-8 encode" and "UTF-8 decode" (which drops a leading BOM),
    // for bodies, RPC and TextEncoder (10_encoding.js, which is lazy, as URL and crypto that
    // use them are).
    internals.encodeUtf8 = function encodeUtf8(s) {
        const buffer = new ArrayBuffer(native.utf8Length(s));
        if (buffer.byteLength > 0)
            native.encode(s, buffer);
        return new Uint8Array(buffer);
    };
    internals.decodeUtf8 = function decodeUtf8(bytes) {
        const text = bytes.length > 0 ? native.decode(bytes, false) : '';
        return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    };

    // What a Response body or a stream chunk may be, as bytes: a Uint8Array over the same
    // memory (no copy) or null when value is not a BufferSource.
    internals.asBytes = function asBytes(value) {
        if (value instanceof Uint8Array)
            return value;
        if (value instanceof ArrayBuffer)
            return new Uint8Array(value);
        if (ArrayBuffer.isView(value))
            return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        return null;
    };
})
