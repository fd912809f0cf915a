/*  ingest_actor: the ingest actor run in-process against a fake router (a
    ROUTER socket owned by the test) and fake publishers (a PUSH socket and
    an acknowledged DEALER), all on tcp://127.0.0.1 with random free ports
    ("!": czmq's "*" hands out the lowest free port, which other processes'
    tests grab right after they free it, so stale peers could reach us). */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>
#include <unistd.h>

#include "ingest_actor.h"
#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"

#define S_WAIT_MS 3000 /* deadline for anything the test waits for */

static tg_config_t s_cfg;
static zsock_t *s_router; /* the fake router */
static tg_actor_t *s_actor;
static zsock_t *s_push;   /* fire-and-forget publisher */
static zsock_t *s_dealer; /* acknowledged publisher (what telegraphy-ctl uses) */
static uint64_t s_req = 100;

/* --- helpers ------------------------------------------------------------ */

//  Receives one envelope from the fake router's socket (routing id popped),
//  skipping HEARTBEATs (and HELLOs, MONITORs) unless asked for; NULL at the
//  deadline.
static tg_envelope_t *s_router_recv(tg_command_t wanted)
{
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (zclock_mono() < deadline) {
        zmsg_t *msg = zmsg_recv(s_router);
        if (!msg)
            continue;
        zframe_t *id = zmsg_pop(msg);
        zframe_destroy(&id);
        tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
        cr_assert_not_null(env, "ingest sent something undecodable to the router");
        if (env->command == wanted)
            return env;
        //  MONITOR: the ingest's own socket events, forwarded to the router.
        cr_assert(env->command == TG_CMD_HEARTBEAT || env->command == TG_CMD_HELLO ||
                      env->command == TG_CMD_MONITOR,
                  "unexpected %s to the router while waiting for %s", tg_command_name(env->command),
                  tg_command_name(wanted));
        tg_envelope_destroy(&env);
    }
    return NULL;
}

//  Sends env from the fake router to the ingest.
static void s_router_send(tg_envelope_t *env)
{
    zframe_t *id = zframe_from(tg_actor_get(s_actor, "instance"));
    cr_assert_eq(tg_envelope_send_to(env, s_router, id), 0);
    zframe_destroy(&id);
    tg_envelope_destroy(&env);
}

//  The next reply on the acknowledged DEALER, or NULL at the deadline.
static tg_envelope_t *s_dealer_recv(void)
{
    zmsg_t *msg = zmsg_recv(s_dealer);
    if (!msg)
        return NULL;
    tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
    cr_assert_not_null(env, "ingest sent something undecodable to the client");
    return env;
}

static void s_pack_str(msgpack_packer *pk, const char *text)
{
    msgpack_pack_str(pk, strlen(text));
    msgpack_pack_str_body(pk, text, strlen(text));
}

//  Caller owns the result: a body frame holding a map of string keys to
//  small integers or strings ("key", "=value" for a string, "#7" for 7).
static zframe_t *s_body(size_t pairs, const char *const *kv)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, pairs);
    for (size_t i = 0; i < pairs; i++) {
        s_pack_str(&pk, kv[2 * i]);
        const char *value = kv[2 * i + 1];
        if (value[0] == '#')
            msgpack_pack_int64(&pk, atoll(value + 1));
        else
            s_pack_str(&pk, value + 1);
    }
    zframe_t *frame = zframe_new(buffer.data, buffer.size);
    msgpack_sbuffer_destroy(&buffer);
    return frame;
}

static zframe_t *s_shipped_body(void)
{
    const char *kv[] = {"order_id", "#7", "carrier", "=dhl"};
    return s_body(2, kv);
}

//  Caller owns the result: a PUBLISH of `topic` with `body` (taken).
static tg_envelope_t *s_publish(const char *topic, zframe_t *body, uint64_t req)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_PUBLISH);
    env->topic = strdup(topic);
    env->body = body;
    env->req = req;
    return env;
}

//  Caller owns the result: a REGISTER of `name` with the given fields.
static tg_envelope_t *s_register(const char *name, const char *const *fields, size_t count,
                                 uint64_t req)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->req = req;
    env->event_type = tg_event_type_new(name);
    if (fields)
        tg_event_type_set_fields(env->event_type, fields, count);
    return env;
}

