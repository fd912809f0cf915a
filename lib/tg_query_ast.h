/*  tg_query_ast: private to the tg_query_*.c files.

    A filter goes through three forms:
      text   --tg_query_lex/tg_query_parse-->  tree (tg_query_ast_t, one
             allocation per node, lives only while tg_query_parse runs)
      tree   --tg_query_canon-->  the same tree simplified, flattened and
             sorted, with the canonical text of every node
      tree   --tg_query_canon (compile)-->  tg_query_t: one allocation
             holding the nodes, the literals, the paths, the string bytes
             and the canonical text; tg_query_eval reads only that.
*/
#ifndef TG_QUERY_AST_H
#define TG_QUERY_AST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_query.h"

/* Hard ceilings, whatever the configured limits say: they bound the
   parser's recursion (stack) and the size of a list. */
#define TG_QUERY_DEPTH_CEILING 256
#define TG_QUERY_LIST_CEILING  65536

typedef enum {
    TG_QUERY_OR,
    TG_QUERY_AND,
    TG_QUERY_NOT,
    TG_QUERY_CMP,        /* path op literal */
    TG_QUERY_IN,         /* path in [literals] */
    TG_QUERY_CONTAINS,   /* path contains literal */
    TG_QUERY_STARTSWITH, /* path startswith "string" */
    TG_QUERY_EXISTS,     /* exists(path) */
    TG_QUERY_TRUTHY,     /* a bare path: its value is boolean true */
} tg_query_kind_t;

typedef enum {
    TG_QUERY_EQ,
    TG_QUERY_NE,
    TG_QUERY_LT,
    TG_QUERY_LE,
    TG_QUERY_GT,
    TG_QUERY_GE,
} tg_query_op_t;

/* In the canonical order of values within a list: null, false, true,
   numbers (by value), strings (bytewise). */
typedef enum {
    TG_QUERY_NULL,
    TG_QUERY_FALSE,
    TG_QUERY_TRUE,
    TG_QUERY_INT,
    TG_QUERY_FLOAT, /* finite, and never integral within int64 range */
    TG_QUERY_STRING,
} tg_query_type_t;

typedef struct {
    tg_query_type_t type;
    uint32_t len; /* string bytes */
    union {
        int64_t i;
        double f;
        const char *s; /* string bytes (may hold NUL); owned by the tree or the block */
    } as;
} tg_query_literal_t;

/* Parse-time tree node. Everything it points to is its own. */
typedef struct tg_query_ast_s tg_query_ast_t;
struct tg_query_ast_s {
    tg_query_kind_t kind;
    tg_query_op_t op;             /* TG_QUERY_CMP */
    char *path;                   /* canonical path, NUL-terminated (leaf kinds) */
    tg_query_literal_t *literals; /* CMP/CONTAINS/STARTSWITH: one; IN: the list */
    size_t literal_count;
    tg_query_ast_t **children; /* OR/AND: two or more; NOT: one */
    size_t child_count;
    char *text; /* canonical text, set by tg_query_canon_tree() */
};

/* Compiled node, in the one block of tg_query_t. */
typedef struct tg_query_node_s tg_query_node_t;
struct tg_query_node_s {
    uint8_t kind;     /* tg_query_kind_t */
    uint8_t op;       /* tg_query_op_t */
    uint16_t padding; /* keeps the layout explicit */
    uint32_t count;   /* children, or literals */
    const char *path; /* NUL-terminated canonical path (leaf kinds) */
    union {
        const tg_query_node_t *children;    /* OR/AND/NOT: count consecutive nodes */
        const tg_query_literal_t *literals; /* leaf kinds: count literals */
    } as;
};

struct _tg_query_t {
    const tg_query_node_t *root;
    const char *canonical;             /* NUL-terminated canonical text */
    const tg_query_node_t *index_node; /* the indexed equality predicate, or NULL */
    size_t memory;                     /* bytes of this allocation */
    /* nodes, literals, then bytes follow in the same allocation */
};

/* --- tg_query_lex.c ------------------------------------------------------ */

