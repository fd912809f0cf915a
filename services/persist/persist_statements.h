/*  persist_statements: the SQL of persist_store, one prepared statement per
    operation, registered with persist_db (prepared at every connect).

    Parameters are passed as text (integers, arrays as {1,2}) or binary
    (bytea); results come back in binary. The reasons for each statement's
    shape are in docs/persistence.md.
*/
#ifndef PERSIST_STATEMENTS_H
#define PERSIST_STATEMENTS_H

enum {
    PERSIST_ST_EVENT = 0,
    PERSIST_ST_DELIVER,
    PERSIST_ST_TRIM,
    PERSIST_ST_ACK,
    PERSIST_ST_ACK_UPTO,
    PERSIST_ST_SUB_UPSERT,
    PERSIST_ST_SUB_DELETE,
    PERSIST_ST_SUB_TOUCH,
    PERSIST_ST_TYPE,
    PERSIST_ST_TOKEN,
    PERSIST_ST_MARK,
    PERSIST_ST_EXPIRE_EVENTS,
    PERSIST_ST_EXPIRE_TOKENS,
    PERSIST_ST_EXPIRE_STALE_DELIVERIES,
    PERSIST_ST_EXPIRE_STALE_SUBS,
    PERSIST_ST_EXPIRE_ORPHANS,
    PERSIST_ST_LOAD_TYPES,
    PERSIST_ST_LOAD_TOKENS,
    PERSIST_ST_LOAD_SUBS,
    PERSIST_ST_BACKLOG,
    PERSIST_ST_RETAINED_EXACT,
    PERSIST_ST_RETAINED_PREFIX,
    PERSIST_ST_RETAINED_WILDCARD,
    PERSIST_ST_GAP_SUB,
    PERSIST_ST_GAP_TOPIC_EXACT,
    PERSIST_ST_GAP_TOPIC_PREFIX,
    PERSIST_ST_GAP_TOPIC_WILDCARD,
    PERSIST_ST_TOTALS,
    PERSIST_ST_COUNT
};

typedef struct {
    const char *name; /* the prepared statement's name */
    const char *sql;  /* its text; parameters cast explicitly */
} persist_statement_t;

extern const persist_statement_t persist_statements[PERSIST_ST_COUNT];

#endif
