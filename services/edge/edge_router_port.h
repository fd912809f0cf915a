/*  edge_router_port: the way the edge's WAMP side (edge_broker, edge_auth)
    reaches the router, without knowing it is a socket. The actor wires it
    to the router link (edge_link); the unit tests to a recorder. Its own
    header so that edge_broker and edge_auth both use it without including
    each other.
*/
#ifndef EDGE_ROUTER_PORT_H
#define EDGE_ROUTER_PORT_H

#include <stdbool.h>

#include "tg_envelope.h"

typedef struct {
    /* Sends an envelope (borrowed; its body may be moved out). Returns 0,
       or -1 when the message was dropped. */
    int (*send)(void *arg, tg_envelope_t *envelope);
    /* True once the router welcomed this edge (SUBSCRIBE may be sent). */
    bool (*ready)(void *arg);
    void *arg;
    /* This edge's instance id (the router's routing id for it; MORE
       carries it), borrowed. */
    const char *instance;
} edge_router_port_t;

#endif
