// TextEncoder (UTF-8, the only encoding the Encoding Standard gives an encoder) and TextDecoder
// for UTF-8, UTF-16LE, UTF-16BE and windows-1252 (the labels latin1, iso-8859-1, ascii...).
// UTF-8's byte work is native: native.utf8Length/encode/encodeInto write V8 strings as UTF-8
// with lone surrogates replaced by U+FFFD, and native.decode(bytes, fatal) decodes with U+FFFD
// for malformed input or throws TypeError when fatal. The other decoders are small loops here.
// This file adds the Web API surface: labels, fatal, BOM handling and streaming. A lazy runtime
// file (isolates/lazy.cc); TextDecoderStream (32_transform.js) takes TextDecoder from internals.
'use strict';
(function (internals, native) {
    const UTF8_LABELS = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8',
        'x-unicode20utf8'];
    const EMPTY = new Uint8Array(0);

    const { encodeUtf8 } = internals;

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

    function decodingError(encoding) {
        return new TypeError(`The encoded data was not valid for encoding ${encoding}`);
    }

    // Code units to a string, CHUNK at a time (String.fromCharCode takes them as arguments).
    const CHUNK = 8192;
    function fromUnits(units, n) {
        let out = '';
        for (let i = 0; i < n; i += CHUNK)
            out += String.fromCharCode.apply(null, units.subarray(i, Math.min(n, i + CHUNK)));
        return out;
    }

    // The Encoding Standard's decoders, one instance per TextDecoder stream. decode(bytes,
    // flush, fatal) returns the text of bytes, keeping an incomplete sequence for the next call
    // unless flush; malformed input becomes U+FFFD or, when fatal, a TypeError.
    class Utf8Decoder {
        #pending = null; // bytes of an incomplete sequence held back by a streaming decode

        decode(input, flush, fatal) {
            let bytes = input;
            if (this.#pending !== null) {
                const joined = new Uint8Array(this.#pending.length + bytes.length);
                joined.set(this.#pending);
                joined.set(bytes, this.#pending.length);
                bytes = joined;
                this.#pending = null;
            }
            if (!flush) {
                const tail = incompleteTail(bytes);
                if (tail > 0) {
                    this.#pending = bytes.slice(bytes.length - tail);
                    bytes = bytes.subarray(0, bytes.length - tail);
                }
            }
            return bytes.length > 0 ? native.decode(bytes, fatal) : '';
        }
    }

    class Utf16Decoder {
        #bigEndian;
        #leadByte = -1;
        #leadSurrogate = 0;

        constructor(bigEndian) {
            this.#bigEndian = bigEndian;
        }

        decode(bytes, flush, fatal) {
            const units = new Uint16Array(bytes.length + 2);
            let n = 0;
            const error = () => {
                if (fatal) {
                    this.#leadByte = -1;
                    this.#leadSurrogate = 0;
                    throw decodingError(this.#bigEndian ? 'utf-16be' : 'utf-16le');
                }
                units[n++] = 0xfffd;
            };
            for (let i = 0; i < bytes.length; i++) {
                if (this.#leadByte < 0) {
                    this.#leadByte = bytes[i];
                    continue;
                }
                const cu = this.#bigEndian ? (this.#leadByte << 8) | bytes[i]
                    : (bytes[i] << 8) | this.#leadByte;
                this.#leadByte = -1;
                if (this.#leadSurrogate !== 0) {
                    const lead = this.#leadSurrogate;
                    this.#leadSurrogate = 0;
                    if (cu >= 0xdc00 && cu <= 0xdfff) {
                        units[n++] = lead;
                        units[n++] = cu;
                        continue;
                    }
                    error();
                }
                if (cu >= 0xd800 && cu <= 0xdbff)
                    this.#leadSurrogate = cu;
                else if (cu >= 0xdc00 && cu <= 0xdfff)
                    error();
                else
                    units[n++] = cu;
            }
            if (flush && (this.#leadByte >= 0 || this.#leadSurrogate !== 0)) {
                this.#leadByte = -1;
                this.#leadSurrogate = 0;
                error();
            }
            return fromUnits(units, n);
        }
    }

    // windows-1252 (what the labels latin1, iso-8859-1 and ascii mean): one byte, one code
    // point; 0x80..0x9F map through this table, the rest to themselves. Never malformed.
    const W1252 = new Uint16Array([
        0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
        0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
    ]);

    class SingleByteDecoder {
        decode(bytes) {
            const units = new Uint16Array(bytes.length);
            for (let i = 0; i < bytes.length; i++) {
                const b = bytes[i];
                units[i] = b >= 0x80 && b < 0xa0 ? W1252[b - 0x80] : b;
            }
            return fromUnits(units, units.length);
        }
    }

    // Labels (the Encoding Standard's table) of the encodings TextDecoder supports.
    const ENCODINGS = new Map();
    for (const l of UTF8_LABELS)
        ENCODINGS.set(l, 'utf-8');
    for (const l of ['csunicode', 'iso-10646-ucs-2', 'ucs-2', 'unicode', 'unicodefeff', 'utf-16',
        'utf-16le'])
        ENCODINGS.set(l, 'utf-16le');
    for (const l of ['unicodefffe', 'utf-16be'])
        ENCODINGS.set(l, 'utf-16be');
    for (const l of ['ansi_x3.4-1968', 'ascii', 'cp1252', 'cp819', 'csisolatin1', 'ibm819',
        'iso-8859-1', 'iso-ir-100', 'iso8859-1', 'iso88591', 'iso_8859-1', 'iso_8859-1:1987', 'l1',
        'latin1', 'us-ascii', 'windows-1252', 'x-cp1252'])
        ENCODINGS.set(l, 'windows-1252');

    function newDecoder(encoding) {
        switch (encoding) {
        case 'utf-8': return new Utf8Decoder();
        case 'utf-16le': return new Utf16Decoder(false);
        case 'utf-16be': return new Utf16Decoder(true);
        default: return new SingleByteDecoder();
        }
    }

    // A label without leading and trailing ASCII whitespace, ASCII-lowercased.
    function normalizeLabel(label) {
        const ws = (c) => c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20;
        let start = 0, end = label.length;
        while (start < end && ws(label.charCodeAt(start)))
            start++;
        while (end > start && ws(label.charCodeAt(end - 1)))
            end--;
        let out = '';
        for (let i = start; i < end; i++) {
            const c = label.charCodeAt(i);
            out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 0x20) : label[i];
        }
        return out;
    }

    class TextDecoder {
        #encoding;
        #fatal;
        #ignoreBOM;
        #decoder;
        #doNotFlush = false;
        #bomSeen = false;

        constructor(label = 'utf-8', options = undefined) {
            if (options !== undefined && options !== null && typeof options !== 'object')
                throw new TypeError("Failed to construct 'TextDecoder': The provided value is not of type 'TextDecoderOptions'.");
            const name = normalizeLabel(String(label));
            const encoding = ENCODINGS.get(name);
            if (encoding === undefined)
                throw new RangeError(`Failed to construct 'TextDecoder': The encoding label provided ('${String(label).slice(0, 64)}') is invalid.`);
            this.#encoding = encoding;
            this.#fatal = Boolean(options?.fatal);
            this.#ignoreBOM = Boolean(options?.ignoreBOM);
            this.#decoder = newDecoder(encoding);
        }

        get encoding() {
            return this.#encoding;
        }

        get fatal() {
            return this.#fatal;
        }

        get ignoreBOM() {
            return this.#ignoreBOM;
        }

        decode(input = undefined, options = undefined) {
            if (options !== undefined && options !== null && typeof options !== 'object')
                throw new TypeError("Failed to execute 'decode' on 'TextDecoder': The provided value is not of type 'TextDecodeOptions'.");
            const bytes = toBytes(input);
            if (!this.#doNotFlush) {
                this.#decoder = newDecoder(this.#encoding);
                this.#bomSeen = false;
            }
            const stream = Boolean(options?.stream);
            this.#doNotFlush = stream;
            let text;
            try {
                text = this.#decoder.decode(bytes, !stream, this.#fatal);
            } catch (e) {
                this.#doNotFlush = false; // the next call starts afresh
                throw e;
            }
            if (!this.#bomSeen && text.length > 0) {
                if (!this.#ignoreBOM && this.#encoding !== 'windows-1252' &&
                    text.charCodeAt(0) === 0xfeff)
                    text = text.slice(1);
                this.#bomSeen = true;
            }
            return text;
        }

        get [Symbol.toStringTag]() {
            return 'TextDecoder';
        }
    }

    internals.TextDecoder = TextDecoder; // whatever a worker does to the global
    internals.expose('TextEncoder', TextEncoder);
    internals.expose('TextDecoder', TextDecoder);
})
