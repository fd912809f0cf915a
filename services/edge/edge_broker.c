/*  edge_broker: see edge_broker.h. */
#include "edge_broker.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "edge_auth.h"
#include "edge_durable.h"
#include "edge_fanout.h"
#include "edge_wamp.h"
#include "tg_alloc.h"
#include "tg_log.h"
#include "tg_wamp.h"

struct _edge_broker_t {
    const tg_config_t *cfg;                        /* borrowed */
    const edge_transport_t *transport;             /* borrowed, handed to every session */
    edge_router_port_t router;                     /* the way to the router */
    tg_registry_t *registry;                       /* copy of the router's event types */
    edge_subs_t *subs;                             /* local subscription table */
    edge_fanout_t *fanout;                         /* EVENT delivery scratch */
    edge_auth_t *auth;                             /* ticket authentication */
    edge_durables_t *durables;                     /* persistent / `_since` records by req */
    edge_metrics_t metrics;                        /* counters */
    edge_pressure_t pressure;                      /* session queues -> router link */
    size_t session_count;                          /* sessions open */
    uint64_t next_req;                             /* last request id sent to the router */
    tg_log_limiter_t bad_limiters[EDGE_BAD_COUNT]; /* one log line per kind per interval */
    tg_log_limiter_t refused_limiter;              /* max_sessions refusals */
    tg_log_limiter_t resync_limiter;               /* keys the router refused at resync */
    int64_t next_retry_ms;                         /* when resyncing keys are re-sent next */
};

/* How often a kind of bad input may be logged. */
#define S_LOG_INTERVAL_MS 10000

edge_broker_t *edge_broker_new(const tg_config_t *cfg, const edge_transport_t *transport,
                               const edge_router_port_t *router)
{
    assert(cfg);
    assert(transport);
    assert(router && router->send && router->ready);
    edge_broker_t *self = tg_new(edge_broker_t);
    self->cfg = cfg;
    self->transport = transport;
    self->router = *router;
    edge_metrics_init(&self->metrics);
    edge_pressure_init(&self->pressure);
    self->registry = tg_registry_new();
    self->subs = edge_subs_new();
    self->fanout = edge_fanout_new();
    self->auth = edge_auth_new(cfg, router, &self->metrics);
    self->durables = edge_durables_new();
    return self;
}

void edge_broker_destroy(edge_broker_t **self_p)
{
    assert(self_p);
    edge_broker_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    assert(self->session_count == 0);
    edge_durables_destroy(&self->durables);
    edge_auth_destroy(&self->auth);
    edge_fanout_destroy(&self->fanout);
    edge_subs_destroy(&self->subs);
    tg_registry_destroy(&self->registry);
    free(self);
}

edge_session_t *edge_broker_session_open(edge_broker_t *self, tg_wamp_serializer_t serializer,
                                         void *handle)
{
    assert(self);
    if (self->session_count >= self->cfg->max_sessions) {
        self->metrics.sessions_refused++;
        tg_log_ratelimited(&self->refused_limiter, S_LOG_INTERVAL_MS,
                           "edge: session refused reason=max_sessions max_sessions=%u",
                           self->cfg->max_sessions);
        return NULL;
    }
    edge_session_t *session =
        edge_session_new(serializer, self->cfg->session_queue, self->transport, handle,
                         &self->metrics, &self->pressure);
    self->session_count++;
    return session;
}

void edge_broker_session_input(edge_broker_t *self, edge_session_t *session, const void *data,
                               size_t size, bool binary, tg_now_t now)
{
    assert(self);
    assert(session);
    edge_wamp_input(self, session, data, size, binary, now);
}

void edge_broker_session_reject(edge_broker_t *self, edge_session_t *session, edge_bad_input_t kind,
                                const char *message, int close_code)
{
    assert(self);
    assert(session);
    if (session->state == EDGE_SESSION_CLOSING)
        return;
    if ((int)kind >= 0 && kind < EDGE_BAD_COUNT) {
        self->metrics.bad_input[kind]++;
        tg_log_ratelimited(&self->bad_limiters[kind], S_LOG_INTERVAL_MS,
                           "edge: bad input kind=%s session=%llu reason=\"%s\"",
                           edge_bad_input_name(kind), (unsigned long long)session->id, message);
    }
    edge_session_abort(session, "wamp.error.protocol_violation", message, close_code);
}

/* Sends SUBSCRIBE for an entry with a fresh request id. On a failed send
   the entry keeps no request: the next WELCOME (resync) sends it. */
