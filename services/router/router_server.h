/*  router_server: the router service as an actor.

    The actor owns two ROUTER sockets: one for edges and ingests (cfg.router)
    and one for telegraphy-ctl (cfg.control), the subscription index, the
    event registry and the peer table, and runs them on one thread (a zpoller
    loop with a heartbeat tick). See DESIGN.md §1 and docs/protocol.md for the
    commands it answers. main() and the unit tests start it the same way, so
    the tests run the production code in-process.
*/
#ifndef ROUTER_SERVER_H
#define ROUTER_SERVER_H

#include <czmq.h>

#include "tg_config.h"

/* Messages read from one socket before the loop looks at the others, so a
   busy edge socket cannot starve the control socket or the tick. */
#define ROUTER_BATCH 256

typedef struct _router_server_t router_server_t;

/* Starts the actor with a copy of cfg (cfg.router, cfg.control,
   cfg.heartbeat_ms, cfg.hwm, cfg.max_event, and the filter limits
   cfg.max_filter, cfg.filter_max_depth, cfg.filter_max_list; 0 = default;
   cfg.monitor, the PUB socket of MONITOR and TAP, see router_tap.h). Endpoints may use a
   wildcard port
   ("tcp://127.0.0.1:*"); router_server_endpoint() then tells the port.
   Caller owns the result; NULL when a socket cannot be bound (logged,
   naming the endpoint and the reason). */
router_server_t *router_server_new(const tg_config_t *cfg);

/* Stops the actor and frees everything; safe on NULL and twice. */
void router_server_destroy(router_server_t **self_p);

/* The bound endpoints, resolved ("tcp://127.0.0.1:40123"); borrowed. */
const char *router_server_endpoint(const router_server_t *self);
const char *router_server_control_endpoint(const router_server_t *self);
/* The tap (PUB) endpoint (cfg.monitor; "" in cfg = a free port), or "none"
   when it could not be bound (logged; the router runs without it). */
const char *router_server_monitor_endpoint(const router_server_t *self);

/* The router's instance id (random per start); borrowed. */
const char *router_server_instance(const router_server_t *self);

/* The actor, for a caller that wants to poll it; borrowed. The actor sends
   nothing on its pipe after start-up. */
zactor_t *router_server_actor(router_server_t *self);

#endif
