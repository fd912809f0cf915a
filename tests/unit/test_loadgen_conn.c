/*  Unit tests for loadgen_conn: one connection's handshake, WAMP setup and
    message counting, fed bytes the way the socket loop feeds them. */
#include "loadgen_conn.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static loadgen_histogram_t *latency;
static loadgen_conn_ctx_t ctx;
static loadgen_conn_t conn;
static tg_buf_t hello, subscribe;

static void setup_proto(loadgen_proto_t proto, uint64_t expect)
{
    latency = loadgen_histogram_new();
    memset(&ctx, 0, sizeof(ctx));
    tg_buf_init(&hello, 0);
    tg_buf_init(&subscribe, 0);
    ctx.proto = proto;
    ctx.expect = expect;
    ctx.max_message = 1 << 20;
    ctx.host = "127.0.0.1:1";
    ctx.path = "/ws";
    if (proto != LOADGEN_PROTO_RAW) {
        loadgen_wamp_hello(proto, "telegraphy", &hello);
        loadgen_wamp_subscribe(proto, 1, "bench.tick", &subscribe);
        ctx.hello = tg_buf_payload(&hello);
        ctx.hello_len = hello.len;
        ctx.subscribe = tg_buf_payload(&subscribe);
        ctx.subscribe_len = subscribe.len;
    }
    ctx.latency = latency;
    ctx.rng = 12345;
    loadgen_conn_init(&conn);
    conn.state = LOADGEN_CONN_CONNECTING;
    cr_assert_eq(loadgen_conn_start(&conn, &ctx), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_UPGRADING);
}

static void teardown_all(void)
{
    loadgen_conn_release(&conn);
    loadgen_histogram_destroy(&latency);
    tg_buf_release(&hello);
    tg_buf_release(&subscribe);
}

/* The 101 answer for conn's key, with protocol (NULL: none). */
static size_t upgrade_response(char *out, size_t cap, const char *protocol)
{
    char accept[LOADGEN_WS_ACCEPT_LEN + 1];
    loadgen_ws_accept_for(conn.key, accept);
    return (size_t)snprintf(out, cap,
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                            accept, protocol ? "Sec-WebSocket-Protocol: " : "",
                            protocol ? protocol : "", protocol ? "\r\n" : "");
}

/* Appends an unmasked server frame to buf. */
static void server_frame(tg_buf_t *buf, uint8_t first, const void *payload, size_t len)
{
    uint8_t header[10];
    size_t n = 2;
    header[0] = first;
    if (len < 126)
        header[1] = (uint8_t)len;
    else {
        header[1] = 126;
        header[2] = (uint8_t)(len >> 8);
        header[3] = (uint8_t)len;
        n = 4;
    }
    tg_buf_append(buf, header, n);
    tg_buf_append(buf, payload, len);
}

static void text(tg_buf_t *buf, const char *payload)
{
    server_frame(buf, 0x81, payload, strlen(payload));
}

/* Feeds everything in one go; returns feed's result, checks consumption. */
static int feed_all(tg_buf_t *buf, int64_t now_us)
{
    size_t consumed = 0;
    int rc = loadgen_conn_feed(&conn, &ctx, tg_buf_payload(buf), buf->len, now_us, &consumed);
    if (rc == 0)
        cr_assert_eq(consumed, buf->len);
    return rc;
}

/* Walks a wamp-json connection to READY: upgrade, WELCOME, SUBSCRIBED. */
static void make_ready_json(void)
{
    char response[512];
    size_t n = upgrade_response(response, sizeof(response), "wamp.2.json");
    tg_buf_t in;
    tg_buf_init(&in, 0);
    tg_buf_append(&in, response, n);
    text(&in, "[2,1,{}]");
    cr_assert_eq(feed_all(&in, 0), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_SUBSCRIBING);
    tg_buf_reset(&in);
    text(&in, "[33,1,77]");
    cr_assert_eq(feed_all(&in, 0), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_READY);
    tg_buf_release(&in);
}

TestSuite(loadgen_conn, .fini = teardown_all);

/* Starting queues an upgrade request offering the WAMP subprotocol. */
Test(loadgen_conn, start_queues_the_upgrade_request)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    cr_assert_gt(conn.out_len, 0);
    /* A copy with a terminator (not strndup: the queued bytes have no NUL,
       and ASan's strict string checks read one byte past them). */
    char *request = malloc(conn.out_len + 1);
    cr_assert_not_null(request);
    memcpy(request, conn.out, conn.out_len);
    request[conn.out_len] = '\0';
    cr_assert(strstr(request, "GET /ws HTTP/1.1\r\n") == request);
    cr_assert_not_null(strstr(request, "Sec-WebSocket-Protocol: wamp.2.json\r\n"));
    cr_assert_not_null(strstr(request, conn.key));
    free(request);
}

