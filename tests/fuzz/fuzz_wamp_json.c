/*  libFuzzer target: wamp.2.json decode, then every parser on the result.
    Property: no crash, no leak, no sanitizer report on any input; a decoded
    message re-encodes in both serializers without error. */
#include "fuzz_wamp_parse.h"
#include "tg_wamp.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *msg = tg_wamp_decode(TG_WAMP_JSON, data, size, err, sizeof err);
    if (!msg)
        return 0;
    s_parse_all(msg);
    tg_buf_t out;
    tg_buf_init(&out, 16);
    if (tg_wamp_encode(TG_WAMP_JSON, msg, &out))
        abort();
    /* Our own JSON output must decode again to an equal message. */
    json_t *back = tg_wamp_decode(TG_WAMP_JSON, tg_buf_payload(&out), out.len, err, sizeof err);
    if (!back || !json_equal(msg, back))
        abort();
    json_decref(back);
    tg_buf_reset(&out);
    /* msgpack may refuse a "\0..." string that is not base64: allowed. */
    tg_wamp_encode(TG_WAMP_MSGPACK, msg, &out);
    tg_buf_release(&out);
    json_decref(msg);
    return 0;
}
