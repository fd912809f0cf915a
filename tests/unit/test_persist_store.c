/*  persist_store: the batched store on a real PostgreSQL, each test on a
    database of its own (test_persist_harness.h), checked with SQL from a
    second connection. */
#include "test_persist_harness.h"

#include "persist_store.h"

static th_db_t s_db;
static persist_db_t *s_pdb;
static persist_store_t *s_store;
static PGconn *s_check; //  the test's own connection, for SQL checks

static void s_open(const persist_store_config_t *config)
{
    char error[256];
    s_pdb = persist_db_new(s_db.conninfo, NULL, error, sizeof(error));
    cr_assert_not_null(s_pdb, "%s", error);
    s_store = persist_store_new(s_pdb, config);
    cr_assert(th_run(s_pdb, th_is_ready, s_pdb, TH_DEADLINE_MS), "not ready: %s",
              persist_db_error(s_pdb));
}

static void s_setup(void)
{
    th_db_create(&s_db);
    s_open(NULL);
    s_check = th_connect(s_db.conninfo);
}

static void s_teardown(void)
{
    persist_store_destroy(&s_store);
    persist_store_destroy(&s_store); //  safe twice
    persist_db_destroy(&s_pdb);
    if (s_check)
        PQfinish(s_check);
    s_check = NULL;
    th_db_drop(&s_db);
}

TestSuite(persist_store, .init = s_setup, .fini = s_teardown, .timeout = 90);

//  Reopens the store with another configuration.
static void s_reopen(const persist_store_config_t *config)
{
    persist_store_destroy(&s_store);
    persist_db_destroy(&s_pdb);
    s_open(config);
}

/* --- answers --- */

#define S_ROWS_MAX 64

typedef struct {
    int calls;                   /* must end as 1 */
    int status;                  /* the result's */
    char error[256];             /* its error text */
    uint64_t count;              /* its count */
    uint64_t ignored;            /* its ignored */
    uint64_t remaining;          /* its remaining */
    bool more;                   /* its more */
    size_t size;                 /* rows */
    uint64_t ids[S_ROWS_MAX];    /* pub_ids of event rows */
    char bodies[S_ROWS_MAX][32]; /* bodies of event rows (text here) */
    char names[S_ROWS_MAX][48];  /* type names / jtis / client ids */
    int64_t keys[S_ROWS_MAX];    /* subscription keys */
    persist_store_gap_t gap;     /* gap_* */
    long long visible;           /* s_check_visible: rows seen from another session */
    const char *visible_sql;     /* the SQL run in the callback, if any */
} s_answer_t;

static void s_done(const persist_store_result_t *result, void *arg)
{
    s_answer_t *answer = arg;
    answer->calls++;
    answer->status = result->status;
    snprintf(answer->error, sizeof(answer->error), "%s", result->error ? result->error : "");
    answer->count = result->count;
    answer->ignored = result->ignored;
    answer->remaining = result->remaining;
    answer->more = result->more;
    answer->size = result->size;
    answer->gap = result->gap;
    for (size_t i = 0; i < result->size && i < S_ROWS_MAX; i++) {
        if (result->events) {
            answer->ids[i] = result->events[i].pub_id;
            snprintf(answer->bodies[i], sizeof(answer->bodies[i]), "%.*s",
                     (int)result->events[i].body_size, (const char *)result->events[i].body);
        }
        if (result->types)
            snprintf(answer->names[i], sizeof(answer->names[i]), "%s", result->types[i].name);
        if (result->tokens)
            snprintf(answer->names[i], sizeof(answer->names[i]), "%s", result->tokens[i].jti);
        if (result->subscriptions) {
            snprintf(answer->names[i], sizeof(answer->names[i]), "%s",
                     result->subscriptions[i].client_id);
            answer->keys[i] = result->subscriptions[i].key;
        }
    }
    //  What another session sees at the moment of the callback.
    if (answer->visible_sql)
        answer->visible = th_sql_int(s_check, answer->visible_sql);
}

typedef struct {
    s_answer_t *answers;
    size_t count;
} s_all_t;

static bool s_all_answered(void *arg)
{
    s_all_t *all = arg;
    for (size_t i = 0; i < all->count; i++)
        if (all->answers[i].calls == 0)
            return false;
    return true;
}

//  Sends what is queued and drives the loop until every answer came.
static void s_wait(s_answer_t *answers, size_t count)
{
    persist_store_flush(s_store, th_now_ms());
    s_all_t all = {answers, count};
    cr_assert(th_run(s_pdb, s_all_answered, &all, TH_DEADLINE_MS), "answers missing");
    for (size_t i = 0; i < count; i++)
        cr_assert_eq(answers[i].calls, 1, "answer %zu came %d times", i, answers[i].calls);
}

