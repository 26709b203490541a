/*
 * End-to-end operation of edged: one access-log line per request with the documented fields,
 * SIGTERM draining an in-flight request and exiting 0 (and exiting promptly when idle), the
 * command line (--help naming every flag, --version, one-line errors and exit code 2 for bad
 * flags and unreadable workers or tenants), --worker serving a file as a tenant named after
 * its host, and module state persisting across requests on a shard's isolate.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

TestSuite(ops, .fini = e2e_teardown, .timeout = 60);

/* clang-format off */
static const char HELLO_JS[] =
    "export default {\n"
    "  async fetch(request, env, ctx) { return new Response('hello world\\n'); }\n"
    "};\n";

static const char COUNTER_JS[] =
    "let n = 0;\n"
    "export default { fetch(request) { n++; return new Response(String(n)); } };\n";

/* About 200 ms of CPU with an optimising JIT; never calls a clock (Date.now may be frozen). */
static const char SLOW_JS[] =
    "export default {\n"
    "  fetch(request) {\n"
    "    let x = 0;\n"
    "    for (let i = 0; i < 30000000; i++) x = (x * 31 + i) | 0;\n"
    "    return new Response('done:' + (x === 0.5 ? 'never' : 'ok'));\n"
    "  }\n"
    "};\n";
/* clang-format on */

static const char *web_tenants(void)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "web",
                            "route = hello.test main\nroute = count.test counter\n"
                            "route = slow.test slow\n",
                            "main", HELLO_JS),
                 0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "web", NULL, "counter", COUNTER_JS), 0, "%s", e2e_errmsg());
    cr_assert_eq(e2e_tenant(dir, "web", NULL, "slow", SLOW_JS), 0, "%s", e2e_errmsg());
    return dir;
}

/* ---- access log ---------------------------------------------------------------------------- */

/* Copies the value of key=value in line (bare or double-quoted) into out. */
static bool kv(const char *line, const char *key, char *out, size_t max)
{
    size_t klen = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p += klen) {
        if ((p != line && p[-1] != ' ') || p[klen] != '=')
            continue;
        const char *v = p + klen + 1;
        size_t n = 0;
        if (*v == '"') {
            v++;
            while (v[n] && v[n] != '"' && v[n] != '\n')
                n++;
        } else {
            while (v[n] && v[n] != ' ' && v[n] != '\n')
                n++;
        }
        snprintf(out, max, "%.*s", (int)n, v);
        return true;
    }
    return false;
}

