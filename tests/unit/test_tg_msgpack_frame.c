/*  Unit tests for tg_msgpack_frame: the framing check that runs before
    msgpack-c allocates anything for untrusted bytes. */
#include "tg_msgpack_frame.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char err[128];

/* Runs the check on a string literal's bytes (without its NUL). */
#define CHECK(bytes, depth, undefined)                                                             \
    tg_msgpack_frame_check(bytes, sizeof(bytes) - 1, depth, undefined, err, sizeof err)

/* One complete value of each family passes: scalars, str, bin, and
   containers nesting them, each exactly filling the input. */
Test(tg_msgpack_frame, complete_values_pass)
{
    cr_assert_eq(CHECK("\xc0", 8, false), 0, "%s", err);                 /* nil */
    cr_assert_eq(CHECK("\xcf\0\0\0\0\0\0\0\1", 8, false), 0, "%s", err); /* uint64 */
    cr_assert_eq(CHECK("\xcb\0\0\0\0\0\0\0\0", 8, false), 0, "%s", err); /* float64 */
    cr_assert_eq(CHECK("\xd9\x02hi", 8, false), 0, "%s", err);           /* str8 */
    cr_assert_eq(CHECK("\xc4\x01\xff", 8, false), 0, "%s", err);         /* bin8 */
    cr_assert_eq(CHECK("\x82\xa1k\x91\x01\xa1j\x80", 8, false), 0, "%s", err);
    cr_assert_eq(CHECK("\xdc\x00\x02\xc2\xc3", 8, false), 0, "%s", err); /* array16 */
}

/* Nothing at all is not a value. */
Test(tg_msgpack_frame, empty_input_is_refused)
{
    cr_assert_eq(tg_msgpack_frame_check("", 0, 8, false, err, sizeof err), -1);
    cr_assert_str_eq(err, "empty msgpack");
}

/* A 5-byte array32 header claiming 2^32 - 1 elements is refused from the
   header alone: msgpack-c would reserve room for all of them. */
Test(tg_msgpack_frame, huge_declared_count_is_refused)
{
    cr_assert_eq(CHECK("\xdd\xff\xff\xff\xff", 8, false), -1);
    cr_assert_str_eq(err, "truncated msgpack (declared length exceeds data)");
    /* str32 of 2^32 - 1 bytes, three present */
    cr_assert_eq(CHECK("\xdb\xff\xff\xff\xff\x61\x62\x63", 8, false), -1);
    cr_assert_str_eq(err, "truncated msgpack (declared length exceeds data)");
}

/* A container count must fit in the bytes left after the siblings still
   owed: in [[1, 2], x] cut after the 2, the inner count fits the bytes
   left, but not once the outer array's second item is owed a byte. */
Test(tg_msgpack_frame, count_that_leaves_no_room_for_siblings_is_refused)
{
    cr_assert_eq(CHECK("\x92\x92\x01\x02", 8, false), -1);
    cr_assert_str_eq(err, "truncated msgpack (declared length exceeds data)");
    cr_assert_eq(CHECK("\x92\x92\x01\x02\x03", 8, false), 0, "%s", err);
}

/* Containers nest at most max_depth deep, the outermost counting 1. */
Test(tg_msgpack_frame, nesting_is_limited_to_max_depth)
{
    cr_assert_eq(CHECK("\x91\x91\x01", 2, false), 0, "%s", err);
    cr_assert_eq(CHECK("\x91\x91\x91\x01", 2, false), -1);
    cr_assert_str_eq(err, "nesting deeper than 2");
}

/* A max_depth above what the check can follow counts as that limit. */
Test(tg_msgpack_frame, max_depth_is_capped)
{
    size_t size = TG_MSGPACK_FRAME_MAX_DEPTH + 2;
    char *bytes = malloc(size);
    cr_assert_not_null(bytes);
    memset(bytes, 0x91, size - 1); /* one more fixarray than the cap */
    bytes[size - 1] = 0x01;
    cr_assert_eq(tg_msgpack_frame_check(bytes, size, 1000, false, err, sizeof err), -1);
    cr_assert_str_eq(err, "nesting deeper than 64");
    cr_assert_eq(tg_msgpack_frame_check(bytes + 1, size - 1, 1000, false, err, sizeof err), 0, "%s",
                 err);
    free(bytes);
}

/* The reserved byte 0xc1 is refused with its offset. */
Test(tg_msgpack_frame, reserved_byte_is_refused)
{
    cr_assert_eq(CHECK("\x92\x01\xc1", 8, false), -1);
    cr_assert_str_eq(err, "invalid msgpack byte 0xc1 at offset 2");
}

/* Bytes after the value are refused with the offset where they start. */
Test(tg_msgpack_frame, trailing_bytes_are_refused)
{
    cr_assert_eq(CHECK("\x91\x01\x02", 8, false), -1);
    cr_assert_str_eq(err, "trailing bytes after msgpack value at offset 2");
}

/* Ext types are refused; allow_undefined lets exactly msgpackr's
   `undefined` (d4 00 00) through and no other ext. */
Test(tg_msgpack_frame, only_undefined_ext_passes_and_only_when_allowed)
{
    cr_assert_eq(CHECK("\x91\xd4\x00\x00", 8, false), -1);
    cr_assert_str_eq(err, "msgpack ext type not allowed at depth 1");
    cr_assert_eq(CHECK("\x91\xd4\x00\x00", 8, true), 0, "%s", err);
    cr_assert_eq(CHECK("\x91\xd4\x01\x00", 8, true), -1); /* ext type 1 */
    cr_assert_eq(CHECK("\x91\xd4\x00\x01", 8, true), -1); /* data byte 1 */
    cr_assert_eq(CHECK("\xc7\x01\x00\x00", 8, true), -1); /* ext8 of one byte */
    cr_assert_str_eq(err, "msgpack ext type not allowed at depth 0");
}

/* Callers that only want the verdict may pass no error buffer. */
Test(tg_msgpack_frame, error_buffer_is_optional)
{
    cr_assert_eq(tg_msgpack_frame_check("\xc1", 1, 8, false, NULL, 0), -1);
    cr_assert_eq(tg_msgpack_frame_check("\xc0", 1, 8, false, NULL, 0), 0);
}
