/*  Unit tests for tg_query_match: filters evaluated on msgpack event
    bodies (built with msgpack-c's packer) of every type. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "tg_query.h"

#if defined(__SANITIZE_ADDRESS__)
/* From <sanitizer/allocator_interface.h>, which gcc does not ship: the
   sanitizer runtime calls these hooks on every malloc and free. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
#else
#include <malloc.h>
#endif

/* Packs a jansson value (integers stay integers, reals stay floats). */
static void pack_json(msgpack_packer *pk, json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        msgpack_pack_map(pk, json_object_size(value));
        json_object_foreach(value, key, item)
        {
            msgpack_pack_str_with_body(pk, key, strlen(key));
            pack_json(pk, item);
        }
        break;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(value));
        for (size_t i = 0; i < json_array_size(value); i++)
            pack_json(pk, json_array_get(value, i));
        break;
    }
    case JSON_STRING:
        msgpack_pack_str_with_body(pk, json_string_value(value), json_string_length(value));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(value));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(value));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

/* The msgpack body of a JSON text written with ' for " (caller destroys). */
static msgpack_sbuffer body_of(const char *json)
{
    char *text = strdup(json);
    for (char *c = text; *c; c++)
        if (*c == '\'')
            *c = '"';
    json_error_t error;
    json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
    cr_assert_not_null(value, "bad test JSON %s: %s", json, error.text);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    pack_json(&pk, value);
    json_decref(value);
    free(text);
    return sbuf;
}

static tg_query_t *compile(const char *filter)
{
    tg_query_error_t err;
    tg_query_t *query = tg_query_parse(filter, strlen(filter), NULL, &err);
    cr_assert_not_null(query, "filter %s: %s", filter, err.message);
    return query;
}

static bool match_bytes(const char *filter, const void *data, size_t size)
{
    tg_query_t *query = compile(filter);
    bool result = tg_query_match(query, data, size);
    /* the trusted variant agrees on valid bodies */
    cr_assert_eq(tg_query_match_trusted(query, data, size), result, "%s", filter);
    tg_query_destroy(&query);
    return result;
}

