#!/usr/bin/env bash
# scripts/test.sh [CTEST_ARG...]: the README's second command and what .ci/run calls. Does the
# set-up of scripts/setup.sh, builds everything in build/ and runs every test with ctest. With
# EDGED_SANITIZE=1 (or SANITIZE=1), and by default when CI=true, it then builds build-asan/ with
# -DSANITIZE=ON (ASan + UBSan) and runs the whole suite there too; EDGED_SANITIZE=0 turns that off
# on CI. Extra arguments go to every ctest run (e.g. `-R router`, `-L unit`, `-j2`).
# Ends with one line `N passed, N failed` over all suites; exits non-zero if anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START=$SECONDS

sanitize=${EDGED_SANITIZE:-${SANITIZE:-}}
if [ -z "$sanitize" ]; then
    [ "${CI:-}" = true ] && sanitize=1 || sanitize=0
fi

total_passed=0
total_failed=0
status=0

# run_suite NAME BUILD_DIR [CTEST_ARG...]: runs ctest, echoes its output, adds to the totals.
run_suite() {
    local name=$1 dir=$2 log rc line
    shift 2
    log=$dir/ctest-output.log
    echo "test: running the $name suite ($dir)"
    set +e
    ctest --test-dir "$dir" --output-on-failure --no-tests=error "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 || true)
    if [ -n "$line" ]; then
        local failed out_of
        failed=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
        out_of=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
        total_passed=$((total_passed + out_of - failed))
        total_failed=$((total_failed + failed))
        if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
            total_failed=$((total_failed + 1)) # ctest failed outside any test
        fi
    else
        echo "test: the $name suite ran no test (ctest exit $rc)"
        total_failed=$((total_failed + 1))
    fi
    [ "$rc" -eq 0 ] || status=1
    # the WHATWG URL conformance figure js_tests printed (ctest shows a passing test's output
    # only in its log)
    grep -h '^WPT URL: ' "$dir/Testing/Temporary/LastTest.log" 2>/dev/null | tail -n1 || true
}

# setup_or_count BUILD_DIR CMAKE_ARGS: set-up and build; a failure counts as one failed test.
setup_or_count() {
    if EDGED_BUILD_DIR=$1 EDGED_CMAKE_ARGS=$2 "$ROOT/scripts/setup.sh"; then
        return 0
    fi
    echo "test: set-up or build failed for $1"
    total_failed=$((total_failed + 1))
    status=1
    return 1
}

if setup_or_count "$ROOT/build" "-DSANITIZE=OFF"; then
    run_suite default "$ROOT/build" "$@"
fi

if [ "$sanitize" = 1 ]; then
    # ASan + UBSan: stop at the first report, with a stack, so a failing test says why.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    if [ "$status" -ne 0 ]; then
        echo "test: skipping the sanitizer suite: the default suite failed"
    elif setup_or_count "$ROOT/build-asan" "-DSANITIZE=ON"; then
        run_suite sanitizer "$ROOT/build-asan" "$@"
    fi
fi

echo "test: finished in $((SECONDS - START))s"
echo "${total_passed} passed, ${total_failed} failed"
[ "$status" -eq 0 ] && [ "$total_failed" -eq 0 ]
