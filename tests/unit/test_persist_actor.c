/*  persist_actor: the persist service run in-process against a fake router
    (a ROUTER socket owned by the test, on tcp://127.0.0.1 with a random
    free port) and the real PostgreSQL named by TELEGRAPHY_TEST_DATABASE_URL,
    a database of its own per test (test_persist_harness.h). What reaches
    the database is checked with SQL from a second connection. */
#include "test_persist_harness.h"

#include <msgpack.h>

#include "persist_actor.h"
#include "persist_replay.h"
#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"

#define S_WAIT_MS  5000 /* deadline for anything the test waits for */
#define S_QUIET_MS 300  /* how long "nothing more arrives" is watched */

static th_db_t s_db;
static PGconn *s_check; /* the test's own connection */
static tg_config_t s_cfg;
static zsock_t *s_router; /* the fake router */
static tg_actor_t *s_actor;
static uint64_t s_req = 1000;
static uint64_t s_pub_id = 1000000; /* publication ids of the test's events */
static char s_router_instance[64];  /* the instance of the last WELCOME the test sent */

/* --- the fake router ------------------------------------------------------ */

static bool s_background(tg_command_t command)
{
    return command == TG_CMD_HEARTBEAT || command == TG_CMD_HELLO || command == TG_CMD_MONITOR;
}

//  The next envelope persist sent the router, skipping HEARTBEAT, HELLO
//  and MONITOR, within `timeout_ms`; NULL at the deadline.
static tg_envelope_t *s_recv_within(int64_t timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (zclock_mono() < deadline) {
        zmsg_t *msg = zmsg_recv(s_router);
        if (!msg)
            continue;
        zframe_t *id = zmsg_pop(msg);
        zframe_destroy(&id);
        const char *reason = NULL;
        tg_envelope_t *env = tg_envelope_decode(&msg, &reason);
        cr_assert_not_null(env, "persist sent something undecodable: %s", reason);
        if (!s_background(env->command))
            return env;
        //  Answered as a live router does, so that a slow test (a loaded
        //  machine) never looks like a silent router to persist's link.
        if (env->command == TG_CMD_HEARTBEAT && s_router_instance[0]) {
            tg_envelope_t *reply = tg_envelope_new(TG_CMD_HEARTBEAT);
            reply->instance = strdup(s_router_instance);
            reply->known = true;
            zmsg_t *out = tg_envelope_encode(reply);
            tg_envelope_destroy(&reply);
            zmsg_pushstr(out, tg_actor_get(s_actor, "instance"));
            zmsg_send(&out, s_router);
        }
        tg_envelope_destroy(&env);
    }
    return NULL;
}

//  The next one, which must be `wanted`.
static tg_envelope_t *s_expect(tg_command_t wanted)
{
    tg_envelope_t *env = s_recv_within(S_WAIT_MS);
    cr_assert_not_null(env, "no %s from persist", tg_command_name(wanted));
    cr_assert_eq(env->command, wanted, "expected %s, got %s", tg_command_name(wanted),
                 tg_command_name(env->command));
    return env;
}

//  The next `wanted`, skipping anything else (re-sync chatter).
static tg_envelope_t *s_expect_skipping(tg_command_t wanted)
{
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (zclock_mono() < deadline) {
        tg_envelope_t *env = s_recv_within(deadline - zclock_mono());
        if (env && env->command == wanted)
            return env;
        tg_envelope_destroy(&env);
    }
    cr_assert_fail("no %s from persist", tg_command_name(wanted));
    return NULL;
}

//  Sends a message from the fake router to persist. Takes ownership of env.
static void s_send(tg_envelope_t *env)
{
    zframe_t *id = zframe_from(tg_actor_get(s_actor, "instance"));
    cr_assert_eq(tg_envelope_send_to(env, s_router, id), 0);
    zframe_destroy(&id);
    tg_envelope_destroy(&env);
}

//  Sends raw frames to persist (garbage tests). Takes ownership of *msg_p.
static void s_send_raw(zmsg_t **msg_p)
{
    zmsg_pushstr(*msg_p, tg_actor_get(s_actor, "instance"));
    cr_assert_eq(zmsg_send(msg_p, s_router), 0);
}

