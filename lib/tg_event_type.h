/*  tg_event_type: an event type as declared in Django (or with
    `telegraphy-ctl register`), and the registry that holds them.

    The router owns the authoritative registry; ingest and every edge keep a
    copy that the router keeps in sync (REGISTER messages), so that ingest can
    validate fields and edges can answer `telegraphy.events.list`.
*/
#ifndef TG_EVENT_TYPE_H
#define TG_EVENT_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_MAX_FIELDS     256
#define TG_MAX_FIELD_NAME 128
#define TG_MAX_TTL        31536000 /* one year, in seconds */

typedef struct {
    char *name;      /* the WAMP topic URI, e.g. "shop.order.shipped" */
    bool has_fields; /* false: any map is accepted */
    char **fields;   /* owned; fields_count entries, unique, sorted */
    size_t fields_count;
    char *audience; /* "public" | "authenticated" | "staff" | "group:NAME" */
    uint32_t ttl;   /* seconds retained for replay, 0 = not retained */
    bool guaranteed;
    bool client_publish; /* browsers may PUBLISH this type */
} tg_event_type_t;

/* Caller owns the result: a type named `name` (copied) with audience
   "public", no fields list, ttl 0, not guaranteed. */
tg_event_type_t *tg_event_type_new(const char *name);

/* Caller owns the result: a deep copy. */
tg_event_type_t *tg_event_type_dup(const tg_event_type_t *self);

/* Safe on NULL and twice. */
void tg_event_type_destroy(tg_event_type_t **self_p);

/* Replaces the field list with a copy of `fields` (sorted, deduplicated);
   sets has_fields. */
void tg_event_type_set_fields(tg_event_type_t *self, const char *const *fields, size_t count);

/* True when the two definitions are equal in every field. */
bool tg_event_type_equal(const tg_event_type_t *a, const tg_event_type_t *b);

/* 0 when name is a valid WAMP URI (strict: components of [0-9a-z_], joined
   by '.', none empty, at most TG_MAX_TOPIC bytes), audience well-formed,
   ttl <= TG_MAX_TTL, fields valid; else -1 and *reason set (static text). */
int tg_event_type_validate(const tg_event_type_t *self, const char **reason);

/* 0 when `audience` is "public", "authenticated", "staff" or "group:NAME"
   with NAME non-empty printable ASCII without spaces. */
int tg_audience_validate(const char *audience);

/* True when fields_count/fields (binary search on the sorted list) has key. */
bool tg_event_type_has_field(const tg_event_type_t *self, const char *key, size_t key_len);

typedef struct _tg_registry_t tg_registry_t;

/* Caller owns the result. */
tg_registry_t *tg_registry_new(void);
void tg_registry_destroy(tg_registry_t **self_p);

/* Takes ownership of *type_p (nulls it). Replaces a type with the same name.
   Returns 1 when the registry changed (new or different definition), 0 when
   an identical definition was already there. */
int tg_registry_put(tg_registry_t *self, tg_event_type_t **type_p);

/* Borrowed pointer, valid until the next put of the same name; NULL if none. */
const tg_event_type_t *tg_registry_get(const tg_registry_t *self, const char *name);

size_t tg_registry_size(const tg_registry_t *self);

/* Calls fn for every type, in name order. */
typedef void(tg_registry_fn)(const tg_event_type_t *type, void *arg);
void tg_registry_foreach(const tg_registry_t *self, tg_registry_fn *fn, void *arg);

#endif
