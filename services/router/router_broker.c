/*  router_broker: the router's message handling. See router_broker.h.
 */
#include "router_broker.h"
#include "router_tap.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "router_index.h"
#include "router_map.h"
#include "router_peers.h"
#include "router_status.h"
#include "router_tokens.h"
#include "tg_envelope.h"
#include "tg_event_type.h"
#include "tg_log.h"

#define S_ERROR_INVALID_URI    "wamp.error.invalid_uri"
#define S_ERROR_UNKNOWN_EVENT  "telegraphy.error.unknown_event"
#define S_ERROR_INVALID_FILTER "telegraphy.error.invalid_filter"
#define S_ERROR_INVALID_TYPE   "telegraphy.error.invalid_event_type"
#define S_ERROR_INTERNAL       "telegraphy.error.internal"
#define S_ERROR_UNAVAILABLE    "telegraphy.error.unavailable"
#define S_ERROR_REPLAYED       "telegraphy.error.token_replayed"

/* Heartbeat intervals after start during which every TOKEN_SPEND with a req
   is refused: the edges' re-sent spends (their resync) must be in before a
   new spend can be judged, or a token spent before our restart could be
   accepted a second time. The same bound after which a peer expires. */
#define S_TOKEN_WARMUP_HEARTBEATS 3

struct _router_broker_t {
    zsock_t *socket;            /* borrowed: the ROUTER for edges and ingests */
    zsock_t *tap;               /* borrowed: PUB for TAP/MONITOR, or NULL */
    uint64_t tap_drops;         /* sends the tap socket refused */
    bool tap_viewers;           /* some subscription of the tap socket wants TAP */
    char *instance;             /* owned: our instance id, new at every start */
    uint32_t heartbeat_ms;      /* tick period; peers expire after 3 of them */
    tg_query_limits_t limits;   /* filter length, depth, list size */
    int64_t started_ms;         /* monotonic ms at start (the loop's clock), for uptime */
    router_index_t *index;      /* subscriptions; edges are router_peer_t pointers */
    tg_registry_t *registry;    /* event types, the authoritative copy */
    router_peers_t *peers;      /* peers that said HELLO */
    router_tokens_t *tokens;    /* spent ws token ids (TOKEN_SPEND) */
    router_map_t *told_unknown; /* routing ids told known=false this tick */
    router_peer_t **touched;    /* edges with ids in their batch for the event being routed;
                                   ROUTER_MAX_PEERS entries, allocated once */
    size_t touched_count;
    uint64_t events_in, events_out, drops, bad_input;
    uint64_t rate_events_in;  /* events_in at the last tick */
    uint64_t rate_events_out; /* events_out at the last tick */
    int64_t rate_since_ms;    /* time of the last tick */
    int64_t events_in_per_s, events_out_per_s;
    tg_log_limiter_t bad_limiter;   /* bad input lines */
    tg_log_limiter_t drop_limiter;  /* undelivered event lines */
    tg_log_limiter_t spend_limiter; /* refused token spends */
};

router_broker_t *router_broker_new(zsock_t *peer_socket, const char *instance,
                                   uint32_t heartbeat_ms, const tg_query_limits_t *limits,
                                   tg_now_t now)
{
    assert(peer_socket && instance && heartbeat_ms > 0);
    router_broker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->socket = peer_socket;
    self->instance = strdup(instance);
    self->heartbeat_ms = heartbeat_ms;
    self->limits = limits ? *limits : (tg_query_limits_t)TG_QUERY_DEFAULT_LIMITS;
    self->started_ms = now.mono_ms;
    self->rate_since_ms = now.mono_ms;
    self->index = router_index_new();
    self->registry = tg_registry_new();
    self->peers = router_peers_new();
    self->told_unknown = router_map_new();
    self->tokens = router_tokens_new(ROUTER_MAX_SPENT_TOKENS);
    self->touched = calloc(ROUTER_MAX_PEERS, sizeof *self->touched);
    if (!self->instance || !self->index || !self->registry || !self->peers || !self->told_unknown ||
        !self->tokens || !self->touched)
        router_broker_destroy(&self);
    return self;
}

