/*  ingest_broker: what the ingest does with each message, driven directly
    with explicit time (no loop, no clock): the router link and the ack
    socket are inproc sockets owned by the test, and every call gets the
    tg_now_t the test chooses. The clocks used are far from the machine's:
    a monotonic clock that starts at 0 (a machine just booted) and a wall
    clock in the year 2100, so nothing here depends on when or where the
    tests run. */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "ingest_broker.h"
#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"

#define S_WALL_S 4102444800 /* 2100-01-01T00:00:00Z */
#define S_CLIENT "client-1" /* the acknowledged client's routing id */

static tg_config_t s_cfg;
static zsock_t *s_router_peer; /* ROUTER: the fake router */
static zsock_t *s_link;        /* DEALER: the broker's router link */
static zsock_t *s_ack;         /* ROUTER: the broker's ack socket */
static zsock_t *s_client;      /* DEALER: an acknowledged client */
static ingest_broker_t *s_broker;

static void s_setup(void)
{
    cr_assert_eq(tg_config_load(&s_cfg, 0, 0, NULL, "test", NULL, NULL), 0);
    s_cfg.max_event = 1024;
    s_cfg.heartbeat_ms = 1000; //  a REGISTER waits 3 heartbeats: 3000 ms
    s_router_peer = zsock_new_router("@inproc://ingest-broker-router");
    s_link = zsock_new(ZMQ_DEALER);
    zsock_set_identity(s_link, "ingest-test");
    cr_assert_eq(zsock_connect(s_link, "inproc://ingest-broker-router"), 0);
    s_ack = zsock_new_router("@inproc://ingest-broker-ack");
    s_client = zsock_new(ZMQ_DEALER);
    zsock_set_identity(s_client, S_CLIENT);
    cr_assert_eq(zsock_connect(s_client, "inproc://ingest-broker-ack"), 0);
    zsock_set_rcvtimeo(s_router_peer, 1000);
    zsock_set_rcvtimeo(s_client, 1000);
    s_broker = ingest_broker_new(&s_cfg, "ingest-test", s_ack, s_link, tg_now_at(0, S_WALL_S));
}

static void s_teardown(void)
{
    ingest_broker_destroy(&s_broker);
    zsock_destroy(&s_client);
    zsock_destroy(&s_ack);
    zsock_destroy(&s_link);
    zsock_destroy(&s_router_peer);
}

TestSuite(ingest_broker, .init = s_setup, .fini = s_teardown, .timeout = 20);

/* --- helpers ------------------------------------------------------------ */

//  The next envelope the broker sent to the router (routing id popped),
//  skipping nothing: the test knows exactly what it expects.
static tg_envelope_t *s_from_broker(void)
{
    zmsg_t *msg = zmsg_recv(s_router_peer);
    cr_assert_not_null(msg, "nothing reached the router");
    zframe_t *id = zmsg_pop(msg);
    zframe_destroy(&id);
    tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
    cr_assert_not_null(env);
    return env;
}

//  The next reply the acknowledged client got.
static tg_envelope_t *s_to_client(void)
{
    zmsg_t *msg = zmsg_recv(s_client);
    cr_assert_not_null(msg, "no reply to the client");
    tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
    cr_assert_not_null(env);
    return env;
}

//  Hands env (taken) to the broker as if it came by PULL at `now`.
static void s_pull(tg_envelope_t *env, tg_now_t now)
{
    zmsg_t *msg = tg_envelope_encode(env);
    tg_envelope_destroy(&env);
    ingest_broker_on_pull(s_broker, &msg, now);
    cr_assert_null(msg);
}

//  Hands env (taken) to the broker as if S_CLIENT sent it on the ack
//  socket at `now`.
static void s_acked(tg_envelope_t *env, tg_now_t now)
{
    zmsg_t *msg = tg_envelope_encode(env);
    tg_envelope_destroy(&env);
    zmsg_pushstr(msg, S_CLIENT);
    ingest_broker_on_ack(s_broker, &msg, now);
    cr_assert_null(msg);
}

