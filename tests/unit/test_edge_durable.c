/*  The edge's persistent and `_since` subscriptions against a recording
    router (edge_durable): the WAMP checks of `_persistent` and `_since`,
    the session's own router SUBSCRIBE, the replay state machine (REPLAY
    marked `_replay`, live events held until REPLAY_END, MORE credit), the
    gap error, telegraphy.ack and UNSUBSCRIBE, audience and expiry of
    replayed events. */
#include "test_edge_harness.h"

#include "edge_durable.h"
#include "tg_subkey.h"

static harness_t h;

/* A ttl type: 60 s. */
#define S_TTL_S 60

static void setup(void)
{
    h_init(&h);
    h.cfg.session_queue = 1024;
    h.cfg.backlog_max = 10000;
    h_register(&h, "demo.hello", "public", false);
    h_register(&h, "demo.private", "authenticated", false);
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_REGISTER);
    envelope->event_type = tg_event_type_new("demo.ttl");
    envelope->event_type->ttl = S_TTL_S;
    edge_broker_router_message(h.broker, envelope, h.now);
    tg_envelope_destroy(&envelope);
}

static void teardown(void)
{
    h_fini(&h);
}

TestSuite(edge_durable, .init = setup, .fini = teardown);

/* An anonymous session that kept an identity (the resume cookie). */
static edge_session_t *s_identified(void)
{
    edge_session_t *session = h_welcomed(&h, TG_WAMP_JSON);
    char *client_id = strdup("client-1");
    edge_session_set_client_id(session, &client_id);
    return session;
}

/* ERROR's message (args[0]) contains needle. */
static void s_expect_error_text(edge_session_t *session, int64_t request, const char *uri,
                                const char *needle)
{
    json_t *msg = h_expect(session, TG_WAMP_ERROR);
    cr_assert_eq(json_integer_value(json_array_get(msg, 2)), request);
    cr_assert_str_eq(json_string_value(json_array_get(msg, 4)), uri);
    const char *text = json_string_value(json_array_get(json_array_get(msg, 5), 0));
    cr_assert(text && strstr(text, needle), "message \"%s\" lacks \"%s\"", text ? text : "",
              needle);
    json_decref(msg);
}

static void s_router_message(tg_envelope_t *envelope)
{
    edge_broker_router_message(h.broker, envelope, h.now);
    tg_envelope_destroy(&envelope);
}

static void s_subscribed_replay(uint64_t req, uint64_t sub_id, bool replay)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBED);
    envelope->req = req;
    envelope->sub_id = sub_id;
    envelope->replay = replay;
    s_router_message(envelope);
}

/* A REPLAY of a stored event (stored header fields filled in, as the
   codec does). */
static void s_replay(uint64_t req, uint64_t sub_id, uint64_t pub_id, const char *topic,
                     const char *audience, uint64_t ts)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_REPLAY);
    envelope->req = req;
    envelope->sub_id = sub_id;
    envelope->instance = strdup("edge-test");
    envelope->pub_id = pub_id;
    envelope->ts = ts;
    envelope->topic = strdup(topic);
    envelope->audience = strdup(audience);
    envelope->guaranteed = true;
    envelope->body = zframe_new(h_body, sizeof(h_body));
    s_router_message(envelope);
}

static void s_replay_end(uint64_t req, uint64_t sub_id, uint64_t last)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_REPLAY_END);
    envelope->req = req;
    envelope->sub_id = sub_id;
    envelope->instance = strdup("edge-test");
    envelope->pub_id = last;
    s_router_message(envelope);
}

/* A live EVENT with pub_id for one subscription. */
static void s_live(uint64_t sub_id, uint64_t pub_id, const char *topic, uint64_t ts)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_EVENT);
    envelope->pub_id = pub_id;
    envelope->ts = ts;
    envelope->topic = strdup(topic);
    envelope->audience = strdup("public");
    envelope->guaranteed = true;
    envelope->sub_ids = malloc(sizeof(uint64_t));
    envelope->sub_ids[0] = sub_id;
    envelope->sub_ids_count = 1;
    envelope->body = zframe_new(h_body, sizeof(h_body));
    s_router_message(envelope);
}

