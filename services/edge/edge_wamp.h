/*  edge_wamp: the WAMP state machine of one session (broker role, DESIGN
    2.3): decodes a client message, checks it against the session's state
    and answers through the session's queue.

        HANDSHAKE --HELLO, anonymous-------------------------> OPEN --GOODBYE--> CLOSING
            |--HELLO offers "ticket"--> CHALLENGED                ^
            |                              |--AUTHENTICATE resume--+
            |                              +--AUTHENTICATE ws--> AUTHENTICATING
            |                                                      |--ACCEPTED--> OPEN
            +--anything out of order, at any step: ABORT, CLOSING

    Every authentication failure is ABORT wamp.error.authentication_failed
    "authentication failed" (edge_auth.h); every other fault in client
    bytes ends in ABORT wamp.error.protocol_violation and a close with a
    reason; none asserts, and no other session notices.
*/
#ifndef EDGE_WAMP_H
#define EDGE_WAMP_H

#include <stdbool.h>
#include <stddef.h>

#include "edge_broker.h"
#include "edge_session.h"

/* The procedure answered by the edge itself. */
#define EDGE_PROCEDURE_EVENTS_LIST "telegraphy.events.list"
#define EDGE_PROCEDURE_ACK         "telegraphy.ack"

/* Handles one complete WebSocket message (borrowed bytes) of session.
   binary: the frame was binary (msgpack) rather than text (JSON); now:
   the loop's time (subscription deadlines, token expiry). */
void edge_wamp_input(edge_broker_t *broker, edge_session_t *session, const void *data, size_t size,
                     bool binary, tg_now_t now);

/* Sends WELCOME with the session's id, authid and authrole, the broker
   features, authmethod and, when not NULL, authextra (stolen); the session
   is OPEN from now on. */
void edge_wamp_welcome(edge_session_t *session, const char *authmethod, json_t *authextra);

#endif
