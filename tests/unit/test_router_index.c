/*  Unit tests of router_index: the router's subscription index. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <string.h>

#include "router_index.h"

static int edge_a, edge_b, edge_c; /* edge handles: only their addresses matter */

#define MAX_SEEN 64
typedef struct {
    uint64_t ids[MAX_SEEN];
    size_t count;
} seen_t;

static void s_record(const router_sub_t *sub, void *arg)
{
    seen_t *seen = arg;
    cr_assert_lt(seen->count, MAX_SEEN);
    seen->ids[seen->count++] = sub->id;
}

static seen_t s_match(router_index_t *index, const char *topic)
{
    seen_t seen = {0};
    size_t calls = router_index_match(index, topic, strlen(topic), s_record, &seen);
    cr_assert_eq(calls, seen.count);
    return seen;
}

static bool s_has(const seen_t *seen, uint64_t id)
{
    for (size_t i = 0; i < seen->count; i++)
        if (seen->ids[i] == id)
            return true;
    return false;
}

static uint64_t s_add(router_index_t *index, tg_match_t match, const char *topic,
                      const char *filter, void *edge)
{
    uint64_t id = 0;
    cr_assert_eq(router_index_add(index, match, topic, filter, edge, &id), 0, "add %s", topic);
    return id;
}

/* One row of a matching table: does `pattern` under `match` match `topic`? */
typedef struct {
    tg_match_t match;
    const char *pattern;
    const char *topic;
    bool matches;
} match_case_t;

static const match_case_t s_cases[] = {
    {TG_MATCH_EXACT, "com.myapp.a", "com.myapp.a", true},
    {TG_MATCH_EXACT, "com.myapp.a", "com.myapp.ab", false},
    {TG_MATCH_EXACT, "com.myapp.a", "com.myapp", false},
    /* WAMP v2 spec, "Prefix Matching": a prefix subscription is a plain
       string prefix of the topic; its example prefix
       "com.myapp.topic.emergency" matches "com.myapp.topic.emergency-low"
       and the topic itself. So "com.myapp" also matches "com.myapp2". */
    {TG_MATCH_PREFIX, "com.myapp.topic.emergency", "com.myapp.topic.emergency.11", true},
    {TG_MATCH_PREFIX, "com.myapp.topic.emergency", "com.myapp.topic.emergency-low", true},
    {TG_MATCH_PREFIX, "com.myapp.topic.emergency", "com.myapp.topic.emergency", true},
    {TG_MATCH_PREFIX, "com.myapp.topic.emergency", "com.myapp.topic.emerge", false},
    {TG_MATCH_PREFIX, "com.myapp", "com.myapp.a", true},
    {TG_MATCH_PREFIX, "com.myapp", "com.myapp2", true},
    {TG_MATCH_PREFIX, "com.myapp.", "com.myapp2", false},
    {TG_MATCH_PREFIX, "com.myapp", "org.myapp", false},
    /* WAMP v2 spec, "Wildcard Matching": components split on '.', same
       count, an empty pattern component matches any one component. */
    {TG_MATCH_WILDCARD, "com..update", "com.x.update", true},
    {TG_MATCH_WILDCARD, "com..update", "com.x.y.update", false},
    {TG_MATCH_WILDCARD, "com..update", "com.update", false},
    {TG_MATCH_WILDCARD, "com..update", "com.x.updates", false},
    {TG_MATCH_WILDCARD, "com.myapp..userevent", "com.myapp.foo.userevent", true},
    {TG_MATCH_WILDCARD, "com.myapp..userevent", "com.myapp.foo.user", false},
    {TG_MATCH_WILDCARD, ".x.", "a.x.b", true},
    {TG_MATCH_WILDCARD, ".x.", "a.y.b", false},
    {TG_MATCH_WILDCARD, "..", "a.b.c", true},
    {TG_MATCH_WILDCARD, "..", "a.b", false},
    {TG_MATCH_WILDCARD, "a.b", "a.b", true},
    {TG_MATCH_WILDCARD, "a.b", "a.b.c", false},
};
#define CASES (sizeof s_cases / sizeof s_cases[0])

