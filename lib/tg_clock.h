/*  tg_clock: the time a loop turn runs at.

    Every service loop reads the machine's clocks once per wake-up, with
    tg_clock_read(), and passes the result down (Redis's cached mstime).
    Nothing below a loop reads a clock itself: functions take a tg_now_t
    (or one of its fields), so unit tests drive time explicitly and a test
    never depends on how long the machine has been up.

    The monotonic clock may be small on a freshly booted machine (minutes):
    never use 0 as "unset", never subtract a fixed amount and expect a
    positive result.
*/
#ifndef TG_CLOCK_H
#define TG_CLOCK_H

#include <stdint.h>

typedef struct {
    int64_t mono_ms; /* monotonic milliseconds: deadlines, intervals, uptime */
    int64_t wall_us; /* wall clock, microseconds since the Unix epoch: timestamps, token expiry */
} tg_now_t;

/* The machine's clocks now. Called by loops only (and by main() or a
   command-line tool that has no loop). */
tg_now_t tg_clock_read(void);

/* The wall clock in whole seconds (token `exp` is in seconds). */
static inline int64_t tg_now_wall_s(tg_now_t now)
{
    return now.wall_us / 1000000;
}

/* A tg_now_t for tests: monotonic ms and wall seconds given explicitly. */
static inline tg_now_t tg_now_at(int64_t mono_ms, int64_t wall_s)
{
    tg_now_t now = {mono_ms, wall_s * 1000000};
    return now;
}

#endif
