/*  edge_broker: the edge's WAMP broker, without sockets.

    Owns the sessions' shared state: the local subscription table, the
    event registry copy, the counters. Connections feed it client bytes
    (edge_broker_session_input), the router link feeds it router messages
    (edge_broker_router_message); it answers sessions through their queues
    and talks to the router through an edge_router_port_t. Because neither
    side is a socket here, the whole WAMP behaviour is unit-tested
    in-process.

    Subscription rule ("SUBSCRIBED means live", DESIGN 2.3): a session is
    told SUBSCRIBED only once the router confirmed the key; one SUBSCRIBE
    per key goes to the router however many sessions wait; the last local
    session leaving a key sends UNSUBSCRIBE.
*/
#ifndef EDGE_BROKER_H
#define EDGE_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "edge_auth.h"
#include "edge_metrics.h"
#include "edge_router_port.h"
#include "edge_session.h"
#include "edge_subs.h"
#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"
#include "tg_event_type.h"

/* How long sessions wait for the router's SUBSCRIBED. */
#define EDGE_SUBSCRIBE_TIMEOUT_MS 10000

typedef struct _edge_broker_t edge_broker_t;

/* Caller owns the result. Borrows cfg and transport (they must outlive the
   broker); copies router (edge_router_port.h). */
edge_broker_t *edge_broker_new(const tg_config_t *cfg, const edge_transport_t *transport,
                               const edge_router_port_t *router);

/* Frees the broker. Every session must be closed first (asserted). Safe on
   NULL and twice. */
void edge_broker_destroy(edge_broker_t **self_p);

/* A WebSocket was established with this serializer; handle is the
   connection. Returns the new session (the broker keeps count; the caller
   stores it with the connection and hands it back to
   edge_broker_session_closed), or NULL when max_sessions is reached
   (counted): then refuse the connection. */
edge_session_t *edge_broker_session_open(edge_broker_t *self, tg_wamp_serializer_t serializer,
                                         void *handle);

/* One complete WebSocket message from the session (borrowed bytes).
   binary: the frame opcode; now: the loop's time. Never asserts on the
   bytes. */
void edge_broker_session_input(edge_broker_t *self, edge_session_t *session, const void *data,
                               size_t size, bool binary, tg_now_t now);

/* Bad input detected below the WAMP layer (e.g. a message over
   max_message): counts it, ABORTs the session and closes with close_code. */
void edge_broker_session_reject(edge_broker_t *self, edge_session_t *session, edge_bad_input_t kind,
                                const char *message, int close_code);

/* The connection is gone: removes the session from every subscription
   (telling the router about keys nobody holds any more) and destroys it.
   Nulls *session_p; safe on NULL. */
void edge_broker_session_closed(edge_broker_t *self, edge_session_t **session_p, tg_now_t now);

/* A message from the router (borrowed; REGISTER's event type and EVENT's
   body may be moved out): SUBSCRIBED, SUBSCRIBE_ERROR, EVENT, REGISTER,
   and ACCEPTED / REJECTED (the verdicts on token spends, edge_auth).
   Anything else is counted as bad internal input. A SUBSCRIBE_ERROR for a
   key that was live (a refused resync) leaves the key live and
   "resyncing": re-sent by edge_broker_tick() and when a REGISTER of its
   topic arrives, until the router accepts it. now: the loop's time. */
void edge_broker_router_message(edge_broker_t *self, tg_envelope_t *envelope, tg_now_t now);

/* The router (re)welcomed this edge: re-sends every subscription key with
   new request ids, so a restarted router rebuilds its index, and every
   token id this edge spent and that has not expired at now
   (edge_auth_resync). */
void edge_broker_resync(edge_broker_t *self, tg_now_t now);

/* Periodic housekeeping: answers sessions whose SUBSCRIBE the router left
   unanswered past the timeout, and, at most once per heartbeat_ms,
   re-sends the keys the router refused at resync (they stay live for
   their sessions until the router takes them back); refuses the
   authentications whose token spend the router left unanswered
   (edge_auth_tick). now: the loop's time. */
void edge_broker_tick(edge_broker_t *self, tg_now_t now);

/* Subscribes a session that passed the WAMP checks (edge_wamp). */
void edge_broker_subscribe(edge_broker_t *self, edge_session_t *session, int64_t request,
                           tg_match_t match, const char *topic, const char *filter, tg_now_t now);

/* Unsubscribes; replies UNSUBSCRIBED or ERROR no_such_subscription. */
void edge_broker_unsubscribe(edge_broker_t *self, edge_session_t *session, int64_t request,
                             int64_t subscription, tg_now_t now);

/* The writer popped frames from the session's queue: replays waiting for
   room may ask persist for more (edge_durable_drained). */
void edge_broker_session_written(edge_broker_t *self, edge_session_t *session);

/* For edge_durable, the broker's other half: its index of durable
   records (borrowed), this edge's instance id, a message to the router
   (0, or -1 when dropped), whether the router welcomed us, a fresh
   request id, and the release of an entry nobody uses any more (the
   router is told when it was live). */
typedef struct _edge_durables_t edge_durables_t;
edge_durables_t *edge_broker_durables(edge_broker_t *self);
const char *edge_broker_instance(const edge_broker_t *self);
int edge_broker_router_send(edge_broker_t *self, tg_envelope_t *envelope);
bool edge_broker_router_ready(edge_broker_t *self);
uint64_t edge_broker_next_request(edge_broker_t *self);
void edge_broker_release_sub(edge_broker_t *self, edge_sub_t *sub, int64_t now_ms);

/* Accessors (borrowed). */
const tg_config_t *edge_broker_config(const edge_broker_t *self);
tg_registry_t *edge_broker_registry(edge_broker_t *self);
edge_metrics_t *edge_broker_metrics(edge_broker_t *self);
edge_subs_t *edge_broker_subs(edge_broker_t *self);
edge_auth_t *edge_broker_auth(edge_broker_t *self);
/* What every session reports its queue level to; the router link listens. */
edge_pressure_t *edge_broker_pressure(edge_broker_t *self);
size_t edge_broker_session_count(const edge_broker_t *self);

/* Samples the gauges (router_connected is left for the caller to set). */
void edge_broker_gauges(const edge_broker_t *self, edge_gauges_t *gauges);

#endif
