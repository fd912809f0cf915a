/*  persist_replay: see persist_replay.h.

    Each replay is an entry in a fixed table of slots. The store answers
    every operation once, so an entry counts the operations that hold it
    (`ops`) and is freed only when it is finished and none is left: a
    replay abandoned while a page is being read is freed by that page's
    callback.
*/
#include "persist_replay.h"

#include <inttypes.h>
#include <string.h>

#include "persist_broker.h"
#include "tg_alloc.h"
#include "tg_log.h"

typedef enum {
    S_CHECKING = 0, /* upsert and gap check in flight */
    S_FETCHING,     /* a page is being read */
    S_WAITING,      /* a full page went out: waiting for MORE (or a retry) */
} s_state_t;

typedef struct {
    persist_replay_t *owner;              /* the table */
    size_t slot;                          /* index in owner->slots, while live */
    bool live;                            /* in its slot (not finished or abandoned) */
    int ops;                              /* store operations holding the entry */
    s_state_t state;                      /* see above */
    bool credit;                          /* a MORE (or a retry) is owed a page */
    bool accepted;                        /* ACCEPTED was sent */
    char instance[TG_MAX_ID_STRING + 1];  /* the edge */
    uint64_t req;                         /* the edge's SUBSCRIBE req */
    uint64_t sub_id;                      /* the router's id of the key */
    bool persistent;                      /* backlog (true) or retained events (false) */
    char client_id[TG_MAX_CLIENT_ID + 1]; /* persistent: whose backlog */
    char *topic;                          /* since: the key's topic, owned */
    char match[16];                       /* since: "exact" | "prefix" | "wildcard" */
    uint64_t after;                       /* the next page starts after this pub_id */
    uint64_t last_sent;                   /* the last REPLAY's pub_id, 0 = none */
    int64_t active_ms;                    /* monotonic time of the last progress */
} s_entry_t;

struct _persist_replay_t {
    persist_store_t *store;       /* borrowed */
    persist_link_t *link;         /* borrowed */
    persist_keys_t *keys;         /* borrowed */
    s_entry_t **slots;            /* max slots, NULL = free */
    size_t max;                   /* the bound */
    bool stopping;                /* persist_replay_stop */
    tg_now_t now;                 /* the current turn's time */
    persist_replay_stats_t stats; /* counters (active filled on read) */
    tg_log_limiter_t log;         /* refusals */
};

persist_replay_t *persist_replay_new(persist_store_t *store, persist_link_t *link,
                                     persist_keys_t *keys, size_t max)
{
    assert(store && link && keys);
    persist_replay_t *self = tg_new(persist_replay_t);
    self->store = store;
    self->link = link;
    self->keys = keys;
    self->max = max ? max : PERSIST_REPLAYS_MAX;
    self->slots = tg_calloc(self->max, sizeof *self->slots);
    return self;
}

static void s_entry_free(s_entry_t *entry)
{
    free(entry->topic);
    free(entry);
}

void persist_replay_destroy(persist_replay_t **self_p)
{
    assert(self_p);
    persist_replay_t *self = *self_p;
    if (!self)
        return;
    //  The store is gone by now: no operation holds an entry any more.
    for (size_t i = 0; i < self->max; i++)
        if (self->slots[i])
            s_entry_free(self->slots[i]);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

void persist_replay_stop(persist_replay_t *self)
{
    assert(self);
    self->stopping = true;
}

void persist_replay_turn(persist_replay_t *self, tg_now_t now)
{
    assert(self);
    self->now = now;
}

void persist_replay_stats(const persist_replay_t *self, persist_replay_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
    stats->active = 0;
    for (size_t i = 0; i < self->max; i++)
        stats->active += self->slots[i] != NULL;
}

/* --- entries ------------------------------------------------------------ */

static s_entry_t *s_find(persist_replay_t *self, const char *instance, uint64_t req)
{
    for (size_t i = 0; i < self->max; i++) {
        s_entry_t *entry = self->slots[i];
        if (entry && entry->req == req && streq(entry->instance, instance))
            return entry;
    }
    return NULL;
}

static s_entry_t *s_add(persist_replay_t *self)
{
    for (size_t i = 0; i < self->max; i++)
        if (!self->slots[i]) {
            s_entry_t *entry = tg_new(s_entry_t);
            entry->owner = self;
            entry->slot = i;
            entry->live = true;
            self->slots[i] = entry;
            return entry;
        }
    return NULL;
}

//  Takes the entry out of its slot; it is freed now, or by the last
//  callback that holds it.
static void s_finish(s_entry_t *entry)
{
    persist_replay_t *self = entry->owner;
    if (entry->live) {
        self->slots[entry->slot] = NULL;
        entry->live = false;
    }
    if (entry->ops == 0)
        s_entry_free(entry);
}

//  A callback's entry: one operation fewer. True when the entry is still
//  to be served; false when it was freed or is only waiting to be.
static bool s_release(s_entry_t *entry)
{
    entry->ops--;
    if (entry->live && !entry->owner->stopping)
        return true;
    if (entry->live) { //  stopping: nothing more will be sent
        entry->owner->slots[entry->slot] = NULL;
        entry->live = false;
    }
    if (entry->ops == 0)
        s_entry_free(entry);
    return false;
}

/* --- messages to the router --------------------------------------------- */

static int s_send(persist_replay_t *self, tg_envelope_t *envelope)
{
    int rc = persist_link_send(self->link, envelope);
    if (rc != 0)
        self->stats.drops++;
    tg_envelope_destroy(&envelope);
    return rc;
}

static void s_send_accepted(persist_replay_t *self, const char *instance, uint64_t req)
{
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_ACCEPTED);
    reply->req = req;
    reply->instance = tg_strdup(instance);
    s_send(self, reply);
}

