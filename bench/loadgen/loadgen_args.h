/*  loadgen_args: the command line of telegraphy-loadgen.

    Two modes, each with its --help:
      subscribe     --url ws://... --proto wamp-json|wamp-msgpack|raw --conns N ...
      publish-http  --url http://... --count N [--rate R] [--pad B] ...
    Flags take "--flag VALUE" or "--flag=VALUE". Strings point into argv.
*/
#ifndef LOADGEN_ARGS_H
#define LOADGEN_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loadgen_url.h"
#include "loadgen_wamp.h"

typedef enum {
    LOADGEN_MODE_NONE = 0,
    LOADGEN_MODE_SUBSCRIBE,
    LOADGEN_MODE_PUBLISH_HTTP
} loadgen_mode_t;

/* Defaults (named so --help and the parser agree). */
#define LOADGEN_DEFAULT_TOPIC       "bench.tick"
#define LOADGEN_DEFAULT_REALM       "telegraphy"
#define LOADGEN_DEFAULT_TIMEOUT_S   60.0
#define LOADGEN_DEFAULT_CONCURRENCY 256
#define LOADGEN_DEFAULT_MAX_MESSAGE (16u << 20)

typedef struct {
    loadgen_mode_t mode; /* which command */
    loadgen_url_t url;   /* --url, parsed (not resolved) */
    double timeout_s;    /* --timeout-s: the run's bound since start */
    const char *out;     /* --out: result file, NULL = stdout */
    /* subscribe */
    loadgen_proto_t proto;      /* --proto */
    const char *topic;          /* --topic (wamp) */
    const char *realm;          /* --realm (wamp) */
    size_t conns;               /* --conns */
    uint64_t expect;            /* --expect: messages per connection, 0 = hold open */
    size_t connect_concurrency; /* --connect-concurrency: handshakes in flight */
    const char *ready_file;     /* --ready-file, NULL = none */
    size_t max_message;         /* --max-message: largest message accepted */
    const char *token;          /* --token: WAMP ticket (ws or resume token), NULL = anonymous */
    bool persistent;            /* --persistent: SUBSCRIBE with {"_persistent": true} */
    /* publish-http */
    uint64_t count; /* --count: POSTs to make */
    double rate;    /* --rate: POSTs per second, 0 = as fast as answered */
    size_t pad;     /* --pad: bytes of "pad" in each body */
} loadgen_args_t;

/* Parses argv. 0: run; 1: --help was printed to `out` (exit 0); -1: usage
   error, explained in error (exit 2). */
int loadgen_args_parse(int argc, char **argv, loadgen_args_t *args, FILE *out, char *error,
                       size_t error_cap);

/* Prints the usage of one mode (LOADGEN_MODE_NONE: the overview). */
void loadgen_args_usage(loadgen_mode_t mode, FILE *out);

#endif