static void s_welcome(const char *router_instance)
{
    snprintf(s_router_instance, sizeof s_router_instance, "%s", router_instance);
    tg_envelope_t *welcome = tg_envelope_new(TG_CMD_WELCOME);
    welcome->instance = strdup(router_instance);
    s_send(welcome);
}

static persist_broker_stats_t s_stats(void)
{
    persist_broker_stats_t stats;
    cr_assert_eq(persist_actor_stats(s_actor, &stats), 0);
    return stats;
}

static persist_db_state_t s_db_state(int *backend_pid)
{
    persist_db_state_t state;
    int pid = 0;
    cr_assert_eq(persist_actor_db(s_actor, &state, &pid), 0);
    if (backend_pid)
        *backend_pid = pid;
    return state;
}

//  Waits (bounded) until the database connection is READY.
static void s_wait_ready(void)
{
    int64_t deadline = zclock_mono() + TH_DEADLINE_MS;
    while (s_db_state(NULL) != PERSIST_DB_READY) {
        cr_assert_lt(zclock_mono(), deadline, "the database never became ready");
        zclock_sleep(10);
    }
}

/* --- set-up --------------------------------------------------------------- */

//  Starts persist against the fake router and this test's database, plays
//  the router's WELCOME, and waits for the database.
static void s_start(uint32_t backlog_max)
{
    th_db_create(&s_db);
    s_check = th_connect(s_db.conninfo);
    cr_assert_eq(tg_config_load(&s_cfg, 0, 0, NULL, "test", NULL, NULL), 0);
    s_router = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(s_router, "tcp://127.0.0.1:!");
    cr_assert_gt(port, 0);
    zsock_set_rcvtimeo(s_router, 50);
    snprintf(s_cfg.router, sizeof s_cfg.router, "tcp://127.0.0.1:%d", port);
    cr_assert_lt(strlen(s_db.conninfo), sizeof s_cfg.database_url);
    memcpy(s_cfg.database_url, s_db.conninfo, strlen(s_db.conninfo) + 1);
    s_cfg.heartbeat_ms = 100;
    if (backlog_max)
        s_cfg.backlog_max = backlog_max;
    char error[512];
    s_actor = tg_actor_start(&persist_actor_class, &s_cfg, error, sizeof error);
    cr_assert_not_null(s_actor, "persist did not start: %s", error);
    s_wait_ready();
    //  Its HELLO, then our WELCOME: the link is up.
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    for (;;) {
        cr_assert_lt(zclock_mono(), deadline, "no HELLO from persist");
        zmsg_t *msg = zmsg_recv(s_router);
        if (!msg)
            continue;
        zframe_t *id = zmsg_pop(msg);
        zframe_destroy(&id);
        tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
        bool hello = env && env->command == TG_CMD_HELLO;
        if (hello) {
            cr_assert_str_eq(env->role, "persist");
            cr_assert_str_eq(env->instance, tg_actor_get(s_actor, "instance"));
        }
        tg_envelope_destroy(&env);
        if (hello)
            break;
    }
    s_welcome("router-a");
}

static void s_setup(void)
{
    s_start(0);
}

static void s_teardown(void)
{
    tg_actor_destroy(&s_actor);
    zsock_destroy(&s_router);
    if (s_check)
        PQfinish(s_check);
    s_check = NULL;
    th_db_drop(&s_db);
}

TestSuite(persist_actor, .fini = s_teardown, .timeout = 60);

/* --- events ------------------------------------------------------------- */

//  A small msgpack body {"n": n}.
static zframe_t *s_body(int64_t n)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "n", 1);
    msgpack_pack_int64(&pk, n);
    zframe_t *frame = zframe_new(buffer.data, buffer.size);
    msgpack_sbuffer_destroy(&buffer);
    return frame;
}

static int64_t s_wall_us(void)
{
    return tg_clock_read().wall_us;
}

