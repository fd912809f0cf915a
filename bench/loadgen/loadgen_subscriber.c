/*  loadgen_subscriber: see loadgen_subscriber.h. */
#include "loadgen_subscriber.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen_conn.h"
#include "loadgen_output.h"
#include "tg_log.h"

/* Bytes asked of each read(); the shared buffer holds a tail plus this. */
#define LOADGEN_SUBSCRIBER_READ_SIZE (64 * 1024)
/* Events taken per epoll_wait. */
#define LOADGEN_SUBSCRIBER_EVENTS 1024
/* epoll tag of the stop descriptor (connections are tagged by index). */
#define LOADGEN_SUBSCRIBER_STOP_TAG UINT64_MAX
/* Longest single wait, so the deadline is checked at least this often. */
#define LOADGEN_SUBSCRIBER_MAX_WAIT_MS 250

static tg_log_limiter_t s_socket_limiter;

struct _loadgen_subscriber_t {
    const loadgen_args_t *args;   /* settings; not owned */
    loadgen_conn_ctx_t ctx;       /* shared settings and counters */
    loadgen_conn_t *conns;        /* args->conns slots (owned) */
    loadgen_histogram_t *latency; /* receive time - sent_us (owned) */
    tg_buf_t hello, subscribe;    /* encoded once for every connection */
    tg_buf_t authenticate;        /* AUTHENTICATE with --token, empty without */
    uint8_t *buf;                 /* shared read buffer (owned) */
    size_t buf_cap;               /* its size */
    int epoll_fd;                 /* the loop */
    size_t next;                  /* next slot to connect */
    size_t in_setup;              /* slots between connect and ready/failed */
    size_t connected;             /* slots that became ready */
    size_t failed;                /* slots that never did */
    size_t closed_by_peer;        /* ready slots the peer closed */
    size_t dead_incomplete;       /* slots that died before --expect messages */
    int64_t start_us;             /* CLOCK_MONOTONIC at run start */
    int64_t ready_us;             /* when the connect phase ended, 0 before */
    int64_t end_us;               /* when the run ended */
    const char *stopped_by;       /* "expect", "timeout", "signal", "no_live_connections" */
};

static int64_t s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t s_real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int loadgen_subscriber_raise_nofile(size_t conns, char *error, size_t error_cap)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        snprintf(error, error_cap, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0 && getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        snprintf(error, error_cap, "setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    if (limit.rlim_cur != RLIM_INFINITY &&
        (rlim_t)conns + LOADGEN_SUBSCRIBER_SPARE_FDS > limit.rlim_cur) {
        snprintf(error, error_cap,
                 "--conns %zu does not fit: this process may open %llu files (hard limit), "
                 "%d of them kept for other uses; at most --conns %llu here",
                 conns, (unsigned long long)limit.rlim_cur, LOADGEN_SUBSCRIBER_SPARE_FDS,
                 limit.rlim_cur > LOADGEN_SUBSCRIBER_SPARE_FDS
                     ? (unsigned long long)(limit.rlim_cur - LOADGEN_SUBSCRIBER_SPARE_FDS)
                     : 0ull);
        return -1;
    }
    return 0;
}

