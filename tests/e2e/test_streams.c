/*
 * End-to-end streaming through edge/: a worker's ReadableStream leaves as it is produced
 * (chunked on HTTP/1.1, Content-Length when the stream's length is known), the node pulls the
 * next chunk only when the connection drained (100 MB to a fast and to a slow reader with the
 * node's RSS flat), a client that goes away cancels the stream, and a request body reaches the
 * worker while it is still arriving (the worker answers before the client finished sending).
 * The client here reads the sockets itself, chunk framing included, without ever holding a
 * whole body.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"

TestSuite(streams, .fini = e2e_teardown, .timeout = 120);

/* clang-format off */
/* /big?MB streams MB megabytes of 'x' in 64 KiB chunks, each a fresh buffer (the usual
 * garbage a stream makes); /forever streams until cancelled (/state tells); /fixed is a
 * FixedLengthStream; /echo answers with the request body, /length with its length; /silent
 * sends a first chunk, then waits on a request body that does not come. */
static const char STREAM_JS[] =
    E2E_JS_PATHOF
    "let canceled = 'no', pulls = 0;\n"
    "const CHUNK = 64 * 1024;\n"
    "export default {\n"
    "  async fetch(request) {\n"
    "    const path = pathOf(request.url);\n"
    "    if (path === '/big') {\n"
    "      let left = Number(request.url.split('?')[1]) * 1024 * 1024;\n"
    "      return new Response(new ReadableStream({ pull(c) {\n"
    "        if (left <= 0) { c.close(); return; }\n"
    "        const n = Math.min(left, CHUNK); left -= n;\n"
    "        c.enqueue(new Uint8Array(n).fill(120));\n"
    "      } }));\n"
    "    }\n"
    "    if (path === '/forever') {\n"
    "      canceled = 'no'; pulls = 0;\n"
    "      return new Response(new ReadableStream({\n"
    "        pull(c) { pulls++; c.enqueue(new Uint8Array(CHUNK).fill(121)); },\n"
    "        cancel(reason) { canceled = 'yes'; },\n"
    "      }));\n"
    "    }\n"
    "    if (path === '/state') return new Response(canceled + ' ' + pulls);\n"
    "    if (path === '/fixed') {\n"
    "      const { readable, writable } = new FixedLengthStream(11);\n"
    "      const w = writable.getWriter();\n"
    "      w.write(new TextEncoder().encode('hello ')); w.write(new TextEncoder().encode('world'));\n"
    "      w.close();\n"
    "      return new Response(readable);\n"
    "    }\n"
    "    if (path === '/echo') return new Response(request.body);\n"
    "    if (path === '/length') {\n"
    "      let n = 0;\n"
    "      for await (const chunk of request.body) n += chunk.byteLength;\n"
    "      return new Response(String(n));\n"
    "    }\n"
    "    if (path === '/silent') {\n"
    "      const body = request.body.getReader();\n"
    "      return new Response(new ReadableStream({\n"
    "        start(c) { c.enqueue(new TextEncoder().encode('first')); },\n"
    "        async pull(c) { for (;;) await body.read(); } }));\n"
    "    }\n"
    "    return new Response('hi');\n"
    "  }\n"
    "};\n";
/* clang-format on */

static struct e2e_server *start_streams(const char *const *extra)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    /* 100 MB of chunks takes a few tens of ms of CPU: a generous budget */
    const char *conf = "cpu_ms = 5000\nroute = s.test streamer\n";
    cr_assert_eq(e2e_tenant(dir, "st", conf, "streamer", STREAM_JS), 0, "%s", e2e_errmsg());
    const char *args[16] = {"--tenants", dir, "--threads", "1"};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    struct e2e_server *s = e2e_server_start(args);
    cr_assert_not_null(s, "edged did not start: %s", e2e_errmsg());
    return s;
}

