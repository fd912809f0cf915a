/*  edge_durable: see edge_durable.h. */
#include "edge_durable.h"

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_broker.h"
#include "edge_session.h"
#include "edge_subs.h"
#include "tg_alloc.h"
#include "tg_body.h"
#include "tg_log.h"
#include "tg_subkey.h"
#include "tg_wamp.h"

typedef enum {
    S_WAITING = 0, /* SUBSCRIBE at the router; live events of the key held */
    S_REPLAYING,   /* REPLAYs arriving, live events held */
    S_LIVE         /* persistent, live: kept for acks and UNSUBSCRIBE */
} s_state_t;

/* A live event held while its record waits or replays. */
typedef struct {
    edge_frame_t *frame; /* one reference, ours */
    uint64_t pub_id;
} s_held_t;

struct _edge_durable_t {
    edge_session_t *session; /* borrowed; NULL = orphan (the session closed while waiting) */
    edge_durable_t *next;    /* the session's list */
    s_state_t state;
    uint64_t req;              /* the router SUBSCRIBE's request id (the index key) */
    int64_t request;           /* the client's WAMP SUBSCRIBE request id */
    tg_match_t match;          /* the key */
    char *topic;               /* owned */
    char *filter;              /* owned canonical text, or NULL */
    tg_query_t *query;         /* owned parsed filter (applied to `_since` replays), or NULL */
    bool persistent;           /* `_persistent: true` */
    uint64_t since;            /* `_since`, 0 = none */
    uint64_t sub_id;           /* from SUBSCRIBED */
    uint64_t key_id;           /* the key's id as the router derives it (tg_subkey, counter 0):
                                  the sub_id of the live events held while WAITING */
    edge_durable_t *wait_next; /* the waiting index's chain of records with this key_id */
    bool wait_indexed;         /* in the waiting index (WAITING, with or without session) */
    int64_t deadline_ms;       /* WAITING: when the router's answer is late */
    uint64_t last_replayed;    /* highest pub_id replayed */
    uint32_t page_count;       /* REPLAYs since the last MORE */
    bool more_owed;            /* a page arrived: MORE once the session's queue is below half */
    s_held_t *held;            /* WAITING, REPLAYING: live events held, in arrival order */
    uint32_t held_count;
    uint32_t held_capacity;
    uint64_t *sent; /* persistent: ids sent and not acked, increasing (a ring) */
    uint32_t sent_head;
    uint32_t sent_count;
    uint32_t sent_capacity;
    uint64_t max_sent; /* highest id ever sent on this record */
};

struct _edge_durables_t {
    zhashx_t *by_req;  /* req (uint64_t key inside the record) -> record, owned */
    zhashx_t *waiting; /* key_id (inside the head record) -> the first WAITING record of that
                          key, chained by wait_next; borrowed from by_req */
    size_t waiting_count;
};

/* How often a kind of anomaly may be logged. */
#define S_LOG_INTERVAL_MS 10000

static tg_log_limiter_t s_unknown_limiter;

static void s_record_free(edge_durable_t *self)
{
    for (uint32_t i = 0; i < self->held_count; i++)
        edge_frame_unref(&self->held[i].frame);
    free(self->held);
    free(self->sent);
    tg_query_destroy(&self->query);
    free(self->topic);
    free(self->filter);
    free(self);
}

static void s_destructor(void **item)
{
    if (*item) {
        s_record_free(*item);
        *item = NULL;
    }
}

static size_t s_hash(const void *key)
{
    uint64_t k = *(const uint64_t *)key;
    return (size_t)(k ^ (k >> 29));
}

