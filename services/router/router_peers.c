/*  router_peers: the router's table of connected edges and ingests.
    See router_peers.h.
*/
#include "router_peers.h"

#include <stdlib.h>
#include <string.h>

#include "router_map.h"
#include "tg_alloc.h"

struct _router_peers_t {
    router_map_t *by_routing_id; /* routing id bytes -> peer */
    router_peer_t **peers;       /* owned peers, count entries, for iteration */
    size_t count;
    size_t capacity;
};

router_peers_t *router_peers_new(void)
{
    router_peers_t *self = tg_new(router_peers_t);
    self->by_routing_id = router_map_new();
    return self;
}

static void s_peer_free(router_peer_t *peer)
{
    zframe_destroy(&peer->routing_id);
    free(peer->instance);
    free(peer->stats);
    free(peer->batch_ids);
    free(peer);
}

void router_peers_destroy(router_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_peers_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_peer_free(self->peers[i]);
    free(self->peers);
    router_map_destroy(&self->by_routing_id);
    free(self);
    *self_p = NULL;
}

router_peer_t *router_peers_lookup(const router_peers_t *self, zframe_t *routing_id)
{
    const void *key = zframe_data(routing_id);
    size_t len = zframe_size(routing_id);
    return router_map_get(self->by_routing_id, router_map_hash(key, len), key, len);
}

router_peer_t *router_peers_add(router_peers_t *self, zframe_t *routing_id, router_role_t role,
                                const char *instance, int64_t now_ms)
{
    if (self->count >= ROUTER_MAX_PEERS || router_peers_lookup(self, routing_id))
        return NULL;
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        self->peers = tg_realloc(self->peers, capacity * sizeof *self->peers);
        self->capacity = capacity;
    }
    router_peer_t *peer = tg_new(router_peer_t);
    peer->routing_id = zframe_dup(routing_id);
    peer->instance = tg_strdup(instance);
    peer->role = role;
    peer->joined_ms = now_ms;
    peer->last_heard_ms = now_ms;
    const void *key = zframe_data(routing_id);
    size_t len = zframe_size(routing_id);
    router_map_put(self->by_routing_id, router_map_hash(key, len), key, len, peer);
    self->peers[self->count++] = peer;
    return peer;
}

void router_peers_remove(router_peers_t *self, router_peer_t *peer)
{
    const void *key = zframe_data(peer->routing_id);
    size_t len = zframe_size(peer->routing_id);
    router_map_remove(self->by_routing_id, router_map_hash(key, len), key, len);
    for (size_t i = 0; i < self->count; i++)
        if (self->peers[i] == peer) {
            self->peers[i] = self->peers[--self->count];
            break;
        }
    s_peer_free(peer);
}

size_t router_peers_size(const router_peers_t *self)
{
    return self->count;
}

router_peer_t *router_peers_at(const router_peers_t *self, size_t i)
{
    tg_check(i < self->count);
    return self->peers[i];
}

size_t router_peers_count(const router_peers_t *self, router_role_t role)
{
    size_t count = 0;
    for (size_t i = 0; i < self->count; i++)
        count += self->peers[i]->role == role;
    return count;
}

void router_peer_heard(router_peer_t *peer, int64_t now_ms)
{
    peer->last_heard_ms = now_ms;
}

void router_peer_heartbeat(router_peer_t *peer, uint64_t uptime_ms, const tg_stat_t *stats,
                           size_t count)
{
    tg_stat_t *copy = count ? tg_memdup(stats, count * sizeof *stats) : NULL;
    free(peer->stats);
    peer->stats = copy;
    peer->stats_count = count;
    peer->uptime_ms = uptime_ms;
}

bool router_peer_batch_add(router_peer_t *peer, uint64_t sub_id)
{
    if (peer->batch_count == peer->batch_capacity) {
        peer->batch_capacity = peer->batch_capacity ? peer->batch_capacity * 2 : 16;
        peer->batch_ids =
            tg_realloc(peer->batch_ids, peer->batch_capacity * sizeof *peer->batch_ids);
    }
    peer->batch_ids[peer->batch_count++] = sub_id;
    return peer->batch_count == 1;
}

void router_peer_batch_clear(router_peer_t *peer)
{
    peer->batch_count = 0;
}

const char *router_role_name(router_role_t role)
{
    return role == ROUTER_ROLE_INGEST ? "ingest" : role == ROUTER_ROLE_PERSIST ? "persist" : "edge";
}

int router_role_parse(const char *text, router_role_t *role)
{
    if (text && strcmp(text, "edge") == 0)
        *role = ROUTER_ROLE_EDGE;
    else if (text && strcmp(text, "ingest") == 0)
        *role = ROUTER_ROLE_INGEST;
    else if (text && strcmp(text, "persist") == 0)
        *role = ROUTER_ROLE_PERSIST;
    else
        return -1;
    return 0;
}
