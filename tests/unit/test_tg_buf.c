/*  Unit tests for tg_buf: the growable byte buffer with headroom. */
#include "tg_buf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Appended bytes come back in order, after the headroom. */
Test(tg_buf, append_places_bytes_after_the_headroom)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 16);
    tg_buf_append(&buf, "abc", 3);
    tg_buf_append(&buf, "def", 3);
    cr_assert_eq(buf.len, 6);
    cr_assert_eq(tg_buf_payload(&buf), buf.data + 16);
    cr_assert_arr_eq(tg_buf_payload(&buf), "abcdef", 6);
    tg_buf_release(&buf);
}

/* A fresh buffer already has a usable payload pointer (the edge writes
   LWS_PRE bytes before it even for a small frame). */
Test(tg_buf, fresh_buffer_has_a_payload_pointer)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 16);
    cr_assert_not_null(tg_buf_payload(&buf));
    cr_assert_eq(buf.len, 0);
    tg_buf_release(&buf);
}

/* Many small appends keep every byte and grow geometrically: capacity
   stays within a factor of two of the payload. */
Test(tg_buf, many_appends_keep_every_byte_and_grow_geometrically)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 8);
    for (int i = 0; i < 100000; i++) {
        uint8_t byte = (uint8_t)(i * 7);
        tg_buf_append(&buf, &byte, 1);
    }
    cr_assert_eq(buf.len, 100000);
    cr_assert_leq(buf.cap, 2 * buf.len);
    for (int i = 0; i < 100000; i++)
        cr_assert_eq(tg_buf_payload(&buf)[i], (uint8_t)(i * 7));
    tg_buf_release(&buf);
}

/* Reset empties the payload but keeps the allocation for reuse. */
Test(tg_buf, reset_keeps_the_memory)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 4);
    tg_buf_append(&buf, "hello world", 11);
    uint8_t *data = buf.data;
    size_t cap = buf.cap;
    tg_buf_reset(&buf);
    cr_assert_eq(buf.len, 0);
    cr_assert_eq(buf.data, data);
    cr_assert_eq(buf.cap, cap);
    tg_buf_append(&buf, "x", 1);
    cr_assert_eq(tg_buf_payload(&buf)[0], 'x');
    tg_buf_release(&buf);
}

/* Detach hands over the allocation (headroom included) and the payload
   length; the buffer stays usable afterwards. */
Test(tg_buf, detach_moves_the_allocation_out)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 10);
    tg_buf_append(&buf, "payload", 7);
    size_t len = 0;
    uint8_t *data = tg_buf_detach(&buf, &len);
    cr_assert_eq(len, 7);
    cr_assert_arr_eq(data + 10, "payload", 7);
    cr_assert_eq(buf.len, 0);
    cr_assert_null(buf.data);
    free(data);
    tg_buf_append(&buf, "again", 5);
    cr_assert_arr_eq(tg_buf_payload(&buf), "again", 5);
    tg_buf_release(&buf);
}

/* Release is safe twice, and a released buffer can be initialised again. */
Test(tg_buf, release_twice_then_init_again)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    tg_buf_append(&buf, "a", 1);
    tg_buf_release(&buf);
    tg_buf_release(&buf);
    tg_buf_init(&buf, 3);
    tg_buf_append(&buf, "b", 1);
    cr_assert_eq(tg_buf_payload(&buf)[0], 'b');
    tg_buf_release(&buf);
}

/* Reserve extends the payload in place; truncate rolls it back and never
   grows it. */
Test(tg_buf, reserve_then_truncate_roll_back)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 2);
    tg_buf_append_str(&buf, "ab");
    uint8_t *at = tg_buf_reserve(&buf, 3);
    memcpy(at, "cde", 3);
    tg_buf_append_byte(&buf, 'f');
    cr_assert_arr_eq(tg_buf_payload(&buf), "abcdef", 6);
    tg_buf_truncate(&buf, 2);
    cr_assert_eq(buf.len, 2);
    tg_buf_truncate(&buf, 50);
    cr_assert_eq(buf.len, 2);
    tg_buf_release(&buf);
}

/* Appending zero bytes (even from NULL) changes nothing. */
Test(tg_buf, empty_append_is_a_no_op)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    tg_buf_append(&buf, NULL, 0);
    cr_assert_eq(buf.len, 0);
    tg_buf_release(&buf);
}
