/*  Unit tests for loadgen_wamp: the client's two messages and the type
    check of what comes back. */
#include "loadgen_wamp.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

/* JSON HELLO names the realm, the subscriber role and anonymous auth. */
Test(loadgen_wamp, json_hello_is_the_expected_text)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(loadgen_wamp_hello(LOADGEN_PROTO_WAMP_JSON, "telegraphy", &out), 0);
    tg_buf_append_byte(&out, 0);
    cr_assert_str_eq((char *)tg_buf_payload(&out),
                     "[1,\"telegraphy\",{\"roles\":{\"subscriber\":{}},"
                     "\"authmethods\":[\"anonymous\"]}]");
    tg_buf_release(&out);
}

/* JSON SUBSCRIBE escapes the topic properly. */
Test(loadgen_wamp, json_subscribe_escapes_the_topic)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(loadgen_wamp_subscribe(LOADGEN_PROTO_WAMP_JSON, 7, "a\"b", &out), 0);
    tg_buf_append_byte(&out, 0);
    cr_assert_str_eq((char *)tg_buf_payload(&out), "[32,7,{},\"a\\\"b\"]");
    tg_buf_release(&out);
}

/* msgpack HELLO and SUBSCRIBE decode to the same structures. */
Test(loadgen_wamp, msgpack_messages_decode_to_hello_and_subscribe)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(loadgen_wamp_hello(LOADGEN_PROTO_WAMP_MSGPACK, "realm1", &out), 0);
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    cr_assert_eq(msgpack_unpack_next(&msg, (const char *)tg_buf_payload(&out), out.len, NULL),
                 MSGPACK_UNPACK_SUCCESS);
    msgpack_object o = msg.data;
    cr_assert_eq(o.type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(o.via.array.size, 3);
    cr_assert_eq(o.via.array.ptr[0].via.u64, 1);
    cr_assert_eq(o.via.array.ptr[1].via.str.size, 6);
    cr_assert_eq(memcmp(o.via.array.ptr[1].via.str.ptr, "realm1", 6), 0);
    cr_assert_eq(o.via.array.ptr[2].type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(loadgen_wamp_subscribe(LOADGEN_PROTO_WAMP_MSGPACK, 1, "bench.tick", &out), 0);
    cr_assert_eq(msgpack_unpack_next(&msg, (const char *)tg_buf_payload(&out), out.len, NULL),
                 MSGPACK_UNPACK_SUCCESS);
    o = msg.data;
    cr_assert_eq(o.via.array.size, 4);
    cr_assert_eq(o.via.array.ptr[0].via.u64, 32);
    cr_assert_eq(o.via.array.ptr[3].via.str.size, 10);
    msgpack_unpacked_destroy(&msg);
    tg_buf_release(&out);
}

/* Raw mode has no WAMP messages. */
Test(loadgen_wamp, raw_has_no_messages_or_subprotocol)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(loadgen_wamp_hello(LOADGEN_PROTO_RAW, "r", &out), -1);
    cr_assert_null(loadgen_wamp_subprotocol(LOADGEN_PROTO_RAW));
    cr_assert_str_eq(loadgen_wamp_subprotocol(LOADGEN_PROTO_WAMP_MSGPACK), "wamp.2.msgpack");
    tg_buf_release(&out);
}

static int s_text_type(const char *text)
{
    return loadgen_wamp_type(LOADGEN_PROTO_WAMP_JSON, (const uint8_t *)text, strlen(text));
}

/* The JSON type is the first element, spaces allowed; junk gives -1. */
Test(loadgen_wamp, json_type_is_the_first_element)
{
    cr_assert_eq(s_text_type("[36,1,2,{},[],{}]"), 36);
    cr_assert_eq(s_text_type(" [ 2 , 1, {}]"), 2);
    cr_assert_eq(s_text_type("[3,{},\"x\"]"), 3);
    cr_assert_eq(s_text_type("{\"a\":1}"), -1);
    cr_assert_eq(s_text_type("[\"x\"]"), -1);
    cr_assert_eq(s_text_type("[12345,1]"), -1);
    cr_assert_eq(s_text_type(""), -1);
    cr_assert_eq(s_text_type("["), -1);
}

/* The msgpack type follows the array header (fix, array16, array32). */
Test(loadgen_wamp, msgpack_type_follows_the_array_header)
{
    uint8_t fix[] = {0x96, 0x24};
    uint8_t a16[] = {0xdc, 0x00, 0x06, 0x21};
    uint8_t a32[] = {0xdd, 0x00, 0x00, 0x00, 0x06, 0x08};
    uint8_t u8[] = {0x93, 0xcc, 0x24};
    uint8_t map[] = {0x81, 0x24};
    uint8_t empty[] = {0x90};
    cr_assert_eq(loadgen_wamp_type(LOADGEN_PROTO_WAMP_MSGPACK, fix, sizeof(fix)), 36);
    cr_assert_eq(loadgen_wamp_type(LOADGEN_PROTO_WAMP_MSGPACK, a16, sizeof(a16)), 33);
    cr_assert_eq(loadgen_wamp_type(LOADGEN_PROTO_WAMP_MSGPACK, a32, sizeof(a32)), 8);
    cr_assert_eq(loadgen_wamp_type(LOADGEN_PROTO_WAMP_MSGPACK, u8, sizeof(u8)), 36);
    cr_assert_eq(loadgen_wamp_type(LOADGEN_PROTO_WAMP_MSGPACK, map, sizeof(map)), -1);
    cr_assert_eq(loadgen_wamp_type(LOADGEN_PROTO_WAMP_MSGPACK, empty, sizeof(empty)), -1);
    cr_assert_eq(loadgen_wamp_type(LOADGEN_PROTO_WAMP_MSGPACK, fix, 1), -1);
}

/* --token / --persistent: HELLO asks for ticket auth, AUTHENTICATE carries
   the ticket, SUBSCRIBE carries {"_persistent": true}. */
Test(loadgen_wamp, ticket_hello_authenticate_and_persistent_subscribe)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(loadgen_wamp_hello_ticket(LOADGEN_PROTO_WAMP_JSON, "telegraphy", &out), 0);
    tg_buf_append_byte(&out, 0);
    cr_assert_str_eq((char *)tg_buf_payload(&out),
                     "[1,\"telegraphy\",{\"roles\":{\"subscriber\":{}},"
                     "\"authmethods\":[\"ticket\"]}]");
    cr_assert_eq(loadgen_wamp_authenticate(LOADGEN_PROTO_WAMP_JSON, "tok.en", &out), 0);
    tg_buf_append_byte(&out, 0);
    cr_assert_str_eq((char *)tg_buf_payload(&out), "[5,\"tok.en\",{}]");
    cr_assert_eq(
        loadgen_wamp_subscribe_options(LOADGEN_PROTO_WAMP_JSON, 1, "bench.stored", true, &out), 0);
    tg_buf_append_byte(&out, 0);
    cr_assert_str_eq((char *)tg_buf_payload(&out),
                     "[32,1,{\"_persistent\":true},\"bench.stored\"]");
    tg_buf_release(&out);
}