void router_broker_destroy(router_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_broker_t *self = *self_p;
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
        .events_in_per_s = self->events_in_per_s,
        .events_out_per_s = self->events_out_per_s,
        .subscriptions = router_index_size(self->index),
        .edges = router_peers_count(self->peers, ROUTER_ROLE_EDGE),
        .ingests = router_peers_count(self->peers, ROUTER_ROLE_INGEST),
        .event_types = tg_registry_size(self->registry),
        .spent_tokens = router_tokens_size(self->tokens),
        .tap_drops = self->tap_drops,
    };
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

static void s_bad_input(router_broker_t *self, const char *socket, const char *reason,
                        const router_peer_t *peer)
{
    self->bad_input++;
    tg_log_ratelimited(&self->bad_limiter, ROUTER_LOG_INTERVAL_MS,
                       "router: bad input socket=%s reason=\"%s\" peer=%s", socket,
                       reason ? reason : "?", peer ? peer->instance : "unknown");
}

/* Sends env (destroyed here) to a peer; a failure (HWM, gone) is a drop. */
static void s_send(router_broker_t *self, tg_envelope_t **env_p, zframe_t *routing_id)
{
    tg_envelope_t *env = *env_p;
    if (tg_envelope_send_to(env, self->socket, routing_id) != 0) {
        self->drops++;
        tg_log_ratelimited(&self->drop_limiter, ROUTER_LOG_INTERVAL_MS,
                           "router: send failed command=%s error=\"%s\"",
                           tg_command_name(env->command), zmq_strerror(zmq_errno()));
    }
    tg_envelope_destroy(env_p);
}

/* Our uptime at `now`: 0 if the caller's clock is behind our start (time
   is the loop's, never the machine's). */
static uint64_t s_uptime_ms(const router_broker_t *self, tg_now_t now)
{
    return now.mono_ms > self->started_ms ? (uint64_t)(now.mono_ms - self->started_ms) : 0;
}

static void s_send_heartbeat(router_broker_t *self, zframe_t *routing_id, bool known, tg_now_t now)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_HEARTBEAT);
    env->instance = strdup(self->instance);
    env->known = known;
    env->uptime_ms = s_uptime_ms(self, now);
    s_send(self, &env, routing_id);
}

/* A peer we do not know sent something other than HELLO/HEARTBEAT (we
   restarted, or expired it): tell it once per tick, so it says HELLO and
   re-sends its state, without answering a burst message by message. */
static void s_tell_unknown(router_broker_t *self, zframe_t *routing_id, tg_now_t now)
{
    const void *key = zframe_data(routing_id);
    size_t len = zframe_size(routing_id);
    uint64_t hash = router_map_hash(key, len);
    if (router_map_get(self->told_unknown, hash, key, len) ||
        router_map_size(self->told_unknown) >= ROUTER_MAX_UNKNOWN)
        return;
    if (router_map_put(self->told_unknown, hash, key, len, self) != 0)
        return;
    s_send_heartbeat(self, routing_id, false, now);
}

typedef struct {
    router_broker_t *broker;
    zframe_t *routing_id;
} s_register_target_t;

static void s_send_register(const tg_event_type_t *type, void *arg)
{
    s_register_target_t *target = arg;
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->event_type = tg_event_type_dup(type);
    s_send(target->broker, &env, target->routing_id);
}

static void s_on_hello(router_broker_t *self, zframe_t *routing_id, router_peer_t *peer,
                       const tg_envelope_t *env, int64_t now_ms)
{
    router_role_t role;
    if (router_role_parse(env->role, &role) != 0) {
        s_bad_input(self, "peer", "HELLO with an unknown role", peer);
        return;
    }
    /* A HELLO from a known peer is a resync: it re-sends its whole state
       next, so whatever we hold for it is stale. */
    size_t dropped = 0;
    if (peer) {
        dropped = router_index_remove_edge(self->index, peer);
        router_peers_remove(self->peers, peer);
    }
    peer = router_peers_add(self->peers, routing_id, role, env->instance, now_ms);
    if (!peer) {
        s_bad_input(self, "peer", "peer table full", NULL);
        return;
    }
    tg_log_info("router: peer %s role=%s instance=%s subscriptions_dropped=%zu",
                dropped ? "rejoined" : "joined", router_role_name(role), peer->instance, dropped);
    tg_envelope_t *welcome = tg_envelope_new(TG_CMD_WELCOME);
    welcome->instance = strdup(self->instance);
    s_send(self, &welcome, routing_id);
    s_register_target_t target = {self, routing_id};
    tg_registry_foreach(self->registry, s_send_register, &target);
}

