/*
 * Helpers shared by the durable object tests of storage/: a fresh data directory per test
 * (mkdtemp under /tmp, removed after), a node key, and st_sql_exec wrapped so a result reads
 * as text ("a|b\n1|x\n": column names, then one line per row; NULL, integers, reals as %.17g,
 * text, blobs as x'hex').
 */
#ifndef EDGED_TESTS_DO_TEST_H
#define EDGED_TESTS_DO_TEST_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "storage/storage.h"

static char tmpdir[64];

static __attribute__((unused)) void make_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/edged-do-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static __attribute__((unused)) int rm_one(const char *path, const struct stat *sb, int flag,
                                          struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static __attribute__((unused)) void remove_tmp(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const uint8_t test_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* A cache on tmpdir without alarm index. */
static __attribute__((unused)) struct st_objects *objects_new(uint32_t max_open)
{
    struct st_objects *os = NULL;
    struct ed_error err = {0};
    int rc = st_objects_new(tmpdir, NULL, max_open, &os, &err);
    cr_assert_eq(rc, 0, "st_objects_new: %s", ed_error_msg(&err));
    ed_error_dispose(&err);
    return os;
}

/* The object named name of tenant "acme", class "Counter". */
static __attribute__((unused)) struct st_object *object(struct st_objects *os, const char *name)
{
    char hex[ST_OBJECT_ID_HEX];
    cr_assert_eq(st_object_id_from_name(test_key, "acme", "Counter", name, strlen(name), hex), 0);
    struct st_object *o = NULL;
    struct ed_error err = {0};
    int rc = st_object_get(os, "acme", "Counter", hex, &o, &err);
    cr_assert_eq(rc, 0, "st_object_get: %s", ed_error_msg(&err));
    ed_error_dispose(&err);
    return o;
}

static __attribute__((unused)) int text_columns(void *ud, const char *const *names, size_t n)
{
    struct ed_buf *b = ud;
    for (size_t i = 0; i < n; i++)
        ed_buf_appendf(b, "%s%s", i ? "|" : "", names[i]);
    ed_buf_appends(b, "\n");
    return 0;
}

static __attribute__((unused)) void value_text(struct ed_buf *b, const struct st_value *v)
{
    switch (v->type) {
    case ST_INTEGER:
        ed_buf_appendf(b, "%" PRId64, v->i);
        break;
    case ST_REAL:
        ed_buf_appendf(b, "%.17g", v->d);
        break;
    case ST_TEXT:
        ed_buf_append(b, v->p, v->len);
        break;
    case ST_BLOB:
        ed_buf_appends(b, "x'");
        for (size_t k = 0; k < v->len; k++)
            ed_buf_appendf(b, "%02x", ((const unsigned char *)v->p)[k]);
        ed_buf_appends(b, "'");
        break;
    default:
        ed_buf_appends(b, "NULL");
    }
}

static __attribute__((unused)) int text_row(void *ud, const struct st_value *v, size_t n)
{
    struct ed_buf *b = ud;
    for (size_t i = 0; i < n; i++) {
        if (i)
            ed_buf_appends(b, "|");
        value_text(b, &v[i]);
    }
    ed_buf_appends(b, "\n");
    return 0;
}

static const struct st_rows_sink text_sink = {.columns = text_columns, .row = text_row};

/* Runs sql with binds; returns the result as text (owned, free()) or fails the test. */
static __attribute__((unused)) char *sql_binds(struct st_object *o, const char *sql,
                                               const struct st_value *binds, size_t n,
                                               struct st_counts *counts)
{
    struct ed_buf b;
    ed_buf_init(&b);
    struct ed_error err = {0};
    int rc = st_sql_exec(o, sql, strlen(sql), binds, n, &text_sink, &b, counts, &err);
    cr_assert_eq(rc, 0, "%s: %s (%s)", sql, ed_error_msg(&err), ed_errname(rc));
    ed_error_dispose(&err);
    if (!b.data)
        ed_buf_appends(&b, "");
    return b.data;
}

static __attribute__((unused)) char *sql_ok(struct st_object *o, const char *sql)
{
    return sql_binds(o, sql, NULL, 0, NULL);
}

/* Runs sql, expecting code; returns the message (owned, free()). */
static __attribute__((unused)) char *sql_fails(struct st_object *o, const char *sql,
                                               const struct st_value *binds, size_t n, int code)
{
    struct ed_buf b;
    ed_buf_init(&b);
    struct ed_error err = {0};
    int rc = st_sql_exec(o, sql, strlen(sql), binds, n, &text_sink, &b, NULL, &err);
    cr_assert_eq(rc, code, "%s: got %s (%s), want %s", sql, ed_errname(rc), ed_error_msg(&err),
                 ed_errname(code));
    char *msg = strdup(ed_error_msg(&err));
    ed_error_dispose(&err);
    ed_buf_dispose(&b);
    return msg;
}

static __attribute__((unused)) void commit_ok(struct st_objects *os)
{
    cr_assert_eq(st_objects_commit(os, NULL, NULL), 0);
}

#endif
