/*  router_socket: see router_socket.h. */
#include "router_socket.h"

#include <assert.h>

zsock_t *router_socket_new(int type, const char *endpoint, char *error, size_t error_size)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        snprintf(error, error_size, "router: socket failed endpoint=%s error=\"%s\"", endpoint,
                 zmq_strerror(zmq_errno()));
        return NULL;
    }
    zsock_set_linger(sock, 0);
    return sock;
}

zsock_t *router_socket_bind(zsock_t **sock_p, const char *endpoint, char *resolved,
                            size_t resolved_size, char *error, size_t error_size)
{
    assert(sock_p && *sock_p);
    zsock_t *sock = *sock_p;
    *sock_p = NULL;
    if (zsock_bind(sock, "%s", endpoint) == -1) {
        snprintf(error, error_size, "router: bind failed endpoint=%s error=\"%s\"", endpoint,
                 zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
        return NULL;
    }
    char *last = zsock_last_endpoint(sock);
    snprintf(resolved, resolved_size, "%s", last ? last : endpoint);
    free(last);
    return sock;
}
