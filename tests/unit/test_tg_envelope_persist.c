/*  Unit tests for the persistence commands of tg_envelope (STORE, REPLAY,
    REPLAY_END, RESUME, MORE, ACK) and the persistence fields of the older
    ones: each round-trips with every field, each bound and rule between
    fields is enforced on decode, the two frames of STORE and REPLAY are
    moved (not copied) and checked, and a REPLAY is relayed byte for byte.
*/
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "test_tg_envelope_helpers.h"
#include "tg_envelope.h"

/* --- helpers ------------------------------------------------------------ */

/* The EVENT header the router sends edges, as persist stores it. */
static zframe_t *edge_header(void)
{
    tg_envelope_t *event = tg_envelope_new(TG_CMD_EVENT);
    event->pub_id = 1700000000000001;
    event->ts = 1700000000000000;
    event->topic = strdup("shop.order.shipped");
    event->to_users = calloc(1, sizeof(char *));
    event->to_users[0] = strdup("7");
    event->to_users_count = 1;
    zframe_t *header = tg_envelope_event_header(event, "authenticated", true);
    tg_envelope_destroy(&event);
    return header;
}

static tg_envelope_t *replay_new(void)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REPLAY);
    env->req = 9;
    env->instance = strdup("edge-1");
    env->sub_id = 42;
    env->stored = edge_header();
    env->body = body_frame();
    return env;
}

/* A STORE or REPLAY message with the given header and stored frames. */
static zmsg_t *stored_msg(const char *command, header_t *header, zframe_t *stored, bool body)
{
    zmsg_t *msg = header_msg(header, command, 0);
    if (stored)
        zmsg_append(msg, &stored);
    if (body)
        zmsg_addmem(msg, "\x80", 1);
    return msg;
}

static void replay_header(header_t *p)
{
    header_init(p, 4);
    kv_uint(p, "v", 1);
    kv_uint(p, "req", 9);
    kv_str(p, "instance", "edge-1");
    kv_uint(p, "sub_id", 42);
}

/* --- STORE and REPLAY ----------------------------------------------------- */

/* STORE carries req, expires_at and its sub_ids in the header, then the
   stored EVENT header and the body; decode fills the event's fields from
   the stored header. */
Test(tg_envelope_persist, store_round_trips_with_every_field)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_STORE);
    env->req = 21;
    env->expires_at = 1700000300000000;
    env->sub_ids = malloc(2 * sizeof(uint64_t));
    env->sub_ids[0] = 42;
    env->sub_ids[1] = 43;
    env->sub_ids_count = 2;
    env->stored = edge_header();
    env->body = body_frame();
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->command, TG_CMD_STORE);
    cr_assert_eq(copy->req, 21);
    cr_assert_eq(copy->expires_at, 1700000300000000);
    cr_assert_eq(copy->sub_ids_count, 2);
    cr_assert_eq(copy->sub_ids[1], 43);
    cr_assert_eq(copy->pub_id, 1700000000000001);
    cr_assert_eq(copy->ts, 1700000000000000);
    cr_assert_str_eq(copy->topic, "shop.order.shipped");
    cr_assert_eq(copy->to_users_count, 1);
    cr_assert_str_eq(copy->audience, "authenticated");
    cr_assert(copy->guaranteed);
    zframe_t *expected = edge_header();
    cr_assert(zframe_eq(copy->stored, expected), "stored header bytes unchanged");
    zframe_destroy(&expected);
    cr_assert_eq(zframe_size(copy->body), 4);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&env);
}

/* A retained-only STORE has no req and an empty sub_ids (still on the
   wire: it is required). */
Test(tg_envelope_persist, store_with_no_match_and_no_req_round_trips)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_STORE);
    env->expires_at = 5;
    env->stored = edge_header();
    env->body = body_frame();
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, 0);
    cr_assert_eq(copy->sub_ids_count, 0);
    cr_assert_eq(copy->expires_at, 5);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&env);
}

