/*  router_index: the router's aggregated subscription index: ids, edges,
    and the three topic structures leading to topic entries. The cost model
    (per event: topic first, then filters) is written at the top of
    router_index.h; the per-entry filter index in router_entry.h, the
    wildcard trie in router_trie.h.
*/
#include "router_index.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router_entry.h"
#include "router_map.h"
#include "router_table.h"
#include "router_trie.h"
#include "tg_alloc.h"
#include "tg_subkey.h"

struct _router_index_t {
    router_table_t *by_id;                     /* subscriptions by id */
    router_map_t *collided;                    /* canonical key -> subscription, for the
                                                  rare ids that needed a counter; NULL
                                                  until the first */
    router_map_t *exact;                       /* topic -> entry */
    router_map_t *prefix;                      /* prefix -> entry */
    uint32_t prefix_lengths[TG_MAX_TOPIC + 1]; /* prefix entries per prefix length */
    router_trie_t *wildcard;                   /* pattern -> entry */
    size_t size;                               /* subscriptions */
    size_t holders;                            /* (subscription, edge) pairs */
    size_t bytes;                              /* see router_index_memory */
    router_index_id_fn *id_fn;                 /* NULL = SHA-256 */
};

const char *router_sub_topic(const router_sub_t *sub)
{
    return router_entry_topic(sub->entry);
}

tg_match_t router_sub_match(const router_sub_t *sub)
{
    return router_entry_match_policy(sub->entry);
}

const char *router_sub_filter(const router_sub_t *sub)
{
    return sub->query ? tg_query_canonical(sub->query) : NULL;
}

router_index_t *router_index_new(void)
{
    router_index_t *self = tg_new(router_index_t);
    self->by_id = router_table_new(offsetof(router_sub_t, id), sizeof(uint64_t), &self->bytes);
    self->exact = router_map_new();
    self->prefix = router_map_new();
    self->wildcard = router_trie_new(&self->bytes);
    if (!self->by_id || !self->exact || !self->prefix || !self->wildcard) {
        router_index_destroy(&self);
        return NULL;
    }
    router_map_set_account(self->exact, &self->bytes);
    router_map_set_account(self->prefix, &self->bytes);
    return self;
}

static void s_sub_unlink(router_index_t *self, router_sub_t *sub);

void router_index_destroy(router_index_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_index_t *self = *self_p;
    /* Unlinking each subscription also frees its entry when it is the last
       one, and prunes the trie down to its root. */
    for (size_t i = 0; self->by_id && i < router_table_capacity(self->by_id); i++)
        while (router_table_slot(self->by_id, i))
            s_sub_unlink(self, router_table_slot(self->by_id, i));
    router_trie_destroy(&self->wildcard);
    router_map_destroy(&self->collided);
    router_map_destroy(&self->exact);
    router_map_destroy(&self->prefix);
    router_table_destroy(&self->by_id);
    free(self);
    *self_p = NULL;
}

size_t router_index_size(const router_index_t *self)
{
    return self->size;
}

size_t router_index_holders(const router_index_t *self)
{
    return self->holders;
}

size_t router_index_memory(const router_index_t *self)
{
    return sizeof *self + self->bytes;
}

void router_index_set_id_fn(router_index_t *self, router_index_id_fn *fn)
{
    self->id_fn = fn;
}

bool router_index_topic_matches(tg_match_t match, const char *pattern, const char *topic,
                                size_t len)
{
    size_t plen = strlen(pattern);
    if (match == TG_MATCH_EXACT)
        return plen == len && memcmp(pattern, topic, len) == 0;
    if (match == TG_MATCH_PREFIX)
        return plen <= len && memcmp(pattern, topic, plen) == 0;
    /* Wildcard: as many components, each pattern component empty or equal. */
    size_t p = 0, t = 0;
    while (true) {
        size_t pe = p, te = t;
        while (pe < plen && pattern[pe] != '.')
            pe++;
        while (te < len && topic[te] != '.')
            te++;
        if (pe > p && (pe - p != te - t || memcmp(pattern + p, topic + t, pe - p) != 0))
            return false;
        bool pattern_done = pe == plen, topic_done = te == len;
        if (pattern_done || topic_done)
            return pattern_done && topic_done;
        p = pe + 1;
        t = te + 1;
    }
}

