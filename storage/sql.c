/*
 * The tenant's SQL: st_sql_exec, and what keeps it inside its own database. SQLite enforces it
 * all as statements are prepared, not a parser of ours: limits (sqlite3_limit: Workers' 100 KB
 * of SQL, 100 parameters, 2 MB per value or row, and sqlite.org/security.html's tighter
 * defaults), defensive mode (no writable schema, read-only shadow tables), no extensions, and
 * an authorizer that refuses transactions (the implicit transaction and savepoints are
 * ours), ATTACH, PRAGMAs outside a safe list, any table named _cf_* (the KV pairs and the
 * alarm), temporary tables, virtual tables other than FTS5 and R*Tree, and functions outside
 * SQLite's ordinary ones (load_extension, sqlite_version and the like). Errors read as
 * workerd's: SQLite's message, " at offset N" when it knows one, ": SQLITE_<CODE>" and the
 * extended code when it differs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "do_int.h"
#include "st_int.h"

static const char st__txn_refused[] =
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing.";

/* ---- error messages ------------------------------------------------------------------------ */

static const char *code_name(int rc)
{
    switch (rc & 0xff) {
#define ST__NAME(c) \
    case c:         \
        return #c;
        ST__NAME(SQLITE_OK)
        ST__NAME(SQLITE_ERROR)
        ST__NAME(SQLITE_INTERNAL)
        ST__NAME(SQLITE_PERM)
        ST__NAME(SQLITE_ABORT)
        ST__NAME(SQLITE_BUSY)
        ST__NAME(SQLITE_LOCKED)
        ST__NAME(SQLITE_NOMEM)
        ST__NAME(SQLITE_READONLY)
        ST__NAME(SQLITE_INTERRUPT)
        ST__NAME(SQLITE_IOERR)
        ST__NAME(SQLITE_CORRUPT)
        ST__NAME(SQLITE_NOTFOUND)
        ST__NAME(SQLITE_FULL)
        ST__NAME(SQLITE_CANTOPEN)
        ST__NAME(SQLITE_PROTOCOL)
        ST__NAME(SQLITE_EMPTY)
        ST__NAME(SQLITE_SCHEMA)
        ST__NAME(SQLITE_TOOBIG)
        ST__NAME(SQLITE_CONSTRAINT)
        ST__NAME(SQLITE_MISMATCH)
        ST__NAME(SQLITE_MISUSE)
        ST__NAME(SQLITE_NOLFS)
        ST__NAME(SQLITE_AUTH)
        ST__NAME(SQLITE_FORMAT)
        ST__NAME(SQLITE_RANGE)
        ST__NAME(SQLITE_NOTADB)
    default:
        return "SQLITE_UNKNOWN_ERROR_CODE";
    }
}

/* The extended codes a tenant's statement meets; others are shown by their primary code. */
static const char *extended_name(int ext)
{
    switch (ext) {
        ST__NAME(SQLITE_CONSTRAINT_CHECK)
        ST__NAME(SQLITE_CONSTRAINT_FOREIGNKEY)
        ST__NAME(SQLITE_CONSTRAINT_NOTNULL)
        ST__NAME(SQLITE_CONSTRAINT_PRIMARYKEY)
        ST__NAME(SQLITE_CONSTRAINT_ROWID)
        ST__NAME(SQLITE_CONSTRAINT_TRIGGER)
        ST__NAME(SQLITE_CONSTRAINT_UNIQUE)
        ST__NAME(SQLITE_CONSTRAINT_DATATYPE)
        ST__NAME(SQLITE_CONSTRAINT_FUNCTION)
        ST__NAME(SQLITE_READONLY_DBMOVED)
        ST__NAME(SQLITE_IOERR_WRITE)
        ST__NAME(SQLITE_IOERR_READ)
        ST__NAME(SQLITE_IOERR_FSYNC)
        ST__NAME(SQLITE_ERROR_MISSING_COLLSEQ)
#undef ST__NAME
    default:
        return NULL;
    }
}

