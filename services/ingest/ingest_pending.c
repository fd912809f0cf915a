/*  ingest_pending: REGISTER requests waiting for the router, see
    ingest_pending.h. A plain array: the table is small and rarely used, so a
    linear scan is simpler than an index and just as fast in practice. */
#include "ingest_pending.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"

struct _ingest_pending_t {
    ingest_pending_entry_t *entries; /* owned; `size` used slots, packed at the front */
    size_t size;                     /* entries in use */
    size_t max;                      /* capacity, fixed at creation */
};

ingest_pending_t *ingest_pending_new(size_t max)
{
    assert(max > 0);
    ingest_pending_t *self = tg_new(ingest_pending_t);
    self->entries = tg_calloc(max, sizeof(ingest_pending_entry_t));
    self->max = max;
    return self;
}

static void s_entry_clear(ingest_pending_entry_t *entry)
{
    zframe_destroy(&entry->routing_id);
    free(entry->name);
    memset(entry, 0, sizeof(*entry));
}

void ingest_pending_destroy(ingest_pending_t **self_p)
{
    assert(self_p);
    ingest_pending_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++)
        s_entry_clear(&self->entries[i]);
    free(self->entries);
    free(self);
    *self_p = NULL;
}

static ingest_pending_entry_t *s_find(ingest_pending_t *self, uint64_t req)
{
    for (size_t i = 0; i < self->size; i++)
        if (self->entries[i].req == req)
            return &self->entries[i];
    return NULL;
}

int ingest_pending_add(ingest_pending_t *self, uint64_t req, zframe_t *routing_id,
                       uint64_t client_req, const char *name, uint64_t pub_id, int64_t deadline_ms)
{
    assert(self);
    if (self->size >= self->max || s_find(self, req))
        return -1;
    ingest_pending_entry_t *entry = &self->entries[self->size];
    entry->req = req;
    entry->routing_id = routing_id ? zframe_dup(routing_id) : NULL;
    entry->client_req = client_req;
    entry->name = tg_strdup(name ? name : "");
    entry->pub_id = pub_id;
    entry->deadline_ms = deadline_ms;
    self->size++;
    return 0;
}

//  Calls fn on entry i, frees it and fills the hole with the last entry.
static void s_remove_at(ingest_pending_t *self, size_t i, ingest_pending_fn *fn, void *arg)
{
    if (fn)
        fn(&self->entries[i], arg);
    s_entry_clear(&self->entries[i]);
    self->size--;
    if (i != self->size) {
        self->entries[i] = self->entries[self->size];
        memset(&self->entries[self->size], 0, sizeof(ingest_pending_entry_t));
    }
}

int ingest_pending_take(ingest_pending_t *self, uint64_t req, ingest_pending_fn *fn, void *arg)
{
    assert(self);
    ingest_pending_entry_t *entry = s_find(self, req);
    if (!entry)
        return -1;
    s_remove_at(self, (size_t)(entry - self->entries), fn, arg);
    return 0;
}

size_t ingest_pending_expire(ingest_pending_t *self, int64_t now_ms, ingest_pending_fn *fn,
                             void *arg)
{
    assert(self);
    size_t expired = 0;
    size_t i = 0;
    while (i < self->size) {
        if (self->entries[i].deadline_ms <= now_ms) {
            s_remove_at(self, i, fn, arg); //  the slot now holds another entry: look again
            expired++;
        } else
            i++;
    }
    return expired;
}

size_t ingest_pending_size(const ingest_pending_t *self)
{
    assert(self);
    return self->size;
}
