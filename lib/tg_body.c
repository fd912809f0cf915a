/*  tg_body: validation and JSON rendering of event bodies (see tg_body.h).

    Untrusted msgpack goes through two passes: tg_body_check_framing() walks
    the bytes without allocating (lengths, depth, ext, trailing bytes), then
    msgpack-c unpacks into a zone and one recursive walk checks the values
    and, when asked, builds the jansson tree. The framing pass bounds what
    msgpack-c allocates: it reserves a container's declared size up front.
*/
#include "tg_body.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Jansson flags for every JSON text we produce: precision 17 makes doubles
   round-trip exactly, and jansson appends ".0" to integral reals, so 1.0
   stays a float for the reader. */
#define TG_BODY_JSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))

static void s_err(char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t errlen, const char *format, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
}

/* Copies a key for an error message: at most 64 bytes, cut on a character
   boundary, control characters replaced, so that a hostile key cannot
   forge log lines. */
static void s_printable(const char *key, size_t len, char *out, size_t outlen)
{
    size_t limit = len < 64 ? len : 64;
    if (limit < len)
        while (limit > 0 && ((uint8_t)key[limit] & 0xC0) == 0x80)
            limit--;
    size_t n = 0;
    for (size_t i = 0; i < limit && n + 1 < outlen; i++) {
        uint8_t c = (uint8_t)key[i];
        out[n++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    out[n] = '\0';
}

bool tg_body_utf8_valid(const void *data, size_t len)
{
    const uint8_t *s = data;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0xC2)
            return false; /* stray continuation byte or overlong 2-byte form */
        else if (c < 0xE0)
            need = 1;
        else if (c < 0xF0) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong 3-byte form */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c < 0xF5) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong 4-byte form */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else
            return false;
        if (len - i - 1 < need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* msgpackr's `undefined`: fixext1 (0xd4), ext type 0, one data byte 0. */
static bool s_is_undefined_at(const uint8_t *p, size_t size, size_t pos)
{
    return pos + 3 <= size && p[pos] == 0xD4 && p[pos + 1] == 0x00 && p[pos + 2] == 0x00;
}

static int s_check_framing(const void *data, size_t size, int max_depth, unsigned flags, char *err,
                           size_t errlen);

int tg_body_check_framing(const void *data, size_t size, int max_depth, char *err, size_t errlen)
{
    return s_check_framing(data, size, max_depth, 0, err, errlen);
}

static int s_check_framing(const void *data, size_t size, int max_depth, unsigned flags, char *err,
                           size_t errlen)
{
    const uint8_t *p = data;
    uint64_t left[64];    /* children still owed by each open container */
    uint64_t pending = 0; /* sum of left[]: each needs at least one byte */
    int depth = 0;
    size_t pos = 0;
    if (max_depth > 64)
        max_depth = 64;
    if (size == 0) {
        s_err(err, errlen, "empty msgpack");
        return -1;
    }
    for (;;) {
        if (depth > 0) {
            left[depth - 1]--;
            pending--;
        }
        if (pos >= size)
            goto truncated;
        uint8_t c = p[pos++];
        uint64_t skip = 0;     /* payload bytes after the header */
        uint64_t children = 0; /* values inside, for a container */
        bool container = false;
        size_t lenbytes = 0; /* size of the big-endian length/count field */
        if (c <= 0x7F || c >= 0xE0 || c == 0xC0 || c == 0xC2 || c == 0xC3)
            ;
        else if (c <= 0x8F) {
            container = true;
            children = 2u * (c & 0x0F);
        } else if (c <= 0x9F) {
            container = true;
            children = c & 0x0F;
        } else if (c <= 0xBF)
            skip = c & 0x1F;
        else if (c == 0xC1) {
            s_err(err, errlen, "invalid msgpack byte 0xc1 at offset %zu", pos - 1);
            return -1;
        } else if ((flags & TG_BODY_UNDEFINED_AS_ABSENT) && s_is_undefined_at(p, size, pos - 1)) {
            skip = 2; /* the type byte and the data byte */
        } else if ((c >= 0xC7 && c <= 0xC9) || (c >= 0xD4 && c <= 0xD8)) {
            s_err(err, errlen, "msgpack ext type not allowed at depth %d", depth);
            return -1;
        } else if (c == 0xC4 || c == 0xD9)
            lenbytes = 1;
        else if (c == 0xC5 || c == 0xDA || c == 0xDC || c == 0xDE)
            lenbytes = 2;
        else if (c == 0xC6 || c == 0xDB || c == 0xDD || c == 0xDF)
            lenbytes = 4;
        else if (c == 0xCA)
            skip = 4;
        else if (c == 0xCB)
            skip = 8;
        else if (c >= 0xCC && c <= 0xCF)
            skip = 1u << (c - 0xCC);
        else /* 0xD0 .. 0xD3 */
            skip = 1u << (c - 0xD0);
        if (lenbytes) {
            if (size - pos < lenbytes)
                goto truncated;
            uint64_t n = s_be(p + pos, lenbytes);
            pos += lenbytes;
            if (c == 0xDC || c == 0xDD) {
                container = true;
                children = n;
            } else if (c == 0xDE || c == 0xDF) {
                container = true;
                children = 2 * n;
            } else
                skip = n;
        }
        if (skip > size - pos)
            goto truncated;
        pos += (size_t)skip;
        if (container) {
            if (depth + 1 > max_depth) {
                s_err(err, errlen, "nesting deeper than %d", max_depth);
                return -1;
            }
            if (children > 0) {
                if (children > size - pos - pending)
                    goto truncated;
                pending += children;
                left[depth++] = children;
            }
        }
        while (depth > 0 && left[depth - 1] == 0)
            depth--;
        if (depth == 0)
            break;
    }
    if (pos != size) {
        s_err(err, errlen, "trailing bytes after msgpack value at offset %zu", pos);
        return -1;
    }
    return 0;
truncated:
    s_err(err, errlen, "truncated msgpack (declared length exceeds data)");
    return -1;
}

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void tg_body_base64_encode(const void *data, size_t len, tg_buf_t *out)
{
    const uint8_t *s = data;
    uint8_t *d = tg_buf_reserve(out, (len + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *d++ = (uint8_t)s_b64[v >> 18];
        *d++ = (uint8_t)s_b64[(v >> 12) & 63];
        *d++ = (uint8_t)s_b64[(v >> 6) & 63];
        *d++ = (uint8_t)s_b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
        *d++ = (uint8_t)s_b64[v >> 18];
        *d++ = (uint8_t)s_b64[(v >> 12) & 63];
        *d++ = i + 1 < len ? (uint8_t)s_b64[(v >> 6) & 63] : '=';
        *d++ = '=';
    }
}

static int s_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int tg_body_base64_decode(const char *text, size_t len, tg_buf_t *out)
{
    size_t start = out->len;
    if (len % 4 == 0 && len >= 2 && text[len - 1] == '=')
        len -= text[len - 2] == '=' ? 2 : 1;
    if (len % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = s_b64_value(text[i]);
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

json_t *tg_body_binary_to_json(const void *data, size_t len)
{
    tg_buf_t text;
    tg_buf_init(&text, 0);
    tg_buf_append_byte(&text, 0);
    tg_body_base64_encode(data, len, &text);
    json_t *string = json_stringn((const char *)tg_buf_payload(&text), text.len);
    tg_buf_release(&text);
    return string;
}

/* msgpack-c may leave the pointer of an empty str/bin NULL; libc and
   jansson want a real pointer even for zero bytes. */
static const char *s_ptr(const char *ptr)
{
    return ptr ? ptr : "";
}

/* One walk serves validation (out NULL) and conversion (out not NULL). */
typedef struct {
    char *err;
    size_t errlen;
    int max_depth;  /* containers nested at most this deep */
    unsigned flags; /* TG_BODY_UNDEFINED_AS_ABSENT or 0 */
} s_walk_t;

/* True for msgpackr's `undefined` (fixext1, type 0, data 0) when the
   reader was asked to take it as "absent". */
static bool s_undefined(const s_walk_t *w, const msgpack_object *o)
{
    return (w->flags & TG_BODY_UNDEFINED_AS_ABSENT) && o->type == MSGPACK_OBJECT_EXT &&
           o->via.ext.type == 0 && o->via.ext.size == 1 && o->via.ext.ptr[0] == 0;
}

static int s_walk(s_walk_t *w, const msgpack_object *o, int depth, json_t **out);

static int s_key_compare(const void *a, const void *b)
{
    const msgpack_object_str *x = &((const msgpack_object_kv *)a)->key.via.str;
    const msgpack_object_str *y = &((const msgpack_object_kv *)b)->key.via.str;
    size_t n = x->size < y->size ? x->size : y->size;
    int c = memcmp(s_ptr(x->ptr), s_ptr(y->ptr), n);
    if (c)
        return c;
    return x->size < y->size ? -1 : x->size > y->size;
}

/* Rejects a map with two equal keys: the JSON rendering would silently keep
   one, and JSON and msgpack subscribers must see the same data. Keys are
   already known to be strings. */
static int s_check_duplicates(s_walk_t *w, const msgpack_object_map *map, int depth)
{
    const msgpack_object_kv *dup = NULL;
    if (map->size <= 16) {
        for (uint32_t i = 1; i < map->size && !dup; i++)
            for (uint32_t j = 0; j < i && !dup; j++)
                if (s_key_compare(&map->ptr[i], &map->ptr[j]) == 0)
                    dup = &map->ptr[i];
        if (!dup)
            return 0;
    }
    msgpack_object_kv *sorted = NULL;
    if (!dup) {
        sorted = malloc(map->size * sizeof *sorted);
        if (!sorted) {
            s_err(w->err, w->errlen, "out of memory");
            return -1;
        }
        memcpy(sorted, map->ptr, map->size * sizeof *sorted);
        qsort(sorted, map->size, sizeof *sorted, s_key_compare);
        for (uint32_t i = 1; i < map->size && !dup; i++)
            if (s_key_compare(&sorted[i - 1], &sorted[i]) == 0)
                dup = &sorted[i];
    }
    int rc = 0;
    if (dup) {
        char key[80];
        s_printable(s_ptr(dup->key.via.str.ptr), dup->key.via.str.size, key, sizeof key);
        s_err(w->err, w->errlen, "duplicate key at depth %d: %s", depth, key);
        rc = -1;
    }
    free(sorted);
    return rc;
}

static int s_walk_map(s_walk_t *w, const msgpack_object_map *map, int depth, json_t **out)
{
    json_t *object = out ? json_object() : NULL;
    bool dropped = false; /* a key whose value is `undefined` */
    if (out && !object)
        goto oom;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr[i].key;
        dropped = dropped || s_undefined(w, &map->ptr[i].val);
        if (key->type != MSGPACK_OBJECT_STR) {
            s_err(w->err, w->errlen, "map key is not a string at depth %d", depth);
            goto fail;
        }
        if (!tg_body_utf8_valid(key->via.str.ptr, key->via.str.size)) {
            s_err(w->err, w->errlen, "invalid UTF-8 in key at depth %d", depth);
            goto fail;
        }
        /* jansson refuses NUL in JSON keys, and field names are C strings. */
        if (memchr(s_ptr(key->via.str.ptr), 0, key->via.str.size)) {
            s_err(w->err, w->errlen, "NUL in key at depth %d", depth);
            goto fail;
        }
    }
    /* Conversion finds duplicates as it inserts, except among dropped keys. */
    if ((!out || dropped) && s_check_duplicates(w, map, depth))
        goto fail;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_str *key = &map->ptr[i].key.via.str;
        const char *key_ptr = s_ptr(key->ptr);
        json_t *value = NULL;
        if (s_undefined(w, &map->ptr[i].val))
            continue; /* the key is absent, as in the sender's object */
        if (s_walk(w, &map->ptr[i].val, depth, out ? &value : NULL))
            goto fail;
        if (!out)
            continue;
        if (json_object_getn(object, key_ptr, key->size)) {
            char text[80];
            s_printable(key_ptr, key->size, text, sizeof text);
            s_err(w->err, w->errlen, "duplicate key at depth %d: %s", depth, text);
            json_decref(value);
            goto fail;
        }
        if (json_object_setn_new_nocheck(object, key_ptr, key->size, value))
            goto oom;
    }
    if (out)
        *out = object;
    return 0;
oom:
    s_err(w->err, w->errlen, "out of memory");
fail:
    json_decref(object);
    return -1;
}

static int s_walk(s_walk_t *w, const msgpack_object *o, int depth, json_t **out)
{
    json_t *value = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        value = out ? json_null() : NULL;
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        value = out ? json_boolean(o->via.boolean) : NULL;
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            s_err(w->err, w->errlen, "integer above INT64_MAX at depth %d", depth);
            return -1;
        }
        value = out ? json_integer((json_int_t)o->via.u64) : NULL;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        value = out ? json_integer((json_int_t)o->via.i64) : NULL;
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) {
            s_err(w->err, w->errlen, "non-finite float at depth %d", depth);
            return -1;
        }
        value = out ? json_real(o->via.f64) : NULL;
        break;
    case MSGPACK_OBJECT_STR:
        if (!tg_body_utf8_valid(o->via.str.ptr, o->via.str.size)) {
            s_err(w->err, w->errlen, "invalid UTF-8 in string at depth %d", depth);
            return -1;
        }
        value = out ? json_stringn(s_ptr(o->via.str.ptr), o->via.str.size) : NULL;
        break;
    case MSGPACK_OBJECT_BIN:
        value = out ? tg_body_binary_to_json(s_ptr(o->via.bin.ptr), o->via.bin.size) : NULL;
        break;
    case MSGPACK_OBJECT_ARRAY:
        if (depth + 1 > w->max_depth) {
            s_err(w->err, w->errlen, "nesting deeper than %d", w->max_depth);
            return -1;
        }
        if (out && !(value = json_array()))
            break;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_t *item = NULL;
            if (s_walk(w, &o->via.array.ptr[i], depth + 1, out ? &item : NULL)) {
                json_decref(value);
                return -1;
            }
            if (out && json_array_append_new(value, item)) {
                json_decref(value);
                value = NULL;
                break;
            }
        }
        break;
    case MSGPACK_OBJECT_MAP:
        if (depth + 1 > w->max_depth) {
            s_err(w->err, w->errlen, "nesting deeper than %d", w->max_depth);
            return -1;
        }
        return s_walk_map(w, &o->via.map, depth + 1, out);
    case MSGPACK_OBJECT_EXT:
        if (s_undefined(w, o)) {
            value = out ? json_null() : NULL;
            break;
        }
        s_err(w->err, w->errlen, "unsupported msgpack type at depth %d", depth);
        return -1;
    default: /* anything a newer msgpack-c may add */
        s_err(w->err, w->errlen, "unsupported msgpack type at depth %d", depth);
        return -1;
    }
    if (out) {
        if (!value) {
            s_err(w->err, w->errlen, "out of memory");
            return -1;
        }
        *out = value;
    }
    return 0;
}

