/*
 * edge/ob_url.c and edge/ob_net.c: what a worker's fetch() may name and where it may connect.
 * URLs: the pieces of a request (scheme, host, port, target), the normalised href, the refusals
 * (schemes, credentials, non-ASCII hosts, bad ports) and RFC 3986 resolution of a redirect's
 * Location. Address rules: the defaults (loopback, private, link-local and the metadata
 * address, multicast, reserved), IPv4-mapped and NAT64 addresses, the longest prefix deciding
 * (on a tie the operator's rule over a default, then a deny over an allow), and the node's own
 * ports.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "edge/ob_int.h"

static struct edge_url parse_ok(const char *s)
{
    struct edge_url u;
    struct ed_error err = {0};
    cr_assert_eq(edge__url_parse(s, strlen(s), &u, &err), 0, "%s: %s", s, ed_error_msg(&err));
    return u;
}

static void parse_fails(const char *s, const char *why)
{
    struct edge_url u;
    struct ed_error err = {0};
    cr_expect_eq(edge__url_parse(s, strlen(s), &u, &err), ED_EINVAL, "%s parsed", s);
    cr_expect(strstr(ed_error_msg(&err), why), "%s: \"%s\" lacks \"%s\"", s, ed_error_msg(&err),
              why);
    ed_error_dispose(&err);
}

Test(outbound_url, pieces_and_href)
{
    struct edge_url u = parse_ok("HTTP://Example.COM/a/b?q=1#frag");
    cr_expect_not(u.https);
    cr_expect_str_eq(u.host, "example.com");
    cr_expect_eq(u.port, 80);
    cr_expect_str_eq(u.target, "/a/b?q=1");
    cr_expect_str_eq(u.href, "http://example.com/a/b?q=1");
    edge__url_dispose(&u);

    u = parse_ok("https://example.com:8443");
    cr_expect(u.https);
    cr_expect_eq(u.port, 8443);
    cr_expect_str_eq(u.target, "/");
    cr_expect_str_eq(u.href, "https://example.com:8443/");
    edge__url_dispose(&u);

    u = parse_ok("https://example.com:443/x y\"<>");
    cr_expect_str_eq(u.target, "/x%20y%22%3C%3E");
    cr_expect_str_eq(u.href, "https://example.com/x%20y%22%3C%3E");
    edge__url_dispose(&u);

    u = parse_ok("http://[::FFFF:1.2.3.4]:81/%41");
    cr_expect(u.host_is_ip);
    cr_expect_str_eq(u.host, "::ffff:1.2.3.4");
    cr_expect_str_eq(u.href, "http://[::ffff:1.2.3.4]:81/%41");
    edge__url_dispose(&u);

    u = parse_ok("http://10.0.0.1?x");
    cr_expect(u.host_is_ip);
    cr_expect_str_eq(u.target, "/?x");
    edge__url_dispose(&u);

    u = parse_ok("  http:\\\\example.com.\\a\\b?c\\d  ");
    cr_expect_str_eq(u.host, "example.com");
    cr_expect_str_eq(u.target, "/a/b?c%5Cd");
    edge__url_dispose(&u);
}

Test(outbound_url, refusals)
{
    parse_fails("ftp://example.com/", "scheme must be http or https");
    parse_fails("file:///etc/passwd", "scheme must be http or https");
    parse_fails("example.com/x", "Invalid URL");
    parse_fails("http://user:pw@example.com/", "credentials");
    parse_fails("http://bücher.example/", "not ASCII");
    parse_fails("http://example.com:0/", "bad port");
    parse_fails("http://example.com:65536/", "bad port");
    parse_fails("http://example.com:8x/", "bad port");
    parse_fails("http://", "no host");
    parse_fails("https:///?q", "no host");
    parse_fails("http://[::1/", "IPv6");
    parse_fails("http://exa mple.com/", "bad character");
}

static void resolves(const char *base, const char *ref, const char *want)
{
    struct edge_url b = parse_ok(base), u;
    struct ed_error err = {0};
    cr_assert_eq(edge__url_resolve(&b, ref, strlen(ref), &u, &err), 0, "%s + %s: %s", base, ref,
                 ed_error_msg(&err));
    cr_expect_str_eq(u.href, want, "%s + %s", base, ref);
    edge__url_dispose(&u);
    edge__url_dispose(&b);
}

Test(outbound_url, location_resolution)
{
    /* RFC 3986 section 5.4.1 (those an http(s) base can produce) */
    const char *base = "http://a/b/c/d;p?q";
    resolves(base, "g", "http://a/b/c/g");
    resolves(base, "./g", "http://a/b/c/g");
    resolves(base, "g/", "http://a/b/c/g/");
    resolves(base, "/g", "http://a/g");
    resolves(base, "//g", "http://g/");
    resolves(base, "?y", "http://a/b/c/d;p?y");
    resolves(base, "g?y", "http://a/b/c/g?y");
    resolves(base, "#s", "http://a/b/c/d;p?q");
    resolves(base, "g#s", "http://a/b/c/g");
    resolves(base, "", "http://a/b/c/d;p?q");
    resolves(base, ".", "http://a/b/c/");
    resolves(base, "./", "http://a/b/c/");
    resolves(base, "..", "http://a/b/");
    resolves(base, "../", "http://a/b/");
    resolves(base, "../g", "http://a/b/g");
    resolves(base, "../..", "http://a/");
    resolves(base, "../../g", "http://a/g");
    resolves(base, "../../../g", "http://a/g");
    resolves(base, "/./g", "http://a/g");
    resolves(base, "/../g", "http://a/g");
    resolves(base, "g.", "http://a/b/c/g.");
    resolves(base, "..g", "http://a/b/c/..g");
    resolves(base, "./../g", "http://a/b/g");
    resolves(base, "g/./h", "http://a/b/c/g/h");
    resolves(base, "g/../h", "http://a/b/c/h");
    /* absolute, scheme-relative across schemes, ports kept */
    resolves("https://a:8443/x", "/y", "https://a:8443/y");
    resolves("https://a/x", "//b:81/z", "https://b:81/z");
    resolves("https://a/x", "http://b/", "http://b/");
    resolves("http://a/x", "  /sp ace  ", "http://a/sp%20ace");
}

