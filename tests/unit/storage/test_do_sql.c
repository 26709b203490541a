/*
 * storage/: the tenant's SQL on a durable object (st_sql_exec): values round-trip, several
 * statements per call with bindings, every refusal and limit with the message workerd gives,
 * errors that leave the transaction usable, rows read/written, and a runaway query stopped by
 * the deadline. Real SQLite files in a fresh directory per test.
 */
#include <stdint.h>

#include "do_test.h"

TestSuite(do_sql, .init = make_tmp, .fini = remove_tmp, .timeout = 60);

Test(do_sql, values_round_trip)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "values");
    free(sql_ok(o, "CREATE TABLE t (a, b, c, d, e)"));
    static const char text[] = "h\xc3\xa9llo\0x"; /* UTF-8 and a NUL inside */
    static const unsigned char blob[] = {0, 1, 0xfe, 0xff};
    struct st_value binds[] = {
        {.type = ST_NULL},
        {.type = ST_INTEGER, .i = INT64_MAX},
        {.type = ST_REAL, .d = 0.1},
        {.type = ST_TEXT, .p = text, .len = sizeof text - 1},
        {.type = ST_BLOB, .p = blob, .len = sizeof blob},
    };
    free(sql_binds(o, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", binds, 5, NULL));
    struct st_value more[] = {
        {.type = ST_INTEGER, .i = INT64_MIN},
        {.type = ST_INTEGER, .i = 9007199254740993LL}, /* 2^53 + 1: not a double */
        {.type = ST_REAL, .d = -1e300},
        {.type = ST_TEXT, .p = "", .len = 0},
        {.type = ST_BLOB, .p = NULL, .len = 0},
    };
    free(sql_binds(o, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", more, 5, NULL));
    char *r = sql_ok(o, "SELECT typeof(a), b, c, length(d), e, typeof(e) FROM t ORDER BY rowid");
    cr_assert_str_eq(r, "typeof(a)|b|c|length(d)|e|typeof(e)\n"
                        "null|9223372036854775807|0.10000000000000001|5|x'0001feff'|blob\n"
                        "integer|9007199254740993|-1.0000000000000001e+300|0|x''|blob\n");
    free(r);

    /* text with a NUL comes back whole, as bytes */
    struct ed_buf b;
    ed_buf_init(&b);
    struct ed_error err = {0};
    cr_assert_eq(
        st_sql_exec(o, "SELECT d FROM t WHERE rowid = 1", 31, NULL, 0, &text_sink, &b, NULL, &err),
        0);
    cr_assert_eq(b.len, strlen("d\n") + sizeof text - 1 + 1);
    cr_assert_eq(memcmp(b.data + 2, text, sizeof text - 1), 0);
    ed_buf_dispose(&b);
    commit_ok(os);
    st_objects_free(os);
}

Test(do_sql, several_statements_and_bindings)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "multi");
    struct st_value one = {.type = ST_INTEGER, .i = 1};
    char *r = sql_binds(o,
                        "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1); -- one\n"
                        "INSERT INTO t VALUES (2);\n/* two */ SELECT x FROM t WHERE x > ?; -- end",
                        &one, 1, NULL);
    cr_assert_str_eq(r, "x\n2\n");
    free(r);
    /* ?NNN and :name parameters: bound by position */
    struct st_value two[] = {{.type = ST_INTEGER, .i = 2}, {.type = ST_TEXT, .p = "b", .len = 1}};
    r = sql_binds(o, "SELECT ?1 + x AS s, :name AS n FROM t WHERE x = ?1", two, 2, NULL);
    cr_assert_str_eq(r, "s|n\n4|b\n");
    free(r);
    /* a statement with no rows still names its columns */
    r = sql_ok(o, "SELECT x FROM t WHERE x > 10");
    cr_assert_str_eq(r, "x\n");
    free(r);
    r = sql_ok(o, "INSERT INTO t VALUES (3)");
    cr_assert_str_eq(r, "\n");
    free(r);

    char *m = sql_fails(o, "INSERT INTO t VALUES (?); SELECT 1", &one, 1, ED_EINVAL);
    cr_assert_str_eq(m, "When executing multiple SQL statements in a single call, only the last "
                        "statement can have parameters.");
    free(m);
    m = sql_fails(o, "SELECT ?, ?", &one, 1, ED_EINVAL);
    cr_assert_str_eq(m, "Wrong number of parameter bindings for SQL query.");
    free(m);
    m = sql_fails(o, "SELECT 1", &one, 1, ED_EINVAL);
    cr_assert_str_eq(m, "Wrong number of parameter bindings for SQL query.");
    free(m);
    m = sql_fails(o, "  -- nothing\n ; ", NULL, 0, ED_EINVAL);
    cr_assert_str_eq(m, "SQL code did not contain a statement.");
    free(m);
    m = sql_fails(o, "", NULL, 0, ED_EINVAL);
    cr_assert_str_eq(m, "SQL code did not contain a statement.");
    free(m);
    /* the statements before a failing one stay run (as in Workers) */
    m = sql_fails(o, "INSERT INTO t VALUES (4); INSERT INTO nope VALUES (1)", NULL, 0, ED_ESQL);
    cr_assert_str_eq(m, "no such table: nope: SQLITE_ERROR");
    free(m);
    r = sql_ok(o, "SELECT count(*) AS n FROM t");
    cr_assert_str_eq(r, "n\n4\n");
    free(r);
    /* the same text again and again: the prepared statement is reused with new bindings */
    for (int i = 0; i < 20; i++) {
        struct st_value v = {.type = ST_INTEGER, .i = i};
        r = sql_binds(o, "SELECT ? * 2 AS d", &v, 1, NULL);
        char want[32];
        snprintf(want, sizeof want, "d\n%d\n", i * 2);
        cr_assert_str_eq(r, want);
        free(r);
    }
    commit_ok(os);
    st_objects_free(os);
}

/* Each refused statement with the message it gets. */
Test(do_sql, refusals)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "refusals");
    free(sql_ok(o, "CREATE TABLE t (x PRIMARY KEY, y)"));
    cr_assert_eq(st_kv_put(o, "k", 1, "v", 1, NULL, NULL), 0);
    static const char txn[] =
        "To execute a transaction, please use the state.storage.transaction() or "
        "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
        "statements. The JavaScript API is safer because it will automatically roll back on "
        "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
        "write coalescing.";
    static const struct {
        const char *sql, *msg;
    } refused[] = {
        {"BEGIN", txn},
        {"BEGIN IMMEDIATE TRANSACTION", txn},
        {"COMMIT", txn},
        {"END", txn},
        {"ROLLBACK", txn},
        {"SAVEPOINT s", txn},
        {"RELEASE s", txn},
        {"ROLLBACK TO s", txn},
        {"ATTACH DATABASE '/tmp/x.sqlite' AS x", "not authorized: SQLITE_AUTH"},
        {"DETACH DATABASE main", "not authorized: SQLITE_AUTH"},
        {"PRAGMA journal_mode = DELETE", "not authorized: SQLITE_AUTH"},
        {"PRAGMA synchronous = OFF", "not authorized: SQLITE_AUTH"},
        {"PRAGMA writable_schema = 1", "not authorized: SQLITE_AUTH"},
        {"PRAGMA integrity_check", "not authorized: SQLITE_AUTH"},
        {"PRAGMA table_info(_cf_KV)", "not authorized: SQLITE_AUTH"},
        {"PRAGMA foreign_keys = maybe", "not authorized: SQLITE_AUTH"},
        {"SELECT * FROM _cf_KV", "access to _cf_KV.key is prohibited: SQLITE_AUTH"},
        {"SELECT count(*) FROM _cf_KV", "not authorized: SQLITE_AUTH"},
        {"DELETE FROM _cf_KV", "not authorized: SQLITE_AUTH"},
        {"DROP TABLE _cf_KV", "not authorized: SQLITE_AUTH"},
        {"CREATE TABLE _cf_mine (x)", "not authorized: SQLITE_AUTH"},
        {"CREATE INDEX i ON _cf_KV (value)", "not authorized: SQLITE_AUTH"},
        {"CREATE TRIGGER tr AFTER INSERT ON _cf_KV BEGIN SELECT 1; END",
         "not authorized: SQLITE_AUTH"},
        {"ALTER TABLE _cf_KV ADD COLUMN z", "not authorized: SQLITE_AUTH"},
        {"ALTER TABLE t RENAME TO _cf_KV2", "not authorized: SQLITE_AUTH"},
        {"UPDATE sqlite_master SET sql = '' WHERE name = 't'",
         "table sqlite_master may not be modified: SQLITE_ERROR"},
        {"INSERT INTO sqlite_schema VALUES ('table', 'x', 'x', 0, '')",
         "table sqlite_master may not be modified: SQLITE_ERROR"},
        {"SELECT load_extension('/tmp/x.so')",
         "not authorized to use function: load_extension at offset 7: SQLITE_ERROR"},
        {"SELECT sqlite_version()",
         "not authorized to use function: sqlite_version at offset 7: SQLITE_ERROR"},
        {"SELECT sqlite_compileoption_used('X')",
         "not authorized to use function: sqlite_compileoption_used at offset 7: SQLITE_ERROR"},
        {"CREATE TEMP TABLE tt (x)", "not authorized: SQLITE_AUTH"},
        {"CREATE TEMP VIEW tv AS SELECT 1", "not authorized: SQLITE_AUTH"},
        {"CREATE VIRTUAL TABLE v USING fts4(x)", "not authorized: SQLITE_AUTH"},
        {"VACUUM", "cannot VACUUM from within a transaction: SQLITE_ERROR"},
        {"SELECT * FROM pragma_table_info('_cf_KV')", "not authorized: SQLITE_AUTH"},
        {"SELECT * FROM pragma_integrity_check", "not authorized: SQLITE_AUTH"},
        {"SELECT * FROM pragma_journal_mode", "not authorized: SQLITE_AUTH"},
        {"SELECT * FROM sqlite_dbpage", "no such table: sqlite_dbpage: SQLITE_ERROR"},
        {"SELECT * FROM pragma_function_list", "not authorized: SQLITE_AUTH"},
        {"SELECT fts3_tokenizer('x')",
         "not authorized to use function: fts3_tokenizer at offset 7: SQLITE_ERROR"},
        {"PRAGMA main.table_info(_cf_KV)", "not authorized: SQLITE_AUTH"},
        {"PRAGMA temp.table_info(t)", "not authorized: SQLITE_AUTH"},
        {"CREATE TABLE main._cf_x (y)", "not authorized: SQLITE_AUTH"},
        {"PRAGMA quick_check(_cf_KV)", "not authorized: SQLITE_AUTH"},
        {"PRAGMA foreign_key_check(_cf_KV)", "not authorized: SQLITE_AUTH"},
        {"SELECT * FROM \"_cf_KV\"", "access to _cf_KV.key is prohibited: SQLITE_AUTH"},
        {"SELECT * FROM _CF_kv", "access to _cf_KV.key is prohibited: SQLITE_AUTH"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        struct ed_error err = {0};
        struct ed_buf out;
        ed_buf_init(&out);
        int rc = st_sql_exec(o, refused[i].sql, strlen(refused[i].sql), NULL, 0, &text_sink, &out,
                             NULL, &err);
        cr_expect(rc == ED_EINVAL || rc == ED_ESQL, "%s: %s", refused[i].sql, ed_errname(rc));
        cr_expect_str_eq(ed_error_msg(&err), refused[i].msg, "%s: got %s", refused[i].sql,
                         ed_error_msg(&err));
        ed_error_dispose(&err);
        ed_buf_dispose(&out);
    }
    /* a view or a trigger reaching into _cf_* fails where it reads */
    free(sql_ok(o, "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM _cf_KV; END"));
    char *m = sql_fails(o, "INSERT INTO t VALUES (1, 1)", NULL, 0, ED_EINVAL);
    cr_assert_str_eq(m, "not authorized: SQLITE_AUTH");
    free(m);
    free(sql_ok(o, "DROP TRIGGER tr"));
    /* what stays allowed */
    static const char *const allowed[] = {
        "PRAGMA table_info(t)",
        "PRAGMA table_list",
        "PRAGMA foreign_keys",
        "PRAGMA foreign_keys = ON",
        "PRAGMA defer_foreign_keys = 'true'",
        "PRAGMA index_list(t)",
        "PRAGMA foreign_key_check",
        "PRAGMA quick_check",
        "PRAGMA optimize",
        "SELECT name FROM sqlite_schema",
        "SELECT json_extract('{\"a\": 1}', '$.a'), abs(-1), unixepoch('2020-01-01')",
        "SELECT * FROM json_each('[1, 2]')",
        "SELECT * FROM json_tree('{}')",
        "SELECT * FROM temp.sqlite_master",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) "
        "SELECT sum(x) FROM c",
        "CREATE VIRTUAL TABLE docs USING fts5(body)",
        "INSERT INTO docs VALUES ('hello durable world')",
        "SELECT highlight(docs, 0, '[', ']') FROM docs WHERE docs MATCH 'durable'",
        "CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1)",
        "INSERT INTO boxes VALUES (1, 0, 10)",
        "SELECT id FROM boxes WHERE x0 < 5",
        "ALTER TABLE t ADD COLUMN z",
        "ALTER TABLE t RENAME TO u",
        "ALTER TABLE u RENAME COLUMN z TO w",
        "CREATE VIEW v AS SELECT x FROM u",
        "SELECT * FROM v",
        "ANALYZE",
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        free(sql_ok(o, allowed[i]));
    char *r = sql_ok(o, "SELECT name FROM sqlite_schema WHERE name = 'u'");
    cr_assert_str_eq(r, "name\nu\n");
    free(r);
    commit_ok(os);
    st_objects_free(os);
}

