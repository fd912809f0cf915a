/*  persist_broker: what each router message does, see persist_broker.h.

    The store answers every operation exactly once, after COMMIT for a
    write; an operation whose answer needs more than the broker (the
    STORE's req, an UNSUBSCRIBE's key, a re-sync round) carries a small
    allocated argument that its callback frees, whatever the outcome.
*/
#include "persist_broker.h"

#include <inttypes.h>
#include <string.h>

#include "persist_keys.h"
#include "persist_replay.h"
#include "tg_alloc.h"
#include "tg_log.h"
#include "tg_rate.h"

struct _persist_broker_t {
    persist_store_t *store;         /* borrowed */
    persist_link_t *link;           /* borrowed: sends to the router */
    persist_keys_t *keys;           /* persistent keys held at the router */
    persist_replay_t *replay;       /* RESUME / MORE: the replays in flight */
    bool stopping;                  /* persist_broker_stop: callbacks only free */
    tg_now_t now;                   /* the current turn's time (persist_broker_turn) */
    int64_t started_ms;             /* monotonic ms at creation */
    uint64_t round;                 /* re-sync rounds so far */
    bool resync_pending;            /* the last re-sync could not load: retry on tick */
    bool expiring;                  /* an expiry step is in flight */
    bool totals_reading;            /* a totals read is in flight */
    bool totals_read;               /* `totals` holds an answer */
    int64_t totals_at_ms;           /* monotonic time the last read was asked */
    persist_store_totals_t totals;  /* the last answer, for status */
    persist_broker_stats_t stats;   /* counters */
    tg_rate_t events_in_rate;       /* STOREs per second, per heartbeat */
    tg_rate_t events_out_rate;      /* REPLAYs per second, per heartbeat */
    tg_log_limiter_t bad_input_log; /* bad router messages */
    tg_log_limiter_t refusal_log;   /* store refusals and failures */
    tg_log_limiter_t key_log;       /* refusals of our key SUBSCRIBEs */
};

persist_broker_t *persist_broker_new(const tg_config_t *cfg, persist_store_t *store,
                                     persist_link_t *link, tg_now_t now)
{
    assert(cfg && store && link);
    persist_broker_t *self = tg_new(persist_broker_t);
    self->store = store;
    self->link = link;
    self->keys = persist_keys_new(0);
    self->replay = persist_replay_new(store, link, self->keys, 0);
    self->now = now;
    self->started_ms = now.mono_ms;
    tg_rate_sample(&self->events_in_rate, 0, now.mono_ms);
    tg_rate_sample(&self->events_out_rate, 0, now.mono_ms);
    return self;
}

void persist_broker_destroy(persist_broker_t **self_p)
{
    assert(self_p);
    persist_broker_t *self = *self_p;
    if (!self)
        return;
    persist_replay_destroy(&self->replay);
    persist_keys_destroy(&self->keys);
    free(self);
    *self_p = NULL;
}

void persist_broker_stop(persist_broker_t *self)
{
    assert(self);
    self->stopping = true;
    persist_replay_stop(self->replay);
}

void persist_broker_turn(persist_broker_t *self, tg_now_t now)
{
    assert(self);
    self->now = now;
    persist_replay_turn(self->replay, now);
}

void persist_broker_stats(const persist_broker_t *self, persist_broker_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
}

static void s_bad_input(persist_broker_t *self, const char *what)
{
    self->stats.bad_input++;
    tg_log_ratelimited(&self->bad_input_log, PERSIST_LOG_INTERVAL_MS,
                       "persist: bad_input socket=router reason=\"%s\"", what);
}

//  Sends to the router; a refused send is counted (the router resyncs us
//  or times the request out).
static void s_send(persist_broker_t *self, tg_envelope_t *envelope)
{
    if (persist_link_send(self->link, envelope) != 0)
        self->stats.drops++;
}

/* --- answers ----------------------------------------------------------- */

static void s_send_accepted(persist_broker_t *self, uint64_t req)
{
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_ACCEPTED);
    reply->req = req;
    s_send(self, reply);
    tg_envelope_destroy(&reply);
}