/* wamp-json: the 101 leads to a masked HELLO, WELCOME to SUBSCRIBE,
   SUBSCRIBED to READY. */
Test(loadgen_conn, wamp_json_setup_sends_hello_then_subscribe)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    conn.out_len = 0;
    char response[512];
    size_t n = upgrade_response(response, sizeof(response), "wamp.2.json");
    size_t consumed;
    cr_assert_eq(loadgen_conn_feed(&conn, &ctx, (uint8_t *)response, n, 0, &consumed), 0);
    cr_assert_eq(consumed, n);
    cr_assert_eq(conn.state, LOADGEN_CONN_HELLO);
    /* The queued frame is a masked text frame carrying HELLO. */
    cr_assert_eq(conn.out[0], 0x81);
    cr_assert_eq(conn.out[1], 0x80 | hello.len);
    uint8_t *mask = conn.out + 2;
    for (size_t i = 0; i < hello.len; i++)
        cr_assert_eq(conn.out[6 + i] ^ mask[i & 3], tg_buf_payload(&hello)[i]);
    conn.out_len = 0;
    tg_buf_t in;
    tg_buf_init(&in, 0);
    text(&in, "[2,1,{}]");
    cr_assert_eq(feed_all(&in, 0), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_SUBSCRIBING);
    cr_assert_eq(conn.out_len, 6 + subscribe.len);
    tg_buf_reset(&in);
    text(&in, "[33,1,77]");
    cr_assert_eq(feed_all(&in, 0), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_READY);
    tg_buf_release(&in);
}

/* EVENTs are counted with a latency sample each; other messages are not
   counted; reaching --expect marks the connection complete, more is extra. */
Test(loadgen_conn, events_are_counted_with_latency_and_extras)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 2);
    make_ready_json();
    tg_buf_t in;
    tg_buf_init(&in, 0);
    text(&in, "[36,77,1,{},[],{\"sent_us\":1000,\"seq\":1}]");
    text(&in, "[8,32,1,{},\"x\"]");
    text(&in, "[36,77,2,{},[],{\"sent_us\":1500,\"seq\":2}]");
    text(&in, "[36,77,3,{},[],{\"seq\":3}]");
    cr_assert_eq(feed_all(&in, 2000), 0);
    cr_assert_eq(conn.received, 3);
    cr_assert_eq(ctx.received, 3);
    cr_assert_eq(ctx.complete, 1);
    cr_assert_eq(ctx.extra, 1);
    cr_assert_eq(ctx.first_rx_us, 2000);
    cr_assert_eq(loadgen_histogram_count(latency), 2);
    cr_assert_eq(loadgen_histogram_max(latency), 1000);
    tg_buf_release(&in);
}

/* Frames split at every byte boundary are counted exactly once: what the
   feed leaves is kept as the tail and fed again with the next bytes. */
Test(loadgen_conn, frames_split_anywhere_are_counted_once)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    make_ready_json();
    tg_buf_t in;
    tg_buf_init(&in, 0);
    char big[400];
    memset(big, 'p', sizeof(big));
    memcpy(big, "[36,77,9,{},[],{\"sent_us\":5,\"pad\":\"", 36);
    memcpy(big + sizeof(big) - 3, "\"}]", 3);
    for (int i = 0; i < 3; i++) {
        text(&in, "[36,77,1,{},[],{\"sent_us\":5}]");
        server_frame(&in, 0x81, big, sizeof(big)); /* a 16-bit length */
    }
    const uint8_t *all = tg_buf_payload(&in);
    for (size_t step = 1; step <= 17; step += 4) {
        uint64_t before = ctx.received;
        size_t at = 0;
        tg_buf_t pending; /* tail + new bytes, as the loop builds it */
        tg_buf_init(&pending, 0);
        while (at < in.len) {
            size_t chunk = in.len - at < step ? in.len - at : step;
            tg_buf_reset(&pending);
            tg_buf_append(&pending, conn.tail, conn.tail_len);
            tg_buf_append(&pending, all + at, chunk);
            at += chunk;
            size_t consumed;
            cr_assert_eq(loadgen_conn_feed(&conn, &ctx, tg_buf_payload(&pending), pending.len, 10,
                                           &consumed),
                         0);
            loadgen_conn_keep_tail(&conn, tg_buf_payload(&pending) + consumed,
                                   pending.len - consumed);
        }
        cr_assert_eq(conn.tail_len, 0, "step=%zu", step);
        cr_assert_eq(ctx.received - before, 6, "step=%zu", step);
        tg_buf_release(&pending);
    }
    tg_buf_release(&in);
}

