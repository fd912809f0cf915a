/*  tg_query_parse: recursive descent over the tokens of tg_query_lex, and
    the public entry points that tie parse, canonical form and compile
    together (see tg_query.h).

        filter     := or END
        or         := and ("or" and)*
        and        := unary ("and" unary)*
        unary      := "not" unary | primary
        primary    := "(" or ")" | "exists" "(" PATH ")" | comparison
        comparison := PATH [op value] | LITERAL op PATH
        op         := == != < <= > >= | in | contains | startswith
        value      := LITERAL | "[" [LITERAL ("," LITERAL)*] "]"   (a list only after in)

    So not binds tighter than and, and tighter than or; comparisons bind
    tighter than not (`not a == 1` is `not (a == 1)`). Recursion happens
    only through "(" and "not", both counted against the depth limit, so
    the stack is bounded by the limit (itself capped).
*/
#include "tg_query_ast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    tg_query_lexer_t lexer;
    tg_query_token_t token; /* the current token */
    tg_query_error_t *err;
    tg_query_limits_t limits;
    uint32_t depth; /* open "(" and "not" around the current token */
} s_parser_t;

void *tg_query_alloc(size_t size)
{
    void *memory = calloc(1, size ? size : 1);
    if (!memory)
        abort(); /* like tg_buf: out of memory is not a recoverable input error */
    return memory;
}

void tg_query_ast_free(tg_query_ast_t *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->child_count; i++)
        tg_query_ast_free(node->children[i]);
    for (size_t i = 0; i < node->literal_count; i++)
        if (node->literals[i].type == TG_QUERY_STRING)
            free((char *)node->literals[i].as.s);
    free(node->children);
    free(node->literals);
    free(node->path);
    free(node->text);
    free(node);
}

static int s_advance(s_parser_t *p)
{
    return tg_query_lex_next(&p->lexer, &p->token);
}

static size_t s_column(const s_parser_t *p)
{
    return p->token.start + 1;
}

/* A short description of the current token for "found ..." hints. */
static const char *s_token_name(const tg_query_token_t *token)
{
    switch (token->kind) {
    case TG_QUERY_T_END:
        return "the end of the filter";
    case TG_QUERY_T_PATH:
        return "a path";
    case TG_QUERY_T_LITERAL:
        return "a value";
    case TG_QUERY_T_LPAREN:
        return "'('";
    case TG_QUERY_T_RPAREN:
        return "')'";
    case TG_QUERY_T_LBRACKET:
        return "'['";
    case TG_QUERY_T_RBRACKET:
        return "']'";
    case TG_QUERY_T_COMMA:
        return "','";
    case TG_QUERY_T_OP:
        return "an operator";
    case TG_QUERY_T_AND:
        return "'and'";
    case TG_QUERY_T_OR:
        return "'or'";
    case TG_QUERY_T_NOT:
        return "'not'";
    case TG_QUERY_T_IN:
        return "'in'";
    case TG_QUERY_T_CONTAINS:
        return "'contains'";
    case TG_QUERY_T_STARTSWITH:
        return "'startswith'";
    case TG_QUERY_T_EXISTS:
        return "'exists'";
    }
    return "a token";
}

static char *s_strndup(const char *text, size_t len)
{
    char *copy = tg_query_alloc(len + 1);
    memcpy(copy, text, len);
    return copy;
}

/* Copies the current token's literal (strings live in the lexer's scratch
   until the next token). */
static tg_query_literal_t s_literal_copy(const tg_query_literal_t *literal)
{
    tg_query_literal_t copy = *literal;
    if (literal->type == TG_QUERY_STRING)
        copy.as.s = s_strndup(literal->as.s, literal->len);
    return copy;
}

static tg_query_ast_t *s_node(tg_query_kind_t kind)
{
    tg_query_ast_t *node = tg_query_alloc(sizeof *node);
    node->kind = kind;
    return node;
}

static void s_add_child(tg_query_ast_t *node, tg_query_ast_t *child)
{
    tg_query_ast_t **children = realloc(node->children, (node->child_count + 1) * sizeof *children);
    if (!children)
        abort();
    node->children = children;
    node->children[node->child_count++] = child;
}

static void s_add_literal(tg_query_ast_t *node, const tg_query_literal_t *literal)
{
    tg_query_literal_t *literals =
        realloc(node->literals, (node->literal_count + 1) * sizeof *literals);
    if (!literals)
        abort();
    node->literals = literals;
    node->literals[node->literal_count++] = s_literal_copy(literal);
}

