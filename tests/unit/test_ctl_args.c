/*  ctl_args: the getopt loop, operand check and value parsers every
    telegraphy-ctl command shares. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "ctl_args.h"

enum { S_OPT_NAME = CTL_ARGS_OPT_OWN, S_OPT_FLAG };

static const struct option s_options[] = {
    {"name", required_argument, NULL, S_OPT_NAME},
    {"flag", no_argument, NULL, S_OPT_FLAG},
    {"json", no_argument, NULL, CTL_ARGS_OPT_JSON},
    {"help", no_argument, NULL, CTL_ARGS_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int s_usage_calls;

static void s_usage(FILE *out)
{
    (void)out;
    s_usage_calls++;
}

static const ctl_args_command_t s_command = {"demo", s_usage, s_options};

static ctl_context_t s_ctx;

#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])) - 1)

/* Own options come back in order with their values, options given after
   the operand included, and the operand is then at optind. */
Test(ctl_args, own_options_come_back_in_order_and_operands_follow)
{
    char *argv[] = {"demo", "--name", "x", "OPERAND", "--flag", NULL};
    int argc = ARGC(argv);
    ctl_args_begin();
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, argc, argv), S_OPT_NAME);
    cr_assert_str_eq(optarg, "x");
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, argc, argv), S_OPT_FLAG);
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, argc, argv), CTL_ARGS_DONE);
    cr_assert_str_eq(argv[optind], "OPERAND");
    cr_assert_not(s_ctx.json);
    cr_assert_eq(s_usage_calls, 0);
}

/* --json sets the context's flag and is not handed to the command. */
Test(ctl_args, json_sets_the_context_and_is_not_returned)
{
    char *argv[] = {"demo", "--json", "--flag", NULL};
    ctl_args_begin();
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, ARGC(argv), argv), S_OPT_FLAG);
    cr_assert(s_ctx.json);
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, ARGC(argv), argv), CTL_ARGS_DONE);
}

/* --help and -h print the command's usage and end parsing with exit 0. */
Test(ctl_args, help_prints_usage_and_exits_zero)
{
    char *long_argv[] = {"demo", "--flag", "--help", "--bogus", NULL};
    ctl_args_begin();
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, ARGC(long_argv), long_argv), S_OPT_FLAG);
    int outcome = ctl_args_next(&s_ctx, &s_command, ARGC(long_argv), long_argv);
    cr_assert_eq(outcome, CTL_ARGS_HELP);
    cr_assert_eq(s_usage_calls, 1);
    cr_assert_eq(ctl_args_exit_code(outcome), CTL_EXIT_OK);

    char *short_argv[] = {"demo", "-h", NULL};
    ctl_args_begin();
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, ARGC(short_argv), short_argv), CTL_ARGS_HELP);
    cr_assert_eq(s_usage_calls, 2);
}

/* An option without its value is a usage error that names the option. */
Test(ctl_args, missing_value_is_a_usage_error, .init = cr_redirect_stderr)
{
    char *argv[] = {"demo", "--name", NULL};
    ctl_args_begin();
    int outcome = ctl_args_next(&s_ctx, &s_command, ARGC(argv), argv);
    cr_assert_eq(outcome, CTL_ARGS_USAGE);
    cr_assert_eq(ctl_args_exit_code(outcome), CTL_EXIT_USAGE);
    cr_assert_stderr_eq_str(
        "telegraphy-ctl demo: --name needs a value (see telegraphy-ctl demo --help)\n");
}

/* An unknown option is a usage error that quotes it as given. */
Test(ctl_args, unknown_option_is_a_usage_error, .init = cr_redirect_stderr)
{
    char *argv[] = {"demo", "--flag=1", NULL};
    ctl_args_begin();
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, ARGC(argv), argv), CTL_ARGS_USAGE);
    cr_assert_stderr_eq_str(
        "telegraphy-ctl demo: unknown option \"--flag=1\" (see telegraphy-ctl demo --help)\n");
}

/* Parses argv to the end of the options, asserting none is left. */
static void s_skip_options(int argc, char **argv)
{
    ctl_args_begin();
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, argc, argv), CTL_ARGS_DONE);
}

