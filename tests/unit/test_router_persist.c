/*  The router's side of persistence: messages are handed to router_broker
    directly, with the loop's time passed in (so deadlines are tested
    without waiting), and it answers through a real ROUTER socket to
    DEALERs playing an ingest, an edge and a fake persist (inproc).

    Absence is checked by a round trip: a HEARTBEAT's reply arrives after
    anything the broker sent before it, on the same connection.
*/
#include <criterion/criterion.h>
#include <string.h>

#include "router_broker.h"
#include "tg_envelope.h"
#include "tg_event_type.h"
#include "tg_log.h"

#define WALL_S     1900000000
#define HEARTBEAT  100  /* ms: peers expire after 300 ms of silence */
#define TIMEOUT_MS 1000 /* the store timeout */

static zsock_t *peer_socket;
static zsock_t *edge, *ingest, *persist;
static router_broker_t *broker;
static int64_t now_ms = 5; /* the loop's monotonic clock */

static zsock_t *s_dealer(const char *identity)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zsock_set_identity(sock, identity);
    zsock_set_rcvtimeo(sock, 2000);
    zsock_set_linger(sock, 0);
    cr_assert_eq(zsock_connect(sock, "inproc://router-persist"), 0);
    //  The router's socket learns an inproc peer's routing id a moment
    //  after the connect: until then a mandatory send to it fails. Probe
    //  until one goes through (bounded), and read the probe off.
    for (int attempt = 0;; attempt++) {
        cr_assert_lt(attempt, 2000, "the router cannot route to %s", identity);
        zmsg_t *probe = zmsg_new();
        zmsg_addstr(probe, identity);
        zmsg_addstr(probe, "probe");
        if (zmsg_send(&probe, peer_socket) == 0)
            break;
        zmsg_destroy(&probe);
        zclock_sleep(1);
    }
    char *probe = zstr_recv(sock);
    cr_assert_str_eq(probe ? probe : "", "probe");
    free(probe);
    return sock;
}

/* Hands env (destroyed) to the broker as if from routing id `from`. */
static void s_deliver(const char *from, tg_envelope_t *env)
{
    zmsg_t *msg = tg_envelope_encode(env);
    tg_envelope_destroy(&env);
    zmsg_pushstr(msg, from);
    router_broker_handle_peer(broker, &msg, tg_now_at(now_ms, WALL_S));
}

static zmsg_t *s_recv_msg(zsock_t *sock)
{
    zmsg_t *msg = zmsg_recv(sock);
    cr_assert_not_null(msg, "no message from the router");
    return msg;
}

static tg_envelope_t *s_expect(zsock_t *sock, tg_command_t command)
{
    zmsg_t *msg = s_recv_msg(sock);
    tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
    cr_assert_not_null(env);
    cr_assert_eq(env->command, command, "got %s, expected %s", tg_command_name(env->command),
                 tg_command_name(command));
    return env;
}

static void s_skip(zsock_t *sock, tg_command_t command)
{
    tg_envelope_t *env = s_expect(sock, command);
    tg_envelope_destroy(&env);
}

/* Nothing was sent to `sock` before the reply to this HEARTBEAT. */
static void s_nothing_for(zsock_t *sock, const char *identity)
{
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup(identity);
    s_deliver(identity, heartbeat);
    s_skip(sock, TG_CMD_HEARTBEAT);
}

static router_broker_stats_t s_stats(void)
{
    router_broker_stats_t stats;
    router_broker_stats(broker, &stats);
    return stats;
}

static void s_hello(const char *identity, const char *role)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = strdup(role);
    hello->instance = strdup(identity);
    s_deliver(identity, hello);
}

static tg_envelope_t *s_register(const char *name, bool guaranteed, uint32_t ttl)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->event_type = tg_event_type_new(name);
    env->event_type->guaranteed = guaranteed;
    env->event_type->ttl = ttl;
    return env;
}

static tg_envelope_t *s_event(const char *topic, uint64_t req)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_EVENT);
    env->req = req;
    env->pub_id = 77;
    env->ts = 1000;
    env->topic = strdup(topic);
    env->body = zframe_new("\x81\xa1\x61\x01", 4);
    return env;
}

/* SUBSCRIBE {req, exact topic} from `from`; the reply is the caller's. */
static void s_subscribe(const char *from, uint64_t req, const char *topic, bool persistent)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_SUBSCRIBE);
    env->req = req;
    env->topic = strdup(topic);
    env->match = TG_MATCH_EXACT;
    if (persistent) {
        env->client_id = strdup("c-1");
        env->persistent = true;
    }
    s_deliver(from, env);
}

