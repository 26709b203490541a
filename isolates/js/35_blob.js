// Blob and File (File API) and FormData (XMLHttpRequest Standard), with the multipart/form-data
// encoding a FormData body is sent with and the parsers request.formData() uses for multipart
// and application/x-www-form-urlencoded bodies. A Blob holds its bytes in one Uint8Array that
// nothing ever writes to, so slices and bodies share it without copying. A lazy runtime file
// (isolates/lazy.cc): it runs when a worker first uses one of them, or reads a body as a Blob or
// FormData.
'use strict';
(function (internals) {
    const { INTERNAL } = internals;
    const EMPTY = new Uint8Array(0);
    // What bodies (40_body.js) use of this file: one internals entry, internals.blobs, so that
    // every isolate holds one placeholder for it, not one per name (lazy.cc).
    const blobs = {};
    // What File and FormData share of their private state (set in their static blocks).
    let isFile, formDataEntries;

    // ---- Blob ---------------------------------------------------------------------------------

    // A type as the File API keeps it: lower-cased, or '' when it has a character outside
    // U+0020..U+007E.
    function normalizeType(t) {
        const s = String(t);
        for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c < 0x20 || c > 0x7e)
                return '';
        }
        return s.toLowerCase();
    }

    function partBytes(part, endings) {
        if (typeof part === 'string' || !(typeof part === 'object' || typeof part === 'function') || part === null) {
            let s = String(part);
            if (endings === 'native')
                s = s.replace(/\r\n|\r/g, '\n');
            return internals.encodeUtf8(s);
        }
        if (isBlob(part))
            return blobBytes(part);
        const bytes = internals.asBytes(part);
        if (bytes !== null)
            return bytes.slice();
        return internals.encodeUtf8(String(part));
    }

    function concat(list) {
        if (list.length === 0)
            return EMPTY;
        if (list.length === 1)
            return list[0];
        let total = 0;
        for (const b of list)
            total += b.length;
        const out = new Uint8Array(total);
        let at = 0;
        for (const b of list) {
            out.set(b, at);
            at += b.length;
        }
        return out;
    }

    function readParts(parts, endings) {
        if (parts === undefined)
            return EMPTY;
        if (parts === null || typeof parts !== 'object' || typeof parts[Symbol.iterator] !== 'function')
            throw new TypeError('Blob: the first argument must be a sequence of parts');
        const list = [];
        for (const part of parts)
            list.push(partBytes(part, endings));
        return concat(list);
    }

    function readBlobOptions(options) {
        if (options === undefined || options === null)
            return ['', 'transparent'];
        if (typeof options !== 'object' && typeof options !== 'function')
            throw new TypeError('Blob: options must be an object');
        const type = options.type === undefined ? '' : normalizeType(options.type);
        const endings = options.endings === undefined ? 'transparent' : String(options.endings);
        if (endings !== 'transparent' && endings !== 'native')
            throw new TypeError(`Blob: "${endings}" is not a valid value for endings`);
        return [type, endings];
    }

    function relativeIndex(v, size) {
        let n = Number(v);
        if (Number.isNaN(n))
            n = 0;
        n = Math.trunc(n);
        return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
    }

    let isBlob, blobBytes;

    class Blob {
        #bytes;
        #type;

        constructor(parts = undefined, options = undefined) {
            if (parts === INTERNAL) {
                [this.#bytes, this.#type] = options;
                return;
            }
            const [type, endings] = readBlobOptions(options);
            this.#bytes = readParts(parts, endings);
            this.#type = type;
        }

        get size() {
            return this.#bytes.length;
        }

        get type() {
            return this.#type;
        }

        slice(start = undefined, end = undefined, contentType = undefined) {
            const size = this.#bytes.length;
            const from = start === undefined ? 0 : relativeIndex(start, size);
            const to = end === undefined ? size : relativeIndex(end, size);
            const type = contentType === undefined ? '' : normalizeType(contentType);
            return new Blob(INTERNAL, [this.#bytes.subarray(from, Math.max(from, to)), type]);
        }

        text() {
            return Promise.resolve(internals.decodeUtf8(this.#bytes));
        }

        arrayBuffer() {
            return Promise.resolve(this.#bytes.slice().buffer);
        }

        bytes() {
            return Promise.resolve(this.#bytes.slice());
        }

        stream() {
            return internals.streams.streamOfBytes(this.#bytes.slice());
        }

        get [Symbol.toStringTag]() {
            return 'Blob';
        }

        static {
            isBlob = (v) => typeof v === 'object' && v !== null && #bytes in v;
            blobBytes = (b) => b.#bytes;
            blobs.newBlob = (bytes, type) => new Blob(INTERNAL, [bytes, type]);
        }
    }

    class File extends Blob {
        #name;
        #lastModified;

        constructor(bits, name, options = undefined) {
            if (arguments.length < 2)
                throw new TypeError(`File: 2 arguments required, but only ${arguments.length} present`);
            const [type, endings] = readBlobOptions(options);
            super(INTERNAL, [readParts(bits, endings), type]);
            this.#name = String(name);
            const lm = options === undefined || options === null ? undefined : options.lastModified;
            this.#lastModified = lm === undefined ? Date.now() : Math.trunc(Number(lm)) || 0;
        }

        get name() {
            return this.#name;
        }

        get lastModified() {
            return this.#lastModified;
        }

        get webkitRelativePath() {
            return '';
        }

        get [Symbol.toStringTag]() {
            return 'File';
        }

        static {
            isFile = (v) => typeof v === 'object' && v !== null && #name in v;
        }
    }

    internals.isBlob = isBlob; // replaces 00_internals.js's
    blobs.blobBytes = blobBytes;

    // ---- FormData -----------------------------------------------------------------------------

    // A FormData entry's value: a string, or a File (a Blob becomes a File named "blob").
    function entryValue(value, filename, nargs) {
        if (isBlob(value)) {
            if (!isFile(value) || filename !== undefined) {
                const name = filename !== undefined ? String(filename)
                    : isFile(value) ? value.name : 'blob';
                const opts = { type: value.type };
                if (isFile(value))
                    opts.lastModified = value.lastModified;
                return new File([value], name, opts);
            }
            return value;
        }
        if (nargs > 2)
            throw new TypeError("FormData: the value must be a Blob when a filename is given");
        return String(value);
    }

    function requireArgs(n, count, what) {
        if (n < count)
            throw new TypeError(`FormData.${what}: ${count} argument(s) required, but only ${n} present`);
    }

    class FormData {
        #entries = [];

        constructor(form = undefined) {
            if (form !== undefined)
                throw new TypeError('FormData: there are no HTML forms in a worker; call new FormData() without arguments');
        }

        append(name, value, filename = undefined) {
            requireArgs(arguments.length, 2, 'append');
            this.#entries.push([String(name), entryValue(value, filename, arguments.length)]);
        }

        delete(name) {
            requireArgs(arguments.length, 1, 'delete');
            const n = String(name);
            this.#entries = this.#entries.filter((e) => e[0] !== n);
        }

        get(name) {
            requireArgs(arguments.length, 1, 'get');
            const n = String(name);
            const e = this.#entries.find((x) => x[0] === n);
            return e === undefined ? null : e[1];
        }

        getAll(name) {
            requireArgs(arguments.length, 1, 'getAll');
            const n = String(name);
            return this.#entries.filter((e) => e[0] === n).map((e) => e[1]);
        }

        has(name) {
            requireArgs(arguments.length, 1, 'has');
            const n = String(name);
            return this.#entries.some((e) => e[0] === n);
        }

        set(name, value, filename = undefined) {
            requireArgs(arguments.length, 2, 'set');
            const n = String(name);
            const entry = [n, entryValue(value, filename, arguments.length)];
            const i = this.#entries.findIndex((e) => e[0] === n);
            if (i < 0) {
                this.#entries.push(entry);
                return;
            }
            this.#entries[i] = entry;
            this.#entries = this.#entries.filter((e, j) => j <= i || e[0] !== n);
        }

        forEach(callback, thisArg = undefined) {
            if (typeof callback !== 'function')
                throw new TypeError('FormData.forEach: callback must be a function');
            for (let i = 0; i < this.#entries.length; i++)
                callback.call(thisArg, this.#entries[i][1], this.#entries[i][0], this);
        }

        *entries() {
            for (let i = 0; i < this.#entries.length; i++)
                yield [this.#entries[i][0], this.#entries[i][1]];
        }

        *keys() {
            for (let i = 0; i < this.#entries.length; i++)
                yield this.#entries[i][0];
        }

        *values() {
            for (let i = 0; i < this.#entries.length; i++)
                yield this.#entries[i][1];
        }

        [Symbol.iterator]() {
            return this.entries();
        }

        get [Symbol.toStringTag]() {
            return 'FormData';
        }

        static {
            // replaces 00_internals.js's
            internals.isFormData = (v) => typeof v === 'object' && v !== null && #entries in v;
            formDataEntries = (f) => f.#entries;
        }
    }

    // ---- multipart/form-data ----------------------------------------------------------------

    function randomBoundary() {
        let hex = '';
        const c = globalThis.crypto;
        if (c !== undefined && typeof c.getRandomValues === 'function') {
            try {
                for (const b of c.getRandomValues(new Uint8Array(16)))
                    hex += (b < 16 ? '0' : '') + b.toString(16);
            } catch {
                hex = '';
            }
        }
        while (hex.length < 32)
            hex += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
        return `----edgedFormBoundary${hex.slice(0, 32)}`;
    }

    const crlf = (s) => s.replace(/\r\n|\r|\n/g, '\r\n');
    const escapeName = (s) => s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');

    // [bytes, content type] of a FormData sent as a body.
    blobs.encodeMultipart = function encodeMultipart(form) {
        const boundary = randomBoundary();
        const parts = [];
        for (const [name, value] of formDataEntries(form)) {
            let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(crlf(name))}"`;
            if (typeof value === 'string') {
                parts.push(internals.encodeUtf8(`${head}\r\n\r\n${crlf(value)}\r\n`));
            } else {
                head += `; filename="${escapeName(value.name)}"\r\nContent-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`;
                parts.push(internals.encodeUtf8(head), blobBytes(value), internals.encodeUtf8('\r\n'));
            }
        }
        parts.push(internals.encodeUtf8(`--${boundary}--\r\n`));
        return [concat(parts), `multipart/form-data; boundary=${boundary}`];
    };

    // The value of parameter name in a header value like `form-data; name="x"; filename=y`.
    function headerParam(value, name) {
        const lower = value.toLowerCase();
        let at = 0;
        for (;;) {
            const semi = lower.indexOf(';', at);
            if (semi < 0)
                return null;
            let i = semi + 1;
            while (lower[i] === ' ' || lower[i] === '\t')
                i++;
            if (lower.startsWith(name, i) && lower[i + name.length] === '=') {
                i += name.length + 1;
                if (value[i] === '"') {
                    let out = '';
                    for (i++; i < value.length && value[i] !== '"'; i++) {
                        if (value[i] === '\\' && i + 1 < value.length)
                            i++;
                        out += value[i];
                    }
                    return out;
                }
                let end = value.indexOf(';', i);
                if (end < 0)
                    end = value.length;
                return value.slice(i, end).trim();
            }
            at = semi + 1;
        }
    }

    function indexOfBytes(hay, needle, from) {
        const first = needle[0];
        const last = hay.length - needle.length;
        outer: for (let i = hay.indexOf(first, from); i >= 0 && i <= last; i = hay.indexOf(first, i + 1)) {
            for (let j = 1; j < needle.length; j++)
                if (hay[i + j] !== needle[j])
                    continue outer;
            return i;
        }
        return -1;
    }

    const latin1 = (bytes) => {
        let s = '';
        for (let i = 0; i < bytes.length; i += 4096)
            s += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096));
        return s;
    };

    // Parses a multipart/form-data body into a FormData; TypeError when malformed.
    blobs.decodeMultipart = function decodeMultipart(bytes, contentType) {
        const boundary = headerParam(contentType, 'boundary');
        if (boundary === null || boundary === '' || boundary.length > 200)
            throw new TypeError('The multipart/form-data body has no boundary in its Content-Type');
        const bad = () => new TypeError('The multipart/form-data body is malformed');
        const delim = internals.encodeUtf8(`--${boundary}`);
        const form = new FormData();
        let at = indexOfBytes(bytes, delim, 0);
        if (at < 0)
            throw bad();
        for (;;) {
            at += delim.length;
            if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) // "--": the end
                return form;
            while (bytes[at] === 0x20 || bytes[at] === 0x09)
                at++;
            if (bytes[at] !== 0x0d || bytes[at + 1] !== 0x0a)
                throw bad();
            at += 2;
            const headEnd = indexOfBytes(bytes, [0x0d, 0x0a, 0x0d, 0x0a], at);
            const emptyHead = bytes[at] === 0x0d && bytes[at + 1] === 0x0a;
            if (headEnd < 0 && !emptyHead)
                throw bad();
            const head = emptyHead ? '' : latin1(bytes.subarray(at, headEnd));
            const bodyStart = emptyHead ? at + 2 : headEnd + 4;
            const next = indexOfBytes(bytes, new Uint8Array([0x0d, 0x0a, ...delim]), bodyStart);
            if (next < 0)
                throw bad();
            const body = bytes.subarray(bodyStart, next);
            let disposition = null, type = '';
            for (const line of head.split('\r\n')) {
                const colon = line.indexOf(':');
                if (colon < 0)
                    continue;
                const name = line.slice(0, colon).trim().toLowerCase();
                const value = line.slice(colon + 1).trim();
                if (name === 'content-disposition')
                    disposition = value;
                else if (name === 'content-type')
                    type = value;
            }
            if (disposition === null || !/^form-data\s*(;|$)/i.test(disposition))
                throw bad();
            const name = headerParam(disposition, 'name');
            if (name === null)
                throw bad();
            const filename = headerParam(disposition, 'filename');
            const utf8 = (s) => internals.decodeUtf8(internals.asBytes(Uint8Array.from(s, (ch) => ch.charCodeAt(0))));
            if (filename !== null)
                form.append(utf8(name), new File([body], utf8(filename), { type }));
            else
                form.append(utf8(name), internals.decodeUtf8(body));
            at = next + 2;
        }
    };

    // application/x-www-form-urlencoded parsing (URL Standard), into [name, value] pairs.
    function percentDecode(s) {
        const bytes = internals.encodeUtf8(s);
        const out = new Uint8Array(bytes.length);
        let n = 0;
        const hex = (c) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1);
        for (let i = 0; i < bytes.length; i++) {
            const b = bytes[i];
            if (b === 0x25 && i + 2 < bytes.length && hex(bytes[i + 1]) >= 0 && hex(bytes[i + 2]) >= 0) {
                out[n++] = hex(bytes[i + 1]) * 16 + hex(bytes[i + 2]);
                i += 2;
            } else {
                out[n++] = b === 0x2b ? 0x20 : b;
            }
        }
        return internals.decodeUtf8(out.subarray(0, n));
    }
    blobs.parseUrlencoded = function parseUrlencoded(text) {
        const pairs = [];
        for (const seq of text.split('&')) {
            if (seq === '')
                continue;
            const eq = seq.indexOf('=');
            const name = eq < 0 ? seq : seq.slice(0, eq);
            const value = eq < 0 ? '' : seq.slice(eq + 1);
            pairs.push([percentDecode(name), percentDecode(value)]);
        }
        return pairs;
    };

    blobs.FormData = FormData;
    internals.blobs = blobs;
    internals.expose('Blob', Blob);
    internals.expose('File', File);
    internals.expose('FormData', FormData);
})
