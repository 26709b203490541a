/*
 * The e2e harness's process side: a registry of what a test created (servers, temporary
 * directories, formatted strings) so e2e_teardown() can release it after a failed assertion;
 * starting edged in its own directory with its stderr captured, waiting for its port file,
 * stopping it with a bounded wait; running it to completion for flag tests; and the small
 * file helpers tests use to write tenants and read logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "support/internal.h"

#define MAX_SERVERS 16
#define MAX_TMPDIRS 64
#define MAX_STRINGS 4096
#define START_TIMEOUT_MS 10000

static struct e2e_server *servers[MAX_SERVERS];
static char *tmpdirs[MAX_TMPDIRS];
static char *strings[MAX_STRINGS];
static size_t n_strings;

static __thread char errbuf[2048];

const char *e2e_errmsg(void)
{
    return errbuf;
}

int e2e__fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

uint64_t e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void e2e_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *e2e_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0 || n_strings == MAX_STRINGS) {
        fprintf(stderr, "e2e_fmt: out of memory or too many strings\n");
        abort();
    }
    strings[n_strings++] = s;
    return s;
}

/* ---- files ---------------------------------------------------------------------------- */

static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return e2e__fail("path too long: %s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return e2e__fail("mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return e2e__fail("mkdir %s: %s", tmp, strerror(errno));
    return 0;
}

int e2e_write_file(const char *path, const char *text)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdirs(dir) != 0)
            return -1;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return e2e__fail("open %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    size_t n = fwrite(text, 1, len, f);
    if (fclose(f) != 0 || n != len)
        return e2e__fail("write %s failed", path);
    return 0;
}

char *e2e_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e2e__fail("open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (int guard = 0; buf && guard < 1 << 20; guard++) {
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf) {
        e2e__fail("out of memory reading %s", path);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

bool e2e_wait_file_contains(const char *path, const char *needle, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    for (int i = 0; i < 100000; i++) {
        char *text = e2e_read_file(path, NULL);
        bool found = text && strstr(text, needle);
        free(text);
        if (found)
            return true;
        if (e2e_now_ms() >= deadline)
            break;
        e2e_sleep_ms(20);
    }
    e2e__fail("%s does not contain \"%s\" after %d ms", path, needle, timeout_ms);
    return false;
}

int e2e_tenant(const char *dir, const char *name, const char *conf, const char *worker,
               const char *js)
{
    char path[PATH_MAX];
    if (conf) {
        snprintf(path, sizeof path, "%s/%s/tenant.conf", dir, name);
        if (e2e_write_file(path, conf) != 0)
            return -1;
    }
    if (worker && js) {
        snprintf(path, sizeof path, "%s/%s/%s.js", dir, name, worker);
        if (e2e_write_file(path, js) != 0)
            return -1;
    }
    if (!conf && !(worker && js)) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        return mkdirs(path);
    }
    return 0;
}