static void s_on_heartbeat(router_broker_t *self, zframe_t *routing_id, router_peer_t *peer,
                           const tg_envelope_t *env, tg_now_t now)
{
    /* The same routing id under another instance id is another process:
       unknown until it says HELLO. */
    bool known = peer && strcmp(peer->instance, env->instance) == 0;
    if (known) {
        peer->uptime_ms = env->uptime_ms;
        if (router_peer_set_stats(peer, env->stats, env->stats_count) != 0)
            tg_log_warning("router: stats not stored instance=%s reason=memory", peer->instance);
    }
    s_send_heartbeat(self, routing_id, known, now);
}

static void s_on_register(router_broker_t *self, router_peer_t *peer, tg_envelope_t *env)
{
    const char *reason = NULL;
    if (tg_event_type_validate(env->event_type, &reason) != 0) {
        if (!env->req) {
            s_bad_input(self, "peer", "REGISTER of an invalid type without req", peer);
            return;
        }
        tg_envelope_t *rejected = tg_envelope_new(TG_CMD_REJECTED);
        rejected->req = env->req;
        rejected->error = strdup(S_ERROR_INVALID_TYPE);
        rejected->message = strdup(reason ? reason : "invalid event type");
        s_send(self, &rejected, peer->routing_id);
        return;
    }
    char name[TG_MAX_TOPIC + 1];
    snprintf(name, sizeof name, "%s", env->event_type->name);
    int changed = tg_registry_put(self->registry, &env->event_type);
    if (env->req) {
        tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
        accepted->req = env->req;
        s_send(self, &accepted, peer->routing_id);
    }
    if (changed != 1)
        return; /* every peer has it already (WELCOME or an earlier broadcast) */
    tg_log_info("router: event type registered name=%s from=%s", name, peer->instance);
    const tg_event_type_t *type = tg_registry_get(self->registry, name);
    for (size_t i = 0; type && i < router_peers_size(self->peers); i++) {
        router_peer_t *other = router_peers_at(self->peers, i);
        if (other == peer)
            continue;
        s_register_target_t target = {self, other->routing_id};
        s_send_register(type, &target);
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

static void s_subscribe_error(router_broker_t *self, router_peer_t *peer, uint64_t req,
                              const char *error, const char *message)
{
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_SUBSCRIBE_ERROR);
    reply->req = req;
    reply->error = strdup(error);
    reply->message = strdup(message);
    s_send(self, &reply, peer->routing_id);
}

static void s_on_subscribe(router_broker_t *self, router_peer_t *peer, const tg_envelope_t *env)
{
    char message[TG_MAX_ERROR_TEXT];
    if (!s_topic_valid(env->match, env->topic)) {
        snprintf(message, sizeof message, "invalid topic for a %s subscription",
                 tg_match_name(env->match));
        s_subscribe_error(self, peer, env->req, S_ERROR_INVALID_URI, message);
        return;
    }
    if (env->match == TG_MATCH_EXACT && !tg_registry_get(self->registry, env->topic)) {
        snprintf(message, sizeof message, "no such event type: %s", env->topic);
        s_subscribe_error(self, peer, env->req, S_ERROR_UNKNOWN_EVENT, message);
        return;
    }
    /* An empty filter is no filter (the edge passes `_filter: ""` as is). */
    tg_query_t *filter = NULL;
    if (env->filter && *env->filter) {
        tg_query_error_t error;
        filter = tg_query_parse(env->filter, strlen(env->filter), &self->limits, &error);
        if (!filter) {
            s_subscribe_error(self, peer, env->req, S_ERROR_INVALID_FILTER, error.message);
            return;
        }
    }
    uint64_t sub_id = 0;
    if (router_index_add(self->index, env->match, env->topic, &filter, peer, &sub_id) != 0) {
        tg_log_error("router: subscription not stored topic=%s reason=memory", env->topic);
        s_subscribe_error(self, peer, env->req, S_ERROR_INTERNAL, "the router is out of memory");
        return;
    }
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_SUBSCRIBED);
    reply->req = env->req;
    reply->sub_id = sub_id;
    s_send(self, &reply, peer->routing_id);
}

