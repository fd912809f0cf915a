/*  tg_envelope_decode: bytes from another process -> tg_envelope_t.
    See tg_envelope.h and docs/protocol.md.

    Decode is written for hostile bytes: a structural pre-scan bounds every
    length and count by the bytes actually present (so msgpack-c never
    allocates more than a small multiple of the frame), msgpack-c then builds
    the object tree in a zone, and every field is type- and bound-checked
    before it is copied out. All failures leave through one `malformed:` label.
*/
#include "tg_alloc.h"
#include "tg_envelope.h"
#include "tg_envelope_wire.h"
#include "tg_utf8.h"

#include <msgpack.h>
#include <string.h>

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
            tg_envelope_strings_free(list, i);
            return -1;
        }
    }
    *list_p = list;
    *count_p = count;
    return 0;
}

/* An array of ids in [1, 2^53], between min_count and max_count of them
   (a non-NULL list even when empty). Returns -1 on any bad item. */
static int s_get_id_list(const msgpack_object *o, size_t min_count, size_t max_count,
                         uint64_t **ids_p, size_t *count_p)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < min_count ||
        o->via.array.size > max_count)
        return -1;
    size_t count = o->via.array.size;
    uint64_t *ids = (uint64_t *)tg_malloc(sizeof(uint64_t) * (count ? count : 1));
    for (size_t i = 0; i < count; i++)
        if (!s_get_id(&o->via.array.ptr[i], &ids[i])) {
            free(ids);
            return -1;
        }
    *ids_p = ids;
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
            tg_envelope_strings_free(fields, count);
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
static int s_decode_field(tg_envelope_t *self, tg_envelope_field_t field, const msgpack_object *val)
{
    switch (field) {
    case TG_FIELD_V:
        return 0; /* checked before the other fields */
    case TG_FIELD_REQ:
        return s_get_id(val, &self->req) ? 0 : -1;
    case TG_FIELD_TOPIC:
        return (self->topic = s_get_string(val, 1, TG_MAX_TOPIC)) ? 0 : -1;
    case TG_FIELD_TO_USERS:
        return s_get_string_list(val, TG_MAX_TO_USERS, TG_MAX_ID_STRING, &self->to_users,
                                 &self->to_users_count);
    case TG_FIELD_PUB_ID:
        return s_get_id(val, &self->pub_id) ? 0 : -1;
    case TG_FIELD_TS:
        return s_get_uint(val, 0, TG_MAX_ID, &self->ts) ? 0 : -1;
    case TG_FIELD_AUDIENCE:
        if (!(self->audience = s_get_string(val, 1, TG_MAX_TOPIC)))
            return -1;
        return tg_audience_validate(self->audience);
    case TG_FIELD_GUARANTEED:
        return s_get_bool(val, &self->guaranteed) ? 0 : -1;
    case TG_FIELD_TYPE:
        return (self->event_type = s_get_event_type(val)) ? 0 : -1;
    case TG_FIELD_MATCH:
        if (val->type != MSGPACK_OBJECT_STR)
            return -1;
        return tg_envelope_match_parse_n(val->via.str.ptr, val->via.str.size, &self->match);
    case TG_FIELD_FILTER:
        /* An empty filter is carried as is (the router decides what it
           means); absent is "no filter". */
        return (self->filter = s_get_string(val, 0, TG_MAX_FILTER_BYTES)) ? 0 : -1;
    case TG_FIELD_SUB_ID:
        return s_get_id(val, &self->sub_id) ? 0 : -1;
    case TG_FIELD_ERROR:
        return (self->error = s_get_string(val, 1, TG_MAX_TOPIC)) ? 0 : -1;
    case TG_FIELD_MESSAGE:
        return (self->message = s_get_string(val, 0, TG_MAX_ERROR_TEXT)) ? 0 : -1;
    case TG_FIELD_ROLE:
        return (self->role = s_get_string(val, 1, TG_MAX_ID_STRING)) ? 0 : -1;
    case TG_FIELD_INSTANCE:
        return (self->instance = s_get_string(val, 1, TG_MAX_ID_STRING)) ? 0 : -1;
    case TG_FIELD_KNOWN:
        return s_get_bool(val, &self->known) ? 0 : -1;
    case TG_FIELD_UPTIME_MS:
        return s_get_uint(val, 0, TG_MAX_ID, &self->uptime_ms) ? 0 : -1;
    case TG_FIELD_STATS:
        return s_get_stats(val, &self->stats, &self->stats_count);
    case TG_FIELD_PROCESSES:
        return s_get_processes(val, self);
    case TG_FIELD_JTI:
        return (self->jti = s_get_string(val, 1, TG_MAX_JTI)) ? 0 : -1;
    case TG_FIELD_EXP:
        return s_get_uint(val, 0, TG_MAX_ID, &self->exp) ? 0 : -1;
    case TG_FIELD_ENDPOINT:
        return (self->endpoint = s_get_string(val, 0, TG_MAX_TOPIC)) ? 0 : -1;
    case TG_FIELD_EVENT_NAME:
        return (self->event_name = s_get_string(val, 1, TG_MAX_MONITOR_EVENT)) ? 0 : -1;
    case TG_FIELD_VALUE:
        return s_get_int64(val, &self->value) ? 0 : -1;
    case TG_FIELD_SIZE:
        return s_get_uint(val, 0, TG_MAX_ID, &self->size) ? 0 : -1;
    case TG_FIELD_MATCHED:
        return s_get_uint(val, 0, TG_MAX_ID, &self->matched) ? 0 : -1;
    case TG_FIELD_EDGES:
        return s_get_uint(val, 0, TG_MAX_ID, &self->edges) ? 0 : -1;
    case TG_FIELD_CLIENT_ID:
        return (self->client_id = s_get_string(val, 1, TG_MAX_CLIENT_ID)) ? 0 : -1;
    case TG_FIELD_PERSISTENT:
        return s_get_bool(val, &self->persistent) ? 0 : -1;
    case TG_FIELD_SINCE:
        return s_get_id(val, &self->since) ? 0 : -1;
    case TG_FIELD_REPLAY:
        return s_get_bool(val, &self->replay) ? 0 : -1;
    case TG_FIELD_EXPIRES_AT:
        return s_get_uint(val, 0, TG_MAX_ID, &self->expires_at) ? 0 : -1;
    case TG_FIELD_SUB_IDS:
        /* STORE's header: the persist-held matches, possibly none. */
        return s_get_id_list(val, 0, TG_MAX_SUB_IDS, &self->sub_ids, &self->sub_ids_count);
    case TG_FIELD_PUB_IDS:
        return s_get_id_list(val, 1, TG_MAX_ACK_IDS, &self->pub_ids, &self->pub_ids_count);
    case TG_FIELD_UPTO:
        return s_get_id(val, &self->upto) ? 0 : -1;
    case TG_FIELD_COUNT:
        break;
    }
    return -1;
}

