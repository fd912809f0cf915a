/*  The WAMP session state machine (edge_wamp) driven through the broker
    with a recording transport: what a client sends, what it gets back,
    and how the session ends. */
#include "test_edge_harness.h"

static harness_t h;

static void setup(void)
{
    h_init(&h);
}

static void teardown(void)
{
    h_fini(&h);
}

TestSuite(edge_wamp, .init = setup, .fini = teardown);

/* HELLO for the configured realm opens an anonymous session whose WELCOME
   announces the broker features and an id in [1, 2^53]. */
Test(edge_wamp, hello_for_the_realm_is_welcomed_as_anonymous_broker_session)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"telegraphy\", {\"roles\": {\"subscriber\": {}}}]");
    json_t *welcome = h_expect(s, TG_WAMP_WELCOME);
    json_int_t id = json_integer_value(json_array_get(welcome, 1));
    cr_assert(id >= 1 && id <= TG_WAMP_MAX_ID);
    json_t *details = json_array_get(welcome, 2);
    json_t *broker_features =
        json_object_get(json_object_get(json_object_get(details, "roles"), "broker"), "features");
    cr_assert(json_is_true(json_object_get(broker_features, "pattern_based_subscription")));
    cr_assert(json_is_true(json_object_get(broker_features, "publisher_identification")));
    cr_assert(json_is_false(json_object_get(broker_features, "session_meta_api")));
    cr_assert_not_null(json_object_get(json_object_get(details, "roles"), "dealer"));
    cr_assert_str_eq(json_string_value(json_object_get(details, "authrole")), "anonymous");
    cr_assert_str_eq(json_string_value(json_object_get(details, "authmethod")), "anonymous");
    cr_assert_eq(s->state, EDGE_SESSION_OPEN);
    cr_assert_eq(h_conn(s)->closes, 0);
    json_decref(welcome);
}

/* Offering "anonymous" (here beside "ticket", on a gateway without a
   secret, which checks no token: see test_edge_auth.c) gets an anonymous
   session. */
Test(edge_wamp, hello_offering_anonymous_is_welcomed)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"telegraphy\", {\"authmethods\": [\"ticket\", \"anonymous\"]}]");
    json_decref(h_expect(s, TG_WAMP_WELCOME));
}

/* Another realm is refused with no_such_realm and the connection closes. */
Test(edge_wamp, hello_for_another_realm_is_aborted_with_no_such_realm)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"elsewhere\", {}]");
    json_t *abort_msg = h_expect(s, TG_WAMP_ABORT);
    cr_assert_str_eq(json_string_value(json_array_get(abort_msg, 2)), "wamp.error.no_such_realm");
    cr_assert_eq(h_conn(s)->closes, 1);
    cr_assert_eq(s->state, EDGE_SESSION_CLOSING);
    json_decref(abort_msg);
}

/* Ticket only, on a gateway without a secret (none can be checked):
   refused like any failed authentication. */
Test(edge_wamp, hello_with_only_ticket_is_aborted_with_authentication_failed)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"telegraphy\", {\"authmethods\": [\"ticket\"], \"authid\": \"7\"}]");
    json_t *abort_msg = h_expect(s, TG_WAMP_ABORT);
    cr_assert_str_eq(json_string_value(json_array_get(abort_msg, 2)),
                     "wamp.error.authentication_failed");
    cr_assert_not_null(json_object_get(json_array_get(abort_msg, 1), "message"));
    json_decref(abort_msg);
}

/* With allow_anonymous off, an anonymous HELLO has no acceptable method. */
Test(edge_wamp, anonymous_hello_is_refused_when_anonymous_is_disabled)
{
    h.cfg.allow_anonymous = false;
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"telegraphy\", {}]");
    json_t *abort_msg = h_expect(s, TG_WAMP_ABORT);
    cr_assert_str_eq(json_string_value(json_array_get(abort_msg, 2)), "wamp.error.no_auth_method");
    json_decref(abort_msg);
}

/* Anything but HELLO first is a protocol violation: ABORT, close 1002,
   counted. */
Test(edge_wamp, subscribe_before_hello_is_a_protocol_violation)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 1, {}, \"demo.hello\"]");
    json_t *abort_msg = h_expect(s, TG_WAMP_ABORT);
    cr_assert_str_eq(json_string_value(json_array_get(abort_msg, 2)),
                     "wamp.error.protocol_violation");
    cr_assert_eq(h_conn(s)->close_code, EDGE_CLOSE_PROTOCOL_ERROR);
    cr_assert_gt(strlen(h_conn(s)->reason), 0);
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_PROTOCOL_VIOLATION], 1);
    cr_assert_eq(h.sent_count, 0);
    json_decref(abort_msg);
}