//  Registers a type through the acknowledged path, playing the router's
//  part, so the ingest knows it before the test goes on.
static void s_register_type(const char *name, const char *const *fields, size_t count)
{
    uint64_t req = ++s_req;
    tg_envelope_t *env = s_register(name, fields, count, req);
    cr_assert_eq(tg_envelope_send(env, s_dealer), 0);
    tg_envelope_destroy(&env);
    tg_envelope_t *forwarded = s_router_recv(TG_CMD_REGISTER);
    cr_assert_not_null(forwarded, "REGISTER not forwarded to the router");
    tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
    accepted->req = forwarded->req;
    tg_envelope_destroy(&forwarded);
    s_router_send(accepted);
    tg_envelope_t *reply = s_dealer_recv();
    cr_assert_not_null(reply, "no answer to REGISTER");
    cr_assert_eq(reply->command, TG_CMD_ACCEPTED);
    cr_assert_eq(reply->req, req);
    tg_envelope_destroy(&reply);
}

static const char *const s_shipped_fields[] = {"order_id", "carrier"};

static void s_register_shipped(void)
{
    s_register_type("shop.order.shipped", s_shipped_fields, 2);
}

//  Publishes on the acknowledged path and returns the reply.
static tg_envelope_t *s_publish_acked(const char *topic, zframe_t *body)
{
    tg_envelope_t *env = s_publish(topic, body, ++s_req);
    uint64_t req = env->req;
    cr_assert_eq(tg_envelope_send(env, s_dealer), 0);
    tg_envelope_destroy(&env);
    tg_envelope_t *reply = s_dealer_recv();
    cr_assert_not_null(reply, "no answer to PUBLISH");
    cr_assert_eq(reply->req, req);
    return reply;
}

//  Expects REJECTED with `error` and a message containing `fragment`.
static void s_expect_rejected(tg_envelope_t *reply, const char *error, const char *fragment)
{
    cr_assert_eq(reply->command, TG_CMD_REJECTED, "expected REJECTED, got %s",
                 tg_command_name(reply->command));
    cr_expect_str_eq(reply->error, error);
    cr_expect_not_null(reply->message);
    if (reply->message)
        cr_expect(strstr(reply->message, fragment), "message \"%s\" lacks \"%s\"", reply->message,
                  fragment);
}

static ingest_stats_t s_stats(void)
{
    ingest_stats_t stats;
    cr_assert_eq(ingest_actor_stats(s_actor, &stats), 0);
    return stats;
}

//  Starts the ingest against the fake router, with connected publishers,
//  and waits for its HELLO (the link is up).
static void s_start(uint32_t max_event, uint32_t heartbeat_ms)
{
    cr_assert_eq(tg_config_load(&s_cfg, 0, 0, NULL, "test", NULL, NULL), 0);
    s_router = zsock_new(ZMQ_ROUTER);
    cr_assert_not_null(s_router);
    int port = zsock_bind(s_router, "tcp://127.0.0.1:!");
    cr_assert_gt(port, 0);
    zsock_set_rcvtimeo(s_router, 200);
    snprintf(s_cfg.router, sizeof(s_cfg.router), "tcp://127.0.0.1:%d", port);
    snprintf(s_cfg.ingest, sizeof(s_cfg.ingest), "tcp://127.0.0.1:!");
    snprintf(s_cfg.ingest_ack, sizeof(s_cfg.ingest_ack), "tcp://127.0.0.1:!");
    s_cfg.max_event = max_event;
    s_cfg.heartbeat_ms = heartbeat_ms;
    s_cfg.hwm = 1000;

    char error[256];
    s_actor = tg_actor_start(&ingest_actor_class, &s_cfg, error, sizeof(error));
    cr_assert_not_null(s_actor, "ingest failed to start: %s", error);
    s_push = zsock_new_push(tg_actor_get(s_actor, "ingest"));
    s_dealer = zsock_new_dealer(tg_actor_get(s_actor, "ingest_ack"));
    cr_assert(s_push && s_dealer);
    zsock_set_rcvtimeo(s_dealer, S_WAIT_MS);
    zsock_set_linger(s_push, 0);
    zsock_set_linger(s_dealer, 0);

    tg_envelope_t *hello = s_router_recv(TG_CMD_HELLO);
    cr_assert_not_null(hello, "no HELLO from the ingest");
    cr_expect_str_eq(hello->role, "ingest");
    cr_expect_str_eq(hello->instance, tg_actor_get(s_actor, "instance"));
    tg_envelope_destroy(&hello);
}

