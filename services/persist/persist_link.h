/*  persist_link: persist's connection to the router, the conversation
    every peer has with it (docs/protocol.md, "Start and heartbeat").

    HELLO {role "persist", instance} until the router answers WELCOME; then
    HEARTBEAT {instance, uptime_ms, stats} every heartbeat_ms (the owner's
    timer calls persist_link_heartbeat). The router's HEARTBEAT reply names
    its instance and whether it knows us; a new instance, known = false, or
    PERSIST_LINK_SILENT_HEARTBEATS intervals without a word from the router
    mean it lost (or may have lost) our state: we HELLO again, and on the
    next WELCOME the owner re-sends what the router must learn from persist
    (ops.on_welcome: the stored types, spent tokens and persistent keys).

    The link owns nothing but its state: the DEALER socket is the actor's
    (routing id = instance, ZMQ_IMMEDIATE, monitored), borrowed here.
    Decoding happens here; a message that does not decode is counted
    (persist_link_bad_input) and dropped, and one that does but is neither
    WELCOME nor HEARTBEAT goes to ops.on_message. Time comes from the loop.
*/
#ifndef PERSIST_LINK_H
#define PERSIST_LINK_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"

/* Heartbeat intervals of silence after which the router is presumed gone. */
#define PERSIST_LINK_SILENT_HEARTBEATS 3
/* Undecodable router messages are logged at most once per this interval. */
#define PERSIST_LINK_LOG_INTERVAL_MS 5000

typedef struct {
    /* A router message other than WELCOME / HEARTBEAT. Borrowed: the
       callee may move fields (the body, frames) out of it. */
    void (*on_message)(void *arg, tg_envelope_t *envelope, tg_now_t now);
    /* The router welcomed us (after our HELLO): re-send our state. */
    void (*on_welcome)(void *arg, tg_now_t now);
    /* Fill a HEARTBEAT with this process's stats. */
    void (*add_stats)(void *arg, tg_envelope_t *heartbeat, tg_now_t now);
    void *arg;
} persist_link_ops_t;

typedef struct _persist_link_t persist_link_t;

/* Caller owns the result. Borrows `dealer` (connected to cfg->router,
   routing id = instance); copies cfg's heartbeat interval, instance and
   ops. `now` is the start: uptime counts from it. */
persist_link_t *persist_link_new(const tg_config_t *cfg, const char *instance, zsock_t *dealer,
                                 const persist_link_ops_t *ops, tg_now_t now);

/* Safe on NULL and twice; does not close the borrowed socket. */
void persist_link_destroy(persist_link_t **self_p);

/* Sends HELLO; call once, as the loop starts. */
void persist_link_start(persist_link_t *self);

/* A message read from the dealer. Takes ownership of *msg_p and nulls it. */
void persist_link_on_message(persist_link_t *self, zmsg_t **msg_p, tg_now_t now);

/* The heartbeat timer: HELLO again while not welcomed or when the router
   went silent, else a HEARTBEAT with the owner's stats. */
void persist_link_heartbeat(persist_link_t *self, tg_now_t now);

/* Sends an envelope to the router (borrowed; a body is moved out). Never
   blocks. Returns 0, or -1 when it was dropped (router unreachable, queue
   full): the caller counts it. */
int persist_link_send(persist_link_t *self, tg_envelope_t *envelope);

/* Sends a ready-made message (takes ownership of *msg_p and nulls it,
   whatever the outcome). Returns 0 or -1 as persist_link_send. */
int persist_link_send_msg(persist_link_t *self, zmsg_t **msg_p);

/* Holds a persistent key at the router: SUBSCRIBE {req (the link's own),
   topic, match, filter ("" or NULL: none)}. The router answers SUBSCRIBED or
   SUBSCRIBE_ERROR (the owner counts refusals). 0, or -1 when dropped. */
int persist_link_subscribe(persist_link_t *self, const char *topic, const char *match,
                           const char *filter);

/* Releases one: UNSUBSCRIBE {sub_id}. 0, or -1 when dropped. */
int persist_link_unsubscribe(persist_link_t *self, uint64_t sub_id);

/* True once the router welcomed us and has not gone silent or changed. */
bool persist_link_ready(const persist_link_t *self);

/* The router's instance id that welcomed us, "" before. Owned by self. */
const char *persist_link_router(const persist_link_t *self);

/* Counters: undecodable router messages; WELCOMEs handled (re-syncs). */
uint64_t persist_link_bad_input(const persist_link_t *self);
uint64_t persist_link_resyncs(const persist_link_t *self);

#endif
