/*
 * deploy/edgectl/args.c and the commands' local checks, through dp_ctl_main with captured
 * output: help for every command, usage errors (exit code 2) before anything is sent, an
 * unreachable node (exit code 3), and `deploy --dry-run`, which maps a project without a node.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/edgectl/edgectl.h"

struct run {
    int code;
    char *out, *err;
};

static struct run run_argv(int argc, const char **argv)
{
    struct run r = {0};
    size_t olen, elen;
    FILE *out = open_memstream(&r.out, &olen);
    FILE *err = open_memstream(&r.err, &elen);
    cr_assert(out && err);
    r.code = dp_ctl_main(argc, (char **)argv, out, err);
    fclose(out);
    fclose(err);
    return r;
}

#define RUN(...)                                                            \
    ({                                                                      \
        const char *run__argv[] = {"edgectl", __VA_ARGS__};                 \
        run_argv((int)(sizeof run__argv / sizeof run__argv[0]), run__argv); \
    })

static void run_dispose(struct run *r)
{
    free(r->out);
    free(r->err);
}

#define EXPECT(r, want_code, stream, needle)                                                \
    do {                                                                                    \
        cr_expect_eq((r).code, (want_code), "exit %d, want %d\nout: %s\nerr: %s", (r).code, \
                     (want_code), (r).out, (r).err);                                        \
        cr_expect(strstr((r).stream, (needle)), #stream " lacks \"%s\":\n%s", (needle),     \
                  (r).stream);                                                              \
    } while (0)

Test(cli, help)
{
    const char *none[] = {"edgectl"};
    struct run r = run_argv(1, none);
    EXPECT(r, 2, err, "usage: edgectl");
    run_dispose(&r);

    r = RUN("--help");
    EXPECT(r, 0, out, "Commands:");
    static const char *const listed[] = {
        "tenant create", "tenant list",   "tenant show",   "tenant quota",       "tenant suspend",
        "tenant resume", "tenant cordon", "tenant delete", "tenant allow-route", "deploy",
        "workers rm",    "versions",      "rollback",      "routes add",         "routes rm",
        "usage",         "token create",  "token list",    "token revoke",       "logs",
        "whoami"};
    for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++)
        cr_expect(strstr(r.out, listed[i]), "--help lacks %s", listed[i]);
    cr_expect(strstr(r.out, "Exit codes"));
    run_dispose(&r);

    r = RUN("tenant", "create", "--help");
    EXPECT(r, 0, out, "usage: edgectl tenant create NAME [--cpu-ms N]");
    run_dispose(&r);
    r = RUN("help", "deploy");
    EXPECT(r, 0, out, "usage: edgectl deploy [DIR|FILE]");
    run_dispose(&r);
    r = RUN("tenant", "--help");
    EXPECT(r, 0, out, "edgectl tenant allow-route NAME PATTERN...");
    run_dispose(&r);
    r = RUN("routes", "--help");
    EXPECT(r, 0, out, "edgectl routes add PATTERN WORKER");
    run_dispose(&r);
    r = RUN("-h", "versions");
    EXPECT(r, 0, out, "usage: edgectl versions WORKER");
    run_dispose(&r);
    r = RUN("--version");
    EXPECT(r, 0, out, "edgectl ");
    run_dispose(&r);
}

Test(cli, usage_errors_exit_2_before_anything_is_sent)
{
    /* an unreachable URL: any of these that tried the network would exit 3 */
    struct run r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "frobnicate");
    EXPECT(r, 2, err, "edgectl: no command frobnicate");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "tenant");
    EXPECT(r, 2, err, "usage: edgectl tenant COMMAND");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "tenant", "frob");
    EXPECT(r, 2, err, "no command tenant frob");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "tenant", "create");
    EXPECT(r, 2, err, "usage: edgectl tenant create NAME");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "tenant", "create", "a", "b");
    EXPECT(r, 2, err, "usage: edgectl tenant create NAME");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "tenant", "create", "a", "--cpu-ms",
            "-5");
    EXPECT(r, 2, err, "--cpu-ms wants a non-negative integer");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "tenant", "create", "a", "--cpu-ms");
    EXPECT(r, 2, err, "--cpu-ms needs a value");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "tenant", "quota", "a");
    EXPECT(r, 2, err, "give at least one quota");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "tenant", "cordon", "a", "mine");
    EXPECT(r, 2, err, "default or own");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "versions", "w", "--bogus");
    EXPECT(r, 2, err, "unknown option --bogus (see `edgectl versions --help`)");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "--json=yes", "whoami");
    EXPECT(r, 2, err, "--json takes no value");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "rollback", "w", "v2", "--tenant=a");
    EXPECT(r, 2, err, "VERSION is a number");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "usage", "--day", "yesterday");
    EXPECT(r, 2, err, "--day is a UTC day as YYYY-MM-DD");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "a b", "whoami");
    EXPECT(r, 2, err, "the token contains spaces");
    run_dispose(&r);
    r = RUN("--url", "ftp://127.0.0.1:1", "--token", "t", "whoami");
    EXPECT(r, 2, err, "cannot use the URL ftp://127.0.0.1:1");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--data", "/nonexistent", "whoami");
    EXPECT(r, 2, err, "cannot read the operator token /nonexistent/operator.token");
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "deploy", "/nonexistent/dir");
    EXPECT(r, 2, err, "/nonexistent/dir: No such file or directory");
    run_dispose(&r);
}

