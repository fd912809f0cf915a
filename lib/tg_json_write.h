/*  tg_json_write: JSON text appended straight to a tg_buf.

    The pieces of a JSON text (strings, integers, reals, WAMP binary),
    written byte for byte as jansson 2.14's json_dump_callback() writes
    them with JSON_COMPACT | JSON_REAL_PRECISION(17), the flags of every
    JSON text the gateway sends. tg_body renders event bodies with it
    without building a jansson tree; the result is the same text a client
    got when the body went through jansson.

    Punctuation ({ } [ ] , : null true false) needs no helper: the caller
    appends it. Every function appends to `out` and reads its input bytes;
    both stay the caller's and nothing is kept. Nothing here allocates
    beyond the buffer's own growth.
*/
#ifndef TG_JSON_WRITE_H
#define TG_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"

/* Appends `text` (len bytes, already checked to be valid UTF-8 by
   tg_utf8_valid(); NUL allowed) as a JSON string: quoted, with '"' and
   '\\' escaped, \b \f \n \r \t as such, every other byte below 0x20 as
   \u00XX (upper-case hex), and everything else, '/' and non-ASCII
   included, as it is. text may be NULL when len is 0. */
void tg_json_write_string(tg_buf_t *out, const void *text, size_t len);

/* Appends value in decimal ("%lld"). */
void tg_json_write_integer(tg_buf_t *out, int64_t value);

/* Appends a finite double as "%.17g" (round-trips exactly) with a '.'
   as decimal point whatever the locale, ".0" appended when the text has
   neither '.' nor 'e' (so that 1.0 reads back as a real), and the
   exponent without '+' or leading zeros (1e300, 1e-5). Returns 0, or -1
   (out unchanged) for NaN and infinities, which JSON cannot carry. */
int tg_json_write_real(tg_buf_t *out, double value);

/* Appends binary data per WAMP's JSON convention: a string holding NUL
   followed by the standard base64 (padded) of data, i.e. "\u0000AQID". */
void tg_json_write_binary(tg_buf_t *out, const void *data, size_t len);

#endif
