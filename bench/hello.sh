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
EDGED_BUILD_DIR=$BUILD_DIR "$ROOT/scripts/setup.sh" edged >/dev/null ||
    { echo "hello.sh: build failed; run scripts/setup.sh edged to see why" >&2; exit 1; }

TMP=$(mktemp -d /tmp/edged-bench.XXXXXX)
SERVER_PID=""
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do # up to 10 s for the drain
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "  (server ignored SIGTERM for 10 s; killed)"
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    local rc=0
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    [ "$rc" -eq 0 ] || echo "  (server exited with status $rc after SIGTERM)"
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

rss_mb() { # rss_mb PID FIELD -> megabytes from /proc/PID/status
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"
}

to_ms() { # wrk latency ("31.00us", "1.20ms", "2.00s") -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# wait_port FILE PID -> prints the port once the server wrote it (bounded: 15 s)
wait_port() {
    for _ in $(seq 150); do
        if [ -s "$1" ] && grep -qE '^[0-9]+$' "$1"; then
            cat "$1"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_http URL -> 0 once the server answers 200 (bounded: 15 s)
wait_http() {
    for _ in $(seq 150); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# load NAME URL THREADS CONNS: one wrk run, one table row.
load() {
    local out rps p50 p99 non2xx errors
    out=$(timeout $((DURATION + 20)) wrk -t"$3" -c"$4" -d"${DURATION}s" --timeout 2s --latency "$2" 2>&1) || {
        echo "$1: wrk failed:"; echo "$out"; return 1; }
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
    errors=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' <<<"$out")
    printf '%-8s %5s %10s %10s %10s %8s %s\n' "$1" "$4" "$rps" "$p50" "$p99" "${non2xx:-0}" "${errors:-none}"
}

# measure NAME PID URL: warm-up, the two runs, the RSS figures.
measure() {
    local idle
    idle=$(rss_mb "$2" VmRSS)
    printf '%-8s %5s %10s %10s %10s %8s %s\n' server conns "req/s" "p50 ms" "p99 ms" non-2xx errors
    timeout 10 wrk -t1 -c4 -d1s "$3" >/dev/null 2>&1 || true # warm-up: isolates on every shard
    load "$1" "$3" 1 1
    load "$1" "$3" 2 64
    printf '%-8s RSS: idle %s MB, after load %s MB, peak %s MB\n' "$1" "$idle" \
        "$(rss_mb "$2" VmRSS)" "$(rss_mb "$2" VmHWM)"
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
if ! port=$(wait_port "$TMP/edged.port" "$SERVER_PID") || ! wait_http "http://127.0.0.1:$port/"; then
    echo "hello.sh: edged did not start; its log:" >&2
    tail -n 20 "$TMP/edged.log" >&2
    exit 1
fi
echo "# $("$BUILD_DIR/edged" --version 2>/dev/null | head -n1), ${EDGED_THREADS:-$(nproc)} threads" \
    "(cores: $(nproc)); wrk on 127.0.0.1, ${DURATION} s per run"
measure edged "$SERVER_PID" "http://127.0.0.1:$port/"
stop_server

# ---- workerd (optional) -------------------------------------------------------------------------
if [ "$WITH_WORKERD" -eq 1 ]; then
    WORKERD=$ROOT/bench/node_modules/@cloudflare/workerd-linux-64/bin/workerd
    if [ ! -x "$WORKERD" ]; then
        command -v npm >/dev/null || { echo "hello.sh: --workerd needs npm" >&2; exit 1; }
        echo "# installing workerd from npm into bench/node_modules"
        (cd "$ROOT/bench" && npm install --no-save --no-package-lock --no-audit --no-fund \
            --loglevel=error workerd >/dev/null) || { echo "hello.sh: npm install workerd failed" >&2; exit 1; }
    fi
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
    # A free loopback port: nothing answers on it.
    wport=""
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then wport=$p; break; fi
    done
    [ -n "$wport" ] || { echo "hello.sh: no free port for workerd" >&2; exit 1; }
    "$WORKERD" serve "$TMP/config.capnp" --socket-addr "http=127.0.0.1:$wport" >"$TMP/workerd.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_http "http://127.0.0.1:$wport/"; then
        echo "hello.sh: workerd did not start; its log:" >&2
        tail -n 20 "$TMP/workerd.log" >&2
        exit 1
    fi
    echo "# $("$WORKERD" --version 2>/dev/null | head -n1)"
    measure workerd "$SERVER_PID" "http://127.0.0.1:$wport/"
    stop_server
fi
