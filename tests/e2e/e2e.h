/*
 * tests/e2e/ support — the harness every end-to-end test uses: start a real `edged` (the
 * binary named by $EDGED_BIN) on an ephemeral loopback port in a throw-away directory, write
 * tenants directories, talk HTTP/1.1 to it over real sockets (127.0.0.1 only) with a small
 * client that keeps the raw bytes for framing checks, run many requests concurrently for the
 * noisy-neighbour tests, and stop the server and check how it exited. Every wait is bounded
 * in time and every loop in count, so a broken server fails a test instead of hanging it.
 *
 * The helpers do not assert: they return 0 / a value, or -1 / NULL with a one-line reason in
 * e2e_errmsg(). The E2E_* macros at the end wrap the common cases in Criterion assertions.
 * Servers, temporary directories and e2e_fmt() strings are tracked in a registry that
 * e2e_teardown() (every suite's .fini) releases, so a failed assertion leaks nothing: a
 * still-running server is killed and its stderr tail printed for the report.
 * Prefix: e2e_ (public), e2e__ (internal).
 */
#ifndef EDGED_TESTS_E2E_H
#define EDGED_TESTS_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- errors, bookkeeping ---------------------------------------------------------------- */

/* Why the last helper call on this thread failed. Borrowed: valid until the next failure. */
const char *e2e_errmsg(void);

/* Suite .fini: kills servers still running (printing their stderr tail), closes tracked
 * connections, removes temporary directories (kept when $E2E_KEEP is set) and frees
 * e2e_fmt() strings. Safe to call more than once. */
void e2e_teardown(void);

/* printf into a string that lives until e2e_teardown(). Returns borrowed; never NULL
 * (aborts the test process on OOM, which only the harness can cause). */
const char *e2e_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds on the monotonic clock. */
uint64_t e2e_now_ms(void);
void e2e_sleep_ms(int ms);

/* ---- files and temporary directories ---------------------------------------------------- */

/* mkdtemp under /tmp ("/tmp/edged-e2e-XXXXXX"), removed at teardown. Returns borrowed (valid
 * until e2e_teardown) or NULL. */
const char *e2e_tmpdir(void);

/* Writes text to path, creating missing parent directories. Returns 0 or -1. */
int e2e_write_file(const char *path, const char *text);

/* Whole file, NUL-terminated; *len (may be NULL) gets its length. Returns owned (free()) or
 * NULL when it cannot be read. */
char *e2e_read_file(const char *path, size_t *len);

/* Polls path (every 20 ms, at most timeout_ms) until it contains needle. */
bool e2e_wait_file_contains(const char *path, const char *needle, int timeout_ms);

/* Writes <dir>/<name>/tenant.conf (if conf is not NULL) and <dir>/<name>/<worker>.js (if
 * worker and js are not NULL). Call again with conf NULL to add more workers. Returns 0/-1. */
int e2e_tenant(const char *dir, const char *name, const char *conf, const char *worker,
               const char *js);

/* ---- the server ------------------------------------------------------------------------- */

struct e2e_server {
    pid_t pid;            /* 0 once reaped */
    int port;             /* the ephemeral port it listens on */
    int admin_port;       /* --admin-listen's port; -1 without it */
    int exit_status;      /* after e2e_server_stop: exit code, 128+signal, or -1 */
    char dir[64];         /* its temporary directory */
    char data_dir[96];    /* <dir>/data unless the test passed --data */
    char stderr_path[96]; /* <dir>/stderr.log: the operator log and default access log */
    char stdout_path[96]; /* <dir>/stdout.log */
    char port_file[96];   /* <dir>/port */
};

/* Starts $EDGED_BIN with args (NULL-terminated, may be NULL), adding `--listen 127.0.0.1:0
 * --port-file <dir>/port` and, unless args has them, `--data <dir>/data` and `--threads 2`.
 * Waits at most 10 s for the port file. Returns a server owned by the registry (valid until
 * e2e_teardown) or NULL (the reason, with the server's stderr, in e2e_errmsg()). */
struct e2e_server *e2e_server_start(const char *const *args);

/* SIGTERM, then waits at most timeout_ms (SIGKILL after that). Returns the exit code, 128+sig
 * if a signal ended it, or -1 when it had to be killed or was already stopped. */
int e2e_server_stop(struct e2e_server *s, int timeout_ms);

/* Sends sig without waiting (for drain tests). Returns 0 or -1. */
int e2e_server_signal(struct e2e_server *s, int sig);

