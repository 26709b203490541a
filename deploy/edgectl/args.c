/*
 * edgectl's command line: the table of commands (each with its arguments, options and help),
 * the parser that turns argv into a struct dp_ctl, and the help texts, all generated from the
 * table so that help never lists a command or option the parser does not know. Options may
 * come before or after a command's arguments (`--opt value` or `--opt=value`; `--` ends them);
 * anything the table does not list is a usage error (exit code 2) that names it.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/edgectl/edgectl.h"

#define CTL_QUOTAS \
    "cpu-ms= heap-mb= max-children= storage-bytes= requests-per-s= bundle-bytes= workers="
#define CTL_QUOTA_USAGE                                                                       \
    "[--cpu-ms N] [--heap-mb N] [--max-children N] [--storage-bytes N] [--requests-per-s N] " \
    "[--bundle-bytes N] [--workers N]"

static const struct dp_ctl_command ctl_commands[] = {
    {"tenant", "create", "NAME " CTL_QUOTA_USAGE, 1, 1, CTL_QUOTAS,
     "Create a tenant and print its first token (operator). The token is printed on stdout, "
     "once: keep it. Quotas "
     "not given are the node's defaults: CPU ms per request, heap MB per isolate, live child "
     "workers, storage bytes, requests per second, bundle bytes, number of workers.",
     dp_ctl_cmd_tenant_create},
    {"tenant", "list", "", 0, 0, "", "List the tenants (operator).", dp_ctl_cmd_tenant_list},
    {"tenant", "show", "NAME", 1, 1, "",
     "Show a tenant: status, cordon, quotas, the routes it may bind.", dp_ctl_cmd_tenant_show},
    {"tenant", "quota", "NAME " CTL_QUOTA_USAGE, 1, 1, CTL_QUOTAS,
     "Change a tenant's quotas (operator). The ones not given stay as they are.",
     dp_ctl_cmd_tenant_quota},
    {"tenant", "suspend", "NAME", 1, 1, "",
     "Suspend a tenant (operator). Its workers stop serving; its data stays.",
     dp_ctl_cmd_tenant_suspend},
    {"tenant", "resume", "NAME", 1, 1, "", "Make a suspended tenant active again (operator).",
     dp_ctl_cmd_tenant_resume},
    {"tenant", "cordon", "NAME default|own", 2, 2, "",
     "Run a tenant in the shared process or in its own (operator). default is the node's "
     "main process; own is a cordon process of the tenant's own.",
     dp_ctl_cmd_tenant_cordon},
    {"tenant", "delete", "NAME", 1, 1, "",
     "Delete a tenant and all it has (operator). Its workers, routes, tokens and data "
     "directory go; there is no undo.",
     dp_ctl_cmd_tenant_delete},
    {"tenant", "allow-route", "NAME PATTERN...", 2, -1, "",
     "Let a tenant bind routes within PATTERN (operator). A pattern is host/path with `*` as "
     "in routes (`api.example.com/*`, `*.example.com/*`); the tenant keeps the patterns it "
     "had.",
     dp_ctl_cmd_tenant_allow_route},
    {NULL, "deploy",
     "[DIR|FILE] [--name N] [--tenant T] [--route host/path] [--main M] "
     "[--compatibility-date D] [--var NAME=VALUE] [--secret NAME] [--dry-run]",
     0, 1, "name= tenant= route=* main= compatibility-date= var=* secret=* dry-run",
     "Deploy a worker: a new version goes live when the whole bundle validated. DIR (default: "
     "the current folder) may hold a wrangler.toml, wrangler.jsonc or wrangler.json, whose "
     "name, main, compatibility_date, compatibility_flags, vars, durable_objects.bindings and "
     "worker_loaders are used; every file under the main module's folder is uploaded as a "
     "module named relative to it (dot files, node_modules and wrangler.* skipped; types by "
     "extension: .js .mjs ES module, .cjs CommonJS, .json, .txt .html .md .css .svg text, .bin "
     "data). A FILE is uploaded alone. Options override the config: --name (default: the "
     "config's, or FILE's base name), --main (default: index.js), --compatibility-date "
     "(default: today), --var NAME=VALUE (repeatable), --secret NAME (its value from the "
     "environment variable NAME; never printed). --route binds host/path to the worker after "
     "the deploy (repeatable). --dry-run prints what would be uploaded and sends nothing.",
     dp_ctl_cmd_deploy},
    {"workers", NULL, "[--tenant T]", 0, 0,
     "tenant=", "List the tenant's workers and their live versions.", dp_ctl_cmd_workers},
    {"workers", "rm", "WORKER [--tenant T]", 1, 1,
     "tenant=", "Delete a worker, all its versions and its routes.", dp_ctl_cmd_delete_worker},
    {NULL, "versions", "WORKER [--tenant T]", 1, 1,
     "tenant=", "List a worker's versions; the live one is marked.", dp_ctl_cmd_versions},
    {NULL, "rollback", "WORKER VERSION [--tenant T]", 2, 2,
     "tenant=", "Make an earlier version of a worker the live one.", dp_ctl_cmd_rollback},
    {"routes", NULL, "[--tenant T]", 0, 0, "tenant=", "List the tenant's routes.",
     dp_ctl_cmd_routes_list},
    {"routes", "add", "PATTERN WORKER [--tenant T]", 2, 2, "tenant=",
     "Route requests matching PATTERN to WORKER. PATTERN is host/path, as "
     "`api.example.com/*`, and must lie within what the operator allowed the tenant.",
     dp_ctl_cmd_routes_add},
    {"routes", "rm", "PATTERN [--tenant T]", 1, 1, "tenant=", "Remove a route.",
     dp_ctl_cmd_routes_rm},
    {NULL, "usage", "[--day YYYY-MM-DD] [--tenant T]", 0, 0, "day= tenant=",
     "Print usage counters for a UTC day (default today). The operator sees every tenant's "
     "(or one with --tenant), a tenant its own.",
     dp_ctl_cmd_usage},
    {"token", "create", "[--label L] [--tenant T]", 0, 0, "label= tenant=",
     "Create a tenant token; it is printed on stdout, once.", dp_ctl_cmd_token_create},
    {"token", "list", "[--tenant T]", 0, 0, "tenant=",
     "List the tenant's tokens (ids, labels, times; never the tokens).", dp_ctl_cmd_token_list},
    {"token", "revoke", "ID [--tenant T]", 1, 1,
     "tenant=", "Revoke a tenant token by its id (tok_...).", dp_ctl_cmd_token_revoke},
    {NULL, "logs", "[--follow] [--tenant T]", 0, 0, "follow tenant=",
     "Print the tenant's worker logs. They are console.* output and errors of its workers and "
     "their children; --follow keeps printing as they come, until interrupted.",
     dp_ctl_cmd_logs},
    {NULL, "whoami", "", 0, 0, "", "Print whom the token belongs to: the operator or a tenant.",
     dp_ctl_cmd_whoami},
};

#define CTL_NCOMMANDS (sizeof ctl_commands / sizeof ctl_commands[0])

static const char ctl_globals_help[] =
    "Global options (before or after the command):\n"
    "  --url URL      the admin API (default: $EDGED_URL, else http://127.0.0.1:8081)\n"
    "  --token TOKEN  an operator or tenant token (default: $EDGED_TOKEN)\n"
    "  --data DIR     use the operator token in DIR/operator.token (the node's data folder)\n"
    "  --json         print the API's JSON answers as they are, for scripts\n"
    "  --tenant T     (tenant commands) act on tenant T: needed with the operator's token\n"
    "\n"
    "Exit codes: 0 done; 1 the API refused (its message is printed); 2 usage error, or a\n"
    "project edgectl cannot read or upload; 3 the node cannot be reached.\n";

/* ---- option specs --------------------------------------------------------------------------- */