static bool is_number(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* The request lines of a log text, as owned copies in lines[] (at most max). */
static size_t request_lines(const char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (const char *p = text; *p && n < max;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len);
        if (strstr(line, "event=request") &&
            (line == strstr(line, "event=request") || strstr(line, " event=request")))
            lines[n++] = line;
        else
            free(line);
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static char *find_line(char **lines, size_t n, const char *path)
{
    char v[512];
    for (size_t i = 0; i < n; i++)
        if (kv(lines[i], "path", v, sizeof v) && strcmp(v, path) == 0)
            return lines[i];
    return NULL;
}

static void check_line(const char *line, const char *tenant, const char *worker, const char *method,
                       const char *status)
{
    char v[512];
    cr_assert_not_null(line);
    cr_expect(kv(line, "tenant", v, sizeof v) && strcmp(v, tenant) == 0, "tenant in: %s", line);
    cr_expect(kv(line, "worker", v, sizeof v) && strcmp(v, worker) == 0, "worker in: %s", line);
    cr_expect(kv(line, "method", v, sizeof v) && strcmp(v, method) == 0, "method in: %s", line);
    cr_expect(kv(line, "status", v, sizeof v) && strcmp(v, status) == 0, "status in: %s", line);
    cr_expect(kv(line, "bytes", v, sizeof v) && is_number(v) && atol(v) >= 12, "bytes in: %s",
              line);
    cr_expect(kv(line, "wall_us", v, sizeof v) && is_number(v), "wall_us in: %s", line);
    cr_expect(kv(line, "cpu_us", v, sizeof v) && is_number(v), "cpu_us in: %s", line);
}

/* Waits (bounded) for `want` request lines in path; returns them in lines[]. */
static size_t wait_request_lines(const char *path, char **lines, size_t max, size_t want)
{
    size_t n = 0;
    uint64_t deadline = e2e_now_ms() + 3000;
    for (int i = 0; i < 300; i++) {
        for (size_t k = 0; k < n; k++)
            free(lines[k]);
        char *text = e2e_read_file(path, NULL);
        n = text ? request_lines(text, lines, max) : 0;
        free(text);
        if (n >= want || e2e_now_ms() >= deadline)
            break;
        e2e_sleep_ms(20);
    }
    return n;
}

Test(ops, access_log_line_per_request)
{
    struct e2e_server *s = E2E_START("--tenants", web_tenants());
    struct e2e_response r;
    E2E_GET(s->port, "hello.test", "/logged", &r);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    int rc = e2e_request(s->port, "POST", "hello.test", "/posted", NULL, "abc", &r);
    cr_assert_eq(rc, 0, "%s", e2e_errmsg());
    cr_expect_eq(r.status, 200);
    e2e_response_dispose(&r);
    E2E_GET(s->port, "nobody.invalid", "/nowhere", &r);
    cr_expect_eq(r.status, 404);
    e2e_response_dispose(&r);

    char *lines[16];
    size_t n = wait_request_lines(s->stderr_path, lines, 16, 3);
    char *all = e2e_server_stderr(s);
    cr_expect_eq(n, 3, "expected 3 request lines, found %zu in:\n%s", n, all);
    free(all);
    char *l = find_line(lines, n, "/logged");
    cr_expect_not_null(l, "no access-log line for /logged");
    if (l)
        check_line(l, "web", "main", "GET", "200");
    l = find_line(lines, n, "/posted");
    cr_expect_not_null(l, "no access-log line for /posted");
    if (l)
        check_line(l, "web", "main", "POST", "200");
    l = find_line(lines, n, "/nowhere");
    cr_expect_not_null(l, "no access-log line for the 404");
    char v[64];
    if (l)
        cr_expect(kv(l, "status", v, sizeof v) && strcmp(v, "404") == 0, "404 line: %s", l);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    E2E_STOP_OK(s);
}

Test(ops, access_log_to_a_file)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    const char *path = e2e_fmt("%s/access.log", dir);
    struct e2e_server *s = E2E_START("--tenants", web_tenants(), "--access-log", path);
    struct e2e_response r;
    E2E_GET(s->port, "hello.test", "/to-file", &r);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    char *lines[4];
    size_t n = wait_request_lines(path, lines, 4, 1);
    cr_expect_eq(n, 1, "expected 1 request line in %s, found %zu", path, n);
    char *l = find_line(lines, n, "/to-file");
    cr_expect_not_null(l, "no line for /to-file in %s", path);
    if (l)
        check_line(l, "web", "main", "GET", "200");
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    char *err = e2e_server_stderr(s);
    cr_expect_null(strstr(err, "path=/to-file"), "access line also went to stderr");
    free(err);
    E2E_STOP_OK(s);
}

/* ---- SIGTERM --------------------------------------------------------------------------------- */

Test(ops, sigterm_drains_an_in_flight_request)
{
    struct e2e_server *s =
        E2E_START("--tenants", web_tenants(), "--threads", "1", "--cpu-ms", "1000");
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "GET /work HTTP/1.1\r\nHost: slow.test\r\n\r\n");
    cr_assert_eq(e2e_readable(c, 50), 0,
                 "the slow request finished within 50 ms; the drain would not be tested");
    uint64_t t0 = e2e_now_ms();
    cr_assert_eq(e2e_server_signal(s, SIGTERM), 0, "%s", e2e_errmsg());
    struct e2e_response r;
    int rc = e2e_read_response(c, &r, 0, 5000);
    cr_assert_eq(rc, 0, "in-flight request lost on SIGTERM: %s", e2e_errmsg());
    E2E_EXPECT(&r, 200, "done:ok");
    e2e_response_dispose(&r);
    int code = e2e_server_wait(s, 5000);
    cr_expect_eq(code, 0, "exit status %d after drain (%s)", code, e2e_errmsg());
    cr_expect_leq(e2e_now_ms() - t0, 3000, "drain took %llu ms",
                  (unsigned long long)(e2e_now_ms() - t0));
    e2e_close(c);
}