static bool match(const char *filter, const char *json)
{
    msgpack_sbuffer sbuf = body_of(json);
    bool result = match_bytes(filter, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy(&sbuf);
    return result;
}

#define assert_match(filter, json)    cr_assert(match(filter, json), "%s on %s", filter, json)
#define assert_no_match(filter, json) cr_assert_not(match(filter, json), "%s on %s", filter, json)

/* --- operators ------------------------------------------------------------ */

/* == and != on integers. */
Test(tg_query_eval, equality_on_integers)
{
    assert_match("a == 42", "{'a': 42}");
    assert_no_match("a == 41", "{'a': 42}");
    assert_match("a != 41", "{'a': 42}");
    assert_no_match("a != 42", "{'a': 42}");
    assert_match("a == -5", "{'a': -5}");
}

/* < <= > >= on numbers. */
Test(tg_query_eval, ordering_on_numbers)
{
    assert_match("a < 43", "{'a': 42}");
    assert_no_match("a < 42", "{'a': 42}");
    assert_match("a <= 42", "{'a': 42}");
    assert_no_match("a <= 41", "{'a': 42}");
    assert_match("a > 41.5", "{'a': 42}");
    assert_no_match("a > 42", "{'a': 42}");
    assert_match("a >= 42.0", "{'a': 42}");
    assert_no_match("a >= 42.5", "{'a': 42}");
    assert_match("a < -1", "{'a': -2.5}");
}

/* Strings compare bytewise (UTF-8 order): "B" < "a" < "z" < "é"; a prefix
   comes first. */
Test(tg_query_eval, strings_compare_bytewise)
{
    assert_match("s == \"abc\"", "{'s': 'abc'}");
    assert_no_match("s == \"ab\"", "{'s': 'abc'}");
    assert_match("s > \"B\"", "{'s': 'a'}");
    assert_match("s < \"\xc3\xa9\"", "{'s': 'z'}");
    assert_match("s < \"abcd\"", "{'s': 'abc'}");
    assert_match("s >= \"abc\"", "{'s': 'abc'}");
    assert_no_match("s > \"abc\"", "{'s': 'abc'}");
}

/* true, false and null compare by equality only. */
Test(tg_query_eval, booleans_and_null_compare_by_equality_only)
{
    assert_match("b == true", "{'b': true}");
    assert_no_match("b == false", "{'b': true}");
    assert_match("b != false", "{'b': true}");
    assert_match("n == null", "{'n': null}");
    assert_no_match("n != null", "{'n': null}");
    assert_no_match("b > false", "{'b': true}");
    assert_no_match("n <= null", "{'n': null}");
    assert_no_match("n == false", "{'n': null}");
    assert_no_match("z == null", "{'z': 0}");
}

/* in is true when the value equals one element of the list. */
Test(tg_query_eval, in_matches_any_element)
{
    assert_match("s in [\"draft\", \"published\"]", "{'s': 'draft'}");
    assert_no_match("s in [\"draft\", \"published\"]", "{'s': 'deleted'}");
    assert_match("n in [1, \"1\", null]", "{'n': 1.0}");
    assert_match("n in [1, \"1\", null]", "{'n': null}");
    assert_no_match("n in [1, 2]", "{'n': '1'}");
    assert_no_match("n in []", "{'n': 1}");
}

/* contains on an array: some element equals the value. */
Test(tg_query_eval, contains_on_arrays_finds_an_equal_element)
{
    assert_match("tags contains \"urgent\"", "{'tags': ['a', 'urgent']}");
    assert_no_match("tags contains \"urg\"", "{'tags': ['a', 'urgent']}");
    assert_match("ids contains 2", "{'ids': [1, 2.0, [2]]}");
    assert_no_match("ids contains 3", "{'ids': [1, 2.0, [3], {'x': 3}]}");
    assert_match("ids contains null", "{'ids': [1, null]}");
    assert_no_match("ids contains 1", "{'ids': []}");
}

/* contains on a string: the value is a substring (the empty string always
   is); a number is never contained in a string. */
Test(tg_query_eval, contains_on_strings_finds_a_substring)
{
    assert_match("t contains \"lo w\"", "{'t': 'hello world'}");
    assert_no_match("t contains \"low\"", "{'t': 'hello world'}");
    assert_match("t contains \"\"", "{'t': ''}");
    assert_no_match("t contains 1", "{'t': '1'}");
    assert_no_match("t contains \"1\"", "{'t': 1}");
    assert_no_match("t contains \"a\"", "{'t': {'a': 1}}");
}

/* startswith applies to strings only. */
Test(tg_query_eval, startswith_applies_to_strings_only)
{
    assert_match("t startswith \"Re:\"", "{'t': 'Re: hello'}");
    assert_match("t startswith \"\"", "{'t': ''}");
    assert_no_match("t startswith \"Re:\"", "{'t': 'Fwd: Re:'}");
    assert_no_match("t startswith \"Re: hello!\"", "{'t': 'Re: hello'}");
    assert_no_match("t startswith \"1\"", "{'t': 12}");
    assert_no_match("t startswith \"a\"", "{'t': ['a']}");
}

/* exists is true when the path is there, even holding null. */
Test(tg_query_eval, exists_is_true_for_present_paths_even_null)
{
    assert_match("exists(a)", "{'a': null}");
    assert_match("exists(a.b)", "{'a': {'b': false}}");
    assert_no_match("exists(b)", "{'a': 1}");
    assert_no_match("exists(a.b)", "{'a': 1}");
}

/* A bare path is true exactly when its value is boolean true. */
Test(tg_query_eval, bare_path_is_true_only_for_boolean_true)
{
    assert_match("deleted", "{'deleted': true}");
    assert_no_match("deleted", "{'deleted': false}");
    assert_no_match("deleted", "{'deleted': 1}");
    assert_no_match("deleted", "{'deleted': 'true'}");
    assert_no_match("deleted", "{'deleted': null}");
    assert_no_match("deleted", "{}");
}

/* not, and, or combine as boolean logic. */
Test(tg_query_eval, not_and_or_combine)
{
    const char *body = "{'a': 1, 'b': 2}";
    assert_match("a == 1 and b == 2", body);
    assert_no_match("a == 1 and b == 3", body);
    assert_match("a == 9 or b == 2", body);
    assert_no_match("a == 9 or b == 9", body);
    assert_match("not a == 9", body);
    assert_no_match("not (a == 1 or b == 9)", body);
    assert_match("a == 9 or a == 1 and b == 2", body);
    assert_no_match("(a == 9 or a == 1) and b == 9", body);
}

/* --- missing paths, types, numbers --------------------------------------- */

/* With the path missing every comparison is false, != included, and not
   of a comparison is true. */
Test(tg_query_eval, missing_path_makes_every_comparison_false)
{
    const char *body = "{'other': 1}";
    const char *filters[] = {"a == 1",    "a != 1",       "a < 1",
                             "a <= 1",    "a > 1",        "a >= 1",
                             "a in [1]",  "a contains 1", "a startswith \"x\"",
                             "a == null", "a != null",    "a"};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        assert_no_match(filters[i], body);
    assert_match("not a == 1", body);
    assert_match("not a", body);
    assert_match("not exists(a)", body);
}

/* A number never equals a string and the two are never ordered. */
Test(tg_query_eval, numbers_and_strings_never_compare)
{
    assert_no_match("a == \"1\"", "{'a': 1}");
    assert_no_match("a == 1", "{'a': '1'}");
    assert_no_match("a < \"2\"", "{'a': 1}");
    assert_no_match("a > 0", "{'a': '1'}");
    assert_no_match("a >= \"\"", "{'a': 1}");
    assert_match("a != \"1\"", "{'a': 1}");
}

/* Integers and floats compare by value: 1 == 1.0. */
Test(tg_query_eval, integers_and_floats_compare_by_value)
{
    assert_match("a == 1", "{'a': 1.0}");
    assert_match("a == 1.0", "{'a': 1}");
    assert_match("a < 1.5", "{'a': 1}");
    assert_match("a > 1", "{'a': 1.5}");
    assert_no_match("a == 1", "{'a': 1.5}");
    assert_match("a == -0.0", "{'a': 0}");
}

/* Big integers compare exactly with floats, without rounding through
   double: 2^53 + 1 is not 2^53 as a float. */
Test(tg_query_eval, big_integers_compare_exactly_with_floats)
{
    assert_no_match("a == 9007199254740992.0", "{'a': 9007199254740993}");
    assert_match("a > 9007199254740992.0", "{'a': 9007199254740993}");
    assert_match("a == 9007199254740992.0", "{'a': 9007199254740992}");
    assert_match("a < 9223372036854775808.0", "{'a': 9223372036854775807}");
    assert_match("a > -9223372036854775809.0", "{'a': -9223372036854775807}");
    assert_no_match("a == 9223372036854775807", "{'a': 9223372036854775807.0}");
    assert_match("a == 9223372036854775807", "{'a': 9223372036854775807}");
}

/* Floats compare exactly too: 0.1 + 0.2 is not 0.3. */
Test(tg_query_eval, floats_compare_exactly)
{
    assert_no_match("a == 0.3", "{'a': 0.30000000000000004}");
    assert_match("a > 0.3", "{'a': 0.30000000000000004}");
    assert_match("a == 0.30000000000000004", "{'a': 0.30000000000000004}");
}

/* An unsigned 64-bit value above INT64_MAX compares by value. */
Test(tg_query_eval, uint64_values_compare_by_value)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "u", 1);
    msgpack_pack_uint64(&pk, 18446744073709551615ull);
    cr_assert(match_bytes("u > 9223372036854775807", sbuf.data, sbuf.size));
    cr_assert(match_bytes("u < 18446744073709551616.0", sbuf.data, sbuf.size));
    cr_assert_not(match_bytes("u == 18446744073709551616.0", sbuf.data, sbuf.size));
    cr_assert(match_bytes("u > 1e19", sbuf.data, sbuf.size));
    cr_assert(match_bytes("u != 1", sbuf.data, sbuf.size));
    msgpack_sbuffer_destroy(&sbuf);
}

