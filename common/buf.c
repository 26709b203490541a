/*
 * Growable byte buffers. Growth doubles so appends are amortised O(1); the buffer is kept
 * NUL-terminated so text built in it can be logged or compared without a copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

void ed_buf_init(struct ed_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ed_buf_dispose(struct ed_buf *b)
{
    free(b->data);
    ed_buf_init(b);
}

int ed_buf_reserve(struct ed_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return ED_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return ED_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ed_buf_append(struct ed_buf *b, const void *data, size_t len)
{
    int rc = ed_buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int ed_buf_appends(struct ed_buf *b, const char *s)
{
    return ed_buf_append(b, s, strlen(s));
}

int ed_buf_appendf(struct ed_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ED_EINVAL;
    if ((size_t)n < sizeof small)
        return ed_buf_append(b, small, (size_t)n);
    int rc = ed_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void ed_buf_consume(struct ed_buf *b, size_t n)
{
    if (n >= b->len) {
        ed_buf_clear(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}