/* A fragmented EVENT (with a ping in between) counts once, with its
   marker found across the fragments; the ping gets a pong. */
Test(loadgen_conn, fragmented_message_counts_once_and_ping_gets_pong)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    make_ready_json();
    conn.out_len = 0;
    tg_buf_t in;
    tg_buf_init(&in, 0);
    server_frame(&in, 0x01, "[36,77,1,{},[],{\"sen", 20);
    server_frame(&in, 0x89, "hi", 2);
    server_frame(&in, 0x00, "t_us\":7", 7);
    server_frame(&in, 0x80, "}]", 2);
    cr_assert_eq(feed_all(&in, 10), 0);
    cr_assert_eq(conn.received, 1);
    cr_assert_eq(loadgen_histogram_count(latency), 1);
    cr_assert_eq(loadgen_histogram_max(latency), 3);
    cr_assert_eq(conn.out_len, 2 + 4 + 2);
    cr_assert_eq(conn.out[0], 0x8a);
    uint8_t *mask = conn.out + 2;
    cr_assert_eq(conn.out[6] ^ mask[0], 'h');
    cr_assert_eq(conn.out[7] ^ mask[1], 'i');
    tg_buf_release(&in);
}

/* A continuation with no message started is a protocol error. */
Test(loadgen_conn, stray_continuation_fails_the_connection)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    make_ready_json();
    tg_buf_t in;
    tg_buf_init(&in, 0);
    server_frame(&in, 0x80, "x", 1);
    cr_assert_eq(feed_all(&in, 0), -1);
    cr_assert_eq(conn.state, LOADGEN_CONN_CLOSED);
    tg_buf_release(&in);
}

/* ABORT instead of WELCOME fails the connection, counted as abort. */
Test(loadgen_conn, abort_is_a_counted_failure)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    char response[512];
    tg_buf_t in;
    tg_buf_init(&in, 0);
    tg_buf_append(&in, response, upgrade_response(response, sizeof(response), "wamp.2.json"));
    text(&in, "[3,{},\"wamp.error.no_such_realm\"]");
    cr_assert_eq(feed_all(&in, 0), -1);
    cr_assert_eq(conn.state, LOADGEN_CONN_FAILED);
    cr_assert_eq(ctx.failures[LOADGEN_FAIL_ABORT], 1);
    tg_buf_release(&in);
}

/* ERROR instead of SUBSCRIBED fails the connection, counted as error. */
Test(loadgen_conn, subscribe_error_is_a_counted_failure)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    char response[512];
    tg_buf_t in;
    tg_buf_init(&in, 0);
    tg_buf_append(&in, response, upgrade_response(response, sizeof(response), "wamp.2.json"));
    text(&in, "[2,1,{}]");
    text(&in, "[8,32,1,{},\"telegraphy.error.unknown_event\"]");
    cr_assert_eq(feed_all(&in, 0), -1);
    cr_assert_eq(conn.state, LOADGEN_CONN_FAILED);
    cr_assert_eq(ctx.failures[LOADGEN_FAIL_ERROR], 1);
    tg_buf_release(&in);
}

/* A refused upgrade fails with the upgrade kind. */
Test(loadgen_conn, refused_upgrade_is_a_counted_failure)
{
    setup_proto(LOADGEN_PROTO_WAMP_MSGPACK, 0);
    const char *response = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    size_t consumed;
    cr_assert_eq(
        loadgen_conn_feed(&conn, &ctx, (const uint8_t *)response, strlen(response), 0, &consumed),
        -1);
    cr_assert_eq(ctx.failures[LOADGEN_FAIL_UPGRADE], 1);
}

/* raw: ready right after the upgrade; every text or binary message counts,
   binary ones with a msgpack marker too. */
Test(loadgen_conn, raw_counts_every_message)
{
    setup_proto(LOADGEN_PROTO_RAW, 0);
    char response[512];
    tg_buf_t in;
    tg_buf_init(&in, 0);
    tg_buf_append(&in, response, upgrade_response(response, sizeof(response), NULL));
    text(&in, "{\"sent_us\":90,\"seq\":1}");
    text(&in, "plain");
    uint8_t packed[] = {0x81, 0xa7, 's', 'e', 'n', 't', '_', 'u', 's', 0x50};
    server_frame(&in, 0x82, packed, sizeof(packed));
    cr_assert_eq(feed_all(&in, 100), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_READY);
    cr_assert_eq(conn.received, 3);
    cr_assert_eq(loadgen_histogram_count(latency), 2);
    cr_assert_eq(loadgen_histogram_max(latency), 20);
    tg_buf_release(&in);
}

