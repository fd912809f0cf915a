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
    uint8_t *data;   /* owned; headroom + len bytes used */
    size_t headroom; /* bytes reserved before the payload */
    size_t len;      /* payload bytes */
    size_t cap;      /* allocated bytes after the headroom */
} tg_buf_t;

/* Initialises an empty buffer with `headroom` bytes reserved (allocates a
   first block, so tg_buf_payload() is never NULL until release/detach). */
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
   caller owns it and frees it with free(); the buffer is left empty (the
   next append allocates again). *len (if not NULL) receives the payload
   length, headroom not included: the payload starts at result + headroom. */
uint8_t *tg_buf_detach(tg_buf_t *self, size_t *len);

/* Appends one byte / a NUL-terminated string (without its NUL). */
void tg_buf_append_byte(tg_buf_t *self, uint8_t byte);
void tg_buf_append_str(tg_buf_t *self, const char *text);
/* Grows the payload by len uninitialised bytes and returns where they start
   (valid until the next call that may grow the buffer). */
uint8_t *tg_buf_reserve(tg_buf_t *self, size_t len);
/* Shortens the payload to len bytes (no-op if already shorter); used to
   roll back a partial encode. */
void tg_buf_truncate(tg_buf_t *self, size_t len);

#endif