static void s_wait_ok(s_answer_t *answer)
{
    s_wait(answer, 1);
    cr_assert_eq(answer->status, 0, "failed: %s", answer->error);
}

/* --- operations --- */

//  An event of `topic`: body "body-<id>", header "h".
static int s_event(uint64_t pub_id, const char *topic, int64_t expires_at_us, bool guaranteed,
                   const uint64_t *sub_ids, size_t sub_count, s_answer_t *answer)
{
    char body[32];
    snprintf(body, sizeof(body), "body-%llu", (unsigned long long)pub_id);
    persist_store_event_t event = {.pub_id = pub_id,
                                   .ts_us = (int64_t)pub_id * 10,
                                   .topic = topic,
                                   .expires_at_us = expires_at_us,
                                   .guaranteed = guaranteed,
                                   .header = (const uint8_t *)"h",
                                   .header_size = 1,
                                   .body = (const uint8_t *)body,
                                   .body_size = strlen(body),
                                   .sub_ids = sub_ids,
                                   .sub_id_count = sub_count};
    return persist_store_event(s_store, &event, s_done, answer);
}

static void s_subscribe(const char *client, uint64_t sub_id, const char *topic)
{
    s_answer_t answer = {0};
    cr_assert_eq(persist_store_subscription_upsert(s_store, client, sub_id, topic, "exact", "",
                                                   1000, s_done, &answer),
                 0);
    s_wait_ok(&answer);
}

//  Stores guaranteed events `ids` of "t.g" for sub_id 7, committed.
static void s_store_guaranteed(const uint64_t *ids, size_t count)
{
    static const uint64_t sub = 7;
    s_answer_t answers[64] = {{0}};
    cr_assert_leq(count, 64);
    for (size_t i = 0; i < count; i++)
        cr_assert_eq(s_event(ids[i], "t.g", 0, true, &sub, 1, &answers[i]), 0);
    s_wait(answers, count);
    for (size_t i = 0; i < count; i++)
        cr_assert_eq(answers[i].status, 0, "%s", answers[i].error);
}

static long long s_deliveries(const char *client)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM telegraphy_deliveries d JOIN telegraphy_subscriptions s "
             "USING (sub_key) WHERE s.client_id = '%s'",
             client);
    return th_sql_int(s_check, sql);
}

/* --- tests --- */

// A stored event is reported only after COMMIT: at the moment its callback
// runs, another session already sees the row; and nothing is answered
// before the loop has run.
Test(persist_store, completion_comes_after_commit_and_the_row_is_visible)
{
    s_answer_t answer = {.visible_sql = "SELECT count(*) FROM telegraphy_events WHERE pub_id = 5"};
    cr_assert_eq(s_event(5, "t.r", 9000000000000000, false, NULL, 0, &answer), 0);
    cr_assert_eq(answer.calls, 0);
    s_wait_ok(&answer);
    cr_assert_eq(answer.visible, 1);
}

// While the INSERT waits on a lock, no completion comes; once the lock goes
// the COMMIT returns, and only then the callback.
Test(persist_store, no_completion_while_the_transaction_is_blocked)
{
    th_sql(s_check, "BEGIN");
    th_sql(s_check, "LOCK TABLE telegraphy_events IN SHARE MODE");
    s_answer_t answer = {0};
    cr_assert_eq(s_event(6, "t.r", 9000000000000000, false, NULL, 0, &answer), 0);
    persist_store_flush(s_store, th_now_ms());
    PGconn *watch = th_connect(s_db.conninfo);
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock'",
             persist_db_backend_pid(s_pdb));
    cr_assert(th_wait_sql(watch, sql, 1, TH_DEADLINE_MS), "the insert never waited");
    s_all_t all = {&answer, 1};
    th_run(s_pdb, s_all_answered, &all, 200); //  a bounded look while it must wait
    cr_assert_eq(answer.calls, 0, "answered while the transaction was blocked");
    th_sql(s_check, "COMMIT");
    s_wait_ok(&answer);
    cr_assert_eq(th_sql_int(watch, "SELECT count(*) FROM telegraphy_events WHERE pub_id = 6"), 1);
    PQfinish(watch);
}

