/*  router_server: the router actor: its sockets, its loop and its start-up
    handshake. What each message does is router_broker's business.
*/
#include "router_server.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <string.h>

#include "router_broker.h"
#include "router_socket.h"
#include "router_tap.h"
#include "tg_log.h"
#include "tg_monitor.h"

struct _router_server_t {
    zactor_t *actor;    /* the running actor */
    char endpoint[256]; /* resolved peer endpoint */
    char control[256];  /* resolved control endpoint */
    char monitor[256];  /* resolved tap (PUB) endpoint */
    char instance[64];  /* the router's instance id */
};

/* The actor's state, on its own thread. */
typedef struct {
    tg_config_t cfg;               /* copy of the caller's */
    zsock_t *pipe;                 /* borrowed: to the caller */
    zsock_t *router;               /* ROUTER for edges and ingests */
    zsock_t *control;              /* ROUTER for telegraphy-ctl */
    zsock_t *tap;                  /* PUB for MONITOR and TAP (telegraphy-ctl monitor/tap) */
    tg_monitor_t *router_monitor;  /* socket events of `router` */
    tg_monitor_t *control_monitor; /* socket events of `control` */
    zpoller_t *poller;             /* pipe, router, control, the two monitors, the tap */
    int tap_viewers;               /* subscribed prefixes that select TAP */
    router_broker_t *broker;
    char instance[64];
    char endpoint[256];
    char control_endpoint[256];
    char tap_endpoint[256];
    bool terminated; /* $TERM received */
} s_actor_t;

static void s_actor_destroy(s_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_actor_t *self = *self_p;
    router_broker_destroy(&self->broker);
    zpoller_destroy(&self->poller);
    tg_monitor_destroy(&self->router_monitor);
    tg_monitor_destroy(&self->control_monitor);
    zsock_destroy(&self->tap);
    zsock_destroy(&self->control);
    zsock_destroy(&self->router);
    free(self);
    *self_p = NULL;
}

/* Largest frame accepted from a peer: twice the event limit plus room for
   the header (the same rule as ingest's publisher sockets). 0 = no limit. */
static int64_t s_max_frame(uint32_t max_event)
{
    return max_event ? (int64_t)max_event * 2 + 65536 : 0;
}

/* A ROUTER bound on endpoint; the resolved endpoint goes to `resolved`.
   NULL with a message in `error` on failure. */
