/*  Unit tests for tg_query's canonical form: equivalent spellings share one
    text, and the text parses back to itself (hand-picked and random
    filters with a fixed seed). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_query.h"

/* The canonical text of `text`, or "ERROR <column>: <message>". */
static const char *canon_with(const char *text, size_t len, const tg_query_limits_t *limits)
{
    static char result[8192];
    tg_query_error_t err;
    tg_query_t *query = tg_query_parse(text, len, limits, &err);
    if (!query)
        snprintf(result, sizeof result, "ERROR %d: %s", err.column, err.message);
    else
        snprintf(result, sizeof result, "%s", tg_query_canonical(query));
    tg_query_destroy(&query);
    return result;
}

static const char *canon(const char *text)
{
    return canon_with(text, strlen(text), NULL);
}

#define assert_canon(text, expected) cr_assert_str_eq(canon(text), expected, "filter: %s", text)

/* --- canonical form -------------------------------------------------------- */

/* Operand order of and/or, parentheses, spacing and quote style do not
   change the canonical text. */
Test(tg_query_canon, equivalent_spellings_share_one_canonical_text)
{
    const char *expected = "a == 1 and b == \"x\"";
    assert_canon("a==1 and b==\"x\"", expected);
    assert_canon("b == 'x' and a == 1", expected);
    assert_canon("((b=='x')) and (a  ==\t1)", expected);
    assert_canon("\"x\" == b and 1 == a", expected);
    assert_canon("a == 1.0 and b == \"\\u0078\"", expected);
}

/* A value before the path is turned around. */
Test(tg_query_canon, literal_before_path_is_turned_around)
{
    assert_canon("1 < a", "a > 1");
    assert_canon("1 <= a", "a >= 1");
    assert_canon("1 > a", "a < 1");
    assert_canon("1 >= a", "a <= 1");
    assert_canon("1 != a", "a != 1");
    assert_canon("\"urgent\" in tags", "tags contains \"urgent\"");
}

/* Lists are sorted (null, false, true, numbers, strings) and deduplicated;
   1 and 1.0 are one value; a one-value list is ==. */
Test(tg_query_canon, lists_are_sorted_and_deduplicated)
{
    assert_canon("a in [\"b\", 10, 2, null, true, false, \"a\", 2.0, 1.5]",
                 "a in [null, false, true, 1.5, 2, 10, \"a\", \"b\"]");
    assert_canon("a in [1, 1.0, 1e0]", "a == 1");
    assert_canon("a in []", "a in []");
    cr_assert_str_eq(canon("a in [3, 1, 2]"), canon("a in [2, 3, 1, 1]"));
}

/* Numbers print exactly: integral floats within int64 as integers, other
   floats in their shortest round-trip form. */
Test(tg_query_canon, numbers_print_canonically)
{
    assert_canon("a == 1.0", "a == 1");
    assert_canon("a == -0.0", "a == 0");
    assert_canon("a == 1.5e3", "a == 1500");
    assert_canon("a == 0.1", "a == 0.1");
    assert_canon("a == 1e20", "a == 1e+20");
    assert_canon("a == 9223372036854775808.0", "a == 9.223372036854776e+18");
    assert_canon("a == 0.30000000000000004", "a == 0.30000000000000004");
    assert_canon("a == 007", "a == 7");
}

/* Strings print double-quoted with minimal escapes. */
Test(tg_query_canon, strings_print_with_minimal_escapes)
{
    assert_canon("a == '\\u0041\"'", "a == \"A\\\"\"");
    assert_canon("a == \"\\u0001\\u007f\"", "a == \"\\u0001\\u007f\"");
    assert_canon("a == \"tab\there\"", "a == \"tab\\there\"");
    assert_canon("a == '\xc3\xa9'", "a == \"\xc3\xa9\"");
}

/* Repeated operands collapse; one operand left stands alone. */
Test(tg_query_canon, repeated_operands_collapse)
{
    assert_canon("a and a", "a");
    assert_canon("a == 1 or (a == 1) or a==1.0", "a == 1");
    assert_canon("b and a and b", "a and b");
}

/* Array indexes print without leading zeros. */
Test(tg_query_canon, array_indexes_print_without_leading_zeros)
{
    assert_canon("tags[007] == 1", "tags[7] == 1");
    assert_canon("tags[0] == 1", "tags[0] == 1");
}

