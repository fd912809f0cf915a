/*  edge_auth: WAMP ticket authentication of the edge's sessions (DESIGN
    2.4), between HELLO and WELCOME.

        HELLO offers "ticket"  -> CHALLENGE [4, "ticket", {}]    (CHALLENGED)
        AUTHENTICATE [5, token, {}] -> tg_token_verify, typ ws or resume
          resume token         -> WELCOME now, same sub/groups and client_id = cid
          ws token             -> TOKEN_SPEND {req, jti, exp} to the router
                                  (AUTHENTICATING), WELCOME on ACCEPTED{req}
        any failure            -> ABORT wamp.error.authentication_failed,
                                  message "authentication failed" and no more;
                                  the reason is logged (rate-limited) and
                                  counted (auth_failures, bad_input{auth_failed})

    Every WELCOME carries authextra {client_id, resume_token, resume_expires}:
    a fresh resume token (typ resume, same sub/name/groups, cid = client_id,
    exp = now + resume_ttl) each time.

    Single use of ws tokens across edges: the router keeps spent jtis until
    their exp. The edge waits for its verdict at most EDGE_AUTH_TIMEOUT_MS:
    a router that is not there yet (the link not welcomed) or answers
    `telegraphy.error.unavailable` (a router in its start-up window) is
    asked again at the next tick within that bound, so a valid token is not
    refused because the gateway is starting (issue 11);
    with at most EDGE_AUTH_MAX_PENDING sessions waiting (more are refused:
    fail closed). It also remembers the jtis it spent (until exp, at most
    EDGE_AUTH_MAX_SPENT, oldest dropped first) to refuse a replay on this
    edge without a round trip, and re-sends them (TOKEN_SPEND without req)
    whenever the router (re)welcomes it, so a restarted router learns them
    again before its start-up window ends (docs/security.md).
*/
#ifndef EDGE_AUTH_H
#define EDGE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "edge_metrics.h"
#include "edge_router_port.h"
#include "edge_session.h"
#include "tg_clock.h"
#include "tg_config.h"
#include "tg_envelope.h"

/* How long an AUTHENTICATE waits for the router's verdict on its jti,
   asking again while the router is away or starting: longer than a fresh
   router's start-up window (3 heartbeats of the default 1000 ms). */
#define EDGE_AUTH_TIMEOUT_MS 5000
/* Sessions waiting for that verdict at once, at most. */
#define EDGE_AUTH_MAX_PENDING 1024
/* Jtis this edge remembers having spent, at most. */
#define EDGE_AUTH_MAX_SPENT 65536

/* The ABORT of every refused authentication, reason and message. */
#define EDGE_AUTH_FAILED         "wamp.error.authentication_failed"
#define EDGE_AUTH_FAILED_MESSAGE "authentication failed"

typedef struct _edge_auth_t edge_auth_t;

/* Caller owns the result. Borrows cfg (secret, secret_previous,
   token_skew, resume_ttl, allow_anonymous) and metrics; copies router. */
edge_auth_t *edge_auth_new(const tg_config_t *cfg, const edge_router_port_t *router,
                           edge_metrics_t *metrics);

/* Frees the pending table (sessions are not touched: the broker closes
   them first) and the spent jtis. Safe on NULL and twice. */
void edge_auth_destroy(edge_auth_t **self_p);

/* The HELLO of session (in HANDSHAKE) offered "ticket": remembers the
   authid it claimed (may be NULL; copied), gives the session its WAMP id
   and sends CHALLENGE. */
void edge_auth_challenge(edge_auth_t *self, edge_session_t *session, const char *authid);

/* The AUTHENTICATE of a CHALLENGED session: the token is len bytes
   (borrowed, not NUL-terminated necessarily). Welcomes, refuses, or leaves
   the session AUTHENTICATING until the router answers. now: the loop's
   time (wall: token expiry and the resume token's; monotonic: the
   verdict's deadline). */
void edge_auth_authenticate(edge_auth_t *self, edge_session_t *session, const char *token,
                            size_t len, tg_now_t now);

/* ACCEPTED or REJECTED from the router (borrowed): the verdict on a spend.
   One for a request no longer pending (timed out, session gone) is
   ignored. now: the loop's time (the resume token's expiry). */
void edge_auth_router_reply(edge_auth_t *self, const tg_envelope_t *envelope, tg_now_t now);

/* The session is going away: forgets its pending spend, if any. */
void edge_auth_session_closed(edge_auth_t *self, edge_session_t *session);

/* Refuses the sessions whose verdict is overdue and forgets the spent jtis
   that expired. now: the loop's time. */
void edge_auth_tick(edge_auth_t *self, tg_now_t now);

/* The router (re)welcomed this edge: re-sends every jti this edge spent
   that has not expired at now (TOKEN_SPEND without req). */
void edge_auth_resync(edge_auth_t *self, tg_now_t now);

/* Lowers the bound on sessions waiting for the router (at most
   EDGE_AUTH_MAX_PENDING), so tests can reach it. */
void edge_auth_set_max_pending(edge_auth_t *self, size_t max_pending);

/* The identity cookie (DESIGN 2.4, edge_origin.h). The cookie holds a
   resume token without a user: only the browser's id (its cid).

   edge_auth_cookie_cid: the cid of a cookie's token when it verifies as
   such a token at now, else NULL. Caller owns the result.
   edge_auth_cookie_token: a fresh cookie token for cid, valid resume_ttl
   from now (NULL when no secret is configured). Caller owns the result.
   edge_auth_new_browser_id: a new random cid. Caller owns the result. */
char *edge_auth_cookie_cid(edge_auth_t *self, const char *token, tg_now_t now);
char *edge_auth_cookie_token(edge_auth_t *self, const char *cid, tg_now_t now);
char *edge_auth_new_browser_id(void);

/* Sessions waiting for the router; jtis remembered as spent. */
size_t edge_auth_pending_count(const edge_auth_t *self);
size_t edge_auth_spent_count(const edge_auth_t *self);

#endif