const char *e2e_tmpdir(void)
{
    int slot = -1;
    for (int i = 0; i < MAX_TMPDIRS; i++) {
        if (!tmpdirs[i]) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        e2e__fail("too many temporary directories");
        return NULL;
    }
    char tmpl[] = "/tmp/edged-e2e-XXXXXX";
    if (!mkdtemp(tmpl)) {
        e2e__fail("mkdtemp: %s", strerror(errno));
        return NULL;
    }
    tmpdirs[slot] = strdup(tmpl);
    return tmpdirs[slot];
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    /* Only our own mkdtemp directories, never anything a test computed. */
    if (strncmp(dir, "/tmp/edged-e2e-", 15) != 0)
        return;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- processes -------------------------------------------------------------------------- */

static const char *edged_bin(void)
{
    const char *bin = getenv("EDGED_BIN");
    if (!bin || !*bin) {
        e2e__fail("EDGED_BIN is not set (run the e2e tests through ctest)");
        return NULL;
    }
    if (access(bin, X_OK) != 0) {
        e2e__fail("EDGED_BIN=%s is not executable: %s", bin, strerror(errno));
        return NULL;
    }
    return bin;
}

/* Child side of a fork: stdio to files, nothing else inherited, die with the test. */
static void exec_child(const char *bin, char **argv, const char *cwd, const char *out_path,
                       const char *err_path, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (in < 0 || out < 0 || err < 0)
        _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
    {
        for (int fd = 3; fd < 4096; fd++)
            close(fd);
    }
    if (cwd && chdir(cwd) != 0)
        _exit(126);
    execv(bin, argv);
    dprintf(2, "e2e: exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

static pid_t spawn(const char *bin, char **argv, const char *cwd, const char *out_path,
                   const char *err_path)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        e2e__fail("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        exec_child(bin, argv, cwd, out_path, err_path, parent);
    return pid;
}

static int decode_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

/* Waits for pid at most timeout_ms; SIGKILLs it after that. Returns as e2e_server_wait. */
static int wait_bounded(pid_t pid, int timeout_ms, const char *what)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    for (int i = 0; i < 1000000; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            int code = decode_status(status);
            if (WIFSIGNALED(status))
                e2e__fail("%s was killed by signal %d", what, WTERMSIG(status));
            else if (code != 0)
                e2e__fail("%s exited with code %d", what, code);
            return code;
        }
        if (r < 0 && errno != EINTR)
            return e2e__fail("waitpid %s: %s", what, strerror(errno));
        if (e2e_now_ms() >= deadline)
            break;
        e2e_sleep_ms(2);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return e2e__fail("%s did not exit within %d ms (killed)", what, timeout_ms);
}

static bool has_arg(const char *const *args, const char *flag)
{
    for (size_t i = 0; args && args[i]; i++) {
        if (strcmp(args[i], flag) == 0)
            return true;
        size_t n = strlen(flag);
        if (strncmp(args[i], flag, n) == 0 && args[i][n] == '=')
            return true;
    }
    return false;
}

/* The tail of a file for failure messages: at most max bytes, starting on a line. */
static void tail_of(const char *path, char *out, size_t max)
{
    size_t len = 0;
    char *text = e2e_read_file(path, &len);
    out[0] = '\0';
    if (!text)
        return;
    const char *start = text;
    if (len > max - 1) {
        start = text + len - (max - 1);
        const char *nl = strchr(start, '\n');
        if (nl && nl[1])
            start = nl + 1;
    }
    snprintf(out, max, "%s", start);
    free(text);
}

/* The port file's first line is the port, the second (with --admin-listen) the admin port. */
static int read_port(const char *path, int *admin_port)
{
    char *text = e2e_read_file(path, NULL);
    if (!text)
        return -1;
    char *end;
    long port = strtol(text, &end, 10);
    bool ok = end != text && port > 0 && port < 65536;
    long admin = ok && *end == '\n' ? strtol(end + 1, NULL, 10) : 0;
    *admin_port = admin > 0 && admin < 65536 ? (int)admin : -1;
    free(text);
    return ok ? (int)port : -1;
}

struct e2e_server *e2e_server_start(const char *const *args)
{
    const char *bin = edged_bin();
    if (!bin)
        return NULL;
    int slot = -1;
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (!servers[i]) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        e2e__fail("too many servers in one test");
        return NULL;
    }
    const char *dir = e2e_tmpdir();
    if (!dir)
        return NULL;
    struct e2e_server *s = calloc(1, sizeof *s);
    if (!s) {
        e2e__fail("out of memory");
        return NULL;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->data_dir, sizeof s->data_dir, "%s/data", dir);
    snprintf(s->stderr_path, sizeof s->stderr_path, "%s/stderr.log", dir);
    snprintf(s->stdout_path, sizeof s->stdout_path, "%s/stdout.log", dir);
    snprintf(s->port_file, sizeof s->port_file, "%s/port", dir);
    s->exit_status = -1;

    const char *argv[128];
    size_t n = 0;
    argv[n++] = bin;
    for (size_t i = 0; args && args[i] && n < 110; i++)
        argv[n++] = args[i];
    if (!has_arg(args, "--listen")) {
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
    }
    if (!has_arg(args, "--port-file")) {
        argv[n++] = "--port-file";
        argv[n++] = s->port_file;
    }
    if (!has_arg(args, "--data")) {
        argv[n++] = "--data";
        argv[n++] = s->data_dir;
    } else {
        for (size_t i = 0; args[i] && args[i + 1]; i++)
            if (strcmp(args[i], "--data") == 0)
                snprintf(s->data_dir, sizeof s->data_dir, "%s", args[i + 1]);
    }
    if (!has_arg(args, "--threads")) {
        argv[n++] = "--threads";
        argv[n++] = "2";
    }
    argv[n] = NULL;

    pid_t pid = spawn(bin, (char **)argv, s->dir, s->stdout_path, s->stderr_path);
    if (pid < 0) {
        free(s);
        return NULL;
    }
    s->pid = pid;
    servers[slot] = s;

    uint64_t deadline = e2e_now_ms() + START_TIMEOUT_MS;
    for (int i = 0; i < 100000; i++) {
        int port = read_port(s->port_file, &s->admin_port);
        if (port > 0) {
            s->port = port;
            return s;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            s->exit_status = decode_status(status);
            char tail[1500];
            tail_of(s->stderr_path, tail, sizeof tail);
            e2e__fail("edged exited with %d before listening; stderr: %s", s->exit_status, tail);
            return NULL;
        }
        if (e2e_now_ms() >= deadline)
            break;
        e2e_sleep_ms(5);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    s->pid = 0;
    char tail[1500];
    tail_of(s->stderr_path, tail, sizeof tail);
    e2e__fail("no port file %s after %d ms; stderr: %s", s->port_file, START_TIMEOUT_MS, tail);
    return NULL;
}

int e2e_server_signal(struct e2e_server *s, int sig)
{
    if (!s || s->pid <= 0)
        return e2e__fail("server is not running");
    if (kill(s->pid, sig) != 0)
        return e2e__fail("kill: %s", strerror(errno));
    return 0;
}

int e2e_server_wait(struct e2e_server *s, int timeout_ms)
{
    if (!s || s->pid <= 0)
        return e2e__fail("server is not running");
    int rc = wait_bounded(s->pid, timeout_ms, "edged");
    s->pid = 0;
    s->exit_status = rc;
    return rc;
}

int e2e_server_stop(struct e2e_server *s, int timeout_ms)
{
    if (e2e_server_signal(s, SIGTERM) != 0)
        return -1;
    return e2e_server_wait(s, timeout_ms);
}

bool e2e_server_alive(struct e2e_server *s)
{
    if (!s || s->pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(s->pid, &status, WNOHANG);
    if (r == s->pid) {
        s->pid = 0;
        s->exit_status = decode_status(status);
        e2e__fail("edged is gone (status %d)", s->exit_status);
        return false;
    }
    return r == 0;
}

char *e2e_server_stderr(const struct e2e_server *s)
{
    char *text = e2e_read_file(s->stderr_path, NULL);
    return text ? text : strdup("");
}

const char *e2e_tenant_log(const struct e2e_server *s, const char *tenant)
{
    return e2e_fmt("%s/tenants/%s/logs/worker.log", s->data_dir, tenant);
}

int e2e_run(const char *const *args, int timeout_ms, char **out, char **err)
{
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    const char *bin = edged_bin();
    if (!bin)
        return -1;
    const char *dir = e2e_tmpdir();
    if (!dir)
        return -1;
    const char *argv[128];
    size_t n = 0;
    argv[n++] = bin;
    for (size_t i = 0; args && args[i] && n < 127; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    const char *out_path = e2e_fmt("%s/stdout.log", dir);
    const char *err_path = e2e_fmt("%s/stderr.log", dir);
    pid_t pid = spawn(bin, (char **)argv, dir, out_path, err_path);
    if (pid < 0)
        return -1;
    char saved[sizeof errbuf];
    int rc = wait_bounded(pid, timeout_ms, "edged");
    snprintf(saved, sizeof saved, "%s", errbuf);
    if (out) {
        *out = e2e_read_file(out_path, NULL);
        if (!*out)
            *out = strdup("");
    }
    if (err) {
        *err = e2e_read_file(err_path, NULL);
        if (!*err)
            *err = strdup("");
    }
    snprintf(errbuf, sizeof errbuf, "%s", saved);
    return rc;
}

/* ---- teardown ----------------------------------------------------------------------------- */

void e2e_teardown(void)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        struct e2e_server *s = servers[i];
        if (!s)
            continue;
        if (s->pid > 0) {
            /* Still running: the test stopped early. Show what the server said. */
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            char tail[3000];
            tail_of(s->stderr_path, tail, sizeof tail);
            fprintf(stderr,
                    "e2e: edged (port %d) was still running at teardown; "
                    "stderr tail:\n%s\n",
                    s->port, tail);
        } else if (getenv("E2E_VERBOSE")) {
            char tail[3000];
            tail_of(s->stderr_path, tail, sizeof tail);
            fprintf(stderr, "e2e: edged (port %d) stderr tail:\n%s\n", s->port, tail);
        }
        free(s);
        servers[i] = NULL;
    }
    e2e__close_tracked_conns();
    bool keep = getenv("E2E_KEEP") != NULL;
    for (int i = 0; i < MAX_TMPDIRS; i++) {
        if (!tmpdirs[i])
            continue;
        if (keep)
            fprintf(stderr, "e2e: kept %s\n", tmpdirs[i]);
        else
            rm_tree(tmpdirs[i]);
        free(tmpdirs[i]);
        tmpdirs[i] = NULL;
    }
    for (size_t i = 0; i < n_strings; i++)
        free(strings[i]);
    n_strings = 0;
}