static void s_send_subscribe(edge_broker_t *self, edge_sub_t *sub)
{
    uint64_t req = ++self->next_req;
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_SUBSCRIBE);
    envelope->req = req;
    envelope->topic = tg_strdup(edge_sub_topic(sub));
    envelope->match = edge_sub_match(sub);
    envelope->filter = edge_sub_filter(sub) ? tg_strdup(edge_sub_filter(sub)) : NULL;
    edge_subs_set_request(self->subs, sub, req);
    if (self->router.send(self->router.arg, envelope) != 0) {
        edge_subs_set_request(self->subs, sub, 0);
        tg_log_debug("edge: subscribe not sent topic=%s (router unreachable)", edge_sub_topic(sub));
    }
    tg_envelope_destroy(&envelope);
}

static void s_send_unsubscribe(edge_broker_t *self, uint64_t sub_id)
{
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_UNSUBSCRIBE);
    envelope->sub_id = sub_id;
    /* A lost UNSUBSCRIBE only costs the router some useless matching until
       it expires this edge or the next resync: nothing to retry. */
    self->router.send(self->router.arg, envelope);
    tg_envelope_destroy(&envelope);
}

/* Drops an entry nobody holds or waits for. A LIVE one is released at the
   router too; a PENDING one with a request in flight stays until the
   router answers (or it goes stale), so the key is never sent twice. */
static void s_release_if_unused(edge_broker_t *self, edge_sub_t *sub, int64_t now_ms)
{
    if (!edge_sub_unused(sub))
        return;
    if (edge_sub_state(sub) == EDGE_SUB_LIVE) {
        /* A durable SUBSCRIBE of the key waiting for its answer makes the
           router hold it for us too: the durable record releases it. */
        if (!edge_durables_key_waited(self->durables, edge_sub_id(sub)))
            s_send_unsubscribe(self, edge_sub_id(sub));
        edge_subs_remove(self->subs, sub);
    } else if (edge_sub_request(sub) == 0 ||
               edge_sub_deadline(sub) + EDGE_SUBSCRIBE_TIMEOUT_MS <= now_ms) {
        edge_subs_remove(self->subs, sub);
    }
}

/* Too many subscriptions: live ones plus those waiting for the router. */
static bool s_at_limit(const edge_broker_t *self, const edge_session_t *session)
{
    return (uint64_t)session->subs.count + edge_session_pending(session) >=
           self->cfg->max_subscriptions;
}

static void s_reply_subscribed(edge_session_t *session, int64_t request, uint64_t sub_id)
{
    json_t *reply = tg_wamp_subscribed(request, (int64_t)sub_id);
    if (reply) {
        edge_session_send(session, reply);
        json_decref(reply);
    }
}

void edge_broker_subscribe(edge_broker_t *self, edge_session_t *session, int64_t request,
                           tg_match_t match, const char *topic, const char *filter, tg_now_t now)
{
    assert(self);
    assert(session);
    assert(topic);
    edge_sub_t *sub = edge_subs_lookup(self->subs, match, topic, filter);
    bool member = sub && edge_sub_state(sub) == EDGE_SUB_LIVE &&
                  edge_subs_refs_has(&session->subs, edge_sub_id(sub));
    /* A resyncing key is not at the router: a newcomer waits for the
       router's answer like on a pending key (SUBSCRIBED means live). */
    if (sub && edge_sub_state(sub) == EDGE_SUB_LIVE && (member || !edge_sub_resyncing(sub))) {
        /* The router already has it: live at once, same id (a second
           SUBSCRIBE of the same key by a session is answered the same). */
        if (!member && s_at_limit(self, session)) {
            edge_session_send_error(session, TG_WAMP_SUBSCRIBE, request,
                                    "telegraphy.error.too_many_subscriptions",
                                    "too many subscriptions in this session");
            return;
        }
        edge_subs_join(self->subs, sub, session, &session->subs);
        s_reply_subscribed(session, request, edge_sub_id(sub));
        return;
    }
    if (s_at_limit(self, session)) {
        edge_session_send_error(session, TG_WAMP_SUBSCRIBE, request,
                                "telegraphy.error.too_many_subscriptions",
                                "too many subscriptions in this session");
        return;
    }
    int64_t now_ms = now.mono_ms;
    if (!sub)
        sub =
            edge_subs_insert(self->subs, match, topic, filter, now_ms + EDGE_SUBSCRIBE_TIMEOUT_MS);
    size_t waiting = 0;
    edge_sub_waiters(sub, &waiting);
    /* A request already in flight for waiters that left is still good
       unless it went stale; otherwise ask (again). */
    bool stale = edge_sub_deadline(sub) <= now_ms;
    edge_subs_add_waiter(sub, session, request);
    edge_session_pending_add(session);
    if (waiting == 0) {
        edge_subs_set_deadline(sub, now_ms + EDGE_SUBSCRIBE_TIMEOUT_MS);
        if ((edge_sub_request(sub) == 0 || stale) && self->router.ready(self->router.arg))
            s_send_subscribe(self, sub);
    }
}

