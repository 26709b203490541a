/*
 * deploy/ — the admin API as a library: given one parsed HTTP request (method, target,
 * headers, body bytes) it authenticates the caller (the operator's token or a tenant's), runs
 * the endpoint against the control plane (storage/'s st_cp_ tables) and answers a status and a
 * JSON body. edge/'s admin listener feeds it every request; the library itself knows no
 * sockets, so it is tested with plain structs and a real SQLite in a temporary directory.
 * Deploys are validated whole before anything is stored: the multipart upload parsed
 * strictly (multipart.c), the metadata checked (bindings, main module, sizes within the
 * tenant's quotas) and the bundle compiled and linked with iso_bundle_check.
 *
 * dp_handle blocks on the disk (every write commits with an fsync) and on V8 (a deploy's
 * compile): call it from a thread that may wait, never a shard's loop.
 * Prefix: dp_ (public), dp__ (internal).
 */
#ifndef EDGED_DEPLOY_H
#define EDGED_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "storage/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A deploy's bundle: at most this many bytes of modules and this many modules (as a folder
 * worker's, edge/site.c). */
#define DP_MAX_BUNDLE_BYTES (64u << 20)
#define DP_MAX_MODULES 10000u
/* The largest request body the admin listener must accept: a full bundle plus the multipart
 * framing and the metadata part. */
#define DP_MAX_UPLOAD_BYTES (DP_MAX_BUNDLE_BYTES + (4u << 20))

/* A tenant's quotas. Those a tenant does not set are the node's (dp_config.defaults). */
struct dp_quotas {
    uint64_t cpu_ms;         /* CPU per request */
    uint64_t heap_mb;        /* heap of one isolate */
    uint64_t max_children;   /* live child workers */
    uint64_t storage_bytes;  /* durable object storage */
    uint64_t requests_per_s; /* 0: unlimited */
    uint64_t bundle_bytes;   /* one deploy's modules, at most DP_MAX_BUNDLE_BYTES */
    uint64_t workers;        /* how many workers the tenant may have */
};

struct dp_config {
    struct st_db *db;     /* borrowed; outlives the API */
    const char *data_dir; /* borrowed (copied): DATA, whose tenants/<T>/ a tenant delete removes */
    struct dp_quotas defaults; /* 0 fields take the built-in defaults */
    /* Tokens outside the control plane (tenant.conf `token_sha256`): the tenant whose token
     * hashes to sha256, or NULL. Compare in constant time. The name is borrowed for the call.
     * Such a tenant is not managed here: it reads its usage and asks whoami, nothing else. */
    const char *(*site_token)(void *ud, const uint8_t sha256[32]);
    /* Whether name is a tenant of the site (tenant.conf): such names cannot be created here. */
    bool (*site_tenant)(void *ud, const char *name);
    /* What a tenant's durable objects hold now (bytes on disk, objects), for GET /v1/usage of
     * today: 0 when known, else negative (no such counts kept). May be NULL. */
    int (*storage)(void *ud, const char *tenant, uint64_t *bytes, uint64_t *objects);
    void *ud;
};

struct dp_api;

/* Returns owned (free with dp_api_free) or ED_EINVAL / ED_ENOMEM with err set. cfg borrowed. */
int dp_api_new(const struct dp_config *cfg, struct dp_api **out, struct ed_error *err);
void dp_api_free(struct dp_api *api);

struct dp_header {
    const char *name, *value; /* not NUL-terminated */
    size_t name_len, value_len;
};

/* One request. All borrowed for the call. */
struct dp_request {
    const char *method; /* "GET"... NUL-terminated */
    const char *target; /* origin-form "/v1/tenants?x=y", not NUL-terminated */
    size_t target_len;
    const struct dp_header *headers;
    size_t n_headers;
    const void *body;
    size_t body_len;
};

struct dp_response {
    int status;
    char *body; /* owned: JSON plus a newline, NUL-terminated; NULL for 204 */
    size_t body_len;
};

/* A tenant's effective quotas: its stored quotas JSON (st_tenant.quotas; NULL or malformed:
 * none set) over the node's defaults, as the API shows them. Any thread. */
void dp_quotas_of(const struct dp_api *api, const char *quotas_json, struct dp_quotas *out);

/* Answers req into res (always: errors are answers, {"error": "..."} with 400, 401, 403, 404,
 * 405, 409, 413, 422, 500 or 501). Thread-safe: requests may run at once on several threads
 * (the control plane serializes its transactions). Free res with dp_response_dispose. */
void dp_handle(struct dp_api *api, const struct dp_request *req, struct dp_response *res);
void dp_response_dispose(struct dp_response *res);

/* The operator's token, made on the first start of a data directory: when db holds no
 * operator token, makes one (`edop_` + base64url of 32 random bytes), writes it to
 * DATA/operator.token (mode 0600, replaced atomically) and then stores its SHA-256, and
 * returns it in *token (owned, free with free(): print it once); when one exists, *token is
 * NULL and nothing changes. Returns 0 or a negative code with err set. */
int dp_operator_token_init(struct st_db *db, const char *data_dir, char **token,
                           struct ed_error *err);

#ifdef __cplusplus
}
#endif
#endif
