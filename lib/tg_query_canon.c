/*  tg_query_canon: the canonical form of a filter, and its compiled form.

    Canonical rules (docs/query-language.md):
      - `not not x` is `x` (the logic is two-valued: a missing path makes a
        comparison false, never "unknown");
      - and/or operands are flattened ((a and b) and c -> a and b and c),
        sorted by their canonical text and deduplicated; one operand left
        stands alone;
      - `in` lists are sorted (null, false, true, numbers by value, strings
        bytewise) and deduplicated; a one-value list is `==`;
      - `literal op path` was already turned around by the parser;
      - strings are double-quoted with minimal escapes, numbers printed
        exactly (integers as integers, other floats in the shortest form
        that reads back to the same double);
      - parentheses only where precedence needs them.
    Equal values always print the same text and different values never do,
    so text comparison is value comparison for literals.
*/
#include "tg_query_ast.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_buf.h"

int tg_query_literal_order(const tg_query_literal_t *a, const tg_query_literal_t *b)
{
    /* Numbers (int and float) share one rank and compare by value. */
    int rank_a = a->type == TG_QUERY_FLOAT ? TG_QUERY_INT : (int)a->type;
    int rank_b = b->type == TG_QUERY_FLOAT ? TG_QUERY_INT : (int)b->type;
    if (rank_a != rank_b)
        return rank_a < rank_b ? -1 : 1;
    if (a->type == TG_QUERY_STRING) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->as.s, b->as.s, n);
        if (c)
            return c < 0 ? -1 : 1;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    if (rank_a != TG_QUERY_INT)
        return 0;
    if (a->type == TG_QUERY_INT && b->type == TG_QUERY_INT)
        return a->as.i < b->as.i ? -1 : a->as.i > b->as.i;
    if (a->type == TG_QUERY_FLOAT && b->type == TG_QUERY_FLOAT)
        return a->as.f < b->as.f ? -1 : a->as.f > b->as.f;
    if (a->type == TG_QUERY_INT)
        return tg_query_compare_int_double(a->as.i, b->as.f);
    return -tg_query_compare_int_double(b->as.i, a->as.f);
}

/* Shortest %.Ng that reads back to the same double. */
static void s_print_float(tg_buf_t *out, double value)
{
    char text[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, value);
        if (strtod(text, NULL) == value)
            break;
    }
    tg_buf_append_str(out, text);
}

static void s_print_string(tg_buf_t *out, const char *s, size_t len)
{
    tg_buf_append_byte(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            tg_buf_append_byte(out, '\\');
            tg_buf_append_byte(out, c);
        } else if (c == '\n')
            tg_buf_append_str(out, "\\n");
        else if (c == '\t')
            tg_buf_append_str(out, "\\t");
        else if (c == '\r')
            tg_buf_append_str(out, "\\r");
        else if (c < 0x20 || c == 0x7F) {
            char escape[8];
            snprintf(escape, sizeof escape, "\\u%04x", c);
            tg_buf_append_str(out, escape);
        } else
            tg_buf_append_byte(out, c);
    }
    tg_buf_append_byte(out, '"');
}

static void s_print_literal(tg_buf_t *out, const tg_query_literal_t *literal)
{
    char number[32];
    switch (literal->type) {
    case TG_QUERY_NULL:
        tg_buf_append_str(out, "null");
        break;
    case TG_QUERY_FALSE:
        tg_buf_append_str(out, "false");
        break;
    case TG_QUERY_TRUE:
        tg_buf_append_str(out, "true");
        break;
    case TG_QUERY_INT:
        snprintf(number, sizeof number, "%" PRId64, literal->as.i);
        tg_buf_append_str(out, number);
        break;
    case TG_QUERY_FLOAT:
        s_print_float(out, literal->as.f);
        break;
    case TG_QUERY_STRING:
        s_print_string(out, literal->as.s, literal->len);
        break;
    }
}

static int s_text_order(const void *a, const void *b)
{
    const tg_query_ast_t *x = *(tg_query_ast_t *const *)a;
    const tg_query_ast_t *y = *(tg_query_ast_t *const *)b;
    return strcmp(x->text, y->text);
}

static int s_literal_qsort(const void *a, const void *b)
{
    return tg_query_literal_order(a, b);
}

/* Appends a child's text, in parentheses when it binds looser than the
   context (an or inside an and; an and or or under not). */
static void s_print_operand(tg_buf_t *out, const tg_query_ast_t *child, bool parenthesize)
{
    if (parenthesize)
        tg_buf_append_byte(out, '(');
    tg_buf_append_str(out, child->text);
    if (parenthesize)
        tg_buf_append_byte(out, ')');
}

static char *s_detach_text(tg_buf_t *out)
{
    tg_buf_append_byte(out, '\0');
    size_t len;
    uint8_t *memory = tg_buf_detach(out, &len);
    tg_buf_release(out);
    return (char *)memory; /* no headroom: the payload is the allocation */
}