/* ---- subscription ids --------------------------------------------------- */

const router_sub_t *router_index_lookup(const router_index_t *self, uint64_t sub_id)
{
    return router_table_get(self->by_id, sub_id);
}

/* The id for counter n of key: 0 when the digest failed. */
static uint64_t s_id(const router_index_t *self, const tg_subkey_t *key, uint32_t counter)
{
    if (!self->id_fn)
        return tg_subkey_id(key, counter);
    /* A test's id function: masked like the digest. */
    uint64_t id = self->id_fn(key->bytes, key->len, counter) & TG_SUBKEY_ID_MASK;
    return id ? id : 1;
}

static bool s_sub_has_key(const router_sub_t *sub, tg_match_t match, const char *topic,
                          const char *filter)
{
    const char *own = router_sub_filter(sub);
    return router_sub_match(sub) == match && strcmp(router_sub_topic(sub), topic) == 0 &&
           ((!own && !filter) || (own && filter && strcmp(own, filter) == 0));
}

/* The subscription with this key, or NULL. A key's subscription has the id
   of counter 0, unless that id was taken when it was made: then it is in
   `collided` (which stays right when the holder of its first choice goes
   away later, unlike probing the counters again). */
static router_sub_t *s_find(const router_index_t *self, const tg_subkey_t *key, tg_match_t match,
                            const char *topic, const char *filter, uint64_t *first_id)
{
    if (self->collided && router_map_size(self->collided)) {
        router_sub_t *sub = router_map_get(self->collided, router_map_hash(key->bytes, key->len),
                                           key->bytes, key->len);
        if (sub)
            return sub;
    }
    *first_id = s_id(self, key, 0);
    router_sub_t *sub = *first_id ? router_table_get(self->by_id, *first_id) : NULL;
    return sub && s_sub_has_key(sub, match, topic, filter) ? sub : NULL;
}

/* Picks the id of a new key: the hash of the key, or of the key with a
   counter appended while the id belongs to another subscription. Returns
   0 on failure; *counter gets the counter used. */
static uint64_t s_new_id(const router_index_t *self, const tg_subkey_t *key, uint64_t first_id,
                         uint32_t *counter)
{
    uint64_t id = first_id;
    for (uint32_t n = 0; id && n < UINT32_MAX; n++) {
        if (n > 0)
            id = s_id(self, key, n);
        if (id && !router_table_get(self->by_id, id)) {
            *counter = n;
            return id;
        }
    }
    return 0;
}

/* ---- the three topic structures ----------------------------------------- */

static router_map_t *s_topic_map(const router_index_t *self, tg_match_t match)
{
    return match == TG_MATCH_EXACT ? self->exact : self->prefix;
}

/* The entry of (match, topic); with `create`, made if missing. NULL when
   absent or on allocation failure. */
static router_entry_t *s_entry(router_index_t *self, tg_match_t match, const char *topic,
                               bool create)
{
    size_t len = strlen(topic);
    if (match == TG_MATCH_WILDCARD) {
        router_entry_t **slot = router_trie_slot(self->wildcard, topic, create);
        if (!slot || *slot || !create)
            return slot ? *slot : NULL;
        *slot = router_entry_new(match, topic, len, &self->bytes);
        if (!*slot)
            router_trie_prune(self->wildcard, topic);
        return *slot;
    }
    router_map_t *map = s_topic_map(self, match);
    uint64_t hash = router_map_hash(topic, len);
    router_entry_t *entry = router_map_get(map, hash, topic, len);
    if (entry || !create)
        return entry;
    entry = router_entry_new(match, topic, len, &self->bytes);
    if (entry)
        router_map_put(map, hash, topic, len, entry);
    if (entry && match == TG_MATCH_PREFIX)
        self->prefix_lengths[len]++;
    return entry;
}

/* Unlinks and frees entry if no subscription is left in it. */
static void s_entry_release(router_index_t *self, router_entry_t *entry)
{
    if (!router_entry_empty(entry))
        return;
    tg_match_t match = router_entry_match_policy(entry);
    const char *topic = router_entry_topic(entry);
    size_t len = router_entry_topic_len(entry);
    if (match == TG_MATCH_WILDCARD) {
        router_entry_t **slot = router_trie_slot(self->wildcard, topic, false);
        tg_check(slot && *slot == entry);
        *slot = NULL;
        router_trie_prune(self->wildcard, topic);
    } else {
        router_map_remove(s_topic_map(self, match), router_map_hash(topic, len), topic, len);
        if (match == TG_MATCH_PREFIX)
            self->prefix_lengths[len]--;
    }
    router_entry_destroy(&entry);
}

