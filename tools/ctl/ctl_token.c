/*  telegraphy-ctl token: mints a token locally (no gateway involved) with
    tg_token_mint, so it verifies exactly as the edge verifies it.
*/
#include "ctl_token.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"
#include "tg_clock.h"
#include "tg_token.h"
#include "tg_utf8.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " CTL_PROGRAM " [OPTIONS] token (--user ID | --anonymous) [--name N]\n"
            "       [--groups a,b] [--ttl S] [--resume --cid C] [--secret S] [--json]\n"
            "Mints a token signed with the gateway's secret (TELEGRAPHY_SECRET or\n"
            "--secret) and prints it alone on stdout. Nothing is sent to the gateway.\n"
            "\n"
            "  --user ID          the user id (the token's sub)\n"
            "  --anonymous        a token without a user (public events only)\n"
            "  --name N           the user name\n"
            "  --groups a,b       group names (add staff / superuser for those roles)\n"
            "  --ttl S            lifetime in seconds (default %d; resume: %s)\n"
            "  --resume           a resume token (needs --cid) instead of a ws token\n"
            "  --cid C            the client id a resume token resumes\n"
            "  --secret S         the secret (default TELEGRAPHY_SECRET)\n"
            "  --json             print {\"token\": \"...\"}\n"
            "\n"
            "Exit status: 0 ok, 2 usage error (no secret, bad arguments).\n",
            CTL_TOKEN_DEFAULT_TTL, "TELEGRAPHY_RESUME_TTL, default 86400");
}

enum {
    S_OPT_USER = CTL_ARGS_OPT_OWN,
    S_OPT_ANONYMOUS,
    S_OPT_NAME,
    S_OPT_GROUPS,
    S_OPT_TTL,
    S_OPT_RESUME,
    S_OPT_CID,
    S_OPT_SECRET,
};

