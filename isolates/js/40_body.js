// The Body mixin shared by Request and Response: what a body may be built from (a string, a
// BufferSource, a ReadableStream, URLSearchParams, a Blob or File, FormData), and reading it once
// as text, JSON, an ArrayBuffer, bytes, a Blob or FormData. A body's state is a record
// { source, stream, used }: source is null, a string or a Uint8Array the body owns (BufferSources
// are copied on the way in, as the Fetch Standard says; a Blob's bytes are shared, since nothing
// writes to them) or a ReadableStream; stream is created only when a worker asks for `.body`, so
// the common `new Response("text")` never builds one and the shim can write the string straight
// out. clone() tees a stream body.
'use strict';
(function (internals) {
    const TEXT_PLAIN = 'text/plain;charset=UTF-8';
    const FORM_URLENCODED = 'application/x-www-form-urlencoded;charset=UTF-8';

    // Fetch's "extract a body": returns [state, content type or null].
    internals.extractBody = function extractBody(init) {
        if (init === null || init === undefined)
            return [newBody(null), null];
        if (typeof init === 'string')
            return [newBody(init), TEXT_PLAIN];
        if (init instanceof ArrayBuffer)
            return [newBody(new Uint8Array(init.slice(0))), null];
        if (ArrayBuffer.isView(init))
            return [newBody(new Uint8Array(init.buffer, init.byteOffset, init.byteLength).slice()), null];
        if (internals.isReadableStream(init)) {
            if (init.locked || internals.streams.isDisturbed(init))
                throw new TypeError('This ReadableStream is disturbed or locked and cannot be used as a body.');
            const state = newBody(init);
            state.stream = init;
            return [state, null];
        }
        if (internals.isBlob(init)) {
            const state = newBody(internals.blobs.blobBytes(init));
            state.shared = true; // the Blob's bytes: reads copy them
            return [state, init.type === '' ? null : init.type];
        }
        if (internals.isFormData(init)) {
            const [bytes, type] = internals.blobs.encodeMultipart(init);
            return [newBody(bytes), type];
        }
        if (init instanceof internals.URLSearchParams)
            return [newBody(internals.urlSearchParamsString(init)), FORM_URLENCODED];
        return [newBody(String(init)), TEXT_PLAIN];
    };

    function newBody(source) {
        return { source, stream: null, used: false, shared: false };
    }
    internals.newBody = newBody;

    internals.bodyUsed = function bodyUsed(state) {
        return state.used || (state.stream !== null && internals.streams.isDisturbed(state.stream));
    };

    // The `body` getter: null, or a stream over the body (created on first access).
    internals.bodyStream = function bodyStream(state) {
        if (state.stream === null && state.source !== null) {
            const bytes = typeof state.source === 'string'
                ? internals.encodeUtf8(state.source) : state.source;
            state.stream = internals.streams.streamOfBytes(bytes);
            if (state.used)
                state.stream.cancel(); // a consumed body's stream reads as empty and disturbed
        }
        return state.stream;
    };

    // The one read a body allows. Resolves to a string when asText, else to a Uint8Array.
    function consume(state, asText) {
        if (internals.bodyUsed(state))
            return Promise.reject(new TypeError('Body has already been used. It can only be used once. Use tee() first if you need to read it twice.'));
        if (state.stream !== null && state.stream.locked)
            return Promise.reject(new TypeError('This ReadableStream is locked to a reader.'));
        state.used = true;
        if (state.stream !== null) {
            return internals.streams.readAllBytes(state.stream)
                .then((bytes) => (asText ? internals.decodeUtf8(bytes) : bytes));
        }
        const src = state.source;
        if (asText)
            return Promise.resolve(src === null ? '' : typeof src === 'string' ? src : internals.decodeUtf8(src));
        if (src === null)
            return Promise.resolve(new Uint8Array(0));
        return Promise.resolve(typeof src === 'string' ? internals.encodeUtf8(src) : src);
    }

    // An ArrayBuffer of exactly these bytes that nobody else holds (a used body's own bytes
    // are handed over without a copy).
    function ownBuffer(bytes, shared) {
        if (!shared && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)
            return bytes.buffer;
        return bytes.slice().buffer;
    }

    function mimeEssence(type) {
        if (type === null)
            return '';
        const semi = type.indexOf(';');
        return (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase();
    }

    function toFormData(state, type) {
        const essence = mimeEssence(type);
        if (essence === 'multipart/form-data') {
            return consume(state, false).then((bytes) => internals.blobs.decodeMultipart(bytes, type));
        }
        if (essence === 'application/x-www-form-urlencoded') {
            return consume(state, true).then((text) => {
                const form = new internals.blobs.FormData();
                for (const [name, value] of internals.blobs.parseUrlencoded(text))
                    form.append(name, value);
                return form;
            });
        }
        return Promise.reject(new TypeError(`Body.formData: the body's Content-Type must be multipart/form-data or application/x-www-form-urlencoded, not "${type ?? ''}"`));
    }

    internals.bodyText = (state) => consume(state, true);
    internals.bodyJson = (state) => consume(state, true).then((text) => JSON.parse(text));
    internals.bodyArrayBuffer = (state) => consume(state, false)
        .then((b) => ownBuffer(b, state.shared));
    internals.bodyBytes = (state) => consume(state, false)
        .then((b) => new Uint8Array(ownBuffer(b, state.shared)));

    // The Body mixin's members on proto, reading the body state through stateOf(instance) and
    // the headers through headersOf(instance): a class hands in accessors of its private fields,
    // so calling a member on anything else throws the TypeError a private field does.
    internals.mixinBody = function mixinBody(proto, stateOf, headersOf) {
        const members = {
            get body() { return internals.bodyStream(stateOf(this)); },
            get bodyUsed() { return internals.bodyUsed(stateOf(this)); },
            text() { return internals.bodyText(stateOf(this)); },
            json() { return internals.bodyJson(stateOf(this)); },
            arrayBuffer() { return internals.bodyArrayBuffer(stateOf(this)); },
            bytes() { return internals.bodyBytes(stateOf(this)); },
            blob() {
                const type = headersOf(this).get('content-type');
                const state = stateOf(this);
                return consume(state, false).then((b) => internals.blobs.newBlob(
                    new Uint8Array(ownBuffer(b, state.shared)), type === null ? '' : type.toLowerCase()));
            },
            formData() {
                return toFormData(stateOf(this), headersOf(this).get('content-type'));
            },
        };
        for (const name of Reflect.ownKeys(members)) {
            const d = Object.getOwnPropertyDescriptor(members, name);
            d.enumerable = false; /* as class members are */
            Object.defineProperty(proto, name, d);
        }
    };

    // For clone(): a second body with the same content. A stream body is teed: this body keeps
    // one branch, the clone gets the other.
    internals.cloneBody = function cloneBody(state) {
        if (internals.bodyUsed(state))
            throw new TypeError('Body has already been used; it cannot be cloned.');
        if (state.stream !== null) {
            if (state.stream.locked)
                throw new TypeError('This ReadableStream is locked to a reader; the body cannot be cloned.');
            const [a, b] = state.stream.tee();
            if (state.source === state.stream)
                state.source = a;
            state.stream = a;
            const out = newBody(b);
            out.stream = b;
            return out;
        }
        const src = state.source;
        return newBody(src instanceof Uint8Array ? src.slice() : src);
    };
})
