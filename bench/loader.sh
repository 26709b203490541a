#!/usr/bin/env bash
# bench/loader.sh [--duration S] [--only edged|workerd]: Worker Loader (dynamic worker) figures for
# edged and Cloudflare's workerd side by side (a bench, not a test). Both serve bench/loader.js, a
# parent whose env.LOADER makes a child per request; wrk drives plain GETs on 127.0.0.1 only,
# S seconds per run (default 5) with --latency, 1 connection (-t1) and 64 (-t2). Rows: the parent
# alone, a never-seen child per request (unique id and code), the same child every request, an
# id-less load() child per request; the time from get() to the child's response; RSS per live idle
# child at N = 100 and 1,000 (--threads 1); and, for edged, RSS after 3,000 ids under
# max_children = 1000. workerd comes from npm (bench/node_modules, installed on first use).
# Environment: EDGED_THREADS (throughput rows; default edged's: one per core), EDGED_BUILD_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${EDGED_BUILD_DIR:-$ROOT/build}
DURATION=5
ONLY=""
while [ "$#" -gt 0 ]; do
    case $1 in
    --duration) DURATION=$2; shift ;;
    --only) ONLY=$2; shift ;;
    -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "loader.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
case $ONLY in
"" | edged | workerd) ;;
*) echo "loader.sh: --only edged or workerd" >&2; exit 2 ;;
esac
SERVERS=()
[ "$ONLY" = workerd ] || SERVERS+=(edged)
[ "$ONLY" = edged ] || SERVERS+=(workerd)

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
bench_need_tools loader.sh wrk curl
if [ "$ONLY" != workerd ]; then bench_build_edged loader.sh || exit 1; fi
if [ "$ONLY" != edged ]; then bench_workerd loader.sh || exit 1; fi

TMP=$(mktemp -d /tmp/edged-bench.XXXXXX)
trap 'bench_stop_server 3 >/dev/null; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

declare -A R # results: R[server.figure] = value
# What went wrong, printed under the table (a file: notes also come from subshells).
note() { echo "$*" >>"$TMP/notes"; echo "loader.sh: $*" >&2; }
say() { echo "loader.sh: $*" >&2; }

BASE=""   # http://127.0.0.1:PORT of the running server
RUNS=0    # servers started (names their logs)
LOG=""    # the running server's log
ACCESS="" # edged's access log

# start_edged THREADS MAX_CHILDREN: edged on an ephemeral port with bench/loader.js as the bench
# tenant's only worker (THREADS empty: edged's default; MAX_CHILDREN empty: the loader's).
start_edged() {
    local dir=$TMP/e$RUNS threads=()
    RUNS=$((RUNS + 1))
    mkdir -p "$dir/tenants/bench" "$dir/data"
    cp "$ROOT/bench/loader.js" "$dir/tenants/bench/loader.js"
    cat >"$dir/tenants/bench/loader.metadata.json" <<'EOF'
{"main_module": "loader.js", "compatibility_date": "2026-11-01",
 "bindings": [{"type": "worker_loader", "name": "LOADER"}]}
EOF
    {
        echo "route = * loader"
        echo "cpu_ms = 1000"
        if [ -n "$2" ]; then
            echo "max_children = $2"
            echo "max_children_heap_mb = 4096"
        fi
    } >"$dir/tenants/bench/tenant.conf"
    [ -n "$1" ] && threads=(--threads "$1")
    LOG=$dir/edged.log
    ACCESS=$dir/access.log
    "$BUILD_DIR/edged" --listen 127.0.0.1:0 --port-file "$dir/port" "${threads[@]}" \
        --tenants "$dir/tenants" --data "$dir/data" --access-log "$ACCESS" >"$LOG" 2>&1 &
    SERVER_PID=$!
    local port
    if ! port=$(bench_wait_port "$dir/port" "$SERVER_PID") ||
        ! bench_wait_http "http://127.0.0.1:$port/hello"; then
        note "edged did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
        bench_stop_server 3 >/dev/null
        return 1
    fi
    BASE=http://127.0.0.1:$port
}

