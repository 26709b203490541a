/*
 * storage/ internals shared by db.c (the database, its schema and the writer thread) and
 * usage.c (the usage queue, its flush and its reads). Nothing outside storage/ includes this
 * header (scripts/check-layers.sh enforces it); only these files include sqlite3.h.
 *
 * Locks, always taken in this order when nested: rd_mu (the reader connection) then q_mu (the
 * queue). The writer connection belongs to the writer thread alone once st_open returns.
 */
#ifndef EDGED_STORAGE_ST_INT_H
#define EDGED_STORAGE_ST_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "storage/storage.h"

/* How much the queue may hold while the disk does not take it: distinct (tenant, day) entries
 * and distinct pending child keys. Past either, st_usage_add/st_usage_child_loaded refuse with
 * ED_ENOMEM (counted and logged) rather than grow without bound. Adding to an entry already
 * queued needs no memory and is always accepted. */
#define ST__MAX_ENTRIES 100000
#define ST__MAX_KEYS 100000
/* Longest tenant name accepted (bytes). */
#define ST__TENANT_MAX 255
/* After a failed flush the writer retries after flush_ms, doubling up to this (ms). */
#define ST__RETRY_MAX_MS 5000

/* The fields of struct st_usage, in the order of the usage table's columns. */
#define ST__USAGE_FIELDS(X) \
    X(requests)             \
    X(cpu_us)               \
    X(subrequests)          \
    X(children_loaded)      \
    X(child_invocations)    \
    X(child_cpu_us)         \
    X(rows_read)            \
    X(rows_written)

/* A child key waiting to be committed, chained in its entry's set. */
struct st__key {
    struct st__key *next;
    uint8_t key[32];
};

/* The deltas of one (tenant, day) waiting to be committed, chained in a batch's table. */
struct st__entry {
    struct st__entry *next;
    uint64_t hash;
    struct st_usage delta;
    struct st__key **kb; /* key set: chained buckets (NULL until the first key) */
    size_t nkb, nkeys;
    char day[ST_DAY_LEN];
    size_t tlen;
    char tenant[]; /* NUL-terminated */
};

/* A set of entries. seq numbers the flush that will (or does) commit it: the writer stores the
 * seq of each committed batch in usage_flush, in the same transaction, so a reader can tell
 * from its snapshot whether a batch it copied from memory is already in the database. */
struct st__batch {
    struct st__entry **b; /* chained buckets (NULL until the first entry) */
    size_t nb, n, nkeys;
    uint64_t seq;
};

struct st_db {
    char *dir;
    int lock_fd; /* flock on DIR/control.lock: one st_db per data directory */
    uint32_t flush_ms;

    /* The writer connection and its statements: writer thread only (and st_open/st_close). */
    sqlite3 *wdb;
    sqlite3_stmt *w_begin, *w_commit, *w_rollback, *w_upsert, *w_child, *w_seq;

    /* The reader connection (WAL: reads never wait for the writer's fsync). */
    pthread_mutex_t rd_mu;
    sqlite3 *rdb;
    sqlite3_stmt *r_begin, *r_end, *r_seq, *r_row, *r_day, *r_child;

    /* The queue and the writer thread's schedule, under q_mu. */
    pthread_mutex_t q_mu;
    pthread_cond_t q_cond;      /* wakes the writer */
    pthread_cond_t done_cond;   /* wakes st_flush callers */
    struct st__batch pending;   /* what st_usage_add* fill */
    struct st__batch *inflight; /* taken by the writer, being committed; NULL between flushes */
    uint64_t deadline_ns;       /* when the writer flushes pending (0: nothing pending) */
    uint32_t failures;          /* consecutive failed flushes (backoff) */
    uint64_t dropped, dropped_logged;    /* deltas refused because the queue was full */
    uint64_t flush_req, flush_attempted; /* st_flush generations asked for and served */
    int flush_rc;                        /* outcome of the last attempt */
    char *flush_msg;                     /* its message (owned), NULL on success */
    bool writer_idle, stopping, thread_started;
    pthread_t thread;

    /* The control plane's connection (cp.c): any thread, one call at a time under cp_mu. */
    pthread_mutex_t cp_mu;
    sqlite3 *cdb;
    _Atomic uint64_t cp_gen; /* cp_state.generation as last committed */
};

/* ---- usage.c ---- */
void st__batch_free(struct st__batch *b);
/* Moves every entry and key of src into dst, summing deltas and uniting key sets; src ends
 * empty. Needs no memory (growing dst's tables is only attempted), so a failed flush never
 * loses a batch when it goes back to the queue. */
void st__batch_merge(struct st__batch *dst, struct st__batch *src);
/* Writes b in one transaction on the writer connection, ending with usage_flush.seq = b->seq.
 * Returns 0 or ED_ESQLITE with err set (rolled back). */
int st__batch_write(struct st_db *db, const struct st__batch *b, struct ed_error *err);
/* Prepares the writer's and the reader's statements. */
int st__usage_prepare(struct st_db *db, struct ed_error *err);
/* The committed seq (usage_flush.seq) on the writer connection, for st_open. */
int st__usage_read_seq(struct st_db *db, uint64_t *seq, struct ed_error *err);

/* ---- cp.c ---- */
/* Opens the control plane's connection and reads the generation (after the migrations). */
int st__cp_open(struct st_db *db, struct ed_error *err);

/* ---- db.c ---- */
/* Sets err to ED_ESQLITE with what, the connection's message and its extended code. */
int st__sqlite_error(sqlite3 *conn, const char *what, struct ed_error *err);
/* Logs `event=storage_error op=OP code=... msg="..."` plus extra (already key=value). */
void st__log_error(const char *op, const struct ed_error *err, const char *extra);
/* Arms the writer for a queue that just became non-empty. q_mu held. */
void st__pending_armed(struct st_db *db);
/* Checks a tenant name and a "YYYY-MM-DD" day. Returns 0 or ED_EINVAL. */
int st__check_key(const char *tenant, const char *day);

#endif
