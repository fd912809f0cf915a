/*  ingest_actor: the ingest actor, see ingest_actor.h.

    One thread, one tg_loop: a reader per socket (and per socket monitor),
    a heartbeat timer and an expiry timer for REGISTER requests waiting for
    the router. What each message does lives in ingest_broker.c; this file
    owns the sockets, the loop and the actor's life.
*/
#include "ingest_actor.h"

#include "tg_alloc.h"
#include "tg_envelope.h"
#include "tg_instance.h"
#include "tg_log.h"
#include "tg_loop.h"
#include "tg_monitor.h"
#include "tg_socket.h"

/* The sockets the actor watches with a monitor: pull, ack, router. */
#define S_WATCHES 3

/* One socket monitor and the DEALER its events go out on. */
typedef struct {
    tg_monitor_t *monitor; /* owned */
    zsock_t *dealer;       /* borrowed: the actor's router link */
} s_watch_t;

typedef struct {
    tg_config_t cfg;                /* our copy */
    char instance[TG_INSTANCE_MAX]; /* our id, the routing id at the router */
    zsock_t *pull;                  /* PULL bound on cfg.ingest */
    zsock_t *ack;                   /* ROUTER bound on cfg.ingest_ack */
    zsock_t *router;                /* DEALER connected to cfg.router */
    s_watch_t watches[S_WATCHES];   /* monitors of pull, ack and router */
    ingest_broker_t *broker;        /* what each message does; borrows ack and router */
    tg_loop_t *loop;                /* the one loop of the thread */
} ingest_actor_t;

/* --- the loop's handlers ------------------------------------------------ */

typedef void(s_handle_fn)(ingest_broker_t *broker, zmsg_t **msg_p, tg_now_t now);

