/*  router_tap: the router's side channel for operators, a PUB socket
    (TELEGRAPHY_MONITOR, an XPUB) carrying MONITOR envelopes (ZeroMQ socket events of
    every process) and one TAP envelope per routed event. The command name
    is the first frame, so telegraphy-ctl subscribes by prefix ("MONITOR",
    "TAP").

    Never slows routing: every send is non-blocking on a socket whose
    per-subscriber queue is ROUTER_TAP_HWM messages; with ZMQ_XPUB_NODROP a
    full subscriber makes the send fail (and is counted by the caller as a
    tap drop) instead of libzmq dropping silently, uncounted.
*/
#ifndef ROUTER_TAP_H
#define ROUTER_TAP_H

#include <czmq.h>
#include <stdint.h>

#include "tg_envelope.h"

/* Messages queued per tap subscriber before sends fail (tap_drops). */
#define ROUTER_TAP_HWM 1000

/* A PUB socket bound on endpoint, the resolved endpoint in `resolved`.
   Caller owns the result; NULL with a message in `error` on failure. */
zsock_t *router_tap_bind(const char *endpoint, char *resolved, size_t resolved_size, char *error,
                         size_t error_size);

/* Publishes TAP{topic, pub_id, ts, size, matched, edges} + a copy of the
   body of `event` (an EVENT, left intact). Returns 0, or -1 when it was
   dropped (a subscriber is full). */
int router_tap_event(zsock_t *pub, const tg_envelope_t *event, uint64_t matched, uint64_t edges);

/* Reads the (un)subscriptions waiting on the tap socket and keeps *viewers,
   the number of distinct subscribed prefixes that select TAP messages,
   current. Returns how many it read. */
int router_tap_viewers(zsock_t *xpub, int *viewers);

/* Publishes a MONITOR envelope (destroyed here). Returns 0, or -1 when it
   was dropped. */
int router_tap_monitor(zsock_t *pub, tg_envelope_t **env_p);

#endif