static int s_compare(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

edge_durables_t *edge_durables_new(void)
{
    edge_durables_t *self = tg_new(edge_durables_t);
    self->by_req = zhashx_new();
    tg_check(self->by_req);
    zhashx_set_key_hasher(self->by_req, s_hash);
    zhashx_set_key_comparator(self->by_req, s_compare);
    zhashx_set_key_duplicator(self->by_req, NULL);
    zhashx_set_key_destructor(self->by_req, NULL);
    zhashx_set_destructor(self->by_req, s_destructor);
    self->waiting = zhashx_new();
    tg_check(self->waiting);
    zhashx_set_key_hasher(self->waiting, s_hash);
    zhashx_set_key_comparator(self->waiting, s_compare);
    zhashx_set_key_duplicator(self->waiting, NULL);
    zhashx_set_key_destructor(self->waiting, NULL);
    return self;
}

void edge_durables_destroy(edge_durables_t **self_p)
{
    assert(self_p);
    edge_durables_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    zhashx_destroy(&self->waiting); /* borrowed records: before their owner */
    zhashx_destroy(&self->by_req);
    free(self);
}

size_t edge_durables_count(const edge_durables_t *self)
{
    assert(self);
    return zhashx_size(self->by_req);
}

/* ---- the waiting index ----------------------------------------------- */

/* Adds a WAITING record under its key_id. */
static void s_wait_add(edge_durables_t *self, edge_durable_t *record)
{
    edge_durable_t *head = zhashx_lookup(self->waiting, &record->key_id);
    if (head) {
        record->wait_next = head->wait_next;
        head->wait_next = record;
    } else {
        record->wait_next = NULL;
        tg_check(zhashx_insert(self->waiting, &record->key_id, record) == 0);
    }
    record->wait_indexed = true;
    self->waiting_count++;
}

/* Takes a record out of the waiting index (no-op when not in it). */
static void s_wait_remove(edge_durables_t *self, edge_durable_t *record)
{
    if (!record->wait_indexed)
        return;
    edge_durable_t *head = zhashx_lookup(self->waiting, &record->key_id);
    if (head == record) {
        /* The key lives in the head: re-insert under the next one's. */
        zhashx_delete(self->waiting, &record->key_id);
        if (record->wait_next)
            tg_check(zhashx_insert(self->waiting, &record->wait_next->key_id, record->wait_next) ==
                     0);
    } else {
        for (edge_durable_t *at = head; at; at = at->wait_next)
            if (at->wait_next == record) {
                at->wait_next = record->wait_next;
                break;
            }
    }
    record->wait_next = NULL;
    record->wait_indexed = false;
    self->waiting_count--;
}

/* Frees the live events a record holds (a refusal, a closed session, an
   id other than the one they were held for). */
static void s_drop_held(edge_durable_t *self)
{
    for (uint32_t i = 0; i < self->held_count; i++)
        edge_frame_unref(&self->held[i].frame);
    free(self->held);
    self->held = NULL;
    self->held_count = 0;
    self->held_capacity = 0;
}

/* ---- the session's list ---------------------------------------------- */

static void s_unlink(edge_durable_t *record)
{
    edge_session_t *session = record->session;
    if (!session)
        return;
    for (edge_durable_t **link = &session->durables; *link; link = &(*link)->next)
        if (*link == record) {
            *link = record->next;
            break;
        }
    record->next = NULL;
    record->session = NULL;
}

/* Unlinks the record from its session and frees it (through the index). */
static void s_forget(edge_broker_t *broker, edge_durable_t *record)
{
    s_unlink(record);
    s_wait_remove(edge_broker_durables(broker), record);
    uint64_t req = record->req;
    zhashx_delete(edge_broker_durables(broker)->by_req, &req);
}

/* The router holds key_id for this edge (since our SUBSCRIBE for it: the
   router adds a durable subscription's holder when it asks persist) and a
   record that used it is gone: UNSUBSCRIBE {key_id} unless the key is
   still used here, by a shared entry (any state: it releases the key
   itself) or another record waiting for it. */
static void s_release_key(edge_broker_t *broker, tg_match_t match, const char *topic,
                          const char *filter, uint64_t key_id)
{
    if (key_id == 0 || edge_subs_lookup(edge_broker_subs(broker), match, topic, filter) ||
        zhashx_lookup(edge_broker_durables(broker)->waiting, &key_id))
        return;
    tg_envelope_t *unsubscribe = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    unsubscribe->sub_id = key_id;
    edge_broker_router_send(broker, unsubscribe);
    tg_envelope_destroy(&unsubscribe);
}

/* Forgets a record whose subscription ended before it went live (a
   refusal, a timeout, an orphan's answer), then releases its key (sub_id:
   the router's, or 0 for the record's own key_id). */
static void s_forget_release(edge_broker_t *broker, edge_durable_t *record, uint64_t sub_id)
{
    tg_match_t match = record->match;
    char *topic = record->topic, *filter = record->filter;
    record->topic = record->filter = NULL; /* ours now */
    uint64_t key_id = sub_id ? sub_id : record->key_id;
    s_forget(broker, record);
    s_release_key(broker, match, topic, filter, key_id);
    free(topic);
    free(filter);
}

/* The session's record holding sub_id (REPLAYING or LIVE), or NULL. */
static edge_durable_t *s_find_sub(edge_session_t *session, uint64_t sub_id)
{
    for (edge_durable_t *record = session->durables; record; record = record->next)
        if (record->state != S_WAITING && record->sub_id == sub_id)
            return record;
    return NULL;
}

/* ---- sent ids (acks) ------------------------------------------------- */

/* Remembers id as sent (persistent records). Ids come in increasing order
   per record (backlog in order, then live ones newer than it); anything
   else is already covered. At capacity the oldest is forgotten: an ack of
   it is then ignored and the row is delivered again after a reconnect
   (at least once). */
static void s_sent_add(edge_durable_t *self, uint64_t id, uint32_t bound)
{
    if (!self->persistent || id <= self->max_sent)
        return;
    self->max_sent = id;
    if (bound == 0)
        bound = 1;
    if (self->sent_count == self->sent_capacity && self->sent_capacity < bound) {
        uint32_t capacity = self->sent_capacity ? self->sent_capacity * 2 : 16;
        if (capacity > bound)
            capacity = bound;
        uint64_t *ring = tg_malloc(sizeof(uint64_t) * capacity);
        for (uint32_t i = 0; i < self->sent_count; i++)
            ring[i] = self->sent[(self->sent_head + i) % self->sent_capacity];
        free(self->sent);
        self->sent = ring;
        self->sent_head = 0;
        self->sent_capacity = capacity;
    }
    if (self->sent_count == self->sent_capacity) {
        self->sent_head = (self->sent_head + 1) % self->sent_capacity;
        self->sent_count--;
    }
    self->sent[(self->sent_head + self->sent_count) % self->sent_capacity] = id;
    self->sent_count++;
}

static uint64_t *s_sent_at(edge_durable_t *self, uint32_t i)
{
    return &self->sent[(self->sent_head + i) % self->sent_capacity];
}

/* Drops acked (zeroed) ids from the front. */
static void s_sent_trim(edge_durable_t *self)
{
    while (self->sent_count > 0 && *s_sent_at(self, 0) == 0) {
        self->sent_head = (self->sent_head + 1) % self->sent_capacity;
        self->sent_count--;
    }
}

/* Marks id acked; true when it was sent and not acked yet. Binary search:
   the ring is increasing apart from the zeroes of earlier acks. */
static bool s_sent_take(edge_durable_t *self, uint64_t id)
{
    uint32_t low = 0, high = self->sent_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        /* Skip zeroes to the right for the comparison. */
        uint32_t probe = mid;
        while (probe < high && *s_sent_at(self, probe) == 0)
            probe++;
        if (probe == high) {
            high = mid;
            continue;
        }
        uint64_t value = *s_sent_at(self, probe);
        if (value == id) {
            *s_sent_at(self, probe) = 0;
            s_sent_trim(self);
            return true;
        }
        if (value < id)
            low = probe + 1;
        else
            high = mid;
    }
    return false;
}