void edge_broker_unsubscribe(edge_broker_t *self, edge_session_t *session, int64_t request,
                             int64_t subscription, tg_now_t now)
{
    assert(self);
    assert(session);
    edge_sub_t *sub = NULL;
    if (subscription > 0 && session->durables)
        edge_durable_unsubscribe(self, session, (uint64_t)subscription);
    if (subscription > 0)
        sub = edge_subs_leave(self->subs, &session->subs, (uint64_t)subscription);
    if (!sub) {
        edge_session_send_error(session, TG_WAMP_UNSUBSCRIBE, request,
                                "wamp.error.no_such_subscription",
                                "no such subscription in this session");
        return;
    }
    json_t *reply = tg_wamp_unsubscribed(request);
    if (reply) {
        edge_session_send(session, reply);
        json_decref(reply);
    }
    s_release_if_unused(self, sub, now.mono_ms);
}

/* Answers every waiter of an entry with ERROR and forgets them. */
static void s_fail_waiters(edge_sub_t *sub, const char *error, const char *message)
{
    size_t count = 0;
    const edge_sub_waiter_t *waiters = edge_sub_waiters(sub, &count);
    for (size_t i = 0; i < count; i++) {
        edge_session_send_error(waiters[i].session, TG_WAMP_SUBSCRIBE, waiters[i].request, error,
                                message);
        edge_session_pending_done(waiters[i].session);
    }
    edge_subs_clear_waiters(sub);
}

static void s_on_subscribed(edge_broker_t *self, const tg_envelope_t *envelope, int64_t now_ms)
{
    edge_sub_t *sub = edge_subs_find_req(self->subs, envelope->req);
    if (!sub) {
        tg_log_debug("edge: late or unknown SUBSCRIBED req=%llu ignored",
                     (unsigned long long)envelope->req);
        return;
    }
    edge_subs_set_request(self->subs, sub, 0);
    if (envelope->sub_id == 0 || envelope->sub_id > TG_MAX_ID ||
        edge_subs_set_live(self->subs, sub, envelope->sub_id) != 0) {
        /* Two keys with one id (or a bad id): the router's collision check
           failed; never mix two subscriptions' events. */
        self->metrics.bad_input[EDGE_BAD_INTERNAL]++;
        tg_log_error("edge: SUBSCRIBED with unusable sub_id=%llu topic=%s",
                     (unsigned long long)envelope->sub_id, edge_sub_topic(sub));
        s_fail_waiters(sub, "telegraphy.error.unavailable", "subscription id conflict");
        s_release_if_unused(self, sub, now_ms);
        return;
    }
    if (edge_sub_resyncing(sub)) {
        edge_subs_set_resyncing(self->subs, sub, false);
        tg_log_info("edge: router accepted resync topic=%s", edge_sub_topic(sub));
    }
    size_t count = 0;
    const edge_sub_waiter_t *waiters = edge_sub_waiters(sub, &count);
    for (size_t i = 0; i < count; i++) {
        edge_session_t *session = waiters[i].session;
        edge_session_pending_done(session);
        edge_subs_join(self->subs, sub, session, &session->subs);
        s_reply_subscribed(session, waiters[i].request, envelope->sub_id);
    }
    edge_subs_clear_waiters(sub);
    s_release_if_unused(self, sub, now_ms);
}

static void s_on_subscribe_error(edge_broker_t *self, const tg_envelope_t *envelope, int64_t now_ms)
{
    edge_sub_t *sub = edge_subs_find_req(self->subs, envelope->req);
    if (!sub)
        return;
    edge_subs_set_request(self->subs, sub, 0);
    const char *error = envelope->error ? envelope->error : "telegraphy.error.unavailable";
    s_fail_waiters(sub, error, envelope->message);
    if (edge_sub_state(sub) == EDGE_SUB_LIVE) {
        /* A resync refused, typically unknown_event: the restarted router
           heard our SUBSCRIBE before the ingest re-registered the type.
           The sessions keep their subscription and notice nothing; the
           key is asked again on every heartbeat tick, and at once when the
           type's REGISTER comes, until the router accepts it. */
        if (edge_sub_unused(sub)) {
            s_release_if_unused(self, sub, now_ms);
        } else {
            edge_subs_set_resyncing(self->subs, sub, true);
            tg_log_ratelimited(&self->resync_limiter, S_LOG_INTERVAL_MS,
                               "edge: router refused resync, retrying topic=%s error=%s "
                               "resyncing=%zu",
                               edge_sub_topic(sub), error, edge_subs_resyncing_count(self->subs));
        }
    } else {
        edge_subs_remove(self->subs, sub);
    }
}

