/*  Counters rendered for /metrics and for the router's HEARTBEAT. */
#include <criterion/criterion.h>
#include <string.h>

#include "edge_metrics.h"

static char *s_render(const edge_metrics_t *metrics, const edge_gauges_t *gauges)
{
    tg_buf_t out;
    tg_buf_init(&out, 0);
    edge_metrics_render(metrics, gauges, &out);
    tg_buf_append(&out, "", 1);
    char *text = strdup((char *)tg_buf_payload(&out));
    tg_buf_release(&out);
    return text;
}

/* Every family carries the telegraphy_ prefix, counters end in _total,
   and bad input is labelled by kind. */
Test(edge_metrics, prometheus_text_names_every_family)
{
    edge_metrics_t metrics;
    edge_metrics_init(&metrics);
    metrics.events_in = 5;
    metrics.events_out = 9;
    metrics.bytes_out = 1234;
    metrics.slow_consumer_closes = 2;
    metrics.link_pauses = 8;
    metrics.link_pause_timeouts = 1;
    metrics.bad_input[EDGE_BAD_TOO_LARGE] = 3;
    edge_gauges_t gauges = {
        .sessions = 4, .subscriptions = 6, .session_subscriptions = 7, .router_connected = true};
    char *text = s_render(&metrics, &gauges);
    const char *expected[] = {"\ntelegraphy_sessions 4\n",
                              "\ntelegraphy_subscriptions 6\n",
                              "\ntelegraphy_session_subscriptions 7\n",
                              "\ntelegraphy_events_in_total 5\n",
                              "\ntelegraphy_events_out_total 9\n",
                              "\ntelegraphy_bytes_out_total 1234\n",
                              "\ntelegraphy_drops_total 0\n",
                              "\ntelegraphy_slow_consumer_closes_total 2\n",
                              "\ntelegraphy_router_connected 1\n",
                              "\ntelegraphy_link_pauses_total 8\n",
                              "\ntelegraphy_link_pause_timeouts_total 1\n",
                              "\ntelegraphy_bad_input_total{kind=\"too_large\"} 3\n",
                              "\ntelegraphy_bad_input_total{kind=\"invalid_json\"} 0\n",
                              "\ntelegraphy_bad_input_total{kind=\"binary_on_json\"} 0\n",
                              "# TYPE telegraphy_events_in_total counter\n",
                              "# TYPE telegraphy_sessions gauge\n"};
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        cr_assert_not_null(strstr(text, expected[i]), "missing %s", expected[i]);
    free(text);
}

static int64_t s_stat(const tg_envelope_t *heartbeat, const char *name)
{
    for (size_t i = 0; i < heartbeat->stats_count; i++)
        if (strcmp(heartbeat->stats[i].name, name) == 0)
            return heartbeat->stats[i].value;
    cr_assert_fail("stat %s missing", name);
    return -1;
}