/* Pops an EVENT; checks its publication id and whether it is a replay. */
static void s_expect_event(edge_session_t *session, uint64_t pub_id, bool replay)
{
    json_t *msg = h_expect(session, TG_WAMP_EVENT);
    cr_assert_eq((uint64_t)json_integer_value(json_array_get(msg, 2)), pub_id, "got %s",
                 json_dumps(msg, JSON_COMPACT));
    json_t *details = json_array_get(msg, 3);
    cr_assert_eq(json_is_true(json_object_get(details, "_replay")), replay, "got %s",
                 json_dumps(msg, JSON_COMPACT));
    json_decref(msg);
}

/* Subscribes persistently to demo.hello and gets SUBSCRIBED {replay};
   returns the router request id. */
static uint64_t s_persistent_replaying(edge_session_t *session, uint64_t sub_id)
{
    h_input(&h, session, "[32, 7, {\"_persistent\": true}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    s_subscribed_replay(req, sub_id, true);
    json_decref(h_expect(session, TG_WAMP_SUBSCRIBED));
    return req;
}

/* `_persistent` needs an identity: an anonymous session without a
   client_id is refused with identity_required, and nothing reaches the
   router. */
Test(edge_durable, persistent_without_identity_is_identity_required)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    size_t before = h.sent_count;
    h_input(&h, s, "[32, 1, {\"_persistent\": true}, \"demo.hello\"]");
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 1, "telegraphy.error.identity_required");
    cr_assert_eq(h.sent_count, before);
    /* The session carries on. */
    cr_assert_eq(h_subscribe_live(&h, s, 2, "exact", "demo.hello", 5), 5);
}

/* `_since` must be an integer: a string or a float is invalid_argument,
   with a message that says what is expected. */
Test(edge_durable, since_that_is_not_an_integer_is_invalid_argument)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 1, {\"_since\": \"12\"}, \"demo.hello\"]");
    s_expect_error_text(s, 1, "wamp.error.invalid_argument", "integer");
    h_input(&h, s, "[32, 2, {\"_since\": 1.5}, \"demo.hello\"]");
    s_expect_error_text(s, 2, "wamp.error.invalid_argument", "integer");
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), 0);
}

/* `_since` outside [1, 2^53] (negative, zero, too large) is
   invalid_argument naming the range. */
Test(edge_durable, since_out_of_range_is_invalid_argument)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 1, {\"_since\": -5}, \"demo.hello\"]");
    s_expect_error_text(s, 1, "wamp.error.invalid_argument", "[1, 2^53]");
    h_input(&h, s, "[32, 2, {\"_since\": 0}, \"demo.hello\"]");
    s_expect_error_text(s, 2, "wamp.error.invalid_argument", "[1, 2^53]");
    h_input(&h, s, "[32, 3, {\"_since\": 9007199254740993}, \"demo.hello\"]");
    s_expect_error_text(s, 3, "wamp.error.invalid_argument", "[1, 2^53]");
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), 0);
}

/* `_persistent` must be a boolean. */
Test(edge_durable, persistent_that_is_not_a_boolean_is_invalid_argument)
{
    edge_session_t *s = s_identified();
    h_input(&h, s, "[32, 1, {\"_persistent\": \"yes\"}, \"demo.hello\"]");
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 1, "wamp.error.invalid_argument");
}

/* A `_since` in the future is fine: the router is asked (nothing to
   replay, persist decides), with since and without a client_id. */
Test(edge_durable, since_in_the_future_goes_to_the_router)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 1, {\"_since\": 9007199254740992}, \"demo.hello\"]");
    h_sent_t *sent = h_last_sent(&h);
    cr_assert_eq(sent->command, TG_CMD_SUBSCRIBE);
    cr_assert_eq(sent->since, 9007199254740992ULL);
    cr_assert_not(sent->persistent);
    cr_assert_str_eq(sent->client_id, "");
    h_expect_nothing(s);
}

/* A persistent subscription is the session's own: the router gets a
   SUBSCRIBE with client_id and persistent even though the edge already
   holds the key live for another session. */