static void s_setup(void)
{
    s_start(1024, 1000);
}

static void s_teardown(void)
{
    zsock_destroy(&s_push);
    zsock_destroy(&s_dealer);
    tg_actor_destroy(&s_actor);
    tg_actor_destroy(&s_actor); //  safe twice
    zsock_destroy(&s_router);
}

TestSuite(ingest_actor, .init = s_setup, .fini = s_teardown, .timeout = 20);

/* --- PUBLISH ------------------------------------------------------------- */

/* An accepted publish reaches the router as an EVENT whose body is the very
   bytes the publisher sent, and the publisher learns its pub_id. */
Test(ingest_actor, accepted_publish_is_forwarded_with_identical_body_bytes)
{
    s_register_shipped();
    zframe_t *body = s_shipped_body();
    zframe_t *sent = zframe_dup(body);
    int64_t before = tg_clock_read().wall_us;
    tg_envelope_t *reply = s_publish_acked("shop.order.shipped", body);
    cr_assert_eq(reply->command, TG_CMD_ACCEPTED, "got %s %s", tg_command_name(reply->command),
                 reply->message ? reply->message : "");
    tg_envelope_t *event = s_router_recv(TG_CMD_EVENT);
    cr_assert_not_null(event);
    cr_expect_eq(event->pub_id, reply->pub_id);
    cr_expect_str_eq(event->topic, "shop.order.shipped");
    cr_expect_null(event->to_users);
    cr_expect(zframe_eq(event->body, sent), "body bytes changed on the way");
    cr_expect_geq(event->ts, (uint64_t)before);
    cr_expect_leq(event->ts, (uint64_t)tg_clock_read().wall_us);
    zframe_destroy(&sent);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&event);
}

/* Events published fire-and-forget get strictly increasing pub_ids, in
   [1, 2^53], and arrive in order. */
Test(ingest_actor, pushed_events_get_increasing_pub_ids)
{
    s_register_shipped();
    for (int i = 0; i < 5; i++) {
        tg_envelope_t *env = s_publish("shop.order.shipped", s_shipped_body(), 0);
        cr_assert_eq(tg_envelope_send(env, s_push), 0);
        tg_envelope_destroy(&env);
    }
    uint64_t previous = 0;
    for (int i = 0; i < 5; i++) {
        tg_envelope_t *event = s_router_recv(TG_CMD_EVENT);
        cr_assert_not_null(event, "event %d not forwarded", i);
        cr_expect_gt(event->pub_id, previous);
        cr_expect_leq(event->pub_id, TG_MAX_ID);
        previous = event->pub_id;
        tg_envelope_destroy(&event);
    }
    ingest_stats_t stats = s_stats();
    cr_expect_eq(stats.events_in, 5u);
    cr_expect_eq(stats.events_out, 5u);
}

/* to_users travels with the event unchanged. */
Test(ingest_actor, to_users_are_passed_through)
{
    s_register_shipped();
    tg_envelope_t *env = s_publish("shop.order.shipped", s_shipped_body(), 0);
    env->to_users = calloc(2, sizeof(char *));
    env->to_users[0] = strdup("42");
    env->to_users[1] = strdup("alice");
    env->to_users_count = 2;
    cr_assert_eq(tg_envelope_send(env, s_push), 0);
    tg_envelope_destroy(&env);
    tg_envelope_t *event = s_router_recv(TG_CMD_EVENT);
    cr_assert_not_null(event);
    cr_assert_eq(event->to_users_count, 2u);
    cr_expect_str_eq(event->to_users[0], "42");
    cr_expect_str_eq(event->to_users[1], "alice");
    tg_envelope_destroy(&event);
}

/* A type nobody registered is refused with unknown_event naming it. */
Test(ingest_actor, unknown_type_is_rejected_naming_the_type)
{
    tg_envelope_t *reply = s_publish_acked("shop.order.lost", s_shipped_body());
    s_expect_rejected(reply, INGEST_ERROR_UNKNOWN_EVENT, "shop.order.lost");
    tg_envelope_destroy(&reply);
    cr_expect_eq(s_stats().rejected, 1u);
}

