/*  telegraphy-ctl monitor: the ZeroMQ socket events of every process
    (zmq_socket_monitor), as the router publishes them, one line each.
*/
#include <getopt.h>
#include <stdio.h>

#include "ctl.h"
#include "ctl_args.h"
#include "ctl_sub.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " CTL_PROGRAM " [OPTIONS] monitor [--count N] [--timeout-ms MS] [--json]\n"
            "Prints the ZeroMQ socket events of every process (router, ingest, edges) as the\n"
            "router publishes them on its monitor socket (--monitor, TELEGRAPHY_MONITOR), one\n"
            "line each: TIME ROLE INSTANCE ENDPOINT EVENT value=N. Events: connected,\n"
            "disconnected, accepted, listening, closed, bind_failed, accept_failed,\n"
            "close_failed, handshake_succeeded, handshake_failed(_protocol|_auth). The\n"
            "value is libzmq's: a descriptor, or an errno for failures. Runs until Ctrl-C.\n"
            "\n"
            "  --count N         stop after N events\n"
            "  --timeout-ms MS   stop after MS milliseconds (exit 0)\n"
            "  --json            one JSON object per line: {\"time\", \"ts\", \"role\",\n"
            "                    \"instance\", \"endpoint\", \"event\", \"value\"}\n"
            "\n"
            "The global --timeout-ms (before the command) bounds the wait for the\n"
            "connection to the monitor socket.\n"
            "\n" CTL_EXIT_CODES_HELP);
}

enum { S_OPT_COUNT = CTL_ARGS_OPT_OWN, S_OPT_TIMEOUT };

static const struct option s_options[] = {
    {"count", required_argument, NULL, S_OPT_COUNT},
    {"timeout-ms", required_argument, NULL, S_OPT_TIMEOUT},
    {"json", no_argument, NULL, CTL_ARGS_OPT_JSON},
    {"help", no_argument, NULL, CTL_ARGS_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const ctl_args_command_t s_command = {"monitor", s_usage, s_options};

static bool s_print(void *arg, const tg_envelope_t *env)
{
    const ctl_context_t *ctx = arg;
    ctl_sub_print_monitor(stdout, env, ctx->json);
    return true;
}

int ctl_monitor_run(ctl_context_t *ctx, int argc, char **argv)
{
    uint64_t count = 0, timeout_ms = 0;
    ctl_args_begin();
    int outcome;
    while ((outcome = ctl_args_next(ctx, &s_command, argc, argv)) > 0) {
        uint64_t *target = outcome == S_OPT_COUNT ? &count : &timeout_ms;
        if (ctl_args_uint(optarg, 1, UINT32_MAX, target) != 0)
            return ctl_args_exit_code(
                ctl_args_usage_error("monitor", "%s must be a whole number from 1 to 4294967295",
                                     outcome == S_OPT_COUNT ? "--count" : "--timeout-ms"));
    }
    if (outcome == CTL_ARGS_DONE)
        outcome = ctl_args_operand(&s_command, argc, argv, NULL, NULL);
    if (outcome != CTL_ARGS_DONE)
        return ctl_args_exit_code(outcome);
    return ctl_sub_run(ctx, "MONITOR", TG_CMD_MONITOR, count, timeout_ms, s_print, ctx);
}
