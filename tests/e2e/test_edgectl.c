/*
 * edgectl against a real edged: the binary ($EDGECTL_BIN) run as a user would, on the admin
 * listener of a node started on ephemeral loopback ports. The operator creates tenants from the
 * token the node wrote to its data directory; a tenant deploys examples/wrangler-hello (a
 * Workers project with a wrangler.toml) and more, lists versions, rolls back, binds routes and
 * manages its tokens; and every error path ends in the exit code and the one-line message the
 * contract gives: the API's refusals (bad token, another tenant's token, a bundle that does not
 * validate, a route outside what the operator allowed) are exit code 1 with the API's message,
 * usage errors 2, an unreachable node 3.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

#define CTL_TIMEOUT_MS 30000

static void fini(void)
{
    e2e_teardown();
}

TestSuite(edgectl, .fini = fini, .timeout = 240);

struct ctl_result {
    int code;  /* exit code, or -1 if it had to be killed */
    char *out; /* owned */
    char *err; /* owned */
};

static void result_dispose(struct ctl_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* Runs edgectl with --url (when url is not NULL) and args (NULL-terminated), with an
 * environment that holds only PATH, HOME and, when token is not NULL, EDGED_TOKEN, so nothing
 * of the caller's leaks in. Bounded by CTL_TIMEOUT_MS. */
static struct ctl_result run_ctl(const char *url, const char *token, const char *const *args)
{
    struct ctl_result r = {.code = -1};
    const char *bin = getenv("EDGECTL_BIN");
    cr_assert_not_null(bin, "EDGECTL_BIN is not set (run through ctest)");
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir, "%s", e2e_errmsg());
    const char *out_path = e2e_fmt("%s/ctl.out", dir), *err_path = e2e_fmt("%s/ctl.err", dir);
    const char *argv[64];
    size_t n = 0;
    argv[n++] = bin;
    if (url) {
        argv[n++] = "--url";
        argv[n++] = url;
    }
    for (size_t i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    const char *envp[4] = {"PATH=/usr/bin:/bin", "HOME=/tmp", NULL, NULL};
    if (token)
        envp[2] = e2e_fmt("EDGED_TOKEN=%s", token);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, (char **)argv, (char **)envp);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", bin, strerror(rc));
    uint64_t deadline = e2e_now_ms() + CTL_TIMEOUT_MS;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (e2e_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            status = -1;
            break;
        }
        e2e_sleep_ms(5);
    }
    if (status != -1 && WIFEXITED(status))
        r.code = WEXITSTATUS(status);
    r.out = e2e_read_file(out_path, NULL);
    r.err = e2e_read_file(err_path, NULL);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    return r;
}

#define CTL(url, token, ...)                                 \
    ({                                                       \
        const char *const ctl__args[] = {__VA_ARGS__, NULL}; \
        run_ctl((url), (token), ctl__args);                  \
    })

/* Asserts the exit code, showing what edgectl said when it differs. */
#define EXPECT_CODE(r, want)                                                                  \
    cr_expect_eq((r).code, (want), "exit code %d, want %d\nstdout: %s\nstderr: %s", (r).code, \
                 (want), (r).out, (r).err)

/* A node with its admin listener (and one worker from a flag: a node serves something from
 * its first start); returns its admin URL. */
static const char *start_node(struct e2e_server **out)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    const char *js = e2e_fmt("%s/hello.js", dir);
    cr_assert_eq(e2e_write_file(js, "export default { fetch() { return new Response('hi'); } };\n"),
                 0);
    struct e2e_server *s = E2E_START("--admin-listen", "127.0.0.1:0", "--worker",
                                     e2e_fmt("localhost=%s", js), "--threads", "1");
    cr_assert_gt(s->admin_port, 0, "no admin port in the port file");
    *out = s;
    return e2e_fmt("http://127.0.0.1:%d", s->admin_port);
}

