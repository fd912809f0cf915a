/*  The EVENT hot path (edge_fanout through the broker): who receives an
    event, how it is encoded, that frames are shared, and what a full
    queue does. */
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

TestSuite(edge_fanout, .init = setup, .fini = teardown);

static void s_public_event(const uint64_t *ids, size_t count)
{
    h_event(&h, "demo.hello", "public", false, ids, count, h_body, sizeof(h_body), NULL, 0);
}

/* Every member of each named subscription gets one EVENT per
   subscription: [36, sub, pub, details, [], kwargs]. */
Test(edge_fanout, event_reaches_every_member_once_per_subscription)
{
    edge_session_t *a = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *b = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, a, 1, "exact", "demo.hello", 10);
    h_subscribe_live(&h, b, 1, "exact", "demo.hello", 10);
    h_subscribe_live(&h, b, 2, "prefix", "demo", 20);
    uint64_t ids[] = {10, 20};
    s_public_event(ids, 2);
    json_t *event = h_expect(a, TG_WAMP_EVENT);
    cr_assert_eq(json_integer_value(json_array_get(event, 1)), 10);
    cr_assert_eq(json_integer_value(json_array_get(event, 2)), 77);
    cr_assert_eq(json_array_size(json_array_get(event, 4)), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(event, 5), "n")), 1);
    json_decref(event);
    h_expect_nothing(a);
    json_decref(h_expect(b, TG_WAMP_EVENT));
    json_decref(h_expect(b, TG_WAMP_EVENT));
    h_expect_nothing(b);
    cr_assert_eq(edge_broker_metrics(h.broker)->events_in, 1);
}

/* Encoded once per (event, subscription, serializer): sessions of one
   serializer queue the very same frame. */
Test(edge_fanout, sessions_with_one_serializer_share_one_frame)
{
    edge_session_t *a = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *b = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *c = h_welcomed(&h, TG_WAMP_MSGPACK);
    h_subscribe_live(&h, a, 1, "exact", "demo.hello", 10);
    h_subscribe_live(&h, b, 1, "exact", "demo.hello", 10);
    h_subscribe_live(&h, c, 1, "exact", "demo.hello", 10);
    uint64_t ids[] = {10};
    s_public_event(ids, 1);
    edge_frame_t *fa = edge_queue_peek(a->queue);
    edge_frame_t *fb = edge_queue_peek(b->queue);
    edge_frame_t *fc = edge_queue_peek(c->queue);
    cr_assert_eq(fa, fb);
    cr_assert_neq(fa, fc);
    cr_assert_eq(edge_frame_refs(fa), 2);
    cr_assert_eq(edge_frame_refs(fc), 1);
    cr_assert(edge_frame_is_event(fa));
}

/* msgpack sessions get the body bytes verbatim as kwargs. */
Test(edge_fanout, msgpack_kwargs_are_the_body_bytes_verbatim)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_MSGPACK);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 10);
    uint64_t ids[] = {10};
    s_public_event(ids, 1);
    edge_frame_t *frame = edge_queue_peek(s->queue);
    const uint8_t *payload = edge_frame_payload(frame);
    size_t len = edge_frame_len(frame);
    cr_assert_geq(len, sizeof(h_body));
    cr_assert_eq(memcmp(payload + len - sizeof(h_body), h_body, sizeof(h_body)), 0);
    json_t *event = h_expect(s, TG_WAMP_EVENT);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(event, 5), "n")), 1);
    json_decref(event);
}

/* details.topic only for pattern subscriptions; ts always. */
Test(edge_fanout, details_name_the_topic_only_for_pattern_subscriptions)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 10);
    h_subscribe_live(&h, s, 2, "wildcard", "demo.", 30);
    uint64_t ids[] = {10, 30};
    s_public_event(ids, 2);
    json_t *exact = h_expect(s, TG_WAMP_EVENT);
    json_t *pattern = h_expect(s, TG_WAMP_EVENT);
    cr_assert_null(json_object_get(json_array_get(exact, 3), "topic"));
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(pattern, 3), "topic")),
                     "demo.hello");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(exact, 3), "ts")),
                 1700000000000000LL);
    cr_assert_null(json_object_get(json_array_get(exact, 3), "_guaranteed"));
    json_decref(exact);
    json_decref(pattern);
}