//  REJECTED {req, instance, error, message[, pub_id: oldest]}.
static void s_send_rejected(persist_replay_t *self, const char *instance, uint64_t req,
                            const char *error, const char *message, uint64_t oldest)
{
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_REJECTED);
    reply->req = req;
    reply->instance = tg_strdup(instance);
    reply->error = tg_strdup(error);
    reply->message = tg_strdup(message);
    reply->pub_id = oldest;
    s_send(self, reply);
}

static void s_refuse(persist_replay_t *self, const char *instance, uint64_t req,
                     const char *message)
{
    self->stats.refused++;
    tg_log_ratelimited(&self->log, PERSIST_LOG_INTERVAL_MS,
                       "persist: resume_refused instance=%s req=%" PRIu64 " reason=\"%s\"",
                       instance, req, message);
    s_send_rejected(self, instance, req, PERSIST_ERROR_UNAVAILABLE, message, 0);
}

/* --- pages -------------------------------------------------------------- */

static void s_fetch(s_entry_t *entry);

static void s_send_end(s_entry_t *entry)
{
    tg_envelope_t *end = tg_envelope_new(TG_CMD_REPLAY_END);
    end->req = entry->req;
    end->instance = tg_strdup(entry->instance);
    end->sub_id = entry->sub_id;
    end->pub_id = entry->last_sent;
    s_send(entry->owner, end);
}

//  One page read: each row goes out as a REPLAY; a full page waits for
//  credit, a short one ends the replay. A row that cannot be sent stops
//  the page: it is read again from there at the next tick.
static void s_page_read(const persist_store_result_t *result, void *arg)
{
    s_entry_t *entry = arg;
    if (!s_release(entry))
        return;
    persist_replay_t *self = entry->owner;
    entry->state = S_WAITING;
    if (result->status != 0) {
        entry->credit = true; //  retried at the next tick
        return;
    }
    for (size_t i = 0; i < result->size; i++) {
        const persist_store_event_row_t *row = &result->events[i];
        tg_envelope_t *replay = tg_envelope_new(TG_CMD_REPLAY);
        replay->req = entry->req;
        replay->instance = tg_strdup(entry->instance);
        replay->sub_id = entry->sub_id;
        replay->stored = zframe_new(row->header, row->header_size);
        replay->body = zframe_new(row->body, row->body_size);
        if (s_send(self, replay) != 0) {
            entry->credit = true;
            return;
        }
        self->stats.events_out++;
        entry->after = entry->last_sent = row->pub_id;
    }
    entry->active_ms = self->now.mono_ms;
    if (!result->more) {
        s_send_end(entry);
        s_finish(entry);
    } else if (entry->credit) {
        entry->credit = false;
        s_fetch(entry);
    }
}

static void s_fetch(s_entry_t *entry)
{
    persist_replay_t *self = entry->owner;
    int rc;
    entry->ops++;
    entry->state = S_FETCHING;
    if (entry->persistent)
        rc = persist_store_backlog_page(self->store, entry->client_id, entry->sub_id, entry->after,
                                        PERSIST_REPLAY_PAGE, self->now.wall_us, s_page_read, entry);
    else
        rc =
            persist_store_retained_page(self->store, entry->topic, entry->match, entry->after,
                                        PERSIST_REPLAY_PAGE, self->now.wall_us, s_page_read, entry);
    if (rc != 0) {
        entry->ops--;
        entry->state = S_WAITING;
        entry->credit = true; //  retried at the next tick
    }
}

/* --- RESUME -------------------------------------------------------------- */

//  The persistent subscription's row is there (created or refreshed). Who
//  holds a key is the database's to say (persist_broker's UNSUBSCRIBE asks
//  it), so nothing is counted here.
static void s_upserted(const persist_store_result_t *result, void *arg)
{
    (void)result;
    s_release(arg);
}

static void s_gap_checked(const persist_store_result_t *result, void *arg)
{
    s_entry_t *entry = arg;
    if (!s_release(entry))
        return;
    persist_replay_t *self = entry->owner;
    if (result->status != 0) {
        s_refuse(self, entry->instance, entry->req, "the database is unavailable");
        s_finish(entry);
        return;
    }
    if (result->gap.gap) {
        self->stats.gaps++;
        char message[128];
        snprintf(message, sizeof message,
                 "events after %" PRIu64 " are no longer held (dropped up to %" PRIu64 ")",
                 entry->after, result->gap.dropped_upto);
        s_send_rejected(self, entry->instance, entry->req, PERSIST_ERROR_GAP, message,
                        result->gap.has_oldest ? result->gap.oldest : 0);
        s_finish(entry);
        return;
    }
    self->stats.replays++;
    entry->accepted = true;
    entry->active_ms = self->now.mono_ms;
    s_send_accepted(self, entry->instance, entry->req);
    s_fetch(entry); //  the first page needs no credit
}

