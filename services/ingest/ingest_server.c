/*  ingest_server: the ingest actor, see ingest_server.h.

    One thread, one zloop: a reader per socket, a heartbeat timer and an
    expiry timer for REGISTER requests waiting for the router. The request
    handling itself (PUBLISH, REGISTER, the router's messages) lives in
    ingest_handler.c; this file owns the sockets and the actor's life.
*/
#include "ingest_server.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "ingest_handler.h"
#include "tg_envelope.h"
#include "tg_log.h"
#include "tg_monitor.h"

struct _ingest_server_t {
    zactor_t *actor;    /* the thread running s_actor */
    char *endpoint;     /* PULL endpoint, port resolved */
    char *ack_endpoint; /* ack ROUTER endpoint, port resolved */
    char *instance;     /* the actor's instance id */
};

//  Applies the high-water marks every internal socket uses.
static void s_set_hwm(zsock_t *sock, uint32_t hwm)
{
    int value = hwm > INT_MAX ? INT_MAX : (int)hwm;
    zsock_set_sndhwm(sock, value);
    zsock_set_rcvhwm(sock, value);
}

//  Binds sock on endpoint and returns the resolved endpoint (caller owns),
//  or NULL with a message naming the endpoint in error.
static char *s_bind(zsock_t *sock, const char *endpoint, const char *what, char *error,
                    size_t errlen)
{
    if (zsock_bind(sock, "%s", endpoint) == -1) {
        snprintf(error, errlen, "cannot bind %s (%s): %s", endpoint, what, zmq_strerror(errno));
        return NULL;
    }
    char *resolved = zsock_last_endpoint(sock);
    if (!resolved)
        snprintf(error, errlen, "cannot read the endpoint bound for %s (%s)", endpoint, what);
    return resolved;
}

//  The largest frame the publisher sockets accept before dropping the
//  connection: generous enough that an oversized body still gets a clear
//  "too large" answer, bounded so a hostile frame cannot exhaust memory.
static int64_t s_max_frame(uint32_t max_event)
{
    return (int64_t)max_event * 2 + 65536;
}

//  The sockets of one ingest, created and destroyed together.
//  One socket monitor and the DEALER its events go out on.
typedef struct {
    tg_monitor_t *monitor;
    zsock_t *dealer; /* borrowed: sockets.router */
} s_watch_t;

typedef struct {
    zsock_t *pull;        /* PULL bound on cfg->ingest */
    zsock_t *ack;         /* ROUTER bound on cfg->ingest_ack */
    zsock_t *router;      /* DEALER connected to cfg->router */
    s_watch_t watches[3]; /* socket monitors of pull, ack and router */
} s_sockets_t;

static void s_close_sockets(s_sockets_t *sockets)
{
    /* Monitors first: destroying one stops libzmq's monitor of its socket. */
    for (size_t i = 0; i < 3; i++)
        tg_monitor_destroy(&sockets->watches[i].monitor);
    zsock_destroy(&sockets->pull);
    zsock_destroy(&sockets->ack);
    zsock_destroy(&sockets->router);
}

