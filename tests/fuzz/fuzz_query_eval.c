/*  libFuzzer target: filters evaluated on msgpack bodies (tg_query_match).
    Input: a 2-byte big-endian filter length, the filter text, then the
    body bytes. Properties: no crash, leak or sanitizer report; the checked
    and trusted evaluations agree on bodies that pass the framing check;
    when a filter with an indexed predicate matches, the body's key at the
    indexed path is one of the filter's index keys. */
#include "tg_msgpack_frame.h"
#include "tg_query.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t filter_len = ((size_t)data[0] << 8) | data[1];
    if (filter_len > size - 2)
        filter_len = size - 2;
    const char *filter = (const char *)data + 2;
    const uint8_t *body = data + 2 + filter_len;
    size_t body_len = size - 2 - filter_len;
    tg_query_t *query = tg_query_parse(filter, filter_len, NULL, NULL);
    if (!query)
        return 0;
    bool checked = tg_query_match(query, body, body_len);
    bool trusted = tg_query_match_trusted(query, body, body_len);
    bool framed =
        tg_msgpack_frame_check(body, body_len, TG_MSGPACK_FRAME_MAX_DEPTH, false, NULL, 0) == 0;
    if (framed && checked != trusted)
        abort();
    if (!framed && checked)
        abort();
    const char *path;
    size_t count;
    uint8_t key[TG_QUERY_MAX_KEY], value_key[TG_QUERY_MAX_KEY];
    if (tg_query_index_path(query, &path, &count)) {
        size_t value_len = tg_query_value_key(body, body_len, path, value_key);
        if (checked) {
            bool found = false;
            for (size_t i = 0; i < count && !found; i++) {
                size_t len = tg_query_index_value(query, i, key);
                found = len == value_len && memcmp(key, value_key, len) == 0;
            }
            if (!found)
                abort();
        }
    }
    tg_query_destroy(&query);
    return 0;
}
