/*  tg_query_eval: a compiled filter evaluated on an event's msgpack body,
    in place (tg_msgpack_cursor), with nothing allocated.

    Each predicate walks its path from the top-level map: a map step scans
    the map's keys (skipping the values it passes), an array step skips
    elements up to the index. So one predicate costs at most the bytes of
    the body before the value it needs, and a whole filter at most its
    predicate count times the body size. Bytes that turn out not to be
    msgpack make the whole evaluation "no match" (-1 travels up through
    not/and/or, so `not` never turns a malformed body into a match).
*/
#include "tg_query_ast.h"

#include <math.h>
#include <string.h>

#include "tg_msgpack_cursor.h"
#include "tg_msgpack_frame.h"

#define S_BAD (-1) /* malformed bytes: no match, whatever the operators say */

int tg_query_compare_int_double(int64_t i, double d)
{
    if (isnan(d))
        return 2;
    if (d >= 9223372036854775808.0) /* 2^63: above every int64 */
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    /* d is within int64 range: its integral part converts exactly. */
    double whole = trunc(d);
    int64_t w = (int64_t)whole;
    if (i != w)
        return i < w ? -1 : 1;
    return d > whole ? -1 : d < whole ? 1 : 0;
}

/* Orders a uint64 against a double that is not NaN: -1, 0 or 1. */
static int s_compare_uint_double(uint64_t u, double d)
{
    if (u <= INT64_MAX)
        return tg_query_compare_int_double((int64_t)u, d);
    if (d >= 18446744073709551616.0) /* 2^64 */
        return -1;
    if (d < 9223372036854775808.0) /* 2^63, below u */
        return 1;
    /* in [2^63, 2^64) doubles are integers and convert exactly */
    uint64_t w = (uint64_t)d;
    return u < w ? -1 : u > w;
}

int tg_query_number_compare(const tg_query_number_t *a, const tg_query_number_t *b)
{
    if ((a->type == TG_QUERY_NUMBER_FLOAT && isnan(a->as.f)) ||
        (b->type == TG_QUERY_NUMBER_FLOAT && isnan(b->as.f)))
        return 2;
    if (a->type == TG_QUERY_NUMBER_FLOAT && b->type != TG_QUERY_NUMBER_FLOAT)
        return -tg_query_number_compare(b, a); /* the double on the right below */
    switch (a->type) {
    case TG_QUERY_NUMBER_INT:
        if (b->type == TG_QUERY_NUMBER_INT)
            return a->as.i < b->as.i ? -1 : a->as.i > b->as.i;
        if (b->type == TG_QUERY_NUMBER_UINT) {
            if (a->as.i < 0)
                return -1;
            uint64_t u = (uint64_t)a->as.i;
            return u < b->as.u ? -1 : u > b->as.u;
        }
        return tg_query_compare_int_double(a->as.i, b->as.f);
    case TG_QUERY_NUMBER_UINT:
        if (b->type == TG_QUERY_NUMBER_INT)
            return -tg_query_number_compare(b, a);
        if (b->type == TG_QUERY_NUMBER_UINT)
            return a->as.u < b->as.u ? -1 : a->as.u > b->as.u;
        return s_compare_uint_double(a->as.u, b->as.f);
    default: /* both doubles */
        return a->as.f < b->as.f ? -1 : a->as.f > b->as.f;
    }
}

/* A body value as a number; false when it is not one. */
static bool s_value_number(const tg_msgpack_value_t *value, tg_query_number_t *number)
{
    switch (value->type) {
    case TG_MSGPACK_INT:
        number->type = TG_QUERY_NUMBER_INT;
        number->as.i = value->as.i;
        return true;
    case TG_MSGPACK_UINT:
        number->type = TG_QUERY_NUMBER_UINT;
        number->as.u = value->as.u;
        return true;
    case TG_MSGPACK_FLOAT:
        number->type = TG_QUERY_NUMBER_FLOAT;
        number->as.f = value->as.f;
        return true;
    default:
        return false;
    }
}

/* A numeric literal as a number. */
static tg_query_number_t s_literal_number(const tg_query_literal_t *literal)
{
    tg_query_number_t number;
    if (literal->type == TG_QUERY_INT) {
        number.type = TG_QUERY_NUMBER_INT;
        number.as.i = literal->as.i;
    } else {
        number.type = TG_QUERY_NUMBER_FLOAT;
        number.as.f = literal->as.f;
    }
    return number;
}

/* Orders a body number against a literal number exactly: -1, 0, 1, or 2
   when unordered (NaN). The range index orders with the same function. */
