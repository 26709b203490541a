/*
 * Building a route table: validating host patterns and paths, owning copies of the strings,
 * and sorting the entries into match precedence once the table is sealed.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "router/rt_int.h"

int rt_table_new(struct rt_table **out)
{
    struct rt_table *t = calloc(1, sizeof *t);
    if (!t)
        return ED_ENOMEM;
    atomic_init(&t->refs, 1);
    *out = t;
    return 0;
}

struct rt_table *rt_table_ref(struct rt_table *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

static void entry_dispose(struct rt__entry *e)
{
    free((char *)e->route.host);
    free((char *)e->route.path);
    free((char *)e->route.tenant);
    free((char *)e->route.worker);
}

void rt_table_unref(struct rt_table *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < t->n; i++)
        entry_dispose(&t->entries[i]);
    free(t->entries);
    free(t);
}

size_t rt_table_size(const struct rt_table *t)
{
    return t->n;
}

/* Host names as they appear in Host headers: letters, digits, '-', '.', and the brackets
 * and colons of an IPv6 literal. Anything else in a pattern is a config mistake. */
static bool host_chars_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-.[]:_", *s))
            return false;
    return true;
}

static int classify(struct rt__entry *e, struct ed_error *err)
{
    const char *h = e->route.host;
    e->host_len = strlen(h);
    if (strcmp(h, "*") == 0) {
        e->kind = RT_HOST_ANY;
        return 0;
    }
    if (h[0] == '*') {
        if (h[1] != '.' || !host_chars_ok(h + 2))
            return ed_error_set(err, ED_EINVAL,
                                "bad host pattern '%s': a wildcard must look like *.example.com",
                                h);
        e->kind = RT_HOST_SUFFIX;
        e->suffix = h + 1;
        e->suffix_len = e->host_len - 1;
        return 0;
    }
    if (!host_chars_ok(h))
        return ed_error_set(err, ED_EINVAL, "bad host pattern '%s'", h);
    e->kind = RT_HOST_EXACT;
    return 0;
}

int rt_table_add(struct rt_table *t, const struct rt_route *r, struct ed_error *err)
{
    if (t->sealed)
        return ed_error_set(err, ED_EINVAL, "route table is sealed");
    if (!r->host || !r->tenant || !r->worker)
        return ed_error_set(err, ED_EINVAL, "a route needs a host, a tenant and a worker");
    const char *path = r->path && *r->path ? r->path : "/";
    if (path[0] != '/' || strpbrk(path, "?# "))
        return ed_error_set(err, ED_EINVAL,
                            "bad route path '%s': must start with '/' and hold no query", path);
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/') /* "/api/" routes like "/api" */
        plen--;

    for (size_t i = 0; i < t->n; i++) {
        const struct rt__entry *o = &t->entries[i];
        if (strcasecmp(o->route.host, r->host) == 0 && o->path_len == plen &&
            strncmp(o->route.path, path, plen) == 0)
            return ed_error_set(err, ED_EBUSY, "route %s%s is already taken by tenant %s", r->host,
                                path, o->route.tenant);
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct rt__entry *p = realloc(t->entries, cap * sizeof *p);
        if (!p)
            return ED_ENOMEM;
        t->entries = p;
        t->cap = cap;
    }
    struct rt__entry *e = &t->entries[t->n];
    memset(e, 0, sizeof *e);
    e->route.host = strdup(r->host);
    e->route.path = strndup(path, plen);
    e->route.tenant = strdup(r->tenant);
    e->route.worker = strdup(r->worker);
    e->route.target = r->target;
    e->path_len = plen;
    if (!e->route.host || !e->route.path || !e->route.tenant || !e->route.worker) {
        entry_dispose(e);
        return ED_ENOMEM;
    }
    for (char *c = (char *)e->route.host; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    int rc = classify(e, err);
    if (rc) {
        entry_dispose(e);
        return rc;
    }
    t->n++;
    return 0;
}

static int precedence(const void *a, const void *b)
{
    const struct rt__entry *x = a, *y = b;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    if (x->kind == RT_HOST_SUFFIX && x->suffix_len != y->suffix_len)
        return x->suffix_len > y->suffix_len ? -1 : 1;
    if (x->path_len != y->path_len)
        return x->path_len > y->path_len ? -1 : 1;
    return 0;
}

void rt_table_seal(struct rt_table *t)
{
    if (t->n)
        qsort(t->entries, t->n, sizeof *t->entries, precedence);
    t->sealed = true;
}
