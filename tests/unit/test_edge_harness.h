/*  Shared fixture of the edge's unit tests (included by test_edge_*.c):
    a broker wired to a recording transport and a recording router, so the
    WAMP and fan-out behaviour runs in-process without sockets. Everything
    is static: each test binary includes it once.

    Time is the harness's, never the machine's: h.now starts at a monotonic
    0 ms (a machine booted a moment ago: the harshest case for code that
    would take 0 for "unset" or subtract below it) and a fixed wall clock,
    and moves only when a test says so (h_at). Tokens are minted against
    that wall clock.
*/
#ifndef TEST_EDGE_HARNESS_H
#define TEST_EDGE_HARNESS_H

#include <criterion/criterion.h>
#include <czmq.h>
#include <jansson.h>
#include <string.h>

#include "edge_broker.h"
#include "edge_frame.h"
#include "edge_session.h"
#include "tg_clock.h"
#include "tg_token.h"
#include "tg_wamp.h"

/* Not every test file uses every helper. */
#define H_FN static __attribute__((unused))

#define H_MAX_CONNS 16
#define H_MAX_SENT  128

/* The harness's clocks at the start of every test. */
#define H_MONO_START_MS 0
#define H_WALL_START_S  1700000000

/* A fake connection: what the session asked of its transport. */
typedef struct {
    int wakes;
    int closes;
    int kills;
    int close_code;
    char reason[128];
} h_conn_t;

/* One message the broker sent to the router (fields copied). */
typedef struct {
    tg_command_t command;
    uint64_t req;
    char topic[128];
    tg_match_t match;
    bool has_filter;
    uint64_t sub_id;
    char jti[TG_MAX_JTI + 1];             /* TOKEN_SPEND */
    uint64_t exp;                         /* TOKEN_SPEND */
    char client_id[TG_MAX_CLIENT_ID + 1]; /* SUBSCRIBE, UNSUBSCRIBE, ACK ("" = none) */
    bool persistent;                      /* SUBSCRIBE */
    uint64_t since;                       /* SUBSCRIBE */
    char instance[64];                    /* MORE */
    uint64_t pub_ids[8];                  /* ACK: the first ids */
    size_t pub_ids_count;                 /* ACK: how many there were */
    uint64_t upto;                        /* ACK */
} h_sent_t;

typedef struct {
    tg_config_t cfg;
    edge_broker_t *broker;
    tg_now_t now;              /* the time every call into the broker runs at */
    bool ready;                /* what router.ready answers */
    h_sent_t sent[H_MAX_SENT]; /* router messages, in order */
    size_t sent_count;
    h_conn_t conns[H_MAX_CONNS];
    edge_session_t *sessions[H_MAX_CONNS];
    size_t conn_count;
} harness_t;

H_FN void h_wake(void *handle)
{
    ((h_conn_t *)handle)->wakes++;
}

H_FN void h_close(void *handle, int code, const char *reason)
{
    h_conn_t *conn = handle;
    conn->closes++;
    conn->close_code = code;
    snprintf(conn->reason, sizeof(conn->reason), "%s", reason);
}

H_FN void h_kill(void *handle, int code, const char *reason)
{
    h_conn_t *conn = handle;
    conn->kills++;
    conn->close_code = code;
    snprintf(conn->reason, sizeof(conn->reason), "%s", reason);
}

static const edge_transport_t h_transport = {h_wake, h_close, h_kill};

H_FN int h_router_send(void *arg, tg_envelope_t *envelope)
{
    harness_t *h = arg;
    cr_assert_lt(h->sent_count, H_MAX_SENT);
    h_sent_t *sent = &h->sent[h->sent_count++];
    memset(sent, 0, sizeof(*sent));
    sent->command = envelope->command;
    sent->req = envelope->req;
    if (envelope->topic)
        snprintf(sent->topic, sizeof(sent->topic), "%s", envelope->topic);
    sent->match = envelope->match;
    sent->has_filter = envelope->filter != NULL;
    sent->sub_id = envelope->sub_id;
    if (envelope->jti)
        snprintf(sent->jti, sizeof(sent->jti), "%s", envelope->jti);
    sent->exp = envelope->exp;
    if (envelope->client_id)
        snprintf(sent->client_id, sizeof(sent->client_id), "%s", envelope->client_id);
    sent->persistent = envelope->persistent;
    sent->since = envelope->since;
    if (envelope->instance)
        snprintf(sent->instance, sizeof(sent->instance), "%s", envelope->instance);
    for (size_t i = 0; i < envelope->pub_ids_count && i < 8; i++)
        sent->pub_ids[i] = envelope->pub_ids[i];
    sent->pub_ids_count = envelope->pub_ids_count;
    sent->upto = envelope->upto;
    return h->ready ? 0 : -1;
}

