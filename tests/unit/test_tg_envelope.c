/*  Unit tests for tg_envelope: every command survives encode -> decode with
    every field, and every kind of malformed message is refused (without a
    leak: the sanitizer build checks that) with a reason.
*/
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "test_tg_envelope_helpers.h"
#include "tg_envelope.h"

/* --- helpers: test_tg_envelope_helpers.h, and: ---------------------------- */

/* A valid SUBSCRIBE header minus the keys the test wants to vary. */
static void subscribe_base(header_t *h, size_t extra_pairs)
{
    header_init(h, 4 + extra_pairs);
    kv_uint(h, "v", 1);
    kv_uint(h, "req", 7);
    kv_str(h, "topic", "shop.order");
    kv_str(h, "match", "exact");
}

/* --- round trips --------------------------------------------------------- */

/* PUBLISH keeps topic, req, to_users and the body bytes. */
Test(tg_envelope, publish_round_trips_with_every_field)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_PUBLISH);
    env->req = 42;
    env->topic = strdup("shop.order.shipped");
    env->to_users = (char **)calloc(2, sizeof(char *));
    env->to_users[0] = strdup("7");
    env->to_users[1] = strdup("alice");
    env->to_users_count = 2;
    env->body = body_frame();
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->command, TG_CMD_PUBLISH);
    cr_assert_eq(copy->req, 42);
    cr_assert_str_eq(copy->topic, "shop.order.shipped");
    cr_assert_eq(copy->to_users_count, 2);
    cr_assert_str_eq(copy->to_users[0], "7");
    cr_assert_str_eq(copy->to_users[1], "alice");
    cr_assert_eq(zframe_size(copy->body), 4);
    cr_assert(memcmp(zframe_data(copy->body), "\x81\xa1\x61\x01", 4) == 0);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* to_users absent means everybody (NULL); an empty list means nobody and
   stays distinguishable after a round trip. */
Test(tg_envelope, empty_to_users_is_not_the_same_as_absent)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_PUBLISH);
    env->topic = strdup("a");
    env->body = body_frame();
    tg_envelope_t *copy = round_trip(env);
    cr_assert_null(copy->to_users);
    tg_envelope_destroy(&copy);

    env->to_users = (char **)calloc(1, sizeof(char *));
    env->body = body_frame();
    copy = round_trip(env);
    cr_assert_not_null(copy->to_users);
    cr_assert_eq(copy->to_users_count, 0);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&env);
}

/* REGISTER carries the whole event type, fields included. */
Test(tg_envelope, register_round_trips_the_event_type)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->req = 3;
    env->event_type = tg_event_type_new("shop.order.shipped");
    const char *fields[] = {"order_id", "carrier"};
    tg_event_type_set_fields(env->event_type, fields, 2);
    free(env->event_type->audience);
    env->event_type->audience = strdup("group:ops");
    env->event_type->ttl = 300;
    env->event_type->guaranteed = true;
    env->event_type->client_publish = true;
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, 3);
    cr_assert_not_null(copy->event_type);
    cr_assert(tg_event_type_equal(copy->event_type, env->event_type));
    cr_assert_str_eq(copy->event_type->fields[0], "carrier");
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* A type without a fields list stays "any map" (has_fields false), which
   is different from an empty fields list. */
Test(tg_envelope, register_without_fields_means_any_map)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->event_type = tg_event_type_new("chat.message");
    tg_envelope_t *copy = round_trip(env);
    cr_assert_not(copy->event_type->has_fields);
    cr_assert_eq(copy->req, 0);
    tg_envelope_destroy(&copy);

    tg_event_type_set_fields(env->event_type, NULL, 0);
    copy = round_trip(env);
    cr_assert(copy->event_type->has_fields);
    cr_assert_eq(copy->event_type->fields_count, 0);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&env);
}

/* ACCEPTED carries req and (for a PUBLISH) the publication id. */
Test(tg_envelope, accepted_round_trips_req_and_pub_id)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_ACCEPTED);
    env->req = TG_MAX_ID;
    env->pub_id = TG_MAX_ID - 1;
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, TG_MAX_ID);
    cr_assert_eq(copy->pub_id, TG_MAX_ID - 1);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* REJECTED carries req, error URI and message. */
Test(tg_envelope, rejected_round_trips_error_and_message)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REJECTED);
    env->req = 9;
    env->error = strdup("telegraphy.error.unknown_event");
    env->message = strdup("no such event type: x.y ü");
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, 9);
    cr_assert_str_eq(copy->error, "telegraphy.error.unknown_event");
    cr_assert_str_eq(copy->message, "no such event type: x.y ü");
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* EVENT (router -> edge form) keeps every field, sub_ids (in their own
   frame, the fourth) in order. */
Test(tg_envelope, event_round_trips_with_every_field)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_EVENT);
    env->pub_id = 1700000000000001;
    env->ts = 1700000000000000;
    env->topic = strdup("shop.order.shipped");
    env->to_users = (char **)calloc(1, sizeof(char *));
    env->to_users[0] = strdup("42");
    env->to_users_count = 1;
    env->audience = strdup("authenticated");
    env->guaranteed = true;
    env->sub_ids = (uint64_t *)calloc(3, sizeof(uint64_t));
    env->sub_ids[0] = 1;
    env->sub_ids[1] = TG_MAX_ID;
    env->sub_ids[2] = 12345;
    env->sub_ids_count = 3;
    env->body = body_frame();
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->pub_id, 1700000000000001);
    cr_assert_eq(copy->ts, 1700000000000000);
    cr_assert_str_eq(copy->topic, "shop.order.shipped");
    cr_assert_eq(copy->to_users_count, 1);
    cr_assert_str_eq(copy->to_users[0], "42");
    cr_assert_str_eq(copy->audience, "authenticated");
    cr_assert(copy->guaranteed);
    cr_assert_eq(copy->sub_ids_count, 3);
    cr_assert_eq(copy->sub_ids[0], 1);
    cr_assert_eq(copy->sub_ids[1], TG_MAX_ID);
    cr_assert_eq(copy->sub_ids[2], 12345);
    cr_assert_not_null(copy->body);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* HELLO, WELCOME: role and instance. */
Test(tg_envelope, hello_and_welcome_round_trip)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_HELLO);
    env->role = strdup("edge");
    env->instance = strdup("edge-4f2a");
    tg_envelope_t *copy = round_trip(env);
    cr_assert_str_eq(copy->role, "edge");
    cr_assert_str_eq(copy->instance, "edge-4f2a");
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);

    env = tg_envelope_new(TG_CMD_WELCOME);
    env->instance = strdup("router-1");
    copy = round_trip(env);
    cr_assert_eq(copy->command, TG_CMD_WELCOME);
    cr_assert_str_eq(copy->instance, "router-1");
    cr_assert_null(copy->role);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* HEARTBEAT keeps instance, known, uptime and the stats map in order,
   negative values included. */
