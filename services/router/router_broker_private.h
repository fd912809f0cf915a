/*  router_broker_private: the broker's state and the helpers its handler
    files share (router_broker.c: peers, registry, subscriptions, events;
    router_persist.c: everything about persist). Private to those two
    files; the rest of the router uses router_broker.h.
*/
#ifndef ROUTER_BROKER_PRIVATE_H
#define ROUTER_BROKER_PRIVATE_H

#include "router_broker.h"
#include "router_index.h"
#include "router_map.h"
#include "router_peers.h"
#include "router_store.h"
#include "router_tokens.h"
#include "tg_event_type.h"
#include "tg_log.h"
#include "tg_rate.h"

#define ROUTER_ERROR_UNAVAILABLE "telegraphy.error.unavailable"
#define ROUTER_ERROR_INTERNAL    "telegraphy.error.internal"

struct _router_broker_t {
    zsock_t *socket;            /* borrowed: the ROUTER for edges, ingests and persist */
    zsock_t *tap;               /* borrowed: PUB for TAP/MONITOR, or NULL */
    uint64_t tap_drops;         /* sends the tap socket refused */
    bool tap_viewers;           /* some subscription of the tap socket wants TAP */
    char *instance;             /* owned: our instance id, new at every start */
    uint32_t heartbeat_ms;      /* tick period; peers expire after 3 of them */
    tg_query_limits_t limits;   /* filter length, depth, list size */
    int64_t started_ms;         /* monotonic ms at start (the loop's clock), for uptime */
    router_index_t *index;      /* subscriptions; edges are router_peer_t pointers */
    tg_registry_t *registry;    /* event types, the authoritative copy */
    router_peers_t *peers;      /* peers that said HELLO */
    router_tokens_t *tokens;    /* spent ws token ids (TOKEN_SPEND) */
    router_map_t *told_unknown; /* routing ids told known=false this tick */
    router_peer_t **touched;    /* edges with ids in their batch for the event being routed;
                                   ROUTER_MAX_PEERS entries, allocated once */
    size_t touched_count;
    uint64_t events_in, events_out, drops, bad_input;
    tg_rate_t rate_in;              /* events_in per second, sampled on the tick */
    tg_rate_t rate_out;             /* events_out per second */
    tg_log_limiter_t bad_limiter;   /* bad input lines */
    tg_log_limiter_t drop_limiter;  /* undelivered event lines */
    tg_log_limiter_t spend_limiter; /* refused token spends */
    /* persistence (router_persist.c) */
    router_peer_t *persist;         /* borrowed from peers: the live persist, or NULL */
    router_store_t *store;          /* what waits for persist's answer */
    uint32_t store_timeout_ms;      /* how long it may wait */
    uint64_t store_req;             /* the last req of a STORE we sent */
    uint64_t store_rejected;        /* guaranteed events refused (persist absent, refused, late) */
    uint64_t retention_lost;        /* ttl events routed without being stored (persist absent) */
    tg_log_limiter_t store_limiter; /* persistence lines */
};

/* Who sent a message, a bit each for the command table's `senders`. */
typedef enum {
    ROUTER_FROM_INGEST = 1 << 0, /* a peer that said HELLO as an ingest */
    ROUTER_FROM_EDGE = 1 << 1,   /* a peer that said HELLO as an edge */
    ROUTER_FROM_UNKNOWN =
        1 << 2, /* a routing id on the peer socket that never said HELLO, or expired */
    ROUTER_FROM_CONTROL = 1 << 3, /* telegraphy-ctl, on the control socket */
    ROUTER_FROM_PERSIST = 1 << 4, /* the peer that said HELLO as persist */
} router_sender_t;

/* One message being handled: what every handler is given. */
typedef struct {
    zsock_t *socket;      /* borrowed: where replies go (the peer or the control ROUTER) */
    zframe_t *routing_id; /* borrowed: the sender's */
    zframe_t *delimiter;  /* borrowed: a REQ client's empty frame, put back on replies; or NULL */
    router_peer_t *peer;  /* borrowed: the sender, NULL unless a peer that said HELLO */
    tg_envelope_t *env;   /* owned by the dispatcher; a handler may take it or its fields */
    tg_now_t now;         /* the loop's time */
} router_request_t;