typedef enum {
    TG_QUERY_T_END,
    TG_QUERY_T_LPAREN,
    TG_QUERY_T_RPAREN,
    TG_QUERY_T_LBRACKET,
    TG_QUERY_T_RBRACKET,
    TG_QUERY_T_COMMA,
    TG_QUERY_T_OP, /* == != < <= > >= (token.op) */
    TG_QUERY_T_PATH,
    TG_QUERY_T_AND,
    TG_QUERY_T_OR,
    TG_QUERY_T_NOT,
    TG_QUERY_T_IN,
    TG_QUERY_T_CONTAINS,
    TG_QUERY_T_STARTSWITH,
    TG_QUERY_T_EXISTS,
    TG_QUERY_T_LITERAL, /* number, string, true, false, null (token.literal) */
} tg_query_token_kind_t;

typedef struct {
    tg_query_token_kind_t kind;
    size_t start;               /* byte offset of the token in the text */
    size_t len;                 /* bytes of the token in the text */
    tg_query_op_t op;           /* TG_QUERY_T_OP */
    tg_query_literal_t literal; /* TG_QUERY_T_LITERAL; a string is in lexer->scratch */
    const char *path;           /* TG_QUERY_T_PATH, canonical, in lexer->scratch */
    size_t path_len;
} tg_query_token_t;

typedef struct {
    const char *text;
    size_t len;
    size_t pos;            /* next byte to read */
    char *scratch;         /* decoded string / canonical path of the last token */
    size_t scratch_cap;    /* bytes allocated at scratch (len + 1 is enough) */
    tg_query_error_t *err; /* the first error (column 0 until one happens) */
} tg_query_lexer_t;

/* Sets *err to "<message> at column <column>" unless an error is already
   recorded. Always returns -1. */
int tg_query_fail(tg_query_error_t *err, size_t column, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepares lexer over text[0..len) (the caller checked the length). Returns
   0, or -1 with err set when the text is not UTF-8. */
int tg_query_lex_init(tg_query_lexer_t *lexer, const char *text, size_t len, tg_query_error_t *err);
void tg_query_lex_release(tg_query_lexer_t *lexer);

/* Reads the next token. Returns 0, or -1 with err set. */
int tg_query_lex_next(tg_query_lexer_t *lexer, tg_query_token_t *token);

/* The operator's text ("==", "in", ...). */
const char *tg_query_op_text(tg_query_op_t op);

/* --- tg_query_parse.c ---------------------------------------------------- */

/* Allocates zeroed memory; aborts when memory is exhausted (like tg_buf). */
void *tg_query_alloc(size_t size);

/* Frees a tree (NULL is fine). */
void tg_query_ast_free(tg_query_ast_t *node);

/* Parses text into a tree (caller owns it), or NULL with err set. */
tg_query_ast_t *tg_query_parse_tree(const char *text, size_t len, const tg_query_limits_t *limits,
                                    tg_query_error_t *err);

/* --- tg_query_canon.c ---------------------------------------------------- */

/* Simplifies, flattens and sorts the tree and sets every node's text.
   Takes ownership of node; returns the tree that replaces it. */
tg_query_ast_t *tg_query_canon_tree(tg_query_ast_t *node);

/* Builds the compiled filter from a canonical tree (the tree stays the
   caller's). Caller owns the result. */
tg_query_t *tg_query_compile(const tg_query_ast_t *root);

/* Orders two literals as lists are sorted; 0 exactly when equal values. */
int tg_query_literal_order(const tg_query_literal_t *a, const tg_query_literal_t *b);

/* --- tg_query_eval.c ----------------------------------------------------- */

/* Compares an integer with a finite double exactly (no rounding): -1, 0
   or 1 as i is below, equal to or above d; 2 when d is NaN. */
int tg_query_compare_int_double(int64_t i, double d);

/* The index key of a literal (at most TG_QUERY_MAX_KEY bytes), or 0 when it
   has none (a string too long). */
size_t tg_query_literal_key(const tg_query_literal_t *literal, uint8_t *key);

#endif
