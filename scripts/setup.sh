#!/usr/bin/env bash
# scripts/setup.sh [NINJA_TARGET...]: brings a Debian 12 checkout from nothing to a built tree.
# Installs the missing Debian packages, unpacks V8 (libnode108, libnode-dev) and llhttp
# (node-llhttp) into .deps/root with `apt-get download` + `dpkg -x` (apt cannot always install
# libnode-dev: a nodejs from another source blocks it), configures CMake with Ninja when the build
# tree needs it and builds the given targets (default: everything). Each step is skipped when its
# result is already there, so a second run costs about a second plus what ninja rebuilds.
#
# Environment: EDGED_BUILD_DIR (default <checkout>/build), EDGED_CMAKE_ARGS (extra -D options for
# the configure step, e.g. "-DSANITIZE=ON"; a tree configured otherwise is re-configured),
# EDGED_SKIP_APT=1 (never call apt-get install: for machines set up by hand).
# Runs as root (CI, fresh machines) or as a user with sudo; needs no TTY.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${EDGED_BUILD_DIR:-$ROOT/build}
DEPS_DIR=$ROOT/.deps
DEPS_ROOT=$DEPS_DIR/root
export DEBIAN_FRONTEND=noninteractive
START=$SECONDS

# Packages apt installs. The last line is libnode108's shared-library dependencies: its .deb is
# only unpacked, so apt does not pull them in.
APT_PACKAGES=(build-essential cmake ninja-build pkg-config libuv1-dev libnghttp2-dev
    android-libboringssl-dev libsqlite3-dev nettle-dev libjansson-dev libicu-dev libcriterion-dev
    libcurl4-openssl-dev curl wrk nghttp2-client clang-format ca-certificates openssl
    libc-ares2 libicu72 libbrotli1 libnghttp2-14 libssl3 libuv1 zlib1g)
# Packages unpacked into .deps/root. Bump DEPS_FORMAT when this list or the layout changes.
DEPS_PACKAGES=(libnode108 libnode-dev node-llhttp)
DEPS_FORMAT="edged-deps 1: ${DEPS_PACKAGES[*]}"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo env DEBIAN_FRONTEND=noninteractive "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

APT_OPTS=(-y -q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)
apt_updated=0
apt_update() {
    [ "$apt_updated" -eq 1 ] && return 0
    say "apt-get update"
    as_root apt-get "${APT_OPTS[@]}" update || die "apt-get update failed"
    apt_updated=1
}

# ---- 1. Debian packages ----------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "${EDGED_SKIP_APT:-0}" = 1 ]; then
        say "EDGED_SKIP_APT=1: not installing missing packages: ${missing[*]}"
    else
        say "installing: ${missing[*]}"
        apt_update
        as_root apt-get "${APT_OPTS[@]}" install --no-install-recommends "${missing[@]}" ||
            die "apt-get install failed for: ${missing[*]}"
    fi
else
    say "Debian packages: all ${#APT_PACKAGES[@]} installed"
fi

# ---- 2. V8 and llhttp unpacked into .deps/root -------------------------------------------
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || true)
MULTIARCH=${MULTIARCH:-x86_64-linux-gnu}
DEPS_FILES=(usr/include/node/v8.h usr/include/node/libplatform/libplatform.h
    "usr/lib/$MULTIARCH/libnode.so" "usr/lib/$MULTIARCH/libnode.so.108"
    usr/share/include/llhttp/llhttp.h usr/share/llhttp/llhttp.c usr/share/llhttp/api.c
    usr/share/llhttp/http.c)
STAMP=$DEPS_ROOT/.stamp

deps_complete() { # $1: tree to check
    local f
    for f in "${DEPS_FILES[@]}"; do
        [ -e "$1/$f" ] || { echo "$f"; return 1; } # -e follows the libnode.so symlink
    done
}

