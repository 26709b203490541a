# bench/lib.sh: shell helpers shared by the bench scripts (hello.sh, loader.sh, storage.sh...), sourced,
# never run. Building edged, starting (edged, workerd) and stopping one server at a time (its pid in
# SERVER_PID, its address in BASE), waiting for it on loopback, one bounded wrk run parsed into
# numbers, RSS from /proc, and the workerd binary from npm (installed into bench/node_modules on
# first use). Every wait is bounded in time and every address is 127.0.0.1. The sourcing script
# sets `set -euo pipefail`, ROOT and BUILD_DIR.
# shellcheck shell=bash disable=SC2034 # WRK_*, BASE and WORKERD are read by the sourcing script

SERVER_PID=""
BASE="" # http://127.0.0.1:PORT of the server the bench_start_* functions started

# bench_build_edged SCRIPT: builds the edged target with scripts/setup.sh into BUILD_DIR.
bench_build_edged() {
    EDGED_BUILD_DIR=$BUILD_DIR "$ROOT/scripts/setup.sh" edged >/dev/null ||
        { echo "$1: build failed; run scripts/setup.sh edged to see why" >&2; return 1; }
}

# bench_need_tools SCRIPT TOOL...: exits 1 with a message naming the first TOOL not on PATH.
bench_need_tools() {
    local script=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null ||
            { echo "$script: $tool is not installed (scripts/setup.sh)" >&2; exit 1; }
    done
}

# bench_stop_server [GRACE_S]: SIGTERM to SERVER_PID, SIGKILL after GRACE_S seconds (default 10,
# edged's drain timeout); says so when the server had to be killed or exited non-zero.
bench_stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    local grace=${1:-10}
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq $((grace * 10))); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "  (server ignored SIGTERM for $grace s; killed)"
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    local rc=0
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    [ "$rc" -eq 0 ] || echo "  (server exited with status $rc after SIGTERM)"
    SERVER_PID=""
}

bench_rss_mb() { # bench_rss_mb PID FIELD -> megabytes from /proc/PID/status
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"
}

