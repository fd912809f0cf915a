/*  telegraphy-ctl status: every process the router knows, with its stats,
    as a table or (--json) as the router's full answer.
*/
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_args.h"
#include "ctl_request.h"
#include "ctl_sub.h"
#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_envelope.h"

#include <czmq.h>
#include <unistd.h>

/* --watch: the refresh period. */
#define S_WATCH_MS 1000

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " CTL_PROGRAM " [OPTIONS] status [--watch] [--json]\n"
                 "Asks the router (at --control) for every process of the gateway: uptime,\n"
                 "sessions, subscriptions, events in/out per second, queue depth, drops,\n"
                 "slow-consumer closes, bad input, the router's tap drops, and how long ago\n"
                 "the router last heard from it. Below the table, one line per persist: its\n"
                 "database, commit latency, batch size, stored backlog and oldest unacked event.\n"
                 "\n"
                 "  --watch  ask again every second until Ctrl-C: the table is redrawn in\n"
                 "           place on a terminal; with --json, one answer per line. An\n"
                 "           unreachable router is reported and asked again.\n"
                 "  --json   print the full answer: {\"processes\": [{\"role\", \"instance\",\n"
                 "           \"uptime_ms\", \"last_seen_ms\", \"stats\": {...}}, ...]}\n"
                 "\n" CTL_EXIT_CODES_HELP);
}

enum { S_OPT_WATCH = CTL_ARGS_OPT_OWN };

