/*  edge_frame: one encoded WebSocket message, shared by reference.

    The fan-out encodes an EVENT once per (event, subscription, serializer)
    and every session that must receive it queues the same frame; the frame
    is freed when the last queue releases it. A frame is a single
    allocation: its header lives in the buffer's headroom, in front of the
    LWS_PRE bytes libwebsockets needs before the payload, so queuing costs
    no allocation and sending needs no copy.

    Not thread-safe: the edge is single-threaded.
*/
#ifndef EDGE_FRAME_H
#define EDGE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_clock.h"

typedef struct _edge_frame_t edge_frame_t;

/* Headroom to give tg_buf_init() for a buffer that will become a frame:
   room for the frame header plus LWS_PRE. */
size_t edge_frame_headroom(void);

/* Turns a buffer initialised with tg_buf_init(buf, edge_frame_headroom())
   into a frame with one reference (the caller's). Takes the buffer's
   memory: buf is left empty and may be reused; it must hold a non-empty
   payload. `binary` selects the
   WebSocket opcode; `is_event` marks EVENT frames for the counters. Never
   fails (allocation failure aborts, like tg_buf). */
edge_frame_t *edge_frame_new(tg_buf_t *buf, bool binary, bool is_event);

/* Adds a reference; returns self. */
edge_frame_t *edge_frame_ref(edge_frame_t *self);

/* Drops the caller's reference and nulls *self_p; the frame is freed with
   its last reference. Safe on NULL and twice. */
void edge_frame_unref(edge_frame_t **self_p);

/* The frame as it goes on the wire: WebSocket header + payload, borrowed;
 *len receives its length. */
const uint8_t *edge_frame_wire(const edge_frame_t *self, size_t *len);

/* The payload (the WAMP message), after the wire header. */
uint8_t *edge_frame_payload(const edge_frame_t *self);
size_t edge_frame_len(const edge_frame_t *self);
bool edge_frame_binary(const edge_frame_t *self);
bool edge_frame_is_event(const edge_frame_t *self);
uint32_t edge_frame_refs(const edge_frame_t *self);

/* An EVENT of a type with a ttl is never written after it expired
   (DESIGN 2.6, "checked at the last moment"): the fan-out stamps the
   frame with ts + ttl (µs since the epoch, 0 = never expires) and the
   writer drops an expired frame instead of sending it. */
void edge_frame_set_expires(edge_frame_t *self, uint64_t expires_at);
uint64_t edge_frame_expires(const edge_frame_t *self);
/* True when the frame has an expiry and now's wall clock reached it. */
bool edge_frame_expired(const edge_frame_t *self, tg_now_t now);

#endif
