/*  Unit tests for loadgen_ws: RFC 6455 frames and the opening handshake,
    client side. */
#include "loadgen_ws.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX (16u << 20)

/* Writes an unmasked server frame header for len bytes; returns its size. */
static size_t server_header(uint8_t *out, uint8_t first, uint64_t len)
{
    out[0] = first;
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

/* A small text frame parses in place: payload points into the buffer. */
Test(loadgen_ws, small_text_frame_parses_in_place)
{
    uint8_t data[] = {0x81, 0x05, 'h', 'e', 'l', 'l', 'o', 0x81};
    loadgen_ws_frame_t frame;
    cr_assert_eq(loadgen_ws_frame_parse(data, sizeof(data), MAX, &frame), 1);
    cr_assert(frame.fin);
    cr_assert_eq(frame.opcode, LOADGEN_WS_OP_TEXT);
    cr_assert_eq(frame.payload, data + 2);
    cr_assert_eq(frame.payload_len, 5);
    cr_assert_eq(frame.frame_len, 7);
}

/* A 16-bit length (126..65535) is read big-endian after the 2-byte head. */
Test(loadgen_ws, sixteen_bit_length_is_read)
{
    size_t len = 300;
    uint8_t *data = calloc(1, len + 4);
    size_t header = server_header(data, 0x82, len);
    cr_assert_eq(header, 4);
    data[header + len - 1] = 0x7e;
    loadgen_ws_frame_t frame;
    cr_assert_eq(loadgen_ws_frame_parse(data, header + len, MAX, &frame), 1);
    cr_assert_eq(frame.opcode, LOADGEN_WS_OP_BINARY);
    cr_assert_eq(frame.payload_len, 300);
    cr_assert_eq(frame.payload[299], 0x7e);
    free(data);
}

/* A 64-bit length (over 65535) is read from 8 bytes. */
Test(loadgen_ws, sixty_four_bit_length_is_read)
{
    size_t len = 70000;
    uint8_t *data = calloc(1, len + 10);
    size_t header = server_header(data, 0x82, len);
    cr_assert_eq(header, 10);
    loadgen_ws_frame_t frame;
    cr_assert_eq(loadgen_ws_frame_parse(data, header + len, MAX, &frame), 1);
    cr_assert_eq(frame.payload_len, 70000);
    cr_assert_eq(frame.frame_len, 70010);
    free(data);
}

/* Every split point of a frame asks for more bytes until the last byte
   arrives, and reports the whole frame's length once the header is in. */
Test(loadgen_ws, every_split_of_a_frame_needs_more_until_complete)
{
    size_t len = 200;
    uint8_t data[256];
    memset(data, 'x', sizeof(data));
    size_t header = server_header(data, 0x81, len);
    for (size_t cut = 0; cut < header + len; cut++) {
        loadgen_ws_frame_t frame;
        cr_assert_eq(loadgen_ws_frame_parse(data, cut, MAX, &frame), 0, "cut=%zu", cut);
        cr_assert_eq(frame.frame_len, cut >= header ? header + len : 0, "cut=%zu", cut);
    }
    loadgen_ws_frame_t frame;
    cr_assert_eq(loadgen_ws_frame_parse(data, header + len, MAX, &frame), 1);
}

/* A masked server frame is a protocol error (RFC 6455 §5.1). */
Test(loadgen_ws, masked_server_frame_is_refused)
{
    uint8_t data[] = {0x81, 0x81, 1, 2, 3, 4, 'a'};
    loadgen_ws_frame_t frame;
    cr_assert_eq(loadgen_ws_frame_parse(data, sizeof(data), MAX, &frame), -1);
}

/* RSV bits, reserved opcodes, long or fragmented control frames, a 64-bit
   length with the top bit, and a payload over the limit are refused. */
Test(loadgen_ws, malformed_headers_are_refused)
{
    loadgen_ws_frame_t frame;
    uint8_t rsv[] = {0xc1, 0x00};
    cr_assert_eq(loadgen_ws_frame_parse(rsv, 2, MAX, &frame), -1);
    uint8_t reserved[] = {0x83, 0x00};
    cr_assert_eq(loadgen_ws_frame_parse(reserved, 2, MAX, &frame), -1);
    uint8_t reserved_control[] = {0x8b, 0x00};
    cr_assert_eq(loadgen_ws_frame_parse(reserved_control, 2, MAX, &frame), -1);
    uint8_t long_ping[] = {0x89, 126, 0, 126};
    cr_assert_eq(loadgen_ws_frame_parse(long_ping, 4, MAX, &frame), -1);
    uint8_t fragmented_ping[] = {0x09, 0x00};
    cr_assert_eq(loadgen_ws_frame_parse(fragmented_ping, 2, MAX, &frame), -1);
    uint8_t top_bit[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1};
    cr_assert_eq(loadgen_ws_frame_parse(top_bit, 10, MAX, &frame), -1);
    uint8_t too_big[] = {0x82, 126, 0x10, 0x00};
    cr_assert_eq(loadgen_ws_frame_parse(too_big, 4, 1024, &frame), -1);
}

/* A continuation frame without FIN parses with its opcode and fin=false. */
Test(loadgen_ws, fragments_keep_their_opcode_and_fin)
{
    uint8_t data[] = {0x01, 0x01, 'a', 0x80, 0x01, 'b'};
    loadgen_ws_frame_t frame;
    cr_assert_eq(loadgen_ws_frame_parse(data, sizeof(data), MAX, &frame), 1);
    cr_assert_not(frame.fin);
    cr_assert_eq(frame.opcode, LOADGEN_WS_OP_TEXT);
    cr_assert_eq(loadgen_ws_frame_parse(data + 3, 3, MAX, &frame), 1);
    cr_assert(frame.fin);
    cr_assert_eq(frame.opcode, LOADGEN_WS_OP_CONTINUATION);
}

/* A client frame is masked: unmasking with the key in the frame gives the
   payload back, for each length encoding. */
Test(loadgen_ws, client_frames_are_masked_and_unmask_to_the_payload)
{
    size_t lengths[] = {0, 5, 125, 126, 65535, 65536};
    for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++) {
        size_t len = lengths[k];
        uint8_t *payload = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            payload[i] = (uint8_t)(i * 31 + 7);
        uint8_t *out = malloc(len + LOADGEN_WS_MAX_HEADER);
        size_t n = loadgen_ws_frame_encode(out, len + LOADGEN_WS_MAX_HEADER, LOADGEN_WS_OP_BINARY,
                                           payload, len, 0xa1b2c3d4);
        size_t header = len < 126 ? 6 : len <= 0xffff ? 8 : 14;
        cr_assert_eq(n, header + len, "len=%zu", len);
        cr_assert_eq(out[0], 0x82);
        cr_assert(out[1] & 0x80, "mask bit");
        const uint8_t *mask = out + header - 4;
        cr_assert_eq(mask[0], 0xa1);
        cr_assert_eq(mask[3], 0xd4);
        for (size_t i = 0; i < len; i++)
            cr_assert_eq(out[header + i] ^ mask[i & 3], payload[i], "len=%zu i=%zu", len, i);
        free(out);
        free(payload);
    }
}