Test(edge_durable, persistent_subscribe_is_sent_even_for_a_key_held_live)
{
    edge_session_t *other = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, other, 1, "exact", "demo.hello", 42);
    size_t before = h_count_sent(&h, TG_CMD_SUBSCRIBE);
    edge_session_t *s = s_identified();
    h_input(&h, s, "[32, 2, {\"_persistent\": true}, \"demo.hello\"]");
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), before + 1);
    h_sent_t *sent = h_last_sent(&h);
    cr_assert(sent->persistent);
    cr_assert_str_eq(sent->client_id, "client-1");
    h_expect_nothing(s); /* SUBSCRIBED waits for the router */
    s_subscribed_replay(sent->req, 42, false);
    json_t *reply = h_expect(s, TG_WAMP_SUBSCRIBED);
    cr_assert_eq(json_integer_value(json_array_get(reply, 2)), 42);
    json_decref(reply);
}

/* The handover: replayed events come first, in order, marked _replay;
   live events that arrived meanwhile are held and then delivered; a held
   one that the backlog also carried is delivered once. */
Test(edge_durable, replay_comes_first_then_held_live_events_without_duplicates)
{
    edge_session_t *s = s_identified();
    uint64_t req = s_persistent_replaying(s, 42);
    uint64_t ts = (uint64_t)h.now.wall_us;
    s_live(42, 150, "demo.hello", ts); /* also in the backlog */
    s_live(42, 200, "demo.hello", ts);
    h_expect_nothing(s);
    s_replay(req, 42, 100, "demo.hello", "public", ts);
    s_replay(req, 42, 150, "demo.hello", "public", ts);
    s_expect_event(s, 100, true);
    s_expect_event(s, 150, true);
    h_expect_nothing(s);
    s_replay_end(req, 42, 150);
    s_expect_event(s, 200, false);
    h_expect_nothing(s);
    /* Live from now on. */
    s_live(42, 201, "demo.hello", ts);
    s_expect_event(s, 201, false);
}

/* The router's id of an exact key without filter (tg_subkey, counter 0):
   what it sends live events with from the durable SUBSCRIBE on. */
static uint64_t s_key_id(const char *topic)
{
    tg_subkey_t key;
    tg_subkey_make(&key, TG_MATCH_EXACT, topic, NULL);
    uint64_t id = tg_subkey_id(&key, 0);
    tg_subkey_clear(&key);
    return id;
}

/* UNSUBSCRIBEs of sub_id sent to the router. */
static size_t s_unsubscribes_of(uint64_t sub_id)
{
    size_t count = 0;
    for (size_t i = 0; i < h.sent_count; i++)
        if (h.sent[i].command == TG_CMD_UNSUBSCRIBE && h.sent[i].sub_id == sub_id)
            count++;
    return count;
}

/* The router holds the key from the durable SUBSCRIBE on, so live events
   of the key can come before SUBSCRIBED: they are held (none before
   SUBSCRIBED reaches the client), and after REPLAY_END the ones newer than
   the last replayed go out, once each; then the subscription is live. */
Test(edge_durable, live_events_before_subscribed_are_held_until_the_replay_ends)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    uint64_t key = s_key_id("demo.hello");
    h_input(&h, s, "[32, 7, {\"_since\": 5}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    uint64_t ts = (uint64_t)h.now.wall_us;
    s_live(key, 150, "demo.hello", ts); /* also in the replay */
    s_live(key, 200, "demo.hello", ts);
    h_expect_nothing(s);
    s_subscribed_replay(req, key, true);
    json_decref(h_expect(s, TG_WAMP_SUBSCRIBED));
    h_expect_nothing(s);
    s_replay(req, key, 100, "demo.hello", "public", ts);
    s_replay(req, key, 150, "demo.hello", "public", ts);
    s_expect_event(s, 100, true);
    s_expect_event(s, 150, true);
    h_expect_nothing(s);
    s_replay_end(req, key, 150);
    s_expect_event(s, 200, false);
    h_expect_nothing(s);
    s_live(key, 201, "demo.hello", ts);
    s_expect_event(s, 201, false);
    cr_assert_eq(s_unsubscribes_of(key), 0);
}

