/*  telegraphy-ctl publish: sends one event through the ingest's
    acknowledged socket; exit 0 only once the ingest accepted it.
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_args.h"
#include "ctl_kwargs.h"
#include "ctl_request.h"
#include "tg_envelope.h"

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " CTL_PROGRAM
                 " [OPTIONS] publish NAME [--kwargs JSON] [--to-users a,b] [--json]\n"
                 "Publishes one event of the registered type NAME through the ingest at\n"
                 "--ingest-ack and prints its publication id once the ingest accepted it.\n"
                 "\n"
                 "  --kwargs JSON      the event's data, a JSON object (default {}); integers,\n"
                 "                     floats, unicode, null and nesting are kept as they are\n"
                 "  --to-users a,b     deliver only to these user ids\n"
                 "  --json             print {\"pub_id\": N} (or the error) as JSON\n"
                 "\n" CTL_EXIT_CODES_HELP);
}

//  The parsed command line.
typedef struct {
    const char *name;     /* the event type */
    const char *kwargs;   /* JSON text */
    const char *to_users; /* comma-separated, NULL = everybody */
} s_args_t;

//  Returns 0, -1 after a usage error, or 1 after printing help.
static int s_parse(ctl_context_t *ctx, int argc, char **argv, s_args_t *args)
{
    enum { O_KWARGS = 1, O_TO_USERS, O_JSON, O_HELP };
    static const struct option options[] = {
        {"kwargs", required_argument, NULL, O_KWARGS},
        {"to-users", required_argument, NULL, O_TO_USERS},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    args->kwargs = "{}";
    args->to_users = NULL;
    optind = 0; //  glibc: full re-initialisation, permuting options after NAME
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (option) {
        case O_KWARGS:
            args->kwargs = optarg;
            break;
        case O_TO_USERS:
            args->to_users = optarg;
            break;
        case O_JSON:
            ctx->json = true;
            break;
        case O_HELP:
        case 'h':
            s_usage(stdout);
            return 1;
        case ':':
            ctl_args_usage_error("publish", "%s needs a value", argv[optind - 1]);
            return -1;
        default:
            ctl_args_usage_error("publish", "unknown option \"%s\"", argv[optind - 1]);
            return -1;
        }
    }
    if (optind != argc - 1) {
        ctl_args_usage_error("publish", optind == argc ? "NAME is missing" : "one NAME expected");
        return -1;
    }
    args->name = argv[optind];
    size_t len = strlen(args->name);
    if (len == 0 || len > TG_MAX_TOPIC || !tg_utf8_valid(args->name, len)) {
        ctl_args_usage_error("publish", "NAME must be 1 to %d bytes of UTF-8", TG_MAX_TOPIC);
        return -1;
    }
    return 0;
}

//  Fills request->to_users from "a,b". Returns 0 or -1 (usage error printed).
static int s_set_to_users(tg_envelope_t *request, const char *text)
{
    char **users = NULL;
    size_t count = 0;
    bool ok = ctl_args_split(text, TG_MAX_ID_STRING, &users, &count) == 0 && count > 0 &&
              count <= TG_MAX_TO_USERS;
    for (size_t i = 0; ok && i < count; i++)
        ok = tg_utf8_valid(users[i], strlen(users[i]));
    if (!ok) {
        ctl_args_free_list(&users, count);
        ctl_args_usage_error("publish",
                             "--to-users wants user ids separated by commas (at most %d, "
                             "each 1 to %d bytes)",
                             TG_MAX_TO_USERS, TG_MAX_ID_STRING);
        return -1;
    }
    request->to_users = users;
    request->to_users_count = count;
    return 0;
}

int ctl_publish_run(ctl_context_t *ctx, int argc, char **argv)
{
    s_args_t args;
    int parsed = s_parse(ctx, argc, argv, &args);
    if (parsed != 0)
        return parsed > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;

    char err[512];
    zframe_t *body = ctl_kwargs_to_msgpack(args.kwargs, err, sizeof(err));
    if (!body) {
        fprintf(stderr, "%s publish: %s\n", CTL_PROGRAM, err);
        return CTL_EXIT_USAGE;
    }
    tg_envelope_t *request = tg_envelope_new(TG_CMD_PUBLISH);
    request->topic = strdup(args.name);
    request->body = body;
    if (args.to_users && s_set_to_users(request, args.to_users) != 0) {
        tg_envelope_destroy(&request);
        return CTL_EXIT_USAGE;
    }

    tg_envelope_t *reply = NULL;
    int rc;
    if (ctl_request_call(ctx->cfg.ingest_ack, request, ctx->cfg.timeout_ms, &reply) != 0)
        rc = ctl_request_unreachable("ingest", ctx->cfg.ingest_ack, ctx->cfg.timeout_ms);
    else if (reply->command == TG_CMD_REJECTED)
        rc = ctl_request_refused(ctx, "publish", reply);
    else if (reply->command != TG_CMD_ACCEPTED || reply->pub_id == 0)
        rc = ctl_request_unexpected("ingest", reply);
    else {
        if (ctx->json)
            printf("{\"pub_id\":%" PRIu64 "}\n", reply->pub_id);
        else
            printf("%" PRIu64 "\n", reply->pub_id);
        rc = CTL_EXIT_OK;
    }
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&request);
    return rc;
}
