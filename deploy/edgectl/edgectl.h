/*
 * edgectl — the command-line client of edged's admin API (deploy/, issue #6). This header is
 * internal to the CLI's files in deploy/edgectl/ (and their unit tests): the readers of a
 * Workers project's configuration (a strict subset of TOML, JSON with comments), the mapping
 * of that configuration onto a deploy's metadata, the collection of a project's modules, the
 * multipart/form-data body of an upload, the HTTP client (libcurl) and the commands. Nothing
 * of edged itself links any of it: edgectl is its own binary, and only it links libcurl.
 * Prefix: dp_toml_, dp_jsonc_, dp_wrangler_, dp_form_ for the reusable readers and builders,
 * dp_ctl_ for the CLI's plumbing; statics inside its files are ctl_*.
 */
#ifndef EDGED_DEPLOY_EDGECTL_H
#define EDGED_DEPLOY_EDGECTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/common.h"

/* Exit codes (the contract's): what a script can tell apart. */
enum dp_ctl_exit {
    DP_CTL_OK = 0,          /* done */
    DP_CTL_REFUSED = 1,     /* the API answered with an error (its message printed) */
    DP_CTL_USAGE = 2,       /* bad arguments, or a project edgectl cannot read or upload */
    DP_CTL_UNREACHABLE = 3, /* no answer from the node (connection refused, timeout, DNS) */
};

/* Limits checked before an upload, the API's own (a larger bundle would only be refused). */
#define DP_CTL_MAX_BUNDLE_BYTES (64u << 20)
#define DP_CTL_MAX_MODULES 10000u
/* A configuration file larger than this is refused unread (wrangler files are a few KB). */
#define DP_CTL_MAX_CONFIG_BYTES (1u << 20)

/* ---- TOML (the subset wrangler.toml uses) -------------------------------------------------
 * key = "string" | 'literal' | integer | float | true/false | [array] | { inline = "table" },
 * bare, quoted and dotted keys, [table] and [[array.of.tables]] headers, # comments; arrays may
 * span lines (with comments and a trailing comma), inline tables may not. Anything else —
 * multi-line strings, dates and times, hex/octal/binary, inf/nan, a key defined twice — is an
 * error naming the line: `NAME:LINE: what`. The document becomes a JSON object (tables are
 * objects, arrays of tables arrays of objects) so one mapping serves TOML and JSON alike.
 * name (borrowed) prefixes messages. *out is owned (json_decref) on success, NULL on error. */
int dp_toml_parse(const char *text, size_t len, const char *name, json_t **out,
                  struct ed_error *err);

/* ---- JSON with comments (wrangler.jsonc, wrangler.json) ------------------------------------
 * // and slash-star comments and trailing commas are blanked out (line and column numbers are
 * kept), then jansson parses the rest, refusing duplicate keys. The top level must be an
 * object. Errors read `NAME:LINE:COLUMN: what`. *out owned (json_decref), NULL on error. */
int dp_jsonc_parse(const char *text, size_t len, const char *name, json_t **out,
                   struct ed_error *err);

/* ---- a Workers project's configuration ---------------------------------------------------- */
struct dp_wrangler {
    char *path;                  /* the file read; owned */
    char *name;                  /* `name`, or NULL; owned */
    char *main;                  /* `main`, relative to the file's folder, or NULL; owned */
    char *compatibility_date;    /* or NULL; owned */
    json_t *compatibility_flags; /* array of strings, or NULL; owned reference */
    json_t *bindings;            /* array of upload bindings (plain_text, durable_object_namespace,
                         worker_loader), never NULL after a successful read; owned ref */
};

/* The configuration file of the project in dir: wrangler.json, then wrangler.jsonc, then
 * wrangler.toml (wrangler's own order). Returns owned (free()) path, or NULL when none
 * exists. */
char *dp_wrangler_find(const char *dir);

/* Reads path (by its extension: .toml, else JSON with comments) into *w (zeroed first) and
 * maps name, main, compatibility_date, compatibility_flags, vars (strings only: plain_text),
 * durable_objects.bindings ({name, class_name}: durable_object_namespace) and worker_loaders
 * ({binding}: worker_loader). Other keys are ignored (account_id, routes, build, migrations...);
 * a mapped key of the wrong shape is an error naming it. Returns 0 or a negative code with a
 * one-line message in err; free *w with dp_wrangler_dispose either way. */
