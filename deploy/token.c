/*
 * Tokens: 32 random bytes from the kernel (getrandom), shown once as a prefix ("edop_" for the
 * operator, "edtk_" for tenants) plus 43 base64url digits, and stored only as SHA-256 (nettle)
 * with an id ("tok_" + 12 hex digits) that names the token in lists and revocations without
 * revealing it. The operator's token is made on the first start of a data directory and also
 * written to DATA/operator.token (0600) so that scripts on the machine can use it.
 */
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/dp_int.h"

void dp__sha256(const void *data, size_t len, uint8_t hash[32])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, data);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, hash);
}

static int random_bytes(uint8_t *buf, size_t n, struct ed_error *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return ed_error_set(err, ED_EIO, "cannot make a token: getrandom: %s",
                                strerror(r < 0 ? errno : EIO));
        got += (size_t)r;
    }
    return 0;
}

int dp__token_make(const char *prefix, char tok[DP__TOKEN_LEN + 1], char id[DP__TOKEN_ID_LEN],
                   uint8_t hash[32], struct ed_error *err)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[32 + 6];
    int rc = random_bytes(raw, sizeof raw, err);
    if (rc)
        return rc;
    size_t o = (size_t)snprintf(tok, DP__TOKEN_LEN + 1, "%s", prefix);
    /* 32 bytes: ten groups of three, then two bytes (three digits, no padding) */
    for (size_t i = 0; i < 30; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0; k--)
            tok[o++] = b64[(v >> (6 * k)) & 63];
    }
    uint32_t v = (uint32_t)raw[30] << 16 | (uint32_t)raw[31] << 8;
    for (int k = 3; k >= 1; k--)
        tok[o++] = b64[(v >> (6 * k)) & 63];
    tok[o] = '\0';
    /* the id comes from bytes of its own, so it says nothing about the token */
    snprintf(id, DP__TOKEN_ID_LEN, "tok_%02x%02x%02x%02x%02x%02x", raw[32], raw[33], raw[34],
             raw[35], raw[36], raw[37]);
    dp__sha256(tok, o, hash);
    memset(raw, 0, sizeof raw);
    return 0;
}

/* Writes text to path through a temporary file (0600) and a rename, fsynced. */
static int write_secret(const char *path, const char *text, struct ed_error *err)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    int rc = 0;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
        fchmod(fd, 0600) != 0 || fsync(fd) != 0)
        rc = ed_error_set(err, ED_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = ed_error_set(err, ED_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = ed_error_set(err, ED_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

int dp_operator_token_init(struct st_db *db, const char *data_dir, char **token,
                           struct ed_error *err)
{
    *token = NULL;
    uint64_t n = 0;
    int rc = st_cp_operator_tokens(db, &n, err);
    if (rc || n > 0)
        return rc;
    char tok[DP__TOKEN_LEN + 1], id[DP__TOKEN_ID_LEN], *path = NULL;
    uint8_t hash[32];
    if ((rc = dp__token_make("edop_", tok, id, hash, err)))
        return rc;
    if (asprintf(&path, "%s/operator.token", data_dir) < 0)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    /* The file first: a token stored but never shown could not be used by anyone. A crash
     * between the two leaves a file whose token is not stored; the next start replaces it. */
    struct st_token t = {.id = id, .tenant = NULL, .label = "operator"};
    if ((rc = write_secret(path, tok, err)) == 0 &&
        (rc = st_cp_token_add(db, &t, hash, err)) == 0 && !(*token = ed_strdup(tok)))
        rc = ed_error_set(err, ED_ENOMEM, "out of memory");
    memset(tok, 0, sizeof tok);
    free(path);
    return rc;
}
