/*  persist_store: operations queued, sent in batches (group commit), each
    answered once, see persist_store.h; the SQL and the reasons for it are
    in docs/persistence.md.

    Lifetimes: an operation is allocated at enqueue and freed here and only
    here, in s_op_finish, right after its one callback. A batch is freed when
    the last of its pipeline entries (statements, COMMIT, sync) has been
    answered by persist_db (or failed by a dropped connection), counted by
    batch->pending: until then persist_db holds pointers to it. */
#include "persist_store.h"

#include <assert.h>
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_log.h"

#define S_PARAMS_MAX 8

typedef enum {
    OP_EVENT = 0,
    OP_ACK,
    OP_ACK_UPTO,
    OP_SUB_UPSERT,
    OP_SUB_DELETE,
    OP_SUB_TOUCH,
    OP_TYPE,
    OP_TOKEN,
    OP_MARK,
    OP_EXPIRE,
    /* reads from here on */
    OP_LOAD_TYPES,
    OP_LOAD_TOKENS,
    OP_LOAD_SUBS,
    OP_BACKLOG,
    OP_RETAINED,
    OP_GAP_SUB,
    OP_GAP_TOPIC
} s_kind_t;

#define S_IS_READ(kind) ((kind) >= OP_LOAD_TYPES)

//  The prepared statements, by name; SQL in s_statements below.
enum {
    ST_EVENT = 0,
    ST_DELIVER,
    ST_TRIM,
    ST_ACK,
    ST_ACK_UPTO,
    ST_SUB_UPSERT,
    ST_SUB_DELETE,
    ST_SUB_TOUCH,
    ST_TYPE,
    ST_TOKEN,
    ST_MARK,
    ST_EXPIRE_EVENTS,
    ST_EXPIRE_TOKENS,
    ST_EXPIRE_STALE_DELIVERIES,
    ST_EXPIRE_STALE_SUBS,
    ST_EXPIRE_ORPHANS,
    ST_LOAD_TYPES,
    ST_LOAD_TOKENS,
    ST_LOAD_SUBS,
    ST_BACKLOG,
    ST_RETAINED_EXACT,
    ST_RETAINED_PREFIX,
    ST_RETAINED_WILDCARD,
    ST_GAP_SUB,
    ST_GAP_TOPIC_EXACT,
    ST_GAP_TOPIC_PREFIX,
    ST_GAP_TOPIC_WILDCARD,
    ST_COUNT
};

typedef struct {
    const char *name;
    const char *sql;
} s_statement_t;

//  Event columns read back, in this order, by pages.
#define S_EVENT_COLUMNS "e.pub_id, e.ts_us, e.topic, e.expires_at_us, e.header, e.body"

//  Retained pages and the topic gap check, for each way a topic matches:
//  exact, prefix (starts_with), wildcard (a regular expression made here).
#define S_RETAINED(PREDICATE)                                                                      \
    "SELECT " S_EVENT_COLUMNS " FROM telegraphy_events e WHERE " PREDICATE                         \
    " AND e.expires_at_us > 0 AND e.expires_at_us > $3::bigint AND e.pub_id > $2::bigint"          \
    " ORDER BY e.pub_id LIMIT $4::bigint"
#define S_GAP_TOPIC(MARK_PREDICATE, EVENT_PREDICATE)                                               \
    "SELECT count(*) > 0, coalesce(bool_or($2::bigint < m.dropped_upto OR"                         \
    " $2::bigint + 1 < m.store_began), false), min(m.store_began), max(m.dropped_upto),"           \
    " (SELECT min(e.pub_id) FROM telegraphy_events e WHERE " EVENT_PREDICATE                       \
    " AND e.expires_at_us > 0 AND e.expires_at_us > $3::bigint)"                                   \
    " FROM telegraphy_type_marks m WHERE " MARK_PREDICATE

