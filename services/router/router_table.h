/*  router_table: a compact open-addressing set of pointers to elements that
    each carry their own unique key (32 or 64 bits) at a fixed offset.

    router_map stores a copy of every key and 32 bytes per slot; the index
    needs two tables with one entry per subscription (id -> subscription,
    value key hash -> subscriptions), where that would cost more than the
    rest of a subscription. Here a slot is one pointer: the key is read from
    the element itself, so a table costs 8 bytes per slot, between 11 and 17
    bytes per element (load kept between 0.47 and 0.7 by growing 1.5x).

    Linear probing; the slot of a key is a multiply-shift of its mixed value
    onto the capacity (which need not be a power of two); deletion by
    backward shift (no tombstones). Elements are borrowed, never freed.
*/
#ifndef ROUTER_TABLE_H
#define ROUTER_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct _router_table_t router_table_t;

/* Caller owns the result. Each element holds
   its key at byte offset key_offset, as a uint64_t (key_size 8) or a
   uint32_t (key_size 4; then keys passed to the table fit in 32 bits).
   When account is not NULL, the bytes the table allocates are added to
   (and, as they are freed, subtracted from) *account, which must outlive
   the table. */
router_table_t *router_table_new(size_t key_offset, size_t key_size, size_t *account);

/* Frees the table (not the elements); safe on NULL and twice. */
void router_table_destroy(router_table_t **self_p);

/* Borrowed element with this key, or NULL. */
void *router_table_get(const router_table_t *self, uint64_t key);

/* Stores elem (not NULL) under its key, replacing an element with the same
   key. A replacement never allocates and never fails. Returns 0, or -1 on
   allocation failure (the table is unchanged). */
int router_table_put(router_table_t *self, void *elem);

/* Removes the element with this key; returns it, or NULL if absent. */
void *router_table_remove(router_table_t *self, uint64_t key);

size_t router_table_size(const router_table_t *self);

/* Gives memory back after removals: when the table is under 20% full, it
   is rebuilt at about 50% (never below its initial size). Removal never
   does this itself, so that a walk over the slots can remove as it goes;
   call it after. A failed allocation leaves the table as it was. */
void router_table_shrink(router_table_t *self);

/* Iteration: slots 0 .. capacity-1, each an element or NULL. Removing the
   element at slot i may move a later element into slot i (look again at i)
   or an already visited element from the start of the array to the end
   (seen twice): a visit must be idempotent. */
size_t router_table_capacity(const router_table_t *self);
void *router_table_slot(const router_table_t *self, size_t i);

#endif
