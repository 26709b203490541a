/*
 * The native half of Web Crypto (isolates/js/45_crypto.js): every primitive runs in BoringSSL,
 * called through common/boringssl's checked table (never a direct call: libnode's OpenSSL
 * exports the same names). The functions are deliberately dumb: JavaScript validates
 * algorithms, usages and lengths, keeps key material inside unforgeable CryptoKey objects,
 * allocates every output buffer (so a refused allocation is a RangeError, not V8's fatal OOM)
 * and turns the status these return into the DOMException the spec names. Inputs arrive as
 * ArrayBufferViews, outputs as ArrayBuffers; the work runs inline on the worker's thread, so
 * the watchdog counts it as the worker's CPU time. Each function still checks its argument
 * types and sizes, since a wrong call must not reach memory it does not own.
 */
#include <algorithm>
#include <climits>

#include "common/boringssl.h"
#include "isolates/shim_int.h"

namespace iso {

namespace {

/* Read-only bytes of an ArrayBufferView argument. */
struct In {
    const uint8_t *p = nullptr;
    size_t n = 0;
    std::vector<uint8_t> scratch;
    bool set(v8::Local<v8::Value> v)
    {
        if (!v->IsArrayBufferView())
            return false;
        v8::Local<v8::ArrayBufferView> view = v.As<v8::ArrayBufferView>();
        n = view->ByteLength();
        p = view_bytes(view, scratch);
        if (!p)
            p = reinterpret_cast<const uint8_t *>("");
        return true;
    }
};

/* Writable bytes of an ArrayBuffer argument (made by `new ArrayBuffer`: it has a store). */
struct Out {
    uint8_t *p = nullptr;
    size_t n = 0;
    bool set(v8::Local<v8::Value> v)
    {
        if (!v->IsArrayBuffer())
            return false;
        v8::Local<v8::ArrayBuffer> ab = v.As<v8::ArrayBuffer>();
        n = ab->ByteLength();
        p = static_cast<uint8_t *>(ab->Data());
        return p != nullptr || n == 0;
    }
};

using Info = v8::FunctionCallbackInfo<v8::Value>;

void bad_args(const Info &info, const char *fn)
{
    v8::Isolate *isolate = info.GetIsolate();
    std::string msg = std::string(fn) + ": bad arguments";
    isolate->ThrowException(v8::Exception::TypeError(str(isolate, msg.c_str())));
}

/* The table, or nullptr with an exception thrown (iso_platform_init loads it first, so only a
 * process that started V8 without it gets here). */
const struct ed_bssl *lib(const Info &info)
{
    const struct ed_bssl *b = ed_bssl();
    if (!b)
        info.GetIsolate()->ThrowException(
            v8::Exception::Error(str(info.GetIsolate(), "crypto: BoringSSL is not loaded")));
    return b;
}

/* A failed BoringSSL call leaves errors on the thread's queue: drop them. */
void ret_status(const Info &info, const struct ed_bssl *b, int64_t v)
{
    if (v < 0)
        b->ERR_clear_error();
    info.GetReturnValue().Set(static_cast<double>(v));
}

bool int_arg(const Info &info, int i, int64_t lo, int64_t hi, int64_t *out)
{
    if (!info[i]->IsNumber())
        return false;
    double d = info[i].As<v8::Number>()->Value();
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
        return false;
    *out = (int64_t)d;
    return true;
}

const EVP_MD *md_of(const struct ed_bssl *b, int64_t id)
{
    switch (id) {
    case 1:
        return b->EVP_sha1();
    case 256:
        return b->EVP_sha256();
    case 384:
        return b->EVP_sha384();
    case 512:
        return b->EVP_sha512();
    default:
        return nullptr;
    }
}

/* Curves by their JS id (the P-number): NID, scalar bytes. */
struct Curve {
    int nid;
    size_t scalar;
};
bool curve_of(int64_t id, Curve *c)
{
    switch (id) {
    case 256:
        *c = {NID_X9_62_prime256v1, 32};
        return true;
    case 384:
        *c = {NID_secp384r1, 48};
        return true;
    case 521:
        *c = {NID_secp521r1, 66};
        return true;
    default:
        return false;
    }
}

size_t point_len(const Curve &c)
{
    return 1 + 2 * c.scalar;
}

/* native.cryptoRandom(view): fills the view (at most 65536 bytes) */
void random_fill(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    if (!info[0]->IsArrayBufferView())
        return bad_args(info, "cryptoRandom");
    v8::Local<v8::ArrayBufferView> view = info[0].As<v8::ArrayBufferView>();
    size_t n = view->ByteLength();
    if (n > 65536)
        return bad_args(info, "cryptoRandom");
    if (n == 0)
        return;
    /* An on-heap array gets its backing store here: at most 64 bytes, which the allocator
     * never refuses (allocator.cc). */
    uint8_t *p = static_cast<uint8_t *>(view->Buffer()->Data()) + view->ByteOffset();
    b->RAND_bytes(p, n);
}

/* native.cryptoDigest(hash, data, out) -> bytes written */
void digest(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t hash;
    In data;
    Out out;
    const EVP_MD *md;
    if (!int_arg(info, 0, 0, 512, &hash) || !(md = md_of(b, hash)) || !data.set(info[1]) ||
        !out.set(info[2]) || out.n < b->EVP_MD_size(md))
        return bad_args(info, "cryptoDigest");
    unsigned len = 0;
    if (!b->EVP_Digest(data.p, data.n, out.p, &len, md, nullptr))
        return ret_status(info, b, -1);
    ret_status(info, b, len);
}

/* native.cryptoHmac(hash, key, data, out) -> bytes written */
void hmac(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t hash;
    In key, data;
    Out out;
    const EVP_MD *md;
    if (!int_arg(info, 0, 0, 512, &hash) || !(md = md_of(b, hash)) || !key.set(info[1]) ||
        !data.set(info[2]) || !out.set(info[3]) || out.n < b->EVP_MD_size(md))
        return bad_args(info, "cryptoHmac");
    unsigned len = 0;
    if (!b->HMAC(md, key.p, key.n, data.p, data.n, out.p, &len))
        return ret_status(info, b, -1);
    ret_status(info, b, len);
}

/* native.cryptoGcm(encrypt, key, iv, aad, tagBytes, data, out) -> bytes written, or -1 when
 * the parameters are refused or (decrypting) the tag does not match */
void gcm(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    In key, iv, aad, data;
    Out out;
    int64_t tag;
    if (!info[0]->IsBoolean() || !key.set(info[1]) || !iv.set(info[2]) || !aad.set(info[3]) ||
        !int_arg(info, 4, 1, 16, &tag) || !data.set(info[5]) || !out.set(info[6]))
        return bad_args(info, "cryptoGcm");
    bool encrypt = info[0]->IsTrue();
    const EVP_AEAD *aead = key.n == 16   ? b->EVP_aead_aes_128_gcm()
                           : key.n == 24 ? b->EVP_aead_aes_192_gcm()
                           : key.n == 32 ? b->EVP_aead_aes_256_gcm()
                                         : nullptr;
    if (!aead || iv.n == 0)
        return ret_status(info, b, -1);
    if (encrypt ? out.n < data.n || out.n - data.n < (size_t)tag
                : data.n < (size_t)tag || out.n < data.n - (size_t)tag)
        return bad_args(info, "cryptoGcm");
    EVP_AEAD_CTX ctx;
    b->EVP_AEAD_CTX_zero(&ctx);
    if (!b->EVP_AEAD_CTX_init(&ctx, aead, key.p, key.n, (size_t)tag, nullptr))
        return ret_status(info, b, -1);
    size_t len = 0;
    int ok = encrypt ? b->EVP_AEAD_CTX_seal(&ctx, out.p, &len, out.n, iv.p, iv.n, data.p, data.n,
                                            aad.p, aad.n)
                     : b->EVP_AEAD_CTX_open(&ctx, out.p, &len, out.n, iv.p, iv.n, data.p, data.n,
                                            aad.p, aad.n);
    b->EVP_AEAD_CTX_cleanup(&ctx);
    ret_status(info, b, ok ? (int64_t)len : -1);
}

/* native.cryptoCbc(encrypt, key, iv, data, out) -> bytes written, or -1 (bad padding) */
void cbc(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    In key, iv, data;
    Out out;
    if (!info[0]->IsBoolean() || !key.set(info[1]) || !iv.set(info[2]) || !data.set(info[3]) ||
        !out.set(info[4]) || iv.n != 16 || data.n > INT_MAX - 32 || out.n < data.n + 16)
        return bad_args(info, "cryptoCbc");
    const EVP_CIPHER *cipher = key.n == 16   ? b->EVP_aes_128_cbc()
                               : key.n == 24 ? b->EVP_aes_192_cbc()
                               : key.n == 32 ? b->EVP_aes_256_cbc()
                                             : nullptr;
    if (!cipher)
        return ret_status(info, b, -1);
    EVP_CIPHER_CTX *ctx = b->EVP_CIPHER_CTX_new();
    if (!ctx)
        return ret_status(info, b, -1);
    int n1 = 0, n2 = 0;
    bool ok = b->EVP_CipherInit_ex(ctx, cipher, nullptr, key.p, iv.p, info[0]->IsTrue() ? 1 : 0) &&
              b->EVP_CipherUpdate(ctx, out.p, &n1, data.p, (int)data.n) &&
              b->EVP_CipherFinal_ex(ctx, out.p + n1, &n2);
    b->EVP_CIPHER_CTX_free(ctx);
    ret_status(info, b, ok ? (int64_t)n1 + n2 : -1);
}

/* Adds one to the low `bits` bits of a big-endian counter block, leaving the others. */
void counter_increment(uint8_t block[16], unsigned bits)
{
    for (int i = 15; i >= 0 && bits > 0; i--) {
        unsigned take = bits >= 8 ? 8 : bits;
        unsigned mask = (1u << take) - 1;
        unsigned low = ((block[i] & mask) + 1) & mask;
        block[i] = (uint8_t)((block[i] & ~mask) | low);
        bits -= take;
        if (low != 0)
            return;
    }
}

/* native.cryptoCtr(key, counter, lengthBits, data, out) -> bytes written, or -1 when the data
 * needs more blocks than the counter's `length` bits can count */
void ctr(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    In key, counter, data;
    Out out;
    int64_t bits;
    if (!key.set(info[0]) || !counter.set(info[1]) || !int_arg(info, 2, 1, 128, &bits) ||
        !data.set(info[3]) || !out.set(info[4]) || counter.n != 16 || out.n < data.n)
        return bad_args(info, "cryptoCtr");
    AES_KEY aes;
    if ((key.n != 16 && key.n != 24 && key.n != 32) ||
        b->AES_set_encrypt_key(key.p, (unsigned)key.n * 8, &aes) != 0)
        return ret_status(info, b, -1);
    uint64_t blocks = data.n / 16 + (data.n % 16 != 0);
    if (bits < 64 && blocks > (uint64_t)1 << bits)
        return ret_status(info, b, -1);
    uint8_t block[16], stream[16];
    memcpy(block, counter.p, 16);
    for (size_t at = 0; at < data.n; at += 16) {
        b->AES_encrypt(block, stream, &aes);
        size_t n = std::min<size_t>(16, data.n - at);
        for (size_t k = 0; k < n; k++)
            out.p[at + k] = data.p[at + k] ^ stream[k];
        counter_increment(block, (unsigned)bits);
    }
    ret_status(info, b, (int64_t)data.n);
}

/* native.cryptoKw(wrap, key, data, out) -> bytes written, or -1 (RFC 3394 AES key wrap;
 * unwrapping checks the integrity value) */
void kw(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    In key, data;
    Out out;
    if (!info[0]->IsBoolean() || !key.set(info[1]) || !data.set(info[2]) || !out.set(info[3]) ||
        out.n < data.n + 8)
        return bad_args(info, "cryptoKw");
    bool wrap = info[0]->IsTrue();
    if ((key.n != 16 && key.n != 24 && key.n != 32) || data.n < (wrap ? 16u : 24u) ||
        data.n % 8 != 0 || data.n > INT_MAX - 8)
        return ret_status(info, b, -1);
    AES_KEY aes;
    int rc = wrap ? b->AES_set_encrypt_key(key.p, (unsigned)key.n * 8, &aes)
                  : b->AES_set_decrypt_key(key.p, (unsigned)key.n * 8, &aes);
    if (rc != 0)
        return ret_status(info, b, -1);
    int len = wrap ? b->AES_wrap_key(&aes, nullptr, out.p, data.p, data.n)
                   : b->AES_unwrap_key(&aes, nullptr, out.p, data.p, data.n);
    ret_status(info, b, len < 0 ? -1 : len);
}

/* native.cryptoPbkdf2(hash, password, salt, iterations, out) -> 0 or -1; out is filled */
void pbkdf2(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t hash, iterations;
    In password, salt;
    Out out;
    const EVP_MD *md;
    if (!int_arg(info, 0, 0, 512, &hash) || !(md = md_of(b, hash)) || !password.set(info[1]) ||
        !salt.set(info[2]) || !int_arg(info, 3, 1, 100000, &iterations) || !out.set(info[4]))
        return bad_args(info, "cryptoPbkdf2");
    int ok = b->PKCS5_PBKDF2_HMAC(reinterpret_cast<const char *>(password.p), password.n, salt.p,
                                  salt.n, (unsigned)iterations, md, out.n, out.p);
    ret_status(info, b, ok ? 0 : -1);
}

/* native.cryptoHkdf(hash, ikm, salt, info, out) -> 0 or -1; out is filled */
void hkdf(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t hash;
    In ikm, salt, inf;
    Out out;
    const EVP_MD *md;
    if (!int_arg(info, 0, 0, 512, &hash) || !(md = md_of(b, hash)) || !ikm.set(info[1]) ||
        !salt.set(info[2]) || !inf.set(info[3]) || !out.set(info[4]))
        return bad_args(info, "cryptoHkdf");
    int ok = b->HKDF(out.p, out.n, md, ikm.p, ikm.n, salt.p, salt.n, inf.p, inf.n);
    ret_status(info, b, ok ? 0 : -1);
}

/* An EC_KEY on curve c from a private scalar and/or a public point (either may be absent, not
 * both); nullptr when they are not a valid key. Returns owned (free with EC_KEY_free). */
EC_KEY *ec_key(const struct ed_bssl *b, const Curve &c, const In *priv, const In *pub)
{
    EC_KEY *key = b->EC_KEY_new_by_curve_name(c.nid);
    if (!key)
        return nullptr;
    const EC_GROUP *group = b->EC_KEY_get0_group(key);
    BIGNUM *d = nullptr;
    EC_POINT *point = b->EC_POINT_new(group);
    bool ok = point != nullptr;
    if (ok && priv) {
        ok = priv->n == c.scalar && (d = b->BN_bin2bn(priv->p, priv->n, nullptr)) &&
             b->EC_KEY_set_private_key(key, d);
    }
    if (ok) {
        ok = pub ? pub->n > 0 && b->EC_POINT_oct2point(group, point, pub->p, pub->n, nullptr)
                 : priv && b->EC_POINT_mul(group, point, d, nullptr, nullptr, nullptr);
    }
    ok = ok && b->EC_KEY_set_public_key(key, point) && b->EC_KEY_check_key(key);
    b->EC_POINT_free(point);
    b->BN_free(d);
    if (!ok) {
        b->EC_KEY_free(key);
        b->ERR_clear_error();
        return nullptr;
    }
    return key;
}

bool put_public(const struct ed_bssl *b, const EC_KEY *key, const Curve &c, uint8_t *out,
                size_t cap)
{
    return cap >= point_len(c) &&
           b->EC_POINT_point2oct(b->EC_KEY_get0_group(key), b->EC_KEY_get0_public_key(key),
                                 POINT_CONVERSION_UNCOMPRESSED, out, point_len(c),
                                 nullptr) == point_len(c);
}

/* native.cryptoEcGenerate(curve, outPrivate, outPublic) -> 0 or -1 */
void ec_generate(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t id;
    Curve c;
    Out priv, pub;
    if (!int_arg(info, 0, 0, 521, &id) || !curve_of(id, &c) || !priv.set(info[1]) ||
        !pub.set(info[2]) || priv.n < c.scalar || pub.n < point_len(c))
        return bad_args(info, "cryptoEcGenerate");
    EC_KEY *key = b->EC_KEY_new_by_curve_name(c.nid);
    bool ok = key && b->EC_KEY_generate_key(key) &&
              b->BN_bn2bin_padded(priv.p, c.scalar, b->EC_KEY_get0_private_key(key)) &&
              put_public(b, key, c, pub.p, pub.n);
    b->EC_KEY_free(key);
    ret_status(info, b, ok ? 0 : -1);
}

/* native.cryptoEcCheck(curve, private | null, public | null, outPublic) -> 0 when they make a
 * valid key (outPublic: its point, uncompressed; derived when public is null), else -1 */
void ec_check(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t id;
    Curve c;
    In priv, pub;
    Out out;
    bool has_priv = !info[1]->IsNull(), has_pub = !info[2]->IsNull();
    if (!int_arg(info, 0, 0, 521, &id) || !curve_of(id, &c) || (has_priv && !priv.set(info[1])) ||
        (has_pub && !pub.set(info[2])) || (!has_priv && !has_pub) || !out.set(info[3]))
        return bad_args(info, "cryptoEcCheck");
    EC_KEY *key = ec_key(b, c, has_priv ? &priv : nullptr, has_pub ? &pub : nullptr);
    bool ok = key && put_public(b, key, c, out.p, out.n);
    b->EC_KEY_free(key);
    ret_status(info, b, ok ? 0 : -1);
}

/* native.cryptoEcSign(curve, hash, private, data, out) -> bytes written (r || s), or -1 */
void ec_sign(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t id, hash;
    Curve c;
    const EVP_MD *md;
    In priv, data;
    Out out;
    if (!int_arg(info, 0, 0, 521, &id) || !curve_of(id, &c) || !int_arg(info, 1, 0, 512, &hash) ||
        !(md = md_of(b, hash)) || !priv.set(info[2]) || !data.set(info[3]) || !out.set(info[4]) ||
        out.n < 2 * c.scalar)
        return bad_args(info, "cryptoEcSign");
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EC_KEY *key = ec_key(b, c, &priv, nullptr);
    ECDSA_SIG *sig = nullptr;
    bool ok = key && b->EVP_Digest(data.p, data.n, digest, &dlen, md, nullptr) &&
              (sig = b->ECDSA_do_sign(digest, dlen, key));
    if (ok) {
        const BIGNUM *r, *s;
        b->ECDSA_SIG_get0(sig, &r, &s);
        ok = b->BN_bn2bin_padded(out.p, c.scalar, r) &&
             b->BN_bn2bin_padded(out.p + c.scalar, c.scalar, s);
    }
    b->ECDSA_SIG_free(sig);
    b->EC_KEY_free(key);
    ret_status(info, b, ok ? (int64_t)(2 * c.scalar) : -1);
}

/* native.cryptoEcVerify(curve, hash, public, signature, data) -> bool */
void ec_verify(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t id, hash;
    Curve c;
    const EVP_MD *md;
    In pub, sig, data;
    if (!int_arg(info, 0, 0, 521, &id) || !curve_of(id, &c) || !int_arg(info, 1, 0, 512, &hash) ||
        !(md = md_of(b, hash)) || !pub.set(info[2]) || !sig.set(info[3]) || !data.set(info[4]))
        return bad_args(info, "cryptoEcVerify");
    if (sig.n != 2 * c.scalar)
        return info.GetReturnValue().Set(false);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EC_KEY *key = ec_key(b, c, nullptr, &pub);
    ECDSA_SIG *s = b->ECDSA_SIG_new();
    BIGNUM *r_bn = b->BN_bin2bn(sig.p, c.scalar, nullptr);
    BIGNUM *s_bn = b->BN_bin2bn(sig.p + c.scalar, c.scalar, nullptr);
    bool ok = key && s && r_bn && s_bn && b->ECDSA_SIG_set0(s, r_bn, s_bn);
    if (ok)
        r_bn = s_bn = nullptr; /* s owns them now */
    ok = ok && b->EVP_Digest(data.p, data.n, digest, &dlen, md, nullptr) &&
         b->ECDSA_do_verify(digest, dlen, s, key) == 1;
    b->BN_free(r_bn);
    b->BN_free(s_bn);
    b->ECDSA_SIG_free(s);
    b->EC_KEY_free(key);
    b->ERR_clear_error();
    info.GetReturnValue().Set(ok);
}

/* native.cryptoEdGenerate(outSeed, outPublic) */
void ed_generate(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    Out seed, pub;
    if (!seed.set(info[0]) || !pub.set(info[1]) || seed.n < 32 || pub.n < 32)
        return bad_args(info, "cryptoEdGenerate");
    uint8_t priv[64];
    b->ED25519_keypair(pub.p, priv);
    memcpy(seed.p, priv, 32);
    memset(priv, 0, sizeof priv);
}

/* native.cryptoEdPublic(seed, outPublic) */
void ed_public(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    In seed;
    Out pub;
    if (!seed.set(info[0]) || !pub.set(info[1]) || seed.n != 32 || pub.n < 32)
        return bad_args(info, "cryptoEdPublic");
    uint8_t priv[64];
    b->ED25519_keypair_from_seed(pub.p, priv, seed.p);
    memset(priv, 0, sizeof priv);
}

/* native.cryptoEdSign(seed, data, out) -> 64 or -1 */
void ed_sign(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    In seed, data;
    Out out;
    if (!seed.set(info[0]) || !data.set(info[1]) || !out.set(info[2]) || seed.n != 32 || out.n < 64)
        return bad_args(info, "cryptoEdSign");
    uint8_t pub[32], priv[64];
    b->ED25519_keypair_from_seed(pub, priv, seed.p);
    int ok = b->ED25519_sign(out.p, data.p, data.n, priv);
    memset(priv, 0, sizeof priv);
    ret_status(info, b, ok ? 64 : -1);
}

/* native.cryptoEdVerify(public, signature, data) -> bool */
void ed_verify(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    In pub, sig, data;
    if (!pub.set(info[0]) || !sig.set(info[1]) || !data.set(info[2]))
        return bad_args(info, "cryptoEdVerify");
    bool ok = pub.n == 32 && sig.n == 64 && b->ED25519_verify(data.p, data.n, sig.p, pub.p) == 1;
    info.GetReturnValue().Set(ok);
}

/* native.cryptoDerParse(spki, der, out) -> [kind, curve, privateLength, publicLength] with the
 * private key (EC scalar or Ed25519 seed; none for spki) then the public key (EC point,
 * uncompressed, or Ed25519 key) in out; null when der is no key of a kind we support. kind:
 * "EC" (curve: 256, 384, 521) or "Ed25519" (curve 0). */
void der_parse(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    v8::Isolate *isolate = info.GetIsolate();
    In der;
    Out out;
    if (!info[0]->IsBoolean() || !der.set(info[1]) || !out.set(info[2]) || out.n < 256)
        return bad_args(info, "cryptoDerParse");
    bool spki = info[0]->IsTrue();
    CBS cbs;
    b->CBS_init(&cbs, der.p, der.n);
    EVP_PKEY *pkey = spki ? b->EVP_parse_public_key(&cbs) : b->EVP_parse_private_key(&cbs);
    const char *kind = nullptr;
    int64_t curve = 0;
    size_t priv_len = 0, pub_len = 0;
    if (pkey && b->CBS_len(&cbs) == 0) {
        if (b->EVP_PKEY_id(pkey) == EVP_PKEY_ED25519) {
            size_t n = 32;
            bool ok = spki || (b->EVP_PKEY_get_raw_private_key(pkey, out.p, &n) && n == 32);
            priv_len = spki ? 0 : 32;
            n = 32;
            if (ok && b->EVP_PKEY_get_raw_public_key(pkey, out.p + priv_len, &n) && n == 32) {
                kind = "Ed25519";
                pub_len = 32;
            }
        } else if (b->EVP_PKEY_id(pkey) == EVP_PKEY_EC) {
            const EC_KEY *key = b->EVP_PKEY_get0_EC_KEY(pkey);
            int nid = key ? b->EC_GROUP_get_curve_name(b->EC_KEY_get0_group(key)) : 0;
            Curve c;
            for (int64_t id : {256, 384, 521})
                if (curve_of(id, &c) && c.nid == nid)
                    curve = id;
            if (curve && curve_of(curve, &c)) {
                const BIGNUM *d = b->EC_KEY_get0_private_key(key);
                bool ok = spki || (d && b->BN_bn2bin_padded(out.p, c.scalar, d));
                priv_len = spki ? 0 : c.scalar;
                if (ok && b->EC_KEY_get0_public_key(key) &&
                    put_public(b, key, c, out.p + priv_len, out.n - priv_len)) {
                    kind = "EC";
                    pub_len = point_len(c);
                }
            }
        }
    }
    b->EVP_PKEY_free(pkey);
    b->ERR_clear_error();
    if (!kind)
        return info.GetReturnValue().SetNull();
    v8::Local<v8::Value> parts[4] = {str(isolate, kind), v8::Number::New(isolate, (double)curve),
                                     v8::Number::New(isolate, (double)priv_len),
                                     v8::Number::New(isolate, (double)pub_len)};
    info.GetReturnValue().Set(v8::Array::New(isolate, parts, 4));
}

/* native.cryptoDerExport(spki, curve, private | null, public, out) -> bytes written, or -1;
 * curve 0 is Ed25519 (private: the seed), else the EC curve (private: the scalar) */
void der_export(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    int64_t id;
    In priv, pub;
    Out out;
    bool spki = info[0]->IsTrue(), has_priv = !info[2]->IsNull();
    Curve c = {0, 0};
    if (!info[0]->IsBoolean() || !int_arg(info, 1, 0, 521, &id) || (id && !curve_of(id, &c)) ||
        (has_priv && !priv.set(info[2])) || !pub.set(info[3]) || !out.set(info[4]) ||
        (!spki && !has_priv))
        return bad_args(info, "cryptoDerExport");
    EVP_PKEY *pkey = nullptr;
    if (id == 0) {
        pkey = spki ? b->EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub.p, pub.n)
                    : b->EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, priv.p, priv.n);
    } else {
        EC_KEY *key = ec_key(b, c, spki ? nullptr : &priv, &pub);
        if (key && (pkey = b->EVP_PKEY_new()) && !b->EVP_PKEY_set1_EC_KEY(pkey, key)) {
            b->EVP_PKEY_free(pkey);
            pkey = nullptr;
        }
        b->EC_KEY_free(key);
    }
    CBB cbb;
    uint8_t *der = nullptr;
    size_t len = 0;
    bool ok = pkey && b->CBB_init(&cbb, 256);
    if (ok) {
        ok = (spki ? b->EVP_marshal_public_key(&cbb, pkey)
                   : b->EVP_marshal_private_key(&cbb, pkey)) &&
             b->CBB_finish(&cbb, &der, &len);
        if (!ok)
            b->CBB_cleanup(&cbb);
    }
    ok = ok && len <= out.n;
    if (ok)
        memcpy(out.p, der, len);
    b->OPENSSL_free(der);
    b->EVP_PKEY_free(pkey);
    ret_status(info, b, ok ? (int64_t)len : -1);
}