static tg_query_ast_t *s_parse_or(s_parser_t *p);

/* The operator token's text, for messages. */
static const char *s_operator_text(const tg_query_token_t *token)
{
    switch (token->kind) {
    case TG_QUERY_T_IN:
        return "in";
    case TG_QUERY_T_CONTAINS:
        return "contains";
    case TG_QUERY_T_STARTSWITH:
        return "startswith";
    default:
        return tg_query_op_text(token->op);
    }
}

static bool s_is_operator(const tg_query_token_t *token)
{
    return token->kind == TG_QUERY_T_OP || token->kind == TG_QUERY_T_IN ||
           token->kind == TG_QUERY_T_CONTAINS || token->kind == TG_QUERY_T_STARTSWITH;
}

/* "[" literals "]" after `in`, into node. */
static int s_parse_list(s_parser_t *p, tg_query_ast_t *node)
{
    if (s_advance(p)) /* past "[" */
        return -1;
    if (p->token.kind == TG_QUERY_T_RBRACKET)
        return s_advance(p);
    for (;;) {
        if (p->token.kind != TG_QUERY_T_LITERAL)
            return tg_query_fail(p->err, s_column(p), "expected a value in the list, found %s",
                                 s_token_name(&p->token));
        if (node->literal_count >= p->limits.max_list)
            return tg_query_fail(p->err, s_column(p), "list longer than %u",
                                 (unsigned)p->limits.max_list);
        s_add_literal(node, &p->token.literal);
        if (s_advance(p))
            return -1;
        if (p->token.kind == TG_QUERY_T_RBRACKET)
            return s_advance(p);
        if (p->token.kind != TG_QUERY_T_COMMA)
            return tg_query_fail(p->err, s_column(p), "expected ',' or ']' in the list, found %s",
                                 s_token_name(&p->token));
        if (s_advance(p))
            return -1;
    }
}

/* After `path`: the operator and its value, if any, into node. */
static int s_parse_predicate(s_parser_t *p, tg_query_ast_t *node)
{
    tg_query_token_t op = p->token;
    const char *text = s_operator_text(&op);
    if (s_advance(p))
        return -1;
    if (op.kind == TG_QUERY_T_IN) {
        node->kind = TG_QUERY_IN;
        if (p->token.kind != TG_QUERY_T_LBRACKET)
            return tg_query_fail(p->err, s_column(p), "expected a list after 'in', found %s",
                                 s_token_name(&p->token));
        return s_parse_list(p, node);
    }
    if (p->token.kind != TG_QUERY_T_LITERAL) {
        if (p->token.kind == TG_QUERY_T_LBRACKET)
            return tg_query_fail(p->err, s_column(p), "a list is only allowed after 'in', not '%s'",
                                 text);
        return tg_query_fail(p->err, s_column(p), "expected a value after '%s', found %s", text,
                             s_token_name(&p->token));
    }
    if (op.kind == TG_QUERY_T_STARTSWITH && p->token.literal.type != TG_QUERY_STRING)
        return tg_query_fail(p->err, s_column(p), "expected a string after 'startswith'");
    node->kind = op.kind == TG_QUERY_T_OP         ? TG_QUERY_CMP
                 : op.kind == TG_QUERY_T_CONTAINS ? TG_QUERY_CONTAINS
                                                  : TG_QUERY_STARTSWITH;
    node->op = op.op;
    s_add_literal(node, &p->token.literal);
    return s_advance(p);
}

/* `literal op path`: turned around into `path op' literal`; `v in path`
   means `path contains v`. */
