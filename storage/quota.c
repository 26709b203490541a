/*
 * What a tenant's durable objects take on disk, for its storage quota: a walk of
 * DATA/tenants/<tenant>/do/<class>/ counting the object databases (64 hex digits + ".sqlite")
 * and summing their sizes with their WAL files. Read from the directories, not from a counter,
 * so it needs nothing kept in step with the files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

static void count_class(int dfd, uint64_t *objects, uint64_t *bytes)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
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
            count_class(cfd, objects, bytes);
    }
    closedir(d);
    free(path);
    return 0;
}
