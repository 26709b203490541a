/*
 * Command-line flags: a table of typed, bounded entries with their defaults, parsed with
 * getopt_long. Anything out of range is a one-line error naming the flag (exit 2).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/edge_int.h"

#define DEFAULT_SOURCE_DIR EDGED_SOURCE_DIR

enum {
    OPT_LISTEN = 1000,
    OPT_ADMIN_LISTEN,
    OPT_THREADS,
    OPT_TENANTS,
    OPT_WORKER,
    OPT_DATA,
    OPT_CPU_MS,
    OPT_HEAP_MB,
    OPT_WALL_MS,
    OPT_MAX_HEADER,
    OPT_MAX_BODY,
    OPT_HEADER_TIMEOUT,
    OPT_BODY_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_DRAIN_TIMEOUT,
    OPT_ACCESS_LOG,
    OPT_PORT_FILE,
    OPT_LOG_LEVEL,
    OPT_ALLOW_EVAL,
    OPT_STORAGE_FSYNC,
    OPT_OUTBOUND_ALLOW,
    OPT_OUTBOUND_DENY,
    OPT_OUTBOUND_CA,
    OPT_OUTBOUND_CONNECT_TIMEOUT,
    OPT_OUTBOUND_TIMEOUT,
    OPT_OBJECT_IDLE,
    OPT_OBJECT_MAX_OPEN,
    OPT_HELP,
    OPT_VERSION,
};

/* Numeric flags: where each lands in the config and the range it must fall in. */
struct num_flag {
    int opt;
    const char *name;
    size_t offset;
    int size; /* 4 or 8 bytes */
    uint64_t min, max;
};

#define NUM(o, n, field, lo, hi)                                                                  \
    {                                                                                             \
        o, n, offsetof(struct edge_config, field), (int)sizeof(((struct edge_config *)0)->field), \
            lo, hi                                                                                \
    }

static const struct num_flag num_flags[] = {
    NUM(OPT_THREADS, "threads", threads, 1, 256),
    NUM(OPT_CPU_MS, "cpu-ms", cpu_ms, 1, 600000),
    NUM(OPT_HEAP_MB, "heap-mb", heap_mb, 8, 65536),
    NUM(OPT_WALL_MS, "wall-ms", wall_ms, 1, 3600000),
    NUM(OPT_MAX_HEADER, "max-header-bytes", max_header_bytes, 256, 1 << 24),
    NUM(OPT_MAX_BODY, "max-body-bytes", max_body_bytes, 0, 1ull << 34),
    NUM(OPT_HEADER_TIMEOUT, "header-timeout-ms", header_timeout_ms, 1, 3600000),
    NUM(OPT_BODY_TIMEOUT, "body-timeout-ms", body_timeout_ms, 1, 3600000),
    NUM(OPT_IDLE_TIMEOUT, "idle-timeout-ms", idle_timeout_ms, 1, 86400000),
    NUM(OPT_DRAIN_TIMEOUT, "drain-timeout-ms", drain_timeout_ms, 0, 3600000),
    NUM(OPT_OUTBOUND_CONNECT_TIMEOUT, "outbound-connect-timeout-ms", outbound_connect_timeout_ms, 1,
        600000),
    NUM(OPT_OUTBOUND_TIMEOUT, "outbound-timeout-ms", outbound_timeout_ms, 1, 3600000),
    NUM(OPT_OBJECT_IDLE, "object-idle-ms", object_idle_ms, 1, 86400000),
    NUM(OPT_OBJECT_MAX_OPEN, "object-max-open", object_max_open, 1, 1000000),
};

