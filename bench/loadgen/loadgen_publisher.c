/*  loadgen_publisher: see loadgen_publisher.h. */
#include "loadgen_publisher.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen_http.h"
#include "tg_log.h"

/* Responses are small; a larger one is read in this many bytes at once. */
#define LOADGEN_PUBLISHER_READ_SIZE 16384

struct _loadgen_publisher_t {
    const loadgen_args_t *args; /* settings; not owned */
    int fd;                     /* the keep-alive connection, -1 when none */
    int stop_fd;                /* readable = stop (-1 none) */
    bool stopped;               /* stop_fd fired */
    char *pad;                  /* ,"pad":"xxx..." (owned), "" without --pad */
    tg_buf_t request;           /* the request being sent */
    tg_buf_t response;          /* bytes received */
    uint64_t sent;              /* POSTs answered 2xx */
    uint64_t errors;            /* answered otherwise, or failed */
    uint64_t reconnects;        /* connections opened after the first */
    int64_t start_us, end_us;   /* CLOCK_REALTIME around the run */
    int64_t deadline;           /* CLOCK_MONOTONIC µs */
    const char *stopped_by;     /* "count", "timeout", "signal" */
};

static tg_log_limiter_t s_error_limiter;

static int64_t s_clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

loadgen_publisher_t *loadgen_publisher_new(const loadgen_args_t *args)
{
    loadgen_publisher_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->args = args;
    self->fd = -1;
    self->stop_fd = -1;
    self->stopped_by = "count";
    tg_buf_init(&self->request, 0);
    tg_buf_init(&self->response, 0);
    size_t pad_len = args->pad ? args->pad + sizeof(",\"pad\":\"\"") : 1;
    self->pad = malloc(pad_len);
    if (!self->pad) {
        loadgen_publisher_destroy(&self);
        return NULL;
    }
    if (args->pad) {
        strcpy(self->pad, ",\"pad\":\"");
        memset(self->pad + 8, 'x', args->pad);
        strcpy(self->pad + 8 + args->pad, "\"");
    } else
        self->pad[0] = '\0';
    return self;
}

void loadgen_publisher_destroy(loadgen_publisher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    loadgen_publisher_t *self = *self_p;
    if (self->fd >= 0)
        close(self->fd);
    free(self->pad);
    tg_buf_release(&self->request);
    tg_buf_release(&self->response);
    free(self);
    *self_p = NULL;
}

/* Waits until fd has `events` or the deadline / stop. 1 ready, 0 timed
   out or stopped, -1 poll failed. until_us (CLOCK_MONOTONIC) bounds it. */
static int s_wait(loadgen_publisher_t *self, int fd, short events, int64_t until_us)
{
    while (true) {
        int64_t left = until_us - s_clock_us(CLOCK_MONOTONIC);
        if (left <= 0)
            return 0;
        struct pollfd fds[2] = {{.fd = fd, .events = events},
                                {.fd = self->stop_fd, .events = POLLIN}};
        struct timespec timeout = {.tv_sec = left / 1000000, .tv_nsec = (left % 1000000) * 1000};
        int ready = ppoll(fds, self->stop_fd >= 0 ? 2 : 1, &timeout, NULL);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (self->stop_fd >= 0 && fds[1].revents) {
            self->stopped = true;
            return 0;
        }
        if (fd >= 0 && fds[0].revents)
            return 1;
        if (fd < 0 && ready == 0)
            return 0;
    }
}

static void s_disconnect(loadgen_publisher_t *self)
{
    if (self->fd >= 0)
        close(self->fd);
    self->fd = -1;
    tg_buf_reset(&self->response);
}

/* Opens the connection if there is none. 0 or -1 (logged). */
static int s_connect(loadgen_publisher_t *self, bool *fresh)
{
    *fresh = false;
    if (self->fd >= 0)
        return 0;
    const loadgen_url_t *url = &self->args->url;
    int fd = socket(url->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&url->addr, url->addr_len) != 0) {
        int error = errno;
        if (error == EINPROGRESS && s_wait(self, fd, POLLOUT, self->deadline) == 1) {
            socklen_t len = sizeof(error);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
                error = errno;
        }
        if (error && error != EINPROGRESS) {
            tg_log_ratelimited(&s_error_limiter, 1000, "loadgen: publisher connect failed error=%s",
                               strerror(error));
            close(fd);
            return -1;
        }
        if (error) { /* timed out or stopped */
            close(fd);
            return -1;
        }
    }
    if (self->sent + self->errors > 0)
        self->reconnects++;
    self->fd = fd;
    *fresh = true;
    tg_buf_reset(&self->response);
    return 0;
}

static void s_format(loadgen_publisher_t *self, uint64_t seq)
{
    char body[128];
    int body_len = snprintf(body, sizeof(body), "{\"sent_us\":%lld,\"seq\":%llu",
                            (long long)s_clock_us(CLOCK_REALTIME), (unsigned long long)seq);
    size_t pad_len = strlen(self->pad);
    char header[1400];
    int header_len =
        snprintf(header, sizeof(header),
                 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 self->args->url.path, self->args->url.host_header, (size_t)body_len + pad_len + 1);
    tg_buf_reset(&self->request);
    tg_buf_append(&self->request, header, (size_t)header_len);
    tg_buf_append(&self->request, body, (size_t)body_len);
    tg_buf_append(&self->request, self->pad, pad_len);
    tg_buf_append_byte(&self->request, '}');
}