loadgen_subscriber_t *loadgen_subscriber_new(const loadgen_args_t *args)
{
    loadgen_subscriber_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->args = args;
    self->epoll_fd = -1;
    tg_buf_init(&self->hello, 0);
    tg_buf_init(&self->subscribe, 0);
    tg_buf_init(&self->authenticate, 0);
    self->conns = calloc(args->conns, sizeof(loadgen_conn_t));
    self->latency = loadgen_histogram_new();
    self->buf_cap = 4 * LOADGEN_SUBSCRIBER_READ_SIZE;
    self->buf = malloc(self->buf_cap);
    if (!self->conns || !self->latency || !self->buf)
        goto err;
    for (size_t i = 0; i < args->conns; i++)
        loadgen_conn_init(&self->conns[i]);
    if (args->proto != LOADGEN_PROTO_RAW &&
        ((args->token ? loadgen_wamp_hello_ticket(args->proto, args->realm, &self->hello)
                      : loadgen_wamp_hello(args->proto, args->realm, &self->hello)) != 0 ||
         (args->token &&
          loadgen_wamp_authenticate(args->proto, args->token, &self->authenticate) != 0) ||
         loadgen_wamp_subscribe_options(args->proto, 1, args->topic, args->persistent,
                                        &self->subscribe) != 0)) {
        tg_log_error("loadgen: cannot encode HELLO/SUBSCRIBE realm=%s topic=%s", args->realm,
                     args->topic);
        goto err;
    }
    self->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (self->epoll_fd < 0) {
        tg_log_error("loadgen: epoll_create1 failed error=%s", strerror(errno));
        goto err;
    }
    loadgen_conn_ctx_t *ctx = &self->ctx;
    ctx->proto = args->proto;
    ctx->expect = args->expect;
    ctx->max_message = args->max_message;
    ctx->host = args->url.host_header;
    ctx->path = args->url.path;
    ctx->hello = tg_buf_payload(&self->hello);
    ctx->hello_len = self->hello.len;
    if (args->token) {
        ctx->authenticate = tg_buf_payload(&self->authenticate);
        ctx->authenticate_len = self->authenticate.len;
    }
    ctx->subscribe = tg_buf_payload(&self->subscribe);
    ctx->subscribe_len = self->subscribe.len;
    ctx->latency = self->latency;
    if (getrandom(&ctx->rng, sizeof(ctx->rng), 0) != (ssize_t)sizeof(ctx->rng) || !ctx->rng)
        ctx->rng = (uint64_t)s_real_us() | 1;
    self->stopped_by = "timeout";
    return self;
err:
    loadgen_subscriber_destroy(&self);
    return NULL;
}

/* Closes the socket and frees the slot's buffers (the counters stay). */
static void s_close(loadgen_subscriber_t *self, loadgen_conn_t *conn)
{
    (void)self;
    if (conn->fd >= 0)
        close(conn->fd); /* also leaves the epoll set */
    conn->fd = -1;
    loadgen_conn_release(conn);
}

