/*  router_broker: the router's message handling. See router_broker.h.
 */
#include "router_broker.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "router_broker_private.h"
#include "router_status.h"
#include "router_tap.h"
#include "tg_alloc.h"
#include "tg_envelope.h"

#define S_ERROR_INVALID_URI    "wamp.error.invalid_uri"
#define S_ERROR_UNKNOWN_EVENT  "telegraphy.error.unknown_event"
#define S_ERROR_INVALID_FILTER "telegraphy.error.invalid_filter"
#define S_ERROR_INVALID_TYPE   "telegraphy.error.invalid_event_type"
#define S_ERROR_INTERNAL       ROUTER_ERROR_INTERNAL
#define S_ERROR_UNAVAILABLE    ROUTER_ERROR_UNAVAILABLE
#define S_ERROR_REPLAYED       "telegraphy.error.token_replayed"

/* Heartbeat intervals after start during which every TOKEN_SPEND with a req
   is refused: the edges' re-sent spends (their resync) must be in before a
   new spend can be judged, or a token spent before our restart could be
   accepted a second time. The same bound after which a peer expires. */
#define S_TOKEN_WARMUP_HEARTBEATS 3

/* ---- who may send what, handled where ---------------------------------- */

/* Every peer role. */
#define S_PEERS (ROUTER_FROM_INGEST | ROUTER_FROM_EDGE | ROUTER_FROM_PERSIST)

typedef void(s_handler_fn)(router_broker_t *self, router_request_t *request);

/* A row of the command table. */
typedef struct {
    unsigned senders;       /* router_sender_t bits: who may send it */
    s_handler_fn *handler;  /* what it does */
    s_handler_fn *stranger; /* what it does when an unknown peer sends it although only
                               a known role may: that peer is one we forgot (we restarted
                               or expired it), told to resync rather than counted as bad
                               input; NULL = bad input */
} s_command_t;

static s_handler_fn s_on_hello, s_on_heartbeat, s_on_monitor, s_on_register, s_on_event,
    s_on_subscribe, s_on_unsubscribe, s_on_token_spend, s_on_status, s_stranger_event,
    s_stranger_spend;

/* Every command the router accepts, who may send it and what handles it.
   Anything else, or from anyone else, is bad input: counted, logged
   rate-limited, dropped. */
static const s_command_t s_commands[] = {
    /*                    senders                          handler            stranger */
    [TG_CMD_HELLO] = {S_PEERS | ROUTER_FROM_UNKNOWN, s_on_hello, NULL},
    [TG_CMD_HEARTBEAT] = {S_PEERS | ROUTER_FROM_UNKNOWN, s_on_heartbeat, NULL},
    [TG_CMD_MONITOR] = {S_PEERS | ROUTER_FROM_UNKNOWN, s_on_monitor, NULL},
    [TG_CMD_REGISTER] = {ROUTER_FROM_INGEST | ROUTER_FROM_PERSIST, s_on_register,
                         router_broker_stranger},
    [TG_CMD_EVENT] = {ROUTER_FROM_INGEST, s_on_event, s_stranger_event},
    [TG_CMD_SUBSCRIBE] = {ROUTER_FROM_EDGE | ROUTER_FROM_PERSIST, s_on_subscribe,
                          router_broker_stranger},
    [TG_CMD_UNSUBSCRIBE] = {ROUTER_FROM_EDGE | ROUTER_FROM_PERSIST, s_on_unsubscribe,
                            router_broker_stranger},
    [TG_CMD_TOKEN_SPEND] = {ROUTER_FROM_EDGE | ROUTER_FROM_PERSIST, s_on_token_spend,
                            s_stranger_spend},
    [TG_CMD_STATUS] = {ROUTER_FROM_CONTROL, s_on_status, NULL},
    /* persistence (router_persist.c) */
    [TG_CMD_ACCEPTED] = {ROUTER_FROM_PERSIST, router_persist_on_answer, NULL},
    [TG_CMD_REJECTED] = {ROUTER_FROM_PERSIST, router_persist_on_answer, NULL},
    [TG_CMD_REPLAY] = {ROUTER_FROM_PERSIST, router_persist_on_replay, router_broker_stranger},
    [TG_CMD_REPLAY_END] = {ROUTER_FROM_PERSIST, router_persist_on_replay, router_broker_stranger},
    [TG_CMD_MORE] = {ROUTER_FROM_EDGE, router_persist_on_forward, router_broker_stranger},
    [TG_CMD_ACK] = {ROUTER_FROM_EDGE, router_persist_on_forward, router_broker_stranger},
};
#define S_COMMANDS_END ((int)(sizeof s_commands / sizeof s_commands[0]))

