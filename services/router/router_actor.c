/*  router_actor: the router's sockets and loop. See router_actor.h. */
#include "router_actor.h"

#include "router_broker.h"
#include "router_tap.h"
#include "tg_alloc.h"
#include "tg_config.h"
#include "tg_instance.h"
#include "tg_log.h"
#include "tg_loop.h"
#include "tg_monitor.h"
#include "tg_socket.h"

/* The actor's state, on its own thread. Freed by s_destroy only. */
typedef struct {
    tg_config_t cfg;               /* copy of the caller's */
    tg_loop_t *loop;               /* the one loop: sockets, the tick, the pipe */
    zsock_t *router;               /* ROUTER for edges and ingests */
    zsock_t *control;              /* ROUTER for telegraphy-ctl */
    zsock_t *tap;                  /* XPUB for MONITOR and TAP, or NULL (not bound) */
    tg_monitor_t *router_monitor;  /* socket events of `router` */
    tg_monitor_t *control_monitor; /* socket events of `control` */
    int tap_viewers;               /* subscribed prefixes that select TAP */
    router_broker_t *broker;       /* what each message does */
    char instance[TG_INSTANCE_MAX];
} s_state_t;

/* Peers' messages: at most ROUTER_BATCH per turn. */
static void s_on_router(void *arg, zsock_t *sock, tg_now_t now)
{
    s_state_t *self = arg;
    for (int i = 0; i < ROUTER_BATCH; i++) {
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        router_broker_handle_peer(self->broker, &msg, now);
    }
}

/* telegraphy-ctl's requests: at most ROUTER_BATCH per turn. */
static void s_on_control(void *arg, zsock_t *sock, tg_now_t now)
{
    s_state_t *self = arg;
    for (int i = 0; i < ROUTER_BATCH; i++) {
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        router_broker_handle_control(self->broker, sock, &msg, now);
    }
}

/* The router's own socket events, published on the tap. */
static void s_drain_monitor(s_state_t *self, tg_monitor_t *monitor, tg_now_t now)
{
    for (int i = 0; i < ROUTER_BATCH; i++) {
        tg_envelope_t *env = tg_monitor_recv(monitor, now.wall_us);
        if (!env)
            break;
        router_broker_publish_monitor(self->broker, &env);
    }
}

static void s_on_monitor(void *arg, zsock_t *sock, tg_now_t now)
{
    s_state_t *self = arg;
    s_drain_monitor(self,
                    sock == tg_monitor_socket(self->router_monitor) ? self->router_monitor
                                                                    : self->control_monitor,
                    now);
}

/* Subscriptions to the tap: TAPs are built only while a viewer wants them. */
static void s_on_tap(void *arg, zsock_t *sock, tg_now_t now)
{
    (void)now;
    s_state_t *self = arg;
    if (router_tap_viewers(sock, &self->tap_viewers) > 0)
        router_broker_set_tap_viewers(self->broker, self->tap_viewers > 0);
}

static void s_on_tick(void *arg, tg_now_t now)
{
    s_state_t *self = arg;
    router_broker_tick(self->broker, now);
}

/* The filter parser's limits from cfg; a 0 (a cfg filled by hand, as in
   the tests) keeps the default. */
static tg_query_limits_t s_filter_limits(const tg_config_t *cfg)
{
    tg_query_limits_t limits = TG_QUERY_DEFAULT_LIMITS;
    if (cfg->max_filter)
        limits.max_length = cfg->max_filter;
    if (cfg->filter_max_depth)
        limits.max_depth = cfg->filter_max_depth;
    if (cfg->filter_max_list)
        limits.max_list = cfg->filter_max_list;
    return limits;
}

static void s_destroy(void **state_p)
{
    s_state_t *self = *state_p;
    if (!self)
        return;
    tg_loop_destroy(&self->loop);
    router_broker_destroy(&self->broker);
    /* The monitors before their sockets (see tg_monitor_new). */
    tg_monitor_destroy(&self->router_monitor);
    tg_monitor_destroy(&self->control_monitor);
    zsock_destroy(&self->tap);
    zsock_destroy(&self->control);
    zsock_destroy(&self->router);
    free(self);
    *state_p = NULL;
}

