/*  router_persist: the router's side of persistence (docs/protocol.md,
    "Persistence"). Private to the broker (router_broker_private.h).

    One persist at a time: a HELLO from a persist while another one is live
    (heard within 3 heartbeats) is refused, logged as an error; once the
    first is silent, the newcomer takes its place (a persist restarted
    after kill -9 comes back under a new instance id).

    Events: a type with guaranteed or ttl is STOREd when persist is there.
    A guaranteed event that persist must keep (persist-held matches, or a
    ttl) waits in the pending table (router_store) for persist's ACCEPTED
    before any edge sees it and the ingest is answered; REJECTED, the
    deadline, persist leaving or a full table refuse it unavailable (no
    client sees an event its publisher was told was refused). Without
    persist a guaranteed event is refused; a ttl event is routed and
    counted retention_lost.

    Subscriptions with persistent or since: the edge becomes a holder of
    the key, then RESUME to persist and a pending entry (in this order: no
    event falls between the replay and the live stream); persist's
    ACCEPTED {req, instance} answers SUBSCRIBED {replay: true}; its
    REJECTED answers SUBSCRIBE_ERROR and leaves the holder (the edge
    releases the key when none of its sessions uses it).
    REPLAY and REPLAY_END are relayed to the edge they name as received;
    MORE, ACK and UNSUBSCRIBE with client_id go to persist.
*/
#include <inttypes.h>
#include <string.h>

#include "router_broker_private.h"
#include "tg_alloc.h"

/* Logs a persistence line, rate-limited. */
#define S_LOG(self, ...)                                                                           \
    tg_log_ratelimited(&(self)->store_limiter, ROUTER_LOG_INTERVAL_MS, __VA_ARGS__)

/* ---- one persist -------------------------------------------------------- */

bool router_persist_hello(router_broker_t *self, router_request_t *request)
{
    router_peer_t *live = self->persist;
    if (!live || live == request->peer)
        return true;
    int64_t silence_ms = 3 * (int64_t)self->heartbeat_ms;
    if (request->now.mono_ms - live->last_heard_ms <= silence_ms) {
        self->bad_input++;
        tg_log_error("router: persist refused instance=%s reason=\"persist %s is live: one "
                     "persist at a time\"",
                     request->env->instance, live->instance);
        return false;
    }
    tg_log_error("router: persist %s replaced by %s (silent for %" PRId64 " ms)", live->instance,
                 request->env->instance, request->now.mono_ms - live->last_heard_ms);
    router_broker_forget(self, live);
    return true;
}

void router_persist_joined(router_broker_t *self, router_peer_t *peer)
{
    self->persist = peer;
}

/* Answers an entry persist will not answer any more, and frees it: the
   ingest gets REJECTED (when it waits), the edge SUBSCRIBE_ERROR. */
static void s_fail(router_broker_t *self, router_pending_t **entry_p, const char *error,
                   const char *message, uint64_t pub_id)
{
    router_pending_t *entry = *entry_p;
    if (entry->kind == ROUTER_PENDING_STORE) {
        self->store_rejected++;
        S_LOG(self, "router: guaranteed event refused topic=%s pub_id=%" PRIu64 " reason=\"%s\"",
              entry->event->topic, entry->event->pub_id, message);
    }
    uint64_t req = entry->kind == ROUTER_PENDING_STORE ? entry->event->req : entry->req;
    if (req) {
        tg_envelope_t *reply = tg_envelope_new(
            entry->kind == ROUTER_PENDING_STORE ? TG_CMD_REJECTED : TG_CMD_SUBSCRIBE_ERROR);
        reply->req = req;
        reply->error = tg_strdup(error);
        reply->message = tg_strdup(message);
        reply->pub_id = entry->kind == ROUTER_PENDING_RESUME ? pub_id : 0;
        router_broker_send_peer(self, entry->routing_id, &reply);
    }
    router_store_entry_free(entry_p);
}

void router_persist_left(router_broker_t *self, router_peer_t *peer)
{
    tg_check(peer == self->persist);
    self->persist = NULL;
    router_pending_t *entry;
    while ((entry = router_store_pop(self->store)))
        s_fail(self, &entry, ROUTER_ERROR_UNAVAILABLE, "persist went away", 0);
}

