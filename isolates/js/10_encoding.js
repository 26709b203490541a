// TextEncoder and TextDecoder, UTF-8 only (the only encoding the Encoding Standard requires of
// an encoder, and the one workers use). The byte work is native: native.utf8Length/encode/
// encodeInto write V8 strings as UTF-8 with lone surrogates replaced by U+FFFD, and
// native.decode(bytes, fatal) decodes with U+FFFD for malformed input or throws TypeError when
// fatal. This file only adds the Web API surface: labels, BOM handling and streaming.
'use strict';
(function (internals, native) {
    const UTF8_LABELS = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8',
        'x-unicode20utf8'];
    const EMPTY = new Uint8Array(0);

    function encodeUtf8(s) {
        const buffer = new ArrayBuffer(native.utf8Length(s));
        if (buffer.byteLength > 0)
            native.encode(s, buffer);
        return new Uint8Array(buffer);
    }

    class TextEncoder {
        get encoding() {
            return 'utf-8';
        }

        encode(input = '') {
            return encodeUtf8(String(input));
        }

        encodeInto(source, destination) {
            if (!(destination instanceof Uint8Array))
                throw new TypeError('TextEncoder.encodeInto: destination must be a Uint8Array');
            const [read, written] = native.encodeInto(String(source), destination);
            return { read, written };
        }

        get [Symbol.toStringTag]() {
            return 'TextEncoder';
        }
    }

    // How many bytes at the end of bytes begin a UTF-8 sequence that the next chunk completes.
    function incompleteTail(bytes) {
        const n = bytes.length;
        for (let back = 1; back <= 3 && back <= n; back++) {
            const b = bytes[n - back];
            if ((b & 0xc0) === 0x80)
                continue; // a continuation byte: keep looking for the lead
            const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
            return need > back ? back : 0;
        }
        return 0;
    }

    function toBytes(input) {
        if (input === undefined)
            return EMPTY;
        const bytes = internals.asBytes(input);
        if (bytes === null)
            throw new TypeError('TextDecoder.decode: input must be an ArrayBuffer or a view');
        return bytes;
    }

    class TextDecoder {
        #fatal;
        #ignoreBOM;
        #pending = null; // bytes of an incomplete sequence held back by a streaming decode
        #bomSeen = false;

        constructor(label = 'utf-8', options = undefined) {
            const name = String(label).trim().toLowerCase();
            if (!UTF8_LABELS.includes(name))
                throw new RangeError(`TextDecoder: the "${name}" encoding is not supported`);
            this.#fatal = Boolean(options?.fatal);
            this.#ignoreBOM = Boolean(options?.ignoreBOM);
        }

        get encoding() {
            return 'utf-8';
        }

        get fatal() {
            return this.#fatal;
        }

        get ignoreBOM() {
            return this.#ignoreBOM;
        }

        decode(input = undefined, options = undefined) {
            const stream = Boolean(options?.stream);
            let bytes = toBytes(input);
            if (this.#pending !== null) {
                const joined = new Uint8Array(this.#pending.length + bytes.length);
                joined.set(this.#pending);
                joined.set(bytes, this.#pending.length);
                bytes = joined;
                this.#pending = null;
            }
            if (stream) {
                const tail = incompleteTail(bytes);
                if (tail > 0) {
                    this.#pending = bytes.slice(bytes.length - tail);
                    bytes = bytes.subarray(0, bytes.length - tail);
                }
            }
            let text = bytes.length > 0 ? native.decode(bytes, this.#fatal) : '';
            if (!this.#bomSeen && text.length > 0) {
                if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff)
                    text = text.slice(1);
                this.#bomSeen = true;
            }
            if (!stream)
                this.#bomSeen = false;
            return text;
        }

        get [Symbol.toStringTag]() {
            return 'TextDecoder';
        }
    }

    // Shared with the Body mixin: the Encoding Standard's "UTF-8 encode" and "UTF-8 decode"
    // (which drops a leading BOM).
    internals.encodeUtf8 = encodeUtf8;
    internals.decodeUtf8 = function decodeUtf8(bytes) {
        const text = bytes.length > 0 ? native.decode(bytes, false) : '';
        return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    };

    internals.expose('TextEncoder', TextEncoder);
    internals.expose('TextDecoder', TextDecoder);
})
