/*  tg_body: validation and JSON rendering of event bodies (see tg_body.h).

    Untrusted msgpack goes through two passes: tg_msgpack_frame_check()
    walks the bytes without allocating (lengths, depth, ext, trailing
    bytes), then msgpack-c unpacks into a zone and one recursive walk checks
    the values and, when asked, builds the jansson tree. The framing pass
    bounds what msgpack-c allocates: it reserves a container's declared size
    up front.

    tg_body_to_json(), the edge's per-event hot path, takes neither pass:
    it reads the bytes once with tg_msgpack_cursor and appends the JSON
    text as it goes (tg_json_write), enforcing the same rules itself. Its
    text is byte for byte what jansson dumps for tg_body_to_json_value();
    tests/unit/test_tg_body_differential.c and tests/fuzz/fuzz_body_json.c
    hold it to that.
*/
#include "tg_body.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "tg_base64.h"
#include "tg_error.h"
#include "tg_json_write.h"
#include "tg_msgpack_cursor.h"
#include "tg_msgpack_frame.h"
#include "tg_utf8.h"

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

json_t *tg_body_binary_to_json(const void *data, size_t len)
{
    tg_buf_t text;
    tg_buf_init(&text, 0);
    tg_buf_append_byte(&text, 0);
    tg_base64_encode(data, len, &text);
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
            tg_error_set(w->err, w->errlen, "out of memory");
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
        tg_error_set(w->err, w->errlen, "duplicate key at depth %d: %s", depth, key);
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
            tg_error_set(w->err, w->errlen, "map key is not a string at depth %d", depth);
            goto fail;
        }
        if (!tg_utf8_valid(key->via.str.ptr, key->via.str.size)) {
            tg_error_set(w->err, w->errlen, "invalid UTF-8 in key at depth %d", depth);
            goto fail;
        }
        /* jansson refuses NUL in JSON keys, and field names are C strings. */
        if (memchr(s_ptr(key->via.str.ptr), 0, key->via.str.size)) {
            tg_error_set(w->err, w->errlen, "NUL in key at depth %d", depth);
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
            tg_error_set(w->err, w->errlen, "duplicate key at depth %d: %s", depth, text);
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
    tg_error_set(w->err, w->errlen, "out of memory");
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
            tg_error_set(w->err, w->errlen, "integer above INT64_MAX at depth %d", depth);
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
            tg_error_set(w->err, w->errlen, "non-finite float at depth %d", depth);
            return -1;
        }
        value = out ? json_real(o->via.f64) : NULL;
        break;
    case MSGPACK_OBJECT_STR:
        if (!tg_utf8_valid(o->via.str.ptr, o->via.str.size)) {
            tg_error_set(w->err, w->errlen, "invalid UTF-8 in string at depth %d", depth);
            return -1;
        }
        value = out ? json_stringn(s_ptr(o->via.str.ptr), o->via.str.size) : NULL;
        break;
    case MSGPACK_OBJECT_BIN:
        value = out ? tg_body_binary_to_json(s_ptr(o->via.bin.ptr), o->via.bin.size) : NULL;
        break;
    case MSGPACK_OBJECT_ARRAY:
        if (depth + 1 > w->max_depth) {
            tg_error_set(w->err, w->errlen, "nesting deeper than %d", w->max_depth);
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
            tg_error_set(w->err, w->errlen, "nesting deeper than %d", w->max_depth);
            return -1;
        }
        return s_walk_map(w, &o->via.map, depth + 1, out);
    case MSGPACK_OBJECT_EXT:
        if (s_undefined(w, o)) {
            value = out ? json_null() : NULL;
            break;
        }
        tg_error_set(w->err, w->errlen, "unsupported msgpack type at depth %d", depth);
        return -1;
    default: /* anything a newer msgpack-c may add */
        tg_error_set(w->err, w->errlen, "unsupported msgpack type at depth %d", depth);
        return -1;
    }
    if (out) {
        if (!value) {
            tg_error_set(w->err, w->errlen, "out of memory");
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
            tg_error_set(err, errlen, "unknown field: %s", text);
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
                tg_error_set(err, errlen, "missing field: %s", text);
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
    bool allow_undefined = flags & TG_BODY_UNDEFINED_AS_ABSENT;
    if (!data || tg_msgpack_frame_check(data, size, max_depth, allow_undefined, err, errlen))
        return -1;
    size_t offset = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(unpacked, data, size, &offset);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size) {
        tg_error_set(err, errlen, "malformed msgpack");
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
        tg_error_set(err, errlen, "body is not a map");
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

/* The direct JSON writer of tg_body_to_json(). Its helpers return -1 at
   the first rule broken and leave the partial text for the caller to roll
   back. */

/* Maps of at most this many pairs find a repeated key by comparing each
   key with the ones before it (kept on the stack); larger maps sort their
   keys once the map is written (s_write_check_duplicates). */
#define S_SMALL_MAP 16

/* A map key: its bytes in the msgpack input. */
typedef struct {
    const uint8_t *ptr;
    uint32_t len;
} s_key_t;

static bool s_key_equal(const s_key_t *a, const s_key_t *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

static int s_key_order(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    int c = memcmp(x->ptr, y->ptr, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

typedef struct {
    tg_msgpack_cursor_t cursor; /* the next value to read */
    tg_buf_t *out;              /* where the text goes */
} s_writer_t;

static int s_write_value(s_writer_t *w, const tg_msgpack_value_t *value, int depth);

/* Refuses a repeated key among the `pairs` keys of the map whose first key
   is at `first` and which ends at the cursor (already written, so every
   key is a string and every value reads). The keys are gathered in
   scratch space past the end of the output, sorted and compared with
   their neighbours; the output is truncated back before returning, so the
   only memory used is the buffer's own growth (16 bytes a pair). Each
   large map reads its bytes a second time: with nesting bounded by
   TG_BODY_MAX_DEPTH, a body costs at most that many passes. */
static int s_write_check_duplicates(s_writer_t *w, const uint8_t *first, uint32_t pairs)
{
    tg_buf_t *out = w->out;
    size_t mark = out->len;
    size_t align = _Alignof(s_key_t);
    uint8_t *scratch = tg_buf_reserve(out, (size_t)pairs * sizeof(s_key_t) + align - 1);
    s_key_t *keys = (s_key_t *)(scratch + (-(uintptr_t)scratch & (align - 1)));
    tg_msgpack_cursor_t cursor = {first, w->cursor.pos};
    int rc = 0;
    for (uint32_t i = 0; i < pairs; i++) {
        tg_msgpack_value_t key;
        if (tg_msgpack_cursor_next(&cursor, &key) || tg_msgpack_cursor_skip(&cursor)) {
            rc = -1; /* these bytes read fine a moment ago: cannot happen */
            break;
        }
        keys[i] = (s_key_t){key.data, key.len};
    }
    if (rc == 0)
        qsort(keys, pairs, sizeof *keys, s_key_order);
    for (uint32_t i = 1; i < pairs && rc == 0; i++)
        if (s_key_equal(&keys[i - 1], &keys[i]))
            rc = -1;
    tg_buf_truncate(out, mark);
    return rc;
}

/* Writes a map of `pairs` pairs, nested `depth` deep, whose first key is
   at the cursor. Keys must be UTF-8 strings without NUL, each once. */
static int s_write_map(s_writer_t *w, uint32_t pairs, int depth)
{
    s_key_t keys[S_SMALL_MAP]; /* the keys so far, for a small map */
    const uint8_t *first = w->cursor.pos;
    tg_buf_append_byte(w->out, '{');
    for (uint32_t i = 0; i < pairs; i++) {
        tg_msgpack_value_t key, value;
        if (tg_msgpack_cursor_next(&w->cursor, &key) || key.type != TG_MSGPACK_STR)
            return -1;
        if (!tg_utf8_valid(key.data, key.len) || memchr(key.data, 0, key.len))
            return -1;
        if (pairs <= S_SMALL_MAP) {
            keys[i] = (s_key_t){key.data, key.len};
            for (uint32_t j = 0; j < i; j++)
                if (s_key_equal(&keys[j], &keys[i]))
                    return -1;
        }
        if (i > 0)
            tg_buf_append_byte(w->out, ',');
        tg_json_write_string(w->out, key.data, key.len);
        tg_buf_append_byte(w->out, ':');
        if (tg_msgpack_cursor_next(&w->cursor, &value) || s_write_value(w, &value, depth))
            return -1;
    }
    tg_buf_append_byte(w->out, '}');
    return pairs > S_SMALL_MAP ? s_write_check_duplicates(w, first, pairs) : 0;
}

/* Writes an array of `items` values, nested `depth` deep, whose first
   value is at the cursor. */
static int s_write_array(s_writer_t *w, uint32_t items, int depth)
{
    tg_buf_append_byte(w->out, '[');
    for (uint32_t i = 0; i < items; i++) {
        tg_msgpack_value_t item;
        if (i > 0)
            tg_buf_append_byte(w->out, ',');
        if (tg_msgpack_cursor_next(&w->cursor, &item) || s_write_value(w, &item, depth))
            return -1;
    }
    tg_buf_append_byte(w->out, ']');
    return 0;
}

/* Writes one value inside `depth` containers (a container's contents
   follow at the cursor). */
static int s_write_value(s_writer_t *w, const tg_msgpack_value_t *value, int depth)
{
    switch (value->type) {
    case TG_MSGPACK_NIL:
        tg_buf_append(w->out, "null", 4);
        return 0;
    case TG_MSGPACK_BOOL:
        if (value->as.boolean)
            tg_buf_append(w->out, "true", 4);
        else
            tg_buf_append(w->out, "false", 5);
        return 0;
    case TG_MSGPACK_INT:
        tg_json_write_integer(w->out, value->as.i);
        return 0;
    case TG_MSGPACK_FLOAT:
        return tg_json_write_real(w->out, value->as.f); /* -1 for NaN, infinities */
    case TG_MSGPACK_STR:
        if (!tg_utf8_valid(value->data, value->len))
            return -1;
        tg_json_write_string(w->out, value->data, value->len);
        return 0;
    case TG_MSGPACK_BIN:
        tg_json_write_binary(w->out, value->data, value->len);
        return 0;
    case TG_MSGPACK_ARRAY:
        if (depth + 1 > TG_BODY_MAX_DEPTH)
            return -1;
        return s_write_array(w, value->len, depth + 1);
    case TG_MSGPACK_MAP:
        if (depth + 1 > TG_BODY_MAX_DEPTH)
            return -1;
        return s_write_map(w, value->len, depth + 1);
    case TG_MSGPACK_UINT: /* above INT64_MAX */
    case TG_MSGPACK_EXT:
    default:
        return -1;
    }
}

int tg_body_to_json(const void *data, size_t size, tg_buf_t *out)
{
    size_t start = out->len;
    s_writer_t w = {.out = out};
    tg_msgpack_value_t root;
    tg_msgpack_cursor_init(&w.cursor, data, size);
    if (tg_msgpack_cursor_next(&w.cursor, &root) || root.type != TG_MSGPACK_MAP)
        goto malformed;
    if (s_write_map(&w, root.len, 1) || w.cursor.pos != w.cursor.end)
        goto malformed;
    return 0;
malformed:
    tg_buf_truncate(out, start);
    return -1;
}