# start_workerd: workerd serving the same parent with a workerLoader binding.
start_workerd() {
    local dir=$TMP/w$RUNS port
    RUNS=$((RUNS + 1))
    mkdir -p "$dir"
    cp "$ROOT/bench/loader.js" "$dir/loader.js"
    cat >"$dir/config.capnp" <<'EOF'
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .parent) ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (), service = "main") ],
);
const parent :Workerd.Worker = (
  modules = [ (name = "loader.js", esModule = embed "loader.js") ],
  compatibilityDate = "2026-11-01",
  bindings = [ (name = "LOADER", workerLoader = ()) ],
);
EOF
    port=$(bench_free_port) || { note "no free port for workerd"; return 1; }
    LOG=$dir/workerd.log
    "$WORKERD" serve --experimental "$dir/config.capnp" --socket-addr "http=127.0.0.1:$port" \
        >"$LOG" 2>&1 &
    SERVER_PID=$!
    if ! bench_wait_http "http://127.0.0.1:$port/hello"; then
        note "workerd did not start: $(tail -n 3 "$LOG" | tr '\n' ' ')"
        bench_stop_server 3 >/dev/null
        return 1
    fi
    BASE=http://127.0.0.1:$port
}

# start SERVER [THREADS MAX_CHILDREN] (workerd has neither knob: one event loop, no cap)
start() {
    if [ "$1" = edged ]; then
        start_edged "${2:-${EDGED_THREADS:-}}" "${3:-}"
    else
        start_workerd
    fi
}

# stop SERVER: SIGTERM; workerd gets 3 s before SIGKILL, edged its 10 s drain.
stop() {
    local grace=3
    [ "$1" = edged ] && grace=10
    bench_stop_server "$grace" >"$TMP/stop.out"
    [ ! -s "$TMP/stop.out" ] || note "$1: $(tr -s ' \n' ' ' <"$TMP/stop.out")"
}

warm() { # warm PATH...: 1 s at 4 connections on each (isolates on every shard, code paths hot)
    local p
    for p in "$@"; do timeout 15 wrk -t1 -c4 -d1s "$BASE$p" >/dev/null 2>&1 || true; done
}

# run SERVER ROW PATH CONNS: one wrk run into R[SERVER.ROW.CONNS.{rps,p50,p99,err}].
run() {
    local k=$1.$2.$4 t=1
    [ "$4" -gt 1 ] && t=2
    say "$1: $2 at -c$4"
    if ! bench_wrk "$t" "$4" "$DURATION" "$BASE$3"; then
        note "$1 $2 -c$4: wrk failed: $(tail -n 2 <<<"$WRK_OUT" | tr '\n' ' ')"
        return 0
    fi
    R[$k.rps]=$WRK_RPS
    R[$k.p50]=$WRK_P50
    R[$k.p99]=$WRK_P99
    R[$k.err]=$WRK_FAILED # non-2xx answers plus every socket error (connect, read, write, timeout)
    [ "${R[$k.err]}" -eq 0 ] ||
        note "$1 $2 -c$4: ${R[$k.err]} failed requests (non-2xx $WRK_NON2XX," \
        "socket errors: $WRK_ERRORS); first answer: $(curl -s --max-time 5 "$BASE$3" | head -c 200)"
}

# keep FROM COUNT: gets children kFROM.. in batches of 100 (one request each, bounded); prints
# how many getCode callbacks ran, or nothing on failure (noted).
keep() {
    local from=$1 end=$(($1 + $2)) n total=0 out
    while [ "$from" -lt "$end" ]; do
        n=$((end - from < 100 ? end - from : 100))
        out=$(curl -s --max-time 60 -w '\n%{http_code}' "$BASE/keep?from=$from&count=$n") || true
        if [ "$(tail -n 1 <<<"$out")" != 200 ]; then
            note "keep $from+$n failed: $(head -n 1 <<<"$out" | head -c 300)"
            return 1
        fi
        total=$((total + $(head -n 1 <<<"$out" | sed -n 's/.*"callbacks":\([0-9]*\).*/\1/p')))
        from=$((from + n))
    done
    echo "$total"
}

