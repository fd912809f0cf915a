/*  ingest_broker: what the ingest does with each message, see ingest_broker.h.

    The hot path is PUBLISH on the PULL socket: one decode (the body frame is
    moved, never copied), one registry lookup, one body validation, then the
    same envelope is turned into the EVENT and sent. Nothing else allocates.
*/
#include "ingest_broker.h"

#include <inttypes.h>
#include <string.h>

#include "ingest_pending.h"
#include "ingest_pubid.h"
#include "tg_alloc.h"
#include "tg_body.h"
#include "tg_envelope.h"
#include "tg_event_type.h"
#include "tg_link.h"
#include "tg_log.h"
#include "tg_rate.h"
#include "tg_utf8.h"

struct _ingest_broker_t {
    tg_config_t cfg;                /* our copy */
    zsock_t *ack;                   /* borrowed: ROUTER for acknowledged clients */
    zsock_t *router;                /* borrowed: DEALER to the router */
    tg_link_t *link;                /* the router conversation, over router */
    tg_registry_t *registry;        /* event types known here */
    ingest_pubid_t *pubid;          /* publication id generator */
    ingest_pending_t *pending;      /* REGISTER requests waiting for the router */
    ingest_pending_t *stores;       /* guaranteed events waiting to be stored */
    int64_t store_wait_ms;          /* how long a guaranteed event may wait */
    uint64_t last_req;              /* last request id we used towards the router */
    int64_t pending_timeout_ms;     /* how long a REGISTER may wait */
    ingest_stats_t stats;           /* counters (gauges filled on demand) */
    tg_rate_t events_in_rate;       /* events_in per second, per heartbeat */
    tg_rate_t events_out_rate;      /* events_out per second, per heartbeat */
    tg_log_limiter_t bad_input_log; /* bad messages, any socket */
    tg_log_limiter_t rejected_log;  /* refusals on the PULL path */
    tg_log_limiter_t drops_log;     /* events lost on a full router link */
    tg_log_limiter_t router_log;    /* refusals and oddities from the router */
};

static tg_link_send_fn s_link_send;
static void s_link_deliver(void *arg, tg_envelope_t *env, tg_now_t now);
static void s_resync(void *arg, tg_now_t now);
static void s_add_stats(void *arg, tg_envelope_t *heartbeat, tg_now_t now);

ingest_broker_t *ingest_broker_new(const tg_config_t *cfg, const char *instance, zsock_t *ack,
                                   zsock_t *router, tg_now_t now)
{
    assert(cfg && instance && ack && router);
    ingest_broker_t *self = tg_new(ingest_broker_t);
    self->cfg = *cfg;
    self->ack = ack;
    self->router = router;
    tg_link_ops_t ops = {s_link_deliver, s_resync, s_add_stats, self};
    self->link = tg_link_new(cfg, "ingest", instance, s_link_send, self, &ops, now);
    self->registry = tg_registry_new();
    self->pubid = ingest_pubid_new();
    self->pending = ingest_pending_new(INGEST_PENDING_MAX);
    self->stores = ingest_pending_new(INGEST_STORES_MAX);
    self->store_wait_ms =
        (int64_t)(cfg->store_timeout_ms ? cfg->store_timeout_ms : 5000) + INGEST_STORE_GRACE_MS;
    //  The first heartbeat's rates count from the start.
    tg_rate_sample(&self->events_in_rate, 0, now.mono_ms);
    tg_rate_sample(&self->events_out_rate, 0, now.mono_ms);
    int64_t timeout = (int64_t)cfg->heartbeat_ms * INGEST_PENDING_HEARTBEATS;
    self->pending_timeout_ms =
        timeout < INGEST_PENDING_TIMEOUT_MAX_MS ? timeout : INGEST_PENDING_TIMEOUT_MAX_MS;
    return self;
}