/* Finds name (n bytes) in a space-separated spec. Returns the spec's copy of the name (so
 * options keep a NUL-terminated borrowed name), or NULL. */
static const char *spec_find(const char *spec, const char *name, size_t n, bool *takes_value)
{
    for (const char *p = spec; p && *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ' && *e != '=')
            e++;
        if ((size_t)(e - p) == n && memcmp(p, name, n) == 0 && n > 0) {
            *takes_value = *e == '=';
            return p;
        }
        while (*e && *e != ' ')
            e++;
        p = e;
    }
    return NULL;
}

static const char *ctl_global_spec = "url= token= data= json help";

const char *dp_ctl_opt(const struct dp_ctl *c, const char *name)
{
    const char *v = NULL;
    size_t n = strlen(name);
    for (size_t i = 0; i < c->nopts; i++)
        if (strncmp(c->opts[i].name, name, n) == 0 &&
            (c->opts[i].name[n] == '\0' || c->opts[i].name[n] == ' ' || c->opts[i].name[n] == '='))
            v = c->opts[i].value;
    return v;
}

bool dp_ctl_flag(const struct dp_ctl *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < c->nopts; i++)
        if (strncmp(c->opts[i].name, name, n) == 0 &&
            (c->opts[i].name[n] == '\0' || c->opts[i].name[n] == ' '))
            return true;
    return false;
}

