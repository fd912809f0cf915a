/*  tg_envelope: the internal protocol codec. See tg_envelope.h and
    docs/protocol.md.

    Decode is written for hostile bytes: a structural pre-scan bounds every
    length and count by the bytes actually present (so msgpack-c never
    allocates more than a small multiple of the frame), msgpack-c then builds
    the object tree in a zone, and every field is type- and bound-checked
    before it is copied out. All failures leave through one `malformed:` label.
*/
#include "tg_envelope.h"

#include <msgpack.h>
#include <string.h>

/* The header fields. A bit per field in the command table below. */
typedef enum {
    F_V,
    F_REQ,
    F_TOPIC,
    F_TO_USERS,
    F_PUB_ID,
    F_TS,
    F_AUDIENCE,
    F_GUARANTEED,
    F_SUB_IDS,
    F_TYPE,
    F_MATCH,
    F_FILTER,
    F_SUB_ID,
    F_ERROR,
    F_MESSAGE,
    F_ROLE,
    F_INSTANCE,
    F_KNOWN,
    F_UPTIME_MS,
    F_STATS,
    F_PROCESSES,
    F_COUNT
} s_field_t;

/* Key on the wire, and the static reasons decode reports for it. */
typedef struct {
    const char *key;
    const char *bad;
    const char *missing;
} s_field_info_t;

#define S_FIELD(k) k, "bad field: " k, "missing field: " k
static const s_field_info_t s_fields[F_COUNT] = {
    [F_V] = {S_FIELD("v")},
    [F_REQ] = {S_FIELD("req")},
    [F_TOPIC] = {S_FIELD("topic")},
    [F_TO_USERS] = {S_FIELD("to_users")},
    [F_PUB_ID] = {S_FIELD("pub_id")},
    [F_TS] = {S_FIELD("ts")},
    [F_AUDIENCE] = {S_FIELD("audience")},
    [F_GUARANTEED] = {S_FIELD("guaranteed")},
    [F_SUB_IDS] = {S_FIELD("sub_ids")},
    [F_TYPE] = {S_FIELD("type")},
    [F_MATCH] = {S_FIELD("match")},
    [F_FILTER] = {S_FIELD("filter")},
    [F_SUB_ID] = {S_FIELD("sub_id")},
    [F_ERROR] = {S_FIELD("error")},
    [F_MESSAGE] = {S_FIELD("message")},
    [F_ROLE] = {S_FIELD("role")},
    [F_INSTANCE] = {S_FIELD("instance")},
    [F_KNOWN] = {S_FIELD("known")},
    [F_UPTIME_MS] = {S_FIELD("uptime_ms")},
    [F_STATS] = {S_FIELD("stats")},
    [F_PROCESSES] = {S_FIELD("processes")},
};

#define B(f) (1u << (f))

/* Per command: its name, the fields it carries (others are ignored like
   unknown keys, so an envelope only ever holds its command's fields), those
   it must carry, and whether a body frame follows the header. Booleans in
   `allowed` are always encoded; other optional fields when set. */
typedef struct {
    const char *name;
    uint32_t allowed;
    uint32_t required;
    bool has_body;
} s_command_info_t;

static const s_command_info_t s_commands[] = {
    [TG_CMD_PUBLISH] = {"PUBLISH", B(F_REQ) | B(F_TOPIC) | B(F_TO_USERS), B(F_TOPIC), true},
    [TG_CMD_REGISTER] = {"REGISTER", B(F_REQ) | B(F_TYPE), B(F_TYPE), false},
    [TG_CMD_ACCEPTED] = {"ACCEPTED", B(F_REQ) | B(F_PUB_ID), B(F_REQ), false},
    [TG_CMD_REJECTED] = {"REJECTED", B(F_REQ) | B(F_ERROR) | B(F_MESSAGE), B(F_REQ) | B(F_ERROR),
                         false},
    [TG_CMD_EVENT] = {"EVENT",
                      B(F_PUB_ID) | B(F_TS) | B(F_TOPIC) | B(F_TO_USERS) | B(F_AUDIENCE) |
                          B(F_GUARANTEED) | B(F_SUB_IDS),
                      B(F_PUB_ID) | B(F_TS) | B(F_TOPIC), true},
    [TG_CMD_HELLO] = {"HELLO", B(F_ROLE) | B(F_INSTANCE), B(F_ROLE) | B(F_INSTANCE), false},
    [TG_CMD_WELCOME] = {"WELCOME", B(F_INSTANCE), B(F_INSTANCE), false},
    [TG_CMD_HEARTBEAT] = {"HEARTBEAT", B(F_INSTANCE) | B(F_KNOWN) | B(F_UPTIME_MS) | B(F_STATS),
                          B(F_INSTANCE), false},
    [TG_CMD_SUBSCRIBE] = {"SUBSCRIBE", B(F_REQ) | B(F_TOPIC) | B(F_MATCH) | B(F_FILTER),
                          B(F_REQ) | B(F_TOPIC) | B(F_MATCH), false},
    [TG_CMD_SUBSCRIBED] = {"SUBSCRIBED", B(F_REQ) | B(F_SUB_ID), B(F_REQ) | B(F_SUB_ID), false},
    [TG_CMD_SUBSCRIBE_ERROR] = {"SUBSCRIBE_ERROR", B(F_REQ) | B(F_ERROR) | B(F_MESSAGE),
                                B(F_REQ) | B(F_ERROR), false},
    [TG_CMD_UNSUBSCRIBE] = {"UNSUBSCRIBE", B(F_SUB_ID), B(F_SUB_ID), false},
    [TG_CMD_STATUS] = {"STATUS", B(F_REQ), B(F_REQ), false},
    [TG_CMD_STATUS_REPLY] = {"STATUS_REPLY", B(F_REQ) | B(F_PROCESSES), B(F_REQ), false},
};
#define S_COMMANDS_END ((int)(sizeof s_commands / sizeof s_commands[0]))