/* A type the router now knows: its exact key, if refused at resync
   (unknown_event, most likely), is asked again now rather than at the next
   heartbeat tick. */
static void s_retry_registered(edge_broker_t *self, const char *name)
{
    if (!name || edge_subs_resyncing_count(self->subs) == 0 ||
        !self->router.ready(self->router.arg))
        return;
    edge_sub_t *sub = edge_subs_lookup(self->subs, TG_MATCH_EXACT, name, NULL);
    if (sub && edge_sub_resyncing(sub))
        s_send_subscribe(self, sub);
}

static void s_retry_one(edge_sub_t *sub, void *arg)
{
    if (edge_sub_resyncing(sub))
        s_send_subscribe(arg, sub);
}

void edge_broker_router_message(edge_broker_t *self, tg_envelope_t *envelope, tg_now_t now)
{
    assert(self);
    assert(envelope);
    switch (envelope->command) {
    case TG_CMD_SUBSCRIBED:
    case TG_CMD_SUBSCRIBE_ERROR:
    case TG_CMD_REPLAY:
    case TG_CMD_REPLAY_END:
        if (edge_durable_router_message(self, envelope, now))
            return;
        break;
    default:
        break;
    }
    switch (envelope->command) {
    case TG_CMD_EVENT: {
        const tg_event_type_t *type =
            envelope->topic ? tg_registry_get(self->registry, envelope->topic) : NULL;
        uint64_t expires_at =
            type && type->ttl > 0 ? envelope->ts + (uint64_t)type->ttl * 1000000u : 0;
        edge_fanout_deliver(self->fanout, self, envelope, expires_at, now);
        break;
    }
    case TG_CMD_REPLAY:
    case TG_CMD_REPLAY_END:
        /* For a subscription whose session left (or a repeated end):
           nothing to do, persist's replay stops without MOREs. */
        tg_log_debug("edge: %s for unknown req=%llu dropped", tg_command_name(envelope->command),
                     (unsigned long long)envelope->req);
        break;
    case TG_CMD_SUBSCRIBED:
        s_on_subscribed(self, envelope, now.mono_ms);
        break;
    case TG_CMD_SUBSCRIBE_ERROR:
        s_on_subscribe_error(self, envelope, now.mono_ms);
        break;
    case TG_CMD_ACCEPTED:
    case TG_CMD_REJECTED:
        edge_auth_router_reply(self->auth, envelope, now);
        break;
    case TG_CMD_REGISTER:
        if (envelope->event_type) {
            s_retry_registered(self, envelope->event_type->name);
            tg_registry_put(self->registry, &envelope->event_type);
        }
        break;
    default:
        self->metrics.bad_input[EDGE_BAD_INTERNAL]++;
        tg_log_ratelimited(&self->bad_limiters[EDGE_BAD_INTERNAL], S_LOG_INTERVAL_MS,
                           "edge: unexpected command from router command=%s",
                           tg_command_name(envelope->command));
        break;
    }
}

/* Resync walk: re-send every key still wanted; collect the others, which
   are removed after the walk (the table must not change during it). */
static void s_resync_one(edge_sub_t *sub, void *arg)
{
    void **args = arg;
    edge_broker_t *self = args[0];
    zlistx_t *unused = args[1];
    if (edge_sub_unused(sub))
        zlistx_add_end(unused, sub);
    else
        s_send_subscribe(self, sub);
}

void edge_broker_resync(edge_broker_t *self, tg_now_t now)
{
    assert(self);
    zlistx_t *unused = zlistx_new();
    void *args[2] = {self, unused};
    edge_subs_foreach(self->subs, s_resync_one, args);
    for (edge_sub_t *sub = zlistx_first(unused); sub; sub = zlistx_next(unused)) {
        if (edge_sub_state(sub) == EDGE_SUB_LIVE)
            s_send_unsubscribe(self, edge_sub_id(sub));
        edge_sub_t *doomed = sub;
        edge_subs_remove(self->subs, doomed);
    }
    tg_log_info("edge: resync subscriptions=%zu", edge_subs_count(self->subs));
    zlistx_destroy(&unused);
    edge_auth_resync(self->auth, now);
}

