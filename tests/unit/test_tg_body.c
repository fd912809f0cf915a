/*  Unit tests for tg_body: event body validation and JSON rendering. */
#include "tg_base64.h"
#include "tg_body.h"

#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* A msgpack body under construction. */
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} body_t;

static void body_init(body_t *b)
{
    msgpack_sbuffer_init(&b->sbuf);
    msgpack_packer_init(&b->pk, &b->sbuf, msgpack_sbuffer_write);
}

static void body_str(body_t *b, const char *s)
{
    msgpack_pack_str_with_body(&b->pk, s, strlen(s));
}

static void body_raw(body_t *b, const char *bytes, size_t len)
{
    msgpack_sbuffer_write(&b->sbuf, bytes, len);
}

static int body_check(body_t *b, const tg_event_type_t *type, char *err)
{
    return tg_body_validate(b->sbuf.data, b->sbuf.size, type, err, 128);
}

/* Renders b as JSON text into a NUL-terminated malloc'd string, or NULL. */
static char *body_json(body_t *b)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    if (tg_body_to_json(b->sbuf.data, b->sbuf.size, &out)) {
        tg_buf_release(&out);
        return NULL;
    }
    tg_buf_append_byte(&out, 0);
    char *text = strndup((char *)tg_buf_payload(&out), out.len);
    tg_buf_release(&out);
    return text;
}

/* Builds {"k": <raw value bytes>}. */
static void body_one(body_t *b, const char *raw, size_t len)
{
    body_init(b);
    msgpack_pack_map(&b->pk, 1);
    body_str(b, "k");
    body_raw(b, raw, len);
}

static tg_event_type_t shipped_type(char **fields, size_t count)
{
    tg_event_type_t type = {0};
    type.name = "shop.order.shipped";
    type.has_fields = true;
    type.fields = fields;
    type.fields_count = count;
    type.audience = "public";
    return type;
}

