/*
 * Calls between a parent and its children, as tasks on the shard's loop. A call out of an
 * isolate is copied into a task (the caller's buffers are only borrowed) and runs on the
 * next turn; the callee's answer is copied into another task that delivers it. So every task
 * enters one isolate and returns before the next task runs, and a caller that was freed
 * meanwhile (its instance retired) is simply not answered. Stubs name their exporter by peer:
 * a child's calls and drops go to its parent (LD_PEER_PARENT), a parent's to the child with
 * that serial; each answer says which isolate gave it, so the stubs in it call back there.
 */
#include <stdlib.h>
#include <string.h>

#include "loader/ld_int.h"

/* ---- owned copies of borrowed call data ---------------------------------------------------- */

struct bytes {
    uint8_t *data;
    size_t len;
};

static int bytes_copy(struct bytes *b, const void *data, size_t len)
{
    b->data = NULL;
    b->len = 0;
    if (!data || !len)
        return 0;
    b->data = malloc(len);
    if (!b->data)
        return ED_ENOMEM;
    memcpy(b->data, data, len);
    b->len = len;
    return 0;
}

/* len bytes and a NUL after them (not counted). */
static int text_copy(struct bytes *b, const void *data, size_t len)
{
    b->len = 0;
    if (!(b->data = malloc(len + 1)))
        return ED_ENOMEM;
    if (len)
        memcpy(b->data, data, len);
    b->data[len] = '\0';
    b->len = len;
    return 0;
}

static char *str_copy(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        *oom = true;
    return c;
}

/* The workerCode of a get()/load(), deep-copied. */
struct code_copy {
    struct iso_child_code code;
    struct iso_module *modules;
    char *main_module;
    struct bytes env;
    uint64_t *stubs;
};

static void code_free(struct code_copy *cc)
{
    if (!cc)
        return;
    for (size_t i = 0; i < cc->code.n_modules; i++) {
        free((char *)cc->modules[i].name);
        free((char *)cc->modules[i].source);
    }
    free(cc->modules);
    free(cc->main_module);
    free(cc->env.data);
    free(cc->stubs);
    free(cc);
}

static struct code_copy *code_copy(const struct iso_child_code *src)
{
    struct code_copy *cc = calloc(1, sizeof *cc);
    if (!cc)
        return NULL;
    bool oom = false;
    cc->code = *src;
    cc->code.compatibility_date = NULL;
    cc->modules = calloc(src->n_modules ? src->n_modules : 1, sizeof *cc->modules);
    cc->code.n_modules = 0;
    for (size_t i = 0; cc->modules && i < src->n_modules; i++) {
        const struct iso_module *m = &src->modules[i];
        char *src_copy = malloc(m->source_len + 1);
        if (src_copy) {
            memcpy(src_copy, m->source, m->source_len);
            src_copy[m->source_len] = '\0';
        }
        cc->modules[i] =
            (struct iso_module){str_copy(m->name, &oom), src_copy, m->source_len, m->type};
        cc->code.n_modules++;
        oom |= !src_copy;
    }
    cc->main_module = str_copy(src->main_module, &oom);
    oom |= bytes_copy(&cc->env, src->env, src->env_len) != 0;
    if (src->n_stubs) {
        cc->stubs = malloc(src->n_stubs * sizeof *cc->stubs);
        if (cc->stubs)
            memcpy(cc->stubs, src->stubs, src->n_stubs * sizeof *cc->stubs);
        oom |= !cc->stubs;
    }
    if (oom || !cc->modules) {
        code_free(cc);
        return NULL;
    }
    cc->code.modules = cc->modules;
    cc->code.main_module = cc->main_module;
    cc->code.env = cc->env.data;
    cc->code.stubs = cc->stubs;
    return cc;
}

/* ---- delivering an answer ------------------------------------------------------------------ */

/* Who gets an answer: a parent's isolate, or a child's (for its env stub calls). */
struct target {
    struct ld_parent *parent; /* ref held */
    struct ld_child *child;   /* ref held, when the caller is a child */
    iso_answer_cb cb;
    void *cb_ud;
};

struct answer_task {
    struct ld__task task;
    struct target to;
    int code;
    struct bytes result;
    char *msg;
    uint64_t peer;         /* the callee as the caller names it (0: none) */
    struct ld_child *drop; /* a child reference to drop once the answer is delivered */
};