static const char *s_sender_name(unsigned sender)
{
    return sender == ROUTER_FROM_INGEST    ? "ingest"
           : sender == ROUTER_FROM_EDGE    ? "edge"
           : sender == ROUTER_FROM_CONTROL ? "control"
           : sender == ROUTER_FROM_PERSIST ? "persist"
                                           : "unknown peer";
}

/* ---- lifetime ----------------------------------------------------------- */

router_broker_t *router_broker_new(zsock_t *peer_socket, const char *instance,
                                   uint32_t heartbeat_ms, const tg_query_limits_t *limits,
                                   tg_now_t now)
{
    assert(peer_socket && instance && heartbeat_ms > 0);
    router_broker_t *self = tg_new(router_broker_t);
    self->socket = peer_socket;
    self->instance = tg_strdup(instance);
    self->heartbeat_ms = heartbeat_ms;
    self->limits = limits ? *limits : (tg_query_limits_t)TG_QUERY_DEFAULT_LIMITS;
    self->started_ms = now.mono_ms;
    /* The first tick's rates count from our start. */
    tg_rate_sample(&self->rate_in, 0, now.mono_ms);
    tg_rate_sample(&self->rate_out, 0, now.mono_ms);
    self->index = router_index_new();
    self->registry = tg_registry_new();
    self->peers = router_peers_new();
    self->told_unknown = router_map_new();
    self->tokens = router_tokens_new(ROUTER_MAX_SPENT_TOKENS);
    self->touched = tg_calloc(ROUTER_MAX_PEERS, sizeof *self->touched);
    self->store = router_store_new(ROUTER_STORE_PENDING);
    self->store_timeout_ms = ROUTER_STORE_TIMEOUT_MS;
    return self;
}

void router_broker_destroy(router_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_broker_t *self = *self_p;
    router_store_destroy(&self->store);
    router_index_destroy(&self->index); /* before the peers its edges point to */
    router_peers_destroy(&self->peers);
    tg_registry_destroy(&self->registry);
    router_map_destroy(&self->told_unknown);
    router_tokens_destroy(&self->tokens);
    free(self->touched);
    free(self->instance);
    free(self);
    *self_p = NULL;
}

void router_broker_stats(const router_broker_t *self, router_broker_stats_t *stats)
{
    *stats = (router_broker_stats_t){
        .events_in = self->events_in,
        .events_out = self->events_out,
        .drops = self->drops,
        .bad_input = self->bad_input,
        .events_in_per_s = self->rate_in.per_s,
        .events_out_per_s = self->rate_out.per_s,
        .subscriptions = router_index_size(self->index),
        .edges = router_peers_count(self->peers, ROUTER_ROLE_EDGE),
        .ingests = router_peers_count(self->peers, ROUTER_ROLE_INGEST),
        .event_types = tg_registry_size(self->registry),
        .spent_tokens = router_tokens_size(self->tokens),
        .tap_drops = self->tap_drops,
        .stores_pending = router_store_size(self->store),
        .store_rejected = self->store_rejected,
        .retention_lost = self->retention_lost,
        .persist = self->persist != NULL,
    };
}

void router_broker_set_store_timeout(router_broker_t *self, uint32_t timeout_ms)
{
    self->store_timeout_ms = timeout_ms ? timeout_ms : ROUTER_STORE_TIMEOUT_MS;
}

void router_broker_set_tap_viewers(router_broker_t *self, bool viewers)
{
    self->tap_viewers = viewers;
}

void router_broker_set_tap(router_broker_t *self, zsock_t *tap)
{
    assert(self);
    self->tap = tap;
}

