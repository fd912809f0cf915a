/*  persist_link: see persist_link.h. It runs under tg_loop, so it needs
    none of the edge's descriptor discipline: the actor's loop polls the
    DEALER level-triggered and calls persist_link_on_message per message.
*/
#include "persist_link.h"

#include "tg_alloc.h"

struct _persist_link_t {
    zsock_t *dealer;   /* borrowed: the actor's DEALER */
    tg_link_t *link;   /* the router conversation */
    uint64_t last_req; /* req of our last key SUBSCRIBE */
};

//  tg_link's send: the DEALER, never blocking.
static int s_send(void *arg, tg_envelope_t *envelope)
{
    persist_link_t *self = arg;
    return persist_link_send(self, envelope);
}

persist_link_t *persist_link_new(const tg_config_t *cfg, const char *instance, zsock_t *dealer,
                                 const persist_link_ops_t *ops, tg_now_t now)
{
    assert(cfg && instance && dealer && ops);
    persist_link_t *self = tg_new(persist_link_t);
    self->dealer = dealer;
    self->link = tg_link_new(cfg, "persist", instance, s_send, self, ops, now);
    return self;
}

void persist_link_destroy(persist_link_t **self_p)
{
    assert(self_p);
    persist_link_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    tg_link_destroy(&self->link);
    free(self);
}

void persist_link_start(persist_link_t *self)
{
    assert(self);
    tg_link_start(self->link);
}

void persist_link_on_message(persist_link_t *self, zmsg_t **msg_p, tg_now_t now)
{
    assert(self);
    tg_link_on_message(self->link, msg_p, now);
}

void persist_link_heartbeat(persist_link_t *self, tg_now_t now)
{
    assert(self);
    tg_link_heartbeat(self->link, now);
}

int persist_link_send(persist_link_t *self, tg_envelope_t *envelope)
{
    assert(self && envelope);
    return tg_envelope_send(envelope, self->dealer);
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
    return tg_link_ready(self->link);
}

const char *persist_link_router(const persist_link_t *self)
{
    assert(self);
    return tg_link_router(self->link);
}

uint64_t persist_link_bad_input(const persist_link_t *self)
{
    assert(self);
    return tg_link_bad_input(self->link);
}
