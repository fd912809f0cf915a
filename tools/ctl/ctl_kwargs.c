/*  ctl_kwargs: JSON text -> msgpack map, see ctl_kwargs.h. */
#include "ctl_kwargs.h"

#include <jansson.h>
#include <msgpack.h>
#include <string.h>

static void s_pack_string(msgpack_packer *pk, const char *text, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, text, len);
}

//  Packs one JSON value. jansson bounds the nesting of what it parses
//  (JSON_PARSER_MAX_DEPTH), so the recursion is bounded too.
static void s_pack(msgpack_packer *pk, const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(value));
        const char *key;
        json_t *item;
        //  json_object_foreach wants a non-const object; it does not change it.
        json_object_foreach((json_t *)value, key, item)
        {
            s_pack_string(pk, key, strlen(key));
            s_pack(pk, item);
        }
        break;
    }
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(value));
        for (size_t i = 0; i < json_array_size(value); i++)
            s_pack(pk, json_array_get(value, i));
        break;
    case JSON_STRING:
        s_pack_string(pk, json_string_value(value), json_string_length(value));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, (int64_t)json_integer_value(value));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(value));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

static const char *s_kind(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        break;
    }
    return "null";
}

zframe_t *ctl_kwargs_to_msgpack(const char *json_text, char *err, size_t errlen)
{
    assert(json_text);
    char none[1];
    if (!err) {
        err = none;
        errlen = sizeof(none);
    }
    json_error_t error;
    //  Duplicate keys are refused (which one would the user mean?); NUL is
    //  allowed inside strings since msgpack strings carry it.
    json_t *root =
        json_loads(json_text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
    if (!root) {
        snprintf(err, errlen, "invalid --kwargs JSON: %s (line %d, column %d)", error.text,
                 error.line, error.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "invalid --kwargs JSON: expected an object, got %s", s_kind(root));
        json_decref(root);
        return NULL;
    }
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    msgpack_packer packer;
    msgpack_packer_init(&packer, &buffer, msgpack_sbuffer_write);
    s_pack(&packer, root);
    json_decref(root);
    zframe_t *frame = zframe_new(buffer.data, buffer.size);
    msgpack_sbuffer_destroy(&buffer);
    return frame;
}