void router_broker_publish_monitor(router_broker_t *self, tg_envelope_t **env_p)
{
    assert(self && env_p && *env_p);
    if (!self->tap) {
        tg_envelope_destroy(env_p);
        return;
    }
    if (router_tap_monitor(self->tap, env_p) != 0)
        self->tap_drops++;
}

/* ---- replies ------------------------------------------------------------ */

void router_broker_bad_input(router_broker_t *self, const char *socket, const char *reason,
                             const router_peer_t *peer)
{
    self->bad_input++;
    tg_log_ratelimited(&self->bad_limiter, ROUTER_LOG_INTERVAL_MS,
                       "router: bad input socket=%s reason=\"%s\" peer=%s", socket,
                       reason ? reason : "?", peer ? peer->instance : "unknown");
}

/* Sends env (destroyed here) on socket to routing_id (after the REQ
   delimiter, if any); a failure (HWM, gone) is a drop. */
static void s_send(router_broker_t *self, zsock_t *socket, zframe_t *routing_id,
                   zframe_t *delimiter, tg_envelope_t **env_p)
{
    tg_envelope_t *env = *env_p;
    zmsg_t *msg = tg_envelope_encode(env);
    if (delimiter)
        zmsg_pushmem(msg, NULL, 0);
    zmsg_pushmem(msg, zframe_data(routing_id), zframe_size(routing_id));
    /* ZeroMQ checks the high-water mark and the peer on the first frame
       only: a failure there means nothing was queued. */
    bool sent = true;
    zframe_t *frame;
    while (sent && (frame = zmsg_pop(msg))) {
        int more = zmsg_size(msg) ? ZFRAME_MORE : 0;
        sent = zframe_send(&frame, socket, ZFRAME_DONTWAIT | more) == 0;
        zframe_destroy(&frame); /* left to us when the send failed */
    }
    zmsg_destroy(&msg);
    if (!sent) {
        self->drops++;
        tg_log_ratelimited(&self->drop_limiter, ROUTER_LOG_INTERVAL_MS,
                           "router: send failed command=%s error=\"%s\"",
                           tg_command_name(env->command), zmq_strerror(zmq_errno()));
    }
    tg_envelope_destroy(env_p);
}

/* A reply to the request's sender. Takes ownership of *env_p. */
void router_broker_reply(router_broker_t *self, const router_request_t *request,
                         tg_envelope_t **env_p)
{
    s_send(self, request->socket, request->routing_id, request->delimiter, env_p);
}

/* A message to a peer on the peer socket. Takes ownership of *env_p. */
void router_broker_send_peer(router_broker_t *self, zframe_t *routing_id, tg_envelope_t **env_p)
{
    s_send(self, self->socket, routing_id, NULL, env_p);
}

/* A REJECTED / SUBSCRIBE_ERROR {req, error, message} to the sender. */
void router_broker_refuse(router_broker_t *self, const router_request_t *request,
                          tg_command_t command, const char *error, const char *message)
{
    tg_envelope_t *reply = tg_envelope_new(command);
    reply->req = request->env->req;
    reply->error = tg_strdup(error);
    reply->message = tg_strdup(message);
    router_broker_reply(self, request, &reply);
}

/* Our uptime at `now`: 0 if the caller's clock is behind our start (time
   is the loop's, never the machine's). */
static uint64_t s_uptime_ms(const router_broker_t *self, tg_now_t now)
{
    return now.mono_ms > self->started_ms ? (uint64_t)(now.mono_ms - self->started_ms) : 0;
}

static void s_send_heartbeat(router_broker_t *self, const router_request_t *request, bool known)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_HEARTBEAT);
    env->instance = tg_strdup(self->instance);
    env->known = known;
    env->uptime_ms = s_uptime_ms(self, request->now);
    router_broker_reply(self, request, &env);
}

void router_broker_send_register(router_broker_t *self, zframe_t *routing_id,
                                 const tg_event_type_t *type)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->event_type = tg_event_type_dup(type);
    router_broker_send_peer(self, routing_id, &env);
}

typedef struct {
    router_broker_t *broker;
    zframe_t *routing_id;
} s_register_target_t;

/* tg_registry_foreach callback: one REGISTER to the target peer. */
static void s_register_to(const tg_event_type_t *type, void *arg)
{
    s_register_target_t *target = arg;
    router_broker_send_register(target->broker, target->routing_id, type);
}

