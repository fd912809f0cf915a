/*  telegraphy-ctl token: the printed token verifies with tg_token_verify
    (a round trip through the edge's own check), --json wraps it, and a
    missing secret or bad arguments exit 2 with nothing on stdout. The
    command's time is the context's (main reads the clock once): here a
    fixed one far from the machine's. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl_token.h"
#include "tg_clock.h"
#include "tg_token.h"

#define SECRET     "ctl-test-secret"
#define NOW_S      4102444800 /* 2100-01-01T00:00:00Z: the command's time */
#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])) - 1)

static ctl_context_t s_ctx;

static void s_setup(void)
{
    memset(&s_ctx, 0, sizeof s_ctx);
    s_ctx.cfg.resume_ttl = 86400;
    s_ctx.now = tg_now_at(0, NOW_S);
    cr_redirect_stdout();
    cr_redirect_stderr();
}

/* What the command printed on stdout, trailing newline removed. */
static const char *s_stdout(void)
{
    static char text[8192];
    fflush(stdout);
    size_t len = fread(text, 1, sizeof text - 1, cr_get_redirected_stdout());
    text[len] = '\0';
    if (len > 0 && text[len - 1] == '\n')
        text[len - 1] = '\0';
    return text;
}

static void s_verify(const char *token, tg_token_type_t type, tg_token_claims_t *claims)
{
    const char *reason = NULL;
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW_S, 0, type, claims, &reason), 0,
        "token %s refused: %s", token, reason);
}

/* The printed line is the token alone, and it verifies with the claims
   given on the command line; it expires ttl seconds after the command's
   time. */
Test(ctl_token, printed_token_verifies_with_the_given_claims, .init = s_setup)
{
    char *argv[] = {"token", "--secret", SECRET,          "--user", "42",  "--name",
                    "alice", "--groups", "staff,editors", "--ttl",  "120", NULL};
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(argv), argv), CTL_EXIT_OK);
    const char *token = s_stdout();
    cr_assert_null(strchr(token, '\n'), "one line");
    tg_token_claims_t claims;
    s_verify(token, TG_TOKEN_WS, &claims);
    cr_assert_str_eq(claims.sub, "42");
    cr_assert_str_eq(claims.name, "alice");
    cr_assert(tg_token_claims_in_group(&claims, "staff"));
    cr_assert(tg_token_claims_in_group(&claims, "editors"));
    cr_assert_eq(claims.groups_count, 2);
    cr_assert_eq(claims.exp, NOW_S + 120, "exp is the command's time + ttl");
    tg_token_claims_release(&claims);
}

/* The secret of the configuration (TELEGRAPHY_SECRET) is used when the
   command gives none. */
Test(ctl_token, configured_secret_signs_the_token, .init = s_setup)
{
    strcpy(s_ctx.cfg.secret, SECRET);
    char *argv[] = {"token", "--anonymous", NULL};
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(argv), argv), CTL_EXIT_OK);
    tg_token_claims_t claims;
    s_verify(s_stdout(), TG_TOKEN_WS, &claims);
    cr_assert_null(claims.sub);
    tg_token_claims_release(&claims);
}

/* --json prints {"token": ...} whose token verifies. */
Test(ctl_token, json_output_wraps_the_token, .init = s_setup)
{
    char *argv[] = {"token", "--secret", SECRET, "--user", "7", "--json", NULL};
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(argv), argv), CTL_EXIT_OK);
    json_t *root = json_loads(s_stdout(), 0, NULL);
    cr_assert(json_is_object(root));
    cr_assert_eq(json_object_size(root), 1);
    const char *token = json_string_value(json_object_get(root, "token"));
    cr_assert_not_null(token);
    tg_token_claims_t claims;
    s_verify(token, TG_TOKEN_WS, &claims);
    cr_assert_str_eq(claims.sub, "7");
    tg_token_claims_release(&claims);
    json_decref(root);
}

/* --resume --cid makes a resume token carrying the cid, valid for the
   configured resume lifetime. */
Test(ctl_token, resume_token_carries_the_cid, .init = s_setup)
{
    char *argv[] = {"token",    "--secret", SECRET,     "--user", "42",
                    "--resume", "--cid",    "client-1", NULL};
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(argv), argv), CTL_EXIT_OK);
    tg_token_claims_t claims;
    s_verify(s_stdout(), TG_TOKEN_RESUME, &claims);
    cr_assert_str_eq(claims.cid, "client-1");
    cr_assert_eq(claims.exp, NOW_S + 86400);
    tg_token_claims_release(&claims);
}

/* Without a secret the command exits 2 and prints nothing on stdout. */
Test(ctl_token, missing_secret_exits_2, .init = s_setup)
{
    char *argv[] = {"token", "--user", "42", NULL};
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(argv), argv), CTL_EXIT_USAGE);
    cr_assert_str_eq(s_stdout(), "");
}

/* Bad combinations are usage errors: no user, user and anonymous, resume
   without cid, cid without resume, a bad ttl, an empty group. */
Test(ctl_token, bad_arguments_exit_2, .init = s_setup)
{
    char *none[] = {"token", "--secret", SECRET, NULL};
    char *both[] = {"token", "--secret", SECRET, "--user", "1", "--anonymous", NULL};
    char *resume[] = {"token", "--secret", SECRET, "--user", "1", "--resume", NULL};
    char *cid[] = {"token", "--secret", SECRET, "--user", "1", "--cid", "c", NULL};
    char *ttl[] = {"token", "--secret", SECRET, "--user", "1", "--ttl", "0", NULL};
    char *group[] = {"token", "--secret", SECRET, "--user", "1", "--groups", "a,,b", NULL};
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(none), none), CTL_EXIT_USAGE);
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(both), both), CTL_EXIT_USAGE);
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(resume), resume), CTL_EXIT_USAGE);
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(cid), cid), CTL_EXIT_USAGE);
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(ttl), ttl), CTL_EXIT_USAGE);
    cr_assert_eq(ctl_token_run(&s_ctx, ARGC(group), group), CTL_EXIT_USAGE);
    cr_assert_str_eq(s_stdout(), "");
}