/* A guaranteed event says so in details. */
Test(edge_fanout, guaranteed_event_carries_the_guaranteed_flag)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 10);
    uint64_t ids[] = {10};
    h_event(&h, "demo.hello", "public", true, ids, 1, h_body, sizeof(h_body), NULL, 0);
    json_t *event = h_expect(s, TG_WAMP_EVENT);
    cr_assert(json_is_true(json_object_get(json_array_get(event, 3), "_guaranteed")));
    json_decref(event);
}

/* Audience is enforced at every delivery: an anonymous pattern subscriber
   never sees a non-public event. */
Test(edge_fanout, anonymous_session_never_receives_non_public_events)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "prefix", "shop", 40);
    uint64_t ids[] = {40};
    h_event(&h, "shop.order.shipped", "authenticated", false, ids, 1, h_body, sizeof(h_body), NULL,
            0);
    h_event(&h, "shop.order.audit", "staff", false, ids, 1, h_body, sizeof(h_body), NULL, 0);
    h_expect_nothing(s);
    h_event(&h, "shop.sale", "public", false, ids, 1, h_body, sizeof(h_body), NULL, 0);
    json_decref(h_expect(s, TG_WAMP_EVENT));
}

/* An identified session sees events for its audience groups. */
Test(edge_fanout, identified_session_receives_its_audiences)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_set_identity(s, s->id, false, "42", "staff");
    edge_session_add_group(s, "staff");
    h_subscribe_live(&h, s, 1, "prefix", "shop", 40);
    uint64_t ids[] = {40};
    h_event(&h, "shop.order.shipped", "authenticated", false, ids, 1, h_body, sizeof(h_body), NULL,
            0);
    h_event(&h, "shop.order.audit", "staff", false, ids, 1, h_body, sizeof(h_body), NULL, 0);
    h_event(&h, "shop.ops", "group:ops", false, ids, 1, h_body, sizeof(h_body), NULL, 0);
    json_decref(h_expect(s, TG_WAMP_EVENT));
    json_decref(h_expect(s, TG_WAMP_EVENT));
    h_expect_nothing(s);
}

/* to_users: only listed authids; an anonymous session never matches. */
Test(edge_fanout, to_users_events_reach_only_listed_users)
{
    edge_session_t *anon = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *listed = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *other = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_set_identity(listed, listed->id, false, "7", "user");
    edge_session_set_identity(other, other->id, false, "8", "user");
    h_subscribe_live(&h, anon, 1, "exact", "demo.hello", 10);
    h_subscribe_live(&h, listed, 1, "exact", "demo.hello", 10);
    h_subscribe_live(&h, other, 1, "exact", "demo.hello", 10);
    const char *users[] = {"7", anon->authid};
    uint64_t ids[] = {10};
    h_event(&h, "demo.hello", "public", false, ids, 1, h_body, sizeof(h_body), users, 2);
    json_decref(h_expect(listed, TG_WAMP_EVENT));
    h_expect_nothing(anon);
    h_expect_nothing(other);
}

/* A session whose queue overflows is killed as a slow consumer, counted,
   and the others still get every event. */
Test(edge_fanout, overflowing_session_is_closed_as_slow_consumer_alone)
{
    edge_session_t *slow = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *fast = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, slow, 1, "exact", "demo.hello", 10);
    h_subscribe_live(&h, fast, 1, "exact", "demo.hello", 10);
    uint64_t ids[] = {10};
    for (uint32_t i = 0; i < h.cfg.session_queue + 5; i++) {
        s_public_event(ids, 1);
        json_decref(h_expect(fast, TG_WAMP_EVENT)); /* fast keeps up */
    }
    cr_assert_eq(h_conn(slow)->kills, 1);
    cr_assert_str_eq(h_conn(slow)->reason, "slow consumer");
    cr_assert_eq(slow->state, EDGE_SESSION_CLOSING);
    edge_metrics_t *metrics = edge_broker_metrics(h.broker);
    cr_assert_eq(metrics->slow_consumer_closes, 1);
    cr_assert_eq(metrics->drops, 1);
    cr_assert_eq(h_conn(fast)->kills, 0);
    cr_assert_eq(edge_queue_size(slow->queue), h.cfg.session_queue);
}

