/*  Unit tests for tg_monitor: libzmq's two-frame monitor messages become
    MONITOR envelopes, bad ones are refused, and a real socket's events
    (accepted, disconnected) come out with the role, instance and endpoint.
*/
#include <criterion/criterion.h>
#include <string.h>

#include "tg_log.h"
#include "tg_monitor.h"

/* A monitor message as libzmq writes it: event (16 bits) and value (32
   bits) in host order, then the endpoint. */
static zmsg_t *s_monitor_msg(uint16_t event, uint32_t value, const char *endpoint)
{
    uint8_t head[6];
    memcpy(head, &event, 2);
    memcpy(head + 2, &value, 4);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, head, sizeof head);
    zmsg_addstr(msg, endpoint);
    return msg;
}

/* Waits (deadline 5 s) for the first event named `name`; caller owns it. */
static tg_envelope_t *s_wait_event(tg_monitor_t *monitor, const char *name)
{
    int64_t deadline = zclock_mono() + 5000;
    while (zclock_mono() < deadline) {
        tg_envelope_t *env = tg_monitor_recv(monitor, 1700000000000000);
        if (!env) {
            zsock_t *pair = tg_monitor_socket(monitor);
            zpoller_t *poller = zpoller_new(pair, NULL);
            zpoller_wait(poller, 50);
            zpoller_destroy(&poller);
            continue;
        }
        if (streq(env->event_name, name))
            return env;
        tg_envelope_destroy(&env);
    }
    return NULL;
}

/* The operator-facing names of libzmq's events are the documented ones. */
Test(tg_monitor, event_ids_have_their_documented_names)
{
    cr_expect_str_eq(tg_monitor_event_name(ZMQ_EVENT_CONNECTED), "connected");
    cr_expect_str_eq(tg_monitor_event_name(ZMQ_EVENT_DISCONNECTED), "disconnected");
    cr_expect_str_eq(tg_monitor_event_name(ZMQ_EVENT_ACCEPTED), "accepted");
    cr_expect_str_eq(tg_monitor_event_name(ZMQ_EVENT_LISTENING), "listening");
    cr_expect_str_eq(tg_monitor_event_name(ZMQ_EVENT_CLOSED), "closed");
    cr_expect_str_eq(tg_monitor_event_name(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL),
                     "handshake_failed");
    cr_expect_str_eq(tg_monitor_event_name(ZMQ_EVENT_HANDSHAKE_SUCCEEDED), "handshake_succeeded");
}

/* An id libzmq may add later is named "unknown", not dropped. */
Test(tg_monitor, unknown_event_id_is_named_unknown)
{
    cr_expect_str_eq(tg_monitor_event_name(0x8000), "unknown");
}

/* A well-formed monitor message becomes a MONITOR envelope stamped with the
   given role, instance and time. */
Test(tg_monitor, monitor_message_becomes_a_monitor_envelope)
{
    zmsg_t *msg = s_monitor_msg(ZMQ_EVENT_DISCONNECTED, 17, "tcp://127.0.0.1:5562");
    tg_envelope_t *env = tg_monitor_decode(&msg, "edge", "edge-1", 1234);
    cr_assert_not_null(env);
    cr_assert_null(msg);
    cr_expect_eq(env->command, TG_CMD_MONITOR);
    cr_expect_str_eq(env->role, "edge");
    cr_expect_str_eq(env->instance, "edge-1");
    cr_expect_str_eq(env->endpoint, "tcp://127.0.0.1:5562");
    cr_expect_str_eq(env->event_name, "disconnected");
    cr_expect_eq(env->value, 17);
    cr_expect_eq(env->ts, 1234);
    tg_envelope_destroy(&env);
}

/* Wrong frame counts, a short first frame and a NUL in the endpoint are
   refused, and the message is consumed either way. */
Test(tg_monitor, malformed_monitor_messages_are_refused)
{
    zmsg_t *one = zmsg_new();
    zmsg_addmem(one, "\x01\x00\x00\x00\x00\x00", 6);
    cr_expect_null(tg_monitor_decode(&one, "r", "i", 0));
    cr_expect_null(one);

    zmsg_t *short_head = zmsg_new();
    zmsg_addmem(short_head, "\x01\x00", 2);
    zmsg_addstr(short_head, "tcp://x:1");
    cr_expect_null(tg_monitor_decode(&short_head, "r", "i", 0));
    cr_expect_null(short_head);

    zmsg_t *nul = s_monitor_msg(ZMQ_EVENT_CONNECTED, 0, "x");
    zframe_t *last = zmsg_last(nul);
    zmsg_remove(nul, last);
    zframe_destroy(&last);
    zmsg_addmem(nul, "a\0b", 3);
    cr_expect_null(tg_monitor_decode(&nul, "r", "i", 0));
    cr_expect_null(nul);
}

/* With no event pending, recv returns NULL at once (it is called from
   event loops that must not block). */
Test(tg_monitor, recv_without_events_returns_null_at_once)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    tg_monitor_t *monitor = tg_monitor_new(sock, "ingest", "ingest-1");
    cr_assert_not_null(monitor);
    int64_t before = zclock_mono();
    tg_envelope_t *env = tg_monitor_recv(monitor, 1700000000000000);
    cr_expect_null(env);
    cr_expect_lt(zclock_mono() - before, 500);
    tg_monitor_destroy(&monitor);
    tg_monitor_destroy(&monitor);
    zsock_destroy(&sock);
}

/* A bound socket's monitor sees a peer's connection accepted, then its
   disconnection, with the bound endpoint, our role and instance. */
Test(tg_monitor, real_socket_reports_accept_and_disconnect)
{
    tg_log_init("test_tg_monitor", "error");
    zsock_t *server = zsock_new(ZMQ_ROUTER);
    cr_assert_not_null(server);
    zsock_set_linger(server, 0);
    tg_monitor_t *monitor = tg_monitor_new(server, "router", "router-1");
    cr_assert_not_null(monitor);
    int port = zsock_bind(server, "tcp://127.0.0.1:*");
    cr_assert_gt(port, 0);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);

    zsock_t *client = zsock_new(ZMQ_DEALER);
    zsock_set_linger(client, 0);
    cr_assert_eq(zsock_connect(client, "%s", endpoint), 0);
    tg_envelope_t *accepted = s_wait_event(monitor, "accepted");
    cr_assert_not_null(accepted, "no accepted event within 5 s");
    cr_expect_str_eq(accepted->role, "router");
    cr_expect_str_eq(accepted->instance, "router-1");
    cr_expect_str_eq(accepted->endpoint, endpoint);
    cr_expect_gt(accepted->ts, 0);
    tg_envelope_destroy(&accepted);

    zsock_destroy(&client);
    tg_envelope_t *gone = s_wait_event(monitor, "disconnected");
    cr_assert_not_null(gone, "no disconnected event within 5 s");
    cr_expect_str_eq(gone->endpoint, endpoint);
    tg_envelope_destroy(&gone);
    cr_expect_eq(tg_monitor_bad(monitor), 0);

    tg_monitor_destroy(&monitor);
    zsock_destroy(&server);
}