Test(do_sql, limits)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "limits");
    free(sql_ok(o, "CREATE TABLE t (a, b)"));

    /* 100 KB of SQL */
    size_t n = ST_SQL_MAX_LENGTH + 10;
    char *sql = malloc(n + 1);
    memcpy(sql, "SELECT 1", 8);
    memset(sql + 8, ' ', n - 8);
    sql[n] = '\0';
    char *m = sql_fails(o, sql, NULL, 0, ED_EINVAL);
    cr_assert_str_eq(m, "statement too long: SQLITE_TOOBIG");
    free(m);
    sql[ST_SQL_MAX_LENGTH - 1] = '\0';
    free(sql_ok(o, sql));
    free(sql);

    /* 100 parameters */
    struct ed_buf q;
    ed_buf_init(&q);
    ed_buf_appends(&q, "SELECT ?");
    for (int i = 1; i < ST_SQL_MAX_PARAMS; i++)
        ed_buf_appends(&q, ", ?");
    struct st_value binds[ST_SQL_MAX_PARAMS + 1];
    for (int i = 0; i <= ST_SQL_MAX_PARAMS; i++)
        binds[i] = (struct st_value){.type = ST_INTEGER, .i = i};
    free(sql_binds(o, q.data, binds, ST_SQL_MAX_PARAMS, NULL));
    ed_buf_appends(&q, ", ?");
    m = sql_fails(o, q.data, binds, ST_SQL_MAX_PARAMS + 1, ED_ESQL);
    cr_assert_str_eq(m, "too many SQL variables at offset 307: SQLITE_ERROR");
    free(m);
    ed_buf_dispose(&q);
    m = sql_fails(o, "SELECT ?101", binds, 1, ED_ESQL);
    cr_assert_str_eq(m, "variable number must be between ?1 and ?100 at offset 7: SQLITE_ERROR");
    free(m);

    /* 2 MB per value, bound or made */
    char *big = calloc(1, ST_SQL_MAX_VALUE + 1);
    struct st_value v = {.type = ST_BLOB, .p = big, .len = ST_SQL_MAX_VALUE + 1};
    m = sql_fails(o, "INSERT INTO t VALUES (?, 1)", &v, 1, ED_EINVAL);
    cr_assert_str_eq(m, "string or blob too big: SQLITE_TOOBIG");
    free(m);
    v.type = ST_TEXT;
    memset(big, 'a', ST_SQL_MAX_VALUE + 1);
    m = sql_fails(o, "INSERT INTO t VALUES (?, 1)", &v, 1, ED_EINVAL);
    cr_assert_str_eq(m, "string or blob too big: SQLITE_TOOBIG");
    free(m);
    m = sql_fails(o, "SELECT zeroblob(2000001)", NULL, 0, ED_EINVAL);
    cr_assert_str_eq(m, "string or blob too big: SQLITE_TOOBIG");
    free(m);
    /* each value under the limit, the row over it */
    v.len = ST_SQL_MAX_VALUE / 2 + 10;
    struct st_value two[] = {v, v};
    m = sql_fails(o, "INSERT INTO t VALUES (?, ?)", two, 2, ED_EINVAL);
    cr_assert_str_eq(m, "string or blob too big: SQLITE_TOOBIG");
    free(m);
    v.len = ST_SQL_MAX_VALUE - 100;
    free(sql_binds(o, "INSERT INTO t VALUES (?, 1)", &v, 1, NULL));
    free(big);
    commit_ok(os);
    st_objects_free(os);
}