/* The reference predicate agrees with the WAMP examples table. */
Test(router_index, reference_predicate_follows_the_wamp_rules)
{
    for (size_t i = 0; i < CASES; i++) {
        const match_case_t *c = &s_cases[i];
        cr_expect_eq(router_index_topic_matches(c->match, c->pattern, c->topic, strlen(c->topic)),
                     c->matches, "%s %s vs %s", tg_match_name(c->match), c->pattern, c->topic);
    }
}

/* Each table row alone in an index: the index matches exactly when the
   table says so. */
Test(router_index, each_policy_matches_as_the_wamp_examples_say)
{
    for (size_t i = 0; i < CASES; i++) {
        const match_case_t *c = &s_cases[i];
        router_index_t *index = router_index_new();
        uint64_t id = s_add(index, c->match, c->pattern, NULL, &edge_a);
        seen_t seen = s_match(index, c->topic);
        cr_expect_eq(seen.count, c->matches ? 1u : 0u, "%s %s vs %s", tg_match_name(c->match),
                     c->pattern, c->topic);
        if (c->matches)
            cr_expect(s_has(&seen, id));
        router_index_destroy(&index);
    }
}

/* All table patterns in one index: for every topic the index returns
   exactly the subscriptions the reference predicate accepts, each once. */
Test(router_index, index_agrees_with_reference_with_every_pattern_loaded)
{
    router_index_t *index = router_index_new();
    for (size_t i = 0; i < CASES; i++)
        s_add(index, s_cases[i].match, s_cases[i].pattern, NULL, &edge_a);
    for (size_t t = 0; t < CASES; t++) {
        const char *topic = s_cases[t].topic;
        seen_t seen = s_match(index, topic);
        size_t expected = 0;
        for (size_t i = 0; i < CASES; i++) {
            const match_case_t *c = &s_cases[i];
            bool dup = false; /* the same (match, pattern) may appear in several rows */
            for (size_t j = 0; j < i; j++)
                dup |= s_cases[j].match == c->match && !strcmp(s_cases[j].pattern, c->pattern);
            if (dup || !router_index_topic_matches(c->match, c->pattern, topic, strlen(topic)))
                continue;
            expected++;
            uint64_t id = 0;
            router_index_add(index, c->match, c->pattern, NULL, &edge_a, &id); /* idempotent */
            cr_expect(s_has(&seen, id), "%s %s should match %s", tg_match_name(c->match),
                      c->pattern, topic);
        }
        cr_expect_eq(seen.count, expected, "topic %s", topic);
        for (size_t i = 0; i < seen.count; i++)
            for (size_t j = i + 1; j < seen.count; j++)
                cr_expect_neq(seen.ids[i], seen.ids[j], "visited twice");
    }
    router_index_destroy(&index);
}

/* Prefix subscriptions of different lengths on one topic all match it. */
Test(router_index, prefixes_of_every_length_match_the_same_topic)
{
    router_index_t *index = router_index_new();
    uint64_t a = s_add(index, TG_MATCH_PREFIX, "c", NULL, &edge_a);
    uint64_t b = s_add(index, TG_MATCH_PREFIX, "com.", NULL, &edge_a);
    uint64_t c = s_add(index, TG_MATCH_PREFIX, "com.x.update", NULL, &edge_a);
    s_add(index, TG_MATCH_PREFIX, "com.y", NULL, &edge_a);
    seen_t seen = s_match(index, "com.x.update");
    cr_expect_eq(seen.count, 3);
    cr_expect(s_has(&seen, a) && s_has(&seen, b) && s_has(&seen, c));
    router_index_destroy(&index);
}

static uint64_t s_expected_id(const char *match, const char *topic, const char *filter)
{
    unsigned char key[1024], digest[EVP_MAX_MD_SIZE];
    size_t len = 0;
    memcpy(key + len, match, strlen(match) + 1);
    len += strlen(match) + 1;
    memcpy(key + len, topic, strlen(topic) + 1);
    len += strlen(topic) + 1;
    memcpy(key + len, filter, strlen(filter));
    len += strlen(filter);
    unsigned int digest_len = 0;
    cr_assert_eq(EVP_Digest(key, len, digest, &digest_len, EVP_sha256(), NULL), 1);
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = (id << 8) | digest[i];
    id &= (1ULL << 53) - 1;
    return id ? id : 1;
}

