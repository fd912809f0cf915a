/*  telegraphy-persist: the only process that talks to PostgreSQL. Stores
    persistent subscriptions, guaranteed and retained events, the event-type
    registry and spent token ids, and serves backlogs (docs/persistence.md).

    Wiring only: signals, configuration, the actor (persist_actor.c), wait
    for SIGINT/SIGTERM, stop.
*/
#include "persist_actor.h"
#include "tg_actor.h"
#include "tg_config.h"
#include "tg_log.h"
#include "tg_signal.h"

#define PERSIST_OPTIONS                                                                            \
    (TG_OPT_ROUTER | TG_OPT_DATABASE_URL | TG_OPT_BACKLOG_MAX | TG_OPT_PERSISTENT_TTL |            \
     TG_OPT_HEARTBEAT_MS | TG_OPT_HWM | TG_OPT_LOG_LEVEL)

#define PERSIST_SUMMARY                                                                            \
    "Stores persistent subscriptions, guaranteed and retained events, the event-type\n"            \
    "registry and spent token ids in PostgreSQL (--database-url, a libpq URI), and\n"              \
    "serves backlogs, joined to the router like the other services.\n"                             \
    "Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 when it cannot start or the\n"          \
    "database refuses it for good (a newer schema), 2 on a configuration error."

int main(int argc, char **argv)
{
    tg_signal_block();
    tg_config_t cfg;
    int rc = tg_config_load(&cfg, PERSIST_OPTIONS, argc, argv, "telegraphy-persist",
                            PERSIST_SUMMARY, NULL);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    if (!cfg.database_url[0]) {
        fprintf(stderr, "telegraphy-persist: no database: set TELEGRAPHY_DATABASE_URL (or "
                        "--database-url) to a libpq URI\n");
        return 2;
    }
    tg_log_init("telegraphy-persist", cfg.log_level);

    char error[1024];
    tg_actor_t *actor = tg_actor_start(&persist_actor_class, &cfg, error, sizeof error);
    if (!actor) {
        tg_log_error("%s", error);
        return 1;
    }
    char database[512];
    persist_db_describe(cfg.database_url, database, sizeof database);
    //  The integration harness reads the instance id from this line.
    tg_log_info("persist: started instance=%s router=%s database=%s",
                tg_actor_get(actor, "instance"), cfg.router, database);
    int signal_number = tg_signal_wait();
    persist_db_state_t state = PERSIST_DB_DOWN;
    int backend_pid = 0;
    bool failed = persist_actor_db(actor, &state, &backend_pid) == 0 && state == PERSIST_DB_FAILED;
    tg_log_info("persist: stopping signal=%s", tg_signal_name(signal_number));
    tg_actor_destroy(&actor);
    return failed ? 1 : 0;
}
