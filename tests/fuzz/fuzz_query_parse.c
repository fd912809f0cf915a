/*  libFuzzer target: the query language parser (tg_query_parse).
    Input: the filter text. Properties: no crash or sanitizer report; a
    filter that parses has a canonical text that parses again to the same
    text; an indexed predicate has a key for every value; a refusal has a
    column inside the text (or just past it) and a message. */
#include "tg_query.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_query_limits_t limits = {4096, 32, 256};
    tg_query_error_t err;
    tg_query_t *query = tg_query_parse((const char *)data, size, &limits, &err);
    if (!query) {
        if (err.column < 1 || (size_t)err.column > size + 1 || err.message[0] == '\0')
            abort();
        return 0;
    }
    const char *canonical = tg_query_canonical(query);
    /* The canonical text may be longer than the input (spaces, escapes):
       it is reparsed within the hard ceilings. */
    tg_query_limits_t roomy = {65536, 256, 65536};
    tg_query_t *again = tg_query_parse(canonical, strlen(canonical), &roomy, &err);
    if (!again || strcmp(tg_query_canonical(again), canonical) != 0)
        abort();
    const char *path = NULL;
    size_t count = 0;
    if (tg_query_index_path(query, &path, &count)) {
        uint8_t key[TG_QUERY_MAX_KEY];
        if (!path || strlen(path) > TG_QUERY_MAX_PATH || count == 0)
            abort();
        for (size_t i = 0; i < count; i++)
            if (tg_query_index_value(query, i, key) == 0)
                abort();
    }
    /* An empty map: evaluation must simply answer. */
    (void)tg_query_match(query, "\x80", 1);
    tg_query_destroy(&again);
    tg_query_destroy(&query);
    return 0;
}