Test(tg_envelope, heartbeat_round_trips_stats)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_HEARTBEAT);
    env->instance = strdup("ingest-1");
    env->known = true;
    env->uptime_ms = 123456;
    tg_envelope_add_stat(env, "events_in", 10);
    tg_envelope_add_stat(env, "drops", -1);
    tg_envelope_add_stat(env, "queue_depth", INT64_MAX);
    tg_envelope_t *copy = round_trip(env);
    cr_assert_str_eq(copy->instance, "ingest-1");
    cr_assert(copy->known);
    cr_assert_eq(copy->uptime_ms, 123456);
    cr_assert_eq(copy->stats_count, 3);
    cr_assert_str_eq(copy->stats[0].name, "events_in");
    cr_assert_eq(copy->stats[0].value, 10);
    cr_assert_str_eq(copy->stats[1].name, "drops");
    cr_assert_eq(copy->stats[1].value, -1);
    cr_assert_eq(copy->stats[2].value, INT64_MAX);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* SUBSCRIBE keeps req, topic, match and filter. */
Test(tg_envelope, subscribe_round_trips_match_and_filter)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_SUBSCRIBE);
    env->req = 5;
    env->topic = strdup("shop..shipped");
    env->match = TG_MATCH_WILDCARD;
    env->filter = strdup("room == \"lobby\"");
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, 5);
    cr_assert_str_eq(copy->topic, "shop..shipped");
    cr_assert_eq(copy->match, TG_MATCH_WILDCARD);
    cr_assert_str_eq(copy->filter, "room == \"lobby\"");
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* An empty filter is carried as an empty string, distinct from none. */
Test(tg_envelope, empty_filter_stays_distinct_from_no_filter)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_SUBSCRIBE);
    env->req = 5;
    env->topic = strdup("a");
    tg_envelope_t *copy = round_trip(env);
    cr_assert_null(copy->filter);
    tg_envelope_destroy(&copy);
    env->filter = strdup("");
    copy = round_trip(env);
    cr_assert_not_null(copy->filter);
    cr_assert_str_eq(copy->filter, "");
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&env);
}

/* SUBSCRIBED, SUBSCRIBE_ERROR and UNSUBSCRIBE keep their ids and texts. */
Test(tg_envelope, subscription_replies_round_trip)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_SUBSCRIBED);
    env->req = 5;
    env->sub_id = 99;
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, 5);
    cr_assert_eq(copy->sub_id, 99);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);

    env = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    env->req = 6;
    env->error = strdup("telegraphy.error.invalid_filter");
    env->message = strdup("filters are not supported yet (column 1)");
    copy = round_trip(env);
    cr_assert_eq(copy->req, 6);
    cr_assert_str_eq(copy->error, "telegraphy.error.invalid_filter");
    cr_assert_str_eq(copy->message, "filters are not supported yet (column 1)");
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);

    env = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    env->sub_id = TG_MAX_ID;
    copy = round_trip(env);
    cr_assert_eq(copy->sub_id, TG_MAX_ID);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* STATUS and STATUS_REPLY: the processes with their stats. */
Test(tg_envelope, status_reply_round_trips_processes)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_STATUS);
    env->req = 1;
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, 1);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);

    env = tg_envelope_new(TG_CMD_STATUS_REPLY);
    env->req = 1;
    env->processes = (tg_process_status_t *)calloc(2, sizeof(tg_process_status_t));
    env->processes_count = 2;
    env->processes[0].role = strdup("router");
    env->processes[0].instance = strdup("r1");
    env->processes[0].uptime_ms = 1000;
    env->processes[1].role = strdup("edge");
    env->processes[1].instance = strdup("e1");
    env->processes[1].uptime_ms = 2000;
    env->processes[1].last_seen_ms = 150;
    env->processes[1].stats = (tg_stat_t *)calloc(1, sizeof(tg_stat_t));
    strcpy(env->processes[1].stats[0].name, "sessions");
    env->processes[1].stats[0].value = 12;
    env->processes[1].stats_count = 1;
    copy = round_trip(env);
    cr_assert_eq(copy->processes_count, 2);
    cr_assert_str_eq(copy->processes[0].role, "router");
    cr_assert_str_eq(copy->processes[0].instance, "r1");
    cr_assert_eq(copy->processes[0].uptime_ms, 1000);
    cr_assert_eq(copy->processes[0].stats_count, 0);
    cr_assert_str_eq(copy->processes[1].role, "edge");
    cr_assert_eq(copy->processes[1].last_seen_ms, 150);
    cr_assert_eq(copy->processes[1].stats_count, 1);
    cr_assert_str_eq(copy->processes[1].stats[0].name, "sessions");
    cr_assert_eq(copy->processes[1].stats[0].value, 12);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* The body frame is moved, not copied: encode takes it out of the envelope
   and decode hands over the very same frame (same bytes in memory). */
Test(tg_envelope, body_frame_is_moved_not_copied)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_EVENT);
    env->pub_id = 1;
    env->ts = 2;
    env->topic = strdup("a.b");
    zframe_t *body = body_frame();
    const byte *bytes = zframe_data(body);
    env->body = body;
    zmsg_t *msg = tg_envelope_encode(env);
    cr_assert_null(env->body);
    cr_assert_eq(zmsg_last(msg), body);
    tg_envelope_t *copy = expect_decoded(msg);
    cr_assert_eq(copy->body, body);
    cr_assert_eq(zframe_data(copy->body), bytes);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* The wire layout is what docs/protocol.md says: command name, then a map
   that starts with "v": 1. */
Test(tg_envelope, encoded_message_is_command_then_versioned_map)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    env->sub_id = 5;
    zmsg_t *msg = tg_envelope_encode(env);
    cr_assert_eq(zmsg_size(msg), 2);
    char *command = zmsg_popstr(msg);
    cr_assert_str_eq(command, "UNSUBSCRIBE");
    zframe_t *header = zmsg_pop(msg);
    /* {"v": 1, "sub_id": 5} */
    const byte expected[] = {0x82, 0xa1, 'v', 0x01, 0xa6, 's', 'u', 'b', '_', 'i', 'd', 0x05};
    cr_assert_eq(zframe_size(header), sizeof expected);
    cr_assert(memcmp(zframe_data(header), expected, sizeof expected) == 0);
    free(command);
    zframe_destroy(&header);
    zmsg_destroy(&msg);
    tg_envelope_destroy(&env);
}

/* --- malformed input ---------------------------------------------------- */

