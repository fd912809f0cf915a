/*  ctl_args: small helpers for the commands' own arguments. */
#ifndef CTL_ARGS_H
#define CTL_ARGS_H

#include <stddef.h>
#include <stdint.h>

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
   --help)" to stderr and returns CTL_EXIT_USAGE. */
int ctl_args_usage_error(const char *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
