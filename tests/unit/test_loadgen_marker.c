/*  Unit tests for loadgen_marker: the publisher's "sent_us" in a message. */
#include "loadgen_marker.h"

#include <criterion/criterion.h>
#include <string.h>

static int json(const char *text, int64_t *value)
{
    return loadgen_marker_find_json((const uint8_t *)text, strlen(text), value);
}

/* The marker inside a WAMP EVENT's kwargs is found and read. */
Test(loadgen_marker, json_marker_in_an_event_is_read)
{
    int64_t v = 0;
    cr_assert_eq(json("[36,5,7,{},[],{\"sent_us\":1764172800123456,\"seq\":1}]", &v), 0);
    cr_assert_eq(v, 1764172800123456);
}

/* Spaces after the colon are allowed (Python's json.dumps writes one). */
Test(loadgen_marker, json_marker_allows_spaces)
{
    int64_t v = 0;
    cr_assert_eq(json("{\"seq\": 1, \"sent_us\":  42}", &v), 0);
    cr_assert_eq(v, 42);
}

/* No marker, a marker with no digits, or a cut-off message: not found. */
Test(loadgen_marker, json_without_marker_or_digits_is_not_found)
{
    int64_t v = 7;
    cr_assert_eq(json("{\"seq\":1}", &v), -1);
    cr_assert_eq(json("{\"sent_us\":\"x\"}", &v), -1);
    cr_assert_eq(json("{\"sent_us\":", &v), -1);
    cr_assert_eq(json("", &v), -1);
    cr_assert_eq(v, 7);
}

/* The first occurrence wins (the payload may echo the key later). */
Test(loadgen_marker, json_first_marker_wins)
{
    int64_t v = 0;
    cr_assert_eq(json("{\"sent_us\":1,\"x\":{\"sent_us\":2}}", &v), 0);
    cr_assert_eq(v, 1);
}

/* msgpack: each integer encoding of the value is read. */
Test(loadgen_marker, msgpack_reads_every_unsigned_width)
{
    struct {
        uint8_t bytes[17];
        size_t len;
        int64_t want;
    } cases[] = {
        {{0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0x05}, 9, 5},
        {{0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xcc, 0xc8}, 10, 200},
        {{0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xcd, 0x12, 0x34}, 11, 0x1234},
        {{0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xce, 0x89, 0xab, 0xcd, 0xef}, 13, 0x89abcdef},
        {{0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xcf, 0x00, 0x06, 0x44, 0x6b, 0x5c, 0x09, 0x8a,
          0x40},
         17,
         0x0006446b5c098a40},
        {{0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xd3, 0x00, 0x06, 0x44, 0x6b, 0x5c, 0x09, 0x8a,
          0x40},
         17,
         0x0006446b5c098a40},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -1;
        cr_assert_eq(loadgen_marker_find_msgpack(cases[i].bytes, cases[i].len, &v), 0, "case %zu",
                     i);
        cr_assert_eq(v, cases[i].want, "case %zu", i);
    }
}

/* msgpack inside a real EVENT: [36, sub, pub, {}, [], {"seq":1,"sent_us":T}]. */
Test(loadgen_marker, msgpack_marker_in_an_event_is_read)
{
    uint8_t event[] = {0x96, 0x24, 0x01, 0x02, 0x80, 0x90, 0x82, 0xa3, 's', 'e',
                       'q',  0x01, 0xa7, 's',  'e',  'n',  't',  '_',  'u', 's',
                       0xcf, 0x00, 0x06, 0x44, 0x6b, 0x5c, 0x09, 0x8a, 0x40};
    int64_t v = 0;
    cr_assert_eq(loadgen_marker_find_msgpack(event, sizeof(event), &v), 0);
    cr_assert_eq(v, 0x0006446b5c098a40);
}

/* msgpack: a negative, a non-integer or a truncated value is not found. */
Test(loadgen_marker, msgpack_bad_values_are_not_found)
{
    int64_t v = 9;
    uint8_t negative[] = {0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xd0, 0xff};
    cr_assert_eq(loadgen_marker_find_msgpack(negative, sizeof(negative), &v), -1);
    uint8_t text[] = {0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xa1, '1'};
    cr_assert_eq(loadgen_marker_find_msgpack(text, sizeof(text), &v), -1);
    uint8_t cut[] = {0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xce, 0x01, 0x02};
    cr_assert_eq(loadgen_marker_find_msgpack(cut, sizeof(cut), &v), -1);
    uint8_t huge[] = {0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(loadgen_marker_find_msgpack(huge, sizeof(huge), &v), -1);
    uint8_t none[] = {0xa7, 's', 'e', 'n', 't', '_', 'u', 's'};
    cr_assert_eq(loadgen_marker_find_msgpack(none, sizeof(none), &v), -1);
    cr_assert_eq(v, 9);
}

/* Near misses before the marker (other keys, a cut-off key) are skipped;
   a key cut off at the end of the message is not found. */
Test(loadgen_marker, near_misses_are_skipped)
{
    int64_t v = 0;
    cr_assert_eq(json("{\"sent\":1,\"sent_usx\":2,\"\"sent_us\":3}", &v), 0);
    cr_assert_eq(v, 3);
    cr_assert_eq(json("{\"a\":1,\"sent_u", &v), -1);
    uint8_t packed[] = {0xa7, 's', 'e', 'n', 't', '_', 'u', 'x', 0xa7,
                        's',  'e', 'n', 't', '_', 'u', 's', 0x09};
    cr_assert_eq(loadgen_marker_find_msgpack(packed, sizeof(packed), &v), 0);
    cr_assert_eq(v, 9);
}
