/*  edge_ws: see edge_ws.h. */
#include "edge_ws.h"

#include <stdio.h>
#include <string.h>

#include "edge_actor.h"
#include "edge_auth.h"
#include "edge_broker.h"
#include "edge_origin.h"
#include "tg_clock.h"

/* A receive buffer that grew past this is freed after its message, so one
   large message does not pin memory for the connection's lifetime. */
#define S_RX_KEEP_BYTES 65536

static void s_wake(void *handle)
{
    lws_callback_on_writable((struct lws *)handle);
}

static void s_kill_late(lws_sorted_usec_list_t *sul)
{
    edge_ws_conn_t *conn = lws_container_of(sul, edge_ws_conn_t, kill_sul);
    conn->kill_armed = false;
    lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Closing is: flush the queue (ABORT, ...), wait for the end of a message
   the peer is still sending (see s_writeable), then lws sends our close
   frame and waits for the peer's. Any step can stall on a bad peer, and
   lws's own timeouts for the close handshake are 5 s each, replacing any
   lws_set_timeout of ours; so one timer of our own, outside the wsi's
   timeout slot, drops the connection EDGE_WS_CLOSE_MS after the decision. */
static void s_close(void *handle, int code, const char *reason)
{
    struct lws *wsi = handle;
    /* Set now so that any close, even the timeout's, carries it. */
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    edge_ws_conn_t *conn = lws_wsi_user(wsi);
    if (conn && conn->wsi == wsi && !conn->kill_armed) {
        conn->kill_armed = true;
        lws_sul_schedule(lws_get_context(wsi), 0, &conn->kill_sul, s_kill_late,
                         EDGE_WS_CLOSE_MS * LWS_US_PER_MS);
    } else if (!conn || conn->wsi != wsi) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 1);
    }
    lws_callback_on_writable(wsi);
}