/* The server's resident set, in KiB (VmRSS of /proc/PID/status). */
static long rss_kb(const struct e2e_server *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* A response read straight off the socket. */
struct reader {
    int fd;
    char buf[256 * 1024];
    size_t len, off;
    bool eof;
};

/* Waits at most timeout_ms for bytes; appends them to r->buf. Returns bytes read, 0 at EOF,
 * -1 on timeout or error. */
static ssize_t fill(struct reader *r, int timeout_ms)
{
    if (r->off > 0) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
    if (n == 0)
        r->eof = true;
    if (n > 0)
        r->len += (size_t)n;
    return n;
}

/* Reads the head (status line and headers) into head (NUL-terminated). Returns 0 or -1. */
static int read_head(struct reader *r, char *head, size_t cap)
{
    for (int i = 0; i < 200; i++) {
        char *end = memmem(r->buf + r->off, r->len - r->off, "\r\n\r\n", 4);
        if (end) {
            size_t n = (size_t)(end + 4 - (r->buf + r->off));
            if (n >= cap)
                return -1;
            memcpy(head, r->buf + r->off, n);
            head[n] = 0;
            r->off += n;
            return 0;
        }
        if (fill(r, 5000) <= 0)
            return -1;
    }
    return -1;
}

/* Reads a chunked body to its end, checking every byte is `want`, counting the bytes;
 * pause_us after each read makes a slow client. sample is called every 4 MB. Returns the
 * body's length, or -1 (framing error, wrong byte, timeout, EOF before the last chunk). */
static long long read_chunked(struct reader *r, char want, int pause_us, void (*sample)(void *),
                              void *ud)
{
    long long total = 0, next_sample = 4 << 20;
    for (;;) {
        char *crlf;
        while (!(crlf = memmem(r->buf + r->off, r->len - r->off, "\r\n", 2)))
            if (fill(r, 10000) <= 0)
                return -1;
        unsigned long size = strtoul(r->buf + r->off, NULL, 16);
        r->off = (size_t)(crlf + 2 - r->buf);
        if (size == 0) {
            while (r->len - r->off < 2)
                if (fill(r, 10000) <= 0)
                    return -1;
            return memcmp(r->buf + r->off, "\r\n", 2) == 0 ? total : -1;
        }
        unsigned long left = size;
        while (left > 0) {
            if (r->off == r->len && fill(r, 10000) <= 0)
                return -1;
            size_t n = r->len - r->off < left ? r->len - r->off : left;
            for (size_t i = 0; i < n; i++)
                if (r->buf[r->off + i] != want)
                    return -1;
            r->off += n;
            left -= n;
            total += (long long)n;
            if (total >= next_sample) {
                next_sample += 4 << 20;
                if (sample)
                    sample(ud);
            }
            if (pause_us)
                usleep((useconds_t)pause_us);
        }
        while (r->len - r->off < 2)
            if (fill(r, 10000) <= 0)
                return -1;
        if (memcmp(r->buf + r->off, "\r\n", 2) != 0)
            return -1;
        r->off += 2;
    }
}

struct rss_watch {
    const struct e2e_server *s;
    long peak_kb;
};

static void sample_rss(void *ud)
{
    struct rss_watch *w = ud;
    long kb = rss_kb(w->s);
    if (kb > w->peak_kb)
        w->peak_kb = kb;
}

/* GET /big?mb on a fresh connection, read with pause_us between reads; returns the bytes. */
static long long stream_big(struct e2e_server *s, int mb, int pause_us, struct rss_watch *w)
{
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, e2e_fmt("GET /big?%d HTTP/1.1\r\nHost: s.test\r\n\r\n", mb));
    struct reader *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->fd = c->fd;
    char head[4096];
    cr_assert_eq(read_head(r, head, sizeof head), 0, "no response head");
    cr_assert(strncmp(head, "HTTP/1.1 200", 12) == 0, "%s", head);
    cr_assert(strcasestr(head, "transfer-encoding: chunked"), "not chunked: %s", head);
    cr_assert_null(strcasestr(head, "content-length"), "%s", head);
    long long n = read_chunked(r, 'x', pause_us, sample_rss, w);
    free(r);
    e2e_close(c);
    return n;
}

Test(streams, hundred_megabytes_keep_rss_flat)
{
    struct e2e_server *s = start_streams(NULL);
    /* Warm up: the isolate, its heap and the connection buffers exist before the baseline. */
    struct rss_watch w = {s, 0};
    cr_assert_eq(stream_big(s, 8, 0, &w), 8ll << 20);
    long base = rss_kb(s);

    uint64_t t0 = e2e_now_ms();
    w.peak_kb = base;
    long long n = stream_big(s, 100, 0, &w);
    uint64_t fast_ms = e2e_now_ms() - t0;
    cr_assert_eq(n, 100ll << 20, "fast reader got %lld bytes", n);
    long fast_peak = w.peak_kb;

    /* A slow reader: 64 KiB at most per read, 1 ms between reads (~40 MB/s at best), so the
     * kernel's buffers fill and the node must stop pulling from the worker. */
    t0 = e2e_now_ms();
    w.peak_kb = base;
    n = stream_big(s, 100, 1000, &w);
    uint64_t slow_ms = e2e_now_ms() - t0;
    cr_assert_eq(n, 100ll << 20, "slow reader got %lld bytes", n);
    long slow_peak = w.peak_kb;
    long after = rss_kb(s);

    printf("figure: 100 MB streamed: RSS base %ld KiB, peak growth %ld KiB fast (%llu ms), "
           "%ld KiB slow (%llu ms), after %ld KiB\n",
           base, fast_peak - base, (unsigned long long)fast_ms, slow_peak - base,
           (unsigned long long)slow_ms, after - base);
    fflush(stdout);
#ifndef __SANITIZE_ADDRESS__ /* ASan's quarantine keeps freed memory: RSS says nothing there */
    cr_expect_lt(fast_peak - base, 20 * 1024, "RSS grew %ld KiB with a fast reader",
                 fast_peak - base);
    cr_expect_lt(slow_peak - base, 20 * 1024, "RSS grew %ld KiB with a slow reader",
                 slow_peak - base);
#endif
    E2E_STOP_OK(s);
}