static void s_send_rejected(persist_broker_t *self, uint64_t req, const char *message)
{
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_REJECTED);
    reply->req = req;
    reply->error = tg_strdup(PERSIST_ERROR_UNAVAILABLE);
    reply->message = tg_strdup(message);
    s_send(self, reply);
    tg_envelope_destroy(&reply);
}

/* --- STORE: the event is stored before anyone is told so ----------------- */

typedef struct {
    persist_broker_t *broker;
    uint64_t req; /* the router's, 0 = nobody waits */
} s_store_op_t;

static void s_stored(const persist_store_result_t *result, void *arg)
{
    s_store_op_t *op = arg;
    persist_broker_t *self = op->broker;
    uint64_t req = op->req;
    free(op);
    if (result->status == 0) {
        self->stats.stored++;
        if (req && !self->stopping)
            s_send_accepted(self, req);
        return;
    }
    self->stats.store_failed++;
    tg_log_ratelimited(&self->refusal_log, PERSIST_LOG_INTERVAL_MS,
                       "persist: store_failed req=%" PRIu64 " error=\"%s\"", req,
                       result->error ? result->error : "");
    if (req && !self->stopping)
        s_send_rejected(self, req, "the event could not be stored");
}

static void s_store(persist_broker_t *self, tg_envelope_t *envelope)
{
    self->stats.events_in++;
    if (envelope->ts > INT64_MAX || envelope->expires_at > INT64_MAX) {
        s_bad_input(self, "STORE time out of range");
        return;
    }
    persist_store_event_t event = {
        .pub_id = envelope->pub_id,
        .ts_us = (int64_t)envelope->ts,
        .topic = envelope->topic,
        .expires_at_us = (int64_t)envelope->expires_at,
        //  Owed to the persistent subscriptions the router names; without
        //  any, only a ttl keeps it.
        .guaranteed = envelope->sub_ids_count > 0,
        .header = zframe_data(envelope->stored),
        .header_size = zframe_size(envelope->stored),
        .body = zframe_data(envelope->body),
        .body_size = zframe_size(envelope->body),
        .sub_ids = envelope->sub_ids,
        .sub_id_count = envelope->sub_ids_count,
    };
    s_store_op_t *op = tg_new(s_store_op_t);
    *op = (s_store_op_t){self, envelope->req};
    if (persist_store_event(self->store, &event, s_stored, op) == 0)
        return;
    free(op);
    self->stats.store_failed++;
    tg_log_ratelimited(&self->refusal_log, PERSIST_LOG_INTERVAL_MS,
                       "persist: store_refused req=%" PRIu64 " db=%s", envelope->req,
                       "down, or the queue is full");
    if (envelope->req)
        s_send_rejected(self, envelope->req, "the database is unavailable");
}

/* --- ACK ------------------------------------------------------------------- */

static void s_acked(const persist_store_result_t *result, void *arg)
{
    persist_broker_t *self = arg;
    if (result->status != 0) {
        self->stats.acks_failed++;
        return;
    }
    self->stats.acks++;
    self->stats.acks_removed += result->count;
    self->stats.acks_ignored += result->ignored;
}

static void s_touched(const persist_store_result_t *result, void *arg)
{
    persist_broker_t *self = arg;
    if (result->status != 0)
        self->stats.writes_failed++;
}

//  Ids in chunks the store takes (PERSIST_STORE_ACK_IDS_MAX), then upto.
//  A refused ack leaves the rows: the client is sent them again. An ack
//  also says the client uses the subscription: its persistent ttl restarts.
static void s_ack(persist_broker_t *self, tg_envelope_t *envelope)
{
    if (persist_store_subscription_touch(self->store, envelope->client_id, envelope->sub_id,
                                         self->now.wall_us, s_touched, self) != 0)
        self->stats.writes_failed++;
    for (size_t at = 0; at < envelope->pub_ids_count; at += PERSIST_STORE_ACK_IDS_MAX) {
        size_t count = envelope->pub_ids_count - at;
        if (count > PERSIST_STORE_ACK_IDS_MAX)
            count = PERSIST_STORE_ACK_IDS_MAX;
        if (persist_store_ack(self->store, envelope->client_id, envelope->sub_id,
                              envelope->pub_ids + at, count, s_acked, self) != 0)
            self->stats.acks_failed++;
    }
    if (envelope->upto && persist_store_ack_upto(self->store, envelope->client_id, envelope->sub_id,
                                                 envelope->upto, s_acked, self) != 0)
        self->stats.acks_failed++;
}

