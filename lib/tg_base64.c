/*  tg_base64: base64 in the standard and the url alphabet. See tg_base64.h.
 */
#include "tg_base64.h"

#include <assert.h>
#include <stdlib.h>

static const char s_standard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char s_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The value of a character in the alphabet whose last two characters are
   c62 and c63, or -1. */
static int s_value(unsigned char c, char c62, char c63)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (unsigned char)c62)
        return 62;
    if (c == (unsigned char)c63)
        return 63;
    return -1;
}

static int s_url_value(unsigned char c)
{
    return s_value(c, '-', '_');
}

/* Encodes len bytes into out with alphabet; with pad, a partial last group
   is completed with '='. Returns the number of characters written:
   (len + 2) / 3 * 4 with pad, len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0)
   without. */
static size_t s_encode(const char *alphabet, bool pad, const uint8_t *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = alphabet[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    return o;
}

void tg_base64_encode(const void *data, size_t len, tg_buf_t *out)
{
    s_encode(s_standard, true, data, len, (char *)tg_buf_reserve(out, (len + 2) / 3 * 4));
}

int tg_base64_decode(const char *text, size_t len, tg_buf_t *out)
{
    size_t start = out->len;
    if (len % 4 == 0 && len >= 2 && text[len - 1] == '=')
        len -= text[len - 2] == '=' ? 2 : 1;
    if (len % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = s_value((unsigned char)text[i], '+', '/');
        if (v < 0) {
            tg_buf_truncate(out, start);
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            tg_buf_append_byte(out, (uint8_t)(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
    return 0;
}

bool tg_base64url_text_valid(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s_url_value((unsigned char)text[i]) < 0)
            return false;
    return true;
}

char *tg_base64url_encode(const void *data, size_t len)
{
    assert(data || len == 0);
    size_t out_len = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    out[s_encode(s_url, false, data, len, out)] = '\0';
    return out;
}

/* Strict: the alphabet only (no padding, no whitespace), a length that some
   byte string encodes to (len % 4 != 1), and zero unused bits in the last
   character, so every byte string has exactly one accepted text. */
int tg_base64url_decode(const char *text, size_t len, uint8_t *out, size_t *out_len)
{
    assert(text || len == 0);
    assert(out_len);
    assert(out || *out_len == 0);
    if (len % 4 == 1)
        return -1;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > *out_len)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 4 <= len; i += 4) {
        int a = s_url_value((unsigned char)text[i]), b = s_url_value((unsigned char)text[i + 1]);
        int c = s_url_value((unsigned char)text[i + 2]),
            d = s_url_value((unsigned char)text[i + 3]);
        if ((a | b | c | d) < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    size_t tail = len - i;
    if (tail >= 2) {
        int a = s_url_value((unsigned char)text[i]), b = s_url_value((unsigned char)text[i + 1]);
        int c = tail == 3 ? s_url_value((unsigned char)text[i + 2]) : 0;
        if ((a | b | c) < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        if (tail == 2 && (v & 0xffff) != 0)
            return -1; /* non-canonical: unused bits set */
        if (tail == 3 && (v & 0xff) != 0)
            return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (tail == 3)
            out[o++] = (uint8_t)(v >> 8);
    }
    *out_len = o;
    return 0;
}