/* GET /state: "yes N" once the stream was cancelled (N: pulls so far). */
static void expect_canceled(struct e2e_server *s, const char *what)
{
    char body[64] = "";
    for (int i = 0; i < 100; i++) {
        struct e2e_response r;
        E2E_GET(s->port, "s.test", "/state", &r);
        snprintf(body, sizeof body, "%s", r.body);
        e2e_response_dispose(&r);
        if (strncmp(body, "yes", 3) == 0)
            return;
        e2e_sleep_ms(20);
    }
    cr_assert_fail("%s: the stream was not cancelled (state: %s)", what, body);
}

Test(streams, client_going_away_cancels_the_stream)
{
    struct e2e_server *s = start_streams(NULL);
    /* A client that reads a little and hangs up while the stream is flowing. */
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "GET /forever HTTP/1.1\r\nHost: s.test\r\n\r\n");
    cr_assert_eq(e2e_readable(c, 5000), 1, "nothing streamed");
    e2e_close(c);
    expect_canceled(s, "reading client");

    /* One that never reads: the node pauses the stream once the kernel's buffers are full,
     * and the pulls stop; hanging up then cancels the paused stream. */
    c = E2E_CONNECT(s->port);
    int small = 4096;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    E2E_SEND(c, "GET /forever HTTP/1.1\r\nHost: s.test\r\n\r\n");
    e2e_sleep_ms(300);
    struct e2e_response r;
    E2E_GET(s->port, "s.test", "/state", &r);
    int pulls1 = atoi(r.body + 3);
    e2e_response_dispose(&r);
    e2e_sleep_ms(300);
    E2E_GET(s->port, "s.test", "/state", &r);
    int pulls2 = atoi(r.body + 3);
    cr_expect(strncmp(r.body, "no", 2) == 0, "cancelled while the client is there: %s", r.body);
    e2e_response_dispose(&r);
    cr_expect_eq(pulls1, pulls2, "the worker was pulled while nobody read (%d, then %d)", pulls1,
                 pulls2);
    cr_expect_lt(pulls2, 200, "%d chunks of 64 KiB pulled for a client that reads nothing", pulls2);
    e2e_close(c);
    expect_canceled(s, "paused stream");
    E2E_STOP_OK(s);
}

