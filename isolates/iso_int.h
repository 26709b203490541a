/*
 * isolates/ internals callable from C (the watchdog, the unit tests). Not for other modules.
 */
#ifndef EDGED_ISOLATES_ISO_INT_H
#define EDGED_ISOLATES_ISO_INT_H

#include "isolates/isolates.h"

#ifdef __cplusplus
extern "C" {
#endif

/* iso_worker_terminate() that says whether it took: true when w was running JavaScript and is
 * now stopped (or already was), false when w ran nothing, so a watchdog whose budget ran out
 * just before the dispatch began can try again. Any thread, while w is alive. */
bool iso__worker_stop_running(struct iso_worker *w, int reason) ISO_NOEXCEPT;

/* The runtime snapshot was compiled from a scratch child's warm-up calls (snapshot.cc); false
 * means it fell back to compiling everything eagerly: slower first calls, more memory. */
bool iso__snapshot_warmed(void) ISO_NOEXCEPT;

/* Whether the lazy runtime file named file ("12_url.js") ran in w's isolate (lazy.cc). */
bool iso__worker_lazy_loaded(const struct iso_worker *w, const char *file) ISO_NOEXCEPT;
/* Whether the process's code cache of the lazy runtime file named file is the one the
 * snapshot's warm-up left (it uses each file; one that failed leaves at most caches of the
 * files' top levels, and first uses compile the rest). */
bool iso__lazy_cache_warm(const char *file) ISO_NOEXCEPT;
/* Forgets the lazy files' code caches (the next first use compiles from source and leaves a
 * new one). Only while no worker runs a lazy file. */
void iso__lazy_caches_clear(void) ISO_NOEXCEPT;

/* Test hooks of the code cache (code_cache.cc). */
/* Sets its bounds and the smallest source it caches (0: the default) and evicts what no
 * longer fits. */
void iso__code_cache_limits(size_t max_bytes, size_t max_entry_bytes,
                            size_t min_source) ISO_NOEXCEPT;
/* Makes every entry one V8 rejects (its version field no longer matches). Returns how many. */
size_t iso__code_cache_spoil(void) ISO_NOEXCEPT;
/* Empties it (the counters stay). */
void iso__code_cache_clear(void) ISO_NOEXCEPT;

#ifdef __cplusplus
}
#endif
#endif
