/*  telegraphy-ingest: accepts events from publishers, validates them,
    stamps publication id and time, and forwards them to the router.

    Wiring only: signals, configuration, the actor (ingest_actor.c), wait
    for SIGINT/SIGTERM, stop.
*/
#include "ingest_actor.h"
#include "tg_actor.h"
#include "tg_config.h"
#include "tg_log.h"
#include "tg_signal.h"

#define INGEST_OPTIONS                                                                             \
    (TG_OPT_INGEST | TG_OPT_INGEST_ACK | TG_OPT_ROUTER | TG_OPT_MAX_EVENT | TG_OPT_HEARTBEAT_MS |  \
     TG_OPT_HWM | TG_OPT_LOG_LEVEL | TG_OPT_STORE_TIMEOUT_MS)

#define INGEST_SUMMARY                                                                             \
    "Accepts events from publishers (PUSH to --ingest, fire-and-forget; or the acknowledged\n"     \
    "path on --ingest-ack used by telegraphy-ctl), validates them against the registered\n"        \
    "event types, stamps publication id and time, and forwards them to the router.\n"              \
    "Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 when a socket cannot be bound,\n"       \
    "2 on a configuration error."

int main(int argc, char **argv)
{
    tg_signal_block();
    tg_config_t cfg;
    int rc =
        tg_config_load(&cfg, INGEST_OPTIONS, argc, argv, "telegraphy-ingest", INGEST_SUMMARY, NULL);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    tg_log_init("telegraphy-ingest", cfg.log_level);

    char error[512];
    tg_actor_t *actor = tg_actor_start(&ingest_actor_class, &cfg, error, sizeof error);
    if (!actor) {
        tg_log_error("%s", error);
        return 1;
    }
    //  The integration harness reads the instance id from this line.
    tg_log_info("ingest: listening ingest=%s ingest_ack=%s router=%s instance=%s",
                tg_actor_get(actor, "ingest"), tg_actor_get(actor, "ingest_ack"), cfg.router,
                tg_actor_get(actor, "instance"));
    int signal_number = tg_signal_wait();
    tg_log_info("ingest: stopping signal=%s", tg_signal_name(signal_number));
    tg_actor_destroy(&actor);
    return 0;
}