/* The stored header and body frames are moved, not copied, both ways. */
Test(tg_envelope_persist, stored_frames_are_moved_not_copied)
{
    tg_envelope_t *env = replay_new();
    zframe_t *stored = env->stored;
    zframe_t *body = env->body;
    zmsg_t *msg = tg_envelope_encode(env);
    cr_assert_null(env->stored);
    cr_assert_null(env->body);
    zmsg_first(msg);
    zmsg_next(msg);
    cr_assert_eq(zmsg_next(msg), stored);
    cr_assert_eq(zmsg_next(msg), body);
    tg_envelope_t *copy = expect_decoded(msg);
    cr_assert_eq(copy->stored, stored);
    cr_assert_eq(copy->body, body);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&env);
}

/* A STORE or REPLAY without its stored header, or without its body, or
   with one frame more, is malformed. */
Test(tg_envelope_persist, replay_frames_are_counted)
{
    header_t h;
    replay_header(&h);
    expect_malformed(stored_msg("REPLAY", &h, NULL, false), "missing stored event");
    replay_header(&h);
    expect_malformed(stored_msg("REPLAY", &h, edge_header(), false), "missing body");
    replay_header(&h);
    zmsg_t *msg = stored_msg("REPLAY", &h, edge_header(), true);
    zmsg_addmem(msg, "\x80", 1);
    expect_malformed(msg, "extra frames");
    replay_header(&h);
    tg_envelope_t *env = expect_decoded(stored_msg("REPLAY", &h, edge_header(), true));
    cr_assert_str_eq(env->topic, "shop.order.shipped");
    tg_envelope_destroy(&env);
}

/* The stored header must be one valid EVENT header to an edge: a msgpack
   map with pub_id, ts, topic and audience of the right types. */
Test(tg_envelope_persist, stored_header_is_checked_like_an_event)
{
    static const char bad[] = "bad frame: stored event";
    header_t h;
    header_t e;
    /* Not msgpack / not a map / trailing bytes. */
    replay_header(&h);
    expect_malformed(stored_msg("REPLAY", &h, zframe_new("\xc1", 1), true), bad);
    replay_header(&h);
    expect_malformed(stored_msg("REPLAY", &h, zframe_new("\x90", 1), true), bad);
    replay_header(&h);
    expect_malformed(stored_msg("REPLAY", &h, zframe_new("\x80\x80", 2), true), bad);
    /* An ingest's EVENT header (no audience) is not what edges get. */
    header_init(&e, 4);
    kv_uint(&e, "v", 1);
    kv_uint(&e, "pub_id", 5);
    kv_uint(&e, "ts", 1);
    kv_str(&e, "topic", "a.b");
    replay_header(&h);
    expect_malformed(stored_msg("REPLAY", &h, zframe_new(e.buffer.data, e.buffer.size), true), bad);
    msgpack_sbuffer_destroy(&e.buffer);
    /* A bad field (pub_id 0). */
    header_init(&e, 5);
    kv_uint(&e, "v", 1);
    kv_uint(&e, "pub_id", 0);
    kv_uint(&e, "ts", 1);
    kv_str(&e, "topic", "a.b");
    kv_str(&e, "audience", "public");
    header_t s;
    header_init(&s, 3);
    kv_uint(&s, "v", 1);
    kv_uint(&s, "expires_at", 0);
    pack_str(&s, "sub_ids");
    msgpack_pack_array(&s.packer, 0);
    expect_malformed(stored_msg("STORE", &s, zframe_new(e.buffer.data, e.buffer.size), true), bad);
    msgpack_sbuffer_destroy(&e.buffer);
}

/* STORE needs expires_at and sub_ids; expires_at stays within 2^53, sub_ids
   are ids. */