static void s_on_unsubscribe(router_broker_t *self, router_peer_t *peer, const tg_envelope_t *env)
{
    /* Not held: the edge raced our expiry or restart; nothing to undo. */
    if (router_index_remove(self->index, env->sub_id, peer) != 0)
        tg_log_debug("router: unsubscribe of an unheld subscription sub_id=%" PRIu64 " instance=%s",
                     env->sub_id, peer->instance);
}

/* router_index_match callback: adds the subscription's id to the batch of
   every edge holding it. */
static void s_collect(const router_sub_t *sub, void *arg)
{
    router_broker_t *self = arg;
    void *const *edges = router_sub_edges(sub);
    for (uint32_t i = 0; i < sub->edges_count; i++) {
        router_peer_t *edge = edges[i];
        if (router_peer_batch_add(edge, sub->id) != 0) {
            self->drops++;
            continue;
        }
        if (edge->batch_count == 1)
            self->touched[self->touched_count++] = edge;
    }
}

/* Sends the event to every edge with matching subscriptions: one message
   each, with that edge's ids (split in chunks of TG_MAX_SUB_IDS should one
   edge ever hold more), the header re-encoded per edge and the body bytes
   copied as they came (the last edge gets the original frame). */
static void s_on_event(router_broker_t *self, tg_envelope_t *env)
{
    self->events_in++;
    const tg_event_type_t *type = tg_registry_get(self->registry, env->topic);
    if (!type) {
        self->drops++;
        tg_log_ratelimited(&self->drop_limiter, ROUTER_LOG_INTERVAL_MS,
                           "router: event dropped reason=unknown_type topic=%s", env->topic);
        return;
    }
    router_index_match(self->index, env->topic, strlen(env->topic),
                       env->body ? zframe_data(env->body) : NULL,
                       env->body ? zframe_size(env->body) : 0, s_collect, self);
    /* A TAP costs an envelope, a header encode and a body copy: only when
       a viewer (telegraphy-ctl tap) is there to read it. */
    if (self->tap && self->tap_viewers) {
        uint64_t matched = 0;
        for (size_t i = 0; i < self->touched_count; i++)
            matched += self->touched[i]->batch_count;
        if (router_tap_event(self->tap, env, matched, self->touched_count) != 0)
            self->tap_drops++;
    }
    if (self->touched_count == 0)
        return;

    zframe_t *body = env->body;
    env->body = NULL;
    /* The header fields the edges need are lent to env for the encodes and
       taken back below; anything an ingest put there is discarded. */
    free(env->audience);
    free(env->sub_ids);
    env->audience = type->audience;
    env->guaranteed = type->guaranteed;
    for (size_t i = 0; i < self->touched_count; i++) {
        router_peer_t *edge = self->touched[i];
        for (size_t offset = 0; offset < edge->batch_count; offset += TG_MAX_SUB_IDS) {
            size_t count = edge->batch_count - offset;
            if (count > TG_MAX_SUB_IDS)
                count = TG_MAX_SUB_IDS;
            bool last = i + 1 == self->touched_count && offset + count == edge->batch_count;
            env->sub_ids = edge->batch_ids + offset;
            env->sub_ids_count = count;
            env->body = last ? body : zframe_dup(body);
            if (last)
                body = NULL;
            if (tg_envelope_send_to(env, self->socket, edge->routing_id) == 0)
                self->events_out++;
            else {
                self->drops++;
                tg_log_ratelimited(&self->drop_limiter, ROUTER_LOG_INTERVAL_MS,
                                   "router: event dropped reason=\"%s\" topic=%s edge=%s",
                                   zmq_strerror(zmq_errno()), env->topic, edge->instance);
            }
        }
        edge->batch_count = 0;
    }
    self->touched_count = 0;
    env->audience = NULL;
    env->sub_ids = NULL;
    env->sub_ids_count = 0;
    zframe_destroy(&body);
}