static tg_query_ast_t *s_parse_literal_first(s_parser_t *p)
{
    static const tg_query_op_t mirror[] = {TG_QUERY_EQ, TG_QUERY_NE, TG_QUERY_GT,
                                           TG_QUERY_GE, TG_QUERY_LT, TG_QUERY_LE};
    tg_query_ast_t *node = s_node(TG_QUERY_CMP);
    s_add_literal(node, &p->token.literal);
    size_t literal_column = s_column(p);
    if (s_advance(p))
        goto fail;
    if (p->token.kind == TG_QUERY_T_OP) {
        node->op = mirror[p->token.op];
    } else if (p->token.kind == TG_QUERY_T_IN) {
        node->kind = TG_QUERY_CONTAINS;
    } else {
        if (s_is_operator(&p->token))
            tg_query_fail(p->err, s_column(p), "expected a path before '%s'",
                          s_operator_text(&p->token));
        else
            tg_query_fail(p->err, literal_column,
                          "expected a path, not a value, to start a condition");
        goto fail;
    }
    const char *text = s_operator_text(&p->token);
    if (s_advance(p))
        goto fail;
    if (p->token.kind != TG_QUERY_T_PATH) {
        tg_query_fail(p->err, s_column(p), "expected a path after '%s', found %s", text,
                      s_token_name(&p->token));
        goto fail;
    }
    node->path = s_strndup(p->token.path, p->token.path_len);
    if (s_advance(p))
        goto fail;
    return node;
fail:
    tg_query_ast_free(node);
    return NULL;
}

/* Counts one more level of nesting ("(" or "not") at the current token. */
static int s_enter(s_parser_t *p)
{
    if (++p->depth > p->limits.max_depth)
        return tg_query_fail(p->err, s_column(p), "nesting deeper than %u",
                             (unsigned)p->limits.max_depth);
    return 0;
}

static tg_query_ast_t *s_parse_primary(s_parser_t *p, const char *after)
{
    tg_query_ast_t *node = NULL;
    switch (p->token.kind) {
    case TG_QUERY_T_LPAREN: {
        size_t open = s_column(p);
        if (s_enter(p) || s_advance(p))
            return NULL;
        node = s_parse_or(p);
        if (!node)
            return NULL;
        if (p->token.kind != TG_QUERY_T_RPAREN) {
            tg_query_fail(p->err, s_column(p),
                          "expected ')' to close the '(' at column %zu, found %s", open,
                          s_token_name(&p->token));
            goto fail;
        }
        p->depth--;
        if (s_advance(p))
            goto fail;
        return node;
    }
    case TG_QUERY_T_EXISTS:
        node = s_node(TG_QUERY_EXISTS);
        if (s_advance(p))
            goto fail;
        if (p->token.kind != TG_QUERY_T_LPAREN) {
            tg_query_fail(p->err, s_column(p), "expected '(' after 'exists'");
            goto fail;
        }
        if (s_advance(p))
            goto fail;
        if (p->token.kind != TG_QUERY_T_PATH) {
            tg_query_fail(p->err, s_column(p), "expected a path in 'exists(...)', found %s",
                          s_token_name(&p->token));
            goto fail;
        }
        node->path = s_strndup(p->token.path, p->token.path_len);
        if (s_advance(p))
            goto fail;
        if (p->token.kind != TG_QUERY_T_RPAREN) {
            tg_query_fail(p->err, s_column(p), "expected ')' after the path in 'exists(...)'");
            goto fail;
        }
        if (s_advance(p))
            goto fail;
        return node;
    case TG_QUERY_T_PATH:
        node = s_node(TG_QUERY_TRUTHY);
        node->path = s_strndup(p->token.path, p->token.path_len);
        if (s_advance(p))
            goto fail;
        if (s_is_operator(&p->token) && s_parse_predicate(p, node))
            goto fail;
        return node;
    case TG_QUERY_T_LITERAL:
        return s_parse_literal_first(p);
    default:
        if (after)
            tg_query_fail(p->err, s_column(p), "expected a condition after '%s', found %s", after,
                          s_token_name(&p->token));
        else
            tg_query_fail(p->err, s_column(p),
                          "expected a condition (a path, 'not', 'exists' or '('), found %s",
                          s_token_name(&p->token));
        return NULL;
    }
fail:
    tg_query_ast_free(node);
    return NULL;
}

static tg_query_ast_t *s_parse_unary(s_parser_t *p, const char *after)
{
    if (p->token.kind != TG_QUERY_T_NOT)
        return s_parse_primary(p, after);
    if (s_enter(p) || s_advance(p))
        return NULL;
    tg_query_ast_t *child = s_parse_unary(p, "not");
    if (!child)
        return NULL;
    p->depth--;
    tg_query_ast_t *node = s_node(TG_QUERY_NOT);
    s_add_child(node, child);
    return node;
}

/* A chain of `operand (word operand)*`, for and (over unary) and or (over
   and). A single operand is returned as is. */
