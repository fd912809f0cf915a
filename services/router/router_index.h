/*  router_index: the router's aggregated subscription index.

    One subscription (router_sub_t) per distinct key (match, topic, canonical
    filter), holding the set of edges that hold it. An event is matched by
    topic first, then by filter.

    Topic: the subscriptions of one (match, topic) form a topic entry
    (router_entry); entries are found by one structure per WAMP policy:
    - exact: a hash map topic -> entry.
    - prefix: a hash map prefix -> entry, plus a count of prefixes per
      length. Per event, one pass over the topic computes the hash of
      every prefix incrementally and probes the map only at the lengths
      some prefix entry has.
    - wildcard: a trie over '.'-separated components (router_trie); each
      node has a map of literal children, one branch for the empty
      component (which matches any one component), and the entry of the
      pattern ending there.

    Filter, inside each matching entry (router_entry.h): the subscription
    without a filter matches; filters with an equality index path are found
    through a table per path, value key -> bucket, and only that bucket's
    filters are evaluated; filters with a numeric range instead (`score >
    N`) through arrays per path sorted by bound (router_range.h), and only
    the ranges holding the event's number are evaluated; filters with
    neither (or/not, exists, string ranges ...) are evaluated one by one.

    Cost model, per event, for a topic of L bytes:
      exact     O(L) hash + 1 probe.
      prefix    O(L) hashing + one probe per distinct prefix length <= L in
                use (at most L, usually a handful); a probe compares strings
                only when the full 64-bit hashes are equal.
      wildcard  O(L) to split and hash the components + O(V) probes, V the
                number of trie nodes whose pattern prefix matches the
                topic's first components. V does not grow with patterns
                that diverge from the topic.
      then, per matching entry E:
                O(G_E) value-key extractions from the body and probes, G_E
                the distinct index paths of E's filters (one in the usual
                case: `user_id == N` for many N); O(log R) per range
                array of R bounds (two per range path: lower and upper
                bounds), plus at most ROUTER_RANGE_TAIL_SCAN bounds added
                since the last sort; one filter evaluation per candidate (a
                filter whose indexed value equals the event's, or whose
                range holds its number); one per unindexed filter of E
                (U_E); O(1) for the plain one.
      So: O(L + V + sum over matching entries of (G_E + log R_E +
      candidates_E + U_E)), and each subscription that matches costs O(1)
      plus what the callback does. Filters on other values of an indexed
      path, or whose range excludes the event's number, cost nothing per
      event. No allocation on the match path (a range array sorted lazily
      after changes merges in room it keeps).
    Per subscription (docs/performance.md has the measured bytes): a
    40-byte struct holding its first edge inline (an array once a second
    edge holds it); one 24-byte node per distinct indexed value (one node
    for a range or an unindexed filter, none without a filter); the
    compiled filter (tg_query_memory: its canonical text is the key's
    filter text); one 8-byte slot in the id table and one per value in its
    path's table (tables kept 47-70% full, so 11-17 bytes a slot), or for a
    range filter one 32-byte element in its range array (arrays kept at 1x
    to 4x what they hold). Shared per entry: the topic copy and its slot in
    its policy's structure; per (entry, path): the path copy, its table
    and its range arrays, each only while a filter uses it.
    Adding is O(L) + one SHA-256 of the key + O(V log V) for an `in` list of
    V values (O(1) amortized more for a range); removing is O(L + V + G)
    (buckets are doubly linked, so a popular value costs nothing more; a
    range leaves a hole or swaps with the last added); the sorting that
    ranges defer is paid by the next event: O(R + T log T) for T bounds
    added since. router_index_remove_edge is O(S) over all S subscriptions
    (it runs when an edge leaves, not per event). Tables and range arrays
    shrink back when removals leave them mostly empty.
*/
#ifndef ROUTER_INDEX_H
#define ROUTER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "tg_envelope.h"
#include "tg_query.h"

typedef struct _router_index_t router_index_t;
typedef struct _router_sub_t router_sub_t;
typedef struct _router_entry_t router_entry_t; /* router_entry.h */

/* A subscription's place in a list of its entry: in the bucket of one of
   its indexed values, or in the entry's unindexed list; for a range
   filter, its slot in a sorted bound array (router_range). Private to
   router_entry.c and router_range.c. */
typedef struct _router_vnode_t router_vnode_t;
struct _router_vnode_t {
    router_vnode_t *next; /* next in the bucket or list (unused for a range filter) */
    router_vnode_t *prev; /* NULL for the first (held by the table or the entry) */
    union {
        uint32_t hash; /* the bucket's key: hash of the value key (equality) */
        uint32_t slot; /* its element in its router_range array (range) */
    };
    uint32_t index; /* its place in nodes[], which leads back to the subscription */
};

/* One subscription. Read-only outside the index; the fields after
   edges_count are private. Kept small: it exists once per distinct key
   (the benchmark counts 100,000 of them on one topic), so the topic lives
   in the entry, the filter text in the compiled filter, and a single edge
   in place of the array pointer. */
