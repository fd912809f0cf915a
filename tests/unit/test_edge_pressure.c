/*  Backpressure between the session queues and the router link
    (edge_pressure): which push is a high-water crossing, when a session
    stops waiting, and when the link is told it may resume. */
#include <criterion/criterion.h>

#include "edge_pressure.h"

#define LIMIT 64 /* high water 32, low water 16 */

static edge_pressure_t pressure;
static int clears;

static void s_on_clear(void *arg)
{
    cr_assert_eq(arg, &pressure);
    clears++;
}

static void setup(void)
{
    clears = 0;
    edge_pressure_init(&pressure);
    edge_pressure_listen(&pressure, s_on_clear, &pressure);
}

TestSuite(edge_pressure, .init = setup);

/* Pushes one frame onto a queue of *size frames; returns the crossing. */
static bool s_push(edge_pressure_mark_t *mark, uint32_t *size)
{
    (*size)++;
    return edge_pressure_pushed(&pressure, mark, *size, LIMIT);
}

static void s_pop(edge_pressure_mark_t *mark, uint32_t *size)
{
    (*size)--;
    edge_pressure_popped(&pressure, mark, *size, LIMIT);
}

/* High water is half the queue, low water a quarter; both at least one
   frame, so a tiny queue still crosses and still drains below. */
Test(edge_pressure, marks_are_half_and_a_quarter_of_the_queue_and_at_least_one)
{
    cr_assert_eq(edge_pressure_high(64), 32);
    cr_assert_eq(edge_pressure_low(64), 16);
    cr_assert_eq(edge_pressure_high(1024), 512);
    cr_assert_eq(edge_pressure_low(1024), 256);
    cr_assert_eq(edge_pressure_high(3), 1);
    cr_assert_eq(edge_pressure_low(3), 1);
    cr_assert_eq(edge_pressure_high(1), 1);
    cr_assert_eq(edge_pressure_low(1), 1);
}

/* Only the push that takes the queue from below high water to high water
   is a crossing: a stuck session filling up to its limit stops the link
   once, not on every later frame. */
Test(edge_pressure, a_queue_filling_up_crosses_once_at_high_water)
{
    edge_pressure_mark_t mark = 0;
    uint32_t size = 0;
    for (uint32_t n = 1; n <= LIMIT; n++) {
        bool crossed = s_push(&mark, &size);
        cr_assert_eq(crossed, n == 32, "push to %u: crossed=%d", n, crossed);
    }
    cr_assert_eq(pressure.crossings, 1);
    cr_assert_eq(pressure.waiting, 1);
    cr_assert_eq(clears, 0);
}

/* A session waits from its crossing until it drains below low water: at
   exactly low water it still waits, one frame less releases it, and the
   last waiting session's release tells the link (once). */
Test(edge_pressure, draining_below_low_water_releases_the_link)
{
    edge_pressure_mark_t mark = 0;
    uint32_t size = 0;
    while (size < 40)
        s_push(&mark, &size);
    while (size > 16)
        s_pop(&mark, &size);
    cr_assert_eq(pressure.waiting, 1, "still waiting at low water (16)");
    cr_assert_eq(clears, 0);
    s_pop(&mark, &size);
    cr_assert_eq(pressure.waiting, 0);
    cr_assert_eq(mark, 0);
    cr_assert_eq(clears, 1);
    while (size > 0)
        s_pop(&mark, &size);
    cr_assert_eq(clears, 1, "draining further does not release again");
}

/* With several sessions over high water, the link is released only when
   the last of them drained. */
