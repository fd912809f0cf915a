/*  tg_link: the conversation every process has with the router
    (docs/protocol.md, "Start and heartbeat"), written once for the edge,
    the ingest and persist.

    HELLO {role, instance} until the router answers WELCOME; then
    HEARTBEAT {instance, uptime_ms, stats} at every call of
    tg_link_heartbeat (the owner's heartbeat timer). The router's HEARTBEAT
    reply names its instance and whether it knows us; a new instance,
    known = false, or TG_LINK_SILENT_HEARTBEATS intervals without a word
    from the router mean it lost (or may have lost) our state: the link is
    no longer ready and says HELLO again, and on the next WELCOME the owner
    re-sends what the router must learn from this process (ops.resync).
    Every WELCOME answers a HELLO, and we only say HELLO when the router
    may have lost our state, so every WELCOME brings a resync, the first
    one included.

    The link has no socket and reads no clock: it hands envelopes to the
    owner's send function (the owner knows the socket's discipline: the
    edge's runs under libwebsockets), is given each message read from the
    router, and every entry takes the loop's tg_now_t. A message that does
    not decode is counted (tg_link_bad_input), logged rate-limited and
    dropped; one that does but is neither WELCOME nor HEARTBEAT goes to
    ops.deliver. So the whole protocol is testable without sockets.
*/
#ifndef TG_LINK_H
#define TG_LINK_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"

/* Heartbeat intervals of silence after which the router is presumed gone. */
#define TG_LINK_SILENT_HEARTBEATS 3
/* Undecodable router messages are logged at most once per this interval. */
#define TG_LINK_LOG_INTERVAL_MS 5000

/* What the link tells its owner. now is the time of the loop's wake-up
   that led here. */
typedef struct {
    /* A router message other than WELCOME / HEARTBEAT. Borrowed: the
       callee may move fields (the body, an event type) out of it. */
    void (*deliver)(void *arg, tg_envelope_t *envelope, tg_now_t now);
    /* The router welcomed us (the answer to our HELLO): re-send what it
       must learn from this process. */
    void (*resync)(void *arg, tg_now_t now);
    /* Adds this process's stats to a HEARTBEAT about to be sent. */
    void (*add_stats)(void *arg, tg_envelope_t *heartbeat, tg_now_t now);
    void *arg;
} tg_link_ops_t;

/* How the link's envelopes reach the router: sends `envelope` (borrowed;
   a body may be moved out) without blocking. Returns 0, or -1 when it was
   dropped (router unreachable, queue full). */
typedef int(tg_link_send_fn)(void *arg, tg_envelope_t *envelope);

typedef struct _tg_link_t tg_link_t;

/* Caller owns the result. role: HELLO's role and the log lines' module
   ("edge", "ingest", "persist"); instance: our id, the routing id at the
   router; both copied, as are cfg's heartbeat interval (> 0) and router
   endpoint (for log lines) and ops. send(send_arg, ...) is the owner's
   socket. now is the start: the heartbeat's uptime counts from it. */
tg_link_t *tg_link_new(const tg_config_t *cfg, const char *role, const char *instance,
                       tg_link_send_fn *send, void *send_arg, const tg_link_ops_t *ops,
                       tg_now_t now);

/* Safe on NULL and twice. */
void tg_link_destroy(tg_link_t **self_p);

/* Sends the first HELLO; call once, as the loop starts. */
void tg_link_start(tg_link_t *self);

/* A message read from the router socket (routing id, if any, popped).
   Takes ownership of *msg_p and nulls it. */
void tg_link_on_message(tg_link_t *self, zmsg_t **msg_p, tg_now_t now);

/* The heartbeat timer: HELLO while not welcomed, HELLO again when the
   router went silent, else a HEARTBEAT with the owner's stats. */
void tg_link_heartbeat(tg_link_t *self, tg_now_t now);

/* True once the router welcomed us and has not changed, forgotten us or
   gone silent since. */
bool tg_link_ready(const tg_link_t *self);

/* True when the router was heard within the TG_LINK_SILENT_HEARTBEATS
   heartbeat intervals up to now_ms (the loop's monotonic time). */
bool tg_link_connected(const tg_link_t *self, int64_t now_ms);

/* The instance id of the router that welcomed us last, "" before any.
   Owned by self. */
const char *tg_link_router(const tg_link_t *self);

/* Counters: router messages that did not decode; WELCOMEs handled (so
   resyncs asked of the owner). */
uint64_t tg_link_bad_input(const tg_link_t *self);
uint64_t tg_link_welcomes(const tg_link_t *self);

#endif
