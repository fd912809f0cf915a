/*  loadgen_conn: one subscriber connection's protocol state, without I/O.

    The socket loop (loadgen_subscriber) reads into one shared buffer and
    hands the bytes to loadgen_conn_feed(), which walks the opening
    handshake, the WAMP HELLO/SUBSCRIBE exchange and then counts messages,
    parsing every complete frame in place. What the connection has to send
    (the upgrade request, HELLO, SUBSCRIBE, pongs, a close reply) is
    appended to its `out` bytes for the loop to write. What is left of a
    partial frame is kept by the loop in the connection's tail
    (loadgen_conn_keep_tail). Counters shared by all connections live in
    one loadgen_conn_ctx_t.

    Lifetime: a loadgen_conn_t lives in the loop's array (no allocation
    until it has a partial tail, a fragmented message or blocked output);
    loadgen_conn_release() frees what it holds.
*/
#ifndef LOADGEN_CONN_H
#define LOADGEN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loadgen_histogram.h"
#include "loadgen_wamp.h"
#include "loadgen_ws.h"

typedef enum {
    LOADGEN_CONN_IDLE = 0,    /* not started yet */
    LOADGEN_CONN_CONNECTING,  /* TCP connect in flight */
    LOADGEN_CONN_UPGRADING,   /* upgrade request sent, waiting for 101 */
    LOADGEN_CONN_HELLO,       /* HELLO sent, waiting for WELCOME */
    LOADGEN_CONN_SUBSCRIBING, /* SUBSCRIBE sent, waiting for SUBSCRIBED */
    LOADGEN_CONN_READY,       /* counting messages */
    LOADGEN_CONN_FAILED,      /* never became ready (counted in failed) */
    LOADGEN_CONN_CLOSED       /* was ready, then closed by the peer */
} loadgen_conn_state_t;

/* Why a connection failed or closed: indexes of ctx->failures. */
typedef enum {
    LOADGEN_FAIL_CONNECT = 0, /* refused, reset, unreachable during setup */
    LOADGEN_FAIL_UPGRADE,     /* not a valid 101 for our key and subprotocol */
    LOADGEN_FAIL_ABORT,       /* WAMP ABORT instead of WELCOME */
    LOADGEN_FAIL_ERROR,       /* WAMP ERROR instead of SUBSCRIBED */
    LOADGEN_FAIL_PROTOCOL,    /* bad frame or unexpected message */
    LOADGEN_FAIL_TIMEOUT,     /* still not ready when the run ended */
    LOADGEN_FAIL_KINDS
} loadgen_fail_t;

/* What every connection shares: the run's settings and its counters. */
typedef struct {
    loadgen_proto_t proto;        /* raw, wamp-json or wamp-msgpack */
    uint64_t expect;              /* messages each connection should get (0: no limit) */
    size_t max_message;           /* largest frame / reassembled message accepted */
    const char *host;             /* Host header ("127.0.0.1:8765") */
    const char *path;             /* request path ("/ws") */
    const uint8_t *hello;         /* encoded HELLO (wamp only) */
    size_t hello_len;             /* its length */
    const uint8_t *authenticate;  /* encoded AUTHENTICATE, NULL = anonymous (wamp only) */
    size_t authenticate_len;      /* its length */
    const uint8_t *subscribe;     /* encoded SUBSCRIBE (wamp only) */
    size_t subscribe_len;         /* its length */
    loadgen_histogram_t *latency; /* receive time - sent_us; not owned */
    uint64_t rng;                 /* xorshift state for frame masks (nonzero) */
    /* counters */
    uint64_t received;                     /* counted messages, all connections */
    uint64_t extra;                        /* messages beyond expect on a connection */
    uint64_t complete;                     /* connections that received expect messages */
    int64_t first_rx_us;                   /* CLOCK_REALTIME of the first counted message */
    int64_t last_rx_us;                    /* and of the last */
    uint64_t failures[LOADGEN_FAIL_KINDS]; /* setup failures and closes by kind */
} loadgen_conn_ctx_t;

typedef struct {
    int fd;                           /* socket, -1 when none */
    loadgen_conn_state_t state;       /* see above */
    uint64_t received;                /* counted messages on this connection */
    char key[LOADGEN_WS_KEY_LEN + 1]; /* our Sec-WebSocket-Key */
    size_t need;               /* bytes the partial frame at the tail's start needs, 0 unknown */
    uint8_t *tail;             /* unparsed bytes kept between reads (owned) */
    size_t tail_len, tail_cap; /* used / allocated */
    uint8_t *msg;              /* fragments of a message being reassembled (owned) */
    size_t msg_len, msg_cap;   /* used / allocated */
    uint8_t msg_opcode;        /* text/binary of that message, 0 when none */
    uint8_t *out;              /* bytes to send (owned) */
    size_t out_len, out_cap;   /* pending / allocated */
    bool polling_out;          /* the loop asked epoll for EPOLLOUT */
} loadgen_conn_t;

/* The state's name for log lines ("upgrading", ...). */
const char *loadgen_conn_state_name(loadgen_conn_state_t state);

/* Resets a connection slot (fd -1, IDLE, no buffers). */
void loadgen_conn_init(loadgen_conn_t *self);
/* Frees the buffers; the slot may be init'ed again. Does not close fd. */
void loadgen_conn_release(loadgen_conn_t *self);

/* TCP is up: queues the upgrade request (new random key) in out and moves
   to UPGRADING. -1 (state FAILED) when no key could be made. */
int loadgen_conn_start(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx);

/* Processes data received at now_us (CLOCK_REALTIME µs). Sets *consumed
   to the bytes fully processed; the rest is a partial frame or header the
   caller keeps (loadgen_conn_keep_tail) and passes again, followed by the
   next bytes. Returns 0, or -1 when the connection must be closed: state
   is then FAILED or CLOSED with ctx->failures counted, and out may hold a
   close reply worth flushing. */
int loadgen_conn_feed(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, const uint8_t *data,
                      size_t len, int64_t now_us, size_t *consumed);

/* The peer went away (EOF, reset) or the run ended: moves to FAILED (with
   `why` counted) before READY, to CLOSED (counted as closed_by_peer by the
   caller) after. */
void loadgen_conn_lost(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, loadgen_fail_t why);

/* Copies data (the unconsumed rest of a read) into the tail. */
void loadgen_conn_keep_tail(loadgen_conn_t *self, const uint8_t *data, size_t len);

/* Appends bytes to out (growing it). */
void loadgen_conn_queue(loadgen_conn_t *self, const void *data, size_t len);
/* Queues one masked client frame. */
void loadgen_conn_queue_frame(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, uint8_t opcode,
                              const void *payload, size_t len);

/* Whether the connection is waiting for its handshake (counts against
   --connect-concurrency). */
bool loadgen_conn_in_setup(const loadgen_conn_t *self);

#endif
