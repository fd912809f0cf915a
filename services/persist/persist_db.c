/*  persist_db: the libpq connection, see persist_db.h.

    One state machine over libpq's asynchronous API: PQconnectStart /
    PQconnectPoll, then persist_migrate's simple queries, then pipeline mode
    (PQenterPipelineMode) for the prepares and everything after. Every query
    or sync sent is remembered in a bounded ring, in send order, with its
    callback: libpq hands results back in the same order, a query's results
    ending with a NULL and a sync's being one PGRES_PIPELINE_SYNC. */
#include "persist_db.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist_migrate.h"
#include "tg_alloc.h"
#include "tg_log.h"

typedef enum {
    P_NONE = 0, /* DOWN or FAILED: no connection */
    P_POLL,     /* PQconnectPoll in progress */
    P_MIGRATE,  /* persist_migrate running */
    P_PREPARE,  /* pipeline mode, prepares in flight */
    P_READY     /* pipeline mode, open for callers */
} s_phase_t;

typedef enum { E_QUERY = 0, E_SYNC } s_kind_t;

//  One query or sync in flight.
typedef struct {
    s_kind_t kind;            /* query or sync */
    persist_db_result_fn *fn; /* told of the answer (NULL: nobody) */
    void *arg;                /* fn's argument */
    PGresult *result;         /* a query's first result until its NULL arrives (owned) */
    int64_t sent_ms;          /* a sync's send time, for the latency sample */
    bool internal;            /* sent by this module (prepare, rollback) */
} s_entry_t;

typedef struct {
    char *name; /* owned */
    char *sql;  /* owned */
} s_statement_t;

typedef struct {
    persist_db_state_fn *fn;
    void *arg;
} s_watcher_t;

struct _persist_db_t {
    char *conninfo;                                      /* owned copy */
    persist_db_config_t config;                          /* with defaults filled in */
    persist_db_state_t state;                            /* what callers see */
    s_phase_t phase;                                     /* where the connection is */
    PGconn *conn;                                        /* owned, NULL when DOWN/FAILED */
    persist_migrate_t *migrate;                          /* owned during P_MIGRATE */
    PostgresPollingStatusType poll;                      /* what PQconnectPoll waits for */
    bool retry_due;                                      /* DOWN: a retry is scheduled */
    int64_t retry_at_ms;                                 /* when (valid while retry_due) */
    int64_t connect_deadline_ms;                         /* CONNECTING: give up at */
    int64_t backoff_ms;                                  /* the next retry's backoff */
    uint64_t rng;                                        /* xorshift state for the jitter */
    uint64_t generation;                                 /* bumped at every connection drop */
    bool group_failed;                                   /* a query failed since the last sync */
    s_entry_t *ring;                                     /* PERSIST_DB_PENDING_MAX entries */
    size_t head;                                         /* oldest entry in flight */
    size_t count;                                        /* entries in flight */
    s_statement_t statements[PERSIST_DB_STATEMENTS_MAX]; /* prepared at every connect */
    size_t statement_count;                              /* used slots */
    s_watcher_t watchers[PERSIST_DB_WATCHERS_MAX];       /* state watchers */
    size_t watcher_count;                                /* used slots */
    int64_t latency[PERSIST_DB_LATENCY_SAMPLES];         /* ring of sync round trips, ms */
    size_t latency_next;                                 /* next slot to write */
    size_t latency_count;                                /* filled slots */
    uint64_t connects, reconnects, queries, query_errors, syncs; /* see persist_db_stats_t */
    char error[512];                                             /* persist_db_error */
};

const char *persist_db_state_name(persist_db_state_t state)
{
    switch (state) {
    case PERSIST_DB_DOWN:
        return "DOWN";
    case PERSIST_DB_CONNECTING:
        return "CONNECTING";
    case PERSIST_DB_READY:
        return "READY";
    case PERSIST_DB_FAILED:
        return "FAILED";
    }
    return "?";
}

//  libpq's notices (a WARNING for a ROLLBACK with no transaction, ...) go to
//  the debug log instead of stderr.
static void s_notice(void *arg, const char *message)
{
    (void)arg;
    tg_log_debug("persist: server notice %.*s", (int)strcspn(message, "\n"), message);
}

