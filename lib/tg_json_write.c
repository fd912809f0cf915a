/*  tg_json_write: JSON pieces in jansson's format, see tg_json_write.h.

    jansson 2.14 (src/dump.c dump_string(), src/strconv.c jsonp_dtostr())
    is the reference for every rule here:
    - strings: only '"', '\\' and code points below 0x20 are escaped
      (without JSON_ESCAPE_SLASH and JSON_ENSURE_ASCII). In valid UTF-8
      those are single bytes that never occur inside a multi-byte
      sequence, so the escaping works on bytes without decoding code
      points;
    - integers: "%lld";
    - reals: snprintf "%.17g", the locale's decimal point turned into '.',
      ".0" appended to integral values, the exponent's '+' and leading
      zeros dropped.
    tests/unit/test_tg_json_write.c compares each piece with jansson.
*/
#include "tg_json_write.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tg_base64.h"

/* For each byte: 0 when it is written as it is, else the character after
   the backslash of its escape ('u' for \u00XX). */
static const char s_escape[256] = {
    ['\0'] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u',  [0x04] = 'u', [0x05] = 'u',
    [0x06] = 'u', [0x07] = 'u', ['\b'] = 'b', ['\t'] = 't',  ['\n'] = 'n', [0x0B] = 'u',
    ['\f'] = 'f', ['\r'] = 'r', [0x0E] = 'u', [0x0F] = 'u',  [0x10] = 'u', [0x11] = 'u',
    [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u',  [0x16] = 'u', [0x17] = 'u',
    [0x18] = 'u', [0x19] = 'u', [0x1A] = 'u', [0x1B] = 'u',  [0x1C] = 'u', [0x1D] = 'u',
    [0x1E] = 'u', [0x1F] = 'u', ['"'] = '"',  ['\\'] = '\\',
};

static const char s_hex[] = "0123456789ABCDEF";

/* Appends text[from..len) escaped, then the closing quote. */
static void s_write_escaped(tg_buf_t *out, const uint8_t *text, size_t from, size_t len)
{
    size_t done = from; /* bytes of text already appended */
    for (size_t i = from; i < len; i++) {
        char escape = s_escape[text[i]];
        if (!escape)
            continue;
        tg_buf_append(out, text + done, i - done);
        if (escape == 'u') {
            char seq[6] = {'\\', 'u', '0', '0', s_hex[text[i] >> 4], s_hex[text[i] & 0x0F]};
            tg_buf_append(out, seq, sizeof seq);
        } else {
            char seq[2] = {'\\', escape};
            tg_buf_append(out, seq, sizeof seq);
        }
        done = i + 1;
    }
    tg_buf_append(out, text + done, len - done);
    tg_buf_append_byte(out, '"');
}

/* Most strings need no escape: room for the quoted text is reserved at
   once and the bytes copied as they are checked; the first byte that
   needs an escape hands the rest over to s_write_escaped(). */
void tg_json_write_string(tg_buf_t *out, const void *text, size_t len)
{
    const uint8_t *bytes = text;
    size_t start = out->len;
    uint8_t *at = tg_buf_reserve(out, len + 2);
    *at++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (s_escape[bytes[i]]) {
            tg_buf_truncate(out, start + 1 + i);
            s_write_escaped(out, bytes, i, len);
            return;
        }
        at[i] = bytes[i];
    }
    at[len] = '"';
}

void tg_json_write_integer(tg_buf_t *out, int64_t value)
{
    char text[20]; /* INT64_MIN: a sign and 19 digits */
    size_t start = sizeof text;
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        text[--start] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0)
        text[--start] = '-';
    tg_buf_append(out, text + start, sizeof text - start);
}

int tg_json_write_real(tg_buf_t *out, double value)
{
    if (!isfinite(value))
        return -1;
    /* The longest: "-2.2250738585072014e-308", 24 characters. */
    char text[32];
    int printed = snprintf(text, sizeof text - 2, "%.17g", value);
    if (printed < 0 || (size_t)printed >= sizeof text - 2)
        return -1; /* cannot happen for a finite double */
    size_t len = (size_t)printed;
    const char *point = localeconv()->decimal_point;
    if (*point != '.') {
        char *at = strchr(text, *point);
        if (at)
            *at = '.';
    }
    char *exponent = strchr(text, 'e');
    if (exponent) {
        /* printf writes a sign and at least two digits: drop the '+' and
           the leading zeros, "e+05" -> "e5", "e-05" -> "e-5". */
        char *keep = exponent + 1; /* where the digits go */
        char *from = exponent + 2; /* the first digit */
        if (*keep == '-')
            keep++;
        while (*from == '0')
            from++;
        memmove(keep, from, (size_t)(text + len - from));
        len -= (size_t)(from - keep);
    } else if (!strchr(text, '.')) {
        text[len++] = '.';
        text[len++] = '0';
    }
    tg_buf_append(out, text, len);
    return 0;
}

void tg_json_write_binary(tg_buf_t *out, const void *data, size_t len)
{
    tg_buf_append(out, "\"\\u0000", 7);
    tg_base64_encode(data, len, out);
    tg_buf_append_byte(out, '"');
}
