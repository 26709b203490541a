/*
 * The operator's address rules for outbound connections, judged on the address a connection
 * would go to (after DNS, before connect, on every redirect hop), never on a name: a tenant
 * controls its DNS. By default a worker reaches only the public internet: loopback, private
 * networks, link-local (the cloud metadata address 169.254.169.254 among them), multicast and
 * reserved ranges are refused, as are the node's own ports at any of this machine's addresses.
 * --outbound-allow punches holes (the longest matching prefix wins; on a tie the operator's rule
 * beats a default, and a deny beats an allow),
 * --outbound-deny adds refusals. IPv4-mapped and NAT64 (64:ff9b::/96) IPv6 addresses are judged
 * as the IPv4 address they carry.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/ob_int.h"

static const struct {
    const char *cidr;
    const char *what;
} defaults[] = {
    {"0.0.0.0/8", "this-network"},
    {"10.0.0.0/8", "private"},
    {"100.64.0.0/10", "shared (CGNAT)"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local, where cloud metadata lives"},
    {"172.16.0.0/12", "private"},
    {"192.0.0.0/24", "IETF protocol assignments"},
    {"192.168.0.0/16", "private"},
    {"198.18.0.0/15", "benchmarking"},
    {"224.0.0.0/4", "multicast"},
    {"240.0.0.0/4", "reserved"},
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"fc00::/7", "unique local (private)"},
    {"fe80::/10", "link-local"},
    {"ff00::/8", "multicast"},
};

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

/* The 16-byte form rules are kept in: IPv4 (and IPv6 carrying one) as ::ffff:a.b.c.d. */
static bool addr16(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, v4_mapped, 12);
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        if (memcmp(out, nat64, 12) == 0)
            memcpy(out, v4_mapped, 12);
        return true;
    }
    return false;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    size_t whole = bits / 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    unsigned rest = bits % 8;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

static int add_rule(struct edge_netlist *l, const char *cidr, bool allow, bool builtin,
                    const char *what, struct ed_error *err)
{
    char buf[64];
    const char *slash = strchr(cidr, '/');
    size_t alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (alen == 0 || alen >= sizeof buf)
        return ed_error_set(err, ED_EINVAL, "%s: expected ADDRESS[/PREFIX]", cidr);
    memcpy(buf, cidr, alen);
    buf[alen] = '\0';
    struct edge_netrule r = {.allow = allow, .builtin = builtin, .what = what};
    unsigned max;
    struct in_addr in4;
    struct in6_addr in6;
    if (inet_pton(AF_INET, buf, &in4) == 1) {
        memcpy(r.addr, v4_mapped, 12);
        memcpy(r.addr + 12, &in4, 4);
        max = 32;
    } else if (inet_pton(AF_INET6, buf, &in6) == 1) {
        memcpy(r.addr, &in6, 16);
        max = 128;
    } else {
        return ed_error_set(err, ED_EINVAL, "%s: not an IPv4 or IPv6 address", cidr);
    }
    unsigned prefix = max;
    if (slash) {
        char *end;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || v > max)
            return ed_error_set(err, ED_EINVAL, "%s: the prefix must be 0 to %u", cidr, max);
        prefix = (unsigned)v;
    }
    r.prefix = max == 32 ? prefix + 96 : prefix;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        struct edge_netrule *p = realloc(l->rules, cap * sizeof *p);
        if (!p)
            return ed_error_set(err, ED_ENOMEM, "out of memory");
        l->rules = p;
        l->cap = cap;
    }
    l->rules[l->n++] = r;
    return 0;
}

int edge__netlist_defaults(struct edge_netlist *l)
{
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) {
        int rc = add_rule(l, defaults[i].cidr, false, true, defaults[i].what, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

int edge__netlist_add(struct edge_netlist *l, const char *cidr, bool allow, struct ed_error *err)
{
    return add_rule(l, cidr, allow, false, NULL, err);
}

static int load_local(struct edge_netlist *l)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return 0; /* loopback is judged by its range anyway */
    size_t n = 0;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
        n += i->ifa_addr != NULL;
    l->local = calloc(n ? n : 1, sizeof *l->local);
    if (!l->local) {
        freeifaddrs(ifs);
        return ED_ENOMEM;
    }
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && addr16(i->ifa_addr, l->local[l->n_local]))
            l->n_local++;
    freeifaddrs(ifs);
    return 0;
}

int edge__netlist_self_port(struct edge_netlist *l, uint16_t port)
{
    if (!l->local) {
        int rc = load_local(l);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < l->n_self_ports; i++)
        if (l->self_ports[i] == port)
            return 0;
    if (l->n_self_ports == sizeof l->self_ports / sizeof *l->self_ports)
        return ED_ERANGE;
    l->self_ports[l->n_self_ports++] = port;
    return 0;
}

void edge__netlist_dispose(struct edge_netlist *l)
{
    free(l->rules);
    free(l->local);
    memset(l, 0, sizeof *l);
}

/* An address of this machine: loopback, unspecified (connecting to 0.0.0.0 reaches this host),
 * or one of its interfaces'. */
static bool is_local(const struct edge_netlist *l, const uint8_t a[16])
{
    static const uint8_t loop6[16] = {[15] = 1}, any6[16] = {0};
    if (memcmp(a, v4_mapped, 12) == 0 && (a[12] == 127 || a[12] == 0))
        return true;
    if (memcmp(a, loop6, 16) == 0 || memcmp(a, any6, 16) == 0)
        return true;
    for (size_t i = 0; i < l->n_local; i++)
        if (memcmp(a, l->local[i], 16) == 0)
            return true;
    return false;
}

bool edge__netlist_denied(const struct edge_netlist *l, const struct sockaddr *sa, const char **why)
{
    uint8_t a[16];
    *why = "not an IP address";
    if (!addr16(sa, a))
        return true;
    uint16_t port = ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                                   : ((const struct sockaddr_in6 *)sa)->sin6_port);
    for (size_t i = 0; i < l->n_self_ports; i++) {
        if (l->self_ports[i] == port && is_local(l, a)) {
            *why = "a port of this node";
            return true;
        }
    }
    const struct edge_netrule *best = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const struct edge_netrule *r = &l->rules[i];
        if (!prefix_match(a, r->addr, r->prefix))
            continue;
        if (!best || r->prefix > best->prefix)
            best = r;
        else if (r->prefix == best->prefix && best->builtin && !r->builtin)
            best = r; /* the operator's rule overrides a default of the same reach */
        else if (r->prefix == best->prefix && r->builtin == best->builtin && !r->allow)
            best = r;
    }
    if (!best || best->allow)
        return false;
    *why = best->what ? best->what : "denied by --outbound-deny";
    return true;
}

const char *edge__addr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
    const void *src = sa->sa_family == AF_INET
                          ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                          : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!inet_ntop(sa->sa_family, src, buf, (socklen_t)cap))
        snprintf(buf, cap, "?");
    return buf;
}
