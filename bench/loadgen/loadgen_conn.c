/*  loadgen_conn: see loadgen_conn.h. */
#include "loadgen_conn.h"

#include <stdlib.h>
#include <string.h>

#include "loadgen_marker.h"
#include "tg_log.h"

/* The largest HTTP header we wait for before calling the upgrade bad. */
#define LOADGEN_CONN_MAX_HEADER 16384

static tg_log_limiter_t s_fail_limiter;

const char *loadgen_conn_state_name(loadgen_conn_state_t state)
{
    static const char *names[] = {"idle",        "connecting", "upgrading", "hello",
                                  "subscribing", "ready",      "failed",    "closed"};
    return (size_t)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

void loadgen_conn_init(loadgen_conn_t *self)
{
    memset(self, 0, sizeof(*self));
    self->fd = -1;
}

void loadgen_conn_release(loadgen_conn_t *self)
{
    free(self->tail);
    free(self->msg);
    free(self->out);
    self->tail = self->msg = self->out = NULL;
    self->tail_len = self->tail_cap = self->msg_len = self->msg_cap = 0;
    self->out_len = self->out_cap = 0;
}

/* Grows *buf to hold at least want bytes (doubling); aborts on OOM like
   tg_buf. */
static void s_reserve(uint8_t **buf, size_t *cap, size_t want)
{
    if (want <= *cap)
        return;
    size_t grown = *cap ? *cap : 256;
    while (grown < want)
        grown *= 2;
    uint8_t *bigger = realloc(*buf, grown);
    if (!bigger)
        abort();
    *buf = bigger;
    *cap = grown;
}

void loadgen_conn_queue(loadgen_conn_t *self, const void *data, size_t len)
{
    s_reserve(&self->out, &self->out_cap, self->out_len + len);
    memcpy(self->out + self->out_len, data, len);
    self->out_len += len;
}

static uint32_t s_random(loadgen_conn_ctx_t *ctx)
{
    /* xorshift64: masks only need to be unpredictable to proxies, not
       secret (RFC 6455 §10.3), and this costs nothing. */
    uint64_t x = ctx->rng ? ctx->rng : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ctx->rng = x;
    return (uint32_t)(x >> 32);
}

void loadgen_conn_queue_frame(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, uint8_t opcode,
                              const void *payload, size_t len)
{
    size_t room = len + LOADGEN_WS_MAX_HEADER;
    s_reserve(&self->out, &self->out_cap, self->out_len + room);
    self->out_len += loadgen_ws_frame_encode(self->out + self->out_len, room, opcode, payload, len,
                                             s_random(ctx));
}

void loadgen_conn_keep_tail(loadgen_conn_t *self, const uint8_t *data, size_t len)
{
    s_reserve(&self->tail, &self->tail_cap, len);
    if (len)
        memmove(self->tail, data, len);
    self->tail_len = len;
}

bool loadgen_conn_in_setup(const loadgen_conn_t *self)
{
    return self->state >= LOADGEN_CONN_CONNECTING && self->state <= LOADGEN_CONN_SUBSCRIBING;
}

int loadgen_conn_start(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx)
{
    if (loadgen_ws_key_random(self->key) != 0) {
        loadgen_conn_lost(self, ctx, LOADGEN_FAIL_CONNECT);
        return -1;
    }
    char request[2048];
    size_t len = loadgen_ws_request_format(request, sizeof(request), ctx->host, ctx->path,
                                           self->key, loadgen_wamp_subprotocol(ctx->proto));
    if (len == 0) {
        loadgen_conn_lost(self, ctx, LOADGEN_FAIL_UPGRADE);
        return -1;
    }
    loadgen_conn_queue(self, request, len);
    self->state = LOADGEN_CONN_UPGRADING;
    return 0;
}

void loadgen_conn_lost(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, loadgen_fail_t why)
{
    if (self->state == LOADGEN_CONN_FAILED || self->state == LOADGEN_CONN_CLOSED)
        return;
    if (self->state == LOADGEN_CONN_READY) {
        self->state = LOADGEN_CONN_CLOSED;
        return;
    }
    ctx->failures[why]++;
    self->state = LOADGEN_CONN_FAILED;
}

/* Fails the connection with a rate-limited log line; always -1. */
static int s_fail(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, loadgen_fail_t why,
                  const char *reason)
{
    tg_log_ratelimited(&s_fail_limiter, 1000, "loadgen: connection failed state=%s reason=%s",
                       loadgen_conn_state_name(self->state), reason);
    loadgen_conn_lost(self, ctx, why);
    return -1;
}

/* One counted message: per-connection and total counts, and a latency
   sample when it carries the publisher's marker. */
static void s_count(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, uint8_t opcode,
                    const uint8_t *data, size_t len, int64_t now_us)
{
    self->received++;
    ctx->received++;
    if (ctx->expect) {
        if (self->received == ctx->expect)
            ctx->complete++;
        else if (self->received > ctx->expect)
            ctx->extra++;
    }
    if (!ctx->first_rx_us)
        ctx->first_rx_us = now_us;
    ctx->last_rx_us = now_us;
    int64_t sent_us;
    int found;
    if (ctx->proto == LOADGEN_PROTO_WAMP_MSGPACK)
        found = loadgen_marker_find_msgpack(data, len, &sent_us);
    else if (opcode == LOADGEN_WS_OP_BINARY && ctx->proto == LOADGEN_PROTO_RAW)
        found = loadgen_marker_find_json(data, len, &sent_us) == 0 ||
                        loadgen_marker_find_msgpack(data, len, &sent_us) == 0
                    ? 0
                    : -1;
    else
        found = loadgen_marker_find_json(data, len, &sent_us);
    if (found == 0)
        loadgen_histogram_record(ctx->latency, now_us - sent_us);
}

/* A complete text or binary message. Returns 0 or -1 (fail/close). */
static int s_on_message(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, uint8_t opcode,
                        const uint8_t *data, size_t len, int64_t now_us)
{
    if (ctx->proto == LOADGEN_PROTO_RAW) {
        if (self->state == LOADGEN_CONN_READY)
            s_count(self, ctx, opcode, data, len, now_us);
        return 0;
    }
    int type = loadgen_wamp_type(ctx->proto, data, len);
    switch (self->state) {
    case LOADGEN_CONN_READY:
        if (type == TG_WAMP_EVENT) {
            s_count(self, ctx, opcode, data, len, now_us);
            return 0;
        }
        if (type == TG_WAMP_GOODBYE || type == TG_WAMP_ABORT) {
            loadgen_conn_lost(self, ctx, LOADGEN_FAIL_PROTOCOL);
            return -1;
        }
        return 0; /* anything else is not ours to count */
    case LOADGEN_CONN_HELLO:
        if (type == TG_WAMP_WELCOME) {
            loadgen_conn_queue_frame(self, ctx, opcode, ctx->subscribe, ctx->subscribe_len);
            self->state = LOADGEN_CONN_SUBSCRIBING;
            return 0;
        }
        if (type == TG_WAMP_CHALLENGE && ctx->authenticate) {
            loadgen_conn_queue_frame(self, ctx, opcode, ctx->authenticate, ctx->authenticate_len);
            return 0; /* WELCOME (or ABORT) comes next */
        }
        if (type == TG_WAMP_ABORT)
            return s_fail(self, ctx, LOADGEN_FAIL_ABORT, "ABORT instead of WELCOME");
        return s_fail(self, ctx, LOADGEN_FAIL_PROTOCOL, "unexpected message before WELCOME");
    case LOADGEN_CONN_SUBSCRIBING:
        if (type == TG_WAMP_SUBSCRIBED) {
            self->state = LOADGEN_CONN_READY;
            return 0;
        }
        if (type == TG_WAMP_ERROR)
            return s_fail(self, ctx, LOADGEN_FAIL_ERROR, "ERROR instead of SUBSCRIBED");
        if (type == TG_WAMP_ABORT || type == TG_WAMP_GOODBYE)
            return s_fail(self, ctx, LOADGEN_FAIL_ABORT, "ABORT/GOODBYE instead of SUBSCRIBED");
        return 0; /* e.g. an EVENT of nothing we asked for yet: ignore */
    default:
        return s_fail(self, ctx, LOADGEN_FAIL_PROTOCOL, "message in a setup state");
    }
}

/* The upgrade is accepted: send HELLO (wamp) or count as ready (raw). */
static void s_on_upgraded(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx)
{
    if (ctx->proto == LOADGEN_PROTO_RAW) {
        self->state = LOADGEN_CONN_READY;
        return;
    }
    uint8_t opcode =
        ctx->proto == LOADGEN_PROTO_WAMP_JSON ? LOADGEN_WS_OP_TEXT : LOADGEN_WS_OP_BINARY;
    loadgen_conn_queue_frame(self, ctx, opcode, ctx->hello, ctx->hello_len);
    self->state = LOADGEN_CONN_HELLO;
}

/* One complete frame. Returns 0 or -1 (fail/close). */
static int s_on_frame(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx,
                      const loadgen_ws_frame_t *frame, int64_t now_us)
{
    switch (frame->opcode) {
    case LOADGEN_WS_OP_TEXT:
    case LOADGEN_WS_OP_BINARY:
        if (self->msg_opcode)
            return s_fail(self, ctx, LOADGEN_FAIL_PROTOCOL, "new message inside a fragmented one");
        if (frame->fin)
            return s_on_message(self, ctx, frame->opcode, frame->payload, frame->payload_len,
                                now_us);
        self->msg_opcode = frame->opcode;
        self->msg_len = 0;
        /* The first fragment is appended like the ones after it. */
        __attribute__((fallthrough));
    case LOADGEN_WS_OP_CONTINUATION:
        if (!self->msg_opcode)
            return s_fail(self, ctx, LOADGEN_FAIL_PROTOCOL, "continuation without a message");
        if (self->msg_len + frame->payload_len > ctx->max_message)
            return s_fail(self, ctx, LOADGEN_FAIL_PROTOCOL, "message over --max-message");
        s_reserve(&self->msg, &self->msg_cap, self->msg_len + frame->payload_len);
        if (frame->payload_len)
            memcpy(self->msg + self->msg_len, frame->payload, frame->payload_len);
        self->msg_len += frame->payload_len;
        if (frame->fin) {
            uint8_t opcode = self->msg_opcode;
            self->msg_opcode = 0;
            return s_on_message(self, ctx, opcode, self->msg, self->msg_len, now_us);
        }
        return 0;
    case LOADGEN_WS_OP_PING:
        loadgen_conn_queue_frame(self, ctx, LOADGEN_WS_OP_PONG, frame->payload, frame->payload_len);
        return 0;
    case LOADGEN_WS_OP_PONG:
        return 0;
    case LOADGEN_WS_OP_CLOSE:
        /* Echo the status code (RFC 6455 §5.5.1), then the loop closes. */
        loadgen_conn_queue_frame(self, ctx, LOADGEN_WS_OP_CLOSE, frame->payload,
                                 frame->payload_len >= 2 ? 2 : 0);
        if (self->state == LOADGEN_CONN_READY) {
            loadgen_conn_lost(self, ctx, LOADGEN_FAIL_PROTOCOL);
            return -1;
        }
        return s_fail(self, ctx,
                      self->state == LOADGEN_CONN_HELLO ? LOADGEN_FAIL_ABORT
                                                        : LOADGEN_FAIL_PROTOCOL,
                      "close frame during setup");
    default:
        return s_fail(self, ctx, LOADGEN_FAIL_PROTOCOL, "unknown opcode");
    }
}

int loadgen_conn_feed(loadgen_conn_t *self, loadgen_conn_ctx_t *ctx, const uint8_t *data,
                      size_t len, int64_t now_us, size_t *consumed)
{
    size_t at = 0;
    *consumed = 0;
    self->need = 0;
    if (self->state == LOADGEN_CONN_UPGRADING) {
        size_t header_len = 0;
        const char *reason = "header too long";
        int rc = loadgen_ws_response_check(
            data, len, self->key, loadgen_wamp_subprotocol(ctx->proto), &header_len, &reason);
        if (rc == 0 && len <= LOADGEN_CONN_MAX_HEADER)
            return 0;
        if (rc <= 0)
            return s_fail(self, ctx, LOADGEN_FAIL_UPGRADE, reason);
        at = header_len;
        s_on_upgraded(self, ctx);
    }
    if (self->state < LOADGEN_CONN_UPGRADING || self->state > LOADGEN_CONN_READY) {
        *consumed = len;
        return 0; /* nothing we expect bytes in: drop them */
    }
    while (at < len) {
        loadgen_ws_frame_t frame;
        int rc = loadgen_ws_frame_parse(data + at, len - at, ctx->max_message, &frame);
        if (rc == 0) {
            self->need = frame.frame_len;
            break;
        }
        if (rc < 0) {
            *consumed = at;
            return s_fail(self, ctx, LOADGEN_FAIL_PROTOCOL, "bad frame");
        }
        at += frame.frame_len;
        if (s_on_frame(self, ctx, &frame, now_us) != 0) {
            *consumed = at;
            return -1;
        }
    }
    *consumed = at;
    return 0;
}