static const s_command_info_t *s_command_info(tg_command_t command)
{
    if ((int)command < TG_CMD_PUBLISH || (int)command >= S_COMMANDS_END)
        return NULL;
    return &s_commands[command];
}

const char *tg_command_name(tg_command_t command)
{
    const s_command_info_t *info = s_command_info(command);
    return info ? info->name : "?";
}

static const char *s_match_names[] = {"exact", "prefix", "wildcard"};

const char *tg_match_name(tg_match_t match)
{
    if ((int)match < 0 || (int)match > TG_MATCH_WILDCARD)
        return "?";
    return s_match_names[match];
}

static int s_match_parse_n(const char *text, size_t len, tg_match_t *match)
{
    for (int i = TG_MATCH_EXACT; i <= TG_MATCH_WILDCARD; i++)
        if (strlen(s_match_names[i]) == len && memcmp(s_match_names[i], text, len) == 0) {
            *match = (tg_match_t)i;
            return 0;
        }
    return -1;
}

int tg_match_parse(const char *text, tg_match_t *match)
{
    assert(match);
    if (!text)
        return -1;
    return s_match_parse_n(text, strlen(text), match);
}

bool tg_utf8_valid(const char *data, size_t len)
{
    const uint8_t *s = (const uint8_t *)data;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        uint32_t min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else
            return false; /* continuation byte, overlong lead or > U+10FFFF */
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

tg_envelope_t *tg_envelope_new(tg_command_t command)
{
    assert(s_command_info(command));
    tg_envelope_t *self = (tg_envelope_t *)zmalloc(sizeof(tg_envelope_t));
    self->command = command;
    return self;
}

static void s_strings_free(char **strings, size_t count)
{
    if (!strings)
        return;
    for (size_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

void tg_envelope_destroy(tg_envelope_t **self_p)
{
    assert(self_p);
    tg_envelope_t *self = *self_p;
    if (!self)
        return;
    free(self->topic);
    s_strings_free(self->to_users, self->to_users_count);
    free(self->audience);
    free(self->sub_ids);
    tg_event_type_destroy(&self->event_type);
    free(self->filter);
    free(self->error);
    free(self->message);
    free(self->role);
    free(self->instance);
    free(self->stats);
    for (size_t i = 0; i < self->processes_count; i++) {
        free(self->processes[i].role);
        free(self->processes[i].instance);
        free(self->processes[i].stats);
    }
    free(self->processes);
    zframe_destroy(&self->body);
    free(self);
    *self_p = NULL;
}

void tg_envelope_add_stat(tg_envelope_t *self, const char *name, int64_t value)
{
    assert(self);
    assert(name && strlen(name) > 0 && strlen(name) < TG_MAX_STAT_NAME);
    assert(self->stats_count < TG_MAX_STATS);
    tg_stat_t *stats =
        (tg_stat_t *)realloc(self->stats, (self->stats_count + 1) * sizeof(tg_stat_t));
    assert(stats);
    self->stats = stats;
    tg_stat_t *stat = &self->stats[self->stats_count++];
    memset(stat, 0, sizeof *stat);
    memcpy(stat->name, name, strlen(name));
    stat->value = value;
}

/* --- decoding ---------------------------------------------------------- */

/* Reads a big-endian unsigned of `width` bytes. */
static uint64_t s_be(const uint8_t *p, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++)
        value = (value << 8) | p[i];
    return value;
}

/* What a msgpack lead byte in 0xc0..0xdf announces: a length or count
   prefix of `width` bytes, `skip` fixed payload bytes, and how to read the
   prefix. (Lead bytes outside that range are fixed-size or fixint/fixstr/
   fixarray/fixmap, handled in s_prescan.) */
typedef enum { S_SCALAR, S_BYTES, S_ARRAY, S_MAP, S_EXT, S_INVALID } s_lead_kind_t;
typedef struct {
    uint8_t width;
    uint8_t skip;
    uint8_t kind;
} s_lead_t;

static const s_lead_t s_leads[32] = {
    {0, 0, S_SCALAR},  /* c0 nil */
    {0, 0, S_INVALID}, /* c1 never used */
    {0, 0, S_SCALAR},  /* c2 false */
    {0, 0, S_SCALAR},  /* c3 true */
    {1, 0, S_BYTES},   /* c4 bin 8 */
    {2, 0, S_BYTES},   /* c5 bin 16 */
    {4, 0, S_BYTES},   /* c6 bin 32 */
    {1, 1, S_EXT},     /* c7 ext 8 (+ type byte) */
    {2, 1, S_EXT},     /* c8 ext 16 */
    {4, 1, S_EXT},     /* c9 ext 32 */
    {0, 4, S_SCALAR},  /* ca float 32 */
    {0, 8, S_SCALAR},  /* cb float 64 */
    {0, 1, S_SCALAR},  /* cc uint 8 */
    {0, 2, S_SCALAR},  /* cd uint 16 */
    {0, 4, S_SCALAR},  /* ce uint 32 */
    {0, 8, S_SCALAR},  /* cf uint 64 */
    {0, 1, S_SCALAR},  /* d0 int 8 */
    {0, 2, S_SCALAR},  /* d1 int 16 */
    {0, 4, S_SCALAR},  /* d2 int 32 */
    {0, 8, S_SCALAR},  /* d3 int 64 */
    {0, 2, S_SCALAR},  /* d4 fixext 1 */
    {0, 3, S_SCALAR},  /* d5 fixext 2 */
    {0, 5, S_SCALAR},  /* d6 fixext 4 */
    {0, 9, S_SCALAR},  /* d7 fixext 8 */
    {0, 17, S_SCALAR}, /* d8 fixext 16 */
    {1, 0, S_BYTES},   /* d9 str 8 */
    {2, 0, S_BYTES},   /* da str 16 */
    {4, 0, S_BYTES},   /* db str 32 */
    {2, 0, S_ARRAY},   /* dc array 16 */
    {4, 0, S_ARRAY},   /* dd array 32 */
    {2, 0, S_MAP},     /* de map 16 */
    {4, 0, S_MAP},     /* df map 32 */
};

/* Walks the msgpack encoding of exactly one object filling [data, size).
   Every length must fit in the bytes left and every array/map count must be
   at most the bytes left (each item takes at least one byte), so that
   msgpack-c, which allocates count * sizeof(msgpack_object) before reading
   the items, allocates O(size). Returns NULL or a static reason. */
static const char *s_prescan(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    size_t pending = 1; /* objects still to read; never exceeds size */
    while (pending > 0) {
        if (pos >= size)
            return "truncated msgpack";
        uint8_t b = data[pos++];
        pending--;
        size_t skip = 0;  /* payload bytes to step over */
        size_t items = 0; /* objects that follow: 1 per array item, 2 per map pair */
        if (b <= 0x7f || b >= 0xe0)
            ; /* positive or negative fixint */
        else if (b <= 0x8f)
            items = 2 * (size_t)(b & 0x0f);
        else if (b <= 0x9f)
            items = b & 0x0f;
        else if (b <= 0xbf)
            skip = b & 0x1f;
        else {
            const s_lead_t *lead = &s_leads[b - 0xc0];
            if (lead->kind == S_INVALID)
                return "bad msgpack";
            if (size - pos < lead->width)
                return "truncated msgpack";
            uint64_t n = s_be(data + pos, lead->width);
            pos += lead->width;
            skip = lead->skip;
            if (lead->kind == S_BYTES || lead->kind == S_EXT)
                skip += (size_t)n;
            else if (lead->kind == S_ARRAY)
                items = (size_t)n;
            else if (lead->kind == S_MAP)
                items = 2 * (size_t)n;
        }
        if (skip > size - pos)
            return "truncated msgpack";
        pos += skip;
        if (items > size - pos)
            return "truncated msgpack";
        pending += items;
    }
    return pos == size ? NULL : "trailing bytes";
}

static bool s_key_is(const msgpack_object *key, const char *name)
{
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen(name) &&
           memcmp(key->via.str.ptr, name, key->via.str.size) == 0;
}

static bool s_get_uint(const msgpack_object *o, uint64_t min, uint64_t max, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 < min || o->via.u64 > max)
        return false;
    *out = o->via.u64;
    return true;
}

static bool s_get_id(const msgpack_object *o, uint64_t *out)
{
    return s_get_uint(o, 1, TG_MAX_ID, out);
}

static bool s_get_int64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    return false;
}