/* A float32 value compares as the exact value it holds. */
Test(tg_query_eval, float32_values_compare_by_their_exact_value)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "h", 1);
    msgpack_pack_float(&pk, 0.5f);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_float(&pk, 0.1f);
    cr_assert(match_bytes("h == 0.5", sbuf.data, sbuf.size));
    cr_assert_not(match_bytes("t == 0.1", sbuf.data, sbuf.size));
    cr_assert(match_bytes("t > 0.1 and t < 0.10001", sbuf.data, sbuf.size));
    msgpack_sbuffer_destroy(&sbuf);
}

/* Binary values are present but equal nothing, not even their bytes as a
   string. */
Test(tg_query_eval, binary_values_equal_nothing)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_bin_with_body(&pk, "ab", 2);
    cr_assert(match_bytes("exists(b)", sbuf.data, sbuf.size));
    cr_assert_not(match_bytes("b == \"ab\"", sbuf.data, sbuf.size));
    cr_assert_not(match_bytes("b startswith \"a\"", sbuf.data, sbuf.size));
    cr_assert_not(match_bytes("b contains \"a\"", sbuf.data, sbuf.size));
    cr_assert(match_bytes("b != \"ab\"", sbuf.data, sbuf.size));
    msgpack_sbuffer_destroy(&sbuf);
}

