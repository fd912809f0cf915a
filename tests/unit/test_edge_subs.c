/*  The local subscription table (edge_subs): keys, states, request and id
    indexes, and the two-way membership arrays. */
#include <criterion/criterion.h>
#include <string.h>

#include "edge_session.h"
#include "edge_subs.h"

static edge_subs_t *subs;
/* Sessions are only pointers to the table; their refs are real. */
static edge_session_t sessions[4];

static void setup(void)
{
    subs = edge_subs_new();
    cr_assert_not_null(subs);
    memset(sessions, 0, sizeof(sessions));
}

static void teardown(void)
{
    for (int i = 0; i < 4; i++)
        edge_subs_leave_all(subs, &sessions[i].subs, NULL, NULL);
    edge_subs_destroy(&subs);
    edge_subs_destroy(&subs); /* safe twice */
}

TestSuite(edge_subs, .init = setup, .fini = teardown);

static edge_sub_t *s_live(tg_match_t match, const char *topic, const char *filter, uint64_t id)
{
    edge_sub_t *sub = edge_subs_insert(subs, match, topic, filter, 0);
    cr_assert_eq(edge_subs_set_live(subs, sub, id), 0);
    return sub;
}

/* Checks that both sides of every membership point at each other. */
static void s_check_consistent(void)
{
    for (int i = 0; i < 4; i++) {
        edge_sub_refs_t *refs = &sessions[i].subs;
        for (uint32_t r = 0; r < refs->count; r++) {
            size_t count = 0;
            const edge_sub_member_t *members = edge_sub_members(refs->items[r].sub, &count);
            cr_assert_lt(refs->items[r].member, count);
            const edge_sub_member_t *member = &members[refs->items[r].member];
            cr_assert_eq(member->session, &sessions[i]);
            cr_assert_eq(member->refs, refs);
            cr_assert_eq(member->ref, r);
        }
    }
}

/* A key is (match, topic, filter): each part distinguishes. */
Test(edge_subs, lookup_distinguishes_match_topic_and_filter)
{
    edge_sub_t *exact = edge_subs_insert(subs, TG_MATCH_EXACT, "a.b", NULL, 0);
    edge_sub_t *prefix = edge_subs_insert(subs, TG_MATCH_PREFIX, "a.b", NULL, 0);
    edge_sub_t *filtered = edge_subs_insert(subs, TG_MATCH_EXACT, "a.b", "x == 1", 0);
    cr_assert_eq(edge_subs_lookup(subs, TG_MATCH_EXACT, "a.b", NULL), exact);
    cr_assert_eq(edge_subs_lookup(subs, TG_MATCH_PREFIX, "a.b", NULL), prefix);
    cr_assert_eq(edge_subs_lookup(subs, TG_MATCH_EXACT, "a.b", "x == 1"), filtered);
    cr_assert_null(edge_subs_lookup(subs, TG_MATCH_WILDCARD, "a.b", NULL));
    cr_assert_eq(edge_subs_count(subs), 3);
}

/* An empty filter is no filter (tg_subkey: the router derives one id for
   both), and is stored as none, so no SUBSCRIBE carries an empty filter. */
Test(edge_subs, empty_filter_is_the_key_without_a_filter)
{
    edge_sub_t *empty_filter = edge_subs_insert(subs, TG_MATCH_EXACT, "a.b", "", 0);
    cr_assert_eq(edge_subs_lookup(subs, TG_MATCH_EXACT, "a.b", NULL), empty_filter);
    cr_assert_eq(edge_subs_lookup(subs, TG_MATCH_EXACT, "a.b", ""), empty_filter);
    cr_assert_null(edge_sub_filter(empty_filter));
    cr_assert_eq(edge_subs_count(subs), 1);
}

/* Topic and filter cannot run into each other ("ab"+none vs "a"+"b"). */
Test(edge_subs, topic_and_filter_boundaries_do_not_collide)
{
    edge_sub_t *one = edge_subs_insert(subs, TG_MATCH_EXACT, "ab", NULL, 0);
    cr_assert_null(edge_subs_lookup(subs, TG_MATCH_EXACT, "a", "b"));
    edge_sub_t *two = edge_subs_insert(subs, TG_MATCH_EXACT, "a", "b", 0);
    cr_assert_neq(one, two);
}