static bool s_get_bool(const msgpack_object *o, bool *out)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *out = o->via.boolean;
    return true;
}

/* True when o is a string of [min, max] bytes of UTF-8 without NUL. */
static bool s_string_ok(const msgpack_object *o, size_t min, size_t max)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return false;
    size_t len = o->via.str.size;
    if (len < min || len > max)
        return false;
    if (len > 0 && memchr(o->via.str.ptr, '\0', len))
        return false;
    return tg_utf8_valid(o->via.str.ptr, len);
}

/* Caller owns the result: a checked copy, or NULL when o is not a string of
   [min, max] bytes of UTF-8 without NUL. */
static char *s_get_string(const msgpack_object *o, size_t min, size_t max)
{
    if (!s_string_ok(o, min, max))
        return NULL;
    char *copy = (char *)malloc(o->via.str.size + 1);
    assert(copy);
    if (o->via.str.size > 0)
        memcpy(copy, o->via.str.ptr, o->via.str.size);
    copy[o->via.str.size] = '\0';
    return copy;
}

/* Decodes an array of strings of [1, max_len] bytes, at most max_count. An
   empty array gives a non-NULL list with count 0 (to_users = [] means "no
   user", not "everybody"). Returns -1 on any bad item. */
static int s_get_string_list(const msgpack_object *o, size_t max_count, size_t max_len,
                             char ***list_p, size_t *count_p)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > max_count)
        return -1;
    size_t count = o->via.array.size;
    char **list = (char **)zmalloc(sizeof(char *) * (count ? count : 1));
    for (size_t i = 0; i < count; i++) {
        list[i] = s_get_string(&o->via.array.ptr[i], 1, max_len);
        if (!list[i]) {
            s_strings_free(list, i);
            return -1;
        }
    }
    *list_p = list;
    *count_p = count;
    return 0;
}

