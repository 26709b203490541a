/*
 * The modules of a deploy, collected from disk: every file under the main module's folder, or
 * one file. It walks in two passes as edge/site.c reads a bundle — names and sizes first,
 * checked against the API's limits, then the bytes — so a project that happens to hold a
 * gigabyte of build output is refused by its sizes before anything is read or sent. Module
 * types come from extensions, the table edge/metadata.c uses for folder workers, given as the
 * upload's Content-Type names; a file with another extension stops the deploy with its name
 * rather than being sent as something it is not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/edgectl/edgectl.h"

#define CTL_MAX_DEPTH 64

static const struct {
    const char *ext;
    const char *type;
} ctl_types[] = {
    {".js", "application/javascript+module"},
    {".mjs", "application/javascript+module"},
    {".cjs", "application/javascript"},
    {".json", "application/json"},
    {".txt", "text/plain"},
    {".html", "text/plain"},
    {".md", "text/plain"},
    {".css", "text/plain"},
    {".svg", "text/plain"},
    {".bin", "application/octet-stream"},
};

const char *dp_ctl_module_type(const char *name)
{
    const char *base = strrchr(name, '/');
    const char *dot = strrchr(base ? base : name, '.');
    for (size_t i = 0; dot && i < sizeof ctl_types / sizeof ctl_types[0]; i++)
        if (strcmp(dot, ctl_types[i].ext) == 0)
            return ctl_types[i].type;
    return NULL;
}

void dp_ctl_bundle_dispose(struct dp_ctl_bundle *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->mods[i].name);
        free(b->mods[i].data);
    }
    free(b->mods);
    free(b->main_module);
    memset(b, 0, sizeof *b);
}

/* A module name the upload can carry and the API will accept as written: no control bytes,
 * no quotes or backslashes (they would be escaped in the part's header). */
static bool name_ok(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            return false;
    return *name != '\0';
}

static int add_module(struct dp_ctl_bundle *b, const char *name, size_t size, size_t max_files,
                      struct ed_error *err)
{
    if (b->n >= max_files)
        return ed_error_set(err, ED_ETOOBIG, "more than %zu files to upload (the limit)",
                            max_files);
    if (!name_ok(name))
        return ed_error_set(err, ED_EINVAL,
                            "%s: a module name may not contain quotes, backslashes or control "
                            "characters",
                            name);
    const char *type = dp_ctl_module_type(name);
    if (!type)
        return ed_error_set(err, ED_EINVAL,
                            "%s: no module type for this extension (edgectl uploads .js .mjs "
                            ".cjs .json .txt .html .md .css .svg .bin; move other files out of "
                            "the folder)",
                            name);
    struct dp_ctl_module *m = realloc(b->mods, (b->n + 1) * sizeof *m);
    if (!m)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    b->mods = m;
    m[b->n] = (struct dp_ctl_module){.name = strdup(name), .content_type = type, .len = size};
    if (!m[b->n].name)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    b->n++;
    b->bytes += size;
    return 0;
}

static bool skipped(const char *entry)
{
    return entry[0] == '.' || strcmp(entry, "node_modules") == 0 ||
           strncmp(entry, "wrangler.", 9) == 0;
}

