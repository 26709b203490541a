/*
 * edgectl's HTTP client: one libcurl easy handle, reused so requests to the node share a
 * connection. libcurl (the OpenSSL flavour) is linked by edgectl alone: edged does its own
 * HTTP and uses BoringSSL, and an admin URL may be https behind a proxy an operator runs.
 * Redirects are never followed (the bearer token must not travel to another origin), and a
 * failure to get any answer is told apart from an answer that says no: the first is exit code
 * 3, the second 1.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/edgectl/edgectl.h"

/* An answer larger than this is cut off (the API's largest, a usage listing, is far below). */
#define CTL_MAX_RESPONSE (64u << 20)
#define CTL_CONNECT_TIMEOUT_MS 10000L
/* A request during which nothing moves for this long is given up (a deploy's validation
 * compiles every module before the answer: minutes would be wrong, seconds too short). */
#define CTL_STALL_S 120L

int dp_ctl_http_init(struct dp_ctl_http *h, const char *base, const char *token)
{
    memset(h, 0, sizeof *h);
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    if (!(h->base = strndup(base, n)))
        return ED_ENOMEM;
    if (token && asprintf(&h->auth, "Authorization: Bearer %s", token) < 0) {
        h->auth = NULL;
        free(h->base);
        h->base = NULL;
        return ED_ENOMEM;
    }
    return 0;
}

void dp_ctl_http_dispose(struct dp_ctl_http *h)
{
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->base);
    if (h->auth) {
        /* the token does not linger in freed memory */
        memset(h->auth, 0, strlen(h->auth));
        free(h->auth);
    }
    memset(h, 0, sizeof *h);
}

void dp_ctl_response_dispose(struct dp_ctl_response *r)
{
    ed_buf_dispose(&r->body);
    r->status = 0;
}

char *dp_ctl_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = e ? strdup(e) : NULL;
    curl_free(e);
    return copy;
}

struct ctl_sink {
    CURL *curl;
    struct dp_ctl_response *r;
    FILE *stream; /* NULL: keep everything in r->body */
    bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct ctl_sink *s = arg;
    size_t n = size * nmemb;
    if (s->stream) {
        long status = 0;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            if (fwrite(data, 1, n, s->stream) != n)
                return 0;
            fflush(s->stream);
            return n;
        }
    }
    if (s->r->body.len + n > CTL_MAX_RESPONSE) {
        s->too_big = true;
        return 0;
    }
    return ed_buf_append(&s->r->body, data, n) ? 0 : n;
}

static int ctl_perform(struct dp_ctl_http *h, const char *method, const char *path,
                       const char *content_type, const void *body, size_t len, FILE *stream,
                       struct dp_ctl_response *r, struct ed_error *err)
{
    memset(r, 0, sizeof *r);
    ed_buf_init(&r->body);
    if (!h->curl && !(h->curl = curl_easy_init()))
        return ed_error_set(err, ED_ENOMEM, "cannot start libcurl");
    CURL *c = h->curl;
    curl_easy_reset(c);
    char *url = NULL;
    if (asprintf(&url, "%s%s", h->base, path) < 0)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    struct curl_slist *headers = NULL, *next;
    const char *lines[4] = {"Accept: application/json", "Expect:", h->auth, NULL};
    char ct[256];
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        lines[3] = ct;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i])
            continue;
        if (!(next = curl_slist_append(headers, lines[i]))) {
            rc = ed_error_set(err, ED_ENOMEM, "out of memory");
            goto out_headers;
        }
        headers = next;
    }
    struct ctl_sink sink = {.curl = c, .r = r, .stream = stream};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CTL_CONNECT_TIMEOUT_MS);
    if (!stream) {
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, CTL_STALL_S);
    }
    curl_easy_setopt(c, CURLOPT_USERAGENT, "edgectl/" EDGED_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    if (strcmp(method, "GET") != 0 && (body || strcmp(method, "POST") != 0))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0 && !body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    } else if (cc == CURLE_WRITE_ERROR && sink.too_big) {
        rc = ed_error_set(err, ED_ETOOBIG, "the node's answer is larger than %u MiB",
                          CTL_MAX_RESPONSE >> 20);
    } else if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL) {
        rc = ed_error_set(err, ED_EINVAL, "cannot use the URL %s: %s", h->base,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        rc = ed_error_set(err, ED_EIO, "cannot reach the node at %s: %s", h->base,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
out_headers:
    curl_slist_free_all(headers);
    free(url);
    if (rc)
        dp_ctl_response_dispose(r);
    return rc;
}

int dp_ctl_http_request(struct dp_ctl_http *h, const char *method, const char *path,
                        const char *content_type, const void *body, size_t len,
                        struct dp_ctl_response *r, struct ed_error *err)
{
    return ctl_perform(h, method, path, content_type, body, len, NULL, r, err);
}

int dp_ctl_http_stream(struct dp_ctl_http *h, const char *path, FILE *sink,
                       struct dp_ctl_response *r, struct ed_error *err)
{
    return ctl_perform(h, "GET", path, NULL, NULL, 0, sink, r, err);
}
