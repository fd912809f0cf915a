/*  telegraphy-edge: WebSocket edge of the gateway. WAMP v2 (broker role)
    for browsers on one side, the router over ZeroMQ on the other.
    main() only wires: configuration, logging, signals, the server.
*/
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "edge_server.h"
#include "tg_config.h"
#include "tg_log.h"

#define S_OPTIONS                                                                                  \
    (TG_OPT_ROUTER | TG_OPT_EDGE_HOST | TG_OPT_EDGE_PORT | TG_OPT_REALM | TG_OPT_MAX_MESSAGE |     \
     TG_OPT_SESSION_QUEUE | TG_OPT_MAX_SESSIONS | TG_OPT_MAX_SUBSCRIPTIONS | TG_OPT_MAX_FILTER |   \
     TG_OPT_HEARTBEAT_MS | TG_OPT_HWM | TG_OPT_SECRET | TG_OPT_ALLOW_ANONYMOUS |                   \
     TG_OPT_LOG_LEVEL | TG_OPT_FILTER_DEPTH | TG_OPT_FILTER_LIST | TG_OPT_SECRET_PREVIOUS |        \
     TG_OPT_RESUME_TTL | TG_OPT_TOKEN_SKEW)

/* The running server, for the signal handler. */
static edge_server_t *s_server;

static void s_on_signal(int signum)
{
    (void)signum;
    if (s_server)
        edge_server_stop(s_server);
}

int main(int argc, char **argv)
{
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
    /* czmq would install its own SIGINT/SIGTERM handlers: take them back. */
    zsys_handler_set(NULL);

    s_server = edge_server_new(&cfg);
    if (!s_server)
        return 1;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("edge: listening port=%d\n", edge_server_port(s_server));
    fflush(stdout);
    rc = edge_server_run(s_server);
    tg_log_info("edge: stopping");
    edge_server_destroy(&s_server);
    return rc == 0 ? 0 : 1;
}