Test(tg_envelope_persist, store_header_bounds_are_enforced)
{
    header_t s;
    header_init(&s, 2);
    kv_uint(&s, "v", 1);
    kv_uint(&s, "expires_at", 1);
    expect_malformed(stored_msg("STORE", &s, edge_header(), true), "missing field: sub_ids");
    header_init(&s, 3);
    kv_uint(&s, "v", 1);
    kv_uint(&s, "expires_at", TG_MAX_ID + 1);
    pack_str(&s, "sub_ids");
    msgpack_pack_array(&s.packer, 0);
    expect_malformed(stored_msg("STORE", &s, edge_header(), true), "bad field: expires_at");
    header_init(&s, 3);
    kv_uint(&s, "v", 1);
    kv_uint(&s, "expires_at", 1);
    pack_str(&s, "sub_ids");
    msgpack_pack_array(&s.packer, 1);
    msgpack_pack_uint64(&s.packer, 0);
    expect_malformed(stored_msg("STORE", &s, edge_header(), true), "bad field: sub_ids");
}

/* The router relays a REPLAY to the edge byte for byte: the edge's
   routing id in front, then exactly the frames persist sent. */
Test(tg_envelope_persist, relay_forwards_the_received_bytes, .timeout = 10)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(router, 1);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    cr_assert_gt(port, 0);
    zsock_t *edge = zsock_new(ZMQ_DEALER);
    zsock_set_identity(edge, "edge-1");
    cr_assert_eq(zsock_connect(edge, "tcp://127.0.0.1:%d", port), 0);
    zstr_send(edge, "hi");
    zmsg_t *hello = zmsg_recv(router);
    zmsg_destroy(&hello);

    tg_envelope_t *env = replay_new();
    zmsg_t *sent = tg_envelope_encode(env);
    zmsg_t *kept = zmsg_dup(sent);
    tg_envelope_t *decoded = expect_decoded(sent);
    cr_assert_not_null(decoded->raw_header);
    zframe_t *rid = zframe_new("edge-1", 6);
    cr_assert_eq(tg_envelope_relay(decoded, router, rid), 0);
    cr_assert_null(decoded->raw_header);
    cr_assert_null(decoded->stored);
    zmsg_t *got = zmsg_recv(edge);
    cr_assert_eq(zmsg_size(got), zmsg_size(kept));
    for (zframe_t *a = zmsg_first(got), *b = zmsg_first(kept); a;
         a = zmsg_next(got), b = zmsg_next(kept))
        cr_assert(zframe_eq(a, b));
    /* A peer that is not there: nothing sent, -1. */
    tg_envelope_t *end = tg_envelope_new(TG_CMD_REPLAY_END);
    end->req = 9;
    end->instance = strdup("edge-1");
    end->sub_id = 42;
    tg_envelope_t *end_decoded = round_trip(end);
    zframe_t *nobody = zframe_new("nobody", 6);
    cr_assert_eq(tg_envelope_relay(end_decoded, router, nobody), -1);
    zframe_destroy(&nobody);
    tg_envelope_destroy(&end_decoded);
    tg_envelope_destroy(&end);
    zframe_destroy(&rid);
    zmsg_destroy(&got);
    zmsg_destroy(&kept);
    tg_envelope_destroy(&decoded);
    tg_envelope_destroy(&env);
    zsock_destroy(&edge);
    zsock_destroy(&router);
}

/* tg_envelope_send_frames sends a STORE with the caller's stored header and
   body shared: the caller keeps its frames, the peer gets the same bytes. */