/* The sub_ids frame of an EVENT to an edge: a msgpack array of 1 to
   TG_MAX_SUB_IDS ids, each in [1, 2^53], and nothing else. Fills
   self->sub_ids; returns NULL or a static reason. */
static const char *s_decode_sub_ids(tg_envelope_t *self, zframe_t *frame)
{
    const char *data = (const char *)zframe_data(frame);
    size_t size = zframe_size(frame);
    const char *why = NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t offset = 0;
    if (s_prescan((const uint8_t *)data, size) ||
        msgpack_unpack_next(&unpacked, data, size, &offset) != MSGPACK_UNPACK_SUCCESS ||
        offset != size) {
        why = "bad frame: sub_ids";
        goto done;
    }
    const msgpack_object *array = &unpacked.data;
    if (array->type != MSGPACK_OBJECT_ARRAY || array->via.array.size == 0 ||
        array->via.array.size > TG_MAX_SUB_IDS) {
        why = "bad frame: sub_ids";
        goto done;
    }
    self->sub_ids = (uint64_t *)tg_malloc(sizeof(uint64_t) * array->via.array.size);
    self->sub_ids_count = array->via.array.size;
    for (uint32_t i = 0; i < array->via.array.size; i++)
        if (!s_get_id(&array->via.array.ptr[i], &self->sub_ids[i])) {
            why = "bad frame: sub_ids";
            goto done;
        }
done:
    msgpack_unpacked_destroy(&unpacked);
    return why;
}

static const char *s_decode_header(tg_envelope_t *self, const tg_envelope_command_info_t *info,
                                   const msgpack_object *map);

/* The stored EVENT header frame of a STORE or REPLAY: exactly one msgpack
   map that is a valid EVENT header as the router sends edges (pub_id, ts,
   topic and audience). Its EVENT fields are moved into self (its req, if
   any, is not: self's req is the STORE's or REPLAY's own). Returns NULL or
   a static reason. */