/* A command name we do not know is refused. */
Test(tg_envelope, unknown_command_is_refused)
{
    expect_malformed(raw_msg("EVENTS", "\x81\xa1v\x01", 4), "unknown command");
    expect_malformed(raw_msg("event", "\x81\xa1v\x01", 4), "unknown command");
}

/* An empty message and a command without its header are refused. */
Test(tg_envelope, missing_frames_are_refused)
{
    expect_malformed(zmsg_new(), "empty message");
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "STATUS");
    expect_malformed(msg, "missing header");
    const char *why = NULL;
    zmsg_t *none = NULL;
    cr_assert_null(tg_envelope_decode(&none, &why));
}

/* The header must be a map: an array, a string or an empty frame is not. */
Test(tg_envelope, non_map_header_is_refused)
{
    expect_malformed(raw_msg("STATUS", "\x91\x01", 2), "header is not a map");
    expect_malformed(raw_msg("STATUS", "\xa1x", 2), "header is not a map");
    expect_malformed(raw_msg("STATUS", "", 0), "truncated msgpack");
}

/* Truncated msgpack (a map that promises more pairs, a string cut short)
   is refused. */
Test(tg_envelope, truncated_msgpack_is_refused)
{
    expect_malformed(raw_msg("STATUS", "\x82\xa1v\x01", 4), "truncated msgpack");
    expect_malformed(raw_msg("STATUS", "\x81\xa5ver", 5), "truncated msgpack");
    expect_malformed(raw_msg("STATUS", "\x81\xa1v\xcf\x00\x00", 6), "truncated msgpack");
}

/* Bytes after the header map are refused. */
Test(tg_envelope, trailing_bytes_are_refused)
{
    expect_malformed(raw_msg("STATUS", "\x82\xa1v\x01\xa3req\x01\xc0", 10), "trailing bytes");
}

/* A count far larger than the frame (an array of 2^32-1 items in 5 bytes)
   is refused before msgpack-c would allocate for it. */
Test(tg_envelope, huge_count_claims_are_refused_without_allocating)
{
    expect_malformed(raw_msg("STATUS", "\xdf\xff\xff\xff\xff", 5), "truncated msgpack");
    expect_malformed(raw_msg("STATUS", "\x81\xa1x\xdd\xff\xff\xff\xff", 8), "truncated msgpack");
    expect_malformed(raw_msg("STATUS", "\x81\xa1x\xdb\xff\xff\xff\xff", 8), "truncated msgpack");
}

/* The never-used byte 0xc1 is refused. */
Test(tg_envelope, reserved_msgpack_byte_is_refused)
{
    expect_malformed(raw_msg("STATUS", "\x81\xa1x\xc1", 4), "bad msgpack");
}

/* Nesting deeper than msgpack-c's stack is refused, not a crash. */
Test(tg_envelope, deep_nesting_is_refused)
{
    byte deep[200];
    deep[0] = 0x82;
    memcpy(deep + 1, "\xa1v\x01\xa1x", 5);
    for (size_t i = 6; i < sizeof deep - 1; i++)
        deep[i] = 0x91;
    deep[sizeof deep - 1] = 0x01;
    expect_malformed(raw_msg("STATUS", deep, sizeof deep), "bad msgpack");
}

/* "v" must be there and be 1; a newer version is named as such. */
Test(tg_envelope, wrong_version_is_refused)
{
    expect_malformed(raw_msg("STATUS", "\x81\xa1v\x02", 4), "unsupported version");
    expect_malformed(raw_msg("STATUS", "\x81\xa1v\x00", 4), "bad field: v");
    expect_malformed(raw_msg("STATUS", "\x81\xa1v\xa1\x31", 5), "bad field: v");
    expect_malformed(raw_msg("STATUS", "\x81\xa3req\x01", 6), "missing field: v");
    expect_malformed(raw_msg("STATUS", "\x80", 1), "missing field: v");
}

/* A newer version is reported as such even when its fields look wrong. */
Test(tg_envelope, version_is_checked_before_fields)
{
    header_t h;
    header_init(&h, 2);
    kv_str(&h, "req", "not a number");
    kv_uint(&h, "v", 3);
    expect_malformed(header_msg(&h, "STATUS", 0), "unsupported version");
}

/* A field of the wrong type is refused, naming the field. */
Test(tg_envelope, wrong_field_types_are_refused)
{
    header_t h;
    subscribe_base(&h, 1);
    kv_str(&h, "filter", "ok");
    zmsg_t *ok = header_msg(&h, "SUBSCRIBE", 0);
    tg_envelope_t *env = expect_decoded(ok);
    tg_envelope_destroy(&env);

    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_str(&h, "req", "7");
    kv_str(&h, "topic", "a");
    kv_str(&h, "match", "exact");
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "bad field: req");

    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 7);
    kv_uint(&h, "topic", 1);
    kv_str(&h, "match", "exact");
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "bad field: topic");

    subscribe_base(&h, 1);
    pack_str(&h, "filter");
    msgpack_pack_nil(&h.packer);
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "bad field: filter");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "instance", "x");
    kv_uint(&h, "known", 1);
    expect_malformed(header_msg(&h, "HEARTBEAT", 0), "bad field: known");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "instance", "x");
    pack_str(&h, "stats");
    msgpack_pack_map(&h.packer, 1);
    kv_str(&h, "events_in", "10");
    expect_malformed(header_msg(&h, "HEARTBEAT", 0), "bad field: stats");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "instance", "x");
    pack_str(&h, "uptime_ms");
    msgpack_pack_int64(&h.packer, -5);
    expect_malformed(header_msg(&h, "HEARTBEAT", 0), "bad field: uptime_ms");
}

/* An EVENT header with the given extra key/value written by `fill`. */
static zmsg_t *event_with(void (*fill)(header_t *h))
{
    header_t h;
    header_init(&h, 5);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "pub_id", 10);
    kv_uint(&h, "ts", 20);
    kv_str(&h, "topic", "a.b");
    fill(&h);
    zmsg_t *msg = header_msg(&h, "EVENT", 0);
    zmsg_append(msg, &(zframe_t *){body_frame()});
    return msg;
}

static void fill_to_users_with_int(header_t *h)
{
    pack_str(h, "to_users");
    msgpack_pack_array(&h->packer, 1);
    pack_uint(h, 7);
}

static void fill_guaranteed_with_int(header_t *h)
{
    kv_uint(h, "guaranteed", 1);
}

static void fill_bad_audience(header_t *h)
{
    kv_str(h, "audience", "everyone");
}

static void fill_unknown_key(header_t *h)
{
    pack_str(h, "future_field");
    msgpack_pack_array(&h->packer, 2);
    msgpack_pack_nil(&h->packer);
    msgpack_pack_float(&h->packer, 1.5f);
}

static void fill_non_string_key(header_t *h)
{
    pack_uint(h, 17);
    pack_uint(h, 18);
}

