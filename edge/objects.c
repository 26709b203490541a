/*
 * Durable objects on the shards. An object lives on the shard its id names (st_object_shard:
 * the first 8 bytes of the id modulo the shards), in that shard's isolate of the worker that
 * exports its class, as one instance the runtime keeps per object handle. A call to an object,
 * from any isolate on any shard, is a message to the owner shard's inbox (a list under a mutex
 * and a uv_async_t, so many shards can post and one takes); the owner runs each call as its
 * own loop task, and the answer travels back the same way (or directly, on the same shard).
 * Storage goes through the shard's st_objects, on the shard's thread: every operation runs in
 * the object's implicit transaction, and at the end of each loop turn (uv_prepare, before the
 * loop may block, and uv_check, after the I/O callbacks) the shard commits every object that
 * has one — one WAL append per object for all the calls of the turn (group commit) — and only
 * then lets the answers of those objects' calls leave (output gate). A commit that fails fails
 * the answers it held and drops the instance, which is rebuilt from its database on the next
 * call. An object unused for --object-idle-ms leaves memory; a retired isolate's objects are
 * forgotten with it, and their next call builds them in the isolate that replaces it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge/edge_int.h"

/* ---- messages and inboxes ------------------------------------------------------------------ */

enum { MSG_CALL = 1, MSG_ANSWER };

/* A call to an object and then, the same record, its answer. */
struct edge_msg {
    struct edge_msg *next;
    int kind;
    int from;                         /* the caller's shard: where the answer goes */
    const struct edge_worker *worker; /* the object's worker (a reference) */
    size_t ns;                        /* its namespace in worker->objects */
    char hex[ST_OBJECT_ID_HEX];
    char *name; /* idFromName's name, NULL otherwise */
    size_t name_len;
    char *method;
    uint8_t *data; /* the arguments, then the result */
    size_t len;
    int code; /* the answer's */
    char *msg;
    iso_answer_cb cb; /* the caller's, called on its shard */
    void *cb_ud;
    uint64_t cpu_ns;
    struct edge_object *obj; /* while the owner runs it */
    uint32_t alarm_retries;  /* an alarm's: how many times alarm() failed before */
    int64_t alarm_at;
    /* a facet's call, from the loader (on this shard): its answer, and where its CPU goes */
    iso_result_cb rcb;
    void *rcb_ud;
    uint64_t *cpu_out;
};

struct edge_inbox {
    pthread_mutex_t lock;
    struct edge_msg *head, *tail;
    uv_async_t *async; /* the owner's wake-up while its loop takes messages */
    bool closed;       /* the owner stopped: calls are refused */
};

static void msg_free(struct edge_msg *m)
{
    edge__worker_unref((struct edge_worker *)m->worker);
    free(m->name);
    free(m->method);
    free(m->data);
    free(m->msg);
    free(m);
}

/* Appends m to shard's inbox. A call to a shard that stopped is refused (false; m is still the
 * caller's); an answer is always taken (the server answers what is left when it ends). */
static bool inbox_push(struct edge_server *srv, int shard, struct edge_msg *m)
{
    struct edge_inbox *in = &srv->inboxes[shard];
    pthread_mutex_lock(&in->lock);
    if (in->closed && m->kind == MSG_CALL) {
        pthread_mutex_unlock(&in->lock);
        return false;
    }
    m->next = NULL;
    if (in->tail)
        in->tail->next = m;
    else
        in->head = m;
    in->tail = m;
    if (in->async)
        uv_async_send(in->async);
    pthread_mutex_unlock(&in->lock);
    return true;
}

static struct edge_msg *inbox_take(struct edge_inbox *in)
{
    pthread_mutex_lock(&in->lock);
    struct edge_msg *m = in->head;
    in->head = in->tail = NULL;
    pthread_mutex_unlock(&in->lock);
    return m;
}

int edge__inboxes_new(struct edge_server *srv, struct ed_error *err)
{
    int n = srv->cfg->threads;
    srv->inboxes = calloc((size_t)n, sizeof *srv->inboxes);
    if (!srv->inboxes)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        pthread_mutex_init(&srv->inboxes[i].lock, NULL);
    return 0;
}

/* The caller of a message that no shard will answer any more: every shard has ended, so its
 * isolate is gone too and the answer only frees the shim's record of the call. */
static void answer_orphan(struct edge_msg *m)
{
    if (m->cb)
        m->cb(m->cb_ud, m->kind == MSG_ANSWER ? m->code : ED_ECANCELED,
              m->kind == MSG_ANSWER ? m->data : NULL, m->kind == MSG_ANSWER ? m->len : 0,
              m->msg ? m->msg : "the node is shutting down", 0);
    msg_free(m);
}

void edge__inboxes_free(struct edge_server *srv)
{
    if (!srv->inboxes)
        return;
    for (int i = 0; i < srv->cfg->threads; i++) {
        for (struct edge_msg *m = inbox_take(&srv->inboxes[i]), *next; m; m = next) {
            next = m->next;
            answer_orphan(m);
        }
        pthread_mutex_destroy(&srv->inboxes[i].lock);
    }
    free(srv->inboxes);
    srv->inboxes = NULL;
}

/* ---- the owner's records ------------------------------------------------------------------- */

/* An object this shard hosts: the handle its isolate knows it by, calls in flight, whether its
 * transaction is open, and the answers waiting for the commit. */
struct edge_object {
    struct edge_object *next_name, *next_key; /* hash chains */
    struct edge_object *prev, *next;          /* inst->objects */
    struct edge_object *next_dirty;           /* os->dirty */
    struct edge_objects *os;                  /* the shard's */
    struct edge_instance *inst;               /* NULL once forgotten (the isolate retired) */
    const struct edge_worker *worker;         /* a reference */
    const char *cls;                          /* borrowed from the worker */
    size_t ns;                                /* its namespace in worker->objects */
    uint64_t key;
    char hex[ST_OBJECT_ID_HEX];
    uint32_t calls; /* in flight */
    bool dirty;     /* in os->dirty: its transaction is open */
    bool committed; /* st_objects_commit reported it */
    int commit_code;
    char *commit_msg;
    uint64_t last_used_ns;
    struct edge_msg *held, *held_tail; /* answers that wait for its commit */
    /* A facet of the object with handle parent_key (its storage beside that object's, under
     * the same tenant, cls and hex): an instance of facet_cls in the loader's child isolate
     * child (NULL once it went, or the facet was aborted). */
    bool is_facet;
    struct iso_worker *child;
    uint64_t parent_key;
    char *facet, *facet_cls; /* owned */
    size_t facet_len;
    /* Its transaction was rolled back (a limit stopped its isolate, an abort): the answers
     * that waited for it fail with this at the end of the turn. */
    bool reset;
    int reset_code;
    char *reset_msg;
};

struct edge_objects {
    struct edge_shard *sh;
    struct st_objects *store;
    uv_async_t async;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_timer_t sweep;
    int handles;
    struct edge_object **by_name, **by_key;
    size_t buckets, count;
    uint64_t next_key;
    struct edge_object *dirty;
    uint64_t idle_ns;
    bool closed;
    bool uncommitted; /* a write no record stands for (an alarm's retry): commit at turn's end */
    /* alarms of this shard's objects, earliest first, and the timer set to the first */
    struct edge_alarm *alarms;
    size_t n_alarms, cap_alarms;
    uv_timer_t alarm_timer;
};

/* An object's alarm as the shard keeps it: when, and how many times alarm() failed. */
struct edge_alarm {
    int64_t at_ms;
    const struct edge_worker *worker; /* a reference; the alarm runs in the worker hosting the
                                       * class when it fires */
    size_t ns;
    char hex[ST_OBJECT_ID_HEX];
    uint32_t retries;
};