persist_db_t *persist_db_new(const char *conninfo, const persist_db_config_t *config, char *error,
                             size_t error_size)
{
    assert(conninfo);
    char *parse_error = NULL;
    PQconninfoOption *options = PQconninfoParse(conninfo, &parse_error);
    if (!options) {
        snprintf(error, error_size, "bad database URL: %s",
                 parse_error ? parse_error : "out of memory");
        if (error_size)
            error[strcspn(error, "\n")] = '\0';
        PQfreemem(parse_error);
        return NULL;
    }
    PQconninfoFree(options);

    persist_db_t *self = tg_new(persist_db_t);
    self->conninfo = tg_strdup(conninfo);
    if (config)
        self->config = *config;
    if (self->config.backoff_min_ms <= 0)
        self->config.backoff_min_ms = PERSIST_DB_BACKOFF_MIN_MS;
    if (self->config.backoff_max_ms <= 0)
        self->config.backoff_max_ms = PERSIST_DB_BACKOFF_MAX_MS;
    if (self->config.backoff_max_ms < self->config.backoff_min_ms)
        self->config.backoff_max_ms = self->config.backoff_min_ms;
    if (self->config.connect_timeout_ms <= 0)
        self->config.connect_timeout_ms = PERSIST_DB_CONNECT_TIMEOUT_MS;
    if (self->config.schema_target <= 0)
        self->config.schema_target = persist_migrate_latest();
    self->rng = self->config.jitter_seed ? self->config.jitter_seed : 0x9e3779b97f4a7c15ULL;
    self->backoff_ms = self->config.backoff_min_ms;
    self->retry_due = true; //  the first tick connects, whatever its time
    self->retry_at_ms = INT64_MIN;
    self->ring = tg_calloc(PERSIST_DB_PENDING_MAX, sizeof(s_entry_t));
    return self;
}

static void s_close(persist_db_t *self)
{
    persist_migrate_destroy(&self->migrate);
    if (self->conn) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    self->phase = P_NONE;
}

//  Empties the ring; with `notify`, each callback hears NULL (in order).
static void s_fail_pending(persist_db_t *self, int64_t now_ms, bool notify)
{
    while (self->count) {
        s_entry_t entry = self->ring[self->head];
        memset(&self->ring[self->head], 0, sizeof(s_entry_t));
        self->head = (self->head + 1) % PERSIST_DB_PENDING_MAX;
        self->count--;
        PQclear(entry.result);
        if (notify && entry.fn)
            entry.fn(NULL, now_ms, entry.arg);
    }
}