/* --- UNSUBSCRIBE: a client's persistent subscription ends ------------------ */

typedef struct {
    persist_broker_t *broker;
    uint64_t sub_id;
} s_unsubscribe_op_t;

//  The last client of a key gone: the router no longer matches it for us.
//  "Last" is the database's answer (the rows left on the key, in the same
//  transaction), not a count kept here: a re-sync loading the keys while
//  RESUMEs come in could count a client twice.
static void s_unsubscribed(const persist_store_result_t *result, void *arg)
{
    s_unsubscribe_op_t *op = arg;
    persist_broker_t *self = op->broker;
    uint64_t sub_id = op->sub_id;
    free(op);
    if (result->status != 0) {
        self->stats.writes_failed++;
        return;
    }
    if (result->count == 0)
        return; //  that client held no such subscription
    self->stats.unsubscribes++;
    persist_key_t *key = persist_keys_get(self->keys, sub_id);
    if (!key || self->stopping)
        return;
    if (result->remaining == 0) {
        if (persist_link_unsubscribe(self->link, sub_id) != 0)
            self->stats.drops++;
        persist_keys_remove(self->keys, sub_id);
    }
}

static void s_unsubscribe(persist_broker_t *self, tg_envelope_t *envelope)
{
    if (!envelope->client_id) {
        s_bad_input(self, "UNSUBSCRIBE without client_id");
        return;
    }
    s_unsubscribe_op_t *op = tg_new(s_unsubscribe_op_t);
    *op = (s_unsubscribe_op_t){self, envelope->sub_id};
    if (persist_store_subscription_delete(self->store, envelope->client_id, envelope->sub_id,
                                          s_unsubscribed, op) != 0) {
        free(op);
        self->stats.writes_failed++;
    }
}

/* --- REGISTER and TOKEN_SPEND: kept for the next router ------------------ */

static void s_register_done(const persist_store_result_t *result, void *arg)
{
    persist_broker_t *self = arg;
    if (result->status == 0)
        self->stats.registers++;
    else
        self->stats.writes_failed++;
}

//  Stores the type as the header of a REGISTER without req: what the
//  re-sync sends back, byte for byte.
static void s_register(persist_broker_t *self, tg_envelope_t *envelope)
{
    tg_envelope_t *copy = tg_envelope_new(TG_CMD_REGISTER);
    copy->event_type = tg_event_type_dup(envelope->event_type);
    zmsg_t *msg = tg_envelope_encode(copy);
    tg_envelope_destroy(&copy);
    zframe_t *command = zmsg_first(msg);
    zframe_t *header = zmsg_next(msg);
    tg_check(command && header);
    if (persist_store_register_type(self->store, envelope->event_type->name, zframe_data(header),
                                    zframe_size(header), s_register_done, self) != 0)
        self->stats.writes_failed++;
    zmsg_destroy(&msg);
}

static void s_token_done(const persist_store_result_t *result, void *arg)
{
    persist_broker_t *self = arg;
    if (result->status == 0)
        self->stats.tokens++;
    else
        self->stats.writes_failed++;
}

static void s_token_spend(persist_broker_t *self, tg_envelope_t *envelope)
{
    if (envelope->exp > INT64_MAX) {
        s_bad_input(self, "TOKEN_SPEND exp out of range");
        return;
    }
    if (persist_store_spend_token(self->store, envelope->jti, (int64_t)envelope->exp, s_token_done,
                                  self) != 0)
        self->stats.writes_failed++;
}

