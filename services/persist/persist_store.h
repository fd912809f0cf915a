/*  persist_store: the batched store on top of persist_db.

    Callers enqueue operations; each gets exactly one callback:
      - a write (store_event, ack, subscription_*, register_type,
        spend_token, mark_dropped, expire) hears status 0 only after the
        COMMIT of the transaction that holds it has returned (with
        synchronous_commit on: the rows are on disk), and status -1 when
        that transaction failed or the connection dropped first, or when
        the database went down while it was queued. On -1 the wire side
        answers REJECTED telegraphy.error.unavailable: never ACCEPTED.
      - a read (load_*, backlog_page, retained_page, gap_*) hears its rows,
        which it borrows for the duration of the call, or -1.

    Group commit: at most one batch is in flight. Everything enqueued while
    it runs goes into the next one (up to batch_max operations): in pipeline
    mode, BEGIN; the writes; COMMIT; then the reads; one sync: one round
    trip. A read sees every write enqueued before it. expire() runs as a
    batch of its own, each statement bounded by its `limit`, so a write
    waits at most for one bounded expiry step.

    The queue of operations not yet sent is bounded (queue_max): when full,
    or while the database is DOWN or FAILED, enqueueing fails at once (-1,
    no callback) and the caller rejects. The owner calls persist_store_flush
    after each turn of its loop: it sends the next batch when none is in
    flight (later batches follow by themselves as each one completes).

    The tables and the rules at each bound are in docs/persistence.md.
    Times: `*_us` are wall-clock microseconds since the Unix epoch, passed
    in by the caller like every time here; `exp` of a token is in seconds.
*/
#ifndef PERSIST_STORE_H
#define PERSIST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "persist_db.h"

/* Operations waiting to be sent (the queue bound). */
#define PERSIST_STORE_QUEUE_MAX 20000
/* Operations in one transaction. */
#define PERSIST_STORE_BATCH_MAX 1000
/* Delivery rows held per persistent subscription (TELEGRAPHY_BACKLOG_MAX). */
#define PERSIST_STORE_BACKLOG_MAX 10000
/* Seconds an unused persistent subscription is kept (TELEGRAPHY_PERSISTENT_TTL). */
#define PERSIST_STORE_PERSISTENT_TTL_S (7 * 24 * 3600)
/* Matching persistent subscriptions named by one event; pub ids in one ack. */
#define PERSIST_STORE_EVENT_SUBS_MAX 4096
#define PERSIST_STORE_ACK_IDS_MAX    4096
/* Rows in one page or load. */
#define PERSIST_STORE_PAGE_MAX 5000

typedef struct {
    size_t queue_max;         /* 0: PERSIST_STORE_QUEUE_MAX */
    size_t batch_max;         /* 0: PERSIST_STORE_BATCH_MAX */
    int64_t backlog_max;      /* 0: PERSIST_STORE_BACKLOG_MAX */
    int64_t persistent_ttl_s; /* 0: PERSIST_STORE_PERSISTENT_TTL_S */
} persist_store_config_t;

/* An event to store (borrowed by persist_store_event, which copies it). */
typedef struct {
    uint64_t pub_id;       /* 1 .. 2^53 */
    int64_t ts_us;         /* publication time */
    const char *topic;     /* the event type's name */
    int64_t expires_at_us; /* ts + ttl; 0: no ttl */
    bool guaranteed;       /* owed to the persistent subscriptions below */
    const uint8_t *header; /* the envelope header bytes, stored as they are */
    size_t header_size;
    const uint8_t *body; /* the msgpack body bytes, stored as they are */
    size_t body_size;
    const uint64_t *sub_ids; /* router subscription ids that matched (guaranteed only) */
    size_t sub_id_count;     /* <= PERSIST_STORE_EVENT_SUBS_MAX */
} persist_store_event_t;

/* Rows handed to read callbacks: borrowed for the call. */
typedef struct {
    uint64_t pub_id;
    int64_t ts_us;
    const char *topic;
    int64_t expires_at_us; /* 0: no ttl */
    const uint8_t *header;
    size_t header_size;
    const uint8_t *body;
    size_t body_size;
} persist_store_event_row_t;

typedef struct {
    const char *name;
    const uint8_t *definition; /* the msgpack registered */
    size_t definition_size;
} persist_store_type_row_t;

typedef struct {
    const char *jti;
    int64_t exp; /* unix seconds */
} persist_store_token_row_t;

typedef struct {
    int64_t key; /* the store's own key: the cursor of load_subscriptions */
    const char *client_id;
    uint64_t sub_id;
    const char *topic;
    const char *match;
    const char *filter;
    int64_t last_seen_us;
    int64_t backlog;       /* delivery rows held */
    uint64_t dropped_upto; /* its overflow/expiry mark */
} persist_store_subscription_row_t;

