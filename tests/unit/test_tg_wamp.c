/*  Unit tests for tg_wamp: decoding, parsing and encoding WAMP v2 messages. */
#include "tg_wamp.h"

#include "tg_body.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static json_t *decode_json(const char *text)
{
    err[0] = '\0';
    return tg_wamp_decode(TG_WAMP_JSON, text, strlen(text), err, sizeof err);
}

/* Encodes a JSON text as msgpack through tg_wamp_encode (the converter the
   tests below check on its own), then decodes it as a client message. */
static json_t *decode_as_msgpack(const char *json_text)
{
    json_t *value = json_loads(json_text, JSON_ALLOW_NUL, NULL);
    cr_assert_not_null(value, "bad test JSON: %s", json_text);
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    cr_assert_eq(tg_wamp_encode(TG_WAMP_MSGPACK, value, &buf), 0);
    json_decref(value);
    err[0] = '\0';
    json_t *msg = tg_wamp_decode(TG_WAMP_MSGPACK, tg_buf_payload(&buf), buf.len, err, sizeof err);
    tg_buf_release(&buf);
    return msg;
}

static json_t *decode_msgpack_raw(const char *bytes, size_t len)
{
    err[0] = '\0';
    return tg_wamp_decode(TG_WAMP_MSGPACK, bytes, len, err, sizeof err);
}

/* Returns the payload of buf as a NUL-terminated string owned by buf. */
static const char *buf_text(tg_buf_t *buf)
{
    tg_buf_append_byte(buf, 0);
    buf->len--;
    return (const char *)tg_buf_payload(buf);
}

static void assert_json_equal(json_t *got, const char *expected_text)
{
    json_t *expected = json_loads(expected_text, JSON_ALLOW_NUL, NULL);
    cr_assert_not_null(expected, "bad test JSON: %s", expected_text);
    char *text = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert(json_equal(got, expected), "got %s, expected %s", text, expected_text);
    free(text);
    json_decref(expected);
}

/* ------------------------------------------------------------------------ decode */

/* A well-formed JSON message decodes to the array it spells. */
Test(tg_wamp, json_hello_decodes)
{
    json_t *msg = decode_json("[1,\"telegraphy\",{\"roles\":{\"subscriber\":{}}}]");
    cr_assert_not_null(msg, "%s", err);
    cr_assert_eq(tg_wamp_type(msg), TG_WAMP_HELLO);
    json_decref(msg);
}

/* Invalid JSON is refused with the column of the fault. */
Test(tg_wamp, invalid_json_reports_the_column)
{
    cr_assert_null(decode_json("[1, \"realm\", {]"));
    cr_assert(strncmp(err, "invalid JSON at column 15", 25) == 0, "%s", err);
}

/* Invalid UTF-8 inside a JSON string is refused before parsing. */
Test(tg_wamp, invalid_utf8_in_json_is_rejected)
{
    cr_assert_null(decode_json("[1, \"re\xc0\xafalm\", {}]"));
    cr_assert_str_eq(err, "invalid UTF-8");
    cr_assert_null(decode_json("[1, \"\xed\xa0\x80\", {}]"));
    cr_assert_null(decode_json("[1, \"\\ud800\", {}]"));
}

/* Anything after the message is refused. */
Test(tg_wamp, trailing_garbage_after_json_is_rejected)
{
    cr_assert_null(decode_json("[1, \"r\", {}] x"));
    cr_assert(strstr(err, "invalid JSON"), "%s", err);
    cr_assert_null(decode_json("[1, \"r\", {}][2]"));
}

/* 100000 '[' are refused without building a tree; a '[' inside a string
   does not count as nesting. */
Test(tg_wamp, json_nesting_bomb_is_rejected)
{
    size_t n = 100000;
    char *bomb = malloc(n + 1);
    memset(bomb, '[', n);
    bomb[n] = '\0';
    cr_assert_null(decode_json(bomb));
    cr_assert_str_eq(err, "nesting deeper than 32");
    free(bomb);
    json_t *msg = decode_json("[1, \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\", {}]");
    cr_assert_not_null(msg, "%s", err);
    json_decref(msg);
}

/* Exactly TG_WAMP_MAX_DEPTH levels are accepted, one more is refused. */
Test(tg_wamp, json_nesting_limit_is_exact)
{
    char text[200] = "[1,";
    for (int i = 1; i < TG_WAMP_MAX_DEPTH; i++)
        strcat(text, "[");
    for (int i = 1; i < TG_WAMP_MAX_DEPTH; i++)
        strcat(text, "]");
    strcat(text, "]");
    json_t *msg = decode_json(text);
    cr_assert_not_null(msg, "%s", err);
    json_decref(msg);
    char deeper[200] = "[";
    strcat(deeper, text);
    strcat(deeper, "]");
    cr_assert_null(decode_json(deeper));
}

