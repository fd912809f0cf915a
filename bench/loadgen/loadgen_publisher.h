/*  loadgen_publisher: nchan's HTTP publisher (publish-http mode).

    One keep-alive HTTP/1.1 connection, one POST at a time (no
    pipelining): write the request, read the whole response, next. The
    body is {"sent_us":T,"seq":i} (plus "pad" when asked), T taken from
    CLOCK_REALTIME just before the request is written. With a rate, POST i
    is due at start + i/rate (an absolute schedule: a late POST does not
    push the later ones back). A connection the server closes (nginx closes
    after keepalive_requests) is opened again; a request that met a closed
    connection before any answer is sent once more on a new one.
*/
#ifndef LOADGEN_PUBLISHER_H
#define LOADGEN_PUBLISHER_H

#include "loadgen_args.h"
#include "tg_buf.h"

typedef struct _loadgen_publisher_t loadgen_publisher_t;

/* args must outlive the publisher; url must be resolved. Caller owns the
   result; NULL on out-of-memory. */
loadgen_publisher_t *loadgen_publisher_new(const loadgen_args_t *args);
/* Safe twice; nulls the caller's pointer. */
void loadgen_publisher_destroy(loadgen_publisher_t **self_p);

/* POSTs until --count, the timeout or stop_fd readable (-1: none).
   Errors are counted, not fatal. Returns 0. */
int loadgen_publisher_run(loadgen_publisher_t *self, int stop_fd);

/* Appends {"count","sent","errors","start_us","end_us","rate",...}. */
void loadgen_publisher_result_json(loadgen_publisher_t *self, tg_buf_t *out);

#endif