/* msgpack: EVENTs are recognised by type and their marker read. */
Test(loadgen_conn, wamp_msgpack_events_are_counted)
{
    setup_proto(LOADGEN_PROTO_WAMP_MSGPACK, 1);
    char response[512];
    tg_buf_t in;
    tg_buf_init(&in, 0);
    tg_buf_append(&in, response, upgrade_response(response, sizeof(response), "wamp.2.msgpack"));
    uint8_t welcome[] = {0x93, 0x02, 0x01, 0x80};
    uint8_t subscribed[] = {0x93, 0x21, 0x01, 0x05};
    uint8_t event[] = {0x96, 0x24, 0x05, 0x01, 0x80, 0x90, 0x81, 0xa7, 's',
                       'e',  'n',  't',  '_',  'u',  's',  0xcd, 0x01, 0x00};
    server_frame(&in, 0x82, welcome, sizeof(welcome));
    server_frame(&in, 0x82, subscribed, sizeof(subscribed));
    server_frame(&in, 0x82, event, sizeof(event));
    cr_assert_eq(feed_all(&in, 300), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_READY);
    cr_assert_eq(conn.received, 1);
    cr_assert_eq(ctx.complete, 1);
    cr_assert_eq(loadgen_histogram_max(latency), 300 - 256);
    tg_buf_release(&in);
}

/* A close frame from the server is answered with a close carrying the
   same code; a ready connection becomes CLOSED (not a setup failure). */
Test(loadgen_conn, server_close_is_echoed_and_closes)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    make_ready_json();
    conn.out_len = 0;
    tg_buf_t in;
    tg_buf_init(&in, 0);
    server_frame(&in, 0x88, "\x03\xe9going", 7);
    cr_assert_eq(feed_all(&in, 0), -1);
    cr_assert_eq(conn.state, LOADGEN_CONN_CLOSED);
    cr_assert_eq(conn.out_len, 2 + 4 + 2);
    cr_assert_eq(conn.out[0], 0x88);
    cr_assert_eq(conn.out[6] ^ conn.out[2], 0x03);
    cr_assert_eq(conn.out[7] ^ conn.out[3], 0xe9);
    for (int i = 0; i < LOADGEN_FAIL_KINDS; i++)
        cr_assert_eq(ctx.failures[i], 0);
    tg_buf_release(&in);
}

/* With a ticket (--token) the edge's CHALLENGE is answered with the
   AUTHENTICATE frame and the connection stays in HELLO until WELCOME;
   without one a CHALLENGE is a protocol failure. */
Test(loadgen_conn, challenge_is_answered_with_the_ticket)
{
    setup_proto(LOADGEN_PROTO_WAMP_JSON, 0);
    tg_buf_t authenticate;
    tg_buf_init(&authenticate, 0);
    loadgen_wamp_authenticate(LOADGEN_PROTO_WAMP_JSON, "tok", &authenticate);
    ctx.authenticate = tg_buf_payload(&authenticate);
    ctx.authenticate_len = authenticate.len;
    char response[512];
    size_t n = upgrade_response(response, sizeof(response), "wamp.2.json");
    tg_buf_t in;
    tg_buf_init(&in, 0);
    tg_buf_append(&in, response, n);
    cr_assert_eq(feed_all(&in, 0), 0);
    conn.out_len = 0;
    tg_buf_reset(&in);
    text(&in, "[4,\"ticket\",{}]");
    cr_assert_eq(feed_all(&in, 0), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_HELLO);
    cr_assert_eq(conn.out_len, 6 + authenticate.len);
    for (size_t i = 0; i < authenticate.len; i++)
        cr_assert_eq(conn.out[6 + i] ^ conn.out[2 + (i & 3)], tg_buf_payload(&authenticate)[i]);
    tg_buf_reset(&in);
    text(&in, "[2,1,{}]");
    cr_assert_eq(feed_all(&in, 0), 0);
    cr_assert_eq(conn.state, LOADGEN_CONN_SUBSCRIBING);
    /* Anonymous: a CHALLENGE fails the connection. */
    ctx.authenticate = NULL;
    loadgen_conn_release(&conn);
    loadgen_conn_init(&conn);
    conn.state = LOADGEN_CONN_CONNECTING;
    cr_assert_eq(loadgen_conn_start(&conn, &ctx), 0);
    n = upgrade_response(response, sizeof(response), "wamp.2.json");
    tg_buf_reset(&in);
    tg_buf_append(&in, response, n);
    text(&in, "[4,\"ticket\",{}]");
    cr_assert_eq(feed_all(&in, 0), -1);
    cr_assert_eq(conn.state, LOADGEN_CONN_FAILED);
    tg_buf_release(&in);
    tg_buf_release(&authenticate);
}
