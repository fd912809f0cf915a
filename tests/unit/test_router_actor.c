/*  Unit tests of the router actor, run in-process: fake edges and a fake
    ingest are DEALER sockets speaking the internal protocol over tcp on
    127.0.0.1 (ports chosen by the system).

    Absence is checked by a round trip, not by waiting: a peer sends a
    HEARTBEAT and reads until the reply; whatever the router sent it before
    arrives first, on the same connection.
*/
#include <criterion/criterion.h>
#include <string.h>

#include "router_actor.h"
#include "tg_config.h"
#include "tg_envelope.h"
#include "tg_event_type.h"
#include "tg_log.h"

#define RECV_TIMEOUT_MS 3000

static tg_actor_t *server;

/* A router actor for cfg; NULL with the error text in `error`. */
static tg_actor_t *s_new(const tg_config_t *cfg, char *error, size_t error_size)
{
    return tg_actor_start(&router_actor_class, cfg, error, error_size);
}

static void s_start(uint32_t heartbeat_ms)
{
    tg_log_init("test_router_actor", "error");
    tg_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.router, sizeof cfg.router, "tcp://127.0.0.1:*");
    snprintf(cfg.control, sizeof cfg.control, "tcp://127.0.0.1:*");
    cfg.heartbeat_ms = heartbeat_ms;
    cfg.hwm = 1000;
    char error[512] = "";
    server = s_new(&cfg, error, sizeof error);
    cr_assert_not_null(server, "%s", error);
}

static void s_setup(void)
{
    s_start(1000);
}

static void s_teardown(void)
{
    tg_actor_destroy(&server);
}

/* A DEALER connected to `endpoint` with routing id `instance`. */
static zsock_t *s_dealer(const char *endpoint, const char *instance)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    cr_assert_not_null(sock);
    if (instance)
        zsock_set_identity(sock, instance);
    zsock_set_rcvtimeo(sock, RECV_TIMEOUT_MS);
    zsock_set_linger(sock, 0);
    cr_assert_eq(zsock_connect(sock, "%s", endpoint), 0);
    return sock;
}

static zsock_t *s_peer(const char *instance)
{
    return s_dealer(tg_actor_get(server, "router"), instance);
}

/* Sends and destroys env. */
static void s_send(zsock_t *sock, tg_envelope_t *env)
{
    cr_assert_eq(tg_envelope_send(env, sock), 0);
    tg_envelope_destroy(&env);
}

static tg_envelope_t *s_recv(zsock_t *sock)
{
    zmsg_t *msg = zmsg_recv(sock);
    cr_assert_not_null(msg, "no reply within %d ms", RECV_TIMEOUT_MS);
    const char *reason = NULL;
    tg_envelope_t *env = tg_envelope_decode(&msg, &reason);
    cr_assert_not_null(env, "router sent a malformed message: %s", reason);
    return env;
}

static tg_envelope_t *s_expect(zsock_t *sock, tg_command_t command)
{
    tg_envelope_t *env = s_recv(sock);
    cr_assert_eq(env->command, command, "got %s, expected %s", tg_command_name(env->command),
                 tg_command_name(command));
    return env;
}

static void s_send_hello(zsock_t *sock, const char *role, const char *instance)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = strdup(role);
    hello->instance = strdup(instance);
    s_send(sock, hello);
}

/* HELLO, then WELCOME (checked) and `types` REGISTERs. */
static void s_join(zsock_t *sock, const char *role, const char *instance, size_t types)
{
    s_send_hello(sock, role, instance);
    tg_envelope_t *welcome = s_expect(sock, TG_CMD_WELCOME);
    cr_expect_str_eq(welcome->instance, tg_actor_get(server, "instance"));
    tg_envelope_destroy(&welcome);
    for (size_t i = 0; i < types; i++) {
        tg_envelope_t *reg = s_expect(sock, TG_CMD_REGISTER);
        tg_envelope_destroy(&reg);
    }
}

static void s_send_heartbeat(zsock_t *sock, const char *instance)
{
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup(instance);
    s_send(sock, heartbeat);
}

/* Round trip: sends a HEARTBEAT and reads up to its reply. Returns how many
   other messages came first; *known gets the reply's flag. */
static size_t s_sync(zsock_t *sock, const char *instance, bool *known)
{
    s_send_heartbeat(sock, instance);
    size_t others = 0;
    while (true) {
        tg_envelope_t *env = s_recv(sock);
        if (env->command == TG_CMD_HEARTBEAT) {
            cr_expect_str_eq(env->instance, tg_actor_get(server, "instance"));
            if (known)
                *known = env->known;
            tg_envelope_destroy(&env);
            return others;
        }
        others++;
        tg_envelope_destroy(&env);
    }
}