/* Maps and arrays equal no literal. */
Test(tg_query_eval, containers_equal_no_literal)
{
    assert_no_match("a == 1", "{'a': [1]}");
    assert_no_match("a == null", "{'a': {}}");
    assert_no_match("a in [1]", "{'a': [1]}");
    assert_no_match("a > 0", "{'a': {'b': 1}}");
}

/* A filter nested to the depth limit evaluates like its flat form:
   21 nots (and 10 parentheses) around a comparison are one not. */
Test(tg_query_eval, deeply_nested_filters_evaluate)
{
    char filter[512] = "";
    for (int i = 0; i < 21; i++)
        strcat(filter, i % 2 ? "not (" : "not ");
    strcat(filter, "a == 1");
    for (int i = 0; i < 21; i++)
        if (i % 2)
            strcat(filter, ")");
    assert_no_match(filter, "{'a': 1}");
    assert_match(filter, "{'a': 2}");
}

/* --- paths ---------------------------------------------------------------- */

/* Dotted paths walk into nested maps. */
Test(tg_query_eval, dotted_paths_walk_nested_maps)
{
    const char *body = "{'author': {'id': 42, 'name': 'ann', 'org': {'id': 7}}, 'id': 1}";
    assert_match("author.id == 42", body);
    assert_match("author.org.id == 7", body);
    assert_match("id == 1", body);
    assert_no_match("author.org.name == \"ann\"", body);
    assert_no_match("author.id.x == 42", body);
}

/* Indexes pick array elements; past the end is missing. */
Test(tg_query_eval, indexes_pick_array_elements)
{
    const char *body = "{'tags': ['a', 'b'], 'a': {'b': [0, 1, {'c': 'deep'}]}}";
    assert_match("tags[0] == \"a\"", body);
    assert_match("tags[1] == \"b\"", body);
    assert_no_match("tags[2] == \"b\"", body);
    assert_no_match("exists(tags[2])", body);
    assert_match("a.b[2].c == \"deep\"", body);
    assert_match("a.b[1] == 1", body);
    assert_no_match("tags[4294967295] == 1", body);
}

/* An index on a map and a name on an array lead nowhere. */
Test(tg_query_eval, steps_of_the_wrong_kind_lead_nowhere)
{
    const char *body = "{'m': {'0': 1}, 'l': [{'x': 1}]}";
    assert_no_match("exists(m[0])", body);
    assert_no_match("exists(l.x)", body);
    assert_match("l[0].x == 1", body);
}

/* The first of duplicated keys is the one read. */
Test(tg_query_eval, first_of_duplicate_keys_wins)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_int(&pk, 2);
    cr_assert(match_bytes("k == 1", sbuf.data, sbuf.size));
    cr_assert_not(match_bytes("k == 2", sbuf.data, sbuf.size));
    msgpack_sbuffer_destroy(&sbuf);
}

/* Keys that are not strings (legal msgpack) are passed over. */
Test(tg_query_eval, non_string_keys_are_passed_over)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_array(&pk, 1); /* an array as a key */
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_int(&pk, 3);
    cr_assert(match_bytes("k == 3", sbuf.data, sbuf.size));
    msgpack_sbuffer_destroy(&sbuf);
}

/* --- bad bodies ----------------------------------------------------------- */

