/*  persist_store: the queue, the batches (group commit) and the answers of
    the store, see persist_store.h. The public calls that make operations
    are in persist_store_ops.c, the SQL in persist_statements.c, the reasons
    for both in docs/persistence.md.

    Lifetimes: an operation is allocated at enqueue and freed here and only
    here, right after its one callback. A batch is freed when the last of its
    pipeline entries (statements, COMMIT, sync) has been answered by
    persist_db (or failed by a dropped connection), counted by
    batch->pending: until then persist_db holds pointers to it. */
#include "persist_store.h"
#include "persist_statements.h"
#include "persist_store_op.h"

#include <assert.h>
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_log.h"

typedef struct {
    persist_store_t *store; /* back pointer */
    persist_op_t *ops;      /* owned list, in enqueue order */
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
    persist_op_t *head, *tail;     /* the queue (owned) */
    size_t queued;                 /* its length */
    s_batch_t *batch;              /* the batch in flight, or NULL (owned while pending) */
    bool destroying;               /* in persist_store_destroy */
    persist_store_stats_t stats;   /* counters (queued/in_flight filled on read) */
};

//  Answers the op (once); `result` carries status, counts or rows.
static void s_op_answer(persist_store_t *self, persist_op_t *op, persist_store_result_t *result)
{
    if (op->done)
        return;
    op->done = true;
    if (result->status != 0)
        self->stats.failed++;
    else if (!PERSIST_OP_IS_READ(op->kind))
        self->stats.committed++;
    if (op->fn)
        op->fn(result, op->arg);
}

static void s_op_fail(persist_store_t *self, persist_op_t *op, const char *error)
{
    persist_store_result_t result = {.status = -1, .error = error};
    s_op_answer(self, op, &result);
}