/* Nothing replayed (a persistent subscription owed nothing): every event
   held while waiting goes out at REPLAY_END, in order. */
Test(edge_durable, held_while_waiting_all_go_out_when_nothing_was_replayed)
{
    edge_session_t *s = s_identified();
    uint64_t key = s_key_id("demo.hello");
    h_input(&h, s, "[32, 7, {\"_persistent\": true}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    uint64_t ts = (uint64_t)h.now.wall_us;
    s_live(key, 150, "demo.hello", ts);
    s_live(key, 160, "demo.hello", ts);
    s_subscribed_replay(req, key, true);
    json_decref(h_expect(s, TG_WAMP_SUBSCRIBED));
    h_expect_nothing(s);
    s_replay_end(req, key, 0);
    s_expect_event(s, 150, false);
    s_expect_event(s, 160, false);
    h_expect_nothing(s);
}

/* A refused durable subscribe (gap) drops what it held and releases the
   key the router holds for this edge: UNSUBSCRIBE {key} when no other
   session uses it. */
Test(edge_durable, refused_while_holding_drops_the_events_and_releases_the_key)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    uint64_t key = s_key_id("demo.hello");
    h_input(&h, s, "[32, 3, {\"_since\": 5}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    s_live(key, 150, "demo.hello", (uint64_t)h.now.wall_us);
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    envelope->req = req;
    envelope->error = strdup("telegraphy.error.gap");
    envelope->pub_id = 120;
    s_router_message(envelope);
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 3, "telegraphy.error.gap");
    h_expect_nothing(s);
    cr_assert_eq(s_unsubscribes_of(key), 1);
    cr_assert_eq(edge_durables_count(edge_broker_durables(h.broker)), 0);
}

/* The key shared with another session of this edge: a refusal does not
   release it (the other session keeps getting events), and the waiting
   session is not sent the events it held. */
Test(edge_durable, refusal_keeps_a_key_another_session_holds)
{
    uint64_t key = s_key_id("demo.hello");
    edge_session_t *other = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, other, 1, "exact", "demo.hello", key);
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 3, {\"_since\": 5}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    s_live(key, 150, "demo.hello", (uint64_t)h.now.wall_us);
    s_expect_event(other, 150, false);
    h_expect_nothing(s);
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    envelope->req = req;
    envelope->error = strdup("telegraphy.error.unavailable");
    s_router_message(envelope);
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 3, "telegraphy.error.unavailable");
    h_expect_nothing(s);
    cr_assert_eq(s_unsubscribes_of(key), 0);
}

/* The last plain session of a key leaves while a durable SUBSCRIBE of the
   same key waits: the edge does not UNSUBSCRIBE it (the router holds it
   for the waiting one too), and the durable subscription then gets the
   key's live events. */
Test(edge_durable, shared_key_left_while_a_durable_subscribe_waits_stays_held)
{
    uint64_t key = s_key_id("demo.hello");
    edge_session_t *other = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, other, 1, "exact", "demo.hello", key);
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 3, {\"_since\": 5}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    char text[64];
    snprintf(text, sizeof text, "[34, 2, %llu]", (unsigned long long)key);
    h_input(&h, other, text);
    json_decref(h_expect(other, TG_WAMP_UNSUBSCRIBED));
    cr_assert_eq(s_unsubscribes_of(key), 0);
    s_subscribed_replay(req, key, true);
    json_decref(h_expect(s, TG_WAMP_SUBSCRIBED));
    s_replay_end(req, key, 0);
    s_live(key, 300, "demo.hello", (uint64_t)h.now.wall_us);
    s_expect_event(s, 300, false);
    h_expect_nothing(other);
}

/* Events held while waiting count against the same bound as during the
   replay: past session_queue the session is closed as a slow consumer. */
