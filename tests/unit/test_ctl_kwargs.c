/*  ctl_kwargs: `publish --kwargs` JSON becomes a msgpack map that keeps
    every value's kind and every bit of it. */
#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <string.h>

#include "ctl_kwargs.h"

static msgpack_unpacked s_unpacked;
static zframe_t *s_frame;
static char s_err[256];

static void s_teardown(void)
{
    msgpack_unpacked_destroy(&s_unpacked);
    zframe_destroy(&s_frame);
}

TestSuite(ctl_kwargs, .fini = s_teardown);

//  Converts json and returns the decoded root (a map), asserting that the
//  bytes are exactly one msgpack object.
static const msgpack_object *s_convert(const char *json)
{
    s_frame = ctl_kwargs_to_msgpack(json, s_err, sizeof(s_err));
    cr_assert_not_null(s_frame, "conversion failed: %s", s_err);
    msgpack_unpacked_init(&s_unpacked);
    size_t offset = 0;
    cr_assert_eq(msgpack_unpack_next(&s_unpacked, (const char *)zframe_data(s_frame),
                                     zframe_size(s_frame), &offset),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(offset, zframe_size(s_frame), "trailing bytes");
    cr_assert_eq(s_unpacked.data.type, MSGPACK_OBJECT_MAP);
    return &s_unpacked.data;
}

//  The value under key in map, asserting it is there.
static const msgpack_object *s_get(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    cr_assert_fail("key %s missing", key);
    return NULL;
}

/* Small integers, negative ones and zero stay integers with their value. */
Test(ctl_kwargs, integers_stay_integers)
{
    const msgpack_object *map = s_convert("{\"a\": 7, \"b\": -3, \"c\": 0}");
    cr_expect_eq(s_get(map, "a")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_expect_eq(s_get(map, "a")->via.u64, 7u);
    cr_expect_eq(s_get(map, "b")->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_expect_eq(s_get(map, "b")->via.i64, -3);
    cr_expect_eq(s_get(map, "c")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_expect_eq(s_get(map, "c")->via.u64, 0u);
}

/* The extremes of int64 survive exactly (no detour through double). */
Test(ctl_kwargs, int64_extremes_are_exact)
{
    const msgpack_object *map = s_convert(
        "{\"max\": 9223372036854775807, \"min\": -9223372036854775808, \"big\": 9007199254740993}");
    cr_expect_eq(s_get(map, "max")->via.u64, (uint64_t)INT64_MAX);
    cr_expect_eq(s_get(map, "min")->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_expect_eq(s_get(map, "min")->via.i64, INT64_MIN);
    cr_expect_eq(s_get(map, "big")->via.u64, 9007199254740993u);
}

/* An integer beyond int64 is refused rather than silently rounded. */
Test(ctl_kwargs, integer_beyond_int64_is_an_error)
{
    s_frame = ctl_kwargs_to_msgpack("{\"x\": 9223372036854775808}", s_err, sizeof(s_err));
    cr_expect_null(s_frame);
    cr_expect(strstr(s_err, "column"), "err: %s", s_err);
}

/* Reals stay floats, including integral ones like 1.0, with full
   precision. */
Test(ctl_kwargs, floats_stay_floats)
{
    const msgpack_object *map =
        s_convert("{\"pi\": 3.141592653589793, \"one\": 1.0, \"e\": -2.5e-8}");
    cr_expect_eq(s_get(map, "pi")->type, MSGPACK_OBJECT_FLOAT64);
    cr_expect_eq(s_get(map, "pi")->via.f64, 3.141592653589793);
    cr_expect_eq(s_get(map, "one")->type, MSGPACK_OBJECT_FLOAT64);
    cr_expect_eq(s_get(map, "one")->via.f64, 1.0);
    cr_expect_eq(s_get(map, "e")->via.f64, -2.5e-8);
}

/* Unicode (escaped or raw, astral plane included) arrives as UTF-8, in
   keys and values. */
Test(ctl_kwargs, unicode_is_utf8)
{
    const msgpack_object *map =
        s_convert("{\"caf\\u00e9\": \"\\ud83d\\ude00 ok\", \"raw\": \"日本\"}");
    const msgpack_object *smile = s_get(map, "caf\xc3\xa9");
    cr_assert_eq(smile->type, MSGPACK_OBJECT_STR);
    cr_expect_eq(smile->via.str.size, 7u);
    cr_expect(memcmp(smile->via.str.ptr, "\xf0\x9f\x98\x80 ok", 7) == 0);
    const msgpack_object *raw = s_get(map, "raw");
    cr_expect_eq(raw->via.str.size, 6u);
    cr_expect(memcmp(raw->via.str.ptr, "日本", 6) == 0);
}

/* A NUL inside a string is kept (msgpack strings carry their length). */
Test(ctl_kwargs, nul_inside_a_string_is_kept)
{
    const msgpack_object *map = s_convert("{\"s\": \"a\\u0000b\"}");
    const msgpack_object *s = s_get(map, "s");
    cr_assert_eq(s->via.str.size, 3u);
    cr_expect(memcmp(s->via.str.ptr, "a\0b", 3) == 0);
}

/* null and booleans map to msgpack nil and booleans. */
Test(ctl_kwargs, null_and_booleans)
{
    const msgpack_object *map = s_convert("{\"n\": null, \"t\": true, \"f\": false}");
    cr_expect_eq(s_get(map, "n")->type, MSGPACK_OBJECT_NIL);
    cr_expect_eq(s_get(map, "t")->type, MSGPACK_OBJECT_BOOLEAN);
    cr_expect(s_get(map, "t")->via.boolean);
    cr_expect_not(s_get(map, "f")->via.boolean);
}

/* Arrays and objects nest, in order. */
Test(ctl_kwargs, nesting_is_preserved)
{
    const msgpack_object *map =
        s_convert("{\"author\": {\"id\": 42, \"tags\": [\"a\", [1, {\"x\": null}], {}]}}");
    const msgpack_object *author = s_get(map, "author");
    cr_assert_eq(author->type, MSGPACK_OBJECT_MAP);
    cr_expect_eq(s_get(author, "id")->via.u64, 42u);
    const msgpack_object *tags = s_get(author, "tags");
    cr_assert_eq(tags->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(tags->via.array.size, 3u);
    cr_expect_eq(tags->via.array.ptr[0].type, MSGPACK_OBJECT_STR);
    const msgpack_object *inner = &tags->via.array.ptr[1];
    cr_assert_eq(inner->type, MSGPACK_OBJECT_ARRAY);
    cr_expect_eq(inner->via.array.ptr[0].via.u64, 1u);
    cr_expect_eq(s_get(&inner->via.array.ptr[1], "x")->type, MSGPACK_OBJECT_NIL);
    cr_expect_eq(tags->via.array.ptr[2].type, MSGPACK_OBJECT_MAP);
    cr_expect_eq(tags->via.array.ptr[2].via.map.size, 0u);
}

/* Object keys keep the order they were written in. */
Test(ctl_kwargs, key_order_is_kept)
{
    const msgpack_object *map = s_convert("{\"z\": 1, \"a\": 2, \"m\": 3}");
    cr_assert_eq(map->via.map.size, 3u);
    cr_expect(memcmp(map->via.map.ptr[0].key.via.str.ptr, "z", 1) == 0);
    cr_expect(memcmp(map->via.map.ptr[1].key.via.str.ptr, "a", 1) == 0);
    cr_expect(memcmp(map->via.map.ptr[2].key.via.str.ptr, "m", 1) == 0);
}

/* The empty object (the default kwargs) is the empty map. */
Test(ctl_kwargs, empty_object_is_an_empty_map)
{
    const msgpack_object *map = s_convert("{}");
    cr_expect_eq(map->via.map.size, 0u);
    cr_expect_eq(zframe_size(s_frame), 1u);
}

/* Invalid JSON is refused with jansson's message and the column of the
   fault. */
Test(ctl_kwargs, invalid_json_reports_the_column)
{
    s_frame = ctl_kwargs_to_msgpack("{\"a\": 1,, \"b\": 2}", s_err, sizeof(s_err));
    cr_expect_null(s_frame);
    cr_expect(strstr(s_err, "column 9"), "err: %s", s_err);
    cr_expect(strstr(s_err, "line 1"), "err: %s", s_err);
}

/* A duplicate key is refused (which value would be meant?). */
Test(ctl_kwargs, duplicate_key_is_an_error)
{
    s_frame = ctl_kwargs_to_msgpack("{\"a\": 1, \"a\": 2}", s_err, sizeof(s_err));
    cr_expect_null(s_frame);
    cr_expect(strstr(s_err, "duplicate"), "err: %s", s_err);
}

/* Valid JSON that is not an object cannot be kwargs. */
Test(ctl_kwargs, non_object_is_an_error)
{
    s_frame = ctl_kwargs_to_msgpack("[1, 2]", s_err, sizeof(s_err));
    cr_expect_null(s_frame);
    cr_expect(strstr(s_err, "expected an object, got an array"), "err: %s", s_err);
    s_frame = ctl_kwargs_to_msgpack("42", s_err, sizeof(s_err));
    cr_expect_null(s_frame);
}