/* A body that is not a map never matches, even `not x`. */
Test(tg_query_eval, body_that_is_not_a_map_never_matches)
{
    assert_no_match("not x", "[1, 2]");
    assert_no_match("not x", "'text'");
    assert_no_match("not x", "null");
    cr_assert_not(match_bytes("not x", "", 0));
    tg_query_t *query = compile("not x");
    cr_assert_not(tg_query_match(query, NULL, 0));
    cr_assert_not(tg_query_match_trusted(query, NULL, 5));
    cr_assert_not(tg_query_match(NULL, "\x80", 1));
    tg_query_destroy(&query);
}

/* Truncated bytes, trailing bytes and 0xc1 never match. */
Test(tg_query_eval, malformed_bodies_never_match)
{
    msgpack_sbuffer sbuf = body_of("{'a': 1, 'b': 'text'}");
    tg_query_t *yes = compile("not missing");
    cr_assert(tg_query_match(yes, sbuf.data, sbuf.size));
    for (size_t cut = 0; cut < sbuf.size; cut++)
        cr_assert_not(tg_query_match(yes, sbuf.data, cut), "cut at %zu", cut);
    char longer[64];
    memcpy(longer, sbuf.data, sbuf.size);
    longer[sbuf.size] = 0x01;
    cr_assert_not(tg_query_match(yes, longer, sbuf.size + 1));
    cr_assert_not(tg_query_match(yes,
                                 "\x81\xa1"
                                 "a\xc1",
                                 4));
    tg_query_destroy(&yes);
    msgpack_sbuffer_destroy(&sbuf);
}

/* The trusted variant never reads past the end and a malformed part it
   reaches means no match, `not` included. */
Test(tg_query_eval, trusted_match_on_truncated_bodies_never_matches_what_it_cannot_read)
{
    msgpack_sbuffer sbuf = body_of("{'a': 1, 'b': 'text', 'c': [1, 2, 3]}");
    tg_query_t *query = compile("not missing");
    for (size_t cut = 0; cut < sbuf.size; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        memcpy(copy, sbuf.data, cut);
        cr_assert_not(tg_query_match_trusted(query, copy, cut), "cut at %zu", cut);
        free(copy);
    }
    tg_query_destroy(&query);
    msgpack_sbuffer_destroy(&sbuf);
}

/* A header claiming a huge map or string stops at the end of the bytes. */
Test(tg_query_eval, huge_declared_lengths_stop_at_the_end)
{
    tg_query_t *query = compile("not missing or a == 1");
    cr_assert_not(tg_query_match_trusted(query, "\xdf\xff\xff\xff\xff", 5));
    cr_assert_not(tg_query_match_trusted(query, "\x81\xdb\xff\xff\xff\xff", 6));
    cr_assert_not(tg_query_match_trusted(query, "\x81\xa1z\xdd\xff\xff\xff\xff", 8));
    tg_query_destroy(&query);
}

/* --- cost ------------------------------------------------------------------ */

static size_t s_allocations;
#if defined(__SANITIZE_ADDRESS__)
static void count_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    (void)size;
    s_allocations++;
}
static void count_free(const volatile void *ptr)
{
    (void)ptr;
}
#endif

/* Evaluation allocates nothing, whatever the operators and the body. */
Test(tg_query_eval, evaluation_allocates_nothing)
{
    msgpack_sbuffer sbuf =
        body_of("{'a': 1, 'tags': ['x', 'y'], 'author': {'id': 42}, 's': 'Re: hi', 'f': 1.5}");
    tg_query_t *query = compile("a in [1, 2] and tags contains \"y\" and author.id >= 42 and "
                                "s startswith \"Re:\" and not f > 2 and exists(tags[1]) "
                                "and s contains \"hi\" or x");
    cr_assert(tg_query_match(query, sbuf.data, sbuf.size));
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_install_malloc_and_free_hooks(count_malloc, count_free);
    for (int i = 0; i < 1000; i++)
        cr_assert(tg_query_match(query, sbuf.data, sbuf.size));
    __sanitizer_install_malloc_and_free_hooks(NULL, NULL);
    cr_assert_eq(s_allocations, 0, "%zu allocations", s_allocations);
#else
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 1000; i++)
        cr_assert(tg_query_match(query, sbuf.data, sbuf.size));
    struct mallinfo2 after = mallinfo2();
    cr_assert_eq(before.uordblks, after.uordblks);
    (void)s_allocations;
#endif
    tg_query_destroy(&query);
    msgpack_sbuffer_destroy(&sbuf);
}