// Group commit: everything enqueued while a batch is in flight goes into
// the next transaction: 1 + 50 operations make 2 batches.
Test(persist_store, operations_queued_during_a_batch_commit_together_in_the_next)
{
    s_answer_t answers[51] = {{0}};
    cr_assert_eq(s_event(1, "t.r", 9000000000000000, false, NULL, 0, &answers[0]), 0);
    persist_store_flush(s_store, th_now_ms());
    persist_store_stats_t stats;
    persist_store_stats(s_store, &stats);
    cr_assert(stats.in_flight);
    for (int i = 1; i <= 50; i++)
        cr_assert_eq(s_event((uint64_t)i + 1, "t.r", 9000000000000000, false, NULL, 0, &answers[i]),
                     0);
    persist_store_flush(s_store, th_now_ms()); //  no-op: one batch in flight at most
    s_wait(answers, 51);
    for (int i = 0; i < 51; i++)
        cr_assert_eq(answers[i].status, 0, "%s", answers[i].error);
    persist_store_stats(s_store, &stats);
    cr_assert_eq(stats.batches, 2);
    cr_assert_eq(stats.max_batch_size, 50);
    cr_assert_eq(stats.events_stored, 51);
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_events"), 51);
}

// The queue is bounded: past queue_max an enqueue fails at once (no
// callback ever), counted; what was queued is stored.
Test(persist_store, a_full_queue_refuses_at_once)
{
    s_reopen(&(persist_store_config_t){.queue_max = 3});
    s_answer_t answers[4] = {{0}};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s_event((uint64_t)i + 1, "t.r", 9000000000000000, false, NULL, 0, &answers[i]),
                     0);
    cr_assert_eq(s_event(4, "t.r", 9000000000000000, false, NULL, 0, &answers[3]), -1);
    persist_store_stats_t stats;
    persist_store_stats(s_store, &stats);
    cr_assert_eq(stats.rejected_full, 1);
    s_wait(answers, 3);
    cr_assert_eq(answers[3].calls, 0);
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_events"), 3);
}

// A guaranteed event gets one delivery row per client holding the matching
// subscription; an ack removes exactly the acked rows of that client.
Test(persist_store, ack_removes_the_acked_rows_of_that_client_only)
{
    s_subscribe("alice", 7, "t.g");
    s_subscribe("bob", 7, "t.g");
    s_subscribe("carol", 8, "t.other");
    uint64_t ids[] = {10, 20, 30, 40, 50};
    s_store_guaranteed(ids, 5);
    cr_assert_eq(s_deliveries("alice"), 5);
    cr_assert_eq(s_deliveries("bob"), 5);
    cr_assert_eq(s_deliveries("carol"), 0);

    s_answer_t answer = {0};
    uint64_t acked[] = {10, 30};
    cr_assert_eq(persist_store_ack(s_store, "alice", 7, acked, 2, s_done, &answer), 0);
    s_wait_ok(&answer);
    cr_assert_eq(answer.count, 2);
    cr_assert_eq(answer.ignored, 0);
    cr_assert_eq(s_deliveries("alice"), 3);
    cr_assert_eq(s_deliveries("bob"), 5);
    cr_assert_eq(th_sql_int(s_check, "SELECT backlog FROM telegraphy_subscriptions WHERE client_id "
                                     "= 'alice'"),
                 3);
    //  Events still owed to bob stay.
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_events"), 5);
}

// Acks for ids never delivered to that client/subscription (already acked,
// never stored, another client's, an unknown subscription) are ignored and
// counted; nothing else is touched.
Test(persist_store, ack_of_unknown_ids_is_ignored_and_counted)
{
    s_subscribe("alice", 7, "t.g");
    s_subscribe("bob", 7, "t.g");
    uint64_t ids[] = {10, 20};
    s_store_guaranteed(ids, 2);
    s_answer_t first = {0}, second = {0}, third = {0};
    uint64_t acked[] = {10, 10, 99};
    persist_store_ack(s_store, "alice", 7, acked, 3, s_done, &first);
    uint64_t again[] = {10};
    persist_store_ack(s_store, "alice", 7, again, 1, s_done, &second);
    uint64_t foreign[] = {20};
    persist_store_ack(s_store, "mallory", 7, foreign, 1, s_done, &third);
    s_wait(&first, 1);
    s_wait(&second, 1);
    s_wait(&third, 1);
    cr_assert_eq(first.count, 1);
    cr_assert_eq(first.ignored, 2);
    cr_assert_eq(second.count, 0);
    cr_assert_eq(second.ignored, 1);
    cr_assert_eq(third.count, 0);
    cr_assert_eq(third.ignored, 1);
    persist_store_stats_t stats;
    persist_store_stats(s_store, &stats);
    cr_assert_eq(stats.acks_removed, 1);
    cr_assert_eq(stats.acks_ignored, 4);
    cr_assert_eq(s_deliveries("alice"), 1);
    cr_assert_eq(s_deliveries("bob"), 2);
}