void ingest_broker_destroy(ingest_broker_t **self_p)
{
    assert(self_p);
    ingest_broker_t *self = *self_p;
    if (!self)
        return;
    tg_link_destroy(&self->link);
    tg_registry_destroy(&self->registry);
    ingest_pubid_destroy(&self->pubid);
    ingest_pending_destroy(&self->pending);
    ingest_pending_destroy(&self->stores);
    free(self);
    *self_p = NULL;
}

int64_t ingest_broker_pending_timeout_ms(const ingest_broker_t *self)
{
    assert(self);
    return self->pending_timeout_ms;
}

void ingest_broker_stats(const ingest_broker_t *self, ingest_stats_t *stats)
{
    assert(self && stats);
    *stats = self->stats;
    stats->event_types = tg_registry_size(self->registry);
    stats->queue_depth = ingest_pending_size(self->pending);
    stats->stores_waiting = ingest_pending_size(self->stores);
    stats->bad_input += tg_link_bad_input(self->link);
}

//  A new request id towards the router: never 0 (that means "none"), and
//  within the protocol's id range.
static uint64_t s_next_req(ingest_broker_t *self)
{
    if (++self->last_req > TG_MAX_ID)
        self->last_req = 1;
    return self->last_req;
}

static void s_bad_input(ingest_broker_t *self, const char *socket, const char *reason)
{
    self->stats.bad_input++;
    tg_log_ratelimited(&self->bad_input_log, INGEST_LOG_INTERVAL_MS,
                       "ingest: bad_input socket=%s reason=%s", socket,
                       reason ? reason : "unknown");
}

/* --- replies to clients on the ack socket ------------------------------ */

//  Sends REJECTED{req, error, message} to routing_id. Does nothing when
//  there is nobody to answer (PULL: routing_id NULL) or no req to answer to.
static void s_send_rejected(ingest_broker_t *self, zframe_t *routing_id, uint64_t req,
                            const char *error, const char *message)
{
    if (!routing_id || req == 0)
        return;
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_REJECTED);
    reply->req = req;
    reply->error = tg_strdup(error);
    //  The message may quote the client's own text: keep it within the
    //  protocol's bound and cut on a character boundary.
    size_t len = strnlen(message, TG_MAX_ERROR_TEXT);
    while (len > 0 && !tg_utf8_valid(message, len))
        len--;
    reply->message = tg_strndup(message, len);
    tg_envelope_send_to(reply, self->ack, routing_id); //  a client gone: nothing to do
    tg_envelope_destroy(&reply);
}

//  A refused request: counted, answered on the ack socket, logged (rate
//  limited) on the PULL path where nobody else will hear of it.
static void s_refuse(ingest_broker_t *self, zframe_t *routing_id, uint64_t req, const char *error,
                     const char *message)
{
    self->stats.rejected++;
    if (routing_id)
        s_send_rejected(self, routing_id, req, error, message);
    else {
        //  The message may quote a publisher's topic: no control characters
        //  in our log lines.
        char printable[TG_MAX_ERROR_TEXT];
        size_t i = 0;
        for (; message[i] && i + 1 < sizeof(printable); i++)
            printable[i] = (unsigned char)message[i] < 0x20 ? '?' : message[i];
        printable[i] = '\0';
        tg_log_ratelimited(&self->rejected_log, INGEST_LOG_INTERVAL_MS,
                           "ingest: rejected error=%s message=\"%s\"", error, printable);
    }
}

static void s_send_accepted(ingest_broker_t *self, zframe_t *routing_id, uint64_t req,
                            uint64_t pub_id)
{
    if (!routing_id || req == 0)
        return;
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_ACCEPTED);
    reply->req = req;
    reply->pub_id = pub_id;
    tg_envelope_send_to(reply, self->ack, routing_id);
    tg_envelope_destroy(&reply);
}

/* --- PUBLISH ----------------------------------------------------------- */

