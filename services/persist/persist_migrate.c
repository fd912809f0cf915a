/*  persist_migrate: a schema migration run as a small state machine, see
    persist_migrate.h. Each step is one simple-protocol query (PQsendQuery), so
    a migration file may hold many statements: PostgreSQL runs a
    multi-statement query as one implicit transaction, which makes each
    migration and its new version number commit together or not at all. */
#include "persist_migrate.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_log.h"

typedef enum {
    S_START = 0, /* nothing sent yet */
    S_LOCK,      /* waiting for pg_advisory_lock */
    S_READ,      /* waiting for the version */
    S_APPLY,     /* waiting for migration `next` */
    S_UNLOCK,    /* waiting for pg_advisory_unlock */
    S_DONE,
    S_FAILED
} s_step_t;

struct _persist_migrate_t {
    PGconn *conn;     /* borrowed */
    int target;       /* apply up to this version, refuse newer */
    s_step_t step;    /* where the run is */
    PGresult *last;   /* the last result of the step in flight (owned), or NULL */
    char *error_text; /* why the step in flight failed (owned), or NULL */
    size_t next;      /* index into persist_migrations of the migration in flight */
    int found;        /* version read from the database, -1 before */
    int applied;      /* migrations applied by this run */
    char error[512];  /* the reason of FAILED */
};

int persist_migrate_latest(void)
{
    int latest = 0;
    for (size_t i = 0; i < persist_migrations_count; i++)
        if (persist_migrations[i].version > latest)
            latest = persist_migrations[i].version;
    return latest;
}

persist_migrate_t *persist_migrate_new(PGconn *conn, int target)
{
    assert(conn);
    persist_migrate_t *self = calloc(1, sizeof(*self));
    if (!self) {
        fprintf(stderr, "persist_migrate: out of memory\n");
        abort();
    }
    self->conn = conn;
    self->target = target;
    self->found = -1;
    return self;
}

void persist_migrate_destroy(persist_migrate_t **self_p)
{
    assert(self_p);
    persist_migrate_t *self = *self_p;
    if (!self)
        return;
    PQclear(self->last);
    free(self->error_text);
    free(self);
    *self_p = NULL;
}

static void s_fail(persist_migrate_t *self, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void s_fail(persist_migrate_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->error, sizeof(self->error), format, args);
    va_end(args);
    self->error[strcspn(self->error, "\n")] = '\0';
    self->step = S_FAILED;
}

static char *s_strdup(const char *text)
{
    char *copy = strdup(text);
    if (!copy) {
        fprintf(stderr, "persist_migrate: out of memory\n");
        abort();
    }
    return copy;
}

//  Sends `sql`; on a send failure the run fails with libpq's reason.
static int s_send(persist_migrate_t *self, const char *sql, s_step_t step)
{
    if (!PQsendQuery(self->conn, sql)) {
        s_fail(self, "cannot send a query: %s", PQerrorMessage(self->conn));
        return -1;
    }
    self->step = step;
    return 0;
}

//  Sends the next migration above the database's version, or the unlock.
static void s_send_next(persist_migrate_t *self)
{
    while (self->next < persist_migrations_count) {
        const persist_migration_t *m = &persist_migrations[self->next];
        if (m->version > self->found && m->version <= self->target) {
            char tail[160];
            snprintf(tail, sizeof(tail),
                     "\n;DELETE FROM telegraphy_schema; INSERT INTO telegraphy_schema (version) "
                     "VALUES (%d)",
                     m->version);
            size_t size = strlen(m->sql) + strlen(tail) + 1;
            char *sql = malloc(size);
            if (!sql) {
                fprintf(stderr, "persist_migrate: out of memory\n");
                abort();
            }
            snprintf(sql, size, "%s%s", m->sql, tail);
            tg_log_info("persist: migrating schema from=%d to=%d name=%s", self->found, m->version,
                        m->name);
            s_send(self, sql, S_APPLY);
            free(sql);
            return;
        }
        self->next++;
    }
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", PERSIST_MIGRATE_LOCK_KEY);
    s_send(self, sql, S_UNLOCK);
}

//  The step in flight has all its results (self->last / self->error_text).
static void s_step_done(persist_migrate_t *self)
{
    if (self->error_text) {
        const char *what =
            self->step == S_APPLY ? persist_migrations[self->next].name : "(schema check)";
        s_fail(self, "migration %s failed: %s", what, self->error_text);
        return;
    }
    switch (self->step) {
    case S_LOCK:
        s_send(self,
               "SET client_min_messages TO warning;"
               "CREATE TABLE IF NOT EXISTS telegraphy_schema (version integer NOT NULL);"
               "RESET client_min_messages;"
               "SELECT coalesce(max(version), 0) FROM telegraphy_schema",
               S_READ);
        break;
    case S_READ:
        if (!self->last || PQresultStatus(self->last) != PGRES_TUPLES_OK ||
            PQntuples(self->last) != 1) {
            s_fail(self, "cannot read the schema version");
            break;
        }
        self->found = atoi(PQgetvalue(self->last, 0, 0));
        if (self->found > self->target) {
            s_fail(self,
                   "the database schema is newer than this telegraphy-persist: found "
                   "version %d, this binary knows up to version %d",
                   self->found, self->target);
            break;
        }
        s_send_next(self);
        break;
    case S_APPLY:
        self->applied++;
        self->found = persist_migrations[self->next].version;
        self->next++;
        s_send_next(self);
        break;
    case S_UNLOCK:
        self->step = S_DONE;
        break;
    default:
        assert(false);
    }
}

persist_migrate_status_t persist_migrate_advance(persist_migrate_t *self)
{
    assert(self);
    if (self->step == S_START) {
        char sql[96];
        snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", PERSIST_MIGRATE_LOCK_KEY);
        s_send(self, sql, S_LOCK);
    }
    while (self->step != S_DONE && self->step != S_FAILED) {
        if (PQisBusy(self->conn))
            return PERSIST_MIGRATE_BUSY;
        PGresult *res = PQgetResult(self->conn);
        if (res) {
            ExecStatusType status = PQresultStatus(res);
            if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !self->error_text) {
                const char *message = PQresultErrorMessage(res);
                self->error_text = s_strdup(*message ? message : PQresStatus(status));
            }
            PQclear(self->last);
            self->last = res;
            continue;
        }
        //  NULL: the step's results are complete. A broken connection shows
        //  here too, as an error result or none at all.
        if (!self->last && !self->error_text)
            self->error_text = s_strdup(PQerrorMessage(self->conn));
        s_step_done(self);
        PQclear(self->last);
        self->last = NULL;
        free(self->error_text);
        self->error_text = NULL;
    }
    return self->step == S_DONE ? PERSIST_MIGRATE_DONE : PERSIST_MIGRATE_FAILED;
}

const char *persist_migrate_error(const persist_migrate_t *self)
{
    assert(self);
    return self->step == S_FAILED ? self->error : "";
}

int persist_migrate_found(const persist_migrate_t *self)
{
    assert(self);
    return self->found;
}

int persist_migrate_applied(const persist_migrate_t *self)
{
    assert(self);
    return self->applied;
}