/* The last non-empty line of text (a token printed on stdout). Returns e2e_fmt memory. */
static const char *last_line(const char *text)
{
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        n--;
    size_t s = n;
    while (s > 0 && text[s - 1] != '\n')
        s--;
    return e2e_fmt("%.*s", (int)(n - s), text + s);
}

static json_t *parse_json(const struct ctl_result *r)
{
    json_error_t je;
    json_t *doc = json_loads(r->out, 0, &je);
    cr_assert_not_null(doc, "not JSON (%s): %s", je.text, r->out);
    return doc;
}

/* The live version of worker in a `versions --json` answer, or 0. */
static long long live_version(const json_t *doc)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(doc, "versions"), i, v)
    {
        if (json_is_true(json_object_get(v, "live")))
            return json_integer_value(json_object_get(v, "version"));
    }
    return 0;
}

static const char *example_dir(void)
{
    const char *src = getenv("EDGED_SOURCE_DIR");
    cr_assert_not_null(src, "EDGED_SOURCE_DIR is not set (run through ctest)");
    return e2e_fmt("%s/examples/wrangler-hello", src);
}

Test(edgectl, operator_and_tenant_lifecycle)
{
    struct e2e_server *s;
    const char *url = start_node(&s);
    const char *data = s->data_dir;

    /* the operator's token, from the file the node wrote */
    struct ctl_result r = CTL(url, NULL, "--data", data, "whoami");
    EXPECT_CODE(r, 0);
    cr_expect_str_eq(r.out, "operator\n");
    result_dispose(&r);

    r = CTL(url, NULL, "--data", data, "tenant", "create", "acme", "--cpu-ms", "40");
    EXPECT_CODE(r, 0);
    const char *acme = last_line(r.out);
    cr_expect_eq(strncmp(acme, "edtk_", 5), 0, "token: %s", r.out);
    cr_expect(strstr(r.err, "tenant acme created"), "%s", r.err);
    result_dispose(&r);

    r = CTL(url, NULL, "--data", data, "tenant", "create", "acme");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 409)"), "%s", r.err);
    cr_expect_eq(strncmp(r.err, "edgectl: ", 9), 0);
    cr_expect_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    result_dispose(&r);

    r = CTL(url, NULL, "--data", data, "--json", "tenant", "list");
    EXPECT_CODE(r, 0);
    json_t *doc = parse_json(&r);
    bool listed = false;
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(doc, "tenants"), i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        listed = listed || (name && strcmp(name, "acme") == 0);
    }
    cr_expect(listed, "acme is not listed: %s", r.out);
    json_decref(doc);
    result_dispose(&r);

    r = CTL(url, NULL, "--data", data, "tenant", "allow-route", "acme", "acme.example/*");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "acme.example/*"), "%s", r.out);
    result_dispose(&r);

    r = CTL(url, NULL, "--data", data, "tenant", "show", "acme");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "cpu_ms=40"), "%s", r.out);
    result_dispose(&r);

    /* the tenant, with its own token */
    r = CTL(url, acme, "whoami");
    EXPECT_CODE(r, 0);
    cr_expect_str_eq(r.out, "tenant acme\n");
    result_dispose(&r);

    r = CTL(url, acme, "deploy", example_dir(), "--route", "acme.example/*");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "deployed acme/hello-wrangler version 1 (3 modules"), "%s", r.out);
    cr_expect(strstr(r.out, "route acme.example/* -> hello-wrangler"), "%s", r.out);
    result_dispose(&r);

    r = CTL(url, acme, "--json", "deploy", example_dir(), "--var", "GREETING=second");
    EXPECT_CODE(r, 0);
    doc = parse_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(doc, "version")), 2, "%s", r.out);
    cr_expect_eq(json_integer_value(json_object_get(doc, "modules")), 3, "%s", r.out);
    json_decref(doc);
    result_dispose(&r);

    r = CTL(url, acme, "--json", "versions", "hello-wrangler");
    EXPECT_CODE(r, 0);
    doc = parse_json(&r);
    cr_expect_eq(json_array_size(json_object_get(doc, "versions")), 2, "%s", r.out);
    cr_expect_eq(live_version(doc), 2, "%s", r.out);
    json_decref(doc);
    result_dispose(&r);

    r = CTL(url, acme, "rollback", "hello-wrangler", "1");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "acme/hello-wrangler: version 1 is live"), "%s", r.out);
    result_dispose(&r);

    r = CTL(url, acme, "--json", "versions", "hello-wrangler");
    EXPECT_CODE(r, 0);
    doc = parse_json(&r);
    cr_expect_eq(live_version(doc), 1, "%s", r.out);
    json_decref(doc);
    result_dispose(&r);

    r = CTL(url, acme, "versions", "hello-wrangler");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "VERSION") && strstr(r.out, "live"), "%s", r.out);
    result_dispose(&r);

    r = CTL(url, acme, "routes");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "acme.example/*") && strstr(r.out, "hello-wrangler"), "%s", r.out);
    result_dispose(&r);

    r = CTL(url, acme, "workers");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "hello-wrangler"), "%s", r.out);
    result_dispose(&r);

    /* the operator acts on the tenant's workers with --tenant */
    r = CTL(url, NULL, "--data", data, "versions", "hello-wrangler");
    EXPECT_CODE(r, 2);
    cr_expect(strstr(r.err, "pass --tenant"), "%s", r.err);
    result_dispose(&r);
    r = CTL(url, NULL, "--data", data, "versions", "hello-wrangler", "--tenant", "acme");
    EXPECT_CODE(r, 0);
    result_dispose(&r);

    /* tokens: a second one, listed without its secret, revoked, then refused */
    r = CTL(url, acme, "token", "create", "--label", "ci");
    EXPECT_CODE(r, 0);
    const char *ci = last_line(r.out);
    cr_expect_eq(strncmp(ci, "edtk_", 5), 0, "%s", r.out);
    result_dispose(&r);
    r = CTL(url, acme, "--json", "token", "list");
    EXPECT_CODE(r, 0);
    cr_expect(!strstr(r.out, ci), "token list shows a token: %s", r.out);
    cr_expect(!strstr(r.out, acme), "token list shows a token: %s", r.out);
    doc = parse_json(&r);
    const char *ci_id = NULL;
    json_array_foreach(json_object_get(doc, "tokens"), i, t)
    {
        const char *label = json_string_value(json_object_get(t, "label"));
        if (label && strcmp(label, "ci") == 0)
            ci_id = e2e_fmt("%s", json_string_value(json_object_get(t, "id")));
    }
    json_decref(doc);
    result_dispose(&r);
    cr_assert_not_null(ci_id, "the ci token is not listed");
    r = CTL(url, ci, "whoami");
    EXPECT_CODE(r, 0);
    result_dispose(&r);
    r = CTL(url, acme, "token", "revoke", ci_id);
    EXPECT_CODE(r, 0);
    result_dispose(&r);
    r = CTL(url, ci, "routes");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 401)"), "%s", r.err);
    result_dispose(&r);

    r = CTL(url, acme, "usage");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "acme"), "%s", r.out);
    result_dispose(&r);

    /* operator-only commands refuse a tenant's token */
    r = CTL(url, acme, "tenant", "list");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 403)"), "%s", r.err);
    result_dispose(&r);

    /* the operator's management of the tenant */
    r = CTL(url, NULL, "--data", data, "tenant", "quota", "acme", "--heap-mb", "64");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "heap_mb=64"), "%s", r.out);
    result_dispose(&r);
    r = CTL(url, NULL, "--data", data, "tenant", "suspend", "acme");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "suspended"), "%s", r.out);
    result_dispose(&r);
    r = CTL(url, NULL, "--data", data, "tenant", "resume", "acme");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "active"), "%s", r.out);
    result_dispose(&r);
    r = CTL(url, NULL, "--data", data, "tenant", "cordon", "acme", "own");
    EXPECT_CODE(r, 0);
    result_dispose(&r);

    r = CTL(url, acme, "routes", "rm", "acme.example/*");
    EXPECT_CODE(r, 0);
    result_dispose(&r);
    r = CTL(url, acme, "workers", "rm", "hello-wrangler");
    EXPECT_CODE(r, 0);
    result_dispose(&r);
    r = CTL(url, NULL, "--data", data, "tenant", "delete", "acme");
    EXPECT_CODE(r, 0);
    result_dispose(&r);
    r = CTL(url, acme, "whoami");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 401)"), "%s", r.err);
    result_dispose(&r);

    E2E_STOP_OK(s);
}

