/*  The broker's subscription handling against a recording router:
    "SUBSCRIBED means live", one router SUBSCRIBE per key, timeouts,
    limits, release of keys, and resync after a router restart. */
#include "test_edge_harness.h"

static harness_t h;

static void setup(void)
{
    h_init(&h);
    h_register(&h, "demo.hello", "public", false);
}

static void teardown(void)
{
    h_fini(&h);
}

TestSuite(edge_broker, .init = setup, .fini = teardown);

/* SUBSCRIBED reaches the client only once the router confirmed the key,
   and carries the router's id. */
Test(edge_broker, subscribed_is_sent_only_after_the_router_confirms)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 11, {}, \"demo.hello\"]");
    h_expect_nothing(s);
    h_sent_t *sent = h_last_sent(&h);
    cr_assert_eq(sent->command, TG_CMD_SUBSCRIBE);
    cr_assert_str_eq(sent->topic, "demo.hello");
    cr_assert_eq(sent->match, TG_MATCH_EXACT);
    cr_assert_not(sent->has_filter);
    h_subscribed(&h, sent->req, 123456789);
    json_t *reply = h_expect(s, TG_WAMP_SUBSCRIBED);
    cr_assert_eq(json_integer_value(json_array_get(reply, 1)), 11);
    cr_assert_eq(json_integer_value(json_array_get(reply, 2)), 123456789);
    json_decref(reply);
}

/* However many sessions wait for one key, the router hears one SUBSCRIBE,
   and its answer releases all of them. */
Test(edge_broker, sessions_waiting_on_one_key_share_one_router_subscribe)
{
    edge_session_t *a = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *b = h_welcomed(&h, TG_WAMP_MSGPACK);
    h_input(&h, a, "[32, 1, {\"match\": \"prefix\"}, \"demo\"]");
    h_input(&h, b, "[32, 2, {\"match\": \"prefix\"}, \"demo\"]");
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), 1);
    h_subscribed(&h, h_last_sent(&h)->req, 99);
    json_t *ra = h_expect(a, TG_WAMP_SUBSCRIBED);
    json_t *rb = h_expect(b, TG_WAMP_SUBSCRIBED);
    cr_assert_eq(json_integer_value(json_array_get(ra, 1)), 1);
    cr_assert_eq(json_integer_value(json_array_get(rb, 1)), 2);
    cr_assert_eq(json_integer_value(json_array_get(rb, 2)), 99);
    json_decref(ra);
    json_decref(rb);
    cr_assert_eq(edge_subs_member_total(edge_broker_subs(h.broker)), 2);
}

/* A key the edge already holds live is confirmed at once, without asking
   the router again. */
Test(edge_broker, subscribing_to_a_live_key_is_answered_at_once)
{
    edge_session_t *a = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, a, 1, "exact", "demo.hello", 555);
    size_t before = h.sent_count;
    edge_session_t *b = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, b, "[32, 4, {}, \"demo.hello\"]");
    json_t *reply = h_expect(b, TG_WAMP_SUBSCRIBED);
    cr_assert_eq(json_integer_value(json_array_get(reply, 2)), 555);
    cr_assert_eq(h.sent_count, before);
    json_decref(reply);
}

/* The router's SUBSCRIBE_ERROR becomes ERROR [8, 32, req, {}, error,
   [message]]. */
Test(edge_broker, router_refusal_is_forwarded_as_wamp_error)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 3, {\"match\": \"prefix\", \"_filter\": \"a == 1\"}, \"demo\"]");
    cr_assert(h_last_sent(&h)->has_filter);
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    envelope->req = h_last_sent(&h)->req;
    envelope->error = strdup("telegraphy.error.invalid_filter");
    envelope->message = strdup("filters are not supported yet (column 1)");
    edge_broker_router_message(h.broker, envelope, h.now);
    tg_envelope_destroy(&envelope);
    json_t *error = h_expect(s, TG_WAMP_ERROR);
    cr_assert_eq(json_integer_value(json_array_get(error, 2)), 3);
    cr_assert_str_eq(json_string_value(json_array_get(error, 4)),
                     "telegraphy.error.invalid_filter");
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(error, 5), 0)),
                     "filters are not supported yet (column 1)");
    cr_assert_eq(edge_subs_count(edge_broker_subs(h.broker)), 0);
    json_decref(error);
}

/* No answer within the timeout: ERROR telegraphy.error.unavailable. */
Test(edge_broker, unanswered_subscribe_times_out_as_unavailable)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 8, {}, \"demo.hello\"]");
    edge_broker_tick(h.broker, h_at(&h, EDGE_SUBSCRIBE_TIMEOUT_MS / 2));
    h_expect_nothing(s);
    edge_broker_tick(h.broker, h_at(&h, EDGE_SUBSCRIBE_TIMEOUT_MS + 1));
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 8, "telegraphy.error.unavailable");
    cr_assert_eq(edge_session_pending(s), 0);
    cr_assert_eq(edge_broker_metrics(h.broker)->subscribe_timeouts, 1);
}

