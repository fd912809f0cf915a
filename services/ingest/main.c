/*  telegraphy-ingest: accepts events from publishers, validates them,
    stamps publication id and time, and forwards them to the router.

    Wiring only: configuration, the server actor (ingest_server.c), wait for
    SIGINT/SIGTERM, stop.
*/
#include <signal.h>
#include <stdio.h>

#include "ingest_server.h"
#include "tg_config.h"
#include "tg_log.h"

#define INGEST_OPTIONS                                                                             \
    (TG_OPT_INGEST | TG_OPT_INGEST_ACK | TG_OPT_ROUTER | TG_OPT_MAX_EVENT | TG_OPT_HEARTBEAT_MS |  \
     TG_OPT_HWM | TG_OPT_LOG_LEVEL)

#define INGEST_SUMMARY                                                                             \
    "Accepts events from publishers (PUSH to --ingest, fire-and-forget; or the acknowledged\n"     \
    "path on --ingest-ack used by telegraphy-ctl), validates them against the registered\n"        \
    "event types, stamps publication id and time, and forwards them to the router.\n"              \
    "Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 when a socket cannot be bound,\n"       \
    "2 on a configuration error."

int main(int argc, char **argv)
{
    //  Signals are taken synchronously by this thread (sigwait below); they
    //  are blocked before any thread exists so every thread inherits that.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    tg_config_t cfg;
    int rc =
        tg_config_load(&cfg, INGEST_OPTIONS, argc, argv, "telegraphy-ingest", INGEST_SUMMARY, NULL);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    tg_log_init("telegraphy-ingest", cfg.log_level);

    char error[512];
    ingest_server_t *server = ingest_server_new(&cfg, error, sizeof(error));
    if (!server) {
        fprintf(stderr, "telegraphy-ingest: %s\n", error);
        return 1;
    }
    tg_log_info("ingest: listening ingest=%s ingest_ack=%s router=%s instance=%s",
                ingest_server_endpoint(server), ingest_server_ack_endpoint(server), cfg.router,
                ingest_server_instance(server));

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    tg_log_info("ingest: stopping signal=%s", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    ingest_server_destroy(&server);
    return 0;
}