/* Answers a TOKEN_SPEND that carries a req with REJECTED{req, error}. */
static void s_spend_rejected(router_broker_t *self, zframe_t *routing_id, uint64_t req,
                             const char *error, const char *message)
{
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_REJECTED);
    reply->req = req;
    reply->error = strdup(error);
    reply->message = strdup(message);
    s_send(self, &reply, routing_id);
}

/* TOKEN_SPEND from an edge: with a req, a session waits for the verdict;
   without, the edge re-sends what it spent before we (re)started, which is
   recorded silently, even during the warm-up. */
static void s_on_token_spend(router_broker_t *self, router_peer_t *peer, const tg_envelope_t *env,
                             tg_now_t now)
{
    bool warming_up = now.mono_ms - self->started_ms <
                      (int64_t)S_TOKEN_WARMUP_HEARTBEATS * (int64_t)self->heartbeat_ms;
    if (env->req && warming_up) {
        s_spend_rejected(self, peer->routing_id, env->req, S_ERROR_UNAVAILABLE,
                         "the router is starting; try again");
        return;
    }
    router_token_verdict_t verdict =
        router_tokens_spend(self->tokens, env->jti, (int64_t)env->exp, tg_now_wall_s(now));
    if (verdict == ROUTER_TOKEN_FULL)
        tg_log_ratelimited(&self->spend_limiter, ROUTER_LOG_INTERVAL_MS,
                           "router: token spend refused reason=table_full spent=%zu edge=%s",
                           router_tokens_size(self->tokens), peer->instance);
    if (!env->req)
        return;
    if (verdict == ROUTER_TOKEN_ACCEPTED) {
        tg_envelope_t *reply = tg_envelope_new(TG_CMD_ACCEPTED);
        reply->req = env->req;
        s_send(self, &reply, peer->routing_id);
    } else if (verdict == ROUTER_TOKEN_REPLAYED) {
        s_spend_rejected(self, peer->routing_id, env->req, S_ERROR_REPLAYED,
                         "this token was already used");
    } else {
        s_spend_rejected(self, peer->routing_id, env->req, S_ERROR_UNAVAILABLE,
                         "too many tokens spent recently");
    }
}

