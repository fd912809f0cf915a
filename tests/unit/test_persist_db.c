/*  persist_db: the asynchronous libpq connection on a real PostgreSQL, each
    test on a database of its own (test_persist_harness.h), driven by a
    poll() loop with the time passed in. */
#include "test_persist_harness.h"

#include "persist_migrate.h"

static th_db_t s_db;
static persist_db_t *s_pdb;

static void s_setup(void)
{
    th_db_create(&s_db);
    char error[256];
    s_pdb = persist_db_new(s_db.conninfo, NULL, error, sizeof(error));
    cr_assert_not_null(s_pdb, "%s", error);
}

static void s_teardown(void)
{
    persist_db_destroy(&s_pdb);
    persist_db_destroy(&s_pdb); //  safe twice
    th_db_drop(&s_db);
}

TestSuite(persist_db, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Answers recorded by s_record, in arrival order.
typedef struct {
    int calls;
    int nulls;                 /* answers with a NULL result (connection lost) */
    ExecStatusType status[16]; /* their statuses */
    char value[16][32];        /* the first value of each, as text */
} s_answers_t;

static void s_record(const PGresult *result, int64_t now_ms, void *arg)
{
    (void)now_ms;
    s_answers_t *answers = arg;
    int i = answers->calls++;
    if (i >= 16)
        return;
    if (!result) {
        answers->nulls++;
        answers->status[i] = PGRES_FATAL_ERROR;
        return;
    }
    answers->status[i] = PQresultStatus(result);
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0) {
        //  Binary int4 results: 4 bytes, network order.
        const unsigned char *v = (const unsigned char *)PQgetvalue(result, 0, 0);
        if (PQgetlength(result, 0, 0) == 4)
            snprintf(
                answers->value[i], sizeof(answers->value[i]), "%d",
                (int)((unsigned)v[0] << 24 | (unsigned)v[1] << 16 | (unsigned)v[2] << 8 | v[3]));
    }
}

typedef struct {
    s_answers_t *answers;
    int want;
} s_count_t;

static bool s_has_answers(void *arg)
{
    s_count_t *count = arg;
    return count->answers->calls >= count->want;
}

static void s_wait_answers(s_answers_t *answers, int want)
{
    s_count_t count = {answers, want};
    cr_assert(th_run(s_pdb, s_has_answers, &count, TH_DEADLINE_MS), "%d answers of %d",
              answers->calls, want);
}

static void s_ready(void)
{
    cr_assert(th_run(s_pdb, th_is_ready, s_pdb, TH_DEADLINE_MS), "not ready: %s",
              persist_db_error(s_pdb));
}

static int s_send_sql(const char *sql, s_answers_t *answers)
{
    return persist_db_send(s_pdb, sql, true, 0, NULL, NULL, NULL, s_record, answers);
}

// Nothing happens before the first tick; then the connection comes up
// through connect, migrations and prepares, and the schema is current.
Test(persist_db, first_tick_connects_migrates_and_becomes_ready)
{
    cr_assert_eq(persist_db_state(s_pdb), PERSIST_DB_DOWN);
    cr_assert_eq(persist_db_fd(s_pdb), -1);
    cr_assert_eq(s_send_sql("SELECT 1", NULL), -1, "no query before READY");
    s_ready();
    cr_assert_geq(persist_db_fd(s_pdb), 0);
    cr_assert_eq(persist_db_deadline(s_pdb), INT64_MAX);
    persist_db_stats_t stats;
    persist_db_stats(s_pdb, &stats);
    cr_assert_eq(stats.connects, 1);
    cr_assert_eq(stats.reconnects, 0);
    PGconn *check = th_connect(s_db.conninfo);
    cr_assert_eq(th_sql_int(check, "SELECT version FROM telegraphy_schema"),
                 persist_migrate_latest());
    PQfinish(check);
}

// Queries in one group are answered in order, then the sync; a sync round
// trip is a latency sample.
Test(persist_db, pipelined_queries_are_answered_in_order)
{
    s_ready();
    s_answers_t answers = {0};
    cr_assert_eq(s_send_sql("SELECT 1", &answers), 0);
    cr_assert_eq(s_send_sql("SELECT 2", &answers), 0);
    cr_assert_eq(s_send_sql("SELECT 3", &answers), 0);
    cr_assert_eq(persist_db_sync(s_pdb, th_now_ms(), s_record, &answers), 0);
    s_wait_answers(&answers, 4);
    cr_assert_str_eq(answers.value[0], "1");
    cr_assert_str_eq(answers.value[1], "2");
    cr_assert_str_eq(answers.value[2], "3");
    cr_assert_eq(answers.status[3], PGRES_PIPELINE_SYNC);
    persist_db_stats_t stats;
    persist_db_stats(s_pdb, &stats);
    cr_assert_eq(stats.latency_samples, 1);
    cr_assert_eq(stats.pending, 0);
}

