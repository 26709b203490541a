/*
 * A strict reader of the part of TOML 1.0 that wrangler.toml files use, into a jansson object.
 * Debian 12 has no C TOML library (its TOML readers are C++), and a project's configuration
 * decides what gets deployed, so this reader refuses rather than guesses: whatever it does not
 * implement (multi-line strings, dates, hex numbers...) is an error naming the line, as is
 * everything TOML itself forbids that a careless reader would let through (a key defined twice,
 * a table defined twice, an inline table extended later, [[x]] over a plain array).
 * Tables created by a [header] or by a dotted key are "defined"; inline tables and arrays
 * written as values are "frozen"; arrays made by [[header]] are "table arrays", whose last
 * element a later [header.sub] extends. Those three sets are small pointer lists: configs
 * hold a few dozen tables.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/edgectl/edgectl.h"

#define CTL_TOML_MAX_DEPTH 32

struct ctl_set {
    const json_t **v;
    size_t n, cap;
};

struct ctl_toml {
    const char *p, *end;
    int line;
    const char *name;
    struct ed_error *err;
    int rc;
    json_t *root;
    struct ctl_set defined, frozen, table_arrays;
};

static bool set_has(const struct ctl_set *s, const json_t *j)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == j)
            return true;
    return false;
}

static int set_add(struct ctl_set *s, const json_t *j)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        const json_t **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return ED_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = j;
    return 0;
}

static int fail(struct ctl_toml *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctl_toml *t, const char *fmt, ...)
{
    if (t->rc)
        return t->rc; /* the first error is the one reported */
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->rc = ed_error_set(t->err, ED_ECONFIG, "%s:%d: %s", t->name, t->line, msg);
    return t->rc;
}

static int nomem(struct ctl_toml *t)
{
    if (!t->rc)
        t->rc = ed_error_set(t->err, ED_ENOMEM, "%s: out of memory", t->name);
    return t->rc;
}

/* The character at t->p for a message: 'c', or its code when it is not printable ASCII.
 * Returns a static buffer (messages are made one at a time). */
static const char *shown(const struct ctl_toml *t)
{
    static char buf[16];
    unsigned char c = t->p < t->end ? (unsigned char)*t->p : 0;
    if (c > ' ' && c < 0x7f)
        snprintf(buf, sizeof buf, "'%c'", c);
    else
        snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
}

static bool at(const struct ctl_toml *t, char c)
{
    return t->p < t->end && *t->p == c;
}

static bool starts(const struct ctl_toml *t, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(t->end - t->p) >= n && memcmp(t->p, s, n) == 0;
}

static void skip_ws(struct ctl_toml *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t'))
        t->p++;
}

/* A comment runs to the end of the line; TOML forbids control characters in it but tab. */
static int skip_comment(struct ctl_toml *t)
{
    if (!at(t, '#'))
        return 0;
    for (; t->p < t->end && *t->p != '\n'; t->p++) {
        unsigned char c = (unsigned char)*t->p;
        if (c == '\r' && t->p + 1 < t->end && t->p[1] == '\n')
            continue;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(t, "control character in a comment");
    }
    return 0;
}

/* Consumes one line end (LF or CRLF). Returns true if there was one. */
static bool eat_newline(struct ctl_toml *t)
{
    if (at(t, '\n')) {
        t->p++;
        t->line++;
        return true;
    }
    if (starts(t, "\r\n")) {
        t->p += 2;
        t->line++;
        return true;
    }
    return false;
}

/* After a statement: spaces, an optional comment, then the end of the line or of the file. */
static int end_of_line(struct ctl_toml *t)
{
    skip_ws(t);
    if (skip_comment(t))
        return t->rc;
    if (t->p == t->end || eat_newline(t))
        return 0;
    if (at(t, '\r'))
        return fail(t, "carriage return without a line feed");
    return fail(t, "unexpected %s after the value (one key = value per line)", shown(t));
}

/* Inside an array: spaces, comments and line ends. */
static int skip_ws_nl(struct ctl_toml *t)
{
    for (;;) {
        skip_ws(t);
        if (skip_comment(t))
            return t->rc;
        if (!eat_newline(t))
            return 0;
    }
}

