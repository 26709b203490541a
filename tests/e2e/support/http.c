/*
 * The e2e harness's HTTP/1.1 client: blocking-with-deadline sockets to 127.0.0.1 only, raw
 * sends (whole, or trickled in pieces), and a response reader that frames by Content-Length,
 * chunked encoding or connection close, keeps each response's raw bytes for framing checks,
 * and leaves whatever follows in the buffer for the next pipelined response. It is written
 * to be strict: a framing error from the server is reported, never papered over.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"
#include "support/internal.h"

#define CONNECT_TIMEOUT_MS 3000
#define SEND_TIMEOUT_MS 5000
#define MAX_RESPONSE_BYTES (64u << 20)
#define MAX_TRACKED 64

/* ---- tracking for teardown ---------------------------------------------------------------- */

static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static struct e2e_conn *tracked[MAX_TRACKED];

static void track(struct e2e_conn *c, bool add)
{
    pthread_mutex_lock(&track_lock);
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (add && !tracked[i]) {
            tracked[i] = c;
            break;
        }
        if (!add && tracked[i] == c) {
            tracked[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&track_lock);
}

void e2e__close_tracked_conns(void)
{
    pthread_mutex_lock(&track_lock);
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i])
            e2e__conn_free(tracked[i]);
        tracked[i] = NULL;
    }
    pthread_mutex_unlock(&track_lock);
}

/* ---- sockets ------------------------------------------------------------------------------ */

/* Printable preview of bytes for error messages, "..." when cut short. */
static const char *preview(const char *p, size_t len, char *out, size_t max)
{
    size_t o = 0, i = 0;
    for (; i < len && o + 8 < max; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r' || ch == '\n') {
            out[o++] = '\\';
            out[o++] = ch == '\r' ? 'r' : 'n';
        } else if (ch >= 0x20 && ch < 0x7f) {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, max - o, "\\x%02x", ch);
        }
    }
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

struct e2e_conn *e2e__connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        e2e__fail("socket: %s", strerror(errno));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno != EINPROGRESS) {
            e2e__fail("connect 127.0.0.1:%d: %s", port, strerror(errno));
            close(fd);
            return NULL;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r;
        do {
            r = poll(&pfd, 1, timeout_ms);
        } while (r < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            e2e__fail("connect 127.0.0.1:%d: %s", port,
                      r == 0 ? "timed out" : strerror(soerr ? soerr : errno));
            close(fd);
            return NULL;
        }
    }
    struct e2e_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        e2e__fail("out of memory");
        return NULL;
    }
    c->fd = fd;
    return c;
}

void e2e__conn_free(struct e2e_conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

struct e2e_conn *e2e_connect(int port)
{
    struct e2e_conn *c = e2e__connect(port, CONNECT_TIMEOUT_MS);
    if (c)
        track(c, true);
    return c;
}

void e2e_close(struct e2e_conn *c)
{
    if (!c)
        return;
    track(c, false);
    e2e__conn_free(c);
}

int e2e_send(struct e2e_conn *c, const void *data, size_t len)
{
    const char *p = data;
    uint64_t deadline = e2e_now_ms() + SEND_TIMEOUT_MS;
    size_t off = 0;
    for (int guard = 0; off < len && guard < 1000000; guard++) {
        ssize_t n = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uint64_t now = e2e_now_ms();
            if (now >= deadline)
                break;
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
            poll(&pfd, 1, (int)(deadline - now));
            continue;
        }
        return e2e__fail("send after %zu of %zu bytes: %s", off, len, strerror(errno));
    }
    if (off < len)
        return e2e__fail("send: only %zu of %zu bytes within %d ms", off, len, SEND_TIMEOUT_MS);
    return 0;
}

int e2e_sends(struct e2e_conn *c, const char *s)
{
    return e2e_send(c, s, strlen(s));
}

int e2e_send_slowly(struct e2e_conn *c, const char *s, size_t piece, int pause_ms)
{
    size_t len = strlen(s);
    if (piece == 0)
        piece = 1;
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        if (e2e_send(c, s + off, n) != 0)
            return -1;
        if (off + n < len)
            e2e_sleep_ms(pause_ms);
    }
    return 0;
}

