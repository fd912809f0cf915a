/*  persist_actor: the persist service as an actor (tg_actor + tg_loop).

    Connects a DEALER to the router at cfg->router (routing id = this
    instance's id, ZMQ_IMMEDIATE: nothing stale is queued while the router
    is away, the link re-sends its state on WELCOME; a socket monitor
    attached before the connect, its events sent to the router as MONITOR)
    and opens the database connection (persist_db on cfg->database_url,
    persist_store on it). One tg_loop serves:
      - the DEALER: persist_link (HELLO, WELCOME, HEARTBEAT, re-sync), then
        persist_broker for everything else;
      - persist_db's socket as an fd reader (POLLIN, plus POLLOUT while
        persist_db_wants_write), re-registered whenever it changes (every
        reconnect);
      - timers: the heartbeat (cfg->heartbeat_ms: HEARTBEAT, router
        silence, replay housekeeping), the database tick (a loop deadline
        armed at persist_db_deadline after every handler: reconnects,
        connect timeout; an idle persist does not wake for it), expiry (PERSIST_EXPIRE_INTERVAL_MS:
        one bounded step, followed at once by the next while a step reaches
        its bound);
      - after every handler: persist_store_flush (the next batch goes out
        when none is in flight) and the fd registration brought up to date.

    Started with tg_actor_start(&persist_actor_class, &cfg, ...) (cfg is a
    const tg_config_t *, copied). Reports "instance" (its id, the routing
    id at the router) and "router" (the endpoint). A start-up failure is a
    sentence naming what failed (a malformed database URL or router
    endpoint). A database that is down is not a start-up failure: persist
    runs, refuses what needs it (REJECTED unavailable) and reconnects.
*/
#ifndef PERSIST_ACTOR_H
#define PERSIST_ACTOR_H

#include "persist_broker.h"
#include "persist_db.h"
#include "tg_actor.h"

/* Messages read from the router socket before the loop looks at the rest. */
#define PERSIST_READ_BUDGET 256
extern const tg_actor_class_t persist_actor_class;

/* Asks the running actor for a copy of its broker's counters. 0, or -1 if
   it did not answer. */
int persist_actor_stats(tg_actor_t *actor, persist_broker_stats_t *stats);

/* The database connection's state and server process id (0: none), for
   tests (pg_terminate_backend) and main (FAILED ends the process). 0, or
   -1 if the actor did not answer. */
int persist_actor_db(tg_actor_t *actor, persist_db_state_t *state, int *backend_pid);

#endif
