/*  persist_broker: what persist does with each message from the router,
    apart from the actor that owns the sockets, the loop and the database
    connection (persist_actor.c).

    From the router (docs/protocol.md, docs/persistence.md "The service"):
      STORE        -> persist_store_event; ACCEPTED {req} once COMMIT
                      returned, REJECTED {req, unavailable} when the store
                      refuses (database down, queue full) or the
                      transaction fails (no answer when the STORE had no req)
      RESUME       -> persist_replay (gap check, ACCEPTED, REPLAY pages)
      MORE         -> persist_replay (credit for the next page)
      ACK          -> persist_store_ack / ack_upto (acks, acks_ignored)
      UNSUBSCRIBE  -> with client_id: that client's persistent subscription
                      ends; the router's key is released with the last one
      REGISTER     -> the type is stored (the registry survives a restart
                      of router and ingest together)
      TOKEN_SPEND  -> the jti is stored until exp
      SUBSCRIBED / SUBSCRIBE_ERROR -> answers to our own key SUBSCRIBEs
    Anything else, from the router, is bad input: counted, logged rate
    limited, dropped. Every refusal is counted.

    Re-sync (persist_broker_resync, on every WELCOME): REGISTER for every
    stored type, TOKEN_SPEND for every unexpired jti, SUBSCRIBE for every
    distinct persistent key (paged through load_subscriptions).

    Time comes from the loop: entry points take the turn's tg_now_t; the
    store's callbacks, which carry no time, use the one the actor passes
    with persist_broker_turn at the start of each handler.
*/
#ifndef PERSIST_BROKER_H
#define PERSIST_BROKER_H

#include <stdint.h>

#include "persist_link.h"
#include "persist_store.h"
#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"

/* Error URIs. */
#define PERSIST_ERROR_UNAVAILABLE "telegraphy.error.unavailable"
#define PERSIST_ERROR_GAP         "telegraphy.error.gap"

/* Rows removed per statement by one expiry step, and how often a step is
   started when the last one did not hit its bound. */
#define PERSIST_EXPIRE_LIMIT       1000
#define PERSIST_EXPIRE_INTERVAL_MS 1000

/* How often status's totals (subscriptions, backlog, oldest unacked) are
   read from the database. */
#define PERSIST_TOTALS_INTERVAL_MS 5000

/* Bad input and refusals are logged at most once per this interval per kind. */
#define PERSIST_LOG_INTERVAL_MS 5000

/* A snapshot of the counters (the names in HEARTBEAT stats, docs/persistence.md). */
typedef struct {
    uint64_t events_in;     /* STOREs received */
    uint64_t stored;        /* STOREs committed */
    uint64_t store_failed;  /* STOREs refused or failed (REJECTED unavailable when asked) */
    uint64_t acks;          /* ACKs handled (committed) */
    uint64_t acks_removed;  /* delivery rows removed by them */
    uint64_t acks_ignored;  /* acked ids that were not owed to that client */
    uint64_t acks_failed;   /* ACKs the store refused or failed */
    uint64_t unsubscribes;  /* persistent subscriptions ended by UNSUBSCRIBE */
    uint64_t registers;     /* REGISTERs stored */
    uint64_t tokens;        /* TOKEN_SPENDs stored */
    uint64_t writes_failed; /* REGISTER / TOKEN_SPEND / UNSUBSCRIBE / touch writes that failed */
    uint64_t resyncs;       /* re-syncs run */
    uint64_t resync_failed; /* re-sync loads the store refused or failed */
    uint64_t keys_refused;  /* SUBSCRIBE_ERROR answers to our key SUBSCRIBEs */
    uint64_t expire_steps;  /* expiry steps run */
    uint64_t drops;         /* messages to the router that could not be sent */
    uint64_t bad_input;     /* unexpected or invalid messages from the router */
} persist_broker_stats_t;

typedef struct _persist_broker_t persist_broker_t;

/* Caller owns the result. Borrows store and link (they must outlive the
   broker; destroy the store first: its callbacks still come here). Copies
   cfg. `now`: the start (rates count from it). */
persist_broker_t *persist_broker_new(const tg_config_t *cfg, persist_store_t *store,
                                     persist_link_t *link, tg_now_t now);

/* Safe on NULL and twice. Call persist_broker_stop, then destroy the store,
   then this. */
void persist_broker_destroy(persist_broker_t **self_p);

/* From now on the store's callbacks only release what they hold: nothing
   is sent or enqueued (the actor is stopping). */
void persist_broker_stop(persist_broker_t *self);

/* The loop turn's time, for the store's callbacks that run during it. */
void persist_broker_turn(persist_broker_t *self, tg_now_t now);

/* A decoded router message other than WELCOME / HEARTBEAT (borrowed;
   frames may be moved out). */
void persist_broker_on_message(persist_broker_t *self, tg_envelope_t *envelope, tg_now_t now);

/* The router welcomed us: re-send types, tokens and keys. */
void persist_broker_resync(persist_broker_t *self, tg_now_t now);

/* The expiry timer: starts a bounded step unless one is running (a step
   that reached its bound is followed by the next at once). */
void persist_broker_expire(persist_broker_t *self, tg_now_t now);

/* The heartbeat timer's housekeeping: replays whose edge stopped asking,
   a re-sync to retry, status's totals every PERSIST_TOTALS_INTERVAL_MS. */
void persist_broker_tick(persist_broker_t *self, tg_now_t now);

/* Adds persist's stats to a HEARTBEAT, `bad_input_extra` (the link's
   undecodable messages) included in bad_input. */
void persist_broker_add_stats(persist_broker_t *self, tg_envelope_t *heartbeat,
                              uint64_t bad_input_extra, tg_now_t now);

void persist_broker_stats(const persist_broker_t *self, persist_broker_stats_t *stats);

#endif
