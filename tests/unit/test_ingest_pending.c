/*  ingest_pending: the bounded table of REGISTER requests waiting for the
    router. */
#include <criterion/criterion.h>

#include "ingest_pending.h"

static ingest_pending_t *s_pending;

static void s_setup(void)
{
    s_pending = ingest_pending_new(3);
    cr_assert_not_null(s_pending);
}

static void s_teardown(void)
{
    ingest_pending_destroy(&s_pending);
    ingest_pending_destroy(&s_pending); //  safe twice
}

TestSuite(ingest_pending, .init = s_setup, .fini = s_teardown);

typedef struct {
    int calls;
    uint64_t client_req;
    uint64_t pub_id;
    char routing_id[32];
    char name[32];
} s_seen_t;

static void s_record(const ingest_pending_entry_t *entry, void *arg)
{
    s_seen_t *seen = arg;
    seen->calls++;
    seen->client_req = entry->client_req;
    seen->pub_id = entry->pub_id;
    snprintf(seen->name, sizeof(seen->name), "%s", entry->name);
    if (entry->routing_id)
        snprintf(seen->routing_id, sizeof(seen->routing_id), "%.*s",
                 (int)zframe_size(entry->routing_id), (char *)zframe_data(entry->routing_id));
}

/* Taking an entry hands back whom to answer, once. */
Test(ingest_pending, take_returns_the_client_once)
{
    zframe_t *id = zframe_new("ctl-1", 5);
    cr_assert_eq(ingest_pending_add(s_pending, 10, id, 77, "a.b", 4242, 1000), 0);
    zframe_destroy(&id);
    s_seen_t seen = {0};
    cr_expect_eq(ingest_pending_take(s_pending, 10, s_record, &seen), 0);
    cr_expect_eq(seen.calls, 1);
    cr_expect_eq(seen.client_req, 77u);
    cr_expect_str_eq(seen.routing_id, "ctl-1");
    cr_expect_str_eq(seen.name, "a.b");
    cr_expect_eq(seen.pub_id, 4242u);
    cr_expect_eq(ingest_pending_take(s_pending, 10, s_record, &seen), -1);
    cr_expect_eq(seen.calls, 1);
}

/* The table holds at most its bound; a full table refuses, a freed slot
   can be reused. */
Test(ingest_pending, full_table_refuses_new_entries)
{
    for (uint64_t req = 1; req <= 3; req++)
        cr_assert_eq(ingest_pending_add(s_pending, req, NULL, req, "t", 0, 1000), 0);
    cr_expect_eq(ingest_pending_add(s_pending, 4, NULL, 4, "t", 0, 1000), -1);
    cr_expect_eq(ingest_pending_size(s_pending), 3u);
    cr_expect_eq(ingest_pending_take(s_pending, 2, NULL, NULL), 0);
    cr_expect_eq(ingest_pending_add(s_pending, 4, NULL, 4, "t", 0, 1000), 0);
}

/* The same request id cannot wait twice. */
Test(ingest_pending, duplicate_request_id_is_refused)
{
    cr_assert_eq(ingest_pending_add(s_pending, 5, NULL, 1, "t", 0, 1000), 0);
    cr_expect_eq(ingest_pending_add(s_pending, 5, NULL, 2, "t", 0, 1000), -1);
}

/* Expiry removes exactly the entries whose deadline passed, and reports
   each of them. */
Test(ingest_pending, expire_removes_only_entries_past_their_deadline)
{
    cr_assert_eq(ingest_pending_add(s_pending, 1, NULL, 11, "t", 0, 100), 0);
    cr_assert_eq(ingest_pending_add(s_pending, 2, NULL, 12, "t", 0, 300), 0);
    cr_assert_eq(ingest_pending_add(s_pending, 3, NULL, 13, "t", 0, 200), 0);
    s_seen_t seen = {0};
    cr_expect_eq(ingest_pending_expire(s_pending, 200, s_record, &seen), 2u);
    cr_expect_eq(seen.calls, 2);
    cr_expect_eq(ingest_pending_size(s_pending), 1u);
    cr_expect_eq(ingest_pending_take(s_pending, 2, NULL, NULL), 0);
}

/* Deadlines are plain clock values: on a freshly booted machine (a small
   monotonic clock) a deadline of 0 or below is a real one, not "unset". */
Test(ingest_pending, deadlines_at_or_below_zero_expire_like_any_other)
{
    cr_assert_eq(ingest_pending_add(s_pending, 1, NULL, 11, "t", 0, -20), 0);
    cr_assert_eq(ingest_pending_add(s_pending, 2, NULL, 12, "t", 0, 0), 0);
    cr_assert_eq(ingest_pending_add(s_pending, 3, NULL, 13, "t", 0, 5), 0);
    cr_expect_eq(ingest_pending_expire(s_pending, -21, NULL, NULL), 0u);
    cr_expect_eq(ingest_pending_expire(s_pending, -20, NULL, NULL), 1u);
    cr_expect_eq(ingest_pending_expire(s_pending, 0, NULL, NULL), 1u);
    cr_expect_eq(ingest_pending_size(s_pending), 1u);
}