/* --- answers to our own key SUBSCRIBEs ---------------------------------- */

static void s_subscribe_error(persist_broker_t *self, tg_envelope_t *envelope)
{
    self->stats.keys_refused++;
    tg_log_ratelimited(&self->key_log, PERSIST_LOG_INTERVAL_MS,
                       "persist: key_refused req=%" PRIu64 " error=%s message=\"%s\"",
                       envelope->req, envelope->error, envelope->message ? envelope->message : "");
}

/* --- re-sync ------------------------------------------------------------ */

typedef struct {
    persist_broker_t *broker;
    uint64_t round; /* the re-sync this page belongs to */
} s_page_t;

static void s_resync_failed(persist_broker_t *self, const char *what, const char *error)
{
    self->stats.resync_failed++;
    self->resync_pending = true;
    tg_log_ratelimited(&self->refusal_log, PERSIST_LOG_INTERVAL_MS,
                       "persist: resync_failed load=%s error=\"%s\"", what, error ? error : "");
}

static void s_types_loaded(const persist_store_result_t *result, void *arg)
{
    persist_broker_t *self = arg;
    if (self->stopping)
        return;
    if (result->status != 0) {
        s_resync_failed(self, "types", result->error);
        return;
    }
    for (size_t i = 0; i < result->size; i++) {
        const persist_store_type_row_t *row = &result->types[i];
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, tg_command_name(TG_CMD_REGISTER));
        zmsg_addmem(msg, row->definition, row->definition_size);
        const char *reason = NULL;
        tg_envelope_t *envelope = tg_envelope_decode(&msg, &reason);
        if (!envelope || envelope->command != TG_CMD_REGISTER) {
            tg_log_warning("persist: stored_type_unreadable name=%s reason=\"%s\"", row->name,
                           reason ? reason : "not a REGISTER");
            tg_envelope_destroy(&envelope);
            continue;
        }
        envelope->req = 0;
        s_send(self, envelope);
        tg_envelope_destroy(&envelope);
    }
}

static void s_tokens_loaded(const persist_store_result_t *result, void *arg)
{
    persist_broker_t *self = arg;
    if (self->stopping)
        return;
    if (result->status != 0) {
        s_resync_failed(self, "spent_tokens", result->error);
        return;
    }
    for (size_t i = 0; i < result->size; i++) {
        const persist_store_token_row_t *row = &result->tokens[i];
        tg_envelope_t *spend = tg_envelope_new(TG_CMD_TOKEN_SPEND);
        spend->jti = tg_strdup(row->jti);
        spend->exp = row->exp > 0 ? (uint64_t)row->exp : 0;
        s_send(self, spend); //  no req: recorded, never answered
        tg_envelope_destroy(&spend);
    }
}

static void s_subscriptions_loaded(const persist_store_result_t *result, void *arg)
{
    s_page_t *page = arg;
    persist_broker_t *self = page->broker;
    uint64_t round = page->round;
    free(page);
    if (self->stopping || round != self->round)
        return; //  a newer re-sync started over
    if (result->status != 0) {
        s_resync_failed(self, "subscriptions", result->error);
        return;
    }
    int64_t last_key = 0;
    for (size_t i = 0; i < result->size; i++) {
        const persist_store_subscription_row_t *row = &result->subscriptions[i];
        last_key = row->key;
        tg_match_t match;
        if (tg_match_parse(row->match, &match) != 0 || row->sub_id == 0 || row->sub_id > TG_MAX_ID)
            continue; //  not written by us: skipped
        persist_key_t *key =
            persist_keys_add(self->keys, row->sub_id, row->topic, row->match, row->filter);
        if (!key) {
            tg_log_ratelimited(&self->refusal_log, PERSIST_LOG_INTERVAL_MS,
                               "persist: keys_full max=%d", PERSIST_KEYS_MAX);
            continue;
        }
        if (key->round != round) {
            key->round = round;
            if (persist_link_subscribe(self->link, key->topic, key->match, key->filter) != 0)
                self->stats.drops++;
        }
    }
    if (!result->more)
        return;
    s_page_t *next = tg_new(s_page_t);
    *next = (s_page_t){self, round};
    if (persist_store_load_subscriptions(self->store, last_key, PERSIST_STORE_PAGE_MAX,
                                         s_subscriptions_loaded, next) != 0) {
        free(next);
        s_resync_failed(self, "subscriptions", "refused");
    }
}

