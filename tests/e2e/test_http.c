/*
 * End-to-end HTTP/1.1 behaviour of edged over real loopback sockets: a request reaches the
 * tenant's worker with its method, URL, headers and body intact; the response comes back
 * framed correctly (Content-Length, chunked for streams, nothing for HEAD); connections are
 * kept alive, pipelined requests are answered in order, `Connection: close` and HTTP/1.0 are
 * honoured; routing picks the most specific host and path across tenants; malformed and
 * smuggling requests get 400 and a closed connection without harming the next client.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "e2e.h"

TestSuite(http, .fini = e2e_teardown, .timeout = 60);

/* clang-format off */
static const char HELLO_JS[] =
    "export default {\n"
    "  async fetch(request, env, ctx) {\n"
    "    return new Response('hello world\\n', { headers: { 'content-type': 'text/plain' } });\n"
    "  }\n"
    "};\n";

static const char ECHO_JS[] =
    "export default {\n"
    "  async fetch(request) {\n"
    "    let body = null;\n"
    "    if (request.method === 'POST') body = await request.json();\n"
    "    const out = { method: request.method, url: request.url,\n"
    "                  test: request.headers.get('x-test'), body };\n"
    "    return new Response(JSON.stringify(out),\n"
    "                        { headers: { 'content-type': 'application/json' } });\n"
    "  }\n"
    "};\n";

static const char TEXT_ECHO_JS[] =
    "export default {\n"
    "  async fetch(request) {\n"
    "    const t = await request.text();\n"
    "    return new Response(request.method + ' ' + t.length + ':' + t);\n"
    "  }\n"
    "};\n";

/* Five byte chunks, enqueued one by one, built without TextEncoder. */
static const char STREAM_JS[] =
    "function bytes(s) {\n"
    "  const b = new Uint8Array(s.length);\n"
    "  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);\n"
    "  return b;\n"
    "}\n"
    "export default {\n"
    "  async fetch(request) {\n"
    "    const stream = new ReadableStream({\n"
    "      start(controller) {\n"
    "        for (let i = 0; i < 5; i++) controller.enqueue(bytes('part' + i + ';'));\n"
    "        controller.close();\n"
    "      }\n"
    "    });\n"
    "    return new Response(stream, { headers: { 'content-type': 'text/plain' } });\n"
    "  }\n"
    "};\n";

static const char PATH_JS[] =
    E2E_JS_PATHOF
    "export default {\n"
    "  fetch(request) { return new Response(pathOf(request.url)); }\n"
    "};\n";
/* clang-format on */

/* One tenant "web" with a worker per host; no catch-all route (so unknown hosts are 404). */
static struct e2e_server *start_web(void)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    const char *conf = "# e2e tenant: one host per worker\n"
                       "route = hello.test hello\n"
                       "route = echo.test echo\n"
                       "route = text.test textecho\n"
                       "route = stream.test stream\n"
                       "route = path.test pathecho\n";
    cr_assert_eq(e2e_tenant(dir, "web", conf, "hello", HELLO_JS), 0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "web", NULL, "echo", ECHO_JS), 0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "web", NULL, "textecho", TEXT_ECHO_JS), 0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "web", NULL, "stream", STREAM_JS), 0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "web", NULL, "pathecho", PATH_JS), 0, "%s", e2e_errmsg());
    return E2E_START("--tenants", dir);
}

