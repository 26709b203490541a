/*
 * multipart/form-data (RFC 7578 over RFC 2046), parsed strictly from bytes in memory: the
 * deploy upload, Cloudflare's script-upload format. Debian ships no C library for it, and the
 * job is small: find delimiters with memmem, read each part's few headers, point at its data.
 * Every count and length is bounded by the caller's limits before anything is allocated, no
 * input can make it loop more than once over the body, and whatever the grammar does not allow
 * (a bare LF, a folded header, a delimiter followed by junk, a part without
 * Content-Disposition: form-data, a transfer encoding) is refused with a one-line reason.
 * It holds no state between calls, which makes it a direct fuzz target
 * (tests/fuzz/fuzz_multipart.c).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deploy/dp_int.h"

#define MAX_PADDING 64 /* transport padding (spaces, tabs) after a delimiter */
#define MAX_PART_HEADERS 16

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_bchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("'()+_,-./:=? ", c));
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* A token or a quoted-string at *pp (up to end): its bytes (without quotes) in *v, *vlen.
 * Returns 0 or -1 (not a value). */
static int param_value(const char **pp, const char *end, const char **v, size_t *vlen)
{
    const char *p = *pp;
    if (p < end && *p == '"') {
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!q)
            return -1;
        *v = p + 1;
        *vlen = (size_t)(q - p - 1);
        *pp = q + 1;
        return 0;
    }
    const char *s = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == s)
        return -1;
    *v = s;
    *vlen = (size_t)(p - s);
    *pp = p;
    return 0;
}

int dp__multipart_boundary(const char *ct, size_t len, char out[DP__BOUNDARY_MAX + 1], size_t *blen,
                           struct ed_error *err)
{
    static const char type[] = "multipart/form-data";
    const char *p = ct, *end = ct + len;
    p = skip_ows(p, end);
    if ((size_t)(end - p) < sizeof type - 1 || strncasecmp(p, type, sizeof type - 1) != 0)
        return ed_error_set(err, ED_EINVAL, "the upload must be multipart/form-data");
    p += sizeof type - 1;
    const char *b = NULL;
    size_t bl = 0;
    for (;;) {
        p = skip_ows(p, end);
        if (p == end)
            break;
        if (*p != ';')
            return ed_error_set(err, ED_EINVAL, "malformed Content-Type");
        p = skip_ows(p + 1, end);
        const char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        size_t nlen = (size_t)(p - name);
        const char *v;
        size_t vlen;
        if (nlen == 0 || p == end || *p != '=' || (p++, param_value(&p, end, &v, &vlen)))
            return ed_error_set(err, ED_EINVAL, "malformed Content-Type");
        if (nlen == 8 && strncasecmp(name, "boundary", 8) == 0) {
            if (b)
                return ed_error_set(err, ED_EINVAL, "Content-Type has two boundaries");
            b = v;
            bl = vlen;
        }
    }
    if (!b)
        return ed_error_set(err, ED_EINVAL, "Content-Type names no boundary");
    if (bl == 0 || bl > DP__BOUNDARY_MAX || b[bl - 1] == ' ')
        return ed_error_set(err, ED_EINVAL, "the multipart boundary must be 1 to 70 characters");
    for (size_t i = 0; i < bl; i++)
        if (!is_bchar((unsigned char)b[i]))
            return ed_error_set(err, ED_EINVAL, "the multipart boundary has a forbidden byte");
    memcpy(out, b, bl);
    out[bl] = '\0';
    *blen = bl;
    return 0;
}

void dp__multipart_dispose(struct dp__multipart *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->parts[i].name);
        free(m->parts[i].filename);
    }
    free(m->parts);
    memset(m, 0, sizeof *m);
}

