/*  persist_link: persist's connection to the router. The conversation
    every peer has with it (HELLO until WELCOME, HEARTBEAT with stats,
    re-HELLO when the router changed, forgot us or went silent; see
    lib/tg_link.h) is tg_link's; on each WELCOME the owner re-sends what
    the router must learn from persist (ops.resync: the stored types, spent
    tokens and persistent keys). What is persist's own is here: the DEALER
    it speaks through and the key SUBSCRIBE / UNSUBSCRIBE.

    The DEALER socket is the actor's (routing id = instance, ZMQ_IMMEDIATE,
    monitored), borrowed here. Time comes from the loop.
*/
#ifndef PERSIST_LINK_H
#define PERSIST_LINK_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"
#include "tg_link.h"

/* The owner's callbacks: deliver (a router message other than WELCOME /
   HEARTBEAT), resync (after each WELCOME), add_stats (to a HEARTBEAT). */
typedef tg_link_ops_t persist_link_ops_t;

typedef struct _persist_link_t persist_link_t;

/* Caller owns the result. Borrows `dealer` (connected to cfg->router,
   routing id = instance); copies cfg's heartbeat interval and router
   endpoint, instance and ops. `now` is the start: uptime counts from it. */
persist_link_t *persist_link_new(const tg_config_t *cfg, const char *instance, zsock_t *dealer,
                                 const persist_link_ops_t *ops, tg_now_t now);

/* Safe on NULL and twice; does not close the borrowed socket. */
void persist_link_destroy(persist_link_t **self_p);

/* Sends HELLO; call once, as the loop starts. */
void persist_link_start(persist_link_t *self);

/* A message read from the dealer. Takes ownership of *msg_p and nulls it. */
void persist_link_on_message(persist_link_t *self, zmsg_t **msg_p, tg_now_t now);

/* The heartbeat timer (tg_link_heartbeat). */
void persist_link_heartbeat(persist_link_t *self, tg_now_t now);

/* Sends an envelope to the router (borrowed; a body is moved out). Never
   blocks. Returns 0, or -1 when it was dropped (router unreachable, queue
   full): the caller counts it. */
int persist_link_send(persist_link_t *self, tg_envelope_t *envelope);

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

/* Undecodable router messages. */
uint64_t persist_link_bad_input(const persist_link_t *self);

#endif