int dp_ctl_opt_int(struct dp_ctl *c, const char *name, long long *v)
{
    const char *s = dp_ctl_opt(c, name);
    if (!s)
        return 1;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno || x < 0) {
        dp_ctl_fail(c, DP_CTL_USAGE, "--%s wants a non-negative integer, not \"%s\"", name, s);
        return -1;
    }
    *v = x;
    return 0;
}

/* ---- help --------------------------------------------------------------------------------- */

static void command_words(const struct dp_ctl_command *cmd, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", cmd->group ? cmd->group : "", cmd->group && cmd->name ? " " : "",
             cmd->name ? cmd->name : "");
}

/* The first sentence of a help paragraph. */
static int summary_len(const char *help)
{
    const char *dot = strstr(help, ". ");
    return dot ? (int)(dot - help + 1) : (int)strlen(help);
}

static void print_wrapped(FILE *f, const char *text, int indent, int width)
{
    int col = indent;
    fprintf(f, "%*s", indent, "");
    const char *p = text;
    while (*p) {
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        int wl = (int)(e - p);
        if (col > indent && col + 1 + wl > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", wl, p);
        col += wl;
        p = *e ? e + 1 : e;
    }
    fputc('\n', f);
}

static void help_all(FILE *f)
{
    fprintf(f, "usage: edgectl [--url URL] [--token TOKEN | --data DIR] [--json] COMMAND "
               "[ARGS] [OPTIONS]\n\n"
               "The command-line client of edged's admin API: tenants, deploys, routes, "
               "tokens, usage.\n\nCommands:\n");
    for (size_t i = 0; i < CTL_NCOMMANDS; i++) {
        char words[64];
        command_words(&ctl_commands[i], words, sizeof words);
        fprintf(f, "  %-20s %.*s\n", words, summary_len(ctl_commands[i].help),
                ctl_commands[i].help);
    }
    fprintf(f, "\n%s\n`edgectl COMMAND --help` describes one command.\n", ctl_globals_help);
}

static void help_command(FILE *f, const struct dp_ctl_command *cmd)
{
    char words[64];
    command_words(cmd, words, sizeof words);
    fprintf(f, "usage: edgectl %s%s%s\n\n", words, *cmd->args ? " " : "", cmd->args);
    print_wrapped(f, cmd->help, 0, 96);
    fprintf(f, "\n%s", ctl_globals_help);
}

static void help_group(FILE *f, const char *group)
{
    fprintf(f, "usage: edgectl %s COMMAND ...\n\n", group);
    for (size_t i = 0; i < CTL_NCOMMANDS; i++) {
        if (!ctl_commands[i].group || strcmp(ctl_commands[i].group, group) != 0)
            continue;
        char words[64];
        command_words(&ctl_commands[i], words, sizeof words);
        fprintf(f, "  edgectl %s %s\n", words, ctl_commands[i].args);
        print_wrapped(f, ctl_commands[i].help, 6, 96);
    }
    fprintf(f, "\n%s", ctl_globals_help);
}

/* ---- parsing -------------------------------------------------------------------------------- */

static const struct dp_ctl_command *find_command(const char *group, const char *name)
{
    for (size_t i = 0; i < CTL_NCOMMANDS; i++) {
        const struct dp_ctl_command *cmd = &ctl_commands[i];
        if (group) {
            if (!cmd->group || strcmp(cmd->group, group) != 0)
                continue;
        } else if (cmd->group) {
            continue;
        }
        if ((!name && !cmd->name) || (name && cmd->name && strcmp(name, cmd->name) == 0))
            return cmd;
    }
    return NULL;
}

static bool is_group(const char *word)
{
    for (size_t i = 0; i < CTL_NCOMMANDS; i++)
        if (ctl_commands[i].group && strcmp(ctl_commands[i].group, word) == 0)
            return true;
    return false;
}

static bool is_option(const char *a)
{
    return a[0] == '-' && a[1] != '\0';
}

/* Takes argv[*i] (an option) and, when the spec says so, its value. Returns 0, or an exit
 * code after a message. */
static int take_option(struct dp_ctl *c, const char *spec, int argc, char **argv, int *i,
                       bool *help)
{
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0) {
        *help = true;
        return 0;
    }
    if (strncmp(a, "--", 2) != 0)
        return dp_ctl_fail(c, DP_CTL_USAGE, "unknown option %s (options are --long-names)", a);
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    bool takes = false;
    const char *spec_name = spec_find(ctl_global_spec, name, n, &takes);
    bool global = spec_name != NULL;
    if (!spec_name)
        spec_name = spec_find(spec, name, n, &takes);
    if (!spec_name) {
        char words[64] = "edgectl";
        if (c->cmd)
            command_words(c->cmd, words, sizeof words);
        return dp_ctl_fail(c, DP_CTL_USAGE, "unknown option --%.*s (see `%s%s --help`)", (int)n,
                           name, c->cmd ? "edgectl " : "", words);
    }
    const char *value = NULL;
    if (takes) {
        if (eq) {
            value = eq + 1;
        } else if (*i + 1 < argc) {
            value = argv[++*i];
        } else {
            return dp_ctl_fail(c, DP_CTL_USAGE, "--%.*s needs a value", (int)n, name);
        }
    } else if (eq) {
        return dp_ctl_fail(c, DP_CTL_USAGE, "--%.*s takes no value", (int)n, name);
    }
    if (global) {
        if (strncmp(spec_name, "url", 3) == 0)
            c->url = value;
        else if (strncmp(spec_name, "token", 5) == 0)
            c->token = value;
        else if (strncmp(spec_name, "data", 4) == 0)
            c->data_dir = value;
        else if (strncmp(spec_name, "json", 4) == 0)
            c->json = true;
        else
            *help = true;
        return 0;
    }
    struct dp_ctl_opt *o = realloc(c->opts, (c->nopts + 1) * sizeof *o);
    if (!o)
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    c->opts = o;
    o[c->nopts++] = (struct dp_ctl_opt){.name = spec_name, .value = value};
    if (strncmp(spec_name, "tenant=", 7) == 0)
        c->tenant = value;
    return 0;
}

