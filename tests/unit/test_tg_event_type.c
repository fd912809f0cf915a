/*  Unit tests for tg_event_type: definitions, validation and the registry. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <string.h>

#include "tg_event_type.h"

/* A new type has the documented defaults. */
Test(tg_event_type, new_type_has_documented_defaults)
{
    tg_event_type_t *type = tg_event_type_new("shop.order.shipped");
    cr_assert_str_eq(type->name, "shop.order.shipped");
    cr_assert_str_eq(type->audience, "public");
    cr_assert_not(type->has_fields);
    cr_assert_eq(type->ttl, 0);
    cr_assert_not(type->guaranteed);
    cr_assert_not(type->client_publish);
    tg_event_type_destroy(&type);
    cr_assert_null(type);
    tg_event_type_destroy(&type); /* safe twice */
}

/* set_fields sorts and removes duplicates, so the list can be searched. */
Test(tg_event_type, set_fields_sorts_and_deduplicates)
{
    tg_event_type_t *type = tg_event_type_new("a");
    const char *fields[] = {"carrier", "order_id", "carrier", "amount"};
    tg_event_type_set_fields(type, fields, 4);
    cr_assert(type->has_fields);
    cr_assert_eq(type->fields_count, 3);
    cr_assert_str_eq(type->fields[0], "amount");
    cr_assert_str_eq(type->fields[1], "carrier");
    cr_assert_str_eq(type->fields[2], "order_id");
    tg_event_type_destroy(&type);
}

/* has_field finds keys given as (pointer, length), not NUL-terminated, and
   does not match prefixes or extensions of a field name. */
Test(tg_event_type, has_field_matches_exact_length_keys)
{
    tg_event_type_t *type = tg_event_type_new("a");
    const char *fields[] = {"order", "order_id", "carrier"};
    tg_event_type_set_fields(type, fields, 3);
    cr_assert(tg_event_type_has_field(type, "order_id_x", 8));
    cr_assert(tg_event_type_has_field(type, "order_id", 5));
    cr_assert(tg_event_type_has_field(type, "carrier", 7));
    cr_assert_not(tg_event_type_has_field(type, "order_", 6));
    cr_assert_not(tg_event_type_has_field(type, "carriers", 8));
    cr_assert_not(tg_event_type_has_field(type, "", 0));
    tg_event_type_destroy(&type);
}

/* A duplicate is equal to its original and independent of it. */
Test(tg_event_type, dup_is_equal_and_independent)
{
    tg_event_type_t *type = tg_event_type_new("a.b");
    const char *fields[] = {"x"};
    tg_event_type_set_fields(type, fields, 1);
    free(type->audience);
    type->audience = strdup("staff");
    type->ttl = 60;
    type->guaranteed = true;
    tg_event_type_t *copy = tg_event_type_dup(type);
    cr_assert(tg_event_type_equal(type, copy));
    cr_assert_neq(copy->fields[0], type->fields[0]);
    copy->ttl = 61;
    cr_assert_not(tg_event_type_equal(type, copy));
    tg_event_type_destroy(&type);
    tg_event_type_destroy(&copy);
}

/* equal tells "any map" from "exactly no fields". */
Test(tg_event_type, equal_distinguishes_no_fields_from_any_map)
{
    tg_event_type_t *any = tg_event_type_new("a");
    tg_event_type_t *none = tg_event_type_new("a");
    tg_event_type_set_fields(none, NULL, 0);
    cr_assert_not(tg_event_type_equal(any, none));
    tg_event_type_destroy(&any);
    tg_event_type_destroy(&none);
}

/* Names follow WAMP's strict URI rule. */
Test(tg_event_type, validate_accepts_only_strict_uris)
{
    const char *good[] = {"a", "shop.order.shipped", "x_1.y2", "0.9"};
    const char *bad[] = {"", ".a", "a.", "a..b", "Shop.order", "a-b", "a b", "a.b#", "é"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tg_event_type_t *type = tg_event_type_new(good[i]);
        cr_assert_eq(tg_event_type_validate(type, NULL), 0, "%s", good[i]);
        tg_event_type_destroy(&type);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_event_type_t *type = tg_event_type_new(bad[i]);
        const char *reason = NULL;
        cr_assert_eq(tg_event_type_validate(type, &reason), -1, "%s", bad[i]);
        cr_assert_not_null(reason);
        cr_assert(strstr(reason, "name"));
        tg_event_type_destroy(&type);
    }
}