Test(edge_durable, held_while_waiting_beyond_the_bound_closes_the_session)
{
    h.cfg.session_queue = 4;
    edge_session_t *s = s_identified();
    uint64_t key = s_key_id("demo.hello");
    h_input(&h, s, "[32, 7, {\"_persistent\": true}, \"demo.hello\"]");
    uint64_t ts = (uint64_t)h.now.wall_us;
    for (uint64_t i = 0; i < 4; i++)
        s_live(key, 100 + i, "demo.hello", ts);
    cr_assert_eq(h_conn(s)->kills, 0);
    s_live(key, 104, "demo.hello", ts);
    cr_assert_eq(h_conn(s)->kills, 1);
}

/* A session that closes while waiting holds nothing more, and the key is
   released when the late answer comes. */
Test(edge_durable, closing_while_waiting_frees_the_held_events)
{
    edge_session_t *s = s_identified();
    uint64_t key = s_key_id("demo.hello");
    h_input(&h, s, "[32, 7, {\"_persistent\": true}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    s_live(key, 100, "demo.hello", (uint64_t)h.now.wall_us);
    h_drop(&h, s);
    s_live(key, 101, "demo.hello", (uint64_t)h.now.wall_us);
    s_subscribed_replay(req, key, true);
    cr_assert_eq(s_unsubscribes_of(key), 1);
    cr_assert_eq(edge_durables_count(edge_broker_durables(h.broker)), 0);
}

/* Replayed events carry _guaranteed and ts from the stored header, and
   go to the replaying session only, not to other members of the key. */
Test(edge_durable, replay_goes_to_its_session_only)
{
    edge_session_t *other = h_welcomed(&h, TG_WAMP_MSGPACK);
    h_subscribe_live(&h, other, 1, "exact", "demo.hello", 42);
    edge_session_t *s = s_identified();
    uint64_t req = s_persistent_replaying(s, 42);
    s_replay(req, 42, 100, "demo.hello", "public", 1700000000000001ULL);
    json_t *msg = h_expect(s, TG_WAMP_EVENT);
    json_t *details = json_array_get(msg, 3);
    cr_assert(json_is_true(json_object_get(details, "_guaranteed")));
    cr_assert_eq(json_integer_value(json_object_get(details, "ts")), 1700000000000001LL);
    json_decref(msg);
    h_expect_nothing(other);
}

/* The msgpack serializer marks replays too. */
Test(edge_durable, replay_is_marked_on_msgpack_sessions)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_MSGPACK);
    char *client_id = strdup("client-m");
    edge_session_set_client_id(s, &client_id);
    uint64_t req = s_persistent_replaying(s, 42);
    s_replay(req, 42, 100, "demo.hello", "public", (uint64_t)h.now.wall_us);
    s_expect_event(s, 100, true);
}

/* The gap contract: SUBSCRIBE_ERROR gap becomes ERROR
   telegraphy.error.gap with kwargs {oldest}; null when nothing is held. */
Test(edge_durable, gap_is_answered_with_oldest)
{
    edge_session_t *s = s_identified();
    h_input(&h, s, "[32, 3, {\"_since\": 5}, \"demo.hello\"]");
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    envelope->req = h_last_sent(&h)->req;
    envelope->error = strdup("telegraphy.error.gap");
    envelope->message = strdup("events after 5 are no longer all held");
    envelope->pub_id = 4242;
    s_router_message(envelope);
    json_t *msg = h_expect(s, TG_WAMP_ERROR);
    cr_assert_str_eq(json_string_value(json_array_get(msg, 4)), "telegraphy.error.gap");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(msg, 6), "oldest")), 4242);
    json_decref(msg);

    h_input(&h, s, "[32, 4, {\"_since\": 5}, \"demo.hello\"]");
    envelope = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    envelope->req = h_last_sent(&h)->req;
    envelope->error = strdup("telegraphy.error.gap");
    s_router_message(envelope);
    msg = h_expect(s, TG_WAMP_ERROR);
    cr_assert(json_is_null(json_object_get(json_array_get(msg, 6), "oldest")));
    cr_assert_eq(edge_durables_count(edge_broker_durables(h.broker)), 0);
    json_decref(msg);
}

/* The edge applies audience to replayed events as to live ones: an
   anonymous session is not sent an "authenticated" event of a pattern
   subscription. */
