/*  edge_queue: a session's bounded outbound queue, a ring of frame
    pointers.

    The bound is the configured session_queue (frames, not bytes); a push
    on a full queue fails and the caller closes the session as a slow
    consumer. The ring starts small and doubles up to the bound, so an idle
    session costs a few pointers, not session_queue of them. Frames are
    shared: the queue holds one reference per slot.
*/
#ifndef EDGE_QUEUE_H
#define EDGE_QUEUE_H

#include <stdint.h>

#include "edge_frame.h"

typedef struct _edge_queue_t edge_queue_t;

/* Caller owns the result: an empty queue holding at most `limit` (>= 1)
   frames. */
edge_queue_t *edge_queue_new(uint32_t limit);

/* Releases every queued frame's reference and frees the queue; safe on
   NULL and twice. */
void edge_queue_destroy(edge_queue_t **self_p);

/* Appends frame, taking a new reference on it (the caller keeps its own).
   Returns 0, or -1 when the queue already holds `limit` frames (nothing
   changes). */
int edge_queue_push(edge_queue_t *self, edge_frame_t *frame);

/* Removes the oldest frame; the caller owns the returned reference. NULL
   when empty. */
edge_frame_t *edge_queue_pop(edge_queue_t *self);

/* The oldest frame, still queued (borrowed), or NULL. */
edge_frame_t *edge_queue_peek(const edge_queue_t *self);

uint32_t edge_queue_size(const edge_queue_t *self);
uint32_t edge_queue_limit(const edge_queue_t *self);

#endif