static void s_set_text(tg_query_ast_t *node)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    switch (node->kind) {
    case TG_QUERY_OR:
    case TG_QUERY_AND:
        for (size_t i = 0; i < node->child_count; i++) {
            if (i > 0)
                tg_buf_append_str(&out, node->kind == TG_QUERY_OR ? " or " : " and ");
            const tg_query_ast_t *child = node->children[i];
            s_print_operand(&out, child, node->kind == TG_QUERY_AND && child->kind == TG_QUERY_OR);
        }
        break;
    case TG_QUERY_NOT: {
        const tg_query_ast_t *child = node->children[0];
        tg_buf_append_str(&out, "not ");
        s_print_operand(&out, child, child->kind == TG_QUERY_OR || child->kind == TG_QUERY_AND);
        break;
    }
    case TG_QUERY_CMP:
    case TG_QUERY_CONTAINS:
    case TG_QUERY_STARTSWITH:
        tg_buf_append_str(&out, node->path);
        tg_buf_append_byte(&out, ' ');
        tg_buf_append_str(&out, node->kind == TG_QUERY_CMP        ? tg_query_op_text(node->op)
                                : node->kind == TG_QUERY_CONTAINS ? "contains"
                                                                  : "startswith");
        tg_buf_append_byte(&out, ' ');
        s_print_literal(&out, &node->literals[0]);
        break;
    case TG_QUERY_IN:
        tg_buf_append_str(&out, node->path);
        tg_buf_append_str(&out, " in [");
        for (size_t i = 0; i < node->literal_count; i++) {
            if (i > 0)
                tg_buf_append_str(&out, ", ");
            s_print_literal(&out, &node->literals[i]);
        }
        tg_buf_append_byte(&out, ']');
        break;
    case TG_QUERY_EXISTS:
        tg_buf_append_str(&out, "exists(");
        tg_buf_append_str(&out, node->path);
        tg_buf_append_byte(&out, ')');
        break;
    case TG_QUERY_TRUTHY:
        tg_buf_append_str(&out, node->path);
        break;
    }
    free(node->text);
    node->text = s_detach_text(&out);
}

/* Sorts a list and drops repeated values. */
static void s_canon_list(tg_query_ast_t *node)
{
    if (node->literal_count < 2)
        return;
    qsort(node->literals, node->literal_count, sizeof *node->literals, s_literal_qsort);
    size_t kept = 1;
    for (size_t i = 1; i < node->literal_count; i++) {
        tg_query_literal_t *literal = &node->literals[i];
        if (tg_query_literal_order(literal, &node->literals[kept - 1]) == 0) {
            if (literal->type == TG_QUERY_STRING)
                free((char *)literal->as.s);
            continue;
        }
        node->literals[kept++] = *literal;
    }
    node->literal_count = kept;
}

/* Detaches a node's only child and frees the node. */
static tg_query_ast_t *s_unwrap(tg_query_ast_t *node)
{
    tg_query_ast_t *child = node->children[0];
    node->child_count = 0;
    tg_query_ast_free(node);
    return child;
}

/* Flattens same-kind children into node, sorts them by text, and drops
   duplicates. */
static void s_canon_chain(tg_query_ast_t *node)
{
    size_t total = 0;
    for (size_t i = 0; i < node->child_count; i++)
        total += node->children[i]->kind == node->kind ? node->children[i]->child_count : 1;
    tg_query_ast_t **flat = tg_query_alloc(total * sizeof *flat);
    size_t n = 0;
    for (size_t i = 0; i < node->child_count; i++) {
        tg_query_ast_t *child = node->children[i];
        if (child->kind != node->kind) {
            flat[n++] = child;
            continue;
        }
        /* children are canonical already, so a same-kind child is flat */
        for (size_t k = 0; k < child->child_count; k++)
            flat[n++] = child->children[k];
        child->child_count = 0;
        tg_query_ast_free(child);
    }
    qsort(flat, n, sizeof *flat, s_text_order);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && strcmp(flat[i]->text, flat[kept - 1]->text) == 0) {
            tg_query_ast_free(flat[i]);
            continue;
        }
        flat[kept++] = flat[i];
    }
    free(node->children);
    node->children = flat;
    node->child_count = kept;
}

tg_query_ast_t *tg_query_canon_tree(tg_query_ast_t *node)
{
    for (size_t i = 0; i < node->child_count; i++)
        node->children[i] = tg_query_canon_tree(node->children[i]);
    switch (node->kind) {
    case TG_QUERY_NOT:
        if (node->children[0]->kind == TG_QUERY_NOT) {
            tg_query_ast_t *inner = s_unwrap(node);
            return s_unwrap(inner);
        }
        break;
    case TG_QUERY_OR:
    case TG_QUERY_AND:
        s_canon_chain(node);
        if (node->child_count == 1)
            return s_unwrap(node);
        break;
    case TG_QUERY_IN:
        s_canon_list(node);
        if (node->literal_count == 1) {
            node->kind = TG_QUERY_CMP;
            node->op = TG_QUERY_EQ;
        }
        break;
    default:
        break;
    }
    s_set_text(node);
    return node;
}

