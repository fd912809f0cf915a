/*  router_actor: the router service as an actor (tg_actor).

    The actor owns the router's sockets and its loop (tg_loop), on one
    thread: a ROUTER for edges and ingests (cfg.router), a ROUTER for
    telegraphy-ctl (cfg.control), the tap XPUB for MONITOR and TAP
    (cfg.monitor, see router_tap.h), the socket monitors of the two ROUTERs,
    and a heartbeat timer. What each message does is router_broker's
    business. main() and the unit tests start it the same way, so the tests
    run the production code in-process:

        tg_actor_t *actor = tg_actor_start(&router_actor_class, &cfg, error, sizeof error);

    Arguments: a tg_config_t (copied): cfg.router, cfg.control, cfg.monitor
    ("" = a free port on 127.0.0.1), cfg.heartbeat_ms, cfg.hwm,
    cfg.max_event, and the filter limits cfg.max_filter,
    cfg.filter_max_depth, cfg.filter_max_list (0 = default). Endpoints may
    use a wildcard port ("tcp://127.0.0.1:*").

    Reported at start (tg_actor_get): "router" and "control", the bound
    endpoints with their ports resolved; "monitor", the tap's endpoint, or
    "none" when it could not be bound (logged; the router routes without
    it); "instance", the router's instance id (new at every start).
    A start fails (NULL and a sentence naming the endpoint) when the router
    or control endpoint cannot be bound.
*/
#ifndef ROUTER_ACTOR_H
#define ROUTER_ACTOR_H

#include "tg_actor.h"

/* Messages read from one socket per loop turn, so a busy edge socket
   cannot starve the control socket or the timer. */
#define ROUTER_BATCH 256

extern const tg_actor_class_t router_actor_class;

#endif
