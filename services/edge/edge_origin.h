/*  edge_origin: the identity cookie's two rules, without sockets
    (DESIGN 2.4).

    The edge keeps a browser's client_id in the HttpOnly `telegraphy_resume`
    cookie (a resume token without a user: only the cid), set on the
    WebSocket upgrade response and read on the next upgrade. A browser
    sends that cookie whatever page opened the socket, so it is honoured
    only when the upgrade's Origin is allowed: one of
    TELEGRAPHY_ALLOWED_ORIGINS (comma-separated origins, compared without
    case), or by default a page served from the gateway's own host name
    (the Host header's), any scheme and port. An upgrade without Origin
    (not a browser) is allowed: it could send its resume token as a
    ticket anyway.
*/
#ifndef EDGE_ORIGIN_H
#define EDGE_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#define EDGE_RESUME_COOKIE "telegraphy_resume"

/* True when origin (the header's value, NULL = none) may use the cookie.
   allowed: the configured list (NULL or "" = the default rule); host: the
   Host header (NULL = unknown: then only listed origins pass). */
bool edge_origin_allowed(const char *allowed, const char *origin, const char *host);

/* Copies the value of the nth (from 0) cookie `name` of a Cookie header
   into out (NUL-terminated): a browser may send several of one name
   (other paths; telegraphy.js keeps a resume token of its own under this
   name). Returns 0, or -1 when there is no such one, or it is empty or
   longer than outlen - 1. */
int edge_origin_cookie(const char *header, const char *name, size_t nth, char *out, size_t outlen);

/* Writes the Set-Cookie value for the resume token into out:
   "telegraphy_resume=TOKEN; Path=/; Max-Age=N; HttpOnly; SameSite=Lax"
   plus "; Secure" when secure. Returns the length, or -1 when it does not
   fit. */
int edge_origin_set_cookie(char *out, size_t outlen, const char *token, unsigned max_age,
                           bool secure);

#endif
