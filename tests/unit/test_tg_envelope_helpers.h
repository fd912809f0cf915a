/*  Helpers shared by the tg_envelope unit tests (test_tg_envelope.c,
    test_tg_envelope_persist.c): headers written with msgpack-c directly,
    so that the tests can produce what tg_envelope_encode never would, and
    the decode / round-trip expectations.
*/
#ifndef TEST_TG_ENVELOPE_HELPERS_H
#define TEST_TG_ENVELOPE_HELPERS_H

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "tg_envelope.h"

#define TE_FN static __attribute__((unused))

/* A header under construction, written with msgpack-c directly so that the
   tests can produce what tg_envelope_encode never would. */
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
} header_t;

TE_FN void header_init(header_t *h, size_t pairs)
{
    msgpack_sbuffer_init(&h->buffer);
    msgpack_packer_init(&h->packer, &h->buffer, msgpack_sbuffer_write);
    msgpack_pack_map(&h->packer, pairs);
}

TE_FN void pack_str(header_t *h, const char *text)
{
    msgpack_pack_str(&h->packer, strlen(text));
    msgpack_pack_str_body(&h->packer, text, strlen(text));
}

TE_FN void pack_raw_str(header_t *h, const char *bytes, size_t len)
{
    msgpack_pack_str(&h->packer, len);
    msgpack_pack_str_body(&h->packer, bytes, len);
}

TE_FN void pack_uint(header_t *h, uint64_t value)
{
    msgpack_pack_uint64(&h->packer, value);
}

/* Key/value helpers. */
TE_FN void kv_str(header_t *h, const char *key, const char *value)
{
    pack_str(h, key);
    pack_str(h, value);
}

TE_FN void kv_uint(header_t *h, const char *key, uint64_t value)
{
    pack_str(h, key);
    pack_uint(h, value);
}

/* A message [command, header bytes, extra frames...]; frees the header. */
TE_FN zmsg_t *header_msg(header_t *h, const char *command, int extra_frames)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, command);
    zmsg_addmem(msg, h->buffer.data, h->buffer.size);
    msgpack_sbuffer_destroy(&h->buffer);
    for (int i = 0; i < extra_frames; i++)
        zmsg_addmem(msg, "\x80", 1); /* an empty msgpack map */
    return msg;
}

TE_FN zmsg_t *raw_msg(const char *command, const void *header, size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, command);
    zmsg_addmem(msg, header, size);
    return msg;
}

/* Decodes msg, expecting a refusal with exactly `reason`. */
TE_FN void expect_malformed(zmsg_t *msg, const char *reason)
{
    const char *why = NULL;
    tg_envelope_t *env = tg_envelope_decode(&msg, &why);
    cr_assert_null(env);
    cr_assert_null(msg, "decode must take the message even when refusing it");
    cr_assert_not_null(why);
    cr_assert_str_eq(why, reason);
}

TE_FN tg_envelope_t *expect_decoded(zmsg_t *msg)
{
    const char *why = NULL;
    tg_envelope_t *env = tg_envelope_decode(&msg, &why);
    cr_assert_not_null(env, "refused: %s", why ? why : "?");
    cr_assert_null(msg);
    return env;
}

/* Encode then decode: the copy that crossed the wire. */
TE_FN tg_envelope_t *round_trip(tg_envelope_t *env)
{
    zmsg_t *msg = tg_envelope_encode(env);
    cr_assert_not_null(msg);
    return expect_decoded(msg);
}

TE_FN zframe_t *body_frame(void)
{
    /* {"a": 1} */
    return zframe_new("\x81\xa1\x61\x01", 4);
}

TE_FN void kv_true(header_t *h, const char *key)
{
    pack_str(h, key);
    msgpack_pack_true(&h->packer);
}

#endif