/* ---- subscriptions ------------------------------------------------------ */

/* Removes sub from every structure and frees it. */
static void s_sub_unlink(router_index_t *self, router_sub_t *sub)
{
    router_table_remove(self->by_id, sub->id);
    if (self->collided && router_map_size(self->collided)) {
        tg_subkey_t key;
        tg_subkey_make(&key, router_sub_match(sub), router_sub_topic(sub), router_sub_filter(sub));
        uint64_t hash = router_map_hash(key.bytes, key.len);
        if (router_map_get(self->collided, hash, key.bytes, key.len) == sub)
            router_map_remove(self->collided, hash, key.bytes, key.len);
        tg_subkey_clear(&key);
    }
    self->size--;
    self->holders -= sub->edges_count;
    router_entry_t *entry = sub->entry;
    tg_query_t *query = router_entry_remove(entry, sub);
    tg_query_destroy(&query);
    s_entry_release(self, entry);
}

/* A new subscription for the key, linked everywhere. Takes ownership of
 *query_p on success. NULL on failure (nothing changed). */
static router_sub_t *s_sub_new(router_index_t *self, tg_match_t match, const char *topic,
                               tg_query_t **query_p, const tg_subkey_t *key, uint64_t first_id)
{
    uint32_t counter = 0;
    uint64_t id = s_new_id(self, key, first_id, &counter);
    if (!id)
        return NULL;
    if (counter && !self->collided) {
        self->collided = router_map_new();
        router_map_set_account(self->collided, &self->bytes);
    }
    router_entry_t *entry = s_entry(self, match, topic, true);
    if (!entry)
        return NULL;
    router_sub_t *sub = router_entry_add(entry, *query_p);
    if (!sub) {
        s_entry_release(self, entry);
        return NULL;
    }
    sub->id = id;
    bool ok = router_table_put(self->by_id, sub) == 0;
    if (ok && counter)
        router_map_put(self->collided, router_map_hash(key->bytes, key->len), key->bytes, key->len,
                       sub);
    if (!ok) {
        *query_p = router_entry_remove(entry, sub); /* the same filter, still the caller's */
        s_entry_release(self, entry);
        return NULL;
    }
    *query_p = NULL;
    self->size++;
    return sub;
}

static int s_sub_add_edge(router_index_t *self, router_sub_t *sub, void *edge)
{
    void *const *edges = router_sub_edges(sub);
    for (uint32_t i = 0; i < sub->edges_count; i++)
        if (edges[i] == edge)
            return 0;
    if (sub->edges_count == UINT16_MAX)
        return -1;
    if (sub->edges_count == sub->edges_capacity) {
        /* The first edge lives in the struct; the second moves both to an
           array, which doubles from there. */
        uint32_t capacity = (uint32_t)sub->edges_capacity * 2;
        if (capacity > UINT16_MAX)
            capacity = UINT16_MAX;
        bool was_inline = sub->edges_capacity <= 1;
        void **array = tg_realloc(was_inline ? NULL : sub->edges.many, capacity * sizeof *array);
        if (was_inline)
            array[0] = sub->edges.one;
        else
            self->bytes -= sub->edges_capacity * sizeof *array;
        self->bytes += capacity * sizeof *array;
        sub->edges.many = array;
        sub->edges_capacity = (uint16_t)capacity;
    }
    if (sub->edges_capacity <= 1)
        sub->edges.one = edge;
    else
        sub->edges.many[sub->edges_count] = edge;
    sub->edges_count++;
    self->holders++;
    return 0;
}

