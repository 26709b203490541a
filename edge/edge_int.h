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
#include "edge/ob_int.h"
#include "isolates/isolates.h"
#include "loader/loader.h"
#include "router/router.h"
#include "storage/storage.h"

/* ---- configuration (flags) --------------------------------------------------------------- */

struct edge_worker_flag { /* one --worker HOST[/PATH]=FILE */
    char *route;          /* "HOST[/PATH]" */
    char *file;
};

struct edge_config {
    char *listen_host; /* owned; "127.0.0.1" */
    int listen_port;   /* 0 = ephemeral */
    char *admin_host;  /* owned; NULL: no admin listener */
    int admin_port;
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
    bool allow_eval_at_startup; /* parents may eval while their modules' top level runs */
    /* outbound fetch(): --outbound-allow / --outbound-deny rules (owned strings, checked), the
     * trusted certificates (NULL: the system bundle) and the timeouts */
    char **outbound_allow, **outbound_deny;
    size_t n_outbound_allow, n_outbound_deny;
    char *outbound_ca;
    uint32_t outbound_connect_timeout_ms, outbound_timeout_ms;
    uint32_t object_idle_ms;  /* a durable object unused this long leaves memory */
    uint32_t object_max_open; /* open object databases per shard (0: storage's default) */
    bool storage_fsync;       /* every durable object commit waits for an fsync */
};

/* How long after a request's wall budget the connection gives up on a worker that did not
 * answer (the shim's own deadline normally answers first). */
#define EDGE_WALL_GRACE_NS (50u * 1000000u)

/* The system's trusted certificates (Debian's ca-certificates). */
#define EDGE_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

enum edge_parse_result { EDGE_CONFIG_RUN = 0, EDGE_CONFIG_EXIT_OK = 1 };

/* Parses argv into cfg (all defaults filled). Returns EDGE_CONFIG_RUN, EDGE_CONFIG_EXIT_OK
 * (--help/--version printed), or ED_EINVAL with err naming the bad flag. cfg is always
 * safe to pass to edge__config_dispose. */
int edge__config_parse(struct edge_config *cfg, int argc, char **argv, struct ed_error *err);
void edge__config_dispose(struct edge_config *cfg);
void edge__usage(FILE *out);

/* `edged test [options] PATH...` (edge/jstest.c): argv[0] is "test". Returns the exit status:
 * 0 when every test passed, 1 when one failed, 2 for bad usage. */
int edge__jstest_main(int argc, char **argv);

/* ---- the site: tenants, workers, routes ---------------------------------------------------- */

/* A tenant as the shards see it. Reference-counted and immutable once published (the rate
 * limiter's state apart): a site generation holds a reference to each of its tenants, each
 * worker to its tenant, so a generation in which the tenant changed (quotas, status) makes a
 * new one while requests in flight keep the old. */
struct edge_tenant {
    atomic_uint refs;
    char *name;
    bool suspended; /* the control plane's status: its routes answer 503 */
    bool managed;   /* from the control plane (not the tenants directory) */
    char *cp_key;   /* managed: status and quotas as stored, to tell whether it changed */
    uint32_t cpu_ms, heap_mb;
    /* requests_per_s (0: unlimited), enforced node-wide as a GCRA (a token bucket of
     * requests_per_s tokens refilled at requests_per_s a second) on one atomic: the
     * theoretical arrival time, in ns on ed_now_ns()'s clock */
    uint64_t requests_per_s;
    _Atomic uint64_t rate_tat;
    uint32_t max_children;         /* live children of the tenant (0: the loader's) */
    uint32_t max_children_heap_mb; /* their total heap (0: the loader's) */
    uint32_t child_idle_ms;        /* an unused child is evicted after this (0: the loader's) */
    uint32_t subrequests;          /* fetch() calls per request, and per child call (50) */
    struct iso_var *vars;          /* names and values owned */
    size_t n_vars;
    /* SHA-256 of each token that reads this tenant's usage on the admin listener
     * (tenant.conf `token_sha256 = HEX`): the node never holds a token itself. */
    uint8_t (*token_hashes)[32];
    size_t n_tokens;
    int log_fd; /* DATA/tenants/<name>/logs/worker.log, O_APPEND; -1 if it could not open */
    /* Durable object storage: limits from tenant.conf (storage_mb, max_objects; 0: none) and
     * the totals every shard keeps up to date (owned; counted from the files at start-up). */
    uint64_t storage_mb, max_objects;
    struct st_quota *quota;
};