//  Queues op, or answers -1 at once without a callback (and frees it).
int persist_store_enqueue(persist_store_t *self, persist_op_t *op)
{
    persist_db_state_t state = persist_db_state(self->db);
    if (self->destroying || state == PERSIST_DB_DOWN || state == PERSIST_DB_FAILED) {
        self->stats.rejected_down++;
        persist_op_destroy(op);
        return -1;
    }
    if (self->queued >= self->config.queue_max) {
        self->stats.rejected_full++;
        persist_op_destroy(op);
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
        persist_op_t *op = self->head;
        self->head = op->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        s_op_fail(self, op, error);
        persist_op_destroy(op);
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
static void s_answer_read(persist_store_t *self, persist_op_t *op, const PGresult *res)
{
    persist_store_result_t result = {.status = 0, .error = ""};
    int rows = PQntuples(res);
    result.size = (size_t)rows;
    void *array = NULL;
    switch (op->kind) {
    case PERSIST_OP_BACKLOG:
    case PERSIST_OP_RETAINED: {
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
    case PERSIST_OP_LOAD_TYPES: {
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
    case PERSIST_OP_LOAD_TOKENS: {
        persist_store_token_row_t *tokens = tg_calloc((size_t)rows + 1, sizeof(*tokens));
        for (int i = 0; i < rows; i++)
            tokens[i] =
                (persist_store_token_row_t){.jti = PQgetvalue(res, i, 0), .exp = s_int8(res, i, 1)};
        result.tokens = tokens;
        array = tokens;
        break;
    }
    case PERSIST_OP_LOAD_SUBS: {
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
    case PERSIST_OP_GAP_SUB:
        result.size = 0;
        if (rows == 1) {
            result.gap.found = true;
            result.gap.dropped_upto = (uint64_t)s_int8(res, 0, 0);
            result.gap.has_oldest = !PQgetisnull(res, 0, 1);
            result.gap.oldest = (uint64_t)s_int8(res, 0, 1);
            result.gap.gap = s_bool(res, 0, 2);
        }
        break;
    case PERSIST_OP_GAP_TOPIC:
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
    case PERSIST_OP_TOTALS:
        result.size = 0;
        if (rows == 1) {
            result.totals.subscriptions = s_int8(res, 0, 0);
            result.totals.backlog = s_int8(res, 0, 1);
            result.totals.oldest_unacked = PQgetisnull(res, 0, 2) ? 0 : (uint64_t)s_int8(res, 0, 2);
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
        persist_op_t *op = batch->ops;
        batch->ops = op->next;
        s_op_fail(self, op, batch->error[0] ? batch->error : "the batch was not completed");
        persist_op_destroy(op);
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
        for (persist_op_t *op = batch->ops; op; op = op->next) {
            if (PERSIST_OP_IS_READ(op->kind))
                continue;
            persist_store_result_t result = {.status = 0,
                                             .error = "",
                                             .count = op->count,
                                             .remaining = op->remaining,
                                             .more = op->more};
            switch (op->kind) {
            case PERSIST_OP_EVENT:
                self->stats.events_stored++;
                break;
            case PERSIST_OP_ACK:
                result.ignored = op->asked > op->count ? op->asked - op->count : 0;
                self->stats.acks_removed += op->count;
                self->stats.acks_ignored += result.ignored;
                break;
            case PERSIST_OP_ACK_UPTO:
                self->stats.acks_removed += op->count;
                break;
            case PERSIST_OP_EXPIRE:
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
    persist_op_t *op;
    s_batch_t *batch;
} s_op_ref_t;

static void s_on_op(const PGresult *res, int64_t now_ms, void *arg)
{
    s_op_ref_t *ref = arg;
    persist_op_t *op = ref->op;
    s_batch_t *batch = ref->batch;
    persist_store_t *self = batch->store;
    if (!s_ok(res)) {
        s_note_failure(batch, res);
        if (PERSIST_OP_IS_READ(op->kind))
            s_op_fail(self, op, batch->error);
    } else if (PERSIST_OP_IS_READ(op->kind)) {
        s_answer_read(self, op, res);
    } else if (op->kind == PERSIST_OP_EXPIRE) {
        if (PQntuples(res) == 1) {
            int64_t removed = s_int8(res, 0, 0);
            op->count += (uint64_t)(removed + s_int8(res, 0, 1));
            //  The limit is the op's last parameter.
            if (removed >= atoll(op->params.values[1]))
                op->more = true;
        }
    } else if (op->kind == PERSIST_OP_SUB_DELETE && PQntuples(res) == 1 && PQnfields(res) == 2) {
        op->count = (uint64_t)s_int8(res, 0, 0);
        int64_t remaining = s_int8(res, 0, 1);
        op->remaining = remaining > 0 ? (uint64_t)remaining : 0;
    } else if (op->kind == PERSIST_OP_SUB_UPSERT) {
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

static int s_send(persist_store_t *self, s_batch_t *batch, int statement,
                  const persist_params_t *params, persist_db_result_fn *fn, void *arg)
{
    if (persist_db_send(
            self->db, persist_statements[statement].name, false, params ? params->count : 0,
            params ? (const char *const *)params->values : NULL, params ? params->lengths : NULL,
            params ? params->formats : NULL, fn, arg) != 0)
        return -1;
    batch->pending++;
    return 0;
}

static int s_send_op(persist_store_t *self, s_batch_t *batch, persist_op_t *op, int statement,
                     const persist_params_t *params)
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
static int s_send_deliveries(persist_store_t *self, s_batch_t *batch, persist_op_t *first,
                             persist_op_t *until)
{
    size_t pairs = 0;
    for (persist_op_t *op = first; op != until; op = op->next)
        if (op->kind == PERSIST_OP_EVENT && op->guaranteed)
            pairs += op->sub_id_count;
    if (pairs == 0)
        return 0;
    uint64_t *pub_ids = tg_malloc(pairs * sizeof(uint64_t));
    uint64_t *sub_ids = tg_malloc(pairs * sizeof(uint64_t));
    size_t n = 0;
    for (persist_op_t *op = first; op != until; op = op->next)
        if (op->kind == PERSIST_OP_EVENT && op->guaranteed)
            for (size_t i = 0; i < op->sub_id_count; i++) {
                pub_ids[n] = op->pub_id;
                sub_ids[n] = op->sub_ids[i];
                n++;
            }
    persist_params_t deliver = {0};
    persist_param_take(&deliver, persist_param_array(pub_ids, n), 0, 0);
    persist_param_take(&deliver, persist_param_array(sub_ids, n), 0, 0);
    persist_params_t trim = {0};
    persist_param_take(&trim, persist_param_array(sub_ids, n), 0, 0);
    persist_param_int(&trim, self->config.backlog_max);
    int rc = s_send(self, batch, PERSIST_ST_DELIVER, &deliver, s_on_begin, batch);
    if (rc == 0)
        rc = s_send(self, batch, PERSIST_ST_TRIM, &trim, s_on_trim, batch);
    persist_params_clear(&deliver);
    persist_params_clear(&trim);
    free(pub_ids);
    free(sub_ids);
    return rc;
}

static int s_send_expire(persist_store_t *self, s_batch_t *batch, persist_op_t *op)
{
    //  The op holds now_us and limit; tokens expire by seconds, stale
    //  subscriptions by their last use before now - persistent ttl.
    int64_t now_us = atoll(op->params.values[0]);
    char now_s[24], stale_before[24];
    snprintf(now_s, sizeof(now_s), "%" PRId64, now_us / 1000000);
    snprintf(stale_before, sizeof(stale_before), "%" PRId64,
             now_us - self->config.persistent_ttl_s * 1000000);
    static const int statements[] = {PERSIST_ST_EXPIRE_EVENTS, PERSIST_ST_EXPIRE_TOKENS,
                                     PERSIST_ST_EXPIRE_STALE_DELIVERIES,
                                     PERSIST_ST_EXPIRE_STALE_SUBS, PERSIST_ST_EXPIRE_ORPHANS};
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        int statement = statements[i];
        persist_params_t params = {.count = 2};
        params.values[0] = statement == PERSIST_ST_EXPIRE_TOKENS ? now_s
                           : statement == PERSIST_ST_EXPIRE_STALE_DELIVERIES ||
                                   statement == PERSIST_ST_EXPIRE_STALE_SUBS
                               ? stale_before
                               : op->params.values[0];
        params.values[1] = op->params.values[1];
        if (s_send_op(self, batch, op, statement, &params) != 0)
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
    persist_op_t **tail = &batch->ops;
    bool expire = self->head->kind == PERSIST_OP_EXPIRE;
    while (self->head && batch->size < self->config.batch_max) {
        if (batch->size > 0 && (expire || self->head->kind == PERSIST_OP_EXPIRE))
            break;
        persist_op_t *op = self->head;
        self->head = op->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        op->next = NULL;
        *tail = op;
        tail = &op->next;
        batch->size++;
        if (!PERSIST_OP_IS_READ(op->kind))
            batch->has_writes = true;
    }
    self->batch = batch;
    self->stats.last_batch_size = batch->size;
    if (batch->size > self->stats.max_batch_size)
        self->stats.max_batch_size = batch->size;

    int rc = 0;
    if (batch->has_writes) {
        rc = s_send_sql(self, batch, "BEGIN", s_on_begin);
        persist_op_t *events = NULL; //  the first of the current run of events
        for (persist_op_t *op = batch->ops; op && rc == 0; op = op->next) {
            if (PERSIST_OP_IS_READ(op->kind))
                continue;
            if (op->kind != PERSIST_OP_EVENT && events) {
                rc = s_send_deliveries(self, batch, events, op);
                events = NULL;
                if (rc != 0)
                    break;
            }
            if (op->kind == PERSIST_OP_EVENT && !events)
                events = op;
            rc = op->kind == PERSIST_OP_EXPIRE
                     ? s_send_expire(self, batch, op)
                     : s_send_op(self, batch, op, op->statement, &op->params);
        }
        if (rc == 0 && events)
            rc = s_send_deliveries(self, batch, events, NULL);
        if (rc == 0)
            rc = s_send_sql(self, batch, "COMMIT", s_on_commit);
    }
    for (persist_op_t *op = batch->ops; op && rc == 0; op = op->next)
        if (PERSIST_OP_IS_READ(op->kind))
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
    for (int i = 0; i < PERSIST_ST_COUNT; i++)
        tg_check(persist_db_prepare(db, persist_statements[i].name, persist_statements[i].sql) ==
                 0);
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

void persist_store_stats(const persist_store_t *self, persist_store_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
    stats->queued = self->queued;
    stats->in_flight = self->batch != NULL;
}
