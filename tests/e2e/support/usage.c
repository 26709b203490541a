/*
 * The e2e harness's view of the usage counters: it reads DATA/control.sqlite with SQLite's own
 * C API, not through storage/, so that a test checks what edged actually committed to disk,
 * the way an operator's billing job would. Read it after the server stopped (SIGTERM flushes).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "e2e.h"
#include "support/internal.h"

const char *e2e_utc_day(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return e2e_fmt("%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int e2e_usage_read(const char *data_dir, const char *tenant, const char *day, struct e2e_usage *out)
{
    memset(out, 0, sizeof *out);
    char path[512];
    if (snprintf(path, sizeof path, "%s/control.sqlite", data_dir) >= (int)sizeof path)
        return e2e__fail("path too long: %s", data_dir);
    sqlite3 *db = NULL;
    /* Read-write without create: a stopped server may have left its WAL for us to read. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        e2e__fail("open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 2000);
    static const char sql[] =
        "SELECT requests, cpu_us, subrequests, children_loaded, child_invocations, child_cpu_us "
        "FROM usage WHERE tenant = ?1 AND day = ?2";
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        e2e__fail("%s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        out->found = true;
        out->requests = sqlite3_column_int64(st, 0);
        out->cpu_us = sqlite3_column_int64(st, 1);
        out->subrequests = sqlite3_column_int64(st, 2);
        out->children_loaded = sqlite3_column_int64(st, 3);
        out->child_invocations = sqlite3_column_int64(st, 4);
        out->child_cpu_us = sqlite3_column_int64(st, 5);
    } else if (rc != SQLITE_DONE) {
        ret = e2e__fail("%s: %s", path, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ret;
}
