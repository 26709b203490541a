/*
 * The identity of a child worker for billing and caching: SHA-256 over its loader id, its
 * main module and every module's name, type and source, each length-prefixed so that no two
 * different bundles can be made to hash alike by moving bytes between fields. Nettle is the
 * hash because it shares no symbol names with the OpenSSL libnode loads.
 */
#include <nettle/sha2.h>
#include <string.h>

#include "loader/ld_int.h"

static void put(struct sha256_ctx *h, const void *data, size_t len)
{
    uint8_t n[8];
    for (int i = 0; i < 8; i++)
        n[i] = (uint8_t)((uint64_t)len >> (8 * i));
    sha256_update(h, sizeof n, n);
    sha256_update(h, len, data);
}

void ld__code_key(const char *id, size_t id_len, const struct iso_child_code *code, uint8_t out[32])
{
    struct sha256_ctx h;
    sha256_init(&h);
    put(&h, id, id_len);
    const char *main = code->main_module ? code->main_module : "";
    put(&h, main, strlen(main));
    for (size_t i = 0; i < code->n_modules; i++) {
        const struct iso_module *m = &code->modules[i];
        uint8_t type = (uint8_t)m->type;
        put(&h, m->name, strlen(m->name));
        put(&h, &type, 1);
        put(&h, m->source, m->source_len);
    }
    sha256_digest(&h, SHA256_DIGEST_SIZE, out);
}