static tg_event_type_t *s_type(const char *name)
{
    tg_event_type_t *type = tg_event_type_new(name);
    free(type->audience);
    type->audience = strdup("authenticated");
    /* Not guaranteed: a guaranteed event waits for a persist
       (test_router_persist.c), and these tests have none. */
    type->guaranteed = false;
    return type;
}

/* REGISTER from an ingest, expecting ACCEPTED{req}. */
static void s_register(zsock_t *ingest, const char *name, uint64_t req)
{
    tg_envelope_t *reg = tg_envelope_new(TG_CMD_REGISTER);
    reg->req = req;
    reg->event_type = s_type(name);
    s_send(ingest, reg);
    tg_envelope_t *accepted = s_expect(ingest, TG_CMD_ACCEPTED);
    cr_expect_eq(accepted->req, req);
    tg_envelope_destroy(&accepted);
}

static void s_send_subscribe(zsock_t *edge, uint64_t req, tg_match_t match, const char *topic,
                             const char *filter)
{
    tg_envelope_t *sub = tg_envelope_new(TG_CMD_SUBSCRIBE);
    sub->req = req;
    sub->match = match;
    sub->topic = strdup(topic);
    sub->filter = filter ? strdup(filter) : NULL;
    s_send(edge, sub);
}

/* SUBSCRIBE expecting SUBSCRIBED{req}; returns the sub_id. */
static uint64_t s_subscribe(zsock_t *edge, uint64_t req, tg_match_t match, const char *topic)
{
    s_send_subscribe(edge, req, match, topic, NULL);
    tg_envelope_t *reply = s_expect(edge, TG_CMD_SUBSCRIBED);
    cr_expect_eq(reply->req, req);
    uint64_t id = reply->sub_id;
    cr_expect(id >= 1 && id <= TG_MAX_ID);
    tg_envelope_destroy(&reply);
    return id;
}

/* SUBSCRIBE expecting SUBSCRIBE_ERROR{req, error}; returns the message. */
static char *s_subscribe_error(zsock_t *edge, uint64_t req, tg_match_t match, const char *topic,
                               const char *filter, const char *error)
{
    s_send_subscribe(edge, req, match, topic, filter);
    tg_envelope_t *reply = s_expect(edge, TG_CMD_SUBSCRIBE_ERROR);
    cr_expect_eq(reply->req, req);
    cr_expect_str_eq(reply->error, error);
    char *message = strdup(reply->message ? reply->message : "");
    tg_envelope_destroy(&reply);
    return message;
}

/* A msgpack map {"order_id": 7}: the body bytes are opaque to the router. */
static const char s_body[] = "\x81\xa8order_id\x07";
#define BODY_SIZE (sizeof s_body - 1)

static void s_send_event(zsock_t *ingest, uint64_t pub_id, const char *topic)
{
    tg_envelope_t *event = tg_envelope_new(TG_CMD_EVENT);
    event->pub_id = pub_id;
    event->ts = 1700000000000000ULL;
    event->topic = strdup(topic);
    event->to_users = calloc(1, sizeof(char *));
    event->to_users[0] = strdup("42");
    event->to_users_count = 1;
    event->body = zframe_new(s_body, BODY_SIZE);
    s_send(ingest, event);
}

/* A STATUS round trip on the control socket; caller owns the reply. */
static tg_envelope_t *s_status(zsock_t *control, uint64_t req)
{
    tg_envelope_t *status = tg_envelope_new(TG_CMD_STATUS);
    status->req = req;
    s_send(control, status);
    tg_envelope_t *reply = s_expect(control, TG_CMD_STATUS_REPLY);
    cr_expect_eq(reply->req, req);
    return reply;
}

static int64_t s_stat(const tg_process_status_t *process, const char *name)
{
    for (size_t i = 0; i < process->stats_count; i++)
        if (strcmp(process->stats[i].name, name) == 0)
            return process->stats[i].value;
    cr_assert_fail("no stat %s", name);
    return -1;
}

/* The router's own stat `name`, from a fresh STATUS. */
static int64_t s_router_stat(const char *name)
{
    zsock_t *control = s_dealer(tg_actor_get(server, "control"), NULL);
    tg_envelope_t *reply = s_status(control, 1);
    cr_assert_geq(reply->processes_count, 1);
    cr_assert_str_eq(reply->processes[0].role, "router");
    int64_t value = s_stat(&reply->processes[0], name);
    tg_envelope_destroy(&reply);
    zsock_destroy(&control);
    return value;
}

TestSuite(router_actor, .init = s_setup, .fini = s_teardown, .timeout = 20);

/* HELLO is answered by WELCOME carrying the router's instance id, then one
   REGISTER per known event type. */