/* The per-session limit counts live and pending subscriptions. */
Test(edge_broker, subscriptions_beyond_the_session_limit_are_refused)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "prefix", "a", 1);
    h_subscribe_live(&h, s, 2, "prefix", "b", 2);
    h_input(&h, s, "[32, 3, {\"match\": \"prefix\"}, \"c\"]");
    h_input(&h, s, "[32, 4, {\"match\": \"prefix\"}, \"d\"]");
    h_input(&h, s, "[32, 5, {\"match\": \"prefix\"}, \"e\"]");
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 5, "telegraphy.error.too_many_subscriptions");
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), 4);
}

/* Subscribing again to a key the session holds is not a new subscription:
   same id, no limit consumed. */
Test(edge_broker, resubscribing_the_same_key_returns_the_same_id)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    uint64_t first = h_subscribe_live(&h, s, 1, "prefix", "demo", 31);
    uint64_t again = h_subscribe_live(&h, s, 2, "prefix", "demo", 0);
    cr_assert_eq(first, again);
    cr_assert_eq(s->subs.count, 1);
}

/* UNSUBSCRIBE of an id the session does not hold is refused. */
Test(edge_broker, unsubscribe_of_unknown_id_is_no_such_subscription)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[34, 5, 424242]");
    h_expect_error(s, TG_WAMP_UNSUBSCRIBE, 5, "wamp.error.no_such_subscription");
}

/* Only the last local session leaving a key tells the router. */
Test(edge_broker, last_session_leaving_a_key_unsubscribes_at_the_router)
{
    edge_session_t *a = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *b = h_welcomed(&h, TG_WAMP_JSON);
    uint64_t id = h_subscribe_live(&h, a, 1, "exact", "demo.hello", 700);
    h_subscribe_live(&h, b, 1, "exact", "demo.hello", 700);
    h_input(&h, a, "[34, 2, 700]");
    json_t *reply = h_expect(a, TG_WAMP_UNSUBSCRIBED);
    cr_assert_eq(json_integer_value(json_array_get(reply, 1)), 2);
    json_decref(reply);
    cr_assert_eq(h_count_sent(&h, TG_CMD_UNSUBSCRIBE), 0);
    h_input(&h, b, "[34, 3, 700]");
    json_decref(h_expect(b, TG_WAMP_UNSUBSCRIBED));
    cr_assert_eq(h_last_sent(&h)->command, TG_CMD_UNSUBSCRIBE);
    cr_assert_eq(h_last_sent(&h)->sub_id, id);
    cr_assert_eq(edge_subs_count(edge_broker_subs(h.broker)), 0);
}

/* A closing connection releases its keys like UNSUBSCRIBE would. */
Test(edge_broker, closing_a_session_releases_its_keys_at_the_router)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "prefix", "demo", 10);
    h_subscribe_live(&h, s, 2, "wildcard", "demo.", 11);
    h_drop(&h, s);
    cr_assert_eq(h_count_sent(&h, TG_CMD_UNSUBSCRIBE), 2);
    cr_assert_eq(edge_subs_count(edge_broker_subs(h.broker)), 0);
    cr_assert_eq(edge_broker_session_count(h.broker), 0);
}

/* A session that leaves while waiting is not answered; the router's late
   SUBSCRIBED is then undone with UNSUBSCRIBE. */
Test(edge_broker, late_confirmation_for_a_key_nobody_wants_is_undone)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 1, {}, \"demo.hello\"]");
    uint64_t req = h_last_sent(&h)->req;
    h_drop(&h, s);
    cr_assert_eq(edge_subs_count(edge_broker_subs(h.broker)), 1); /* request in flight */
    h_subscribed(&h, req, 808);
    cr_assert_eq(h_last_sent(&h)->command, TG_CMD_UNSUBSCRIBE);
    cr_assert_eq(h_last_sent(&h)->sub_id, 808);
    cr_assert_eq(edge_subs_count(edge_broker_subs(h.broker)), 0);
}

/* After a router restart (WELCOME again) every key is sent again with a
   new request; the ids come back the same, so sessions see nothing. */
