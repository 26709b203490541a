/*
 * The operator's log: one key=value line per event, written with a single write(2) so lines
 * from different shard threads never interleave mid-line.
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

int ed_log_level = ED_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ed_log_set_fd(int fd)
{
    log_fd = fd;
}

int ed_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return ED_EINVAL;
}

char *ed_log_ts(char *buf)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, ED_TS_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, ED_TS_LEN - n, ".%03uZ", (unsigned)(tv.tv_usec / 1000) % 1000u);
    return buf;
}

void ed__log(int level, const char *fmt, ...)
{
    char line[2048], ts[ED_TS_LEN];
    int n = snprintf(line, sizeof line, "ts=%s level=%s ", ed_log_ts(ts),
                     level_names[level < 0   ? 0
                                 : level > 3 ? 3
                                             : level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w; /* nowhere to report a failed log write */
}

static bool is_token(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
            return false;
    }
    return true;
}

int ed_buf_append_logvalue(struct ed_buf *b, const char *s, size_t len)
{
    if (is_token(s, len))
        return ed_buf_append(b, s, len);
    int rc = ed_buf_reserve(b, len + 2);
    if (rc)
        return rc;
    ed_buf_append(b, "\"", 1);
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = ed_buf_appendf(b, "\\%c", c);
        else if (c == '\n')
            rc = ed_buf_append(b, "\\n", 2);
        else if (c < 0x20 || c == 0x7f)
            rc = ed_buf_appendf(b, "\\x%02x", c);
        else
            rc = ed_buf_append(b, &s[i], 1);
    }
    return rc ? rc : ed_buf_append(b, "\"", 1);
}
