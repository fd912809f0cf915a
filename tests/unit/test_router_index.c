/*  Unit tests of router_index: the router's subscription index. */
#include <criterion/criterion.h>
#include <msgpack.h>
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

/* The subscriptions matching an event on topic with this body. */
static seen_t s_match_body(router_index_t *index, const char *topic, const void *body, size_t len)
{
    seen_t seen = {0};
    size_t calls = router_index_match(index, topic, strlen(topic), body, len, s_record, &seen);
    cr_assert_eq(calls, seen.count);
    for (size_t i = 0; i < seen.count; i++)
        for (size_t j = i + 1; j < seen.count; j++)
            cr_assert_neq(seen.ids[i], seen.ids[j], "subscription visited twice");
    return seen;
}

static void s_count(const router_sub_t *sub, void *arg)
{
    (void)sub;
    (*(size_t *)arg)++;
}

/* ... with no body: only subscriptions without a filter can match. */
static seen_t s_match(router_index_t *index, const char *topic)
{
    return s_match_body(index, topic, NULL, 0);
}

static bool s_has(const seen_t *seen, uint64_t id)
{
    for (size_t i = 0; i < seen->count; i++)
        if (seen->ids[i] == id)
            return true;
    return false;
}

/* Caller owns the result: filter compiled with the default limits. */
static tg_query_t *s_query(const char *filter)
{
    tg_query_limits_t limits = TG_QUERY_DEFAULT_LIMITS;
    tg_query_error_t error;
    tg_query_t *query = tg_query_parse(filter, strlen(filter), &limits, &error);
    cr_assert_not_null(query, "filter %s: %s", filter, error.message);
    return query;
}

static uint64_t s_add(router_index_t *index, tg_match_t match, const char *topic,
                      const char *filter, void *edge)
{
    uint64_t id = 0;
    tg_query_t *query = filter ? s_query(filter) : NULL;
    cr_assert_eq(router_index_add(index, match, topic, &query, edge, &id), 0, "add %s", topic);
    cr_assert_null(query, "the index took the filter");
    return id;
}

/* A msgpack body under construction. */
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} body_t;

static void s_body_init(body_t *body, uint32_t pairs)
{
    msgpack_sbuffer_init(&body->sbuf);
    msgpack_packer_init(&body->pk, &body->sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&body->pk, pairs);
}

static void s_pack_str(body_t *body, const char *text)
{
    msgpack_pack_str_with_body(&body->pk, text, strlen(text));
}

