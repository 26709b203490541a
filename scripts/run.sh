#!/usr/bin/env bash
# scripts/run.sh [EDGED_FLAG...]: the README's first command. Installs what is missing, builds
# edged, and runs it in the foreground: with no flags it serves the tenants in examples/tenants
# (the demo tenant answers on http://127.0.0.1:8080/) and keeps its data in <checkout>/data.
# Extra arguments go to edged unchanged (see `scripts/run.sh --help`). Ctrl-C or SIGTERM stops it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${EDGED_BUILD_DIR:-$ROOT/build}
export EDGED_BUILD_DIR=$BUILD_DIR

"$ROOT/scripts/setup.sh" edged
mkdir -p "$ROOT/data"
if [ "$#" -eq 0 ]; then
    echo "run: edged serving examples/tenants on http://127.0.0.1:8080/, operator endpoints on" \
        "http://127.0.0.1:8081/ (Ctrl-C stops it)"
    set -- --admin-listen 127.0.0.1:8081
fi
# exec: edged itself receives Ctrl-C/SIGTERM and drains in-flight requests before exiting.
exec "$BUILD_DIR/edged" "$@"
