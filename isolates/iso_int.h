/*
 * isolates/ internals callable from C (the watchdog). Not for other modules.
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

#ifdef __cplusplus
}
#endif
#endif
