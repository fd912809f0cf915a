/*  edge_actor: the edge process as a tg_actor (lib/tg_actor.h): the
    libwebsockets context with two vhosts (the listening one for HTTP +
    WAMP WebSockets; a non-listening one holding the router link's and the
    actor pipe's descriptors), the broker, the router link and the
    housekeeping timer, all driven by one thread running lws's service
    loop. See edge_actor.c for why that loop and not tg_loop.

    Start:   tg_actor_start(&edge_actor_class, &cfg, error, size) listens
             on cfg->edge_host:edge_port and connects to cfg->router; it
             reports "port" (the bound port, resolved when 0 was asked)
             and "instance" (the edge's instance id, its routing id at
             the router), or fails with a sentence (e.g. the port is in
             use).
    Stop:    tg_actor_destroy() sends $TERM: every session closes with 1001
             "going away" (bounded by EDGE_WS_CLOSE_MS), then the context
             and the link go.
*/
#ifndef EDGE_ACTOR_H
#define EDGE_ACTOR_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge_broker.h"
#include "tg_actor.h"
#include "tg_buf.h"

/* The class; args of tg_actor_start: a const tg_config_t * (copied). */
extern const tg_actor_class_t edge_actor_class;

typedef struct _edge_actor_t edge_actor_t;

/* For the lws callbacks (edge_ws, edge_http), on the actor's thread. All
   borrowed. */
edge_actor_t *edge_actor_from_wsi(struct lws *wsi);
edge_broker_t *edge_actor_broker(edge_actor_t *self);

/* True once $TERM arrived: sessions are being closed, new ones refused. */
bool edge_actor_stopping(const edge_actor_t *self);
/* TELEGRAPHY_ALLOWED_ORIGINS (borrowed), NULL = the default rule
   (edge_origin.h). */
const char *edge_actor_allowed_origins(const edge_actor_t *self);

/* True when the router was heard within three heartbeats before now_ms
   (the loop's monotonic time). */
bool edge_actor_router_connected(const edge_actor_t *self, int64_t now_ms);

/* Appends the Prometheus exposition of the edge's metrics to out, the
   router link judged at now_ms. */
void edge_actor_render_metrics(edge_actor_t *self, int64_t now_ms, tg_buf_t *out);

#endif