typedef struct {
    edge_broker_t *broker;
    int64_t now_ms;
} s_expire_ctx_t;

static void s_expire_one(edge_sub_t *sub, void *arg)
{
    s_expire_ctx_t *ctx = arg;
    size_t count = 0;
    edge_sub_waiters(sub, &count);
    if (count > 0) {
        ctx->broker->metrics.subscribe_timeouts += count;
        tg_log_warning("edge: subscribe timed out topic=%s waiters=%zu", edge_sub_topic(sub),
                       count);
        s_fail_waiters(sub, "telegraphy.error.unavailable",
                       "the gateway's router did not confirm the subscription in time");
    }
    s_release_if_unused(ctx->broker, sub, ctx->now_ms);
}

void edge_broker_tick(edge_broker_t *self, tg_now_t now)
{
    assert(self);
    int64_t now_ms = now.mono_ms;
    s_expire_ctx_t ctx = {self, now_ms};
    edge_subs_expire(self->subs, now_ms, s_expire_one, &ctx);
    edge_durable_tick(self, now);
    edge_auth_tick(self->auth, now);
    /* Keys refused at resync: once per heartbeat interval. */
    if (edge_subs_resyncing_count(self->subs) > 0 && now_ms >= self->next_retry_ms &&
        self->router.ready(self->router.arg)) {
        self->next_retry_ms = now_ms + (int64_t)self->cfg->heartbeat_ms;
        edge_subs_foreach(self->subs, s_retry_one, self);
    }
}

static void s_on_left(edge_sub_t *sub, void *arg)
{
    s_expire_ctx_t *ctx = arg;
    s_release_if_unused(ctx->broker, sub, ctx->now_ms);
}

void edge_broker_session_closed(edge_broker_t *self, edge_session_t **session_p, tg_now_t now)
{
    assert(self);
    assert(session_p);
    edge_session_t *session = *session_p;
    if (!session)
        return;
    edge_auth_session_closed(self->auth, session);
    edge_durable_session_closed(self, session);
    if (edge_session_pending(session) > 0) {
        edge_subs_remove_waiters_of(self->subs, session);
        edge_session_pending_clear(session);
    }
    s_expire_ctx_t ctx = {self, now.mono_ms};
    edge_subs_leave_all(self->subs, &session->subs, s_on_left, &ctx);
    tg_check(self->session_count > 0);
    self->session_count--;
    edge_session_destroy(session_p);
}

void edge_broker_session_written(edge_broker_t *self, edge_session_t *session)
{
    assert(self);
    assert(session);
    if (session->durables)
        edge_durable_drained(self, session);
}

edge_durables_t *edge_broker_durables(edge_broker_t *self)
{
    return self->durables;
}

const char *edge_broker_instance(const edge_broker_t *self)
{
    return self->router.instance ? self->router.instance : "";
}

int edge_broker_router_send(edge_broker_t *self, tg_envelope_t *envelope)
{
    return self->router.send(self->router.arg, envelope);
}

bool edge_broker_router_ready(edge_broker_t *self)
{
    return self->router.ready(self->router.arg);
}

uint64_t edge_broker_next_request(edge_broker_t *self)
{
    return ++self->next_req;
}

void edge_broker_release_sub(edge_broker_t *self, edge_sub_t *sub, int64_t now_ms)
{
    s_release_if_unused(self, sub, now_ms);
}

const tg_config_t *edge_broker_config(const edge_broker_t *self)
{
    return self->cfg;
}

tg_registry_t *edge_broker_registry(edge_broker_t *self)
{
    return self->registry;
}

edge_metrics_t *edge_broker_metrics(edge_broker_t *self)
{
    return &self->metrics;
}

edge_auth_t *edge_broker_auth(edge_broker_t *self)
{
    return self->auth;
}

edge_pressure_t *edge_broker_pressure(edge_broker_t *self)
{
    return &self->pressure;
}

edge_subs_t *edge_broker_subs(edge_broker_t *self)
{
    return self->subs;
}

size_t edge_broker_session_count(const edge_broker_t *self)
{
    return self->session_count;
}

void edge_broker_gauges(const edge_broker_t *self, edge_gauges_t *gauges)
{
    assert(self);
    assert(gauges);
    gauges->sessions = self->session_count;
    gauges->subscriptions = edge_subs_live_count(self->subs);
    gauges->session_subscriptions = edge_subs_member_total(self->subs);
}
