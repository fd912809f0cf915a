/*  edge_queue: see edge_queue.h. */
#include "edge_queue.h"

#include <assert.h>
#include <stdlib.h>

#include "tg_alloc.h"

/* First ring size: enough for the handshake replies of a new session. */
#define S_INITIAL_CAPACITY 4u

struct _edge_queue_t {
    edge_frame_t **slots; /* ring of `capacity` entries, each holds a reference */
    uint32_t capacity;    /* allocated slots: doubles as needed, at most limit */
    uint32_t head;        /* index of the oldest frame */
    uint32_t count;       /* frames queued */
    uint32_t limit;       /* the bound (session_queue) */
};

edge_queue_t *edge_queue_new(uint32_t limit)
{
    assert(limit >= 1);
    edge_queue_t *self = tg_new(edge_queue_t);
    self->limit = limit;
    return self;
}

void edge_queue_destroy(edge_queue_t **self_p)
{
    assert(self_p);
    edge_queue_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    while (self->count > 0) {
        edge_frame_t *frame = edge_queue_pop(self);
        edge_frame_unref(&frame);
    }
    free(self->slots);
    free(self);
}

/* Grows the ring (doubling, capped at limit) keeping the order: the
   frames are unrolled to the start of the new array. */
static void s_grow(edge_queue_t *self)
{
    uint32_t capacity = self->capacity ? self->capacity * 2 : S_INITIAL_CAPACITY;
    if (capacity > self->limit)
        capacity = self->limit;
    edge_frame_t **slots = tg_malloc(sizeof(*slots) * capacity);
    for (uint32_t i = 0; i < self->count; i++)
        slots[i] = self->slots[(self->head + i) % self->capacity];
    free(self->slots);
    self->slots = slots;
    self->capacity = capacity;
    self->head = 0;
}

int edge_queue_push(edge_queue_t *self, edge_frame_t *frame)
{
    assert(self);
    assert(frame);
    if (self->count >= self->limit)
        return -1;
    if (self->count == self->capacity)
        s_grow(self);
    self->slots[(self->head + self->count) % self->capacity] = edge_frame_ref(frame);
    self->count++;
    return 0;
}

edge_frame_t *edge_queue_pop(edge_queue_t *self)
{
    assert(self);
    if (self->count == 0)
        return NULL;
    edge_frame_t *frame = self->slots[self->head];
    self->slots[self->head] = NULL;
    self->head = (self->head + 1) % self->capacity;
    self->count--;
    return frame;
}

edge_frame_t *edge_queue_peek(const edge_queue_t *self)
{
    assert(self);
    return self->count ? self->slots[self->head] : NULL;
}

uint32_t edge_queue_size(const edge_queue_t *self)
{
    return self->count;
}

uint32_t edge_queue_limit(const edge_queue_t *self)
{
    return self->limit;
}
