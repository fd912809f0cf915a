/*  tg_msgpack_frame: the framing check that runs before msgpack-c sees
    untrusted bytes.

    msgpack-c's unpacker reserves a container's declared size up front: a
    5-byte array header claiming 2^32 elements would make it allocate tens
    of gigabytes before noticing that the elements are not there. This pass
    walks the bytes without allocating and refuses what msgpack-c must not
    be given, so that what it allocates stays a small multiple of the input.
    tg_body runs it before converting event bodies and wamp.2.msgpack
    messages.
*/
#ifndef TG_MSGPACK_FRAME_H
#define TG_MSGPACK_FRAME_H

#include <stdbool.h>
#include <stddef.h>

/* The deepest nesting the check can follow; a larger max_depth counts as
   this. */
#define TG_MSGPACK_FRAME_MAX_DEPTH 64

/* Checks the framing of exactly one msgpack value in data[0..size):
   every declared length fits in the remaining bytes (and every declared
   container count could be satisfied by them), containers nest at most
   max_depth deep (the outermost counts 1), no ext types, no reserved byte
   0xc1, no bytes after the value. With allow_undefined, msgpackr's
   `undefined` (fixext1 of ext type 0 holding the byte 0: d4 00 00) passes
   as a value; every other ext is still refused. Returns 0, or -1 with the
   reason in err (see tg_error.h), e.g. "truncated msgpack (declared length
   exceeds data)". */
int tg_msgpack_frame_check(const void *data, size_t size, int max_depth, bool allow_undefined,
                           char *err, size_t errlen);

#endif