/* A deployed worker: code and the tenant it belongs to. Immutable once loaded and
 * reference-counted: shared by all shards (each builds its own isolate of it, found by this
 * pointer in edge_shard's instance map) and by every site generation in which neither it nor
 * its tenant changed, so a deploy of one worker leaves the others' isolates alone. */
struct edge_worker {
    atomic_uint refs;
    char *name;
    struct edge_tenant *tenant; /* a reference */
    int64_t version;            /* the control plane's live version; 0: the tenants directory */
    /* The bundle: names and sources owned (a file WORKER.js is one ES module of that name; a
     * folder WORKER/ is every file under it, see edge__bundle_read). */
    struct iso_module *modules;
    size_t n_modules;
    char *main_module;   /* owned; a name in modules */
    size_t bundle_bytes; /* the sources' total size */
    char **loaders;      /* names of worker_loader bindings (env.LOADER...) */
    size_t n_loaders;
    struct iso_var *vars; /* the worker's plain_text bindings (the tenant's vars come first) */
    size_t n_vars;
    /* durable_object_namespace bindings (names and classes owned): the worker hosts the
     * objects of these classes */
    struct iso_object_ns *objects;
    size_t n_objects;
};

/* A parent worker's bundle is at most this many bytes of sources, as a child's. */
#define EDGE_MAX_BUNDLE_BYTES (64u << 20)
#define EDGE_MAX_BUNDLE_MODULES 10000u
#define EDGE_MAX_MODULE_NAME 1000u /* bytes of a module's name ("lib/x.js") */

/* What WORKER.metadata.json says about a worker's modules (the rest, bindings, goes straight
 * into the worker). */
struct edge_module_decl {
    char *name; /* owned */
    enum iso_module_type type;
};
struct edge_bundle_meta {
    char *main_module; /* owned; NULL: not given */
    struct edge_module_decl *modules;
    size_t n_modules;
};
void edge__bundle_meta_dispose(struct edge_bundle_meta *meta);

/* Reads path (WORKER.metadata.json; absent is fine): the bindings into w's loaders and vars,
 * main_module and the "modules" list of types into *meta (zeroed first; free with
 * edge__bundle_meta_dispose, also after an error). Returns 0 or ED_ECONFIG / ED_ENOMEM with a
 * one-line message. */
int edge__metadata_load(struct edge_worker *w, const char *path, struct edge_bundle_meta *meta,
                        struct ed_error *err);

/* The type of a module named name: meta's declaration if it lists name, else by extension
 * (.js .mjs ES module, .cjs CommonJS, .json JSON, .txt .html .md .css .svg text, .bin data).
 * Returns 0 or ED_ECONFIG (no declaration and an extension of no known type). */
int edge__module_type(const struct edge_bundle_meta *meta, const char *name,
                      enum iso_module_type *out);

/* Reads the worker folder dir into w's modules (every regular file under it, hidden names
 * skipped, names relative to dir and '/'-separated; symbolic links and other special files
 * are refused, so nothing outside dir is read), typed by meta, with main_module meta's or
 * "index.js". where names the worker in messages ("tenant acme worker api"). At most
 * max_bytes of sources in all (EDGE_MAX_BUNDLE_BYTES; tests pass less) and
 * EDGE_MAX_BUNDLE_MODULES files. Returns 0 or ED_ECONFIG / ED_ETOOBIG / ED_EIO / ED_ENOMEM
 * with a one-line message. */
