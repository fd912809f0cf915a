/*  tg_rate: per-second rates from counters, time passed in. */
#include <criterion/criterion.h>

#include "tg_rate.h"

/* The first sample has nothing to compare with: 0. */
Test(tg_rate, first_sample_is_zero)
{
    tg_rate_t rate = {0};
    cr_assert_eq(tg_rate_sample(&rate, 500, 10), 0);
}

/* 500 more in half a second is 1000 per second, at any clock value (a
   small one, as on a freshly booted machine, or a huge one). */
Test(tg_rate, rate_is_delta_over_elapsed_at_any_clock)
{
    int64_t starts[] = {0, 7, 1000000, INT64_MAX / 4};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        tg_rate_t rate = {0};
        tg_rate_sample(&rate, 100, starts[i]);
        cr_assert_eq(tg_rate_sample(&rate, 600, starts[i] + 500), 1000);
        cr_assert_eq(rate.per_s, 1000);
    }
}

/* Two samples in the same millisecond do not divide by zero. */
Test(tg_rate, same_millisecond_counts_as_one)
{
    tg_rate_t rate = {0};
    tg_rate_sample(&rate, 0, 50);
    cr_assert_eq(tg_rate_sample(&rate, 3, 50), 3000);
}

/* A counter that went backwards (a restarted peer) gives 0, not garbage. */
Test(tg_rate, counter_going_backwards_is_zero)
{
    tg_rate_t rate = {0};
    tg_rate_sample(&rate, 1000, 0);
    cr_assert_eq(tg_rate_sample(&rate, 10, 1000), 0);
    cr_assert_eq(tg_rate_sample(&rate, 20, 2000), 10);
}
