/*  Shared by the persist unit tests: a fresh database per test on the real
    PostgreSQL named by TELEGRAPHY_TEST_DATABASE_URL (scripts/test.sh starts
    one cluster per `make test`; by hand: `scripts/pg.sh start DIR PORT`
    prints the URL). The variable unset is a failure, not a skip: these
    tests are the only proof that the storage layer works.

    Tests read the clock here and pass the time in: the modules never do.
*/
#ifndef TEST_PERSIST_HARNESS_H
#define TEST_PERSIST_HARNESS_H

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "persist_db.h"

#define TH_ENV "TELEGRAPHY_TEST_DATABASE_URL"
/* The longest any wait in these tests may take. */
#define TH_DEADLINE_MS 10000

typedef struct {
    char name[64];       /* the database made for this test */
    char conninfo[2048]; /* libpq key=value string naming it */
} th_db_t;

static inline int64_t th_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline const char *th_base_url(void)
{
    const char *url = getenv(TH_ENV);
    cr_assert(url && *url,
              TH_ENV " is unset: these tests need a real PostgreSQL. Run them through `make test`, "
                     "or start one with `scripts/pg.sh start /tmp/pg 5999` and export " TH_ENV
                     " with the URL it prints.");
    return url;
}

/* The base URL's parameters with dbname replaced, as key='value' pairs. */
static inline void th_conninfo_for(const char *dbname, char *out, size_t size)
{
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse(th_base_url(), &error);
    cr_assert_not_null(options, "bad " TH_ENV ": %s", error ? error : "?");
    size_t used = 0;
    out[0] = '\0';
    for (PQconninfoOption *o = options; o->keyword; o++) {
        const char *value = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;
        if (!value)
            continue;
        used += (size_t)snprintf(out + used, size - used, "%s='", o->keyword);
        for (const char *c = value; *c && used + 3 < size; c++) {
            if (*c == '\'' || *c == '\\')
                out[used++] = '\\';
            out[used++] = *c;
        }
        used += (size_t)snprintf(out + used, size - used, "' ");
    }
    PQconninfoFree(options);
}

/* A blocking connection for the test's own SQL (setup, checks). */
static inline PGconn *th_connect(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    cr_assert(conn && PQstatus(conn) == CONNECTION_OK, "cannot connect: %s",
              conn ? PQerrorMessage(conn) : "out of memory");
    PQsetNoticeProcessor(conn, NULL, NULL);
    return conn;
}

static inline void th_sql(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(res);
    cr_assert(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(res));
    PQclear(res);
}

/* The first column of the first row as an integer (-1 for NULL or none). */
static inline long long th_sql_int(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    cr_assert(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(res));
    long long value =
        PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? atoll(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return value;
}

/* Creates a database of its own for the calling test. */
static inline void th_db_create(th_db_t *db)
{
    static unsigned counter;
    snprintf(db->name, sizeof(db->name), "tg_test_%d_%u_%ld", (int)getpid(), counter++,
             (long)(th_now_ms() % 100000));
    PGconn *admin = th_connect(th_base_url());
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->name);
    th_sql(admin, sql);
    PQfinish(admin);
    th_conninfo_for(db->name, db->conninfo, sizeof(db->conninfo));
}

/* Drops it (connections still open to it are ended). */
static inline void th_db_drop(th_db_t *db)
{
    if (!db->name[0])
        return;
    PGconn *admin = th_connect(th_base_url());
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
    th_sql(admin, sql);
    PQfinish(admin);
    db->name[0] = '\0';
}

typedef bool(th_done_fn)(void *arg);

/* Drives db like a service loop would (poll on its socket, tick at its
   deadline) until done(arg) holds or `timeout_ms` passes. Returns done. */
static inline bool th_run(persist_db_t *db, th_done_fn *done, void *arg, int64_t timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    for (;;) {
        int64_t now = th_now_ms();
        persist_db_tick(db, now);
        if (done(arg))
            return true;
        if (now >= deadline)
            return false;
        int64_t wait = deadline - now;
        int64_t tick = persist_db_deadline(db);
        if (tick != INT64_MAX && tick - now < wait)
            wait = tick - now < 0 ? 0 : tick - now;
        if (wait > 50)
            wait = 50;
        int fd = persist_db_fd(db);
        if (fd < 0) {
            struct timespec pause = {0, (long)wait * 1000000};
            nanosleep(&pause, NULL); //  nothing to poll: only time can change things
            continue;
        }
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (persist_db_wants_write(db))
            item.events |= POLLOUT;
        int rc = poll(&item, 1, (int)wait);
        if (rc > 0) {
            now = th_now_ms();
            if (item.revents & (POLLIN | POLLERR | POLLHUP))
                persist_db_on_readable(db, now);
            if ((item.revents & POLLOUT) && persist_db_fd(db) == fd)
                persist_db_on_writable(db, now);
        }
    }
}

static inline bool th_is_ready(void *arg)
{
    return persist_db_state(arg) == PERSIST_DB_READY;
}

static inline bool th_is_down(void *arg)
{
    return persist_db_state(arg) == PERSIST_DB_DOWN;
}

static inline bool th_is_failed(void *arg)
{
    return persist_db_state(arg) == PERSIST_DB_FAILED;
}

/* Polls `sql` on conn until its integer answer equals `want`, bounded. */
static inline bool th_wait_sql(PGconn *conn, const char *sql, long long want, int64_t timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    while (th_sql_int(conn, sql) != want) {
        if (th_now_ms() >= deadline)
            return false;
        struct timespec pause = {0, 10 * 1000000};
        nanosleep(&pause, NULL);
    }
    return true;
}

#endif
