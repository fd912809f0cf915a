/*  edge_link: the edge's connection to the router (a ZeroMQ DEALER
    socket), serviced by the libwebsockets event loop. The HELLO / WELCOME
    / HEARTBEAT conversation that keeps the router's view of this edge
    current is tg_link's (lib/tg_link.h); what is the edge's own is how
    the socket is driven from the loop without losing wake-ups (see the
    comment at the top of edge_link.c).
*/
#ifndef EDGE_LINK_H
#define EDGE_LINK_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "edge_metrics.h"
#include "edge_pressure.h"
#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"
#include "tg_instance.h"
#include "tg_link.h"

typedef struct _edge_link_t edge_link_t;

/* What the link tells its owner (the broker, through the actor): deliver
   (a router message other than WELCOME / HEARTBEAT), resync (the router
   (re)welcomed this edge: re-send the subscriptions), add_stats (to a
   HEARTBEAT). See tg_link.h. */
typedef tg_link_ops_t edge_link_ops_t;

/* The protocol the link's adopted descriptor runs under; give it its own
   non-listening vhost. */
#define EDGE_LINK_PROTOCOL "telegraphy-link"

/* Caller owns the result: a DEALER socket connected (asynchronously) to
   cfg->router with routing id = instance (tg_instance_new; copied).
   Borrows cfg, metrics (bad router messages, pauses and monitor drops
   are counted there) and pressure (the session queues' levels: the link
   pauses its reading when one reaches high water, and listens for the
   drain; see edge_link.c). now: the loop's time at start (uptime counts
   from it). NULL with a sentence in error when the endpoint is
   malformed. */
edge_link_t *edge_link_new(const tg_config_t *cfg, const char *instance, const edge_link_ops_t *ops,
                           edge_metrics_t *metrics, edge_pressure_t *pressure, tg_now_t now,
                           char *error, size_t error_size);

/* Hands the socket to the event loop: adopts a dup() of its ZMQ_FD on
   vhost (protocol EDGE_LINK_PROTOCOL), drains once, sends HELLO and
   starts the heartbeat timer. now: the loop's time. Returns 0, or -1 with
   a sentence in error. */
int edge_link_attach(edge_link_t *self, struct lws_context *context, struct lws_vhost *vhost,
                     tg_now_t now, char *error, size_t error_size);

/* Stops the timers; call before lws_context_destroy(). Safe twice. */
void edge_link_detach(edge_link_t *self);

/* Closes the socket and frees the link. Detach first (checked). Safe on
   NULL and twice. */
void edge_link_destroy(edge_link_t **self_p);

/* Sends an envelope to the router (borrowed; a body is moved out). Never
   blocks. Returns 0, or -1 when dropped (router unreachable, high-water
   mark). */
int edge_link_send(edge_link_t *self, tg_envelope_t *envelope);

/* True once the router welcomed us and has not gone silent since. */
bool edge_link_ready(const edge_link_t *self);

/* True when the router was heard within the three heartbeats before
   now_ms (the loop's monotonic time). */
bool edge_link_connected(const edge_link_t *self, int64_t now_ms);

/* The lws protocol callback of EDGE_LINK_PROTOCOL. */
int edge_link_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

#endif
