/*  tg_envelope_wire: private to the envelope codec.

    Included only by tg_envelope.c (tables, names, lifetime, sending),
    tg_envelope_decode.c and tg_envelope_encode.c: the only files that know
    the wire layout. Everything else uses the public tg_envelope.h; nothing
    here is a contract outside those three files.

    The header keys, which command carries and requires which of them, and
    the few helpers decode and encode (or the rest of the codec) share.
*/
#ifndef TG_ENVELOPE_WIRE_H
#define TG_ENVELOPE_WIRE_H

#include "tg_envelope.h"

/* The header fields. A bit per field in the command table below. */
typedef enum {
    TG_FIELD_V,
    TG_FIELD_REQ,
    TG_FIELD_TOPIC,
    TG_FIELD_TO_USERS,
    TG_FIELD_PUB_ID,
    TG_FIELD_TS,
    TG_FIELD_AUDIENCE,
    TG_FIELD_GUARANTEED,
    TG_FIELD_TYPE,
    TG_FIELD_MATCH,
    TG_FIELD_FILTER,
    TG_FIELD_SUB_ID,
    TG_FIELD_ERROR,
    TG_FIELD_MESSAGE,
    TG_FIELD_ROLE,
    TG_FIELD_INSTANCE,
    TG_FIELD_KNOWN,
    TG_FIELD_UPTIME_MS,
    TG_FIELD_STATS,
    TG_FIELD_PROCESSES,
    TG_FIELD_JTI,
    TG_FIELD_EXP,
    TG_FIELD_ENDPOINT,
    TG_FIELD_EVENT_NAME,
    TG_FIELD_VALUE,
    TG_FIELD_SIZE,
    TG_FIELD_MATCHED,
    TG_FIELD_EDGES,
    TG_FIELD_CLIENT_ID,
    TG_FIELD_PERSISTENT,
    TG_FIELD_SINCE,
    TG_FIELD_REPLAY,
    TG_FIELD_EXPIRES_AT,
    TG_FIELD_SUB_IDS,
    TG_FIELD_PUB_IDS,
    TG_FIELD_UPTO,
    TG_FIELD_COUNT
} tg_envelope_field_t;

#define TG_FIELD_BIT(field) (UINT64_C(1) << (field))
_Static_assert(TG_FIELD_COUNT <= 64, "field bits must fit the uint64_t masks");

/* Key on the wire, and the static reasons decode reports for it. */
typedef struct {
    const char *key;
    const char *bad;
    const char *missing;
} tg_envelope_field_info_t;

/* Indexed by tg_envelope_field_t (defined in tg_envelope.c). */
extern const tg_envelope_field_info_t tg_envelope_fields[TG_FIELD_COUNT];

/* Per command: its name, the fields it carries (others are ignored like
   unknown keys, so an envelope only ever holds its command's fields), those
   it must carry, whether a body frame follows the header, whether the
   stored EVENT header frame comes before that body (STORE, REPLAY), and
   whether decode keeps the header frame as received (relayed: REPLAY and
   REPLAY_END, which the router forwards unchanged). Booleans in `allowed`
   are always encoded (but persistent and replay only when true); other
   optional fields when set. */
typedef struct {
    const char *name;
    uint64_t allowed;
    uint64_t required;
    bool has_body;
    bool has_stored;
    bool relayed;
} tg_envelope_command_info_t;

/* The table entry of `command`, or NULL when it is not a command we know. */
const tg_envelope_command_info_t *tg_envelope_command_info(tg_command_t command);

/* The table entry whose name is exactly data[0..size) (frame 0 of a
   message, not NUL-terminated), setting *command; NULL when none is. */
const tg_envelope_command_info_t *tg_envelope_command_lookup(const byte *data, size_t size,
                                                             tg_command_t *command);

/* Like tg_match_parse, for text[0..len) that is not NUL-terminated (a
   msgpack string). Returns 0 and sets *match, or -1. */
int tg_envelope_match_parse_n(const char *text, size_t len, tg_match_t *match);

/* True when the message of `self` carries the sub_ids frame after its body:
   an EVENT from the router to an edge, which the header's audience marks
   (only the router sets it, from the event's type). */
bool tg_envelope_has_sub_ids_frame(const tg_envelope_t *self);

/* Frees the first `count` strings of `strings`, then the array; safe on
   NULL. */
void tg_envelope_strings_free(char **strings, size_t count);

#endif