// A cumulative ack removes every row up to the id; an event without ttl
// that nobody is owed any more leaves with its last delivery row.
Test(persist_store, ack_upto_removes_up_to_the_id_and_unowed_events)
{
    s_subscribe("alice", 7, "t.g");
    uint64_t ids[] = {10, 20, 30};
    s_store_guaranteed(ids, 3);
    s_answer_t answer = {0};
    cr_assert_eq(persist_store_ack_upto(s_store, "alice", 7, 20, s_done, &answer), 0);
    s_wait_ok(&answer);
    cr_assert_eq(answer.count, 2);
    cr_assert_eq(s_deliveries("alice"), 1);
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_events"), 1);
}

// A backlog page lists the events owed after a position, in pub_id order,
// with their bytes; paging with the last id walks the whole backlog.
Test(persist_store, backlog_pages_in_publication_order)
{
    s_subscribe("alice", 7, "t.g");
    uint64_t ids[] = {90, 10, 50, 30, 70, 20, 40, 60, 80, 100}; //  enqueued out of order
    s_store_guaranteed(ids, 10);
    uint64_t after = 0;
    uint64_t seen[10];
    size_t total = 0;
    for (int page = 0; page < 4; page++) {
        s_answer_t answer = {0};
        cr_assert_eq(persist_store_backlog_page(s_store, "alice", 7, after, 4, 1, s_done, &answer),
                     0);
        s_wait_ok(&answer);
        for (size_t i = 0; i < answer.size; i++) {
            seen[total++] = answer.ids[i];
            char body[32];
            snprintf(body, sizeof(body), "body-%llu", (unsigned long long)answer.ids[i]);
            cr_assert_str_eq(answer.bodies[i], body);
        }
        cr_assert_eq(answer.more, answer.size == 4);
        if (!answer.more)
            break;
        after = answer.ids[answer.size - 1];
    }
    cr_assert_eq(total, 10);
    for (size_t i = 0; i < total; i++)
        cr_assert_eq(seen[i], (uint64_t)(i + 1) * 10);
}

// At the backlog bound the oldest rows of that subscription go, its
// dropped_upto rises to the highest dropped id, and resuming from before it
// is a gap whose `oldest` is the oldest row still held.
Test(persist_store, backlog_max_drops_the_oldest_and_makes_a_gap)
{
    s_reopen(&(persist_store_config_t){.backlog_max = 3});
    s_subscribe("alice", 7, "t.g");
    uint64_t ids[] = {10, 20, 30, 40, 50};
    s_store_guaranteed(ids, 5);
    cr_assert_eq(s_deliveries("alice"), 3);
    cr_assert_eq(th_sql_int(s_check, "SELECT min(pub_id) FROM telegraphy_deliveries"), 30);
    cr_assert_eq(th_sql_int(s_check, "SELECT dropped_upto FROM telegraphy_subscriptions"), 20);
    persist_store_stats_t stats;
    persist_store_stats(s_store, &stats);
    cr_assert_eq(stats.overflow_dropped, 2);

    s_answer_t gap = {0}, fine = {0};
    persist_store_gap_subscription(s_store, "alice", 7, 0, 1, s_done, &gap);
    persist_store_gap_subscription(s_store, "alice", 7, 20, 1, s_done, &fine);
    s_wait(&gap, 1);
    s_wait(&fine, 1);
    cr_assert(gap.gap.found);
    cr_assert(gap.gap.gap);
    cr_assert(gap.gap.has_oldest);
    cr_assert_eq(gap.gap.oldest, 30);
    cr_assert_eq(gap.gap.dropped_upto, 20);
    cr_assert_not(fine.gap.gap);
}

//  One resume of alice's subscription 7 from `after`: its gap answer.
static persist_store_gap_t s_gap_after(uint64_t after)
{
    s_answer_t answer = {0};
    cr_assert_eq(persist_store_gap_subscription(s_store, "alice", 7, after, 1, s_done, &answer), 0);
    s_wait_ok(&answer);
    cr_assert(answer.gap.found);
    return answer.gap;
}