//  Creates, binds and connects the sockets. Returns 0, or -1 with error
//  set (the caller closes whatever was created).
static int s_open_sockets(s_sockets_t *sockets, const tg_config_t *cfg, const char *instance,
                          char **pull_ep, char **ack_ep, char *error, size_t errlen)
{
    sockets->pull = zsock_new(ZMQ_PULL);
    sockets->ack = zsock_new(ZMQ_ROUTER);
    sockets->router = zsock_new(ZMQ_DEALER);
    if (!sockets->pull || !sockets->ack || !sockets->router) {
        snprintf(error, errlen, "cannot create sockets: %s", zmq_strerror(errno));
        return -1;
    }
    s_set_hwm(sockets->pull, cfg->hwm);
    s_set_hwm(sockets->ack, cfg->hwm);
    s_set_hwm(sockets->router, cfg->hwm);
    zsock_set_maxmsgsize(sockets->pull, (int)s_max_frame(cfg->max_event));
    zsock_set_maxmsgsize(sockets->ack, (int)s_max_frame(cfg->max_event));
    zsock_set_linger(sockets->pull, 0);
    zsock_set_linger(sockets->ack, 0);
    zsock_set_linger(sockets->router, INGEST_LINGER_MS);
    //  The router addresses us by instance id, which must be set before connect.
    zsock_set_identity(sockets->router, instance);
    //  Before bind and connect, so "listening" and "connected" are seen.
    zsock_t *watched[3] = {sockets->pull, sockets->ack, sockets->router};
    for (size_t i = 0; i < 3; i++) {
        sockets->watches[i].dealer = sockets->router;
        sockets->watches[i].monitor = tg_monitor_new(watched[i], "ingest", instance);
        if (!sockets->watches[i].monitor) {
            snprintf(error, errlen, "cannot monitor sockets");
            return -1;
        }
    }

    *pull_ep = s_bind(sockets->pull, cfg->ingest, "ingest", error, errlen);
    if (!*pull_ep)
        return -1;
    *ack_ep = s_bind(sockets->ack, cfg->ingest_ack, "ingest-ack", error, errlen);
    if (!*ack_ep)
        return -1;
    if (zsock_connect(sockets->router, "%s", cfg->router) == -1) {
        snprintf(error, errlen, "cannot connect to the router at %s: %s", cfg->router,
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

//  Reads up to INGEST_READ_BUDGET messages from one socket, so a busy
//  publisher cannot starve the router link or the timers.
static void s_drain(zsock_t *sock, ingest_handler_t *handler,
                    void (*handle)(ingest_handler_t *, zmsg_t **))
{
    for (int i = 0; i < INGEST_READ_BUDGET; i++) {
        if (!(zsock_events(sock) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        handle(handler, &msg);
    }
}

static int s_on_pull(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    s_drain(sock, arg, ingest_handler_on_pull);
    return 0;
}

static int s_on_ack(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    s_drain(sock, arg, ingest_handler_on_ack);
    return 0;
}

//  Forwards our own socket events to the router as MONITOR (it publishes
//  them for telegraphy-ctl monitor). Best effort: the DEALER queues them
//  while the router is away, up to its HWM; past that they are dropped.
static int s_on_monitor(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)sock;
    s_watch_t *watch = arg;
    for (int i = 0; i < INGEST_READ_BUDGET; i++) {
        tg_envelope_t *env = tg_monitor_recv(watch->monitor);
        if (!env)
            break;
        if (tg_envelope_send(env, watch->dealer) != 0)
            tg_log_debug("ingest: monitor event dropped event=%s", env->event_name);
        tg_envelope_destroy(&env);
    }
    return 0;
}

static int s_on_router(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    s_drain(sock, arg, ingest_handler_on_router);
    return 0;
}

static int s_on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    ingest_handler_heartbeat(arg);
    return 0;
}

static int s_on_expiry(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    ingest_handler_expire(arg);
    return 0;
}

//  Commands from the owning thread: $TERM ends the loop, STATS answers a
//  frame holding an ingest_stats_t.
static int s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    zmsg_t *msg = zmsg_recv(pipe);
    if (!msg)
        return 0; //  interrupted; only $TERM stops the actor
    char *command = zmsg_popstr(msg);
    zmsg_destroy(&msg);
    int rc = 0;
    if (command && streq(command, "$TERM"))
        rc = -1;
    else if (command && streq(command, "STATS")) {
        ingest_stats_t stats;
        ingest_handler_stats(arg, &stats);
        zframe_t *frame = zframe_new(&stats, sizeof(stats));
        zframe_send(&frame, pipe, 0);
    } else
        tg_log_error("ingest: unknown actor command=%s", command ? command : "(none)");
    zstr_free(&command);
    return rc;
}

//  After a failed start the actor only waits to be told to go away, so the
//  owner's zactor_destroy() finds the usual handshake.
static void s_wait_term(zsock_t *pipe)
{
    while (true) {
        char *command = zstr_recv(pipe);
        if (!command)
            continue;
        bool term = streq(command, "$TERM");
        zstr_free(&command);
        if (term)
            return;
    }
}

//  The instance id: "ingest-" and 12 random hex digits, new at every start
//  so the router can tell a restarted ingest from the old one.
static void s_make_instance(char *instance, size_t size)
{
    zuuid_t *uuid = zuuid_new();
    snprintf(instance, size, "ingest-%.12s", uuid ? zuuid_str(uuid) : "000000000000");
    zuuid_destroy(&uuid);
    for (char *c = instance; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

static void s_actor(zsock_t *pipe, void *args)
{
    const tg_config_t *cfg = args;
    char error[512] = "";
    char instance[64];
    char *pull_ep = NULL;
    char *ack_ep = NULL;
    s_sockets_t sockets;
    memset(&sockets, 0, sizeof sockets);
    zloop_t *loop = NULL;
    ingest_handler_t *handler = NULL;

    s_make_instance(instance, sizeof(instance));
    if (s_open_sockets(&sockets, cfg, instance, &pull_ep, &ack_ep, error, sizeof(error)) == -1)
        goto err;
    handler = ingest_handler_new(cfg, instance, sockets.ack, sockets.router);
    loop = zloop_new();
    if (!handler || !loop) {
        snprintf(error, sizeof(error), "out of memory");
        goto err;
    }
    //  Only $TERM stops us: the owner decides what a signal means.
    zloop_set_nonstop(loop, true);
    size_t expiry_ms = (size_t)ingest_handler_pending_timeout_ms(handler) / 4;
    if (expiry_ms < 10)
        expiry_ms = 10;
    if (zloop_reader(loop, pipe, s_on_pipe, handler) == -1 ||
        zloop_reader(loop, sockets.pull, s_on_pull, handler) == -1 ||
        zloop_reader(loop, sockets.ack, s_on_ack, handler) == -1 ||
        zloop_reader(loop, sockets.router, s_on_router, handler) == -1 ||
        zloop_reader(loop, tg_monitor_socket(sockets.watches[0].monitor), s_on_monitor,
                     &sockets.watches[0]) == -1 ||
        zloop_reader(loop, tg_monitor_socket(sockets.watches[1].monitor), s_on_monitor,
                     &sockets.watches[1]) == -1 ||
        zloop_reader(loop, tg_monitor_socket(sockets.watches[2].monitor), s_on_monitor,
                     &sockets.watches[2]) == -1 ||
        zloop_timer(loop, cfg->heartbeat_ms, 0, s_on_heartbeat, handler) == -1 ||
        zloop_timer(loop, expiry_ms, 0, s_on_expiry, handler) == -1) {
        snprintf(error, sizeof(error), "cannot set up the event loop");
        goto err;
    }

    zsock_signal(pipe, 0);
    zstr_sendx(pipe, "OK", pull_ep, ack_ep, instance, NULL);
    zstr_free(&pull_ep);
    zstr_free(&ack_ep);
    ingest_handler_start(handler);
    zloop_start(loop);
    zloop_destroy(&loop);
    ingest_handler_destroy(&handler);
    s_close_sockets(&sockets);
    return;

err:
    zloop_destroy(&loop);
    ingest_handler_destroy(&handler);
    s_close_sockets(&sockets);
    zstr_free(&pull_ep);
    zstr_free(&ack_ep);
    zsock_signal(pipe, 0);
    zstr_sendx(pipe, "ERROR", error, NULL);
    s_wait_term(pipe);
}

ingest_server_t *ingest_server_new(const tg_config_t *cfg, char *error, size_t errlen)
{
    assert(cfg);
    char none[1];
    if (!error) {
        error = none;
        errlen = sizeof(none);
    }
    error[0] = '\0';
    ingest_server_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(error, errlen, "out of memory");
        return NULL;
    }
    //  zactor_new returns once the actor has signalled, so cfg (read by the
    //  actor before it signals) may be the caller's stack variable.
    self->actor = zactor_new(s_actor, (void *)cfg);
    if (!self->actor) {
        snprintf(error, errlen, "cannot start the ingest thread");
        free(self);
        return NULL;
    }
    char *status = NULL;
    char *first = NULL;
    char *second = NULL;
    char *third = NULL;
    zstr_recvx(self->actor, &status, &first, &second, &third, NULL);
    if (status && streq(status, "OK") && first && second && third) {
        self->endpoint = first;
        self->ack_endpoint = second;
        self->instance = third;
        zstr_free(&status);
        return self;
    }
    snprintf(error, errlen, "%s", first ? first : "the ingest thread failed to start");
    zstr_free(&status);
    zstr_free(&first);
    zstr_free(&second);
    zstr_free(&third);
    ingest_server_destroy(&self);
    return NULL;
}

void ingest_server_destroy(ingest_server_t **self_p)
{
    assert(self_p);
    ingest_server_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->actor);
    zstr_free(&self->endpoint);
    zstr_free(&self->ack_endpoint);
    zstr_free(&self->instance);
    free(self);
    *self_p = NULL;
}

const char *ingest_server_endpoint(const ingest_server_t *self)
{
    assert(self);
    return self->endpoint;
}

const char *ingest_server_ack_endpoint(const ingest_server_t *self)
{
    assert(self);
    return self->ack_endpoint;
}

const char *ingest_server_instance(const ingest_server_t *self)
{
    assert(self);
    return self->instance;
}

int ingest_server_stats(ingest_server_t *self, ingest_stats_t *stats)
{
    assert(self);
    assert(stats);
    if (zstr_send(self->actor, "STATS") == -1)
        return -1;
    zframe_t *frame = zframe_recv(self->actor);
    int rc = -1;
    if (frame && zframe_size(frame) == sizeof(*stats)) {
        memcpy(stats, zframe_data(frame), sizeof(*stats));
        rc = 0;
    }
    zframe_destroy(&frame);
    return rc;
}