static bool is_bare(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int put_utf8(struct ed_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return ed_buf_append(b, u, n);
}

/* A "basic" or 'literal' string at t->p into b (cleared first). */
static int parse_string(struct ctl_toml *t, struct ed_buf *b)
{
    ed_buf_clear(b);
    char q = *t->p;
    if (starts(t, q == '"' ? "\"\"\"" : "'''"))
        return fail(t, "multi-line strings are not supported");
    t->p++;
    for (;;) {
        if (t->p == t->end || *t->p == '\n' || *t->p == '\r')
            return fail(t, "unterminated string");
        unsigned char c = (unsigned char)*t->p;
        if (c == (unsigned char)q) {
            t->p++;
            return 0;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(t, "control character in a string (write it as an escape)");
        if (c != '\\' || q == '\'') {
            if (ed_buf_append(b, t->p++, 1))
                return nomem(t);
            continue;
        }
        if (t->end - t->p < 2)
            return fail(t, "unterminated string");
        char e = t->p[1];
        t->p += 2;
        const char *simple = NULL;
        switch (e) {
        case 'b':
            simple = "\b";
            break;
        case 't':
            simple = "\t";
            break;
        case 'n':
            simple = "\n";
            break;
        case 'f':
            simple = "\f";
            break;
        case 'r':
            simple = "\r";
            break;
        case '"':
            simple = "\"";
            break;
        case '\\':
            simple = "\\";
            break;
        case 'u':
        case 'U': {
            int digits = e == 'u' ? 4 : 8;
            if (t->end - t->p < digits)
                return fail(t, "\\%c needs %d hex digits", e, digits);
            uint32_t cp = 0;
            for (int i = 0; i < digits; i++) {
                int v = hexval(t->p[i]);
                if (v < 0)
                    return fail(t, "\\%c needs %d hex digits", e, digits);
                cp = cp * 16 + (uint32_t)v;
            }
            t->p += digits;
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return fail(t, "\\%c escape is not a Unicode scalar value", e);
            if (cp == 0)
                return fail(t, "\\u0000 is not allowed in a string here");
            if (put_utf8(b, cp))
                return nomem(t);
            continue;
        }
        default:
            return fail(t, "unknown escape \\%c", e);
        }
        if (ed_buf_appends(b, simple))
            return nomem(t);
    }
}

/* One key (bare or quoted) into b. */
static int parse_simple_key(struct ctl_toml *t, struct ed_buf *b)
{
    if (at(t, '"') || at(t, '\'')) {
        if (parse_string(t, b))
            return t->rc;
        if (b->len != strlen(b->data ? b->data : ""))
            return fail(t, "a key may not contain NUL");
        return 0;
    }
    ed_buf_clear(b);
    const char *s = t->p;
    while (t->p < t->end && is_bare(*t->p))
        t->p++;
    if (t->p == s) {
        if (t->p == t->end || *t->p == '\n' || *t->p == '\r')
            return fail(t, "expected a key");
        return fail(t, "expected a key, found %s (bare keys are A-Z a-z 0-9 _ -)", shown(t));
    }
    if (ed_buf_append(b, s, (size_t)(t->p - s)))
        return nomem(t);
    return 0;
}

/* A dotted key (a.b."c") into a list of owned strings. */
struct ctl_key {
    char *part[CTL_TOML_MAX_DEPTH];
    size_t n;
};

static void key_dispose(struct ctl_key *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->part[i]);
    k->n = 0;
}

static int parse_key(struct ctl_toml *t, struct ctl_key *k)
{
    struct ed_buf b;
    ed_buf_init(&b);
    k->n = 0;
    for (;;) {
        skip_ws(t);
        if (parse_simple_key(t, &b))
            break;
        if (k->n == CTL_TOML_MAX_DEPTH) {
            fail(t, "key has more than %d parts", CTL_TOML_MAX_DEPTH);
            break;
        }
        if (!(k->part[k->n] = strdup(b.data ? b.data : ""))) {
            nomem(t);
            break;
        }
        k->n++;
        skip_ws(t);
        if (!at(t, '.'))
            break;
        t->p++;
    }
    ed_buf_dispose(&b);
    if (t->rc)
        key_dispose(k);
    return t->rc;
}

/* "a.b.c" for messages. */
static void key_text(const struct ctl_key *k, size_t upto, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < upto && i < k->n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "." : "", k->part[i]);
}

