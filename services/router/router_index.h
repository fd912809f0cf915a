/*  router_index: the router's aggregated subscription index.

    One entry (router_sub_t) per distinct subscription key (match, topic,
    filter), holding the set of edges that hold it. Events are matched by
    topic against three structures, one per WAMP match policy:

    - exact: a hash map topic -> subscriptions.
    - prefix: a hash map prefix -> subscriptions, plus a count of prefixes
      per length. Per event, one pass over the topic computes the hash of
      every prefix incrementally and probes the map only at the lengths
      some prefix subscription has.
    - wildcard: a trie over '.'-separated components; each node has a map
      of literal children and one branch for the empty component (which
      matches any one component).

    Cost model, for a topic of L bytes and C components:
      exact     O(L) hash + 1 probe.
      prefix    O(L) hashing + one probe per distinct prefix length <= L in
                use (at most L, usually a handful); a probe compares strings
                only when the full 64-bit hashes are equal.
      wildcard  O(L) to split and hash the components + O(V) probes, V the
                number of trie nodes whose pattern prefix matches the
                topic's first components (each node: one probe for the
                literal child, one pointer for the wildcard branch). V does
                not grow with subscriptions that diverge from the topic.
      Each matching subscription is visited once: a cost of O(1) plus what
      the callback does. No allocation on the match path.
    Per subscription: one struct, copies of topic and filter, a small edge
    array, one slot in the id map and one in its policy's structure
    (wildcard: one trie node per component not shared with another pattern).
    Adding or removing an edge is O(L) expected plus O(E) over the
    subscription's E edges; router_index_remove_edge is O(S) over all S
    subscriptions (it runs when an edge leaves, not per event).

    Filters are part of the key only: matching ignores them (the filter
    language arrives with its own issue; the caller will evaluate it).
*/
#ifndef ROUTER_INDEX_H
#define ROUTER_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "tg_envelope.h"

typedef struct _router_index_t router_index_t;

/* One subscription. Read-only outside router_index.c. */
typedef struct _router_sub_t router_sub_t;
struct _router_sub_t {
    uint64_t id;      /* in [1, 2^53], see router_index_add */
    tg_match_t match; /* exact | prefix | wildcard */
    char *topic;      /* the topic or pattern */
    size_t topic_len; /* strlen(topic) */
    char *filter;     /* NULL = none */
    void **edges;     /* the edges holding it, edges_count entries */
    uint32_t edges_count;
    uint32_t edges_capacity;
    /* Index bookkeeping. */
    router_sub_t *next_same; /* next subscription with the same policy and topic */
    router_sub_t *all_prev;  /* list of every subscription */
    router_sub_t *all_next;
    void *node; /* wildcard: the trie node the pattern ends at */
};

/* Caller owns the result; NULL on allocation failure. */
router_index_t *router_index_new(void);

/* Frees every subscription; safe on NULL and twice. */
void router_index_destroy(router_index_t **self_p);

/* Adds `edge` (an opaque handle compared by address) to the subscription
   (match, topic, filter), creating it if needed; topic and filter are
   copied. Idempotent per edge. *sub_id receives the subscription id: the
   first 8 bytes (big-endian) of SHA-256 over "<match>\0<topic>\0<filter or
   empty>", masked to 53 bits, 0 -> 1; if that id belongs to another key,
   "\0<n>" (n = 1, 2, ...) is appended to the key until the id is free.
   Returns 0, or -1 (nothing changed) when the topic is empty or longer than
   TG_MAX_TOPIC, or on allocation failure. Topic syntax is the caller's. */
int router_index_add(router_index_t *self, tg_match_t match, const char *topic, const char *filter,
                     void *edge, uint64_t *sub_id);

/* Removes `edge` from subscription sub_id, and the subscription when no edge
   holds it any more. Returns 0, or -1 when the edge did not hold it. */
int router_index_remove(router_index_t *self, uint64_t sub_id, void *edge);

/* Removes `edge` from every subscription. Returns how many it held. */
size_t router_index_remove_edge(router_index_t *self, void *edge);

/* Calls fn once for each subscription whose (match, topic) matches `topic`
   (len bytes, no NUL needed). Returns the number of calls. fn must not
   modify the index. Topics longer than TG_MAX_TOPIC match nothing. */
typedef void(router_index_fn)(const router_sub_t *sub, void *arg);
size_t router_index_match(const router_index_t *self, const char *topic, size_t len,
                          router_index_fn *fn, void *arg);

/* Borrowed subscription with this id, or NULL. */
const router_sub_t *router_index_lookup(const router_index_t *self, uint64_t sub_id);

/* Number of distinct subscriptions. */
size_t router_index_size(const router_index_t *self);

/* Number of (subscription, edge) pairs. */
size_t router_index_holders(const router_index_t *self);

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
