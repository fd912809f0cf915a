/*  Unit tests for loadgen_histogram: bounded latency percentiles. */
#include "loadgen_histogram.h"

#include <criterion/criterion.h>
#include <math.h>

/* Under a millisecond every value is exact: 1..1000 once each gives the
   textbook percentiles (nearest rank). */
Test(loadgen_histogram, values_under_a_millisecond_are_exact)
{
    loadgen_histogram_t *h = loadgen_histogram_new();
    for (int v = 1000; v >= 1; v--)
        loadgen_histogram_record(h, v);
    cr_assert_eq(loadgen_histogram_count(h), 1000);
    cr_assert_float_eq(loadgen_histogram_percentile(h, 50), 500.0, 1e-9);
    cr_assert_float_eq(loadgen_histogram_percentile(h, 90), 900.0, 1e-9);
    cr_assert_float_eq(loadgen_histogram_percentile(h, 99), 990.0, 1e-9);
    cr_assert_float_eq(loadgen_histogram_percentile(h, 100), 1000.0, 1e-9);
    cr_assert_eq(loadgen_histogram_max(h), 1000);
    loadgen_histogram_destroy(&h);
}

/* Above a millisecond a percentile is within 1% of the true one, up to a
   minute (a log-uniform spread from 1 ms to 60 s). */
Test(loadgen_histogram, large_values_are_within_one_percent)
{
    loadgen_histogram_t *h = loadgen_histogram_new();
    const int n = 100000;
    double values[100000];
    for (int i = 0; i < n; i++) {
        values[i] = floor(1000.0 * pow(60000.0, (double)i / (n - 1)));
        loadgen_histogram_record(h, (int64_t)values[i]);
    }
    double percents[] = {1, 10, 50, 90, 99, 99.9};
    for (size_t k = 0; k < sizeof(percents) / sizeof(percents[0]); k++) {
        int rank = (int)ceil(percents[k] / 100.0 * n - 1e-9);
        double truth = values[rank - 1];
        double got = loadgen_histogram_percentile(h, percents[k]);
        cr_assert(fabs(got - truth) <= 0.01 * truth, "p%.1f got=%.1f truth=%.1f", percents[k], got,
                  truth);
    }
    cr_assert_eq(loadgen_histogram_max(h), 60000000);
    loadgen_histogram_destroy(&h);
}

/* The maximum is exact and no percentile exceeds it; values past the top
   octave still count. */
Test(loadgen_histogram, maximum_is_exact_and_caps_percentiles)
{
    loadgen_histogram_t *h = loadgen_histogram_new();
    loadgen_histogram_record(h, 123457);
    cr_assert_eq(loadgen_histogram_max(h), 123457);
    cr_assert_leq(loadgen_histogram_percentile(h, 100), 123457.0);
    cr_assert_geq(loadgen_histogram_percentile(h, 100), 123457.0 * 0.99);
    loadgen_histogram_record(h, (int64_t)1 << 40);
    cr_assert_eq(loadgen_histogram_count(h), 2);
    cr_assert_eq(loadgen_histogram_max(h), (int64_t)1 << 40);
    loadgen_histogram_destroy(&h);
}

/* An empty histogram reports zeros; a negative sample counts as 0. */
Test(loadgen_histogram, empty_reports_zero_and_negative_counts_as_zero)
{
    loadgen_histogram_t *h = loadgen_histogram_new();
    cr_assert_float_eq(loadgen_histogram_percentile(h, 50), 0.0, 1e-9);
    cr_assert_eq(loadgen_histogram_max(h), 0);
    loadgen_histogram_record(h, -5);
    cr_assert_eq(loadgen_histogram_count(h), 1);
    cr_assert_float_eq(loadgen_histogram_percentile(h, 99), 0.0, 1e-9);
    loadgen_histogram_destroy(&h);
    loadgen_histogram_destroy(&h); /* safe twice */
    cr_assert_null(h);
}