/* persist's answer {req, [instance]} */
static void s_answer(tg_command_t command, uint64_t req, const char *instance)
{
    tg_envelope_t *env = tg_envelope_new(command);
    env->req = req;
    env->instance = instance ? strdup(instance) : NULL;
    if (command == TG_CMD_REJECTED) {
        env->error = strdup("telegraphy.error.gap");
        env->pub_id = 12;
    }
    s_deliver("persist-1", env);
}

/* An ingest and an edge that said HELLO, types registered by the ingest:
   "g" guaranteed, "t" with a ttl, "p" plain. No persist yet. */
static void setup(void)
{
    tg_log_init("test_router_persist", "error");
    now_ms = 5;
    peer_socket = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(peer_socket, 1);
    cr_assert_neq(zsock_bind(peer_socket, "inproc://router-persist"), -1);
    edge = s_dealer("edge-a");
    ingest = s_dealer("ingest-a");
    persist = s_dealer("persist-1");
    broker = router_broker_new(peer_socket, "router-test", HEARTBEAT, NULL, tg_now_at(0, WALL_S));
    router_broker_set_store_timeout(broker, TIMEOUT_MS);
    s_hello("ingest-a", "ingest");
    s_skip(ingest, TG_CMD_WELCOME);
    s_deliver("ingest-a", s_register("g", true, 0));
    s_deliver("ingest-a", s_register("t", false, 60));
    s_deliver("ingest-a", s_register("p", false, 0));
    s_hello("edge-a", "edge");
    s_skip(edge, TG_CMD_WELCOME);
    for (int i = 0; i < 3; i++)
        s_skip(edge, TG_CMD_REGISTER);
}

/* The fake persist says HELLO and subscribes to "g" (a persist-held key). */
static void s_persist_joins(void)
{
    s_hello("persist-1", "persist");
    s_skip(persist, TG_CMD_WELCOME);
    for (int i = 0; i < 3; i++)
        s_skip(persist, TG_CMD_REGISTER);
    s_subscribe("persist-1", 1, "g", false);
    s_skip(persist, TG_CMD_SUBSCRIBED);
}

static void teardown(void)
{
    router_broker_destroy(&broker);
    zsock_destroy(&persist);
    zsock_destroy(&ingest);
    zsock_destroy(&edge);
    zsock_destroy(&peer_socket);
}

TestSuite(router_persist, .init = setup, .fini = teardown, .timeout = 20);

/* A guaranteed event is held until persist's ACCEPTED: STORE {req,
   sub_ids = persist's} with the edge header and the body, nothing to the
   edge nor the ingest before; then the EVENT to the edge and ACCEPTED
   {req, pub_id} to the ingest. */
Test(router_persist, guaranteed_event_waits_for_the_commit)
{
    s_persist_joins();
    s_subscribe("edge-a", 2, "g", false);
    s_skip(edge, TG_CMD_SUBSCRIBED);
    s_deliver("ingest-a", s_event("g", 9));
    tg_envelope_t *store = s_expect(persist, TG_CMD_STORE);
    cr_assert_neq(store->req, 0);
    cr_assert_eq(store->sub_ids_count, 1);
    cr_expect_eq(store->pub_id, 77);
    cr_expect(store->guaranteed);
    cr_expect_str_eq(store->topic, "g");
    cr_expect_eq(store->expires_at, 0);
    cr_expect_eq(zframe_size(store->body), 4);
    s_nothing_for(edge, "edge-a");
    s_nothing_for(ingest, "ingest-a");
    cr_expect_eq(s_stats().stores_pending, 1);

    s_answer(TG_CMD_ACCEPTED, store->req, NULL);
    tg_envelope_t *event = s_expect(edge, TG_CMD_EVENT);
    cr_expect_eq(event->pub_id, 77);
    tg_envelope_t *accepted = s_expect(ingest, TG_CMD_ACCEPTED);
    cr_expect_eq(accepted->req, 9);
    cr_expect_eq(accepted->pub_id, 77);
    cr_expect_eq(s_stats().stores_pending, 0);
    tg_envelope_destroy(&accepted);
    tg_envelope_destroy(&event);
    tg_envelope_destroy(&store);
}

