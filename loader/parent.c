/*
 * A parent instance's loader context: the iso_host its isolate calls out through, and the
 * list of its live children. The context outlives the isolate's last call: tasks in flight
 * hold a reference and find it marked dead, so nothing is delivered into a freed isolate.
 */
#include <stdlib.h>
#include <string.h>

#include "loader/ld_int.h"

int ld_parent_new(struct ld_shard *sh, const struct ld_parent_config *cfg, struct ld_parent **out,
                  struct ed_error *err)
{
    struct ld_parent *p = calloc(1, sizeof *p);
    if (!p)
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    p->shard = sh;
    p->cfg = *cfg;
    p->tenant = strdup(cfg->tenant);
    p->worker = strdup(cfg->worker);
    if (!p->tenant || !p->worker) {
        free(p->tenant);
        free(p->worker);
        free(p);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    p->cfg.tenant = p->tenant;
    p->cfg.worker = p->worker;
    p->tenant_caps = ld__tenant_get(sh, &p->cfg);
    if (!p->tenant_caps) {
        free(p->tenant);
        free(p->worker);
        free(p);
        return ed_error_set(err, ED_ENOMEM, "out of memory");
    }
    p->host.ud = p;
    p->host.call = ld__host_call;
    p->host.child_live = ld__host_child_live;
    p->host.fetcher = ld__host_fetcher;
    p->refs = 1;
    p->next = sh->parents;
    if (sh->parents)
        sh->parents->prev = p;
    sh->parents = p;
    *out = p;
    return 0;
}

const struct iso_host *ld_parent_host(struct ld_parent *p)
{
    return &p->host;
}

void ld_parent_attach(struct ld_parent *p, struct iso_worker *w)
{
    p->w = w;
}

void ld__parent_unref(struct ld_parent *p)
{
    if (--p->refs > 0)
        return;
    ld__tenant_put(p->shard, p->tenant_caps);
    free(p->tenant);
    free(p->worker);
    free(p);
}

void ld_parent_free(struct ld_parent *p)
{
    if (!p)
        return;
    struct ld_shard *sh = p->shard;
    p->dead = true;
    while (p->children)
        ld__child_unregister(p->children);
    p->w = NULL;
    if (p->prev)
        p->prev->next = p->next;
    else
        sh->parents = p->next;
    if (p->next)
        p->next->prev = p->prev;
    ld__parent_unref(p);
}
