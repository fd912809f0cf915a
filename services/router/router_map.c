/*  router_map: open-addressing hash table, byte-string keys, borrowed values.
    See router_map.h for why it exists beside zhashx.
*/
#include "router_map.h"

#include "tg_alloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define ROUTER_MAP_MIN_CAPACITY 8

typedef struct {
    uint64_t hash; /* router_map_hash of the key */
    uint8_t *key;  /* owned copy, len bytes (plus a NUL for debugging) */
    size_t len;    /* key bytes */
    void *value;   /* borrowed; NULL marks an empty slot */
} router_map_slot_t;

struct _router_map_t {
    router_map_slot_t *slots; /* capacity entries */
    size_t capacity;          /* a power of two */
    size_t size;              /* occupied slots */
    size_t bytes;             /* allocated: the struct, the slots, the key copies */
    size_t *account;          /* borrowed counter mirroring `bytes`, or NULL */
};

static uint64_t s_seed;
static pthread_once_t s_seed_once = PTHREAD_ONCE_INIT;

static void s_seed_init(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint64_t)(uintptr_t)&seed ^ 0x9e3779b97f4a7c15ULL; /* ASLR is better than 0 */
    s_seed = seed;
}

uint64_t router_map_hash_begin(void)
{
    pthread_once(&s_seed_once, s_seed_init);
    return 0xcbf29ce484222325ULL ^ s_seed;
}

/* FNV's low bits are weak for power-of-two tables: finish with the MurmurHash3
   64-bit mixer so every bit of the state reaches the slot index. */
uint64_t router_map_hash_end(uint64_t state)
{
    state ^= state >> 33;
    state *= 0xff51afd7ed558ccdULL;
    state ^= state >> 33;
    state *= 0xc4ceb9fe1a85ec53ULL;
    state ^= state >> 33;
    return state;
}

uint64_t router_map_hash(const void *key, size_t len)
{
    const uint8_t *bytes = key;
    uint64_t state = router_map_hash_begin();
    for (size_t i = 0; i < len; i++)
        state = router_map_hash_step(state, bytes[i]);
    return router_map_hash_end(state);
}

/* Adds (or subtracts) bytes to the map's size and its account. */
static void s_account(router_map_t *self, size_t bytes, bool add)
{
    self->bytes = add ? self->bytes + bytes : self->bytes - bytes;
    if (self->account)
        *self->account = add ? *self->account + bytes : *self->account - bytes;
}

void router_map_set_account(router_map_t *self, size_t *account)
{
    if (self->account)
        *self->account -= self->bytes;
    self->account = account;
    if (account)
        *account += self->bytes;
}

router_map_t *router_map_new(void)
{
    router_map_t *self = tg_new(router_map_t);
    self->slots = tg_calloc(ROUTER_MAP_MIN_CAPACITY, sizeof *self->slots);
    self->capacity = ROUTER_MAP_MIN_CAPACITY;
    self->bytes = sizeof *self + self->capacity * sizeof *self->slots;
    return self;
}

void router_map_destroy(router_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_map_t *self = *self_p;
    for (size_t i = 0; i < self->capacity; i++)
        free(self->slots[i].key);
    s_account(self, self->bytes, false);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

size_t router_map_size(const router_map_t *self)
{
    return self->size;
}

static bool s_slot_is(const router_map_slot_t *slot, uint64_t hash, const void *key, size_t len)
{
    return slot->hash == hash && slot->len == len && memcmp(slot->key, key, len) == 0;
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t s_find(const router_map_t *self, uint64_t hash, const void *key, size_t len)
{
    size_t mask = self->capacity - 1;
    size_t i = (size_t)hash & mask;
    while (self->slots[i].value && !s_slot_is(&self->slots[i], hash, key, len))
        i = (i + 1) & mask;
    return i;
}

void *router_map_get(const router_map_t *self, uint64_t hash, const void *key, size_t len)
{
    return self->slots[s_find(self, hash, key, len)].value;
}

static void s_grow(router_map_t *self)
{
    size_t capacity = self->capacity * 2;
    router_map_slot_t *slots = tg_calloc(capacity, sizeof *slots);
    for (size_t i = 0; i < self->capacity; i++) {
        router_map_slot_t *old = &self->slots[i];
        if (!old->value)
            continue;
        size_t j = (size_t)old->hash & (capacity - 1);
        while (slots[j].value)
            j = (j + 1) & (capacity - 1);
        slots[j] = *old;
    }
    free(self->slots);
    s_account(self, (capacity - self->capacity) * sizeof *slots, true);
    self->slots = slots;
    self->capacity = capacity;
}

void router_map_put(router_map_t *self, uint64_t hash, const void *key, size_t len, void *value)
{
    size_t i = s_find(self, hash, key, len);
    if (self->slots[i].value) {
        self->slots[i].value = value;
        return;
    }
    /* Keep the load at or under 70%: probe runs stay short. */
    if ((self->size + 1) * 10 > self->capacity * 7) {
        s_grow(self);
        i = s_find(self, hash, key, len);
    }
    uint8_t *copy = tg_malloc(len + 1);
    memcpy(copy, key, len);
    copy[len] = 0;
    self->slots[i] = (router_map_slot_t){.hash = hash, .key = copy, .len = len, .value = value};
    self->size++;
    s_account(self, len + 1, true);
}

void *router_map_remove(router_map_t *self, uint64_t hash, const void *key, size_t len)
{
    size_t mask = self->capacity - 1;
    size_t i = s_find(self, hash, key, len);
    void *value = self->slots[i].value;
    if (!value)
        return NULL;
    free(self->slots[i].key);
    s_account(self, self->slots[i].len + 1, false);
    self->slots[i] = (router_map_slot_t){0};
    self->size--;
    /* Backward shift: pull later members of the probe run into the hole
       when their home slot is at or before it (cyclically), so lookups never
       stop early at a hole and no tombstones accumulate. */
    size_t hole = i;
    size_t j = (i + 1) & mask;
    while (self->slots[j].value) {
        size_t home = (size_t)self->slots[j].hash & mask;
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            self->slots[hole] = self->slots[j];
            self->slots[j] = (router_map_slot_t){0};
            hole = j;
        }
        j = (j + 1) & mask;
    }
    return value;
}
