// Web Crypto (isolates/js/45_crypto.js over BoringSSL): known answers from the standards that
// define each algorithm, round trips through every import/export format, tamper detection,
// and the exception every misuse must produce (TypeError for bad argument types, the
// DOMException the Web Crypto spec names otherwise; promise-returning methods reject).
import { test, assert } from "edged:test";

const S = crypto.subtle;
const utf8 = (s) => new TextEncoder().encode(s);
const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
const hex = (b) =>
    Array.from(b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
        (x) => x.toString(16).padStart(2, "0")).join("");
// A copy with one bit flipped.
const flip = (b, i) => {
    const c = new Uint8Array(b instanceof ArrayBuffer ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)).slice();
    c[i] ^= 1;
    return c;
};
// Rejects with a DOMException of this name.
async function rejectsDom(fn, name, msg) {
    await assert.rejects(fn, { name }, msg);
    try {
        await fn();
    } catch (e) {
        assert(e instanceof DOMException, `${msg}: ${name} is a DOMException`);
        assert(e instanceof Error, `${msg}: a DOMException is an Error`);
    }
}

// ---- getRandomValues, randomUUID, the interfaces ------------------------------------------

test("getRandomValues fills integer typed arrays and returns its argument", () => {
    const a = new Uint8Array(64);
    assert.equal(crypto.getRandomValues(a), a);
    assert(a.some((x) => x !== 0), "filled");
    for (const T of [Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
        BigInt64Array, BigUint64Array])
        assert.equal(crypto.getRandomValues(new T(4)).length, 4, T.name);
    assert.equal(crypto.getRandomValues(new Uint8Array(65536)).length, 65536, "the limit itself");
    assert.equal(crypto.getRandomValues(new Uint8Array(0)).length, 0, "empty");
});

test("getRandomValues refuses what the spec refuses", () => {
    assert.throws(() => crypto.getRandomValues(new Uint8Array(65537)), { name: "QuotaExceededError" });
    assert.throws(() => crypto.getRandomValues(new Uint32Array(16385)), { name: "QuotaExceededError" });
    assert.throws(() => crypto.getRandomValues(new Float32Array(4)), { name: "TypeMismatchError" });
    assert.throws(() => crypto.getRandomValues(new Float64Array(4)), { name: "TypeMismatchError" });
    assert.throws(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4))), { name: "TypeMismatchError" });
    assert.throws(() => crypto.getRandomValues([1, 2, 3]), TypeError);
    assert.throws(() => crypto.getRandomValues(new ArrayBuffer(4)), TypeError);
    try {
        crypto.getRandomValues(new Float32Array(1));
    } catch (e) {
        assert(e instanceof DOMException, "a DOMException");
        assert.equal(e.code, 17, "TYPE_MISMATCH_ERR");
    }
});

test("randomUUID makes version 4 UUIDs", () => {
    const seen = new Set();
    for (let i = 0; i < 100; i++) {
        const u = crypto.randomUUID();
        assert(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u), u);
        seen.add(u);
    }
    assert.equal(seen.size, 100, "unique");
});

test("the interfaces cannot be constructed and methods check their receiver", async () => {
    assert(crypto instanceof Crypto);
    assert(crypto.subtle instanceof SubtleCrypto);
    assert.equal(crypto.subtle, crypto.subtle);
    assert.throws(() => new Crypto(), TypeError);
    assert.throws(() => new SubtleCrypto(), TypeError);
    assert.throws(() => new CryptoKey(), TypeError);
    assert.throws(() => Crypto.prototype.getRandomValues.call({}, new Uint8Array(4)), TypeError);
    await assert.rejects(() => SubtleCrypto.prototype.digest.call({}, "SHA-256", new Uint8Array(1)), TypeError);
    assert.equal(Object.prototype.toString.call(crypto.subtle), "[object SubtleCrypto]");
});

// ---- digest -------------------------------------------------------------------------------

