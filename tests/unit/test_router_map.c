/*  Unit tests of router_map: the router's open-addressing hash table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "router_map.h"

/* The incremental hash of a prefix equals the one-shot hash of it, which
   is what the prefix index relies on. */
Test(router_map, incremental_hash_equals_one_shot_hash_of_each_prefix)
{
    const char *topic = "com.myapp.topic.emergency";
    uint64_t state = router_map_hash_begin();
    for (size_t i = 0; i < strlen(topic); i++) {
        state = router_map_hash_step(state, (uint8_t)topic[i]);
        cr_expect_eq(router_map_hash_end(state), router_map_hash(topic, i + 1), "prefix %zu",
                     i + 1);
    }
    cr_expect_neq(router_map_hash("ab", 2), router_map_hash("ba", 2));
}

/* Keys are bytes with a length: a prefix of a stored key is another key. */
Test(router_map, keys_are_compared_by_bytes_and_length)
{
    router_map_t *map = router_map_new();
    int a, b;
    router_map_put(map, router_map_hash("abc", 3), "abc", 3, &a);
    router_map_put(map, router_map_hash("ab", 2), "ab", 2, &b);
    cr_expect_eq(router_map_get(map, router_map_hash("abc", 3), "abc", 3), &a);
    cr_expect_eq(router_map_get(map, router_map_hash("ab", 2), "abcdef", 2), &b);
    cr_expect_null(router_map_get(map, router_map_hash("a", 1), "a", 1));
    router_map_put(map, router_map_hash("ab", 2), "ab", 2, &a);
    cr_expect_eq(router_map_get(map, router_map_hash("ab", 2), "ab", 2), &a);
    cr_expect_eq(router_map_size(map), 2);
    router_map_destroy(&map);
    router_map_destroy(&map); /* safe twice */
}

/* Under heavy deliberate collisions (8 distinct hashes for 500 keys) and
   growth, a random mix of put/remove keeps every lookup right: deletion's
   backward shift never hides a key behind a hole. */
Test(router_map, collisions_growth_and_removal_keep_lookups_exact)
{
    enum { KEYS = 500 };
    router_map_t *map = router_map_new();
    static int values[KEYS];
    bool present[KEYS] = {false};
    char key[16];
    srand(12345);
    for (int step = 0; step < 20000; step++) {
        int k = rand() % KEYS;
        int len = snprintf(key, sizeof key, "k%d", k);
        uint64_t hash = (uint64_t)(k % 8) * 0x9e3779b97f4a7c15ULL; /* forced collisions */
        if (rand() % 3) {
            router_map_put(map, hash, key, (size_t)len, &values[k]);
            present[k] = true;
        } else {
            void *removed = router_map_remove(map, hash, key, (size_t)len);
            cr_assert_eq(removed, present[k] ? &values[k] : NULL, "remove k%d", k);
            present[k] = false;
        }
        if (step % 500 == 0) {
            size_t count = 0;
            for (int j = 0; j < KEYS; j++) {
                len = snprintf(key, sizeof key, "k%d", j);
                void *got = router_map_get(map, (uint64_t)(j % 8) * 0x9e3779b97f4a7c15ULL, key,
                                           (size_t)len);
                cr_assert_eq(got, present[j] ? &values[j] : NULL, "k%d at step %d", j, step);
                count += present[j];
            }
            cr_assert_eq(router_map_size(map), count);
        }
    }
    router_map_destroy(&map);
}

/* With an account set, the map adds what it holds (struct, slots, key
   copies), follows its growth and removals, and takes it all back when
   destroyed or when the account is unset. */
Test(router_map, account_follows_what_the_map_holds)
{
    size_t account = 0;
    router_map_t *map = router_map_new();
    router_map_set_account(map, &account);
    size_t empty = account;
    cr_expect_gt(empty, 0);
    char key[16];
    int value;
    for (int i = 0; i < 100; i++) {
        int len = snprintf(key, sizeof key, "key%d", i);
        router_map_put(map, router_map_hash(key, len), key, len, &value);
    }
    size_t full = account;
    cr_expect_gt(full, empty + 100 * 5);
    for (int i = 0; i < 100; i++) {
        int len = snprintf(key, sizeof key, "key%d", i);
        router_map_remove(map, router_map_hash(key, len), key, len);
    }
    cr_expect_lt(account, full);
    router_map_set_account(map, NULL);
    cr_expect_eq(account, 0);
    router_map_set_account(map, &account);
    router_map_destroy(&map);
    cr_expect_eq(account, 0);
}
