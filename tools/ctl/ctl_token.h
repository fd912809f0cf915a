/*  telegraphy-ctl token: mints a ws (or resume) token signed with the
    gateway's secret, for scripts, tests and operators (DESIGN §2.4).
*/
#ifndef CTL_TOKEN_H
#define CTL_TOKEN_H

#include "ctl.h"

#define CTL_TOKEN_DEFAULT_TTL 60      /* seconds, as Django's TOKEN_TTL */
#define CTL_TOKEN_MAX_TTL     2592000 /* 30 days, as the longest resume lifetime */

/* Runs `token` (argv[0] is "token"): prints the token alone on stdout, or
   {"token": "..."} with --json. The secret comes from ctx->cfg.secret
   (TELEGRAPHY_SECRET / global --secret) or the command's own --secret.
   Returns the exit code: 0, or CTL_EXIT_USAGE (no secret, bad arguments). */
int ctl_token_run(ctl_context_t *ctx, int argc, char **argv);

#endif
