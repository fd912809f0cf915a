/*  edge_link: the router link inside the libwebsockets loop.

    Why it is driven this way (and why it never loses a wake-up):

    - One thread. The edge's sessions, its subscription table and the
      router socket are all touched from the lws service thread only, so
      nothing is locked and an EVENT goes from the router socket to the
      session queues without a hand-off.
    - lws 4.1.6 here has no external-poll hook, but it can watch a foreign
      descriptor: we adopt a dup() of the DEALER's ZMQ_FD as a RAW file on
      a vhost of its own that listens on nothing (lws close()s what it
      adopted; the dup keeps ZeroMQ's own descriptor intact).
    - ZMQ_FD is edge-triggered: it becomes readable when ZeroMQ's internal
      command queue gets something, and reading ZMQ_EVENTS resets it. So a
      wake-up (LWS_CALLBACK_RAW_RX_FILE) means "check", not "one message":
      we drain until ZMQ_EVENTS lacks ZMQ_POLLIN. Reading only one message
      per wake-up would leave messages behind with no further signal.
    - A pass reads at most S_DRAIN_BUDGET messages (and at most half a
      session queue) so the WebSockets get served during a burst; it also
      ends as soon as a frame lands on a queue that is half full or more
      (one event queues a frame per matching subscription, and lws may
      service this descriptor before that session's POLLOUT), so that a
      reader that keeps up is written to before its queue can overflow.
      When a pass ends early, nothing will signal the descriptor again
      (the messages are already inside ZeroMQ), so we re-arm ourselves
      with a zero-delay lws_sul timer.
    - Any zmq_send() on this socket processes ZeroMQ's commands too and
      can consume the edge-triggered signal of messages that arrived
      meanwhile. After every send we look at ZMQ_EVENTS; if input is
      waiting we schedule a drain on the same timer (not inline: a send
      can happen in the middle of a session's callback).
    - Right after adopting we drain once, for messages that arrived before
      lws was watching.
    - Idle means asleep: no polling loop, only poll() on the descriptor
      and the heartbeat timer (one wake-up per heartbeat_ms).

    The conversation (DESIGN 3, common brief): HELLO {role, instance} until
    WELCOME; then HEARTBEAT {instance, uptime_ms, stats} every heartbeat_ms.
    The router's HEARTBEAT reply names its instance and whether it knows
    us; a new instance, known=false, or three heartbeats of silence mean
    it lost our state: we HELLO again and, on the next WELCOME, the broker
    re-sends every subscription key (ids are deterministic, so sessions
    notice nothing).
*/
#include "edge_link.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "tg_log.h"

/* Router messages handled per pass before the loop serves WebSockets; a
   pass also stays under half a session queue, so that a burst cannot fill
   a reader's queue before it had a chance to write. */
#define S_DRAIN_BUDGET 128
/* Heartbeats of silence after which the router is presumed gone. */
#define S_SILENT_HEARTBEATS 3
#define S_INSTANCE_MAX      64

struct _edge_link_t {
    const tg_config_t *cfg;                     /* borrowed */
    edge_link_ops_t ops;                        /* the owner's callbacks */
    edge_metrics_t *metrics;                    /* borrowed: bad router messages */
    zsock_t *dealer;                            /* the socket to the router */
    char instance[S_INSTANCE_MAX];              /* our instance id = routing id */
    struct lws_context *context;                /* set by attach */
    struct lws *wsi;                            /* the adopted dup of ZMQ_FD, NULL once closed */
    lws_sorted_usec_list_t drain_sul;           /* re-arm after a budget stop or a send */
    lws_sorted_usec_list_t heartbeat_sul;       /* HELLO / HEARTBEAT every heartbeat_ms */
    bool attached;                              /* timers may be scheduled */
    bool welcomed;                              /* the router accepted our HELLO */
    char router_instance[TG_MAX_ID_STRING + 1]; /* who welcomed us, "" = nobody yet */
    int64_t started_ms;                         /* zclock_mono() at creation */
    int64_t last_heard_ms;                      /* last message from the router, 0 = never */
    tg_log_limiter_t bad_limiter;               /* malformed router messages */
    int drain_budget;                           /* messages per drain pass */
};

