// The Body mixin shared by Request and Response: what a body may be built from, and reading it
// once as text, JSON or an ArrayBuffer. A body's state is a record { source, stream, used }:
// source is null, a string or a Uint8Array the body owns (BufferSources are copied on the way
// in, as the Fetch Standard says) or a ReadableStream; stream is created only when a worker asks
// for `.body`, so the common `new Response("text")` never builds one and the shim can write the
// string straight out.
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
            if (init.locked || internals.isDisturbed(init))
                throw new TypeError('This ReadableStream is disturbed or locked and cannot be used as a body.');
            const state = newBody(init);
            state.stream = init;
            return [state, null];
        }
        if (init instanceof internals.URLSearchParams)
            return [newBody(internals.urlSearchParamsString(init)), FORM_URLENCODED];
        return [newBody(String(init)), TEXT_PLAIN];
    };

    function newBody(source) {
        return { source, stream: null, used: false };
    }
    internals.newBody = newBody;

    internals.bodyUsed = function bodyUsed(state) {
        return state.used || (state.stream !== null && internals.isDisturbed(state.stream));
    };

    // The `body` getter: null, or a stream over the body (created on first access).
    internals.bodyStream = function bodyStream(state) {
        if (state.stream === null && state.source !== null) {
            const bytes = typeof state.source === 'string'
                ? internals.encodeUtf8(state.source) : state.source;
            state.stream = internals.streamOfBytes(bytes);
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
            return internals.readAllBytes(state.stream)
                .then((bytes) => (asText ? internals.decodeUtf8(bytes) : bytes));
        }
        const src = state.source;
        if (asText)
            return Promise.resolve(src === null ? '' : typeof src === 'string' ? src : internals.decodeUtf8(src));
        if (src === null)
            return Promise.resolve(new Uint8Array(0));
        return Promise.resolve(typeof src === 'string' ? internals.encodeUtf8(src) : src);
    }

    function exactBuffer(bytes) {
        if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)
            return bytes.buffer;
        return bytes.slice().buffer;
    }

    internals.bodyText = (state) => consume(state, true);
    internals.bodyJson = (state) => consume(state, true).then((text) => JSON.parse(text));
    internals.bodyArrayBuffer = (state) => consume(state, false).then(exactBuffer);

    // The Body mixin's members (body, bodyUsed, text(), json(), arrayBuffer()) on proto, reading
    // the body state through stateOf(instance): a class hands in an accessor of its private
    // field, so calling a member on anything else throws the TypeError a private field does.
    internals.mixinBody = function mixinBody(proto, stateOf) {
        const members = {
            get body() { return internals.bodyStream(stateOf(this)); },
            get bodyUsed() { return internals.bodyUsed(stateOf(this)); },
            text() { return internals.bodyText(stateOf(this)); },
            json() { return internals.bodyJson(stateOf(this)); },
            arrayBuffer() { return internals.bodyArrayBuffer(stateOf(this)); },
        };
        for (const name of Reflect.ownKeys(members)) {
            const d = Object.getOwnPropertyDescriptor(members, name);
            d.enumerable = false; /* as class members are */
            Object.defineProperty(proto, name, d);
        }
    };

    // For clone(): a second body with the same content. Stream bodies cannot be cloned until
    // tee() exists.
    internals.cloneBody = function cloneBody(state) {
        if (internals.bodyUsed(state))
            throw new TypeError('Body has already been used; it cannot be cloned.');
        if (state.stream !== null)
            throw new TypeError('A body that is a ReadableStream cannot be cloned yet.');
        const src = state.source;
        return newBody(src instanceof Uint8Array ? src.slice() : src);
    };
})
