/*
 * common/boringssl — BoringSSL (android-libboringssl-dev), reached only through a table of
 * function pointers. libnode links OpenSSL 3, which exports the same names (EVP_*, SHA256...),
 * and a plain link or dlopen lets the dynamic linker bind BoringSSL's own internal calls to
 * OpenSSL: with dlopen(RTLD_LOCAL), 1028 of the 1322 references libcrypto.so.0 makes to its
 * own symbols bound to libcrypto.so.3. RTLD_DEEPBIND would fix that, but the sanitizer runtime
 * refuses it (the ASan build must run), and dlmopen gives BoringSSL a second libc whose
 * pthread keys collide with the first's (BoringSSL keeps its error queue and RNG state in
 * one). So the loader copies libcrypto.so.0 into a memfd, sets DF_SYMBOLIC in the copy's
 * dynamic section (the library resolves its own symbols within itself first; libc comes from
 * the process as usual), dlopens the copy RTLD_LOCAL (its names never enter the global scope,
 * so nothing else can bind to them), resolves the table below with dlsym on that handle, and
 * then proves it: every relocation of the library against a symbol it defines must point
 * into the library, none may point into an OpenSSL, and every table entry must lie inside
 * the library. Nothing links libcrypto.so.0, so a direct call to a BoringSSL function fails
 * to link.
 *
 * libssl (the TLS client's) is loaded the same way, and DF_SYMBOLIC covers only its own
 * symbols: its calls into libcrypto are looked up in the global scope first, where OpenSSL's
 * libcrypto.so.3 sits, so glibc binds them there (the check counts how many). The loader
 * therefore rebinds them: every relocation of libssl against a symbol BoringSSL's libcrypto
 * defines is rewritten to that definition in our copy (libssl's constructors call nothing of
 * libcrypto, and nothing else of it runs before), and the check then proves, as for libcrypto,
 * that each of libssl's own symbols is bound inside libssl, each libcrypto symbol inside our
 * libcrypto copy, and no import inside an OpenSSL.
 * Prefix: ed_bssl.
 */
#ifndef EDGED_COMMON_BORINGSSL_H
#define EDGED_COMMON_BORINGSSL_H

#ifndef BORINGSSL_NO_CXX
#define BORINGSSL_NO_CXX /* BoringSSL's C++ helpers would call its functions directly */
#endif
#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/cipher.h>
#include <openssl/crypto.h>
#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hkdf.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every BoringSSL function edged calls. Add a name here to call it (as ed_bssl()->NAME). */
#define ED_BSSL_FUNCTIONS(X)         \
    X(OpenSSL_version)               \
    X(BORINGSSL_self_test)           \
    X(ERR_clear_error)               \
    X(RAND_bytes)                    \
    X(CRYPTO_memcmp)                 \
    X(OPENSSL_free)                  \
    X(EVP_sha1)                      \
    X(EVP_sha256)                    \
    X(EVP_sha384)                    \
    X(EVP_sha512)                    \
    X(EVP_MD_size)                   \
    X(EVP_Digest)                    \
    X(HMAC)                          \
    X(HKDF)                          \
    X(PKCS5_PBKDF2_HMAC)             \
    X(EVP_aead_aes_128_gcm)          \
    X(EVP_aead_aes_192_gcm)          \
    X(EVP_aead_aes_256_gcm)          \
    X(EVP_AEAD_CTX_zero)             \
    X(EVP_AEAD_CTX_init)             \
    X(EVP_AEAD_CTX_cleanup)          \
    X(EVP_AEAD_CTX_seal)             \
    X(EVP_AEAD_CTX_open)             \
    X(EVP_aes_128_cbc)               \
    X(EVP_aes_192_cbc)               \
    X(EVP_aes_256_cbc)               \
    X(EVP_CIPHER_CTX_new)            \
    X(EVP_CIPHER_CTX_free)           \
    X(EVP_CipherInit_ex)             \
    X(EVP_CipherUpdate)              \
    X(EVP_CipherFinal_ex)            \
    X(AES_set_encrypt_key)           \
    X(AES_set_decrypt_key)           \
    X(AES_encrypt)                   \
    X(AES_wrap_key)                  \
    X(AES_unwrap_key)                \
    X(BN_bin2bn)                     \
    X(BN_bn2bin_padded)              \
    X(BN_free)                       \
    X(EC_GROUP_get_curve_name)       \
    X(EC_GROUP_get0_order)           \
    X(EC_POINT_new)                  \
    X(EC_POINT_free)                 \
    X(EC_POINT_mul)                  \
    X(EC_POINT_oct2point)            \
    X(EC_POINT_point2oct)            \
    X(EC_KEY_new_by_curve_name)      \
    X(EC_KEY_free)                   \
    X(EC_KEY_get0_group)             \
    X(EC_KEY_get0_private_key)       \
    X(EC_KEY_get0_public_key)        \
    X(EC_KEY_set_private_key)        \
    X(EC_KEY_set_public_key)         \
    X(EC_KEY_check_key)              \
    X(EC_KEY_generate_key)           \
    X(ECDSA_SIG_new)                 \
    X(ECDSA_SIG_free)                \
    X(ECDSA_SIG_get0)                \
    X(ECDSA_SIG_set0)                \
    X(ECDSA_do_sign)                 \
    X(ECDSA_do_verify)               \
    X(ED25519_keypair)               \
    X(ED25519_keypair_from_seed)     \
    X(ED25519_sign)                  \
    X(ED25519_verify)                \
    X(EVP_PKEY_new)                  \
    X(EVP_PKEY_free)                 \
    X(EVP_PKEY_id)                   \
    X(EVP_PKEY_set1_EC_KEY)          \
    X(EVP_PKEY_get0_EC_KEY)          \
    X(EVP_PKEY_new_raw_private_key)  \
    X(EVP_PKEY_new_raw_public_key)   \
    X(EVP_PKEY_get_raw_private_key)  \
    X(EVP_PKEY_get_raw_public_key)   \
    X(EVP_parse_public_key)          \
    X(EVP_parse_private_key)         \
    X(EVP_marshal_public_key)        \
    X(EVP_marshal_private_key)       \
    X(CBS_init)                      \
    X(CBS_len)                       \
    X(CBB_init)                      \
    X(CBB_finish)                    \
    X(CBB_cleanup)                   \
    X(ERR_get_error)                 \
    X(ERR_error_string_n)            \
    X(BIO_s_mem)                     \
    X(BIO_new)                       \
    X(BIO_free)                      \
    X(BIO_read)                      \
    X(BIO_write)                     \
    X(BIO_pending)                   \
    X(X509_VERIFY_PARAM_set1_host)   \
    X(X509_VERIFY_PARAM_set1_ip_asc) \
    X(X509_verify_cert_error_string)

