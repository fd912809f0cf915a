/*  libFuzzer target: tg_body_to_json() against its jansson reference.
    Property: on every input both give the same return code and, when
    they succeed, the same bytes (fuzz_body_json_reference.h); no crash or
    sanitizer report. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_body_json_reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[1024];
    if (s_body_json_compare(data, size, NULL, why, sizeof why)) {
        fprintf(stderr, "fuzz_body_json: %s\n", why);
        abort();
    }
    return 0;
}