// A drop is reported until the client acknowledges it: once a resume from
// at or after dropped_upto (the client's `oldest - 1` after the gap) has
// been answered, resumes from the start (a new page with no position) are
// no gap for that drop; a later drop is a gap again, and a position below
// it too.
Test(persist_store, an_acknowledged_drop_is_no_gap_for_later_resumes)
{
    s_reopen(&(persist_store_config_t){.backlog_max = 3});
    s_subscribe("alice", 7, "t.g");
    s_store_guaranteed((uint64_t[]){10, 20, 30, 40, 50}, 5);
    persist_store_gap_t gap = s_gap_after(0);
    cr_assert(gap.gap);
    cr_assert_eq(gap.oldest, 30);
    cr_assert_eq(th_sql_int(s_check, "SELECT gap_acked_upto FROM telegraphy_subscriptions"), 0,
                 "reporting a gap with rows held acknowledges nothing");
    cr_assert_not(s_gap_after(29).gap);
    cr_assert_eq(th_sql_int(s_check, "SELECT gap_acked_upto FROM telegraphy_subscriptions"), 20);
    cr_assert_not(s_gap_after(0).gap, "the drop up to 20 was acknowledged");
    cr_assert_not(s_gap_after(0).gap);

    s_store_guaranteed((uint64_t[]){60, 70}, 2); /* 30 and 40 dropped */
    gap = s_gap_after(0);
    cr_assert(gap.gap, "a new drop is reported");
    cr_assert_eq(gap.oldest, 50);
    cr_assert_eq(gap.dropped_upto, 40);
    cr_assert(s_gap_after(29).gap, "29 is below the new drop");
    cr_assert_not(s_gap_after(49).gap);
    cr_assert_not(s_gap_after(0).gap);
}

// With nothing held the client can only go on from the start (the gap's
// oldest is null: DESIGN re-subscribes without `_since`): the gap is
// reported once, and the resume from the start that follows is served.
Test(persist_store, a_gap_with_nothing_held_is_reported_once)
{
    s_reopen(&(persist_store_config_t){.backlog_max = 3});
    s_subscribe("alice", 7, "t.g");
    s_store_guaranteed((uint64_t[]){10, 20, 30, 40, 50}, 5);
    s_answer_t acked = {0};
    cr_assert_eq(persist_store_ack_upto(s_store, "alice", 7, 50, s_done, &acked), 0);
    s_wait_ok(&acked);
    cr_assert_eq(s_deliveries("alice"), 0);
    persist_store_gap_t gap = s_gap_after(0);
    cr_assert(gap.gap);
    cr_assert_not(gap.has_oldest);
    cr_assert_not(s_gap_after(0).gap);
}

// Expiry removes events past their ttl and their delivery rows, raises the
// topic's dropped_upto (a `_since` below it is a gap) and the owed
// subscription's; unexpired rows stay.
Test(persist_store, expiry_removes_rows_and_raises_dropped_upto)
{
    s_subscribe("alice", 7, "t.g");
    static const uint64_t sub = 7;
    s_answer_t stored[3] = {{0}};
    s_event(100, "t.g", 1000, true, &sub, 1, &stored[0]);
    s_event(200, "t.g", 2000, true, &sub, 1, &stored[1]);
    s_event(300, "t.g", 3000, true, &sub, 1, &stored[2]);
    s_wait(stored, 3);

    s_answer_t expire = {0};
    cr_assert_eq(persist_store_expire(s_store, 2500, 100, s_done, &expire), 0);
    s_wait_ok(&expire);
    cr_assert_geq(expire.count, 4, "2 events + 2 delivery rows, got %llu",
                  (unsigned long long)expire.count);
    cr_assert_not(expire.more);
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_events"), 1);
    cr_assert_eq(s_deliveries("alice"), 1);
    cr_assert_eq(th_sql_int(s_check, "SELECT dropped_upto FROM telegraphy_type_marks WHERE topic "
                                     "= 't.g'"),
                 200);
    cr_assert_eq(th_sql_int(s_check, "SELECT dropped_upto FROM telegraphy_subscriptions"), 200);
    cr_assert_eq(th_sql_int(s_check, "SELECT backlog FROM telegraphy_subscriptions"), 1);

    s_answer_t gap = {0}, fine = {0};
    persist_store_gap_topic(s_store, "t.g", "exact", 150, 2500, s_done, &gap);
    persist_store_gap_topic(s_store, "t.g", "exact", 200, 2500, s_done, &fine);
    s_wait(&gap, 1);
    s_wait(&fine, 1);
    cr_assert(gap.gap.gap);
    cr_assert_eq(gap.gap.oldest, 300);
    cr_assert_eq(gap.gap.store_began, 100);
    cr_assert_not(fine.gap.gap);
}

// Expiry works in bounded steps: each removes at most `limit` events and
// says `more` until the work is done.
Test(persist_store, expiry_is_bounded_by_its_limit)
{
    s_answer_t stored[10] = {{0}};
    for (int i = 0; i < 10; i++)
        s_event((uint64_t)i + 1, "t.r", 1000, false, NULL, 0, &stored[i]);
    s_wait(stored, 10);
    int steps = 0;
    for (;;) {
        s_answer_t expire = {0};
        cr_assert_eq(persist_store_expire(s_store, 5000, 3, s_done, &expire), 0);
        s_wait_ok(&expire);
        steps++;
        cr_assert_leq(expire.count, 3);
        if (!expire.more)
            break;
        cr_assert_lt(steps, 10);
    }
    cr_assert_geq(steps, 4);
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_events"), 0);
}