// A statement registered with persist_db_prepare is usable once READY.
Test(persist_db, registered_statements_are_prepared_at_connect)
{
    cr_assert_eq(persist_db_prepare(s_pdb, "plus_one", "SELECT $1::int + 1"), 0);
    cr_assert_eq(persist_db_prepare(s_pdb, "plus_one", "SELECT 0"), -1, "a name is taken once");
    s_ready();
    s_answers_t answers = {0};
    const char *values[] = {"41"};
    cr_assert_eq(
        persist_db_send(s_pdb, "plus_one", false, 1, values, NULL, NULL, s_record, &answers), 0);
    cr_assert_eq(persist_db_sync(s_pdb, th_now_ms(), NULL, NULL), 0);
    s_wait_answers(&answers, 1);
    cr_assert_str_eq(answers.value[0], "42");
}

// A group whose statement fails: the rest of it is aborted, an explicit
// transaction is rolled back (its insert is absent), and the next group
// runs normally on the same connection.
Test(persist_db, a_failed_group_is_rolled_back_and_the_next_one_runs)
{
    PGconn *check = th_connect(s_db.conninfo);
    s_ready();
    th_sql(check, "CREATE TABLE t (x int)");
    s_answers_t answers = {0};
    s_send_sql("BEGIN", &answers);
    s_send_sql("INSERT INTO t VALUES (1)", &answers);
    s_send_sql("SELECT 1/0", &answers);
    s_send_sql("COMMIT", &answers);
    persist_db_sync(s_pdb, th_now_ms(), s_record, &answers);
    s_wait_answers(&answers, 5);
    cr_assert_eq(answers.status[1], PGRES_COMMAND_OK);
    cr_assert_eq(answers.status[2], PGRES_FATAL_ERROR);
    cr_assert_eq(answers.status[3], PGRES_PIPELINE_ABORTED);
    cr_assert_eq(answers.status[4], PGRES_PIPELINE_SYNC);

    s_answers_t next = {0};
    s_send_sql("BEGIN", &next);
    s_send_sql("INSERT INTO t VALUES (2)", &next);
    s_send_sql("COMMIT", &next);
    persist_db_sync(s_pdb, th_now_ms(), s_record, &next);
    s_wait_answers(&next, 4);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(next.status[i], PGRES_COMMAND_OK, "statement %d", i);
    cr_assert_eq(th_sql_int(check, "SELECT count(*) FROM t WHERE x = 1"), 0);
    cr_assert_eq(th_sql_int(check, "SELECT count(*) FROM t WHERE x = 2"), 1);
    PQfinish(check);
}

// With no server behind the URL every attempt fails and the retry delay
// doubles from the minimum to the maximum, jittered within [backoff/2,
// backoff]; the time is only the one passed in.
Test(persist_db, unreachable_server_is_retried_with_bounded_jittered_backoff)
{
    char conninfo[1100];
    snprintf(conninfo, sizeof(conninfo), "host=%s port=1 dbname=x connect_timeout=2",
             "/nonexistent");
    persist_db_config_t config = {.backoff_min_ms = 100, .backoff_max_ms = 800, .jitter_seed = 7};
    char error[256];
    persist_db_t *db = persist_db_new(conninfo, &config, error, sizeof(error));
    cr_assert_not_null(db, "%s", error);
    int64_t now = 1000; //  a made-up clock: nothing here reads the real one
    int64_t backoff = 100;
    for (int attempt = 0; attempt < 6; attempt++) {
        persist_db_tick(db, now);
        cr_assert_eq(persist_db_state(db), PERSIST_DB_DOWN, "attempt %d", attempt);
        cr_assert_neq(persist_db_error(db)[0], '\0');
        int64_t delay = persist_db_deadline(db) - now;
        cr_assert(delay >= backoff / 2 && delay <= backoff, "attempt %d: delay %lld, backoff %lld",
                  attempt, (long long)delay, (long long)backoff);
        persist_db_tick(db, now + delay - 1); //  not yet due: nothing happens
        persist_db_stats_t stats;
        persist_db_stats(db, &stats);
        cr_assert_eq(stats.reconnects, (uint64_t)attempt + 1);
        now += delay;
        backoff = backoff * 2 > 800 ? 800 : backoff * 2;
    }
    persist_db_destroy(&db);
}

// A URL that libpq cannot parse is refused at creation, with a reason.
Test(persist_db, bad_url_is_refused_at_creation)
{
    char error[256] = "";
    persist_db_t *db = persist_db_new("postgresql://[::1", NULL, error, sizeof(error));
    cr_assert_null(db);
    cr_assert_not_null(strstr(error, "bad database URL"), "%s", error);
}