/* What the gap rule needs (docs/persistence.md, "Gaps"). */
typedef struct {
    bool found;            /* gap_subscription: the subscription exists;
                              gap_topic: a mark exists for a matching topic */
    bool gap;              /* the request reaches below what is held */
    bool has_oldest;       /* `oldest` is valid */
    uint64_t oldest;       /* the oldest publication id still held for the key */
    uint64_t store_began;  /* gap_topic: the first id stored (the lowest over matches) */
    uint64_t dropped_upto; /* the highest id dropped (the highest over matches) */
} persist_store_gap_t;

/* What status shows of the stored state (persist_store_totals). */
typedef struct {
    int64_t subscriptions;   /* persistent subscriptions */
    int64_t backlog;         /* delivery rows held, over all of them */
    uint64_t oldest_unacked; /* the lowest pub_id owed to anyone, 0 = none */
} persist_store_totals_t;

typedef struct {
    int status;         /* 0 committed / answered, -1 failed */
    const char *error;  /* status -1: why ("" otherwise) */
    uint64_t count;     /* ack*: rows removed; spend_token: 1 newly spent, 0 already
                           spent; subscription_upsert: 1 created, 0 updated;
                           subscription_delete/touch: rows affected; expire: rows removed */
    uint64_t ignored;   /* ack: ids that were not owed to that subscription */
    uint64_t remaining; /* subscription_delete: persistent subscriptions (any client) still on
                           that router key after the delete */
    bool more;          /* expire: a bound was reached, call again; pages: a full page */
    size_t size;        /* rows in the array that applies below */
    const persist_store_event_row_t *events;               /* backlog_page, retained_page */
    const persist_store_type_row_t *types;                 /* load_types */
    const persist_store_token_row_t *tokens;               /* load_spent_tokens */
    const persist_store_subscription_row_t *subscriptions; /* load_subscriptions */
    persist_store_gap_t gap;                               /* gap_* */
    persist_store_totals_t totals;                         /* totals */
} persist_store_result_t;

/* The one callback of an operation; `result` is borrowed for the call. May
   enqueue further operations. */
typedef void(persist_store_done_fn)(const persist_store_result_t *result, void *arg);

typedef struct {
    size_t queued;             /* operations waiting now */
    bool in_flight;            /* a batch is in flight */
    uint64_t batches;          /* batches completed (committed or failed) */
    uint64_t batches_failed;   /* of which failed */
    uint64_t last_batch_size;  /* operations in the last batch */
    uint64_t max_batch_size;   /* the largest batch so far */
    uint64_t committed;        /* write operations committed */
    uint64_t failed;           /* operations answered -1 */
    uint64_t rejected_full;    /* enqueues refused: queue full */
    uint64_t rejected_down;    /* enqueues refused: database down */
    uint64_t events_stored;    /* store_event operations committed */
    uint64_t acks_removed;     /* delivery rows removed by acks */
    uint64_t acks_ignored;     /* acked ids that were not owed */
    uint64_t overflow_dropped; /* delivery rows dropped at the backlog bound */
    uint64_t expired;          /* rows removed by expire */
} persist_store_stats_t;

typedef struct _persist_store_t persist_store_t;

/* Caller owns the result. Borrows db (which must outlive the store) and
   registers the store's statements and a state watcher with it. `config`
   may be NULL (defaults). */
persist_store_t *persist_store_new(persist_db_t *db, const persist_store_config_t *config);

/* Safe on NULL and twice. Every operation queued or in flight hears -1
   ("shutting down"); the db is disconnected so nothing of the store stays
   in its pipeline. */
void persist_store_destroy(persist_store_t **self_p);

/* Sends the next batch if none is in flight and the db is READY. */
void persist_store_flush(persist_store_t *self, int64_t now_ms);

/* --- writes: 0 = queued (the callback will come), -1 = refused at once --- */

/* Stores the event when it has a ttl (retained) or is guaranteed, and one
   delivery row per persistent subscription (any client) holding one of
   `sub_ids` when guaranteed; then enforces backlog_max per subscription:
   the oldest rows go and the subscription's dropped_upto rises. Storing the
   same pub_id twice is harmless. */
int persist_store_event(persist_store_t *self, const persist_store_event_t *event,
                        persist_store_done_fn *fn, void *arg);

/* Removes the delivery rows of those ids for that client's subscription;
   result.count = rows removed, result.ignored = the other ids. */
int persist_store_ack(persist_store_t *self, const char *client_id, uint64_t sub_id,
                      const uint64_t *pub_ids, size_t count, persist_store_done_fn *fn, void *arg);

