/*  loadgen_wamp: see loadgen_wamp.h. */
#include "loadgen_wamp.h"

#include <jansson.h>
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

/* Encodes message (taken: released here) with lib/tg_wamp's encoder in
   proto's serialization into out, reset first. -1 for raw or failure. */
static int s_encode(loadgen_proto_t proto, json_t *message, tg_buf_t *out)
{
    tg_buf_reset(out);
    int rc = -1;
    if (message && proto == LOADGEN_PROTO_WAMP_JSON)
        rc = tg_wamp_encode(TG_WAMP_JSON, message, out);
    else if (message && proto == LOADGEN_PROTO_WAMP_MSGPACK)
        rc = tg_wamp_encode(TG_WAMP_MSGPACK, message, out);
    json_decref(message);
    return rc;
}

int loadgen_wamp_hello(loadgen_proto_t proto, const char *realm, tg_buf_t *out)
{
    return s_encode(proto,
                    json_pack("[i s {s:{s:{}} s:[s]}]", TG_WAMP_HELLO, realm, "roles", "subscriber",
                              "authmethods", "anonymous"),
                    out);
}

int loadgen_wamp_subscribe(loadgen_proto_t proto, uint64_t request, const char *topic,
                           tg_buf_t *out)
{
    return loadgen_wamp_subscribe_options(proto, request, topic, false, out);
}

int loadgen_wamp_hello_ticket(loadgen_proto_t proto, const char *realm, tg_buf_t *out)
{
    return s_encode(proto,
                    json_pack("[i s {s:{s:{}} s:[s]}]", TG_WAMP_HELLO, realm, "roles", "subscriber",
                              "authmethods", "ticket"),
                    out);
}

int loadgen_wamp_authenticate(loadgen_proto_t proto, const char *ticket, tg_buf_t *out)
{
    return s_encode(proto, json_pack("[i s {}]", TG_WAMP_AUTHENTICATE, ticket), out);
}

int loadgen_wamp_subscribe_options(loadgen_proto_t proto, uint64_t request, const char *topic,
                                   bool persistent, tg_buf_t *out)
{
    json_t *options = persistent ? json_pack("{s:b}", "_persistent", 1) : json_object();
    return s_encode(
        proto, json_pack("[i I o s]", TG_WAMP_SUBSCRIBE, (json_int_t)request, options, topic), out);
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
