/*  edge_monitor: the edge's own ZeroMQ socket events (its DEALER to the
    router), forwarded to the router as MONITOR envelopes, which it
    publishes for telegraphy-ctl monitor.

    Driven from the link's heartbeat timer inside the lws loop, not from a
    descriptor of its own: the events are rare (a connect, a disconnect),
    a heartbeat of latency is fine for an operator, and it costs no extra
    lws adoption. The DEALER is ZMQ_IMMEDIATE (nothing queued while the
    router is away), so the events of an outage ("disconnected", then
    "connected") cannot be sent when they happen: they wait here, at most
    EDGE_MONITOR_PENDING of them (the oldest are dropped and counted in
    edge_metrics' monitor_drops: /metrics and HEARTBEAT stats), and
    go out in order once the link takes messages again.
*/
#ifndef EDGE_MONITOR_H
#define EDGE_MONITOR_H

#include <czmq.h>
#include <stdint.h>

#include "edge_metrics.h"
#include "tg_clock.h"
#include "tg_monitor.h"

/* Socket events kept while the router is unreachable. */
#define EDGE_MONITOR_PENDING 64

typedef struct _edge_monitor_t edge_monitor_t;

/* Takes ownership of *monitor_p (a tg_monitor attached to the router
   DEALER before it connected: tg_socket's monitor option) and nulls it;
   destroy this before that socket. Borrows metrics (monitor_drops).
   Caller owns the result. */
edge_monitor_t *edge_monitor_new(tg_monitor_t **monitor_p, edge_metrics_t *metrics);

/* Safe on NULL and twice. */
void edge_monitor_destroy(edge_monitor_t **self_p);

/* Reads every pending socket event (the ring keeps the newest
   EDGE_MONITOR_PENDING; the monitor pipe must not fill) and sends what
   waits, in order, on `dealer` until a send fails. Returns the number of
   MONITOR envelopes sent. */
size_t edge_monitor_pump(edge_monitor_t *self, zsock_t *dealer, tg_now_t now);

#endif
