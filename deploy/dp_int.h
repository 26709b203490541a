/*
 * deploy/ internals shared by its files (api.c: routing, auth and the small endpoints;
 * upload.c: the deploy endpoint; multipart.c: the upload's parser; token.c: tokens). Nothing
 * outside deploy/ includes this header except deploy's unit tests.
 */
#ifndef EDGED_DEPLOY_DP_INT_H
#define EDGED_DEPLOY_DP_INT_H

#include <jansson.h>

#include "deploy/deploy.h"

/* ---- multipart/form-data (multipart.c) ---------------------------------------------------
 * A strict parser of RFC 7578 bodies over bytes already in memory: parts point into the body
 * (no copy of the data), each part's headers are bounded, and anything outside the grammar is
 * an error with a one-line reason rather than a guess. Names follow the HTML standard's
 * encoding (a quoted-string ends at the next '"', a backslash is an ordinary byte; browsers
 * send '"' as %22), which is also what curl and undici send for plain names. */

#define DP__BOUNDARY_MAX 70

struct dp__part {
    char *name;               /* owned: Content-Disposition's name ("" when absent) */
    char *filename;           /* owned, or NULL when absent */
    const char *content_type; /* borrowed from the body, or NULL when absent */
    size_t content_type_len;
    const char *data; /* borrowed from the body */
    size_t len;
};

struct dp__multipart {
    struct dp__part *parts; /* owned */
    size_t n;
};

struct dp__multipart_limits {
    size_t max_parts;        /* more parts than this: an error */
    size_t max_header_bytes; /* of one part's header section */
    size_t max_name;         /* bytes of a name or filename */
};

/* The boundary of a Content-Type value ("multipart/form-data; boundary=xyz"): 1 to 70
 * characters of RFC 2046's set, unquoted into out (DP__BOUNDARY_MAX + 1 bytes, NUL-terminated)
 * with its length in *blen. Returns 0 or ED_EINVAL with err saying why (not multipart/form-data,
 * no boundary, a bad one). ct borrowed. */
int dp__multipart_boundary(const char *ct, size_t len, char out[DP__BOUNDARY_MAX + 1], size_t *blen,
                           struct ed_error *err);

/* Parses body (len bytes, borrowed: the parts point into it and are valid while it is) into
 * *out (zeroed first; free with dp__multipart_dispose, also after an error). Returns 0,
 * ED_EINVAL (malformed, with a one-line reason), ED_ETOOBIG (over a limit) or ED_ENOMEM. */
int dp__multipart_parse(const char *body, size_t len, const char *boundary, size_t blen,
                        const struct dp__multipart_limits *lim, struct dp__multipart *out,
                        struct ed_error *err);
void dp__multipart_dispose(struct dp__multipart *m);

/* ---- the API object and answers (api.c) --------------------------------------------------- */

struct dp_api {
    struct st_db *db;
    char *data_dir;
    struct dp_quotas defaults;
    const char *(*site_token)(void *ud, const uint8_t sha256[32]);
    bool (*site_tenant)(void *ud, const char *name);
    int (*storage)(void *ud, const char *tenant, uint64_t *bytes, uint64_t *objects);
    void *ud;
};

/* Who is asking. */
struct dp__caller {
    bool operator;
    char tenant[64]; /* the tenant's name when !operator */
    bool site;       /* a tenant.conf tenant (not in the control plane) */
};

/* Sets res to status and {"error": msg}. Returns status. */
int dp__error(struct dp_response *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets res to status and the JSON of v (takes v). Returns status (500 if it cannot dump). */
int dp__json(struct dp_response *res, int status, json_t *v);
/* The HTTP status for a storage code (ED_ENOENT 404, ED_EEXIST 409, ED_ETOOBIG 413, ...). */
int dp__status_of(int code);

/* Tenant and worker names: letters, digits, '-', '_', '.', 1 to 63 bytes, not starting with
 * '.' (they become directory names, as in edge/site.c). */
bool dp__name_ok(const char *s, size_t len);

/* The tenant's quotas: its stored JSON object over the node's defaults. */
void dp__quotas_of(const struct dp_api *api, const char *quotas_json, struct dp_quotas *out);

/* ---- the deploy endpoint (upload.c) -------------------------------------------------------- */

/* PUT /v1/tenants/T/workers/W: validates req's multipart upload and stores it as W's next
 * version. t is the tenant's row (borrowed). Returns the status it answered with. */
int dp__deploy(struct dp_api *api, const struct st_tenant *t, const char *worker,
               const struct dp_request *req, struct dp_response *res);

/* Value of header name (case-insensitive) or NULL; *len set. Borrowed from req. */
const char *dp__header(const struct dp_request *req, const char *name, size_t *len);

/* ---- routes' patterns (api.c) --------------------------------------------------------------
 * A pattern is HOST[/PATH][*]: HOST a lower-case DNS name, or "*." followed by one (any
 * subdomain), or "*" (any host); PATH starting with '/'; a trailing '*' makes it a prefix. A
 * pattern without a path means "HOST/" followed by a star (any path). */

#define DP__PATTERN_MAX 512
/* Checks and normalizes in (host lower-cased, a bare HOST gets the any-path suffix) into out
 * (DP__PATTERN_MAX + 1 bytes). Returns 0 or ED_EINVAL with err saying why. */
int dp__pattern_normalize(const char *in, size_t len, char out[DP__PATTERN_MAX + 1],
                          struct ed_error *err);
/* Whether every request pattern p (normalized) matches is also matched by allowed
 * (normalized): a host within allowed's host, a path within allowed's path. */
bool dp__pattern_within(const char *p, const char *allowed);

/* ---- tokens (token.c) ---------------------------------------------------------------------- */

#define DP__TOKEN_LEN 48    /* "edtk_" / "edop_" + 43 base64url digits, NUL-terminated: 49 */
#define DP__TOKEN_ID_LEN 17 /* "tok_" + 12 hex digits, NUL */

/* A fresh token (prefix "edtk_" or "edop_") in tok, its id in id and its SHA-256 in hash.
 * Returns 0 or a negative code with err set (no randomness). */
int dp__token_make(const char *prefix, char tok[DP__TOKEN_LEN + 1], char id[DP__TOKEN_ID_LEN],
                   uint8_t hash[32], struct ed_error *err);
/* SHA-256 of len bytes. */
void dp__sha256(const void *data, size_t len, uint8_t hash[32]);

#endif
