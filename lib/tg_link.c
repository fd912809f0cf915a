/*  tg_link: see tg_link.h. */
#include "tg_link.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_log.h"

struct _tg_link_t {
    char *role;                                 /* HELLO's role, the log module */
    char *instance;                             /* our id = routing id */
    char *router;                               /* the router's endpoint, for log lines */
    int64_t heartbeat_ms;                       /* the heartbeat interval */
    tg_link_send_fn *send;                      /* the owner's socket */
    void *send_arg;                             /* its argument */
    tg_link_ops_t ops;                          /* the owner's callbacks */
    char router_instance[TG_MAX_ID_STRING + 1]; /* who welcomed us, "" = nobody yet */
    bool welcomed;                              /* the router accepted our HELLO */
    bool heard;                                 /* the router sent us something */
    int64_t last_heard_ms;                      /* monotonic time of its last message, if heard */
    int64_t started_ms;                         /* monotonic time at creation */
    uint64_t bad_input;                         /* undecodable router messages */
    uint64_t welcomes;                          /* WELCOMEs handled */
    tg_log_limiter_t bad_log;                   /* their log lines */
};

tg_link_t *tg_link_new(const tg_config_t *cfg, const char *role, const char *instance,
                       tg_link_send_fn *send, void *send_arg, const tg_link_ops_t *ops,
                       tg_now_t now)
{
    assert(cfg && cfg->heartbeat_ms > 0);
    assert(role && instance && send);
    assert(ops && ops->deliver && ops->resync && ops->add_stats);
    tg_link_t *self = tg_new(tg_link_t);
    self->role = tg_strdup(role);
    self->instance = tg_strdup(instance);
    self->router = tg_strdup(cfg->router);
    self->heartbeat_ms = cfg->heartbeat_ms;
    self->send = send;
    self->send_arg = send_arg;
    self->ops = *ops;
    self->started_ms = now.mono_ms;
    return self;
}

void tg_link_destroy(tg_link_t **self_p)
{
    assert(self_p);
    tg_link_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    free(self->role);
    free(self->instance);
    free(self->router);
    free(self);
}

bool tg_link_ready(const tg_link_t *self)
{
    assert(self);
    return self->welcomed;
}

bool tg_link_connected(const tg_link_t *self, int64_t now_ms)
{
    assert(self);
    return self->heard &&
           now_ms - self->last_heard_ms <= (int64_t)TG_LINK_SILENT_HEARTBEATS * self->heartbeat_ms;
}

const char *tg_link_router(const tg_link_t *self)
{
    assert(self);
    return self->router_instance;
}

uint64_t tg_link_bad_input(const tg_link_t *self)
{
    assert(self);
    return self->bad_input;
}

uint64_t tg_link_welcomes(const tg_link_t *self)
{
    assert(self);
    return self->welcomes;
}

//  Sends and destroys *envelope_p; a drop is the caller's to judge.
static int s_send(tg_link_t *self, tg_envelope_t **envelope_p)
{
    int rc = self->send(self->send_arg, *envelope_p);
    tg_envelope_destroy(envelope_p);
    return rc;
}

static void s_send_hello(tg_link_t *self)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = tg_strdup(self->role);
    hello->instance = tg_strdup(self->instance);
    //  Dropped (the router unreachable): the next heartbeat says it again.
    if (s_send(self, &hello) != 0)
        tg_log_debug("%s: hello_dropped router=%s", self->role, self->router);
}

void tg_link_start(tg_link_t *self)
{
    assert(self);
    tg_log_debug("%s: hello instance=%s router=%s", self->role, self->instance, self->router);
    s_send_hello(self);
}

//  The router lost (or may have lost) our state: start over with HELLO.
static void s_rehello(tg_link_t *self, const char *why)
{
    tg_log_info("%s: router resync needed reason=\"%s\" router=%s", self->role, why,
                self->router_instance);
    self->welcomed = false;
    s_send_hello(self);
}

void tg_link_heartbeat(tg_link_t *self, tg_now_t now)
{
    assert(self);
    if (!self->welcomed) {
        s_send_hello(self);
        return;
    }
    if (!tg_link_connected(self, now.mono_ms)) {
        s_rehello(self, "router silent");
        return;
    }
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = tg_strdup(self->instance);
    //  A monotonic clock never goes back; kept at 0 should a test drive it so.
    int64_t uptime_ms = now.mono_ms - self->started_ms;
    heartbeat->uptime_ms = uptime_ms > 0 ? (uint64_t)uptime_ms : 0;
    self->ops.add_stats(self->ops.arg, heartbeat, now);
    s_send(self, &heartbeat); //  dropped: the router will forget and resync us
}

static void s_on_welcome(tg_link_t *self, const tg_envelope_t *welcome, tg_now_t now)
{
    const char *instance = welcome->instance ? welcome->instance : "";
    bool changed = strcmp(instance, self->router_instance) != 0;
    snprintf(self->router_instance, sizeof self->router_instance, "%s", instance);
    self->welcomed = true;
    self->welcomes++;
    tg_log_info("%s: router welcomed us router=%s%s", self->role, instance,
                changed ? " (new)" : "");
    self->ops.resync(self->ops.arg, now);
}

static void s_on_heartbeat(tg_link_t *self, const tg_envelope_t *heartbeat)
{
    if (!self->welcomed)
        return; //  a reply to a heartbeat from before our HELLO: the HELLO is on its way
    const char *instance = heartbeat->instance ? heartbeat->instance : "";
    if (!heartbeat->known)
        s_rehello(self, "router forgot us");
    else if (strcmp(instance, self->router_instance) != 0)
        s_rehello(self, "router instance changed");
}

void tg_link_on_message(tg_link_t *self, zmsg_t **msg_p, tg_now_t now)
{
    assert(self && msg_p);
    const char *reason = NULL;
    tg_envelope_t *envelope = tg_envelope_decode(msg_p, &reason);
    if (!envelope) {
        self->bad_input++;
        tg_log_ratelimited(&self->bad_log, TG_LINK_LOG_INTERVAL_MS,
                           "%s: bad_input socket=router reason=\"%s\"", self->role,
                           reason ? reason : "?");
        return;
    }
    self->heard = true;
    self->last_heard_ms = now.mono_ms;
    switch (envelope->command) {
    case TG_CMD_WELCOME:
        s_on_welcome(self, envelope, now);
        break;
    case TG_CMD_HEARTBEAT:
        s_on_heartbeat(self, envelope);
        break;
    default:
        self->ops.deliver(self->ops.arg, envelope, now);
        break;
    }
    tg_envelope_destroy(&envelope);
}