static int s_compare_numbers(const tg_msgpack_value_t *value, const tg_query_literal_t *literal)
{
    tg_query_number_t a, b = s_literal_number(literal);
    if (!s_value_number(value, &a))
        return 2;
    return tg_query_number_compare(&a, &b);
}

static bool s_is_number(const tg_msgpack_value_t *value)
{
    return value->type == TG_MSGPACK_INT || value->type == TG_MSGPACK_UINT ||
           value->type == TG_MSGPACK_FLOAT;
}

static int s_compare_strings(const void *a, size_t a_len, const void *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    if (c)
        return c < 0 ? -1 : 1;
    return a_len < b_len ? -1 : a_len > b_len;
}

/* Orders value against literal: -1, 0, 1, or 2 when they have no order
   (different kinds, NaN, null/bool, containers, binary). `equal_only`
   lets null and booleans answer 0 or 2. */
static int s_compare(const tg_msgpack_value_t *value, const tg_query_literal_t *literal,
                     bool equal_only)
{
    switch (literal->type) {
    case TG_QUERY_NULL:
        return equal_only && value->type == TG_MSGPACK_NIL ? 0 : 2;
    case TG_QUERY_FALSE:
    case TG_QUERY_TRUE:
        if (!equal_only || value->type != TG_MSGPACK_BOOL)
            return 2;
        return value->as.boolean == (literal->type == TG_QUERY_TRUE) ? 0 : 2;
    case TG_QUERY_INT:
    case TG_QUERY_FLOAT:
        return s_is_number(value) ? s_compare_numbers(value, literal) : 2;
    case TG_QUERY_STRING:
        if (value->type != TG_MSGPACK_STR)
            return 2;
        return s_compare_strings(value->data, value->len, literal->as.s, literal->len);
    }
    return 2;
}

static bool s_equal(const tg_msgpack_value_t *value, const tg_query_literal_t *literal)
{
    return s_compare(value, literal, true) == 0;
}

/* Walks a canonical path ("a.b[2].c") from the top-level map. Returns 1
   with the value, 0 when a step is missing (no such key, index past the
   end, or a step into something that is not a map / an array), -1 on
   malformed bytes. */
static int s_lookup(const tg_msgpack_value_t *top, const uint8_t *end, const char *path,
                    tg_msgpack_value_t *out)
{
    tg_msgpack_value_t value = *top;
    const char *p = path;
    while (*p) {
        int found;
        if (*p == '[') {
            uint64_t index = 0;
            for (p++; *p >= '0' && *p <= '9'; p++)
                index = index * 10 + (uint64_t)(*p - '0');
            if (*p != ']')
                return 0; /* not a canonical path: nothing there */
            p++;
            if (value.type != TG_MSGPACK_ARRAY)
                return 0;
            found = tg_msgpack_cursor_array_at(&value, end, index, &value);
        } else {
            if (*p == '.')
                p++;
            const char *name = p;
            while (*p && *p != '.' && *p != '[')
                p++;
            if (value.type != TG_MSGPACK_MAP || p == name)
                return 0;
            found = tg_msgpack_cursor_map_find(&value, end, name, (size_t)(p - name), &value);
        }
        if (found != 1)
            return found;
    }
    *out = value;
    return 1;
}

/* `array contains v`: some element equals v; `string contains "s"`: s is
   a substring. */
static int s_contains(const tg_msgpack_value_t *value, const uint8_t *end,
                      const tg_query_literal_t *literal)
{
    if (value->type == TG_MSGPACK_STR) {
        if (literal->type != TG_QUERY_STRING)
            return 0;
        if (literal->len == 0)
            return 1;
        return memmem(value->data, value->len, literal->as.s, literal->len) != NULL;
    }
    if (value->type != TG_MSGPACK_ARRAY)
        return 0;
    tg_msgpack_cursor_t cursor = {value->data, end};
    for (uint32_t i = 0; i < value->len; i++) {
        const uint8_t *start = cursor.pos;
        tg_msgpack_value_t element;
        if (tg_msgpack_cursor_next(&cursor, &element))
            return S_BAD;
        if (s_equal(&element, literal))
            return 1;
        cursor.pos = start;
        if (tg_msgpack_cursor_skip(&cursor))
            return S_BAD;
    }
    return 0;
}