/* Forgets every id <= upto; returns the highest id forgotten (0 = none). */
static uint64_t s_sent_take_upto(edge_durable_t *self, uint64_t upto)
{
    uint64_t highest = 0;
    while (self->sent_count > 0) {
        uint64_t value = *s_sent_at(self, 0);
        if (value > upto)
            break;
        if (value > highest)
            highest = value;
        self->sent_head = (self->sent_head + 1) % self->sent_capacity;
        self->sent_count--;
    }
    return highest;
}

/* ---- to the router --------------------------------------------------- */

static void s_send_more(edge_broker_t *broker, edge_durable_t *record)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_MORE);
    envelope->req = record->req;
    envelope->instance = tg_strdup(edge_broker_instance(broker));
    /* A lost MORE stalls this replay: the session sees no REPLAY_END and
       its subscription stays replaying until it reconnects (persist keeps
       the backlog). Counted by the link as a drop. */
    edge_broker_router_send(broker, envelope);
    tg_envelope_destroy(&envelope);
    record->more_owed = false;
}

/* Sends the MORE the record owes when its session's queue is below half. */
static void s_maybe_more(edge_broker_t *broker, edge_durable_t *record)
{
    if (!record->more_owed || !record->session || record->state != S_REPLAYING)
        return;
    edge_queue_t *queue = record->session->queue;
    if (edge_queue_size(queue) * 2 < edge_queue_limit(queue))
        s_send_more(broker, record);
}

/* ---- to the session -------------------------------------------------- */

/* Queues a frame for the record's session unless it expired (counted).
   Returns 0, or -1 when the session refused it (closing or full). */
static int s_push(edge_broker_t *broker, edge_durable_t *record, edge_frame_t *frame,
                  uint64_t pub_id, tg_now_t now)
{
    edge_metrics_t *metrics = edge_broker_metrics(broker);
    if (edge_frame_expired(frame, now)) {
        metrics->expired_drops++;
        return 0;
    }
    if (edge_session_push(record->session, frame) != 0) {
        metrics->drops++;
        return -1;
    }
    s_sent_add(record, pub_id, edge_broker_config(broker)->backlog_max);
    return 0;
}

/* Holds a live event (one more reference) until the record's replay
   ends, bounded by session_queue: past it the session is closed as a
   slow consumer (the replay does not keep up with the live stream; a
   persistent backlog stays stored). */
static void s_hold(edge_broker_t *broker, edge_durable_t *record, edge_frame_t *frame,
                   uint64_t pub_id)
{
    uint32_t bound = edge_broker_config(broker)->session_queue;
    if (record->held_count >= bound) {
        edge_session_kill_slow(record->session);
        return;
    }
    if (record->held_count == record->held_capacity) {
        uint32_t capacity = record->held_capacity ? record->held_capacity * 2 : 16;
        if (capacity > bound)
            capacity = bound;
        record->held = tg_realloc(record->held, sizeof(s_held_t) * capacity);
        record->held_capacity = capacity;
    }
    record->held[record->held_count].frame = edge_frame_ref(frame);
    record->held[record->held_count].pub_id = pub_id;
    record->held_count++;
}

