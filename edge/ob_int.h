/*
 * Internal to edge/: outbound HTTP, the client behind workers' fetch(). Four parts, each
 * testable alone: URLs (parse an absolute http(s) URL, resolve a redirect's Location against
 * it), the operator's address rules (which resolved addresses a worker may connect to), TLS
 * over memory buffers (BoringSSL's libssl through common/boringssl.h: the socket stays libuv's),
 * and the client itself (one per shard: DNS, connect, request writing, response parsing with
 * llhttp, redirects, a keep-alive pool per tenant and origin, a response body handed out only
 * as fast as the worker reads it), which implements struct iso_fetcher.
 */
#ifndef EDGED_EDGE_OB_INT_H
#define EDGED_EDGE_OB_INT_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "common/common.h"
#include "isolates/isolates.h"

/* ---- URLs (ob_url.c) --------------------------------------------------------------------- */

struct edge_url {
    bool https;
    bool host_is_ip; /* an IPv4 or IPv6 literal: no DNS, no SNI */
    uint16_t port;
    char host[256]; /* lower-case; an IPv6 literal without its brackets */
    char *target;   /* owned: path and query as sent on the request line, at least "/" */
    char *href;     /* owned: the whole URL without its fragment, as Response.url shows it */
};

/* Parses an absolute http: or https: URL (no credentials; ASCII host; the fragment dropped;
 * bytes that may not appear in a request target percent-encoded). Returns 0 or ED_EINVAL
 * with a one-line message. On success out is owned (edge__url_dispose). */
int edge__url_parse(const char *s, size_t len, struct edge_url *out, struct ed_error *err);
/* Resolves a Location value against base (RFC 3986 section 5.2), then parses the result. */
int edge__url_resolve(const struct edge_url *base, const char *ref, size_t len,
                      struct edge_url *out, struct ed_error *err);
void edge__url_dispose(struct edge_url *u);
/* Same scheme, host and port. */
bool edge__url_same_origin(const struct edge_url *a, const struct edge_url *b);

/* ---- address rules (ob_net.c) ------------------------------------------------------------ */

struct edge_netrule {
    uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    unsigned prefix;  /* over the 128 bits */
    bool allow;
    bool builtin;     /* one of the defaults */
    const char *what; /* static: why a default denies ("link-local"...), or NULL */
};

/* What a worker may connect to: the longest matching rule decides (on a tie an operator's
 * rule beats a default, then a deny beats an allow), no rule means allowed; and never a port the node itself listens on at an address of this
 * machine (so a worker cannot loop into the node or reach its admin listener). */
struct edge_netlist {
    struct edge_netrule *rules;
    size_t n, cap;
    uint16_t self_ports[4];
    size_t n_self_ports;
    uint8_t (*local)[16]; /* this machine's addresses (getifaddrs), IPv4 mapped */
    size_t n_local;
};

/* The defaults: loopback, "this network", private (RFC 1918, CGNAT, IPv6 ULA), link-local
 * (incl. the metadata address 169.254.169.254), multicast and reserved ranges. */
int edge__netlist_defaults(struct edge_netlist *l);
/* Adds "ADDR/PREFIX" (or a bare address: a single host). Returns 0 or ED_EINVAL/ED_ENOMEM. */
int edge__netlist_add(struct edge_netlist *l, const char *cidr, bool allow, struct ed_error *err);
/* Adds a port the node listens on, and (once) this machine's own addresses. */
int edge__netlist_self_port(struct edge_netlist *l, uint16_t port);
void edge__netlist_dispose(struct edge_netlist *l);
/* Whether a connection to sa is refused; *why (static) says which kind of address. */
bool edge__netlist_denied(const struct edge_netlist *l, const struct sockaddr *sa,
                          const char **why);
/* "1.2.3.4" or "::1" into buf (INET6_ADDRSTRLEN). Returns buf. */
const char *edge__addr_str(const struct sockaddr *sa, char *buf, size_t cap);

/* ---- TLS (ob_tls.c) ---------------------------------------------------------------------- */

struct edge_tls_ctx;
struct edge_tls;

/* A client context trusting the certificates in ca_file (PEM). Shared by every shard (read-only
 * once made). Returns 0 or a negative code with err; *out owned (edge__tls_ctx_free). */
int edge__tls_ctx_new(const char *ca_file, struct edge_tls_ctx **out, struct ed_error *err);
void edge__tls_ctx_free(struct edge_tls_ctx *ctx);

/* One client session for host (SNI unless it is an IP literal; the certificate must name
 * host), TLS 1.2 or 1.3, ALPN http/1.1. *out owned (edge__tls_free). */
int edge__tls_new(struct edge_tls_ctx *ctx, const char *host, bool host_is_ip,
                  struct edge_tls **out, struct ed_error *err);
void edge__tls_free(struct edge_tls *t);
/* Ciphertext received from the peer. Returns 0 or ED_ENOMEM. */
int edge__tls_feed(struct edge_tls *t, const void *data, size_t len);
/* Moves the handshake on: 0 done, 1 needs more input (send what edge__tls_take has first),
 * or a negative code with err saying why (a certificate that is not trusted, a name that does
 * not match, a protocol failure). Messages are the reason alone, for the caller to place. */
int edge__tls_handshake(struct edge_tls *t, struct ed_error *err);
/* Plaintext: up to cap bytes into buf. Returns the count (> 0), 0 when more input is needed,
 * ED_ECANCELED when the peer closed the session (close_notify), or another negative code
 * with err. */
int edge__tls_read(struct edge_tls *t, void *buf, size_t cap, struct ed_error *err);
/* Encrypts data for the peer. Returns 0 or a negative code with err. */
int edge__tls_write(struct edge_tls *t, const void *data, size_t len, struct ed_error *err);
/* Appends the ciphertext waiting to be sent to out. Returns 0 or ED_ENOMEM. */
int edge__tls_take(struct edge_tls *t, struct ed_buf *out);
/* "TLSv1.3" once the handshake is done. Static string. */
const char *edge__tls_version(struct edge_tls *t);

/* ---- the client (ob_client.c) ------------------------------------------------------------ */

/* What every shard's client shares: the operator's rules and limits, the TLS context, and the
 * counters the node logs at exit. Filled before the shards start, read-only afterwards except
 * the counters. */
struct edge_outbound {
    struct edge_netlist net;
    struct edge_tls_ctx *tls;    /* NULL: https: fails with tls_error */
    char *tls_error;             /* owned: why there is no TLS context */
    uint32_t connect_timeout_ms; /* DNS, connect and TLS handshake */
    uint32_t timeout_ms;         /* the server sends nothing while we wait for it */
    atomic_ullong connects, reused, denied, tls_handshakes, failures;
};

struct edge_fetcher;

/* A shard's client on loop. ob is borrowed (outlives it). Returns 0 or ED_ENOMEM. */
int edge__fetcher_new(uv_loop_t *loop, struct edge_outbound *ob, struct edge_fetcher **out,
                      struct ed_error *err);
/* The interface isolates/ calls (borrowed; valid until edge__fetcher_free). */
const struct iso_fetcher *edge__fetcher_iface(struct edge_fetcher *fc);
/* Fails every request in flight (ED_ECANCELED) and closes every connection; the loop must
 * run on to deliver the answers and close the handles. */
void edge__fetcher_close(struct edge_fetcher *fc);
/* Frees the client once its loop has run to the end after edge__fetcher_close, and the
 * isolates that used it are gone: delivers the answers still queued, then closes its last
 * handle (the loop must run once more). */
void edge__fetcher_free(struct edge_fetcher *fc);

#endif