int edge__bundle_read(struct edge_worker *w, const char *dir, const struct edge_bundle_meta *meta,
                      size_t max_bytes, const char *where, struct ed_error *err);

/* A route of the tenants directory or a --worker flag, kept so every generation adds it. */
struct edge_static_route {
    char *host, *path;
    struct edge_worker *worker; /* borrowed from the site that holds it */
};

/* A site: what the shards serve, as one immutable, reference-counted snapshot (a generation).
 * The tenants directory's site (the base) is loaded once; each generation built from the
 * control plane (edge/live.c) holds the base's tenants and workers plus the control plane's,
 * and a route table of both. */
struct edge_site {
    atomic_uint refs;
    uint64_t generation;          /* st_cp_generation() it was built from (the base: 0) */
    struct edge_tenant **tenants; /* references */
    size_t n_tenants;
    struct edge_worker **workers; /* references */
    size_t n_workers;
    struct edge_worker **by_addr;            /* workers sorted by address (edge__site_has_worker) */
    struct rt_table *routes;                 /* sealed; route.target is a struct edge_worker * */
    struct edge_static_route *static_routes; /* the base's, in the order they were read */
    size_t n_static_routes;
};

/* Loads tenants from cfg (tenants dir and --worker flags), reads every worker file and opens
 * the tenant logs under the data dir. Returns 0 or ED_ECONFIG / ED_ENOENT / ED_EIO with a
 * one-line message in err. On success *out is owned (free with edge__site_free). */
int edge__site_load(const struct edge_config *cfg, struct edge_site **out, struct ed_error *err);
/* Shared ownership of sites, tenants and workers: any thread; the last unref frees (a
 * tenant's log closes with it). NULL is fine for the unrefs. */
struct edge_site *edge__site_ref(struct edge_site *site);
void edge__site_unref(struct edge_site *site);
struct edge_tenant *edge__tenant_ref(struct edge_tenant *t);
void edge__tenant_unref(struct edge_tenant *t);
struct edge_worker *edge__worker_ref(struct edge_worker *w);
void edge__worker_unref(struct edge_worker *w);
/* A new tenant named name with the node's limits and its log (DATA/tenants/<name>/logs/
 * worker.log) open. Returns 0 and *out owned (one reference), or ED_ENOMEM / ED_EIO. */
int edge__tenant_new(const struct edge_config *cfg, const char *name, struct edge_tenant **out,
                     struct ed_error *err);
/* Fills site->by_addr and seals its routes: the site is ready to publish. */
int edge__site_seal(struct edge_site *site);
/* Whether w is one of site's workers (by address). */
bool edge__site_has_worker(const struct edge_site *site, const struct edge_worker *w);
/* Frees a worker that is being built (its refs never taken): as the last unref. */
void edge__worker_free(struct edge_worker *w);
/* Checks every worker's bundle with iso_bundle_check (modules compile, static imports
 * resolve within the bundle), so a broken bundle stops the node at start-up instead of
 * failing its requests. Needs the V8 platform. Returns 0 or ED_EBADWORKER with a one-line
 * message naming the tenant and worker ("tenant acme worker api: lib/a.js imports
 * \"./b.js\", which is not a module of this worker"). */
int edge__site_check(const struct edge_site *site, struct ed_error *err);
/* The worker of tenant that hosts durable object class cls (at most one, edge__site_check
 * makes sure), with the index of its namespace in *ns (may be NULL); NULL when none does.
 * Borrowed from site. */
const struct edge_worker *edge__site_object_worker(const struct edge_site *site, const char *tenant,
                                                   const char *cls, size_t *ns);

/* Appends one line to the tenant's log: `ts=... worker=W level=L msg="..."`. */
void edge__tenant_log(const struct edge_tenant *t, const char *worker, const char *level,
                      const char *msg, size_t len);