/* Keys must be exactly type->fields: the first unknown key (in map order)
   wins, then the first missing field (in the type's order). */
static int s_check_fields(const msgpack_object_map *map, const tg_event_type_t *type, char *err,
                          size_t errlen)
{
    size_t found = 0;
    bool seen[TG_MAX_FIELDS] = {false};
    size_t count = type->fields_count < TG_MAX_FIELDS ? type->fields_count : TG_MAX_FIELDS;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_str *key = &map->ptr[i].key.via.str;
        size_t at = count;
        for (size_t f = 0; f < count; f++)
            if (strlen(type->fields[f]) == key->size &&
                memcmp(type->fields[f], s_ptr(key->ptr), key->size) == 0) {
                at = f;
                break;
            }
        if (at == count) {
            char text[80];
            s_printable(s_ptr(key->ptr), key->size, text, sizeof text);
            s_err(err, errlen, "unknown field: %s", text);
            return -1;
        }
        if (!seen[at]) {
            seen[at] = true;
            found++;
        }
    }
    if (found < count)
        for (size_t f = 0; f < count; f++)
            if (!seen[f]) {
                char text[80];
                s_printable(type->fields[f], strlen(type->fields[f]), text, sizeof text);
                s_err(err, errlen, "missing field: %s", text);
                return -1;
            }
    return 0;
}

