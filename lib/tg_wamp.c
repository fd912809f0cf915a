/*  tg_wamp: WAMP v2 codec for wamp.2.json and wamp.2.msgpack (see tg_wamp.h).

    Decoding is strict because every byte comes from a browser: the whole
    text must be UTF-8, nesting is bounded before any tree is built, JSON
    objects may not repeat a key (a repeated "match" would be ambiguous), and
    msgpack goes through tg_body's converter (framing checked first, no
    ext, string keys, int64 range, bin -> WAMP binary string).
*/
#include "tg_wamp.h"

#include "tg_base64.h"
#include "tg_body.h"
#include "tg_error.h"
#include "tg_json_write.h"
#include "tg_utf8.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TG_WAMP_JSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))
/* Server messages are ours, but bound the recursion of the msgpack encoder. */
#define TG_WAMP_ENCODE_MAX_DEPTH 64

/* True when JSON text nests arrays/objects at most max deep. Runs before
   jansson so that a nesting bomb is refused without building a tree;
   brackets inside strings do not count. */
static bool s_json_depth_ok(const char *text, size_t size, int max)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0)
            depth--;
    }
    return true;
}

static json_t *s_decode_json(const char *text, size_t size, char *err, size_t errlen)
{
    if (!tg_utf8_valid(text, size)) {
        tg_error_set(err, errlen, "invalid UTF-8");
        return NULL;
    }
    if (!s_json_depth_ok(text, size, TG_WAMP_MAX_DEPTH)) {
        tg_error_set(err, errlen, "nesting deeper than %d", TG_WAMP_MAX_DEPTH);
        return NULL;
    }
    json_error_t error;
    /* JSON_ALLOW_NUL: "\u0000" starts every WAMP binary string. */
    json_t *msg = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
    if (!msg)
        tg_error_set(err, errlen, "invalid JSON at column %d: %s", error.column, error.text);
    return msg;
}

json_t *tg_wamp_decode(tg_wamp_serializer_t ser, const void *data, size_t size, char *err,
                       size_t errlen)
{
    if (!data || size == 0) {
        tg_error_set(err, errlen, "empty message");
        return NULL;
    }
    json_t *msg;
    if (ser == TG_WAMP_JSON)
        msg = s_decode_json(data, size, err, errlen);
    else if (ser == TG_WAMP_MSGPACK)
        /* wampy (msgpackr) sends `undefined` option values: read as absent. */
        msg = tg_body_msgpack_to_json_flags(data, size, TG_WAMP_MAX_DEPTH,
                                            TG_BODY_UNDEFINED_AS_ABSENT, err, errlen);
    else {
        tg_error_set(err, errlen, "unknown serializer");
        return NULL;
    }
    if (!msg)
        return NULL;
    if (!json_is_array(msg) || json_array_size(msg) == 0) {
        tg_error_set(err, errlen, "not a non-empty array");
        json_decref(msg);
        return NULL;
    }
    if (!json_is_integer(json_array_get(msg, 0))) {
        tg_error_set(err, errlen, "message type is not an integer");
        json_decref(msg);
        return NULL;
    }
    return msg;
}

int tg_wamp_type(const json_t *msg)
{
    json_t *type = json_array_get(msg, 0);
    if (!json_is_integer(type))
        return -1;
    json_int_t value = json_integer_value(type);
    return value < 0 || value > INT_MAX ? -1 : (int)value;
}

/* The per-message checks. Each returns false after writing the reason. */

static bool s_check_head(const json_t *msg, int type, const char *name, size_t min, size_t max,
                         char *err, size_t errlen)
{
    if (tg_wamp_type(msg) != type) {
        tg_error_set(err, errlen, "not a %s message", name);
        return false;
    }
    size_t size = json_array_size(msg);
    if (size < min || size > max) {
        tg_error_set(err, errlen, "%s: wrong number of elements (%zu)", name, size);
        return false;
    }
    return true;
}

static bool s_get_id(const json_t *msg, size_t index, const char *name, const char *what,
                     int64_t *out, char *err, size_t errlen)
{
    json_t *value = json_array_get(msg, index);
    if (!json_is_integer(value) || json_integer_value(value) < 1 ||
        json_integer_value(value) > TG_WAMP_MAX_ID) {
        tg_error_set(err, errlen, "%s: %s must be an integer in [1, 2^53]", name, what);
        return false;
    }
    *out = json_integer_value(value);
    return true;
}

