/*
 * storage/ — every SQLite handle edged opens. Today: the control-plane database
 * (DATA/control.sqlite, WAL) and its first tables, the per-tenant, per-UTC-day usage counters
 * that billing reads. Durable objects (one database per object) come with their issue.
 *
 * Writes never run on a shard's loop: shards hand usage deltas to st_usage_add() (a mutex and
 * a memcpy), and one writer thread folds them into a transaction every flush interval, so an
 * fsync never stalls a request. Reads (st_usage_get) see committed rows plus what is still
 * queued, so a counter read right after a request already includes it.
 *
 * Prefix: st_.
 */
#ifndef EDGED_STORAGE_H
#define EDGED_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct st_db;

/* Opens (creating if needed) DIR/control.sqlite, migrates its schema and starts the writer
 * thread, which flushes queued usage every flush_ms (0: 200 ms). dir is borrowed (copied);
 * it is created with its parents if missing. One st_db holds a directory at a time (a lock on
 * DIR/control.lock). Returns owned (close with st_close) or a negative code with err set
 * (ED_ESQLITE with SQLite's message, e.g. not a database or a schema newer than this edged;
 * ED_EIO when the directory cannot be created or locked; ED_EBUSY when another st_db, in this
 * process or another, holds it). */
int st_open(const char *dir, uint32_t flush_ms, struct st_db **out, struct ed_error *err);
/* Flushes everything queued, stops the writer thread and closes the database. NULL is fine.
 * A flush that keeps failing is retried a few times, then what it held is logged as lost.
 * No other st_ call on db may run concurrently or afterwards. */
void st_close(struct st_db *db);
/* Flushes what is queued now and waits until it is committed (blocks on the disk: not for a
 * shard's loop). Returns 0 or a negative code with err set (ED_ESQLITE); after a failure the
 * deltas stay queued and are retried. */
int st_flush(struct st_db *db, struct ed_error *err);

/* A UTC day as "YYYY-MM-DD" for a Unix time in seconds (clamped to years 0000-9999). buf holds
 * ST_DAY_LEN bytes. Returns buf. */
#define ST_DAY_LEN 11
char *st_day(int64_t unix_seconds, char *buf);

/* What one tenant used on one day. Additive: st_usage_add adds each field. */
struct st_usage {
    uint64_t requests;          /* parent requests served */
    uint64_t cpu_us;            /* parent CPU time */
    uint64_t subrequests;       /* outbound fetches and child invocations made by the parent */
    uint64_t children_loaded;   /* unique child workers loaded (billing unit; see below) */
    uint64_t child_invocations; /* calls into children */
    uint64_t child_cpu_us;      /* children's CPU time, start-up included */
    uint64_t rows_read, rows_written; /* storage (durable objects), later */
};

/* Queues deltas for (tenant, day). Thread-safe, never blocks on I/O. tenant and day are
 * borrowed. Returns 0, ED_EINVAL (tenant empty or over 255 bytes, day not "YYYY-MM-DD") or
 * ED_ENOMEM (the delta is lost; counted in the operator's log): the queue holds at most
 * 100,000 distinct (tenant, day) and 100,000 child keys while the disk does not take them,
 * and adding to a (tenant, day) already queued is always accepted. */
int st_usage_add(struct st_db *db, const char *tenant, const char *day,
                 const struct st_usage *delta);

/* Records that tenant loaded the child worker identified by key (a 32-byte hash of loader
 * id + code) on day. children_loaded grows by one the first time a key is seen for
 * (tenant, day) — across shards and restarts — and never again that day. anonymous (load(),
 * id-less get()) counts every call: pass key NULL. Thread-safe, never blocks on I/O. tenant,
 * day and key are borrowed. Returns as st_usage_add. */
int st_usage_child_loaded(struct st_db *db, const char *tenant, const char *day,
                          const uint8_t key[32]);

/* The counters of (tenant, day): committed plus queued, never a delta counted twice or missed
 * while a flush commits. A read of the database (WAL: it never waits for the writer's fsync,
 * only for other readers), so fine for an occasional read from a shard's loop. Returns 0 (all
 * zero when nothing was recorded) or a negative code with err set. */
int st_usage_get(struct st_db *db, const char *tenant, const char *day, struct st_usage *out,
                 struct ed_error *err);

/* Every tenant's counters for day as a JSON object {"day": "...", "tenants": {"t":
 * {"requests": n, ...}}}, keys named as the fields of struct st_usage, tenants sorted by
 * name; tenant NULL for all tenants that recorded something that day, else only that one
 * (listed with zeros when it recorded nothing). Names that are not UTF-8 have their bad bytes
 * replaced by U+FFFD. Returns owned (free with free()) through *json, or a negative code with
 * err set. */
int st_usage_json(struct st_db *db, const char *tenant, const char *day, char **json,
                  struct ed_error *err);

#ifdef __cplusplus
}
#endif
#endif
