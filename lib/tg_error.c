/*  tg_error: the refusal text of lib's parsers, see tg_error.h. */
#include "tg_error.h"

#include <stdarg.h>
#include <stdio.h>

void tg_error_set(char *err, size_t errlen, const char *format, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
}
