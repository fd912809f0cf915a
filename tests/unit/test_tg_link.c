/*  tg_link: the router conversation, driven without sockets (the send
    function records what the link sends) and with explicit time. Every
    property is checked from several starting clocks: 0 and a few ms (a
    machine just booted), a day, three years, and a huge value, so nothing
    depends on the machine's clock or treats 0 as "unset". */
#include <criterion/criterion.h>
#include <string.h>

#include "tg_link.h"

#define S_HEARTBEAT_MS 1000
#define S_WALL_S       4102444800 /* 2100-01-01T00:00:00Z */
#define S_SENT_MAX     16

static const int64_t s_starts[] = {0, 7, 86400000, 94608000000, INT64_MAX / 4};
#define S_STARTS (sizeof s_starts / sizeof s_starts[0])

/* The owner: what the link sent, asked and delivered. */
typedef struct {
    tg_envelope_t *sent[S_SENT_MAX]; /* decoded copies, oldest first */
    size_t sent_count;
    int send_rc;      /* what send answers: 0, or -1 to drop */
    size_t resyncs;   /* ops.resync calls */
    size_t delivered; /* ops.deliver calls */
    tg_command_t delivered_command;
    int64_t delivered_at; /* now.mono_ms of the last delivery */
    size_t stats_asked;   /* ops.add_stats calls */
} s_owner_t;

static s_owner_t s_owner;
static tg_link_t *s_link;

static int s_send(void *arg, tg_envelope_t *envelope)
{
    s_owner_t *owner = arg;
    cr_assert_lt(owner->sent_count, S_SENT_MAX);
    zmsg_t *msg = tg_envelope_encode(envelope);
    tg_envelope_t *copy = tg_envelope_decode(&msg, NULL);
    cr_assert_not_null(copy, "the link sent something that does not decode");
    owner->sent[owner->sent_count++] = copy;
    return owner->send_rc;
}

static void s_deliver(void *arg, tg_envelope_t *envelope, tg_now_t now)
{
    s_owner_t *owner = arg;
    owner->delivered++;
    owner->delivered_command = envelope->command;
    owner->delivered_at = now.mono_ms;
}

static void s_resync(void *arg, tg_now_t now)
{
    (void)now;
    s_owner_t *owner = arg;
    owner->resyncs++;
}

static void s_add_stats(void *arg, tg_envelope_t *heartbeat, tg_now_t now)
{
    (void)now;
    s_owner_t *owner = arg;
    owner->stats_asked++;
    tg_envelope_add_stat(heartbeat, "answer", 42);
}

static void s_forget_sent(void)
{
    for (size_t i = 0; i < s_owner.sent_count; i++)
        tg_envelope_destroy(&s_owner.sent[i]);
    s_owner.sent_count = 0;
}

static void s_teardown(void)
{
    tg_link_destroy(&s_link);
    s_forget_sent();
}

//  A new link created at mono_ms (the previous one destroyed), started:
//  its first HELLO is checked and forgotten.
static void s_start(int64_t mono_ms)
{
    s_teardown();
    memset(&s_owner, 0, sizeof s_owner);
    tg_config_t cfg;
    cr_assert_eq(tg_config_load(&cfg, 0, 0, NULL, "test", NULL, NULL), 0);
    cfg.heartbeat_ms = S_HEARTBEAT_MS;
    tg_link_ops_t ops = {s_deliver, s_resync, s_add_stats, &s_owner};
    s_link =
        tg_link_new(&cfg, "edge", "edge-1", s_send, &s_owner, &ops, tg_now_at(mono_ms, S_WALL_S));
    tg_link_start(s_link);
    cr_assert_eq(s_owner.sent_count, 1);
    cr_assert_eq(s_owner.sent[0]->command, TG_CMD_HELLO);
    cr_expect_str_eq(s_owner.sent[0]->role, "edge");
    cr_expect_str_eq(s_owner.sent[0]->instance, "edge-1");
    s_forget_sent();
}

TestSuite(tg_link, .fini = s_teardown, .timeout = 20);

static tg_now_t s_at(int64_t mono_ms)
{
    return tg_now_at(mono_ms, S_WALL_S);
}

//  Hands env (taken) to the link as read from the router at mono_ms.
static void s_receive(tg_envelope_t *env, int64_t mono_ms)
{
    zmsg_t *msg = tg_envelope_encode(env);
    tg_envelope_destroy(&env);
    tg_link_on_message(s_link, &msg, s_at(mono_ms));
    cr_assert_null(msg);
}

static void s_welcome(const char *router, int64_t mono_ms)
{
    tg_envelope_t *welcome = tg_envelope_new(TG_CMD_WELCOME);
    welcome->instance = strdup(router);
    s_receive(welcome, mono_ms);
}

