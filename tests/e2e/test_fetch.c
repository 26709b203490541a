/*
 * End-to-end outbound fetch() (issue 4) through a real edged: workers fetch from test servers
 * this file runs on loopback — an HTTP/1.1 server of its own (threads, blocking sockets, every
 * wait bounded) and `openssl s_server` for HTTPS with a test CA made by the openssl CLI at test
 * time — and never from anywhere else. Checked: GET and POST with fixed and streamed bodies
 * (Content-Length and chunked), response headers with several Set-Cookie, keep-alive reuse, a
 * 100 MB response streamed through a worker to a client (node RSS sampled), redirects (follow,
 * manual, error, method rewriting, too many, a hop to a denied address), aborts before the head,
 * while waiting for it and mid-body (the server sees the connection close), the response and
 * connect timeouts, the per-request subrequest limit (default and tenant.conf) and its usage
 * counter, the operator's address rules (a denied address gets no connection, the metadata
 * address is refused before any connect is attempted, the node's own ports, loopback denied
 * by default), TLS (a trusted certificate, an untrusted one, a name mismatch, SNI), connection
 * refused, and a child whose globalOutbound is omitted fetching through its parent's outbound.
 * TLS 1.3 and 1.2 are both spoken (s_server -tls1_2), and the peer is OpenSSL 3's own stack.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

/* ---- the upstream test server ----------------------------------------------------------- */

#define UP_MAX_CONNS 64

struct upstream {
    int fd;
    int port;
    char addr[32];
    pthread_t acceptor;
    atomic_bool stop;
    atomic_int accepted;     /* connections accepted */
    atomic_int closed_early; /* /slow and /hang connections the client closed first */
    atomic_int hung;         /* /hang requests received */
    pthread_t conns[UP_MAX_CONNS];
    atomic_int n_conns;
    char last_echo[4096]; /* the last /echo answer (for the test's own checks) */
};

struct up_conn {
    struct upstream *up;
    int fd;
    int serial;
};

static struct upstream *ups[8];
static size_t n_ups;

static void up_stop(struct upstream *up)
{
    if (!up || atomic_exchange(&up->stop, true))
        return;
    pthread_join(up->acceptor, NULL);
    int n = atomic_load(&up->n_conns);
    for (int i = 0; i < n; i++)
        pthread_join(up->conns[i], NULL);
    close(up->fd);
}

static void fetch_fini(void)
{
    for (size_t i = 0; i < n_ups; i++) {
        up_stop(ups[i]);
        free(ups[i]);
    }
    n_ups = 0;
    e2e_teardown();
}

TestSuite(fetch_http, .fini = fetch_fini, .timeout = 120);
TestSuite(fetch_stream, .fini = fetch_fini, .timeout = 180);
TestSuite(fetch_redirect, .fini = fetch_fini, .timeout = 60);
TestSuite(fetch_abort, .fini = fetch_fini, .timeout = 60);
TestSuite(fetch_limits, .fini = fetch_fini, .timeout = 60);
TestSuite(fetch_deny, .fini = fetch_fini, .timeout = 60);
TestSuite(fetch_child, .fini = fetch_fini, .timeout = 60);

