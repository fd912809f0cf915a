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
#include "tg_alloc.h"
#include "tg_envelope.h"
#include "tg_utf8.h"

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

enum { S_OPT_KWARGS = CTL_ARGS_OPT_OWN, S_OPT_TO_USERS };

static const struct option s_options[] = {
    {"kwargs", required_argument, NULL, S_OPT_KWARGS},
    {"to-users", required_argument, NULL, S_OPT_TO_USERS},
    {"json", no_argument, NULL, CTL_ARGS_OPT_JSON},
    {"help", no_argument, NULL, CTL_ARGS_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const ctl_args_command_t s_command = {"publish", s_usage, s_options};

//  Returns CTL_ARGS_DONE, or how parsing ended otherwise (ctl_args.h).
static int s_parse(ctl_context_t *ctx, int argc, char **argv, s_args_t *args)
{
    args->kwargs = "{}";
    args->to_users = NULL;
    ctl_args_begin();
    int option;
    while ((option = ctl_args_next(ctx, &s_command, argc, argv)) > 0) {
        if (option == S_OPT_KWARGS)
            args->kwargs = optarg;
        else if (option == S_OPT_TO_USERS)
            args->to_users = optarg;
    }
    if (option != CTL_ARGS_DONE)
        return option;
    int rc = ctl_args_operand(&s_command, argc, argv, "NAME", &args->name);
    if (rc != CTL_ARGS_DONE)
        return rc;
    size_t len = strlen(args->name);
    if (len == 0 || len > TG_MAX_TOPIC || !tg_utf8_valid(args->name, len))
        return ctl_args_usage_error("publish", "NAME must be 1 to %d bytes of UTF-8", TG_MAX_TOPIC);
    return CTL_ARGS_DONE;
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
    if (parsed != CTL_ARGS_DONE)
        return ctl_args_exit_code(parsed);

    char err[512];
    zframe_t *body = ctl_kwargs_to_msgpack(args.kwargs, err, sizeof(err));
    if (!body) {
        fprintf(stderr, "%s publish: %s\n", CTL_PROGRAM, err);
        return CTL_EXIT_USAGE;
    }
    tg_envelope_t *request = tg_envelope_new(TG_CMD_PUBLISH);
    request->topic = tg_strdup(args.name);
    request->body = body;
    if (args.to_users && s_set_to_users(request, args.to_users) != 0) {
        tg_envelope_destroy(&request);
        return CTL_EXIT_USAGE;
    }

    tg_envelope_t *reply = NULL;
    int rc = ctl_request_ask(ctx, CTL_PEER_INGEST, "publish", request, TG_CMD_ACCEPTED, &reply);
    if (rc == CTL_EXIT_OK && reply->pub_id == 0)
        rc = ctl_request_unexpected("ingest", reply);
    else if (rc == CTL_EXIT_OK && ctx->json)
        printf("{\"pub_id\":%" PRIu64 "}\n", reply->pub_id);
    else if (rc == CTL_EXIT_OK)
        printf("%" PRIu64 "\n", reply->pub_id);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&request);
    return rc;
}
