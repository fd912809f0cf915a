/*  edge_fanout: the hot path, one router EVENT to every local session
    that should see it (DESIGN 1, STYLE "Hot paths").

    For each subscription id named by the router, the WAMP EVENT is encoded
    at most once per serializer into one shared frame, and every eligible
    member session queues a reference to it: no allocation and no encoding
    per (event x session). The JSON kwargs are rendered once per event, and
    only when a JSON session needs them; msgpack sessions get the body
    bytes verbatim. Audience and to_users are checked per session on every
    delivery.
*/
#ifndef EDGE_FANOUT_H
#define EDGE_FANOUT_H

#include "edge_metrics.h"
#include "edge_subs.h"
#include "tg_envelope.h"

typedef struct _edge_fanout_t edge_fanout_t;

/* Caller owns the result. */
edge_fanout_t *edge_fanout_new(void);

/* Safe on NULL and twice. */
void edge_fanout_destroy(edge_fanout_t **self_p);

/* Delivers a router EVENT (borrowed) to the members of its sub_ids found
   in subs. Counts events_in, drops and bad bodies in metrics. Returns the
   number of session deliveries queued. */
size_t edge_fanout_deliver(edge_fanout_t *self, edge_subs_t *subs, edge_metrics_t *metrics,
                           const tg_envelope_t *event);

#endif