/* ---- address rules -------------------------------------------------------------------------- */

static struct sockaddr_storage addr(const char *s, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
    } else {
        cr_assert_eq(inet_pton(AF_INET6, s, &in6->sin6_addr), 1, "%s", s);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
    }
    return ss;
}

static bool denied(const struct edge_netlist *l, const char *a, int port, const char **why)
{
    struct sockaddr_storage ss = addr(a, port);
    const char *w = NULL;
    bool d = edge__netlist_denied(l, (struct sockaddr *)&ss, &w);
    if (why)
        *why = w;
    return d;
}

Test(outbound_net, defaults)
{
    struct edge_netlist l = {0};
    cr_assert_eq(edge__netlist_defaults(&l), 0);
    const char *why;
    const char *refused[] = {"127.0.0.1",
                             "127.255.0.9",
                             "10.1.2.3",
                             "172.16.0.1",
                             "172.31.255.255",
                             "192.168.1.1",
                             "169.254.169.254",
                             "100.64.0.1",
                             "0.0.0.0",
                             "224.0.0.1",
                             "255.255.255.255",
                             "::1",
                             "::",
                             "fe80::1",
                             "fd00:ec2::254",
                             "ff02::1",
                             "::ffff:127.0.0.1",
                             "64:ff9b::a9fe:a9fe",
                             "::ffff:10.0.0.1"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        cr_expect(denied(&l, refused[i], 80, &why), "%s allowed", refused[i]);
    cr_expect(denied(&l, "169.254.169.254", 80, &why));
    cr_expect_str_eq(why, "link-local, where cloud metadata lives");
    cr_expect(denied(&l, "64:ff9b::a9fe:a9fe", 80, &why), "NAT64 of the metadata address");
    cr_expect_str_eq(why, "link-local, where cloud metadata lives");
    const char *allowed[] = {"1.1.1.1",     "8.8.8.8",         "172.32.0.1",    "192.169.0.1",
                             "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        cr_expect_not(denied(&l, allowed[i], 443, &why), "%s denied (%s)", allowed[i], why);
    edge__netlist_dispose(&l);
}

Test(outbound_net, longest_prefix_decides_then_the_operator_then_deny)
{
    struct edge_netlist l = {0};
    struct ed_error err = {0};
    cr_assert_eq(edge__netlist_defaults(&l), 0);
    cr_assert_eq(edge__netlist_add(&l, "127.0.0.0/8", true, &err), 0);
    cr_assert_eq(edge__netlist_add(&l, "127.0.0.2", false, &err), 0);
    cr_assert_eq(edge__netlist_add(&l, "10.9.0.0/16", true, &err), 0);
    cr_assert_eq(edge__netlist_add(&l, "8.8.8.0/24", false, &err), 0);
    cr_assert_eq(edge__netlist_add(&l, "8.8.8.0/24", true, &err), 0);
    const char *why;
    cr_expect_not(denied(&l, "127.0.0.1", 80, &why));
    cr_expect(denied(&l, "127.0.0.2", 80, &why));
    cr_expect_str_eq(why, "denied by --outbound-deny");
    cr_expect_not(denied(&l, "10.9.1.1", 80, &why));
    cr_expect(denied(&l, "10.8.1.1", 80, &why));
    cr_expect(denied(&l, "8.8.8.8", 80, &why), "a deny wins a tie");
    cr_expect(denied(&l, "::1", 80, &why), "an IPv4 allow does not open IPv6 loopback");
    cr_expect_not(denied(&l, "::ffff:127.0.0.1", 80, &why), "mapped addresses follow IPv4 rules");

    cr_expect_eq(edge__netlist_add(&l, "10.0.0.0/33", false, &err), ED_EINVAL);
    cr_expect_eq(edge__netlist_add(&l, "::/129", false, &err), ED_EINVAL);
    cr_expect_eq(edge__netlist_add(&l, "example.com", false, &err), ED_EINVAL);
    cr_expect_eq(edge__netlist_add(&l, "1.2.3.4/", false, &err), ED_EINVAL);
    ed_error_dispose(&err);
    edge__netlist_dispose(&l);
}

Test(outbound_net, the_nodes_own_ports)
{
    struct edge_netlist l = {0};
    struct ed_error err = {0};
    cr_assert_eq(edge__netlist_add(&l, "0.0.0.0/0", true, &err), 0);
    cr_assert_eq(edge__netlist_add(&l, "::/0", true, &err), 0);
    cr_assert_eq(edge__netlist_self_port(&l, 8080), 0);
    cr_assert_eq(edge__netlist_self_port(&l, 9090), 0);
    const char *why;
    cr_expect(denied(&l, "127.0.0.1", 8080, &why));
    cr_expect_str_eq(why, "a port of this node");
    cr_expect(denied(&l, "127.1.2.3", 9090, &why));
    cr_expect(denied(&l, "0.0.0.0", 8080, &why));
    cr_expect(denied(&l, "::1", 8080, &why));
    cr_expect(denied(&l, "::", 9090, &why));
    cr_expect_not(denied(&l, "127.0.0.1", 8081, &why));
    cr_expect_not(denied(&l, "1.1.1.1", 8080, &why), "another host's 8080 is not ours");
    edge__netlist_dispose(&l);
}