/* Sends the held events newer than the last replayed one (all of them
   when nothing was replayed: last_replayed is 0), in order; the others
   were in the replay. Frees the rest. */
static void s_release_held(edge_broker_t *broker, edge_durable_t *record, tg_now_t now)
{
    for (uint32_t i = 0; i < record->held_count; i++) {
        s_held_t *held = &record->held[i];
        if (held->pub_id > record->last_replayed && record->session)
            s_push(broker, record, held->frame, held->pub_id, now);
    }
    s_drop_held(record);
}

/* The expiry of an event of topic published at ts: ts + the type's ttl
   (the registry's copy), 0 = none. */
static uint64_t s_expires(edge_broker_t *broker, const char *topic, uint64_t ts)
{
    const tg_event_type_t *type =
        topic ? tg_registry_get(edge_broker_registry(broker), topic) : NULL;
    return type && type->ttl > 0 ? ts + (uint64_t)type->ttl * 1000000u : 0;
}

/* True when a topic is covered by the record's key (REPLAYs of `_since`
   come per stored event; persist selects by topic, the edge checks). */
static bool s_topic_matches(const edge_durable_t *record, const char *topic)
{
    switch (record->match) {
    case TG_MATCH_EXACT:
        return strcmp(record->topic, topic) == 0;
    case TG_MATCH_PREFIX:
        return strncmp(record->topic, topic, strlen(record->topic)) == 0;
    case TG_MATCH_WILDCARD: {
        /* Components separated by '.', an empty pattern component matches
           any one component. */
        const char *p = record->topic, *t = topic;
        for (;;) {
            const char *pe = strchr(p, '.'), *te = strchr(t, '.');
            size_t pl = pe ? (size_t)(pe - p) : strlen(p);
            size_t tl = te ? (size_t)(te - t) : strlen(t);
            if (pl > 0 && (pl != tl || memcmp(p, t, pl) != 0))
                return false;
            if (!pe || !te)
                return !pe && !te;
            p = pe + 1;
            t = te + 1;
        }
    }
    }
    return false;
}

/* One REPLAY for a REPLAYING record: checks who may see it, encodes it for
   the session with `_replay: true`, queues it. */
static void s_on_replay(edge_broker_t *broker, edge_durable_t *record,
                        const tg_envelope_t *envelope, tg_now_t now)
{
    edge_metrics_t *metrics = edge_broker_metrics(broker);
    edge_session_t *session = record->session;
    if (envelope->pub_id > record->last_replayed)
        record->last_replayed = envelope->pub_id;
    if (++record->page_count >= EDGE_REPLAY_PAGE) {
        record->page_count = 0;
        record->more_owed = true;
    }
    const uint8_t empty[] = {0x80};
    const uint8_t *body = empty;
    size_t body_len = sizeof(empty);
    if (envelope->body && zframe_size(envelope->body) > 0) {
        body = zframe_data(envelope->body);
        body_len = zframe_size(envelope->body);
    }
    bool deliver = session->state == EDGE_SESSION_OPEN && envelope->topic &&
                   edge_session_may_see(session, envelope->audience) &&
                   (!envelope->to_users ||
                    edge_session_is_listed(session, envelope->to_users, envelope->to_users_count));
    /* `_since` replays the topic's retained events: the key's own topic
       match and filter decide, as the router's would for a live one. */
    if (deliver && !record->persistent)
        deliver = s_topic_matches(record, envelope->topic) &&
                  (!record->query || tg_query_match(record->query, body, body_len));
    if (deliver) {
        uint64_t expires = s_expires(broker, envelope->topic, envelope->ts);
        if (expires != 0 && (uint64_t)now.wall_us >= expires) {
            metrics->expired_drops++;
            deliver = false;
        }
    }
    if (deliver) {
        tg_buf_t json;
        tg_buf_init(&json, 0);
        const void *kwargs = body;
        size_t kwargs_len = body_len;
        if (session->serializer == TG_WAMP_JSON) {
            if (tg_body_to_json(body, body_len, &json) != 0) {
                metrics->bad_input[EDGE_BAD_INTERNAL]++;
                tg_buf_release(&json);
                s_maybe_more(broker, record);
                return;
            }
            kwargs = tg_buf_payload(&json);
            kwargs_len = json.len;
        }
        tg_buf_t buf;
        tg_buf_init(&buf, edge_frame_headroom());
        const char *topic = record->match == TG_MATCH_EXACT ? NULL : envelope->topic;
        unsigned flags =
            TG_WAMP_EVENT_REPLAY | (envelope->guaranteed ? TG_WAMP_EVENT_GUARANTEED : 0);
        tg_wamp_encode_event(session->serializer, record->sub_id, envelope->pub_id, topic,
                             envelope->ts, flags, kwargs, kwargs_len, &buf);
        tg_buf_release(&json);
        edge_frame_t *frame = edge_frame_new(&buf, session->serializer == TG_WAMP_MSGPACK, true);
        tg_buf_release(&buf);
        edge_frame_set_expires(frame, s_expires(broker, envelope->topic, envelope->ts));
        if (s_push(broker, record, frame, envelope->pub_id, now) == 0)
            metrics->replayed++;
        edge_frame_unref(&frame);
    }
    if (record->session)
        s_maybe_more(broker, record);
}

