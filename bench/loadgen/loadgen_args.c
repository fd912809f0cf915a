/*  loadgen_args: see loadgen_args.h. */
#include "loadgen_args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void loadgen_args_usage(loadgen_mode_t mode, FILE *out)
{
    if (mode == LOADGEN_MODE_SUBSCRIBE) {
        fprintf(
            out,
            "Usage: telegraphy-loadgen subscribe --url ws://HOST:PORT/PATH\n"
            "           --proto wamp-json|wamp-msgpack|raw --conns N [OPTIONS]\n"
            "Opens N WebSockets (at most --connect-concurrency handshakes in flight);\n"
            "wamp-*: HELLO, SUBSCRIBE exact to --topic; raw: ready once upgraded. Writes\n"
            "--ready-file when every connection is ready or failed, then counts messages\n"
            "(wamp: EVENTs; raw: every text/binary message) until each connection got\n"
            "--expect, --timeout-s passed since start, or SIGTERM/SIGINT; then writes the\n"
            "result JSON to --out. Latency = receive time - the payload's \"sent_us\".\n\n"
            "  --url URL                   ws:// URL of the system under test (required)\n"
            "  --proto P                   wamp-json, wamp-msgpack or raw (required)\n"
            "  --conns N                   connections to open (required; the open-file\n"
            "                              limit is raised to its hard limit)\n"
            "  --expect M                  messages per connection, 0 = just hold the\n"
            "                              connections until the timeout (default 0)\n"
            "  --topic URI                 topic to subscribe to (default %s)\n"
            "  --realm URI                 WAMP realm (default %s)\n"
            "  --timeout-s S               bound of the whole run (default %.0f)\n"
            "  --connect-concurrency C     handshakes in flight (default %d)\n"
            "  --ready-file PATH           {\"connected\",\"failed\",\"connect_s\",\n"
            "                              \"connect_rate\"} written atomically when ready\n"
            "  --max-message BYTES         largest message accepted (default %u)\n"
            "  --token TOKEN               wamp: authenticate with this ticket (HELLO\n"
            "                              authmethods [\"ticket\"], AUTHENTICATE on the\n"
            "                              CHALLENGE); a ws token is single-use, so one\n"
            "                              connection per token (a resume token is reusable)\n"
            "  --persistent                wamp: SUBSCRIBE with {\"_persistent\": true} (needs\n"
            "                              an identity: --token); a returning subscriber\n"
            "                              counts its backlog's EVENTs like live ones\n"
            "  --out PATH                  result file, atomically (default stdout)\n"
            "  --help, -h                  this help\n\n"
            "Exit status: 0 ran (failures are in the JSON), 1 could not run, 2 usage.\n",
            LOADGEN_DEFAULT_TOPIC, LOADGEN_DEFAULT_REALM, LOADGEN_DEFAULT_TIMEOUT_S,
            LOADGEN_DEFAULT_CONCURRENCY, LOADGEN_DEFAULT_MAX_MESSAGE);
    } else if (mode == LOADGEN_MODE_PUBLISH_HTTP) {
        fprintf(out,
                "Usage: telegraphy-loadgen publish-http --url http://HOST:PORT/PATH --count N\n"
                "           [OPTIONS]\n"
                "nchan's publisher: HTTP/1.1 keep-alive POSTs (Content-Type: application/json)\n"
                "on one connection, one at a time (no pipelining: each POST waits for its\n"
                "response), body {\"sent_us\":T,\"seq\":i[,\"pad\":\"xx...\"]}; T is\n"
                "CLOCK_REALTIME µs taken just before the POST is written. A connection the\n"
                "server closes is re-opened. \"sent\" counts 2xx answers, \"errors\" the other\n"
                "answers and failed requests.\n\n"
                "  --url URL                   http:// URL to POST to (required)\n"
                "  --count N                   POSTs to make (required)\n"
                "  --rate R                    POSTs per second on an absolute schedule\n"
                "                              (0 = as fast as they are answered; default 0)\n"
                "  --pad B                     bytes of \"pad\" in each body (default 0: none)\n"
                "  --timeout-s S               bound of the whole run (default %.0f)\n"
                "  --out PATH                  result file, atomically (default stdout)\n"
                "  --help, -h                  this help\n\n"
                "Output: {\"count\",\"sent\",\"errors\",\"start_us\",\"end_us\",\"rate\"}\n"
                "Exit status: 0 ran (errors are in the JSON), 1 could not run, 2 usage.\n",
                LOADGEN_DEFAULT_TIMEOUT_S);
    } else {
        fprintf(out, "Usage: telegraphy-loadgen subscribe|publish-http [OPTIONS]\n"
                     "       telegraphy-loadgen MODE --help\n"
                     "The benchmark load client: thousands of WebSocket subscribers on one\n"
                     "epoll loop (subscribe), or nchan's HTTP publisher (publish-http).\n");
    }
}