/* A body without one of the registered fields is refused, naming it. */
Test(ingest_actor, missing_field_is_rejected_naming_the_field)
{
    s_register_shipped();
    const char *kv[] = {"order_id", "#7"};
    tg_envelope_t *reply = s_publish_acked("shop.order.shipped", s_body(1, kv));
    s_expect_rejected(reply, INGEST_ERROR_INVALID_EVENT, "missing field: carrier");
    tg_envelope_destroy(&reply);
}

/* A body with a key the type does not declare is refused, naming it. */
Test(ingest_actor, extra_field_is_rejected_naming_the_field)
{
    s_register_shipped();
    const char *kv[] = {"order_id", "#7", "carrier", "=dhl", "colour", "=red"};
    tg_envelope_t *reply = s_publish_acked("shop.order.shipped", s_body(3, kv));
    s_expect_rejected(reply, INGEST_ERROR_INVALID_EVENT, "colour");
    tg_envelope_destroy(&reply);
}

/* A type registered without fields accepts any map. */
Test(ingest_actor, type_without_fields_accepts_any_map)
{
    s_register_type("chat.message", NULL, 0);
    const char *kv[] = {"text", "=hi", "room", "=lobby", "n", "#-3"};
    tg_envelope_t *reply = s_publish_acked("chat.message", s_body(3, kv));
    cr_expect_eq(reply->command, TG_CMD_ACCEPTED);
    tg_envelope_destroy(&reply);
}

/* A body over max_event is refused with too_large (checked before the
   body is even parsed). */
Test(ingest_actor, body_over_the_limit_is_rejected_as_too_large)
{
    s_register_type("chat.message", NULL, 0);
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[0] = '=';
    big[sizeof(big) - 1] = '\0';
    const char *kv[] = {"text", big};
    tg_envelope_t *reply = s_publish_acked("chat.message", s_body(1, kv));
    s_expect_rejected(reply, INGEST_ERROR_TOO_LARGE, "1024");
    tg_envelope_destroy(&reply);
}

/* A body that is not a map (here an array) is refused as invalid. */
Test(ingest_actor, body_that_is_not_a_map_is_rejected)
{
    s_register_type("chat.message", NULL, 0);
    const uint8_t array[] = {0x92, 0x01, 0x02}; /* [1, 2] */
    tg_envelope_t *reply = s_publish_acked("chat.message", zframe_new(array, sizeof(array)));
    s_expect_rejected(reply, INGEST_ERROR_INVALID_EVENT, "map");
    tg_envelope_destroy(&reply);
}

/* Refused fire-and-forget events are counted and never forwarded. */
Test(ingest_actor, refused_pushed_events_are_counted_not_forwarded)
{
    s_register_shipped();
    tg_envelope_t *env = s_publish("shop.order.nope", s_shipped_body(), 0);
    cr_assert_eq(tg_envelope_send(env, s_push), 0);
    tg_envelope_destroy(&env);
    env = s_publish("shop.order.shipped", s_shipped_body(), 0);
    cr_assert_eq(tg_envelope_send(env, s_push), 0);
    tg_envelope_destroy(&env);
    //  The good one arrives; the refused one, sent first, did not.
    tg_envelope_t *event = s_router_recv(TG_CMD_EVENT);
    cr_assert_not_null(event);
    cr_expect_str_eq(event->topic, "shop.order.shipped");
    tg_envelope_destroy(&event);
    cr_expect_eq(s_stats().rejected, 1u);
}

/* --- REGISTER ------------------------------------------------------------ */

/* REGISTER goes to the router with the ingest's own req, and the router's
   ACCEPTED comes back to the client under the client's req. */
Test(ingest_actor, register_is_relayed_to_the_router_and_accepted_back)
{
    tg_envelope_t *env = s_register("shop.order.shipped", s_shipped_fields, 2, 4242);
    cr_assert_eq(tg_envelope_send(env, s_dealer), 0);
    tg_envelope_destroy(&env);
    tg_envelope_t *forwarded = s_router_recv(TG_CMD_REGISTER);
    cr_assert_not_null(forwarded);
    cr_expect_str_eq(forwarded->event_type->name, "shop.order.shipped");
    cr_expect_eq(forwarded->event_type->fields_count, 2u);
    cr_expect_neq(forwarded->req, 0u);
    //  Nothing comes back before the router answered.
    zsock_set_rcvtimeo(s_dealer, 100);
    cr_expect_null(s_dealer_recv());
    zsock_set_rcvtimeo(s_dealer, S_WAIT_MS);
    tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
    accepted->req = forwarded->req;
    s_router_send(accepted);
    tg_envelope_t *reply = s_dealer_recv();
    cr_assert_not_null(reply);
    cr_expect_eq(reply->command, TG_CMD_ACCEPTED);
    cr_expect_eq(reply->req, 4242u);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&forwarded);
}

