/*  tg_body: rules for an event's data (the msgpack map that travels as the
    EVENT body), shared by ingest (which validates) and edge (which converts
    it to JSON for wamp.2.json sessions).

    Accepted: a map whose keys are UTF-8 strings without NUL; values nil,
    bool, integers (int64 range, or uint64 up to INT64_MAX... see docs),
    floats (finite), UTF-8 strings, binary, arrays and maps of those, nested
    at most TG_BODY_MAX_DEPTH. Rejected: ext types, invalid UTF-8, non-string
    keys, NUL in keys, duplicate keys, NaN/Infinity, integers above
    INT64_MAX, trailing bytes.
*/
#ifndef TG_BODY_H
#define TG_BODY_H

#include <jansson.h>
#include <stdbool.h>
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
   as WAMP's JSON binary convention: a string "\u0000" + base64). The text
   is written straight from the msgpack bytes, byte for byte what jansson
   dumps for tg_body_to_json_value() with JSON_COMPACT |
   JSON_REAL_PRECISION(17) (see tg_json_write.h). data and out stay the
   caller's; nothing is allocated but out's growth. Returns 0, or -1 (out
   as it was) if data is not a valid body: the inputs tg_body_validate()
   refuses. */
int tg_body_to_json(const void *data, size_t size, tg_buf_t *out);

/* Converts a validated body to a new jansson object (caller owns), e.g. to
   embed it in a larger message. NULL if data is not a valid body. */
json_t *tg_body_to_json_value(const void *data, size_t size);

/* Helpers shared with tg_wamp (both walk untrusted msgpack). */

/* Converts one msgpack value of any type to a new jansson value (caller
   owns) under the body rules: framing as tg_msgpack_frame_check(), map
   keys UTF-8 strings without NUL or duplicates, strings strict UTF-8
   (tg_utf8_valid()), integers in int64 range, floats finite, bin -> WAMP
   binary string. NULL with a reason in err otherwise. tg_wamp decodes
   wamp.2.msgpack messages with it. */
json_t *tg_body_msgpack_to_json(const void *data, size_t size, int max_depth, char *err,
                                size_t errlen);

/* Flags of tg_body_msgpack_to_json_flags(). */
/* msgpackr (wampy's msgpack serializer) packs a JavaScript `undefined`
   as fixext1 with ext type 0 and data byte 0 (d4 00 00), e.g. in SUBSCRIBE
   options {match: undefined}. With this flag exactly that value reads as
   "absent": a map entry holding it is dropped, anywhere else it is null.
   Every other ext stays refused. Never used for event bodies. */
#define TG_BODY_UNDEFINED_AS_ABSENT 1u

/* tg_body_msgpack_to_json() with flags (0 = the same rules). Caller owns
   the result; NULL with a reason in err. */
json_t *tg_body_msgpack_to_json_flags(const void *data, size_t size, int max_depth, unsigned flags,
                                      char *err, size_t errlen);

/* A jansson string holding binary data per WAMP's JSON convention: "\0"
   followed by the base64 of data. Caller owns the result. */
json_t *tg_body_binary_to_json(const void *data, size_t len);

#endif
