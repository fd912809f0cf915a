/*  tg_actor: see tg_actor.h. */
#include "tg_actor.h"

#include <openssl/crypto.h>

#include "tg_alloc.h"
#include "tg_log.h"

struct _tg_actor_t {
    zactor_t *actor;        /* the running thread */
    tg_actor_ready_t ready; /* what it reported at start */
};

typedef struct {
    const tg_actor_class_t *cls;
    const void *args;
} s_start_t;

void tg_actor_ready_add(tg_actor_ready_t *ready, const char *name, const char *value)
{
    tg_check(ready->count < TG_ACTOR_MAX_VALUES);
    snprintf(ready->values[ready->count].name, TG_ACTOR_NAME_MAX, "%s", name);
    snprintf(ready->values[ready->count].value, TG_ACTOR_VALUE_MAX, "%s", value);
    ready->count++;
}

/* The thread: create, report, run, destroy. */
static void s_actor(zsock_t *pipe, void *arg)
{
    const s_start_t *start = arg;
    const tg_actor_class_t *cls = start->cls;
    tg_actor_ready_t ready;
    memset(&ready, 0, sizeof ready);
    char error[512] = "";
    void *state = cls->create(pipe, start->args, &ready, error, sizeof error);
    zsock_signal(pipe, 0);
    if (!state) {
        if (!error[0])
            snprintf(error, sizeof error, "%s: could not start", cls->name);
        zstr_sendx(pipe, "ERROR", error, NULL);
        /* zactor_destroy sends $TERM and waits for our end signal: end now;
           the $TERM is left unread in the pipe. */
        OPENSSL_thread_stop();
        return;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "READY");
    for (size_t i = 0; i < ready.count; i++) {
        zmsg_addstr(msg, ready.values[i].name);
        zmsg_addstr(msg, ready.values[i].value);
    }
    zmsg_send(&msg, pipe);
    cls->run(state);
    cls->destroy(&state);
    /* OpenSSL's per-thread state (HMAC, hashing) is freed before zactor
       tells the caller we are done: left to the thread-exit destructor it
       races the main thread's atexit OPENSSL_cleanup. */
    OPENSSL_thread_stop();
}

tg_actor_t *tg_actor_start(const tg_actor_class_t *cls, const void *args, char *error,
                           size_t error_size)
{
    tg_check(cls && cls->create && cls->run && cls->destroy);
    tg_actor_t *self = tg_new(tg_actor_t);
    s_start_t start = {cls, args};
    self->actor = zactor_new(s_actor, &start);
    if (!self->actor) {
        snprintf(error, error_size, "%s: cannot start its thread", cls->name);
        free(self);
        return NULL;
    }
    /* The answer always comes: create returns on every path. */
    zmsg_t *answer = zmsg_recv(self->actor);
    char *status = answer ? zmsg_popstr(answer) : NULL;
    bool ready = status && streq(status, "READY");
    if (ready) {
        while (zmsg_size(answer) >= 2 && self->ready.count < TG_ACTOR_MAX_VALUES) {
            char *name = zmsg_popstr(answer);
            char *value = zmsg_popstr(answer);
            tg_actor_ready_add(&self->ready, name ? name : "", value ? value : "");
            free(name);
            free(value);
        }
    } else {
        char *text = answer ? zmsg_popstr(answer) : NULL;
        snprintf(error, error_size, "%s", text ? text : "the actor ended without an answer");
        free(text);
    }
    free(status);
    zmsg_destroy(&answer);
    if (!ready)
        tg_actor_destroy(&self);
    return self;
}

void tg_actor_destroy(tg_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tg_actor_t *self = *self_p;
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}

const char *tg_actor_get(const tg_actor_t *self, const char *name)
{
    for (size_t i = 0; i < self->ready.count; i++)
        if (streq(self->ready.values[i].name, name))
            return self->ready.values[i].value;
    return NULL;
}

zactor_t *tg_actor_zactor(tg_actor_t *self)
{
    return self->actor;
}

int tg_actor_ask(tg_actor_t *self, const char *command, void *out, size_t size)
{
    if (zstr_send(self->actor, command) == -1)
        return -1;
    zframe_t *frame = zframe_recv(self->actor);
    int rc = -1;
    if (frame && zframe_size(frame) == size) {
        memcpy(out, zframe_data(frame), size);
        rc = 0;
    }
    zframe_destroy(&frame);
    return rc;
}

void tg_actor_answer(zsock_t *pipe, zmsg_t **msg_p, const tg_actor_command_t *commands,
                     size_t count, void *state, const char *who)
{
    char *command = zmsg_popstr(*msg_p);
    zmsg_destroy(msg_p);
    for (size_t i = 0; command && i < count; i++) {
        if (!streq(command, commands[i].name))
            continue;
        unsigned char out[TG_ACTOR_ANSWER_MAX];
        size_t size = commands[i].fn(state, out, sizeof out);
        tg_check(size <= sizeof out);
        zframe_t *frame = zframe_new(out, size);
        zframe_send(&frame, pipe, 0);
        free(command);
        return;
    }
    tg_log_error("%s: unknown_command command=%s", who, command ? command : "(none)");
    free(command);
    //  An empty answer, so that whoever asked is not left waiting.
    zframe_t *empty = zframe_new(NULL, 0);
    zframe_send(&empty, pipe, 0);
}