static int parse_value(struct ctl_toml *t, json_t **out, int depth);

static int parse_number(struct ctl_toml *t, json_t **out)
{
    char num[64];
    size_t n = 0;
    bool is_float = false, digit_before = false;
    const char *s = t->p;
    if (at(t, '+') || at(t, '-'))
        num[n++] = *t->p++;
    if (starts(t, "inf") || starts(t, "nan"))
        return fail(t, "inf and nan are not supported");
    if (starts(t, "0x") || starts(t, "0o") || starts(t, "0b"))
        return fail(t, "hexadecimal, octal and binary numbers are not supported");
    const char *digits = t->p;
    while (t->p < t->end) {
        char c = *t->p;
        if (c >= '0' && c <= '9') {
            digit_before = true;
        } else if (c == '_') {
            if (!digit_before || t->p + 1 == t->end || t->p[1] < '0' || t->p[1] > '9')
                return fail(t, "'_' in a number must sit between digits");
            t->p++;
            continue;
        } else if (c == '.' || c == 'e' || c == 'E') {
            is_float = true;
            digit_before = false;
        } else if ((c == '+' || c == '-') && (t->p[-1] == 'e' || t->p[-1] == 'E')) {
            /* exponent sign */
        } else if (c == ':' || c == '-' || c == 'T' || c == 'Z') {
            return fail(t, "dates and times are not supported: quote the value");
        } else {
            break;
        }
        if (n + 1 >= sizeof num)
            return fail(t, "number too long");
        num[n++] = *t->p++;
    }
    num[n] = '\0';
    if (t->p == digits)
        return fail(t, "expected a value");
    if (digits[0] == '0' && t->p - digits > 1 && digits[1] >= '0' && digits[1] <= '9')
        return fail(t, "leading zeros are not allowed in a number");
    char *end;
    errno = 0;
    if (is_float) {
        const char *dot = strchr(num, '.');
        if (dot && (dot == num || !(dot[-1] >= '0' && dot[-1] <= '9') ||
                    !(dot[1] >= '0' && dot[1] <= '9')))
            return fail(t, "a decimal point needs digits on both sides");
        double d = strtod(num, &end);
        if (*end || errno)
            return fail(t, "malformed number '%.*s'", (int)(t->p - s), s);
        *out = json_real(d);
    } else {
        long long v = strtoll(num, &end, 10);
        if (*end || errno)
            return fail(t, "integer '%.*s' is malformed or out of range", (int)(t->p - s), s);
        *out = json_integer(v);
    }
    return *out ? 0 : nomem(t);
}

static int parse_array(struct ctl_toml *t, json_t **out, int depth)
{
    t->p++; /* [ */
    json_t *arr = json_array();
    if (!arr)
        return nomem(t);
    for (;;) {
        if (skip_ws_nl(t))
            goto out_arr;
        if (at(t, ']')) {
            t->p++;
            break;
        }
        json_t *v = NULL;
        if (parse_value(t, &v, depth + 1))
            goto out_arr;
        if (json_array_append_new(arr, v)) {
            nomem(t);
            goto out_arr;
        }
        if (skip_ws_nl(t))
            goto out_arr;
        if (at(t, ',')) {
            t->p++;
            continue;
        }
        if (at(t, ']')) {
            t->p++;
            break;
        }
        if (t->p == t->end)
            fail(t, "unterminated array");
        else
            fail(t, "expected ',' or ']' in an array, found %s", shown(t));
        goto out_arr;
    }
    if (set_add(&t->frozen, arr)) {
        nomem(t);
        goto out_arr;
    }
    *out = arr;
    return 0;
out_arr:
    json_decref(arr);
    return t->rc;
}

