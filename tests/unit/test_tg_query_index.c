/*  Unit tests for tg_query's index hook: which predicate a filter offers to
    the router's equality index, and the value keys, which must be equal
    exactly when `==` calls two values equal. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_query.h"

static tg_query_t *compile(const char *filter)
{
    tg_query_error_t err;
    tg_query_t *query = tg_query_parse(filter, strlen(filter), NULL, &err);
    cr_assert_not_null(query, "filter %s: %s", filter, err.message);
    return query;
}

/* The indexed path of a filter, or "" when it has none; *count set. */
static const char *index_path(const char *filter, size_t *count)
{
    static char result[TG_QUERY_MAX_PATH + 1];
    tg_query_t *query = compile(filter);
    const char *path = NULL;
    *count = 0;
    bool indexed = tg_query_index_path(query, &path, count);
    snprintf(result, sizeof result, "%s", indexed ? path : "");
    tg_query_destroy(&query);
    return result;
}

#define assert_index(filter, path, n)                                                              \
    do {                                                                                           \
        size_t count_;                                                                             \
        cr_assert_str_eq(index_path(filter, &count_), path, "filter %s", filter);                  \
        cr_assert_eq(count_, n, "filter %s: %zu values", filter, count_);                          \
    } while (0)

/* A value tagged with its msgpack representation. */
typedef enum { V_NIL, V_BOOL, V_INT, V_UINT, V_F64, V_F32, V_STR } vkind_t;
typedef struct {
    vkind_t kind;
    int64_t i;
    uint64_t u;
    double f;
    const char *s;
} value_t;

static void pack_value(msgpack_packer *pk, const value_t *v)
{
    switch (v->kind) {
    case V_NIL:
        msgpack_pack_nil(pk);
        break;
    case V_BOOL:
        v->i ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case V_INT:
        msgpack_pack_int64(pk, v->i);
        break;
    case V_UINT:
        msgpack_pack_uint64(pk, v->u);
        break;
    case V_F64:
        msgpack_pack_double(pk, v->f);
        break;
    case V_F32:
        msgpack_pack_float(pk, (float)v->f);
        break;
    case V_STR:
        msgpack_pack_str_with_body(pk, v->s, strlen(v->s));
        break;
    }
}

/* {"x": v} */
static msgpack_sbuffer body_with(const value_t *v)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "x", 1);
    pack_value(&pk, v);
    return sbuf;
}

/* The filter literal of a value that a literal can hold (no uint64, no
   float32), written exactly. */
static void literal_text(const value_t *v, char *out, size_t size)
{
    switch (v->kind) {
    case V_NIL:
        snprintf(out, size, "null");
        break;
    case V_BOOL:
        snprintf(out, size, v->i ? "true" : "false");
        break;
    case V_INT:
        snprintf(out, size, "%" PRId64, v->i);
        break;
    case V_F64:
    case V_F32:
        snprintf(out, size, "%.17e", v->kind == V_F32 ? (double)(float)v->f : v->f);
        break;
    case V_UINT:
        snprintf(out, size, "%.17e", (double)v->u);
        break;
    case V_STR:
        snprintf(out, size, "\"%s\"", v->s);
        break;
    }
}

/* --- which predicate is indexed -------------------------------------------- */

/* `path == literal` is indexed by its path with one value. */
Test(tg_query_index, equality_is_indexed_by_its_path)
{
    assert_index("user_id == 42", "user_id", 1);
    assert_index("42 == user_id", "user_id", 1);
    assert_index("author.id == \"x\"", "author.id", 1);
    assert_index("tags[0] == null", "tags[0]", 1);
}

/* `path in [...]` is indexed with one value per distinct list element. */
Test(tg_query_index, in_lists_are_indexed_with_every_value)
{
    assert_index("s in [\"a\", \"b\", \"a\", 1, 1.0]", "s", 3);
}

/* Inside a conjunction, the equality with the fewest values is chosen,
   the first in canonical order on a tie. */