void persist_db_destroy(persist_db_t **self_p)
{
    assert(self_p);
    persist_db_t *self = *self_p;
    if (!self)
        return;
    s_fail_pending(self, 0, false);
    s_close(self);
    for (size_t i = 0; i < self->statement_count; i++) {
        free(self->statements[i].name);
        free(self->statements[i].sql);
    }
    free(self->ring);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

static void s_set_state(persist_db_t *self, persist_db_state_t state, int64_t now_ms)
{
    if (self->state == state)
        return;
    self->state = state;
    for (size_t i = 0; i < self->watcher_count; i++)
        self->watchers[i].fn(state, now_ms, self->watchers[i].arg);
}

static uint64_t s_random(persist_db_t *self)
{
    uint64_t x = self->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    self->rng = x;
    return x;
}

//  The connection is lost or refused: everything in flight fails, a retry
//  is scheduled (or, when `permanent`, none: FAILED).
static void s_drop(persist_db_t *self, int64_t now_ms, const char *reason, bool permanent)
{
    snprintf(self->error, sizeof(self->error), "%s", reason);
    self->error[strcspn(self->error, "\n")] = '\0';
    bool was_ready = self->state == PERSIST_DB_READY;
    s_close(self);
    self->generation++;
    self->reconnects++;
    self->group_failed = false;
    if (permanent) {
        self->retry_due = false;
        tg_log_error("persist: database refused error=\"%s\"", self->error);
    } else {
        int64_t half = self->backoff_ms / 2;
        int64_t delay = half + (int64_t)(s_random(self) % (uint64_t)(self->backoff_ms - half + 1));
        self->retry_due = true;
        self->retry_at_ms = now_ms + delay;
        self->backoff_ms *= 2;
        if (self->backoff_ms > self->config.backoff_max_ms)
            self->backoff_ms = self->config.backoff_max_ms;
        tg_log_error("persist: database %s error=\"%s\" retry_in_ms=%lld",
                     was_ready ? "connection lost" : "connection failed", self->error,
                     (long long)delay);
    }
    //  Down first, so callbacks that try to send are refused.
    self->state = permanent ? PERSIST_DB_FAILED : PERSIST_DB_DOWN;
    s_fail_pending(self, now_ms, true);
    for (size_t i = 0; i < self->watcher_count; i++)
        self->watchers[i].fn(self->state, now_ms, self->watchers[i].arg);
}

static void s_flush(persist_db_t *self, int64_t now_ms)
{
    if (self->conn && PQflush(self->conn) < 0)
        s_drop(self, now_ms, PQerrorMessage(self->conn), false);
}

static int s_push(persist_db_t *self, s_kind_t kind, persist_db_result_fn *fn, void *arg,
                  int64_t sent_ms, bool internal)
{
    if (self->count >= PERSIST_DB_PENDING_MAX)
        return -1;
    s_entry_t *entry = &self->ring[(self->head + self->count) % PERSIST_DB_PENDING_MAX];
    *entry =
        (s_entry_t){.kind = kind, .fn = fn, .arg = arg, .sent_ms = sent_ms, .internal = internal};
    self->count++;
    return 0;
}

static void s_on_prepared(const PGresult *result, int64_t now_ms, void *arg);
static void s_on_prepare_sync(const PGresult *result, int64_t now_ms, void *arg);

//  Migrations done: pipeline mode, then every registered statement prepared.
static void s_start_prepare(persist_db_t *self, int64_t now_ms)
{
    persist_migrate_destroy(&self->migrate);
    if (!PQenterPipelineMode(self->conn)) {
        s_drop(self, now_ms, PQerrorMessage(self->conn), false);
        return;
    }
    self->phase = P_PREPARE;
    for (size_t i = 0; i < self->statement_count; i++) {
        if (!PQsendPrepare(self->conn, self->statements[i].name, self->statements[i].sql, 0,
                           NULL) ||
            s_push(self, E_QUERY, s_on_prepared, self, 0, true) != 0) {
            s_drop(self, now_ms, PQerrorMessage(self->conn), false);
            return;
        }
    }
    if (!PQpipelineSync(self->conn) ||
        s_push(self, E_SYNC, s_on_prepare_sync, self, now_ms, true) != 0) {
        s_drop(self, now_ms, PQerrorMessage(self->conn), false);
        return;
    }
    s_flush(self, now_ms);
}

//  A prepare failed on a live connection: the SQL is wrong, for good.
static void s_on_prepared(const PGresult *result, int64_t now_ms, void *arg)
{
    (void)now_ms;
    persist_db_t *self = arg;
    if (result && PQresultStatus(result) != PGRES_COMMAND_OK && self->state != PERSIST_DB_FAILED &&
        !self->error[0])
        snprintf(self->error, sizeof(self->error), "cannot prepare a statement: %s",
                 PQresultErrorMessage(result));
}

static void s_on_prepare_sync(const PGresult *result, int64_t now_ms, void *arg)
{
    persist_db_t *self = arg;
    if (!result)
        return; //  dropped meanwhile: s_drop did the rest
    if (self->error[0]) {
        //  Marked by s_on_prepared; the drop happens in the dispatch loop.
        return;
    }
    self->phase = P_READY;
    self->backoff_ms = self->config.backoff_min_ms;
    self->connects++;
    tg_log_info("persist: database ready backend_pid=%d schema=%d statements=%zu",
                PQbackendPID(self->conn), self->config.schema_target, self->statement_count);
    s_set_state(self, PERSIST_DB_READY, now_ms);
}

static void s_start_connect(persist_db_t *self, int64_t now_ms)
{
    self->retry_due = false;
    self->error[0] = '\0';
    self->conn = PQconnectStart(self->conninfo);
    if (!self->conn)
        tg_alloc_fatal("out of memory in PQconnectStart", __FILE__, __LINE__);
    if (PQstatus(self->conn) == CONNECTION_BAD || PQsetnonblocking(self->conn, 1) != 0) {
        s_drop(self, now_ms, PQerrorMessage(self->conn), false);
        return;
    }
    PQsetNoticeProcessor(self->conn, s_notice, self);
    self->phase = P_POLL;
    self->poll = PGRES_POLLING_WRITING; //  libpq's rule for the first wait
    self->connect_deadline_ms = now_ms + self->config.connect_timeout_ms;
    s_set_state(self, PERSIST_DB_CONNECTING, now_ms);
}

static void s_advance_migrate(persist_db_t *self, int64_t now_ms)
{
    switch (persist_migrate_advance(self->migrate)) {
    case PERSIST_MIGRATE_BUSY:
        s_flush(self, now_ms);
        return;
    case PERSIST_MIGRATE_DONE:
        s_start_prepare(self, now_ms);
        return;
    case PERSIST_MIGRATE_FAILED: {
        char reason[512];
        snprintf(reason, sizeof(reason), "%s", persist_migrate_error(self->migrate));
        //  A newer schema is final; anything else (a lost connection) is retried.
        bool newer = persist_migrate_found(self->migrate) > self->config.schema_target;
        s_drop(self, now_ms, reason, newer);
        return;
    }
    }
}

//  Drives PQconnectPoll one step (the socket is ready as it asked).
static void s_poll_connect(persist_db_t *self, int64_t now_ms)
{
    self->poll = PQconnectPoll(self->conn);
    if (self->poll == PGRES_POLLING_FAILED) {
        s_drop(self, now_ms, PQerrorMessage(self->conn), false);
    } else if (self->poll == PGRES_POLLING_OK) {
        self->phase = P_MIGRATE;
        self->migrate = persist_migrate_new(self->conn, self->config.schema_target);
        s_advance_migrate(self, now_ms);
    }
}

//  Hands every complete result to its entry's callback, in order.
static void s_dispatch(persist_db_t *self, int64_t now_ms)
{
    uint64_t generation = self->generation;
    int nulls = 0; //  NULLs in a row while a sync is awaited: libpq has nothing more
    while (self->count && self->conn) {
        if (PQisBusy(self->conn))
            break;
        PGresult *res = PQgetResult(self->conn);
        s_entry_t *entry = &self->ring[self->head];
        if (entry->kind == E_SYNC) {
            if (!res) {
                if (++nulls > 1)
                    break;
                continue;
            }
            nulls = 0;
            if (PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
                //  Out of step with libpq: only a broken connection does this.
                PQclear(res);
                s_drop(self, now_ms, "pipeline out of step", false);
                return;
            }
            s_entry_t done = *entry;
            memset(entry, 0, sizeof(*entry));
            self->head = (self->head + 1) % PERSIST_DB_PENDING_MAX;
            self->count--;
            self->syncs++;
            if (!done.internal) {
                self->latency[self->latency_next] = now_ms - done.sent_ms;
                self->latency_next = (self->latency_next + 1) % PERSIST_DB_LATENCY_SAMPLES;
                if (self->latency_count < PERSIST_DB_LATENCY_SAMPLES)
                    self->latency_count++;
            }
            bool rollback = self->group_failed;
            self->group_failed = false;
            if (done.fn)
                done.fn(res, now_ms, done.arg);
            PQclear(res);
            if (generation != self->generation)
                return;
            if (self->phase == P_PREPARE && self->error[0]) {
                char reason[512];
                snprintf(reason, sizeof(reason), "%s", self->error);
                s_drop(self, now_ms, reason, true);
                return;
            }
            if (rollback) {
                //  An explicit BEGIN may have left the session in an aborted
                //  transaction: end it (a warning only when there is none).
                if (!PQsendQueryParams(self->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 1) ||
                    s_push(self, E_QUERY, NULL, NULL, 0, true) != 0 ||
                    !PQpipelineSync(self->conn) ||
                    s_push(self, E_SYNC, NULL, NULL, now_ms, true) != 0) {
                    s_drop(self, now_ms, PQerrorMessage(self->conn), false);
                    return;
                }
                s_flush(self, now_ms);
                if (generation != self->generation)
                    return;
            }
            continue;
        }
        if (res) {
            ExecStatusType status = PQresultStatus(res);
            if (status == PGRES_PIPELINE_SYNC) {
                PQclear(res);
                s_drop(self, now_ms, "pipeline out of step", false);
                return;
            }
            if (entry->result)
                PQclear(res); //  a single statement has one result: keep the first
            else
                entry->result = res;
            continue;
        }
        //  NULL: the query's results are complete.
        s_entry_t done = *entry;
        memset(entry, 0, sizeof(*entry));
        self->head = (self->head + 1) % PERSIST_DB_PENDING_MAX;
        self->count--;
        self->queries++;
        ExecStatusType status = done.result ? PQresultStatus(done.result) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            self->query_errors++;
            self->group_failed = true;
        }
        if (done.fn)
            done.fn(done.result, now_ms, done.arg);
        PQclear(done.result);
        if (generation != self->generation)
            return;
    }
    if (self->conn && PQstatus(self->conn) == CONNECTION_BAD)
        s_drop(self, now_ms, PQerrorMessage(self->conn), false);
}

