/*  ctl_request: one request and its answer, see ctl_request.h. */
#include "ctl_request.h"

#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "tg_clock.h"

//  A request id for this run, from the wall clock now_us: ids only need to
//  tell our replies apart on a socket nobody else uses, but a varying one
//  makes logs easier to match.
static uint64_t s_new_req(int64_t now_us)
{
    uint64_t req = ((uint64_t)now_us ^ ((uint64_t)getpid() << 20)) & 0xFFFFFFFFu;
    return req ? req : 1;
}

int ctl_request_call(const char *endpoint, tg_envelope_t *request, uint32_t timeout_ms,
                     tg_envelope_t **reply_p)
{
    assert(endpoint && request && reply_p);
    *reply_p = NULL;
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return -1;
    zsock_set_linger(dealer, 0);
    zpoller_t *poller = NULL;
    int rc = -1;
    if (zsock_connect(dealer, "%s", endpoint) == -1)
        goto done;
    //  The wait below is a loop: it reads the clock once per wake-up.
    tg_now_t now = tg_clock_read();
    if (request->req == 0)
        request->req = s_new_req(now.wall_us);
    //  The DEALER queues the request until the connection is up.
    if (tg_envelope_send(request, dealer) != 0)
        goto done;
    poller = zpoller_new(dealer, NULL);
    int64_t deadline = now.mono_ms + timeout_ms;
    while (true) {
        int64_t left = deadline - tg_clock_read().mono_ms;
        if (left <= 0)
            break;
        if (!zpoller_wait(poller, (int)left)) {
            if (zpoller_terminated(poller))
                break;
            continue;
        }
        zmsg_t *msg = zmsg_recv(dealer);
        tg_envelope_t *reply = tg_envelope_decode(&msg, NULL);
        if (reply && reply->req == request->req) {
            *reply_p = reply;
            rc = 0;
            break;
        }
        tg_envelope_destroy(&reply); //  undecodable or not ours: keep waiting
    }
done:
    zpoller_destroy(&poller);
    zsock_destroy(&dealer);
    return rc;
}

static int s_unreachable(const char *peer, const char *endpoint, uint32_t timeout_ms)
{
    fprintf(stderr, "%s: no answer from %s at %s within %u ms\n", CTL_PROGRAM, peer, endpoint,
            (unsigned)timeout_ms);
    return CTL_EXIT_UNREACHABLE;
}

static int s_refused(const ctl_context_t *ctx, const char *what, const tg_envelope_t *reply)
{
    const char *error = reply->error ? reply->error : "telegraphy.error.unknown";
    const char *message = reply->message ? reply->message : "";
    fprintf(stderr, "%s: %s refused: %s%s%s\n", CTL_PROGRAM, what, error, *message ? ": " : "",
            message);
    if (ctx->json) {
        json_t *out = json_pack("{s:s, s:s}", "error", error, "message", message);
        if (out) {
            json_dumpf(out, stdout, JSON_COMPACT);
            fputc('\n', stdout);
            json_decref(out);
        }
    }
    return CTL_EXIT_REFUSED;
}

int ctl_request_unexpected(const char *peer, const tg_envelope_t *reply)
{
    fprintf(stderr, "%s: unexpected answer %s from %s\n", CTL_PROGRAM,
            tg_command_name(reply->command), peer);
    return CTL_EXIT_UNREACHABLE;
}

int ctl_request_ask(const ctl_context_t *ctx, ctl_peer_t peer, const char *what,
                    tg_envelope_t *request, tg_command_t expected, tg_envelope_t **reply_p)
{
    assert(ctx && what && request && reply_p);
    const char *name = peer == CTL_PEER_ROUTER ? "router" : "ingest";
    const char *endpoint = peer == CTL_PEER_ROUTER ? ctx->cfg.control : ctx->cfg.ingest_ack;
    tg_envelope_t *reply = NULL;
    int rc = CTL_EXIT_OK;
    if (ctl_request_call(endpoint, request, ctx->cfg.timeout_ms, &reply) != 0)
        rc = s_unreachable(name, endpoint, ctx->cfg.timeout_ms);
    else if (reply->command == TG_CMD_REJECTED)
        rc = s_refused(ctx, what, reply);
    else if (reply->command != expected)
        rc = ctl_request_unexpected(name, reply);
    if (rc != CTL_EXIT_OK)
        tg_envelope_destroy(&reply);
    *reply_p = reply;
    return rc;
}
