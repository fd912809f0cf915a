/*  edge_link: the router link inside the libwebsockets loop.

    Why it is driven this way (and why it never loses a wake-up):

    - One thread. The edge's sessions, its subscription table and the
      router socket are all touched from the lws service thread only, so
      nothing is locked and an EVENT goes from the router socket to the
      session queues without a hand-off.
    - lws 4.1.6 here has no external-poll hook, but it can watch a foreign
      descriptor: we adopt a dup() of the DEALER's ZMQ_FD as a RAW file on
      a vhost of its own that listens on nothing (edge_adopt).
    - ZMQ_FD is edge-triggered: it becomes readable when ZeroMQ's internal
      command queue gets something, and reading ZMQ_EVENTS resets it. So a
      wake-up (LWS_CALLBACK_RAW_RX_FILE) means "check", not "one message":
      we drain until ZMQ_EVENTS lacks ZMQ_POLLIN. Reading only one message
      per wake-up would leave messages behind with no further signal.
    - A pass reads at most S_DRAIN_BUDGET messages (and at most half a
      session queue) so the WebSockets get served during a burst. When a
      pass ends on its budget, nothing will signal the descriptor again
      (the messages are already inside ZeroMQ), so we re-arm ourselves
      with a zero-delay lws_sul timer.
    - Backpressure (edge_pressure.h): the link can queue events much
      faster than lws writes them and clients read them. A pass also ends
      as soon as a session queue *crosses* its high-water mark (half of
      session_queue; from below to at, not every frame on a queue that is
      already above: a stuck session stops the link once, not per event).
      Then the link pauses instead of re-arming at zero delay: it resumes
      when every session that crossed has drained below low water (a
      quarter), signalled from the WRITEABLE path through the pressure's
      on_clear, or after S_PAUSE_US, whichever comes first. Meanwhile the
      events wait in ZeroMQ's bounded queues (hwm; the router counts
      what it cannot hand over), nothing is dropped here. A stuck client
      (never writeable) so costs one bounded pause, then fills its queue
      and is closed as a slow consumer. A client that reads, even slowly,
      crosses again when it gets near high water: the edge then runs at
      the pace of its slowest reader that still reads; it never outruns
      one into a slow-consumer close.
    - While paused we neither drain nor schedule drains: a wake-up of the
      descriptor only reads ZMQ_EVENTS (which resets the edge-triggered
      signal, or poll() would keep reporting it and the loop would spin),
      and a send only notes that input waits. Resuming always drains
      until ZMQ_EVENTS lacks POLLIN, so nothing that arrived meanwhile is
      left without a signal.
    - Any zmq_send() on this socket processes ZeroMQ's commands too and
      can consume the edge-triggered signal of messages that arrived
      meanwhile. After every send we look at ZMQ_EVENTS; if input is
      waiting we schedule a drain on the same timer (not inline: a send
      can happen in the middle of a session's callback).
    - Right after adopting we drain once, for messages that arrived before
      lws was watching.
    - Idle means asleep: no polling loop, only poll() on the descriptor
      and the heartbeat timer (one wake-up per heartbeat_ms).
    - Time: every entry from the loop (the descriptor's callback, each
      timer) reads the clock once (tg_clock_read) and passes it down; the
      rest of the link, and the broker below it, never reads a clock.

    The conversation (HELLO until WELCOME, a HEARTBEAT every heartbeat_ms,
    HELLO again when the router lost our state) is tg_link's, the same in
    every process: this file hands it each message it reads and its
    heartbeat timer, and gives it edge_link_send. On each WELCOME the
    broker re-sends every subscription key (ids are deterministic, so
    sessions notice nothing).
*/
#include "edge_link.h"

#include <assert.h>
#include <czmq.h>

#include "edge_adopt.h"
#include "edge_monitor.h"
#include "tg_alloc.h"
#include "tg_log.h"
#include "tg_socket.h"

/* Router messages handled per pass before the loop serves WebSockets; a
   pass also stays under half a session queue, so that a burst cannot fill
   a reader's queue before it had a chance to write. */
#define S_DRAIN_BUDGET 128
/* The longest pause after a pass stopped at a high-water crossing, when
   the sessions that crossed do not drain below low water sooner. It is
   what a stuck client costs the whole edge (once: it never crosses again
   before draining), and must stay far below heartbeat_ms, as router
   messages (HEARTBEAT replies too) wait in ZeroMQ meanwhile. 20 ms: long
   enough for a reading client to take a quarter of its queue, short
   enough that other sessions hardly notice. */
#define S_PAUSE_US (20 * LWS_US_PER_MS)

