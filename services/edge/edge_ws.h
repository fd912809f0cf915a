/*  edge_ws: the libwebsockets side of a WAMP session — the protocol
    callback of wamp.2.json and wamp.2.msgpack, and the edge_transport_t
    that sessions use to reach their connection.

    Per connection: the session (created on ESTABLISHED, destroyed on
    CLOSED/WSI_DESTROY, nowhere else) and the buffer that gathers a
    message's fragments up to max_message. A WRITEABLE callback writes the
    session's queued frames together: their wire bytes (WebSocket header
    composed once per frame by edge_frame) copied into one batch of up to
    EDGE_WS_BATCH_BYTES and written with one lws_write (LWS_WRITE_RAW), so
    a burst costs one send() per session per pass, not one per frame.
*/
#ifndef EDGE_WS_H
#define EDGE_WS_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "edge_session.h"
#include "tg_buf.h"

#define EDGE_WS_PATH    "/ws"
#define EDGE_WS_JSON    "wamp.2.json"
#define EDGE_WS_MSGPACK "wamp.2.msgpack"

/* lws's per-connection user data of the WAMP protocols (zeroed by lws). */
typedef struct {
    edge_session_t *session;         /* owned; NULL before ESTABLISHED and after CLOSED */
    struct lws *wsi;                 /* the connection this is the user data of */
    tg_buf_t rx;                     /* fragments of the message being received */
    bool rx_active;                  /* inside a message */
    bool rx_binary;                  /* its opcode */
    bool rx_discard;                 /* over max_message or session closing: drop the rest */
    bool kill_armed;                 /* kill_sul is scheduled */
    lws_sorted_usec_list_t kill_sul; /* drops a closing connection after EDGE_WS_CLOSE_MS */
    char *browser_cid;               /* owned until ESTABLISHED: the identity cookie's cid */
    bool set_cookie;                 /* the upgrade response sets telegraphy_resume */
    bool secure;                     /* behind TLS: the cookie gets Secure */
} edge_ws_conn_t;

/* A closing connection is gone this long after the session decided to
   close, whatever the peer does (DESIGN 4: "dropped within a second"). */
#define EDGE_WS_CLOSE_MS 1000

/* Bytes of queued frames written to a connection in one write (one
   send()) per WRITEABLE callback; also the protocols' tx_packet_size, so
   that libwebsockets sends a whole batch at once. 64 KiB: several hundred
   typical events, and a bound on how long one connection holds the loop. */
#define EDGE_WS_BATCH_BYTES 65536

/* libwebsockets' receive buffer per connection (the protocols'
   rx_buffer_size; its default is 4 KiB). Clients send little (HELLO,
   SUBSCRIBE, a token): a larger message arrives in pieces, which edge_ws
   gathers, and 3 KiB per connection are saved on every idle one. */
#define EDGE_WS_RX_BYTES 1024

/* How sessions reach their struct lws. */
extern const edge_transport_t edge_ws_transport;

/* Shutdown (edge_actor_stopping() is true): starts a clean close of every
   WAMP connection of vhost. Each session flushes what is queued and closes
   with 1001 "going away" (no WAMP GOODBYE: AutobahnJS does not reconnect
   after one), within EDGE_WS_CLOSE_MS; new connections are refused with
   1001. The caller keeps servicing the loop until the broker counts no
   session. */
void edge_ws_close_all(struct lws_vhost *vhost);

/* The lws protocol callback of both WAMP subprotocols. */
int edge_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

#endif
