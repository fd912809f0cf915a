/*  router_tokens: the ws tokens already spent, so that each is used once
    across every edge (DESIGN 2.4: single use).

    Edges verify a token themselves, then send TOKEN_SPEND {req, jti, exp}
    here before they welcome the session; the first spend of a jti is
    accepted, any later one refused, until `exp` (unix seconds, the token's
    exp plus the edge's clock-skew allowance) has passed. After that the
    token is refused by every edge's own expiry check, so the jti can go.

    A bounded set: a hash of the jtis for the lookup and a min-heap by exp
    for the purge, so a purge costs only what it removes. When the set is
    full, a spend is refused (fail closed: a client gets "authentication
    failed" and a fresh token later, never a second use of a token).
*/
#ifndef ROUTER_TOKENS_H
#define ROUTER_TOKENS_H

#include <stddef.h>
#include <stdint.h>

/* Spent jtis the router keeps at most. A ws token lives 60 s by default, so
   this allows some 4,000 authentications per second, sustained, at about
   100 bytes each. */
#define ROUTER_MAX_SPENT_TOKENS 262144

typedef struct _router_tokens_t router_tokens_t;

typedef enum {
    ROUTER_TOKEN_ACCEPTED = 0, /* first spend: now recorded */
    ROUTER_TOKEN_REPLAYED,     /* spent before and not yet expired */
    ROUTER_TOKEN_FULL,         /* not recorded: the set is at its bound */
} router_token_verdict_t;

/* Caller owns the result: an empty set of at most `capacity` jtis (> 0).
 */
router_tokens_t *router_tokens_new(size_t capacity);

/* Safe on NULL and twice. */
void router_tokens_destroy(router_tokens_t **self_p);

/* Records jti (NUL-terminated, copied) as spent until exp. An entry whose
   exp is before now_s is treated as gone (the purge may not have run yet),
   so a spend of it is a first spend again. */
router_token_verdict_t router_tokens_spend(router_tokens_t *self, const char *jti, int64_t exp,
                                           int64_t now_s);

/* Forgets every jti whose exp is before now_s. Returns how many. */
size_t router_tokens_purge(router_tokens_t *self, int64_t now_s);

size_t router_tokens_size(const router_tokens_t *self);

#endif