/* Pass 1: names and sizes under root/rel. */
static int walk(struct dp_ctl_bundle *b, const char *root, const char *rel, int depth,
                size_t max_bytes, size_t max_files, struct ed_error *err)
{
    if (depth > CTL_MAX_DEPTH)
        return ed_error_set(err, ED_EINVAL, "%s/%s: folders nested too deep", root, rel);
    char *dir = NULL;
    if (asprintf(&dir, "%s%s%s", root, *rel ? "/" : "", rel) < 0)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d) {
        rc = ed_error_set(err, -errno, "%s: %s", dir, strerror(errno));
        goto out_dir;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && rc == 0) {
        if (skipped(e->d_name))
            continue;
        char *name = NULL, *path = NULL;
        if (asprintf(&name, "%s%s%s", rel, *rel ? "/" : "", e->d_name) < 0 ||
            asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            free(name);
            rc = ed_error_set(err, ED_ENOMEM, "out of memory");
            break;
        }
        struct stat lst, st;
        if (lstat(path, &lst) != 0 || stat(path, &st) != 0) {
            rc = ed_error_set(err, -errno, "%s: %s", path, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            if (S_ISLNK(lst.st_mode))
                rc = ed_error_set(err, ED_EINVAL,
                                  "%s: a symbolic link to a folder is not followed; copy the "
                                  "files instead",
                                  path);
            else
                rc = walk(b, root, name, depth + 1, max_bytes, max_files, err);
        } else if (!S_ISREG(st.st_mode)) {
            rc = ed_error_set(err, ED_EINVAL, "%s: not a regular file", path);
        } else if ((size_t)st.st_size > max_bytes || b->bytes + (size_t)st.st_size > max_bytes) {
            rc = ed_error_set(err, ED_ETOOBIG,
                              "%s: the bundle is over %zu MiB (the limit) with this file of %lld "
                              "bytes",
                              root, max_bytes >> 20, (long long)st.st_size);
        } else {
            rc = add_module(b, name, (size_t)st.st_size, max_files, err);
        }
        free(name);
        free(path);
    }
    if (d)
        closedir(d);
out_dir:
    free(dir);
    return rc;
}

/* Reads exactly len bytes of path into *out (a file that changed size since pass 1 is an
 * error: what was checked is what is sent). */
static int read_exact(const char *path, size_t len, char **out, struct ed_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ed_error_set(err, -errno, "%s: %s", path, strerror(errno));
    int rc = 0;
    char *buf = malloc(len ? len : 1);
    if (!buf) {
        rc = ed_error_set(err, ED_ENOMEM, "out of memory");
        goto out_fd;
    }
    size_t got = 0;
    while (got <= len) {
        char extra;
        ssize_t n = got < len ? read(fd, buf + got, len - got) : read(fd, &extra, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ed_error_set(err, -errno, "%s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (rc == 0 && got != len)
        rc = ed_error_set(err, ED_EIO, "%s: changed while being read", path);
    if (rc)
        free(buf);
    else
        *out = buf;
out_fd:
    close(fd);
    return rc;
}

static int cmp_mod(const void *a, const void *b)
{
    return strcmp(((const struct dp_ctl_module *)a)->name, ((const struct dp_ctl_module *)b)->name);
}

int dp_ctl_bundle_dir(struct dp_ctl_bundle *b, const char *root, const char *main, size_t max_bytes,
                      size_t max_files, struct ed_error *err)
{
    memset(b, 0, sizeof *b);
    /* "./index.js" and "index.js" name the same module */
    while (strncmp(main, "./", 2) == 0)
        main += 2;
    if (!(b->main_module = strdup(main)))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    int rc = walk(b, root, "", 0, max_bytes, max_files, err);
    if (rc)
        return rc;
    qsort(b->mods, b->n, sizeof *b->mods, cmp_mod);
    bool have_main = false;
    for (size_t i = 0; i < b->n; i++)
        have_main = have_main || strcmp(b->mods[i].name, main) == 0;
    if (!have_main)
        return ed_error_set(err, ED_ENOENT,
                            "the main module %s is not among the files under %s (hidden files, "
                            "node_modules and wrangler.* are skipped)",
                            main, root);
    for (size_t i = 0; i < b->n; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", root, b->mods[i].name) < 0)
            return ed_error_set(err, ED_ENOMEM, "out of memory");
        rc = read_exact(path, b->mods[i].len, &b->mods[i].data, err);
        free(path);
        if (rc)
            return rc;
    }
    return 0;
}

int dp_ctl_bundle_file(struct dp_ctl_bundle *b, const char *path, size_t max_bytes,
                       struct ed_error *err)
{
    memset(b, 0, sizeof *b);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    struct stat st;
    if (stat(path, &st) != 0)
        return ed_error_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ed_error_set(err, ED_EINVAL, "%s: not a regular file", path);
    if ((size_t)st.st_size > max_bytes)
        return ed_error_set(err, ED_ETOOBIG, "%s: %lld bytes, over the %zu MiB limit", path,
                            (long long)st.st_size, max_bytes >> 20);
    if (!(b->main_module = strdup(base)))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    int rc = add_module(b, base, (size_t)st.st_size, 1, err);
    if (rc)
        return rc;
    return read_exact(path, b->mods[0].len, &b->mods[0].data, err);
}