static void s_kill(void *handle, int code, const char *reason)
{
    struct lws *wsi = handle;
    /* Best effort: the close frame only goes out if the socket has room. A
       stuck socket never becomes writeable, hence the asynchronous kill
       rather than a close from the WRITEABLE callback. */
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

const edge_transport_t edge_ws_transport = {s_wake, s_close, s_kill};

static void s_rx_reset(edge_ws_conn_t *conn)
{
    conn->rx_active = false;
    if (conn->rx.cap > S_RX_KEEP_BYTES) {
        tg_buf_release(&conn->rx);
        tg_buf_init(&conn->rx, 0);
    } else {
        tg_buf_reset(&conn->rx);
    }
}

static int s_established(struct lws *wsi, edge_ws_conn_t *conn, edge_broker_t *broker)
{
    const struct lws_protocols *protocol = lws_get_protocol(wsi);
    tg_wamp_serializer_t serializer = TG_WAMP_JSON;
    if (protocol && protocol->name && strcmp(protocol->name, EDGE_WS_MSGPACK) == 0)
        serializer = TG_WAMP_MSGPACK;
    char *browser_cid = conn->browser_cid; /* from the upgrade (s_filter_identity) */
    memset(conn, 0, sizeof(*conn));
    conn->wsi = wsi;
    tg_buf_init(&conn->rx, 0);
    edge_actor_t *actor = edge_actor_from_wsi(wsi);
    if (actor && edge_actor_stopping(actor)) {
        free(browser_cid);
        static const char reason[] = "edge shutting down";
        lws_close_reason(wsi, (enum lws_close_status)EDGE_CLOSE_GOING_AWAY, (unsigned char *)reason,
                         sizeof(reason) - 1);
        return -1;
    }
    conn->session = edge_broker_session_open(broker, serializer, wsi);
    if (conn->session) {
        conn->session->browser_cid = browser_cid;
        browser_cid = NULL;
    }
    free(browser_cid);
    if (!conn->session) {
        static const char reason[] = "edge full (max_sessions), try another edge or later";
        lws_close_reason(wsi, (enum lws_close_status)EDGE_CLOSE_TRY_AGAIN, (unsigned char *)reason,
                         sizeof(reason) - 1);
        return -1;
    }
    return 0;
}

/* Gathers a message's fragments (lws also hands a large frame over in
   pieces) and passes complete messages to the broker. A message that
   would exceed max_message is refused as soon as its announced size says
   so, without buffering it. now: the loop's time of this callback. */
static int s_receive(struct lws *wsi, edge_ws_conn_t *conn, edge_broker_t *broker,
                     const uint8_t *data, size_t len, tg_now_t now)
{
    edge_session_t *session = conn->session;
    if (!session)
        return -1;
    size_t remaining = lws_remaining_packet_payload(wsi);
    bool last = lws_is_final_fragment(wsi) && remaining == 0;
    if (!conn->rx_active) {
        conn->rx_active = true;
        conn->rx_binary = lws_frame_is_binary(wsi) != 0;
        conn->rx_discard = false;
    }
    if (session->state == EDGE_SESSION_CLOSING)
        conn->rx_discard = true;
    if (!conn->rx_discard) {
        uint32_t limit = edge_broker_config(broker)->max_message;
        if ((uint64_t)conn->rx.len + len + remaining > limit) {
            char message[96];
            snprintf(message, sizeof(message), "message too large (limit %u bytes)", limit);
            conn->rx_discard = true;
            edge_broker_session_reject(broker, session, EDGE_BAD_TOO_LARGE, message,
                                       EDGE_CLOSE_TOO_BIG);
        } else if (last && conn->rx.len == 0) {
            /* The common case, one piece: no copy. */
            edge_broker_session_input(broker, session, data, len, conn->rx_binary, now);
        } else {
            tg_buf_append(&conn->rx, data, len);
            if (last)
                edge_broker_session_input(broker, session, tg_buf_payload(&conn->rx), conn->rx.len,
                                          conn->rx_binary, now);
        }
    }
    if (last) {
        s_rx_reset(conn);
        if (session->state == EDGE_SESSION_CLOSING)
            lws_callback_on_writable(wsi); /* the close waited for this */
    }
    return 0;
}

/* Moves queued frames into one write: their wire bytes (header already
   in place, edge_frame_wire) are copied into the batch buffer until the
   next would not fit, or the queue is empty. Returns the bytes gathered;
   *events receives the number of EVENTs among them. Frames whose event
   expired by now are dropped on the way (expired_drops). A
   first frame larger than the whole buffer is not gathered: *alone gets
   it (the caller owns that reference) and 0 is returned. */
static size_t s_gather(edge_session_t *session, uint8_t *batch, size_t capacity,
                       edge_frame_t **alone, uint32_t *events, edge_metrics_t *metrics,
                       tg_now_t now)
{
    size_t used = 0;
    *alone = NULL;
    *events = 0;
    for (;;) {
        edge_frame_t *frame = edge_queue_peek(session->queue);
        if (!frame)
            break;
        if (edge_frame_expired(frame, now)) {
            /* DESIGN 2.6: never delivered after expiry, checked at the
               last moment (the frame waited in a slow session's queue). */
            metrics->expired_drops++;
            frame = edge_session_pop(session);
            edge_frame_unref(&frame);
            continue;
        }
        size_t len = 0;
        const uint8_t *wire = edge_frame_wire(frame, &len);
        if (used + len > capacity) {
            if (used == 0)
                *alone = edge_session_pop(session);
            break;
        }
        memcpy(batch + used, wire, len);
        used += len;
        if (edge_frame_is_event(frame))
            (*events)++;
        frame = edge_session_pop(session);
        edge_frame_unref(&frame);
    }
    return used;
}

/* Writes queued frames: as many as fit in EDGE_WS_BATCH_BYTES, in one
   write. One send() per frame tops out near 75k frames/s per core (the
   kernel's loopback send path costs the same for 100 bytes as for 64 KiB),
   so a session's frames go out together: a burst of events to many
   sessions costs one send per session per pass, not one per frame. The
   bytes are complete WebSocket frames (edge_frame writes each header once,
   for every receiver), written with LWS_WRITE_RAW, which libwebsockets
   passes through unframed (lws_write -> lws_issue_raw); this holds because
   the edge offers no extension (no permessage-deflate) and speaks HTTP/1
   only, and the protocol's tx_packet_size lets the whole batch go in one
   send(). What the socket does not take, lws keeps and sends before our
   next WRITEABLE callback, so frames are never interleaved or cut. A frame
   larger than the batch buffer goes alone, from its own memory.
   The pop that takes the queue below low water releases the router link
   if it paused for this session (edge_session_pop -> edge_pressure ->
   edge_link), so the link resumes as soon as the writes have caught up.
   Then closes the connection if the session is closing and all is sent. */
static int s_writeable(struct lws *wsi, edge_ws_conn_t *conn, edge_broker_t *broker, tg_now_t now)
{
    /* The edge is single-threaded: one batch buffer serves every
       connection (its bytes are consumed or copied by lws before
       lws_write returns). */
    static uint8_t batch[LWS_PRE + EDGE_WS_BATCH_BYTES];
    edge_session_t *session = conn->session;
    if (!session)
        return 0;
    if (session->killed)
        return -1;
    edge_actor_t *actor = edge_actor_from_wsi(wsi);
    bool stopping = actor && edge_actor_stopping(actor);
    if (stopping && session->state != EDGE_SESSION_CLOSING)
        edge_session_close(session, EDGE_CLOSE_GOING_AWAY, "edge shutting down");
    edge_metrics_t *metrics = edge_broker_metrics(broker);
    edge_frame_t *alone = NULL;
    uint32_t events = 0;
    size_t used =
        s_gather(session, batch + LWS_PRE, EDGE_WS_BATCH_BYTES, &alone, &events, metrics, now);
    /* Room in the queue: a replay waiting for it asks persist for more. */
    edge_broker_session_written(broker, session);
    if (alone) {
        size_t len = 0;
        const uint8_t *wire = edge_frame_wire(alone, &len);
        int written = lws_write(wsi, (unsigned char *)wire, len, LWS_WRITE_RAW);
        bool is_event = edge_frame_is_event(alone);
        edge_frame_unref(&alone);
        if (written < 0)
            return -1;
        metrics->bytes_out += len;
        if (is_event)
            metrics->events_out++;
    } else if (used > 0) {
        if (lws_write(wsi, batch + LWS_PRE, used, LWS_WRITE_RAW) < 0)
            return -1;
        metrics->bytes_out += used;
        metrics->events_out += events;
    }
    bool buffered = lws_partial_buffered(wsi) != 0;
    if (edge_queue_size(session->queue) > 0 || buffered) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    /* Closing: everything is written. If the peer is in the middle of a
       message (typically the oversized one we refused), wait for its end:
       lws gives up on data arriving after its close frame and closes the
       socket with unread bytes, and the peer then gets a reset instead of
       our ABORT and close frame. The one-second timer still applies. At
       shutdown nobody waits: the close frame goes at once. */
    if (session->state == EDGE_SESSION_CLOSING && (!conn->rx_active || stopping))
        return -1; /* lws sends the close frame set by s_close */
    return 0;
}

/* The identity cookie at the upgrade (DESIGN 2.4, edge_origin.h): from an
   allowed Origin, a valid telegraphy_resume cookie gives the browser's
   cid back (else a new one), and the response sets the cookie again; a
   foreign Origin gets neither (an anonymous session without identity),
   or 403 when anonymous sessions are off. Without a secret there are no
   tokens, hence no cookie. Returns 0 to go on, nonzero to refuse. */
static int s_filter_identity(struct lws *wsi, edge_ws_conn_t *conn, edge_broker_t *broker,
                             edge_actor_t *actor, tg_now_t now)
{
    const tg_config_t *cfg = edge_broker_config(broker);
    char origin[512] = "", host[512] = "";
    int origin_len = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) < 0)
        host[0] = '\0';
    /* An Origin header too long to copy is foreign. */
    bool has_origin = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0;
    bool allowed =
        has_origin
            ? origin_len > 0 && edge_origin_allowed(edge_actor_allowed_origins(actor), origin, host)
            : true;
    if (!allowed) {
        if (!cfg->allow_anonymous) {
            lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
            return 1;
        }
        return 0;
    }
    if (!cfg->secret[0])
        return 0;
    free(conn->browser_cid);
    conn->browser_cid = NULL;
    char header[4096], token[1024];
    if (lws_hdr_copy(wsi, header, sizeof(header), WSI_TOKEN_HTTP_COOKIE) > 0)
        for (size_t nth = 0; nth < 4 && !conn->browser_cid; nth++) {
            if (edge_origin_cookie(header, EDGE_RESUME_COOKIE, nth, token, sizeof(token)) != 0)
                break;
            conn->browser_cid = edge_auth_cookie_cid(edge_broker_auth(broker), token, now);
        }
    /* A browser (it sends Origin) without a valid cookie gets a new id;
       a client that is not a browser has no cookie jar to keep one in:
       it stays anonymous without identity (its ticket's resume token is
       its way back). */
    if (!conn->browser_cid && has_origin)
        conn->browser_cid = edge_auth_new_browser_id();
    conn->set_cookie = conn->browser_cid != NULL;
    char proto[16] = "";
    conn->secure = strncmp(origin, "https:", 6) == 0 ||
                   (lws_hdr_custom_copy(wsi, proto, sizeof(proto), "x-forwarded-proto:", 18) > 0 &&
                    strcmp(proto, "https") == 0);
    return 0;
}