/* Checks framing and unpacks one msgpack value into *unpacked (the caller
   destroys it, also on failure). */
static int s_unpack(const void *data, size_t size, int max_depth, unsigned flags,
                    msgpack_unpacked *unpacked, char *err, size_t errlen)
{
    msgpack_unpacked_init(unpacked);
    if (!data || s_check_framing(data, size, max_depth, flags, err, errlen))
        return -1;
    size_t offset = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(unpacked, data, size, &offset);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size) {
        s_err(err, errlen, "malformed msgpack");
        return -1;
    }
    return 0;
}

json_t *tg_body_msgpack_to_json(const void *data, size_t size, int max_depth, char *err,
                                size_t errlen)
{
    return tg_body_msgpack_to_json_flags(data, size, max_depth, 0, err, errlen);
}

json_t *tg_body_msgpack_to_json_flags(const void *data, size_t size, int max_depth, unsigned flags,
                                      char *err, size_t errlen)
{
    msgpack_unpacked unpacked;
    json_t *value = NULL;
    s_walk_t w = {err, errlen, max_depth, flags};
    if (s_unpack(data, size, max_depth, flags, &unpacked, err, errlen) == 0)
        if (s_walk(&w, &unpacked.data, 0, &value))
            value = NULL;
    msgpack_unpacked_destroy(&unpacked);
    return value;
}