Test(edge_broker, resync_resends_every_key_and_sessions_see_nothing)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 21);
    h_subscribe_live(&h, s, 2, "prefix", "demo", 22);
    size_t before = h.sent_count;
    edge_broker_resync(h.broker, h.now);
    cr_assert_eq(h.sent_count, before + 2);
    for (size_t i = before; i < h.sent_count; i++) {
        cr_assert_eq(h.sent[i].command, TG_CMD_SUBSCRIBE);
        cr_assert_gt(h.sent[i].req, h.sent[before - 1].req);
        h_subscribed(&h, h.sent[i].req, h.sent[i].match == TG_MATCH_EXACT ? 21 : 22);
    }
    h_expect_nothing(s);
    uint64_t ids[] = {21, 22};
    h_event(&h, "demo.hello", "public", false, ids, 2, h_body, sizeof(h_body), NULL, 0);
    json_decref(h_expect(s, TG_WAMP_EVENT));
    json_decref(h_expect(s, TG_WAMP_EVENT));
}

/* The router refuses request req with error. */
static void s_subscribe_error(uint64_t req, const char *error)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    envelope->req = req;
    envelope->error = strdup(error);
    envelope->message = strdup("refused");
    edge_broker_router_message(h.broker, envelope, h.now);
    tg_envelope_destroy(&envelope);
}

/* Makes the live exact key "demo.hello" (id 21) of a new session
   resyncing: a router restart, and the router refuses the re-sent key
   because the ingest has not re-registered the type yet. */
static edge_session_t *s_refused_at_resync(void)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 21);
    edge_broker_resync(h.broker, h.now);
    cr_assert_eq(h_last_sent(&h)->command, TG_CMD_SUBSCRIBE);
    s_subscribe_error(h_last_sent(&h)->req, "telegraphy.error.unknown_event");
    return s;
}

/* A live key the router refuses at resync stays in the table (still live
   for its sessions, who are told nothing) and is asked again on the next
   tick, then at most once per heartbeat interval, until the router
   accepts it; then the retries stop and events flow again. */
Test(edge_broker, live_key_refused_at_resync_is_retried_every_heartbeat)
{
    edge_session_t *s = s_refused_at_resync();
    h_expect_nothing(s);
    edge_subs_t *subs = edge_broker_subs(h.broker);
    edge_sub_t *sub = edge_subs_find_id(subs, 21);
    cr_assert_not_null(sub, "the refused key left the table");
    cr_assert(edge_sub_resyncing(sub));
    cr_assert_eq(s->subs.count, 1);
    cr_assert_eq(edge_subs_live_count(subs), 1);

    size_t before = h_count_sent(&h, TG_CMD_SUBSCRIBE);
    edge_broker_tick(h.broker, h_at(&h, 0));
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), before + 1);
    s_subscribe_error(h_last_sent(&h)->req, "telegraphy.error.unknown_event");
    edge_broker_tick(h.broker, h_at(&h, h.cfg.heartbeat_ms / 2));
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), before + 1, "retried within one heartbeat");
    edge_broker_tick(h.broker, h_at(&h, h.cfg.heartbeat_ms));
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), before + 2);
    cr_assert_eq(h_last_sent(&h)->match, TG_MATCH_EXACT);
    cr_assert_str_eq(h_last_sent(&h)->topic, "demo.hello");

    h_subscribed(&h, h_last_sent(&h)->req, 21);
    cr_assert_not(edge_sub_resyncing(sub));
    edge_broker_tick(h.broker, h_at(&h, 5 * h.cfg.heartbeat_ms));
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), before + 2, "retried after acceptance");
    h_expect_nothing(s);
    uint64_t ids[] = {21};
    h_event(&h, "demo.hello", "public", false, ids, 1, h_body, sizeof(h_body), NULL, 0);
    json_decref(h_expect(s, TG_WAMP_EVENT));
}

/* The REGISTER of a resyncing key's topic (the ingest re-registered the
   type) sends the key again at once, without waiting for a tick. */
Test(edge_broker, register_of_a_resyncing_topic_resends_its_key_at_once)
{
    edge_session_t *s = s_refused_at_resync();
    size_t before = h_count_sent(&h, TG_CMD_SUBSCRIBE);
    h_register(&h, "demo.other", "public", false);
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), before, "sent for another type");
    h_register(&h, "demo.hello", "public", false);
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), before + 1);
    cr_assert_str_eq(h_last_sent(&h)->topic, "demo.hello");
    h_subscribed(&h, h_last_sent(&h)->req, 21);
    cr_assert_eq(edge_subs_resyncing_count(edge_broker_subs(h.broker)), 0);
    h_expect_nothing(s);
}

/* A session new to a resyncing key is not told SUBSCRIBED before the
   router has the key; a refusal reaches it as ERROR, while the sessions
   that held the key keep it. */
