/*  Unit tests for tg_json_write: each JSON piece is the text jansson
    dumps for the same value with the gateway's flags. */
#include "tg_json_write.h"

#include <criterion/criterion.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JANSSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))

/* jansson's text for value (stolen), NUL-terminated; caller frees. */
static char *s_jansson(json_t *value)
{
    cr_assert_not_null(value);
    char *text = json_dumps(value, JANSSON_FLAGS);
    json_decref(value);
    cr_assert_not_null(text);
    return text;
}

/* Asserts that out holds exactly `expected` (NUL-terminated) and empties
   it. */
static void s_expect(tg_buf_t *out, const char *expected, const char *what)
{
    size_t len = strlen(expected);
    cr_assert(out->len == len && memcmp(tg_buf_payload(out), expected, len) == 0,
              "%s: expected %s, wrote %.*s", what, expected, (int)out->len,
              (const char *)tg_buf_payload(out));
    tg_buf_reset(out);
}

/* xorshift64*: the same sequence on every machine. */
static uint64_t s_state = 0x2545f4914f6cdd1dULL;
static uint64_t s_rand(void)
{
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 0x2545f4914f6cdd1dULL;
}

/* Quotes and backslashes are escaped, control characters become the
   short escapes or upper-case \u00XX, and '/', DEL and non-ASCII
   (U+2028, an emoji) stay as they are. */
Test(tg_json_write, string_escapes_as_jansson_does)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    tg_json_write_string(&out, "a\"b\\c/d", 7);
    s_expect(&out, "\"a\\\"b\\\\c/d\"", "quote, backslash, slash");
    tg_json_write_string(&out, "\b\f\n\r\t\x01\x1f\x7f", 8);
    s_expect(&out, "\"\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\"", "control characters");
    tg_json_write_string(&out, "\0x", 2);
    s_expect(&out, "\"\\u0000x\"", "NUL");
    tg_json_write_string(&out, "\xe2\x80\xa8\xf0\x9f\x98\x80\xc3\xa9", 9);
    s_expect(&out, "\"\xe2\x80\xa8\xf0\x9f\x98\x80\xc3\xa9\"", "non-ASCII");
    tg_json_write_string(&out, NULL, 0);
    s_expect(&out, "\"\"", "empty");
    tg_buf_release(&out);
}

/* Every ASCII byte, alone and between letters, is written as jansson
   writes it. */
Test(tg_json_write, every_ascii_byte_matches_jansson)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    for (int c = 0; c < 0x80; c++) {
        char text[3] = {'a', (char)c, 'b'};
        for (int alone = 0; alone < 2; alone++) {
            const char *start = alone ? text + 1 : text;
            size_t len = alone ? 1 : 3;
            char *expected = s_jansson(json_stringn(start, len));
            tg_json_write_string(&out, start, len);
            s_expect(&out, expected, "ascii byte");
            free(expected);
        }
    }
    tg_buf_release(&out);
}

/* Integers are "%lld", the int64 extremes included. */
Test(tg_json_write, integers_match_jansson)
{
    static const int64_t values[] = {
        0,    1,         -1,        9,          10,        -10,       127,
        -128, INT32_MAX, INT32_MIN, UINT32_MAX, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    tg_buf_t out;
    tg_buf_init(&out, 0);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char *expected = s_jansson(json_integer(values[i]));
        tg_json_write_integer(&out, values[i]);
        s_expect(&out, expected, "integer");
        free(expected);
    }
    tg_json_write_integer(&out, INT64_MIN);
    s_expect(&out, "-9223372036854775808", "INT64_MIN");
    for (int i = 0; i < 10000; i++) {
        int64_t value = (int64_t)(s_rand() >> (s_rand() % 64));
        value = (s_rand() & 1) ? value : -value;
        char *expected = s_jansson(json_integer(value));
        tg_json_write_integer(&out, value);
        s_expect(&out, expected, "random integer");
        free(expected);
    }
    tg_buf_release(&out);
}

/* Reals are "%.17g" with ".0" on integral values and a bare exponent:
   the texts clients have always received. */
Test(tg_json_write, reals_keep_jansson_format)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {0.1, "0.10000000000000001"},
        {1.0, "1.0"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {1e300, "1.0000000000000001e300"},
        {1e-5, "1.0000000000000001e-5"},
        {1e16, "10000000000000000.0"},
        {1e17, "1e17"},
        {5e-324, "4.9406564584124654e-324"},
        {-2.2250738585072014e-308, "-2.2250738585072014e-308"},
        {1.5, "1.5"},
        {DBL_MAX, "1.7976931348623157e308"},
    };
    tg_buf_t out;
    tg_buf_init(&out, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(tg_json_write_real(&out, cases[i].value), 0);
        s_expect(&out, cases[i].text, "real");
        char *expected = s_jansson(json_real(cases[i].value));
        cr_assert_str_eq(expected, cases[i].text);
        free(expected);
    }
    tg_buf_release(&out);
}

/* Random bit patterns, read as doubles and as floats widened to double,
   are written as jansson writes them (non-finite ones are skipped here:
   see the next test). */
Test(tg_json_write, random_reals_match_jansson)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    int compared = 0;
    for (int i = 0; i < 40000; i++) {
        uint64_t bits = s_rand();
        double value;
        if (i % 2) {
            memcpy(&value, &bits, sizeof value);
        } else {
            uint32_t low = (uint32_t)bits;
            float f;
            memcpy(&f, &low, sizeof f);
            value = f;
        }
        if (!isfinite(value))
            continue;
        char *expected = s_jansson(json_real(value));
        cr_assert_eq(tg_json_write_real(&out, value), 0);
        s_expect(&out, expected, "random real");
        free(expected);
        compared++;
    }
    cr_assert_gt(compared, 39000);
    tg_buf_release(&out);
}

/* NaN and the infinities have no JSON text: -1 and nothing written. */
Test(tg_json_write, non_finite_reals_are_refused)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    tg_buf_append_str(&out, "x");
    cr_assert_eq(tg_json_write_real(&out, NAN), -1);
    cr_assert_eq(tg_json_write_real(&out, INFINITY), -1);
    cr_assert_eq(tg_json_write_real(&out, -INFINITY), -1);
    cr_assert_eq(out.len, 1);
    tg_buf_release(&out);
}

/* Binary is a string holding NUL and the padded base64 of the bytes. */
Test(tg_json_write, binary_follows_the_wamp_convention)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    tg_json_write_binary(&out, "\x01\x02\x03\xff", 4);
    s_expect(&out, "\"\\u0000AQID/w==\"", "binary");
    tg_json_write_binary(&out, NULL, 0);
    s_expect(&out, "\"\\u0000\"", "empty binary");
    tg_buf_release(&out);
}

/* Pieces append after what the buffer holds. */
Test(tg_json_write, pieces_append)
{
    tg_buf_t out;
    tg_buf_init(&out, 8);
    tg_buf_append_byte(&out, '[');
    tg_json_write_integer(&out, -3);
    tg_buf_append_byte(&out, ',');
    tg_json_write_string(&out, "s", 1);
    tg_buf_append_byte(&out, ',');
    cr_assert_eq(tg_json_write_real(&out, 2.0), 0);
    tg_buf_append_byte(&out, ']');
    s_expect(&out, "[-3,\"s\",2.0]", "array");
    tg_buf_release(&out);
}