/* stats: a map of name -> signed integer. */
static int s_get_stats(const msgpack_object *o, tg_stat_t **stats_p, size_t *count_p)
{
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > TG_MAX_STATS)
        return -1;
    size_t count = o->via.map.size;
    tg_stat_t *stats = (tg_stat_t *)zmalloc(sizeof(tg_stat_t) * (count ? count : 1));
    for (size_t i = 0; i < count; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (!s_string_ok(&kv->key, 1, TG_MAX_STAT_NAME - 1) ||
            !s_get_int64(&kv->val, &stats[i].value)) {
            free(stats);
            return -1;
        }
        memcpy(stats[i].name, kv->key.via.str.ptr, kv->key.via.str.size);
    }
    *stats_p = stats;
    *count_p = count;
    return 0;
}

/* Caller owns the result, or NULL when `o` is not a valid event type map
   (tg_event_type_validate is part of decoding: a REGISTER carries a usable
   definition or is refused). */
static tg_event_type_t *s_get_event_type(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    const msgpack_object *name = NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (s_key_is(&o->via.map.ptr[i].key, "name")) {
            if (name)
                return NULL; /* duplicate key */
            name = &o->via.map.ptr[i].val;
        }
    if (!name || !s_string_ok(name, 1, TG_MAX_TOPIC))
        return NULL;
    tg_event_type_t *type = tg_event_type_new("");
    free(type->name);
    type->name = s_get_string(name, 1, TG_MAX_TOPIC);
    uint32_t seen = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key;
        const msgpack_object *val = &o->via.map.ptr[i].val;
        uint64_t ttl;
        int which = s_key_is(key, "fields")           ? 0
                    : s_key_is(key, "audience")       ? 1
                    : s_key_is(key, "ttl")            ? 2
                    : s_key_is(key, "guaranteed")     ? 3
                    : s_key_is(key, "client_publish") ? 4
                                                      : -1;
        if (which < 0)
            continue;
        if (seen & (1u << which))
            goto malformed;
        seen |= 1u << which;
        if (which == 0) {
            char **fields;
            size_t count;
            if (s_get_string_list(val, TG_MAX_FIELDS, TG_MAX_FIELD_NAME, &fields, &count))
                goto malformed;
            tg_event_type_set_fields(type, (const char *const *)fields, count);
            s_strings_free(fields, count);
        } else if (which == 1) {
            free(type->audience);
            type->audience = s_get_string(val, 1, TG_MAX_TOPIC);
            if (!type->audience)
                goto malformed;
        } else if (which == 2) {
            if (!s_get_uint(val, 0, TG_MAX_TTL, &ttl))
                goto malformed;
            type->ttl = (uint32_t)ttl;
        } else if (which == 3) {
            if (!s_get_bool(val, &type->guaranteed))
                goto malformed;
        } else if (!s_get_bool(val, &type->client_publish))
            goto malformed;
    }
    if (tg_event_type_validate(type, NULL) != 0)
        goto malformed;
    return type;
malformed:
    tg_event_type_destroy(&type);
    return NULL;
}

