/*
 * common/ — what every module of edged shares: one table of error codes, the error-as-data
 * struct that carries a message across module (and C/C++) lines, growable byte buffers,
 * clocks, and the operator's structured log. Nothing here knows about HTTP, V8 or tenants.
 * Prefix: ed_ (public), ed__ (internal).
 */
#ifndef EDGED_COMMON_H
#define EDGED_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ----------------------------------------------------------------------------
 * Every fallible function returns 0 or a negative code from this one table: -errno where
 * POSIX has a name for the condition, our own codes (below -4000) where it does not.
 * ed_strerror() yields the generic text; a specific message travels in struct ed_error. */
#define ED_ERRNO_MAP(X)                                       \
    X(NOMEM, -ENOMEM, "out of memory")                        \
    X(INVAL, -EINVAL, "invalid argument")                     \
    X(NOENT, -ENOENT, "no such file or directory")            \
    X(IO, -EIO, "input/output error")                         \
    X(TOOBIG, -E2BIG, "too large")                            \
    X(RANGE, -ERANGE, "out of range")                         \
    X(BUSY, -EBUSY, "resource busy")                          \
    X(TIMEDOUT, -ETIMEDOUT, "timed out")                      \
    X(CANCELED, -ECANCELED, "operation canceled")             \
    X(ACCES, -EACCES, "permission denied")                    \
    X(JS, -4001, "uncaught JavaScript exception")             \
    X(CPULIMIT, -4002, "exceeded CPU time limit")             \
    X(HEAPLIMIT, -4003, "exceeded memory limit")              \
    X(WALLLIMIT, -4004, "exceeded wall time limit")           \
    X(TERMINATED, -4005, "execution terminated")              \
    X(BADWORKER, -4006, "worker is not a valid module")       \
    X(BADRESPONSE, -4007, "worker did not return a Response") \
    X(HTTP, -4008, "malformed HTTP message")                  \
    X(SQLITE, -4009, "storage error")                         \
    X(CONFIG, -4010, "invalid configuration")                 \
    X(SQL, -4011, "SQL error")

enum ed_errcode {
#define ED__ERR_ENUM(name, value, text) ED_E##name = (value),
    ED_ERRNO_MAP(ED__ERR_ENUM)
#undef ED__ERR_ENUM
};

/* Generic text for a code from the table (or strerror(-code) for other -errno values).
 * Returns a static string. */
const char *ed_strerror(int code);

/* Symbolic name ("ED_ECPULIMIT", "ENOENT"...) for logs. Returns a static string. */
const char *ed_errname(int code);

/* An error as data: a code and a message the holder owns. Zero-initialise it; every
 * function that fills one frees what it held first; ed_error_dispose() frees the message. */
struct ed_error {
    int code;
    char *msg; /* owned; NULL when only the generic text applies */
};

/* Sets err (may be NULL) to code and a printf-formatted message; returns code so callers can
 * `return ed_error_set(err, ED_EINVAL, "...")`. Never fails: on OOM the message is dropped. */
int ed_error_set(struct ed_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ed_error_setv(struct ed_error *err, int code, const char *fmt, va_list ap);

/* The message if one was set, else the generic text. Borrowed: valid until err changes. */
const char *ed_error_msg(const struct ed_error *err);

void ed_error_dispose(struct ed_error *err);

/* ---- allocation ------------------------------------------------------------------------ */

/* strdup/strndup that return NULL on NULL input. Returns owned (free with free()). */
char *ed_strdup(const char *s);
char *ed_strndup(const char *s, size_t n);

/* ---- files ---------------------------------------------------------------------------- */

/* mkdir -p: creates path and its missing parents with mode. Returns 0 (also when it all
 * exists) or mkdir's -errno. An existing non-directory at path itself also returns 0, as
 * mkdir says EEXIST: a caller that must have a directory checks. */
int ed_mkdirs(const char *path, unsigned mode);

/* ---- buffers ---------------------------------------------------------------------------
 * A growable byte buffer in the caller's storage. data is always NUL-terminated (the
 * terminator is not counted in len) so text can be handed to printf-style code. */
struct ed_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
};

void ed_buf_init(struct ed_buf *b);
void ed_buf_dispose(struct ed_buf *b);
/* Makes room for extra more bytes. Returns 0 or ED_ENOMEM (b unchanged). */
int ed_buf_reserve(struct ed_buf *b, size_t extra);
int ed_buf_append(struct ed_buf *b, const void *data, size_t len);
int ed_buf_appends(struct ed_buf *b, const char *s);
int ed_buf_appendf(struct ed_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void ed_buf_consume(struct ed_buf *b, size_t n);
static inline void ed_buf_clear(struct ed_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* ---- clocks ---------------------------------------------------------------------------- */

/* Monotonic wall clock in nanoseconds. */
uint64_t ed_now_ns(void);
/* CPU time consumed by the calling thread, in nanoseconds. */
uint64_t ed_thread_cpu_ns(void);

/* ---- the operator's log ----------------------------------------------------------------
 * One line per event: `ts=... level=... event=... key=value ...`. The level is checked before
 * the arguments are evaluated. Tenant console output never comes here (see edge/tenant logs). */
enum ed_log_level { ED_LOG_ERROR = 0, ED_LOG_WARN, ED_LOG_INFO, ED_LOG_DEBUG };
extern int ed_log_level;

#define ED_LOG(lvl, ...)                 \
    do {                                 \
        if ((lvl) <= ed_log_level)       \
            ed__log((lvl), __VA_ARGS__); \
    } while (0)
#define ED_ERROR(...) ED_LOG(ED_LOG_ERROR, __VA_ARGS__)
#define ED_WARN(...) ED_LOG(ED_LOG_WARN, __VA_ARGS__)
#define ED_INFO(...) ED_LOG(ED_LOG_INFO, __VA_ARGS__)
#define ED_DEBUG(...) ED_LOG(ED_LOG_DEBUG, __VA_ARGS__)

/* fmt continues the line after `ts=... level=...`, e.g. "event=listening port=%d". */
void ed__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes the current UTC time as "2026-11-22T10:00:00.123Z" (24 chars plus NUL) into buf,
 * which must hold ED_TS_LEN bytes. Returns buf. */
#define ED_TS_LEN 32
char *ed_log_ts(char *buf);
/* Parses "error|warn|info|debug". Returns the level or ED_EINVAL. */
int ed_log_level_parse(const char *s);
/* Redirects the operator's log (default stderr). fd is borrowed. */
void ed_log_set_fd(int fd);

/* Appends s to b as a log value: bare if it is a simple token, else double-quoted with
 * quotes, backslashes and control bytes escaped, so one event stays on one line. */
int ed_buf_append_logvalue(struct ed_buf *b, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
