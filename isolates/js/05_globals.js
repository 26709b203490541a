// Small globals of the HTML Standard that workers expect and that V8 does not provide:
// queueMicrotask, atob/btoa (forgiving base64, failing with an InvalidCharacterError
// DOMException) and structuredClone (V8's serializer within the isolate, native.structuredClone,
// with ArrayBuffer transfer; what cannot be cloned fails with a DataCloneError DOMException).
// base64 is plain loops rather than regular expressions: see isToken in 00_internals.js.
'use strict';
(function (internals, native) {
    const { DOMException } = internals;

    function queueMicrotask(callback) {
        if (typeof callback !== 'function')
            throw new TypeError('queueMicrotask: the callback must be a function');
        Promise.resolve().then(() => callback());
    }

    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const VALUES = new Int8Array(128).fill(-1);
    for (let i = 0; i < 64; i++)
        VALUES[ALPHABET.charCodeAt(i)] = i;
    const CHUNK = 8192; // characters per String.fromCharCode call

    function isAsciiWhitespace(c) {
        return c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20;
    }

    // The bytes of a Latin-1 string as a binary string, CHUNK code units at a time.
    function fromCodes(codes, n) {
        let out = '';
        for (let i = 0; i < n; i += CHUNK)
            out += String.fromCharCode.apply(null, codes.subarray(i, Math.min(n, i + CHUNK)));
        return out;
    }

    function invalidCharacter(message) {
        return new DOMException(message, 'InvalidCharacterError');
    }

    // HTML's atob: forgiving-base64 decode of data, bytes as a string of U+0000..U+00FF.
    function atob(data) {
        if (arguments.length < 1)
            throw new TypeError("Failed to execute 'atob': 1 argument required, but only 0 present.");
        const s = String(data);
        const sextets = new Uint8Array(s.length);
        let n = 0;
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (isAsciiWhitespace(c))
                continue;
            const v = c < 128 ? VALUES[c] : -1;
            if (v < 0 && c !== 0x3d)
                throw invalidCharacter('The string to be decoded is not correctly encoded.');
            sextets[n++] = c === 0x3d ? 64 : v;
        }
        // '=' only as one or two final characters of a length divisible by four
        let end = n;
        if (n % 4 === 0 && end > 0 && sextets[end - 1] === 64) {
            end--;
            if (sextets[end - 1] === 64)
                end--;
        }
        for (let i = 0; i < end; i++) {
            if (sextets[i] === 64)
                throw invalidCharacter('The string to be decoded is not correctly encoded.');
        }
        if (end % 4 === 1)
            throw invalidCharacter('The string to be decoded is not correctly encoded.');
        const bytes = new Uint8Array(Math.floor(end * 3 / 4));
        let o = 0, i = 0;
        for (; i + 4 <= end; i += 4) {
            const v = (sextets[i] << 18) | (sextets[i + 1] << 12) | (sextets[i + 2] << 6) |
                sextets[i + 3];
            bytes[o++] = v >> 16;
            bytes[o++] = (v >> 8) & 0xff;
            bytes[o++] = v & 0xff;
        }
        if (end - i === 2) {
            bytes[o++] = ((sextets[i] << 18) | (sextets[i + 1] << 12)) >> 16;
        } else if (end - i === 3) {
            const v = (sextets[i] << 18) | (sextets[i + 1] << 12) | (sextets[i + 2] << 6);
            bytes[o++] = v >> 16;
            bytes[o++] = (v >> 8) & 0xff;
        }
        return fromCodes(bytes, o);
    }

    // HTML's btoa: base64 of a string whose characters are all U+0000..U+00FF.
    function btoa(data) {
        if (arguments.length < 1)
            throw new TypeError("Failed to execute 'btoa': 1 argument required, but only 0 present.");
        const s = String(data);
        const out = new Uint8Array(Math.ceil(s.length / 3) * 4);
        let o = 0, i = 0;
        const byteAt = (k) => {
            const c = s.charCodeAt(k);
            if (c > 0xff)
                throw invalidCharacter('The string to be encoded contains characters outside of the Latin1 range.');
            return c;
        };
        for (; i + 3 <= s.length; i += 3) {
            const v = (byteAt(i) << 16) | (byteAt(i + 1) << 8) | byteAt(i + 2);
            out[o++] = ALPHABET.charCodeAt(v >> 18);
            out[o++] = ALPHABET.charCodeAt((v >> 12) & 63);
            out[o++] = ALPHABET.charCodeAt((v >> 6) & 63);
            out[o++] = ALPHABET.charCodeAt(v & 63);
        }
        if (s.length - i === 1) {
            const v = byteAt(i) << 16;
            out[o++] = ALPHABET.charCodeAt(v >> 18);
            out[o++] = ALPHABET.charCodeAt((v >> 12) & 63);
            out[o++] = 0x3d;
            out[o++] = 0x3d;
        } else if (s.length - i === 2) {
            const v = (byteAt(i) << 16) | (byteAt(i + 1) << 8);
            out[o++] = ALPHABET.charCodeAt(v >> 18);
            out[o++] = ALPHABET.charCodeAt((v >> 12) & 63);
            out[o++] = ALPHABET.charCodeAt((v >> 6) & 63);
            out[o++] = 0x3d;
        }
        return fromCodes(out, o);
    }

    function structuredClone(value, options = undefined) {
        if (arguments.length < 1)
            throw new TypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.");
        if (options !== undefined && options !== null && typeof options !== 'object')
            throw new TypeError("Failed to execute 'structuredClone': The provided value is not of type 'StructuredSerializeOptions'.");
        let transfer = [];
        if (options?.transfer !== undefined) {
            if (typeof options.transfer?.[Symbol.iterator] !== 'function')
                throw new TypeError("Failed to execute 'structuredClone': The provided value cannot be converted to a sequence.");
            transfer = Array.from(options.transfer);
        }
        for (let i = 0; i < transfer.length; i++) {
            const t = transfer[i];
            if (typeof t !== 'object' || t === null)
                throw new TypeError("Failed to execute 'structuredClone': Value at index " + i + ' does not have a transferable type.');
            if (!(t instanceof ArrayBuffer))
                throw new DOMException('Value at index ' + i + ' does not have a transferable type.', 'DataCloneError');
            if (transfer.indexOf(t) !== i)
                throw new DOMException('ArrayBuffer at index ' + i + ' is a duplicate of an earlier ArrayBuffer.', 'DataCloneError');
        }
        return native.structuredClone(value, transfer, DOMException);
    }

    internals.expose('queueMicrotask', queueMicrotask);
    internals.expose('atob', atob);
    internals.expose('btoa', btoa);
    internals.expose('structuredClone', structuredClone);
})
