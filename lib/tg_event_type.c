/*  tg_event_type: event type definitions and the registry that holds them.
    See tg_event_type.h.
*/
#include "tg_event_type.h"

#include <czmq.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_envelope.h"
#include "tg_utf8.h"

tg_event_type_t *tg_event_type_new(const char *name)
{
    assert(name);
    tg_event_type_t *self = tg_new(tg_event_type_t);
    self->name = tg_strdup(name);
    self->audience = tg_strdup("public");
    return self;
}

tg_event_type_t *tg_event_type_dup(const tg_event_type_t *self)
{
    assert(self);
    tg_event_type_t *copy = tg_event_type_new(self->name);
    if (self->has_fields)
        tg_event_type_set_fields(copy, (const char *const *)self->fields, self->fields_count);
    if (self->audience) {
        free(copy->audience);
        copy->audience = tg_strdup(self->audience);
    }
    copy->ttl = self->ttl;
    copy->guaranteed = self->guaranteed;
    copy->client_publish = self->client_publish;
    return copy;
}

static void s_fields_free(tg_event_type_t *self)
{
    for (size_t i = 0; i < self->fields_count; i++)
        free(self->fields[i]);
    free(self->fields);
    self->fields = NULL;
    self->fields_count = 0;
    self->has_fields = false;
}

void tg_event_type_destroy(tg_event_type_t **self_p)
{
    assert(self_p);
    tg_event_type_t *self = *self_p;
    if (!self)
        return;
    s_fields_free(self);
    free(self->name);
    free(self->audience);
    free(self);
    *self_p = NULL;
}

static int s_strcmp_indirect(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tg_event_type_set_fields(tg_event_type_t *self, const char *const *fields, size_t count)
{
    assert(self);
    assert(fields || count == 0);
    s_fields_free(self);
    /* At least one slot so that has_fields with zero fields still owns a
       non-NULL array (an event type that accepts only the empty map). */
    self->fields = tg_calloc(count ? count : 1, sizeof(char *));
    for (size_t i = 0; i < count; i++) {
        assert(fields[i]);
        self->fields[i] = tg_strdup(fields[i]);
    }
    qsort(self->fields, count, sizeof(char *), s_strcmp_indirect);
    /* Drop duplicates in place: equal names are adjacent once sorted. */
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (kept > 0 && streq(self->fields[kept - 1], self->fields[i]))
            free(self->fields[i]);
        else
            self->fields[kept++] = self->fields[i];
    }
    self->fields_count = kept;
    self->has_fields = true;
}

static bool s_str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return streq(a, b);
}

bool tg_event_type_equal(const tg_event_type_t *a, const tg_event_type_t *b)
{
    assert(a);
    assert(b);
    if (!s_str_equal(a->name, b->name) || !s_str_equal(a->audience, b->audience) ||
        a->ttl != b->ttl || a->guaranteed != b->guaranteed ||
        a->client_publish != b->client_publish || a->has_fields != b->has_fields ||
        a->fields_count != b->fields_count)
        return false;
    for (size_t i = 0; i < a->fields_count; i++)
        if (!streq(a->fields[i], b->fields[i]))
            return false;
    return true;
}

/* WAMP's strict URI rule: components of [0-9a-z_], separated by '.', none
   empty. */
static bool s_uri_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > TG_MAX_TOPIC)
        return false;
    size_t component = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '.') {
            if (component == 0)
                return false;
            component = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
            component++;
        else
            return false;
    }
    return component > 0;
}

int tg_audience_validate(const char *audience)
{
    if (!audience)
        return -1;
    if (streq(audience, "public") || streq(audience, "authenticated") || streq(audience, "staff"))
        return 0;
    if (strncmp(audience, "group:", 6) != 0)
        return -1;
    const char *group = audience + 6;
    size_t len = strlen(group);
    if (len == 0 || len > TG_MAX_ID_STRING)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (group[i] <= ' ' || group[i] > '~')
            return -1;
    return 0;
}

