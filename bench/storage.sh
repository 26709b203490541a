#!/usr/bin/env bash
# bench/storage.sh [--duration S] [--only edged|workerd] [--bin EDGED]: durable object figures for
# edged and Cloudflare's workerd side by side (a bench, not a test). Both serve
# bench/storage/worker.js, a Counter durable object with one SQL row, through HTTP on 127.0.0.1
# only: POST /inc?name=bench increments the one object's counter and answers after the commit,
# GET /get?name=bench reads it. wrk runs S seconds each (default 5) with --latency: increments at
# 1 connection (-t1) and at 64 (-t2), point reads at 64. After each increments run the counter's
# growth is checked against the acknowledged (200) answers, and once exactly after a fixed count
# of increments (h2load). workerd stores its objects with localDisk (SQLite) in a temporary
# directory and comes from npm (bench/node_modules, installed on first use). --bin runs another
# edged binary as it is, without building this checkout's.
# Environment: EDGED_THREADS (default edged's: one per core), EDGED_ARGS (more edged flags),
# EDGED_BUILD_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${EDGED_BUILD_DIR:-$ROOT/build}
DURATION=5
ONLY=""
BIN=""
while [ "$#" -gt 0 ]; do
    case $1 in
    --duration | --seconds) DURATION=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --bin) BIN=$2; shift ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "storage.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
case $ONLY in
"" | edged | workerd) ;;
*) echo "storage.sh: --only edged or workerd" >&2; exit 2 ;;
esac
if ! [[ $DURATION =~ ^[1-9][0-9]*$ ]] || [ "$DURATION" -gt 120 ]; then
    echo "storage.sh: --duration takes whole seconds from 1 to 120" >&2
    exit 2
fi
SERVERS=()
[ "$ONLY" = workerd ] || SERVERS+=(edged)
[ "$ONLY" = edged ] || SERVERS+=(workerd)

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
bench_need_tools storage.sh wrk curl
if [ "$ONLY" != workerd ]; then
    if [ -z "$BIN" ]; then
        bench_build_edged storage.sh || exit 1
        BIN=$BUILD_DIR/edged
    fi
    [ -x "$BIN" ] || { echo "storage.sh: $BIN is not an executable" >&2; exit 1; }
fi
if [ "$ONLY" != edged ]; then bench_workerd storage.sh || exit 1; fi

TMP=$(mktemp -d /tmp/edged-bench.XXXXXX)
trap 'bench_stop_server 3 >/dev/null; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

WORKER=$ROOT/bench/storage/worker.js
POST_LUA=$ROOT/bench/storage/post.lua
OBJECT=bench # the one object every run uses

declare -A R # results: R[server.figure] = value
# What went wrong, printed under the table.
note() { echo "$*" >>"$TMP/notes"; echo "storage.sh: $*" >&2; }
say() { echo "storage.sh: $*" >&2; }

# start_edged: edged with the worker as the bench tenant's only worker, bound to COUNTERS.
start_edged() {
    local dir=$TMP/edged threads=() extra=()
    mkdir -p "$dir/tenants/bench"
    cp "$WORKER" "$ROOT/bench/storage/worker.metadata.json" "$dir/tenants/bench/"
    echo "route = * worker" >"$dir/tenants/bench/tenant.conf"
    [ -n "${EDGED_THREADS:-}" ] && threads=(--threads "$EDGED_THREADS")
    read -r -a extra <<<"${EDGED_ARGS:-}"
    if ! bench_start_edged "$BIN" "$dir" /ping "${threads[@]}" "${extra[@]}"; then
        note "edged did not start: $(tail -n 5 "$dir/edged.log" | tr '\n' ' ')"
        return 1
    fi
    R[edged.version]="$("$BIN" --version 2>/dev/null | head -n1),"
    R[edged.version]+=" ${EDGED_THREADS:-$(nproc)} threads${EDGED_ARGS:+, $EDGED_ARGS}"
}