void persist_broker_resync(persist_broker_t *self, tg_now_t now)
{
    assert(self);
    self->now = now;
    self->round = persist_keys_next_round(self->keys);
    self->stats.resyncs++;
    self->resync_pending = false;
    tg_log_info("persist: resync router=%s round=%" PRIu64, persist_link_router(self->link),
                self->round);
    //  One batch, in this order: the router adopts the types before it sees
    //  the keys that need them.
    if (persist_store_load_types(self->store, s_types_loaded, self) != 0) {
        s_resync_failed(self, "types", "refused");
        return;
    }
    if (persist_store_load_spent_tokens(self->store, now.wall_us, s_tokens_loaded, self) != 0) {
        s_resync_failed(self, "spent_tokens", "refused");
        return;
    }
    s_page_t *page = tg_new(s_page_t);
    *page = (s_page_t){self, self->round};
    if (persist_store_load_subscriptions(self->store, 0, PERSIST_STORE_PAGE_MAX,
                                         s_subscriptions_loaded, page) != 0) {
        free(page);
        s_resync_failed(self, "subscriptions", "refused");
    }
}

/* --- expiry -------------------------------------------------------------- */

static void s_expired(const persist_store_result_t *result, void *arg)
{
    persist_broker_t *self = arg;
    self->expiring = false;
    if (self->stopping || result->status != 0)
        return;
    self->stats.expire_steps++;
    if (result->more)
        persist_broker_expire(self, self->now); //  the bound was reached: the next step now
}

void persist_broker_expire(persist_broker_t *self, tg_now_t now)
{
    assert(self);
    if (self->expiring || self->stopping)
        return;
    if (persist_store_expire(self->store, now.wall_us, PERSIST_EXPIRE_LIMIT, s_expired, self) == 0)
        self->expiring = true;
}

static void s_totals_read(const persist_store_result_t *result, void *arg)
{
    persist_broker_t *self = arg;
    self->totals_reading = false;
    if (result->status != 0)
        return;
    self->totals = result->totals;
    self->totals_read = true;
}

void persist_broker_tick(persist_broker_t *self, tg_now_t now)
{
    assert(self);
    self->now = now;
    if (!self->totals_reading && !self->stopping &&
        (!self->totals_read || now.mono_ms - self->totals_at_ms >= PERSIST_TOTALS_INTERVAL_MS)) {
        self->totals_at_ms = now.mono_ms;
        self->totals_reading = persist_store_totals(self->store, s_totals_read, self) == 0;
    }
    persist_replay_tick(self->replay, now);
    if (self->resync_pending && persist_link_ready(self->link))
        persist_broker_resync(self, now);
}

/* --- dispatch ------------------------------------------------------------ */

void persist_broker_on_message(persist_broker_t *self, tg_envelope_t *envelope, tg_now_t now)
{
    assert(self && envelope);
    self->now = now;
    switch (envelope->command) {
    case TG_CMD_STORE:
        s_store(self, envelope);
        break;
    case TG_CMD_RESUME:
        persist_replay_resume(self->replay, envelope, now);
        break;
    case TG_CMD_MORE:
        persist_replay_more(self->replay, envelope, now);
        break;
    case TG_CMD_ACK:
        s_ack(self, envelope);
        break;
    case TG_CMD_UNSUBSCRIBE:
        s_unsubscribe(self, envelope);
        break;
    case TG_CMD_REGISTER:
        s_register(self, envelope);
        break;
    case TG_CMD_TOKEN_SPEND:
        s_token_spend(self, envelope);
        break;
    case TG_CMD_SUBSCRIBED:
        break; //  our key is held
    case TG_CMD_SUBSCRIBE_ERROR:
        s_subscribe_error(self, envelope);
        break;
    default: {
        char what[64];
        snprintf(what, sizeof what, "unexpected command %s", tg_command_name(envelope->command));
        s_bad_input(self, what);
        break;
    }
    }
}