/* The message must be a non-empty array starting with an integer. */
Test(tg_wamp, message_must_be_an_array_with_an_integer_type)
{
    cr_assert_null(decode_json("{\"a\":1}"));
    cr_assert_null(decode_json("[]"));
    cr_assert_str_eq(err, "not a non-empty array");
    cr_assert_null(decode_json("[\"1\"]"));
    cr_assert_str_eq(err, "message type is not an integer");
    cr_assert_null(decode_json("[1.0]"));
    cr_assert_null(decode_json(""));
    cr_assert_null(tg_wamp_decode(TG_WAMP_JSON, NULL, 0, err, sizeof err));
}

/* A repeated key is ambiguous and refused, in JSON and in msgpack. */
Test(tg_wamp, duplicate_keys_are_rejected)
{
    cr_assert_null(decode_json("[32,1,{\"match\":\"prefix\",\"match\":\"exact\"},\"a\"]"));
    cr_assert(strstr(err, "duplicate"), "%s", err);
    const char raw[] = "\x94\x20\x01\x82\xa1m\x01\xa1m\x02\xa1t";
    cr_assert_null(decode_msgpack_raw(raw, sizeof raw - 1));
}

/* A msgpack message decodes to the same tree as its JSON twin. */
Test(tg_wamp, msgpack_message_decodes_like_json)
{
    const char *text = "[48,7,{},\"telegraphy.events.list\",[1,-2,0.5,null,true],{\"k\":\"v\"}]";
    json_t *msg = decode_as_msgpack(text);
    cr_assert_not_null(msg, "%s", err);
    assert_json_equal(msg, text);
    json_decref(msg);
}

/* An empty string as the last byte decodes (and re-encodes the same). */
Test(tg_wamp, msgpack_empty_string_at_the_end_decodes)
{
    json_t *msg = decode_msgpack_raw("\x93\x22\x00\xa0", 4);
    cr_assert_not_null(msg, "%s", err);
    assert_json_equal(msg, "[34,0,\"\"]");
    json_decref(msg);
}

/* Invalid UTF-8 in a msgpack string or key is refused. */
Test(tg_wamp, invalid_utf8_in_msgpack_is_rejected)
{
    cr_assert_null(decode_msgpack_raw("\x93\x01\xa2\xc0\x80\x80", 6));
    cr_assert(strstr(err, "invalid UTF-8"), "%s", err);
    cr_assert_null(decode_msgpack_raw("\x93\x01\xa1r\x81\xa1\xff\xc0", 8));
    cr_assert(strstr(err, "invalid UTF-8"), "%s", err);
}

/* Ext types are refused. */
Test(tg_wamp, msgpack_ext_is_rejected)
{
    cr_assert_null(decode_msgpack_raw("\x93\x01\xd4\x01\x00\x80", 6));
    cr_assert(strstr(err, "ext"), "%s", err);
}

/* wampy (msgpackr) packs JavaScript `undefined` option values as fixext1
   type 0 data 0; these are its exact bytes for SUBSCRIBE with
   {match: undefined, get_retained: undefined}. The keys read as absent, so
   the subscription is the default exact one. */
Test(tg_wamp, msgpack_undefined_option_values_read_as_absent_keys)
{
    static const char wampy[] = "\x94\x20\x01\xde\x00\x02\xa5\x6d\x61\x74\x63\x68\xd4\x00\x00\xac"
                                "\x67\x65\x74\x5f\x72\x65\x74\x61\x69\x6e\x65\x64\xd4\x00\x00\xa3"
                                "\x61\x2e\x62";
    json_t *msg = decode_msgpack_raw(wampy, sizeof wampy - 1);
    cr_assert_not_null(msg, "%s", err);
    assert_json_equal(msg, "[32,1,{},\"a.b\"]");
    tg_wamp_subscribe_t sub;
    cr_assert_eq(tg_wamp_parse_subscribe(msg, &sub, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sub.match, "exact");
    json_decref(msg);
}

/* Outside a map, `undefined` is null (here in CALL's Arguments), and a
   nested map drops its undefined entries too. */
Test(tg_wamp, msgpack_undefined_outside_a_map_reads_as_null)
{
    static const char bytes[] = "\x96\x30\x02\xde\x00\x00\xa1\x70\x92\xd4\x00\x00\x01\xde\x00\x02"
                                "\xa1\x6b\xd4\x00\x00\xa1\x6a\x02";
    json_t *msg = decode_msgpack_raw(bytes, sizeof bytes - 1);
    cr_assert_not_null(msg, "%s", err);
    assert_json_equal(msg, "[48,2,{},\"p\",[null,1],{\"j\":2}]");
    json_decref(msg);
}

/* Only that exact value is `undefined`: any other ext type, data byte or
   ext size is still refused, and so is a truncated one. */
Test(tg_wamp, msgpack_other_ext_values_are_still_rejected)
{
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x93\x01\xa1r\xd4\x00\x01", 7},           /* type 0, data 1 */
        {"\x93\x01\xa1r\xd4\x7f\x00", 7},           /* type 127, data 0 */
        {"\x93\x01\xa1r\xd4\xff\x00", 7},           /* type -1 (timestamp family) */
        {"\x93\x01\xa1r\xd5\x00\x00\x00", 8},       /* fixext2 */
        {"\x93\x01\xa1r\xc7\x01\x00\x00", 8},       /* ext8 of one byte */
        {"\x93\x01\xa1r\x81\xa1k\xd4\x00\x01", 10}, /* in a map */
        {"\x93\x01\xa1r\xd4\x00", 6},               /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *msg = decode_msgpack_raw(bad[i].bytes, bad[i].len);
        cr_assert_null(msg, "case %zu accepted", i);
        json_decref(msg);
        cr_assert(strstr(err, "ext") || strstr(err, "truncated"), "case %zu: %s", i, err);
    }
}

