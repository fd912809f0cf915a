/*  tg_envelope: the internal protocol codec. See tg_envelope.h and
    docs/protocol.md.

    This file holds what decode and encode share (the key and command tables
    of tg_envelope_wire.h), the names, the envelope's lifetime and sending.
    Decoding is in tg_envelope_decode.c, encoding in tg_envelope_encode.c.
*/
#include "tg_envelope.h"
#include "tg_envelope_wire.h"

#include <string.h>

#define S_FIELD(k) k, "bad field: " k, "missing field: " k
const tg_envelope_field_info_t tg_envelope_fields[TG_FIELD_COUNT] = {
    [TG_FIELD_V] = {S_FIELD("v")},
    [TG_FIELD_REQ] = {S_FIELD("req")},
    [TG_FIELD_TOPIC] = {S_FIELD("topic")},
    [TG_FIELD_TO_USERS] = {S_FIELD("to_users")},
    [TG_FIELD_PUB_ID] = {S_FIELD("pub_id")},
    [TG_FIELD_TS] = {S_FIELD("ts")},
    [TG_FIELD_AUDIENCE] = {S_FIELD("audience")},
    [TG_FIELD_GUARANTEED] = {S_FIELD("guaranteed")},
    [TG_FIELD_TYPE] = {S_FIELD("type")},
    [TG_FIELD_MATCH] = {S_FIELD("match")},
    [TG_FIELD_FILTER] = {S_FIELD("filter")},
    [TG_FIELD_SUB_ID] = {S_FIELD("sub_id")},
    [TG_FIELD_ERROR] = {S_FIELD("error")},
    [TG_FIELD_MESSAGE] = {S_FIELD("message")},
    [TG_FIELD_ROLE] = {S_FIELD("role")},
    [TG_FIELD_INSTANCE] = {S_FIELD("instance")},
    [TG_FIELD_KNOWN] = {S_FIELD("known")},
    [TG_FIELD_UPTIME_MS] = {S_FIELD("uptime_ms")},
    [TG_FIELD_STATS] = {S_FIELD("stats")},
    [TG_FIELD_PROCESSES] = {S_FIELD("processes")},
    [TG_FIELD_JTI] = {S_FIELD("jti")},
    [TG_FIELD_EXP] = {S_FIELD("exp")},
    [TG_FIELD_ENDPOINT] = {S_FIELD("endpoint")},
    [TG_FIELD_EVENT_NAME] = {S_FIELD("event")},
    [TG_FIELD_VALUE] = {S_FIELD("value")},
    [TG_FIELD_SIZE] = {S_FIELD("size")},
    [TG_FIELD_MATCHED] = {S_FIELD("sub_ids_count")},
    [TG_FIELD_EDGES] = {S_FIELD("edges")},
    [TG_FIELD_CLIENT_ID] = {S_FIELD("client_id")},
    [TG_FIELD_PERSISTENT] = {S_FIELD("persistent")},
    [TG_FIELD_SINCE] = {S_FIELD("since")},
    [TG_FIELD_REPLAY] = {S_FIELD("replay")},
    [TG_FIELD_EXPIRES_AT] = {S_FIELD("expires_at")},
    [TG_FIELD_SUB_IDS] = {S_FIELD("sub_ids")},
    [TG_FIELD_PUB_IDS] = {S_FIELD("pub_ids")},
    [TG_FIELD_UPTO] = {S_FIELD("upto")},
};

/* The bit of field TG_FIELD_<f>, short enough to keep the table readable. */
#define B(f) TG_FIELD_BIT(TG_FIELD_##f)

