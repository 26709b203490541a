/*
 * Web Crypto (isolates/crypto.cc, isolates/js/45_crypto.js) and the BoringSSL loader behind it
 * (common/boringssl.c). The loader tests prove that our calls reach BoringSSL and not the
 * OpenSSL 3 that libnode brings into the process, and run known-answer tests through the
 * table; the worker tests run the same vectors and every error path through crypto.subtle.
 */
#include <dlfcn.h>

#include "common/boringssl.h"
#include "iso_test.h"

TestSuite(crypto, .init = iso_test_setup);

static void unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sscanf(s + 2 * i, "%2hhx", &out[i]);
}

static void expect_hex(const uint8_t *got, size_t n, const char *want)
{
    char buf[512] = "";
    for (size_t i = 0; i < n && 2 * i + 2 < sizeof buf; i++)
        snprintf(buf + 2 * i, 3, "%02x", got[i]);
    cr_expect_str_eq(buf, want);
}

Test(crypto, boringssl_binding)
{
    const struct ed_bssl *b = ed_bssl();
    cr_assert_not_null(b, "iso_platform_init loads BoringSSL");
    cr_expect_str_eq(b->OpenSSL_version(OPENSSL_VERSION), "BoringSSL");
    cr_expect_eq(b->BORINGSSL_self_test(), 1, "BoringSSL's own known-answer tests");

    struct ed_bssl_binding bind;
    cr_assert_eq(ed_bssl_binding(&bind), 0);
    /* libcrypto.so.0 makes over a thousand references to its own symbols; every one bound
     * inside it (with a plain dlopen, 1028 of them bound to OpenSSL's libcrypto.so.3). */
    cr_expect_gt(bind.own, 1000, "own relocations checked: %u", bind.own);
    cr_expect_gt(bind.external, 10, "imports checked: %u", bind.external);
    cr_expect_eq(bind.functions, sizeof(struct ed_bssl) / sizeof(void *));
    cr_log_info("BoringSSL from %s: %u own relocations, %u imports, %u functions", bind.path,
                bind.own, bind.external, bind.functions);

    /* Every table entry lies inside BoringSSL. */
    const void *const *fns = (const void *const *)b;
    for (size_t i = 0; i < sizeof(struct ed_bssl) / sizeof(void *); i++)
        cr_expect(ed_bssl_contains(fns[i]), "table entry %zu outside BoringSSL", i);

    /* libssl: its own symbols bound inside it, its ~360 references to libcrypto bound inside
     * our libcrypto copy (not OpenSSL's libcrypto.so.3, where glibc first bound those whose
     * names OpenSSL also exports: the loader rebinds them, and counts them), the rest (libc,
     * libstdc++) in no OpenSSL. */
    cr_expect_gt(bind.ssl_own, 0, "libssl own relocations: %u", bind.ssl_own);
    cr_expect_gt(bind.ssl_crypto, 200, "libssl -> libcrypto relocations: %u", bind.ssl_crypto);
    cr_expect_gt(bind.ssl_external, 10, "libssl imports: %u", bind.ssl_external);
    cr_expect_gt(bind.ssl_rebound, 50, "libssl references glibc bound to OpenSSL: %u",
                 bind.ssl_rebound);
    cr_log_info("libssl from %s: %u own, %u into libcrypto (%u rebound from OpenSSL), %u imports",
                bind.ssl_path, bind.ssl_own, bind.ssl_crypto, bind.ssl_rebound, bind.ssl_external);

    /* A libssl function that calls into libcrypto reaches BoringSSL: an SSL_CTX is made with
     * BoringSSL's allocator and X509 store (OpenSSL's would crash or misbehave here). */
    SSL_CTX *ctx = b->SSL_CTX_new(b->TLS_method());
    cr_assert_not_null(ctx);
    cr_expect_eq(b->SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION), 1);
    b->SSL_CTX_free(ctx);

    /* BoringSSL's names are not in the global scope: nothing else can bind to them, and the
     * process's SHA256 (if any) is OpenSSL's, not BoringSSL's. */
    cr_expect_null(dlsym(RTLD_DEFAULT, "BORINGSSL_self_test"));
    cr_expect_null(dlsym(RTLD_DEFAULT, "SSL_CTX_set_strict_cipher_list"));
    void *global_sha = dlsym(RTLD_DEFAULT, "SHA256");
    if (global_sha)
        cr_expect_not(ed_bssl_contains(global_sha));
}

