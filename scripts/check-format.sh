#!/usr/bin/env bash
# scripts/check-format.sh [--strict] [ROOT]: checks every .c/.h/.cc file in the modules and tests
# against .clang-format with `clang-format --dry-run --Werror`. Reports how many files would
# change and lists them; exits 0 (report only) unless --strict is given. Without clang-format
# installed it says so and exits 0. `clang-format -i FILE` applies the house format.
set -euo pipefail

strict=0
if [ "${1:-}" = "--strict" ]; then
    strict=1
    shift
fi
ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT"

if ! command -v clang-format >/dev/null 2>&1; then
    echo "check-format: clang-format is not installed; skipped"
    exit 0
fi

mapfile -t files < <(find . \( -path ./.git -o -path ./.deps -o -path './build*' \
    -o -path '*/node_modules' -o -path ./data \) -prune -o -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print | sed 's|^\./||' | sort)

changed=()
for f in "${files[@]}"; do
    clang-format --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || changed+=("$f")
done
for f in "${changed[@]}"; do
    echo "check-format: would reformat $f"
done
echo "check-format: ${#changed[@]} of ${#files[@]} files would change ($(clang-format --version | head -n1))"
if [ "$strict" -eq 1 ] && [ "${#changed[@]}" -gt 0 ]; then
    exit 1
fi
exit 0