/* Binds the sockets, builds the broker and the loop. Returns the state, or
   NULL with a sentence naming the endpoint in error. */
static void *s_create(zsock_t *pipe, const void *args, tg_actor_ready_t *ready, char *error,
                      size_t error_size)
{
    const tg_config_t *cfg = args;
    s_state_t *self = tg_new(s_state_t);
    self->cfg = *cfg;
    tg_instance_new("router", self->instance, sizeof self->instance);
    uint32_t heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 1000;

    char reason[512] = "";
    char endpoint[256], control_endpoint[256], tap_endpoint[256];
    /* Peers: an unknown or full peer makes the send fail (a counted drop);
       a peer reconnecting under its instance id replaces its old link. */
    tg_socket_options_t peer_options = {.hwm = cfg->hwm,
                                        .max_frame = tg_socket_max_frame(cfg->max_event),
                                        .router_mandatory = true,
                                        .router_handover = true};
    self->router = tg_socket_bind(ZMQ_ROUTER, cfg->router, &peer_options, endpoint, sizeof endpoint,
                                  reason, sizeof reason);
    if (!self->router)
        goto err;
    tg_socket_options_t control_options = {
        .hwm = cfg->hwm, .max_frame = 65536, .router_handover = true};
    self->control = tg_socket_bind(ZMQ_ROUTER, cfg->control, &control_options, control_endpoint,
                                   sizeof control_endpoint, reason, sizeof reason);
    if (!self->control)
        goto err;
    /* The tap is an operator's convenience: when its endpoint is taken
       (two routers on one host with the default), route without it rather
       than not at all. A cfg filled by hand (tests) gets a free port. */
    self->tap = router_tap_bind(cfg->monitor[0] ? cfg->monitor : "tcp://127.0.0.1:*", tap_endpoint,
                                sizeof tap_endpoint, reason, sizeof reason);
    if (!self->tap) {
        tg_log_error("router: tap disabled reason=\"%s\"", reason);
        snprintf(tap_endpoint, sizeof tap_endpoint, "none");
    }
    /* Attached after the binds: "listening" is in the log already, and
       what an operator watches for is peers coming and going. */
    self->router_monitor = tg_monitor_new(self->router, "router", self->instance);
    self->control_monitor = tg_monitor_new(self->control, "router", self->instance);
    if (!self->router_monitor || !self->control_monitor) {
        snprintf(reason, sizeof reason, "socket monitor failed");
        goto err;
    }
    tg_query_limits_t limits = s_filter_limits(cfg);
    tg_now_t now = tg_clock_read(); /* once, at start: the loop's clock from here on */
    self->broker = router_broker_new(self->router, self->instance, heartbeat_ms, &limits, now);
    router_broker_set_tap(self->broker, self->tap);
    router_broker_set_store_timeout(self->broker, cfg->store_timeout_ms);

    self->loop = tg_loop_new(pipe);
    tg_loop_add_socket(self->loop, self->router, s_on_router, self);
    tg_loop_add_socket(self->loop, self->control, s_on_control, self);
    tg_loop_add_socket(self->loop, tg_monitor_socket(self->router_monitor), s_on_monitor, self);
    tg_loop_add_socket(self->loop, tg_monitor_socket(self->control_monitor), s_on_monitor, self);
    if (self->tap)
        tg_loop_add_socket(self->loop, self->tap, s_on_tap, self);
    tg_loop_add_timer(self->loop, heartbeat_ms, s_on_tick, self);

    tg_actor_ready_add(ready, "router", endpoint);
    tg_actor_ready_add(ready, "control", control_endpoint);
    tg_actor_ready_add(ready, "monitor", tap_endpoint);
    tg_actor_ready_add(ready, "instance", self->instance);
    return self;
err:
    snprintf(error, error_size, "router: start failed reason=\"%s\"", reason);
    void *state = self;
    s_destroy(&state);
    return NULL;
}

static void s_run(void *state)
{
    s_state_t *self = state;
    tg_loop_run(self->loop);
    tg_log_info("router: stopped instance=%s", self->instance);
}

const tg_actor_class_t router_actor_class = {"router", s_create, s_run, s_destroy};
