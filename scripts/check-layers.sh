#!/usr/bin/env bash
# scripts/check-layers.sh [ROOT]: the module graph, enforced (a ctest entry). Fails, printing each
# offending line, when a module includes a header of a module it may not depend on, or another
# module's internal header (*_int.h), when a file outside isolates/ includes a V8 header, or when a
# C++ source lives outside isolates/. The allowed dependencies (STYLE.md, CMakeLists.txt):
#   common   -> (none)
#   router, storage, isolates -> common
#   loader   -> common, router, storage, isolates
#   edge     -> everything
#   deploy   -> common, router, storage, loader, isolates
# Tests, benches and examples may include any module header (unit tests reach internals).
set -euo pipefail

ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT"

MODULES=(common router storage isolates loader edge deploy)
PRUNE=(-path ./.git -o -path ./.deps -o -path './build*' -o -path '*/node_modules' -o -path ./data)

fail=0

# 1. Includes between modules. grep prints FILE:LINE:TEXT for every #include in a module folder;
#    awk resolves the included path to a module and applies the table.
present=()
for m in "${MODULES[@]}"; do [ -d "$m" ] && present+=("$m"); done
if [ "${#present[@]}" -gt 0 ]; then
    if ! { grep -rnE --include='*.c' --include='*.h' --include='*.cc' --include='*.hh' \
        '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "${present[@]}" || true; } |
        awk -v modules="${MODULES[*]}" '
        BEGIN {
            n = split(modules, ms, " ")
            for (i = 1; i <= n; i++) is_mod[ms[i]] = 1
            allow["common"] = ""
            allow["router"] = "common"
            allow["storage"] = "common"
            allow["isolates"] = "common"
            allow["loader"] = "common router storage isolates"
            allow["edge"] = "common router storage isolates loader deploy"
            allow["deploy"] = "common router storage loader isolates"
            bad = 0
        }
        {
            # FILE:LINE:TEXT (file names here never hold a colon)
            file = $0; sub(/:.*/, "", file)
            rest = substr($0, length(file) + 2)
            text = rest; sub(/^[0-9]+:/, "", text)
            from = file; sub(/\/.*/, "", from)
            inc = text
            sub(/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]/, "", inc)
            sub(/[>"].*/, "", inc)
            # Resolve "../x/y.h" and "./y.h" relative to the including file.
            path = inc
            if (path ~ /^\.\.?\//) {
                dir = file; sub(/\/[^\/]*$/, "", dir)
                path = dir "/" path
                m = split(path, parts, "/"); k = 0
                for (i = 1; i <= m; i++) {
                    if (parts[i] == "." || parts[i] == "") continue
                    if (parts[i] == "..") { if (k > 0) k--; continue }
                    out[++k] = parts[i]
                }
                path = ""
                for (i = 1; i <= k; i++) path = path (i > 1 ? "/" : "") out[i]
            }
            to = ""
            if (index(path, "/") > 0) {
                top = path; sub(/\/.*/, "", top)
                if (top in is_mod) to = top
            } else if (text ~ /"/) {
                to = from # a quoted bare name is the including folder'"'"'s own header
            }
            if (to == "" || to == from) next
            base = path; sub(/.*\//, "", base)
            why = ""
            if (base ~ /_int\.h$/)
                why = "internal header of " to "/"
            else if ((" " allow[from] " ") !~ (" " to " "))
                why = from "/ may not depend on " to "/"
            if (why != "") {
                printf "check-layers: %s: %s\n    %s:%s\n", why, inc, file, rest
                bad = 1
            }
        }
        END { exit bad }'; then
        fail=1
    fi
fi

# 2. V8 headers outside isolates/ (anywhere in the tree: tests, benches, modules).
v8=$(find . \( "${PRUNE[@]}" -o -path ./isolates \) -prune -o -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name '*.hh' -o -name '*.cpp' -o -name '*.hpp' \) \
    -print0 | xargs -0 -r grep -nE \
    '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]((v8|v8-[^>"]*|v8config|v8-platform)\.h|libplatform/|cppgc/)' || true)
if [ -n "$v8" ]; then
    printf '%s\n' "$v8" | while IFS= read -r line; do
        printf 'check-layers: V8 header outside isolates/\n    %s\n' "${line#./}"
    done
    fail=1
fi

# 3. C++ sources live only in isolates/.
cxx=$(find . \( "${PRUNE[@]}" -o -path ./isolates \) -prune -o -type f \
    \( -name '*.cc' -o -name '*.cpp' -o -name '*.cxx' -o -name '*.hh' -o -name '*.hpp' \) -print)
if [ -n "$cxx" ]; then
    printf '%s\n' "$cxx" | while IFS= read -r f; do
        printf 'check-layers: C++ source outside isolates/: %s\n' "${f#./}"
    done
    fail=1
fi

if [ "$fail" -ne 0 ]; then
    echo "check-layers: FAILED (allowed: common->none; router,storage,isolates->common;" \
        "loader->common,router,storage,isolates; deploy->all but edge; edge->all)"
    exit 1
fi
echo "check-layers: ok"
