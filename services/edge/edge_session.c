/*  edge_session: see edge_session.h. */
#include "edge_session.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"

edge_session_t *edge_session_new(tg_wamp_serializer_t serializer, uint32_t queue_limit,
                                 const edge_transport_t *transport, void *handle,
                                 edge_metrics_t *metrics, edge_pressure_t *pressure)
{
    assert(transport);
    assert(metrics);
    assert(pressure);
    edge_session_t *self = tg_new(edge_session_t);
    self->queue = edge_queue_new(queue_limit ? queue_limit : 1);
    self->serializer = serializer;
    self->state = EDGE_SESSION_HANDSHAKE;
    self->anonymous = true;
    self->transport = transport;
    self->handle = handle;
    self->metrics = metrics;
    self->pressure = pressure;
    return self;
}

void edge_session_destroy(edge_session_t **self_p)
{
    assert(self_p);
    edge_session_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    assert(self->subs.count == 0);
    assert(!self->durables);
    free(self->subs.items);
    self->metrics->queue_depth -= edge_queue_size(self->queue);
    edge_pressure_forget(self->pressure, &self->pressure_mark);
    edge_queue_destroy(&self->queue);
    for (size_t i = 0; i < self->groups_count; i++)
        free(self->groups[i]);
    free(self->groups);
    free(self->client_id);
    free(self->browser_cid);
    free(self->claimed_authid);
    free(self->authid);
    free(self->authrole);
    free(self);
}

/* Remembers why we close, truncated to what a close frame can carry. */
static void s_set_close(edge_session_t *self, int code, const char *reason)
{
    self->close_code = code;
    snprintf(self->close_reason, sizeof(self->close_reason), "%s", reason ? reason : "");
}

void edge_session_kill_slow(edge_session_t *self)
{
    assert(self);
    if (self->state == EDGE_SESSION_CLOSING)
        return;
    /* The peer does not read fast enough: its socket never becomes
       writeable again, so flushing would wait forever. Kill it. */
    self->state = EDGE_SESSION_CLOSING;
    self->killed = true;
    s_set_close(self, EDGE_CLOSE_POLICY, "slow consumer");
    self->metrics->slow_consumer_closes++;
    self->transport->kill(self->handle, self->close_code, self->close_reason);
}

int edge_session_push(edge_session_t *self, edge_frame_t *frame)
{
    assert(self);
    assert(frame);
    if (self->state == EDGE_SESSION_CLOSING)
        return -1;
    bool was_empty = edge_queue_size(self->queue) == 0;
    if (edge_queue_push(self->queue, frame) != 0) {
        edge_session_kill_slow(self);
        return -1;
    }
    self->metrics->queue_depth++;
    /* At high water the router link ends its pass so that this session
       gets written to (see edge_pressure.h, edge_link.c). */
    edge_pressure_pushed(self->pressure, &self->pressure_mark, edge_queue_size(self->queue),
                         edge_queue_limit(self->queue));
    if (was_empty)
        self->transport->wake(self->handle);
    return 0;
}

edge_frame_t *edge_session_pop(edge_session_t *self)
{
    assert(self);
    edge_frame_t *frame = edge_queue_pop(self->queue);
    if (frame) {
        self->metrics->queue_depth--;
        edge_pressure_popped(self->pressure, &self->pressure_mark, edge_queue_size(self->queue),
                             edge_queue_limit(self->queue));
    }
    return frame;
}

int edge_session_send(edge_session_t *self, const json_t *msg)
{
    assert(self);
    assert(msg);
    if (self->state == EDGE_SESSION_CLOSING)
        return -1;
    tg_buf_t buf;
    tg_buf_init(&buf, edge_frame_headroom());
    if (tg_wamp_encode(self->serializer, msg, &buf) != 0 || buf.len == 0) {
        tg_buf_release(&buf);
        return -1;
    }
    edge_frame_t *frame = edge_frame_new(&buf, self->serializer == TG_WAMP_MSGPACK, false);
    tg_buf_release(&buf);
    int rc = edge_session_push(self, frame);
    edge_frame_unref(&frame);
    return rc;
}

int edge_session_send_error(edge_session_t *self, int request_type, int64_t request,
                            const char *error, const char *message)
{
    assert(self);
    assert(error);
    json_t *msg = tg_wamp_error(request_type, request, error, message);
    int rc = edge_session_send(self, msg);
    json_decref(msg);
    return rc;
}