Test(tg_envelope_persist, send_frames_leaves_the_frames_to_the_caller, .timeout = 10)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    zsock_t *persist = zsock_new(ZMQ_DEALER);
    zsock_set_identity(persist, "persist-1");
    zsock_connect(persist, "tcp://127.0.0.1:%d", port);
    zstr_send(persist, "hi");
    zmsg_t *hello = zmsg_recv(router);
    zframe_t *rid = zmsg_pop(hello);
    zmsg_destroy(&hello);

    zframe_t *stored = edge_header();
    zframe_t *body = body_frame();
    tg_envelope_t *store = tg_envelope_new(TG_CMD_STORE);
    store->req = 3;
    store->expires_at = 0;
    cr_assert_eq(tg_envelope_send_frames(store, router, rid, stored, body), 0);
    zmsg_t *got = zmsg_recv(persist);
    tg_envelope_t *env = expect_decoded(got);
    cr_assert_eq(env->command, TG_CMD_STORE);
    cr_assert_eq(env->req, 3);
    cr_assert(zframe_eq(env->stored, stored));
    cr_assert(zframe_eq(env->body, body));
    cr_assert_eq(zframe_size(body), 4, "the caller's body is intact");
    tg_envelope_destroy(&env);
    tg_envelope_destroy(&store);
    zframe_destroy(&stored);
    zframe_destroy(&body);
    zframe_destroy(&rid);
    zsock_destroy(&persist);
    zsock_destroy(&router);
}

/* --- RESUME, REPLAY_END, MORE, ACK ---------------------------------------- */

/* RESUME carries the edge's subscription for persist, every field. */
Test(tg_envelope_persist, resume_round_trips_with_every_field)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_RESUME);
    env->req = 9;
    env->instance = strdup("edge-1");
    env->sub_id = 42;
    env->topic = strdup("shop.order");
    env->match = TG_MATCH_PREFIX;
    env->filter = strdup("n > 1");
    env->client_id = strdup("c-1");
    env->persistent = true;
    env->since = 5;
    tg_envelope_t *copy = round_trip(env);
    cr_assert_eq(copy->req, 9);
    cr_assert_str_eq(copy->instance, "edge-1");
    cr_assert_eq(copy->sub_id, 42);
    cr_assert_str_eq(copy->topic, "shop.order");
    cr_assert_eq(copy->match, TG_MATCH_PREFIX);
    cr_assert_str_eq(copy->filter, "n > 1");
    cr_assert_str_eq(copy->client_id, "c-1");
    cr_assert(copy->persistent);
    cr_assert_eq(copy->since, 5);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&env);
}

/* A RESUME asks for something (persistent or since); a persistent one
   names its client. */
Test(tg_envelope_persist, resume_needs_persistent_or_since_and_a_client)
{
    header_t h;
    header_init(&h, 6);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 9);
    kv_str(&h, "instance", "edge-1");
    kv_uint(&h, "sub_id", 42);
    kv_str(&h, "topic", "a");
    kv_str(&h, "match", "exact");
    expect_malformed(header_msg(&h, "RESUME", 0), "missing field: persistent or since");
    header_init(&h, 7);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 9);
    kv_str(&h, "instance", "edge-1");
    kv_uint(&h, "sub_id", 42);
    kv_str(&h, "topic", "a");
    kv_str(&h, "match", "exact");
    kv_true(&h, "persistent");
    expect_malformed(header_msg(&h, "RESUME", 0), "missing field: client_id");
}

/* REPLAY_END and MORE carry req and instance (REPLAY_END: sub_id and the
   last pub_id); decode keeps REPLAY_END's header for the relay. */
Test(tg_envelope_persist, replay_end_and_more_round_trip)
{
    tg_envelope_t *end = tg_envelope_new(TG_CMD_REPLAY_END);
    end->req = 9;
    end->instance = strdup("edge-1");
    end->sub_id = 42;
    end->pub_id = 77;
    tg_envelope_t *copy = round_trip(end);
    cr_assert_eq(copy->pub_id, 77);
    cr_assert_eq(copy->sub_id, 42);
    cr_assert_not_null(copy->raw_header);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&end);

    tg_envelope_t *more = tg_envelope_new(TG_CMD_MORE);
    more->req = 9;
    more->instance = strdup("edge-1");
    copy = round_trip(more);
    cr_assert_eq(copy->req, 9);
    cr_assert_str_eq(copy->instance, "edge-1");
    cr_assert_null(copy->raw_header, "only relayed commands keep their header");
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&more);

    header_t h;
    header_init(&h, 2);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 9);
    expect_malformed(header_msg(&h, "MORE", 0), "missing field: instance");
}