/* native.cryptoTimingSafeEqual(a, b) -> bool (same lengths: the caller checks) */
void timing_safe_equal(const Info &info)
{
    const struct ed_bssl *b = lib(info);
    if (!b)
        return;
    In x, y;
    if (!x.set(info[0]) || !y.set(info[1]) || x.n != y.n)
        return bad_args(info, "cryptoTimingSafeEqual");
    info.GetReturnValue().Set(x.n == 0 || b->CRYPTO_memcmp(x.p, y.p, x.n) == 0);
}

/* No C++ exception (a std::vector's bad_alloc) may unwind through V8's frames. */
template <void (*F)(const Info &)> void guarded(const Info &info)
{
    try {
        F(info);
    } catch (...) {
        info.GetIsolate()->ThrowException(
            v8::Exception::RangeError(str(info.GetIsolate(), "crypto: out of memory")));
    }
}

} // namespace

const NativeFunction kCryptoNatives[] = {
    {"cryptoRandom", guarded<random_fill>, "45_crypto.js"},
    {"cryptoDigest", guarded<digest>, "45_crypto.js"},
    {"cryptoHmac", guarded<hmac>, "45_crypto.js"},
    {"cryptoGcm", guarded<gcm>, "45_crypto.js"},
    {"cryptoCbc", guarded<cbc>, "45_crypto.js"},
    {"cryptoCtr", guarded<ctr>, "45_crypto.js"},
    {"cryptoKw", guarded<kw>, "45_crypto.js"},
    {"cryptoPbkdf2", guarded<pbkdf2>, "45_crypto.js"},
    {"cryptoHkdf", guarded<hkdf>, "45_crypto.js"},
    {"cryptoEcGenerate", guarded<ec_generate>, "45_crypto.js"},
    {"cryptoEcCheck", guarded<ec_check>, "45_crypto.js"},
    {"cryptoEcSign", guarded<ec_sign>, "45_crypto.js"},
    {"cryptoEcVerify", guarded<ec_verify>, "45_crypto.js"},
    {"cryptoEdGenerate", guarded<ed_generate>, "45_crypto.js"},
    {"cryptoEdPublic", guarded<ed_public>, "45_crypto.js"},
    {"cryptoEdSign", guarded<ed_sign>, "45_crypto.js"},
    {"cryptoEdVerify", guarded<ed_verify>, "45_crypto.js"},
    {"cryptoDerParse", guarded<der_parse>, "45_crypto.js"},
    {"cryptoDerExport", guarded<der_export>, "45_crypto.js"},
    {"cryptoTimingSafeEqual", guarded<timing_safe_equal>, "45_crypto.js"},
    {nullptr, nullptr},
};

} // namespace iso
