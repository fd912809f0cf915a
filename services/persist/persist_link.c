/*  persist_link: see persist_link.h. The edge's link (services/edge/
    edge_link.c) is the model; this one runs under tg_loop, so it needs
    none of the edge's descriptor discipline: the actor's loop polls the
    DEALER level-triggered and calls persist_link_on_message per message.
*/
#include "persist_link.h"

#include <string.h>

#include "tg_alloc.h"
#include "tg_instance.h"
#include "tg_log.h"

struct _persist_link_t {
    zsock_t *dealer;                            /* borrowed: the actor's DEALER */
    persist_link_ops_t ops;                     /* the owner's callbacks */
    int64_t heartbeat_ms;                       /* cfg.heartbeat_ms */
    char router_endpoint[256];                  /* cfg.router, for log lines */
    char instance[TG_INSTANCE_MAX];             /* our id = routing id */
    char router_instance[TG_MAX_ID_STRING + 1]; /* who welcomed us, "" = nobody yet */
    bool welcomed;                              /* the router accepted our HELLO */
    bool heard;                                 /* the router sent us something */
    int64_t last_heard_ms;                      /* monotonic time of its last message */
    int64_t started_ms;                         /* monotonic time at creation */
    uint64_t bad_input;                         /* undecodable router messages */
    uint64_t resyncs;                           /* WELCOMEs handled */
    uint64_t last_req;                          /* req of our last key SUBSCRIBE */
    tg_log_limiter_t bad_log;                   /* their log lines */
};

persist_link_t *persist_link_new(const tg_config_t *cfg, const char *instance, zsock_t *dealer,
                                 const persist_link_ops_t *ops, tg_now_t now)
{
    assert(cfg && instance && dealer);
    assert(ops && ops->on_message && ops->on_welcome && ops->add_stats);
    persist_link_t *self = tg_new(persist_link_t);
    self->dealer = dealer;
    self->ops = *ops;
    self->heartbeat_ms = cfg->heartbeat_ms;
    snprintf(self->router_endpoint, sizeof self->router_endpoint, "%s", cfg->router);
    snprintf(self->instance, sizeof self->instance, "%s", instance);
    self->started_ms = now.mono_ms;
    return self;
}

