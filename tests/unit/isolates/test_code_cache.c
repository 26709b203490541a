/*
 * isolates/: the process's code cache. Two tenants' workers with the same library module: the
 * second compiles it from the first one's code cache and answers exactly as the first (stack
 * traces included); a different source of the same length, or the same source under another
 * name, is a miss (the key is a hash of the content, not V8's length check); an entry V8
 * rejects is dropped and the module compiles from source; the cache stays within its bounds;
 * threads share it. The figures test prints what the cache saves per module size (run with
 * --verbose), the measurements behind kCodeCacheMinSource.
 */
#include <pthread.h>
#include <stdlib.h>

#include "iso_test.h"
#include "isolates/iso_int.h"

static void cache_setup(void)
{
    iso_test_setup();
    iso__code_cache_clear();
    iso__code_cache_limits(0, 0, 0);
}

TestSuite(code_cache, .init = cache_setup);

/* A library of about size bytes, like a bundled npm package: helpers, classes, closures, some
 * called at top level; salt goes into a string constant (the same length for every salt of the
 * same length). Returns owned (free()). */
static char *gen_lib(size_t size, const char *salt)
{
    struct ed_buf b;
    ed_buf_init(&b);
    ed_buf_appendf(&b, "export const VERSION = \"%s\";\n", salt);
    int n = 0;
    while (n == 0 || b.len + 600 < size) {
        ed_buf_appendf(&b,
                       "function helper%d(a, b) {\n"
                       "  const o = { k: a, v: b, n: %d };\n"
                       "  return typeof b === 'string' ? b.split(',').map((x) => x + o.n).join(';')"
                       " : o.k * 31 + o.n;\n"
                       "}\n"
                       "export class Shape%d {\n"
                       "  constructor(x) { this.x = x; this.tag = 'shape%d'; }\n"
                       "  area() { return this.x * this.x * %d; }\n"
                       "  describe() { return `${this.tag}: ${this.area()}`; }\n"
                       "}\n"
                       "export function f%d(x) {\n"
                       "  const s = String(x).repeat(2);\n"
                       "  let t = 0;\n"
                       "  for (let i = 0; i < s.length; i++) t += s.charCodeAt(i) ^ %d;\n"
                       "  return helper%d(t, %d) + new Shape%d(x).area();\n"
                       "}\n",
                       n, n, n, n, n, n, n, n, n, n);
        n++;
    }
    /* the rest in small pieces, so that small sizes come out close */
    for (int g = 0; b.len + 200 < size; g++)
        ed_buf_appendf(&b, "export function g%d(x) { return x * %d + 1; }\n", g, g);
    ed_buf_appends(&b, "export const TOP = [");
    for (int i = 0; i < n; i += 3)
        ed_buf_appendf(&b, "f%d(%d), ", i, i);
    ed_buf_appends(&b, "].reduce((a, b) => a + b, 0);\n"
                       "export function sum(k) {\n"
                       "  let t = 0;\n"
                       "  for (let i = 0; i < k; i++) t += f0(i);\n"
                       "  return t;\n"
                       "}\n"
                       "export function fail() {\n"
                       "  try { null.x; } catch (e) { return e.stack; }\n"
                       "}\n");
    return b.data;
}

/* The main module, importing the library named %s (under 256 bytes: never cached). */
static const char MAIN_JS[] =
    "import * as lib from './%s';\n"
    "export default { fetch() {\n"
    "  return Response.json({ v: lib.VERSION, top: lib.TOP, sum: lib.sum(50),\n"
    "    shape: new lib.Shape0(3).describe(), stack: lib.fail() });\n"
    "} };";

static const char MAIN_CJS_JS[] =
    "import lib from './%s';\n"
    "export default { fetch() {\n"
    "  return Response.json({ v: lib.VERSION, top: lib.TOP, stack: lib.fail() });\n"
    "} };";

/* A worker of tenant whose main module imports lib (named lib_name, of type) and whose answer
 * to GET / goes into *body (owned, free()). Returns iso_worker_new's code. */
