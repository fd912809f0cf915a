/*  Unit tests for tg_query, the language: parsing, precedence, errors with
    their columns and limits. The canonical form is tested in
    test_tg_query_canon.c, evaluation in test_tg_query_eval.c, the index
    hook in test_tg_query_index.c. */
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

/* Asserts that text is refused at `column` with a message containing
   `fragment` and ending in "at column <column>". */
static void assert_error_with(const char *text, size_t len, const tg_query_limits_t *limits,
                              int column, const char *fragment)
{
    tg_query_error_t err;
    memset(&err, 0x55, sizeof err);
    tg_query_t *query = tg_query_parse(text, len, limits, &err);
    cr_assert_null(query, "filter %s parsed as %s", text, query ? tg_query_canonical(query) : "");
    cr_assert_eq(err.column, column, "filter %s: column %d, message %s", text, err.column,
                 err.message);
    cr_assert(strstr(err.message, fragment), "filter %s: message %s", text, err.message);
    char suffix[32];
    snprintf(suffix, sizeof suffix, "at column %d", column);
    size_t n = strlen(err.message), s = strlen(suffix);
    cr_assert(n >= s && strcmp(err.message + n - s, suffix) == 0, "message %s", err.message);
}

static void assert_error(const char *text, int column, const char *fragment)
{
    assert_error_with(text, strlen(text), NULL, column, fragment);
}

/* --- operators --------------------------------------------------------- */

/* Every comparison operator parses and prints with single spaces. */
Test(tg_query, every_comparison_operator_parses)
{
    assert_canon("a==1", "a == 1");
    assert_canon("a!=1", "a != 1");
    assert_canon("a<1", "a < 1");
    assert_canon("a<=1", "a <= 1");
    assert_canon("a>1", "a > 1");
    assert_canon("a>=1", "a >= 1");
}

/* in, contains, startswith, exists and a bare path parse. */
Test(tg_query, word_operators_parse)
{
    assert_canon("status in [\"draft\",\"published\"]", "status in [\"draft\", \"published\"]");
    assert_canon("tags contains \"urgent\"", "tags contains \"urgent\"");
    assert_canon("title startswith \"Re:\"", "title startswith \"Re:\"");
    assert_canon("exists( assignee )", "exists(assignee)");
    assert_canon("deleted", "deleted");
    assert_canon("not deleted", "not deleted");
}

/* The examples of DESIGN §2.5 parse. */
Test(tg_query, design_examples_parse)
{
    assert_canon("author.id == 42 and status in [\"draft\", \"published\"]",
                 "author.id == 42 and status in [\"draft\", \"published\"]");
    assert_canon("not deleted and title startswith \"Re:\"",
                 "not deleted and title startswith \"Re:\"");
    assert_canon("tags contains \"urgent\" or exists(assignee)",
                 "exists(assignee) or tags contains \"urgent\"");
    assert_canon("room == \"lobby\"", "room == \"lobby\"");
}

/* Literals: integers, floats, signs, exponents, strings, true/false/null. */
Test(tg_query, literals_of_every_kind_parse)
{
    assert_canon("a == -7", "a == -7");
    assert_canon("a == +7", "a == 7");
    assert_canon("a == 2.5", "a == 2.5");
    assert_canon("a == -2.5e-3", "a == -0.0025");
    assert_canon("a == 25E-1", "a == 2.5");
    assert_canon("a == true", "a == true");
    assert_canon("a == false", "a == false");
    assert_canon("a == null", "a == null");
    assert_canon("a == 'x'", "a == \"x\"");
    assert_canon("a == 9223372036854775807", "a == 9223372036854775807");
    assert_canon("a == -9223372036854775808", "a == -9223372036854775808");
}

/* Paths: names joined by dots, with array indexes. */
Test(tg_query, paths_with_dots_and_indexes_parse)
{
    assert_canon("author.id == 1", "author.id == 1");
    assert_canon("tags[0] == 1", "tags[0] == 1");
    assert_canon("a.b[2].c == 1", "a.b[2].c == 1");
    assert_canon("m[1][2] == 1", "m[1][2] == 1");
    assert_canon("_x.Y_2 == 1", "_x.Y_2 == 1");
    assert_canon("a.in == 1", "a.in == 1"); /* only a path's first name can't be a keyword */
}

