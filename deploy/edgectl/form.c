/*
 * The body of a deploy upload: multipart/form-data (RFC 7578), the format of Cloudflare's
 * script upload that the admin API takes. Built in memory (a bundle is at most 64 MiB) so that
 * its length is known and libcurl sends it with a Content-Length. The boundary is random and
 * checked against every part, since module bytes are arbitrary: a boundary that occurred in a
 * module would cut it short on the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "deploy/edgectl/edgectl.h"

#define CTL_BOUNDARY_TRIES 8

static bool occurs(const struct dp_form_part *parts, size_t n, const char *delim, size_t dlen)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].len >= dlen && memmem(parts[i].data, parts[i].len, delim, dlen))
            return true;
    return false;
}

/* A header parameter's value, quoted, with " CR LF percent-encoded (HTML's rule). */
static int append_quoted(struct ed_buf *b, const char *s)
{
    int rc = ed_buf_append(b, "\"", 1);
    for (; *s && rc == 0; s++) {
        if (*s == '"')
            rc = ed_buf_appends(b, "%22");
        else if (*s == '\r')
            rc = ed_buf_appends(b, "%0D");
        else if (*s == '\n')
            rc = ed_buf_appends(b, "%0A");
        else
            rc = ed_buf_append(b, s, 1);
    }
    return rc ? rc : ed_buf_append(b, "\"", 1);
}

static int build(const struct dp_form_part *parts, size_t n, const char *boundary,
                 struct ed_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct dp_form_part *p = &parts[i];
        rc = ed_buf_appendf(out, "--%s\r\nContent-Disposition: form-data; name=", boundary);
        if (rc == 0)
            rc = append_quoted(out, p->name);
        if (rc == 0 && p->filename) {
            rc = ed_buf_appends(out, "; filename=");
            if (rc == 0)
                rc = append_quoted(out, p->filename);
        }
        if (rc == 0 && p->content_type)
            rc = ed_buf_appendf(out, "\r\nContent-Type: %s", p->content_type);
        if (rc == 0)
            rc = ed_buf_appends(out, "\r\n\r\n");
        if (rc == 0)
            rc = ed_buf_append(out, p->data, p->len);
        if (rc == 0)
            rc = ed_buf_appends(out, "\r\n");
    }
    return rc ? rc : ed_buf_appendf(out, "--%s--\r\n", boundary);
}

int dp_form_build(const struct dp_form_part *parts, size_t n, const char *boundary,
                  struct ed_buf *out, char **content_type, struct ed_error *err)
{
    *content_type = NULL;
    char rnd[48];
    char delim[80];
    if (boundary) {
        size_t blen = strlen(boundary);
        if (blen == 0 || blen > 70 || strpbrk(boundary, "\r\n\""))
            return ed_error_set(err, ED_EINVAL, "a boundary is 1 to 70 characters, no quotes");
        snprintf(delim, sizeof delim, "--%s", boundary);
        if (occurs(parts, n, delim, strlen(delim)))
            return ed_error_set(err, ED_EINVAL, "the boundary %s occurs in a part", boundary);
    } else {
        int tries = 0;
        for (;; tries++) {
            unsigned char r[16];
            if (tries == CTL_BOUNDARY_TRIES || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
                return ed_error_set(err, ED_EIO, "cannot pick a multipart boundary");
            int o = snprintf(rnd, sizeof rnd, "edgectl-");
            for (size_t i = 0; i < sizeof r; i++)
                o += snprintf(rnd + o, sizeof rnd - (size_t)o, "%02x", r[i]);
            snprintf(delim, sizeof delim, "--%s", rnd);
            if (!occurs(parts, n, delim, strlen(delim)))
                break;
        }
        boundary = rnd;
    }
    size_t mark = out->len;
    int rc = build(parts, n, boundary, out);
    if (rc == 0 && asprintf(content_type, "multipart/form-data; boundary=%s", boundary) < 0) {
        *content_type = NULL;
        rc = ED_ENOMEM;
    }
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return ed_error_set(err, rc, "out of memory building the upload");
    }
    return 0;
}
