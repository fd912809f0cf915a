/*  Single use of ws tokens at the router: the spent-jti set
    (router_tokens) on its own, with the clock passed in, and TOKEN_SPEND
    through router_broker, fed messages directly with a chosen time (both
    clocks, far from the machine's: a monotonic clock of a few milliseconds,
    as on a machine booted a moment ago), so the start-up window is tested
    without waiting for it and nothing depends on the machine's uptime. The
    broker answers through a real ROUTER socket to a DEALER playing the
    edge (inproc).
*/
#include <criterion/criterion.h>
#include <string.h>

#include "router_broker.h"
#include "router_tokens.h"
#include "tg_envelope.h"
#include "tg_log.h"

/* --- router_tokens ------------------------------------------------------ */

/* The first spend of a jti is accepted, the second refused as a replay. */
Test(router_tokens, a_jti_is_accepted_once_then_replayed)
{
    router_tokens_t *tokens = router_tokens_new(8);
    cr_assert_not_null(tokens);
    cr_assert_eq(router_tokens_spend(tokens, "jti-1", 1000, 900), ROUTER_TOKEN_ACCEPTED);
    cr_assert_eq(router_tokens_spend(tokens, "jti-1", 1000, 901), ROUTER_TOKEN_REPLAYED);
    cr_assert_eq(router_tokens_spend(tokens, "jti-2", 1000, 901), ROUTER_TOKEN_ACCEPTED);
    cr_assert_eq(router_tokens_size(tokens), 2);
    router_tokens_destroy(&tokens);
    router_tokens_destroy(&tokens);
}

/* A jti is kept up to and including its exp second, then purged: the
   purge removes exactly the expired ones. */
Test(router_tokens, purge_forgets_exactly_the_expired_jtis)
{
    router_tokens_t *tokens = router_tokens_new(8);
    router_tokens_spend(tokens, "late", 2000, 900);
    router_tokens_spend(tokens, "early", 1000, 900);
    router_tokens_spend(tokens, "middle", 1500, 900);
    cr_assert_eq(router_tokens_purge(tokens, 1000), 0, "exp == now is still alive");
    cr_assert_eq(router_tokens_purge(tokens, 1600), 2);
    cr_assert_eq(router_tokens_size(tokens), 1);
    cr_assert_eq(router_tokens_spend(tokens, "late", 2000, 1600), ROUTER_TOKEN_REPLAYED);
    cr_assert_eq(router_tokens_spend(tokens, "early", 3000, 1600), ROUTER_TOKEN_ACCEPTED);
    router_tokens_destroy(&tokens);
}

/* An expired jti the purge has not reached yet no longer counts as spent
   (the edges refuse its token as expired anyway). */
Test(router_tokens, expired_but_unpurged_jti_is_a_first_spend_again)
{
    router_tokens_t *tokens = router_tokens_new(8);
    router_tokens_spend(tokens, "j", 1000, 900);
    cr_assert_eq(router_tokens_spend(tokens, "j", 5000, 1001), ROUTER_TOKEN_ACCEPTED);
    cr_assert_eq(router_tokens_size(tokens), 1);
    cr_assert_eq(router_tokens_spend(tokens, "j", 5000, 1002), ROUTER_TOKEN_REPLAYED);
    router_tokens_destroy(&tokens);
}

/* At its bound the set refuses new jtis (fail closed) but still answers
   replays, and takes new ones again once some have expired. */
Test(router_tokens, full_set_refuses_new_jtis_until_some_expire)
{
    router_tokens_t *tokens = router_tokens_new(3);
    cr_assert_eq(router_tokens_spend(tokens, "a", 1000, 900), ROUTER_TOKEN_ACCEPTED);
    cr_assert_eq(router_tokens_spend(tokens, "b", 2000, 900), ROUTER_TOKEN_ACCEPTED);
    cr_assert_eq(router_tokens_spend(tokens, "c", 3000, 900), ROUTER_TOKEN_ACCEPTED);
    cr_assert_eq(router_tokens_spend(tokens, "d", 3000, 900), ROUTER_TOKEN_FULL);
    cr_assert_eq(router_tokens_spend(tokens, "a", 1000, 900), ROUTER_TOKEN_REPLAYED);
    cr_assert_eq(router_tokens_size(tokens), 3);
    /* "a" expired at 1001: its room goes to "d" without waiting for the tick. */
    cr_assert_eq(router_tokens_spend(tokens, "d", 3000, 1001), ROUTER_TOKEN_ACCEPTED);
    cr_assert_eq(router_tokens_spend(tokens, "e", 3000, 1001), ROUTER_TOKEN_FULL);
    router_tokens_destroy(&tokens);
}

/* The heap keeps its order over many inserts and purges: after purging
   at t, every jti with exp >= t is still there and no other. */