static int load(const char *tenant, const char *lib, const char *lib_name,
                enum iso_module_type type, char **body)
{
    char main[512];
    snprintf(main, sizeof main, type == ISO_MODULE_CJS ? MAIN_CJS_JS : MAIN_JS, lib_name);
    struct iso_module mods[] = {
        {"main.js", main, strlen(main), ISO_MODULE_ESM},
        {lib_name, lib, strlen(lib), type},
    };
    struct iso_worker_config cfg = {
        .tenant = tenant,
        .worker = "w",
        .modules = mods,
        .n_modules = 2,
        .main_module = "main.js",
    };
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = iso_worker_new(&cfg, &w, &err);
    cr_assert_eq(rc, 0, "%s: %s", ed_errname(rc), ed_error_msg(&err));
    struct capture c;
    *body = strdup(get_ok(w, "http://x/", &c));
    capture_dispose(&c);
    iso_worker_free(w);
    return rc;
}

static struct iso_code_cache_stats stats(void)
{
    struct iso_code_cache_stats s;
    iso_code_cache_stats(&s);
    return s;
}

Test(code_cache, second_tenant_hits_and_answers_the_same)
{
    char *lib = gen_lib(300 * 1024, "v1");
    char *a, *b;
    load("alice", lib, "lib.js", ISO_MODULE_ESM, &a);
    struct iso_code_cache_stats s = stats();
    /* main.js is under the size threshold: only lib.js is looked up */
    cr_assert_eq(s.misses, 1);
    cr_assert_eq(s.hits, 0);
    cr_assert_eq(s.entries, 1);
    cr_assert_gt(s.bytes, 100 * 1024, "a 300 KB library's code cache is only %llu bytes",
                 (unsigned long long)s.bytes);
    load("bob", lib, "lib.js", ISO_MODULE_ESM, &b);
    s = stats();
    cr_assert_eq(s.hits, 1);
    cr_assert_eq(s.misses, 1);
    cr_assert_eq(s.rejected, 0);
    cr_assert_eq(s.entries, 1);
    cr_assert_str_eq(a, b);
    cr_assert(strstr(a, "\"v\":\"v1\""), "%s", a);
    cr_assert(strstr(a, "fail (lib.js:"), "%s", a);
    free(a);
    free(b);
    free(lib);
}

Test(code_cache, commonjs_modules_are_cached_too)
{
    const char *tail = "\nmodule.exports = { VERSION, TOP, fail, f0 };\n";
    char *esm = gen_lib(16 * 1024, "cj");
    struct ed_buf src;
    ed_buf_init(&src);
    /* the same library as a CommonJS module: drop `export ` */
    for (const char *p = esm; *p;) {
        if (strncmp(p, "export ", 7) == 0) {
            p += 7;
            continue;
        }
        ed_buf_append(&src, p++, 1);
    }
    ed_buf_appends(&src, tail);
    char *a, *b;
    load("alice", src.data, "lib.cjs", ISO_MODULE_CJS, &a);
    load("bob", src.data, "lib.cjs", ISO_MODULE_CJS, &b);
    struct iso_code_cache_stats s = stats();
    cr_assert_eq(s.misses, 1);
    cr_assert_eq(s.hits, 1);
    cr_assert_str_eq(a, b);
    cr_assert(strstr(a, "fail (lib.cjs:"), "%s", a);
    /* the same text as an ES module is another entry */
    char *c;
    load("carol", esm, "lib.js", ISO_MODULE_ESM, &c);
    s = stats();
    cr_assert_eq(s.misses, 2);
    cr_assert_eq(s.entries, 2);
    free(a);
    free(b);
    free(c);
    free(esm);
    ed_buf_dispose(&src);
}

Test(code_cache, same_length_other_source_is_a_miss)
{
    /* V8 10.2 alone would take v1's cache for v2 (it checks the length) and run v1's code. */
    char *v1 = gen_lib(64 * 1024, "AAAA");
    char *v2 = gen_lib(64 * 1024, "BBBB");
    cr_assert_eq(strlen(v1), strlen(v2));
    char *a, *b;
    load("alice", v1, "lib.js", ISO_MODULE_ESM, &a);
    load("bob", v2, "lib.js", ISO_MODULE_ESM, &b);
    struct iso_code_cache_stats s = stats();
    cr_assert_eq(s.hits, 0);
    cr_assert_eq(s.misses, 2);
    cr_assert_eq(s.entries, 2);
    cr_assert(strstr(a, "\"v\":\"AAAA\""), "%s", a);
    cr_assert(strstr(b, "\"v\":\"BBBB\""), "%s", b);
    free(a);
    free(b);
    free(v1);
    free(v2);
}

