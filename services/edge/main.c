/*  telegraphy-edge: WebSocket edge of the gateway. WAMP v2 (broker role)
    for browsers on one side, the router over ZeroMQ on the other.
    Wiring only: signals, configuration, logging, the edge actor, waiting
    for SIGINT/SIGTERM.

    Exit codes: 0 on a clean stop (or --help), 1 when the edge cannot
    start (e.g. its port is in use), 2 on a bad configuration.
*/
#include <stdio.h>

#include "edge_actor.h"
#include "tg_config.h"
#include "tg_log.h"
#include "tg_signal.h"

#define S_OPTIONS                                                                                  \
    (TG_OPT_ROUTER | TG_OPT_EDGE_HOST | TG_OPT_EDGE_PORT | TG_OPT_REALM | TG_OPT_MAX_MESSAGE |     \
     TG_OPT_SESSION_QUEUE | TG_OPT_MAX_SESSIONS | TG_OPT_MAX_SUBSCRIPTIONS | TG_OPT_MAX_FILTER |   \
     TG_OPT_HEARTBEAT_MS | TG_OPT_HWM | TG_OPT_SECRET | TG_OPT_ALLOW_ANONYMOUS |                   \
     TG_OPT_LOG_LEVEL | TG_OPT_FILTER_DEPTH | TG_OPT_FILTER_LIST | TG_OPT_SECRET_PREVIOUS |        \
     TG_OPT_RESUME_TTL | TG_OPT_TOKEN_SKEW | TG_OPT_ALLOWED_ORIGINS)

int main(int argc, char **argv)
{
    /* First, before any thread exists: libzmq's and libwebsockets' threads
       inherit the mask, so only tg_signal_wait sees SIGINT/SIGTERM. */
    tg_signal_block();
    tg_config_t cfg;
    int rc = tg_config_load(&cfg, S_OPTIONS, argc, argv, "telegraphy-edge",
                            "WebSocket edge: WAMP v2 (wamp.2.json, wamp.2.msgpack) for browsers, "
                            "fed by the router",
                            NULL);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    tg_log_init("telegraphy-edge", cfg.log_level);

    char error[512];
    tg_actor_t *actor = tg_actor_start(&edge_actor_class, &cfg, error, sizeof error);
    if (!actor) {
        tg_log_error("%s", error);
        return 1;
    }
    const char *port = tg_actor_get(actor, "port");
    tg_log_info("edge: started port=%s instance=%s", port, tg_actor_get(actor, "instance"));
    /* The start-up line on stdout, unchanged. */
    printf("edge: listening port=%s\n", port);
    fflush(stdout);
    int signal_number = tg_signal_wait();
    tg_log_info("edge: stopping signal=%s", tg_signal_name(signal_number));
    tg_actor_destroy(&actor);
    return 0;
}
