/*  Differential test of the router's filter index (issue 5): with a fixed
    seed, thousands of random filters (equality, in, ranges, exists,
    contains, startswith, mixed with and/or/not, and range-only
    conjunctions, which the range index holds) on a few exact, prefix and
    wildcard topics, and thousands of random bodies. For every event, the
    set of subscriptions the index returns must equal a linear evaluation of
    every subscription: topic by the reference predicate, filter by
    tg_query_match. Then half the subscriptions are removed and more are
    added, with events in between (so that the range arrays are matched
    with holes, with unsorted tails and after merges), and the check runs
    again. */
#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router_index.h"

#define FILTERS              3000
#define EVENTS               2000
#define EVENTS_AFTER_REMOVAL 500

#define FILTERS_ADDED_LATER 1000

static int edge;

/* xorshift64*: the same sequence on every machine. */
static uint64_t s_state = 0x9e3779b97f4a7c15ULL;
static uint32_t s_rand(uint32_t n)
{
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return (uint32_t)((s_state * 0x2545f4914f6cdd1dULL) >> 33) % n;
}

static const char *s_paths[] = {"a", "b", "c", "d.e", "tags[0]"};
static const char *s_literals[] = {"0",     "1",   "2",    "3",    "1.0",   "2.5",
                                   "\"x\"", "'y'", "null", "true", "false", "-1"};
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Appends printf-style text to buf (size FILTER_MAX). */
#define FILTER_MAX 512
static void s_cat(char *buf, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    size_t len = strlen(buf);
    vsnprintf(buf + len, FILTER_MAX - len, format, args);
    va_end(args);
}

static void s_atom(char *buf)
{
    const char *path = s_paths[s_rand(COUNT(s_paths))];
    const char *value = s_literals[s_rand(COUNT(s_literals))];
    static const char *ranges[] = {">", "<", ">=", "<="};
    switch (s_rand(10)) {
    case 0:
    case 1:
    case 2:
        s_cat(buf, s_rand(4) ? "%s == %s" : "%2$s == %1$s", path, value);
        break;
    case 3:
        s_cat(buf, "%s != %s", path, value);
        break;
    case 4:
    case 5: {
        s_cat(buf, "%s in [", path);
        uint32_t n = 1 + s_rand(4);
        for (uint32_t i = 0; i < n; i++)
            s_cat(buf, "%s%s", i ? ", " : "", s_literals[s_rand(COUNT(s_literals))]);
        s_cat(buf, "]");
        break;
    }
    case 6:
        s_cat(buf, "%s %s %d", path, ranges[s_rand(4)], (int)s_rand(4));
        break;
    case 7:
        s_cat(buf, "exists(%s)", path);
        break;
    case 8:
        s_cat(buf, "tags contains %s", s_rand(2) ? "\"x\"" : "\"y\"");
        break;
    default:
        s_cat(buf, "%s startswith \"x\"", path);
        break;
    }
}

/* A numeric range predicate, bound first or last. Bounds are close to the
   bodies' numbers (equal ones included, so `>` and `>=` differ) plus
   values where int/double comparison must be exact. */
static void s_range_atom(char *buf)
{
    static const char *paths[] = {"a", "b", "d.e"};
    static const char *ops[] = {">", ">=", "<", "<="};
    static const char *flipped[] = {"<", "<=", ">", ">="};
    static const char *bounds[] = {"-1",
                                   "0",
                                   "1",
                                   "2",
                                   "3",
                                   "2.5",
                                   "0.5",
                                   "-0.5",
                                   "9007199254740993",
                                   "9007199254740992.0",
                                   "1e19",
                                   "-1e300"};
    const char *path = paths[s_rand(COUNT(paths))];
    uint32_t op = s_rand(4);
    const char *bound = bounds[s_rand(COUNT(bounds))];
    if (s_rand(4))
        s_cat(buf, "%s %s %s", path, ops[op], bound);
    else
        s_cat(buf, "%s %s %s", bound, flipped[op], path);
}

/* A conjunction of one to three ranges, sometimes with a predicate the
   range index does not hold (that the candidate's evaluation settles). */