int dp_wrangler_read(const char *path, struct dp_wrangler *w, struct ed_error *err);

/* The same mapping from an already parsed document; file (borrowed) names it in messages. */
int dp_wrangler_map(const json_t *doc, const char *file, struct dp_wrangler *w,
                    struct ed_error *err);

void dp_wrangler_dispose(struct dp_wrangler *w);

/* ---- a bundle of modules ------------------------------------------------------------------ */
struct dp_ctl_module {
    char *name;               /* relative to the bundle's root, '/'-separated; owned */
    const char *content_type; /* static: the upload's name for its module type */
    char *data;               /* owned; NULL until read */
    size_t len;
};

struct dp_ctl_bundle {
    char *main_module;          /* owned */
    struct dp_ctl_module *mods; /* owned, sorted by name */
    size_t n;
    size_t bytes; /* sum of the modules' sizes */
};

/* The upload Content-Type of a module named name, by its extension as edge/metadata.c types
 * bundle files (.js/.mjs ES module, .cjs CommonJS, .json, .txt/.html/.md/.css/.svg text,
 * .bin data). Returns a static string, or NULL for any other extension. */
const char *dp_ctl_module_type(const char *name);

/* Every file under root (skipping names that start with '.', node_modules and wrangler.*
 * files) as a module named relative to root; main (relative to root) must be one of them.
 * Names and sizes are collected first and checked against max_bytes and max_files before
 * any file is read. A symbolic link to a file is followed, one to a folder refused. Returns
 * 0 or ED_ENOENT/ED_EINVAL/ED_ETOOBIG/ED_EIO with a one-line message; free b with
 * dp_ctl_bundle_dispose either way. */
int dp_ctl_bundle_dir(struct dp_ctl_bundle *b, const char *root, const char *main, size_t max_bytes,
                      size_t max_files, struct ed_error *err);

/* One file as a one-module bundle named after its base name. Same returns. */
int dp_ctl_bundle_file(struct dp_ctl_bundle *b, const char *path, size_t max_bytes,
                       struct ed_error *err);

void dp_ctl_bundle_dispose(struct dp_ctl_bundle *b);

/* ---- multipart/form-data ------------------------------------------------------------------ */
struct dp_form_part {
    const char *name;         /* the part's name= (borrowed) */
    const char *filename;     /* filename=, or NULL (borrowed) */
    const char *content_type; /* or NULL: no Content-Type header (borrowed) */
    const void *data;         /* borrowed */
    size_t len;
};

/* Appends the body of a multipart/form-data message with parts to out (RFC 7578: CRLF line
 * ends, `--BOUNDARY` before each part, `--BOUNDARY--` at the end). Names and file names are
 * escaped as the HTML standard does (" CR LF as %22 %0D %0A). boundary NULL picks a random one
 * that occurs in no part; a given boundary that occurs in a part is ED_EINVAL. *content_type
 * gets `multipart/form-data; boundary=...`, owned (free()). Returns 0 or a negative code
 * (out is left as it was). */
int dp_form_build(const struct dp_form_part *parts, size_t n, const char *boundary,
                  struct ed_buf *out, char **content_type, struct ed_error *err);

/* ---- HTTP (libcurl) ----------------------------------------------------------------------- */
struct dp_ctl_http {
    char *base; /* "http://127.0.0.1:8081", no trailing slash; owned */
    char *auth; /* "Authorization: Bearer ..." or NULL; owned */
    void *curl; /* CURL *, made on first use */
};

struct dp_ctl_response {
    long status;
    struct ed_buf body; /* the whole body (not with a sink: see dp_ctl_http_stream) */
};

/* base and token are copied. Returns 0 or ED_ENOMEM. Free with dp_ctl_http_dispose. */
int dp_ctl_http_init(struct dp_ctl_http *h, const char *base, const char *token);
void dp_ctl_http_dispose(struct dp_ctl_http *h);
void dp_ctl_response_dispose(struct dp_ctl_response *r);

