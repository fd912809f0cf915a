/*  edge_actor: the edge started, served and stopped in-process, the way
    main() does it (tg_actor), on a free port. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge_actor.h"
#include "tg_actor.h"
#include "tg_config.h"

static tg_config_t s_config(int port)
{
    tg_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.router, sizeof(cfg.router), "tcp://127.0.0.1:1"); /* nobody: never answers */
    snprintf(cfg.edge_host, sizeof(cfg.edge_host), "127.0.0.1");
    snprintf(cfg.realm, sizeof(cfg.realm), "telegraphy");
    cfg.edge_port = port;
    cfg.max_message = 65536;
    cfg.session_queue = 64;
    cfg.max_sessions = 8;
    cfg.max_subscriptions = 8;
    cfg.max_filter = 256;
    cfg.heartbeat_ms = 1000;
    cfg.hwm = 1000;
    cfg.allow_anonymous = true;
    return cfg;
}

/* A plain HTTP GET of path on 127.0.0.1:port; the response's first bytes
   go to out. */
static void s_get(int port, const char *path, char *out, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    char request[256];
    int len = snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
    cr_assert_eq(write(fd, request, (size_t)len), len);
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t n = read(fd, out + got, size - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        out[got] = '\0';
        if (strstr(out, "router: "))
            break;
    }
    out[got] = '\0';
    close(fd);
}

/* Asked for port 0, the edge reports the port it bound and its instance
   id, serves HTTP on that port, and stops on tg_actor_destroy ($TERM
   through the adopted pipe). */
Test(edge_actor, reports_port_and_instance_serves_and_stops)
{
    tg_config_t cfg = s_config(0);
    char error[256] = "";
    tg_actor_t *actor = tg_actor_start(&edge_actor_class, &cfg, error, sizeof error);
    cr_assert_not_null(actor, "start failed: %s", error);
    const char *port = tg_actor_get(actor, "port");
    cr_assert_not_null(port);
    cr_assert_gt(atoi(port), 0);
    const char *instance = tg_actor_get(actor, "instance");
    cr_assert_not_null(instance);
    cr_assert_eq(strncmp(instance, "edge-", 5), 0, "instance=%s", instance);
    char response[1024];
    s_get(atoi(port), "/healthz", response, sizeof response);
    cr_assert_not_null(strstr(response, " 200 "), "%s", response);
    cr_assert_not_null(strstr(response, "router: disconnected"), "%s", response);
    tg_actor_destroy(&actor);
    cr_assert_null(actor);
}

/* A port in use is a start-up error with a sentence naming it; the
   running edge is unaffected. */
Test(edge_actor, port_in_use_is_a_start_error)
{
    tg_config_t cfg = s_config(0);
    char error[256] = "";
    tg_actor_t *first = tg_actor_start(&edge_actor_class, &cfg, error, sizeof error);
    cr_assert_not_null(first, "start failed: %s", error);
    int port = atoi(tg_actor_get(first, "port"));
    tg_config_t taken = s_config(port);
    tg_actor_t *second = tg_actor_start(&edge_actor_class, &taken, error, sizeof error);
    cr_assert_null(second);
    char expected[64];
    snprintf(expected, sizeof expected, "port=%d", port);
    cr_assert_not_null(strstr(error, expected), "error=%s", error);
    char response[1024];
    s_get(port, "/healthz", response, sizeof response);
    cr_assert_not_null(strstr(response, " 200 "), "%s", response);
    tg_actor_destroy(&first);
}
