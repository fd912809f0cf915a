/*  tg_msgpack_cursor: reads msgpack in place, see tg_msgpack_cursor.h.

    Every length is checked against the bytes left before it is used, so a
    header that claims more than the buffer holds is -1, not an overread.
    Skipping keeps a count of values still owed instead of a stack: each
    value takes at least one byte, so the loop ends within the buffer's
    size whatever the counts claim.
*/
#include "tg_msgpack_cursor.h"

#include <string.h>

/* Reads a big-endian unsigned of n bytes. */
static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

void tg_msgpack_cursor_init(tg_msgpack_cursor_t *self, const void *data, size_t len)
{
    self->pos = data;
    self->end = self->pos ? self->pos + len : NULL;
}

/* Takes n payload bytes after the header: -1 when they are not there. */
static int s_payload(tg_msgpack_cursor_t *self, tg_msgpack_value_t *value, uint64_t n)
{
    if (n > (uint64_t)(self->end - self->pos))
        return -1;
    value->data = self->pos;
    value->len = (uint32_t)n;
    self->pos += n;
    return 0;
}

/* A container header: the elements follow, unchecked until read. */
static int s_container(tg_msgpack_cursor_t *self, tg_msgpack_value_t *value, tg_msgpack_type_t type,
                       uint64_t count)
{
    value->type = type;
    value->len = (uint32_t)count;
    value->data = self->pos;
    return 0;
}

