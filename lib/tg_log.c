/*  tg_log: logging through czmq's zsys_* with a level filter and a
    per-kind rate limiter. See tg_log.h.
*/
#include "tg_log.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Longer lines are truncated: a log line is for people, and a bounded stack
   buffer keeps logging allocation-free. */
#define S_LINE_MAX 1024

/* Level below which lines are dropped; read from any thread (the edge logs
   from its ZeroMQ thread), written once by tg_log_init. */
static _Atomic int s_level = TG_LOG_INFO;

/* Lines written since start: lets tests observe the limiter from outside. */
static _Atomic uint64_t s_lines;

static tg_log_level_t s_level_parse(const char *level)
{
    if (level) {
        if (streq(level, "error"))
            return TG_LOG_ERROR;
        if (streq(level, "warning") || streq(level, "warn"))
            return TG_LOG_WARNING;
        if (streq(level, "debug"))
            return TG_LOG_DEBUG;
    }
    return TG_LOG_INFO;
}

void tg_log_init(const char *process_name, const char *level)
{
    assert(process_name);
    zsys_set_logident(process_name);
    /* czmq logs to stdout by default; stdout belongs to program output
       (telegraphy-ctl --json, token), so logs go to stderr. */
    zsys_set_logstream(stderr);
    atomic_store(&s_level, (int)s_level_parse(level));
}

tg_log_level_t tg_log_level(void)
{
    return (tg_log_level_t)atomic_load(&s_level);
}

void tg_log_set_level(tg_log_level_t level)
{
    atomic_store(&s_level, (int)level);
}

uint64_t tg_log_lines(void)
{
    return atomic_load(&s_lines);
}

static void s_emit(tg_log_level_t level, const char *line)
{
    atomic_fetch_add(&s_lines, 1);
    switch (level) {
    case TG_LOG_ERROR:
        zsys_error("%s", line);
        break;
    case TG_LOG_WARNING:
        zsys_warning("%s", line);
        break;
    case TG_LOG_INFO:
        zsys_info("%s", line);
        break;
    case TG_LOG_DEBUG:
        zsys_debug("%s", line);
        break;
    }
}

static void s_vlog(tg_log_level_t level, const char *format, va_list args)
    __attribute__((format(printf, 2, 0)));

static void s_vlog(tg_log_level_t level, const char *format, va_list args)
{
    if ((int)level > atomic_load(&s_level))
        return;
    char line[S_LINE_MAX];
    vsnprintf(line, sizeof line, format, args);
    s_emit(level, line);
}

void tg_log_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_vlog(TG_LOG_ERROR, format, args);
    va_end(args);
}

void tg_log_warning(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_vlog(TG_LOG_WARNING, format, args);
    va_end(args);
}

void tg_log_info(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_vlog(TG_LOG_INFO, format, args);
    va_end(args);
}

void tg_log_debug(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_vlog(TG_LOG_DEBUG, format, args);
    va_end(args);
}

/* last_ms == 0 means "never logged": zclock_mono() is stored as at least 1
   so that a machine booted less than interval_ms ago still logs the first
   occurrence. The limiter counts even when the level hides the line, so the
   suppressed count stays true if the level changes. */
void tg_log_ratelimited(tg_log_limiter_t *limiter, int64_t interval_ms, const char *format, ...)
{
    assert(limiter);
    assert(interval_ms >= 0);
    int64_t now = zclock_mono();
    if (limiter->last_ms != 0 && now - limiter->last_ms < interval_ms) {
        limiter->suppressed++;
        return;
    }
    uint64_t suppressed = limiter->suppressed;
    limiter->last_ms = now > 0 ? now : 1;
    limiter->suppressed = 0;
    if ((int)TG_LOG_WARNING > atomic_load(&s_level))
        return;

    char line[S_LINE_MAX];
    va_list args;
    va_start(args, format);
    int len = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (suppressed > 0 && len >= 0 && (size_t)len < sizeof line)
        snprintf(line + len, sizeof line - (size_t)len, " suppressed=%" PRIu64, suppressed);
    s_emit(TG_LOG_WARNING, line);
}
