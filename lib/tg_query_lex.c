/*  tg_query_lex: the tokens of the event query language (DESIGN §2.5).

    A path is one token (`author.id`, `tags[0]`, no spaces inside), written
    back in canonical form (`tags[007]` -> `tags[7]`), so the parser never
    sees its pieces. Keywords are lower case and case-sensitive; a path
    cannot start with one. Strings are decoded here (both quote styles,
    escapes) into the lexer's scratch buffer; numbers are read exactly
    (integers in int64, others as finite doubles, integral doubles within
    int64 range becoming integers so that 1 and 1.0 are one value).
*/
#include "tg_query_ast.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_utf8.h"

int tg_query_fail(tg_query_error_t *err, size_t column, const char *format, ...)
{
    if (!err || err->column != 0)
        return -1;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
    err->column = column > INT32_MAX ? INT32_MAX : (int)column;
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used < sizeof err->message)
        snprintf(err->message + used, sizeof err->message - used, " at column %d", err->column);
    return -1;
}

const char *tg_query_op_text(tg_query_op_t op)
{
    static const char *texts[] = {"==", "!=", "<", "<=", ">", ">="};
    return op <= TG_QUERY_GE ? texts[op] : "?";
}

/* Length of the UTF-8 sequence announced by lead byte c (1 for ASCII and
   for bytes that cannot start a sequence: the check refuses those). */
static size_t s_sequence_length(uint8_t c)
{
    if (c >= 0xF0)
        return 4;
    if (c >= 0xE0)
        return 3;
    if (c >= 0xC0)
        return 2;
    return 1;
}

int tg_query_lex_init(tg_query_lexer_t *lexer, const char *text, size_t len, tg_query_error_t *err)
{
    memset(lexer, 0, sizeof *lexer);
    lexer->text = text;
    lexer->len = len;
    lexer->err = err;
    /* Find the first bad sequence so the error can name its column. */
    for (size_t i = 0; i < len;) {
        size_t n = s_sequence_length((uint8_t)text[i]);
        if (n > len - i)
            n = len - i;
        if (!tg_utf8_valid(text + i, n))
            return tg_query_fail(err, i + 1, "invalid UTF-8");
        i += n;
    }
    /* A string or a path decodes to no more bytes than its source. */
    lexer->scratch_cap = len + 1;
    lexer->scratch = tg_query_alloc(lexer->scratch_cap);
    return 0;
}

void tg_query_lex_release(tg_query_lexer_t *lexer)
{
    free(lexer->scratch);
    lexer->scratch = NULL;
}

static bool s_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool s_ident_char(char c)
{
    return s_ident_start(c) || (c >= '0' && c <= '9');
}

static bool s_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const struct {
    const char *word;
    tg_query_token_kind_t kind;
} s_keywords[] = {
    {"and", TG_QUERY_T_AND},           {"or", TG_QUERY_T_OR},
    {"not", TG_QUERY_T_NOT},           {"in", TG_QUERY_T_IN},
    {"contains", TG_QUERY_T_CONTAINS}, {"startswith", TG_QUERY_T_STARTSWITH},
    {"exists", TG_QUERY_T_EXISTS},     {"true", TG_QUERY_T_LITERAL},
    {"false", TG_QUERY_T_LITERAL},     {"null", TG_QUERY_T_LITERAL},
};

/* Reads a path starting at an identifier. The canonical text goes to
   scratch (indexes without leading zeros). */