if [ -f "$STAMP" ] && [ "$(head -n1 "$STAMP")" = "$DEPS_FORMAT" ] && deps_complete "$DEPS_ROOT" >/dev/null; then
    say "V8 and llhttp: $(tail -n +2 "$STAMP" | tr '\n' ' ')(in .deps/root)"
else
    say "downloading ${DEPS_PACKAGES[*]} into .deps/"
    mkdir -p "$DEPS_DIR"
    dl=$(mktemp -d "$DEPS_DIR/download.XXXXXX")
    new=$(mktemp -d "$DEPS_DIR/root.new.XXXXXX")
    trap 'rm -rf "$dl" "$new"' EXIT
    download() {
        # libnode-dev must match libnode108 exactly; pin both to libnode108's candidate.
        local v
        v=$(apt-cache policy libnode108 2>/dev/null | awk '/Candidate:/ {print $2}')
        [ -n "$v" ] && [ "$v" != "(none)" ] || return 1
        # As root, apt drops to the _apt user for downloads, which may not write here.
        (cd "$dl" && rm -f ./*.deb &&
            apt-get -q -o APT::Sandbox::User="$(id -un)" download \
                "libnode108=$v" "libnode-dev=$v" node-llhttp)
    }
    # Stale or absent package lists make the download fail: refresh them once and retry.
    if ! download; then
        apt_update
        download || die "apt-get download ${DEPS_PACKAGES[*]} failed (see above)"
    fi
    versions=()
    for p in "${DEPS_PACKAGES[@]}"; do
        debs=("$dl/${p}_"*.deb)
        [ -f "${debs[0]}" ] || die "apt-get download produced no .deb for $p"
        dpkg -x "${debs[0]}" "$new" || die "dpkg -x failed for ${debs[0]}"
        versions+=("$p=$(dpkg-deb -f "${debs[0]}" Version)")
    done
    if ! missing_file=$(deps_complete "$new"); then
        die "unpacked packages lack $missing_file (package layout changed?)"
    fi
    # libnode108's own shared-library dependencies come from apt (step 1).
    if unresolved=$(ldd "$new/usr/lib/$MULTIARCH/libnode.so.108" | grep 'not found'); then
        die "libnode.so.108 needs libraries that are not installed:"$'\n'"$unresolved"
    fi
    { echo "$DEPS_FORMAT"; printf '%s\n' "${versions[@]}"; } >"$new/.stamp"
    # Swap the finished tree in whole, so an interrupted run never leaves a half tree.
    rm -rf "$DEPS_ROOT.old"
    [ -e "$DEPS_ROOT" ] && mv "$DEPS_ROOT" "$DEPS_ROOT.old"
    mv "$new" "$DEPS_ROOT"
    rm -rf "$DEPS_ROOT.old" "$dl"
    trap - EXIT
    say "V8 and llhttp: ${versions[*]} (in .deps/root)"
fi

# ---- 3. configure (only when needed) and build ------------------------------------------------
read -r -a cmake_args <<<"${EDGED_CMAKE_ARGS:-}"
need_configure=0
cache=$BUILD_DIR/CMakeCache.txt
if [ ! -f "$cache" ] || [ ! -f "$BUILD_DIR/build.ninja" ]; then
    need_configure=1
else
    grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$cache" ||
        die "$BUILD_DIR was configured with another generator than Ninja; remove it and re-run"
    for a in "${cmake_args[@]}"; do
        if [[ $a =~ ^-D([A-Za-z0-9_]+)(:[A-Z]+)?=(.*)$ ]]; then
            have=$(grep -E "^${BASH_REMATCH[1]}:[A-Z]+=" "$cache" | head -n1 | cut -d= -f2- || true)
            [ "$have" = "${BASH_REMATCH[3]}" ] || need_configure=1
        fi
    done
fi
if [ "$need_configure" -eq 1 ]; then
    say "configuring $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja "${cmake_args[@]}" || die "cmake configure failed"
fi
say "building ${*:-all targets} in $BUILD_DIR"
ninja -C "$BUILD_DIR" "$@" || die "build failed"
say "done in $((SECONDS - START))s"