static const char *s_decode_stored(tg_envelope_t *self, zframe_t *frame)
{
    static const char bad[] = "bad frame: stored event";
    const char *data = (const char *)zframe_data(frame);
    size_t size = zframe_size(frame);
    const char *why = NULL;
    tg_envelope_t *event = NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t offset = 0;
    if (s_prescan((const uint8_t *)data, size) ||
        msgpack_unpack_next(&unpacked, data, size, &offset) != MSGPACK_UNPACK_SUCCESS ||
        offset != size || unpacked.data.type != MSGPACK_OBJECT_MAP) {
        why = bad;
        goto done;
    }
    event = tg_envelope_new(TG_CMD_EVENT);
    if (s_decode_header(event, tg_envelope_command_info(TG_CMD_EVENT), &unpacked.data) ||
        !event->audience) {
        why = bad;
        goto done;
    }
    self->topic = event->topic;
    event->topic = NULL;
    self->to_users = event->to_users;
    self->to_users_count = event->to_users_count;
    event->to_users = NULL;
    event->to_users_count = 0;
    self->audience = event->audience;
    event->audience = NULL;
    self->pub_id = event->pub_id;
    self->ts = event->ts;
    self->guaranteed = event->guaranteed;
done:
    tg_envelope_destroy(&event);
    msgpack_unpacked_destroy(&unpacked);
    return why;
}

/* Field of a key, or TG_FIELD_COUNT when the key is not one we know. */
static tg_envelope_field_t s_field_lookup(const msgpack_object *key)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return TG_FIELD_COUNT;
    for (int f = 0; f < TG_FIELD_COUNT; f++)
        if (s_key_is(key, tg_envelope_fields[f].key))
            return (tg_envelope_field_t)f;
    return TG_FIELD_COUNT;
}

/* The rules between fields: a persistent subscription names its client
   (persist keys it by client_id), a RESUME asks for something (persistent
   or since), an ACK acknowledges something (pub_ids or upto). Returns NULL
   or a static reason. */
static const char *s_check_together(const tg_envelope_t *self)
{
    if (self->persistent && !self->client_id)
        return tg_envelope_fields[TG_FIELD_CLIENT_ID].missing;
    if (self->command == TG_CMD_RESUME && !self->persistent && self->since == 0)
        return "missing field: persistent or since";
    if (self->command == TG_CMD_ACK && self->pub_ids_count == 0 && self->upto == 0)
        return "missing field: pub_ids or upto";
    return NULL;
}

/* Fills self from the header map; returns NULL or a static reason. */
static const char *s_decode_header(tg_envelope_t *self, const tg_envelope_command_info_t *info,
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
        return tg_envelope_fields[TG_FIELD_V].missing;
    if (version->type != MSGPACK_OBJECT_POSITIVE_INTEGER || version->via.u64 == 0)
        return tg_envelope_fields[TG_FIELD_V].bad;
    if (version->via.u64 != TG_PROTOCOL_VERSION)
        return "unsupported version";

    uint64_t seen = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        tg_envelope_field_t field = s_field_lookup(&kv->key);
        if (field == TG_FIELD_COUNT || field == TG_FIELD_V ||
            !(info->allowed & TG_FIELD_BIT(field)))
            continue; /* unknown here: ignored, for forward compatibility */
        if (seen & TG_FIELD_BIT(field))
            return "duplicate field";
        seen |= TG_FIELD_BIT(field);
        if (s_decode_field(self, field, &kv->val) != 0)
            return tg_envelope_fields[field].bad;
    }
    uint64_t missing = info->required & ~seen;
    for (int f = 0; f < TG_FIELD_COUNT; f++)
        if (missing & TG_FIELD_BIT(f))
            return tg_envelope_fields[f].missing;
    return s_check_together(self);
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
    const tg_envelope_command_info_t *info =
        tg_envelope_command_lookup(zframe_data(frame), zframe_size(frame), &command);
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
    if (info->relayed)
        self->raw_header = frame; /* kept as received, for tg_envelope_relay */
    else
        zframe_destroy(&frame);
    frame = NULL;

    if (info->has_stored) {
        self->stored = zmsg_pop(msg);
        if (!self->stored) {
            why = "missing stored event";
            goto malformed;
        }
        if ((why = s_decode_stored(self, self->stored)))
            goto malformed;
    }
    if (info->has_body) {
        self->body = zmsg_pop(msg);
        if (!self->body) {
            why = "missing body";
            goto malformed;
        }
    }
    if (tg_envelope_has_sub_ids_frame(self)) {
        frame = zmsg_pop(msg);
        if (!frame) {
            why = "missing sub_ids";
            goto malformed;
        }
        if ((why = s_decode_sub_ids(self, frame)))
            goto malformed;
        zframe_destroy(&frame);
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
