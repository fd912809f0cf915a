/*  tg_loop: see tg_loop.h. */
#include "tg_loop.h"

#include <errno.h>

#include "tg_alloc.h"
#include "tg_log.h"

typedef struct {
    zsock_t *sock; /* borrowed; NULL for an fd item */
    int fd;        /* the fd of an fd item */
    short events;  /* what we wait for */
    tg_loop_socket_fn *on_socket;
    tg_loop_fd_fn *on_fd;
    void *arg;
    bool removed; /* removed during a turn: compacted at its end */
} s_item_t;

typedef struct {
    int64_t interval_ms; /* periodic timers: > 0; deadlines: 0 */
    int64_t next_ms;     /* monotonic time it is due, valid while armed */
    bool armed;          /* next_ms is set (periodic: from the first turn on) */
    tg_loop_timer_fn *fn;
    void *arg;
} s_timer_t;

struct _tg_loop_t {
    zsock_t *pipe;                      /* borrowed: the actor's pipe, or NULL */
    const tg_actor_command_t *commands; /* borrowed: questions answered on the pipe */
    size_t command_count;
    void *command_state;               /* the handlers' state */
    const char *who;                   /* borrowed: log prefix of an unknown command */
    s_item_t items[TG_LOOP_MAX_ITEMS]; /* readers, in the order added */
    size_t item_count;
    s_timer_t timers[TG_LOOP_MAX_TIMERS];
    size_t timer_count;
    bool stopped;   /* $TERM, pipe gone, or tg_loop_stop */
    uint64_t turns; /* wake-ups so far */
};

tg_loop_t *tg_loop_new(zsock_t *pipe)
{
    tg_loop_t *self = tg_new(tg_loop_t);
    self->pipe = pipe;
    return self;
}

void tg_loop_destroy(tg_loop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static s_item_t *s_item_add(tg_loop_t *self)
{
    tg_check(self->item_count < TG_LOOP_MAX_ITEMS);
    s_item_t *item = &self->items[self->item_count++];
    memset(item, 0, sizeof *item);
    item->fd = -1;
    return item;
}

void tg_loop_add_socket(tg_loop_t *self, zsock_t *sock, tg_loop_socket_fn *fn, void *arg)
{
    tg_check(sock && fn);
    s_item_t *item = s_item_add(self);
    item->sock = sock;
    item->events = ZMQ_POLLIN;
    item->on_socket = fn;
    item->arg = arg;
}

void tg_loop_add_fd(tg_loop_t *self, int fd, short events, tg_loop_fd_fn *fn, void *arg)
{
    tg_check(fd >= 0 && fn);
    s_item_t *item = s_item_add(self);
    item->fd = fd;
    item->events = events;
    item->on_fd = fn;
    item->arg = arg;
}

void tg_loop_set_fd_events(tg_loop_t *self, int fd, short events)
{
    for (size_t i = 0; i < self->item_count; i++)
        if (!self->items[i].sock && self->items[i].fd == fd && !self->items[i].removed)
            self->items[i].events = events;
}

void tg_loop_remove_socket(tg_loop_t *self, zsock_t *sock)
{
    for (size_t i = 0; i < self->item_count; i++)
        if (self->items[i].sock == sock)
            self->items[i].removed = true;
}

void tg_loop_remove_fd(tg_loop_t *self, int fd)
{
    for (size_t i = 0; i < self->item_count; i++)
        if (!self->items[i].sock && self->items[i].fd == fd)
            self->items[i].removed = true;
}

void tg_loop_add_timer(tg_loop_t *self, int64_t interval_ms, tg_loop_timer_fn *fn, void *arg)
{
    tg_check(interval_ms > 0 && fn && self->timer_count < TG_LOOP_MAX_TIMERS);
    s_timer_t *timer = &self->timers[self->timer_count++];
    memset(timer, 0, sizeof *timer);
    timer->interval_ms = interval_ms;
    timer->fn = fn;
    timer->arg = arg;
}

int tg_loop_add_deadline(tg_loop_t *self, tg_loop_timer_fn *fn, void *arg)
{
    tg_check(fn && self->timer_count < TG_LOOP_MAX_TIMERS);
    s_timer_t *timer = &self->timers[self->timer_count];
    memset(timer, 0, sizeof *timer);
    timer->fn = fn;
    timer->arg = arg;
    return (int)self->timer_count++;
}

void tg_loop_arm(tg_loop_t *self, int id, int64_t at_ms)
{
    tg_check(id >= 0 && (size_t)id < self->timer_count && self->timers[id].interval_ms == 0);
    self->timers[id].next_ms = at_ms;
    self->timers[id].armed = true;
}

void tg_loop_disarm(tg_loop_t *self, int id)
{
    tg_check(id >= 0 && (size_t)id < self->timer_count && self->timers[id].interval_ms == 0);
    self->timers[id].armed = false;
}

void tg_loop_set_commands(tg_loop_t *self, const tg_actor_command_t *commands, size_t count,
                          void *state, const char *who)
{
    self->commands = commands;
    self->command_count = count;
    self->command_state = state;
    self->who = who;
}

void tg_loop_stop(tg_loop_t *self)
{
    self->stopped = true;
}

uint64_t tg_loop_turns(const tg_loop_t *self)
{
    return self->turns;
}

/* One message from the pipe: $TERM stops, anything else goes to the
   command handler (or is logged and dropped). */
static void s_serve_pipe(tg_loop_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg) {
        /* EAGAIN / EINTR: nothing after all; anything else: the caller is gone. */
        if (zmq_errno() != EINTR && zmq_errno() != EAGAIN)
            self->stopped = true;
        return;
    }
    zframe_t *first = zmsg_first(msg);
    if (first && zframe_streq(first, "$TERM")) {
        self->stopped = true;
        zmsg_destroy(&msg);
        return;
    }
    tg_actor_answer(self->pipe, &msg, self->commands, self->command_count, self->command_state,
                    self->who ? self->who : "loop");
}

