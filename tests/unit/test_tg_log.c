/*  Unit tests for tg_log: the level filter and the rate limiter. Lines are
    observed through tg_log_lines() and the redirected stderr.
*/
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <czmq.h>
#include <string.h>

#include "tg_log.h"

static void setup(void)
{
    cr_redirect_stderr();
    tg_log_init("test-log", "info");
}

static char *captured_stderr(void)
{
    fflush(stderr);
    FILE *in = cr_get_redirected_stderr();
    static char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, in);
    text[len] = '\0';
    return text;
}

/* Waits (with a deadline) until the limiter's interval has passed. */
static void wait_past_interval(const tg_log_limiter_t *limiter, int64_t interval_ms)
{
    int64_t deadline = zclock_mono() + 5000;
    while (zclock_mono() - limiter->last_ms < interval_ms) {
        cr_assert_lt(zclock_mono(), deadline);
        zclock_sleep(1);
    }
}

/* tg_log_init takes the level by name; an unknown name means info. */
Test(tg_log, init_parses_level_names, .init = setup)
{
    tg_log_init("test-log", "debug");
    cr_assert_eq(tg_log_level(), TG_LOG_DEBUG);
    tg_log_init("test-log", "error");
    cr_assert_eq(tg_log_level(), TG_LOG_ERROR);
    tg_log_init("test-log", "warning");
    cr_assert_eq(tg_log_level(), TG_LOG_WARNING);
    tg_log_init("test-log", "shouting");
    cr_assert_eq(tg_log_level(), TG_LOG_INFO);
    tg_log_init("test-log", NULL);
    cr_assert_eq(tg_log_level(), TG_LOG_INFO);
}

/* Lines below the level are dropped; others are written with the process
   name as prefix, on stderr. */
Test(tg_log, level_filters_lines, .init = setup)
{
    tg_log_set_level(TG_LOG_WARNING);
    uint64_t before = tg_log_lines();
    tg_log_info("test: hidden n=%d", 1);
    tg_log_debug("test: hidden n=%d", 2);
    cr_assert_eq(tg_log_lines(), before);
    tg_log_warning("test: shown n=%d", 3);
    tg_log_error("test: shown n=%d", 4);
    cr_assert_eq(tg_log_lines(), before + 2);
    char *err = captured_stderr();
    cr_assert(strstr(err, "test: shown n=3"), "%s", err);
    cr_assert(strstr(err, "test: shown n=4"), "%s", err);
    cr_assert(strstr(err, "test-log"), "%s", err);
    cr_assert_null(strstr(err, "hidden"), "%s", err);
}

/* The limiter writes the first occurrence, then nothing within the
   interval, counting what it suppressed. */
Test(tg_log, limiter_logs_first_then_suppresses, .init = setup)
{
    tg_log_limiter_t limiter = {0};
    uint64_t before = tg_log_lines();
    tg_log_ratelimited(&limiter, 60000, "router: bad input reason=%s", "x");
    cr_assert_eq(tg_log_lines(), before + 1);
    cr_assert_neq(limiter.last_ms, 0);
    for (int i = 0; i < 5; i++)
        tg_log_ratelimited(&limiter, 60000, "router: bad input reason=%s", "x");
    cr_assert_eq(tg_log_lines(), before + 1);
    cr_assert_eq(limiter.suppressed, 5);
}

/* After the interval the next occurrence is written again, with the number
   suppressed meanwhile, and the count starts over. */
Test(tg_log, limiter_logs_again_after_interval_with_count, .init = setup)
{
    tg_log_limiter_t limiter = {0};
    uint64_t before = tg_log_lines();
    tg_log_ratelimited(&limiter, 30, "edge: bad frame");
    tg_log_ratelimited(&limiter, 30, "edge: bad frame");
    tg_log_ratelimited(&limiter, 30, "edge: bad frame");
    cr_assert_eq(tg_log_lines(), before + 1);
    wait_past_interval(&limiter, 30);
    tg_log_ratelimited(&limiter, 30, "edge: bad frame");
    cr_assert_eq(tg_log_lines(), before + 2);
    cr_assert_eq(limiter.suppressed, 0);
    char *err = captured_stderr();
    cr_assert(strstr(err, "edge: bad frame suppressed=2"), "%s", err);
}

/* Two limiters are independent: one kind's flood does not hide another. */
Test(tg_log, limiters_are_independent, .init = setup)
{
    tg_log_limiter_t a = {0}, b = {0};
    uint64_t before = tg_log_lines();
    tg_log_ratelimited(&a, 60000, "a");
    tg_log_ratelimited(&a, 60000, "a");
    tg_log_ratelimited(&b, 60000, "b");
    cr_assert_eq(tg_log_lines(), before + 2);
    cr_assert_eq(a.suppressed, 1);
    cr_assert_eq(b.suppressed, 0);
}

/* The limiter keeps counting while the level hides its lines. */
Test(tg_log, limiter_counts_even_when_level_hides_it, .init = setup)
{
    tg_log_set_level(TG_LOG_ERROR);
    tg_log_limiter_t limiter = {0};
    uint64_t before = tg_log_lines();
    tg_log_ratelimited(&limiter, 60000, "hidden");
    tg_log_ratelimited(&limiter, 60000, "hidden");
    cr_assert_eq(tg_log_lines(), before);
    cr_assert_eq(limiter.suppressed, 1);
}