/* processes: an array of {role, instance, uptime_ms, last_seen_ms, stats}. */
static int s_get_processes(const msgpack_object *o, tg_envelope_t *self)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > TG_MAX_PROCESSES)
        return -1;
    size_t count = o->via.array.size;
    self->processes =
        (tg_process_status_t *)zmalloc(sizeof(tg_process_status_t) * (count ? count : 1));
    for (size_t i = 0; i < count; i++) {
        /* Counted before filling so destroy frees a half-decoded entry. */
        self->processes_count = i + 1;
        tg_process_status_t *process = &self->processes[i];
        const msgpack_object *map = &o->via.array.ptr[i];
        if (map->type != MSGPACK_OBJECT_MAP)
            return -1;
        for (uint32_t k = 0; k < map->via.map.size; k++) {
            const msgpack_object *key = &map->via.map.ptr[k].key;
            const msgpack_object *val = &map->via.map.ptr[k].val;
            if (s_key_is(key, "role")) {
                if (process->role)
                    return -1;
                if (!(process->role = s_get_string(val, 1, TG_MAX_ID_STRING)))
                    return -1;
            } else if (s_key_is(key, "instance")) {
                if (process->instance)
                    return -1;
                if (!(process->instance = s_get_string(val, 1, TG_MAX_ID_STRING)))
                    return -1;
            } else if (s_key_is(key, "uptime_ms")) {
                if (!s_get_uint(val, 0, TG_MAX_ID, &process->uptime_ms))
                    return -1;
            } else if (s_key_is(key, "last_seen_ms")) {
                if (!s_get_uint(val, 0, TG_MAX_ID, &process->last_seen_ms))
                    return -1;
            } else if (s_key_is(key, "stats")) {
                if (process->stats)
                    return -1;
                if (s_get_stats(val, &process->stats, &process->stats_count))
                    return -1;
            }
        }
        if (!process->role || !process->instance)
            return -1;
    }
    return 0;
}

/* Decodes one known field into self; returns -1 when its value is bad. */
static int s_decode_field(tg_envelope_t *self, s_field_t field, const msgpack_object *val)
{
    switch (field) {
    case F_V:
        return 0; /* checked before the other fields */
    case F_REQ:
        return s_get_id(val, &self->req) ? 0 : -1;
    case F_TOPIC:
        return (self->topic = s_get_string(val, 1, TG_MAX_TOPIC)) ? 0 : -1;
    case F_TO_USERS:
        return s_get_string_list(val, TG_MAX_TO_USERS, TG_MAX_ID_STRING, &self->to_users,
                                 &self->to_users_count);
    case F_PUB_ID:
        return s_get_id(val, &self->pub_id) ? 0 : -1;
    case F_TS:
        return s_get_uint(val, 0, TG_MAX_ID, &self->ts) ? 0 : -1;
    case F_AUDIENCE:
        if (!(self->audience = s_get_string(val, 1, TG_MAX_TOPIC)))
            return -1;
        return tg_audience_validate(self->audience);
    case F_GUARANTEED:
        return s_get_bool(val, &self->guaranteed) ? 0 : -1;
    case F_SUB_IDS:
        if (val->type != MSGPACK_OBJECT_ARRAY || val->via.array.size > TG_MAX_SUB_IDS)
            return -1;
        self->sub_ids = (uint64_t *)zmalloc(sizeof(uint64_t) * (val->via.array.size + 1));
        self->sub_ids_count = val->via.array.size;
        for (uint32_t i = 0; i < val->via.array.size; i++)
            if (!s_get_id(&val->via.array.ptr[i], &self->sub_ids[i]))
                return -1;
        return 0;
    case F_TYPE:
        return (self->event_type = s_get_event_type(val)) ? 0 : -1;
    case F_MATCH:
        if (val->type != MSGPACK_OBJECT_STR)
            return -1;
        return s_match_parse_n(val->via.str.ptr, val->via.str.size, &self->match);
    case F_FILTER:
        /* An empty filter is carried as is (the router decides what it
           means); absent is "no filter". */
        return (self->filter = s_get_string(val, 0, TG_MAX_FILTER_BYTES)) ? 0 : -1;
    case F_SUB_ID:
        return s_get_id(val, &self->sub_id) ? 0 : -1;
    case F_ERROR:
        return (self->error = s_get_string(val, 1, TG_MAX_TOPIC)) ? 0 : -1;
    case F_MESSAGE:
        return (self->message = s_get_string(val, 0, TG_MAX_ERROR_TEXT)) ? 0 : -1;
    case F_ROLE:
        return (self->role = s_get_string(val, 1, TG_MAX_ID_STRING)) ? 0 : -1;
    case F_INSTANCE:
        return (self->instance = s_get_string(val, 1, TG_MAX_ID_STRING)) ? 0 : -1;
    case F_KNOWN:
        return s_get_bool(val, &self->known) ? 0 : -1;
    case F_UPTIME_MS:
        return s_get_uint(val, 0, TG_MAX_ID, &self->uptime_ms) ? 0 : -1;
    case F_STATS:
        return s_get_stats(val, &self->stats, &self->stats_count);
    case F_PROCESSES:
        return s_get_processes(val, self);
    case F_COUNT:
        break;
    }
    return -1;
}