/* ---- shards and connections ---------------------------------------------------------------- */

struct edge_server;
struct edge_conn;
struct edge_exchange;
struct dp_api;

/* A shard's isolate of one worker, with its loader context. Retired instances wait in the
 * shard's graveyard until no invocation runs on them, then are freed outside any isolate. */
struct edge_instance {
    const struct edge_worker *worker;
    struct edge_shard *shard;
    struct iso_worker *w;
    struct ld_parent *loader;
    /* What the isolate calls out through: the loader's host, with durable objects added (calls
     * to objects, ids, and the storage of the objects it hosts). */
    struct iso_host host;
    struct iso_object_host objects_host;
    struct ld_facet_host facet_host; /* its objects' facets, in its loader's children */
    struct edge_object *objects;     /* the durable objects it hosts, and their facets */
    struct edge_exchange *exchanges; /* requests in flight on this instance */
    struct edge_instance *next_grave;
    struct edge_instance *next_live; /* the shard's instance map chain */
    bool retiring;
    bool draining; /* retired by a deploy: its busy durable objects finish on it */
    bool force;    /* free even with invocations in flight (a wall-time kill) */
};

/* One request being answered by a worker. Lives until the worker's sink is done with it,
 * which may be after its connection went away (then c is NULL and output is dropped). */
struct edge_exchange {
    struct edge_conn *c;
    struct edge_shard *shard;
    const struct edge_worker *worker;  /* once routed */
    struct edge_instance *inst;        /* once the worker's isolate exists */
    struct edge_exchange *prev, *next; /* inst->exchanges */
    const struct h1_request *req;      /* valid while c is (the parser waits for us) */
    uint64_t t0, cpu_ns;
    uint64_t progress_ns; /* last time its streamed response moved (a chunk, a write) */
    uint64_t out0;        /* edge__conn_out_pos() when it started */
    int status;
    int keep_alive; /* enum h1_conn */
    int body_error; /* its streamed request body cannot be completed: why (ED_E...) */
    bool head_only, chunked, http10;
    bool head_sent;    /* the response head is out: the body streams at the client's pace */
    bool body_skipped; /* a response without a body (HEAD...): its stream was cancelled */
    bool paused;       /* the sink asked the worker to wait until the output drains */
    bool body_wanted;  /* the worker waits for more of the streamed request body */
    bool abandoned;    /* answered by the node (wall time) or the client left: ignore the sink */
};

struct edge_shard {
    int id;
    struct edge_server *srv; /* borrowed */
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    uv_tcp_t admin; /* shard 0 only, when --admin-listen is given */
    bool has_admin;
    uv_async_t wake;         /* the main thread asks for a drain */
    uv_check_t flush;        /* writes the buffered access log once per loop turn */
    uv_idle_t writer;        /* writes connections a worker's stream gave output (conn.c) */
    struct edge_conn *dirty; /* those connections, linked by next_dirty */
    uv_timer_t drain_timer;
    int listen_fd;
    bool draining;
    /* The site this shard serves (a reference), and the generation it adopted (read by the
     * deploy waiter on other threads). */
    struct edge_site *site;
    _Atomic uint64_t site_gen;
    uv_async_t site_wake; /* a new generation is published (edge/live.c) */
    bool live_closed;     /* site_wake is closed (under the live lock) */
    /* This shard's live isolates, one per worker served, by worker address (chained) */
    struct edge_instance **inst_map;
    size_t inst_buckets, n_inst;
    struct edge_instance *graveyard; /* retired instances waiting to be freed */
    struct iso_watch_slot *watch;
    struct ld_shard *loader;
    struct edge_fetcher *fetcher; /* workers' outbound fetch() */
    struct ed_buf access;         /* access-log lines not yet written */
    struct edge_objects *objects; /* durable objects this shard hosts (edge/objects.c) */
    struct edge_conn *conns;      /* doubly linked list of open connections */
    size_t n_conns;
    char read_buf[65536]; /* reads are parsed at once, so one buffer serves every connection */
    bool read_buf_busy;
};

