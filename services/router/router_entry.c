/*  router_entry: one topic entry's subscriptions, indexed by filter value.
    The structures and their cost are described in router_entry.h.
*/
#include "router_entry.h"
#include "tg_alloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "router_map.h"
#include "router_range.h"
#include "router_table.h"
#include "tg_msgpack_frame.h"

/* The filters of an entry indexed on one path: by value (equality) or by
   bound (range). Each part exists while a filter uses it. */
typedef struct _router_group_t router_group_t;
struct _router_group_t {
    router_group_t *next;    /* next group of the entry */
    router_table_t *buckets; /* value key hash -> first node of that value's bucket, or NULL */
    router_range_t *ranges;  /* range filters on this path, or NULL */
    size_t subs;             /* subscriptions with nodes here */
    char path[];             /* canonical path, NUL-terminated */
};

struct _router_entry_t {
    tg_match_t match;
    size_t topic_len;
    size_t subs;               /* subscriptions, all three kinds */
    router_sub_t *plain;       /* the one without a filter, or NULL */
    router_group_t *groups;    /* one per indexed path in use */
    router_vnode_t *unindexed; /* filters without an index path (nodes[0] of each) */
    size_t *account;           /* borrowed: the index's byte counter */
    char topic[];              /* topic_len bytes + NUL */
};

/* How a filter is held: no node (no filter), one node in the unindexed
   list, one node per distinct value key hash in the group of `path`
   (equality), or one node whose slot is its element in the group's range
   arrays (range). */
typedef struct {
    bool indexed;            /* equality */
    bool range;              /* range (never both) */
    const char *path;        /* borrowed from the query */
    uint32_t *hashes;        /* owned, count distinct hashes when indexed */
    size_t count;            /* nodes the subscription needs */
    tg_query_range_op_t op;  /* range */
    tg_query_number_t bound; /* range */
} s_plan_t;

static void *s_alloc(size_t *account, size_t size)
{
    void *p = tg_calloc(1, size);
    *account += size;
    return p;
}

static void s_free(size_t *account, void *p, size_t size)
{
    if (!p)
        return;
    *account -= size;
    free(p);
}

static size_t s_sub_size(uint32_t nodes)
{
    return sizeof(router_sub_t) + nodes * sizeof(router_vnode_t);
}

/* The subscription a node belongs to: nodes[] sits at the end of it. */
static router_sub_t *s_node_sub(const router_vnode_t *node)
{
    return (router_sub_t *)((char *)(node - node->index) - offsetof(router_sub_t, nodes));
}

/* The bucket key of a value key: 32 bits of its hash. Two values may share
   one (rarely; the hash is seeded per process, so keys from outside do not
   collide by construction, see router_map.h); their filters are then
   candidates for each other's events, which the evaluation of the whole
   filter settles: a collision costs time, never a wrong match. */
static uint32_t s_value_hash(const uint8_t *key, size_t len)
{
    return (uint32_t)router_map_hash(key, len);
}

router_entry_t *router_entry_new(tg_match_t match, const char *topic, size_t len, size_t *account)
{
    assert(topic && account);
    router_entry_t *self = s_alloc(account, sizeof *self + len + 1);
    if (!self)
        return NULL;
    self->match = match;
    self->topic_len = len;
    self->account = account;
    memcpy(self->topic, topic, len);
    self->topic[len] = 0;
    return self;
}

void router_entry_destroy(router_entry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_entry_t *self = *self_p;
    /* Groups go with their last subscription: an empty entry owns nothing. */
    assert(self->subs == 0 && !self->groups);
    s_free(self->account, self, sizeof *self + self->topic_len + 1);
    *self_p = NULL;
}

const char *router_entry_topic(const router_entry_t *self)
{
    return self->topic;
}

size_t router_entry_topic_len(const router_entry_t *self)
{
    return self->topic_len;
}

tg_match_t router_entry_match_policy(const router_entry_t *self)
{
    return self->match;
}

bool router_entry_empty(const router_entry_t *self)
{
    return self->subs == 0;
}

