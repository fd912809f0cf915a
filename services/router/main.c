/*  telegraphy-router: the subscription index and event fan-out between
    ingests and edges. Wiring only: configuration, logging, the server
    actor, and waiting for SIGINT/SIGTERM.

    Exit codes: 0 on a clean stop (or --help), 1 when the service cannot
    start (an endpoint cannot be bound), 2 on a bad configuration.
*/
#include <czmq.h>

#include "router_server.h"
#include "tg_config.h"
#include "tg_log.h"

#define ROUTER_OPTIONS                                                                             \
    (TG_OPT_ROUTER | TG_OPT_CONTROL | TG_OPT_MONITOR | TG_OPT_HEARTBEAT_MS | TG_OPT_HWM |          \
     TG_OPT_LOG_LEVEL | TG_OPT_MAX_EVENT | TG_OPT_MAX_FILTER | TG_OPT_FILTER_DEPTH |               \
     TG_OPT_FILTER_LIST)

int main(int argc, char **argv)
{
    tg_config_t cfg;
    int rc =
        tg_config_load(&cfg, ROUTER_OPTIONS, argc, argv, "telegraphy-router",
                       "Routes events from ingests to the edges whose subscriptions match.", NULL);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    tg_log_init("telegraphy-router", cfg.log_level);

    /* czmq's handler sets zsys_interrupted on SIGINT and SIGTERM. */
    zsys_init();
    zsys_catch_interrupts();

    router_server_t *server = router_server_new(&cfg);
    if (!server)
        return 1; /* the reason, naming the endpoint, is logged */

    zpoller_t *poller = zpoller_new(router_server_actor(server), NULL);
    assert(poller);
    while (!zsys_interrupted) {
        /* The actor sends nothing after start-up: this only waits for a
           signal, waking once a second in case one slipped between checks. */
        zsock_t *which = zpoller_wait(poller, 1000);
        if (which) {
            zmsg_t *msg = zmsg_recv(which);
            zmsg_destroy(&msg);
        }
    }
    tg_log_info("router: stopping on signal");
    zpoller_destroy(&poller);
    router_server_destroy(&server);
    return 0;
}
