/*  tg_log: logging for gateway processes, through czmq's zsys_* (stderr),
    lines shaped "<module>: <event> key=value".

    tg_log_ratelimited() serves the bad-input rule of DESIGN §4: a bad message
    is counted every time but logged at most once per interval per kind.
*/
#ifndef TG_LOG_H
#define TG_LOG_H

#include <stdint.h>

typedef enum { TG_LOG_ERROR = 0, TG_LOG_WARNING, TG_LOG_INFO, TG_LOG_DEBUG } tg_log_level_t;

/* Sets the process name used as the log prefix and the level ("error",
   "warning", "info", "debug"; unknown -> info). Call once from main(). */
void tg_log_init(const char *process_name, const char *level);

tg_log_level_t tg_log_level(void);

void tg_log_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
void tg_log_warning(const char *format, ...) __attribute__((format(printf, 1, 2)));
void tg_log_info(const char *format, ...) __attribute__((format(printf, 1, 2)));
void tg_log_debug(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* A per-kind limiter: log the first occurrence, then at most one line per
   interval_ms with the number suppressed meanwhile. Zero-initialise it. */
typedef struct {
    int64_t last_ms;     /* when the last line was written */
    uint64_t suppressed; /* occurrences not logged since then */
} tg_log_limiter_t;

/* Lines are written at warning level; `interval_ms` 0 logs every call. */
void tg_log_ratelimited(tg_log_limiter_t *limiter, int64_t interval_ms, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Overrides the level set by tg_log_init (tests, a SIGHUP handler). */
void tg_log_set_level(tg_log_level_t level);

/* Number of lines written since the process started (all levels, after the
   level filter): lets tests observe the filter and the limiter. */
uint64_t tg_log_lines(void);

#endif