static tg_envelope_t *s_register(const char *name, uint64_t req)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->req = req;
    env->event_type = tg_event_type_new(name);
    return env;
}

//  A PUBLISH of `topic` with the body {"n": 1}.
static tg_envelope_t *s_publish(const char *topic, uint64_t req)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "n", 1);
    msgpack_pack_int(&pk, 1);
    tg_envelope_t *env = tg_envelope_new(TG_CMD_PUBLISH);
    env->topic = strdup(topic);
    env->req = req;
    env->body = zframe_new(buffer.data, buffer.size);
    msgpack_sbuffer_destroy(&buffer);
    return env;
}

//  Teaches the broker "chat.message" by PULL at `now` and takes the
//  REGISTER it forwards off the link.
static void s_learn_type(tg_now_t now)
{
    s_pull(s_register("chat.message", 0), now);
    tg_envelope_t *forwarded = s_from_broker();
    cr_assert_eq(forwarded->command, TG_CMD_REGISTER);
    tg_envelope_destroy(&forwarded);
}

//  The router's WELCOME (router instance `router`) handed to the broker.
static void s_welcome(const char *router, tg_now_t now)
{
    tg_envelope_t *welcome = tg_envelope_new(TG_CMD_WELCOME);
    welcome->instance = strdup(router);
    zmsg_t *msg = tg_envelope_encode(welcome);
    tg_envelope_destroy(&welcome);
    ingest_broker_on_router(s_broker, &msg, now);
    cr_assert_null(msg);
}

static int64_t s_stat(const tg_envelope_t *heartbeat, const char *name)
{
    for (size_t i = 0; i < heartbeat->stats_count; i++)
        if (streq(heartbeat->stats[i].name, name))
            return heartbeat->stats[i].value;
    cr_assert_fail("stat %s missing", name);
    return -1;
}

/* --- time --------------------------------------------------------------- */

/* An event is stamped with the wall clock of the turn that accepted it:
   its ts, and its publication id while the clock moves forward. */
Test(ingest_broker, event_is_stamped_with_the_turn_wall_clock)
{
    s_learn_type(tg_now_at(0, S_WALL_S));
    s_pull(s_publish("chat.message", 0), tg_now_at(7, S_WALL_S + 1));
    tg_envelope_t *event = s_from_broker();
    cr_assert_eq(event->command, TG_CMD_EVENT);
    cr_expect_eq(event->ts, (uint64_t)(S_WALL_S + 1) * 1000000);
    cr_expect_eq(event->pub_id, (uint64_t)(S_WALL_S + 1) * 1000000);
    tg_envelope_destroy(&event);
}

/* A wall clock stepped back between two turns never repeats or lowers a
   publication id; the ts is the turn's clock as it is. */
Test(ingest_broker, pub_ids_keep_increasing_when_the_wall_clock_steps_back)
{
    s_learn_type(tg_now_at(0, S_WALL_S));
    s_acked(s_publish("chat.message", 1), tg_now_at(1, S_WALL_S));
    s_acked(s_publish("chat.message", 2), tg_now_at(2, S_WALL_S - 3600));
    tg_envelope_t *first = s_to_client();
    tg_envelope_t *second = s_to_client();
    cr_assert_eq(first->command, TG_CMD_ACCEPTED);
    cr_assert_eq(second->command, TG_CMD_ACCEPTED);
    cr_expect_eq(second->pub_id, first->pub_id + 1);
    tg_envelope_destroy(&first);
    tg_envelope_destroy(&second);
    tg_envelope_t *event = s_from_broker();
    tg_envelope_destroy(&event);
    event = s_from_broker();
    cr_expect_eq(event->ts, (uint64_t)(S_WALL_S - 3600) * 1000000);
    tg_envelope_destroy(&event);
}