// Retained pages: unexpired ttl events of the matching topics after
// `since`, in order, for exact, prefix and wildcard matches.
Test(persist_store, retained_pages_follow_the_match)
{
    s_answer_t stored[5] = {{0}};
    s_event(1, "a.b", 9000, false, NULL, 0, &stored[0]);
    s_event(2, "a.c", 9000, false, NULL, 0, &stored[1]);
    s_event(3, "a.b", 9000, false, NULL, 0, &stored[2]);
    s_event(4, "x.b", 9000, false, NULL, 0, &stored[3]);
    s_event(5, "a.b", 10, false, NULL, 0, &stored[4]); //  already expired at 100
    s_wait(stored, 5);
    s_answer_t exact = {0}, prefix = {0}, wildcard = {0}, since = {0};
    persist_store_retained_page(s_store, "a.b", "exact", 0, 10, 100, s_done, &exact);
    persist_store_retained_page(s_store, "a.", "prefix", 0, 10, 100, s_done, &prefix);
    persist_store_retained_page(s_store, ".b", "wildcard", 0, 10, 100, s_done, &wildcard);
    persist_store_retained_page(s_store, "a.b", "exact", 1, 10, 100, s_done, &since);
    cr_assert_eq(persist_store_retained_page(s_store, "a", "regex", 0, 10, 100, s_done, NULL), -1);
    s_wait(&exact, 1);
    s_wait(&prefix, 1);
    s_wait(&wildcard, 1);
    s_wait(&since, 1);
    cr_assert_eq(exact.size, 2);
    cr_assert_eq(exact.ids[0], 1);
    cr_assert_eq(exact.ids[1], 3);
    cr_assert_eq(prefix.size, 3);
    cr_assert_eq(wildcard.size, 3);
    cr_assert_eq(wildcard.ids[2], 4);
    cr_assert_eq(since.size, 1);
    cr_assert_eq(since.ids[0], 3);
}

// The connection dies while a batch is in flight: every operation in it
// hears -1 (never stored), its rows are absent, and after the reconnect new
// operations are stored.
Test(persist_store, in_flight_operations_fail_when_the_connection_drops)
{
    th_sql(s_check, "BEGIN");
    th_sql(s_check, "LOCK TABLE telegraphy_events IN SHARE MODE");
    s_answer_t answers[3] = {{0}};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s_event((uint64_t)i + 1, "t.r", 9000000000000000, false, NULL, 0, &answers[i]),
                     0);
    persist_store_flush(s_store, th_now_ms());
    PGconn *admin = th_connect(s_db.conninfo);
    int pid = persist_db_backend_pid(s_pdb);
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock'",
             pid);
    cr_assert(th_wait_sql(admin, sql, 1, TH_DEADLINE_MS), "the batch never waited");
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
    th_sql(admin, sql);
    s_wait(answers, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(answers[i].status, -1, "operation %d reported stored", i);
    th_sql(s_check, "COMMIT");
    cr_assert_eq(th_sql_int(admin, "SELECT count(*) FROM telegraphy_events"), 0);

    cr_assert(th_run(s_pdb, th_is_ready, s_pdb, TH_DEADLINE_MS), "no reconnect");
    s_answer_t after = {0};
    cr_assert_eq(s_event(9, "t.r", 9000000000000000, false, NULL, 0, &after), 0);
    s_wait_ok(&after);
    cr_assert_eq(th_sql_int(admin, "SELECT count(*) FROM telegraphy_events"), 1);
    PQfinish(admin);
}

// While the database is down an enqueue is refused at once, and what was
// queued when it went down hears -1.
Test(persist_store, operations_are_refused_while_the_database_is_down)
{
    s_answer_t queued = {0};
    cr_assert_eq(s_event(1, "t.r", 9000000000000000, false, NULL, 0, &queued), 0);
    persist_db_disconnect(s_pdb, th_now_ms(), "test");
    cr_assert_eq(queued.calls, 1);
    cr_assert_eq(queued.status, -1);
    s_answer_t refused = {0};
    cr_assert_eq(s_event(2, "t.r", 9000000000000000, false, NULL, 0, &refused), -1);
    persist_store_stats_t stats;
    persist_store_stats(s_store, &stats);
    cr_assert_eq(stats.rejected_down, 1);
    cr_assert_eq(refused.calls, 0);
}