/* Every libssl function edged calls (resolved in BoringSSL's libssl). */
#define ED_BSSL_SSL_FUNCTIONS(X)     \
    X(TLS_method)                    \
    X(SSL_CTX_new)                   \
    X(SSL_CTX_free)                  \
    X(SSL_CTX_set_min_proto_version) \
    X(SSL_CTX_set_verify)            \
    X(SSL_CTX_load_verify_locations) \
    X(SSL_new)                       \
    X(SSL_free)                      \
    X(SSL_set_bio)                   \
    X(SSL_set_connect_state)         \
    X(SSL_set_tlsext_host_name)      \
    X(SSL_set_alpn_protos)           \
    X(SSL_get0_param)                \
    X(SSL_do_handshake)              \
    X(SSL_read)                      \
    X(SSL_write)                     \
    X(SSL_shutdown)                  \
    X(SSL_get_error)                 \
    X(SSL_get_verify_result)         \
    X(SSL_get_version)

/* The table: one pointer per name, typed like BoringSSL's declaration. */
struct ed_bssl {
#define ED__BSSL_MEMBER(name) __typeof__(name) *name;
    ED_BSSL_FUNCTIONS(ED__BSSL_MEMBER)
    ED_BSSL_SSL_FUNCTIONS(ED__BSSL_MEMBER)
#undef ED__BSSL_MEMBER
};

/* Loads BoringSSL (libcrypto, then libssl) and checks its binding (once per process;
 * thread-safe; later calls return the first call's result). Returns 0 or a negative code with err (may be NULL) saying why
 * (ED_ENOENT: the library is missing; ED_EIO: it could not be copied or loaded; ED_EINVAL: it
 * is no x86-64 ELF library we can patch, or the binding check failed). */
int ed_bssl_load(struct ed_error *err);

/* The table once ed_bssl_load succeeded, else NULL. Borrowed: valid for the process's life. */
const struct ed_bssl *ed_bssl(void);

/* What the binding check found when the library was loaded (for tests and the operator). */
struct ed_bssl_binding {
    unsigned own;       /* libcrypto's relocations against its own symbols: all bound to itself */
    unsigned external;  /* libcrypto's relocations against imports (libc): none from OpenSSL */
    unsigned functions; /* table entries, all inside the two libraries */
    char path[64];      /* where the patched libcrypto copy was loaded from (/proc/self/fd/N) */
    /* libssl: relocations against its own symbols (bound inside it), against libcrypto's
     * (bound inside our libcrypto copy), and against other imports (libc, libstdc++: none
     * from an OpenSSL); how many of the libcrypto ones glibc had bound elsewhere (OpenSSL's
     * libcrypto.so.3) before the loader rebound them; and where the libssl copy came from. */
    unsigned ssl_own, ssl_crypto, ssl_external, ssl_rebound;
    char ssl_path[64];
};

/* Fills out with the check's figures; returns 0, or ED_EINVAL when BoringSSL is not loaded. */
int ed_bssl_binding(struct ed_bssl_binding *out);

/* Whether addr lies inside BoringSSL's loaded libcrypto or libssl (false when not loaded). */
bool ed_bssl_contains(const void *addr);

#ifdef __cplusplus
}
#endif

#endif