static const struct option s_options[] = {
    {"watch", no_argument, NULL, S_OPT_WATCH},
    {"json", no_argument, NULL, CTL_ARGS_OPT_JSON},
    {"help", no_argument, NULL, CTL_ARGS_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const ctl_args_command_t s_command = {"status", s_usage, s_options};

//  Returns CTL_ARGS_DONE, or how parsing ended otherwise (ctl_args.h).
static int s_parse(ctl_context_t *ctx, int argc, char **argv, bool *watch)
{
    ctl_args_begin();
    int outcome;
    while ((outcome = ctl_args_next(ctx, &s_command, argc, argv)) == S_OPT_WATCH)
        *watch = true;
    if (outcome != CTL_ARGS_DONE)
        return outcome;
    return ctl_args_operand(&s_command, argc, argv, NULL, NULL);
}

static void s_print_json(const tg_envelope_t *reply)
{
    json_t *processes = json_array();
    for (size_t i = 0; i < reply->processes_count; i++) {
        const tg_process_status_t *process = &reply->processes[i];
        json_t *stats = json_object();
        for (size_t s = 0; s < process->stats_count; s++)
            json_object_set_new(stats, process->stats[s].name,
                                json_integer(process->stats[s].value));
        json_array_append_new(processes,
                              json_pack("{s:s, s:s, s:I, s:I, s:o}", "role", process->role,
                                        "instance", process->instance, "uptime_ms",
                                        (json_int_t)process->uptime_ms, "last_seen_ms",
                                        (json_int_t)process->last_seen_ms, "stats", stats));
    }
    json_t *out = json_pack("{s:o}", "processes", processes);
    if (out)
        json_dumpf(out, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(out);
}

//  "12.3s", "4m07s", "2h05m", "3d04h".
static void s_duration(uint64_t ms, char *out, size_t size)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf(out, size, "%" PRIu64 ".%" PRIu64 "s", s, (ms % 1000) / 100);
    else if (s < 3600)
        snprintf(out, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s % 3600) / 60);
    else
        snprintf(out, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, (s % 86400) / 3600);
}

//  The stat's value as text, or "-" when the process does not report it
//  (an ingest has no sessions).
static void s_stat(const tg_process_status_t *process, const char *name, char *out, size_t size)
{
    for (size_t i = 0; i < process->stats_count; i++)
        if (streq(process->stats[i].name, name)) {
            snprintf(out, size, "%" PRId64, process->stats[i].value);
            return;
        }
    snprintf(out, size, "-");
}

#define S_COLUMNS 13
#define S_CELL    160

static const char *s_headers[S_COLUMNS] = {
    "PROCESS", "INSTANCE", "UPTIME",      "SESSIONS",  "SUBSCRIPTIONS", "IN/S",     "OUT/S",
    "QUEUE",   "DROPS",    "SLOW_CLOSES", "BAD_INPUT", "TAP_DROPS",     "LAST SEEN"};
static const char *s_stat_names[S_COLUMNS] = {NULL,
                                              NULL,
                                              NULL,
                                              "sessions",
                                              "subscriptions",
                                              "events_in_per_s",
                                              "events_out_per_s",
                                              "queue_depth",
                                              "drops",
                                              "slow_consumer_closes",
                                              "bad_input",
                                              "tap_drops",
                                              NULL};

static void s_row(const tg_process_status_t *process, char cells[S_COLUMNS][S_CELL])
{
    snprintf(cells[0], S_CELL, "%s", process->role);
    snprintf(cells[1], S_CELL, "%s", process->instance);
    s_duration(process->uptime_ms, cells[2], S_CELL);
    for (int c = 3; c < S_COLUMNS - 1; c++)
        s_stat(process, s_stat_names[c], cells[c], S_CELL);
    char ago[32];
    s_duration(process->last_seen_ms, ago, sizeof(ago));
    snprintf(cells[S_COLUMNS - 1], S_CELL, "%s ago", ago);
}

static void s_print_line(char cells[S_COLUMNS][S_CELL], const int *width)
{
    for (int c = 0; c < S_COLUMNS; c++) {
        //  Names left-aligned, numbers right-aligned; no trailing blanks.
        if (c == S_COLUMNS - 1)
            printf("%s\n", cells[c]);
        else if (c < 2)
            printf("%-*s  ", width[c], cells[c]);
        else
            printf("%*s  ", width[c], cells[c]);
    }
}

static void s_print_table(const tg_envelope_t *reply)
{
    size_t rows = reply->processes_count;
    char(*cells)[S_COLUMNS][S_CELL] = tg_calloc(rows + 1, sizeof(*cells));
    int width[S_COLUMNS];
    for (int c = 0; c < S_COLUMNS; c++)
        snprintf(cells[0][c], S_CELL, "%s", s_headers[c]);
    for (size_t r = 0; r < rows; r++)
        s_row(&reply->processes[r], cells[r + 1]);
    for (int c = 0; c < S_COLUMNS; c++) {
        width[c] = 0;
        for (size_t r = 0; r <= rows; r++) {
            int len = (int)strlen(cells[r][c]);
            width[c] = len > width[c] ? len : width[c];
        }
    }
    for (size_t r = 0; r <= rows; r++)
        s_print_line(cells[r], width);
    free(cells);
}

//  The value of stat `name`, or `fallback` when the process does not report it.
static int64_t s_value(const tg_process_status_t *process, const char *name, int64_t fallback)
{
    for (size_t i = 0; i < process->stats_count; i++)
        if (streq(process->stats[i].name, name))
            return process->stats[i].value;
    return fallback;
}

//  persist's own figures (issue 11): what the table's common columns
//  cannot say. One line per persist, below the table.
static void s_print_persist(const tg_envelope_t *reply)
{
    static const char *db_states[] = {"down", "connecting", "ready", "failed"};
    for (size_t r = 0; r < reply->processes_count; r++) {
        const tg_process_status_t *p = &reply->processes[r];
        if (!streq(p->role, "persist"))
            continue;
        int64_t state = s_value(p, "db_state", -1);
        char oldest[32] = "-";
        int64_t age_s = s_value(p, "oldest_unacked_age_s", -1);
        if (s_value(p, "oldest_unacked", 0) > 0 && age_s >= 0)
            s_duration((uint64_t)age_s * 1000, oldest, sizeof oldest);
        printf("persist %s: database=%s commit p50/p99=%" PRId64 "/%" PRId64 " ms batch=%" PRId64
               " (max %" PRId64 ") stored=%" PRId64 " failed=%" PRId64
               " persistent_subscriptions=%" PRId64 " backlog=%" PRId64 " oldest_unacked=%s"
               " gaps=%" PRId64 "\n",
               p->instance, state >= 0 && state < 4 ? db_states[state] : "?",
               s_value(p, "commit_p50_ms", 0), s_value(p, "commit_p99_ms", 0),
               s_value(p, "batch_size", 0), s_value(p, "batch_size_max", 0),
               s_value(p, "stored", 0), s_value(p, "store_failed", 0),
               s_value(p, "persistent_subscriptions", 0), s_value(p, "backlog_total", 0), oldest,
               s_value(p, "gaps", 0));
    }
}

//  One STATUS round trip, printed. Returns the exit code of the request.
static int s_status_once(ctl_context_t *ctx)
{
    tg_envelope_t *request = tg_envelope_new(TG_CMD_STATUS);
    tg_envelope_t *reply = NULL;
    int rc = ctl_request_ask(ctx, CTL_PEER_ROUTER, "status", request, TG_CMD_STATUS_REPLY, &reply);
    if (rc == CTL_EXIT_OK && ctx->json)
        s_print_json(reply);
    else if (rc == CTL_EXIT_OK) {
        s_print_table(reply);
        s_print_persist(reply);
    }
    fflush(stdout);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&request);
    return rc;
}

//  --watch: every S_WATCH_MS until SIGINT/SIGTERM; on a terminal the screen
//  is cleared first so the table stays in place. Exit 0 on Ctrl-C. A loop:
//  it reads the clock once per wake-up.
static int s_watch(ctl_context_t *ctx)
{
    ctl_sub_signals();
    bool tty = !ctx->json && isatty(STDOUT_FILENO);
    while (ctl_sub_running()) {
        int64_t next = tg_clock_read().mono_ms + S_WATCH_MS;
        if (tty)
            fputs("\033[H\033[2J", stdout); /* home, clear screen */
        if (s_status_once(ctx) != CTL_EXIT_OK && !tty)
            fflush(stderr);
        while (ctl_sub_running() && tg_clock_read().mono_ms < next)
            zclock_sleep(50); /* a Ctrl-C is noticed within 50 ms */
    }
    return CTL_EXIT_OK;
}

int ctl_status_run(ctl_context_t *ctx, int argc, char **argv)
{
    bool watch = false;
    int parsed = s_parse(ctx, argc, argv, &watch);
    if (parsed != CTL_ARGS_DONE)
        return ctl_args_exit_code(parsed);
    return watch ? s_watch(ctx) : s_status_once(ctx);
}
