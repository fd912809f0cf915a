/*  tg_config: defaults, then TELEGRAPHY_* environment variables, then
    --flags. One table row per setting, so --help, parsing and checking can
    never disagree. See tg_config.h.
*/
#include "tg_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tg_envelope.h"

typedef enum {
    S_ENDPOINT, /* tcp://host:port, ipc://path, inproc://name */
    S_STRING,   /* non-empty text (empty allowed when min is 0) */
    S_PORT,     /* 1..65535 */
    S_UINT,     /* unsigned 32-bit in [min, max] */
    S_BOOL,     /* 1/0 true/false yes/no on/off */
    S_LEVEL,    /* error | warning | info | debug */
} s_kind_t;

typedef struct {
    unsigned bit;     /* tg_option_t */
    const char *flag; /* without the leading "--" */
    const char *env;  /* environment variable */
    s_kind_t kind;
    const char *value;    /* the value's name in --help */
    const char *fallback; /* default, as text (parsed like any other value) */
    size_t offset;        /* into tg_config_t */
    size_t size;          /* of the char array (strings, endpoints) */
    uint64_t min, max;    /* numbers: range; strings: length range */
    const char *help;
} s_option_t;

#define S_AT(field) offsetof(tg_config_t, field), sizeof(((tg_config_t *)0)->field)