/* REPLAY_END: the held live events newer than the last replayed one go
   out, in order (those held while WAITING too); the record goes live
   (persistent) or is forgotten. */
static void s_on_replay_end(edge_broker_t *broker, edge_durable_t *record,
                            const tg_envelope_t *envelope, tg_now_t now)
{
    if (envelope->pub_id > record->last_replayed)
        record->last_replayed = envelope->pub_id;
    s_release_held(broker, record, now);
    record->more_owed = false;
    record->state = S_LIVE;
    if (!record->persistent)
        s_forget(broker, record);
}

/* ---- router answers -------------------------------------------------- */

static void s_reply_error(edge_session_t *session, int64_t request, const char *error,
                          const char *message, const tg_envelope_t *envelope)
{
    json_t *msg = tg_wamp_error(TG_WAMP_SUBSCRIBE, request, error, message ? message : error);
    if (strcmp(error, "telegraphy.error.gap") == 0) {
        /* The contract: kwargs {oldest}, null when nothing is held. */
        if (json_array_size(msg) == 5)
            json_array_append_new(msg, json_array());
        json_t *kwargs = json_object();
        json_object_set_new(kwargs, "oldest",
                            envelope->pub_id ? json_integer((json_int_t)envelope->pub_id)
                                             : json_null());
        json_array_append_new(msg, kwargs);
    }
    edge_session_send(session, msg);
    json_decref(msg);
}

/* The session joins the key's entry with the router's sub_id (creating
   the entry, or making it live). Returns 0, or -1 on an id conflict. */
static int s_join(edge_broker_t *broker, edge_durable_t *record, uint64_t sub_id, int64_t now_ms)
{
    edge_subs_t *subs = edge_broker_subs(broker);
    edge_sub_t *sub = edge_subs_lookup(subs, record->match, record->topic, record->filter);
    if (!sub)
        sub = edge_subs_insert(subs, record->match, record->topic, record->filter,
                               now_ms + EDGE_SUBSCRIBE_TIMEOUT_MS);
    if (edge_sub_state(sub) == EDGE_SUB_LIVE ? edge_sub_id(sub) != sub_id
                                             : edge_subs_set_live(subs, sub, sub_id) != 0) {
        edge_broker_release_sub(broker, sub, now_ms);
        return -1;
    }
    edge_subs_join(subs, sub, record->session, &record->session->subs);
    return 0;
}

static void s_on_subscribed(edge_broker_t *broker, edge_durable_t *record,
                            const tg_envelope_t *envelope, tg_now_t now)
{
    edge_session_t *session = record->session;
    s_wait_remove(edge_broker_durables(broker), record);
    if (!session) {
        /* An orphan: its session left while waiting. The router holds the
           key for this edge; release it unless someone else uses it, like
           a late confirmation of an abandoned shared key. */
        s_forget_release(broker, record, envelope->sub_id <= TG_MAX_ID ? envelope->sub_id : 0);
        return;
    }
    edge_session_pending_done(session);
    if (envelope->sub_id != record->key_id && record->held_count > 0) {
        /* Held for the key's expected id, which the router did not use
           (a key collision): not this subscription's events. */
        tg_log_error("edge: durable subscription id differs from its key's expected=%llu "
                     "got=%llu topic=%s: %u held events dropped",
                     (unsigned long long)record->key_id, (unsigned long long)envelope->sub_id,
                     record->topic, record->held_count);
        s_drop_held(record);
    }
    if (envelope->sub_id == 0 || envelope->sub_id > TG_MAX_ID ||
        s_join(broker, record, envelope->sub_id, now.mono_ms) != 0) {
        edge_broker_metrics(broker)->bad_input[EDGE_BAD_INTERNAL]++;
        tg_log_error("edge: SUBSCRIBED with unusable sub_id=%llu topic=%s",
                     (unsigned long long)envelope->sub_id, record->topic);
        edge_session_send_error(session, TG_WAMP_SUBSCRIBE, record->request,
                                "telegraphy.error.unavailable", "subscription id conflict");
        s_forget_release(broker, record, 0);
        return;
    }
    record->sub_id = envelope->sub_id;
    json_t *reply = tg_wamp_subscribed(record->request, (int64_t)record->sub_id);
    edge_session_send(session, reply);
    json_decref(reply);
    if (envelope->replay) {
        record->state = S_REPLAYING; /* what was held stays held until REPLAY_END */
        return;
    }
    record->state = S_LIVE;
    s_release_held(broker, record, now);
    if (!record->persistent)
        s_forget(broker, record);
}