Test(code_cache, same_source_under_another_name_is_a_miss)
{
    /* A consumed cache keeps the file name it was made with: sharing it would show alice's
     * file names in bob's stack traces. */
    char *lib = gen_lib(8 * 1024, "n");
    char *a, *b;
    load("alice", lib, "lib.js", ISO_MODULE_ESM, &a);
    load("bob", lib, "vendor/lib.js", ISO_MODULE_ESM, &b);
    cr_assert_eq(stats().hits, 0);
    cr_assert_eq(stats().misses, 2);
    cr_assert(strstr(b, "fail (vendor/lib.js:"), "%s", b);
    cr_assert_null(strstr(b, "(lib.js:"), "%s", b);
    free(a);
    free(b);
    free(lib);
}

Test(code_cache, rejected_entry_falls_back_to_compiling)
{
    char *lib = gen_lib(32 * 1024, "r");
    char *a, *b, *c;
    load("alice", lib, "lib.js", ISO_MODULE_ESM, &a);
    cr_assert_eq(iso__code_cache_spoil(), 1);
    load("bob", lib, "lib.js", ISO_MODULE_ESM, &b);
    struct iso_code_cache_stats s = stats();
    cr_assert_eq(s.rejected, 1);
    cr_assert_eq(s.hits, 0);
    /* the spoiled entry is gone and bob's compile left a good one */
    cr_assert_eq(s.entries, 1);
    cr_assert_str_eq(a, b);
    load("carol", lib, "lib.js", ISO_MODULE_ESM, &c);
    s = stats();
    cr_assert_eq(s.hits, 1);
    cr_assert_eq(s.rejected, 1);
    cr_assert_str_eq(a, c);
    free(a);
    free(b);
    free(c);
    free(lib);
}

Test(code_cache, stays_within_its_bounds)
{
    char *body;
    /* small sources are not cached at all */
    load("alice",
         "export const VERSION = 1, TOP = 2; export function sum() { return 3; }\n"
         "export class Shape0 { describe() { return 'x'; } }\n"
         "export function fail() { return ''; }\n",
         "lib.js", ISO_MODULE_ESM, &body);
    free(body);
    struct iso_code_cache_stats s = stats();
    cr_assert_eq(s.misses + s.hits + s.entries, 0);

    /* room for about two 16 KB libraries' caches; an entry over 64 KB is not kept */
    char *probe = gen_lib(16 * 1024, "p0");
    load("alice", probe, "lib.js", ISO_MODULE_ESM, &body);
    free(body);
    free(probe);
    size_t one = stats().bytes;
    cr_assert_gt(one, 0);
    iso__code_cache_clear();
    iso__code_cache_limits(one * 5 / 2, 64 * 1024, 0);
    const char *salts[] = {"s1", "s2", "s3", "s4"};
    for (int i = 0; i < 4; i++) {
        char *lib = gen_lib(16 * 1024, salts[i]);
        load("alice", lib, "lib.js", ISO_MODULE_ESM, &body);
        free(body);
        free(lib);
        s = stats();
        cr_assert_leq(s.bytes, one * 5 / 2);
    }
    cr_assert_eq(s.entries, 2);
    cr_assert_eq(s.evicted, 2);
    /* the most recent two are the ones kept: s4 hits, s1 misses */
    char *s4 = gen_lib(16 * 1024, "s4"), *s1 = gen_lib(16 * 1024, "s1");
    uint64_t hits = s.hits, misses = s.misses;
    load("bob", s4, "lib.js", ISO_MODULE_ESM, &body);
    free(body);
    cr_assert_eq(stats().hits, hits + 1);
    load("bob", s1, "lib.js", ISO_MODULE_ESM, &body);
    free(body);
    cr_assert_eq(stats().misses, misses + 1);
    free(s4);
    free(s1);

    /* too large to keep */
    char *big = gen_lib(200 * 1024, "big");
    uint64_t entries = stats().entries;
    load("alice", big, "lib.js", ISO_MODULE_ESM, &body);
    free(body);
    cr_assert_eq(stats().entries, entries);
    free(big);
}

struct loader_thread {
    const char *lib;
    char tenant[16];
    char *body;
};