void router_persist_tick(router_broker_t *self, tg_now_t now)
{
    router_pending_t *entry;
    while ((entry = router_store_expired(self->store, now.mono_ms)))
        s_fail(self, &entry, ROUTER_ERROR_UNAVAILABLE, "persist did not answer in time", 0);
}

/* ---- events --------------------------------------------------------------- */

/* Refuses the request's event (batches dropped, REJECTED when it waits). */
static void s_refuse_event(router_broker_t *self, router_request_t *request, const char *message)
{
    router_broker_drop_batches(self);
    self->store_rejected++;
    S_LOG(self, "router: guaranteed event refused topic=%s pub_id=%" PRIu64 " reason=\"%s\"",
          request->env->topic, request->env->pub_id, message);
    if (request->env->req)
        router_broker_refuse(self, request, TG_CMD_REJECTED, ROUTER_ERROR_UNAVAILABLE, message);
}

bool router_persist_event(router_broker_t *self, router_request_t *request,
                          const tg_event_type_t *type, zframe_t **header_p)
{
    if (!type->guaranteed && type->ttl == 0)
        return false;
    tg_envelope_t *env = request->env;
    router_peer_t *persist = self->persist;
    if (!persist) {
        if (type->guaranteed) {
            s_refuse_event(self, request, "persist is not connected");
            return true;
        }
        self->retention_lost++;
        return false;
    }
    /* Persistent subscriptions collect guaranteed events only (DESIGN
       2.3): a ttl-only event is stored for retention and owed to nobody. */
    size_t held = type->guaranteed ? persist->batch_count : 0;
    /* Nothing for persist to keep: no STORE (it would write nothing). */
    if (held == 0 && type->ttl == 0)
        return false;
    bool hold = type->guaranteed;
    if (held > TG_MAX_SUB_IDS) {
        if (hold) {
            s_refuse_event(self, request, "too many persistent subscriptions match");
            return true;
        }
        self->retention_lost++;
        return false;
    }
    tg_envelope_t *store = tg_envelope_new(TG_CMD_STORE);
    uint64_t expires_at = type->ttl ? env->ts + (uint64_t)type->ttl * 1000000u : 0;
    store->expires_at = expires_at > TG_MAX_ID ? TG_MAX_ID : expires_at;
    /* The envelope owns its own copy: nothing of the peer's is lent to it. */
    store->sub_ids = held ? tg_memdup(persist->batch_ids, held * sizeof(uint64_t)) : NULL;
    store->sub_ids_count = held;
    router_pending_t *pending = NULL;
    if (hold) {
        pending = router_store_add(self->store, ROUTER_PENDING_STORE, ++self->store_req, NULL,
                                   request->now.mono_ms + (int64_t)self->store_timeout_ms);
        if (!pending) {
            tg_envelope_destroy(&store);
            s_refuse_event(self, request, "too many events waiting for persist");
            return true;
        }
        store->req = self->store_req;
    }
    zframe_t *header = tg_envelope_event_header(env, type->audience, type->guaranteed);
    int rc = tg_envelope_send_frames(store, self->socket, persist->routing_id, header, env->body);
    tg_envelope_destroy(&store);
    if (hold) {
        if (rc != 0) {
            pending = router_store_take(self->store, ROUTER_PENDING_STORE, self->store_req, NULL);
            router_store_entry_free(&pending);
            zframe_destroy(&header);
            s_refuse_event(self, request, "persist does not take messages");
            return true;
        }
        /* Held: the edges and the ingest hear of it on persist's answer. */
        pending->routing_id = zframe_dup(request->routing_id);
        pending->event = request->env;
        request->env = NULL;
        pending->header = header;
        router_broker_drop_batches(self);
        return true;
    }
    if (rc != 0) {
        self->retention_lost++;
        S_LOG(self, "router: STORE not sent topic=%s reason=\"%s\"", env->topic,
              zmq_strerror(zmq_errno()));
    }
    *header_p = header; /* routed now by the caller, with the same header */
    return false;
}

/* Persist stored a held event: to the edges (matched now), then ACCEPTED
   to the ingest. */
static void s_stored(router_broker_t *self, router_pending_t **entry_p)
{
    router_pending_t *entry = *entry_p;
    const tg_event_type_t *type = tg_registry_get(self->registry, entry->event->topic);
    tg_check(type); /* the registry only grows */
    router_broker_match(self, entry->event, false);
    router_broker_fanout(self, entry->event, type, entry->header);
    if (entry->event->req) {
        tg_envelope_t *accepted = tg_envelope_new(TG_CMD_ACCEPTED);
        accepted->req = entry->event->req;
        accepted->pub_id = entry->event->pub_id;
        router_broker_send_peer(self, entry->routing_id, &accepted);
    }
    router_store_entry_free(entry_p);
}