/* A map holding every allowed value type is a valid body. */
Test(tg_body, map_with_every_allowed_type_is_valid)
{
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 8);
    body_str(&b, "nil"), msgpack_pack_nil(&b.pk);
    body_str(&b, "bool"), msgpack_pack_true(&b.pk);
    body_str(&b, "int"), msgpack_pack_int64(&b.pk, -5);
    body_str(&b, "uint"), msgpack_pack_uint64(&b.pk, INT64_MAX);
    body_str(&b, "float"), msgpack_pack_double(&b.pk, 0.5);
    body_str(&b, "str"), body_str(&b, "h\xc3\xa9llo \xf0\x9f\x98\x80");
    body_str(&b, "bin"), msgpack_pack_bin_with_body(&b.pk, "\x00\x01", 2);
    body_str(&b, "list"), msgpack_pack_array(&b.pk, 1), msgpack_pack_map(&b.pk, 0);
    char err[128] = "";
    cr_assert_eq(body_check(&b, NULL, err), 0, "%s", err);
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* The top level must be a map: an array or a scalar is refused. */
Test(tg_body, top_level_that_is_not_a_map_is_rejected)
{
    char err[128];
    cr_assert_eq(tg_body_validate("\x90", 1, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "body is not a map");
    cr_assert_eq(tg_body_validate("\x01", 1, NULL, err, sizeof err), -1);
    cr_assert_eq(tg_body_validate("", 0, NULL, err, sizeof err), -1);
}

/* Map keys must be strings, at any depth. */
Test(tg_body, integer_map_key_is_rejected)
{
    char err[128];
    cr_assert_eq(tg_body_validate("\x81\x01\x02", 3, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "map key is not a string at depth 1");
    cr_assert_eq(tg_body_validate("\x81\xa1k\x81\xc0\x02", 6, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "map key is not a string at depth 2");
}

/* A key with invalid UTF-8 is refused. */
Test(tg_body, key_with_invalid_utf8_is_rejected)
{
    char err[128];
    cr_assert_eq(tg_body_validate("\x81\xa1\xff\x01", 4, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "invalid UTF-8 in key at depth 1");
}

/* A key holding NUL is refused (JSON keys cannot carry it through jansson,
   and field names are C strings); NUL inside a string value is fine. */
Test(tg_body, key_with_nul_is_rejected)
{
    char err[128];
    cr_assert_eq(tg_body_validate("\201\242a\0\001", 5, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "NUL in key at depth 1");
    cr_assert_eq(tg_body_validate("\201\241a\242b\0", 6, NULL, err, sizeof err), 0, "%s", err);
}

/* Empty keys, strings and binaries (even as the last bytes of the body)
   are valid and render. */
Test(tg_body, empty_strings_and_binaries_render)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(tg_body_to_json("\x81\xa0\xa0", 3, &out), 0);
    cr_assert_eq(tg_body_to_json("\x81\xa1k\xc4\x00", 5, &out), 0);
    tg_buf_append_byte(&out, 0);
    cr_assert_str_eq((char *)tg_buf_payload(&out), "{\"\":\"\"}{\"k\":\"\\u0000\"}");
    tg_buf_release(&out);
}

/* Strings must be strict UTF-8: overlongs, surrogates, code points above
   U+10FFFF, truncated sequences and stray continuation bytes are refused. */
Test(tg_body, string_with_invalid_utf8_is_rejected)
{
    static const char *bad[] = {"\xa2\xc0\x80",         "\xa3\xed\xa0\x80", "\xa4\xf4\x90\x80\x80",
                                "\xa2\xe2\x82",         "\xa1\x80",         "\xa3\xe0\x80\xaf",
                                "\xa4\xf0\x80\x80\xaf", "\xa1\xfe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        body_t b;
        body_one(&b, bad[i], 1 + ((uint8_t)bad[i][0] & 0x1f));
        char err[128] = "";
        cr_assert_eq(body_check(&b, NULL, err), -1, "case %zu", i);
        cr_assert_str_eq(err, "invalid UTF-8 in string at depth 1");
        msgpack_sbuffer_destroy(&b.sbuf);
    }
}

/* Ext types have no JSON form and are refused (fixext and ext8). */
Test(tg_body, ext_type_is_rejected)
{
    char err[128];
    cr_assert_eq(tg_body_validate("\x81\xa1k\xd4\x01\x00", 6, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "msgpack ext type not allowed at depth 1");
    cr_assert_eq(tg_body_validate("\x81\xa1k\xc7\x01\x05\x00", 7, NULL, err, sizeof err), -1);
}

/* NaN and infinities (64- and 32-bit) have no JSON form and are refused. */
Test(tg_body, non_finite_floats_are_rejected)
{
    double values[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        body_t b;
        body_init(&b);
        msgpack_pack_map(&b.pk, 1);
        body_str(&b, "f");
        if (i == 0)
            msgpack_pack_float(&b.pk, NAN);
        else
            msgpack_pack_double(&b.pk, values[i]);
        char err[128] = "";
        cr_assert_eq(body_check(&b, NULL, err), -1, "case %d", i);
        cr_assert_str_eq(err, "non-finite float at depth 1");
        msgpack_sbuffer_destroy(&b.sbuf);
    }
}

/* Positive integers above INT64_MAX are refused; INT64_MAX and INT64_MIN
   are accepted. */
Test(tg_body, integers_are_limited_to_the_int64_range)
{
    char err[128];
    cr_assert_eq(tg_body_validate("\x81\xa1k\xcf\x80\0\0\0\0\0\0\0", 12, NULL, err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "integer above INT64_MAX at depth 1");
    cr_assert_eq(tg_body_validate("\x81\xa1k\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 12, NULL, err,
                                  sizeof err),
                 0);
    cr_assert_eq(tg_body_validate("\x81\xa1k\xd3\x80\0\0\0\0\0\0\0", 12, NULL, err, sizeof err), 0);
}

/* Bytes after the body are refused. */
Test(tg_body, trailing_bytes_are_rejected)
{
    char err[128];
    cr_assert_eq(tg_body_validate("\x80\xc0", 2, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "trailing bytes after msgpack value at offset 1");
}

/* Declared lengths larger than the data are refused before anything is
   allocated for them (a 4-billion-element array in 9 bytes). */
Test(tg_body, huge_declared_lengths_with_short_data_are_rejected)
{
    static const char *cases[] = {"\x81\xa1k\xdd\xff\xff\xff\xff\xc0",
                                  "\x81\xa1k\xdf\xff\xff\xff\xff\xc0",
                                  "\x81\xa1k\xdb\xff\xff\xff\xff\x41",
                                  "\x81\xa1k\xc6\xff\xff\xff\xff\x41", "\xdf\xff\xff\xff\xff"};
    static const size_t lens[] = {9, 9, 9, 9, 5};
    for (size_t i = 0; i < 5; i++) {
        char err[128] = "";
        cr_assert_eq(tg_body_validate(cases[i], lens[i], NULL, err, sizeof err), -1, "%zu", i);
        cr_assert_str_eq(err, "truncated msgpack (declared length exceeds data)");
    }
}

/* Helper: {"k": [[[...]]]} with `arrays` nested arrays. */
static void nested_body(body_t *b, int arrays)
{
    body_init(b);
    msgpack_pack_map(&b->pk, 1);
    body_str(b, "k");
    for (int i = 0; i < arrays; i++)
        msgpack_pack_array(&b->pk, i + 1 < arrays ? 1 : 0);
}

/* Nesting up to TG_BODY_MAX_DEPTH containers (the top map counts) is
   accepted; one more is refused. */
Test(tg_body, nesting_is_limited_to_max_depth)
{
    body_t b;
    char err[128] = "";
    nested_body(&b, TG_BODY_MAX_DEPTH - 1);
    cr_assert_eq(body_check(&b, NULL, err), 0, "%s", err);
    msgpack_sbuffer_destroy(&b.sbuf);
    nested_body(&b, TG_BODY_MAX_DEPTH);
    cr_assert_eq(body_check(&b, NULL, err), -1);
    cr_assert_str_eq(err, "nesting deeper than 32");
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* A nesting bomb (100000 nested arrays) is refused quickly. */
Test(tg_body, nesting_bomb_is_rejected)
{
    size_t n = 100000;
    char *bomb = malloc(n + 3);
    memcpy(bomb, "\x81\xa1k", 3);
    memset(bomb + 3, 0x91, n);
    char err[128];
    cr_assert_eq(tg_body_validate(bomb, n + 3, NULL, err, sizeof err), -1);
    free(bomb);
}

/* A key repeated in one map is refused (small maps and large maps). */
Test(tg_body, duplicate_keys_are_rejected)
{
    char err[128];
    cr_assert_eq(tg_body_validate("\202\241a\001\241a\002", 7, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "duplicate key at depth 1: a");
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 40);
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i == 39 ? 7 : i);
        body_str(&b, key);
        msgpack_pack_nil(&b.pk);
    }
    cr_assert_eq(body_check(&b, NULL, err), -1);
    cr_assert_str_eq(err, "duplicate key at depth 1: k7");
    cr_assert_null(body_json(&b));
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* With fields, a body with exactly those keys (any order) is accepted. */
Test(tg_body, fields_exact_set_is_accepted)
{
    char *fields[] = {"carrier", "order_id"};
    tg_event_type_t type = shipped_type(fields, 2);
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 2);
    body_str(&b, "order_id"), msgpack_pack_int(&b.pk, 7);
    body_str(&b, "carrier"), body_str(&b, "dhl");
    char err[128] = "";
    cr_assert_eq(body_check(&b, &type, err), 0, "%s", err);
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* A missing field is named in the error. */
Test(tg_body, missing_field_is_named)
{
    char *fields[] = {"carrier", "order_id"};
    tg_event_type_t type = shipped_type(fields, 2);
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    body_str(&b, "order_id"), msgpack_pack_int(&b.pk, 7);
    char err[128] = "";
    cr_assert_eq(body_check(&b, &type, err), -1);
    cr_assert_str_eq(err, "missing field: carrier");
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* An extra key is named in the error. */
Test(tg_body, unknown_field_is_named)
{
    char *fields[] = {"carrier", "order_id"};
    tg_event_type_t type = shipped_type(fields, 2);
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 3);
    body_str(&b, "order_id"), msgpack_pack_int(&b.pk, 7);
    body_str(&b, "carrier"), body_str(&b, "dhl");
    body_str(&b, "colour"), body_str(&b, "red");
    char err[128] = "";
    cr_assert_eq(body_check(&b, &type, err), -1);
    cr_assert_str_eq(err, "unknown field: colour");
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* A type without a field list accepts any map; one with an empty list
   accepts only the empty map. */
Test(tg_body, type_without_fields_accepts_any_map)
{
    tg_event_type_t type = shipped_type(NULL, 0);
    char err[128] = "";
    cr_assert_eq(tg_body_validate("\x80", 1, &type, err, sizeof err), 0);
    cr_assert_eq(tg_body_validate("\x81\xa1k\x01", 4, &type, err, sizeof err), -1);
    type.has_fields = false;
    cr_assert_eq(tg_body_validate("\x81\xa1k\x01", 4, &type, err, sizeof err), 0, "%s", err);
}

/* Unicode is rendered as raw UTF-8, null/true/false as literals, and map
   key order is kept. */
Test(tg_body, json_renders_unicode_and_literals)
{
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 4);
    body_str(&b, "s"), body_str(&b, "h\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \"q\"\n");
    body_str(&b, "n"), msgpack_pack_nil(&b.pk);
    body_str(&b, "t"), msgpack_pack_true(&b.pk);
    body_str(&b, "f"), msgpack_pack_false(&b.pk);
    char *json = body_json(&b);
    cr_assert_str_eq(json, "{\"s\":\"h\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \\\"q\\\"\\n\","
                           "\"n\":null,\"t\":true,\"f\":false}");
    free(json);
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* Nested maps and arrays keep their shape. */
Test(tg_body, json_renders_nesting)
{
    /* {"a": {"b": [1, [2]], "c": {}}} */
    const char raw[] = "\201\241a\202\241b\222\001\221\002\241c\200";
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(tg_body_to_json(raw, sizeof raw - 1, &out), 0);
    tg_buf_append_byte(&out, 0);
    cr_assert_str_eq((char *)tg_buf_payload(&out), "{\"a\":{\"b\":[1,[2]],\"c\":{}}}");
    tg_buf_release(&out);
}

/* int64 extremes are exact, and integers survive msgpack -> JSON -> jansson. */
Test(tg_body, json_keeps_int64_extremes_exact)
{
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 4);
    body_str(&b, "max"), msgpack_pack_uint64(&b.pk, INT64_MAX);
    body_str(&b, "min"), msgpack_pack_int64(&b.pk, INT64_MIN);
    body_str(&b, "big"), msgpack_pack_uint64(&b.pk, 9007199254740993ULL);
    body_str(&b, "neg"), msgpack_pack_int8(&b.pk, -1);
    char *json = body_json(&b);
    cr_assert_str_eq(json, "{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                           "\"big\":9007199254740993,\"neg\":-1}");
    json_t *back = json_loads(json, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(back, "min")), INT64_MIN);
    cr_assert_eq(json_integer_value(json_object_get(back, "big")), 9007199254740993LL);
    json_decref(back);
    free(json);
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* Floats stay floats (1.0 is not 1) and round-trip exactly, -0.0 keeps its
   sign, and 32-bit floats are widened exactly. */
Test(tg_body, json_keeps_floats_as_floats)
{
    double values[] = {0.1, 1.0, 1e300, -0.0, 5e-324, 123456789.0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        body_t b;
        body_init(&b);
        msgpack_pack_map(&b.pk, 1);
        body_str(&b, "x"), msgpack_pack_double(&b.pk, values[i]);
        char *json = body_json(&b);
        cr_assert_not_null(json);
        const char *number = json + 5;
        cr_assert(strpbrk(number, ".e"), "rendered as integer: %s", json);
        double back = strtod(number, NULL);
        cr_assert(back == values[i] && signbit(back) == signbit(values[i]), "%s", json);
        free(json);
        msgpack_sbuffer_destroy(&b.sbuf);
    }
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 2);
    body_str(&b, "one"), msgpack_pack_double(&b.pk, 1.0);
    body_str(&b, "f32"), msgpack_pack_float(&b.pk, 1.5f);
    char *json = body_json(&b);
    cr_assert_str_eq(json, "{\"one\":1.0,\"f32\":1.5}");
    free(json);
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* Binary becomes WAMP's JSON binary string: "\u0000" + base64. */
Test(tg_body, json_renders_binary_per_wamp_convention)
{
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 2);
    body_str(&b, "b"), msgpack_pack_bin_with_body(&b.pk, "\x01\x02\x03\xff", 4);
    body_str(&b, "e"), msgpack_pack_bin_with_body(&b.pk, "", 0);
    char *json = body_json(&b);
    cr_assert_str_eq(json, "{\"b\":\"\\u0000AQID/w==\",\"e\":\"\\u0000\"}");
    free(json);
    msgpack_sbuffer_destroy(&b.sbuf);
}

/* Rendering appends after what the buffer holds; an invalid body leaves
   the buffer unchanged. */
Test(tg_body, json_appends_and_leaves_buffer_alone_on_error)
{
    tg_buf_t out;
    tg_buf_init(&out, 4);
    tg_buf_append_str(&out, "X");
    cr_assert_eq(tg_body_to_json("\x80", 1, &out), 0);
    cr_assert_eq(out.len, 3);
    cr_assert_arr_eq(tg_buf_payload(&out), "X{}", 3);
    cr_assert_eq(tg_body_to_json("\x81\x01\x02", 3, &out), -1);
    cr_assert_eq(tg_body_to_json("\x80\x80", 2, &out), -1);
    cr_assert_eq(out.len, 3);
    tg_buf_release(&out);
}

/* Base64 matches the RFC 4648 test vectors both ways. */
Test(tg_body, base64_matches_rfc4648_vectors)
{
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        tg_buf_t out;
        tg_buf_init(&out, 0);
        tg_base64_encode(plain[i], strlen(plain[i]), &out);
        cr_assert_eq(out.len, strlen(coded[i]));
        cr_assert_arr_eq(tg_buf_payload(&out), coded[i], out.len);
        tg_buf_reset(&out);
        cr_assert_eq(tg_base64_decode(coded[i], strlen(coded[i]), &out), 0);
        cr_assert_eq(out.len, strlen(plain[i]));
        cr_assert_arr_eq(tg_buf_payload(&out), plain[i], out.len);
        tg_buf_release(&out);
    }
}

/* Base64 decoding refuses characters outside the alphabet and impossible
   lengths, and accepts unpadded text. */
Test(tg_body, base64_decode_rejects_garbage)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(tg_base64_decode("Zm9v!A==", 8, &out), -1);
    cr_assert_eq(tg_base64_decode("Z", 1, &out), -1);
    cr_assert_eq(tg_base64_decode("Zm=v", 4, &out), -1);
    cr_assert_eq(out.len, 0);
    cr_assert_eq(tg_base64_decode("Zm8", 3, &out), 0);
    cr_assert_arr_eq(tg_buf_payload(&out), "fo", 2);
    tg_buf_release(&out);
}

/* A map large enough to have its keys sorted for the duplicate check
   (scratch space past the end of the output) renders in key order and
   leaves nothing of the scratch behind. */
Test(tg_body, json_of_a_large_map_keeps_order_and_no_scratch)
{
    body_t b;
    body_init(&b);
    msgpack_pack_map(&b.pk, 40);
    char expected[1024] = "{";
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", 39 - i);
        body_str(&b, key);
        msgpack_pack_int(&b.pk, i);
        snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s\"%s\":%d",
                 i ? "," : "", key, i);
    }
    strcat(expected, "}");
    tg_buf_t out;
    tg_buf_init(&out, 0);
    cr_assert_eq(tg_body_to_json(b.sbuf.data, b.sbuf.size, &out), 0);
    cr_assert_eq(out.len, strlen(expected));
    cr_assert_arr_eq(tg_buf_payload(&out), expected, out.len);
    tg_buf_release(&out);
    msgpack_sbuffer_destroy(&b.sbuf);
}