struct edge_live;

struct edge_server {
    const struct edge_config *cfg; /* borrowed */
    struct edge_site *site;        /* borrowed: the tenants directory's (the base) */
    struct edge_live *live;        /* generations from the control plane (edge/live.c) */
    struct edge_shard *shards;
    int n_shards;
    int access_fd;
    struct st_db *db;              /* control plane: usage counters, tenants, deploys */
    struct dp_api *api;            /* the admin API (deploy/), for the admin listener */
    atomic_int drain;              /* 0 running, 1 draining, 2 forced */
    struct edge_outbound outbound; /* rules, TLS and counters every shard's client shares */
    uint8_t node_key[32];          /* the node's key for durable object ids (st_node_key) */
    /* Calls and answers for each shard's durable objects, from any shard (edge/objects.c);
     * they live as long as the server, so a shard that stopped still takes (and the server
     * finally answers) what others send it. */
    struct edge_inbox *inboxes;
    /* Alarms the control plane's index holds at start-up; each shard takes its own. */
    struct edge_alarm *boot_alarms;
    size_t n_boot_alarms;
};

/* Fills srv->outbound from the flags (rules, the TLS context; the node's own ports are added
 * once its listeners are bound). Returns 0 or a negative code with err (an unreadable
 * --outbound-ca). edge__outbound_dispose frees it. */
int edge__outbound_init(struct edge_outbound *ob, const struct edge_config *cfg,
                        struct ed_error *err);
void edge__outbound_dispose(struct edge_outbound *ob);

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
    bool continue_sent;       /* "100 Continue" already sent for the current request */
    bool lingering;           /* response sent and FIN queued: discard input until EOF or timeout */
    bool in_process;          /* inside process(): an exchange completing now continues the loop */
    bool admin;               /* accepted on the admin listener: operator endpoints, no workers */
    struct edge_exchange *ex; /* the request being answered, if any */
    struct ed_buf pending_in; /* input after a request whose answer is still being made */
    uint64_t out_base;        /* bytes taken from the front of out so far (edge__conn_out_pos) */
    struct edge_conn *next_dirty; /* in shard->dirty: output to write on the next loop turn */
    bool dirty;
};

/* Bytes of output c produced so far (what an exchange measures its response by). */
static inline uint64_t edge__conn_out_pos(const struct edge_conn *c)
{
    return c->out_base + c->out.len;
}

/* c got output from inside an isolate: it is written on the next loop turn, outside any
 * isolate (so the kernel's copy is not the tenant's CPU time). */
void edge__conn_mark_dirty(struct edge_conn *c);
/* The shard's writer idle handle: writes every dirty connection. */
void edge__shard_write_dirty(struct edge_shard *sh);

/* Accepts on one of a shard's listeners (admin: the operator's). */
void edge__conn_accept(struct edge_shard *sh, uv_stream_t *listener, bool admin);
/* Starts answering a request on the admin listener: the admin API (deploy/'s dp_handle) runs on
 * libuv's thread pool, since it waits for fsyncs and compiles, and the answer is written into
 * ex's connection (if it is still there) on the shard's loop, which then finishes ex. The
 * request's body is taken from the parser. */
void edge__admin_start(struct edge_exchange *ex, const struct h1_request *req);
/* The exchange is over without a worker (an admin answer): log it, release it. */
void edge__exchange_finish(struct edge_exchange *ex);
/* Opens a listening socket (SO_REUSEPORT). Returns the fd or a negative code; *bound_port is
 * the port actually bound (port 0 picks one). */
int edge__open_listener(const char *host, int port, int *bound_port, struct ed_error *err);
/* Closes a connection now (drain, forced stop). */
void edge__conn_close(struct edge_conn *c);
/* Whether c is between requests (safe to close when draining). */
bool edge__conn_idle(const struct edge_conn *c);