/* Wrong item types inside arrays are refused. */
Test(tg_envelope, wrong_item_types_in_lists_are_refused)
{
    expect_malformed(event_with(fill_to_users_with_int), "bad field: to_users");
    expect_malformed(event_with(fill_guaranteed_with_int), "bad field: guaranteed");
    expect_malformed(event_with(fill_bad_audience), "bad field: audience");
}

/* Ids are in [1, 2^53]: 0 and 2^53+1 are refused, 2^53 accepted. */
Test(tg_envelope, ids_out_of_range_are_refused)
{
    uint64_t values[] = {0, TG_MAX_ID + 1, TG_MAX_ID};
    for (int i = 0; i < 3; i++) {
        header_t h;
        header_init(&h, 2);
        kv_uint(&h, "v", 1);
        kv_uint(&h, "sub_id", values[i]);
        zmsg_t *msg = header_msg(&h, "UNSUBSCRIBE", 0);
        if (i < 2)
            expect_malformed(msg, "bad field: sub_id");
        else {
            tg_envelope_t *env = expect_decoded(msg);
            cr_assert_eq(env->sub_id, TG_MAX_ID);
            tg_envelope_destroy(&env);
        }

        header_init(&h, 2);
        kv_uint(&h, "v", 1);
        kv_uint(&h, "req", values[i]);
        msg = header_msg(&h, "STATUS", 0);
        if (i < 2)
            expect_malformed(msg, "bad field: req");
        else {
            tg_envelope_t *env = expect_decoded(msg);
            tg_envelope_destroy(&env);
        }
    }
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    kv_uint(&h, "pub_id", 0);
    expect_malformed(header_msg(&h, "ACCEPTED", 0), "bad field: pub_id");
}

/* Strings longer than their bound are refused; at the bound they pass. */
Test(tg_envelope, oversized_strings_are_refused)
{
    char topic[TG_MAX_TOPIC + 2];
    memset(topic, 'a', sizeof topic);
    topic[TG_MAX_TOPIC] = '\0';
    header_t h;
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    kv_str(&h, "topic", topic); /* exactly TG_MAX_TOPIC */
    kv_str(&h, "match", "prefix");
    tg_envelope_t *env = expect_decoded(header_msg(&h, "SUBSCRIBE", 0));
    cr_assert_eq(strlen(env->topic), TG_MAX_TOPIC);
    cr_assert_eq(env->match, TG_MATCH_PREFIX);
    tg_envelope_destroy(&env);

    topic[TG_MAX_TOPIC] = 'a';
    topic[TG_MAX_TOPIC + 1] = '\0';
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    kv_str(&h, "topic", topic);
    kv_str(&h, "match", "prefix");
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "bad field: topic");

    char instance[TG_MAX_ID_STRING + 2];
    memset(instance, 'i', sizeof instance);
    instance[TG_MAX_ID_STRING + 1] = '\0';
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "role", "edge");
    kv_str(&h, "instance", instance);
    expect_malformed(header_msg(&h, "HELLO", 0), "bad field: instance");

    char *message = (char *)malloc(TG_MAX_ERROR_TEXT + 2);
    memset(message, 'm', TG_MAX_ERROR_TEXT + 1);
    message[TG_MAX_ERROR_TEXT + 1] = '\0';
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    kv_str(&h, "error", "x.y");
    kv_str(&h, "message", message);
    expect_malformed(header_msg(&h, "REJECTED", 0), "bad field: message");
    free(message);

    char *filter = (char *)malloc(TG_MAX_FILTER_BYTES + 2);
    memset(filter, 'f', TG_MAX_FILTER_BYTES + 1);
    filter[TG_MAX_FILTER_BYTES + 1] = '\0';
    subscribe_base(&h, 1);
    kv_str(&h, "filter", filter);
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "bad field: filter");
    free(filter);
}

/* A list longer than its bound is refused. */
Test(tg_envelope, oversized_lists_are_refused)
{
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "topic", "a");
    pack_str(&h, "to_users");
    msgpack_pack_array(&h.packer, TG_MAX_TO_USERS + 1);
    for (int i = 0; i < TG_MAX_TO_USERS + 1; i++)
        pack_str(&h, "u");
    expect_malformed(header_msg(&h, "PUBLISH", 1), "bad field: to_users");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "instance", "x");
    pack_str(&h, "stats");
    msgpack_pack_map(&h.packer, TG_MAX_STATS + 1);
    for (int i = 0; i < TG_MAX_STATS + 1; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        kv_uint(&h, name, (uint64_t)i);
    }
    expect_malformed(header_msg(&h, "HEARTBEAT", 0), "bad field: stats");
}

/* Invalid UTF-8 (a lone continuation byte, an overlong '/', a surrogate)
   and embedded NULs are refused in any string field. */
Test(tg_envelope, invalid_utf8_and_nul_are_refused)
{
    const char *bad[] = {"a\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        header_t h;
        header_init(&h, 3);
        kv_uint(&h, "v", 1);
        kv_str(&h, "role", "edge");
        kv_str(&h, "instance", bad[i]);
        expect_malformed(header_msg(&h, "HELLO", 0), "bad field: instance");
    }
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "role", "edge");
    pack_str(&h, "instance");
    pack_raw_str(&h, "ab\0cd", 5);
    expect_malformed(header_msg(&h, "HELLO", 0), "bad field: instance");
}

/* An empty topic is refused. */
Test(tg_envelope, empty_topic_is_refused)
{
    header_t h;
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    kv_str(&h, "topic", "");
    kv_str(&h, "match", "exact");
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "bad field: topic");
}

/* An unknown match policy is refused. */
Test(tg_envelope, unknown_match_is_refused)
{
    header_t h;
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    kv_str(&h, "topic", "a");
    kv_str(&h, "match", "regex");
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "bad field: match");
}

/* Each command's required fields must be present. */
Test(tg_envelope, missing_required_fields_are_refused)
{
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "ts", 1);
    kv_str(&h, "topic", "a");
    zmsg_t *msg = header_msg(&h, "EVENT", 1);
    expect_malformed(msg, "missing field: pub_id");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    kv_str(&h, "topic", "a");
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "missing field: match");

    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    expect_malformed(header_msg(&h, "REGISTER", 0), "missing field: type");

    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    kv_str(&h, "role", "edge");
    expect_malformed(header_msg(&h, "HELLO", 0), "missing field: instance");

    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    expect_malformed(header_msg(&h, "SUBSCRIBED", 0), "missing field: sub_id");

    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    expect_malformed(header_msg(&h, "REJECTED", 0), "missing field: error");
}

/* A REGISTER whose type has an invalid name (not a strict URI), no name,
   or a bad audience/ttl is refused. */