Test(do_sql, errors_keep_the_transaction)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "errors");
    free(sql_ok(o, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE NOT NULL)"));
    free(sql_ok(o, "INSERT INTO t VALUES (1, 'a')"));
    char *m = sql_fails(o, "INSERT INTO t VALUES (2, 'a')", NULL, 0, ED_ESQL);
    cr_assert_str_eq(m, "UNIQUE constraint failed: t.v: SQLITE_CONSTRAINT (extended: "
                        "SQLITE_CONSTRAINT_UNIQUE)");
    free(m);
    m = sql_fails(o, "INSERT INTO t VALUES (1, 'b')", NULL, 0, ED_ESQL);
    cr_assert_str_eq(m, "UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT (extended: "
                        "SQLITE_CONSTRAINT_PRIMARYKEY)");
    free(m);
    m = sql_fails(o, "INSERT INTO t (id) VALUES (3)", NULL, 0, ED_ESQL);
    cr_assert_str_eq(m, "NOT NULL constraint failed: t.v: SQLITE_CONSTRAINT (extended: "
                        "SQLITE_CONSTRAINT_NOTNULL)");
    free(m);
    m = sql_fails(o, "SELEC 1", NULL, 0, ED_ESQL);
    cr_assert_str_eq(m, "near \"SELEC\": syntax error at offset 0: SQLITE_ERROR");
    free(m);
    m = sql_fails(o, "SELECT nope FROM t", NULL, 0, ED_ESQL);
    cr_assert_str_eq(m, "no such column: nope at offset 7: SQLITE_ERROR");
    free(m);
    free(sql_ok(o, "INSERT INTO t VALUES (2, 'b')"));
    commit_ok(os);
    char *r = sql_ok(o, "SELECT id, v FROM t ORDER BY id");
    cr_assert_str_eq(r, "id|v\n1|a\n2|b\n");
    free(r);
    commit_ok(os);
    st_objects_free(os);
}