static tg_query_ast_t *s_parse_chain(s_parser_t *p, tg_query_token_kind_t word,
                                     tg_query_kind_t kind, const char *after)
{
    tg_query_ast_t *first = word == TG_QUERY_T_AND ? s_parse_unary(p, after) : NULL;
    if (word == TG_QUERY_T_OR)
        first = s_parse_chain(p, TG_QUERY_T_AND, TG_QUERY_AND, after);
    if (!first || p->token.kind != word)
        return first;
    tg_query_ast_t *node = s_node(kind);
    s_add_child(node, first);
    const char *text = word == TG_QUERY_T_AND ? "and" : "or";
    while (p->token.kind == word) {
        if (s_advance(p))
            goto fail;
        tg_query_ast_t *next = word == TG_QUERY_T_AND
                                   ? s_parse_unary(p, text)
                                   : s_parse_chain(p, TG_QUERY_T_AND, TG_QUERY_AND, text);
        if (!next)
            goto fail;
        s_add_child(node, next);
    }
    return node;
fail:
    tg_query_ast_free(node);
    return NULL;
}

static tg_query_ast_t *s_parse_or(s_parser_t *p)
{
    return s_parse_chain(p, TG_QUERY_T_OR, TG_QUERY_OR, NULL);
}

/* Limits with 0 meaning the default, capped by the hard ceilings. */
static tg_query_limits_t s_limits(const tg_query_limits_t *limits)
{
    tg_query_limits_t defaults = TG_QUERY_DEFAULT_LIMITS;
    tg_query_limits_t result = limits ? *limits : defaults;
    if (result.max_length == 0)
        result.max_length = defaults.max_length;
    if (result.max_depth == 0)
        result.max_depth = defaults.max_depth;
    if (result.max_list == 0)
        result.max_list = defaults.max_list;
    if (result.max_depth > TG_QUERY_DEPTH_CEILING)
        result.max_depth = TG_QUERY_DEPTH_CEILING;
    if (result.max_list > TG_QUERY_LIST_CEILING)
        result.max_list = TG_QUERY_LIST_CEILING;
    return result;
}

tg_query_ast_t *tg_query_parse_tree(const char *text, size_t len, const tg_query_limits_t *limits,
                                    tg_query_error_t *err)
{
    s_parser_t p;
    memset(&p, 0, sizeof p);
    p.err = err;
    p.limits = s_limits(limits);
    if (len > p.limits.max_length) {
        tg_query_fail(err, (size_t)p.limits.max_length + 1, "filter longer than %u bytes",
                      (unsigned)p.limits.max_length);
        return NULL;
    }
    if (!text && len > 0) {
        tg_query_fail(err, 1, "no filter text");
        return NULL;
    }
    if (tg_query_lex_init(&p.lexer, text ? text : "", len, err))
        return NULL;
    tg_query_ast_t *root = NULL;
    if (s_advance(&p) == 0) {
        if (p.token.kind == TG_QUERY_T_END)
            tg_query_fail(err, s_column(&p), "empty filter: expected a condition");
        else {
            root = s_parse_or(&p);
            if (root && p.token.kind != TG_QUERY_T_END) {
                if (p.token.kind == TG_QUERY_T_RPAREN)
                    tg_query_fail(err, s_column(&p), "unexpected ')' without a matching '('");
                else if (s_is_operator(&p.token))
                    tg_query_fail(err, s_column(&p), "unexpected '%s' (operators follow a path)",
                                  s_operator_text(&p.token));
                else
                    tg_query_fail(err, s_column(&p),
                                  "expected 'and', 'or' or the end of the filter, found %s",
                                  s_token_name(&p.token));
                tg_query_ast_free(root);
                root = NULL;
            }
        }
    }
    tg_query_lex_release(&p.lexer);
    return root;
}

tg_query_t *tg_query_parse(const char *text, size_t len, const tg_query_limits_t *limits,
                           tg_query_error_t *err)
{
    tg_query_error_t ignored;
    if (!err)
        err = &ignored;
    memset(err, 0, sizeof *err);
    tg_query_ast_t *tree = tg_query_parse_tree(text, len, limits, err);
    if (!tree)
        return NULL;
    tree = tg_query_canon_tree(tree);
    tg_query_t *self = tg_query_compile(tree);
    tg_query_ast_free(tree);
    return self;
}

void tg_query_destroy(tg_query_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

const char *tg_query_canonical(const tg_query_t *self)
{
    return self ? self->canonical : NULL;
}

size_t tg_query_memory(const tg_query_t *self)
{
    return self ? self->memory : 0;
}
