/*
 * A fake struct iso_host for the isolates/ unit tests, doing what loader/ does: a call through
 * a loader binding finds or creates the child (an iso_worker made from the code the parent
 * sent) and invokes it; a child's call to a stub goes to its parent, a parent's to the child
 * its peer names (children are peers 1, 2... in the parent; the parent is peer 1 in a child);
 * a drop releases a stub in its exporter; a release forgets a load() child. It answers
 * synchronously (inside iso_host.call) or, in async mode, queues the work for
 * fake_host_drain(), like a loader that answers on a later turn of its loop. A child that a
 * limit retired is freed from inside its own result callback, as a loader may do.
 */
#ifndef EDGED_TESTS_ISO_HOST_H
#define EDGED_TESTS_ISO_HOST_H

#include "iso_test.h"

#define FAKE_MAX_CHILDREN 64
#define FAKE_MAX_TASKS 4096
#define FAKE_PARENT_PEER 1 /* how a child names its parent */

struct fake_child {
    char binding[64];
    char id[1100];
    size_t id_len;
    bool anonymous, live;
    struct iso_worker *w;      /* NULL once freed */
    struct iso_worker *parent; /* borrowed */
    uint64_t stubs[64];        /* what the parent exported for it */
    size_t n_stubs;
    uint64_t cpu_used_ns;
    struct fake_child *parent_host_children; /* its host's children[]: serial = index + 1 */
};

enum fake_kind { FAKE_INVOKE, FAKE_STUB_TO_PARENT, FAKE_STUB_TO_CHILD, FAKE_DROP };

struct fake_task {
    enum fake_kind kind;
    struct fake_child *child; /* invoke; the caller of a stub call into the parent; the callee
                                 of one into a child; the dropper or exporter of a drop */
    bool into_child;          /* drop: the export is the child's (else its parent's) */
    char *entrypoint, *method;
    uint8_t *props, *args;
    size_t props_len, args_len;
    uint64_t stub, peer; /* drop: peer is the dropper as the exporter names it */
    iso_answer_cb cb;
    void *cb_ud;
};

struct fake_host {
    struct iso_host host;
    struct fake_child children[FAKE_MAX_CHILDREN];
    size_t n_children;
    bool async;
    struct fake_task tasks[FAKE_MAX_TASKS];
    size_t task_head, task_len;
    struct iso_watch_slot *watch; /* shared by parent and children, as on a shard */
    uint64_t child_cpu_ns;        /* per child invocation (0: none) */
    size_t child_heap;
    int created, invokes, stub_calls, child_stub_calls, releases, drops, live_checks, unused_code;
    bool claim_live;  /* child_live says yes for any id (a child evicted after the look) */
    struct logs logs; /* the children's console */
};

/* Forwards an answer with the callee's peer, and frees a child callee if a limit retired it. */
struct fake_answer {
    struct fake_child *child; /* the callee when it is a child */
    iso_answer_cb cb;
    void *cb_ud;
    uint64_t peer;
};

static inline void fake_free_child(struct fake_child *ch)
{
    ch->live = false;
    iso_worker_free(ch->w); /* from inside its own callback: the shim defers it */
    ch->w = NULL;
    iso_worker_release_peer(ch->parent, (uint64_t)(ch - ch->parent_host_children) + 1);
}

static inline void fake_answered(void *ud, int code, const uint8_t *r, size_t len, const char *msg)
{
    struct fake_answer *a = ud;
    struct fake_child *ch = a->child;
    iso_answer_cb cb = a->cb;
    void *cb_ud = a->cb_ud;
    uint64_t peer = a->peer;
    free(a);
    if (ch && ch->w && iso_worker_retired(ch->w))
        fake_free_child(ch);
    if (cb)
        cb(cb_ud, code, r, len, msg, peer);
}

static inline struct fake_answer *fake_answer_new(struct fake_child *callee, iso_answer_cb cb,
                                                  void *cb_ud, uint64_t peer)
{
    struct fake_answer *a = malloc(sizeof *a);
    *a = (struct fake_answer){callee, cb, cb_ud, peer};
    return a;
}

