/*  loadgen_ws: the client half of RFC 6455, without I/O.

    Frames are parsed in place (the payload points into the caller's
    buffer: no copy, no allocation); client frames are encoded masked into
    a caller's buffer. The opening handshake is a request formatter and a
    response checker (status 101, Upgrade, Connection, the
    Sec-WebSocket-Accept derived from our key with SHA-1, and the
    subprotocol we asked for). Bad bytes from the server are a -1, never an
    assert.
*/
#ifndef LOADGEN_WS_H
#define LOADGEN_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOADGEN_WS_OP_CONTINUATION 0x0
#define LOADGEN_WS_OP_TEXT         0x1
#define LOADGEN_WS_OP_BINARY       0x2
#define LOADGEN_WS_OP_CLOSE        0x8
#define LOADGEN_WS_OP_PING         0x9
#define LOADGEN_WS_OP_PONG         0xa

/* Longest client frame header: 2 + 8 (64-bit length) + 4 (mask key). */
#define LOADGEN_WS_MAX_HEADER 14
/* Length of a Sec-WebSocket-Key (base64 of 16 bytes) and of an Accept
   (base64 of a SHA-1), without the NUL. */
#define LOADGEN_WS_KEY_LEN    24
#define LOADGEN_WS_ACCEPT_LEN 28

typedef struct {
    bool fin;               /* last frame of its message */
    uint8_t opcode;         /* LOADGEN_WS_OP_* */
    const uint8_t *payload; /* points into the parsed buffer */
    size_t payload_len;     /* bytes at payload */
    size_t frame_len;       /* header + payload: where the next frame starts */
} loadgen_ws_frame_t;

/* Parses the server frame at the start of data.
   1: a complete frame, *frame filled.
   0: more bytes needed; frame->frame_len is the whole frame's length once
      the header is complete (lets the caller read enough), else 0.
   -1: protocol error: a masked frame (servers never mask), RSV bits
      without an extension, an unknown opcode, a fragmented or over-long
      control frame, a 64-bit length with its top bit set, or a payload
      over max_payload. */
int loadgen_ws_frame_parse(const uint8_t *data, size_t len, size_t max_payload,
                           loadgen_ws_frame_t *frame);

/* Writes one final (FIN) client frame, masked with mask_key, into out.
   Returns the bytes written, or 0 when cap is too small (needs at most
   len + LOADGEN_WS_MAX_HEADER). */
size_t loadgen_ws_frame_encode(uint8_t *out, size_t cap, uint8_t opcode, const void *payload,
                               size_t len, uint32_t mask_key);

/* A Sec-WebSocket-Key from 16 bytes (random in production: see
   loadgen_ws_key_random); key gets LOADGEN_WS_KEY_LEN chars and a NUL. */
void loadgen_ws_key_from_bytes(const uint8_t raw[16], char key[LOADGEN_WS_KEY_LEN + 1]);
/* Same from getrandom(2); -1 if the kernel has no entropy for us. */
int loadgen_ws_key_random(char key[LOADGEN_WS_KEY_LEN + 1]);
/* base64(SHA-1(key + RFC 6455 GUID)): what the server must answer. */
void loadgen_ws_accept_for(const char *key, char accept[LOADGEN_WS_ACCEPT_LEN + 1]);

/* Formats the upgrade request (host is the Host header value, e.g.
   "127.0.0.1:8765"; protocol NULL for none). Returns its length, or 0
   when it does not fit in cap. */
size_t loadgen_ws_request_format(char *out, size_t cap, const char *host, const char *path,
                                 const char *key, const char *protocol);

/* Checks the server's answer to our upgrade at the start of data.
   1: accepted; *header_len is where frames start.
   0: the header is not complete yet.
   -1: refused or malformed; *reason says why (a static string). */
int loadgen_ws_response_check(const uint8_t *data, size_t len, const char *key,
                              const char *protocol, size_t *header_len, const char **reason);

#endif
