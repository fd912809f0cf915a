/*  tg_query: the event query language (DESIGN §2.5): subscription filters
    over an event's fields, e.g.

        author.id == 42 and status in ["draft", "published"]
        not deleted and title startswith "Re:"
        tags contains "urgent" or exists(assignee)

    A filter is parsed once, at subscribe time, into a compiled form that is
    evaluated directly on the event's msgpack body (no tree is built, nothing
    is allocated per evaluation). Every filter has a canonical text: two
    spellings that mean the same (operand order of and/or, redundant
    parentheses, quote style, spacing) have the same canonical text, so they
    share one subscription and one id. Semantics: docs/query-language.md.

    For the router's index, a compiled filter names its best equality
    predicate (`path == literal` or `path in [literals]` inside the top-level
    conjunction), and tg_query_value_key() gives the index key of a value,
    both for the literals and for the value found in an event body, so that
    equal values (1 and 1.0 included) give equal keys.
*/
#ifndef TG_QUERY_H
#define TG_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits applied while parsing (TELEGRAPHY_MAX_FILTER, ..._FILTER_DEPTH,
   ..._FILTER_LIST). */
typedef struct {
    uint32_t max_length; /* bytes of filter text, default 1024 */
    uint32_t max_depth;  /* nesting of not/and/or/parentheses, default 32 */
    uint32_t max_list;   /* literals in one list, default 256 */
} tg_query_limits_t;
/* tg_query_parse() takes NULL for all defaults, and a zero field as its
   default; depth is capped at 256 and lists at 65536 whatever is asked. */

/* clang-format off */
#define TG_QUERY_DEFAULT_LIMITS {1024, 32, 256}
/* clang-format on */
#define TG_QUERY_MAX_PATH 256 /* bytes of one canonical path */
#define TG_QUERY_MAX_KEY  512 /* bytes of one value key (longer strings are not indexable) */

typedef struct {
    int column;        /* 1-based byte column of the fault in the filter text */
    char message[256]; /* e.g. "expected a value after '==' at column 12" */
} tg_query_error_t;

typedef struct _tg_query_t tg_query_t;

/* Parses and compiles `text` (len bytes, UTF-8). Caller owns the result.
   NULL on a syntax error or a limit exceeded: then *err has the column and
   a message saying what was expected ("... at column N" is part of the
   message). Never asserts on input. */
tg_query_t *tg_query_parse(const char *text, size_t len, const tg_query_limits_t *limits,
                           tg_query_error_t *err);

/* Safe on NULL and twice. */
void tg_query_destroy(tg_query_t **self_p);

/* The canonical text (NUL-terminated; borrowed, lives with self). Parsing
   the canonical text gives the same canonical text. */
const char *tg_query_canonical(const tg_query_t *self);

/* True when the event body (a msgpack map, as validated by tg_body) matches.
   No allocation; bounded by the body's size and the filter's size. A body
   that is not valid msgpack never matches. */
bool tg_query_match(const tg_query_t *self, const void *body, size_t len);

/* tg_query_match() without its per-call framing check, for a body the
   caller has checked once already (tg_body_validate() at the ingest, or
   tg_msgpack_frame_check()): the router evaluates many filters on one
   event. Still never reads outside body[0..len) and never crashes; a
   malformed part that the evaluation reaches means no match. (The check
   tg_query_match() makes is tg_msgpack_frame_check() with depth 64 and no
   ext types.) */
bool tg_query_match_trusted(const tg_query_t *self, const void *body, size_t len);

/* Bytes of memory held by self (for the index's accounting). */
size_t tg_query_memory(const tg_query_t *self);

/* The index hook. When the top-level conjunction of self contains an
   equality predicate (`path == literal`, `literal == path`, or
   `path in [literals]`), returns true and sets *path to its canonical path
   (borrowed) and *count to the number of literal values; the i-th value's
   key is then written by tg_query_index_value(). When several qualify, the
   one with the fewest values is chosen (deterministically). Filters with
   only or/not/range predicates return false: evaluated per candidate. An
   event can match self only if the value at *path in the body has the key
   of one of these values. */
