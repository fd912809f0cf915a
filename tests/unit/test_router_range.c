/*  Unit tests for router_range: the sorted bound arrays of range filters.
    The subscriptions here are bare router_sub_t with one node (the slot);
    router_range never looks at anything else. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "router_range.h"

static router_sub_t *s_sub_new(void)
{
    router_sub_t *sub = calloc(1, sizeof(router_sub_t) + sizeof(router_vnode_t));
    cr_assert_not_null(sub);
    sub->nodes_count = 1;
    return sub;
}

static tg_query_number_t s_int(int64_t i)
{
    return (tg_query_number_t){.as.i = i, .type = TG_QUERY_NUMBER_INT};
}

static tg_query_number_t s_double(double f)
{
    return (tg_query_number_t){.as.f = f, .type = TG_QUERY_NUMBER_FLOAT};
}

#define MAX_SEEN 4096
typedef struct {
    router_sub_t *subs[MAX_SEEN];
    size_t count;
} seen_t;

static void s_collect(router_sub_t *sub, void *arg)
{
    seen_t *seen = arg;
    cr_assert_lt(seen->count, MAX_SEEN);
    seen->subs[seen->count++] = sub;
}

static bool s_has(const seen_t *seen, const router_sub_t *sub)
{
    for (size_t i = 0; i < seen->count; i++)
        if (seen->subs[i] == sub)
            return true;
    return false;
}

static seen_t s_match(router_range_t *range, tg_query_number_t value)
{
    seen_t seen = {.count = 0};
    router_range_match(range, &value, s_collect, &seen);
    return seen;
}

/* At a bound equal to the value, `>=` and `<=` accept and `>` and `<`
   do not; below and above, each direction accepts its side. Checked both
   while the elements are an unsorted tail and after a flush sorted them. */
Test(router_range, equal_bounds_split_strict_from_inclusive)
{
    size_t account = 0;
    router_range_t *range = router_range_new(&account);
    const tg_query_range_op_t ops[] = {TG_QUERY_RANGE_GT, TG_QUERY_RANGE_GE, TG_QUERY_RANGE_LT,
                                       TG_QUERY_RANGE_LE};
    /* subs[op][b]: `x op b` for b in 0..2, then padding to force a flush */
    router_sub_t *subs[4][3];
    for (int op = 0; op < 4; op++)
        for (int b = 0; b < 3; b++) {
            subs[op][b] = s_sub_new();
            tg_query_number_t bound = s_int(b);
            cr_assert_eq(router_range_insert(range, subs[op][b], ops[op], &bound), 0);
        }
    router_sub_t *padding[2 * ROUTER_RANGE_TAIL_SCAN];
    for (int round = 0; round < 2; round++) {
        seen_t seen = s_match(range, s_int(1));
        cr_expect_eq(seen.count, 6, "round %d: %zu", round, seen.count);
        cr_expect(s_has(&seen, subs[0][0]) && !s_has(&seen, subs[0][1])); /* x > 0, not x > 1 */
        cr_expect(s_has(&seen, subs[1][0]) && s_has(&seen, subs[1][1]));  /* x >= 0, x >= 1 */
        cr_expect(!s_has(&seen, subs[1][2]));                             /* not x >= 2 */
        cr_expect(s_has(&seen, subs[2][2]) && !s_has(&seen, subs[2][1])); /* x < 2, not x < 1 */
        cr_expect(s_has(&seen, subs[3][1]) && s_has(&seen, subs[3][2]));  /* x <= 1, x <= 2 */
        cr_expect(!s_has(&seen, subs[3][0]));                             /* not x <= 0 */
        /* Bounds far away, enough to pass the tail limit on both sides. */
        for (int i = 0; round == 0 && i < 2 * ROUTER_RANGE_TAIL_SCAN; i++) {
            padding[i] = s_sub_new();
            tg_query_number_t bound = s_int(i % 2 ? 1000 + i : -1000 - i);
            cr_assert_eq(router_range_insert(range, padding[i],
                                             i % 2 ? TG_QUERY_RANGE_GT : TG_QUERY_RANGE_LT, &bound),
                         0);
        }
    }
    for (int op = 0; op < 4; op++)
        for (int b = 0; b < 3; b++) {
            router_range_remove(range, subs[op][b], ops[op]);
            free(subs[op][b]);
        }
    for (int i = 0; i < 2 * ROUTER_RANGE_TAIL_SCAN; i++) {
        router_range_remove(range, padding[i], i % 2 ? TG_QUERY_RANGE_GT : TG_QUERY_RANGE_LT);
        free(padding[i]);
    }
    cr_expect_eq(router_range_size(range), 0);
    router_range_destroy(&range);
    cr_expect_eq(account, 0);
}

/* Integers and doubles are ordered exactly: 2^53 + 1 is above the double
   2^53 although converting it to a double would make them equal, and a
   uint64 above INT64_MAX is above every int64. */
