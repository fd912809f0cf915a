/*  router_index: the router's aggregated subscription index.
    The structures and their cost model are described in router_index.h.
*/
#include "router_index.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router_map.h"

#define ROUTER_ID_MASK ((1ULL << 53) - 1)
/* A topic of TG_MAX_TOPIC bytes has at most this many components. */
#define ROUTER_MAX_COMPONENTS (TG_MAX_TOPIC / 2 + 1)

/* A node of the wildcard trie: the patterns sharing its path of components. */
typedef struct _router_wnode_t router_wnode_t;
struct _router_wnode_t {
    router_wnode_t *parent; /* NULL for the root */
    uint8_t *component;     /* owned copy of its key in parent->children; NULL for
                               the root and for a parent's wildcard branch */
    size_t component_len;
    uint64_t component_hash; /* router_map_hash of component */
    router_map_t *children;  /* literal component -> node; NULL until the first child */
    router_wnode_t *any;     /* child for an empty pattern component, or NULL */
    router_sub_t *subs;      /* patterns ending here (differing by filter), via next_same */
};

struct _router_index_t {
    router_map_t *by_id;                       /* 8-byte id -> subscription */
    router_map_t *exact;                       /* topic -> subscriptions (next_same list) */
    router_map_t *prefix;                      /* prefix -> subscriptions (next_same list) */
    uint32_t prefix_lengths[TG_MAX_TOPIC + 1]; /* prefix subscriptions per prefix length */
    size_t prefix_count;                       /* prefix subscriptions in all */
    router_wnode_t wild_root;                  /* wildcard trie; the root is never freed */
    router_sub_t *all;                         /* every subscription (all_next list) */
    size_t size;                               /* subscriptions */
    size_t holders;                            /* (subscription, edge) pairs */
    router_index_id_fn *id_fn;                 /* NULL = SHA-256 */
};

/* One component of a topic, as the wildcard walk needs it. */
typedef struct {
    const char *start;
    size_t len;
    uint64_t hash;
} router_component_t;

router_index_t *router_index_new(void)
{
    router_index_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->by_id = router_map_new();
    self->exact = router_map_new();
    self->prefix = router_map_new();
    if (!self->by_id || !self->exact || !self->prefix) {
        router_index_destroy(&self);
        return NULL;
    }
    return self;
}

static void s_sub_unlink(router_index_t *self, router_sub_t *sub);

void router_index_destroy(router_index_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_index_t *self = *self_p;
    /* Unlinking each subscription also prunes the trie down to its root. */
    while (self->all)
        s_sub_unlink(self, self->all);
    router_map_destroy(&self->wild_root.children); /* the root is never pruned */
    router_map_destroy(&self->by_id);
    router_map_destroy(&self->exact);
    router_map_destroy(&self->prefix);
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

void router_index_set_id_fn(router_index_t *self, router_index_id_fn *fn)
{
    self->id_fn = fn;
}

/* Splits text into '.'-separated components (an empty one between two dots
   or at either end). Returns the count, or 0 when there are more than
   `max` (the caller's array). */
static size_t s_split(const char *text, size_t len, router_component_t *out, size_t max)
{
    size_t count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '.')
            continue;
        if (count == max)
            return 0;
        out[count].start = text + start;
        out[count].len = i - start;
        out[count].hash = router_map_hash(text + start, i - start);
        count++;
        start = i + 1;
    }
    return count;
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

static uint64_t s_sha256_id(const void *key, size_t len, uint32_t counter)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    char suffix[16];
    int suffix_len = counter ? snprintf(suffix, sizeof suffix, "%c%u", 0, counter) : 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, key, len) == 1 &&
              EVP_DigestUpdate(ctx, suffix, (size_t)suffix_len) == 1 &&
              EVP_DigestFinal_ex(ctx, digest, &digest_len) == 1 && digest_len >= 8;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return 0; /* the caller treats 0 as a failure of the digest */
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = (id << 8) | digest[i];
    /* 0 after masking is legal input for the caller (it maps 0 -> 1); make a
       raw 0 impossible so that 0 only ever means "digest failed". */
    return id ? id : 1;
}

static uint64_t s_id_hash(uint64_t id)
{
    return router_map_hash(&id, sizeof id);
}

const router_sub_t *router_index_lookup(const router_index_t *self, uint64_t sub_id)
{
    return router_map_get(self->by_id, s_id_hash(sub_id), &sub_id, sizeof sub_id);
}

