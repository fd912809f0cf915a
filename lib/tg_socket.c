/*  tg_socket: see tg_socket.h. */
#include "tg_socket.h"

#include <limits.h>

int64_t tg_socket_max_frame(uint32_t max_event)
{
    return max_event ? (int64_t)max_event * 2 + 65536 : 0;
}

/* A new socket with the options every internal socket shares. */
static zsock_t *s_socket_new(int type, const char *endpoint, const tg_socket_options_t *options,
                             char *error, size_t error_size)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        snprintf(error, error_size, "cannot create a socket for %s: %s", endpoint,
                 zmq_strerror(zmq_errno()));
        return NULL;
    }
    zsock_set_linger(sock, 0);
    zsock_set_rcvtimeo(sock, 0);
    zsock_set_sndtimeo(sock, 0);
    if (options->hwm) {
        int hwm = options->hwm > INT_MAX ? INT_MAX : (int)options->hwm;
        zsock_set_sndhwm(sock, hwm);
        zsock_set_rcvhwm(sock, hwm);
    }
    if (options->max_frame > 0)
        zsock_set_maxmsgsize(sock,
                             options->max_frame > INT_MAX ? INT_MAX : (int)options->max_frame);
    if (type == ZMQ_ROUTER && options->router_mandatory)
        zsock_set_router_mandatory(sock, 1);
    if (type == ZMQ_ROUTER && options->router_handover)
        zsock_set_router_handover(sock, 1);
    if (options->routing_id)
        zsock_set_identity(sock, options->routing_id);
    if (options->immediate)
        zsock_set_immediate(sock, 1);
    if (options->monitor) {
        *options->monitor =
            tg_monitor_new(sock, options->monitor_role ? options->monitor_role : "",
                           options->monitor_instance ? options->monitor_instance : "");
        if (!*options->monitor) {
            snprintf(error, error_size, "cannot monitor the socket for %s", endpoint);
            zsock_destroy(&sock);
            return NULL;
        }
    }
    return sock;
}

/* Undoes s_socket_new after a failed bind or connect. */
static void s_socket_fail(zsock_t **sock_p, const tg_socket_options_t *options)
{
    if (options->monitor)
        tg_monitor_destroy(options->monitor);
    zsock_destroy(sock_p);
}

zsock_t *tg_socket_bind(int type, const char *endpoint, const tg_socket_options_t *options,
                        char *resolved, size_t resolved_size, char *error, size_t error_size)
{
    zsock_t *sock = s_socket_new(type, endpoint, options, error, error_size);
    if (!sock)
        return NULL;
    if (zsock_bind(sock, "%s", endpoint) == -1) {
        snprintf(error, error_size, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        s_socket_fail(&sock, options);
        return NULL;
    }
    char *last = zsock_last_endpoint(sock);
    snprintf(resolved, resolved_size, "%s", last ? last : endpoint);
    free(last);
    return sock;
}

zsock_t *tg_socket_connect(int type, const char *endpoint, const tg_socket_options_t *options,
                           char *error, size_t error_size)
{
    zsock_t *sock = s_socket_new(type, endpoint, options, error, error_size);
    if (!sock)
        return NULL;
    if (zsock_connect(sock, "%s", endpoint) == -1) {
        snprintf(error, error_size, "cannot connect to %s: %s", endpoint,
                 zmq_strerror(zmq_errno()));
        s_socket_fail(&sock, options);
        return NULL;
    }
    return sock;
}