/* Writes the request and reads its response on the open connection.
   1: answered (*status). 0: the connection was closed before any byte of
   an answer (worth one retry on a reused connection). -1: failed. */
static int s_exchange(loadgen_publisher_t *self, int *status)
{
    const uint8_t *data = tg_buf_payload(&self->request);
    size_t left = self->request.len;
    while (left) {
        ssize_t n = send(self->fd, data, left, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && s_wait(self, self->fd, POLLOUT, self->deadline) == 1)
                continue;
            return errno == EPIPE || errno == ECONNRESET ? 0 : -1;
        }
        data += n;
        left -= (size_t)n;
    }
    while (true) {
        loadgen_http_response_t response;
        int rc = loadgen_http_response_parse(tg_buf_payload(&self->response), self->response.len,
                                             false, &response);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            *status = response.status;
            /* Keep what follows (nothing, without pipelining). */
            size_t rest = self->response.len - response.length;
            memmove(tg_buf_payload(&self->response),
                    tg_buf_payload(&self->response) + response.length, rest);
            tg_buf_truncate(&self->response, rest);
            if (!response.keep_alive)
                s_disconnect(self);
            return 1;
        }
        uint8_t *room = tg_buf_reserve(&self->response, LOADGEN_PUBLISHER_READ_SIZE);
        ssize_t n = recv(self->fd, room, LOADGEN_PUBLISHER_READ_SIZE, 0);
        tg_buf_truncate(&self->response,
                        self->response.len - LOADGEN_PUBLISHER_READ_SIZE + (size_t)(n > 0 ? n : 0));
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (s_wait(self, self->fd, POLLIN, self->deadline) != 1)
                return -1;
            continue;
        }
        if (self->response.len == 0)
            return 0; /* closed (or reset) before answering */
        rc = loadgen_http_response_parse(tg_buf_payload(&self->response), self->response.len, true,
                                         &response);
        if (rc == 1) {
            *status = response.status;
            s_disconnect(self);
            return 1;
        }
        return -1;
    }
}

int loadgen_publisher_run(loadgen_publisher_t *self, int stop_fd)
{
    self->stop_fd = stop_fd;
    int64_t start = s_clock_us(CLOCK_MONOTONIC);
    self->deadline = start + (int64_t)(self->args->timeout_s * 1e6);
    self->start_us = s_clock_us(CLOCK_REALTIME);
    for (uint64_t seq = 1; seq <= self->args->count; seq++) {
        if (self->args->rate > 0) {
            int64_t due = start + (int64_t)((double)(seq - 1) * 1e6 / self->args->rate);
            if (due > self->deadline)
                due = self->deadline;
            if (due > s_clock_us(CLOCK_MONOTONIC))
                s_wait(self, -1, 0, due);
        }
        if (self->stopped) {
            self->stopped_by = "signal";
            break;
        }
        if (s_clock_us(CLOCK_MONOTONIC) >= self->deadline) {
            self->stopped_by = "timeout";
            break;
        }
        int status = 0, rc = -1;
        for (int attempt = 0; attempt < 2; attempt++) {
            bool fresh;
            if (s_connect(self, &fresh) != 0) {
                rc = -1;
                break;
            }
            s_format(self, seq);
            rc = s_exchange(self, &status);
            if (rc != 0)
                break;
            s_disconnect(self);
            if (fresh)
                break; /* a new connection closed on us: an error, no retry */
        }
        if (rc != 1 && self->stopped) {
            self->stopped_by = "signal"; /* interrupted, not refused */
            break;
        }
        if (rc == 1 && status >= 200 && status < 300) {
            self->sent++;
            continue;
        }
        self->errors++;
        if (rc != 1) {
            s_disconnect(self);
            tg_log_ratelimited(&s_error_limiter, 1000, "loadgen: POST failed seq=%llu",
                               (unsigned long long)seq);
        } else
            tg_log_ratelimited(&s_error_limiter, 1000, "loadgen: POST refused seq=%llu status=%d",
                               (unsigned long long)seq, status);
        if (self->stopped) {
            self->stopped_by = "signal";
            break;
        }
    }
    self->end_us = s_clock_us(CLOCK_REALTIME);
    s_disconnect(self);
    return 0;
}

void loadgen_publisher_result_json(loadgen_publisher_t *self, tg_buf_t *out)
{
    double seconds = (double)(self->end_us - self->start_us) / 1e6;
    char text[512];
    int n = snprintf(text, sizeof(text),
                     "{\"count\":%llu,\"sent\":%llu,\"errors\":%llu,\"start_us\":%lld,"
                     "\"end_us\":%lld,\"rate\":%.1f,\"reconnects\":%llu,\"pipelined\":false,"
                     "\"stopped_by\":\"%s\"}",
                     (unsigned long long)self->args->count, (unsigned long long)self->sent,
                     (unsigned long long)self->errors, (long long)self->start_us,
                     (long long)self->end_us, seconds > 0 ? (double)self->sent / seconds : 0.0,
                     (unsigned long long)self->reconnects, self->stopped_by);
    tg_buf_append(out, text, (size_t)n);
}