/* Waits at most timeout_ms for an already-signalled server to exit (SIGKILL after that).
 * Returns as e2e_server_stop. */
int e2e_server_wait(struct e2e_server *s, int timeout_ms);

/* True while the process exists and has not exited. */
bool e2e_server_alive(struct e2e_server *s);

/* The server's stderr so far. Returns owned (free()), "" if nothing was written. */
char *e2e_server_stderr(const struct e2e_server *s);

/* Path of a tenant's worker log under the server's data directory. Returns borrowed. */
const char *e2e_tenant_log(const struct e2e_server *s, const char *tenant);

/* Runs $EDGED_BIN with exactly args (no additions) to completion, at most timeout_ms (then
 * SIGKILL and -1). *out and *err (either may be NULL) get its stdout and stderr, owned.
 * Returns the exit code, 128+sig, or -1. */
int e2e_run(const char *const *args, int timeout_ms, char **out, char **err);

/* ---- the HTTP client ---------------------------------------------------------------------- */

struct e2e_conn {
    int fd;
    char *buf; /* received, not yet consumed by a parsed response */
    size_t len, cap;
    bool eof;   /* the peer closed (FIN) */
    bool reset; /* the peer reset the connection (treated as the end of the stream) */
};

struct e2e_header {
    char *name;
    char *value;
};

struct e2e_response {
    int status; /* e.g. 200 */
    int minor;  /* HTTP/1.<minor> */
    char *reason;
    struct e2e_header *headers;
    size_t nheaders;
    char *body; /* decoded (de-chunked), NUL-terminated */
    size_t body_len;
    char *raw; /* this response exactly as received: head and framed body */
    size_t raw_len;
    size_t head_len;  /* raw[0..head_len) is the status line and headers with CRLFCRLF */
    bool chunked;     /* Transfer-Encoding: chunked */
    bool until_close; /* body delimited by the connection closing */
};

#define E2E_HEAD_REQUEST 1 /* e2e_read_response flag: the request was HEAD, expect no body */

/* Connects to 127.0.0.1:port within 3 s. Returns owned (e2e_close) or NULL. */
struct e2e_conn *e2e_connect(int port);
void e2e_close(struct e2e_conn *c);

/* Sends all of data (bounded: at most 5 s). Returns 0 or -1 (e.g. the peer reset). */
int e2e_send(struct e2e_conn *c, const void *data, size_t len);
int e2e_sends(struct e2e_conn *c, const char *s);
/* Sends s in pieces of `piece` bytes with pause_ms between them. Returns 0 or -1. */
int e2e_send_slowly(struct e2e_conn *c, const char *s, size_t piece, int pause_ms);

/* Reads one complete response within timeout_ms. Bytes after it stay buffered for the next
 * call (pipelining). r is filled on success (free with e2e_response_dispose) and zeroed on
 * failure. Returns 0 or -1. */
int e2e_read_response(struct e2e_conn *c, struct e2e_response *r, int flags, int timeout_ms);
void e2e_response_dispose(struct e2e_response *r);

/* Value of the first header called name (case-insensitive). Borrowed, or NULL. */
const char *e2e_header(const struct e2e_response *r, const char *name);

/* Waits at most timeout_ms for the peer to close. Returns 1 if it closed (FIN or RST), 0 if
 * it is still open. Bytes that arrive meanwhile are kept in c->buf (check c->len). */
int e2e_wait_closed(struct e2e_conn *c, int timeout_ms);

/* Waits at most timeout_ms for something to read. Returns 1 if bytes or EOF are pending,
 * 0 on timeout. Does not consume. */
int e2e_readable(struct e2e_conn *c, int timeout_ms);

/* One request on a fresh connection, closed afterwards:
 * `METHOD path HTTP/1.1`, Host, extra_headers (each line ending in \r\n, may be NULL),
 * Content-Length when body is not NULL, then body. Reads one response within 10 s.
 * Returns 0 or -1. */
int e2e_request(int port, const char *method, const char *host, const char *path,
                const char *extra_headers, const char *body, struct e2e_response *r);
int e2e_get(int port, const char *host, const char *path, struct e2e_response *r);

/* ---- many requests at once -------------------------------------------------------------- */