static const struct option long_opts[] = {
    {"listen", required_argument, 0, OPT_LISTEN},
    {"admin-listen", required_argument, 0, OPT_ADMIN_LISTEN},
    {"threads", required_argument, 0, OPT_THREADS},
    {"tenants", required_argument, 0, OPT_TENANTS},
    {"worker", required_argument, 0, OPT_WORKER},
    {"data", required_argument, 0, OPT_DATA},
    {"cpu-ms", required_argument, 0, OPT_CPU_MS},
    {"heap-mb", required_argument, 0, OPT_HEAP_MB},
    {"wall-ms", required_argument, 0, OPT_WALL_MS},
    {"max-header-bytes", required_argument, 0, OPT_MAX_HEADER},
    {"max-body-bytes", required_argument, 0, OPT_MAX_BODY},
    {"header-timeout-ms", required_argument, 0, OPT_HEADER_TIMEOUT},
    {"body-timeout-ms", required_argument, 0, OPT_BODY_TIMEOUT},
    {"idle-timeout-ms", required_argument, 0, OPT_IDLE_TIMEOUT},
    {"drain-timeout-ms", required_argument, 0, OPT_DRAIN_TIMEOUT},
    {"access-log", required_argument, 0, OPT_ACCESS_LOG},
    {"port-file", required_argument, 0, OPT_PORT_FILE},
    {"log-level", required_argument, 0, OPT_LOG_LEVEL},
    {"allow-eval-at-startup", no_argument, 0, OPT_ALLOW_EVAL},
    {"storage-fsync", no_argument, 0, OPT_STORAGE_FSYNC},
    {"outbound-allow", required_argument, 0, OPT_OUTBOUND_ALLOW},
    {"outbound-deny", required_argument, 0, OPT_OUTBOUND_DENY},
    {"outbound-ca", required_argument, 0, OPT_OUTBOUND_CA},
    {"outbound-connect-timeout-ms", required_argument, 0, OPT_OUTBOUND_CONNECT_TIMEOUT},
    {"outbound-timeout-ms", required_argument, 0, OPT_OUTBOUND_TIMEOUT},
    {"object-idle-ms", required_argument, 0, OPT_OBJECT_IDLE},
    {"object-max-open", required_argument, 0, OPT_OBJECT_MAX_OPEN},
    {"help", no_argument, 0, OPT_HELP},
    {"version", no_argument, 0, OPT_VERSION},
    {0, 0, 0, 0},
};

void edge__usage(FILE *out)
{
    fputs(
        "Usage: edged [options]\n"
        "       edged test [options] PATH...   run JavaScript tests (see edged test --help)\n"
        "Serve tenants' JavaScript workers over HTTP/1.1.\n\n"
        "  --listen ADDR:PORT        address to listen on (default 127.0.0.1:8080; port 0 picks one)\n"
        "  --admin-listen ADDR:PORT  the admin API (tenants, tokens, deploys, routes, usage: /v1/...);\n"
        "                            off unless given; the operator's token is in DATA/operator.token\n"
        "  --threads N               shard threads, each with its own loop and isolates (default: cores)\n"
        "  --tenants DIR             tenants directory: DIR/<tenant>/tenant.conf and <worker>.js\n"
        "                            (default: examples/tenants in the checkout, unless --worker is given)\n"
        "  --worker HOST[/PATH]=FILE serve the ES module FILE for HOST (exact, *.suffix or *) and path\n"
        "                            prefix; the tenant is named after HOST (repeatable)\n"
        "  --data DIR                data directory (default: data/ in the checkout); tenant logs go to\n"
        "                            DIR/tenants/<tenant>/logs/worker.log\n"
        "  --cpu-ms N                CPU time a request may use, per tenant unless tenant.conf sets cpu_ms (50)\n"
        "  --heap-mb N               heap of one isolate, unless tenant.conf sets heap_mb (128)\n"
        "  --wall-ms N               wall time a request's JavaScript may run (30000)\n"
        "  --max-header-bytes N      request line and headers; larger gets 431 (16384)\n"
        "  --max-body-bytes N        request body; larger gets 413 (16777216)\n"
        "  --header-timeout-ms N     time from a request's first byte to its last header; then 408 (10000)\n"
        "  --body-timeout-ms N       time to receive a request body; then 408 (30000)\n"
        "  --idle-timeout-ms N       an idle keep-alive connection is closed after N ms (60000)\n"
        "  --drain-timeout-ms N      on SIGTERM, how long in-flight requests may finish (10000)\n"
        "  --access-log FILE         one line per request; - is stderr (default -)\n"
        "  --port-file FILE          write the bound port to FILE once listening (for tests, port 0);\n"
        "                            the admin port, if any, on its second line\n"
        "  --log-level LEVEL         error, warn, info or debug (info)\n"
        "  --allow-eval-at-startup   let parent workers use eval()/new Function() while their modules'\n"
        "                            top level runs (never at request time, never in child workers)\n"
        "  --outbound-deny CIDR      workers' fetch() may not connect to these addresses (repeatable);\n"
        "                            loopback, private, link-local (cloud metadata), multicast and\n"
        "                            reserved ranges and the node's own ports are denied already\n"
        "  --outbound-allow CIDR     punch a hole in the deny rules (repeatable; the longest prefix wins)\n"
        "  --outbound-ca FILE        trust these PEM certificates for https: instead of the system's\n"
        "                            (" EDGE_SYSTEM_CA ")\n"
        "  --outbound-connect-timeout-ms N  DNS, connect and TLS handshake of a fetch() (10000)\n"
        "  --outbound-timeout-ms N   a fetch() fails when the server sends nothing for N ms (60000)\n"
        "  --object-idle-ms N        a durable object unused for N ms leaves memory (30000)\n"
        "  --object-max-open N       durable object databases open per shard (256)\n"
        "  --storage-fsync           each durable object commit waits for an fsync (survives a\n"
        "                            power loss; default: survives a killed process)\n"
        "  --help                    print this help and exit\n"
        "  --version                 print the version and exit\n",
        out);
}