/* The id is the documented hash of "<match>\0<topic>\0<filter>", in
   [1, 2^53]. */
Test(router_index, id_is_the_masked_sha256_of_the_canonical_key)
{
    router_index_t *index = router_index_new();
    uint64_t exact = s_add(index, TG_MATCH_EXACT, "shop.order.shipped", NULL, &edge_a);
    uint64_t filtered = s_add(index, TG_MATCH_PREFIX, "shop.", "room == \"lobby\"", &edge_a);
    cr_expect_eq(exact, s_expected_id("exact", "shop.order.shipped", ""));
    cr_expect_eq(filtered, s_expected_id("prefix", "shop.", "room == \"lobby\""));
    cr_expect(exact >= 1 && exact <= (1ULL << 53));
    cr_expect(filtered >= 1 && filtered <= (1ULL << 53));
    router_index_destroy(&index);
}

/* The same key gets the same id from two edges and from another index
   (another router), with no coordination. */
Test(router_index, same_key_gives_same_id_everywhere)
{
    router_index_t *one = router_index_new();
    router_index_t *two = router_index_new();
    uint64_t a = s_add(one, TG_MATCH_WILDCARD, "com..update", NULL, &edge_a);
    uint64_t b = s_add(one, TG_MATCH_WILDCARD, "com..update", NULL, &edge_b);
    uint64_t c = s_add(two, TG_MATCH_WILDCARD, "com..update", NULL, &edge_c);
    cr_expect_eq(a, b);
    cr_expect_eq(a, c);
    cr_expect_eq(router_index_size(one), 1);
    cr_expect_eq(router_index_holders(one), 2);
    router_index_destroy(&one);
    router_index_destroy(&two);
}

/* Adding the same subscription twice for one edge changes nothing. */
Test(router_index, add_is_idempotent_per_edge)
{
    router_index_t *index = router_index_new();
    uint64_t a = s_add(index, TG_MATCH_EXACT, "a.b", NULL, &edge_a);
    uint64_t b = s_add(index, TG_MATCH_EXACT, "a.b", NULL, &edge_a);
    cr_expect_eq(a, b);
    cr_expect_eq(router_index_holders(index), 1);
    cr_expect_eq(router_index_lookup(index, a)->edges_count, 1);
    router_index_destroy(&index);
}

/* Match policy and filter are part of the key: each gives its own id, and
   an empty filter is the same as none. */
Test(router_index, different_match_or_filter_gives_different_ids)
{
    router_index_t *index = router_index_new();
    uint64_t exact = s_add(index, TG_MATCH_EXACT, "a.b", NULL, &edge_a);
    uint64_t prefix = s_add(index, TG_MATCH_PREFIX, "a.b", NULL, &edge_a);
    uint64_t wildcard = s_add(index, TG_MATCH_WILDCARD, "a.b", NULL, &edge_a);
    uint64_t filter1 = s_add(index, TG_MATCH_EXACT, "a.b", "x == 1", &edge_a);
    uint64_t filter2 = s_add(index, TG_MATCH_EXACT, "a.b", "x == 2", &edge_a);
    uint64_t empty = s_add(index, TG_MATCH_EXACT, "a.b", "", &edge_b);
    cr_expect_neq(exact, prefix);
    cr_expect_neq(exact, wildcard);
    cr_expect_neq(prefix, wildcard);
    cr_expect_neq(exact, filter1);
    cr_expect_neq(filter1, filter2);
    cr_expect_eq(empty, exact);
    cr_expect_eq(router_index_size(index), 5);
    /* Filters are not evaluated yet: every one of them matches the topic. */
    cr_expect_eq(s_match(index, "a.b").count, 5);
    router_index_destroy(&index);
}

