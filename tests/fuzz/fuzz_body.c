/*  libFuzzer target: event body validation and JSON rendering.
    Property: no crash or sanitizer report on any input; a body that
    validates renders to JSON, and jansson can load that JSON again. */
#include "tg_body.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    int valid = tg_body_validate(data, size, NULL, err, sizeof err);
    tg_buf_t out;
    tg_buf_init(&out, 0);
    int rendered = tg_body_to_json(data, size, &out);
    if ((valid == 0) != (rendered == 0))
        abort();
    if (valid == 0) {
        json_error_t error;
        json_t *json =
            json_loadb((const char *)tg_buf_payload(&out), out.len, JSON_ALLOW_NUL, &error);
        if (!json || !json_is_object(json))
            abort();
        json_decref(json);
    }
    tg_buf_release(&out);
    return 0;
}
