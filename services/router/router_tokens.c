/*  router_tokens: see router_tokens.h. */
#include "router_tokens.h"
#include "tg_alloc.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

/* One spent jti. Owned by the hash (its destructor frees it); the heap
   holds the same pointers, ordered by exp. */
typedef struct {
    int64_t exp;
    char jti[]; /* NUL-terminated */
} s_entry_t;

struct _router_tokens_t {
    zhashx_t *by_jti; /* jti -> s_entry_t (owned) */
    s_entry_t **heap; /* min-heap by exp; capacity entries, allocated once */
    size_t count;     /* entries in heap and hash */
    size_t capacity;  /* the bound */
};

static void s_entry_free(void **item)
{
    free(*item);
    *item = NULL;
}

router_tokens_t *router_tokens_new(size_t capacity)
{
    assert(capacity > 0);
    router_tokens_t *self = tg_new(router_tokens_t);
    self->capacity = capacity;
    self->by_jti = zhashx_new();
    self->heap = tg_calloc(capacity, sizeof *self->heap);
    zhashx_set_destructor(self->by_jti, s_entry_free);
    return self;
}

void router_tokens_destroy(router_tokens_t **self_p)
{
    assert(self_p);
    router_tokens_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    zhashx_destroy(&self->by_jti); /* frees the entries */
    free(self->heap);
    free(self);
}

static void s_swap(s_entry_t **heap, size_t a, size_t b)
{
    s_entry_t *tmp = heap[a];
    heap[a] = heap[b];
    heap[b] = tmp;
}

static void s_sift_up(router_tokens_t *self, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->heap[parent]->exp <= self->heap[i]->exp)
            return;
        s_swap(self->heap, parent, i);
        i = parent;
    }
}

static void s_sift_down(router_tokens_t *self, size_t i)
{
    while (true) {
        size_t smallest = i;
        size_t left = 2 * i + 1;
        size_t right = left + 1;
        if (left < self->count && self->heap[left]->exp < self->heap[smallest]->exp)
            smallest = left;
        if (right < self->count && self->heap[right]->exp < self->heap[smallest]->exp)
            smallest = right;
        if (smallest == i)
            return;
        s_swap(self->heap, i, smallest);
        i = smallest;
    }
}

size_t router_tokens_purge(router_tokens_t *self, int64_t now_s)
{
    assert(self);
    size_t removed = 0;
    while (self->count > 0 && self->heap[0]->exp < now_s) {
        s_entry_t *oldest = self->heap[0];
        self->heap[0] = self->heap[--self->count];
        s_sift_down(self, 0);
        zhashx_delete(self->by_jti, oldest->jti); /* frees oldest */
        removed++;
    }
    return removed;
}

router_token_verdict_t router_tokens_spend(router_tokens_t *self, const char *jti, int64_t exp,
                                           int64_t now_s)
{
    assert(self);
    assert(jti);
    s_entry_t *entry = zhashx_lookup(self->by_jti, jti);
    if (entry && entry->exp >= now_s)
        return ROUTER_TOKEN_REPLAYED;
    if (entry || self->count == self->capacity) {
        /* An expired entry must go before the jti is recorded anew; a full
           set may have expired entries the tick has not purged yet. */
        router_tokens_purge(self, now_s);
        if (self->count == self->capacity)
            return ROUTER_TOKEN_FULL;
    }
    size_t len = strlen(jti);
    entry = tg_malloc(sizeof *entry + len + 1);
    entry->exp = exp;
    memcpy(entry->jti, jti, len + 1);
    if (zhashx_insert(self->by_jti, entry->jti, entry) != 0) {
        free(entry);
        return ROUTER_TOKEN_FULL;
    }
    self->heap[self->count] = entry;
    s_sift_up(self, self->count++);
    return ROUTER_TOKEN_ACCEPTED;
}

size_t router_tokens_size(const router_tokens_t *self)
{
    assert(self);
    return self->count;
}