Test(cli, unreachable_node_exits_3)
{
    struct run r = RUN("--url", "http://127.0.0.1:1", "--token", "t", "whoami");
    EXPECT(r, 3, err, "edgectl: cannot reach the node at http://127.0.0.1:1:");
    cr_expect_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    run_dispose(&r);
    r = RUN("--url", "http://127.0.0.1:1/", "--token", "t", "tenant", "list");
    EXPECT(r, 3, err, "cannot reach the node at http://127.0.0.1:1:");
    run_dispose(&r);
}

/* ---- deploy --dry-run ------------------------------------------------------------------------ */

static char tmp[64];

static void mk_project(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/edgectl-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    char path[256];
    snprintf(path, sizeof path, "%s/src", tmp);
    cr_assert_eq(ed_mkdirs(path, 0755), 0);
    static const char *const files[][2] = {
        {"wrangler.jsonc",
         "{\n  // a project\n  \"name\": \"proj\",\n  \"main\": \"src/main.mjs\",\n"
         "  \"compatibility_date\": \"2026-02-01\",\n"
         "  \"vars\": {\"A\": \"1\", \"B\": \"2\"},\n}\n"},
        {"src/main.mjs", "import t from './t.txt'; export default {};\n"},
        {"src/t.txt", "text"},
        {"README.md", "not uploaded: outside src/"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, files[i][0]);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(files[i][1], f);
        fclose(f);
    }
}

static void rm_project(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    cr_expect_eq(system(cmd), 0);
}

Test(cli, deploy_dry_run_maps_the_project, .init = mk_project, .fini = rm_project)
{
    setenv("EDGECTL_TEST_SECRET", "s3cret-value", 1);
    struct run r = RUN("--url", "http://127.0.0.1:1", "--json", "deploy", tmp, "--dry-run", "--var",
                       "B=override", "--secret", "EDGECTL_TEST_SECRET");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect(!strstr(r.out, "s3cret-value"), "the secret is printed: %s", r.out);
    json_error_t je;
    json_t *doc = json_loads(r.out, 0, &je);
    cr_assert_not_null(doc, "%s: %s", je.text, r.out);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "worker")), "proj");
    const json_t *meta = json_object_get(doc, "metadata");
    cr_expect_str_eq(json_string_value(json_object_get(meta, "main_module")), "main.mjs");
    cr_expect_str_eq(json_string_value(json_object_get(meta, "compatibility_date")), "2026-02-01");
    char *b = json_dumps(json_object_get(meta, "bindings"), JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(b, "[{\"name\":\"A\",\"text\":\"1\",\"type\":\"plain_text\"},"
                        "{\"name\":\"B\",\"text\":\"override\",\"type\":\"plain_text\"},"
                        "{\"name\":\"EDGECTL_TEST_SECRET\",\"text\":\"(secret)\","
                        "\"type\":\"secret_text\"}]");
    free(b);
    char *m = json_dumps(json_object_get(doc, "modules"), JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(m, "[{\"bytes\":44,\"name\":\"main.mjs\",\"type\":"
                        "\"application/javascript+module\"},"
                        "{\"bytes\":4,\"name\":\"t.txt\",\"type\":\"text/plain\"}]");
    free(m);
    json_decref(doc);
    run_dispose(&r);

    /* the command line overrides the config */
    r = RUN("deploy", tmp, "--dry-run", "--name", "renamed", "--compatibility-date", "2025-12-31");
    EXPECT(r, 0, out, "would deploy worker renamed");
    cr_expect(strstr(r.out, "\"compatibility_date\": \"2025-12-31\""), "%s", r.out);
    cr_expect(strstr(r.out, "2 modules, 48 bytes"), "%s", r.out);
    run_dispose(&r);

    /* one file: named after it */
    char file[256];
    snprintf(file, sizeof file, "%s/src/main.mjs", tmp);
    r = RUN("deploy", file, "--dry-run");
    EXPECT(r, 0, out, "would deploy worker main from");
    run_dispose(&r);

    r = RUN("deploy", tmp, "--dry-run", "--secret", "EDGECTL_NOT_SET_ANYWHERE");
    EXPECT(r, 2, err, "the environment variable EDGECTL_NOT_SET_ANYWHERE is not set");
    run_dispose(&r);
    r = RUN("deploy", tmp, "--dry-run", "--var", "NOEQUALS");
    EXPECT(r, 2, err, "--var wants NAME=VALUE");
    run_dispose(&r);
    r = RUN("deploy", tmp, "--dry-run", "--main", "src/index.ts");
    EXPECT(r, 2, err, "is TypeScript");
    run_dispose(&r);
    r = RUN("deploy", tmp, "--dry-run", "--compatibility-date", "soon");
    EXPECT(r, 2, err, "compatibility date soon is not YYYY-MM-DD");
    run_dispose(&r);
}