Test(http, hello_get)
{
    struct e2e_server *s = start_web();
    struct e2e_response r;
    E2E_GET(s->port, "hello.test", "/", &r);
    E2E_EXPECT(&r, 200, "hello world\n");
    const char *cl = e2e_header(&r, "Content-Length");
    cr_expect(cl && strcmp(cl, "12") == 0, "Content-Length: %s, expected 12", cl ? cl : "(none)");
    cr_expect(!r.chunked, "a body of known length should not be chunked");
    const char *ct = e2e_header(&r, "Content-Type");
    cr_expect(ct && strstr(ct, "text/plain"), "Content-Type: %s", ct ? ct : "(none)");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(http, request_fields_reach_the_worker)
{
    struct e2e_server *s = start_web();
    struct e2e_response r;
    int rc = e2e_request(s->port, "POST", "echo.test", "/echo/x?a=1&b=two",
                         "X-Test: yes-42\r\nContent-Type: application/json\r\n",
                         "{\"n\":7,\"s\":\"hi\"}", &r);
    cr_assert_eq(rc, 0, "%s", e2e_errmsg());
    cr_assert_eq(r.status, 200, "status %d body %s", r.status, r.body);
    cr_expect(strstr(r.body, "\"method\":\"POST\""), "method missing: %s", r.body);
    cr_expect(strstr(r.body, "/echo/x?a=1&b=two\""), "url with query missing: %s", r.body);
    cr_expect(strstr(r.body, "\"url\":\"http://echo.test/echo/x?a=1&b=two\""),
              "request.url should be absolute, as in Workers: %s", r.body);
    cr_expect(strstr(r.body, "\"test\":\"yes-42\""), "header missing: %s", r.body);
    cr_expect(strstr(r.body, "\"body\":{\"n\":7,\"s\":\"hi\"}"), "JSON body missing: %s", r.body);
    e2e_response_dispose(&r);

    E2E_GET(s->port, "echo.test", "/g", &r);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(r.body, "\"method\":\"GET\""), "GET: %s", r.body);
    cr_expect(strstr(r.body, "\"test\":null"), "absent header should be null: %s", r.body);
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(http, keep_alive_three_requests)
{
    struct e2e_server *s = start_web();
    struct e2e_conn *c = E2E_CONNECT(s->port);
    for (int i = 0; i < 3; i++) {
        E2E_SEND(c, e2e_fmt("GET /k/%d HTTP/1.1\r\nHost: path.test\r\n\r\n", i));
        struct e2e_response r;
        E2E_READ(c, &r, 0);
        E2E_EXPECT(&r, 200, e2e_fmt("/k/%d", i));
        cr_expect(!r.until_close, "response %d was delimited by close", i);
        e2e_response_dispose(&r);
        cr_assert(!c->eof && !c->reset, "connection closed after request %d", i);
    }
    cr_expect_eq(e2e_wait_closed(c, 100), 0, "keep-alive connection closed early");
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(http, pipelined_in_one_write_answered_in_order)
{
    struct e2e_server *s = start_web();
    char all[2048] = "";
    for (int i = 0; i < 5; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all),
                 "GET /p/%d HTTP/1.1\r\nHost: path.test\r\n\r\n", i);
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, all);
    for (int i = 0; i < 5; i++) {
        struct e2e_response r;
        E2E_READ(c, &r, 0);
        E2E_EXPECT(&r, 200, e2e_fmt("/p/%d", i));
        e2e_response_dispose(&r);
    }
    cr_expect_eq(c->len, 0, "extra bytes after 5 responses: %s", c->buf);
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(http, chunked_request_body)
{
    struct e2e_server *s = start_web();
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "POST /t HTTP/1.1\r\nHost: text.test\r\nTransfer-Encoding: chunked\r\n\r\n");
    const char *pieces[] = {"5\r\nhello\r\n", "1;ext=1\r\n \r\n", "5\r\nworld\r\n", "0\r\n\r\n"};
    for (size_t i = 0; i < 4; i++) {
        e2e_sleep_ms(20);
        E2E_SEND(c, pieces[i]);
    }
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "POST 11:hello world");
    e2e_response_dispose(&r);

    /* The parser is ready for the next request on the same connection. */
    E2E_SEND(c, "GET /after HTTP/1.1\r\nHost: path.test\r\n\r\n");
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "/after");
    e2e_response_dispose(&r);
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(http, content_length_body_in_pieces)
{
    struct e2e_server *s = start_web();
    struct e2e_conn *c = E2E_CONNECT(s->port);
    cr_assert_eq(e2e_send_slowly(c,
                                 "POST /t HTTP/1.1\r\nHost: text.test\r\nContent-Length: 10\r\n\r\n"
                                 "0123456789",
                                 7, 5),
                 0, "%s", e2e_errmsg());
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "POST 10:0123456789");
    e2e_response_dispose(&r);
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(http, streamed_response_is_chunked)
{
    struct e2e_server *s = start_web();
    struct e2e_response r;
    E2E_GET(s->port, "stream.test", "/", &r);
    E2E_EXPECT(&r, 200, "part0;part1;part2;part3;part4;");
    const char *te = e2e_header(&r, "Transfer-Encoding");
    cr_expect(te && strcasecmp(te, "chunked") == 0, "Transfer-Encoding: %s", te ? te : "(none)");
    cr_expect_null(e2e_header(&r, "Content-Length"), "a stream must not carry Content-Length");
    cr_expect(r.chunked, "body was not chunked-framed");
    cr_expect(r.raw_len >= 5 && memcmp(r.raw + r.raw_len - 5, "0\r\n\r\n", 5) == 0,
              "chunked body does not end with the last-chunk: %s", r.raw + r.head_len);
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(http, head_has_no_body)
{
    struct e2e_server *s = start_web();
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "HEAD / HTTP/1.1\r\nHost: hello.test\r\n\r\n");
    struct e2e_response r;
    E2E_READ(c, &r, E2E_HEAD_REQUEST);
    cr_expect_eq(r.status, 200, "HEAD status %d", r.status);
    e2e_response_dispose(&r);
    /* Any body bytes would be pending now, and would corrupt the next response. */
    cr_expect_eq(e2e_readable(c, 200), 0, "bytes after a HEAD response: %s", c->buf);
    E2E_SEND(c, "GET /next HTTP/1.1\r\nHost: path.test\r\n\r\n");
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "/next");
    e2e_response_dispose(&r);
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(http, connection_close_is_honoured)
{
    struct e2e_server *s = start_web();
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "GET / HTTP/1.1\r\nHost: hello.test\r\nConnection: close\r\n\r\n");
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    cr_expect_eq(e2e_wait_closed(c, 2000), 1, "server kept the connection open after close");
    cr_expect_eq(c->len, 0, "bytes after the response: %s", c->buf);
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(http, http10_closes_unless_keep_alive)
{
    struct e2e_server *s = start_web();
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "GET / HTTP/1.0\r\nHost: hello.test\r\n\r\n");
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    cr_expect_eq(e2e_wait_closed(c, 2000), 1, "HTTP/1.0 connection left open");
    e2e_close(c);

    c = E2E_CONNECT(s->port);
    for (int i = 0; i < 2; i++) {
        E2E_SEND(c, e2e_fmt("GET /ka/%d HTTP/1.0\r\nHost: path.test\r\n"
                            "Connection: keep-alive\r\n\r\n",
                            i));
        E2E_READ(c, &r, 0);
        E2E_EXPECT(&r, 200, e2e_fmt("/ka/%d", i));
        cr_expect(!r.until_close, "HTTP/1.0 keep-alive response without a length");
        e2e_response_dispose(&r);
        cr_assert(!c->eof && !c->reset, "HTTP/1.0 keep-alive connection closed after %d", i);
    }
    e2e_close(c);
    E2E_STOP_OK(s);
}

