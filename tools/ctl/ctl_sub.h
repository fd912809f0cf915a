/*  ctl_sub: what the live commands (monitor, tap) share: a SUB socket on
    the router's monitor/tap PUB endpoint (cfg.monitor), a check that it is
    reachable, the receive loop with --count / --timeout-ms / Ctrl-C, and
    the one-line formats of MONITOR and TAP envelopes.
*/
#ifndef CTL_SUB_H
#define CTL_SUB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl.h"
#include "tg_envelope.h"

/* Called with each envelope of the subscribed command (borrowed). Returns
   true when it printed it (it counts towards --count). */
typedef bool (*ctl_sub_handler_t)(void *arg, const tg_envelope_t *env);

/* Subscribes to messages whose first frame starts with `prefix` ("MONITOR",
   "TAP") at ctx->cfg.monitor. Waits at most ctx->cfg.timeout_ms for the
   connection (else "telegraphy-ctl: cannot reach the router's monitor
   socket at ENDPOINT within N ms" on stderr, CTL_EXIT_UNREACHABLE), then
   hands every envelope of command `expected` to handler until it printed
   `count` of them (0 = no limit), `timeout_ms` passed (0 = no limit) or
   SIGINT/SIGTERM came. Other or malformed messages are skipped. Returns
   CTL_EXIT_OK in those three cases. */
int ctl_sub_run(const ctl_context_t *ctx, const char *prefix, tg_command_t expected, uint64_t count,
                uint64_t timeout_ms, ctl_sub_handler_t handler, void *arg);

/* Writes µs since the epoch as "2026-11-26T20:10:01.123456Z" into out. */
void ctl_sub_time(uint64_t ts_us, char *out, size_t size);

/* Prints a MONITOR envelope as one line: TIME ROLE INSTANCE ENDPOINT EVENT
   value=N (an empty endpoint as "-"), or with json one object
   {"time", "ts", "role", "instance", "endpoint", "event", "value"}. */
void ctl_sub_print_monitor(FILE *out, const tg_envelope_t *env, bool json);

/* Prints a TAP envelope as one line: TIME TOPIC pub_id=N size=N
   subscriptions=N edges=N, or with json one object {"time", "ts", "topic",
   "pub_id", "size", "subscriptions", "edges"}. */
void ctl_sub_print_tap(FILE *out, const tg_envelope_t *env, bool json);

/* True while no SIGINT/SIGTERM came since ctl_sub_signals() (for status
   --watch, which loops the same way). */
void ctl_sub_signals(void);
bool ctl_sub_running(void);

#endif