//  A STORE of a new event of `topic` (req 0: nobody waits), matched by the
//  persist-held `sub_id` (0: none), retained for `ttl_s` (0: no ttl).
//  Returns its pub_id.
static uint64_t s_store(const char *topic, uint64_t sub_id, int64_t ttl_s, uint64_t req)
{
    uint64_t pub_id = ++s_pub_id;
    tg_envelope_t *event = tg_envelope_new(TG_CMD_EVENT);
    event->pub_id = pub_id;
    event->ts = (uint64_t)s_wall_us();
    event->topic = strdup(topic);
    tg_envelope_t *store = tg_envelope_new(TG_CMD_STORE);
    store->req = req;
    store->stored = tg_envelope_event_header(event, "public", sub_id != 0);
    store->body = s_body((int64_t)pub_id);
    store->expires_at = ttl_s ? event->ts + (uint64_t)ttl_s * 1000000 : 0;
    if (sub_id) {
        store->sub_ids = malloc(sizeof(uint64_t));
        store->sub_ids[0] = sub_id;
        store->sub_ids_count = 1;
    }
    tg_envelope_destroy(&event);
    s_send(store);
    return pub_id;
}

//  Stores and waits for ACCEPTED.
static uint64_t s_store_accepted(const char *topic, uint64_t sub_id, int64_t ttl_s)
{
    uint64_t req = ++s_req;
    uint64_t pub_id = s_store(topic, sub_id, ttl_s, req);
    tg_envelope_t *reply = s_expect_skipping(TG_CMD_ACCEPTED);
    cr_assert_eq(reply->req, req);
    tg_envelope_destroy(&reply);
    return pub_id;
}

//  A RESUME from edge "edge-1": persistent for `client_id` when set, else
//  a `_since` replay of the topic.
static uint64_t s_resume(const char *client_id, uint64_t sub_id, const char *topic, uint64_t since)
{
    tg_envelope_t *resume = tg_envelope_new(TG_CMD_RESUME);
    resume->req = ++s_req;
    resume->instance = strdup("edge-1");
    resume->sub_id = sub_id;
    resume->topic = strdup(topic);
    resume->match = TG_MATCH_EXACT;
    if (client_id) {
        resume->client_id = strdup(client_id);
        resume->persistent = true;
    }
    resume->since = since;
    uint64_t req = resume->req;
    s_send(resume);
    return req;
}

static void s_more(uint64_t req)
{
    tg_envelope_t *more = tg_envelope_new(TG_CMD_MORE);
    more->req = req;
    more->instance = strdup("edge-1");
    s_send(more);
}

//  Expects ACCEPTED {req, instance edge-1} (skipping our key SUBSCRIBE).
static void s_expect_resume_accepted(uint64_t req)
{
    tg_envelope_t *reply = s_expect_skipping(TG_CMD_ACCEPTED);
    cr_assert_eq(reply->req, req);
    cr_assert_str_eq(reply->instance, "edge-1");
    tg_envelope_destroy(&reply);
}

//  Reads `count` REPLAYs of req, in order; returns the last pub_id.
static uint64_t s_expect_replays(uint64_t req, size_t count, uint64_t after)
{
    uint64_t last = after;
    for (size_t i = 0; i < count; i++) {
        tg_envelope_t *replay = s_expect(TG_CMD_REPLAY);
        cr_assert_eq(replay->req, req);
        cr_assert_str_eq(replay->instance, "edge-1");
        cr_assert_gt(replay->pub_id, last, "REPLAY %zu out of order", i);
        last = replay->pub_id;
        tg_envelope_destroy(&replay);
    }
    return last;
}

static void s_expect_end(uint64_t req, uint64_t last)
{
    tg_envelope_t *end = s_expect(TG_CMD_REPLAY_END);
    cr_assert_eq(end->req, req);
    cr_assert_eq(end->pub_id, last);
    tg_envelope_destroy(&end);
}

//  A persistent subscription for client_id on sub_id, with nothing owed.
static void s_subscribe_persistent(const char *client_id, uint64_t sub_id, const char *topic)
{
    uint64_t req = s_resume(client_id, sub_id, topic, 0);
    s_expect_resume_accepted(req);
    s_expect_end(req, 0);
}

