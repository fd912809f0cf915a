/*  edge_subs: see edge_subs.h. */
#include "edge_subs.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_subkey.h"

struct _edge_sub_t {
    tg_subkey_t key;            /* owned; the by_key hash key (tg_subkey.h) */
    tg_match_t match;           /* exact / prefix / wildcard */
    char *topic;                /* owned */
    char *filter;               /* owned, NULL = no filter */
    edge_sub_state_t state;     /* PENDING until the router's SUBSCRIBED */
    bool resyncing;             /* LIVE, but refused by the router at resync */
    uint64_t sub_id;            /* the router's id once LIVE, else 0 */
    uint64_t req;               /* outstanding router request, 0 = none */
    int64_t deadline_ms;        /* PENDING: when the waiters give up */
    edge_sub_member_t *members; /* dense array of member sessions */
    uint32_t member_count;
    uint32_t member_capacity;
    edge_sub_waiter_t *waiters; /* sessions waiting for SUBSCRIBED */
    uint32_t waiter_count;
    uint32_t waiter_capacity;
};

struct _edge_subs_t {
    zhashx_t *by_key;       /* tg_subkey_t * -> entry; owns the entries */
    zhashx_t *by_id;        /* sub_id -> LIVE entry */
    zhashx_t *by_req;       /* outstanding router request -> entry */
    size_t live_count;      /* LIVE entries */
    size_t resyncing_count; /* LIVE entries marked resyncing */
    uint64_t member_total;  /* memberships over all entries */
};

/* uint64_t keys for zhashx: the key is a pointer to the number. */
static size_t s_u64_hash(const void *key)
{
    uint64_t x = *(const uint64_t *)key;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static int s_u64_compare(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void *s_u64_dup(const void *key)
{
    return tg_memdup(key, sizeof(uint64_t));
}

static void s_u64_free(void **key_p)
{
    free(*key_p);
    *key_p = NULL;
}

static zhashx_t *s_u64_map_new(void)
{
    zhashx_t *map = zhashx_new();
    zhashx_set_key_hasher(map, s_u64_hash);
    zhashx_set_key_comparator(map, s_u64_compare);
    zhashx_set_key_duplicator(map, s_u64_dup);
    zhashx_set_key_destructor(map, s_u64_free);
    return map;
}

static void s_sub_free(edge_sub_t **sub_p)
{
    edge_sub_t *sub = *sub_p;
    if (!sub)
        return;
    *sub_p = NULL;
    tg_subkey_clear(&sub->key);
    free(sub->topic);
    free(sub->filter);
    free(sub->members);
    free(sub->waiters);
    free(sub);
}

static void s_sub_destructor(void **item_p)
{
    s_sub_free((edge_sub_t **)item_p);
}

/* tg_subkey_t keys for zhashx: the key is a pointer to the entry's own
   key (or to a lookup's), never copied; its bytes hold NULs. */
static size_t s_key_hash(const void *key)
{
    const tg_subkey_t *subkey = key;
    size_t hash = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < subkey->len; i++)
        hash = (hash ^ (uint8_t)subkey->bytes[i]) * 1099511628211ULL;
    return hash;
}

static int s_key_compare(const void *a, const void *b)
{
    const tg_subkey_t *x = a;
    const tg_subkey_t *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->bytes, y->bytes, x->len);
}

edge_subs_t *edge_subs_new(void)
{
    edge_subs_t *self = tg_new(edge_subs_t);
    self->by_key = zhashx_new();
    zhashx_set_key_hasher(self->by_key, s_key_hash);
    zhashx_set_key_comparator(self->by_key, s_key_compare);
    zhashx_set_key_duplicator(self->by_key, NULL);
    zhashx_set_key_destructor(self->by_key, NULL);
    zhashx_set_destructor(self->by_key, s_sub_destructor);
    self->by_id = s_u64_map_new();
    self->by_req = s_u64_map_new();
    return self;
}

void edge_subs_destroy(edge_subs_t **self_p)
{
    assert(self_p);
    edge_subs_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    zhashx_destroy(&self->by_req);
    zhashx_destroy(&self->by_id);
    zhashx_destroy(&self->by_key);
    free(self);
}

/* The filter as the key sees it: an empty one is no filter (tg_subkey). */
static const char *s_filter(const char *filter)
{
    return filter && filter[0] ? filter : NULL;
}

edge_sub_t *edge_subs_lookup(edge_subs_t *self, tg_match_t match, const char *topic,
                             const char *filter)
{
    assert(self);
    assert(topic);
    tg_subkey_t key;
    tg_subkey_make(&key, match, topic, s_filter(filter));
    edge_sub_t *sub = zhashx_lookup(self->by_key, &key);
    tg_subkey_clear(&key);
    return sub;
}