//  Checks a PUBLISH and forwards it as an EVENT stamped with the turn's
//  wall clock. Takes ownership of *env_p. routing_id is the client to
//  answer (ack socket) or NULL (PULL).
static void s_publish(ingest_broker_t *self, tg_envelope_t **env_p, zframe_t *routing_id,
                      tg_now_t now)
{
    tg_envelope_t *env = *env_p;
    *env_p = NULL;
    self->stats.events_in++;
    uint64_t req = env->req;
    char message[TG_MAX_ERROR_TEXT];

    const tg_event_type_t *type = tg_registry_get(self->registry, env->topic);
    if (!type) {
        snprintf(message, sizeof(message), "unknown event type: %s", env->topic);
        s_refuse(self, routing_id, req, INGEST_ERROR_UNKNOWN_EVENT, message);
        goto done;
    }
    size_t size = zframe_size(env->body);
    if (size > self->cfg.max_event) {
        snprintf(message, sizeof(message), "event body is %zu bytes, the limit is %" PRIu32, size,
                 self->cfg.max_event);
        s_refuse(self, routing_id, req, INGEST_ERROR_TOO_LARGE, message);
        goto done;
    }
    if (tg_body_validate(zframe_data(env->body), size, type, message, sizeof(message)) != 0) {
        s_refuse(self, routing_id, req, INGEST_ERROR_INVALID_EVENT, message);
        goto done;
    }
    uint64_t pub_id = ingest_pubid_next(self->pubid, now.wall_us);
    if (pub_id == 0) {
        s_refuse(self, routing_id, req, INGEST_ERROR_UNAVAILABLE, "publication ids are exhausted");
        goto done;
    }
    //  A guaranteed event on the acknowledged path is ACCEPTED only once
    //  the router reports it stored (DESIGN 2.6): it travels with a request
    //  id of ours, and the publisher waits in `stores` for the answer.
    uint64_t store_req = 0;
    if (type->guaranteed && routing_id) {
        store_req = s_next_req(self);
        if (ingest_pending_add(self->stores, store_req, routing_id, req, env->topic, pub_id,
                               now.mono_ms + self->store_wait_ms) != 0) {
            s_refuse(self, routing_id, req, INGEST_ERROR_UNAVAILABLE,
                     "too many guaranteed events are waiting to be stored");
            goto done;
        }
    }
    //  The PUBLISH becomes the EVENT: topic, to_users and the body frame
    //  move over as they are.
    env->command = TG_CMD_EVENT;
    env->req = store_req;
    env->pub_id = pub_id;
    env->ts = now.wall_us > 0 ? (uint64_t)now.wall_us : 0;
    if (tg_envelope_send(env, self->router) != 0) {
        if (store_req)
            ingest_pending_take(self->stores, store_req, NULL, NULL);
        if (routing_id)
            s_refuse(self, routing_id, req, INGEST_ERROR_UNAVAILABLE,
                     "the router link is full or down");
        else {
            self->stats.drops++;
            tg_log_ratelimited(&self->drops_log, INGEST_LOG_INTERVAL_MS,
                               "ingest: drop reason=router_link_full topic=%s", env->topic);
        }
        goto done;
    }
    self->stats.events_out++;
    if (!store_req)
        s_send_accepted(self, routing_id, req, pub_id);
done:
    tg_envelope_destroy(&env);
}

/* --- REGISTER ---------------------------------------------------------- */

