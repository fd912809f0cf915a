/*  tg_monitor: ZeroMQ socket events (zmq_socket_monitor) as MONITOR envelopes.

    One tg_monitor_t watches one socket: it asks libzmq to publish that
    socket's events on a private inproc endpoint and connects a PAIR socket
    to it. The owner polls tg_monitor_socket() (or just calls
    tg_monitor_recv() from a timer: the events are rare) and gets one MONITOR
    envelope {role, instance, endpoint, event, value, ts} per event, which the
    router publishes on its PUB socket and the other processes send to the
    router over their DEALER. Used by router, ingest and edge alike.

    libzmq's monitor message is two frames: 6 bytes (a 16-bit event id and a
    32-bit value, host byte order), then the endpoint as text. Noisy events
    that carry no news for an operator (CONNECT_DELAYED and CONNECT_RETRIED,
    which repeat every reconnect interval while a peer is down) are not
    requested.
*/
#ifndef TG_MONITOR_H
#define TG_MONITOR_H

#include <czmq.h>
#include <stdint.h>

#include "tg_envelope.h"

typedef struct _tg_monitor_t tg_monitor_t;

/* Events the monitor's pipe holds. libzmq SENDS MONITOR EVENTS BLOCKING
   from its I/O thread: an owner that stops reading would, once the pipe is
   full, stall every socket of the process. So owners drain the monitor
   promptly (or destroy it), and the pipe is generous. */
#define TG_MONITOR_HWM 100000

/* The events a monitor asks libzmq for. */
#define TG_MONITOR_EVENTS                                                                          \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_LISTENING | ZMQ_EVENT_BIND_FAILED | ZMQ_EVENT_ACCEPTED |      \
     ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_CLOSED | ZMQ_EVENT_CLOSE_FAILED |                         \
     ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                               \
     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |                         \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

/* Attaches a monitor to `sock` (borrowed). `role` and `instance` are copied
   into every envelope. Call it before the socket binds or connects to see
   those events too. Caller owns the result; NULL on failure (logged).
   Destroy the monitor BEFORE the socket: destroy stops libzmq's monitor of
   that socket. */
tg_monitor_t *tg_monitor_new(zsock_t *sock, const char *role, const char *instance);

/* Closes the monitor's PAIR socket; safe on NULL and twice. */
void tg_monitor_destroy(tg_monitor_t **self_p);

/* The PAIR socket to poll for input (borrowed). */
zsock_t *tg_monitor_socket(tg_monitor_t *self);

/* Reads one pending event without blocking, stamped `now_wall_us` (the
   loop turn's wall clock: the event happened since the last turn). Caller
   owns the result: a MONITOR envelope, or NULL when nothing is pending. A
   malformed monitor message is counted in tg_monitor_bad() and skipped. */
tg_envelope_t *tg_monitor_recv(tg_monitor_t *self, int64_t now_wall_us);

/* Messages from libzmq that were not a monitor event (should stay 0). */
uint64_t tg_monitor_bad(const tg_monitor_t *self);

/* Turns one monitor message into a MONITOR envelope stamped with `role`,
   `instance` and `ts` (µs). Takes ownership of *msg_p whatever the outcome.
   Caller owns the result; NULL when the message is not a monitor event. */
tg_envelope_t *tg_monitor_decode(zmsg_t **msg_p, const char *role, const char *instance,
                                 uint64_t ts);

/* "connected", "disconnected", "accepted", ... for a ZMQ_EVENT_* id;
   "unknown" for any other. */
const char *tg_monitor_event_name(uint16_t event);

#endif