/* The router's refusal reaches the client with its error and message. */
Test(ingest_actor, register_refused_by_the_router_is_relayed)
{
    tg_envelope_t *env = s_register("shop.order.shipped", NULL, 0, 5);
    cr_assert_eq(tg_envelope_send(env, s_dealer), 0);
    tg_envelope_destroy(&env);
    tg_envelope_t *forwarded = s_router_recv(TG_CMD_REGISTER);
    cr_assert_not_null(forwarded);
    tg_envelope_t *rejected = tg_envelope_new(TG_CMD_REJECTED);
    rejected->req = forwarded->req;
    rejected->error = strdup("telegraphy.error.conflict");
    rejected->message = strdup("already registered differently");
    s_router_send(rejected);
    tg_envelope_t *reply = s_dealer_recv();
    cr_assert_not_null(reply);
    s_expect_rejected(reply, "telegraphy.error.conflict", "already registered");
    cr_expect_eq(reply->req, 5u);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&forwarded);
}

/* A REGISTER from the router (registry sync) teaches the ingest a type. */
Test(ingest_actor, register_from_the_router_updates_the_registry)
{
    tg_envelope_t *sync = s_register("chat.message", NULL, 0, 0);
    s_router_send(sync);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (s_stats().event_types < 1 && zclock_mono() < deadline)
        zclock_sleep(5);
    cr_assert_eq(s_stats().event_types, 1u);
    const char *kv[] = {"text", "=hi"};
    tg_envelope_t *reply = s_publish_acked("chat.message", s_body(1, kv));
    cr_expect_eq(reply->command, TG_CMD_ACCEPTED);
    tg_envelope_destroy(&reply);
}

/* When the router never answers, the client still gets an answer:
   REJECTED unavailable "router did not answer". */
Test(ingest_actor, unanswered_register_expires_as_unavailable)
{
    s_teardown();
    s_start(1024, 50); //  pending timeout = 3 heartbeats = 150 ms
    tg_envelope_t *env = s_register("shop.order.shipped", NULL, 0, 9);
    cr_assert_eq(tg_envelope_send(env, s_dealer), 0);
    tg_envelope_destroy(&env);
    tg_envelope_t *reply = s_dealer_recv();
    cr_assert_not_null(reply);
    s_expect_rejected(reply, INGEST_ERROR_UNAVAILABLE, "router did not answer");
    cr_expect_eq(reply->req, 9u);
    tg_envelope_destroy(&reply);
    cr_expect_eq(s_stats().queue_depth, 0u);
}

/* --- router link ----------------------------------------------------------- */

//  The fake router welcomes the ingest (router instance `router`).
static void s_welcome(const char *router)
{
    tg_envelope_t *welcome = tg_envelope_new(TG_CMD_WELCOME);
    welcome->instance = strdup(router);
    s_router_send(welcome);
}

/* Once welcomed, heartbeats carry the instance and the shared stat names. */
Test(ingest_actor, heartbeat_carries_instance_and_stats)
{
    s_teardown();
    s_start(1024, 50);
    s_welcome("router-a");
    tg_envelope_t *heartbeat = s_router_recv(TG_CMD_HEARTBEAT);
    cr_assert_not_null(heartbeat);
    cr_expect_str_eq(heartbeat->instance, tg_actor_get(s_actor, "instance"));
    const char *names[] = {"events_in",        "events_out",  "events_in_per_s",
                           "events_out_per_s", "rejected",    "drops",
                           "bad_input",        "event_types", "queue_depth"};
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        bool found = false;
        for (size_t i = 0; i < heartbeat->stats_count; i++)
            found |= streq(heartbeat->stats[i].name, names[n]);
        cr_expect(found, "stat %s missing", names[n]);
    }
    tg_envelope_destroy(&heartbeat);
}