static long long s_sql_count(const char *format, ...)
{
    char sql[512];
    va_list args;
    va_start(args, format);
    vsnprintf(sql, sizeof sql, format, args);
    va_end(args);
    return th_sql_int(s_check, sql);
}

/* --- tests ---------------------------------------------------------------- */

//  STORE with a req is answered ACCEPTED only once the row is committed:
//  another session sees it as soon as the answer arrives.
Test(persist_actor, store_is_accepted_after_the_row_is_committed, .init = s_setup)
{
    uint64_t pub_id = s_store_accepted("shop.news", 0, 60);
    cr_expect_eq(s_sql_count("SELECT count(*) FROM telegraphy_events WHERE pub_id = %llu",
                             (unsigned long long)pub_id),
                 1);
    cr_expect_eq(s_stats().stored, 1);
}

//  A first persistent RESUME holds the key at the router (SUBSCRIBE before
//  the ACCEPTED) and, with nothing owed, ends the replay at once.
Test(persist_actor, new_persistent_key_is_subscribed_before_accepted, .init = s_setup)
{
    uint64_t req = s_resume("client-1", 42, "shop.order", 0);
    tg_envelope_t *subscribe = s_expect(TG_CMD_SUBSCRIBE);
    cr_expect_str_eq(subscribe->topic, "shop.order");
    cr_expect_eq(subscribe->match, TG_MATCH_EXACT);
    tg_envelope_destroy(&subscribe);
    tg_envelope_t *accepted = s_expect(TG_CMD_ACCEPTED);
    cr_expect_eq(accepted->req, req);
    tg_envelope_destroy(&accepted);
    s_expect_end(req, 0);
    cr_expect_eq(s_sql_count("SELECT count(*) FROM telegraphy_subscriptions WHERE client_id = "
                             "'client-1' AND sub_id = 42"),
                 1);
}

//  A backlog comes back as ACCEPTED, a first page of PERSIST_REPLAY_PAGE
//  REPLAYs, nothing more until MORE, then the rest and REPLAY_END naming
//  the last, all in pub_id order.
Test(persist_actor, backlog_is_replayed_in_pages_under_credit, .init = s_setup)
{
    s_subscribe_persistent("client-1", 42, "shop.order");
    size_t total = PERSIST_REPLAY_PAGE + 44;
    for (size_t i = 0; i < total; i++)
        s_store("shop.order", 42, 0, 0);
    s_store_accepted("shop.order", 42, 0); //  the last one, answered: all are committed
    total++;
    uint64_t req = s_resume("client-1", 42, "shop.order", 0);
    s_expect_resume_accepted(req);
    uint64_t last = s_expect_replays(req, PERSIST_REPLAY_PAGE, 0);
    tg_envelope_t *early = s_recv_within(S_QUIET_MS);
    cr_assert_null(early, "%s sent before MORE", early ? tg_command_name(early->command) : "");
    s_more(req);
    last = s_expect_replays(req, total - PERSIST_REPLAY_PAGE, last);
    cr_expect_eq(last, s_pub_id);
    s_expect_end(req, last);
}

//  A persistent subscription whose backlog overflowed is a gap: REJECTED
//  gap naming the oldest id still held.
Test(persist_actor, overflowed_backlog_is_a_gap_with_oldest)
{
    s_start(5);
    s_subscribe_persistent("client-1", 42, "shop.order");
    uint64_t first = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t id = s_store_accepted("shop.order", 42, 0);
        if (i == 3)
            first = id; //  the oldest of the 5 kept
    }
    uint64_t req = s_resume("client-1", 42, "shop.order", 0);
    tg_envelope_t *reply = s_expect(TG_CMD_REJECTED);
    cr_expect_eq(reply->req, req);
    cr_expect_str_eq(reply->error, "telegraphy.error.gap");
    cr_expect_str_eq(reply->instance, "edge-1");
    cr_expect_eq(reply->pub_id, first);
    tg_envelope_destroy(&reply);
    cr_expect_eq(s_stats().store_failed, 0);
}