/* A second HELLO in an open session is a protocol violation. */
Test(edge_wamp, second_hello_is_a_protocol_violation)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"telegraphy\", {}]");
    json_decref(h_expect(s, TG_WAMP_ABORT));
    cr_assert_eq(h_conn(s)->close_code, EDGE_CLOSE_PROTOCOL_ERROR);
}

/* A message type only a server sends (EVENT) is refused. */
Test(edge_wamp, server_only_message_from_client_is_a_protocol_violation)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[36, 1, 2, {}, [], {}]");
    json_decref(h_expect(s, TG_WAMP_ABORT));
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_PROTOCOL_VIOLATION], 1);
}

/* Wrong arity or types end the session, counted as protocol violations. */
Test(edge_wamp, subscribe_with_wrong_types_is_a_protocol_violation)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, \"one\", {}, \"demo.hello\"]");
    json_decref(h_expect(s, TG_WAMP_ABORT));
    cr_assert_eq(h_conn(s)->close_code, EDGE_CLOSE_PROTOCOL_ERROR);
}

/* Bytes that are not JSON are counted as invalid_json and ABORTed. */
Test(edge_wamp, invalid_json_is_aborted_and_counted)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"telegraphy\", {");
    json_t *abort_msg = h_expect(s, TG_WAMP_ABORT);
    cr_assert_str_eq(json_string_value(json_array_get(abort_msg, 2)),
                     "wamp.error.protocol_violation");
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_INVALID_JSON], 1);
    cr_assert_eq(h_conn(s)->close_code, EDGE_CLOSE_PROTOCOL_ERROR);
    json_decref(abort_msg);
}

/* Invalid UTF-8 in a text frame is invalid JSON. */
Test(edge_wamp, invalid_utf8_is_refused)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    const char bytes[] = "[1, \"tele\xff\xfegraphy\", {}]";
    edge_broker_session_input(h.broker, s, bytes, sizeof(bytes) - 1, false, h.now);
    json_decref(h_expect(s, TG_WAMP_ABORT));
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_INVALID_JSON], 1);
}

/* Truncated msgpack on a msgpack session is invalid_msgpack. */
Test(edge_wamp, invalid_msgpack_is_aborted_and_counted)
{
    edge_session_t *s = h_open(&h, TG_WAMP_MSGPACK);
    const uint8_t bytes[] = {0x93, 0x01, 0xaa, 't'};
    edge_broker_session_input(h.broker, s, bytes, sizeof(bytes), true, h.now);
    json_decref(h_expect(s, TG_WAMP_ABORT));
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_INVALID_MSGPACK], 1);
}

/* A binary frame on wamp.2.json is refused with 1003. */
Test(edge_wamp, binary_frame_on_json_session_is_refused)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    edge_broker_session_input(h.broker, s, "[1]", 3, true, h.now);
    json_decref(h_expect(s, TG_WAMP_ABORT));
    cr_assert_eq(h_conn(s)->close_code, EDGE_CLOSE_UNSUPPORTED_DATA);
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_BINARY_ON_JSON], 1);
}

/* A text frame on wamp.2.msgpack is refused with 1003. */
Test(edge_wamp, text_frame_on_msgpack_session_is_refused)
{
    edge_session_t *s = h_open(&h, TG_WAMP_MSGPACK);
    const char *text = "[1, \"telegraphy\", {}]";
    edge_broker_session_input(h.broker, s, text, strlen(text), false, h.now);
    json_decref(h_expect(s, TG_WAMP_ABORT));
    cr_assert_eq(h_conn(s)->close_code, EDGE_CLOSE_UNSUPPORTED_DATA);
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_TEXT_ON_MSGPACK], 1);
}

/* A msgpack session is answered in msgpack. */
Test(edge_wamp, msgpack_session_is_welcomed_in_binary_frames)
{
    edge_session_t *s = h_open(&h, TG_WAMP_MSGPACK);
    h_input(&h, s, "[1, \"telegraphy\", {}]");
    edge_frame_t *frame = edge_queue_peek(s->queue);
    cr_assert_not_null(frame);
    cr_assert(edge_frame_binary(frame));
    json_decref(h_expect(s, TG_WAMP_WELCOME));
}

/* GOODBYE is echoed with goodbye_and_out whatever the reason; the
   connection then closes normally. */
