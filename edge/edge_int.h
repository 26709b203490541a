/*
 * Internal to edge/: the node's configuration, the loaded site (tenants, workers, routes),
 * shards and connections. Only edge/ and its unit tests include this.
 */
#ifndef EDGED_EDGE_INT_H
#define EDGED_EDGE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/common.h"
#include "edge/h1_int.h"
#include "isolates/isolates.h"
#include "router/router.h"

/* ---- configuration (flags) --------------------------------------------------------------- */

struct edge_worker_flag { /* one --worker HOST[/PATH]=FILE */
    char *route;          /* "HOST[/PATH]" */
    char *file;
};

struct edge_config {
    char *listen_host; /* owned; "127.0.0.1" */
    int listen_port;   /* 0 = ephemeral */
    int threads;
    char *tenants_dir; /* owned; NULL when only --worker flags are used */
    char *data_dir;    /* owned */
    struct edge_worker_flag *worker_flags;
    size_t n_worker_flags;
    uint32_t cpu_ms, heap_mb, wall_ms;
    size_t max_header_bytes;
    uint64_t max_body_bytes;
    uint32_t header_timeout_ms, body_timeout_ms, idle_timeout_ms, drain_timeout_ms;
    char *access_log; /* owned; "-" = stderr */
    char *port_file;  /* owned or NULL */
    int log_level;
};

enum edge_parse_result { EDGE_CONFIG_RUN = 0, EDGE_CONFIG_EXIT_OK = 1 };

/* Parses argv into cfg (all defaults filled). Returns EDGE_CONFIG_RUN, EDGE_CONFIG_EXIT_OK
 * (--help/--version printed), or ED_EINVAL with err naming the bad flag. cfg is always
 * safe to pass to edge__config_dispose. */
int edge__config_parse(struct edge_config *cfg, int argc, char **argv, struct ed_error *err);
void edge__config_dispose(struct edge_config *cfg);
void edge__usage(FILE *out);

/* ---- the site: tenants, workers, routes ---------------------------------------------------- */

struct edge_tenant {
    char *name;
    uint32_t cpu_ms, heap_mb;
    struct iso_var *vars; /* names and values owned */
    size_t n_vars;
    int log_fd; /* DATA/tenants/<name>/logs/worker.log, O_APPEND; -1 if it could not open */
};

/* A deployed worker: code and the tenant it belongs to. Immutable once loaded; shared by all
 * shards (each shard builds its own isolate of it, see edge_shard.instances). */
struct edge_worker {
    char *name;
    struct edge_tenant *tenant; /* borrowed from the site */
    size_t index;               /* position in site->workers: a shard's instance slot */
    char *module_name;          /* "hello.js" */
    char *source;
    size_t source_len;
};

struct edge_site {
    struct edge_tenant **tenants;
    size_t n_tenants;
    struct edge_worker **workers;
    size_t n_workers;
    struct rt_table *routes; /* sealed; route.target is a struct edge_worker * */
};

/* Loads tenants from cfg (tenants dir and --worker flags), reads every worker file and opens
 * the tenant logs under the data dir. Returns 0 or ED_ECONFIG / ED_ENOENT / ED_EIO with a
 * one-line message in err. On success *out is owned (free with edge__site_free). */
int edge__site_load(const struct edge_config *cfg, struct edge_site **out, struct ed_error *err);
void edge__site_free(struct edge_site *site);

/* Appends one line to the tenant's log: `ts=... worker=W level=L msg="..."`. */
void edge__tenant_log(const struct edge_tenant *t, const char *worker, const char *level,
                      const char *msg, size_t len);

/* ---- shards and connections ---------------------------------------------------------------- */

struct edge_server;
struct edge_conn;

struct edge_shard {
    int id;
    struct edge_server *srv; /* borrowed */
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    uv_async_t wake;  /* the main thread asks for a drain */
    uv_check_t flush; /* writes the buffered access log once per loop turn */
    uv_timer_t drain_timer;
    int listen_fd;
    bool draining;
    struct iso_worker **instances; /* per site worker index; NULL until first use or retired */
    struct iso_watch_slot *watch;
    struct ed_buf access;    /* access-log lines not yet written */
    struct edge_conn *conns; /* doubly linked list of open connections */
    size_t n_conns;
    char read_buf[65536]; /* reads are parsed at once, so one buffer serves every connection */
    bool read_buf_busy;
};

struct edge_server {
    const struct edge_config *cfg; /* borrowed */
    struct edge_site *site;        /* borrowed */
    struct edge_shard *shards;
    int n_shards;
    int access_fd;
    atomic_int drain; /* 0 running, 1 draining, 2 forced */
};

struct edge_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct edge_shard *shard;
    struct edge_conn *prev, *next;
    struct h1_parser parser;
    struct ed_buf out;     /* response bytes not yet handed to the kernel */
    struct ed_buf writing; /* bytes owned by the uv_write in flight */
    uv_write_t wreq;
    uint64_t request_start_ns; /* first byte of the request being received */
    uint64_t headers_done_ns;
    int handles_open; /* tcp + timer, closed asynchronously */
    bool write_pending;
    bool close_after_write;
    bool closing;
    bool reading;
    bool continue_sent; /* "100 Continue" already sent for the current request */
    bool lingering;     /* response sent and FIN queued: discard input until EOF or timeout */
};

/* Accepts on a shard's listener. */
void edge__conn_accept(struct edge_shard *sh);
/* Closes a connection now (drain, forced stop). */
void edge__conn_close(struct edge_conn *c);
/* Whether c is between requests (safe to close when draining). */
bool edge__conn_idle(const struct edge_conn *c);

/* Runs one complete request through router and isolate and appends the response to c->out.
 * Sets c->close_after_write when the connection must close after it. */
void edge__dispatch(struct edge_conn *c, const struct h1_request *req);

/* Appends an access-log line for a finished request; bytes counts the whole response, head
 * included (what the client was sent). req may be NULL for a request that never parsed. */
void edge__access_log(struct edge_shard *sh, const char *tenant, const char *worker,
                      const struct h1_request *req, int status, uint64_t bytes, uint64_t wall_ns,
                      uint64_t cpu_ns);

/* Shard lifecycle: edge__shard_run is the thread body. */
int edge__shard_init(struct edge_shard *sh, struct edge_server *srv, int id, int listen_fd,
                     struct ed_error *err);
void edge__shard_run(void *arg);
/* A connection of sh was freed: lets a drain finish. */
void edge__shard_conn_gone(struct edge_shard *sh);

#endif