int persist_db_prepare(persist_db_t *self, const char *name, const char *sql)
{
    assert(self && name && sql);
    if (self->statement_count >= PERSIST_DB_STATEMENTS_MAX)
        return -1;
    for (size_t i = 0; i < self->statement_count; i++)
        if (strcmp(self->statements[i].name, name) == 0)
            return -1;
    s_statement_t *statement = &self->statements[self->statement_count++];
    statement->name = tg_strdup(name);
    statement->sql = tg_strdup(sql);
    if (self->phase == P_READY) {
        //  Prepared on this connection too; a failure shows as an error later.
        if (PQsendPrepare(self->conn, name, sql, 0, NULL))
            s_push(self, E_QUERY, s_on_prepared, self, 0, true);
    }
    return 0;
}

int persist_db_watch(persist_db_t *self, persist_db_state_fn *fn, void *arg)
{
    assert(self && fn);
    if (self->watcher_count >= PERSIST_DB_WATCHERS_MAX)
        return -1;
    self->watchers[self->watcher_count++] = (s_watcher_t){fn, arg};
    return 0;
}

void persist_db_unwatch(persist_db_t *self, persist_db_state_fn *fn, void *arg)
{
    assert(self);
    for (size_t i = 0; i < self->watcher_count; i++)
        if (self->watchers[i].fn == fn && self->watchers[i].arg == arg) {
            self->watchers[i] = self->watchers[--self->watcher_count];
            return;
        }
}

