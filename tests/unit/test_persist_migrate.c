/*  persist_migrate: versioned migrations on a real PostgreSQL, each test on
    a database of its own (test_persist_harness.h). */
#include "test_persist_harness.h"

#include "persist_migrate.h"

static th_db_t s_db;

static void s_setup(void)
{
    th_db_create(&s_db);
}

static void s_teardown(void)
{
    th_db_drop(&s_db);
}

TestSuite(persist_migrate, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  A non-blocking connection for a migrator.
static PGconn *s_connect(void)
{
    PGconn *conn = th_connect(s_db.conninfo);
    cr_assert_eq(PQsetnonblocking(conn, 1), 0);
    return conn;
}

//  Drives the migrators until none is BUSY or `timeout_ms` passes.
static void s_drive(persist_migrate_t **runs, PGconn **conns, size_t count,
                    persist_migrate_status_t *status, int64_t timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    for (;;) {
        bool busy = false;
        struct pollfd items[4];
        for (size_t i = 0; i < count; i++) {
            status[i] = persist_migrate_advance(runs[i]);
            PQflush(conns[i]);
            busy |= status[i] == PERSIST_MIGRATE_BUSY;
            items[i] = (struct pollfd){.fd = PQsocket(conns[i]), .events = POLLIN};
        }
        if (!busy || th_now_ms() >= deadline)
            return;
        poll(items, count, 20);
        for (size_t i = 0; i < count; i++)
            if (items[i].revents)
                PQconsumeInput(conns[i]);
    }
}

static persist_migrate_status_t s_migrate(PGconn *conn, int target, persist_migrate_t **run_p)
{
    *run_p = persist_migrate_new(conn, target);
    persist_migrate_status_t status;
    s_drive(run_p, &conn, 1, &status, TH_DEADLINE_MS);
    return status;
}

// The embedded list is what the build made from migrations/*.sql: at least
// one, versions strictly increasing from 1, each with its SQL.
Test(persist_migrate, embedded_migrations_are_ordered_by_version)
{
    cr_assert_gt(persist_migrations_count, 0);
    cr_assert_eq(persist_migrations[0].version, 1);
    for (size_t i = 0; i < persist_migrations_count; i++) {
        cr_assert_gt(strlen(persist_migrations[i].sql), 0);
        if (i)
            cr_assert_gt(persist_migrations[i].version, persist_migrations[i - 1].version);
    }
    cr_assert_eq(persist_migrate_latest(),
                 persist_migrations[persist_migrations_count - 1].version);
}

// From an empty database every migration is applied and the version recorded.
Test(persist_migrate, applies_every_migration_to_an_empty_database)
{
    PGconn *conn = s_connect();
    persist_migrate_t *run;
    cr_assert_eq(s_migrate(conn, persist_migrate_latest(), &run), PERSIST_MIGRATE_DONE, "%s",
                 persist_migrate_error(run));
    cr_assert_eq(persist_migrate_applied(run), (int)persist_migrations_count);
    cr_assert_eq(persist_migrate_found(run), persist_migrate_latest());
    persist_migrate_destroy(&run);
    persist_migrate_destroy(&run); //  safe twice
    PQfinish(conn);

    PGconn *check = th_connect(s_db.conninfo);
    cr_assert_eq(th_sql_int(check, "SELECT version FROM telegraphy_schema"),
                 persist_migrate_latest());
    cr_assert_eq(th_sql_int(check, "SELECT count(*) FROM telegraphy_schema"), 1);
    const char *tables[] = {"telegraphy_types",      "telegraphy_type_marks",
                            "telegraphy_events",     "telegraphy_subscriptions",
                            "telegraphy_deliveries", "telegraphy_spent_tokens"};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_tables WHERE tablename = '%s'",
                 tables[i]);
        cr_assert_eq(th_sql_int(check, sql), 1, "table %s missing", tables[i]);
    }
    //  The lock is released once done.
    cr_assert_eq(th_sql_int(check, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                   "AND database = (SELECT oid FROM pg_database "
                                   "WHERE datname = current_database())"),
                 0);
    PQfinish(check);
}

// Running again applies nothing and changes nothing (every start does it).
Test(persist_migrate, reapplying_is_idempotent)
{
    PGconn *conn = s_connect();
    persist_migrate_t *run;
    cr_assert_eq(s_migrate(conn, persist_migrate_latest(), &run), PERSIST_MIGRATE_DONE);
    persist_migrate_destroy(&run);
    PGconn *check = th_connect(s_db.conninfo);
    th_sql(check, "INSERT INTO telegraphy_types VALUES ('kept', '\\x01')");

    cr_assert_eq(s_migrate(conn, persist_migrate_latest(), &run), PERSIST_MIGRATE_DONE, "%s",
                 persist_migrate_error(run));
    cr_assert_eq(persist_migrate_applied(run), 0);
    cr_assert_eq(persist_migrate_found(run), persist_migrate_latest());
    persist_migrate_destroy(&run);
    cr_assert_eq(th_sql_int(check, "SELECT count(*) FROM telegraphy_schema"), 1);
    cr_assert_eq(th_sql_int(check, "SELECT count(*) FROM telegraphy_types"), 1);
    PQfinish(check);
    PQfinish(conn);
}

