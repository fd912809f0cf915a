/*  persist_db: persist's one connection to PostgreSQL, asynchronous and
    driven from outside.

    Nothing here blocks and nothing reads a clock: the owner's loop polls
    persist_db_fd() (POLLIN, plus POLLOUT while persist_db_wants_write()),
    calls persist_db_on_readable / persist_db_on_writable when the socket is
    ready, and persist_db_tick at persist_db_deadline() at the latest, always
    passing its monotonic time in milliseconds.

    Life of a connection:
      DOWN --tick--> CONNECTING (PQconnectStart/PQconnectPoll, then the schema
      migrations of persist_migrate under their advisory lock, then the
      registered statements prepared) --> READY (pipeline mode)
      any failure --> DOWN, retried after a backoff that doubles from
      PERSIST_DB_BACKOFF_MIN_MS to PERSIST_DB_BACKOFF_MAX_MS with jitter
      (a random delay in [backoff/2, backoff]), reset once READY;
      a connect+migrate that takes longer than PERSIST_DB_CONNECT_TIMEOUT_MS
      counts as a failure;
      a database whose schema is newer than this binary knows, or a statement
      that cannot be prepared --> FAILED: permanent, persist_db_error() says
      why (the process should exit with it).

    In READY, callers send queries (prepared statements or one-off SQL) into
    the pipeline and close each group with persist_db_sync; each query's
    result, and each sync, reaches its callback in order. When the
    connection drops, every query and sync still waiting gets its callback
    with a NULL result, before the state watchers hear DOWN. A group in
    which a statement failed is followed by a ROLLBACK sent here, so an
    explicit BEGIN that failed never leaves the session in an aborted
    transaction. Results are requested in binary format.

    The socket changes at every (re)connect: re-read persist_db_fd() after
    every call into this module (the state watchers hear every change).
*/
#ifndef PERSIST_DB_H
#define PERSIST_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reconnect backoff bounds and the bound on one connect + migrate. */
#define PERSIST_DB_BACKOFF_MIN_MS     100
#define PERSIST_DB_BACKOFF_MAX_MS     5000
#define PERSIST_DB_CONNECT_TIMEOUT_MS 10000
/* Queries and syncs in flight at once (the pipeline's bound). */
#define PERSIST_DB_PENDING_MAX 65536
/* Statements prepared at every connect, state watchers. */
#define PERSIST_DB_STATEMENTS_MAX 32
#define PERSIST_DB_WATCHERS_MAX   4
/* Sync round trips kept for the latency percentiles. */
#define PERSIST_DB_LATENCY_SAMPLES 1024

typedef enum {
    PERSIST_DB_DOWN = 0,   /* no connection; a retry is due at persist_db_deadline() */
    PERSIST_DB_CONNECTING, /* connecting, migrating, preparing */
    PERSIST_DB_READY,      /* queries may be sent */
    PERSIST_DB_FAILED      /* refused for good: see persist_db_error() */
} persist_db_state_t;

typedef struct {
    int64_t backoff_min_ms;     /* 0: PERSIST_DB_BACKOFF_MIN_MS */
    int64_t backoff_max_ms;     /* 0: PERSIST_DB_BACKOFF_MAX_MS */
    int64_t connect_timeout_ms; /* 0: PERSIST_DB_CONNECT_TIMEOUT_MS */
    uint64_t jitter_seed;       /* seeds the backoff jitter (0: a fixed seed) */
    int schema_target;          /* 0: persist_migrate_latest() */
} persist_db_config_t;

typedef struct {
    persist_db_state_t state;
    uint64_t connects;      /* connections that reached READY */
    uint64_t reconnects;    /* connections lost or failed (each schedules a retry) */
    uint64_t queries;       /* queries answered */
    uint64_t query_errors;  /* of which failed (error or aborted pipeline) */
    uint64_t syncs;         /* pipeline groups completed */
    size_t pending;         /* queries and syncs in flight now */
    size_t latency_samples; /* sync round trips kept, <= PERSIST_DB_LATENCY_SAMPLES */
    int64_t latency_p50_ms; /* of the kept sync round trips (send to answer) */
    int64_t latency_p99_ms; /* idem */
    int64_t latency_max_ms; /* idem */
} persist_db_stats_t;

typedef struct _persist_db_t persist_db_t;