/* ---- subscriptions ------------------------------------------------------ */

void router_persist_subscribe(router_broker_t *self, router_request_t *request,
                              tg_query_t **filter_p)
{
    const tg_envelope_t *env = request->env;
    if (!self->persist) {
        tg_query_destroy(filter_p);
        router_broker_refuse(self, request, TG_CMD_SUBSCRIBE_ERROR, ROUTER_ERROR_UNAVAILABLE,
                             "persist is not connected");
        return;
    }
    router_pending_t *entry =
        router_store_add(self->store, ROUTER_PENDING_RESUME, env->req, request->peer->instance,
                         request->now.mono_ms + (int64_t)self->store_timeout_ms);
    if (!entry) {
        tg_query_destroy(filter_p);
        router_broker_refuse(self, request, TG_CMD_SUBSCRIBE_ERROR, ROUTER_ERROR_UNAVAILABLE,
                             "too many subscriptions waiting for persist");
        return;
    }
    /* The canonical text outlives the filter, which the index takes. */
    char *canonical = *filter_p ? tg_strdup(tg_query_canonical(*filter_p)) : NULL;
    /* The edge holds the key from now on, before persist reads anything:
       an event routed before this RESUME was STOREd before it (persist
       reads after the writes it received earlier: the replay has it), an
       event routed after it goes to the edge live, which holds it until
       the replay ends. No event falls between the two. */
    uint64_t sub_id = 0;
    if (router_broker_hold(self, env->match, env->topic, filter_p, request->peer, &sub_id) != 0) {
        free(canonical);
        entry = router_store_take(self->store, ROUTER_PENDING_RESUME, env->req,
                                  request->peer->instance);
        router_store_entry_free(&entry);
        router_broker_refuse(self, request, TG_CMD_SUBSCRIBE_ERROR, ROUTER_ERROR_INTERNAL,
                             "the router could not store this subscription");
        return;
    }
    entry->routing_id = zframe_dup(request->routing_id);
    entry->match = env->match;
    entry->topic = tg_strdup(env->topic);
    entry->sub_id = sub_id;
    tg_envelope_t *resume = tg_envelope_new(TG_CMD_RESUME);
    resume->req = env->req;
    resume->instance = tg_strdup(request->peer->instance);
    resume->sub_id = sub_id;
    resume->topic = tg_strdup(env->topic);
    resume->match = env->match;
    resume->filter = canonical;
    resume->client_id = env->client_id ? tg_strdup(env->client_id) : NULL;
    resume->persistent = env->persistent;
    resume->since = env->since;
    int rc = tg_envelope_send_to(resume, self->socket, self->persist->routing_id);
    tg_envelope_destroy(&resume);
    if (rc != 0) {
        entry = router_store_take(self->store, ROUTER_PENDING_RESUME, env->req,
                                  request->peer->instance);
        s_fail(self, &entry, ROUTER_ERROR_UNAVAILABLE, "persist does not take messages", 0);
    }
}

/* Persist answered a RESUME: the edge (a holder since the RESUME) is told
   a replay follows, or is refused with persist's error. A refusal leaves
   the holder in place: the edge may share the key with other sessions,
   and releases it itself when none of its sessions uses it. */
static void s_resumed(router_broker_t *self, const tg_envelope_t *answer,
                      router_pending_t **entry_p)
{
    router_pending_t *entry = *entry_p;
    if (answer->command == TG_CMD_REJECTED) {
        s_fail(self, entry_p, answer->error, answer->message ? answer->message : "",
               answer->pub_id);
        return;
    }
    router_peer_t *edge = router_peers_lookup(self->peers, entry->routing_id);
    if (!edge || edge->role != ROUTER_ROLE_EDGE || strcmp(edge->instance, entry->instance) != 0) {
        S_LOG(self, "router: resume answered for a gone edge instance=%s", entry->instance);
        router_store_entry_free(entry_p);
        return;
    }
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_SUBSCRIBED);
    reply->req = entry->req;
    reply->sub_id = entry->sub_id;
    reply->replay = true;
    router_broker_send_peer(self, entry->routing_id, &reply);
    router_store_entry_free(entry_p);
}

