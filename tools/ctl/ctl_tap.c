/*  telegraphy-ctl tap: the live event stream as it leaves the router, one
    line per event, from the router's droppable TAP side channel.
*/
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_args.h"
#include "ctl_sub.h"
#include "tg_query.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " CTL_PROGRAM " [OPTIONS] tap [PATTERN] [--filter QUERY] [--count N]\n"
            "                      [--timeout-ms MS] [--json]\n"
            "Prints every event the router routes, as it leaves the router, one line each:\n"
            "TIME TOPIC pub_id=N size=N subscriptions=N edges=N (size: body bytes;\n"
            "subscriptions: subscription ids that matched; edges: edges it was sent to).\n"
            "The tap never slows the router: when this command cannot keep up, events are\n"
            "dropped for it and counted in the router's tap_drops (see status).\n"
            "Runs until Ctrl-C.\n"
            "\n"
            "  PATTERN           only topics starting with PATTERN\n"
            "  --filter QUERY    only events whose data match QUERY (the subscription\n"
            "                    filter language, e.g. 'amount > 100 and currency == \"EUR\"')\n"
            "  --count N         stop after N events\n"
            "  --timeout-ms MS   stop after MS milliseconds (exit 0)\n"
            "  --json            one JSON object per line: {\"time\", \"ts\", \"topic\",\n"
            "                    \"pub_id\", \"size\", \"subscriptions\", \"edges\"}\n"
            "\n"
            "The global --timeout-ms (before the command) bounds the wait for the\n"
            "connection to the router's monitor socket.\n"
            "\n" CTL_EXIT_CODES_HELP);
}

enum { S_OPT_COUNT = CTL_ARGS_OPT_OWN, S_OPT_TIMEOUT, S_OPT_FILTER };

static const struct option s_options[] = {
    {"count", required_argument, NULL, S_OPT_COUNT},
    {"timeout-ms", required_argument, NULL, S_OPT_TIMEOUT},
    {"filter", required_argument, NULL, S_OPT_FILTER},
    {"json", no_argument, NULL, CTL_ARGS_OPT_JSON},
    {"help", no_argument, NULL, CTL_ARGS_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const ctl_args_command_t s_command = {"tap", s_usage, s_options};

typedef struct {
    const ctl_context_t *ctx;
    const char *pattern; /* topic prefix, NULL = all */
    tg_query_t *query;   /* --filter, NULL = none */
} s_tap_t;

static bool s_print(void *arg, const tg_envelope_t *env)
{
    s_tap_t *tap = arg;
    if (tap->pattern && strncmp(env->topic, tap->pattern, strlen(tap->pattern)) != 0)
        return false;
    if (tap->query &&
        (!env->body || !tg_query_match(tap->query, zframe_data(env->body), zframe_size(env->body))))
        return false;
    ctl_sub_print_tap(stdout, env, tap->ctx->json);
    return true;
}

int ctl_tap_run(ctl_context_t *ctx, int argc, char **argv)
{
    uint64_t count = 0, timeout_ms = 0;
    const char *filter = NULL;
    ctl_args_begin();
    int outcome;
    while ((outcome = ctl_args_next(ctx, &s_command, argc, argv)) > 0) {
        if (outcome == S_OPT_FILTER) {
            filter = optarg;
            continue;
        }
        uint64_t *target = outcome == S_OPT_COUNT ? &count : &timeout_ms;
        if (ctl_args_uint(optarg, 1, UINT32_MAX, target) != 0)
            return ctl_args_exit_code(
                ctl_args_usage_error("tap", "%s must be a whole number from 1 to 4294967295",
                                     outcome == S_OPT_COUNT ? "--count" : "--timeout-ms"));
    }
    if (outcome != CTL_ARGS_DONE)
        return ctl_args_exit_code(outcome);
    s_tap_t tap = {ctx, NULL, NULL};
    if (argc - optind > 1)
        return ctl_args_exit_code(
            ctl_args_usage_error("tap", "unexpected argument \"%s\"", argv[optind + 1]));
    if (argc - optind == 1)
        tap.pattern = argv[optind];
    if (filter) {
        tg_query_error_t err;
        memset(&err, 0, sizeof err);
        tap.query = tg_query_parse(filter, strlen(filter), NULL, &err);
        if (!tap.query)
            return ctl_args_exit_code(ctl_args_usage_error("tap", "bad --filter: %s", err.message));
    }
    int rc = ctl_sub_run(ctx, "TAP", TG_CMD_TAP, count, timeout_ms, s_print, &tap);
    tg_query_destroy(&tap.query);
    return rc;
}