/* --- stats ---------------------------------------------------------------- */

void persist_broker_add_stats(persist_broker_t *self, tg_envelope_t *heartbeat,
                              uint64_t bad_input_extra, tg_now_t now)
{
    assert(self && heartbeat);
    persist_replay_stats_t replay;
    persist_replay_stats(self->replay, &replay);
    persist_store_stats_t store;
    persist_store_stats(self->store, &store);
    const persist_broker_stats_t *s = &self->stats;
    int64_t in_per_s = tg_rate_sample(&self->events_in_rate, s->events_in, now.mono_ms);
    int64_t out_per_s = tg_rate_sample(&self->events_out_rate, replay.events_out, now.mono_ms);
    struct {
        const char *name;
        int64_t value;
    } stats[] = {
        {"events_in", (int64_t)s->events_in},
        {"events_out", (int64_t)replay.events_out},
        {"events_in_per_s", in_per_s},
        {"events_out_per_s", out_per_s},
        {"drops", (int64_t)(s->drops + replay.drops)},
        {"bad_input", (int64_t)(s->bad_input + replay.bad_input + bad_input_extra)},
        {"queue_depth", (int64_t)store.queued},
        {"subscriptions", (int64_t)persist_keys_size(self->keys)},
        {"stored", (int64_t)s->stored},
        {"store_failed", (int64_t)s->store_failed},
        {"acks", (int64_t)s->acks},
        {"acks_removed", (int64_t)s->acks_removed},
        {"acks_ignored", (int64_t)s->acks_ignored},
        {"acks_failed", (int64_t)s->acks_failed},
        {"unsubscribes", (int64_t)s->unsubscribes},
        {"replays", (int64_t)replay.replays},
        {"replays_active", (int64_t)replay.active},
        {"replays_refused", (int64_t)replay.refused},
        {"replays_abandoned", (int64_t)replay.abandoned},
        {"more_unknown", (int64_t)replay.more_unknown},
        {"gaps", (int64_t)replay.gaps},
        {"registers", (int64_t)s->registers},
        {"tokens", (int64_t)s->tokens},
        {"writes_failed", (int64_t)s->writes_failed},
        {"resyncs", (int64_t)s->resyncs},
        {"resync_failed", (int64_t)s->resync_failed},
        {"keys_refused", (int64_t)s->keys_refused},
        {"expired", (int64_t)store.expired},
        {"overflow_dropped", (int64_t)store.overflow_dropped},
        {"rejected_full", (int64_t)store.rejected_full},
        {"rejected_down", (int64_t)store.rejected_down},
        {"batches", (int64_t)store.batches},
        {"batches_failed", (int64_t)store.batches_failed},
        {"batch_size", (int64_t)store.last_batch_size},
        {"batch_size_max", (int64_t)store.max_batch_size},
    };
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
        tg_envelope_add_stat(heartbeat, stats[i].name, stats[i].value);
    //  What is stored, as last read (PERSIST_TOTALS_INTERVAL_MS). The age
    //  of the oldest unacked event comes from its id: publication ids are
    //  the publish time in microseconds (or just above it).
    if (self->totals_read) {
        const persist_store_totals_t *t = &self->totals;
        int64_t oldest = (int64_t)t->oldest_unacked;
        int64_t age_s = oldest && now.wall_us > oldest ? (now.wall_us - oldest) / 1000000 : 0;
        tg_envelope_add_stat(heartbeat, "persistent_subscriptions", t->subscriptions);
        tg_envelope_add_stat(heartbeat, "backlog_total", t->backlog);
        tg_envelope_add_stat(heartbeat, "oldest_unacked", oldest);
        tg_envelope_add_stat(heartbeat, "oldest_unacked_age_s", age_s);
    }
}