/* A REGISTER the router leaves unanswered is refused exactly when its
   deadline (the turn's monotonic clock + 3 heartbeats) is reached, not
   before, even on a monotonic clock that started at 0. */
Test(ingest_broker, unanswered_register_expires_exactly_at_its_deadline)
{
    s_acked(s_register("chat.message", 9), tg_now_at(0, S_WALL_S));
    tg_envelope_t *forwarded = s_from_broker();
    cr_assert_eq(forwarded->command, TG_CMD_REGISTER);
    tg_envelope_destroy(&forwarded);
    cr_assert_eq(ingest_broker_pending_timeout_ms(s_broker), 3000);

    ingest_broker_expire(s_broker, tg_now_at(2999, S_WALL_S));
    ingest_stats_t stats;
    ingest_broker_stats(s_broker, &stats);
    cr_expect_eq(stats.queue_depth, 1u, "expired before its deadline");

    ingest_broker_expire(s_broker, tg_now_at(3000, S_WALL_S));
    ingest_broker_stats(s_broker, &stats);
    cr_expect_eq(stats.queue_depth, 0u);
    tg_envelope_t *reply = s_to_client();
    cr_assert_eq(reply->command, TG_CMD_REJECTED);
    cr_expect_eq(reply->req, 9u);
    cr_expect_str_eq(reply->error, INGEST_ERROR_UNAVAILABLE);
    cr_expect(strstr(reply->message, "router did not answer"));
    tg_envelope_destroy(&reply);
}

/* The heartbeat's uptime and per-second rates are measured on the turn's
   monotonic clock from the broker's creation (here at 0). */
Test(ingest_broker, heartbeat_uptime_and_rates_follow_the_turn_clock)
{
    s_welcome("router-1", tg_now_at(0, S_WALL_S)); //  no type yet: nothing to re-send
    s_learn_type(tg_now_at(0, S_WALL_S));
    for (int i = 0; i < 10; i++)
        s_pull(s_publish("chat.message", 0), tg_now_at(100, S_WALL_S));
    for (int i = 0; i < 10; i++) {
        tg_envelope_t *event = s_from_broker();
        tg_envelope_destroy(&event);
    }
    ingest_broker_heartbeat(s_broker, tg_now_at(500, S_WALL_S));
    tg_envelope_t *heartbeat = s_from_broker();
    cr_assert_eq(heartbeat->command, TG_CMD_HEARTBEAT);
    cr_expect_eq(heartbeat->uptime_ms, 500u);
    cr_expect_eq(s_stat(heartbeat, "events_in"), 10);
    cr_expect_eq(s_stat(heartbeat, "events_in_per_s"), 20); //  10 in 500 ms
    cr_expect_eq(s_stat(heartbeat, "events_out_per_s"), 20);
    tg_envelope_destroy(&heartbeat);

    //  Nothing since: the next rate is 0, the uptime keeps counting.
    ingest_broker_heartbeat(s_broker, tg_now_at(1500, S_WALL_S));
    heartbeat = s_from_broker();
    cr_expect_eq(heartbeat->uptime_ms, 1500u);
    cr_expect_eq(s_stat(heartbeat, "events_in_per_s"), 0);
    tg_envelope_destroy(&heartbeat);
}

/* --- the router link ----------------------------------------------------- */

/* Until the router welcomes it, the heartbeat timer says HELLO (role
   ingest, our instance), not HEARTBEAT: the router does not know us. */
Test(ingest_broker, heartbeat_says_hello_until_the_router_welcomes_us)
{
    ingest_broker_start(s_broker);
    ingest_broker_heartbeat(s_broker, tg_now_at(1000, S_WALL_S));
    for (int i = 0; i < 2; i++) {
        tg_envelope_t *hello = s_from_broker();
        cr_expect_eq(hello->command, TG_CMD_HELLO);
        cr_expect_str_eq(hello->role, "ingest");
        cr_expect_str_eq(hello->instance, "ingest-test");
        tg_envelope_destroy(&hello);
    }
    s_welcome("router-1", tg_now_at(1001, S_WALL_S));
    ingest_broker_heartbeat(s_broker, tg_now_at(2000, S_WALL_S));
    tg_envelope_t *heartbeat = s_from_broker();
    cr_expect_eq(heartbeat->command, TG_CMD_HEARTBEAT);
    tg_envelope_destroy(&heartbeat);
}