Test(tg_query_index, conjunction_offers_its_narrowest_equality)
{
    assert_index("a in [1, 2, 3] and b in [1, 2] and c > 1", "b", 2);
    assert_index("b == 1 and a == 2", "a", 1);
    assert_index("z == 1 and a in [1, 2]", "z", 1);
    assert_index("not x and k == \"v\" and y startswith \"p\"", "k", 1);
}

/* Filters without a top-level equality offer nothing: ranges, !=, or,
   not, contains, exists, bare paths, empty lists. */
Test(tg_query_index, filters_without_top_level_equality_offer_nothing)
{
    const char *filters[] = {"a > 1",
                             "a != 1",
                             "a == 1 or b == 2",
                             "not a == 1",
                             "tags contains 1",
                             "exists(a)",
                             "a",
                             "a in []",
                             "not (a == 1 and b == 2)",
                             "s startswith \"x\""};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        assert_index(filters[i], "", 0);
}

/* An equality inside a nested or is not used, one beside it is. */
Test(tg_query_index, only_top_level_conjuncts_are_indexed)
{
    assert_index("(a == 1 or b == 2) and c == 3", "c", 1);
    assert_index("(a == 1 or b == 2) and c > 3", "", 0);
}

/* A string longer than a key allows is not indexable; another conjunct
   may still be. */
Test(tg_query_index, overlong_strings_are_not_indexable)
{
    char filter[1200];
    strcpy(filter, "s == \"");
    memset(filter + 6, 'x', 600);
    strcpy(filter + 606, "\" and n > 1");
    assert_index(filter, "", 0);
    strcpy(filter + 606, "\" and k == 1");
    assert_index(filter, "k", 1);
}

/* tg_query_index_value writes one key per value, and nothing past the end. */
Test(tg_query_index, index_values_are_the_keys_of_the_literals)
{
    tg_query_t *query = compile("x in [1, \"1\", true]");
    uint8_t keys[3][TG_QUERY_MAX_KEY];
    size_t lens[3];
    for (size_t i = 0; i < 3; i++) {
        lens[i] = tg_query_index_value(query, i, keys[i]);
        cr_assert_gt(lens[i], 0);
    }
    cr_assert(lens[0] != lens[1] || memcmp(keys[0], keys[1], lens[0]) != 0);
    cr_assert(lens[1] != lens[2] || memcmp(keys[1], keys[2], lens[1]) != 0);
    cr_assert_eq(tg_query_index_value(query, 3, keys[0]), 0);
    tg_query_destroy(&query);
    tg_query_t *none = compile("x > 1");
    cr_assert_eq(tg_query_index_value(none, 0, keys[0]), 0);
    cr_assert_not(tg_query_index_path(none, NULL, NULL));
    tg_query_destroy(&none);
}

/* --- value keys ------------------------------------------------------------ */

static size_t body_key(const value_t *v, const char *path, uint8_t *key)
{
    msgpack_sbuffer sbuf = body_with(v);
    size_t len = tg_query_value_key(sbuf.data, sbuf.size, path, key);
    msgpack_sbuffer_destroy(&sbuf);
    return len;
}

static bool same_key(const value_t *a, const value_t *b)
{
    uint8_t ka[TG_QUERY_MAX_KEY], kb[TG_QUERY_MAX_KEY];
    size_t la = body_key(a, "x", ka), lb = body_key(b, "x", kb);
    return la > 0 && la == lb && memcmp(ka, kb, la) == 0;
}

/* 1, 1.0 and 1.0f share a key; -0.0 and 0 too; 1 and "1" and true do not. */
Test(tg_query_index, equal_numbers_share_a_key)
{
    value_t one = {V_INT, .i = 1}, one_f = {V_F64, .f = 1.0}, one_f32 = {V_F32, .f = 1.0};
    value_t zero = {V_INT, .i = 0}, minus_zero = {V_F64, .f = -0.0};
    value_t one_s = {V_STR, .s = "1"}, yes = {V_BOOL, .i = 1};
    cr_assert(same_key(&one, &one_f));
    cr_assert(same_key(&one, &one_f32));
    cr_assert(same_key(&zero, &minus_zero));
    cr_assert_not(same_key(&one, &one_s));
    cr_assert_not(same_key(&one, &yes));
}

