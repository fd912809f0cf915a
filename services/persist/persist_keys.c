/*  persist_keys: see persist_keys.h. A czmq zhashx keyed by the decimal
    text of the id; the table owns its entries through a destructor. */
#include "persist_keys.h"

#include <czmq.h>
#include <inttypes.h>

#include "tg_alloc.h"

struct _persist_keys_t {
    zhashx_t *table; /* "sub_id" -> persist_key_t, owned through s_key_destroy */
    size_t max;      /* the bound */
    uint64_t round;  /* the current re-sync round (0: none yet) */
};

static void s_key_destroy(void **item_p)
{
    persist_key_t *key = *item_p;
    if (!key)
        return;
    free(key->topic);
    free(key->match);
    free(key->filter);
    free(key);
    *item_p = NULL;
}

persist_keys_t *persist_keys_new(size_t max)
{
    persist_keys_t *self = tg_new(persist_keys_t);
    self->table = zhashx_new();
    tg_check(self->table);
    zhashx_set_destructor(self->table, s_key_destroy);
    self->max = max ? max : PERSIST_KEYS_MAX;
    return self;
}

void persist_keys_destroy(persist_keys_t **self_p)
{
    assert(self_p);
    persist_keys_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->table);
    free(self);
    *self_p = NULL;
}

static void s_name(uint64_t sub_id, char *out, size_t size)
{
    snprintf(out, size, "%" PRIu64, sub_id);
}

persist_key_t *persist_keys_get(persist_keys_t *self, uint64_t sub_id)
{
    assert(self);
    char name[24];
    s_name(sub_id, name, sizeof name);
    return zhashx_lookup(self->table, name);
}

persist_key_t *persist_keys_add(persist_keys_t *self, uint64_t sub_id, const char *topic,
                                const char *match, const char *filter)
{
    assert(self && topic && match);
    persist_key_t *key = persist_keys_get(self, sub_id);
    if (key)
        return key;
    if (zhashx_size(self->table) >= self->max)
        return NULL;
    key = tg_new(persist_key_t);
    key->sub_id = sub_id;
    key->topic = tg_strdup(topic);
    key->match = tg_strdup(match);
    key->filter = tg_strdup(filter ? filter : "");
    char name[24];
    s_name(sub_id, name, sizeof name);
    zhashx_insert(self->table, name, key);
    return key;
}

void persist_keys_remove(persist_keys_t *self, uint64_t sub_id)
{
    assert(self);
    char name[24];
    s_name(sub_id, name, sizeof name);
    zhashx_delete(self->table, name);
}

size_t persist_keys_size(const persist_keys_t *self)
{
    assert(self);
    return zhashx_size(self->table);
}

uint64_t persist_keys_next_round(persist_keys_t *self)
{
    assert(self);
    return ++self->round;
}

uint64_t persist_keys_round(const persist_keys_t *self)
{
    assert(self);
    return self->round;
}
