/*  router_store: what the router waits for persist to answer.

    Two kinds of entry share one bounded table (ROUTER_STORE_PENDING, the
    router's pending bound) and one deadline order:
      STORE   a guaranteed event held until persist says it is stored
              (keyed by the router's own req of the STORE): the EVENT as
              the ingest sent it (body inside), the header edges get, and
              the ingest to answer.
      RESUME  an edge's persistent or since SUBSCRIBE waiting for persist
              (keyed by the edge's instance and its req): the key's topic
              and sub_id (the edge holds the key from the RESUME on).
    Every entry has a deadline (the loop's monotonic ms + the store
    timeout); entries are added in deadline order (one timeout for all), so
    the expired ones are at the head of a list. No clock is read here.

    The table owns its entries until one is taken out (router_store_take,
    router_store_expired, router_store_pop); then the caller owns it and
    frees it with router_store_entry_free.
*/
#ifndef ROUTER_STORE_H
#define ROUTER_STORE_H

#include <czmq.h>
#include <stdint.h>

#include "tg_envelope.h"
#include "tg_query.h"

/* Entries waiting for persist at most (TELEGRAPHY_STORE_PENDING is not a
   setting yet: this is the router's bound); beyond it a guaranteed event
   or a resume is refused unavailable. */
#define ROUTER_STORE_PENDING 10000

/* How long persist may take to answer when cfg.store_timeout_ms is 0. */
#define ROUTER_STORE_TIMEOUT_MS 5000

typedef enum { ROUTER_PENDING_STORE = 1, ROUTER_PENDING_RESUME = 2 } router_pending_kind_t;

typedef struct router_pending_t router_pending_t;
struct router_pending_t {
    router_pending_kind_t kind;
    uint64_t req;         /* STORE: our req to persist; RESUME: the edge's SUBSCRIBE req */
    char *instance;       /* owned, RESUME: the edge's instance id */
    zframe_t *routing_id; /* owned: the ingest's (STORE) or the edge's (RESUME) */
    int64_t deadline_ms;  /* monotonic ms after which persist's answer is too late */
    /* STORE */
    tg_envelope_t *event; /* owned: the EVENT as received (its req is the ingest's, 0 = none) */
    zframe_t *header;     /* owned: the header edges get (tg_envelope_event_header) */
    /* RESUME */
    tg_match_t match;
    char *topic;     /* owned */
    uint64_t sub_id; /* as sent in the RESUME */
    /* private: the deadline order and the key */
    router_pending_t *prev, *next;
    char *key;
    size_t key_len;
};

typedef struct _router_store_t router_store_t;

/* Caller owns the result; at most `max` entries. */
router_store_t *router_store_new(size_t max);

/* Frees the table and every entry in it; safe on NULL and twice. */
void router_store_destroy(router_store_t **self_p);

/* A new entry of `kind` for (req, instance: RESUME only, copied), with
   deadline_ms; the caller fills the other fields. Borrowed (the table
   keeps it). NULL when the table is full or the key is already there. */
router_pending_t *router_store_add(router_store_t *self, router_pending_kind_t kind, uint64_t req,
                                   const char *instance, int64_t deadline_ms);

/* Takes the entry of (kind, req, instance) out of the table; caller owns
   it. NULL when there is none (answered, expired, or never sent). */
router_pending_t *router_store_take(router_store_t *self, router_pending_kind_t kind, uint64_t req,
                                    const char *instance);

/* Takes the oldest entry whose deadline is before now_ms, or NULL. */
router_pending_t *router_store_expired(router_store_t *self, int64_t now_ms);

/* Takes the oldest entry, or NULL when empty (persist went away). */
router_pending_t *router_store_pop(router_store_t *self);

size_t router_store_size(const router_store_t *self);

/* Frees an entry taken out of the table; safe on NULL and twice. */
void router_store_entry_free(router_pending_t **entry_p);

#endif
