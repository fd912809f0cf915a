/*  loadgen_http: see loadgen_http.h. */
#include "loadgen_http.h"

#include <string.h>
#include <strings.h>

/* Largest response header accepted. */
#define LOADGEN_HTTP_MAX_HEADER 65536

static bool s_has_token(const char *value, size_t len, const char *token)
{
    size_t token_len = strlen(token);
    for (size_t i = 0; i + token_len <= len; i++)
        if (strncasecmp(value + i, token, token_len) == 0)
            return true;
    return false;
}

/* Walks a chunked body from data[0]. 1 with *body_len, 0 more, -1 bad. */
static int s_chunked(const uint8_t *data, size_t len, size_t *body_len)
{
    size_t at = 0;
    while (true) {
        const uint8_t *eol = memmem(data + at, len - at, "\r\n", 2);
        if (!eol)
            return 0;
        size_t size = 0;
        size_t digits = 0;
        const uint8_t *p = data + at;
        for (; p < eol; p++, digits++) {
            int c = *p;
            int value = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
            if (value < 0)
                break; /* a chunk extension or spaces follow */
            if (digits >= 15)
                return -1;
            size = size * 16 + (size_t)value;
        }
        if (digits == 0)
            return -1;
        at = (size_t)(eol - data) + 2;
        if (size == 0) {
            /* Trailers, then an empty line. */
            while (true) {
                const uint8_t *end = memmem(data + at, len - at, "\r\n", 2);
                if (!end)
                    return 0;
                bool empty = end == data + at;
                at = (size_t)(end - data) + 2;
                if (empty) {
                    *body_len = at;
                    return 1;
                }
            }
        }
        if (len - at < size + 2)
            return 0;
        if (data[at + size] != '\r' || data[at + size + 1] != '\n')
            return -1;
        at += size + 2;
    }
}

int loadgen_http_response_parse(const uint8_t *data, size_t len, bool eof,
                                loadgen_http_response_t *response)
{
    const uint8_t *end = memmem(data, len, "\r\n\r\n", 4);
    if (!end)
        return len > LOADGEN_HTTP_MAX_HEADER || eof ? -1 : 0;
    size_t header_len = (size_t)(end - data) + 4;
    const char *text = (const char *)data;
    if (header_len < 14 || strncmp(text, "HTTP/1.", 7) != 0 || text[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        status = status * 10 + (text[i] - '0');
    }
    if (status < 100)
        return -1;
    bool keep_alive = text[7] == '1'; /* HTTP/1.1 keeps by default, 1.0 does not */
    bool chunked = false, have_length = false;
    size_t content_length = 0;
    const char *line = (const char *)memchr(text, '\n', header_len) + 1;
    const char *stop = text + header_len - 2;
    while (line < stop) {
        const char *eol = memchr(line, '\n', (size_t)(stop - line));
        if (!eol)
            break;
        size_t line_len = (size_t)(eol - line);
        const char *colon = memchr(line, ':', line_len);
        if (colon) {
            size_t name_len = (size_t)(colon - line);
            const char *value = colon + 1;
            size_t value_len = (size_t)(eol - value);
            if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                size_t length = 0, digits = 0;
                for (size_t i = 0; i < value_len; i++) {
                    if (value[i] >= '0' && value[i] <= '9') {
                        if (++digits > 15)
                            return -1;
                        length = length * 10 + (size_t)(value[i] - '0');
                    } else if (value[i] != ' ' && value[i] != '\t' && value[i] != '\r')
                        return -1;
                }
                if (digits == 0)
                    return -1;
                content_length = length;
                have_length = true;
            } else if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0)
                chunked = s_has_token(value, value_len, "chunked");
            else if (name_len == 10 && strncasecmp(line, "Connection", 10) == 0) {
                if (s_has_token(value, value_len, "close"))
                    keep_alive = false;
                else if (s_has_token(value, value_len, "keep-alive"))
                    keep_alive = true;
            }
        }
        line = eol + 1;
    }
    response->status = status;
    response->keep_alive = keep_alive;
    if (status < 200 || status == 204 || status == 304) {
        response->length = header_len;
        return 1;
    }
    if (chunked) {
        size_t body_len = 0;
        int rc = s_chunked(data + header_len, len - header_len, &body_len);
        if (rc == 1)
            response->length = header_len + body_len;
        return rc == 0 && eof ? -1 : rc;
    }
    if (have_length) {
        if (len - header_len < content_length)
            return eof ? -1 : 0;
        response->length = header_len + content_length;
        return 1;
    }
    /* Neither: the body runs to the close. */
    if (!eof)
        return 0;
    response->keep_alive = false;
    response->length = len;
    return 1;
}