//  Reads up to INGEST_READ_BUDGET messages from one socket, so a busy
//  publisher cannot starve the router link or the timers (the loop is
//  level-triggered: what is left is served next turn).
static void s_drain(zsock_t *sock, ingest_broker_t *broker, s_handle_fn *handle, tg_now_t now)
{
    for (int i = 0; i < INGEST_READ_BUDGET; i++) {
        if (!(zsock_events(sock) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        handle(broker, &msg, now);
    }
}

static void s_on_pull(void *arg, zsock_t *sock, tg_now_t now)
{
    ingest_actor_t *self = arg;
    s_drain(sock, self->broker, ingest_broker_on_pull, now);
}

static void s_on_ack(void *arg, zsock_t *sock, tg_now_t now)
{
    ingest_actor_t *self = arg;
    s_drain(sock, self->broker, ingest_broker_on_ack, now);
}

static void s_on_router(void *arg, zsock_t *sock, tg_now_t now)
{
    ingest_actor_t *self = arg;
    s_drain(sock, self->broker, ingest_broker_on_router, now);
}

//  Forwards our own socket events to the router as MONITOR (it publishes
//  them for telegraphy-ctl monitor). Best effort: the DEALER queues them
//  while the router is away, up to its HWM; past that they are dropped.
static void s_on_monitor(void *arg, zsock_t *sock, tg_now_t now)
{
    (void)sock;
    s_watch_t *watch = arg;
    for (int i = 0; i < INGEST_READ_BUDGET; i++) {
        tg_envelope_t *env = tg_monitor_recv(watch->monitor, now.wall_us);
        if (!env)
            break;
        if (tg_envelope_send(env, watch->dealer) != 0)
            tg_log_debug("ingest: monitor_dropped event=%s", env->event_name);
        tg_envelope_destroy(&env);
    }
}

static void s_on_heartbeat(void *arg, tg_now_t now)
{
    ingest_actor_t *self = arg;
    ingest_broker_heartbeat(self->broker, now);
}

static void s_on_expiry(void *arg, tg_now_t now)
{
    ingest_actor_t *self = arg;
    ingest_broker_expire(self->broker, now);
}

//  The owner's questions (tg_actor_ask, answered by tg_loop): STATS is
//  one frame holding an ingest_stats_t.
static size_t s_answer_stats(void *state, void *out, size_t out_size)
{
    ingest_actor_t *self = state;
    tg_check(out_size >= sizeof(ingest_stats_t));
    ingest_broker_stats(self->broker, out);
    return sizeof(ingest_stats_t);
}

static const tg_actor_command_t s_commands[] = {{"STATS", s_answer_stats}};

/* --- the actor class ---------------------------------------------------- */

static void s_destroy(void **state_p)
{
    ingest_actor_t *self = *state_p;
    if (!self)
        return;
    tg_loop_destroy(&self->loop);
    ingest_broker_destroy(&self->broker);
    //  Monitors first: destroying one stops libzmq's monitor of its socket.
    for (size_t i = 0; i < S_WATCHES; i++)
        tg_monitor_destroy(&self->watches[i].monitor);
    zsock_destroy(&self->pull);
    zsock_destroy(&self->ack);
    zsock_destroy(&self->router);
    free(self);
    *state_p = NULL;
}

//  Binds one publisher socket; on failure writes the start-up error
//  naming the socket (`what`) and the endpoint. Caller owns the result.
static zsock_t *s_bind(int type, const char *endpoint, const char *what,
                       const tg_socket_options_t *options, char *resolved, size_t resolved_size,
                       char *error, size_t error_size)
{
    char reason[256];
    zsock_t *sock =
        tg_socket_bind(type, endpoint, options, resolved, resolved_size, reason, sizeof reason);
    if (!sock)
        snprintf(error, error_size, "ingest: start_failed socket=%s reason=\"%s\"", what, reason);
    return sock;
}

//  Builds the sockets, monitors, broker and loop; `args` is the caller's
//  const tg_config_t * (copied). Returns the state (the actor owns it), or
//  NULL with the reason in error.
static void *s_create(zsock_t *pipe, const void *args, tg_actor_ready_t *ready, char *error,
                      size_t error_size)
{
    ingest_actor_t *self = tg_new(ingest_actor_t);
    self->cfg = *(const tg_config_t *)args;
    tg_instance_new("ingest", self->instance, sizeof self->instance);
    const tg_config_t *cfg = &self->cfg;

    //  Each socket's monitor is attached before its bind or connect
    //  (tg_socket's option), so its first events are seen too.
    tg_socket_options_t publisher = {
        .hwm = cfg->hwm,
        .max_frame = tg_socket_max_frame(cfg->max_event),
        .monitor = &self->watches[0].monitor,
        .monitor_role = "ingest",
        .monitor_instance = self->instance,
    };
    char pull_endpoint[TG_ACTOR_VALUE_MAX];
    char ack_endpoint[TG_ACTOR_VALUE_MAX];
    self->pull = s_bind(ZMQ_PULL, cfg->ingest, "ingest", &publisher, pull_endpoint,
                        sizeof pull_endpoint, error, error_size);
    if (!self->pull)
        goto err;
    publisher.monitor = &self->watches[1].monitor;
    self->ack = s_bind(ZMQ_ROUTER, cfg->ingest_ack, "ingest_ack", &publisher, ack_endpoint,
                       sizeof ack_endpoint, error, error_size);
    if (!self->ack)
        goto err;
    //  The router addresses us by instance id.
    tg_socket_options_t link = {.hwm = cfg->hwm,
                                .routing_id = self->instance,
                                .monitor = &self->watches[2].monitor,
                                .monitor_role = "ingest",
                                .monitor_instance = self->instance};
    char reason[256];
    self->router = tg_socket_connect(ZMQ_DEALER, cfg->router, &link, reason, sizeof reason);
    if (!self->router) {
        snprintf(error, error_size, "ingest: start_failed socket=router reason=\"%s\"", reason);
        goto err;
    }
    //  Unlike the other internal sockets, a clean stop may wait a little
    //  to hand the router the events it has already accepted.
    zsock_set_linger(self->router, INGEST_LINGER_MS);

    for (size_t i = 0; i < S_WATCHES; i++)
        self->watches[i].dealer = self->router;

    self->broker = ingest_broker_new(cfg, self->instance, self->ack, self->router,
                                     tg_clock_read()); //  the loop's first reading
    self->loop = tg_loop_new(pipe);
    tg_loop_set_commands(self->loop, s_commands, sizeof s_commands / sizeof s_commands[0], self,
                         "ingest");
    tg_loop_add_socket(self->loop, self->pull, s_on_pull, self);
    tg_loop_add_socket(self->loop, self->ack, s_on_ack, self);
    tg_loop_add_socket(self->loop, self->router, s_on_router, self);
    for (size_t i = 0; i < S_WATCHES; i++)
        tg_loop_add_socket(self->loop, tg_monitor_socket(self->watches[i].monitor), s_on_monitor,
                           &self->watches[i]);
    tg_loop_add_timer(self->loop, cfg->heartbeat_ms, s_on_heartbeat, self);
    int64_t expiry_ms = ingest_broker_pending_timeout_ms(self->broker) / 4;
    tg_loop_add_timer(self->loop, expiry_ms < 10 ? 10 : expiry_ms, s_on_expiry, self);

    tg_actor_ready_add(ready, "ingest", pull_endpoint);
    tg_actor_ready_add(ready, "ingest_ack", ack_endpoint);
    tg_actor_ready_add(ready, "instance", self->instance);
    return self;

err:;
    void *state = self;
    s_destroy(&state);
    return NULL;
}

//  Introduces us to the router, then serves until $TERM.
static void s_run(void *state)
{
    ingest_actor_t *self = state;
    ingest_broker_start(self->broker);
    tg_loop_run(self->loop);
}

const tg_actor_class_t ingest_actor_class = {"ingest", s_create, s_run, s_destroy};

int ingest_actor_stats(tg_actor_t *actor, ingest_stats_t *stats)
{
    assert(actor && stats);
    return tg_actor_ask(actor, "STATS", stats, sizeof *stats);
}