/* ---- peers that are not (or no longer) known ---------------------------- */

/* A peer we do not know sent what only a known peer may (we restarted, or
   expired it): tell it once per tick, so it says HELLO and re-sends its
   state, without answering a burst message by message. */
void router_broker_stranger(router_broker_t *self, router_request_t *request)
{
    const void *key = zframe_data(request->routing_id);
    size_t len = zframe_size(request->routing_id);
    uint64_t hash = router_map_hash(key, len);
    if (router_map_get(self->told_unknown, hash, key, len) ||
        router_map_size(self->told_unknown) >= ROUTER_MAX_UNKNOWN)
        return;
    router_map_put(self->told_unknown, hash, key, len, self);
    s_send_heartbeat(self, request, false);
}

/* An EVENT from an ingest we do not know: counted in and dropped. */
static void s_stranger_event(router_broker_t *self, router_request_t *request)
{
    self->events_in++;
    self->drops++;
    router_broker_stranger(self, request);
}

/* A TOKEN_SPEND from an edge we do not know: a session waits on it, so
   refuse now rather than let it time out. */
static void s_stranger_spend(router_broker_t *self, router_request_t *request)
{
    if (request->env->req)
        router_broker_refuse(self, request, TG_CMD_REJECTED, S_ERROR_UNAVAILABLE,
                             "this edge must say HELLO again");
    router_broker_stranger(self, request);
}

/* ---- handlers ------------------------------------------------------------ */

static void s_on_hello(router_broker_t *self, router_request_t *request)
{
    const tg_envelope_t *env = request->env;
    router_role_t role;
    if (router_role_parse(env->role, &role) != 0) {
        router_broker_bad_input(self, "peer", "HELLO with an unknown role", request->peer);
        return;
    }
    if (role == ROUTER_ROLE_PERSIST && !router_persist_hello(self, request))
        return;
    /* A HELLO from a known peer is a resync: it re-sends its whole state
       next, so whatever we hold for it is stale. */
    size_t dropped = 0;
    if (request->peer) {
        dropped = router_broker_forget(self, request->peer);
        request->peer = NULL;
    }
    router_peer_t *peer = router_peers_add(self->peers, request->routing_id, role, env->instance,
                                           request->now.mono_ms);
    if (!peer) {
        router_broker_bad_input(self, "peer", "peer table full", NULL);
        return;
    }
    tg_log_info("router: peer %s role=%s instance=%s subscriptions_dropped=%zu",
                dropped ? "rejoined" : "joined", router_role_name(role), peer->instance, dropped);
    tg_envelope_t *welcome = tg_envelope_new(TG_CMD_WELCOME);
    welcome->instance = tg_strdup(self->instance);
    router_broker_reply(self, request, &welcome);
    s_register_target_t target = {self, peer->routing_id};
    tg_registry_foreach(self->registry, s_register_to, &target);
    if (role == ROUTER_ROLE_PERSIST)
        router_persist_joined(self, peer);
}

size_t router_broker_forget(router_broker_t *self, router_peer_t *peer)
{
    if (peer == self->persist)
        router_persist_left(self, peer);
    size_t dropped = router_index_remove_edge(self->index, peer);
    router_peers_remove(self->peers, peer);
    return dropped;
}

static void s_on_heartbeat(router_broker_t *self, router_request_t *request)
{
    const tg_envelope_t *env = request->env;
    /* The same routing id under another instance id is another process:
       unknown until it says HELLO. */
    router_peer_t *peer = request->peer;
    bool known = peer && strcmp(peer->instance, env->instance) == 0;
    if (known)
        router_peer_heartbeat(peer, env->uptime_ms, env->stats, env->stats_count);
    s_send_heartbeat(self, request, known);
}

/* Republished whoever sent it: it names its own role and instance, and the
   events around a (re)connection come before HELLO. */
static void s_on_monitor(router_broker_t *self, router_request_t *request)
{
    router_broker_publish_monitor(self, &request->env);
}