/* Encoding into a buffer too small writes nothing and returns 0. */
Test(loadgen_ws, encode_refuses_a_small_buffer)
{
    uint8_t out[10];
    cr_assert_eq(loadgen_ws_frame_encode(out, sizeof(out), LOADGEN_WS_OP_TEXT, "hello", 5, 1), 0);
}

/* The accept value matches RFC 6455's own example (§1.3). */
Test(loadgen_ws, accept_matches_the_rfc_example)
{
    char accept[LOADGEN_WS_ACCEPT_LEN + 1];
    loadgen_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", accept);
    cr_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* Keys are 24 base64 characters and differ from one call to the next. */
Test(loadgen_ws, random_keys_are_24_chars_and_differ)
{
    char a[LOADGEN_WS_KEY_LEN + 1], b[LOADGEN_WS_KEY_LEN + 1];
    cr_assert_eq(loadgen_ws_key_random(a), 0);
    cr_assert_eq(loadgen_ws_key_random(b), 0);
    cr_assert_eq(strlen(a), 24);
    cr_assert_str_neq(a, b);
}

/* The request names the path, host, key and subprotocol. */
Test(loadgen_ws, request_carries_path_host_key_and_protocol)
{
    char out[1024];
    size_t n = loadgen_ws_request_format(out, sizeof(out), "127.0.0.1:8765", "/ws",
                                         "dGhlIHNhbXBsZSBub25jZQ==", "wamp.2.json");
    cr_assert_gt(n, 0);
    cr_assert_eq(strlen(out), n);
    cr_assert(strstr(out, "GET /ws HTTP/1.1\r\n") == out);
    cr_assert_not_null(strstr(out, "Host: 127.0.0.1:8765\r\n"));
    cr_assert_not_null(strstr(out, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
    cr_assert_not_null(strstr(out, "Sec-WebSocket-Protocol: wamp.2.json\r\n"));
    cr_assert(n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
    n = loadgen_ws_request_format(out, sizeof(out), "h", "/", "k", NULL);
    cr_assert_null(strstr(out, "Sec-WebSocket-Protocol"));
    cr_assert_eq(loadgen_ws_request_format(out, 20, "h", "/", "k", NULL), 0);
}

static const char *KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/* A proper 101 (header names in any case) is accepted, with frames after
   the header left for the caller. */
Test(loadgen_ws, valid_upgrade_is_accepted_and_header_length_reported)
{
    const char *response = "HTTP/1.1 101 Switching Protocols\r\n"
                           "upgrade: WebSocket\r\n"
                           "CONNECTION: keep-alive, Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                           "Sec-WebSocket-Protocol: wamp.2.json\r\n"
                           "\r\n\x81\x00";
    size_t len = strlen(response) + 1; /* the frame's 0x00 length byte */
    size_t header_len = 0;
    const char *reason = NULL;
    cr_assert_eq(loadgen_ws_response_check((const uint8_t *)response, len, KEY, "wamp.2.json",
                                           &header_len, &reason),
                 1, "%s", reason ? reason : "");
    cr_assert_eq(header_len, len - 2);
}

/* An incomplete header asks for more bytes. */
Test(loadgen_ws, partial_upgrade_response_needs_more)
{
    const char *response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n";
    size_t header_len;
    const char *reason;
    cr_assert_eq(loadgen_ws_response_check((const uint8_t *)response, strlen(response), KEY, NULL,
                                           &header_len, &reason),
                 0);
}

/* Refusals: another status, a wrong accept, a missing or unexpected
   subprotocol; each says why. */
Test(loadgen_ws, bad_upgrades_are_refused_with_a_reason)
{
    const char *cases[][2] = {
        {"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "wamp.2.json"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
         "Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n",
         "wamp.2.json"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "wamp.2.json"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Protocol: wamp.2.msgpack\r\n\r\n",
         "wamp.2.json"},
        {"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t header_len;
        const char *reason = NULL;
        cr_assert_eq(loadgen_ws_response_check((const uint8_t *)cases[i][0], strlen(cases[i][0]),
                                               KEY, cases[i][1], &header_len, &reason),
                     -1, "case %zu", i);
        cr_assert_not_null(reason, "case %zu", i);
    }
}
