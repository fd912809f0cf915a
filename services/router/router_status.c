/*  router_status: see router_status.h. */
#include "router_status.h"
#include "tg_alloc.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stats the router reports about itself. */
#define S_OWN_STATS 18

/* Appends a stat (name truncated to fit) to stats[*count]. */
static void s_stat(tg_stat_t *stats, size_t *count, const char *name, int64_t value)
{
    snprintf(stats[*count].name, sizeof stats[*count].name, "%s", name);
    stats[*count].value = value;
    (*count)++;
}

tg_envelope_t *router_status_reply(uint64_t req, const char *instance, uint64_t uptime_ms,
                                   const router_broker_stats_t *own, const router_peers_t *peers,
                                   int64_t now_ms)
{
    assert(instance && own && peers);
    tg_envelope_t *reply = tg_envelope_new(TG_CMD_STATUS_REPLY);
    reply->req = req;
    size_t count = 1 + router_peers_size(peers);
    if (count > TG_MAX_PROCESSES)
        count = TG_MAX_PROCESSES;
    reply->processes = tg_calloc(count, sizeof *reply->processes);
    reply->processes_count = count;

    tg_process_status_t *process = &reply->processes[0];
    process->role = tg_strdup("router");
    process->instance = tg_strdup(instance);
    process->uptime_ms = uptime_ms;
    process->stats = tg_calloc(S_OWN_STATS, sizeof *process->stats);
    size_t n = 0;
    s_stat(process->stats, &n, "subscriptions", (int64_t)own->subscriptions);
    s_stat(process->stats, &n, "edges", (int64_t)own->edges);
    s_stat(process->stats, &n, "ingests", (int64_t)own->ingests);
    s_stat(process->stats, &n, "event_types", (int64_t)own->event_types);
    s_stat(process->stats, &n, "spent_tokens", (int64_t)own->spent_tokens);
    s_stat(process->stats, &n, "events_in", (int64_t)own->events_in);
    s_stat(process->stats, &n, "events_out", (int64_t)own->events_out);
    s_stat(process->stats, &n, "events_in_per_s", own->events_in_per_s);
    s_stat(process->stats, &n, "events_out_per_s", own->events_out_per_s);
    s_stat(process->stats, &n, "drops", (int64_t)own->drops);
    s_stat(process->stats, &n, "bad_input", (int64_t)own->bad_input);
    s_stat(process->stats, &n, "tap_drops", (int64_t)own->tap_drops);
    s_stat(process->stats, &n, "stores_pending", (int64_t)own->stores_pending);
    s_stat(process->stats, &n, "store_rejected", (int64_t)own->store_rejected);
    s_stat(process->stats, &n, "retention_lost", (int64_t)own->retention_lost);
    s_stat(process->stats, &n, "persist", own->persist ? 1 : 0);
    /* The router keeps no queue of its own: messages wait in ZeroMQ's
       pipes, bounded by cfg.hwm. */
    s_stat(process->stats, &n, "queue_depth", 0);
    tg_check(n <= S_OWN_STATS);
    process->stats_count = n;

    for (size_t i = 1; i < count; i++) {
        const router_peer_t *peer = router_peers_at(peers, i - 1);
        process = &reply->processes[i];
        process->role = tg_strdup(router_role_name(peer->role));
        process->instance = tg_strdup(peer->instance);
        process->uptime_ms = peer->uptime_ms;
        process->last_seen_ms =
            now_ms > peer->last_heard_ms ? (uint64_t)(now_ms - peer->last_heard_ms) : 0;
        if (peer->stats_count) {
            process->stats = tg_memdup(peer->stats, peer->stats_count * sizeof *process->stats);
            process->stats_count = peer->stats_count;
        }
    }
    return reply;
}