Test(edge_broker, newcomer_to_a_resyncing_key_waits_for_the_router)
{
    edge_session_t *old = s_refused_at_resync();
    edge_session_t *b = h_welcomed(&h, TG_WAMP_JSON);
    size_t before = h_count_sent(&h, TG_CMD_SUBSCRIBE);
    h_input(&h, b, "[32, 9, {}, \"demo.hello\"]");
    h_expect_nothing(b);
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), before + 1);
    s_subscribe_error(h_last_sent(&h)->req, "telegraphy.error.unknown_event");
    h_expect_error(b, TG_WAMP_SUBSCRIBE, 9, "telegraphy.error.unknown_event");
    cr_assert_eq(edge_session_pending(b), 0);
    h_expect_nothing(old);
    cr_assert_eq(old->subs.count, 1);
    cr_assert(edge_sub_resyncing(edge_subs_find_id(edge_broker_subs(h.broker), 21)));

    h_input(&h, b, "[32, 10, {}, \"demo.hello\"]");
    h_subscribed(&h, h_last_sent(&h)->req, 21);
    json_t *reply = h_expect(b, TG_WAMP_SUBSCRIBED);
    cr_assert_eq(json_integer_value(json_array_get(reply, 2)), 21);
    json_decref(reply);
}

/* A newcomer to a resyncing key that the router leaves unanswered times
   out as unavailable; the sessions holding the key keep it. */
Test(edge_broker, newcomer_to_a_resyncing_key_times_out_as_unavailable)
{
    edge_session_t *old = s_refused_at_resync();
    edge_session_t *b = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, b, "[32, 9, {}, \"demo.hello\"]");
    edge_broker_tick(h.broker, h_at(&h, EDGE_SUBSCRIBE_TIMEOUT_MS + 1));
    h_expect_error(b, TG_WAMP_SUBSCRIBE, 9, "telegraphy.error.unavailable");
    cr_assert_eq(edge_session_pending(b), 0);
    cr_assert_eq(old->subs.count, 1);
    cr_assert_not_null(edge_subs_find_id(edge_broker_subs(h.broker), 21));
}

/* A refused resync of a key whose sessions have all gone is simply
   dropped: nothing is retried. */
Test(edge_broker, refused_resync_of_an_abandoned_key_is_dropped)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 21);
    edge_broker_resync(h.broker, h.now);
    uint64_t req = h_last_sent(&h)->req;
    h_input(&h, s, "[34, 2, 21]");
    json_decref(h_expect(s, TG_WAMP_UNSUBSCRIBED));
    s_subscribe_error(req, "telegraphy.error.unknown_event");
    cr_assert_eq(edge_subs_count(edge_broker_subs(h.broker)), 0);
    cr_assert_eq(edge_subs_resyncing_count(edge_broker_subs(h.broker)), 0);
}

/* While the router has not welcomed us, SUBSCRIBE waits for the resync
   instead of going nowhere. */
Test(edge_broker, subscribe_before_the_router_is_ready_is_sent_at_resync)
{
    h.ready = false;
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 1, {}, \"demo.hello\"]");
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), 0);
    h.ready = true;
    edge_broker_resync(h.broker, h.now);
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), 1);
    h_subscribed(&h, h_last_sent(&h)->req, 5);
    json_decref(h_expect(s, TG_WAMP_SUBSCRIBED));
}

/* A router id already used by another key is refused, never mixed. */
Test(edge_broker, confirmation_with_an_id_held_by_another_key_is_unavailable)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "prefix", "a", 66);
    h_input(&h, s, "[32, 2, {\"match\": \"prefix\"}, \"b\"]");
    h_subscribed(&h, h_last_sent(&h)->req, 66);
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 2, "telegraphy.error.unavailable");
    cr_assert_eq(s->subs.count, 1);
}

/* max_sessions: the next connection gets no session, and it is counted. */
Test(edge_broker, sessions_beyond_max_sessions_are_refused)
{
    for (uint32_t i = 0; i < h.cfg.max_sessions; i++)
        cr_assert_not_null(h_open(&h, TG_WAMP_JSON));
    cr_assert_null(h_open(&h, TG_WAMP_JSON));
    cr_assert_eq(edge_broker_metrics(h.broker)->sessions_refused, 1);
}

/* REGISTER replaces a type's definition in the edge's copy. */
Test(edge_broker, register_updates_the_registry_copy)
{
    h_register(&h, "demo.hello", "staff", false);
    const tg_event_type_t *type = tg_registry_get(edge_broker_registry(h.broker), "demo.hello");
    cr_assert_str_eq(type->audience, "staff");
}

/* Anything but the four router->edge commands is counted and dropped. */
Test(edge_broker, unexpected_router_command_is_counted)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_STATUS);
    edge_broker_router_message(h.broker, envelope, h.now);
    tg_envelope_destroy(&envelope);
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_INTERNAL], 1);
}