static const s_option_t s_options[] = {
    {TG_OPT_INGEST, "ingest", "TELEGRAPHY_INGEST", S_ENDPOINT, "ENDPOINT", TG_DEFAULT_INGEST,
     S_AT(ingest), 1, 255, "ingest PULL socket for fire-and-forget publishers"},
    {TG_OPT_INGEST_ACK, "ingest-ack", "TELEGRAPHY_INGEST_ACK", S_ENDPOINT, "ENDPOINT",
     TG_DEFAULT_INGEST_ACK, S_AT(ingest_ack), 1, 255,
     "ingest ROUTER socket for acknowledged publish/register"},
    {TG_OPT_ROUTER, "router", "TELEGRAPHY_ROUTER", S_ENDPOINT, "ENDPOINT", TG_DEFAULT_ROUTER,
     S_AT(router), 1, 255, "router ROUTER socket for edges and ingests"},
    {TG_OPT_CONTROL, "control", "TELEGRAPHY_CONTROL", S_ENDPOINT, "ENDPOINT", TG_DEFAULT_CONTROL,
     S_AT(control), 1, 255, "router control socket for telegraphy-ctl"},
    {TG_OPT_MONITOR, "monitor", "TELEGRAPHY_MONITOR", S_ENDPOINT, "ENDPOINT", TG_DEFAULT_MONITOR,
     S_AT(monitor), 1, 255, "router PUB socket of socket monitor events and the event tap"},
    {TG_OPT_EDGE_HOST, "host", "TELEGRAPHY_EDGE_HOST", S_STRING, "HOST", "127.0.0.1",
     S_AT(edge_host), 1, 255, "interface the edge's WebSocket server listens on"},
    {TG_OPT_EDGE_PORT, "port", "TELEGRAPHY_EDGE_PORT", S_PORT, "PORT", "8765", S_AT(edge_port), 1,
     65535, "port of the edge's WebSocket server (ws://HOST:PORT/ws)"},
    {TG_OPT_REALM, "realm", "TELEGRAPHY_REALM", S_STRING, "URI", "telegraphy", S_AT(realm), 1, 255,
     "the WAMP realm; HELLO for another realm is aborted"},
    {TG_OPT_MAX_MESSAGE, "max-message", "TELEGRAPHY_MAX_MESSAGE", S_UINT, "BYTES", "1048576",
     S_AT(max_message), 1024, 256u << 20, "largest WebSocket message accepted"},
    {TG_OPT_MAX_EVENT, "max-event", "TELEGRAPHY_MAX_EVENT", S_UINT, "BYTES", "65536",
     S_AT(max_event), 16, 16u << 20, "largest event body the ingest accepts"},
    {TG_OPT_SESSION_QUEUE, "session-queue", "TELEGRAPHY_SESSION_QUEUE", S_UINT, "N", "1024",
     S_AT(session_queue), 1, 1000000, "messages queued per session before it is closed"},
    {TG_OPT_MAX_SESSIONS, "max-sessions", "TELEGRAPHY_MAX_SESSIONS", S_UINT, "N", "10000",
     S_AT(max_sessions), 1, 10000000, "WebSocket sessions per edge"},
    {TG_OPT_MAX_SUBSCRIPTIONS, "max-subscriptions", "TELEGRAPHY_MAX_SUBSCRIPTIONS", S_UINT, "N",
     "256", S_AT(max_subscriptions), 1, 100000, "subscriptions per session"},
    {TG_OPT_MAX_FILTER, "max-filter", "TELEGRAPHY_MAX_FILTER", S_UINT, "BYTES", "1024",
     S_AT(max_filter), 1, TG_MAX_FILTER_BYTES, "longest subscription filter"},
    {TG_OPT_FILTER_DEPTH, "filter-max-depth", "TELEGRAPHY_FILTER_MAX_DEPTH", S_UINT, "N", "32",
     S_AT(filter_max_depth), 1, 256, "deepest nesting of not/parentheses in a filter"},
    {TG_OPT_FILTER_LIST, "filter-max-list", "TELEGRAPHY_FILTER_MAX_LIST", S_UINT, "N", "256",
     S_AT(filter_max_list), 1, 65536, "most values in one list of a filter"},
    {TG_OPT_HEARTBEAT_MS, "heartbeat-ms", "TELEGRAPHY_HEARTBEAT_MS", S_UINT, "MS", "1000",
     S_AT(heartbeat_ms), 10, 600000, "heartbeat interval; peers expire after 3 missed"},
    {TG_OPT_HWM, "hwm", "TELEGRAPHY_HWM", S_UINT, "N", "100000", S_AT(hwm), 1, 100000000,
     "high-water mark (messages) of internal ZeroMQ sockets"},
    {TG_OPT_SECRET, "secret", "TELEGRAPHY_SECRET", S_STRING, "TEXT", "", S_AT(secret), 0, 511,
     "shared secret that signs ws tokens (same as Django's)"},
    {TG_OPT_SECRET_PREVIOUS, "secret-previous", "TELEGRAPHY_SECRET_PREVIOUS", S_STRING, "TEXT", "",
     S_AT(secret_previous), 0, 511, "previous secret, still accepted during a rotation"},
    {TG_OPT_DATABASE_URL, "database-url", "TELEGRAPHY_DATABASE_URL", S_STRING, "URI", "",
     S_AT(database_url), 0, 1023, "libpq URI of the PostgreSQL database (persist)"},
    {TG_OPT_BACKLOG_MAX, "backlog-max", "TELEGRAPHY_BACKLOG_MAX", S_UINT, "N", "10000",
     S_AT(backlog_max), 1, 100000000, "events held per persistent subscription"},
    {TG_OPT_PERSISTENT_TTL, "persistent-ttl", "TELEGRAPHY_PERSISTENT_TTL", S_UINT, "SECONDS",
     "604800", S_AT(persistent_ttl), 60, 315360000,
     "seconds an unused persistent subscription is kept"},
    {TG_OPT_STORE_TIMEOUT_MS, "store-timeout-ms", "TELEGRAPHY_STORE_TIMEOUT_MS", S_UINT, "MS",
     "5000", S_AT(store_timeout_ms), 10, 600000,
     "how long a guaranteed event may wait to be stored before it is rejected"},
    {TG_OPT_ALLOWED_ORIGINS, "allowed-origins", "TELEGRAPHY_ALLOWED_ORIGINS", S_STRING, "ORIGINS",
     "", S_AT(allowed_origins), 0, 2047,
     "comma-separated origins whose pages may use the identity cookie (default: the "
     "gateway's host name, any port)"},
    {TG_OPT_RESUME_TTL, "resume-ttl", "TELEGRAPHY_RESUME_TTL", S_UINT, "SECONDS", "86400",
     S_AT(resume_ttl), 60, 2592000, "lifetime of the resume tokens the edge issues"},
    {TG_OPT_TOKEN_SKEW, "token-skew", "TELEGRAPHY_TOKEN_SKEW", S_UINT, "SECONDS", "30",
     S_AT(token_skew), 0, 600, "clock skew allowed on a token's expiry"},
    {TG_OPT_ALLOW_ANONYMOUS, "allow-anonymous", "TELEGRAPHY_ALLOW_ANONYMOUS", S_BOOL, "BOOL",
     "true", S_AT(allow_anonymous), 0, 1, "accept sessions without a token (public events only)"},
    {TG_OPT_LOG_LEVEL, "log-level", "TELEGRAPHY_LOG_LEVEL", S_LEVEL, "LEVEL", "info",
     S_AT(log_level), 1, 15, "error, warning, info or debug"},
    {TG_OPT_TIMEOUT_MS, "timeout-ms", "TELEGRAPHY_TIMEOUT_MS", S_UINT, "MS", "5000",
     S_AT(timeout_ms), 1, 3600000, "how long telegraphy-ctl waits for a reply"},
};
#define S_OPTION_COUNT (sizeof s_options / sizeof s_options[0])

