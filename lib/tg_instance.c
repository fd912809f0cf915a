/*  tg_instance: see tg_instance.h. */
#include "tg_instance.h"

#include <ctype.h>
#include <czmq.h>

void tg_instance_new(const char *role, char *out, size_t size)
{
    /* zuuid reads /dev/urandom; its first 16 hex digits are 64 random bits. */
    zuuid_t *uuid = zuuid_new();
    snprintf(out, size, "%.32s-%.16s", role, uuid ? zuuid_str(uuid) : "0000000000000000");
    zuuid_destroy(&uuid);
    /* zuuid prints upper case; ids have always been lower case in logs. */
    for (char *c = out; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}
