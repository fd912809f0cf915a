/*  persist_keys: the persistent subscription keys persist holds at the
    router, by router subscription id.

    Persist is a subscription holder in the router's index, like an edge
    (docs/persistence.md, "The service"): one router SUBSCRIBE per
    distinct key (topic, match, filter) of the persistent subscriptions,
    whatever the number of clients holding it, and one UNSUBSCRIBE when the
    last of them goes (the database says when: the delete returns the rows
    left on the key). This table says which keys are held and whether the
    key was sent to the current router (the `round` of the last re-sync
    that sent it).

    Bounded by PERSIST_KEYS_MAX entries: a key past it is not held at the
    router (persist_keys_add fails and the caller refuses the RESUME as
    unavailable), so persist's memory stays bounded whatever clients do.
*/
#ifndef PERSIST_KEYS_H
#define PERSIST_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Distinct persistent keys held at the router. */
#define PERSIST_KEYS_MAX 1000000

typedef struct {
    uint64_t sub_id; /* the router's id of the key */
    char *topic;     /* the key, owned */
    char *match;     /* "exact" | "prefix" | "wildcard", owned */
    char *filter;    /* canonical filter text, "" for none, owned */
    uint64_t round;  /* the re-sync round that last sent it to the router (0: never) */
} persist_key_t;

typedef struct _persist_keys_t persist_keys_t;

/* Caller owns the result; `max` 0 means PERSIST_KEYS_MAX. */
persist_keys_t *persist_keys_new(size_t max);

/* Safe on NULL and twice. */
void persist_keys_destroy(persist_keys_t **self_p);

/* The key of sub_id, or NULL. Borrowed: valid until it is removed. */
persist_key_t *persist_keys_get(persist_keys_t *self, uint64_t sub_id);

/* The key of sub_id, added (round 0; the strings copied; a NULL
   filter is "") when absent. NULL when the table is full. */
persist_key_t *persist_keys_add(persist_keys_t *self, uint64_t sub_id, const char *topic,
                                const char *match, const char *filter);

/* Forgets sub_id (no-op if absent). */
void persist_keys_remove(persist_keys_t *self, uint64_t sub_id);

size_t persist_keys_size(const persist_keys_t *self);

/* Re-sync rounds: each re-sync starts a new one (returned); a key whose
   `round` is the current one was sent to the current router. */
uint64_t persist_keys_next_round(persist_keys_t *self);
uint64_t persist_keys_round(const persist_keys_t *self);

#endif