/* ---- handlers ----------------------------------------------------------- */

void router_persist_on_answer(router_broker_t *self, router_request_t *request)
{
    const tg_envelope_t *answer = request->env;
    bool resume = answer->instance != NULL;
    router_pending_t *entry =
        router_store_take(self->store, resume ? ROUTER_PENDING_RESUME : ROUTER_PENDING_STORE,
                          answer->req, answer->instance);
    if (!entry) {
        /* Refused already (its deadline passed) or never asked. */
        S_LOG(self, "router: late or unknown answer from persist command=%s req=%" PRIu64,
              tg_command_name(answer->command), answer->req);
        return;
    }
    if (resume)
        s_resumed(self, answer, &entry);
    else if (answer->command == TG_CMD_ACCEPTED)
        s_stored(self, &entry);
    else
        s_fail(self, &entry, ROUTER_ERROR_UNAVAILABLE,
               answer->message && *answer->message ? answer->message : "persist refused it", 0);
}

void router_persist_on_replay(router_broker_t *self, router_request_t *request)
{
    tg_envelope_t *env = request->env;
    zframe_t *routing_id = zframe_new(env->instance, strlen(env->instance));
    router_peer_t *edge = router_peers_lookup(self->peers, routing_id);
    zframe_destroy(&routing_id);
    if (!edge || edge->role != ROUTER_ROLE_EDGE) {
        self->drops++;
        S_LOG(self, "router: %s for an unknown edge instance=%s", tg_command_name(env->command),
              env->instance);
        return;
    }
    if (tg_envelope_relay(env, self->socket, edge->routing_id) != 0) {
        self->drops++;
        S_LOG(self, "router: %s not relayed edge=%s reason=\"%s\"", tg_command_name(env->command),
              edge->instance, zmq_strerror(zmq_errno()));
    }
}

void router_persist_on_forward(router_broker_t *self, router_request_t *request)
{
    tg_envelope_t *env = request->env;
    if (!self->persist) {
        self->drops++;
        S_LOG(self, "router: %s dropped reason=\"persist is not connected\" edge=%s",
              tg_command_name(env->command), request->peer->instance);
        return;
    }
    if (env->command == TG_CMD_MORE) {
        /* Credit for this edge's replay: named by us, not by the sender. */
        free(env->instance);
        env->instance = tg_strdup(request->peer->instance);
    }
    if (tg_envelope_send_to(env, self->socket, self->persist->routing_id) != 0) {
        self->drops++;
        S_LOG(self, "router: %s not forwarded to persist reason=\"%s\"",
              tg_command_name(env->command), zmq_strerror(zmq_errno()));
    }
}

/* REGISTER from persist (its re-sync): a type we do not know is adopted
   and sent to every other peer; one we know wins (ours is newer). */
void router_persist_on_register(router_broker_t *self, router_request_t *request)
{
    tg_envelope_t *env = request->env;
    if (tg_registry_get(self->registry, env->event_type->name)) {
        tg_log_debug("router: REGISTER from persist ignored (known) name=%s",
                     env->event_type->name);
        return;
    }
    char name[TG_MAX_TOPIC + 1];
    snprintf(name, sizeof name, "%s", env->event_type->name);
    tg_registry_put(self->registry, &env->event_type);
    tg_log_info("router: event type adopted from persist name=%s", name);
    const tg_event_type_t *type = tg_registry_get(self->registry, name);
    for (size_t i = 0; type && i < router_peers_size(self->peers); i++) {
        router_peer_t *other = router_peers_at(self->peers, i);
        if (other != request->peer)
            router_broker_send_register(self, other->routing_id, type);
    }
}

/* TOKEN_SPEND from persist (its re-sync): recorded, never answered. */
void router_persist_on_token(router_broker_t *self, router_request_t *request)
{
    const tg_envelope_t *env = request->env;
    router_tokens_spend(self->tokens, env->jti, (int64_t)env->exp, tg_now_wall_s(request->now));
}

void router_persist_token_spent(router_broker_t *self, const tg_envelope_t *spend)
{
    if (!self->persist)
        return;
    tg_envelope_t *env = tg_envelope_new(TG_CMD_TOKEN_SPEND);
    env->jti = tg_strdup(spend->jti);
    env->exp = spend->exp;
    router_broker_send_peer(self, self->persist->routing_id, &env);
}
