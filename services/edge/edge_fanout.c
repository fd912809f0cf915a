/*  edge_fanout: see edge_fanout.h. */
#include "edge_fanout.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "edge_broker.h"
#include "edge_durable.h"
#include "edge_frame.h"
#include "edge_session.h"
#include "tg_alloc.h"
#include "tg_body.h"
#include "tg_log.h"
#include "tg_wamp.h"

/* An event without a body frame carries an empty map. */
static const uint8_t s_empty_map[] = {0x80};

struct _edge_fanout_t {
    tg_buf_t json;                /* this event's kwargs as JSON, rendered on demand */
    tg_log_limiter_t bad_body;    /* bodies that do not convert to JSON */
    tg_log_limiter_t unknown_sub; /* events for subscriptions we no longer hold */
};

edge_fanout_t *edge_fanout_new(void)
{
    edge_fanout_t *self = tg_new(edge_fanout_t);
    tg_buf_init(&self->json, 0);
    return self;
}

void edge_fanout_destroy(edge_fanout_t **self_p)
{
    assert(self_p);
    edge_fanout_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    tg_buf_release(&self->json);
    free(self);
}

/* The event's kwargs as JSON text: rendered on the first call for this
   event, then reused. */
typedef enum { S_JSON_UNRENDERED, S_JSON_READY, S_JSON_BAD } s_json_state_t;

/* Encodes the WAMP EVENT for one (subscription, serializer) into a new
   frame; the caller owns the returned reference. */
static edge_frame_t *s_encode(tg_wamp_serializer_t serializer, const edge_sub_t *sub,
                              const tg_envelope_t *event, const void *kwargs, size_t kwargs_len)
{
    /* details.topic tells pattern subscribers which topic matched; exact
       subscribers know it already. */
    const char *topic = edge_sub_match(sub) == TG_MATCH_EXACT ? NULL : event->topic;
    tg_buf_t buf;
    tg_buf_init(&buf, edge_frame_headroom());
    tg_wamp_encode_event(serializer, edge_sub_id(sub), event->pub_id, topic, event->ts,
                         event->guaranteed ? TG_WAMP_EVENT_GUARANTEED : 0, kwargs, kwargs_len,
                         &buf);
    edge_frame_t *frame = edge_frame_new(&buf, serializer == TG_WAMP_MSGPACK, true);
    tg_buf_release(&buf);
    return frame;
}

size_t edge_fanout_deliver(edge_fanout_t *self, edge_broker_t *broker, const tg_envelope_t *event,
                           uint64_t expires_at, tg_now_t now)
{
    assert(self);
    assert(broker);
    assert(event);
    edge_subs_t *subs = edge_broker_subs(broker);
    edge_metrics_t *metrics = edge_broker_metrics(broker);
    metrics->events_in++;
    if (expires_at != 0 && (uint64_t)now.wall_us >= expires_at) {
        metrics->expired_drops++;
        return 0;
    }

    const uint8_t *body = s_empty_map;
    size_t body_len = sizeof(s_empty_map);
    if (event->body && zframe_size(event->body) > 0) {
        body = zframe_data(event->body);
        body_len = zframe_size(event->body);
    }
    /* Most events are public: skip the per-session audience test then. */
    bool is_public = event->audience && strcmp(event->audience, "public") == 0;
    s_json_state_t json_state = S_JSON_UNRENDERED;
    size_t queued = 0;

    bool waiting = edge_durables_waiting(edge_broker_durables(broker));
    for (size_t i = 0; i < event->sub_ids_count; i++) {
        /* Durable subscriptions waiting for SUBSCRIBED hold their key's
           events (edge_durable.h): their sessions are no members yet. */
        size_t held =
            waiting ? edge_durable_waiting_event(broker, event, event->sub_ids[i], expires_at, now)
                    : 0;
        queued += held;
        edge_sub_t *sub = edge_subs_find_id(subs, event->sub_ids[i]);
        if (!sub && held > 0)
            continue;
        if (!sub) {
            /* Normal right after an UNSUBSCRIBE crossed this event. */
            tg_log_ratelimited(&self->unknown_sub, 10000,
                               "edge: event for unknown subscription sub_id=%llu",
                               (unsigned long long)event->sub_ids[i]);
            continue;
        }
        edge_frame_t *frames[2] = {NULL, NULL}; /* per serializer, shared by the members */
        size_t count = 0;
        const edge_sub_member_t *members = edge_sub_members(sub, &count);
        for (size_t m = 0; m < count; m++) {
            edge_session_t *session = members[m].session;
            if (session->state != EDGE_SESSION_OPEN)
                continue;
            if (!is_public && !edge_session_may_see(session, event->audience))
                continue;
            if (event->to_users &&
                !edge_session_is_listed(session, event->to_users, event->to_users_count))
                continue;
            tg_wamp_serializer_t serializer = session->serializer;
            if (!frames[serializer]) {
                if (serializer == TG_WAMP_MSGPACK) {
                    frames[serializer] = s_encode(serializer, sub, event, body, body_len);
                } else {
                    if (json_state == S_JSON_UNRENDERED) {
                        tg_buf_reset(&self->json);
                        if (tg_body_to_json(body, body_len, &self->json) == 0) {
                            json_state = S_JSON_READY;
                        } else {
                            json_state = S_JSON_BAD;
                            metrics->bad_input[EDGE_BAD_INTERNAL]++;
                            tg_log_ratelimited(&self->bad_body, 10000,
                                               "edge: bad event body pub_id=%llu topic=%s",
                                               (unsigned long long)event->pub_id,
                                               event->topic ? event->topic : "?");
                        }
                    }
                    if (json_state == S_JSON_BAD)
                        continue;
                    frames[serializer] = s_encode(serializer, sub, event,
                                                  tg_buf_payload(&self->json), self->json.len);
                }
                edge_frame_set_expires(frames[serializer], expires_at);
            }
            if (session->durables && edge_durable_live(broker, session, event->sub_ids[i],
                                                       frames[serializer], event->pub_id, now)) {
                queued++;
                continue;
            }
            if (edge_session_push(session, frames[serializer]) == 0)
                queued++;
            else
                metrics->drops++;
        }
        edge_frame_unref(&frames[TG_WAMP_JSON]);
        edge_frame_unref(&frames[TG_WAMP_MSGPACK]);
    }
    return queued;
}
