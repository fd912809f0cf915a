/*  router_table: open-addressing pointer set keyed by a 64-bit field of the
    elements. See router_table.h for why it exists beside router_map.
*/
#include "router_table.h"
#include "tg_alloc.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ROUTER_TABLE_MIN_CAPACITY 8

struct _router_table_t {
    void **slots;      /* capacity entries; NULL = empty */
    size_t capacity;   /* any size >= ROUTER_TABLE_MIN_CAPACITY */
    size_t size;       /* occupied slots */
    size_t key_offset; /* where an element keeps its key */
    size_t key_size;   /* 4 or 8 bytes */
    size_t *account;   /* borrowed byte counter, or NULL */
};

static uint64_t s_key(const router_table_t *self, const void *elem)
{
    if (self->key_size == sizeof(uint32_t)) {
        uint32_t key;
        memcpy(&key, (const char *)elem + self->key_offset, sizeof key);
        return key;
    }
    uint64_t key;
    memcpy(&key, (const char *)elem + self->key_offset, sizeof key);
    return key;
}

/* The home slot: keys may be ids or FNV-based hashes whose low bits are not
   uniform, so mix first (MurmurHash3's finalizer), then map the 64-bit value
   onto [0, capacity) with a multiply-shift, which needs no power of two. */
static size_t s_home(const router_table_t *self, uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    key ^= key >> 33;
    __extension__ unsigned __int128 wide = (unsigned __int128)key * self->capacity;
    return (size_t)(wide >> 64);
}

static size_t s_next(const router_table_t *self, size_t i)
{
    return i + 1 == self->capacity ? 0 : i + 1;
}

static void s_account(router_table_t *self, size_t bytes, bool add)
{
    if (self->account)
        *self->account = add ? *self->account + bytes : *self->account - bytes;
}

router_table_t *router_table_new(size_t key_offset, size_t key_size, size_t *account)
{
    assert(key_size == sizeof(uint32_t) || key_size == sizeof(uint64_t));
    router_table_t *self = tg_new(router_table_t);
    self->slots = tg_calloc(ROUTER_TABLE_MIN_CAPACITY, sizeof *self->slots);
    self->capacity = ROUTER_TABLE_MIN_CAPACITY;
    self->key_offset = key_offset;
    self->key_size = key_size;
    self->account = account;
    s_account(self, sizeof *self + self->capacity * sizeof *self->slots, true);
    return self;
}

void router_table_destroy(router_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_table_t *self = *self_p;
    s_account(self, sizeof *self + self->capacity * sizeof *self->slots, false);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

size_t router_table_size(const router_table_t *self)
{
    return self->size;
}

size_t router_table_capacity(const router_table_t *self)
{
    return self->capacity;
}

void *router_table_slot(const router_table_t *self, size_t i)
{
    return i < self->capacity ? self->slots[i] : NULL;
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t s_find(const router_table_t *self, uint64_t key)
{
    size_t i = s_home(self, key);
    while (self->slots[i] && s_key(self, self->slots[i]) != key)
        i = s_next(self, i);
    return i;
}

void *router_table_get(const router_table_t *self, uint64_t key)
{
    return self->slots[s_find(self, key)];
}

/* Moves every element into a new array of `capacity` slots. 0 or -1. */
static int s_resize(router_table_t *self, size_t capacity)
{
    size_t old_capacity = self->capacity;
    void **old = self->slots;
    void **slots = tg_calloc(capacity, sizeof *slots);
    self->slots = slots;
    self->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++) {
        if (!old[i])
            continue;
        size_t j = s_home(self, s_key(self, old[i]));
        while (slots[j])
            j = s_next(self, j);
        slots[j] = old[i];
    }
    free(old);
    s_account(self, old_capacity * sizeof *slots, false);
    s_account(self, capacity * sizeof *slots, true);
    return 0;
}

void router_table_shrink(router_table_t *self)
{
    if (self->capacity <= ROUTER_TABLE_MIN_CAPACITY || self->size * 10 >= self->capacity * 2)
        return;
    size_t capacity = self->size * 2;
    if (capacity < ROUTER_TABLE_MIN_CAPACITY)
        capacity = ROUTER_TABLE_MIN_CAPACITY;
    s_resize(self, capacity);
}

int router_table_put(router_table_t *self, void *elem)
{
    uint64_t key = s_key(self, elem);
    size_t i = s_find(self, key);
    if (self->slots[i]) {
        self->slots[i] = elem;
        return 0;
    }
    /* At most 70% full: probe runs stay short, misses included. */
    if ((self->size + 1) * 10 > self->capacity * 7) {
        if (s_resize(self, self->capacity + self->capacity / 2) != 0)
            return -1;
        i = s_find(self, key);
    }
    self->slots[i] = elem;
    self->size++;
    return 0;
}

void *router_table_remove(router_table_t *self, uint64_t key)
{
    size_t i = s_find(self, key);
    void *elem = self->slots[i];
    if (!elem)
        return NULL;
    self->slots[i] = NULL;
    self->size--;
    /* Backward shift: pull later members of the probe run into the hole
       when their home is at or before it (cyclically), so a lookup never
       stops early at a hole. */
    size_t hole = i;
    for (size_t j = s_next(self, i); self->slots[j]; j = s_next(self, j)) {
        size_t home = s_home(self, s_key(self, self->slots[j]));
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            self->slots[hole] = self->slots[j];
            self->slots[j] = NULL;
            hole = j;
        }
    }
    return elem;
}
