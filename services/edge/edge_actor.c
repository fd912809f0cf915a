/*  edge_actor: see edge_actor.h.

    Why libwebsockets' loop, not tg_loop. Every other service runs on
    tg_loop (zmq_poll). The edge's work is its WebSockets, and lws owns
    their descriptors, its timers (lws_sul) and its write scheduling
    (WRITEABLE callbacks); lws 4.1 has no hook to be driven from someone
    else's poll. So the edge is the one exception: the lws service loop is
    its loop, and the ZeroMQ side is brought into it instead, by adopting
    descriptors (the router DEALER in edge_link, the actor pipe here).
    The rules of tg_loop still hold: one thread owns everything; each
    entry from the loop (an lws callback, an adopted descriptor's wake-up,
    an lws_sul timer) reads tg_clock_read() once and passes the tg_now_t
    down; nothing below reads a clock.

    How $TERM reaches the loop. tg_actor_destroy() sends "$TERM" on the
    actor pipe from the destroying thread and waits. We adopt a dup() of
    the pipe's ZMQ_FD into lws as a raw file, like the router socket
    (edge_adopt.h, NOTES.md): ZMQ_FD is edge-triggered, so a wake-up means
    "check", and we read until ZMQ_EVENTS lacks ZMQ_POLLIN; run() checks once before
    serving, as tg_actor's own READY send on the pipe may have consumed the
    signal. The alternative, lws_cancel_service() from the destroying
    thread, would need a hook in tg_actor (which knows nothing of lws) and
    a flag shared between threads; the pipe keeps the stop on the actor's
    thread, through the mechanism the link already uses.
*/
#include "edge_actor.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge_adopt.h"
#include "edge_http.h"
#include "edge_link.h"
#include "edge_ws.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_instance.h"
#include "tg_log.h"

/* Housekeeping period: subscription timeouts are checked this often. */
#define S_TICK_MS 500
/* The protocol of the adopted actor pipe, on the non-listening vhost. */
#define S_PIPE_PROTOCOL "telegraphy-pipe"

struct _edge_actor_t {
    tg_config_t cfg;                 /* a copy: tg_actor's args do not outlive the start */
    zsock_t *pipe;                   /* borrowed from tg_actor: $TERM arrives here */
    char instance[TG_INSTANCE_MAX];  /* our instance id, the router's routing id for us */
    edge_broker_t *broker;           /* sessions, subscriptions, counters */
    edge_link_t *link;               /* the router */
    struct lws_context *context;     /* the event loop */
    struct lws_vhost *vhost;         /* listening: HTTP + WAMP */
    struct lws_vhost *link_vhost;    /* not listening: the router socket's and the pipe's fds */
    struct lws *pipe_wsi;            /* the adopted dup of the pipe's ZMQ_FD, NULL once closed */
    lws_sorted_usec_list_t tick_sul; /* housekeeping timer */
    bool ticking;                    /* tick_sul is scheduled */
    bool stopping;                   /* $TERM arrived */
    int port;                        /* bound port */
    char *allowed_origins;           /* owned: TELEGRAPHY_ALLOWED_ORIGINS, NULL = same host name */
};

static int s_pipe_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len);

/* protocols[0] is the HTTP handler; then the subprotocols, in the order
   a client's offer is matched. lws keeps pointers into these arrays. */
