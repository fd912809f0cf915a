/*  Unit tests of router_table: the compact pointer set keyed by a field of
    its elements. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "router_table.h"

typedef struct {
    char pad[3];
    uint64_t key;
    uint32_t small;
} elem_t;

#define ELEMS 5000

static elem_t s_elems[ELEMS];

static router_table_t *s_table(size_t *account)
{
    router_table_t *table = router_table_new(offsetof(elem_t, key), sizeof(uint64_t), account);
    cr_assert_not_null(table);
    return table;
}

/* Elements are found by the key they carry, and only by it. */
Test(router_table, elements_are_found_by_their_key)
{
    router_table_t *table = s_table(NULL);
    for (int i = 0; i < 100; i++) {
        s_elems[i].key = (uint64_t)i * 1000003u + 1;
        cr_assert_eq(router_table_put(table, &s_elems[i]), 0);
    }
    cr_expect_eq(router_table_size(table), 100);
    for (int i = 0; i < 100; i++)
        cr_expect_eq(router_table_get(table, (uint64_t)i * 1000003u + 1), &s_elems[i]);
    cr_expect_null(router_table_get(table, 2));
    router_table_destroy(&table);
    router_table_destroy(&table); /* safe twice */
}

/* Putting an element whose key is present replaces the old one and does
   not change the size. */
Test(router_table, put_with_a_present_key_replaces)
{
    router_table_t *table = s_table(NULL);
    elem_t a = {.key = 42}, b = {.key = 42};
    cr_assert_eq(router_table_put(table, &a), 0);
    cr_assert_eq(router_table_put(table, &b), 0);
    cr_expect_eq(router_table_size(table), 1);
    cr_expect_eq(router_table_get(table, 42), &b);
    cr_expect_eq(router_table_remove(table, 42), &b);
    cr_expect_null(router_table_remove(table, 42));
    router_table_destroy(&table);
}

/* Random puts and removes (many colliding home slots at small sizes)
   agree with a plain array at every step: backward-shift deletion never
   loses an element. */
Test(router_table, random_operations_agree_with_a_reference)
{
    router_table_t *table = s_table(NULL);
    bool present[ELEMS] = {false};
    for (int i = 0; i < ELEMS; i++)
        s_elems[i].key = (uint64_t)i + 1; /* consecutive keys: the mixer spreads them */
    srand(11);
    for (int step = 0; step < 40000; step++) {
        int i = rand() % 700; /* a small range: the table grows and shrinks around it */
        if (present[i]) {
            cr_assert_eq(router_table_remove(table, s_elems[i].key), &s_elems[i]);
            present[i] = false;
        } else {
            cr_assert_eq(router_table_put(table, &s_elems[i]), 0);
            present[i] = true;
        }
        if (step % 997 == 0)
            for (int j = 0; j < 700; j++)
                cr_assert_eq(router_table_get(table, s_elems[j].key),
                             present[j] ? &s_elems[j] : NULL, "step %d elem %d", step, j);
    }
    router_table_destroy(&table);
}

/* 32-bit keys are read as 32 bits: the neighbouring bytes do not count. */
Test(router_table, four_byte_keys_ignore_the_bytes_around_them)
{
    router_table_t *table = router_table_new(offsetof(elem_t, small), sizeof(uint32_t), NULL);
    cr_assert_not_null(table);
    elem_t a = {.key = 1, .small = 7}, b = {.key = 2, .small = 0xffffffffu};
    cr_assert_eq(router_table_put(table, &a), 0);
    cr_assert_eq(router_table_put(table, &b), 0);
    cr_expect_eq(router_table_get(table, 7), &a);
    cr_expect_eq(router_table_get(table, 0xffffffffu), &b);
    cr_expect_null(router_table_get(table, 1));
    router_table_destroy(&table);
}

/* Walking the slots while removing (looking at a slot again after a
   removal, as router_index_remove_edge does) removes every element. */
Test(router_table, removal_during_a_walk_reaches_every_element)
{
    router_table_t *table = s_table(NULL);
    for (int i = 0; i < ELEMS; i++) {
        s_elems[i].key = (uint64_t)rand() << 32 | (uint64_t)i;
        cr_assert_eq(router_table_put(table, &s_elems[i]), 0);
    }
    size_t removed = 0, i = 0;
    while (i < router_table_capacity(table)) {
        elem_t *elem = router_table_slot(table, i);
        if (elem && router_table_remove(table, elem->key) == elem) {
            removed++;
            continue;
        }
        i++;
    }
    cr_expect_eq(removed, ELEMS);
    cr_expect_eq(router_table_size(table), 0);
    router_table_destroy(&table);
}

/* The account sees every byte the table allocates, grows with it and is
   back to zero when the table is destroyed. Load stays <= 70%. */
Test(router_table, account_follows_the_allocations)
{
    size_t account = 0;
    router_table_t *table = s_table(&account);
    size_t empty = account;
    cr_expect_gt(empty, 0);
    for (int i = 0; i < ELEMS; i++) {
        s_elems[i].key = (uint64_t)i * 7919 + 3;
        cr_assert_eq(router_table_put(table, &s_elems[i]), 0);
    }
    size_t capacity = router_table_capacity(table);
    cr_expect_geq(capacity * 7, (size_t)ELEMS * 10);
    cr_expect_eq(account, empty + (capacity - 8) * sizeof(void *));
    router_table_destroy(&table);
    cr_expect_eq(account, 0);
}

/* After most elements are removed, shrink gives the memory back (to about
   50% load) and every remaining element is still found; on a fuller
   table it changes nothing. */
Test(router_table, shrink_returns_memory_and_keeps_the_elements)
{
    size_t account = 0;
    router_table_t *table = s_table(&account);
    size_t empty = account;
    for (int i = 0; i < ELEMS; i++) {
        s_elems[i].key = (uint64_t)i * 104729 + 5;
        cr_assert_eq(router_table_put(table, &s_elems[i]), 0);
    }
    size_t full_capacity = router_table_capacity(table);
    router_table_shrink(table);
    cr_expect_eq(router_table_capacity(table), full_capacity, "shrunk a full table");
    for (int i = 100; i < ELEMS; i++)
        cr_assert_eq(router_table_remove(table, s_elems[i].key), &s_elems[i]);
    router_table_shrink(table);
    cr_expect_eq(router_table_capacity(table), 200);
    cr_expect_eq(account, empty + (200 - 8) * sizeof(void *));
    for (int i = 0; i < 100; i++)
        cr_expect_eq(router_table_get(table, s_elems[i].key), &s_elems[i]);
    for (int i = 0; i < 100; i++)
        router_table_remove(table, s_elems[i].key);
    router_table_shrink(table);
    cr_expect_eq(account, empty);
    router_table_destroy(&table);
}
