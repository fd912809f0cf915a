/*  The reference for tg_body_to_json(), shared by its differential unit
    test (tests/unit/test_tg_body_differential.c) and its fuzz target
    (tests/fuzz/fuzz_body_json.c).

    s_reference_body_to_json() is tg_body_to_json() as it was before it
    wrote JSON itself (issue 13): the jansson tree of
    tg_body_to_json_value() dumped with the flags of every JSON text the
    gateway sends. s_body_json_compare() runs both on the same bytes and
    says whether they agree on the return code and, on success, on every
    byte; both append after the same prefix, so "out unchanged on -1" is
    compared too.
*/
#ifndef FUZZ_BODY_JSON_REFERENCE_H
#define FUZZ_BODY_JSON_REFERENCE_H

#include <stdio.h>
#include <string.h>

#include "tg_body.h"

#define REFERENCE_JSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))

static int s_reference_dump(const char *text, size_t size, void *arg)
{
    tg_buf_append(arg, text, size);
    return 0;
}

/* The old tg_body_to_json(): appends to out, returns 0 or -1 (out as it
   was). */
static int s_reference_body_to_json(const void *data, size_t size, tg_buf_t *out)
{
    json_t *value = tg_body_to_json_value(data, size);
    if (!value)
        return -1;
    size_t start = out->len;
    int rc = json_dump_callback(value, s_reference_dump, out, REFERENCE_JSON_FLAGS);
    json_decref(value);
    if (rc) {
        tg_buf_truncate(out, start);
        return -1;
    }
    return 0;
}

/* Runs the reference and tg_body_to_json() on data[0..size). Returns 0
   when both give the same return code and the same bytes; -1 with a
   description in why (at most whylen bytes) when not. *rc_out (if not
   NULL) receives the shared return code. */
static int s_body_json_compare(const void *data, size_t size, int *rc_out, char *why, size_t whylen)
{
    static const char prefix[] = "[1,";
    tg_buf_t expected, actual;
    tg_buf_init(&expected, 16);
    tg_buf_init(&actual, 16);
    tg_buf_append(&expected, prefix, sizeof prefix - 1);
    tg_buf_append(&actual, prefix, sizeof prefix - 1);
    int expected_rc = s_reference_body_to_json(data, size, &expected);
    int actual_rc = tg_body_to_json(data, size, &actual);
    int verdict = 0;
    if (expected_rc != actual_rc) {
        snprintf(why, whylen, "return code: reference %d, tg_body_to_json %d", expected_rc,
                 actual_rc);
        verdict = -1;
    } else if (expected.len != actual.len ||
               memcmp(tg_buf_payload(&expected), tg_buf_payload(&actual), expected.len)) {
        snprintf(why, whylen, "text: reference %.*s | tg_body_to_json %.*s",
                 (int)(expected.len < 400 ? expected.len : 400),
                 (const char *)tg_buf_payload(&expected),
                 (int)(actual.len < 400 ? actual.len : 400), (const char *)tg_buf_payload(&actual));
        verdict = -1;
    }
    if (rc_out)
        *rc_out = expected_rc;
    tg_buf_release(&expected);
    tg_buf_release(&actual);
    return verdict;
}

#endif