Test(edge_durable, replay_respects_audience)
{
    edge_session_t *s = s_identified();
    h_input(&h, s, "[32, 7, {\"_persistent\": true, \"match\": \"prefix\"}, \"demo\"]");
    uint64_t req = h_last_sent(&h)->req;
    s_subscribed_replay(req, 43, true);
    json_decref(h_expect(s, TG_WAMP_SUBSCRIBED));
    uint64_t ts = (uint64_t)h.now.wall_us;
    s_replay(req, 43, 100, "demo.private", "authenticated", ts);
    s_replay(req, 43, 101, "demo.hello", "public", ts);
    json_t *msg = h_expect(s, TG_WAMP_EVENT);
    cr_assert_eq(json_integer_value(json_array_get(msg, 2)), 101);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(msg, 3), "topic")),
                     "demo.hello");
    json_decref(msg);
    h_expect_nothing(s);
}

/* An event whose ttl passed is never delivered: a replayed one expired
   on arrival is dropped and counted. */
Test(edge_durable, expired_replay_is_dropped_and_counted)
{
    edge_session_t *s = s_identified();
    h_input(&h, s, "[32, 7, {\"_since\": 1}, \"demo.ttl\"]");
    uint64_t req = h_last_sent(&h)->req;
    s_subscribed_replay(req, 44, true);
    json_decref(h_expect(s, TG_WAMP_SUBSCRIBED));
    uint64_t now_us = (uint64_t)h.now.wall_us;
    s_replay(req, 44, 100, "demo.ttl", "public", now_us - (S_TTL_S + 1) * 1000000ULL);
    s_replay(req, 44, 101, "demo.ttl", "public", now_us - 1000000ULL);
    s_expect_event(s, 101, true);
    h_expect_nothing(s);
    cr_assert_eq(edge_broker_metrics(h.broker)->expired_drops, 1);
}

/* "Checked at the last moment": a frame queued for a slow session
   expires where it waits (the writer asks edge_frame_expired), and a
   live event already expired on arrival is not queued. */
Test(edge_durable, expiry_is_checked_when_written)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.ttl", 45);
    uint64_t ts = (uint64_t)h.now.wall_us;
    s_live(45, 100, "demo.ttl", ts);
    edge_frame_t *frame = edge_session_pop(s);
    cr_assert_not_null(frame);
    cr_assert_eq(edge_frame_expires(frame), ts + S_TTL_S * 1000000ULL);
    cr_assert_not(edge_frame_expired(frame, h.now));
    cr_assert(edge_frame_expired(frame, h_at(&h, (S_TTL_S + 1) * 1000)));
    edge_frame_unref(&frame);
    s_live(45, 101, "demo.ttl", ts);
    h_expect_nothing(s);
    cr_assert_eq(edge_broker_metrics(h.broker)->expired_drops, 1);
}

/* Credit: after a page of REPLAYs the edge sends MORE {req, instance}
   once the session's queue is below half, not before. */
Test(edge_durable, more_is_sent_after_a_page_once_the_queue_drains)
{
    h.cfg.session_queue = 2 * EDGE_REPLAY_PAGE + 8;
    edge_session_t *s = s_identified();
    uint64_t req = s_persistent_replaying(s, 42);
    uint64_t ts = (uint64_t)h.now.wall_us;
    for (uint64_t i = 0; i < EDGE_REPLAY_PAGE - 1; i++)
        s_replay(req, 42, 100 + i, "demo.hello", "public", ts);
    cr_assert_eq(h_count_sent(&h, TG_CMD_MORE), 0);
    s_replay(req, 42, 100 + EDGE_REPLAY_PAGE, "demo.hello", "public", ts);
    /* 256 queued of 520: below half, MORE at once. */
    cr_assert_eq(h_count_sent(&h, TG_CMD_MORE), 1);
    cr_assert_eq(h_last_sent(&h)->req, req);
    cr_assert_str_eq(h_last_sent(&h)->instance, "edge-test");
    for (uint64_t i = 0; i < EDGE_REPLAY_PAGE; i++)
        s_replay(req, 42, 1000 + i, "demo.hello", "public", ts);
    /* 512 queued: not below half; the writer's drain sends it. */
    cr_assert_eq(h_count_sent(&h, TG_CMD_MORE), 1);
    for (int i = 0; i < 300; i++) {
        edge_frame_t *frame = edge_session_pop(s);
        edge_frame_unref(&frame);
    }
    edge_broker_session_written(h.broker, s);
    cr_assert_eq(h_count_sent(&h, TG_CMD_MORE), 2);
}