static zsock_t *s_bind(const char *endpoint, uint32_t hwm, int64_t max_frame, bool mandatory,
                       char *resolved, size_t resolved_size, char *error, size_t error_size)
{
    zsock_t *sock = router_socket_new(ZMQ_ROUTER, endpoint, error, error_size);
    if (!sock)
        return NULL;
    zsock_set_sndhwm(sock, (int)hwm);
    zsock_set_rcvhwm(sock, (int)hwm);
    /* Never block the loop: an empty socket returns NULL at once, and a
       full or unknown peer makes the send fail (counted as a drop) instead
       of being dropped silently. */
    zsock_set_rcvtimeo(sock, 0);
    zsock_set_sndtimeo(sock, 0);
    if (mandatory)
        zsock_set_router_mandatory(sock, 1);
    /* Bounds what one peer can make us buffer: an event body is at most
       max_event at ingest, headers are small. A larger frame drops that
       peer's connection inside libzmq (it reconnects), never our memory. */
    if (max_frame > 0)
        zsock_set_maxmsgsize(sock, (int)max_frame);
    /* A peer reconnecting under the same routing id (its instance id)
       replaces its old connection instead of being refused. */
    zsock_set_router_handover(sock, 1);
    return router_socket_bind(&sock, endpoint, resolved, resolved_size, error, error_size);
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

static s_actor_t *s_actor_new(zsock_t *pipe, const tg_config_t *cfg, char *error, size_t error_size)
{
    s_actor_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(error, error_size, "router: out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->pipe = pipe;
    zuuid_t *uuid = zuuid_new();
    snprintf(self->instance, sizeof self->instance, "router-%.16s", uuid ? zuuid_str(uuid) : "0");
    zuuid_destroy(&uuid);

    self->router = s_bind(cfg->router, cfg->hwm, s_max_frame(cfg->max_event), true, self->endpoint,
                          sizeof self->endpoint, error, error_size);
    if (!self->router)
        goto err;
    self->control = s_bind(cfg->control, cfg->hwm, 65536, false, self->control_endpoint,
                           sizeof self->control_endpoint, error, error_size);
    if (!self->control)
        goto err;
    /* The tap is an operator's convenience: when its endpoint is taken
       (two routers on one host with the default), route without it rather
       than not at all. A cfg filled by hand (tests) gets a free port. */
    char tap_error[512] = "";
    self->tap =
        router_tap_bind(cfg->monitor[0] ? cfg->monitor : "tcp://127.0.0.1:*", self->tap_endpoint,
                        sizeof self->tap_endpoint, tap_error, sizeof tap_error);
    if (!self->tap) {
        tg_log_error("%s (monitor and tap disabled)", tap_error);
        snprintf(self->tap_endpoint, sizeof self->tap_endpoint, "none");
    }
    /* Attached after the binds: "listening" is in the log already, and
       what an operator watches for is peers coming and going. */
    self->router_monitor = tg_monitor_new(self->router, "router", self->instance);
    self->control_monitor = tg_monitor_new(self->control, "router", self->instance);
    if (!self->router_monitor || !self->control_monitor) {
        snprintf(error, error_size, "router: socket monitor failed");
        goto err;
    }
    self->poller =
        zpoller_new(pipe, self->router, self->control, tg_monitor_socket(self->router_monitor),
                    tg_monitor_socket(self->control_monitor), NULL);
    tg_query_limits_t limits = s_filter_limits(cfg);
    self->broker =
        router_broker_new(self->router, self->instance,
                          cfg->heartbeat_ms ? cfg->heartbeat_ms : 1000, &limits, tg_clock_read());
    if (self->poller && self->tap)
        zpoller_add(self->poller, self->tap);
    if (!self->poller || !self->broker) {
        snprintf(error, error_size, "router: out of memory");
        goto err;
    }
    router_broker_set_tap(self->broker, self->tap);
    /* SIGINT is main()'s to handle: the loop stops on $TERM only. */
    zpoller_set_nonstop(self->poller, true);
    return self;
err:
    s_actor_destroy(&self);
    return NULL;
}

static void s_handle_pipe(s_actor_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg) {
        /* EINTR: try again next round; anything else: the caller is gone. */
        if (zmq_errno() != EINTR && zmq_errno() != EAGAIN)
            self->terminated = true;
        return;
    }
    char *command = zmsg_popstr(msg);
    if (command && streq(command, "$TERM"))
        self->terminated = true;
    else
        tg_log_warning("router: unknown actor command=%s", command ? command : "(none)");
    free(command);
    zmsg_destroy(&msg);
}

/* Publishes the router's own socket events, ROUTER_BATCH at most. */
static void s_drain_monitor(s_actor_t *self, tg_monitor_t *monitor)
{
    for (int i = 0; i < ROUTER_BATCH; i++) {
        tg_envelope_t *env = tg_monitor_recv(monitor);
        if (!env)
            break;
        router_broker_publish_monitor(self->broker, &env);
    }
}

static void s_run(s_actor_t *self)
{
    uint32_t heartbeat_ms = self->cfg.heartbeat_ms ? self->cfg.heartbeat_ms : 1000;
    int64_t next_tick = zclock_mono() + heartbeat_ms;
    while (!self->terminated) {
        int64_t wait = next_tick - zclock_mono();
        zpoller_wait(self->poller, wait > 0 ? (int)wait : 0);
        /* Serve every socket on each wake-up, ROUTER_BATCH messages at most
           from each: one busy socket cannot starve the others or the tick. */
        if (zsock_events(self->pipe) & ZMQ_POLLIN)
            s_handle_pipe(self);
        for (int i = 0; i < ROUTER_BATCH; i++) {
            zmsg_t *msg = zmsg_recv(self->router);
            if (!msg)
                break;
            router_broker_handle_peer(self->broker, &msg, tg_clock_read());
        }
        for (int i = 0; i < ROUTER_BATCH; i++) {
            zmsg_t *msg = zmsg_recv(self->control);
            if (!msg)
                break;
            router_broker_handle_control(self->broker, self->control, &msg, tg_clock_read());
        }
        if (self->tap && router_tap_viewers(self->tap, &self->tap_viewers) > 0)
            router_broker_set_tap_viewers(self->broker, self->tap_viewers > 0);
        s_drain_monitor(self, self->router_monitor);
        s_drain_monitor(self, self->control_monitor);
        tg_now_t now = tg_clock_read();
        if (now.mono_ms >= next_tick) {
            router_broker_tick(self->broker, now);
            next_tick = now.mono_ms + heartbeat_ms;
        }
    }
}

/* The actor. Protocol on the pipe: after the usual ready signal, one
   message "OK" endpoint control_endpoint instance, or "ERROR" text; then
   it runs until "$TERM" (also after an error, so zactor_destroy works the
   same in both cases). */
static void s_router_actor(zsock_t *pipe, void *args)
{
    char error[512] = "";
    s_actor_t *self = s_actor_new(pipe, (const tg_config_t *)args, error, sizeof error);
    zsock_signal(pipe, 0);
    if (!self) {
        zstr_sendx(pipe, "ERROR", error, NULL);
        while (true) {
            char *command = zstr_recv(pipe);
            if (!command && zmq_errno() == EINTR)
                continue;
            bool term = !command || streq(command, "$TERM");
            free(command);
            if (term)
                break;
        }
        return;
    }
    zstr_sendx(pipe, "OK", self->endpoint, self->control_endpoint, self->instance,
               self->tap_endpoint, NULL);
    tg_log_info("router: started instance=%s router=%s control=%s monitor=%s heartbeat_ms=%u "
                "hwm=%u",
                self->instance, self->endpoint, self->control_endpoint, self->tap_endpoint,
                self->cfg.heartbeat_ms, self->cfg.hwm);
    s_run(self);
    tg_log_info("router: stopped instance=%s", self->instance);
    s_actor_destroy(&self);
    /* The index hashes subscription keys with OpenSSL in this thread. Free
       OpenSSL's per-thread state now, before zactor tells the main thread
       we are done: left to the thread-exit destructor it races the main
       thread's atexit OPENSSL_cleanup (a double free / leak under ASan). */
    OPENSSL_thread_stop();
}

router_server_t *router_server_new(const tg_config_t *cfg)
{
    assert(cfg);
    router_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->actor = zactor_new(s_router_actor, (void *)cfg);
    if (!self->actor) {
        free(self);
        return NULL;
    }
    char *status = NULL, *first = NULL, *second = NULL, *third = NULL, *fourth = NULL;
    int rc = zstr_recvx(self->actor, &status, &first, &second, &third, &fourth, NULL);
    bool ok = rc >= 1 && status && streq(status, "OK") && first && second && third && fourth;
    if (ok) {
        snprintf(self->endpoint, sizeof self->endpoint, "%s", first);
        snprintf(self->control, sizeof self->control, "%s", second);
        snprintf(self->instance, sizeof self->instance, "%s", third);
        snprintf(self->monitor, sizeof self->monitor, "%s", fourth);
    } else
        tg_log_error("%s", first ? first : "router: the actor did not start");
    zstr_free(&status);
    zstr_free(&first);
    zstr_free(&second);
    zstr_free(&third);
    zstr_free(&fourth);
    if (!ok)
        router_server_destroy(&self);
    return self;
}

void router_server_destroy(router_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_server_t *self = *self_p;
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}

const char *router_server_endpoint(const router_server_t *self)
{
    return self->endpoint;
}

const char *router_server_control_endpoint(const router_server_t *self)
{
    return self->control;
}

const char *router_server_monitor_endpoint(const router_server_t *self)
{
    return self->monitor;
}

const char *router_server_instance(const router_server_t *self)
{
    return self->instance;
}

zactor_t *router_server_actor(router_server_t *self)
{
    return self->actor;
}