int st__sql_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_AUTH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return ED_EINVAL;
    case SQLITE_INTERRUPT:
        return ED_ETIMEDOUT;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
        return ED_ESQLITE; /* the node's trouble, not the query's */
    case SQLITE_NOMEM:
        return ED_ENOMEM;
    default:
        return ED_ESQL;
    }
}

int st__sql_error(struct st_object *o, int rc, int code, struct ed_error *err)
{
    if ((rc & 0xff) == SQLITE_FULL && o->quota && o->quota->max_bytes)
        return st__quota_error(o, rc, code, err);
    if ((rc & 0xff) == SQLITE_AUTH && o->auth_msg)
        return ed_error_set(err, code, "%s", o->auth_msg);
    char at[40] = "";
    int offset = sqlite3_error_offset(o->db);
    if (offset >= 0)
        snprintf(at, sizeof at, " at offset %d", offset);
    int ext = sqlite3_extended_errcode(o->db);
    const char *ext_name = ext != (rc & 0xff) ? extended_name(ext) : NULL;
    return ed_error_set(err, code, "%s%s: %s%s%s%s", sqlite3_errmsg(o->db), at, code_name(rc),
                        ext_name ? " (extended: " : "", ext_name ? ext_name : "",
                        ext_name ? ")" : "");
}

/* ---- the authorizer ------------------------------------------------------------------------ */

static bool name_ok(const char *name)
{
    return name && strncmp(name, "_cf_", 4) != 0;
}

/* SQLite's ordinary functions (core, date, aggregate, window, math, JSON, FTS5, R*Tree, and
 * those ALTER TABLE calls on itself). Not: load_extension, sqlite_version,
 * sqlite_compileoption_*, sqlite_source_id, sqlite_offset, fts3_tokenizer. */
static const char *const st__functions[] = {
    "abs",
    "changes",
    "char",
    "coalesce",
    "concat",
    "concat_ws",
    "format",
    "glob",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "last_insert_rowid",
    "length",
    "like",
    "likelihood",
    "likely",
    "lower",
    "ltrim",
    "max",
    "min",
    "nullif",
    "octet_length",
    "printf",
    "quote",
    "random",
    "randomblob",
    "replace",
    "round",
    "rtrim",
    "sign",
    "soundex",
    "substr",
    "substring",
    "total_changes",
    "trim",
    "typeof",
    "unhex",
    "unicode",
    "unlikely",
    "upper",
    "zeroblob",
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
    "current_date",
    "current_time",
    "current_timestamp",
    "avg",
    "count",
    "group_concat",
    "string_agg",
    "sum",
    "total",
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "ceil",
    "ceiling",
    "cos",
    "cosh",
    "degrees",
    "exp",
    "floor",
    "ln",
    "log",
    "log10",
    "log2",
    "mod",
    "pi",
    "pow",
    "power",
    "radians",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    "json",
    "json_array",
    "json_array_length",
    "json_extract",
    "->",
    "->>",
    "json_insert",
    "json_object",
    "json_patch",
    "json_remove",
    "json_replace",
    "json_set",
    "json_type",
    "json_valid",
    "json_quote",
    "json_group_array",
    "json_group_object",
    "json_each",
    "json_tree",
    "match",
    "highlight",
    "bm25",
    "snippet",
    "rtreecheck",
    "sqlite_rename_column",
    "sqlite_rename_table",
    "sqlite_rename_test",
    "sqlite_drop_column",
    "sqlite_rename_quotefix",
};

static bool function_ok(const char *name)
{
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof st__functions / sizeof st__functions[0]; i++)
        if (strcasecmp(name, st__functions[i]) == 0)
            return true;
    return false;
}

static bool bool_arg(const char *v)
{
    char buf[8];
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
        v++;
        n -= 2;
    }
    if (n >= sizeof buf)
        return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    static const char *const ok[] = {"true", "false", "yes", "no", "on", "off", "1", "0"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcasecmp(buf, ok[i]) == 0)
            return true;
    return false;
}

