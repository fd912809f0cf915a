/*  edge_subs: the edge's local subscription table.

    One entry per distinct subscription key (match, topic, filter), however
    many local sessions hold it: the router sees one SUBSCRIBE per key from
    this edge and one sub_id comes back. An entry is PENDING until the
    router's SUBSCRIBED arrives (sessions that asked wait as "waiters", each
    with its WAMP request id), then LIVE with the router's sub_id and a set
    of member sessions that the fan-out walks for every event.

    Membership is indexed both ways so that joining, leaving and closing a
    session are O(1) per subscription: the entry keeps a dense array of
    members, each session keeps an edge_sub_refs_t (embedded in the
    session) of the entries it belongs to, and each side records its
    position in the other's array.

    A LIVE entry may also be "resyncing": the router refused it when the
    edge re-sent it after a router restart (typically unknown_event, the
    ingest not having re-registered the type yet). Its sessions keep it;
    the broker keeps asking the router until it accepts.

    This module only keeps the data; the broker decides what to tell the
    router and the sessions.
*/
#ifndef EDGE_SUBS_H
#define EDGE_SUBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_envelope.h"

typedef struct _edge_subs_t edge_subs_t;
typedef struct _edge_sub_t edge_sub_t;
typedef struct _edge_session_t edge_session_t;

typedef enum { EDGE_SUB_PENDING = 0, EDGE_SUB_LIVE = 1 } edge_sub_state_t;

/* A session's side of one membership. */
typedef struct {
    edge_sub_t *sub; /* the entry */
    uint32_t member; /* index of this session in sub's member array */
} edge_sub_ref_t;

/* A session's memberships; embed one in each session, zero-initialised.
   Freed by edge_subs_leave_all(). */
typedef struct {
    edge_sub_ref_t *items; /* owned array */
    uint32_t count;
    uint32_t capacity;
} edge_sub_refs_t;

/* An entry's side of one membership. */
typedef struct {
    edge_session_t *session; /* borrowed */
    edge_sub_refs_t *refs;   /* that session's refs */
    uint32_t ref;            /* index of this entry in refs->items */
} edge_sub_member_t;

/* A session waiting for the router to confirm a pending entry. */
typedef struct {
    edge_session_t *session; /* borrowed */
    int64_t request;         /* its WAMP SUBSCRIBE request id */
} edge_sub_waiter_t;

/* Caller owns the result. */
edge_subs_t *edge_subs_new(void);

/* Frees every entry (members and waiters are only borrowed: sessions must
   have left first, or be destroyed right after). Safe on NULL and twice. */
void edge_subs_destroy(edge_subs_t **self_p);

/* The entry for this key, or NULL. filter NULL or "" = no filter: the key
   is tg_subkey's, the one the router derives the id from. */
edge_sub_t *edge_subs_lookup(edge_subs_t *self, tg_match_t match, const char *topic,
                             const char *filter);

/* Creates a PENDING entry for a key not in the table (checked), with no
   router request yet and a deadline for its waiters. The table owns it;
   an empty filter is stored as none. */
edge_sub_t *edge_subs_insert(edge_subs_t *self, tg_match_t match, const char *topic,
                             const char *filter, int64_t deadline_ms);

/* Removes and frees an entry; it must have no members (asserted; waiters
   are simply dropped). */
void edge_subs_remove(edge_subs_t *self, edge_sub_t *sub);

/* The LIVE entry with this router sub_id, or NULL. */
edge_sub_t *edge_subs_find_id(edge_subs_t *self, uint64_t sub_id);

/* The entry whose outstanding router request is req, or NULL. */
edge_sub_t *edge_subs_find_req(edge_subs_t *self, uint64_t req);

/* Records the request id sent to the router for this entry (replacing an
   older one, which then finds nothing); 0 clears it. */
void edge_subs_set_request(edge_subs_t *self, edge_sub_t *sub, uint64_t req);

/* Marks the entry LIVE with the router's sub_id (or moves it to a new id).
   Returns 0, or -1 when another entry already holds that id (nothing
   changes). */
