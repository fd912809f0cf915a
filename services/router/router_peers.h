/*  router_peers: the processes (edges, ingests, persist) connected to the router's
    ROUTER socket that said HELLO, keyed by their ZeroMQ routing id.

    Each peer also carries the fan-out scratch of the event being routed
    (the ids of its matching subscriptions), reused from event to event so
    routing allocates nothing per (event x edge) once warmed up.

    A peer's fields are read by the other router files but changed only by
    the functions below (router_peers.c owns them).
*/
#ifndef ROUTER_PEERS_H
#define ROUTER_PEERS_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_envelope.h"

/* The peer table's bound: a HELLO beyond it is refused (bad input). */
#define ROUTER_MAX_PEERS 4096

/* persist: at most one live at a time (router_persist.c decides). */
typedef enum {
    ROUTER_ROLE_EDGE = 0,
    ROUTER_ROLE_INGEST = 1,
    ROUTER_ROLE_PERSIST = 2
} router_role_t;

typedef struct {
    zframe_t *routing_id; /* owned: the ROUTER's identity of the peer */
    router_role_t role;
    char *instance;        /* owned: the id it gave in HELLO */
    int64_t joined_ms;     /* monotonic ms (the loop's clock) at HELLO */
    int64_t last_heard_ms; /* monotonic ms of the last message from it */
    uint64_t uptime_ms;    /* as last reported in HEARTBEAT */
    tg_stat_t *stats;      /* owned: last HEARTBEAT stats */
    size_t stats_count;
    uint64_t *batch_ids; /* owned: subscription ids of the event being routed */
    size_t batch_count;
    size_t batch_capacity;
} router_peer_t;

typedef struct _router_peers_t router_peers_t;

/* Caller owns the result. */
router_peers_t *router_peers_new(void);

/* Frees every peer; safe on NULL and twice. */
void router_peers_destroy(router_peers_t **self_p);

/* Borrowed peer with this routing id, or NULL. */
router_peer_t *router_peers_lookup(const router_peers_t *self, zframe_t *routing_id);

/* Adds a peer (routing_id and instance copied). Returns the borrowed new
   peer, or NULL when the table is full (ROUTER_MAX_PEERS) or the routing
   id already present. */
router_peer_t *router_peers_add(router_peers_t *self, zframe_t *routing_id, router_role_t role,
                                const char *instance, int64_t now_ms);

/* Removes and frees peer (a pointer returned by this table). The order of
   the others (router_peers_at) may change. */
void router_peers_remove(router_peers_t *self, router_peer_t *peer);

size_t router_peers_size(const router_peers_t *self);

/* The i-th peer, i < router_peers_size(); borrowed. */
router_peer_t *router_peers_at(const router_peers_t *self, size_t i);

/* Number of peers with this role. */
size_t router_peers_count(const router_peers_t *self, router_role_t role);

/* The peer was heard from at now_ms (any message that decoded). */
void router_peer_heard(router_peer_t *peer, int64_t now_ms);

/* Records what its HEARTBEAT reported: its uptime and a copy of (stats,
   count), replacing the previous ones. */
void router_peer_heartbeat(router_peer_t *peer, uint64_t uptime_ms, const tg_stat_t *stats,
                           size_t count);

/* Appends a subscription id to the peer's batch for the event being
   routed. Returns true when it is the batch's first id (the caller then
   lists the peer among the edges to send to). */
bool router_peer_batch_add(router_peer_t *peer, uint64_t sub_id);

/* Empties the batch once the event was sent (its memory is kept). */
void router_peer_batch_clear(router_peer_t *peer);

/* "edge" / "ingest" / "persist". router_role_parse: 0 and *role set, or -1. */
const char *router_role_name(router_role_t role);
int router_role_parse(const char *text, router_role_t *role);

#endif