bool edge_durable_router_message(edge_broker_t *broker, const tg_envelope_t *envelope, tg_now_t now)
{
    assert(broker);
    assert(envelope);
    edge_durables_t *self = edge_broker_durables(broker);
    uint64_t req = envelope->req;
    edge_durable_t *record = req ? zhashx_lookup(self->by_req, &req) : NULL;
    if (!record)
        return false;
    switch (envelope->command) {
    case TG_CMD_SUBSCRIBED:
        if (record->state != S_WAITING)
            return true; /* a repeated answer: the first one counted */
        s_on_subscribed(broker, record, envelope, now);
        return true;
    case TG_CMD_SUBSCRIBE_ERROR:
        if (record->state != S_WAITING)
            return true;
        if (record->session) {
            edge_session_pending_done(record->session);
            s_reply_error(record->session, record->request,
                          envelope->error ? envelope->error : "telegraphy.error.unavailable",
                          envelope->message, envelope);
        }
        /* The held live events go with the record; the router may hold
           the key for us since the SUBSCRIBE (it does not undo that on a
           refusal): released unless used here. */
        s_forget_release(broker, record, 0);
        return true;
    case TG_CMD_REPLAY:
        if (record->state != S_REPLAYING || !record->session ||
            (envelope->sub_id && envelope->sub_id != record->sub_id)) {
            edge_broker_metrics(broker)->bad_input[EDGE_BAD_INTERNAL]++;
            return true;
        }
        s_on_replay(broker, record, envelope, now);
        return true;
    case TG_CMD_REPLAY_END:
        if (record->state != S_REPLAYING) {
            edge_broker_metrics(broker)->bad_input[EDGE_BAD_INTERNAL]++;
            return true;
        }
        s_on_replay_end(broker, record, envelope, now);
        return true;
    default:
        return false;
    }
}

/* ---- from the session ------------------------------------------------ */

void edge_durable_subscribe(edge_broker_t *broker, edge_session_t *session, int64_t request,
                            tg_match_t match, const char *topic, const char *filter,
                            tg_query_t **query_p, bool persistent, uint64_t since, tg_now_t now)
{
    assert(broker);
    assert(session);
    assert(topic);
    assert(query_p);
    const tg_config_t *cfg = edge_broker_config(broker);
    if ((uint64_t)session->subs.count + edge_session_pending(session) >= cfg->max_subscriptions) {
        edge_session_send_error(session, TG_WAMP_SUBSCRIBE, request,
                                "telegraphy.error.too_many_subscriptions",
                                "too many subscriptions in this session");
        tg_query_destroy(query_p);
        return;
    }
    if (!edge_broker_router_ready(broker)) {
        edge_session_send_error(session, TG_WAMP_SUBSCRIBE, request, "telegraphy.error.unavailable",
                                "the gateway's router is not reachable");
        tg_query_destroy(query_p);
        return;
    }
    edge_durable_t *record = tg_new(edge_durable_t);
    record->session = session;
    record->request = request;
    record->match = match;
    record->topic = tg_strdup(topic);
    record->filter = filter && *filter ? tg_strdup(filter) : NULL;
    record->query = *query_p;
    *query_p = NULL;
    record->persistent = persistent;
    record->since = since;
    record->req = edge_broker_next_request(broker);
    record->deadline_ms = now.mono_ms + EDGE_SUBSCRIBE_TIMEOUT_MS;
    tg_subkey_t key;
    tg_subkey_make(&key, match, topic, record->filter);
    record->key_id = tg_subkey_id(&key, 0);
    tg_subkey_clear(&key);
    record->next = session->durables;
    session->durables = record;
    tg_check(zhashx_insert(edge_broker_durables(broker)->by_req, &record->req, record) == 0);
    s_wait_add(edge_broker_durables(broker), record);
    edge_session_pending_add(session);

    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBE);
    envelope->req = record->req;
    envelope->topic = tg_strdup(topic);
    envelope->match = match;
    envelope->filter = record->filter ? tg_strdup(record->filter) : NULL;
    envelope->persistent = persistent;
    envelope->since = since;
    if (persistent)
        envelope->client_id = tg_strdup(session->client_id);
    int rc = edge_broker_router_send(broker, envelope);
    tg_envelope_destroy(&envelope);
    if (rc != 0) {
        edge_session_pending_done(session);
        edge_session_send_error(session, TG_WAMP_SUBSCRIBE, request, "telegraphy.error.unavailable",
                                "the gateway's router is not reachable");
        s_forget(broker, record);
    }
}

