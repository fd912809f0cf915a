/*  Unit tests for tg_msgpack_cursor: the in-place msgpack reader under
    tg_query's evaluator. */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "tg_msgpack_cursor.h"

typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} packed_t;

static void packed_init(packed_t *p)
{
    msgpack_sbuffer_init(&p->sbuf);
    msgpack_packer_init(&p->pk, &p->sbuf, msgpack_sbuffer_write);
}

/* Every scalar type decodes to its value, in every width msgpack-c picks. */
Test(tg_msgpack_cursor, scalars_decode_in_every_width)
{
    packed_t p;
    packed_init(&p);
    int64_t ints[] = {0,     127,    -32,          -33,       255,      -129,
                      65535, -32769, 4294967295ll, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        msgpack_pack_int64(&p.pk, ints[i]);
    msgpack_pack_uint64(&p.pk, UINT64_MAX);
    msgpack_pack_nil(&p.pk);
    msgpack_pack_true(&p.pk);
    msgpack_pack_float(&p.pk, 0.5f);
    msgpack_pack_double(&p.pk, -2.25);
    tg_msgpack_cursor_t cursor;
    tg_msgpack_cursor_init(&cursor, p.sbuf.data, p.sbuf.size);
    tg_msgpack_value_t v;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
        cr_assert_eq(v.type, TG_MSGPACK_INT);
        cr_assert_eq(v.as.i, ints[i]);
    }
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
    cr_assert_eq(v.type, TG_MSGPACK_UINT);
    cr_assert_eq(v.as.u, UINT64_MAX);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
    cr_assert_eq(v.type, TG_MSGPACK_NIL);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
    cr_assert(v.type == TG_MSGPACK_BOOL && v.as.boolean);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
    cr_assert(v.type == TG_MSGPACK_FLOAT && v.as.f == 0.5);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
    cr_assert(v.type == TG_MSGPACK_FLOAT && v.as.f == -2.25);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), -1, "nothing left");
    msgpack_sbuffer_destroy(&p.sbuf);
}

/* Strings, binary and ext point at their payload, of every length width. */
Test(tg_msgpack_cursor, payloads_are_pointed_at_in_place)
{
    packed_t p;
    packed_init(&p);
    static char big[70000];
    memset(big, 'b', sizeof big);
    size_t lens[] = {0, 31, 32, 255, 256, 65535, 65536};
    for (size_t i = 0; i < 7; i++)
        msgpack_pack_str_with_body(&p.pk, big, lens[i]);
    msgpack_pack_bin_with_body(&p.pk, "xy", 2);
    msgpack_pack_ext_with_body(&p.pk, "abcd", 4, 5);
    msgpack_pack_ext_with_body(&p.pk, "abc", 3, 5);
    tg_msgpack_cursor_t cursor;
    tg_msgpack_cursor_init(&cursor, p.sbuf.data, p.sbuf.size);
    tg_msgpack_value_t v;
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
        cr_assert_eq(v.type, TG_MSGPACK_STR);
        cr_assert_eq(v.len, lens[i]);
    }
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
    cr_assert(v.type == TG_MSGPACK_BIN && v.len == 2 && memcmp(v.data, "xy", 2) == 0);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
    cr_assert(v.type == TG_MSGPACK_EXT && v.len == 4 && memcmp(v.data, "abcd", 4) == 0);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), 0);
    cr_assert(v.type == TG_MSGPACK_EXT && v.len == 3 && memcmp(v.data, "abc", 3) == 0);
    cr_assert_eq(cursor.pos, cursor.end);
    msgpack_sbuffer_destroy(&p.sbuf);
}

/* skip passes over a whole nested value; map_find and array_at find what
   is there and say 0 for what is not. */
