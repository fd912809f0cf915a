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
#include "tg_envelope.h"

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " CTL_PROGRAM " [OPTIONS] status [--json]\n"
                 "Asks the router (at --control) for every process of the gateway: uptime,\n"
                 "sessions, subscriptions, events in/out per second, queue depth, drops, bad\n"
                 "input, and how long ago the router last heard from it.\n"
                 "\n"
                 "  --json   print the full answer: {\"processes\": [{\"role\", \"instance\",\n"
                 "           \"uptime_ms\", \"last_seen_ms\", \"stats\": {...}}, ...]}\n"
                 "\n" CTL_EXIT_CODES_HELP);
}

static const struct option s_options[] = {
    {"json", no_argument, NULL, CTL_ARGS_OPT_JSON},
    {"help", no_argument, NULL, CTL_ARGS_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const ctl_args_command_t s_command = {"status", s_usage, s_options};

//  Returns CTL_ARGS_DONE, or how parsing ended otherwise (ctl_args.h).
static int s_parse(ctl_context_t *ctx, int argc, char **argv)
{
    ctl_args_begin();
    //  No options of its own: the first answer says how parsing ended.
    int outcome = ctl_args_next(ctx, &s_command, argc, argv);
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

#define S_COLUMNS 11
#define S_CELL    160

static const char *s_headers[S_COLUMNS] = {"PROCESS",       "INSTANCE",  "UPTIME",   "SESSIONS",
                                           "SUBSCRIPTIONS", "IN/S",      "OUT/S",    "QUEUE",
                                           "DROPS",         "BAD_INPUT", "LAST SEEN"};
static const char *s_stat_names[S_COLUMNS] = {NULL,
                                              NULL,
                                              NULL,
                                              "sessions",
                                              "subscriptions",
                                              "events_in_per_s",
                                              "events_out_per_s",
                                              "queue_depth",
                                              "drops",
                                              "bad_input",
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
    char(*cells)[S_COLUMNS][S_CELL] = calloc(rows + 1, sizeof(*cells));
    if (!cells)
        return;
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

int ctl_status_run(ctl_context_t *ctx, int argc, char **argv)
{
    int parsed = s_parse(ctx, argc, argv);
    if (parsed != CTL_ARGS_DONE)
        return ctl_args_exit_code(parsed);
    tg_envelope_t *request = tg_envelope_new(TG_CMD_STATUS);
    tg_envelope_t *reply = NULL;
    int rc = ctl_request_ask(ctx, CTL_PEER_ROUTER, "status", request, TG_CMD_STATUS_REPLY, &reply);
    if (rc == CTL_EXIT_OK && ctx->json)
        s_print_json(reply);
    else if (rc == CTL_EXIT_OK)
        s_print_table(reply);
    tg_envelope_destroy(&reply);
    tg_envelope_destroy(&request);
    return rc;
}