/* persist's REJECTED: REJECTED unavailable to the ingest, no delivery. */
Test(router_persist, rejected_store_is_refused_and_not_delivered)
{
    s_persist_joins();
    s_subscribe("edge-a", 2, "g", false);
    s_skip(edge, TG_CMD_SUBSCRIBED);
    s_deliver("ingest-a", s_event("g", 9));
    tg_envelope_t *store = s_expect(persist, TG_CMD_STORE);
    tg_envelope_t *no = tg_envelope_new(TG_CMD_REJECTED);
    no->req = store->req;
    no->error = strdup("telegraphy.error.unavailable");
    s_deliver("persist-1", no);
    tg_envelope_t *rejected = s_expect(ingest, TG_CMD_REJECTED);
    cr_expect_eq(rejected->req, 9);
    cr_expect_str_eq(rejected->error, "telegraphy.error.unavailable");
    s_nothing_for(edge, "edge-a");
    cr_expect_eq(s_stats().store_rejected, 1);
    tg_envelope_destroy(&rejected);
    tg_envelope_destroy(&store);
}

/* No answer by the deadline (checked on the tick): REJECTED unavailable,
   no delivery; a late ACCEPTED changes nothing. */
Test(router_persist, store_timeout_refuses_the_event)
{
    s_persist_joins();
    s_subscribe("edge-a", 2, "g", false);
    s_skip(edge, TG_CMD_SUBSCRIBED);
    s_deliver("ingest-a", s_event("g", 9));
    tg_envelope_t *store = s_expect(persist, TG_CMD_STORE);
    /* Time passes in heartbeats, every peer heard (none expires). */
    for (int i = 0; i < TIMEOUT_MS / HEARTBEAT - 1; i++) {
        now_ms += HEARTBEAT;
        s_nothing_for(persist, "persist-1");
        s_nothing_for(edge, "edge-a");
        s_nothing_for(ingest, "ingest-a");
        router_broker_tick(broker, tg_now_at(now_ms, WALL_S));
    }
    s_nothing_for(ingest, "ingest-a");
    now_ms += 2 * HEARTBEAT;
    router_broker_tick(broker, tg_now_at(now_ms, WALL_S));
    tg_envelope_t *rejected = s_expect(ingest, TG_CMD_REJECTED);
    cr_expect_eq(rejected->req, 9);
    s_answer(TG_CMD_ACCEPTED, store->req, NULL);
    s_nothing_for(edge, "edge-a");
    tg_envelope_destroy(&rejected);
    tg_envelope_destroy(&store);
}

/* Without a persist a guaranteed event is refused at once and not
   delivered; a ttl event is delivered and counted retention_lost. */
Test(router_persist, no_persist_refuses_guaranteed_and_loses_retention)
{
    s_subscribe("edge-a", 2, "g", false);
    s_skip(edge, TG_CMD_SUBSCRIBED);
    s_subscribe("edge-a", 3, "t", false);
    s_skip(edge, TG_CMD_SUBSCRIBED);
    s_deliver("ingest-a", s_event("g", 9));
    tg_envelope_t *rejected = s_expect(ingest, TG_CMD_REJECTED);
    cr_expect_str_eq(rejected->error, "telegraphy.error.unavailable");
    s_deliver("ingest-a", s_event("t", 0));
    tg_envelope_t *event = s_expect(edge, TG_CMD_EVENT);
    cr_expect_str_eq(event->topic, "t");
    router_broker_stats_t stats = s_stats();
    cr_expect_eq(stats.retention_lost, 1);
    cr_expect_eq(stats.store_rejected, 1);
    cr_expect_not(stats.persist);
    tg_envelope_destroy(&event);
    tg_envelope_destroy(&rejected);
}

/* A ttl event is STOREd without req (expires_at = ts + ttl) and routed at
   once; a non-guaranteed event with a req is ACCEPTED at once. */
Test(router_persist, ttl_event_is_stored_and_routed_at_once)
{
    s_persist_joins();
    s_subscribe("edge-a", 3, "t", false);
    s_skip(edge, TG_CMD_SUBSCRIBED);
    s_deliver("ingest-a", s_event("t", 9));
    tg_envelope_t *store = s_expect(persist, TG_CMD_STORE);
    cr_expect_eq(store->req, 0);
    cr_expect_eq(store->expires_at, 1000 + 60 * 1000000ull);
    cr_expect_eq(store->sub_ids_count, 0);
    s_skip(edge, TG_CMD_EVENT);
    tg_envelope_t *accepted = s_expect(ingest, TG_CMD_ACCEPTED);
    cr_expect_eq(accepted->pub_id, 77);
    tg_envelope_destroy(&accepted);
    tg_envelope_destroy(&store);
}

