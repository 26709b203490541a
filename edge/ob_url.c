/*
 * URLs for outbound requests: what fetch() may name (absolute http: and https: URLs with an
 * ASCII host) and the resolution of a redirect's Location against the URL that answered. The
 * runtime's URL class is the worker's business; the client needs only the pieces a request is
 * made of (scheme, host, port, target) and a normalised href for Response.url.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "edge/ob_int.h"

void edge__url_dispose(struct edge_url *u)
{
    free(u->target);
    free(u->href);
    u->target = u->href = NULL;
}

bool edge__url_same_origin(const struct edge_url *a, const struct edge_url *b)
{
    return a->https == b->https && a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* Characters a request target carries as they are; anything else is percent-encoded. */
static bool target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>' && c != '`' && c != '{' &&
           c != '}' && c != '|' && c != '\\' && c != '^';
}

static int append_target(struct ed_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t' || c == '\n' || c == '\r')
            continue; /* the URL Standard strips these */
        int rc;
        if (target_char(c) || (c == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                               isxdigit((unsigned char)s[i + 2]))) {
            rc = ed_buf_append(b, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = ed_buf_append(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static bool host_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* host[:port] between the scheme's "//" and the path. */
static int parse_authority(const char *a, size_t n, struct edge_url *u, struct ed_error *err)
{
    if (memchr(a, '@', n))
        return ed_error_set(err, ED_EINVAL,
                            "Fetch API cannot load a URL with credentials (user:password@)");
    const char *host = a, *port = NULL;
    size_t hlen = n;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return ed_error_set(err, ED_EINVAL, "Invalid URL: unterminated IPv6 address");
        host = a + 1;
        hlen = (size_t)(close - host);
        size_t rest = n - (size_t)(close + 1 - a);
        if (rest && close[1] != ':')
            return ed_error_set(err, ED_EINVAL, "Invalid URL: junk after the IPv6 address");
        if (rest)
            port = close + 2;
        char buf[64];
        struct in6_addr in6;
        if (hlen == 0 || hlen >= sizeof buf)
            return ed_error_set(err, ED_EINVAL, "Invalid URL: bad IPv6 address");
        memcpy(buf, host, hlen);
        buf[hlen] = '\0';
        if (inet_pton(AF_INET6, buf, &in6) != 1)
            return ed_error_set(err, ED_EINVAL, "Invalid URL: bad IPv6 address");
        inet_ntop(AF_INET6, &in6, u->host, sizeof u->host);
        u->host_is_ip = true;
    } else {
        const char *colon = memchr(a, ':', n);
        if (colon) {
            hlen = (size_t)(colon - a);
            port = colon + 1;
        }
        if (hlen == 0)
            return ed_error_set(err, ED_EINVAL, "Invalid URL: no host");
        if (hlen >= sizeof u->host)
            return ed_error_set(err, ED_EINVAL, "Invalid URL: the host is too long");
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)host[i];
            if (c >= 0x80)
                return ed_error_set(err, ED_EINVAL,
                                    "Fetch API cannot load a URL whose host is not ASCII: give "
                                    "it in punycode (xn--...)");
            if (!host_char(c))
                return ed_error_set(err, ED_EINVAL, "Invalid URL: bad character in the host");
            u->host[i] = (char)tolower(c);
        }
        u->host[hlen] = '\0';
        if (u->host[hlen - 1] == '.' && hlen > 1)
            u->host[hlen - 1] = '\0'; /* "example.com." is example.com */
        struct in_addr in4;
        u->host_is_ip = inet_pton(AF_INET, u->host, &in4) == 1;
    }
    u->port = u->https ? 443 : 80;
    if (port) {
        size_t plen = n - (size_t)(port - a);
        if (plen) {
            unsigned long v = 0;
            for (size_t i = 0; i < plen; i++) {
                if (!isdigit((unsigned char)port[i]) || plen > 5)
                    return ed_error_set(err, ED_EINVAL, "Invalid URL: bad port");
                v = v * 10 + (unsigned long)(port[i] - '0');
            }
            if (v == 0 || v > 65535)
                return ed_error_set(err, ED_EINVAL, "Invalid URL: bad port");
            u->port = (uint16_t)v;
        }
    }
    return 0;
}

int edge__url_parse(const char *s, size_t len, struct edge_url *out, struct ed_error *err)
{
    memset(out, 0, sizeof *out);
    while (len && (unsigned char)s[0] <= 0x20) { /* leading and trailing C0 and space */
        s++;
        len--;
    }
    while (len && (unsigned char)s[len - 1] <= 0x20)
        len--;
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return ed_error_set(err, ED_EINVAL, "Invalid URL: %.*s", (int)(len > 200 ? 200 : len), s);
    size_t slen = (size_t)(colon - s);
    if (slen == 4 && strncasecmp(s, "http", 4) == 0)
        out->https = false;
    else if (slen == 5 && strncasecmp(s, "https", 5) == 0)
        out->https = true;
    else
        return ed_error_set(err, ED_EINVAL,
                            "Fetch API cannot load: the URL scheme must be http or https, not "
                            "\"%.*s\"",
                            (int)(slen > 32 ? 32 : slen), s);
    const char *p = colon + 1, *end = s + len;
    /* "http:/x" and "http:\\x" are special-scheme URLs too: any run of slashes and backslashes */
    while (p < end && (*p == '/' || *p == '\\'))
        p++;
    const char *auth = p;
    while (p < end && *p != '/' && *p != '\\' && *p != '?' && *p != '#')
        p++;
    int rc = parse_authority(auth, (size_t)(p - auth), out, err);
    if (rc)
        return rc;
    const char *frag = memchr(p, '#', (size_t)(end - p));
    if (frag)
        end = frag;
    struct ed_buf t, raw;
    ed_buf_init(&t);
    ed_buf_init(&raw);
    if (p == end || *p == '?')
        rc = ed_buf_append(&t, "/", 1);
    if (rc == 0)
        rc = ed_buf_append(&raw, p, (size_t)(end - p));
    for (size_t i = 0; rc == 0 && i < raw.len && raw.data[i] != '?'; i++)
        if (raw.data[i] == '\\') /* backslashes in a special URL's path are slashes */
            raw.data[i] = '/';
    if (rc == 0)
        rc = append_target(&t, raw.data ? raw.data : "", raw.len);
    ed_buf_dispose(&raw);
    struct ed_buf h;
    ed_buf_init(&h);
    bool v6 = strchr(out->host, ':') != NULL;
    bool default_port = out->port == (out->https ? 443 : 80);
    if (rc == 0)
        rc = ed_buf_appendf(&h, "%s://%s%s%s", out->https ? "https" : "http", v6 ? "[" : "",
                            out->host, v6 ? "]" : "");
    if (rc == 0 && !default_port)
        rc = ed_buf_appendf(&h, ":%u", out->port);
    if (rc == 0)
        rc = ed_buf_append(&h, t.data, t.len);
    if (rc) {
        ed_buf_dispose(&t);
        ed_buf_dispose(&h);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    out->target = t.data;
    out->href = h.data;
    return 0;
}

/* RFC 3986 section 5.2.4, in place on a path of n bytes; returns the new length. */
static size_t remove_dot_segments(char *path, size_t n)
{
    char *out = path;
    size_t o = 0, i = 0;
    while (i < n) {
        if (n - i >= 3 && memcmp(path + i, "../", 3) == 0) {
            i += 3;
        } else if (n - i >= 2 && memcmp(path + i, "./", 2) == 0) {
            i += 2;
        } else if (n - i >= 3 && memcmp(path + i, "/./", 3) == 0) {
            i += 2;
        } else if (n - i == 2 && memcmp(path + i, "/.", 2) == 0) {
            path[i + 1] = '/';
            i += 1;
        } else if ((n - i >= 4 && memcmp(path + i, "/../", 4) == 0) ||
                   (n - i == 3 && memcmp(path + i, "/..", 3) == 0)) {
            if (n - i == 3) {
                path[i + 2] = '/';
                i += 2;
            } else {
                i += 3;
            }
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if ((n - i == 1 && path[i] == '.') ||
                   (n - i == 2 && memcmp(path + i, "..", 2) == 0)) {
            i = n;
        } else {
            do {
                out[o++] = path[i++];
            } while (i < n && path[i] != '/');
        }
    }
    return o;
}

int edge__url_resolve(const struct edge_url *base, const char *ref, size_t len,
                      struct edge_url *out, struct ed_error *err)
{
    while (len && (unsigned char)ref[0] <= 0x20) {
        ref++;
        len--;
    }
    while (len && (unsigned char)ref[len - 1] <= 0x20)
        len--;
    /* an absolute URL: a scheme before any of "/?#" */
    for (size_t i = 0; i < len; i++) {
        char c = ref[i];
        if (c == ':' && i > 0)
            return edge__url_parse(ref, len, out, err);
        if (!(isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.'))
            break;
    }
    const char *scheme = base->https ? "https:" : "http:";
    struct ed_buf b;
    ed_buf_init(&b);
    int rc = 0;
    if (len >= 2 && (ref[0] == '/' || ref[0] == '\\') && (ref[1] == '/' || ref[1] == '\\')) {
        rc = ed_buf_appends(&b, scheme) || ed_buf_append(&b, ref, len); /* scheme-relative */
    } else {
        /* the base's origin: its href up to the target */
        size_t origin = strlen(base->href) - strlen(base->target);
        const char *btarget = base->target;
        size_t bpath = strcspn(btarget, "?");
        struct ed_buf path;
        ed_buf_init(&path);
        const char *rq = ref, *rend = ref + len;
        size_t rpath = 0;
        while (rpath < len && ref[rpath] != '?' && ref[rpath] != '#')
            rpath++;
        if (rpath == 0) {
            /* "", "?q" or "#f": the base's path, with the reference's query or the base's */
            rc = ed_buf_append(&path, btarget, bpath);
            if (rc == 0 && (len == 0 || ref[0] == '#'))
                rc = ed_buf_appends(&path, btarget + bpath);
        } else if (ref[0] == '/' || ref[0] == '\\') {
            rc = ed_buf_append(&path, ref, rpath);
        } else {
            const char *slash = NULL;
            for (size_t i = 0; i < bpath; i++)
                if (btarget[i] == '/')
                    slash = btarget + i;
            size_t keep = slash ? (size_t)(slash - btarget) + 1 : 0;
            rc = ed_buf_append(&path, btarget, keep) || ed_buf_append(&path, ref, rpath);
        }
        if (rc == 0 && path.len) {
            for (size_t i = 0; i < path.len && path.data[i] != '?'; i++)
                if (path.data[i] == '\\')
                    path.data[i] = '/';
            size_t q = strcspn(path.data, "?");
            size_t n = remove_dot_segments(path.data, q);
            memmove(path.data + n, path.data + q, path.len - q + 1);
            path.len = n + (path.len - q);
        }
        if (rc == 0)
            rc = ed_buf_append(&b, base->href, origin) || ed_buf_append(&b, path.data, path.len) ||
                 ed_buf_append(&b, rq + rpath, (size_t)(rend - (rq + rpath)));
        ed_buf_dispose(&path);
    }
    if (rc) {
        ed_buf_dispose(&b);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    rc = edge__url_parse(b.data, b.len, out, err);
    ed_buf_dispose(&b);
    return rc;
}
