/*  tg_loop: the one event loop of the ZeroMQ services (ingest, router,
    persist), on zmq_poll: readers for ZeroMQ sockets and for plain file
    descriptors (libpq's socket), periodic timers, and the actor pipe.

    The loop reads the clocks once per wake-up (tg_clock_read) and passes
    that tg_now_t to every handler it calls in the turn: handlers never read
    a clock themselves. It stops when "$TERM" arrives on the pipe (or the
    pipe's peer is gone), or when a handler calls tg_loop_stop().

    Fairness is the handlers' job: a socket handler serves at most a batch
    of messages per call, so one busy socket cannot starve the others or
    the timers. Sockets are polled level-triggered, so what a handler
    leaves is served on the next turn.

    Bounds: TG_LOOP_MAX_ITEMS readers, TG_LOOP_MAX_TIMERS timers (adding
    more is a programming error: tg_check aborts).
*/
#ifndef TG_LOOP_H
#define TG_LOOP_H

#include <czmq.h>
#include <stdbool.h>

#include "tg_actor.h"
#include "tg_clock.h"

#define TG_LOOP_MAX_ITEMS  32
#define TG_LOOP_MAX_TIMERS 8

typedef struct _tg_loop_t tg_loop_t;

/* A ZeroMQ socket is readable. */
typedef void(tg_loop_socket_fn)(void *arg, zsock_t *sock, tg_now_t now);
/* A file descriptor is ready: revents has ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR. */
typedef void(tg_loop_fd_fn)(void *arg, int fd, short revents, tg_now_t now);
/* A timer is due. */
typedef void(tg_loop_timer_fn)(void *arg, tg_now_t now);

/* A loop serving `pipe` (borrowed; may be NULL for a loop without an
   actor, as in tests). Caller owns the result. */
tg_loop_t *tg_loop_new(zsock_t *pipe);

/* Destroys the loop (not the sockets it served). Safe twice. */
void tg_loop_destroy(tg_loop_t **self_p);

/* Calls fn whenever sock (borrowed; it must outlive its registration) is
   readable. */
void tg_loop_add_socket(tg_loop_t *self, zsock_t *sock, tg_loop_socket_fn *fn, void *arg);

/* Calls fn whenever fd is ready for `events` (ZMQ_POLLIN, ZMQ_POLLOUT).
   An fd is registered at most once; tg_loop_set_fd_events changes what it
   waits for (libpq wants POLLOUT only while a query is being flushed). */
void tg_loop_add_fd(tg_loop_t *self, int fd, short events, tg_loop_fd_fn *fn, void *arg);
void tg_loop_set_fd_events(tg_loop_t *self, int fd, short events);

/* Stops serving sock / fd; safe from inside a handler, and for one that
   was never added. */
void tg_loop_remove_socket(tg_loop_t *self, zsock_t *sock);
void tg_loop_remove_fd(tg_loop_t *self, int fd);

/* Calls fn every interval_ms (> 0), first after one interval from the
   first turn of tg_loop_run. */
void tg_loop_add_timer(tg_loop_t *self, int64_t interval_ms, tg_loop_timer_fn *fn, void *arg);

/* A one-shot deadline, disarmed until tg_loop_arm: for work that is due at
   a time only the handler knows (libpq's reconnect backoff), so an idle
   loop sleeps until then instead of polling. Returns its id. */
int tg_loop_add_deadline(tg_loop_t *self, tg_loop_timer_fn *fn, void *arg);

/* Makes deadline `id` fire once at monotonic at_ms (now or past: on the
   next turn), replacing any earlier arming; tg_loop_disarm cancels it. A
   deadline is disarmed before its handler runs, which may arm it again. */
void tg_loop_arm(tg_loop_t *self, int id, int64_t at_ms);
void tg_loop_disarm(tg_loop_t *self, int id);

/* The questions the actor answers on its pipe besides $TERM (tg_actor_ask;
   tests ask an actor for its counters): `count` commands, each handler
   called with `state`; `who` prefixes the log line of an unknown command.
   The table is borrowed (a static one). Without it, every question gets
   the empty answer (tg_actor_answer). */
void tg_loop_set_commands(tg_loop_t *self, const tg_actor_command_t *commands, size_t count,
                          void *state, const char *who);

/* Runs until $TERM, a closed pipe, or tg_loop_stop. Returns 0. */
int tg_loop_run(tg_loop_t *self);

/* Makes tg_loop_run return after the current turn. */
void tg_loop_stop(tg_loop_t *self);

/* Turns the loop has made (tests observe that an idle loop sleeps). */
uint64_t tg_loop_turns(const tg_loop_t *self);

#endif
