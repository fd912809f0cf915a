/*  telegraphy-ctl: the operator's command line. Parses the global options
    (tg_config: flags and TELEGRAPHY_* variables) and dispatches to the
    command; each command parses its own arguments.
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_token.h"
#include "tg_alloc.h"
#include "tg_clock.h"

//  The secret and resume lifetime serve `token` (it mints locally).
#define CTL_OPTIONS                                                                                \
    (TG_OPT_INGEST_ACK | TG_OPT_CONTROL | TG_OPT_MONITOR | TG_OPT_TIMEOUT_MS | TG_OPT_SECRET |     \
     TG_OPT_RESUME_TTL)

#define CTL_SUMMARY                                                                                \
    "       " CTL_PROGRAM " [OPTIONS] COMMAND [ARGS...]   (COMMAND --help for details)\n"          \
    "Operates a Telegraphy gateway from the shell.\n"                                              \
    "\n"                                                                                           \
    "Commands:\n"                                                                                  \
    "  register NAME [--audience A] [--ttl S] [--guaranteed] [--fields a,b] [--client-publish]\n"  \
    "                     declare an event type; exits 0 once the router knows it\n"               \
    "  publish NAME [--kwargs JSON] [--to-users a,b]\n"                                            \
    "                     publish one event; prints its publication id once accepted\n"            \
    "  status [--watch]   every process: uptime, sessions, subscriptions, rates, queues,\n"        \
    "                     drops; --watch refreshes it every second\n"                              \
    "  token (--user ID | --anonymous) [--name N] [--groups a,b] [--ttl S] [--resume --cid C]\n"   \
    "                     mint a token signed with the secret; prints it alone on stdout\n"        \
    "  monitor [--count N] [--timeout-ms MS]\n"                                                    \
    "                     live ZeroMQ socket events of every process, one line each\n"             \
    "  tap [PATTERN] [--filter QUERY] [--count N] [--timeout-ms MS]\n"                             \
    "                     live events as they leave the router, one line each\n"                   \
    "\n"                                                                                           \
    "  --json             machine-readable output (also accepted after COMMAND)\n"                 \
    "\n" CTL_EXIT_CODES_TEXT

int main(int argc, char **argv)
{
    //  A Ctrl-C should end the command at once, not be turned by czmq into
    //  an interrupted wait that looks like a timeout.
    zsys_handler_set(NULL);

    ctl_context_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.now = tg_clock_read(); //  the one reading the commands are given
    //  --json is ours, not tg_config's: take it out wherever it is (it
    //  means the same before and after the command).
    char **args = tg_calloc((size_t)argc + 1, sizeof(char *));
    int count = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && streq(argv[i], "--json"))
            ctx.json = true;
        else
            args[count++] = argv[i];
    }
    int rest = count;
    int rc = tg_config_load(&ctx.cfg, CTL_OPTIONS, count, args, CTL_PROGRAM, CTL_SUMMARY, &rest);
    if (rc != 0) {
        free(args);
        return rc == 1 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
    }
    if (rest >= count) {
        fprintf(stderr, "%s: COMMAND is missing (see %s --help)\n", CTL_PROGRAM, CTL_PROGRAM);
        free(args);
        return CTL_EXIT_USAGE;
    }
    const char *command = args[rest];
    int command_argc = count - rest;
    char **command_argv = args + rest;
    if (streq(command, "register"))
        rc = ctl_register_run(&ctx, command_argc, command_argv);
    else if (streq(command, "publish"))
        rc = ctl_publish_run(&ctx, command_argc, command_argv);
    else if (streq(command, "status"))
        rc = ctl_status_run(&ctx, command_argc, command_argv);
    else if (streq(command, "token"))
        rc = ctl_token_run(&ctx, command_argc, command_argv);
    else if (streq(command, "monitor"))
        rc = ctl_monitor_run(&ctx, command_argc, command_argv);
    else if (streq(command, "tap"))
        rc = ctl_tap_run(&ctx, command_argc, command_argv);
    else {
        fprintf(stderr, "%s: unknown command \"%s\" (see %s --help)\n", CTL_PROGRAM, command,
                CTL_PROGRAM);
        rc = CTL_EXIT_USAGE;
    }
    free(args);
    return rc;
}