/* Adds Set-Cookie: telegraphy_resume to the upgrade response. */
static int s_add_cookie(struct lws *wsi, edge_ws_conn_t *conn, edge_broker_t *broker,
                        struct lws_process_html_args *args, tg_now_t now)
{
    if (!conn->set_cookie || !conn->browser_cid)
        return 0;
    const tg_config_t *cfg = edge_broker_config(broker);
    char *token = edge_auth_cookie_token(edge_broker_auth(broker), conn->browser_cid, now);
    if (!token)
        return 0;
    char value[1200];
    int len = edge_origin_set_cookie(value, sizeof(value), token, cfg->resume_ttl, conn->secure);
    free(token);
    if (len < 0)
        return 0;
    unsigned char *p = (unsigned char *)args->p;
    if (lws_add_http_header_by_name(
            wsi, (const unsigned char *)"set-cookie:", (const unsigned char *)value, len, &p,
            (unsigned char *)args->p + args->max_len))
        return 0; /* no room: the session goes on without renewing the cookie */
    args->len += (int)(p - (unsigned char *)args->p);
    args->p = (char *)p;
    return 0;
}

static void s_release(edge_ws_conn_t *conn, edge_broker_t *broker, tg_now_t now)
{
    free(conn->browser_cid);
    conn->browser_cid = NULL;
    if (conn->kill_armed) {
        lws_sul_cancel(&conn->kill_sul);
        conn->kill_armed = false;
    }
    if (conn->session)
        edge_broker_session_closed(broker, &conn->session, now);
    tg_buf_release(&conn->rx);
    memset(&conn->rx, 0, sizeof(conn->rx)); /* CLOSED then WSI_DESTROY: release once */
}

