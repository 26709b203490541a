/*
 * HTTP/1.1 response writer: serialises a status line and headers, chunked-body framing and
 * the node's own small text responses into a byte buffer for the connection to send. The
 * framing (Content-Length or chunked, Connection, Date) is always ours: a worker's headers
 * that would change it are dropped, and so are headers a worker could use to split the
 * response, so whatever a tenant returns, one response stays one response on the wire.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "edge/h1_int.h"

static const struct {
    int status;
    const char *text;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *edge_h1_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (reasons[i].status == status)
            return reasons[i].text;
    }
    return "Unknown";
}

/* IMF-fixdate for the current second, formatted once per second per thread. Day and month
 * names are spelled here because strftime's follow the locale. */
static const char *http_date(void)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static __thread time_t cached_sec = -1;
    static __thread char cached[40];
    time_t now = time(NULL);
    struct tm tm;

    if (now != cached_sec && gmtime_r(&now, &tm)) {
        snprintf(cached, sizeof cached, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        cached_sec = now;
    }
    return cached;
}

/* Framing and hop-by-hop fields: the connection, not the worker, decides these. */
static bool is_ours(const char *name, size_t len)
{
    static const char *const ours[] = {"connection",       "keep-alive", "transfer-encoding",
                                       "content-length",   "date",       "upgrade",
                                       "proxy-connection", "te",         "trailer"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
        if (strlen(ours[i]) == len && strncasecmp(name, ours[i], len) == 0)
            return true;
    }
    return false;
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Response splitting: a CR or LF in a name or value the worker set would end the header
 * early and let it write headers (or a whole second response) of its choosing, and a NUL
 * truncates in some clients. Such headers are dropped, as are names that are not tokens. */
static bool is_safe_header(const struct h1_out_header *h)
{
    if (h->name_len == 0)
        return false;
    for (size_t i = 0; i < h->name_len; i++) {
        if (!is_tchar((unsigned char)h->name[i]))
            return false;
    }
    for (size_t i = 0; i < h->value_len; i++) {
        char c = h->value[i];
        if (c == '\r' || c == '\n' || c == '\0')
            return false;
    }
    return true;
}

/* Undoes a partial append so a failed write leaves out as it was. */
static int truncate_on_error(struct ed_buf *out, size_t len, int rc)
{
    if (rc && out->data) {
        out->len = len;
        out->data[len] = '\0';
    }
    return rc;
}

int edge_h1_write_head(struct ed_buf *out, int status, const struct h1_out_header *headers,
                       size_t n_headers, int64_t content_length, int keep_alive)
{
    size_t start = out->len;
    int rc;

    if (status < 100 || status > 999 || content_length < H1_UNFRAMED ||
        (content_length == H1_UNFRAMED && keep_alive != H1_CLOSE))
        return ED_EINVAL;
    rc = ed_buf_appendf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, edge_h1_reason(status),
                        http_date());
    if (!rc && edge_h1_status_has_body(status)) {
        if (content_length >= 0)
            rc = ed_buf_appendf(out, "Content-Length: %lld\r\n", (long long)content_length);
        else if (content_length == -1)
            rc = ed_buf_appends(out, "Transfer-Encoding: chunked\r\n");
    }
    if (!rc && keep_alive == H1_CLOSE)
        rc = ed_buf_appends(out, "Connection: close\r\n");
    else if (!rc && keep_alive == H1_KEEP_ALIVE_10)
        rc = ed_buf_appends(out, "Connection: keep-alive\r\n");
    for (size_t i = 0; !rc && i < n_headers; i++) {
        const struct h1_out_header *h = &headers[i];
        if (is_ours(h->name, h->name_len) || !is_safe_header(h))
            continue;
        rc = ed_buf_reserve(out, h->name_len + h->value_len + 4);
        if (!rc) {
            ed_buf_append(out, h->name, h->name_len);
            ed_buf_append(out, ": ", 2);
            ed_buf_append(out, h->value, h->value_len);
            ed_buf_append(out, "\r\n", 2);
        }
    }
    if (!rc)
        rc = ed_buf_append(out, "\r\n", 2);
    return truncate_on_error(out, start, rc);
}

int edge_h1_write_chunk(struct ed_buf *out, const void *data, size_t len)
{
    size_t start = out->len;
    int rc;

    if (len == 0)
        return 0;
    rc = ed_buf_reserve(out, len + 24);
    if (!rc)
        rc = ed_buf_appendf(out, "%zx\r\n", len);
    if (!rc)
        rc = ed_buf_append(out, data, len);
    if (!rc)
        rc = ed_buf_append(out, "\r\n", 2);
    return truncate_on_error(out, start, rc);
}

int edge_h1_write_last_chunk(struct ed_buf *out)
{
    return ed_buf_append(out, "0\r\n\r\n", 5);
}

int edge_h1_write_simple(struct ed_buf *out, int status, const char *msg, int keep_alive)
{
    static const struct h1_out_header type = {"Content-Type", 12, "text/plain; charset=utf-8", 25};
    size_t start = out->len;
    bool body = edge_h1_status_has_body(status);

    if (!msg)
        msg = edge_h1_reason(status);
    size_t len = body ? strlen(msg) + 1 : 0;
    int rc;

    rc = edge_h1_write_head(out, status, body ? &type : NULL, body ? 1 : 0, (int64_t)len,
                            keep_alive);
    if (!rc && body) {
        rc = ed_buf_append(out, msg, len - 1);
        if (!rc)
            rc = ed_buf_append(out, "\n", 1);
    }
    return truncate_on_error(out, start, rc);
}