//  Welcomes the ingest, which knows shop.order.shipped, and takes the
//  REGISTER it re-sends (every WELCOME brings a resync).
static void s_welcome_with_shipped(const char *router)
{
    s_welcome(router);
    tg_envelope_t *again = s_router_recv(TG_CMD_REGISTER);
    cr_assert_not_null(again, "REGISTER not re-sent after WELCOME");
    cr_expect_str_eq(again->event_type->name, "shop.order.shipped");
    cr_expect_eq(again->event_type->fields_count, 2u);
    tg_envelope_destroy(&again);
}

/* A router that answers a HEARTBEAT with known=false (it restarted) gets a
   new HELLO and, once it welcomes the ingest, every type the ingest knows. */
Test(ingest_actor, resync_resends_hello_and_register_after_known_false)
{
    s_register_shipped();
    s_welcome_with_shipped("router-a");
    cr_expect_eq(s_stats().resyncs, 1u);
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup("router-a");
    heartbeat->known = false;
    s_router_send(heartbeat);
    tg_envelope_t *hello = s_router_recv(TG_CMD_HELLO);
    cr_assert_not_null(hello, "no HELLO after known=false");
    tg_envelope_destroy(&hello);
    s_welcome_with_shipped("router-a");
    cr_expect_eq(s_stats().resyncs, 2u);
}

/* A HEARTBEAT from a router with a new instance id (known or not) brings a
   HELLO, and the new router's WELCOME the resync. */
Test(ingest_actor, router_instance_change_triggers_resync)
{
    s_register_shipped();
    s_welcome_with_shipped("router-a");
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup("router-a");
    heartbeat->known = true;
    s_router_send(heartbeat);
    heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup("router-b");
    heartbeat->known = true;
    s_router_send(heartbeat);
    tg_envelope_t *hello = s_router_recv(TG_CMD_HELLO);
    cr_assert_not_null(hello, "no HELLO to the new router");
    tg_envelope_destroy(&hello);
    s_welcome_with_shipped("router-b");
    cr_expect_eq(s_stats().resyncs, 2u);
}

/* --- bad input ------------------------------------------------------------- */

/* Garbage on every socket is counted and dropped; a malformed request with
   a readable req gets bad_request; the next good publish still works. */
Test(ingest_actor, garbage_is_counted_and_the_next_publish_still_works)
{
    s_register_shipped();
    //  PULL: an unknown command, a one-frame message, bad msgpack.
    zstr_send(s_push, "HELLO?");
    zstr_sendx(s_push, "PUBLISH", NULL);
    zstr_sendx(s_push, "PUBLISH", "\xc1\xc1", "x", NULL);
    //  Router: a command the ingest never expects from it.
    zframe_t *id = zframe_from(tg_actor_get(s_actor, "instance"));
    zframe_send(&id, s_router, ZFRAME_MORE);
    zstr_send(s_router, "NONSENSE");
    //  Ack socket: a REGISTER with a broken type but a readable req.
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    s_pack_str(&pk, "v");
    msgpack_pack_uint32(&pk, 1);
    s_pack_str(&pk, "req");
    msgpack_pack_uint32(&pk, 31337);
    s_pack_str(&pk, "type");
    msgpack_pack_int32(&pk, 12);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "REGISTER");
    zmsg_addmem(msg, buffer.data, buffer.size);
    msgpack_sbuffer_destroy(&buffer);
    zmsg_send(&msg, s_dealer);
    tg_envelope_t *reply = s_dealer_recv();
    cr_assert_not_null(reply, "no answer to a malformed request with a req");
    s_expect_rejected(reply, INGEST_ERROR_BAD_REQUEST, "type");
    cr_expect_eq(reply->req, 31337u);
    tg_envelope_destroy(&reply);
    //  Ack socket: pure garbage, nothing to answer.
    zstr_send(s_dealer, "garbage");

    reply = s_publish_acked("shop.order.shipped", s_shipped_body());
    cr_expect_eq(reply->command, TG_CMD_ACCEPTED);
    tg_envelope_destroy(&reply);
    //  Everything sent before the good publish has been read by now,
    //  except possibly the router's and the PULL's (other sockets): wait.
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (s_stats().bad_input < 6 && zclock_mono() < deadline)
        zclock_sleep(5);
    cr_expect_eq(s_stats().bad_input, 6u);
    tg_envelope_t *event = s_router_recv(TG_CMD_EVENT);
    cr_expect_not_null(event);
    tg_envelope_destroy(&event);
}

/* A client asking for something ingest does not serve (a STATUS) is told
   so, and it counts as bad input. */
