/*  ctl_request: one request to the gateway and its answer.

    A fresh DEALER (linger 0, so an unreachable gateway never holds up the
    exit) connects to the endpoint, sends the request and waits, at most
    timeout_ms, for the reply carrying the same req. Also how commands
    report the two outcomes every request can have besides success.
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

/* Prints "telegraphy-ctl: no answer from PEER at ENDPOINT within N ms" to
   stderr and returns CTL_EXIT_UNREACHABLE. */
int ctl_request_unreachable(const char *peer, const char *endpoint, uint32_t timeout_ms);

/* Reports a REJECTED reply: "telegraphy-ctl: WHAT refused: ERROR: MESSAGE"
   on stderr, and with --json {"error": ..., "message": ...} on stdout.
   Returns CTL_EXIT_REFUSED. */
int ctl_request_refused(const ctl_context_t *ctx, const char *what, const tg_envelope_t *reply);

/* Reports a reply of the wrong kind (a gateway of another version?) and
   returns CTL_EXIT_UNREACHABLE. */
int ctl_request_unexpected(const char *peer, const tg_envelope_t *reply);

#endif