/* See tg_envelope_command_info_t for what each column means. */
static const tg_envelope_command_info_t s_commands[] = {
    [TG_CMD_PUBLISH] = {"PUBLISH", B(REQ) | B(TOPIC) | B(TO_USERS), B(TOPIC), true, false, false},
    [TG_CMD_REGISTER] = {"REGISTER", B(REQ) | B(TYPE), B(TYPE), false, false, false},
    [TG_CMD_ACCEPTED] = {"ACCEPTED", B(REQ) | B(PUB_ID) | B(INSTANCE), B(REQ), false, false, false},
    [TG_CMD_REJECTED] = {"REJECTED", B(REQ) | B(ERROR) | B(MESSAGE) | B(PUB_ID) | B(INSTANCE),
                         B(REQ) | B(ERROR), false, false, false},
    [TG_CMD_EVENT] = {"EVENT",
                      B(REQ) | B(PUB_ID) | B(TS) | B(TOPIC) | B(TO_USERS) | B(AUDIENCE) |
                          B(GUARANTEED),
                      B(PUB_ID) | B(TS) | B(TOPIC), true, false, false},
    [TG_CMD_HELLO] = {"HELLO", B(ROLE) | B(INSTANCE), B(ROLE) | B(INSTANCE), false, false, false},
    [TG_CMD_WELCOME] = {"WELCOME", B(INSTANCE), B(INSTANCE), false, false, false},
    [TG_CMD_HEARTBEAT] = {"HEARTBEAT", B(INSTANCE) | B(KNOWN) | B(UPTIME_MS) | B(STATS),
                          B(INSTANCE), false, false, false},
    [TG_CMD_SUBSCRIBE] = {"SUBSCRIBE",
                          B(REQ) | B(TOPIC) | B(MATCH) | B(FILTER) | B(CLIENT_ID) | B(PERSISTENT) |
                              B(SINCE),
                          B(REQ) | B(TOPIC) | B(MATCH), false, false, false},
    [TG_CMD_SUBSCRIBED] = {"SUBSCRIBED", B(REQ) | B(SUB_ID) | B(REPLAY), B(REQ) | B(SUB_ID), false,
                           false, false},
    [TG_CMD_SUBSCRIBE_ERROR] = {"SUBSCRIBE_ERROR", B(REQ) | B(ERROR) | B(MESSAGE) | B(PUB_ID),
                                B(REQ) | B(ERROR), false, false, false},
    [TG_CMD_UNSUBSCRIBE] = {"UNSUBSCRIBE", B(SUB_ID) | B(CLIENT_ID), B(SUB_ID), false, false,
                            false},
    [TG_CMD_STATUS] = {"STATUS", B(REQ), B(REQ), false, false, false},
    [TG_CMD_STATUS_REPLY] = {"STATUS_REPLY", B(REQ) | B(PROCESSES), B(REQ), false, false, false},
    [TG_CMD_TOKEN_SPEND] = {"TOKEN_SPEND", B(REQ) | B(JTI) | B(EXP), B(JTI) | B(EXP), false, false,
                            false},
    [TG_CMD_MONITOR] = {"MONITOR",
                        B(ROLE) | B(INSTANCE) | B(ENDPOINT) | B(EVENT_NAME) | B(VALUE) | B(TS),
                        B(ROLE) | B(INSTANCE) | B(ENDPOINT) | B(EVENT_NAME), false, false, false},
    [TG_CMD_TAP] = {"TAP", B(TOPIC) | B(PUB_ID) | B(TS) | B(SIZE) | B(MATCHED) | B(EDGES),
                    B(TOPIC) | B(PUB_ID), true, false, false},
    [TG_CMD_STORE] = {"STORE", B(REQ) | B(EXPIRES_AT) | B(SUB_IDS), B(EXPIRES_AT) | B(SUB_IDS),
                      true, true, false},
    [TG_CMD_REPLAY] = {"REPLAY", B(REQ) | B(INSTANCE) | B(SUB_ID), B(REQ) | B(INSTANCE) | B(SUB_ID),
                       true, true, true},
    [TG_CMD_REPLAY_END] = {"REPLAY_END", B(REQ) | B(INSTANCE) | B(SUB_ID) | B(PUB_ID),
                           B(REQ) | B(INSTANCE) | B(SUB_ID), false, false, true},
    [TG_CMD_RESUME] = {"RESUME",
                       B(REQ) | B(INSTANCE) | B(SUB_ID) | B(TOPIC) | B(MATCH) | B(FILTER) |
                           B(CLIENT_ID) | B(PERSISTENT) | B(SINCE),
                       B(REQ) | B(INSTANCE) | B(SUB_ID) | B(TOPIC) | B(MATCH), false, false, false},
    [TG_CMD_MORE] = {"MORE", B(REQ) | B(INSTANCE), B(REQ) | B(INSTANCE), false, false, false},
    [TG_CMD_ACK] = {"ACK", B(CLIENT_ID) | B(SUB_ID) | B(PUB_IDS) | B(UPTO),
                    B(CLIENT_ID) | B(SUB_ID), false, false, false},
};
#define S_COMMANDS_END ((int)(sizeof s_commands / sizeof s_commands[0]))

