/*  tg_subkey: the subscription key, defined once for the whole gateway.

    A subscription is identified by (match, topic, filter): the edge uses
    the key to share one router subscription among its sessions, the router
    to aggregate every edge's, and persist to name a persistent
    subscription. Its bytes are "<match name>\0<topic>\0<canonical filter>"
    (no filter and an empty filter are the same key), and its id is the
    first 53 bits of SHA-256(bytes [+ "\0<counter>"]) (DESIGN 2.3: every
    router computes the same id for the same key, without coordination;
    the counter resolves the rare collision).
*/
#ifndef TG_SUBKEY_H
#define TG_SUBKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_envelope.h"

/* Subscription ids are in [1, 2^53]. */
#define TG_SUBKEY_ID_MASK ((UINT64_C(1) << 53) - 1)

typedef struct {
    char *bytes; /* owned; not NUL-terminated as a whole (it holds NULs) */
    size_t len;
} tg_subkey_t;

/* Fills key for (match, topic, filter); filter is the canonical text
   (tg_query_canonical) or NULL. The caller owns key->bytes and frees it
   with tg_subkey_clear. */
void tg_subkey_make(tg_subkey_t *key, tg_match_t match, const char *topic, const char *filter);

/* Frees key->bytes; safe on a zeroed or already cleared key. */
void tg_subkey_clear(tg_subkey_t *key);

bool tg_subkey_equal(const tg_subkey_t *a, const tg_subkey_t *b);

/* The 64 raw bits of SHA-256(key [+ "\0<counter>"]) for counter n
   (0 = no suffix), never 0; 0 only if the digest itself failed. */
uint64_t tg_subkey_digest(const void *bytes, size_t len, uint32_t counter);

/* The subscription id for counter n: the digest masked to 53 bits, 0
   mapped to 1; 0 when the digest failed. */
uint64_t tg_subkey_id(const tg_subkey_t *key, uint32_t counter);

#endif
