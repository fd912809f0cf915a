/*  The router's command table: who may send what. Messages are handed to
    router_broker directly (time passed in, far from the machine's clock);
    the broker answers through real ROUTER sockets to DEALERs playing an
    edge, an ingest, a peer that never said HELLO, and telegraphy-ctl
    (inproc).

    Absence is checked by a round trip: a HEARTBEAT's reply arrives after
    anything the broker sent before it, on the same connection.
*/
#include <criterion/criterion.h>
#include <string.h>

#include "router_broker.h"
#include "tg_envelope.h"
#include "tg_event_type.h"
#include "tg_log.h"

#define NOW_MS 5 /* the loop's monotonic clock: a machine booted 5 ms ago */
#define WALL_S 1900000000

static zsock_t *peer_socket, *control_socket;
static zsock_t *edge, *ingest, *stranger, *ctl;
static router_broker_t *broker;

static zsock_t *s_dealer(const char *endpoint, const char *identity)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zsock_set_identity(sock, identity);
    zsock_set_rcvtimeo(sock, 2000);
    zsock_set_linger(sock, 0);
    cr_assert_eq(zsock_connect(sock, "%s", endpoint), 0);
    return sock;
}

/* Hands env (destroyed) to the broker as if it came from routing id `from`
   on the peer socket. */
static void s_deliver(const char *from, tg_envelope_t *env)
{
    zmsg_t *msg = tg_envelope_encode(env);
    tg_envelope_destroy(&env);
    zmsg_pushstr(msg, from);
    router_broker_handle_peer(broker, &msg, tg_now_at(NOW_MS, WALL_S));
    cr_assert_null(msg);
}

/* The same on the control socket, from "ctl". */
static void s_deliver_control(tg_envelope_t *env)
{
    zmsg_t *msg = tg_envelope_encode(env);
    tg_envelope_destroy(&env);
    zmsg_pushstr(msg, "ctl");
    router_broker_handle_control(broker, control_socket, &msg, tg_now_at(NOW_MS, WALL_S));
    cr_assert_null(msg);
}

static tg_envelope_t *s_recv(zsock_t *sock)
{
    zmsg_t *msg = zmsg_recv(sock);
    cr_assert_not_null(msg, "no message from the router");
    tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
    cr_assert_not_null(env);
    return env;
}

static void s_expect(zsock_t *sock, tg_command_t command)
{
    tg_envelope_t *env = s_recv(sock);
    cr_assert_eq(env->command, command, "got %s, expected %s", tg_command_name(env->command),
                 tg_command_name(command));
    tg_envelope_destroy(&env);
}

static void s_hello(const char *identity, const char *role)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = strdup(role);
    hello->instance = strdup(identity);
    s_deliver(identity, hello);
}

/* Nothing was sent to `sock` before the reply to this HEARTBEAT. Returns
   the reply's `known`. */
static bool s_round_trip(zsock_t *sock, const char *identity)
{
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup(identity);
    s_deliver(identity, heartbeat);
    tg_envelope_t *reply = s_recv(sock);
    cr_assert_eq(reply->command, TG_CMD_HEARTBEAT, "unexpected %s",
                 tg_command_name(reply->command));
    bool known = reply->known;
    tg_envelope_destroy(&reply);
    return known;
}

static router_broker_stats_t s_stats(void)
{
    router_broker_stats_t stats;
    router_broker_stats(broker, &stats);
    return stats;
}

static tg_envelope_t *s_register(const char *name)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->req = 1;
    env->event_type = tg_event_type_new(name);
    return env;
}

static tg_envelope_t *s_event(const char *topic)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_EVENT);
    env->pub_id = 1;
    env->ts = 2;
    env->topic = strdup(topic);
    env->body = zframe_new("\x80", 1);
    return env;
}

static tg_envelope_t *s_subscribe(const char *topic)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_SUBSCRIBE);
    env->req = 3;
    env->topic = strdup(topic);
    env->match = TG_MATCH_PREFIX;
    return env;
}