void loadgen_subscriber_destroy(loadgen_subscriber_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    loadgen_subscriber_t *self = *self_p;
    if (self->conns) {
        for (size_t i = 0; i < self->args->conns; i++)
            s_close(self, &self->conns[i]);
        free(self->conns);
    }
    if (self->epoll_fd >= 0)
        close(self->epoll_fd);
    loadgen_histogram_destroy(&self->latency);
    tg_buf_release(&self->hello);
    tg_buf_release(&self->subscribe);
    tg_buf_release(&self->authenticate);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

static void s_write_ready_file(loadgen_subscriber_t *self)
{
    if (!self->args->ready_file)
        return;
    double connect_s = (double)(self->ready_us - self->start_us) / 1e6;
    char text[256];
    int n = snprintf(text, sizeof(text),
                     "{\"connected\":%zu,\"failed\":%zu,\"connect_s\":%.6f,\"connect_rate\":%.1f}",
                     self->connected, self->failed, connect_s,
                     connect_s > 0 ? (double)self->connected / connect_s : 0.0);
    loadgen_output_write(self->args->ready_file, text, (size_t)n);
}

/* Book-keeping after a slot may have changed state; closes dead slots. */
static void s_after(loadgen_subscriber_t *self, loadgen_conn_t *conn, loadgen_conn_state_t before)
{
    loadgen_conn_state_t now = conn->state;
    if (now == before)
        return;
    bool was_setup = before >= LOADGEN_CONN_CONNECTING && before <= LOADGEN_CONN_SUBSCRIBING;
    if (was_setup && !loadgen_conn_in_setup(conn)) {
        self->in_setup--;
        if (now == LOADGEN_CONN_READY)
            self->connected++;
        else
            self->failed++;
    }
    if (before == LOADGEN_CONN_READY && now == LOADGEN_CONN_CLOSED)
        self->closed_by_peer++;
    if ((now == LOADGEN_CONN_FAILED || now == LOADGEN_CONN_CLOSED) &&
        (self->ctx.expect == 0 || conn->received < self->ctx.expect))
        self->dead_incomplete++;
    if (now == LOADGEN_CONN_FAILED || now == LOADGEN_CONN_CLOSED) {
        /* Best effort for a close reply; the socket goes now either way. */
        if (conn->out_len && conn->fd >= 0)
            (void)!send(conn->fd, conn->out, conn->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        s_close(self, conn);
    }
}

/* A socket error (or EOF: error 0) on a slot: logged rate-limited,
   counted, closed. */
static void s_lost(loadgen_subscriber_t *self, loadgen_conn_t *conn, loadgen_conn_state_t before,
                   int error)
{
    if (loadgen_conn_in_setup(conn))
        tg_log_ratelimited(&s_socket_limiter, 1000, "loadgen: connection failed state=%s error=%s",
                           loadgen_conn_state_name(conn->state),
                           error ? strerror(error) : "closed by peer");
    /* A server that drops the TCP connection instead of answering the
       upgrade (lws does, for a subprotocol it lacks) refused the upgrade. */
    loadgen_conn_lost(conn, &self->ctx,
                      conn->state == LOADGEN_CONN_UPGRADING ? LOADGEN_FAIL_UPGRADE
                                                            : LOADGEN_FAIL_CONNECT);
    s_after(self, conn, before);
}

/* Sends what the slot has queued; asks for EPOLLOUT while some is left.
   0, or -1 when the send failed and the slot is closed. */
static int s_flush(loadgen_subscriber_t *self, loadgen_conn_t *conn, uint64_t tag)
{
    while (conn->out_len) {
        ssize_t sent = send(conn->fd, conn->out, conn->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            loadgen_conn_state_t before = conn->state;
            conn->out_len = 0;
            s_lost(self, conn, before, errno);
            return -1;
        }
        memmove(conn->out, conn->out + sent, conn->out_len - (size_t)sent);
        conn->out_len -= (size_t)sent;
    }
    bool want_out = conn->out_len > 0;
    if (want_out != conn->polling_out) {
        struct epoll_event event = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u64 = tag};
        epoll_ctl(self->epoll_fd, EPOLL_CTL_MOD, conn->fd, &event);
        conn->polling_out = want_out;
    }
    return 0;
}

/* TCP is connected: queue the upgrade request and send it. */
static void s_on_connected(loadgen_subscriber_t *self, loadgen_conn_t *conn, uint64_t tag)
{
    loadgen_conn_state_t before = conn->state;
    if (loadgen_conn_start(conn, &self->ctx) != 0) {
        s_after(self, conn, before);
        return;
    }
    (void)s_flush(self, conn, tag);
}

/* Opens the next slot's socket and starts its connect. */
static void s_connect_next(loadgen_subscriber_t *self)
{
    size_t index = self->next++;
    loadgen_conn_t *conn = &self->conns[index];
    const loadgen_url_t *url = &self->args->url;
    conn->state = LOADGEN_CONN_CONNECTING;
    self->in_setup++;
    conn->fd = socket(url->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (conn->fd < 0) {
        s_lost(self, conn, LOADGEN_CONN_CONNECTING, errno);
        return;
    }
    int one = 1;
    setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(conn->fd, (const struct sockaddr *)&url->addr, url->addr_len);
    bool now = rc == 0;
    if (rc != 0 && errno != EINPROGRESS) {
        s_lost(self, conn, LOADGEN_CONN_CONNECTING, errno);
        return;
    }
    struct epoll_event event = {.events = now ? EPOLLIN : EPOLLOUT, .data.u64 = index};
    if (epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event) != 0) {
        s_lost(self, conn, LOADGEN_CONN_CONNECTING, errno);
        return;
    }
    conn->polling_out = !now;
    if (now)
        s_on_connected(self, conn, index);
}

/* Starts connections while the handshake budget allows. */
static void s_connect_more(loadgen_subscriber_t *self)
{
    while (self->next < self->args->conns && self->in_setup < self->args->connect_concurrency)
        s_connect_next(self);
}

/* One read for a readable slot, then its frames. */
static void s_on_readable(loadgen_subscriber_t *self, loadgen_conn_t *conn, uint64_t tag)
{
    loadgen_conn_state_t before = conn->state;
    size_t tail = conn->tail_len;
    size_t want = tail + LOADGEN_SUBSCRIBER_READ_SIZE;
    if (conn->need > want)
        want = conn->need;
    if (want > self->buf_cap) {
        /* A frame larger than the buffer (bounded by --max-message). */
        uint8_t *bigger = realloc(self->buf, want);
        if (!bigger)
            abort();
        self->buf = bigger;
        self->buf_cap = want;
    }
    if (tail)
        memcpy(self->buf, conn->tail, tail);
    ssize_t got = read(conn->fd, self->buf + tail, self->buf_cap - tail);
    if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        s_lost(self, conn, before, got < 0 ? errno : 0);
        return;
    }
    size_t len = tail + (size_t)got;
    size_t consumed = 0;
    int rc = loadgen_conn_feed(conn, &self->ctx, self->buf, len, s_real_us(), &consumed);
    if (rc == 0 && (consumed != len || tail))
        loadgen_conn_keep_tail(conn, self->buf + consumed, len - consumed);
    /* Count the state change first: a failed flush below counts its own. */
    s_after(self, conn, before);
    if (rc == 0 && conn->out_len)
        s_flush(self, conn, tag);
}

