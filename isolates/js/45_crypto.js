// Web Crypto: `crypto.getRandomValues`, `crypto.randomUUID`, and `crypto.subtle` (digest, HMAC,
// AES-GCM/CBC/CTR/KW, ECDSA, Ed25519 (also Workers' NODE-ED25519), PBKDF2, HKDF, key import and
// export in raw/jwk/spki/pkcs8, wrapKey/unwrapKey) plus Workers' `crypto.subtle.timingSafeEqual`.
// This file validates what the spec says to validate and throws the DOMException it names; the
// primitives run in BoringSSL (isolates/crypto.cc). A CryptoKey keeps its type, algorithm,
// usages and key bytes in a private field, so tenant code can neither read the bytes of a
// non-extractable key nor forge a key: only objects this file constructed carry the field.
// Everything the methods rely on is captured from internals.primordials (taken before any
// worker code ran), so a worker that replaces a global (Uint8Array, JSON...) cannot change how
// keys are checked. A lazy runtime file (lazy.cc): it runs on a worker's first use of crypto.
'use strict';
(function (internals, native) {
    const INTERNAL = internals.INTERNAL;
    const {
        cryptoRandom, cryptoDigest, cryptoHmac, cryptoGcm, cryptoCbc, cryptoCtr, cryptoKw,
        cryptoPbkdf2, cryptoHkdf, cryptoEcGenerate, cryptoEcCheck, cryptoEcSign, cryptoEcVerify,
        cryptoEdGenerate, cryptoEdPublic, cryptoEdSign, cryptoEdVerify, cryptoDerParse,
        cryptoDerExport, cryptoTimingSafeEqual,
    } = native;

    // Built-ins as they were before any worker code ran (this file runs on a worker's first
    // use of crypto: see lazy.cc).
    const [
        ReflectApply, ObjectDefineProperty, U8, AB, isView, abSlice, abByteLength, taTag,
        taByteLength, taSet, dvByteLength, jsonStringify, jsonParse, StringToUpperCase,
        SymbolIterator, SymbolToStringTag, PromiseReject, PromiseResolve,
    ] = internals.primordials;
    const { encodeUtf8, decodeUtf8 } = internals;

    // The runtime's DOMException (03_domexception.js), whatever a worker did to the global.
    const DOMExc = internals.DOMException;
    const fail = (name, message) => new DOMExc(message, name);

    // ---- bytes -------------------------------------------------------------------------
    // A BufferSource as a view the natives read (no copy: they run before any tenant code can
    // touch the bytes again), or a TypeError.
    function source(value, what) {
        if (value instanceof AB)
            return new U8(value);
        if (isView(value))
            return value;
        throw new TypeError(`${what} must be an ArrayBuffer or an ArrayBufferView`);
    }
    function byteLength(view) {
        return taTag(view) === undefined ? dvByteLength(view) : taByteLength(view);
    }
    // A private copy of a BufferSource's bytes (key material).
    function copy(view) {
        const out = new U8(byteLength(view));
        taSet(out, new U8(view.buffer, view.byteOffset, out.length));
        return out;
    }
    function bytesEqual(a, b) {
        if (a.length !== b.length)
            return false;
        return cryptoTimingSafeEqual(a, b);
    }
    // The first n bytes of an ArrayBuffer the natives wrote.
    const take = (buffer, n) => (n === abByteLength(buffer) ? buffer : abSlice(buffer, 0, n));
    const toBuffer = (u8) => abSlice(u8.buffer, u8.byteOffset, u8.byteOffset + u8.length);
    function concat(a, b) {
        const out = new U8(a.length + b.length);
        taSet(out, a);
        taSet(out, b, a.length);
        return out;
    }

    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const B64_INDEX = new U8(128).fill(255);
    for (let i = 0; i < 64; i++)
        B64_INDEX[B64.charCodeAt(i)] = i;
    function base64url(u8) {
        let s = '';
        let i = 0;
        for (; i + 2 < u8.length; i += 3) {
            const n = (u8[i] << 16) | (u8[i + 1] << 8) | u8[i + 2];
            s += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
        }
        if (i < u8.length) {
            const n = (u8[i] << 16) | (i + 1 < u8.length ? u8[i + 1] << 8 : 0);
            s += B64[n >> 18] + B64[(n >> 12) & 63];
            if (i + 1 < u8.length)
                s += B64[(n >> 6) & 63];
        }
        return s;
    }
    // base64url (no padding; standard "=" padding tolerated) -> bytes, or a DataError.
    function unbase64url(s, what) {
        if (typeof s !== 'string')
            throw fail('DataError', `JWK member "${what}" must be a base64url string`);
        let end = s.length;
        while (end > 0 && s.charCodeAt(end - 1) === 0x3d)
            end--;
        if (end % 4 === 1)
            throw fail('DataError', `JWK member "${what}" is not valid base64url`);
        const out = new U8((end * 3) >> 2);
        let acc = 0, bits = 0, o = 0;
        for (let i = 0; i < end; i++) {
            const c = s.charCodeAt(i);
            const v = c < 128 ? B64_INDEX[c] : 255;
            if (v === 255)
                throw fail('DataError', `JWK member "${what}" is not valid base64url`);
            acc = ((acc << 6) | v) & 0xffffff;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                out[o++] = (acc >> bits) & 0xff;
            }
        }
        return out;
    }

    // ---- algorithms ----------------------------------------------------------------------
    const HASHES = {
        'SHA-1': { id: 1, size: 20, block: 512, hs: 'HS1' },
        'SHA-256': { id: 256, size: 32, block: 512, hs: 'HS256' },
        'SHA-384': { id: 384, size: 48, block: 1024, hs: 'HS384' },
        'SHA-512': { id: 512, size: 64, block: 1024, hs: 'HS512' },
    };
    const CURVES = {
        'P-256': { id: 256, scalar: 32, point: 65, alg: 'ES256' },
        'P-384': { id: 384, scalar: 48, point: 97, alg: 'ES384' },
        'P-521': { id: 521, scalar: 66, point: 133, alg: 'ES512' },
    };
    // Canonical names by their upper-case form (names match case-insensitively).
    const NAMES = {};
    for (const n of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512', 'HMAC', 'AES-GCM', 'AES-CBC',
        'AES-CTR', 'AES-KW', 'ECDSA', 'Ed25519', 'NODE-ED25519', 'PBKDF2', 'HKDF'])
        NAMES[StringToUpperCase(n)] = n;
    const SHA = { 'SHA-1': 1, 'SHA-256': 1, 'SHA-384': 1, 'SHA-512': 1 };
    const AES = { 'AES-GCM': 'GCM', 'AES-CBC': 'CBC', 'AES-CTR': 'CTR', 'AES-KW': 'KW' };
    const ED = { 'Ed25519': 1, 'NODE-ED25519': 1 };
    // Which operation each algorithm supports.
    const OPS = {
        digest: SHA,
        sign: { HMAC: 1, ECDSA: 1, ...ED },
        verify: { HMAC: 1, ECDSA: 1, ...ED },
        encrypt: { 'AES-GCM': 1, 'AES-CBC': 1, 'AES-CTR': 1 },
        decrypt: { 'AES-GCM': 1, 'AES-CBC': 1, 'AES-CTR': 1 },
        wrapKey: { 'AES-GCM': 1, 'AES-CBC': 1, 'AES-CTR': 1, 'AES-KW': 1 },
        unwrapKey: { 'AES-GCM': 1, 'AES-CBC': 1, 'AES-CTR': 1, 'AES-KW': 1 },
        generateKey: { HMAC: 1, ...AES, ECDSA: 1, ...ED },
        importKey: { HMAC: 1, ...AES, ECDSA: 1, ...ED, PBKDF2: 1, HKDF: 1 },
        deriveBits: { PBKDF2: 1, HKDF: 1 },
        getKeyLength: { HMAC: 1, ...AES },
    };

    // The algorithm's dictionary (a string is {name}) and its canonical name, or the
    // TypeError / NotSupportedError normalization throws.
    function normalize(algorithm, op) {
        let dict = algorithm;
        if (typeof algorithm === 'string')
            dict = { name: algorithm };
        else if (algorithm === null || (typeof algorithm !== 'object' && typeof algorithm !== 'function'))
            throw new TypeError('Algorithm must be a string or an object with a name');
        const raw = dict.name;
        if (raw === undefined)
            throw new TypeError('Algorithm: the name member is required');
        const name = NAMES[StringToUpperCase(String(raw))];
        if (name === undefined)
            throw fail('NotSupportedError', `Unrecognized or unimplemented algorithm: ${String(raw)}`);
        if (!OPS[op][name])
            throw fail('NotSupportedError', `${name} does not support ${op}`);
        return { name, dict };
    }
    function hashOf(dict, what) {
        const h = dict.hash;
        if (h === undefined)
            throw new TypeError(`${what}: the hash member is required`);
        const { name } = normalize(h, 'digest');
        return name;
    }
    function member(dict, key, what) {
        const v = dict[key];
        if (v === undefined)
            throw new TypeError(`${what}: the ${key} member is required`);
        return v;
    }
    // A WebIDL [EnforceRange] unsigned integer of at most max.
    function uint(v, max, what) {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0 || n > max)
            throw new TypeError(`${what} must be an integer from 0 to ${max}`);
        return Math.trunc(n);
    }

    // ---- keys ----------------------------------------------------------------------------
    const USAGES = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey',
        'unwrapKey'];
    const FORMATS = { raw: 1, spki: 1, pkcs8: 1, jwk: 1 };
    // A sequence<KeyUsage> as a list in the spec's order without repeats, or a TypeError.
    function usageList(value) {
        if (value === null || typeof value !== 'object' || typeof value[SymbolIterator] !== 'function')
            throw new TypeError('keyUsages must be a sequence of strings');
        const seen = {};
        let n = 0;
        for (const u of value) {
            const s = String(u);
            if (USAGES.indexOf(s) < 0)
                throw new TypeError(`'${s}' is not a valid key usage`);
            seen[s] = true;
            if (++n > 64)
                throw new TypeError('keyUsages has too many members');
        }
        const out = [];
        for (const u of USAGES)
            if (seen[u])
                out.push(u);
        return out;
    }
    function allowOnly(usages, allowed, what) {
        for (const u of usages)
            if (allowed.indexOf(u) < 0)
                throw fail('SyntaxError', `Usage '${u}' is not valid for ${what}`);
    }
    const has = (usages, u) => usages.indexOf(u) >= 0;

    let slotsOf;
    class CryptoKey {
        #slots;
        #algorithm;
        #usages;
        constructor(token, slots) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
            this.#slots = slots;
        }
        get type() {
            return this.#slots.type;
        }
        get extractable() {
            return this.#slots.extractable;
        }
        // The same object on every read, as the spec caches it; changing it changes nothing.
        get algorithm() {
            if (this.#algorithm === undefined)
                this.#algorithm = publicAlgorithm(this.#slots.algorithm);
            return this.#algorithm;
        }
        get usages() {
            if (this.#usages === undefined)
                this.#usages = [...this.#slots.usages];
            return this.#usages;
        }
        static {
            slotsOf = (key) => (key !== null && typeof key === 'object' && #slots in key ? key.#slots : undefined);
        }
    }
    ObjectDefineProperty(CryptoKey.prototype, SymbolToStringTag, { value: 'CryptoKey', configurable: true });

    function publicAlgorithm(a) {
        const out = { name: a.name };
        if (a.hash !== undefined)
            out.hash = { name: a.hash };
        if (a.length !== undefined)
            out.length = a.length;
        if (a.namedCurve !== undefined)
            out.namedCurve = a.namedCurve;
        return out;
    }
    function newKey(type, extractable, algorithm, usages, material) {
        return new CryptoKey(INTERNAL, { type, extractable: !!extractable, algorithm, usages, material });
    }
    // The slots of a key argument, or a TypeError.
    function keySlots(key, what) {
        const s = slotsOf(key);
        if (s === undefined)
            throw new TypeError(`${what} must be a CryptoKey`);
        return s;
    }
    // The key's slots when it may do op with algorithm name, else an InvalidAccessError.
    function usable(key, name, op, what) {
        const s = keySlots(key, what);
        if (s.algorithm.name !== name)
            throw fail('InvalidAccessError', `The key is for ${s.algorithm.name}, not ${name}`);
        if (!has(s.usages, op))
            throw fail('InvalidAccessError', `The key's usages do not allow ${op}`);
        return s;
    }

    // ---- JWK -----------------------------------------------------------------------------
    function checkJwk(jwk, kty, use, usages, extractable) {
        if (jwk === null || typeof jwk !== 'object' || isView(jwk) || jwk instanceof AB)
            throw new TypeError('keyData must be a JsonWebKey object for the jwk format');
        if (jwk.kty !== kty)
            throw fail('DataError', `JWK "kty" must be "${kty}"`);
        if (jwk.use !== undefined && jwk.use !== use)
            throw fail('DataError', `JWK "use" must be "${use}"`);
        if (jwk.key_ops !== undefined) {
            const ops = jwk.key_ops;
            if (!Array.isArray(ops))
                throw fail('DataError', 'JWK "key_ops" must be an array');
            for (const u of usages)
                if (ops.indexOf(u) < 0)
                    throw fail('DataError', `JWK "key_ops" does not allow ${u}`);
        }
        if (jwk.ext === false && extractable)
            throw fail('DataError', 'JWK "ext" is false but an extractable key was requested');
    }
    function jwkCommon(obj, s) {
        obj.key_ops = [...s.usages];
        obj.ext = s.extractable;
        return obj;
    }

    // ---- algorithm families --------------------------------------------------------------
    // HMAC
    function hmacGenerate(dict, extractable, usages) {
        const hash = hashOf(dict, 'HmacKeyGenParams');
        allowOnly(usages, ['sign', 'verify'], 'HMAC');
        let length = HASHES[hash].block;
        if (dict.length !== undefined) {
            length = uint(dict.length, 0xffffffff, 'HmacKeyGenParams.length');
            if (length === 0)
                throw fail('OperationError', 'HMAC key length must not be zero');
        }
        if (length > 8192)
            throw fail('OperationError', 'HMAC key length is too large');
        const raw = new U8((length + 7) >> 3);
        cryptoRandom(raw);
        return secretKey('HMAC', { hash, length }, raw, extractable, usages);
    }
    function secretKey(name, params, raw, extractable, usages) {
        if (usages.length === 0)
            throw fail('SyntaxError', 'A secret key needs at least one usage');
        return newKey('secret', extractable, { name, ...params }, usages, { raw });
    }
    function hmacImport(format, data, dict, extractable, usages) {
        const hash = hashOf(dict, 'HmacImportParams');
        allowOnly(usages, ['sign', 'verify'], 'HMAC');
        let raw;
        if (format === 'raw') {
            raw = copy(data);
        } else if (format === 'jwk') {
            checkJwk(data, 'oct', 'sig', usages, extractable);
            raw = unbase64url(data.k, 'k');
            if (data.alg !== undefined && data.alg !== HASHES[hash].hs)
                throw fail('DataError', `JWK "alg" must be "${HASHES[hash].hs}" for ${hash}`);
        } else {
            throw fail('NotSupportedError', `HMAC keys cannot be imported as ${format}`);
        }
        if (raw.length === 0)
            throw fail('DataError', 'HMAC key data must not be empty');
        let length = raw.length * 8;
        if (dict.length !== undefined) {
            const l = uint(dict.length, 0xffffffff, 'HmacImportParams.length');
            if (l > length || l <= length - 8)
                throw fail('DataError', 'HMAC length does not match the key data');
            length = l;
        }
        return secretKey('HMAC', { hash, length }, raw, extractable, usages);
    }
    function hmacExport(format, s) {
        const raw = s.material.raw;
        if (format === 'raw')
            return toBuffer(raw);
        if (format === 'jwk')
            return jwkCommon({ kty: 'oct', k: base64url(raw), alg: HASHES[s.algorithm.hash].hs }, s);
        throw fail('NotSupportedError', `HMAC keys cannot be exported as ${format}`);
    }
    function hmacSign(s, data) {
        const out = new AB(HASHES[s.algorithm.hash].size);
        return take(out, cryptoHmac(HASHES[s.algorithm.hash].id, s.material.raw, data, out));
    }

    // AES
    const AES_USAGES = { GCM: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
        CBC: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
        CTR: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'], KW: ['wrapKey', 'unwrapKey'] };
    function aesGenerate(name, dict, extractable, usages) {
        allowOnly(usages, AES_USAGES[AES[name]], name);
        const length = uint(member(dict, 'length', 'AesKeyGenParams'), 0xffff, 'AesKeyGenParams.length');
        if (length !== 128 && length !== 192 && length !== 256)
            throw fail('OperationError', 'AES key length must be 128, 192 or 256 bits');
        const raw = new U8(length >> 3);
        cryptoRandom(raw);
        return secretKey(name, { length }, raw, extractable, usages);
    }
    function aesImport(name, format, data, extractable, usages) {
        allowOnly(usages, AES_USAGES[AES[name]], name);
        let raw;
        if (format === 'raw') {
            raw = copy(data);
        } else if (format === 'jwk') {
            checkJwk(data, 'oct', 'enc', usages, extractable);
            raw = unbase64url(data.k, 'k');
            if (data.alg !== undefined && data.alg !== `A${raw.length * 8}${AES[name]}`)
                throw fail('DataError', `JWK "alg" must be "A${raw.length * 8}${AES[name]}"`);
        } else {
            throw fail('NotSupportedError', `AES keys cannot be imported as ${format}`);
        }
        if (raw.length !== 16 && raw.length !== 24 && raw.length !== 32)
            throw fail('DataError', 'AES key data must be 128, 192 or 256 bits');
        return secretKey(name, { length: raw.length * 8 }, raw, extractable, usages);
    }
    function aesExport(format, s) {
        const raw = s.material.raw;
        if (format === 'raw')
            return toBuffer(raw);
        if (format === 'jwk')
            return jwkCommon({ kty: 'oct', k: base64url(raw), alg: `A${raw.length * 8}${AES[s.algorithm.name]}` }, s);
        throw fail('NotSupportedError', `AES keys cannot be exported as ${format}`);
    }
    const GCM_TAGS = [32, 64, 96, 104, 112, 120, 128];
    // AES-GCM/CBC/CTR with the algorithm's parameters (dict); encrypt or decrypt.
    function aesCipher(name, dict, s, data, encrypt) {
        const raw = s.material.raw;
        const len = byteLength(data);
        if (name === 'AES-GCM') {
            const iv = source(member(dict, 'iv', 'AesGcmParams'), 'AesGcmParams.iv');
            const aad = dict.additionalData === undefined
                ? new U8(0) : source(dict.additionalData, 'AesGcmParams.additionalData');
            let tagLength = 128;
            if (dict.tagLength !== undefined)
                tagLength = uint(dict.tagLength, 255, 'AesGcmParams.tagLength');
            if (GCM_TAGS.indexOf(tagLength) < 0)
                throw fail('OperationError', `${tagLength} is not a valid AES-GCM tag length`);
            if (byteLength(iv) === 0)
                throw fail('OperationError', 'AES-GCM iv must not be empty');
            const tag = tagLength >> 3;
            if (!encrypt && len < tag)
                throw fail('OperationError', 'The data is shorter than the AES-GCM tag');
            const out = new AB(encrypt ? len + tag : len - tag);
            const n = cryptoGcm(encrypt, raw, iv, aad, tag, data, out);
            if (n < 0)
                throw fail('OperationError', encrypt ? 'AES-GCM encryption failed' : 'AES-GCM decryption failed: the data or its tag is not authentic');
            return take(out, n);
        }
        if (name === 'AES-CBC') {
            const iv = source(member(dict, 'iv', 'AesCbcParams'), 'AesCbcParams.iv');
            if (byteLength(iv) !== 16)
                throw fail('OperationError', 'AES-CBC iv must be 16 bytes');
            const out = new AB(len + 16);
            const n = cryptoCbc(encrypt, raw, iv, data, out);
            if (n < 0)
                throw fail('OperationError', 'AES-CBC decryption failed: bad length or padding');
            return take(out, n);
        }
        // AES-CTR
        const counter = source(member(dict, 'counter', 'AesCtrParams'), 'AesCtrParams.counter');
        const length = uint(member(dict, 'length', 'AesCtrParams'), 255, 'AesCtrParams.length');
        if (byteLength(counter) !== 16)
            throw fail('OperationError', 'AES-CTR counter must be 16 bytes');
        if (length === 0 || length > 128)
            throw fail('OperationError', 'AES-CTR length must be from 1 to 128 bits');
        const out = new AB(len);
        if (cryptoCtr(raw, counter, length, data, out) < 0)
            throw fail('OperationError', 'AES-CTR: the data is too long for the counter length');
        return out;
    }
    function aesKw(s, data, wrap) {
        const len = byteLength(data);
        const out = new AB(len + 8);
        const n = cryptoKw(wrap, s.material.raw, data, out);
        if (n < 0)
            throw fail('OperationError', wrap ? 'AES-KW: the data must be a multiple of 8 bytes, at least 16' : 'AES-KW unwrap failed: the data is not authentic');
        return take(out, n);
    }

    // ECDSA and Ed25519: key pairs
    function curveOf(dict, what) {
        const c = member(dict, 'namedCurve', what);
        const name = String(c);
        if (CURVES[name] === undefined)
            throw fail('NotSupportedError', `Unsupported named curve: ${name}`);
        return name;
    }
    // Ed25519's algorithm as the key records it (NODE-ED25519 also needs its namedCurve).
    function edAlgorithm(name, dict) {
        if (name === 'NODE-ED25519') {
            const c = member(dict, 'namedCurve', 'NODE-ED25519');
            if (String(c) !== 'NODE-ED25519')
                throw fail('NotSupportedError', `Unsupported named curve: ${String(c)}`);
            return { name, namedCurve: 'NODE-ED25519' };
        }
        return { name };
    }
    function pairGenerate(name, dict, extractable, usages) {
        allowOnly(usages, ['sign', 'verify'], name);
        const privUsages = usages.filter((u) => u === 'sign');
        const pubUsages = usages.filter((u) => u === 'verify');
        if (privUsages.length === 0)
            throw fail('SyntaxError', 'The private key needs the sign usage');
        let algorithm, priv, pub;
        if (name === 'ECDSA') {
            const curve = curveOf(dict, 'EcKeyGenParams');
            const c = CURVES[curve];
            algorithm = { name, namedCurve: curve };
            const d = new AB(c.scalar), p = new AB(c.point);
            if (cryptoEcGenerate(c.id, d, p) < 0)
                throw fail('OperationError', 'EC key generation failed');
            priv = { d: new U8(d), pub: new U8(p) };
            pub = { pub: priv.pub };
        } else {
            algorithm = edAlgorithm(name, dict);
            const seed = new AB(32), p = new AB(32);
            cryptoEdGenerate(seed, p);
            priv = { seed: new U8(seed), pub: new U8(p) };
            pub = { pub: priv.pub };
        }
        return {
            publicKey: newKey('public', true, algorithm, pubUsages, pub),
            privateKey: newKey('private', extractable, algorithm, privUsages, priv),
        };
    }
    function pairImport(name, format, data, dict, extractable, usages) {
        let algorithm, curve = null;
        if (name === 'ECDSA') {
            curve = curveOf(dict, 'EcKeyImportParams');
            algorithm = { name, namedCurve: curve };
        } else {
            algorithm = edAlgorithm(name, dict);
        }
        const c = curve && CURVES[curve];
        let type = format === 'pkcs8' ? 'private' : 'public';
        if (format === 'jwk' && data !== null && typeof data === 'object' && data.d !== undefined)
            type = 'private';
        // Usages are checked before the key data (SyntaxError before DataError).
        allowOnly(usages, [type === 'private' ? 'sign' : 'verify'], `an ${name} ${type} key`);
        let material;
        if (format === 'raw') {
            if (c) {
                const out = new AB(c.point);
                if (cryptoEcCheck(c.id, null, data, out) < 0)
                    throw fail('DataError', `The data is not a valid ${curve} public key`);
                material = { pub: new U8(out) };
            } else {
                if (byteLength(data) !== 32)
                    throw fail('DataError', 'An Ed25519 public key is 32 bytes');
                material = { pub: copy(data) };
            }
        } else if (format === 'spki' || format === 'pkcs8') {
            const spki = format === 'spki';
            const out = new AB(256);
            const parsed = cryptoDerParse(spki, data, out);
            const kind = c ? 'EC' : 'Ed25519';
            if (parsed === null || parsed[0] !== kind)
                throw fail('DataError', `The data is not a ${spki ? 'SubjectPublicKeyInfo' : 'PKCS #8 PrivateKeyInfo'} of a ${c ? curve : 'Ed25519'} key`);
            if (c && parsed[1] !== c.id)
                throw fail('DataError', `The key's curve is not ${curve}`);
            const all = new U8(out);
            const privLen = parsed[2], pubLen = parsed[3];
            const pub = all.slice(privLen, privLen + pubLen);
            if (spki)
                material = { pub };
            else if (c)
                material = { d: all.slice(0, privLen), pub };
            else
                material = { seed: all.slice(0, privLen), pub };
        } else if (format === 'jwk') {
            const priv = type === 'private';
            if (c) {
                checkJwk(data, 'EC', 'sig', usages, extractable);
                if (data.crv !== curve)
                    throw fail('DataError', `JWK "crv" must be "${curve}"`);
                if (data.alg !== undefined && data.alg !== c.alg)
                    throw fail('DataError', `JWK "alg" must be "${c.alg}"`);
                const x = unbase64url(data.x, 'x'), y = unbase64url(data.y, 'y');
                const d = priv ? unbase64url(data.d, 'd') : null;
                if (x.length !== c.scalar || y.length !== c.scalar || (d && d.length !== c.scalar))
                    throw fail('DataError', `JWK coordinates have the wrong length for ${curve}`);
                const point = new U8(c.point);
                point[0] = 4;
                taSet(point, x, 1);
                taSet(point, y, 1 + c.scalar);
                const out = new AB(c.point);
                if (cryptoEcCheck(c.id, d, point, out) < 0)
                    throw fail('DataError', `The JWK is not a valid ${curve} key`);
                material = priv ? { d, pub: new U8(out) } : { pub: new U8(out) };
            } else {
                checkJwk(data, 'OKP', 'sig', usages, extractable);
                if (data.crv !== 'Ed25519')
                    throw fail('DataError', 'JWK "crv" must be "Ed25519"');
                if (data.alg !== undefined && data.alg !== 'EdDSA' && data.alg !== 'Ed25519')
                    throw fail('DataError', 'JWK "alg" must be "EdDSA"');
                const x = unbase64url(data.x, 'x');
                if (x.length !== 32)
                    throw fail('DataError', 'JWK "x" must be 32 bytes for Ed25519');
                if (priv) {
                    const seed = unbase64url(data.d, 'd');
                    if (seed.length !== 32)
                        throw fail('DataError', 'JWK "d" must be 32 bytes for Ed25519');
                    const derived = new AB(32);
                    cryptoEdPublic(seed, derived);
                    if (!bytesEqual(new U8(derived), x))
                        throw fail('DataError', 'JWK "x" is not the public key of "d"');
                    material = { seed, pub: x };
                } else {
                    material = { pub: x };
                }
            }
        } else {
            throw fail('NotSupportedError', `${name} keys cannot be imported as ${format}`);
        }
        if (type === 'private' && usages.length === 0)
            throw fail('SyntaxError', 'A private key needs at least one usage');
        return newKey(type, extractable, algorithm, usages, material);
    }
    function pairExport(format, s) {
        const name = s.algorithm.name;
        const c = name === 'ECDSA' ? CURVES[s.algorithm.namedCurve] : null;
        const m = s.material;
        if (format === 'raw') {
            if (s.type !== 'public')
                throw fail('InvalidAccessError', 'Only a public key can be exported as raw');
            return toBuffer(m.pub);
        }
        if (format === 'spki' || format === 'pkcs8') {
            const spki = format === 'spki';
            if (s.type !== (spki ? 'public' : 'private'))
                throw fail('InvalidAccessError', `A ${s.type} key cannot be exported as ${format}`);
            const out = new AB(512);
            const n = cryptoDerExport(spki, c ? c.id : 0, spki ? null : (c ? m.d : m.seed), m.pub, out);
            if (n < 0)
                throw fail('OperationError', 'The key could not be encoded');
            return take(out, n);
        }
        if (format === 'jwk') {
            if (c) {
                const jwk = { kty: 'EC', crv: s.algorithm.namedCurve,
                    x: base64url(m.pub.subarray(1, 1 + c.scalar)), y: base64url(m.pub.subarray(1 + c.scalar)) };
                if (s.type === 'private')
                    jwk.d = base64url(m.d);
                return jwkCommon(jwk, s);
            }
            const jwk = { kty: 'OKP', crv: 'Ed25519', x: base64url(m.pub) };
            if (s.type === 'private')
                jwk.d = base64url(m.seed);
            return jwkCommon(jwk, s);
        }
        throw fail('NotSupportedError', `Keys cannot be exported as ${format}`);
    }

    // PBKDF2 and HKDF: import raw key material, derive bits
    function kdfImport(name, format, data, extractable, usages) {
        if (format !== 'raw')
            throw fail('NotSupportedError', `${name} keys can be imported only as raw`);
        if (extractable)
            throw fail('SyntaxError', `${name} keys cannot be extractable`);
        allowOnly(usages, ['deriveKey', 'deriveBits'], name);
        return secretKey(name, {}, copy(data), false, usages);
    }
    function deriveBits(name, dict, s, length) {
        if (length === null || length === undefined)
            throw fail('OperationError', `${name} needs a length`);
        length = uint(length, 0xffffffff, 'length');
        if (length % 8 !== 0)
            throw fail('OperationError', 'The length must be a multiple of 8');
        const hash = hashOf(dict, `${name} params`);
        const out = new AB(length >> 3);
        if (name === 'PBKDF2') {
            const salt = source(member(dict, 'salt', 'Pbkdf2Params'), 'Pbkdf2Params.salt');
            const iterations = uint(member(dict, 'iterations', 'Pbkdf2Params'), 0xffffffff, 'Pbkdf2Params.iterations');
            if (iterations === 0)
                throw fail('OperationError', 'PBKDF2 iterations must not be zero');
            if (iterations > 100000)
                throw fail('NotSupportedError', 'PBKDF2 iteration counts above 100000 are not supported');
            if (length === 0)
                return out;
            if (cryptoPbkdf2(HASHES[hash].id, s.material.raw, salt, iterations, out) < 0)
                throw fail('OperationError', 'PBKDF2 failed');
            return out;
        }
        const salt = source(member(dict, 'salt', 'HkdfParams'), 'HkdfParams.salt');
        const info = source(member(dict, 'info', 'HkdfParams'), 'HkdfParams.info');
        if (length > 255 * HASHES[hash].size * 8)
            throw fail('OperationError', 'HKDF cannot derive that many bits');
        if (length === 0)
            return out;
        if (cryptoHkdf(HASHES[hash].id, s.material.raw, salt, info, out) < 0)
            throw fail('OperationError', 'HKDF failed');
        return out;
    }
    // The length in bits a derived key of this algorithm needs.
    function keyLength(name, dict) {
        if (name === 'HMAC') {
            const hash = hashOf(dict, 'HmacImportParams');
            if (dict.length === undefined)
                return HASHES[hash].block;
            const l = uint(dict.length, 0xffffffff, 'HmacImportParams.length');
            if (l === 0)
                throw new TypeError('HMAC length must not be zero');
            return l;
        }
        const l = uint(member(dict, 'length', 'AesDerivedKeyParams'), 0xffff, 'AesDerivedKeyParams.length');
        if (l !== 128 && l !== 192 && l !== 256)
            throw fail('OperationError', 'AES key length must be 128, 192 or 256 bits');
        return l;
    }

    // ---- the operations, synchronous; SubtleCrypto turns throws into rejections -------------
    function importKeySync(format, keyData, algorithm, extractable, keyUsages) {
        format = String(format);
        if (!FORMATS[format])
            throw new TypeError(`'${format}' is not a valid key format`);
        const usages = usageList(keyUsages);
        const { name, dict } = normalize(algorithm, 'importKey');
        const data = format === 'jwk' ? keyData : source(keyData, 'keyData');
        if (format === 'jwk' && (keyData === null || typeof keyData !== 'object' || isView(keyData) || keyData instanceof AB))
            throw new TypeError('keyData must be a JsonWebKey object for the jwk format');
        if (name === 'HMAC')
            return hmacImport(format, data, dict, extractable, usages);
        if (AES[name])
            return aesImport(name, format, data, extractable, usages);
        if (name === 'PBKDF2' || name === 'HKDF')
            return kdfImport(name, format, data, extractable, usages);
        return pairImport(name, format, data, dict, extractable, usages);
    }
    function exportKeySync(format, key) {
        format = String(format);
        if (!FORMATS[format])
            throw new TypeError(`'${format}' is not a valid key format`);
        const s = keySlots(key, 'key');
        if (!s.extractable)
            throw fail('InvalidAccessError', 'The key is not extractable');
        const name = s.algorithm.name;
        if (name === 'HMAC')
            return hmacExport(format, s);
        if (AES[name])
            return aesExport(format, s);
        if (name === 'PBKDF2' || name === 'HKDF')
            throw fail('NotSupportedError', `${name} keys cannot be exported`);
        return pairExport(format, s);
    }
    function encryptSync(algorithm, key, data, encrypt) {
        const op = encrypt ? 'encrypt' : 'decrypt';
        const { name, dict } = normalize(algorithm, op);
        const bytes = source(data, 'data');
        const s = usable(key, name, op, 'key');
        return aesCipher(name, dict, s, bytes, encrypt);
    }
    function signSync(algorithm, key, data) {
        const { name, dict } = normalize(algorithm, 'sign');
        const bytes = source(data, 'data');
        const hash = name === 'ECDSA' ? hashOf(dict, 'EcdsaParams') : null;
        const s = usable(key, name, 'sign', 'key');
        if (s.type === 'public')
            throw fail('InvalidAccessError', 'A public key cannot sign');
        if (name === 'HMAC')
            return hmacSign(s, bytes);
        if (name === 'ECDSA') {
            const c = CURVES[s.algorithm.namedCurve];
            const out = new AB(2 * c.scalar);
            if (cryptoEcSign(c.id, HASHES[hash].id, s.material.d, bytes, out) < 0)
                throw fail('OperationError', 'ECDSA signing failed');
            return out;
        }
        const out = new AB(64);
        if (cryptoEdSign(s.material.seed, bytes, out) < 0)
            throw fail('OperationError', 'Ed25519 signing failed');
        return out;
    }
    function verifySync(algorithm, key, signature, data) {
        const { name, dict } = normalize(algorithm, 'verify');
        const sig = source(signature, 'signature');
        const bytes = source(data, 'data');
        const hash = name === 'ECDSA' ? hashOf(dict, 'EcdsaParams') : null;
        const s = usable(key, name, 'verify', 'key');
        if (name === 'HMAC') {
            const mac = new U8(hmacSign(s, bytes));
            return byteLength(sig) === mac.length && cryptoTimingSafeEqual(mac, sig);
        }
        if (s.type !== 'public')
            throw fail('InvalidAccessError', 'Only a public key can verify');
        if (name === 'ECDSA') {
            const c = CURVES[s.algorithm.namedCurve];
            return cryptoEcVerify(c.id, HASHES[hash].id, s.material.pub, sig, bytes);
        }
        return cryptoEdVerify(s.material.pub, sig, bytes);
    }
    function generateKeySync(algorithm, extractable, keyUsages) {
        const usages = usageList(keyUsages);
        const { name, dict } = normalize(algorithm, 'generateKey');
        if (name === 'HMAC')
            return hmacGenerate(dict, extractable, usages);
        if (AES[name])
            return aesGenerate(name, dict, extractable, usages);
        return pairGenerate(name, dict, extractable, usages);
    }
    function deriveBitsSync(algorithm, baseKey, length) {
        const { name, dict } = normalize(algorithm, 'deriveBits');
        const s = usable(baseKey, name, 'deriveBits', 'baseKey');
        return deriveBits(name, dict, s, length);
    }
    function deriveKeySync(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
        const usages = usageList(keyUsages);
        const { name, dict } = normalize(algorithm, 'deriveBits');
        const target = normalize(derivedKeyType, 'getKeyLength');
        const length = keyLength(target.name, target.dict);
        const s = usable(baseKey, name, 'deriveKey', 'baseKey');
        const bits = deriveBits(name, dict, s, length);
        return importKeySync('raw', bits, derivedKeyType, extractable, usages);
    }
    function wrapKeySync(format, key, wrappingKey, wrapAlgorithm) {
        const { name, dict } = normalize(wrapAlgorithm, 'wrapKey');
        const s = usable(wrappingKey, name, 'wrapKey', 'wrappingKey');
        keySlots(key, 'key');
        let exported = exportKeySync(format, key);
        if (String(format) === 'jwk')
            exported = encodeUtf8(jsonStringify(exported));
        else
            exported = new U8(exported);
        if (name === 'AES-KW')
            return aesKw(s, exported, true);
        return aesCipher(name, dict, s, exported, true);
    }
    function unwrapKeySync(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm,
        extractable, keyUsages) {
        const { name, dict } = normalize(unwrapAlgorithm, 'unwrapKey');
        const wrapped = source(wrappedKey, 'wrappedKey');
        const s = usable(unwrappingKey, name, 'unwrapKey', 'unwrappingKey');
        const bytes = name === 'AES-KW' ? aesKw(s, wrapped, false) : aesCipher(name, dict, s, wrapped, false);
        let keyData = bytes;
        if (String(format) === 'jwk') {
            try {
                keyData = jsonParse(decodeUtf8(new U8(bytes)));
            } catch {
                throw fail('DataError', 'The unwrapped key is not a JSON Web Key');
            }
        }
        return importKeySync(format, keyData, unwrappedKeyAlgorithm, extractable, keyUsages);
    }
    function digestSync(algorithm, data) {
        const { name } = normalize(algorithm, 'digest');
        const bytes = source(data, 'data');
        const out = new AB(HASHES[name].size);
        cryptoDigest(HASHES[name].id, bytes, out);
        return out;
    }

    // ---- the interfaces ----------------------------------------------------------------------
    let subtle;
    // Runs op as a promise-returning Web IDL operation: any throw becomes a rejection.
    function settle(self, op, args) {
        try {
            if (self !== subtle)
                throw new TypeError('Illegal invocation');
            return PromiseResolve(ReflectApply(op, undefined, args));
        } catch (e) {
            return PromiseReject(e);
        }
    }
    function need(args, n, what) {
        if (args.length < n)
            throw new TypeError(`${what} needs ${n} arguments, got ${args.length}`);
    }
    class SubtleCrypto {
        constructor(token) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
        }
        digest(algorithm, data) {
            return settle(this, (...a) => (need(a, 2, 'digest'), digestSync(...a)), [...arguments]);
        }
        encrypt(algorithm, key, data) {
            return settle(this, (...a) => (need(a, 3, 'encrypt'), encryptSync(a[0], a[1], a[2], true)), [...arguments]);
        }
        decrypt(algorithm, key, data) {
            return settle(this, (...a) => (need(a, 3, 'decrypt'), encryptSync(a[0], a[1], a[2], false)), [...arguments]);
        }
        sign(algorithm, key, data) {
            return settle(this, (...a) => (need(a, 3, 'sign'), signSync(...a)), [...arguments]);
        }
        verify(algorithm, key, signature, data) {
            return settle(this, (...a) => (need(a, 4, 'verify'), verifySync(...a)), [...arguments]);
        }
        generateKey(algorithm, extractable, keyUsages) {
            return settle(this, (...a) => (need(a, 3, 'generateKey'), generateKeySync(...a)), [...arguments]);
        }
        importKey(format, keyData, algorithm, extractable, keyUsages) {
            return settle(this, (...a) => (need(a, 5, 'importKey'), importKeySync(...a)), [...arguments]);
        }
        exportKey(format, key) {
            return settle(this, (...a) => (need(a, 2, 'exportKey'), exportKeySync(...a)), [...arguments]);
        }
        deriveBits(algorithm, baseKey, length) {
            return settle(this, (...a) => (need(a, 2, 'deriveBits'), deriveBitsSync(...a)), [...arguments]);
        }
        deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
            return settle(this, (...a) => (need(a, 5, 'deriveKey'), deriveKeySync(...a)), [...arguments]);
        }
        wrapKey(format, key, wrappingKey, wrapAlgorithm) {
            return settle(this, (...a) => (need(a, 4, 'wrapKey'), wrapKeySync(...a)), [...arguments]);
        }
        unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm,
            extractable, keyUsages) {
            return settle(this, (...a) => (need(a, 7, 'unwrapKey'), unwrapKeySync(...a)), [...arguments]);
        }
        // Workers' extension: a constant-time comparison of two equally long buffers.
        timingSafeEqual(a, b) {
            if (this !== subtle)
                throw new TypeError('Illegal invocation');
            const x = source(a, 'timingSafeEqual: a'), y = source(b, 'timingSafeEqual: b');
            if (byteLength(x) !== byteLength(y))
                throw new TypeError('Input buffers must have the same byte length');
            return cryptoTimingSafeEqual(x, y);
        }
    }
    ObjectDefineProperty(SubtleCrypto.prototype, SymbolToStringTag, { value: 'SubtleCrypto', configurable: true });
    subtle = new SubtleCrypto(INTERNAL);

    const INTEGER_ARRAYS = { Int8Array: 1, Uint8Array: 1, Uint8ClampedArray: 1, Int16Array: 1,
        Uint16Array: 1, Int32Array: 1, Uint32Array: 1, BigInt64Array: 1, BigUint64Array: 1 };
    const HEX = [];
    for (let i = 0; i < 256; i++)
        HEX.push((i < 16 ? '0' : '') + i.toString(16));
    let cryptoObject;
    class Crypto {
        constructor(token) {
            if (token !== INTERNAL)
                throw new TypeError('Illegal constructor');
        }
        get subtle() {
            if (this !== cryptoObject)
                throw new TypeError('Illegal invocation');
            return subtle;
        }
        getRandomValues(array) {
            if (this !== cryptoObject)
                throw new TypeError('Illegal invocation');
            if (!isView(array))
                throw new TypeError('getRandomValues: the argument must be an integer typed array');
            const tag = taTag(array);
            if (tag === undefined || !INTEGER_ARRAYS[tag])
                throw fail('TypeMismatchError', `getRandomValues: a ${tag || 'DataView'} is not an integer typed array`);
            if (taByteLength(array) > 65536)
                throw fail('QuotaExceededError', `getRandomValues: ${taByteLength(array)} bytes is over the limit of 65536`);
            cryptoRandom(array);
            return array;
        }
        randomUUID() {
            if (this !== cryptoObject)
                throw new TypeError('Illegal invocation');
            const b = new U8(16);
            cryptoRandom(b);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            return HEX[b[0]] + HEX[b[1]] + HEX[b[2]] + HEX[b[3]] + '-' + HEX[b[4]] + HEX[b[5]] + '-' +
                HEX[b[6]] + HEX[b[7]] + '-' + HEX[b[8]] + HEX[b[9]] + '-' + HEX[b[10]] + HEX[b[11]] +
                HEX[b[12]] + HEX[b[13]] + HEX[b[14]] + HEX[b[15]];
        }
    }
    ObjectDefineProperty(Crypto.prototype, SymbolToStringTag, { value: 'Crypto', configurable: true });
    cryptoObject = new Crypto(INTERNAL);

    internals.expose('Crypto', Crypto);
    internals.expose('SubtleCrypto', SubtleCrypto);
    internals.expose('CryptoKey', CryptoKey);
    internals.expose('crypto', cryptoObject);
})