int router_index_add(router_index_t *self, tg_match_t match, const char *topic,
                     tg_query_t **filter_p, void *edge, uint64_t *sub_id)
{
    assert(self && topic && sub_id);
    tg_query_t *query = filter_p ? *filter_p : NULL;
    if (filter_p)
        *filter_p = NULL;
    size_t topic_len = strlen(topic);
    bool valid =
        topic_len > 0 && topic_len <= TG_MAX_TOPIC &&
        (match == TG_MATCH_EXACT || match == TG_MATCH_PREFIX || match == TG_MATCH_WILDCARD);
    if (!valid) {
        tg_query_destroy(&query);
        return -1;
    }
    const char *filter = query ? tg_query_canonical(query) : NULL;
    tg_subkey_t key;
    tg_subkey_make(&key, match, topic, filter);
    uint64_t first_id = 0;
    router_sub_t *sub = s_find(self, &key, match, topic, filter, &first_id);
    if (!sub)
        sub = s_sub_new(self, match, topic, &query, &key, first_id);
    tg_subkey_clear(&key);
    tg_query_destroy(&query); /* an equivalent one is subscribed, or failure */
    if (!sub)
        return -1;
    if (s_sub_add_edge(self, sub, edge) != 0) {
        if (sub->edges_count == 0)
            s_sub_unlink(self, sub);
        return -1;
    }
    *sub_id = sub->id;
    return 0;
}

/* Removes edge from sub (and sub when empty). 0, or -1 when not held. */
static int s_sub_remove_edge(router_index_t *self, router_sub_t *sub, void *edge)
{
    void **edges = sub->edges_capacity <= 1 ? &sub->edges.one : sub->edges.many;
    for (uint32_t i = 0; i < sub->edges_count; i++) {
        if (edges[i] != edge)
            continue;
        edges[i] = edges[--sub->edges_count];
        self->holders--;
        if (sub->edges_count == 0)
            s_sub_unlink(self, sub);
        return 0;
    }
    return -1;
}

int router_index_remove(router_index_t *self, uint64_t sub_id, void *edge)
{
    router_sub_t *sub = router_table_get(self->by_id, sub_id);
    int rc = sub ? s_sub_remove_edge(self, sub, edge) : -1;
    router_table_shrink(self->by_id);
    return rc;
}

size_t router_index_remove_edge(router_index_t *self, void *edge)
{
    /* Walk the id table; a removal may pull a later subscription into the
       current slot, so look at a slot again until it stays the same. A
       subscription seen twice (moved from the front to the back) is no
       longer held by the edge the second time. */
    size_t removed = 0;
    size_t i = 0;
    while (i < router_table_capacity(self->by_id)) {
        router_sub_t *sub = router_table_slot(self->by_id, i);
        if (sub && s_sub_remove_edge(self, sub, edge) == 0) {
            removed++;
            if (router_table_slot(self->by_id, i) != sub)
                continue;
        }
        i++;
    }
    router_table_shrink(self->by_id);
    return removed;
}

/* ---- matching ----------------------------------------------------------- */

typedef struct {
    router_event_t event;
    router_index_fn *fn;
    void *arg;
} s_visitor_t;

static size_t s_visit(const router_entry_t *entry, void *arg)
{
    s_visitor_t *visitor = arg;
    return entry ? router_entry_match(entry, &visitor->event, visitor->fn, visitor->arg) : 0;
}

size_t router_index_match(const router_index_t *self, const char *topic, size_t len,
                          const void *body, size_t body_len, router_index_fn *fn, void *arg)
{
    return router_index_match_counted(self, topic, len, body, body_len, fn, arg, NULL);
}

size_t router_index_match_counted(const router_index_t *self, const char *topic, size_t len,
                                  const void *body, size_t body_len, router_index_fn *fn, void *arg,
                                  size_t *candidates)
{
    if (len == 0 || len > TG_MAX_TOPIC)
        return 0;
    s_visitor_t visitor = {{body, body_len, 0, 0}, fn, arg};
    size_t visited = 0;
    if (router_map_size(self->exact))
        visited +=
            s_visit(router_map_get(self->exact, router_map_hash(topic, len), topic, len), &visitor);
    if (router_map_size(self->prefix)) {
        uint64_t state = router_map_hash_begin();
        for (size_t i = 0; i < len; i++) {
            state = router_map_hash_step(state, (uint8_t)topic[i]);
            if (self->prefix_lengths[i + 1])
                visited +=
                    s_visit(router_map_get(self->prefix, router_map_hash_end(state), topic, i + 1),
                            &visitor);
        }
    }
    visited += router_trie_match(self->wildcard, topic, len, s_visit, &visitor);
    if (candidates)
        *candidates += visitor.event.candidates;
    return visited;
}
