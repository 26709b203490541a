/*
 * The e2e harness's load runner: many requests at once from a bounded pool of client
 * threads, each on its own connection and with its own deadline, results recorded per job so
 * the test (on its own thread, where Criterion's assertions work) can check every one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "support/internal.h"

#define MAX_THREADS 32

struct pool {
    int port;
    int timeout_ms;
    struct e2e_job *jobs;
    size_t njobs;
    atomic_size_t next;
};

static void *on_worker(void *arg)
{
    struct pool *pool = arg;
    for (size_t guard = 0; guard < pool->njobs; guard++) {
        size_t i = atomic_fetch_add(&pool->next, 1);
        if (i >= pool->njobs)
            break;
        struct e2e_job *job = &pool->jobs[i];
        struct e2e_response r;
        uint64_t t0 = e2e_now_ms();
        int rc = e2e__request_timeout(pool->port, "GET", job->host, job->path, NULL, NULL, &r,
                                      pool->timeout_ms);
        job->wall_ms = e2e_now_ms() - t0;
        if (rc != 0) {
            job->status = -1;
            snprintf(job->err, sizeof job->err, "%s", e2e_errmsg());
            continue;
        }
        job->status = r.status;
        job->body = r.body;
        r.body = NULL;
        e2e_response_dispose(&r);
    }
    return NULL;
}

int e2e_run_jobs(int port, struct e2e_job *jobs, size_t njobs, int nthreads, int timeout_ms)
{
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > MAX_THREADS)
        nthreads = MAX_THREADS;
    for (size_t i = 0; i < njobs; i++) {
        jobs[i].status = -1;
        jobs[i].body = NULL;
        snprintf(jobs[i].err, sizeof jobs[i].err, "not run");
        jobs[i].wall_ms = 0;
    }
    struct pool pool = {.port = port, .timeout_ms = timeout_ms, .jobs = jobs, .njobs = njobs};
    atomic_init(&pool.next, 0);
    pthread_t threads[MAX_THREADS];
    int started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&threads[started], NULL, on_worker, &pool) != 0)
            break;
    if (started == 0)
        return e2e__fail("could not start client threads");
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    return 0;
}

void e2e_jobs_dispose(struct e2e_job *jobs, size_t njobs)
{
    for (size_t i = 0; i < njobs; i++) {
        free(jobs[i].body);
        jobs[i].body = NULL;
    }
}