static int s_lex_path(tg_query_lexer_t *lexer, tg_query_token_t *token)
{
    const char *t = lexer->text;
    size_t pos = lexer->pos, out = 0;
    for (;;) {
        /* an identifier */
        if (pos >= lexer->len || !s_ident_start(t[pos]))
            return tg_query_fail(lexer->err, pos + 1, "expected a name after '.'");
        while (pos < lexer->len && s_ident_char(t[pos]))
            lexer->scratch[out++] = t[pos++];
        /* then any number of [N] */
        while (pos < lexer->len && t[pos] == '[') {
            size_t open = pos++;
            uint64_t index = 0;
            size_t digits = 0;
            while (pos < lexer->len && s_digit(t[pos])) {
                index = index * 10 + (uint64_t)(t[pos++] - '0');
                if (index > UINT32_MAX)
                    return tg_query_fail(lexer->err, open + 1, "array index too large");
                digits++;
            }
            if (digits == 0)
                return tg_query_fail(lexer->err, pos + 1, "expected an array index after '['");
            if (pos >= lexer->len || t[pos] != ']')
                return tg_query_fail(lexer->err, pos + 1, "expected ']' after the array index");
            pos++;
            out += (size_t)sprintf(lexer->scratch + out, "[%" PRIu64 "]", index);
        }
        if (pos < lexer->len && t[pos] == '.') {
            lexer->scratch[out++] = '.';
            pos++;
            continue;
        }
        break;
    }
    if (out > TG_QUERY_MAX_PATH)
        return tg_query_fail(lexer->err, lexer->pos + 1, "path longer than %d bytes",
                             TG_QUERY_MAX_PATH);
    lexer->scratch[out] = '\0';
    token->kind = TG_QUERY_T_PATH;
    token->path = lexer->scratch;
    token->path_len = out;
    lexer->pos = pos;
    return 0;
}

/* An identifier: a keyword, or the start of a path. */
static int s_lex_word(tg_query_lexer_t *lexer, tg_query_token_t *token)
{
    size_t end = lexer->pos;
    while (end < lexer->len && s_ident_char(lexer->text[end]))
        end++;
    size_t n = end - lexer->pos;
    for (size_t i = 0; i < sizeof s_keywords / sizeof s_keywords[0]; i++) {
        if (strlen(s_keywords[i].word) != n ||
            memcmp(s_keywords[i].word, lexer->text + lexer->pos, n))
            continue;
        token->kind = s_keywords[i].kind;
        if (token->kind == TG_QUERY_T_LITERAL)
            token->literal.type = n == 4 && lexer->text[lexer->pos] == 't' ? TG_QUERY_TRUE
                                  : n == 4                                 ? TG_QUERY_NULL
                                                                           : TG_QUERY_FALSE;
        lexer->pos = end;
        return 0;
    }
    return s_lex_path(lexer, token);
}

/* Turns a double into a literal: integral values within int64 range
   become integers (so 1.0 and 1 are the same value, with the same text). */
static void s_number_from_double(double value, tg_query_literal_t *literal)
{
    if (value >= -9223372036854775808.0 && value < 9223372036854775808.0 && value == trunc(value)) {
        literal->type = TG_QUERY_INT;
        literal->as.i = (int64_t)value;
    } else {
        literal->type = TG_QUERY_FLOAT;
        literal->as.f = value;
    }
}

/* [+-]? digits ('.' digits)? ([eE] [+-]? digits)? */
static int s_lex_number(tg_query_lexer_t *lexer, tg_query_token_t *token)
{
    const char *t = lexer->text;
    size_t start = lexer->pos, pos = start;
    bool negative = false, is_float = false;
    if (t[pos] == '+' || t[pos] == '-')
        negative = t[pos++] == '-';
    size_t digits_start = pos;
    while (pos < lexer->len && s_digit(t[pos]))
        pos++;
    size_t digits_end = pos;
    if (pos < lexer->len && t[pos] == '.') {
        is_float = true;
        pos++;
        if (pos >= lexer->len || !s_digit(t[pos]))
            return tg_query_fail(lexer->err, pos + 1, "expected a digit after '.'");
        while (pos < lexer->len && s_digit(t[pos]))
            pos++;
    }
    if (pos < lexer->len && (t[pos] == 'e' || t[pos] == 'E')) {
        is_float = true;
        pos++;
        if (pos < lexer->len && (t[pos] == '+' || t[pos] == '-'))
            pos++;
        if (pos >= lexer->len || !s_digit(t[pos]))
            return tg_query_fail(lexer->err, pos + 1, "expected a digit in the exponent");
        while (pos < lexer->len && s_digit(t[pos]))
            pos++;
    }
    if (pos < lexer->len && (s_ident_char(t[pos]) || t[pos] == '.'))
        return tg_query_fail(lexer->err, pos + 1, "unexpected '%c' after a number", t[pos]);
    token->kind = TG_QUERY_T_LITERAL;
    if (!is_float) {
        /* Exact: accumulate toward the sign so INT64_MIN fits. */
        int64_t value = 0;
        for (size_t i = digits_start; i < digits_end; i++) {
            int digit = t[i] - '0';
            if (negative ? value < (INT64_MIN + digit) / 10 : value > (INT64_MAX - digit) / 10)
                return tg_query_fail(lexer->err, start + 1, "integer out of range (64-bit signed)");
            value = value * 10 + (negative ? -digit : digit);
        }
        token->literal.type = TG_QUERY_INT;
        token->literal.as.i = value;
    } else {
        char buffer[128];
        if (pos - start >= sizeof buffer)
            return tg_query_fail(lexer->err, start + 1, "number too long");
        memcpy(buffer, t + start, pos - start);
        buffer[pos - start] = '\0';
        double value = strtod(buffer, NULL);
        if (!isfinite(value))
            return tg_query_fail(lexer->err, start + 1, "number out of range");
        s_number_from_double(value, &token->literal);
    }
    lexer->pos = pos;
    return 0;
}