/* Each WELCOME (a router that restarted, or forgot us) re-sends every type
   the ingest knows, with a request id of its own, and counts a resync. */
Test(ingest_broker, welcome_resends_every_known_type)
{
    s_learn_type(tg_now_at(0, S_WALL_S));
    for (int round = 1; round <= 2; round++) {
        s_welcome(round == 1 ? "router-1" : "router-2", tg_now_at(round, S_WALL_S));
        tg_envelope_t *again = s_from_broker();
        cr_assert_eq(again->command, TG_CMD_REGISTER);
        cr_expect_str_eq(again->event_type->name, "chat.message");
        cr_expect_neq(again->req, 0u);
        tg_envelope_destroy(&again);
        ingest_stats_t stats;
        ingest_broker_stats(s_broker, &stats);
        cr_expect_eq(stats.resyncs, (uint64_t)round);
    }
}

/* Garbage from the router is counted as bad input (with the ingest's own)
   and dropped; the link goes on: a WELCOME still works. */
Test(ingest_broker, garbage_from_the_router_is_counted_and_dropped)
{
    zmsg_t *garbage = zmsg_new();
    zmsg_addstr(garbage, "WELCOME");
    zmsg_addstr(garbage, "\xc1 not msgpack");
    ingest_broker_on_router(s_broker, &garbage, tg_now_at(0, S_WALL_S));
    cr_assert_null(garbage);
    tg_envelope_t *odd = tg_envelope_new(TG_CMD_SUBSCRIBED); //  decodes, but not for us
    odd->req = 5;
    odd->sub_id = 5;
    zmsg_t *msg = tg_envelope_encode(odd);
    tg_envelope_destroy(&odd);
    ingest_broker_on_router(s_broker, &msg, tg_now_at(1, S_WALL_S));
    ingest_stats_t stats;
    ingest_broker_stats(s_broker, &stats);
    cr_expect_eq(stats.bad_input, 2u);
    s_welcome("router-1", tg_now_at(2, S_WALL_S));
    ingest_broker_stats(s_broker, &stats);
    cr_expect_eq(stats.resyncs, 1u);
}

/* --- guaranteed events ---------------------------------------------------- */

//  Teaches the broker the guaranteed type "shop.order" by PULL at `now`.
static void s_learn_guaranteed_type(tg_now_t now)
{
    tg_envelope_t *env = s_register("shop.order", 0);
    env->event_type->guaranteed = true;
    s_pull(env, now);
    tg_envelope_t *forwarded = s_from_broker();
    tg_envelope_destroy(&forwarded);
}

//  The router's answer to the EVENT with request id req.
static void s_router_answers(tg_command_t command, uint64_t req, tg_now_t now)
{
    tg_envelope_t *answer = tg_envelope_new(command);
    answer->req = req;
    if (command == TG_CMD_REJECTED) {
        answer->error = strdup(INGEST_ERROR_UNAVAILABLE);
        answer->message = strdup("persist is not connected");
    }
    zmsg_t *msg = tg_envelope_encode(answer);
    tg_envelope_destroy(&answer);
    ingest_broker_on_router(s_broker, &msg, now);
}

/* A guaranteed event published on the acknowledged path goes to the router
   with a request id, and its publisher hears ACCEPTED, with the
   publication id, only when the router reports it stored (DESIGN 2.6). */