Test(tg_envelope, register_with_invalid_type_is_refused)
{
    const char *names[] = {"Shop.Order", "shop..order", "", "shop.order."};
    for (size_t i = 0; i < 4; i++) {
        header_t h;
        header_init(&h, 2);
        kv_uint(&h, "v", 1);
        pack_str(&h, "type");
        msgpack_pack_map(&h.packer, 1);
        kv_str(&h, "name", names[i]);
        expect_malformed(header_msg(&h, "REGISTER", 0), "bad field: type");
    }
    header_t h;
    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    pack_str(&h, "type");
    msgpack_pack_map(&h.packer, 1);
    kv_uint(&h, "ttl", 5);
    expect_malformed(header_msg(&h, "REGISTER", 0), "bad field: type");

    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    pack_str(&h, "type");
    msgpack_pack_map(&h.packer, 2);
    kv_str(&h, "name", "a.b");
    kv_uint(&h, "ttl", TG_MAX_TTL + 1);
    expect_malformed(header_msg(&h, "REGISTER", 0), "bad field: type");

    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    pack_str(&h, "type");
    msgpack_pack_map(&h.packer, 2);
    kv_str(&h, "name", "a.b");
    kv_str(&h, "audience", "group:");
    expect_malformed(header_msg(&h, "REGISTER", 0), "bad field: type");
}

/* A body frame on a command without one, and a missing body on PUBLISH or
   EVENT, are refused; so are frames beyond the body. */
Test(tg_envelope, body_frames_must_match_the_command)
{
    header_t h;
    subscribe_base(&h, 0);
    expect_malformed(header_msg(&h, "SUBSCRIBE", 1), "unexpected body");

    subscribe_base(&h, 0);
    expect_malformed(header_msg(&h, "SUBSCRIBE", 2), "extra frames");

    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    kv_str(&h, "topic", "a");
    expect_malformed(header_msg(&h, "PUBLISH", 0), "missing body");

    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    kv_str(&h, "topic", "a");
    expect_malformed(header_msg(&h, "PUBLISH", 2), "extra frames");
}

/* Unknown keys (and keys of other commands) are ignored. */
Test(tg_envelope, unknown_keys_are_ignored)
{
    zmsg_t *msg = event_with(fill_unknown_key);
    tg_envelope_t *env = expect_decoded(msg);
    cr_assert_str_eq(env->topic, "a.b");
    tg_envelope_destroy(&env);

    env = expect_decoded(event_with(fill_non_string_key));
    tg_envelope_destroy(&env);

    /* "role" belongs to HELLO: in an UNSUBSCRIBE it is ignored, even with a
       value that would be wrong there, and the envelope does not hold it. */
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "sub_id", 3);
    kv_uint(&h, "role", 3);
    env = expect_decoded(header_msg(&h, "UNSUBSCRIBE", 0));
    cr_assert_null(env->role);
    tg_envelope_destroy(&env);
}

/* A known key given twice is refused (which one would win is ambiguous). */
Test(tg_envelope, duplicate_keys_are_refused)
{
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "sub_id", 3);
    kv_uint(&h, "sub_id", 4);
    expect_malformed(header_msg(&h, "UNSUBSCRIBE", 0), "duplicate field");
}

/* A STATUS_REPLY process without role or instance is refused. */
Test(tg_envelope, status_reply_process_needs_role_and_instance)
{
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 1);
    pack_str(&h, "processes");
    msgpack_pack_array(&h.packer, 1);
    msgpack_pack_map(&h.packer, 1);
    kv_str(&h, "role", "edge");
    expect_malformed(header_msg(&h, "STATUS_REPLY", 0), "bad field: processes");
}

/* --- sending ------------------------------------------------------------ */

/* Sending never blocks: a DEALER with no peer would block, so send fails
   at once (EAGAIN) and the message is dropped. */
Test(tg_envelope, send_without_peer_fails_instead_of_blocking, .timeout = 10)
{
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    tg_envelope_t *env = tg_envelope_new(TG_CMD_STATUS);
    env->req = 1;
    int64_t start = zclock_mono();
    cr_assert_eq(tg_envelope_send(env, dealer), -1);
    cr_assert_lt(zclock_mono() - start, 1000);
    tg_envelope_destroy(&env);
    zsock_destroy(&dealer);
}

/* A ROUTER with ROUTER_MANDATORY refuses an unknown peer: -1, no crash. */
Test(tg_envelope, send_to_unknown_peer_fails, .timeout = 10)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(router, 1);
    cr_assert_neq(zsock_bind(router, "inproc://tg-envelope-unknown"), -1);
    tg_envelope_t *env = tg_envelope_new(TG_CMD_EVENT);
    env->pub_id = 1;
    env->ts = 1;
    env->topic = strdup("a");
    env->body = body_frame();
    zframe_t *peer = zframe_from("nobody");
    cr_assert_eq(tg_envelope_send_to(env, router, peer), -1);
    cr_assert_null(env->body);
    zframe_destroy(&peer);
    tg_envelope_destroy(&env);
    zsock_destroy(&router);
}

/* send_to delivers to the named DEALER, which decodes the same envelope. */
Test(tg_envelope, send_to_reaches_the_named_peer, .timeout = 10)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(router, 1);
    cr_assert_neq(zsock_bind(router, "inproc://tg-envelope-peer"), -1);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_identity(dealer, "edge-1");
    cr_assert_eq(zsock_connect(dealer, "inproc://tg-envelope-peer"), 0);

    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = strdup("edge");
    hello->instance = strdup("edge-1");
    cr_assert_eq(tg_envelope_send(hello, dealer), 0);
    zsock_set_rcvtimeo(router, 2000);
    zmsg_t *msg = zmsg_recv(router);
    cr_assert_not_null(msg);
    zframe_t *routing_id = zmsg_pop(msg);
    tg_envelope_t *got = expect_decoded(msg);
    cr_assert_eq(got->command, TG_CMD_HELLO);
    cr_assert_str_eq(got->instance, "edge-1");

    tg_envelope_t *welcome = tg_envelope_new(TG_CMD_WELCOME);
    welcome->instance = strdup("router-1");
    cr_assert_eq(tg_envelope_send_to(welcome, router, routing_id), 0);
    zsock_set_rcvtimeo(dealer, 2000);
    tg_envelope_t *reply = expect_decoded(zmsg_recv(dealer));
    cr_assert_eq(reply->command, TG_CMD_WELCOME);
    cr_assert_str_eq(reply->instance, "router-1");

    zframe_destroy(&routing_id);
    tg_envelope_destroy(&hello);
    tg_envelope_destroy(&got);
    tg_envelope_destroy(&welcome);
    tg_envelope_destroy(&reply);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
}

/* --- small helpers ------------------------------------------------------ */