Test(do_sql, rows_counted_and_size)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "counts");
    struct st_counts c = {0};
    free(sql_binds(o, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)", NULL, 0, &c));
    cr_assert_eq(c.rows_written, 0);
    free(sql_binds(o, "INSERT INTO t (v) VALUES (1), (2), (3)", NULL, 0, &c));
    cr_assert_eq(c.rows_written, 3);
    c = (struct st_counts){0};
    free(sql_binds(o, "SELECT * FROM t", NULL, 0, &c));
    cr_assert_eq(c.rows_read, 3);
    cr_assert_eq(c.rows_written, 0);
    c = (struct st_counts){0};
    free(sql_binds(o, "UPDATE t SET v = v + 1 WHERE id = 2", NULL, 0, &c));
    cr_assert_eq(c.rows_written, 1);
    cr_assert_eq(c.rows_read, 1);
    c = (struct st_counts){0};
    free(sql_binds(o, "SELECT * FROM t WHERE v = 1", NULL, 0, &c)); /* a full scan of 3 */
    cr_assert_eq(c.rows_read, 3, "%llu", (unsigned long long)c.rows_read);
    c = (struct st_counts){0};
    free(sql_binds(o, "DELETE FROM t", NULL, 0, &c));
    cr_assert_eq(c.rows_written, 3);
    uint64_t size = st_object_size(o);
    cr_assert(size >= 4096 && size % 4096 == 0, "size %llu", (unsigned long long)size);
    commit_ok(os);
    st_objects_free(os);
}