struct _edge_link_t {
    const tg_config_t *cfg;               /* borrowed */
    tg_link_t *link;                      /* the router conversation */
    edge_metrics_t *metrics;              /* borrowed: bad router messages, pauses */
    edge_pressure_t *pressure;            /* borrowed: session queue levels */
    zsock_t *dealer;                      /* the socket to the router */
    edge_monitor_t *monitor;              /* the dealer's socket events -> MONITOR */
    char instance[TG_INSTANCE_MAX];       /* our instance id = routing id */
    struct lws_context *context;          /* set by attach */
    struct lws *wsi;                      /* the adopted dup of ZMQ_FD, NULL once closed */
    lws_sorted_usec_list_t drain_sul;     /* re-arm after a budget stop or a send; resume */
    lws_sorted_usec_list_t heartbeat_sul; /* HELLO / HEARTBEAT every heartbeat_ms */
    bool attached;                        /* timers may be scheduled */
    bool paused;                          /* a pass stopped at a crossing; drain_sul resumes */
    int drain_budget;                     /* messages per drain pass */
};

/* tg_link's send. */
static int s_link_send(void *arg, tg_envelope_t *envelope)
{
    return edge_link_send(arg, envelope);
}

edge_link_t *edge_link_new(const tg_config_t *cfg, const char *instance, const edge_link_ops_t *ops,
                           edge_metrics_t *metrics, edge_pressure_t *pressure, tg_now_t now,
                           char *error, size_t error_size)
{
    assert(cfg);
    assert(instance);
    assert(ops);
    assert(metrics);
    assert(pressure);
    edge_link_t *self = tg_new(edge_link_t);
    self->cfg = cfg;
    self->metrics = metrics;
    self->pressure = pressure;
    self->drain_budget = S_DRAIN_BUDGET;
    if (cfg->session_queue / 2 < (uint32_t)self->drain_budget)
        self->drain_budget = cfg->session_queue / 2 ? (int)(cfg->session_queue / 2) : 1;
    snprintf(self->instance, sizeof(self->instance), "%s", instance);
    self->link = tg_link_new(cfg, "edge", self->instance, s_link_send, self, ops, now);

    /* Immediate: queue nothing while the router is unreachable (a stale
       HEARTBEAT or SUBSCRIBE delivered later would only confuse it; the
       re-sync covers it). The monitor is attached before the connect, so
       the first "connected" is seen too. */
    tg_monitor_t *monitor = NULL;
    tg_socket_options_t options = {.hwm = cfg->hwm,
                                   .routing_id = self->instance,
                                   .immediate = true,
                                   .monitor = &monitor,
                                   .monitor_role = "edge",
                                   .monitor_instance = self->instance};
    char reason[256];
    self->dealer = tg_socket_connect(ZMQ_DEALER, cfg->router, &options, reason, sizeof reason);
    if (!self->dealer) {
        snprintf(error, error_size, "edge: cannot connect router endpoint=%s reason=\"%s\"",
                 cfg->router, reason);
        edge_link_destroy(&self);
        return NULL;
    }
    self->monitor = edge_monitor_new(&monitor, metrics);
    tg_log_info("edge: router link instance=%s router=%s", self->instance, cfg->router);
    return self;
}

void edge_link_detach(edge_link_t *self)
{
    assert(self);
    if (!self->attached)
        return;
    lws_sul_cancel(&self->drain_sul);
    lws_sul_cancel(&self->heartbeat_sul);
    self->attached = false;
    self->paused = false;
    edge_pressure_listen(self->pressure, NULL, NULL);
}

void edge_link_destroy(edge_link_t **self_p)
{
    assert(self_p);
    edge_link_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    tg_check(!self->attached);            /* timers in the context would point here */
    edge_monitor_destroy(&self->monitor); /* before the socket it watches */
    zsock_destroy(&self->dealer);
    tg_link_destroy(&self->link);
    free(self);
}

static void s_drain_later(lws_sorted_usec_list_t *sul);

/* If the socket has input waiting, make sure a drain runs soon. While
   paused the resume will drain (reading ZMQ_EVENTS here still matters:
   it is what re-arms the descriptor's signal). */
static void s_check_input(edge_link_t *self)
{
    if (self->attached && (zsock_events(self->dealer) & ZMQ_POLLIN) && !self->paused)
        lws_sul_schedule(self->context, 0, &self->drain_sul, s_drain_later, 1);
}

int edge_link_send(edge_link_t *self, tg_envelope_t *envelope)
{
    assert(self);
    assert(envelope);
    int rc = tg_envelope_send(envelope, self->dealer);
    /* The send may have eaten the descriptor's signal: look again. */
    s_check_input(self);
    return rc;
}

bool edge_link_ready(const edge_link_t *self)
{
    return tg_link_ready(self->link);
}

bool edge_link_connected(const edge_link_t *self, int64_t now_ms)
{
    return tg_link_connected(self->link, now_ms);
}

/* One message read from the router: tg_link's; what it could not decode
   is counted with the edge's other bad input from the router. */
static void s_dispatch(edge_link_t *self, zmsg_t **msg_p, tg_now_t now)
{
    uint64_t bad_before = tg_link_bad_input(self->link);
    tg_link_on_message(self->link, msg_p, now);
    self->metrics->bad_input[EDGE_BAD_INTERNAL] += tg_link_bad_input(self->link) - bad_before;
}

static void s_resume_cleared(lws_sorted_usec_list_t *sul);
static void s_resume_timeout(lws_sorted_usec_list_t *sul);