/* Double negation cancels; a single not stays. */
Test(tg_query_canon, double_negation_cancels)
{
    assert_canon("not not a == 1", "a == 1");
    assert_canon("not (not (a and b))", "a and b");
    assert_canon("x and not not (a and b)", "a and b and x");
}

/* Parentheses appear only where precedence needs them. */
Test(tg_query_canon, parentheses_are_minimal)
{
    assert_canon("((a) or ((b and c)))", "a or b and c");
    assert_canon("not ((a or b)) and ((c))", "c and not (a or b)");
    assert_canon("(a or b) and (c or d)", "(a or b) and (c or d)");
}

/* Whitespace of every kind separates tokens. */
Test(tg_query_canon, whitespace_of_every_kind_separates_tokens)
{
    assert_canon(" \t\r\na\n==\r1\t", "a == 1");
}

/* --- properties over random filters (fixed seed) ------------------------- */

static uint64_t rng_state;

static uint32_t rng(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* A random filter's meaning: a tree of and/or/not over leaf predicates. */
typedef struct tnode {
    int kind; /* 0 leaf, 1 and, 2 or, 3 not */
    int count;
    struct tnode *kids[3];
    int path, leaf, op, values[3], value_count;
} tnode_t;

static tnode_t *tnode_random(int depth)
{
    tnode_t *node = calloc(1, sizeof *node);
    node->kind = depth > 0 ? (int)rng(4) : 0;
    if (node->kind == 1 || node->kind == 2) {
        node->count = 2 + (int)rng(2);
        for (int i = 0; i < node->count; i++)
            node->kids[i] = tnode_random(depth - 1);
    } else if (node->kind == 3) {
        node->count = 1;
        node->kids[0] = tnode_random(depth - 1);
    } else {
        node->path = (int)rng(3);
        node->leaf = (int)rng(7);
        node->op = (int)rng(6);
        node->value_count = 1 + (int)rng(3);
        for (int i = 0; i < 3; i++)
            node->values[i] = (int)rng(5) - 2;
    }
    return node;
}

static void tnode_free(tnode_t *node)
{
    for (int i = 0; i < node->count; i++)
        tnode_free(node->kids[i]);
    free(node);
}

/* An integer spelled one of several equal ways. */
static void spell_int(char *out, int v)
{
    static const char *forms[] = {"%d", "%d.0", "%de0", "%d.00"};
    char text[32];
    snprintf(text, sizeof text, forms[rng(4)], v);
    if (v >= 0 && rng(3) == 0)
        strcat(out, "+");
    strcat(out, text);
}

static void spell_string(char *out, int v)
{
    static const char *plain[] = {"x", "y", "\xc3\xa9", "q\\\"", "z"};
    static const char *escaped[] = {"\\u0078", "y", "\\u00e9", "q\\\"", "\\u007a"};
    const char *quote = rng(2) ? "\"" : "'";
    strcat(out, quote);
    strcat(out, rng(2) ? plain[v + 2] : escaped[v + 2]);
    strcat(out, quote);
}

static void spell(char *out, const tnode_t *node, bool parens)
{
    static const char *paths[] = {"a", "b.c", "t[1]"};
    static const char *ops[] = {"==", "!=", "<", "<=", ">", ">="};
    static const char *mirrored[] = {"==", "!=", ">", ">=", "<", "<="};
    bool extra = rng(4) == 0;
    if (parens || extra)
        strcat(out, "(");
    switch (node->kind) {
    case 1:
    case 2: {
        int order[3] = {0, 1, 2};
        for (int i = node->count - 1; i > 0; i--) {
            int j = (int)rng((uint32_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < node->count; i++) {
            if (i > 0)
                strcat(out, node->kind == 1 ? " and " : rng(2) ? " or " : "  or\t");
            const tnode_t *kid = node->kids[order[i]];
            spell(out, kid, node->kind == 1 && kid->kind == 2);
        }
        break;
    }
    case 3:
        strcat(out, "not ");
        spell(out, node->kids[0], node->kids[0]->kind == 1 || node->kids[0]->kind == 2);
        break;
    default: {
        const char *path = paths[node->path];
        int v = node->values[0];
        char *end = out + strlen(out);
        switch (node->leaf) {
        case 0: /* number comparison, either side */
            if (rng(2)) {
                spell_int(out, v);
                sprintf(out + strlen(out), " %s %s", mirrored[node->op], path);
            } else {
                sprintf(end, "%s %s ", path, ops[node->op]);
                spell_int(out, v);
            }
            break;
        case 1: /* string comparison */
            sprintf(end, "%s %s ", path, ops[node->op]);
            spell_string(out, v);
            break;
        case 2: { /* in, values shuffled and repeated */
            sprintf(end, "%s in [", path);
            int n = node->value_count + (int)rng(2);
            for (int i = 0; i < n; i++) {
                if (i > 0)
                    strcat(out, ", ");
                spell_int(out, node->values[(i + (int)rng(3)) % node->value_count]);
            }
            for (int i = 0; i < node->value_count; i++) {
                strcat(out, n > 0 ? ", " : "");
                spell_int(out, node->values[i]);
                n++;
            }
            strcat(out, "]");
            break;
        }
        case 3: /* contains, either spelling */
            if (rng(2)) {
                spell_string(out, v);
                sprintf(out + strlen(out), " in %s", path);
            } else {
                sprintf(end, "%s contains ", path);
                spell_string(out, v);
            }
            break;
        case 4:
            sprintf(end, "%s startswith ", path);
            spell_string(out, v);
            break;
        case 5:
            sprintf(end, "exists(%s)", path);
            break;
        default:
            strcat(out, path);
            break;
        }
    }
    }
    if (parens || extra)
        strcat(out, ")");
}

/* Printing the canonical text and parsing it again gives the same text,
   for thousands of random filters. */
Test(tg_query_canon, canonical_text_parses_back_to_itself)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    tg_query_limits_t limits = {65536, 256, 0};
    for (int i = 0; i < 3000; i++) {
        tnode_t *tree = tnode_random(1 + (int)rng(4));
        char text[8192] = "";
        spell(text, tree, false);
        tg_query_error_t err;
        tg_query_t *first = tg_query_parse(text, strlen(text), &limits, &err);
        cr_assert_not_null(first, "%s: %s", text, err.message);
        const char *canonical = tg_query_canonical(first);
        tg_query_t *second = tg_query_parse(canonical, strlen(canonical), &limits, &err);
        cr_assert_not_null(second, "%s: %s", canonical, err.message);
        cr_assert_str_eq(tg_query_canonical(second), canonical, "from %s", text);
        tg_query_destroy(&first);
        tg_query_destroy(&second);
        tnode_free(tree);
    }
}

/* Two random spellings of one filter (operand order, parentheses, quote
   style, escapes, number forms, value-first comparisons, list order and
   repeats) have the same canonical text. */
Test(tg_query_canon, random_equivalent_spellings_share_the_canonical_text)
{
    rng_state = 0x2545f4914f6cdd1dull;
    tg_query_limits_t limits = {65536, 256, 0};
    for (int i = 0; i < 3000; i++) {
        tnode_t *tree = tnode_random(1 + (int)rng(4));
        char one[8192] = "", two[8192] = "";
        spell(one, tree, false);
        spell(two, tree, false);
        char expected[8192];
        snprintf(expected, sizeof expected, "%s", canon_with(one, strlen(one), &limits));
        cr_assert_str_eq(canon_with(two, strlen(two), &limits), expected, "%s\nvs %s", one, two);
        cr_assert(strncmp(expected, "ERROR", 5) != 0, "%s: %s", one, expected);
        tnode_free(tree);
    }
}

/* Hand-picked round trips: escapes, extreme numbers, deep nesting. */
Test(tg_query_canon, tricky_filters_round_trip)
{
    const char *filters[] = {
        "a == \"\\u0000\\u001f\\\"\\\\\\n\"",
        "a == -9223372036854775808 or a == 9223372036854775807",
        "a in [1e308, -1e308, 5e-324, 0.1, 1e20]",
        "not (not (not (a or b) and c) or d)",
        "x[0][1].y[2] >= 2.5 and not exists(z)",
        "a == 1 or a == 1 and b or not (a == 1 and b)",
    };
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        char first[8192];
        snprintf(first, sizeof first, "%s", canon(filters[i]));
        cr_assert(strncmp(first, "ERROR", 5) != 0, "%s: %s", filters[i], first);
        cr_assert_str_eq(canon(first), first, "from %s", filters[i]);
    }
}
