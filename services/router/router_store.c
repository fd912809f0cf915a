/*  router_store: the router's entries waiting for persist. See
    router_store.h.
*/
#include "router_store.h"

#include <string.h>

#include "router_map.h"
#include "tg_alloc.h"

struct _router_store_t {
    router_map_t *by_key;   /* key bytes -> entry */
    router_pending_t *head; /* oldest (earliest deadline) */
    router_pending_t *tail;
    size_t count;
    size_t max;
};

router_store_t *router_store_new(size_t max)
{
    router_store_t *self = tg_new(router_store_t);
    self->by_key = router_map_new();
    self->max = max;
    return self;
}

void router_store_entry_free(router_pending_t **entry_p)
{
    if (!entry_p || !*entry_p)
        return;
    router_pending_t *entry = *entry_p;
    free(entry->instance);
    zframe_destroy(&entry->routing_id);
    tg_envelope_destroy(&entry->event);
    zframe_destroy(&entry->header);
    free(entry->topic);
    free(entry->key);
    free(entry);
    *entry_p = NULL;
}

void router_store_destroy(router_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_store_t *self = *self_p;
    router_pending_t *entry;
    while ((entry = router_store_pop(self)))
        router_store_entry_free(&entry);
    router_map_destroy(&self->by_key);
    free(self);
    *self_p = NULL;
}

/* The key of (kind, req, instance): kind byte, 8 bytes of req, the
   instance. Caller owns *key_p. */
static size_t s_key(router_pending_kind_t kind, uint64_t req, const char *instance, char **key_p)
{
    size_t len = 9 + (instance ? strlen(instance) : 0);
    char *key = tg_malloc(len);
    key[0] = (char)kind;
    memcpy(key + 1, &req, 8);
    if (instance)
        memcpy(key + 9, instance, len - 9);
    *key_p = key;
    return len;
}

router_pending_t *router_store_add(router_store_t *self, router_pending_kind_t kind, uint64_t req,
                                   const char *instance, int64_t deadline_ms)
{
    assert(self && (kind == ROUTER_PENDING_STORE || instance));
    if (self->count >= self->max)
        return NULL;
    char *key;
    size_t len = s_key(kind, req, instance, &key);
    uint64_t hash = router_map_hash(key, len);
    if (router_map_get(self->by_key, hash, key, len)) {
        free(key);
        return NULL;
    }
    router_pending_t *entry = tg_new(router_pending_t);
    entry->kind = kind;
    entry->req = req;
    entry->instance = instance ? tg_strdup(instance) : NULL;
    entry->deadline_ms = deadline_ms;
    entry->key = key;
    entry->key_len = len;
    router_map_put(self->by_key, hash, key, len, entry);
    entry->prev = self->tail;
    if (self->tail)
        self->tail->next = entry;
    else
        self->head = entry;
    self->tail = entry;
    self->count++;
    return entry;
}

/* Unlinks entry from the map and the list; the caller owns it then. */
static router_pending_t *s_unlink(router_store_t *self, router_pending_t *entry)
{
    router_map_remove(self->by_key, router_map_hash(entry->key, entry->key_len), entry->key,
                      entry->key_len);
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        self->head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        self->tail = entry->prev;
    entry->prev = entry->next = NULL;
    self->count--;
    return entry;
}

router_pending_t *router_store_take(router_store_t *self, router_pending_kind_t kind, uint64_t req,
                                    const char *instance)
{
    char *key;
    size_t len = s_key(kind, req, instance, &key);
    router_pending_t *entry = router_map_get(self->by_key, router_map_hash(key, len), key, len);
    free(key);
    return entry ? s_unlink(self, entry) : NULL;
}

router_pending_t *router_store_expired(router_store_t *self, int64_t now_ms)
{
    if (!self->head || self->head->deadline_ms > now_ms)
        return NULL;
    return s_unlink(self, self->head);
}

router_pending_t *router_store_pop(router_store_t *self)
{
    return self->head ? s_unlink(self, self->head) : NULL;
}

size_t router_store_size(const router_store_t *self)
{
    return self->count;
}
