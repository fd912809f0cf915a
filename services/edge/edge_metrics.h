/*  edge_metrics: the edge's counters, rendered for GET /metrics
    (Prometheus text, names telegraphy_*) and for the router's HEARTBEAT
    stats (the names every process shares: events_in, events_out,
    events_in_per_s, events_out_per_s, drops, bad_input, queue_depth, plus
    the edge's sessions, subscriptions, session_subscriptions,
    slow_consumer_closes, bytes_out, monitor_drops).

    The counters are plain fields: the fan-out bumps them in its inner loop
    without a call.
*/
#ifndef EDGE_METRICS_H
#define EDGE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_envelope.h"
#include "tg_rate.h"

/* Kinds of bad input, each a label value of telegraphy_bad_input_total. */
typedef enum {
    EDGE_BAD_INVALID_JSON = 0,   /* text frame that is not JSON / not UTF-8 */
    EDGE_BAD_INVALID_MSGPACK,    /* binary frame that is not valid msgpack */
    EDGE_BAD_PROTOCOL_VIOLATION, /* wrong arity/types, out-of-order, unknown type */
    EDGE_BAD_TOO_LARGE,          /* WebSocket message over max_message */
    EDGE_BAD_BINARY_ON_JSON,     /* binary frame on a wamp.2.json session */
    EDGE_BAD_TEXT_ON_MSGPACK,    /* text frame on a wamp.2.msgpack session */
    EDGE_BAD_INTERNAL,           /* malformed or unexpected message from the router */
    EDGE_BAD_AUTH_FAILED,        /* a refused ticket authentication (any reason) */
    EDGE_BAD_COUNT
} edge_bad_input_t;

typedef struct {
    uint64_t events_in;            /* EVENT messages received from the router */
    uint64_t events_out;           /* EVENT frames written to sessions */
    uint64_t bytes_out;            /* WebSocket payload bytes written */
    uint64_t drops;                /* EVENT deliveries not queued (closing or full session) */
    uint64_t slow_consumer_closes; /* sessions closed because their queue overflowed */
    uint64_t sessions_refused;     /* connections refused at max_sessions */
    uint64_t subscribe_timeouts;   /* SUBSCRIBEs the router did not answer in time */
    uint64_t auth_successes;       /* ticket authentications welcomed */
    uint64_t auth_failures;        /* ticket authentications refused (also bad_input) */
    uint64_t bad_input[EDGE_BAD_COUNT];
    int64_t queue_depth;          /* frames queued over all sessions, now */
    uint64_t link_pauses;         /* router link pauses: a session queue reached high water */
    uint64_t link_pause_timeouts; /* ... that ran their full bound (a session did not drain) */
    uint64_t monitor_drops; /* socket events dropped while the router was away (edge_monitor) */
    uint64_t replayed;      /* EVENTs queued from storage (REPLAY: backlog, `_since`) */
    uint64_t expired_drops; /* EVENTs dropped because their ttl passed before they were written */
    uint64_t acks_ignored;  /* telegraphy.ack ids this session was never sent (or not owed) */
    uint64_t acks_sent;     /* ACKs forwarded to the router */
    /* Rates over the interval that ended at the last HEARTBEAT (also on
       /metrics, so that both show the same numbers). */
    tg_rate_t events_in_rate;
    tg_rate_t events_out_rate;
} edge_metrics_t;

/* Values owned elsewhere, sampled when rendering. */
typedef struct {
    uint64_t sessions;              /* open WAMP sessions (WebSockets) */
    uint64_t subscriptions;         /* distinct router subscriptions held (live) */
    uint64_t session_subscriptions; /* (session, subscription) pairs */
    bool router_connected;          /* heard from the router recently */
} edge_gauges_t;

/* Zeroes every counter. */
void edge_metrics_init(edge_metrics_t *self);

/* "invalid_json", "too_large", ...; "?" when out of range. */
const char *edge_bad_input_name(edge_bad_input_t kind);

/* Sum of bad_input over every kind. */
uint64_t edge_metrics_bad_input_total(const edge_metrics_t *self);

/* Appends the Prometheus text exposition (version 0.0.4) to out. */
void edge_metrics_render(const edge_metrics_t *self, const edge_gauges_t *gauges, tg_buf_t *out);

/* Adds the shared stat names to a HEARTBEAT envelope. The per-second rates
   cover the time since the previous call (tg_rate; now_ms is the loop's
   monotonic time), which then becomes the new reference point. */
void edge_metrics_add_stats(edge_metrics_t *self, const edge_gauges_t *gauges, int64_t now_ms,
                            tg_envelope_t *heartbeat);

#endif