/* A pass stopped at a high-water crossing: wait for the sessions that
   crossed to drain (s_on_clear), at most S_PAUSE_US. */
static void s_pause(edge_link_t *self)
{
    if (self->pressure->waiting == 0) {
        /* Nobody to wait for (cannot happen within a pass: a crossing
           marks its session waiting, and only a pop or a close, never
           inside a pass, releases it). Just continue. */
        lws_sul_schedule(self->context, 0, &self->drain_sul, s_drain_later, 1);
        return;
    }
    self->paused = true;
    self->metrics->link_pauses++;
    lws_sul_schedule(self->context, 0, &self->drain_sul, s_resume_timeout, S_PAUSE_US);
}

/* Reads until ZeroMQ says no input is left; ends early on the budget
   (then re-arms itself: no signal will come for messages already queued)
   or on a high-water crossing (then pauses). */
static void s_drain(edge_link_t *self, tg_now_t now)
{
    uint64_t crossings = self->pressure->crossings;
    for (int handled = 0;; handled++) {
        if (!(zsock_events(self->dealer) & ZMQ_POLLIN))
            return;
        if (handled == self->drain_budget) {
            lws_sul_schedule(self->context, 0, &self->drain_sul, s_drain_later, 1);
            return;
        }
        zmsg_t *msg = zmsg_recv(self->dealer);
        if (!msg)
            return; /* EAGAIN despite POLLIN, or interrupted: ZMQ_EVENTS decides next */
        s_dispatch(self, &msg, now);
        zmsg_destroy(&msg);
        /* A queue reached high water: its WRITEABLE callback must run
           before more events pile up behind it. Pause even if no input
           is waiting right now: the next messages may come before that
           session drained, and the pass that reads them would not see
           this crossing any more. The resume drains until no input. */
        if (self->pressure->crossings != crossings) {
            s_pause(self);
            return;
        }
    }
}

static void s_drain_later(lws_sorted_usec_list_t *sul)
{
    edge_link_t *self = lws_container_of(sul, edge_link_t, drain_sul);
    s_drain(self, tg_clock_read());
}

/* Ends a pause: sessions still waiting (a timeout) no longer hold the
   link; they cross again only after draining below low water. */
static void s_resume(edge_link_t *self, tg_now_t now)
{
    self->paused = false;
    edge_pressure_next_round(self->pressure);
    s_drain(self, now);
}

static void s_resume_cleared(lws_sorted_usec_list_t *sul)
{
    edge_link_t *self = lws_container_of(sul, edge_link_t, drain_sul);
    s_resume(self, tg_clock_read());
}

static void s_resume_timeout(lws_sorted_usec_list_t *sul)
{
    edge_link_t *self = lws_container_of(sul, edge_link_t, drain_sul);
    self->metrics->link_pause_timeouts++;
    s_resume(self, tg_clock_read());
}

/* The pressure says every session that crossed has drained (called from a
   session's pop or destroy, inside a WebSocket callback: only schedule). */
static void s_on_clear(void *arg)
{
    edge_link_t *self = arg;
    if (self->attached && self->paused)
        lws_sul_schedule(self->context, 0, &self->drain_sul, s_resume_cleared, 1);
}

static void s_heartbeat(lws_sorted_usec_list_t *sul)
{
    edge_link_t *self = lws_container_of(sul, edge_link_t, heartbeat_sul);
    tg_now_t now = tg_clock_read();
    tg_link_heartbeat(self->link, now);
    /* After HELLO, so the router knows who speaks; see edge_monitor.h. */
    if (edge_monitor_pump(self->monitor, self->dealer, now) > 0)
        s_check_input(self); /* the sends may have eaten the fd's signal */
    lws_sul_schedule(self->context, 0, &self->heartbeat_sul, s_heartbeat,
                     (lws_usec_t)self->cfg->heartbeat_ms * LWS_US_PER_MS);
}

int edge_link_attach(edge_link_t *self, struct lws_context *context, struct lws_vhost *vhost,
                     tg_now_t now, char *error, size_t error_size)
{
    assert(self);
    assert(context && vhost);
    assert(!self->attached);
    self->context = context;
    self->wsi = edge_adopt_zsock(vhost, EDGE_LINK_PROTOCOL, self->dealer, self, "router socket",
                                 error, error_size);
    if (!self->wsi)
        return -1;
    self->attached = true;
    edge_pressure_listen(self->pressure, s_on_clear, self);
    s_drain(self, now);
    tg_link_start(self->link);
    lws_sul_schedule(self->context, 0, &self->heartbeat_sul, s_heartbeat,
                     (lws_usec_t)self->cfg->heartbeat_ms * LWS_US_PER_MS);
    return 0;
}

int edge_link_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    edge_link_t *self = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (self && self->attached && self->paused)
            (void)zsock_events(self->dealer); /* resets the signal; the resume drains */
        else if (self && self->attached)
            s_drain(self, tg_clock_read()); /* a wake-up from the loop */
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (self)
            self->wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}
