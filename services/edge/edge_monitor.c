/*  edge_monitor: see edge_monitor.h. */
#include "edge_monitor.h"

#include "tg_alloc.h"
#include "tg_envelope.h"
#include "tg_log.h"
#include "tg_monitor.h"

struct _edge_monitor_t {
    tg_monitor_t *monitor;
    tg_envelope_t *pending[EDGE_MONITOR_PENDING]; /* a ring, oldest at head */
    size_t head;
    size_t count;
    edge_metrics_t *metrics; /* borrowed: monitor_drops */
};

edge_monitor_t *edge_monitor_new(tg_monitor_t **monitor_p, edge_metrics_t *metrics)
{
    assert(monitor_p && *monitor_p && metrics);
    edge_monitor_t *self = tg_new(edge_monitor_t);
    self->metrics = metrics;
    self->monitor = *monitor_p;
    *monitor_p = NULL;
    return self;
}

void edge_monitor_destroy(edge_monitor_t **self_p)
{
    assert(self_p);
    edge_monitor_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        tg_envelope_destroy(&self->pending[(self->head + i) % EDGE_MONITOR_PENDING]);
    tg_monitor_destroy(&self->monitor);
    free(self);
    *self_p = NULL;
}

/* Keeps env (takes ownership); when full, the oldest goes. */
static void s_keep(edge_monitor_t *self, tg_envelope_t *env)
{
    if (self->count == EDGE_MONITOR_PENDING) {
        tg_envelope_destroy(&self->pending[self->head]);
        self->head = (self->head + 1) % EDGE_MONITOR_PENDING;
        self->count--;
        self->metrics->monitor_drops++;
    }
    self->pending[(self->head + self->count) % EDGE_MONITOR_PENDING] = env;
    self->count++;
}

size_t edge_monitor_pump(edge_monitor_t *self, zsock_t *dealer, tg_now_t now)
{
    assert(self && dealer);
    /* Everything waiting, not a budget: libzmq blocks its I/O thread on a
       full monitor pipe (tg_monitor.h); the ring bounds what we keep. */
    tg_envelope_t *env;
    while ((env = tg_monitor_recv(self->monitor, now.wall_us)))
        s_keep(self, env);
    size_t sent = 0;
    while (self->count > 0) {
        tg_envelope_t **slot = &self->pending[self->head];
        if (tg_envelope_send(*slot, dealer) != 0)
            break; /* the router is away: keep it for the next pump */
        tg_envelope_destroy(slot);
        self->head = (self->head + 1) % EDGE_MONITOR_PENDING;
        self->count--;
        sent++;
    }
    return sent;
}