/* Starts answering one complete request: router, isolate, response into c->out. When the
 * answer is complete (at once, or later from the worker's sink) edge__conn_answered(c) is
 * called; until then c->ex is set. Sets c->close_after_write when the connection must close
 * after the response. */
void edge__dispatch(struct edge_conn *c, const struct h1_request *req);
/* c's request outlived the wall-time limit while its worker waits: answer 503, retire. */
void edge__exchange_timeout(struct edge_exchange *ex);
/* The exchange of c finished: log it, release the request, continue with pipelined input. */
void edge__conn_answered(struct edge_conn *c);
/* Writes what c->out holds (progress of a response produced later). */
void edge__conn_flush(struct edge_conn *c);
/* The connection is going away while its exchange is pending: a streamed response is
 * cancelled (the worker's stream gets cancel()). */
void edge__exchange_detach(struct edge_exchange *ex);
/* c's output drained: a response stream paused for it reads on. Not from inside a sink. */
void edge__conn_resume(struct edge_conn *c);
/* The worker read some of c's streamed request body: reading may start again. */
void edge__conn_read_body(struct edge_conn *c);
/* More of ex's streamed request body arrived, or it ended (a worker waiting for it wakes). */
void edge__exchange_body_arrived(struct edge_exchange *ex);
/* ex's streamed request body cannot be completed (code: ED_ETOOBIG, ED_ETIMEDOUT, ED_EHTTP,
 * ED_ECANCELED): the worker's reads fail from now on. With status (not 0) and no response
 * head out yet, the node answers status with reason (static) itself and the connection
 * closes; c->ex is then NULL. May free ex. */
void edge__exchange_body_failed(struct edge_exchange *ex, int code, int status, const char *reason);
/* Frees retired instances that no longer run anything; called once per loop turn. */
void edge__shard_bury(struct edge_shard *sh, bool all);

/* Appends an access-log line for a finished request; bytes counts the whole response, head
 * included (what the client was sent). req may be NULL for a request that never parsed. */
void edge__access_log(struct edge_shard *sh, const char *tenant, const char *worker,
                      const struct h1_request *req, int status, uint64_t bytes, uint64_t wall_ns,
                      uint64_t cpu_ns);

/* This shard's isolate of w, built on first use (its top-level code runs under the given
 * budgets, its CPU added to *cpu_ns). Borrowed: valid until retired and buried. */
int edge__instance_get(struct edge_shard *sh, const struct edge_worker *w, uint64_t cpu_budget,
                       uint64_t wall_budget, struct edge_instance **out, uint64_t *cpu_ns,
                       struct ed_error *err);
/* Takes inst out of service (a limit stopped it): freed once nothing runs on it. */
void edge__instance_retire(struct edge_shard *sh, struct edge_instance *inst, bool force);
/* Takes inst out of service because its worker left the site (a deploy): new requests go to
 * the new worker; its requests, and the calls of durable objects busy on it, finish on it,
 * and it is freed once nothing runs on it. */
void edge__instance_drain(struct edge_shard *sh, struct edge_instance *inst);
/* Every instance of the shard's map, retired (the shard is ending) into the graveyard. */
void edge__shard_retire_all(struct edge_shard *sh);

/* ---- durable objects (edge/objects.c) -------------------------------------------------------
 * An object lives on the shard its id names (st_object_shard), in that shard's isolate of the
 * worker that exports its class. A call from any isolate goes to the owner shard's inbox (an
 * MPSC list and a uv_async_t) and runs there as its own loop task; its answer comes back the
 * same way. Each shard commits its objects' storage at the end of every loop turn and only
 * then lets the answers of calls that wrote leave (output gate); idle objects leave memory. */

/* The server's inboxes, one per shard: made before the shards start, freed after they ended
 * (answering what is left with ED_ECANCELED). */