H_FN bool h_router_ready(void *arg)
{
    return ((harness_t *)arg)->ready;
}

/* Defaults small enough to reach every limit in a test. */
H_FN void h_init(harness_t *h)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->cfg.realm, sizeof(h->cfg.realm), "telegraphy");
    h->cfg.max_message = 1 << 20;
    h->cfg.session_queue = 16;
    h->cfg.max_sessions = 8;
    h->cfg.max_subscriptions = 4;
    h->cfg.max_filter = 32;
    h->cfg.heartbeat_ms = 1000;
    h->cfg.allow_anonymous = true;
    h->ready = true;
    h->now = tg_now_at(H_MONO_START_MS, H_WALL_START_S);
    edge_router_port_t router = {h_router_send, h_router_ready, h, "edge-test"};
    h->broker = edge_broker_new(&h->cfg, &h_transport, &router);
    cr_assert_not_null(h->broker);
}

H_FN void h_fini(harness_t *h)
{
    for (size_t i = 0; i < h->conn_count; i++)
        edge_broker_session_closed(h->broker, &h->sessions[i], h->now);
    edge_broker_destroy(&h->broker);
}

/* Moves the harness's clocks to offset_ms after the start (both clocks
   move together) and returns that time: later calls run at it too. */
H_FN tg_now_t h_at(harness_t *h, int64_t offset_ms)
{
    h->now = tg_now_at(H_MONO_START_MS + offset_ms, H_WALL_START_S);
    h->now.wall_us += offset_ms * 1000;
    return h->now;
}

/* A session's fake connection. */
H_FN h_conn_t *h_conn(edge_session_t *session)
{
    return session->handle;
}

H_FN edge_session_t *h_open(harness_t *h, tg_wamp_serializer_t serializer)
{
    cr_assert_lt(h->conn_count, H_MAX_CONNS);
    size_t i = h->conn_count;
    edge_session_t *session = edge_broker_session_open(h->broker, serializer, &h->conns[i]);
    if (session)
        h->sessions[h->conn_count++] = session;
    return session;
}

/* Closes a session as the connection's close callback would. */
H_FN void h_drop(harness_t *h, edge_session_t *session)
{
    for (size_t i = 0; i < h->conn_count; i++)
        if (h->sessions[i] == session)
            edge_broker_session_closed(h->broker, &h->sessions[i], h->now);
}

/* Feeds one text message (JSON) or, for msgpack sessions, the msgpack
   form of the same JSON. */
H_FN void h_input(harness_t *h, edge_session_t *session, const char *json_text)
{
    if (session->serializer == TG_WAMP_JSON) {
        edge_broker_session_input(h->broker, session, json_text, strlen(json_text), false, h->now);
        return;
    }
    json_error_t error;
    json_t *value = json_loads(json_text, 0, &error);
    cr_assert_not_null(value, "bad test JSON: %s", json_text);
    tg_buf_t buf;
    tg_buf_init(&buf, 0);
    cr_assert_eq(tg_wamp_encode(TG_WAMP_MSGPACK, value, &buf), 0);
    edge_broker_session_input(h->broker, session, tg_buf_payload(&buf), buf.len, true, h->now);
    tg_buf_release(&buf);
    json_decref(value);
}

/* The next frame queued for the session, decoded (caller decrefs), or
   NULL when nothing is queued. */
H_FN json_t *h_next(edge_session_t *session)
{
    edge_frame_t *frame = edge_session_pop(session);
    if (!frame)
        return NULL;
    char err[128];
    tg_wamp_serializer_t serializer = edge_frame_binary(frame) ? TG_WAMP_MSGPACK : TG_WAMP_JSON;
    json_t *msg = tg_wamp_decode(serializer, edge_frame_payload(frame), edge_frame_len(frame), err,
                                 sizeof(err));
    cr_assert_not_null(msg, "undecodable frame: %s", err);
    edge_frame_unref(&frame);
    return msg;
}

/* Pops the next frame and checks its message type; returns it. */
H_FN json_t *h_expect(edge_session_t *session, int type)
{
    json_t *msg = h_next(session);
    cr_assert_not_null(msg, "expected message type %d, got nothing", type);
    cr_assert_eq(tg_wamp_type(msg), type, "expected message type %d, got %s", type,
                 json_dumps(msg, JSON_COMPACT));
    return msg;
}