Test(router_tokens, purge_order_holds_over_many_entries)
{
    router_tokens_t *tokens = router_tokens_new(1000);
    char jti[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(jti, sizeof jti, "j%d", i);
        /* exps scattered over [0, 997) */
        cr_assert_eq(router_tokens_spend(tokens, jti, (i * 7919) % 997, -1), ROUTER_TOKEN_ACCEPTED);
    }
    size_t expected_left = 0;
    for (int i = 0; i < 1000; i++)
        if ((i * 7919) % 997 >= 500)
            expected_left++;
    cr_assert_eq(router_tokens_purge(tokens, 500), 1000 - expected_left);
    cr_assert_eq(router_tokens_size(tokens), expected_left);
    for (int i = 0; i < 1000; i++) {
        snprintf(jti, sizeof jti, "j%d", i);
        int64_t exp = (i * 7919) % 997;
        router_token_verdict_t verdict = router_tokens_spend(tokens, jti, 5000, 500);
        cr_assert_eq(verdict, exp >= 500 ? ROUTER_TOKEN_REPLAYED : ROUTER_TOKEN_ACCEPTED,
                     "jti %s exp %lld", jti, (long long)exp);
    }
    router_tokens_destroy(&tokens);
}

/* --- TOKEN_SPEND through the broker ------------------------------------- */

#define HEARTBEAT_MS 100
#define T0           7          /* the broker's start, on its monotonic clock: a fresh machine */
#define WALL_S       1900000000 /* the wall clock (s) throughout */
#define AFTER_WARMUP (T0 + 3 * HEARTBEAT_MS)

static zsock_t *router_sock;
static zsock_t *edge;
static router_broker_t *broker;

static void setup(void)
{
    tg_log_init("test_router_tokens", "error");
    router_sock = zsock_new(ZMQ_ROUTER);
    cr_assert_not_null(router_sock);
    zsock_set_linger(router_sock, 0);
    cr_assert_neq(zsock_bind(router_sock, "inproc://router-tokens"), -1);
    edge = zsock_new(ZMQ_DEALER);
    zsock_set_identity(edge, "edge-a");
    zsock_set_rcvtimeo(edge, 2000);
    zsock_set_linger(edge, 0);
    cr_assert_eq(zsock_connect(edge, "inproc://router-tokens"), 0);
    broker =
        router_broker_new(router_sock, "router-test", HEARTBEAT_MS, NULL, tg_now_at(T0, WALL_S));
    cr_assert_not_null(broker);
}

static void teardown(void)
{
    router_broker_destroy(&broker);
    zsock_destroy(&edge);
    zsock_destroy(&router_sock);
}

/* Hands env (destroyed) to the broker as if it came from routing id `from`. */
static void s_deliver(const char *from, tg_envelope_t *env, int64_t now_ms)
{
    zmsg_t *msg = tg_envelope_encode(env);
    tg_envelope_destroy(&env);
    zmsg_pushstr(msg, from);
    router_broker_handle_peer(broker, &msg, tg_now_at(now_ms, WALL_S));
    cr_assert_null(msg);
}

static tg_envelope_t *s_recv(void)
{
    zmsg_t *msg = zmsg_recv(edge);
    cr_assert_not_null(msg, "no message from the router");
    tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
    cr_assert_not_null(env);
    return env;
}

static void s_hello(int64_t now_ms)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = strdup("edge");
    hello->instance = strdup("edge-a");
    s_deliver("edge-a", hello, now_ms);
    tg_envelope_t *welcome = s_recv();
    cr_assert_eq(welcome->command, TG_CMD_WELCOME);
    tg_envelope_destroy(&welcome);
}

static void s_spend(uint64_t req, const char *jti, uint64_t exp, int64_t now_ms)
{
    tg_envelope_t *spend = tg_envelope_new(TG_CMD_TOKEN_SPEND);
    spend->req = req;
    spend->jti = strdup(jti);
    spend->exp = exp;
    s_deliver("edge-a", spend, now_ms);
}

/* The next reply: ACCEPTED{req} (error NULL) or REJECTED{req, error}. */
static void s_expect_verdict(uint64_t req, const char *error)
{
    tg_envelope_t *reply = s_recv();
    cr_assert_eq(reply->command, error ? TG_CMD_REJECTED : TG_CMD_ACCEPTED, "got %s",
                 tg_command_name(reply->command));
    cr_assert_eq(reply->req, req);
    if (error)
        cr_assert_str_eq(reply->error, error);
    tg_envelope_destroy(&reply);
}

/* Round trip: a HEARTBEAT's reply proves nothing else was sent before it. */
static void s_expect_nothing_more(int64_t now_ms)
{
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup("edge-a");
    s_deliver("edge-a", heartbeat, now_ms);
    tg_envelope_t *reply = s_recv();
    cr_assert_eq(reply->command, TG_CMD_HEARTBEAT, "unexpected %s",
                 tg_command_name(reply->command));
    tg_envelope_destroy(&reply);
}

static uint64_t s_later(void)
{
    return WALL_S + 60;
}

TestSuite(router_token_spend, .init = setup, .fini = teardown, .timeout = 20);