// The registry, spent tokens and persistent subscriptions survive a new
// store on the same database; a token spent twice says so; subscriptions
// load in pages.
Test(persist_store, registry_tokens_and_subscriptions_survive_a_restart)
{
    s_answer_t answers[6] = {{0}};
    persist_store_register_type(s_store, "shop.order", (const uint8_t *)"\x81\xa1x\x01", 4, s_done,
                                &answers[0]);
    persist_store_register_type(s_store, "chat.msg", (const uint8_t *)"\x80", 1, s_done,
                                &answers[1]);
    persist_store_spend_token(s_store, "jti-1", 2000, s_done, &answers[2]);
    persist_store_spend_token(s_store, "jti-1", 2000, s_done, &answers[3]);
    persist_store_spend_token(s_store, "jti-old", 10, s_done, &answers[4]);
    persist_store_subscription_upsert(s_store, "alice", 7, "t.g", "exact", "x == 1", 5, s_done,
                                      &answers[5]);
    s_wait(answers, 6);
    cr_assert_eq(answers[2].count, 1, "first spend");
    cr_assert_eq(answers[3].count, 0, "a replay is told");
    cr_assert_eq(answers[5].count, 1, "created");
    for (int i = 0; i < 3; i++) {
        char client[16];
        snprintf(client, sizeof(client), "c%d", i);
        s_subscribe(client, 8, "t.h");
    }

    s_reopen(NULL); //  a restarted persist
    s_answer_t types = {0}, tokens = {0}, page1 = {0}, page2 = {0};
    persist_store_load_types(s_store, s_done, &types);
    persist_store_load_spent_tokens(s_store, 1000 * 1000000LL, s_done, &tokens);
    persist_store_load_subscriptions(s_store, 0, 3, s_done, &page1);
    s_wait(&types, 1);
    s_wait(&tokens, 1);
    s_wait(&page1, 1);
    persist_store_load_subscriptions(s_store, page1.keys[2], 3, s_done, &page2);
    s_wait(&page2, 1);
    cr_assert_eq(types.size, 2);
    cr_assert_str_eq(types.names[0], "chat.msg");
    cr_assert_str_eq(types.names[1], "shop.order");
    cr_assert_eq(tokens.size, 1, "the expired one is not loaded");
    cr_assert_str_eq(tokens.names[0], "jti-1");
    cr_assert_eq(page1.size, 3);
    cr_assert(page1.more);
    cr_assert_str_eq(page1.names[0], "alice");
    cr_assert_eq(page2.size, 1);
    cr_assert_not(page2.more);
}

// UNSUBSCRIBE removes the subscription and what it was owed; a
// subscription unused for longer than the persistent ttl is expired with
// its rows, and events nobody is owed any more leave too.
Test(persist_store, deleted_and_stale_subscriptions_leave_with_their_rows)
{
    s_reopen(&(persist_store_config_t){.persistent_ttl_s = 10});
    s_subscribe("alice", 7, "t.g"); //  last seen at 1000 us
    s_subscribe("bob", 7, "t.g");
    uint64_t ids[] = {10, 20};
    s_store_guaranteed(ids, 2);

    s_answer_t del = {0}, touch = {0};
    persist_store_subscription_delete(s_store, "alice", 7, s_done, &del);
    persist_store_subscription_touch(s_store, "bob", 7, 5 * 1000000, s_done, &touch);
    s_wait(&del, 1);
    s_wait(&touch, 1);
    cr_assert_eq(del.count, 1);
    cr_assert_eq(del.remaining, 1, "bob still holds key 7");
    cr_assert_eq(touch.count, 1);
    cr_assert_eq(s_deliveries("alice"), 0);
    cr_assert_eq(s_deliveries("bob"), 2);

    //  At 14 s bob (seen at 5 s) is within its 10 s; at 16 s it is stale.
    s_answer_t early = {0};
    persist_store_expire(s_store, 14 * 1000000LL, 100, s_done, &early);
    s_wait_ok(&early);
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_subscriptions"), 1);
    for (int i = 0; i < 3; i++) { //  rows, then the subscription, then the events
        s_answer_t late = {0};
        persist_store_expire(s_store, 16 * 1000000LL, 100, s_done, &late);
        s_wait_ok(&late);
    }
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_subscriptions"), 0);
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_deliveries"), 0);
    cr_assert_eq(th_sql_int(s_check, "SELECT count(*) FROM telegraphy_events"), 0);
}

// Destroying the store answers what is queued with -1.
Test(persist_store, destroy_answers_queued_operations)
{
    s_answer_t answer = {0};
    cr_assert_eq(s_event(1, "t.r", 9000000000000000, false, NULL, 0, &answer), 0);
    persist_store_destroy(&s_store);
    cr_assert_eq(answer.calls, 1);
    cr_assert_eq(answer.status, -1);
}

