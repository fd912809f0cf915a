/*  edge_frame's wire bytes: the WebSocket header written once in front of
    the payload must be the RFC 6455 header of an unmasked final frame, for
    each of the three length encodings and both opcodes, because edge_ws
    writes these bytes to the socket as they are (LWS_WRITE_RAW). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "edge_frame.h"

/* A frame of `len` bytes of 'x' (the caller unrefs). */
static edge_frame_t *s_frame_of(size_t len, bool binary)
{
    tg_buf_t buf;
    tg_buf_init(&buf, edge_frame_headroom());
    char *bytes = malloc(len);
    cr_assert_not_null(bytes);
    memset(bytes, 'x', len);
    tg_buf_append(&buf, bytes, len);
    free(bytes);
    edge_frame_t *frame = edge_frame_new(&buf, binary, true);
    tg_buf_release(&buf);
    return frame;
}

/* Decodes the header at wire the way a client does (RFC 6455 5.2) and
   checks FIN, opcode, no mask, and that the payload length it announces
   is `len` and lands exactly on the payload. */
static void s_check_wire(size_t len, bool binary, size_t expected_header)
{
    edge_frame_t *frame = s_frame_of(len, binary);
    size_t wire_len = 0;
    const uint8_t *wire = edge_frame_wire(frame, &wire_len);
    cr_assert_eq(wire_len, expected_header + len, "len %zu: wire %zu", len, wire_len);
    cr_assert_eq(wire[0], 0x80 | (binary ? 0x2 : 0x1), "FIN and opcode");
    cr_assert_eq(wire[1] & 0x80, 0, "server frames are never masked");
    uint64_t announced = wire[1] & 0x7f;
    size_t header = 2;
    if (announced == 126) {
        announced = ((uint64_t)wire[2] << 8) | wire[3];
        header = 4;
    } else if (announced == 127) {
        announced = 0;
        for (int i = 0; i < 8; i++)
            announced = (announced << 8) | wire[2 + i];
        header = 10;
    }
    cr_assert_eq(header, expected_header);
    cr_assert_eq(announced, len);
    cr_assert_eq(wire + header, edge_frame_payload(frame), "the payload follows the header");
    edge_frame_unref(&frame);
}

/* Up to 125 bytes the length fits the second byte. */
Test(edge_frame, short_frame_has_a_two_byte_header)
{
    s_check_wire(1, false, 2);
    s_check_wire(125, true, 2);
}

/* 126 .. 65535 bytes: 126 then a 16-bit length. */
Test(edge_frame, medium_frame_has_a_sixteen_bit_length)
{
    s_check_wire(126, false, 4);
    s_check_wire(65535, true, 4);
}

/* 65536 bytes and more: 127 then a 64-bit length. */
Test(edge_frame, large_frame_has_a_sixty_four_bit_length)
{
    s_check_wire(65536, false, 10);
    s_check_wire(1 << 20, true, 10);
}

/* The header sits inside the headroom: the frame's own header (refs, ...)
   in front of it is not overwritten. */
Test(edge_frame, wire_header_leaves_the_frame_bookkeeping_intact)
{
    edge_frame_t *frame = s_frame_of(70000, true);
    size_t wire_len = 0;
    const uint8_t *wire = edge_frame_wire(frame, &wire_len);
    cr_assert_geq((size_t)(wire - (const uint8_t *)frame), (size_t)1);
    cr_assert_eq(edge_frame_refs(frame), 1);
    cr_assert(edge_frame_binary(frame));
    cr_assert(edge_frame_is_event(frame));
    cr_assert_eq(edge_frame_len(frame), 70000);
    edge_frame_unref(&frame);
}
