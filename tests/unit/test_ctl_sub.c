/*  ctl_sub: the shared loop of telegraphy-ctl monitor and tap (reachability
    check, --count, skipping what is not asked for) and their line formats.
    A fake router (a PUB in an actor) publishes on a free port. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl_sub.h"

/* Formats with `print` into a string (caller frees). */
static char *s_printed(void (*print)(FILE *, const tg_envelope_t *, bool), const tg_envelope_t *env,
                       bool json)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    cr_assert_not_null(out);
    print(out, env, json);
    fclose(out);
    return text;
}

static tg_envelope_t *s_monitor_env(void)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_MONITOR);
    env->role = strdup("edge");
    env->instance = strdup("edge-abc");
    env->endpoint = strdup("tcp://127.0.0.1:5562");
    env->event_name = strdup("disconnected");
    env->value = 17;
    env->ts = 1700000000123456;
    return env;
}

/* Microseconds since the epoch print as an ISO 8601 UTC time. */
Test(ctl_sub, time_prints_as_iso8601_utc_with_microseconds)
{
    char out[48];
    ctl_sub_time(1700000000123456, out, sizeof out);
    cr_expect_str_eq(out, "2023-11-14T22:13:20.123456Z");
}

/* A monitor line is TIME ROLE INSTANCE ENDPOINT EVENT value=N, one line. */
Test(ctl_sub, monitor_line_has_every_field_in_order)
{
    tg_envelope_t *env = s_monitor_env();
    char *line = s_printed(ctl_sub_print_monitor, env, false);
    cr_expect_str_eq(line, "2023-11-14T22:13:20.123456Z edge edge-abc tcp://127.0.0.1:5562 "
                           "disconnected value=17\n");
    free(line);
    tg_envelope_destroy(&env);
}

/* An empty endpoint prints as "-", so the columns stay aligned for awk. */
Test(ctl_sub, monitor_line_shows_an_empty_endpoint_as_dash)
{
    tg_envelope_t *env = s_monitor_env();
    env->endpoint[0] = '\0';
    char *line = s_printed(ctl_sub_print_monitor, env, false);
    cr_expect(strstr(line, " edge-abc - disconnected ") != NULL, "%s", line);
    free(line);
    tg_envelope_destroy(&env);
}

/* --json gives one parseable object per event with every field. */
Test(ctl_sub, monitor_json_is_one_object_per_line)
{
    tg_envelope_t *env = s_monitor_env();
    char *line = s_printed(ctl_sub_print_monitor, env, true);
    cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1);
    json_t *obj = json_loads(line, 0, NULL);
    cr_assert_not_null(obj, "%s", line);
    cr_expect_str_eq(json_string_value(json_object_get(obj, "role")), "edge");
    cr_expect_str_eq(json_string_value(json_object_get(obj, "instance")), "edge-abc");
    cr_expect_str_eq(json_string_value(json_object_get(obj, "endpoint")), "tcp://127.0.0.1:5562");
    cr_expect_str_eq(json_string_value(json_object_get(obj, "event")), "disconnected");
    cr_expect_eq(json_integer_value(json_object_get(obj, "value")), 17);
    cr_expect_eq(json_integer_value(json_object_get(obj, "ts")), 1700000000123456);
    json_decref(obj);
    free(line);
    tg_envelope_destroy(&env);
}

/* A tap line names topic, publication id, size, subscriptions and edges. */
Test(ctl_sub, tap_line_has_every_field)
{
    tg_envelope_t *env = tg_envelope_new(TG_CMD_TAP);
    env->topic = strdup("shop.order");
    env->pub_id = 42;
    env->ts = 1700000000000000;
    env->size = 9;
    env->matched = 3;
    env->edges = 2;
    char *line = s_printed(ctl_sub_print_tap, env, false);
    cr_expect_str_eq(line, "2023-11-14T22:13:20.000000Z shop.order pub_id=42 size=9 "
                           "subscriptions=3 edges=2\n");
    free(line);
    line = s_printed(ctl_sub_print_tap, env, true);
    json_t *obj = json_loads(line, 0, NULL);
    cr_assert_not_null(obj, "%s", line);
    cr_expect_eq(json_integer_value(json_object_get(obj, "subscriptions")), 3);
    cr_expect_eq(json_integer_value(json_object_get(obj, "edges")), 2);
    json_decref(obj);
    free(line);
    tg_envelope_destroy(&env);
}

static int s_handled;

/* Counts the envelopes handed over; only MONITOR ones may arrive. */
static bool s_count(void *arg, const tg_envelope_t *env)
{
    (void)arg;
    cr_expect_eq(env->command, TG_CMD_MONITOR);
    s_handled++;
    return true;
}