/* Picks the id of a new key: the hash of the canonical key, or of the key
   with a counter appended while the id belongs to another subscription.
   Returns 0 on failure. */
static uint64_t s_new_id(router_index_t *self, tg_match_t match, const char *topic,
                         const char *filter)
{
    const char *match_name = tg_match_name(match);
    size_t name_len = strlen(match_name), topic_len = strlen(topic);
    size_t filter_len = filter ? strlen(filter) : 0;
    size_t len = name_len + 1 + topic_len + 1 + filter_len;
    char *key = malloc(len);
    if (!key)
        return 0;
    memcpy(key, match_name, name_len);
    key[name_len] = 0;
    memcpy(key + name_len + 1, topic, topic_len);
    key[name_len + 1 + topic_len] = 0;
    if (filter_len)
        memcpy(key + name_len + 1 + topic_len + 1, filter, filter_len);

    uint64_t id = 0;
    for (uint32_t counter = 0; counter < UINT32_MAX; counter++) {
        uint64_t raw =
            self->id_fn ? self->id_fn(key, len, counter) : s_sha256_id(key, len, counter);
        if (!self->id_fn && raw == 0)
            break;
        uint64_t candidate = raw & ROUTER_ID_MASK;
        if (candidate == 0)
            candidate = 1;
        if (!router_index_lookup(self, candidate)) {
            id = candidate;
            break;
        }
    }
    free(key);
    return id;
}

/* ---- the three structures ----------------------------------------------- */

static router_map_t *s_topic_map(const router_index_t *self, tg_match_t match)
{
    return match == TG_MATCH_EXACT ? self->exact : self->prefix;
}

static router_wnode_t *s_wnode_child(const router_wnode_t *node, const router_component_t *c)
{
    if (c->len == 0)
        return node->any;
    return node->children ? router_map_get(node->children, c->hash, c->start, c->len) : NULL;
}

/* Frees node and its empty ancestors (no patterns, no children). */
static void s_wnode_prune(router_index_t *self, router_wnode_t *node)
{
    while (node != &self->wild_root && !node->subs && !node->any &&
           (!node->children || router_map_size(node->children) == 0)) {
        router_wnode_t *parent = node->parent;
        if (node->component)
            router_map_remove(parent->children, node->component_hash, node->component,
                              node->component_len);
        else
            parent->any = NULL;
        router_map_destroy(&node->children);
        free(node->component);
        free(node);
        node = parent;
    }
}

/* The node where `pattern` ends; with `create`, builds the missing path.
   NULL when absent (or on allocation failure, after pruning what it built). */
static router_wnode_t *s_wnode_path(router_index_t *self, const char *pattern, bool create)
{
    router_component_t comps[ROUTER_MAX_COMPONENTS];
    size_t count = s_split(pattern, strlen(pattern), comps, ROUTER_MAX_COMPONENTS);
    if (count == 0)
        return NULL;
    router_wnode_t *node = &self->wild_root;
    for (size_t i = 0; i < count; i++) {
        router_wnode_t *child = s_wnode_child(node, &comps[i]);
        if (!child && create) {
            child = calloc(1, sizeof *child);
            bool ok = child != NULL;
            if (ok && comps[i].len) {
                if (!node->children)
                    node->children = router_map_new();
                child->component = malloc(comps[i].len);
                ok = node->children && child->component;
                if (ok) {
                    memcpy(child->component, comps[i].start, comps[i].len);
                    child->component_len = comps[i].len;
                    child->component_hash = comps[i].hash;
                    ok = router_map_put(node->children, comps[i].hash, comps[i].start, comps[i].len,
                                        child) == 0;
                }
            } else if (ok)
                node->any = child;
            if (!ok) {
                if (child)
                    free(child->component);
                free(child);
                s_wnode_prune(self, node);
                return NULL;
            }
            child->parent = node;
        }
        if (!child)
            return NULL;
        node = child;
    }
    return node;
}

/* The head of the list of subscriptions with this policy and topic. */
static router_sub_t *s_sub_head(const router_index_t *self, tg_match_t match, const char *topic)
{
    if (match == TG_MATCH_WILDCARD) {
        router_wnode_t *node = s_wnode_path((router_index_t *)self, topic, false);
        return node ? node->subs : NULL;
    }
    size_t len = strlen(topic);
    return router_map_get(s_topic_map(self, match), router_map_hash(topic, len), topic, len);
}

