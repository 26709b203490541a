/*
 * Shared by the isolates/ unit tests: platform start-up (once per test process; Criterion
 * forks a process per test), a one-module worker, and a response sink that records everything
 * it is given, including on_fail (a fetch is asynchronous: fetch_into reports a failure before
 * the head as its return code when it came before iso_worker_fetch returned). Header-only so
 * each test file stays one executable.
 */
#ifndef EDGED_TESTS_ISO_TEST_H
#define EDGED_TESTS_ISO_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "isolates/isolates.h"

static inline void iso_test_setup(void)
{
    struct ed_error err = {0};
    int rc = iso_platform_init(&err);
    cr_assert_eq(rc, 0, "iso_platform_init: %s", ed_error_msg(&err));
}

/* Everything a sink saw. */
struct capture {
    int heads, status, ends, aborts, abort_code, bodies, fails, fail_code;
    int64_t content_length;
    char headers[4096]; /* "name: value\n" lines */
    struct ed_buf body;
    char abort_msg[512];
    char fail_msg[8192];
    int cancel_after_bodies; /* > 0: on_body cancels (ED_ECANCELED) on that call */
    int pause_after_bodies;  /* > 0: on_body returns ISO_SINK_PAUSE every that many calls */
    int cancel_head;         /* on_head returns non-zero */
    int dones, done_code;    /* on_done: the invocation's background work is over too */
    char done_msg[512];
};

static inline int cap_head(void *ud, int status, const struct iso_header *h, size_t n, int64_t len)
{
    struct capture *c = ud;
    c->heads++;
    c->status = status;
    c->content_length = len;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(c->headers + at, sizeof c->headers - at, "%.*s: %.*s\n",
                               (int)h[i].name_len, h[i].name, (int)h[i].value_len, h[i].value);
    return c->cancel_head;
}

static inline int cap_body(void *ud, const uint8_t *data, size_t len)
{
    struct capture *c = ud;
    c->bodies++;
    ed_buf_append(&c->body, data, len);
    if (c->cancel_after_bodies && c->bodies >= c->cancel_after_bodies)
        return ED_ECANCELED;
    return c->pause_after_bodies && c->bodies % c->pause_after_bodies == 0 ? ISO_SINK_PAUSE : 0;
}

static inline void cap_end(void *ud)
{
    ((struct capture *)ud)->ends++;
}

static inline void cap_abort(void *ud, int code, const char *msg)
{
    struct capture *c = ud;
    c->aborts++;
    c->abort_code = code;
    snprintf(c->abort_msg, sizeof c->abort_msg, "%s", msg);
}

static inline void cap_fail(void *ud, int code, const char *msg)
{
    struct capture *c = ud;
    c->fails++;
    c->fail_code = code;
    snprintf(c->fail_msg, sizeof c->fail_msg, "%s", msg);
}

static inline void cap_on_done(void *ud, int code, const char *msg)
{
    struct capture *c = ud;
    c->dones++;
    c->done_code = code;
    snprintf(c->done_msg, sizeof c->done_msg, "%s", msg ? msg : "");
}

static inline const struct iso_response_sink *cap_sink(void)
{
    static const struct iso_response_sink sink = {
        .on_head = cap_head,
        .on_body = cap_body,
        .on_end = cap_end,
        .on_abort = cap_abort,
        .on_fail = cap_fail,
        .on_done = cap_on_done,
    };
    return &sink;
}

/* The sink has had its last callback. */
static inline bool cap_done(const struct capture *c)
{
    return c->fails + c->ends + c->aborts > 0;
}

static inline void capture_init(struct capture *c)
{
    memset(c, 0, sizeof *c);
    ed_buf_init(&c->body);
}

static inline void capture_dispose(struct capture *c)
{
    ed_buf_dispose(&c->body);
}

/* Console lines, "level: text\n" each. */
struct logs {
    struct ed_buf text;
    int lines;
};

static inline void on_log(void *ud, const char *level, const char *msg, size_t len)
{
    struct logs *l = ud;
    l->lines++;
    ed_buf_appendf(&l->text, "%s: %.*s\n", level, (int)len, msg);
}