Test(edge_wamp, goodbye_is_echoed_and_closes_normally)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[6, {}, \"wamp.close.system_shutdown\"]");
    json_t *goodbye = h_expect(s, TG_WAMP_GOODBYE);
    cr_assert_str_eq(json_string_value(json_array_get(goodbye, 2)), "wamp.close.goodbye_and_out");
    cr_assert_eq(h_conn(s)->closes, 1);
    cr_assert_eq(h_conn(s)->close_code, EDGE_CLOSE_NORMAL);
    json_decref(goodbye);
}

/* Once closing, the session ignores whatever the peer still sends. */
Test(edge_wamp, input_after_abort_is_ignored)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 1, {}, \"x\"]");
    json_decref(h_expect(s, TG_WAMP_ABORT));
    h_input(&h, s, "[1, \"telegraphy\", {}]");
    h_input(&h, s, "not json");
    h_expect_nothing(s);
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_INVALID_JSON], 0);
    cr_assert_eq(h_conn(s)->closes, 1);
}

/* Browsers may not publish: an acknowledged PUBLISH gets not_authorized. */
Test(edge_wamp, acknowledged_publish_is_not_authorized)
{
    h_register(&h, "demo.hello", "public", false);
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[16, 5, {\"acknowledge\": true}, \"demo.hello\", [], {}]");
    h_expect_error(s, TG_WAMP_PUBLISH, 5, "wamp.error.not_authorized");
    cr_assert_eq(h.sent_count, 0);
}

/* Even a type open to client publishing is refused for now, saying so. */
Test(edge_wamp, publish_to_client_publish_type_is_refused_with_an_honest_message)
{
    h_register(&h, "chat.message", "public", true);
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[16, 6, {\"acknowledge\": true}, \"chat.message\", [], {\"text\": \"hi\"}]");
    json_t *error = h_expect(s, TG_WAMP_ERROR);
    cr_assert_str_eq(json_string_value(json_array_get(error, 4)), "wamp.error.not_authorized");
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(error, 5), 0)),
                     "client publishing arrives later");
    json_decref(error);
}

/* WAMP: no acknowledge, no answer (AutobahnJS would choke on an ERROR for
   a request it does not track). The session stays open. */
Test(edge_wamp, unacknowledged_publish_gets_no_answer)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[16, 7, {}, \"demo.hello\", [], {}]");
    h_expect_nothing(s);
    cr_assert_eq(s->state, EDGE_SESSION_OPEN);
}

/* telegraphy.events.list lists the types this session may subscribe to
   (anonymous: public ones), with fields or null, ttl, guaranteed. */
Test(edge_wamp, events_list_returns_only_types_the_session_may_see)
{
    h_register(&h, "demo.hello", "public", false);
    h_register(&h, "shop.order.shipped", "authenticated", false);
    h_register(&h, "ops.alert", "staff", false);
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[48, 9, {}, \"telegraphy.events.list\"]");
    json_t *result = h_expect(s, TG_WAMP_RESULT);
    cr_assert_eq(json_integer_value(json_array_get(result, 1)), 9);
    json_t *list = json_array_get(json_array_get(result, 3), 0);
    cr_assert_eq(json_array_size(list), 1);
    json_t *item = json_array_get(list, 0);
    cr_assert_str_eq(json_string_value(json_object_get(item, "name")), "demo.hello");
    cr_assert(json_is_null(json_object_get(item, "fields")));
    cr_assert_str_eq(json_string_value(json_object_get(item, "audience")), "public");
    cr_assert(json_is_integer(json_object_get(item, "ttl")));
    cr_assert(json_is_boolean(json_object_get(item, "guaranteed")));
    json_decref(result);
}

/* A type declared with fields lists them. */
Test(edge_wamp, events_list_carries_declared_fields)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_REGISTER);
    envelope->event_type = tg_event_type_new("shop.order.shipped");
    const char *fields[] = {"order_id", "carrier"};
    tg_event_type_set_fields(envelope->event_type, fields, 2);
    edge_broker_router_message(h.broker, envelope, h.now);
    tg_envelope_destroy(&envelope);
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[48, 1, {}, \"telegraphy.events.list\", []]");
    json_t *result = h_expect(s, TG_WAMP_RESULT);
    json_t *item = json_array_get(json_array_get(json_array_get(result, 3), 0), 0);
    cr_assert_eq(json_array_size(json_object_get(item, "fields")), 2);
    json_decref(result);
}

/* Any other procedure does not exist. */
Test(edge_wamp, call_to_unknown_procedure_is_no_such_procedure)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[48, 3, {}, \"com.example.add\", [1, 2]]");
    h_expect_error(s, TG_WAMP_CALL, 3, "wamp.error.no_such_procedure");
    cr_assert_eq(s->state, EDGE_SESSION_OPEN);
}