static const s_statement_t s_statements[ST_COUNT] = {
    [ST_EVENT] = {"tg_event", "WITH mark AS (INSERT INTO telegraphy_type_marks (topic, store_began)"
                              " VALUES ($2::text, $1::bigint) ON CONFLICT (topic) DO NOTHING)"
                              " INSERT INTO telegraphy_events"
                              " (pub_id, topic, ts_us, expires_at_us, guaranteed, header, body)"
                              " VALUES ($1::bigint, $2::text, $3::bigint, $4::bigint, $5::boolean,"
                              " $6::bytea, $7::bytea) ON CONFLICT (pub_id) DO NOTHING"},
    //  $1 pub ids, $2 sub ids (parallel arrays): one delivery row per
    //  (event, client holding the sub id), the backlog counters raised.
    [ST_DELIVER] = {"tg_deliver",
                    "WITH pairs AS (SELECT DISTINCT p.pub_id, s.sub_key"
                    " FROM unnest($1::bigint[], $2::bigint[]) AS p (pub_id, sub_id)"
                    " JOIN telegraphy_subscriptions s ON s.sub_id = p.sub_id),"
                    " ins AS (INSERT INTO telegraphy_deliveries (sub_key, pub_id)"
                    " SELECT sub_key, pub_id FROM pairs ON CONFLICT DO NOTHING RETURNING sub_key),"
                    " cnt AS (SELECT sub_key, count(*) AS n FROM ins GROUP BY sub_key)"
                    " UPDATE telegraphy_subscriptions s SET backlog = s.backlog + cnt.n"
                    " FROM cnt WHERE s.sub_key = cnt.sub_key"},
    //  $1 sub ids touched by the batch, $2 the bound: the oldest rows over
    //  it go, the subscription's mark rises. Returns the rows dropped.
    [ST_TRIM] = {"tg_trim",
                 "WITH over AS (SELECT sub_key, backlog - $2::bigint AS excess"
                 " FROM telegraphy_subscriptions WHERE sub_id = ANY ($1::bigint[])"
                 " AND backlog > $2::bigint),"
                 " victims AS (SELECT o.sub_key, v.pub_id FROM over o CROSS JOIN LATERAL"
                 " (SELECT d.pub_id FROM telegraphy_deliveries d WHERE d.sub_key = o.sub_key"
                 " ORDER BY d.pub_id LIMIT o.excess) v),"
                 " del AS (DELETE FROM telegraphy_deliveries d USING victims v"
                 " WHERE d.sub_key = v.sub_key AND d.pub_id = v.pub_id"
                 " RETURNING d.sub_key, d.pub_id),"
                 " agg AS (SELECT sub_key, count(*) AS n, max(pub_id) AS upto FROM del"
                 " GROUP BY sub_key),"
                 " upd AS (UPDATE telegraphy_subscriptions s SET backlog = s.backlog - agg.n,"
                 " dropped = s.dropped + agg.n,"
                 " dropped_upto = greatest(s.dropped_upto, agg.upto)"
                 " FROM agg WHERE s.sub_key = agg.sub_key RETURNING agg.n)"
                 " SELECT coalesce(sum(n), 0)::bigint FROM upd"},
    //  Acks: the rows go, the counter follows, and an event without ttl
    //  that no other subscription is owed goes too. Returns the rows removed.
    [ST_ACK] = {"tg_ack",
                "WITH s AS (SELECT sub_key FROM telegraphy_subscriptions"
                " WHERE client_id = $1::text AND sub_id = $2::bigint),"
                " d AS (DELETE FROM telegraphy_deliveries d USING s WHERE d.sub_key = s.sub_key"
                " AND d.pub_id = ANY ($3::bigint[]) RETURNING d.sub_key, d.pub_id),"
                " u AS (UPDATE telegraphy_subscriptions t"
                " SET backlog = t.backlog - (SELECT count(*) FROM d)"
                " WHERE t.sub_key IN (SELECT sub_key FROM s) AND EXISTS (SELECT 1 FROM d)),"
                " e AS (DELETE FROM telegraphy_events ev USING d WHERE ev.pub_id = d.pub_id"
                " AND ev.expires_at_us = 0 AND NOT EXISTS (SELECT 1 FROM telegraphy_deliveries x"
                " WHERE x.pub_id = ev.pub_id AND x.sub_key <> d.sub_key))"
                " SELECT count(*) FROM d"},
    [ST_ACK_UPTO] =
        {"tg_ack_upto",
         "WITH s AS (SELECT sub_key FROM telegraphy_subscriptions"
         " WHERE client_id = $1::text AND sub_id = $2::bigint),"
         " d AS (DELETE FROM telegraphy_deliveries d USING s WHERE d.sub_key = s.sub_key"
         " AND d.pub_id <= $3::bigint RETURNING d.sub_key, d.pub_id),"
         " u AS (UPDATE telegraphy_subscriptions t"
         " SET backlog = t.backlog - (SELECT count(*) FROM d)"
         " WHERE t.sub_key IN (SELECT sub_key FROM s) AND EXISTS (SELECT 1 FROM d)),"
         " e AS (DELETE FROM telegraphy_events ev USING d WHERE ev.pub_id = d.pub_id"
         " AND ev.expires_at_us = 0 AND NOT EXISTS (SELECT 1 FROM"
         " telegraphy_deliveries x WHERE x.pub_id = ev.pub_id"
         " AND x.sub_key <> d.sub_key))"
         " SELECT count(*) FROM d"},
    [ST_SUB_UPSERT] = {"tg_sub_upsert",
                       "INSERT INTO telegraphy_subscriptions"
                       " (client_id, sub_id, topic, match, filter, last_seen_us)"
                       " VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::bigint)"
                       " ON CONFLICT (client_id, sub_id) DO UPDATE SET"
                       " last_seen_us = greatest(telegraphy_subscriptions.last_seen_us,"
                       " excluded.last_seen_us), topic = excluded.topic, match = excluded.match,"
                       " filter = excluded.filter RETURNING (xmax = 0)"},
    [ST_SUB_DELETE] = {"tg_sub_delete",
                       "WITH s AS (DELETE FROM telegraphy_subscriptions"
                       " WHERE client_id = $1::text AND sub_id = $2::bigint RETURNING sub_key),"
                       " d AS (DELETE FROM telegraphy_deliveries d USING s"
                       " WHERE d.sub_key = s.sub_key)"
                       " SELECT count(*) FROM s"},
    [ST_SUB_TOUCH] = {"tg_sub_touch", "UPDATE telegraphy_subscriptions"
                                      " SET last_seen_us = greatest(last_seen_us, $3::bigint)"
                                      " WHERE client_id = $1::text AND sub_id = $2::bigint"},
    [ST_TYPE] = {"tg_type",
                 "INSERT INTO telegraphy_types (name, definition) VALUES ($1::text, $2::bytea)"
                 " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition"},
    [ST_TOKEN] = {"tg_token",
                  "INSERT INTO telegraphy_spent_tokens (jti, exp) VALUES ($1::text, $2::bigint)"
                  " ON CONFLICT (jti) DO NOTHING"},
    [ST_MARK] = {"tg_mark",
                 "INSERT INTO telegraphy_type_marks (topic, store_began, dropped_upto)"
                 " VALUES ($1::text, $2::bigint, $2::bigint) ON CONFLICT (topic) DO UPDATE SET"
                 " dropped_upto = greatest(telegraphy_type_marks.dropped_upto,"
                 " excluded.dropped_upto)"},
    //  Expiry, each bounded by $2 rows. Returns (events, delivery rows).
    [ST_EXPIRE_EVENTS] =
        {"tg_expire_events",
         "WITH gone AS (DELETE FROM telegraphy_events WHERE pub_id IN (SELECT pub_id"
         " FROM telegraphy_events WHERE expires_at_us > 0 AND expires_at_us <= $1::bigint"
         " ORDER BY expires_at_us LIMIT $2::bigint) RETURNING pub_id, topic),"
         " marks AS (UPDATE telegraphy_type_marks m SET dropped_upto = greatest(m.dropped_upto,"
         " g.upto) FROM (SELECT topic, max(pub_id) AS upto FROM gone GROUP BY topic) g"
         " WHERE m.topic = g.topic),"
         " dels AS (DELETE FROM telegraphy_deliveries d USING gone WHERE d.pub_id = gone.pub_id"
         " RETURNING d.sub_key, d.pub_id),"
         " subs AS (UPDATE telegraphy_subscriptions s SET backlog = s.backlog - x.n,"
         " dropped = s.dropped + x.n, dropped_upto = greatest(s.dropped_upto, x.upto)"
         " FROM (SELECT sub_key, count(*) AS n, max(pub_id) AS upto FROM dels GROUP BY sub_key) x"
         " WHERE s.sub_key = x.sub_key)"
         " SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM dels)"},
    [ST_EXPIRE_TOKENS] = {"tg_expire_tokens",
                          "WITH gone AS (DELETE FROM telegraphy_spent_tokens WHERE jti IN"
                          " (SELECT jti FROM telegraphy_spent_tokens WHERE exp < $1::bigint"
                          " ORDER BY exp LIMIT $2::bigint) RETURNING 1)"
                          " SELECT count(*), 0::bigint FROM gone"},
    [ST_EXPIRE_STALE_DELIVERIES] =
        {"tg_expire_stale_deliveries",
         "WITH gone AS (DELETE FROM telegraphy_deliveries d WHERE (d.sub_key, d.pub_id) IN"
         " (SELECT x.sub_key, x.pub_id FROM telegraphy_deliveries x WHERE x.sub_key IN"
         " (SELECT sub_key FROM telegraphy_subscriptions WHERE last_seen_us < $1::bigint)"
         " LIMIT $2::bigint) RETURNING 1)"
         " SELECT count(*), 0::bigint FROM gone"},
    [ST_EXPIRE_STALE_SUBS] =
        {"tg_expire_stale_subs",
         "WITH gone AS (DELETE FROM telegraphy_subscriptions WHERE sub_key IN"
         " (SELECT s.sub_key FROM telegraphy_subscriptions s WHERE s.last_seen_us < $1::bigint"
         " AND NOT EXISTS (SELECT 1 FROM telegraphy_deliveries d WHERE d.sub_key = s.sub_key)"
         " ORDER BY s.last_seen_us LIMIT $2::bigint) RETURNING 1)"
         " SELECT count(*), 0::bigint FROM gone"},
    [ST_EXPIRE_ORPHANS] =
        {"tg_expire_orphans",
         "WITH gone AS (DELETE FROM telegraphy_events WHERE pub_id IN (SELECT e.pub_id"
         " FROM telegraphy_events e WHERE e.expires_at_us = 0 AND NOT EXISTS"
         " (SELECT 1 FROM telegraphy_deliveries d WHERE d.pub_id = e.pub_id)"
         " ORDER BY e.pub_id LIMIT $2::bigint) RETURNING 1)"
         " SELECT count(*), 0::bigint + $1::bigint * 0 FROM gone"},
    [ST_LOAD_TYPES] = {"tg_load_types",
                       "SELECT name, definition FROM telegraphy_types ORDER BY name"},
    [ST_LOAD_TOKENS] = {"tg_load_tokens",
                        "SELECT jti, exp FROM telegraphy_spent_tokens WHERE exp >= $1::bigint"
                        " ORDER BY jti"},
    [ST_LOAD_SUBS] = {"tg_load_subs",
                      "SELECT sub_key, client_id, sub_id, topic, match, filter, last_seen_us,"
                      " backlog, dropped_upto FROM telegraphy_subscriptions"
                      " WHERE sub_key > $1::bigint ORDER BY sub_key LIMIT $2::bigint"},
    [ST_BACKLOG] = {"tg_backlog", "SELECT " S_EVENT_COLUMNS " FROM telegraphy_subscriptions s"
                                  " JOIN telegraphy_deliveries d ON d.sub_key = s.sub_key"
                                  " JOIN telegraphy_events e ON e.pub_id = d.pub_id"
                                  " WHERE s.client_id = $1::text AND s.sub_id = $2::bigint"
                                  " AND d.pub_id > $3::bigint"
                                  " AND (e.expires_at_us = 0 OR e.expires_at_us > $5::bigint)"
                                  " ORDER BY d.pub_id LIMIT $4::bigint"},
    [ST_RETAINED_EXACT] = {"tg_retained_exact", S_RETAINED("e.topic = $1::text")},
    [ST_RETAINED_PREFIX] = {"tg_retained_prefix", S_RETAINED("starts_with(e.topic, $1::text)")},
    [ST_RETAINED_WILDCARD] = {"tg_retained_wildcard", S_RETAINED("e.topic ~ $1::text")},
    [ST_GAP_SUB] = {"tg_gap_sub",
                    "SELECT s.dropped_upto, (SELECT min(d.pub_id) FROM telegraphy_deliveries d"
                    " JOIN telegraphy_events e ON e.pub_id = d.pub_id WHERE d.sub_key = s.sub_key"
                    " AND (e.expires_at_us = 0 OR e.expires_at_us > $4::bigint)),"
                    " $3::bigint < s.dropped_upto"
                    " FROM telegraphy_subscriptions s"
                    " WHERE s.client_id = $1::text AND s.sub_id = $2::bigint"},
    [ST_GAP_TOPIC_EXACT] = {"tg_gap_topic_exact",
                            S_GAP_TOPIC("m.topic = $1::text", "e.topic = $1::text")},
    [ST_GAP_TOPIC_PREFIX] = {"tg_gap_topic_prefix", S_GAP_TOPIC("starts_with(m.topic, $1::text)",
                                                                "starts_with(e.topic, $1::text)")},
    [ST_GAP_TOPIC_WILDCARD] = {"tg_gap_topic_wildcard",
                               S_GAP_TOPIC("m.topic ~ $1::text", "e.topic ~ $1::text")},
};