# warm_keep: the one-time costs before the first RSS reading: the loader's (one child), and the
# parent's own warm-up, its JIT compiling the code /keep runs (the same live child re-got 300
# times; it made about 3 MB, 30 KB per child at N = 100, in edged).
warm_keep() {
    curl -sf --max-time 60 -o /dev/null "$BASE/keep?from=1000000&count=1&rounds=300" ||
        { note "warm-up keep failed"; return 1; }
}

# parent_stats: the parent's own /unique timings (JSON); with several shards each has its own
# parent instance, so ask a few times (new connections) and keep the answer with the most spans.
parent_stats() {
    local best="" bn=-1 out n
    for _ in 1 2 3 4 5 6; do
        out=$(curl -s --max-time 5 "$BASE/stats") || continue
        n=$(sed -n 's/.*"n":\([0-9]*\).*/\1/p' <<<"$out")
        if [ -n "$n" ] && [ "$n" -gt "$bn" ]; then best=$out; bn=$n; fi
    done
    echo "$best"
}

# ---- throughput and latency rows -----------------------------------------------------------------
throughput() { # throughput SERVER
    local s=$1 c
    say "$s: throughput (threads: ${EDGED_THREADS:-default})"
    if start "$s"; then
        [ "$s" = workerd ] && R[workerd.version]=$("$WORKERD" --version 2>/dev/null | head -n1)
        [ "$s" = edged ] && R[edged.version]=$("$BUILD_DIR/edged" --version 2>/dev/null | head -n1)
        warm /hello /same/warm /load/warm
        run "$s" hello /hello 1
        run "$s" same /same/c1 1
        run "$s" same /same/c64 64
        run "$s" load /load/c1 1
        run "$s" load /load/c64 64
        R[$s.rss_load]=$(bench_rss_mb "$SERVER_PID" VmRSS)
        stop "$s"
    fi
    # Never-seen children on a fresh server each time, warmed up without named children: workerd
    # keeps every named child, and those it holds slow down the next ones (see README.md).
    for c in 1 64; do
        start "$s" || continue
        warm /hello /load/warm
        curl -s --max-time 5 "$BASE/stats" >/dev/null || true # drops the warm-up's spans
        run "$s" unique "/unique/c$c" "$c"
        if [ "$c" = 1 ]; then
            R[$s.stats]=$(parent_stats)
            R[$s.rss_unique_c1]=$(bench_rss_mb "$SERVER_PID" VmRSS)
        fi
        stop "$s"
        if [ "$c" = 1 ] && [ "$s" = edged ]; then
            # edged's access log, written by now: wall_us from the request's first byte to its
            # last, in-process, for each never-seen-child request of the -c1 run.
            R[edged.wall_p50]=$(awk '/ path=\/unique\/c1 / && / status=200 / {
                    for (i = 1; i <= NF; i++) if ($i ~ /^wall_us=/) print substr($i, 9) }' \
                "$ACCESS" | sort -n | awk '{ v[NR] = $1 } END {
                    if (NR) printf "%.3f %d", v[int((NR + 1) / 2)] / 1000, NR }')
        fi
    done
}

# ---- RSS per live idle child ---------------------------------------------------------------------
rss_per_child() { # rss_per_child SERVER
    local s=$1 r0 r100 r1000 cb
    say "$s: RSS per live idle child (threads 1)"
    start "$s" 1 2000 || return 0
    curl -s --max-time 5 -o /dev/null "$BASE/hello" || true
    warm_keep || { stop "$s"; return 0; }
    sleep 1
    r0=$(bench_rss_kb "$SERVER_PID")
    cb=$(keep 0 100) || { stop "$s"; return 0; }
    [ "$cb" = 100 ] || note "$s: 100 new ids ran $cb getCode callbacks, not 100"
    sleep 1
    r100=$(bench_rss_kb "$SERVER_PID")
    keep 100 900 >/dev/null || { stop "$s"; return 0; }
    sleep 1
    r1000=$(bench_rss_kb "$SERVER_PID")
    R[$s.keep_recb]=$(keep 0 100 || echo "?") # all still live: expect 0
    R[$s.rss0]=$(awk -v a="$r0" 'BEGIN { printf "%.0f", a / 1024 }')
    R[$s.rss1000]=$(awk -v a="$r1000" 'BEGIN { printf "%.0f", a / 1024 }')
    R[$s.per100]=$(awk -v a="$r0" -v b="$r100" 'BEGIN { printf "%.2f", (b - a) / 1024 / 100 }')
    R[$s.per1000]=$(awk -v a="$r0" -v b="$r1000" 'BEGIN { printf "%.2f", (b - a) / 1024 / 1000 }')
    stop "$s"
}

