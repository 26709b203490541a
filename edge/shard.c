/*
 * A shard: one thread, one libuv loop, one SO_REUSEPORT listener, and the isolates it
 * created (an isolate never changes thread). The shard owns its connections and one isolate
 * per worker it has served; it drains when the main thread asks, and frees its isolates on
 * the way out, on its own thread.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/edge_int.h"

static void flush_access_log(struct edge_shard *sh)
{
    if (sh->access.len == 0)
        return;
    ssize_t w = write(sh->srv->access_fd, sh->access.data, sh->access.len);
    (void)w; /* a full disk must not stop serving */
    ed_buf_clear(&sh->access);
}

/* Once per loop turn, after every callback of the turn has returned (so no isolate is on
 * the stack): write the access log, free retired isolates nothing runs on any more. */
static void on_flush(uv_check_t *h)
{
    struct edge_shard *sh = h->data;
    flush_access_log(sh);
    if (sh->graveyard)
        edge__shard_bury(sh, false);
}

static void on_site_wake(uv_async_t *h)
{
    edge__shard_adopt(h->data);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct edge_shard *sh = listener->data;
    if (status < 0) {
        ED_WARN("event=accept_error shard=%d error=%s", sh->id, uv_err_name(status));
        return;
    }
    edge__conn_accept(sh, listener, listener == (uv_stream_t *)&sh->admin);
}

/* The loop ends once every handle is closed: listener, wake, flush, timers, connections. */
static void close_shard_handles(struct edge_shard *sh)
{
    edge__objects_close(sh); /* commits, answers what it held, refuses further calls */
    ld_shard_close(sh->loader);
    edge__fetcher_close(sh->fetcher); /* pooled connections, fetches still in flight */
    edge__live_shard_closed(sh);      /* no new generation is sent to it any more */
    uv_handle_t *hs[] = {(uv_handle_t *)&sh->wake,     (uv_handle_t *)&sh->flush,
                         (uv_handle_t *)&sh->writer,   (uv_handle_t *)&sh->drain_timer,
                         (uv_handle_t *)&sh->listener, (uv_handle_t *)&sh->site_wake};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], NULL);
    if (sh->has_admin && !uv_is_closing((uv_handle_t *)&sh->admin))
        uv_close((uv_handle_t *)&sh->admin, NULL);
}

static void maybe_finish_drain(struct edge_shard *sh)
{
    if (sh->draining && sh->n_conns == 0)
        close_shard_handles(sh);
}

static void close_all(struct edge_shard *sh, bool idle_only)
{
    struct edge_conn *c = sh->conns;
    while (c) {
        struct edge_conn *next = c->next;
        if (!idle_only || edge__conn_idle(c))
            edge__conn_close(c);
        c = next;
    }
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct edge_shard *sh = t->data;
    ED_WARN("event=drain_timeout shard=%d open_connections=%zu", sh->id, sh->n_conns);
    close_all(sh, false);
}

static void on_wake(uv_async_t *h)
{
    struct edge_shard *sh = h->data;
    int drain = atomic_load(&sh->srv->drain);
    if (drain == 0)
        return;
    if (!sh->draining) {
        sh->draining = true;
        uv_close((uv_handle_t *)&sh->listener, NULL);
        if (sh->has_admin)
            uv_close((uv_handle_t *)&sh->admin, NULL);
        uv_timer_start(&sh->drain_timer, on_drain_timeout, sh->srv->cfg->drain_timeout_ms, 0);
    }
    /* idle keep-alive connections go now; the rest close after their response */
    close_all(sh, drain < 2);
    maybe_finish_drain(sh);
}

