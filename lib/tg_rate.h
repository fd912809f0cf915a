/*  tg_rate: a per-second rate from a growing counter, sampled at each
    heartbeat (events_in_per_s, events_out_per_s in every process's stats).
    Zero-initialise; the first sample gives 0. Time is passed in. */
#ifndef TG_RATE_H
#define TG_RATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t count; /* the counter at the previous sample */
    int64_t at_ms;  /* monotonic time of the previous sample */
    bool sampled;   /* false until the first sample */
    int64_t per_s;  /* the rate computed at the last sample */
} tg_rate_t;

/* Records `count` at `now_ms` and returns the rate since the previous
   sample, per second (0 for the first sample or a counter that went
   backwards). Also kept in self->per_s for readers between samples. */
int64_t tg_rate_sample(tg_rate_t *self, uint64_t count, int64_t now_ms);

#endif
