/*  ctl_request: one request to a gateway peer and how its outcome becomes
    telegraphy-ctl's exit code and messages. A fake peer (a ROUTER socket
    in an actor) answers with the command each test asks for. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

#include "ctl_request.h"

/* What the fake peer answers to every request: a command, or 0 for
   nothing at all. */
static tg_command_t s_answer;

/* Binds a ROUTER on a free port, reports the port, then answers each
   request with s_answer carrying the request's req, until $TERM. */
static void s_peer(zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    int port = router ? zsock_bind(router, "tcp://127.0.0.1:*") : -1;
    zsock_signal(pipe, 0);
    zstr_sendf(pipe, "%d", port);
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    while (port > 0) {
        void *which = zpoller_wait(poller, -1);
        if (which != router)
            break; /* $TERM or interrupted */
        zmsg_t *msg = zmsg_recv(router);
        zframe_t *routing_id = zmsg_pop(msg);
        tg_envelope_t *request = tg_envelope_decode(&msg, NULL);
        if (request && s_answer) {
            tg_envelope_t *reply = tg_envelope_new(s_answer);
            reply->req = request->req;
            if (s_answer == TG_CMD_ACCEPTED)
                reply->pub_id = 42;
            if (s_answer == TG_CMD_REJECTED) {
                reply->error = strdup("telegraphy.error.no_such_type");
                reply->message = strdup("unknown event type");
            }
            tg_envelope_send_to(reply, router, routing_id);
            tg_envelope_destroy(&reply);
        }
        tg_envelope_destroy(&request);
        zframe_destroy(&routing_id);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&router);
}

static zactor_t *s_actor;
static ctl_context_t s_ctx;

/* Starts the fake peer answering `answer`; the context sends to it as
   `peer` and to a closed port as the other peer. */
static void s_start(tg_command_t answer, ctl_peer_t peer, uint32_t timeout_ms)
{
    s_answer = answer;
    s_actor = zactor_new(s_peer, NULL);
    cr_assert_not_null(s_actor);
    char *port = zstr_recv(s_actor);
    cr_assert(port && atoi(port) > 0);
    memset(&s_ctx, 0, sizeof s_ctx);
    char *live = peer == CTL_PEER_ROUTER ? s_ctx.cfg.control : s_ctx.cfg.ingest_ack;
    char *dead = peer == CTL_PEER_ROUTER ? s_ctx.cfg.ingest_ack : s_ctx.cfg.control;
    snprintf(live, sizeof s_ctx.cfg.control, "tcp://127.0.0.1:%s", port);
    snprintf(dead, sizeof s_ctx.cfg.control, "tcp://127.0.0.1:1");
    s_ctx.cfg.timeout_ms = timeout_ms;
    zstr_free(&port);
}

static tg_envelope_t *s_reply;

static void s_stop(void)
{
    tg_envelope_destroy(&s_reply);
    zactor_destroy(&s_actor);
}

static void s_redirect(void)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
}

TestSuite(ctl_request, .init = s_redirect, .fini = s_stop);

/* Asks peer (a STATUS request: the peer answers anything the same way)
   for `expected`, as command `what`; the answer, if handed over, is kept
   in s_reply and must carry the request's req. Returns the exit code. */
static int s_ask(ctl_peer_t peer, const char *what, tg_command_t expected)
{
    tg_envelope_t *request = tg_envelope_new(TG_CMD_STATUS);
    int rc = ctl_request_ask(&s_ctx, peer, what, request, expected, &s_reply);
    if (s_reply)
        cr_assert_eq(s_reply->req, request->req);
    tg_envelope_destroy(&request);
    fflush(stdout);
    return rc;
}

/* The expected answer is handed to the caller with exit code 0, and
   nothing is printed. */
Test(ctl_request, expected_answer_is_handed_over)
{
    s_start(TG_CMD_ACCEPTED, CTL_PEER_INGEST, 5000);
    cr_assert_eq(s_ask(CTL_PEER_INGEST, "publish", TG_CMD_ACCEPTED), CTL_EXIT_OK);
    cr_assert_not_null(s_reply);
    cr_assert_eq(s_reply->command, TG_CMD_ACCEPTED);
    cr_assert_eq(s_reply->pub_id, 42);
    cr_assert_stdout_eq_str("");
    cr_assert_stderr_eq_str("");
}

/* A refusal exits 1 with the peer's error and message on stderr. */
Test(ctl_request, refusal_exits_one_with_the_reason)
{
    s_start(TG_CMD_REJECTED, CTL_PEER_INGEST, 5000);
    cr_assert_eq(s_ask(CTL_PEER_INGEST, "publish", TG_CMD_ACCEPTED), CTL_EXIT_REFUSED);
    cr_assert_null(s_reply);
    cr_assert_stdout_eq_str("");
    cr_assert_stderr_eq_str(
        "telegraphy-ctl: publish refused: telegraphy.error.no_such_type: unknown event type\n");
}

/* With --json a refusal is also printed as JSON on stdout. */
Test(ctl_request, refusal_is_json_on_stdout_with_json)
{
    s_start(TG_CMD_REJECTED, CTL_PEER_INGEST, 5000);
    s_ctx.json = true;
    cr_assert_eq(s_ask(CTL_PEER_INGEST, "register", TG_CMD_ACCEPTED), CTL_EXIT_REFUSED);
    cr_assert_stdout_eq_str(
        "{\"error\":\"telegraphy.error.no_such_type\",\"message\":\"unknown event type\"}\n");
}

/* An answer of another kind exits 3, naming it and the peer. */
Test(ctl_request, answer_of_another_kind_exits_three)
{
    s_start(TG_CMD_ACCEPTED, CTL_PEER_ROUTER, 5000);
    cr_assert_eq(s_ask(CTL_PEER_ROUTER, "status", TG_CMD_STATUS_REPLY), CTL_EXIT_UNREACHABLE);
    cr_assert_null(s_reply);
    cr_assert_stderr_eq_str("telegraphy-ctl: unexpected answer ACCEPTED from router\n");
}

/* No answer within the timeout exits 3, naming the peer, its endpoint
   and the timeout. */
Test(ctl_request, silence_exits_three_after_the_timeout)
{
    s_start(0, CTL_PEER_ROUTER, 100);
    int64_t start = zclock_mono();
    cr_assert_eq(s_ask(CTL_PEER_ROUTER, "status", TG_CMD_STATUS_REPLY), CTL_EXIT_UNREACHABLE);
    cr_assert_geq(zclock_mono() - start, 100);
    cr_assert_null(s_reply);
    char expected[512];
    snprintf(expected, sizeof expected,
             "telegraphy-ctl: no answer from router at %s within 100 ms\n", s_ctx.cfg.control);
    cr_assert_stderr_eq_str(expected);
}