/* Field of a key, or F_COUNT when the key is not one we know. */
static s_field_t s_field_lookup(const msgpack_object *key)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return F_COUNT;
    for (int f = 0; f < F_COUNT; f++)
        if (s_key_is(key, s_fields[f].key))
            return (s_field_t)f;
    return F_COUNT;
}

/* Fills self from the header map; returns NULL or a static reason. */
static const char *s_decode_header(tg_envelope_t *self, const s_command_info_t *info,
                                   const msgpack_object *map)
{
    /* The version first, so a newer peer's unfamiliar field types are
       reported as what they are: an unsupported version. */
    const msgpack_object *version = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (s_key_is(&map->via.map.ptr[i].key, "v")) {
            if (version)
                return "duplicate field";
            version = &map->via.map.ptr[i].val;
        }
    if (!version)
        return s_fields[F_V].missing;
    if (version->type != MSGPACK_OBJECT_POSITIVE_INTEGER || version->via.u64 == 0)
        return s_fields[F_V].bad;
    if (version->via.u64 != TG_PROTOCOL_VERSION)
        return "unsupported version";

    uint32_t seen = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        s_field_t field = s_field_lookup(&kv->key);
        if (field == F_COUNT || field == F_V || !(info->allowed & B(field)))
            continue; /* unknown here: ignored, for forward compatibility */
        if (seen & B(field))
            return "duplicate field";
        seen |= B(field);
        if (s_decode_field(self, field, &kv->val) != 0)
            return s_fields[field].bad;
    }
    uint32_t missing = info->required & ~seen;
    for (int f = 0; f < F_COUNT; f++)
        if (missing & B(f))
            return s_fields[f].missing;
    return NULL;
}

static const s_command_info_t *s_command_lookup(zframe_t *frame, tg_command_t *command)
{
    size_t size = zframe_size(frame);
    const byte *data = zframe_data(frame);
    for (int c = TG_CMD_PUBLISH; c < S_COMMANDS_END; c++) {
        const char *name = s_commands[c].name;
        if (strlen(name) == size && memcmp(name, data, size) == 0) {
            *command = (tg_command_t)c;
            return &s_commands[c];
        }
    }
    return NULL;
}

tg_envelope_t *tg_envelope_decode(zmsg_t **msg_p, const char **reason)
{
    assert(msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    tg_envelope_t *self = NULL;
    zframe_t *frame = NULL;
    const char *why = NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);

    if (!msg || zmsg_size(msg) == 0) {
        why = "empty message";
        goto malformed;
    }
    frame = zmsg_pop(msg);
    tg_command_t command;
    const s_command_info_t *info = s_command_lookup(frame, &command);
    if (!info) {
        why = "unknown command";
        goto malformed;
    }
    zframe_destroy(&frame);

    frame = zmsg_pop(msg);
    if (!frame) {
        why = "missing header";
        goto malformed;
    }
    const char *data = (const char *)zframe_data(frame);
    size_t size = zframe_size(frame);
    if ((why = s_prescan((const uint8_t *)data, size)))
        goto malformed;
    size_t offset = 0;
    if (msgpack_unpack_next(&unpacked, data, size, &offset) != MSGPACK_UNPACK_SUCCESS) {
        why = "bad msgpack";
        goto malformed;
    }
    if (offset != size) {
        why = "trailing bytes";
        goto malformed;
    }
    if (unpacked.data.type != MSGPACK_OBJECT_MAP) {
        why = "header is not a map";
        goto malformed;
    }
    self = tg_envelope_new(command);
    if ((why = s_decode_header(self, info, &unpacked.data)))
        goto malformed;
    zframe_destroy(&frame);

    if (info->has_body) {
        self->body = zmsg_pop(msg);
        if (!self->body) {
            why = "missing body";
            goto malformed;
        }
    }
    if (zmsg_size(msg) > 0) {
        why = info->has_body ? "extra frames" : "unexpected body";
        if (zmsg_size(msg) > 1)
            why = "extra frames";
        goto malformed;
    }
    msgpack_unpacked_destroy(&unpacked);
    zmsg_destroy(&msg);
    if (reason)
        *reason = NULL;
    return self;

malformed:
    msgpack_unpacked_destroy(&unpacked);
    zframe_destroy(&frame);
    tg_envelope_destroy(&self);
    zmsg_destroy(&msg);
    if (reason)
        *reason = why;
    return NULL;
}

/* --- encoding ---------------------------------------------------------- */