void edge_ws_close_all(struct lws_vhost *vhost)
{
    static const char *const names[] = {EDGE_WS_JSON, EDGE_WS_MSGPACK};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        /* The vhost's own copy of the protocol: lws compares pointers. */
        const struct lws_protocols *protocol = lws_vhost_name_to_protocol(vhost, names[i]);
        if (protocol)
            lws_callback_on_writable_all_protocol_vhost(vhost, protocol);
    }
}

int edge_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    /* This is an entry from the loop: the cases that reach the broker read
       the clock here, once, and pass it down. */
    edge_ws_conn_t *conn = user;
    edge_actor_t *actor = edge_actor_from_wsi(wsi);
    edge_broker_t *broker = actor ? edge_actor_broker(actor) : NULL;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* WebSockets only at EDGE_WS_PATH. */
        char uri[64];
        int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
        if (n <= 0 || strcmp(uri, EDGE_WS_PATH) != 0)
            return 1;
        if (!conn || !broker)
            return 0;
        return s_filter_identity(wsi, conn, broker, actor, tg_clock_read());
    }
    case LWS_CALLBACK_ADD_HEADERS:
        if (!conn || !broker || !in)
            return 0;
        return s_add_cookie(wsi, conn, broker, in, tg_clock_read());
    case LWS_CALLBACK_ESTABLISHED:
        if (!conn || !broker)
            return -1;
        return s_established(wsi, conn, broker);
    case LWS_CALLBACK_RECEIVE:
        if (!conn || !broker)
            return -1;
        return s_receive(wsi, conn, broker, in, len, tg_clock_read());
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!conn || !broker)
            return 0;
        return s_writeable(wsi, conn, broker, tg_clock_read());
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        /* Per-connection state is freed here and only here. */
        if (conn && broker)
            s_release(conn, broker, tg_clock_read());
        return 0;
    default:
        return 0;
    }
}