/* --- compiled form ------------------------------------------------------- */

typedef struct {
    size_t nodes, literals, bytes;
} s_sizes_t;

static void s_measure(const tg_query_ast_t *node, s_sizes_t *sizes)
{
    sizes->nodes += node->child_count;
    sizes->literals += node->literal_count;
    if (node->path)
        sizes->bytes += strlen(node->path) + 1;
    for (size_t i = 0; i < node->literal_count; i++)
        if (node->literals[i].type == TG_QUERY_STRING)
            sizes->bytes += node->literals[i].len;
    for (size_t i = 0; i < node->child_count; i++)
        s_measure(node->children[i], sizes);
}

typedef struct {
    tg_query_node_t *nodes;
    size_t next_node;
    tg_query_literal_t *literals;
    size_t next_literal;
    char *bytes;
    size_t next_byte;
} s_writer_t;

static const char *s_put_bytes(s_writer_t *w, const void *data, size_t len)
{
    char *at = w->bytes + w->next_byte;
    memcpy(at, data, len);
    w->next_byte += len;
    return at;
}

/* Fills *slot from node; children get consecutive slots, so an and/or is
   a pointer and a count. */
static void s_place(s_writer_t *w, const tg_query_ast_t *node, tg_query_node_t *slot)
{
    slot->kind = (uint8_t)node->kind;
    slot->op = (uint8_t)node->op;
    if (node->path)
        slot->path = s_put_bytes(w, node->path, strlen(node->path) + 1);
    if (node->child_count) {
        tg_query_node_t *children = w->nodes + w->next_node;
        w->next_node += node->child_count;
        slot->count = (uint32_t)node->child_count;
        slot->as.children = children;
        for (size_t i = 0; i < node->child_count; i++)
            s_place(w, node->children[i], &children[i]);
    } else {
        tg_query_literal_t *literals = w->literals + w->next_literal;
        w->next_literal += node->literal_count;
        slot->count = (uint32_t)node->literal_count;
        slot->as.literals = literals;
        for (size_t i = 0; i < node->literal_count; i++) {
            literals[i] = node->literals[i];
            if (literals[i].type == TG_QUERY_STRING)
                literals[i].as.s = s_put_bytes(w, node->literals[i].as.s, node->literals[i].len);
        }
    }
}

static size_t s_align(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* The indexed predicate: among the top-level conjuncts, an `==` or a
   non-empty `in` whose values all have keys, with the fewest values; the
   first in canonical order on a tie. */
static const tg_query_node_t *s_choose_index(const tg_query_node_t *root)
{
    const tg_query_node_t *conjuncts = root;
    size_t count = 1;
    if (root->kind == TG_QUERY_AND) {
        conjuncts = root->as.children;
        count = root->count;
    }
    const tg_query_node_t *best = NULL;
    for (size_t i = 0; i < count; i++) {
        const tg_query_node_t *node = &conjuncts[i];
        bool equality = (node->kind == TG_QUERY_CMP && node->op == TG_QUERY_EQ) ||
                        (node->kind == TG_QUERY_IN && node->count > 0);
        if (!equality || (best && node->count >= best->count))
            continue;
        bool keyed = true;
        uint8_t key[TG_QUERY_MAX_KEY];
        for (size_t k = 0; k < node->count && keyed; k++)
            keyed = tg_query_literal_key(&node->as.literals[k], key) > 0;
        if (keyed)
            best = node;
    }
    return best;
}

tg_query_t *tg_query_compile(const tg_query_ast_t *root)
{
    s_sizes_t sizes = {1, 0, strlen(root->text) + 1};
    s_measure(root, &sizes);
    size_t header = s_align(sizeof(tg_query_t));
    size_t nodes = s_align(sizes.nodes * sizeof(tg_query_node_t));
    size_t literals = s_align(sizes.literals * sizeof(tg_query_literal_t));
    size_t total = header + nodes + literals + sizes.bytes;
    uint8_t *memory = tg_query_alloc(total);
    tg_query_t *self = (tg_query_t *)memory;
    s_writer_t w = {
        .nodes = (tg_query_node_t *)(memory + header),
        .literals = (tg_query_literal_t *)(memory + header + nodes),
        .bytes = (char *)(memory + header + nodes + literals),
    };
    self->memory = total;
    self->canonical = s_put_bytes(&w, root->text, strlen(root->text) + 1);
    tg_query_node_t *slot = w.nodes + w.next_node++;
    s_place(&w, root, slot);
    self->root = slot;
    self->index_node = s_choose_index(self->root);
    return self;
}
