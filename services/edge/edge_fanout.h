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
#include "tg_clock.h"
#include "tg_envelope.h"

typedef struct _edge_broker_t edge_broker_t;

typedef struct _edge_fanout_t edge_fanout_t;

/* Caller owns the result. */
edge_fanout_t *edge_fanout_new(void);

/* Safe on NULL and twice. */
void edge_fanout_destroy(edge_fanout_t **self_p);

/* Delivers a router EVENT (borrowed) to the members of its sub_ids found
   in the broker's subscription table. Counts events_in, drops and bad
   bodies in the broker's metrics. expires_at: the event's expiry (ts +
   its type's ttl, µs since the epoch; 0 = none), stamped on its frames:
   already past at now, the event is dropped (expired_drops). A session
   replaying that subscription holds the frame instead (edge_durable).
   Returns the number of session deliveries queued or held. */
size_t edge_fanout_deliver(edge_fanout_t *self, edge_broker_t *broker, const tg_envelope_t *event,
                           uint64_t expires_at, tg_now_t now);

#endif
