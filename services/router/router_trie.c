/*  router_trie: wildcard patterns -> topic entries. See router_trie.h.
 */
#include "router_trie.h"
#include "tg_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router_map.h"

/* A topic of TG_MAX_TOPIC bytes has at most this many components. */
#define ROUTER_MAX_COMPONENTS (TG_MAX_TOPIC / 2 + 1)

/* A node: the patterns sharing its path of components. */
typedef struct _router_wnode_t router_wnode_t;
struct _router_wnode_t {
    router_wnode_t *parent;  /* NULL for the root */
    uint64_t component_hash; /* router_map_hash of component */
    size_t component_len;    /* 0 for the root and for a parent's wildcard branch */
    router_map_t *children;  /* literal component -> node; NULL until the first child */
    router_wnode_t *any;     /* child for an empty pattern component, or NULL */
    router_entry_t *entry;   /* the pattern ending here, or NULL */
    char component[];        /* its key in parent->children */
};

struct _router_trie_t {
    router_wnode_t *root; /* never pruned */
    size_t *account;      /* borrowed byte counter */
};

/* One component of a topic, as the walk needs it. */
typedef struct {
    const char *start;
    size_t len;
    uint64_t hash;
} router_component_t;

static size_t s_node_size(size_t component_len)
{
    return sizeof(router_wnode_t) + component_len + 1;
}

router_trie_t *router_trie_new(size_t *account)
{
    router_trie_t *self = tg_new(router_trie_t);
    self->root = tg_calloc(1, s_node_size(0));
    self->account = account;
    *account += sizeof *self + s_node_size(0);
    return self;
}

void router_trie_destroy(router_trie_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_trie_t *self = *self_p;
    /* Emptied slots were pruned: only the root (and its empty map) is left. */
    router_map_destroy(&self->root->children);
    free(self->root);
    *self->account -= sizeof *self + s_node_size(0);
    free(self);
    *self_p = NULL;
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

static router_wnode_t *s_child(const router_wnode_t *node, const router_component_t *c)
{
    if (c->len == 0)
        return node->any;
    return node->children ? router_map_get(node->children, c->hash, c->start, c->len) : NULL;
}

/* Frees node and its empty ancestors (no pattern, no children). */
static void s_prune(router_trie_t *self, router_wnode_t *node)
{
    while (node != self->root && !node->entry && !node->any &&
           (!node->children || router_map_size(node->children) == 0)) {
        router_wnode_t *parent = node->parent;
        if (node->component_len)
            router_map_remove(parent->children, node->component_hash, node->component,
                              node->component_len);
        else
            parent->any = NULL;
        router_map_destroy(&node->children);
        *self->account -= s_node_size(node->component_len);
        free(node);
        node = parent;
    }
}

/* A new child of node for component c, linked. NULL on allocation failure. */
static router_wnode_t *s_new_child(router_trie_t *self, router_wnode_t *node,
                                   const router_component_t *c)
{
    router_wnode_t *child = tg_calloc(1, s_node_size(c->len));
    *self->account += s_node_size(c->len);
    child->parent = node;
    if (c->len == 0) {
        node->any = child;
        return child;
    }
    memcpy(child->component, c->start, c->len);
    child->component_len = c->len;
    child->component_hash = c->hash;
    if (!node->children) {
        node->children = router_map_new();
        router_map_set_account(node->children, self->account);
    }
    router_map_put(node->children, c->hash, c->start, c->len, child);
    return child;
}

/* The node where `pattern` ends; with `create`, builds the missing path.
   NULL when absent (or on allocation failure, after pruning what it built). */
static router_wnode_t *s_path(router_trie_t *self, const char *pattern, bool create)
{
    router_component_t comps[ROUTER_MAX_COMPONENTS];
    size_t count = s_split(pattern, strlen(pattern), comps, ROUTER_MAX_COMPONENTS);
    if (count == 0)
        return NULL;
    router_wnode_t *node = self->root;
    for (size_t i = 0; i < count; i++) {
        router_wnode_t *child = s_child(node, &comps[i]);
        if (!child && create) {
            child = s_new_child(self, node, &comps[i]);
            if (!child) {
                s_prune(self, node);
                return NULL;
            }
        }
        if (!child)
            return NULL;
        node = child;
    }
    return node;
}

router_entry_t **router_trie_slot(router_trie_t *self, const char *pattern, bool create)
{
    router_wnode_t *node = s_path(self, pattern, create);
    return node ? &node->entry : NULL;
}

void router_trie_prune(router_trie_t *self, const char *pattern)
{
    router_wnode_t *node = s_path(self, pattern, false);
    if (node)
        s_prune(self, node);
}

static size_t s_visit(const router_wnode_t *node, const router_component_t *comps, size_t count,
                      size_t depth, router_trie_fn *fn, void *arg)
{
    if (depth == count)
        return node->entry ? fn(node->entry, arg) : 0;
    size_t visited = 0;
    /* A topic's empty component (never in a valid event name) matches only
       the wildcard branch: the literal map has no "" key. */
    if (node->children && comps[depth].len) {
        const router_wnode_t *child =
            router_map_get(node->children, comps[depth].hash, comps[depth].start, comps[depth].len);
        if (child)
            visited += s_visit(child, comps, count, depth + 1, fn, arg);
    }
    if (node->any)
        visited += s_visit(node->any, comps, count, depth + 1, fn, arg);
    return visited;
}

size_t router_trie_match(const router_trie_t *self, const char *topic, size_t len,
                         router_trie_fn *fn, void *arg)
{
    if (!self->root->any && (!self->root->children || router_map_size(self->root->children) == 0))
        return 0;
    router_component_t comps[ROUTER_MAX_COMPONENTS];
    size_t count = s_split(topic, len, comps, ROUTER_MAX_COMPONENTS);
    return count ? s_visit(self->root, comps, count, 0, fn, arg) : 0;
}