int edge__inboxes_new(struct edge_server *srv, struct ed_error *err);
void edge__inboxes_free(struct edge_server *srv);
/* Reads the alarms a previous run left (st_alarms_list; blocks on the disk: at start-up,
 * before the shards run) into srv->boot_alarms. Returns 0 or a negative code with err set. */
int edge__objects_boot(struct edge_server *srv, struct ed_error *err);
/* Frees what edge__objects_boot read (after the shards ended). */
void edge__objects_boot_dispose(struct edge_server *srv);
/* The shard's part, on its thread, before and after its loop runs: its object databases
 * (st_objects), inbox wake-up, commit hooks and eviction timer. */
int edge__objects_start(struct edge_shard *sh, struct ed_error *err);
/* Stops taking calls: what is queued is answered with ED_ECANCELED; closes the handles. */
void edge__objects_close(struct edge_shard *sh);
/* Once the loop ended and the isolates are freed: commits and closes the databases. */
void edge__objects_free(struct edge_shard *sh);
/* Fills inst's host (loader host plus durable objects) before its isolate is created. */
void edge__objects_host(struct edge_instance *inst, const struct iso_host *loader_host);
/* inst is retired or freed: the objects it hosted are forgotten (their calls in flight still
 * get their answers). killed: a limit stopped its isolate, so what its objects (and their
 * facets) wrote since their last commit is rolled back, and the answers waiting for that
 * commit fail, as Workers discards the uncommitted writes of an isolate it stops. */
void edge__objects_instance_gone(struct edge_instance *inst, bool killed);
/* inst is draining (its worker was replaced by a deploy): its idle objects are forgotten now,
 * busy ones (calls in flight, a transaction open) keep taking their calls on it until they
 * are idle, so an object never has two live instances. */
void edge__objects_instance_drain(struct edge_instance *inst);

/* ---- live generations (edge/live.c) -----------------------------------------------------------
 * A builder thread turns the control plane (st_cp_*) plus the base site into a new site
 * whenever st_cp_generation() moves, and publishes it; every shard adopts it at its next loop
 * turn (uv_async): new requests see the new site, in-flight ones finish on the old worker
 * instances, which are drained and freed once idle. */

/* Builds the first generation (blocks on the disk) and starts the builder. Before the shards
 * start; edge__live_stop after they ended. Returns 0 or a negative code with err set. */
int edge__live_start(struct edge_server *srv, struct ed_error *err);
void edge__live_stop(struct edge_server *srv);
/* Starts the builder thread: once the shards are made (it wakes them), before they run. */
int edge__live_run(struct edge_server *srv, struct ed_error *err);
/* Stops the builder thread (before the shards' memory goes); edge__live_stop frees the rest. */
void edge__live_stop_builder(struct edge_server *srv);
/* The shard is closing its handles: no wake-up is sent to it any more, no waiter waits for it. */
void edge__live_shard_closed(struct edge_shard *sh);
/* The site published now (a reference: unref it). */
struct edge_site *edge__live_current(struct edge_server *srv);
/* The control plane changed (an admin request): build now rather than at the next poll. */
void edge__live_kick(struct edge_server *srv);
/* Waits at most timeout_ms until every running shard serves generation gen or a later one.
 * Returns whether they all do. Blocks: not for a shard's loop. */
bool edge__live_wait(struct edge_server *srv, uint64_t gen, uint32_t timeout_ms);
/* The shard's part: adopt what is published (on its thread; at start and on site_wake). */
void edge__shard_adopt(struct edge_shard *sh);

/* Shard lifecycle: edge__shard_run is the thread body. */
int edge__shard_init(struct edge_shard *sh, struct edge_server *srv, int id, int listen_fd,
                     int admin_fd, struct ed_error *err);
void edge__shard_run(void *arg);
/* A connection of sh was freed: lets a drain finish. */
void edge__shard_conn_gone(struct edge_shard *sh);

#endif
