/*  ingest_pending: requests forwarded to the router and not yet answered:
    REGISTERs, and guaranteed events waiting to be stored (DESIGN 2.6: the
    publisher hears ACCEPTED only once the event is committed).

    Ingest forwards each REGISTER with a request id of its own; when the
    router answers, the entry tells whom to relay the answer to (the routing
    id of a telegraphy-ctl on the ack socket, and that client's request id).
    The table is bounded (INGEST_PENDING_MAX) and entries expire, so a router
    that never answers costs a fixed amount of memory and every client gets
    an answer.
*/
#ifndef INGEST_PENDING_H
#define INGEST_PENDING_H

#include <czmq.h>
#include <stdint.h>

/* Most REGISTER requests waiting for the router at once. Registrations are
   rare (Django at start-up, an operator's command): past this, the router is
   not answering and the next request is refused at once. */
#define INGEST_PENDING_MAX 1024

typedef struct _ingest_pending_t ingest_pending_t;

/* One waiting request, as handed to ingest_pending_take / the expiry
   callback; the callee borrows it for the duration of the call. */
typedef struct {
    uint64_t req;         /* ingest's own request id, sent to the router */
    zframe_t *routing_id; /* the client on the ack socket, NULL if it came by PULL */
    uint64_t client_req;  /* the client's request id (0 = none) */
    char *name;           /* the event type, for logs */
    uint64_t pub_id;      /* a guaranteed event's publication id (ACCEPTED carries it); 0 */
    int64_t deadline_ms;  /* monotonic ms (tg_now_t.mono_ms) at which it expires */
} ingest_pending_entry_t;

/* Caller owns the result: an empty table holding at most `max` entries. */
ingest_pending_t *ingest_pending_new(size_t max);

/* Safe on NULL and twice. */
void ingest_pending_destroy(ingest_pending_t **self_p);

/* Adds a waiting request; routing_id (may be NULL) and name are copied.
   pub_id is the event's for a guaranteed event, 0 for a REGISTER.
   Returns 0, or -1 when the table is full or req is already there. */
int ingest_pending_add(ingest_pending_t *self, uint64_t req, zframe_t *routing_id,
                       uint64_t client_req, const char *name, uint64_t pub_id, int64_t deadline_ms);

/* Removes the entry for req and calls fn with it (if fn is not NULL).
   Returns 0, or -1 when there is no such entry. */
typedef void(ingest_pending_fn)(const ingest_pending_entry_t *entry, void *arg);
int ingest_pending_take(ingest_pending_t *self, uint64_t req, ingest_pending_fn *fn, void *arg);

/* Removes every entry whose deadline is <= now_ms (the loop turn's
   monotonic clock, any value), calling fn for each. Returns how many
   expired. */
size_t ingest_pending_expire(ingest_pending_t *self, int64_t now_ms, ingest_pending_fn *fn,
                             void *arg);

size_t ingest_pending_size(const ingest_pending_t *self);

#endif