/* One request: METHOD base+path with body (NULL: none) of content_type. r is filled (free
 * with dp_ctl_response_dispose) whenever the node answered, whatever the status. Returns 0,
 * ED_EINVAL (the URL cannot be used) or ED_EIO (the node could not be reached: refused,
 * unresolvable, timed out, cut off), with a one-line message in err. */
int dp_ctl_http_request(struct dp_ctl_http *h, const char *method, const char *path,
                        const char *content_type, const void *body, size_t len,
                        struct dp_ctl_response *r, struct ed_error *err);

/* GET base+path with no time limit, writing a 2xx body to sink as it arrives (flushed per
 * piece); any other status's body is kept in r->body. Returns as dp_ctl_http_request. */
int dp_ctl_http_stream(struct dp_ctl_http *h, const char *path, FILE *sink,
                       struct dp_ctl_response *r, struct ed_error *err);

/* s percent-encoded for a path segment or a query value. Returns owned (free()) or NULL. */
char *dp_ctl_escape(const char *s);

/* ---- the command line (args.c) ------------------------------------------------------------- */
struct dp_ctl;

/* One command: `edgectl [GROUP] NAME ARGS [options]`. options is a space-separated list of
 * option names; "name=" takes a value, "name=*" takes one and may repeat, a bare name is a
 * flag. Every command also takes the global options (--url --token --data --json --help). */
struct dp_ctl_command {
    const char *group; /* "tenant", "token", "routes", or NULL */
    const char *name;  /* NULL: the group's command without a sub-command (`routes`) */
    const char *args;  /* the positional arguments as help shows them */
    int min_args, max_args;
    const char *options;
    const char *help; /* one paragraph; its first sentence is the summary */
    int (*run)(struct dp_ctl *c);
};

struct dp_ctl_opt {
    const char *name;  /* borrowed from the command's spec */
    const char *value; /* borrowed from argv; NULL for a flag */
};

/* One invocation: what the arguments said, and the connection to the node. */
struct dp_ctl {
    FILE *out, *errs;                            /* borrowed */
    const char *url, *token, *data_dir, *tenant; /* borrowed from argv or the environment */
    bool json;
    const struct dp_ctl_command *cmd;
    const char **args; /* positional arguments after the command words; owned array */
    size_t nargs;
    struct dp_ctl_opt *opts; /* the command's options in order; owned array */
    size_t nopts;
    struct dp_ctl_http http;
    char *token_owned; /* read from DATA/operator.token; owned */
    char *whoami;      /* the token's tenant once asked ("" for the operator); owned */
};

/* Runs edgectl with argv (as main's) and returns the process's exit code (enum dp_ctl_exit).
 * Output goes to out, messages to errs (both borrowed), so tests can capture them. */
int dp_ctl_main(int argc, char **argv, FILE *out, FILE *errs);

/* The value of option name (the last one given), or NULL. Borrowed. */
const char *dp_ctl_opt(const struct dp_ctl *c, const char *name);
/* Whether flag name was given. */
bool dp_ctl_flag(const struct dp_ctl *c, const char *name);
/* Option name as a non-negative integer into *v. Returns 0, 1 when absent, or prints a usage
 * error and returns -1. */
int dp_ctl_opt_int(struct dp_ctl *c, const char *name, long long *v);

/* ---- talking to the API (api.c) ------------------------------------------------------------ */

