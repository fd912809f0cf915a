/*  tg_actor: how every service starts, runs and stops (CZMQ's zactor,
    with one start protocol for all of them).

    A service is a class of three functions run on the actor's thread:
      create   builds the state (sockets bound, peers connected) and lists
               what it wants to report (its endpoints, its instance id);
               or returns NULL with an error text;
      run      serves until "$TERM" arrives on the pipe (tg_loop does that);
      destroy  frees the state.
    tg_actor_start() returns only once create has answered: with the
    actor, whose reported values tg_actor_get() reads, or NULL and the
    error text. So a caller (main, a test) never goes on with a half-started
    service, and every service reports a start-up failure the same way.

    Pipe protocol (private to tg_actor.c): after create, the actor sends
    "READY" name value name value ... or "ERROR" text; then "$TERM" from
    tg_actor_destroy stops it. After an ERROR the actor has already ended.
*/
#ifndef TG_ACTOR_H
#define TG_ACTOR_H

#include <czmq.h>

/* What a started actor reports: up to TG_ACTOR_MAX_VALUES name/value pairs. */
#define TG_ACTOR_MAX_VALUES 8
#define TG_ACTOR_NAME_MAX   32
#define TG_ACTOR_VALUE_MAX  256

typedef struct {
    size_t count;
    struct {
        char name[TG_ACTOR_NAME_MAX];
        char value[TG_ACTOR_VALUE_MAX];
    } values[TG_ACTOR_MAX_VALUES];
} tg_actor_ready_t;

/* Adds name=value to what the actor reports (more than
   TG_ACTOR_MAX_VALUES is a programming error). */
void tg_actor_ready_add(tg_actor_ready_t *ready, const char *name, const char *value);

typedef struct {
    const char *name; /* "router", "ingest", ...: the log prefix of start-up errors */
    /* Builds the state on the actor's thread. pipe is borrowed for the
       actor's life; args is the caller's (it stays valid until
       tg_actor_start returns: copy what you keep). Returns the state, or
       NULL with a sentence in error. */
    void *(*create)(zsock_t *pipe, const void *args, tg_actor_ready_t *ready, char *error,
                    size_t error_size);
    /* Serves until $TERM. */
    void (*run)(void *state);
    /* Frees the state and nulls *state_p. */
    void (*destroy)(void **state_p);
} tg_actor_class_t;

typedef struct _tg_actor_t tg_actor_t;

/* Starts an actor of `cls` and waits for its answer. Returns the running
   actor (caller owns it), or NULL with create's error text in error. */
tg_actor_t *tg_actor_start(const tg_actor_class_t *cls, const void *args, char *error,
                           size_t error_size);

/* Sends $TERM, waits for the actor to finish, frees. Safe twice. */
void tg_actor_destroy(tg_actor_t **self_p);

/* A value the actor reported at start, or NULL. Owned by the actor. */
const char *tg_actor_get(const tg_actor_t *self, const char *name);

/* The underlying zactor, to send commands to the actor (tests). Borrowed. */
zactor_t *tg_actor_zactor(tg_actor_t *self);

/* Commands an actor answers on its pipe besides $TERM (tests ask for its
   counters): one frame of at most TG_ACTOR_ANSWER_MAX bytes, the handler's
   `out`; the handler returns how many bytes it wrote. */
#define TG_ACTOR_ANSWER_MAX 4096
typedef size_t(tg_actor_answer_fn)(void *state, void *out, size_t out_size);
typedef struct {
    const char *name; /* the command, e.g. "STATS" */
    tg_actor_answer_fn *fn;
} tg_actor_command_t;

/* Asks the running actor `command` and copies its answer, which must be
   exactly `size` bytes, into out. 0, or -1 (no or another answer). */
int tg_actor_ask(tg_actor_t *self, const char *command, void *out, size_t size);

/* The actor's side (its tg_loop command handler): answers the command in
   *msg_p from `commands` (count entries) on pipe, or logs an unknown one as
   "<who>: unknown_command" and answers an empty frame (the asker gets -1).
   Takes ownership of *msg_p and nulls it. */
void tg_actor_answer(zsock_t *pipe, zmsg_t **msg_p, const tg_actor_command_t *commands,
                     size_t count, void *state, const char *who);

#endif