//  Stores a client's REGISTER and forwards it to the router, remembering
//  whom to answer until now + the pending timeout. Takes ownership of
//  *env_p.
static void s_register(ingest_broker_t *self, tg_envelope_t **env_p, zframe_t *routing_id,
                       tg_now_t now)
{
    tg_envelope_t *env = *env_p;
    *env_p = NULL;
    uint64_t client_req = env->req;
    const char *reason = NULL;
    //  Decoding already validated the type; checked again because storing
    //  an invalid definition would poison every later PUBLISH of it.
    if (!env->event_type || tg_event_type_validate(env->event_type, &reason) != 0) {
        s_bad_input(self, routing_id ? "ingest_ack" : "ingest", reason);
        s_send_rejected(self, routing_id, client_req, INGEST_ERROR_BAD_REQUEST,
                        reason ? reason : "missing event type");
        goto done;
    }
    tg_event_type_t *copy = tg_event_type_dup(env->event_type);
    if (tg_registry_put(self->registry, &copy) == 1)
        tg_log_info("ingest: register type=%s", env->event_type->name);
    tg_event_type_destroy(&copy);

    uint64_t req = s_next_req(self);
    int64_t deadline = now.mono_ms + self->pending_timeout_ms;
    if (ingest_pending_add(self->pending, req, routing_id, client_req, env->event_type->name, 0,
                           deadline) != 0) {
        s_refuse(self, routing_id, client_req, INGEST_ERROR_UNAVAILABLE,
                 "too many registrations waiting for the router");
        goto done;
    }
    env->req = req;
    if (tg_envelope_send(env, self->router) != 0) {
        ingest_pending_take(self->pending, req, NULL, NULL);
        s_refuse(self, routing_id, client_req, INGEST_ERROR_UNAVAILABLE,
                 "the router link is full or down");
    }
done:
    tg_envelope_destroy(&env);
}

//  Dispatches a decoded request from a publisher socket.
static void s_client_request(ingest_broker_t *self, tg_envelope_t **env_p, zframe_t *routing_id,
                             const char *socket, tg_now_t now)
{
    tg_envelope_t *env = *env_p;
    if (env->command == TG_CMD_PUBLISH)
        s_publish(self, env_p, routing_id, now);
    else if (env->command == TG_CMD_REGISTER)
        s_register(self, env_p, routing_id, now);
    else {
        char message[128];
        snprintf(message, sizeof(message), "unexpected command %s", tg_command_name(env->command));
        s_bad_input(self, socket, message);
        s_send_rejected(self, routing_id, env->req, INGEST_ERROR_BAD_REQUEST, message);
        tg_envelope_destroy(env_p);
    }
}

void ingest_broker_on_pull(ingest_broker_t *self, zmsg_t **msg_p, tg_now_t now)
{
    assert(self && msg_p);
    const char *reason = NULL;
    tg_envelope_t *env = tg_envelope_decode(msg_p, &reason);
    if (!env) {
        s_bad_input(self, "ingest", reason);
        return;
    }
    s_client_request(self, &env, NULL, "ingest", now);
}

//  The req of a message that failed to decode, or 0. The header is decoded
//  again as if it were a STATUS, whose only field is req: the same hardened
//  decoder reads it, every other (possibly bad) field is ignored.
static uint64_t s_recover_req(zframe_t **header_p)
{
    if (!*header_p)
        return 0;
    zmsg_t *probe = zmsg_new();
    zmsg_addstr(probe, tg_command_name(TG_CMD_STATUS));
    zmsg_append(probe, header_p);
    tg_envelope_t *env = tg_envelope_decode(&probe, NULL);
    uint64_t req = env ? env->req : 0;
    tg_envelope_destroy(&env);
    return req;
}

void ingest_broker_on_ack(ingest_broker_t *self, zmsg_t **msg_p, tg_now_t now)
{
    assert(self && msg_p);
    zmsg_t *msg = *msg_p;
    zframe_t *routing_id = zmsg_pop(msg);
    if (!routing_id || zmsg_size(msg) < 2) {
        //  No header: no req to answer to.
        s_bad_input(self, "ingest_ack", "missing header");
        zframe_destroy(&routing_id);
        zmsg_destroy(msg_p);
        return;
    }
    //  Kept aside in case decoding fails and we need the req to answer.
    zmsg_first(msg);
    zframe_t *header = zframe_dup(zmsg_next(msg));
    const char *reason = NULL;
    tg_envelope_t *env = tg_envelope_decode(msg_p, &reason);
    if (env) {
        zframe_destroy(&header);
        s_client_request(self, &env, routing_id, "ingest_ack", now);
    } else {
        s_bad_input(self, "ingest_ack", reason);
        uint64_t req = s_recover_req(&header);
        s_send_rejected(self, routing_id, req, INGEST_ERROR_BAD_REQUEST,
                        reason ? reason : "malformed request");
        zframe_destroy(&header);
    }
    zframe_destroy(&routing_id);
}

