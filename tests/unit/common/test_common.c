/*
 * common/: the error table, error-as-data, buffers and log value quoting.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

Test(common_error, table_texts_and_names)
{
    cr_assert_str_eq(ed_strerror(ED_ECPULIMIT), "exceeded CPU time limit");
    cr_assert_str_eq(ed_errname(ED_EHEAPLIMIT), "ED_EHEAPLIMIT");
    cr_assert_eq(ED_ENOMEM, -ENOMEM);
    cr_assert_str_eq(ed_strerror(-EPIPE), strerror(EPIPE));
    cr_assert_str_eq(ed_strerror(-9999), "unknown error");
}

Test(common_error, set_replaces_and_dispose_frees)
{
    struct ed_error err = {0};
    cr_assert_eq(ed_error_set(&err, ED_EINVAL, "bad %s", "thing"), ED_EINVAL);
    cr_assert_str_eq(ed_error_msg(&err), "bad thing");
    ed_error_set(&err, ED_EIO, NULL);
    cr_assert_str_eq(ed_error_msg(&err), "input/output error");
    ed_error_dispose(&err);
    cr_assert_eq(err.code, 0);
    cr_assert_null(err.msg);
    cr_assert_eq(ed_error_set(NULL, ED_EIO, "x"), ED_EIO);
}

Test(common_buf, append_consume_and_terminator)
{
    struct ed_buf b;
    ed_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(ed_buf_appendf(&b, "%d,", i), 0);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert(strncmp(b.data, "0,1,2,", 6) == 0);
    size_t len = b.len;
    ed_buf_consume(&b, 2);
    cr_assert_eq(b.len, len - 2);
    cr_assert(strncmp(b.data, "1,2,", 4) == 0);
    char big[1000];
    memset(big, 'x', sizeof big);
    cr_assert_eq(ed_buf_appendf(&b, "%.*s", (int)sizeof big, big), 0);
    cr_assert_eq(b.data[b.len - 1], 'x');
    ed_buf_consume(&b, b.len + 10);
    cr_assert_eq(b.len, 0);
    ed_buf_dispose(&b);
    cr_assert_null(b.data);
}

Test(common_buf, reserve_refuses_overflow)
{
    struct ed_buf b;
    ed_buf_init(&b);
    ed_buf_append(&b, "a", 1);
    cr_assert_eq(ed_buf_reserve(&b, SIZE_MAX), ED_ENOMEM);
    cr_assert_eq(b.len, 1);
    ed_buf_dispose(&b);
}

Test(common_log, values_stay_on_one_line)
{
    struct ed_buf b;
    ed_buf_init(&b);
    ed_buf_append_logvalue(&b, "plain", 5);
    ed_buf_append(&b, " ", 1);
    const char *nasty = "two\nlines \"quoted\" \\ \x01";
    ed_buf_append_logvalue(&b, nasty, strlen(nasty));
    cr_assert_str_eq(b.data, "plain \"two\\nlines \\\"quoted\\\" \\\\ \\x01\"");
    cr_assert_null(strchr(b.data, '\n'));
    ed_buf_clear(&b);
    ed_buf_append_logvalue(&b, "", 0);
    cr_assert_str_eq(b.data, "\"\"");
    ed_buf_dispose(&b);
}

Test(common_log, level_parse)
{
    cr_assert_eq(ed_log_level_parse("debug"), ED_LOG_DEBUG);
    cr_assert_eq(ed_log_level_parse("error"), ED_LOG_ERROR);
    cr_assert_eq(ed_log_level_parse("loud"), ED_EINVAL);
    char ts[ED_TS_LEN];
    cr_assert_eq(strlen(ed_log_ts(ts)), 24);
}

Test(common_clock, thread_cpu_advances_with_work)
{
    uint64_t c0 = ed_thread_cpu_ns(), w0 = ed_now_ns();
    volatile uint64_t x = 0;
    for (uint64_t i = 0; i < 20000000; i++)
        x += i;
    uint64_t c1 = ed_thread_cpu_ns(), w1 = ed_now_ns();
    cr_assert_gt(c1, c0);
    cr_assert_geq(w1 - w0 + 1000000, c1 - c0, "CPU time cannot outrun wall time by much");
}

Test(common_fs, mkdirs_nested_idempotent_and_refused_under_a_file)
{
    char tmp[] = "/tmp/edged-mkdirs-XXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    char path[256], file[256];
    snprintf(path, sizeof path, "%s/a/b/c", tmp);
    cr_assert_eq(ed_mkdirs(path, 0755), 0);
    cr_assert_eq(ed_mkdirs(path, 0755), 0, "existing directories are fine");
    snprintf(file, sizeof file, "%s/f", tmp);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/f/x", tmp);
    cr_assert_eq(ed_mkdirs(path, 0755), -ENOTDIR);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}