# ---- edged: memory bounded by the caps -----------------------------------------------------------
caps() {
    local r0 r1000 r3000
    say "edged: 3000 ids under max_children = 1000 (threads 1)"
    start edged 1 1000 || return 0
    curl -s --max-time 5 -o /dev/null "$BASE/hello" || true
    warm_keep || { stop edged; return 0; }
    sleep 1
    r0=$(bench_rss_kb "$SERVER_PID")
    keep 0 1000 >/dev/null || { stop edged; return 0; }
    sleep 1
    r1000=$(bench_rss_kb "$SERVER_PID")
    keep 1000 2000 >/dev/null || { stop edged; return 0; }
    sleep 1
    r3000=$(bench_rss_kb "$SERVER_PID")
    R[edged.cap_old]=$(keep 0 100 || echo "?")    # evicted: expect 100
    R[edged.cap_new]=$(keep 2900 100 || echo "?") # the newest, still live: expect 0
    R[edged.cap_rss0]=$(awk -v a="$r0" 'BEGIN { printf "%.0f", a / 1024 }')
    R[edged.cap_rss1000]=$(awk -v a="$r1000" 'BEGIN { printf "%.0f", a / 1024 }')
    R[edged.cap_rss]=$(awk -v a="$r3000" 'BEGIN { printf "%.0f", a / 1024 }')
    R[edged.cap_hwm]=$(bench_rss_mb "$SERVER_PID" VmHWM)
    stop edged
}

START=$SECONDS
for s in "${SERVERS[@]}"; do
    throughput "$s"
    rss_per_child "$s"
done
[ "$ONLY" = workerd ] || caps

# ---- the table -----------------------------------------------------------------------------------
v() { echo "${R[$1]:--}"; }
ratio() { # ratio A B -> "3.1x" or -
    awk -v a="${R[$1]:-}" -v b="${R[$2]:-}" 'BEGIN {
        if (a == "" || b == "" || b == 0) print "-"; else printf "%.1fx\n", a / b }'
}
echo "# edged: ${R[edged.version]:-not run}, ${EDGED_THREADS:-$(nproc)} threads |" \
    "workerd: ${R[workerd.version]:-not run} | cores: $(nproc)"
echo "# wrk on 127.0.0.1, ${DURATION} s per run, -t1 at 1 connection, -t2 at 64"
printf '%-34s %5s | %7s %7s %7s %4s | %7s %7s %7s %4s | %s\n' "" "" \
    "edged" "" "" "" "workerd" "" "" "" "edged/"
printf '%-34s %5s | %7s %7s %7s %4s | %7s %7s %7s %4s | %s\n' "row" conns \
    "req/s" "p50 ms" "p99 ms" err "req/s" "p50 ms" "p99 ms" err workerd
for row in "hello:parent only, no child (baseline)" "unique:never-seen child per request" \
    "same:same child every request" "load:load() child per request (no id)"; do
    key=${row%%:*}
    for c in 1 64; do
        [ "$key" = hello ] && [ "$c" = 64 ] && continue
        printf '%-34s %5s | %7s %7s %7s %4s | %7s %7s %7s %4s | %s\n' "${row#*:}" "$c" \
            "$(v "edged.$key.$c.rps")" "$(v "edged.$key.$c.p50")" "$(v "edged.$key.$c.p99")" \
            "$(v "edged.$key.$c.err")" "$(v "workerd.$key.$c.rps")" "$(v "workerd.$key.$c.p50")" \
            "$(v "workerd.$key.$c.p99")" "$(v "workerd.$key.$c.err")" \
            "$(ratio "edged.$key.$c.rps" "workerd.$key.$c.rps")"
    done