/* Dropping an undefined entry does not hide a repeated key. */
Test(tg_wamp, msgpack_repeated_key_with_an_undefined_value_is_rejected)
{
    json_t *msg =
        decode_msgpack_raw("\x94\x20\x01\x82\xa1k\xd4\x00\x00\xa1k\x01\xa3\x61\x2e\x62", 16);
    cr_assert_null(msg);
    cr_assert(strstr(err, "duplicate key"), "%s", err);
}

/* The exception is tg_wamp's: an event body (tg_body, shared with the
   ingest) still refuses `undefined` like every ext. */
Test(tg_wamp, event_bodies_still_refuse_undefined)
{
    char body_err[128];
    cr_assert_eq(tg_body_validate("\x81\xa1k\xd4\x00\x00", 6, NULL, body_err, sizeof body_err), -1);
    cr_assert(strstr(body_err, "ext"), "%s", body_err);
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(tg_body_to_json("\x81\xa1k\xd4\x00\x00", 6, &out), -1);
    tg_buf_release(&out);
    cr_assert_null(
        tg_body_msgpack_to_json("\x92\x01\xd4\x00\x00", 5, 8, body_err, sizeof body_err));
}

/* Map keys must be strings. */
Test(tg_wamp, msgpack_non_string_map_key_is_rejected)
{
    cr_assert_null(decode_msgpack_raw("\x93\x01\xa1r\x81\x01\xc0", 7));
    cr_assert(strstr(err, "not a string"), "%s", err);
}

/* A map key holding NUL is refused, as jansson refuses it in JSON. */
Test(tg_wamp, msgpack_map_key_with_nul_is_rejected)
{
    cr_assert_null(decode_msgpack_raw("\223\001\241r\201\242a\0\300", 9));
    cr_assert(strstr(err, "NUL in key"), "%s", err);
    cr_assert_null(decode_json("[1,\"r\",{\"a\\u0000\":1}]"));
}

/* Declared lengths beyond the data are refused without allocating them. */
Test(tg_wamp, msgpack_huge_declared_lengths_are_rejected)
{
    cr_assert_null(decode_msgpack_raw("\xdd\xff\xff\xff\xff\x01", 6));
    cr_assert_str_eq(err, "truncated msgpack (declared length exceeds data)");
    cr_assert_null(decode_msgpack_raw("\x92\x01\xdf\xff\xff\xff\xff", 7));
    cr_assert_null(decode_msgpack_raw("\x92\x01\xdb\x7f\xff\xff\xff\x41", 8));
    cr_assert_null(decode_msgpack_raw("\x92\x01\xc6\x7f\xff\xff\xff\x41", 8));
    cr_assert_null(decode_msgpack_raw("\x92\x01", 2));
}

/* Bytes after the message are refused. */
Test(tg_wamp, msgpack_trailing_bytes_are_rejected)
{
    cr_assert_null(decode_msgpack_raw("\x91\x01\x01", 3));
    cr_assert(strstr(err, "trailing"), "%s", err);
}

/* Unsigned integers above INT64_MAX do not fit jansson and are refused. */
Test(tg_wamp, msgpack_uint64_above_int64_max_is_rejected)
{
    cr_assert_null(decode_msgpack_raw("\x92\x01\xcf\x80\0\0\0\0\0\0\0", 11));
    cr_assert(strstr(err, "INT64_MAX"), "%s", err);
}

/* A nesting bomb of 100000 one-element arrays is refused. */
Test(tg_wamp, msgpack_nesting_bomb_is_rejected)
{
    size_t n = 100000;
    char *bomb = malloc(n);
    memset(bomb, 0x91, n);
    cr_assert_null(decode_msgpack_raw(bomb, n));
    cr_assert_str_eq(err, "nesting deeper than 32");
    free(bomb);
}