# start_workerd: workerd with the same worker, its objects SQLite-backed on local disk.
start_workerd() {
    local dir=$TMP/workerd
    mkdir -p "$dir/do-disk"
    cp "$WORKER" "$dir/worker.js"
    cat >"$dir/config.capnp" <<EOF
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .counter),
    (name = "do-disk", disk = (path = "$dir/do-disk", writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (), service = "main") ],
);
const counter :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2026-11-01",
  bindings = [ (name = "COUNTERS", durableObjectNamespace = "Counter") ],
  durableObjectNamespaces = [
    (className = "Counter", uniqueKey = "edged-bench-counter", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "do-disk"),
);
EOF
    if ! bench_start_workerd "$dir/config.capnp" "$dir/workerd.log" /ping; then
        note "workerd did not start: $(tail -n 5 "$dir/workerd.log" | tr '\n' ' ')"
        return 1
    fi
    R[workerd.version]=$("$WORKERD" --version 2>/dev/null | head -n1)
}

# counter: the object's counter as the server answers it (empty if it does not).
counter() {
    local out
    out=$(curl -s --max-time 5 -w '\n%{http_code}' "$BASE/get?name=$OBJECT") || return 0
    [ "$(tail -n 1 <<<"$out")" = 200 ] || return 0
    head -n 1 <<<"$out" | grep -E '^[0-9]+$' || true
}

# run SERVER ROW CONNS PATH [WRK_ARGS...]: one wrk run into R[SERVER.ROW.CONNS.{rps,p50,p99,err}]
# and WRK_*; returns 1 when wrk failed (noted).
run() {
    local s=$1 k=$1.$2.$3 c=$3 path=$4 t=1
    shift 4
    [ "$c" -gt 1 ] && t=2
    say "$s: $k"
    if ! bench_wrk "$t" "$c" "$DURATION" "$BASE$path" "$@"; then
        note "$k: wrk failed: $(tail -n 2 <<<"$WRK_OUT" | tr '\n' ' ')"
        return 1
    fi
    R[$k.rps]=$WRK_RPS
    R[$k.p50]=$WRK_P50
    R[$k.p99]=$WRK_P99
    R[$k.err]=$WRK_FAILED
    [ "$WRK_FAILED" -eq 0 ] ||
        note "$k: $WRK_FAILED failed requests (non-2xx $WRK_NON2XX, socket errors: $WRK_ERRORS)"
}

# increments SERVER CONNS: an increments run, then the check that the counter grew by every
# acknowledged increment and by no more than the requests wrk left unanswered when it stopped (one
# per connection, plus any it gave up on with a socket error): those may or may not have committed.
increments() {
    local s=$1 c=$2 before after acked grew slack k=$1.inc.$2
    before=$(counter)
    run "$s" inc "$c" "/inc?name=$OBJECT" -s "$POST_LUA" || return 0
    after=$(counter)
    if [ -z "$before" ] || [ -z "$after" ]; then
        R[$k.check]="? (the counter did not answer: before '$before', after '$after')"
        note "$k: could not read the counter"
        return 0
    fi
    acked=$((WRK_REQUESTS - WRK_NON2XX))
    grew=$((after - before))
    slack=$((c + WRK_SOCKERR))
    if [ "$grew" -lt "$acked" ]; then
        R[$k.check]="LOST: +$grew for $acked acknowledged increments"
        note "$k: $((acked - grew)) acknowledged increments are missing from the counter"
    elif [ "$grew" -gt $((acked + slack)) ]; then
        R[$k.check]="TOO MANY: +$grew for $acked acknowledged (at most $slack unanswered)"
        note "$k: the counter grew by $((grew - acked - slack)) more than the requests sent"
    else
        R[$k.check]="ok: +$grew = $acked acknowledged + $((grew - acked)) unanswered at wrk's stop (<= $slack)"
    fi
    LAST=$after
}

