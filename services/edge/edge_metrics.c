/*  edge_metrics: see edge_metrics.h. */
#include "edge_metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *s_bad_input_names[EDGE_BAD_COUNT] = {
    [EDGE_BAD_INVALID_JSON] = "invalid_json",
    [EDGE_BAD_INVALID_MSGPACK] = "invalid_msgpack",
    [EDGE_BAD_PROTOCOL_VIOLATION] = "protocol_violation",
    [EDGE_BAD_TOO_LARGE] = "too_large",
    [EDGE_BAD_BINARY_ON_JSON] = "binary_on_json",
    [EDGE_BAD_TEXT_ON_MSGPACK] = "text_on_msgpack",
    [EDGE_BAD_INTERNAL] = "internal",
    [EDGE_BAD_AUTH_FAILED] = "auth_failed",
};

void edge_metrics_init(edge_metrics_t *self)
{
    assert(self);
    memset(self, 0, sizeof(*self));
}

const char *edge_bad_input_name(edge_bad_input_t kind)
{
    if ((int)kind < 0 || kind >= EDGE_BAD_COUNT)
        return "?";
    return s_bad_input_names[kind];
}

uint64_t edge_metrics_bad_input_total(const edge_metrics_t *self)
{
    uint64_t total = 0;
    for (int kind = 0; kind < EDGE_BAD_COUNT; kind++)
        total += self->bad_input[kind];
    return total;
}

static void s_printf(tg_buf_t *out, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void s_printf(tg_buf_t *out, const char *format, ...)
{
    char line[512];
    va_list args;
    va_start(args, format);
    int len = vsnprintf(line, sizeof(line), format, args);
    va_end(args);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof(line))
        len = (int)sizeof(line) - 1;
    tg_buf_append(out, line, (size_t)len);
}

/* One metric family with a single unlabelled sample. */
static void s_metric(tg_buf_t *out, const char *name, const char *type, const char *help,
                     uint64_t value)
{
    s_printf(out, "# HELP telegraphy_%s %s\n# TYPE telegraphy_%s %s\ntelegraphy_%s %" PRIu64 "\n",
             name, help, name, type, name, value);
}

void edge_metrics_render(const edge_metrics_t *self, const edge_gauges_t *gauges, tg_buf_t *out)
{
    assert(self);
    assert(gauges);
    s_metric(out, "sessions", "gauge", "Open WAMP sessions.", gauges->sessions);
    s_metric(out, "subscriptions", "gauge", "Distinct router subscriptions held by this edge.",
             gauges->subscriptions);
    s_metric(out, "session_subscriptions", "gauge", "Subscriptions held by sessions.",
             gauges->session_subscriptions);
    s_metric(out, "queue_depth", "gauge", "Frames queued for sessions.",
             self->queue_depth > 0 ? (uint64_t)self->queue_depth : 0);
    s_metric(out, "router_connected", "gauge", "1 when the router answered recently.",
             gauges->router_connected ? 1 : 0);
    s_metric(out, "events_in_per_s", "gauge",
             "Events received from the router per second, over the last heartbeat interval.",
             self->events_in_rate.per_s > 0 ? (uint64_t)self->events_in_rate.per_s : 0);
    s_metric(out, "events_out_per_s", "gauge",
             "Event messages written to sessions per second, over the last heartbeat interval.",
             self->events_out_rate.per_s > 0 ? (uint64_t)self->events_out_rate.per_s : 0);
    s_metric(out, "events_in_total", "counter", "Events received from the router.",
             self->events_in);
    s_metric(out, "events_out_total", "counter", "Event messages written to sessions.",
             self->events_out);
    s_metric(out, "bytes_out_total", "counter", "WebSocket payload bytes written.",
             self->bytes_out);
    s_metric(out, "drops_total", "counter", "Event deliveries dropped.", self->drops);
    s_metric(out, "slow_consumer_closes_total", "counter",
             "Sessions closed because their queue overflowed.", self->slow_consumer_closes);
    s_metric(out, "sessions_refused_total", "counter", "Connections refused at max_sessions.",
             self->sessions_refused);
    s_metric(out, "subscribe_timeouts_total", "counter",
             "Subscriptions the router did not confirm in time.", self->subscribe_timeouts);
    s_metric(out, "auth_successes_total", "counter", "Ticket authentications welcomed.",
             self->auth_successes);
    s_metric(out, "auth_failures_total", "counter",
             "Ticket authentications refused (bad, expired, replayed token; router unavailable).",
             self->auth_failures);
    s_metric(out, "link_pauses_total", "counter",
             "Times the router link paused because a session queue reached high water.",
             self->link_pauses);
    s_metric(out, "link_pause_timeouts_total", "counter",
             "Router link pauses that lasted their full bound (a session did not drain).",
             self->link_pause_timeouts);
    s_metric(out, "monitor_drops_total", "counter",
             "Socket events of the router link dropped because too many waited for the router.",
             self->monitor_drops);
    s_metric(out, "replayed_total", "counter",
             "Events queued from storage (persistent backlogs, _since replays).", self->replayed);
    s_metric(out, "expired_drops_total", "counter",
             "Events dropped because their ttl passed before they were written.",
             self->expired_drops);
    s_metric(out, "acks_ignored_total", "counter",
             "Acknowledged ids the session was never sent (ignored).", self->acks_ignored);
    s_metric(out, "acks_sent_total", "counter", "ACKs forwarded to the router for persist.",
             self->acks_sent);
    s_printf(out, "# HELP telegraphy_bad_input_total Bad input received, by kind.\n"
                  "# TYPE telegraphy_bad_input_total counter\n");
    for (int kind = 0; kind < EDGE_BAD_COUNT; kind++)
        s_printf(out, "telegraphy_bad_input_total{kind=\"%s\"} %" PRIu64 "\n",
                 s_bad_input_names[kind], self->bad_input[kind]);
}

