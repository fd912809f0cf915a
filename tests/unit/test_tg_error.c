/*  Unit tests for tg_error: the refusal text of lib's parsers. */
#include "tg_error.h"

#include <criterion/criterion.h>
#include <string.h>

/* The text is formatted into the buffer. */
Test(tg_error, formats_into_the_buffer)
{
    char err[64] = "old";
    tg_error_set(err, sizeof err, "bad %s at depth %d", "key", 3);
    cr_assert_str_eq(err, "bad key at depth 3");
}

/* A text longer than the buffer is cut and still NUL-terminated, and
   nothing is written past errlen. */
Test(tg_error, long_text_is_cut_and_terminated)
{
    char err[8];
    memset(err, 'x', sizeof err);
    tg_error_set(err, 5, "%s", "abcdefgh");
    cr_assert_str_eq(err, "abcd");
    cr_assert_eq(err[5], 'x');
}

/* No buffer, or one of size 0, is left alone: callers that only want the
   verdict pass none. */
Test(tg_error, no_buffer_is_a_no_op)
{
    tg_error_set(NULL, 16, "ignored %d", 1);
    char err[4] = "abc";
    tg_error_set(err, 0, "ignored");
    cr_assert_str_eq(err, "abc");
}