// The backend is killed (pg_terminate_backend) while a query is in flight:
// the query hears the failure (never success), the state goes DOWN, and the
// next tick after the backoff brings a new connection up.
Test(persist_db, reconnects_after_the_backend_is_terminated)
{
    s_ready();
    int pid = persist_db_backend_pid(s_pdb);
    cr_assert_gt(pid, 0);
    s_answers_t answers = {0};
    cr_assert_eq(s_send_sql("SELECT pg_sleep(30)", &answers), 0);
    cr_assert_eq(persist_db_sync(s_pdb, th_now_ms(), s_record, &answers), 0);
    PGconn *admin = th_connect(s_db.conninfo);
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND query "
             "LIKE 'SELECT pg_sleep%%'",
             pid);
    cr_assert(th_wait_sql(admin, sql, 1, TH_DEADLINE_MS), "the query never started");
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
    th_sql(admin, sql);

    s_wait_answers(&answers, 2);
    cr_assert_neq(answers.status[0], PGRES_TUPLES_OK);
    cr_assert_neq(answers.status[1], PGRES_PIPELINE_SYNC);
    cr_assert(th_run(s_pdb, th_is_ready, s_pdb, TH_DEADLINE_MS), "no reconnect: %s",
              persist_db_error(s_pdb));
    cr_assert_neq(persist_db_backend_pid(s_pdb), pid);
    persist_db_stats_t stats;
    persist_db_stats(s_pdb, &stats);
    cr_assert_eq(stats.connects, 2);
    cr_assert_eq(stats.reconnects, 1);

    s_answers_t after = {0};
    s_send_sql("SELECT 7", &after);
    persist_db_sync(s_pdb, th_now_ms(), NULL, NULL);
    s_wait_answers(&after, 1);
    cr_assert_str_eq(after.value[0], "7");
    PQfinish(admin);
}

// State watchers hear every change, in order.
static void s_watch(persist_db_state_t state, int64_t now_ms, void *arg)
{
    (void)now_ms;
    char *seen = arg;
    size_t used = strlen(seen);
    snprintf(seen + used, 128 - used, "%s ", persist_db_state_name(state));
}

Test(persist_db, watchers_hear_connecting_ready_and_down)
{
    char seen[128] = "";
    cr_assert_eq(persist_db_watch(s_pdb, s_watch, seen), 0);
    s_ready();
    persist_db_disconnect(s_pdb, th_now_ms(), "test");
    cr_assert_str_eq(persist_db_error(s_pdb), "test");
    cr_assert(th_run(s_pdb, th_is_ready, s_pdb, TH_DEADLINE_MS));
    cr_assert_str_eq(seen, "CONNECTING READY DOWN CONNECTING READY ");
    persist_db_unwatch(s_pdb, s_watch, seen);
}

// A database whose schema is newer than this binary: FAILED for good (no
// retry scheduled), the error naming both versions.
Test(persist_db, newer_schema_fails_for_good)
{
    s_ready();
    PGconn *admin = th_connect(s_db.conninfo);
    char sql[96];
    snprintf(sql, sizeof(sql), "UPDATE telegraphy_schema SET version = %d",
             persist_migrate_latest() + 1);
    th_sql(admin, sql);
    PQfinish(admin);
    persist_db_disconnect(s_pdb, th_now_ms(), "test");
    cr_assert(th_run(s_pdb, th_is_failed, s_pdb, TH_DEADLINE_MS), "state %s",
              persist_db_state_name(persist_db_state(s_pdb)));
    char found[64];
    snprintf(found, sizeof(found), "found version %d", persist_migrate_latest() + 1);
    cr_assert_not_null(strstr(persist_db_error(s_pdb), found), "%s", persist_db_error(s_pdb));
    cr_assert_eq(persist_db_deadline(s_pdb), INT64_MAX);
    cr_assert_eq(persist_db_fd(s_pdb), -1);
}

// A registered statement the server cannot prepare is a bug, not an outage:
// FAILED for good, the error saying which.
Test(persist_db, a_statement_that_cannot_be_prepared_fails_for_good)
{
    cr_assert_eq(persist_db_prepare(s_pdb, "broken", "SELECT * FROM no_such_table"), 0);
    cr_assert(th_run(s_pdb, th_is_failed, s_pdb, TH_DEADLINE_MS), "state %s",
              persist_db_state_name(persist_db_state(s_pdb)));
    cr_assert_not_null(strstr(persist_db_error(s_pdb), "no_such_table"), "%s",
                       persist_db_error(s_pdb));
    cr_assert_eq(persist_db_deadline(s_pdb), INT64_MAX);
}
