/*
 * edge/ — the server: shard threads with their libuv loops and SO_REUSEPORT listeners,
 * HTTP/1.1 connections, and the wiring of router/ and isolates/ into the request path. It
 * owns main(). Prefix: edge_.
 */
#ifndef EDGED_EDGE_H
#define EDGED_EDGE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Runs a node from command-line arguments until SIGTERM/SIGINT drains it. Returns the
 * process exit code: 0 after a clean drain, 2 for bad flags or unreadable tenant files, 1
 * when the node could not start (port in use, V8 failed). */
int edge_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