/* A new entry is PENDING and not found by id until it goes LIVE. */
Test(edge_subs, entries_are_found_by_id_only_once_live)
{
    edge_sub_t *sub = edge_subs_insert(subs, TG_MATCH_PREFIX, "demo", NULL, 0);
    cr_assert_eq(edge_sub_state(sub), EDGE_SUB_PENDING);
    cr_assert_null(edge_subs_find_id(subs, 5));
    cr_assert_eq(edge_subs_set_live(subs, sub, 5), 0);
    cr_assert_eq(edge_sub_state(sub), EDGE_SUB_LIVE);
    cr_assert_eq(edge_subs_find_id(subs, 5), sub);
    cr_assert_eq(edge_subs_live_count(subs), 1);
}

/* Two keys never share an id. */
Test(edge_subs, set_live_refuses_an_id_held_by_another_entry)
{
    edge_sub_t *a = s_live(TG_MATCH_PREFIX, "a", NULL, 9);
    edge_sub_t *b = edge_subs_insert(subs, TG_MATCH_PREFIX, "b", NULL, 0);
    cr_assert_eq(edge_subs_set_live(subs, b, 9), -1);
    cr_assert_eq(edge_sub_state(b), EDGE_SUB_PENDING);
    cr_assert_eq(edge_subs_find_id(subs, 9), a);
}

/* A request id finds its entry; a newer request replaces the older one. */
Test(edge_subs, newer_request_replaces_the_older_one)
{
    edge_sub_t *sub = edge_subs_insert(subs, TG_MATCH_EXACT, "x", NULL, 0);
    edge_subs_set_request(subs, sub, 3);
    cr_assert_eq(edge_subs_find_req(subs, 3), sub);
    edge_subs_set_request(subs, sub, 4);
    cr_assert_null(edge_subs_find_req(subs, 3));
    cr_assert_eq(edge_subs_find_req(subs, 4), sub);
    edge_subs_remove(subs, sub);
    cr_assert_null(edge_subs_find_req(subs, 4));
}

/* Joining twice is one membership. */
Test(edge_subs, join_is_idempotent)
{
    edge_sub_t *sub = s_live(TG_MATCH_EXACT, "x", NULL, 1);
    cr_assert_eq(edge_subs_join(subs, sub, &sessions[0], &sessions[0].subs), 0);
    cr_assert_eq(edge_subs_join(subs, sub, &sessions[0], &sessions[0].subs), 1);
    size_t count = 0;
    edge_sub_members(sub, &count);
    cr_assert_eq(count, 1);
    cr_assert_eq(edge_subs_member_total(subs), 1);
    cr_assert(edge_subs_refs_has(&sessions[0].subs, 1));
}

/* Leaving from the middle of both arrays keeps every back-pointer right. */
Test(edge_subs, leaving_keeps_both_sides_consistent)
{
    edge_sub_t *all[3] = {s_live(TG_MATCH_EXACT, "x", NULL, 1),
                          s_live(TG_MATCH_EXACT, "y", NULL, 2),
                          s_live(TG_MATCH_EXACT, "z", NULL, 3)};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            edge_subs_join(subs, all[j], &sessions[i], &sessions[i].subs);
    cr_assert_eq(edge_subs_member_total(subs), 12);
    cr_assert_eq(edge_subs_leave(subs, &sessions[1].subs, 2), all[1]);
    cr_assert_eq(edge_subs_leave(subs, &sessions[0].subs, 1), all[0]);
    cr_assert_null(edge_subs_leave(subs, &sessions[0].subs, 1));
    s_check_consistent();
    edge_subs_leave_all(subs, &sessions[2].subs, NULL, NULL);
    s_check_consistent();
    cr_assert_eq(edge_subs_member_total(subs), 7);
    size_t count = 0;
    edge_sub_members(all[1], &count);
    cr_assert_eq(count, 2);
}

static int s_left_calls;
static void s_count_left(edge_sub_t *sub, void *arg)
{
    (void)arg;
    cr_assert(edge_sub_unused(sub));
    s_left_calls++;
}