//  `_since` below the first retained id of the topic is a gap (events
//  before the store began cannot be served); from just before it the
//  retained events come back, then REPLAY_END.
Test(persist_actor, since_replays_retained_events_or_reports_the_gap, .init = s_setup)
{
    uint64_t a = s_store_accepted("shop.news", 0, 60);
    uint64_t b = s_store_accepted("shop.news", 0, 60);
    uint64_t req = s_resume(NULL, 77, "shop.news", 10);
    tg_envelope_t *reply = s_expect(TG_CMD_REJECTED);
    cr_expect_str_eq(reply->error, "telegraphy.error.gap");
    cr_expect_eq(reply->pub_id, a);
    tg_envelope_destroy(&reply);
    req = s_resume(NULL, 77, "shop.news", a - 1);
    s_expect_resume_accepted(req);
    cr_expect_eq(s_expect_replays(req, 2, a - 1), b);
    s_expect_end(req, b);
}

//  ACK removes the client's delivery rows; ids it was never owed are
//  ignored and counted.
Test(persist_actor, ack_removes_rows_and_counts_unknown_ids, .init = s_setup)
{
    s_subscribe_persistent("client-1", 42, "shop.order");
    uint64_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = s_store_accepted("shop.order", 42, 0);
    tg_envelope_t *ack = tg_envelope_new(TG_CMD_ACK);
    ack->client_id = strdup("client-1");
    ack->sub_id = 42;
    ack->pub_ids = malloc(3 * sizeof(uint64_t));
    ack->pub_ids[0] = ids[0];
    ack->pub_ids[1] = ids[1];
    ack->pub_ids[2] = 5; //  never owed
    ack->pub_ids_count = 3;
    s_send(ack);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (s_stats().acks < 1)
        cr_assert_lt(zclock_mono(), deadline, "the ACK was never handled");
    cr_expect_eq(s_sql_count("SELECT count(*) FROM telegraphy_deliveries"), 1);
    persist_broker_stats_t stats = s_stats();
    cr_expect_eq(stats.acks_removed, 2);
    cr_expect_eq(stats.acks_ignored, 1);
}

//  What the router told persist survives it: a new router instance that
//  welcomes persist is sent every stored type, every unexpired spent jti
//  and every persistent key.
Test(persist_actor, new_router_is_sent_types_tokens_and_keys, .init = s_setup)
{
    tg_envelope_t *reg = tg_envelope_new(TG_CMD_REGISTER);
    reg->event_type = tg_event_type_new("shop.order");
    reg->event_type->guaranteed = true;
    s_send(reg);
    tg_envelope_t *spend = tg_envelope_new(TG_CMD_TOKEN_SPEND);
    spend->jti = strdup("jti-1");
    spend->exp = (uint64_t)(s_wall_us() / 1000000 + 600);
    s_send(spend);
    s_subscribe_persistent("client-1", 42, "shop.order");
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (s_stats().registers < 1 || s_stats().tokens < 1)
        cr_assert_lt(zclock_mono(), deadline, "REGISTER / TOKEN_SPEND never stored");

    s_welcome("router-b");
    tg_envelope_t *type = s_expect(TG_CMD_REGISTER);
    cr_expect_str_eq(type->event_type->name, "shop.order");
    cr_expect(type->event_type->guaranteed);
    cr_expect_eq(type->req, 0);
    tg_envelope_destroy(&type);
    tg_envelope_t *token = s_expect(TG_CMD_TOKEN_SPEND);
    cr_expect_str_eq(token->jti, "jti-1");
    cr_expect_eq(token->req, 0);
    tg_envelope_destroy(&token);
    tg_envelope_t *key = s_expect(TG_CMD_SUBSCRIBE);
    cr_expect_str_eq(key->topic, "shop.order");
    tg_envelope_destroy(&key);
}

//  A router HEARTBEAT naming another instance (a restart persist had not
//  seen) makes persist say HELLO again.
Test(persist_actor, new_router_instance_in_heartbeat_brings_hello, .init = s_setup)
{
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup("router-z");
    heartbeat->known = true;
    s_send(heartbeat);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    bool hello = false;
    while (!hello && zclock_mono() < deadline) {
        zmsg_t *msg = zmsg_recv(s_router);
        if (!msg)
            continue;
        zframe_t *id = zmsg_pop(msg);
        zframe_destroy(&id);
        tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
        hello = env && env->command == TG_CMD_HELLO;
        tg_envelope_destroy(&env);
    }
    cr_expect(hello, "no HELLO after a new router instance");
}