/* Exactly one operand is handed out. */
Test(ctl_args, one_operand_is_handed_out)
{
    char *argv[] = {"demo", "shop.order", NULL};
    s_skip_options(ARGC(argv), argv);
    const char *operand = NULL;
    cr_assert_eq(ctl_args_operand(&s_command, ARGC(argv), argv, "NAME", &operand), CTL_ARGS_DONE);
    cr_assert_str_eq(operand, "shop.order");
}

/* A missing operand is named in the usage error. */
Test(ctl_args, missing_operand_is_named, .init = cr_redirect_stderr)
{
    char *argv[] = {"demo", NULL};
    s_skip_options(ARGC(argv), argv);
    const char *operand = NULL;
    cr_assert_eq(ctl_args_operand(&s_command, ARGC(argv), argv, "NAME", &operand), CTL_ARGS_USAGE);
    cr_assert_null(operand);
    cr_assert_stderr_eq_str(
        "telegraphy-ctl demo: NAME is missing (see telegraphy-ctl demo --help)\n");
}

/* Two operands where one is expected are refused. */
Test(ctl_args, second_operand_is_refused, .init = cr_redirect_stderr)
{
    char *argv[] = {"demo", "a", "b", NULL};
    s_skip_options(ARGC(argv), argv);
    const char *operand = NULL;
    cr_assert_eq(ctl_args_operand(&s_command, ARGC(argv), argv, "NAME", &operand), CTL_ARGS_USAGE);
    cr_assert_stderr_eq_str(
        "telegraphy-ctl demo: one NAME expected (see telegraphy-ctl demo --help)\n");
}

/* A command without operands refuses any, quoting the first. */
Test(ctl_args, command_without_operands_refuses_one, .init = cr_redirect_stderr)
{
    char *none[] = {"demo", "--flag", NULL};
    ctl_args_begin();
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, ARGC(none), none), S_OPT_FLAG);
    cr_assert_eq(ctl_args_next(&s_ctx, &s_command, ARGC(none), none), CTL_ARGS_DONE);
    cr_assert_eq(ctl_args_operand(&s_command, ARGC(none), none, NULL, NULL), CTL_ARGS_DONE);

    char *one[] = {"demo", "extra", NULL};
    s_skip_options(ARGC(one), one);
    cr_assert_eq(ctl_args_operand(&s_command, ARGC(one), one, NULL, NULL), CTL_ARGS_USAGE);
    cr_assert_stderr_eq_str(
        "telegraphy-ctl demo: unexpected argument \"extra\" (see telegraphy-ctl demo --help)\n");
}

/* A comma list splits into its items; "" is no items; an empty or too
   long item refuses the whole list. */
Test(ctl_args, split_takes_items_and_refuses_empty_or_long_ones)
{
    char **items = NULL;
    size_t count = 0;
    cr_assert_eq(ctl_args_split("a,bc", 2, &items, &count), 0);
    cr_assert_eq(count, 2);
    cr_assert_str_eq(items[0], "a");
    cr_assert_str_eq(items[1], "bc");
    ctl_args_free_list(&items, count);
    cr_assert_null(items);
    ctl_args_free_list(&items, count);

    cr_assert_eq(ctl_args_split("", 2, &items, &count), 0);
    cr_assert_eq(count, 0);
    cr_assert_null(items);
    cr_assert_eq(ctl_args_split("a,,b", 2, &items, &count), -1);
    cr_assert_null(items);
    cr_assert_eq(ctl_args_split("a,bcd", 2, &items, &count), -1);
    cr_assert_null(items);
}

/* Integers are plain decimal digits within the bounds. */
Test(ctl_args, uint_takes_digits_within_bounds)
{
    uint64_t value = 0;
    cr_assert_eq(ctl_args_uint("42", 0, 100, &value), 0);
    cr_assert_eq(value, 42);
    cr_assert_eq(ctl_args_uint("101", 0, 100, &value), -1);
    cr_assert_eq(ctl_args_uint("-1", 0, 100, &value), -1);
    cr_assert_eq(ctl_args_uint("+1", 0, 100, &value), -1);
    cr_assert_eq(ctl_args_uint("1s", 0, 100, &value), -1);
    cr_assert_eq(ctl_args_uint("", 0, 100, &value), -1);
    cr_assert_eq(value, 42);
}
