/*
 * router/ — maps a request's Host and path to the (tenant, worker) that serves it. Its input
 * is a plain table of routes (host pattern, path prefix, target) that a config loader fills
 * today and storage/ will fill once deploys exist; a built table is immutable and
 * reference-counted, so a deploy can build a new one and swap it in while in-flight
 * requests finish on the old one.
 *
 * Matching: the Host is compared without its port and case-insensitively. Host patterns are
 * an exact name ("api.example.com"), a wildcard suffix ("*.example.com", which matches
 * "a.example.com" and "a.b.example.com" but not "example.com"), or "*" (any host). Path
 * prefixes match on a segment boundary ("/api" matches "/api", "/api/" and "/api/x", never
 * "/apix"). The winner is the first route whose host and path both match, in this order: an
 * exact host before any wildcard, a longer suffix before a shorter one, "*" last, and within
 * one host pattern the longest path prefix first.
 *
 * Prefix: rt_.
 */
#ifndef EDGED_ROUTER_H
#define EDGED_ROUTER_H

#include <stddef.h>

#include "common/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One route of the input table. Strings are borrowed by rt_table_add (copied). */
struct rt_route {
    const char *host;   /* "example.com", "*.example.com" or "*" */
    const char *path;   /* prefix starting with '/'; NULL or "" means "/" */
    const char *tenant; /* names, for logs */
    const char *worker;
    void *target; /* the caller's object for this route (borrowed; the table never frees it) */
};

struct rt_table;

/* Returns owned (release with rt_table_unref) an empty table with one reference. */
int rt_table_new(struct rt_table **out);

/* Adds a route. Returns 0, ED_EINVAL (bad host pattern or path, err says which) or ED_EBUSY
 * (the same host pattern and path are already routed: err names the tenant holding them). */
int rt_table_add(struct rt_table *t, const struct rt_route *r, struct ed_error *err);

/* Freezes the table for matching (sorts it); adding afterwards is an error. */
void rt_table_seal(struct rt_table *t);

/* Shared ownership: any thread may ref a sealed table; the last unref frees it. */
struct rt_table *rt_table_ref(struct rt_table *t);
void rt_table_unref(struct rt_table *t);

size_t rt_table_size(const struct rt_table *t);

/* The route for host (may carry ":port"; NULL or empty matches only "*") and path (the
 * request target; the query string is ignored). Returns borrowed (valid while the caller
 * holds a reference to t) or NULL when no route matches. */
const struct rt_route *rt_match(const struct rt_table *t, const char *host, size_t host_len,
                                const char *path, size_t path_len);

#ifdef __cplusplus
}
#endif
#endif