//  The router's reply to a HEARTBEAT.
static void s_heartbeat_reply(const char *router, bool known, int64_t mono_ms)
{
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_HEARTBEAT);
    reply->instance = strdup(router);
    reply->known = known;
    s_receive(reply, mono_ms);
}

//  The one envelope the link sent since the last check.
static const tg_envelope_t *s_only_sent(void)
{
    cr_assert_eq(s_owner.sent_count, 1, "the link sent %zu envelopes, not one", s_owner.sent_count);
    return s_owner.sent[0];
}

/* Until the router welcomes it, the link is not ready and each heartbeat
   says HELLO again (never HEARTBEAT: the router does not know us). */
Test(tg_link, hello_is_repeated_until_welcome)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        cr_expect_not(tg_link_ready(s_link));
        cr_expect_not(tg_link_connected(s_link, t));
        tg_link_heartbeat(s_link, s_at(t + S_HEARTBEAT_MS));
        cr_expect_eq(s_only_sent()->command, TG_CMD_HELLO);
        cr_expect_eq(s_owner.stats_asked, 0u);
        cr_expect_eq(s_owner.resyncs, 0u);
    }
}

/* WELCOME makes the link ready and connected, names the router, and asks
   the owner to resync once (the first WELCOME too); nothing is sent. */
Test(tg_link, welcome_makes_the_link_ready_and_resyncs_once)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        s_welcome("router-a", t + 5);
        cr_expect(tg_link_ready(s_link));
        cr_expect(tg_link_connected(s_link, t + 5));
        cr_expect_str_eq(tg_link_router(s_link), "router-a");
        cr_expect_eq(s_owner.resyncs, 1u);
        cr_expect_eq(tg_link_welcomes(s_link), 1u);
        cr_expect_eq(s_owner.sent_count, 0u);
    }
}

/* Once welcomed, a heartbeat is a HEARTBEAT with our instance, the uptime
   counted from the link's creation and the owner's stats. */
Test(tg_link, heartbeat_carries_instance_uptime_and_stats)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        s_welcome("router-a", t + 5);
        tg_link_heartbeat(s_link, s_at(t + 1500));
        const tg_envelope_t *heartbeat = s_only_sent();
        cr_assert_eq(heartbeat->command, TG_CMD_HEARTBEAT);
        cr_expect_str_eq(heartbeat->instance, "edge-1");
        cr_expect_eq(heartbeat->uptime_ms, 1500u);
        cr_assert_eq(heartbeat->stats_count, 1u);
        cr_expect_str_eq(heartbeat->stats[0].name, "answer");
        cr_expect_eq(heartbeat->stats[0].value, 42);
        cr_expect_eq(s_owner.stats_asked, 1u);
    }
}

/* The same router answering known=true changes nothing: no HELLO, still
   ready, no resync. */
Test(tg_link, known_reply_from_the_same_router_changes_nothing)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        s_welcome("router-a", t);
        s_heartbeat_reply("router-a", true, t + 1000);
        cr_expect_eq(s_owner.sent_count, 0u);
        cr_expect(tg_link_ready(s_link));
        cr_expect_eq(s_owner.resyncs, 1u);
    }
}

/* A new router instance: the link is no longer ready and says HELLO at
   once; the new router's WELCOME brings exactly one resync, and its later
   known replies none. */
Test(tg_link, new_router_instance_brings_hello_then_one_resync)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        s_welcome("router-a", t);
        s_heartbeat_reply("router-b", true, t + 1000);
        cr_expect_not(tg_link_ready(s_link));
        cr_expect_eq(s_only_sent()->command, TG_CMD_HELLO);
        cr_expect_eq(s_owner.resyncs, 1u, "resync before the new router's WELCOME");
        s_forget_sent();
        s_welcome("router-b", t + 1001);
        s_heartbeat_reply("router-b", true, t + 2000);
        s_heartbeat_reply("router-b", true, t + 3000);
        cr_expect(tg_link_ready(s_link));
        cr_expect_str_eq(tg_link_router(s_link), "router-b");
        cr_expect_eq(s_owner.resyncs, 2u);
        cr_expect_eq(s_owner.sent_count, 0u);
    }
}

/* known=false (the router forgot us, though the same instance): HELLO
   again, not ready until the next WELCOME, which resyncs. */
Test(tg_link, known_false_brings_hello_again)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        s_welcome("router-a", t);
        s_heartbeat_reply("router-a", false, t + 1000);
        cr_expect_not(tg_link_ready(s_link));
        const tg_envelope_t *hello = s_only_sent();
        cr_expect_eq(hello->command, TG_CMD_HELLO);
        cr_expect_str_eq(hello->role, "edge");
        s_forget_sent();
        //  Until it answers, a heartbeat says HELLO, not HEARTBEAT.
        tg_link_heartbeat(s_link, s_at(t + 2000));
        cr_expect_eq(s_only_sent()->command, TG_CMD_HELLO);
        s_forget_sent();
        s_welcome("router-a", t + 2001);
        cr_expect(tg_link_ready(s_link));
        cr_expect_eq(s_owner.resyncs, 2u);
    }
}