const tg_envelope_command_info_t *tg_envelope_command_info(tg_command_t command)
{
    if ((int)command < TG_CMD_PUBLISH || (int)command >= S_COMMANDS_END)
        return NULL;
    return &s_commands[command];
}

const tg_envelope_command_info_t *tg_envelope_command_lookup(const byte *data, size_t size,
                                                             tg_command_t *command)
{
    for (int c = TG_CMD_PUBLISH; c < S_COMMANDS_END; c++) {
        const char *name = s_commands[c].name;
        if (strlen(name) == size && memcmp(name, data, size) == 0) {
            *command = (tg_command_t)c;
            return &s_commands[c];
        }
    }
    return NULL;
}

const char *tg_command_name(tg_command_t command)
{
    const tg_envelope_command_info_t *info = tg_envelope_command_info(command);
    return info ? info->name : "?";
}

static const char *s_match_names[] = {"exact", "prefix", "wildcard"};

const char *tg_match_name(tg_match_t match)
{
    if ((int)match < 0 || (int)match > TG_MATCH_WILDCARD)
        return "?";
    return s_match_names[match];
}

int tg_envelope_match_parse_n(const char *text, size_t len, tg_match_t *match)
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
    return tg_envelope_match_parse_n(text, strlen(text), match);
}

tg_envelope_t *tg_envelope_new(tg_command_t command)
{
    assert(tg_envelope_command_info(command));
    tg_envelope_t *self = (tg_envelope_t *)zmalloc(sizeof(tg_envelope_t));
    self->command = command;
    return self;
}

bool tg_envelope_has_sub_ids_frame(const tg_envelope_t *self)
{
    return self->command == TG_CMD_EVENT && self->audience != NULL;
}

void tg_envelope_strings_free(char **strings, size_t count)
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
    tg_envelope_strings_free(self->to_users, self->to_users_count);
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
    free(self->jti);
    free(self->endpoint);
    free(self->event_name);
    free(self->client_id);
    free(self->pub_ids);
    zframe_destroy(&self->body);
    zframe_destroy(&self->stored);
    zframe_destroy(&self->raw_header);
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

int tg_envelope_relay(tg_envelope_t *self, zsock_t *sock, zframe_t *routing_id)
{
    assert(self && sock && routing_id);
    const tg_envelope_command_info_t *info = tg_envelope_command_info(self->command);
    assert(info->relayed && self->raw_header);
    assert(info->has_stored == (self->stored != NULL) && info->has_body == (self->body != NULL));
    zmsg_t *msg = zmsg_new();
    zframe_t *copy = zframe_dup(routing_id);
    zmsg_append(msg, &copy);
    zmsg_addstr(msg, info->name);
    zmsg_append(msg, &self->raw_header); /* moved: nulls the fields */
    if (self->stored)
        zmsg_append(msg, &self->stored);
    if (self->body)
        zmsg_append(msg, &self->body);
    return s_send_nonblocking(&msg, sock);
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