/* ACK carries client_id, sub_id and pub_ids and/or upto. */
Test(tg_envelope_persist, ack_round_trips)
{
    tg_envelope_t *ack = tg_envelope_new(TG_CMD_ACK);
    ack->client_id = strdup("c-1");
    ack->sub_id = 42;
    ack->pub_ids = malloc(2 * sizeof(uint64_t));
    ack->pub_ids[0] = 5;
    ack->pub_ids[1] = TG_MAX_ID;
    ack->pub_ids_count = 2;
    ack->upto = 4;
    tg_envelope_t *copy = round_trip(ack);
    cr_assert_str_eq(copy->client_id, "c-1");
    cr_assert_eq(copy->pub_ids_count, 2);
    cr_assert_eq(copy->pub_ids[1], TG_MAX_ID);
    cr_assert_eq(copy->upto, 4);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&ack);
}

/* An ACK of nothing, an empty or oversized pub_ids, a bad id, a long
   client_id: malformed. */
Test(tg_envelope_persist, ack_bounds_are_enforced)
{
    header_t h;
    header_init(&h, 3);
    kv_uint(&h, "v", 1);
    kv_str(&h, "client_id", "c-1");
    kv_uint(&h, "sub_id", 42);
    expect_malformed(header_msg(&h, "ACK", 0), "missing field: pub_ids or upto");

    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_str(&h, "client_id", "c-1");
    kv_uint(&h, "sub_id", 42);
    pack_str(&h, "pub_ids");
    msgpack_pack_array(&h.packer, 0);
    expect_malformed(header_msg(&h, "ACK", 0), "bad field: pub_ids");

    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_str(&h, "client_id", "c-1");
    kv_uint(&h, "sub_id", 42);
    pack_str(&h, "pub_ids");
    msgpack_pack_array(&h.packer, TG_MAX_ACK_IDS + 1);
    for (int i = 0; i < TG_MAX_ACK_IDS + 1; i++)
        msgpack_pack_uint64(&h.packer, (uint64_t)i + 1);
    expect_malformed(header_msg(&h, "ACK", 0), "bad field: pub_ids");

    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_str(&h, "client_id", "c-1");
    kv_uint(&h, "sub_id", 42);
    kv_uint(&h, "upto", TG_MAX_ID + 1);
    expect_malformed(header_msg(&h, "ACK", 0), "bad field: upto");

    char long_id[TG_MAX_CLIENT_ID + 2];
    memset(long_id, 'c', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    header_init(&h, 4);
    kv_uint(&h, "v", 1);
    kv_str(&h, "client_id", long_id);
    kv_uint(&h, "sub_id", 42);
    kv_uint(&h, "upto", 1);
    expect_malformed(header_msg(&h, "ACK", 0), "bad field: client_id");
}

/* --- the persistence fields of older commands ------------------------------ */

/* SUBSCRIBE carries client_id, persistent and since; persistent needs a
   client_id; since is an id (not 0). */
Test(tg_envelope_persist, subscribe_persistence_fields)
{
    tg_envelope_t *sub = tg_envelope_new(TG_CMD_SUBSCRIBE);
    sub->req = 7;
    sub->topic = strdup("a.b");
    sub->client_id = strdup("c-1");
    sub->persistent = true;
    sub->since = 3;
    tg_envelope_t *copy = round_trip(sub);
    cr_assert(copy->persistent);
    cr_assert_str_eq(copy->client_id, "c-1");
    cr_assert_eq(copy->since, 3);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&sub);

    header_t h;
    header_init(&h, 5);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 7);
    kv_str(&h, "topic", "a");
    kv_str(&h, "match", "exact");
    kv_true(&h, "persistent");
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "missing field: client_id");
    header_init(&h, 5);
    kv_uint(&h, "v", 1);
    kv_uint(&h, "req", 7);
    kv_str(&h, "topic", "a");
    kv_str(&h, "match", "exact");
    kv_uint(&h, "since", 0);
    expect_malformed(header_msg(&h, "SUBSCRIBE", 0), "bad field: since");
}

