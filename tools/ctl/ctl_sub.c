/*  ctl_sub: see ctl_sub.h. */
#include "ctl_sub.h"

#include <czmq.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "tg_clock.h"
#include "tg_monitor.h"

/* How often the receive loop looks at the signal flag and the clock. */
#define S_TICK_MS 100

static volatile sig_atomic_t s_stop;

static void s_on_signal(int signum)
{
    (void)signum;
    s_stop = 1;
}

void ctl_sub_signals(void)
{
    s_stop = 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

bool ctl_sub_running(void)
{
    return !s_stop;
}

void ctl_sub_time(uint64_t ts_us, char *out, size_t size)
{
    time_t seconds = (time_t)(ts_us / 1000000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%06" PRIu64 "Z", day, ts_us % 1000000);
}

void ctl_sub_print_monitor(FILE *out, const tg_envelope_t *env, bool json)
{
    char when[48];
    ctl_sub_time(env->ts, when, sizeof when);
    const char *endpoint = env->endpoint && env->endpoint[0] ? env->endpoint : "-";
    if (json) {
        json_t *line = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I}", "time", when, "ts",
                                 (json_int_t)env->ts, "role", env->role, "instance", env->instance,
                                 "endpoint", env->endpoint ? env->endpoint : "", "event",
                                 env->event_name, "value", (json_int_t)env->value);
        if (line)
            json_dumpf(line, out, JSON_COMPACT);
        json_decref(line);
        fputc('\n', out);
    } else
        fprintf(out, "%s %s %s %s %s value=%" PRId64 "\n", when, env->role, env->instance, endpoint,
                env->event_name, env->value);
    fflush(out); /* one line per event, as it happens, also into a pipe */
}

void ctl_sub_print_tap(FILE *out, const tg_envelope_t *env, bool json)
{
    char when[48];
    ctl_sub_time(env->ts, when, sizeof when);
    if (json) {
        json_t *line = json_pack(
            "{s:s, s:I, s:s, s:I, s:I, s:I, s:I}", "time", when, "ts", (json_int_t)env->ts, "topic",
            env->topic, "pub_id", (json_int_t)env->pub_id, "size", (json_int_t)env->size,
            "subscriptions", (json_int_t)env->matched, "edges", (json_int_t)env->edges);
        if (line)
            json_dumpf(line, out, JSON_COMPACT);
        json_decref(line);
        fputc('\n', out);
    } else
        fprintf(out,
                "%s %s pub_id=%" PRIu64 " size=%" PRIu64 " subscriptions=%" PRIu64 " edges=%" PRIu64
                "\n",
                when, env->topic, env->pub_id, env->size, env->matched, env->edges);
    fflush(out);
}

/* Waits until the SUB's own monitor reports a completed handshake, or the
   deadline. A SUB's connect never fails by itself: this is how an absent
   router becomes a clear error instead of silence. */
static bool s_wait_connected(tg_monitor_t *monitor, int64_t deadline)
{
    zsock_t *pair = tg_monitor_socket(monitor);
    while (ctl_sub_running()) {
        int64_t left = deadline - tg_clock_read().mono_ms;
        if (left <= 0)
            return false;
        zsock_set_rcvtimeo(pair, (int)(left < S_TICK_MS ? left : S_TICK_MS));
        zmsg_t *msg = zmsg_recv(pair);
        if (!msg)
            continue;
        tg_envelope_t *env = tg_monitor_decode(&msg, "ctl", "ctl", 0);
        bool done = env && streq(env->event_name, "handshake_succeeded");
        tg_envelope_destroy(&env);
        if (done)
            return true;
    }
    return false;
}

int ctl_sub_run(const ctl_context_t *ctx, const char *prefix, tg_command_t expected, uint64_t count,
                uint64_t timeout_ms, ctl_sub_handler_t handler, void *arg)
{
    assert(ctx && prefix && handler);
    const char *endpoint = ctx->cfg.monitor[0] ? ctx->cfg.monitor : TG_DEFAULT_MONITOR;
    ctl_sub_signals();
    //  The waits below are loops: they read the clock once per wake-up.
    int64_t started = tg_clock_read().mono_ms;
    zsock_t *sub = zsock_new(ZMQ_SUB);
    if (!sub) {
        fprintf(stderr, "%s: cannot create a socket: %s\n", CTL_PROGRAM, zmq_strerror(zmq_errno()));
        return CTL_EXIT_UNREACHABLE;
    }
    zsock_set_linger(sub, 0);
    zsock_set_rcvhwm(sub, 10000);
    zsock_set_subscribe(sub, prefix);
    tg_monitor_t *monitor = tg_monitor_new(sub, "ctl", "ctl");
    int rc = CTL_EXIT_OK;
    if (!monitor || zsock_connect(sub, "%s", endpoint) != 0) {
        fprintf(stderr, "%s: cannot connect to the router's monitor socket at %s: %s\n",
                CTL_PROGRAM, endpoint, zmq_strerror(zmq_errno()));
        rc = CTL_EXIT_UNREACHABLE;
        goto done;
    }
    /* A run shorter than the connection timeout still reports an absent
       router, within the run's time. */
    uint64_t connect_ms = ctx->cfg.timeout_ms;
    if (timeout_ms && timeout_ms < connect_ms)
        connect_ms = timeout_ms;
    if (!s_wait_connected(monitor, started + (int64_t)connect_ms)) {
        if (ctl_sub_running()) {
            fprintf(stderr,
                    "%s: cannot reach the router's monitor socket at %s within %u ms "
                    "(is the router running with --monitor %s?)\n",
                    CTL_PROGRAM, endpoint, (unsigned)connect_ms, endpoint);
            rc = CTL_EXIT_UNREACHABLE;
        }
        goto done;
    }
    /* Connected: the SUB's own events are of no more use, and an undrained
       monitor would end up blocking libzmq (tg_monitor.h). */
    tg_monitor_destroy(&monitor);
    int64_t deadline = timeout_ms ? started + (int64_t)timeout_ms : INT64_MAX;
    uint64_t printed = 0;
    while (ctl_sub_running() && (count == 0 || printed < count)) {
        int64_t left = deadline - tg_clock_read().mono_ms;
        if (left <= 0)
            break;
        zsock_set_rcvtimeo(sub, (int)(left < S_TICK_MS ? left : S_TICK_MS));
        zmsg_t *msg = zmsg_recv(sub);
        if (!msg)
            continue;
        tg_envelope_t *env = tg_envelope_decode(&msg, NULL);
        if (env && env->command == expected && handler(arg, env))
            printed++;
        tg_envelope_destroy(&env);
    }
done:
    tg_monitor_destroy(&monitor);
    zsock_destroy(&sub);
    return rc;
}