static bool s_get_object(const json_t *msg, size_t index, const char *name, const char *what,
                         json_t **out, char *err, size_t errlen)
{
    json_t *value = json_array_get(msg, index);
    if (!json_is_object(value)) {
        tg_error_set(err, errlen, "%s: %s must be a dict", name, what);
        return false;
    }
    *out = value;
    return true;
}

static bool s_get_string(const json_t *msg, size_t index, const char *name, const char *what,
                         const char **out, char *err, size_t errlen)
{
    json_t *value = json_array_get(msg, index);
    if (!json_is_string(value)) {
        tg_error_set(err, errlen, "%s: %s must be a string", name, what);
        return false;
    }
    *out = json_string_value(value);
    return true;
}

typedef enum { S_URI_STRICT, S_URI_PREFIX, S_URI_WILDCARD } s_uri_rule_t;

/* WAMP's loose URI rules: components separated by '.', without whitespace
   or '#'; components must be non-empty, except that a prefix pattern may
   end with '.' and a wildcard pattern may leave any component empty. The
   string must be non-empty and hold no NUL (the value is used as C text). */
static bool s_uri_valid(const json_t *value, s_uri_rule_t rule)
{
    const char *uri = json_string_value(value);
    size_t len = json_string_length(value);
    if (!uri || len == 0 || strlen(uri) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (isspace(c) || c == '#')
            return false;
        if (c == '.' && rule != S_URI_WILDCARD) {
            bool first = i == 0;
            bool last = i + 1 == len;
            bool doubled = !first && uri[i - 1] == '.';
            if (first || doubled || (last && rule != S_URI_PREFIX))
                return false;
        }
    }
    return true;
}

static bool s_get_uri(const json_t *msg, size_t index, const char *name, const char *what,
                      s_uri_rule_t rule, const char **out, char *err, size_t errlen)
{
    if (!s_get_string(msg, index, name, what, out, err, errlen))
        return false;
    if (!s_uri_valid(json_array_get(msg, index), rule)) {
        tg_error_set(err, errlen, "%s: %s is not a valid URI", name, what);
        return false;
    }
    return true;
}

/* Optional trailing Arguments|list and ArgumentsKw|dict of PUBLISH/CALL. */
static bool s_get_payload(const json_t *msg, const char *name, json_t **args, json_t **kwargs,
                          char *err, size_t errlen)
{
    *args = json_array_get(msg, 4);
    *kwargs = json_array_get(msg, 5);
    if (*args && !json_is_array(*args)) {
        tg_error_set(err, errlen, "%s: Arguments must be a list", name);
        return false;
    }
    if (*kwargs && !json_is_object(*kwargs)) {
        tg_error_set(err, errlen, "%s: ArgumentsKw must be a dict", name);
        return false;
    }
    return true;
}

int tg_wamp_parse_hello(const json_t *msg, tg_wamp_hello_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s_check_head(msg, TG_WAMP_HELLO, "HELLO", 3, 3, err, errlen) ||
        !s_get_uri(msg, 1, "HELLO", "Realm", S_URI_STRICT, &out->realm, err, errlen) ||
        !s_get_object(msg, 2, "HELLO", "Details", &out->details, err, errlen))
        return -1;
    json_t *methods = json_object_get(out->details, "authmethods");
    if (methods) {
        bool ok = json_is_array(methods);
        for (size_t i = 0; ok && i < json_array_size(methods); i++)
            ok = json_is_string(json_array_get(methods, i));
        if (!ok) {
            tg_error_set(err, errlen, "HELLO: authmethods must be a list of strings");
            return -1;
        }
        out->authmethods = methods;
    }
    json_t *authid = json_object_get(out->details, "authid");
    if (authid && !json_is_null(authid)) {
        if (!json_is_string(authid)) {
            tg_error_set(err, errlen, "HELLO: authid must be a string");
            return -1;
        }
        out->authid = json_string_value(authid);
    }
    return 0;
}