/* Waits up to ms for fd to be readable (or closed); false on timeout or when stopping. */
static bool up_wait(struct upstream *up, int fd, short events, int ms)
{
    uint64_t end = e2e_now_ms() + (uint64_t)ms;
    while (!atomic_load(&up->stop)) {
        struct pollfd p = {fd, events, 0};
        int left = (int)(end - e2e_now_ms());
        if (left <= 0)
            return false;
        int r = poll(&p, 1, left < 100 ? left : 100);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
    return false;
}

static bool up_send(struct upstream *up, int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        if (!up_wait(up, fd, POLLOUT, 10000))
            return false;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool up_sendf(struct upstream *up, int fd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool up_sendf(struct upstream *up, int fd, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return n > 0 && (size_t)n < sizeof buf && up_send(up, fd, buf, (size_t)n);
}

/* One request as the test server reads it. */
struct up_req {
    char method[16];
    char path[1024];
    char head[8192]; /* the header lines, lower-cased names */
    char body[65536];
    size_t body_len;
    bool chunked;
};

/* Reads from fd into buf until it holds n bytes (or more). */
struct up_in {
    char buf[131072];
    size_t len;
};

static bool up_fill(struct upstream *up, int fd, struct up_in *in)
{
    if (in->len == sizeof in->buf)
        return false;
    if (!up_wait(up, fd, POLLIN, 10000))
        return false;
    ssize_t n = recv(fd, in->buf + in->len, sizeof in->buf - in->len, 0);
    if (n <= 0)
        return false;
    in->len += (size_t)n;
    return true;
}

static void up_consume(struct up_in *in, size_t n)
{
    memmove(in->buf, in->buf + n, in->len - n);
    in->len -= n;
}

static const char *header_of(const struct up_req *r, const char *name, char *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s:", name);
    const char *p = strstr(r->head, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static bool up_read_request(struct upstream *up, int fd, struct up_in *in, struct up_req *r)
{
    memset(r, 0, sizeof *r);
    char *end;
    while (!(end = memmem(in->buf, in->len, "\r\n\r\n", 4)))
        if (!up_fill(up, fd, in))
            return false;
    size_t hlen = (size_t)(end - in->buf) + 4;
    char *line_end = memmem(in->buf, hlen, "\r\n", 2);
    if (sscanf(in->buf, "%15s %1023s", r->method, r->path) != 2)
        return false;
    size_t rest = hlen - (size_t)(line_end - in->buf);
    if (rest >= sizeof r->head)
        return false;
    for (size_t i = 0; i < rest; i++) { /* "\r\nName: value" with the names lower-cased */
        char ch = line_end[i];
        r->head[i] = ch;
    }
    for (char *p = r->head; *p; p++) {
        if (*p == '\n') {
            for (char *q = p + 1; *q && *q != ':'; q++)
                *q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
        }
    }
    up_consume(in, hlen);
    char v[64];
    if (header_of(r, "content-length", v, sizeof v)) {
        size_t n = strtoul(v, NULL, 10); /* kept up to sizeof r->body, counted all */
        r->body_len = n;
        size_t kept = 0;
        while (n) {
            if (in->len == 0 && !up_fill(up, fd, in))
                return false;
            size_t k = in->len < n ? in->len : n;
            size_t keep = kept + k <= sizeof r->body ? k : sizeof r->body - kept;
            memcpy(r->body + kept, in->buf, keep);
            kept += keep;
            up_consume(in, k);
            n -= k;
        }
    } else if (header_of(r, "transfer-encoding", v, sizeof v) && strstr(v, "chunked")) {
        r->chunked = true;
        for (;;) {
            char *crlf;
            while (!(crlf = memmem(in->buf, in->len, "\r\n", 2)))
                if (!up_fill(up, fd, in))
                    return false;
            size_t size = strtoul(in->buf, NULL, 16);
            size_t need = (size_t)(crlf - in->buf) + 2 + size + 2;
            while (in->len < need)
                if (!up_fill(up, fd, in))
                    return false;
            if (r->body_len + size > sizeof r->body)
                return false;
            memcpy(r->body + r->body_len, crlf + 2, size);
            r->body_len += size;
            up_consume(in, need);
            if (size == 0)
                break;
        }
    }
    return true;
}

static unsigned char big_byte(uint64_t i)
{
    return (unsigned char)((i * 31 + 7) & 0xff);
}

/* Waits for the client to close (records it) for at most ms. */
static void up_wait_close(struct upstream *up, int fd, int ms)
{
    char b[4096];
    uint64_t end = e2e_now_ms() + (uint64_t)ms;
    while (e2e_now_ms() < end && up_wait(up, fd, POLLIN, (int)(end - e2e_now_ms()))) {
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0) {
            atomic_fetch_add(&up->closed_early, 1);
            return;
        }
    }
}

/* Answers one request; false closes the connection. */
static bool up_answer(struct up_conn *uc, struct up_req *r)
{
    struct upstream *up = uc->up;
    int fd = uc->fd;
    const char *p = r->path;
    if (strcmp(p, "/hello") == 0)
        return up_sendf(up, fd,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                        "5\r\n\r\nhello");
    if (strcmp(p, "/conn") == 0) {
        char body[32];
        int n = snprintf(body, sizeof body, "%d", uc->serial);
        return up_sendf(up, fd, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, body);
    }
    if (strcmp(p, "/echo") == 0 || strncmp(p, "/echo?", 6) == 0) {
        char te[64] = "-", cl[64] = "-", ct[128] = "-", auth[128] = "-", x[128] = "-",
             host[128] = "-";
        header_of(r, "transfer-encoding", te, sizeof te);
        header_of(r, "content-length", cl, sizeof cl);
        header_of(r, "content-type", ct, sizeof ct);
        header_of(r, "authorization", auth, sizeof auth);
        header_of(r, "x-custom", x, sizeof x);
        header_of(r, "host", host, sizeof host);
        char body[4096];
        int n = snprintf(
            body, sizeof body, "%s %s host=%s te=%s cl=%s ct=%s auth=%s x=%s body=%.*s", r->method,
            p, host, te, cl, ct, auth, x, (int)(r->body_len > 2000 ? 2000 : r->body_len), r->body);
        snprintf(up->last_echo, sizeof up->last_echo, "%s", body);
        return up_sendf(up, fd, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, body);
    }
    if (strcmp(p, "/cookies") == 0)
        return up_sendf(up, fd,
                        "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nX-One: 1\r\n"
                        "Set-Cookie: b=2; HttpOnly\r\nContent-Length: 2\r\n\r\nok");
    if (strncmp(p, "/redirect/", 10) == 0) {
        int n = atoi(p + 10);
        if (n <= 0)
            return up_sendf(up, fd, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nlanded");
        return up_sendf(up, fd,
                        "HTTP/1.1 302 Found\r\nLocation: /redirect/%d\r\nContent-Length: 3\r\n\r\n"
                        "bye",
                        n - 1);
    }
    if (strncmp(p, "/to/", 4) == 0) { /* /to/CODE/LOCATION (the rest of the path) */
        int code = atoi(p + 4);
        const char *loc = strchr(p + 4, '/');
        return up_sendf(up, fd, "HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n",
                        code, loc ? loc + 1 : "/");
    }
    if (strcmp(p, "/loop") == 0)
        return up_sendf(up, fd,
                        "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n");
    if (strncmp(p, "/big/", 5) == 0) {
        uint64_t n = strtoull(p + 5, NULL, 10);
        if (!up_sendf(up, fd, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n",
                      (unsigned long long)n))
            return false;
        static __thread unsigned char chunk[65536];
        uint64_t sent = 0, deadline = e2e_now_ms() + 120000;
        while (sent < n && e2e_now_ms() < deadline) {
            size_t k = n - sent < sizeof chunk ? (size_t)(n - sent) : sizeof chunk;
            for (size_t i = 0; i < k; i++)
                chunk[i] = big_byte(sent + i);
            if (!up_send(up, fd, chunk, k))
                return false;
            sent += k;
        }
        return sent == n;
    }
    if (strcmp(p, "/slow") == 0) { /* a body that stops after 1000 bytes until the client goes */
        if (!up_sendf(up, fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"))
            return false;
        char part[1000];
        memset(part, 's', sizeof part);
        if (!up_send(up, fd, part, sizeof part))
            return false;
        up_wait_close(up, fd, 15000);
        return false;
    }
    if (strcmp(p, "/hang") == 0) { /* never answers */
        atomic_fetch_add(&up->hung, 1);
        up_wait_close(up, fd, 15000);
        return false;
    }
    if (strcmp(p, "/chunked") == 0)
        return up_sendf(up, fd,
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n");
    if (strcmp(p, "/close") == 0) {
        up_sendf(up, fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close");
        return false;
    }
    if (strcmp(p, "/head") == 0)
        return up_sendf(up, fd, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
    if (strcmp(p, "/nocontent") == 0)
        return up_sendf(up, fd, "HTTP/1.1 204 No Content\r\nX-Empty: yes\r\n\r\n");
    if (strcmp(p, "/continue") == 0)
        return up_sendf(up, fd,
                        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                        "Content-Length: 4\r\n\r\nmade");
    return up_sendf(up, fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
}

static void *up_serve(void *arg)
{
    struct up_conn *uc = arg;
    static __thread struct up_in in;
    static __thread struct up_req r;
    in.len = 0;
    /* not HTTP (a TLS ClientHello): say so at once, as a real server would */
    bool http = up_fill(uc->up, uc->fd, &in);
    if (http && (in.buf[0] < 'A' || in.buf[0] > 'Z')) {
        up_sendf(uc->up, uc->fd, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        http = false;
    }
    while (http && !atomic_load(&uc->up->stop) && up_read_request(uc->up, uc->fd, &in, &r)) {
        if (!up_answer(uc, &r))
            break;
    }
    close(uc->fd);
    free(uc);
    return NULL;
}

static void *up_accept(void *arg)
{
    struct upstream *up = arg;
    while (!atomic_load(&up->stop)) {
        struct pollfd p = {up->fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(up->fd, NULL, NULL);
        if (fd < 0)
            continue;
        int serial = atomic_fetch_add(&up->accepted, 1) + 1;
        int slot = atomic_load(&up->n_conns);
        struct up_conn *uc = calloc(1, sizeof *uc);
        if (!uc || slot >= UP_MAX_CONNS) {
            free(uc);
            close(fd);
            continue;
        }
        *uc = (struct up_conn){up, fd, serial};
        if (pthread_create(&up->conns[slot], NULL, up_serve, uc) != 0) {
            free(uc);
            close(fd);
            continue;
        }
        atomic_store(&up->n_conns, slot + 1);
    }
    return NULL;
}

/* A listening socket on addr:0 (backlog as given). Returns the fd; *port the port. */
static int listen_on(const char *addr, int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0, "bind %s: %s", addr,
                 strerror(errno));
    cr_assert_eq(listen(fd, backlog), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

static struct upstream *up_start_on(const char *addr)
{
    struct upstream *up = calloc(1, sizeof *up);
    cr_assert_not_null(up);
    cr_assert_lt(n_ups, sizeof ups / sizeof *ups);
    ups[n_ups++] = up;
    snprintf(up->addr, sizeof up->addr, "%s", addr);
    up->fd = listen_on(addr, 64, &up->port);
    cr_assert_eq(pthread_create(&up->acceptor, NULL, up_accept, up), 0);
    return up;
}

static struct upstream *up_start(void)
{
    return up_start_on("127.0.0.1");
}

/* ---- workers ------------------------------------------------------------------------------ */

/* clang-format off */
/* One worker, many routes: each answers text the tests compare. env.UP is the test server's
 * origin. A minimal AbortSignal of the test's own (edged honours any object with aborted,
 * reason and addEventListener), so the tests do not depend on the runtime's AbortController. */
static const char FETCH_JS[] =
    E2E_JS_PATHOF
    "// A real AbortController whose signal counts the listeners fetch() keeps on it.\n"
    "function makeSignal() {\n"
    "  const ac = new AbortController();\n"
    "  const listeners = [];\n"
    "  const signal = ac.signal;\n"
    "  const add = signal.addEventListener.bind(signal), rm = signal.removeEventListener.bind(signal);\n"
    "  signal.addEventListener = (type, fn, o) => { if (type === 'abort') listeners.push(fn); add(type, fn, o); };\n"
    "  signal.removeEventListener = (type, fn, o) => { const i = listeners.indexOf(fn); if (i >= 0) listeners.splice(i, 1); rm(type, fn, o); };\n"
    "  return { signal, listeners, abort(reason) { listeners.length = 0; ac.abort(reason); } };\n"
    "}\n"
    "function query(u, k) { const m = new RegExp('[?&]' + k + '=([^&]*)').exec(u); return m ? decodeURIComponent(m[1]) : null; }\n"
    "const err = (e) => `${e.name}: ${e.message}`;\n"
    "function chunks(parts) {\n"
    "  let i = 0;\n"
    "  return new ReadableStream({ pull(c) { if (i < parts.length) c.enqueue(new TextEncoder().encode(parts[i++])); else c.close(); } });\n"
    "}\n"
    "const routes = {\n"
    "  async '/get'(up) { const r = await fetch(up + '/hello'); return `${r.status} ${r.ok} ${r.headers.get('content-type')} ${await r.text()}`; },\n"
    "  async '/get-request'(up) { const r = await fetch(new Request(up + '/echo', { headers: { 'x-custom': 'from-request' } })); return r.text(); },\n"
    "  async '/post'(up) { const r = await fetch(up + '/echo', { method: 'POST', body: 'payload', headers: { 'x-custom': 'c1', 'content-type': 'text/x-test' } }); return r.text(); },\n"
    "  async '/post-bytes'(up) { const r = await fetch(up + '/echo', { method: 'PUT', body: new Uint8Array([104, 105]) }); return r.text(); },\n"
    "  async '/post-empty'(up) { const r = await fetch(up + '/echo', { method: 'POST' }); return r.text(); },\n"
    "  async '/post-stream'(up) { const r = await fetch(up + '/echo', { method: 'POST', body: chunks(['str', 'eam', 'ed']) }); return r.text(); },\n"
    "  async '/post-stream-len'(up) { const r = await fetch(up + '/echo', { method: 'POST', headers: { 'content-length': '8' }, body: chunks(['stre', 'amed']) }); return r.text(); },\n"
    "  async '/post-stream-short'(up) { try { await fetch(up + '/echo', { method: 'POST', headers: { 'content-length': '9' }, body: chunks(['stre', 'amed']) }); return 'no error'; } catch (e) { return err(e); } },\n"
    "  async '/post-big'(up) { const big = 'x'.repeat(2 * 1024 * 1024 + 3); const r = await fetch(up + '/echo', { method: 'POST', body: big }); return r.status + ' ' + (await r.text()).slice(0, 60); },\n"
    "  async '/cookies'(up) { const r = await fetch(up + '/cookies'); return `${r.headers.getSetCookie().join('|')} ${r.headers.get('x-one')} ${await r.text()}`; },\n"
    "  async '/chunked'(up) { const r = await fetch(up + '/chunked'); return r.text(); },\n"
    "  async '/close'(up) { const r = await fetch(up + '/close'); return r.text(); },\n"
    "  async '/head'(up) { const r = await fetch(up + '/head', { method: 'HEAD' }); return `${r.status} ${r.headers.get('content-length')} ${r.body === null} [${await r.text()}]`; },\n"
    "  async '/nocontent'(up) { const r = await fetch(up + '/nocontent'); return `${r.status} ${r.headers.get('x-empty')} ${r.body === null}`; },\n"
    "  async '/continue'(up) { const r = await fetch(up + '/continue', { method: 'POST', body: 'x' }); return `${r.status} ${await r.text()}`; },\n"
    "  async '/reuse'(up) { const out = []; for (let i = 0; i < 5; i++) out.push(await (await fetch(up + '/conn')).text()); return out.join(','); },\n"
    "  async '/parallel'(up) { const rs = await Promise.all([1, 2, 3].map(() => fetch(up + '/hello'))); return (await Promise.all(rs.map((r) => r.text()))).join(','); },\n"
    "  async '/localhost'(up) { const r = await fetch(up.replace('127.0.0.1', 'localhost') + '/hello'); return `${r.status} ${await r.text()}`; },\n"
    "  async '/follow'(up) { const r = await fetch(up + '/redirect/3'); return `${r.status} ${r.url} ${r.redirected} ${await r.text()}`; },\n"
    "  async '/manual'(up) { const r = await fetch(up + '/redirect/3', { redirect: 'manual' }); return `${r.status} ${r.headers.get('location')} ${r.redirected} ${r.url}`; },\n"
    "  async '/manual-request'(up) { const r = await fetch(new Request(up + '/redirect/1', { redirect: 'manual' })); return `${r.status}`; },\n"
    "  async '/error'(up) { try { await fetch(up + '/redirect/1', { redirect: 'error' }); return 'no error'; } catch (e) { return err(e); } },\n"
    "  async '/bad-mode'(up) { try { await fetch(up + '/hello', { redirect: 'sideways' }); return 'no error'; } catch (e) { return err(e); } },\n"
    "  async '/loop'(up) { try { await fetch(up + '/loop'); return 'no error'; } catch (e) { return err(e); } },\n"
    "  async '/r'(up, url) { const code = query(url, 'code'), m = query(url, 'method') || 'POST';\n"
    "    const init = { method: m, headers: { 'content-type': 'text/x-body', authorization: 'secret' } };\n"
    "    if (m !== 'GET' && m !== 'HEAD') init.body = query(url, 'stream') ? chunks(['s1', 's2']) : 'the-body';\n"
    "    const loc = query(url, 'loc') || '/echo';\n"
    "    try { const r = await fetch(`${up}/to/${code}/${loc}`, init); return `${r.status} ${r.redirected} ${await r.text()}`; } catch (e) { return err(e); } },\n"
    "  async '/to'(up, url) { try { const r = await fetch(query(url, 'url')); return `${r.status} ${(await r.text()).slice(0, 40)}`; } catch (e) { return err(e); } },\n"
    "  async '/abort-before'(up) { const c = makeSignal(); c.abort(new RangeError('stop-before')); try { await fetch(up + '/hello', { signal: c.signal }); return 'no error'; } catch (e) { return err(e); } },\n"
    "  async '/abort-head'(up) { const c = makeSignal(); const p = fetch(up + '/hang', { signal: c.signal });\n"
    "    await (await fetch(up + '/hello')).text(); c.abort();\n"
    "    try { await p; return 'no error'; } catch (e) { return `${err(e)} listeners=${c.listeners.length}`; } },\n"
    "  async '/abort-body'(up) { const c = makeSignal(); const r = await fetch(up + '/slow', { signal: c.signal });\n"
    "    const reader = r.body.getReader(); let got = 0;\n"
    "    while (got < 1000) { const { value } = await reader.read(); got += value.length; }\n"
    "    c.abort(new Error('stop-mid-body'));\n"
    "    try { await reader.read(); return 'no error'; } catch (e) { return `${got} ${err(e)}`; } },\n"
    "  async '/cancel-body'(up) { const r = await fetch(up + '/slow'); const reader = r.body.getReader(); await reader.read(); await reader.cancel(); return 'cancelled'; },\n"
    "  async '/timeout'(up) { try { await fetch(up + '/hang'); return 'no error'; } catch (e) { return err(e); } },\n"
    "  async '/refused'() { try { await fetch('http://127.0.0.1:1/'); return 'no error'; } catch (e) { return err(e); } },\n"
    "  async '/bad-scheme'() { try { await fetch('ftp://127.0.0.1/x'); return 'no error'; } catch (e) { return err(e); } },\n"
    "  async '/count'(up, url) { const n = Number(query(url, 'n')); let ok = 0; let last = 'none';\n"
    "    for (let i = 0; i < n; i++) { try { await (await fetch(up + '/hello')).text(); ok++; } catch (e) { last = err(e); } }\n"
    "    return `${ok} ${last}`; },\n"
    "};\n"
    "export default {\n"
    "  async fetch(request, env) {\n"
    "    const p = pathOf(request.url);\n"
    "    if (p === '/big') return fetch(env.UP + '/big/' + query(request.url, 'n'));\n"
    "    const route = routes[p];\n"
    "    if (!route) return new Response('no route ' + p, { status: 404 });\n"
    "    try { return new Response(await route(env.UP, request.url)); }\n"
    "    catch (e) { return new Response('threw ' + err(e), { status: 500 }); }\n"
    "  },\n"
    "};\n";
/* clang-format on */

/* A tenants dir with tenant "f" on f.test running FETCH_JS, env.UP = the upstream's origin. */
static const char *fetch_tenant(const char *origin, const char *extra_conf)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    const char *conf = e2e_fmt("route = f.test main\ncpu_ms = 5000\nvar = UP=%s\n%s", origin,
                               extra_conf ? extra_conf : "");
    cr_assert_eq(e2e_tenant(dir, "f", conf, "main", FETCH_JS), 0, "%s", e2e_errmsg());
    return dir;
}

static const char *origin_of(struct upstream *up)
{
    return e2e_fmt("http://%s:%d", up->addr, up->port);
}

/* GET path on f.test; returns the body (lives until teardown) and checks the status. */
static const char *get_body(struct e2e_server *s, const char *path, int status)
{
    struct e2e_response r;
    E2E_GET(s->port, "f.test", path, &r);
    cr_expect_eq(r.status, status, "GET %s: status %d, body %s", path, r.status, r.body);
    const char *body = e2e_fmt("%s", r.body ? r.body : "");
    e2e_response_dispose(&r);
    return body;
}

#define EXPECT_BODY(s, path, want)                                            \
    do {                                                                      \
        const char *got__ = get_body((s), (path), 200);                       \
        cr_expect_str_eq(got__, (want), "GET %s: got \"%s\"", (path), got__); \
    } while (0)

#define EXPECT_CONTAINS(s, path, needle)                                                 \
    do {                                                                                 \
        const char *got__ = get_body((s), (path), 200);                                  \
        cr_expect(strstr(got__, (needle)), "GET %s: \"%s\" lacks \"%s\"", (path), got__, \
                  (needle));                                                             \
    } while (0)

/* edged for the fetch tenant, allowed to reach the test servers on 127.0.0.1 (loopback is
 * denied by default). */
static struct e2e_server *start_for(const char *dir, const char *const *more)
{
    const char *args[32] = {"--tenants", dir, "--threads", "1", "--outbound-allow", "127.0.0.1/32"};
    size_t n = 6;
    for (size_t i = 0; more && more[i] && n < 31; i++)
        args[n++] = more[i];
    args[n] = NULL;
    struct e2e_server *s = e2e_server_start(args);
    cr_assert_not_null(s, "edged did not start: %s", e2e_errmsg());
    return s;
}

/* ---- plain HTTP --------------------------------------------------------------------------- */

Test(fetch_http, get_and_post_with_bodies)
{
    struct upstream *up = up_start();
    struct e2e_server *s = start_for(fetch_tenant(origin_of(up), NULL), NULL);
    const char *host = e2e_fmt("host=127.0.0.1:%d", up->port);
    EXPECT_BODY(s, "/get", "200 true text/plain hello");
    EXPECT_CONTAINS(s, "/get-request", "GET /echo");
    EXPECT_CONTAINS(s, "/get-request", "x=from-request");
    EXPECT_CONTAINS(s, "/get-request", host);
    EXPECT_BODY(s, "/post",
                e2e_fmt("POST /echo %s te=- cl=7 ct=text/x-test auth=- x=c1 body=payload", host));
    EXPECT_BODY(s, "/post-bytes", e2e_fmt("PUT /echo %s te=- cl=2 ct=- auth=- x=- body=hi", host));
    EXPECT_BODY(s, "/post-empty", e2e_fmt("POST /echo %s te=- cl=0 ct=- auth=- x=- body=", host));
    /* a stream of unknown length goes chunked; one whose length the worker declared does not */
    EXPECT_BODY(s, "/post-stream",
                e2e_fmt("POST /echo %s te=chunked cl=- ct=- auth=- x=- body=streamed", host));
    EXPECT_BODY(s, "/post-stream-len",
                e2e_fmt("POST /echo %s te=- cl=8 ct=- auth=- x=- body=streamed", host));
    EXPECT_CONTAINS(s, "/post-stream-short", "TypeError: fetch: the request body stream ended");
    /* a large fixed body goes out whole (streamed with its length) */
    EXPECT_CONTAINS(s, "/post-big", "200 POST /echo");
    cr_expect(strstr(up->last_echo, "cl=2097155 ") != NULL, "big body: %.120s", up->last_echo);
    EXPECT_BODY(s, "/cookies", "a=1; Path=/|b=2; HttpOnly 1 ok");
    EXPECT_BODY(s, "/chunked", "abcdef");
    EXPECT_BODY(s, "/close", "until close");
    EXPECT_BODY(s, "/head", "200 1234 true []");
    EXPECT_BODY(s, "/nocontent", "204 yes true");
    EXPECT_BODY(s, "/continue", "201 made");
    EXPECT_BODY(s, "/parallel", "hello,hello,hello");
    EXPECT_BODY(s, "/localhost", "200 hello"); /* DNS; ::1 is denied, 127.0.0.1 allowed */
    EXPECT_BODY(s, "/bad-scheme",
                "TypeError: Fetch API cannot load: the URL scheme must be http or https, not "
                "\"ftp\"");
    E2E_STOP_OK(s);
}

Test(fetch_http, connection_refused_is_a_type_error)
{
    struct upstream *up = up_start();
    const char *dir = fetch_tenant(origin_of(up), NULL);
    const char *more[] = {"--outbound-allow", "127.0.0.1/32", NULL};
    struct e2e_server *s = start_for(dir, more);
    EXPECT_BODY(s, "/refused",
                "TypeError: Network connection lost: cannot connect to 127.0.0.1:1 (connection "
                "refused)");
    E2E_STOP_OK(s);
}

Test(fetch_http, keep_alive_connections_are_reused)
{
    struct upstream *up = up_start();
    struct e2e_server *s = start_for(fetch_tenant(origin_of(up), NULL), NULL);
    EXPECT_BODY(s, "/reuse", "1,1,1,1,1");
    EXPECT_BODY(s, "/reuse", "1,1,1,1,1"); /* the pool outlives the request */
    cr_expect_eq(atomic_load(&up->accepted), 1);
    E2E_STOP_OK(s);
    char *err = e2e_server_stderr(s);
    cr_expect(strstr(err, "event=outbound connects=1 reused=9 "), "exit counters: %s", err);
    free(err);
}

Test(fetch_http, response_and_connect_timeouts)
{
    struct upstream *up = up_start();
    /* a listener whose backlog is full: SYNs are dropped, connect() never completes */
    int full_port;
    int full = listen_on("127.0.0.1", 0, &full_port);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)full_port)};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        connect(fillers[i], (struct sockaddr *)&sa, sizeof sa);
    }
    const char *dir = fetch_tenant(origin_of(up), NULL);
    const char *more[] = {"--outbound-timeout-ms", "400", "--outbound-connect-timeout-ms", "300",
                          NULL};
    struct e2e_server *s = start_for(dir, more);
    uint64_t t0 = e2e_now_ms();
    EXPECT_BODY(s, "/timeout",
                "TypeError: Network connection lost: 127.0.0.1 sent nothing for 400 ms (timed "
                "out)");
    uint64_t took = e2e_now_ms() - t0;
    cr_expect(took >= 380 && took < 3000, "the response timeout took %llu ms",
              (unsigned long long)took);
    t0 = e2e_now_ms();
    EXPECT_BODY(s, e2e_fmt("/to?url=http://127.0.0.1:%d/", full_port),
                e2e_fmt("TypeError: Network connection lost: connecting to 127.0.0.1:%d timed "
                        "out after 300 ms",
                        full_port));
    took = e2e_now_ms() - t0;
    cr_expect(took >= 280 && took < 3000, "the connect timeout took %llu ms",
              (unsigned long long)took);
    E2E_STOP_OK(s);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(full);
}

/* ---- streaming ---------------------------------------------------------------------------- */

static long rss_kb(pid_t pid)
{
    char *status = e2e_read_file(e2e_fmt("/proc/%d/status", (int)pid), NULL);
    long kb = -1;
    const char *p = status ? strstr(status, "VmRSS:") : NULL;
    if (p)
        kb = strtol(p + 6, NULL, 10);
    free(status);
    return kb;
}

/* Reads a response to GET path on a raw socket: the head, then the body (chunked or with a
 * length) piece by piece, checking each byte against big_byte() and sampling edged's RSS. */
static uint64_t stream_through(struct e2e_server *s, const char *path, long *rss_max)
{
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, e2e_fmt("GET %s HTTP/1.1\r\nHost: f.test\r\nConnection: close\r\n\r\n", path));
    static char buf[1 << 16];
    size_t have = 0;
    char *end = NULL;
    uint64_t deadline = e2e_now_ms() + 120000;
    while (!end) {
        cr_assert(e2e_readable(c, 10000), "no response head");
        ssize_t n = recv(c->fd, buf + have, sizeof buf - have - 1, 0);
        cr_assert_gt(n, 0, "the connection closed before the head");
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "head: %.200s", buf);
    bool chunked = strcasestr(buf, "transfer-encoding: chunked") != NULL;
    size_t off = (size_t)(end + 4 - buf);
    memmove(buf, buf + off, have - off);
    have -= off;
    uint64_t got = 0, chunk_left = 0, samples = 0;
    bool done = false, bad = false, want_crlf = false;
    while (!done && !bad && e2e_now_ms() < deadline) {
        /* decode what is buffered */
        size_t i = 0;
        while (i < have && !done) {
            if (!chunked || chunk_left) {
                size_t k = have - i;
                if (chunked && k > chunk_left)
                    k = (size_t)chunk_left;
                for (size_t j = 0; j < k; j++)
                    bad |= (unsigned char)buf[i + j] != big_byte(got + j);
                got += k;
                i += k;
                if (chunked) {
                    chunk_left -= k;
                    want_crlf = chunk_left == 0; /* the chunk's CRLF comes next */
                }
                continue;
            }
            char *crlf = memmem(buf + i, have - i, "\r\n", 2);
            if (!crlf)
                break;
            if (want_crlf) {
                i = (size_t)(crlf - buf) + 2;
                want_crlf = false;
                continue;
            }
            uint64_t size = strtoull(buf + i, NULL, 16);
            i = (size_t)(crlf - buf) + 2;
            if (size == 0)
                done = true;
            chunk_left = size;
        }
        memmove(buf, buf + i, have - i);
        have -= i;
        if (done)
            break;
        if ((samples++ & 63) == 0) {
            long kb = rss_kb(s->pid);
            if (kb > *rss_max)
                *rss_max = kb;
        }
        if (!e2e_readable(c, 10000))
            break;
        ssize_t n = recv(c->fd, buf + have, sizeof buf - have - 1, 0);
        if (n <= 0) {
            done = !chunked; /* a length-delimited body ends with the connection here */
            break;
        }
        have += (size_t)n;
    }
    cr_expect_not(bad, "the body's bytes differ from what the server sent");
    e2e_close(c);
    return got;
}

Test(fetch_stream, a_100_mb_response_streams_through_a_worker)
{
    struct upstream *up = up_start();
    struct e2e_server *s = start_for(fetch_tenant(origin_of(up), NULL), NULL);
    EXPECT_BODY(s, "/get", "200 true text/plain hello"); /* warm: the isolate exists */
    long before = rss_kb(s->pid), peak = before;
    const uint64_t n = 100ull << 20;
    uint64_t t0 = e2e_now_ms();
    uint64_t got = stream_through(s, e2e_fmt("/big?n=%llu", (unsigned long long)n), &peak);
    uint64_t ms = e2e_now_ms() - t0;
    cr_expect_eq(got, n, "received %llu of %llu bytes", (unsigned long long)got,
                 (unsigned long long)n);
    cr_log_info("100 MB through a worker: %llu ms (%.0f MB/s), edged RSS %ld -> peak %ld KB",
                (unsigned long long)ms, ms ? 100.0 * 1000 / (double)ms : 0.0, before, peak);
    /* pulled, not buffered: the node holds a few chunks, never the body (under ASan freed memory
     * sits in its quarantine, 256 MB, so RSS says nothing there) */
    char *maps = e2e_read_file(e2e_fmt("/proc/%d/maps", (int)s->pid), NULL);
    bool asan = maps && strstr(maps, "libasan");
    free(maps);
    if (!asan)
        cr_expect_lt(peak - before, 48 * 1024, "RSS grew by %ld KB while streaming 100 MB",
                     peak - before);
    E2E_STOP_OK(s);
}

/* ---- redirects -------------------------------------------------------------------------- */

Test(fetch_redirect, follow_manual_error)
{
    struct upstream *up = up_start();
    struct e2e_server *s = start_for(fetch_tenant(origin_of(up), NULL), NULL);
    const char *o = origin_of(up);
    EXPECT_BODY(s, "/follow", e2e_fmt("200 %s/redirect/0 true landed", o));
    /* the redirect chain reused one connection */
    cr_expect_eq(atomic_load(&up->accepted), 1, "connections: %d", atomic_load(&up->accepted));
    EXPECT_BODY(s, "/manual", e2e_fmt("302 /redirect/2 false %s/redirect/3", o));
    EXPECT_BODY(s, "/manual-request", "302");
    EXPECT_BODY(s, "/error",
                "TypeError: fetch() was redirected (302) and its redirect mode is \"error\"");
    EXPECT_BODY(s, "/bad-mode",
                "TypeError: Request: redirect must be \"follow\", \"manual\" or \"error\", not "
                "\"sideways\"");
    EXPECT_CONTAINS(s, "/loop", "TypeError: Too many redirects (more than 20)");
    E2E_STOP_OK(s);
}

Test(fetch_redirect, methods_bodies_and_headers_per_the_fetch_standard)
{
    struct upstream *up = up_start();
    struct e2e_server *s = start_for(fetch_tenant(origin_of(up), NULL), NULL);
    const char *h = e2e_fmt("host=127.0.0.1:%d", up->port);
    /* 301/302 turn POST into GET without a body (and drop its content headers); 303 turns
     * anything but GET/HEAD into GET; 307/308 keep method and body */
    EXPECT_BODY(s, "/r?code=301",
                e2e_fmt("200 true GET /echo %s te=- cl=- ct=- auth=secret x=- body=", h));
    EXPECT_BODY(s, "/r?code=302",
                e2e_fmt("200 true GET /echo %s te=- cl=- ct=- auth=secret x=- body=", h));
    EXPECT_BODY(s, "/r?code=303&method=PUT",
                e2e_fmt("200 true GET /echo %s te=- cl=- ct=- auth=secret x=- body=", h));
    EXPECT_BODY(s, "/r?code=302&method=PUT",
                e2e_fmt("200 true PUT /echo %s te=- cl=8 ct=text/x-body auth=secret x=- "
                        "body=the-body",
                        h));
    EXPECT_BODY(s, "/r?code=307",
                e2e_fmt("200 true POST /echo %s te=- cl=8 ct=text/x-body auth=secret x=- "
                        "body=the-body",
                        h));
    EXPECT_BODY(s, "/r?code=308",
                e2e_fmt("200 true POST /echo %s te=- cl=8 ct=text/x-body auth=secret x=- "
                        "body=the-body",
                        h));
    /* a streamed body cannot be sent twice: 307 fails, 303 drops it */
    EXPECT_BODY(s, "/r?code=307&stream=1",
                "TypeError: fetch() cannot follow a 307 redirect: the request body was a stream, "
                "which cannot be sent again");
    EXPECT_BODY(s, "/r?code=303&stream=1",
                e2e_fmt("200 true GET /echo %s te=- cl=- ct=- auth=secret x=- body=", h));
    /* to another origin (localhost is another host): Authorization stays behind */
    const char *other = e2e_fmt("http%%3A%%2F%%2Flocalhost%%3A%d%%2Fecho", up->port);
    EXPECT_BODY(s, e2e_fmt("/r?code=307&loc=%s", other),
                e2e_fmt("200 true POST /echo host=localhost:%d te=- cl=8 ct=text/x-body auth=- "
                        "x=- body=the-body",
                        up->port));
    E2E_STOP_OK(s);
}

/* ---- abort -------------------------------------------------------------------------------- */

Test(fetch_abort, before_during_the_head_and_mid_body)
{
    struct upstream *up = up_start();
    struct e2e_server *s = start_for(fetch_tenant(origin_of(up), NULL), NULL);
    EXPECT_BODY(s, "/abort-before", "RangeError: stop-before");
    /* the signal's own reason (AbortController.abort() without one) */
    EXPECT_BODY(s, "/abort-head", "AbortError: This operation was aborted listeners=0");
    EXPECT_BODY(s, "/abort-body", "1000 Error: stop-mid-body");
    EXPECT_BODY(s, "/cancel-body", "cancelled");
    /* the server saw each connection go: the request waiting for its head, and the two bodies
     * it was still sending */
    uint64_t end = e2e_now_ms() + 3000;
    while (atomic_load(&up->closed_early) < 3 && e2e_now_ms() < end)
        e2e_sleep_ms(20);
    cr_expect_eq(atomic_load(&up->closed_early), 3, "connections closed by edged: %d",
                 atomic_load(&up->closed_early));
    E2E_STOP_OK(s);
}

/* ---- limits --------------------------------------------------------------------------------- */

Test(fetch_limits, subrequests_per_request_default_and_configured)
{
    struct upstream *up = up_start();
    const char *dir = fetch_tenant(origin_of(up), NULL);
    cr_assert_eq(e2e_tenant(dir, "g",
                            e2e_fmt("route = g.test main\ncpu_ms = 5000\nvar = UP=%s\n"
                                    "subrequests = 3\n",
                                    origin_of(up)),
                            "main", FETCH_JS),
                 0);
    struct e2e_server *s = start_for(dir, NULL);
    EXPECT_BODY(s, "/count?n=50", "50 none");
    EXPECT_BODY(s, "/count?n=52",
                "50 Error: Too many subrequests: this worker may make 50 fetch() calls per "
                "request.");
    struct e2e_response r;
    E2E_GET(s->port, "g.test", "/count?n=5", &r);
    E2E_EXPECT(&r, 200,
               "3 Error: Too many subrequests: this worker may make 3 fetch() calls per request.");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
    struct e2e_usage u;
    cr_assert_eq(e2e_usage_read(s->data_dir, "g", e2e_utc_day(), &u), 0, "%s", e2e_errmsg());
    cr_expect_eq(u.subrequests, 3, "g's subrequests: %lld", (long long)u.subrequests);
    cr_assert_eq(e2e_usage_read(s->data_dir, "f", e2e_utc_day(), &u), 0, "%s", e2e_errmsg());
    cr_expect_eq(u.subrequests, 100, "f's subrequests: %lld", (long long)u.subrequests);
}

/* ---- the operator's address rules --------------------------------------------------------- */

Test(fetch_deny, a_denied_address_gets_no_connection)
{
    struct upstream *up = up_start();
    /* 127.0.0.2 is loopback too (all of 127/8 is, without an alias): its server is reachable,
     * so only the rule can keep edged away */
    struct upstream *denied = up_start_on("127.0.0.2");
    const char *dir = fetch_tenant(origin_of(up), NULL);
    const char *more[] = {"--outbound-allow",
                          "127.0.0.0/8",
                          "--outbound-deny",
                          "127.0.0.2/32",
                          "--log-level",
                          "debug",
                          NULL};
    struct e2e_server *s = start_for(dir, more);
    EXPECT_BODY(s, e2e_fmt("/to?url=http://127.0.0.2:%d/hello", denied->port),
                "TypeError: fetch() to 127.0.0.2 is not allowed: 127.0.0.2 (denied by "
                "--outbound-deny) is not reachable from workers on this node");
    /* a redirect hop is judged too */
    EXPECT_BODY(s,
                e2e_fmt("/r?code=302&method=GET&loc=http%%3A%%2F%%2F127.0.0.2%%3A%d%%2Fhello",
                        denied->port),
                "TypeError: fetch() to 127.0.0.2 is not allowed: 127.0.0.2 (denied by "
                "--outbound-deny) is not reachable from workers on this node");
    EXPECT_BODY(s, "/get", "200 true text/plain hello"); /* 127.0.0.1 stays allowed */
    e2e_sleep_ms(100);
    cr_expect_eq(atomic_load(&denied->accepted), 0, "the denied server got %d connections",
                 atomic_load(&denied->accepted));
    E2E_STOP_OK(s);
    char *err = e2e_server_stderr(s);
    cr_expect_null(strstr(err, "event=outbound_connect tenant=f host=127.0.0.2"),
                   "a connect to the denied address was attempted");
    free(err);
}

Test(fetch_deny, metadata_loopback_and_the_nodes_own_ports_by_default)
{
    struct upstream *up = up_start();
    const char *dir = fetch_tenant(origin_of(up), NULL);
    /* no --outbound-allow: loopback is denied like the rest */
    const char *args[] = {"--tenants",      dir,           "--threads", "1", "--log-level", "debug",
                          "--admin-listen", "127.0.0.1:0", NULL};
    struct e2e_server *s = e2e_server_start(args);
    cr_assert_not_null(s, "%s", e2e_errmsg());
    EXPECT_BODY(s, "/to?url=http://169.254.169.254/latest/meta-data/",
                "TypeError: fetch() to 169.254.169.254 is not allowed: 169.254.169.254 "
                "(link-local, where cloud metadata lives) is not reachable from workers on this "
                "node");
    EXPECT_BODY(s, "/to?url=http://[fe80::1]/",
                "TypeError: fetch() to fe80::1 is not allowed: fe80::1 (link-local) is not "
                "reachable from workers on this node");
    EXPECT_BODY(s, "/to?url=http://[::ffff:169.254.169.254]/",
                "TypeError: fetch() to ::ffff:169.254.169.254 is not allowed: "
                "::ffff:169.254.169.254 (link-local, where cloud metadata lives) is not reachable "
                "from workers on this node");
    cr_expect_str_eq(get_body(s, "/get", 500),
                     "threw TypeError: fetch() to 127.0.0.1 is not allowed: 127.0.0.1 (loopback) "
                     "is not reachable from workers on this node");
    EXPECT_CONTAINS(s, "/to?url=http://10.1.2.3/", "(private) is not reachable");
    cr_expect_eq(atomic_load(&up->accepted), 0);
    E2E_STOP_OK(s);
    char *err = e2e_server_stderr(s);
    /* refused before any socket connected: no connect was attempted at all */
    cr_expect_null(strstr(err, "event=outbound_connect"), "a connect was attempted: %s", err);
    cr_expect(strstr(err, "event=outbound connects=0 "), "exit counters: %s", err);
    cr_expect(strstr(err, "event=outbound_denied tenant=f host=169.254.169.254 "
                          "addr=169.254.169.254 port=80"),
              "no denial logged");
    free(err);

    /* the node's own listener and admin ports stay denied even where loopback is allowed */
    const char *more[] = {"--admin-listen", "127.0.0.1:0", NULL};
    s = start_for(dir, more);
    EXPECT_BODY(s, e2e_fmt("/to?url=http://127.0.0.1:%d/get", s->port),
                "TypeError: fetch() to 127.0.0.1 is not allowed: 127.0.0.1 (a port of this node) "
                "is not reachable from workers on this node");
    EXPECT_BODY(s, e2e_fmt("/to?url=http://localhost:%d/v1/usage", s->admin_port),
                "TypeError: fetch() to localhost is not allowed: 127.0.0.1 (a port of this "
                "node) is not reachable from workers on this node");
    E2E_STOP_OK(s);
}

Test(fetch_deny, bad_rules_are_refused_at_start)
{
    char *out = NULL, *err = NULL;
    const char *args[] = {"--outbound-deny", "10.0.0.0/33", NULL};
    int rc = e2e_run(args, 10000, &out, &err);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "--outbound-deny 10.0.0.0/33"), "%s", err);
    free(out);
    free(err);
    const char *args2[] = {"--outbound-allow", "localhost", NULL};
    rc = e2e_run(args2, 10000, &out, &err);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "--outbound-allow localhost: expected ADDRESS[/PREFIX]"), "%s", err);
    free(out);
    free(err);
}

/* ---- TLS -------------------------------------------------------------------------------- */

/* Runs a shell command (the openssl CLI) to completion within 30 s. */
static void sh(const char *cmd)
{
    char *out = NULL, *err = NULL;
    const char *args[] = {"/bin/sh", "-c", cmd, NULL};
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execv(args[0], (char *const *)args);
        _exit(127);
    }
    int status = 0;
    uint64_t end = e2e_now_ms() + 30000;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (e2e_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        e2e_sleep_ms(10);
    }
    free(out);
    free(err);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "failed: %s", cmd);
}

/* A test CA and certificates signed by it (and one that is not), made with the openssl CLI. */
static const char *make_certs(void)
{
    const char *d = e2e_tmpdir();
    cr_assert_not_null(d);
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    sh(e2e_fmt("cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 "
               "-subj '/CN=edged test CA' -addext basicConstraints=critical,CA:TRUE "
               "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null",
               d, ec));
    const char *certs[][2] = {{"localhost", "DNS:localhost,IP:127.0.0.1"},
                              {"other", "DNS:other.test"}};
    for (size_t i = 0; i < 2; i++)
        sh(e2e_fmt("cd %s && openssl req %s -keyout %s.key -out %s.csr -subj '/CN=%s' 2>/dev/null "
                   "&& printf 'subjectAltName=%s\\nbasicConstraints=CA:FALSE\\n"
                   "extendedKeyUsage=serverAuth\\n' > %s.ext && openssl x509 -req -in %s.csr "
                   "-CA ca.pem -CAkey ca.key -CAcreateserial -out %s.pem -days 2 -extfile %s.ext "
                   "2>/dev/null",
                   d, ec, certs[i][0], certs[i][0], certs[i][0], certs[i][1], certs[i][0],
                   certs[i][0], certs[i][0], certs[i][0]));
    /* self-signed for localhost: valid name, untrusted issuer */
    sh(e2e_fmt("cd %s && openssl req -x509 %s -keyout self.key -out self.pem -days 2 "
               "-subj '/CN=localhost' -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
               "2>/dev/null",
               d, ec));
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/www/hello.txt", d), "hello over tls"), 0);
    return d;
}

static pid_t servers[8];
static size_t n_servers;

static void kill_servers(void)
{
    for (size_t i = 0; i < n_servers; i++) {
        kill(servers[i], SIGKILL);
        waitpid(servers[i], NULL, 0);
    }
    n_servers = 0;
}

static void tls_fini(void)
{
    kill_servers();
    fetch_fini();
}

/* `openssl s_server -WWW` serving <dir>/www on a free port with cert (and, for SNI
 * "localhost", cert2; or, with cert2 "tls1.2", speaking TLS 1.2 only). Returns the port once
 * it accepts connections. */
static int s_server(const char *dir, const char *cert, const char *cert2)
{
    int port;
    cr_assert_lt(n_servers, sizeof servers / sizeof *servers);
    close(listen_on("127.0.0.1", 1, &port)); /* a free port (bound again right away) */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (chdir(e2e_fmt("%s/www", dir)) != 0)
            _exit(127);
        int null = open("/dev/null", 0);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        const char *accept = e2e_fmt("127.0.0.1:%d", port);
        const char *c = e2e_fmt("%s/%s.pem", dir, cert), *k = e2e_fmt("%s/%s.key", dir, cert);
        if (cert2 && strcmp(cert2, "tls1.2") == 0) {
            execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", c, "-key", k,
                   "-tls1_2", "-WWW", "-quiet", (char *)NULL);
        } else if (cert2) {
            const char *c2 = e2e_fmt("%s/%s.pem", dir, cert2),
                       *k2 = e2e_fmt("%s/%s.key", dir, cert2);
            execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", c, "-key", k,
                   "-servername", "localhost", "-cert2", c2, "-key2", k2, "-WWW", "-quiet",
                   (char *)NULL);
        } else {
            execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", c, "-key", k,
                   "-WWW", "-quiet", (char *)NULL);
        }
        _exit(127);
    }
    servers[n_servers++] = pid;
    uint64_t end = e2e_now_ms() + 10000;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return port;
        cr_assert(e2e_now_ms() < end, "openssl s_server did not start on %d", port);
        e2e_sleep_ms(20);
    }
}

