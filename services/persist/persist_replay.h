/*  persist_replay: RESUME and MORE, the replays persist serves with credit.

    A RESUME (router -> persist) asks for what a subscription is owed before
    it goes live at the edge named by `instance`:
      - persistent {client_id, sub_id, topic, match, filter, [since]}: the
        key is held at the router first (persist_keys; a new key's SUBSCRIBE
        goes out before anything else, so the router holds it before it sees
        our ACCEPTED), the client's subscription is created or refreshed
        (subscription_upsert), then the gap rule for its position
        (`since`, 0 = from the start) and its backlog: the delivery rows it
        is owed after that position, unexpired, in pub_id order;
      - since {topic, match, since}: the gap rule of the matching topics and
        the retained (ttl) events after `since`, unexpired, in pub_id order.
    A gap is answered REJECTED {req, instance, error: gap, pub_id: oldest};
    a store that refuses or fails, REJECTED unavailable. Otherwise ACCEPTED
    {req, instance}, then the first page of at most PERSIST_REPLAY_PAGE
    REPLAYs {req, instance, sub_id} + stored header + body; each further
    page only after a MORE {req, instance} from the edge (credit); a page
    that is not full is followed by REPLAY_END {req, instance, sub_id,
    pub_id of the last replayed}.

    Replays in flight are bounded (PERSIST_REPLAYS_MAX; a RESUME past it is
    refused unavailable). One whose edge sends no MORE for
    PERSIST_REPLAY_IDLE_MS is abandoned (counted): the edge is gone or has
    given up. A page that could not be read or sent whole is retried from
    the last REPLAY sent, at the next tick, until then.
*/
#ifndef PERSIST_REPLAY_H
#define PERSIST_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "persist_keys.h"
#include "persist_link.h"
#include "persist_store.h"
#include "tg_clock.h"
#include "tg_envelope.h"

/* Replays in flight at once. */
#define PERSIST_REPLAYS_MAX 1024
/* REPLAYs per page (per MORE): TELEGRAPHY_REPLAY_PAGE, the protocol's. */
#define PERSIST_REPLAY_PAGE 256
/* A replay waiting for a MORE this long is abandoned. */
#define PERSIST_REPLAY_IDLE_MS 60000

typedef struct {
    uint64_t replays;      /* RESUMEs answered ACCEPTED */
    uint64_t active;       /* replays in flight now */
    uint64_t refused;      /* RESUMEs answered REJECTED unavailable */
    uint64_t gaps;         /* RESUMEs answered REJECTED gap */
    uint64_t abandoned;    /* replays dropped after PERSIST_REPLAY_IDLE_MS without MORE */
    uint64_t more_unknown; /* MOREs for no replay in flight (late, or after the end) */
    uint64_t events_out;   /* REPLAYs sent */
    uint64_t drops;        /* messages to the router that could not be sent */
    uint64_t bad_input;    /* RESUMEs that make no sense (a duplicate, persistent without client) */
} persist_replay_stats_t;

typedef struct _persist_replay_t persist_replay_t;

/* Caller owns the result. Borrows store, link and keys (they outlive it;
   the store is destroyed first). `max` 0: PERSIST_REPLAYS_MAX. */
persist_replay_t *persist_replay_new(persist_store_t *store, persist_link_t *link,
                                     persist_keys_t *keys, size_t max);

/* Safe on NULL and twice. */
void persist_replay_destroy(persist_replay_t **self_p);

/* Callbacks from now on only release what they hold. */
void persist_replay_stop(persist_replay_t *self);

/* The loop turn's time, for the store's callbacks. */
void persist_replay_turn(persist_replay_t *self, tg_now_t now);

/* A RESUME / a MORE from the router (borrowed). */
void persist_replay_resume(persist_replay_t *self, const tg_envelope_t *resume, tg_now_t now);
void persist_replay_more(persist_replay_t *self, const tg_envelope_t *more, tg_now_t now);

/* Retries pages that failed, abandons idle replays. */
void persist_replay_tick(persist_replay_t *self, tg_now_t now);

void persist_replay_stats(const persist_replay_t *self, persist_replay_stats_t *stats);

#endif
