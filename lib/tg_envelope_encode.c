/*  tg_envelope_encode: tg_envelope_t -> the message another process decodes.
    See tg_envelope.h and docs/protocol.md.

    Encoding trusts its caller: the envelope comes from our own code, so a
    missing required field or a value out of bounds is a bug and asserts
    (decode, facing other processes' bytes, never does).
*/
#include "tg_alloc.h"
#include "tg_envelope.h"
#include "tg_envelope_wire.h"

#include <msgpack.h>
#include <string.h>

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
static bool s_field_set(const tg_envelope_t *self, tg_envelope_field_t field)
{
    switch (field) {
    case TG_FIELD_V:
    case TG_FIELD_TS:
    case TG_FIELD_MATCH:
    case TG_FIELD_GUARANTEED:
    case TG_FIELD_KNOWN:
    case TG_FIELD_UPTIME_MS:
    case TG_FIELD_PROCESSES:
    case TG_FIELD_EXP:
    case TG_FIELD_VALUE:
    case TG_FIELD_SIZE:
    case TG_FIELD_MATCHED:
    case TG_FIELD_EDGES:
    case TG_FIELD_EXPIRES_AT:
    case TG_FIELD_SUB_IDS:
        return true; /* always on the wire when the command carries them */
    case TG_FIELD_PERSISTENT:
        return self->persistent; /* flags of the persistence commands: absent = false */
    case TG_FIELD_REPLAY:
        return self->replay;
    case TG_FIELD_CLIENT_ID:
        return self->client_id != NULL;
    case TG_FIELD_SINCE:
        return self->since != 0;
    case TG_FIELD_PUB_IDS:
        return self->pub_ids_count > 0;
    case TG_FIELD_UPTO:
        return self->upto != 0;
    case TG_FIELD_REQ:
        return self->req != 0;
    case TG_FIELD_TOPIC:
        return self->topic != NULL;
    case TG_FIELD_TO_USERS:
        return self->to_users != NULL;
    case TG_FIELD_PUB_ID:
        return self->pub_id != 0;
    case TG_FIELD_AUDIENCE:
        return self->audience != NULL;
    case TG_FIELD_TYPE:
        return self->event_type != NULL;
    case TG_FIELD_FILTER:
        return self->filter != NULL;
    case TG_FIELD_SUB_ID:
        return self->sub_id != 0;
    case TG_FIELD_ERROR:
        return self->error != NULL;
    case TG_FIELD_MESSAGE:
        return self->message != NULL;
    case TG_FIELD_ROLE:
        return self->role != NULL;
    case TG_FIELD_INSTANCE:
        return self->instance != NULL;
    case TG_FIELD_STATS:
        return self->stats_count > 0;
    case TG_FIELD_JTI:
        return self->jti != NULL;
    case TG_FIELD_ENDPOINT:
        return self->endpoint != NULL;
    case TG_FIELD_EVENT_NAME:
        return self->event_name != NULL;
    case TG_FIELD_COUNT:
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

/* An array of `count` ids in [1, 2^53] (at most max). */
static void s_pack_ids(msgpack_packer *pk, const uint64_t *ids, size_t count, size_t max)
{
    assert(count <= max && (ids || count == 0));
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count; i++) {
        assert(ids[i] >= 1 && ids[i] <= TG_MAX_ID);
        msgpack_pack_uint64(pk, ids[i]);
    }
}

static void s_pack_field(msgpack_packer *pk, const tg_envelope_t *self, tg_envelope_field_t field)
{
    s_pack_string(pk, tg_envelope_fields[field].key);
    switch (field) {
    case TG_FIELD_V:
        msgpack_pack_uint32(pk, TG_PROTOCOL_VERSION);
        break;
    case TG_FIELD_REQ:
        assert(self->req <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->req);
        break;
    case TG_FIELD_TOPIC:
        s_pack_bounded(pk, self->topic, 1, TG_MAX_TOPIC);
        break;
    case TG_FIELD_TO_USERS:
        assert(self->to_users_count <= TG_MAX_TO_USERS);
        msgpack_pack_array(pk, self->to_users_count);
        for (size_t i = 0; i < self->to_users_count; i++)
            s_pack_bounded(pk, self->to_users[i], 1, TG_MAX_ID_STRING);
        break;
    case TG_FIELD_PUB_ID:
        assert(self->pub_id <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->pub_id);
        break;
    case TG_FIELD_TS:
        assert(self->ts <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->ts);
        break;
    case TG_FIELD_AUDIENCE:
        assert(tg_audience_validate(self->audience) == 0);
        s_pack_string(pk, self->audience);
        break;
    case TG_FIELD_GUARANTEED:
        if (self->guaranteed)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case TG_FIELD_TYPE:
        s_pack_event_type(pk, self->event_type);
        break;
    case TG_FIELD_MATCH:
        assert((int)self->match >= TG_MATCH_EXACT && (int)self->match <= TG_MATCH_WILDCARD);
        s_pack_string(pk, tg_match_name(self->match));
        break;
    case TG_FIELD_FILTER:
        s_pack_bounded(pk, self->filter, 0, TG_MAX_FILTER_BYTES);
        break;
    case TG_FIELD_SUB_ID:
        assert(self->sub_id <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->sub_id);
        break;
    case TG_FIELD_ERROR:
        s_pack_bounded(pk, self->error, 1, TG_MAX_TOPIC);
        break;
    case TG_FIELD_MESSAGE:
        s_pack_bounded(pk, self->message, 0, TG_MAX_ERROR_TEXT);
        break;
    case TG_FIELD_ROLE:
        s_pack_bounded(pk, self->role, 1, TG_MAX_ID_STRING);
        break;
    case TG_FIELD_INSTANCE:
        s_pack_bounded(pk, self->instance, 1, TG_MAX_ID_STRING);
        break;
    case TG_FIELD_KNOWN:
        if (self->known)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case TG_FIELD_UPTIME_MS:
        assert(self->uptime_ms <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->uptime_ms);
        break;
    case TG_FIELD_STATS:
        s_pack_stats(pk, self->stats, self->stats_count);
        break;
    case TG_FIELD_PROCESSES:
        s_pack_processes(pk, self);
        break;
    case TG_FIELD_JTI:
        s_pack_bounded(pk, self->jti, 1, TG_MAX_JTI);
        break;
    case TG_FIELD_EXP:
        assert(self->exp <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->exp);
        break;
    case TG_FIELD_ENDPOINT:
        s_pack_bounded(pk, self->endpoint, 0, TG_MAX_TOPIC);
        break;
    case TG_FIELD_EVENT_NAME:
        s_pack_bounded(pk, self->event_name, 1, TG_MAX_MONITOR_EVENT);
        break;
    case TG_FIELD_VALUE:
        msgpack_pack_int64(pk, self->value);
        break;
    case TG_FIELD_SIZE:
        assert(self->size <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->size);
        break;
    case TG_FIELD_MATCHED:
        assert(self->matched <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->matched);
        break;
    case TG_FIELD_EDGES:
        assert(self->edges <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->edges);
        break;
    case TG_FIELD_CLIENT_ID:
        s_pack_bounded(pk, self->client_id, 1, TG_MAX_CLIENT_ID);
        break;
    case TG_FIELD_PERSISTENT:
        msgpack_pack_true(pk); /* only encoded when true */
        break;
    case TG_FIELD_REPLAY:
        msgpack_pack_true(pk);
        break;
    case TG_FIELD_SINCE:
        assert(self->since <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->since);
        break;
    case TG_FIELD_EXPIRES_AT:
        assert(self->expires_at <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->expires_at);
        break;
    case TG_FIELD_SUB_IDS:
        s_pack_ids(pk, self->sub_ids, self->sub_ids_count, TG_MAX_SUB_IDS);
        break;
    case TG_FIELD_PUB_IDS:
        s_pack_ids(pk, self->pub_ids, self->pub_ids_count, TG_MAX_ACK_IDS);
        break;
    case TG_FIELD_UPTO:
        assert(self->upto <= TG_MAX_ID);
        msgpack_pack_uint64(pk, self->upto);
        break;
    case TG_FIELD_COUNT:
        assert(false);
    }
}

/* The header frame of self (the fields of its command that are set).
   Caller owns the result. */
static zframe_t *s_encode_header(const tg_envelope_t *self, const tg_envelope_command_info_t *info)
{
    uint64_t present = TG_FIELD_BIT(TG_FIELD_V);
    for (int f = 0; f < TG_FIELD_COUNT; f++)
        if ((info->allowed & TG_FIELD_BIT(f)) && s_field_set(self, (tg_envelope_field_t)f))
            present |= TG_FIELD_BIT(f);
    /* A required field left unset, or fields that go together apart, is
       a bug in the caller. */
    assert((info->required & present) == info->required);
    assert(!self->persistent || self->client_id);
    assert(self->command != TG_CMD_RESUME || self->persistent || self->since);
    assert(self->command != TG_CMD_ACK || self->pub_ids_count || self->upto);

    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    msgpack_packer packer;
    msgpack_packer_init(&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map(&packer, (size_t)__builtin_popcountll(present));
    for (int f = 0; f < TG_FIELD_COUNT; f++)
        if (present & TG_FIELD_BIT(f))
            s_pack_field(&packer, self, (tg_envelope_field_t)f);
    zframe_t *header = zframe_new(buffer.data, buffer.size);
    msgpack_sbuffer_destroy(&buffer);
    return header;
}

/* A bounded output buffer for msgpack_packer (the sub_ids frame). */
typedef struct {
    uint8_t *data;
    size_t size;
    size_t used;
} s_fixed_buffer_t;

static int s_fixed_write(void *data, const char *buf, size_t len)
{
    s_fixed_buffer_t *out = data;
    tg_check(len <= out->size - out->used);
    memcpy(out->data + out->used, buf, len);
    out->used += len;
    return 0;
}

/* Bytes the sub_ids frame of `count` ids takes at most: an array32 head
   and a uint64 per id. */
static size_t s_sub_ids_max(size_t count)
{
    return 5 + 9 * count;
}

/* Packs the sub_ids frame (a msgpack array of ids) into out[0..size);
   returns the bytes written. 1 to TG_MAX_SUB_IDS ids in [1, 2^53] (our
   own data: anything else is a bug). */
static size_t s_pack_sub_ids(const uint64_t *sub_ids, size_t count, uint8_t *out, size_t size)
{
    assert(sub_ids && count >= 1 && count <= TG_MAX_SUB_IDS);
    s_fixed_buffer_t buffer = {out, size, 0};
    msgpack_packer packer;
    msgpack_packer_init(&packer, &buffer, s_fixed_write);
    msgpack_pack_array(&packer, count);
    for (size_t i = 0; i < count; i++) {
        assert(sub_ids[i] >= 1 && sub_ids[i] <= TG_MAX_ID);
        msgpack_pack_uint64(&packer, sub_ids[i]);
    }
    return buffer.used;
}

zmsg_t *tg_envelope_encode(tg_envelope_t *self)
{
    assert(self);
    const tg_envelope_command_info_t *info = tg_envelope_command_info(self->command);
    assert(info);
    assert(info->has_body == (self->body != NULL));
    assert(info->has_stored == (self->stored != NULL));
    bool has_sub_ids = tg_envelope_has_sub_ids_frame(self);
    /* sub_ids travel to edges in their frame after the body, to persist in
       STORE's header. */
    assert(has_sub_ids || self->sub_ids_count == 0 ||
           (info->allowed & TG_FIELD_BIT(TG_FIELD_SUB_IDS)));

    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, info->name);
    zframe_t *header = s_encode_header(self, info);
    zmsg_append(msg, &header);
    if (self->stored)
        zmsg_append(msg, &self->stored); /* moved: nulls self->stored */
    if (self->body)
        zmsg_append(msg, &self->body); /* moved: nulls self->body */
    if (has_sub_ids) {
        size_t max = s_sub_ids_max(self->sub_ids_count);
        uint8_t *bytes = tg_malloc(max);
        size_t used = s_pack_sub_ids(self->sub_ids, self->sub_ids_count, bytes, max);
        zmsg_addmem(msg, bytes, used);
        free(bytes);
    }
    return msg;
}

zframe_t *tg_envelope_event_header(const tg_envelope_t *event, const char *audience,
                                   bool guaranteed)
{
    assert(event && event->command == TG_CMD_EVENT && audience);
    /* A view of the event's fields with the type's two: read here, never
       owned nor freed (the event keeps its own). */
    tg_envelope_t view = {
        .command = TG_CMD_EVENT,
        .topic = event->topic,
        .to_users = event->to_users,
        .to_users_count = event->to_users_count,
        .pub_id = event->pub_id,
        .ts = event->ts,
        .audience = (char *)audience,
        .guaranteed = guaranteed,
    };
    return s_encode_header(&view, tg_envelope_command_info(TG_CMD_EVENT));
}

/* Sends a borrowed frame's bytes shared (zmq_msg_copy: a reference, no
   copy), non-blocking. */
static int s_send_shared(zframe_t *frame, void *handle, bool more)
{
    return zframe_send(&frame, handle, ZFRAME_REUSE | ZFRAME_DONTWAIT | (more ? ZFRAME_MORE : 0));
}

int tg_envelope_event_send(zsock_t *sock, zframe_t *routing_id, zframe_t *header, zframe_t *body,
                           const uint64_t *sub_ids, size_t count)
{
    assert(sock && routing_id && header && body);
    void *handle = zsock_resolve(sock);
    /* ZeroMQ checks the high-water mark and (ROUTER_MANDATORY) the peer on
       the first frame only: a failure there means nothing was queued. */
    if (s_send_shared(routing_id, handle, true) != 0)
        return -1;
    static const char command[] = "EVENT";
    zmq_send_const(handle, command, sizeof command - 1, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    s_send_shared(header, handle, true);
    s_send_shared(body, handle, true);
    /* Small on the stack (one edge rarely holds many of an event's
       subscriptions); larger on the heap. */
    uint8_t small[256];
    size_t max = s_sub_ids_max(count);
    uint8_t *bytes = max <= sizeof small ? small : tg_malloc(max);
    size_t used = s_pack_sub_ids(sub_ids, count, bytes, max);
    zmq_send(handle, bytes, used, ZMQ_DONTWAIT);
    if (bytes != small)
        free(bytes);
    return 0;
}

int tg_envelope_send_frames(tg_envelope_t *self, zsock_t *sock, zframe_t *routing_id,
                            zframe_t *stored, zframe_t *body)
{
    assert(self && sock && stored && body);
    const tg_envelope_command_info_t *info = tg_envelope_command_info(self->command);
    assert(info && info->has_stored && info->has_body && !self->stored && !self->body);
    void *handle = zsock_resolve(sock);
    zframe_t *header = s_encode_header(self, info);
    /* As tg_envelope_event_send: a failure on the first frame means nothing
       was queued. */
    int rc = 0;
    if (routing_id && s_send_shared(routing_id, handle, true) != 0)
        rc = -1;
    else if (zmq_send(handle, info->name, strlen(info->name), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        rc = -1; /* a DEALER with no peer or full: nothing queued */
    else {
        zframe_send(&header, handle, ZFRAME_MORE | ZFRAME_DONTWAIT);
        s_send_shared(stored, handle, true);
        s_send_shared(body, handle, false);
    }
    zframe_destroy(&header);
    return rc;
}
