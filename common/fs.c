/*
 * Files and directories: the one `mkdir -p` that every module creating its data directories
 * (tenant logs, the control plane) shares.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

int ed_mkdirs(const char *path, unsigned mode)
{
    char *p = strdup(path);
    if (!p)
        return ED_ENOMEM;
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST)
            rc = -errno;
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return rc;
}
