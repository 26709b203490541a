/*
 * Tenants' storage quotas. st_tenant_objects walks DATA/tenants/<tenant>/do/<class>/ counting
 * the object databases (64 hex digits + ".sqlite") and summing their sizes with their WAL
 * files and their facets' (<id>.facets/): the totals at start-up, read from the directories.
 * From then on the shards keep the totals in an st_quota with atomic additions: a database
 * counts its files while closed and its pages while open (measured after each commit, and
 * before each operation under a byte limit, when its max_page_count is also set to what the
 * tenant has left), so they follow the files without another walk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "do_int.h"
#include "st_int.h"

/* Whether dir/name is a regular file (a symbolic link is not), and its size. */
static bool file_size(int dfd, const char *name, uint64_t *size)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        return false;
    *size += (uint64_t)st.st_size;
    return true;
}

static void count_class(int dfd, uint64_t *objects, uint64_t *bytes, bool facets)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (!facets && n == 64 + 7 && strcmp(e->d_name + 64, ".facets") == 0 &&
            st__hex_ok(e->d_name, 64)) {
            /* an object's facets: their bytes are the object's, they are no objects */
            uint64_t none = 0;
            int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                count_class(fd, &none, bytes, true);
            continue;
        }
        if (n != 64 + 7 || strcmp(e->d_name + 64, ".sqlite") != 0 || !st__hex_ok(e->d_name, 64))
            continue;
        uint64_t size = 0;
        if (!file_size(dirfd(d), e->d_name, &size))
            continue;
        char wal[80];
        snprintf(wal, sizeof wal, "%s-wal", e->d_name);
        file_size(dirfd(d), wal, &size);
        (*objects)++;
        *bytes += size;
    }
    closedir(d);
}

int st_tenant_objects(const char *data_dir, const char *tenant, uint64_t *objects, uint64_t *bytes,
                      struct ed_error *err)
{
    *objects = *bytes = 0;
    if (!data_dir || !tenant || !st__tenant_ok(tenant))
        return ed_error_set(err, ED_EINVAL, "invalid tenant name");
    char *path = NULL;
    if (asprintf(&path, "%s/tenants/%s/do", data_dir, tenant) < 0)
        return ed_error_set(err, ED_ENOMEM, NULL);
    DIR *d = opendir(path);
    int rc = 0;
    if (!d) {
        if (errno != ENOENT)
            rc = ed_error_set(err, ED_EIO, "cannot read %s: %s", path, strerror(errno));
        free(path);
        return rc;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!st__class_ok(e->d_name))
            continue;
        int cfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd >= 0)
            count_class(cfd, objects, bytes, false);
    }
    closedir(d);
    free(path);
    return 0;
}

/* ---- the running totals -------------------------------------------------------------------- */

struct st_quota *st_quota_new(uint64_t max_bytes, uint64_t max_objects)
{
    struct st_quota *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    atomic_init(&q->bytes, 0);
    atomic_init(&q->objects, 0);
    q->max_bytes = max_bytes;
    q->max_objects = max_objects;
    return q;
}

void st_quota_free(struct st_quota *q)
{
    free(q);
}

void st_quota_set(struct st_quota *q, uint64_t bytes, uint64_t objects)
{
    atomic_store(&q->bytes, (int64_t)bytes);
    atomic_store(&q->objects, (int64_t)objects);
}

void st_quota_get(const struct st_quota *q, uint64_t *bytes, uint64_t *objects)
{
    int64_t b = atomic_load(&((struct st_quota *)q)->bytes);
    int64_t n = atomic_load(&((struct st_quota *)q)->objects);
    if (bytes)
        *bytes = b > 0 ? (uint64_t)b : 0;
    if (objects)
        *objects = n > 0 ? (uint64_t)n : 0;
}

int64_t st__disk_size(const char *path)
{
    struct stat st;
    int64_t size = 0;
    char wal[4096];
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        size += st.st_size;
    if (snprintf(wal, sizeof wal, "%s-wal", path) < (int)sizeof wal && lstat(wal, &st) == 0 &&
        S_ISREG(st.st_mode))
        size += st.st_size;
    return size;
}

/* page_count * page_size, or -1 when it cannot be read. */
static int64_t pages_bytes(struct st_object *o)
{
    if (o->page_size == 0) {
        sqlite3_stmt *st = NULL;
        o->trusted = true;
        if (sqlite3_prepare_v2(o->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            o->page_size = sqlite3_column_int64(st, 0);
        o->trusted = false;
        sqlite3_finalize(st);
        if (o->page_size <= 0) {
            o->page_size = 0;
            return -1;
        }
    }
    int64_t pages = -1;
    if (st__prepare_trusted(o, &o->s_pages, "PRAGMA page_count") == SQLITE_OK) {
        o->trusted = true;
        if (sqlite3_step(o->s_pages) == SQLITE_ROW)
            pages = sqlite3_column_int64(o->s_pages, 0);
        o->trusted = false;
        sqlite3_reset(o->s_pages);
    }
    return pages < 0 ? -1 : pages * o->page_size;
}

void st__quota_charge(struct st_object *o)
{
    if (!o->quota || !o->db)
        return;
    int64_t size = pages_bytes(o);
    if (size < 0)
        return;
    atomic_fetch_add(&o->quota->bytes, size - o->charged);
    o->charged = size;
}

void st__quota_cap(struct st_object *o)
{
    struct st_quota *q = o->quota;
    if (!q || !q->max_bytes || !o->db)
        return;
    st__quota_charge(o);
    if (o->page_size <= 0)
        return;
    int64_t left = (int64_t)q->max_bytes - atomic_load(&q->bytes);
    int64_t cap = o->charged / o->page_size + (left > 0 ? left / o->page_size : 0);
    if (cap < 1)
        cap = 1; /* SQLite keeps it at page_count at least: no write may grow the file */
    if (cap == o->cap_pages)
        return;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)cap);
    if (st__exec_trusted(o, sql) == SQLITE_OK)
        o->cap_pages = cap;
}

int st__quota_error(struct st_object *o, int rc, int code, struct ed_error *err)
{
    if ((rc & 0xff) != SQLITE_FULL || !o->quota || !o->quota->max_bytes)
        return code;
    return ed_error_set(err, code,
                        "Exceeded the storage quota of this tenant (%llu bytes): database or disk "
                        "is full: SQLITE_FULL",
                        (unsigned long long)o->quota->max_bytes);
}