static inline struct fake_child *fake_find(struct fake_host *fh, const char *binding,
                                           const char *id, size_t id_len)
{
    for (size_t i = 0; i < fh->n_children; i++) {
        struct fake_child *c = &fh->children[i];
        if (c->live && c->id_len == id_len && memcmp(c->id, id, id_len) == 0 &&
            strcmp(c->binding, binding) == 0)
            return c;
    }
    return NULL;
}

static inline struct fake_child *fake_by_worker(struct fake_host *fh, struct iso_worker *w)
{
    for (size_t i = 0; i < fh->n_children; i++)
        if (fh->children[i].w == w)
            return &fh->children[i];
    return NULL;
}

static inline int fake_create(struct fake_host *fh, struct iso_worker *parent,
                              const struct iso_call *call, struct fake_child **out,
                              struct ed_error *err)
{
    const struct iso_child_code *code = call->code;
    cr_assert_lt(fh->n_children, FAKE_MAX_CHILDREN);
    struct fake_child *ch = &fh->children[fh->n_children];
    memset(ch, 0, sizeof *ch);
    snprintf(ch->binding, sizeof ch->binding, "%s", call->binding);
    cr_assert_lt(call->child_id_len, sizeof ch->id);
    memcpy(ch->id, call->child_id, call->child_id_len);
    ch->id_len = call->child_id_len;
    ch->anonymous = call->anonymous;
    ch->parent = parent;
    ch->parent_host_children = fh->children;
    cr_assert_leq(code->n_stubs, 64);
    if (code->n_stubs)
        memcpy(ch->stubs, code->stubs, code->n_stubs * sizeof *code->stubs);
    ch->n_stubs = code->n_stubs;
    struct iso_worker_config cfg = {
        .tenant = "t",
        .worker = "child",
        .modules = code->modules,
        .n_modules = code->n_modules,
        .main_module = code->main_module,
        .heap_limit_bytes = fh->child_heap,
        .log = on_log,
        .log_ud = &fh->logs,
        .watch = fh->watch,
        .cpu_budget_ns = fh->child_cpu_ns,
        .host = &fh->host,
        .env = code->env,
        .env_len = code->env_len,
        .env_peer = FAKE_PARENT_PEER,
        .outbound = code->outbound,
        .outbound_stub = code->outbound_stub,
        .child = true,
    };
    int rc = iso_worker_new(&cfg, &ch->w, err);
    if (rc) {
        iso_worker_release_stubs(parent, code->stubs, code->n_stubs);
        return rc;
    }
    ch->live = true;
    fh->n_children++;
    fh->created++;
    *out = ch;
    return 0;
}

static inline uint64_t fake_serial(struct fake_host *fh, struct fake_child *ch)
{
    return (uint64_t)(ch - fh->children) + 1;
}

