/*  router_status: the STATUS_REPLY the router's control socket answers
    telegraphy-ctl with: the router itself (its own counters under the
    common stat names, plus spent_tokens) and every peer it knows, with the
    stats of its last HEARTBEAT.
*/
#ifndef ROUTER_STATUS_H
#define ROUTER_STATUS_H

#include <stdint.h>

#include "router_broker.h"
#include "router_peers.h"
#include "tg_envelope.h"

/* Caller owns the result: STATUS_REPLY{req, processes = the router (role
   "router", `instance`, `uptime_ms`, `own`) + every peer}, at most
   TG_MAX_PROCESSES entries. now_ms (the loop's monotonic clock) gives each peer's
   last_seen_ms. */
tg_envelope_t *router_status_reply(uint64_t req, const char *instance, uint64_t uptime_ms,
                                   const router_broker_stats_t *own, const router_peers_t *peers,
                                   int64_t now_ms);

#endif