/* Persistent subscriptions collect guaranteed events only (DESIGN 2.3): a
   ttl event matching a persist-held key is stored for retention with no
   sub_ids, so nobody owes an ack for it. */
Test(router_persist, ttl_event_on_a_persistent_key_is_owed_to_nobody)
{
    s_persist_joins();
    s_subscribe("persist-1", 4, "t", false);
    s_skip(persist, TG_CMD_SUBSCRIBED);
    s_deliver("ingest-a", s_event("t", 0));
    tg_envelope_t *store = s_expect(persist, TG_CMD_STORE);
    cr_expect_eq(store->sub_ids_count, 0);
    cr_expect_neq(store->expires_at, 0);
    tg_envelope_destroy(&store);
}

/* SUBSCRIBE {req, exact topic, since} from `from`; the reply is the
   caller's. */
static void s_subscribe_since(const char *from, uint64_t req, const char *topic, uint64_t since)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_SUBSCRIBE);
    env->req = req;
    env->topic = strdup(topic);
    env->match = TG_MATCH_EXACT;
    env->since = since;
    s_deliver(from, env);
}

/* A persistent SUBSCRIBE: RESUME {req, instance, sub_id, topic, match,
   client_id, persistent} to persist, no answer to the edge until persist's
   ACCEPTED {req, instance}; then SUBSCRIBED {req, sub_id, replay} and the
   edge is a holder (it gets the next event). */
Test(router_persist, persistent_subscribe_resumes_then_subscribes)
{
    s_persist_joins();
    s_subscribe("edge-a", 5, "t", true);
    tg_envelope_t *resume = s_expect(persist, TG_CMD_RESUME);
    cr_expect_eq(resume->req, 5);
    cr_expect_str_eq(resume->instance, "edge-a");
    cr_expect_str_eq(resume->topic, "t");
    cr_expect_str_eq(resume->client_id, "c-1");
    cr_expect(resume->persistent);
    s_nothing_for(edge, "edge-a");
    cr_expect_eq(s_stats().subscriptions, 2, "the edge holds the key from the RESUME on");
    s_answer(TG_CMD_ACCEPTED, 5, "edge-a");
    tg_envelope_t *subscribed = s_expect(edge, TG_CMD_SUBSCRIBED);
    cr_expect_eq(subscribed->req, 5);
    cr_expect_eq(subscribed->sub_id, resume->sub_id);
    cr_expect(subscribed->replay);
    s_deliver("ingest-a", s_event("t", 0));
    tg_envelope_t *event = s_expect(edge, TG_CMD_EVENT);
    cr_expect_eq(event->sub_ids[0], resume->sub_id);
    tg_envelope_destroy(&event);
    tg_envelope_destroy(&subscribed);
    tg_envelope_destroy(&resume);
}

/* The handover has no hole: the edge is a holder from the moment the
   RESUME is sent. A ttl event routed between the RESUME and persist's
   ACCEPTED is STOREd after the RESUME (persist reads the replay after it,
   so the replay may carry it too: the edge dedupes) and reaches the edge
   live at once, before SUBSCRIBED. */
Test(router_persist, since_subscriber_holds_the_key_from_the_resume_on)
{
    s_persist_joins();
    s_subscribe_since("edge-a", 5, "t", 40);
    tg_envelope_t *resume = s_expect(persist, TG_CMD_RESUME);
    cr_expect_eq(resume->since, 40);
    cr_expect_not(resume->persistent);
    cr_expect_eq(s_stats().subscriptions, 2, "persist's and the edge's");
    s_deliver("ingest-a", s_event("t", 0));
    s_skip(persist, TG_CMD_STORE); /* after the RESUME on persist's connection */
    tg_envelope_t *event = s_expect(edge, TG_CMD_EVENT);
    cr_expect_eq(event->sub_ids_count, 1);
    cr_expect_eq(event->sub_ids[0], resume->sub_id);
    s_answer(TG_CMD_ACCEPTED, 5, "edge-a");
    tg_envelope_t *subscribed = s_expect(edge, TG_CMD_SUBSCRIBED);
    cr_expect_eq(subscribed->sub_id, resume->sub_id);
    cr_expect(subscribed->replay);
    tg_envelope_destroy(&subscribed);
    tg_envelope_destroy(&event);
    tg_envelope_destroy(&resume);
}