int edge__shard_init(struct edge_shard *sh, struct edge_server *srv, int id, int listen_fd,
                     int admin_fd, struct ed_error *err)
{
    memset(sh, 0, sizeof *sh);
    sh->id = id;
    sh->srv = srv;
    sh->listen_fd = listen_fd;
    ed_buf_init(&sh->access);
    sh->site = edge__live_current(srv);
    atomic_init(&sh->site_gen, sh->site->generation);
    int rc = uv_loop_init(&sh->loop);
    if (rc) {
        edge__site_unref(sh->site);
        return ed_error_set(err, rc, "shard %d: uv_loop_init: %s", id, uv_strerror(rc));
    }

    uv_tcp_init(&sh->loop, &sh->listener);
    uv_async_init(&sh->loop, &sh->wake, on_wake);
    uv_check_init(&sh->loop, &sh->flush);
    uv_idle_init(&sh->loop, &sh->writer);
    uv_timer_init(&sh->loop, &sh->drain_timer);
    uv_async_init(&sh->loop, &sh->site_wake, on_site_wake);
    sh->site_wake.data = sh;
    sh->listener.data = sh->wake.data = sh->flush.data = sh->drain_timer.data = sh;
    sh->writer.data = sh;
    rc = uv_tcp_open(&sh->listener, listen_fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&sh->listener, 1024, on_connection);
    if (rc) {
        ed_error_set(err, rc, "shard %d: listen: %s", id, uv_strerror(rc));
        goto out_handles;
    }
    if (admin_fd >= 0) {
        uv_tcp_init(&sh->loop, &sh->admin);
        sh->admin.data = sh;
        sh->has_admin = true;
        rc = uv_tcp_open(&sh->admin, admin_fd);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&sh->admin, 128, on_connection);
        if (rc) {
            ed_error_set(err, rc, "admin listener: %s", uv_strerror(rc));
            goto out_handles;
        }
    }
    uv_check_start(&sh->flush, on_flush);
    return 0;

out_handles:
    close_shard_handles(sh);
    uv_run(&sh->loop, UV_RUN_DEFAULT);
    uv_loop_close(&sh->loop);
    edge__site_unref(sh->site);
    sh->site = NULL;
    return rc;
}

void edge__shard_run(void *arg)
{
    struct edge_shard *sh = arg;
    if (iso_watch_slot_new(&sh->watch) != 0) {
        ED_ERROR("event=watchdog_error shard=%d", sh->id);
        atomic_store(&sh->srv->drain, 2);
    }
    struct ed_error err = {0};
    if (edge__fetcher_new(&sh->loop, &sh->srv->outbound, &sh->fetcher, &err) != 0) {
        ED_ERROR("event=outbound_error shard=%d error=\"%s\"", sh->id, ed_error_msg(&err));
        atomic_store(&sh->srv->drain, 2);
    }
    /* the loader runs children on this thread, under this thread's watchdog slot; parents and
     * children fetch() through this shard's client */
    struct ld_config lc = {.loop = &sh->loop,
                           .watch = sh->watch,
                           .db = sh->srv->db,
                           .shards = (uint32_t)sh->srv->n_shards,
                           .fetcher = sh->fetcher ? edge__fetcher_iface(sh->fetcher) : NULL};
    if (ld_shard_new(&lc, &sh->loader, &err) != 0) {
        ED_ERROR("event=loader_error shard=%d error=\"%s\"", sh->id, ed_error_msg(&err));
        atomic_store(&sh->srv->drain, 2);
    }
    if (edge__objects_start(sh, &err) != 0) {
        ED_ERROR("event=objects_error shard=%d error=\"%s\"", sh->id, ed_error_msg(&err));
        atomic_store(&sh->srv->drain, 2);
    }
    ed_error_dispose(&err);
    if (atomic_load(&sh->srv->drain))
        on_wake(&sh->wake);
    edge__shard_adopt(sh); /* what was published since the shard was made */
    uv_run(&sh->loop, UV_RUN_DEFAULT);
    flush_access_log(sh);
    edge__shard_retire_all(sh);
    edge__shard_bury(sh, true); /* isolates die on the thread that made them */
    edge__objects_free(sh);     /* the last commit; answers to isolates gone are dropped */
    ld_shard_free(sh->loader);
    if (sh->fetcher) { /* after the isolates: their last answers come now */
        edge__fetcher_close(sh->fetcher);
        edge__fetcher_free(sh->fetcher);
        uv_run(&sh->loop, UV_RUN_DEFAULT);
    }
    edge__site_unref(sh->site);
    sh->site = NULL;
    if (sh->watch)
        iso_watch_slot_free(sh->watch);
    ed_buf_dispose(&sh->access);
    uv_loop_close(&sh->loop);
}

void edge__shard_conn_gone(struct edge_shard *sh)
{
    maybe_finish_drain(sh);
}