int tg_wamp_parse_authenticate(const json_t *msg, tg_wamp_authenticate_t *out, char *err,
                               size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s_check_head(msg, TG_WAMP_AUTHENTICATE, "AUTHENTICATE", 3, 3, err, errlen) ||
        !s_get_string(msg, 1, "AUTHENTICATE", "Signature", &out->signature, err, errlen) ||
        !s_get_object(msg, 2, "AUTHENTICATE", "Extra", &out->extra, err, errlen))
        return -1;
    return 0;
}

int tg_wamp_parse_goodbye(const json_t *msg, tg_wamp_goodbye_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s_check_head(msg, TG_WAMP_GOODBYE, "GOODBYE", 3, 3, err, errlen) ||
        !s_get_object(msg, 1, "GOODBYE", "Details", &out->details, err, errlen) ||
        !s_get_uri(msg, 2, "GOODBYE", "Reason", S_URI_STRICT, &out->reason, err, errlen))
        return -1;
    return 0;
}

int tg_wamp_parse_subscribe(const json_t *msg, tg_wamp_subscribe_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s_check_head(msg, TG_WAMP_SUBSCRIBE, "SUBSCRIBE", 4, 4, err, errlen) ||
        !s_get_id(msg, 1, "SUBSCRIBE", "Request", &out->request, err, errlen) ||
        !s_get_object(msg, 2, "SUBSCRIBE", "Options", &out->options, err, errlen))
        return -1;
    out->match = "exact";
    s_uri_rule_t rule = S_URI_STRICT;
    json_t *match = json_object_get(out->options, "match");
    if (match) {
        const char *value = json_string_value(match);
        if (value && strcmp(value, "prefix") == 0)
            rule = S_URI_PREFIX;
        else if (value && strcmp(value, "wildcard") == 0)
            rule = S_URI_WILDCARD;
        else if (!value || strcmp(value, "exact") != 0) {
            tg_error_set(err, errlen,
                         "SUBSCRIBE: match must be \"exact\", \"prefix\" or \"wildcard\"");
            return -1;
        }
        out->match = value;
    }
    json_t *filter = json_object_get(out->options, "_filter");
    if (filter) {
        if (!json_is_string(filter) ||
            strlen(json_string_value(filter)) != json_string_length(filter)) {
            tg_error_set(err, errlen, "SUBSCRIBE: _filter must be a string");
            return -1;
        }
        out->filter = json_string_value(filter);
    }
    if (!s_get_uri(msg, 3, "SUBSCRIBE", "Topic", rule, &out->topic, err, errlen))
        return -1;
    return 0;
}

int tg_wamp_parse_unsubscribe(const json_t *msg, tg_wamp_unsubscribe_t *out, char *err,
                              size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s_check_head(msg, TG_WAMP_UNSUBSCRIBE, "UNSUBSCRIBE", 3, 3, err, errlen) ||
        !s_get_id(msg, 1, "UNSUBSCRIBE", "Request", &out->request, err, errlen) ||
        !s_get_id(msg, 2, "UNSUBSCRIBE", "Subscription", &out->subscription, err, errlen))
        return -1;
    return 0;
}

int tg_wamp_parse_publish(const json_t *msg, tg_wamp_publish_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s_check_head(msg, TG_WAMP_PUBLISH, "PUBLISH", 4, 6, err, errlen) ||
        !s_get_id(msg, 1, "PUBLISH", "Request", &out->request, err, errlen) ||
        !s_get_object(msg, 2, "PUBLISH", "Options", &out->options, err, errlen) ||
        !s_get_uri(msg, 3, "PUBLISH", "Topic", S_URI_STRICT, &out->topic, err, errlen) ||
        !s_get_payload(msg, "PUBLISH", &out->args, &out->kwargs, err, errlen))
        return -1;
    return 0;
}

int tg_wamp_parse_call(const json_t *msg, tg_wamp_call_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!s_check_head(msg, TG_WAMP_CALL, "CALL", 4, 6, err, errlen) ||
        !s_get_id(msg, 1, "CALL", "Request", &out->request, err, errlen) ||
        !s_get_object(msg, 2, "CALL", "Options", &out->options, err, errlen) ||
        !s_get_uri(msg, 3, "CALL", "Procedure", S_URI_STRICT, &out->procedure, err, errlen) ||
        !s_get_payload(msg, "CALL", &out->args, &out->kwargs, err, errlen))
        return -1;
    return 0;
}

