/*
 * Matching a request against a sealed table. Entries are already in precedence order, so
 * the first entry whose host and path both match wins. A linear scan is right for the
 * tables of one node today; a hash of exact hosts goes here when tables grow to thousands.
 */
#include <string.h>
#include <strings.h>

#include "router/rt_int.h"

/* The host without its port: "example.com:8080" -> "example.com", "[::1]:80" -> "[::1]". */
static size_t host_without_port(const char *host, size_t len)
{
    if (len && host[0] == '[') {
        const char *end = memchr(host, ']', len);
        return end ? (size_t)(end - host) + 1 : len;
    }
    const char *colon = memchr(host, ':', len);
    return colon ? (size_t)(colon - host) : len;
}

static bool host_matches(const struct rt__entry *e, const char *host, size_t len)
{
    switch (e->kind) {
    case RT_HOST_ANY:
        return true;
    case RT_HOST_EXACT:
        return len == e->host_len && strncasecmp(host, e->route.host, len) == 0;
    case RT_HOST_SUFFIX:
        /* "*.example.com" needs at least one label before the suffix */
        return len > e->suffix_len &&
               strncasecmp(host + len - e->suffix_len, e->suffix, e->suffix_len) == 0;
    }
    return false;
}

static bool path_matches(const struct rt__entry *e, const char *path, size_t len)
{
    if (e->path_len == 1) /* "/" */
        return true;
    if (len < e->path_len || memcmp(path, e->route.path, e->path_len) != 0)
        return false;
    return len == e->path_len || path[e->path_len] == '/';
}

const struct rt_route *rt_match(const struct rt_table *t, const char *host, size_t host_len,
                                const char *path, size_t path_len)
{
    if (!host) {
        host = "";
        host_len = 0;
    }
    host_len = host_without_port(host, host_len);
    while (host_len && host[host_len - 1] == '.') /* "example.com." is example.com */
        host_len--;
    const char *q = memchr(path, '?', path_len);
    if (q)
        path_len = (size_t)(q - path);
    for (size_t i = 0; i < t->n; i++) {
        const struct rt__entry *e = &t->entries[i];
        if ((host_len || e->kind == RT_HOST_ANY) && host_matches(e, host, host_len) &&
            path_matches(e, path, path_len))
            return &e->route;
    }
    return NULL;
}
