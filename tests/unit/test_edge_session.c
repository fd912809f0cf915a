/*  The session record (edge_session): audience rules, to_users, the
    slow-consumer kill and ABORT-then-close. */
#include <criterion/criterion.h>
#include <string.h>

#include "edge_session.h"

static int s_wakes, s_closes, s_kills, s_code;

static void s_wake(void *handle)
{
    (void)handle;
    s_wakes++;
}

static void s_close(void *handle, int code, const char *reason)
{
    (void)handle;
    (void)reason;
    s_closes++;
    s_code = code;
}

static void s_kill(void *handle, int code, const char *reason)
{
    (void)handle;
    (void)reason;
    s_kills++;
    s_code = code;
}

static const edge_transport_t s_transport = {s_wake, s_close, s_kill};
static edge_metrics_t metrics;
static edge_pressure_t pressure;
static int s_clears;
static edge_session_t *session;

static void s_on_clear(void *arg)
{
    (void)arg;
    s_clears++;
}

static void setup(void)
{
    s_wakes = s_closes = s_kills = s_code = s_clears = 0;
    edge_metrics_init(&metrics);
    edge_pressure_init(&pressure);
    edge_pressure_listen(&pressure, s_on_clear, NULL);
    session = edge_session_new(TG_WAMP_JSON, 2, &s_transport, NULL, &metrics, &pressure);
    cr_assert_not_null(session);
}

static void teardown(void)
{
    edge_session_destroy(&session);
    edge_session_destroy(&session);
    cr_assert_eq(metrics.queue_depth, 0);
}

TestSuite(edge_session, .init = setup, .fini = teardown);

static edge_frame_t *s_frame(void)
{
    tg_buf_t buf;
    tg_buf_init(&buf, edge_frame_headroom());
    tg_buf_append(&buf, "[36]", 4);
    edge_frame_t *frame = edge_frame_new(&buf, false, true);
    tg_buf_release(&buf);
    return frame;
}

/* A new session is anonymous and sees only public events. */
Test(edge_session, anonymous_sees_only_public)
{
    cr_assert(edge_session_may_see(session, "public"));
    cr_assert_not(edge_session_may_see(session, "authenticated"));
    cr_assert_not(edge_session_may_see(session, "staff"));
    cr_assert_not(edge_session_may_see(session, "group:ops"));
    cr_assert_not(edge_session_may_see(session, NULL));
}

/* An identified session sees authenticated events and those of its
   groups; staff also for superusers; unknown audiences never. */
Test(edge_session, identified_session_sees_its_audiences)
{
    edge_session_set_identity(session, 5, false, "42", "user");
    edge_session_add_group(session, "ops");
    cr_assert(edge_session_may_see(session, "authenticated"));
    cr_assert(edge_session_may_see(session, "group:ops"));
    cr_assert_not(edge_session_may_see(session, "group:sales"));
    cr_assert_not(edge_session_may_see(session, "group:"));
    cr_assert_not(edge_session_may_see(session, "staff"));
    cr_assert_not(edge_session_may_see(session, "everyone"));
    edge_session_add_group(session, "superuser");
    cr_assert(edge_session_may_see(session, "staff"));
}

/* to_users matches the authid of identified sessions only. */
Test(edge_session, to_users_matches_only_identified_authids)
{
    char *users[] = {"anonymous-1", "42"};
    edge_session_set_identity(session, 1, true, "anonymous-1", "anonymous");
    cr_assert_not(edge_session_is_listed(session, users, 2));
    edge_session_set_identity(session, 1, false, "42", "user");
    cr_assert(edge_session_is_listed(session, users, 2));
    cr_assert_not(edge_session_is_listed(session, users, 1));
}

/* The first frame wakes the connection; the next ones don't need to. */
Test(edge_session, push_wakes_the_connection_when_the_queue_was_empty)
{
    edge_frame_t *frame = s_frame();
    cr_assert_eq(edge_session_push(session, frame), 0);
    cr_assert_eq(edge_session_push(session, frame), 0);
    cr_assert_eq(s_wakes, 1);
    cr_assert_eq(metrics.queue_depth, 2);
    edge_frame_t *popped = edge_session_pop(session);
    edge_frame_unref(&popped);
    cr_assert_eq(metrics.queue_depth, 1);
    edge_frame_unref(&frame);
}

/* Overflow kills the session once, as a slow consumer; later pushes fail
   without another kill. */