static int s_predicate(const tg_query_node_t *node, const tg_msgpack_value_t *value,
                       const uint8_t *end)
{
    const tg_query_literal_t *literal = node->as.literals;
    switch ((tg_query_kind_t)node->kind) {
    case TG_QUERY_EXISTS:
        return 1;
    case TG_QUERY_TRUTHY:
        return value->type == TG_MSGPACK_BOOL && value->as.boolean;
    case TG_QUERY_IN:
        for (uint32_t i = 0; i < node->count; i++)
            if (s_equal(value, &literal[i]))
                return 1;
        return 0;
    case TG_QUERY_CONTAINS:
        return s_contains(value, end, literal);
    case TG_QUERY_STARTSWITH:
        return value->type == TG_MSGPACK_STR && literal->type == TG_QUERY_STRING &&
               value->len >= literal->len && memcmp(value->data, literal->as.s, literal->len) == 0;
    default: /* TG_QUERY_CMP */
        break;
    }
    int c = s_compare(value, literal, node->op == TG_QUERY_EQ || node->op == TG_QUERY_NE);
    switch ((tg_query_op_t)node->op) {
    case TG_QUERY_EQ:
        return c == 0;
    case TG_QUERY_NE:
        return c != 0; /* present and not equal (a missing path never gets here) */
    case TG_QUERY_LT:
        return c == -1;
    case TG_QUERY_LE:
        return c == -1 || c == 0;
    case TG_QUERY_GT:
        return c == 1;
    case TG_QUERY_GE:
        return c == 1 || c == 0;
    }
    return 0;
}

/* 1 true, 0 false, S_BAD malformed. */
static int s_eval(const tg_query_node_t *node, const tg_msgpack_value_t *top, const uint8_t *end)
{
    switch ((tg_query_kind_t)node->kind) {
    case TG_QUERY_AND:
    case TG_QUERY_OR: {
        bool is_and = node->kind == TG_QUERY_AND;
        for (uint32_t i = 0; i < node->count; i++) {
            int r = s_eval(&node->as.children[i], top, end);
            if (r == S_BAD)
                return S_BAD;
            if (r != is_and) /* and: a false decides; or: a true decides */
                return r;
        }
        return is_and;
    }
    case TG_QUERY_NOT: {
        int r = s_eval(node->as.children, top, end);
        return r == S_BAD ? S_BAD : !r;
    }
    default: {
        tg_msgpack_value_t value;
        int found = s_lookup(top, end, node->path, &value);
        if (found != 1)
            return found; /* missing: every predicate is false */
        return s_predicate(node, &value, end);
    }
    }
}

/* Reads the top-level map of a body; -1 when it is not one. */
static int s_top(const void *body, size_t len, tg_msgpack_value_t *top)
{
    tg_msgpack_cursor_t cursor;
    tg_msgpack_cursor_init(&cursor, body, len);
    if (!body || tg_msgpack_cursor_next(&cursor, top) || top->type != TG_MSGPACK_MAP)
        return -1;
    return 0;
}

bool tg_query_match_trusted(const tg_query_t *self, const void *body, size_t len)
{
    tg_msgpack_value_t top;
    if (!self || s_top(body, len, &top))
        return false;
    return s_eval(self->root, &top, (const uint8_t *)body + len) == 1;
}

bool tg_query_match(const tg_query_t *self, const void *body, size_t len)
{
    if (!self || !body || len == 0)
        return false;
    /* The whole body is checked once per call (allocation-free, linear),
       so a body that is not valid msgpack never matches, even when the
       predicates would only read its valid part. */
    if (tg_msgpack_frame_check(body, len, TG_MSGPACK_FRAME_MAX_DEPTH, false, NULL, 0))
        return false;
    return tg_query_match_trusted(self, body, len);
}

/* --- the index hook ------------------------------------------------------ */

enum {
    S_KEY_NULL = 0x00,
    S_KEY_FALSE = 0x01,
    S_KEY_TRUE = 0x02,
    S_KEY_INT = 0x03,   /* int64, big-endian */
    S_KEY_FLOAT = 0x04, /* IEEE 754 double bits, big-endian */
    S_KEY_STRING = 0x05,
};

static size_t s_key_u64(uint8_t *key, uint8_t tag, uint64_t bits)
{
    key[0] = tag;
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    return 9;
}

/* A double's key: integral values within int64 range share the integer's
   key (1.0 and 1; -0.0 and 0), others their IEEE bits; NaN has none (it
   equals nothing). */
static size_t s_key_double(double d, uint8_t *key)
{
    if (isnan(d))
        return 0;
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == trunc(d))
        return s_key_u64(key, S_KEY_INT, (uint64_t)(int64_t)d);
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return s_key_u64(key, S_KEY_FLOAT, bits);
}

static size_t s_key_string(const void *data, size_t len, uint8_t *key)
{
    if (1 + len > TG_QUERY_MAX_KEY)
        return 0;
    key[0] = S_KEY_STRING;
    memcpy(key + 1, data, len);
    return 1 + len;
}