Test(do_sql, runaway_query_interrupted)
{
    struct st_objects *os = objects_new(0);
    struct st_object *o = object(os, "runaway");
    free(sql_ok(o, "CREATE TABLE t (x)"));
    commit_ok(os);
    free(sql_ok(o, "INSERT INTO t VALUES (1)"));
    static const char forever[] =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) ";

    /* a read past the deadline fails alone: the transaction goes on */
    st_objects_set_deadline(os, ed_now_ns() + 50 * 1000000ull);
    uint64_t t0 = ed_now_ns();
    char sql[200];
    snprintf(sql, sizeof sql, "%sSELECT count(*) FROM c", forever);
    char *m = sql_fails(o, sql, NULL, 0, ED_ETIMEDOUT);
    uint64_t took_ms = (ed_now_ns() - t0) / 1000000;
    cr_assert(took_ms < 2000, "took %llu ms", (unsigned long long)took_ms);
    cr_assert_str_eq(m, "interrupted: SQLITE_INTERRUPT");
    free(m);
    st_objects_set_deadline(os, 0);
    free(sql_ok(o, "INSERT INTO t VALUES (2)"));
    commit_ok(os);

    /* a write past it: SQLite rolls the whole transaction back, so the rest of the turn fails
     * and the commit reports the loss */
    free(sql_ok(o, "INSERT INTO t VALUES (3)"));
    st_objects_set_deadline(os, ed_now_ns() + 50 * 1000000ull);
    snprintf(sql, sizeof sql, "%sINSERT INTO t SELECT x FROM c", forever);
    m = sql_fails(o, sql, NULL, 0, ED_ETIMEDOUT);
    cr_assert_str_eq(m, "interrupted: SQLITE_INTERRUPT");
    free(m);
    st_objects_set_deadline(os, 0);
    struct ed_error err = {0};
    cr_assert_eq(st_sql_exec(o, "SELECT 1", 8, NULL, 0, NULL, NULL, NULL, &err), ED_ETIMEDOUT);
    cr_assert_str_eq(ed_error_msg(&err), "the transaction was rolled back: interrupted");
    ed_error_dispose(&err);
    cr_assert_eq(st_objects_commit(os, NULL, NULL), 1);
    o = object(os, "runaway");
    char *r = sql_ok(o, "SELECT group_concat(x) AS xs FROM t");
    cr_assert_str_eq(r, "xs\n1,2\n");
    free(r);
    commit_ok(os);
    st_objects_free(os);
}