static int s_error(char *error, size_t cap, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static int s_error(char *error, size_t cap, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error, cap, format, args);
    va_end(args);
    return -1;
}

/* Unsigned integer in [low, high]; 0 or -1. */
static int s_uint(const char *text, uint64_t low, uint64_t high, uint64_t *value)
{
    if (!text || !*text || *text == '-')
        return -1;
    errno = 0;
    char *end;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno || *end || parsed < low || parsed > high)
        return -1;
    *value = parsed;
    return 0;
}

static int s_double(const char *text, double low, double high, double *value)
{
    if (!text || !*text)
        return -1;
    errno = 0;
    char *end;
    double parsed = strtod(text, &end);
    if (errno || *end || !isfinite(parsed) || parsed < low || parsed > high)
        return -1;
    *value = parsed;
    return 0;
}

int loadgen_args_parse(int argc, char **argv, loadgen_args_t *args, FILE *out, char *error,
                       size_t error_cap)
{
    memset(args, 0, sizeof(*args));
    args->timeout_s = LOADGEN_DEFAULT_TIMEOUT_S;
    args->topic = LOADGEN_DEFAULT_TOPIC;
    args->realm = LOADGEN_DEFAULT_REALM;
    args->connect_concurrency = LOADGEN_DEFAULT_CONCURRENCY;
    args->max_message = LOADGEN_DEFAULT_MAX_MESSAGE;
    if (argc < 2)
        return s_error(error, error_cap, "a mode is required: subscribe or publish-http");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        loadgen_args_usage(LOADGEN_MODE_NONE, out);
        return 1;
    }
    if (strcmp(argv[1], "subscribe") == 0)
        args->mode = LOADGEN_MODE_SUBSCRIBE;
    else if (strcmp(argv[1], "publish-http") == 0)
        args->mode = LOADGEN_MODE_PUBLISH_HTTP;
    else
        return s_error(error, error_cap, "unknown mode '%s' (subscribe or publish-http)", argv[1]);
    bool subscribe = args->mode == LOADGEN_MODE_SUBSCRIBE;
    const char *url = NULL, *proto = NULL;
    bool have_conns = false, have_count = false;
    for (int i = 2; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            loadgen_args_usage(args->mode, out);
            return 1;
        }
        if (strncmp(flag, "--", 2) != 0)
            return s_error(error, error_cap, "unexpected argument '%s'", flag);
        if (subscribe && strcmp(flag, "--persistent") == 0) {
            args->persistent = true; /* a switch: no value */
            continue;
        }
        /* --flag=VALUE or --flag VALUE */
        char name[64];
        const char *value;
        const char *equals = strchr(flag, '=');
        if (equals) {
            snprintf(name, sizeof(name), "%.*s", (int)(equals - flag), flag);
            value = equals + 1;
        } else {
            snprintf(name, sizeof(name), "%s", flag);
            if (i + 1 >= argc)
                return s_error(error, error_cap, "%s needs a value", name);
            value = argv[++i];
        }
        uint64_t number;
        if (strcmp(name, "--url") == 0)
            url = value;
        else if (strcmp(name, "--timeout-s") == 0) {
            if (s_double(value, 0.001, 86400 * 7, &args->timeout_s) != 0)
                return s_error(error, error_cap, "--timeout-s: a number of seconds > 0");
        } else if (strcmp(name, "--out") == 0)
            args->out = value;
        else if (subscribe && strcmp(name, "--proto") == 0)
            proto = value;
        else if (subscribe && strcmp(name, "--topic") == 0)
            args->topic = value;
        else if (subscribe && strcmp(name, "--realm") == 0)
            args->realm = value;
        else if (subscribe && strcmp(name, "--conns") == 0) {
            if (s_uint(value, 1, 10000000, &number) != 0)
                return s_error(error, error_cap, "--conns: an integer >= 1");
            args->conns = (size_t)number;
            have_conns = true;
        } else if (subscribe && strcmp(name, "--expect") == 0) {
            if (s_uint(value, 0, UINT64_C(1) << 40, &args->expect) != 0)
                return s_error(error, error_cap, "--expect: an integer >= 0");
        } else if (subscribe && strcmp(name, "--connect-concurrency") == 0) {
            if (s_uint(value, 1, 1000000, &number) != 0)
                return s_error(error, error_cap, "--connect-concurrency: an integer >= 1");
            args->connect_concurrency = (size_t)number;
        } else if (subscribe && strcmp(name, "--ready-file") == 0)
            args->ready_file = value;
        else if (subscribe && strcmp(name, "--token") == 0) {
            if (!*value)
                return s_error(error, error_cap, "--token: a non-empty token");
            args->token = value;
        } else if (subscribe && strcmp(name, "--max-message") == 0) {
            if (s_uint(value, 1024, 256u << 20, &number) != 0)
                return s_error(error, error_cap, "--max-message: 1024 .. 268435456 bytes");
            args->max_message = (size_t)number;
        } else if (!subscribe && strcmp(name, "--count") == 0) {
            if (s_uint(value, 1, UINT64_C(1) << 40, &args->count) != 0)
                return s_error(error, error_cap, "--count: an integer >= 1");
            have_count = true;
        } else if (!subscribe && strcmp(name, "--rate") == 0) {
            if (s_double(value, 0, 1e9, &args->rate) != 0)
                return s_error(error, error_cap, "--rate: a number >= 0 (per second)");
        } else if (!subscribe && strcmp(name, "--pad") == 0) {
            if (s_uint(value, 0, 16u << 20, &number) != 0)
                return s_error(error, error_cap, "--pad: 0 .. 16777216 bytes");
            args->pad = (size_t)number;
        } else
            return s_error(error, error_cap, "unknown option %s for %s (see %s --help)", name,
                           argv[1], argv[1]);
    }
    if (!url)
        return s_error(error, error_cap, "--url is required");
    const char *why = NULL;
    if (loadgen_url_parse(url, subscribe, &args->url, &why) != 0)
        return s_error(error, error_cap, "--url %s: %s", url, why);
    if (subscribe) {
        if (!proto)
            return s_error(error, error_cap, "--proto is required (wamp-json|wamp-msgpack|raw)");
        if (strcmp(proto, "wamp-json") == 0)
            args->proto = LOADGEN_PROTO_WAMP_JSON;
        else if (strcmp(proto, "wamp-msgpack") == 0)
            args->proto = LOADGEN_PROTO_WAMP_MSGPACK;
        else if (strcmp(proto, "raw") == 0)
            args->proto = LOADGEN_PROTO_RAW;
        else
            return s_error(error, error_cap, "--proto: wamp-json, wamp-msgpack or raw, not '%s'",
                           proto);
        if (!have_conns)
            return s_error(error, error_cap, "--conns is required");
        if ((args->token || args->persistent) && args->proto == LOADGEN_PROTO_RAW)
            return s_error(error, error_cap, "--token and --persistent are WAMP options");
    } else if (!have_count)
        return s_error(error, error_cap, "--count is required");
    return 0;
}