static inline void fake_run(struct fake_host *fh, struct fake_task *t)
{
    struct ed_error err = {0};
    struct fake_answer *a = NULL;
    int rc;
    switch (t->kind) {
    case FAKE_DROP:
        fh->drops++;
        if (t->into_child)
            iso_worker_drop_stub(t->child->w, FAKE_PARENT_PEER, t->stub);
        else
            iso_worker_drop_stub(t->child->parent, fake_serial(fh, t->child), t->stub);
        return;
    case FAKE_STUB_TO_PARENT:
        fh->stub_calls++;
        if (!t->child->parent) {
            rc = ed_error_set(&err, ED_ECANCELED, "the parent is gone");
            break;
        }
        a = fake_answer_new(NULL, t->cb, t->cb_ud, FAKE_PARENT_PEER);
        rc = iso_worker_call_stub(t->child->parent, t->stub, t->method, t->args, t->args_len,
                                  fake_serial(fh, t->child), NULL, fake_answered, a, &err);
        break;
    case FAKE_STUB_TO_CHILD:
        fh->child_stub_calls++;
        if (!t->child->w) {
            rc = ed_error_set(&err, ED_ENOENT, "The worker this RPC stub belongs to is gone");
            break;
        }
        a = fake_answer_new(t->child, t->cb, t->cb_ud, fake_serial(fh, t->child));
        rc = iso_worker_call_stub(t->child->w, t->stub, t->method, t->args, t->args_len,
                                  FAKE_PARENT_PEER, &t->child->cpu_used_ns, fake_answered, a, &err);
        break;
    default:
        if (!t->child->w) {
            rc = ed_error_set(&err, ED_ENOENT, "the child is gone");
            break;
        }
        fh->invokes++;
        a = fake_answer_new(t->child, t->cb, t->cb_ud, fake_serial(fh, t->child));
        rc = iso_worker_invoke(t->child->w, t->entrypoint, t->method, t->props, t->props_len,
                               t->args, t->args_len, FAKE_PARENT_PEER, fh->child_cpu_ns,
                               &t->child->cpu_used_ns, fake_answered, a, &err);
        break;
    }
    if (rc) {
        free(a);
        t->cb(t->cb_ud, rc, NULL, 0, ed_error_msg(&err), 0);
    }
    ed_error_dispose(&err);
}

static inline uint8_t *fake_dup(const uint8_t *p, size_t n)
{
    if (!p)
        return NULL;
    uint8_t *q = malloc(n ? n : 1);
    memcpy(q, p, n);
    return q;
}

static inline void fake_task_free(struct fake_task *t)
{
    free(t->entrypoint);
    free(t->method);
    free(t->props);
    free(t->args);
}

/* Runs (sync) or queues (async) t; takes t's copies. */
static inline void fake_submit(struct fake_host *fh, struct fake_task *t)
{
    if (!fh->async) {
        fake_run(fh, t);
        fake_task_free(t);
        return;
    }
    cr_assert_lt(fh->task_len, FAKE_MAX_TASKS);
    fh->tasks[(fh->task_head + fh->task_len++) % FAKE_MAX_TASKS] = *t;
}

/* Runs queued work until none is left (bounded). Returns how many tasks ran. */
static inline int fake_host_drain(struct fake_host *fh)
{
    int n = 0;
    for (; fh->task_len > 0 && n < 100000; n++) {
        struct fake_task t = fh->tasks[fh->task_head];
        fh->task_head = (fh->task_head + 1) % FAKE_MAX_TASKS;
        fh->task_len--;
        fake_run(fh, &t);
        fake_task_free(&t);
    }
    return n;
}

/* The child whose serial is peer, in from's host (NULL when from is a child or none). */
static inline struct fake_child *fake_by_serial(struct fake_host *fh, uint64_t peer)
{
    return peer >= 1 && peer <= fh->n_children ? &fh->children[peer - 1] : NULL;
}