/* Fills c from argv. Returns -1 to go on and run c->cmd, else an exit code (help: 0). */
static int parse(struct dp_ctl *c, int argc, char **argv)
{
    bool help = false;
    int i = 1, rc;
    for (; i < argc && is_option(argv[i]); i++) {
        if (strcmp(argv[i], "--version") == 0) {
            fprintf(c->out, "edgectl %s\n", EDGED_VERSION);
            return DP_CTL_OK;
        }
        if ((rc = take_option(c, "", argc, argv, &i, &help)))
            return rc;
    }
    if (i == argc) {
        help_all(help ? c->out : c->errs);
        return help ? DP_CTL_OK : DP_CTL_USAGE;
    }
    const char *word = argv[i++];
    if (strcmp(word, "help") == 0) {
        const struct dp_ctl_command *cmd = NULL;
        if (i < argc && is_group(argv[i])) {
            cmd = find_command(argv[i], i + 1 < argc ? argv[i + 1] : NULL);
            if (!cmd) {
                help_group(c->out, argv[i]);
                return DP_CTL_OK;
            }
        } else if (i < argc) {
            cmd = find_command(NULL, argv[i]);
        }
        if (!cmd && i < argc)
            return dp_ctl_fail(c, DP_CTL_USAGE, "no command %s (see `edgectl --help`)", argv[i]);
        if (cmd)
            help_command(c->out, cmd);
        else
            help_all(c->out);
        return DP_CTL_OK;
    }
    if (is_group(word)) {
        const char *sub = i < argc && !is_option(argv[i]) ? argv[i] : NULL;
        c->cmd = sub ? find_command(word, sub) : NULL;
        if (c->cmd) {
            i++;
        } else if (sub && !find_command(word, NULL)) {
            return dp_ctl_fail(c, DP_CTL_USAGE, "no command %s %s (see `edgectl %s --help`)", word,
                               sub, word);
        } else {
            c->cmd = find_command(word, NULL);
        }
        if (!c->cmd) {
            bool wants_help = help;
            for (int j = i; j < argc; j++)
                wants_help =
                    wants_help || strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0;
            if (wants_help) {
                help_group(c->out, word);
                return DP_CTL_OK;
            }
            help_group(c->errs, word);
            return DP_CTL_USAGE;
        }
    } else if (!(c->cmd = find_command(NULL, word))) {
        return dp_ctl_fail(c, DP_CTL_USAGE, "no command %s (see `edgectl --help`)", word);
    }
    if (!(c->args = calloc((size_t)argc, sizeof *c->args)))
        return dp_ctl_fail(c, DP_CTL_USAGE, "out of memory");
    bool more_options = true;
    for (; i < argc; i++) {
        if (more_options && strcmp(argv[i], "--") == 0) {
            more_options = false;
        } else if (more_options && is_option(argv[i])) {
            if ((rc = take_option(c, c->cmd->options, argc, argv, &i, &help)))
                return rc;
        } else {
            c->args[c->nargs++] = argv[i];
        }
    }
    if (help) {
        if (!c->cmd->name)
            help_group(c->out, c->cmd->group);
        else
            help_command(c->out, c->cmd);
        return DP_CTL_OK;
    }
    char words[64];
    command_words(c->cmd, words, sizeof words);
    if ((int)c->nargs < c->cmd->min_args ||
        (c->cmd->max_args >= 0 && (int)c->nargs > c->cmd->max_args)) {
        if (!c->cmd->name && c->nargs > 0)
            return dp_ctl_fail(c, DP_CTL_USAGE, "no command %s %s (see `edgectl %s --help`)", words,
                               c->args[0], words);
        return dp_ctl_fail(c, DP_CTL_USAGE, "usage: edgectl %s %s", words, c->cmd->args);
    }
    return -1;
}

int dp_ctl_main(int argc, char **argv, FILE *out, FILE *errs)
{
    struct dp_ctl c = {.out = out, .errs = errs};
    int rc = parse(&c, argc, argv);
    if (rc < 0) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            rc = dp_ctl_fail(&c, DP_CTL_UNREACHABLE, "cannot start libcurl");
        } else {
            rc = c.cmd->run(&c);
            dp_ctl_http_dispose(&c.http);
            curl_global_cleanup();
        }
    }
    free(c.args);
    free(c.opts);
    if (c.token_owned) {
        memset(c.token_owned, 0, strlen(c.token_owned));
        free(c.token_owned);
    }
    free(c.whoami);
    fflush(out);
    return rc;
}