/* Counts and logs (rate-limited) a bad message. */
void router_broker_bad_input(router_broker_t *self, const char *socket, const char *reason,
                             const router_peer_t *peer);

/* Sends *env_p (destroyed) to the request's sender / to a peer; a failed
   send is a counted drop. */
void router_broker_reply(router_broker_t *self, const router_request_t *request,
                         tg_envelope_t **env_p);
void router_broker_send_peer(router_broker_t *self, zframe_t *routing_id, tg_envelope_t **env_p);

/* A REJECTED / SUBSCRIBE_ERROR {req = the request's, error, message}. */
void router_broker_refuse(router_broker_t *self, const router_request_t *request,
                          tg_command_t command, const char *error, const char *message);

/* One REGISTER (no req) of type to a peer. */
void router_broker_send_register(router_broker_t *self, zframe_t *routing_id,
                                 const tg_event_type_t *type);

/* A known role's command from an unknown peer: HEARTBEAT{known = false},
   once per tick. */
void router_broker_stranger(router_broker_t *self, router_request_t *request);

/* Routes `event` (an EVENT as an ingest sent it, of `type`): matches it
   and fills the holders' batches (persist's included, whose ids become a
   STORE's sub_ids). router_broker_fanout then sends every edge in the
   batch its EVENT (never persist) with `header` (NULL = encoded here) and
   clears every batch; router_broker_drop_batches clears them unsent. */
void router_broker_match(router_broker_t *self, const tg_envelope_t *event, bool tap);
void router_broker_fanout(router_broker_t *self, const tg_envelope_t *event,
                          const tg_event_type_t *type, zframe_t *header);
void router_broker_drop_batches(router_broker_t *self);

/* Adds `peer` as a holder of (match, topic, filter: taken) like a
   SUBSCRIBE; 0 and *sub_id, or -1 (logged). */
int router_broker_hold(router_broker_t *self, tg_match_t match, const char *topic,
                       tg_query_t **filter_p, router_peer_t *peer, uint64_t *sub_id);

/* Forgets a peer: its subscriptions, and (persist) what waits for it. */
size_t router_broker_forget(router_broker_t *self, router_peer_t *peer);

/* ---- router_persist.c --------------------------------------------------- */

/* HELLO from a persist: false (refused, logged) while another live one is
   there; else the previous one is forgotten and the caller adds this one. */
bool router_persist_hello(router_broker_t *self, router_request_t *request);

/* Persist `peer` was added / is being forgotten: what waits for it is
   answered unavailable. */
void router_persist_joined(router_broker_t *self, router_peer_t *peer);
void router_persist_left(router_broker_t *self, router_peer_t *peer);

/* After matching an EVENT: sends the STORE it needs. Returns true when the
   event is handled (held for persist's answer, or refused): the caller
   does not fan it out. Takes request->env when it holds it. Otherwise the
   caller routes it, with *header_p when set: the EVENT header already
   encoded for the STORE (the caller owns it). */
bool router_persist_event(router_broker_t *self, router_request_t *request,
                          const tg_event_type_t *type, zframe_t **header_p);

/* SUBSCRIBE with persistent or since from an edge, after the checks of
   every SUBSCRIBE: RESUME to persist (takes *filter_p) and a pending
   entry, or SUBSCRIBE_ERROR. */
void router_persist_subscribe(router_broker_t *self, router_request_t *request,
                              tg_query_t **filter_p);

/* After a TOKEN_SPEND from an edge was recorded: forwarded to persist. */
void router_persist_token_spent(router_broker_t *self, const tg_envelope_t *spend);

/* The deadlines, on the tick. */
void router_persist_tick(router_broker_t *self, tg_now_t now);

/* Handlers of the command table. */
void router_persist_on_answer(router_broker_t *self,
                              router_request_t *request); /* ACCEPTED, REJECTED */
void router_persist_on_replay(router_broker_t *self,
                              router_request_t *request); /* REPLAY, REPLAY_END */
void router_persist_on_forward(router_broker_t *self, router_request_t *request); /* MORE, ACK */
void router_persist_on_register(router_broker_t *self,
                                router_request_t *request);                     /* from persist */
void router_persist_on_token(router_broker_t *self, router_request_t *request); /* from persist */

#endif