static inline int fake_call(void *ud, struct iso_worker *from, const struct iso_call *call,
                            iso_answer_cb cb, void *cb_ud, struct ed_error *err)
{
    struct fake_host *fh = ud;
    if (call->kind == ISO_CALL_RELEASE) {
        fh->releases++;
        struct fake_child *ch = fake_find(fh, call->binding, call->child_id, call->child_id_len);
        if (ch)
            ch->live = false; /* freed at dispose: an answer may still be on its way */
        return 0;
    }
    struct fake_child *caller = fake_by_worker(fh, from);
    if (call->kind == ISO_CALL_DROP) {
        struct fake_task t = {.kind = FAKE_DROP, .stub = call->stub};
        t.child = caller ? caller : fake_by_serial(fh, call->peer);
        t.into_child = !caller;
        if (t.child)
            fake_submit(fh, &t);
        return 0;
    }
    struct fake_task t = {0};
    t.cb = cb;
    t.cb_ud = cb_ud;
    t.method = call->method ? strdup(call->method) : NULL;
    t.args = fake_dup(call->args, call->args_len);
    t.args_len = call->args_len;
    if (call->kind == ISO_CALL_STUB) {
        t.stub = call->stub;
        if (caller) {
            t.kind = FAKE_STUB_TO_PARENT;
            t.child = caller;
        } else {
            t.kind = FAKE_STUB_TO_CHILD;
            t.child = fake_by_serial(fh, call->peer);
            if (!t.child) {
                fake_task_free(&t);
                return ed_error_set(err, ED_ENOENT, "no child with peer %llu",
                                    (unsigned long long)call->peer);
            }
        }
        fake_submit(fh, &t);
        return 0;
    }
    struct fake_child *ch = fake_find(fh, call->binding, call->child_id, call->child_id_len);
    if (ch && call->code) {
        fh->unused_code++;
        iso_worker_release_stubs(from, call->code->stubs, call->code->n_stubs);
    }
    if (!ch) {
        if (!call->code) {
            fake_task_free(&t);
            cb(cb_ud, ED_ENOENT, NULL, 0, "no live child with this id", 0);
            return 0;
        }
        struct ed_error e = {0};
        int rc = fake_create(fh, from, call, &ch, &e);
        if (rc) {
            fake_task_free(&t);
            cb(cb_ud, rc, NULL, 0, ed_error_msg(&e), 0);
            ed_error_dispose(&e);
            return 0;
        }
    }
    t.kind = FAKE_INVOKE;
    t.child = ch;
    t.entrypoint = call->entrypoint ? strdup(call->entrypoint) : NULL;
    t.props = fake_dup(call->props, call->props_len);
    t.props_len = call->props_len;
    fake_submit(fh, &t);
    return 0;
}

static inline bool fake_live(void *ud, struct iso_worker *from, const char *binding, const char *id,
                             size_t id_len)
{
    struct fake_host *fh = ud;
    (void)from;
    fh->live_checks++;
    return fh->claim_live || fake_find(fh, binding, id, id_len) != NULL;
}

static inline void fake_host_init(struct fake_host *fh)
{
    memset(fh, 0, sizeof *fh);
    fh->host = (struct iso_host){fh, fake_call, fake_live, NULL, NULL};
    ed_buf_init(&fh->logs.text);
}

/* Frees the children (before their parent: it gets its stubs back). */
static inline void fake_host_dispose(struct fake_host *fh)
{
    for (size_t i = 0; i < fh->n_children; i++) {
        struct fake_child *c = &fh->children[i];
        if (c->w)
            iso_worker_free(c->w);
        c->w = NULL;
        iso_worker_release_stubs(c->parent, c->stubs, c->n_stubs);
        iso_worker_release_peer(c->parent, i + 1);
    }
    for (size_t i = 0; i < fh->task_len; i++)
        fake_task_free(&fh->tasks[(fh->task_head + i) % FAKE_MAX_TASKS]);
    ed_buf_dispose(&fh->logs.text);
}

/* A parent with one loader binding, LOADER, limited to heap bytes (0: the default). */
static inline struct iso_worker *parent_with_heap(struct fake_host *fh, const char *source,
                                                  size_t heap)
{
    static const char *const loaders[] = {"LOADER"};
    struct iso_module m = {"parent.js", source, strlen(source), ISO_MODULE_ESM};
    struct iso_worker_config cfg = {
        .tenant = "t",
        .worker = "parent",
        .modules = &m,
        .n_modules = 1,
        .main_module = "parent.js",
        .log = on_log,
        .log_ud = &fh->logs,
        .watch = fh->watch,
        .host = &fh->host,
        .loaders = loaders,
        .n_loaders = 1,
        .heap_limit_bytes = heap,
    };
    struct iso_worker *w = NULL;
    struct ed_error err = {0};
    int rc = iso_worker_new(&cfg, &w, &err);
    cr_assert_eq(rc, 0, "parent: %s: %s", ed_errname(rc), ed_error_msg(&err));
    ed_error_dispose(&err);
    return w;
}

/* A parent with one loader binding, LOADER. */
static inline struct iso_worker *parent_ok(struct fake_host *fh, const char *source)
{
    return parent_with_heap(fh, source, 0);
}

#endif