bool edge_durable_live(edge_broker_t *broker, edge_session_t *session, uint64_t sub_id,
                       edge_frame_t *frame, uint64_t pub_id, tg_now_t now)
{
    assert(broker);
    assert(session);
    (void)now;
    edge_durable_t *record = s_find_sub(session, sub_id);
    if (!record)
        return false;
    if (record->state == S_LIVE) {
        s_sent_add(record, pub_id, edge_broker_config(broker)->backlog_max);
        return false;
    }
    /* REPLAYING: held until REPLAY_END. */
    s_hold(broker, record, frame, pub_id);
    return true;
}

bool edge_durables_waiting(const edge_durables_t *self)
{
    assert(self);
    return self->waiting_count > 0;
}

bool edge_durables_key_waited(edge_durables_t *self, uint64_t sub_id)
{
    assert(self);
    return self->waiting_count > 0 && zhashx_lookup(self->waiting, &sub_id) != NULL;
}

size_t edge_durable_waiting_event(edge_broker_t *broker, const tg_envelope_t *event,
                                  uint64_t sub_id, uint64_t expires_at, tg_now_t now)
{
    assert(broker);
    assert(event);
    (void)now;
    edge_durables_t *self = edge_broker_durables(broker);
    size_t held = 0;
    edge_durable_t *record = self->waiting_count ? zhashx_lookup(self->waiting, &sub_id) : NULL;
    for (; record; record = record->wait_next) {
        edge_session_t *session = record->session;
        /* Who may see it is decided now, as for the key's members. */
        if (!session || session->state != EDGE_SESSION_OPEN ||
            !edge_session_may_see(session, event->audience) ||
            (event->to_users &&
             !edge_session_is_listed(session, event->to_users, event->to_users_count)))
            continue;
        const uint8_t empty[] = {0x80};
        const uint8_t *body = empty;
        size_t body_len = sizeof(empty);
        if (event->body && zframe_size(event->body) > 0) {
            body = zframe_data(event->body);
            body_len = zframe_size(event->body);
        }
        tg_buf_t json;
        tg_buf_init(&json, 0);
        if (session->serializer == TG_WAMP_JSON) {
            if (tg_body_to_json(body, body_len, &json) != 0) {
                edge_broker_metrics(broker)->bad_input[EDGE_BAD_INTERNAL]++;
                tg_buf_release(&json);
                continue;
            }
            body = tg_buf_payload(&json);
            body_len = json.len;
        }
        tg_buf_t buf;
        tg_buf_init(&buf, edge_frame_headroom());
        const char *topic = record->match == TG_MATCH_EXACT ? NULL : event->topic;
        tg_wamp_encode_event(session->serializer, sub_id, event->pub_id, topic, event->ts,
                             event->guaranteed ? TG_WAMP_EVENT_GUARANTEED : 0, body, body_len,
                             &buf);
        tg_buf_release(&json);
        edge_frame_t *frame = edge_frame_new(&buf, session->serializer == TG_WAMP_MSGPACK, true);
        tg_buf_release(&buf);
        edge_frame_set_expires(frame, expires_at);
        s_hold(broker, record, frame, event->pub_id);
        edge_frame_unref(&frame);
        held++;
    }
    return held;
}

void edge_durable_drained(edge_broker_t *broker, edge_session_t *session)
{
    assert(broker);
    assert(session);
    for (edge_durable_t *record = session->durables; record; record = record->next)
        s_maybe_more(broker, record);
}

void edge_durable_unsubscribe(edge_broker_t *broker, edge_session_t *session, uint64_t sub_id)
{
    assert(broker);
    assert(session);
    edge_durable_t *record = s_find_sub(session, sub_id);
    if (!record)
        return;
    if (record->persistent) {
        tg_envelope_t *envelope = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
        envelope->sub_id = sub_id;
        envelope->client_id = tg_strdup(session->client_id);
        edge_broker_router_send(broker, envelope);
        tg_envelope_destroy(&envelope);
    }
    s_forget(broker, record);
}

/* Sends one ACK for a record. */
static void s_send_ack(edge_broker_t *broker, edge_durable_t *record, uint64_t *ids, size_t count,
                       uint64_t upto)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_ACK);
    envelope->client_id = tg_strdup(record->session->client_id);
    envelope->sub_id = record->sub_id;
    if (count > 0) {
        envelope->pub_ids = tg_malloc(sizeof(uint64_t) * count);
        memcpy(envelope->pub_ids, ids, sizeof(uint64_t) * count);
        envelope->pub_ids_count = count;
    }
    envelope->upto = upto;
    if (edge_broker_router_send(broker, envelope) == 0)
        edge_broker_metrics(broker)->acks_sent++;
    tg_envelope_destroy(&envelope);
}