TestSuite(fetch_tls_servers, .fini = tls_fini, .timeout = 90);

Test(fetch_tls_servers, trusted_untrusted_mismatched_and_sni)
{
    const char *d = make_certs();
    int good = s_server(d, "localhost", NULL);
    int self = s_server(d, "self", NULL);
    int other = s_server(d, "other", NULL);
    /* default certificate other.test; localhost's only for SNI "localhost" */
    int sni = s_server(d, "other", "localhost");
    int tls12 = s_server(d, "localhost", "tls1.2");
    struct upstream *up = up_start();
    const char *dir = fetch_tenant(origin_of(up), NULL);
    const char *more[] = {"--outbound-ca", e2e_fmt("%s/ca.pem", d), "--log-level", "debug", NULL};
    struct e2e_server *s = start_for(dir, more);
    EXPECT_BODY(s, e2e_fmt("/to?url=https://localhost:%d/hello.txt", good), "200 hello over tls");
    EXPECT_BODY(s, e2e_fmt("/to?url=https://127.0.0.1:%d/hello.txt", good), "200 hello over tls");
    EXPECT_BODY(s, e2e_fmt("/to?url=https://127.0.0.1:%d/hello.txt", tls12), "200 hello over tls");
    EXPECT_BODY(s, e2e_fmt("/to?url=https://localhost:%d/hello.txt", self),
                "TypeError: TLS handshake with localhost failed: the server's certificate is not "
                "trusted (self signed certificate)");
    EXPECT_BODY(s, e2e_fmt("/to?url=https://localhost:%d/hello.txt", other),
                "TypeError: TLS handshake with localhost failed: the server's certificate is not "
                "trusted (Hostname mismatch)");
    /* SNI: the name is sent, so the server picks the certificate that matches */
    EXPECT_BODY(s, e2e_fmt("/to?url=https://localhost:%d/hello.txt", sni), "200 hello over tls");
    /* an IP literal sends no SNI (RFC 6066): the default certificate does not name it */
    EXPECT_BODY(s, e2e_fmt("/to?url=https://127.0.0.1:%d/hello.txt", sni),
                "TypeError: TLS handshake with 127.0.0.1 failed: the server's certificate is not "
                "trusted (IP address mismatch)");
    /* https: to a plain HTTP server */
    EXPECT_CONTAINS(s, e2e_fmt("/to?url=https://127.0.0.1:%d/hello", up->port),
                    "TypeError: TLS handshake with 127.0.0.1 failed: ");
    E2E_STOP_OK(s);
    char *err = e2e_server_stderr(s);
    cr_expect(strstr(err, "event=outbound_tls tenant=f host=localhost version=TLSv1.3"),
              "no TLS 1.3 handshake logged");
    cr_expect(strstr(err, "event=outbound_tls tenant=f host=127.0.0.1 version=TLSv1.2"),
              "no TLS 1.2 handshake logged");
    free(err);

    /* without --outbound-ca the system's bundle is used: the test CA is not in it */
    s = start_for(dir, NULL);
    EXPECT_BODY(s, e2e_fmt("/to?url=https://localhost:%d/hello.txt", good),
                "TypeError: TLS handshake with localhost failed: the server's certificate is not "
                "trusted (unable to get local issuer certificate)");
    E2E_STOP_OK(s);
    /* an unreadable --outbound-ca stops the node at start */
    char *out = NULL;
    err = NULL;
    const char *args[] = {"--tenants", dir, "--outbound-ca", e2e_fmt("%s/nope.pem", d), NULL};
    cr_expect_eq(e2e_run(args, 20000, &out, &err), 2);
    cr_expect(strstr(err, "--outbound-ca: cannot load trusted certificates from"), "%s", err);
    free(out);
    free(err);
}