/* The persistent case has the same window: a guaranteed event whose STORE
   persist commits before it answers the RESUME is routed to the edge on
   that commit (the edge holds the key), and SUBSCRIBED follows. */
Test(router_persist, persistent_subscriber_gets_events_committed_before_the_answer)
{
    s_persist_joins();
    s_subscribe("edge-a", 5, "g", true);
    tg_envelope_t *resume = s_expect(persist, TG_CMD_RESUME);
    s_deliver("ingest-a", s_event("g", 9));
    tg_envelope_t *store = s_expect(persist, TG_CMD_STORE);
    cr_expect_eq(store->sub_ids_count, 1, "persist's key only");
    s_answer(TG_CMD_ACCEPTED, store->req, NULL);
    tg_envelope_t *event = s_expect(edge, TG_CMD_EVENT);
    cr_expect_eq(event->sub_ids[0], resume->sub_id);
    s_skip(ingest, TG_CMD_ACCEPTED);
    s_answer(TG_CMD_ACCEPTED, 5, "edge-a");
    s_skip(edge, TG_CMD_SUBSCRIBED);
    tg_envelope_destroy(&event);
    tg_envelope_destroy(&store);
    tg_envelope_destroy(&resume);
}

/* persist's REJECTED gap: SUBSCRIBE_ERROR {req, gap, pub_id}. The holder
   added at the RESUME stays (the edge may share the key with other
   sessions): the edge's own UNSUBSCRIBE releases it. */
Test(router_persist, gap_answers_subscribe_error_with_pub_id)
{
    s_persist_joins();
    s_subscribe("edge-a", 5, "t", true);
    tg_envelope_t *resume = s_expect(persist, TG_CMD_RESUME);
    s_answer(TG_CMD_REJECTED, 5, "edge-a");
    tg_envelope_t *error = s_expect(edge, TG_CMD_SUBSCRIBE_ERROR);
    cr_expect_eq(error->req, 5);
    cr_expect_str_eq(error->error, "telegraphy.error.gap");
    cr_expect_eq(error->pub_id, 12);
    cr_expect_eq(s_stats().subscriptions, 2, "the edge still holds the key");
    tg_envelope_t *unsubscribe = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    unsubscribe->sub_id = resume->sub_id;
    s_deliver("edge-a", unsubscribe);
    cr_expect_eq(s_stats().subscriptions, 1, "only persist's");
    tg_envelope_destroy(&error);
    tg_envelope_destroy(&resume);
}

/* Without a persist a persistent SUBSCRIBE is refused unavailable. */
Test(router_persist, persistent_subscribe_without_persist_is_unavailable)
{
    s_subscribe("edge-a", 5, "t", true);
    tg_envelope_t *error = s_expect(edge, TG_CMD_SUBSCRIBE_ERROR);
    cr_expect_str_eq(error->error, "telegraphy.error.unavailable");
    tg_envelope_destroy(&error);
}

/* REPLAY and REPLAY_END reach the edge named by instance, byte for byte
   as persist sent them. */
Test(router_persist, replay_is_relayed_unchanged)
{
    s_persist_joins();
    tg_envelope_t *replay = tg_envelope_new(TG_CMD_REPLAY);
    replay->req = 5;
    replay->instance = strdup("edge-a");
    replay->sub_id = 42;
    tg_envelope_t *event = s_event("t", 0);
    replay->stored = tg_envelope_event_header(event, "public", false);
    replay->body = zframe_new("\x81\xa1\x62\x02", 4);
    tg_envelope_destroy(&event);
    zmsg_t *sent = tg_envelope_encode(replay);
    zmsg_t *kept = zmsg_dup(sent);
    zmsg_pushstr(sent, "persist-1");
    router_broker_handle_peer(broker, &sent, tg_now_at(now_ms, WALL_S));
    zmsg_t *got = s_recv_msg(edge);
    cr_assert_eq(zmsg_size(got), zmsg_size(kept));
    for (zframe_t *a = zmsg_first(got), *b = zmsg_first(kept); a;
         a = zmsg_next(got), b = zmsg_next(kept))
        cr_assert(zframe_eq(a, b));
    zmsg_destroy(&got);
    zmsg_destroy(&kept);
    tg_envelope_destroy(&replay);

    tg_envelope_t *end = tg_envelope_new(TG_CMD_REPLAY_END);
    end->req = 5;
    end->instance = strdup("edge-a");
    end->sub_id = 42;
    end->pub_id = 77;
    s_deliver("persist-1", end);
    tg_envelope_t *got_end = s_expect(edge, TG_CMD_REPLAY_END);
    cr_expect_eq(got_end->pub_id, 77);
    tg_envelope_destroy(&got_end);
}

