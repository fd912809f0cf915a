/*  loadgen_wamp: the few WAMP v2 messages a benchmark subscriber needs.

    The client sends two messages per connection, the same bytes for every
    connection: HELLO [1, realm, {"roles":{"subscriber":{}},
    "authmethods":["anonymous"]}] and SUBSCRIBE [32, request, {}, topic];
    with a ticket, HELLO asks for ["ticket"] and the CHALLENGE is answered
    AUTHENTICATE [5, ticket, {}]; a persistent subscription's SUBSCRIBE has
    the options {"_persistent": true}. They are encoded once per run
    (lib/tg_wamp's encoder). What comes back is
    only classified by its message type (the first array element), which
    is all the receive loop pays for per message.
*/
#ifndef LOADGEN_WAMP_H
#define LOADGEN_WAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_buf.h"
#include "tg_wamp.h" /* the message types (TG_WAMP_HELLO ...) and the encoder */

typedef enum {
    LOADGEN_PROTO_RAW = 0,     /* plain WebSocket: every message counts */
    LOADGEN_PROTO_WAMP_JSON,   /* wamp.2.json, text frames */
    LOADGEN_PROTO_WAMP_MSGPACK /* wamp.2.msgpack, binary frames */
} loadgen_proto_t;

/* The subprotocol to offer, NULL for raw. */
const char *loadgen_wamp_subprotocol(loadgen_proto_t proto);

/* Appends HELLO / SUBSCRIBE in proto's serialization to out (reset
   first). 0, or -1 for raw (no WAMP) or an encoder failure. */
int loadgen_wamp_hello(loadgen_proto_t proto, const char *realm, tg_buf_t *out);
int loadgen_wamp_subscribe(loadgen_proto_t proto, uint64_t request, const char *topic,
                           tg_buf_t *out);
/* HELLO asking for ticket authentication (authmethods ["ticket"]). */
int loadgen_wamp_hello_ticket(loadgen_proto_t proto, const char *realm, tg_buf_t *out);
/* AUTHENTICATE [5, ticket, {}]: the answer to the edge's CHALLENGE. */
int loadgen_wamp_authenticate(loadgen_proto_t proto, const char *ticket, tg_buf_t *out);
/* SUBSCRIBE with options {"_persistent": true} when persistent. */
int loadgen_wamp_subscribe_options(loadgen_proto_t proto, uint64_t request, const char *topic,
                                   bool persistent, tg_buf_t *out);

/* The message type of a received message (JSON: "[" then an integer,
   spaces allowed; msgpack: an array header then a positive fixint), or -1
   when the bytes do not start like a WAMP message. Reads at most the
   first dozen bytes. */
int loadgen_wamp_type(loadgen_proto_t proto, const uint8_t *data, size_t len);

#endif