// Operations enqueued while the database is still connecting wait in the
// queue and go out by themselves once it is READY.
Test(persist_store, operations_queued_while_connecting_go_out_when_ready)
{
    persist_store_destroy(&s_store);
    persist_db_destroy(&s_pdb);
    char error[256];
    s_pdb = persist_db_new(s_db.conninfo, NULL, error, sizeof(error));
    s_store = persist_store_new(s_pdb, NULL);
    persist_db_tick(s_pdb, th_now_ms());
    cr_assert_eq(persist_db_state(s_pdb), PERSIST_DB_CONNECTING);
    s_answer_t answer = {0};
    cr_assert_eq(s_event(1, "t.r", 9000000000000000, false, NULL, 0, &answer), 0);
    s_all_t all = {&answer, 1};
    cr_assert(th_run(s_pdb, s_all_answered, &all, TH_DEADLINE_MS)); //  no flush called
    cr_assert_eq(answer.status, 0, "%s", answer.error);
}

// A read sees every write enqueued before it, even in the same batch.
Test(persist_store, a_read_sees_the_writes_enqueued_before_it)
{
    s_subscribe("alice", 7, "t.g");
    static const uint64_t sub = 7;
    s_answer_t stored = {0}, acked = {0}, page = {0};
    s_event(10, "t.g", 0, true, &sub, 1, &stored);
    s_event(20, "t.g", 0, true, &sub, 1, &stored);
    stored.calls = 0;
    uint64_t ten = 10;
    persist_store_ack(s_store, "alice", 7, &ten, 1, s_done, &acked);
    persist_store_backlog_page(s_store, "alice", 7, 0, 10, 1, s_done, &page);
    s_wait(&page, 1);
    persist_store_stats_t stats;
    persist_store_stats(s_store, &stats);
    cr_assert_eq(stats.batches, 2, "the subscribe, then one batch for the rest");
    cr_assert_eq(acked.count, 1);
    cr_assert_eq(page.size, 1);
    cr_assert_eq(page.ids[0], 20);
}

// The gap rule's per-type marks: a `_since` from before the first stored id
// is a gap (events before the store are unknown), from just before it is
// not; a loss reported by the caller raises dropped_upto.
Test(persist_store, since_below_store_began_or_a_reported_loss_is_a_gap)
{
    s_answer_t stored = {0};
    s_event(500, "t.r", 9000, false, NULL, 0, &stored);
    s_wait_ok(&stored);
    s_answer_t below = {0}, just = {0}, unknown = {0};
    persist_store_gap_topic(s_store, "t.r", "exact", 100, 1, s_done, &below);
    persist_store_gap_topic(s_store, "t.r", "exact", 499, 1, s_done, &just);
    persist_store_gap_topic(s_store, "t.none", "exact", 0, 1, s_done, &unknown);
    s_wait(&below, 1);
    s_wait(&just, 1);
    s_wait(&unknown, 1);
    cr_assert(below.gap.gap);
    cr_assert_eq(below.gap.oldest, 500);
    cr_assert_not(just.gap.gap);
    cr_assert_not(unknown.gap.found);
    cr_assert_not(unknown.gap.gap);
    cr_assert_not(unknown.gap.has_oldest);

    s_answer_t mark = {0}, after = {0};
    persist_store_mark_dropped(s_store, "t.r", 600, s_done, &mark);
    persist_store_gap_topic(s_store, "t.r", "exact", 499, 1, s_done, &after);
    s_wait(&after, 1);
    cr_assert_eq(mark.status, 0);
    cr_assert(after.gap.gap);
    cr_assert_eq(after.gap.dropped_upto, 600);
}

//  A delete says how many persistent subscriptions are left on the router
//  key: persist releases the key at the router when that reaches 0, from the
//  database's answer rather than a count of its own.
Test(persist_store, delete_says_how_many_subscriptions_remain_on_the_key)
{
    s_subscribe("alice", 9, "t.k");
    s_subscribe("bob", 9, "t.k");
    s_answer_t first = {0}, second = {0}, again = {0};
    persist_store_subscription_delete(s_store, "alice", 9, s_done, &first);
    persist_store_subscription_delete(s_store, "bob", 9, s_done, &second);
    persist_store_subscription_delete(s_store, "bob", 9, s_done, &again);
    s_wait(&first, 1);
    s_wait(&second, 1);
    s_wait(&again, 1);
    cr_assert_eq(first.count, 1);
    cr_assert_eq(first.remaining, 1);
    cr_assert_eq(second.count, 1);
    cr_assert_eq(second.remaining, 0);
    cr_assert_eq(again.count, 0);
    cr_assert_eq(again.remaining, 0);
}
