/*  loadgen_histogram: see loadgen_histogram.h. */
#include "loadgen_histogram.h"

#include <math.h>
#include <stdlib.h>

/* Values below 2^LINEAR_BITS have a bucket each; above, each octave has
   2^SUB_BITS buckets; octaves stop at 2^TOP_BITS. */
#define LOADGEN_HISTOGRAM_LINEAR_BITS 10
#define LOADGEN_HISTOGRAM_SUB_BITS    7
#define LOADGEN_HISTOGRAM_TOP_BITS    26
#define LOADGEN_HISTOGRAM_LINEAR      (1 << LOADGEN_HISTOGRAM_LINEAR_BITS)
#define LOADGEN_HISTOGRAM_SUB         (1 << LOADGEN_HISTOGRAM_SUB_BITS)
#define LOADGEN_HISTOGRAM_BUCKETS                                                                  \
    (LOADGEN_HISTOGRAM_LINEAR +                                                                    \
     (LOADGEN_HISTOGRAM_TOP_BITS - LOADGEN_HISTOGRAM_LINEAR_BITS) * LOADGEN_HISTOGRAM_SUB)

struct _loadgen_histogram_t {
    uint64_t counts[LOADGEN_HISTOGRAM_BUCKETS]; /* samples per bucket */
    uint64_t count;                             /* samples recorded */
    int64_t max;                                /* exact largest sample */
};

loadgen_histogram_t *loadgen_histogram_new(void)
{
    return calloc(1, sizeof(loadgen_histogram_t));
}

void loadgen_histogram_destroy(loadgen_histogram_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

static size_t s_bucket_of(uint64_t value)
{
    if (value < LOADGEN_HISTOGRAM_LINEAR)
        return (size_t)value;
    int octave = 63 - __builtin_clzll(value); /* >= LINEAR_BITS */
    if (octave >= LOADGEN_HISTOGRAM_TOP_BITS)
        return LOADGEN_HISTOGRAM_BUCKETS - 1;
    size_t sub =
        (size_t)(value >> (octave - LOADGEN_HISTOGRAM_SUB_BITS)) & (LOADGEN_HISTOGRAM_SUB - 1);
    return LOADGEN_HISTOGRAM_LINEAR +
           (size_t)(octave - LOADGEN_HISTOGRAM_LINEAR_BITS) * LOADGEN_HISTOGRAM_SUB + sub;
}

/* Lowest value of a bucket and its width. */
static void s_bucket_range(size_t bucket, double *low, double *width)
{
    if (bucket < LOADGEN_HISTOGRAM_LINEAR) {
        *low = (double)bucket;
        *width = 1;
        return;
    }
    size_t octave =
        (bucket - LOADGEN_HISTOGRAM_LINEAR) / LOADGEN_HISTOGRAM_SUB + LOADGEN_HISTOGRAM_LINEAR_BITS;
    size_t sub = (bucket - LOADGEN_HISTOGRAM_LINEAR) % LOADGEN_HISTOGRAM_SUB;
    double step = ldexp(1.0, (int)octave - LOADGEN_HISTOGRAM_SUB_BITS);
    *low = ldexp(1.0, (int)octave) + (double)sub * step;
    *width = step;
}

void loadgen_histogram_record(loadgen_histogram_t *self, int64_t value_us)
{
    if (value_us < 0)
        value_us = 0;
    self->counts[s_bucket_of((uint64_t)value_us)]++;
    self->count++;
    if (value_us > self->max)
        self->max = value_us;
}

uint64_t loadgen_histogram_count(const loadgen_histogram_t *self)
{
    return self->count;
}

int64_t loadgen_histogram_max(const loadgen_histogram_t *self)
{
    return self->max;
}

double loadgen_histogram_percentile(const loadgen_histogram_t *self, double percent)
{
    if (self->count == 0)
        return 0;
    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    /* The rank of the sample we want, 1-based: ceil(p% of n), at least 1. */
    /* (the epsilon keeps 99% of 1000 at 990 despite binary fractions) */
    uint64_t rank = (uint64_t)ceil(percent * (double)self->count / 100.0 - 1e-9);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t bucket = 0; bucket < LOADGEN_HISTOGRAM_BUCKETS; bucket++) {
        seen += self->counts[bucket];
        if (seen >= rank) {
            double low, width;
            s_bucket_range(bucket, &low, &width);
            double value = width > 1 ? low + width / 2 : low;
            return value > (double)self->max ? (double)self->max : value;
        }
    }
    return (double)self->max;
}