size_t tg_query_literal_key(const tg_query_literal_t *literal, uint8_t *key)
{
    switch (literal->type) {
    case TG_QUERY_NULL:
        key[0] = S_KEY_NULL;
        return 1;
    case TG_QUERY_FALSE:
        key[0] = S_KEY_FALSE;
        return 1;
    case TG_QUERY_TRUE:
        key[0] = S_KEY_TRUE;
        return 1;
    case TG_QUERY_INT:
        return s_key_u64(key, S_KEY_INT, (uint64_t)literal->as.i);
    case TG_QUERY_FLOAT:
        return s_key_double(literal->as.f, key);
    case TG_QUERY_STRING:
        return s_key_string(literal->as.s, literal->len, key);
    }
    return 0;
}

bool tg_query_index_path(const tg_query_t *self, const char **path, size_t *count)
{
    if (!self || !self->index_node)
        return false;
    if (path)
        *path = self->index_node->path;
    if (count)
        *count = self->index_node->count;
    return true;
}

size_t tg_query_index_value(const tg_query_t *self, size_t i, uint8_t *key)
{
    if (!self || !self->index_node || i >= self->index_node->count)
        return 0;
    return tg_query_literal_key(&self->index_node->as.literals[i], key);
}

size_t tg_query_value_key(const void *body, size_t len, const char *path, uint8_t *key)
{
    tg_msgpack_value_t top, value;
    if (!path || s_top(body, len, &top) ||
        s_lookup(&top, (const uint8_t *)body + len, path, &value) != 1)
        return 0;
    switch (value.type) {
    case TG_MSGPACK_NIL:
        key[0] = S_KEY_NULL;
        return 1;
    case TG_MSGPACK_BOOL:
        key[0] = value.as.boolean ? S_KEY_TRUE : S_KEY_FALSE;
        return 1;
    case TG_MSGPACK_INT:
        return s_key_u64(key, S_KEY_INT, (uint64_t)value.as.i);
    case TG_MSGPACK_UINT: {
        /* Above INT64_MAX: equal to a literal only if a double holds it
           exactly (no int64 literal can be this large). */
        double d = (double)value.as.u;
        if (d >= 18446744073709551616.0 || (uint64_t)d != value.as.u)
            return 0;
        return s_key_double(d, key);
    }
    case TG_MSGPACK_FLOAT:
        return s_key_double(value.as.f, key);
    case TG_MSGPACK_STR:
        return s_key_string(value.data, value.len, key);
    default:
        return 0;
    }
}

/* --- the range hook ------------------------------------------------------ */

bool tg_query_range_path(const tg_query_t *self, const char **path, tg_query_range_op_t *op,
                         tg_query_number_t *bound)
{
    /* Equality stays preferred: it selects one value, a range a slice. The
       predicate is found again on each call (the router calls this at
       subscribe and unsubscribe only) rather than stored in tg_query_t,
       which would add 8 bytes to every compiled filter. */
    if (!self || self->index_node)
        return false;
    const tg_query_node_t *conjuncts = self->root;
    size_t count = 1;
    if (self->root->kind == TG_QUERY_AND) {
        conjuncts = self->root->as.children;
        count = self->root->count;
    }
    static const tg_query_range_op_t ops[] = {
        [TG_QUERY_LT] = TG_QUERY_RANGE_LT,
        [TG_QUERY_LE] = TG_QUERY_RANGE_LE,
        [TG_QUERY_GT] = TG_QUERY_RANGE_GT,
        [TG_QUERY_GE] = TG_QUERY_RANGE_GE,
    };
    for (size_t i = 0; i < count; i++) {
        const tg_query_node_t *node = &conjuncts[i];
        if (node->kind != TG_QUERY_CMP || node->op == TG_QUERY_EQ || node->op == TG_QUERY_NE ||
            node->count != 1)
            continue;
        const tg_query_literal_t *literal = node->as.literals;
        if (literal->type != TG_QUERY_INT &&
            (literal->type != TG_QUERY_FLOAT || isnan(literal->as.f)))
            continue; /* strings, null, booleans: not a numeric range */
        if (path)
            *path = node->path;
        if (op)
            *op = ops[node->op];
        if (bound)
            *bound = s_literal_number(literal);
        return true;
    }
    return false;
}

bool tg_query_value_number(const void *body, size_t len, const char *path,
                           tg_query_number_t *number)
{
    tg_msgpack_value_t top, value;
    tg_query_number_t found;
    if (!path || s_top(body, len, &top) ||
        s_lookup(&top, (const uint8_t *)body + len, path, &value) != 1 ||
        !s_value_number(&value, &found))
        return false;
    if (found.type == TG_QUERY_NUMBER_FLOAT && isnan(found.as.f))
        return false;
    if (number)
        *number = found;
    return true;
}
