/*  tg_msgpack_frame: the allocation-free framing check, see
    tg_msgpack_frame.h.

    One loop over the bytes with a stack of "children still owed" per open
    container. `pending`, the sum of that stack, is how many values are
    still to come; each takes at least one byte, so a container whose count
    exceeds the bytes left minus `pending` cannot be complete and is
    refused before msgpack-c would reserve room for it.
*/
#include "tg_msgpack_frame.h"

#include <stdint.h>

#include "tg_error.h"

/* Reads a big-endian unsigned of n bytes. */
static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* msgpackr's `undefined`: fixext1 (0xd4), ext type 0, one data byte 0. */
static bool s_is_undefined_at(const uint8_t *p, size_t size, size_t pos)
{
    return pos + 3 <= size && p[pos] == 0xD4 && p[pos + 1] == 0x00 && p[pos + 2] == 0x00;
}

int tg_msgpack_frame_check(const void *data, size_t size, int max_depth, bool allow_undefined,
                           char *err, size_t errlen)
{
    const uint8_t *p = data;
    /* Children still owed by each open container, and their sum (each
       needs at least one byte). */
    uint64_t left[TG_MSGPACK_FRAME_MAX_DEPTH];
    uint64_t pending = 0;
    int depth = 0;
    size_t pos = 0;
    if (max_depth > TG_MSGPACK_FRAME_MAX_DEPTH)
        max_depth = TG_MSGPACK_FRAME_MAX_DEPTH;
    if (size == 0) {
        tg_error_set(err, errlen, "empty msgpack");
        return -1;
    }
    for (;;) {
        if (depth > 0) {
            left[depth - 1]--;
            pending--;
        }
        if (pos >= size)
            goto truncated;
        uint8_t c = p[pos++];
        uint64_t skip = 0;     /* payload bytes after the header */
        uint64_t children = 0; /* values inside, for a container */
        bool container = false;
        size_t lenbytes = 0; /* size of the big-endian length/count field */
        if (c <= 0x7F || c >= 0xE0 || c == 0xC0 || c == 0xC2 || c == 0xC3)
            ;
        else if (c <= 0x8F) {
            container = true;
            children = 2u * (c & 0x0F);
        } else if (c <= 0x9F) {
            container = true;
            children = c & 0x0F;
        } else if (c <= 0xBF)
            skip = c & 0x1F;
        else if (c == 0xC1) {
            tg_error_set(err, errlen, "invalid msgpack byte 0xc1 at offset %zu", pos - 1);
            return -1;
        } else if (allow_undefined && s_is_undefined_at(p, size, pos - 1)) {
            skip = 2; /* the type byte and the data byte */
        } else if ((c >= 0xC7 && c <= 0xC9) || (c >= 0xD4 && c <= 0xD8)) {
            tg_error_set(err, errlen, "msgpack ext type not allowed at depth %d", depth);
            return -1;
        } else if (c == 0xC4 || c == 0xD9)
            lenbytes = 1;
        else if (c == 0xC5 || c == 0xDA || c == 0xDC || c == 0xDE)
            lenbytes = 2;
        else if (c == 0xC6 || c == 0xDB || c == 0xDD || c == 0xDF)
            lenbytes = 4;
        else if (c == 0xCA)
            skip = 4;
        else if (c == 0xCB)
            skip = 8;
        else if (c >= 0xCC && c <= 0xCF)
            skip = 1u << (c - 0xCC);
        else /* 0xD0 .. 0xD3 */
            skip = 1u << (c - 0xD0);
        if (lenbytes) {
            if (size - pos < lenbytes)
                goto truncated;
            uint64_t n = s_be(p + pos, lenbytes);
            pos += lenbytes;
            if (c == 0xDC || c == 0xDD) {
                container = true;
                children = n;
            } else if (c == 0xDE || c == 0xDF) {
                container = true;
                children = 2 * n;
            } else
                skip = n;
        }
        if (skip > size - pos)
            goto truncated;
        pos += (size_t)skip;
        if (container) {
            if (depth + 1 > max_depth) {
                tg_error_set(err, errlen, "nesting deeper than %d", max_depth);
                return -1;
            }
            if (children > 0) {
                if (children > size - pos - pending)
                    goto truncated;
                pending += children;
                left[depth++] = children;
            }
        }
        while (depth > 0 && left[depth - 1] == 0)
            depth--;
        if (depth == 0)
            break;
    }
    if (pos != size) {
        tg_error_set(err, errlen, "trailing bytes after msgpack value at offset %zu", pos);
        return -1;
    }
    return 0;
truncated:
    tg_error_set(err, errlen, "truncated msgpack (declared length exceeds data)");
    return -1;
}