void edge_session_abort(edge_session_t *self, const char *reason, const char *message,
                        int close_code)
{
    assert(self);
    assert(reason);
    if (self->state == EDGE_SESSION_CLOSING)
        return;
    json_t *abort_msg = tg_wamp_abort(reason, message);
    if (abort_msg) {
        edge_session_send(self, abort_msg);
        json_decref(abort_msg);
    }
    edge_session_close(self, close_code, message ? message : reason);
}

void edge_session_close(edge_session_t *self, int close_code, const char *reason)
{
    assert(self);
    if (self->state == EDGE_SESSION_CLOSING)
        return;
    self->state = EDGE_SESSION_CLOSING;
    s_set_close(self, close_code, reason);
    self->transport->close(self->handle, self->close_code, self->close_reason);
}

void edge_session_set_identity(edge_session_t *self, uint64_t id, bool anonymous,
                               const char *authid, const char *authrole)
{
    assert(self);
    self->id = id;
    self->anonymous = anonymous;
    free(self->authid);
    free(self->authrole);
    self->authid = authid ? tg_strdup(authid) : NULL;
    self->authrole = authrole ? tg_strdup(authrole) : NULL;
}

void edge_session_add_group(edge_session_t *self, const char *group)
{
    assert(self);
    assert(group);
    self->groups = tg_realloc(self->groups, sizeof(*self->groups) * (self->groups_count + 1));
    self->groups[self->groups_count] = tg_strdup(group);
    self->groups_count++;
}

void edge_session_challenge(edge_session_t *self, uint64_t id, const char *claimed_authid)
{
    assert(self);
    self->id = id;
    free(self->claimed_authid);
    self->claimed_authid = claimed_authid ? tg_strdup(claimed_authid) : NULL;
    self->state = EDGE_SESSION_CHALLENGED;
}

void edge_session_authenticating(edge_session_t *self)
{
    assert(self);
    self->state = EDGE_SESSION_AUTHENTICATING;
}

void edge_session_forget_claim(edge_session_t *self)
{
    assert(self);
    free(self->claimed_authid);
    self->claimed_authid = NULL;
}

void edge_session_set_client_id(edge_session_t *self, char **client_id_p)
{
    assert(self);
    assert(client_id_p);
    free(self->client_id);
    self->client_id = *client_id_p;
    *client_id_p = NULL;
}

void edge_session_opened(edge_session_t *self)
{
    assert(self);
    self->state = EDGE_SESSION_OPEN;
}

void edge_session_pending_add(edge_session_t *self)
{
    assert(self);
    self->pending++;
}

void edge_session_pending_done(edge_session_t *self)
{
    assert(self);
    /* Each waiter entry of a session was counted once when added. */
    tg_check(self->pending > 0);
    self->pending--;
}

void edge_session_pending_clear(edge_session_t *self)
{
    assert(self);
    self->pending = 0;
}

uint32_t edge_session_pending(const edge_session_t *self)
{
    assert(self);
    return self->pending;
}

static bool s_in_group(const edge_session_t *self, const char *group)
{
    for (size_t i = 0; i < self->groups_count; i++)
        if (strcmp(self->groups[i], group) == 0)
            return true;
    return false;
}

bool edge_session_may_see(const edge_session_t *self, const char *audience)
{
    assert(self);
    if (!audience)
        return false;
    if (strcmp(audience, "public") == 0)
        return true;
    if (self->anonymous)
        return false;
    if (strcmp(audience, "authenticated") == 0)
        return true;
    if (strcmp(audience, "staff") == 0)
        return s_in_group(self, "staff") || s_in_group(self, "superuser");
    if (strncmp(audience, "group:", 6) == 0 && audience[6])
        return s_in_group(self, audience + 6);
    return false;
}

bool edge_session_is_listed(const edge_session_t *self, char *const *users, size_t count)
{
    assert(self);
    if (self->anonymous || !self->authid)
        return false;
    /* Linear: only identified sessions get here, and to_users lists are
       short in practice (DESIGN 2.6: direct notifications). */
    for (size_t i = 0; i < count; i++)
        if (users[i] && strcmp(users[i], self->authid) == 0)
            return true;
    return false;
}