/* Msgpack bin becomes WAMP's binary string, and encodes back to bin. */
Test(tg_wamp, msgpack_bin_round_trips_through_the_binary_string)
{
    const char raw[] = "\x92\x01\xc4\x03\x01\x02\x03";
    json_t *msg = decode_msgpack_raw(raw, sizeof raw - 1);
    cr_assert_not_null(msg, "%s", err);
    json_t *bin = json_array_get(msg, 1);
    cr_assert_eq(json_string_length(bin), 5);
    cr_assert_arr_eq(json_string_value(bin), "\0AQID", 5);
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    cr_assert_eq(tg_wamp_encode(TG_WAMP_MSGPACK, msg, &buf), 0);
    cr_assert_eq(buf.len, sizeof raw - 1);
    cr_assert_arr_eq(tg_buf_payload(&buf), raw, buf.len);
    tg_buf_release(&buf);
    json_decref(msg);
}

/* ------------------------------------------------------------------------ parse */

/* HELLO yields realm, details, authmethods and authid. */
Test(tg_wamp, hello_parses_realm_and_auth)
{
    json_t *msg =
        decode_json("[1,\"telegraphy\",{\"authmethods\":[\"ticket\"],\"authid\":\"42\"}]");
    tg_wamp_hello_t hello;
    cr_assert_eq(tg_wamp_parse_hello(msg, &hello, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(hello.realm, "telegraphy");
    cr_assert_str_eq(json_string_value(json_array_get(hello.authmethods, 0)), "ticket");
    cr_assert_str_eq(hello.authid, "42");
    json_decref(msg);
    msg = decode_json("[1,\"telegraphy\",{}]");
    cr_assert_eq(tg_wamp_parse_hello(msg, &hello, err, sizeof err), 0, "%s", err);
    cr_assert_null(hello.authmethods);
    cr_assert_null(hello.authid);
    json_decref(msg);
}

/* Parses every text in `bad` with fn and expects each to fail. */
#define EXPECT_ALL_FAIL(fn, out_type, bad)                                                         \
    do {                                                                                           \
        for (size_t i_ = 0; i_ < sizeof(bad) / sizeof(bad)[0]; i_++) {                             \
            json_t *m_ = decode_json((bad)[i_]);                                                   \
            cr_assert_not_null(m_, "test input did not decode: %s (%s)", (bad)[i_], err);          \
            out_type o_;                                                                           \
            err[0] = '\0';                                                                         \
            cr_assert_eq(fn(m_, &o_, err, sizeof err), -1, "accepted: %s", (bad)[i_]);             \
            cr_assert_neq(err[0], '\0', "no reason for: %s", (bad)[i_]);                           \
            json_decref(m_);                                                                       \
        }                                                                                          \
    } while (0)

/* HELLO with wrong arity or types is refused. */
Test(tg_wamp, hello_with_wrong_shape_is_rejected)
{
    static const char *bad[] = {
        "[1,\"telegraphy\"]",
        "[1,\"telegraphy\",{},1]",
        "[1,7,{}]",
        "[1,\"\",{}]",
        "[1,\"tele graphy\",{}]",
        "[1,\"telegraphy\",[]]",
        "[1,\"a..b\",{}]",
        "[1,\"telegraphy\",{\"authmethods\":\"ticket\"}]",
        "[1,\"telegraphy\",{\"authmethods\":[1]}]",
        "[1,\"telegraphy\",{\"authid\":5}]",
        "[2,\"telegraphy\",{}]",
    };
    EXPECT_ALL_FAIL(tg_wamp_parse_hello, tg_wamp_hello_t, bad);
}

/* AUTHENTICATE yields the signature; wrong shapes are refused. */
Test(tg_wamp, authenticate_parses_and_checks_shape)
{
    json_t *msg = decode_json("[5,\"v1.token.sig\",{}]");
    tg_wamp_authenticate_t auth;
    cr_assert_eq(tg_wamp_parse_authenticate(msg, &auth, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(auth.signature, "v1.token.sig");
    cr_assert(json_is_object(auth.extra));
    json_decref(msg);
    static const char *bad[] = {"[5,\"sig\"]", "[5,1,{}]", "[5,\"sig\",null]", "[5,\"sig\",{},{}]"};
    EXPECT_ALL_FAIL(tg_wamp_parse_authenticate, tg_wamp_authenticate_t, bad);
}

/* GOODBYE yields the reason; wrong shapes are refused. */
Test(tg_wamp, goodbye_parses_and_checks_shape)
{
    json_t *msg = decode_json("[6,{},\"wamp.close.normal\"]");
    tg_wamp_goodbye_t bye;
    cr_assert_eq(tg_wamp_parse_goodbye(msg, &bye, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(bye.reason, "wamp.close.normal");
    json_decref(msg);
    static const char *bad[] = {"[6,{}]", "[6,\"x\",\"wamp.close.normal\"]", "[6,{},3]",
                                "[6,{},\"\"]", "[6,{},\"wamp.close.normal\",1]"};
    EXPECT_ALL_FAIL(tg_wamp_parse_goodbye, tg_wamp_goodbye_t, bad);
}

/* SUBSCRIBE without options.match means an exact subscription. */
Test(tg_wamp, subscribe_defaults_to_exact_match)
{
    json_t *msg = decode_json("[32,1,{},\"shop.order.shipped\"]");
    tg_wamp_subscribe_t sub;
    cr_assert_eq(tg_wamp_parse_subscribe(msg, &sub, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sub.request, 1);
    cr_assert_str_eq(sub.topic, "shop.order.shipped");
    cr_assert_str_eq(sub.match, "exact");
    cr_assert_null(sub.filter);
    json_decref(msg);
}

/* Prefix and wildcard matches and a filter are passed through; a wildcard
   topic may have empty components, a prefix may end with '.'. */
Test(tg_wamp, subscribe_passes_match_and_filter)
{
    json_t *msg = decode_json("[32,9007199254740992,{\"match\":\"wildcard\",\"_filter\":"
                              "\"room == 1\"},\"a..c\"]");
    tg_wamp_subscribe_t sub;
    cr_assert_eq(tg_wamp_parse_subscribe(msg, &sub, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sub.request, TG_WAMP_MAX_ID);
    cr_assert_str_eq(sub.match, "wildcard");
    cr_assert_str_eq(sub.topic, "a..c");
    cr_assert_str_eq(sub.filter, "room == 1");
    json_decref(msg);
    msg = decode_json("[32,2,{\"match\":\"prefix\"},\"shop.\"]");
    cr_assert_eq(tg_wamp_parse_subscribe(msg, &sub, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sub.match, "prefix");
    json_decref(msg);
}

/* SUBSCRIBE with a bad id, match, filter, topic or arity is refused. */
Test(tg_wamp, subscribe_with_wrong_shape_is_rejected)
{
    static const char *bad[] = {
        "[32,0,{},\"a.b\"]",
        "[32,-1,{},\"a.b\"]",
        "[32,9007199254740993,{},\"a.b\"]",
        "[32,1.0,{},\"a.b\"]",
        "[32,\"1\",{},\"a.b\"]",
        "[32,1,[],\"a.b\"]",
        "[32,1,{},\"a.b\",{}]",
        "[32,1,{}]",
        "[32,1,{},\"\"]",
        "[32,1,{},\"a b\"]",
        "[32,1,{},\"a..b\"]",
        "[32,1,{},\"a.b.\"]",
        "[32,1,{},\".a\"]",
        "[32,1,{},7]",
        "[32,1,{\"match\":\"prefix\"},\"a..b\"]",
        "[32,1,{\"match\":\"regex\"},\"a.b\"]",
        "[32,1,{\"match\":1},\"a.b\"]",
        "[32,1,{\"_filter\":1},\"a.b\"]",
        "[32,1,{\"_filter\":\"a\\u0000b\"},\"a.b\"]",
        "[32,1,{\"match\":\"wildcard\"},\"a.\\tb\"]",
        "[32,1,{},\"a\\u0000b\"]",
    };
    EXPECT_ALL_FAIL(tg_wamp_parse_subscribe, tg_wamp_subscribe_t, bad);
}

/* The id bounds are inclusive: 1 and 2^53 are valid. */
Test(tg_wamp, unsubscribe_accepts_ids_at_both_bounds)
{
    json_t *msg = decode_json("[34,1,9007199254740992]");
    tg_wamp_unsubscribe_t unsub;
    cr_assert_eq(tg_wamp_parse_unsubscribe(msg, &unsub, err, sizeof err), 0, "%s", err);
    cr_assert_eq(unsub.request, 1);
    cr_assert_eq(unsub.subscription, TG_WAMP_MAX_ID);
    json_decref(msg);
    static const char *bad[] = {"[34,1]",     "[34,1,0]",  "[34,1,9007199254740993]",
                                "[34,1,2,3]", "[34,1,-5]", "[34,1,\"2\"]"};
    EXPECT_ALL_FAIL(tg_wamp_parse_unsubscribe, tg_wamp_unsubscribe_t, bad);
}

/* PUBLISH takes optional Arguments and ArgumentsKw. */
Test(tg_wamp, publish_parses_optional_payload)
{
    json_t *msg = decode_json("[16,3,{},\"chat.message\"]");
    tg_wamp_publish_t pub;
    cr_assert_eq(tg_wamp_parse_publish(msg, &pub, err, sizeof err), 0, "%s", err);
    cr_assert_null(pub.args);
    cr_assert_null(pub.kwargs);
    json_decref(msg);
    msg = decode_json("[16,3,{},\"chat.message\",[1],{\"text\":\"hi\"}]");
    cr_assert_eq(tg_wamp_parse_publish(msg, &pub, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(pub.topic, "chat.message");
    cr_assert_eq(json_array_size(pub.args), 1);
    cr_assert_str_eq(json_string_value(json_object_get(pub.kwargs, "text")), "hi");
    json_decref(msg);
    static const char *bad[] = {
        "[16,3,{}]",       "[16,3,{},\"a\",{}]", "[16,3,{},\"a\",[],[]]", "[16,3,{},\"a\",[],{},1]",
        "[16,0,{},\"a\"]", "[16,3,1,\"a\"]"};
    EXPECT_ALL_FAIL(tg_wamp_parse_publish, tg_wamp_publish_t, bad);
}

/* CALL takes optional Arguments and ArgumentsKw; wrong shapes are refused. */
Test(tg_wamp, call_parses_and_checks_shape)
{
    json_t *msg = decode_json("[48,5,{},\"telegraphy.events.list\",[]]");
    tg_wamp_call_t call;
    cr_assert_eq(tg_wamp_parse_call(msg, &call, err, sizeof err), 0, "%s", err);
    cr_assert_eq(call.request, 5);
    cr_assert_str_eq(call.procedure, "telegraphy.events.list");
    cr_assert_not_null(call.args);
    cr_assert_null(call.kwargs);
    json_decref(msg);
    static const char *bad[] = {"[48,5,{}]",
                                "[48,5,{},\"\"]",
                                "[48,5,{},\"p\",null]",
                                "[48,5,{},\"p\",[],7]",
                                "[48,9007199254740993,{},\"p\"]",
                                "[16,5,{},\"p\"]"};
    EXPECT_ALL_FAIL(tg_wamp_parse_call, tg_wamp_call_t, bad);
}

/* Parsing works the same on a msgpack-decoded message. */
Test(tg_wamp, subscribe_parses_from_msgpack)
{
    json_t *msg = decode_as_msgpack("[32,77,{\"match\":\"prefix\"},\"shop\"]");
    cr_assert_not_null(msg, "%s", err);
    tg_wamp_subscribe_t sub;
    cr_assert_eq(tg_wamp_parse_subscribe(msg, &sub, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sub.request, 77);
    cr_assert_str_eq(sub.match, "prefix");
    json_decref(msg);
}

/* ------------------------------------------------------------------------ encode */

/* Builders produce the WAMP shapes, encoded compactly in JSON. */
Test(tg_wamp, builders_encode_to_compact_json)
{
    struct {
        json_t *msg;
        const char *text;
    } cases[] = {
        {tg_wamp_welcome(5, json_pack("{s:s}", "authid", "42")), "[2,5,{\"authid\":\"42\"}]"},
        {tg_wamp_welcome(6, NULL), "[2,6,{}]"},
        {tg_wamp_abort("wamp.error.no_such_realm", "no realm x"),
         "[3,{\"message\":\"no realm x\"},\"wamp.error.no_such_realm\"]"},
        {tg_wamp_abort("wamp.error.protocol_violation", NULL),
         "[3,{},\"wamp.error.protocol_violation\"]"},
        {tg_wamp_goodbye("wamp.close.goodbye_and_out"), "[6,{},\"wamp.close.goodbye_and_out\"]"},
        {tg_wamp_error(32, 9, "telegraphy.error.unknown_event", "no such event"),
         "[8,32,9,{},\"telegraphy.error.unknown_event\",[\"no such event\"]]"},
        {tg_wamp_error(48, 2, "wamp.error.no_such_procedure", NULL),
         "[8,48,2,{},\"wamp.error.no_such_procedure\"]"},
        {tg_wamp_subscribed(1, TG_WAMP_MAX_ID), "[33,1,9007199254740992]"},
        {tg_wamp_unsubscribed(4), "[35,4]"},
        {tg_wamp_result(3, json_pack("[[]]")), "[50,3,{},[[]]]"},
        {tg_wamp_result(3, NULL), "[50,3,{}]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_not_null(cases[i].msg, "case %zu", i);
        tg_buf_t buf;
        tg_buf_init(&buf, 16);
        cr_assert_eq(tg_wamp_encode(TG_WAMP_JSON, cases[i].msg, &buf), 0);
        cr_assert_str_eq(buf_text(&buf), cases[i].text);
        tg_buf_release(&buf);
        json_decref(cases[i].msg);
    }
}

/* Msgpack encoding keeps integer, real, bool, null and nested types, and
   decodes back to the same tree. */
Test(tg_wamp, msgpack_encoding_round_trips)
{
    const char *text = "[50,1,{\"a\":[1.0,-9223372036854775808,9223372036854775807,true,false,"
                       "null,\"\xe2\x98\x83\"]},[0.1]]";
    json_t *msg = json_loads(text, 0, NULL);
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    cr_assert_eq(tg_wamp_encode(TG_WAMP_MSGPACK, msg, &buf), 0);
    json_t *back = tg_wamp_decode(TG_WAMP_MSGPACK, tg_buf_payload(&buf), buf.len, err, sizeof err);
    cr_assert_not_null(back, "%s", err);
    cr_assert(json_equal(msg, back));
    cr_assert(json_is_real(json_array_get(json_object_get(json_array_get(back, 2), "a"), 0)));
    json_decref(back);
    json_decref(msg);
    tg_buf_release(&buf);
}

/* A binary string with bad base64 cannot be encoded; the buffer is left as
   it was. */
Test(tg_wamp, msgpack_encoding_refuses_bad_binary_string)
{
    json_t *msg = json_pack("[is#]", 50, "\0@@", (size_t)3);
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    tg_buf_append_str(&buf, "keep");
    cr_assert_eq(tg_wamp_encode(TG_WAMP_MSGPACK, msg, &buf), -1);
    cr_assert_eq(buf.len, 4);
    tg_buf_release(&buf);
    json_decref(msg);
}

/* ------------------------------------------------------------------------ EVENT */

/* Composes the expected EVENT as JSON text for comparison. */
static void expect_event_json(json_t *got, uint64_t sub, uint64_t pub, const char *topic,
                              uint64_t ts, bool guaranteed, const char *kwargs)
{
    json_t *details = json_pack("{s:I}", "ts", (json_int_t)ts);
    if (topic)
        json_object_set_new(details, "topic", json_string(topic));
    if (guaranteed)
        json_object_set_new(details, "_guaranteed", json_true());
    json_t *expected = json_pack("[iIIo[]o]", 36, (json_int_t)sub, (json_int_t)pub, details,
                                 json_loads(kwargs, 0, NULL));
    char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(expected, JSON_COMPACT);
    cr_assert(json_equal(got, expected), "got %s expected %s", a, b);
    free(a);
    free(b);
    json_decref(expected);
}

/* The JSON EVENT is exactly the expected message, with and without topic
   and _guaranteed; kwargs are embedded verbatim. */
Test(tg_wamp, json_event_decodes_to_the_expected_message)
{
    const char *kwargs = "{\"order_id\":7,\"price\":1.0,\"big\":9223372036854775807}";
    for (int variant = 0; variant < 4; variant++) {
        const char *topic = (variant & 1) ? "shop.order.shipped" : NULL;
        bool guaranteed = variant & 2;
        tg_buf_t buf;
        tg_buf_init(&buf, 16);
        tg_wamp_encode_event(TG_WAMP_JSON, TG_WAMP_MAX_ID, 1700000000000001ULL, topic,
                             1700000000123456ULL, guaranteed, kwargs, strlen(kwargs), &buf);
        json_error_t error;
        json_t *got = json_loadb(buf_text(&buf), buf.len, 0, &error);
        cr_assert_not_null(got, "%s: %s", buf_text(&buf), error.text);
        expect_event_json(got, TG_WAMP_MAX_ID, 1700000000000001ULL, topic, 1700000000123456ULL,
                          guaranteed, kwargs);
        cr_assert(strstr(buf_text(&buf), kwargs), "kwargs not verbatim");
        json_decref(got);
        tg_buf_release(&buf);
    }
}

/* A topic with quotes, backslashes or control characters is escaped. */
Test(tg_wamp, json_event_escapes_the_topic)
{
    const char *topic = "we\"ird\\to\x01pic\n\xe2\x98\x83";
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    tg_wamp_encode_event(TG_WAMP_JSON, 1, 2, topic, 3, false, "{}", 2, &buf);
    json_t *got = json_loadb(buf_text(&buf), buf.len, 0, NULL);
    cr_assert_not_null(got, "%s", buf_text(&buf));
    expect_event_json(got, 1, 2, topic, 3, false, "{}");
    json_decref(got);
    tg_buf_release(&buf);
}

/* The msgpack EVENT is array(6) of uint sub, uint pub, details map, empty
   args and the kwargs bytes verbatim, read back with msgpack-c. */
Test(tg_wamp, msgpack_event_decodes_to_the_expected_message)
{
    const char kwargs[] = "\x82\xa8order_id\x07\xa5price\xcb\x3f\xf0\0\0\0\0\0\0";
    size_t kwargs_len = sizeof kwargs - 1;
    for (int variant = 0; variant < 4; variant++) {
        const char *topic = (variant & 1) ? "shop.order.shipped" : NULL;
        bool guaranteed = variant & 2;
        tg_buf_t buf;
        tg_buf_init(&buf, 16);
        tg_wamp_encode_event(TG_WAMP_MSGPACK, TG_WAMP_MAX_ID, 42, topic, 1700000000123456ULL,
                             guaranteed, kwargs, kwargs_len, &buf);
        cr_assert_geq(buf.len, kwargs_len);
        cr_assert_arr_eq(tg_buf_payload(&buf) + buf.len - kwargs_len, kwargs, kwargs_len);

        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        cr_assert_eq(msgpack_unpack_next(&up, (char *)tg_buf_payload(&buf), buf.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
        cr_assert_eq(off, buf.len);
        msgpack_object o = up.data;
        cr_assert_eq(o.type, MSGPACK_OBJECT_ARRAY);
        cr_assert_eq(o.via.array.size, 6);
        msgpack_object *e = o.via.array.ptr;
        cr_assert_eq(e[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        cr_assert_eq(e[0].via.u64, 36);
        cr_assert_eq(e[1].via.u64, (uint64_t)TG_WAMP_MAX_ID);
        cr_assert_eq(e[2].via.u64, 42);
        cr_assert_eq(e[3].type, MSGPACK_OBJECT_MAP);
        cr_assert_eq(e[3].via.map.size, 1u + (topic != NULL) + guaranteed);
        bool saw_ts = false, saw_topic = false, saw_guaranteed = false;
        for (uint32_t i = 0; i < e[3].via.map.size; i++) {
            msgpack_object_kv *kv = &e[3].via.map.ptr[i];
            cr_assert_eq(kv->key.type, MSGPACK_OBJECT_STR);
            msgpack_object_str *k = &kv->key.via.str;
            if (k->size == 2 && memcmp(k->ptr, "ts", 2) == 0) {
                saw_ts = kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                         kv->val.via.u64 == 1700000000123456ULL;
            } else if (k->size == 5 && memcmp(k->ptr, "topic", 5) == 0) {
                saw_topic = kv->val.type == MSGPACK_OBJECT_STR &&
                            kv->val.via.str.size == strlen(topic) &&
                            memcmp(kv->val.via.str.ptr, topic, strlen(topic)) == 0;
            } else if (k->size == 11 && memcmp(k->ptr, "_guaranteed", 11) == 0) {
                saw_guaranteed = kv->val.type == MSGPACK_OBJECT_BOOLEAN && kv->val.via.boolean;
            } else
                cr_assert_fail("unexpected details key");
        }
        cr_assert(saw_ts);
        cr_assert_eq(saw_topic, topic != NULL);
        cr_assert_eq(saw_guaranteed, guaranteed);
        cr_assert_eq(e[4].type, MSGPACK_OBJECT_ARRAY);
        cr_assert_eq(e[4].via.array.size, 0);
        cr_assert_eq(e[5].type, MSGPACK_OBJECT_MAP);
        cr_assert_eq(e[5].via.map.size, 2);
        cr_assert_eq(e[5].via.map.ptr[1].val.type, MSGPACK_OBJECT_FLOAT64);
        msgpack_unpacked_destroy(&up);
        tg_buf_release(&buf);
    }
}

/* Events are appended after the headroom and after earlier frames, so one
   buffer can batch several. */
Test(tg_wamp, events_append_to_the_buffer)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 16);
    tg_wamp_encode_event(TG_WAMP_JSON, 1, 2, NULL, 3, false, "{}", 2, &buf);
    size_t first = buf.len;
    tg_wamp_encode_event(TG_WAMP_JSON, 1, 2, NULL, 3, false, "{}", 2, &buf);
    cr_assert_eq(buf.len, 2 * first);
    cr_assert_str_eq(buf_text(&buf), "[36,1,2,{\"ts\":3},[],{}][36,1,2,{\"ts\":3},[],{}]");
    tg_buf_release(&buf);
}

/* The replay flag adds "_replay": true after "_guaranteed" in both
   serializers (DESIGN 2.3: events delivered from storage say so). */
Test(tg_wamp, event_replay_flag_marks_details)
{
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    tg_wamp_encode_event(TG_WAMP_JSON, 1, 2, NULL, 3,
                         TG_WAMP_EVENT_GUARANTEED | TG_WAMP_EVENT_REPLAY, "{}", 2, &buf);
    const char expected[] = "[36,1,2,{\"ts\":3,\"_guaranteed\":true,\"_replay\":true},[],{}]";
    cr_assert_eq(buf.len, sizeof expected - 1);
    cr_assert_eq(memcmp(tg_buf_payload(&buf), expected, buf.len), 0);
    tg_buf_release(&buf);

    tg_buf_init(&buf, 0);
    tg_wamp_encode_event(TG_WAMP_MSGPACK, 1, 2, NULL, 3, TG_WAMP_EVENT_REPLAY, NULL, 0, &buf);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    cr_assert_eq(msgpack_unpack_next(&unpacked, (const char *)tg_buf_payload(&buf), buf.len, NULL),
                 MSGPACK_UNPACK_SUCCESS);
    msgpack_object details = unpacked.data.via.array.ptr[3];
    cr_assert_eq(details.via.map.size, 2);
    cr_assert_eq(details.via.map.ptr[1].key.via.str.size, 7);
    cr_assert_eq(memcmp(details.via.map.ptr[1].key.via.str.ptr, "_replay", 7), 0);
    cr_assert(details.via.map.ptr[1].val.via.boolean);
    msgpack_unpacked_destroy(&unpacked);
    tg_buf_release(&buf);
}
