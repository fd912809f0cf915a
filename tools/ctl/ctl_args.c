/*  ctl_args: helpers for the commands' own arguments, see ctl_args.h. */
#include "ctl_args.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

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
    char **items = calloc(count, sizeof(char *));
    if (!items)
        return -1;
    const char *start = text;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len == 0 || len > max_item || !(items[i] = strndup(start, len))) {
            ctl_args_free_list(&items, i);
            return -1;
        }
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
    return CTL_EXIT_USAGE;
}