/* ---- a child's fetch with globalOutbound omitted ------------------------------------------ */

/* clang-format off */
static const char PARENT_JS[] =
    E2E_JS_PATHOF
    "const CHILD = `export default {\n"
    "  async text(up) { try { const r = await fetch(up + '/hello'); return r.status + ':' + await r.text(); }\n"
    "    catch (e) { return e.name + ': ' + e.message; } },\n"
    "  async response(up) { return fetch(up + '/big/300000'); },\n"
    "  async many(up) { let ok = 0; try { for (let i = 0; i < 10; i++) { await (await fetch(up + '/hello')).text(); ok++; } } catch (e) { return ok + ' ' + e.message; } return ok + ''; },\n"
    "};`;\n"
    "function code(extra) { return { compatibilityDate: '2026-11-01', mainModule: 'c.js', modules: { 'c.js': CHILD }, ...extra }; }\n"
    "export default {\n"
    "  async fetch(request, env) {\n"
    "    const p = pathOf(request.url);\n"
    "    if (p === '/inherit') return new Response(await env.LOADER.load(code()).getEntrypoint().text(env.UP));\n"
    "    if (p === '/null') return new Response(await env.LOADER.load(code({ globalOutbound: null })).getEntrypoint().text(env.UP));\n"
    "    if (p === '/response') return env.LOADER.load(code()).getEntrypoint().response(env.UP);\n"
    "    if (p === '/limited') return new Response(await env.LOADER.load(code({ limits: { subRequests: 4 } })).getEntrypoint().many(env.UP));\n"
    "    return new Response('no route', { status: 404 });\n"
    "  },\n"
    "};\n";