/* A subscription stays while any edge holds it, and goes with the last. */
Test(router_index, remove_drops_the_subscription_with_its_last_edge)
{
    router_index_t *index = router_index_new();
    uint64_t id = s_add(index, TG_MATCH_PREFIX, "com.", NULL, &edge_a);
    s_add(index, TG_MATCH_PREFIX, "com.", NULL, &edge_b);
    cr_expect_eq(router_index_remove(index, id, &edge_c), -1, "edge_c never held it");
    cr_expect_eq(router_index_remove(index, id, &edge_a), 0);
    const router_sub_t *sub = router_index_lookup(index, id);
    cr_assert_not_null(sub);
    cr_expect_eq(sub->edges_count, 1);
    cr_expect_eq(sub->edges[0], &edge_b);
    cr_expect_eq(s_match(index, "com.x").count, 1);
    cr_expect_eq(router_index_remove(index, id, &edge_b), 0);
    cr_expect_null(router_index_lookup(index, id));
    cr_expect_eq(s_match(index, "com.x").count, 0);
    cr_expect_eq(router_index_size(index), 0);
    cr_expect_eq(router_index_remove(index, id, &edge_b), -1);
    router_index_destroy(&index);
}

/* Removing an edge removes it from every subscription of every policy,
   and the subscriptions only it held. */
Test(router_index, remove_edge_forgets_everything_the_edge_held)
{
    router_index_t *index = router_index_new();
    uint64_t shared = s_add(index, TG_MATCH_EXACT, "a.b", NULL, &edge_a);
    s_add(index, TG_MATCH_EXACT, "a.b", NULL, &edge_b);
    s_add(index, TG_MATCH_PREFIX, "a", NULL, &edge_a);
    s_add(index, TG_MATCH_WILDCARD, ".b", NULL, &edge_a);
    s_add(index, TG_MATCH_WILDCARD, "a.b.c", NULL, &edge_a);
    cr_expect_eq(router_index_remove_edge(index, &edge_a), 4);
    cr_expect_eq(router_index_size(index), 1);
    cr_expect_eq(router_index_holders(index), 1);
    seen_t seen = s_match(index, "a.b");
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, shared));
    cr_expect_eq(s_match(index, "a.b.c").count, 0);
    cr_expect_eq(router_index_remove_edge(index, &edge_a), 0);
    router_index_destroy(&index);
}

/* Wildcard patterns sharing a path: removing one leaves the others
   matching (the trie is pruned only where nothing else lives). */
Test(router_index, wildcard_removal_keeps_patterns_sharing_the_path)
{
    router_index_t *index = router_index_new();
    uint64_t ab = s_add(index, TG_MATCH_WILDCARD, "a..c", NULL, &edge_a);
    uint64_t abd = s_add(index, TG_MATCH_WILDCARD, "a..c.d", NULL, &edge_a);
    uint64_t lit = s_add(index, TG_MATCH_WILDCARD, "a.b.c", NULL, &edge_a);
    cr_expect_eq(s_match(index, "a.b.c").count, 2);
    cr_expect_eq(router_index_remove(index, ab, &edge_a), 0);
    seen_t seen = s_match(index, "a.b.c");
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, lit));
    seen = s_match(index, "a.x.c.d");
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, abd));
    cr_expect_eq(router_index_remove(index, lit, &edge_a), 0);
    cr_expect_eq(router_index_remove(index, abd, &edge_a), 0);
    cr_expect_eq(s_match(index, "a.x.c.d").count, 0);
    /* and the pruned trie takes new patterns again */
    s_add(index, TG_MATCH_WILDCARD, "a..c", NULL, &edge_b);
    cr_expect_eq(s_match(index, "a.q.c").count, 1);
    router_index_destroy(&index);
}

/* Empty and over-long topics are refused and change nothing. */
Test(router_index, add_refuses_empty_and_overlong_topics)
{
    router_index_t *index = router_index_new();
    char topic[TG_MAX_TOPIC + 2];
    memset(topic, 'a', sizeof topic - 1);
    topic[sizeof topic - 1] = 0;
    uint64_t id = 0;
    cr_expect_eq(router_index_add(index, TG_MATCH_EXACT, "", NULL, &edge_a, &id), -1);
    cr_expect_eq(router_index_add(index, TG_MATCH_PREFIX, topic, NULL, &edge_a, &id), -1);
    topic[TG_MAX_TOPIC] = 0; /* exactly TG_MAX_TOPIC bytes: accepted */
    cr_expect_eq(router_index_add(index, TG_MATCH_PREFIX, topic, NULL, &edge_a, &id), 0);
    cr_expect_eq(router_index_size(index), 1);
    cr_expect_eq(s_match(index, topic).count, 1);
    router_index_destroy(&index);
}