/* Pops an ERROR and checks its request type, request and URI. */
H_FN void h_expect_error(edge_session_t *session, int request_type, int64_t request,
                         const char *uri)
{
    json_t *msg = h_expect(session, TG_WAMP_ERROR);
    cr_assert_eq(json_integer_value(json_array_get(msg, 1)), request_type);
    cr_assert_eq(json_integer_value(json_array_get(msg, 2)), request);
    cr_assert_str_eq(json_string_value(json_array_get(msg, 4)), uri);
    json_decref(msg);
}

H_FN void h_expect_nothing(edge_session_t *session)
{
    json_t *msg = h_next(session);
    cr_assert_null(msg, "unexpected message %s", msg ? json_dumps(msg, JSON_COMPACT) : "");
}

/* A session past HELLO/WELCOME. */
H_FN edge_session_t *h_welcomed(harness_t *h, tg_wamp_serializer_t serializer)
{
    edge_session_t *session = h_open(h, serializer);
    cr_assert_not_null(session);
    h_input(h, session, "[1, \"telegraphy\", {\"roles\": {\"subscriber\": {}}}]");
    json_decref(h_expect(session, TG_WAMP_WELCOME));
    return session;
}

/* The router learns an event type. */
H_FN void h_register(harness_t *h, const char *name, const char *audience, bool client_publish)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_REGISTER);
    envelope->event_type = tg_event_type_new(name);
    free(envelope->event_type->audience);
    envelope->event_type->audience = strdup(audience);
    envelope->event_type->client_publish = client_publish;
    edge_broker_router_message(h->broker, envelope, h->now);
    tg_envelope_destroy(&envelope);
}

/* The last message sent to the router. */
H_FN h_sent_t *h_last_sent(harness_t *h)
{
    cr_assert_gt(h->sent_count, 0, "nothing was sent to the router");
    return &h->sent[h->sent_count - 1];
}

H_FN size_t h_count_sent(harness_t *h, tg_command_t command)
{
    size_t count = 0;
    for (size_t i = 0; i < h->sent_count; i++)
        if (h->sent[i].command == command)
            count++;
    return count;
}

/* The router confirms request req with sub_id. */
H_FN void h_subscribed(harness_t *h, uint64_t req, uint64_t sub_id)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBED);
    envelope->req = req;
    envelope->sub_id = sub_id;
    edge_broker_router_message(h->broker, envelope, h->now);
    tg_envelope_destroy(&envelope);
}

/* Subscribes and completes the router round trip; returns the id. */
H_FN uint64_t h_subscribe_live(harness_t *h, edge_session_t *session, int64_t request,
                               const char *match, const char *topic, uint64_t sub_id)
{
    char text[256];
    snprintf(text, sizeof(text), "[32, %lld, {\"match\": \"%s\"}, \"%s\"]", (long long)request,
             match, topic);
    size_t before = h->sent_count;
    h_input(h, session, text);
    if (h->sent_count > before && h_last_sent(h)->command == TG_CMD_SUBSCRIBE)
        h_subscribed(h, h_last_sent(h)->req, sub_id);
    json_t *reply = h_expect(session, TG_WAMP_SUBSCRIBED);
    cr_assert_eq(json_integer_value(json_array_get(reply, 1)), request);
    uint64_t id = (uint64_t)json_integer_value(json_array_get(reply, 2));
    json_decref(reply);
    return id;
}

/* An EVENT from the router. body: msgpack bytes (NULL = none). */
H_FN void h_event(harness_t *h, const char *topic, const char *audience, bool guaranteed,
                  const uint64_t *sub_ids, size_t sub_count, const void *body, size_t body_len,
                  const char *const *to_users, size_t to_users_count)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_EVENT);
    envelope->pub_id = 77;
    envelope->ts = 1700000000000000ULL;
    envelope->topic = strdup(topic);
    envelope->audience = strdup(audience);
    envelope->guaranteed = guaranteed;
    envelope->sub_ids = malloc(sizeof(uint64_t) * (sub_count ? sub_count : 1));
    memcpy(envelope->sub_ids, sub_ids, sizeof(uint64_t) * sub_count);
    envelope->sub_ids_count = sub_count;
    if (body)
        envelope->body = zframe_new(body, body_len);
    if (to_users) {
        envelope->to_users = calloc(to_users_count ? to_users_count : 1, sizeof(char *));
        for (size_t i = 0; i < to_users_count; i++)
            envelope->to_users[i] = strdup(to_users[i]);
        envelope->to_users_count = to_users_count;
    }
    edge_broker_router_message(h->broker, envelope, h->now);
    tg_envelope_destroy(&envelope);
}