Test(edge_session, overflow_kills_once_as_slow_consumer)
{
    edge_frame_t *frame = s_frame();
    edge_session_push(session, frame);
    edge_session_push(session, frame);
    cr_assert_eq(edge_session_push(session, frame), -1);
    cr_assert_eq(edge_session_push(session, frame), -1);
    cr_assert_eq(s_kills, 1);
    cr_assert_eq(s_code, EDGE_CLOSE_POLICY);
    cr_assert_str_eq(session->close_reason, "slow consumer");
    cr_assert(session->killed);
    cr_assert_eq(metrics.slow_consumer_closes, 1);
    edge_frame_unref(&frame);
}

/* ABORT is queued, then the transport is asked to close after flushing. */
Test(edge_session, abort_queues_abort_then_closes)
{
    edge_session_abort(session, "wamp.error.protocol_violation", "bad", EDGE_CLOSE_PROTOCOL_ERROR);
    cr_assert_eq(edge_queue_size(session->queue), 1);
    cr_assert_eq(s_closes, 1);
    cr_assert_eq(s_code, EDGE_CLOSE_PROTOCOL_ERROR);
    cr_assert_str_eq(session->close_reason, "bad");
    edge_session_abort(session, "wamp.error.protocol_violation", "again", 1000);
    cr_assert_eq(s_closes, 1);
    cr_assert_eq(edge_queue_size(session->queue), 1);
}

/* Close reasons are cut to what a close frame carries. */
Test(edge_session, close_reason_is_truncated_to_a_control_frame)
{
    char long_reason[300];
    memset(long_reason, 'r', sizeof(long_reason) - 1);
    long_reason[sizeof(long_reason) - 1] = '\0';
    edge_session_close(session, 1000, long_reason);
    cr_assert_eq(strlen(session->close_reason), EDGE_CLOSE_REASON_MAX);
}

/* The push that brings the queue to half full is one high-water crossing
   (the router link ends its pass); later pushes are not. */
Test(edge_session, the_push_to_half_full_is_one_crossing)
{
    edge_session_t *big =
        edge_session_new(TG_WAMP_JSON, 8, &s_transport, NULL, &metrics, &pressure);
    edge_frame_t *frame = s_frame();
    for (int i = 0; i < 3; i++)
        edge_session_push(big, frame);
    cr_assert_eq(pressure.crossings, 0);
    edge_session_push(big, frame);
    cr_assert_eq(pressure.crossings, 1);
    cr_assert_eq(pressure.waiting, 1);
    for (int i = 0; i < 4; i++)
        edge_session_push(big, frame);
    cr_assert_eq(pressure.crossings, 1);
    edge_frame_unref(&frame);
    edge_session_destroy(&big);
}

/* Popping (the WRITEABLE path) below a quarter of the queue releases the
   router link: the release comes with the pop that leaves the queue
   under low water, not before. */
Test(edge_session, popping_below_a_quarter_releases_the_router_link)
{
    edge_session_t *big =
        edge_session_new(TG_WAMP_JSON, 8, &s_transport, NULL, &metrics, &pressure);
    edge_frame_t *frame = s_frame();
    for (int i = 0; i < 6; i++)
        edge_session_push(big, frame);
    for (int size = 5; size >= 2; size--) {
        edge_frame_t *popped = edge_session_pop(big);
        edge_frame_unref(&popped);
        cr_assert_eq(s_clears, 0, "released at %d frames (low water is 2)", size);
    }
    edge_frame_t *popped = edge_session_pop(big);
    edge_frame_unref(&popped);
    cr_assert_eq(s_clears, 1);
    cr_assert_eq(pressure.waiting, 0);
    edge_frame_unref(&frame);
    edge_session_destroy(&big);
}

/* A session closed while the link waits for it (e.g. killed as a slow
   consumer) releases the link when it is destroyed. */
Test(edge_session, destroying_a_waiting_session_releases_the_router_link)
{
    edge_session_t *big =
        edge_session_new(TG_WAMP_JSON, 8, &s_transport, NULL, &metrics, &pressure);
    edge_frame_t *frame = s_frame();
    for (int i = 0; i < 9; i++)
        edge_session_push(big, frame);
    cr_assert(big->killed);
    cr_assert_eq(s_clears, 0);
    edge_session_destroy(&big);
    cr_assert_eq(s_clears, 1);
    edge_frame_unref(&frame);
}