/* The subscriptions matching an event {name: value} on topic. */
static seen_t s_match_int(router_index_t *index, const char *topic, const char *name, int64_t value)
{
    body_t body;
    s_body_init(&body, 1);
    s_pack_str(&body, name);
    msgpack_pack_int64(&body.pk, value);
    seen_t seen = s_match_body(index, topic, body.sbuf.data, body.sbuf.size);
    msgpack_sbuffer_destroy(&body.sbuf);
    return seen;
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
   [1, 2^53], over the filter's canonical text. */
Test(router_index, id_is_the_masked_sha256_of_the_canonical_key)
{
    router_index_t *index = router_index_new();
    uint64_t exact = s_add(index, TG_MATCH_EXACT, "shop.order.shipped", NULL, &edge_a);
    uint64_t filtered = s_add(index, TG_MATCH_PREFIX, "shop.", "(room=='lobby')", &edge_a);
    cr_expect_eq(exact, s_expected_id("exact", "shop.order.shipped", ""));
    cr_expect_eq(filtered, s_expected_id("prefix", "shop.", "room == \"lobby\""));
    cr_expect_str_eq(router_sub_filter(router_index_lookup(index, filtered)), "room == \"lobby\"");
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

/* Match policy and filter are part of the key: each gives its own id. */
Test(router_index, different_match_or_filter_gives_different_ids)
{
    router_index_t *index = router_index_new();
    uint64_t exact = s_add(index, TG_MATCH_EXACT, "a.b", NULL, &edge_a);
    uint64_t prefix = s_add(index, TG_MATCH_PREFIX, "a.b", NULL, &edge_a);
    uint64_t wildcard = s_add(index, TG_MATCH_WILDCARD, "a.b", NULL, &edge_a);
    uint64_t filter1 = s_add(index, TG_MATCH_EXACT, "a.b", "x == 1", &edge_a);
    uint64_t filter2 = s_add(index, TG_MATCH_EXACT, "a.b", "x == 2", &edge_a);
    uint64_t range = s_add(index, TG_MATCH_EXACT, "a.b", "x > 1", &edge_b);
    cr_expect_neq(exact, prefix);
    cr_expect_neq(exact, wildcard);
    cr_expect_neq(prefix, wildcard);
    cr_expect_neq(exact, filter1);
    cr_expect_neq(filter1, filter2);
    cr_expect_neq(filter2, range);
    cr_expect_eq(router_index_size(index), 6);
    /* Without a body, only the three unfiltered ones match; with x = 2,
       those and the two filters that accept it. */
    cr_expect_eq(s_match(index, "a.b").count, 3);
    seen_t seen = s_match_int(index, "a.b", "x", 2);
    cr_expect_eq(seen.count, 5);
    cr_expect(s_has(&seen, filter2) && s_has(&seen, range) && !s_has(&seen, filter1));
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
    cr_expect_eq(router_sub_edges(sub)[0], &edge_b);
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
    cr_expect_str_eq(router_sub_topic(router_index_lookup(index, first)), "a.one");
    cr_expect_str_eq(router_sub_topic(router_index_lookup(index, second)), "a.two");
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

/* ---- filters ------------------------------------------------------------ */

/* An exact subscription with a filter matches only the events of its topic
   whose body the filter accepts; the unfiltered one matches them all. */
Test(router_index, filtered_exact_subscription_matches_only_accepted_bodies)
{
    router_index_t *index = router_index_new();
    uint64_t all = s_add(index, TG_MATCH_EXACT, "chat.message", NULL, &edge_a);
    uint64_t seven = s_add(index, TG_MATCH_EXACT, "chat.message", "user_id == 7", &edge_a);
    uint64_t eight = s_add(index, TG_MATCH_EXACT, "chat.message", "user_id == 8", &edge_b);
    seen_t seen = s_match_int(index, "chat.message", "user_id", 7);
    cr_expect_eq(seen.count, 2);
    cr_expect(s_has(&seen, all) && s_has(&seen, seven));
    seen = s_match_int(index, "chat.message", "user_id", 9);
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, all));
    seen = s_match_int(index, "chat.other", "user_id", 8);
    cr_expect_eq(seen.count, 0, "another topic");
    seen = s_match_int(index, "chat.message", "room", 8);
    cr_expect_eq(seen.count, 1, "the indexed path is missing: only the unfiltered one");
    cr_expect(!s_has(&seen, eight));
    router_index_destroy(&index);
}

/* Filters under prefix and wildcard subscriptions are evaluated the same
   way, in every entry the topic reaches. */
Test(router_index, filters_apply_under_prefix_and_wildcard_topics)
{
    router_index_t *index = router_index_new();
    uint64_t prefix = s_add(index, TG_MATCH_PREFIX, "shop.", "order_id == 7", &edge_a);
    uint64_t wild = s_add(index, TG_MATCH_WILDCARD, "shop..shipped", "order_id in [6, 7]", &edge_a);
    uint64_t wild_range = s_add(index, TG_MATCH_WILDCARD, "shop..shipped", "order_id > 6", &edge_b);
    s_add(index, TG_MATCH_PREFIX, "shop.", "order_id == 8", &edge_a);
    seen_t seen = s_match_int(index, "shop.order.shipped", "order_id", 7);
    cr_expect_eq(seen.count, 3);
    cr_expect(s_has(&seen, prefix) && s_has(&seen, wild) && s_has(&seen, wild_range));
    seen = s_match_int(index, "shop.order.shipped", "order_id", 6);
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, wild));
    seen = s_match_int(index, "shop.order.paid", "order_id", 7);
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, prefix));
    router_index_destroy(&index);
}

/* Spellings with the same canonical form share one subscription and one
   id, from any edge; the extra copies are freed (LSan would see a leak). */
Test(router_index, equivalent_spellings_share_one_subscription)
{
    router_index_t *index = router_index_new();
    uint64_t a = s_add(index, TG_MATCH_EXACT, "a.b", "x == 1 and y == \"z\"", &edge_a);
    uint64_t b = s_add(index, TG_MATCH_EXACT, "a.b", "(y=='z') and (x==1)", &edge_b);
    uint64_t c = s_add(index, TG_MATCH_EXACT, "a.b", "  x  ==  1  and  y == 'z'", &edge_a);
    cr_expect_eq(a, b);
    cr_expect_eq(a, c);
    cr_expect_eq(router_index_size(index), 1);
    cr_expect_eq(router_index_holders(index), 2);
    router_index_destroy(&index);
}