/* {"n": 1} in msgpack. */
static const uint8_t h_body[] __attribute__((unused)) = {0x81, 0xa1, 'n', 0x01};

/* --- ticket authentication ------------------------------------------------ */

#define H_SECRET "edge-unit-test-secret-0123456789abcdef"

/* Turns on ticket authentication in the broker's (borrowed) configuration,
   with the defaults of tg_config. */
H_FN void h_enable_tickets(harness_t *h)
{
    snprintf(h->cfg.secret, sizeof(h->cfg.secret), "%s", H_SECRET);
    h->cfg.token_skew = 30;
    h->cfg.resume_ttl = 86400;
}

/* Caller frees: a token of typ for sub (NULL = anonymous) in groups (a
   NULL-terminated list, or NULL), expiring ttl seconds after the
   harness's start (H_WALL_START_S), with cid (resume tokens), signed with
   secret. */
H_FN char *h_token(tg_token_type_t typ, const char *sub, const char *const *groups, int64_t ttl,
                   const char *cid, const char *secret)
{
    size_t count = 0;
    while (groups && groups[count])
        count++;
    tg_token_claims_t claims;
    memset(&claims, 0, sizeof(claims));
    claims.typ = typ;
    claims.sub = (char *)sub;
    claims.groups = (char **)groups;
    claims.groups_count = count;
    claims.exp = (int64_t)H_WALL_START_S + ttl;
    claims.cid = (char *)cid;
    char *token = tg_token_mint(&claims, secret);
    cr_assert_not_null(token);
    return token;
}

/* HELLO offering "ticket" (and authid when not NULL); expects CHALLENGE. */
H_FN void h_hello_ticket(harness_t *h, edge_session_t *session, const char *authid)
{
    char text[256];
    if (authid)
        snprintf(text, sizeof(text),
                 "[1, \"telegraphy\", {\"authmethods\": [\"ticket\"], \"authid\": \"%s\"}]",
                 authid);
    else
        snprintf(text, sizeof(text), "[1, \"telegraphy\", {\"authmethods\": [\"ticket\"]}]");
    h_input(h, session, text);
    json_t *challenge = h_expect(session, TG_WAMP_CHALLENGE);
    cr_assert_str_eq(json_string_value(json_array_get(challenge, 1)), "ticket");
    cr_assert(json_is_object(json_array_get(challenge, 2)));
    json_decref(challenge);
}

/* AUTHENTICATE [5, token, {}]. */
H_FN void h_authenticate(harness_t *h, edge_session_t *session, const char *token)
{
    size_t size = strlen(token) + 64;
    char *text = malloc(size);
    snprintf(text, size, "[5, \"%s\", {}]", token);
    h_input(h, session, text);
    free(text);
}

/* The router's verdict on the spend with request req: ACCEPTED when error
   is NULL, else REJECTED{req, error}. */
H_FN void h_verdict(harness_t *h, uint64_t req, const char *error)
{
    tg_envelope_t *envelope = tg_envelope_new(error ? TG_CMD_REJECTED : TG_CMD_ACCEPTED);
    envelope->req = req;
    if (error)
        envelope->error = strdup(error);
    edge_broker_router_message(h->broker, envelope, h->now);
    tg_envelope_destroy(&envelope);
}

/* A session welcomed through a ws token for sub (NULL = anonymous page)
   in groups, whose jti the router accepts; the WELCOME is consumed. */
H_FN edge_session_t *h_ticket_session(harness_t *h, const char *sub, const char *const *groups)
{
    edge_session_t *session = h_open(h, TG_WAMP_JSON);
    cr_assert_not_null(session);
    h_hello_ticket(h, session, sub);
    char *token = h_token(TG_TOKEN_WS, sub, groups, 60, NULL, H_SECRET);
    h_authenticate(h, session, token);
    free(token);
    cr_assert_eq(h_last_sent(h)->command, TG_CMD_TOKEN_SPEND);
    h_verdict(h, h_last_sent(h)->req, NULL);
    json_decref(h_expect(session, TG_WAMP_WELCOME));
    cr_assert_eq(session->state, EDGE_SESSION_OPEN);
    return session;
}

#endif
