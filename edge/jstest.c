/*
 * `edged test`: the JavaScript test runner. Each `.test.js` file runs as an ES module in a
 * fresh isolate of its own, made through the shim's public API as a child worker is (the full
 * runtime from the snapshot, no network: globalOutbound null), with the harness module
 * "edged:test" (isolates/js/test/harness.js, embedded at build time, never part of the runtime
 * snapshot) and a generated main module that imports both. The file's tests are registered
 * while the bundle is evaluated; the runner then calls the main module's run() through
 * iso_worker_invoke and drives the call on a real libuv loop with a loader (env.LOADER from
 * "cloudflare:workers" makes child workers as on a shard), under the watchdog with a CPU and
 * wall budget per file. Results come back as console lines that start with the harness's
 * private marker; everything else the test prints is passed through, so the output reads in
 * order. The last line is always `N passed, N failed`; the exit status is 0 when nothing
 * failed, 1 otherwise, 2 for bad usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "edge/edge_int.h"

/* The harness, embedded by cmake/embed_js.cmake (generated jstest_js.c). */
struct edge__js_file {
    const char *name;
    const char *source;
    size_t len;
};
extern const struct edge__js_file edge__jstest_files[];
extern const size_t edge__jstest_n_files;

#define MARK "\001edged-test "
#define MAX_FILE_BYTES (64u << 20)
#define MAX_FILES 10000

/* One --data NAME=PATH: the module "edged:data/NAME". */
struct data_module {
    char *module_name; /* "edged:data/NAME", owned */
    char *source;      /* owned; "null" when the file does not exist */
    size_t len;
    enum iso_module_type type;
};

struct options {
    const char *filter; /* borrowed from argv; NULL: every test */
    struct data_module *data;
    size_t n_data;
    uint32_t wall_ms, cpu_ms, heap_mb;
    char **paths; /* borrowed from argv */
    size_t n_paths;
};

struct file_list {
    char **items; /* owned */
    size_t n, cap;
};

/* What one file's run produced so far. */
struct run_state {
    const char *file; /* display path */
    size_t passed, failed;
    char *current; /* the test that started and has not reported, owned; NULL: none */
    bool done;     /* the harness reported the end of the file */
    bool answered; /* the run() call answered */
    int code;      /* its code */
    char *msg;     /* its message, owned */
};

static void usage(FILE *out)
{
    fputs("Usage: edged test [options] PATH...\n"
          "Run JavaScript tests: every PATH is a .test.js file or a directory searched\n"
          "recursively for *.test.js. Each file runs as an ES module in a fresh isolate with the\n"
          "full runtime (no network), imports { test, assert } from \"edged:test\", and its tests\n"
          "run in order. Prints `ok - FILE: NAME` or `FAIL - FILE: NAME: MESSAGE` per test and\n"
          "ends with `N passed, N failed`. Exit status 0 when nothing failed, 1 otherwise, 2 for\n"
          "bad usage.\n\n"
          "  --filter SUBSTRING   run only the tests whose \"FILE: NAME\" contains SUBSTRING\n"
          "  --data NAME=PATH     make PATH importable as the module \"edged:data/NAME\"\n"
          "                       (default export: the parsed JSON for a .json file, the text\n"
          "                       otherwise; null when PATH does not exist, so a test can skip);\n"
          "                       added only to files whose source mentions the module's name;\n"
          "                       a name no --data gives is a module whose export is null too\n"
          "  --wall-ms N          wall time each file may take (10000)\n"
          "  --cpu-ms N           CPU time each file may use (10000)\n"
          "  --heap-mb N          heap of each file's isolate (128)\n"
          "  --help               print this help and exit\n",
          out);
}