static void s_pack_string(msgpack_packer *pk, const char *text)
{
    size_t len = strlen(text);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, text, len);
}

static void s_pack_stats(msgpack_packer *pk, const tg_stat_t *stats, size_t count)
{
    assert(count <= TG_MAX_STATS);
    assert(stats || count == 0);
    msgpack_pack_map(pk, count);
    for (size_t i = 0; i < count; i++) {
        assert(strnlen(stats[i].name, TG_MAX_STAT_NAME) < TG_MAX_STAT_NAME);
        assert(stats[i].name[0]);
        s_pack_string(pk, stats[i].name);
        msgpack_pack_int64(pk, stats[i].value);
    }
}

static void s_pack_event_type(msgpack_packer *pk, const tg_event_type_t *type)
{
    assert(tg_event_type_validate(type, NULL) == 0);
    msgpack_pack_map(pk, type->has_fields ? 6 : 5);
    s_pack_string(pk, "name");
    s_pack_string(pk, type->name);
    if (type->has_fields) {
        s_pack_string(pk, "fields");
        msgpack_pack_array(pk, type->fields_count);
        for (size_t i = 0; i < type->fields_count; i++)
            s_pack_string(pk, type->fields[i]);
    }
    s_pack_string(pk, "audience");
    s_pack_string(pk, type->audience);
    s_pack_string(pk, "ttl");
    msgpack_pack_uint32(pk, type->ttl);
    s_pack_string(pk, "guaranteed");
    if (type->guaranteed)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    s_pack_string(pk, "client_publish");
    if (type->client_publish)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static void s_pack_processes(msgpack_packer *pk, const tg_envelope_t *self)
{
    assert(self->processes_count <= TG_MAX_PROCESSES);
    msgpack_pack_array(pk, self->processes_count);
    for (size_t i = 0; i < self->processes_count; i++) {
        const tg_process_status_t *process = &self->processes[i];
        assert(process->role && process->instance);
        msgpack_pack_map(pk, 5);
        s_pack_string(pk, "role");
        s_pack_string(pk, process->role);
        s_pack_string(pk, "instance");
        s_pack_string(pk, process->instance);
        s_pack_string(pk, "uptime_ms");
        msgpack_pack_uint64(pk, process->uptime_ms);
        s_pack_string(pk, "last_seen_ms");
        msgpack_pack_uint64(pk, process->last_seen_ms);
        s_pack_string(pk, "stats");
        s_pack_stats(pk, process->stats, process->stats_count);
    }
}

/* True when `field` of self holds a value worth encoding. */
static bool s_field_set(const tg_envelope_t *self, s_field_t field)
{
    switch (field) {
    case F_V:
    case F_TS:
    case F_MATCH:
    case F_GUARANTEED:
    case F_KNOWN:
    case F_UPTIME_MS:
    case F_PROCESSES:
        return true; /* always on the wire when the command carries them */
    case F_REQ:
        return self->req != 0;
    case F_TOPIC:
        return self->topic != NULL;
    case F_TO_USERS:
        return self->to_users != NULL;
    case F_PUB_ID:
        return self->pub_id != 0;
    case F_AUDIENCE:
        return self->audience != NULL;
    case F_SUB_IDS:
        return self->sub_ids_count > 0;
    case F_TYPE:
        return self->event_type != NULL;
    case F_FILTER:
        return self->filter != NULL;
    case F_SUB_ID:
        return self->sub_id != 0;
    case F_ERROR:
        return self->error != NULL;
    case F_MESSAGE:
        return self->message != NULL;
    case F_ROLE:
        return self->role != NULL;
    case F_INSTANCE:
        return self->instance != NULL;
    case F_STATS:
        return self->stats_count > 0;
    case F_COUNT:
        break;
    }
    return false;
}

static void s_pack_bounded(msgpack_packer *pk, const char *text, size_t min, size_t max)
{
    size_t len = strlen(text);
    assert(len >= min && len <= max);
    s_pack_string(pk, text);
}

static void s_pack_field(msgpack_packer *pk, const tg_envelope_t *self, s_field_t field)
{
    s_pack_string(pk, s_fields[field].key);
    switch (field) {
    case F_V:
        msgpack_pack_uint32(pk, TG_PROTOCOL_VERSION);
        break;
    case F_REQ:
        assert(self->req <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->req);
        break;
    case F_TOPIC:
        s_pack_bounded(pk, self->topic, 1, TG_MAX_TOPIC);
        break;
    case F_TO_USERS:
        assert(self->to_users_count <= TG_MAX_TO_USERS);
        msgpack_pack_array(pk, self->to_users_count);
        for (size_t i = 0; i < self->to_users_count; i++)
            s_pack_bounded(pk, self->to_users[i], 1, TG_MAX_ID_STRING);
        break;
    case F_PUB_ID:
        assert(self->pub_id <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->pub_id);
        break;
    case F_TS:
        assert(self->ts <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->ts);
        break;
    case F_AUDIENCE:
        assert(tg_audience_validate(self->audience) == 0);
        s_pack_string(pk, self->audience);
        break;
    case F_GUARANTEED:
        if (self->guaranteed)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case F_SUB_IDS:
        assert(self->sub_ids && self->sub_ids_count <= TG_MAX_SUB_IDS);
        msgpack_pack_array(pk, self->sub_ids_count);
        for (size_t i = 0; i < self->sub_ids_count; i++) {
            assert(self->sub_ids[i] >= 1 && self->sub_ids[i] <= TG_MAX_ID);
            msgpack_pack_uint64(pk, self->sub_ids[i]);
        }
        break;
    case F_TYPE:
        s_pack_event_type(pk, self->event_type);
        break;
    case F_MATCH:
        assert((int)self->match >= TG_MATCH_EXACT && (int)self->match <= TG_MATCH_WILDCARD);
        s_pack_string(pk, tg_match_name(self->match));
        break;
    case F_FILTER:
        s_pack_bounded(pk, self->filter, 0, TG_MAX_FILTER_BYTES);
        break;
    case F_SUB_ID:
        assert(self->sub_id <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->sub_id);
        break;
    case F_ERROR:
        s_pack_bounded(pk, self->error, 1, TG_MAX_TOPIC);
        break;
    case F_MESSAGE:
        s_pack_bounded(pk, self->message, 0, TG_MAX_ERROR_TEXT);
        break;
    case F_ROLE:
        s_pack_bounded(pk, self->role, 1, TG_MAX_ID_STRING);
        break;
    case F_INSTANCE:
        s_pack_bounded(pk, self->instance, 1, TG_MAX_ID_STRING);
        break;
    case F_KNOWN:
        if (self->known)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case F_UPTIME_MS:
        assert(self->uptime_ms <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->uptime_ms);
        break;
    case F_STATS:
        s_pack_stats(pk, self->stats, self->stats_count);
        break;
    case F_PROCESSES:
        s_pack_processes(pk, self);
        break;
    case F_COUNT:
        assert(false);
    }
}

zmsg_t *tg_envelope_encode(tg_envelope_t *self)
{
    assert(self);
    const s_command_info_t *info = s_command_info(self->command);
    assert(info);
    uint32_t present = B(F_V);
    for (int f = 0; f < F_COUNT; f++)
        if ((info->allowed & B(f)) && s_field_set(self, (s_field_t)f))
            present |= B(f);
    /* A required field left unset is a bug in the caller. */
    assert((info->required & present) == info->required);
    assert(info->has_body == (self->body != NULL));

    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    msgpack_packer packer;
    msgpack_packer_init(&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map(&packer, (size_t)__builtin_popcount(present));
    for (int f = 0; f < F_COUNT; f++)
        if (present & B(f))
            s_pack_field(&packer, self, (s_field_t)f);

    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, info->name);
    zmsg_addmem(msg, buffer.data, buffer.size);
    msgpack_sbuffer_destroy(&buffer);
    if (self->body)
        zmsg_append(msg, &self->body); /* moved: nulls self->body */
    return msg;
}

/* Sends every frame with ZMQ_DONTWAIT; destroys *msg_p. ZeroMQ checks the
   high-water mark and (ROUTER_MANDATORY) routability on the first frame of a
   message only, so a failure happens before anything was queued. */
static int s_send_nonblocking(zmsg_t **msg_p, zsock_t *sock)
{
    zmsg_t *msg = *msg_p;
    void *handle = zsock_resolve(sock);
    assert(handle);
    int rc = 0;
    size_t remaining = zmsg_size(msg);
    while (remaining > 0) {
        zframe_t *frame = zmsg_pop(msg);
        remaining--;
        int flags = ZFRAME_DONTWAIT | (remaining > 0 ? ZFRAME_MORE : 0);
        if (zframe_send(&frame, handle, flags) != 0) {
            zframe_destroy(&frame);
            rc = -1; /* EAGAIN (full), EHOSTUNREACH (unknown peer), ... */
            break;
        }
    }
    zmsg_destroy(msg_p);
    return rc;
}

int tg_envelope_send(tg_envelope_t *self, zsock_t *sock)
{
    assert(self);
    assert(sock);
    zmsg_t *msg = tg_envelope_encode(self);
    return s_send_nonblocking(&msg, sock);
}

int tg_envelope_send_to(tg_envelope_t *self, zsock_t *sock, zframe_t *routing_id)
{
    assert(self);
    assert(sock);
    assert(routing_id);
    zmsg_t *msg = tg_envelope_encode(self);
    zframe_t *copy = zframe_dup(routing_id);
    zmsg_prepend(msg, &copy);
    return s_send_nonblocking(&msg, sock);
}
