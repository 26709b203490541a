/*
 * TLS for outbound requests: BoringSSL's client (through the checked table of
 * common/boringssl.h) over two memory BIOs, so the socket stays libuv's: ciphertext read from
 * the connection is fed in, ciphertext to send is taken out, plaintext goes through
 * SSL_read/SSL_write. Certificates are verified against the trust anchors of the context (the
 * system bundle, or --outbound-ca) and must name the host (SNI is sent for names, not for IP
 * literals, as RFC 6066 says); TLS 1.2 is the oldest version spoken.
 */
#include <stdlib.h>
#include <string.h>

#include "common/boringssl.h"
#include "edge/ob_int.h"

struct edge_tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct edge_tls {
    SSL *ssl;
    BIO *in, *out; /* owned by ssl: peer -> us, us -> peer */
};

/* BoringSSL's reason for a failure, for a message; empties the thread's error queue. */
static const char *error_text(const struct ed_bssl *b, uint32_t e, char *buf, size_t cap)
{
    while (b->ERR_get_error()) /* the queue is per thread: leave it empty */
        ;
    if (!e)
        return "unknown error";
    b->ERR_error_string_n(e, buf, cap);
    return buf;
}

static const char *last_error(const struct ed_bssl *b, char *buf, size_t cap)
{
    return error_text(b, b->ERR_get_error(), buf, cap);
}

int edge__tls_ctx_new(const char *ca_file, struct edge_tls_ctx **out, struct ed_error *err)
{
    int rc = ed_bssl_load(err);
    if (rc)
        return rc;
    const struct ed_bssl *b = ed_bssl();
    struct edge_tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    char why[160];
    c->ssl_ctx = b->SSL_CTX_new(b->TLS_method());
    if (!c->ssl_ctx) {
        rc = ed_error_set(err, ED_ENOMEM, "TLS: %s", last_error(b, why, sizeof why));
        goto out_free;
    }
    b->SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    b->SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    if (!b->SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, NULL)) {
        rc = ed_error_set(err, ED_ECONFIG, "cannot load trusted certificates from %s: %s", ca_file,
                          last_error(b, why, sizeof why));
        goto out_ctx;
    }
    *out = c;
    return 0;
out_ctx:
    b->SSL_CTX_free(c->ssl_ctx);
out_free:
    free(c);
    return rc;
}

void edge__tls_ctx_free(struct edge_tls_ctx *ctx)
{
    if (!ctx)
        return;
    ed_bssl()->SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

int edge__tls_new(struct edge_tls_ctx *ctx, const char *host, bool host_is_ip,
                  struct edge_tls **out, struct ed_error *err)
{
    const struct ed_bssl *b = ed_bssl();
    char why[160];
    struct edge_tls *t = calloc(1, sizeof *t);
    if (!t)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    t->ssl = b->SSL_new(ctx->ssl_ctx);
    t->in = b->BIO_new(b->BIO_s_mem());
    t->out = b->BIO_new(b->BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        if (t->in)
            b->BIO_free(t->in);
        if (t->out)
            b->BIO_free(t->out);
        if (t->ssl)
            b->SSL_free(t->ssl);
        free(t);
        return ed_error_set(err, ED_ENOMEM, "TLS: %s", last_error(b, why, sizeof why));
    }
    b->SSL_set_bio(t->ssl, t->in, t->out);
    b->SSL_set_connect_state(t->ssl);
    X509_VERIFY_PARAM *param = b->SSL_get0_param(t->ssl);
    /* (BoringSSL never accepts partial wildcards such as "f*.example.com": no flag needed) */
    static const uint8_t alpn[] = "\x08http/1.1";
    bool ok = host_is_ip ? b->X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1
                         : b->SSL_set_tlsext_host_name(t->ssl, host) == 1 &&
                               b->X509_VERIFY_PARAM_set1_host(param, host, strlen(host)) == 1;
    ok = ok && b->SSL_set_alpn_protos(t->ssl, alpn, sizeof alpn - 1) == 0;
    if (!ok) {
        edge__tls_free(t);
        return ed_error_set(err, ED_EINVAL, "TLS: cannot set up a session for %s: %s", host,
                            last_error(b, why, sizeof why));
    }
    *out = t;
    return 0;
}

void edge__tls_free(struct edge_tls *t)
{
    if (!t)
        return;
    ed_bssl()->SSL_free(t->ssl); /* frees both BIOs */
    free(t);
}

int edge__tls_feed(struct edge_tls *t, const void *data, size_t len)
{
    const struct ed_bssl *b = ed_bssl();
    while (len) {
        int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
        int n = b->BIO_write(t->in, data, chunk);
        if (n <= 0)
            return ED_ENOMEM;
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    return 0;
}

/* The failure of an SSL call that returned r, as a message. */
static int tls_failure(struct edge_tls *t, int r, const char *what, struct ed_error *err)
{
    const struct ed_bssl *b = ed_bssl();
    char why[200];
    int e = b->SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN)
        return ED_ECANCELED;
    uint32_t code = b->ERR_get_error();
    if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
        ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = b->SSL_get_verify_result(t->ssl);
        error_text(b, 0, why, sizeof why);
        return ed_error_set(err, ED_EIO, "the server's certificate is not trusted (%s)",
                            b->X509_verify_cert_error_string(v));
    }
    (void)what;
    if (!code && e == SSL_ERROR_SYSCALL)
        return ed_error_set(err, ED_EIO, "the connection was closed");
    return ed_error_set(err, ED_EIO, "%s", error_text(b, code, why, sizeof why));
}

int edge__tls_handshake(struct edge_tls *t, struct ed_error *err)
{
    const struct ed_bssl *b = ed_bssl();
    int r = b->SSL_do_handshake(t->ssl);
    if (r == 1)
        return 0;
    int e = b->SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 1;
    int rc = tls_failure(t, r, "handshake", err);
    return rc == ED_ECANCELED ? ed_error_set(err, ED_EIO, "the server closed the session") : rc;
}

int edge__tls_read(struct edge_tls *t, void *buf, size_t cap, struct ed_error *err)
{
    const struct ed_bssl *b = ed_bssl();
    int r = b->SSL_read(t->ssl, buf, cap > (1u << 30) ? 1 << 30 : (int)cap);
    if (r > 0)
        return r;
    int e = b->SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    return tls_failure(t, r, "read", err);
}

int edge__tls_write(struct edge_tls *t, const void *data, size_t len, struct ed_error *err)
{
    const struct ed_bssl *b = ed_bssl();
    while (len) {
        int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
        int r = b->SSL_write(t->ssl, data, chunk);
        if (r <= 0)
            return tls_failure(t, r, "write", err);
        data = (const char *)data + r;
        len -= (size_t)r;
    }
    return 0;
}

int edge__tls_take(struct edge_tls *t, struct ed_buf *out)
{
    const struct ed_bssl *b = ed_bssl();
    size_t n;
    while ((n = b->BIO_pending(t->out)) > 0) {
        if (ed_buf_reserve(out, n))
            return ED_ENOMEM;
        int got = b->BIO_read(t->out, out->data + out->len, n > (1u << 30) ? 1 << 30 : (int)n);
        if (got <= 0)
            break;
        out->len += (size_t)got;
        out->data[out->len] = '\0';
    }
    return 0;
}

const char *edge__tls_version(struct edge_tls *t)
{
    return ed_bssl()->SSL_get_version(t->ssl);
}
