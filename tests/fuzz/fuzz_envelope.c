/*  libFuzzer target for tg_envelope_decode.

    The input is split into frames: each frame is a 2-byte big-endian length
    followed by that many bytes (the last frame takes whatever is left when
    the length runs past the end). Up to 8 frames. When the first byte is
    below TG_CMD_LAST (the last command), it instead selects a valid command name for
    frame 0 and the rest of the input gives the other frames: this lets a
    run without a seed corpus get past the command name at once.

    Properties checked: decode never crashes, leaks or reads out of bounds
    (ASan/UBSan/LSan), and whatever it accepts re-encodes without tripping an
    encode assertion, decodes again, and encodes to the same bytes (the codec
    is stable: what one process accepts, the next one accepts too). For an
    EVENT to an edge (an audience, so a sub_ids frame), the router's
    fan-out header (tg_envelope_event_header, encoded once per event) is
    byte for byte the header tg_envelope_encode writes. For a STORE or
    REPLAY, the stored EVENT header frame is carried byte for byte; a
    REPLAY or REPLAY_END keeps its header frame as received, for the
    router's relay.
*/
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tg_envelope.h"
#include "tg_log.h"

#define MAX_FRAMES 8

static zmsg_t *s_split(const uint8_t *data, size_t size)
{
    zmsg_t *msg = zmsg_new();
    size_t pos = 0;
    if (size > 0 && data[0] < TG_CMD_LAST) {
        zmsg_addstr(msg, tg_command_name((tg_command_t)(data[0] + 1)));
        pos = 1;
    }
    while (pos < size && zmsg_size(msg) < MAX_FRAMES) {
        size_t len = data[pos];
        if (pos + 1 < size)
            len = (len << 8) | data[pos + 1];
        pos += 2;
        if (pos > size)
            pos = size;
        if (len > size - pos)
            len = size - pos;
        zmsg_addmem(msg, data + pos, len);
        pos += len;
    }
    return msg;
}

/* Flattens all frames of msg (length-prefixed) for comparison. */
static size_t s_flatten(zmsg_t *msg, uint8_t **out)
{
    size_t total = 0;
    for (zframe_t *f = zmsg_first(msg); f; f = zmsg_next(msg))
        total += 4 + zframe_size(f);
    uint8_t *flat = (uint8_t *)malloc(total ? total : 1);
    size_t pos = 0;
    for (zframe_t *f = zmsg_first(msg); f; f = zmsg_next(msg)) {
        uint32_t len = (uint32_t)zframe_size(f);
        memcpy(flat + pos, &len, 4);
        memcpy(flat + pos + 4, zframe_data(f), len);
        pos += 4 + len;
    }
    *out = flat;
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zmsg_t *msg = s_split(data, size);
    const char *reason = NULL;
    tg_envelope_t *env = tg_envelope_decode(&msg, &reason);
    assert(msg == NULL);
    if (!env) {
        assert(reason != NULL);
        return 0;
    }
    if (env->command == TG_CMD_REPLAY || env->command == TG_CMD_REPLAY_END)
        assert(env->raw_header != NULL);
    zframe_t *stored = env->stored ? zframe_dup(env->stored) : NULL;
    zframe_t *fanout_header = env->command == TG_CMD_EVENT && env->audience
                                  ? tg_envelope_event_header(env, env->audience, env->guaranteed)
                                  : NULL;
    zmsg_t *first = tg_envelope_encode(env);
    if (fanout_header) {
        zmsg_first(first); /* the command */
        zframe_t *header = zmsg_next(first);
        assert(header && zframe_eq(header, fanout_header));
        zframe_destroy(&fanout_header);
    }
    if (stored) {
        zmsg_first(first);
        zmsg_next(first);
        assert(zframe_eq(zmsg_next(first), stored));
        zframe_destroy(&stored);
    }
    uint8_t *first_flat;
    size_t first_size = s_flatten(first, &first_flat);

    tg_envelope_t *again = tg_envelope_decode(&first, &reason);
    assert(again != NULL);
    assert(again->command == env->command);
    zmsg_t *second = tg_envelope_encode(again);
    uint8_t *second_flat;
    size_t second_size = s_flatten(second, &second_flat);
    assert(first_size == second_size);
    assert(memcmp(first_flat, second_flat, first_size) == 0);

    free(first_flat);
    free(second_flat);
    zmsg_destroy(&second);
    tg_envelope_destroy(&again);
    tg_envelope_destroy(&env);
    return 0;
}