Test(router_range, integers_and_doubles_are_ordered_exactly)
{
    size_t account = 0;
    router_range_t *range = router_range_new(&account);
    router_sub_t *above_double = s_sub_new(), *below_int = s_sub_new();
    tg_query_number_t two53 = s_double(9007199254740992.0), two53_plus = s_int(9007199254740993);
    cr_assert_eq(router_range_insert(range, above_double, TG_QUERY_RANGE_GT, &two53), 0);
    cr_assert_eq(router_range_insert(range, below_int, TG_QUERY_RANGE_LT, &two53_plus), 0);
    seen_t seen = s_match(range, two53_plus);
    cr_expect(s_has(&seen, above_double) && !s_has(&seen, below_int));
    seen = s_match(range, two53);
    cr_expect(!s_has(&seen, above_double) && s_has(&seen, below_int));
    tg_query_number_t huge = {.as.u = 9223372036854775808ull, .type = TG_QUERY_NUMBER_UINT};
    seen = s_match(range, huge);
    cr_expect(s_has(&seen, above_double) && !s_has(&seen, below_int));
    seen = s_match(range, s_double(-INFINITY));
    cr_expect(!s_has(&seen, above_double) && s_has(&seen, below_int));
    router_range_remove(range, above_double, TG_QUERY_RANGE_GT);
    router_range_remove(range, below_int, TG_QUERY_RANGE_LT);
    free(above_double);
    free(below_int);
    router_range_destroy(&range);
    cr_expect_eq(account, 0);
}

/* xorshift64*: the same sequence on every machine. */
static uint64_t s_state = 0x6a09e667f3bcc909ULL;
static uint32_t s_rand(uint32_t n)
{
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return (uint32_t)((s_state * 0x2545f4914f6cdd1dULL) >> 33) % n;
}

/* A number among a few close values, in either representation. */
static tg_query_number_t s_random_number(void)
{
    int64_t n = (int64_t)s_rand(41) - 20;
    return s_rand(3) ? s_int(n) : s_double((double)n + (s_rand(2) ? 0.5 : 0.0));
}

typedef struct {
    router_sub_t *sub;
    tg_query_range_op_t op;
    tg_query_number_t bound;
} live_t;

static bool s_holds(const live_t *live, const tg_query_number_t *value)
{
    int c = tg_query_number_compare(value, &live->bound);
    switch (live->op) {
    case TG_QUERY_RANGE_LT:
        return c == -1;
    case TG_QUERY_RANGE_LE:
        return c == -1 || c == 0;
    case TG_QUERY_RANGE_GT:
        return c == 1;
    default:
        return c == 1 || c == 0;
    }
}

/* Thousands of random inserts, removals and matches (bursts of changes
   and single ones, so that tails, holes, merges and shrinks all happen):
   every match returns exactly the live filters whose range holds the
   value, each once, and allocates nothing. Everything is freed at the
   end. */
Test(router_range, random_changes_keep_every_match_exact)
{
    static live_t live[MAX_SEEN];
    size_t live_count = 0, account = 0;
    router_range_t *range = router_range_new(&account);
    for (int round = 0; round < 6000; round++) {
        uint32_t burst = s_rand(10) == 0 ? 1 + s_rand(200) : 1;
        bool grow = round < 3000 ? s_rand(3) != 0 : s_rand(3) == 0;
        for (uint32_t b = 0; b < burst; b++) {
            if ((grow && live_count < MAX_SEEN) || live_count == 0) {
                live_t *l = &live[live_count++];
                l->sub = s_sub_new();
                l->op = (tg_query_range_op_t)s_rand(4);
                l->bound = s_random_number();
                cr_assert_eq(router_range_insert(range, l->sub, l->op, &l->bound), 0);
            } else {
                size_t i = s_rand((uint32_t)live_count);
                router_range_remove(range, live[i].sub, live[i].op);
                free(live[i].sub);
                live[i] = live[--live_count];
            }
        }
        cr_assert_eq(router_range_size(range), live_count);
        tg_query_number_t value = s_random_number();
        size_t before = account;
        seen_t seen = s_match(range, value);
        cr_assert_eq(account, before, "matching changed the memory");
        size_t expected = 0;
        for (size_t i = 0; i < live_count; i++)
            if (s_holds(&live[i], &value)) {
                expected++;
                cr_assert(s_has(&seen, live[i].sub), "round %d: a holding range was missed", round);
            }
        cr_assert_eq(seen.count, expected, "round %d: %zu candidates, %zu expected", round,
                     seen.count, expected);
    }
    while (live_count) {
        live_count--;
        router_range_remove(range, live[live_count].sub, live[live_count].op);
        free(live[live_count].sub);
    }
    router_range_destroy(&range);
    cr_expect_eq(account, 0, "%zu bytes left", account);
}

/* Destroying is safe on NULL and twice. */
Test(router_range, destroy_is_safe_twice)
{
    size_t account = 0;
    router_range_t *range = router_range_new(&account);
    cr_assert_gt(account, 0);
    router_range_destroy(&range);
    router_range_destroy(&range);
    router_range_destroy(NULL);
    cr_expect_null(range);
    cr_expect_eq(account, 0);
}