static uint64_t hash_name(const char *cls, const char *hex)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = cls; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (const char *p = hex; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static uint64_t hash_key(uint64_t key)
{
    return key * 0x9e3779b97f4a7c15ull;
}

static int grow(struct edge_objects *os)
{
    size_t n = os->buckets ? os->buckets * 2 : 256;
    struct edge_object **by_name = calloc(n, sizeof *by_name);
    struct edge_object **by_key = calloc(n, sizeof *by_key);
    if (!by_name || !by_key) {
        free(by_name);
        free(by_key);
        return ED_ENOMEM;
    }
    for (size_t i = 0; i < os->buckets; i++) {
        for (struct edge_object *o = os->by_key[i], *next; o; o = next) {
            next = o->next_key;
            size_t k = hash_key(o->key) & (n - 1), m = hash_name(o->cls, o->hex) & (n - 1);
            o->next_key = by_key[k];
            by_key[k] = o;
            o->next_name = by_name[m];
            by_name[m] = o;
        }
    }
    free(os->by_name);
    free(os->by_key);
    os->by_name = by_name;
    os->by_key = by_key;
    os->buckets = n;
    return 0;
}

static struct edge_object *find_key(struct edge_objects *os, uint64_t key)
{
    if (!os->buckets)
        return NULL;
    for (struct edge_object *o = os->by_key[hash_key(key) & (os->buckets - 1)]; o; o = o->next_key)
        if (o->key == key)
            return o;
    return NULL;
}

/* The live record of (inst's worker, cls, hex), or NULL. */
static struct edge_object *find_live(struct edge_objects *os, struct edge_instance *inst,
                                     const char *cls, const char *hex)
{
    if (!os->buckets)
        return NULL;
    for (struct edge_object *o = os->by_name[hash_name(cls, hex) & (os->buckets - 1)]; o;
         o = o->next_name)
        if (o->inst == inst && !o->is_facet && strcmp(o->hex, hex) == 0 && strcmp(o->cls, cls) == 0)
            return o;
    return NULL;
}

/* The isolate that runs o's instance: its worker's, or for a facet its child's (NULL: gone). */
static struct iso_worker *record_w(const struct edge_object *o)
{
    if (o->is_facet)
        return o->child;
    return o->inst ? o->inst->w : NULL;
}

static void unlink_chain(struct edge_object **head, struct edge_object *o, bool by_name)
{
    for (struct edge_object **pp = head; *pp; pp = by_name ? &(*pp)->next_name : &(*pp)->next_key)
        if (*pp == o) {
            *pp = by_name ? o->next_name : o->next_key;
            return;
        }
}

static struct edge_object *object_new(struct edge_objects *os, struct edge_instance *inst,
                                      size_t ns, const char *hex)
{
    const char *cls = inst->worker->objects[ns].cls;
    if (os->count + 1 > os->buckets && grow(os) != 0)
        return NULL;
    struct edge_object *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->os = os;
    o->inst = inst;
    o->worker = edge__worker_ref((struct edge_worker *)inst->worker);
    o->cls = cls;
    o->ns = ns;
    o->key = ++os->next_key;
    memcpy(o->hex, hex, sizeof o->hex);
    size_t k = hash_key(o->key) & (os->buckets - 1), m = hash_name(cls, hex) & (os->buckets - 1);
    o->next_key = os->by_key[k];
    os->by_key[k] = o;
    o->next_name = os->by_name[m];
    os->by_name[m] = o;
    o->next = inst->objects;
    if (inst->objects)
        inst->objects->prev = o;
    inst->objects = o;
    os->count++;
    return o;
}

/* Takes o off its instance's list: its isolate no longer has it. */
static void object_forget(struct edge_object *o)
{
    struct edge_instance *inst = o->inst;
    if (!inst)
        return;
    if (o->prev)
        o->prev->next = o->next;
    else
        inst->objects = o->next;
    if (o->next)
        o->next->prev = o->prev;
    o->prev = o->next = NULL;
    o->inst = NULL;
}

static void object_free(struct edge_objects *os, struct edge_object *o)
{
    object_forget(o);
    unlink_chain(&os->by_key[hash_key(o->key) & (os->buckets - 1)], o, false);
    unlink_chain(&os->by_name[hash_name(o->cls, o->hex) & (os->buckets - 1)], o, true);
    os->count--;
    edge__worker_unref((struct edge_worker *)o->worker);
    free(o->commit_msg);
    free(o->reset_msg);
    free(o->facet);
    free(o->facet_cls);
    free(o);
}

/* A forgotten record goes once nothing refers to it any more. */
static void object_maybe_free(struct edge_objects *os, struct edge_object *o)
{
    if (!record_w(o) && o->calls == 0 && !o->dirty && !o->held)
        object_free(os, o);
}

/* Whether records a and b stand for one database. */
static bool same_record_db(const struct edge_object *a, const struct edge_object *b)
{
    if (a->is_facet != b->is_facet || strcmp(a->hex, b->hex) != 0 || strcmp(a->cls, b->cls) != 0 ||
        a->worker->tenant != b->worker->tenant)
        return false;
    return !a->is_facet ||
           (a->facet_len == b->facet_len && memcmp(a->facet, b->facet, a->facet_len) == 0);
}

/* o's database in the shard's cache (see st_object_get). */
static int database_of(struct edge_objects *os, const struct edge_object *o, struct st_object **out,
                       struct ed_error *err)
{
    const char *tenant = o->worker->tenant->name;
    if (o->is_facet)
        return st_facet_get(os->store, tenant, o->cls, o->hex, o->facet, o->facet_len, out, err);
    return st_object_get(os->store, tenant, o->cls, o->hex, out, err);
}

/* Rolls back what o's database wrote since its last commit; every record of that database
 * waiting for the commit then fails its answers with code and msg (at the end of the turn: a
 * call's own error stays). A limit stopped the isolate that ran it, or its facet was aborted. */
static void object_reset(struct edge_objects *os, struct edge_object *o, int code, const char *msg)
{
    if (!o->dirty || !os->store)
        return;
    struct st_object *so = NULL;
    struct ed_error err = {0};
    int rc = database_of(os, o, &so, &err);
    if (rc == 0)
        rc = st_object_rollback(so, &err);
    if (rc)
        ED_WARN("event=object_rollback_failed tenant=%s class=%s id=%s error=\"%s\"",
                o->worker->tenant->name, o->cls, o->hex, ed_error_msg(&err));
    ed_error_dispose(&err);
    for (struct edge_object *r = os->by_name[hash_name(o->cls, o->hex) & (os->buckets - 1)]; r;
         r = r->next_name) {
        if (!r->dirty || !same_record_db(r, o))
            continue;
        r->reset = true;
        r->reset_code = code;
        free(r->reset_msg);
        r->reset_msg = strdup(msg);
    }
}

/* Stops the instances of the facets of object po (all of them, or those named name): their
 * next call starts them again. */
static void facets_forget(struct edge_objects *os, struct edge_object *po, const char *name,
                          size_t name_len)
{
    struct edge_instance *inst = po->inst;
    for (struct edge_object *r = inst ? inst->objects : NULL, *next; r; r = next) {
        next = r->next;
        if (!r->is_facet || r->parent_key != po->key ||
            (name && (r->facet_len != name_len || memcmp(r->facet, name, name_len) != 0)))
            continue;
        if (r->child)
            iso_worker_object_drop(r->child, r->key);
        r->child = NULL; /* freed by the sweep once idle: callers may be walking the lists */
    }
    (void)os;
}

/* ---- usage ----------------------------------------------------------------------------------- */

static void count_usage(struct edge_shard *sh, const struct edge_worker *w, uint64_t cpu_ns,
                        const struct st_counts *c)
{
    struct st_db *db = sh->srv->db;
    if (!db || (!cpu_ns && (!c || (!c->rows_read && !c->rows_written))))
        return;
    char day[ST_DAY_LEN];
    struct st_usage u = {.cpu_us = cpu_ns / 1000u};
    if (c) {
        u.rows_read = c->rows_read;
        u.rows_written = c->rows_written;
    }
    st_usage_add(db, w->tenant->name, st_day(time(NULL), day), &u);
}

/* ---- answers ---------------------------------------------------------------------------------- */

/* m's answer is final: to its caller, directly on this shard (we are in a loop callback, outside
 * any isolate), else through the caller shard's inbox. */
static void alarm_done(struct edge_objects *os, struct edge_msg *m);

static void send_answer(struct edge_shard *sh, struct edge_msg *m)
{
    m->kind = MSG_ANSWER;
    m->obj = NULL;
    if (m->rcb) { /* a facet's: to the loader, which delivers it to the object as a task */
        if (m->cpu_out)
            *m->cpu_out += m->cpu_ns;
        m->rcb(m->rcb_ud, m->code, m->data, m->len, m->msg ? m->msg : ed_strerror(m->code));
        msg_free(m);
        return;
    }
    if (!m->cb) { /* an alarm: nobody waits for it */
        alarm_done(sh->objects, m);
        msg_free(m);
        return;
    }
    if (m->from != sh->id) {
        inbox_push(sh->srv, m->from, m);
        return;
    }
    m->cb(m->cb_ud, m->code, m->data, m->len, m->msg ? m->msg : ed_strerror(m->code), 0);
    msg_free(m);
}

static void set_answer(struct edge_msg *m, int code, const uint8_t *data, size_t len,
                       const char *msg)
{
    free(m->data);
    m->data = NULL;
    m->len = 0;
    m->code = code;
    if (code == 0 && len) {
        if ((m->data = malloc(len))) {
            memcpy(m->data, data, len);
            m->len = len;
        } else {
            m->code = ED_ENOMEM;
        }
    }
    if (m->code && !m->msg)
        m->msg = strdup(msg && *msg ? msg : ed_strerror(m->code));
}

static void mark_dirty(struct edge_objects *os, struct edge_object *o)
{
    if (o->dirty)
        return;
    o->dirty = true;
    o->next_dirty = os->dirty;
    os->dirty = o;
}

/* ---- group commit ------------------------------------------------------------------------------ */

/* Whether record o stands for database so (the object's own, or one of its facets'). */
static bool same_database(const struct edge_object *o, const struct st_object *so)
{
    size_t facet_len;
    const char *facet = st_object_facet(so, &facet_len);
    if (strcmp(o->hex, st_object_hex(so)) != 0 || strcmp(o->cls, st_object_class(so)) != 0 ||
        strcmp(o->worker->tenant->name, st_object_tenant(so)) != 0 || o->is_facet != !!facet)
        return false;
    return !facet || (o->facet_len == facet_len && memcmp(o->facet, facet, facet_len) == 0);
}

static void on_committed(void *ud, const struct st_object *so, int code, const char *msg)
{
    struct edge_objects *os = ud;
    if (!os->buckets)
        return;
    const char *cls = st_object_class(so), *hex = st_object_hex(so);
    /* every record of that database (a forgotten one may still hold answers); one that was
     * reset keeps its failure, whatever its database did since */
    for (struct edge_object *o = os->by_name[hash_name(cls, hex) & (os->buckets - 1)]; o;
         o = o->next_name) {
        if (!o->dirty || o->reset || !same_database(o, so))
            continue;
        o->committed = true;
        o->commit_code = code;
        if (code && !o->commit_msg)
            o->commit_msg = strdup(msg ? msg : ed_strerror(code));
    }
}

/* The end of a loop turn: commit every object with an open transaction, then let the answers
 * they held go. An object whose transaction stays open (a transaction() awaiting something)
 * keeps its answers for a later turn. */
static void commit_turn(struct edge_objects *os)
{
    if ((!os->dirty && !os->uncommitted) || !os->store)
        return;
    struct edge_shard *sh = os->sh;
    struct edge_object *list = os->dirty;
    os->dirty = NULL;
    os->uncommitted = false;
    st_objects_commit(os->store, on_committed, os);
    /* detach everything first: delivering an answer runs JavaScript, which may dirty objects
     * again (they join the next commit) */
    struct edge_msg *out = NULL, **tail = &out;
    for (struct edge_object *o = list, *next; o; o = next) {
        next = o->next_dirty;
        o->next_dirty = NULL;
        o->dirty = false;
        if (o->reset) {
            /* rolled back: what waited for the commit failed; a call's own error stays */
            for (struct edge_msg *m = o->held; m; m = m->next)
                if (m->code == 0)
                    set_answer(m, o->reset_code, NULL, 0, o->reset_msg);
            o->reset = false;
            free(o->reset_msg);
            o->reset_msg = NULL;
            o->committed = false;
            o->commit_code = 0;
        } else if (!o->committed) {
            mark_dirty(os, o); /* still open: waits for a later commit */
            continue;
        }
        o->committed = false;
        if (o->commit_code) {
            ED_WARN("event=object_commit_failed shard=%d tenant=%s class=%s id=%s error=\"%s\"",
                    sh->id, o->worker->tenant->name, o->cls, o->hex, o->commit_msg);
            char why[600];
            snprintf(why, sizeof why, "Durable Object storage failed to commit: %s",
                     o->commit_msg ? o->commit_msg : "storage error");
            for (struct edge_msg *m = o->held; m; m = m->next) {
                free(m->msg);
                m->msg = NULL;
                set_answer(m, ED_ESQLITE, NULL, 0, why);
            }
            if (record_w(o)) { /* its memory may hold what was lost: rebuilt from the database */
                iso_worker_object_drop(record_w(o), o->key);
                if (!o->is_facet)
                    facets_forget(os, o, NULL, 0);
                o->child = NULL;
                object_forget(o);
            }
            o->commit_code = 0;
            free(o->commit_msg);
            o->commit_msg = NULL;
        }
        if (o->held) {
            *tail = o->held;
            tail = &o->held_tail->next;
            o->held = o->held_tail = NULL;
        }
        if (o->inst && o->inst->draining && o->calls == 0)
            object_forget(o); /* idle now: its next call builds it in the new worker */
        object_maybe_free(os, o);
    }
    for (struct edge_msg *m = out, *next; m; m = next) {
        next = m->next;
        send_answer(sh, m);
    }
}

static void on_prepare(uv_prepare_t *h)
{
    commit_turn(h->data);
}

static void on_check(uv_check_t *h)
{
    commit_turn(h->data);
}

/* ---- running a call on the owner --------------------------------------------------------------- */

static void child_killed(struct edge_objects *os, struct edge_instance *inst,
                         struct iso_worker *child);

static void on_object_answer(void *ud, int code, const uint8_t *result, size_t len, const char *msg)
{
    struct edge_msg *m = ud;
    struct edge_object *o = m->obj;
    struct edge_objects *os = o->os;
    struct edge_shard *sh = os->sh;
    set_answer(m, code, result, len, msg);
    o->calls--;
    o->last_used_ns = ed_now_ns();
    /* a facet's CPU is its child's: the loader counts it (m->cpu_out) */
    count_usage(sh, o->worker, m->rcb ? 0 : m->cpu_ns, NULL);
    struct edge_instance *retired =
        !o->is_facet && o->inst && iso_worker_retired(o->inst->w) ? o->inst : NULL;
    struct edge_instance *parent = o->inst;
    struct iso_worker *killed_child =
        o->is_facet && o->child && iso_worker_retired(o->child) ? o->child : NULL;
    bool hold = o->dirty;
    if (hold) { /* the output gate: the answer leaves with the commit */
        m->next = NULL;
        if (o->held_tail)
            o->held_tail->next = m;
        else
            o->held = m;
        o->held_tail = m;
    } else {
        if (o->inst && o->inst->draining && o->calls == 0)
            object_forget(o);     /* idle now: its next call builds it in the new worker */
        object_maybe_free(os, o); /* o may be gone from here on */
    }
    if (killed_child) /* the loader retires the child itself */
        child_killed(os, parent, killed_child);
    if (retired)
        edge__instance_retire(sh, retired, false); /* forgets its objects */
    if (!hold)
        send_answer(sh, m);
}

/* Where call m runs on this shard, the object's owner (m->worker and m->ns become the worker
 * that runs it): while the object is busy on the isolate of a worker a deploy replaced, there
 * (so it never has two live instances: a deploy's new version takes it once it is idle);
 * otherwise in this shard's isolate of the worker that hosts the class in the site the shard
 * serves now, built on first use. */
static int object_route(struct edge_objects *os, struct edge_msg *m, struct edge_instance **inst,
                        struct ed_error *err)
{
    struct edge_shard *sh = os->sh;
    const char *tenant = m->worker->tenant->name, *cls = m->worker->objects[m->ns].cls;
    const struct edge_worker *w = NULL;
    size_t ns = 0;
    for (struct edge_object *o =
             os->buckets ? os->by_name[hash_name(cls, m->hex) & (os->buckets - 1)] : NULL;
         o; o = o->next_name) {
        if (o->inst && o->inst->draining && strcmp(o->hex, m->hex) == 0 &&
            strcmp(o->cls, cls) == 0 && strcmp(o->worker->tenant->name, tenant) == 0) {
            *inst = o->inst;
            w = o->worker;
            ns = o->ns;
            break;
        }
    }
    if (!w && !(w = edge__site_object_worker(sh->site, tenant, cls, &ns)))
        return ed_error_set(err, ED_ENOENT, "no worker of tenant %s hosts Durable Object class %s",
                            tenant, cls);
    if (w != m->worker) {
        edge__worker_ref((struct edge_worker *)w);
        edge__worker_unref((struct edge_worker *)m->worker);
        m->worker = w;
    }
    m->ns = ns;
    if (*inst)
        return 0;
    return edge__instance_get(sh, w, (uint64_t)w->tenant->cpu_ms * 1000000u,
                              (uint64_t)sh->srv->cfg->wall_ms * 1000000u, inst, &m->cpu_ns, err);
}

/* A limit stopped child: the facets it ran lose their turn's writes and their instances. */
static void child_killed(struct edge_objects *os, struct edge_instance *inst,
                         struct iso_worker *child)
{
    for (struct edge_object *r = inst ? inst->objects : NULL, *next; r; r = next) {
        next = r->next;
        if (!r->is_facet || r->child != child)
            continue;
        object_reset(os, r, ED_ETERMINATED,
                     "Durable Object facet reset: a limit stopped the worker that ran it, and "
                     "what it wrote since its last commit was discarded.");
        r->child = NULL;
        object_maybe_free(os, r);
    }
}

/* Runs call m on this shard, the object's owner: this shard's isolate of the object's worker,
 * the object's record (made on its first call), then the call itself. */
static void run_call(struct edge_objects *os, struct edge_msg *m)
{
    struct edge_shard *sh = os->sh;
    struct ed_error err = {0};
    struct edge_instance *inst = NULL;
    int rc = object_route(os, m, &inst, &err);
    const struct edge_worker *w = m->worker;
    const char *cls = w->objects[m->ns].cls;
    uint64_t cpu_budget = (uint64_t)w->tenant->cpu_ms * 1000000u;
    struct edge_object *o = NULL;
    if (rc == 0 && !(o = find_live(os, inst, cls, m->hex)) &&
        !(o = object_new(os, inst, m->ns, m->hex)))
        rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
    if (rc == 0) {
        o->calls++;
        o->last_used_ns = ed_now_ns();
        m->obj = o;
        uint8_t *args = m->data;
        size_t args_len = m->len;
        m->data = NULL; /* the answer goes there */
        m->len = 0;
        struct iso_object_call call = {
            .cls = cls,
            .object = o->key,
            .id = m->hex,
            .name = m->name,
            .name_len = m->name_len,
            .method = m->method,
            .args = args,
            .args_len = args_len,
            .alarm_retries = m->alarm_retries,
        };
        rc = iso_worker_call_object(inst->w, &call, cpu_budget, &m->cpu_ns, on_object_answer, m,
                                    &err);
        free(args);
        if (rc == 0) {
            ed_error_dispose(&err);
            return; /* on_object_answer has it */
        }
        o->calls--;
        m->obj = NULL;
        object_maybe_free(os, o);
        if (iso_worker_retired(inst->w))
            edge__instance_retire(sh, inst, false); /* may free o */
    }
    set_answer(m, rc, NULL, 0, ed_error_msg(&err));
    ed_error_dispose(&err);
    send_answer(sh, m);
}

/* The inbox: calls to this shard's objects and answers to its isolates' calls, in order. */
static void on_inbox(uv_async_t *h)
{
    struct edge_objects *os = h->data;
    struct edge_shard *sh = os->sh;
    for (struct edge_msg *m = inbox_take(&sh->srv->inboxes[sh->id]), *next; m; m = next) {
        next = m->next;
        if (m->kind == MSG_ANSWER) {
            m->cb(m->cb_ud, m->code, m->data, m->len, m->msg ? m->msg : ed_strerror(m->code), 0);
            msg_free(m);
        } else if (os->closed) {
            set_answer(m, ED_ECANCELED, NULL, 0, "the node is shutting down");
            send_answer(sh, m);
        } else {
            run_call(os, m);
        }
    }
}

/* ---- alarms ---------------------------------------------------------------------------------------
 * Each shard keeps the alarms of the objects it owns, earliest first, with one timer set to the
 * first. setAlarm() writes the object's database (in its transaction) and schedules here; at
 * start-up the control plane's index schedules every alarm a previous run left, past ones at
 * once. When one is due, the alarm is deleted in the object's transaction (so getAlarm() in
 * alarm() says null, and a new setAlarm() there stands) and alarm() is called; if it throws it
 * is retried after 1, 2, 4... seconds, at most six times, as in Workers. An alarm the database
 * no longer holds (deleted, or a commit that failed) is dropped when it comes up. */

#define ALARM_RETRIES 6

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_alarm_timer(uv_timer_t *t);

static void alarms_rearm(struct edge_objects *os)
{
    if (os->closed)
        return;
    if (os->n_alarms == 0) {
        uv_timer_stop(&os->alarm_timer);
        return;
    }
    int64_t delay = os->alarms[0].at_ms - wall_ms();
    uv_timer_start(&os->alarm_timer, on_alarm_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}

/* Replaces the object's alarm in the shard's list (at_ms 0: removes it). */
static int alarm_schedule(struct edge_objects *os, const struct edge_worker *w, size_t ns,
                          const char *hex, int64_t at_ms, uint32_t retries)
{
    for (size_t i = 0; i < os->n_alarms; i++) {
        struct edge_alarm *a = &os->alarms[i];
        if (strcmp(a->hex, hex) == 0 &&
            strcmp(a->worker->objects[a->ns].cls, w->objects[ns].cls) == 0 &&
            strcmp(a->worker->tenant->name, w->tenant->name) == 0) {
            edge__worker_unref((struct edge_worker *)a->worker);
            memmove(a, a + 1, (os->n_alarms - i - 1) * sizeof *a);
            os->n_alarms--;
            break;
        }
    }
    if (at_ms > 0) {
        if (os->n_alarms == os->cap_alarms) {
            size_t cap = os->cap_alarms ? os->cap_alarms * 2 : 16;
            struct edge_alarm *p = realloc(os->alarms, cap * sizeof *p);
            if (!p)
                return ED_ENOMEM;
            os->alarms = p;
            os->cap_alarms = cap;
        }
        size_t i = os->n_alarms;
        while (i > 0 && os->alarms[i - 1].at_ms > at_ms)
            i--;
        memmove(&os->alarms[i + 1], &os->alarms[i], (os->n_alarms - i) * sizeof *os->alarms);
        struct edge_alarm *a = &os->alarms[i];
        memset(a, 0, sizeof *a);
        a->at_ms = at_ms;
        a->worker = edge__worker_ref((struct edge_worker *)w);
        a->ns = ns;
        memcpy(a->hex, hex, sizeof a->hex - 1);
        a->retries = retries;
        os->n_alarms++;
    }
    alarms_rearm(os);
    return 0;
}

/* Runs one due alarm: deletes it in the object's transaction, then calls alarm(). */
static void alarm_fire(struct edge_objects *os, const struct edge_alarm *a)
{
    struct edge_shard *sh = os->sh;
    size_t ns = a->ns;
    /* the worker that hosts the class now (a deploy may have replaced the one that set it) */
    const struct edge_worker *w = edge__site_object_worker(sh->site, a->worker->tenant->name,
                                                           a->worker->objects[a->ns].cls, &ns);
    if (!w) {
        ED_WARN("event=alarm_dropped shard=%d tenant=%s class=%s id=%s reason=\"no worker hosts "
                "the class\"",
                sh->id, a->worker->tenant->name, a->worker->objects[a->ns].cls, a->hex);
        return;
    }
    const char *cls = w->objects[ns].cls;
    struct ed_error err = {0};
    struct st_object *so = NULL;
    int64_t at = 0;
    uint64_t cpu_ns = 0;
    struct edge_instance *inst = NULL;
    struct edge_object *o = NULL;
    int rc = st_object_get(os->store, w->tenant->name, cls, a->hex, &so, &err);
    if (rc == 0)
        rc = st_alarm_get(so, &at, &err);
    if (rc == 0 && at > 0 && at > wall_ms()) { /* set later meanwhile: wait for that */
        alarm_schedule(os, w, ns, a->hex, at, 0);
        goto out;
    }
    if (rc || at == 0) /* deleted, or never committed: nothing to run */
        goto out;
    rc = edge__instance_get(sh, w, (uint64_t)w->tenant->cpu_ms * 1000000u,
                            (uint64_t)sh->srv->cfg->wall_ms * 1000000u, &inst, &cpu_ns, &err);
    if (rc == 0 && !(o = find_live(os, inst, cls, a->hex)) &&
        !(o = object_new(os, inst, ns, a->hex)))
        rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
    if (rc == 0 && (rc = st_object_get(os->store, w->tenant->name, cls, a->hex, &so, &err)) == 0 &&
        (rc = st_alarm_set(so, 0, &err)) == 0)
        mark_dirty(os, o);
    if (rc)
        goto out;
    struct edge_msg *m = calloc(1, sizeof *m);
    if (!m || !(m->method = strdup("alarm"))) {
        free(m);
        rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
        goto out;
    }
    m->kind = MSG_CALL;
    m->from = sh->id;
    m->worker = edge__worker_ref((struct edge_worker *)w);
    m->ns = ns;
    memcpy(m->hex, a->hex, sizeof m->hex);
    m->alarm_retries = a->retries;
    m->alarm_at = at;
    run_call(os, m);
out:
    if (rc)
        ED_WARN("event=alarm_error shard=%d tenant=%s class=%s id=%s error=\"%s\"", sh->id,
                w->tenant->name, cls, a->hex, ed_error_msg(&err));
    ed_error_dispose(&err);
}

/* alarm() answered: a failure is retried later, unless the handler set another alarm. */
static void alarm_done(struct edge_objects *os, struct edge_msg *m)
{
    const struct edge_worker *w = m->worker;
    const char *cls = w->objects[m->ns].cls;
    if (m->code == 0 || !os || os->closed)
        return;
    edge__tenant_log(w->tenant, w->name, "error", m->msg ? m->msg : "alarm() failed",
                     strlen(m->msg ? m->msg : "alarm() failed"));
    if (m->alarm_retries + 1 >= ALARM_RETRIES)
        return;
    struct ed_error err = {0};
    struct st_object *so = NULL;
    int64_t at = 0;
    int64_t retry_at = wall_ms() + (1000ll << m->alarm_retries);
    if (st_object_get(os->store, w->tenant->name, cls, m->hex, &so, &err) == 0 &&
        st_alarm_get(so, &at, &err) == 0 && at == 0 && st_alarm_set(so, retry_at, &err) == 0) {
        os->uncommitted = true;
        for (struct edge_object *o = os->by_name[hash_name(cls, m->hex) & (os->buckets - 1)]; o;
             o = o->next_name)
            if (o->inst && !o->is_facet && o->worker == w && strcmp(o->hex, m->hex) == 0 &&
                strcmp(o->cls, cls) == 0)
                mark_dirty(os, o);
        alarm_schedule(os, w, m->ns, m->hex, retry_at, m->alarm_retries + 1);
    }
    ed_error_dispose(&err);
}

static void on_alarm_timer(uv_timer_t *t)
{
    struct edge_objects *os = t->data;
    int64_t now = wall_ms();
    size_t due = 0;
    while (due < os->n_alarms && os->alarms[due].at_ms <= now)
        due++;
    if (due == 0) {
        alarms_rearm(os);
        return;
    }
    struct edge_alarm *fire = malloc(due * sizeof *fire);
    if (!fire) {
        uv_timer_start(&os->alarm_timer, on_alarm_timer, 100, 0); /* try again soon */
        return;
    }
    memcpy(fire, os->alarms, due * sizeof *fire);
    memmove(os->alarms, os->alarms + due, (os->n_alarms - due) * sizeof *os->alarms);
    os->n_alarms -= due;
    alarms_rearm(os);
    for (size_t i = 0; i < due; i++) {
        if (!os->closed)
            alarm_fire(os, &fire[i]);
        edge__worker_unref((struct edge_worker *)fire[i].worker);
    }
    free(fire);
}

struct boot {
    struct edge_server *srv;
    const struct edge_site *site;
    int rc;
};

static int boot_alarm(void *ud, const char *tenant, const char *cls, const char *hex, int64_t at_ms)
{
    struct boot *b = ud;
    struct edge_server *srv = b->srv;
    size_t ns;
    const struct edge_worker *w = edge__site_object_worker(b->site, tenant, cls, &ns);
    if (!w || strlen(hex) != 64) /* no worker hosts that class any more */
        return 0;
    if (srv->n_boot_alarms % 64 == 0) {
        struct edge_alarm *p =
            realloc(srv->boot_alarms, (srv->n_boot_alarms + 64) * sizeof *srv->boot_alarms);
        if (!p)
            return ED_ENOMEM;
        srv->boot_alarms = p;
    }
    struct edge_alarm *a = &srv->boot_alarms[srv->n_boot_alarms++];
    memset(a, 0, sizeof *a);
    a->at_ms = at_ms;
    a->worker = edge__worker_ref((struct edge_worker *)w); /* the server's, until it ends */
    a->ns = ns;
    memcpy(a->hex, hex, 64);
    return 0;
}

int edge__objects_boot(struct edge_server *srv, struct ed_error *err)
{
    struct edge_site *site = edge__live_current(srv);
    struct boot b = {srv, site, 0};
    int rc = st_alarms_list(srv->db, boot_alarm, &b, err);
    edge__site_unref(site);
    if (rc == ED_ENOMEM)
        ed_error_set(err, rc, "out of memory");
    if (srv->n_boot_alarms)
        ED_INFO("event=alarms_loaded count=%zu", srv->n_boot_alarms);
    return rc;
}

void edge__objects_boot_dispose(struct edge_server *srv)
{
    for (size_t i = 0; i < srv->n_boot_alarms; i++)
        edge__worker_unref((struct edge_worker *)srv->boot_alarms[i].worker);
    free(srv->boot_alarms);
    srv->boot_alarms = NULL;
    srv->n_boot_alarms = 0;
}

/* ---- eviction ------------------------------------------------------------------------------------ */

/* Whether a facet of object o has calls in flight or answers waiting: o stays then. */
static bool facets_busy(const struct edge_object *o)
{
    for (const struct edge_object *r = o->inst ? o->inst->objects : NULL; r; r = r->next)
        if (r->is_facet && r->parent_key == o->key && (r->calls || r->dirty || r->held))
            return true;
    return false;
}

static void on_sweep(uv_timer_t *t)
{
    struct edge_objects *os = t->data;
    uint64_t now = ed_now_ns();
    for (size_t i = 0; i < os->buckets; i++) {
        for (struct edge_object *o = os->by_key[i], *next; o; o = next) {
            next = o->next_key;
            if (o->calls || o->dirty || o->held)
                continue;
            if (!record_w(o)) {
                object_free(os, o);
            } else if (now - o->last_used_ns >= os->idle_ns && !o->is_facet && !facets_busy(o)) {
                ED_DEBUG("event=object_evicted shard=%d tenant=%s class=%s id=%s", os->sh->id,
                         o->worker->tenant->name, o->cls, o->hex);
                /* its facets go with it (freed records are never next: they are not free
                 * yet, only forgotten, and the sweep frees them on a later pass) */
                facets_forget(os, o, NULL, 0);
                iso_worker_object_drop(o->inst->w, o->key);
                object_forget(o);
            }
        }
    }
}

/* ---- the caller's side: the isolate's host ---------------------------------------------------- */

static int ns_index(const struct edge_worker *w, const char *binding, size_t *out)
{
    for (size_t i = 0; binding && i < w->n_objects; i++) {
        if (strcmp(w->objects[i].name, binding) == 0) {
            *out = i;
            return 0;
        }
    }
    return ED_ENOENT;
}

static int call_object(struct edge_instance *inst, const struct iso_call *call, iso_answer_cb cb,
                       void *cb_ud, struct ed_error *err)
{
    struct edge_shard *sh = inst->shard;
    struct edge_server *srv = sh->srv;
    const struct edge_worker *w = inst->worker;
    size_t ns;
    if (ns_index(w, call->binding, &ns) != 0)
        return ed_error_set(err, ED_EINVAL, "no Durable Object namespace %s", call->binding);
    const char *hex = call->object_id ? call->object_id : "";
    int rc = st_object_id_check(srv->node_key, w->tenant->name, w->objects[ns].cls, hex,
                                strlen(hex), err);
    if (rc)
        return rc;
    struct edge_msg *m = calloc(1, sizeof *m);
    if (!m)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    m->kind = MSG_CALL;
    m->from = sh->id;
    m->worker = edge__worker_ref((struct edge_worker *)w);
    m->ns = ns;
    memcpy(m->hex, hex, sizeof m->hex - 1);
    m->method = strdup(call->method ? call->method : "fetch");
    bool oom = !m->method;
    if (call->object_name) {
        if ((m->name = malloc(call->object_name_len + 1))) {
            memcpy(m->name, call->object_name, call->object_name_len);
            m->name[call->object_name_len] = '\0';
            m->name_len = call->object_name_len;
        }
        oom |= !m->name;
    }
    if (call->args_len) {
        if ((m->data = malloc(call->args_len))) {
            memcpy(m->data, call->args, call->args_len);
            m->len = call->args_len;
        }
        oom |= !m->data;
    }
    m->cb = cb;
    m->cb_ud = cb_ud;
    if (oom) {
        msg_free(m);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    uint32_t owner = st_object_shard(hex, (uint32_t)srv->cfg->threads);
    if (!inbox_push(srv, (int)owner, m)) {
        msg_free(m);
        return ed_error_set(err, ED_ECANCELED, "the node is shutting down");
    }
    return 0;
}

static const struct iso_host *loader_host(struct edge_instance *inst)
{
    return ld_parent_host(inst->loader);
}

static int host_call(void *ud, struct iso_worker *from, const struct iso_call *call,
                     iso_answer_cb cb, void *cb_ud, struct ed_error *err)
{
    struct edge_instance *inst = ud;
    if (call->kind == ISO_CALL_OBJECT)
        return call_object(inst, call, cb, cb_ud, err);
    const struct iso_host *lh = loader_host(inst);
    return lh->call(lh->ud, from, call, cb, cb_ud, err);
}

static bool host_child_live(void *ud, struct iso_worker *from, const char *binding, const char *id,
                            size_t id_len)
{
    const struct iso_host *lh = loader_host(ud);
    return lh->child_live && lh->child_live(lh->ud, from, binding, id, id_len);
}

static const struct iso_fetcher *host_fetcher(void *ud, struct iso_worker *from,
                                              struct ed_error *err)
{
    const struct iso_host *lh = loader_host(ud);
    if (!lh->fetcher) {
        ed_error_set(err, ED_EINVAL, "fetch() to the internet is not available on this node.");
        return NULL;
    }
    return lh->fetcher(lh->ud, from, err);
}

static int host_id(void *ud, struct iso_worker *from, const char *binding, int op, const char *arg,
                   size_t arg_len, char hex[65], struct ed_error *err)
{
    struct edge_instance *inst = ud;
    const struct edge_worker *w = inst->worker;
    const uint8_t *key = inst->shard->srv->node_key;
    size_t ns;
    if (from != inst->w) /* a child hosting facets has no namespaces */
        return ed_error_set(err, ED_EINVAL, "no Durable Object namespace %s", binding);
    if (ns_index(w, binding, &ns) != 0)
        return ed_error_set(err, ED_EINVAL, "no Durable Object namespace %s", binding);
    const char *cls = w->objects[ns].cls;
    int rc;
    switch (op) {
    case ISO_OBJECT_ID_NAME:
        rc = st_object_id_from_name(key, w->tenant->name, cls, arg, arg_len, hex);
        break;
    case ISO_OBJECT_ID_UNIQUE:
        rc = st_object_id_unique(key, w->tenant->name, cls, hex);
        break;
    case ISO_OBJECT_ID_STRING:
        rc = st_object_id_check(key, w->tenant->name, cls, arg, arg_len, err);
        if (rc == 0) {
            memcpy(hex, arg, 64);
            hex[64] = '\0';
        }
        return rc;
    default:
        return ed_error_set(err, ED_EINVAL, "bad id operation");
    }
    if (rc)
        return ed_error_set(err, rc == ED_EINVAL ? ED_EIO : rc,
                            "cannot make a Durable Object id: %s", ed_strerror(rc));
    return 0;
}

/* ---- the object's side: ctx.storage -------------------------------------------------------------- */

/* The database of inst's object with handle key; the object's transaction is open once the
 * operation ran (so its answers wait for the commit). */
static int storage_of(struct edge_instance *inst, struct iso_worker *from, uint64_t key,
                      struct edge_object **obj, struct st_object **out, struct ed_error *err)
{
    struct edge_objects *os = inst->shard->objects;
    struct edge_object *o = os ? find_key(os, key) : NULL;
    /* an isolate reaches only the databases of what it runs: the worker its objects', a child
     * the facets it hosts (never the object's own, nor another facet's) */
    if (!o || o->inst != inst || !from || from != record_w(o))
        return ed_error_set(err, ED_ENOENT,
                            "This Durable Object was reset: its storage is no longer available "
                            "to this instance.");
    int rc = database_of(os, o, out, err);
    if (rc)
        return rc;
    *obj = o;
    return 0;
}

/* After an operation: an open transaction holds the object's answers until it is committed. */
static void after_op(struct edge_object *o, struct st_object *so, const struct st_counts *c)
{
    if (st_object_dirty(so))
        mark_dirty(o->os, o);
    if (c)
        count_usage(o->os->sh, o->worker, 0, c);
}

static int host_sql(void *ud, struct iso_worker *from, uint64_t object, const char *sql, size_t len,
                    const struct iso_sql_value *binds, size_t n_binds,
                    const struct iso_sql_sink *sink, void *sink_ud,
                    struct iso_storage_counts *counts, struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    /* SQLite runs outside the watchdog's reach (it stops JavaScript only): a query may take as
     * long as the tenant's CPU budget of a call, then it is interrupted */
    struct edge_objects *os = o->os;
    st_objects_set_deadline(os->store,
                            ed_now_ns() + (uint64_t)o->worker->tenant->cpu_ms * 1000000u);
    /* the two value structs have one layout (checked below), so no copy is needed */
    struct st_counts c = {0, 0};
    rc = st_sql_exec(so, sql, len, (const struct st_value *)binds, n_binds,
                     (const struct st_rows_sink *)sink, sink_ud, &c, err);
    st_objects_set_deadline(os->store, 0);
    counts->rows_read = c.rows_read;
    counts->rows_written = c.rows_written;
    after_op(o, so, &c);
    return rc;
}

_Static_assert(sizeof(struct iso_sql_value) == sizeof(struct st_value) &&
                   offsetof(struct iso_sql_value, type) == offsetof(struct st_value, type) &&
                   offsetof(struct iso_sql_value, i) == offsetof(struct st_value, i) &&
                   offsetof(struct iso_sql_value, d) == offsetof(struct st_value, d) &&
                   offsetof(struct iso_sql_value, p) == offsetof(struct st_value, p) &&
                   offsetof(struct iso_sql_value, len) == offsetof(struct st_value, len) &&
                   (int)ISO_SQL_NULL == (int)ST_NULL && (int)ISO_SQL_INTEGER == (int)ST_INTEGER &&
                   (int)ISO_SQL_REAL == (int)ST_REAL && (int)ISO_SQL_TEXT == (int)ST_TEXT &&
                   (int)ISO_SQL_BLOB == (int)ST_BLOB,
               "iso_sql_value and st_value differ");
_Static_assert(sizeof(struct iso_sql_sink) == sizeof(struct st_rows_sink),
               "iso_sql_sink and st_rows_sink differ");

static int host_size(void *ud, struct iso_worker *from, uint64_t object, uint64_t *bytes,
                     struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc == 0)
        *bytes = st_object_size(so);
    return rc;
}

static int host_kv_get(void *ud, struct iso_worker *from, uint64_t object, const char *key,
                       size_t key_len, int (*found)(void *ud, const void *value, size_t len),
                       void *found_ud, struct iso_storage_counts *counts, struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    struct st_counts c = {0, 0};
    rc = st_kv_get(so, key, key_len, found, found_ud, &c, err);
    counts->rows_read = c.rows_read;
    counts->rows_written = c.rows_written;
    after_op(o, so, &c);
    return rc;
}

static int host_kv_put(void *ud, struct iso_worker *from, uint64_t object, const char *key,
                       size_t key_len, const void *value, size_t len,
                       struct iso_storage_counts *counts, struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    struct st_counts c = {0, 0};
    rc = st_kv_put(so, key, key_len, value, len, &c, err);
    counts->rows_read = c.rows_read;
    counts->rows_written = c.rows_written;
    after_op(o, so, &c);
    return rc;
}

static int host_kv_delete(void *ud, struct iso_worker *from, uint64_t object, const char *key,
                          size_t key_len, struct iso_storage_counts *counts, struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    struct st_counts c = {0, 0};
    rc = st_kv_delete(so, key, key_len, &c, err);
    counts->rows_read = c.rows_read;
    counts->rows_written = c.rows_written;
    after_op(o, so, &c);
    return rc;
}

static int
host_kv_list(void *ud, struct iso_worker *from, uint64_t object, const struct iso_kv_range *range,
             int (*each)(void *ud, const char *key, size_t key_len, const void *value, size_t len),
             void *each_ud, struct iso_storage_counts *counts, struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    struct st_kv_range r = {range->prefix,    range->start,   range->end,   range->prefix_len,
                            range->start_len, range->end_len, range->limit, range->reverse};
    struct st_counts c = {0, 0};
    rc = st_kv_list(so, &r, each, each_ud, &c, err);
    counts->rows_read = c.rows_read;
    counts->rows_written = c.rows_written;
    after_op(o, so, &c);
    return rc;
}

static int host_delete_all(void *ud, struct iso_worker *from, uint64_t object, struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    rc = st_kv_delete_all(so, err);
    after_op(o, so, NULL);
    return rc;
}

static int host_savepoint(void *ud, struct iso_worker *from, uint64_t object, struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    rc = st_object_savepoint(so, err);
    after_op(o, so, NULL);
    return rc;
}

static int host_release(void *ud, struct iso_worker *from, uint64_t object, bool commit,
                        struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    rc = st_object_release(so, commit, err);
    after_op(o, so, NULL);
    return rc;
}

static int host_alarm_get(void *ud, struct iso_worker *from, uint64_t object, int64_t *at_ms,
                          struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    rc = st_alarm_get(so, at_ms, err);
    after_op(o, so, NULL);
    return rc;
}

static int host_alarm_set(void *ud, struct iso_worker *from, uint64_t object, int64_t at_ms,
                          struct ed_error *err)
{
    struct edge_object *o;
    struct st_object *so;
    int rc = storage_of(ud, from, object, &o, &so, err);
    if (rc)
        return rc;
    rc = st_alarm_set(so, at_ms, err);
    after_op(o, so, NULL);
    if (rc == 0 && alarm_schedule(o->os, o->worker, o->ns, o->hex, at_ms, 0) != 0)
        rc = ed_error_set(err, ED_ENOMEM, "out of memory scheduling the alarm");
    return rc;
}

/* ---- facets ----------------------------------------------------------------------------------
 * A facet is a record like an object's, bound to its parent object's record (parent_key) and
 * to the child isolate that runs it; its database lies beside the parent's (st_facet_get). Its
 * calls come from the loader, which found or made the child: they run here as an object's,
 * behind the same output gate (an answer waits for the facet's commit). */

static int facet_reset_error(struct ed_error *err)
{
    return ed_error_set(err, ED_ENOENT,
                        "This Durable Object was reset: its facets are no longer available to "
                        "this instance.");
}

static struct edge_object *find_facet(struct edge_instance *inst, const struct edge_object *po,
                                      const char *name, size_t len, const char *cls,
                                      struct iso_worker *child)
{
    for (struct edge_object *r = inst->objects; r; r = r->next)
        if (r->is_facet && r->parent_key == po->key && r->child == child && r->facet_len == len &&
            memcmp(r->facet, name, len) == 0 && strcmp(r->facet_cls, cls) == 0)
            return r;
    return NULL;
}

static struct edge_object *facet_new(struct edge_objects *os, struct edge_object *po,
                                     const struct iso_call *call, struct iso_worker *child)
{
    struct edge_object *o = object_new(os, po->inst, po->ns, po->hex);
    if (!o)
        return NULL;
    o->is_facet = true;
    o->child = child;
    o->parent_key = po->key;
    o->facet_len = call->facet_len;
    o->facet = malloc(call->facet_len + 1);
    o->facet_cls = strdup(call->facet_class);
    if (!o->facet || !o->facet_cls) {
        object_free(os, o);
        return NULL;
    }
    memcpy(o->facet, call->facet, call->facet_len);
    o->facet[call->facet_len] = '\0';
    return o;
}

/* ld_facet_host.call: the facet of call->object named call->facet, run in child. */
static int facet_call(void *ud, struct iso_worker *child, const struct iso_call *call,
                      uint64_t cpu_budget, uint64_t *cpu_used, iso_result_cb cb, void *cb_ud,
                      struct ed_error *err)
{
    struct edge_instance *inst = ud;
    struct edge_objects *os = inst->shard->objects;
    struct edge_object *po = os && !inst->retiring ? find_key(os, call->object) : NULL;
    if (!po || po->inst != inst || po->is_facet)
        return facet_reset_error(err);
    struct edge_object *o =
        find_facet(inst, po, call->facet, call->facet_len, call->facet_class, child);
    if (!o && !(o = facet_new(os, po, call, child)))
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    struct edge_msg *m = calloc(1, sizeof *m);
    if (!m || !(m->method = strdup(call->method ? call->method : "fetch"))) {
        free(m);
        object_maybe_free(os, o);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    m->kind = MSG_CALL;
    m->from = inst->shard->id;
    m->worker = edge__worker_ref((struct edge_worker *)po->worker);
    m->ns = po->ns;
    memcpy(m->hex, po->hex, sizeof m->hex);
    m->rcb = cb;
    m->rcb_ud = cb_ud;
    m->cpu_out = cpu_used;
    m->obj = o;
    o->calls++;
    o->last_used_ns = po->last_used_ns = ed_now_ns();
    struct iso_object_call oc = {
        .cls = o->facet_cls,
        .object = o->key,
        .id = call->object_id ? call->object_id : po->hex,
        .name = call->object_name,
        .name_len = call->object_name ? call->object_name_len : 0,
        .method = m->method,
        .args = call->args,
        .args_len = call->args_len,
        .facet = true,
    };
    int rc = iso_worker_call_object(child, &oc, cpu_budget, &m->cpu_ns, on_object_answer, m, err);
    if (rc) { /* cb is not called: the loader answers */
        o->calls--;
        m->rcb = NULL;
        msg_free(m);
        object_maybe_free(os, o);
    }
    return rc;
}

/* ld_facet_host.child_gone: the facets child ran are forgotten with it. */
static void facet_child_gone(void *ud, struct iso_worker *child)
{
    struct edge_instance *inst = ud;
    for (struct edge_object *r = inst->objects, *next; r; r = next) {
        next = r->next;
        if (r->is_facet && r->child == child) {
            r->child = NULL;
            object_maybe_free(r->os, r);
        }
    }
}

/* iso_object_host.facet_ctl: ctx.facets.abort(name) and delete(name) of the object key. */
static int host_facet_ctl(void *ud, struct iso_worker *from, uint64_t key, int op, const char *name,
                          size_t len, const char *reason, struct ed_error *err)
{
    struct edge_instance *inst = ud;
    struct edge_objects *os = inst->shard->objects;
    struct edge_object *po = os ? find_key(os, key) : NULL;
    if (!po || po->inst != inst || po->is_facet || from != inst->w)
        return facet_reset_error(err);
    if (op != ISO_FACET_ABORT && op != ISO_FACET_DELETE)
        return ed_error_set(err, ED_EINVAL, "bad facet operation");
    for (struct edge_object *r = inst->objects; r; r = r->next)
        if (r->is_facet && r->parent_key == po->key && r->facet_len == len &&
            memcmp(r->facet, name, len) == 0)
            object_reset(os, r, ED_ECANCELED, reason ? reason : "The facet was deleted.");
    facets_forget(os, po, name, len);
    if (op == ISO_FACET_ABORT)
        return 0;
    return st_facet_delete(os->store, po->worker->tenant->name, po->cls, po->hex, name, len, err);
}

void edge__objects_host(struct edge_instance *inst, const struct iso_host *lh)
{
    inst->host = (struct iso_host){
        .ud = inst,
        .call = host_call,
        .child_live = lh->child_live ? host_child_live : NULL,
        .fetcher = host_fetcher,
        .objects = inst->worker->n_objects ? &inst->objects_host : NULL,
    };
    inst->objects_host = (struct iso_object_host){
        .ud = inst,
        .id = host_id,
        .sql = host_sql,
        .size = host_size,
        .kv_get = host_kv_get,
        .kv_put = host_kv_put,
        .kv_delete = host_kv_delete,
        .kv_list = host_kv_list,
        .delete_all = host_delete_all,
        .savepoint = host_savepoint,
        .release = host_release,
        .alarm_get = host_alarm_get,
        .alarm_set = host_alarm_set,
        .facet_ctl = host_facet_ctl,
    };
    /* the children's storage is the same host: storage_of tells who may reach what */
    inst->facet_host = (struct ld_facet_host){
        .ud = inst,
        .call = facet_call,
        .child_gone = facet_child_gone,
        .storage = &inst->objects_host,
    };
}

void edge__objects_instance_drain(struct edge_instance *inst)
{
    for (struct edge_object *o = inst->objects, *next; o; o = next) {
        next = o->next;
        if (o->calls == 0 && !o->dirty && !o->held) {
            object_forget(o);
            object_maybe_free(o->os, o);
        }
    }
}

void edge__objects_instance_gone(struct edge_instance *inst, bool killed)
{
    while (inst->objects) {
        struct edge_object *o = inst->objects;
        if (killed)
            object_reset(o->os, o, ED_ETERMINATED,
                         "Durable Object reset: a limit stopped the isolate that ran it, and what "
                         "it wrote since its last commit was discarded.");
        o->child = NULL;
        object_forget(o);
        object_maybe_free(o->os, o);
    }
}

/* ---- the shard's lifecycle ------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    struct edge_objects *os = h->data;
    os->handles--;
}

/* st_quota_cb: the tenant's totals, from the base site (a walk of its tenants: a database opens
 * rarely). Tenants of the control plane are not in it and have no storage quota yet. */
static struct st_quota *tenant_quota(void *ud, const char *tenant)
{
    const struct edge_site *site = ud;
    for (size_t i = 0; i < site->n_tenants; i++)
        if (strcmp(site->tenants[i]->name, tenant) == 0)
            return site->tenants[i]->quota;
    return NULL;
}

int edge__objects_start(struct edge_shard *sh, struct ed_error *err)
{
    struct edge_server *srv = sh->srv;
    struct edge_objects *os = calloc(1, sizeof *os);
    if (!os)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    os->sh = sh;
    uint32_t idle_ms = srv->cfg->object_idle_ms ? srv->cfg->object_idle_ms : 30000;
    os->idle_ns = (uint64_t)idle_ms * 1000000u;
    int rc =
        st_objects_new(srv->cfg->data_dir, srv->db, srv->cfg->object_max_open, &os->store, err);
    if (rc) {
        free(os);
        return rc;
    }
    st_objects_set_quotas(os->store, tenant_quota, srv->site);
    st_objects_set_fsync(os->store, srv->cfg->storage_fsync);
    uv_async_init(&sh->loop, &os->async, on_inbox);
    uv_prepare_init(&sh->loop, &os->prepare);
    uv_check_init(&sh->loop, &os->check);
    uv_timer_init(&sh->loop, &os->sweep);
    uv_timer_init(&sh->loop, &os->alarm_timer);
    os->async.data = os->prepare.data = os->check.data = os->sweep.data = os;
    os->alarm_timer.data = os;
    os->handles = 5;
    uv_prepare_start(&os->prepare, on_prepare);
    uv_check_start(&os->check, on_check);
    uint64_t every = idle_ms / 4 ? idle_ms / 4 : 1;
    uv_timer_start(&os->sweep, on_sweep, every, every);
    uv_unref((uv_handle_t *)&os->sweep); /* no reason on its own to keep the loop running */
    sh->objects = os;
    /* the alarms a previous run left for this shard's objects */
    for (size_t i = 0; i < srv->n_boot_alarms; i++) {
        const struct edge_alarm *a = &srv->boot_alarms[i];
        if (st_object_shard(a->hex, (uint32_t)srv->cfg->threads) == (uint32_t)sh->id)
            alarm_schedule(os, a->worker, a->ns, a->hex, a->at_ms, 0);
    }
    struct edge_inbox *in = &srv->inboxes[sh->id];
    pthread_mutex_lock(&in->lock);
    in->async = &os->async;
    if (in->head) /* what others sent before this loop ran */
        uv_async_send(&os->async);
    pthread_mutex_unlock(&in->lock);
    return 0;
}

void edge__objects_close(struct edge_shard *sh)
{
    struct edge_objects *os = sh->objects;
    if (!os || os->closed)
        return;
    os->closed = true;
    struct edge_inbox *in = &sh->srv->inboxes[sh->id];
    pthread_mutex_lock(&in->lock);
    in->closed = true;
    in->async = NULL;
    pthread_mutex_unlock(&in->lock);
    on_inbox(&os->async); /* refuses the calls, delivers the answers */
    commit_turn(os);
    uv_handle_t *hs[] = {(uv_handle_t *)&os->async, (uv_handle_t *)&os->prepare,
                         (uv_handle_t *)&os->check, (uv_handle_t *)&os->sweep,
                         (uv_handle_t *)&os->alarm_timer};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        uv_close(hs[i], on_handle_closed);
}

void edge__objects_free(struct edge_shard *sh)
{
    struct edge_objects *os = sh->objects;
    if (!os)
        return;
    commit_turn(os); /* answers the last calls' callers (freed isolates drop them) */
    /* answers that came after the inbox closed (the caller's own isolates are gone) */
    for (struct edge_msg *m = inbox_take(&sh->srv->inboxes[sh->id]), *next; m; m = next) {
        next = m->next;
        answer_orphan(m);
    }
    st_objects_free(os->store);
    for (size_t i = 0; i < os->buckets; i++) {
        for (struct edge_object *o = os->by_key[i], *next; o; o = next) {
            next = o->next_key;
            for (struct edge_msg *m = o->held, *mn; m; m = mn) {
                mn = m->next;
                answer_orphan(m);
            }
            o->held = NULL;
            object_forget(o);
            edge__worker_unref((struct edge_worker *)o->worker);
            free(o->commit_msg);
            free(o);
        }
    }
    free(os->by_key);
    free(os->by_name);
    for (size_t i = 0; i < os->n_alarms; i++)
        edge__worker_unref((struct edge_worker *)os->alarms[i].worker);
    free(os->alarms);
    free(os);
    sh->objects = NULL;
}