//  The parameters of one statement, rendered at enqueue (owned).
typedef struct {
    int count;
    char *values[S_PARAMS_MAX];
    int lengths[S_PARAMS_MAX];
    int formats[S_PARAMS_MAX]; /* 0 text, 1 binary (bytea) */
} s_params_t;

typedef struct s_op s_op_t;
struct s_op {
    s_kind_t kind;             /* what it is */
    int statement;             /* its statement (ST_*), for all but OP_EXPIRE */
    s_params_t params;         /* its parameters */
    persist_store_done_fn *fn; /* its one callback */
    void *arg;                 /* fn's argument */
    uint64_t pub_id;           /* OP_EVENT: for the delivery rows */
    bool guaranteed;           /* OP_EVENT */
    uint64_t *sub_ids;         /* OP_EVENT: owned copy */
    size_t sub_id_count;       /* OP_EVENT */
    size_t asked;              /* OP_ACK: ids asked */
    uint64_t count;            /* the statement's count, kept until COMMIT */
    bool more;                 /* OP_EXPIRE: a limit was reached */
    bool done;                 /* its callback has run */
    s_op_t *next;              /* in the queue or the batch */
};

typedef struct {
    persist_store_t *store; /* back pointer */
    s_op_t *ops;            /* owned list, in enqueue order */
    size_t size;            /* operations */
    size_t pending;         /* pipeline entries not yet answered */
    bool has_writes;        /* sent BEGIN .. COMMIT */
    bool committed;         /* COMMIT returned */
    bool failed;            /* something failed: every op not yet answered hears -1 */
    char error[256];        /* why */
    int64_t sent_ms;        /* when it was sent */
} s_batch_t;

struct _persist_store_t {
    persist_db_t *db;              /* borrowed */
    persist_store_config_t config; /* with defaults */
    s_op_t *head, *tail;           /* the queue (owned) */
    size_t queued;                 /* its length */
    s_batch_t *batch;              /* the batch in flight, or NULL (owned while pending) */
    bool destroying;               /* in persist_store_destroy */
    persist_store_stats_t stats;   /* counters (queued/in_flight filled on read) */
};

/* --- parameters --- */