void persist_link_destroy(persist_link_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

int persist_link_send(persist_link_t *self, tg_envelope_t *envelope)
{
    assert(self && envelope);
    return tg_envelope_send(envelope, self->dealer);
}

int persist_link_send_msg(persist_link_t *self, zmsg_t **msg_p)
{
    assert(self && msg_p && *msg_p);
    //  zmsg_send destroys the message only when it was sent.
    int rc = zmsg_send(msg_p, self->dealer);
    zmsg_destroy(msg_p);
    return rc == 0 ? 0 : -1;
}

int persist_link_subscribe(persist_link_t *self, const char *topic, const char *match,
                           const char *filter)
{
    assert(self && topic && match);
    tg_envelope_t *subscribe = tg_envelope_new(TG_CMD_SUBSCRIBE);
    if (++self->last_req > TG_MAX_ID)
        self->last_req = 1;
    subscribe->req = self->last_req;
    subscribe->topic = tg_strdup(topic);
    tg_check(tg_match_parse(match, &subscribe->match) == 0);
    if (filter && filter[0])
        subscribe->filter = tg_strdup(filter);
    int rc = persist_link_send(self, subscribe);
    tg_envelope_destroy(&subscribe);
    return rc;
}

int persist_link_unsubscribe(persist_link_t *self, uint64_t sub_id)
{
    assert(self && sub_id >= 1 && sub_id <= TG_MAX_ID);
    tg_envelope_t *unsubscribe = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    unsubscribe->sub_id = sub_id;
    int rc = persist_link_send(self, unsubscribe);
    tg_envelope_destroy(&unsubscribe);
    return rc;
}

bool persist_link_ready(const persist_link_t *self)
{
    assert(self);
    return self->welcomed;
}

const char *persist_link_router(const persist_link_t *self)
{
    assert(self);
    return self->router_instance;
}

uint64_t persist_link_bad_input(const persist_link_t *self)
{
    assert(self);
    return self->bad_input;
}

uint64_t persist_link_resyncs(const persist_link_t *self)
{
    assert(self);
    return self->resyncs;
}

static void s_send_hello(persist_link_t *self)
{
    tg_envelope_t *hello = tg_envelope_new(TG_CMD_HELLO);
    hello->role = tg_strdup("persist");
    hello->instance = tg_strdup(self->instance);
    if (persist_link_send(self, hello) != 0)
        tg_log_debug("persist: hello_dropped router=%s", self->router_endpoint);
    tg_envelope_destroy(&hello);
}

void persist_link_start(persist_link_t *self)
{
    assert(self);
    tg_log_debug("persist: hello instance=%s router=%s", self->instance, self->router_endpoint);
    s_send_hello(self);
}

//  The router lost (or may have lost) our state: start over with HELLO.
static void s_rehello(persist_link_t *self, const char *why)
{
    tg_log_info("persist: router resync needed reason=\"%s\" router=%s", why,
                self->router_instance);
    self->welcomed = false;
    s_send_hello(self);
}

static bool s_connected(const persist_link_t *self, int64_t now_ms)
{
    return self->heard && now_ms - self->last_heard_ms <=
                              (int64_t)PERSIST_LINK_SILENT_HEARTBEATS * self->heartbeat_ms;
}

void persist_link_heartbeat(persist_link_t *self, tg_now_t now)
{
    assert(self);
    if (self->welcomed && !s_connected(self, now.mono_ms)) {
        s_rehello(self, "router silent");
        return;
    }
    if (!self->welcomed) {
        s_send_hello(self);
        return;
    }
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    heartbeat->instance = tg_strdup(self->instance);
    //  A monotonic clock never goes back; kept at 0 should a test drive it so.
    int64_t uptime_ms = now.mono_ms - self->started_ms;
    heartbeat->uptime_ms = uptime_ms > 0 ? (uint64_t)uptime_ms : 0;
    self->ops.add_stats(self->ops.arg, heartbeat, now);
    persist_link_send(self, heartbeat); //  dropped: the router will forget and resync us
    tg_envelope_destroy(&heartbeat);
}

static void s_on_welcome(persist_link_t *self, const tg_envelope_t *welcome, tg_now_t now)
{
    bool changed = strcmp(welcome->instance, self->router_instance) != 0;
    snprintf(self->router_instance, sizeof self->router_instance, "%s", welcome->instance);
    self->welcomed = true;
    self->resyncs++;
    tg_log_info("persist: router welcomed us router=%s%s", welcome->instance,
                changed ? " (new)" : "");
    //  Every WELCOME answers a HELLO, and we only say HELLO when the router
    //  may have lost our state: re-send it whatever the instance.
    self->ops.on_welcome(self->ops.arg, now);
}

static void s_on_heartbeat(persist_link_t *self, const tg_envelope_t *heartbeat)
{
    if (!self->welcomed)
        return; //  a reply to a heartbeat from before our HELLO
    if (!heartbeat->known)
        s_rehello(self, "router forgot us");
    else if (strcmp(heartbeat->instance, self->router_instance) != 0)
        s_rehello(self, "router instance changed");
}

void persist_link_on_message(persist_link_t *self, zmsg_t **msg_p, tg_now_t now)
{
    assert(self && msg_p);
    const char *reason = NULL;
    tg_envelope_t *envelope = tg_envelope_decode(msg_p, &reason);
    if (!envelope) {
        self->bad_input++;
        tg_log_ratelimited(&self->bad_log, PERSIST_LINK_LOG_INTERVAL_MS,
                           "persist: bad_input socket=router reason=\"%s\"", reason ? reason : "?");
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
        self->ops.on_message(self->ops.arg, envelope, now);
        break;
    }
    tg_envelope_destroy(&envelope);
}