Test(router_actor, hello_gets_welcome_then_every_known_type)
{
    zsock_t *ingest = s_peer("ingest-1");
    s_join(ingest, "ingest", "ingest-1", 0);
    s_register(ingest, "shop.order.shipped", 1);
    s_register(ingest, "shop.order.paid", 2);
    zsock_t *edge = s_peer("edge-a");
    s_send_hello(edge, "edge", "edge-a");
    tg_envelope_t *welcome = s_expect(edge, TG_CMD_WELCOME);
    cr_expect_str_eq(welcome->instance, tg_actor_get(server, "instance"));
    tg_envelope_destroy(&welcome);
    tg_envelope_t *first = s_expect(edge, TG_CMD_REGISTER);
    tg_envelope_t *second = s_expect(edge, TG_CMD_REGISTER);
    cr_expect_str_eq(first->event_type->name, "shop.order.paid"); /* registry: name order */
    cr_expect_str_eq(second->event_type->name, "shop.order.shipped");
    cr_expect_str_eq(second->event_type->audience, "authenticated");
    cr_expect_not(second->event_type->guaranteed);
    tg_envelope_destroy(&first);
    tg_envelope_destroy(&second);
    zsock_destroy(&edge);
    zsock_destroy(&ingest);
}

/* A new REGISTER is accepted and sent to every other peer, not back to the
   sender; an identical one is accepted again but not re-broadcast. */
Test(router_actor, register_is_accepted_and_broadcast_to_other_peers)
{
    zsock_t *edge = s_peer("edge-a");
    s_join(edge, "edge", "edge-a", 0);
    zsock_t *ingest = s_peer("ingest-1");
    s_join(ingest, "ingest", "ingest-1", 0);
    s_register(ingest, "shop.order.shipped", 7);
    tg_envelope_t *reg = s_expect(edge, TG_CMD_REGISTER);
    cr_expect_str_eq(reg->event_type->name, "shop.order.shipped");
    cr_expect_eq(reg->req, 0);
    tg_envelope_destroy(&reg);
    cr_expect_eq(s_sync(ingest, "ingest-1", NULL), 0, "the sender got its REGISTER back");
    s_register(ingest, "shop.order.shipped", 8);
    cr_expect_eq(s_sync(edge, "edge-a", NULL), 0, "an unchanged type was re-broadcast");
    cr_expect_eq(s_router_stat("event_types"), 1);
    zsock_destroy(&ingest);
    zsock_destroy(&edge);
}

/* The same subscription from two edges gets the same id, and one
   subscription in the index. */
