/*  edge_http: plain HTTP on the edge's port — GET /healthz (liveness and
    the router link's state) and GET /metrics (Prometheus text). Anything
    else is 404; a plain GET of the WebSocket path is 426.
*/
#ifndef EDGE_HTTP_H
#define EDGE_HTTP_H

#include <libwebsockets.h>

/* The lws callback of the vhost's first ("http") protocol. It also refuses
   WebSocket upgrades that named no WAMP subprotocol. */
int edge_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

#endif