# exact SERVER: a fixed count of increments at 64 connections with h2load, which waits for every
# answer (wrk stops on a clock): the counter must grow by exactly the number of 2xx answers.
exact() {
    local s=$1 n=$EXACT_N before after out ok grew k=$1.exact
    command -v h2load >/dev/null || { R[$k.check]="skipped (no h2load: nghttp2-client)"; return 0; }
    before=$(counter)
    say "$s: $k ($n increments)"
    out=$(timeout 60 h2load --h1 -n "$n" -c 64 -t 2 -d "$TMP/body" "$BASE/inc?name=$OBJECT" 2>&1) ||
        { R[$k.check]="h2load failed: $(tail -n 1 <<<"$out")"; note "$k: h2load failed"; return 0; }
    ok=$(awk '/^status codes:/ { print $3 }' <<<"$out")
    after=$(counter)
    if [ -z "$before" ] || [ -z "$after" ] || [ -z "$ok" ]; then
        R[$k.check]="? (counter before '$before', after '$after'; 2xx answers '$ok')"
        note "$k: could not read the counter or h2load's counts"
        return 0
    fi
    grew=$((after - before))
    if [ "$grew" -eq "$ok" ] && [ "$ok" -eq "$n" ]; then
        R[$k.check]="ok: +$grew = $ok acknowledged of $n (h2load, all answered)"
    else
        R[$k.check]="WRONG: +$grew for $ok acknowledged of $n (h2load)"
        note "$k: the counter grew by $grew for $ok acknowledged increments of $n sent"
    fi
    LAST=$after
}

LAST=""      # the counter after the last increments run
EXACT_N=2000 # increments of the exact check
printf x >"$TMP/body" # h2load posts a file and cannot map an empty one

measure() { # measure SERVER
    local s=$1 v
    say "$s: starting"
    # workerd waits for an fsync per increment: start each server on a disk with nothing dirty.
    timeout 30 sync || true
    R[$s.sync_ms]=$(bench_sync_ms "$TMP")
    start_"$s" || return 0
    # Warm-up: the object made and opened, code paths hot (its increments are not checked).
    timeout 15 wrk -t1 -c4 -d1s -s "$POST_LUA" "$BASE/inc?name=$OBJECT" >/dev/null 2>&1 || true
    timeout 15 wrk -t1 -c4 -d1s "$BASE/get?name=$OBJECT" >/dev/null 2>&1 || true
    LAST=""
    increments "$s" 1
    increments "$s" 64
    exact "$s"
    run "$s" get 64 "/get?name=$OBJECT" || true
    # The reads wrote nothing: they must still answer the last increments run's final value.
    v=$(counter)
    if [ -n "$LAST" ] && [ "$v" = "$LAST" ]; then
        R[$s.get.64.check]="ok: reads answer $v, the value after the increments"
    else
        R[$s.get.64.check]="read '$v' after the reads, '$LAST' after the increments"
        note "$s: the counter changed during the reads (or could not be read)"
    fi
    R[$s.rss]=$(bench_rss_mb "$SERVER_PID" VmRSS)
    bench_stop_server 10 >"$TMP/stop.out"
    [ ! -s "$TMP/stop.out" ] || note "$s: $(tr -s ' \n' ' ' <"$TMP/stop.out")"
}

START=$SECONDS
for s in "${SERVERS[@]}"; do measure "$s"; done

# ---- the table -----------------------------------------------------------------------------------
v() { echo "${R[$1]:--}"; }
ratio() { # ratio A B -> "3.1x" or -
    awk -v a="${R[$1]:-}" -v b="${R[$2]:-}" 'BEGIN {
        if (a == "" || b == "" || b == 0) print "-"; else printf "%.2fx\n", a / b }'
}
echo "# edged: ${R[edged.version]:-not run} | workerd: ${R[workerd.version]:-not run} | cores: $(nproc)"
echo "# wrk on 127.0.0.1, ${DURATION} s per run, -t1 at 1 connection, -t2 at 64; one object," \
    "each increment answered after its commit"
