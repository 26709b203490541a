/*
 * Durable object ids and the node key behind them. An id is R || T: R names the object within
 * (tenant, class) — a keyed hash of a name, or random bytes — and T is a keyed hash tag of
 * (tenant, class, R), so an id made for one tenant or class, or made up, fails the check of
 * every other: no tenant can name another's object. The key is 32 random bytes made once per
 * data directory and kept in control.sqlite (table node_keys, schema step 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/boringssl.h"
#include "do_int.h"
#include "st_int.h"

#define ST__ID_BYTES 32
#define ST__HALF 16

static const char st__hexdigits[] = "0123456789abcdef";

static int bssl(struct ed_error *err)
{
    return ed_bssl() ? 0 : ed_bssl_load(err);
}

/* HMAC-SHA256(key, label "\0" tenant "\0" cls "\0" tail)[0..16) into out. */
static int tag(const uint8_t key[32], const char *label, const char *tenant, const char *cls,
               const void *tail, size_t tail_len, uint8_t out[ST__HALF])
{
    size_t ll = strlen(label) + 1, tl = strlen(tenant) + 1, cl = strlen(cls) + 1;
    size_t n = ll + tl + cl + tail_len;
    uint8_t small[512];
    uint8_t *msg = n <= sizeof small ? small : malloc(n);
    if (!msg)
        return ED_ENOMEM;
    memcpy(msg, label, ll);
    memcpy(msg + ll, tenant, tl);
    memcpy(msg + ll + tl, cls, cl);
    if (tail_len)
        memcpy(msg + ll + tl + cl, tail, tail_len);
    uint8_t mac[32];
    unsigned mac_len = 0;
    const struct ed_bssl *b = ed_bssl();
    int rc = b->HMAC(b->EVP_sha256(), key, 32, msg, n, mac, &mac_len) && mac_len == 32 ? 0 : ED_EIO;
    if (rc == 0)
        memcpy(out, mac, ST__HALF);
    if (msg != small)
        free(msg);
    return rc;
}

static void to_hex(const uint8_t id[ST__ID_BYTES], char hex[ST_OBJECT_ID_HEX])
{
    for (int i = 0; i < ST__ID_BYTES; i++) {
        hex[2 * i] = st__hexdigits[id[i] >> 4];
        hex[2 * i + 1] = st__hexdigits[id[i] & 15];
    }
    hex[64] = '\0';
}

/* Fills id's tag from its R half. */
static int finish(const uint8_t key[32], const char *tenant, const char *cls,
                  uint8_t id[ST__ID_BYTES], char hex[ST_OBJECT_ID_HEX])
{
    int rc = tag(key, "edged-do-id", tenant, cls, id, ST__HALF, id + ST__HALF);
    if (rc == 0)
        to_hex(id, hex);
    return rc;
}

static int check_names(const char *tenant, const char *cls)
{
    return tenant && cls && st__tenant_ok(tenant) && st__class_ok(cls) ? 0 : ED_EINVAL;
}

int st_object_id_from_name(const uint8_t key[32], const char *tenant, const char *cls,
                           const char *name, size_t name_len, char hex[ST_OBJECT_ID_HEX])
{
    int rc = check_names(tenant, cls);
    if (rc || (rc = bssl(NULL)))
        return rc;
    uint8_t id[ST__ID_BYTES];
    rc = tag(key, "edged-do-name", tenant, cls, name, name_len, id);
    return rc ? rc : finish(key, tenant, cls, id, hex);
}

int st_object_id_unique(const uint8_t key[32], const char *tenant, const char *cls,
                        char hex[ST_OBJECT_ID_HEX])
{
    int rc = check_names(tenant, cls);
    if (rc || (rc = bssl(NULL)))
        return rc;
    uint8_t id[ST__ID_BYTES];
    if (!ed_bssl()->RAND_bytes(id, ST__HALF))
        return ED_EIO;
    return finish(key, tenant, cls, id, hex);
}

