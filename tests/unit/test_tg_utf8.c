/*  Unit tests for tg_utf8: the strict UTF-8 check every boundary uses. */
#include "tg_utf8.h"

#include <criterion/criterion.h>

/* The validator accepts the boundaries of each sequence length. */
Test(tg_utf8, accepts_boundary_code_points)
{
    cr_assert(tg_utf8_valid("\x7f", 1));
    cr_assert(tg_utf8_valid("\xc2\x80", 2));
    cr_assert(tg_utf8_valid("\xdf\xbf", 2));
    cr_assert(tg_utf8_valid("\xe0\xa0\x80", 3));
    cr_assert(tg_utf8_valid("\xed\x9f\xbf", 3)); /* U+D7FF */
    cr_assert(tg_utf8_valid("\xee\x80\x80", 3)); /* U+E000 */
    cr_assert(tg_utf8_valid("\xef\xbf\xbf", 3));
    cr_assert(tg_utf8_valid("\xf0\x90\x80\x80", 4));
    cr_assert(tg_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    cr_assert(tg_utf8_valid("a\0b", 3));
    cr_assert_not(tg_utf8_valid("\xc1\xbf", 2));
    cr_assert_not(tg_utf8_valid("\xed\xbf\xbf", 3)); /* U+DFFF */
    cr_assert_not(tg_utf8_valid("\xf0\x90\x80", 3));
}

/* The UTF-8 check accepts every well-formed sequence length and refuses
   overlongs, surrogates, truncation and code points above U+10FFFF. */
Test(tg_utf8, follows_the_standard)
{
    cr_assert(tg_utf8_valid("", 0));
    cr_assert(tg_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    cr_assert(tg_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    cr_assert_not(tg_utf8_valid("\xc1\xbf", 2));
    cr_assert_not(tg_utf8_valid("\xe0\x80\xaf", 3));
    cr_assert_not(tg_utf8_valid("\xf0\x80\x80\xaf", 4));
    cr_assert_not(tg_utf8_valid("\xed\xbf\xbf", 3));
    cr_assert_not(tg_utf8_valid("\xf5\x80\x80\x80", 4));
    cr_assert_not(tg_utf8_valid("\xe2\x82", 2));
    cr_assert_not(tg_utf8_valid("\xff", 1));
}
