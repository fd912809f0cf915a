/*  ctl_kwargs: `telegraphy-ctl publish --kwargs JSON` -> the event body.

    The JSON text (an object) is parsed with jansson and re-encoded as a
    msgpack map with msgpack-c, keeping every value's kind: integers stay
    integers (the whole int64 range), reals stay floats, strings are UTF-8
    (NUL included), null, booleans, arrays and objects nest, and object keys
    keep their order.
*/
#ifndef CTL_KWARGS_H
#define CTL_KWARGS_H

#include <czmq.h>
#include <stddef.h>

/* Caller owns the result: a frame holding the msgpack map. Returns NULL
   when the text is not valid JSON or not an object; err (if not NULL)
   then receives jansson's message with its position, e.g.
   "invalid --kwargs JSON: unexpected token near '}' (line 1, column 9)". */
zframe_t *ctl_kwargs_to_msgpack(const char *json_text, char *err, size_t errlen);

#endif
