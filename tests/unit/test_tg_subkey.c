/*  tg_subkey: the one definition of a subscription key and its id. */
#include <criterion/criterion.h>
#include <string.h>

#include "tg_subkey.h"

/* The key's bytes are "<match>\0<topic>\0<filter>". */
Test(tg_subkey, bytes_are_match_topic_filter_separated_by_nul)
{
    tg_subkey_t key = {0};
    tg_subkey_make(&key, TG_MATCH_PREFIX, "a.b", "x == 1");
    const char expected[] = "prefix\0a.b\0x == 1";
    cr_assert_eq(key.len, sizeof expected - 1);
    cr_assert_eq(memcmp(key.bytes, expected, key.len), 0);
    tg_subkey_clear(&key);
    tg_subkey_clear(&key);
}

/* The same key gives the same id everywhere; another filter another id;
   ids fit in 53 bits and are never 0. */
Test(tg_subkey, same_key_same_id_other_filter_other_id)
{
    tg_subkey_t a = {0}, b = {0}, c = {0};
    tg_subkey_make(&a, TG_MATCH_EXACT, "shop.order", "x == 1");
    tg_subkey_make(&b, TG_MATCH_EXACT, "shop.order", "x == 1");
    tg_subkey_make(&c, TG_MATCH_EXACT, "shop.order", "x == 2");
    cr_assert(tg_subkey_equal(&a, &b));
    cr_assert_not(tg_subkey_equal(&a, &c));
    uint64_t id = tg_subkey_id(&a, 0);
    cr_assert_eq(id, tg_subkey_id(&b, 0));
    cr_assert_neq(id, tg_subkey_id(&c, 0));
    cr_assert_neq(id, tg_subkey_id(&a, 1));
    cr_assert(id >= 1 && id <= TG_SUBKEY_ID_MASK);
    tg_subkey_clear(&a);
    tg_subkey_clear(&b);
    tg_subkey_clear(&c);
}

/* No filter and an empty filter are one key (the router treats an empty
   filter as none). */
Test(tg_subkey, empty_filter_is_no_filter)
{
    tg_subkey_t a = {0}, b = {0};
    tg_subkey_make(&a, TG_MATCH_WILDCARD, "a..c", NULL);
    tg_subkey_make(&b, TG_MATCH_WILDCARD, "a..c", "");
    cr_assert(tg_subkey_equal(&a, &b));
    tg_subkey_clear(&a);
    tg_subkey_clear(&b);
}