done
echo
# get() -> first child response
read -r ewall en <<<"${R[edged.wall_p50]:-- 0}"
clock() { # clock SERVER -> "p50 X, mean Y (n N)" from the parent's own performance.now()
    local j=${R[$1.stats]:-} p50 mean n
    p50=$(sed -n 's/.*"p50":\([0-9.e-]*\).*/\1/p' <<<"$j")
    mean=$(sed -n 's/.*"mean":\([0-9.e-]*\).*/\1/p' <<<"$j")
    n=$(sed -n 's/.*"n":\([0-9]*\).*/\1/p' <<<"$j")
    if [ -n "$p50" ] && [ -n "$mean" ]; then
        printf '%.2f, mean %.2f (n %s)' "$p50" "$mean" "$n"
    else
        echo "-"
    fi
}
printf '%-44s | %-26s | %s\n' "figure" "edged" "workerd"
printf '%-44s | %-26s | %s\n' "get() to child response at -c1: p50 ms" \
    "$ewall (access log)" "$(v workerd.unique.1.p50) (HTTP)"
printf '%-44s | %-26s | %s\n' "  the parent's performance.now(), ms" "$(clock edged)" \
    "$(clock workerd)"
printf '%-44s | %-26s | %s\n' "RSS after the hello/same/load() rows, MB" "$(v edged.rss_load)" \
    "$(v workerd.rss_load)"
printf '%-44s | %-26s | %s\n' "RSS after the -c1 never-seen row, MB" "$(v edged.rss_unique_c1)" \
    "$(v workerd.rss_unique_c1)"
printf '%-44s | %-26s | %s\n' "RSS per live idle child, N = 100, MB" "$(v edged.per100)" \
    "$(v workerd.per100)"
printf '%-44s | %-26s | %s\n' "RSS per live idle child, N = 1,000, MB" "$(v edged.per1000)" \
    "$(v workerd.per1000)"
printf '%-44s | %-26s | %s\n' "RSS before -> with 1,000 live children, MB" \
    "$(v edged.rss0) -> $(v edged.rss1000)" "$(v workerd.rss0) -> $(v workerd.rss1000)"
printf '%-44s | %-26s | %s\n' "re-get of the first 100: getCode callbacks" \
    "$(v edged.keep_recb) (0: all live)" "$(v workerd.keep_recb)"
if [ "$ONLY" != workerd ]; then
    echo "memory bounded by caps (edged, max_children = 1000, --threads 1):"
    echo "  RSS idle $(v edged.cap_rss0) MB, after 1,000 distinct ids $(v edged.cap_rss1000) MB," \
        "after 3,000 $(v edged.cap_rss) MB (peak $(v edged.cap_hwm) MB)"
    echo "  re-get: the oldest 100 ids ran $(v edged.cap_old) getCode callbacks (100: evicted)," \
        "the newest 100 ran $(v edged.cap_new) (0: live)"
    echo "  workerd has no cap: every named child stays (its re-get above ran" \
        "$(v workerd.keep_recb) callbacks), N x its per-child RSS"
fi
cat <<EOF

Methods: req/s and p50/p99 from wrk --latency (err = non-2xx + socket errors); a fresh server for
each never-seen-child run. get() to child response: edged = median wall_us of the -c1 never-seen
requests in its access log ($en requests; first request byte to last response byte, in-process,
so an upper bound); workerd = wrk's HTTP p50 (loopback HTTP included); both also from the parent's
own performance.now() around get()...getEntrypoint().fetch() (clocks that may advance only on I/O,
in whole ms: the mean is the better estimate).
RSS per child = (VmRSS after loading N distinct named children, kept live and idle, minus VmRSS
before) / N, one server thread (edged --threads 1; workerd has one event loop), measured within
60 s (edged evicts children idle that long); "before" is after one child was re-got 300 times, so
the parent's own JIT warm-up is not counted as children's. The -c64 never-seen runs in edged evict under the
default max_children = 100; workerd keeps them all.
Noise: these 2-vCPU machines are noisy and wrk shares the cores with the server; compare within
one run and repeat before quoting a ratio. Took $((SECONDS - START)) s.
EOF
if [ -s "$TMP/notes" ]; then
    echo
    echo "Problems seen:"
    sed 's/^/  - /' "$TMP/notes"
fi