static bool int_arg(const char *v)
{
    if (*v == '-' || *v == '+')
        v++;
    if (!*v || strlen(v) > 10)
        return false;
    for (; *v; v++)
        if (*v < '0' || *v > '9')
            return false;
    return true;
}

/* The safe list (Workers'): reading the schema, toggling constraint checks, checks. */
static bool pragma_ok(const char *pragma, const char *arg)
{
    if (!pragma)
        return false;
    if (strcasecmp(pragma, "table_list") == 0)
        return !arg || name_ok(arg);
    if (strcasecmp(pragma, "table_info") == 0 || strcasecmp(pragma, "table_xinfo") == 0 ||
        strcasecmp(pragma, "index_info") == 0 || strcasecmp(pragma, "index_list") == 0 ||
        strcasecmp(pragma, "index_xinfo") == 0 || strcasecmp(pragma, "foreign_key_list") == 0)
        return arg && name_ok(arg);
    if (strcasecmp(pragma, "foreign_key_check") == 0)
        return !arg || name_ok(arg);
    if (strcasecmp(pragma, "data_version") == 0 || strcasecmp(pragma, "page_size") == 0)
        return !arg;
    static const char *const booleans[] = {
        "case_sensitive_like",       "foreign_keys",       "defer_foreign_keys",
        "ignore_check_constraints",  "legacy_alter_table", "recursive_triggers",
        "reverse_unordered_selects",
    };
    for (size_t i = 0; i < sizeof booleans / sizeof booleans[0]; i++)
        if (strcasecmp(pragma, booleans[i]) == 0)
            return !arg || bool_arg(arg);
    if (strcasecmp(pragma, "quick_check") == 0)
        return !arg || int_arg(arg) || name_ok(arg);
    if (strcasecmp(pragma, "optimize") == 0)
        return !arg || int_arg(arg);
    return false;
}

static bool vtab_ok(const char *module)
{
    return module && (strcasecmp(module, "fts5") == 0 || strcasecmp(module, "fts5vocab") == 0 ||
                      strcasecmp(module, "rtree") == 0 || strcasecmp(module, "rtree_i32") == 0);
}

static int authorize(void *ud, int action, const char *a, const char *b, const char *dbname,
                     const char *trigger)
{
    (void)trigger;
    struct st_object *o = ud;
    if (o->trusted)
        return SQLITE_OK;
    if (action == SQLITE_TRANSACTION || action == SQLITE_SAVEPOINT) {
        o->auth_msg = st__txn_refused;
        return SQLITE_DENY;
    }
    if (action == SQLITE_ATTACH || action == SQLITE_DETACH)
        return SQLITE_DENY;
    if (action == SQLITE_ALTER_TABLE) {
        /* a = the database, b = the table; RENAME TO's new name is not given: the statement
         * runs in a savepoint and the schema is checked after it (st_sql_exec) */
        if (!a || strcmp(a, "main") != 0 || !name_ok(b))
            return SQLITE_DENY;
        o->altered = true;
        return SQLITE_OK;
    }
    if (dbname && strcmp(dbname, "main") != 0) {
        /* temp: nothing can be created there, so reading it (and ALTER TABLE's update of its
         * empty schema) is harmless; any other database is an attached one */
        bool rw = action == SQLITE_READ || action == SQLITE_UPDATE || action == SQLITE_SELECT;
        return strcmp(dbname, "temp") == 0 && rw && name_ok(a) ? SQLITE_OK : SQLITE_DENY;
    }
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
    case SQLITE_ANALYZE: /* sqlite_stat1 holds sizes of tables, none of their data */
        return SQLITE_OK;
    case SQLITE_READ:
        return name_ok(a) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_UPDATE:
    case SQLITE_INSERT:
    case SQLITE_DELETE:
        /* sqlite_schema: CREATE and DROP write it through here; the tenant's own writes to it
         * SQLite refuses itself ("may not be modified"; defensive mode: no writable_schema) */
        return name_ok(a) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_CREATE_TABLE:
    case SQLITE_DROP_TABLE:
    case SQLITE_CREATE_VIEW:
    case SQLITE_DROP_VIEW:
    case SQLITE_REINDEX:
        return name_ok(a) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_CREATE_INDEX:
    case SQLITE_DROP_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_DROP_TRIGGER:
        return name_ok(a) && name_ok(b) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_PRAGMA:
        return pragma_ok(a, b) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_FUNCTION:
        return function_ok(b) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
        return vtab_ok(b) && name_ok(a) ? SQLITE_OK : SQLITE_DENY;
    default:
        /* temporary tables, indexes, triggers and views (a file of their own), and whatever
         * a later SQLite adds */
        return SQLITE_DENY;
    }
}