// A database with a newer schema is refused, the message naming the version
// found and the version known, and nothing in it is touched.
Test(persist_migrate, newer_schema_is_refused_with_both_versions)
{
    PGconn *conn = s_connect();
    persist_migrate_t *run;
    cr_assert_eq(s_migrate(conn, persist_migrate_latest(), &run), PERSIST_MIGRATE_DONE);
    persist_migrate_destroy(&run);
    PGconn *check = th_connect(s_db.conninfo);
    char sql[128];
    int newer = persist_migrate_latest() + 41;
    snprintf(sql, sizeof(sql), "UPDATE telegraphy_schema SET version = %d", newer);
    th_sql(check, sql);

    cr_assert_eq(s_migrate(conn, persist_migrate_latest(), &run), PERSIST_MIGRATE_FAILED);
    char found[64], known[64];
    snprintf(found, sizeof(found), "found version %d", newer);
    snprintf(known, sizeof(known), "up to version %d", persist_migrate_latest());
    cr_assert_not_null(strstr(persist_migrate_error(run), found), "%s", persist_migrate_error(run));
    cr_assert_not_null(strstr(persist_migrate_error(run), known), "%s", persist_migrate_error(run));
    cr_assert_eq(persist_migrate_advance(run), PERSIST_MIGRATE_FAILED); //  and stays so
    persist_migrate_destroy(&run);
    cr_assert_eq(th_sql_int(check, "SELECT version FROM telegraphy_schema"), newer);
    PQfinish(check);
    PQfinish(conn);
}

// Two migrators started together on an empty database: both finish, each
// migration is applied exactly once (without the advisory lock, the second
// CREATE TABLE fails or the version is written twice).
Test(persist_migrate, concurrent_migrators_apply_each_migration_once)
{
    PGconn *conns[2] = {s_connect(), s_connect()};
    persist_migrate_t *runs[2] = {persist_migrate_new(conns[0], persist_migrate_latest()),
                                  persist_migrate_new(conns[1], persist_migrate_latest())};
    persist_migrate_status_t status[2];
    s_drive(runs, conns, 2, status, TH_DEADLINE_MS);
    cr_assert_eq(status[0], PERSIST_MIGRATE_DONE, "%s", persist_migrate_error(runs[0]));
    cr_assert_eq(status[1], PERSIST_MIGRATE_DONE, "%s", persist_migrate_error(runs[1]));
    cr_assert_eq(persist_migrate_applied(runs[0]) + persist_migrate_applied(runs[1]),
                 (int)persist_migrations_count);
    PGconn *check = th_connect(s_db.conninfo);
    cr_assert_eq(th_sql_int(check, "SELECT count(*) FROM telegraphy_schema"), 1);
    cr_assert_eq(th_sql_int(check, "SELECT version FROM telegraphy_schema"),
                 persist_migrate_latest());
    PQfinish(check);
    for (int i = 0; i < 2; i++) {
        persist_migrate_destroy(&runs[i]);
        PQfinish(conns[i]);
    }
}

// While another session holds the migration lock, a migrator waits (and
// creates nothing); it finishes once the lock is released.
Test(persist_migrate, migrator_waits_for_the_advisory_lock)
{
    PGconn *holder = th_connect(s_db.conninfo);
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", PERSIST_MIGRATE_LOCK_KEY);
    th_sql(holder, sql);

    PGconn *conn = s_connect();
    persist_migrate_t *run = persist_migrate_new(conn, persist_migrate_latest());
    persist_migrate_status_t status;
    s_drive(&run, &conn, 1, &status, 300); //  a bounded look: it must still be waiting
    cr_assert_eq(status, PERSIST_MIGRATE_BUSY);
    cr_assert_eq(th_sql_int(holder, "SELECT count(*) FROM pg_tables WHERE tablename = "
                                    "'telegraphy_events'"),
                 0);

    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", PERSIST_MIGRATE_LOCK_KEY);
    th_sql(holder, sql);
    s_drive(&run, &conn, 1, &status, TH_DEADLINE_MS);
    cr_assert_eq(status, PERSIST_MIGRATE_DONE, "%s", persist_migrate_error(run));
    cr_assert_eq(persist_migrate_applied(run), (int)persist_migrations_count);
    persist_migrate_destroy(&run);
    PQfinish(conn);
    PQfinish(holder);
}

// A migration that fails leaves no trace: its statements and the version
// row commit together or not at all (a table it would create is absent).
Test(persist_migrate, a_failed_migration_leaves_the_database_unchanged)
{
    PGconn *check = th_connect(s_db.conninfo);
    //  Make migration 1's first CREATE TABLE collide half-way through it.
    th_sql(check, "CREATE TABLE telegraphy_spent_tokens (x int)");
    PGconn *conn = s_connect();
    persist_migrate_t *run;
    cr_assert_eq(s_migrate(conn, persist_migrate_latest(), &run), PERSIST_MIGRATE_FAILED);
    cr_assert_not_null(strstr(persist_migrate_error(run), persist_migrations[0].name), "%s",
                       persist_migrate_error(run));
    persist_migrate_destroy(&run);
    PQfinish(conn); //  the session's lock goes with it
    cr_assert_eq(th_sql_int(check, "SELECT count(*) FROM pg_tables WHERE tablename = "
                                   "'telegraphy_events'"),
                 0);
    cr_assert_eq(th_sql_int(check, "SELECT coalesce(max(version), 0) FROM telegraphy_schema"), 0);
    PQfinish(check);
}