static const struct option s_options[] = {
    {"user", required_argument, NULL, S_OPT_USER},
    {"anonymous", no_argument, NULL, S_OPT_ANONYMOUS},
    {"name", required_argument, NULL, S_OPT_NAME},
    {"groups", required_argument, NULL, S_OPT_GROUPS},
    {"ttl", required_argument, NULL, S_OPT_TTL},
    {"resume", no_argument, NULL, S_OPT_RESUME},
    {"cid", required_argument, NULL, S_OPT_CID},
    {"secret", required_argument, NULL, S_OPT_SECRET},
    {"json", no_argument, NULL, CTL_ARGS_OPT_JSON},
    {"help", no_argument, NULL, CTL_ARGS_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const ctl_args_command_t s_command = {"token", s_usage, s_options};

//  The parsed command line.
typedef struct {
    const char *user;
    bool anonymous;
    const char *name;
    const char *groups; /* "a,b" */
    uint64_t ttl;       /* 0 = the default of the token's typ */
    bool resume;
    const char *cid;
    const char *secret;
} s_args_t;

//  A field of the token: 1..TG_TOKEN_MAX_FIELD bytes of UTF-8.
static bool s_field_valid(const char *text)
{
    size_t len = strlen(text);
    return len > 0 && len <= TG_TOKEN_MAX_FIELD && tg_utf8_valid(text, len);
}

//  Returns CTL_ARGS_DONE, or how parsing ended otherwise (ctl_args.h).
static int s_parse(ctl_context_t *ctx, int argc, char **argv, s_args_t *args)
{
    memset(args, 0, sizeof *args);
    args->secret = ctx->cfg.secret;
    ctl_args_begin();
    int option;
    while ((option = ctl_args_next(ctx, &s_command, argc, argv)) > 0) {
        switch (option) {
        case S_OPT_USER:
            args->user = optarg;
            break;
        case S_OPT_ANONYMOUS:
            args->anonymous = true;
            break;
        case S_OPT_NAME:
            args->name = optarg;
            break;
        case S_OPT_GROUPS:
            args->groups = optarg;
            break;
        case S_OPT_RESUME:
            args->resume = true;
            break;
        case S_OPT_CID:
            args->cid = optarg;
            break;
        case S_OPT_SECRET:
            args->secret = optarg;
            break;
        case S_OPT_TTL:
            if (ctl_args_uint(optarg, 1, CTL_TOKEN_MAX_TTL, &args->ttl) != 0)
                return ctl_args_usage_error("token", "--ttl wants seconds, 1 to %d",
                                            CTL_TOKEN_MAX_TTL);
            break;
        }
    }
    if (option != CTL_ARGS_DONE)
        return option;
    int rc = ctl_args_operand(&s_command, argc, argv, NULL, NULL);
    if (rc != CTL_ARGS_DONE)
        return rc;
    if (!args->user == !args->anonymous)
        return ctl_args_usage_error("token", "give exactly one of --user ID and --anonymous");
    if (args->user && !s_field_valid(args->user))
        return ctl_args_usage_error("token", "--user must be 1 to %d bytes of UTF-8",
                                    TG_TOKEN_MAX_FIELD);
    if (args->name && (*args->name && !s_field_valid(args->name)))
        return ctl_args_usage_error("token", "--name must be at most %d bytes of UTF-8",
                                    TG_TOKEN_MAX_FIELD);
    if (args->resume != (args->cid != NULL))
        return ctl_args_usage_error("token", "--resume and --cid C go together");
    if (args->cid && !s_field_valid(args->cid))
        return ctl_args_usage_error("token", "--cid must be 1 to %d bytes of UTF-8",
                                    TG_TOKEN_MAX_FIELD);
    if (!args->secret || !*args->secret) {
        fprintf(stderr, "%s token: no secret: set TELEGRAPHY_SECRET or pass --secret\n",
                CTL_PROGRAM);
        return CTL_ARGS_USAGE;
    }
    return CTL_ARGS_DONE;
}

//  Prints the token (or its JSON); 0, or -1 when stdout fails.
static int s_print(const ctl_context_t *ctx, const char *token)
{
    if (!ctx->json)
        return printf("%s\n", token) < 0 ? -1 : 0;
    json_t *object = json_pack("{s:s}", "token", token);
    char *text = object ? json_dumps(object, JSON_COMPACT) : NULL;
    int rc = text && printf("%s\n", text) >= 0 ? 0 : -1;
    free(text);
    json_decref(object);
    return rc;
}

int ctl_token_run(ctl_context_t *ctx, int argc, char **argv)
{
    s_args_t args;
    int parsed = s_parse(ctx, argc, argv, &args);
    if (parsed != CTL_ARGS_DONE)
        return ctl_args_exit_code(parsed);

    char **groups = NULL;
    size_t groups_count = 0;
    if (args.groups) {
        bool ok = ctl_args_split(args.groups, TG_TOKEN_MAX_FIELD, &groups, &groups_count) == 0;
        for (size_t i = 0; ok && i < groups_count; i++)
            ok = s_field_valid(groups[i]);
        if (!ok || groups_count > TG_TOKEN_MAX_GROUPS) {
            ctl_args_free_list(&groups, groups_count);
            ctl_args_usage_error("token",
                                 "--groups wants names separated by commas (at most %d, each "
                                 "1 to %d bytes)",
                                 TG_TOKEN_MAX_GROUPS, TG_TOKEN_MAX_FIELD);
            return CTL_EXIT_USAGE;
        }
    }
    uint64_t ttl =
        args.ttl ? args.ttl : (args.resume ? ctx->cfg.resume_ttl : CTL_TOKEN_DEFAULT_TTL);
    tg_token_claims_t claims = {
        .typ = args.resume ? TG_TOKEN_RESUME : TG_TOKEN_WS,
        .sub = (char *)args.user,
        .name = (char *)args.name,
        .groups = groups,
        .groups_count = groups_count,
        .exp = tg_now_wall_s(ctx->now) + (int64_t)ttl,
        .cid = (char *)args.cid,
    };
    char *token = tg_token_mint(&claims, args.secret);
    ctl_args_free_list(&groups, groups_count);
    if (!token) {
        fprintf(stderr, "%s token: could not mint the token (no randomness?)\n", CTL_PROGRAM);
        return CTL_EXIT_USAGE;
    }
    int rc = s_print(ctx, token) == 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
    free(token);
    return rc;
}