edge_sub_t *edge_subs_insert(edge_subs_t *self, tg_match_t match, const char *topic,
                             const char *filter, int64_t deadline_ms)
{
    assert(self);
    assert(topic);
    filter = s_filter(filter);
    edge_sub_t *sub = tg_new(edge_sub_t);
    tg_subkey_make(&sub->key, match, topic, filter);
    sub->topic = tg_strdup(topic);
    sub->filter = filter ? tg_strdup(filter) : NULL;
    sub->match = match;
    sub->state = EDGE_SUB_PENDING;
    sub->deadline_ms = deadline_ms;
    /* The caller looked the key up first: a duplicate is a bug of ours. */
    tg_check(zhashx_insert(self->by_key, &sub->key, sub) == 0);
    return sub;
}

void edge_subs_remove(edge_subs_t *self, edge_sub_t *sub)
{
    assert(self);
    assert(sub);
    assert(sub->member_count == 0);
    if (sub->req)
        zhashx_delete(self->by_req, &sub->req);
    if (sub->state == EDGE_SUB_LIVE) {
        zhashx_delete(self->by_id, &sub->sub_id);
        self->live_count--;
    }
    if (sub->resyncing)
        self->resyncing_count--;
    /* by_key's destructor frees the entry (and the key it points to). */
    zhashx_delete(self->by_key, &sub->key);
}

edge_sub_t *edge_subs_find_id(edge_subs_t *self, uint64_t sub_id)
{
    assert(self);
    return zhashx_lookup(self->by_id, &sub_id);
}

edge_sub_t *edge_subs_find_req(edge_subs_t *self, uint64_t req)
{
    assert(self);
    if (req == 0)
        return NULL;
    return zhashx_lookup(self->by_req, &req);
}

void edge_subs_set_request(edge_subs_t *self, edge_sub_t *sub, uint64_t req)
{
    assert(self);
    assert(sub);
    if (sub->req)
        zhashx_delete(self->by_req, &sub->req);
    sub->req = req;
    if (req) {
        /* Request ids are never reused. */
        tg_check(zhashx_insert(self->by_req, &req, sub) == 0);
    }
}

int edge_subs_set_live(edge_subs_t *self, edge_sub_t *sub, uint64_t sub_id)
{
    assert(self);
    assert(sub);
    assert(sub_id != 0);
    edge_sub_t *holder = zhashx_lookup(self->by_id, &sub_id);
    if (holder == sub)
        return 0;
    if (holder)
        return -1;
    if (sub->state == EDGE_SUB_LIVE)
        zhashx_delete(self->by_id, &sub->sub_id);
    else
        self->live_count++;
    sub->state = EDGE_SUB_LIVE;
    sub->sub_id = sub_id;
    tg_check(zhashx_insert(self->by_id, &sub_id, sub) == 0); /* looked up above */
    return 0;
}

void edge_subs_set_resyncing(edge_subs_t *self, edge_sub_t *sub, bool resyncing)
{
    assert(self);
    assert(sub);
    assert(!resyncing || sub->state == EDGE_SUB_LIVE);
    if (sub->resyncing == resyncing)
        return;
    sub->resyncing = resyncing;
    if (resyncing)
        self->resyncing_count++;
    else
        self->resyncing_count--;
}

void edge_subs_set_deadline(edge_sub_t *sub, int64_t deadline_ms)
{
    assert(sub);
    sub->deadline_ms = deadline_ms;
}

/* Grows an array of `size`-byte items to hold one more. */
static void s_reserve(void **items, uint32_t *capacity, uint32_t count, size_t size)
{
    if (count < *capacity)
        return;
    uint32_t grown = *capacity ? *capacity * 2 : 2;
    *items = tg_realloc(*items, size * grown);
    *capacity = grown;
}

void edge_subs_add_waiter(edge_sub_t *sub, edge_session_t *session, int64_t request)
{
    assert(sub);
    assert(session);
    s_reserve((void **)&sub->waiters, &sub->waiter_capacity, sub->waiter_count,
              sizeof(*sub->waiters));
    sub->waiters[sub->waiter_count++] = (edge_sub_waiter_t){session, request};
}

void edge_subs_clear_waiters(edge_sub_t *sub)
{
    assert(sub);
    sub->waiter_count = 0;
}

size_t edge_subs_remove_waiters_of(edge_subs_t *self, edge_session_t *session)
{
    assert(self);
    size_t removed = 0;
    for (edge_sub_t *sub = zhashx_first(self->by_key); sub; sub = zhashx_next(self->by_key)) {
        uint32_t kept = 0;
        for (uint32_t i = 0; i < sub->waiter_count; i++) {
            if (sub->waiters[i].session == session)
                removed++;
            else
                sub->waiters[kept++] = sub->waiters[i];
        }
        sub->waiter_count = kept;
    }
    return removed;
}

int edge_subs_join(edge_subs_t *self, edge_sub_t *sub, edge_session_t *session,
                   edge_sub_refs_t *refs)
{
    assert(self);
    assert(sub && sub->state == EDGE_SUB_LIVE);
    assert(session && refs);
    for (uint32_t i = 0; i < refs->count; i++)
        if (refs->items[i].sub == sub)
            return 1;
    s_reserve((void **)&sub->members, &sub->member_capacity, sub->member_count,
              sizeof(*sub->members));
    s_reserve((void **)&refs->items, &refs->capacity, refs->count, sizeof(*refs->items));
    sub->members[sub->member_count] = (edge_sub_member_t){session, refs, refs->count};
    refs->items[refs->count] = (edge_sub_ref_t){sub, sub->member_count};
    sub->member_count++;
    refs->count++;
    self->member_total++;
    return 0;
}