static void s_on_register(router_broker_t *self, router_request_t *request)
{
    tg_envelope_t *env = request->env;
    router_peer_t *peer = request->peer;
    if (peer->role == ROUTER_ROLE_PERSIST) {
        router_persist_on_register(self, request);
        return;
    }
    const char *reason = NULL;
    if (tg_event_type_validate(env->event_type, &reason) != 0) {
        if (!env->req)
            router_broker_bad_input(self, "peer", "REGISTER of an invalid type without req", peer);
        else
            router_broker_refuse(self, request, TG_CMD_REJECTED, S_ERROR_INVALID_TYPE,
                                 reason ? reason : "invalid event type");
        return;
    }
    char name[TG_MAX_TOPIC + 1];
    snprintf(name, sizeof name, "%s", env->event_type->name);
    int changed = tg_registry_put(self->registry, &env->event_type); /* moved into the registry */
    if (env->req) {
        tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
        accepted->req = env->req;
        router_broker_reply(self, request, &accepted);
    }
    if (changed != 1)
        return; /* every peer has it already (WELCOME or an earlier broadcast) */
    tg_log_info("router: event type registered name=%s from=%s", name, peer->instance);
    const tg_event_type_t *type = tg_registry_get(self->registry, name);
    for (size_t i = 0; type && i < router_peers_size(self->peers); i++) {
        router_peer_t *other = router_peers_at(self->peers, i);
        if (other != peer)
            router_broker_send_register(self, other->routing_id, type);
    }
}

/* WAMP URI rules for a subscription topic: no whitespace nor '#'; exact
   components are non-empty; prefix components too, except a trailing one
   ("com.myapp." = everything under com.myapp); wildcard components may be
   empty, that is the wildcard. */
static bool s_topic_valid(tg_match_t match, const char *topic)
{
    size_t len = strlen(topic);
    if (len == 0 || len > TG_MAX_TOPIC)
        return false;
    size_t component = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)topic[i] : '.';
        if (c <= ' ' || c == 0x7f || c == '#')
            return false;
        if (c != '.') {
            component++;
            continue;
        }
        bool last = i == len;
        if (component == 0 && match == TG_MATCH_EXACT)
            return false;
        if (component == 0 && match == TG_MATCH_PREFIX && !(last && len > 1))
            return false;
        component = 0;
    }
    return true;
}

static void s_on_subscribe(router_broker_t *self, router_request_t *request)
{
    const tg_envelope_t *env = request->env;
    char message[TG_MAX_ERROR_TEXT];
    if (!s_topic_valid(env->match, env->topic)) {
        snprintf(message, sizeof message, "invalid topic for a %s subscription",
                 tg_match_name(env->match));
        router_broker_refuse(self, request, TG_CMD_SUBSCRIBE_ERROR, S_ERROR_INVALID_URI, message);
        return;
    }
    if (env->match == TG_MATCH_EXACT && !tg_registry_get(self->registry, env->topic)) {
        snprintf(message, sizeof message, "no such event type: %s", env->topic);
        router_broker_refuse(self, request, TG_CMD_SUBSCRIBE_ERROR, S_ERROR_UNKNOWN_EVENT, message);
        return;
    }
    /* An empty filter is no filter (the edge passes `_filter: ""` as is). */
    tg_query_t *filter = NULL;
    if (env->filter && *env->filter) {
        tg_query_error_t error;
        filter = tg_query_parse(env->filter, strlen(env->filter), &self->limits, &error);
        if (!filter) {
            router_broker_refuse(self, request, TG_CMD_SUBSCRIBE_ERROR, S_ERROR_INVALID_FILTER,
                                 error.message);
            return;
        }
    }
    if (request->peer->role == ROUTER_ROLE_EDGE && (env->persistent || env->since)) {
        router_persist_subscribe(self, request, &filter);
        return;
    }
    uint64_t sub_id = 0;
    if (router_broker_hold(self, env->match, env->topic, &filter, request->peer, &sub_id) != 0) {
        router_broker_refuse(self, request, TG_CMD_SUBSCRIBE_ERROR, S_ERROR_INTERNAL,
                             "the router could not store this subscription");
        return;
    }
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_SUBSCRIBED);
    reply->req = env->req;
    reply->sub_id = sub_id;
    router_broker_reply(self, request, &reply);
}