int persist_db_fd(const persist_db_t *self)
{
    assert(self);
    return self->conn ? PQsocket(self->conn) : -1;
}

bool persist_db_wants_write(const persist_db_t *self)
{
    assert(self);
    if (!self->conn)
        return false;
    if (self->phase == P_POLL)
        return self->poll == PGRES_POLLING_WRITING;
    return PQflush(self->conn) == 1; //  only tries a write: harmless here
}

void persist_db_on_readable(persist_db_t *self, int64_t now_ms)
{
    assert(self);
    switch (self->phase) {
    case P_NONE:
        return;
    case P_POLL:
        if (self->poll == PGRES_POLLING_READING)
            s_poll_connect(self, now_ms);
        return;
    case P_MIGRATE:
        if (!PQconsumeInput(self->conn)) {
            s_drop(self, now_ms, PQerrorMessage(self->conn), false);
            return;
        }
        s_advance_migrate(self, now_ms);
        return;
    case P_PREPARE:
    case P_READY:
        if (!PQconsumeInput(self->conn)) {
            s_drop(self, now_ms, PQerrorMessage(self->conn), false);
            return;
        }
        s_dispatch(self, now_ms);
        return;
    }
}

void persist_db_on_writable(persist_db_t *self, int64_t now_ms)
{
    assert(self);
    if (self->phase == P_POLL) {
        if (self->poll == PGRES_POLLING_WRITING)
            s_poll_connect(self, now_ms);
        return;
    }
    s_flush(self, now_ms);
}

void persist_db_tick(persist_db_t *self, int64_t now_ms)
{
    assert(self);
    if (self->state == PERSIST_DB_DOWN && self->retry_due && now_ms >= self->retry_at_ms) {
        s_start_connect(self, now_ms);
        //  A unix socket often connects at once: take the first step now.
        if (self->phase == P_POLL && self->poll == PGRES_POLLING_WRITING)
            s_poll_connect(self, now_ms);
        return;
    }
    if (self->state == PERSIST_DB_CONNECTING && now_ms >= self->connect_deadline_ms)
        s_drop(self, now_ms, "timed out connecting to the database", false);
}