//  Garbage on persist's socket (random frames, an unknown command, wrong
//  types, a command persist does not take) is counted and dropped; a STORE
//  after it is stored and answered as usual.
Test(persist_actor, garbage_is_counted_and_everything_else_still_works, .init = s_setup)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "\xc1\xff\x00garbage", 10);
    s_send_raw(&msg);
    msg = zmsg_new();
    zmsg_addstr(msg, "LAUNCH");
    zmsg_addmem(msg, "\x81\xa1v\x01", 4);
    s_send_raw(&msg);
    msg = zmsg_new();
    zmsg_addstr(msg, "STORE");
    zmsg_addmem(msg,
                "\x82\xa1v\x01\xaa"
                "expires_at\xa3yes",
                17); //  a string where a number goes
    s_send_raw(&msg);
    tg_envelope_t *subscribed = tg_envelope_new(TG_CMD_STATUS); //  not for persist
    subscribed->req = 5;
    s_send(subscribed);
    uint8_t random[64];
    for (size_t i = 0; i < sizeof random; i++)
        random[i] = (uint8_t)(i * 151 + 7);
    msg = zmsg_new();
    zmsg_addstr(msg, "RESUME");
    zmsg_addmem(msg, random, sizeof random);
    zmsg_addmem(msg, random, 3);
    s_send_raw(&msg);

    uint64_t pub_id = s_store_accepted("shop.news", 0, 60);
    cr_expect_eq(s_sql_count("SELECT count(*) FROM telegraphy_events WHERE pub_id = %llu",
                             (unsigned long long)pub_id),
                 1);
    cr_expect_eq(s_stats().bad_input, 5);
}

