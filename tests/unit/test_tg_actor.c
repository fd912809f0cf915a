/*  tg_actor: the one start protocol of the services. */
#include <criterion/criterion.h>

#include "tg_actor.h"
#include "tg_loop.h"
#include "tg_socket.h"

typedef struct {
    zsock_t *pull;
    tg_loop_t *loop;
} s_echo_t;

static void *s_create(zsock_t *pipe, const void *args, tg_actor_ready_t *ready, char *error,
                      size_t error_size)
{
    const char *endpoint = args;
    char resolved[256];
    tg_socket_options_t options = {0};
    zsock_t *pull =
        tg_socket_bind(ZMQ_PULL, endpoint, &options, resolved, sizeof resolved, error, error_size);
    if (!pull)
        return NULL;
    s_echo_t *self = calloc(1, sizeof *self);
    self->pull = pull;
    self->loop = tg_loop_new(pipe);
    tg_actor_ready_add(ready, "endpoint", resolved);
    tg_actor_ready_add(ready, "instance", "test-1");
    return self;
}

static size_t s_answer_port(void *state, void *out, size_t out_size)
{
    (void)state;
    const char answer[] = "forty-two";
    cr_assert_geq(out_size, sizeof answer);
    memcpy(out, answer, sizeof answer);
    return sizeof answer;
}

static const tg_actor_command_t s_commands[] = {{"PORT", s_answer_port}};

static void s_run(void *state)
{
    s_echo_t *self = state;
    tg_loop_set_commands(self->loop, s_commands, 1, self, "test");
    tg_loop_run(self->loop);
}

static void s_destroy(void **state_p)
{
    s_echo_t *self = *state_p;
    tg_loop_destroy(&self->loop);
    zsock_destroy(&self->pull);
    free(self);
    *state_p = NULL;
}

static const tg_actor_class_t s_class = {"test", s_create, s_run, s_destroy};

/* A started actor reports its endpoints (the port resolved) before the
   caller goes on, and stops on destroy. */
Test(tg_actor, start_reports_endpoints_then_stops_on_destroy)
{
    char error[256] = "";
    tg_actor_t *actor = tg_actor_start(&s_class, "tcp://127.0.0.1:*", error, sizeof error);
    cr_assert(actor, "%s", error);
    const char *endpoint = tg_actor_get(actor, "endpoint");
    cr_assert(endpoint);
    cr_assert_eq(strncmp(endpoint, "tcp://127.0.0.1:", 16), 0, "%s", endpoint);
    cr_assert_str_neq(endpoint, "tcp://127.0.0.1:*");
    cr_assert_str_eq(tg_actor_get(actor, "instance"), "test-1");
    cr_assert_null(tg_actor_get(actor, "nothing"));
    tg_actor_destroy(&actor);
    cr_assert_null(actor);
    tg_actor_destroy(&actor);
}

/* A start-up failure comes back as NULL and create's sentence, naming the
   endpoint. */
Test(tg_actor, failed_start_returns_the_error_text)
{
    char error[256] = "";
    tg_actor_t *actor = tg_actor_start(&s_class, "tcp://256.0.0.1:1", error, sizeof error);
    cr_assert_null(actor);
    cr_assert(strstr(error, "tcp://256.0.0.1:1"), "%s", error);
}

/* A command from the table is answered with the handler's bytes; an
   answer of another size is refused by the asker; the actor goes on. */
Test(tg_actor, ask_gets_the_commands_answer)
{
    char error[256] = "";
    tg_actor_t *actor = tg_actor_start(&s_class, "tcp://127.0.0.1:*", error, sizeof error);
    cr_assert(actor, "%s", error);
    char answer[10];
    cr_assert_eq(tg_actor_ask(actor, "PORT", answer, sizeof answer), 0);
    cr_assert_str_eq(answer, "forty-two");
    char wrong[4];
    cr_assert_eq(tg_actor_ask(actor, "PORT", wrong, sizeof wrong), -1);
    cr_assert_eq(tg_actor_ask(actor, "NOTHING", answer, sizeof answer), -1);
    cr_assert_eq(tg_actor_ask(actor, "PORT", answer, sizeof answer), 0);
    tg_actor_destroy(&actor);
}