/* Milliseconds until the next timer is due, or -1 (wait forever). */
static long s_timeout(const tg_loop_t *self, int64_t now_ms)
{
    long timeout = -1;
    for (size_t i = 0; i < self->timer_count; i++) {
        if (!self->timers[i].armed)
            continue;
        int64_t left = self->timers[i].next_ms - now_ms;
        if (left < 0)
            left = 0;
        if (timeout == -1 || left < timeout)
            timeout = (long)left;
    }
    return timeout;
}

static void s_compact(tg_loop_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->item_count; i++)
        if (!self->items[i].removed)
            self->items[kept++] = self->items[i];
    self->item_count = kept;
}

int tg_loop_run(tg_loop_t *self)
{
    tg_now_t now = tg_clock_read();
    for (size_t i = 0; i < self->timer_count; i++)
        if (!self->timers[i].armed && self->timers[i].interval_ms > 0) {
            self->timers[i].next_ms = now.mono_ms + self->timers[i].interval_ms;
            self->timers[i].armed = true;
        }
    while (!self->stopped) {
        zmq_pollitem_t polled[TG_LOOP_MAX_ITEMS + 1];
        size_t count = 0;
        if (self->pipe)
            polled[count++] = (zmq_pollitem_t){zsock_resolve(self->pipe), 0, ZMQ_POLLIN, 0};
        size_t first_item = count;
        size_t items = self->item_count;
        for (size_t i = 0; i < items; i++) {
            s_item_t *item = &self->items[i];
            polled[count++] = (zmq_pollitem_t){item->sock ? zsock_resolve(item->sock) : NULL,
                                               item->sock ? 0 : item->fd, item->events, 0};
        }
        int rc = zmq_poll(polled, (int)count, s_timeout(self, now.mono_ms));
        now = tg_clock_read();
        self->turns++;
        if (rc == -1) {
            if (zmq_errno() == ETERM)
                break;
            if (zmq_errno() != EINTR)
                tg_log_error("loop: poll failed error=\"%s\"", zmq_strerror(zmq_errno()));
            continue;
        }
        if (self->pipe && (polled[0].revents & ZMQ_POLLIN))
            s_serve_pipe(self);
        for (size_t i = 0; i < items && !self->stopped; i++) {
            s_item_t *item = &self->items[i];
            short revents = polled[first_item + i].revents;
            if (!revents || item->removed)
                continue;
            if (item->sock)
                item->on_socket(item->arg, item->sock, now);
            else
                item->on_fd(item->arg, item->fd, revents, now);
        }
        s_compact(self);
        for (size_t i = 0; i < self->timer_count && !self->stopped; i++) {
            s_timer_t *timer = &self->timers[i];
            if (!timer->armed || now.mono_ms < timer->next_ms)
                continue;
            if (timer->interval_ms > 0)
                timer->next_ms = now.mono_ms + timer->interval_ms;
            else
                timer->armed = false; /* a deadline fires once; the handler may re-arm it */
            timer->fn(timer->arg, now);
        }
    }
    return 0;
}
