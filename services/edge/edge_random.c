/*  edge_random: see edge_random.h. */
#include "edge_random.h"

#include <errno.h>
#include <sys/random.h>

#include "tg_alloc.h"
#include "tg_wamp.h"

void edge_random_bytes(void *out, size_t size)
{
    tg_check(size <= 256);
    /* Up to 256 bytes, getrandom returns them all once the kernel's pool
       is initialised; before that it may be interrupted. */
    ssize_t got;
    do
        got = getrandom(out, size, 0);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)size)
        tg_alloc_fatal("getrandom failed", __FILE__, __LINE__);
}

uint64_t edge_random_id(void)
{
    uint64_t value = 0;
    edge_random_bytes(&value, sizeof(value));
    return value % (uint64_t)TG_WAMP_MAX_ID + 1;
}
