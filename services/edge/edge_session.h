/*  edge_session: one WAMP session (one WebSocket), as a record shared by
    the edge's modules.

    The session owns its outbound queue and its side of its subscription
    memberships. It never touches the socket: everything it needs from the
    connection goes through an edge_transport_t (libwebsockets in
    production, a recorder in the unit tests), so the WAMP logic runs
    without a socket.

    Lifetime: created when the WebSocket is established, destroyed only in
    the connection's close callback (LWS_CALLBACK_CLOSED), after the broker
    has removed it from every subscription. Between "closing" and that
    callback the session still exists but accepts no frames.
*/
#ifndef EDGE_SESSION_H
#define EDGE_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge_frame.h"
#include "edge_metrics.h"
#include "edge_pressure.h"
#include "edge_queue.h"
#include "edge_subs.h"
#include "tg_wamp.h"

/* WebSocket close codes the edge uses (RFC 6455 7.4.1). */
#define EDGE_CLOSE_NORMAL           1000
#define EDGE_CLOSE_GOING_AWAY       1001
#define EDGE_CLOSE_PROTOCOL_ERROR   1002
#define EDGE_CLOSE_UNSUPPORTED_DATA 1003
#define EDGE_CLOSE_POLICY           1008
#define EDGE_CLOSE_TOO_BIG          1009
#define EDGE_CLOSE_TRY_AGAIN        1013

/* A close reason travels in a control frame: at most 123 bytes. */
#define EDGE_CLOSE_REASON_MAX 123

/* What a session needs from its connection. `handle` is the connection
   (a struct lws *). None of these calls back into the session. */
typedef struct {
    /* Ask for a write opportunity: queued frames are waiting. */
    void (*wake)(void *handle);
    /* Write what is queued, then close with code/reason; the connection
       must be gone within a second even if the peer stops reading. */
    void (*close)(void *handle, int code, const char *reason);
    /* Close now; queued frames are lost (the peer is not reading). */
    void (*kill)(void *handle, int code, const char *reason);
} edge_transport_t;

typedef enum {
    EDGE_SESSION_HANDSHAKE = 0, /* WebSocket open, waiting for HELLO */
    EDGE_SESSION_OPEN,          /* WELCOME sent */
    EDGE_SESSION_CLOSING,       /* ABORT/GOODBYE sent or killed: no more frames */
    EDGE_SESSION_CHALLENGED,    /* CHALLENGE "ticket" sent, waiting for AUTHENTICATE */
    EDGE_SESSION_AUTHENTICATING /* token verified, its jti being spent at the router */
} edge_session_state_t;

struct _edge_session_t {
    uint64_t id;                     /* WAMP session id, 0 until WELCOME */
    tg_wamp_serializer_t serializer; /* from the negotiated subprotocol */
    edge_session_state_t state;
    bool anonymous; /* no identity: public events only */
    char *authid;   /* owned; NULL until WELCOME */
    char *authrole; /* owned; NULL until WELCOME */
    char **groups;  /* owned; audience groups ("staff", ...) */
    size_t groups_count;
    char *client_id;      /* owned; ticket sessions: stable across resumes (DESIGN 2.4) */
    char *browser_cid;    /* owned; the identity cookie's cid (allowed origins only), or NULL */
    char *claimed_authid; /* owned; HELLO's authid while authenticating, else NULL */
    edge_queue_t *queue;  /* owned; bounded by session_queue */
    edge_sub_refs_t subs; /* memberships, managed by edge_subs (this side of each) */
    uint32_t pending;     /* SUBSCRIBEs waiting for the router (edge_session_pending_*) */
    struct _edge_durable_t *durables;   /* persistent / `_since` records, managed by edge_durable */
    const edge_transport_t *transport;  /* borrowed */
    void *handle;                       /* the connection, borrowed */
    edge_metrics_t *metrics;            /* borrowed: queue_depth, slow consumers */
    edge_pressure_t *pressure;          /* borrowed: high/low-water crossings for the router link */
    edge_pressure_mark_t pressure_mark; /* the round this session holds the link in, 0 = none */
    int close_code;                     /* set when closing */
    char close_reason[EDGE_CLOSE_REASON_MAX + 1];
    bool killed; /* closed without flushing (slow consumer) */
};

/* Caller owns the result: a session in HANDSHAKE state. Borrows transport,
   handle, metrics and pressure, which must outlive it. */