/* A name or filename from Content-Disposition: no control bytes, at most max bytes. */
static int take_name(const char *v, size_t vlen, size_t max, const char *what, char **out,
                     struct ed_error *err)
{
    if (*out)
        return ed_error_set(err, ED_EINVAL, "a part's Content-Disposition has two %s", what);
    if (vlen > max)
        return ed_error_set(err, ED_ETOOBIG, "a part's %s is longer than %zu bytes", what, max);
    for (size_t i = 0; i < vlen; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return ed_error_set(err, ED_EINVAL, "a part's %s has a control character", what);
    if (!(*out = ed_strndup(v, vlen)))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    return 0;
}

/* Content-Disposition: form-data; name="x"; filename="y" */
static int disposition(const char *p, const char *end, const struct dp__multipart_limits *lim,
                       struct dp__part *part, struct ed_error *err)
{
    static const char fd[] = "form-data";
    if ((size_t)(end - p) < sizeof fd - 1 || strncasecmp(p, fd, sizeof fd - 1) != 0 ||
        (p + sizeof fd - 1 < end && p[sizeof fd - 1] != ';' && p[sizeof fd - 1] != ' ' &&
         p[sizeof fd - 1] != '\t'))
        return ed_error_set(err, ED_EINVAL, "a part's Content-Disposition is not form-data");
    p += sizeof fd - 1;
    bool named = false;
    for (;;) {
        p = skip_ows(p, end);
        if (p == end)
            break;
        if (*p != ';')
            return ed_error_set(err, ED_EINVAL, "a part's Content-Disposition is malformed");
        p = skip_ows(p + 1, end);
        const char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        size_t nlen = (size_t)(p - name);
        const char *v;
        size_t vlen;
        p = skip_ows(p, end);
        if (nlen == 0 || p == end || *p != '=')
            return ed_error_set(err, ED_EINVAL, "a part's Content-Disposition is malformed");
        p = skip_ows(p + 1, end);
        if (param_value(&p, end, &v, &vlen))
            return ed_error_set(err, ED_EINVAL, "a part's Content-Disposition is malformed");
        int rc = 0;
        if (nlen == 4 && strncasecmp(name, "name", 4) == 0) {
            rc = named ? ed_error_set(err, ED_EINVAL, "a part's Content-Disposition has two names")
                       : take_name(v, vlen, lim->max_name, "name", &part->name, err);
            named = true;
        } else if (nlen == 8 && strncasecmp(name, "filename", 8) == 0) {
            rc = take_name(v, vlen, lim->max_name, "filename", &part->filename, err);
        } else if (nlen == 9 && strncasecmp(name, "filename*", 9) == 0) {
            rc = ed_error_set(err, ED_EINVAL, "filename* is not supported: send filename");
        } /* other parameters carry nothing we use */
        if (rc)
            return rc;
    }
    if (!named)
        return ed_error_set(err, ED_EINVAL, "a part's Content-Disposition has no name");
    return 0;
}

/* One header line [p, end) (without CRLF) of a part. */
static int part_header(const char *p, const char *end, const struct dp__multipart_limits *lim,
                       struct dp__part *part, bool *has_cd, struct ed_error *err)
{
    if (p < end && (*p == ' ' || *p == '\t'))
        return ed_error_set(err, ED_EINVAL, "a part's header is folded (obs-fold)");
    const char *name = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    size_t nlen = (size_t)(p - name);
    if (nlen == 0 || p == end || *p != ':')
        return ed_error_set(err, ED_EINVAL, "a part has a malformed header line");
    const char *v = skip_ows(p + 1, end), *vend = end;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;
    for (const char *q = v; q < vend; q++)
        if ((unsigned char)*q < 0x20 && *q != '\t')
            return ed_error_set(err, ED_EINVAL, "a part's header has a control character");
    if (nlen == 19 && strncasecmp(name, "content-disposition", 19) == 0) {
        if (*has_cd)
            return ed_error_set(err, ED_EINVAL, "a part has two Content-Disposition headers");
        *has_cd = true;
        return disposition(v, vend, lim, part, err);
    }
    if (nlen == 12 && strncasecmp(name, "content-type", 12) == 0) {
        if (part->content_type)
            return ed_error_set(err, ED_EINVAL, "a part has two Content-Type headers");
        part->content_type = v;
        part->content_type_len = (size_t)(vend - v);
        return 0;
    }
    if (nlen == 25 && strncasecmp(name, "content-transfer-encoding", 25) == 0) {
        size_t vl = (size_t)(vend - v);
        if ((vl == 6 && strncasecmp(v, "binary", 6) == 0) ||
            (vl == 4 && (strncasecmp(v, "7bit", 4) == 0 || strncasecmp(v, "8bit", 4) == 0)))
            return 0;
        return ed_error_set(err, ED_EINVAL, "a part's Content-Transfer-Encoding must be binary");
    }
    return 0; /* other headers carry nothing we use */
}

int dp__multipart_parse(const char *body, size_t len, const char *boundary, size_t blen,
                        const struct dp__multipart_limits *lim, struct dp__multipart *out,
                        struct ed_error *err)
{
    memset(out, 0, sizeof *out);
    if (!body || !boundary || blen == 0 || blen > DP__BOUNDARY_MAX || !lim)
        return ed_error_set(err, ED_EINVAL, "multipart: no body or boundary");
    /* "\r\n--" boundary: the delimiter as it appears after a part's data */
    char delim[DP__BOUNDARY_MAX + 4];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;
    const char *end = body + len, *p;
    /* the first delimiter starts the body, or follows a preamble and CRLF */
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        const char *d = memmem(body, len, delim, dlen);
        if (!d)
            return ed_error_set(err, ED_EINVAL, "the body has no multipart boundary");
        p = d + dlen;
    }
    size_t cap = 0;
    for (;;) {
        /* after a delimiter: "--" ends the body (an epilogue may follow, ignored) */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0;
        const char *pad = p;
        while (p < end && (*p == ' ' || *p == '\t') && p - pad <= MAX_PADDING)
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return ed_error_set(err, ED_EINVAL,
                                end - p < 2 ? "the body ends inside a boundary"
                                            : "a boundary line is malformed");
        p += 2;
        if (out->n >= lim->max_parts)
            return ed_error_set(err, ED_ETOOBIG, "more than %zu parts", lim->max_parts);
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            if (ncap > lim->max_parts)
                ncap = lim->max_parts;
            struct dp__part *np = realloc(out->parts, ncap * sizeof *np);
            if (!np)
                return ed_error_set(err, ED_ENOMEM, "out of memory");
            out->parts = np;
            cap = ncap;
        }
        struct dp__part *part = &out->parts[out->n++];
        memset(part, 0, sizeof *part);
        /* headers, up to an empty line */
        const char *hstart = p;
        bool has_cd = false;
        int nheaders = 0;
        for (;;) {
            const char *ls = p;
            size_t used = (size_t)(ls - hstart);
            if (used > lim->max_header_bytes)
                return ed_error_set(err, ED_ETOOBIG, "a part's headers exceed %zu bytes",
                                    lim->max_header_bytes);
            size_t budget = lim->max_header_bytes - used + 2; /* the line's CRLF */
            size_t room = (size_t)(end - ls);
            const char *lf = memchr(ls, '\n', room < budget ? room : budget);
            if (!lf)
                return room < budget
                           ? ed_error_set(err, ED_EINVAL, "the body ends inside a part's headers")
                           : ed_error_set(err, ED_ETOOBIG, "a part's headers exceed %zu bytes",
                                          lim->max_header_bytes);
            if (lf == ls || lf[-1] != '\r')
                return ed_error_set(err, ED_EINVAL, "a part's header line does not end in CRLF");
            const char *le = lf - 1;
            p = lf + 1;
            if (le == ls)
                break; /* the empty line ends the headers */
            if (++nheaders > MAX_PART_HEADERS)
                return ed_error_set(err, ED_ETOOBIG, "a part has more than %d headers",
                                    MAX_PART_HEADERS);
            int rc = part_header(ls, le, lim, part, &has_cd, err);
            if (rc)
                return rc;
        }
        if (!has_cd)
            return ed_error_set(err, ED_EINVAL, "a part has no Content-Disposition");
        /* data, up to the next delimiter */
        const char *d = memmem(p, (size_t)(end - p), delim, dlen);
        if (!d)
            return ed_error_set(err, ED_EINVAL,
                                "the body ends inside a part (no closing "
                                "boundary)");
        part->data = p;
        part->len = (size_t)(d - p);
        p = d + dlen;
    }
}
