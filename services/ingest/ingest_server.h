/*  ingest_server: the ingest service as an actor.

    Binds a PULL socket on cfg->ingest (fire-and-forget publishers) and a
    ROUTER socket on cfg->ingest_ack (acknowledged publish/register, used by
    telegraphy-ctl), connects a DEALER to the router at cfg->router (routing
    id = this instance's id), and runs one zloop over them in its own thread:

    - PUBLISH: checks the type is registered, the body size and shape
      (tg_body_validate), stamps pub_id and ts and forwards an EVENT whose
      body frame is the publisher's, moved, never re-encoded. On the ack
      socket the publisher gets ACCEPTED{req, pub_id} or REJECTED.
    - REGISTER: validated, stored, forwarded to the router with ingest's own
      req; the router's answer is relayed to the client (ingest_pending).
    - Router link: HELLO at start, HEARTBEAT with stats every heartbeat_ms,
      and a resync (HELLO + every REGISTER) when the router forgets us or
      restarts.

    Tests start it in-process on tcp://127.0.0.1:* and ask for the endpoints.
*/
#ifndef INGEST_SERVER_H
#define INGEST_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "tg_config.h"

/* Error URIs sent in REJECTED. */
#define INGEST_ERROR_UNKNOWN_EVENT "telegraphy.error.unknown_event"
#define INGEST_ERROR_TOO_LARGE     "telegraphy.error.too_large"
#define INGEST_ERROR_INVALID_EVENT "telegraphy.error.invalid_event"
#define INGEST_ERROR_UNAVAILABLE   "telegraphy.error.unavailable"
#define INGEST_ERROR_BAD_REQUEST   "telegraphy.error.bad_request"

/* A REGISTER the router has not answered after this many heartbeat
   intervals is refused (the router is presumed gone, as for peers)... */
#define INGEST_PENDING_HEARTBEATS 3
/* ...but never later than this, so that telegraphy-ctl (default timeout
   5000 ms) hears "router did not answer" rather than timing out. */
#define INGEST_PENDING_TIMEOUT_MAX_MS 4000

/* How long closing the router link may wait to hand over events already
   accepted (a clean stop should not lose them; a dead router must not hold
   the stop up for long). */
#define INGEST_LINGER_MS 500

/* Messages read from one socket before the loop looks at the others. */
#define INGEST_READ_BUDGET 256

typedef struct _ingest_server_t ingest_server_t;

/* A snapshot of the counters (the same names as in HEARTBEAT). */
typedef struct {
    uint64_t events_in;   /* PUBLISH messages received (both sockets) */
    uint64_t events_out;  /* EVENT messages handed to the router link */
    uint64_t rejected;    /* PUBLISH/REGISTER refused (REJECTED, or dropped on PULL) */
    uint64_t drops;       /* valid events lost because the router link was full (PULL) */
    uint64_t bad_input;   /* undecodable or unexpected messages, any socket */
    uint64_t event_types; /* types in the local registry */
    uint64_t queue_depth; /* REGISTER requests waiting for the router */
    uint64_t resyncs;     /* times the router link was re-synchronised */
} ingest_stats_t;

/* Starts the actor with a copy of cfg. Caller owns the result. Returns NULL
   when a socket cannot be bound or connected; then `error` (if not NULL)
   holds a message naming the endpoint, e.g.
   "cannot bind tcp://127.0.0.1:5560 (ingest): Address already in use". */
ingest_server_t *ingest_server_new(const tg_config_t *cfg, char *error, size_t errlen);

/* Stops the actor and frees everything. Safe on NULL and twice. */
void ingest_server_destroy(ingest_server_t **self_p);

/* The endpoints actually bound (ports resolved), valid while self lives. */
const char *ingest_server_endpoint(const ingest_server_t *self);
const char *ingest_server_ack_endpoint(const ingest_server_t *self);

/* This process's instance id (the routing id towards the router). */
const char *ingest_server_instance(const ingest_server_t *self);

/* Copies the actor's counters into *stats. Returns 0, or -1 if the actor
   did not answer. */
int ingest_server_stats(ingest_server_t *self, ingest_stats_t *stats);

#endif
