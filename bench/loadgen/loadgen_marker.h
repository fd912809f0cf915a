/*  loadgen_marker: finds the publisher's timestamp in a received message.

    Every benchmark payload carries "sent_us":<integer> (µs since the Unix
    epoch, CLOCK_REALTIME, taken by the publisher just before publishing).
    The load client does not parse messages: it looks for the first
    occurrence of the key's bytes and reads the integer after it. In JSON
    text that is the bytes `"sent_us":` then optional spaces and digits; in
    msgpack the fixstr 0xa7 "sent_us" then an integer (positive fixint,
    uint8/16/32/64, or a non-negative int8/16/32/64).
*/
#ifndef LOADGEN_MARKER_H
#define LOADGEN_MARKER_H

#include <stddef.h>
#include <stdint.h>

/* Sets *sent_us and returns 0 when a marker is found in the JSON text,
   -1 when there is none or no digits follow it (bad bytes never crash). */
int loadgen_marker_find_json(const uint8_t *data, size_t len, int64_t *sent_us);

/* Same for msgpack bytes. */
int loadgen_marker_find_msgpack(const uint8_t *data, size_t len, int64_t *sent_us);

#endif