/* Live events held during a replay are bounded by session_queue: beyond
   it the session is closed as a slow consumer. */
Test(edge_durable, held_live_events_beyond_the_bound_close_the_session)
{
    h.cfg.session_queue = 4;
    edge_session_t *s = s_identified();
    s_persistent_replaying(s, 42);
    uint64_t ts = (uint64_t)h.now.wall_us;
    for (uint64_t i = 0; i < 4; i++)
        s_live(42, 100 + i, "demo.hello", ts);
    cr_assert_eq(h_conn(s)->kills, 0);
    s_live(42, 104, "demo.hello", ts);
    cr_assert_eq(h_conn(s)->kills, 1);
    cr_assert_eq(edge_broker_metrics(h.broker)->slow_consumer_closes, 1);
}

/* telegraphy.ack with ids: those the session was sent go to the router
   as ACK {client_id, sub_id, pub_ids}; the others are counted and
   ignored; RESULT either way. */
Test(edge_durable, ack_forwards_only_ids_the_session_was_sent)
{
    edge_session_t *s = s_identified();
    uint64_t req = s_persistent_replaying(s, 42);
    uint64_t ts = (uint64_t)h.now.wall_us;
    s_replay(req, 42, 100, "demo.hello", "public", ts);
    s_replay_end(req, 42, 100);
    s_live(42, 200, "demo.hello", ts);
    s_expect_event(s, 100, true);
    s_expect_event(s, 200, false);
    h_input(&h, s, "[48, 9, {}, \"telegraphy.ack\", [[100, 150, 200]]]");
    json_t *result = h_expect(s, TG_WAMP_RESULT);
    json_decref(result);
    h_sent_t *ack = h_last_sent(&h);
    cr_assert_eq(ack->command, TG_CMD_ACK);
    cr_assert_str_eq(ack->client_id, "client-1");
    cr_assert_eq(ack->sub_id, 42);
    cr_assert_eq(ack->pub_ids_count, 2);
    cr_assert_eq(ack->pub_ids[0], 100);
    cr_assert_eq(ack->pub_ids[1], 200);
    cr_assert_eq(edge_broker_metrics(h.broker)->acks_ignored, 1);
    /* Acked once: a second ack of the same id is ignored. */
    h_input(&h, s, "[48, 10, {}, \"telegraphy.ack\", [[100]]]");
    json_decref(h_expect(s, TG_WAMP_RESULT));
    cr_assert_eq(h_count_sent(&h, TG_CMD_ACK), 1);
    cr_assert_eq(edge_broker_metrics(h.broker)->acks_ignored, 2);
}

/* The cumulative ack {subscription, upto} never reaches past what the
   session was sent (an id beyond may be on its way). */
Test(edge_durable, cumulative_ack_is_clamped_to_what_was_sent)
{
    edge_session_t *s = s_identified();
    uint64_t req = s_persistent_replaying(s, 42);
    uint64_t ts = (uint64_t)h.now.wall_us;
    s_replay(req, 42, 100, "demo.hello", "public", ts);
    s_replay(req, 42, 120, "demo.hello", "public", ts);
    s_expect_event(s, 100, true);
    s_expect_event(s, 120, true);
    h_input(&h, s, "[48, 9, {}, \"telegraphy.ack\", [], {\"subscription\": 42, \"upto\": 999}]");
    json_decref(h_expect(s, TG_WAMP_RESULT));
    h_sent_t *ack = h_last_sent(&h);
    cr_assert_eq(ack->command, TG_CMD_ACK);
    cr_assert_eq(ack->upto, 120);
    cr_assert_eq(ack->pub_ids_count, 0);
}

