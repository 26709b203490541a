/*
 * The process's one V8 platform: started once before any worker exists, stopped at exit.
 * The flags set here are the same for every isolate: no SharedArrayBuffer (and so no shared
 * WebAssembly memory either), because a shared buffer plus a worker thread is a high-resolution
 * timer and workers get neither; WebAssembly itself stays on. Three flags are about the cost of an
 * isolate, which children pay per never-seen worker: without --no-short-builtin-calls, V8 copies
 * its 1.4 MB of embedded builtins into every isolate whose heap may exceed 2 GB (ours may: see
 * limits.cc's headroom), which was half of an idle child's RSS and made Isolate::New slower the
 * more isolates lived (2 ms at 100, 9 ms at 1,000); and the runtime snapshot (snapshot.cc), built
 * here in memory, need not be checksummed again by every Isolate::New; --no-use-map-space puts
 * maps in the old space instead of a space of their own, whose partly used pages cost every
 * isolate 20 KB (later V8s dropped the map space altogether). Measured for an idle
 * child's RSS and left out, so nobody tries them again: --single-threaded-gc, --single-threaded,
 * --optimize-for-size, --no-compact-maps (no change), --no-lazy-feedback-allocation (25 KB more).
 * Semi-space sizes are set per isolate instead (limits.cc: children only).
 * V8 is given the default platform wrapped by clock.cc, whose wall clock is frozen while
 * JavaScript runs.
 */
#include <cstring>
#include <new>

#include "common/boringssl.h"
#include "isolates/shim_int.h"

namespace {

std::unique_ptr<v8::Platform> g_platform;
std::unique_ptr<v8::Platform> g_clock; /* what V8 is given: g_platform with the frozen clock */
bool g_disposed;

} // namespace

v8::Platform *iso::platform()
{
    return g_platform.get();
}

extern "C" int iso_platform_init(struct ed_error *err) noexcept
{
    if (g_platform)
        return 0;
    if (g_disposed)
        return ed_error_set(err, ED_EINVAL, "V8 cannot be restarted in the same process");
    /* Web Crypto needs BoringSSL in every isolate; a node without it must not start. */
    int rc = ed_bssl_load(err);
    if (rc)
        return rc;
    try {
        static const char flags[] =
            "--no-harmony-sharedarraybuffer --no-experimental-wasm-threads --no-short-builtin-calls --no-verify-snapshot-checksum --no-use-map-space";
        v8::V8::SetFlagsFromString(flags, strlen(flags));
        g_platform =
            v8::platform::NewDefaultPlatform(0, v8::platform::IdleTaskSupport::kDisabled,
                                             v8::platform::InProcessStackDumping::kDisabled);
        g_clock = iso::clock_platform(g_platform.get());
        v8::V8::InitializePlatform(g_clock.get());
        if (!v8::V8::Initialize()) {
            v8::V8::DisposePlatform();
            g_clock.reset();
            g_platform.reset();
            return ed_error_set(err, ED_EINVAL, "V8 failed to initialise");
        }
        iso::snapshot_build();
    } catch (...) {
        /* std::bad_alloc or std::length_error from a container: nothing else throws */
        g_clock.reset();
        g_platform.reset();
        return ed_error_set(err, ED_ENOMEM, "out of memory starting V8");
    }
    return 0;
}

extern "C" void iso_platform_dispose(void) noexcept
{
    if (!g_platform)
        return;
    iso::snapshot_dispose();
    v8::V8::Dispose();
    v8::V8::DisposePlatform();
    g_clock.reset();
    g_platform.reset();
    g_disposed = true;
}

extern "C" const char *iso_v8_version(void) noexcept
{
    return v8::V8::GetVersion();
}