struct e2e_job {
    const char *host; /* borrowed; the request is GET path with this Host */
    const char *path; /* borrowed */
    int tag;          /* free for the caller (e.g. which tenant) */
    /* results */
    int status;    /* -1 when the request failed at the transport level */
    char *body;    /* owned, freed by e2e_jobs_dispose */
    char err[160]; /* e2e_errmsg() of a transport failure */
    uint64_t wall_ms;
};

/* Runs every job, each on its own connection, from nthreads client threads (capped at 32),
 * every request bounded by timeout_ms. Returns 0 when every job ran (whatever its status),
 * -1 if the threads could not be started. */
int e2e_run_jobs(int port, struct e2e_job *jobs, size_t njobs, int nthreads, int timeout_ms);
void e2e_jobs_dispose(struct e2e_job *jobs, size_t njobs);

/* ---- usage counters (billing) ------------------------------------------------------------ */

/* Today's UTC day as "YYYY-MM-DD". Returns borrowed (valid until e2e_teardown). */
const char *e2e_utc_day(void);

/* One row of the usage table in DATA/control.sqlite (read with SQLite directly). */
struct e2e_usage {
    bool found; /* false: no row for (tenant, day); every counter is 0 */
    int64_t requests, cpu_us, subrequests;
    int64_t children_loaded, child_invocations, child_cpu_us;
};

/* Reads (tenant, day) from data_dir/control.sqlite into *out: exact after the server stopped
 * (SIGTERM flushes), or what its last periodic flush committed while it runs. Returns 0 (also
 * when there is no such row) or -1. */
int e2e_usage_read(const char *data_dir, const char *tenant, const char *day,
                   struct e2e_usage *out);

/* ---- JavaScript snippets for workers --------------------------------------------------------
 * pathOf(request.url): the path of an absolute or origin-form URL, without the query, using
 * only core JavaScript (the runtime's URL class is not needed). */
#define E2E_JS_PATHOF                                                      \
    "function pathOf(u) {\n"                                               \
    "  const m = /^[a-z][a-z0-9+.-]*:\\/\\/[^\\/?#]*([^?#]*)/i.exec(u);\n" \
    "  return m ? (m[1] || '/') : String(u).split('?')[0];\n"              \
    "}\n"

/* ---- Criterion shorthands (expand only inside tests) ------------------------------------ */

/* struct e2e_server *s = E2E_START("--threads", "1"); or E2E_START(NULL). */
#define E2E_START(...)                                                       \
    ({                                                                       \
        const char *const e2e__args[] = {__VA_ARGS__, NULL};                 \
        struct e2e_server *e2e__s = e2e_server_start(e2e__args);             \
        cr_assert_not_null(e2e__s, "edged did not start: %s", e2e_errmsg()); \
        e2e__s;                                                              \
    })

/* Stops s and asserts exit code 0 within 5 s. */
#define E2E_STOP_OK(s)                                                                \
    do {                                                                              \
        int e2e__rc = e2e_server_stop((s), 5000);                                     \
        cr_assert_eq(e2e__rc, 0, "edged exited with %d (%s)", e2e__rc, e2e_errmsg()); \
    } while (0)

/* GET on a fresh connection, asserting that a response came back. */
#define E2E_GET(port, host, path, r)                                                   \
    do {                                                                               \
        int e2e__rc = e2e_get((port), (host), (path), (r));                            \
        cr_assert_eq(e2e__rc, 0, "GET http://%s%s: %s", (host), (path), e2e_errmsg()); \
    } while (0)

#define E2E_CONNECT(port)                                        \
    ({                                                           \
        struct e2e_conn *e2e__c = e2e_connect(port);             \
        cr_assert_not_null(e2e__c, "connect: %s", e2e_errmsg()); \
        e2e__c;                                                  \
    })

#define E2E_SEND(c, s)                                                  \
    do {                                                                \
        cr_assert_eq(e2e_sends((c), (s)), 0, "send: %s", e2e_errmsg()); \
    } while (0)

#define E2E_READ(c, r, flags)                                                             \
    do {                                                                                  \
        cr_assert_eq(e2e_read_response((c), (r), (flags), 10000), 0, "read response: %s", \
                     e2e_errmsg());                                                       \
    } while (0)

/* Asserts status and exact body. */
#define E2E_EXPECT(r, st, bod)                                                                \
    do {                                                                                      \
        cr_expect_eq((r)->status, (st), "status %d, expected %d (body: %.300s)", (r)->status, \
                     (st), (r)->body);                                                        \
        cr_expect_str_eq((r)->body, (bod), "body mismatch for status %d", (r)->status);       \
    } while (0)

#endif