static int s_hex4(const char *t, size_t len, size_t pos, uint32_t *out)
{
    if (len - pos < 4)
        return -1;
    uint32_t value = 0;
    for (size_t i = pos; i < pos + 4; i++) {
        char c = t[i];
        int digit = s_digit(c)               ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
        if (digit < 0)
            return -1;
        value = value * 16 + (uint32_t)digit;
    }
    *out = value;
    return 0;
}

/* Writes code point cp as UTF-8 at out; returns the bytes written. */
static size_t s_utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A quoted string, either quote, decoded into scratch. The text is valid
   UTF-8 already; \u escapes must make valid code points (surrogates only
   in pairs). A \uXXXX escape takes 6 bytes and yields at most 3 (a pair:
   12 bytes, 4), so the result never outgrows the source. */
static int s_lex_string(tg_query_lexer_t *lexer, tg_query_token_t *token)
{
    const char *t = lexer->text;
    size_t start = lexer->pos, pos = start + 1, out = 0;
    char quote = t[start];
    for (;;) {
        if (pos >= lexer->len)
            return tg_query_fail(lexer->err, start + 1, "unterminated string starting");
        char c = t[pos];
        if (c == quote) {
            pos++;
            break;
        }
        if (c != '\\') {
            lexer->scratch[out++] = c;
            pos++;
            continue;
        }
        size_t escape = pos;
        if (++pos >= lexer->len)
            return tg_query_fail(lexer->err, start + 1, "unterminated string starting");
        c = t[pos++];
        switch (c) {
        case '"':
        case '\'':
        case '\\':
        case '/':
            lexer->scratch[out++] = c;
            break;
        case 'n':
            lexer->scratch[out++] = '\n';
            break;
        case 't':
            lexer->scratch[out++] = '\t';
            break;
        case 'r':
            lexer->scratch[out++] = '\r';
            break;
        case 'u': {
            uint32_t cp, low;
            if (s_hex4(t, lexer->len, pos, &cp))
                return tg_query_fail(lexer->err, escape + 1,
                                     "expected four hex digits after '\\u'");
            pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return tg_query_fail(lexer->err, escape + 1, "unpaired surrogate in '\\u' escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (lexer->len - pos < 6 || t[pos] != '\\' || t[pos + 1] != 'u' ||
                    s_hex4(t, lexer->len, pos + 2, &low) || low < 0xDC00 || low > 0xDFFF)
                    return tg_query_fail(lexer->err, escape + 1,
                                         "unpaired surrogate in '\\u' escape");
                pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            out += s_utf8_put(lexer->scratch + out, cp);
            break;
        }
        default:
            if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7F)
                return tg_query_fail(lexer->err, escape + 1, "unknown escape '\\%c'", c);
            return tg_query_fail(lexer->err, escape + 1, "unknown escape");
        }
    }
    token->kind = TG_QUERY_T_LITERAL;
    token->literal.type = TG_QUERY_STRING;
    token->literal.as.s = lexer->scratch;
    token->literal.len = (uint32_t)out;
    lexer->pos = pos;
    return 0;
}