bench_rss_kb() { # bench_rss_kb PID -> VmRSS in kB (empty if the process is gone)
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

bench_to_ms() { # wrk latency ("31.00us", "1.20ms", "2.00s") -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# bench_wait_port FILE PID -> prints the port once the server wrote it (bounded: 15 s)
bench_wait_port() {
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

# bench_wait_http URL -> 0 once the server answers 200 (bounded: 15 s)
bench_wait_http() {
    for _ in $(seq 150); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# bench_free_port -> a loopback port nothing answers on (for servers that cannot pick port 0)
bench_free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# bench_wrk THREADS CONNS DURATION_S URL [WRK_ARGS...]: one wrk --latency run, bounded in time
# (WRK_ARGS, e.g. `-s post.lua`, go to wrk before the URL). Sets WRK_OUT (wrk's output), WRK_RPS,
# WRK_P50 and WRK_P99 (ms), WRK_REQUESTS (answers wrk read, any status), WRK_NON2XX (a count),
# WRK_ERRORS (wrk's socket-error line, or "none"), WRK_SOCKERR (the sum of the socket errors) and
# WRK_FAILED (non-2xx + socket errors). Returns 1 when wrk failed (WRK_OUT says why).
bench_wrk() {
    local t=$1 c=$2 d=$3 url=$4
    shift 4
    WRK_OUT=$(timeout $((d + 20)) wrk -t"$t" -c"$c" -d"${d}s" --timeout 2s --latency "$@" "$url" 2>&1) ||
        return 1
    WRK_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$WRK_OUT")
    WRK_P50=$(bench_to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$WRK_OUT")")
    WRK_P99=$(bench_to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$WRK_OUT")")
    WRK_REQUESTS=$(awk '$2 == "requests" && $3 == "in" { print $1 }' <<<"$WRK_OUT")
    WRK_REQUESTS=${WRK_REQUESTS:-0}
    WRK_NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$WRK_OUT")
    WRK_NON2XX=${WRK_NON2XX:-0}
    WRK_ERRORS=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' <<<"$WRK_OUT")
    WRK_ERRORS=${WRK_ERRORS:-none}
    # "connect 0, read 3, write 0, timeout 12" -> 15
    WRK_SOCKERR=$(awk -v e="$WRK_ERRORS" 'BEGIN {
        s = 0
        while (match(e, /[0-9]+/)) {
            s += substr(e, RSTART, RLENGTH)
            e = substr(e, RSTART + RLENGTH)
        }
        print s }')
    WRK_FAILED=$((WRK_NON2XX + WRK_SOCKERR))
}

# bench_start_edged BIN DIR READY_PATH [EDGED_ARGS...]: starts BIN (an edged) on an ephemeral
# 127.0.0.1 port serving DIR/tenants with its data in DIR/data, its output in DIR/edged.log and
# its access log in DIR/access.log. Sets SERVER_PID, and BASE once READY_PATH answers 200.
# Returns 1 (the server stopped again) when that does not happen within 15 s.
bench_start_edged() {
    local bin=$1 dir=$2 ready=$3 port
    shift 3
    mkdir -p "$dir/data"
    rm -f "$dir/port"
    "$bin" --listen 127.0.0.1:0 --port-file "$dir/port" --tenants "$dir/tenants" \
        --data "$dir/data" --access-log "$dir/access.log" "$@" >"$dir/edged.log" 2>&1 &
    SERVER_PID=$!
    if port=$(bench_wait_port "$dir/port" "$SERVER_PID") &&
        bench_wait_http "http://127.0.0.1:$port$ready"; then
        BASE=http://127.0.0.1:$port
        return 0
    fi
    bench_stop_server 3 >/dev/null
    return 1
}

# bench_start_workerd CONFIG LOG READY_PATH [WORKERD_ARGS...]: starts WORKERD (bench_workerd)
# serving CONFIG, whose socket named "http" it moves to a free 127.0.0.1 port, output in LOG.
# Sets SERVER_PID, and BASE once READY_PATH answers 200; returns 1 (stopped again) otherwise.
bench_start_workerd() {
    local config=$1 log=$2 ready=$3 port
    shift 3
    port=$(bench_free_port) || return 1
    "$WORKERD" serve "$@" "$config" --socket-addr "http=127.0.0.1:$port" >"$log" 2>&1 &
    SERVER_PID=$!
    if bench_wait_http "http://127.0.0.1:$port$ready"; then
        BASE=http://127.0.0.1:$port
        return 0
    fi
    bench_stop_server 3 >/dev/null
    return 1
}

# bench_sync_ms DIR -> milliseconds per synced 4 KiB write (dd oflag=dsync, 100 of them) to a file
# in DIR, "?" if dd failed or took over 20 s: how long an fsync of a small commit takes right now.
bench_sync_ms() {
    local out
    out=$(timeout 20 dd if=/dev/zero of="$1/.bench-sync" bs=4k count=100 oflag=dsync 2>&1) || out=""
    rm -f "$1/.bench-sync"
    awk '/ copied, / { for (i = 1; i <= NF; i++) if ($i == "copied,") { s = $(i + 1); break } }
        END { if (s == "") print "?"; else printf "%.2f\n", s * 1000 / 100 }' <<<"$out"
}

# bench_workerd SCRIPT: sets WORKERD to Cloudflare's workerd binary, installing the npm package
# `workerd` into bench/node_modules (gitignored) on first use.
bench_workerd() {
    WORKERD=$ROOT/bench/node_modules/@cloudflare/workerd-linux-64/bin/workerd
    [ -x "$WORKERD" ] && return 0
    command -v npm >/dev/null || { echo "$1: workerd needs npm" >&2; return 1; }
    echo "# installing workerd from npm into bench/node_modules"
    (cd "$ROOT/bench" && npm install --no-save --no-package-lock --no-audit --no-fund \
        --loglevel=error workerd >/dev/null) ||
        { echo "$1: npm install workerd failed" >&2; return 1; }
}
