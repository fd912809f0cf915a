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

//  Fills *type from the command line. Returns 0, -1 after printing a
//  usage error, or 1 after printing help.
static int s_parse(ctl_context_t *ctx, int argc, char **argv, tg_event_type_t **type_p)
{
    enum { O_AUDIENCE = 1, O_TTL, O_GUARANTEED, O_FIELDS, O_CLIENT_PUBLISH, O_JSON, O_HELP };
    static const struct option options[] = {
        {"audience", required_argument, NULL, O_AUDIENCE},
        {"ttl", required_argument, NULL, O_TTL},
        {"guaranteed", no_argument, NULL, O_GUARANTEED},
        {"fields", required_argument, NULL, O_FIELDS},
        {"client-publish", no_argument, NULL, O_CLIENT_PUBLISH},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *audience = "public";
    uint64_t ttl = 0;
    bool guaranteed = false;
    bool client_publish = false;
    const char *fields = NULL;
    optind = 0; //  glibc: full re-initialisation, permuting options after NAME
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (option) {
        case O_AUDIENCE:
            audience = optarg;
            break;
        case O_TTL:
            if (ctl_args_uint(optarg, 0, TG_MAX_TTL, &ttl) != 0) {
                ctl_args_usage_error("register", "--ttl wants seconds in [0, %d], not \"%s\"",
                                     TG_MAX_TTL, optarg);
                return -1;
            }
            break;
        case O_GUARANTEED:
            guaranteed = true;
            break;
        case O_FIELDS:
            fields = optarg;
            break;
        case O_CLIENT_PUBLISH:
            client_publish = true;
            break;
        case O_JSON:
            ctx->json = true;
            break;
        case O_HELP:
        case 'h':
            s_usage(stdout);
            return 1;
        case ':':
            ctl_args_usage_error("register", "%s needs a value", argv[optind - 1]);
            return -1;
        default:
            ctl_args_usage_error("register", "unknown option \"%s\"", argv[optind - 1]);
            return -1;
        }
    }
    if (optind != argc - 1) {
        ctl_args_usage_error("register", optind == argc ? "NAME is missing" : "one NAME expected");
        return -1;
    }
    const char *name = argv[optind];
    if (strlen(name) > TG_MAX_TOPIC) {
        ctl_args_usage_error("register", "NAME is longer than %d bytes", TG_MAX_TOPIC);
        return -1;
    }
    if (tg_audience_validate(audience) != 0) {
        ctl_args_usage_error("register",
                             "--audience wants public, authenticated, staff or group:NAME, "
                             "not \"%s\"",
                             audience);
        return -1;
    }
    tg_event_type_t *type = tg_event_type_new(name);
    free(type->audience);
    type->audience = strdup(audience);
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
            ctl_args_usage_error("register",
                                 "--fields wants names separated by commas (at most %d, "
                                 "each 1 to %d bytes)",
                                 TG_MAX_FIELDS, TG_MAX_FIELD_NAME);
            return -1;
        }
        tg_event_type_set_fields(type, (const char *const *)list, count);
        ctl_args_free_list(&list, count);
    }
    const char *reason = NULL;
    if (tg_event_type_validate(type, &reason) != 0) {
        ctl_args_usage_error("register", "invalid event type \"%s\": %s", name,
                             reason ? reason : "invalid");
        tg_event_type_destroy(&type);
        return -1;
    }
    *type_p = type;
    return 0;
}

int ctl_register_run(ctl_context_t *ctx, int argc, char **argv)
{
    tg_event_type_t *type = NULL;
    int parsed = s_parse(ctx, argc, argv, &type);
    if (parsed != 0)
        return parsed > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;

    tg_envelope_t *request = tg_envelope_new(TG_CMD_REGISTER);
    request->event_type = type;
    tg_envelope_t *reply = NULL;
    int rc;
    if (ctl_request_call(ctx->cfg.ingest_ack, request, ctx->cfg.timeout_ms, &reply) != 0)
        rc = ctl_request_unreachable("ingest", ctx->cfg.ingest_ack, ctx->cfg.timeout_ms);
    else if (reply->command == TG_CMD_REJECTED)
        rc = ctl_request_refused(ctx, "register", reply);
    else if (reply->command != TG_CMD_ACCEPTED)
        rc = ctl_request_unexpected("ingest", reply);
    else {
        if (ctx->json) {
            json_t *out = json_pack("{s:s}", "registered", type->name);
            if (out)
                json_dumpf(out, stdout, JSON_COMPACT);
            fputc('\n', stdout);
            json_decref(out);
        } else
            printf("registered %s\n", type->name);
        rc = CTL_EXIT_OK;
    }
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&request);
    return rc;
}
