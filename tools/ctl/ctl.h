/*  telegraphy-ctl: what every command shares (exit codes, the parsed global
    options) and the commands' entry points, dispatched by main.c.
*/
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>

#include "tg_clock.h"
#include "tg_config.h"

#define CTL_PROGRAM "telegraphy-ctl"

/* Exit codes (documented in --help; scripts rely on them). */
#define CTL_EXIT_OK          0 /* done; the gateway accepted */
#define CTL_EXIT_REFUSED     1 /* the gateway answered with a refusal */
#define CTL_EXIT_USAGE       2 /* bad command line; nothing was sent */
#define CTL_EXIT_UNREACHABLE 3 /* no (usable) answer within --timeout-ms */

#define CTL_EXIT_CODES_TEXT                                                                        \
    "Exit status: 0 ok, 1 refused by the gateway, 2 usage error, 3 gateway\n"                      \
    "unreachable or no answer within --timeout-ms."
#define CTL_EXIT_CODES_HELP CTL_EXIT_CODES_TEXT "\n"

typedef struct {
    tg_config_t cfg; /* endpoints and timeout (flags and TELEGRAPHY_* variables) */
    bool json;       /* --json: machine-readable output on stdout */
    tg_now_t now;    /* when the command started: main reads the clock, once */
} ctl_context_t;

/* Each runs one command. argv[0] is the command's name, the rest its own
   arguments (options may come before or after the positional ones).
   Returns the process exit code. */
int ctl_register_run(ctl_context_t *ctx, int argc, char **argv);
int ctl_publish_run(ctl_context_t *ctx, int argc, char **argv);
int ctl_status_run(ctl_context_t *ctx, int argc, char **argv);
int ctl_monitor_run(ctl_context_t *ctx, int argc, char **argv);
int ctl_tap_run(ctl_context_t *ctx, int argc, char **argv);

#endif