/* persistent and replay are on the wire only when true: a plain SUBSCRIBE
   or SUBSCRIBED is the bytes it was before persistence. */
Test(tg_envelope_persist, false_flags_stay_off_the_wire)
{
    tg_envelope_t *ok = tg_envelope_new(TG_CMD_SUBSCRIBED);
    ok->req = 1;
    ok->sub_id = 2;
    zmsg_t *msg = tg_envelope_encode(ok);
    zmsg_first(msg);
    zframe_t *header = zmsg_next(msg);
    cr_assert_eq(zframe_size(header), 1 + 2 + 1 + 4 + 1 + 7 + 1, "{v:1, req:1, sub_id:2}");
    zmsg_destroy(&msg);
    ok->replay = true;
    tg_envelope_t *copy = round_trip(ok);
    cr_assert(copy->replay);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&ok);
}

/* EVENT from an ingest may carry req; SUBSCRIBE_ERROR and REJECTED carry
   the gap's pub_id; ACCEPTED and REJECTED the RESUME's edge; UNSUBSCRIBE
   the client_id. */
Test(tg_envelope_persist, new_optional_fields_round_trip)
{
    tg_envelope_t *event = tg_envelope_new(TG_CMD_EVENT);
    event->req = 12;
    event->pub_id = 1;
    event->ts = 1;
    event->topic = strdup("a");
    event->body = body_frame();
    tg_envelope_t *copy = round_trip(event);
    cr_assert_eq(copy->req, 12);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&event);

    tg_envelope_t *error = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    error->req = 9;
    error->error = strdup("telegraphy.error.gap");
    error->pub_id = 77;
    copy = round_trip(error);
    cr_assert_eq(copy->pub_id, 77);
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&error);

    tg_envelope_t *rejected = tg_envelope_new(TG_CMD_REJECTED);
    rejected->req = 9;
    rejected->error = strdup("telegraphy.error.gap");
    rejected->pub_id = 77;
    rejected->instance = strdup("edge-1");
    copy = round_trip(rejected);
    cr_assert_eq(copy->pub_id, 77);
    cr_assert_str_eq(copy->instance, "edge-1");
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&rejected);

    tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
    accepted->req = 9;
    accepted->instance = strdup("edge-1");
    copy = round_trip(accepted);
    cr_assert_str_eq(copy->instance, "edge-1");
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&accepted);

    tg_envelope_t *unsub = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    unsub->sub_id = 42;
    unsub->client_id = strdup("c-1");
    copy = round_trip(unsub);
    cr_assert_str_eq(copy->client_id, "c-1");
    tg_envelope_destroy(&copy);
    tg_envelope_destroy(&unsub);
}

/* The new commands have their names. */
Test(tg_envelope_persist, names_of_the_new_commands)
{
    cr_assert_str_eq(tg_command_name(TG_CMD_STORE), "STORE");
    cr_assert_str_eq(tg_command_name(TG_CMD_REPLAY), "REPLAY");
    cr_assert_str_eq(tg_command_name(TG_CMD_REPLAY_END), "REPLAY_END");
    cr_assert_str_eq(tg_command_name(TG_CMD_RESUME), "RESUME");
    cr_assert_str_eq(tg_command_name(TG_CMD_MORE), "MORE");
    cr_assert_str_eq(tg_command_name(TG_CMD_ACK), "ACK");
    cr_assert_str_eq(tg_command_name(TG_CMD_LAST), "ACK");
}
