/*  edge_frame: see edge_frame.h. */
#include "edge_frame.h"

#include <assert.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

struct _edge_frame_t {
    uint32_t refs;         /* queues (and the creator) holding this frame */
    bool binary;           /* WebSocket binary opcode (msgpack) rather than text */
    bool is_event;         /* an EVENT, counted in events_out when written */
    uint8_t ws_header_len; /* bytes of WebSocket header just before the payload */
    size_t len;            /* payload bytes */
    size_t headroom;       /* offset of the payload from the start of the frame */
    uint64_t expires_at;   /* µs since the epoch after which the EVENT is not written, 0 = never */
};

/* The header rounded up so the payload keeps the alignment lws expects. */
#define S_HEADER_SIZE ((sizeof(struct _edge_frame_t) + 15u) & ~(size_t)15u)

_Static_assert(LWS_PRE >= 10, "the WebSocket header is written into LWS_PRE");

/* Largest WebSocket header: opcode byte, length byte, 64-bit length. */
#define S_WS_HEADER_MAX 10

/* Writes the header of an unmasked, final WebSocket frame of `len` bytes
   (RFC 6455 5.2; a server never masks) just before `payload`, where the
   headroom leaves LWS_PRE (>= S_WS_HEADER_MAX) bytes. Returns its length. */
static uint8_t s_write_ws_header(uint8_t *payload, size_t len, bool binary)
{
    uint8_t header[S_WS_HEADER_MAX];
    uint8_t size = 0;
    header[size++] = (uint8_t)(0x80u | (binary ? 0x2u : 0x1u)); /* FIN + opcode */
    if (len < 126) {
        header[size++] = (uint8_t)len;
    } else if (len <= 0xffff) {
        header[size++] = 126;
        header[size++] = (uint8_t)(len >> 8);
        header[size++] = (uint8_t)len;
    } else {
        header[size++] = 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            header[size++] = (uint8_t)((uint64_t)len >> shift);
    }
    memcpy(payload - size, header, size);
    return size;
}

size_t edge_frame_headroom(void)
{
    return S_HEADER_SIZE + LWS_PRE;
}

edge_frame_t *edge_frame_new(tg_buf_t *buf, bool binary, bool is_event)
{
    assert(buf);
    assert(buf->headroom == edge_frame_headroom());
    size_t headroom = buf->headroom;
    size_t len = buf->len;
    assert(len > 0); /* every WAMP message has bytes; an empty frame is misuse */
    size_t total = 0;
    uint8_t *memory = tg_buf_detach(buf, &total);
    assert(memory);
    edge_frame_t *self = (edge_frame_t *)memory;
    self->refs = 1;
    self->binary = binary;
    self->is_event = is_event;
    self->len = len;
    self->headroom = headroom;
    self->expires_at = 0;
    self->ws_header_len = s_write_ws_header(memory + headroom, len, binary);
    return self;
}

edge_frame_t *edge_frame_ref(edge_frame_t *self)
{
    assert(self);
    self->refs++;
    return self;
}

void edge_frame_unref(edge_frame_t **self_p)
{
    assert(self_p);
    edge_frame_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    assert(self->refs > 0);
    if (--self->refs == 0)
        free(self);
}

uint8_t *edge_frame_payload(const edge_frame_t *self)
{
    return (uint8_t *)self + self->headroom;
}

const uint8_t *edge_frame_wire(const edge_frame_t *self, size_t *len)
{
    assert(self);
    assert(len);
    *len = self->ws_header_len + self->len;
    return (const uint8_t *)self + self->headroom - self->ws_header_len;
}

size_t edge_frame_len(const edge_frame_t *self)
{
    return self->len;
}

bool edge_frame_binary(const edge_frame_t *self)
{
    return self->binary;
}

bool edge_frame_is_event(const edge_frame_t *self)
{
    return self->is_event;
}

uint32_t edge_frame_refs(const edge_frame_t *self)
{
    return self->refs;
}

void edge_frame_set_expires(edge_frame_t *self, uint64_t expires_at)
{
    assert(self);
    self->expires_at = expires_at;
}

uint64_t edge_frame_expires(const edge_frame_t *self)
{
    assert(self);
    return self->expires_at;
}

bool edge_frame_expired(const edge_frame_t *self, tg_now_t now)
{
    assert(self);
    return self->expires_at != 0 && (uint64_t)now.wall_us >= self->expires_at;
}