struct _router_sub_t {
    uint64_t id;          /* in [1, 2^53], see router_index_add */
    uint16_t edges_count; /* edges holding it (router_sub_edges) */
    uint16_t edges_capacity;
    uint32_t nodes_count; /* entries in nodes[] */
    union {
        void *one;   /* while edges_capacity is 1 */
        void **many; /* an array of edges_capacity entries */
    } edges;
    router_entry_t *entry;  /* its (match, topic) entry: owns the topic */
    tg_query_t *query;      /* owned compiled filter, NULL = none */
    router_vnode_t nodes[]; /* see router_vnode_t */
};

/* The edges holding sub: edges_count entries, borrowed. */
static inline void *const *router_sub_edges(const router_sub_t *sub)
{
    return sub->edges_capacity <= 1 ? &sub->edges.one : sub->edges.many;
}

/* Its match policy. */
tg_match_t router_sub_match(const router_sub_t *sub);

/* The topic or pattern (borrowed), and the canonical filter (borrowed) or
   NULL when the subscription has none. */
const char *router_sub_topic(const router_sub_t *sub);
const char *router_sub_filter(const router_sub_t *sub);

/* Caller owns the result. */
router_index_t *router_index_new(void);

/* Frees every subscription; safe on NULL and twice. */
void router_index_destroy(router_index_t **self_p);

/* Adds `edge` (an opaque handle compared by address) to the subscription
   (match, topic, filter), creating it if needed; topic is copied. Takes
   ownership of *filter_p (a compiled filter, or NULL for none) and nulls
   it, whatever the outcome: when an equivalent filter (same canonical
   text) is already subscribed on (match, topic), it is destroyed and the
   existing subscription is used. Idempotent per edge. *sub_id receives the
   subscription id: the first 8 bytes (big-endian) of SHA-256 over
   "<match>\0<topic>\0<canonical filter or empty>", masked to 53 bits,
   0 -> 1; if that id belongs to another key, "\0<n>" (n = 1, 2, ...) is
   appended to the key until the id is free. Returns 0, or -1 (nothing
   changed) when the topic is empty or longer than TG_MAX_TOPIC, when
   65,535 edges hold the subscription already, or on allocation failure.
   Topic syntax is the caller's. */
int router_index_add(router_index_t *self, tg_match_t match, const char *topic,
                     tg_query_t **filter_p, void *edge, uint64_t *sub_id);

/* Removes `edge` from subscription sub_id, and the subscription when no edge
   holds it any more. Returns 0, or -1 when the edge did not hold it. */
int router_index_remove(router_index_t *self, uint64_t sub_id, void *edge);

/* Removes `edge` from every subscription. Returns how many it held. */
size_t router_index_remove_edge(router_index_t *self, void *edge);

/* Calls fn once for each subscription whose (match, topic) matches `topic`
   (len bytes, no NUL needed) and whose filter, if any, accepts `body` (the
   event's msgpack map, body_len bytes; NULL/0 passes only subscriptions
   without a filter). Returns the number of calls. fn must not modify the
   index. Topics longer than TG_MAX_TOPIC match nothing. No allocation. */
typedef void(router_index_fn)(const router_sub_t *sub, void *arg);
size_t router_index_match(const router_index_t *self, const char *topic, size_t len,
                          const void *body, size_t body_len, router_index_fn *fn, void *arg);

/* router_index_match that also adds to *candidates (when not NULL) the
   number of filters it evaluated: the candidates the equality and range
   indexes found plus every unindexed filter of the matching entries. For
   tests (the index must evaluate exactly those) and statistics. */
size_t router_index_match_counted(const router_index_t *self, const char *topic, size_t len,
                                  const void *body, size_t body_len, router_index_fn *fn, void *arg,
                                  size_t *candidates);

/* Borrowed subscription with this id, or NULL. */
const router_sub_t *router_index_lookup(const router_index_t *self, uint64_t sub_id);

/* Number of distinct subscriptions. */
size_t router_index_size(const router_index_t *self);

/* Number of (subscription, edge) pairs. */
size_t router_index_holders(const router_index_t *self);

/* Bytes of memory the index holds: every allocation it makes (requested
   sizes, without the allocator's own overhead) plus tg_query_memory of
   each compiled filter. */
size_t router_index_memory(const router_index_t *self);

/* True when `topic` (len bytes) matches the pattern under `match`, by the
   WAMP rules above; the reference the index is tested against. */
bool router_index_topic_matches(tg_match_t match, const char *pattern, const char *topic,
                                size_t len);

/* Test hook: replaces the id function. fn gets the canonical key (without
   the counter), its length and the collision counter (0 first), and returns
   a raw id that is then masked to 53 bits (0 -> 1). NULL restores SHA-256. */
typedef uint64_t(router_index_id_fn)(const void *key, size_t len, uint32_t counter);
void router_index_set_id_fn(router_index_t *self, router_index_id_fn *fn);

#endif
