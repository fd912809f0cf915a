/*  tg_config: the configuration of a gateway process.

    Every setting has a TELEGRAPHY_* environment variable and a --flag; the
    flag wins. Each process declares which settings it uses (a bit mask), so
    its --help lists only those. Values are checked (ports, ranges, endpoint
    shape); a bad value is a clear error naming the variable and the flag.
*/
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Default endpoints (see README, configuration table). */
#define TG_DEFAULT_INGEST     "tcp://127.0.0.1:5560"
#define TG_DEFAULT_INGEST_ACK "tcp://127.0.0.1:5561"
#define TG_DEFAULT_ROUTER     "tcp://127.0.0.1:5562"
#define TG_DEFAULT_CONTROL    "tcp://127.0.0.1:5563"
#define TG_DEFAULT_MONITOR    "tcp://127.0.0.1:5564"

typedef enum {
    TG_OPT_INGEST = 1u << 0,             /* TELEGRAPHY_INGEST --ingest */
    TG_OPT_INGEST_ACK = 1u << 1,         /* TELEGRAPHY_INGEST_ACK --ingest-ack */
    TG_OPT_ROUTER = 1u << 2,             /* TELEGRAPHY_ROUTER --router */
    TG_OPT_CONTROL = 1u << 3,            /* TELEGRAPHY_CONTROL --control */
    TG_OPT_EDGE_HOST = 1u << 4,          /* TELEGRAPHY_EDGE_HOST --host */
    TG_OPT_EDGE_PORT = 1u << 5,          /* TELEGRAPHY_EDGE_PORT --port */
    TG_OPT_REALM = 1u << 6,              /* TELEGRAPHY_REALM --realm */
    TG_OPT_MAX_MESSAGE = 1u << 7,        /* TELEGRAPHY_MAX_MESSAGE --max-message */
    TG_OPT_SESSION_QUEUE = 1u << 8,      /* TELEGRAPHY_SESSION_QUEUE --session-queue */
    TG_OPT_MAX_SESSIONS = 1u << 9,       /* TELEGRAPHY_MAX_SESSIONS --max-sessions */
    TG_OPT_MAX_SUBSCRIPTIONS = 1u << 10, /* TELEGRAPHY_MAX_SUBSCRIPTIONS --max-subscriptions */
    TG_OPT_MAX_FILTER = 1u << 11,        /* TELEGRAPHY_MAX_FILTER --max-filter */
    TG_OPT_HEARTBEAT_MS = 1u << 12,      /* TELEGRAPHY_HEARTBEAT_MS --heartbeat-ms */
    TG_OPT_HWM = 1u << 13,               /* TELEGRAPHY_HWM --hwm */
    TG_OPT_SECRET = 1u << 14,            /* TELEGRAPHY_SECRET --secret */
    TG_OPT_ALLOW_ANONYMOUS = 1u << 15,   /* TELEGRAPHY_ALLOW_ANONYMOUS --allow-anonymous */
    TG_OPT_LOG_LEVEL = 1u << 16,         /* TELEGRAPHY_LOG_LEVEL --log-level */
    TG_OPT_MAX_EVENT = 1u << 17,         /* TELEGRAPHY_MAX_EVENT --max-event */
    TG_OPT_TIMEOUT_MS = 1u << 18,        /* TELEGRAPHY_TIMEOUT_MS --timeout-ms (ctl) */
    TG_OPT_FILTER_DEPTH = 1u << 19,      /* TELEGRAPHY_FILTER_MAX_DEPTH --filter-max-depth */
    TG_OPT_FILTER_LIST = 1u << 20,       /* TELEGRAPHY_FILTER_MAX_LIST --filter-max-list */
    TG_OPT_SECRET_PREVIOUS = 1u << 21,   /* TELEGRAPHY_SECRET_PREVIOUS --secret-previous */
    TG_OPT_RESUME_TTL = 1u << 22,        /* TELEGRAPHY_RESUME_TTL --resume-ttl */
    TG_OPT_TOKEN_SKEW = 1u << 23,        /* TELEGRAPHY_TOKEN_SKEW --token-skew */
    TG_OPT_MONITOR = 1u << 24,           /* TELEGRAPHY_MONITOR --monitor */
    TG_OPT_DATABASE_URL = 1u << 25,      /* TELEGRAPHY_DATABASE_URL --database-url */
    TG_OPT_BACKLOG_MAX = 1u << 26,       /* TELEGRAPHY_BACKLOG_MAX --backlog-max */
    TG_OPT_PERSISTENT_TTL = 1u << 27,    /* TELEGRAPHY_PERSISTENT_TTL --persistent-ttl */
    TG_OPT_STORE_TIMEOUT_MS = 1u << 28,  /* TELEGRAPHY_STORE_TIMEOUT_MS --store-timeout-ms */
    TG_OPT_ALLOWED_ORIGINS = 1u << 29,   /* TELEGRAPHY_ALLOWED_ORIGINS --allowed-origins */
} tg_option_t;

