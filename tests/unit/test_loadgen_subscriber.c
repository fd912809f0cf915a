/*  Unit tests for loadgen_subscriber: the epoll loop against a small
    WebSocket server thread on a loopback port (a real socket, the
    production loop, in-process). */
#include "loadgen_subscriber.h"
#include "test_loadgen_loopback.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen_ws.h"

typedef struct {
    int listener;     /* bound, listening */
    int conns;        /* connections to serve */
    int events;       /* EVENTs to send each */
    bool wamp;        /* answer HELLO/SUBSCRIBE */
    bool close_after; /* send a close frame after the events */
    int ok;           /* connections served (result) */
} server_t;

static int read_exact(int fd, uint8_t *buf, size_t len)
{
    size_t at = 0;
    while (at < len) {
        ssize_t n = read(fd, buf + at, len - at);
        if (n <= 0)
            return -1;
        at += (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one masked client frame's payload into out (NUL-terminated). */
static int read_client_frame(int fd, char *out, size_t cap)
{
    uint8_t head[2];
    if (read_exact(fd, head, 2) != 0 || !(head[1] & 0x80))
        return -1;
    size_t len = head[1] & 0x7f;
    if (len >= 126 || len + 1 > cap)
        return -1;
    uint8_t mask[4];
    if (read_exact(fd, mask, 4) != 0 || read_exact(fd, (uint8_t *)out, len) != 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        out[i] ^= (char)mask[i & 3];
    out[len] = '\0';
    return (int)len;
}

static void server_text(int fd, const char *text)
{
    size_t len = strlen(text);
    uint8_t head[4] = {0x81, (uint8_t)len};
    write_all(fd, head, 2);
    write_all(fd, text, len);
}

/* Handshake (and WAMP setup) for one accepted connection. */
static int serve_setup(server_t *server, int fd)
{
    char request[4096];
    size_t at = 0;
    while (!memmem(request, at, "\r\n\r\n", 4)) {
        ssize_t n = read(fd, request + at, sizeof(request) - 1 - at);
        if (n <= 0)
            return -1;
        at += (size_t)n;
    }
    request[at] = '\0';
    char *key = strstr(request, "Sec-WebSocket-Key: ");
    if (!key)
        return -1;
    key += strlen("Sec-WebSocket-Key: ");
    key[LOADGEN_WS_KEY_LEN] = '\0';
    char accept[LOADGEN_WS_ACCEPT_LEN + 1];
    loadgen_ws_accept_for(key, accept);
    char response[512];
    int n = snprintf(response, sizeof(response),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                     accept, server->wamp ? "Sec-WebSocket-Protocol: wamp.2.json\r\n" : "");
    write_all(fd, response, (size_t)n);
    if (!server->wamp)
        return 0;
    char message[256];
    if (read_client_frame(fd, message, sizeof(message)) < 0 || strncmp(message, "[1,", 3) != 0)
        return -1;
    server_text(fd, "[2,1,{}]");
    if (read_client_frame(fd, message, sizeof(message)) < 0 || strncmp(message, "[32,", 4) != 0)
        return -1;
    server_text(fd, "[33,1,5]");
    return 0;
}

/* Accepts every connection, sets each up, then sends each its events as
   one byte stream written in odd-sized pieces (frames split across
   reads), with a 16-bit-length frame every tenth event. */
static void *server_main(void *arg)
{
    server_t *server = arg;
    int *fds = calloc((size_t)server->conns, sizeof(int));
    for (int i = 0; i < server->conns; i++) {
        fds[i] = accept(server->listener, NULL, NULL);
        if (fds[i] < 0 || serve_setup(server, fds[i]) != 0)
            goto done;
    }
    tg_buf_t stream;
    tg_buf_init(&stream, 0);
    for (int e = 0; e < server->events; e++) {
        char text[400];
        const char *pad = e % 10 == 9 ? ",\"pad\":\"........................................"
                                        "..............................................\""
                                      : "";
        int len = server->wamp
                      ? snprintf(text, sizeof(text), "[36,5,%d,{},[],{\"sent_us\":1,\"seq\":%d%s}]",
                                 e, e, pad)
                      : snprintf(text, sizeof(text), "{\"sent_us\":1,\"seq\":%d%s}", e, pad);
        uint8_t head[4] = {0x81, (uint8_t)len};
        size_t head_len = 2;
        if (len >= 126) {
            head[1] = 126;
            head[2] = (uint8_t)(len >> 8);
            head[3] = (uint8_t)len;
            head_len = 4;
        }
        tg_buf_append(&stream, head, head_len);
        tg_buf_append(&stream, text, (size_t)len);
    }
    if (server->close_after)
        tg_buf_append(&stream, "\x88\x02\x03\xe8", 4);
    for (int i = 0; i < server->conns; i++) {
        const uint8_t *data = tg_buf_payload(&stream);
        size_t left = stream.len, piece = 1 + (size_t)i % 7;
        while (left) {
            size_t n = left < piece ? left : piece;
            write_all(fds[i], data, n);
            data += n;
            left -= n;
            piece = piece * 3 % 101 + 1;
        }
        server->ok++;
    }
    tg_buf_release(&stream);
    /* Keep the sockets until the client is done (it closes them). */
    for (int i = 0; i < server->conns; i++) {
        char sink[256];
        while (read(fds[i], sink, sizeof(sink)) > 0)
            ;
    }
done:
    for (int i = 0; i < server->conns; i++)
        if (fds[i] > 0)
            close(fds[i]);
    free(fds);
    return NULL;
}

/* Runs a subscriber with these flags against url; returns the result JSON. */
static json_t *run(const char *url, const char *proto, int conns, int expect, const char *ready)
{
    char conns_text[16], expect_text[16];
    snprintf(conns_text, sizeof(conns_text), "%d", conns);
    snprintf(expect_text, sizeof(expect_text), "%d", expect);
    const char *argv[] = {"lg",
                          "subscribe",
                          "--url",
                          url,
                          "--proto",
                          proto,
                          "--conns",
                          conns_text,
                          "--expect",
                          expect_text,
                          "--timeout-s",
                          "10",
                          "--ready-file",
                          ready,
                          "--connect-concurrency",
                          "7"};
    loadgen_args_t args;
    char error[256];
    cr_assert_eq(loadgen_args_parse(16, (char **)argv, &args, stdout, error, sizeof(error)), 0,
                 "%s", error);
    const char *why;
    cr_assert_eq(loadgen_url_resolve(&args.url, &why), 0);
    loadgen_subscriber_t *subscriber = loadgen_subscriber_new(&args);
    cr_assert_not_null(subscriber);
    cr_assert_eq(loadgen_subscriber_run(subscriber, -1), 0);
    tg_buf_t out;
    tg_buf_init(&out, 0);
    loadgen_subscriber_result_json(subscriber, &out);
    loadgen_subscriber_destroy(&subscriber);
    json_error_t jerror;
    json_t *result = json_loadb((const char *)tg_buf_payload(&out), out.len, 0, &jerror);
    cr_assert_not_null(result, "%s", jerror.text);
    tg_buf_release(&out);
    return result;
}

static long long field(json_t *object, const char *name)
{
    json_t *value = json_object_get(object, name);
    cr_assert_not_null(value, "%s missing", name);
    return json_is_integer(value) ? json_integer_value(value) : (long long)json_real_value(value);
}

/* wamp-json: every connection is set up (7 handshakes at a time), every
   EVENT of a stream cut at odd places is counted once, with latency. */
Test(loadgen_subscriber, wamp_json_counts_every_event_exactly)
{
    server_t server = {.conns = 30, .events = 200, .wamp = true};
    int port;
    server.listener = listen_loopback(&port, 512);
    pthread_t thread;
    pthread_create(&thread, NULL, server_main, &server);
    char url[64], ready[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws", port);
    snprintf(ready, sizeof(ready), "/tmp/loadgen-test-ready-%d.json", (int)getpid());
    json_t *result = run(url, "wamp-json", 30, 200, ready);
    pthread_join(thread, NULL);
    close(server.listener);
    cr_assert_eq(field(result, "connected"), 30);
    cr_assert_eq(field(result, "failed"), 0);
    cr_assert_eq(field(result, "expected"), 6000);
    cr_assert_eq(field(result, "received"), 6000);
    cr_assert_eq(field(result, "dupes_or_extra"), 0);
    cr_assert_float_eq(json_real_value(json_object_get(result, "loss")), 0.0, 1e-9);
    cr_assert_eq(field(json_object_get(result, "latency_us"), "count"), 6000);
    cr_assert_str_eq(json_string_value(json_object_get(result, "stopped_by")), "expect");
    json_error_t jerror;
    json_t *ready_json = json_load_file(ready, 0, &jerror);
    cr_assert_not_null(ready_json, "ready file: %s", jerror.text);
    cr_assert_eq(field(ready_json, "connected"), 30);
    json_decref(ready_json);
    unlink(ready);
    json_decref(result);
}

/* raw: ready after the upgrade; a close after the events is counted as
   closed by peer; asking for more than was sent shows as loss, and the
   run ends once no connection is left. */
Test(loadgen_subscriber, raw_close_by_peer_and_loss_are_reported)
{
    server_t server = {.conns = 5, .events = 50, .wamp = false, .close_after = true};
    int port;
    server.listener = listen_loopback(&port, 512);
    pthread_t thread;
    pthread_create(&thread, NULL, server_main, &server);
    char url[64], ready[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
    snprintf(ready, sizeof(ready), "/tmp/loadgen-test-ready-raw-%d.json", (int)getpid());
    json_t *result = run(url, "raw", 5, 100, ready);
    pthread_join(thread, NULL);
    close(server.listener);
    cr_assert_eq(field(result, "connected"), 5);
    cr_assert_eq(field(result, "received"), 250);
    cr_assert_eq(field(result, "closed_by_peer"), 5);
    cr_assert_float_eq(json_real_value(json_object_get(result, "loss")), 0.5, 1e-9);
    /* It ends as soon as no connection can receive more, not at the timeout. */
    cr_assert_str_eq(json_string_value(json_object_get(result, "stopped_by")),
                     "no_live_connections");
    unlink(ready);
    json_decref(result);
}

/* A refused port: every connection fails, counted, and the run ends. */
Test(loadgen_subscriber, refused_connections_are_counted_not_fatal)
{
    int port;
    int fd = listen_loopback(&port, 512);
    close(fd); /* nobody listens there now */
    char url[64], ready[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws", port);
    snprintf(ready, sizeof(ready), "/tmp/loadgen-test-ready-refused-%d.json", (int)getpid());
    json_t *result = run(url, "wamp-msgpack", 20, 1, ready);
    cr_assert_eq(field(result, "connected"), 0);
    cr_assert_eq(field(result, "failed"), 20);
    cr_assert_eq(field(json_object_get(result, "failures"), "connect"), 20);
    cr_assert_float_eq(json_real_value(json_object_get(result, "loss")), 1.0, 1e-9);
    unlink(ready);
    json_decref(result);
}