edge_session_t *edge_session_new(tg_wamp_serializer_t serializer, uint32_t queue_limit,
                                 const edge_transport_t *transport, void *handle,
                                 edge_metrics_t *metrics, edge_pressure_t *pressure);

/* Closes the session at once as a slow consumer (counted): its queue, or
   what it holds for it, overflowed. Every later push fails. No-op when
   already closing. */
void edge_session_kill_slow(edge_session_t *self);

/* Frees the session and its queued frames (and releases the router link
   if it was waiting for this queue to drain). It must hold no membership
   and no durable record (asserted): the broker leaves every subscription
   first. Safe on NULL and
   twice. */
void edge_session_destroy(edge_session_t **self_p);

/* Queues a shared frame (the session takes its own reference) and wakes
   the connection if the queue was empty; a push that brings the queue to
   high water is reported to the pressure (the router link pauses).
   Returns 0; -1 when the session is closing, or when its queue is full:
   then the session is killed as a slow consumer (counted in metrics) and
   every later push fails too. */
int edge_session_push(edge_session_t *self, edge_frame_t *frame);

/* The next frame to write (caller owns the reference), or NULL. A pop
   that leaves the queue below low water is reported to the pressure (the
   router link may resume). */
edge_frame_t *edge_session_pop(edge_session_t *self);

/* Encodes msg with the session's serializer and queues it. Does not take
   ownership of msg. Returns 0 or -1 (not encodable, or push failed). */
int edge_session_send(edge_session_t *self, const json_t *msg);

/* Sends ERROR [8, request_type, request, {}, error, [message]] (message
   may be NULL: no args). Returns 0 or -1 like edge_session_send. */
int edge_session_send_error(edge_session_t *self, int request_type, int64_t request,
                            const char *error, const char *message);

/* Sends ABORT [3, {message}, reason] then closes with close_code; the
   close reason carries the message. No-op when already closing. */
void edge_session_abort(edge_session_t *self, const char *reason, const char *message,
                        int close_code);

/* Stops accepting frames and asks the transport to close after flushing.
   No-op when already closing. */
void edge_session_close(edge_session_t *self, int close_code, const char *reason);

/* Records the identity (copies the strings). anonymous sessions see only
   public events and never match to_users. */
void edge_session_set_identity(edge_session_t *self, uint64_t id, bool anonymous,
                               const char *authid, const char *authrole);

/* Adds an audience group (copied), e.g. "staff" or a group name. */
void edge_session_add_group(edge_session_t *self, const char *group);

/* HELLO offered "ticket": the session gets its WAMP id (it names the
   session in log lines before WELCOME), remembers the authid it claimed
   (copied; NULL = none) and waits for AUTHENTICATE (CHALLENGED). */
void edge_session_challenge(edge_session_t *self, uint64_t id, const char *claimed_authid);

/* The token was verified, its jti is being spent at the router
   (AUTHENTICATING). */
void edge_session_authenticating(edge_session_t *self);

/* Forgets the authid HELLO claimed (authentication ended either way). */
void edge_session_forget_claim(edge_session_t *self);

/* Takes ownership of *client_id_p (nulls it): the session's stable client
   id (DESIGN 2.4), replacing any previous one. */
void edge_session_set_client_id(edge_session_t *self, char **client_id_p);

/* WELCOME was sent: the session is OPEN. */
void edge_session_opened(edge_session_t *self);

/* SUBSCRIBEs of this session waiting for the router's answer: one more
   (a waiter entry was added for it), one fewer (its waiter entry was
   answered or removed), none (every waiter entry of the session was
   removed). The broker's per-session limit counts them with the live
   subscriptions. */
void edge_session_pending_add(edge_session_t *self);
void edge_session_pending_done(edge_session_t *self);
void edge_session_pending_clear(edge_session_t *self);
uint32_t edge_session_pending(const edge_session_t *self);

/* True when the session may receive events of `audience`: "public" for
   everyone, "authenticated" for identified sessions, "staff" and
   "group:NAME" for members of that group. Unknown or NULL: false. */
bool edge_session_may_see(const edge_session_t *self, const char *audience);

/* True when the session's authid is one of users (anonymous: never). */
bool edge_session_is_listed(const edge_session_t *self, char *const *users, size_t count);

#endif