Test(ops, sigterm_idle_exits_quickly)
{
    struct e2e_server *s = E2E_START("--tenants", web_tenants());
    struct e2e_response r;
    E2E_GET(s->port, "hello.test", "/", &r);
    e2e_response_dispose(&r);
    uint64_t t0 = e2e_now_ms();
    int code = e2e_server_stop(s, 5000);
    cr_expect_eq(code, 0, "exit status %d (%s)", code, e2e_errmsg());
    cr_expect_leq(e2e_now_ms() - t0, 2000, "idle shutdown took %llu ms",
                  (unsigned long long)(e2e_now_ms() - t0));
}

Test(ops, sigterm_with_idle_keep_alive_connection_exits_quickly)
{
    struct e2e_server *s = E2E_START("--tenants", web_tenants());
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "GET / HTTP/1.1\r\nHost: hello.test\r\n\r\n");
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "hello world\n");
    e2e_response_dispose(&r);
    /* c stays open and idle: it has no request in flight, so it must not hold the drain. */
    uint64_t t0 = e2e_now_ms();
    int code = e2e_server_stop(s, 5000);
    cr_expect_eq(code, 0, "exit status %d (%s)", code, e2e_errmsg());
    cr_expect_leq(e2e_now_ms() - t0, 2000, "shutdown with an idle connection took %llu ms",
                  (unsigned long long)(e2e_now_ms() - t0));
    cr_expect_eq(e2e_wait_closed(c, 1000), 1, "connection still open after exit");
    e2e_close(c);
}

/* ---- command line ------------------------------------------------------------------------------ */

Test(ops, help_names_every_flag)
{
    char *out = NULL, *err = NULL;
    const char *args[] = {"--help", NULL};
    int code = e2e_run(args, 5000, &out, &err);
    cr_expect_eq(code, 0, "--help exit %d (%s); stderr: %s", code, e2e_errmsg(), err);
    static const char *flags[] = {
        "--listen",
        "--threads",
        "--tenants",
        "--worker",
        "--data",
        "--cpu-ms",
        "--heap-mb",
        "--wall-ms",
        "--max-header-bytes",
        "--max-body-bytes",
        "--header-timeout-ms",
        "--idle-timeout-ms",
        "--drain-timeout-ms",
        "--access-log",
        "--log-level",
        "--port-file",
        "--allow-eval-at-startup",
        "--help",
        "--version",
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_expect(out && strstr(out, flags[i]), "--help output does not mention %s", flags[i]);
    free(out);
    free(err);
}

Test(ops, version)
{
    char *out = NULL, *err = NULL;
    const char *args[] = {"--version", NULL};
    int code = e2e_run(args, 5000, &out, &err);
    cr_expect_eq(code, 0, "--version exit %d (%s)", code, e2e_errmsg());
#ifdef EDGED_VERSION
    cr_expect(out && strstr(out, EDGED_VERSION), "--version printed \"%s\", expected %s", out,
              EDGED_VERSION);
#else
    cr_expect(out && *out, "--version printed nothing");
#endif
    free(out);
    free(err);
}

/* Runs edged with args that must be refused: exit 2, exactly one line on stderr. The safe
 * listener/data arguments come first so that, if it wrongly starts, it touches nothing. */
static void expect_refused(const char *what, const char *a1, const char *a2, const char *a3,
                           const char *must_mention)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    const char *args[] = {"--listen", "127.0.0.1:0", "--data", e2e_fmt("%s/data", dir), a1, a2,
                          a3,         NULL};
    char *out = NULL, *err = NULL;
    int code = e2e_run(args, 5000, &out, &err);
    cr_expect_eq(code, 2, "%s: exit %d, expected 2 (%s)", what, code, e2e_errmsg());
    size_t len = strlen(err);
    const char *nl = strchr(err, '\n');
    cr_expect(len > 1 && nl && nl == err + len - 1,
              "%s: stderr should be exactly one line, got: \"%s\"", what, err);
    if (must_mention)
        cr_expect(strstr(err, must_mention), "%s: error does not name %s: %s", what, must_mention,
                  err);
    free(out);
    free(err);
}

