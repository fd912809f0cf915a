/*  ingest_handler: what ingest does with each message, separate from the
    actor that owns the sockets and the loop (ingest_server.c).

    Publisher side (PULL and the ack ROUTER): PUBLISH is checked and
    forwarded as an EVENT, REGISTER is checked, stored and forwarded; on the
    ack socket every request gets ACCEPTED or REJECTED. Router side: WELCOME,
    HEARTBEAT (resync), REGISTER (registry sync) and the answers to our
    REGISTER requests, relayed to the client that asked.
*/
#ifndef INGEST_HANDLER_H
#define INGEST_HANDLER_H

#include <czmq.h>
#include <stdint.h>

#include "ingest_server.h"
#include "tg_config.h"

/* Bad input and refusals on the fire-and-forget path are logged at most
   once per this interval per kind (the counters see every one). */
#define INGEST_LOG_INTERVAL_MS 5000

typedef struct _ingest_handler_t ingest_handler_t;

/* Caller owns the result. Copies cfg and instance; borrows `ack` (replies
   to clients) and `router` (the link), which must outlive the handler. */
ingest_handler_t *ingest_handler_new(const tg_config_t *cfg, const char *instance, zsock_t *ack,
                                     zsock_t *router);

/* Safe on NULL and twice; does not close the borrowed sockets. */
void ingest_handler_destroy(ingest_handler_t **self_p);

/* Sends HELLO to the router; call once the loop is about to start. */
void ingest_handler_start(ingest_handler_t *self);

/* Each takes ownership of *msg_p (as received, routing id included for
   the ack socket) and nulls it. Bad input is counted and dropped. */
void ingest_handler_on_pull(ingest_handler_t *self, zmsg_t **msg_p);
void ingest_handler_on_ack(ingest_handler_t *self, zmsg_t **msg_p);
void ingest_handler_on_router(ingest_handler_t *self, zmsg_t **msg_p);

/* Sends a HEARTBEAT with the current stats. */
void ingest_handler_heartbeat(ingest_handler_t *self);

/* Refuses the REGISTER requests the router left unanswered too long. */
void ingest_handler_expire(ingest_handler_t *self);

/* How long a REGISTER may wait for the router. */
int64_t ingest_handler_pending_timeout_ms(const ingest_handler_t *self);

/* Copies the counters. */
void ingest_handler_stats(const ingest_handler_t *self, ingest_stats_t *stats);

#endif