Test(ingest_actor, unexpected_command_on_the_ack_socket_is_a_bad_request)
{
    tg_envelope_t *status = tg_envelope_new(TG_CMD_STATUS);
    status->req = 8;
    cr_assert_eq(tg_envelope_send(status, s_dealer), 0);
    tg_envelope_destroy(&status);
    tg_envelope_t *reply = s_dealer_recv();
    cr_assert_not_null(reply);
    s_expect_rejected(reply, INGEST_ERROR_BAD_REQUEST, "STATUS");
    tg_envelope_destroy(&reply);
    cr_expect_eq(s_stats().bad_input, 1u);
}

/* --- start-up -------------------------------------------------------------- */

/* A port already in use is a start-up failure naming the endpoint. */
Test(ingest_actor, port_in_use_fails_naming_the_endpoint)
{
    tg_config_t cfg = s_cfg;
    snprintf(cfg.ingest, sizeof(cfg.ingest), "%s", tg_actor_get(s_actor, "ingest"));
    char error[256] = "";
    tg_actor_t *second = tg_actor_start(&ingest_actor_class, &cfg, error, sizeof(error));
    cr_assert_null(second);
    cr_expect(strstr(error, tg_actor_get(s_actor, "ingest")), "error \"%s\"", error);
    cr_expect(strstr(error, "in use"), "error \"%s\"", error);
    cr_expect(strstr(error, "socket=ingest "), "error \"%s\" does not name the socket", error);
}

/* --- a router link that cannot take more ------------------------------------ */

/* With the router unreachable and the link's queue full (hwm 1, holding
   the HELLO), an acknowledged publish is refused as unavailable and a
   pushed one is counted as a drop: nothing is acknowledged that was not
   handed to the link. */
Test(ingest_actor, full_router_link_refuses_with_unavailable)
{
    s_teardown();
    cr_assert_eq(tg_config_load(&s_cfg, 0, 0, NULL, "test", NULL, NULL), 0);
    //  An endpoint nobody will ever listen on (a TCP port could be taken
    //  by another process's test between our probe and our connect).
    snprintf(s_cfg.router, sizeof(s_cfg.router), "ipc:///tmp/telegraphy-test-no-router-%d",
             (int)getpid());
    snprintf(s_cfg.ingest, sizeof(s_cfg.ingest), "tcp://127.0.0.1:!");
    snprintf(s_cfg.ingest_ack, sizeof(s_cfg.ingest_ack), "tcp://127.0.0.1:!");
    s_cfg.hwm = 1;
    char error[256];
    s_actor = tg_actor_start(&ingest_actor_class, &s_cfg, error, sizeof(error));
    cr_assert_not_null(s_actor, "%s", error);
    s_push = zsock_new_push(tg_actor_get(s_actor, "ingest"));
    s_dealer = zsock_new_dealer(tg_actor_get(s_actor, "ingest_ack"));
    zsock_set_rcvtimeo(s_dealer, S_WAIT_MS);
    zsock_set_linger(s_push, 0);
    zsock_set_linger(s_dealer, 0);

    //  The REGISTER cannot be forwarded either, but the type is stored
    //  locally first.
    tg_envelope_t *env = s_register("chat.message", NULL, 0, 3);
    cr_assert_eq(tg_envelope_send(env, s_dealer), 0);
    tg_envelope_destroy(&env);
    tg_envelope_t *reply = s_dealer_recv();
    cr_assert_not_null(reply);
    s_expect_rejected(reply, INGEST_ERROR_UNAVAILABLE, "router link");
    tg_envelope_destroy(&reply);

    //  The link's queue (hwm 1) already holds the HELLO, so the event
    //  cannot be handed over.
    const char *kv[] = {"text", "=hi"};
    reply = s_publish_acked("chat.message", s_body(1, kv));
    s_expect_rejected(reply, INGEST_ERROR_UNAVAILABLE, "router link");
    tg_envelope_destroy(&reply);

    env = s_publish("chat.message", s_body(1, kv), 0);
    cr_assert_eq(tg_envelope_send(env, s_push), 0);
    tg_envelope_destroy(&env);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (s_stats().drops < 1 && zclock_mono() < deadline)
        zclock_sleep(5);
    ingest_stats_t stats = s_stats();
    cr_expect_eq(stats.drops, 1u);
    cr_expect_eq(stats.events_out, 0u);
}