int tg_msgpack_cursor_next(tg_msgpack_cursor_t *self, tg_msgpack_value_t *value)
{
    if (!self->pos || self->pos >= self->end)
        return -1;
    uint8_t c = *self->pos++;
    size_t left = (size_t)(self->end - self->pos);
    value->data = NULL;
    value->len = 0;
    if (c <= 0x7F || c >= 0xE0) {
        value->type = TG_MSGPACK_INT;
        value->as.i = (int8_t)c;
        return 0;
    }
    if (c <= 0x8F)
        return s_container(self, value, TG_MSGPACK_MAP, c & 0x0F);
    if (c <= 0x9F)
        return s_container(self, value, TG_MSGPACK_ARRAY, c & 0x0F);
    if (c <= 0xBF) {
        value->type = TG_MSGPACK_STR;
        return s_payload(self, value, c & 0x1F);
    }
    /* Fixed-size fields after the type byte. */
    static const uint8_t sizes[32] = {
        [0x04] = 1, [0x05] = 2, [0x06] = 4,                         /* bin 8/16/32 lengths */
        [0x07] = 1, [0x08] = 2, [0x09] = 4,                         /* ext 8/16/32 lengths */
        [0x0A] = 4, [0x0B] = 8,                                     /* float32/64 */
        [0x0C] = 1, [0x0D] = 2, [0x0E] = 4, [0x0F] = 8,             /* uint */
        [0x10] = 1, [0x11] = 2, [0x12] = 4, [0x13] = 8,             /* int */
        [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, /* fixext type */
        [0x19] = 1, [0x1A] = 2, [0x1B] = 4,                         /* str lengths */
        [0x1C] = 2, [0x1D] = 4, [0x1E] = 2, [0x1F] = 4,             /* array/map counts */
    };
    if (c == 0xC0) {
        value->type = TG_MSGPACK_NIL;
        return 0;
    }
    if (c == 0xC2 || c == 0xC3) {
        value->type = TG_MSGPACK_BOOL;
        value->as.boolean = c == 0xC3;
        return 0;
    }
    if (c == 0xC1)
        return -1;
    size_t n = sizes[c - 0xC0];
    if (left < n)
        return -1;
    uint64_t field = s_be(self->pos, n);
    self->pos += n;
    switch (c) {
    case 0xC4:
    case 0xC5:
    case 0xC6:
        value->type = TG_MSGPACK_BIN;
        return s_payload(self, value, field);
    case 0xC7:
    case 0xC8:
    case 0xC9:
        /* ext: the type byte follows the length, then the payload */
        if (self->pos >= self->end)
            return -1;
        self->pos++;
        value->type = TG_MSGPACK_EXT;
        return s_payload(self, value, field);
    case 0xCA: {
        uint32_t bits = (uint32_t)field;
        float f;
        memcpy(&f, &bits, sizeof f);
        value->type = TG_MSGPACK_FLOAT;
        value->as.f = f;
        return 0;
    }
    case 0xCB:
        value->type = TG_MSGPACK_FLOAT;
        memcpy(&value->as.f, &field, sizeof value->as.f);
        return 0;
    case 0xCC:
    case 0xCD:
    case 0xCE:
    case 0xCF:
        if (field > (uint64_t)INT64_MAX) {
            value->type = TG_MSGPACK_UINT;
            value->as.u = field;
        } else {
            value->type = TG_MSGPACK_INT;
            value->as.i = (int64_t)field;
        }
        return 0;
    case 0xD0:
        value->type = TG_MSGPACK_INT;
        value->as.i = (int8_t)field;
        return 0;
    case 0xD1:
        value->type = TG_MSGPACK_INT;
        value->as.i = (int16_t)field;
        return 0;
    case 0xD2:
        value->type = TG_MSGPACK_INT;
        value->as.i = (int32_t)field;
        return 0;
    case 0xD3:
        value->type = TG_MSGPACK_INT;
        memcpy(&value->as.i, &field, sizeof value->as.i);
        return 0;
    case 0xD4:
    case 0xD5:
    case 0xD6:
    case 0xD7:
    case 0xD8:
        /* fixext 1/2/4/8/16: the type byte was read as the field */
        value->type = TG_MSGPACK_EXT;
        return s_payload(self, value, 1u << (c - 0xD4));
    case 0xD9:
    case 0xDA:
    case 0xDB:
        value->type = TG_MSGPACK_STR;
        return s_payload(self, value, field);
    case 0xDC:
    case 0xDD:
        return s_container(self, value, TG_MSGPACK_ARRAY, field);
    default: /* 0xDE, 0xDF */
        return s_container(self, value, TG_MSGPACK_MAP, field);
    }
}

/* Moves past `owed` whole values. */
static int s_skip_values(tg_msgpack_cursor_t *self, uint64_t owed)
{
    while (owed > 0) {
        /* Each owed value needs a byte: a count beyond the bytes left can
           never be satisfied, so stop now instead of walking to the end. */
        if (owed > (uint64_t)(self->end - self->pos))
            return -1;
        tg_msgpack_value_t value;
        if (tg_msgpack_cursor_next(self, &value))
            return -1;
        owed--;
        if (value.type == TG_MSGPACK_ARRAY)
            owed += value.len;
        else if (value.type == TG_MSGPACK_MAP)
            owed += 2 * (uint64_t)value.len;
    }
    return 0;
}

int tg_msgpack_cursor_skip(tg_msgpack_cursor_t *self)
{
    return s_skip_values(self, 1);
}

int tg_msgpack_cursor_map_find(const tg_msgpack_value_t *map, const uint8_t *end, const char *key,
                               size_t key_len, tg_msgpack_value_t *value)
{
    if (map->type != TG_MSGPACK_MAP)
        return -1;
    tg_msgpack_cursor_t cursor = {map->data, end};
    for (uint32_t i = 0; i < map->len; i++) {
        tg_msgpack_value_t k;
        if (tg_msgpack_cursor_next(&cursor, &k))
            return -1;
        if (k.type == TG_MSGPACK_ARRAY || k.type == TG_MSGPACK_MAP) {
            /* a container key (legal msgpack, never ours): skip its contents */
            if (s_skip_values(&cursor, k.type == TG_MSGPACK_MAP ? 2 * (uint64_t)k.len : k.len))
                return -1;
        } else if (k.type == TG_MSGPACK_STR && k.len == key_len &&
                   memcmp(k.data, key, key_len) == 0) {
            return tg_msgpack_cursor_next(&cursor, value) ? -1 : 1;
        }
        if (tg_msgpack_cursor_skip(&cursor))
            return -1;
    }
    return 0;
}

int tg_msgpack_cursor_array_at(const tg_msgpack_value_t *array, const uint8_t *end, uint64_t index,
                               tg_msgpack_value_t *value)
{
    if (array->type != TG_MSGPACK_ARRAY)
        return -1;
    if (index >= array->len)
        return 0;
    tg_msgpack_cursor_t cursor = {array->data, end};
    for (uint64_t i = 0; i < index; i++)
        if (tg_msgpack_cursor_skip(&cursor))
            return -1;
    return tg_msgpack_cursor_next(&cursor, value) ? -1 : 1;
}