Test(ingest_broker, guaranteed_event_is_accepted_only_once_the_router_reports_it_stored)
{
    s_learn_guaranteed_type(tg_now_at(0, S_WALL_S));
    s_acked(s_publish("shop.order", 41), tg_now_at(1, S_WALL_S));
    tg_envelope_t *event = s_from_broker();
    cr_assert_eq(event->command, TG_CMD_EVENT);
    cr_assert_neq(event->req, 0, "a guaranteed event must carry a request id");
    zsock_set_rcvtimeo(s_client, 50);
    zmsg_t *early = zmsg_recv(s_client);
    cr_assert_null(early, "the publisher was answered before the event was stored");
    ingest_stats_t stats;
    ingest_broker_stats(s_broker, &stats);
    cr_expect_eq(stats.stores_waiting, 1u);

    s_router_answers(TG_CMD_ACCEPTED, event->req, tg_now_at(2, S_WALL_S));
    zsock_set_rcvtimeo(s_client, 1000);
    tg_envelope_t *reply = s_to_client();
    cr_assert_eq(reply->command, TG_CMD_ACCEPTED);
    cr_expect_eq(reply->req, 41u);
    cr_expect_eq(reply->pub_id, event->pub_id);
    ingest_broker_stats(s_broker, &stats);
    cr_expect_eq(stats.stores_waiting, 0u);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&event);
}

/* When the router cannot store it, the publisher hears REJECTED
   unavailable with the router's reason, never ACCEPTED. */
Test(ingest_broker, guaranteed_event_the_router_could_not_store_is_rejected)
{
    s_learn_guaranteed_type(tg_now_at(0, S_WALL_S));
    s_acked(s_publish("shop.order", 42), tg_now_at(1, S_WALL_S));
    tg_envelope_t *event = s_from_broker();
    s_router_answers(TG_CMD_REJECTED, event->req, tg_now_at(2, S_WALL_S));
    tg_envelope_t *reply = s_to_client();
    cr_assert_eq(reply->command, TG_CMD_REJECTED);
    cr_expect_eq(reply->req, 42u);
    cr_expect_str_eq(reply->error, INGEST_ERROR_UNAVAILABLE);
    cr_expect(strstr(reply->message, "persist"));
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&event);
}

/* A router that never answers: the publisher is refused exactly at the
   store deadline plus the grace, not before. */
Test(ingest_broker, guaranteed_event_never_reported_stored_is_rejected_at_its_deadline)
{
    s_learn_guaranteed_type(tg_now_at(0, S_WALL_S));
    int64_t wait = (int64_t)s_cfg.store_timeout_ms + INGEST_STORE_GRACE_MS;
    s_acked(s_publish("shop.order", 43), tg_now_at(100, S_WALL_S));
    tg_envelope_t *event = s_from_broker();
    ingest_broker_expire(s_broker, tg_now_at(100 + wait - 1, S_WALL_S));
    ingest_stats_t stats;
    ingest_broker_stats(s_broker, &stats);
    cr_expect_eq(stats.stores_waiting, 1u, "refused before its deadline");
    ingest_broker_expire(s_broker, tg_now_at(100 + wait, S_WALL_S));
    tg_envelope_t *reply = s_to_client();
    cr_assert_eq(reply->command, TG_CMD_REJECTED);
    cr_expect_eq(reply->req, 43u);
    cr_expect_str_eq(reply->error, INGEST_ERROR_UNAVAILABLE);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&event);
}

/* A non-guaranteed event on the same path is answered at once, without a
   request id towards the router. */
Test(ingest_broker, plain_event_is_accepted_at_once)
{
    s_learn_type(tg_now_at(0, S_WALL_S));
    s_acked(s_publish("chat.message", 44), tg_now_at(1, S_WALL_S));
    tg_envelope_t *reply = s_to_client();
    cr_assert_eq(reply->command, TG_CMD_ACCEPTED);
    tg_envelope_t *event = s_from_broker();
    cr_expect_eq(event->req, 0u);
    tg_envelope_destroy(&event);
    tg_envelope_destroy(&reply);
}