int tg_event_type_validate(const tg_event_type_t *self, const char **reason)
{
    assert(self);
    const char *why = NULL;
    if (!self->name || !s_uri_valid(self->name))
        why = "invalid event name: expected a strict URI such as shop.order.shipped";
    else if (tg_audience_validate(self->audience) != 0)
        why = "invalid audience: expected public, authenticated, staff or group:NAME";
    else if (self->ttl > TG_MAX_TTL)
        why = "invalid ttl: at most one year (31536000 s)";
    else if (self->has_fields && self->fields_count > TG_MAX_FIELDS)
        why = "too many fields (at most 256)";
    else if (self->has_fields) {
        for (size_t i = 0; i < self->fields_count && !why; i++) {
            size_t len = strlen(self->fields[i]);
            if (len == 0 || len > TG_MAX_FIELD_NAME || !tg_utf8_valid(self->fields[i], len))
                why = "invalid field name: 1 to 128 bytes of UTF-8";
            else if (i > 0 && strcmp(self->fields[i - 1], self->fields[i]) >= 0)
                why = "fields must be unique";
        }
    }
    if (reason)
        *reason = why;
    return why ? -1 : 0;
}

/* Compares a NUL-terminated name with (key, key_len) in the same order as
   strcmp, so the sorted field list can be searched with a length-bounded
   key straight out of a msgpack buffer. */
static int s_compare_key(const char *name, const char *key, size_t key_len)
{
    size_t name_len = strlen(name);
    size_t common = name_len < key_len ? name_len : key_len;
    int rc = memcmp(name, key, common);
    if (rc != 0)
        return rc;
    return name_len < key_len ? -1 : name_len > key_len ? 1 : 0;
}

bool tg_event_type_has_field(const tg_event_type_t *self, const char *key, size_t key_len)
{
    assert(self);
    assert(key || key_len == 0);
    size_t low = 0, high = self->fields_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int rc = s_compare_key(self->fields[mid], key, key_len);
        if (rc == 0)
            return true;
        if (rc < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return false;
}

/* The registry is a sorted array of owned types: lookups are a binary search,
   iteration in name order is a loop, and registries hold at most a few
   thousand types that change rarely, so inserting in place is cheap. */
struct _tg_registry_t {
    tg_event_type_t **types; /* owned, sorted by name */
    size_t count;            /* types in use */
    size_t capacity;         /* allocated slots */
};

tg_registry_t *tg_registry_new(void)
{
    return tg_new(tg_registry_t);
}

void tg_registry_destroy(tg_registry_t **self_p)
{
    assert(self_p);
    tg_registry_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        tg_event_type_destroy(&self->types[i]);
    free(self->types);
    free(self);
    *self_p = NULL;
}

/* Index of `name`, or of where it would be inserted; *found says which. */
static size_t s_registry_find(const tg_registry_t *self, const char *name, bool *found)
{
    size_t low = 0, high = self->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int rc = strcmp(self->types[mid]->name, name);
        if (rc == 0) {
            *found = true;
            return mid;
        }
        if (rc < 0)
            low = mid + 1;
        else
            high = mid;
    }
    *found = false;
    return low;
}

int tg_registry_put(tg_registry_t *self, tg_event_type_t **type_p)
{
    assert(self);
    assert(type_p && *type_p && (*type_p)->name);
    tg_event_type_t *type = *type_p;
    *type_p = NULL;
    bool found;
    size_t index = s_registry_find(self, type->name, &found);
    if (found) {
        if (tg_event_type_equal(self->types[index], type)) {
            tg_event_type_destroy(&type);
            return 0;
        }
        tg_event_type_destroy(&self->types[index]);
        self->types[index] = type;
        return 1;
    }
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        self->types = tg_realloc(self->types, capacity * sizeof(tg_event_type_t *));
        self->capacity = capacity;
    }
    memmove(&self->types[index + 1], &self->types[index],
            (self->count - index) * sizeof(tg_event_type_t *));
    self->types[index] = type;
    self->count++;
    return 1;
}

const tg_event_type_t *tg_registry_get(const tg_registry_t *self, const char *name)
{
    assert(self);
    assert(name);
    bool found;
    size_t index = s_registry_find(self, name, &found);
    return found ? self->types[index] : NULL;
}

size_t tg_registry_size(const tg_registry_t *self)
{
    assert(self);
    return self->count;
}

void tg_registry_foreach(const tg_registry_t *self, tg_registry_fn *fn, void *arg)
{
    assert(self);
    assert(fn);
    for (size_t i = 0; i < self->count; i++)
        fn(self->types[i], arg);
}
