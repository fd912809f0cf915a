/*  Unit tests for loadgen_publisher: POSTs on a keep-alive connection to
    an HTTP server thread on a loopback port. */
#include "loadgen_publisher.h"
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
#include <time.h>
#include <unistd.h>

typedef struct {
    int listener;     /* bound, listening */
    int requests;     /* requests to answer in all */
    int close_every;  /* answer with Connection: close every Nth (0 never) */
    int refuse_every; /* answer 500 every Nth (0 never) */
    int seen;         /* requests answered */
    int connections;  /* connections accepted */
    int bodies_ok;    /* bodies that carried "sent_us" and the right seq */
} server_t;

/* Reads one request (header + Content-Length body) into buf; its length
   or -1 at EOF. Keeps extra bytes out: the client never pipelines. */
static int read_request(int fd, char *buf, size_t cap)
{
    size_t at = 0;
    char *end = NULL;
    while (!(end = memmem(buf, at, "\r\n\r\n", 4))) {
        ssize_t n = read(fd, buf + at, cap - 1 - at);
        if (n <= 0)
            return -1;
        at += (size_t)n;
    }
    buf[at] = '\0';
    const char *length = strcasestr(buf, "Content-Length: ");
    size_t body = length ? (size_t)atoi(length + 16) : 0;
    size_t want = (size_t)(end - buf) + 4 + body;
    while (at < want) {
        ssize_t n = read(fd, buf + at, cap - 1 - at);
        if (n <= 0)
            return -1;
        at += (size_t)n;
    }
    buf[at] = '\0';
    return (int)at;
}

static void *server_main(void *arg)
{
    server_t *server = arg;
    while (server->seen < server->requests) {
        int fd = accept(server->listener, NULL, NULL);
        if (fd < 0)
            break;
        server->connections++;
        char buf[8192];
        while (server->seen < server->requests && read_request(fd, buf, sizeof(buf)) > 0) {
            int n = ++server->seen;
            char want[64];
            snprintf(want, sizeof(want), ",\"seq\":%d", n);
            if (strstr(buf, "POST /pub/x HTTP/1.1\r\n") == buf && strstr(buf, "{\"sent_us\":") &&
                strstr(buf, want))
                server->bodies_ok++;
            bool refuse = server->refuse_every && n % server->refuse_every == 0;
            bool close_now = server->close_every && n % server->close_every == 0;
            char response[256];
            int len = snprintf(
                response, sizeof(response), "HTTP/1.1 %s\r\n%sContent-Length: 2\r\n\r\nok",
                refuse ? "500 Oops" : "202 Accepted", close_now ? "Connection: close\r\n" : "");
            if (write(fd, response, (size_t)len) != len || close_now)
                break;
        }
        close(fd);
    }
    return NULL;
}

static json_t *publish(int port, const char *count, const char *rate)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/pub/x", port);
    const char *argv[] = {"lg",  "publish-http", "--url", url,           "--count",
                          count, "--rate",       rate,    "--timeout-s", "10"};
    loadgen_args_t args;
    char error[256];
    cr_assert_eq(loadgen_args_parse(10, (char **)argv, &args, stdout, error, sizeof(error)), 0,
                 "%s", error);
    const char *why;
    cr_assert_eq(loadgen_url_resolve(&args.url, &why), 0);
    loadgen_publisher_t *publisher = loadgen_publisher_new(&args);
    cr_assert_eq(loadgen_publisher_run(publisher, -1), 0);
    tg_buf_t out;
    tg_buf_init(&out, 0);
    loadgen_publisher_result_json(publisher, &out);
    loadgen_publisher_destroy(&publisher);
    loadgen_publisher_destroy(&publisher); /* safe twice */
    json_error_t jerror;
    json_t *result = json_loadb((const char *)tg_buf_payload(&out), out.len, 0, &jerror);
    cr_assert_not_null(result, "%s", jerror.text);
    tg_buf_release(&out);
    return result;
}

static long long field(json_t *object, const char *name)
{
    return json_integer_value(json_object_get(object, name));
}

/* Every POST carries sent_us and its seq; 2xx count as sent, 500s as
   errors; a server closing the keep-alive connection is reconnected. */
Test(loadgen_publisher, posts_are_counted_and_closed_connections_reopened)
{
    server_t server = {.requests = 30, .close_every = 7, .refuse_every = 10};
    int port;
    server.listener = listen_loopback(&port, 16);
    pthread_t thread;
    pthread_create(&thread, NULL, server_main, &server);
    json_t *result = publish(port, "30", "0");
    pthread_join(thread, NULL);
    close(server.listener);
    cr_assert_eq(field(result, "count"), 30);
    cr_assert_eq(field(result, "sent"), 27);
    cr_assert_eq(field(result, "errors"), 3);
    cr_assert_eq(field(result, "reconnects"), 4);
    cr_assert_eq(server.connections, 5);
    cr_assert_eq(server.bodies_ok, 30);
    cr_assert_geq(field(result, "end_us"), field(result, "start_us"));
    json_decref(result);
}

/* With --rate the POSTs follow the schedule: 21 at 200/s take at least
   the 100 ms between the first and the last due time. */
Test(loadgen_publisher, rate_paces_the_posts)
{
    server_t server = {.requests = 21};
    int port;
    server.listener = listen_loopback(&port, 16);
    pthread_t thread;
    pthread_create(&thread, NULL, server_main, &server);
    json_t *result = publish(port, "21", "200");
    pthread_join(thread, NULL);
    close(server.listener);
    cr_assert_eq(field(result, "sent"), 21);
    long long span = field(result, "end_us") - field(result, "start_us");
    cr_assert_geq(span, 100000, "span=%lld", span);
    cr_assert_lt(span, 2000000, "span=%lld", span);
    json_decref(result);
}

/* Nobody listening: every POST is an error, and the run still ends. */
Test(loadgen_publisher, refused_connection_counts_errors)
{
    int port;
    close(listen_loopback(&port, 16));
    json_t *result = publish(port, "5", "0");
    cr_assert_eq(field(result, "sent"), 0);
    cr_assert_eq(field(result, "errors"), 5);
    json_decref(result);
}