int st__secure(struct st_object *o, struct ed_error *err)
{
    sqlite3 *db = o->db;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) != SQLITE_OK ||
        sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL) != SQLITE_OK ||
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL) != SQLITE_OK ||
        sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, NULL) != SQLITE_OK)
        return st__sqlite_error(db, o->path, err);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, ST_SQL_MAX_VALUE);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, ST_SQL_MAX_LENGTH);
    sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, ST_SQL_MAX_PARAMS);
    sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 100);
    sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 100);
    sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 5);
    sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, 25000);
    sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 127);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 50);
    sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 10);
    sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
    if (sqlite3_set_authorizer(db, authorize, o) != SQLITE_OK)
        return st__sqlite_error(db, o->path, err);
    return 0;
}

/* ---- the statement cache ------------------------------------------------------------------- */

void st__stmt_cache_clear(struct st_object *o)
{
    for (int i = 0; i < ST__STMT_CACHE; i++) {
        sqlite3_finalize(o->cache[i].st);
        free(o->cache[i].sql);
        memset(&o->cache[i], 0, sizeof o->cache[i]);
    }
}

static struct st__cached *cache_find(struct st_object *o, const char *sql, size_t len)
{
    for (int i = 0; i < ST__STMT_CACHE; i++) {
        struct st__cached *c = &o->cache[i];
        if (c->st && c->len == len && memcmp(c->sql, sql, len) == 0) {
            c->used = ++o->os->tick;
            return c;
        }
    }
    return NULL;
}

/* Keeps st (takes it) for sql; on failure st is finalized. */
static void cache_put(struct st_object *o, const char *sql, size_t len, sqlite3_stmt *st)
{
    struct st__cached *slot = &o->cache[0];
    for (int i = 0; i < ST__STMT_CACHE; i++) {
        if (!o->cache[i].st) {
            slot = &o->cache[i];
            break;
        }
        if (o->cache[i].used < slot->used)
            slot = &o->cache[i];
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        sqlite3_finalize(st);
        return;
    }
    memcpy(copy, sql, len);
    copy[len] = '\0';
    sqlite3_finalize(slot->st);
    free(slot->sql);
    slot->st = st;
    slot->sql = copy;
    slot->len = len;
    slot->used = ++o->os->tick;
}

/* ---- exec ---------------------------------------------------------------------------------- */

/* Skips white space and comments; returns where the next statement (if any) starts. */
static const char *skip_blank(const char *p, const char *end)
{
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v' ||
            *p == ';') {
            p++;
        } else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            const char *q = p + 2;
            while (q + 1 < end && !(q[0] == '*' && q[1] == '/'))
                q++;
            p = q + 1 < end ? q + 2 : end;
        } else {
            break;
        }
    }
    return p;
}

