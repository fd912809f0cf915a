/*  telegraphy-ctl register: declares an event type to the gateway.

    The REGISTER goes to the ingest's acknowledged socket; the ingest
    forwards it to the router and relays the router's answer, so exit 0
    means the router knows the type.
*/
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_args.h"
#include "ctl_request.h"
#include "tg_alloc.h"
#include "tg_envelope.h"
#include "tg_event_type.h"

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " CTL_PROGRAM " [OPTIONS] register NAME [--audience AUDIENCE] [--ttl S]\n"
                 "           [--guaranteed] [--fields a,b] [--client-publish] [--json]\n"
                 "Declares the event type NAME (a WAMP URI such as shop.order.shipped) and waits\n"
                 "until the router knows it (through the ingest at --ingest-ack).\n"
                 "\n"
                 "  --audience AUDIENCE  public (default), authenticated, staff or group:NAME\n"
                 "  --ttl S              seconds events are retained for replay (default 0)\n"
                 "  --guaranteed         stored for persistent subscribers until acknowledged\n"
                 "  --fields a,b         the exact keys events must carry (default: any map)\n"
                 "  --client-publish     browsers may publish this type\n"
                 "  --json               print {\"registered\": NAME} (or the error) as JSON\n"
                 "\n" CTL_EXIT_CODES_HELP);
}

enum {
    S_OPT_AUDIENCE = CTL_ARGS_OPT_OWN,
    S_OPT_TTL,
    S_OPT_GUARANTEED,
    S_OPT_FIELDS,
    S_OPT_CLIENT_PUBLISH,
};

static const struct option s_options[] = {
    {"audience", required_argument, NULL, S_OPT_AUDIENCE},
    {"ttl", required_argument, NULL, S_OPT_TTL},
    {"guaranteed", no_argument, NULL, S_OPT_GUARANTEED},
    {"fields", required_argument, NULL, S_OPT_FIELDS},
    {"client-publish", no_argument, NULL, S_OPT_CLIENT_PUBLISH},
    {"json", no_argument, NULL, CTL_ARGS_OPT_JSON},
    {"help", no_argument, NULL, CTL_ARGS_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const ctl_args_command_t s_command = {"register", s_usage, s_options};

//  Fills *type_p from the command line. Returns CTL_ARGS_DONE, or how
//  parsing ended otherwise (ctl_args.h).
static int s_parse(ctl_context_t *ctx, int argc, char **argv, tg_event_type_t **type_p)
{
    const char *audience = "public";
    uint64_t ttl = 0;
    bool guaranteed = false;
    bool client_publish = false;
    const char *fields = NULL;
    ctl_args_begin();
    int option;
    while ((option = ctl_args_next(ctx, &s_command, argc, argv)) > 0) {
        switch (option) {
        case S_OPT_AUDIENCE:
            audience = optarg;
            break;
        case S_OPT_TTL:
            if (ctl_args_uint(optarg, 0, TG_MAX_TTL, &ttl) != 0)
                return ctl_args_usage_error(
                    "register", "--ttl wants seconds in [0, %d], not \"%s\"", TG_MAX_TTL, optarg);
            break;
        case S_OPT_GUARANTEED:
            guaranteed = true;
            break;
        case S_OPT_FIELDS:
            fields = optarg;
            break;
        case S_OPT_CLIENT_PUBLISH:
            client_publish = true;
            break;
        }
    }
    if (option != CTL_ARGS_DONE)
        return option;
    const char *name = NULL;
    int rc = ctl_args_operand(&s_command, argc, argv, "NAME", &name);
    if (rc != CTL_ARGS_DONE)
        return rc;
    if (strlen(name) > TG_MAX_TOPIC)
        return ctl_args_usage_error("register", "NAME is longer than %d bytes", TG_MAX_TOPIC);
    if (tg_audience_validate(audience) != 0)
        return ctl_args_usage_error("register",
                                    "--audience wants public, authenticated, staff or group:NAME, "
                                    "not \"%s\"",
                                    audience);
    tg_event_type_t *type = tg_event_type_new(name);
    free(type->audience);
    type->audience = tg_strdup(audience);
    type->ttl = (uint32_t)ttl;
    type->guaranteed = guaranteed;
    type->client_publish = client_publish;
    if (fields) {
        char **list = NULL;
        size_t count = 0;
        if (ctl_args_split(fields, TG_MAX_FIELD_NAME, &list, &count) != 0 ||
            count > TG_MAX_FIELDS) {
            ctl_args_free_list(&list, count);
            tg_event_type_destroy(&type);
            return ctl_args_usage_error("register",
                                        "--fields wants names separated by commas (at most %d, "
                                        "each 1 to %d bytes)",
                                        TG_MAX_FIELDS, TG_MAX_FIELD_NAME);
        }
        tg_event_type_set_fields(type, (const char *const *)list, count);
        ctl_args_free_list(&list, count);
    }
    const char *reason = NULL;
    if (tg_event_type_validate(type, &reason) != 0) {
        ctl_args_usage_error("register", "invalid event type \"%s\": %s", name,
                             reason ? reason : "invalid");
        tg_event_type_destroy(&type);
        return CTL_ARGS_USAGE;
    }
    *type_p = type;
    return CTL_ARGS_DONE;
}

int ctl_register_run(ctl_context_t *ctx, int argc, char **argv)
{
    tg_event_type_t *type = NULL;
    int parsed = s_parse(ctx, argc, argv, &type);
    if (parsed != CTL_ARGS_DONE)
        return ctl_args_exit_code(parsed);

    tg_envelope_t *request = tg_envelope_new(TG_CMD_REGISTER);
    request->event_type = type;
    tg_envelope_t *reply = NULL;
    int rc = ctl_request_ask(ctx, CTL_PEER_INGEST, "register", request, TG_CMD_ACCEPTED, &reply);
    if (rc == CTL_EXIT_OK && ctx->json) {
        json_t *out = json_pack("{s:s}", "registered", type->name);
        if (out)
            json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(out);
    } else if (rc == CTL_EXIT_OK)
        printf("registered %s\n", type->name);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&request);
    return rc;
}
