/*  tg_monitor: ZeroMQ socket events as MONITOR envelopes. See tg_monitor.h.
 */
#include "tg_monitor.h"
#include "tg_log.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

struct _tg_monitor_t {
    zsock_t *pair;  /* PAIR connected to the monitored socket's monitor */
    void *watched;  /* borrowed: the monitored libzmq socket */
    char *role;     /* copied into every envelope */
    char *instance; /* idem */
    uint64_t bad;   /* messages that were not a monitor event */
    tg_log_limiter_t bad_log;
};

/* Makes every monitor's inproc endpoint unique across the process (several
   monitors per process, several actors per test binary). */
static atomic_uint_fast64_t s_next_id = 1;

tg_monitor_t *tg_monitor_new(zsock_t *sock, const char *role, const char *instance)
{
    assert(sock && role && instance);
    tg_monitor_t *self = (tg_monitor_t *)zmalloc(sizeof(tg_monitor_t));
    self->role = strdup(role);
    self->instance = strdup(instance);
    char endpoint[96];
    snprintf(endpoint, sizeof endpoint, "inproc://tg-monitor-%d-%llu", (int)getpid(),
             (unsigned long long)atomic_fetch_add(&s_next_id, 1));
    if (zmq_socket_monitor(zsock_resolve(sock), endpoint, TG_MONITOR_EVENTS) != 0) {
        tg_log_error("monitor: attach failed role=%s error=\"%s\"", role,
                     zmq_strerror(zmq_errno()));
        tg_monitor_destroy(&self);
        return NULL;
    }
    self->watched = zsock_resolve(sock);
    self->pair = zsock_new(ZMQ_PAIR);
    /* libzmq sends monitor events blocking, from its I/O thread: a full
       pipe would stall every socket of the process. Give the pipe room
       (over inproc both sides' HWMs add up, set before connect); owners
       still drain it promptly. */
    if (self->pair)
        zsock_set_rcvhwm(self->pair, TG_MONITOR_HWM);
    if (!self->pair || zsock_connect(self->pair, "%s", endpoint) != 0) {
        tg_log_error("monitor: connect failed endpoint=%s", endpoint);
        tg_monitor_destroy(&self);
        return NULL;
    }
    zsock_set_linger(self->pair, 0);
    zsock_set_rcvtimeo(self->pair, 0); /* tg_monitor_recv never blocks */
    return self;
}

void tg_monitor_destroy(tg_monitor_t **self_p)
{
    assert(self_p);
    tg_monitor_t *self = *self_p;
    if (!self)
        return;
    /* Stop libzmq's side first: its monitor socket would otherwise outlive
       our PAIR and hold the watched socket's close. */
    if (self->watched)
        zmq_socket_monitor(self->watched, NULL, 0);
    zsock_destroy(&self->pair);
    free(self->role);
    free(self->instance);
    free(self);
    *self_p = NULL;
}

zsock_t *tg_monitor_socket(tg_monitor_t *self)
{
    assert(self);
    return self->pair;
}

uint64_t tg_monitor_bad(const tg_monitor_t *self)
{
    assert(self);
    return self->bad;
}

const char *tg_monitor_event_name(uint16_t event)
{
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        return "connected";
    case ZMQ_EVENT_CONNECT_DELAYED:
        return "connect_delayed";
    case ZMQ_EVENT_CONNECT_RETRIED:
        return "connect_retried";
    case ZMQ_EVENT_LISTENING:
        return "listening";
    case ZMQ_EVENT_BIND_FAILED:
        return "bind_failed";
    case ZMQ_EVENT_ACCEPTED:
        return "accepted";
    case ZMQ_EVENT_ACCEPT_FAILED:
        return "accept_failed";
    case ZMQ_EVENT_CLOSED:
        return "closed";
    case ZMQ_EVENT_CLOSE_FAILED:
        return "close_failed";
    case ZMQ_EVENT_DISCONNECTED:
        return "disconnected";
    case ZMQ_EVENT_MONITOR_STOPPED:
        return "monitor_stopped";
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        return "handshake_failed";
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        return "handshake_succeeded";
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return "handshake_failed_protocol";
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        return "handshake_failed_auth";
    default:
        return "unknown";
    }
}

tg_envelope_t *tg_monitor_decode(zmsg_t **msg_p, const char *role, const char *instance,
                                 uint64_t ts)
{
    assert(msg_p && role && instance);
    zmsg_t *msg = *msg_p;
    tg_envelope_t *env = NULL;
    if (!msg || zmsg_size(msg) != 2)
        goto done;
    zframe_t *head = zmsg_first(msg);
    zframe_t *where = zmsg_next(msg);
    if (zframe_size(head) != 6 || zframe_size(where) > TG_MAX_TOPIC)
        goto done;
    uint16_t event;
    uint32_t value;
    memcpy(&event, zframe_data(head), sizeof event);
    memcpy(&value, zframe_data(head) + 2, sizeof value);
    if (zframe_size(where) > 0 && memchr(zframe_data(where), '\0', zframe_size(where)))
        goto done;
    env = tg_envelope_new(TG_CMD_MONITOR);
    env->role = strndup(role, TG_MAX_ID_STRING);
    env->instance = strndup(instance, TG_MAX_ID_STRING);
    env->endpoint = zframe_strdup(where);
    env->event_name = strdup(tg_monitor_event_name(event));
    /* The value is an fd, an errno or an interval: small, never negative in
       practice, but carried signed so -1 style values survive. */
    env->value = (int32_t)value;
    env->ts = ts;
done:
    zmsg_destroy(msg_p);
    return env;
}

tg_envelope_t *tg_monitor_recv(tg_monitor_t *self, int64_t now_wall_us)
{
    assert(self);
    while (true) {
        zmsg_t *msg = zmsg_recv(self->pair);
        if (!msg)
            return NULL;
        tg_envelope_t *env = tg_monitor_decode(&msg, self->role, self->instance,
                                               now_wall_us > 0 ? (uint64_t)now_wall_us : 0);
        if (env)
            return env;
        self->bad++;
        tg_log_ratelimited(&self->bad_log, 10000, "monitor: bad message role=%s", self->role);
    }
}