/* Test hook: every key hashes to 7 first, then 7 + counter. */
static uint64_t s_colliding_id(const void *key, size_t len, uint32_t counter)
{
    (void)key;
    (void)len;
    return 7 + counter;
}

/* Two keys with the same hash: the second gets the hash of its key with a
   counter appended, both resolve to their own subscription, and re-adding
   either returns the id it already has. */
Test(router_index, colliding_ids_are_rehashed_until_free)
{
    router_index_t *index = router_index_new();
    router_index_set_id_fn(index, s_colliding_id);
    uint64_t first = s_add(index, TG_MATCH_EXACT, "a.one", NULL, &edge_a);
    uint64_t second = s_add(index, TG_MATCH_EXACT, "a.two", NULL, &edge_a);
    uint64_t third = s_add(index, TG_MATCH_PREFIX, "a.one", NULL, &edge_a);
    cr_expect_eq(first, 7);
    cr_expect_eq(second, 8);
    cr_expect_eq(third, 9);
    cr_expect_str_eq(router_index_lookup(index, first)->topic, "a.one");
    cr_expect_str_eq(router_index_lookup(index, second)->topic, "a.two");
    cr_expect_eq(s_add(index, TG_MATCH_EXACT, "a.two", NULL, &edge_b), second);
    seen_t seen = s_match(index, "a.two");
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, second));
    /* Once the holder of 7 is gone, 7 is free for the next new key. */
    cr_expect_eq(router_index_remove(index, first, &edge_a), 0);
    cr_expect_eq(s_add(index, TG_MATCH_EXACT, "a.three", NULL, &edge_a), 7);
    router_index_destroy(&index);
}

static uint64_t s_zero_id(const void *key, size_t len, uint32_t counter)
{
    (void)key;
    (void)len;
    return counter == 0 ? (1ULL << 53) : 0; /* both mask to 0 */
}

/* A hash that masks to 0 becomes id 1 (ids are in [1, 2^53]). */
Test(router_index, zero_id_becomes_one)
{
    router_index_t *index = router_index_new();
    router_index_set_id_fn(index, s_zero_id);
    cr_expect_eq(s_add(index, TG_MATCH_EXACT, "a.b", NULL, &edge_a), 1);
    router_index_destroy(&index);
}

/* Many subscriptions: add, match and remove them all; the index ends empty
   (ASan/LSan check the trie and maps are freed). */
Test(router_index, many_subscriptions_come_and_go)
{
    router_index_t *index = router_index_new();
    char topic[64];
    uint64_t ids[300];
    for (int i = 0; i < 300; i++) {
        tg_match_t match = (tg_match_t)(i % 3);
        snprintf(topic, sizeof topic, match == TG_MATCH_WILDCARD ? "t%d..x" : "t%d.y.x", i / 3);
        ids[i] = s_add(index, match, topic, NULL, (i % 2) ? (void *)&edge_a : (void *)&edge_b);
    }
    cr_expect_eq(router_index_size(index), 300);
    /* "t7.y.x": exact t7.y.x, prefix t7.y.x, wildcard t7..x */
    seen_t seen = s_match(index, "t7.y.x");
    cr_expect_eq(seen.count, 3);
    cr_expect(s_has(&seen, ids[21]) && s_has(&seen, ids[22]) && s_has(&seen, ids[23]));
    for (int i = 0; i < 300; i += 2)
        cr_expect_eq(router_index_remove(index, ids[i], &edge_b), 0);
    cr_expect_eq(router_index_remove_edge(index, &edge_a), 150);
    cr_expect_eq(router_index_size(index), 0);
    cr_expect_eq(router_index_holders(index), 0);
    cr_expect_eq(s_match(index, "t7.y.x").count, 0);
    router_index_destroy(&index);
    router_index_destroy(&index); /* safe twice */
}