/* After the start-up window, the first spend is ACCEPTED and a second one
   of the same jti REJECTED token_replayed; the count shows in the stats. */
Test(router_token_spend, spend_is_accepted_once_then_refused_as_replayed)
{
    s_hello(AFTER_WARMUP);
    s_spend(1, "jti-once", s_later(), AFTER_WARMUP);
    s_expect_verdict(1, NULL);
    s_spend(2, "jti-once", s_later(), AFTER_WARMUP + 1);
    s_expect_verdict(2, "telegraphy.error.token_replayed");
    router_broker_stats_t stats;
    router_broker_stats(broker, &stats);
    cr_assert_eq(stats.spent_tokens, 1);
}

/* For three heartbeat intervals after its start the router refuses every
   spend with a req as unavailable (fail closed while edges resync), and
   records none of them; from then on it judges them. */
Test(router_token_spend, spends_fail_closed_during_the_start_window)
{
    s_hello(T0);
    s_spend(1, "jti-early", s_later(), T0);
    s_expect_verdict(1, "telegraphy.error.unavailable");
    s_spend(2, "jti-early", s_later(), AFTER_WARMUP - 1);
    s_expect_verdict(2, "telegraphy.error.unavailable");
    s_spend(3, "jti-early", s_later(), AFTER_WARMUP);
    s_expect_verdict(3, NULL);
}

/* Spends re-sent at resync (no req) are recorded even inside the start
   window, without a reply; a later spend of one of them is a replay. */
Test(router_token_spend, resync_spends_are_recorded_silently_and_block_replays)
{
    s_hello(T0 + 10);
    s_spend(0, "jti-before-restart", s_later(), T0 + 10);
    s_expect_nothing_more(T0 + 11);
    router_broker_stats_t stats;
    router_broker_stats(broker, &stats);
    cr_assert_eq(stats.spent_tokens, 1);
    s_spend(4, "jti-before-restart", s_later(), AFTER_WARMUP);
    s_expect_verdict(4, "telegraphy.error.token_replayed");
}

/* A jti whose exp has passed is purged on the tick (and counts as new). */
Test(router_token_spend, expired_jtis_are_purged_on_the_tick)
{
    s_hello(AFTER_WARMUP);
    uint64_t past = WALL_S - 5;
    s_spend(1, "jti-old", past, AFTER_WARMUP);
    s_expect_verdict(1, NULL);
    s_spend(2, "jti-new", s_later(), AFTER_WARMUP);
    s_expect_verdict(2, NULL);
    router_broker_tick(broker, tg_now_at(AFTER_WARMUP + HEARTBEAT_MS, WALL_S));
    router_broker_stats_t stats;
    router_broker_stats(broker, &stats);
    cr_assert_eq(stats.spent_tokens, 1, "only the live jti stays");
    s_hello(AFTER_WARMUP + HEARTBEAT_MS);
    s_spend(3, "jti-new", s_later(), AFTER_WARMUP + HEARTBEAT_MS);
    s_expect_verdict(3, "telegraphy.error.token_replayed");
}

/* A spend from an edge the router does not know (it restarted, or expired
   the edge) is refused at once, and the edge is told to say HELLO. */
Test(router_token_spend, spend_from_an_unknown_edge_is_refused_and_told_to_resync)
{
    s_spend(9, "jti-x", s_later(), AFTER_WARMUP);
    s_expect_verdict(9, "telegraphy.error.unavailable");
    tg_envelope_t *heartbeat = s_recv();
    cr_assert_eq(heartbeat->command, TG_CMD_HEARTBEAT);
    cr_assert_not(heartbeat->known);
    tg_envelope_destroy(&heartbeat);
}

/* Only edges spend tokens: an ingest's TOKEN_SPEND is bad input, unanswered. */
Test(router_token_spend, spend_from_an_ingest_is_bad_input)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = strdup("ingest");
    hello->instance = strdup("edge-a");
    s_deliver("edge-a", hello, AFTER_WARMUP);
    tg_envelope_t *welcome = s_recv();
    tg_envelope_destroy(&welcome);
    s_spend(5, "jti-y", s_later(), AFTER_WARMUP);
    s_expect_nothing_more(AFTER_WARMUP);
    router_broker_stats_t stats;
    router_broker_stats(broker, &stats);
    cr_assert_eq(stats.bad_input, 1);
    cr_assert_eq(stats.spent_tokens, 0);
}

/* The uptime a HEARTBEAT reply carries is measured on the clock the loop
   passes in (here 250 ms after a start 7 ms into the machine's life), never
   on the machine's own clock. */
Test(router_token_spend, heartbeat_uptime_is_measured_on_the_loops_clock)
{
    s_hello(T0);
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = strdup("edge-a");
    s_deliver("edge-a", heartbeat, T0 + 250);
    tg_envelope_t *reply = s_recv();
    cr_assert_eq(reply->command, TG_CMD_HEARTBEAT);
    cr_assert(reply->known);
    cr_assert_eq(reply->uptime_ms, 250);
    tg_envelope_destroy(&reply);
}