static void *load_thread(void *ud)
{
    struct loader_thread *t = ud;
    for (int i = 0; i < 4; i++) {
        free(t->body);
        load(t->tenant, t->lib, "lib.js", ISO_MODULE_ESM, &t->body);
    }
    return NULL;
}

Test(code_cache, threads_share_one_cache)
{
    /* shards are threads: each makes its own isolates from one shared table */
    char *lib = gen_lib(64 * 1024, "th");
    struct loader_thread ts[3] = {0};
    pthread_t ids[3];
    for (int i = 0; i < 3; i++) {
        ts[i].lib = lib;
        snprintf(ts[i].tenant, sizeof ts[i].tenant, "t%d", i);
        cr_assert_eq(pthread_create(&ids[i], NULL, load_thread, &ts[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(ids[i], NULL);
    struct iso_code_cache_stats s = stats();
    cr_assert_eq(s.hits + s.misses, 12);
    cr_assert_geq(s.hits, 9, "hits %llu misses %llu", (unsigned long long)s.hits,
                  (unsigned long long)s.misses);
    cr_assert_eq(s.entries, 1);
    for (int i = 1; i < 3; i++)
        cr_assert_str_eq(ts[i].body, ts[0].body);
    for (int i = 0; i < 3; i++)
        free(ts[i].body);
    free(lib);
}

/* ---- figures --------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median ns of creating (and freeing) a child whose bundle is a tiny main plus lib, with a
 * pooled isolate ready each time (as loader/ keeps one): mode 0 no cache, 1 cold (a miss, and
 * the entry it leaves is dropped before the next run), 2 warm (a hit). */
static uint64_t child_ns(const char *lib, int mode)
{
    char main[512];
    snprintf(main, sizeof main, MAIN_JS, "lib.js");
    struct iso_module mods[] = {
        {"main.js", main, strlen(main), ISO_MODULE_ESM},
        {"lib.js", lib, strlen(lib), ISO_MODULE_ESM},
    };
    struct iso_worker_config cfg = {
        .modules = mods, .n_modules = 2, .main_module = "main.js", .child = true};
    enum { N = 31 };
    uint64_t t[N];
    iso__code_cache_clear();
    iso__code_cache_limits(0, 0, mode == 0 ? SIZE_MAX : strlen(lib)); /* lib.js alone */
    for (int i = -1; i < N; i++) {
        if (mode == 1)
            iso__code_cache_clear();
        iso_pool_fill(0, 1, UINT64_MAX);
        struct iso_worker *w = NULL;
        struct ed_error err = {0};
        uint64_t t0 = ed_now_ns();
        int rc = iso_worker_new(&cfg, &w, &err);
        uint64_t dt = ed_now_ns() - t0;
        cr_assert_eq(rc, 0, "%s", ed_error_msg(&err));
        iso_worker_free(w);
        if (i >= 0) /* the first run warms up (and, warm, fills the cache) */
            t[i] = dt;
    }
    qsort(t, N, sizeof *t, cmp_u64);
    return t[N / 2];
}

Test(code_cache, figures)
{
    static const size_t sizes[] = {1024, 2048, 3072, 4096, 6144, 8192, 16384, 65536, 307200};
    cr_log_info("code cache: child creation with main.js + lib.js (pooled isolate), median of 15");
    cr_log_info("%9s %9s | %10s %10s %10s | %s", "lib bytes", "cache", "none us", "cold us",
                "warm us", "warm saves");
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char *lib = gen_lib(sizes[i], "fig");
        uint64_t none = child_ns(lib, 0), cold = child_ns(lib, 1), warm = child_ns(lib, 2);
        uint64_t bytes = stats().bytes;
        cr_log_info("%9zu %9llu | %10.1f %10.1f %10.1f | %.1f us", strlen(lib),
                    (unsigned long long)bytes, none / 1e3, cold / 1e3, warm / 1e3,
                    ((double)none - (double)warm) / 1e3);
        /* loose: sanitizer builds are slow; the printed figures are the point */
        if (sizes[i] >= 65536)
            cr_expect_lt(warm, none, "a %zu-byte library: warm %llu ns, uncached %llu ns", sizes[i],
                         (unsigned long long)warm, (unsigned long long)none);
        free(lib);
    }
}