static tg_envelope_t *s_unsubscribe(void)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    env->sub_id = 5;
    return env;
}

static tg_envelope_t *s_spend(void)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_TOKEN_SPEND);
    env->req = 4;
    env->jti = strdup("jti-1");
    env->exp = WALL_S + 60;
    return env;
}

static tg_envelope_t *s_status(void)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_STATUS);
    env->req = 6;
    return env;
}

/* An edge and an ingest that said HELLO, one type registered, and a peer
   and a ctl that never said anything. */
static void setup(void)
{
    tg_log_init("test_router_dispatch", "error");
    peer_socket = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(peer_socket, 1);
    cr_assert_neq(zsock_bind(peer_socket, "inproc://router-dispatch"), -1);
    control_socket = zsock_new(ZMQ_ROUTER);
    cr_assert_neq(zsock_bind(control_socket, "inproc://router-dispatch-control"), -1);
    edge = s_dealer("inproc://router-dispatch", "edge-a");
    ingest = s_dealer("inproc://router-dispatch", "ingest-a");
    stranger = s_dealer("inproc://router-dispatch", "edge-z");
    ctl = s_dealer("inproc://router-dispatch-control", "ctl");
    broker = router_broker_new(peer_socket, "router-test", 100, NULL, tg_now_at(0, WALL_S));
    cr_assert_not_null(broker);
    s_hello("ingest-a", "ingest");
    s_expect(ingest, TG_CMD_WELCOME);
    s_deliver("ingest-a", s_register("shop.order"));
    s_expect(ingest, TG_CMD_ACCEPTED);
    s_hello("edge-a", "edge");
    s_expect(edge, TG_CMD_WELCOME);
    s_expect(edge, TG_CMD_REGISTER);
}

static void teardown(void)
{
    router_broker_destroy(&broker);
    zsock_destroy(&ctl);
    zsock_destroy(&stranger);
    zsock_destroy(&ingest);
    zsock_destroy(&edge);
    zsock_destroy(&control_socket);
    zsock_destroy(&peer_socket);
}

TestSuite(router_dispatch, .init = setup, .fini = teardown, .timeout = 20);

/* An edge may not publish: its EVENT and REGISTER are bad input, counted,
   unanswered, and change nothing (no event in, no new type). */
Test(router_dispatch, edge_cannot_send_event_or_register)
{
    s_deliver("edge-a", s_event("shop.order"));
    s_deliver("edge-a", s_register("shop.refund"));
    cr_assert(s_round_trip(edge, "edge-a"));
    router_broker_stats_t stats = s_stats();
    cr_expect_eq(stats.bad_input, 2);
    cr_expect_eq(stats.events_in, 0);
    cr_expect_eq(stats.event_types, 1);
}

/* An ingest may not subscribe, unsubscribe or spend a token: bad input,
   unanswered, nothing stored. */
Test(router_dispatch, ingest_cannot_subscribe_unsubscribe_or_spend)
{
    s_deliver("ingest-a", s_subscribe("shop."));
    s_deliver("ingest-a", s_unsubscribe());
    s_deliver("ingest-a", s_spend());
    cr_assert(s_round_trip(ingest, "ingest-a"));
    router_broker_stats_t stats = s_stats();
    cr_expect_eq(stats.bad_input, 3);
    cr_expect_eq(stats.subscriptions, 0);
    cr_expect_eq(stats.spent_tokens, 0);
}

/* What the router only ever sends (WELCOME, SUBSCRIBED, ACCEPTED, REJECTED,
   STATUS_REPLY, TAP) is bad input from anyone, and so is the control
   socket's STATUS on the peer socket. */
