#!/usr/bin/env bash
# bench/hello.sh [--workerd] [--duration S]: hello-world figures for edged (a bench, not a test).
# Builds edged (scripts/setup.sh), starts it on an ephemeral loopback port with bench/hello.js as
# its only worker, and runs wrk against 127.0.0.1 only: 1 connection (-t1 -c1) and 64 connections
# (-t2 -c64), each for 5 s with --latency, after a 1 s warm-up. Prints requests/s, p50 and p99
# for each, the server's RSS idle and after the load, and its peak RSS (VmHWM), then stops it with
# SIGTERM. With --workerd it does the same for Cloudflare's workerd (npm package `workerd`,
# installed into bench/node_modules on first use) with the same worker, side by side.
# Environment: EDGED_THREADS (default: edged's default, the number of cores).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${EDGED_BUILD_DIR:-$ROOT/build}
DURATION=5
WITH_WORKERD=0
while [ "$#" -gt 0 ]; do
    case $1 in
    --workerd) WITH_WORKERD=1 ;;
    --duration) DURATION=$2; shift ;;
    -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hello.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

command -v wrk >/dev/null || { echo "hello.sh: wrk is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
bench_build_edged hello.sh || exit 1

TMP=$(mktemp -d /tmp/edged-bench.XXXXXX)
trap 'bench_stop_server; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# load NAME URL THREADS CONNS: one wrk run, one table row.
load() {
    bench_wrk "$3" "$4" "$DURATION" "$2" || { echo "$1: wrk failed:"; echo "$WRK_OUT"; return 1; }
    printf '%-8s %5s %10s %10s %10s %8s %s\n' "$1" "$4" "$WRK_RPS" "$WRK_P50" "$WRK_P99" \
        "$WRK_NON2XX" "$WRK_ERRORS"
}

# measure NAME PID URL: warm-up, the two runs, the RSS figures.
measure() {
    local idle
    idle=$(bench_rss_mb "$2" VmRSS)
    printf '%-8s %5s %10s %10s %10s %8s %s\n' server conns "req/s" "p50 ms" "p99 ms" non-2xx errors
    timeout 10 wrk -t1 -c4 -d1s "$3" >/dev/null 2>&1 || true # warm-up: isolates on every shard
    load "$1" "$3" 1 1
    load "$1" "$3" 2 64
    printf '%-8s RSS: idle %s MB, after load %s MB, peak %s MB\n' "$1" "$idle" \
        "$(bench_rss_mb "$2" VmRSS)" "$(bench_rss_mb "$2" VmHWM)"
}

# ---- edged ----------------------------------------------------------------------------------
mkdir -p "$TMP/tenants/bench" "$TMP/data"
cp "$ROOT/bench/hello.js" "$TMP/tenants/bench/hello.js"
printf 'route = * hello\n' >"$TMP/tenants/bench/tenant.conf"
threads=()
[ -n "${EDGED_THREADS:-}" ] && threads=(--threads "$EDGED_THREADS")
"$BUILD_DIR/edged" --listen 127.0.0.1:0 --port-file "$TMP/edged.port" "${threads[@]}" \
    --tenants "$TMP/tenants" --data "$TMP/data" --access-log "$TMP/access.log" \
    >"$TMP/edged.log" 2>&1 &
SERVER_PID=$!
if ! port=$(bench_wait_port "$TMP/edged.port" "$SERVER_PID") || ! bench_wait_http "http://127.0.0.1:$port/"; then
    echo "hello.sh: edged did not start; its log:" >&2
    tail -n 20 "$TMP/edged.log" >&2
    exit 1
fi
echo "# $("$BUILD_DIR/edged" --version 2>/dev/null | head -n1), ${EDGED_THREADS:-$(nproc)} threads" \
    "(cores: $(nproc)); wrk on 127.0.0.1, ${DURATION} s per run"
measure edged "$SERVER_PID" "http://127.0.0.1:$port/"
bench_stop_server 10

# ---- workerd (optional) -------------------------------------------------------------------------
if [ "$WITH_WORKERD" -eq 1 ]; then
    bench_workerd hello.sh || exit 1
    cp "$ROOT/bench/hello.js" "$TMP/hello.js"
    cat >"$TMP/config.capnp" <<'EOF'
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .hello) ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (), service = "main") ],
);
const hello :Workerd.Worker = (
  modules = [ (name = "hello.js", esModule = embed "hello.js") ],
  compatibilityDate = "2024-09-23",
);
EOF
    wport=$(bench_free_port) || { echo "hello.sh: no free port for workerd" >&2; exit 1; }
    "$WORKERD" serve "$TMP/config.capnp" --socket-addr "http=127.0.0.1:$wport" >"$TMP/workerd.log" 2>&1 &
    SERVER_PID=$!
    if ! bench_wait_http "http://127.0.0.1:$wport/"; then
        echo "hello.sh: workerd did not start; its log:" >&2
        tail -n 20 "$TMP/workerd.log" >&2
        exit 1
    fi
    echo "# $("$WORKERD" --version 2>/dev/null | head -n1)"
    measure workerd "$SERVER_PID" "http://127.0.0.1:$wport/"
    bench_stop_server 10
fi