static void s_param_take(s_params_t *params, char *value, int length, int format)
{
    tg_check(params->count < S_PARAMS_MAX);
    params->values[params->count] = value;
    params->lengths[params->count] = length;
    params->formats[params->count] = format;
    params->count++;
}

static void s_param_text(s_params_t *params, const char *text)
{
    s_param_take(params, tg_strdup(text ? text : ""), 0, 0);
}

static void s_param_int(s_params_t *params, int64_t value)
{
    char *text = tg_malloc(24);
    snprintf(text, 24, "%" PRId64, value);
    s_param_take(params, text, 0, 0);
}

static void s_param_bool(s_params_t *params, bool value)
{
    s_param_text(params, value ? "true" : "false");
}

static void s_param_bytes(s_params_t *params, const uint8_t *data, size_t size)
{
    tg_check(size <= INT32_MAX);
    s_param_take(params, tg_memdup(size ? (const void *)data : "", size), (int)size, 1);
}

//  A bigint[] literal: {1,2,3}.
static char *s_array_literal(const uint64_t *ids, size_t count)
{
    size_t size = 3 + count * 21;
    char *text = tg_malloc(size);
    size_t used = 0;
    text[used++] = '{';
    for (size_t i = 0; i < count; i++)
        used += (size_t)snprintf(text + used, size - used, "%s%" PRIu64, i ? "," : "", ids[i]);
    text[used++] = '}';
    text[used] = '\0';
    return text;
}

static void s_params_clear(s_params_t *params)
{
    for (int i = 0; i < params->count; i++)
        free(params->values[i]);
    params->count = 0;
}

/* --- operations --- */

static s_op_t *s_op_new(s_kind_t kind, int statement, persist_store_done_fn *fn, void *arg)
{
    s_op_t *op = tg_new(s_op_t);
    op->kind = kind;
    op->statement = statement;
    op->fn = fn;
    op->arg = arg;
    return op;
}

static void s_op_destroy(s_op_t *op)
{
    s_params_clear(&op->params);
    free(op->sub_ids);
    free(op);
}

//  Answers the op (once); `result` carries status, counts or rows.
static void s_op_answer(persist_store_t *self, s_op_t *op, persist_store_result_t *result)
{
    if (op->done)
        return;
    op->done = true;
    if (result->status != 0)
        self->stats.failed++;
    else if (!S_IS_READ(op->kind))
        self->stats.committed++;
    if (op->fn)
        op->fn(result, op->arg);
}

static void s_op_fail(persist_store_t *self, s_op_t *op, const char *error)
{
    persist_store_result_t result = {.status = -1, .error = error};
    s_op_answer(self, op, &result);
}

//  Queues op, or answers -1 at once without a callback (and frees it).
static int s_enqueue(persist_store_t *self, s_op_t *op)
{
    persist_db_state_t state = persist_db_state(self->db);
    if (self->destroying || state == PERSIST_DB_DOWN || state == PERSIST_DB_FAILED) {
        self->stats.rejected_down++;
        s_op_destroy(op);
        return -1;
    }
    if (self->queued >= self->config.queue_max) {
        self->stats.rejected_full++;
        s_op_destroy(op);
        return -1;
    }
    if (self->tail)
        self->tail->next = op;
    else
        self->head = op;
    self->tail = op;
    self->queued++;
    return 0;
}

//  Fails every queued op (the database went down, or the store is going).
static void s_fail_queue(persist_store_t *self, const char *error)
{
    while (self->head) {
        s_op_t *op = self->head;
        self->head = op->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        s_op_fail(self, op, error);
        s_op_destroy(op);
    }
}

/* --- results (binary format) --- */

static int64_t s_int8(const PGresult *res, int row, int column)
{
    if (PQgetisnull(res, row, column) || PQgetlength(res, row, column) != 8)
        return 0;
    uint64_t raw;
    memcpy(&raw, PQgetvalue(res, row, column), 8);
    return (int64_t)be64toh(raw);
}

static bool s_bool(const PGresult *res, int row, int column)
{
    return !PQgetisnull(res, row, column) && PQgetlength(res, row, column) == 1 &&
           PQgetvalue(res, row, column)[0] != 0;
}