/* A query's or a sync's answer. `result` is borrowed for the call: NULL when
   the connection was lost before the answer came; otherwise check
   PQresultStatus (PGRES_COMMAND_OK / PGRES_TUPLES_OK, PGRES_FATAL_ERROR,
   PGRES_PIPELINE_ABORTED after an earlier failure in the group,
   PGRES_PIPELINE_SYNC for a sync). `now_ms` is the time the caller passed
   to the call that delivered it. May send further queries. */
typedef void(persist_db_result_fn)(const PGresult *result, int64_t now_ms, void *arg);

/* Told of every state change (after the change), with the time passed to
   the call that made it. */
typedef void(persist_db_state_fn)(persist_db_state_t state, int64_t now_ms, void *arg);

/* Caller owns the result. `conninfo` (a libpq URI or key=value string) is
   copied and checked for syntax; nothing connects before the first tick.
   `config` may be NULL (defaults). Returns NULL with a reason in `error`
   when the conninfo cannot be parsed. */
persist_db_t *persist_db_new(const char *conninfo, const persist_db_config_t *config, char *error,
                             size_t error_size);

/* Safe on NULL and twice. Closes the connection; queries still in flight are
   dropped WITHOUT their callbacks: destroy their owners (persist_store) first. */
void persist_db_destroy(persist_db_t **self_p);

/* Registers a statement prepared on every connection (now too, if READY).
   `name` and `sql` are copied. Returns 0, or -1 when the table is full or
   the name is taken. */
int persist_db_prepare(persist_db_t *self, const char *name, const char *sql);

/* Adds a state watcher. Returns 0, or -1 when the table is full. */
int persist_db_watch(persist_db_t *self, persist_db_state_fn *fn, void *arg);

/* Removes a watcher added with the same fn and arg (no-op if absent). */
void persist_db_unwatch(persist_db_t *self, persist_db_state_fn *fn, void *arg);

/* The socket to poll, or -1 (DOWN, FAILED). */
int persist_db_fd(const persist_db_t *self);

/* True while the socket is also to be polled for writing. */
bool persist_db_wants_write(const persist_db_t *self);

/* The socket is readable / writable. */
void persist_db_on_readable(persist_db_t *self, int64_t now_ms);
void persist_db_on_writable(persist_db_t *self, int64_t now_ms);

/* Timers: starts a due reconnect, enforces the connect timeout. Harmless to
   call more often than needed. */
void persist_db_tick(persist_db_t *self, int64_t now_ms);

/* When persist_db_tick next has work (INT64_MAX: none). */
int64_t persist_db_deadline(const persist_db_t *self);

persist_db_state_t persist_db_state(const persist_db_t *self);

/* "DOWN", "CONNECTING", "READY", "FAILED" (static strings). */
const char *persist_db_state_name(persist_db_state_t state);

/* Why the last connection failed or closed ("" if none); owned by self. */
const char *persist_db_error(const persist_db_t *self);

/* Sends one statement into the pipeline: `statement` is a name registered
   with persist_db_prepare, or, when `is_sql`, a single SQL statement. Values
   are borrowed for the call (libpq copies them); NULL `lengths`/`formats`
   mean text. Returns 0, or -1 when not READY or the pipeline is full (then
   fn is never called). */
int persist_db_send(persist_db_t *self, const char *statement, bool is_sql, int param_count,
                    const char *const *values, const int *lengths, const int *formats,
                    persist_db_result_fn *fn, void *arg);

/* Closes the group sent since the last sync (a pipeline sync point) and
   flushes. fn (may be NULL) hears PGRES_PIPELINE_SYNC when the server has
   finished the group (a COMMIT in it has returned) or NULL when the
   connection dropped first. The round trip is a latency sample. Returns 0
   or -1 as persist_db_send. */
int persist_db_sync(persist_db_t *self, int64_t now_ms, persist_db_result_fn *fn, void *arg);

/* Closes the connection now (calling the callbacks of everything in
   flight with NULL) and schedules a retry after the backoff. `reason` is
   kept as the error text. No-op unless CONNECTING or READY. */
void persist_db_disconnect(persist_db_t *self, int64_t now_ms, const char *reason);

/* The server process id of the current connection (0 if none): tests use it
   with pg_terminate_backend. */
int persist_db_backend_pid(const persist_db_t *self);

void persist_db_stats(const persist_db_t *self, persist_db_stats_t *stats);

/* Writes where `conninfo` points, for log lines: "host:port/dbname" (a
   socket directory as host; libpq's defaults where unset), never the
   user's password. "?" when it cannot be parsed. */
void persist_db_describe(const char *conninfo, char *out, size_t size);

#endif