Test(ops, bad_flags_exit_2_with_one_line)
{
    expect_refused("unknown flag", "--bogus-flag", NULL, NULL, "--bogus-flag");
    expect_refused("non-numeric --threads", "--threads", "abc", NULL, NULL);
    expect_refused("missing value", "--threads", NULL, NULL, NULL);
    expect_refused("bad --log-level", "--log-level", "loud", NULL, NULL);
}

Test(ops, missing_worker_file_exits_2)
{
    expect_refused("--worker missing file", "--worker", "example.test=/nonexistent/e2e/w.js", NULL,
                   "/nonexistent/e2e/w.js");
}

Test(ops, missing_tenants_dir_exits_2)
{
    expect_refused("--tenants missing dir", "--tenants", "/nonexistent/e2e/tenants", NULL,
                   "/nonexistent/e2e/tenants");
}

/* ---- workers from flags, module state -------------------------------------------------------- */

Test(ops, worker_flag_serves_files_as_host_tenants)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    const char *root = e2e_fmt("%s/root.js", dir), *api = e2e_fmt("%s/api.js", dir);
    const char *boom = e2e_fmt("%s/boom.js", dir);
    cr_assert_eq(
        e2e_write_file(root, "export default { fetch() { return new Response('root'); } };\n"), 0);
    cr_assert_eq(
        e2e_write_file(api, "export default { async fetch() { return new Response('api'); } };\n"),
        0);
    cr_assert_eq(
        e2e_write_file(boom, "export default { fetch() { throw new Error('flag-boom-55'); } };\n"),
        0);
    struct e2e_server *s =
        E2E_START("--worker", e2e_fmt("w.test=%s", root), "--worker", e2e_fmt("w.test/api=%s", api),
                  "--worker", e2e_fmt("boom.test=%s", boom));
    struct e2e_response r;
    E2E_GET(s->port, "w.test", "/", &r);
    E2E_EXPECT(&r, 200, "root");
    e2e_response_dispose(&r);
    E2E_GET(s->port, "w.test", "/api/x", &r);
    E2E_EXPECT(&r, 200, "api");
    e2e_response_dispose(&r);
    E2E_GET(s->port, "w.test", "/apix", &r);
    E2E_EXPECT(&r, 200, "root");
    e2e_response_dispose(&r);
    E2E_GET(s->port, "other.test", "/", &r);
    cr_expect_eq(r.status, 404, "only --worker hosts are served, got %d", r.status);
    e2e_response_dispose(&r);
    E2E_GET(s->port, "boom.test", "/", &r);
    cr_expect_eq(r.status, 500);
    cr_expect_null(strstr(r.body, "flag-boom-55"), "500 body leaks the exception: %s", r.body);
    e2e_response_dispose(&r);
    cr_expect(e2e_wait_file_contains(e2e_tenant_log(s, "boom.test"), "flag-boom-55", 3000),
              "tenant named after the host: %s", e2e_errmsg());

    char *lines[8];
    size_t n = wait_request_lines(s->stderr_path, lines, 8, 5);
    char *l = find_line(lines, n, "/api/x");
    char v[128];
    cr_expect(l && kv(l, "tenant", v, sizeof v) && strcmp(v, "w.test") == 0,
              "access line for /api/x should name tenant w.test: %s", l ? l : "(none)");
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    E2E_STOP_OK(s);
}

Test(ops, module_state_persists_on_one_shard)
{
    struct e2e_server *s = E2E_START("--tenants", web_tenants(), "--threads", "1");
    for (int i = 1; i <= 5; i++) {
        struct e2e_response r;
        E2E_GET(s->port, "count.test", "/", &r); /* a new connection each time */
        E2E_EXPECT(&r, 200, e2e_fmt("%d", i));
        e2e_response_dispose(&r);
    }
    struct e2e_conn *c = E2E_CONNECT(s->port);
    E2E_SEND(c, "GET / HTTP/1.1\r\nHost: count.test\r\n\r\n");
    struct e2e_response r;
    E2E_READ(c, &r, 0);
    E2E_EXPECT(&r, 200, "6");
    e2e_response_dispose(&r);
    e2e_close(c);
    E2E_STOP_OK(s);
}
