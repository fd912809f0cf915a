/*  edge_pressure: see edge_pressure.h. */
#include "edge_pressure.h"

#include <assert.h>
#include <string.h>

void edge_pressure_init(edge_pressure_t *self)
{
    assert(self);
    memset(self, 0, sizeof(*self));
    self->round = 1; /* marks use 0 for "not waiting" */
}

void edge_pressure_listen(edge_pressure_t *self, void (*on_clear)(void *arg), void *arg)
{
    assert(self);
    self->on_clear = on_clear;
    self->arg = arg;
}

uint32_t edge_pressure_high(uint32_t limit)
{
    return limit / 2 ? limit / 2 : 1;
}

uint32_t edge_pressure_low(uint32_t limit)
{
    return limit / 4 ? limit / 4 : 1;
}

bool edge_pressure_pushed(edge_pressure_t *self, edge_pressure_mark_t *mark, uint32_t size,
                          uint32_t limit)
{
    assert(self);
    assert(mark);
    if (size != edge_pressure_high(limit))
        return false;
    self->crossings++;
    /* Crossing again before draining below low water (it drained a little
       and filled up again): already counted in this round. */
    if (*mark != self->round) {
        *mark = self->round;
        self->waiting++;
    }
    return true;
}

/* The session stops waiting; the last one of the round tells the link. */
static void s_stop_waiting(edge_pressure_t *self, edge_pressure_mark_t *mark)
{
    bool this_round = *mark == self->round;
    *mark = 0;
    if (!this_round)
        return; /* an older round: the link stopped waiting for it already */
    assert(self->waiting > 0);
    self->waiting--;
    if (self->waiting == 0 && self->on_clear)
        self->on_clear(self->arg);
}

void edge_pressure_popped(edge_pressure_t *self, edge_pressure_mark_t *mark, uint32_t size,
                          uint32_t limit)
{
    assert(self);
    assert(mark);
    if (*mark != 0 && size < edge_pressure_low(limit))
        s_stop_waiting(self, mark);
}

void edge_pressure_forget(edge_pressure_t *self, edge_pressure_mark_t *mark)
{
    assert(self);
    assert(mark);
    if (*mark != 0)
        s_stop_waiting(self, mark);
}

void edge_pressure_next_round(edge_pressure_t *self)
{
    assert(self);
    self->round++;
    self->waiting = 0;
}