static bool s_ok(const PGresult *res)
{
    if (!res)
        return false;
    ExecStatusType status = PQresultStatus(res);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

//  Why a result failed, for the batch's error text.
static void s_note_failure(s_batch_t *batch, const PGresult *res)
{
    if (batch->failed)
        return;
    batch->failed = true;
    const char *why = !res ? "the database connection was lost"
                      : PQresultStatus(res) == PGRES_PIPELINE_ABORTED ? "the batch was aborted"
                                                                      : PQresultErrorMessage(res);
    snprintf(batch->error, sizeof(batch->error), "%s", why);
    batch->error[strcspn(batch->error, "\n")] = '\0';
}

//  Answers a read op from its rows.
static void s_answer_read(persist_store_t *self, s_op_t *op, const PGresult *res)
{
    persist_store_result_t result = {.status = 0, .error = ""};
    int rows = PQntuples(res);
    result.size = (size_t)rows;
    void *array = NULL;
    switch (op->kind) {
    case OP_BACKLOG:
    case OP_RETAINED: {
        persist_store_event_row_t *events = tg_calloc((size_t)rows + 1, sizeof(*events));
        for (int i = 0; i < rows; i++)
            events[i] = (persist_store_event_row_t){
                .pub_id = (uint64_t)s_int8(res, i, 0),
                .ts_us = s_int8(res, i, 1),
                .topic = PQgetvalue(res, i, 2),
                .expires_at_us = s_int8(res, i, 3),
                .header = (const uint8_t *)PQgetvalue(res, i, 4),
                .header_size = (size_t)PQgetlength(res, i, 4),
                .body = (const uint8_t *)PQgetvalue(res, i, 5),
                .body_size = (size_t)PQgetlength(res, i, 5),
            };
        result.events = events;
        result.more = op->count > 0 && (uint64_t)rows >= op->count;
        array = events;
        break;
    }
    case OP_LOAD_TYPES: {
        persist_store_type_row_t *types = tg_calloc((size_t)rows + 1, sizeof(*types));
        for (int i = 0; i < rows; i++)
            types[i] = (persist_store_type_row_t){
                .name = PQgetvalue(res, i, 0),
                .definition = (const uint8_t *)PQgetvalue(res, i, 1),
                .definition_size = (size_t)PQgetlength(res, i, 1),
            };
        result.types = types;
        array = types;
        break;
    }
    case OP_LOAD_TOKENS: {
        persist_store_token_row_t *tokens = tg_calloc((size_t)rows + 1, sizeof(*tokens));
        for (int i = 0; i < rows; i++)
            tokens[i] =
                (persist_store_token_row_t){.jti = PQgetvalue(res, i, 0), .exp = s_int8(res, i, 1)};
        result.tokens = tokens;
        array = tokens;
        break;
    }
    case OP_LOAD_SUBS: {
        persist_store_subscription_row_t *subs = tg_calloc((size_t)rows + 1, sizeof(*subs));
        for (int i = 0; i < rows; i++)
            subs[i] = (persist_store_subscription_row_t){
                .key = s_int8(res, i, 0),
                .client_id = PQgetvalue(res, i, 1),
                .sub_id = (uint64_t)s_int8(res, i, 2),
                .topic = PQgetvalue(res, i, 3),
                .match = PQgetvalue(res, i, 4),
                .filter = PQgetvalue(res, i, 5),
                .last_seen_us = s_int8(res, i, 6),
                .backlog = s_int8(res, i, 7),
                .dropped_upto = (uint64_t)s_int8(res, i, 8),
            };
        result.subscriptions = subs;
        result.more = op->count > 0 && (uint64_t)rows >= op->count;
        array = subs;
        break;
    }
    case OP_GAP_SUB:
        result.size = 0;
        if (rows == 1) {
            result.gap.found = true;
            result.gap.dropped_upto = (uint64_t)s_int8(res, 0, 0);
            result.gap.has_oldest = !PQgetisnull(res, 0, 1);
            result.gap.oldest = (uint64_t)s_int8(res, 0, 1);
            result.gap.gap = s_bool(res, 0, 2);
        }
        break;
    case OP_GAP_TOPIC:
        result.size = 0;
        if (rows == 1) {
            result.gap.found = s_bool(res, 0, 0);
            result.gap.gap = s_bool(res, 0, 1);
            result.gap.store_began = (uint64_t)s_int8(res, 0, 2);
            result.gap.dropped_upto = (uint64_t)s_int8(res, 0, 3);
            result.gap.has_oldest = !PQgetisnull(res, 0, 4);
            result.gap.oldest = (uint64_t)s_int8(res, 0, 4);
        }
        break;
    default:
        tg_check(false);
    }
    s_op_answer(self, op, &result);
    free(array);
}

/* --- batches --- */

static void s_send_batch(persist_store_t *self, int64_t now_ms);

//  The batch's last pipeline entry was answered: whatever was not answered
//  yet fails, the batch goes, and the next one is sent.
static void s_batch_finish(persist_store_t *self, s_batch_t *batch, int64_t now_ms)
{
    if (batch->has_writes && !batch->committed)
        s_note_failure(batch, NULL);
    self->stats.batches++;
    if (batch->failed) {
        self->stats.batches_failed++;
        tg_log_error("persist: batch failed ops=%zu error=\"%s\"", batch->size, batch->error);
    }
    self->batch = NULL;
    while (batch->ops) {
        s_op_t *op = batch->ops;
        batch->ops = op->next;
        s_op_fail(self, op, batch->error[0] ? batch->error : "the batch was not completed");
        s_op_destroy(op);
    }
    free(batch);
    if (!self->destroying)
        s_send_batch(self, now_ms);
}

//  Every pipeline entry of a batch ends here.
static void s_entry_done(s_batch_t *batch, int64_t now_ms)
{
    tg_check(batch->pending > 0);
    if (--batch->pending == 0)
        s_batch_finish(batch->store, batch, now_ms);
}

//  BEGIN and the batch-level statements: only their failure matters.
static void s_on_begin(const PGresult *res, int64_t now_ms, void *arg)
{
    s_batch_t *batch = arg;
    if (!s_ok(res))
        s_note_failure(batch, res);
    s_entry_done(batch, now_ms);
}

static void s_on_trim(const PGresult *res, int64_t now_ms, void *arg)
{
    s_batch_t *batch = arg;
    if (!s_ok(res))
        s_note_failure(batch, res);
    else if (PQntuples(res) == 1)
        batch->store->stats.overflow_dropped += (uint64_t)s_int8(res, 0, 0);
    s_entry_done(batch, now_ms);
}

static void s_on_commit(const PGresult *res, int64_t now_ms, void *arg)
{
    s_batch_t *batch = arg;
    persist_store_t *self = batch->store;
    if (!s_ok(res))
        s_note_failure(batch, res);
    else if (!batch->failed) {
        batch->committed = true;
        //  On disk: every write is answered now, in enqueue order.
        for (s_op_t *op = batch->ops; op; op = op->next) {
            if (S_IS_READ(op->kind))
                continue;
            persist_store_result_t result = {
                .status = 0, .error = "", .count = op->count, .more = op->more};
            switch (op->kind) {
            case OP_EVENT:
                self->stats.events_stored++;
                break;
            case OP_ACK:
                result.ignored = op->asked > op->count ? op->asked - op->count : 0;
                self->stats.acks_removed += op->count;
                self->stats.acks_ignored += result.ignored;
                break;
            case OP_ACK_UPTO:
                self->stats.acks_removed += op->count;
                break;
            case OP_EXPIRE:
                self->stats.expired += op->count;
                break;
            default:
                break;
            }
            s_op_answer(self, op, &result);
        }
    }
    s_entry_done(batch, now_ms);
}

static void s_on_sync(const PGresult *res, int64_t now_ms, void *arg)
{
    (void)res;
    s_entry_done(arg, now_ms);
}

//  An op's statement: the callback's arg (allocated per statement sent).
typedef struct {
    s_op_t *op;
    s_batch_t *batch;
} s_op_ref_t;

static void s_on_op(const PGresult *res, int64_t now_ms, void *arg)
{
    s_op_ref_t *ref = arg;
    s_op_t *op = ref->op;
    s_batch_t *batch = ref->batch;
    persist_store_t *self = batch->store;
    if (!s_ok(res)) {
        s_note_failure(batch, res);
        if (S_IS_READ(op->kind))
            s_op_fail(self, op, batch->error);
    } else if (S_IS_READ(op->kind)) {
        s_answer_read(self, op, res);
    } else if (op->kind == OP_EXPIRE) {
        if (PQntuples(res) == 1) {
            int64_t removed = s_int8(res, 0, 0);
            op->count += (uint64_t)(removed + s_int8(res, 0, 1));
            //  The limit is the op's last parameter.
            if (removed >= atoll(op->params.values[1]))
                op->more = true;
        }
    } else if (op->kind == OP_SUB_UPSERT) {
        op->count = PQntuples(res) == 1 && s_bool(res, 0, 0) ? 1 : 0;
    } else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
               PQnfields(res) >= 1) {
        op->count = (uint64_t)s_int8(res, 0, 0);
    } else {
        op->count = strtoull(PQcmdTuples((PGresult *)res), NULL, 10);
    }
    free(ref);
    s_entry_done(batch, now_ms);
}

