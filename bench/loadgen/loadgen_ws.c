/*  loadgen_ws: see loadgen_ws.h. */
#include "loadgen_ws.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define LOADGEN_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int loadgen_ws_frame_parse(const uint8_t *data, size_t len, size_t max_payload,
                           loadgen_ws_frame_t *frame)
{
    frame->frame_len = 0;
    if (len < 2)
        return 0;
    uint8_t b0 = data[0], b1 = data[1];
    if (b0 & 0x70)
        return -1; /* RSV1-3: no extension was negotiated */
    if (b1 & 0x80)
        return -1; /* a server must not mask */
    uint8_t opcode = b0 & 0x0f;
    bool fin = (b0 & 0x80) != 0;
    bool control = (opcode & 0x08) != 0;
    if ((opcode > LOADGEN_WS_OP_BINARY && !control) || opcode > LOADGEN_WS_OP_PONG)
        return -1;
    uint64_t payload_len = b1 & 0x7f;
    size_t header = 2;
    if (control && (payload_len > 125 || !fin))
        return -1;
    if (payload_len == 126) {
        if (len < 4)
            return 0;
        payload_len = ((uint64_t)data[2] << 8) | data[3];
        header = 4;
    } else if (payload_len == 127) {
        if (len < 10)
            return 0;
        payload_len = 0;
        for (int i = 2; i < 10; i++)
            payload_len = (payload_len << 8) | data[i];
        if (payload_len >> 63)
            return -1;
        header = 10;
    }
    if (payload_len > max_payload)
        return -1;
    frame->frame_len = header + (size_t)payload_len;
    if (len < frame->frame_len)
        return 0;
    frame->fin = fin;
    frame->opcode = opcode;
    frame->payload = data + header;
    frame->payload_len = (size_t)payload_len;
    return 1;
}

size_t loadgen_ws_frame_encode(uint8_t *out, size_t cap, uint8_t opcode, const void *payload,
                               size_t len, uint32_t mask_key)
{
    size_t header = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    if (cap < header + 4 || cap - header - 4 < len)
        return 0;
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    uint8_t mask[4] = {(uint8_t)(mask_key >> 24), (uint8_t)(mask_key >> 16),
                       (uint8_t)(mask_key >> 8), (uint8_t)mask_key};
    memcpy(out + header, mask, 4);
    const uint8_t *in = payload;
    uint8_t *body = out + header + 4;
    for (size_t i = 0; i < len; i++)
        body[i] = in[i] ^ mask[i & 3];
    return header + 4 + len;
}

void loadgen_ws_key_from_bytes(const uint8_t raw[16], char key[LOADGEN_WS_KEY_LEN + 1])
{
    EVP_EncodeBlock((unsigned char *)key, raw, 16);
}

int loadgen_ws_key_random(char key[LOADGEN_WS_KEY_LEN + 1])
{
    uint8_t raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -1;
    loadgen_ws_key_from_bytes(raw, key);
    return 0;
}

void loadgen_ws_accept_for(const char *key, char accept[LOADGEN_WS_ACCEPT_LEN + 1])
{
    char text[128];
    int n = snprintf(text, sizeof(text), "%s%s", key, LOADGEN_WS_GUID);
    if (n < 0 || (size_t)n >= sizeof(text))
        n = (int)sizeof(text) - 1; /* an over-long key cannot match anyway */
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_Digest(text, (size_t)n, digest, &digest_len, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)accept, digest, (int)digest_len);
}

size_t loadgen_ws_request_format(char *out, size_t cap, const char *host, const char *path,
                                 const char *key, const char *protocol)
{
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s%s%s"
                     "\r\n",
                     path, host, key, protocol ? "Sec-WebSocket-Protocol: " : "",
                     protocol ? protocol : "", protocol ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

/* True when the comma-separated list value[0..len) holds token
   (case-insensitive, spaces around items ignored). */
static bool s_list_has(const char *value, size_t len, const char *token)
{
    size_t token_len = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end - start == token_len && strncasecmp(value + start, token, token_len) == 0)
            return true;
    }
    return false;
}

int loadgen_ws_response_check(const uint8_t *data, size_t len, const char *key,
                              const char *protocol, size_t *header_len, const char **reason)
{
    const uint8_t *end = memmem(data, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    *header_len = (size_t)(end - data) + 4;
    const char *text = (const char *)data;
    const char *stop = (const char *)end + 2; /* each line ends with \r\n */
    /* Status line: HTTP/1.1 101 ... */
    if (stop - text < 12 || strncmp(text, "HTTP/1.", 7) != 0 || text[8] != ' ' ||
        strncmp(text + 9, "101", 3) != 0) {
        *reason = "status is not 101";
        return -1;
    }
    char accept[LOADGEN_WS_ACCEPT_LEN + 1];
    loadgen_ws_accept_for(key, accept);
    bool upgrade = false, connection = false, accepted = false, protocol_seen = false;
    /* The status line ends before stop: the header ends with \r\n\r\n. */
    const char *line = (const char *)memchr(text, '\n', (size_t)(stop - text)) + 1;
    while (line < stop) {
        const char *eol = (const char *)memchr(line, '\n', (size_t)(stop - line));
        if (!eol)
            break;
        size_t line_len = (size_t)(eol - line);
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;
        const char *colon = memchr(line, ':', line_len);
        if (colon) {
            size_t name_len = (size_t)(colon - line);
            const char *value = colon + 1;
            size_t value_len = line_len - name_len - 1;
            while (value_len > 0 && (*value == ' ' || *value == '\t')) {
                value++;
                value_len--;
            }
            while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
                value_len--;
#define S_IS(name) (name_len == sizeof(name) - 1 && strncasecmp(line, name, name_len) == 0)
            if (S_IS("Upgrade"))
                upgrade = s_list_has(value, value_len, "websocket");
            else if (S_IS("Connection"))
                connection = s_list_has(value, value_len, "upgrade");
            else if (S_IS("Sec-WebSocket-Accept"))
                accepted = value_len == LOADGEN_WS_ACCEPT_LEN &&
                           memcmp(value, accept, LOADGEN_WS_ACCEPT_LEN) == 0;
            else if (S_IS("Sec-WebSocket-Protocol")) {
                protocol_seen = true;
                if (!protocol || value_len != strlen(protocol) ||
                    memcmp(value, protocol, value_len) != 0) {
                    *reason = "unexpected Sec-WebSocket-Protocol";
                    return -1;
                }
            } else if (S_IS("Sec-WebSocket-Extensions")) {
                *reason = "an extension we did not offer";
                return -1;
            }
#undef S_IS
        }
        line = eol + 1;
    }
    if (!upgrade || !connection) {
        *reason = "missing Upgrade: websocket or Connection: upgrade";
        return -1;
    }
    if (!accepted) {
        *reason = "wrong or missing Sec-WebSocket-Accept";
        return -1;
    }
    if (protocol && !protocol_seen) {
        *reason = "the server chose no subprotocol";
        return -1;
    }
    return 1;
}