/* An `in` list is found by each of its values, once per event even when
   two literals are equal values (1 and 1.0). */
Test(router_index, in_list_is_found_by_each_value_once)
{
    router_index_t *index = router_index_new();
    uint64_t id = s_add(index, TG_MATCH_EXACT, "a.b", "x in [1, 1.0, 3, \"q\"]", &edge_a);
    cr_expect_eq(s_match_int(index, "a.b", "x", 1).count, 1);
    seen_t seen = s_match_int(index, "a.b", "x", 3);
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, id));
    cr_expect_eq(s_match_int(index, "a.b", "x", 2).count, 0);
    router_index_destroy(&index);
}

/* A candidate found by its indexed value still has the rest of its filter
   checked; filters without an index path are evaluated on every event. */
Test(router_index, the_whole_filter_decides_and_unindexed_filters_are_evaluated)
{
    router_index_t *index = router_index_new();
    uint64_t both = s_add(index, TG_MATCH_EXACT, "a.b", "x == 1 and not exists(y)", &edge_a);
    uint64_t either = s_add(index, TG_MATCH_EXACT, "a.b", "x == 1 or x == 5", &edge_a);
    uint64_t never = s_add(index, TG_MATCH_EXACT, "a.b", "x in []", &edge_a);
    seen_t seen = s_match_int(index, "a.b", "x", 1);
    cr_expect_eq(seen.count, 2);
    cr_expect(s_has(&seen, both) && s_has(&seen, either) && !s_has(&seen, never));
    seen = s_match_int(index, "a.b", "y", 1);
    cr_expect_eq(seen.count, 0);
    seen = s_match_int(index, "a.b", "x", 5);
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, either));
    router_index_destroy(&index);
}

/* A body that is not valid msgpack passes no filter; unfiltered
   subscriptions still match it (the router does not judge the body). */
Test(router_index, invalid_body_passes_no_filter)
{
    router_index_t *index = router_index_new();
    uint64_t plain = s_add(index, TG_MATCH_EXACT, "a.b", NULL, &edge_a);
    s_add(index, TG_MATCH_EXACT, "a.b", "x == 1", &edge_a);
    s_add(index, TG_MATCH_EXACT, "a.b", "not exists(x)", &edge_a);
    const char truncated[] = "\x82\xa1x\x01\xa1y"; /* a 2-pair map cut short */
    seen_t seen = s_match_body(index, "a.b", truncated, sizeof truncated - 1);
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, plain));
    router_index_destroy(&index);
}

/* Range filters on one path cost what matches: of 1,000 `score > N` and
   1,000 `score <= N`, an event with score 10 evaluates exactly the ranges
   holding 10 (and one `score > N and flag` refused by its other
   predicate), and removing them all gives the memory back. */
Test(router_index, range_filters_evaluate_only_the_ranges_holding_the_value)
{
    router_index_t *index = router_index_new();
    size_t empty = router_index_memory(index);
    uint64_t ids[2001];
    char filter[64];
    for (int n = 0; n < 1000; n++) {
        snprintf(filter, sizeof filter, "score > %d", n);
        ids[n] = s_add(index, TG_MATCH_EXACT, "a.b", filter, &edge_a);
        snprintf(filter, sizeof filter, "%d >= score", n); /* score <= n */
        ids[1000 + n] = s_add(index, TG_MATCH_EXACT, "a.b", filter, &edge_a);
    }
    ids[2000] = s_add(index, TG_MATCH_EXACT, "a.b", "score > 5 and flag", &edge_a);
    body_t body;
    s_body_init(&body, 1);
    s_pack_str(&body, "score");
    msgpack_pack_int64(&body.pk, 10);
    size_t evaluated = 0, matched = 0;
    router_index_match_counted(index, "a.b", 3, body.sbuf.data, body.sbuf.size, s_count, &matched,
                               &evaluated);
    cr_expect_eq(matched, 10 + 990, "matched %zu", matched);           /* > 0..9, <= 10..999 */
    cr_expect_eq(evaluated, 10 + 990 + 1, "evaluated %zu", evaluated); /* + the flag one */
    msgpack_sbuffer_destroy(&body.sbuf);
    for (int i = 0; i <= 2000; i++)
        cr_expect_eq(router_index_remove(index, ids[i], &edge_a), 0);
    cr_expect_eq(router_index_memory(index), empty, "%zu vs %zu", router_index_memory(index),
                 empty);
    router_index_destroy(&index);
}