/* Encoding */

static int s_dump_to_buf(const char *text, size_t size, void *arg)
{
    tg_buf_append(arg, text, size);
    return 0;
}

static int s_pack_to_buf(void *arg, const char *data, size_t size)
{
    tg_buf_append(arg, data, size);
    return 0;
}

static int s_pack(msgpack_packer *pk, const json_t *value, int depth, tg_buf_t *scratch)
{
    if (depth > TG_WAMP_ENCODE_MAX_DEPTH)
        return -1;
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        const char *key;
        size_t key_len;
        json_t *item;
        msgpack_pack_map(pk, json_object_size(value));
        json_object_keylen_foreach((json_t *)value, key, key_len, item)
        {
            msgpack_pack_str_with_body(pk, key, key_len);
            if (s_pack(pk, item, depth + 1, scratch))
                return -1;
        }
        return 0;
    }
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(value));
        for (size_t i = 0; i < json_array_size(value); i++)
            if (s_pack(pk, json_array_get(value, i), depth + 1, scratch))
                return -1;
        return 0;
    case JSON_STRING: {
        const char *text = json_string_value(value);
        size_t len = json_string_length(value);
        if (len > 0 && text[0] == '\0') {
            tg_buf_reset(scratch);
            if (tg_base64_decode(text + 1, len - 1, scratch))
                return -1;
            return msgpack_pack_bin_with_body(pk, tg_buf_payload(scratch), scratch->len);
        }
        return msgpack_pack_str_with_body(pk, text, len);
    }
    case JSON_INTEGER: {
        json_int_t number = json_integer_value(value);
        return number >= 0 ? msgpack_pack_uint64(pk, (uint64_t)number)
                           : msgpack_pack_int64(pk, number);
    }
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(value));
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    }
    return -1;
}

int tg_wamp_encode(tg_wamp_serializer_t ser, const json_t *msg, tg_buf_t *out)
{
    if (!msg)
        return -1;
    size_t start = out->len;
    int rc;
    if (ser == TG_WAMP_JSON)
        rc = json_dump_callback(msg, s_dump_to_buf, out, TG_WAMP_JSON_FLAGS);
    else if (ser == TG_WAMP_MSGPACK) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, out, s_pack_to_buf);
        tg_buf_t scratch;
        tg_buf_init(&scratch, 0);
        rc = s_pack(&pk, msg, 0, &scratch);
        tg_buf_release(&scratch);
    } else
        rc = -1;
    if (rc) {
        tg_buf_truncate(out, start);
        return -1;
    }
    return 0;
}

/* Builders. json_array_append_new() takes the value even on failure. */

static json_t *s_array(int type)
{
    json_t *msg = json_array();
    if (msg && json_array_append_new(msg, json_integer(type))) {
        json_decref(msg);
        return NULL;
    }
    return msg;
}

/* Appends `count` values (each stolen, NULL standing for a constructor that
   failed). On any failure frees msg and every value and returns NULL, so
   builders can chain constructors without checking each one. */
static json_t *s_append(json_t *msg, size_t count, ...)
{
    va_list args;
    va_start(args, count);
    bool ok = msg != NULL;
    for (size_t i = 0; i < count; i++) {
        json_t *value = va_arg(args, json_t *);
        if (!value || !ok) {
            ok = false;
            json_decref(value);
        } else if (json_array_append_new(msg, value))
            ok = false;
    }
    va_end(args);
    if (!ok) {
        json_decref(msg);
        return NULL;
    }
    return msg;
}

json_t *tg_wamp_welcome(int64_t session, json_t *details_stolen)
{
    json_t *details = details_stolen ? details_stolen : json_object();
    return s_append(s_array(TG_WAMP_WELCOME), 2, json_integer(session), details);
}

json_t *tg_wamp_abort(const char *reason, const char *message)
{
    json_t *details = json_object();
    if (details && message)
        json_object_set_new(details, "message", json_string(message));
    return s_append(s_array(TG_WAMP_ABORT), 2, details, json_string(reason));
}

