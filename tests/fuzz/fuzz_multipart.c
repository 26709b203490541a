/*
 * libFuzzer target for the deploy upload's multipart/form-data parser (deploy/multipart.c): the
 * input's first byte picks a boundary length, the next bytes are the boundary, the rest is the
 * body, copied into a block of its exact size so any read past the end is caught. A parse that
 * succeeds must describe parts that lie inside the body, in order, without overlap. Build with
 * clang and -DEDGED_FUZZ=ON (tests/CMakeLists.txt).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/dp_int.h"

static const struct dp__multipart_limits limits = {
    .max_parts = 64, .max_header_bytes = 1024, .max_name = 128};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t blen = 1 + data[0] % DP__BOUNDARY_MAX;
    if (size < 1 + blen)
        return 0;
    char boundary[DP__BOUNDARY_MAX + 1];
    memcpy(boundary, data + 1, blen);
    boundary[blen] = '\0';
    size_t len = size - 1 - blen;
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1 + blen, len);
    struct dp__multipart m;
    struct ed_error err = {0};
    if (dp__multipart_parse(body, len, boundary, blen, &limits, &m, &err) == 0) {
        const char *prev = body;
        for (size_t i = 0; i < m.n; i++) {
            const struct dp__part *p = &m.parts[i];
            if (p->data < prev || p->data + p->len > body + len || !p->name)
                abort();
            prev = p->data + p->len;
        }
    }
    dp__multipart_dispose(&m);
    ed_error_dispose(&err);
    free(body);
    return 0;
}