/* A HEARTBEAT reply that arrives before we were welcomed (an answer to a
   heartbeat from before our HELLO) is ignored: no second HELLO. */
Test(tg_link, heartbeat_reply_before_welcome_is_ignored)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        s_heartbeat_reply("router-a", false, t + 1);
        cr_expect_eq(s_owner.sent_count, 0u);
        cr_expect_not(tg_link_ready(s_link));
        cr_expect(tg_link_connected(s_link, t + 1), "the router was heard");
    }
}

/* A router silent for three heartbeat intervals is presumed gone: at
   exactly three the link still sends HEARTBEAT, one ms later it is not
   connected, not ready, and says HELLO; hearing it again reconnects. */
Test(tg_link, silence_for_three_heartbeats_brings_hello)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        int64_t silent = (int64_t)TG_LINK_SILENT_HEARTBEATS * S_HEARTBEAT_MS;
        s_start(t);
        s_welcome("router-a", t);
        tg_link_heartbeat(s_link, s_at(t + silent));
        cr_expect_eq(s_only_sent()->command, TG_CMD_HEARTBEAT);
        cr_expect(tg_link_connected(s_link, t + silent));
        s_forget_sent();
        cr_expect_not(tg_link_connected(s_link, t + silent + 1));
        tg_link_heartbeat(s_link, s_at(t + silent + 1));
        cr_expect_eq(s_only_sent()->command, TG_CMD_HELLO);
        cr_expect_not(tg_link_ready(s_link));
        s_forget_sent();
        s_welcome("router-a", t + silent + 2);
        cr_expect(tg_link_ready(s_link));
        cr_expect(tg_link_connected(s_link, t + silent + 2));
        cr_expect_eq(s_owner.resyncs, 2u);
    }
}

/* Other router messages go to the owner with the turn's time; the link
   neither answers nor counts them. */
Test(tg_link, other_messages_are_delivered_to_the_owner)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        s_welcome("router-a", t);
        tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
        accepted->req = 9;
        s_receive(accepted, t + 3);
        cr_expect_eq(s_owner.delivered, 1u);
        cr_expect_eq(s_owner.delivered_command, TG_CMD_ACCEPTED);
        cr_expect_eq(s_owner.delivered_at, t + 3);
        cr_expect_eq(s_owner.sent_count, 0u);
        cr_expect_eq(tg_link_bad_input(s_link), 0u);
    }
}

/* Garbage from the router is counted and dropped: not delivered, not
   "heard" (it does not keep a silent router connected), and the link goes
   on: the next WELCOME works. */
Test(tg_link, garbage_is_counted_and_the_link_goes_on)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        zmsg_t *garbage = zmsg_new();
        zmsg_addstr(garbage, "WELCOME");
        zmsg_addstr(garbage, "\xc1\xc1 not msgpack");
        tg_link_on_message(s_link, &garbage, s_at(t + 1));
        cr_assert_null(garbage);
        garbage = zmsg_new();
        zmsg_addstr(garbage, "NONSENSE");
        tg_link_on_message(s_link, &garbage, s_at(t + 2));
        cr_expect_eq(tg_link_bad_input(s_link), 2u);
        cr_expect_eq(s_owner.delivered, 0u);
        cr_expect_eq(s_owner.sent_count, 0u);
        cr_expect_not(tg_link_ready(s_link));
        cr_expect_not(tg_link_connected(s_link, t + 2));
        s_welcome("router-a", t + 3);
        cr_expect(tg_link_ready(s_link));
        cr_expect_eq(s_owner.resyncs, 1u);
    }
}

/* A send the owner drops (router unreachable) changes nothing in the
   state: the next heartbeat says HELLO again. */
Test(tg_link, dropped_hello_is_said_again_at_the_next_heartbeat)
{
    for (size_t i = 0; i < S_STARTS; i++) {
        int64_t t = s_starts[i];
        s_start(t);
        s_owner.send_rc = -1;
        tg_link_heartbeat(s_link, s_at(t + 1000));
        s_owner.send_rc = 0;
        tg_link_heartbeat(s_link, s_at(t + 2000));
        cr_assert_eq(s_owner.sent_count, 2u);
        cr_expect_eq(s_owner.sent[0]->command, TG_CMD_HELLO);
        cr_expect_eq(s_owner.sent[1]->command, TG_CMD_HELLO);
        cr_expect_not(tg_link_ready(s_link));
    }
}