/* Prints `edgectl: MESSAGE` to errs; returns code (an enum dp_ctl_exit). */
int dp_ctl_fail(struct dp_ctl *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One API call: METHOD path with a JSON body (borrowed; NULL: none) or raw bytes
 * (content_type, raw, len; used when body is NULL and raw is not). On a 2xx answer, --json
 * prints its body as is, and *doc (may be NULL) gets the parsed JSON (owned, json_decref;
 * NULL for an empty body). An error answer is printed as `edgectl: MESSAGE (HTTP N)` (and its
 * body to out with --json). Returns the exit code: 0, 1 (the API refused), 2 (a URL or token
 * edgectl cannot use), 3 (the node cannot be reached). */
int dp_ctl_call(struct dp_ctl *c, const char *method, const char *path, const json_t *body,
                const char *content_type, const void *raw, size_t len, json_t **doc);

/* dp_ctl_call without printing a 2xx answer under --json: for the calls a command makes on
 * the way to the one whose answer it shows. */
int dp_ctl_call_quiet(struct dp_ctl *c, const char *method, const char *path, const json_t *body,
                      json_t **doc);

/* GET path, its 2xx body copied to c->out as it arrives (no time limit: `logs --follow`).
 * Returns an exit code like dp_ctl_call; a 404/405 adds that the node may predate the
 * endpoint. */
int dp_ctl_stream(struct dp_ctl *c, const char *path);

/* The tenant a command acts on: --tenant, else the token's own (GET /v1/whoami). The
 * operator's token needs --tenant. *tenant is borrowed (valid while c lives). Returns an exit
 * code. */
int dp_ctl_tenant(struct dp_ctl *c, const char **tenant);

/* "/v1/tenants/T" + suffix, T escaped. Returns owned (free()) or NULL. */
char *dp_ctl_tenant_path(const char *tenant, const char *suffix);

/* ---- output (output.c) -------------------------------------------------------------------- */

/* A table printed with aligned columns: dp_ctl_table_row() each row (the first is the
 * header), then dp_ctl_table_print(). Cells are copied. */
struct dp_ctl_table {
    char **cells;
    size_t ncols, nrows;
};
void dp_ctl_table_init(struct dp_ctl_table *t, size_t ncols);
int dp_ctl_table_row(struct dp_ctl_table *t, ...); /* ncols const char * (NULL prints "-") */
void dp_ctl_table_print(const struct dp_ctl_table *t, FILE *out);
void dp_ctl_table_dispose(struct dp_ctl_table *t);

/* A JSON value as a table cell: strings as they are, numbers and booleans as JSON writes
 * them, null/absent as NULL, times (a "created"-like key holding seconds or milliseconds
 * since 1970) as UTC "YYYY-MM-DD HH:MM:SS". Writes into buf (cap bytes); returns buf or NULL. */
const char *dp_ctl_cell(const json_t *v, bool is_time, char *buf, size_t cap);

/* Prints v as indented JSON followed by a newline. */
void dp_ctl_print_pretty(FILE *out, const json_t *v);

/* ---- the commands (commands.c, deploy.c) -------------------------------------------------- */
int dp_ctl_cmd_tenant_create(struct dp_ctl *c);
int dp_ctl_cmd_tenant_list(struct dp_ctl *c);
int dp_ctl_cmd_tenant_show(struct dp_ctl *c);
int dp_ctl_cmd_tenant_quota(struct dp_ctl *c);
int dp_ctl_cmd_tenant_suspend(struct dp_ctl *c);
int dp_ctl_cmd_tenant_resume(struct dp_ctl *c);
int dp_ctl_cmd_tenant_cordon(struct dp_ctl *c);
int dp_ctl_cmd_tenant_delete(struct dp_ctl *c);
int dp_ctl_cmd_tenant_allow_route(struct dp_ctl *c);
int dp_ctl_cmd_deploy(struct dp_ctl *c);
int dp_ctl_cmd_workers(struct dp_ctl *c);
int dp_ctl_cmd_versions(struct dp_ctl *c);
int dp_ctl_cmd_rollback(struct dp_ctl *c);
int dp_ctl_cmd_delete_worker(struct dp_ctl *c);
int dp_ctl_cmd_routes_list(struct dp_ctl *c);
int dp_ctl_cmd_routes_add(struct dp_ctl *c);
/* PUT a route for the tenant of c (deploy --route shares it). Returns an exit code. */
int dp_ctl_route_add(struct dp_ctl *c, const char *pattern, const char *worker);
int dp_ctl_cmd_routes_rm(struct dp_ctl *c);
int dp_ctl_cmd_usage(struct dp_ctl *c);
int dp_ctl_cmd_token_create(struct dp_ctl *c);
int dp_ctl_cmd_token_list(struct dp_ctl *c);
int dp_ctl_cmd_token_revoke(struct dp_ctl *c);
int dp_ctl_cmd_logs(struct dp_ctl *c);
int dp_ctl_cmd_whoami(struct dp_ctl *c);

#endif
