/*  ctl_request: one request to the gateway and its answer.

    A fresh DEALER (linger 0, so an unreachable gateway never holds up the
    exit) connects to the endpoint, sends the request and waits, at most
    timeout_ms, for the reply carrying the same req. Also how commands
    report the outcomes every request can have besides success.
*/
#ifndef CTL_REQUEST_H
#define CTL_REQUEST_H

#include <stdint.h>

#include "ctl.h"
#include "tg_envelope.h"

/* Sends request to endpoint and waits for the answer. Sets request->req
   when it is 0. Returns 0 with *reply_p set (caller owns), or -1 when no
   answer with that req came in time (or the endpoint is unusable). The
   request's body, if any, is moved out. */
int ctl_request_call(const char *endpoint, tg_envelope_t *request, uint32_t timeout_ms,
                     tg_envelope_t **reply_p);

/* Whom a command asks: the ingest at cfg.ingest_ack or the router at
   cfg.control. */
typedef enum { CTL_PEER_INGEST, CTL_PEER_ROUTER } ctl_peer_t;

/* One request as every command makes it: sends request to peer (endpoint
   and timeout from ctx->cfg) and waits for the answer. Returns CTL_EXIT_OK
   with *reply_p set (caller owns) when the answer is the command
   `expected`; otherwise reports the outcome, sets *reply_p NULL and
   returns its exit code:
     no answer in time  "telegraphy-ctl: no answer from PEER at ENDPOINT
                        within N ms" on stderr; CTL_EXIT_UNREACHABLE
     REJECTED           "telegraphy-ctl: WHAT refused: ERROR: MESSAGE" on
                        stderr, and with --json {"error": ..., "message":
                        ...} on stdout; CTL_EXIT_REFUSED
     anything else      as ctl_request_unexpected()
   The request stays the caller's; its body, if any, is moved out. */
int ctl_request_ask(const ctl_context_t *ctx, ctl_peer_t peer, const char *what,
                    tg_envelope_t *request, tg_command_t expected, tg_envelope_t **reply_p);

/* Reports a reply of the wrong kind (a gateway of another version?):
   "telegraphy-ctl: unexpected answer COMMAND from PEER" on stderr, and
   returns CTL_EXIT_UNREACHABLE. */
int ctl_request_unexpected(const char *peer, const tg_envelope_t *reply);

#endif