Test(tg_msgpack_cursor, skip_find_and_index_walk_containers)
{
    packed_t p;
    packed_init(&p);
    msgpack_pack_map(&p.pk, 2);
    msgpack_pack_str_with_body(&p.pk, "list", 4);
    msgpack_pack_array(&p.pk, 3);
    msgpack_pack_map(&p.pk, 1);
    msgpack_pack_str_with_body(&p.pk, "deep", 4);
    msgpack_pack_array(&p.pk, 0);
    msgpack_pack_int(&p.pk, 7);
    msgpack_pack_str_with_body(&p.pk, "s", 1);
    msgpack_pack_str_with_body(&p.pk, "key", 3);
    msgpack_pack_int(&p.pk, 9);
    tg_msgpack_cursor_t cursor;
    tg_msgpack_cursor_init(&cursor, p.sbuf.data, p.sbuf.size);
    tg_msgpack_value_t top, v, e;
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &top), 0);
    cr_assert_eq(top.type, TG_MSGPACK_MAP);
    cr_assert_eq(tg_msgpack_cursor_map_find(&top, cursor.end, "key", 3, &v), 1);
    cr_assert_eq(v.as.i, 9);
    cr_assert_eq(tg_msgpack_cursor_map_find(&top, cursor.end, "s", 1, &v), 0, "a value, not a key");
    cr_assert_eq(tg_msgpack_cursor_map_find(&top, cursor.end, "list", 4, &v), 1);
    cr_assert_eq(tg_msgpack_cursor_array_at(&v, cursor.end, 1, &e), 1);
    cr_assert_eq(e.as.i, 7);
    cr_assert_eq(tg_msgpack_cursor_array_at(&v, cursor.end, 3, &e), 0);
    cr_assert_eq(tg_msgpack_cursor_map_find(&v, cursor.end, "x", 1, &e), -1, "not a map");
    tg_msgpack_cursor_init(&cursor, p.sbuf.data, p.sbuf.size);
    cr_assert_eq(tg_msgpack_cursor_skip(&cursor), 0);
    cr_assert_eq(cursor.pos, cursor.end);
    msgpack_sbuffer_destroy(&p.sbuf);
}

/* Every truncation of a valid value is refused by skip, never overread
   (each cut is copied to an exact-size buffer for ASan). */
Test(tg_msgpack_cursor, truncated_values_are_refused)
{
    packed_t p;
    packed_init(&p);
    msgpack_pack_array(&p.pk, 4);
    msgpack_pack_double(&p.pk, 1.5);
    msgpack_pack_str_with_body(&p.pk, "hello", 5);
    msgpack_pack_map(&p.pk, 1);
    msgpack_pack_int(&p.pk, 1);
    msgpack_pack_int64(&p.pk, INT64_MIN);
    msgpack_pack_ext_with_body(&p.pk, "ab", 2, 1);
    for (size_t cut = 0; cut < p.sbuf.size; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, p.sbuf.data, cut);
        tg_msgpack_cursor_t cursor;
        tg_msgpack_cursor_init(&cursor, copy, cut);
        cr_assert_eq(tg_msgpack_cursor_skip(&cursor), -1, "cut at %zu", cut);
        free(copy);
    }
    msgpack_sbuffer_destroy(&p.sbuf);
}

/* The reserved byte 0xc1 and counts beyond the bytes left are refused at
   once. */
Test(tg_msgpack_cursor, impossible_headers_are_refused)
{
    tg_msgpack_cursor_t cursor;
    tg_msgpack_value_t v;
    tg_msgpack_cursor_init(&cursor, "\xc1", 1);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), -1);
    tg_msgpack_cursor_init(&cursor, "\xdd\xff\xff\xff\xff\x01", 6);
    cr_assert_eq(tg_msgpack_cursor_skip(&cursor), -1);
    tg_msgpack_cursor_init(&cursor,
                           "\xdb\x00\x00\x00\x05"
                           "abc",
                           8);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), -1);
    tg_msgpack_cursor_init(&cursor, NULL, 0);
    cr_assert_eq(tg_msgpack_cursor_next(&cursor, &v), -1);
}