static int64_t s_clamp(uint64_t value)
{
    return value > INT64_MAX ? INT64_MAX : (int64_t)value;
}

void edge_metrics_add_stats(edge_metrics_t *self, const edge_gauges_t *gauges, int64_t now_ms,
                            tg_envelope_t *heartbeat)
{
    assert(self);
    assert(gauges);
    assert(heartbeat);
    int64_t in_per_s = tg_rate_sample(&self->events_in_rate, self->events_in, now_ms);
    int64_t out_per_s = tg_rate_sample(&self->events_out_rate, self->events_out, now_ms);

    tg_envelope_add_stat(heartbeat, "events_in", s_clamp(self->events_in));
    tg_envelope_add_stat(heartbeat, "events_out", s_clamp(self->events_out));
    tg_envelope_add_stat(heartbeat, "events_in_per_s", in_per_s);
    tg_envelope_add_stat(heartbeat, "events_out_per_s", out_per_s);
    tg_envelope_add_stat(heartbeat, "drops", s_clamp(self->drops));
    tg_envelope_add_stat(heartbeat, "bad_input", s_clamp(edge_metrics_bad_input_total(self)));
    tg_envelope_add_stat(heartbeat, "queue_depth", self->queue_depth);
    tg_envelope_add_stat(heartbeat, "sessions", s_clamp(gauges->sessions));
    tg_envelope_add_stat(heartbeat, "subscriptions", s_clamp(gauges->subscriptions));
    tg_envelope_add_stat(heartbeat, "session_subscriptions",
                         s_clamp(gauges->session_subscriptions));
    tg_envelope_add_stat(heartbeat, "slow_consumer_closes", s_clamp(self->slow_consumer_closes));
    tg_envelope_add_stat(heartbeat, "bytes_out", s_clamp(self->bytes_out));
    tg_envelope_add_stat(heartbeat, "monitor_drops", s_clamp(self->monitor_drops));
    tg_envelope_add_stat(heartbeat, "replayed", s_clamp(self->replayed));
    tg_envelope_add_stat(heartbeat, "expired_drops", s_clamp(self->expired_drops));
    tg_envelope_add_stat(heartbeat, "acks_ignored", s_clamp(self->acks_ignored));
}