/* An event for a subscription the edge no longer holds is ignored. */
Test(edge_fanout, event_for_unknown_subscription_is_ignored)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    uint64_t ids[] = {999};
    s_public_event(ids, 1);
    h_expect_nothing(s);
    cr_assert_eq(edge_broker_metrics(h.broker)->events_in, 1);
}

/* An event without a body frame carries empty kwargs. */
Test(edge_fanout, event_without_body_has_empty_kwargs)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 10);
    uint64_t ids[] = {10};
    h_event(&h, "demo.hello", "public", false, ids, 1, NULL, 0, NULL, 0);
    json_t *event = h_expect(s, TG_WAMP_EVENT);
    cr_assert_eq(json_object_size(json_array_get(event, 5)), 0);
    json_decref(event);
}

/* A body that does not convert to JSON is dropped for JSON sessions and
   counted; nothing crashes. */
Test(edge_fanout, unconvertible_body_is_counted_and_not_sent_as_json)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 10);
    const uint8_t bad[] = {0x81, 0xa1}; /* truncated map */
    uint64_t ids[] = {10};
    h_event(&h, "demo.hello", "public", false, ids, 1, bad, sizeof(bad), NULL, 0);
    h_expect_nothing(s);
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_INTERNAL], 1);
}

/* Values keep their types through JSON: unicode, null, nesting, 64-bit
   integers, floats. */
Test(edge_fanout, json_kwargs_preserve_values)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 10);
    /* {"s": "héllo", "z": nil, "big": 2^62, "f": 1.5, "l": [1]} */
    const uint8_t body[] = {0x85, 0xa1, 's',  0xa6, 'h',  0xc3, 0xa9, 'l',  'l',  'o',  0xa1,
                            'z',  0xc0, 0xa3, 'b',  'i',  'g',  0xcf, 0x40, 0x00, 0x00, 0x00,
                            0x00, 0x00, 0x00, 0x00, 0xa1, 'f',  0xcb, 0x3f, 0xf8, 0x00, 0x00,
                            0x00, 0x00, 0x00, 0x00, 0xa1, 'l',  0x91, 0x01};
    uint64_t ids[] = {10};
    h_event(&h, "demo.hello", "public", false, ids, 1, body, sizeof(body), NULL, 0);
    json_t *event = h_expect(s, TG_WAMP_EVENT);
    json_t *kwargs = json_array_get(event, 5);
    cr_assert_str_eq(json_string_value(json_object_get(kwargs, "s")), "h\xc3\xa9llo");
    cr_assert(json_is_null(json_object_get(kwargs, "z")));
    cr_assert_eq(json_integer_value(json_object_get(kwargs, "big")), 4611686018427387904LL);
    cr_assert_float_eq(json_real_value(json_object_get(kwargs, "f")), 1.5, 1e-9);
    cr_assert_eq(json_array_size(json_object_get(kwargs, "l")), 1);
    json_decref(event);
}

/* The router link's stop signal: the event that brings a session's queue
   (16 here) to half full is one high-water crossing; the events queued
   above it are not, so a session that stopped reading stops the link
   once and then fills up to its slow-consumer close. */
Test(edge_fanout, the_event_that_fills_half_a_queue_is_one_crossing)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_subscribe_live(&h, s, 1, "exact", "demo.hello", 10);
    const edge_pressure_t *pressure = edge_broker_pressure(h.broker);
    uint64_t crossings = pressure->crossings;
    uint64_t ids[] = {10};
    for (int i = 0; i < 7; i++)
        s_public_event(ids, 1);
    cr_assert_eq(pressure->crossings, crossings);
    s_public_event(ids, 1);
    cr_assert_eq(pressure->crossings, crossings + 1);
    for (int i = 0; i < 8; i++)
        s_public_event(ids, 1);
    cr_assert_eq(pressure->crossings, crossings + 1);
    cr_assert_eq(edge_queue_size(s->queue), 16);
    s_public_event(ids, 1);
    cr_assert_eq(h_conn(s)->kills, 1);
}