static int parse_listen(const char *flag, char **host_out, int *port_out, const char *arg,
                        struct ed_error *err)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return ed_error_set(err, ED_EINVAL, "%s %s: expected ADDR:PORT", flag, arg);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port < 0 || port > 65535)
        return ed_error_set(err, ED_EINVAL, "%s %s: bad port", flag, arg);
    const char *host = arg;
    size_t hlen = (size_t)(colon - arg);
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    free(*host_out);
    *host_out = strndup(host, hlen);
    *port_out = (int)port;
    return *host_out ? 0 : ED_ENOMEM;
}

static int parse_num(struct edge_config *cfg, const struct num_flag *f, const char *arg,
                     struct ed_error *err)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || *end || !*arg || arg[0] == '-' || v < f->min || v > f->max)
        return ed_error_set(err, ED_EINVAL, "--%s %s: expected a whole number from %llu to %llu",
                            f->name, arg, (unsigned long long)f->min, (unsigned long long)f->max);
    char *p = (char *)cfg + f->offset;
    if (f->size == 8)
        *(uint64_t *)p = v;
    else
        *(uint32_t *)p = (uint32_t)v;
    return 0;
}

static int add_worker_flag(struct edge_config *cfg, const char *arg, struct ed_error *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return ed_error_set(err, ED_EINVAL, "--worker %s: expected HOST[/PATH]=FILE", arg);
    struct edge_worker_flag *p = realloc(cfg->worker_flags, (cfg->n_worker_flags + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    cfg->worker_flags = p;
    p[cfg->n_worker_flags].route = strndup(arg, (size_t)(eq - arg));
    p[cfg->n_worker_flags].file = strdup(eq + 1);
    cfg->n_worker_flags++;
    return 0;
}

/* Checks one --outbound-allow/--outbound-deny rule and keeps it. */
static int add_rule_flag(char ***list, size_t *n, const char *flag, const char *arg,
                         struct ed_error *err)
{
    struct edge_netlist check = {0};
    int rc = edge__netlist_add(&check, arg, false, err);
    edge__netlist_dispose(&check);
    if (rc == ED_EINVAL)
        return ed_error_set(err, rc, "%s %s: expected ADDRESS[/PREFIX] (IPv4 or IPv6)", flag, arg);
    if (rc)
        return rc;
    char **p = realloc(*list, (*n + 1) * sizeof *p);
    if (!p)
        return ED_ENOMEM;
    *list = p;
    if (!(p[*n] = strdup(arg)))
        return ED_ENOMEM;
    (*n)++;
    return 0;
}

static int set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : ED_ENOMEM;
}

static void set_defaults(struct edge_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cores > 0 ? (int)(cores > 256 ? 256 : cores) : 1;
    cfg->listen_port = 8080;
    cfg->cpu_ms = 50;
    cfg->heap_mb = 128;
    cfg->wall_ms = 30000;
    cfg->max_header_bytes = 16384;
    cfg->max_body_bytes = 16u << 20;
    cfg->header_timeout_ms = 10000;
    cfg->body_timeout_ms = 30000;
    cfg->idle_timeout_ms = 60000;
    cfg->drain_timeout_ms = 10000;
    cfg->outbound_connect_timeout_ms = 10000;
    cfg->outbound_timeout_ms = 60000;
    cfg->object_idle_ms = 30000;
    cfg->log_level = ED_LOG_INFO;
}

int edge__config_parse(struct edge_config *cfg, int argc, char **argv, struct ed_error *err)
{
    set_defaults(cfg);
    int rc = 0, opt;
    bool tenants_given = false;
    opterr = 0;
    optind = 1;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (opt) {
        case OPT_LISTEN:
            rc = parse_listen("--listen", &cfg->listen_host, &cfg->listen_port, optarg, err);
            break;
        case OPT_ADMIN_LISTEN:
            rc = parse_listen("--admin-listen", &cfg->admin_host, &cfg->admin_port, optarg, err);
            break;
        case OPT_TENANTS:
            rc = set_str(&cfg->tenants_dir, optarg);
            tenants_given = true;
            break;
        case OPT_WORKER:
            rc = add_worker_flag(cfg, optarg, err);
            break;
        case OPT_DATA:
            rc = set_str(&cfg->data_dir, optarg);
            break;
        case OPT_ACCESS_LOG:
            rc = set_str(&cfg->access_log, optarg);
            break;
        case OPT_PORT_FILE:
            rc = set_str(&cfg->port_file, optarg);
            break;
        case OPT_LOG_LEVEL:
            cfg->log_level = ed_log_level_parse(optarg);
            if (cfg->log_level < 0)
                rc = ed_error_set(err, ED_EINVAL,
                                  "--log-level %s: expected error, warn, info or debug", optarg);
            break;
        case OPT_STORAGE_FSYNC:
            cfg->storage_fsync = true;
            break;
        case OPT_ALLOW_EVAL:
            cfg->allow_eval_at_startup = true;
            break;
        case OPT_OUTBOUND_ALLOW:
            rc = add_rule_flag(&cfg->outbound_allow, &cfg->n_outbound_allow, "--outbound-allow",
                               optarg, err);
            break;
        case OPT_OUTBOUND_DENY:
            rc = add_rule_flag(&cfg->outbound_deny, &cfg->n_outbound_deny, "--outbound-deny",
                               optarg, err);
            break;
        case OPT_OUTBOUND_CA:
            rc = set_str(&cfg->outbound_ca, optarg);
            break;
        case OPT_HELP:
            edge__usage(stdout);
            return EDGE_CONFIG_EXIT_OK;
        case OPT_VERSION:
            printf("edged %s (V8 %s)\n", EDGED_VERSION, iso_v8_version());
            return EDGE_CONFIG_EXIT_OK;
        case '?':
            if (optopt)
                rc = ed_error_set(err, ED_EINVAL, "option %s needs a value (see --help)",
                                  argv[optind - 1]);
            else
                rc = ed_error_set(err, ED_EINVAL, "unknown option %s (see --help)",
                                  argv[optind - 1]);
            break;
        default:
            for (size_t i = 0; i < sizeof num_flags / sizeof *num_flags; i++)
                if (num_flags[i].opt == opt)
                    rc = parse_num(cfg, &num_flags[i], optarg, err);
            break;
        }
    }
    if (rc == 0 && optind < argc)
        rc = ed_error_set(err, ED_EINVAL, "unexpected argument %s (see --help)", argv[optind]);
    if (rc == 0 && !tenants_given && cfg->n_worker_flags == 0)
        rc = set_str(&cfg->tenants_dir, DEFAULT_SOURCE_DIR "/examples/tenants");
    if (rc == 0 && !cfg->data_dir)
        rc = set_str(&cfg->data_dir, DEFAULT_SOURCE_DIR "/data");
    if (rc == 0 && !cfg->access_log)
        rc = set_str(&cfg->access_log, "-");
    if (rc == 0 && !cfg->listen_host)
        rc = set_str(&cfg->listen_host, "127.0.0.1");
    if (rc == ED_ENOMEM)
        ed_error_set(err, rc, "out of memory");
    return rc;
}

void edge__config_dispose(struct edge_config *cfg)
{
    for (size_t i = 0; i < cfg->n_worker_flags; i++) {
        free(cfg->worker_flags[i].route);
        free(cfg->worker_flags[i].file);
    }
    free(cfg->worker_flags);
    for (size_t i = 0; i < cfg->n_outbound_allow; i++)
        free(cfg->outbound_allow[i]);
    for (size_t i = 0; i < cfg->n_outbound_deny; i++)
        free(cfg->outbound_deny[i]);
    free(cfg->outbound_allow);
    free(cfg->outbound_deny);
    free(cfg->outbound_ca);
    free(cfg->listen_host);
    free(cfg->admin_host);
    free(cfg->tenants_dir);
    free(cfg->data_dir);
    free(cfg->access_log);
    free(cfg->port_file);
    memset(cfg, 0, sizeof *cfg);
}