static void target_release(struct target *t)
{
    if (t->child)
        ld__child_unref(t->child);
    if (t->parent)
        ld__parent_unref(t->parent);
}

/* Every call gets its one answer, even when its caller is gone: the shim keeps its record
 * of the call apart from the isolate, frees it on the answer and drops what it carries. */
static void run_answer(struct ld__task *task)
{
    struct answer_task *a = (struct answer_task *)task;
    if (a->to.child)
        ld__child_dirty(a->to.child);
    a->to.cb(a->to.cb_ud, a->code, a->result.data, a->result.len,
             a->msg ? a->msg : ed_strerror(a->code), a->peer);
    target_release(&a->to);
    if (a->drop)
        ld__child_unref(a->drop);
    free(a->result.data);
    free(a->msg);
    free(a);
}

/* Queues a, allocated before the call it answers so that answering never fails: the payload
 * is copied if memory allows, else the caller gets ED_ENOMEM. a takes over t's references. */
static void answer(struct ld_shard *sh, struct answer_task *a, int code, const uint8_t *result,
                   size_t len, const char *msg)
{
    a->task.run = run_answer;
    a->code = code;
    if (bytes_copy(&a->result, result, len) != 0 || (msg && !(a->msg = strdup(msg)))) {
        free(a->result.data);
        a->result.data = NULL;
        a->result.len = 0;
        a->code = ED_ENOMEM;
    }
    ld__post(sh, &a->task);
}

/* ---- parent -> child --------------------------------------------------------------------- */

struct invoke_task {
    struct ld__task task;
    struct target from;
    char *binding, *id;
    size_t id_len;
    bool anonymous;
    struct code_copy *code;  /* NULL: the parent saw the child live... */
    struct ld_child *pinned; /* ...and this is it, referenced so no eviction can take it */
    char *entrypoint, *method;
    struct bytes props, args;
    uint32_t cpu_ms, sub_requests;
    /* ISO_CALL_FACET: into this facet of the calling object, instead of an entrypoint */
    bool facet;
    uint64_t object;
    struct bytes facet_name, object_name;
    char *facet_class, *object_id;
    bool has_object_name;
};

/* One call in flight into a child; its answer task is ready before the call starts. */
struct invocation {
    struct ld_child *child; /* ref held, handed to the answer task */
    struct answer_task *reply;
    uint64_t cpu_used_ns;
    bool stub; /* a call into a stub of the child's (no invocation of an entrypoint) */
};

static void invoke_task_free(struct invoke_task *t)
{
    if (t->pinned)
        ld__child_unref(t->pinned);
    free(t->binding);
    free(t->id);
    code_free(t->code);
    free(t->entrypoint);
    free(t->method);
    free(t->props.data);
    free(t->args.data);
    free(t->facet_name.data);
    free(t->object_name.data);
    free(t->facet_class);
    free(t->object_id);
    free(t);
}

static void on_child_answer(void *ud, int code, const uint8_t *result, size_t len, const char *msg);

/* The facet call t carries, for the facet host. */
static int call_facet(struct ld_parent *p, struct ld_child *c, struct invoke_task *t,
                      uint32_t cpu_ms, struct invocation *inv, struct ed_error *err)
{
    const struct ld_facet_host *fh = p->cfg.facets;
    struct iso_call call = {
        .kind = ISO_CALL_FACET,
        .binding = t->binding,
        .child_id = t->id,
        .child_id_len = t->id_len,
        .anonymous = t->anonymous,
        .method = t->method,
        .args = t->args.data,
        .args_len = t->args.len,
        .object = t->object,
        .facet = (const char *)t->facet_name.data,
        .facet_len = t->facet_name.len,
        .facet_class = t->facet_class,
        .object_id = t->object_id,
        .object_name = t->has_object_name ? (const char *)t->object_name.data : NULL,
        .object_name_len = t->object_name.len,
    };
    return fh->call(fh->ud, c->w, &call, (uint64_t)cpu_ms * 1000000u, &inv->cpu_used_ns,
                    on_child_answer, inv, err);
}