/* Escapes in strings decode: \" \' \\ \n \t \r \/ and \uXXXX (pairs too). */
Test(tg_query, string_escapes_decode)
{
    assert_canon("a == \"q\\\"q\"", "a == \"q\\\"q\"");
    assert_canon("a == 'q\\'q'", "a == \"q'q\"");
    assert_canon("a == \"b\\\\s\"", "a == \"b\\\\s\"");
    assert_canon("a == \"\\n\\t\\r\\/\"", "a == \"\\n\\t\\r/\"");
    assert_canon("a == \"\\u00e9\"", "a == \"\xc3\xa9\"");
    assert_canon("a == \"\\ud83d\\ude00\"", "a == \"\xf0\x9f\x98\x80\"");
    assert_canon("a == \"\\u0000\"", "a == \"\\u0000\"");
}

/* --- precedence and associativity --------------------------------------- */

/* not binds tighter than and: `not a and b` is `(not a) and b`. */
Test(tg_query, not_binds_tighter_than_and)
{
    assert_canon("not a and b", "b and not a");
    assert_canon("not (a and b)", "not (a and b)");
}

/* and binds tighter than or: `a or b and c` is `a or (b and c)`. */
Test(tg_query, and_binds_tighter_than_or)
{
    assert_canon("a or b and c", "a or b and c");
    cr_assert_str_eq(canon("a or b and c"), canon("a or (b and c)"));
    assert_canon("(a or b) and c", "(a or b) and c");
    assert_canon("c and (b or a)", "(a or b) and c");
}

/* A comparison binds tighter than not: `not a == 1` is `not (a == 1)`. */
Test(tg_query, comparison_binds_tighter_than_not)
{
    assert_canon("not (a == 1)", "not a == 1");
    assert_canon("not a == 1", "not a == 1");
}

/* and and or are associative: every grouping has one canonical text. */
Test(tg_query, and_and_or_are_associative)
{
    cr_assert_str_eq(canon("(a and b) and c"), "a and b and c");
    cr_assert_str_eq(canon("a and (b and c)"), "a and b and c");
    cr_assert_str_eq(canon("(a or b) or c"), "a or b or c");
    cr_assert_str_eq(canon("a or (b or c)"), "a or b or c");
}

/* not applies to a whole parenthesised group and nests. */
Test(tg_query, not_applies_to_groups_and_nests)
{
    assert_canon("not (a or b)", "not (a or b)");
    assert_canon("not not not a", "not a");
    assert_canon("not exists(a)", "not exists(a)");
}

/* --- errors, each with its column ---------------------------------------- */

/* A missing value after an operator names the operator and the column. */
Test(tg_query, missing_value_names_the_operator)
{
    assert_error("author.id ==", 13, "expected a value after '=='");
    assert_error("a >= and b", 6, "expected a value after '>='");
    assert_error("a contains", 11, "expected a value after 'contains'");
}

/* An unterminated string reports where it started. */
Test(tg_query, unterminated_string_reports_its_start)
{
    assert_error("name == \"abc", 9, "unterminated string starting");
    assert_error("name == 'ab\\'", 9, "unterminated string starting");
}

/* Near-miss operators are unknown, with the spelling to use. */
Test(tg_query, unknown_operators_are_named)
{
    assert_error("a = 1", 3, "unknown operator '=' (write '==')");
    assert_error("a && b", 3, "unknown operator '&&' (write 'and')");
    assert_error("a || b", 3, "unknown operator '||' (write 'or')");
    assert_error("!a", 1, "unknown operator '!' (write 'not')");
    assert_error("a <> 1", 3, "unknown operator '<>'");
    assert_error("a === 1", 3, "unknown operator '==='");
    assert_error("a ~ 1", 3, "unknown operator '~'");
}

/* A filter longer than the length limit is refused before parsing; one
   exactly at the limit parses. */
Test(tg_query, filter_longer_than_the_limit_is_refused)
{
    char text[1025];
    memset(text, ' ', sizeof text);
    memcpy(text, "a == 1", 6);
    cr_assert_str_eq(canon_with(text, 1024, NULL), "a == 1");
    assert_error_with(text, 1025, NULL, 1025, "filter longer than 1024 bytes");
}