/* Nobody listening: exit 3 within the connection timeout, and the message
   names the endpoint tried. */
Test(ctl_sub, unreachable_router_exits_3_naming_the_endpoint, .init = cr_redirect_stderr)
{
    ctl_context_t ctx;
    memset(&ctx, 0, sizeof ctx);
    /* Port 1: nobody listens there, and unlike a just-closed ephemeral
       port, a reconnect cannot become a TCP self-connection. */
    int port = 1;
    snprintf(ctx.cfg.monitor, sizeof ctx.cfg.monitor, "tcp://127.0.0.1:%d", port);
    ctx.cfg.timeout_ms = 300;
    int64_t before = zclock_mono();
    int rc = ctl_sub_run(&ctx, "MONITOR", TG_CMD_MONITOR, 0, 0, s_count, NULL);
    cr_expect_eq(rc, CTL_EXIT_UNREACHABLE);
    cr_expect_lt(zclock_mono() - before, 3000);
    fflush(stderr);
    char expected[128];
    snprintf(expected, sizeof expected,
             "telegraphy-ctl: cannot reach the router's monitor socket at tcp://127.0.0.1:%d "
             "within 300 ms",
             port);
    FILE *err = cr_get_redirected_stderr();
    char text[512] = "";
    size_t n = fread(text, 1, sizeof text - 1, err);
    text[n] = '\0';
    cr_expect(strstr(text, expected) != NULL, "%s", text);
}

/* Publishes, every 10 ms until $TERM, a malformed message, a TAP and a
   MONITOR (a PUB drops what it sends before the SUB joined: repeat). */
static void s_publisher(zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *pub = zsock_new(ZMQ_PUB);
    int port = zsock_bind(pub, "tcp://127.0.0.1:*");
    zsock_signal(pipe, 0);
    zstr_sendf(pipe, "%d", port);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    while (!zpoller_wait(poller, 10) && !zpoller_terminated(poller)) {
        zstr_sendx(pub, "MONITOR", "not msgpack", NULL);
        tg_envelope_t *tap = tg_envelope_new(TG_CMD_TAP);
        tap->topic = strdup("a.b");
        tap->pub_id = 1;
        tap->body = zframe_new("\x80", 1);
        tg_envelope_send(tap, pub);
        tg_envelope_destroy(&tap);
        tg_envelope_t *env = tg_envelope_new(TG_CMD_MONITOR);
        env->role = strdup("router");
        env->instance = strdup("router-1");
        env->endpoint = strdup("");
        env->event_name = strdup("accepted");
        tg_envelope_send(env, pub);
        tg_envelope_destroy(&env);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&pub);
}

/* With --count 3 the loop returns 0 after exactly three MONITOR envelopes;
   the malformed message and the TAP were skipped, not handed over. */
Test(ctl_sub, count_stops_after_n_envelopes_of_the_asked_command)
{
    zactor_t *publisher = zactor_new(s_publisher, NULL);
    char *port = zstr_recv(publisher);
    cr_assert_not_null(port);
    ctl_context_t ctx;
    memset(&ctx, 0, sizeof ctx);
    snprintf(ctx.cfg.monitor, sizeof ctx.cfg.monitor, "tcp://127.0.0.1:%s", port);
    ctx.cfg.timeout_ms = 3000;
    s_handled = 0;
    int rc = ctl_sub_run(&ctx, "MONITOR", TG_CMD_MONITOR, 3, 10000, s_count, NULL);
    cr_expect_eq(rc, CTL_EXIT_OK);
    cr_expect_eq(s_handled, 3);
    zstr_free(&port);
    zactor_destroy(&publisher);
}

/* --timeout-ms ends a quiet run with exit 0 (nothing went wrong). */
Test(ctl_sub, timeout_ends_a_quiet_run_with_exit_0)
{
    zsock_t *pub = zsock_new(ZMQ_PUB);
    int port = zsock_bind(pub, "tcp://127.0.0.1:*");
    cr_assert_gt(port, 0);
    ctl_context_t ctx;
    memset(&ctx, 0, sizeof ctx);
    snprintf(ctx.cfg.monitor, sizeof ctx.cfg.monitor, "tcp://127.0.0.1:%d", port);
    ctx.cfg.timeout_ms = 3000;
    s_handled = 0;
    int64_t before = zclock_mono();
    int rc = ctl_sub_run(&ctx, "MONITOR", TG_CMD_MONITOR, 0, 300, s_count, NULL);
    cr_expect_eq(rc, CTL_EXIT_OK);
    cr_expect_eq(s_handled, 0);
    cr_expect_geq(zclock_mono() - before, 300);
    zsock_destroy(&pub);
}