/* MORE (instance set to the sender's), ACK and UNSUBSCRIBE with client_id
   go to persist; UNSUBSCRIBE with client_id leaves the holders alone. */
Test(router_persist, more_ack_and_persistent_unsubscribe_reach_persist)
{
    s_persist_joins();
    tg_envelope_t *more = tg_envelope_new(TG_CMD_MORE);
    more->req = 5;
    more->instance = strdup("someone-else");
    s_deliver("edge-a", more);
    tg_envelope_t *got = s_expect(persist, TG_CMD_MORE);
    cr_expect_str_eq(got->instance, "edge-a");
    tg_envelope_destroy(&got);

    tg_envelope_t *ack = tg_envelope_new(TG_CMD_ACK);
    ack->client_id = strdup("c-1");
    ack->sub_id = 42;
    ack->upto = 77;
    s_deliver("edge-a", ack);
    got = s_expect(persist, TG_CMD_ACK);
    cr_expect_eq(got->upto, 77);
    cr_expect_str_eq(got->client_id, "c-1");
    tg_envelope_destroy(&got);

    tg_envelope_t *unsub = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    unsub->sub_id = 42;
    unsub->client_id = strdup("c-1");
    s_deliver("edge-a", unsub);
    got = s_expect(persist, TG_CMD_UNSUBSCRIBE);
    cr_expect_eq(got->sub_id, 42);
    tg_envelope_destroy(&got);
}

/* A REGISTER from persist is adopted when the type is unknown (and sent
   to the other peers), ignored when known (ours wins). */
Test(router_persist, register_from_persist_adopts_unknown_types_only)
{
    s_persist_joins();
    tg_envelope_t *known = s_register("g", false, 0); /* ours: guaranteed */
    s_deliver("persist-1", known);
    s_nothing_for(edge, "edge-a");
    cr_expect_eq(s_stats().event_types, 3);
    s_deliver("persist-1", s_register("n", false, 0));
    tg_envelope_t *reg = s_expect(edge, TG_CMD_REGISTER);
    cr_expect_str_eq(reg->event_type->name, "n");
    cr_expect_eq(s_stats().event_types, 4);
    s_nothing_for(persist, "persist-1");
    tg_envelope_destroy(&reg);
}

/* What only persist may send (REPLAY, ACCEPTED) and a persist's
   SUBSCRIBE to a replay is bad input from an edge; MORE from persist too. */
Test(router_persist, persist_commands_from_an_edge_are_bad_input)
{
    s_persist_joins();
    s_answer(TG_CMD_ACCEPTED, 1, NULL); /* from persist: unknown req, ignored */
    tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
    accepted->req = 1;
    s_deliver("edge-a", accepted);
    tg_envelope_t *end = tg_envelope_new(TG_CMD_REPLAY_END);
    end->req = 5;
    end->instance = strdup("edge-a");
    end->sub_id = 42;
    s_deliver("edge-a", end);
    tg_envelope_t *more = tg_envelope_new(TG_CMD_MORE);
    more->req = 5;
    more->instance = strdup("edge-a");
    s_deliver("persist-1", more);
    s_nothing_for(edge, "edge-a");
    s_nothing_for(persist, "persist-1");
    cr_expect_eq(s_stats().bad_input, 3);
}

/* A second persist is refused while the first is heard; once the first
   is silent past expiry the newcomer takes its place, and what waited for
   the first is refused. */
Test(router_persist, one_persist_at_a_time)
{
    s_persist_joins();
    s_deliver("ingest-a", s_event("g", 9));
    s_skip(persist, TG_CMD_STORE);
    zsock_t *other = s_dealer("persist-2");
    s_hello("persist-2", "persist");
    cr_expect_eq(s_stats().bad_input, 1);
    now_ms += 4 * HEARTBEAT;
    s_hello("persist-2", "persist");
    s_skip(other, TG_CMD_WELCOME);
    tg_envelope_t *rejected = s_expect(ingest, TG_CMD_REJECTED);
    cr_expect_eq(rejected->req, 9);
    cr_expect(s_stats().persist);
    tg_envelope_destroy(&rejected);
    zsock_destroy(&other);
}
