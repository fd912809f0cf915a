/*  tg_msgpack_cursor: a zero-allocation reader over msgpack bytes.

    The query evaluator (tg_query) reads event bodies with it: it decodes
    one value's header at a time, skips whole values, finds a key in a map
    and an element of an array, all in place, without building a tree and
    without allocating. Every read is bounds-checked against the end of the
    buffer: bytes that are not msgpack give -1, never a read outside the
    buffer, and every operation costs at most the bytes it walks over.
*/
#ifndef TG_MSGPACK_CURSOR_H
#define TG_MSGPACK_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TG_MSGPACK_NIL,
    TG_MSGPACK_BOOL,
    TG_MSGPACK_INT,   /* fits int64 (negative or up to INT64_MAX) */
    TG_MSGPACK_UINT,  /* uint64 above INT64_MAX */
    TG_MSGPACK_FLOAT, /* float32 or float64, read as double */
    TG_MSGPACK_STR,
    TG_MSGPACK_BIN,
    TG_MSGPACK_EXT,
    TG_MSGPACK_ARRAY,
    TG_MSGPACK_MAP,
} tg_msgpack_type_t;

/* One decoded value. Scalars carry their value; str/bin/ext point at their
   payload; arrays and maps carry their declared count and point at their
   first element (the elements are not checked until they are read). */
typedef struct {
    tg_msgpack_type_t type;
    union {
        bool boolean;
        int64_t i;
        uint64_t u;
        double f;
    } as;
    const uint8_t *data; /* str/bin/ext payload, or a container's first element */
    uint32_t len;        /* str/bin/ext payload bytes; array elements; map pairs */
} tg_msgpack_value_t;

/* A position in a buffer: the next value starts at pos; end is one past
   the last byte that may be read. */
typedef struct {
    const uint8_t *pos;
    const uint8_t *end;
} tg_msgpack_cursor_t;

/* A cursor over data[0..len). */
void tg_msgpack_cursor_init(tg_msgpack_cursor_t *self, const void *data, size_t len);

/* Decodes the value at the cursor into *value and moves past its header
   and, for str/bin/ext, past its payload: for a container the cursor then
   stands on its first element. Returns 0, or -1 when the bytes there are
   not a complete msgpack header (or payload), or the byte 0xc1. */
int tg_msgpack_cursor_next(tg_msgpack_cursor_t *self, tg_msgpack_value_t *value);

/* Moves past one whole value, containers included, iteratively (no
   recursion, so any nesting is fine). Returns 0, or -1 on bad bytes. */
int tg_msgpack_cursor_skip(tg_msgpack_cursor_t *self);

/* Looks `key` (key_len bytes) up among the keys of `map` (a value of type
   map read from a buffer ending at end). Keys are compared as strings
   byte for byte; non-string keys never match; the first equal key wins.
   Returns 1 with the value in *value, 0 when absent, -1 on bad bytes. */
int tg_msgpack_cursor_map_find(const tg_msgpack_value_t *map, const uint8_t *end, const char *key,
                               size_t key_len, tg_msgpack_value_t *value);

/* The element `index` (0-based) of `array`. Returns 1 with it in *value, 0
   when index is past the end, -1 on bad bytes. */
int tg_msgpack_cursor_array_at(const tg_msgpack_value_t *array, const uint8_t *end, uint64_t index,
                               tg_msgpack_value_t *value);

#endif