/* Exact subscriptions name a type: an unknown one is refused. */
Test(edge_wamp, exact_subscribe_to_unknown_type_is_unknown_event)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 2, {}, \"no.such.type\"]");
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 2, "telegraphy.error.unknown_event");
    cr_assert_eq(h.sent_count, 0);
}

/* An anonymous session may not subscribe exactly to a non-public type. */
Test(edge_wamp, exact_subscribe_to_non_public_type_is_not_authorized_for_anonymous)
{
    h_register(&h, "shop.order.shipped", "authenticated", false);
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 2, {}, \"shop.order.shipped\"]");
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 2, "wamp.error.not_authorized");
    cr_assert_eq(h.sent_count, 0);
}

/* An unknown match policy is an invalid argument, not fatal. */
Test(edge_wamp, subscribe_with_unknown_match_is_invalid_argument)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 2, {\"match\": \"regex\"}, \"demo\"]");
    h_expect_error(s, TG_WAMP_SUBSCRIBE, 2, "wamp.error.invalid_argument");
    cr_assert_eq(s->state, EDGE_SESSION_OPEN);
}

/* A filter longer than max_filter is refused before the router hears of
   it, with the column of the fault. */
Test(edge_wamp, filter_longer_than_max_filter_is_invalid_filter)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s,
            "[32, 2, {\"match\": \"prefix\", \"_filter\": "
            "\"a == 1 and b == 2 and c == 3 and d == 4\"}, \"demo\"]");
    json_t *error = h_expect(s, TG_WAMP_ERROR);
    cr_assert_str_eq(json_string_value(json_array_get(error, 4)),
                     "telegraphy.error.invalid_filter");
    cr_assert_not_null(
        strstr(json_string_value(json_array_get(json_array_get(error, 5), 0)), "column 33"));
    cr_assert_eq(h.sent_count, 0);
    json_decref(error);
}

/* A filter with a syntax error is refused at the edge with the column of
   the fault; the router never hears of it and the session stays open. */
Test(edge_wamp, filter_with_a_syntax_error_is_invalid_filter_with_its_column)
{
    edge_session_t *s = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, s, "[32, 2, {\"match\": \"prefix\", \"_filter\": \"room = 1\"}, \"demo\"]");
    json_t *error = h_expect(s, TG_WAMP_ERROR);
    cr_assert_str_eq(json_string_value(json_array_get(error, 4)),
                     "telegraphy.error.invalid_filter");
    const char *message = json_string_value(json_array_get(json_array_get(error, 5), 0));
    cr_assert_not_null(strstr(message, "column 6"), "message: %s", message);
    cr_assert_eq(h.sent_count, 0);
    cr_assert_eq(s->state, EDGE_SESSION_OPEN);
    json_decref(error);
}

/* Equivalent spellings of a filter are one subscription at the edge: the
   second session is answered without a second router SUBSCRIBE, with the
   same id. */
Test(edge_wamp, equivalent_filters_share_one_router_subscription)
{
    edge_session_t *a = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *b = h_welcomed(&h, TG_WAMP_MSGPACK);
    h_input(&h, a,
            "[32, 1, {\"match\": \"prefix\", \"_filter\": \"b == 2 and a == 'x'\"}, \"demo\"]");
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), 1);
    cr_assert(h_last_sent(&h)->has_filter);
    h_subscribed(&h, h_last_sent(&h)->req, 5150);
    json_decref(h_expect(a, TG_WAMP_SUBSCRIBED));
    h_input(&h, b,
            "[32, 7, {\"match\": \"prefix\", \"_filter\": \"(a==\\\"x\\\")and(b==2)\"}, \"demo\"]");
    cr_assert_eq(h_count_sent(&h, TG_CMD_SUBSCRIBE), 1, "a second router SUBSCRIBE was sent");
    json_t *reply = h_expect(b, TG_WAMP_SUBSCRIBED);
    cr_assert_eq(json_integer_value(json_array_get(reply, 2)), 5150);
    json_decref(reply);
}

/* A bad session is closed alone: another session keeps working. */
Test(edge_wamp, a_violation_in_one_session_leaves_others_untouched)
{
    h_register(&h, "demo.hello", "public", false);
    edge_session_t *good = h_welcomed(&h, TG_WAMP_JSON);
    edge_session_t *bad = h_welcomed(&h, TG_WAMP_JSON);
    h_input(&h, bad, "garbage");
    json_decref(h_expect(bad, TG_WAMP_ABORT));
    uint64_t id = h_subscribe_live(&h, good, 1, "exact", "demo.hello", 4242);
    cr_assert_eq(id, 4242);
    cr_assert_eq(h_conn(good)->closes + h_conn(good)->kills, 0);
}
