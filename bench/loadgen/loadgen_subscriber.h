/*  loadgen_subscriber: N WebSocket subscribers on one epoll loop.

    Single thread, non-blocking sockets, level-triggered epoll. Each
    readable connection gets one read() of up to 64 KiB into one buffer
    shared by all connections (a connection's partial frame is copied in
    front first), and every complete frame is parsed in place by
    loadgen_conn. Receive time is read once per read(). At most
    `connect_concurrency` connections are in their handshake at a time.

    Counts, latency and connection figures come out as the result JSON of
    issue6-common.md (loadgen_subscriber_result_json).
*/
#ifndef LOADGEN_SUBSCRIBER_H
#define LOADGEN_SUBSCRIBER_H

#include <stddef.h>

#include "loadgen_args.h"
#include "tg_buf.h"

typedef struct _loadgen_subscriber_t loadgen_subscriber_t;

/* File descriptors kept free for everything but the connections (stdio,
   epoll, signalfd, the output files, resolver). */
#define LOADGEN_SUBSCRIBER_SPARE_FDS 32

/* Raises RLIMIT_NOFILE to its hard limit and checks that `conns`
   connections fit. 0, or -1 with the reason in error. */
int loadgen_subscriber_raise_nofile(size_t conns, char *error, size_t error_cap);

/* Reads args (not kept beyond the strings it points to; args must outlive
   the subscriber). url must be resolved. Caller owns the result; NULL on
   failure (logged). */
loadgen_subscriber_t *loadgen_subscriber_new(const loadgen_args_t *args);
/* Closes every connection, frees everything; safe twice. */
void loadgen_subscriber_destroy(loadgen_subscriber_t **self_p);

/* Runs until every connection got --expect messages (or died), the
   timeout, or stop_fd (e.g. a signalfd; -1 for none) becomes readable.
   Writes the ready file on the way. 0, or -1 when the loop itself broke
   (epoll failure). */
int loadgen_subscriber_run(loadgen_subscriber_t *self, int stop_fd);

/* Appends the result JSON (one line, no newline) to out. */
void loadgen_subscriber_result_json(loadgen_subscriber_t *self, tg_buf_t *out);

#endif