edge_link_t *edge_link_new(const tg_config_t *cfg, const edge_link_ops_t *ops,
                           edge_metrics_t *metrics)
{
    assert(cfg);
    assert(ops && ops->on_message && ops->on_welcome && ops->add_stats);
    assert(metrics);
    edge_link_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->ops = *ops;
    self->metrics = metrics;
    self->started_ms = zclock_mono();
    self->drain_budget = S_DRAIN_BUDGET;
    if (cfg->session_queue / 2 < (uint32_t)self->drain_budget)
        self->drain_budget = cfg->session_queue / 2 ? (int)(cfg->session_queue / 2) : 1;
    uint64_t random_part = 0;
    if (getrandom(&random_part, sizeof(random_part), 0) != (ssize_t)sizeof(random_part))
        random_part = (uint64_t)zclock_usecs() ^ ((uint64_t)getpid() << 40);
    snprintf(self->instance, sizeof(self->instance), "edge-%016llx",
             (unsigned long long)random_part);

    self->dealer = zsock_new(ZMQ_DEALER);
    if (!self->dealer) {
        tg_log_error("edge: cannot create router socket");
        free(self);
        return NULL;
    }
    zsock_set_identity(self->dealer, self->instance);
    zsock_set_sndhwm(self->dealer, (int)cfg->hwm);
    zsock_set_rcvhwm(self->dealer, (int)cfg->hwm);
    zsock_set_linger(self->dealer, 0);
    /* Queue nothing while the router is unreachable: a stale HEARTBEAT or
       SUBSCRIBE delivered later would only confuse it; resync covers it. */
    zsock_set_immediate(self->dealer, 1);
    zsock_set_rcvtimeo(self->dealer, 0);
    if (zsock_connect(self->dealer, "%s", cfg->router) != 0) {
        tg_log_error("edge: cannot connect router endpoint=%s", cfg->router);
        zsock_destroy(&self->dealer);
        free(self);
        return NULL;
    }
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
}

void edge_link_destroy(edge_link_t **self_p)
{
    assert(self_p);
    edge_link_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    assert(!self->attached);
    zsock_destroy(&self->dealer);
    free(self);
}

static void s_drain_later(lws_sorted_usec_list_t *sul);

/* If the socket has input waiting, make sure a drain runs soon. */
static void s_check_input(edge_link_t *self)
{
    if (self->attached && (zsock_events(self->dealer) & ZMQ_POLLIN))
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
    return self->welcomed;
}

bool edge_link_connected(const edge_link_t *self)
{
    if (self->last_heard_ms == 0)
        return false;
    return zclock_mono() - self->last_heard_ms <=
           (int64_t)S_SILENT_HEARTBEATS * self->cfg->heartbeat_ms;
}

const char *edge_link_instance(const edge_link_t *self)
{
    return self->instance;
}

static void s_send_hello(edge_link_t *self)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    assert(hello);
    hello->role = strdup("edge");
    hello->instance = strdup(self->instance);
    assert(hello->role && hello->instance);
    edge_link_send(self, hello);
    tg_envelope_destroy(&hello);
}

static void s_send_heartbeat(edge_link_t *self)
{
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    assert(heartbeat);
    heartbeat->instance = strdup(self->instance);
    assert(heartbeat->instance);
    heartbeat->uptime_ms = (uint64_t)(zclock_mono() - self->started_ms);
    self->ops.add_stats(self->ops.arg, heartbeat);
    edge_link_send(self, heartbeat);
    tg_envelope_destroy(&heartbeat);
}

/* The router lost (or may have lost) our state: start over with HELLO. */
static void s_rehello(edge_link_t *self, const char *why)
{
    tg_log_info("edge: router resync needed reason=%s", why);
    self->welcomed = false;
    s_send_hello(self);
}

static void s_on_welcome(edge_link_t *self, const tg_envelope_t *welcome)
{
    const char *instance = welcome->instance ? welcome->instance : "";
    bool changed = strcmp(instance, self->router_instance) != 0;
    snprintf(self->router_instance, sizeof(self->router_instance), "%s", instance);
    self->welcomed = true;
    tg_log_info("edge: router welcomed us router=%s%s", instance, changed ? " (new)" : "");
    /* Re-send every key even when the instance is unchanged: a WELCOME
       answers a HELLO, and we only HELLO when the router may have lost
       our subscriptions. */
    self->ops.on_welcome(self->ops.arg);
}

