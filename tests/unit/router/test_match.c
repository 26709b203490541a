/*
 * Router matching: host patterns, precedence, path prefixes on segment boundaries, and the
 * table-building errors a config mistake should produce.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "router/router.h"

static struct rt_table *t;

static void add(const char *host, const char *path, const char *tenant)
{
    struct rt_route r = {.host = host, .path = path, .tenant = tenant, .worker = "w"};
    struct ed_error err = {0};
    int rc = rt_table_add(t, &r, &err);
    cr_assert_eq(rc, 0, "add %s%s: %s", host, path ? path : "", ed_error_msg(&err));
}

static const char *who(const char *host, const char *path)
{
    const struct rt_route *r = rt_match(t, host, host ? strlen(host) : 0, path, strlen(path));
    return r ? r->tenant : "none";
}

static void setup(void)
{
    cr_assert_eq(rt_table_new(&t), 0);
    add("api.example.com", "/", "exact");
    add("api.example.com", "/v2", "exact-v2");
    add("*.example.com", NULL, "wild");
    add("*.b.example.com", "/", "wild-longer");
    add("*", "/", "any");
    add("*", "/static/", "any-static");
    rt_table_seal(t);
}

static void teardown(void)
{
    rt_table_unref(t);
}

TestSuite(router_match, .init = setup, .fini = teardown);

Test(router_match, exact_beats_wildcard)
{
    cr_assert_str_eq(who("api.example.com", "/"), "exact");
    cr_assert_str_eq(who("API.Example.COM", "/x"), "exact");
    cr_assert_str_eq(who("api.example.com:8080", "/x"), "exact");
    cr_assert_str_eq(who("api.example.com.", "/x"), "exact");
}

Test(router_match, longer_suffix_wins)
{
    cr_assert_str_eq(who("x.example.com", "/"), "wild");
    cr_assert_str_eq(who("x.b.example.com", "/"), "wild-longer");
    cr_assert_str_eq(who("x.y.example.com", "/"), "wild");
}

Test(router_match, wildcard_needs_a_label)
{
    cr_assert_str_eq(who("example.com", "/"), "any");
    cr_assert_str_eq(who("badexample.com", "/"), "any");
}

Test(router_match, path_prefix_on_segment_boundary)
{
    cr_assert_str_eq(who("api.example.com", "/v2"), "exact-v2");
    cr_assert_str_eq(who("api.example.com", "/v2/users"), "exact-v2");
    cr_assert_str_eq(who("api.example.com", "/v2?x=1"), "exact-v2");
    cr_assert_str_eq(who("api.example.com", "/v20"), "exact");
    cr_assert_str_eq(who("other.org", "/static"), "any-static");
    cr_assert_str_eq(who("other.org", "/static/a.css"), "any-static");
    cr_assert_str_eq(who("other.org", "/staticx"), "any");
}

Test(router_match, missing_host_matches_only_any)
{
    cr_assert_str_eq(who(NULL, "/"), "any");
    cr_assert_str_eq(who("", "/static/x"), "any-static");
}

Test(router_match, ipv6_literal_port_is_stripped)
{
    struct rt_table *t2;
    cr_assert_eq(rt_table_new(&t2), 0);
    struct rt_route r = {.host = "[::1]", .tenant = "v6", .worker = "w"};
    cr_assert_eq(rt_table_add(t2, &r, NULL), 0);
    rt_table_seal(t2);
    const struct rt_route *m = rt_match(t2, "[::1]:8080", 10, "/", 1);
    cr_assert_not_null(m);
    cr_assert_str_eq(m->tenant, "v6");
    rt_table_unref(t2);
}

Test(router_match, no_route)
{
    struct rt_table *t2;
    cr_assert_eq(rt_table_new(&t2), 0);
    rt_table_seal(t2);
    cr_assert_null(rt_match(t2, "a.com", 5, "/", 1));
    rt_table_unref(t2);
}

Test(router_table, rejects_bad_patterns_and_duplicates)
{
    struct rt_table *t2;
    struct ed_error err = {0};
    cr_assert_eq(rt_table_new(&t2), 0);
    struct rt_route r = {.host = "a*.com", .tenant = "x", .worker = "w"};
    cr_assert_eq(rt_table_add(t2, &r, &err), ED_EINVAL);
    cr_assert(strstr(ed_error_msg(&err), "a*.com"));
    r.host = "*example.com";
    cr_assert_eq(rt_table_add(t2, &r, &err), ED_EINVAL);
    r.host = "ok.com";
    r.path = "nope";
    cr_assert_eq(rt_table_add(t2, &r, &err), ED_EINVAL);
    r.path = "/a";
    cr_assert_eq(rt_table_add(t2, &r, &err), 0);
    r.path = "/a/";
    r.tenant = "y";
    cr_assert_eq(rt_table_add(t2, &r, &err), ED_EBUSY);
    cr_assert(strstr(ed_error_msg(&err), "tenant x"), "%s", ed_error_msg(&err));
    rt_table_seal(t2);
    cr_assert_eq(rt_table_add(t2, &r, &err), ED_EINVAL);
    ed_error_dispose(&err);
    rt_table_unref(t2);
}

Test(router_table, refcount_keeps_table_alive)
{
    struct rt_table *t2;
    cr_assert_eq(rt_table_new(&t2), 0);
    struct rt_route r = {.host = "*", .tenant = "x", .worker = "w"};
    cr_assert_eq(rt_table_add(t2, &r, NULL), 0);
    rt_table_seal(t2);
    struct rt_table *held = rt_table_ref(t2);
    rt_table_unref(t2);
    cr_assert_eq(rt_table_size(held), 1);
    cr_assert_not_null(rt_match(held, "h", 1, "/", 1));
    rt_table_unref(held);
}