typedef struct {
    char ingest[256];           /* PULL endpoint for fire-and-forget publishers */
    char ingest_ack[256];       /* ROUTER endpoint for acknowledged publish/register */
    char router[256];           /* router's ROUTER endpoint for edges and ingests */
    char control[256];          /* router's ROUTER endpoint for telegraphy-ctl */
    char monitor[256];          /* router's PUB endpoint: MONITOR and TAP (ctl monitor/tap) */
    char edge_host[256];        /* interface the edge listens on, default 127.0.0.1 */
    int edge_port;              /* default 8765 */
    char realm[256];            /* default "telegraphy" */
    uint32_t max_message;       /* WebSocket message limit, default 1 MiB */
    uint32_t max_event;         /* event body limit at ingest, default 64 KiB */
    uint32_t session_queue;     /* messages queued per session, default 1024 */
    uint32_t max_sessions;      /* per edge, default 10000 */
    uint32_t max_subscriptions; /* per session, default 256 */
    uint32_t max_filter;        /* bytes of a filter, default 1024 */
    uint32_t filter_max_depth;  /* nesting of not/parentheses in a filter, default 32 */
    uint32_t filter_max_list;   /* values in one `in [...]` list of a filter, default 256 */
    uint32_t heartbeat_ms;      /* default 1000; peers expire after 3 missed */
    uint32_t hwm;               /* ZeroMQ high-water mark of internal sockets, default 100000 */
    char secret[512];           /* shared secret (tokens), may be empty until auth lands */
    char secret_previous[512];  /* the secret before a rotation, still accepted; "" = none */
    uint32_t resume_ttl;        /* seconds a resume token stays valid, default 86400 */
    uint32_t token_skew;        /* seconds of clock skew allowed on a token's exp, default 30 */
    bool allow_anonymous;       /* default true */
    char log_level[16];         /* "error" | "warning" | "info" | "debug", default "info" */
    uint32_t timeout_ms;        /* ctl: how long to wait for a reply, default 5000 */
    char database_url[1024];    /* persist: libpq URI of the database (required by persist) */
    uint32_t backlog_max;      /* persist: events held per persistent subscription, default 10000 */
    uint32_t persistent_ttl;   /* persist: seconds an unused persistent subscription is kept,
                                  default 7 days */
    uint32_t store_timeout_ms; /* router, ingest: how long a guaranteed event may wait to be
                                  stored before it is rejected as unavailable, default 5000 */
    char allowed_origins[2048]; /* edge: comma-separated origins whose upgrades may use the
                                   identity cookie; "" = same host name as the gateway */
} tg_config_t;

/* Fills cfg with defaults, then the environment, then argv (flags of the
   options in `options`, "--name value" or "--name=value"). Unknown flags and
   positional arguments are errors unless `rest` is not NULL: then the index of
   the first non-flag argument is stored there and parsing stops (argc when
   there is none; the index after "--" when that ends the flags).
   Booleans take 1/0, true/false, yes/no, on/off; a bare boolean flag means
   true. An empty environment variable counts as unset. Endpoints must be
   tcp://HOST:PORT (PORT 1..65535 or *), ipc://PATH or inproc://NAME.
   Returns 0 on success; 1 when --help was given (usage printed to stdout,
   the caller exits 0); -1 on error (message printed to stderr, naming the
   variable/flag; the caller exits 2). `program` and `summary` head --help. */
int tg_config_load(tg_config_t *cfg, unsigned options, int argc, char **argv, const char *program,
                   const char *summary, int *rest);

/* Prints the usage of `options` to `out`. */
void tg_config_usage(FILE *out, unsigned options, const char *program, const char *summary);

#endif