int router_broker_hold(router_broker_t *self, tg_match_t match, const char *topic,
                       tg_query_t **filter_p, router_peer_t *peer, uint64_t *sub_id)
{
    if (router_index_add(self->index, match, topic, filter_p, peer, sub_id) == 0)
        return 0;
    tg_query_destroy(filter_p);
    tg_log_error("router: subscription not stored topic=%s", topic);
    return -1;
}

/* UNSUBSCRIBE {sub_id} removes the sender from the holders. From an edge
   with a client_id it is the end of a persistent subscription: forwarded
   to persist, the holders unchanged (the edge sends the plain UNSUBSCRIBE
   when its last session on the key goes, as before). */
static void s_on_unsubscribe(router_broker_t *self, router_request_t *request)
{
    if (request->env->client_id && request->peer->role == ROUTER_ROLE_EDGE) {
        router_persist_on_forward(self, request);
        return;
    }
    /* Not held: the edge raced our expiry or restart; nothing to undo. */
    if (router_index_remove(self->index, request->env->sub_id, request->peer) != 0)
        tg_log_debug("router: unsubscribe of an unheld subscription sub_id=%" PRIu64 " instance=%s",
                     request->env->sub_id, request->peer->instance);
}

/* router_index_match callback: adds the subscription's id to the batch of
   every edge holding it. */
static void s_collect(const router_sub_t *sub, void *arg)
{
    router_broker_t *self = arg;
    void *const *edges = router_sub_edges(sub);
    for (uint32_t i = 0; i < sub->edges_count; i++) {
        router_peer_t *edge = edges[i];
        if (router_peer_batch_add(edge, sub->id))
            self->touched[self->touched_count++] = edge;
    }
}

void router_broker_match(router_broker_t *self, const tg_envelope_t *event, bool tap)
{
    router_index_match(self->index, event->topic, strlen(event->topic), zframe_data(event->body),
                       zframe_size(event->body), s_collect, self);
    /* A TAP costs an envelope, a header encode and a body copy: only when
       a viewer (telegraphy-ctl tap) is there to read it. */
    if (tap && self->tap && self->tap_viewers) {
        uint64_t matched = 0;
        size_t edges = 0;
        for (size_t i = 0; i < self->touched_count; i++)
            if (self->touched[i]->role == ROUTER_ROLE_EDGE) {
                matched += self->touched[i]->batch_count;
                edges++;
            }
        if (router_tap_event(self->tap, event, matched, edges) != 0)
            self->tap_drops++;
    }
}

void router_broker_drop_batches(router_broker_t *self)
{
    for (size_t i = 0; i < self->touched_count; i++)
        router_peer_batch_clear(self->touched[i]);
    self->touched_count = 0;
}

/* Sends the event to every edge with matching subscriptions: the header
   encoded once for all of them; per edge one message sharing that header,
   the body and the edge's routing id (references, no copies), with the
   edge's own ids in the last frame (split in chunks of TG_MAX_SUB_IDS
   should one edge ever hold more). Persist's batch is not sent. */
void router_broker_fanout(router_broker_t *self, const tg_envelope_t *event,
                          const tg_event_type_t *type, zframe_t *header)
{
    zframe_t *own = NULL;
    if (!header && self->touched_count > 0)
        header = own = tg_envelope_event_header(event, type->audience, type->guaranteed);
    for (size_t i = 0; i < self->touched_count; i++) {
        router_peer_t *edge = self->touched[i];
        for (size_t offset = 0; edge->role == ROUTER_ROLE_EDGE && offset < edge->batch_count;
             offset += TG_MAX_SUB_IDS) {
            size_t count = edge->batch_count - offset;
            if (count > TG_MAX_SUB_IDS)
                count = TG_MAX_SUB_IDS;
            if (tg_envelope_event_send(self->socket, edge->routing_id, header, event->body,
                                       edge->batch_ids + offset, count) == 0)
                self->events_out++;
            else {
                self->drops++;
                tg_log_ratelimited(&self->drop_limiter, ROUTER_LOG_INTERVAL_MS,
                                   "router: event dropped reason=\"%s\" topic=%s edge=%s",
                                   zmq_strerror(zmq_errno()), event->topic, edge->instance);
            }
        }
        router_peer_batch_clear(edge);
    }
    self->touched_count = 0;
    zframe_destroy(&own);
}

