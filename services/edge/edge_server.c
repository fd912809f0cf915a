/*  edge_server: see edge_server.h. */
#include "edge_server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge_http.h"
#include "edge_link.h"
#include "edge_ws.h"
#include "tg_log.h"

/* Housekeeping period: subscription timeouts are checked this often. */
#define S_TICK_MS 500

struct _edge_server_t {
    const tg_config_t *cfg;          /* borrowed */
    edge_broker_t *broker;           /* sessions, subscriptions, counters */
    edge_link_t *link;               /* the router */
    struct lws_context *context;     /* the event loop */
    struct lws_vhost *vhost;         /* listening: HTTP + WAMP */
    struct lws_vhost *link_vhost;    /* not listening: the router socket's fd */
    lws_sorted_usec_list_t tick_sul; /* housekeeping timer */
    bool ticking;                    /* tick_sul is scheduled */
    volatile sig_atomic_t stopping;  /* set by edge_server_stop */
    int port;                        /* bound port */
};

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

/* Router port of the broker: through the link. */
static int s_router_send(void *arg, tg_envelope_t *envelope)
{
    edge_server_t *self = arg;
    return self->link ? edge_link_send(self->link, envelope) : -1;
}

static bool s_router_ready(void *arg)
{
    edge_server_t *self = arg;
    return self->link && edge_link_ready(self->link);
}

/* Link callbacks: to the broker. */
static void s_link_message(void *arg, tg_envelope_t *envelope)
{
    edge_server_t *self = arg;
    edge_broker_router_message(self->broker, envelope);
}

static void s_link_welcome(void *arg)
{
    edge_server_t *self = arg;
    edge_broker_resync(self->broker);
}

static void s_link_stats(void *arg, tg_envelope_t *heartbeat)
{
    edge_server_t *self = arg;
    edge_gauges_t gauges;
    edge_broker_gauges(self->broker, &gauges);
    gauges.router_connected = edge_link_connected(self->link);
    edge_metrics_add_stats(edge_broker_metrics(self->broker), &gauges, zclock_mono(), heartbeat);
}

static void s_tick(lws_sorted_usec_list_t *sul)
{
    edge_server_t *self = lws_container_of(sul, edge_server_t, tick_sul);
    edge_broker_tick(self->broker, zclock_mono());
    lws_sul_schedule(self->context, 0, &self->tick_sul, s_tick, S_TICK_MS * LWS_US_PER_MS);
}

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

static int s_create_vhosts(edge_server_t *self)
{
    const tg_config_t *cfg = self->cfg;
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
        tg_log_error("edge: cannot listen host=%s port=%d", cfg->edge_host, cfg->edge_port);
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
        tg_log_error("edge: cannot create the router link vhost");
        return -1;
    }
    return 0;
}

edge_server_t *edge_server_new(const tg_config_t *cfg)
{
    assert(cfg);
    int probe = s_probe_port(cfg->edge_host, cfg->edge_port);
    if (probe != 0) {
        tg_log_error("edge: cannot listen host=%s port=%d error=\"%s\"", cfg->edge_host,
                     cfg->edge_port, strerror(probe));
        return NULL;
    }
    edge_server_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = cfg;

    edge_router_port_t router = {s_router_send, s_router_ready, self};
    self->broker = edge_broker_new(cfg, &edge_ws_transport, &router);
    if (!self->broker)
        goto err;
    edge_link_ops_t link_ops = {s_link_message, s_link_welcome, s_link_stats, self};
    self->link = edge_link_new(cfg, &link_ops, edge_broker_metrics(self->broker),
                               edge_broker_pressure(self->broker));
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
        tg_log_error("edge: cannot create the libwebsockets context");
        goto err;
    }
    if (s_create_vhosts(self) != 0)
        goto err;
    if (edge_link_attach(self->link, self->context, self->link_vhost) != 0)
        goto err;
    lws_sul_schedule(self->context, 0, &self->tick_sul, s_tick, S_TICK_MS * LWS_US_PER_MS);
    self->ticking = true;
    return self;
err:
    edge_server_destroy(&self);
    return NULL;
}

void edge_server_destroy(edge_server_t **self_p)
{
    assert(self_p);
    edge_server_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    /* Timers live in the context: cancel them while it exists. */
    if (self->ticking)
        lws_sul_cancel(&self->tick_sul);
    if (self->link)
        edge_link_detach(self->link);
    /* Closes every connection: each session is freed in its CLOSED
       callback, which still needs the broker and the link. */
    if (self->context)
        lws_context_destroy(self->context);
    edge_broker_destroy(&self->broker);
    edge_link_destroy(&self->link);
    free(self);
}

/* Shutdown: every session closes with 1001 "going away" (clients see a
   clean close and reconnect elsewhere) instead of the bare TCP close of
   lws_context_destroy() (1006). Bounded: each connection is dropped
   EDGE_WS_CLOSE_MS after its close began, and the loop always has a timer
   due within S_TICK_MS to check the deadline. */
static void s_close_sessions(edge_server_t *self)
{
    if (edge_broker_session_count(self->broker) == 0)
        return;
    tg_log_info("edge: closing sessions=%zu", edge_broker_session_count(self->broker));
    edge_ws_close_all(self->vhost);
    int64_t deadline = zclock_mono() + EDGE_WS_CLOSE_MS + S_TICK_MS;
    while (edge_broker_session_count(self->broker) > 0 && zclock_mono() < deadline)
        if (lws_service(self->context, 0) < 0)
            break;
}

int edge_server_run(edge_server_t *self)
{
    assert(self);
    while (!self->stopping)
        if (lws_service(self->context, 0) < 0) {
            if (!self->stopping)
                return -1;
            break;
        }
    s_close_sessions(self);
    return 0;
}

void edge_server_stop(edge_server_t *self)
{
    self->stopping = 1;
    if (self->context)
        lws_cancel_service(self->context);
}

bool edge_server_stopping(const edge_server_t *self)
{
    return self->stopping != 0;
}

int edge_server_port(const edge_server_t *self)
{
    return self->port;
}

edge_server_t *edge_server_from_wsi(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

edge_broker_t *edge_server_broker(edge_server_t *self)
{
    return self->broker;
}

bool edge_server_router_connected(const edge_server_t *self)
{
    return self->link && edge_link_connected(self->link);
}

void edge_server_render_metrics(edge_server_t *self, tg_buf_t *out)
{
    edge_gauges_t gauges;
    edge_broker_gauges(self->broker, &gauges);
    gauges.router_connected = edge_server_router_connected(self);
    edge_metrics_render(edge_broker_metrics(self->broker), &gauges, out);
}