/* Reads what is available, waiting at most timeout_ms for the first byte.
 * Returns bytes read (>0), 0 on EOF/reset (c->eof or c->reset set), -2 on timeout, -1 on error. */
static int fill(struct e2e_conn *c, int timeout_ms)
{
    if (c->eof || c->reset)
        return 0;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int r;
    do {
        r = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return -2;
    if (r < 0)
        return e2e__fail("poll: %s", strerror(errno));
    if (c->cap - c->len < 65536 + 1) {
        if (c->cap > MAX_RESPONSE_BYTES)
            return e2e__fail("more than %u bytes buffered", MAX_RESPONSE_BYTES);
        size_t ncap = c->cap ? c->cap * 2 : 131072;
        char *nb = realloc(c->buf, ncap);
        if (!nb)
            return e2e__fail("out of memory");
        c->buf = nb;
        c->cap = ncap;
    }
    ssize_t n;
    do {
        n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        return (int)n;
    }
    if (n == 0) {
        c->eof = true;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return -2;
    if (errno == ECONNRESET || errno == EPIPE) {
        c->reset = true;
        return 0;
    }
    return e2e__fail("recv: %s", strerror(errno));
}

int e2e_readable(struct e2e_conn *c, int timeout_ms)
{
    if (c->len > 0 || c->eof || c->reset)
        return 1;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int r;
    do {
        r = poll(&pfd, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r > 0;
}

int e2e_wait_closed(struct e2e_conn *c, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    for (int guard = 0; guard < 100000; guard++) {
        if (c->eof || c->reset)
            return 1;
        uint64_t now = e2e_now_ms();
        if (now >= deadline)
            return 0;
        int r = fill(c, (int)(deadline - now));
        if (r == -1)
            return 1; /* a socket error also means it is gone */
    }
    return 0;
}

/* ---- response parsing --------------------------------------------------------------------- */

void e2e_response_dispose(struct e2e_response *r)
{
    if (!r)
        return;
    free(r->reason);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    free(r->raw);
    memset(r, 0, sizeof *r);
}

const char *e2e_header(const struct e2e_response *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

static char *dup_trimmed(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return strndup(p, (size_t)(end - p));
}

static bool token_list_has(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ';' && *e != ' ' && *e != '\t')
            e++;
        if ((size_t)(e - p) == n && strncasecmp(p, token, n) == 0)
            return true;
        p = strchr(e, ',');
    }
    return false;
}

/* Appends to a growing body. Returns 0 or -1. */
static int body_append(struct e2e_response *r, size_t *cap, const char *p, size_t n)
{
    if (r->body_len + n + 1 > *cap) {
        size_t ncap = *cap ? *cap : 256;
        while (ncap < r->body_len + n + 1)
            ncap *= 2;
        char *nb = realloc(r->body, ncap);
        if (!nb)
            return -1;
        r->body = nb;
        *cap = ncap;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* Parses the chunked body starting at p. Returns bytes of framing consumed (>0) when the
 * last chunk and trailers are complete, 0 when more input is needed, -1 on a framing error. */
static long parse_chunked(struct e2e_response *r, const char *start, const char *end)
{
    size_t cap = 0;
    const char *p = start;
    for (int guard = 0; guard < 10000000; guard++) {
        const char *eol = find_crlf(p, end);
        if (!eol)
            return 0;
        const char *q = p;
        size_t size = 0;
        int digits = 0;
        for (; q < eol && isxdigit((unsigned char)*q); q++, digits++) {
            if (size > (MAX_RESPONSE_BYTES >> 4))
                return e2e__fail("chunk size too large");
            size = size * 16 +
                   (size_t)(isdigit((unsigned char)*q) ? *q - '0' : (tolower(*q) - 'a' + 10));
        }
        while (q < eol && (*q == ' ' || *q == '\t'))
            q++;
        if (digits == 0 || (q < eol && *q != ';')) {
            char pv[200];
            return e2e__fail("bad chunk-size line \"%s\"",
                             preview(p, (size_t)(eol - p), pv, sizeof pv));
        }
        p = eol + 2;
        if (size == 0) {
            /* trailers until an empty line */
            for (int t = 0; t < 1000; t++) {
                const char *tl = find_crlf(p, end);
                if (!tl)
                    return 0;
                bool empty = tl == p;
                p = tl + 2;
                if (empty)
                    return p - start;
            }
            return e2e__fail("too many trailer lines");
        }
        if ((size_t)(end - p) < size + 2)
            return 0;
        if (p[size] != '\r' || p[size + 1] != '\n') {
            char pv[200];
            return e2e__fail("chunk of %zu bytes not followed by CRLF: \"%s\"", size,
                             preview(p + size, 20, pv, sizeof pv));
        }
        if (body_append(r, &cap, p, size) != 0)
            return e2e__fail("out of memory");
        p += size + 2;
    }
    return e2e__fail("too many chunks");
}

/* Tries to parse one response from c->buf. Returns 1 (complete, r filled, consumed set),
 * 0 (need more), -1 (malformed). */
static int try_parse(struct e2e_conn *c, struct e2e_response *r, int flags, size_t *consumed)
{
    const char *buf = c->buf, *end = c->buf + c->len;
    const char *hend = NULL;
    for (const char *p = buf; p + 3 < end; p++) {
        if (p[0] == '\r' && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
            hend = p;
            break;
        }
    }
    if (!hend)
        return 0;
    e2e_response_dispose(r);
    r->head_len = (size_t)(hend - buf) + 4;

    char pv[300];
    const char *eol = find_crlf(buf, end);
    int major = 0, minor = 0, status = 0, off = 0;
    if (sscanf(buf, "HTTP/%d.%d %3d%n", &major, &minor, &status, &off) != 3 || major != 1 ||
        status < 100 || status > 599 || (buf[off] != ' ' && buf[off] != '\r'))
        return e2e__fail("bad status line \"%s\"",
                         preview(buf, (size_t)(eol - buf), pv, sizeof pv));
    r->status = status;
    r->minor = minor;
    r->reason = dup_trimmed(buf + off, eol);

    size_t hcap = 0;
    for (const char *line = eol + 2; line < hend + 2;) {
        const char *le = find_crlf(line, end);
        if (le == line)
            break;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (!colon || colon == line)
            return e2e__fail("bad header line \"%s\"",
                             preview(line, (size_t)(le - line), pv, sizeof pv));
        if (r->nheaders == hcap) {
            hcap = hcap ? hcap * 2 : 16;
            struct e2e_header *nh = realloc(r->headers, hcap * sizeof *nh);
            if (!nh)
                return e2e__fail("out of memory");
            r->headers = nh;
        }
        r->headers[r->nheaders].name = strndup(line, (size_t)(colon - line));
        r->headers[r->nheaders].value = dup_trimmed(colon + 1, le);
        r->nheaders++;
        line = le + 2;
    }

    const char *body = hend + 4;
    size_t total;
    const char *te = e2e_header(r, "Transfer-Encoding");
    const char *cl = e2e_header(r, "Content-Length");
    if ((flags & E2E_HEAD_REQUEST) || status / 100 == 1 || status == 204 || status == 304) {
        total = r->head_len;
    } else if (te) {
        if (cl)
            return e2e__fail("response has both Transfer-Encoding and Content-Length");
        if (!token_list_has(te, "chunked"))
            return e2e__fail("unsupported Transfer-Encoding \"%s\"", te);
        r->chunked = true;
        long n = parse_chunked(r, body, end);
        if (n < 0)
            return -1;
        if (n == 0) {
            e2e_response_dispose(r);
            return 0;
        }
        total = r->head_len + (size_t)n;
    } else if (cl) {
        char *e;
        errno = 0;
        unsigned long long n = strtoull(cl, &e, 10);
        if (e == cl || *e || errno || n > MAX_RESPONSE_BYTES)
            return e2e__fail("bad Content-Length \"%s\"", cl);
        if ((size_t)(end - body) < n) {
            e2e_response_dispose(r);
            return 0;
        }
        size_t cap = 0;
        if (body_append(r, &cap, body, (size_t)n) != 0)
            return e2e__fail("out of memory");
        total = r->head_len + (size_t)n;
    } else {
        if (!(c->eof || c->reset)) {
            e2e_response_dispose(r);
            return 0;
        }
        r->until_close = true;
        size_t cap = 0;
        if (body_append(r, &cap, body, (size_t)(end - body)) != 0)
            return e2e__fail("out of memory");
        total = c->len;
    }
    if (!r->body) {
        r->body = strdup("");
        if (!r->body)
            return e2e__fail("out of memory");
    }
    r->raw = malloc(total + 1);
    if (!r->raw)
        return e2e__fail("out of memory");
    memcpy(r->raw, buf, total);
    r->raw[total] = '\0';
    r->raw_len = total;
    *consumed = total;
    return 1;
}

int e2e_read_response(struct e2e_conn *c, struct e2e_response *r, int flags, int timeout_ms)
{
    memset(r, 0, sizeof *r);
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    for (int guard = 0; guard < 1000000; guard++) {
        size_t consumed = 0;
        int p = c->len ? try_parse(c, r, flags, &consumed) : 0;
        if (p < 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s", e2e_errmsg());
            e2e_response_dispose(r);
            return e2e__fail("malformed response: %s", msg);
        }
        if (p == 1) {
            memmove(c->buf, c->buf + consumed, c->len - consumed);
            c->len -= consumed;
            c->buf[c->len] = '\0';
            return 0;
        }
        if (c->eof || c->reset) {
            char pv[400];
            e2e_response_dispose(r);
            return e2e__fail("connection %s after %zu bytes of a response: \"%s\"",
                             c->reset ? "reset" : "closed", c->len,
                             preview(c->buf, c->len < 300 ? c->len : 300, pv, sizeof pv));
        }
        uint64_t now = e2e_now_ms();
        if (now >= deadline)
            break;
        int n = fill(c, (int)(deadline - now));
        if (n == -1) {
            e2e_response_dispose(r);
            return -1;
        }
    }
    char pv[400];
    e2e_response_dispose(r);
    return e2e__fail("no complete response within %d ms (%zu bytes: \"%s\")", timeout_ms, c->len,
                     preview(c->buf ? c->buf : "", c->len < 300 ? c->len : 300, pv, sizeof pv));
}

/* ---- one-shot requests ---------------------------------------------------------------------- */

static int request_on(struct e2e_conn *c, const char *method, const char *host, const char *path,
                      const char *extra, const char *body, struct e2e_response *r, int timeout_ms)
{
    char *req = NULL;
    int n;
    if (body)
        n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %zu\r\n\r\n%s", method,
                     path, host, extra ? extra : "", strlen(body), body);
    else
        n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", method, path, host,
                     extra ? extra : "");
    if (n < 0)
        return e2e__fail("out of memory");
    int rc = e2e_send(c, req, (size_t)n);
    free(req);
    if (rc != 0)
        return -1;
    int flags = strcmp(method, "HEAD") == 0 ? E2E_HEAD_REQUEST : 0;
    return e2e_read_response(c, r, flags, timeout_ms);
}

int e2e__request_timeout(int port, const char *method, const char *host, const char *path,
                         const char *extra, const char *body, struct e2e_response *r,
                         int timeout_ms)
{
    memset(r, 0, sizeof *r);
    struct e2e_conn *c = e2e__connect(port, CONNECT_TIMEOUT_MS);
    if (!c)
        return -1;
    int rc = request_on(c, method, host, path, extra, body, r, timeout_ms);
    e2e__conn_free(c);
    return rc;
}

int e2e_request(int port, const char *method, const char *host, const char *path,
                const char *extra_headers, const char *body, struct e2e_response *r)
{
    return e2e__request_timeout(port, method, host, path, extra_headers, body, r, 10000);
}

int e2e_get(int port, const char *host, const char *path, struct e2e_response *r)
{
    return e2e_request(port, "GET", host, path, NULL, NULL, r);
}
