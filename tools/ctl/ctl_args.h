/*  ctl_args: the commands' own arguments: the getopt loop every command
    shares (--json, --help, missing values, unknown options), the operand
    check, and small value parsers.
*/
#ifndef CTL_ARGS_H
#define CTL_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl.h"

/* Values of the options every command takes, whose table entries are
   {"json", no_argument, NULL, CTL_ARGS_OPT_JSON} and
   {"help", no_argument, NULL, CTL_ARGS_OPT_HELP}. They lie above every
   char, so they clash with no short option; a command numbers its own
   options from CTL_ARGS_OPT_OWN. */
enum { CTL_ARGS_OPT_JSON = 0x100, CTL_ARGS_OPT_HELP, CTL_ARGS_OPT_OWN };

/* A command as its argument parsing sees it. */
typedef struct {
    const char *name;             /* "publish": how messages name the command */
    void (*usage)(FILE *out);     /* prints the command's --help text */
    const struct option *options; /* its getopt_long table, --json and --help included */
} ctl_args_command_t;

/* How parsing a command line ended (ctl_args_next also returns option
   values, which are positive). */
#define CTL_ARGS_DONE  0  /* parsed: go on */
#define CTL_ARGS_HELP  -1 /* the usage was printed on stdout (--help, -h) */
#define CTL_ARGS_USAGE -2 /* a usage error was printed on stderr */

/* Starts parsing a command's argv (argv[0] is the command's name) with
   getopt_long: call it before the first ctl_args_next(). */
void ctl_args_begin(void);

/* Returns the value of the command's next own option (optarg holds its
   argument), or CTL_ARGS_DONE when the options are over (the operands then
   start at optind: glibc moves options given after them to the front),
   CTL_ARGS_HELP after printing the usage, or CTL_ARGS_USAGE after
   printing a usage error (a missing value, an unknown option). --json sets
   ctx->json and is not returned. */
int ctl_args_next(ctl_context_t *ctx, const ctl_args_command_t *command, int argc, char **argv);

/* Checks the operands left after the options: exactly one, called `name`
   in the messages ("NAME is missing"), stored in *operand_p; or, when
   name is NULL, none at all. Returns CTL_ARGS_DONE, or CTL_ARGS_USAGE
   after printing a usage error. */
int ctl_args_operand(const ctl_args_command_t *command, int argc, char **argv, const char *name,
                     const char **operand_p);

/* The exit code of a command whose parsing ended in `outcome` other than
   CTL_ARGS_DONE: CTL_EXIT_OK after help, CTL_EXIT_USAGE otherwise. */
int ctl_args_exit_code(int outcome);

/* Splits "a,b,c" into a new array of new strings; "" gives no items.
   Returns 0, or -1 when an item is empty ("a,,b") or longer than
   max_item bytes (then nothing is allocated). Free with ctl_args_free_list. */
int ctl_args_split(const char *text, size_t max_item, char ***items_p, size_t *count_p);

/* Frees a list from ctl_args_split; safe on NULL and twice. */
void ctl_args_free_list(char ***items_p, size_t count);

/* Parses a decimal integer in [min, max] (no sign, no trailing text).
   Returns 0, or -1. */
int ctl_args_uint(const char *text, uint64_t min, uint64_t max, uint64_t *value);

/* Prints "telegraphy-ctl COMMAND: MESSAGE (see telegraphy-ctl COMMAND
   --help)" to stderr and returns CTL_ARGS_USAGE. */
int ctl_args_usage_error(const char *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
