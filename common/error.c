/*
 * The error table and error-as-data helpers. Codes are negative; -errno values outside our
 * table still get a text from strerror so a code is never printed without a meaning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

const char *ed_strerror(int code)
{
    switch (code) {
#define ED__ERR_TEXT(name, value, text) \
    case value:                         \
        return text;
        ED_ERRNO_MAP(ED__ERR_TEXT)
#undef ED__ERR_TEXT
    case 0:
        return "success";
    default:
        return code < 0 && code > -4000 ? strerror(-code) : "unknown error";
    }
}

const char *ed_errname(int code)
{
    switch (code) {
#define ED__ERR_NAME(name, value, text) \
    case value:                         \
        return "ED_E" #name;
        ED_ERRNO_MAP(ED__ERR_NAME)
#undef ED__ERR_NAME
    case 0:
        return "OK";
    default:
        return "ED_EUNKNOWN";
    }
}

int ed_error_setv(struct ed_error *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    free(err->msg);
    err->msg = NULL;
    err->code = code;
    if (fmt) {
        char *m = NULL;
        if (vasprintf(&m, fmt, ap) >= 0)
            err->msg = m;
    }
    return code;
}

int ed_error_set(struct ed_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ed_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

const char *ed_error_msg(const struct ed_error *err)
{
    if (!err)
        return "";
    return err->msg ? err->msg : ed_strerror(err->code);
}

void ed_error_dispose(struct ed_error *err)
{
    if (!err)
        return;
    free(err->msg);
    err->msg = NULL;
    err->code = 0;
}

char *ed_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *ed_strndup(const char *s, size_t n)
{
    return s ? strndup(s, n) : NULL;
}
