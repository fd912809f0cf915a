/*  router_broker: what the router does with each message, apart from the
    sockets' loop (router_actor): the peer table, the event registry, the
    subscription index, matching and fan-out, peer expiry and the counters.

    Peer socket (edges and ingests, DEALER -> our ROUTER):
      HELLO        -> (re)register the peer, forget an edge's old
                      subscriptions; WELCOME + one REGISTER per known type.
      HEARTBEAT    -> HEARTBEAT{instance = ours, known}.
      REGISTER     (ingest) -> store; ACCEPTED{req} or REJECTED{req, ...};
                      the REGISTER to every other peer when it changed.
      EVENT        (ingest) -> one EVENT per interested edge with its own
                      sub_ids and the same body bytes.
      SUBSCRIBE    (edge) -> SUBSCRIBED{req, sub_id} | SUBSCRIBE_ERROR; the
                      filter is compiled here, once per SUBSCRIBE, and
                      equivalent spellings share one subscription.
      UNSUBSCRIBE  (edge) -> remove, no reply.
      MONITOR      (any peer, known or not) -> republished on the tap
                      socket (router_tap), if one is set.
      TOKEN_SPEND  (edge) -> with req: ACCEPTED{req} (first spend of the
                      jti), REJECTED{req, telegraphy.error.token_replayed},
                      or REJECTED{req, telegraphy.error.unavailable} during
                      the first 3 heartbeats after start and when the set
                      of spent jtis is full (fail closed); without req (an
                      edge's resync): recorded, no reply. Spent jtis are
                      kept until their exp and purged on the tick.
    Persistence (router_persist.c; docs/protocol.md "Persistence"):
      HELLO role persist -> one live persist at a time; it holds
                      subscriptions like an edge.
      EVENT of a guaranteed/ttl type -> STORE to persist; a guaranteed one
                      held (router_store) until persist's ACCEPTED/REJECTED
                      or the deadline (cfg.store_timeout_ms, on the tick).
      SUBSCRIBE persistent/since (edge) -> RESUME; persist's answer
                      -> SUBSCRIBED{replay} | SUBSCRIBE_ERROR{pub_id}.
      REPLAY, REPLAY_END (persist) -> relayed to the edge as received.
      MORE, ACK, UNSUBSCRIBE{client_id} (edge) -> to persist.
      REGISTER, TOKEN_SPEND (persist, re-sync) -> adopted if unknown /
                      recorded.
    A command only an edge or an ingest may send, from a peer that never
    said HELLO (or expired), gets HEARTBEAT{known = false} (at most once per
    tick), which makes it resync.
    Control socket (telegraphy-ctl): STATUS{req} -> STATUS_REPLY.

    Who may send what, and which function handles it, is one table
    (s_commands in router_broker.c: command, senders among ingest / edge /
    unknown peer / control, handler, and what an unknown peer's message
    does). Anything else, or from a sender not allowed, is bad input:
    counted, logged rate-limited, dropped.

    Time is the loop's: every entry point takes the tg_now_t of the turn.
*/
#ifndef ROUTER_BROKER_H
#define ROUTER_BROKER_H

#include <czmq.h>
#include <stdint.h>

#include "tg_clock.h"
#include "tg_envelope.h"
#include "tg_query.h"

/* How often a bad-input or drop line may be logged, per kind. */
#define ROUTER_LOG_INTERVAL_MS 10000

/* Routing ids told "unknown" per tick at most: a bound on that memory. */
#define ROUTER_MAX_UNKNOWN 4096

typedef struct _router_broker_t router_broker_t;

/* Counters, as reported in STATUS (see common stat names). */
typedef struct {
    uint64_t events_in;      /* EVENTs received from ingests */
    uint64_t events_out;     /* EVENT messages sent to edges */
    uint64_t drops;          /* events or replies not delivered */
    uint64_t bad_input;      /* malformed or misplaced messages */
    int64_t events_in_per_s; /* over the last tick */
    int64_t events_out_per_s;
    size_t subscriptions; /* distinct subscriptions */
    size_t edges;
    size_t ingests;
    size_t event_types;
    size_t spent_tokens;     /* jtis remembered as spent */
    uint64_t tap_drops;      /* TAP and MONITOR messages the tap socket refused */
    size_t stores_pending;   /* guaranteed events and resumes waiting for persist */
    uint64_t store_rejected; /* guaranteed events refused: persist absent, refused, late */
    uint64_t retention_lost; /* ttl events routed unstored (persist absent) */
    bool persist;            /* a persist is connected */
} router_broker_stats_t;

/* Caller owns the result. `peer_socket` (the
   ROUTER for edges and ingests) is borrowed and must outlive the broker.
   `instance` and `limits` (the filter parser's; NULL = the defaults) are
   copied. Peers expire after 3 * heartbeat_ms of silence. */
router_broker_t *router_broker_new(zsock_t *peer_socket, const char *instance,
                                   uint32_t heartbeat_ms, const tg_query_limits_t *limits,
                                   tg_now_t now);

/* How long a guaranteed event or a resume waits for persist's answer
   (cfg.store_timeout_ms; 0 = ROUTER_STORE_TIMEOUT_MS). */
void router_broker_set_store_timeout(router_broker_t *self, uint32_t timeout_ms);

/* Safe on NULL and twice. */
void router_broker_destroy(router_broker_t **self_p);

/* Handles one message read from the peer socket (routing id first).
   Takes ownership of *msg_p and nulls it. */
void router_broker_handle_peer(router_broker_t *self, zmsg_t **msg_p, tg_now_t now);

/* Handles one message read from `control` (a ROUTER; routing id first, an
   optional empty delimiter from REQ clients); replies on it. Takes
   ownership of *msg_p and nulls it. */
void router_broker_handle_control(router_broker_t *self, zsock_t *control, zmsg_t **msg_p,
                                  tg_now_t now);

/* Periodic work, every heartbeat_ms: rates, expiry of silent peers, purge
   of expired spent jtis. */
void router_broker_tick(router_broker_t *self, tg_now_t now);

/* Sets the tap socket (a PUB from router_tap_bind; borrowed, must outlive
   the broker; NULL = none): one TAP per routed event with a known type, and
   every MONITOR from a peer, are published there. */
void router_broker_set_tap(router_broker_t *self, zsock_t *tap);

/* Whether a subscriber of the tap socket wants TAP messages (see
   router_tap_viewers); without one no TAP is built. */
void router_broker_set_tap_viewers(router_broker_t *self, bool viewers);

/* Publishes the router's own MONITOR envelope (destroyed here) on the tap
   socket; counts a drop in tap_drops. */
void router_broker_publish_monitor(router_broker_t *self, tg_envelope_t **env_p);

void router_broker_stats(const router_broker_t *self, router_broker_stats_t *stats);

#endif