int64_t persist_db_deadline(const persist_db_t *self)
{
    assert(self);
    if (self->state == PERSIST_DB_DOWN && self->retry_due)
        return self->retry_at_ms;
    if (self->state == PERSIST_DB_CONNECTING)
        return self->connect_deadline_ms;
    return INT64_MAX;
}

persist_db_state_t persist_db_state(const persist_db_t *self)
{
    assert(self);
    return self->state;
}

const char *persist_db_error(const persist_db_t *self)
{
    assert(self);
    return self->error;
}

int persist_db_send(persist_db_t *self, const char *statement, bool is_sql, int param_count,
                    const char *const *values, const int *lengths, const int *formats,
                    persist_db_result_fn *fn, void *arg)
{
    assert(self && statement);
    if (self->phase != P_READY || self->count >= PERSIST_DB_PENDING_MAX - 1)
        return -1; //  one slot stays free for the sync that closes the group
    int sent = is_sql ? PQsendQueryParams(self->conn, statement, param_count, NULL, values, lengths,
                                          formats, 1)
                      : PQsendQueryPrepared(self->conn, statement, param_count, values, lengths,
                                            formats, 1);
    if (!sent) {
        tg_log_error("persist: cannot send statement=%s error=\"%.*s\"", is_sql ? "sql" : statement,
                     (int)strcspn(PQerrorMessage(self->conn), "\n"), PQerrorMessage(self->conn));
        return -1;
    }
    return s_push(self, E_QUERY, fn, arg, 0, false);
}

int persist_db_sync(persist_db_t *self, int64_t now_ms, persist_db_result_fn *fn, void *arg)
{
    assert(self);
    if (self->phase != P_READY || self->count >= PERSIST_DB_PENDING_MAX)
        return -1;
    if (!PQpipelineSync(self->conn))
        return -1;
    s_push(self, E_SYNC, fn, arg, now_ms, false);
    s_flush(self, now_ms);
    return 0;
}

void persist_db_disconnect(persist_db_t *self, int64_t now_ms, const char *reason)
{
    assert(self);
    if (self->state == PERSIST_DB_CONNECTING || self->state == PERSIST_DB_READY)
        s_drop(self, now_ms, reason ? reason : "disconnected", false);
}

int persist_db_backend_pid(const persist_db_t *self)
{
    assert(self);
    return self->conn && self->phase != P_POLL ? PQbackendPID(self->conn) : 0;
}

static int s_compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void persist_db_stats(const persist_db_t *self, persist_db_stats_t *stats)
{
    assert(self && stats);
    *stats = (persist_db_stats_t){.state = self->state,
                                  .connects = self->connects,
                                  .reconnects = self->reconnects,
                                  .queries = self->queries,
                                  .query_errors = self->query_errors,
                                  .syncs = self->syncs,
                                  .pending = self->count,
                                  .latency_samples = self->latency_count};
    if (self->latency_count) {
        int64_t sorted[PERSIST_DB_LATENCY_SAMPLES];
        memcpy(sorted, self->latency, self->latency_count * sizeof(int64_t));
        qsort(sorted, self->latency_count, sizeof(int64_t), s_compare_int64);
        stats->latency_p50_ms = sorted[(self->latency_count - 1) / 2];
        stats->latency_p99_ms = sorted[(self->latency_count - 1) * 99 / 100];
        stats->latency_max_ms = sorted[self->latency_count - 1];
    }
}

void persist_db_describe(const char *conninfo, char *out, size_t size)
{
    assert(conninfo && out && size > 0);
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse(conninfo, &error);
    PQfreemem(error);
    if (!options) {
        snprintf(out, size, "?");
        return;
    }
    const char *host = NULL, *port = NULL, *dbname = NULL;
    for (PQconninfoOption *o = options; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0 && o->val)
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0 && o->val)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0 && o->val)
            dbname = o->val;
    }
    snprintf(out, size, "%s:%s/%s", host ? host : "localhost", port ? port : "5432",
             dbname ? dbname : "(default)");
    PQconninfoFree(options);
}