line() { printf '%-14s %5s | %7s %7s %7s %4s | %7s %7s %7s %4s | %s\n' "$@"; }
line "" "" "edged" "" "" "" "workerd" "" "" "" "edged/"
line "row" conns "req/s" "p50 ms" "p99 ms" err "req/s" "p50 ms" "p99 ms" err workerd
for row in "inc 1:increments/s" "inc 64:increments/s" "get 64:point reads/s"; do
    key=${row%%:*}
    k=${key% *}.${key#* }
    line "${row#*:}" "${key#* }" \
        "$(v "edged.$k.rps")" "$(v "edged.$k.p50")" "$(v "edged.$k.p99")" "$(v "edged.$k.err")" \
        "$(v "workerd.$k.rps")" "$(v "workerd.$k.p50")" "$(v "workerd.$k.p99")" \
        "$(v "workerd.$k.err")" "$(ratio "edged.$k.rps" "workerd.$k.rps")"
done
echo
echo "counter checks (the counter's growth against wrk's 200 answers):"
for s in "${SERVERS[@]}"; do
    [ -n "${R[$s.version]:-}" ] || { printf '  %-8s not run (see below)\n' "$s"; continue; }
    for k in inc.1 inc.64 exact get.64; do
        printf '  %-8s %-9s %s\n' "$s" "${k/./ -c}" "$(v "$s.$k.check")"
    done
done
echo "RSS after the runs: edged $(v edged.rss) MB, workerd $(v workerd.rss) MB"
echo "disk: a synced 4 KiB write took $(v edged.sync_ms) ms before edged's runs," \
    "$(v workerd.sync_ms) ms before workerd's (workerd's increments wait for an fsync each)"
echo
best=$(awk -v a="${R[edged.inc.1.rps]:-0}" -v b="${R[edged.inc.64.rps]:-0}" \
    'BEGIN { m = (a + 0 > b + 0 ? a : b); print (m > 0 ? m : "-") }')
met() { # met A B -> whether A >= B, or "not measured" when either is missing
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || a == 0 || b == "" || b == 0) print "not measured"
        else print (a + 0 >= b + 0 ? "met" : "NOT met") }'
}
echo "targets:"
echo "  increments/s >= 2x workerd: -c1 $(ratio edged.inc.1.rps workerd.inc.1.rps)," \
    "-c64 $(ratio edged.inc.64.rps workerd.inc.64.rps)" \
    "($(met "${R[edged.inc.64.rps]:-}" "$((2 * ${R[workerd.inc.64.rps]:-0}))") at -c64)"
echo "  >= 20,000 acknowledged increments/s on one object: edged's best $best/s" \
    "($(met "${best#-}" 20000))"
cat <<EOF

Methods: req/s and p50/p99 from wrk --latency (err = non-2xx + socket errors); a 1 s warm-up of
increments and reads on the same object first. Every increment is a POST through HTTP to the
default export, an RPC to the object's inc() (an UPSERT ... RETURNING in SQLite), answered after
its commit. An acknowledged increment is a 200; wrk stops with up to one request per connection
unanswered, which the server may or may not have committed, hence the check's range; the exact
check sends $EXACT_N increments with h2load --h1 -c 64, which waits for every answer.
Durability differs: workerd fsyncs every commit (strace: about one fsync per increment at -c1);
edged writes each group commit into the WAL (synchronous=NORMAL) and does not fsync it, which
SIGKILL cannot lose but a power cut can. Noise: these 2-vCPU machines are noisy and wrk shares the
cores with the server; compare within one run. Took $((SECONDS - START)) s.
EOF
if [ -s "$TMP/notes" ]; then
    echo
    echo "Problems seen:"
    sed 's/^/  - /' "$TMP/notes"
fi
