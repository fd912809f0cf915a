/*  tg_buf: a growable byte buffer with reserved headroom.

    The edge hands encoded WAMP messages to libwebsockets, which needs
    LWS_PRE writable bytes before the payload; encoders write after the
    headroom so the frame is never copied again.
*/
#ifndef TG_BUF_H
#define TG_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;    /* owned; headroom + len bytes used */
    size_t headroom;  /* bytes reserved before the payload */
    size_t len;       /* payload bytes */
    size_t cap;       /* allocated bytes after the headroom */
} tg_buf_t;

/* Initialises an empty buffer with `headroom` bytes reserved. */
void tg_buf_init(tg_buf_t *self, size_t headroom);
/* Frees the memory; the buffer may be re-initialised. */
void tg_buf_release(tg_buf_t *self);
/* Empties the payload, keeps the memory. */
void tg_buf_reset(tg_buf_t *self);
/* Appends; aborts on out-of-memory (like czmq). */
void tg_buf_append(tg_buf_t *self, const void *data, size_t len);
/* Start of the payload. */
uint8_t *tg_buf_payload(const tg_buf_t *self);
/* Moves the memory out: returns the allocation (headroom + payload), the
   caller owns it and frees it with free(); the buffer is left empty. */
uint8_t *tg_buf_detach(tg_buf_t *self, size_t *len);

#endif