/* Runs inside the child's isolate: everything that could free it waits for the answer task. */
static void on_child_answer(void *ud, int code, const uint8_t *result, size_t len, const char *msg)
{
    struct invocation *inv = ud;
    struct ld_child *c = inv->child;
    /* a call into a child is a subrequest of the parent's, as a service binding call is; a
     * call into what it returned (an RpcTarget, a body's next chunk) only costs its CPU */
    struct st_usage u = {.child_cpu_us = inv->cpu_used_ns / 1000u};
    if (!inv->stub)
        u.child_invocations = u.subrequests = 1;
    ld__usage(c->parent, &u);
    if (iso_worker_retired(c->w)) /* a child killed for a limit is never reused */
        ld__child_unregister(c);  /* the invocation's reference keeps it alive */
    else
        ld__child_measure(c);
    inv->reply->drop = c;
    inv->reply->peer = c->serial;
    answer(c->parent->shard, inv->reply, code, result, len, msg);
    free(inv);
}

static void run_invoke(struct ld__task *task)
{
    struct invoke_task *t = (struct invoke_task *)task;
    struct ld_parent *p = t->from.parent;
    struct ed_error err = {0};
    /* a child evicted since the call was made still serves it: the task holds it */
    struct ld_child *c = NULL;
    int rc = 0;
    bool made = false;
    if (p->dead) {
        rc = ed_error_set(&err, ED_ECANCELED, "worker is shutting down");
    } else if (!(c = t->pinned ? t->pinned : ld__child_find(p, t->binding, t->id, t->id_len))) {
        rc = ld__child_create(p, t->binding, t->id, t->id_len, t->anonymous, &t->code->code,
                              t->cpu_ms, &c, &err);
        made = rc == 0;
    }
    /* no child holds the stubs exported with this code (it was live already, or could not be
     * made): release them now */
    if (t->code && !made && t->code->code.n_stubs && p->w && !p->dead)
        iso_worker_release_stubs(p->w, t->code->code.stubs, t->code->code.n_stubs);
    struct invocation *inv = NULL;
    struct answer_task *reply = calloc(1, sizeof *reply);
    if (!reply) {
        rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
        target_release(&t->from);
    } else {
        reply->to = t->from; /* the reply owns the caller's references from here */
    }
    if (rc == 0) {
        inv = calloc(1, sizeof *inv);
        if (!inv)
            rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        ld__child_touch(c);
        c->refs++;
        inv->child = c;
        inv->reply = reply;
        uint32_t cpu_ms = c->cpu_ms;
        if (t->cpu_ms && t->cpu_ms < cpu_ms)
            cpu_ms = t->cpu_ms;
        /* subrequests are counted per call into the child, as Workers counts per request */
        c->sub_used = 0;
        c->sub_limit = t->sub_requests && t->sub_requests < c->sub_requests ? t->sub_requests
                                                                            : c->sub_requests;
        if (t->facet)
            rc = call_facet(p, c, t, cpu_ms, inv, &err);
        else
            rc = iso_worker_invoke(c->w, t->entrypoint, t->method, t->props.data, t->props.len,
                                   t->args.data, t->args.len, LD_PEER_PARENT,
                                   (uint64_t)cpu_ms * 1000000u, &inv->cpu_used_ns, on_child_answer,
                                   inv, &err);
        if (rc) {
            free(inv);
            reply->drop = c; /* the reference taken above */
        }
    }
    if (rc && c && c->w && iso_worker_retired(c->w))
        ld__child_unregister(c);
    if (rc && reply)
        answer(p->shard, reply, rc, NULL, 0, ed_error_msg(&err));
    ed_error_dispose(&err);
    invoke_task_free(t);
}

/* ---- stubs: child -> parent, parent -> child ------------------------------------------------ */

struct stub_task {
    struct ld__task task;
    struct target from;  /* the caller: the child, or the parent */
    struct ld_child *to; /* the parent calls into this child (ref held); NULL: into the parent */
    uint64_t stub;
    char *method;
    struct bytes args;
};

static void stub_task_free(struct stub_task *t)
{
    free(t->method);
    free(t->args.data);
    free(t);
}

/* Runs inside the parent's isolate; the answer goes to the child as a task. */
static void on_stub_answer(void *ud, int code, const uint8_t *result, size_t len, const char *msg)
{
    struct answer_task *reply = ud;
    reply->peer = LD_PEER_PARENT;
    answer(reply->to.parent->shard, reply, code, result, len, msg);
}

