/*  ingest_pubid: publication ids are unique, increasing, and in [1, 2^53]. */
#include <criterion/criterion.h>
#include <inttypes.h>

#include "ingest_pubid.h"
#include "tg_envelope.h"

static ingest_pubid_t *s_pubid;

static void s_setup(void)
{
    s_pubid = ingest_pubid_new();
    cr_assert_not_null(s_pubid);
}

static void s_teardown(void)
{
    ingest_pubid_destroy(&s_pubid);
}

TestSuite(ingest_pubid, .init = s_setup, .fini = s_teardown);

/* With a clock that moves forward, the id is the clock itself (so ids keep
   increasing across restarts of the process). */
Test(ingest_pubid, id_is_the_clock_when_the_clock_moves_forward)
{
    cr_expect_eq(ingest_pubid_next(s_pubid, 1700000000000000), 1700000000000000u);
    cr_expect_eq(ingest_pubid_next(s_pubid, 1700000000000500), 1700000000000500u);
}

/* Two ids in the same microsecond are still different and increasing. */
Test(ingest_pubid, ids_in_the_same_microsecond_are_distinct_and_increasing)
{
    uint64_t first = ingest_pubid_next(s_pubid, 1700000000000000);
    uint64_t second = ingest_pubid_next(s_pubid, 1700000000000000);
    uint64_t third = ingest_pubid_next(s_pubid, 1700000000000000);
    cr_expect_eq(second, first + 1);
    cr_expect_eq(third, second + 1);
}

/* A clock stepping backwards (NTP, a VM resumed) never yields a smaller or
   repeated id. */
Test(ingest_pubid, ids_keep_increasing_when_the_clock_goes_backwards)
{
    uint64_t before = ingest_pubid_next(s_pubid, 1700000000000000);
    uint64_t after = ingest_pubid_next(s_pubid, 1600000000000000);
    uint64_t later = ingest_pubid_next(s_pubid, 1600000000000001);
    cr_expect_eq(after, before + 1);
    cr_expect_eq(later, after + 1);
    cr_expect_eq(ingest_pubid_last(s_pubid), later);
}

/* A clock at zero or before the epoch still gives ids from 1 upwards. */
Test(ingest_pubid, first_id_is_at_least_one_with_a_broken_clock)
{
    cr_expect_eq(ingest_pubid_next(s_pubid, 0), 1u);
    cr_expect_eq(ingest_pubid_next(s_pubid, -5), 2u);
}

/* Ids never leave [1, 2^53]: a clock beyond 2^53 µs is clamped, and once
   2^53 was issued the generator refuses (0) rather than repeat or exceed. */
Test(ingest_pubid, ids_stay_within_two_to_the_53)
{
    uint64_t id = ingest_pubid_next(s_pubid, INT64_MAX);
    cr_expect_eq(id, TG_MAX_ID);
    cr_expect_eq(ingest_pubid_next(s_pubid, INT64_MAX), 0u);
    cr_expect_eq(ingest_pubid_next(s_pubid, 5), 0u);
}

/* A wall clock that wanders back and forth (NTP slews and steps, a VM
   resumed) still yields strictly increasing ids: driven explicitly, from a
   clock near the epoch and from one far ahead of the machine's. */
Test(ingest_pubid, ids_strictly_increase_under_a_wandering_clock)
{
    const int64_t starts[] = {3, 1700000000000000, 4000000000000000};
    for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
        ingest_pubid_t *pubid = ingest_pubid_new();
        uint64_t previous = 0;
        int64_t clock = starts[s];
        for (int i = 0; i < 10000; i++) {
            clock += (i % 7 == 0) ? -250 : 3; //  mostly forward, a step back every 7th
            uint64_t id = ingest_pubid_next(pubid, clock);
            cr_assert_gt(id, previous, "start %" PRId64 " step %d", starts[s], i);
            cr_assert_leq(id, TG_MAX_ID);
            previous = id;
        }
        ingest_pubid_destroy(&pubid);
    }
}