bool tg_query_index_path(const tg_query_t *self, const char **path, size_t *count);

/* Writes the key of the i-th indexed value into key (at most
   TG_QUERY_MAX_KEY bytes); returns its length. */
size_t tg_query_index_value(const tg_query_t *self, size_t i, uint8_t *key);

/* Finds `path` (a canonical path as returned by tg_query_index_path) in a
   msgpack body and writes the key of the value there. Returns the key's
   length, or 0 when the path is missing, the value is not a scalar
   (map/array/binary), or its key would exceed TG_QUERY_MAX_KEY. Keys are
   equal exactly when `==` would call the values equal. No allocation. */
size_t tg_query_value_key(const void *body, size_t len, const char *path, uint8_t *key);

/* --- the range index hook -------------------------------------------------

   Filters whose top-level conjunction has no equality predicate may still
   have a numeric range predicate (`score > 10`, `3.5 <= price`, which the
   parser turns into `price >= 3.5`); the router keeps those in arrays
   sorted by bound, so that an event costs a binary search, not one
   evaluation per filter. Numbers are compared exactly, as the evaluator
   compares them: an int64 and a double by value, without converting the
   integer to a double (2^53 + 1 > 9007199254740992.0 holds). */

/* A number of a filter or of a body: an int64, a uint64 above INT64_MAX
   (msgpack's only integers beyond int64), or a double. */
typedef enum {
    TG_QUERY_NUMBER_INT,
    TG_QUERY_NUMBER_UINT,
    TG_QUERY_NUMBER_FLOAT,
} tg_query_number_type_t;

typedef struct {
    union {
        int64_t i;  /* TG_QUERY_NUMBER_INT */
        uint64_t u; /* TG_QUERY_NUMBER_UINT */
        double f;   /* TG_QUERY_NUMBER_FLOAT */
    } as;
    uint8_t type; /* tg_query_number_type_t */
} tg_query_number_t;

/* The operator of a range predicate `path OP bound`. */
typedef enum {
    TG_QUERY_RANGE_LT, /* value <  bound */
    TG_QUERY_RANGE_LE, /* value <= bound */
    TG_QUERY_RANGE_GT, /* value >  bound */
    TG_QUERY_RANGE_GE, /* value >= bound */
} tg_query_range_op_t;

/* Orders two numbers exactly: -1, 0 or 1 as a is below, equal to or above
   b; 2 when either is NaN (unordered). The evaluator's `<`, `<=`, `>`,
   `>=`, `==` on numbers are this function, so an index built on it agrees
   with tg_query_match. A UINT at or below INT64_MAX is ordered as the
   same INT. Ints and doubles: a double at or above 2^63 is above every
   int64, one below -2^63 below every int64; in between, the integral
   parts compare as int64 and then the fraction decides. */
int tg_query_number_compare(const tg_query_number_t *a, const tg_query_number_t *b);

/* The range hook. When self offers no equality predicate
   (tg_query_index_path is false) and its top-level conjunction contains a
   predicate `path OP number` (or `number OP path`, turned around by the
   parser) with OP one of < <= > >=, returns true and sets *path (borrowed,
   canonical), *op and *bound (a finite number) of the first such
   predicate in canonical order. An event can match self only if the
   number at *path in the body satisfies `number OP bound` (per
   tg_query_number_compare); a missing or non-numeric value (a string
   included: string ranges are not indexed) matches nothing. Any of the
   out-pointers may be NULL. */
bool tg_query_range_path(const tg_query_t *self, const char **path, tg_query_range_op_t *op,
                         tg_query_number_t *bound);

/* Finds `path` in a msgpack body and reads the number there into *number:
   true for an integer (INT, or UINT above INT64_MAX) or a float32/float64
   that is not NaN; false when the path is missing, the value is not a
   number, or it is NaN (which no range accepts). No allocation. */
bool tg_query_value_number(const void *body, size_t len, const char *path,
                           tg_query_number_t *number);

#endif