//  While the database is unreachable STOREs are answered REJECTED
//  unavailable at once (never ACCEPTED); once it is back persist reconnects
//  by itself and stores again.
Test(persist_actor, database_down_rejects_then_recovers, .init = s_setup)
{
    //  From another database: a session cannot lock out its own.
    PGconn *admin = th_connect(th_base_url());
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", s_db.name);
    th_sql(admin, sql);
    int backend_pid = 0;
    s_db_state(&backend_pid);
    cr_assert_gt(backend_pid, 0);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", backend_pid);
    th_sql(admin, sql);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (s_db_state(NULL) == PERSIST_DB_READY)
        cr_assert_lt(zclock_mono(), deadline, "persist never noticed the lost connection");

    uint64_t req = ++s_req;
    uint64_t pub_id = s_store("shop.news", 0, 60, req);
    tg_envelope_t *reply = s_expect_skipping(TG_CMD_REJECTED);
    cr_expect_eq(reply->req, req);
    cr_expect_str_eq(reply->error, "telegraphy.error.unavailable");
    tg_envelope_destroy(&reply);
    uint64_t resume = s_resume("client-1", 42, "shop.order", 0);
    reply = s_expect_skipping(TG_CMD_REJECTED);
    cr_expect_eq(reply->req, resume);
    cr_expect_str_eq(reply->error, "telegraphy.error.unavailable");
    tg_envelope_destroy(&reply);

    snprintf(sql, sizeof sql, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", s_db.name);
    th_sql(admin, sql);
    PQfinish(admin);
    s_wait_ready();
    uint64_t later = s_store_accepted("shop.news", 0, 60);
    cr_expect_eq(s_sql_count("SELECT count(*) FROM telegraphy_events WHERE pub_id IN (%llu, %llu)",
                             (unsigned long long)pub_id, (unsigned long long)later),
                 1);
}

//  The router's key is released only with its last persistent client: the
//  first client's UNSUBSCRIBE deletes its row and nothing else, the second
//  one's also sends the router UNSUBSCRIBE {sub_id}.
Test(persist_actor, key_is_released_with_its_last_client, .init = s_setup)
{
    s_subscribe_persistent("client-1", 42, "shop.order");
    s_subscribe_persistent("client-2", 42, "shop.order");
    tg_envelope_t *unsubscribe = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    unsubscribe->sub_id = 42;
    unsubscribe->client_id = strdup("client-1");
    s_send(unsubscribe);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (s_stats().unsubscribes < 1)
        cr_assert_lt(zclock_mono(), deadline, "the UNSUBSCRIBE was never handled");
    tg_envelope_t *early = s_recv_within(S_QUIET_MS);
    cr_assert_null(early, "%s sent while client-2 still holds the key",
                   early ? tg_command_name(early->command) : "");
    unsubscribe = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    unsubscribe->sub_id = 42;
    unsubscribe->client_id = strdup("client-2");
    s_send(unsubscribe);
    tg_envelope_t *released = s_expect(TG_CMD_UNSUBSCRIBE);
    cr_expect_eq(released->sub_id, 42);
    cr_expect_null(released->client_id);
    tg_envelope_destroy(&released);
    cr_expect_eq(s_sql_count("SELECT count(*) FROM telegraphy_subscriptions"), 0);
}

//  A router that falls silent for three heartbeat intervals is presumed
//  gone: persist says HELLO again (and re-syncs on the next WELCOME).
Test(persist_actor, silent_router_brings_hello, .init = s_setup)
{
    //  Everything persist sends is read and left unanswered: first a
    //  HEARTBEAT (it is welcomed), then, with nothing heard, a HELLO.
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    bool heartbeat = false, hello = false;
    while (!hello && zclock_mono() < deadline) {
        zmsg_t *msg = zmsg_recv(s_router);
        if (!msg)
            continue;
        zframe_t *id = zmsg_pop(msg);
        zframe_destroy(&id);
        tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
        if (env && env->command == TG_CMD_HEARTBEAT)
            heartbeat = true;
        hello = heartbeat && env && env->command == TG_CMD_HELLO;
        tg_envelope_destroy(&env);
    }
    cr_expect(heartbeat, "persist never sent a HEARTBEAT after the WELCOME");
    cr_expect(hello, "no HELLO from persist after the router went silent");
}

//  The value of stat `name` in a HEARTBEAT, or -1 when absent.
static int64_t s_stat(const tg_envelope_t *heartbeat, const char *name)
{
    for (size_t i = 0; i < heartbeat->stats_count; i++)
        if (streq(heartbeat->stats[i].name, name))
            return heartbeat->stats[i].value;
    return -1;
}

//  HEARTBEAT stats carry what is stored (read every few seconds): the
//  persistent subscriptions, the delivery rows held and the oldest one.
Test(persist_actor, heartbeat_reports_stored_totals, .init = s_setup)
{
    s_subscribe_persistent("client-1", 42, "shop.order");
    uint64_t first = s_store_accepted("shop.order", 42, 0);
    s_store_accepted("shop.order", 42, 0);
    int64_t deadline = zclock_mono() + PERSIST_TOTALS_INTERVAL_MS + S_WAIT_MS;
    bool seen = false;
    while (!seen && zclock_mono() < deadline) {
        zmsg_t *msg = zmsg_recv(s_router);
        if (!msg)
            continue;
        zframe_t *id = zmsg_pop(msg);
        zframe_destroy(&id);
        tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
        if (env && env->command == TG_CMD_HEARTBEAT) { //  answered, as a live router does
            tg_envelope_t *reply = tg_envelope_new(TG_CMD_HEARTBEAT);
            reply->instance = strdup("router-a");
            reply->known = true;
            s_send(reply);
        }
        seen = env && env->command == TG_CMD_HEARTBEAT && s_stat(env, "backlog_total") == 2 &&
               s_stat(env, "persistent_subscriptions") == 1 &&
               s_stat(env, "oldest_unacked") == (int64_t)first && s_stat(env, "db_ready") == 1 &&
               s_stat(env, "stored") == 2;
        tg_envelope_destroy(&env);
    }
    cr_expect(seen,
              "no HEARTBEAT with backlog_total 2, persistent_subscriptions 1, oldest_unacked");
}