static int s_send(persist_store_t *self, s_batch_t *batch, int statement, const s_params_t *params,
                  persist_db_result_fn *fn, void *arg)
{
    if (persist_db_send(self->db, s_statements[statement].name, false, params ? params->count : 0,
                        params ? (const char *const *)params->values : NULL,
                        params ? params->lengths : NULL, params ? params->formats : NULL, fn,
                        arg) != 0)
        return -1;
    batch->pending++;
    return 0;
}

static int s_send_op(persist_store_t *self, s_batch_t *batch, s_op_t *op, int statement,
                     const s_params_t *params)
{
    s_op_ref_t *ref = tg_new(s_op_ref_t);
    ref->op = op;
    ref->batch = batch;
    if (s_send(self, batch, statement, params, s_on_op, ref) != 0) {
        free(ref);
        return -1;
    }
    return 0;
}

static int s_send_sql(persist_store_t *self, s_batch_t *batch, const char *sql,
                      persist_db_result_fn *fn)
{
    if (persist_db_send(self->db, sql, true, 0, NULL, NULL, NULL, fn, batch) != 0)
        return -1;
    batch->pending++;
    return 0;
}

//  The deliveries and the backlog bound of the guaranteed events among the
//  ops from `first` up to (not including) `until`: sent right after those
//  events and before the next write of another kind, so that an ack or an
//  UNSUBSCRIBE enqueued after an event sees its rows, and a subscription
//  made after an event is not owed it.
static int s_send_deliveries(persist_store_t *self, s_batch_t *batch, s_op_t *first, s_op_t *until)
{
    size_t pairs = 0;
    for (s_op_t *op = first; op != until; op = op->next)
        if (op->kind == OP_EVENT && op->guaranteed)
            pairs += op->sub_id_count;
    if (pairs == 0)
        return 0;
    uint64_t *pub_ids = tg_malloc(pairs * sizeof(uint64_t));
    uint64_t *sub_ids = tg_malloc(pairs * sizeof(uint64_t));
    size_t n = 0;
    for (s_op_t *op = first; op != until; op = op->next)
        if (op->kind == OP_EVENT && op->guaranteed)
            for (size_t i = 0; i < op->sub_id_count; i++) {
                pub_ids[n] = op->pub_id;
                sub_ids[n] = op->sub_ids[i];
                n++;
            }
    s_params_t deliver = {0};
    s_param_take(&deliver, s_array_literal(pub_ids, n), 0, 0);
    s_param_take(&deliver, s_array_literal(sub_ids, n), 0, 0);
    s_params_t trim = {0};
    s_param_take(&trim, s_array_literal(sub_ids, n), 0, 0);
    s_param_int(&trim, self->config.backlog_max);
    int rc = s_send(self, batch, ST_DELIVER, &deliver, s_on_begin, batch);
    if (rc == 0)
        rc = s_send(self, batch, ST_TRIM, &trim, s_on_trim, batch);
    s_params_clear(&deliver);
    s_params_clear(&trim);
    free(pub_ids);
    free(sub_ids);
    return rc;
}

static int s_send_expire(persist_store_t *self, s_batch_t *batch, s_op_t *op)
{
    //  params: [0] now_us, [1] limit, [2] now_s (tokens), [3] stale_before_us
    static const int statements[] = {ST_EXPIRE_EVENTS, ST_EXPIRE_TOKENS, ST_EXPIRE_STALE_DELIVERIES,
                                     ST_EXPIRE_STALE_SUBS, ST_EXPIRE_ORPHANS};
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        s_params_t params = {0};
        int first =
            statements[i] == ST_EXPIRE_TOKENS ? 2
            : statements[i] == ST_EXPIRE_STALE_DELIVERIES || statements[i] == ST_EXPIRE_STALE_SUBS
                ? 3
                : 0;
        params.count = 2;
        params.values[0] = op->params.values[first];
        params.values[1] = op->params.values[1];
        if (s_send_op(self, batch, op, statements[i], &params) != 0)
            return -1;
    }
    return 0;
}

//  Sends the next batch when none is in flight and there is work.
static void s_send_batch(persist_store_t *self, int64_t now_ms)
{
    if (self->batch || !self->head || persist_db_state(self->db) != PERSIST_DB_READY)
        return;
    s_batch_t *batch = tg_new(s_batch_t);
    batch->store = self;
    batch->sent_ms = now_ms;
    //  Take ops: an expire alone, else up to batch_max ops up to the next expire.
    s_op_t **tail = &batch->ops;
    bool expire = self->head->kind == OP_EXPIRE;
    while (self->head && batch->size < self->config.batch_max) {
        if (batch->size > 0 && (expire || self->head->kind == OP_EXPIRE))
            break;
        s_op_t *op = self->head;
        self->head = op->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        op->next = NULL;
        *tail = op;
        tail = &op->next;
        batch->size++;
        if (!S_IS_READ(op->kind))
            batch->has_writes = true;
    }
    self->batch = batch;
    self->stats.last_batch_size = batch->size;
    if (batch->size > self->stats.max_batch_size)
        self->stats.max_batch_size = batch->size;

    int rc = 0;
    if (batch->has_writes) {
        rc = s_send_sql(self, batch, "BEGIN", s_on_begin);
        s_op_t *events = NULL; //  the first of the current run of events
        for (s_op_t *op = batch->ops; op && rc == 0; op = op->next) {
            if (S_IS_READ(op->kind))
                continue;
            if (op->kind != OP_EVENT && events) {
                rc = s_send_deliveries(self, batch, events, op);
                events = NULL;
                if (rc != 0)
                    break;
            }
            if (op->kind == OP_EVENT && !events)
                events = op;
            rc = op->kind == OP_EXPIRE ? s_send_expire(self, batch, op)
                                       : s_send_op(self, batch, op, op->statement, &op->params);
        }
        if (rc == 0 && events)
            rc = s_send_deliveries(self, batch, events, NULL);
        if (rc == 0)
            rc = s_send_sql(self, batch, "COMMIT", s_on_commit);
    }
    for (s_op_t *op = batch->ops; op && rc == 0; op = op->next)
        if (S_IS_READ(op->kind))
            rc = s_send_op(self, batch, op, op->statement, &op->params);
    if (rc == 0 && persist_db_sync(self->db, now_ms, s_on_sync, batch) == 0) {
        batch->pending++;
        return;
    }
    //  Could not send it whole: fail it. What was sent is answered (with
    //  NULL) by the disconnect, which finishes the batch.
    snprintf(batch->error, sizeof(batch->error), "cannot send the batch");
    batch->failed = true;
    if (batch->pending == 0)
        s_batch_finish(self, batch, now_ms);
    else
        persist_db_disconnect(self->db, now_ms, "cannot send a batch");
}

