/*  loadgen_wamp: see loadgen_wamp.h. */
#include "loadgen_wamp.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

const char *loadgen_wamp_subprotocol(loadgen_proto_t proto)
{
    switch (proto) {
    case LOADGEN_PROTO_WAMP_JSON:
        return "wamp.2.json";
    case LOADGEN_PROTO_WAMP_MSGPACK:
        return "wamp.2.msgpack";
    default:
        return NULL;
    }
}

static int s_json_out(json_t *message, tg_buf_t *out)
{
    if (!message)
        return -1;
    char *text = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    if (!text)
        return -1;
    tg_buf_append_str(out, text);
    free(text);
    return 0;
}

static void s_pack_str(msgpack_packer *pk, const char *text)
{
    size_t len = strlen(text);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, text, len);
}

static void s_msgpack_out(msgpack_sbuffer *sbuf, tg_buf_t *out)
{
    tg_buf_append(out, sbuf->data, sbuf->size);
    msgpack_sbuffer_destroy(sbuf);
}

int loadgen_wamp_hello(loadgen_proto_t proto, const char *realm, tg_buf_t *out)
{
    tg_buf_reset(out);
    if (proto == LOADGEN_PROTO_WAMP_JSON)
        return s_json_out(json_pack("[i s {s:{s:{}} s:[s]}]", LOADGEN_WAMP_HELLO, realm, "roles",
                                    "subscriber", "authmethods", "anonymous"),
                          out);
    if (proto != LOADGEN_PROTO_WAMP_MSGPACK)
        return -1;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint32(&pk, LOADGEN_WAMP_HELLO);
    s_pack_str(&pk, realm);
    msgpack_pack_map(&pk, 2);
    s_pack_str(&pk, "roles");
    msgpack_pack_map(&pk, 1);
    s_pack_str(&pk, "subscriber");
    msgpack_pack_map(&pk, 0);
    s_pack_str(&pk, "authmethods");
    msgpack_pack_array(&pk, 1);
    s_pack_str(&pk, "anonymous");
    s_msgpack_out(&sbuf, out);
    return 0;
}

int loadgen_wamp_subscribe(loadgen_proto_t proto, uint64_t request, const char *topic,
                           tg_buf_t *out)
{
    tg_buf_reset(out);
    if (proto == LOADGEN_PROTO_WAMP_JSON)
        return s_json_out(
            json_pack("[i I {} s]", LOADGEN_WAMP_SUBSCRIBE, (json_int_t)request, topic), out);
    if (proto != LOADGEN_PROTO_WAMP_MSGPACK)
        return -1;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint32(&pk, LOADGEN_WAMP_SUBSCRIBE);
    msgpack_pack_uint64(&pk, request);
    msgpack_pack_map(&pk, 0);
    s_pack_str(&pk, topic);
    s_msgpack_out(&sbuf, out);
    return 0;
}

static int s_json_type(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    if (i >= len || data[i] != '[')
        return -1;
    i++;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    int type = 0, digits = 0;
    while (i < len && data[i] >= '0' && data[i] <= '9' && digits < 4) {
        type = type * 10 + (data[i] - '0');
        i++;
        digits++;
    }
    /* Four digits or more is no WAMP type; a digit run must end there. */
    if (digits == 0 || (i < len && data[i] >= '0' && data[i] <= '9'))
        return -1;
    return type;
}

static int s_msgpack_type(const uint8_t *data, size_t len)
{
    size_t header;
    if (len >= 1 && data[0] >= 0x91 && data[0] <= 0x9f)
        header = 1;
    else if (len >= 3 && data[0] == 0xdc)
        header = 3;
    else if (len >= 5 && data[0] == 0xdd)
        header = 5;
    else
        return -1;
    if (len <= header)
        return -1;
    uint8_t type = data[header];
    if (type <= 0x7f)
        return type;
    if (type == 0xcc && len > header + 1)
        return data[header + 1];
    return -1;
}

int loadgen_wamp_type(loadgen_proto_t proto, const uint8_t *data, size_t len)
{
    if (proto == LOADGEN_PROTO_WAMP_JSON)
        return s_json_type(data, len);
    if (proto == LOADGEN_PROTO_WAMP_MSGPACK)
        return s_msgpack_type(data, len);
    return -1;
}
