/*  tg_body: rules for an event's data (the msgpack map that travels as the
    EVENT body), shared by ingest (which validates) and edge (which converts
    it to JSON for wamp.2.json sessions).

    Accepted: a map whose keys are UTF-8 strings; values nil, bool, integers
    (int64 range, or uint64 up to INT64_MAX... see docs), floats (finite),
    UTF-8 strings, binary, arrays and maps of those, nested at most
    TG_BODY_MAX_DEPTH. Rejected: ext types, invalid UTF-8, non-string keys,
    NaN/Infinity, integers above INT64_MAX, trailing bytes.
*/
#ifndef TG_BODY_H
#define TG_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_event_type.h"

#define TG_BODY_MAX_DEPTH 32

/* Validates `data` as an event body. If type is not NULL and has_fields, the
   top-level keys must be exactly type->fields (missing or extra keys are an
   error naming the first such key). Returns 0, or -1 with a human message
   written into err (NUL-terminated, at most errlen bytes), e.g.
   "missing field: carrier" or "invalid UTF-8 in string at depth 2". */
int tg_body_validate(const void *data, size_t size, const tg_event_type_t *type, char *err,
                     size_t errlen);

/* Appends the JSON text of a validated body to out (compact, UTF-8; binary
   as WAMP's JSON binary convention: a string "\u0000" + base64). Conversion
   goes through jansson. Returns 0, or -1 if data is not a valid body. */
int tg_body_to_json(const void *data, size_t size, tg_buf_t *out);

#endif