//  Down: what is queued fails (the wire side rejects it). Ready: what was
//  queued while connecting goes out.
static void s_on_db_state(persist_db_state_t state, int64_t now_ms, void *arg)
{
    persist_store_t *self = arg;
    if (state == PERSIST_DB_DOWN || state == PERSIST_DB_FAILED)
        s_fail_queue(self, "the database is unavailable");
    else if (state == PERSIST_DB_READY)
        s_send_batch(self, now_ms);
}

/* --- public --- */

persist_store_t *persist_store_new(persist_db_t *db, const persist_store_config_t *config)
{
    assert(db);
    persist_store_t *self = tg_new(persist_store_t);
    self->db = db;
    if (config)
        self->config = *config;
    if (self->config.queue_max == 0)
        self->config.queue_max = PERSIST_STORE_QUEUE_MAX;
    if (self->config.batch_max == 0)
        self->config.batch_max = PERSIST_STORE_BATCH_MAX;
    if (self->config.backlog_max <= 0)
        self->config.backlog_max = PERSIST_STORE_BACKLOG_MAX;
    if (self->config.persistent_ttl_s <= 0)
        self->config.persistent_ttl_s = PERSIST_STORE_PERSISTENT_TTL_S;
    for (int i = 0; i < ST_COUNT; i++)
        tg_check(persist_db_prepare(db, s_statements[i].name, s_statements[i].sql) == 0);
    tg_check(persist_db_watch(db, s_on_db_state, self) == 0);
    return self;
}

void persist_store_destroy(persist_store_t **self_p)
{
    assert(self_p);
    persist_store_t *self = *self_p;
    if (!self)
        return;
    self->destroying = true;
    persist_db_unwatch(self->db, s_on_db_state, self);
    if (self->batch)
        persist_db_disconnect(self->db, 0, "persist is shutting down");
    s_fail_queue(self, "persist is shutting down");
    free(self);
    *self_p = NULL;
}

void persist_store_flush(persist_store_t *self, int64_t now_ms)
{
    assert(self);
    s_send_batch(self, now_ms);
}

int persist_store_event(persist_store_t *self, const persist_store_event_t *event,
                        persist_store_done_fn *fn, void *arg)
{
    assert(self && event && event->topic);
    if (event->sub_id_count > PERSIST_STORE_EVENT_SUBS_MAX || event->pub_id == 0)
        return -1;
    s_op_t *op = s_op_new(OP_EVENT, ST_EVENT, fn, arg);
    op->pub_id = event->pub_id;
    op->guaranteed = event->guaranteed;
    if (event->guaranteed && event->sub_id_count) {
        op->sub_ids = tg_memdup(event->sub_ids, event->sub_id_count * sizeof(uint64_t));
        op->sub_id_count = event->sub_id_count;
    }
    s_param_int(&op->params, (int64_t)event->pub_id);
    s_param_text(&op->params, event->topic);
    s_param_int(&op->params, event->ts_us);
    s_param_int(&op->params, event->expires_at_us > 0 ? event->expires_at_us : 0);
    s_param_bool(&op->params, event->guaranteed);
    s_param_bytes(&op->params, event->header, event->header_size);
    s_param_bytes(&op->params, event->body, event->body_size);
    return s_enqueue(self, op);
}

int persist_store_ack(persist_store_t *self, const char *client_id, uint64_t sub_id,
                      const uint64_t *pub_ids, size_t count, persist_store_done_fn *fn, void *arg)
{
    assert(self && client_id && (pub_ids || count == 0));
    if (count > PERSIST_STORE_ACK_IDS_MAX)
        return -1;
    s_op_t *op = s_op_new(OP_ACK, ST_ACK, fn, arg);
    op->asked = count;
    s_param_text(&op->params, client_id);
    s_param_int(&op->params, (int64_t)sub_id);
    s_param_take(&op->params, s_array_literal(pub_ids, count), 0, 0);
    return s_enqueue(self, op);
}

int persist_store_ack_upto(persist_store_t *self, const char *client_id, uint64_t sub_id,
                           uint64_t upto, persist_store_done_fn *fn, void *arg)
{
    assert(self && client_id);
    s_op_t *op = s_op_new(OP_ACK_UPTO, ST_ACK_UPTO, fn, arg);
    s_param_text(&op->params, client_id);
    s_param_int(&op->params, (int64_t)sub_id);
    s_param_int(&op->params, (int64_t)upto);
    return s_enqueue(self, op);
}

int persist_store_subscription_upsert(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                      const char *topic, const char *match, const char *filter,
                                      int64_t now_us, persist_store_done_fn *fn, void *arg)
{
    assert(self && client_id && topic && match);
    s_op_t *op = s_op_new(OP_SUB_UPSERT, ST_SUB_UPSERT, fn, arg);
    s_param_text(&op->params, client_id);
    s_param_int(&op->params, (int64_t)sub_id);
    s_param_text(&op->params, topic);
    s_param_text(&op->params, match);
    s_param_text(&op->params, filter);
    s_param_int(&op->params, now_us);
    return s_enqueue(self, op);
}

int persist_store_subscription_delete(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                      persist_store_done_fn *fn, void *arg)
{
    assert(self && client_id);
    s_op_t *op = s_op_new(OP_SUB_DELETE, ST_SUB_DELETE, fn, arg);
    s_param_text(&op->params, client_id);
    s_param_int(&op->params, (int64_t)sub_id);
    return s_enqueue(self, op);
}

int persist_store_subscription_touch(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                     int64_t now_us, persist_store_done_fn *fn, void *arg)
{
    assert(self && client_id);
    s_op_t *op = s_op_new(OP_SUB_TOUCH, ST_SUB_TOUCH, fn, arg);
    s_param_text(&op->params, client_id);
    s_param_int(&op->params, (int64_t)sub_id);
    s_param_int(&op->params, now_us);
    return s_enqueue(self, op);
}

int persist_store_register_type(persist_store_t *self, const char *name, const uint8_t *definition,
                                size_t size, persist_store_done_fn *fn, void *arg)
{
    assert(self && name && (definition || size == 0));
    s_op_t *op = s_op_new(OP_TYPE, ST_TYPE, fn, arg);
    s_param_text(&op->params, name);
    s_param_bytes(&op->params, definition, size);
    return s_enqueue(self, op);
}

int persist_store_spend_token(persist_store_t *self, const char *jti, int64_t exp,
                              persist_store_done_fn *fn, void *arg)
{
    assert(self && jti);
    s_op_t *op = s_op_new(OP_TOKEN, ST_TOKEN, fn, arg);
    s_param_text(&op->params, jti);
    s_param_int(&op->params, exp);
    return s_enqueue(self, op);
}