static void s_on_event(loadgen_subscriber_t *self, const struct epoll_event *event)
{
    uint64_t tag = event->data.u64;
    loadgen_conn_t *conn = &self->conns[tag];
    if (conn->fd < 0)
        return; /* closed earlier in this batch */
    if (conn->state == LOADGEN_CONN_CONNECTING) {
        int error = 0;
        socklen_t error_len = sizeof(error);
        if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0 || error ||
            !(event->events & EPOLLOUT)) {
            s_lost(self, conn, LOADGEN_CONN_CONNECTING, error);
            return;
        }
        s_on_connected(self, conn, tag);
        return;
    }
    if (event->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        s_on_readable(self, conn, tag);
    if (conn->fd >= 0 && (event->events & EPOLLOUT))
        s_flush(self, conn, tag);
}

static bool s_connect_phase_over(const loadgen_subscriber_t *self)
{
    return self->next == self->args->conns && self->in_setup == 0;
}

int loadgen_subscriber_run(loadgen_subscriber_t *self, int stop_fd)
{
    self->start_us = s_mono_us();
    int64_t deadline = self->start_us + (int64_t)(self->args->timeout_s * 1e6);
    if (stop_fd >= 0) {
        struct epoll_event event = {.events = EPOLLIN, .data.u64 = LOADGEN_SUBSCRIBER_STOP_TAG};
        if (epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, stop_fd, &event) != 0) {
            tg_log_error("loadgen: cannot watch the stop descriptor error=%s", strerror(errno));
            return -1;
        }
    }
    struct epoll_event events[LOADGEN_SUBSCRIBER_EVENTS];
    int rc = 0;
    s_connect_more(self);
    while (true) {
        if (!self->ready_us && s_connect_phase_over(self)) {
            self->ready_us = s_mono_us();
            s_write_ready_file(self);
        }
        if (self->ready_us && self->ctx.expect &&
            self->ctx.complete + self->dead_incomplete >= self->args->conns) {
            self->stopped_by =
                self->dead_incomplete == self->args->conns ? "no_live_connections" : "expect";
            break;
        }
        int64_t now = s_mono_us();
        if (now >= deadline)
            break;
        int64_t wait_ms = (deadline - now + 999) / 1000;
        if (wait_ms > LOADGEN_SUBSCRIBER_MAX_WAIT_MS)
            wait_ms = LOADGEN_SUBSCRIBER_MAX_WAIT_MS;
        int ready = epoll_wait(self->epoll_fd, events, LOADGEN_SUBSCRIBER_EVENTS, (int)wait_ms);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            tg_log_error("loadgen: epoll_wait failed error=%s", strerror(errno));
            rc = -1;
            break;
        }
        bool stop = false;
        for (int i = 0; i < ready; i++) {
            if (events[i].data.u64 == LOADGEN_SUBSCRIBER_STOP_TAG)
                stop = true;
            else
                s_on_event(self, &events[i]);
        }
        if (stop) {
            self->stopped_by = "signal";
            break;
        }
        s_connect_more(self);
    }
    self->end_us = s_mono_us();
    /* Whatever is still in its handshake failed by the deadline; the rest
       get a polite close frame before their sockets go. */
    for (size_t i = 0; i < self->args->conns; i++) {
        loadgen_conn_t *conn = &self->conns[i];
        if (loadgen_conn_in_setup(conn)) {
            loadgen_conn_state_t before = conn->state;
            loadgen_conn_lost(conn, &self->ctx, LOADGEN_FAIL_TIMEOUT);
            s_after(self, conn, before);
        } else if (conn->state == LOADGEN_CONN_READY && conn->fd >= 0) {
            static const uint8_t going_away[2] = {0x03, 0xe8}; /* 1000 */
            conn->out_len = 0;
            loadgen_conn_queue_frame(conn, &self->ctx, LOADGEN_WS_OP_CLOSE, going_away, 2);
            (void)!send(conn->fd, conn->out, conn->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
            s_close(self, conn);
        }
    }
    if (!self->ready_us) {
        self->ready_us = self->end_us;
        s_write_ready_file(self);
    }
    return rc;
}