/* Nesting deeper than the limit names the '(' or 'not' that goes past it. */
Test(tg_query, nesting_deeper_than_the_limit_is_refused)
{
    char text[256];
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        text[n++] = '(';
    text[n++] = 'a';
    for (int i = 0; i < 32; i++)
        text[n++] = ')';
    cr_assert_str_eq(canon_with(text, n, NULL), "a");
    n = 0;
    for (int i = 0; i < 33; i++)
        text[n++] = '(';
    text[n++] = 'a';
    for (int i = 0; i < 33; i++)
        text[n++] = ')';
    assert_error_with(text, n, NULL, 33, "nesting deeper than 32");
}

/* not counts toward the nesting limit like a parenthesis. */
Test(tg_query, not_counts_toward_the_nesting_limit)
{
    tg_query_limits_t limits = {0, 3, 0};
    cr_assert_str_eq(canon_with("not not not a", 13, &limits), "not a");
    assert_error_with("not (not not a)", 15, &limits, 10, "nesting deeper than 3");
}

/* A list longer than the limit names the first value past it. */
Test(tg_query, list_longer_than_the_limit_is_refused)
{
    tg_query_limits_t limits = {0, 0, 3};
    cr_assert_str_eq(canon_with("a in [1,2,3]", 12, &limits), "a in [1, 2, 3]");
    assert_error_with("a in [1,2,3,4]", 14, &limits, 13, "list longer than 3");
}

/* The default list limit is 256 values. */
Test(tg_query, default_list_limit_is_256)
{
    char text[2048] = "a in [0";
    for (int i = 1; i < 257; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), ",%d", i);
    strcat(text, "]");
    /* value 256 (the 257th) starts after "a in [" and 256 numbers with commas */
    const char *at = strstr(text, ",256]") + 1;
    tg_query_limits_t limits = {4096, 0, 0};
    assert_error_with(text, strlen(text), &limits, (int)(at - text) + 1, "list longer than 256");
}

/* Bytes that are not UTF-8 are refused at their column. */
Test(tg_query, invalid_utf8_is_refused_at_its_column)
{
    assert_error("a == \"\xc3\x28\"", 7, "invalid UTF-8");
    assert_error("a == \"\xed\xa0\x80\"", 7, "invalid UTF-8"); /* a surrogate */
    assert_error("\xff", 1, "invalid UTF-8");
}

/* Bad escapes are refused at the backslash. */
Test(tg_query, bad_escapes_are_refused)
{
    assert_error("a == \"\\x41\"", 7, "unknown escape '\\x'");
    assert_error("a == \"\\u12\"", 7, "expected four hex digits");
    assert_error("a == \"\\ud800\"", 7, "unpaired surrogate");
    assert_error("a == \"\\udc00x\"", 7, "unpaired surrogate");
}

/* Numbers out of range are refused. */
Test(tg_query, numbers_out_of_range_are_refused)
{
    assert_error("a == 9223372036854775808", 6, "integer out of range");
    assert_error("a == -9223372036854775809", 6, "integer out of range");
    assert_error("a == 1e999", 6, "number out of range");
    assert_error("a == 1.", 8, "expected a digit after '.'");
    assert_error("a == 1e", 8, "expected a digit in the exponent");
    assert_error("a == 12ab", 8, "unexpected 'a' after a number");
}

/* Parentheses must balance. */
Test(tg_query, parentheses_must_balance)
{
    assert_error("(a == 1", 8, "expected ')' to close the '(' at column 1");
    assert_error("a == 1)", 7, "unexpected ')' without a matching '('");
    assert_error("()", 2, "expected a condition");
}

/* An empty filter, a dangling and/or/not and trailing tokens are refused. */
Test(tg_query, incomplete_filters_are_refused)
{
    assert_error("", 1, "empty filter");
    assert_error("   ", 4, "empty filter");
    assert_error("a and", 6, "expected a condition after 'and'");
    assert_error("a or or b", 6, "expected a condition after 'or'");
    assert_error("not", 4, "expected a condition after 'not'");
    assert_error("a == 1 b == 2", 8, "expected 'and', 'or' or the end of the filter");
}

/* Values compare with paths only: a value alone, two values, two paths,
   or an operator without a path are refused. */
