/*  libFuzzer target: wamp.2.msgpack decode, then every parser on the result.
    Property: no crash, no leak, no sanitizer report, no huge allocation on
    any input; a decoded message re-encodes and decodes to an equal tree. */
#include "fuzz_wamp_parse.h"
#include "tg_wamp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when the tree holds a string starting with NUL: a msgpack str like
   that reads as WAMP binary once converted, so it may not round-trip. */
static bool s_has_binary_string(const json_t *value)
{
    const char *key;
    json_t *item;
    switch (json_typeof(value)) {
    case JSON_STRING:
        return json_string_length(value) > 0 && json_string_value(value)[0] == '\0';
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(value); i++)
            if (s_has_binary_string(json_array_get(value, i)))
                return true;
        return false;
    case JSON_OBJECT:
        json_object_foreach((json_t *)value, key, item)
        {
            if (s_has_binary_string(item))
                return true;
        }
        return false;
    default:
        return false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *msg = tg_wamp_decode(TG_WAMP_MSGPACK, data, size, err, sizeof err);
    if (!msg)
        return 0;
    s_parse_all(msg);
    tg_buf_t out;
    tg_buf_init(&out, 16);
    /* Every decoded tree came from valid msgpack: it must encode back, and
       the bytes must decode to the same tree (bin <-> "\0"+base64 included). */
    if (tg_wamp_encode(TG_WAMP_MSGPACK, msg, &out) == 0) {
        json_t *back =
            tg_wamp_decode(TG_WAMP_MSGPACK, tg_buf_payload(&out), out.len, err, sizeof err);
        if (!back || (!json_equal(msg, back) && !s_has_binary_string(msg)))
            abort();
        json_decref(back);
    }
    tg_buf_reset(&out);
    if (tg_wamp_encode(TG_WAMP_JSON, msg, &out))
        abort();
    tg_buf_release(&out);
    json_decref(msg);
    return 0;
}