/* Command and match names map both ways. */
Test(tg_envelope, names_map_both_ways)
{
    cr_assert_str_eq(tg_command_name(TG_CMD_STATUS_REPLY), "STATUS_REPLY");
    cr_assert_str_eq(tg_command_name((tg_command_t)0), "?");
    cr_assert_str_eq(tg_command_name((tg_command_t)99), "?");
    tg_match_t match = TG_MATCH_EXACT;
    cr_assert_eq(tg_match_parse("wildcard", &match), 0);
    cr_assert_eq(match, TG_MATCH_WILDCARD);
    cr_assert_eq(tg_match_parse("Prefix", &match), -1);
    cr_assert_eq(tg_match_parse(NULL, &match), -1);
    cr_assert_str_eq(tg_match_name(TG_MATCH_PREFIX), "prefix");
}

/* --- TOKEN_SPEND --------------------------------------------------------- */

/* TOKEN_SPEND carries req, jti and exp; exp keeps its full 53-bit range. */
Test(tg_envelope, token_spend_round_trips_req_jti_and_exp)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_TOKEN_SPEND);
    env->req = 12;
    env->jti = strdup("AAECAwQFBgcICQoLDA0ODw");
    env->exp = TG_MAX_ID;
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->command, TG_CMD_TOKEN_SPEND);
    cr_assert_eq(copy->req, 12);
    cr_assert_str_eq(copy->jti, "AAECAwQFBgcICQoLDA0ODw");
    cr_assert_eq(copy->exp, TG_MAX_ID);
    cr_assert_str_eq(tg_command_name(TG_CMD_TOKEN_SPEND), "TOKEN_SPEND");
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* A TOKEN_SPEND re-sent at resync has no req, and exp 0 is still carried
   (the field is required, so it is on the wire whatever its value). */
Test(tg_envelope, token_spend_without_req_round_trips)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_TOKEN_SPEND);
    env->jti = strdup("j");
    env->exp = 0;
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, 0);
    cr_assert_str_eq(copy->jti, "j");
    cr_assert_eq(copy->exp, 0);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* jti and exp are both required. */
Test(tg_envelope, token_spend_needs_jti_and_exp)
{
    header_t h;
    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "exp", 100);
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 0), "missing field: jti");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 3);
    kv_str(&h, "jti", "abc");
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 0), "missing field: exp");
}

/* jti is a string of 1..128 bytes; exp an unsigned integer up to 2^53. */
Test(tg_envelope, token_spend_bounds_are_enforced)
{
    char jti[TG_MAX_JTI + 2];
    memset(jti, 'j', sizeof jti);
    jti[TG_MAX_JTI] = '\0';
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "jti", jti); /* exactly TG_MAX_JTI */
    kv_uint(&h, "exp", 1);
    tg_envelope_t *env = expect_decoded(header_msg(&h, "TOKEN_SPEND", 0));
    cr_assert_eq(strlen(env->jti), TG_MAX_JTI);
    tg_envelope_destroy(&env);

    jti[TG_MAX_JTI] = 'j';
    jti[TG_MAX_JTI + 1] = '\0';
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "jti", jti);
    kv_uint(&h, "exp", 1);
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 0), "bad field: jti");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "jti", "");
    kv_uint(&h, "exp", 1);
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 0), "bad field: jti");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "jti", 5);
    kv_uint(&h, "exp", 1);
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 0), "bad field: jti");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "jti", "abc");
    kv_uint(&h, "exp", TG_MAX_ID + 1);
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 0), "bad field: exp");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "jti", "abc");
    kv_str(&h, "exp", "soon");
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 0), "bad field: exp");

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "jti", "a\xff");
    kv_uint(&h, "exp", 1);
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 0), "bad field: jti");
}

/* jti and exp belong to TOKEN_SPEND only: on another command they are
   ignored like unknown keys, and TOKEN_SPEND carries no body. */
Test(tg_envelope, token_fields_elsewhere_are_ignored_and_spend_has_no_body)
{
    header_t h;
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 2);
    kv_str(&h, "jti", "abc");
    kv_uint(&h, "exp", 5);
    tg_envelope_t *env = expect_decoded(header_msg(&h, "ACCEPTED", 0));
    cr_assert_null(env->jti);
    cr_assert_eq(env->exp, 0);
    tg_envelope_destroy(&env);

    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "jti", "abc");
    kv_uint(&h, "exp", 5);
    expect_malformed(header_msg(&h, "TOKEN_SPEND", 1), "unexpected body");
}

/* --- MONITOR and TAP (the router's operator side channel) ----------------- */

/* MONITOR keeps role, instance, endpoint, event, a negative value and ts. */
Test(tg_envelope, monitor_round_trips_with_every_field)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_MONITOR);
    env->role = strdup("edge");
    env->instance = strdup("edge-0123");
    env->endpoint = strdup("tcp://127.0.0.1:5562");
    env->event_name = strdup("disconnected");
    env->value = -104;
    env->ts = 1700000000000123;
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->command, TG_CMD_MONITOR);
    cr_assert_str_eq(copy->role, "edge");
    cr_assert_str_eq(copy->instance, "edge-0123");
    cr_assert_str_eq(copy->endpoint, "tcp://127.0.0.1:5562");
    cr_assert_str_eq(copy->event_name, "disconnected");
    cr_assert_eq(copy->value, -104);
    cr_assert_eq(copy->ts, 1700000000000123);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* An empty endpoint is carried as "" (libzmq reports some events so). */
Test(tg_envelope, monitor_empty_endpoint_is_carried)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_MONITOR);
    env->role = strdup("router");
    env->instance = strdup("router-1");
    env->endpoint = strdup("");
    env->event_name = strdup("closed");
    tg_envelope_t *copy = round_trip(env);
    cr_assert_str_eq(copy->endpoint, "");
    cr_assert_eq(copy->value, 0);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* TAP keeps topic, pub_id, ts, size, matched, edges and the body bytes. */
Test(tg_envelope, tap_round_trips_counts_and_body)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_TAP);
    env->topic = strdup("shop.order");
    env->pub_id = 1700000000000001;
    env->ts = 1700000000000002;
    env->size = 4;
    env->matched = 3;
    env->edges = 2;
    env->body = body_frame();
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->command, TG_CMD_TAP);
    cr_assert_str_eq(copy->topic, "shop.order");
    cr_assert_eq(copy->pub_id, 1700000000000001);
    cr_assert_eq(copy->ts, 1700000000000002);
    cr_assert_eq(copy->size, 4);
    cr_assert_eq(copy->matched, 3);
    cr_assert_eq(copy->edges, 2);
    cr_assert_not_null(copy->body);
    cr_assert_eq(zframe_size(copy->body), 4);
    cr_assert(memcmp(zframe_data(copy->body), "\x81\xa1\x61\x01", 4) == 0);
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&copy);
}