Test(router_actor, same_subscription_from_two_edges_gets_the_same_id)
{
    zsock_t *a = s_peer("edge-a");
    zsock_t *b = s_peer("edge-b");
    s_join(a, "edge", "edge-a", 0);
    s_join(b, "edge", "edge-b", 0);
    uint64_t id_a = s_subscribe(a, 11, TG_MATCH_PREFIX, "shop.");
    uint64_t id_b = s_subscribe(b, 12, TG_MATCH_PREFIX, "shop.");
    cr_expect_eq(id_a, id_b);
    cr_expect_neq(s_subscribe(b, 13, TG_MATCH_WILDCARD, "shop."), id_a);
    cr_expect_eq(s_router_stat("subscriptions"), 2);
    cr_expect_eq(s_router_stat("edges"), 2);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

/* An event reaches only the edges with matching subscriptions, once per
   edge, naming that edge's matching ids, with the type's audience and
   flag, the ingest's fields, and the body bytes unchanged. */
Test(router_actor, event_fans_out_to_interested_edges_only)
{
    zsock_t *ingest = s_peer("ingest-1");
    s_join(ingest, "ingest", "ingest-1", 0);
    s_register(ingest, "shop.order.shipped", 1);
    s_register(ingest, "shop.other", 2);
    zsock_t *a = s_peer("edge-a");
    zsock_t *b = s_peer("edge-b");
    zsock_t *c = s_peer("edge-c");
    s_join(a, "edge", "edge-a", 2);
    s_join(b, "edge", "edge-b", 2);
    s_join(c, "edge", "edge-c", 2);
    uint64_t a_exact = s_subscribe(a, 1, TG_MATCH_EXACT, "shop.order.shipped");
    uint64_t a_prefix = s_subscribe(a, 2, TG_MATCH_PREFIX, "shop.");
    uint64_t b_wild = s_subscribe(b, 3, TG_MATCH_WILDCARD, "shop..shipped");
    s_subscribe(c, 4, TG_MATCH_EXACT, "shop.other");
    s_subscribe(c, 5, TG_MATCH_PREFIX, "shop.order.shipped.more");

    s_send_event(ingest, 99, "shop.order.shipped");

    tg_envelope_t *event = s_expect(a, TG_CMD_EVENT);
    cr_expect_eq(event->pub_id, 99);
    cr_expect_eq(event->ts, 1700000000000000ULL);
    cr_expect_str_eq(event->topic, "shop.order.shipped");
    cr_assert_eq(event->to_users_count, 1);
    cr_expect_str_eq(event->to_users[0], "42");
    cr_expect_str_eq(event->audience, "authenticated");
    cr_expect_not(event->guaranteed);
    cr_assert_eq(event->sub_ids_count, 2);
    cr_expect((event->sub_ids[0] == a_exact && event->sub_ids[1] == a_prefix) ||
              (event->sub_ids[0] == a_prefix && event->sub_ids[1] == a_exact));
    cr_assert_eq(zframe_size(event->body), BODY_SIZE);
    cr_expect_eq(memcmp(zframe_data(event->body), s_body, BODY_SIZE), 0);
    tg_envelope_destroy(&event);

    event = s_expect(b, TG_CMD_EVENT);
    cr_assert_eq(event->sub_ids_count, 1);
    cr_expect_eq(event->sub_ids[0], b_wild);
    cr_expect_eq(memcmp(zframe_data(event->body), s_body, BODY_SIZE), 0);
    tg_envelope_destroy(&event);

    s_sync(ingest, "ingest-1", NULL); /* the router has routed the event */
    cr_expect_eq(s_sync(c, "edge-c", NULL), 0, "edge-c got a message it did not subscribe to");
    cr_expect_eq(s_sync(a, "edge-a", NULL), 0, "edge-a got the event twice");
    cr_expect_eq(s_router_stat("events_in"), 1);
    cr_expect_eq(s_router_stat("events_out"), 2);
    zsock_destroy(&a);
    zsock_destroy(&b);
    zsock_destroy(&c);
    zsock_destroy(&ingest);
}

/* After UNSUBSCRIBE the edge no longer receives the topic, and the
   subscription is gone from the index. */
Test(router_actor, unsubscribe_stops_delivery)
{
    zsock_t *ingest = s_peer("ingest-1");
    s_join(ingest, "ingest", "ingest-1", 0);
    s_register(ingest, "shop.order.shipped", 1);
    zsock_t *a = s_peer("edge-a");
    s_join(a, "edge", "edge-a", 1);
    uint64_t id = s_subscribe(a, 1, TG_MATCH_EXACT, "shop.order.shipped");
    tg_envelope_t *unsub = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    unsub->sub_id = id;
    s_send(a, unsub);
    s_sync(a, "edge-a", NULL);
    s_send_event(ingest, 1, "shop.order.shipped");
    s_sync(ingest, "ingest-1", NULL);
    cr_expect_eq(s_sync(a, "edge-a", NULL), 0);
    cr_expect_eq(s_router_stat("subscriptions"), 0);
    zsock_destroy(&a);
    zsock_destroy(&ingest);
}

/* An event of a type nobody registered is dropped and counted. */
Test(router_actor, event_of_unknown_type_is_dropped_and_counted)
{
    zsock_t *ingest = s_peer("ingest-1");
    s_join(ingest, "ingest", "ingest-1", 0);
    zsock_t *a = s_peer("edge-a");
    s_join(a, "edge", "edge-a", 0);
    s_subscribe(a, 1, TG_MATCH_PREFIX, "shop.");
    s_send_event(ingest, 1, "shop.order.shipped");
    s_sync(ingest, "ingest-1", NULL);
    cr_expect_eq(s_sync(a, "edge-a", NULL), 0);
    cr_expect_eq(s_router_stat("drops"), 1);
    cr_expect_eq(s_router_stat("events_out"), 0);
    zsock_destroy(&a);
    zsock_destroy(&ingest);
}

/* Subscribing exactly to an unregistered type is refused with
   telegraphy.error.unknown_event; pattern subscriptions need no type. */
Test(router_actor, exact_subscription_to_unknown_type_is_refused)
{
    zsock_t *a = s_peer("edge-a");
    s_join(a, "edge", "edge-a", 0);
    char *message = s_subscribe_error(a, 5, TG_MATCH_EXACT, "shop.nothing", NULL,
                                      "telegraphy.error.unknown_event");
    cr_expect(strstr(message, "shop.nothing") != NULL, "message: %s", message);
    free(message);
    s_subscribe(a, 6, TG_MATCH_PREFIX, "shop.nothing");
    cr_expect_eq(s_router_stat("subscriptions"), 1);
    zsock_destroy(&a);
}

/* A filter that does not parse is refused with invalid_filter, and the
   message says where (the parser's message, with the column); nothing is
   subscribed. */
Test(router_actor, invalid_filter_is_refused_with_its_column)
{
    zsock_t *a = s_peer("edge-a");
    s_join(a, "edge", "edge-a", 0);
    char *message = s_subscribe_error(a, 5, TG_MATCH_PREFIX, "shop.",
                                      "room == ", "telegraphy.error.invalid_filter");
    cr_expect(strstr(message, "at column 9") != NULL, "message: %s", message);
    free(message);
    message = s_subscribe_error(a, 6, TG_MATCH_PREFIX, "shop.", "room == 'lobby' and (",
                                "telegraphy.error.invalid_filter");
    cr_expect(strstr(message, "column") != NULL, "message: %s", message);
    free(message);
    cr_expect_eq(s_router_stat("subscriptions"), 0);
    s_subscribe(a, 7, TG_MATCH_PREFIX, "shop."); /* the edge is still served */
    zsock_destroy(&a);
}

/* SUBSCRIBE with a filter; returns the sub_id of SUBSCRIBED{req}. */
static uint64_t s_subscribe_filter(zsock_t *edge, uint64_t req, tg_match_t match, const char *topic,
                                   const char *filter)
{
    s_send_subscribe(edge, req, match, topic, filter);
    tg_envelope_t *reply = s_expect(edge, TG_CMD_SUBSCRIBED);
    cr_expect_eq(reply->req, req);
    uint64_t id = reply->sub_id;
    tg_envelope_destroy(&reply);
    return id;
}

/* Equivalent spellings of a filter, from two edges, get one id and one
   subscription; another filter gets another id; an empty filter is no
   filter. */
Test(router_actor, equivalent_filters_share_one_id_across_edges)
{
    zsock_t *a = s_peer("edge-a");
    zsock_t *b = s_peer("edge-b");
    s_join(a, "edge", "edge-a", 0);
    s_join(b, "edge", "edge-b", 0);
    uint64_t one =
        s_subscribe_filter(a, 1, TG_MATCH_PREFIX, "chat.", "room == 'lobby' and lang == \"en\"");
    uint64_t two =
        s_subscribe_filter(b, 2, TG_MATCH_PREFIX, "chat.", "(lang==\"en\") and (room==\"lobby\")");
    uint64_t other = s_subscribe_filter(b, 3, TG_MATCH_PREFIX, "chat.", "room == 'kitchen'");
    uint64_t plain = s_subscribe(a, 4, TG_MATCH_PREFIX, "chat.");
    uint64_t empty = s_subscribe_filter(b, 5, TG_MATCH_PREFIX, "chat.", "");
    cr_expect_eq(one, two);
    cr_expect_neq(one, other);
    cr_expect_eq(plain, empty);
    cr_expect_eq(s_router_stat("subscriptions"), 3);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

/* An EVENT from the ingest with this body. */
static void s_send_event_body(zsock_t *ingest, uint64_t pub_id, const char *topic, const void *body,
                              size_t len)
{
    tg_envelope_t *event = tg_envelope_new(TG_CMD_EVENT);
    event->pub_id = pub_id;
    event->ts = 1700000000000000ULL;
    event->topic = strdup(topic);
    event->body = zframe_new(body, len);
    s_send(ingest, event);
}

/* Two edges with different filters on one topic each receive exactly the
   events their filter accepts, with the matching ids only. */
Test(router_actor, filtered_subscriptions_receive_only_their_events)
{
    zsock_t *ingest = s_peer("ingest-1");
    s_join(ingest, "ingest", "ingest-1", 0);
    s_register(ingest, "chat.message", 1);
    zsock_t *a = s_peer("edge-a");
    zsock_t *b = s_peer("edge-b");
    s_join(a, "edge", "edge-a", 1);
    s_join(b, "edge", "edge-b", 1);
    uint64_t lobby = s_subscribe_filter(a, 1, TG_MATCH_EXACT, "chat.message", "room == 'lobby'");
    uint64_t big = s_subscribe_filter(a, 2, TG_MATCH_WILDCARD, "chat.", "n > 5");
    uint64_t kitchen = s_subscribe_filter(b, 3, TG_MATCH_PREFIX, "chat", "room in ['kitchen']");

    const char lobby_small[] = "\x82\xa4room\xa5lobby\xa1n\x01";   /* {room: lobby, n: 1} */
    const char kitchen_big[] = "\x82\xa4room\xa7kitchen\xa1n\x09"; /* {room: kitchen, n: 9} */
    const char nowhere[] = "\x81\xa4room\xa4hall";                 /* {room: hall} */
    s_send_event_body(ingest, 1, "chat.message", lobby_small, sizeof lobby_small - 1);
    s_send_event_body(ingest, 2, "chat.message", kitchen_big, sizeof kitchen_big - 1);
    s_send_event_body(ingest, 3, "chat.message", nowhere, sizeof nowhere - 1);

    tg_envelope_t *event = s_expect(a, TG_CMD_EVENT);
    cr_expect_eq(event->pub_id, 1);
    cr_assert_eq(event->sub_ids_count, 1);
    cr_expect_eq(event->sub_ids[0], lobby);
    tg_envelope_destroy(&event);
    event = s_expect(a, TG_CMD_EVENT);
    cr_expect_eq(event->pub_id, 2);
    cr_assert_eq(event->sub_ids_count, 1);
    cr_expect_eq(event->sub_ids[0], big);
    tg_envelope_destroy(&event);
    event = s_expect(b, TG_CMD_EVENT);
    cr_expect_eq(event->pub_id, 2);
    cr_assert_eq(event->sub_ids_count, 1);
    cr_expect_eq(event->sub_ids[0], kitchen);
    cr_expect_eq(zframe_size(event->body), sizeof kitchen_big - 1);
    tg_envelope_destroy(&event);

    s_sync(ingest, "ingest-1", NULL); /* the router has routed all three */
    cr_expect_eq(s_sync(a, "edge-a", NULL), 0, "edge-a got an event its filters refuse");
    cr_expect_eq(s_sync(b, "edge-b", NULL), 0, "edge-b got an event its filter refuses");
    cr_expect_eq(s_router_stat("events_out"), 3);
    zsock_destroy(&a);
    zsock_destroy(&b);
    zsock_destroy(&ingest);
}

/* Criterion runs the suite's .init before the test's: replace its router
   by one with small filter limits. */
static void s_setup_small_filters(void)
{
    tg_actor_destroy(&server);
    tg_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.router, sizeof cfg.router, "tcp://127.0.0.1:*");
    snprintf(cfg.control, sizeof cfg.control, "tcp://127.0.0.1:*");
    cfg.heartbeat_ms = 1000;
    cfg.hwm = 1000;
    cfg.max_filter = 20;
    cfg.filter_max_depth = 2;
    cfg.filter_max_list = 2;
    char error[512] = "";
    server = s_new(&cfg, error, sizeof error);
    cr_assert_not_null(server, "%s", error);
}

/* The filter limits come from the configuration: a filter longer than
   max_filter, nested deeper than filter_max_depth, or with a list longer
   than filter_max_list is refused. */
Test(router_actor, filter_limits_come_from_the_configuration, .init = s_setup_small_filters)
{
    zsock_t *a = s_peer("edge-a");
    s_join(a, "edge", "edge-a", 0);
    s_subscribe_filter(a, 1, TG_MATCH_PREFIX, "x.", "a == 1 and b in [1]");
    const char *refused[] = {"a == 1 and b == 2 and c == 3", "not (not (not a))", "a in [1, 2, 3]"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char *message = s_subscribe_error(a, 2 + i, TG_MATCH_PREFIX, "x.", refused[i],
                                          "telegraphy.error.invalid_filter");
        cr_expect(strstr(message, "column") != NULL, "%s: %s", refused[i], message);
        free(message);
    }
    zsock_destroy(&a);
}

/* Topics that are not WAMP URIs for their policy are refused with
   wamp.error.invalid_uri. */
Test(router_actor, invalid_topic_is_refused_with_invalid_uri)
{
    zsock_t *a = s_peer("edge-a");
    s_join(a, "edge", "edge-a", 0);
    const struct {
        tg_match_t match;
        const char *topic;
    } bad[] = {{TG_MATCH_EXACT, "shop..x"}, {TG_MATCH_EXACT, "shop.x."}, {TG_MATCH_EXACT, ".x"},
               {TG_MATCH_PREFIX, "sh op"},  {TG_MATCH_PREFIX, "a..b"},   {TG_MATCH_PREFIX, "."},
               {TG_MATCH_WILDCARD, "a#b"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        free(s_subscribe_error(a, i + 1, bad[i].match, bad[i].topic, NULL,
                               "wamp.error.invalid_uri"));
    s_subscribe(a, 100, TG_MATCH_PREFIX, "shop."); /* a trailing dot is a fine prefix */
    s_subscribe(a, 101, TG_MATCH_WILDCARD, ".x.");
    zsock_destroy(&a);
}

/* A peer that never said HELLO is told known=false, its SUBSCRIBE is not
   processed, and after HELLO it is known. */
Test(router_actor, unknown_peer_is_told_to_resync)
{
    zsock_t *a = s_peer("edge-a");
    bool known = true;
    cr_expect_eq(s_sync(a, "edge-a", &known), 0);
    cr_expect_not(known);
    s_send_subscribe(a, 1, TG_MATCH_PREFIX, "shop.", NULL);
    tg_envelope_t *reply = s_expect(a, TG_CMD_HEARTBEAT);
    cr_expect_not(reply->known);
    tg_envelope_destroy(&reply);
    cr_expect_eq(s_router_stat("subscriptions"), 0);
    s_join(a, "edge", "edge-a", 0);
    cr_expect_eq(s_sync(a, "edge-a", &known), 0);
    cr_expect(known);
    zsock_destroy(&a);
}

/* A HELLO from a known edge is a resync: its old subscriptions go. */
Test(router_actor, second_hello_drops_the_old_subscriptions)
{
    zsock_t *a = s_peer("edge-a");
    s_join(a, "edge", "edge-a", 0);
    s_subscribe(a, 1, TG_MATCH_PREFIX, "shop.");
    cr_expect_eq(s_router_stat("subscriptions"), 1);
    s_join(a, "edge", "edge-a", 0);
    cr_expect_eq(s_router_stat("subscriptions"), 0);
    cr_expect_eq(s_router_stat("edges"), 1);
    zsock_destroy(&a);
}

/* STATUS lists the router with its counters and every peer with its last
   stats; a REQ client (empty delimiter) gets its reply too. */
Test(router_actor, status_reports_the_router_and_every_peer)
{
    zsock_t *ingest = s_peer("ingest-1");
    s_join(ingest, "ingest", "ingest-1", 0);
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup("ingest-1");
    heartbeat->uptime_ms = 1234;
    tg_envelope_add_stat(heartbeat, "events_in", 3);
    s_send(ingest, heartbeat);
    tg_envelope_destroy(&(tg_envelope_t *){s_expect(ingest, TG_CMD_HEARTBEAT)});

    zsock_t *control = s_dealer(tg_actor_get(server, "control"), NULL);
    tg_envelope_t *reply = s_status(control, 77);
    cr_assert_eq(reply->processes_count, 2);
    const tg_process_status_t *router = &reply->processes[0];
    cr_expect_str_eq(router->role, "router");
    cr_expect_str_eq(router->instance, tg_actor_get(server, "instance"));
    const char *names[] = {"subscriptions", "edges",      "ingests",         "event_types",
                           "events_in",     "events_out", "events_in_per_s", "events_out_per_s",
                           "drops",         "bad_input",  "queue_depth"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        s_stat(router, names[i]);
    cr_expect_eq(s_stat(router, "ingests"), 1);
    const tg_process_status_t *peer = &reply->processes[1];
    cr_expect_str_eq(peer->role, "ingest");
    cr_expect_str_eq(peer->instance, "ingest-1");
    cr_expect_eq(peer->uptime_ms, 1234);
    cr_expect_eq(s_stat(peer, "events_in"), 3);
    cr_expect_lt(peer->last_seen_ms, 60000);
    tg_envelope_destroy(&reply);

    zsock_t *req = zsock_new_req(tg_actor_get(server, "control"));
    zsock_set_rcvtimeo(req, RECV_TIMEOUT_MS);
    zsock_set_linger(req, 0);
    tg_envelope_t *status = tg_envelope_new(TG_CMD_STATUS);
    status->req = 78;
    zmsg_t *msg = tg_envelope_encode(status);
    tg_envelope_destroy(&status);
    cr_assert_eq(zmsg_send(&msg, req), 0);
    reply = s_expect(req, TG_CMD_STATUS_REPLY);
    cr_expect_eq(reply->req, 78);
    tg_envelope_destroy(&reply);
    zsock_destroy(&req);
    zsock_destroy(&control);
    zsock_destroy(&ingest);
}

/* Garbage on both sockets is counted in bad_input, one per message, and
   the router still serves well-formed exchanges afterwards. */
Test(router_actor, garbage_is_counted_and_the_router_keeps_working)
{
    zsock_t *edge = s_peer("edge-a");
    s_join(edge, "edge", "edge-a", 0);

    /* 1. random frames */
    unsigned char noise[64];
    srand(7);
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)rand();
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, noise, 20);
    zmsg_addmem(msg, noise + 20, 30);
    zmsg_addmem(msg, noise + 50, 14);
    cr_assert_eq(zmsg_send(&msg, edge), 0);
    /* 2. an unknown command with a valid header */
    msg = zmsg_new();
    zmsg_addstr(msg, "NOPE");
    zmsg_addmem(msg, "\x81\xa1v\x01", 4);
    cr_assert_eq(zmsg_send(&msg, edge), 0);
    /* 3. a SUBSCRIBE whose msgpack header is cut short */
    tg_envelope_t *sub = tg_envelope_new(TG_CMD_SUBSCRIBE);
    sub->req = 1;
    sub->topic = strdup("shop.order.shipped");
    msg = tg_envelope_encode(sub);
    tg_envelope_destroy(&sub);
    zframe_t *header = zmsg_last(msg);
    zframe_t *cut = zframe_new(zframe_data(header), zframe_size(header) / 2);
    zmsg_remove(msg, header);
    zframe_destroy(&header);
    zmsg_append(msg, &cut);
    cr_assert_eq(zmsg_send(&msg, edge), 0);
    /* 4. a 1 MB frame */
    char *big = calloc(1, 1 << 20);
    msg = zmsg_new();
    zmsg_addmem(msg, big, 1 << 20);
    free(big);
    cr_assert_eq(zmsg_send(&msg, edge), 0);
    /* 5. a single empty frame */
    msg = zmsg_new();
    zmsg_addmem(msg, NULL, 0);
    cr_assert_eq(zmsg_send(&msg, edge), 0);
    /* 6. a control command on the peer socket */
    tg_envelope_t *status = tg_envelope_new(TG_CMD_STATUS);
    status->req = 1;
    s_send(edge, status);
    /* 7. an ingest's command from an edge */
    s_send_event(edge, 1, "shop.order.shipped");
    bool known = false;
    cr_expect_eq(s_sync(edge, "edge-a", &known), 0);
    cr_expect(known, "garbage made the router forget the edge");

    zsock_t *control = s_dealer(tg_actor_get(server, "control"), NULL);
    /* 8. noise on the control socket, 9. a peer command there */
    msg = zmsg_new();
    zmsg_addmem(msg, noise, sizeof noise);
    cr_assert_eq(zmsg_send(&msg, control), 0);
    s_send_hello(control, "edge", "ctl");
    tg_envelope_t *reply = s_status(control, 5);
    cr_expect_eq(s_stat(&reply->processes[0], "bad_input"), 9);
    tg_envelope_destroy(&reply);

    /* Well-formed traffic still works, on the same connections. */
    s_subscribe(edge, 2, TG_MATCH_PREFIX, "shop.");
    zsock_t *other = s_peer("edge-b");
    s_join(other, "edge", "edge-b", 0);
    reply = s_status(control, 6);
    cr_expect_eq(s_stat(&reply->processes[0], "edges"), 2);
    cr_expect_eq(s_stat(&reply->processes[0], "subscriptions"), 1);
    tg_envelope_destroy(&reply);
    zsock_destroy(&other);
    zsock_destroy(&control);
    zsock_destroy(&edge);
}

/* Criterion runs the suite's .init before the test's: replace its router. */
static void s_setup_fast(void)
{
    tg_actor_destroy(&server);
    s_start(50);
}

/* A peer silent for 3 heartbeat intervals is dropped with its
   subscriptions; when it talks again it is told it is unknown. */
Test(router_actor, silent_peer_expires_with_its_subscriptions, .init = s_setup_fast)
{
    zsock_t *a = s_peer("edge-a");
    s_join(a, "edge", "edge-a", 0);
    s_subscribe(a, 1, TG_MATCH_PREFIX, "shop.");
    int64_t deadline = zclock_mono() + 5000;
    while (s_router_stat("subscriptions") != 0 && zclock_mono() < deadline)
        zclock_sleep(20);
    cr_expect_eq(s_router_stat("subscriptions"), 0);
    cr_expect_eq(s_router_stat("edges"), 0);
    bool known = true;
    s_sync(a, "edge-a", &known);
    cr_expect_not(known);
    zsock_destroy(&a);
}

/* A second router cannot bind an endpoint the first one holds: its start
   fails with a sentence naming the endpoint. */
Test(router_actor, start_fails_on_an_endpoint_in_use)
{
    tg_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.router, sizeof cfg.router, "%s", tg_actor_get(server, "router"));
    snprintf(cfg.control, sizeof cfg.control, "tcp://127.0.0.1:*");
    cfg.heartbeat_ms = 1000;
    cfg.hwm = 1000;
    char error[512] = "";
    tg_actor_t *second = s_new(&cfg, error, sizeof error);
    cr_expect_null(second);
    cr_expect(strstr(error, cfg.router), "the error names the endpoint: %s", error);
    tg_actor_destroy(&second);
}

/* A started router reports its endpoints with the ports resolved (the tap
   too: "" in the configuration is a free port) and its instance id. */
Test(router_actor, start_reports_its_endpoints_and_instance)
{
    const char *names[] = {"router", "control", "monitor"};
    for (size_t i = 0; i < 3; i++) {
        const char *endpoint = tg_actor_get(server, names[i]);
        cr_assert_not_null(endpoint, "%s", names[i]);
        cr_expect_eq(strncmp(endpoint, "tcp://127.0.0.1:", 16), 0, "%s", endpoint);
        cr_expect_null(strchr(endpoint, '*'), "%s", endpoint);
    }
    const char *instance = tg_actor_get(server, "instance");
    cr_assert_not_null(instance);
    cr_expect_eq(strncmp(instance, "router-", 7), 0, "%s", instance);
}
