/*
 * isolates/: streamed bodies through the C ABI. A response stream that the sink pauses is not
 * read further (nor failed as stalled) until iso_worker_fetch_resume, and iso_worker_fetch_cancel
 * cancels it; a stream of known length reaches on_head as a content length and is held to it; a
 * request body that is still arriving (iso_body_source) is read by request.body as it comes,
 * with iso_worker_body_ready waking a worker that waits for it, and its failures reaching the
 * worker as a TypeError.
 */
#include "iso_test.h"

TestSuite(streams, .init = iso_test_setup);

/* clang-format off */
static const char PULLS_JS[] =
    "let pulls = 0, canceled = 'no';\n"
    "export default { fetch(r) {\n"
    "  if (r.url.endsWith('/pulls')) return new Response(pulls + ' ' + canceled);\n"
    "  if (r.url.endsWith('/text')) return new Response('x'.repeat(1000));\n"
    "  pulls = 0;\n"
    "  return new Response(new ReadableStream({\n"
    "    pull(c) { pulls++; if (pulls > 10) c.close(); else c.enqueue(new Uint8Array(100)); },\n"
    "    cancel() { canceled = 'yes'; } }));\n"
    "} };";
/* clang-format on */

static const char *state(struct iso_worker *w, struct capture *c)
{
    return get_ok(w, "http://x/pulls", c);
}

Test(streams, a_paused_stream_waits_for_resume)
{
    struct iso_worker *w = worker_ok(PULLS_JS);
    struct capture c, s;
    struct ed_error err = {0};
    capture_init(&c);
    c.pause_after_bodies = 1;
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.heads, 1);
    cr_assert_eq(c.content_length, -1);
    cr_assert_eq(c.bodies, 1);
    cr_assert(!cap_done(&c), "a paused stream is not failed as stalled: %s", c.abort_msg);
    cr_assert_eq(iso_worker_pending(w), 1);
    /* while paused, the worker's stream is not pulled beyond its high-water mark */
    cr_assert_str_eq(state(w, &s), "2 no");
    capture_dispose(&s);
    cr_assert_str_eq(state(w, &s), "2 no");
    capture_dispose(&s);
    for (int i = 0; i < 20 && !cap_done(&c); i++)
        cr_assert_eq(iso_worker_fetch_resume(w, &c), 0);
    cr_assert_eq(c.ends, 1, "aborted: %s", c.abort_msg);
    cr_assert_eq(c.bodies, 10);
    cr_assert_eq(c.body.len, 1000);
    cr_assert_eq(iso_worker_fetch_resume(w, &c), ED_ENOENT);
    capture_dispose(&c);

    /* a body the shim holds whole is handed over even when the sink asks to pause */
    capture_init(&c);
    c.pause_after_bodies = 1;
    cr_assert_eq(fetch_into(w, "GET", "http://x/text", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.ends, 1);
    cr_assert_eq(c.body.len, 1000);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(streams, cancel_ends_a_paused_stream)
{
    struct iso_worker *w = worker_ok(PULLS_JS);
    struct capture c, s;
    struct ed_error err = {0};
    capture_init(&c);
    c.pause_after_bodies = 1;
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.bodies, 1);
    cr_assert_eq(iso_worker_fetch_cancel(w, &c), 0);
    cr_assert_eq(c.aborts, 1);
    cr_assert_eq(c.abort_code, ED_ECANCELED);
    cr_assert_eq(iso_worker_pending(w), 0);
    cr_assert_str_eq(state(w, &s), "2 yes");
    capture_dispose(&s);
    cr_assert_eq(iso_worker_fetch_cancel(w, &c), ED_ENOENT);
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(streams, a_worker_freed_while_paused_aborts_the_sink)
{
    struct iso_worker *w = worker_ok(PULLS_JS);
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    c.pause_after_bodies = 1;
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), 0);
    iso_worker_free(w);
    cr_assert_eq(c.aborts, 1);
    capture_dispose(&c);
}

Test(streams, known_length_is_the_content_length)
{
    struct iso_worker *w =
        worker_ok("export default { fetch(r) {\n"
                  "  const n = r.url.endsWith('/short') ? 3 : 5;\n"
                  "  const { readable, writable } = new FixedLengthStream(5);\n"
                  "  const wr = writable.getWriter();\n"
                  "  wr.write(new Uint8Array(n)).catch(() => {}); wr.close().catch(() => {});\n"
                  "  return new Response(readable);\n"
                  "} };");
    struct capture c;
    struct ed_error err = {0};
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://x/", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.content_length, 5);
    cr_assert_eq(c.ends, 1, "%s", c.abort_msg);
    cr_assert_eq(c.body.len, 5);
    capture_dispose(&c);
    capture_init(&c);
    cr_assert_eq(fetch_into(w, "GET", "http://x/short", NULL, NULL, &c, &err), 0);
    cr_assert_eq(c.content_length, 5);
    cr_assert_eq(c.aborts, 1, "a stream short of its length must not end cleanly");
    capture_dispose(&c);
    iso_worker_free(w);
}