/* leave_all reports each entry left, after the session is gone from it. */
Test(edge_subs, leave_all_reports_every_entry_left)
{
    s_left_calls = 0;
    edge_subs_join(subs, s_live(TG_MATCH_EXACT, "x", NULL, 1), &sessions[0], &sessions[0].subs);
    edge_subs_join(subs, s_live(TG_MATCH_EXACT, "y", NULL, 2), &sessions[0], &sessions[0].subs);
    edge_subs_leave_all(subs, &sessions[0].subs, s_count_left, NULL);
    cr_assert_eq(s_left_calls, 2);
    cr_assert_eq(sessions[0].subs.count, 0);
    cr_assert_null(sessions[0].subs.items);
}

static void s_remove(edge_sub_t *sub, void *arg)
{
    edge_subs_remove((edge_subs_t *)arg, sub);
}

/* Only PENDING entries past their deadline expire (and LIVE ones with
   waiters, below), and the callback may remove them. */
Test(edge_subs, expire_reports_pending_entries_past_deadline)
{
    edge_subs_insert(subs, TG_MATCH_EXACT, "old", NULL, 100);
    edge_subs_insert(subs, TG_MATCH_EXACT, "new", NULL, 5000);
    edge_sub_t *live = edge_subs_insert(subs, TG_MATCH_EXACT, "live", NULL, 100);
    edge_subs_set_live(subs, live, 8);
    cr_assert_eq(edge_subs_expire(subs, 1000, s_remove, subs), 1);
    cr_assert_null(edge_subs_lookup(subs, TG_MATCH_EXACT, "old", NULL));
    cr_assert_not_null(edge_subs_lookup(subs, TG_MATCH_EXACT, "new", NULL));
    cr_assert_eq(edge_subs_count(subs), 2);
}

/* A LIVE entry with waiters (newcomers to a key being resynced) expires
   like a pending one, so that its waiters are answered. */
Test(edge_subs, expire_reports_live_entries_with_waiters_past_deadline)
{
    edge_sub_t *live = s_live(TG_MATCH_EXACT, "live", NULL, 8);
    edge_subs_add_waiter(live, &sessions[0], 1);
    edge_subs_set_deadline(live, 100);
    cr_assert_eq(edge_subs_expire(subs, 99, s_remove, subs), 0);
    cr_assert_eq(edge_subs_expire(subs, 100, s_remove, subs), 1);
    cr_assert_eq(edge_subs_count(subs), 0);
    live = s_live(TG_MATCH_EXACT, "live", NULL, 8); /* no waiters: never expires */
    edge_subs_set_deadline(live, 100);
    cr_assert_eq(edge_subs_expire(subs, 1000, s_remove, subs), 0);
}

/* Resyncing LIVE entries are counted while marked; the mark is
   idempotent, and removing a marked entry uncounts it. */
Test(edge_subs, resyncing_entries_are_counted_until_cleared_or_removed)
{
    edge_sub_t *a = s_live(TG_MATCH_EXACT, "a", NULL, 1);
    edge_sub_t *b = s_live(TG_MATCH_PREFIX, "b", NULL, 2);
    edge_subs_set_resyncing(subs, a, true);
    edge_subs_set_resyncing(subs, a, true);
    edge_subs_set_resyncing(subs, b, true);
    cr_assert_eq(edge_subs_resyncing_count(subs), 2);
    cr_assert(edge_sub_resyncing(a));
    edge_subs_set_resyncing(subs, a, false);
    cr_assert_not(edge_sub_resyncing(a));
    cr_assert_eq(edge_subs_resyncing_count(subs), 1);
    edge_subs_remove(subs, b);
    cr_assert_eq(edge_subs_resyncing_count(subs), 0);
    cr_assert_eq(edge_subs_live_count(subs), 1);
}

/* Removing a session's waiters leaves the others' alone. */
Test(edge_subs, removing_waiters_of_a_session_keeps_the_others)
{
    edge_sub_t *sub = edge_subs_insert(subs, TG_MATCH_EXACT, "x", NULL, 0);
    edge_subs_add_waiter(sub, &sessions[0], 1);
    edge_subs_add_waiter(sub, &sessions[1], 2);
    edge_subs_add_waiter(sub, &sessions[0], 3);
    cr_assert_eq(edge_subs_remove_waiters_of(subs, &sessions[0]), 2);
    size_t count = 0;
    const edge_sub_waiter_t *waiters = edge_sub_waiters(sub, &count);
    cr_assert_eq(count, 1);
    cr_assert_eq(waiters[0].session, &sessions[1]);
    cr_assert_eq(waiters[0].request, 2);
    cr_assert_not(edge_sub_unused(sub));
}
