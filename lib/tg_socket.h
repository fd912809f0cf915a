/*  tg_socket: creating the gateway's internal ZeroMQ sockets, one way.

    Every internal socket: linger 0 (a stop never waits for a gone peer),
    non-blocking send and receive (timeouts 0: the loop never blocks, a
    full or unknown peer makes the send fail and the caller counts a
    drop), the high-water mark and the largest frame from configuration.
*/
#ifndef TG_SOCKET_H
#define TG_SOCKET_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_monitor.h"

typedef struct {
    uint32_t hwm;           /* send and receive high-water mark; 0 = libzmq's default */
    int64_t max_frame;      /* ZMQ_MAXMSGSIZE; 0 = no limit */
    bool router_mandatory;  /* ROUTER: a send to an unknown peer fails (EHOSTUNREACH) */
    bool router_handover;   /* ROUTER: a peer reconnecting under its id replaces the old link */
    const char *routing_id; /* DEALER: our routing id at the peer (the instance id); NULL = none */
    bool immediate;         /* ZMQ_IMMEDIATE: queue only to completed connections, so nothing stale
                               piles up while the peer is down (a link re-sends its state on WELCOME) */
    /* When set, a socket monitor (tg_monitor) is attached before the bind or
       connect, so its first events ("listening", "connected") are seen; the
       caller owns *monitor afterwards (NULL when the call failed). */
    tg_monitor_t **monitor;
    const char *monitor_role;     /* with monitor: "router", "ingest", ... */
    const char *monitor_instance; /* with monitor: the process's instance id */
} tg_socket_options_t;

/* The largest frame an internal socket accepts from a peer carrying
   events of at most max_event bytes: twice the body plus room for the
   header, so that an oversized body still reaches the validator and gets
   a clear "too large" answer, while a hostile frame only drops that
   peer's connection inside libzmq, never our memory. 0 = no limit. */
int64_t tg_socket_max_frame(uint32_t max_event);

/* A socket of `type` bound on endpoint. The endpoint actually bound (the
   port resolved for "tcp://...:*") is written to resolved. Returns the
   socket (caller owns it), or NULL with a sentence naming the endpoint
   and the reason in error. */
zsock_t *tg_socket_bind(int type, const char *endpoint, const tg_socket_options_t *options,
                        char *resolved, size_t resolved_size, char *error, size_t error_size);

/* A socket of `type` connecting to endpoint (the connection itself is
   made in the background). Caller owns the result; NULL with error set
   when the endpoint is invalid. */
zsock_t *tg_socket_connect(int type, const char *endpoint, const tg_socket_options_t *options,
                           char *error, size_t error_size);

#endif