Test(crypto, boringssl_known_answers)
{
    const struct ed_bssl *b = ed_bssl();
    cr_assert_not_null(b);
    uint8_t out[128];
    unsigned len = 0;

    /* FIPS 180-2 appendix B.1: SHA-256("abc") */
    cr_assert(b->EVP_Digest("abc", 3, out, &len, b->EVP_sha256(), NULL));
    expect_hex(out, len, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* RFC 4231 test case 1: HMAC-SHA-256 */
    uint8_t key[20];
    memset(key, 0x0b, sizeof key);
    cr_assert(b->HMAC(b->EVP_sha256(), key, sizeof key, (const uint8_t *)"Hi There", 8, out, &len));
    expect_hex(out, len, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* The GCM specification's test case 4 (AES-128, 60 bytes, additional data) */
    uint8_t k[16], iv[12], aad[20], pt[60];
    unhex("feffe9928665731c6d6a8f9467308308", k, 16);
    unhex("cafebabefacedbaddecaf888", iv, 12);
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20);
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
          "49a6b525b16aedf5aa0de657ba637b39",
          pt, 60);
    EVP_AEAD_CTX ctx;
    b->EVP_AEAD_CTX_zero(&ctx);
    cr_assert(b->EVP_AEAD_CTX_init(&ctx, b->EVP_aead_aes_128_gcm(), k, 16, 16, NULL));
    size_t n = 0;
    cr_assert(b->EVP_AEAD_CTX_seal(&ctx, out, &n, sizeof out, iv, 12, pt, 60, aad, 20));
    b->EVP_AEAD_CTX_cleanup(&ctx);
    expect_hex(out, n,
               "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d"
               "8f6a5aac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47");

    /* RFC 8032 section 7.1, test 1: Ed25519 of the empty message */
    uint8_t seed[32], pub[32], priv[64], sig[64];
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
    b->ED25519_keypair_from_seed(pub, priv, seed);
    expect_hex(pub, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    cr_assert(b->ED25519_sign(sig, (const uint8_t *)"", 0, priv));
    expect_hex(sig, 64,
               "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc6"
               "1e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    cr_expect_eq(b->ED25519_verify((const uint8_t *)"", 0, sig, pub), 1);
    sig[0] ^= 1;
    cr_expect_eq(b->ED25519_verify((const uint8_t *)"", 0, sig, pub), 0);
}

/* ---- through crypto.subtle in a worker ---------------------------------------------------- */

#define PRELUDE                                                                                \
    "const failures = [];\n"                                                                   \
    "const show = (v) => { try { return JSON.stringify(v); } catch { return String(v); } };\n" \
    "function eq(got, want, what) {\n"                                                         \
    "  if (!Object.is(got, want) && show(got) !== show(want))\n"                               \
    "    failures.push(`${what}: got ${show(got)}, want ${show(want)}`);\n"                    \
    "}\n"                                                                                      \
    "const hex = (b) => Array.from(new Uint8Array(b.buffer ? b.buffer.slice(b.byteOffset,"     \
    "  b.byteOffset + b.byteLength) : b), (x) => x.toString(16).padStart(2, '0')).join('');\n" \
    "const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));\n"       \
    "const utf8 = (s) => new TextEncoder().encode(s);\n"                                       \
    "function throwsName(fn, name, what) {\n"                                                  \
    "  try { fn(); failures.push(`${what}: did not throw`); }\n"                               \
    "  catch (e) { if (e.name !== name) failures.push(`${what}: threw ${e}`); }\n"             \
    "}\n"                                                                                      \
    "async function rejects(p, name, what) {\n"                                                \
    "  let r;\n"                                                                               \
    "  try { r = typeof p === 'function' ? p() : p; } catch (e) {\n"                           \
    "    failures.push(`${what}: threw synchronously ${e}`); return; }\n"                      \
    "  if (!(r instanceof Promise)) { failures.push(`${what}: no promise`); return; }\n"       \
    "  try { await r; failures.push(`${what}: did not reject`); }\n"                           \
    "  catch (e) {\n"                                                                          \
    "    if (e.name !== name) failures.push(`${what}: rejected with ${e}, want ${name}`);\n"   \
    "    else if (name !== 'TypeError' && !(e instanceof DOMException))\n"                     \
    "      failures.push(`${what}: ${name} is not a DOMException`);\n"                         \
    "  }\n"                                                                                    \
    "}\n"                                                                                      \
    "const S = crypto.subtle;\n"

#define CHECKS(body)                                                              \
    PRELUDE "export default { async fetch(request) {\ntry {\n" body               \
            "\n} catch (e) { failures.push('threw: ' + (e && e.stack || e)); }\n" \
            "return new Response(failures.length ? failures.join('\\n') : 'ok');\n} };"

static void expect_ok(const char *src)
{
    struct iso_worker *w = worker_ok(src);
    struct capture c;
    const char *body = get_ok(w, "http://example.com/", &c);
    cr_expect_str_eq(body, "ok");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(crypto, random)
{
    expect_ok(CHECKS(
        "const a = new Uint8Array(32);\n"
        "eq(crypto.getRandomValues(a), a, 'returns its argument');\n"
        "eq(a.some((x) => x !== 0), true, 'filled');\n"
        "for (const T of [Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,"
        "  Uint32Array, BigInt64Array, BigUint64Array]) crypto.getRandomValues(new T(4));\n"
        "eq(crypto.getRandomValues(new Uint8Array(65536)).length, 65536, 'the limit itself');\n"
        "throwsName(() => crypto.getRandomValues(new Uint8Array(65537)), 'QuotaExceededError',"
        "  'over 65536');\n"
        "throwsName(() => crypto.getRandomValues(new Float32Array(4)), 'TypeMismatchError',"
        "  'float');\n"
        "throwsName(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4))),"
        "  'TypeMismatchError', 'DataView');\n"
        "throwsName(() => crypto.getRandomValues([1, 2]), 'TypeError', 'array');\n"
        "try { crypto.getRandomValues(new Float64Array(1)); } catch (e) {\n"
        "  eq(e instanceof DOMException, true, 'a DOMException'); eq(e.code, 17, 'code'); }\n"
        "const u = crypto.randomUUID();\n"
        "eq(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u), true,"
        "  'uuid v4 ' + u);\n"
        "eq(crypto.randomUUID() !== u, true, 'unique');\n"
        "eq(crypto.subtle === crypto.subtle, true, 'one subtle');\n"
        "throwsName(() => new Crypto(), 'TypeError', 'Crypto constructor');\n"
        "throwsName(() => new SubtleCrypto(), 'TypeError', 'SubtleCrypto constructor');\n"
        "throwsName(() => new CryptoKey(), 'TypeError', 'CryptoKey constructor');\n"));
}

Test(crypto, digest_and_hmac)
{
    expect_ok(CHECKS(
        "const abc = utf8('abc');\n"
        "eq(hex(await S.digest('SHA-1', abc)), 'a9993e364706816aba3e25717850c26c9cd0d89d', 'sha1');\n"
        "eq(hex(await S.digest({ name: 'sha-256' }, abc)),"
        "  'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'sha256');\n"
        "eq(hex(await S.digest('SHA-384', abc.buffer)), 'cb00753f45a35e8bb5a03d699ac65007272c32ab0e"
        "ded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7', 'sha384');\n"
        "eq(hex(await S.digest('SHA-512', new DataView(abc.buffer))), 'ddaf35a193617abacc417349ae2"
        "0413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac"
        "94fa54ca49f', 'sha512');\n"
        "eq((await S.digest('SHA-256', new Uint8Array(0))).byteLength, 32, 'empty');\n"
        "await rejects(() => S.digest('MD5', abc), 'NotSupportedError', 'md5');\n"
        "await rejects(() => S.digest('SHA-256', 'abc'), 'TypeError', 'string data');\n"
        "await rejects(() => S.digest(42, abc), 'TypeError', 'number algorithm');\n"
        "await rejects(() => S.digest({}, abc), 'TypeError', 'no name');\n"
        "// RFC 4231 test cases 1 and 2\n"
        "const k1 = await S.importKey('raw', new Uint8Array(20).fill(11),"
        "  { name: 'HMAC', hash: 'SHA-256' }, true, ['sign', 'verify']);\n"
        "const mac = await S.sign('HMAC', k1, utf8('Hi There'));\n"
        "eq(hex(mac), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7', 'hmac 1');\n"
        "eq(await S.verify('HMAC', k1, mac, utf8('Hi There')), true, 'verify');\n"
        "const bad = new Uint8Array(mac.slice(0)); bad[0] ^= 1;\n"
        "eq(await S.verify('HMAC', k1, bad, utf8('Hi There')), false, 'tampered mac');\n"
        "eq(await S.verify('HMAC', k1, mac.slice(0, 31), utf8('Hi There')), false, 'short mac');\n"
        "const k2 = await S.importKey('jwk', { kty: 'oct', k: 'SmVmZQ', alg: 'HS512' },"
        "  { name: 'HMAC', hash: { name: 'SHA-512' } }, false, ['sign']);\n"
        "eq(hex(await S.sign('HMAC', k2, utf8('what do ya want for nothing?'))).slice(0, 32),"
        "  '164b7a7bfcf819e2e395fbe73b56e0a3', 'hmac 2 (jwk)');\n"
        "eq(k1.type, 'secret', 'type'); eq(k1.extractable, true, 'extractable');\n"
        "eq(k1.algorithm, { name: 'HMAC', hash: { name: 'SHA-256' }, length: 160 }, 'algorithm');\n"
        "eq(k1.algorithm === k1.algorithm, true, 'algorithm cached');\n"
        "eq(k1.usages, ['sign', 'verify'], 'usages');\n"
        "eq(await S.exportKey('jwk', k1), { kty: 'oct', k: 'CwsLCwsLCwsLCwsLCwsLCwsLCws', alg: 'HS256',"
        "  key_ops: ['sign', 'verify'], ext: true }, 'export jwk');\n"
        "eq(hex(await S.exportKey('raw', k1)), '0b'.repeat(20), 'export raw');\n"
        "await rejects(() => S.exportKey('raw', k2), 'InvalidAccessError', 'not extractable');\n"
        "await rejects(() => S.verify('HMAC', k2, mac, abc), 'InvalidAccessError', 'no verify usage');\n"
        "const g = await S.generateKey({ name: 'HMAC', hash: 'SHA-384' }, true, ['sign']);\n"
        "eq(g.algorithm.length, 1024, 'default length');\n"
        "await rejects(() => S.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, []),"
        "  'SyntaxError', 'no usages');\n"
        "await rejects(() => S.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['encrypt']),"
        "  'SyntaxError', 'bad usage');\n"
        "await rejects(() => S.generateKey({ name: 'HMAC' }, true, ['sign']), 'TypeError', 'no hash');\n"
        "await rejects(() => S.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 0 }, true,"
        "  ['sign']), 'OperationError', 'zero length');\n"
        "await rejects(() => S.importKey('raw', new Uint8Array(0), { name: 'HMAC', hash: 'SHA-256' },"
        "  true, ['sign']), 'DataError', 'empty key');\n"
        "await rejects(() => S.importKey('jwk', { kty: 'EC', k: 'AA' }, { name: 'HMAC',"
        "  hash: 'SHA-256' }, true, ['sign']), 'DataError', 'wrong kty');\n"
        "await rejects(() => S.importKey('jwk', { kty: 'oct', k: 'AA', alg: 'HS512' }, { name: 'HMAC',"
        "  hash: 'SHA-256' }, true, ['sign']), 'DataError', 'wrong alg');\n"
        "await rejects(() => S.importKey('spki', new Uint8Array(4), { name: 'HMAC', hash: 'SHA-256' },"
        "  true, ['sign']), 'NotSupportedError', 'spki hmac');\n"
        "await rejects(() => S.importKey('nope', new Uint8Array(4), { name: 'HMAC', hash: 'SHA-256' },"
        "  true, ['sign']), 'TypeError', 'bad format');\n"
        "await rejects(() => S.sign('HMAC', {}, abc), 'TypeError', 'a plain object as key');\n"
        "await rejects(() => S.sign('HMAC', Object.create(CryptoKey.prototype), abc), 'TypeError',"
        "  'a forged key');\n"
        "eq(Object.keys(k1).length, 0, 'no own properties');\n"
        "eq(JSON.stringify(k1), '{}', 'nothing to read');\n"
        "eq(S.timingSafeEqual(utf8('abc'), utf8('abc')), true, 'timingSafeEqual');\n"
        "eq(S.timingSafeEqual(utf8('abc'), utf8('abd').buffer), false, 'timingSafeEqual differs');\n"
        "throwsName(() => S.timingSafeEqual(utf8('ab'), utf8('abc')), 'TypeError', 'lengths');\n"
        "throwsName(() => S.timingSafeEqual('ab', 'ab'), 'TypeError', 'strings');\n"));
}

Test(crypto, aes)
{
    expect_ok(CHECKS(
        "const K = unhex('feffe9928665731c6d6a8f9467308308');\n"
        "const IV = unhex('cafebabefacedbaddecaf888');\n"
        "const AAD = unhex('feedfacedeadbeeffeedfacedeadbeefabaddad2');\n"
        "const P = unhex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c9595"
        "6809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');\n"
        "const key = await S.importKey('raw', K, 'AES-GCM', true, ['encrypt', 'decrypt']);\n"
        "const c = await S.encrypt({ name: 'AES-GCM', iv: IV, additionalData: AAD }, key, P);\n"
        "eq(hex(c), '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b254669"
        "31c7d8f6a5aac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47', 'gcm tc4');\n"
        "eq(hex(await S.decrypt({ name: 'AES-GCM', iv: IV, additionalData: AAD }, key, c)), hex(P),"
        "  'gcm decrypt');\n"
        "const t = new Uint8Array(c.slice(0)); t[5] ^= 1;\n"
        "await rejects(() => S.decrypt({ name: 'AES-GCM', iv: IV, additionalData: AAD }, key, t),"
        "  'OperationError', 'tampered ciphertext');\n"
        "await rejects(() => S.decrypt({ name: 'AES-GCM', iv: IV }, key, c), 'OperationError',"
        "  'missing aad');\n"
        "const c96 = await S.encrypt({ name: 'AES-GCM', iv: IV, tagLength: 96 }, key, P);\n"
        "eq(c96.byteLength, 60 + 12, 'tagLength 96');\n"
        "eq(hex(await S.decrypt({ name: 'AES-GCM', iv: IV, tagLength: 96 }, key, c96)), hex(P),"
        "  'tagLength 96 round trip');\n"
        "await rejects(() => S.encrypt({ name: 'AES-GCM', iv: IV, tagLength: 100 }, key, P),"
        "  'OperationError', 'bad tagLength');\n"
        "await rejects(() => S.encrypt({ name: 'AES-GCM', iv: new Uint8Array(0) }, key, P),"
        "  'OperationError', 'empty iv');\n"
        "await rejects(() => S.encrypt({ name: 'AES-GCM' }, key, P), 'TypeError', 'no iv');\n"
        "await rejects(() => S.decrypt({ name: 'AES-GCM', iv: IV }, key, new Uint8Array(8)),"
        "  'OperationError', 'shorter than the tag');\n"
        "await rejects(() => S.encrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, key, P),"
        "  'InvalidAccessError', 'key of another algorithm');\n"
        "await rejects(() => S.importKey('raw', new Uint8Array(15), 'AES-GCM', true, ['encrypt']),"
        "  'DataError', '15-byte key');\n"
        "await rejects(() => S.importKey('raw', K, 'AES-GCM', true, ['sign']), 'SyntaxError',"
        "  'sign usage');\n"
        "eq(await S.exportKey('jwk', key), { kty: 'oct', k: '_v_pkoZlcxxtao-UZzCDCA', alg: 'A128GCM',"
        "  key_ops: ['encrypt', 'decrypt'], ext: true }, 'jwk export');\n"
        "const kj = await S.importKey('jwk', await S.exportKey('jwk', key), { name: 'AES-GCM' }, true,"
        "  ['decrypt']);\n"
        "eq(hex(await S.decrypt({ name: 'AES-GCM', iv: IV, additionalData: AAD }, kj, c)), hex(P),"
        "  'jwk round trip');\n"
        "await rejects(() => S.importKey('jwk', { kty: 'oct', k: '_v_pkoZlcxxtao-UZzCDCA',"
        "  alg: 'A256GCM' }, 'AES-GCM', true, ['encrypt']), 'DataError', 'jwk alg mismatch');\n"
        "await rejects(() => S.importKey('jwk', { kty: 'oct', k: '_v_pkoZlcxxtao-UZzCDCA',"
        "  key_ops: ['decrypt'] }, 'AES-GCM', true, ['encrypt']), 'DataError', 'key_ops');\n"
        "await rejects(() => S.importKey('jwk', { kty: 'oct', k: '_v_pkoZlcxxtao-UZzCDCA',"
        "  ext: false }, 'AES-GCM', true, ['encrypt']), 'DataError', 'ext false');\n"
        "await rejects(() => S.importKey('jwk', { kty: 'oct', k: '***' }, 'AES-GCM', true,"
        "  ['encrypt']), 'DataError', 'bad base64url');\n"
        "const g = await S.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);\n"
        "eq(g.algorithm, { name: 'AES-GCM', length: 256 }, 'generated algorithm');\n"
        "await rejects(() => S.generateKey({ name: 'AES-GCM', length: 100 }, false, ['encrypt']),"
        "  'OperationError', 'length 100');\n"
        "// AES-CBC: NIST SP 800-38A F.2.1 block 1\n"
        "const kc = await S.importKey('raw', unhex('2b7e151628aed2a6abf7158809cf4f3c'), 'AES-CBC',"
        "  false, ['encrypt', 'decrypt']);\n"
        "const civ = unhex('000102030405060708090a0b0c0d0e0f');\n"
        "const cc = await S.encrypt({ name: 'AES-CBC', iv: civ }, kc,"
        "  unhex('6bc1bee22e409f96e93d7e117393172a'));\n"
        "eq(hex(cc).slice(0, 32), '7649abac8119b246cee98e9b12e9197d', 'cbc block 1');\n"
        "eq(cc.byteLength, 32, 'cbc padding block');\n"
        "eq(hex(await S.decrypt({ name: 'AES-CBC', iv: civ }, kc, cc)),"
        "  '6bc1bee22e409f96e93d7e117393172a', 'cbc decrypt');\n"
        "await rejects(() => S.decrypt({ name: 'AES-CBC', iv: civ }, kc, cc.slice(0, 16)),"
        "  'OperationError', 'cbc bad padding');\n"
        "await rejects(() => S.encrypt({ name: 'AES-CBC', iv: new Uint8Array(8) }, kc, cc),"
        "  'OperationError', 'cbc iv length');\n"
        "// AES-CTR: NIST SP 800-38A F.5.1 block 1\n"
        "const kt = await S.importKey('raw', unhex('2b7e151628aed2a6abf7158809cf4f3c'), 'AES-CTR',"
        "  false, ['encrypt', 'decrypt']);\n"
        "const ctr = unhex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');\n"
        "const ct = await S.encrypt({ name: 'AES-CTR', counter: ctr, length: 64 }, kt,"
        "  unhex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51'));\n"
        "eq(hex(ct), '874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff', 'ctr');\n"
        "await rejects(() => S.encrypt({ name: 'AES-CTR', counter: ctr, length: 1 }, kt,"
        "  new Uint8Array(48)), 'OperationError', 'ctr counter wraps');\n"
        "await rejects(() => S.encrypt({ name: 'AES-CTR', counter: ctr, length: 0 }, kt,"
        "  new Uint8Array(4)), 'OperationError', 'ctr length 0');\n"
        "// AES-KW: RFC 3394 4.1\n"
        "const kek = await S.importKey('raw', unhex('000102030405060708090a0b0c0d0e0f'), 'AES-KW',"
        "  false, ['wrapKey', 'unwrapKey']);\n"
        "const inner = await S.importKey('raw', unhex('00112233445566778899aabbccddeeff'), 'AES-GCM',"
        "  true, ['encrypt']);\n"
        "const wrapped = await S.wrapKey('raw', inner, kek, 'AES-KW');\n"
        "eq(hex(wrapped), '1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5', 'kw');\n"
        "const un = await S.unwrapKey('raw', wrapped, kek, 'AES-KW', 'AES-GCM', true, ['encrypt']);\n"
        "eq(hex(await S.exportKey('raw', un)), '00112233445566778899aabbccddeeff', 'unwrap');\n"
        "const w2 = new Uint8Array(wrapped.slice(0)); w2[3] ^= 1;\n"
        "await rejects(() => S.unwrapKey('raw', w2, kek, 'AES-KW', 'AES-GCM', true, ['encrypt']),"
        "  'OperationError', 'kw tampered');\n"
        "await rejects(() => S.encrypt('AES-KW', kek, P), 'NotSupportedError', 'kw encrypt');\n"
        "const wk = await S.importKey('raw', K, 'AES-GCM', false, ['wrapKey', 'unwrapKey']);\n"
        "await rejects(() => S.wrapKey('jwk', inner, key, { name: 'AES-GCM', iv: IV }),"
        "  'InvalidAccessError', 'no wrapKey usage');\n"
        "const jw = await S.wrapKey('jwk', inner, wk, { name: 'AES-GCM', iv: IV });\n"
        "const ju = await S.unwrapKey('jwk', jw, wk, { name: 'AES-GCM', iv: IV }, 'AES-GCM', false,"
        "  ['encrypt']);\n"
        "eq(ju.algorithm.length, 128, 'jwk wrapped with AES-GCM');\n"
        "await rejects(() => S.wrapKey('raw', g, kek, 'AES-KW'), 'InvalidAccessError',"
        "  'wrap a non-extractable key');\n"));
}

Test(crypto, ecdsa)
{
    expect_ok(CHECKS(
        "const pub = unhex('0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
        "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299');\n"
        "const pkcs8 = unhex('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104"
        "20c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721a1440342000460fed4ba255a9"
        "d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c"
        "2d7e9f5177a3c294d4462299');\n"
        "const alg = { name: 'ECDSA', namedCurve: 'P-256' };\n"
        "const sha = { name: 'ECDSA', hash: 'SHA-256' };\n"
        "// RFC 6979 A.2.5, P-256, SHA-256, \"sample\"\n"
        "const sig = unhex('efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
        "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');\n"
        "const pk = await S.importKey('raw', pub, alg, true, ['verify']);\n"
        "eq(await S.verify(sha, pk, sig, utf8('sample')), true, 'rfc 6979 signature');\n"
        "eq(await S.verify(sha, pk, sig, utf8('samplf')), false, 'other message');\n"
        "const bad = new Uint8Array(sig); bad[40] ^= 1;\n"
        "eq(await S.verify(sha, pk, bad, utf8('sample')), false, 'tampered signature');\n"
        "eq(await S.verify(sha, pk, sig.slice(1), utf8('sample')), false, 'short signature');\n"
        "const sk = await S.importKey('pkcs8', pkcs8, alg, true, ['sign']);\n"
        "eq(sk.type, 'private', 'private');\n"
        "const s2 = await S.sign(sha, sk, utf8('hello'));\n"
        "eq(s2.byteLength, 64, 'r||s');\n"
        "eq(await S.verify(sha, pk, s2, utf8('hello')), true, 'our signature verifies');\n"
        "eq(hex(await S.exportKey('pkcs8', sk)), hex(pkcs8), 'pkcs8 round trip');\n"
        "const spki = await S.exportKey('spki', pk);\n"
        "eq(hex(spki), '3059301306072a8648ce3d020106082a8648ce3d03010703420004' + hex(pub).slice(2),"
        "  'spki');\n"
        "const pk2 = await S.importKey('spki', spki, alg, true, ['verify']);\n"
        "eq(hex(await S.exportKey('raw', pk2)), hex(pub), 'spki round trip');\n"
        "const jwk = await S.exportKey('jwk', sk);\n"
        "eq([jwk.kty, jwk.crv, jwk.d.length, jwk.x.length, jwk.y.length], ['EC', 'P-256', 43, 43, 43],"
        "  'jwk');\n"
        "const sk3 = await S.importKey('jwk', jwk, alg, false, ['sign']);\n"
        "eq(await S.verify(sha, pk, await S.sign(sha, sk3, utf8('x')), utf8('x')), true, 'jwk key');\n"
        "const pjwk = await S.exportKey('jwk', pk);\n"
        "eq(pjwk.d, undefined, 'public jwk has no d');\n"
        "const badjwk = { ...jwk, x: pjwk.y };\n"
        "await rejects(() => S.importKey('jwk', badjwk, alg, true, ['sign']), 'DataError',"
        "  'jwk point not on the curve');\n"
        "await rejects(() => S.importKey('raw', pub.slice(0, 64), alg, true, ['verify']), 'DataError',"
        "  'short point');\n"
        "await rejects(() => S.importKey('raw', pub, { name: 'ECDSA', namedCurve: 'P-384' }, true,"
        "  ['verify']), 'DataError', 'wrong curve');\n"
        "await rejects(() => S.importKey('raw', pub, { name: 'ECDSA', namedCurve: 'P-999' }, true,"
        "  ['verify']), 'NotSupportedError', 'unknown curve');\n"
        "await rejects(() => S.importKey('spki', pkcs8, alg, true, ['verify']), 'DataError',"
        "  'pkcs8 as spki');\n"
        "await rejects(() => S.importKey('raw', pub, alg, true, ['sign']), 'SyntaxError',"
        "  'sign with a public key');\n"
        "await rejects(() => S.exportKey('raw', sk), 'InvalidAccessError', 'raw private');\n"
        "await rejects(() => S.exportKey('spki', sk), 'InvalidAccessError', 'spki of private');\n"
        "await rejects(() => S.exportKey('pkcs8', pk), 'InvalidAccessError', 'pkcs8 of public');\n"
        "await rejects(() => S.sign('ECDSA', sk, utf8('x')), 'TypeError', 'no hash');\n"
        "await rejects(() => S.sign(sha, pk, utf8('x')), 'InvalidAccessError', 'sign with public');\n"
        "const pair = await S.generateKey(alg, false, ['sign', 'verify']);\n"
        "eq(pair.publicKey.extractable, true, 'public always extractable');\n"
        "eq(pair.privateKey.extractable, false, 'private as asked');\n"
        "eq(pair.publicKey.usages, ['verify'], 'public usages');\n"
        "eq(pair.privateKey.algorithm, alg, 'algorithm');\n"
        "const m = utf8('message');\n"
        "eq(await S.verify(sha, pair.publicKey, await S.sign(sha, pair.privateKey, m), m), true,"
        "  'generated pair');\n"
        "await rejects(() => S.generateKey(alg, true, ['verify']), 'SyntaxError', 'no sign usage');\n"
        "await rejects(() => S.generateKey({ name: 'ECDSA' }, true, ['sign']), 'TypeError',"
        "  'no namedCurve');\n"
        "const p384 = await S.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);\n"
        "const s384 = await S.sign({ name: 'ECDSA', hash: 'SHA-384' }, p384.privateKey, m);\n"
        "eq(s384.byteLength, 96, 'P-384 signature');\n"
        "eq(await S.verify({ name: 'ECDSA', hash: 'SHA-384' }, p384.publicKey, s384, m), true, 'P-384');\n"));
}

Test(crypto, ed25519)
{
    expect_ok(CHECKS(
        "// RFC 8032 7.1 test 1\n"
        "const seed = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';\n"
        "const pub = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';\n"
        "const want = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a3"
        "3bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';\n"
        "const sk = await S.importKey('pkcs8', unhex('302e020100300506032b657004220420' + seed),"
        "  'Ed25519', true, ['sign']);\n"
        "eq(hex(await S.sign('Ed25519', sk, new Uint8Array(0))), want, 'rfc 8032 test 1');\n"
        "const pk = await S.importKey('raw', unhex(pub), { name: 'Ed25519' }, true, ['verify']);\n"
        "eq(await S.verify('Ed25519', pk, unhex(want), new Uint8Array(0)), true, 'verify');\n"
        "const bad = unhex(want); bad[10] ^= 1;\n"
        "eq(await S.verify('Ed25519', pk, bad, new Uint8Array(0)), false, 'tampered');\n"
        "eq(await S.verify('Ed25519', pk, unhex(want), utf8('x')), false, 'other message');\n"
        "eq(hex(await S.exportKey('spki', pk)), '302a300506032b6570032100' + pub, 'spki');\n"
        "eq(hex(await S.exportKey('pkcs8', sk)), '302e020100300506032b657004220420' + seed, 'pkcs8');\n"
        "const jwk = await S.exportKey('jwk', sk);\n"
        "eq([jwk.kty, jwk.crv, jwk.x, jwk.d], ['OKP', 'Ed25519',"
        "  '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',"
        "  'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A'], 'jwk');\n"
        "const sk2 = await S.importKey('jwk', jwk, 'Ed25519', false, ['sign']);\n"
        "eq(hex(await S.sign('Ed25519', sk2, new Uint8Array(0))), want, 'jwk import');\n"
        "await rejects(() => S.importKey('jwk', { ...jwk, x: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },"
        "  'Ed25519', true, ['sign']), 'DataError', 'x not of d');\n"
        "await rejects(() => S.importKey('raw', new Uint8Array(31), 'Ed25519', true, ['verify']),"
        "  'DataError', 'short key');\n"
        "await rejects(() => S.importKey('pkcs8', unhex('3059301306072a8648ce3d020106082a8648ce3d0301"
        "07034200'), 'Ed25519', true, ['sign']), 'DataError', 'garbage pkcs8');\n"
        "const pair = await S.generateKey({ name: 'NODE-ED25519', namedCurve: 'NODE-ED25519' }, true,"
        "  ['sign', 'verify']);\n"
        "eq(pair.privateKey.algorithm, { name: 'NODE-ED25519', namedCurve: 'NODE-ED25519' },"
        "  'Workers naming');\n"
        "const alg = { name: 'NODE-ED25519', namedCurve: 'NODE-ED25519' };\n"
        "const s = await S.sign(alg, pair.privateKey, utf8('m'));\n"
        "eq(await S.verify(alg, pair.publicKey, s, utf8('m')), true, 'NODE-ED25519 round trip');\n"
        "await rejects(() => S.sign('Ed25519', pair.privateKey, utf8('m')), 'InvalidAccessError',"
        "  'key of the other name');\n"
        "await rejects(() => S.generateKey({ name: 'NODE-ED25519', namedCurve: 'P-256' }, true,"
        "  ['sign']), 'NotSupportedError', 'wrong namedCurve');\n"
        "const g = await S.generateKey('Ed25519', false, ['sign', 'verify']);\n"
        "eq(await S.verify('Ed25519', g.publicKey, await S.sign('Ed25519', g.privateKey, utf8('z')),"
        "  utf8('z')), true, 'generated');\n"
        "await rejects(() => S.exportKey('raw', g.privateKey), 'InvalidAccessError', 'not extractable');\n"
        "eq((await S.exportKey('raw', g.publicKey)).byteLength, 32, 'raw public');\n"));
}

Test(crypto, derive)
{
    expect_ok(CHECKS(
        "// RFC 6070 test 2 (PBKDF2-HMAC-SHA1, 2 iterations)\n"
        "const pw = await S.importKey('raw', utf8('password'), 'PBKDF2', false, ['deriveBits',"
        "  'deriveKey']);\n"
        "eq(hex(await S.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: utf8('salt'),"
        "  iterations: 2 }, pw, 160)), 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957', 'pbkdf2');\n"
        "await rejects(() => S.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: utf8('salt'),"
        "  iterations: 200000 }, pw, 160), 'NotSupportedError', 'too many iterations');\n"
        "await rejects(() => S.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: utf8('salt'),"
        "  iterations: 0 }, pw, 160), 'OperationError', 'zero iterations');\n"
        "await rejects(() => S.importKey('raw', utf8('pw'), 'PBKDF2', true, ['deriveBits']),"
        "  'SyntaxError', 'extractable PBKDF2');\n"
        "const aes = await S.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt: utf8('s'),"
        "  iterations: 10 }, pw, { name: 'AES-GCM', length: 256 }, true, ['encrypt']);\n"
        "eq(aes.algorithm, { name: 'AES-GCM', length: 256 }, 'deriveKey');\n"
        "// RFC 5869 test case 1\n"
        "const ikm = await S.importKey('raw', new Uint8Array(22).fill(11), 'HKDF', false,"
        "  ['deriveBits']);\n"
        "eq(hex(await S.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: unhex('000102030405060708090a0b0c'),"
        "  info: unhex('f0f1f2f3f4f5f6f7f8f9') }, ikm, 336)), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90"
        "cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865', 'hkdf');\n"
        "await rejects(() => S.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0),"
        "  info: new Uint8Array(0) }, ikm, 12), 'OperationError', 'not a multiple of 8');\n"
        "await rejects(() => S.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0),"
        "  info: new Uint8Array(0) }, ikm, { name: 'AES-GCM', length: 128 }, true, ['encrypt']),"
        "  'InvalidAccessError', 'no deriveKey usage');\n"));
}

/* Inputs of several MiB go through in one call (bounded by the worker's memory limit). */
Test(crypto, large_input)
{
    expect_ok(CHECKS("const big = new Uint8Array(8 << 20);\n"
                     "eq((await S.digest('SHA-256', big)).byteLength, 32, '8 MiB digest');\n"
                     "const k = await S.generateKey({ name: 'AES-GCM', length: 128 }, false,"
                     "  ['encrypt', 'decrypt']);\n"
                     "const iv = new Uint8Array(12);\n"
                     "const c = await S.encrypt({ name: 'AES-GCM', iv }, k, big);\n"
                     "eq((await S.decrypt({ name: 'AES-GCM', iv }, k, c)).byteLength, 8 << 20,"
                     "  '8 MiB round trip');\n"));
}

/* A child made from a pooled isolate (the runtime snapshot, natives as external references)
 * has Web Crypto working, and two isolates draw different random bytes. */
Test(crypto, pooled_child_from_the_snapshot)
{
    cr_assert_eq(iso_pool_fill(0, 1, UINT64_MAX), 1, "the runtime snapshot is available");
    static const char src[] =
        "export default { async fetch() {\n"
        "  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'));\n"
        "  const r = crypto.getRandomValues(new Uint8Array(16)).join(',');\n"
        "  return new Response(new Uint8Array(d)[0].toString(16) + ' ' + r);\n"
        "} };";
    struct iso_module m = {"worker.js", src, sizeof src - 1, ISO_MODULE_ESM};
    struct iso_worker_config cfg = {
        .tenant = "t",
        .worker = "w",
        .modules = &m,
        .n_modules = 1,
        .main_module = "worker.js",
        .child = true,
    };
    struct iso_worker *a = NULL, *b = NULL;
    struct ed_error err = {0};
    cr_assert_eq(iso_worker_new(&cfg, &a, &err), 0, "%s", ed_error_msg(&err));
    cr_assert_eq(iso_pool_size(0), 0, "the child took the pooled isolate");
    cr_assert_eq(iso_worker_new(&cfg, &b, &err), 0, "%s", ed_error_msg(&err));
    struct capture ca, cb;
    const char *ra = get_ok(a, "http://x/", &ca), *rb = get_ok(b, "http://x/", &cb);
    cr_expect_eq(strncmp(ra, "ba ", 3), 0, "%s", ra);
    cr_expect_eq(strncmp(rb, "ba ", 3), 0, "%s", rb);
    cr_expect_str_neq(ra, rb);
    capture_dispose(&ca);
    capture_dispose(&cb);
    iso_worker_free(a);
    iso_worker_free(b);
}