/* A name longer than TG_MAX_TOPIC (512) is refused. */
Test(tg_event_type, validate_refuses_overlong_names)
{
    char name[520];
    memset(name, 'a', sizeof name);
    name[512] = '\0';
    tg_event_type_t *type = tg_event_type_new(name);
    cr_assert_eq(tg_event_type_validate(type, NULL), 0);
    tg_event_type_destroy(&type);
    name[512] = 'a';
    name[513] = '\0';
    type = tg_event_type_new(name);
    cr_assert_eq(tg_event_type_validate(type, NULL), -1);
    tg_event_type_destroy(&type);
}

/* Audiences are the three words or group:NAME with a printable name. */
Test(tg_event_type, audience_validation)
{
    cr_assert_eq(tg_audience_validate("public"), 0);
    cr_assert_eq(tg_audience_validate("authenticated"), 0);
    cr_assert_eq(tg_audience_validate("staff"), 0);
    cr_assert_eq(tg_audience_validate("group:ops"), 0);
    cr_assert_eq(tg_audience_validate("group:"), -1);
    cr_assert_eq(tg_audience_validate("group:a b"), -1);
    cr_assert_eq(tg_audience_validate("group:\x7f"), -1);
    cr_assert_eq(tg_audience_validate("Public"), -1);
    cr_assert_eq(tg_audience_validate("everyone"), -1);
    cr_assert_eq(tg_audience_validate(NULL), -1);
}

/* validate checks audience, ttl and fields, and says which is wrong. */
Test(tg_event_type, validate_reports_bad_audience_ttl_and_fields)
{
    tg_event_type_t *type = tg_event_type_new("a.b");
    const char *reason = NULL;
    free(type->audience);
    type->audience = strdup("friends");
    cr_assert_eq(tg_event_type_validate(type, &reason), -1);
    cr_assert(strstr(reason, "audience"));

    free(type->audience);
    type->audience = strdup("group:ops");
    type->ttl = TG_MAX_TTL + 1;
    cr_assert_eq(tg_event_type_validate(type, &reason), -1);
    cr_assert(strstr(reason, "ttl"));

    type->ttl = TG_MAX_TTL;
    const char *fields[] = {"ok", ""};
    tg_event_type_set_fields(type, fields, 2);
    cr_assert_eq(tg_event_type_validate(type, &reason), -1);
    cr_assert(strstr(reason, "field"));

    const char *good[] = {"ok", "ünïcode"};
    tg_event_type_set_fields(type, good, 2);
    cr_assert_eq(tg_event_type_validate(type, &reason), 0);
    cr_assert_null(reason);
    tg_event_type_destroy(&type);
}

static void s_collect(const tg_event_type_t *type, void *arg)
{
    zlist_t *names = (zlist_t *)arg;
    zlist_append(names, type->name);
}

/* put returns 1 for a new or changed type, 0 for an identical one; get
   finds it; the size counts names. */
Test(tg_registry, put_reports_changes)
{
    tg_registry_t *registry = tg_registry_new();
    tg_event_type_t *type = tg_event_type_new("a.b");
    cr_assert_eq(tg_registry_put(registry, &type), 1);
    cr_assert_null(type);
    type = tg_event_type_new("a.b");
    cr_assert_eq(tg_registry_put(registry, &type), 0);
    cr_assert_null(type);
    type = tg_event_type_new("a.b");
    type->ttl = 10;
    cr_assert_eq(tg_registry_put(registry, &type), 1);
    cr_assert_eq(tg_registry_size(registry), 1);
    const tg_event_type_t *got = tg_registry_get(registry, "a.b");
    cr_assert_not_null(got);
    cr_assert_eq(got->ttl, 10);
    cr_assert_null(tg_registry_get(registry, "a.c"));
    tg_registry_destroy(&registry);
    cr_assert_null(registry);
    tg_registry_destroy(&registry);
}

/* foreach visits every type once, in name order, whatever the put order. */
Test(tg_registry, foreach_visits_in_name_order)
{
    tg_registry_t *registry = tg_registry_new();
    const char *names[] = {"m", "b.z", "z", "a", "b", "b.a"};
    for (size_t i = 0; i < 6; i++) {
        tg_event_type_t *type = tg_event_type_new(names[i]);
        tg_registry_put(registry, &type);
    }
    /* enough to force the array to grow past its first allocation */
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%02d", 39 - i);
        tg_event_type_t *type = tg_event_type_new(name);
        tg_registry_put(registry, &type);
    }
    zlist_t *seen = zlist_new();
    tg_registry_foreach(registry, s_collect, seen);
    cr_assert_eq(zlist_size(seen), 46);
    const char *previous = (const char *)zlist_first(seen);
    cr_assert_str_eq(previous, "a");
    for (const char *name = (const char *)zlist_next(seen); name;
         name = (const char *)zlist_next(seen)) {
        cr_assert_lt(strcmp(previous, name), 0, "%s before %s", previous, name);
        previous = name;
    }
    zlist_destroy(&seen);
    tg_registry_destroy(&registry);
}
