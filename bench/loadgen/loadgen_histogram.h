/*  loadgen_histogram: a bounded log-linear latency histogram (µs).

    HdrHistogram's idea in a few lines: values under 1,024 µs get one bucket
    each (1 µs resolution under a millisecond), every octave above is split
    into 128 buckets (relative error under 0.8%), up to 2^26 µs (67 s);
    larger values land in the last bucket. The exact maximum and minimum
    are kept on the side. Fixed size (about 24 KiB), no allocation per
    sample, so a run of any length costs the same memory.
*/
#ifndef LOADGEN_HISTOGRAM_H
#define LOADGEN_HISTOGRAM_H

#include <stdint.h>

typedef struct _loadgen_histogram_t loadgen_histogram_t;

/* Caller owns the result; NULL on out-of-memory. */
loadgen_histogram_t *loadgen_histogram_new(void);
/* Safe twice; nulls the caller's pointer. */
void loadgen_histogram_destroy(loadgen_histogram_t **self_p);

/* Records one sample in µs; negative values (clock steps) count as 0. */
void loadgen_histogram_record(loadgen_histogram_t *self, int64_t value_us);

/* Number of samples recorded. */
uint64_t loadgen_histogram_count(const loadgen_histogram_t *self);
/* Exact largest sample (0 when empty). */
int64_t loadgen_histogram_max(const loadgen_histogram_t *self);
/* The smallest value v such that at least `percent`% of the samples are
   <= v, as the middle of v's bucket (exact under 1,024 µs); 0 when empty.
   Never above the exact maximum. */
double loadgen_histogram_percentile(const loadgen_histogram_t *self, double percent);

#endif