/* A request body that arrives in steps: avail bytes of data have arrived, end once all. */
struct body {
    const char *data;
    size_t avail, pos;
    bool end;
    int err;
    int peeks;
};

static int body_peek(void *ud, const uint8_t **data, size_t *len)
{
    struct body *b = ud;
    b->peeks++;
    if (b->err)
        return b->err;
    *data = (const uint8_t *)b->data + b->pos;
    *len = b->avail - b->pos;
    return b->end && *len == 0 ? ISO_BODY_END : 0;
}

static void body_consume(void *ud, size_t n)
{
    ((struct body *)ud)->pos += n;
}

static const struct iso_body_source body_source = {body_peek, body_consume};

static int fetch_streamed(struct iso_worker *w, const char *url, struct body *b, int64_t length,
                          struct capture *c)
{
    struct iso_request req = {
        .method = "POST",
        .url = url,
        .url_len = strlen(url),
        .body_source = &body_source,
        .body_ud = b,
        .body_length = length,
    };
    struct ed_error err = {0};
    int rc = iso_worker_fetch(w, &req, cap_sink(), c, &err);
    ed_error_dispose(&err);
    return rc;
}

/* clang-format off */
static const char BODY_JS[] =
    "export default { async fetch(r) {\n"
    "  if (r.url.endsWith('/echo')) return new Response(r.body);\n"
    "  let n = 0, parts = 0;\n"
    "  try {\n"
    "    for await (const c of r.body) { n += c.byteLength; parts++; }\n"
    "  } catch (e) { return new Response(e.name + ': ' + e.message); }\n"
    "  return new Response(n + ' bytes in ' + parts);\n"
    "} };";
/* clang-format on */

Test(streams, a_request_body_is_read_as_it_arrives)
{
    struct iso_worker *w = worker_ok(BODY_JS);
    struct body b = {.data = "0123456789", .avail = 3};
    struct capture c;
    capture_init(&c);
    cr_assert_eq(fetch_streamed(w, "http://x/", &b, 10, &c), 0);
    cr_assert_eq(c.heads, 0, "answered before the body arrived");
    cr_assert(!cap_done(&c), "a worker waiting for its body is not stalled: %s", c.fail_msg);
    cr_assert_eq(b.pos, 3, "what arrived was read");
    b.avail = 7;
    iso_worker_body_ready(w, &b);
    cr_assert_eq(b.pos, 7);
    cr_assert_eq(c.heads, 0);
    b.avail = 10;
    b.end = true;
    iso_worker_body_ready(w, &b);
    cr_assert_eq(c.ends, 1, "%s", c.fail_msg);
    cr_assert_str_eq(c.body.data, "10 bytes in 3");
    iso_worker_body_ready(w, &b); /* its fetch is over: ignored */
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(streams, a_request_body_that_fails_is_a_type_error)
{
    struct iso_worker *w = worker_ok(BODY_JS);
    struct body b = {.data = "0123456789", .avail = 4};
    struct capture c;
    capture_init(&c);
    cr_assert_eq(fetch_streamed(w, "http://x/", &b, -1, &c), 0);
    b.err = ED_ETIMEDOUT;
    iso_worker_body_ready(w, &b);
    cr_assert_eq(c.ends, 1, "%s", c.fail_msg);
    cr_assert_str_eq(c.body.data, "TypeError: The request body could not be received completely: "
                                  "the client sent it too slowly");
    capture_dispose(&c);
    iso_worker_free(w);
}

Test(streams, a_request_body_streams_back_with_its_length)
{
    struct iso_worker *w = worker_ok(BODY_JS);
    struct body b = {.data = "abcdefghij", .avail = 5};
    struct capture c;
    capture_init(&c);
    cr_assert_eq(fetch_streamed(w, "http://x/echo", &b, 10, &c), 0);
    cr_assert_eq(c.heads, 1);
    cr_assert_eq(c.content_length, 10, "the declared length passes through");
    b.avail = 10;
    b.end = true;
    for (int i = 0; i < 5 && !cap_done(&c); i++)
        iso_worker_body_ready(w, &b);
    cr_assert_eq(c.ends, 1, "%s", c.abort_msg);
    cr_assert_eq(c.body.len, 10);
    cr_assert(memcmp(c.body.data, "abcdefghij", 10) == 0);
    capture_dispose(&c);
    iso_worker_free(w);
}