/* Walks the dotted key k[0..n-1] from tbl, creating tables (marked defined when mark is set,
 * as a dotted key's are); fails on a non-table, a frozen table, or (through a table array) on
 * anything but its last element. Returns the table reached, borrowed, or NULL. */
static json_t *walk(struct ctl_toml *t, json_t *tbl, const struct ctl_key *k, size_t n, bool mark)
{
    for (size_t i = 0; i < n; i++) {
        json_t *next = json_object_get(tbl, k->part[i]);
        char where[512];
        if (!next) {
            next = json_object();
            if (!next || json_object_set_new(tbl, k->part[i], next)) {
                nomem(t);
                return NULL;
            }
            if (mark && set_add(&t->defined, next)) {
                nomem(t);
                return NULL;
            }
        } else if (json_is_array(next) && set_has(&t->table_arrays, next)) {
            next = json_array_get(next, json_array_size(next) - 1);
        } else if (!json_is_object(next) || set_has(&t->frozen, next)) {
            key_text(k, i + 1, where, sizeof where);
            fail(t, "%s is already a value, not a table that can be extended", where);
            return NULL;
        }
        tbl = next;
    }
    return tbl;
}

/* key = value into tbl (the current table, or an inline table). */
static int parse_keyval(struct ctl_toml *t, json_t *tbl, int depth)
{
    struct ctl_key k;
    if (parse_key(t, &k))
        return t->rc;
    skip_ws(t);
    if (!at(t, '=')) {
        fail(t, "expected '=' after the key");
        goto out_key;
    }
    t->p++;
    skip_ws(t);
    json_t *parent = walk(t, tbl, &k, k.n - 1, true);
    if (!parent)
        goto out_key;
    const char *last = k.part[k.n - 1];
    if (json_object_get(parent, last)) {
        char where[512];
        key_text(&k, k.n, where, sizeof where);
        fail(t, "%s is defined twice", where);
        goto out_key;
    }
    json_t *v = NULL;
    if (parse_value(t, &v, depth))
        goto out_key;
    if (json_object_set_new(parent, last, v))
        nomem(t);
out_key:
    key_dispose(&k);
    return t->rc;
}

static int parse_inline_table(struct ctl_toml *t, json_t **out, int depth)
{
    t->p++; /* { */
    json_t *tbl = json_object();
    if (!tbl)
        return nomem(t);
    skip_ws(t);
    if (at(t, '}')) {
        t->p++;
        goto done;
    }
    for (;;) {
        skip_ws(t);
        if (t->p == t->end || *t->p == '\n' || *t->p == '\r') {
            fail(t, "an inline table must end with '}' on the same line");
            goto out_tbl;
        }
        if (parse_keyval(t, tbl, depth + 1))
            goto out_tbl;
        skip_ws(t);
        if (at(t, ',')) {
            t->p++;
            skip_ws(t);
            if (at(t, '}')) {
                fail(t, "trailing comma in an inline table");
                goto out_tbl;
            }
            continue;
        }
        if (at(t, '}')) {
            t->p++;
            break;
        }
        if (t->p == t->end || *t->p == '\n' || *t->p == '\r')
            fail(t, "an inline table must end with '}' on the same line");
        else
            fail(t, "expected ',' or '}' in an inline table, found %s", shown(t));
        goto out_tbl;
    }
done:
    /* Frozen with every table a dotted key made inside it: none can be extended later. */
    if (set_add(&t->frozen, tbl)) {
        nomem(t);
        goto out_tbl;
    }
    *out = tbl;
    return 0;
out_tbl:
    json_decref(tbl);
    return t->rc;
}

