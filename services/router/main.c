/*  telegraphy-router: the subscription index and event fan-out between
    ingests and edges. Wiring only: signals, configuration, logging, the
    router actor, and waiting for SIGINT/SIGTERM.

    Exit codes: 0 on a clean stop (or --help), 1 when the service cannot
    start (an endpoint cannot be bound), 2 on a bad configuration.
*/
#include "router_actor.h"
#include "tg_config.h"
#include "tg_log.h"
#include "tg_signal.h"

#define ROUTER_OPTIONS                                                                             \
    (TG_OPT_ROUTER | TG_OPT_CONTROL | TG_OPT_MONITOR | TG_OPT_HEARTBEAT_MS | TG_OPT_HWM |          \
     TG_OPT_LOG_LEVEL | TG_OPT_MAX_EVENT | TG_OPT_MAX_FILTER | TG_OPT_FILTER_DEPTH |               \
     TG_OPT_FILTER_LIST)

int main(int argc, char **argv)
{
    tg_signal_block();
    tg_config_t cfg;
    int rc =
        tg_config_load(&cfg, ROUTER_OPTIONS, argc, argv, "telegraphy-router",
                       "Routes events from ingests to the edges whose subscriptions match.", NULL);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    tg_log_init("telegraphy-router", cfg.log_level);

    char error[512] = "";
    tg_actor_t *actor = tg_actor_start(&router_actor_class, &cfg, error, sizeof error);
    if (!actor) {
        tg_log_error("%s", error);
        return 1;
    }
    tg_log_info("router: started instance=%s router=%s control=%s monitor=%s heartbeat_ms=%u "
                "hwm=%u",
                tg_actor_get(actor, "instance"), tg_actor_get(actor, "router"),
                tg_actor_get(actor, "control"), tg_actor_get(actor, "monitor"), cfg.heartbeat_ms,
                cfg.hwm);
    int sig = tg_signal_wait();
    tg_log_info("router: stopping signal=%s", tg_signal_name(sig));
    tg_actor_destroy(&actor);
    return 0;
}