Test(streams, head_of_a_stream_sends_no_body_and_stops_it)
{
    struct e2e_server *s = start_streams(NULL);
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "HEAD /forever HTTP/1.1\r\nHost: s.test\r\n\r\n");
    struct e2e_response r;
    E2E_READ(c, &r, E2E_HEAD_REQUEST);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body_len, 0);
    e2e_response_dispose(&r);
    expect_canceled(s, "HEAD");
    /* the connection is kept */
    E2E_SEND(c, "GET /fixed HTTP/1.1\r\nHost: s.test\r\n\r\n");
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "hello world");
    e2e_response_dispose(&r);
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(streams, known_length_is_content_length)
{
    struct e2e_server *s = start_streams(NULL);
    struct e2e_response r;
    E2E_GET(s->port, "s.test", "/fixed", &r);
    E2E_EXPECT(&r, 200, "hello world");
    const char *cl = e2e_header(&r, "Content-Length");
    cr_expect(cl && strcmp(cl, "11") == 0, "Content-Length: %s", cl ? cl : "(none)");
    cr_expect(!r.chunked);
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(streams, request_body_reaches_the_worker_while_it_arrives)
{
    struct e2e_server *s = start_streams(NULL);
    /* 4 MB declared; the worker answers with request.body at once: its head comes back before
     * the client has sent more than the first piece. */
    const size_t total = 4u << 20, piece = 256u << 10;
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c,
             e2e_fmt("POST /echo HTTP/1.1\r\nHost: s.test\r\nContent-Length: %zu\r\n\r\n", total));
    char *data = malloc(piece);
    cr_assert_not_null(data);
    memset(data, 'z', piece);
    cr_assert_eq(e2e_send(c, data, piece), 0);
    struct reader *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->fd = c->fd;
    char head[4096];
    cr_assert_eq(read_head(r, head, sizeof head), 0, "no head before the body was complete");
    cr_assert(strncmp(head, "HTTP/1.1 200", 12) == 0, "%s", head);
    cr_expect(strcasestr(head, "content-length: 4194304"), "the length passes through: %s", head);
    /* the rest of the body, while reading the echo */
    size_t sent = piece, got = 0;
    uint64_t deadline = e2e_now_ms() + 20000;
    while ((sent < total || got < total) && e2e_now_ms() < deadline) {
        if (sent < total) {
            ssize_t n = send(c->fd, data, piece, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        }
        got += r->len - r->off;
        for (size_t i = r->off; i < r->len; i++)
            cr_assert_eq(r->buf[i], 'z');
        r->off = r->len;
        if (got < total)
            fill(r, 10);
    }
    cr_expect_eq(sent, total);
    cr_expect_eq(got, total, "echoed %zu of %zu bytes", got, total);
    free(r);
    free(data);
    e2e_close(c);

    /* A chunked body is streamed too. */
    c = E2E_CONNECT(s->port);
    E2E_SEND(c, "POST /length HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 10; i++)
        E2E_SEND(c, "3\r\nabc\r\n");
    E2E_SEND(c, "0\r\n\r\n");
    struct e2e_response resp;
    E2E_READ(c, &resp, 0);
    E2E_EXPECT(&resp, 200, "30");
    e2e_response_dispose(&resp);
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(streams, streamed_request_body_limits_apply)
{
    const char *extra[] = {"--max-body-bytes", "1000000", "--body-timeout-ms", "500", NULL};
    struct e2e_server *s = start_streams(extra);
    /* chunked past the limit: 413 from the node, then close */
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "POST /length HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n");
    char *chunk = malloc(300000 + 32);
    cr_assert_not_null(chunk);
    int k = snprintf(chunk, 32, "%x\r\n", 300000);
    memset(chunk + k, 'q', 300000);
    memcpy(chunk + k + 300000, "\r\n", 2);
    for (int i = 0; i < 4; i++)
        if (e2e_send(c, chunk, (size_t)k + 300002) != 0)
            break;
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    cr_expect_eq(r.status, 413, "status %d: %s", r.status, r.body);
    e2e_response_dispose(&r);
    cr_expect_eq(e2e_wait_closed(c, 3000), 1);
    e2e_close(c);
    free(chunk);

    /* a body that stops arriving: 408 after the body timeout */
    c = E2E_CONNECT(s->port);
    E2E_SEND(c, "POST /length HTTP/1.1\r\nHost: s.test\r\nContent-Length: 500000\r\n\r\n");
    char some[100000];
    memset(some, 'q', sizeof some);
    cr_assert_eq(e2e_send(c, some, sizeof some), 0);
    uint64_t t0 = e2e_now_ms();
    E2E_READ(c, &r, 0);
    cr_expect_eq(r.status, 408, "status %d: %s", r.status, r.body);
    cr_expect_lt(e2e_now_ms() - t0, 3000);
    e2e_response_dispose(&r);
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(streams, a_stream_that_stops_is_ended_after_the_wall_time)
{
    const char *extra[] = {"--wall-ms", "600", "--body-timeout-ms", "20000", NULL};
    struct e2e_server *s = start_streams(extra);
    /* The stream waits on a request body that never comes: only the wall time ends it. */
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "POST /silent HTTP/1.1\r\nHost: s.test\r\nContent-Length: 1000000\r\n\r\n");
    uint64_t t0 = e2e_now_ms();
    cr_expect_eq(e2e_wait_closed(c, 5000), 1, "the connection stayed open");
    uint64_t ms = e2e_now_ms() - t0;
    cr_expect(ms >= 400 && ms < 3000, "closed after %llu ms", (unsigned long long)ms);
    cr_expect(c->len > 0 && memmem(c->buf, c->len, "first", 5), "the first chunk was sent");
    e2e_close(c);
    /* the isolate still serves */
    struct e2e_response r;
    E2E_GET(s->port, "s.test", "/", &r);
    E2E_EXPECT(&r, 200, "hi");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}