/* clang-format on */

Test(fetch_child, omitted_global_outbound_fetches_through_the_parent)
{
    struct upstream *up = up_start();
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    cr_assert_eq(
        e2e_tenant(dir, "p",
                   e2e_fmt("route = p.test parent\ncpu_ms = 5000\nvar = UP=%s\n", origin_of(up)),
                   "parent", PARENT_JS),
        0);
    cr_assert_eq(e2e_write_file(e2e_fmt("%s/p/parent.metadata.json", dir),
                                "{\"main_module\": \"parent.js\", \"bindings\": [{\"type\": "
                                "\"worker_loader\", \"name\": \"LOADER\"}]}\n"),
                 0);
    struct e2e_server *s = start_for(dir, NULL);
    struct e2e_response r;
    E2E_GET(s->port, "p.test", "/inherit", &r);
    E2E_EXPECT(&r, 200, "200:hello");
    e2e_response_dispose(&r);
    E2E_GET(s->port, "p.test", "/null", &r);
    E2E_EXPECT(&r, 200,
               "TypeError: This worker is not permitted to access the internet via global "
               "functions like fetch(). It must use capabilities (such as bindings in 'env') to "
               "talk to the outside world.");
    e2e_response_dispose(&r);
    /* the child's network response, its body pulled across two isolates to the client */
    E2E_GET(s->port, "p.test", "/response", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body_len, 300000);
    bool same = r.body_len == 300000;
    for (size_t i = 0; same && i < r.body_len; i++)
        same = (unsigned char)r.body[i] == big_byte(i);
    cr_expect(same, "the body crossed two isolates changed");
    e2e_response_dispose(&r);
    E2E_GET(s->port, "p.test", "/limited", &r);
    E2E_EXPECT(&r, 200, "4 Too many subrequests: this worker may make 4 per call");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
    struct e2e_usage u;
    cr_assert_eq(e2e_usage_read(s->data_dir, "p", e2e_utc_day(), &u), 0, "%s", e2e_errmsg());
    /* 1 + 1 + 4 fetches, and 4 child invocations */
    cr_expect_eq(u.subrequests, 10, "subrequests %lld", (long long)u.subrequests);
}
