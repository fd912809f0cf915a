/*  ingest_actor: the ingest service as an actor (tg_actor + tg_loop).

    Binds a PULL socket on cfg->ingest (fire-and-forget publishers) and a
    ROUTER socket on cfg->ingest_ack (acknowledged publish/register, used by
    telegraphy-ctl), connects a DEALER to the router at cfg->router (routing
    id = this instance's id), and serves them with one tg_loop on the
    actor's thread; what each message does is ingest_broker's:

    - PUBLISH: checks the type is registered, the body size and shape
      (tg_body_validate), stamps pub_id and ts and forwards an EVENT whose
      body frame is the publisher's, moved, never re-encoded. On the ack
      socket the publisher gets ACCEPTED{req, pub_id} or REJECTED.
    - REGISTER: validated, stored, forwarded to the router with ingest's own
      req; the router's answer is relayed to the client (ingest_pending).
    - Router link: HELLO at start, HEARTBEAT with stats every heartbeat_ms,
      and a resync (HELLO + every REGISTER) when the router forgets us or
      restarts.

    Started with tg_actor_start(&ingest_actor_class, &cfg, ...) (cfg is a
    const tg_config_t *, copied). It reports "ingest" and "ingest_ack" (the
    endpoints bound, ports resolved) and "instance" (its id, the routing id
    at the router); a start-up failure is a sentence naming the socket and
    the endpoint. Tests start it in-process on tcp://127.0.0.1:! and read
    the endpoints.
*/
#ifndef INGEST_ACTOR_H
#define INGEST_ACTOR_H

#include "ingest_broker.h"
#include "tg_actor.h"

/* How long closing the router link may wait to hand over events already
   accepted (a clean stop should not lose them; a dead router must not hold
   the stop up for long). */
#define INGEST_LINGER_MS 500

/* Messages read from one socket before the loop looks at the others. */
#define INGEST_READ_BUDGET 256

extern const tg_actor_class_t ingest_actor_class;

/* Asks the running ingest actor for a copy of its counters. Returns 0, or
   -1 if the actor did not answer. */
int ingest_actor_stats(tg_actor_t *actor, ingest_stats_t *stats);

#endif
