/*  router_map: an open-addressing hash table from byte strings to pointers.

    The router's index needs one thing zhashx does not offer: looking up
    every prefix of a topic without hashing each prefix from scratch. Here
    the caller passes the key's hash, and the hash is FNV-1a, which can be
    computed incrementally (router_map_hash_begin / _step / _end), so the
    hashes of all prefixes of a topic cost one pass over it.

    Linear probing, capacity a power of two, at most 70% full, deletion by
    backward shift (no tombstones). Keys are copied; values are borrowed
    (the map never frees them). The hash is seeded once per process from
    getrandom() so that keys chosen from outside do not pile up in one probe
    run by construction; FNV is not a keyed PRF, so this is a speed bump, not
    a proof against a determined attacker (keys are bounded: TG_MAX_TOPIC).
*/
#ifndef ROUTER_MAP_H
#define ROUTER_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct _router_map_t router_map_t;

/* Caller owns the result. */
router_map_t *router_map_new(void);

/* Frees the table and its key copies (not the values); safe on NULL/twice. */
void router_map_destroy(router_map_t **self_p);

/* The hash router_map expects for (key, len). */
uint64_t router_map_hash(const void *key, size_t len);

/* Incremental form: begin, step once per byte, end. end(state) equals
   router_map_hash(key, len) after stepping over key's len bytes; the state
   may be ended at any point (a prefix) and then stepped on. */
uint64_t router_map_hash_begin(void);
static inline uint64_t router_map_hash_step(uint64_t state, uint8_t byte)
{
    return (state ^ byte) * 0x100000001b3ULL;
}
uint64_t router_map_hash_end(uint64_t state);

/* Borrowed value stored under key, or NULL. hash must be
   router_map_hash(key, len). */
void *router_map_get(const router_map_t *self, uint64_t hash, const void *key, size_t len);

/* Stores value (not NULL) under a copy of key, replacing any previous value. */
void router_map_put(router_map_t *self, uint64_t hash, const void *key, size_t len, void *value);

/* Removes key; returns its value, or NULL if absent. */
void *router_map_remove(router_map_t *self, uint64_t hash, const void *key, size_t len);

size_t router_map_size(const router_map_t *self);

/* From now on, adds the bytes the map holds (now and as it grows) to
   *account and subtracts them as they are freed; account must outlive the
   map. For the index's memory accounting; NULL stops it. */
void router_map_set_account(router_map_t *self, size_t *account);

#endif