static int s_compare_hash(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* True when query is held in a group: it has an index path with at least
   one value, and every value has a key (tg_query_index_value gives none
   for what it cannot index). *path and *count as tg_query_index_path. */
static bool s_indexed(const tg_query_t *query, const char **path, size_t *count)
{
    if (!query || !tg_query_index_path(query, path, count) || !*path || *count == 0)
        return false;
    uint8_t key[TG_QUERY_MAX_KEY];
    for (size_t i = 0; i < *count; i++) {
        size_t len = tg_query_index_value(query, i, key);
        if (len == 0 || len > TG_QUERY_MAX_KEY)
            return false;
    }
    return true;
}

/* Decides how query is held. 0, or -1 on allocation failure. Equal value
   keys (`x in [1, 1.0]`) and equal hashes share one node, so that a
   subscription appears at most once in a bucket and is visited once. */
static int s_plan(const tg_query_t *query, s_plan_t *plan)
{
    *plan = (s_plan_t){.count = query ? 1 : 0};
    const char *path = NULL;
    size_t count = 0;
    if (!s_indexed(query, &path, &count)) {
        plan->range = query && tg_query_range_path(query, &plan->path, &plan->op, &plan->bound);
        return 0;
    }
    uint32_t *hashes = tg_malloc(count * sizeof *hashes);
    uint8_t key[TG_QUERY_MAX_KEY];
    for (size_t i = 0; i < count; i++)
        hashes[i] = s_value_hash(key, tg_query_index_value(query, i, key));
    qsort(hashes, count, sizeof *hashes, s_compare_hash);
    size_t distinct = 1;
    for (size_t i = 1; i < count; i++)
        if (hashes[i] != hashes[distinct - 1])
            hashes[distinct++] = hashes[i];
    *plan = (s_plan_t){.indexed = true, .path = path, .hashes = hashes, .count = distinct};
    return 0;
}

/* Frees group when no subscription uses it any more, and its value table
   or range arrays when no filter uses them. */
static void s_group_release(router_entry_t *self, router_group_t *group)
{
    if (group->buckets && router_table_size(group->buckets) == 0)
        router_table_destroy(&group->buckets);
    if (group->ranges && router_range_size(group->ranges) == 0)
        router_range_destroy(&group->ranges);
    if (group->subs)
        return;
    for (router_group_t **p = &self->groups; *p; p = &(*p)->next)
        if (*p == group) {
            *p = group->next;
            break;
        }
    s_free(self->account, group, sizeof *group + strlen(group->path) + 1);
}

/* The group of path, created with `create`, with its value table (for
   `range` false) or its range arrays (true) made if missing. NULL if
   absent or on allocation failure. */
static router_group_t *s_group(router_entry_t *self, const char *path, bool create, bool range)
{
    router_group_t *group = self->groups;
    while (group && strcmp(group->path, path) != 0)
        group = group->next;
    if (!create)
        return group;
    if (!group) {
        size_t len = strlen(path);
        group = s_alloc(self->account, sizeof *group + len + 1);
        if (!group)
            return NULL;
        memcpy(group->path, path, len + 1);
        group->next = self->groups;
        self->groups = group;
    }
    if (!range && !group->buckets)
        group->buckets =
            router_table_new(offsetof(router_vnode_t, hash), sizeof(uint32_t), self->account);
    if (range && !group->ranges)
        group->ranges = router_range_new(self->account);
    if (range ? !group->ranges : !group->buckets) {
        s_group_release(self, group);
        return NULL;
    }
    return group;
}

/* Links node into the bucket of node->hash: after the head, so that the
   table is touched only when the bucket is new. 0, or -1 when the table
   cannot grow. */
static int s_bucket_insert(router_group_t *group, router_vnode_t *node)
{
    router_vnode_t *head = router_table_get(group->buckets, node->hash);
    if (!head) {
        node->prev = node->next = NULL;
        return router_table_put(group->buckets, node);
    }
    node->prev = head;
    node->next = head->next;
    if (head->next)
        head->next->prev = node;
    head->next = node;
    return 0;
}

static void s_bucket_remove(router_group_t *group, router_vnode_t *node)
{
    if (node->next)
        node->next->prev = node->prev;
    if (node->prev)
        node->prev->next = node->next;
    else if (node->next)
        router_table_put(group->buckets, node->next); /* same key: a replacement, cannot fail */
    else {
        router_table_remove(group->buckets, node->hash);
        router_table_shrink(group->buckets);
    }
}

router_sub_t *router_entry_add(router_entry_t *self, tg_query_t *query)
{
    if (!query && self->plain)
        return NULL;
    s_plan_t plan;
    if (s_plan(query, &plan) != 0)
        return NULL;
    router_sub_t *sub = s_alloc(self->account, s_sub_size((uint32_t)plan.count));
    if (!sub) {
        free(plan.hashes);
        return NULL;
    }
    sub->entry = self;
    sub->query = query;
    sub->nodes_count = (uint32_t)plan.count;
    sub->edges_capacity = 1;
    for (size_t i = 0; i < plan.count; i++)
        sub->nodes[i].index = (uint32_t)i;

    if (!query)
        self->plain = sub;
    else if (plan.range) {
        router_group_t *group = s_group(self, plan.path, true, true);
        if (!group || router_range_insert(group->ranges, sub, plan.op, &plan.bound) != 0) {
            if (group)
                s_group_release(self, group);
            s_free(self->account, sub, s_sub_size(sub->nodes_count));
            return NULL;
        }
        group->subs++;
    } else if (!plan.indexed) {
        router_vnode_t *node = &sub->nodes[0];
        node->next = self->unindexed;
        if (node->next)
            node->next->prev = node;
        self->unindexed = node;
    } else {
        router_group_t *group = s_group(self, plan.path, true, false);
        size_t linked = 0;
        while (group && linked < plan.count) {
            sub->nodes[linked].hash = plan.hashes[linked];
            if (s_bucket_insert(group, &sub->nodes[linked]) != 0)
                break;
            linked++;
        }
        if (!group || linked < plan.count) {
            while (linked > 0)
                s_bucket_remove(group, &sub->nodes[--linked]);
            if (group)
                s_group_release(self, group);
            s_free(self->account, sub, s_sub_size(sub->nodes_count));
            free(plan.hashes);
            return NULL;
        }
        group->subs++;
    }
    free(plan.hashes);
    self->subs++;
    if (query)
        *self->account += tg_query_memory(query);
    return sub;
}

tg_query_t *router_entry_remove(router_entry_t *self, router_sub_t *sub)
{
    tg_check(sub->entry == self);
    /* How sub is held is found again from its filter (the same decision
       as s_plan) rather than kept in every subscription: a few string
       compares at removal for 8 bytes less per subscription. */
    s_plan_t plan = {0};
    router_group_t *group = NULL;
    if (sub != self->plain) {
        const char *path = NULL;
        size_t count = 0;
        plan.indexed = s_indexed(sub->query, &path, &count);
        if (plan.indexed)
            group = s_group(self, path, false, false);
        else if ((plan.range = tg_query_range_path(sub->query, &plan.path, &plan.op, NULL)))
            group = s_group(self, plan.path, false, true);
        tg_check(!(plan.indexed || plan.range) || group);
    }
    if (sub == self->plain)
        self->plain = NULL;
    else if (plan.range) {
        router_range_remove(group->ranges, sub, plan.op);
        group->subs--;
        s_group_release(self, group);
    } else if (group) {
        for (uint32_t i = 0; i < sub->nodes_count; i++)
            s_bucket_remove(group, &sub->nodes[i]);
        group->subs--;
        s_group_release(self, group);
    } else {
        router_vnode_t *node = &sub->nodes[0];
        if (node->next)
            node->next->prev = node->prev;
        if (node->prev)
            node->prev->next = node->next;
        else
            self->unindexed = node->next;
    }
    self->subs--;
    tg_query_t *query = sub->query;
    if (query)
        *self->account -= tg_query_memory(query);
    if (sub->edges_capacity > 1)
        s_free(self->account, sub->edges.many, sub->edges_capacity * sizeof *sub->edges.many);
    s_free(self->account, sub, s_sub_size(sub->nodes_count));
    return query;
}

/* True when sub's filter accepts the event (see router_event_t). */
static bool s_accepts(const router_sub_t *sub, router_event_t *event)
{
    event->candidates++;
    if (event->framing == 0)
        event->framing =
            event->body && event->len &&
                    tg_msgpack_frame_check(event->body, event->len, TG_MSGPACK_FRAME_MAX_DEPTH,
                                           false, NULL, 0) == 0
                ? 1
                : -1;
    return event->framing == 1 && tg_query_match_trusted(sub->query, event->body, event->len);
}

/* The event and the caller's callback, for the candidates of the groups. */
typedef struct {
    router_event_t *event;
    router_index_fn *fn;
    void *arg;
    size_t count; /* calls of fn */
} s_candidates_t;

/* A candidate (its indexed predicate holds): its whole filter decides. */
static void s_candidate(router_sub_t *sub, void *arg)
{
    s_candidates_t *candidates = arg;
    if (s_accepts(sub, candidates->event)) {
        candidates->fn(sub, candidates->arg);
        candidates->count++;
    }
}

size_t router_entry_match(const router_entry_t *self, router_event_t *event, router_index_fn *fn,
                          void *arg)
{
    size_t count = 0;
    if (self->plain) {
        fn(self->plain, arg);
        count++;
    }
    if (!event->body || event->len == 0)
        return count; /* not a map: no filter accepts it */
    s_candidates_t candidates = {event, fn, arg, 0};
    for (const router_group_t *group = self->groups; group; group = group->next) {
        if (group->buckets) {
            /* A missing or non-scalar value equals no literal: no candidate. */
            uint8_t key[TG_QUERY_MAX_KEY];
            size_t key_len = tg_query_value_key(event->body, event->len, group->path, key);
            const router_vnode_t *node =
                key_len ? router_table_get(group->buckets, s_value_hash(key, key_len)) : NULL;
            for (; node; node = node->next)
                s_candidate(s_node_sub(node), &candidates);
        }
        /* A missing, non-numeric or NaN value is in no range: no candidate.
           The arrays may be sorted here: the entry is const for the
           caller, the order of a range set is its own (single-threaded). */
        tg_query_number_t value;
        if (group->ranges && tg_query_value_number(event->body, event->len, group->path, &value))
            router_range_match(group->ranges, &value, s_candidate, &candidates);
    }
    count += candidates.count;
    for (const router_vnode_t *node = self->unindexed; node; node = node->next)
        if (s_accepts(s_node_sub(node), event)) {
            fn(s_node_sub(node), arg);
            count++;
        }
    return count;
}
