#!/usr/bin/env bash
# bench/tenants.sh [--tenants N] [--duration S] [--bin EDGED]: many tenants on one node (a bench,
# not a test). Starts edged on 127.0.0.1 with its admin API and a fresh data directory, then
# through the API (the operator token in DATA/operator.token) creates N tenants (default 1,000),
# each allowed one host tNNNN.bench, deploys one small worker per tenant (its body names its
# tenant, so no two tenants share code) and binds its route. Prints: deploy latency (the PUT's
# round trip, which edged answers once every shard serves the new version) over the N deploys;
# RSS before and after; requests/s and p50/p99 at 64 connections spread over all N hosts (a first
# pass, which builds every tenant's isolate on every shard, then a second), the same load on one
# tenant; and 20 re-deploys of one worker while a load on all hosts runs
# (deploy latency under load, and the errors the load saw: there should be none). wrk runs S
# seconds each (default 5). Loopback only; every loop is bounded by N, 20 or S.
# Environment: EDGED_THREADS (default edged's: one per core), EDGED_BUILD_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${EDGED_BUILD_DIR:-$ROOT/build}
DURATION=5
TENANTS=1000
BIN=""
while [ "$#" -gt 0 ]; do
    case $1 in
    --duration | --seconds) DURATION=$2; shift ;;
    --tenants) TENANTS=$2; shift ;;
    --bin) BIN=$2; shift ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tenants.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
if ! [[ $DURATION =~ ^[1-9][0-9]*$ ]] || [ "$DURATION" -gt 120 ]; then
    echo "tenants.sh: --duration takes whole seconds from 1 to 120" >&2
    exit 2
fi
if ! [[ $TENANTS =~ ^[1-9][0-9]*$ ]] || [ "$TENANTS" -gt 9999 ]; then
    echo "tenants.sh: --tenants takes a count from 1 to 9999" >&2
    exit 2
fi

# shellcheck source=lib.sh
. "$ROOT/bench/lib.sh"
bench_need_tools tenants.sh wrk curl
if [ -z "$BIN" ]; then
    bench_build_edged tenants.sh || exit 1
    BIN=$BUILD_DIR/edged
fi
[ -x "$BIN" ] || { echo "tenants.sh: $BIN is not an executable" >&2; exit 1; }

TMP=$(mktemp -d /tmp/edged-bench.XXXXXX)
trap 'bench_stop_server 3 >/dev/null; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
START=$(date +%s)

mkdir -p "$TMP/tenants" "$TMP/data"
THREADS_ARGS=()
[ -n "${EDGED_THREADS:-}" ] && THREADS_ARGS=(--threads "$EDGED_THREADS")
"$BIN" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --port-file "$TMP/port" \
    --tenants "$TMP/tenants" --data "$TMP/data" --access-log /dev/null "${THREADS_ARGS[@]}" \
    >"$TMP/edged.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do
    [ "$(wc -l <"$TMP/port" 2>/dev/null || echo 0)" -ge 2 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
[ "$(wc -l <"$TMP/port" 2>/dev/null || echo 0)" -ge 2 ] ||
    { echo "tenants.sh: edged did not start:" >&2; tail -5 "$TMP/edged.log" >&2; exit 1; }
PORT=$(sed -n 1p "$TMP/port")
ADMIN=http://127.0.0.1:$(sed -n 2p "$TMP/port")
BASE=http://127.0.0.1:$PORT
export ADMIN TMP
TOKEN=$(cat "$TMP/data/operator.token")
export TOKEN

# The worker of tenant $1 (version $2), written to $TMP/w-$1-$2.js.
worker_file() {
    local f=$TMP/w-$1-$2.js
    printf 'export default {\n  fetch(request, env) { return new Response("%s v%s\\n"); },\n};\n' \
        "$1" "$2" >"$f"
    echo "$f"
}
export -f worker_file

# deploy T V: uploads T's worker version V; prints the PUT's seconds, or "fail".
deploy() {
    local f out
    f=$(worker_file "$1" "$2")
    out=$(curl -s -o "$TMP/put-$1.json" -w '%{http_code} %{time_total}' -X PUT \
        -H "Authorization: Bearer $TOKEN" \
        -F 'metadata={"main_module": "index.js"};type=application/json' \
        -F "index.js=@$f;type=application/javascript+module;filename=index.js" \
        "$ADMIN/v1/tenants/$1/workers/api") || out="000 0"
    if [ "${out%% *}" = 201 ] && grep -q '"live": *true' "$TMP/put-$1.json"; then
        echo "${out#* }"
    else
        echo fail
    fi
}
export -f deploy

# one_tenant I: creates tNNNN, allows its host, deploys, binds the route; prints the deploy time.
one_tenant() {
    local t auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
    t=$(printf 't%04d' "$1")
    curl -sf -o /dev/null "${auth[@]}" -d "{\"name\": \"$t\"}" "$ADMIN/v1/tenants" &&
        curl -sf -o /dev/null "${auth[@]}" -X PATCH \
            -d "{\"routes_allowed\": [\"$t.bench/*\"]}" "$ADMIN/v1/tenants/$t" ||
        { echo fail; return 0; }
    local d
    d=$(deploy "$t" 1)
    curl -sf -o /dev/null "${auth[@]}" -X PUT -d "{\"pattern\": \"$t.bench/*\", \"worker\": \"api\"}" \
        "$ADMIN/v1/tenants/$t/routes" || d=fail
    echo "$d"
}
export -f one_tenant

# stats FILE -> "p50 p99 max" in ms of the seconds listed in FILE (one per line)
stats() {
    sort -g "$1" | awk '{ v[NR] = $1 * 1000 } END {
        if (NR == 0) { print "- - -"; exit }
        i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
        i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
        printf "%.1f %.1f %.1f", v[i50], v[i99], v[NR] }'
}