Test(http, unrouted_host_is_404)
{
    struct e2e_server *s = start_web();
    struct e2e_response r;
    E2E_GET(s->port, "nobody.invalid", "/", &r);
    cr_expect_eq(r.status, 404, "status %d body %s", r.status, r.body);
    e2e_response_dispose(&r);
    /* The connection machinery still works afterwards. */
    E2E_GET(s->port, "hello.test", "/", &r);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

static const char *named_worker(const char *name)
{
    return e2e_fmt("export default { fetch(request) { return new Response('%s'); } };\n", name);
}

Test(http, routing_precedence_across_tenants)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    const char *alpha = "route = www.example.com main\n"
                        "route = www.example.com/api api\n"
                        "route = *.example.com wild\n"
                        "route = shop.example.com/cart cart\n";
    const char *beta = "route = *   fallback\n"
                       "route = *.b.example.com deep\n"
                       "route = www.example.com/api/v2 v2\n";
    const char *aw[] = {"main", "api", "wild", "cart"};
    const char *bw[] = {"fallback", "deep", "v2"};
    cr_assert_eq(e2e_tenant(dir, "alpha", alpha, NULL, NULL), 0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "beta", beta, NULL, NULL), 0, "%s", e2e_errmsg());
    for (int i = 0; i < 4; i++)
        cr_assert_eq(
            e2e_tenant(dir, "alpha", NULL, aw[i], named_worker(e2e_fmt("alpha:%s", aw[i]))), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(e2e_tenant(dir, "beta", NULL, bw[i], named_worker(e2e_fmt("beta:%s", bw[i]))),
                     0);
    struct e2e_server *s = E2E_START("--tenants", dir);

    static const struct {
        const char *host, *path, *want;
    } cases[] = {
        {"www.example.com", "/", "alpha:main"},
        {"www.example.com", "/index.html", "alpha:main"},
        {"www.example.com", "/api", "alpha:api"},
        {"www.example.com", "/api/users", "alpha:api"},
        {"www.example.com", "/apix", "alpha:main"}, /* segment boundary */
        {"www.example.com", "/api/v2", "beta:v2"},  /* longer prefix, other tenant */
        {"www.example.com", "/api/v2/x?q=1", "beta:v2"},
        {"www.example.com", "/api/v20", "alpha:api"},
        {"WWW.Example.COM:8080", "/api", "alpha:api"}, /* case, port stripped */
        {"foo.example.com", "/", "alpha:wild"},
        {"shop.example.com", "/cart/1", "alpha:cart"},
        {"shop.example.com", "/", "alpha:wild"}, /* exact host, path not covered */
        {"x.b.example.com", "/", "beta:deep"},   /* longer suffix wins */
        {"y.x.b.example.com", "/api", "beta:deep"},
        {"other.org", "/anything", "beta:fallback"},
        {"www.example.com.evil.org", "/", "beta:fallback"}, /* exact is not a prefix match */
        {"notexample.com", "/", "beta:fallback"},           /* *.example.com needs the dot */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct e2e_response r;
        E2E_GET(s->port, cases[i].host, cases[i].path, &r);
        cr_expect_eq(r.status, 200, "%s%s: status %d", cases[i].host, cases[i].path, r.status);
        cr_expect_str_eq(r.body, cases[i].want, "%s%s routed to \"%s\", expected %s", cases[i].host,
                         cases[i].path, r.body, cases[i].want);
        e2e_response_dispose(&r);
    }
    E2E_STOP_OK(s);
}