static int read_file(const char *path, char **out, size_t *len, struct ed_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ed_error_set(err, -errno, "%s: %s", path, strerror(errno));
    struct ed_buf b;
    ed_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_FILE_BYTES) {
            rc = ed_error_set(err, ED_ETOOBIG, "%s: larger than %u bytes", path, MAX_FILE_BYTES);
            break;
        }
        if (ed_buf_append(&b, chunk, n) != 0) {
            rc = ed_error_set(err, ED_ENOMEM, "out of memory reading %s", path);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = ed_error_set(err, ED_EIO, "%s: read error", path);
    fclose(f);
    if (rc) {
        ed_buf_dispose(&b);
        return rc;
    }
    if (!b.data && ed_buf_appends(&b, "") != 0)
        return ed_error_set(err, ED_ENOMEM, "out of memory reading %s", path);
    *out = b.data;
    *len = b.len;
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int add_file(struct file_list *l, const char *path)
{
    if (l->n == MAX_FILES)
        return ED_ETOOBIG;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return ED_ENOMEM;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n] = strdup(path);
    if (!l->items[l->n])
        return ED_ENOMEM;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every *.test.js under dir (depth bounded), in name order within each directory. */
static int walk(struct file_list *l, const char *dir, int depth, struct ed_error *err)
{
    if (depth > 32)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return ed_error_set(err, -errno, "%s: %s", dir, strerror(errno));
    struct file_list here = {0};
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) {
            rc = ED_ENOMEM;
            break;
        }
        snprintf(p, len, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", e->d_name);
        rc = add_file(&here, p);
        free(p);
    }
    closedir(d);
    if (rc == 0 && here.n)
        qsort(here.items, here.n, sizeof *here.items, cmp_str);
    for (size_t i = 0; i < here.n; i++) {
        struct stat st;
        if (rc == 0 && stat(here.items[i], &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk(l, here.items[i], depth + 1, err);
            else if (S_ISREG(st.st_mode) && ends_with(here.items[i], ".test.js"))
                rc = add_file(l, here.items[i]);
        }
        free(here.items[i]);
    }
    free(here.items);
    if (rc == ED_ENOMEM || rc == ED_ETOOBIG)
        ed_error_set(err, rc, "%s: too many files or out of memory", dir);
    return rc;
}

static int add_data(struct options *o, const char *arg, struct ed_error *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return ed_error_set(err, ED_EINVAL, "--data %s: expected NAME=PATH", arg);
    struct data_module *p = realloc(o->data, (o->n_data + 1) * sizeof *p);
    if (!p)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    o->data = p;
    struct data_module *m = &p[o->n_data];
    memset(m, 0, sizeof *m);
    size_t name_len = (size_t)(eq - arg);
    m->module_name = malloc(name_len + sizeof "edged:data/");
    if (!m->module_name)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    o->n_data++;
    snprintf(m->module_name, name_len + sizeof "edged:data/", "edged:data/%.*s", (int)name_len,
             arg);
    const char *path = eq + 1;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        m->source = strdup("null");
        m->len = 4;
        m->type = ISO_MODULE_JSON;
        return m->source ? 0 : ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    m->type = ends_with(path, ".json") ? ISO_MODULE_JSON : ISO_MODULE_TEXT;
    int rc = read_file(path, &m->source, &m->len, err);
    return rc ? ed_error_set(err, ED_EINVAL, "--data %s: %s", arg, ed_error_msg(err)) : 0;
}

static void options_dispose(struct options *o)
{
    for (size_t i = 0; i < o->n_data; i++) {
        free(o->data[i].module_name);
        free(o->data[i].source);
    }
    free(o->data);
}

static int parse_u32(const char *flag, const char *arg, uint32_t lo, uint32_t hi, uint32_t *out,
                     struct ed_error *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || *end || !*arg || arg[0] == '-' || v < lo || v > hi)
        return ed_error_set(err, ED_EINVAL, "%s %s: expected a whole number from %u to %u", flag,
                            arg, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

enum { OPT_FILTER = 1000, OPT_DATA, OPT_WALL_MS, OPT_CPU_MS, OPT_HEAP_MB, OPT_HELP };

/* Returns 0, 1 (--help printed) or a negative code with err set. */
static int parse_options(struct options *o, int argc, char **argv, struct ed_error *err)
{
    static const struct option opts[] = {
        {"filter", required_argument, 0, OPT_FILTER},
        {"data", required_argument, 0, OPT_DATA},
        {"wall-ms", required_argument, 0, OPT_WALL_MS},
        {"cpu-ms", required_argument, 0, OPT_CPU_MS},
        {"heap-mb", required_argument, 0, OPT_HEAP_MB},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->wall_ms = 10000;
    o->cpu_ms = 10000;
    o->heap_mb = 128;
    opterr = 0;
    optind = 1;
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_FILTER:
            o->filter = optarg;
            break;
        case OPT_DATA:
            rc = add_data(o, optarg, err);
            break;
        case OPT_WALL_MS:
            rc = parse_u32("--wall-ms", optarg, 1, 3600000, &o->wall_ms, err);
            break;
        case OPT_CPU_MS:
            rc = parse_u32("--cpu-ms", optarg, 1, 3600000, &o->cpu_ms, err);
            break;
        case OPT_HEAP_MB:
            rc = parse_u32("--heap-mb", optarg, 8, 65536, &o->heap_mb, err);
            break;
        case OPT_HELP:
            usage(stdout);
            return 1;
        default:
            rc = ed_error_set(err, ED_EINVAL, "%s: %s (see edged test --help)", argv[optind - 1],
                              optopt ? "needs a value" : "unknown option");
            break;
        }
    }
    if (rc)
        return rc;
    if (optind >= argc)
        return ed_error_set(err, ED_EINVAL, "no PATH given (see edged test --help)");
    o->paths = argv + optind;
    o->n_paths = (size_t)(argc - optind);
    return 0;
}

/* Appends s as a JavaScript string literal. */
static int append_js_string(struct ed_buf *b, const char *s)
{
    int rc = ed_buf_appends(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
        if (*p == '"' || *p == '\\')
            rc = ed_buf_appendf(b, "\\%c", *p);
        else if (*p < 0x20)
            rc = ed_buf_appendf(b, "\\u%04x", *p);
        else
            rc = ed_buf_append(b, p, 1);
    }
    return rc ? rc : ed_buf_appends(b, "\"");
}

/* ---- one file ------------------------------------------------------------------------- */

static void print_detail(const char *detail)
{
    /* the first line goes on the result line; the rest (a stack) indented below it */
    const char *nl = strchr(detail, '\n');
    printf("%.*s\n", nl ? (int)(nl - detail) : (int)strlen(detail), detail);
    while (nl) {
        const char *line = nl + 1;
        nl = strchr(line, '\n');
        printf("    %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
    }
}

static void on_log(void *ud, const char *level, const char *msg, size_t len)
{
    struct run_state *st = ud;
    size_t mark = sizeof MARK - 1;
    if (strcmp(level, "log") != 0 || len < mark || memcmp(msg, MARK, mark) != 0) {
        if (strcmp(level, "log") == 0 || strcmp(level, "info") == 0)
            printf("%.*s\n", (int)len, msg);
        else
            printf("[%s] %.*s\n", level, (int)len, msg);
        return;
    }
    /* MARK KIND NAME[\002DETAIL] */
    const char *p = msg + mark, *end = msg + len;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp)
        return;
    const char *name = sp + 1;
    const char *sep = memchr(name, '\002', (size_t)(end - name));
    size_t name_len = (size_t)((sep ? sep : end) - name);
    size_t kind_len = (size_t)(sp - p);
    if (kind_len == 5 && memcmp(p, "start", 5) == 0) {
        free(st->current);
        st->current = strndup(name, name_len);
    } else if (kind_len == 2 && memcmp(p, "ok", 2) == 0) {
        printf("ok - %s: %.*s\n", st->file, (int)name_len, name);
        st->passed++;
        free(st->current);
        st->current = NULL;
    } else if (kind_len == 4 && memcmp(p, "fail", 4) == 0) {
        char *detail = sep ? strndup(sep + 1, (size_t)(end - sep - 1)) : NULL;
        printf("FAIL - %s: %.*s: ", st->file, (int)name_len, name);
        print_detail(detail ? detail : "failed");
        free(detail);
        st->failed++;
        free(st->current);
        st->current = NULL;
    } else if (kind_len == 4 && memcmp(p, "done", 4) == 0) {
        st->done = true;
    }
}

/* A child worker's console (env.LOADER): shown, marked as the child's. */
static void on_child_log(void *ud, const char *worker, const char *level, const char *msg,
                         size_t len)
{
    (void)ud;
    printf("[%s %s] %.*s\n", worker, level, (int)len, msg);
}

static void on_result(void *ud, int code, const uint8_t *result, size_t len, const char *msg)
{
    (void)result;
    (void)len;
    struct run_state *st = ud;
    st->answered = true;
    st->code = code;
    if (code && msg)
        st->msg = strdup(msg);
}

static void on_timeout(uv_timer_t *t)
{
    bool *timed_out = t->data;
    *timed_out = true;
}

struct runner {
    const struct options *o;
    uv_loop_t loop;
    struct iso_watch_slot *watch;
    struct ld_shard *loader;
    size_t passed, failed;
};

/* The generated main module: imports the harness, then the test file (which registers its
 * tests), and exports run() for the runner's call. */
static int main_source(struct ed_buf *b, const char *module, const char *display,
                       const char *filter)
{
    int rc = ed_buf_appends(b, "import harness from \"edged:test\";\nimport ");
    rc = rc ? rc : append_js_string(b, module);
    rc = rc ? rc : ed_buf_appends(b, ";\nexport default { run() { return harness.run(");
    rc = rc ? rc : append_js_string(b, display);
    rc = rc ? rc : ed_buf_appends(b, ", ");
    rc = rc ? rc : append_js_string(b, filter ? filter : "");
    return rc ? rc : ed_buf_appends(b, "); } };\n");
}

/* The "edged:data/NAME" modules source mentions that no --data gave: each becomes a module
 * whose default export is null, as for a missing file, so a test run by hand without the data
 * skips instead of failing to load. Returns owned names (free each and the array; NULL and
 * *n 0 when there are none or memory ran out). */
static char **missing_data(const struct options *o, const char *source, size_t *n)
{
    static const char prefix[] = "edged:data/";
    char **names = NULL;
    *n = 0;
    for (const char *p = strstr(source, prefix); p; p = strstr(p + 1, prefix)) {
        size_t len = sizeof prefix - 1;
        while (p[len] && (isalnum((unsigned char)p[len]) || strchr("_-.", p[len])))
            len++;
        bool known = len == sizeof prefix - 1;
        for (size_t i = 0; i < o->n_data && !known; i++)
            known = strlen(o->data[i].module_name) == len &&
                    memcmp(o->data[i].module_name, p, len) == 0;
        for (size_t i = 0; i < *n && !known; i++)
            known = strlen(names[i]) == len && memcmp(names[i], p, len) == 0;
        if (known)
            continue;
        char **grown = realloc(names, (*n + 1) * sizeof *grown);
        char *name = strndup(p, len);
        if (!grown || !name) {
            free(name);
            names = grown ? grown : names;
            break;
        }
        names = grown;
        names[(*n)++] = name;
    }
    return names;
}

/* Runs one file; adds its results to r. Failures are reported as results, never returned. */
static void run_file(struct runner *r, const char *path)
{
    const struct options *o = r->o;
    struct run_state st = {.file = path};
    struct ed_error err = {0};
    char *source = NULL;
    size_t source_len = 0;
    struct ed_buf main_src;
    ed_buf_init(&main_src);
    struct iso_module *mods = NULL;
    char **missing = NULL;
    size_t n_missing = 0;
    struct ld_parent *parent = NULL;
    struct iso_worker *w = NULL;

    if (read_file(path, &source, &source_len, &err) != 0)
        goto out_fail;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (main_source(&main_src, base, path, o->filter) != 0) {
        ed_error_set(&err, ED_ENOMEM, "out of memory");
        goto out_fail;
    }
    missing = missing_data(o, source, &n_missing);
    mods = calloc(3 + o->n_data + n_missing, sizeof *mods);
    if (!mods) {
        ed_error_set(&err, ED_ENOMEM, "out of memory");
        goto out_fail;
    }
    size_t n = 0;
    mods[n++] = (struct iso_module){"edged:test-main", main_src.data, main_src.len, ISO_MODULE_ESM};
    mods[n++] = (struct iso_module){base, source, source_len, ISO_MODULE_ESM};
    for (size_t i = 0; i < edge__jstest_n_files; i++)
        if (strcmp(edge__jstest_files[i].name, "harness.js") == 0)
            mods[n++] = (struct iso_module){"edged:test", edge__jstest_files[i].source,
                                            edge__jstest_files[i].len, ISO_MODULE_ESM};
    /* a data module only where the file names it: a 150 KB JSON costs every file otherwise */
    for (size_t i = 0; i < o->n_data; i++)
        if (strstr(source, o->data[i].module_name))
            mods[n++] = (struct iso_module){o->data[i].module_name, o->data[i].source,
                                            o->data[i].len, o->data[i].type};
    for (size_t i = 0; i < n_missing; i++)
        mods[n++] = (struct iso_module){missing[i], "null", 4, ISO_MODULE_JSON};

    struct ld_parent_config lc = {
        .tenant = "test",
        .worker = path,
        .cpu_ms = o->cpu_ms,
        .heap_mb = o->heap_mb,
        .log = on_child_log,
    };
    if (ld_parent_new(r->loader, &lc, &parent, &err) != 0)
        goto out_fail;
    static const char *const loaders[] = {"LOADER"};
    uint64_t cpu_ns = (uint64_t)o->cpu_ms * 1000000u, wall_ns = (uint64_t)o->wall_ms * 1000000u;
    struct iso_worker_config wc = {
        .tenant = "test",
        .worker = path,
        .modules = mods,
        .n_modules = n,
        .main_module = "edged:test-main",
        .heap_limit_bytes = (size_t)o->heap_mb << 20,
        .log = on_log,
        .log_ud = &st,
        .watch = r->watch,
        .cpu_budget_ns = cpu_ns,
        .wall_budget_ns = wall_ns,
        .host = ld_parent_host(parent),
        .loaders = loaders,
        .n_loaders = 1,
        .outbound = ISO_OUTBOUND_NONE,
        .child = true,
    };
    if (iso_worker_new(&wc, &w, &err) != 0)
        goto out_fail;
    ld_parent_attach(parent, w);
    /* the runner calls as a parent would (peer 1); its answer carries no stubs to hold */
    if (iso_worker_invoke(w, NULL, "run", NULL, 0, NULL, 0, 1, cpu_ns, NULL, on_result, &st,
                          &err) != 0)
        goto out_fail;

    /* The watchdog ends JavaScript that runs too long; this timer ends a file whose call
     * waits on something that never answers. */
    bool timed_out = false;
    uv_timer_t timer;
    uv_timer_init(&r->loop, &timer);
    timer.data = &timed_out;
    uv_timer_start(&timer, on_timeout, o->wall_ms + 1000u, 0);
    while (!st.answered && !timed_out)
        uv_run(&r->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    if (!st.answered)
        ed_error_set(&err, ED_EWALLLIMIT, "the file did not finish within %u ms", o->wall_ms);
    else if (st.code)
        ed_error_set(&err, st.code, "%s", st.msg ? st.msg : ed_strerror(st.code));
    else if (!st.done)
        ed_error_set(&err, ED_EJS, "the harness did not report the end of the file");
    else
        goto out;

out_fail:
    if (st.current) {
        printf("FAIL - %s: %s: ", path, st.current);
        print_detail(ed_error_msg(&err));
    } else {
        printf("FAIL - %s: %s: ", path, w ? "failed to run" : "failed to load");
        print_detail(ed_error_msg(&err));
    }
    st.failed++;
out:
    ld_parent_free(parent); /* before the isolate: drops calls in flight for it */
    iso_worker_free(w);
    uv_run(&r->loop, UV_RUN_NOWAIT); /* children freed between files */
    r->passed += st.passed;
    r->failed += st.failed;
    free(st.current);
    free(st.msg);
    free(mods);
    for (size_t i = 0; i < n_missing; i++)
        free(missing[i]);
    free(missing);
    ed_buf_dispose(&main_src);
    free(source);
    ed_error_dispose(&err);
    fflush(stdout);
}

int edge__jstest_main(int argc, char **argv)
{
    struct options o;
    struct ed_error err = {0};
    struct file_list files = {0};
    int status = 2;
    setvbuf(stdout, NULL, _IOLBF, 0);

    int rc = parse_options(&o, argc, argv, &err);
    if (rc == 1) {
        status = 0;
        goto out_options;
    }
    if (rc)
        goto out_usage;
    for (size_t i = 0; i < o.n_paths; i++) {
        struct stat st;
        if (stat(o.paths[i], &st) != 0) {
            ed_error_set(&err, ED_ENOENT, "%s: %s", o.paths[i], strerror(errno));
            goto out_usage;
        }
        rc = S_ISDIR(st.st_mode) ? walk(&files, o.paths[i], 0, &err) : add_file(&files, o.paths[i]);
        if (rc) {
            if (!err.msg)
                ed_error_set(&err, rc, "%s: out of memory", o.paths[i]);
            goto out_usage;
        }
    }
    if (files.n == 0) {
        ed_error_set(&err, ED_ENOENT, "no *.test.js file under the given paths");
        goto out_usage;
    }

    status = 1;
    struct runner r = {.o = &o};
    if ((rc = iso_platform_init(&err)) != 0)
        goto out_error;
    if ((rc = iso_watchdog_start(&err)) != 0)
        goto out_platform;
    if ((rc = iso_watch_slot_new(&r.watch)) != 0) {
        ed_error_set(&err, rc, "cannot register with the watchdog");
        goto out_watchdog;
    }
    if ((rc = uv_loop_init(&r.loop)) != 0) {
        ed_error_set(&err, rc, "uv_loop_init: %s", uv_strerror(rc));
        goto out_slot;
    }
    struct ld_config lc = {.loop = &r.loop, .watch = r.watch};
    if ((rc = ld_shard_new(&lc, &r.loader, &err)) != 0)
        goto out_loop;

    for (size_t i = 0; i < files.n; i++)
        run_file(&r, files.items[i]);
    printf("%zu passed, %zu failed\n", r.passed, r.failed);
    status = r.failed ? 1 : 0;

    ld_shard_close(r.loader);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    ld_shard_free(r.loader);
out_loop:
    uv_loop_close(&r.loop);
out_slot:
    iso_watch_slot_free(r.watch);
out_watchdog:
    iso_watchdog_stop();
out_platform:
    iso_pool_drain();
    iso_platform_dispose();
out_error:
    if (status == 1 && err.code)
        fprintf(stderr, "edged test: %s\n", ed_error_msg(&err));
    goto out_files;
out_usage:
    fprintf(stderr, "edged test: %s\n", ed_error_msg(&err));
out_files:
    for (size_t i = 0; i < files.n; i++)
        free(files.items[i]);
    free(files.items);
out_options:
    options_dispose(&o);
    ed_error_dispose(&err);
    return status;
}
