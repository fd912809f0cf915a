/*  edge_wamp: see edge_wamp.h. */
#include "edge_wamp.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "edge_auth.h"
#include "edge_durable.h"
#include "edge_random.h"
#include "tg_alloc.h"
#include "tg_log.h"
#include "tg_query.h"
#include "tg_wamp.h"

/* Room for a reason from the codec plus context. */
#define S_MESSAGE_MAX 256

/* Counts a protocol violation and ABORTs the session. */
static void s_violation(edge_broker_t *broker, edge_session_t *session, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void s_violation(edge_broker_t *broker, edge_session_t *session, const char *format, ...)
{
    char message[S_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    edge_broker_session_reject(broker, session, EDGE_BAD_PROTOCOL_VIOLATION, message,
                               EDGE_CLOSE_PROTOCOL_ERROR);
}

/* Sends ERROR with a formatted message. */
static void s_error(edge_session_t *session, int request_type, int64_t request, const char *error,
                    const char *format, ...) __attribute__((format(printf, 5, 6)));

static void s_error(edge_session_t *session, int request_type, int64_t request, const char *error,
                    const char *format, ...)
{
    char message[S_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    edge_session_send_error(session, request_type, request, error, message);
}

void edge_wamp_welcome(edge_session_t *session, const char *authmethod, json_t *authextra)
{
    assert(session);
    assert(session->authid && session->authrole);
    assert(authmethod);
    json_t *details =
        json_pack("{s:{s:{s:{s:b,s:b,s:b}},s:{s:{}}},s:s,s:s,s:s}", "roles", "broker", "features",
                  "pattern_based_subscription", 1, "publisher_identification", 1,
                  "session_meta_api", 0, "dealer", "features", "authid", session->authid,
                  "authrole", session->authrole, "authmethod", authmethod);
    if (details && authextra)
        json_object_set_new(details, "authextra", authextra);
    else
        json_decref(authextra);
    edge_session_opened(session);
    json_t *welcome = details ? tg_wamp_welcome((int64_t)session->id, details) : NULL;
    if (welcome) {
        edge_session_send(session, welcome);
        json_decref(welcome);
    }
    tg_log_debug("edge: session open session=%llu serializer=%s authmethod=%s",
                 (unsigned long long)session->id,
                 session->serializer == TG_WAMP_MSGPACK ? "msgpack" : "json", authmethod);
}

static void s_hello(edge_broker_t *broker, edge_session_t *session, const json_t *msg, tg_now_t now)
{
    (void)now;
    const tg_config_t *cfg = edge_broker_config(broker);
    tg_wamp_hello_t hello;
    char err[S_MESSAGE_MAX];
    if (tg_wamp_parse_hello(msg, &hello, err, sizeof(err)) != 0) {
        s_violation(broker, session, "bad HELLO: %s", err);
        return;
    }
    if (strcmp(hello.realm, cfg->realm) != 0) {
        char message[S_MESSAGE_MAX];
        snprintf(message, sizeof(message), "no such realm: %.200s", hello.realm);
        edge_session_abort(session, "wamp.error.no_such_realm", message, EDGE_CLOSE_NORMAL);
        return;
    }
    /* No authmethods (or an empty list) means anonymous, like WAMP's
       default. "ticket" wins when offered: the client decides whether to
       come back anonymously if its token is refused. */
    bool anonymous = !hello.authmethods || json_array_size(hello.authmethods) == 0;
    bool ticket = false;
    size_t index;
    json_t *method;
    json_array_foreach(hello.authmethods, index, method)
    {
        const char *name = json_string_value(method);
        if (name && strcmp(name, "anonymous") == 0)
            anonymous = true;
        else if (name && strcmp(name, "ticket") == 0)
            ticket = true;
    }
    if (ticket && cfg->secret[0]) {
        edge_auth_challenge(edge_broker_auth(broker), session, hello.authid);
        return;
    }
    if (!(anonymous && cfg->allow_anonymous)) {
        if (ticket) {
            /* No secret, no token can be checked (a gateway without one
               serves anonymous sessions only). */
            edge_broker_metrics(broker)->auth_failures++;
            edge_broker_metrics(broker)->bad_input[EDGE_BAD_AUTH_FAILED]++;
            tg_log_warning("edge: ticket authentication refused reason=\"no secret configured\"");
            edge_session_abort(session, EDGE_AUTH_FAILED, EDGE_AUTH_FAILED_MESSAGE,
                               EDGE_CLOSE_NORMAL);
        } else if (anonymous)
            edge_session_abort(session, "wamp.error.no_auth_method",
                               "anonymous sessions are disabled on this gateway",
                               EDGE_CLOSE_NORMAL);
        else
            edge_session_abort(session, "wamp.error.no_auth_method",
                               "none of the offered authmethods is supported", EDGE_CLOSE_NORMAL);
        return;
    }
    uint64_t id = edge_random_id();
    char authid[64];
    snprintf(authid, sizeof(authid), "anonymous-%llu", (unsigned long long)id);
    edge_session_set_identity(session, id, true, authid, "anonymous");
    /* A browser whose identity cookie came from an allowed origin keeps
       its client_id across reloads, also anonymously (DESIGN 2.4). */
    json_t *extra = NULL;
    if (session->browser_cid) {
        char *client_id = tg_strdup(session->browser_cid);
        edge_session_set_client_id(session, &client_id);
        extra = json_pack("{s:s}", "client_id", session->client_id);
    }
    edge_wamp_welcome(session, "anonymous", extra);
}

static void s_authenticate(edge_broker_t *broker, edge_session_t *session, const json_t *msg,
                           tg_now_t now)
{
    tg_wamp_authenticate_t authenticate;
    char err[S_MESSAGE_MAX];
    if (tg_wamp_parse_authenticate(msg, &authenticate, err, sizeof(err)) != 0) {
        s_violation(broker, session, "bad AUTHENTICATE: %s", err);
        return;
    }
    /* The length from the JSON string itself: a NUL inside must not cut
       the token short. */
    size_t len = json_string_length(json_array_get(msg, 1));
    edge_auth_authenticate(edge_broker_auth(broker), session, authenticate.signature, len, now);
}

static void s_goodbye(edge_broker_t *broker, edge_session_t *session, const json_t *msg,
                      tg_now_t now)
{
    (void)now;
    tg_wamp_goodbye_t goodbye;
    char err[S_MESSAGE_MAX];
    if (tg_wamp_parse_goodbye(msg, &goodbye, err, sizeof(err)) != 0) {
        s_violation(broker, session, "bad GOODBYE: %s", err);
        return;
    }
    /* Any reason is fine: we never start a GOODBYE, so this is the peer's
       and the answer is always the echo. */
    json_t *reply = tg_wamp_goodbye("wamp.close.goodbye_and_out");
    if (reply) {
        edge_session_send(session, reply);
        json_decref(reply);
    }
    edge_session_close(session, EDGE_CLOSE_NORMAL, "goodbye");
}

/* An unknown options.match in an otherwise well-formed SUBSCRIBE is the
   client's mistake about one subscription, not a broken session: answer
   ERROR invalid_argument (the codec would reject the whole message).
   Returns true when it answered. */
static bool s_refuse_unknown_match(edge_session_t *session, const json_t *msg)
{
    json_t *request = json_array_get(msg, 1);
    const char *match = json_string_value(json_object_get(json_array_get(msg, 2), "match"));
    tg_match_t parsed;
    if (json_array_size(msg) != 4 || !json_is_integer(request) || json_integer_value(request) < 1 ||
        json_integer_value(request) > TG_WAMP_MAX_ID || !match ||
        tg_match_parse(match, &parsed) == 0)
        return false;
    s_error(session, TG_WAMP_SUBSCRIBE, json_integer_value(request), "wamp.error.invalid_argument",
            "unknown match policy: %.64s (use exact, prefix or wildcard)", match);
    return true;
}

/* The durable options of a SUBSCRIBE (DESIGN 2.3): `_persistent` a
   boolean that needs an identity (the session's client_id), `_since` an
   integer publication id in [1, 2^53] (one in the future is fine: nothing
   to replay). Returns 0 with *persistent and *since set, or -1 after
   answering the ERROR. */
static int s_durable_options(edge_session_t *session, const tg_wamp_subscribe_t *sub,
                             bool *persistent, uint64_t *since)
{
    *persistent = false;
    *since = 0;
    const json_t *value = json_object_get(sub->options, "_persistent");
    if (value && !json_is_boolean(value)) {
        s_error(session, TG_WAMP_SUBSCRIBE, sub->request, "wamp.error.invalid_argument",
                "_persistent must be true or false");
        return -1;
    }
    *persistent = json_is_true(value);
    if (*persistent && !session->client_id) {
        s_error(session, TG_WAMP_SUBSCRIBE, sub->request, "telegraphy.error.identity_required",
                "_persistent needs an identified client: authenticate with a ticket, or "
                "connect from an allowed origin that keeps the telegraphy_resume cookie");
        return -1;
    }
    value = json_object_get(sub->options, "_since");
    if (value && !json_is_null(value)) {
        if (!json_is_integer(value)) {
            s_error(session, TG_WAMP_SUBSCRIBE, sub->request, "wamp.error.invalid_argument",
                    "_since must be an integer publication id");
            return -1;
        }
        json_int_t id = json_integer_value(value);
        if (id < 1 || id > TG_WAMP_MAX_ID) {
            s_error(session, TG_WAMP_SUBSCRIBE, sub->request, "wamp.error.invalid_argument",
                    "_since must be a publication id in [1, 2^53], got %lld", (long long)id);
            return -1;
        }
        *since = (uint64_t)id;
    }
    return 0;
}

static void s_subscribe(edge_broker_t *broker, edge_session_t *session, const json_t *msg,
                        tg_now_t now)
{
    const tg_config_t *cfg = edge_broker_config(broker);
    if (s_refuse_unknown_match(session, msg))
        return;
    tg_wamp_subscribe_t sub;
    char err[S_MESSAGE_MAX];
    if (tg_wamp_parse_subscribe(msg, &sub, err, sizeof(err)) != 0) {
        s_violation(broker, session, "bad SUBSCRIBE: %s", err);
        return;
    }
    tg_match_t match;
    if (tg_match_parse(sub.match, &match) != 0) {
        s_violation(broker, session, "bad SUBSCRIBE: unknown match %.64s", sub.match);
        return;
    }
    bool persistent = false;
    uint64_t since = 0;
    if (s_durable_options(session, &sub, &persistent, &since) != 0)
        return;
    if (strlen(sub.topic) > TG_MAX_TOPIC) {
        s_error(session, TG_WAMP_SUBSCRIBE, sub.request, "wamp.error.invalid_uri",
                "topic longer than %d bytes", TG_MAX_TOPIC);
        return;
    }
    /* The filter is parsed here as well as in the router: the edge keys its
       subscriptions by the canonical text, so equivalent spellings from its
       sessions share one router subscription (and the router, which
       derives the id from the same canonical text, returns one id). A bad
       filter is answered at once, with the column, without a round trip. */
    tg_query_t *query = NULL;
    if (sub.filter && *sub.filter) {
        tg_query_limits_t limits = {cfg->max_filter, cfg->filter_max_depth, cfg->filter_max_list};
        tg_query_error_t query_err;
        query = tg_query_parse(sub.filter, strlen(sub.filter), &limits, &query_err);
        if (!query) {
            s_error(session, TG_WAMP_SUBSCRIBE, sub.request, "telegraphy.error.invalid_filter",
                    "%s", query_err.message);
            return;
        }
    }
    if (match == TG_MATCH_EXACT) {
        /* Pattern subscriptions are checked per event at delivery; an exact
           one names its type, so refuse what this session may never see. */
        const tg_event_type_t *type = tg_registry_get(edge_broker_registry(broker), sub.topic);
        if (!type) {
            s_error(session, TG_WAMP_SUBSCRIBE, sub.request, "telegraphy.error.unknown_event",
                    "no such event type: %.200s", sub.topic);
            tg_query_destroy(&query);
            return;
        }
        if (!edge_session_may_see(session, type->audience)) {
            s_error(session, TG_WAMP_SUBSCRIBE, sub.request, "wamp.error.not_authorized",
                    "this session may not subscribe to %.200s (audience %.64s)", sub.topic,
                    type->audience);
            tg_query_destroy(&query);
            return;
        }
    }
    if (persistent || since) {
        /* The session's own router subscription (edge_durable). */
        char *canonical = query ? tg_strdup(tg_query_canonical(query)) : NULL;
        edge_durable_subscribe(broker, session, sub.request, match, sub.topic, canonical, &query,
                               persistent, since, now);
        free(canonical);
        return;
    }
    edge_broker_subscribe(broker, session, sub.request, match, sub.topic,
                          query ? tg_query_canonical(query) : NULL, now);
    tg_query_destroy(&query);
}

static void s_unsubscribe(edge_broker_t *broker, edge_session_t *session, const json_t *msg,
                          tg_now_t now)
{
    tg_wamp_unsubscribe_t unsub;
    char err[S_MESSAGE_MAX];
    if (tg_wamp_parse_unsubscribe(msg, &unsub, err, sizeof(err)) != 0) {
        s_violation(broker, session, "bad UNSUBSCRIBE: %s", err);
        return;
    }
    edge_broker_unsubscribe(broker, session, unsub.request, unsub.subscription, now);
}

static void s_publish(edge_broker_t *broker, edge_session_t *session, const json_t *msg,
                      tg_now_t now)
{
    (void)now;
    tg_wamp_publish_t publish;
    char err[S_MESSAGE_MAX];
    if (tg_wamp_parse_publish(msg, &publish, err, sizeof(err)) != 0) {
        s_violation(broker, session, "bad PUBLISH: %s", err);
        return;
    }
    /* WAMP: a broker answers a PUBLISH (PUBLISHED or ERROR) only when the
       publisher asked for an acknowledgement; clients do not expect an
       ERROR for an unacknowledged publication (AutobahnJS treats one as a
       protocol violation). */
    if (!json_is_true(json_object_get(publish.options, "acknowledge")))
        return;
    const tg_event_type_t *type = tg_registry_get(edge_broker_registry(broker), publish.topic);
    if (type && type->client_publish)
        s_error(session, TG_WAMP_PUBLISH, publish.request, "wamp.error.not_authorized",
                "client publishing arrives later");
    else
        s_error(session, TG_WAMP_PUBLISH, publish.request, "wamp.error.not_authorized",
                "browsers may not publish to %.200s", publish.topic);
}

typedef struct {
    const edge_session_t *session;
    json_t *list;
} s_list_ctx_t;

static void s_list_one(const tg_event_type_t *type, void *arg)
{
    s_list_ctx_t *ctx = arg;
    if (!edge_session_may_see(ctx->session, type->audience))
        return;
    json_t *fields = json_null();
    if (type->has_fields) {
        fields = json_array();
        for (size_t i = 0; i < type->fields_count; i++)
            json_array_append_new(fields, json_string(type->fields[i]));
    }
    json_t *item =
        json_pack("{s:s,s:o,s:s,s:I,s:b}", "name", type->name, "fields", fields, "audience",
                  type->audience, "ttl", (json_int_t)type->ttl, "guaranteed", type->guaranteed);
    if (item)
        json_array_append_new(ctx->list, item);
}

/* Caller owns the result: the event types this session may subscribe to,
   as telegraphy.events.list returns them (a JSON array of
   {name, fields, audience, ttl, guaranteed}). */
static json_t *s_events_list(edge_broker_t *broker, const edge_session_t *session)
{
    s_list_ctx_t ctx = {session, json_array()};
    tg_registry_foreach(edge_broker_registry(broker), s_list_one, &ctx);
    return ctx.list;
}

static void s_call(edge_broker_t *broker, edge_session_t *session, const json_t *msg, tg_now_t now)
{
    (void)now;
    tg_wamp_call_t call;
    char err[S_MESSAGE_MAX];
    if (tg_wamp_parse_call(msg, &call, err, sizeof(err)) != 0) {
        s_violation(broker, session, "bad CALL: %s", err);
        return;
    }
    if (strcmp(call.procedure, EDGE_PROCEDURE_ACK) == 0) {
        /* telegraphy.ack: [[pub_id, ...]] or {subscription, upto}; ids this
           session was never sent are counted and ignored (DESIGN 2.3). */
        if (edge_durable_ack(broker, session, call.args, call.kwargs, err, sizeof(err)) != 0) {
            s_error(session, TG_WAMP_CALL, call.request, "wamp.error.invalid_argument", "%s", err);
            return;
        }
        json_t *result = tg_wamp_result(call.request, json_array());
        if (result) {
            edge_session_send(session, result);
            json_decref(result);
        }
        return;
    }
    if (strcmp(call.procedure, EDGE_PROCEDURE_EVENTS_LIST) != 0) {
        s_error(session, TG_WAMP_CALL, call.request, "wamp.error.no_such_procedure",
                "no such procedure: %.200s", call.procedure);
        return;
    }
    json_t *args = json_pack("[o]", s_events_list(broker, session));
    json_t *result = args ? tg_wamp_result(call.request, args) : NULL;
    if (result) {
        edge_session_send(session, result);
        json_decref(result);
    }
}

/* A client message's handler (the message passed the state check). */
typedef void(s_handler_fn)(edge_broker_t *broker, edge_session_t *session, const json_t *msg,
                           tg_now_t now);

#define S_IN(state) (1u << (state))

/* Who may send what (Redis's command table): each message type a client
   may send, the session states that accept it, and its handler. ABORT is
   accepted in every state (the peer gives up). Anything else, or in
   another state, is a protocol violation: server-only types and roles this
   edge does not offer all end the same way. */
static const struct {
    int type;        /* TG_WAMP_* */
    unsigned states; /* S_IN(EDGE_SESSION_*) | ... */
    s_handler_fn *handler;
} s_commands[] = {
    {TG_WAMP_HELLO, S_IN(EDGE_SESSION_HANDSHAKE), s_hello},
    {TG_WAMP_AUTHENTICATE, S_IN(EDGE_SESSION_CHALLENGED), s_authenticate},
    {TG_WAMP_GOODBYE, S_IN(EDGE_SESSION_OPEN), s_goodbye},
    {TG_WAMP_SUBSCRIBE, S_IN(EDGE_SESSION_OPEN), s_subscribe},
    {TG_WAMP_UNSUBSCRIBE, S_IN(EDGE_SESSION_OPEN), s_unsubscribe},
    {TG_WAMP_PUBLISH, S_IN(EDGE_SESSION_OPEN), s_publish},
    {TG_WAMP_CALL, S_IN(EDGE_SESSION_OPEN), s_call},
};

/* A message the session's state does not accept: the violation says what
   the state expected. */
static void s_refuse(edge_broker_t *broker, edge_session_t *session, int type)
{
    switch (session->state) {
    case EDGE_SESSION_HANDSHAKE:
        s_violation(broker, session, "expected HELLO, got message type %d", type);
        break;
    case EDGE_SESSION_CHALLENGED:
        s_violation(broker, session, "expected AUTHENTICATE, got message type %d", type);
        break;
    case EDGE_SESSION_AUTHENTICATING:
        s_violation(broker, session, "message type %d before WELCOME", type);
        break;
    default:
        if (type == TG_WAMP_HELLO)
            s_violation(broker, session, "HELLO in an open session");
        else
            s_violation(broker, session, "unexpected message type %d", type);
        break;
    }
}

static void s_dispatch(edge_broker_t *broker, edge_session_t *session, const json_t *msg,
                       tg_now_t now)
{
    int type = tg_wamp_type(msg);
    if (type == TG_WAMP_ABORT) {
        /* The peer gives up; nothing to answer. */
        edge_session_close(session, EDGE_CLOSE_NORMAL, "aborted by peer");
        return;
    }
    for (size_t i = 0; i < sizeof(s_commands) / sizeof(s_commands[0]); i++)
        if (s_commands[i].type == type) {
            if (s_commands[i].states & S_IN(session->state))
                s_commands[i].handler(broker, session, msg, now);
            else
                s_refuse(broker, session, type);
            return;
        }
    s_refuse(broker, session, type);
}

void edge_wamp_input(edge_broker_t *broker, edge_session_t *session, const void *data, size_t size,
                     bool binary, tg_now_t now)
{
    assert(broker);
    assert(session);
    if (session->state == EDGE_SESSION_CLOSING)
        return; /* whatever the peer says now changes nothing */
    bool msgpack = session->serializer == TG_WAMP_MSGPACK;
    if (binary && !msgpack) {
        edge_broker_session_reject(broker, session, EDGE_BAD_BINARY_ON_JSON,
                                   "binary frame on a wamp.2.json session",
                                   EDGE_CLOSE_UNSUPPORTED_DATA);
        return;
    }
    if (!binary && msgpack) {
        edge_broker_session_reject(broker, session, EDGE_BAD_TEXT_ON_MSGPACK,
                                   "text frame on a wamp.2.msgpack session",
                                   EDGE_CLOSE_UNSUPPORTED_DATA);
        return;
    }
    char err[S_MESSAGE_MAX];
    err[0] = '\0';
    json_t *msg = tg_wamp_decode(session->serializer, data, size, err, sizeof(err));
    if (!msg) {
        char message[S_MESSAGE_MAX + 32];
        snprintf(message, sizeof(message), "invalid %s: %s", msgpack ? "msgpack" : "JSON",
                 err[0] ? err : "undecodable");
        edge_broker_session_reject(broker, session,
                                   msgpack ? EDGE_BAD_INVALID_MSGPACK : EDGE_BAD_INVALID_JSON,
                                   message, EDGE_CLOSE_PROTOCOL_ERROR);
        return;
    }
    s_dispatch(broker, session, msg, now);
    json_decref(msg);
}