Test(router_dispatch, replies_and_control_commands_from_peers_are_bad_input)
{
    tg_envelope_t *welcome = tg_envelope_new(TG_CMD_WELCOME);
    welcome->instance = strdup("x");
    s_deliver("edge-a", welcome);
    tg_envelope_t *subscribed = tg_envelope_new(TG_CMD_SUBSCRIBED);
    subscribed->req = 1;
    subscribed->sub_id = 1;
    s_deliver("ingest-a", subscribed);
    tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
    accepted->req = 1;
    s_deliver("edge-z", accepted);
    s_deliver("edge-a", s_status());
    s_deliver("edge-z", s_status());
    cr_assert(s_round_trip(edge, "edge-a"));
    cr_assert(s_round_trip(ingest, "ingest-a"));
    cr_assert_not(s_round_trip(stranger, "edge-z"));
    cr_expect_eq(s_stats().bad_input, 5);
}

/* The control socket answers STATUS only: a peer's command there is bad
   input, unanswered; a STATUS afterwards is answered as usual. */
Test(router_dispatch, control_socket_takes_status_only)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = strdup("edge");
    hello->instance = strdup("ctl");
    s_deliver_control(hello);
    s_deliver_control(s_event("shop.order"));
    s_deliver_control(s_subscribe("shop."));
    s_deliver_control(s_status());
    s_expect(ctl, TG_CMD_STATUS_REPLY);
    router_broker_stats_t stats = s_stats();
    cr_expect_eq(stats.bad_input, 3);
    cr_expect_eq(stats.edges, 1, "the control socket's HELLO added no peer");
    cr_expect_eq(stats.events_in, 0);
}

/* A peer we do not know sending what an edge or an ingest may send is not
   bad input: it is one we forgot, told once per tick to resync
   (HEARTBEAT known=false); its EVENT counts in and as a drop, its
   TOKEN_SPEND is refused at once. */
Test(router_dispatch, unknown_peer_is_told_to_resync_not_blamed)
{
    s_deliver("edge-z", s_event("shop.order"));
    tg_envelope_t *reply = s_recv(stranger);
    cr_assert_eq(reply->command, TG_CMD_HEARTBEAT);
    cr_assert_not(reply->known);
    tg_envelope_destroy(&reply);
    s_deliver("edge-z", s_subscribe("shop."));
    s_deliver("edge-z", s_spend());
    reply = s_recv(stranger);
    cr_assert_eq(reply->command, TG_CMD_REJECTED, "got %s", tg_command_name(reply->command));
    cr_assert_str_eq(reply->error, "telegraphy.error.unavailable");
    tg_envelope_destroy(&reply);
    cr_assert_not(s_round_trip(stranger, "edge-z"));
    router_broker_stats_t stats = s_stats();
    cr_expect_eq(stats.bad_input, 0);
    cr_expect_eq(stats.events_in, 1);
    cr_expect_eq(stats.drops, 1);
    cr_expect_eq(stats.subscriptions, 0);
}

/* The allowed paths still work after refused ones: the edge subscribes,
   the ingest's event reaches it with its subscription id. */
Test(router_dispatch, allowed_commands_are_handled_after_refused_ones)
{
    s_deliver("edge-a", s_event("shop.order"));
    s_deliver("ingest-a", s_subscribe("shop."));
    s_deliver("edge-a", s_subscribe("shop."));
    tg_envelope_t *subscribed = s_recv(edge);
    cr_assert_eq(subscribed->command, TG_CMD_SUBSCRIBED);
    uint64_t sub_id = subscribed->sub_id;
    tg_envelope_destroy(&subscribed);
    s_deliver("ingest-a", s_event("shop.order"));
    tg_envelope_t *event = s_recv(edge);
    cr_assert_eq(event->command, TG_CMD_EVENT);
    cr_assert_eq(event->sub_ids_count, 1);
    cr_assert_eq(event->sub_ids[0], sub_id);
    cr_assert_str_eq(event->audience, "public"); /* the type's default */
    tg_envelope_destroy(&event);
    router_broker_stats_t stats = s_stats();
    cr_expect_eq(stats.bad_input, 2);
    cr_expect_eq(stats.events_in, 1);
    cr_expect_eq(stats.events_out, 1);
}