int persist_store_mark_dropped(persist_store_t *self, const char *topic, uint64_t upto,
                               persist_store_done_fn *fn, void *arg)
{
    assert(self && topic);
    s_op_t *op = s_op_new(OP_MARK, ST_MARK, fn, arg);
    s_param_text(&op->params, topic);
    s_param_int(&op->params, (int64_t)upto);
    return s_enqueue(self, op);
}

int persist_store_expire(persist_store_t *self, int64_t now_us, int64_t limit,
                         persist_store_done_fn *fn, void *arg)
{
    assert(self);
    if (limit <= 0)
        return -1;
    s_op_t *op = s_op_new(OP_EXPIRE, -1, fn, arg);
    s_param_int(&op->params, now_us);
    s_param_int(&op->params, limit);
    s_param_int(&op->params, now_us / 1000000);
    s_param_int(&op->params, now_us - self->config.persistent_ttl_s * 1000000);
    return s_enqueue(self, op);
}

int persist_store_load_types(persist_store_t *self, persist_store_done_fn *fn, void *arg)
{
    assert(self);
    return s_enqueue(self, s_op_new(OP_LOAD_TYPES, ST_LOAD_TYPES, fn, arg));
}

int persist_store_load_spent_tokens(persist_store_t *self, int64_t now_us,
                                    persist_store_done_fn *fn, void *arg)
{
    assert(self);
    s_op_t *op = s_op_new(OP_LOAD_TOKENS, ST_LOAD_TOKENS, fn, arg);
    s_param_int(&op->params, now_us / 1000000);
    return s_enqueue(self, op);
}

int persist_store_load_subscriptions(persist_store_t *self, int64_t after_key, size_t limit,
                                     persist_store_done_fn *fn, void *arg)
{
    assert(self);
    if (limit == 0 || limit > PERSIST_STORE_PAGE_MAX)
        return -1;
    s_op_t *op = s_op_new(OP_LOAD_SUBS, ST_LOAD_SUBS, fn, arg);
    op->count = limit; //  a read's count is its page size (for `more`)
    s_param_int(&op->params, after_key);
    s_param_int(&op->params, (int64_t)limit);
    return s_enqueue(self, op);
}

int persist_store_backlog_page(persist_store_t *self, const char *client_id, uint64_t sub_id,
                               uint64_t after, size_t limit, int64_t now_us,
                               persist_store_done_fn *fn, void *arg)
{
    assert(self && client_id);
    if (limit == 0 || limit > PERSIST_STORE_PAGE_MAX)
        return -1;
    s_op_t *op = s_op_new(OP_BACKLOG, ST_BACKLOG, fn, arg);
    op->count = limit;
    s_param_text(&op->params, client_id);
    s_param_int(&op->params, (int64_t)sub_id);
    s_param_int(&op->params, (int64_t)after);
    s_param_int(&op->params, (int64_t)limit);
    s_param_int(&op->params, now_us);
    return s_enqueue(self, op);
}

//  WAMP's wildcard match as a regular expression: components split on '.',
//  an empty one matches any one component. Caller owns the result.
static char *s_wildcard_regex(const char *pattern)
{
    size_t size = 3 + strlen(pattern) * 8;
    char *regex = tg_malloc(size);
    size_t used = 0;
    regex[used++] = '^';
    const char *component = pattern;
    for (;;) {
        const char *end = strchr(component, '.');
        size_t length = end ? (size_t)(end - component) : strlen(component);
        if (length == 0) {
            memcpy(regex + used, "[^.]+", 5);
            used += 5;
        }
        for (size_t i = 0; i < length; i++) {
            char c = component[i];
            if (strchr("\\^$.|?*+()[]{}", c))
                regex[used++] = '\\';
            regex[used++] = c;
        }
        if (!end)
            break;
        memcpy(regex + used, "\\.", 2);
        used += 2;
        component = end + 1;
    }
    regex[used++] = '$';
    regex[used] = '\0';
    return regex;
}

//  The topic parameter and the statement for a match, or -1.
static int s_match(const char *topic, const char *match, int exact, s_params_t *params)
{
    if (!match || strcmp(match, "exact") == 0) {
        s_param_text(params, topic);
        return exact;
    }
    if (strcmp(match, "prefix") == 0) {
        s_param_text(params, topic);
        return exact + 1;
    }
    if (strcmp(match, "wildcard") == 0) {
        s_param_take(params, s_wildcard_regex(topic), 0, 0);
        return exact + 2;
    }
    return -1;
}

int persist_store_retained_page(persist_store_t *self, const char *topic, const char *match,
                                uint64_t since, size_t limit, int64_t now_us,
                                persist_store_done_fn *fn, void *arg)
{
    assert(self && topic);
    if (limit == 0 || limit > PERSIST_STORE_PAGE_MAX)
        return -1;
    s_op_t *op = s_op_new(OP_RETAINED, -1, fn, arg);
    op->statement = s_match(topic, match, ST_RETAINED_EXACT, &op->params);
    if (op->statement < 0) {
        s_op_destroy(op);
        return -1;
    }
    op->count = limit;
    s_param_int(&op->params, (int64_t)since);
    s_param_int(&op->params, now_us);
    s_param_int(&op->params, (int64_t)limit);
    return s_enqueue(self, op);
}

int persist_store_gap_subscription(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                   uint64_t after, int64_t now_us, persist_store_done_fn *fn,
                                   void *arg)
{
    assert(self && client_id);
    s_op_t *op = s_op_new(OP_GAP_SUB, ST_GAP_SUB, fn, arg);
    s_param_text(&op->params, client_id);
    s_param_int(&op->params, (int64_t)sub_id);
    s_param_int(&op->params, (int64_t)after);
    s_param_int(&op->params, now_us);
    return s_enqueue(self, op);
}

int persist_store_gap_topic(persist_store_t *self, const char *topic, const char *match,
                            uint64_t since, int64_t now_us, persist_store_done_fn *fn, void *arg)
{
    assert(self && topic);
    s_op_t *op = s_op_new(OP_GAP_TOPIC, -1, fn, arg);
    op->statement = s_match(topic, match, ST_GAP_TOPIC_EXACT, &op->params);
    if (op->statement < 0) {
        s_op_destroy(op);
        return -1;
    }
    s_param_int(&op->params, (int64_t)since);
    s_param_int(&op->params, now_us);
    return s_enqueue(self, op);
}

void persist_store_stats(const persist_store_t *self, persist_store_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
    stats->queued = self->queued;
    stats->in_flight = self->batch != NULL;
}
