/*  tg_socket: internal sockets created one way. */
#include <criterion/criterion.h>

#include "tg_socket.h"

/* The frame bound leaves room for a header around the largest body, and 0
   means no limit. */
Test(tg_socket, max_frame_is_twice_the_event_plus_header_room)
{
    cr_assert_eq(tg_socket_max_frame(65536), 65536 * 2 + 65536);
    cr_assert_eq(tg_socket_max_frame(0), 0);
}

/* A bind to port * reports the port it got; a bad endpoint is named in the
   error. */
Test(tg_socket, bind_resolves_the_port_and_names_a_bad_endpoint)
{
    char resolved[256], error[256] = "";
    tg_socket_options_t options = {.hwm = 10, .max_frame = 1024, .router_mandatory = true};
    zsock_t *sock = tg_socket_bind(ZMQ_ROUTER, "tcp://127.0.0.1:*", &options, resolved,
                                   sizeof resolved, error, sizeof error);
    cr_assert(sock, "%s", error);
    cr_assert_str_neq(resolved, "tcp://127.0.0.1:*");
    cr_assert_eq(zsock_maxmsgsize(sock), 1024);
    cr_assert_eq(zsock_sndhwm(sock), 10);
    cr_assert_eq(zsock_linger(sock), 0);
    zsock_destroy(&sock);
    sock = tg_socket_bind(ZMQ_ROUTER, "nonsense://x", &options, resolved, sizeof resolved, error,
                          sizeof error);
    cr_assert_null(sock);
    cr_assert(strstr(error, "nonsense://x"), "%s", error);
}

/* Neither a receive on an empty socket nor a send blocks the loop, and
   the routing id is the one asked for. */
Test(tg_socket, receive_never_blocks_and_routing_id_is_set)
{
    char error[256];
    tg_socket_options_t options = {.routing_id = "me-1", .immediate = true};
    zsock_t *dealer =
        tg_socket_connect(ZMQ_DEALER, "tcp://127.0.0.1:1", &options, error, sizeof error);
    cr_assert(dealer, "%s", error);
    cr_assert_eq(zsock_sndtimeo(dealer), 0);
    cr_assert_eq(zsock_rcvtimeo(dealer), 0);
    cr_assert_eq(zsock_immediate(dealer), 1);
    char *identity = zsock_identity(dealer);
    cr_assert_str_eq(identity, "me-1");
    free(identity);
    cr_assert_null(zstr_recv(dealer));
    zsock_destroy(&dealer);
}

/* A monitor asked for is attached before the bind: its first event is the
   "listening" of that very bind. */
Test(tg_socket, monitor_sees_the_first_listening)
{
    char resolved[256], error[256] = "";
    tg_monitor_t *monitor = NULL;
    tg_socket_options_t options = {
        .monitor = &monitor, .monitor_role = "router", .monitor_instance = "router-1"};
    zsock_t *sock = tg_socket_bind(ZMQ_ROUTER, "tcp://127.0.0.1:*", &options, resolved,
                                   sizeof resolved, error, sizeof error);
    cr_assert(sock && monitor, "%s", error);
    zpoller_t *poller = zpoller_new(tg_monitor_socket(monitor), NULL);
    cr_assert(zpoller_wait(poller, 5000), "no monitor event within 5 s");
    tg_envelope_t *env = tg_monitor_recv(monitor, 1700000000000000);
    cr_assert(env);
    cr_assert_str_eq(env->event_name, "listening");
    cr_assert_str_eq(env->role, "router");
    tg_envelope_destroy(&env);
    zpoller_destroy(&poller);
    tg_monitor_destroy(&monitor);
    zsock_destroy(&sock);
}