/* A worker whose bundle is one module, worker.js. Returns iso_worker_new's code. */
static inline int worker_from(const char *source, size_t heap_limit, struct logs *logs,
                              struct iso_worker **out, struct ed_error *err)
{
    struct iso_module m = {"worker.js", source, strlen(source), ISO_MODULE_ESM};
    struct iso_worker_config cfg = {
        .tenant = "t",
        .worker = "w",
        .modules = &m,
        .n_modules = 1,
        .main_module = "worker.js",
        .heap_limit_bytes = heap_limit,
        .log = logs ? on_log : NULL,
        .log_ud = logs,
    };
    return iso_worker_new(&cfg, out, err);
}

/* Like worker_from, but the test fails when the worker cannot be created. */
static inline struct iso_worker *worker_ok(const char *source)
{
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = worker_from(source, 0, NULL, &w, &err);
    cr_assert_eq(rc, 0, "iso_worker_new: %s: %s", ed_errname(rc), ed_error_msg(&err));
    ed_error_dispose(&err);
    return w;
}

/* Dispatches method url (with an optional text body and "name: value" headers, NULL-ended)
 * into c. Returns iso_worker_fetch's code, or the code on_fail got (err then has its message)
 * if the sink failed before iso_worker_fetch returned. */
static inline int fetch_into(struct iso_worker *w, const char *method, const char *url,
                             const char *body, const char *const *headers, struct capture *c,
                             struct ed_error *err)
{
    struct iso_header hs[16];
    size_t n = 0;
    for (; headers && headers[n] && n < 16; n++) {
        const char *colon = strchr(headers[n], ':');
        hs[n].name = headers[n];
        hs[n].name_len = (size_t)(colon - headers[n]);
        hs[n].value = colon + 2;
        hs[n].value_len = strlen(colon + 2);
    }
    struct iso_request req = {
        .method = method,
        .url = url,
        .url_len = strlen(url),
        .headers = hs,
        .n_headers = n,
        .body = (const uint8_t *)body,
        .body_len = body ? strlen(body) : 0,
    };
    int rc = iso_worker_fetch(w, &req, cap_sink(), c, err);
    if (rc == 0 && c->fails)
        rc = ed_error_set(err, c->fail_code, "%s", c->fail_msg);
    return rc;
}

/* A GET whose response the test expects to succeed; returns the body (owned by c). */
static inline const char *get_ok(struct iso_worker *w, const char *url, struct capture *c)
{
    struct ed_error err = {0};
    capture_init(c);
    int rc = fetch_into(w, "GET", url, NULL, NULL, c, &err);
    cr_assert_eq(rc, 0, "fetch: %s: %s", ed_errname(rc), ed_error_msg(&err));
    cr_assert_eq(c->heads, 1, "no response (pending: %zu)", iso_worker_pending(w));
    cr_assert_eq(c->ends, 1, "aborted: %s", c->abort_msg);
    ed_error_dispose(&err);
    return c->body.data ? c->body.data : "";
}

/* A stand-in for the shard's loop as the thread's timer driver: tests attach it, then run the
 * thread's timers the way the loop would. */
static uint64_t iso_test_deadline;

static inline void iso_test_schedule(void *ud, uint64_t deadline_ns)
{
    (void)ud;
    iso_test_deadline = deadline_ns;
}

static inline void timers_attach(void)
{
    static const struct iso_timer_driver driver = {NULL, iso_test_schedule};
    iso_test_deadline = 0;
    iso_timers_attach(&driver);
}

/* Sleeps until each timer deadline and runs what is due, until *flag is non-zero (flag NULL:
 * for the whole time), no timer is pending any more, or max_ms have passed. */
static inline void timers_run(const int *flag, int max_ms)
{
    uint64_t end = ed_now_ns() + (uint64_t)max_ms * 1000000u;
    while ((!flag || !*flag) && iso_test_deadline) {
        uint64_t now = ed_now_ns();
        if (now >= end)
            break;
        if (iso_test_deadline > now) {
            uint64_t wait = iso_test_deadline - now;
            if (wait > end - now)
                wait = end - now;
            struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
            nanosleep(&ts, NULL);
        }
        if (ed_now_ns() >= iso_test_deadline) {
            iso_test_deadline = 0; /* spent; iso_timers_run sets the next one */
            iso_timers_run();
        }
    }
}

/* A module of a bundle from a string literal. */
#define MOD(name, src)                            \
    {                                             \
        name, src, sizeof src - 1, ISO_MODULE_ESM \
    }
#define MODT(name, src, type)           \
    {                                   \
        name, src, sizeof src - 1, type \
    }

#endif
