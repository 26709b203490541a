/*
 * Internals shared by the e2e support files; tests include only e2e.h.
 */
#ifndef EDGED_TESTS_E2E_INTERNAL_H
#define EDGED_TESTS_E2E_INTERNAL_H

#include "e2e.h"

/* Records a one-line reason for e2e_errmsg() on this thread. Returns -1. */
int e2e__fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A connection not tracked for teardown (for client threads). Returns owned
 * (e2e__conn_free) or NULL. */
struct e2e_conn *e2e__connect(int port, int timeout_ms);
void e2e__conn_free(struct e2e_conn *c);

/* e2e_request with a chosen response timeout, on an untracked connection. */
int e2e__request_timeout(int port, const char *method, const char *host, const char *path,
                         const char *extra, const char *body, struct e2e_response *r,
                         int timeout_ms);

/* Closes the connections e2e_connect() handed out and the test did not close. */
void e2e__close_tracked_conns(void);

#endif
