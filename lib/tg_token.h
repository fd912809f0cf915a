/*  tg_token: the ws auth and resume tokens of DESIGN §2.4.

        v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "v1." + payload_part))>

    base64url without padding. Payload keys: typ ("ws" | "resume"), sub (user
    id, absent for anonymous), name, grp (list of group names; "staff" and
    "superuser" included for those flags), exp (unix seconds), jti (random,
    >= 128 bits, base64url), and cid for resume tokens.

    Verification is strict and constant-time where it matters: the MAC is
    checked (CRYPTO_memcmp) before the payload is parsed, against the current
    secret and, during a rotation, the previous one; then base64url, JSON
    (jansson, strict UTF-8), every key's type and bound, typ and exp (with a
    small clock skew) are checked. Errors say what failed for the logs; the
    client is only ever told "authentication failed". The fixtures in
    tests/fixtures/token_vectors.json are shared with the Python side.
*/
#ifndef TG_TOKEN_H
#define TG_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_base64.h"

#define TG_TOKEN_MAX_LEN    4096 /* longer input is refused before any work */
#define TG_TOKEN_MAX_GROUPS 64
#define TG_TOKEN_MAX_FIELD  128 /* bytes of sub, name, each group, jti, cid */

typedef enum { TG_TOKEN_WS = 0, TG_TOKEN_RESUME = 1 } tg_token_type_t;

/* The claims of a verified token. All strings are owned (tg_token_claims_release). */
typedef struct {
    tg_token_type_t typ;
    char *sub;     /* NULL = anonymous */
    char *name;    /* may be NULL */
    char **groups; /* group names, groups_count entries */
    size_t groups_count;
    int64_t exp; /* unix seconds */
    char *jti;
    char *cid; /* resume tokens: the client id; NULL for ws tokens */
} tg_token_claims_t;

/* Frees what claims owns and zeroes it; safe twice. */
void tg_token_claims_release(tg_token_claims_t *claims);

/* True when claims->groups has `group`. */
bool tg_token_claims_in_group(const tg_token_claims_t *claims, const char *group);

/* Verifies `token` (len bytes) with `secret`, or `previous_secret` when not
   NULL/empty (rotation), at time `now` (unix seconds) allowing `skew_s`
   seconds of clock difference on exp. `expected` is the typ required.
   Returns 0 and fills *claims (caller releases), or -1 with a short static
   reason in *reason for the logs ("bad signature", "expired", "wrong typ",
   "malformed: base64url", "malformed: json", "malformed: field jti", "too
   long", ...). Never asserts on input. */
int tg_token_verify(const char *token, size_t len, const char *secret, const char *previous_secret,
                    int64_t now, int64_t skew_s, tg_token_type_t expected,
                    tg_token_claims_t *claims, const char **reason);

/* Mints a token for claims (typ, sub, name, groups, exp, cid as given; jti
   generated when claims->jti is NULL: 16 random bytes, base64url). Caller
   owns the result (free). NULL on failure (no randomness, OOM). The payload
   JSON is compact with keys in the order typ, sub, name, grp, exp, jti, cid
   (absent ones omitted), as the Python side writes them. */
char *tg_token_mint(const tg_token_claims_t *claims, const char *secret);

#endif