/* --- the router link --------------------------------------------------- */

//  The conversation with the router is tg_link's: these are the ingest's
//  parts of it (its socket, its resync, its stats, the other messages).

//  tg_link's send: the DEALER, never blocking.
static int s_link_send(void *arg, tg_envelope_t *envelope)
{
    ingest_broker_t *self = arg;
    return tg_envelope_send(envelope, self->router);
}

void ingest_broker_start(ingest_broker_t *self)
{
    assert(self);
    tg_link_start(self->link);
}

//  Sends one REGISTER of a known type to the router (resync). Its answer
//  finds no pending entry and is ignored, unless it is a refusal (logged).
static void s_resend_type(const tg_event_type_t *type, void *arg)
{
    ingest_broker_t *self = arg;
    tg_envelope_t *env = tg_envelope_new(TG_CMD_REGISTER);
    env->req = s_next_req(self);
    env->event_type = tg_event_type_dup(type);
    tg_envelope_send(env, self->router); //  a full link: the next resync retries
    tg_envelope_destroy(&env);
}

//  The router welcomed us (it may have restarted, or forgotten us after a
//  silence): teach it every type we know (tg_link_ops_t.resync).
static void s_resync(void *arg, tg_now_t now)
{
    (void)now;
    ingest_broker_t *self = arg;
    self->stats.resyncs++;
    tg_log_info("ingest: resync router=%s types=%zu", tg_link_router(self->link),
                tg_registry_size(self->registry));
    tg_registry_foreach(self->registry, s_resend_type, self);
}

typedef struct {
    ingest_broker_t *self;
    tg_envelope_t *answer; /* the router's ACCEPTED or REJECTED */
} s_relay_t;

//  Relays the router's answer to the client that asked (ingest_pending_fn).
static void s_relay(const ingest_pending_entry_t *entry, void *arg)
{
    s_relay_t *relay = arg;
    ingest_broker_t *self = relay->self;
    tg_envelope_t *answer = relay->answer;
    if (answer->command == TG_CMD_ACCEPTED) {
        s_send_accepted(self, entry->routing_id, entry->client_req, entry->pub_id);
        return;
    }
    self->stats.rejected++;
    const char *message = answer->message ? answer->message : "";
    if (entry->routing_id)
        s_send_rejected(self, entry->routing_id, entry->client_req, answer->error, message);
    else
        tg_log_ratelimited(&self->router_log, INGEST_LOG_INTERVAL_MS,
                           "ingest: router_rejected type=%s error=%s message=\"%s\"", entry->name,
                           answer->error, message);
}

static void s_router_answer(ingest_broker_t *self, tg_envelope_t *answer)
{
    s_relay_t relay = {self, answer};
    if (ingest_pending_take(self->pending, answer->req, s_relay, &relay) == 0 ||
        ingest_pending_take(self->stores, answer->req, s_relay, &relay) == 0)
        return;
    //  No one waiting: the answer to a resync REGISTER, or a late one.
    if (answer->command == TG_CMD_REJECTED)
        tg_log_ratelimited(&self->router_log, INGEST_LOG_INTERVAL_MS,
                           "ingest: router_rejected req=%" PRIu64 " error=%s message=\"%s\"",
                           answer->req, answer->error, answer->message ? answer->message : "");
}

void ingest_broker_on_router(ingest_broker_t *self, zmsg_t **msg_p, tg_now_t now)
{
    assert(self && msg_p);
    tg_link_on_message(self->link, msg_p, now);
}