static bool s_same_filter(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void s_sub_free(router_sub_t *sub)
{
    free(sub->edges);
    free(sub->topic);
    free(sub->filter);
    free(sub);
}

/* Links a new subscription into its policy's structure. 0, or -1 after
   freeing sub. */
static int s_sub_link(router_index_t *self, router_sub_t *sub)
{
    if (sub->match == TG_MATCH_WILDCARD) {
        router_wnode_t *node = s_wnode_path(self, sub->topic, true);
        if (!node) {
            s_sub_free(sub);
            return -1;
        }
        sub->node = node;
        sub->next_same = node->subs;
        node->subs = sub;
    } else {
        router_map_t *map = s_topic_map(self, sub->match);
        uint64_t hash = router_map_hash(sub->topic, sub->topic_len);
        sub->next_same = router_map_get(map, hash, sub->topic, sub->topic_len);
        if (router_map_put(map, hash, sub->topic, sub->topic_len, sub) != 0) {
            s_sub_free(sub);
            return -1;
        }
        if (sub->match == TG_MATCH_PREFIX) {
            self->prefix_lengths[sub->topic_len]++;
            self->prefix_count++;
        }
    }
    if (router_map_put(self->by_id, s_id_hash(sub->id), &sub->id, sizeof sub->id, sub) != 0) {
        s_sub_unlink(self, sub); /* tolerates the missing id entry */
        return -1;
    }
    sub->all_next = self->all;
    if (self->all)
        self->all->all_prev = sub;
    self->all = sub;
    self->size++;
    return 0;
}

/* Removes sub from every structure and frees it. Tolerates a sub that
   s_sub_link linked only partially (not in by_id nor in the all list). */
static void s_sub_unlink(router_index_t *self, router_sub_t *sub)
{
    router_sub_t **head_p = NULL;
    router_sub_t *map_head = NULL;
    if (sub->match == TG_MATCH_WILDCARD)
        head_p = &((router_wnode_t *)sub->node)->subs;
    else {
        map_head =
            router_map_get(s_topic_map(self, sub->match),
                           router_map_hash(sub->topic, sub->topic_len), sub->topic, sub->topic_len);
        head_p = &map_head;
    }
    for (router_sub_t **p = head_p; *p; p = &(*p)->next_same)
        if (*p == sub) {
            *p = sub->next_same;
            break;
        }
    if (sub->match == TG_MATCH_WILDCARD)
        s_wnode_prune(self, sub->node);
    else {
        router_map_t *map = s_topic_map(self, sub->match);
        uint64_t hash = router_map_hash(sub->topic, sub->topic_len);
        if (map_head)
            router_map_put(map, hash, sub->topic, sub->topic_len,
                           map_head); /* a replace: no alloc */
        else
            router_map_remove(map, hash, sub->topic, sub->topic_len);
        if (sub->match == TG_MATCH_PREFIX) {
            self->prefix_lengths[sub->topic_len]--;
            self->prefix_count--;
        }
    }
    if (router_map_get(self->by_id, s_id_hash(sub->id), &sub->id, sizeof sub->id) == sub) {
        router_map_remove(self->by_id, s_id_hash(sub->id), &sub->id, sizeof sub->id);
        if (sub->all_prev)
            sub->all_prev->all_next = sub->all_next;
        else
            self->all = sub->all_next;
        if (sub->all_next)
            sub->all_next->all_prev = sub->all_prev;
        self->size--;
    }
    self->holders -= sub->edges_count;
    s_sub_free(sub);
}

static int s_sub_add_edge(router_index_t *self, router_sub_t *sub, void *edge)
{
    for (uint32_t i = 0; i < sub->edges_count; i++)
        if (sub->edges[i] == edge)
            return 0;
    if (sub->edges_count == sub->edges_capacity) {
        uint32_t capacity = sub->edges_capacity ? sub->edges_capacity * 2 : 2;
        void **edges = realloc(sub->edges, capacity * sizeof *edges);
        if (!edges)
            return -1;
        sub->edges = edges;
        sub->edges_capacity = capacity;
    }
    sub->edges[sub->edges_count++] = edge;
    self->holders++;
    return 0;
}

int router_index_add(router_index_t *self, tg_match_t match, const char *topic, const char *filter,
                     void *edge, uint64_t *sub_id)
{
    assert(self && topic && sub_id);
    size_t topic_len = strlen(topic);
    if (topic_len == 0 || topic_len > TG_MAX_TOPIC)
        return -1;
    if (match != TG_MATCH_EXACT && match != TG_MATCH_PREFIX && match != TG_MATCH_WILDCARD)
        return -1;
    if (filter && !*filter)
        filter = NULL; /* the canonical key does not tell "" from none */

    router_sub_t *sub = s_sub_head(self, match, topic);
    while (sub && !s_same_filter(sub->filter, filter))
        sub = sub->next_same;
    if (!sub) {
        sub = calloc(1, sizeof *sub);
        if (!sub)
            return -1;
        sub->match = match;
        sub->topic = strdup(topic);
        sub->topic_len = topic_len;
        sub->filter = filter ? strdup(filter) : NULL;
        sub->id = s_new_id(self, match, topic, filter);
        if (!sub->topic || (filter && !sub->filter) || !sub->id) {
            s_sub_free(sub);
            return -1;
        }
        if (s_sub_link(self, sub) != 0)
            return -1; /* s_sub_link freed it */
    }
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
    for (uint32_t i = 0; i < sub->edges_count; i++) {
        if (sub->edges[i] != edge)
            continue;
        sub->edges[i] = sub->edges[--sub->edges_count];
        self->holders--;
        if (sub->edges_count == 0)
            s_sub_unlink(self, sub);
        return 0;
    }
    return -1;
}

int router_index_remove(router_index_t *self, uint64_t sub_id, void *edge)
{
    router_sub_t *sub = (router_sub_t *)router_index_lookup(self, sub_id);
    return sub ? s_sub_remove_edge(self, sub, edge) : -1;
}

size_t router_index_remove_edge(router_index_t *self, void *edge)
{
    size_t removed = 0;
    router_sub_t *sub = self->all;
    while (sub) {
        router_sub_t *next = sub->all_next; /* sub may be freed below */
        if (s_sub_remove_edge(self, sub, edge) == 0)
            removed++;
        sub = next;
    }
    return removed;
}

/* ---- matching ----------------------------------------------------------- */

static size_t s_visit_list(const router_sub_t *sub, router_index_fn *fn, void *arg)
{
    size_t count = 0;
    for (; sub; sub = sub->next_same, count++)
        fn(sub, arg);
    return count;
}

static size_t s_wild_visit(const router_wnode_t *node, const router_component_t *comps,
                           size_t count, size_t depth, router_index_fn *fn, void *arg)
{
    if (depth == count)
        return s_visit_list(node->subs, fn, arg);
    size_t visited = 0;
    /* A topic's empty component (never in a valid event name) matches only
       the wildcard branch: the literal map has no "" key. */
    if (node->children && comps[depth].len) {
        const router_wnode_t *child =
            router_map_get(node->children, comps[depth].hash, comps[depth].start, comps[depth].len);
        if (child)
            visited += s_wild_visit(child, comps, count, depth + 1, fn, arg);
    }
    if (node->any)
        visited += s_wild_visit(node->any, comps, count, depth + 1, fn, arg);
    return visited;
}

size_t router_index_match(const router_index_t *self, const char *topic, size_t len,
                          router_index_fn *fn, void *arg)
{
    if (len == 0 || len > TG_MAX_TOPIC)
        return 0;
    size_t visited = 0;
    if (router_map_size(self->exact))
        visited += s_visit_list(
            router_map_get(self->exact, router_map_hash(topic, len), topic, len), fn, arg);
    if (self->prefix_count) {
        uint64_t state = router_map_hash_begin();
        for (size_t i = 0; i < len; i++) {
            state = router_map_hash_step(state, (uint8_t)topic[i]);
            if (self->prefix_lengths[i + 1])
                visited += s_visit_list(
                    router_map_get(self->prefix, router_map_hash_end(state), topic, i + 1), fn,
                    arg);
        }
    }
    if (self->wild_root.any ||
        (self->wild_root.children && router_map_size(self->wild_root.children))) {
        router_component_t comps[ROUTER_MAX_COMPONENTS];
        size_t count = s_split(topic, len, comps, ROUTER_MAX_COMPONENTS);
        if (count)
            visited += s_wild_visit(&self->wild_root, comps, count, 0, fn, arg);
    }
    return visited;
}
