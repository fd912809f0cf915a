/*  edge_durable: a session's persistent and `_since` subscriptions
    (DESIGN 2.3 and 2.6; the wire in docs/protocol.md, "Persistence").

    A durable subscription belongs to one session. The edge sends the
    router a SUBSCRIBE of its own for it (req, topic, match, filter, and
    client_id / persistent / since) even when it already holds the key
    for other sessions: the router's holder set makes that idempotent, and
    its answer and the REPLAY stream name this record only (by req).

    The router makes this edge a holder of the key when it sends persist
    the RESUME (before persist reads anything), so every event is either
    in the replay or arrives live after the SUBSCRIBE; live events can
    therefore arrive before SUBSCRIBED, and are held from the start.

    States of a record:
      WAITING    the SUBSCRIBE is at the router; the session counts it as
                 pending (the per-session limit), answered ERROR
                 unavailable after EDGE_SUBSCRIBE_TIMEOUT_MS. The live
                 events of the key's expected id (tg_subkey, counter 0: the
                 router's) meant for this session are held, bounded like
                 the replay's (below); found through a waiting index by
                 key id, since the session is no member of the key yet.
                 On SUBSCRIBE_ERROR or the timeout they are dropped and
                 the key released at the router (UNSUBSCRIBE) unless a
                 shared entry or another waiting record uses it; the same
                 for an orphan's late answer.
      REPLAYING  SUBSCRIBED {replay} came: the client got SUBSCRIBED and
                 the session is a member of the key's entry (edge_subs).
                 REPLAYs become EVENTs with `_replay: true` for this session
                 only; the live EVENTs of the key meant for this session are
                 held, in order, bounded by session_queue (overflow closes
                 the session as a slow consumer: its backlog stays stored).
                 At REPLAY_END the held events (held while WAITING too)
                 newer than the last replayed one are released, all of
                 them when nothing was replayed (the others were in the
                 backlog: an event both held and replayed goes out once).
      LIVE       an ordinary membership. A persistent one stays recorded for
                 telegraphy.ack and UNSUBSCRIBE; a `_since` one is forgotten
                 here (the membership is all there is left).

    Credit: persist sends a page of EDGE_REPLAY_PAGE REPLAYs, then the next
    page only after a MORE. Once a page has arrived the record owes a MORE,
    sent as soon as the session's queue is below half its bound (now, or
    when the writer drains it: edge_durable_drained).

    Acks: a persistent record remembers the publication ids it sent the
    session and not yet acked (at most backlog_max, the most that can be
    owed; the oldest forgotten beyond), so that telegraphy.ack forwards
    only ids this session was sent; the others are counted (acks_ignored)
    and dropped.

    Expiry: every EVENT frame of a type with a ttl carries its expiry
    (edge_frame_set_expires) and is dropped, counted in expired_drops, if
    it expired before it is written (edge_ws), released or queued.
*/
#ifndef EDGE_DURABLE_H
#define EDGE_DURABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge_frame.h"
#include "tg_clock.h"
#include "tg_envelope.h"
#include "tg_query.h"

typedef struct _edge_broker_t edge_broker_t;
typedef struct _edge_session_t edge_session_t;
typedef struct _edge_durable_t edge_durable_t;
typedef struct _edge_durables_t edge_durables_t;

/* REPLAYs persist sends per MORE (TELEGRAPHY_REPLAY_PAGE, the protocol's). */
#define EDGE_REPLAY_PAGE 256

/* Caller owns the result: the broker's index of durable records by router
   request id. */
edge_durables_t *edge_durables_new(void);

/* Frees the index and the records left in it (sessions must have closed
   first: only orphans remain). Safe on NULL and twice. */
void edge_durables_destroy(edge_durables_t **self_p);

/* Records in the index (waiting, replaying or persistent). */
size_t edge_durables_count(const edge_durables_t *self);

/* A SUBSCRIBE with `_persistent` and/or `_since` that passed the WAMP
   checks (edge_wamp): creates the session's record and sends the router
   its SUBSCRIBE. filter: canonical text or NULL. query: the parsed filter
   (taken: *query_p is nulled), applied to `_since` replays. */
void edge_durable_subscribe(edge_broker_t *broker, edge_session_t *session, int64_t request,
                            tg_match_t match, const char *topic, const char *filter,
                            tg_query_t **query_p, bool persistent, uint64_t since, tg_now_t now);

/* The router's SUBSCRIBED / SUBSCRIBE_ERROR, REPLAY, REPLAY_END for a
   durable record (borrowed envelope). Returns true when the request id
   was a durable record's (handled here), false otherwise. */
bool edge_durable_router_message(edge_broker_t *broker, const tg_envelope_t *envelope,
                                 tg_now_t now);

/* A live EVENT frame (borrowed) with pub_id for session's membership of
   sub_id: returns true when the record holds it (replaying; a reference
   is taken), false when the caller queues it as usual; a persistent
   record then remembers the id as sent. */
bool edge_durable_live(edge_broker_t *broker, edge_session_t *session, uint64_t sub_id,
                       edge_frame_t *frame, uint64_t pub_id, tg_now_t now);

/* True when some record waits for the router's answer (the fanout's
   cheap test before edge_durable_waiting_event). */
bool edge_durables_waiting(const edge_durables_t *self);

/* True when a WAITING record (orphan or not) expects sub_id: the router
   holds that key for this edge, so a shared entry that goes unused must
   not UNSUBSCRIBE it. */
bool edge_durables_key_waited(edge_durables_t *self, uint64_t sub_id);

/* A live EVENT (borrowed) for sub_id, before any entry of this edge is
   checked: every WAITING record expecting sub_id whose session may see it
   holds it (encoded for that session). Returns how many held it. */
size_t edge_durable_waiting_event(edge_broker_t *broker, const tg_envelope_t *event,
                                  uint64_t sub_id, uint64_t expires_at, tg_now_t now);

/* The session's queue drained (the writer popped frames): sends the MOREs
   its replaying records owe once the queue is below half. */
void edge_durable_drained(edge_broker_t *broker, edge_session_t *session);

/* UNSUBSCRIBE of sub_id by session: a persistent record sends the router
   UNSUBSCRIBE {sub_id, client_id} (persist forgets the subscription) and
   is freed; a replaying `_since` one is freed. The caller then leaves the
   shared entry as usual. */
void edge_durable_unsubscribe(edge_broker_t *broker, edge_session_t *session, uint64_t sub_id);

/* telegraphy.ack from session: args [[pub_id, ...]] or kwargs
   {subscription, upto}. Sends ACK for the ids this session was sent on
   its persistent subscriptions; counts the others. Returns 0, or -1 with
   a reason in err (malformed arguments: the caller answers
   invalid_argument). */
int edge_durable_ack(edge_broker_t *broker, edge_session_t *session, const json_t *args,
                     const json_t *kwargs, char *err, size_t errlen);

/* The session is closing: frees its records (held frames released). A
   WAITING record stays as an orphan until the router answers (then the
   key is released if nobody else holds it) or its deadline passes. */
void edge_durable_session_closed(edge_broker_t *broker, edge_session_t *session);

/* Answers ERROR unavailable to records whose router answer is late, and
   drops orphans past their deadline. */
void edge_durable_tick(edge_broker_t *broker, tg_now_t now);

#endif
