/*  tg_rate: see tg_rate.h. */
#include "tg_rate.h"

#include <limits.h>

int64_t tg_rate_sample(tg_rate_t *self, uint64_t count, int64_t now_ms)
{
    int64_t per_s = 0;
    if (self->sampled && count >= self->count) {
        int64_t elapsed_ms = now_ms - self->at_ms;
        if (elapsed_ms < 1)
            elapsed_ms = 1;
        uint64_t delta = count - self->count;
        /* Saturates instead of overflowing: a rate above INT64_MAX / 1000
           per ms is not a real one anyway. */
        per_s =
            delta > (uint64_t)(INT64_MAX / 1000) ? INT64_MAX : (int64_t)(delta * 1000) / elapsed_ms;
    }
    self->count = count;
    self->at_ms = now_ms;
    self->sampled = true;
    self->per_s = per_s;
    return per_s;
}
