/*
 * What edgectl prints for people (--json prints the API's own answers instead): tables with
 * aligned columns, JSON values as cells, times in UTC. Cells are sanitised to one line so a
 * tenant name or label cannot break a table or inject terminal escapes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy/edgectl/edgectl.h"

void dp_ctl_table_init(struct dp_ctl_table *t, size_t ncols)
{
    t->cells = NULL;
    t->ncols = ncols;
    t->nrows = 0;
}

int dp_ctl_table_row(struct dp_ctl_table *t, ...)
{
    char **cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *cells);
    if (!cells)
        return ED_ENOMEM;
    t->cells = cells;
    char **row = cells + t->nrows * t->ncols;
    va_list ap;
    va_start(ap, t);
    int rc = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        row[i] = strdup(s ? s : "-");
        if (!row[i])
            rc = ED_ENOMEM;
        for (char *p = row[i]; p && *p; p++)
            if ((unsigned char)*p < ' ' || *p == 0x7f)
                *p = ' ';
    }
    va_end(ap);
    t->nrows++;
    return rc;
}

void dp_ctl_table_print(const struct dp_ctl_table *t, FILE *out)
{
    size_t width[16] = {0};
    size_t ncols = t->ncols < 16 ? t->ncols : 16;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t i = 0; i < ncols; i++) {
            const char *s = t->cells[r * t->ncols + i];
            size_t n = s ? strlen(s) : 0;
            width[i] = n > width[i] ? n : width[i];
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < ncols; i++) {
            const char *s = t->cells[r * t->ncols + i];
            if (i + 1 == ncols)
                fprintf(out, "%s\n", s ? s : "");
            else
                fprintf(out, "%-*s  ", (int)width[i], s ? s : "");
        }
    }
}

void dp_ctl_table_dispose(struct dp_ctl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

const char *dp_ctl_cell(const json_t *v, bool is_time, char *buf, size_t cap)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v)) {
        snprintf(buf, cap, "%s", json_string_value(v));
        return buf;
    }
    if (json_is_integer(v) && is_time) {
        long long s = json_integer_value(v);
        if (s > 100000000000LL) /* milliseconds */
            s /= 1000;
        time_t tt = (time_t)s;
        struct tm tm;
        if (gmtime_r(&tt, &tm) && strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
            return buf;
    }
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_true(v) || json_is_false(v)) {
        snprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
        return buf;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, cap, "%s", s ? s : "?");
    free(s);
    return buf;
}

void dp_ctl_print_pretty(FILE *out, const json_t *v)
{
    json_dumpf(v, out, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputc('\n', out);
}
