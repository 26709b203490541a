/*
 * The node's main thread: parses flags, loads the site, starts V8 and the watchdog, binds one
 * SO_REUSEPORT listener per shard, runs the shard threads, and turns SIGTERM/SIGINT into a
 * bounded drain. A second signal forces the shards to close every connection at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deploy/deploy.h"
#include "edge/edge.h"
#include "edge/edge_int.h"

/* A listening socket with SO_REUSEPORT, so each shard accepts on its own and the kernel
 * spreads connections between them without a shared accept lock. */
int edge__open_listener(const char *host, int port, int *bound_port, struct ed_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sslen = sizeof *in4;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *in6;
    } else {
        return ed_error_set(err, ED_EINVAL, "--listen: '%s' is not an IP address", host);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ed_error_set(err, -errno, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&ss, sslen) || listen(fd, 1024)) {
        int e = errno;
        close(fd);
        return ed_error_set(err, -e, "cannot listen on %s:%d: %s", host, port, strerror(e));
    }
    sslen = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sslen);
    *bound_port = ntohs(ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
    return fd;
}

int edge__outbound_init(struct edge_outbound *ob, const struct edge_config *cfg,
                        struct ed_error *err)
{
    memset(ob, 0, sizeof *ob);
    ob->connect_timeout_ms = cfg->outbound_connect_timeout_ms;
    ob->timeout_ms = cfg->outbound_timeout_ms;
    int rc = edge__netlist_defaults(&ob->net);
    for (size_t i = 0; rc == 0 && i < cfg->n_outbound_allow; i++)
        rc = edge__netlist_add(&ob->net, cfg->outbound_allow[i], true, err);
    for (size_t i = 0; rc == 0 && i < cfg->n_outbound_deny; i++)
        rc = edge__netlist_add(&ob->net, cfg->outbound_deny[i], false, err);
    if (rc)
        return rc == ED_ENOMEM ? ed_error_set(err, rc, "out of memory") : rc;
    /* https: needs trusted certificates; without the system's a node still serves (fetch() to
     * https: fails saying why), but an operator's --outbound-ca must load */
    const char *ca = cfg->outbound_ca ? cfg->outbound_ca : EDGE_SYSTEM_CA;
    struct ed_error tls_err = {0};
    rc = edge__tls_ctx_new(ca, &ob->tls, &tls_err);
    if (rc && cfg->outbound_ca) {
        ed_error_set(err, ED_ECONFIG, "--outbound-ca: %s", ed_error_msg(&tls_err));
        ed_error_dispose(&tls_err);
        return ED_ECONFIG;
    }
    if (rc) {
        ED_WARN("event=outbound_tls_unavailable error=\"%s\"", ed_error_msg(&tls_err));
        ob->tls_error = ed_strdup(ed_error_msg(&tls_err));
    }
    ed_error_dispose(&tls_err);
    return 0;
}

void edge__outbound_dispose(struct edge_outbound *ob)
{
    edge__netlist_dispose(&ob->net);
    edge__tls_ctx_free(ob->tls);
    free(ob->tls_error);
    ob->tls = NULL;
    ob->tls_error = NULL;
}

/* Written via rename so a reader never sees a half-written port. */
static int write_port_file(const char *path, int port, int admin_port, struct ed_error *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 ||
        (admin_port >= 0 && fprintf(f, "%d\n", admin_port) < 0) || fclose(f) != 0 ||
        rename(tmp, path) != 0)
        return ed_error_set(err, ED_EIO, "cannot write --port-file %s: %s", path, strerror(errno));
    return 0;
}

struct main_loop {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    struct edge_server *srv;
};

static void on_signal(uv_signal_t *h, int signum)
{
    struct main_loop *m = h->data;
    int was = atomic_fetch_add(&m->srv->drain, 1);
    ED_INFO("event=%s signal=%s", was == 0 ? "drain" : "force_stop",
            signum == SIGTERM ? "SIGTERM" : "SIGINT");
    for (int i = 0; i < m->srv->n_shards; i++)
        uv_async_send(&m->srv->shards[i].wake);
    if (was >= 1) {
        uv_close((uv_handle_t *)&m->sigterm, NULL);
        uv_close((uv_handle_t *)&m->sigint, NULL);
    }
}

