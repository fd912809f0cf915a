/*  tg_utf8: the one strict UTF-8 check of the gateway.

    Every text that crosses a trust boundary goes through it: WAMP JSON
    messages, msgpack strings and map keys of event bodies and WAMP
    messages, envelope strings, event type names and fields, and the text
    telegraphy-ctl sends. Strict means what RFC 3629 allows and nothing
    else, so that every process and every client agrees on what a string
    is (a lenient decoder elsewhere would read an overlong '/' or '"').
*/
#ifndef TG_UTF8_H
#define TG_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when data[0..len) is well-formed UTF-8: no overlong forms, no
   surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no stray or missing
   continuation bytes. NUL bytes are valid UTF-8: callers that need C
   strings check for them separately. data may be NULL when len is 0. */
bool tg_utf8_valid(const void *data, size_t len);

#endif
