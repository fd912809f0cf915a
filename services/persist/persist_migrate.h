/*  persist_migrate: brings a database's schema to the version this binary
    knows, over one libpq connection, without blocking.

    The schema is a list of versioned SQL migrations
    (services/persist/migrations/NNNN_name.sql, embedded at build time into
    persist_migrations[]). The database records its version in
    telegraphy_schema(version). A run:
      1. takes a session advisory lock (PERSIST_MIGRATE_LOCK_KEY), so two
         persists starting at once apply each migration exactly once: the
         second waits, then finds the work done;
      2. creates telegraphy_schema if missing and reads the version;
      3. refuses a version newer than the newest migration known here (the
         error text names both); otherwise applies each missing migration in a
         transaction of its own (its SQL and the new version together);
      4. releases the lock.
    The connection must be idle, in blocking-off mode and NOT in pipeline mode
    (migrations are multi-statement simple queries). The caller drives the run:
    after each PQconsumeInput on the connection's socket (and at start), call
    persist_migrate_advance until it stops answering BUSY.
*/
#ifndef PERSIST_MIGRATE_H
#define PERSIST_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* The advisory lock key every migrator takes ('tg_migr' in ASCII). */
#define PERSIST_MIGRATE_LOCK_KEY 0x74675f6d69677200LL

/* One embedded migration (generated from the .sql files, in version order). */
typedef struct {
    int version;      /* NNNN of the file name, >= 1, strictly increasing */
    const char *name; /* the file name without .sql */
    const char *sql;  /* the whole file: one or more statements */
} persist_migration_t;

extern const persist_migration_t persist_migrations[];
extern const size_t persist_migrations_count;

/* The newest schema version this binary knows. */
int persist_migrate_latest(void);

typedef enum {
    PERSIST_MIGRATE_BUSY = 0, /* waiting for the server: call again when readable */
    PERSIST_MIGRATE_DONE,     /* the schema is current; the lock is released */
    PERSIST_MIGRATE_FAILED    /* see persist_migrate_error; stop using the run */
} persist_migrate_status_t;

typedef struct _persist_migrate_t persist_migrate_t;

/* Caller owns the result. Borrows conn, which must outlive the run. Sends
   nothing yet: the first persist_migrate_advance does. Applies migrations up
   to `target` (persist_migrate_latest() in production; tests pass a lower
   version to stage an older database) and refuses a database newer than it. */
persist_migrate_t *persist_migrate_new(PGconn *conn, int target);

/* Safe on NULL and twice. A run destroyed while BUSY leaves the connection
   with a query in flight: close the connection too. */
void persist_migrate_destroy(persist_migrate_t **self_p);

/* Reads every result available without blocking (the caller has called
   PQconsumeInput) and sends the next step when one finished. Returns BUSY
   while waiting, then DONE or FAILED (and keeps answering that). */
persist_migrate_status_t persist_migrate_advance(persist_migrate_t *self);

/* The reason of FAILED ("" otherwise); owned by the run. */
const char *persist_migrate_error(const persist_migrate_t *self);

/* The version the database had when the run read it (-1 before that), and
   the number of migrations this run applied. */
int persist_migrate_found(const persist_migrate_t *self);
int persist_migrate_applied(const persist_migrate_t *self);

#endif