/* The wire keys of the new fields are the documented ones. */
Test(tg_envelope, tap_counts_use_the_documented_keys)
{
    header_t h;
    header_init(&h, 7);
    kv_uint(&h, "v", 1);
    kv_str(&h, "topic", "a.b");
    kv_uint(&h, "pub_id", 5);
    kv_uint(&h, "ts", 6);
    kv_uint(&h, "size", 7);
    kv_uint(&h, "sub_ids_count", 8);
    kv_uint(&h, "edges", 9);
    tg_envelope_t *env = expect_decoded(header_msg(&h, "TAP", 1));
    cr_assert_eq(env->size, 7);
    cr_assert_eq(env->matched, 8);
    cr_assert_eq(env->edges, 9);
    tg_envelope_destroy(&env);
}

/* A MONITOR without its event name is refused, naming the field. */
Test(tg_envelope, monitor_without_event_is_refused)
{
    header_t h;
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_str(&h, "role", "edge");
    kv_str(&h, "instance", "edge-1");
    kv_str(&h, "endpoint", "tcp://x:1");
    expect_malformed(header_msg(&h, "MONITOR", 0), "missing field: event");
}

/* An event name longer than TG_MAX_MONITOR_EVENT is refused. */
Test(tg_envelope, monitor_event_name_too_long_is_refused)
{
    char name[TG_MAX_MONITOR_EVENT + 2];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    header_t h;
    header_init(&h, 5);
    kv_uint(&h, "v", 1);
    kv_str(&h, "role", "edge");
    kv_str(&h, "instance", "edge-1");
    kv_str(&h, "endpoint", "tcp://x:1");
    kv_str(&h, "event", name);
    expect_malformed(header_msg(&h, "MONITOR", 0), "bad field: event");
}

/* A value that does not fit a signed 64-bit integer is refused. */
Test(tg_envelope, monitor_value_out_of_range_is_refused)
{
    header_t h;
    header_init(&h, 6);
    kv_uint(&h, "v", 1);
    kv_str(&h, "role", "edge");
    kv_str(&h, "instance", "edge-1");
    kv_str(&h, "endpoint", "tcp://x:1");
    kv_str(&h, "event", "connected");
    kv_uint(&h, "value", UINT64_MAX);
    expect_malformed(header_msg(&h, "MONITOR", 0), "bad field: value");
}

/* TAP carries the body; without it the message is refused, and a MONITOR
   with a body frame is refused too. */
Test(tg_envelope, tap_and_monitor_body_frames_must_match)
{
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "topic", "a.b");
    kv_uint(&h, "pub_id", 5);
    expect_malformed(header_msg(&h, "TAP", 0), "missing body");
    header_init(&h, 5);
    kv_uint(&h, "v", 1);
    kv_str(&h, "role", "edge");
    kv_str(&h, "instance", "edge-1");
    kv_str(&h, "endpoint", "");
    kv_str(&h, "event", "connected");
    expect_malformed(header_msg(&h, "MONITOR", 1), "unexpected body");
}

/* --- EVENT router -> edge: the sub_ids frame ------------------------------ */

/* The packed bytes of a msgpack value written by `fill`. */
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
} packed_t;

static void packed_init(packed_t *p)
{
    msgpack_sbuffer_init(&p->buffer);
    msgpack_packer_init(&p->packer, &p->buffer, msgpack_sbuffer_write);
}

/* An EVENT to an edge (its header has an audience): [EVENT][header][body]
   then the frames given (NULL data = none), each `size` bytes. */
static zmsg_t *edge_event(int frames, const void *data, size_t size)
{
    header_t h;
    header_init(&h, 6);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "pub_id", 10);
    kv_uint(&h, "ts", 20);
    kv_str(&h, "topic", "a.b");
    kv_str(&h, "audience", "public");
    pack_str(&h, "guaranteed");
    msgpack_pack_false(&h.packer);
    zmsg_t *msg = header_msg(&h, "EVENT", 0);
    zmsg_append(msg, &(zframe_t *){body_frame()});
    for (int i = 0; i < frames; i++)
        zmsg_addmem(msg, data, size);
    return msg;
}

/* Decodes an EVENT to an edge whose sub_ids frame is packed's bytes;
   frees packed. */
static const char *decode_sub_ids(packed_t *p, tg_envelope_t **env_p)
{
    zmsg_t *msg = edge_event(1, p->buffer.data, p->buffer.size);
    msgpack_sbuffer_destroy(&p->buffer);
    const char *why = NULL;
    *env_p = tg_envelope_decode(&msg, &why);
    return why;
}

/* A well-formed sub_ids frame gives env->sub_ids, as the header field did. */
Test(tg_envelope_sub_ids, frame_fills_the_sub_ids)
{
    packed_t p;
    packed_init(&p);
    msgpack_pack_array(&p.packer, 2);
    msgpack_pack_uint64(&p.packer, 7);
    msgpack_pack_uint64(&p.packer, TG_MAX_ID);
    tg_envelope_t *env = NULL;
    cr_assert_null(decode_sub_ids(&p, &env));
    cr_assert_not_null(env);
    cr_assert_str_eq(env->audience, "public");
    cr_assert_eq(env->sub_ids_count, 2);
    cr_assert_eq(env->sub_ids[0], 7);
    cr_assert_eq(env->sub_ids[1], TG_MAX_ID);
    cr_assert_not_null(env->body);
    tg_envelope_destroy(&env);
}

/* Every malformed sub_ids frame is refused as "bad frame: sub_ids": not an
   array, empty, an item that is not an id (a string, 0, 2^53 + 1, a
   negative number), truncated, trailing bytes, more than TG_MAX_SUB_IDS. */
