/*  router_socket: creating and binding the router's sockets (the ROUTER
    sockets of router_server and the tap's PUB), with the error message
    written the same way for all of them.
*/
#ifndef ROUTER_SOCKET_H
#define ROUTER_SOCKET_H

#include <czmq.h>

/* A new socket of `type` with linger 0. Caller owns the result; NULL with
   a message naming endpoint in `error` on failure. */
zsock_t *router_socket_new(int type, const char *endpoint, char *error, size_t error_size);

/* Binds *sock_p on endpoint and writes the resolved endpoint to `resolved`.
   Takes ownership of *sock_p: returns it (the caller owns it again), or
   destroys it and returns NULL with a message in `error`. */
zsock_t *router_socket_bind(zsock_t **sock_p, const char *endpoint, char *resolved,
                            size_t resolved_size, char *error, size_t error_size);

#endif