/* Removing filtered subscriptions of every kind leaves the index as it was
   (memory included: groups, buckets and entries are freed with their last
   subscription), and the remaining ones still match. */
Test(router_index, removal_cleans_every_structure)
{
    router_index_t *index = router_index_new();
    size_t empty = router_index_memory(index);
    uint64_t keep = s_add(index, TG_MATCH_EXACT, "a.b", "x == 2", &edge_c);
    size_t one = router_index_memory(index);
    cr_expect_gt(one, empty);
    const char *filters[] = {
        "x == 1", "x in [1, 2, 3]", "x > 0", "y == 1 and x == 1", "x == 1 and z == 2", NULL};
    const char *topics[] = {"a.b", "a.", ".b"};
    tg_match_t matches[] = {TG_MATCH_EXACT, TG_MATCH_PREFIX, TG_MATCH_WILDCARD};
    uint64_t ids[3 * 6];
    size_t count = 0;
    for (size_t t = 0; t < 3; t++)
        for (size_t f = 0; f < 6; f++)
            ids[count++] = s_add(index, matches[t], topics[t], filters[f], &edge_a);
    cr_expect_eq(router_index_size(index), 1 + count);
    cr_expect_eq(s_match_int(index, "a.b", "x", 1).count, 3 * 4);
    for (size_t i = 0; i < count; i += 2)
        cr_expect_eq(router_index_remove(index, ids[i], &edge_a), 0);
    cr_expect_eq(router_index_remove_edge(index, &edge_a), count / 2);
    cr_expect_eq(router_index_size(index), 1);
    cr_expect_eq(router_index_memory(index), one, "%zu vs %zu", router_index_memory(index), one);
    seen_t seen = s_match_int(index, "a.b", "x", 2);
    cr_expect_eq(seen.count, 1);
    cr_expect(s_has(&seen, keep));
    cr_expect_eq(router_index_remove(index, keep, &edge_c), 0);
    cr_expect_eq(router_index_memory(index), empty, "%zu vs %zu", router_index_memory(index),
                 empty);
    router_index_destroy(&index);
}

/* The memory count grows with each subscription by its struct, its nodes,
   its table slots and its compiled filter. */
Test(router_index, memory_counts_the_filters)
{
    router_index_t *index = router_index_new();
    s_add(index, TG_MATCH_EXACT, "a.b", "x == 0", &edge_a);
    size_t before = router_index_memory(index);
    tg_query_t *probe = s_query("x == 1");
    size_t filter_bytes = tg_query_memory(probe);
    tg_query_destroy(&probe);
    s_add(index, TG_MATCH_EXACT, "a.b", "x == 1", &edge_a);
    size_t added = router_index_memory(index) - before;
    cr_expect_geq(added, filter_bytes + sizeof(router_sub_t) + sizeof(router_vnode_t));
    router_index_destroy(&index);
}

/* A second edge moves the edges out of the struct into an array; going
   back to one edge keeps every edge findable and removable. */
Test(router_index, edges_grow_past_the_inline_one)
{
    router_index_t *index = router_index_new();
    int edges[5];
    uint64_t id = 0;
    for (int i = 0; i < 5; i++)
        id = s_add(index, TG_MATCH_EXACT, "a.b", "x == 1", &edges[i]);
    const router_sub_t *sub = router_index_lookup(index, id);
    cr_assert_eq(sub->edges_count, 5);
    for (int i = 0; i < 5; i++) {
        bool found = false;
        for (int j = 0; j < 5; j++)
            found |= router_sub_edges(sub)[j] == &edges[i];
        cr_expect(found);
    }
    for (int i = 0; i < 4; i++)
        cr_expect_eq(router_index_remove(index, id, &edges[i]), 0);
    cr_expect_eq(router_index_lookup(index, id)->edges_count, 1);
    cr_expect_eq(router_sub_edges(router_index_lookup(index, id))[0], &edges[4]);
    cr_expect_eq(router_index_remove(index, id, &edges[4]), 0);
    cr_expect_eq(router_index_size(index), 0);
    router_index_destroy(&index);
}