static int bind_all(sqlite3_stmt *st, const struct st_value *binds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct st_value *v = &binds[i];
        int k = (int)i + 1, rc;
        switch (v->type) {
        case ST_INTEGER:
            rc = sqlite3_bind_int64(st, k, v->i);
            break;
        case ST_REAL:
            rc = sqlite3_bind_double(st, k, v->d);
            break;
        case ST_TEXT:
            rc = sqlite3_bind_text64(st, k, v->p ? v->p : "", v->len, SQLITE_STATIC, SQLITE_UTF8);
            break;
        case ST_BLOB:
            rc = sqlite3_bind_blob64(st, k, v->p ? v->p : "", v->len, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(st, k);
            break;
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static void column_value(sqlite3_stmt *st, int i, struct st_value *v)
{
    memset(v, 0, sizeof *v);
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        v->type = ST_INTEGER;
        v->i = sqlite3_column_int64(st, i);
        break;
    case SQLITE_FLOAT:
        v->type = ST_REAL;
        v->d = sqlite3_column_double(st, i);
        break;
    case SQLITE_TEXT:
        v->type = ST_TEXT;
        v->p = sqlite3_column_text(st, i);
        v->len = (size_t)sqlite3_column_bytes(st, i);
        break;
    case SQLITE_BLOB:
        v->type = ST_BLOB;
        v->p = sqlite3_column_blob(st, i);
        v->len = (size_t)sqlite3_column_bytes(st, i);
        if (!v->p)
            v->p = "";
        break;
    default:
        v->type = ST_NULL;
        break;
    }
}

/* One statement's run: steps it to its end, rows to sink when last. */
struct st__run {
    struct st_object *o;
    sqlite3_stmt *st;
    bool last;
    const struct st_rows_sink *sink;
    void *ud;
    struct st_counts *counts;
};

static int run(struct st__run *r, struct ed_error *err)
{
    sqlite3 *db = r->o->db;
    int ncol = sqlite3_column_count(r->st), rc = 0;
    const char **names = NULL;
    struct st_value *values = NULL;
    bool want_rows = r->last && r->sink && r->sink->row;
    if (want_rows && ncol > 0 && !(values = calloc((size_t)ncol, sizeof *values)))
        return ed_error_set(err, ED_ENOMEM, NULL);
    if (r->last && r->sink && r->sink->columns) {
        if (ncol > 0 && !(names = calloc((size_t)ncol, sizeof *names))) {
            free(values);
            return ed_error_set(err, ED_ENOMEM, NULL);
        }
        for (int i = 0; i < ncol; i++) {
            const char *n = sqlite3_column_name(r->st, i);
            names[i] = n ? n : "";
        }
        rc = r->sink->columns(r->ud, names, (size_t)ncol);
        free(names);
        if (rc) {
            free(values);
            return rc;
        }
    }
    sqlite3_int64 changes0 = sqlite3_total_changes64(db);
    uint64_t rows = 0;
    int s;
    while ((s = sqlite3_step(r->st)) == SQLITE_ROW) {
        rows++;
        if (!want_rows)
            continue;
        for (int i = 0; i < ncol; i++)
            column_value(r->st, i, &values[i]);
        if ((rc = r->sink->row(r->ud, values, (size_t)ncol)))
            break;
    }
    free(values);
    uint64_t changed = (uint64_t)(sqlite3_total_changes64(db) - changes0);
    uint64_t scanned = (uint64_t)sqlite3_stmt_status(r->st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    if (r->counts) {
        /* FULLSCAN_STEP counts the steps from one row to the next: a scan of n rows is n-1 */
        scanned += scanned ? 1 : 0;
        uint64_t read = rows > scanned ? rows : scanned;
        r->counts->rows_read += read > changed ? read : changed;
        r->counts->rows_written += changed;
    }
    if (rc)
        return rc;
    if (s != SQLITE_DONE) {
        rc = st__sql_error(r->o, s, st__sql_code(s), err);
        st__txn_check(r->o, s);
    }
    return rc;
}

/* After a statement that altered a table: the tenant may not have renamed one into _cf_*
 * (SQLite does not tell the authorizer the new name). Returns true when the schema is fine. */
static bool schema_clean(struct st_object *o)
{
    sqlite3_stmt *st = NULL;
    bool ok = false;
    o->trusted = true;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_cf\\_%' "
                           "ESCAPE '\\' AND NOT (name = '_cf_KV' AND sql = " ST__KV_SQL_Q
                           ") AND NOT (name = '_cf_METADATA' AND sql = " ST__META_SQL_Q ")",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ok = sqlite3_column_int(st, 0) == 0;
    o->trusted = false;
    sqlite3_finalize(st);
    return ok;
}

int st_sql_exec(struct st_object *o, const char *sql, size_t sql_len, const struct st_value *binds,
                size_t n_binds, const struct st_rows_sink *sink, void *ud, struct st_counts *counts,
                struct ed_error *err)
{
    if (!o || (!sql && sql_len))
        return ed_error_set(err, ED_EINVAL, "st_sql_exec: no object");
    int rc = st__txn(o, err);
    if (rc)
        return rc;
    const char *p = sql ? sql : "", *end = p + sql_len;
    struct st__cached *hit = cache_find(o, p, sql_len);
    if (hit) {
        /* a single statement run before: bound and stepped again */
        struct st__run r = {o, hit->st, true, sink, ud, counts};
        o->auth_msg = NULL;
        if ((size_t)sqlite3_bind_parameter_count(hit->st) != n_binds)
            return ed_error_set(err, ED_EINVAL,
                                "Wrong number of parameter bindings for SQL query.");
        int b = bind_all(hit->st, binds, n_binds);
        rc = b == SQLITE_OK ? run(&r, err) : st__sql_error(o, b, st__sql_code(b), err);
        sqlite3_reset(hit->st);
        sqlite3_clear_bindings(hit->st);
        return rc;
    }
    bool any = false;
    for (;;) {
        p = skip_blank(p, end);
        if (p == end)
            break;
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        o->auth_msg = NULL;
        o->altered = false;
        int prc = sqlite3_prepare_v3(o->db, p, (int)(end - p > INT32_MAX ? INT32_MAX : end - p), 0,
                                     &st, &tail);
        if (prc != SQLITE_OK)
            return st__sql_error(o, prc, st__sql_code(prc), err);
        if (!st)
            break; /* only comments were left */
        any = true;
        bool last = skip_blank(tail, end) == end;
        bool single = last && p == skip_blank(sql, end);
        int nparams = sqlite3_bind_parameter_count(st);
        if (!last && nparams > 0) {
            sqlite3_finalize(st);
            return ed_error_set(err, ED_EINVAL,
                                "When executing multiple SQL statements in a single call, only "
                                "the last statement can have parameters.");
        }
        if (last && (size_t)nparams != n_binds) {
            sqlite3_finalize(st);
            return ed_error_set(err, ED_EINVAL,
                                "Wrong number of parameter bindings for SQL query.");
        }
        int b = last ? bind_all(st, binds, n_binds) : SQLITE_OK;
        if (b != SQLITE_OK) {
            rc = st__sql_error(o, b, st__sql_code(b), err);
            sqlite3_finalize(st);
            return rc;
        }
        bool altered = o->altered;
        if (altered && st__exec_trusted(o, "SAVEPOINT _cf_alter") != SQLITE_OK) {
            rc = st__sql_error(o, SQLITE_ERROR, ED_ESQLITE, err);
            sqlite3_finalize(st);
            return rc;
        }
        struct st__run r = {o, st, last, sink, ud, counts};
        rc = run(&r, err);
        if (altered && !o->txn_lost) {
            if (rc == 0 && !schema_clean(o))
                rc = ed_error_set(err, ED_EINVAL, "not authorized: SQLITE_AUTH");
            st__exec_trusted(o,
                             rc ? "ROLLBACK TO _cf_alter; RELEASE _cf_alter" : "RELEASE _cf_alter");
            st__txn_check(o, SQLITE_ERROR);
        }
        if (rc == 0 && single && !altered) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            cache_put(o, sql, sql_len, st);
        } else {
            sqlite3_finalize(st);
        }
        if (rc)
            return rc;
        p = tail;
    }
    if (!any)
        return ed_error_set(err, ED_EINVAL, "SQL code did not contain a statement.");
    return 0;
}

uint64_t st_object_size(struct st_object *o)
{
    if (!o)
        return 0;
    sqlite3_stmt *st = NULL;
    uint64_t size = 0;
    o->trusted = true;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        size = (uint64_t)sqlite3_column_int64(st, 0);
    o->trusted = false;
    sqlite3_finalize(st);
    return size;
}
