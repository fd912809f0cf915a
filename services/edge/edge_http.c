/*  edge_http: see edge_http.h. */
#include "edge_http.h"

#include <string.h>

#include "edge_actor.h"
#include "edge_ws.h"
#include "tg_buf.h"
#include "tg_clock.h"

static const char s_text[] = "text/plain; charset=utf-8";
static const char s_prometheus[] = "text/plain; version=0.0.4; charset=utf-8";

/* Writes a complete response: headers, then the body in one final write
   (lws buffers what the socket does not take at once). */
static int s_respond(struct lws *wsi, unsigned int status, const char *content_type, tg_buf_t *body)
{
    uint8_t head[LWS_PRE + 512];
    uint8_t *start = head + LWS_PRE;
    uint8_t *p = start;
    uint8_t *end = head + sizeof(head) - 1;
    if (lws_add_http_common_headers(wsi, status, content_type, body->len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (body->len > 0 && lws_write(wsi, tg_buf_payload(body), body->len, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* An entry from the loop: reads the clock once (the router link's
   liveness is judged at that time). */
static int s_serve(struct lws *wsi, const char *path)
{
    edge_actor_t *actor = edge_actor_from_wsi(wsi);
    int64_t now_ms = tg_clock_read().mono_ms;
    tg_buf_t body;
    tg_buf_init(&body, LWS_PRE);
    unsigned int status = HTTP_STATUS_OK;
    const char *content_type = s_text;
    if (actor && strcmp(path, "/healthz") == 0) {
        static const char ok[] = "ok\n";
        tg_buf_append(&body, ok, sizeof(ok) - 1);
        const char *router = edge_actor_router_connected(actor, now_ms) ? "router: connected\n"
                                                                        : "router: disconnected\n";
        tg_buf_append(&body, router, strlen(router));
    } else if (actor && strcmp(path, "/metrics") == 0) {
        content_type = s_prometheus;
        edge_actor_render_metrics(actor, now_ms, &body);
    } else if (strcmp(path, EDGE_WS_PATH) == 0) {
        static const char upgrade[] =
            "WebSocket endpoint: connect with subprotocol wamp.2.json or wamp.2.msgpack\n";
        status = 426; /* Upgrade Required */
        tg_buf_append(&body, upgrade, sizeof(upgrade) - 1);
    } else {
        static const char missing[] = "not found\n";
        status = HTTP_STATUS_NOT_FOUND;
        tg_buf_append(&body, missing, sizeof(missing) - 1);
    }
    int rc = s_respond(wsi, status, content_type, &body);
    tg_buf_release(&body);
    return rc;
}

int edge_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return s_serve(wsi, in ? (const char *)in : "");
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* An upgrade landing here named no WAMP subprotocol. */
        return 1;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