static void on_all_shards_done(uv_async_t *h)
{
    struct main_loop *m = h->data;
    uv_close((uv_handle_t *)h, NULL);
    if (!uv_is_closing((uv_handle_t *)&m->sigterm)) {
        uv_close((uv_handle_t *)&m->sigterm, NULL);
        uv_close((uv_handle_t *)&m->sigint, NULL);
    }
}

struct shard_waiter {
    struct edge_server *srv;
    uv_async_t *done;
};

static void wait_shards(void *arg)
{
    struct shard_waiter *w = arg;
    for (int i = 0; i < w->srv->n_shards; i++)
        uv_thread_join(&w->srv->shards[i].thread);
    uv_async_send(w->done);
}

static int open_access_log(const char *path, struct ed_error *err)
{
    if (strcmp(path, "-") == 0)
        return 2;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return ed_error_set(err, ED_ECONFIG, "cannot open --access-log %s: %s", path,
                            strerror(errno));
    return fd;
}

/* Runs the shards until they have drained. Returns 0 or a negative code with err set. */
static int serve(struct edge_server *srv, struct ed_error *err)
{
    const struct edge_config *cfg = srv->cfg;
    int rc = 0, port = cfg->listen_port, started = 0, admin_port = -1, admin_fd = -1;
    srv->shards = calloc((size_t)cfg->threads, sizeof *srv->shards);
    if (!srv->shards)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    if (edge__inboxes_new(srv, err) != 0) {
        free(srv->shards);
        return ED_ENOMEM;
    }
    if (cfg->admin_host) {
        admin_fd = edge__open_listener(cfg->admin_host, cfg->admin_port, &admin_port, err);
        if (admin_fd < 0)
            rc = admin_fd;
    }
    for (int i = 0; i < cfg->threads && rc == 0; i++) {
        int fd = edge__open_listener(cfg->listen_host, port, &port, err);
        if (fd < 0)
            rc = fd;
        else if ((rc = edge__shard_init(&srv->shards[i], srv, i, fd, i == 0 ? admin_fd : -1,
                                        err)) != 0)
            close(fd);
        else
            srv->n_shards++;
    }
    if (rc && admin_fd >= 0 && srv->n_shards == 0)
        close(admin_fd);
    /* workers may not fetch() the node itself, on any of its ports (loops, the admin API) */
    if (rc == 0 &&
        (edge__netlist_self_port(&srv->outbound.net, (uint16_t)port) ||
         (admin_port >= 0 && edge__netlist_self_port(&srv->outbound.net, (uint16_t)admin_port))))
        rc = ed_error_set(err, ED_ENOMEM, "out of memory");
    if (rc == 0 && cfg->port_file)
        rc = write_port_file(cfg->port_file, port, admin_port, err);

    /* Shards never see SIGTERM/SIGINT: the main loop turns them into a drain. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; rc == 0 && i < srv->n_shards; i++) {
        if (uv_thread_create(&srv->shards[i].thread, edge__shard_run, &srv->shards[i]) != 0)
            rc = ed_error_set(err, ED_ENOMEM, "cannot start shard thread %d", i);
        else
            started++;
    }
    /* the builder wakes the shards: it starts once they exist */
    if (rc == 0 && edge__live_run(srv, err) != 0) {
        rc = ED_ENOMEM;
    }
    sigdelset(&block, SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (rc == 0) {
        struct edge_site *site = edge__live_current(srv);
        ED_INFO("event=listening addr=%s port=%d admin_port=%d threads=%d tenants=%zu "
                "workers=%zu generation=%llu v8=%s",
                cfg->listen_host, port, admin_port, srv->n_shards, site->n_tenants, site->n_workers,
                (unsigned long long)site->generation, iso_v8_version());
        edge__site_unref(site);
    } else
        atomic_store(&srv->drain, 2);

    struct main_loop m = {.srv = srv};
    uv_async_t done;
    uv_loop_init(&m.loop);
    uv_signal_init(&m.loop, &m.sigterm);
    uv_signal_init(&m.loop, &m.sigint);
    m.sigterm.data = m.sigint.data = done.data = &m;
    uv_async_init(&m.loop, &done, on_all_shards_done);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    for (int i = 0; i < srv->n_shards; i++) /* a failed start drains what did start */
        if (rc)
            uv_async_send(&srv->shards[i].wake);
    struct shard_waiter w = {.srv = srv, .done = &done};
    int all = srv->n_shards;
    srv->n_shards = started; /* join only threads that run */
    uv_thread_t waiter;
    uv_thread_create(&waiter, wait_shards, &w);
    uv_run(&m.loop, UV_RUN_DEFAULT);
    uv_thread_join(&waiter);
    uv_loop_close(&m.loop);
    edge__live_stop_builder(srv); /* the shards that ran have ended */
    srv->n_shards = all;
    for (int i = started; i < all; i++) /* initialised but never ran: tear down here */
        edge__shard_run(&srv->shards[i]);
    edge__inboxes_free(srv); /* every shard ended: what is left is answered to nobody */
    free(srv->shards);
    srv->shards = NULL;
    return rc;
}

/* Connections, outbound sockets and open durable object databases (three descriptors each) all
 * take file descriptors; Debian's default soft limit of 1024 would run out long before the
 * node's own caps do, so take what the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        ED_WARN("cannot raise the open files limit from %llu: %s", (unsigned long long)was,
                strerror(errno));
}

/* tenant.conf tokens (token_sha256) for the admin API: constant-time over every hash. */
static const char *site_token(void *ud, const uint8_t sha256[32])
{
    const struct edge_site *site = ud;
    const char *found = NULL;
    for (size_t i = 0; i < site->n_tenants; i++) {
        const struct edge_tenant *t = site->tenants[i];
        for (size_t k = 0; k < t->n_tokens; k++) {
            uint8_t d = 0;
            for (size_t b = 0; b < 32; b++)
                d |= t->token_hashes[k][b] ^ sha256[b];
            if (d == 0)
                found = t->name;
        }
    }
    return found;
}

static bool site_tenant(void *ud, const char *name)
{
    const struct edge_site *site = ud;
    for (size_t i = 0; i < site->n_tenants; i++)
        if (strcmp(site->tenants[i]->name, name) == 0)
            return true;
    return false;
}

/* dp_config.storage: the totals the shards keep of a tenant's durable objects (tenants of the
 * tenants directory; the control plane's have no storage counts yet). */
static int site_storage(void *ud, const char *name, uint64_t *bytes, uint64_t *objects)
{
    const struct edge_site *site = ud;
    for (size_t i = 0; i < site->n_tenants; i++)
        if (strcmp(site->tenants[i]->name, name) == 0 && site->tenants[i]->quota) {
            st_quota_get(site->tenants[i]->quota, bytes, objects);
            return 0;
        }
    return ED_ENOENT;
}

/* The operator's token (made and shown once, on a data directory's first start) and the admin
 * API the admin listener calls. */
static int start_admin(struct edge_server *srv, struct ed_error *err)
{
    const struct edge_config *cfg = srv->cfg;
    char *token = NULL;
    int rc = dp_operator_token_init(srv->db, cfg->data_dir, &token, err);
    if (rc)
        return rc;
    if (token) {
        fprintf(stderr, "edged: operator token (shown once): %s\n", token);
        ED_INFO("event=operator_token_created file=\"%s/operator.token\"", cfg->data_dir);
        memset(token, 0, strlen(token));
        free(token);
    }
    struct dp_config dc = {.db = srv->db,
                           .data_dir = cfg->data_dir,
                           .defaults = {.cpu_ms = cfg->cpu_ms, .heap_mb = cfg->heap_mb},
                           .site_token = site_token,
                           .site_tenant = site_tenant,
                           .storage = site_storage,
                           .ud = srv->site};
    return dp_api_new(&dc, &srv->api, err);
}

int edge_main(int argc, char **argv)
{
    struct edge_config cfg;
    struct ed_error err = {0};
    struct edge_site *site = NULL;
    int exit_code = 2;
    if (argc > 1 && strcmp(argv[1], "test") == 0)
        return edge__jstest_main(argc - 1, argv + 1);
    int rc = edge__config_parse(&cfg, argc, argv, &err);
    if (rc == EDGE_CONFIG_EXIT_OK) {
        exit_code = 0;
        goto out_config;
    }
    if (rc < 0)
        goto out_config;
    ed_log_level = cfg.log_level;
    raise_fd_limit();
    rc = edge__site_load(&cfg, &site, &err);
    if (rc)
        goto out_config;

    exit_code = 1;
    int access_fd = open_access_log(cfg.access_log, &err);
    if (access_fd < 0) {
        exit_code = 2;
        goto out_site;
    }
    rc = iso_platform_init(&err);
    if (rc)
        goto out_access;
    /* every bundle compiles and links before the node takes a request */
    rc = edge__site_check(site, &err);
    if (rc) {
        exit_code = 2;
        goto out_platform;
    }
    rc = iso_watchdog_start(&err);
    if (rc)
        goto out_platform;
    struct edge_server srv = {.cfg = &cfg, .site = site, .access_fd = access_fd};
    rc = edge__outbound_init(&srv.outbound, &cfg, &err);
    if (rc) {
        exit_code = 2;
        goto out_outbound;
    }
    struct st_db *db = NULL;
    rc = st_open(cfg.data_dir, 0, &db, &err);
    if (rc)
        goto out_outbound;

    srv.db = db;
    if ((rc = start_admin(&srv, &err)))
        goto out_db;
    /* the first generation: the tenants directory's and the control plane's */
    if ((rc = edge__live_start(&srv, &err)))
        goto out_db;
    /* durable object ids need the node's key (a deploy may bring objects at any time) */
    rc = st_node_key(db, srv.node_key, &err);
    if (rc == 0)
        rc = edge__objects_boot(&srv, &err);
    if (rc)
        goto out_live;
    atomic_init(&srv.drain, 0);
    rc = serve(&srv, &err);
    if (rc == 0) {
        exit_code = 0;
        struct iso_code_cache_stats cc;
        iso_code_cache_stats(&cc);
        ED_INFO("event=code_cache hits=%llu misses=%llu rejected=%llu evicted=%llu entries=%llu "
                "bytes=%llu",
                (unsigned long long)cc.hits, (unsigned long long)cc.misses,
                (unsigned long long)cc.rejected, (unsigned long long)cc.evicted,
                (unsigned long long)cc.entries, (unsigned long long)cc.bytes);
        struct edge_outbound *ob = &srv.outbound;
        ED_INFO("event=outbound connects=%llu reused=%llu denied=%llu tls_handshakes=%llu "
                "failures=%llu",
                (unsigned long long)atomic_load(&ob->connects),
                (unsigned long long)atomic_load(&ob->reused),
                (unsigned long long)atomic_load(&ob->denied),
                (unsigned long long)atomic_load(&ob->tls_handshakes),
                (unsigned long long)atomic_load(&ob->failures));
        ED_INFO("event=stopped");
    }
out_live:
    edge__objects_boot_dispose(&srv);
    edge__live_stop(&srv);
out_db:
    dp_api_free(srv.api);
    st_close(db); /* flushes the usage counters the shards queued */
out_outbound:
    edge__outbound_dispose(&srv.outbound);
    iso_watchdog_stop();
out_platform:
    iso_platform_dispose();
out_access:
    if (access_fd != 2)
        close(access_fd);
out_site:
    edge__site_unref(site);
out_config:
    if (exit_code != 0 || rc < 0) {
        if (err.code)
            fprintf(stderr, "edged: %s\n", ed_error_msg(&err));
    }
    edge__config_dispose(&cfg);
    ed_error_dispose(&err);
    return exit_code;
}