void router_broker_handle_peer(router_broker_t *self, zmsg_t **msg_p, tg_now_t now)
{
    assert(self && msg_p && *msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zframe_t *routing_id = zmsg_pop(msg);
    if (!routing_id || zmsg_size(msg) == 0) {
        s_bad_input(self, "peer", "no frames after the routing id", NULL);
        zframe_destroy(&routing_id);
        zmsg_destroy(&msg);
        return;
    }
    router_peer_t *peer = router_peers_lookup(self->peers, routing_id);
    const char *reason = NULL;
    tg_envelope_t *env = tg_envelope_decode(&msg, &reason);
    if (!env) {
        s_bad_input(self, "peer", reason, peer);
        zframe_destroy(&routing_id);
        return;
    }
    if (peer)
        peer->last_heard_ms = now.mono_ms;

    tg_command_t command = env->command;
    bool for_ingest = command == TG_CMD_REGISTER || command == TG_CMD_EVENT;
    bool for_edge = command == TG_CMD_SUBSCRIBE || command == TG_CMD_UNSUBSCRIBE ||
                    command == TG_CMD_TOKEN_SPEND;
    if (command == TG_CMD_MONITOR) {
        /* Republished whoever sent it: it names its own role and instance,
           and the events around a (re)connection come before HELLO. */
        router_broker_publish_monitor(self, &env);
    } else if (command == TG_CMD_HELLO)
        s_on_hello(self, routing_id, peer, env, now.mono_ms);
    else if (command == TG_CMD_HEARTBEAT)
        s_on_heartbeat(self, routing_id, peer, env, now);
    else if (!for_ingest && !for_edge)
        s_bad_input(self, "peer", "command not for the peer socket", peer);
    else if (!peer) {
        if (command == TG_CMD_EVENT) {
            self->events_in++;
            self->drops++;
        }
        /* A session waits on a spend: refuse now rather than let it time out. */
        if (command == TG_CMD_TOKEN_SPEND && env->req)
            s_spend_rejected(self, routing_id, env->req, S_ERROR_UNAVAILABLE,
                             "this edge must say HELLO again");
        s_tell_unknown(self, routing_id, now);
    } else if ((for_ingest && peer->role != ROUTER_ROLE_INGEST) ||
               (for_edge && peer->role != ROUTER_ROLE_EDGE))
        s_bad_input(self, "peer", "command from the wrong role", peer);
    else if (command == TG_CMD_REGISTER)
        s_on_register(self, peer, env);
    else if (command == TG_CMD_EVENT)
        s_on_event(self, env);
    else if (command == TG_CMD_SUBSCRIBE)
        s_on_subscribe(self, peer, env);
    else if (command == TG_CMD_TOKEN_SPEND)
        s_on_token_spend(self, peer, env, now);
    else
        s_on_unsubscribe(self, peer, env);
    tg_envelope_destroy(&env);
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
        s_bad_input(self, "control", "no frames after the routing id", NULL);
        goto done;
    }
    const char *reason = NULL;
    tg_envelope_t *env = tg_envelope_decode(&msg, &reason);
    if (!env) {
        s_bad_input(self, "control", reason, NULL);
        goto done;
    }
    if (env->command != TG_CMD_STATUS) {
        s_bad_input(self, "control", "command not for the control socket", NULL);
        tg_envelope_destroy(&env);
        goto done;
    }
    router_broker_stats_t own;
    router_broker_stats(self, &own);
    tg_envelope_t *reply = router_status_reply(env->req, self->instance, s_uptime_ms(self, now),
                                               &own, self->peers, now.mono_ms);
    tg_envelope_destroy(&env);
    zmsg_t *out = tg_envelope_encode(reply);
    tg_envelope_destroy(&reply);
    if (delimiter)
        zmsg_prepend(out, &delimiter);
    zmsg_prepend(out, &routing_id);
    if (zmsg_send(&out, control) != 0) {
        self->drops++;
        tg_log_ratelimited(&self->drop_limiter, ROUTER_LOG_INTERVAL_MS,
                           "router: status reply not sent error=\"%s\"", zmq_strerror(zmq_errno()));
    }
    zmsg_destroy(&out);
done:
    zmsg_destroy(&msg);
    zframe_destroy(&delimiter);
    zframe_destroy(&routing_id);
}

void router_broker_tick(router_broker_t *self, tg_now_t now)
{
    int64_t now_ms = now.mono_ms;
    int64_t elapsed = now_ms - self->rate_since_ms;
    if (elapsed > 0) {
        self->events_in_per_s = (int64_t)(self->events_in - self->rate_events_in) * 1000 / elapsed;
        self->events_out_per_s =
            (int64_t)(self->events_out - self->rate_events_out) * 1000 / elapsed;
        self->rate_events_in = self->events_in;
        self->rate_events_out = self->events_out;
        self->rate_since_ms = now_ms;
    }
    /* Downwards: removal moves the last peer into the freed slot. */
    int64_t silence_ms = 3 * (int64_t)self->heartbeat_ms;
    for (size_t i = router_peers_size(self->peers); i-- > 0;) {
        router_peer_t *peer = router_peers_at(self->peers, i);
        if (now_ms - peer->last_heard_ms <= silence_ms)
            continue;
        size_t dropped = router_index_remove_edge(self->index, peer);
        tg_log_info("router: peer expired role=%s instance=%s silent_ms=%" PRId64
                    " subscriptions_dropped=%zu",
                    router_role_name(peer->role), peer->instance, now_ms - peer->last_heard_ms,
                    dropped);
        router_peers_remove(self->peers, peer);
    }
    router_tokens_purge(self->tokens, tg_now_wall_s(now));
    if (router_map_size(self->told_unknown)) {
        router_map_destroy(&self->told_unknown);
        self->told_unknown = router_map_new();
        assert(self->told_unknown); /* out of memory: abort, as czmq does */
    }
}