//  Holds the key at the router (SUBSCRIBE before anything else, so that
//  the router has it before our ACCEPTED). 0, or -1 when the key table is
//  full.
static int s_hold_key(persist_replay_t *self, const tg_envelope_t *resume)
{
    persist_key_t *key = persist_keys_add(self->keys, resume->sub_id, resume->topic,
                                          tg_match_name(resume->match), resume->filter);
    if (!key)
        return -1;
    uint64_t round = persist_keys_round(self->keys);
    if (key->round != round) {
        key->round = round;
        if (persist_link_subscribe(self->link, key->topic, key->match, key->filter) != 0)
            self->stats.drops++;
    }
    return 0;
}

void persist_replay_resume(persist_replay_t *self, const tg_envelope_t *resume, tg_now_t now)
{
    assert(self && resume && resume->command == TG_CMD_RESUME);
    self->now = now;
    if ((!resume->persistent && resume->since == 0) || (resume->persistent && !resume->client_id) ||
        !resume->instance || !resume->topic) {
        self->stats.bad_input++;
        if (resume->instance)
            s_send_rejected(self, resume->instance, resume->req, PERSIST_ERROR_UNAVAILABLE,
                            "a RESUME needs persistent (with client_id) or since", 0);
        return;
    }
    if (s_find(self, resume->instance, resume->req)) {
        self->stats.bad_input++; //  the router sent the same request twice
        return;
    }
    if (resume->persistent && s_hold_key(self, resume) != 0) {
        s_refuse(self, resume->instance, resume->req, "too many persistent subscriptions");
        return;
    }
    s_entry_t *entry = s_add(self);
    if (!entry) {
        s_refuse(self, resume->instance, resume->req, "too many replays in flight");
        return;
    }
    snprintf(entry->instance, sizeof entry->instance, "%s", resume->instance);
    entry->req = resume->req;
    entry->sub_id = resume->sub_id;
    entry->persistent = resume->persistent;
    entry->after = resume->since;
    entry->active_ms = now.mono_ms;
    snprintf(entry->match, sizeof entry->match, "%s", tg_match_name(resume->match));
    int rc;
    if (resume->persistent) {
        snprintf(entry->client_id, sizeof entry->client_id, "%s", resume->client_id);
        entry->ops++;
        rc = persist_store_subscription_upsert(
            self->store, entry->client_id, entry->sub_id, resume->topic, entry->match,
            resume->filter ? resume->filter : "", now.wall_us, s_upserted, entry);
        if (rc != 0)
            entry->ops--;
        else {
            entry->ops++;
            rc = persist_store_gap_subscription(self->store, entry->client_id, entry->sub_id,
                                                entry->after, now.wall_us, s_gap_checked, entry);
            if (rc != 0)
                entry->ops--; //  the upsert's callback still comes; the answer is sent here
        }
    } else {
        entry->topic = tg_strdup(resume->topic);
        entry->ops++;
        rc = persist_store_gap_topic(self->store, entry->topic, entry->match, entry->after,
                                     now.wall_us, s_gap_checked, entry);
        if (rc != 0)
            entry->ops--;
    }
    if (rc != 0) {
        s_refuse(self, entry->instance, entry->req, "the database is unavailable");
        s_finish(entry);
    }
}

/* --- MORE and the tick ---------------------------------------------------- */

void persist_replay_more(persist_replay_t *self, const tg_envelope_t *more, tg_now_t now)
{
    assert(self && more && more->command == TG_CMD_MORE);
    self->now = now;
    s_entry_t *entry = s_find(self, more->instance, more->req);
    if (!entry) {
        self->stats.more_unknown++;
        return;
    }
    entry->active_ms = now.mono_ms;
    if (entry->state == S_WAITING && entry->accepted) {
        entry->credit = false;
        s_fetch(entry);
    } else
        entry->credit = true; //  served as soon as the page in flight is out
}

void persist_replay_tick(persist_replay_t *self, tg_now_t now)
{
    assert(self);
    self->now = now;
    for (size_t i = 0; i < self->max; i++) {
        s_entry_t *entry = self->slots[i];
        if (!entry)
            continue;
        if (now.mono_ms - entry->active_ms > PERSIST_REPLAY_IDLE_MS) {
            self->stats.abandoned++;
            tg_log_ratelimited(&self->log, PERSIST_LOG_INTERVAL_MS,
                               "persist: replay_abandoned instance=%s req=%" PRIu64
                               " last=%" PRIu64,
                               entry->instance, entry->req, entry->last_sent);
            s_finish(entry);
        } else if (entry->state == S_WAITING && entry->credit && entry->accepted) {
            entry->credit = false;
            s_fetch(entry); //  a page that failed: again from the last REPLAY sent
        }
    }
}