static int parse_value(struct ctl_toml *t, json_t **out, int depth)
{
    if (depth > CTL_TOML_MAX_DEPTH)
        return fail(t, "values nested more than %d deep", CTL_TOML_MAX_DEPTH);
    if (t->p == t->end || *t->p == '\n' || *t->p == '\r' || *t->p == '#')
        return fail(t, "expected a value after '='");
    char c = *t->p;
    if (c == '"' || c == '\'') {
        struct ed_buf b;
        ed_buf_init(&b);
        if (parse_string(t, &b) == 0) {
            *out = json_stringn(b.data ? b.data : "", b.len);
            if (!*out)
                fail(t, "string is not valid UTF-8");
        }
        ed_buf_dispose(&b);
        return t->rc;
    }
    if (c == '[')
        return parse_array(t, out, depth);
    if (c == '{')
        return parse_inline_table(t, out, depth);
    if (starts(t, "true") || starts(t, "false")) {
        bool v = c == 't';
        const char *after = t->p + (v ? 4 : 5);
        if (after == t->end || !is_bare(*after)) {
            t->p = after;
            *out = json_boolean(v);
            return 0;
        }
    }
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || starts(t, "inf") || starts(t, "nan"))
        return parse_number(t, out);
    return fail(t,
                "expected a value (\"string\", number, true/false, [array] or {table}), found %s",
                shown(t));
}

/* [a.b] or [[a.b]]: makes the table current. */
static int parse_header(struct ctl_toml *t, json_t **current)
{
    bool array = starts(t, "[[");
    t->p += array ? 2 : 1;
    struct ctl_key k;
    if (parse_key(t, &k))
        return t->rc;
    skip_ws(t);
    if (!starts(t, array ? "]]" : "]")) {
        fail(t, "expected '%s' to close the table header", array ? "]]" : "]");
        goto out_key;
    }
    t->p += array ? 2 : 1;
    json_t *parent = walk(t, t->root, &k, k.n - 1, false);
    if (!parent)
        goto out_key;
    const char *last = k.part[k.n - 1];
    json_t *have = json_object_get(parent, last);
    char where[512];
    key_text(&k, k.n, where, sizeof where);
    if (array) {
        if (!have) {
            have = json_array();
            if (!have || json_object_set_new(parent, last, have) ||
                set_add(&t->table_arrays, have)) {
                nomem(t);
                goto out_key;
            }
        } else if (!set_has(&t->table_arrays, have)) {
            fail(t, "[[%s]]: %s is already defined as something else", where, where);
            goto out_key;
        }
        json_t *tbl = json_object();
        if (!tbl || json_array_append_new(have, tbl) || set_add(&t->defined, tbl)) {
            nomem(t);
            goto out_key;
        }
        *current = tbl;
    } else {
        if (!have) {
            have = json_object();
            if (!have || json_object_set_new(parent, last, have)) {
                nomem(t);
                goto out_key;
            }
        } else if (!json_is_object(have) || set_has(&t->frozen, have) ||
                   set_has(&t->defined, have)) {
            fail(t, "[%s] is defined twice", where);
            goto out_key;
        }
        if (set_add(&t->defined, have)) {
            nomem(t);
            goto out_key;
        }
        *current = have;
    }
out_key:
    key_dispose(&k);
    return t->rc;
}

int dp_toml_parse(const char *text, size_t len, const char *name, json_t **out,
                  struct ed_error *err)
{
    *out = NULL;
    struct ctl_toml t = {
        .p = text, .end = text + len, .line = 1, .name = name ? name : "toml", .err = err};
    if (memchr(text, '\0', len)) {
        const char *z = memchr(text, '\0', len);
        for (const char *q = text; q < z; q++)
            t.line += *q == '\n';
        return fail(&t, "NUL byte in the file");
    }
    if (starts(&t, "\xef\xbb\xbf"))
        t.p += 3;
    if (!(t.root = json_object()))
        return nomem(&t);
    json_t *current = t.root;
    while (t.p < t.end && !t.rc) {
        skip_ws(&t);
        if (skip_comment(&t))
            break;
        if (t.p == t.end || eat_newline(&t))
            continue;
        if (at(&t, '\r')) {
            fail(&t, "carriage return without a line feed");
            break;
        }
        if (at(&t, '[')) {
            if (parse_header(&t, &current))
                break;
        } else if (parse_keyval(&t, current, 0)) {
            break;
        }
        end_of_line(&t);
    }
    free(t.defined.v);
    free(t.frozen.v);
    free(t.table_arrays.v);
    if (t.rc) {
        json_decref(t.root);
        return t.rc;
    }
    *out = t.root;
    return 0;
}
