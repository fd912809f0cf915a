/*  tg_clock: see tg_clock.h. The only file of the gateway that reads the
    machine's clocks. */
#include "tg_clock.h"

#include <time.h>

tg_now_t tg_clock_read(void)
{
    struct timespec mono, wall;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &wall);
    tg_now_t now = {(int64_t)mono.tv_sec * 1000 + mono.tv_nsec / 1000000,
                    (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000};
    return now;
}