/* A child's call into a stub of its parent's. */
static void run_stub(struct ld__task *task)
{
    struct stub_task *t = (struct stub_task *)task;
    struct ld_child *c = t->from.child;
    struct ld_parent *p = c->parent;
    struct ed_error err = {0};
    int rc = 0;
    struct answer_task *reply = calloc(1, sizeof *reply);
    if (!reply) {
        target_release(&t->from);
        rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
    } else {
        reply->to = t->from;
        if (p->dead || !p->w)
            rc = ed_error_set(&err, ED_ECANCELED, "the parent worker of this child is gone");
        else
            rc = iso_worker_call_stub(p->w, t->stub, t->method, t->args.data, t->args.len,
                                      c->serial, NULL, on_stub_answer, reply, &err);
        if (rc)
            answer(p->shard, reply, rc, NULL, 0, ed_error_msg(&err));
    }
    ed_error_dispose(&err);
    stub_task_free(t);
}

/* A parent's call into a stub of one of its children (something the child returned). */
static void run_child_stub(struct ld__task *task)
{
    struct stub_task *t = (struct stub_task *)task;
    struct ld_child *c = t->to;
    struct ld_parent *p = t->from.parent;
    struct ed_error err = {0};
    int rc = 0;
    struct invocation *inv = NULL;
    struct answer_task *reply = calloc(1, sizeof *reply);
    if (!reply) {
        target_release(&t->from);
        ld__child_unref(c);
        stub_task_free(t);
        return;
    }
    reply->to = t->from;
    reply->drop = c; /* the task's reference, dropped once the answer is delivered */
    if (p->dead)
        rc = ed_error_set(&err, ED_ECANCELED, "worker is shutting down");
    else if (!c->registered || iso_worker_retired(c->w))
        rc = ed_error_set(&err, ED_ENOENT,
                          "The worker this RPC stub belongs to is gone (it was unloaded or "
                          "stopped by a limit)");
    else if (!(inv = calloc(1, sizeof *inv)))
        rc = ed_error_set(&err, ED_ENOMEM, "out of memory");
    if (rc == 0) {
        ld__child_touch(c);
        *inv = (struct invocation){.child = c, .reply = reply, .stub = true};
        rc = iso_worker_call_stub(c->w, t->stub, t->method, t->args.data, t->args.len,
                                  LD_PEER_PARENT, &inv->cpu_used_ns, on_child_answer, inv, &err);
        if (rc)
            free(inv);
    }
    if (rc)
        answer(p->shard, reply, rc, NULL, 0, ed_error_msg(&err));
    ed_error_dispose(&err);
    stub_task_free(t);
}

/* ISO_CALL_DROP, as a task: the holder let go of a stub. */
struct drop_task {
    struct ld__task task;
    struct ld_parent *parent; /* ref held */
    struct ld_child *child;   /* ref held: the child that dropped, or whose export it was */
    bool into_child;          /* the export is the child's (else the parent's) */
    uint64_t stub;
};

static void run_drop(struct ld__task *task)
{
    struct drop_task *t = (struct drop_task *)task;
    struct ld_parent *p = t->parent;
    if (t->into_child && t->child->w)
        iso_worker_drop_stub(t->child->w, LD_PEER_PARENT, t->stub);
    else if (!t->into_child && p->w && !p->dead)
        iso_worker_drop_stub(p->w, t->child->serial, t->stub);
    ld__child_unref(t->child); /* may let a released child go */
    ld__parent_unref(p);
    free(t);
}

static int post_drop(struct ld_child *c, bool into_child, uint64_t stub, struct ed_error *err)
{
    struct drop_task *t = calloc(1, sizeof *t);
    if (!t)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    t->task.run = run_drop;
    t->task.no_js = true;
    t->parent = c->parent;
    t->child = c;
    t->into_child = into_child;
    t->stub = stub;
    c->refs++;
    c->parent->refs++;
    ld__post(c->parent->shard, &t->task);
    return 0;
}

/* ---- the host interface -------------------------------------------------------------------- */