static void s_on_heartbeat(edge_link_t *self, const tg_envelope_t *heartbeat)
{
    if (!self->welcomed)
        return; /* a reply to a heartbeat from before our HELLO */
    const char *instance = heartbeat->instance ? heartbeat->instance : "";
    if (!heartbeat->known)
        s_rehello(self, "router forgot us");
    else if (strcmp(instance, self->router_instance) != 0)
        s_rehello(self, "router instance changed");
}

static void s_dispatch(edge_link_t *self, zmsg_t **msg_p)
{
    const char *reason = NULL;
    tg_envelope_t *envelope = tg_envelope_decode(msg_p, &reason);
    if (!envelope) {
        self->metrics->bad_input[EDGE_BAD_INTERNAL]++;
        tg_log_ratelimited(&self->bad_limiter, 10000, "edge: bad router message reason=%s",
                           reason ? reason : "?");
        return;
    }
    self->last_heard_ms = zclock_mono();
    switch (envelope->command) {
    case TG_CMD_WELCOME:
        s_on_welcome(self, envelope);
        break;
    case TG_CMD_HEARTBEAT:
        s_on_heartbeat(self, envelope);
        break;
    default:
        self->ops.on_message(self->ops.arg, envelope);
        break;
    }
    tg_envelope_destroy(&envelope);
}

/* Reads until ZeroMQ says no input is left, or the budget is spent (then
   re-arms itself: no signal will come for messages already queued). */
static void s_drain(edge_link_t *self)
{
    uint64_t pressure = self->metrics->queue_pressure;
    for (int handled = 0;; handled++) {
        if (!(zsock_events(self->dealer) & ZMQ_POLLIN))
            return;
        /* Yield when the budget is spent, or as soon as a frame landed on
           a queue at least half full: that session's WRITEABLE callback
           must run before more events pile up behind it. */
        if (handled == self->drain_budget || self->metrics->queue_pressure != pressure) {
            lws_sul_schedule(self->context, 0, &self->drain_sul, s_drain_later, 1);
            return;
        }
        zmsg_t *msg = zmsg_recv(self->dealer);
        if (!msg)
            return; /* EAGAIN despite POLLIN, or interrupted: ZMQ_EVENTS decides next */
        s_dispatch(self, &msg);
        zmsg_destroy(&msg);
    }
}

static void s_drain_later(lws_sorted_usec_list_t *sul)
{
    edge_link_t *self = lws_container_of(sul, edge_link_t, drain_sul);
    s_drain(self);
}

static void s_heartbeat(lws_sorted_usec_list_t *sul)
{
    edge_link_t *self = lws_container_of(sul, edge_link_t, heartbeat_sul);
    if (self->welcomed && !edge_link_connected(self))
        s_rehello(self, "router silent");
    else if (self->welcomed)
        s_send_heartbeat(self);
    else
        s_send_hello(self);
    lws_sul_schedule(self->context, 0, &self->heartbeat_sul, s_heartbeat,
                     (lws_usec_t)self->cfg->heartbeat_ms * LWS_US_PER_MS);
}

int edge_link_attach(edge_link_t *self, struct lws_context *context, struct lws_vhost *vhost)
{
    assert(self);
    assert(context && vhost);
    assert(!self->attached);
    self->context = context;
    int fd = dup(zsock_fd(self->dealer));
    if (fd < 0) {
        tg_log_error("edge: cannot dup router socket fd error=%s", strerror(errno));
        return -1;
    }
    lws_adopt_desc_t desc;
    memset(&desc, 0, sizeof(desc));
    desc.vh = vhost;
    desc.type = LWS_ADOPT_RAW_FILE_DESC;
    desc.fd.filefd = fd;
    desc.vh_prot_name = EDGE_LINK_PROTOCOL;
    desc.opaque = self;
    /* On failure lws closes fd itself. */
    self->wsi = lws_adopt_descriptor_vhost_via_info(&desc);
    if (!self->wsi) {
        tg_log_error("edge: cannot adopt router socket fd");
        return -1;
    }
    self->attached = true;
    s_drain(self);
    s_send_hello(self);
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
        if (self && self->attached)
            s_drain(self);
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