void loadgen_subscriber_result_json(loadgen_subscriber_t *self, tg_buf_t *out)
{
    const loadgen_conn_ctx_t *ctx = &self->ctx;
    uint64_t expected = (uint64_t)self->args->conns * ctx->expect;
    uint64_t delivered = 0; /* counted messages up to --expect per connection */
    for (size_t i = 0; i < self->args->conns; i++) {
        uint64_t got = self->conns[i].received;
        delivered += ctx->expect && got > ctx->expect ? ctx->expect : got;
    }
    double loss = expected ? (double)(expected - (delivered < expected ? delivered : expected)) /
                                 (double)expected
                           : 0.0;
    double connect_s = (double)(self->ready_us - self->start_us) / 1e6;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu_s = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
                   (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
    const loadgen_histogram_t *h = self->latency;
    char text[2048];
    int n = snprintf(
        text, sizeof(text),
        "{\"conns\":%zu,\"connected\":%zu,\"failed\":%zu,\"connect_s\":%.6f,"
        "\"connect_rate\":%.1f,\"expected\":%llu,\"received\":%llu,\"loss\":%.6f,"
        "\"dupes_or_extra\":%llu,\"first_rx_us\":%lld,\"last_rx_us\":%lld,"
        "\"latency_us\":{\"count\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%lld},"
        "\"closed_by_peer\":%zu,\"cpu_s\":%.3f,\"duration_s\":%.3f,\"stopped_by\":\"%s\","
        "\"failures\":{\"connect\":%llu,\"upgrade\":%llu,\"abort\":%llu,\"error\":%llu,"
        "\"protocol\":%llu,\"timeout\":%llu}}",
        self->args->conns, self->connected, self->failed, connect_s,
        connect_s > 0 ? (double)self->connected / connect_s : 0.0, (unsigned long long)expected,
        (unsigned long long)ctx->received, loss, (unsigned long long)ctx->extra,
        (long long)ctx->first_rx_us, (long long)ctx->last_rx_us,
        (unsigned long long)loadgen_histogram_count(h), loadgen_histogram_percentile(h, 50),
        loadgen_histogram_percentile(h, 90), loadgen_histogram_percentile(h, 99),
        (long long)loadgen_histogram_max(h), self->closed_by_peer, cpu_s,
        (double)(self->end_us - self->start_us) / 1e6, self->stopped_by,
        (unsigned long long)ctx->failures[LOADGEN_FAIL_CONNECT],
        (unsigned long long)ctx->failures[LOADGEN_FAIL_UPGRADE],
        (unsigned long long)ctx->failures[LOADGEN_FAIL_ABORT],
        (unsigned long long)ctx->failures[LOADGEN_FAIL_ERROR],
        (unsigned long long)ctx->failures[LOADGEN_FAIL_PROTOCOL],
        (unsigned long long)ctx->failures[LOADGEN_FAIL_TIMEOUT]);
    tg_buf_append(out, text, (size_t)n);
}