/* Paths that are missing, and values that are containers or binary, have
   no key; so do strings too long for a key. */
Test(tg_query_index, missing_and_non_scalar_values_have_no_key)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "m", 1);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 5);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_bin_with_body(&pk, "x", 1);
    char long_text[600];
    memset(long_text, 'y', sizeof long_text);
    msgpack_pack_str_with_body(&pk, "s", 1);
    msgpack_pack_str_with_body(&pk, long_text, sizeof long_text);
    uint8_t key[TG_QUERY_MAX_KEY];
    cr_assert_eq(tg_query_value_key(sbuf.data, sbuf.size, "m", key), 0);
    cr_assert_eq(tg_query_value_key(sbuf.data, sbuf.size, "a", key), 0);
    cr_assert_eq(tg_query_value_key(sbuf.data, sbuf.size, "b", key), 0);
    cr_assert_eq(tg_query_value_key(sbuf.data, sbuf.size, "s", key), 0);
    cr_assert_eq(tg_query_value_key(sbuf.data, sbuf.size, "zz", key), 0);
    cr_assert_gt(tg_query_value_key(sbuf.data, sbuf.size, "a[0]", key), 0);
    cr_assert_eq(tg_query_value_key(sbuf.data, sbuf.size - 1, "s", key), 0);
    cr_assert_eq(tg_query_value_key(NULL, 0, "s", key), 0);
    msgpack_sbuffer_destroy(&sbuf);
}

/* --- randomized: keys equal exactly when == says equal ---------------------- */

static uint64_t rng_state;