test("digest: FIPS 180 known answers for SHA-1/256/384/512", async () => {
    const abc = utf8("abc");
    assert.equal(hex(await S.digest("SHA-1", abc)), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert.equal(hex(await S.digest({ name: "SHA-256" }, abc)),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(hex(await S.digest("sha-384", abc.buffer)),
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    assert.equal(hex(await S.digest("SHA-512", new DataView(abc.buffer))),
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    assert.equal(hex(await S.digest("SHA-256", new Uint8Array(0))),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // NIST's two-block message
    assert.equal(hex(await S.digest("SHA-256", utf8("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // a view into a larger buffer digests only its own bytes
    const big = utf8("xxabcxx");
    assert.equal(hex(await S.digest("SHA-1", big.subarray(2, 5))), "a9993e364706816aba3e25717850c26c9cd0d89d");
});

test("digest: errors reject", async () => {
    await rejectsDom(() => S.digest("MD5", utf8("a")), "NotSupportedError", "md5");
    await rejectsDom(() => S.digest("HMAC", utf8("a")), "NotSupportedError", "not a digest");
    await assert.rejects(() => S.digest("SHA-256", "abc"), TypeError);
    await assert.rejects(() => S.digest(42, utf8("a")), TypeError);
    await assert.rejects(() => S.digest({}, utf8("a")), TypeError);
    await assert.rejects(() => S.digest("SHA-256"), TypeError);
    const p = S.digest("nope", utf8("a"));
    assert(p instanceof Promise, "a promise, not a throw");
    await assert.rejects(p, { name: "NotSupportedError" });
});

// ---- HMAC ---------------------------------------------------------------------------------

test("HMAC: RFC 4231 test cases 1 and 2, sign and verify", async () => {
    const k1 = await S.importKey("raw", new Uint8Array(20).fill(0x0b), { name: "HMAC", hash: "SHA-256" },
        true, ["sign", "verify"]);
    const mac = await S.sign("HMAC", k1, utf8("Hi There"));
    assert.equal(hex(mac), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert.equal(await S.verify("HMAC", k1, mac, utf8("Hi There")), true);
    assert.equal(await S.verify("HMAC", k1, flip(mac, 0), utf8("Hi There")), false, "tampered mac");
    assert.equal(await S.verify("HMAC", k1, mac, utf8("Hi there")), false, "tampered message");
    assert.equal(await S.verify("HMAC", k1, mac.slice(0, 31), utf8("Hi There")), false, "short mac");
    const k2 = await S.importKey("raw", utf8("Jefe"), { name: "HMAC", hash: { name: "SHA-512" } }, false, ["sign"]);
    assert.equal(hex(await S.sign({ name: "HMAC" }, k2, utf8("what do ya want for nothing?"))),
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
});

test("HMAC: keys, generateKey, import/export round trips", async () => {
    const k = await S.importKey("raw", new Uint8Array(20).fill(0x0b), { name: "HMAC", hash: "SHA-256" },
        true, ["verify", "sign", "sign"]);
    assert.equal(k.type, "secret");
    assert.equal(k.extractable, true);
    assert.deepEqual(k.algorithm, { name: "HMAC", hash: { name: "SHA-256" }, length: 160 });
    assert.equal(k.algorithm, k.algorithm, "cached");
    assert.deepEqual(k.usages, ["sign", "verify"], "normalized order, no repeats");
    const jwk = await S.exportKey("jwk", k);
    assert.deepEqual(jwk, { kty: "oct", k: "CwsLCwsLCwsLCwsLCwsLCwsLCws", alg: "HS256", key_ops: ["sign", "verify"], ext: true });
    assert.deepEqual(await S.exportKey("raw", k), new Uint8Array(20).fill(0x0b).buffer);
    const back = await S.importKey("jwk", jwk, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    assert.deepEqual(await S.exportKey("raw", back), await S.exportKey("raw", k), "jwk round trip");
    const g = await S.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign", "verify"]);
    assert.equal(g.algorithm.length, 1024, "default length is the block size");
    assert.equal((await S.exportKey("raw", g)).byteLength, 128);
    const g2 = await S.generateKey({ name: "HMAC", hash: "SHA-1", length: 256 }, false, ["sign"]);
    assert.equal(g2.algorithm.length, 256);
    const m = utf8("data");
    assert.equal(await S.verify("HMAC", g, await S.sign("HMAC", g, m), m), true);
});

test("HMAC: errors", async () => {
    const alg = { name: "HMAC", hash: "SHA-256" };
    const k = await S.importKey("raw", utf8("key"), alg, false, ["sign"]);
    await rejectsDom(() => S.exportKey("raw", k), "InvalidAccessError", "not extractable");
    await rejectsDom(() => S.verify("HMAC", k, new Uint8Array(32), utf8("x")), "InvalidAccessError", "no verify usage");
    await rejectsDom(() => S.generateKey(alg, true, []), "SyntaxError", "no usages");
    await rejectsDom(() => S.generateKey(alg, true, ["encrypt"]), "SyntaxError", "bad usage");
    await assert.rejects(() => S.generateKey(alg, true, ["fly"]), TypeError, "not a usage");
    await assert.rejects(() => S.generateKey(alg, true, "sign"), TypeError, "usages not a sequence");
    await assert.rejects(() => S.generateKey({ name: "HMAC" }, true, ["sign"]), TypeError, "no hash");
    await rejectsDom(() => S.generateKey({ name: "HMAC", hash: "SHA-3" }, true, ["sign"]), "NotSupportedError", "bad hash");
    await rejectsDom(() => S.generateKey({ ...alg, length: 0 }, true, ["sign"]), "OperationError", "zero length");
    await rejectsDom(() => S.importKey("raw", new Uint8Array(0), alg, true, ["sign"]), "DataError", "empty key");
    await rejectsDom(() => S.importKey("raw", utf8("key"), { ...alg, length: 100 }, true, ["sign"]), "DataError", "length");
    await rejectsDom(() => S.importKey("jwk", { kty: "EC", k: "AA" }, alg, true, ["sign"]), "DataError", "kty");
    await rejectsDom(() => S.importKey("jwk", { kty: "oct" }, alg, true, ["sign"]), "DataError", "no k");
    await rejectsDom(() => S.importKey("jwk", { kty: "oct", k: "AA", alg: "HS512" }, alg, true, ["sign"]), "DataError", "alg");
    await rejectsDom(() => S.importKey("jwk", { kty: "oct", k: "AA", use: "enc" }, alg, true, ["sign"]), "DataError", "use");
    await rejectsDom(() => S.importKey("spki", new Uint8Array(4), alg, true, ["sign"]), "NotSupportedError", "spki");
    await assert.rejects(() => S.importKey("pem", new Uint8Array(4), alg, true, ["sign"]), TypeError, "format");
    await assert.rejects(() => S.importKey("raw", "key", alg, true, ["sign"]), TypeError, "string key data");
    await assert.rejects(() => S.importKey("jwk", new Uint8Array(4), alg, true, ["sign"]), TypeError, "bytes as jwk");
    await assert.rejects(() => S.sign("HMAC", {}, utf8("x")), TypeError, "a plain object as key");
});

test("CryptoKey cannot be forged or read", async () => {
    const k = await S.importKey("raw", utf8("secret"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const fake = Object.create(CryptoKey.prototype);
    await assert.rejects(() => S.sign("HMAC", fake, utf8("x")), TypeError);
    assert.throws(() => fake.type, TypeError);
    const lookalike = { type: "secret", extractable: true, algorithm: k.algorithm, usages: ["sign"] };
    await assert.rejects(() => S.sign("HMAC", lookalike, utf8("x")), TypeError);
    assert.deepEqual(Object.getOwnPropertyNames(k), []);
    assert.equal(JSON.stringify(k), "{}");
    k.algorithm.name = "AES-GCM";
    k.usages.push("verify");
    assert.equal((await S.sign("HMAC", k, utf8("x"))).byteLength, 32, "its slots are unchanged");
    await rejectsDom(() => S.verify("HMAC", k, new Uint8Array(32), utf8("x")), "InvalidAccessError", "usages are enforced");
});

test("timingSafeEqual", () => {
    assert.equal(S.timingSafeEqual(utf8("abc"), utf8("abc")), true);
    assert.equal(S.timingSafeEqual(utf8("abc"), utf8("abd").buffer), false);
    assert.equal(S.timingSafeEqual(new ArrayBuffer(0), new Uint8Array(0)), true);
    assert.equal(S.timingSafeEqual(new Uint16Array([1, 2]), new Uint8Array([1, 0, 2, 0])), true, "bytes, any view");
    assert.throws(() => S.timingSafeEqual(utf8("ab"), utf8("abc")), TypeError);
    assert.throws(() => S.timingSafeEqual("ab", "ab"), TypeError);
});

// ---- AES ----------------------------------------------------------------------------------

const GCM = {
    key: unhex("feffe9928665731c6d6a8f9467308308"),
    iv: unhex("cafebabefacedbaddecaf888"),
    aad: unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
    pt: unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"),
    ct: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
    tag: "5bc94fbc3221a5db94fae95ae7121a47",
};

test("AES-GCM: the GCM specification's test case 4, and tamper detection", async () => {
    const key = await S.importKey("raw", GCM.key, "AES-GCM", true, ["encrypt", "decrypt"]);
    const params = { name: "AES-GCM", iv: GCM.iv, additionalData: GCM.aad };
    const c = await S.encrypt(params, key, GCM.pt);
    assert.equal(hex(c), GCM.ct + GCM.tag);
    assert.equal(hex(await S.decrypt(params, key, c)), hex(GCM.pt));
    await rejectsDom(() => S.decrypt(params, key, flip(c, 3)), "OperationError", "ciphertext");
    await rejectsDom(() => S.decrypt(params, key, flip(c, c.byteLength - 1)), "OperationError", "tag");
    await rejectsDom(() => S.decrypt({ ...params, additionalData: flip(GCM.aad, 0) }, key, c), "OperationError", "aad");
    await rejectsDom(() => S.decrypt({ ...params, iv: flip(GCM.iv, 0) }, key, c), "OperationError", "iv");
    await rejectsDom(() => S.decrypt({ name: "AES-GCM", iv: GCM.iv }, key, c), "OperationError", "aad missing");
    // the GCM spec's test case 2: AES-128, zero key, one zero block
    const zero = await S.importKey("raw", new Uint8Array(16), { name: "aes-gcm" }, false, ["encrypt"]);
    assert.equal(hex(await S.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, zero, new Uint8Array(16))),
        "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
});

test("AES-GCM: tagLength, iv lengths, 192 and 256-bit keys", async () => {
    const key = await S.importKey("raw", GCM.key, "AES-GCM", false, ["encrypt", "decrypt"]);
    for (const tagLength of [32, 64, 96, 104, 112, 120, 128]) {
        const p = { name: "AES-GCM", iv: GCM.iv, tagLength };
        const c = await S.encrypt(p, key, GCM.pt);
        assert.equal(c.byteLength, GCM.pt.length + tagLength / 8, `tag ${tagLength}`);
        assert.equal(hex(c).slice(0, GCM.ct.length), GCM.ct, "same ciphertext");
        assert.equal(hex(await S.decrypt(p, key, c)), hex(GCM.pt));
    }
    const long = { name: "AES-GCM", iv: new Uint8Array(60).fill(7) };
    assert.equal(hex(await S.decrypt(long, key, await S.encrypt(long, key, utf8("x")))), "78", "60-byte iv");
    for (const bits of [192, 256]) {
        const k = await S.generateKey({ name: "AES-GCM", length: bits }, true, ["encrypt", "decrypt"]);
        assert.deepEqual(k.algorithm, { name: "AES-GCM", length: bits });
        assert.equal((await S.exportKey("raw", k)).byteLength, bits / 8);
        const p = { name: "AES-GCM", iv: crypto.getRandomValues(new Uint8Array(12)) };
        assert.equal(hex(await S.decrypt(p, k, await S.encrypt(p, k, utf8("hello")))), hex(utf8("hello")));
    }
});

test("AES-GCM: errors", async () => {
    const key = await S.importKey("raw", GCM.key, "AES-GCM", true, ["encrypt", "decrypt"]);
    await rejectsDom(() => S.encrypt({ name: "AES-GCM", iv: GCM.iv, tagLength: 100 }, key, GCM.pt), "OperationError", "tagLength");
    await rejectsDom(() => S.encrypt({ name: "AES-GCM", iv: new Uint8Array(0) }, key, GCM.pt), "OperationError", "empty iv");
    await assert.rejects(() => S.encrypt({ name: "AES-GCM" }, key, GCM.pt), TypeError, "no iv");
    await assert.rejects(() => S.encrypt({ name: "AES-GCM", iv: "nonce" }, key, GCM.pt), TypeError, "string iv");
    await assert.rejects(() => S.encrypt({ name: "AES-GCM", iv: GCM.iv }, key, "text"), TypeError, "string data");
    await rejectsDom(() => S.decrypt({ name: "AES-GCM", iv: GCM.iv }, key, new Uint8Array(15)), "OperationError", "short");
    await rejectsDom(() => S.encrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, key, GCM.pt), "InvalidAccessError", "other algorithm");
    await rejectsDom(() => S.encrypt({ name: "RSA-OAEP" }, key, GCM.pt), "NotSupportedError", "unknown");
    await rejectsDom(() => S.sign("AES-GCM", key, GCM.pt), "NotSupportedError", "sign with AES");
    const enc = await S.importKey("raw", GCM.key, "AES-GCM", false, ["encrypt"]);
    await rejectsDom(() => S.decrypt({ name: "AES-GCM", iv: GCM.iv }, enc, new Uint8Array(32)), "InvalidAccessError", "no decrypt usage");
    await rejectsDom(() => S.importKey("raw", new Uint8Array(15), "AES-GCM", true, ["encrypt"]), "DataError", "15 bytes");
    await rejectsDom(() => S.importKey("raw", GCM.key, "AES-GCM", true, ["sign"]), "SyntaxError", "sign usage");
    await rejectsDom(() => S.importKey("raw", GCM.key, "AES-GCM", true, []), "SyntaxError", "no usage");
    await rejectsDom(() => S.importKey("pkcs8", GCM.key, "AES-GCM", true, ["encrypt"]), "NotSupportedError", "pkcs8");
    await rejectsDom(() => S.generateKey({ name: "AES-GCM", length: 100 }, true, ["encrypt"]), "OperationError", "length");
    await assert.rejects(() => S.generateKey({ name: "AES-GCM" }, true, ["encrypt"]), TypeError, "no length");
});

test("AES: jwk import and export", async () => {
    const key = await S.importKey("raw", GCM.key, "AES-GCM", true, ["encrypt", "decrypt"]);
    const jwk = await S.exportKey("jwk", key);
    assert.deepEqual(jwk, { kty: "oct", k: "_v_pkoZlcxxtao-UZzCDCA", alg: "A128GCM", key_ops: ["encrypt", "decrypt"], ext: true });
    const back = await S.importKey("jwk", jwk, "AES-GCM", false, ["decrypt"]);
    const p = { name: "AES-GCM", iv: GCM.iv, additionalData: GCM.aad };
    assert.equal(hex(await S.decrypt(p, back, await S.encrypt(p, key, GCM.pt))), hex(GCM.pt));
    const k256 = await S.generateKey({ name: "AES-CBC", length: 256 }, true, ["encrypt"]);
    assert.equal((await S.exportKey("jwk", k256)).alg, "A256CBC");
    const kw = await S.generateKey({ name: "AES-KW", length: 192 }, true, ["wrapKey"]);
    assert.equal((await S.exportKey("jwk", kw)).alg, "A192KW");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, alg: "A256GCM" }, "AES-GCM", true, ["encrypt"]), "DataError", "alg");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, key_ops: ["decrypt"] }, "AES-GCM", true, ["encrypt"]), "DataError", "key_ops");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, ext: false }, "AES-GCM", true, ["encrypt"]), "DataError", "ext");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, use: "sig" }, "AES-GCM", true, ["encrypt"]), "DataError", "use");
    await rejectsDom(() => S.importKey("jwk", { kty: "oct", k: "***" }, "AES-GCM", true, ["encrypt"]), "DataError", "base64url");
    await rejectsDom(() => S.importKey("jwk", { kty: "oct", k: "AAAA" }, "AES-GCM", true, ["encrypt"]), "DataError", "3 bytes");
    await assert.rejects(() => S.importKey("jwk", null, "AES-GCM", true, ["encrypt"]), TypeError);
});

test("AES-CBC: NIST SP 800-38A F.2.1, padding", async () => {
    const key = await S.importKey("raw", unhex("2b7e151628aed2a6abf7158809cf4f3c"), "AES-CBC", false, ["encrypt", "decrypt"]);
    const iv = unhex("000102030405060708090a0b0c0d0e0f");
    const pt = unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
    const c = await S.encrypt({ name: "AES-CBC", iv }, key, pt);
    assert.equal(hex(c).slice(0, 64), "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
    assert.equal(c.byteLength, 48, "a block of PKCS #7 padding");
    assert.equal(hex(await S.decrypt({ name: "AES-CBC", iv }, key, c)), hex(pt));
    assert.equal((await S.encrypt({ name: "AES-CBC", iv }, key, new Uint8Array(0))).byteLength, 16, "empty");
    await rejectsDom(() => S.decrypt({ name: "AES-CBC", iv }, key, c.slice(0, 32)), "OperationError", "bad padding");
    await rejectsDom(() => S.decrypt({ name: "AES-CBC", iv }, key, c.slice(0, 20)), "OperationError", "not whole blocks");
    await rejectsDom(() => S.encrypt({ name: "AES-CBC", iv: new Uint8Array(12) }, key, pt), "OperationError", "iv length");
    await assert.rejects(() => S.encrypt({ name: "AES-CBC" }, key, pt), TypeError, "no iv");
});

test("AES-CTR: NIST SP 800-38A F.5.1, counter length", async () => {
    const key = await S.importKey("raw", unhex("2b7e151628aed2a6abf7158809cf4f3c"), "AES-CTR", false, ["encrypt", "decrypt"]);
    const counter = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    const pt = unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
    const p = { name: "AES-CTR", counter, length: 64 };
    const c = await S.encrypt(p, key, pt);
    assert.equal(hex(c), "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff");
    assert.equal(hex(await S.decrypt(p, key, c)), hex(pt));
    assert.equal((await S.encrypt(p, key, pt.subarray(0, 5))).byteLength, 5, "partial block");
    // With length 8 the counter wraps within its low byte: blocks 0xff then 0x00 of that byte.
    const wrapped = await S.encrypt({ name: "AES-CTR", counter, length: 8 }, key, pt);
    const manual = await S.encrypt({ name: "AES-CTR", counter: unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfe00"), length: 8 }, key, pt.subarray(16));
    assert.equal(hex(wrapped).slice(32), hex(manual), "only the low length bits count");
    await rejectsDom(() => S.encrypt({ name: "AES-CTR", counter, length: 1 }, key, new Uint8Array(48)), "OperationError", "wraps");
    await rejectsDom(() => S.encrypt({ name: "AES-CTR", counter, length: 0 }, key, pt), "OperationError", "length 0");
    await rejectsDom(() => S.encrypt({ name: "AES-CTR", counter, length: 129 }, key, pt), "OperationError", "length 129");
    await rejectsDom(() => S.encrypt({ name: "AES-CTR", counter: new Uint8Array(8), length: 64 }, key, pt), "OperationError", "counter size");
    await assert.rejects(() => S.encrypt({ name: "AES-CTR", counter }, key, pt), TypeError, "no length");
});

test("AES-KW and wrapKey/unwrapKey: RFC 3394 4.1, jwk wrapped with AES-GCM", async () => {
    const kek = await S.importKey("raw", unhex("000102030405060708090a0b0c0d0e0f"), "AES-KW", false, ["wrapKey", "unwrapKey"]);
    const inner = await S.importKey("raw", unhex("00112233445566778899aabbccddeeff"), "AES-GCM", true, ["encrypt"]);
    const wrapped = await S.wrapKey("raw", inner, kek, "AES-KW");
    assert.equal(hex(wrapped), "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
    const un = await S.unwrapKey("raw", wrapped, kek, "AES-KW", "AES-GCM", true, ["encrypt"]);
    assert.equal(hex(await S.exportKey("raw", un)), "00112233445566778899aabbccddeeff");
    await rejectsDom(() => S.unwrapKey("raw", flip(wrapped, 3), kek, "AES-KW", "AES-GCM", true, ["encrypt"]), "OperationError", "tampered");
    await rejectsDom(() => S.encrypt("AES-KW", kek, new Uint8Array(16)), "NotSupportedError", "encrypt with AES-KW");
    await rejectsDom(() => S.importKey("raw", new Uint8Array(16), "AES-KW", false, ["encrypt"]), "SyntaxError", "KW encrypt usage");
    const gcm = await S.importKey("raw", GCM.key, "AES-GCM", false, ["wrapKey", "unwrapKey"]);
    const iv = GCM.iv;
    const hmac = await S.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    const jw = await S.wrapKey("jwk", hmac, gcm, { name: "AES-GCM", iv });
    const hk = await S.unwrapKey("jwk", jw, gcm, { name: "AES-GCM", iv }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    assert.deepEqual(await S.exportKey("raw", hk), await S.exportKey("raw", hmac), "jwk through AES-GCM");
    await rejectsDom(() => S.unwrapKey("jwk", flip(jw, 0), gcm, { name: "AES-GCM", iv }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]), "OperationError", "tampered jwk");
    const secret = await S.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"]);
    await rejectsDom(() => S.wrapKey("raw", secret, kek, "AES-KW"), "InvalidAccessError", "not extractable");
    const enc = await S.importKey("raw", GCM.key, "AES-GCM", false, ["encrypt"]);
    await rejectsDom(() => S.wrapKey("raw", inner, enc, { name: "AES-GCM", iv }), "InvalidAccessError", "no wrapKey usage");
});

// ---- ECDSA --------------------------------------------------------------------------------

const EC = {
    // RFC 6979 A.2.5 (P-256): the key and the deterministic signature of "sample" with SHA-256
    pub: "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
    pkcs8: "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721a1440342000460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
    spki: "3059301306072a8648ce3d020106082a8648ce3d0301070342000460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
    sig: "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
};
const P256 = { name: "ECDSA", namedCurve: "P-256" };
const ES256 = { name: "ECDSA", hash: "SHA-256" };

test("ECDSA: RFC 6979 signature verifies; tampering does not", async () => {
    const pk = await S.importKey("raw", unhex(EC.pub), P256, true, ["verify"]);
    const sig = unhex(EC.sig);
    assert.equal(await S.verify(ES256, pk, sig, utf8("sample")), true);
    assert.equal(await S.verify(ES256, pk, sig, utf8("samplE")), false, "message");
    assert.equal(await S.verify(ES256, pk, flip(sig, 40), utf8("sample")), false, "signature");
    assert.equal(await S.verify(ES256, pk, sig.slice(1), utf8("sample")), false, "short signature");
    assert.equal(await S.verify({ name: "ECDSA", hash: "SHA-384" }, pk, sig, utf8("sample")), false, "other hash");
});

test("ECDSA: import/export in spki, pkcs8, raw and jwk", async () => {
    const sk = await S.importKey("pkcs8", unhex(EC.pkcs8), P256, true, ["sign"]);
    assert.equal(sk.type, "private");
    assert.deepEqual(sk.algorithm, P256);
    assert.equal(hex(await S.exportKey("pkcs8", sk)), EC.pkcs8, "pkcs8 round trip");
    const pk = await S.importKey("spki", unhex(EC.spki), P256, true, ["verify"]);
    assert.equal(pk.type, "public");
    assert.equal(hex(await S.exportKey("spki", pk)), EC.spki, "spki round trip");
    assert.equal(hex(await S.exportKey("raw", pk)), EC.pub, "raw");
    const sig = await S.sign(ES256, sk, utf8("hello"));
    assert.equal(sig.byteLength, 64, "r || s");
    assert.equal(await S.verify(ES256, pk, sig, utf8("hello")), true);
    const jwk = await S.exportKey("jwk", sk);
    assert.equal(jwk.kty, "EC");
    assert.equal(jwk.crv, "P-256");
    assert.equal(jwk.d, "ya-p2EW6dRZrXCFXZ7HWk05Qw9s26JsSe4piKxIPZyE");
    assert.deepEqual(jwk.key_ops, ["sign"]);
    const sk2 = await S.importKey("jwk", jwk, P256, false, ["sign"]);
    assert.equal(await S.verify(ES256, pk, await S.sign(ES256, sk2, utf8("x")), utf8("x")), true, "jwk private");
    const pjwk = await S.exportKey("jwk", pk);
    assert.equal(pjwk.d, undefined);
    assert.deepEqual([pjwk.x, pjwk.y], [jwk.x, jwk.y]);
    const pk2 = await S.importKey("jwk", pjwk, P256, true, ["verify"]);
    assert.equal(hex(await S.exportKey("raw", pk2)), EC.pub, "jwk public");
    // a compressed point imports too and exports uncompressed
    const compressed = unhex("03" + EC.pub.slice(2, 66));
    assert.equal(hex(await S.exportKey("raw", await S.importKey("raw", compressed, P256, true, ["verify"]))), EC.pub);
});

test("ECDSA: generateKey on P-256, P-384, P-521", async () => {
    for (const [curve, hash, size] of [["P-256", "SHA-256", 64], ["P-384", "SHA-384", 96], ["P-521", "SHA-512", 132]]) {
        const pair = await S.generateKey({ name: "ECDSA", namedCurve: curve }, false, ["sign", "verify"]);
        assert.equal(pair.publicKey.extractable, true, "public keys are extractable");
        assert.equal(pair.privateKey.extractable, false);
        assert.deepEqual(pair.publicKey.usages, ["verify"]);
        assert.deepEqual(pair.privateKey.usages, ["sign"]);
        const m = utf8(curve);
        const sig = await S.sign({ name: "ECDSA", hash }, pair.privateKey, m);
        assert.equal(sig.byteLength, size, curve);
        assert.equal(await S.verify({ name: "ECDSA", hash }, pair.publicKey, sig, m), true, curve);
        const spki = await S.exportKey("spki", pair.publicKey);
        const again = await S.importKey("spki", spki, { name: "ECDSA", namedCurve: curve }, true, ["verify"]);
        assert.equal(await S.verify({ name: "ECDSA", hash }, again, sig, m), true, `${curve} spki`);
        await rejectsDom(() => S.exportKey("pkcs8", pair.privateKey), "InvalidAccessError", "not extractable");
    }
});

test("ECDSA: errors", async () => {
    const sk = await S.importKey("pkcs8", unhex(EC.pkcs8), P256, true, ["sign"]);
    const pk = await S.importKey("raw", unhex(EC.pub), P256, true, ["verify"]);
    const jwk = await S.exportKey("jwk", sk);
    await rejectsDom(() => S.importKey("jwk", { ...jwk, x: jwk.y }, P256, true, ["sign"]), "DataError", "point not on the curve");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, crv: "P-384" }, P256, true, ["sign"]), "DataError", "crv");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, kty: "OKP" }, P256, true, ["sign"]), "DataError", "kty");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, alg: "ES384" }, P256, true, ["sign"]), "DataError", "alg");
    await rejectsDom(() => S.importKey("raw", unhex(EC.pub).slice(0, 64), P256, true, ["verify"]), "DataError", "short point");
    await rejectsDom(() => S.importKey("raw", unhex(EC.pub), { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"]), "DataError", "wrong curve");
    await rejectsDom(() => S.importKey("spki", unhex(EC.spki), { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"]), "DataError", "spki curve");
    await rejectsDom(() => S.importKey("spki", unhex(EC.pkcs8), P256, true, ["verify"]), "DataError", "pkcs8 as spki");
    await rejectsDom(() => S.importKey("pkcs8", unhex(EC.spki), P256, true, ["sign"]), "DataError", "spki as pkcs8");
    await rejectsDom(() => S.importKey("spki", unhex(EC.spki + "00"), P256, true, ["verify"]), "DataError", "trailing byte");
    await rejectsDom(() => S.importKey("raw", unhex(EC.pub), { name: "ECDSA", namedCurve: "P-999" }, true, ["verify"]), "NotSupportedError", "curve");
    await assert.rejects(() => S.importKey("raw", unhex(EC.pub), { name: "ECDSA" }, true, ["verify"]), TypeError, "no namedCurve");
    await rejectsDom(() => S.importKey("raw", unhex(EC.pub), P256, true, ["sign"]), "SyntaxError", "public key usage");
    await rejectsDom(() => S.importKey("pkcs8", unhex(EC.pkcs8), P256, true, []), "SyntaxError", "private key without usages");
    await rejectsDom(() => S.exportKey("raw", sk), "InvalidAccessError", "raw private");
    await rejectsDom(() => S.exportKey("spki", sk), "InvalidAccessError", "spki of private");
    await rejectsDom(() => S.exportKey("pkcs8", pk), "InvalidAccessError", "pkcs8 of public");
    await assert.rejects(() => S.sign("ECDSA", sk, utf8("x")), TypeError, "no hash");
    await rejectsDom(() => S.sign(ES256, pk, utf8("x")), "InvalidAccessError", "sign with public");
    await rejectsDom(() => S.verify(ES256, sk, new Uint8Array(64), utf8("x")), "InvalidAccessError", "verify with private");
    await rejectsDom(() => S.sign("Ed25519", sk, utf8("x")), "InvalidAccessError", "key of another algorithm");
    await rejectsDom(() => S.generateKey(P256, true, ["verify"]), "SyntaxError", "no sign usage");
    await rejectsDom(() => S.generateKey(P256, true, ["encrypt"]), "SyntaxError", "encrypt usage");
});

// ---- Ed25519 ------------------------------------------------------------------------------

const ED = {
    // RFC 8032 section 7.1, test 1
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    pub: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    sig: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    pkcs8Prefix: "302e020100300506032b657004220420",
    spkiPrefix: "302a300506032b6570032100",
};

test("Ed25519: RFC 8032 test 1 through pkcs8, spki, raw and jwk", async () => {
    const sk = await S.importKey("pkcs8", unhex(ED.pkcs8Prefix + ED.seed), "Ed25519", true, ["sign"]);
    assert.deepEqual(sk.algorithm, { name: "Ed25519" });
    assert.equal(hex(await S.sign("Ed25519", sk, new Uint8Array(0))), ED.sig);
    const pk = await S.importKey("raw", unhex(ED.pub), { name: "Ed25519" }, true, ["verify"]);
    assert.equal(await S.verify("Ed25519", pk, unhex(ED.sig), new Uint8Array(0)), true);
    assert.equal(await S.verify("Ed25519", pk, flip(unhex(ED.sig), 10), new Uint8Array(0)), false, "tampered signature");
    assert.equal(await S.verify("Ed25519", pk, unhex(ED.sig), utf8("x")), false, "other message");
    assert.equal(await S.verify("Ed25519", pk, unhex(ED.sig).slice(0, 63), new Uint8Array(0)), false, "short signature");
    assert.equal(hex(await S.exportKey("spki", pk)), ED.spkiPrefix + ED.pub);
    assert.equal(hex(await S.exportKey("pkcs8", sk)), ED.pkcs8Prefix + ED.seed);
    assert.equal(hex(await S.exportKey("raw", pk)), ED.pub);
    const pk2 = await S.importKey("spki", unhex(ED.spkiPrefix + ED.pub), "Ed25519", true, ["verify"]);
    assert.equal(hex(await S.exportKey("raw", pk2)), ED.pub, "spki round trip");
    const jwk = await S.exportKey("jwk", sk);
    assert.deepEqual(jwk, { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", key_ops: ["sign"], ext: true });
    const sk2 = await S.importKey("jwk", jwk, "Ed25519", false, ["sign"]);
    assert.equal(hex(await S.sign("Ed25519", sk2, new Uint8Array(0))), ED.sig, "jwk round trip");
    const pjwk = await S.exportKey("jwk", pk);
    assert.equal(pjwk.d, undefined);
    assert.equal(hex(await S.exportKey("raw", await S.importKey("jwk", pjwk, "Ed25519", true, ["verify"]))), ED.pub);
});

test("Ed25519: Workers' NODE-ED25519 naming and generateKey", async () => {
    const alg = { name: "NODE-ED25519", namedCurve: "NODE-ED25519" };
    const pair = await S.generateKey(alg, true, ["sign", "verify"]);
    assert.deepEqual(pair.privateKey.algorithm, alg);
    assert.deepEqual(pair.publicKey.usages, ["verify"]);
    const sig = await S.sign(alg, pair.privateKey, utf8("m"));
    assert.equal(sig.byteLength, 64);
    assert.equal(await S.verify(alg, pair.publicKey, sig, utf8("m")), true);
    const pk = await S.importKey("raw", unhex(ED.pub), alg, true, ["verify"]);
    assert.equal(await S.verify(alg, pk, unhex(ED.sig), new Uint8Array(0)), true, "RFC 8032 under the Workers name");
    const g = await S.generateKey("Ed25519", false, ["sign", "verify"]);
    assert.equal(await S.verify("Ed25519", g.publicKey, await S.sign("Ed25519", g.privateKey, utf8("z")), utf8("z")), true);
    assert.equal((await S.exportKey("raw", g.publicKey)).byteLength, 32);
});

test("Ed25519: errors", async () => {
    const sk = await S.importKey("pkcs8", unhex(ED.pkcs8Prefix + ED.seed), "Ed25519", true, ["sign"]);
    const jwk = await S.exportKey("jwk", sk);
    await rejectsDom(() => S.importKey("jwk", { ...jwk, x: "A".repeat(43) }, "Ed25519", true, ["sign"]), "DataError", "x is not of d");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, crv: "X25519" }, "Ed25519", true, ["sign"]), "DataError", "crv");
    await rejectsDom(() => S.importKey("jwk", { ...jwk, kty: "EC" }, "Ed25519", true, ["sign"]), "DataError", "kty");
    await rejectsDom(() => S.importKey("raw", new Uint8Array(31), "Ed25519", true, ["verify"]), "DataError", "short key");
    await rejectsDom(() => S.importKey("pkcs8", unhex(EC.pkcs8), "Ed25519", true, ["sign"]), "DataError", "an EC key");
    await rejectsDom(() => S.importKey("spki", unhex("3000"), "Ed25519", true, ["verify"]), "DataError", "garbage spki");
    await rejectsDom(() => S.importKey("raw", unhex(ED.pub), "Ed25519", true, ["sign"]), "SyntaxError", "sign usage on public");
    await rejectsDom(() => S.generateKey({ name: "NODE-ED25519", namedCurve: "P-256" }, true, ["sign"]), "NotSupportedError", "namedCurve");
    await assert.rejects(() => S.generateKey({ name: "NODE-ED25519" }, true, ["sign"]), TypeError, "no namedCurve");
    const node = await S.generateKey({ name: "NODE-ED25519", namedCurve: "NODE-ED25519" }, false, ["sign"]);
    await rejectsDom(() => S.sign("Ed25519", node.privateKey, utf8("m")), "InvalidAccessError", "the other name");
    await rejectsDom(() => S.exportKey("raw", node.privateKey), "InvalidAccessError", "not extractable");
    await rejectsDom(() => S.exportKey("raw", sk), "InvalidAccessError", "raw private");
    await rejectsDom(() => S.sign("Ed25519", node.publicKey, utf8("m")), "InvalidAccessError", "sign with public");
});

// ---- PBKDF2 and HKDF ----------------------------------------------------------------------

test("PBKDF2 and HKDF: RFC 6070 and RFC 5869 known answers, deriveKey", async () => {
    const pw = await S.importKey("raw", utf8("password"), "PBKDF2", false, ["deriveBits", "deriveKey"]);
    assert.equal(hex(await S.deriveBits({ name: "PBKDF2", hash: "SHA-1", salt: utf8("salt"), iterations: 2 }, pw, 160)),
        "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    const aes = await S.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: utf8("s"), iterations: 10 }, pw,
        { name: "AES-GCM", length: 256 }, true, ["encrypt"]);
    assert.deepEqual(aes.algorithm, { name: "AES-GCM", length: 256 });
    const ikm = await S.importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits", "deriveKey"]);
    assert.equal(hex(await S.deriveBits({ name: "HKDF", hash: "SHA-256", salt: unhex("000102030405060708090a0b0c"),
        info: unhex("f0f1f2f3f4f5f6f7f8f9") }, ikm, 336)),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    const mac = await S.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new Uint8Array(0) }, ikm,
        { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    assert.equal(mac.algorithm.length, 512);
});

test("PBKDF2 and HKDF: errors", async () => {
    const pw = await S.importKey("raw", utf8("password"), "PBKDF2", false, ["deriveBits"]);
    const p = { name: "PBKDF2", hash: "SHA-256", salt: utf8("salt"), iterations: 1 };
    await rejectsDom(() => S.deriveBits({ ...p, iterations: 100001 }, pw, 256), "NotSupportedError", "iterations cap");
    await rejectsDom(() => S.deriveBits({ ...p, iterations: 0 }, pw, 256), "OperationError", "zero iterations");
    await rejectsDom(() => S.deriveBits(p, pw, 12), "OperationError", "not a multiple of 8");
    await rejectsDom(() => S.deriveBits(p, pw, null), "OperationError", "null length");
    await assert.rejects(() => S.deriveBits({ name: "PBKDF2", hash: "SHA-256", iterations: 1 }, pw, 256), TypeError, "no salt");
    await rejectsDom(() => S.importKey("raw", utf8("pw"), "PBKDF2", true, ["deriveBits"]), "SyntaxError", "extractable");
    await rejectsDom(() => S.importKey("jwk", { kty: "oct", k: "AA" }, "PBKDF2", false, ["deriveBits"]), "NotSupportedError", "jwk");
    await rejectsDom(() => S.deriveKey(p, pw, { name: "AES-GCM", length: 128 }, true, ["encrypt"]), "InvalidAccessError", "no deriveKey usage");
    await rejectsDom(() => S.exportKey("raw", pw), "InvalidAccessError", "never extractable");
    const ikm = await S.importKey("raw", new Uint8Array(16), "HKDF", false, ["deriveBits"]);
    await rejectsDom(() => S.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new Uint8Array(0) }, ikm, 255 * 256 + 8), "OperationError", "too long");
    await rejectsDom(() => S.deriveBits(p, ikm, 256), "InvalidAccessError", "key of another algorithm");
});

test("inputs of several MiB", async () => {
    const big = new Uint8Array(4 << 20).fill(0x61);
    assert.equal((await S.digest("SHA-256", big)).byteLength, 32);
    const k = await S.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt", "decrypt"]);
    const iv = new Uint8Array(12);
    const c = await S.encrypt({ name: "AES-GCM", iv }, k, big);
    assert.equal((await S.decrypt({ name: "AES-GCM", iv }, k, c)).byteLength, 4 << 20);
});
