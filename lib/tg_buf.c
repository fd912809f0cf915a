/*  tg_buf: a growable byte buffer with reserved headroom (see tg_buf.h).

    Memory layout: data[0 .. headroom) is reserved for libwebsockets (LWS_PRE),
    data[headroom .. headroom + len) is the payload, cap counts the bytes
    allocated after the headroom. Growth doubles, so n appends cost O(n).
*/
#include "tg_buf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_BUF_MIN_CAP 256

/* Out of memory is not recoverable in a gateway process: czmq aborts too. */
static void s_oom(size_t bytes)
{
    fprintf(stderr, "tg_buf: out of memory bytes=%zu\n", bytes);
    fflush(stderr);
    abort();
}

/* Makes room for `extra` more payload bytes. */
static void s_grow(tg_buf_t *self, size_t extra)
{
    if (extra > SIZE_MAX - self->headroom - self->len)
        s_oom(SIZE_MAX);
    size_t need = self->len + extra;
    if (self->data && need <= self->cap)
        return;
    size_t cap = self->cap < TG_BUF_MIN_CAP ? TG_BUF_MIN_CAP : self->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > SIZE_MAX - self->headroom)
        s_oom(SIZE_MAX);
    uint8_t *data = realloc(self->data, self->headroom + cap);
    if (!data)
        s_oom(self->headroom + cap);
    self->data = data;
    self->cap = cap;
}

void tg_buf_init(tg_buf_t *self, size_t headroom)
{
    assert(self);
    self->data = NULL;
    self->headroom = headroom;
    self->len = 0;
    self->cap = 0;
    /* Allocate now so that tg_buf_payload() of a fresh buffer is usable. */
    s_grow(self, 0);
}

void tg_buf_release(tg_buf_t *self)
{
    assert(self);
    free(self->data);
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
}

void tg_buf_reset(tg_buf_t *self)
{
    assert(self);
    self->len = 0;
}

void tg_buf_append(tg_buf_t *self, const void *data, size_t len)
{
    assert(self);
    if (len == 0)
        return;
    s_grow(self, len);
    memcpy(self->data + self->headroom + self->len, data, len);
    self->len += len;
}

void tg_buf_append_byte(tg_buf_t *self, uint8_t byte)
{
    assert(self);
    if (!self->data || self->len == self->cap)
        s_grow(self, 1);
    self->data[self->headroom + self->len++] = byte;
}

void tg_buf_append_str(tg_buf_t *self, const char *text)
{
    tg_buf_append(self, text, strlen(text));
}

uint8_t *tg_buf_reserve(tg_buf_t *self, size_t len)
{
    assert(self);
    s_grow(self, len);
    uint8_t *at = self->data + self->headroom + self->len;
    self->len += len;
    return at;
}

void tg_buf_truncate(tg_buf_t *self, size_t len)
{
    assert(self);
    if (len < self->len)
        self->len = len;
}

uint8_t *tg_buf_payload(const tg_buf_t *self)
{
    assert(self);
    return self->data ? self->data + self->headroom : NULL;
}

uint8_t *tg_buf_detach(tg_buf_t *self, size_t *len)
{
    assert(self);
    if (!self->data)
        s_grow(self, 0);
    uint8_t *data = self->data;
    if (len)
        *len = self->len;
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
    return data;
}