Test(tg_envelope_sub_ids, malformed_frames_are_refused)
{
    for (int kind = 0; kind < 9; kind++) {
        packed_t p;
        packed_init(&p);
        switch (kind) {
        case 0:
            msgpack_pack_map(&p.packer, 0);
            break;
        case 1:
            msgpack_pack_array(&p.packer, 0);
            break;
        case 2:
            msgpack_pack_array(&p.packer, 2);
            msgpack_pack_uint64(&p.packer, 1);
            msgpack_pack_str(&p.packer, 1);
            msgpack_pack_str_body(&p.packer, "2", 1);
            break;
        case 3:
            msgpack_pack_array(&p.packer, 1);
            msgpack_pack_uint64(&p.packer, 0);
            break;
        case 4:
            msgpack_pack_array(&p.packer, 1);
            msgpack_pack_uint64(&p.packer, TG_MAX_ID + 1);
            break;
        case 5:
            msgpack_pack_array(&p.packer, 1);
            msgpack_pack_int64(&p.packer, -3);
            break;
        case 6: /* announces 3 ids, holds 2 */
            msgpack_pack_array(&p.packer, 3);
            msgpack_pack_uint64(&p.packer, 1);
            msgpack_pack_uint64(&p.packer, 2);
            break;
        case 7: /* a whole array, then one more byte */
            msgpack_pack_array(&p.packer, 1);
            msgpack_pack_uint64(&p.packer, 1);
            msgpack_pack_uint64(&p.packer, 1);
            break;
        case 8:
            msgpack_pack_array(&p.packer, TG_MAX_SUB_IDS + 1);
            for (int i = 0; i <= TG_MAX_SUB_IDS; i++)
                msgpack_pack_uint64(&p.packer, 1);
            break;
        }
        tg_envelope_t *env = NULL;
        const char *why = decode_sub_ids(&p, &env);
        cr_expect_null(env, "kind %d accepted", kind);
        cr_expect_str_eq(why ? why : "(none)", "bad frame: sub_ids", "kind %d", kind);
        tg_envelope_destroy(&env);
    }
}

/* An EVENT to an edge (audience in the header) without its sub_ids frame
   is refused; so is one with a frame after it; an EVENT without an
   audience (ingest -> router) with a fourth frame has extra frames. */
Test(tg_envelope_sub_ids, missing_and_extra_frames_are_refused)
{
    expect_malformed(edge_event(0, NULL, 0), "missing sub_ids");
    expect_malformed(edge_event(2, "\x91\x01", 2), "extra frames");
    header_t h;
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "pub_id", 10);
    kv_uint(&h, "ts", 20);
    kv_str(&h, "topic", "a.b");
    zmsg_t *msg = header_msg(&h, "EVENT", 0);
    zmsg_append(msg, &(zframe_t *){body_frame()});
    zmsg_addmem(msg, "\x91\x01", 2);
    expect_malformed(msg, "extra frames");
}

/* The ingest -> router form carries no sub_ids: three frames, and a
   "sub_ids" key in its header is an unknown key (ignored). */
Test(tg_envelope_sub_ids, ingest_event_has_three_frames)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_EVENT);
    env->pub_id = 5;
    env->ts = 6;
    env->topic = strdup("a.b");
    env->body = body_frame();
    zmsg_t *msg = tg_envelope_encode(env);
    cr_assert_eq(zmsg_size(msg), 3);
    tg_envelope_t *copy = expect_decoded(msg);
    cr_assert_null(copy->audience);
    cr_assert_eq(copy->sub_ids_count, 0);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&env);

    header_t h;
    header_init(&h, 5);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "pub_id", 10);
    kv_uint(&h, "ts", 20);
    kv_str(&h, "topic", "a.b");
    pack_str(&h, "sub_ids");
    msgpack_pack_array(&h.packer, 1);
    pack_uint(&h, 3);
    msg = header_msg(&h, "EVENT", 0);
    zmsg_append(msg, &(zframe_t *){body_frame()});
    copy = expect_decoded(msg);
    cr_assert_eq(copy->sub_ids_count, 0);
    tg_envelope_destroy(&copy);
}

/* The router's fan-out: one header for the event, then each edge's message
   with its own ids, decoded by the edge as the same envelope
   tg_envelope_encode would give; the header and body frames the router
   holds are shared, not consumed, by each send. */
Test(tg_envelope_sub_ids, fan_out_sends_each_edge_its_ids_with_the_shared_header)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(router, 1);
    cr_assert_neq(zsock_bind(router, "inproc://envelope-fanout"), -1);
    zsock_t *edges[2];
    for (int i = 0; i < 2; i++) {
        edges[i] = zsock_new(ZMQ_DEALER);
        zsock_set_identity(edges[i], i ? "edge-b" : "edge-a");
        zsock_set_rcvtimeo(edges[i], 2000);
        cr_assert_eq(zsock_connect(edges[i], "inproc://envelope-fanout"), 0);
    }
    /* A round trip per edge, so that the ROUTER knows both. */
    for (int i = 0; i < 2; i++) {
        zstr_send(edges[i], "hi");
        zmsg_t *hi = zmsg_recv(router);
        zmsg_destroy(&hi);
    }
    tg_envelope_t *event = tg_envelope_new(TG_CMD_EVENT);
    event->pub_id = 99;
    event->ts = 1700000000000000;
    event->topic = strdup("shop.order");
    event->to_users = (char **)calloc(1, sizeof(char *));
    event->to_users[0] = strdup("u1");
    event->to_users_count = 1;
    event->body = body_frame();
    zframe_t *header = tg_envelope_event_header(event, "authenticated", true);
    zframe_t *ids[2] = {zframe_new("edge-a", 6), zframe_new("edge-b", 6)};
    uint64_t a_ids[] = {3};
    uint64_t b_ids[] = {4, 5, TG_MAX_ID};
    cr_assert_eq(tg_envelope_event_send(router, ids[0], header, event->body, a_ids, 1), 0);
    cr_assert_eq(tg_envelope_event_send(router, ids[1], header, event->body, b_ids, 3), 0);
    cr_assert_not_null(event->body, "the body stays the router's");
    zframe_t *unknown = zframe_new("edge-z", 6);
    cr_assert_eq(tg_envelope_event_send(router, unknown, header, event->body, a_ids, 1), -1,
                 "an unknown edge is a failed send");
    zframe_destroy(&unknown);
    for (int i = 0; i < 2; i++) {
        zmsg_t *msg = zmsg_recv(edges[i]);
        cr_assert_not_null(msg);
        cr_assert_eq(zmsg_size(msg), 4);
        tg_envelope_t *got = expect_decoded(msg);
        cr_assert_eq(got->command, TG_CMD_EVENT);
        cr_assert_eq(got->pub_id, 99);
        cr_assert_eq(got->ts, 1700000000000000);
        cr_assert_str_eq(got->topic, "shop.order");
        cr_assert_eq(got->to_users_count, 1);
        cr_assert_str_eq(got->to_users[0], "u1");
        cr_assert_str_eq(got->audience, "authenticated");
        cr_assert(got->guaranteed);
        cr_assert_eq(got->sub_ids_count, i ? 3 : 1);
        cr_assert_eq(got->sub_ids[0], i ? 4 : 3);
        if (i)
            cr_assert_eq(got->sub_ids[2], TG_MAX_ID);
        cr_assert(zframe_eq(got->body, event->body));
        tg_envelope_destroy(&got);
    }
    zframe_destroy(&ids[0]);
    zframe_destroy(&ids[1]);
    zframe_destroy(&header);
    tg_envelope_destroy(&event);
    zsock_destroy(&edges[0]);
    zsock_destroy(&edges[1]);
    zsock_destroy(&router);
}