/* Removes every delivery row of that subscription with pub_id <= upto. */
int persist_store_ack_upto(persist_store_t *self, const char *client_id, uint64_t sub_id,
                           uint64_t upto, persist_store_done_fn *fn, void *arg);

/* Creates the persistent subscription or refreshes it (last_seen). */
int persist_store_subscription_upsert(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                      const char *topic, const char *match, const char *filter,
                                      int64_t now_us, persist_store_done_fn *fn, void *arg);

/* Ends it (UNSUBSCRIBE): the row and its delivery rows. */
int persist_store_subscription_delete(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                      persist_store_done_fn *fn, void *arg);

/* Marks it used now (its ttl restarts). */
int persist_store_subscription_touch(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                     int64_t now_us, persist_store_done_fn *fn, void *arg);

/* Keeps (or replaces) an event type's registration, as msgpack bytes. */
int persist_store_register_type(persist_store_t *self, const char *name, const uint8_t *definition,
                                size_t size, persist_store_done_fn *fn, void *arg);

/* Records a spent token id until `exp`; result.count 0 means it was already
   spent (a replay). */
int persist_store_spend_token(persist_store_t *self, const char *jti, int64_t exp,
                              persist_store_done_fn *fn, void *arg);

/* Records a loss the caller knows of (e.g. a retained event it could not
   store): the topic's dropped_upto rises to at least `upto`. */
int persist_store_mark_dropped(persist_store_t *self, const char *topic, uint64_t upto,
                               persist_store_done_fn *fn, void *arg);

/* One bounded step of expiry (a batch of its own), each statement removing
   at most `limit` rows: events past their ttl (raising their topic's
   dropped_upto, and each owed subscription's), their delivery rows, spent
   tokens past exp, the delivery rows and then the rows of subscriptions
   unused for persistent_ttl_s, and guaranteed events without ttl that no
   subscription is owed any more. result.count = rows removed, result.more =
   some statement reached its limit (call again soon). */
int persist_store_expire(persist_store_t *self, int64_t now_us, int64_t limit,
                         persist_store_done_fn *fn, void *arg);

/* --- reads --- */

/* Every registered type, by name. */
int persist_store_load_types(persist_store_t *self, persist_store_done_fn *fn, void *arg);

/* Spent token ids not yet past exp (now_us). */
int persist_store_load_spent_tokens(persist_store_t *self, int64_t now_us,
                                    persist_store_done_fn *fn, void *arg);

/* Persistent subscriptions with key > after_key, by key, at most `limit`
   (<= PERSIST_STORE_PAGE_MAX): page with the last row's key until a page
   is not full. */
int persist_store_load_subscriptions(persist_store_t *self, int64_t after_key, size_t limit,
                                     persist_store_done_fn *fn, void *arg);

/* The events owed to that subscription with pub_id > after, in pub_id
   order, not expired at now_us, at most `limit`. */
int persist_store_backlog_page(persist_store_t *self, const char *client_id, uint64_t sub_id,
                               uint64_t after, size_t limit, int64_t now_us,
                               persist_store_done_fn *fn, void *arg);

/* Retained events (ttl > 0, unexpired at now_us) of the topics matching
   (`match`: "exact", "prefix" or "wildcard", WAMP's rules) with pub_id >
   since, in pub_id order, at most `limit`. -1 for an unknown match. */
int persist_store_retained_page(persist_store_t *self, const char *topic, const char *match,
                                uint64_t since, size_t limit, int64_t now_us,
                                persist_store_done_fn *fn, void *arg);

/* The gap rule for a persistent subscription resumed after `after` (the
   position the wire side holds for it; 0: from the start): a gap when
   after < its dropped_upto and that drop is not acknowledged (dropped_upto
   > its gap_acked_upto). The call acknowledges the drop when after >=
   dropped_upto, or when it answers a gap with nothing held (the client can
   only go on from the start): later resumes are not a gap for it. oldest =
   its oldest unexpired delivery row. */
int persist_store_gap_subscription(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                   uint64_t after, int64_t now_us, persist_store_done_fn *fn,
                                   void *arg);

/* The gap rule for `_since: since` on the matching topics: a gap when, for
   some matching topic, since < dropped_upto or since + 1 < store_began.
   oldest = the oldest unexpired retained event of the matching topics. */
int persist_store_gap_topic(persist_store_t *self, const char *topic, const char *match,
                            uint64_t since, int64_t now_us, persist_store_done_fn *fn, void *arg);

/* Counts for status: persistent subscriptions, delivery rows held, the
   oldest publication id still owed (a scan of the subscriptions: call it
   every few seconds, not per event). */
int persist_store_totals(persist_store_t *self, persist_store_done_fn *fn, void *arg);

void persist_store_stats(const persist_store_t *self, persist_store_stats_t *stats);

#endif