/* Sends raw bytes on a fresh connection; expects one 400 response and a closed connection. */
static void expect_400_and_close(int port, const char *raw, size_t len, const char *what)
{
    struct e2e_conn *c = E2E_CONNECT(port);
    cr_assert_eq(e2e_send(c, raw, len), 0, "%s: send: %s", what, e2e_errmsg());
    struct e2e_response r;
    int rc = e2e_read_response(c, &r, 0, 5000);
    cr_assert_eq(rc, 0, "%s: no response: %s", what, e2e_errmsg());
    cr_expect_eq(r.status, 400, "%s: status %d, expected 400", what, r.status);
    e2e_response_dispose(&r);
    cr_expect_eq(e2e_wait_closed(c, 2000), 1, "%s: connection left open after 400", what);
    cr_expect_eq(c->len, 0, "%s: more bytes after the 400: %s", what, c->buf);
    e2e_close(c);
}

Test(http, garbage_is_400)
{
    struct e2e_server *s = start_web();
    static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
    expect_400_and_close(s->port, tls_hello, sizeof tls_hello - 1, "TLS bytes");
    const char *bad_proto = "GET / FOO/1.1\r\nHost: hello.test\r\n\r\n";
    expect_400_and_close(s->port, bad_proto, strlen(bad_proto), "bad protocol");
    const char *no_colon = "GET / HTTP/1.1\r\nHost hello.test\r\n\r\n";
    expect_400_and_close(s->port, no_colon, strlen(no_colon), "header without colon");
    const char *bad_cl = "POST / HTTP/1.1\r\nHost: text.test\r\nContent-Length: 12abc\r\n\r\n";
    expect_400_and_close(s->port, bad_cl, strlen(bad_cl), "bad Content-Length");

    struct e2e_response r;
    E2E_GET(s->port, "hello.test", "/", &r);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}

Test(http, bad_chunk_size_is_400)
{
    struct e2e_server *s = start_web();
    const char *req = "POST /t HTTP/1.1\r\nHost: text.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "zz\r\nhello\r\n0\r\n\r\n";
    expect_400_and_close(s->port, req, strlen(req), "bad chunk size");
    E2E_STOP_OK(s);
}

Test(http, te_and_cl_smuggling_is_400)
{
    struct e2e_server *s = start_web();
    /* If the server framed by Content-Length it would see "0\r\n\r" and then a smuggled
     * request; by Transfer-Encoding a second, hidden GET. Either way it must refuse. */
    const char *req = "POST /t HTTP/1.1\r\nHost: text.test\r\nContent-Length: 5\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "0\r\n\r\n"
                      "GET /smuggled HTTP/1.1\r\nHost: path.test\r\n\r\n";
    expect_400_and_close(s->port, req, strlen(req), "TE+CL");

    const char *req2 = "POST /t HTTP/1.1\r\nHost: text.test\r\n"
                       "Transfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n"
                       "0\r\n\r\n"
                       "GET /smuggled HTTP/1.1\r\nHost: path.test\r\n\r\n";
    expect_400_and_close(s->port, req2, strlen(req2), "CL after TE");

    struct e2e_response r;
    E2E_GET(s->port, "hello.test", "/", &r);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    E2E_STOP_OK(s);
}