Test(edge_pressure, the_link_waits_for_every_session_that_crossed)
{
    edge_pressure_mark_t a = 0, b = 0;
    uint32_t size_a = 0, size_b = 0;
    while (size_a < 32)
        s_push(&a, &size_a);
    while (size_b < 32)
        s_push(&b, &size_b);
    cr_assert_eq(pressure.crossings, 2);
    cr_assert_eq(pressure.waiting, 2);
    while (size_a > 0)
        s_pop(&a, &size_a);
    cr_assert_eq(clears, 0, "b has not drained yet");
    while (size_b > 10)
        s_pop(&b, &size_b);
    cr_assert_eq(clears, 1);
    cr_assert_eq(pressure.waiting, 0);
}

/* A session that drained a little (not below low water) and filled up
   to high water again crosses again (the link stops its pass), but is
   waited for once. */
Test(edge_pressure, crossing_again_before_draining_counts_the_session_once)
{
    edge_pressure_mark_t mark = 0;
    uint32_t size = 0;
    while (size < 32)
        s_push(&mark, &size);
    s_pop(&mark, &size);
    cr_assert(s_push(&mark, &size));
    cr_assert_eq(pressure.crossings, 2);
    cr_assert_eq(pressure.waiting, 1);
}

/* After the link resumed on its timeout (a new round), a session of the
   old round no longer holds it: its late drain does not release the new
   round's waiters, and the new round's last drain does. */
Test(edge_pressure, a_session_of_an_earlier_round_no_longer_holds_the_link)
{
    edge_pressure_mark_t stuck = 0, reader = 0;
    uint32_t size_stuck = 0, size_reader = 0;
    while (size_stuck < 32)
        s_push(&stuck, &size_stuck);
    edge_pressure_next_round(&pressure); /* the pause ran out */
    cr_assert_eq(pressure.waiting, 0);
    while (size_stuck < 48)
        cr_assert_not(s_push(&stuck, &size_stuck), "a stuck queue crosses only once");
    while (size_reader < 32)
        s_push(&reader, &size_reader);
    cr_assert_eq(pressure.waiting, 1);
    while (size_stuck > 0)
        s_pop(&stuck, &size_stuck);
    cr_assert_eq(clears, 0, "the old round's session released the new round");
    cr_assert_eq(pressure.waiting, 1);
    while (size_reader > 0)
        s_pop(&reader, &size_reader);
    cr_assert_eq(clears, 1);
}

/* A session of an earlier round that drained a little and reaches high
   water again crosses in the new round: a client that still reads is
   paced, not overrun into a slow-consumer close. */
Test(edge_pressure, a_slow_reader_crosses_again_in_the_next_round)
{
    edge_pressure_mark_t mark = 0;
    uint32_t size = 0;
    while (size < 32)
        s_push(&mark, &size);
    edge_pressure_next_round(&pressure);
    s_pop(&mark, &size);
    cr_assert(s_push(&mark, &size));
    cr_assert_eq(pressure.waiting, 1);
    cr_assert_eq(mark, pressure.round);
}

/* A waiting session that goes away (closed, killed) releases the link. */
Test(edge_pressure, forgetting_a_waiting_session_releases_the_link)
{
    edge_pressure_mark_t mark = 0, idle = 0;
    uint32_t size = 0;
    while (size < 32)
        s_push(&mark, &size);
    edge_pressure_forget(&pressure, &idle);
    cr_assert_eq(clears, 0, "a session that never crossed changes nothing");
    edge_pressure_forget(&pressure, &mark);
    cr_assert_eq(clears, 1);
    cr_assert_eq(pressure.waiting, 0);
    edge_pressure_forget(&pressure, &mark);
    cr_assert_eq(clears, 1, "forgetting twice releases once");
}

/* Without a listener (the link detached) releases are silent. */
Test(edge_pressure, releases_without_a_listener_are_silent)
{
    edge_pressure_listen(&pressure, NULL, NULL);
    edge_pressure_mark_t mark = 0;
    uint32_t size = 0;
    while (size < 32)
        s_push(&mark, &size);
    while (size > 0)
        s_pop(&mark, &size);
    cr_assert_eq(clears, 0);
    cr_assert_eq(pressure.waiting, 0);
}