echo "tenants.sh: creating $TENANTS tenants, one worker and one route each" >&2
RSS0=$(bench_rss_mb "$SERVER_PID" VmRSS)
T0=$(date +%s.%N)
seq "$TENANTS" | timeout 900 xargs -P 4 -I{} bash -c 'one_tenant {}' >"$TMP/deploys.txt"
T1=$(date +%s.%N)
FAILED_SETUP=$(grep -c fail "$TMP/deploys.txt" || true)
grep -v fail "$TMP/deploys.txt" >"$TMP/deploys.ok" || true
read -r D50 D99 DMAX <<<"$(stats "$TMP/deploys.ok")"
RSS1=$(bench_rss_mb "$SERVER_PID" VmRSS)
check=$(curl -s -H "Host: t0001.bench" "$BASE/") || check=""
[ "$check" = "t0001 v1" ] || echo "tenants.sh: t0001.bench answered '$check'" >&2

cat >"$TMP/spread.lua" <<EOF
-- every request to another tenant's host, across all of them
local n = $TENANTS
local i = 0
function init(args)
  i = math.random(n)
end
function request()
  i = i % n + 1
  return wrk.format("GET", "/", { Host = string.format("t%04d.bench", i) })
end
EOF

echo "tenants.sh: load over all $TENANTS hosts" >&2
bench_wrk 2 64 "$DURATION" "$BASE/" -s "$TMP/spread.lua" || true
COLD=("$WRK_RPS" "$WRK_P50" "$WRK_P99" "$WRK_FAILED")
RSS2=$(bench_rss_mb "$SERVER_PID" VmRSS)
bench_wrk 2 64 "$DURATION" "$BASE/" -s "$TMP/spread.lua" || true
SPREAD=("$WRK_RPS" "$WRK_P50" "$WRK_P99" "$WRK_FAILED")
echo "tenants.sh: load on one host" >&2
bench_wrk 2 64 "$DURATION" "$BASE/" -H "Host: t0001.bench" || true
ONE=("$WRK_RPS" "$WRK_P50" "$WRK_P99" "$WRK_FAILED")

echo "tenants.sh: 20 re-deploys of t0001 under load" >&2
LOAD_S=$((DURATION > 10 ? DURATION : 10))
timeout $((LOAD_S + 20)) wrk -t2 -c16 -d"${LOAD_S}s" --timeout 2s -s "$TMP/spread.lua" "$BASE/" \
    >"$TMP/bg.txt" 2>&1 &
WRK_BG=$!
sleep 1
: >"$TMP/redeploys.txt"
for v in $(seq 2 21); do
    deploy t0001 "$v" >>"$TMP/redeploys.txt"
done
wait "$WRK_BG" || true
BG_REQ=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$TMP/bg.txt")
BG_BAD=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(/[^0-9 ]/, " ");
    for (i = 1; i <= NF; i++) n += $i } END { print n + 0 }' "$TMP/bg.txt")
REDEPLOY_FAILED=$(grep -c fail "$TMP/redeploys.txt" || true)
grep -v fail "$TMP/redeploys.txt" >"$TMP/redeploys.ok" || true
read -r R50 R99 RMAX <<<"$(stats "$TMP/redeploys.ok")"
last=$(curl -s -H "Host: t0001.bench" "$BASE/") || last=""
RSS3=$(bench_rss_mb "$SERVER_PID" VmRSS)

VERSION=$("$BIN" --version 2>/dev/null | head -1 || echo edged)
echo "# $VERSION, $(nproc) cores, ${EDGED_THREADS:-default} threads; wrk on 127.0.0.1, $DURATION s per run"
printf '%-44s %s\n' "tenants made (one worker, one route each)" \
    "$((TENANTS - FAILED_SETUP)) of $TENANTS in $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }') s (4 clients)"
printf '%-44s p50 %s ms, p99 %s ms, max %s ms\n' "deploy, upload to live on all shards" "$D50" "$D99" "$DMAX"
printf '%-44s %s -> %s MB (%.2f MB per tenant)\n' "RSS before -> after the deploys" "$RSS0" "$RSS1" \
    "$(awk -v a="$RSS0" -v b="$RSS1" -v n="$TENANTS" 'BEGIN { print (b - a) / n }')"
printf '%-44s %s req/s, p50 %s ms, p99 %s ms, %s failed\n' \
    "64 conns over all $TENANTS hosts, first pass" "${COLD[0]}" "${COLD[1]}" "${COLD[2]}" "${COLD[3]}"
printf '%-44s %s MB\n' "  RSS after it (each tenant's isolates built)" "$RSS2"
printf '%-44s %s req/s, p50 %s ms, p99 %s ms, %s failed\n' \
    "64 conns over all $TENANTS hosts, second pass" "${SPREAD[0]}" "${SPREAD[1]}" "${SPREAD[2]}" \
    "${SPREAD[3]}"
printf '%-44s %s req/s, p50 %s ms, p99 %s ms, %s failed\n' "64 connections to one tenant" \
    "${ONE[0]}" "${ONE[1]}" "${ONE[2]}" "${ONE[3]}"
printf '%-44s p50 %s ms, p99 %s ms, max %s ms; %s failed; then "%s"\n' \
    "20 re-deploys of one worker under load" "$R50" "$R99" "$RMAX" "$REDEPLOY_FAILED" "$last"
printf '%-44s %s requests, %s failed\n' "  the load meanwhile (16 connections, all hosts)" \
    "${BG_REQ:-?}" "$BG_BAD"
printf '%-44s %s MB\n' "RSS at the end" "$RSS3"
echo "Took $(($(date +%s) - START)) s."