/* A bundle the API must refuse: written under a fresh folder, deployed with tenant token. */
static struct ctl_result deploy_files(const char *url, const char *token, const char *name,
                                      const char *const *files)
{
    const char *dir = e2e_tmpdir();
    cr_assert_not_null(dir);
    for (size_t i = 0; files[i]; i += 2)
        cr_assert_eq(e2e_write_file(e2e_fmt("%s/%s", dir, files[i]), files[i + 1]), 0);
    return CTL(url, token, "deploy", dir, "--name", name);
}

Test(edgectl, refusals_and_exit_codes)
{
    struct e2e_server *s;
    const char *url = start_node(&s);
    const char *data = s->data_dir;

    struct ctl_result r = CTL(url, NULL, "--data", data, "tenant", "create", "acme");
    EXPECT_CODE(r, 0);
    const char *acme = last_line(r.out);
    result_dispose(&r);
    r = CTL(url, NULL, "--data", data, "tenant", "create", "other");
    EXPECT_CODE(r, 0);
    const char *other = last_line(r.out);
    result_dispose(&r);
    r = CTL(url, NULL, "--data", data, "tenant", "allow-route", "acme", "acme.example/*");
    EXPECT_CODE(r, 0);
    result_dispose(&r);

    /* a bad token: the API's message, exit code 1 */
    r = CTL(url, "edtk_not-a-token", "whoami");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 401)"), "%s", r.err);
    cr_expect(!strstr(r.err, "edtk_not-a-token"), "the token is echoed: %s", r.err);
    result_dispose(&r);
    r = CTL(url, NULL, "--token", "edtk_not-a-token", "--json", "routes", "--tenant", "acme");
    EXPECT_CODE(r, 1);
    json_t *doc = parse_json(&r); /* --json prints the API's error body on stdout */
    cr_expect(json_is_string(json_object_get(doc, "error")), "%s", r.out);
    json_decref(doc);
    result_dispose(&r);

    /* another tenant's token on acme's paths */
    r = CTL(url, other, "routes", "--tenant", "acme");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 403)"), "%s", r.err);
    result_dispose(&r);
    r = CTL(url, other, "deploy", example_dir(), "--tenant", "acme");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 403)"), "%s", r.err);
    result_dispose(&r);

    /* bundles that do not validate: 422 and nothing stored */
    r = deploy_files(url, acme, "broken",
                     (const char *const[]){"index.js", "export default { fetch( };\n", NULL});
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 422)"), "%s", r.err);
    result_dispose(&r);
    r = deploy_files(
        url, acme, "imports",
        (const char *const[]){"index.js",
                              "import { x } from './missing.js';\n"
                              "export default { fetch() { return new Response(x); } };\n",
                              NULL});
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 422)") && strstr(r.err, "missing.js"), "%s", r.err);
    result_dispose(&r);
    r = deploy_files(url, acme, "noclass",
                     (const char *const[]){"index.js", "export default { fetch() {} };\n",
                                           "wrangler.toml",
                                           "[[durable_objects.bindings]]\nname = \"C\"\n"
                                           "class_name = \"Missing\"\n",
                                           NULL});
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 422)") && strstr(r.err, "Missing"), "%s", r.err);
    result_dispose(&r);
    r = CTL(url, acme, "--json", "workers");
    EXPECT_CODE(r, 0);
    doc = parse_json(&r);
    cr_expect_eq(json_array_size(json_object_get(doc, "workers")), 0, "%s", r.out);
    json_decref(doc);
    result_dispose(&r);

    /* routes: outside the allowed patterns, and one another tenant owns */
    r = CTL(url, acme, "deploy", example_dir());
    EXPECT_CODE(r, 0);
    result_dispose(&r);
    r = CTL(url, acme, "routes", "add", "elsewhere.example/*", "hello-wrangler");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 403)"), "%s", r.err);
    result_dispose(&r);
    r = CTL(url, NULL, "--data", data, "tenant", "allow-route", "other", "acme.example/*");
    EXPECT_CODE(r, 0);
    result_dispose(&r);
    r = CTL(url, acme, "routes", "add", "acme.example/*", "hello-wrangler");
    EXPECT_CODE(r, 0);
    result_dispose(&r);
    r = CTL(url, other, "deploy", example_dir(), "--route", "acme.example/*");
    EXPECT_CODE(r, 1); /* the deploy went through, its route did not */
    cr_expect(strstr(r.out, "deployed other/hello-wrangler version 1"), "%s", r.out);
    cr_expect(strstr(r.err, "(HTTP 409)"), "%s", r.err);
    result_dispose(&r);

    r = CTL(url, acme, "rollback", "hello-wrangler", "7");
    EXPECT_CODE(r, 1);
    cr_expect(strstr(r.err, "(HTTP 404)"), "%s", r.err);
    result_dispose(&r);

    /* usage errors: 2, and nothing sent */
    r = CTL(url, acme, "rollback", "hello-wrangler", "one");
    EXPECT_CODE(r, 2);
    result_dispose(&r);
    r = CTL(url, acme, "tenant", "cordon", "acme", "somewhere");
    EXPECT_CODE(r, 2);
    result_dispose(&r);
    r = CTL(url, acme, "frobnicate");
    EXPECT_CODE(r, 2);
    cr_expect(strstr(r.err, "no command frobnicate"), "%s", r.err);
    result_dispose(&r);
    r = CTL(url, acme, "deploy", "--nope");
    EXPECT_CODE(r, 2);
    cr_expect(strstr(r.err, "unknown option --nope"), "%s", r.err);
    result_dispose(&r);
    r = CTL(url, NULL, "routes");
    EXPECT_CODE(r, 2);
    cr_expect(strstr(r.err, "no token"), "%s", r.err);
    result_dispose(&r);
    r = deploy_files(
        url, acme, "wasm",
        (const char *const[]){"index.js", "export default {};\n", "m.wasm", "x", NULL});
    EXPECT_CODE(r, 2);
    cr_expect(strstr(r.err, "m.wasm: no module type"), "%s", r.err);
    result_dispose(&r);
    r = deploy_files(url, acme, "bad-toml",
                     (const char *const[]){"index.js", "export default {};\n", "wrangler.toml",
                                           "name = \"x\"\nmain = src/index.js\n", NULL});
    EXPECT_CODE(r, 2);
    cr_expect(strstr(r.err, "wrangler.toml:2:"), "%s", r.err);
    result_dispose(&r);

    /* help is not an error */
    r = CTL(url, NULL, "deploy", "--help");
    EXPECT_CODE(r, 0);
    cr_expect(strstr(r.out, "usage: edgectl deploy"), "%s", r.out);
    result_dispose(&r);

    /* logs: the node may not have them yet; either way a clear answer, never a hang */
    r = CTL(url, acme, "logs");
    cr_expect(r.code == 0 || (r.code == 1 && strstr(r.err, "HTTP")), "code %d: %s", r.code, r.err);
    result_dispose(&r);

    E2E_STOP_OK(s);

    /* the node is gone: exit code 3 */
    r = CTL(url, acme, "whoami");
    EXPECT_CODE(r, 3);
    cr_expect(strstr(r.err, "cannot reach the node"), "%s", r.err);
    result_dispose(&r);
}
