/*  ingest_pubid: publication ids for accepted events.

    A publication id is max(last + 1, now in µs since the Unix epoch): unique
    and increasing for the life of the process even when the wall clock steps
    backwards, and increasing across restarts as long as the clock is not set
    back further than the ids already issued. Ids stay in [1, 2^53] so that
    JavaScript clients read them exactly. The time is the loop turn's wall
    clock, passed in: nothing here reads a clock.
*/
#ifndef INGEST_PUBID_H
#define INGEST_PUBID_H

#include <stdint.h>

typedef struct _ingest_pubid_t ingest_pubid_t;

/* Caller owns the result: a generator that has issued nothing yet. */
ingest_pubid_t *ingest_pubid_new(void);

/* Safe on NULL and twice. */
void ingest_pubid_destroy(ingest_pubid_t **self_p);

/* Returns the next id given the wall clock of the loop turn, now_us
   (tg_now_t.wall_us: µs since the epoch, any value: a negative or zero
   clock counts as 0). The result is greater
   than every id returned before, and in [1, 2^53]; 0 once the space is
   exhausted (the caller refuses the event rather than reuse an id). */
uint64_t ingest_pubid_next(ingest_pubid_t *self, int64_t now_us);

/* The last id returned, 0 before the first. */
uint64_t ingest_pubid_last(const ingest_pubid_t *self);

#endif