json_t *tg_wamp_goodbye(const char *reason)
{
    return s_append(s_array(TG_WAMP_GOODBYE), 2, json_object(), json_string(reason));
}

json_t *tg_wamp_error(int request_type, int64_t request, const char *error, const char *message)
{
    json_t *msg = s_append(s_array(TG_WAMP_ERROR), 4, json_integer(request_type),
                           json_integer(request), json_object(), json_string(error));
    if (msg && message)
        msg = s_append(msg, 1, json_pack("[s]", message));
    return msg;
}

json_t *tg_wamp_subscribed(int64_t request, int64_t subscription)
{
    return s_append(s_array(TG_WAMP_SUBSCRIBED), 2, json_integer(request),
                    json_integer(subscription));
}

json_t *tg_wamp_unsubscribed(int64_t request)
{
    return s_append(s_array(TG_WAMP_UNSUBSCRIBED), 1, json_integer(request));
}

json_t *tg_wamp_result(int64_t request, json_t *args_stolen)
{
    json_t *msg = s_append(s_array(TG_WAMP_RESULT), 2, json_integer(request), json_object());
    if (args_stolen)
        msg = s_append(msg, 1, args_stolen);
    return msg;
}

/* EVENT, the hot path: composed by hand around the pre-rendered kwargs. */

/* Ids and timestamps are at most 2^53: tg_json_write_integer writes them
   (no snprintf on the hot path); the topic is a JSON string written by
   tg_json_write_string (topics are URIs, so escaping is rare, but a quote
   or control character must never break the frame). */
static void s_append_uint(tg_buf_t *out, uint64_t value)
{
    tg_json_write_integer(out, (int64_t)value);
}

void tg_wamp_encode_event(tg_wamp_serializer_t ser, uint64_t sub_id, uint64_t pub_id,
                          const char *topic, uint64_t ts, unsigned flags, const void *kwargs,
                          size_t kwargs_len, tg_buf_t *out)
{
    bool guaranteed = flags & TG_WAMP_EVENT_GUARANTEED;
    bool replay = flags & TG_WAMP_EVENT_REPLAY;
    if (ser == TG_WAMP_JSON) {
        tg_buf_append_str(out, "[36,");
        s_append_uint(out, sub_id);
        tg_buf_append_byte(out, ',');
        s_append_uint(out, pub_id);
        tg_buf_append_str(out, topic ? ",{\"topic\":" : ",{");
        if (topic) {
            tg_json_write_string(out, topic, strlen(topic));
            tg_buf_append_byte(out, ',');
        }
        tg_buf_append_str(out, "\"ts\":");
        s_append_uint(out, ts);
        if (guaranteed)
            tg_buf_append_str(out, ",\"_guaranteed\":true");
        if (replay)
            tg_buf_append_str(out, ",\"_replay\":true");
        tg_buf_append_str(out, "},[],");
        if (kwargs_len)
            tg_buf_append(out, kwargs, kwargs_len);
        else
            tg_buf_append_str(out, "{}");
        tg_buf_append_byte(out, ']');
        return;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, s_pack_to_buf);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint64(&pk, TG_WAMP_EVENT);
    msgpack_pack_uint64(&pk, sub_id);
    msgpack_pack_uint64(&pk, pub_id);
    msgpack_pack_map(&pk, 1 + (topic != NULL) + guaranteed + replay);
    if (topic) {
        msgpack_pack_str_with_body(&pk, "topic", 5);
        msgpack_pack_str_with_body(&pk, topic, strlen(topic));
    }
    msgpack_pack_str_with_body(&pk, "ts", 2);
    msgpack_pack_uint64(&pk, ts);
    if (guaranteed) {
        msgpack_pack_str_with_body(&pk, "_guaranteed", 11);
        msgpack_pack_true(&pk);
    }
    if (replay) {
        msgpack_pack_str_with_body(&pk, "_replay", 7);
        msgpack_pack_true(&pk);
    }
    msgpack_pack_array(&pk, 0);
    if (kwargs_len)
        tg_buf_append(out, kwargs, kwargs_len);
    else
        tg_buf_append_byte(out, 0x80); /* empty map */
}
