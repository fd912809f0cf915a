/*  router_range: the range filters of one topic entry on one path
    (tg_query_range_path: `path OP number` in the top-level conjunction of a
    filter that has no equality predicate), kept so that an event finds the
    ones whose range holds its value in O(log n + matches), not O(n).

    Two arrays of (bound, subscription), one per direction: lower bounds
    (`>`, `>=`) and upper bounds (`<`, `<=`). Each is sorted by bound,
    equal bounds ordered so that the filters accepting a value v form one
    slice: in the lower array, every bound below v plus the `>=` ones equal
    to v, a prefix; in the upper array, the rest's mirror, a suffix. One
    binary search per array finds the boundary (the same index for both:
    the first element not below (v, 1), see s_order in router_range.c).

    Changes are cheap and sorting is lazy:
    - insert appends to an unsorted tail, O(1) amortized;
    - remove swaps with the last element when it is in the tail, and
      otherwise leaves a hole (the element keeps its bound, so the array
      stays sorted; matching skips it), O(1);
    - the next event that reads an array whose tail has grown past
      ROUTER_RANGE_TAIL_SCAN elements, or whose holes exceed a quarter of
      it, flushes it: holes squeezed out, the tail merge-sorted and merged
      into the sorted part, O(n + t log t) for t appended elements, in room
      kept at the end of the array (no allocation while matching). Until
      then the few tail elements are compared one by one.
    So a burst of changes costs one merge at the next event, and an event
    interleaved with single changes costs at most 32 extra comparisons.

    Each subscription remembers its element's index in its first node's
    `slot` (router_vnode_t), which removal uses and moves update.
*/
#ifndef ROUTER_RANGE_H
#define ROUTER_RANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "router_index.h"
#include "tg_query.h"

/* Tail elements an event compares one by one before it flushes the array. */
#define ROUTER_RANGE_TAIL_SCAN 32

typedef struct _router_range_t router_range_t;

/* Caller owns the result. Allocations are
   added to *account (see router_index_memory). */
router_range_t *router_range_new(size_t *account);

/* Frees a range set that holds no subscription (asserted); safe on NULL
   and twice. */
void router_range_destroy(router_range_t **self_p);

/* Subscriptions held. */
size_t router_range_size(const router_range_t *self);

/* Adds sub (its nodes[0] is used as its slot) for `path op bound`. bound
   is finite. 0, or -1 on allocation failure (nothing changed). */
int router_range_insert(router_range_t *self, router_sub_t *sub, tg_query_range_op_t op,
                        const tg_query_number_t *bound);

/* Removes sub, inserted with op. Never fails; frees the arrays when the
   last subscription goes, and shrinks them when mostly empty. */
void router_range_remove(router_range_t *self, router_sub_t *sub, tg_query_range_op_t op);

/* Calls fn for every subscription whose range holds value (not NaN): the
   candidates, to be confirmed by their whole filter. May sort the arrays
   first (see above); allocates nothing. fn must not modify self. */
typedef void(router_range_fn)(router_sub_t *sub, void *arg);
void router_range_match(router_range_t *self, const tg_query_number_t *value, router_range_fn *fn,
                        void *arg);

#endif
