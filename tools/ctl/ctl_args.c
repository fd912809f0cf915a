/*  ctl_args: the commands' own arguments, see ctl_args.h. */
#include "ctl_args.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "tg_alloc.h"

int ctl_args_split(const char *text, size_t max_item, char ***items_p, size_t *count_p)
{
    assert(text && items_p && count_p);
    *items_p = NULL;
    *count_p = 0;
    if (!*text)
        return 0;
    size_t count = 1;
    for (const char *c = text; *c; c++)
        count += *c == ',';
    char **items = tg_calloc(count, sizeof(char *));
    const char *start = text;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len == 0 || len > max_item) {
            ctl_args_free_list(&items, i);
            return -1;
        }
        items[i] = tg_strndup(start, len);
        start = end ? end + 1 : start + len;
    }
    *items_p = items;
    *count_p = count;
    return 0;
}

void ctl_args_free_list(char ***items_p, size_t count)
{
    assert(items_p);
    if (!*items_p)
        return;
    for (size_t i = 0; i < count; i++)
        free((*items_p)[i]);
    free(*items_p);
    *items_p = NULL;
}

int ctl_args_uint(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    assert(text && value);
    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno || *end || parsed < min || parsed > max)
        return -1;
    *value = parsed;
    return 0;
}

int ctl_args_usage_error(const char *command, const char *format, ...)
{
    fprintf(stderr, "%s %s: ", CTL_PROGRAM, command);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, " (see %s %s --help)\n", CTL_PROGRAM, command);
    return CTL_ARGS_USAGE;
}

void ctl_args_begin(void)
{
    optind = 0; //  glibc: full re-initialisation, permuting options after operands
    opterr = 0; //  the messages are ours
}

int ctl_args_next(ctl_context_t *ctx, const ctl_args_command_t *command, int argc, char **argv)
{
    assert(ctx && command);
    while (true) {
        int option = getopt_long(argc, argv, ":h", command->options, NULL);
        switch (option) {
        case -1:
            return CTL_ARGS_DONE;
        case CTL_ARGS_OPT_JSON:
            ctx->json = true;
            break;
        case CTL_ARGS_OPT_HELP:
        case 'h':
            command->usage(stdout);
            return CTL_ARGS_HELP;
        case ':':
            return ctl_args_usage_error(command->name, "%s needs a value", argv[optind - 1]);
        case '?':
            return ctl_args_usage_error(command->name, "unknown option \"%s\"", argv[optind - 1]);
        default:
            return option;
        }
    }
}

int ctl_args_operand(const ctl_args_command_t *command, int argc, char **argv, const char *name,
                     const char **operand_p)
{
    assert(command);
    if (!name) {
        if (optind != argc)
            return ctl_args_usage_error(command->name, "unexpected argument \"%s\"", argv[optind]);
        return CTL_ARGS_DONE;
    }
    assert(operand_p);
    if (optind == argc)
        return ctl_args_usage_error(command->name, "%s is missing", name);
    if (optind != argc - 1)
        return ctl_args_usage_error(command->name, "one %s expected", name);
    *operand_p = argv[optind];
    return CTL_ARGS_DONE;
}

int ctl_args_exit_code(int outcome)
{
    return outcome == CTL_ARGS_HELP ? CTL_EXIT_OK : CTL_EXIT_USAGE;
}