/* host:port after "tcp://": host non-empty (a name, an address, [v6] or *
   when binding), port 1..65535 or * (bind to any free port). */
static bool s_tcp_address_valid(const char *address)
{
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address)
        return false;
    for (const char *c = address; c < colon; c++)
        if (isspace((unsigned char)*c) || *c == '/')
            return false;
    const char *port = colon + 1;
    if (streq(port, "*"))
        return true;
    if (*port == '\0' || strlen(port) > 5)
        return false;
    for (const char *c = port; *c; c++)
        if (!isdigit((unsigned char)*c))
            return false;
    long value = strtol(port, NULL, 10);
    return value >= 1 && value <= 65535;
}

static bool s_endpoint_valid(const char *value)
{
    for (const char *c = value; *c; c++)
        if (isspace((unsigned char)*c))
            return false;
    if (strncmp(value, "tcp://", 6) == 0)
        return s_tcp_address_valid(value + 6);
    if (strncmp(value, "ipc://", 6) == 0)
        return value[6] != '\0';
    if (strncmp(value, "inproc://", 9) == 0)
        return value[9] != '\0';
    return false;
}

static int s_bool_parse(const char *value, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Digits only (no sign, no spaces, no hex): "-1" must not become 4294967295. */
static int s_uint_parse(const char *value, uint64_t *out)
{
    if (*value == '\0' || strlen(value) > 19)
        return -1;
    for (const char *c = value; *c; c++)
        if (!isdigit((unsigned char)*c))
            return -1;
    errno = 0;
    unsigned long long parsed = strtoull(value, NULL, 10);
    if (errno)
        return -1;
    *out = parsed;
    return 0;
}

/* Checks `value` for `option` and stores it into cfg. Returns NULL, or a
   static text saying what was expected. */
static const char *s_option_set(tg_config_t *cfg, const s_option_t *option, const char *value)
{
    char *field = (char *)cfg + option->offset;
    uint64_t number;
    bool flag;
    size_t len = strlen(value);
    switch (option->kind) {
    case S_ENDPOINT:
        if (len >= option->size || !s_endpoint_valid(value))
            return "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME";
        memcpy(field, value, len + 1);
        return NULL;
    case S_STRING:
        if (len < option->min)
            return "expected a non-empty value";
        if (len > option->max || len >= option->size)
            return "value too long";
        memcpy(field, value, len + 1);
        return NULL;
    case S_LEVEL:
        if (!streq(value, "error") && !streq(value, "warning") && !streq(value, "info") &&
            !streq(value, "debug"))
            return "expected error, warning, info or debug";
        memcpy(field, value, len + 1);
        return NULL;
    case S_PORT:
        if (s_uint_parse(value, &number) || number < option->min || number > option->max)
            return "expected a port number 1..65535";
        *(int *)field = (int)number;
        return NULL;
    case S_UINT:
        if (s_uint_parse(value, &number) || number < option->min || number > option->max)
            return "expected an integer in";
        *(uint32_t *)field = (uint32_t)number;
        return NULL;
    case S_BOOL:
        if (s_bool_parse(value, &flag))
            return "expected 1/0, true/false, yes/no or on/off";
        *(bool *)field = flag;
        return NULL;
    }
    return "unknown option kind";
}

static const s_option_t *s_option_by_flag(const char *flag, size_t len)
{
    for (size_t i = 0; i < S_OPTION_COUNT; i++)
        if (strlen(s_options[i].flag) == len && strncmp(s_options[i].flag, flag, len) == 0)
            return &s_options[i];
    return NULL;
}

/* Prints "<program>: <where the value came from>: <expected>", naming both
   the environment variable and the flag so the user finds either. */
static void s_error_value(const char *program, const s_option_t *option, bool from_flag,
                          const char *value, const char *expected)
{
    /* The secret's value is never echoed. */
    bool secret = option->bit == TG_OPT_SECRET || option->bit == TG_OPT_SECRET_PREVIOUS;
    const char *shown = secret ? "(hidden)" : value;
    if (from_flag)
        fprintf(stderr, "%s: bad value --%s \"%s\" (environment %s): %s", program, option->flag,
                shown, option->env, expected);
    else
        fprintf(stderr, "%s: bad value %s=\"%s\" (flag --%s): %s", program, option->env, shown,
                option->flag, expected);
    if (option->kind == S_UINT)
        fprintf(stderr, " %" PRIu64 "..%" PRIu64, option->min, option->max);
    fprintf(stderr, "\n");
}

int tg_config_load(tg_config_t *cfg, unsigned options, int argc, char **argv, const char *program,
                   const char *summary, int *rest)
{
    assert(cfg);
    assert(argc == 0 || argv);
    if (!program)
        program = argc > 0 && argv[0] ? argv[0] : "telegraphy";
    memset(cfg, 0, sizeof *cfg);
    /* Every setting gets its default, used or not, so code that reads an
       option its process did not declare still sees a sane value. */
    for (size_t i = 0; i < S_OPTION_COUNT; i++) {
        const char *expected = s_option_set(cfg, &s_options[i], s_options[i].fallback);
        assert(!expected);
    }
    for (size_t i = 0; i < S_OPTION_COUNT; i++) {
        const s_option_t *option = &s_options[i];
        if (!(options & option->bit))
            continue;
        const char *value = getenv(option->env);
        if (!value || !*value) /* set but empty counts as unset */
            continue;
        const char *expected = s_option_set(cfg, option, value);
        if (expected) {
            s_error_value(program, option, false, value, expected);
            return -1;
        }
    }
    if (rest)
        *rest = argc;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (streq(arg, "--help") || streq(arg, "-h")) {
            tg_config_usage(stdout, options, program, summary);
            return 1;
        }
        /* The options end at "--" (not itself an argument) or at the first
           word that is not a flag. */
        bool dashes = streq(arg, "--");
        if (dashes || strncmp(arg, "--", 2) != 0) {
            int first = dashes ? i + 1 : i;
            if (rest) {
                *rest = first;
                return 0;
            }
            if (first < argc) {
                fprintf(stderr, "%s: unexpected argument \"%s\" (see --help)\n", program,
                        argv[first]);
                return -1;
            }
            return 0;
        }
        const char *name = arg + 2;
        const char *equals = strchr(name, '=');
        size_t name_len = equals ? (size_t)(equals - name) : strlen(name);
        const s_option_t *option = s_option_by_flag(name, name_len);
        if (!option || !(options & option->bit)) {
            fprintf(stderr, "%s: unknown option \"%.*s\" (see --help)\n", program,
                    (int)name_len + 2, arg);
            return -1;
        }
        const char *value;
        if (equals)
            value = equals + 1;
        else if (option->kind == S_BOOL) {
            /* A bare boolean flag means true; it takes the next argument
               only when that is a boolean word. */
            bool ignored;
            if (i + 1 < argc && s_bool_parse(argv[i + 1], &ignored) == 0)
                value = argv[++i];
            else
                value = "true";
        } else if (i + 1 < argc)
            value = argv[++i];
        else {
            fprintf(stderr, "%s: option --%s (%s) needs a value\n", program, option->flag,
                    option->env);
            return -1;
        }
        const char *expected = s_option_set(cfg, option, value);
        if (expected) {
            s_error_value(program, option, true, value, expected);
            return -1;
        }
    }
    return 0;
}

void tg_config_usage(FILE *out, unsigned options, const char *program, const char *summary)
{
    assert(out);
    fprintf(out, "Usage: %s [OPTIONS]\n", program ? program : "telegraphy");
    if (summary)
        fprintf(out, "%s\n", summary);
    fprintf(out, "\nEvery option can also be set by its environment variable; the flag wins.\n"
                 "Flags take \"--flag VALUE\" or \"--flag=VALUE\".\n\n");
    fprintf(out, "  %-32s %-30s %-22s %s\n", "FLAG", "ENVIRONMENT", "DEFAULT", "MEANING");
    for (size_t i = 0; i < S_OPTION_COUNT; i++) {
        const s_option_t *option = &s_options[i];
        if (!(options & option->bit))
            continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s %s", option->flag, option->value);
        const char *fallback = *option->fallback ? option->fallback : "(none)";
        fprintf(out, "  %-32s %-30s %-22s %s", flag, option->env, fallback, option->help);
        if (option->kind == S_UINT)
            fprintf(out, " [%" PRIu64 "..%" PRIu64 "]", option->min, option->max);
        fprintf(out, "\n");
    }
    fprintf(out, "  %-32s %-30s %-22s %s\n", "--help, -h", "", "", "print this help and exit");
}