static void s_range_conjunction(char *buf)
{
    s_range_atom(buf);
    for (uint32_t n = s_rand(3); n > 0; n--) {
        s_cat(buf, " and ");
        if (s_rand(4))
            s_range_atom(buf);
        else
            s_cat(buf, s_rand(2) ? "not exists(c)" : "b != 1");
    }
}

/* A random expression; conjunctions are the most common shape, as in real
   filters, so that most of them have an index path. */
static void s_expr(char *buf, int depth)
{
    uint32_t shape = depth == 0 ? 0 : s_rand(8);
    if (shape <= 2) {
        s_atom(buf);
        return;
    }
    if (shape == 7) {
        s_cat(buf, "not (");
        s_expr(buf, depth - 1);
        s_cat(buf, ")");
        return;
    }
    s_cat(buf, "(");
    s_expr(buf, depth - 1);
    s_cat(buf, shape <= 5 ? ") and (" : ") or (");
    s_expr(buf, depth - 1);
    s_cat(buf, ")");
}

static void s_pack_str(msgpack_packer *pk, const char *text)
{
    msgpack_pack_str_with_body(pk, text, strlen(text));
}

static void s_pack_value(msgpack_packer *pk)
{
    static const char *strings[] = {"x", "y", "xy", ""};
    static const double doubles[] = {0.5,    -0.5,  -0.0, 3.0,      9007199254740992.0, 1e19,
                                     -1e300, 1e300, NAN,  INFINITY, -INFINITY};
    switch (s_rand(12)) {
    case 0:
    case 1:
    case 2:
        msgpack_pack_int64(pk, (int64_t)s_rand(5) - 1);
        break;
    case 3:
        msgpack_pack_double(pk, s_rand(2) ? 1.0 : 2.5);
        break;
    case 4:
    case 5:
        s_pack_str(pk, strings[s_rand(COUNT(strings))]);
        break;
    case 6:
        msgpack_pack_nil(pk);
        break;
    case 7:
        if (s_rand(2))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case 8:
        msgpack_pack_uint64(pk, 1); /* an unsigned encoding of a small number */
        break;
    case 10: /* numbers at the edges of exact int/double comparison */
        msgpack_pack_double(pk, doubles[s_rand(COUNT(doubles))]);
        break;
    case 11:
        switch (s_rand(3)) {
        case 0:
            msgpack_pack_int64(pk, 9007199254740993);
            break;
        case 1:
            msgpack_pack_uint64(pk, 9223372036854775808ull);
            break;
        default:
            msgpack_pack_float(pk, 2.5f);
            break;
        }
        break;
    default:
        msgpack_pack_array(pk, 0); /* not a scalar */
        break;
    }
}