int edge_subs_set_live(edge_subs_t *self, edge_sub_t *sub, uint64_t sub_id);

/* Marks a LIVE entry as refused by the router at resync (true) or
   accepted again (false); counted in edge_subs_resyncing_count(). */
void edge_subs_set_resyncing(edge_subs_t *self, edge_sub_t *sub, bool resyncing);

/* Sets the waiters' deadline (pending entries). */
void edge_subs_set_deadline(edge_sub_t *sub, int64_t deadline_ms);

/* Adds a waiter. */
void edge_subs_add_waiter(edge_sub_t *sub, edge_session_t *session, int64_t request);

/* Forgets every waiter of the entry. */
void edge_subs_clear_waiters(edge_sub_t *sub);

/* Removes the waiters belonging to session from every entry; returns how
   many were removed. Walks the whole table: call it only for sessions
   that have waiters. */
size_t edge_subs_remove_waiters_of(edge_subs_t *self, edge_session_t *session);

/* Makes session a member of a LIVE entry. Returns 0 when joined, 1 when it
   already was a member. */
int edge_subs_join(edge_subs_t *self, edge_sub_t *sub, edge_session_t *session,
                   edge_sub_refs_t *refs);

/* Removes session (owner of refs) from the entry with sub_id. Returns the
   entry it left (still in the table, maybe now unused), or NULL when the
   session held no such subscription. */
edge_sub_t *edge_subs_leave(edge_subs_t *self, edge_sub_refs_t *refs, uint64_t sub_id);

/* Removes the session from every entry it belongs to and frees refs'
   array. For each entry left, calls left(sub, arg) (may be NULL) after
   the session is gone from it; left may remove the entry. */
typedef void(edge_subs_left_fn)(edge_sub_t *sub, void *arg);
void edge_subs_leave_all(edge_subs_t *self, edge_sub_refs_t *refs, edge_subs_left_fn *left,
                         void *arg);

/* True when refs holds sub_id. */
bool edge_subs_refs_has(const edge_sub_refs_t *refs, uint64_t sub_id);

/* Calls fn for every entry. fn must not insert or remove entries. */
typedef void(edge_subs_fn)(edge_sub_t *sub, void *arg);
void edge_subs_foreach(edge_subs_t *self, edge_subs_fn *fn, void *arg);

/* Calls fn for every entry whose deadline is <= now_ms and that is
   PENDING or has waiters (a resyncing LIVE entry can have some); fn may
   remove the entry. Returns how many expired. */
size_t edge_subs_expire(edge_subs_t *self, int64_t now_ms, edge_subs_fn *fn, void *arg);

/* Entries in the table, LIVE entries, and memberships over all entries. */
size_t edge_subs_count(const edge_subs_t *self);
size_t edge_subs_live_count(const edge_subs_t *self);
uint64_t edge_subs_member_total(const edge_subs_t *self);
/* LIVE entries the router has not accepted again since a resync. */
size_t edge_subs_resyncing_count(const edge_subs_t *self);

/* Entry accessors. */
edge_sub_state_t edge_sub_state(const edge_sub_t *sub);
uint64_t edge_sub_id(const edge_sub_t *sub);
uint64_t edge_sub_request(const edge_sub_t *sub);
tg_match_t edge_sub_match(const edge_sub_t *sub);
const char *edge_sub_topic(const edge_sub_t *sub);
const char *edge_sub_filter(const edge_sub_t *sub);
int64_t edge_sub_deadline(const edge_sub_t *sub);
bool edge_sub_resyncing(const edge_sub_t *sub);
/* The members, a dense array valid until the next join/leave. */
const edge_sub_member_t *edge_sub_members(const edge_sub_t *sub, size_t *count);
const edge_sub_waiter_t *edge_sub_waiters(const edge_sub_t *sub, size_t *count);
/* No members and no waiters. */
bool edge_sub_unused(const edge_sub_t *sub);

#endif