//  A router message other than WELCOME / HEARTBEAT (tg_link_ops_t.deliver;
//  borrowed: the event type of a REGISTER is moved out).
static void s_link_deliver(void *arg, tg_envelope_t *env, tg_now_t now)
{
    (void)now; //  nothing from the router is timed yet
    ingest_broker_t *self = arg;
    switch (env->command) {
    case TG_CMD_REGISTER: {
        //  The router's registry (after WELCOME, or another ingest's type).
        char name[TG_MAX_TOPIC + 1];
        snprintf(name, sizeof(name), "%s", env->event_type->name);
        if (tg_registry_put(self->registry, &env->event_type) == 1)
            tg_log_info("ingest: register type=%s source=router", name);
        break;
    }
    case TG_CMD_ACCEPTED:
    case TG_CMD_REJECTED:
        s_router_answer(self, env);
        break;
    default:
        s_bad_input(self, "router", "unexpected command");
        break;
    }
}

//  Adds the stats of a HEARTBEAT (names shared by every process;
//  tg_link_ops_t.add_stats).
static void s_add_stats(void *arg, tg_envelope_t *heartbeat, tg_now_t now)
{
    ingest_broker_t *self = arg;
    int64_t in_per_s = tg_rate_sample(&self->events_in_rate, self->stats.events_in, now.mono_ms);
    int64_t out_per_s = tg_rate_sample(&self->events_out_rate, self->stats.events_out, now.mono_ms);

    ingest_stats_t stats;
    ingest_broker_stats(self, &stats);
    tg_envelope_add_stat(heartbeat, "events_in", (int64_t)stats.events_in);
    tg_envelope_add_stat(heartbeat, "events_out", (int64_t)stats.events_out);
    tg_envelope_add_stat(heartbeat, "events_in_per_s", in_per_s);
    tg_envelope_add_stat(heartbeat, "events_out_per_s", out_per_s);
    tg_envelope_add_stat(heartbeat, "rejected", (int64_t)stats.rejected);
    tg_envelope_add_stat(heartbeat, "drops", (int64_t)stats.drops);
    tg_envelope_add_stat(heartbeat, "bad_input", (int64_t)stats.bad_input);
    tg_envelope_add_stat(heartbeat, "event_types", (int64_t)stats.event_types);
    tg_envelope_add_stat(heartbeat, "queue_depth", (int64_t)stats.queue_depth);
    tg_envelope_add_stat(heartbeat, "stores_waiting", (int64_t)stats.stores_waiting);
}

void ingest_broker_heartbeat(ingest_broker_t *self, tg_now_t now)
{
    assert(self);
    tg_link_heartbeat(self->link, now);
}

//  Answers a client whose REGISTER the router never answered.
static void s_expired(const ingest_pending_entry_t *entry, void *arg)
{
    ingest_broker_t *self = arg;
    tg_log_warning("ingest: register_timeout type=%s router=%s", entry->name, self->cfg.router);
    s_refuse(self, entry->routing_id, entry->client_req, INGEST_ERROR_UNAVAILABLE,
             "router did not answer");
}

//  Answers a publisher whose guaranteed event was not reported stored in
//  time: never a false ACCEPTED (the router will not deliver it either: it
//  gave up on the store at its own, earlier, deadline).
static void s_store_expired(const ingest_pending_entry_t *entry, void *arg)
{
    ingest_broker_t *self = arg;
    tg_log_ratelimited(&self->router_log, INGEST_LOG_INTERVAL_MS,
                       "ingest: store_timeout type=%s pub_id=%" PRIu64, entry->name, entry->pub_id);
    s_refuse(self, entry->routing_id, entry->client_req, INGEST_ERROR_UNAVAILABLE,
             "the event could not be stored in time");
}

void ingest_broker_expire(ingest_broker_t *self, tg_now_t now)
{
    assert(self);
    ingest_pending_expire(self->pending, now.mono_ms, s_expired, self);
    ingest_pending_expire(self->stores, now.mono_ms, s_store_expired, self);
}
