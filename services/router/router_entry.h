/*  router_entry: the subscriptions of one topic entry of the index, that is
    of one (match policy, topic or pattern), which differ by their filter.

    An entry keeps its subscriptions in four places:
    - `plain`: the one subscription without a filter (there is at most one:
      the filter is part of the key).
    - groups, one per distinct path that filters are indexed on:
      - for filters with an equality index path (tg_query_index_path: an
        equality or `in` predicate of the top-level conjunction), a table
        from the hash of a value key to the bucket of subscriptions whose
        filter names that value. A filter `path in [v1, v2]` sits in the
        buckets of v1 and v2.
      - for filters without one but with a numeric range
        (tg_query_range_path: `path < <= > >= number` in the top-level
        conjunction), a router_range: arrays sorted by bound, lazily.
    - `unindexed`: the other filters, in a list.

    Matching one event against the entry: the plain subscription matches;
    per group, the event's value key at the group's path is computed once,
    hashed, and looked up: only that bucket's subscriptions are candidates;
    the event's number at the path is read once and binary-searched in the
    range arrays: only the ranges holding it are candidates. Each candidate
    is confirmed by evaluating its whole filter (its other predicates may
    refuse the event; this also settles the rare collision of two value
    keys on one 32-bit bucket hash); then every unindexed filter is
    evaluated. Cost: O(G) key and number extractions and probes (G groups)
    plus O(log R) per range array of R bounds, plus one filter evaluation
    per candidate and per unindexed filter; subscriptions on other values
    or out of range cost nothing. No allocation (the key buffer is on the
    stack; range arrays sort in room they keep).
*/
#ifndef ROUTER_ENTRY_H
#define ROUTER_ENTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "router_index.h"
#include "tg_query.h"

/* Caller owns the result. topic (len bytes) is
   copied. Allocations are added to *account (see router_index_memory). */
router_entry_t *router_entry_new(tg_match_t match, const char *topic, size_t len, size_t *account);

/* Frees an entry that holds no subscription (asserted); safe on NULL and
   twice. */
void router_entry_destroy(router_entry_t **self_p);

/* The topic or pattern (NUL-terminated, borrowed), its length, its policy. */
const char *router_entry_topic(const router_entry_t *self);
size_t router_entry_topic_len(const router_entry_t *self);
tg_match_t router_entry_match_policy(const router_entry_t *self);

/* True when no subscription is left. */
bool router_entry_empty(const router_entry_t *self);

/* Creates a subscription for query (NULL = no filter) and links it into
   the entry. Takes ownership of query on success only. The caller sets id
   and edges. Caller owns the result until router_entry_remove. NULL on
   allocation failure (the entry is unchanged), or when the entry already
   has a subscription without a filter and query is NULL (a caller bug). */
router_sub_t *router_entry_add(router_entry_t *self, tg_query_t *query);

/* Unlinks sub (made by router_entry_add on this entry) and frees it with
   its edge array. Returns its filter (caller owns it; NULL if none), no
   longer counted in the account. */
tg_query_t *router_entry_remove(router_entry_t *self, router_sub_t *sub);

/* The event being matched, as the entries see it. The body's framing is
   checked once per event, when a first filter needs it, with the check
   tg_query_match makes on every call; the filters then run
   tg_query_match_trusted: same results, one framing pass per event
   instead of one per filter evaluated. */
typedef struct {
    const void *body; /* the msgpack map, or NULL */
    size_t len;
    int framing;       /* 0 not checked yet, 1 valid, -1 invalid (no filter matches) */
    size_t candidates; /* filters evaluated so far (see router_index_match_counted) */
} router_event_t;

/* Calls fn for each subscription of the entry whose filter, if any,
   accepts the event; returns the number of calls. */
size_t router_entry_match(const router_entry_t *self, router_event_t *event, router_index_fn *fn,
                          void *arg);

#endif