static int post_invoke(struct ld_parent *p, const struct iso_call *call, iso_answer_cb cb,
                       void *cb_ud, struct ed_error *err)
{
    struct invoke_task *t = calloc(1, sizeof *t);
    if (!t)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    bool oom = false;
    t->task.run = run_invoke;
    t->binding = str_copy(call->binding ? call->binding : "", &oom);
    t->id = malloc(call->child_id_len + 1);
    if (t->id) {
        memcpy(t->id, call->child_id, call->child_id_len);
        t->id[call->child_id_len] = '\0';
    }
    t->id_len = call->child_id_len;
    t->anonymous = call->anonymous;
    t->entrypoint = str_copy(call->entrypoint, &oom);
    t->method = str_copy(call->method ? call->method : "fetch", &oom);
    t->cpu_ms = call->cpu_ms;
    t->sub_requests = call->sub_requests;
    oom |= !t->id || bytes_copy(&t->props, call->props, call->props_len) ||
           bytes_copy(&t->args, call->args, call->args_len);
    if (call->kind == ISO_CALL_FACET) {
        t->facet = true;
        t->object = call->object;
        t->facet_class = str_copy(call->facet_class, &oom);
        t->object_id = str_copy(call->object_id ? call->object_id : "", &oom);
        t->has_object_name = call->object_name != NULL;
        oom |= text_copy(&t->facet_name, call->facet, call->facet_len) != 0 ||
               (call->object_name &&
                text_copy(&t->object_name, call->object_name, call->object_name_len) != 0);
    }
    if (!oom && call->code && !(t->code = code_copy(call->code)))
        oom = true;
    if (oom) {
        invoke_task_free(t);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    if (!call->code) {
        t->pinned = ld__child_find(p, t->binding, t->id, t->id_len);
        if (!t->pinned) {
            invoke_task_free(t);
            return ed_error_set(err, ED_ENOENT, "child worker is not loaded: pass its code");
        }
        t->pinned->refs++;
    }
    p->refs++;
    t->from = (struct target){.parent = p, .cb = cb, .cb_ud = cb_ud};
    ld__post(p->shard, &t->task);
    return 0;
}

/* Copies a stub call's method and arguments into a new task. */
static struct stub_task *stub_task_new(const struct iso_call *call, struct ed_error *err)
{
    struct stub_task *t = calloc(1, sizeof *t);
    bool oom = !t;
    if (t) {
        t->stub = call->stub;
        t->method = str_copy(call->method, &oom);
        oom |= bytes_copy(&t->args, call->args, call->args_len) != 0;
    }
    if (oom) {
        if (t)
            stub_task_free(t);
        ed_error_set(err, ED_ENOMEM, "out of memory");
        return NULL;
    }
    return t;
}

static int post_child_stub(struct ld_parent *p, const struct iso_call *call, iso_answer_cb cb,
                           void *cb_ud, struct ed_error *err)
{
    struct ld_child *c = ld__child_by_serial(p, call->peer);
    if (!c || iso_worker_retired(c->w))
        return ed_error_set(err, ED_ENOENT,
                            "The worker this RPC stub belongs to is gone (it was unloaded or "
                            "stopped by a limit)");
    struct stub_task *t = stub_task_new(call, err);
    if (!t)
        return ED_ENOMEM;
    t->task.run = run_child_stub;
    t->to = c;
    c->refs++;
    p->refs++;
    t->from = (struct target){.parent = p, .cb = cb, .cb_ud = cb_ud};
    ld__post(p->shard, &t->task);
    return 0;
}

int ld__host_call(void *ud, struct iso_worker *from, const struct iso_call *call, iso_answer_cb cb,
                  void *cb_ud, struct ed_error *err)
{
    struct ld_parent *p = ud;
    (void)from;
    if (p->dead)
        return ed_error_set(err, ED_ECANCELED, "worker is shutting down");
    switch (call->kind) {
    case ISO_CALL_LOADER:
        if (!call->child_id || !call->child_id_len)
            return ed_error_set(err, ED_EINVAL, "a child worker needs an id");
        return post_invoke(p, call, cb, cb_ud, err);
    case ISO_CALL_FACET:
        if (!p->cfg.facets)
            return ed_error_set(err, ED_EINVAL,
                                "This Durable Object does not support creating facets.");
        if (!call->child_id || !call->child_id_len || !call->facet || !call->facet_len ||
            !call->facet_class)
            return ed_error_set(err, ED_EINVAL, "a facet needs a name, a class and a child");
        return post_invoke(p, call, cb, cb_ud, err);
    case ISO_CALL_RELEASE: {
        struct ld_child *c = ld__child_find(p, call->binding ? call->binding : "", call->child_id,
                                            call->child_id_len);
        if (c)
            ld__child_release(c); /* calls in flight and stubs held keep it until they end */
        return 0;
    }
    case ISO_CALL_STUB:
        return post_child_stub(p, call, cb, cb_ud, err);
    case ISO_CALL_DROP: {
        struct ld_child *c = ld__child_by_serial(p, call->peer);
        return c ? post_drop(c, true, call->stub, err) : 0; /* gone: its table went with it */
    }
    default:
        return ed_error_set(err, ED_EINVAL, "unknown call");
    }
}

bool ld__host_child_live(void *ud, struct iso_worker *from, const char *binding, const char *id,
                         size_t id_len)
{
    struct ld_parent *p = ud;
    (void)from;
    return !p->dead && ld__child_find(p, binding ? binding : "", id, id_len) != NULL;
}

int ld__child_host_call(void *ud, struct iso_worker *from, const struct iso_call *call,
                        iso_answer_cb cb, void *cb_ud, struct ed_error *err)
{
    struct ld_child *c = ud;
    (void)from;
    if (call->kind == ISO_CALL_DROP)
        return c->parent->dead ? 0 : post_drop(c, false, call->stub, err);
    if (call->kind != ISO_CALL_STUB)
        return ed_error_set(err, ED_EINVAL, "child workers have no loader bindings");
    if (c->has_outbound && call->stub == c->outbound_stub) { /* the child's fetch() */
        if (++c->sub_used > c->sub_limit)
            return ed_error_set(err, ED_ERANGE,
                                "Too many subrequests: this worker may make %u per call",
                                c->sub_limit);
        struct st_usage u = {.subrequests = 1};
        ld__usage(c->parent, &u);
    }
    struct stub_task *t = stub_task_new(call, err);
    if (!t)
        return ED_ENOMEM;
    t->task.run = run_stub;
    c->refs++;
    c->parent->refs++;
    t->from = (struct target){.parent = c->parent, .child = c, .cb = cb, .cb_ud = cb_ud};
    ld__post(c->parent->shard, &t->task);
    return 0;
}

bool ld__child_host_child_live(void *ud, struct iso_worker *from, const char *binding,
                               const char *id, size_t id_len)
{
    (void)ud;
    (void)from;
    (void)binding;
    (void)id;
    (void)id_len;
    return false;
}

/* ---- outbound HTTP ------------------------------------------------------------------------- */

/* A parent's fetch(): the shard's client, counted as one of the tenant's subrequests (the
 * shim enforces the per-request limit, which it counts per invocation). */
const struct iso_fetcher *ld__host_fetcher(void *ud, struct iso_worker *from, struct ed_error *err)
{
    struct ld_parent *p = ud;
    (void)from;
    if (p->dead) {
        ed_error_set(err, ED_ECANCELED, "worker is shutting down");
        return NULL;
    }
    if (!p->shard->cfg.fetcher) {
        ed_error_set(err, ED_EINVAL, "fetch() to the internet is not available on this node.");
        return NULL;
    }
    struct st_usage u = {.subrequests = 1};
    ld__usage(p, &u);
    return p->shard->cfg.fetcher;
}

/* A child's fetch() with globalOutbound omitted: the parent's outbound, i.e. the same client,
 * within the child's subrequest cap per call (as its fetch() through a stub outbound). */
const struct iso_fetcher *ld__child_host_fetcher(void *ud, struct iso_worker *from,
                                                 struct ed_error *err)
{
    struct ld_child *c = ud;
    (void)from;
    if (c->has_outbound || c->no_outbound) { /* the runtime never asks then */
        ed_error_set(err, ED_EINVAL, "this worker's fetch() does not go to the network");
        return NULL;
    }
    if (c->parent->dead) {
        ed_error_set(err, ED_ECANCELED, "the parent worker of this child is gone");
        return NULL;
    }
    if (++c->sub_used > c->sub_limit) {
        ed_error_set(err, ED_ERANGE, "Too many subrequests: this worker may make %u per call",
                     c->sub_limit);
        return NULL;
    }
    return ld__host_fetcher(c->parent, NULL, err);
}
