/*  tg_utf8: strict UTF-8 validation, see tg_utf8.h.

    Table 3-7 of the Unicode standard ("well-formed UTF-8 byte sequences")
    written as code: the lead byte fixes the sequence length and the range
    of the second byte, which is where overlong forms, surrogates and code
    points above U+10FFFF are told apart; later bytes are plain
    continuation bytes. No code point is decoded.
*/
#include "tg_utf8.h"

#include <stdint.h>

bool tg_utf8_valid(const void *data, size_t len)
{
    const uint8_t *s = data;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0xC2)
            return false; /* stray continuation byte or overlong 2-byte form */
        else if (c < 0xE0)
            need = 1;
        else if (c < 0xF0) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong 3-byte form */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c < 0xF5) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong 4-byte form */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else
            return false; /* above U+10FFFF, or not a UTF-8 byte at all */
        if (len - i - 1 < need)
            return false; /* truncated sequence */
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}