/* A random body over the filters' paths; any key may be missing. */
static void s_body(msgpack_sbuffer *sbuf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    bool has[5];
    uint32_t pairs = 0;
    for (int i = 0; i < 5; i++)
        pairs += has[i] = s_rand(10) < 7;
    msgpack_pack_map(&pk, pairs);
    const char *keys[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        if (has[i]) {
            s_pack_str(&pk, keys[i]);
            s_pack_value(&pk);
        }
    if (has[3]) {
        s_pack_str(&pk, "d");
        if (s_rand(4)) {
            msgpack_pack_map(&pk, 1);
            s_pack_str(&pk, "e");
        }
        s_pack_value(&pk);
    }
    if (has[4]) {
        s_pack_str(&pk, "tags");
        uint32_t n = s_rand(3);
        msgpack_pack_array(&pk, n);
        for (uint32_t i = 0; i < n; i++)
            s_pack_value(&pk);
    }
}

typedef struct {
    tg_match_t match;
    const char *pattern;
} topic_t;

static const topic_t s_topics[] = {{TG_MATCH_EXACT, "t.a"},   {TG_MATCH_EXACT, "t.b"},
                                   {TG_MATCH_PREFIX, "t."},   {TG_MATCH_PREFIX, "u"},
                                   {TG_MATCH_WILDCARD, ".a"}, {TG_MATCH_WILDCARD, "t."}};
static const char *s_event_topics[] = {"t.a", "t.b", "u.a"};

/* One distinct subscription, as the reference sees it. */
typedef struct {
    uint64_t id;
    const topic_t *topic;
    tg_query_t *query; /* the reference's own copy; NULL = none */
    bool removed;
} ref_t;

static ref_t s_refs[FILTERS + FILTERS_ADDED_LATER];
static size_t s_ref_count;

#define MAX_MATCHES (FILTERS + FILTERS_ADDED_LATER)
typedef struct {
    uint64_t ids[MAX_MATCHES];
    size_t count;
} id_set_t;

static void s_collect(const router_sub_t *sub, void *arg)
{
    id_set_t *set = arg;
    cr_assert_lt(set->count, MAX_MATCHES);
    set->ids[set->count++] = sub->id;
}

static int s_compare_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static id_set_t s_index_set, s_linear_set;

/* True when the index must evaluate this filter on the body: its indexed
   value is the body's (equality), its range holds the body's number
   (range), or it has no index path. Anything else evaluated is work the
   index should have saved (a `>` taken for a `>=`, say); anything missing
   shows up as a missed match. (Two value keys sharing a 32-bit bucket hash
   would make an extra candidate: with a dozen distinct values, about one
   chance in 10^7 per run.) */
static bool s_is_candidate(const tg_query_t *query, const void *body, size_t len)
{
    const char *path;
    size_t count;
    if (tg_query_index_path(query, &path, &count)) {
        uint8_t value[TG_QUERY_MAX_KEY], literal[TG_QUERY_MAX_KEY];
        size_t value_len = tg_query_value_key(body, len, path, value);
        for (size_t i = 0; i < count && value_len; i++) {
            size_t literal_len = tg_query_index_value(query, i, literal);
            if (literal_len == value_len && memcmp(literal, value, value_len) == 0)
                return true;
        }
        return false;
    }
    tg_query_range_op_t op;
    tg_query_number_t bound, number;
    if (!tg_query_range_path(query, &path, &op, &bound))
        return true;
    if (!tg_query_value_number(body, len, path, &number))
        return false;
    int c = tg_query_number_compare(&number, &bound);
    switch (op) {
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

/* Runs `events` random events; returns the total number of matches. */
static size_t s_compare(router_index_t *index, int events)
{
    size_t total = 0;
    for (int e = 0; e < events; e++) {
        const char *topic = s_event_topics[s_rand(COUNT(s_event_topics))];
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init(&sbuf);
        s_body(&sbuf);
        s_index_set.count = 0;
        size_t evaluated = 0, candidates = 0;
        router_index_match_counted(index, topic, strlen(topic), sbuf.data, sbuf.size, s_collect,
                                   &s_index_set, &evaluated);
        s_linear_set.count = 0;
        for (size_t i = 0; i < s_ref_count; i++) {
            const ref_t *ref = &s_refs[i];
            if (ref->removed || !router_index_topic_matches(ref->topic->match, ref->topic->pattern,
                                                            topic, strlen(topic)))
                continue;
            if (ref->query)
                candidates += s_is_candidate(ref->query, sbuf.data, sbuf.size);
            if (!ref->query || tg_query_match(ref->query, sbuf.data, sbuf.size))
                s_linear_set.ids[s_linear_set.count++] = ref->id;
        }
        cr_assert_eq(evaluated, candidates, "event %d on %s: %zu filters evaluated, %zu expected",
                     e, topic, evaluated, candidates);
        qsort(s_index_set.ids, s_index_set.count, sizeof(uint64_t), s_compare_id);
        qsort(s_linear_set.ids, s_linear_set.count, sizeof(uint64_t), s_compare_id);
        cr_assert_eq(s_index_set.count, s_linear_set.count, "event %d on %s: index %zu, linear %zu",
                     e, topic, s_index_set.count, s_linear_set.count);
        for (size_t i = 0; i < s_index_set.count; i++)
            cr_assert_eq(s_index_set.ids[i], s_linear_set.ids[i], "event %d on %s", e, topic);
        total += s_index_set.count;
        msgpack_sbuffer_destroy(&sbuf);
    }
    return total;
}

/* What the generated filters offer the index. */
typedef struct {
    size_t indexed;    /* an equality index path */
    size_t ranged;     /* a range index path */
    size_t duplicates; /* landed on an existing subscription */
} s_stats_t;

/* Subscribes `count` random filters: a quarter range-only conjunctions,
   the rest random expressions (a twentieth without a filter); when
   `events_every` is not 0, one random event is compared after every that
   many subscriptions. */
static void s_subscribe(router_index_t *index, int count, int events_every, s_stats_t *stats)
{
    tg_query_limits_t limits = TG_QUERY_DEFAULT_LIMITS;
    for (int f = 0; f < count; f++) {
        const topic_t *topic = &s_topics[s_rand(COUNT(s_topics))];
        char text[FILTER_MAX] = "";
        bool plain = s_rand(20) == 0;
        if (!plain && s_rand(4) == 0)
            s_range_conjunction(text);
        else if (!plain)
            s_expr(text, 3);
        tg_query_error_t error;
        tg_query_t *query = NULL, *ref_query = NULL;
        if (!plain) {
            query = tg_query_parse(text, strlen(text), &limits, &error);
            ref_query = tg_query_parse(text, strlen(text), &limits, &error);
            cr_assert_not_null(query, "%s: %s", text, error.message);
            stats->indexed += tg_query_index_path(query, NULL, NULL);
            stats->ranged += tg_query_range_path(query, NULL, NULL, NULL);
        }
        uint64_t id = 0;
        cr_assert_eq(router_index_add(index, topic->match, topic->pattern, &query, &edge, &id), 0);
        bool known = false;
        for (size_t i = 0; i < s_ref_count && !known; i++)
            known = s_refs[i].id == id && !s_refs[i].removed;
        if (known) {
            stats->duplicates++;
            tg_query_destroy(&ref_query);
        } else {
            cr_assert_lt(s_ref_count, COUNT(s_refs));
            s_refs[s_ref_count++] = (ref_t){.id = id, .topic = topic, .query = ref_query};
        }
        if (events_every && f % events_every == 0)
            s_compare(index, 1);
    }
}

/* The index's match set equals the linear evaluation for every event,
   before and after removing half the subscriptions, and after adding
   more, with events between the changes. */
Test(router_differential, index_matches_exactly_what_a_linear_scan_matches, .timeout = 120)
{
    router_index_t *index = router_index_new();
    s_stats_t stats = {0};
    s_subscribe(index, FILTERS, 0, &stats);
    cr_assert_eq(router_index_size(index), s_ref_count);
    /* Small domains repeat filters (in other spellings too): they must have
       landed on existing subscriptions. */
    cr_expect_gt(stats.duplicates, 0);
    /* The generator must exercise every path of the index: equality, range
       and evaluation one by one. */
    cr_assert_gt(stats.indexed, FILTERS / 4, "indexed filters: %zu", stats.indexed);
    cr_assert_gt(stats.ranged, FILTERS / 5, "range filters: %zu", stats.ranged);
    cr_assert_lt(stats.indexed + stats.ranged, FILTERS - FILTERS / 20, "indexed: %zu + %zu",
                 stats.indexed, stats.ranged);

    size_t matches = s_compare(index, EVENTS);
    cr_assert_gt(matches, (size_t)EVENTS, "too few matches (%zu) to mean anything", matches);

    /* Removals leave holes in the sorted range arrays and swap elements in
       their tails; events in between see both. */
    size_t removed = 0;
    for (size_t i = 0; i < s_ref_count; i++)
        if (s_rand(2)) {
            cr_assert_eq(router_index_remove(index, s_refs[i].id, &edge), 0);
            s_refs[i].removed = true;
            if (removed++ % 7 == 0)
                s_compare(index, 1);
        }
    s_compare(index, EVENTS_AFTER_REMOVAL);

    /* Additions between events: unsorted tails of every length, merged. */
    s_subscribe(index, FILTERS_ADDED_LATER, 3, &stats);
    s_compare(index, EVENTS_AFTER_REMOVAL);

    size_t left = router_index_size(index);
    cr_expect_eq(router_index_remove_edge(index, &edge), left);
    cr_expect_eq(router_index_size(index), 0);
    for (size_t i = 0; i < s_ref_count; i++)
        tg_query_destroy(&s_refs[i].query);
    router_index_destroy(&index);
}
