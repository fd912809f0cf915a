/*  tg_error: the refusal text of lib's parsers.

    The parsers of untrusted bytes (tg_body, tg_msgpack_frame, tg_wamp) do
    not log: they say why they refused in a buffer the caller passes as
    (char *err, size_t errlen), and the caller decides what becomes of it
    (a rate-limited log line, a WAMP ABORT or ERROR, a REJECTED message).
*/
#ifndef TG_ERROR_H
#define TG_ERROR_H

#include <stddef.h>

/* Writes the formatted text into err, cut to errlen - 1 bytes and always
   NUL-terminated. Does nothing when err is NULL or errlen is 0, so callers
   that only want the verdict may pass no buffer. */
void tg_error_set(char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