int st__facet_file(const char *name, size_t len, char hex[ST_OBJECT_ID_HEX])
{
    static const char label[] = "edged-do-facet";
    int rc = bssl(NULL);
    if (rc)
        return rc;
    uint8_t mac[32];
    unsigned mac_len = 0;
    const struct ed_bssl *b = ed_bssl();
    if (!b->HMAC(b->EVP_sha256(), label, sizeof label - 1, (const uint8_t *)name, len, mac,
                 &mac_len) ||
        mac_len != 32)
        return ED_EIO;
    to_hex(mac, hex);
    return 0;
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool st__hex_ok(const char *s, size_t len)
{
    if (!s || len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (unhex(s[i]) < 0)
            return false;
    return true;
}

int st_object_id_check(const uint8_t key[32], const char *tenant, const char *cls, const char *hex,
                       size_t len, struct ed_error *err)
{
    if (!st__hex_ok(hex, len))
        return ed_error_set(err, ED_EINVAL, "Invalid Durable Object ID: must be 64 hex digits");
    if (check_names(tenant, cls))
        return ed_error_set(err, ED_EINVAL, "Durable Object ID is not valid for this namespace.");
    int rc = bssl(err);
    if (rc)
        return rc;
    uint8_t id[ST__ID_BYTES], want[ST__HALF];
    for (int i = 0; i < ST__ID_BYTES; i++)
        id[i] = (uint8_t)(unhex(hex[2 * i]) << 4 | unhex(hex[2 * i + 1]));
    rc = tag(key, "edged-do-id", tenant, cls, id, ST__HALF, want);
    if (rc)
        return ed_error_set(err, rc, "cannot check a Durable Object ID: %s", ed_strerror(rc));
    if (ed_bssl()->CRYPTO_memcmp(want, id + ST__HALF, ST__HALF) != 0)
        return ed_error_set(err, ED_EINVAL, "Durable Object ID is not valid for this namespace.");
    return 0;
}

uint32_t st_object_shard(const char *hex, uint32_t shards)
{
    if (shards == 0 || !hex)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int d = unhex(hex[i]);
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    return (uint32_t)(v % shards);
}

/* ---- the node key --------------------------------------------------------------------------
 * Read or made on a connection of its own: the writer connection belongs to the writer thread
 * and the reader one is read-only. BEGIN IMMEDIATE makes concurrent first calls (or processes)
 * agree on one key. */
int st_node_key(struct st_db *db, uint8_t key[32], struct ed_error *err)
{
    if (!db || !key)
        return ed_error_set(err, ED_EINVAL, "st_node_key: no database");
    char *path = NULL;
    if (asprintf(&path, "%s/control.sqlite", db->dir) < 0)
        return ed_error_set(err, ED_ENOMEM, NULL);
    sqlite3 *c = NULL;
    sqlite3_stmt *sel = NULL, *ins = NULL;
    int rc = 0;
    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = st__sqlite_error(c, "control.sqlite: node key", err);
        goto out;
    }
    sqlite3_busy_timeout(c, 5000);
    if (sqlite3_exec(c, "PRAGMA synchronous = FULL; BEGIN IMMEDIATE;", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(c, "SELECT key FROM node_keys WHERE id = 1", -1, &sel, NULL) !=
            SQLITE_OK) {
        rc = st__sqlite_error(c, "control.sqlite: node key", err);
        goto out;
    }
    int s = sqlite3_step(sel);
    if (s == SQLITE_ROW && sqlite3_column_bytes(sel, 0) == 32) {
        memcpy(key, sqlite3_column_blob(sel, 0), 32);
        sqlite3_exec(c, "COMMIT;", NULL, NULL, NULL);
        goto out;
    }
    if (s != SQLITE_DONE) {
        rc = s == SQLITE_ROW ? ed_error_set(err, ED_ESQLITE,
                                            "control.sqlite: the node key is not "
                                            "32 bytes")
                             : st__sqlite_error(c, "control.sqlite: node key", err);
        goto out;
    }
    if ((rc = bssl(err)))
        goto out;
    uint8_t fresh[32];
    if (!ed_bssl()->RAND_bytes(fresh, sizeof fresh)) {
        rc = ed_error_set(err, ED_EIO, "cannot make the node key: RAND_bytes failed");
        goto out;
    }
    if (sqlite3_prepare_v2(c, "INSERT INTO node_keys (id, key) VALUES (1, ?)", -1, &ins, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_blob(ins, 1, fresh, sizeof fresh, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(ins) != SQLITE_DONE ||
        sqlite3_exec(c, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) {
        rc = st__sqlite_error(c, "control.sqlite: storing the node key", err);
        goto out;
    }
    memcpy(key, fresh, 32);
    ED_INFO("event=node_key_created");
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    if (c && !sqlite3_get_autocommit(c))
        sqlite3_exec(c, "ROLLBACK;", NULL, NULL, NULL);
    sqlite3_close(c);
    free(path);
    return rc;
}