/* Checks framing, unpacks and walks; on success *unpacked holds the tree
   (caller destroys it, also on failure) and, if out is not NULL, *out the
   jansson value. */
static int s_body_walk(const void *data, size_t size, const tg_event_type_t *type,
                       msgpack_unpacked *unpacked, json_t **out, char *err, size_t errlen)
{
    if (s_unpack(data, size, TG_BODY_MAX_DEPTH, 0, unpacked, err, errlen))
        return -1;
    const msgpack_object *root = &unpacked->data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        s_err(err, errlen, "body is not a map");
        return -1;
    }
    s_walk_t w = {err, errlen, TG_BODY_MAX_DEPTH, 0};
    if (s_walk(&w, root, 0, out))
        return -1;
    if (type && type->has_fields && s_check_fields(&root->via.map, type, err, errlen)) {
        if (out) {
            json_decref(*out);
            *out = NULL;
        }
        return -1;
    }
    return 0;
}

int tg_body_validate(const void *data, size_t size, const tg_event_type_t *type, char *err,
                     size_t errlen)
{
    msgpack_unpacked unpacked;
    int rc = s_body_walk(data, size, type, &unpacked, NULL, err, errlen);
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

json_t *tg_body_to_json_value(const void *data, size_t size)
{
    msgpack_unpacked unpacked;
    json_t *value = NULL;
    char err[128];
    if (s_body_walk(data, size, NULL, &unpacked, &value, err, sizeof err))
        value = NULL;
    msgpack_unpacked_destroy(&unpacked);
    return value;
}

static int s_dump_to_buf(const char *text, size_t size, void *arg)
{
    tg_buf_append(arg, text, size);
    return 0;
}

int tg_body_to_json(const void *data, size_t size, tg_buf_t *out)
{
    json_t *value = tg_body_to_json_value(data, size);
    if (!value)
        return -1;
    size_t start = out->len;
    int rc = json_dump_callback(value, s_dump_to_buf, out, TG_BODY_JSON_FLAGS);
    json_decref(value);
    if (rc) {
        tg_buf_truncate(out, start);
        return -1;
    }
    return 0;
}