/* A publication id from the client: an integer in [1, 2^53]. */
static bool s_id_value(const json_t *value, uint64_t *id)
{
    if (!json_is_integer(value) || json_integer_value(value) < 1 ||
        json_integer_value(value) > TG_WAMP_MAX_ID)
        return false;
    *id = (uint64_t)json_integer_value(value);
    return true;
}

int edge_durable_ack(edge_broker_t *broker, edge_session_t *session, const json_t *args,
                     const json_t *kwargs, char *err, size_t errlen)
{
    assert(broker);
    assert(session);
    edge_metrics_t *metrics = edge_broker_metrics(broker);
    const json_t *ids = json_array_get(args, 0);
    if (ids) {
        if (!json_is_array(ids) || json_array_size(ids) > TG_MAX_ACK_IDS) {
            snprintf(err, errlen, "args[0] must be a list of at most %d publication ids",
                     TG_MAX_ACK_IDS);
            return -1;
        }
        size_t count = json_array_size(ids);
        for (size_t i = 0; i < count; i++) {
            uint64_t id;
            if (!s_id_value(json_array_get(ids, i), &id)) {
                snprintf(err, errlen, "args[0][%zu] is not a publication id", i);
                return -1;
            }
        }
        uint64_t *taken = count ? tg_malloc(sizeof(uint64_t) * count) : NULL;
        bool *used = count ? tg_calloc(count, sizeof(bool)) : NULL;
        if (count)
            memset(used, 0, sizeof(bool) * count);
        for (edge_durable_t *record = session->durables; record; record = record->next) {
            if (!record->persistent || record->state == S_WAITING)
                continue;
            size_t n = 0;
            for (size_t i = 0; i < count; i++) {
                uint64_t id = (uint64_t)json_integer_value(json_array_get(ids, i));
                if (s_sent_take(record, id)) {
                    taken[n++] = id;
                    used[i] = true;
                }
            }
            if (n > 0)
                s_send_ack(broker, record, taken, n, 0);
        }
        for (size_t i = 0; i < count; i++)
            if (!used[i])
                metrics->acks_ignored++;
        free(taken);
        free(used);
    }
    const json_t *subscription = json_object_get(kwargs, "subscription");
    const json_t *upto_value = json_object_get(kwargs, "upto");
    if (subscription || upto_value) {
        uint64_t sub_id, upto;
        if (!s_id_value(subscription, &sub_id) || !s_id_value(upto_value, &upto)) {
            snprintf(err, errlen, "kwargs must be {subscription, upto} with integer ids");
            return -1;
        }
        edge_durable_t *record = s_find_sub(session, sub_id);
        if (!record || !record->persistent) {
            metrics->acks_ignored++;
            return 0;
        }
        /* Never beyond what this session was sent: an id past it may be
           stored and on its way, and acking it would lose it. */
        uint64_t highest = s_sent_take_upto(record, upto);
        if (upto > record->max_sent)
            metrics->acks_ignored++;
        if (highest > 0)
            s_send_ack(broker, record, NULL, 0, highest);
    }
    if (!ids && !subscription && !upto_value) {
        snprintf(err, errlen, "telegraphy.ack takes [[pub_id, ...]] or {subscription, upto}");
        return -1;
    }
    return 0;
}

void edge_durable_session_closed(edge_broker_t *broker, edge_session_t *session)
{
    assert(broker);
    assert(session);
    while (session->durables) {
        edge_durable_t *record = session->durables;
        if (record->state == S_WAITING) {
            s_unlink(record); /* an orphan until the router answers */
            s_drop_held(record);
        } else {
            s_forget(broker, record);
        }
    }
}

void edge_durable_tick(edge_broker_t *broker, tg_now_t now)
{
    assert(broker);
    edge_durables_t *self = edge_broker_durables(broker);
    zlistx_t *late = zlistx_new();
    for (edge_durable_t *record = zhashx_first(self->by_req); record;
         record = zhashx_next(self->by_req))
        if (record->state == S_WAITING && record->deadline_ms <= now.mono_ms)
            zlistx_add_end(late, record);
    for (edge_durable_t *record = zlistx_first(late); record; record = zlistx_next(late)) {
        if (record->session) {
            edge_broker_metrics(broker)->subscribe_timeouts++;
            edge_session_pending_done(record->session);
            edge_session_send_error(
                record->session, TG_WAMP_SUBSCRIBE, record->request, "telegraphy.error.unavailable",
                "the gateway's router did not confirm the subscription in time");
        }
        tg_log_ratelimited(&s_unknown_limiter, S_LOG_INTERVAL_MS,
                           "edge: durable subscribe timed out topic=%s", record->topic);
        s_forget_release(broker, record, 0);
    }
    zlistx_destroy(&late);
}