Test(tg_query, comparisons_need_a_path_and_a_value)
{
    assert_error("1 == 2", 6, "expected a path after '=='");
    assert_error("a == b", 6, "expected a value after '=='");
    assert_error("true", 1, "expected a path, not a value");
    assert_error("== 1", 1, "expected a condition");
    assert_error("1 contains a", 3, "expected a path before 'contains'");
}

/* Keywords are lower case: TRUE and AND are paths. */
Test(tg_query, keywords_are_case_sensitive)
{
    assert_error("a == TRUE", 6, "expected a value after '=='");
    assert_error("a AND b", 3, "expected 'and', 'or' or the end of the filter");
    assert_canon("TRUE", "TRUE");
}

/* Lists only follow in; startswith takes a string; exists takes a path. */
Test(tg_query, operators_take_their_own_kind_of_value)
{
    assert_error("a == [1]", 6, "a list is only allowed after 'in'");
    assert_error("a in 1", 6, "expected a list after 'in'");
    assert_error("a in [1,]", 9, "expected a value in the list");
    assert_error("a in [1 2]", 9, "expected ',' or ']' in the list");
    assert_error("a in [b]", 7, "expected a value in the list");
    assert_error("a startswith 1", 14, "expected a string after 'startswith'");
    assert_error("exists a", 8, "expected '(' after 'exists'");
    assert_error("exists(1)", 8, "expected a path in 'exists(...)'");
    assert_error("exists(a", 9, "expected ')' after the path");
}

/* Malformed paths are refused where they go wrong. */
Test(tg_query, malformed_paths_are_refused)
{
    assert_error("a. == 1", 3, "expected a name after '.'");
    assert_error("a[] == 1", 3, "expected an array index after '['");
    assert_error("a[1 == 1", 4, "expected ']' after the array index");
    assert_error("a[4294967296] == 1", 2, "array index too large");
    assert_error("a[-1] == 1", 3, "expected an array index after '['");
}

/* A path longer than TG_QUERY_MAX_PATH bytes is refused. */
Test(tg_query, overlong_paths_are_refused)
{
    char text[400];
    memset(text, 'p', 257);
    strcpy(text + 257, " == 1");
    assert_error(text, 1, "path longer than 256 bytes");
    text[256] = ' ';
    strcpy(text + 256, " == 1");
    cr_assert_str_eq(canon(text) + 256, " == 1");
}

/* Characters outside the language are refused at their column. */
Test(tg_query, stray_characters_are_refused)
{
    assert_error("a == 1 ; b", 8, "unknown operator ';'");
    assert_error("a == 1 \xc3\xa9", 8, "unexpected character");
    assert_error("a == 1 {", 8, "unknown operator '{'");
    assert_error("a\\", 2, "unexpected character '\\'");
}

/* NULL text with a length, and a NULL error pointer, are safe. */
Test(tg_query, bad_arguments_are_safe)
{
    tg_query_error_t err;
    cr_assert_null(tg_query_parse(NULL, 3, NULL, &err));
    cr_assert_null(tg_query_parse("a ==", 4, NULL, NULL));
    tg_query_t *query = NULL;
    tg_query_destroy(&query);
    tg_query_destroy(NULL);
    cr_assert_null(tg_query_canonical(NULL));
    cr_assert_eq(tg_query_memory(NULL), 0);
}

/* Limits left at zero take their defaults; depth is capped at 256 however
   high it is set, which bounds the parser's recursion. */
Test(tg_query, limits_have_defaults_and_a_ceiling)
{
    tg_query_limits_t zero = {0, 0, 0};
    char text[1200];
    memset(text, ' ', sizeof text);
    text[0] = 'a';
    assert_error_with(text, 1025, &zero, 1025, "filter longer than 1024 bytes");
    tg_query_limits_t high = {8192, 100000, 0};
    size_t n = 0;
    for (int i = 0; i < 257; i++)
        text[n++] = '(';
    text[n++] = 'a';
    for (int i = 0; i < 257; i++)
        text[n++] = ')';
    assert_error_with(text, n, &high, 257, "nesting deeper than 256");
    cr_assert_str_eq(canon_with(text + 1, n - 2, &high), "a");
}
