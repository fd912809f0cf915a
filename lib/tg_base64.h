/*  tg_base64: base64 (RFC 4648) in its two alphabets.

    Standard base64 with padding is WAMP's JSON convention for binary
    values (tg_body, tg_wamp); base64url without padding is the token
    encoding (tg_token). One character table and one encoding loop serve
    both; the decoders keep their own rules: the standard one is lenient
    (padding optional), base64url is strict (one accepted text per byte
    string).
*/
#ifndef TG_BASE64_H
#define TG_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"

/* Standard base64 (RFC 4648, with padding), as WAMP's binary convention
   uses. Encode appends to out. Decode appends to out and returns 0, or -1
   (out unchanged) on a character outside the alphabet or bad padding;
   unpadded input is accepted. */
void tg_base64_encode(const void *data, size_t len, tg_buf_t *out);
int tg_base64_decode(const char *text, size_t len, tg_buf_t *out);

/* base64url without padding. encode: caller owns the result (free).
   decode: writes at most *out_len bytes into out, sets *out_len; -1 on any
   character outside the alphabet, padding, or an impossible length. */
char *tg_base64url_encode(const void *data, size_t len);
int tg_base64url_decode(const char *text, size_t len, uint8_t *out, size_t *out_len);

/* True when every one of len characters is in the base64url alphabet. */
bool tg_base64url_text_valid(const char *text, size_t len);

#endif
