#!/usr/bin/env bash
# bench/codecache.sh [--duration S] [--bin EDGED]: what the code cache saves per never-seen child
# (a bench, not a test). Starts edged (--threads 1) on 127.0.0.1 with bench/codecache.js as the
# parent and drives one row per kind of child with wrk -t1 -c1 for S seconds (default 5), every
# request a child with a fresh id and main module: tiny (main module only, under the cache's
# threshold), cold (plus a ~300 KB library with a unique first line: a miss every time) and warm
# (the same library bytes every time: a hit). Prints ms per child (mean from req/s, wrk's p50, and
# the median in-process wall time from the access log) and the code cache counters the operator
# log shows at exit. --bin runs another edged binary as it is (e.g. one built before the cache,
# for the figures without it) instead of building this checkout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${EDGED_BUILD_DIR:-$ROOT/build}
DURATION=5
BIN=""
while [ "$#" -gt 0 ]; do
    case $1 in
    --duration) DURATION=$2; shift ;;
    --bin) BIN=$2; shift ;;
    -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "codecache.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
bench_need_tools codecache.sh wrk curl
if [ -z "$BIN" ]; then
    bench_build_edged codecache.sh || exit 1
    BIN=$BUILD_DIR/edged
fi

TMP=$(mktemp -d /tmp/edged-bench.XXXXXX)
trap 'bench_stop_server 10 >/dev/null; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

mkdir -p "$TMP/tenants/bench" "$TMP/data"
cp "$ROOT/bench/codecache.js" "$TMP/tenants/bench/codecache.js"
cat >"$TMP/tenants/bench/codecache.metadata.json" <<'EOF'
{"main_module": "codecache.js", "compatibility_date": "2026-11-01",
 "bindings": [{"type": "worker_loader", "name": "LOADER"}]}
EOF
cat >"$TMP/tenants/bench/tenant.conf" <<'EOF'
route = * codecache
cpu_ms = 1000
max_children = 100
max_children_heap_mb = 4096
EOF
ACCESS=$TMP/access.log
"$BIN" --listen 127.0.0.1:0 --port-file "$TMP/port" --threads 1 --tenants "$TMP/tenants" \
    --data "$TMP/data" --access-log "$ACCESS" >"$TMP/edged.log" 2>&1 &
SERVER_PID=$!
if ! port=$(bench_wait_port "$TMP/port" "$SERVER_PID") ||
    ! bench_wait_http "http://127.0.0.1:$port/hello"; then
    echo "codecache.sh: edged did not start: $(tail -n 3 "$TMP/edged.log" | tr '\n' ' ')" >&2
    exit 1
fi
BASE=http://127.0.0.1:$port
VERSION=$("$BIN" --version 2>/dev/null | head -n1 || true)
LIB_BYTES=$(curl -s --max-time 5 "$BASE/size" | tr -d '\n')

declare -A R
for row in tiny cold warm; do
    echo "codecache.sh: $row at -c1 for ${DURATION} s" >&2
    timeout 15 wrk -t1 -c1 -d1s "$BASE/$row/warmup" >/dev/null 2>&1 || true
    if ! bench_wrk 1 1 "$DURATION" "$BASE/$row/run"; then
        echo "codecache.sh: wrk failed on $row: $(tail -n 2 <<<"$WRK_OUT" | tr '\n' ' ')" >&2
        continue
    fi
    R[$row.rps]=$WRK_RPS
    R[$row.p50]=$WRK_P50
    R[$row.err]=$WRK_NON2XX
    [ "$WRK_ERRORS" = none ] || R[$row.err]="$WRK_NON2XX+sock"
done
RSS=$(bench_rss_mb "$SERVER_PID" VmRSS)
bench_stop_server 10 >"$TMP/stop.out"

# wall_us of the measured requests, in-process (first request byte to last response byte)
wall() {
    awk -v p="path=/$1/run" '$0 ~ " " p " " && / status=200 / {
            for (i = 1; i <= NF; i++) if ($i ~ /^wall_us=/) print substr($i, 9) }' "$ACCESS" |
        sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int((NR + 1) / 2)] / 1000; else print "-" }'
}
mean() { awk -v r="${R[$1.rps]:-}" 'BEGIN { if (r > 0) printf "%.2f", 1000 / r; else print "-" }'; }

echo "# edged ${VERSION:-?}, --threads 1, wrk -t1 -c1 on 127.0.0.1, ${DURATION} s per row," \
    "library ${LIB_BYTES:-?} bytes"
printf '%-52s | %7s %8s %8s %9s | %s\n' "never-seen child per request" "req/s" "mean ms" \
    "p50 ms" "wall ms" "err"
for row in "tiny:tiny (main module only, no library)" \
    "cold:+ 300 KB library, cold cache (unique bytes: a miss)" \
    "warm:+ 300 KB library, warm cache (same bytes: a hit)"; do
    k=${row%%:*}
    printf '%-52s | %7s %8s %8s %9s | %s\n' "${row#*:}" "${R[$k.rps]:--}" "$(mean "$k")" \
        "${R[$k.p50]:--}" "$(wall "$k")" "${R[$k.err]:--}"
done
echo "operator log at exit: $(grep -o 'event=code_cache.*' "$TMP/edged.log" || echo 'no event=code_cache line')"
echo "RSS after the rows: ${RSS} MB"
[ ! -s "$TMP/stop.out" ] || echo "stop: $(tr -s ' \n' ' ' <"$TMP/stop.out")"
cat <<EOF

Methods: one shard; each request gets a never-seen child (fresh id, its own main module), calls
it once and answers with its response. mean ms = 1000 / req/s at one connection; p50 from wrk
--latency (loopback HTTP included); wall ms = median wall_us of the row's requests in edged's
access log (in-process). The cold row's library differs only in its first line, so it is
compiled from source and its code cache produced on every request; the warm row's is consumed.
Children are evicted past max_children = 100, as in production.
EOF
