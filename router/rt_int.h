/*
 * Internal to router/: the table's layout, shared by its files and its unit tests.
 */
#ifndef EDGED_ROUTER_RT_INT_H
#define EDGED_ROUTER_RT_INT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "router/router.h"

enum rt__host_kind { RT_HOST_EXACT = 0, RT_HOST_SUFFIX = 1, RT_HOST_ANY = 2 };

struct rt__entry {
    struct rt_route route; /* strings owned by the entry */
    enum rt__host_kind kind;
    const char *suffix; /* RT_HOST_SUFFIX: ".example.com" (points into route.host) */
    size_t host_len, suffix_len, path_len;
};

struct rt_table {
    atomic_int refs;
    bool sealed;
    struct rt__entry *entries;
    size_t n, cap;
};

#endif
