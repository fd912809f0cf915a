/*  edge_server: the edge process's parts put together — the lws context
    with two vhosts (the listening one for HTTP + WAMP WebSockets, and a
    non-listening one holding the router link's descriptor), the broker,
    the router link and the housekeeping timer — and the single-threaded
    service loop that drives them all.
*/
#ifndef EDGE_SERVER_H
#define EDGE_SERVER_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "edge_broker.h"
#include "tg_buf.h"
#include "tg_config.h"

typedef struct _edge_server_t edge_server_t;

/* Caller owns the result: listening on cfg->edge_host:edge_port and
   connecting to cfg->router. Borrows cfg. NULL on failure, with the
   reason logged (e.g. the port is in use). */
edge_server_t *edge_server_new(const tg_config_t *cfg);

/* Closes every connection (sessions are freed in their close callbacks),
   then the router link. Safe on NULL and twice. */
void edge_server_destroy(edge_server_t **self_p);

/* Serves until edge_server_stop(). Returns 0, or -1 if the loop failed. */
int edge_server_run(edge_server_t *self);

/* Asks the loop to return; safe from a signal handler (sets a flag and
   wakes the loop with lws_cancel_service). */
void edge_server_stop(edge_server_t *self);

/* True once edge_server_stop() was called: sessions are being closed. */
bool edge_server_stopping(const edge_server_t *self);

/* The port actually listened on. */
int edge_server_port(const edge_server_t *self);

/* For the lws callbacks. */
edge_server_t *edge_server_from_wsi(struct lws *wsi);
edge_broker_t *edge_server_broker(edge_server_t *self);
bool edge_server_router_connected(const edge_server_t *self);

/* Appends the Prometheus exposition of the edge's metrics to out. */
void edge_server_render_metrics(edge_server_t *self, tg_buf_t *out);

#endif