/* An EVENT from an ingest: matched, stored first when its type asks
   (router_persist_event), sent to the edges, and answered ACCEPTED when
   the ingest waits (its req). */
static void s_on_event(router_broker_t *self, router_request_t *request)
{
    const tg_envelope_t *env = request->env;
    self->events_in++;
    const tg_event_type_t *type = tg_registry_get(self->registry, env->topic);
    if (!type) {
        self->drops++;
        tg_log_ratelimited(&self->drop_limiter, ROUTER_LOG_INTERVAL_MS,
                           "router: event dropped reason=unknown_type topic=%s", env->topic);
        if (env->req)
            router_broker_refuse(self, request, TG_CMD_REJECTED, S_ERROR_UNKNOWN_EVENT,
                                 "the router does not know this event type");
        return;
    }
    router_broker_match(self, env, true);
    zframe_t *header = NULL;
    if (router_persist_event(self, request, type, &header))
        return;
    router_broker_fanout(self, env, type, header);
    zframe_destroy(&header);
    if (env->req) {
        tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
        accepted->req = env->req;
        accepted->pub_id = env->pub_id;
        router_broker_reply(self, request, &accepted);
    }
}

/* TOKEN_SPEND from an edge: with a req, a session waits for the verdict;
   without, the edge re-sends what it spent before we (re)started, which is
   recorded silently, even during the warm-up. */
static void s_on_token_spend(router_broker_t *self, router_request_t *request)
{
    const tg_envelope_t *env = request->env;
    if (request->peer->role == ROUTER_ROLE_PERSIST) {
        router_persist_on_token(self, request);
        return;
    }
    bool warming_up = request->now.mono_ms - self->started_ms <
                      (int64_t)S_TOKEN_WARMUP_HEARTBEATS * (int64_t)self->heartbeat_ms;
    if (env->req && warming_up) {
        router_broker_refuse(self, request, TG_CMD_REJECTED, S_ERROR_UNAVAILABLE,
                             "the router is starting; try again");
        return;
    }
    router_token_verdict_t verdict =
        router_tokens_spend(self->tokens, env->jti, (int64_t)env->exp, tg_now_wall_s(request->now));
    if (verdict == ROUTER_TOKEN_ACCEPTED)
        router_persist_token_spent(self, env);
    if (verdict == ROUTER_TOKEN_FULL)
        tg_log_ratelimited(&self->spend_limiter, ROUTER_LOG_INTERVAL_MS,
                           "router: token spend refused reason=table_full spent=%zu edge=%s",
                           router_tokens_size(self->tokens), request->peer->instance);
    if (!env->req)
        return;
    if (verdict == ROUTER_TOKEN_ACCEPTED) {
        tg_envelope_t *reply = tg_envelope_new(TG_CMD_ACCEPTED);
        reply->req = env->req;
        router_broker_reply(self, request, &reply);
    } else if (verdict == ROUTER_TOKEN_REPLAYED)
        router_broker_refuse(self, request, TG_CMD_REJECTED, S_ERROR_REPLAYED,
                             "this token was already used");
    else
        router_broker_refuse(self, request, TG_CMD_REJECTED, S_ERROR_UNAVAILABLE,
                             "too many tokens spent recently");
}

static void s_on_status(router_broker_t *self, router_request_t *request)
{
    router_broker_stats_t own;
    router_broker_stats(self, &own);
    tg_envelope_t *reply =
        router_status_reply(request->env->req, self->instance, s_uptime_ms(self, request->now),
                            &own, self->peers, request->now.mono_ms);
    router_broker_reply(self, request, &reply);
}

/* ---- dispatch ----------------------------------------------------------- */

