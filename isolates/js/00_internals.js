// The runtime's shared plumbing. Every file in isolates/js/ is a classic script whose completion
// value is a function; the shim calls each, in name order, with two objects no tenant code can
// reach: `internals` (what the files share with each other and with the shim) and `native`
// (the C++ bindings). A file installs its Web APIs on globalThis through internals.expose and
// leaves nothing else behind, so a worker sees only the standard globals.
'use strict';
(function (internals, native) {
    // Installs a global the way Web IDL interfaces are: writable, configurable, not enumerable.
    internals.expose = function expose(name, value) {
        Object.defineProperty(globalThis, name, {
            value,
            writable: true,
            configurable: true,
            enumerable: false,
        });
    };

    // Passed to a constructor by runtime code to build an instance from trusted parts; tenant
    // code cannot name it, so it gets the public, validating path.
    internals.INTERNAL = Symbol('edged.internal');

    // Bytes the shim fills (a request body): a fresh ArrayBuffer always has its own backing
    // store, so the shim can write into it without V8 moving it. Throws RangeError when the
    // worker's memory limit refuses it.
    internals.newBuffer = function newBuffer(length) {
        return new ArrayBuffer(length);
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
