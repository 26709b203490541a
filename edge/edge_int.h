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

struct edge_tenant {
    char *name;
    uint32_t cpu_ms, heap_mb;
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

/* A deployed worker: code and the tenant it belongs to. Immutable once loaded; shared by all
 * shards (each shard builds its own isolate of it, see edge_shard.instances). */
struct edge_worker {
    char *name;
    struct edge_tenant *tenant; /* borrowed from the site */
    size_t index;               /* position in site->workers: a shard's instance slot */
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
    bool retiring;
    bool force; /* free even with invocations in flight (a wall-time kill) */
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
    struct edge_instance **instances; /* per site worker index; NULL until first use */
    struct edge_instance *graveyard;  /* retired instances waiting to be freed */
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

struct edge_server {
    const struct edge_config *cfg; /* borrowed */
    struct edge_site *site;        /* borrowed */
    struct edge_shard *shards;
    int n_shards;
    int access_fd;
    struct st_db *db;              /* control plane: usage counters */
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
/* Answers a request on the admin listener (GET /v1/usage...) into c->out. Returns the
 * status it answered with. */
int edge__admin_answer(struct edge_conn *c, const struct h1_request *req, int keep_alive);
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

/* Shard lifecycle: edge__shard_run is the thread body. */
int edge__shard_init(struct edge_shard *sh, struct edge_server *srv, int id, int listen_fd,
                     int admin_fd, struct ed_error *err);
void edge__shard_run(void *arg);
/* A connection of sh was freed: lets a drain finish. */
void edge__shard_conn_gone(struct edge_shard *sh);

#endif