/* Runs the command table's verdict on a decoded request from `sender`. */
static void s_dispatch(router_broker_t *self, router_request_t *request, unsigned sender,
                       const char *socket)
{
    int command = (int)request->env->command;
    const s_command_t *row = command >= 0 && command < S_COMMANDS_END && s_commands[command].handler
                                 ? &s_commands[command]
                                 : NULL;
    if (row && (row->senders & sender))
        row->handler(self, request);
    else if (row && sender == ROUTER_FROM_UNKNOWN && row->stranger)
        row->stranger(self, request);
    else {
        char reason[96];
        snprintf(reason, sizeof reason, "%s not allowed from %s", tg_command_name(command),
                 s_sender_name(sender));
        router_broker_bad_input(self, socket, reason, request->peer);
    }
}

void router_broker_handle_peer(router_broker_t *self, zmsg_t **msg_p, tg_now_t now)
{
    assert(self && msg_p && *msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zframe_t *routing_id = zmsg_pop(msg);
    if (!routing_id || zmsg_size(msg) == 0) {
        router_broker_bad_input(self, "peer", "no frames after the routing id", NULL);
        zframe_destroy(&routing_id);
        zmsg_destroy(&msg);
        return;
    }
    router_peer_t *peer = router_peers_lookup(self->peers, routing_id);
    const char *reason = NULL;
    tg_envelope_t *env = tg_envelope_decode(&msg, &reason);
    if (!env) {
        router_broker_bad_input(self, "peer", reason, peer);
        zframe_destroy(&routing_id);
        return;
    }
    if (peer)
        router_peer_heard(peer, now.mono_ms);
    router_request_t request = {self->socket, routing_id, NULL, peer, env, now};
    unsigned sender = !peer                               ? ROUTER_FROM_UNKNOWN
                      : peer->role == ROUTER_ROLE_INGEST  ? ROUTER_FROM_INGEST
                      : peer->role == ROUTER_ROLE_PERSIST ? ROUTER_FROM_PERSIST
                                                          : ROUTER_FROM_EDGE;
    s_dispatch(self, &request, sender, "peer");
    tg_envelope_destroy(&request.env);
    zframe_destroy(&routing_id);
}

void router_broker_handle_control(router_broker_t *self, zsock_t *control, zmsg_t **msg_p,
                                  tg_now_t now)
{
    assert(self && control && msg_p && *msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zframe_t *routing_id = zmsg_pop(msg);
    /* A REQ client puts an empty delimiter before its frames; a DEALER
       does not. Keep it to put it back on the reply. */
    zframe_t *delimiter = NULL;
    zframe_t *first = zmsg_first(msg);
    if (first && zframe_size(first) == 0)
        delimiter = zmsg_pop(msg);
    if (!routing_id || zmsg_size(msg) == 0) {
        router_broker_bad_input(self, "control", "no frames after the routing id", NULL);
        zmsg_destroy(&msg);
    } else {
        const char *reason = NULL;
        tg_envelope_t *env = tg_envelope_decode(&msg, &reason);
        if (!env)
            router_broker_bad_input(self, "control", reason, NULL);
        else {
            router_request_t request = {control, routing_id, delimiter, NULL, env, now};
            s_dispatch(self, &request, ROUTER_FROM_CONTROL, "control");
            tg_envelope_destroy(&request.env);
        }
    }
    zframe_destroy(&delimiter);
    zframe_destroy(&routing_id);
}

void router_broker_tick(router_broker_t *self, tg_now_t now)
{
    int64_t now_ms = now.mono_ms;
    tg_rate_sample(&self->rate_in, self->events_in, now_ms);
    tg_rate_sample(&self->rate_out, self->events_out, now_ms);
    /* Downwards: removal moves the last peer into the freed slot. */
    int64_t silence_ms = 3 * (int64_t)self->heartbeat_ms;
    for (size_t i = router_peers_size(self->peers); i-- > 0;) {
        router_peer_t *peer = router_peers_at(self->peers, i);
        if (now_ms - peer->last_heard_ms <= silence_ms)
            continue;
        tg_log_info("router: peer expired role=%s instance=%s silent_ms=%" PRId64,
                    router_role_name(peer->role), peer->instance, now_ms - peer->last_heard_ms);
        router_broker_forget(self, peer);
    }
    router_persist_tick(self, now);
    router_tokens_purge(self->tokens, tg_now_wall_s(now));
    if (router_map_size(self->told_unknown)) {
        router_map_destroy(&self->told_unknown);
        self->told_unknown = router_map_new();
    }
}