/* Removes membership refs->items[index] from both sides, keeping both
   arrays dense by moving their last element into the hole and fixing the
   moved element's back-pointer. */
static edge_sub_t *s_unlink(edge_subs_t *self, edge_sub_refs_t *refs, uint32_t index)
{
    edge_sub_t *sub = refs->items[index].sub;
    uint32_t member = refs->items[index].member;

    uint32_t last_member = sub->member_count - 1;
    if (member != last_member) {
        edge_sub_member_t moved = sub->members[last_member];
        sub->members[member] = moved;
        moved.refs->items[moved.ref].member = member;
    }
    sub->member_count--;

    uint32_t last_ref = refs->count - 1;
    if (index != last_ref) {
        edge_sub_ref_t moved = refs->items[last_ref];
        refs->items[index] = moved;
        moved.sub->members[moved.member].ref = index;
    }
    refs->count--;
    self->member_total--;
    return sub;
}

edge_sub_t *edge_subs_leave(edge_subs_t *self, edge_sub_refs_t *refs, uint64_t sub_id)
{
    assert(self);
    assert(refs);
    for (uint32_t i = 0; i < refs->count; i++)
        if (refs->items[i].sub->sub_id == sub_id)
            return s_unlink(self, refs, i);
    return NULL;
}

void edge_subs_leave_all(edge_subs_t *self, edge_sub_refs_t *refs, edge_subs_left_fn *left,
                         void *arg)
{
    assert(self);
    assert(refs);
    while (refs->count > 0) {
        edge_sub_t *sub = s_unlink(self, refs, refs->count - 1);
        if (left)
            left(sub, arg);
    }
    free(refs->items);
    *refs = (edge_sub_refs_t){0};
}

bool edge_subs_refs_has(const edge_sub_refs_t *refs, uint64_t sub_id)
{
    assert(refs);
    for (uint32_t i = 0; i < refs->count; i++)
        if (refs->items[i].sub->sub_id == sub_id)
            return true;
    return false;
}

void edge_subs_foreach(edge_subs_t *self, edge_subs_fn *fn, void *arg)
{
    assert(self);
    assert(fn);
    for (edge_sub_t *sub = zhashx_first(self->by_key); sub; sub = zhashx_next(self->by_key))
        fn(sub, arg);
}

size_t edge_subs_expire(edge_subs_t *self, int64_t now_ms, edge_subs_fn *fn, void *arg)
{
    assert(self);
    assert(fn);
    /* Collect first: fn may remove entries, which would break the walk. */
    zlistx_t *expired = zlistx_new();
    for (edge_sub_t *sub = zhashx_first(self->by_key); sub; sub = zhashx_next(self->by_key))
        if ((sub->state == EDGE_SUB_PENDING || sub->waiter_count > 0) && sub->deadline_ms <= now_ms)
            zlistx_add_end(expired, sub);
    size_t count = zlistx_size(expired);
    for (edge_sub_t *sub = zlistx_first(expired); sub; sub = zlistx_next(expired))
        fn(sub, arg);
    zlistx_destroy(&expired);
    return count;
}

size_t edge_subs_count(const edge_subs_t *self)
{
    return zhashx_size(self->by_key);
}

size_t edge_subs_live_count(const edge_subs_t *self)
{
    return self->live_count;
}

uint64_t edge_subs_member_total(const edge_subs_t *self)
{
    return self->member_total;
}

size_t edge_subs_resyncing_count(const edge_subs_t *self)
{
    return self->resyncing_count;
}

edge_sub_state_t edge_sub_state(const edge_sub_t *sub)
{
    return sub->state;
}

uint64_t edge_sub_id(const edge_sub_t *sub)
{
    return sub->sub_id;
}

uint64_t edge_sub_request(const edge_sub_t *sub)
{
    return sub->req;
}

tg_match_t edge_sub_match(const edge_sub_t *sub)
{
    return sub->match;
}

const char *edge_sub_topic(const edge_sub_t *sub)
{
    return sub->topic;
}

const char *edge_sub_filter(const edge_sub_t *sub)
{
    return sub->filter;
}

int64_t edge_sub_deadline(const edge_sub_t *sub)
{
    return sub->deadline_ms;
}

bool edge_sub_resyncing(const edge_sub_t *sub)
{
    return sub->resyncing;
}

const edge_sub_member_t *edge_sub_members(const edge_sub_t *sub, size_t *count)
{
    *count = sub->member_count;
    return sub->members;
}

const edge_sub_waiter_t *edge_sub_waiters(const edge_sub_t *sub, size_t *count)
{
    *count = sub->waiter_count;
    return sub->waiters;
}

bool edge_sub_unused(const edge_sub_t *sub)
{
    return sub->member_count == 0 && sub->waiter_count == 0;
}