/* HEARTBEAT carries the shared names; rates cover the last interval. */
Test(edge_metrics, heartbeat_stats_carry_shared_names_and_rates)
{
    edge_metrics_t metrics;
    edge_metrics_init(&metrics);
    edge_gauges_t gauges = {.sessions = 2};
    tg_envelope_t *first = tg_envelope_new(TG_CMD_HEARTBEAT);
    metrics.events_in = 100;
    edge_metrics_add_stats(&metrics, &gauges, 1000, first);
    cr_assert_eq(s_stat(first, "events_in_per_s"), 0); /* no interval yet */
    tg_envelope_t *second = tg_envelope_new(TG_CMD_HEARTBEAT);
    metrics.events_in = 110;
    metrics.events_out = 40;
    metrics.bad_input[EDGE_BAD_INVALID_JSON] = 1;
    metrics.bad_input[EDGE_BAD_INTERNAL] = 2;
    edge_metrics_add_stats(&metrics, &gauges, 3000, second);
    cr_assert_eq(s_stat(second, "events_in_per_s"), 5);
    cr_assert_eq(s_stat(second, "events_out_per_s"), 20);
    cr_assert_eq(s_stat(second, "events_in"), 110);
    cr_assert_eq(s_stat(second, "bad_input"), 3);
    cr_assert_eq(s_stat(second, "sessions"), 2);
    const char *names[] = {
        "drops",    "queue_depth", "subscriptions", "session_subscriptions", "slow_consumer_closes",
        "bytes_out"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        s_stat(second, names[i]);
    tg_envelope_destroy(&first);
    tg_envelope_destroy(&second);
}

/* The rates hold whatever the monotonic clock reads: a first heartbeat at
   0 ms (a machine booted a moment ago) is a real reference point, not
   "no heartbeat yet". */
Test(edge_metrics, rates_start_at_a_heartbeat_at_monotonic_zero)
{
    edge_metrics_t metrics;
    edge_metrics_init(&metrics);
    edge_gauges_t gauges = {0};
    tg_envelope_t *first = tg_envelope_new(TG_CMD_HEARTBEAT);
    metrics.events_in = 50;
    edge_metrics_add_stats(&metrics, &gauges, 0, first);
    cr_assert_eq(s_stat(first, "events_in_per_s"), 0);
    tg_envelope_t *second = tg_envelope_new(TG_CMD_HEARTBEAT);
    metrics.events_in = 70;
    edge_metrics_add_stats(&metrics, &gauges, 2000, second);
    cr_assert_eq(s_stat(second, "events_in_per_s"), 10);
    tg_envelope_destroy(&first);
    tg_envelope_destroy(&second);
}

/* Socket events of the router link that the monitor had to drop (too many
   waited while the router was away) are counted on /metrics and in the
   HEARTBEAT stats. */
Test(edge_metrics, monitor_drops_are_exported)
{
    edge_metrics_t metrics;
    edge_metrics_init(&metrics);
    edge_gauges_t gauges = {0};
    metrics.monitor_drops = 3;
    char *text = s_render(&metrics, &gauges);
    cr_assert_not_null(strstr(text, "# TYPE telegraphy_monitor_drops_total counter\n"), "%s", text);
    cr_assert_not_null(strstr(text, "\ntelegraphy_monitor_drops_total 3\n"), "%s", text);
    free(text);
    tg_envelope_t *heartbeat = tg_envelope_new(TG_CMD_HEARTBEAT);
    edge_metrics_add_stats(&metrics, &gauges, 1000, heartbeat);
    cr_assert_eq(s_stat(heartbeat, "monitor_drops"), 3);
    tg_envelope_destroy(&heartbeat);
}

/* /metrics shows the rates of the last heartbeat interval as gauges, the
   same numbers the HEARTBEAT carried (0 before the first interval). */
Test(edge_metrics, prometheus_rates_match_the_last_heartbeat)
{
    edge_metrics_t metrics;
    edge_metrics_init(&metrics);
    edge_gauges_t gauges = {0};
    char *text = s_render(&metrics, &gauges);
    cr_assert_not_null(strstr(text, "\ntelegraphy_events_in_per_s 0\n"), "%s", text);
    cr_assert_not_null(strstr(text, "# TYPE telegraphy_events_out_per_s gauge\n"), "%s", text);
    free(text);
    tg_envelope_t *first = tg_envelope_new(TG_CMD_HEARTBEAT);
    edge_metrics_add_stats(&metrics, &gauges, 1000, first);
    metrics.events_in = 30;
    metrics.events_out = 90;
    tg_envelope_t *second = tg_envelope_new(TG_CMD_HEARTBEAT);
    edge_metrics_add_stats(&metrics, &gauges, 4000, second);
    metrics.events_in = 1000; /* after the heartbeat: not in the rate yet */
    text = s_render(&metrics, &gauges);
    cr_assert_not_null(strstr(text, "\ntelegraphy_events_in_per_s 10\n"), "%s", text);
    cr_assert_not_null(strstr(text, "\ntelegraphy_events_out_per_s 30\n"), "%s", text);
    cr_assert_eq(s_stat(second, "events_out_per_s"), 30);
    free(text);
    tg_envelope_destroy(&first);
    tg_envelope_destroy(&second);
}