static uint64_t rng64(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const value_t s_pool[] = {
    {V_NIL, .i = 0},
    {V_BOOL, .i = 0},
    {V_BOOL, .i = 1},
    {V_INT, .i = 0},
    {V_INT, .i = 1},
    {V_INT, .i = -1},
    {V_INT, .i = 255},
    {V_INT, .i = 9007199254740992},
    {V_INT, .i = 9007199254740993},
    {V_INT, .i = INT64_MAX},
    {V_INT, .i = INT64_MIN},
    {V_UINT, .u = 9223372036854775808ull},
    {V_UINT, .u = 9223372036854775809ull},
    {V_UINT, .u = 10000000000000000000ull},
    {V_UINT, .u = 18446744073709551615ull},
    {V_F64, .f = 0.0},
    {V_F64, .f = -0.0},
    {V_F64, .f = 1.0},
    {V_F64, .f = -1.0},
    {V_F64, .f = 1.5},
    {V_F64, .f = 0.1},
    {V_F64, .f = 9007199254740992.0},
    {V_F64, .f = 9223372036854775808.0},
    {V_F64, .f = -9223372036854775808.0},
    {V_F64, .f = 1e19},
    {V_F64, .f = 1e300},
    {V_F32, .f = 0.1},
    {V_F32, .f = 1.0},
    {V_F32, .f = 0.5},
    {V_STR, .s = ""},
    {V_STR, .s = "1"},
    {V_STR, .s = "a"},
    {V_STR, .s = "ab"},
    {V_STR, .s = "\xc3\xa9"},
};
#define POOL_SIZE (sizeof s_pool / sizeof s_pool[0])

/* A random value: from the pool, a small integer in some representation,
   or a random finite double. */
static value_t random_value(void)
{
    value_t v = {V_INT, .i = 0};
    switch (rng64() % 4) {
    case 0:
    case 1:
        return s_pool[rng64() % POOL_SIZE];
    case 2: {
        int64_t n = (int64_t)(rng64() % 7) - 3;
        int form = (int)(rng64() % 3);
        if (form == 0) {
            v.kind = V_INT;
            v.i = n;
        } else {
            v.kind = form == 1 ? V_F64 : V_F32;
            v.f = (double)n + (rng64() % 2 ? 0.5 : 0.0);
        }
        return v;
    }
    default: {
        uint64_t bits = rng64();
        memcpy(&v.f, &bits, sizeof v.f);
        if (!isfinite(v.f))
            v.f = 2.5;
        v.kind = V_F64;
        return v;
    }
    }
}

/* For thousands of (literal, value) pairs: the literal's key equals the
   body value's key exactly when `x == literal` matches {x: value}. */
Test(tg_query_index, keys_are_equal_exactly_when_values_are_equal)
{
    rng_state = 0x853c49e6748fea9bull;
    int equal_seen = 0;
    for (int round = 0; round < 6000; round++) {
        value_t literal = random_value(), value = random_value();
        if (round < (int)(POOL_SIZE * POOL_SIZE)) { /* every pool pair first */
            literal = s_pool[round / POOL_SIZE];
            value = s_pool[round % POOL_SIZE];
        }
        if (rng64() % 4 == 0)
            value = literal; /* plenty of equal pairs */
        char text[128], filter[160];
        literal_text(&literal, text, sizeof text);
        snprintf(filter, sizeof filter, "x == %s", text);
        tg_query_t *query = compile(filter);
        const char *path;
        size_t count;
        cr_assert(tg_query_index_path(query, &path, &count), "%s", filter);
        cr_assert_str_eq(path, "x");
        cr_assert_eq(count, 1);
        uint8_t lkey[TG_QUERY_MAX_KEY], vkey[TG_QUERY_MAX_KEY];
        size_t llen = tg_query_index_value(query, 0, lkey);
        msgpack_sbuffer sbuf = body_with(&value);
        size_t vlen = tg_query_value_key(sbuf.data, sbuf.size, "x", vkey);
        bool matches = tg_query_match(query, sbuf.data, sbuf.size);
        bool keys_equal = vlen > 0 && llen == vlen && memcmp(lkey, vkey, llen) == 0;
        cr_assert_eq(keys_equal, matches,
                     "%s on value kind %d (i=%" PRId64 " u=%" PRIu64 " f=%.17g): keys %d, match %d",
                     filter, value.kind, value.i, value.u, value.f, keys_equal, matches);
        equal_seen += matches;
        msgpack_sbuffer_destroy(&sbuf);
        tg_query_destroy(&query);
    }
    cr_assert_gt(equal_seen, 1000, "only %d equal pairs", equal_seen);
}

/* For random conjunctions over random bodies: whenever a filter with an
   indexed predicate matches, the body's key at the indexed path is one of
   the filter's index keys (the index never hides a match). */
Test(tg_query_index, index_never_hides_a_match)
{
    rng_state = 0xda942042e4dd58b5ull;
    static const char *predicates[] = {"a == %d",      "b == %d",   "a in [%d, 2, \"x\"]",
                                       "b > %d",       "a != %d",   "not b == %d",
                                       "c in [%d, 1]", "a == %d.5", "(a == %d or b == 1)"};
    int indexed_matches = 0;
    for (int round = 0; round < 8000; round++) {
        char filter[256] = "";
        int terms = 1 + (int)(rng64() % 3);
        for (int t = 0; t < terms; t++) {
            char term[64];
            snprintf(term, sizeof term, predicates[rng64() % 9], (int)(rng64() % 3) - 1);
            if (t > 0)
                strcat(filter, " and ");
            strcat(filter, term);
        }
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init(&sbuf);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
        const char *names[] = {"a", "b", "c"};
        int present = 0, mask = (int)(rng64() % 8);
        for (int k = 0; k < 3; k++)
            present += (mask >> k) & 1;
        msgpack_pack_map(&pk, (size_t)present);
        for (int k = 0; k < 3; k++) {
            if (!((mask >> k) & 1))
                continue;
            msgpack_pack_str_with_body(&pk, names[k], 1);
            value_t v = random_value();
            if (rng64() % 4 != 0) { /* mostly values the predicates name */
                int64_t n = (int64_t)(rng64() % 4) - 1;
                v = (value_t){rng64() % 2 ? V_INT : V_F64, .i = n, .f = (double)n};
            }
            pack_value(&pk, &v);
        }
        tg_query_t *query = compile(filter);
        const char *path;
        size_t count;
        if (tg_query_index_path(query, &path, &count) &&
            tg_query_match(query, sbuf.data, sbuf.size)) {
            uint8_t vkey[TG_QUERY_MAX_KEY], lkey[TG_QUERY_MAX_KEY];
            size_t vlen = tg_query_value_key(sbuf.data, sbuf.size, path, vkey);
            bool found = false;
            for (size_t i = 0; i < count && !found; i++) {
                size_t llen = tg_query_index_value(query, i, lkey);
                found = vlen > 0 && llen == vlen && memcmp(lkey, vkey, llen) == 0;
            }
            cr_assert(found, "%s matched but its key at %s is not indexed", filter, path);
            indexed_matches++;
        }
        tg_query_destroy(&query);
        msgpack_sbuffer_destroy(&sbuf);
    }
    cr_assert_gt(indexed_matches, 200, "only %d indexed matches", indexed_matches);
}

/* --- the range hook -------------------------------------------------------- */

/* The range a filter offers, as "path op bound" ("" when none). */
static const char *range_of(const char *filter)
{
    static char result[TG_QUERY_MAX_PATH + 64];
    static const char *ops[] = {"<", "<=", ">", ">="};
    tg_query_t *query = compile(filter);
    const char *path = NULL;
    tg_query_range_op_t op;
    tg_query_number_t bound;
    result[0] = 0;
    if (tg_query_range_path(query, &path, &op, &bound)) {
        if (bound.type == TG_QUERY_NUMBER_INT)
            snprintf(result, sizeof result, "%s %s %" PRId64, path, ops[op], bound.as.i);
        else
            snprintf(result, sizeof result, "%s %s %.17g", path, ops[op], bound.as.f);
    }
    tg_query_destroy(&query);
    return result;
}

/* A numeric range of the top-level conjunction is offered when there is no
   equality; `number op path` is turned around; the first range in
   canonical order wins. */
Test(tg_query_index, numeric_ranges_are_offered_without_equality)
{
    cr_expect_str_eq(range_of("score > 10"), "score > 10");
    cr_expect_str_eq(range_of("10 < score"), "score > 10");
    cr_expect_str_eq(range_of("3.5 >= price"), "price <= 3.5");
    cr_expect_str_eq(range_of("a.b[2] <= -7"), "a.b[2] <= -7");
    cr_expect_str_eq(range_of("x >= 1.0"), "x >= 1"); /* integral: an int bound */
    cr_expect_str_eq(range_of("x < 1e19"), "x < 1e+19");
    cr_expect_str_eq(range_of("score > 5 and score < 10"), "score < 10");
    cr_expect_str_eq(range_of("not exists(y) and z != 2 and t > 0"), "t > 0");
}

/* Equality stays preferred; string ranges, ranges under or/not, and
   filters without a range offer none. */
Test(tg_query_index, ranges_yield_to_equality_and_need_a_numeric_top_level_bound)
{
    cr_expect_str_eq(range_of("user_id == 3 and score > 1"), "");
    cr_expect_str_eq(range_of("user_id in [1, 2] and score > 1"), "");
    cr_expect_str_eq(range_of("name > \"m\""), "");
    cr_expect_str_eq(range_of("x > null"), "");
    cr_expect_str_eq(range_of("x > 1 or y > 2"), "");
    cr_expect_str_eq(range_of("not x > 1"), "");
    cr_expect_str_eq(range_of("x != 1"), "");
    cr_expect_str_eq(range_of("exists(x)"), "");
    cr_expect_str_eq(range_of("name > \"m\" and x < 2"), "x < 2");
    cr_expect(!tg_query_range_path(NULL, NULL, NULL, NULL));
}

/* The number at a path: integers (signed, and unsigned above INT64_MAX),
   float32 and float64; nothing for NaN, non-numbers and missing paths. */
Test(tg_query_index, value_number_reads_numbers_only)
{
    const value_t numbers[] = {{V_INT, .i = -5},
                               {V_UINT, .u = 18446744073709551615ull},
                               {V_F32, .f = 0.5},
                               {V_F64, .f = -INFINITY}};
    const tg_query_number_type_t types[] = {TG_QUERY_NUMBER_INT, TG_QUERY_NUMBER_UINT,
                                            TG_QUERY_NUMBER_FLOAT, TG_QUERY_NUMBER_FLOAT};
    for (size_t i = 0; i < 4; i++) {
        msgpack_sbuffer sbuf = body_with(&numbers[i]);
        tg_query_number_t number;
        cr_assert(tg_query_value_number(sbuf.data, sbuf.size, "x", &number), "number %zu", i);
        cr_expect_eq(number.type, types[i]);
        cr_expect(!tg_query_value_number(sbuf.data, sbuf.size, "y", &number));
        cr_expect(!tg_query_value_number(sbuf.data, sbuf.size - 1, "x", &number));
        msgpack_sbuffer_destroy(&sbuf);
    }
    const value_t others[] = {{V_F64, .f = NAN}, {V_STR, .s = "1"}, {V_BOOL, .i = 1}, {V_NIL}};
    for (size_t i = 0; i < 4; i++) {
        msgpack_sbuffer sbuf = body_with(&others[i]);
        tg_query_number_t number;
        cr_expect(!tg_query_value_number(sbuf.data, sbuf.size, "x", &number), "other %zu", i);
        msgpack_sbuffer_destroy(&sbuf);
    }
    cr_expect(!tg_query_value_number(NULL, 0, "x", NULL));
}

/* The order is exact where a conversion to double would not be. */
Test(tg_query_index, number_order_is_exact_across_int_and_double)
{
    tg_query_number_t two53 = {.as.f = 9007199254740992.0, .type = TG_QUERY_NUMBER_FLOAT};
    tg_query_number_t two53_plus = {.as.i = 9007199254740993, .type = TG_QUERY_NUMBER_INT};
    tg_query_number_t max = {.as.i = INT64_MAX, .type = TG_QUERY_NUMBER_INT};
    tg_query_number_t two63 = {.as.f = 9223372036854775808.0, .type = TG_QUERY_NUMBER_FLOAT};
    tg_query_number_t two63_u = {.as.u = 9223372036854775808ull, .type = TG_QUERY_NUMBER_UINT};
    tg_query_number_t small_u = {.as.u = 3, .type = TG_QUERY_NUMBER_UINT};
    tg_query_number_t three = {.as.i = 3, .type = TG_QUERY_NUMBER_INT};
    tg_query_number_t nan = {.as.f = NAN, .type = TG_QUERY_NUMBER_FLOAT};
    cr_expect_eq(tg_query_number_compare(&two53_plus, &two53), 1);
    cr_expect_eq(tg_query_number_compare(&two53, &two53_plus), -1);
    cr_expect_eq(tg_query_number_compare(&max, &two63), -1);
    cr_expect_eq(tg_query_number_compare(&two63_u, &two63), 0);
    cr_expect_eq(tg_query_number_compare(&two63_u, &max), 1);
    cr_expect_eq(tg_query_number_compare(&small_u, &three), 0);
    cr_expect_eq(tg_query_number_compare(&nan, &three), 2);
    cr_expect_eq(tg_query_number_compare(&three, &nan), 2);
}

/* A number of the pool or of random_value() (not NaN), or false. */
static bool number_of(const value_t *v, tg_query_number_t *number)
{
    msgpack_sbuffer sbuf = body_with(v);
    bool found = tg_query_value_number(sbuf.data, sbuf.size, "x", number);
    msgpack_sbuffer_destroy(&sbuf);
    return found;
}

/* For thousands of (numeric literal, value) pairs and every range
   operator: `x op literal` matches {x: value} exactly when the value is a
   number and tg_query_number_compare(value, bound) says so (the range
   index and the evaluator agree). */
Test(tg_query_index, number_order_agrees_with_the_evaluator)
{
    rng_state = 0x3c6ef372fe94f82bull;
    static const char *ops[] = {"<", "<=", ">", ">="};
    int numeric = 0, matched = 0;
    for (int round = 0; round < 4000; round++) {
        value_t literal = random_value(), value = random_value();
        if (literal.kind == V_UINT || literal.kind == V_NIL || literal.kind == V_BOOL ||
            literal.kind == V_STR)
            continue;
        if (rng64() % 4 == 0)
            value = literal;
        char text[128], filter[160];
        literal_text(&literal, text, sizeof text);
        tg_query_range_op_t op = (tg_query_range_op_t)(rng64() % 4);
        snprintf(filter, sizeof filter, "x %s %s", ops[op], text);
        tg_query_t *query = compile(filter);
        const char *path;
        tg_query_range_op_t range_op;
        tg_query_number_t bound, number;
        cr_assert(tg_query_range_path(query, &path, &range_op, &bound), "%s", filter);
        cr_assert_eq(range_op, op);
        msgpack_sbuffer sbuf = body_with(&value);
        bool matches = tg_query_match(query, sbuf.data, sbuf.size);
        bool holds = false;
        if (number_of(&value, &number)) {
            int c = tg_query_number_compare(&number, &bound);
            holds = op == TG_QUERY_RANGE_LT   ? c == -1
                    : op == TG_QUERY_RANGE_LE ? c == -1 || c == 0
                    : op == TG_QUERY_RANGE_GT ? c == 1
                                              : c == 1 || c == 0;
            numeric++;
        }
        cr_assert_eq(holds, matches, "%s on value kind %d (i=%" PRId64 " u=%" PRIu64 " f=%.17g)",
                     filter, value.kind, value.i, value.u, value.f);
        matched += matches;
        msgpack_sbuffer_destroy(&sbuf);
        tg_query_destroy(&query);
    }
    cr_assert_gt(numeric, 1000, "only %d numeric values", numeric);
    cr_assert_gt(matched, 500, "only %d matches", matched);
}

/* Over every pair and triple of the pool's numbers, the order is
   antisymmetric and transitive: sorting by it is well defined. */
Test(tg_query_index, number_order_is_a_total_order)
{
    tg_query_number_t numbers[POOL_SIZE];
    size_t n = 0;
    for (size_t i = 0; i < POOL_SIZE; i++)
        n += number_of(&s_pool[i], &numbers[n]);
    cr_assert_gt(n, 20);
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            int ab = tg_query_number_compare(&numbers[a], &numbers[b]);
            cr_assert_eq(ab, -tg_query_number_compare(&numbers[b], &numbers[a]));
            for (size_t c = 0; c < n; c++) {
                int bc = tg_query_number_compare(&numbers[b], &numbers[c]);
                if (ab <= 0 && bc <= 0)
                    cr_assert_leq(tg_query_number_compare(&numbers[a], &numbers[c]), 0,
                                  "%zu %zu %zu", a, b, c);
            }
        }
}

/* A one-equality filter is small enough for a million subscriptions. */
Test(tg_query_index, simple_filter_is_small)
{
    tg_query_t *query = compile("user_id == 123456");
    cr_assert_lt(tg_query_memory(query), 128, "%zu bytes", tg_query_memory(query));
    tg_query_destroy(&query);
}
