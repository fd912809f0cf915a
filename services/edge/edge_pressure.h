/*  edge_pressure: backpressure from the session queues to the router
    link, without sockets.

    The router link can move events into session queues far faster than
    libwebsockets writes them out and clients read them. So the queues
    report to one shared edge_pressure_t, and the link (edge_link.c) reads
    it:

    - High water is half a session queue (edge_pressure_high). A push that
      takes a queue from below high water to high water is a *crossing*:
      it bumps `crossings`, and the link ends its drain pass and pauses.
      A push onto a queue already at or above high water is not a crossing,
      so a stuck session (never writeable) stops the link once, not on
      every later event.
    - A session that crossed is *waiting* until its queue drains below low
      water (a quarter, edge_pressure_low). When the last waiting session
      of the round drains (or is destroyed), on_clear runs: the link
      resumes at once instead of waiting out its bounded pause.
    - Rounds: the link starts a new round whenever it resumes, also when
      its pause ran out with sessions still waiting. Those sessions no
      longer hold the link: waiting counts this round's sessions only, and
      each session remembers the round it waits in (its mark).

    Queue sizes move by one per push or pop, so "from below to at" is
    exactly "the push made the size equal to high water".
*/
#ifndef EDGE_PRESSURE_H
#define EDGE_PRESSURE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t round;              /* current round: 1 at init, +1 per resume */
    uint32_t waiting;            /* sessions of this round above low water since their crossing */
    uint64_t crossings;          /* high-water crossings so far; the link watches it move */
    void (*on_clear)(void *arg); /* waiting fell to 0; NULL = nobody listens */
    void *arg;                   /* for on_clear */
} edge_pressure_t;

/* A session's side: the round it is waiting in, 0 = not waiting. Starts
   at 0. */
typedef uint64_t edge_pressure_mark_t;

/* Round 1, nothing waiting, nobody listening. */
void edge_pressure_init(edge_pressure_t *self);

/* on_clear(arg) will run each time the last waiting session of the round
   drains below low water or is forgotten. It is called from a session's
   pop or destroy (inside a WebSocket callback): it must only schedule. */
void edge_pressure_listen(edge_pressure_t *self, void (*on_clear)(void *arg), void *arg);

/* High water of a queue of `limit` frames: limit / 2, at least 1. */
uint32_t edge_pressure_high(uint32_t limit);

/* Low water: limit / 4, at least 1 (so below it is reachable: empty). */
uint32_t edge_pressure_low(uint32_t limit);

/* A push made a session's queue `size` frames of `limit`. Returns true,
   counts a crossing and marks the session waiting in this round when the
   size just reached high water; false otherwise. */
bool edge_pressure_pushed(edge_pressure_t *self, edge_pressure_mark_t *mark, uint32_t size,
                          uint32_t limit);

/* A pop left a session's queue at `size` frames of `limit`. Below low
   water a waiting session stops waiting; if it was the last one of this
   round, on_clear runs. */
void edge_pressure_popped(edge_pressure_t *self, edge_pressure_mark_t *mark, uint32_t size,
                          uint32_t limit);

/* The session is going away: it stops waiting (on_clear as above). */
void edge_pressure_forget(edge_pressure_t *self, edge_pressure_mark_t *mark);

/* The link resumed: a new round, nobody waiting in it yet. */
void edge_pressure_next_round(edge_pressure_t *self);

#endif