/* Operators and punctuation. Near misses say what to write instead. */
static int s_lex_symbol(tg_query_lexer_t *lexer, tg_query_token_t *token)
{
    const char *t = lexer->text;
    size_t pos = lexer->pos;
    char c = t[pos], next = pos + 1 < lexer->len ? t[pos + 1] : '\0';
    size_t n = 1;
    token->kind = TG_QUERY_T_OP;
    switch (c) {
    case '(':
        token->kind = TG_QUERY_T_LPAREN;
        break;
    case ')':
        token->kind = TG_QUERY_T_RPAREN;
        break;
    case '[':
        token->kind = TG_QUERY_T_LBRACKET;
        break;
    case ']':
        token->kind = TG_QUERY_T_RBRACKET;
        break;
    case ',':
        token->kind = TG_QUERY_T_COMMA;
        break;
    case '<':
        token->op = next == '=' ? TG_QUERY_LE : TG_QUERY_LT;
        n = next == '=' ? 2 : 1;
        break;
    case '>':
        token->op = next == '=' ? TG_QUERY_GE : TG_QUERY_GT;
        n = next == '=' ? 2 : 1;
        break;
    case '=':
    case '!':
        if (next == '=') {
            token->op = c == '=' ? TG_QUERY_EQ : TG_QUERY_NE;
            n = 2;
            break;
        }
        return tg_query_fail(lexer->err, pos + 1, "unknown operator '%c' (write '%s')", c,
                             c == '=' ? "==" : "not");
    case '&':
    case '|':
        return tg_query_fail(lexer->err, pos + 1, "unknown operator '%c%s' (write '%s')", c,
                             next == c ? (c == '&' ? "&" : "|") : "", c == '&' ? "and" : "or");
    default:
        if (strchr("~^%*/+-?:;$@#`{}", c) && c != '\0')
            return tg_query_fail(lexer->err, pos + 1, "unknown operator '%c'", c);
        if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7F)
            return tg_query_fail(lexer->err, pos + 1, "unexpected character '%c'", c);
        return tg_query_fail(lexer->err, pos + 1, "unexpected character");
    }
    /* "===", "<>", "=<", "=>", "!==" are spelled wrong, not two tokens. */
    if (token->kind == TG_QUERY_T_OP && pos + n < lexer->len && strchr("=<>!", t[pos + n]) &&
        t[pos + n] != '\0') {
        return tg_query_fail(lexer->err, pos + 1, "unknown operator '%.*s'", (int)(n + 1), t + pos);
    }
    lexer->pos = pos + n;
    return 0;
}

int tg_query_lex_next(tg_query_lexer_t *lexer, tg_query_token_t *token)
{
    const char *t = lexer->text;
    while (lexer->pos < lexer->len && (t[lexer->pos] == ' ' || t[lexer->pos] == '\t' ||
                                       t[lexer->pos] == '\n' || t[lexer->pos] == '\r'))
        lexer->pos++;
    memset(token, 0, sizeof *token);
    token->start = lexer->pos;
    int rc;
    if (lexer->pos >= lexer->len) {
        token->kind = TG_QUERY_T_END;
        rc = 0;
    } else {
        char c = t[lexer->pos];
        char next = lexer->pos + 1 < lexer->len ? t[lexer->pos + 1] : '\0';
        if (s_ident_start(c))
            rc = s_lex_word(lexer, token);
        else if (s_digit(c) || ((c == '-' || c == '+') && s_digit(next)))
            rc = s_lex_number(lexer, token);
        else if (c == '"' || c == '\'')
            rc = s_lex_string(lexer, token);
        else
            rc = s_lex_symbol(lexer, token);
    }
    token->len = lexer->pos - token->start;
    return rc;
}
