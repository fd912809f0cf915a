/*  ingest_broker: what the ingest does with each message, apart from the
    actor that owns the sockets and the loop (ingest_actor.c).

    Publisher side (PULL and the ack ROUTER): PUBLISH is checked and
    forwarded as an EVENT, REGISTER is checked, stored and forwarded; on the
    ack socket every request gets ACCEPTED or REJECTED. Router side: the
    conversation every peer has (HELLO, WELCOME, HEARTBEAT, HELLO again
    when the router lost our state) is tg_link's; on each WELCOME the
    ingest re-sends every type it knows; REGISTER (registry sync) and the
    answers to our REGISTER requests and guaranteed events are relayed to
    the client that asked.

    Time comes from the loop: every entry point takes the turn's tg_now_t
    (wall_us stamps the event's ts and its publication id, mono_ms sets the
    deadlines and the uptime). Nothing here reads a clock, so tests drive
    the broker at any time they like.
*/
#ifndef INGEST_BROKER_H
#define INGEST_BROKER_H

#include <czmq.h>
#include <stdint.h>

#include "tg_clock.h"
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

/* Most guaranteed events waiting for the router to report them stored at
   once (acknowledged path). Past this the next one is refused at once as
   unavailable: PostgreSQL is not keeping up, and the publisher must know. */
#define INGEST_STORES_MAX 10000

/* How much longer than the router's own store deadline
   (TELEGRAPHY_STORE_TIMEOUT_MS) the ingest waits for its answer, so that
   the router's REJECTED, which says why, normally arrives first. */
#define INGEST_STORE_GRACE_MS 1000

/* Bad input and refusals on the fire-and-forget path are logged at most
   once per this interval per kind (the counters see every one). */
#define INGEST_LOG_INTERVAL_MS 5000

/* A snapshot of the counters (the same names as in HEARTBEAT). */
typedef struct {
    uint64_t events_in;      /* PUBLISH messages received (both sockets) */
    uint64_t events_out;     /* EVENT messages handed to the router link */
    uint64_t rejected;       /* PUBLISH/REGISTER refused (REJECTED, or dropped on PULL) */
    uint64_t drops;          /* valid events lost because the router link was full (PULL) */
    uint64_t bad_input;      /* undecodable or unexpected messages, any socket */
    uint64_t event_types;    /* types in the local registry */
    uint64_t queue_depth;    /* REGISTER requests waiting for the router */
    uint64_t stores_waiting; /* guaranteed events waiting to be reported stored */
    uint64_t resyncs;        /* WELCOMEs from the router: each re-sent every type */
} ingest_stats_t;

typedef struct _ingest_broker_t ingest_broker_t;

/* Caller owns the result. Copies cfg and instance; borrows `ack` (replies
   to clients) and `router` (the link), which must outlive the broker.
   `now` is the start time: uptime and the first rate are counted from it. */
ingest_broker_t *ingest_broker_new(const tg_config_t *cfg, const char *instance, zsock_t *ack,
                                   zsock_t *router, tg_now_t now);

/* Safe on NULL and twice; does not close the borrowed sockets. */
void ingest_broker_destroy(ingest_broker_t **self_p);

/* Sends HELLO to the router; call once the loop is about to start. */
void ingest_broker_start(ingest_broker_t *self);

/* Each takes ownership of *msg_p (as received, routing id included for
   the ack socket) and nulls it. Bad input is counted and dropped. */
void ingest_broker_on_pull(ingest_broker_t *self, zmsg_t **msg_p, tg_now_t now);
void ingest_broker_on_ack(ingest_broker_t *self, zmsg_t **msg_p, tg_now_t now);
void ingest_broker_on_router(ingest_broker_t *self, zmsg_t **msg_p, tg_now_t now);

/* The heartbeat timer: HELLO until the router welcomed us (or again when
   it went silent), else a HEARTBEAT with the current stats, uptime and
   rates at `now` (tg_link_heartbeat). */
void ingest_broker_heartbeat(ingest_broker_t *self, tg_now_t now);

/* Refuses the REGISTER requests whose deadline is at or before `now`. */
void ingest_broker_expire(ingest_broker_t *self, tg_now_t now);

/* How long a REGISTER may wait for the router. */
int64_t ingest_broker_pending_timeout_ms(const ingest_broker_t *self);

/* Copies the counters. */
void ingest_broker_stats(const ingest_broker_t *self, ingest_stats_t *stats);

#endif
