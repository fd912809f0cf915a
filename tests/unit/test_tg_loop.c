/*  tg_loop: the services' one event loop. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "tg_loop.h"

typedef struct {
    tg_loop_t *loop;
    int messages;
    int timer_calls;
    int64_t first_now_ms;
    int64_t last_now_ms;
    int fd_calls;
} s_state_t;

static void s_on_socket(void *arg, zsock_t *sock, tg_now_t now)
{
    s_state_t *state = arg;
    char *text = zstr_recv(sock);
    if (text)
        state->messages++;
    if (!state->first_now_ms)
        state->first_now_ms = now.mono_ms;
    state->last_now_ms = now.mono_ms;
    free(text);
    if (state->messages == 3)
        tg_loop_stop(state->loop);
}

/* Readable sockets are served and the loop stops when asked; handlers get
   the turn's clock. */
Test(tg_loop, serves_sockets_until_stopped)
{
    zsock_t *in = zsock_new_pull("inproc://loop-test-1");
    zsock_t *out = zsock_new_push("inproc://loop-test-1");
    s_state_t state = {0};
    state.loop = tg_loop_new(NULL);
    tg_loop_add_socket(state.loop, in, s_on_socket, &state);
    for (int i = 0; i < 3; i++)
        zstr_send(out, "x");
    tg_loop_run(state.loop);
    cr_assert_eq(state.messages, 3);
    cr_assert(state.first_now_ms > 0 || state.first_now_ms == 0);
    cr_assert_geq(state.last_now_ms, state.first_now_ms);
    tg_loop_destroy(&state.loop);
    tg_loop_destroy(&state.loop); /* safe twice */
    zsock_destroy(&out);
    zsock_destroy(&in);
}

static void s_on_timer(void *arg, tg_now_t now)
{
    s_state_t *state = arg;
    if (state->timer_calls++ == 0)
        state->first_now_ms = now.mono_ms;
    state->last_now_ms = now.mono_ms;
    if (state->timer_calls == 3)
        tg_loop_stop(state->loop);
}

/* A timer fires at its interval, not before; an idle loop sleeps between
   firings (a handful of turns, not a spin). */
Test(tg_loop, timer_fires_at_interval_and_loop_sleeps_between)
{
    s_state_t state = {0};
    state.loop = tg_loop_new(NULL);
    tg_loop_add_timer(state.loop, 20, s_on_timer, &state);
    tg_loop_run(state.loop);
    cr_assert_eq(state.timer_calls, 3);
    cr_assert_geq(state.last_now_ms - state.first_now_ms, 40);
    cr_assert_leq(tg_loop_turns(state.loop), 10, "turns=%llu",
                  (unsigned long long)tg_loop_turns(state.loop));
    tg_loop_destroy(&state.loop);
}

static void s_on_fd(void *arg, int fd, short revents, tg_now_t now)
{
    (void)now;
    s_state_t *state = arg;
    char byte;
    if (revents & ZMQ_POLLIN)
        cr_assert_eq(read(fd, &byte, 1), 1);
    state->fd_calls++;
    tg_loop_remove_fd(state->loop, fd);
    tg_loop_stop(state->loop);
}

/* Plain file descriptors (libpq's socket) are served like sockets. */
Test(tg_loop, serves_plain_file_descriptors)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    s_state_t state = {0};
    state.loop = tg_loop_new(NULL);
    tg_loop_add_fd(state.loop, fds[0], ZMQ_POLLIN, s_on_fd, &state);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    tg_loop_run(state.loop);
    cr_assert_eq(state.fd_calls, 1);
    tg_loop_destroy(&state.loop);
    close(fds[0]);
    close(fds[1]);
}

static void s_looping_actor(zsock_t *pipe, void *arg)
{
    (void)arg;
    tg_loop_t *loop = tg_loop_new(pipe);
    zsock_signal(pipe, 0);
    tg_loop_run(loop);
    tg_loop_destroy(&loop);
}

/* $TERM on the pipe ends the loop (zactor_destroy returns). */
Test(tg_loop, term_on_the_pipe_stops_the_loop)
{
    zactor_t *actor = zactor_new(s_looping_actor, NULL);
    cr_assert(actor);
    zactor_destroy(&actor);
    cr_assert_null(actor);
}

typedef struct {
    tg_loop_t *loop;
    int id;
    int calls;
    int64_t armed_at;
    int64_t fired_at;
} s_deadline_t;

static void s_on_deadline(void *arg, tg_now_t now)
{
    s_deadline_t *state = arg;
    state->calls++;
    state->fired_at = now.mono_ms;
    if (state->calls == 1)
        tg_loop_arm(state->loop, state->id, now.mono_ms + 30); /* re-armed from its handler */
    else
        tg_loop_stop(state->loop);
}

static void s_arm_soon(void *arg, tg_now_t now)
{
    s_deadline_t *state = arg;
    if (state->armed_at)
        return;
    state->armed_at = now.mono_ms;
    tg_loop_arm(state->loop, state->id, now.mono_ms + 20);
}

/* A deadline sleeps until armed, fires once at its time, and may be armed
   again from its own handler; a disarmed one never fires. */
Test(tg_loop, deadline_fires_once_when_armed_and_can_rearm)
{
    s_deadline_t state = {0};
    state.loop = tg_loop_new(NULL);
    state.id = tg_loop_add_deadline(state.loop, s_on_deadline, &state);
    s_deadline_t never = {0};
    never.loop = state.loop;
    never.id = tg_loop_add_deadline(state.loop, s_on_deadline, &never);
    tg_loop_arm(state.loop, never.id, 0);
    tg_loop_disarm(state.loop, never.id);
    tg_loop_add_timer(state.loop, 5, s_arm_soon, &state);
    tg_loop_run(state.loop);
    cr_assert_eq(state.calls, 2);
    cr_assert_eq(never.calls, 0);
    cr_assert_geq(state.fired_at - state.armed_at, 20 + 30);
    tg_loop_destroy(&state.loop);
}