static const struct lws_protocols s_protocols[] = {
    {"http", edge_http_callback, 0, 0, 0, NULL, 0},
    {EDGE_WS_JSON, edge_ws_callback, sizeof(edge_ws_conn_t), EDGE_WS_RX_BYTES, 0, NULL,
     EDGE_WS_BATCH_BYTES},
    {EDGE_WS_MSGPACK, edge_ws_callback, sizeof(edge_ws_conn_t), EDGE_WS_RX_BYTES, 1, NULL,
     EDGE_WS_BATCH_BYTES},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_protocols s_link_protocols[] = {
    {EDGE_LINK_PROTOCOL, edge_link_callback, 0, 0, 0, NULL, 0},
    {S_PIPE_PROTOCOL, s_pipe_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws's own log lines (errors and warnings), through ours and rate
   limited: clients can provoke them (e.g. a refused upgrade). */
static tg_log_limiter_t s_lws_limiter;

static void s_lws_log(int level, const char *line)
{
    (void)level;
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    tg_log_ratelimited(&s_lws_limiter, 10000, "edge: lws %.*s", (int)len, line);
}

/* --- the broker's router port, the link's owner callbacks ---------------- */

static int s_router_send(void *arg, tg_envelope_t *envelope)
{
    edge_actor_t *self = arg;
    return self->link ? edge_link_send(self->link, envelope) : -1;
}

static bool s_router_ready(void *arg)
{
    edge_actor_t *self = arg;
    return self->link && edge_link_ready(self->link);
}

static void s_link_message(void *arg, tg_envelope_t *envelope, tg_now_t now)
{
    edge_actor_t *self = arg;
    edge_broker_router_message(self->broker, envelope, now);
}

static void s_link_welcome(void *arg, tg_now_t now)
{
    edge_actor_t *self = arg;
    edge_broker_resync(self->broker, now);
}

static void s_link_stats(void *arg, tg_envelope_t *heartbeat, tg_now_t now)
{
    edge_actor_t *self = arg;
    edge_gauges_t gauges;
    edge_broker_gauges(self->broker, &gauges);
    gauges.router_connected = edge_link_connected(self->link, now.mono_ms);
    edge_metrics_add_stats(edge_broker_metrics(self->broker), &gauges, now.mono_ms, heartbeat);
}

/* The housekeeping timer: an entry from the loop. */
static void s_tick(lws_sorted_usec_list_t *sul)
{
    edge_actor_t *self = lws_container_of(sul, edge_actor_t, tick_sul);
    edge_broker_tick(self->broker, tg_clock_read());
    lws_sul_schedule(self->context, 0, &self->tick_sul, s_tick, S_TICK_MS * LWS_US_PER_MS);
}

/* --- the actor pipe -------------------------------------------------------- */

/* Reads every message waiting on the pipe (edge-triggered ZMQ_FD: until
   ZMQ_EVENTS lacks POLLIN). $TERM stops the loop; nothing else is
   expected. */
static void s_pipe_drain(edge_actor_t *self)
{
    while (zsock_events(self->pipe) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(self->pipe);
        if (!msg)
            return;
        char *command = zmsg_popstr(msg);
        if (command && streq(command, "$TERM"))
            self->stopping = true;
        else
            tg_log_warning("edge: unexpected actor command command=%s", command ? command : "");
        free(command);
        zmsg_destroy(&msg);
    }
}

static int s_pipe_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    edge_actor_t *self = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (self)
            s_pipe_drain(self);
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (self)
            self->pipe_wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

/* --- listening ------------------------------------------------------------- */

/* The interface to bind: NULL (all) for the wildcard spellings. */
static const char *s_iface(const char *host)
{
    if (!host[0] || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 ||
        strcmp(host, "::") == 0)
        return NULL;
    return host;
}

/* Tries to bind host:port ourselves first, so that a port in use is
   reported plainly (lws only logs a generic failure). Returns 0 when the
   port looks free, or the errno of the failure. */
static int s_probe_port(const char *host, int port)
{
    bool v6 = strchr(host, ':') != NULL;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0; /* cannot tell; let lws try */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc = 0;
    if (v6) {
        struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 &&
            bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
            rc = errno;
    } else {
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        const char *iface = s_iface(host);
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
        if ((!iface || inet_pton(AF_INET, iface, &addr.sin_addr) == 1) &&
            bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
            rc = errno;
    }
    close(fd);
    return rc;
}

static int s_create_vhosts(edge_actor_t *self, char *error, size_t error_size)
{
    const tg_config_t *cfg = &self->cfg;
    bool v6 = strchr(cfg->edge_host, ':') != NULL;
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof(info));
    info.vhost_name = "edge";
    info.port = cfg->edge_port;
    info.iface = s_iface(cfg->edge_host);
    info.protocols = s_protocols;
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    if (!v6)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    self->vhost = lws_create_vhost(self->context, &info);
    if (!self->vhost) {
        snprintf(error, error_size, "edge: cannot listen host=%s port=%d", cfg->edge_host,
                 cfg->edge_port);
        return -1;
    }
    self->port = lws_get_vhost_listen_port(self->vhost);

    memset(&info, 0, sizeof(info));
    info.vhost_name = "router-link";
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_link_protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    self->link_vhost = lws_create_vhost(self->context, &info);
    if (!self->link_vhost) {
        snprintf(error, error_size, "edge: cannot create the router link vhost");
        return -1;
    }
    return 0;
}

/* --- the actor's life ------------------------------------------------------ */

static void s_destroy(void **state_p)
{
    edge_actor_t *self = *state_p;
    if (!self)
        return;
    *state_p = NULL;
    /* Timers live in the context: cancel them while it exists. */
    if (self->ticking)
        lws_sul_cancel(&self->tick_sul);
    if (self->link)
        edge_link_detach(self->link);
    /* Closes every connection (each session is freed in its CLOSED
       callback, which still needs the broker and the link) and the
       adopted descriptors. */
    if (self->context)
        lws_context_destroy(self->context);
    edge_broker_destroy(&self->broker);
    edge_link_destroy(&self->link);
    free(self->allowed_origins);
    free(self);
}

/* Builds everything on the actor's thread; the start is an entry from
   the loop too: it reads the clock once. */
static void *s_create(zsock_t *pipe, const void *args, tg_actor_ready_t *ready, char *error,
                      size_t error_size)
{
    const tg_config_t *cfg = args;
    tg_now_t now = tg_clock_read();
    int probe = s_probe_port(cfg->edge_host, cfg->edge_port);
    if (probe != 0) {
        snprintf(error, error_size, "edge: cannot listen host=%s port=%d error=\"%s\"",
                 cfg->edge_host, cfg->edge_port, strerror(probe));
        return NULL;
    }
    edge_actor_t *self = tg_new(edge_actor_t);
    self->cfg = *cfg;
    self->pipe = pipe;
    tg_instance_new("edge", self->instance, sizeof(self->instance));
    self->allowed_origins = cfg->allowed_origins[0] ? tg_strdup(cfg->allowed_origins) : NULL;

    edge_router_port_t router = {s_router_send, s_router_ready, self, self->instance};
    self->broker = edge_broker_new(&self->cfg, &edge_ws_transport, &router);
    edge_link_ops_t link_ops = {s_link_message, s_link_welcome, s_link_stats, self};
    self->link =
        edge_link_new(&self->cfg, self->instance, &link_ops, edge_broker_metrics(self->broker),
                      edge_broker_pressure(self->broker), now, error, error_size);
    if (!self->link)
        goto err;

    lws_set_log_level(LLL_ERR | LLL_WARN, s_lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.gid = -1;
    info.uid = -1;
    info.user = self;
    self->context = lws_create_context(&info);
    if (!self->context) {
        snprintf(error, error_size, "edge: cannot create the libwebsockets context");
        goto err;
    }
    if (s_create_vhosts(self, error, error_size) != 0)
        goto err;
    if (edge_link_attach(self->link, self->context, self->link_vhost, now, error, error_size) != 0)
        goto err;
    self->pipe_wsi = edge_adopt_zsock(self->link_vhost, S_PIPE_PROTOCOL, self->pipe, self,
                                      "actor pipe", error, error_size);
    if (!self->pipe_wsi)
        goto err;
    lws_sul_schedule(self->context, 0, &self->tick_sul, s_tick, S_TICK_MS * LWS_US_PER_MS);
    self->ticking = true;

    char port[16];
    snprintf(port, sizeof(port), "%d", self->port);
    tg_actor_ready_add(ready, "port", port);
    tg_actor_ready_add(ready, "instance", self->instance);
    return self;
err:
    s_destroy((void **)&self);
    return NULL;
}

/* Shutdown: every session closes with 1001 "going away" (clients see a
   clean close and reconnect elsewhere) instead of the bare TCP close of
   lws_context_destroy() (1006). Bounded: each connection is dropped
   EDGE_WS_CLOSE_MS after its close began, and the loop always has a timer
   due within S_TICK_MS to check the deadline. This loop reads the clock
   once per turn, like the main one's callbacks. */
static void s_close_sessions(edge_actor_t *self)
{
    if (edge_broker_session_count(self->broker) == 0)
        return;
    tg_log_info("edge: closing sessions=%zu", edge_broker_session_count(self->broker));
    edge_ws_close_all(self->vhost);
    int64_t deadline_ms = tg_clock_read().mono_ms + EDGE_WS_CLOSE_MS + S_TICK_MS;
    while (edge_broker_session_count(self->broker) > 0 && tg_clock_read().mono_ms < deadline_ms)
        if (lws_service(self->context, 0) < 0)
            break;
}

/* Serves until $TERM, then closes the sessions cleanly. */
static void s_run(void *state)
{
    edge_actor_t *self = state;
    /* tg_actor's READY went out on the pipe after create: that send may
       have consumed the descriptor's signal of a $TERM already waiting. */
    s_pipe_drain(self);
    while (!self->stopping)
        if (lws_service(self->context, 0) < 0) {
            /* The loop itself broke: nothing more will be served. Stop the
               process as a signal would (main waits in tg_signal_wait). */
            tg_log_error("edge: event loop failed, stopping");
            kill(getpid(), SIGTERM);
            break;
        }
    s_close_sessions(self);
}

const tg_actor_class_t edge_actor_class = {"edge", s_create, s_run, s_destroy};

/* --- for the lws callbacks -------------------------------------------------- */

edge_actor_t *edge_actor_from_wsi(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

edge_broker_t *edge_actor_broker(edge_actor_t *self)
{
    return self->broker;
}

const char *edge_actor_allowed_origins(const edge_actor_t *self)
{
    return self->allowed_origins;
}

bool edge_actor_stopping(const edge_actor_t *self)
{
    return self->stopping;
}

bool edge_actor_router_connected(const edge_actor_t *self, int64_t now_ms)
{
    return self->link && edge_link_connected(self->link, now_ms);
}

void edge_actor_render_metrics(edge_actor_t *self, int64_t now_ms, tg_buf_t *out)
{
    edge_gauges_t gauges;
    edge_broker_gauges(self->broker, &gauges);
    gauges.router_connected = edge_actor_router_connected(self, now_ms);
    edge_metrics_render(edge_broker_metrics(self->broker), &gauges, out);
}