/* Malformed ack arguments are invalid_argument; the session carries on. */
Test(edge_durable, malformed_ack_is_invalid_argument)
{
    edge_session_t *s = s_identified();
    h_input(&h, s, "[48, 9, {}, \"telegraphy.ack\", [[\"x\"]]]");
    h_expect_error(s, TG_WAMP_CALL, 9, "wamp.error.invalid_argument");
    h_input(&h, s, "[48, 10, {}, \"telegraphy.ack\", [], {\"subscription\": 1}]");
    h_expect_error(s, TG_WAMP_CALL, 10, "wamp.error.invalid_argument");
    cr_assert_eq(h_count_sent(&h, TG_CMD_ACK), 0);
}

/* UNSUBSCRIBE of a persistent subscription tells persist (client_id),
   and the last local holder of the key releases it as usual. */
Test(edge_durable, unsubscribe_of_a_persistent_subscription_carries_client_id)
{
    edge_session_t *s = s_identified();
    uint64_t req = s_persistent_replaying(s, 42);
    s_replay_end(req, 42, 0);
    h_input(&h, s, "[34, 11, 42]");
    json_decref(h_expect(s, TG_WAMP_UNSUBSCRIBED));
    cr_assert_eq(h_count_sent(&h, TG_CMD_UNSUBSCRIBE), 2);
    cr_assert_str_eq(h.sent[h.sent_count - 2].client_id, "client-1");
    cr_assert_str_eq(h.sent[h.sent_count - 1].client_id, "");
    cr_assert_eq(edge_durables_count(edge_broker_durables(h.broker)), 0);
}

/* A disconnect is not an UNSUBSCRIBE: persist keeps the subscription
   (no client_id UNSUBSCRIBE), the edge forgets the record. */
Test(edge_durable, closing_the_session_keeps_the_persistent_subscription)
{
    edge_session_t *s = s_identified();
    uint64_t req = s_persistent_replaying(s, 42);
    s_replay_end(req, 42, 0);
    h_drop(&h, s);
    for (size_t i = 0; i < h.sent_count; i++)
        if (h.sent[i].command == TG_CMD_UNSUBSCRIBE)
            cr_assert_str_eq(h.sent[i].client_id, "");
    cr_assert_eq(edge_durables_count(edge_broker_durables(h.broker)), 0);
}

/* A session that left before the router answered: the late SUBSCRIBED
   releases the key at the router (nobody holds it here). */
Test(edge_durable, late_answer_for_a_closed_session_releases_the_key)
{
    edge_session_t *s = s_identified();
    h_input(&h, s, "[32, 7, {\"_persistent\": true}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    h_drop(&h, s);
    s_subscribed_replay(req, 42, true);
    h_sent_t *sent = h_last_sent(&h);
    cr_assert_eq(sent->command, TG_CMD_UNSUBSCRIBE);
    cr_assert_eq(sent->sub_id, 42);
    cr_assert_eq(edge_durables_count(edge_broker_durables(h.broker)), 0);
}

/* An unanswered durable SUBSCRIBE times out as unavailable. */
Test(edge_durable, unanswered_durable_subscribe_times_out)
{
    edge_session_t *s = s_identified();
    h_input(&h, s, "[32, 7, {\"_persistent\": true}, \"demo.hello\"]");
    edge_broker_tick(h.broker, h_at(&h, EDGE_SUBSCRIBE_TIMEOUT_MS + 1));
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 7, "telegraphy.error.unavailable");
    cr_assert_eq(edge_session_pending(s), 0);
}

/* A `_since` subscription applies its filter to replayed events. */
Test(edge_durable, since_replay_applies_the_filter)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 7, {\"_since\": 1, \"_filter\": \"n == 2\"}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    cr_assert(h_last_sent(&h)->has_filter);
    s_subscribed_replay(req, 46, true);
    json_decref(h_expect(s, TG_WAMP_SUBSCRIBED));
    s_replay(req, 46, 100, "demo.hello", "public", (uint64_t)h.now.wall_us); /* n == 1 */
    h_expect_nothing(s);
    s_replay_end(req, 46, 100);
    cr_assert_eq(edge_durables_count(edge_broker_durables(h.broker)), 0);
}
