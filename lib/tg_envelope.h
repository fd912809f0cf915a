/*  tg_envelope: the internal protocol codec.

    This is the only module that knows the wire layout of the messages the
    gateway processes exchange over ZeroMQ. Every message is multipart:

        [routing id frames, added/removed by ROUTER sockets]
        frame 0  command name, ASCII ("EVENT", "SUBSCRIBE", ...)
        frame 1  header: a msgpack map, always with "v" (protocol version)
        frame 2  body (PUBLISH, EVENT and TAP only): the event data, msgpack
                 map, carried as opaque bytes from ingest to edge.
        frame 3  sub_ids (EVENT from the router to an edge only, marked by
                 the header's audience): a msgpack array of the ids of the
                 edge's matching subscriptions. Apart from the header, so
                 that the router encodes the header once per event and
                 shares it, with the body, among every edge's message.

    STORE (router -> persist) and REPLAY (persist -> router -> edge) carry
    two frames after their header: the stored EVENT header (the bytes the
    router sends edges, kept and replayed as they are) and the body. Decode
    checks the stored header as strictly as an EVENT's own (an EVENT header
    to an edge: pub_id, ts, topic and audience required) and fills the
    envelope's EVENT fields from it; both frames are kept, moved not copied.

    Decoding checks every field's type and bound, ignores unknown keys and
    rejects a version it does not speak. See docs/protocol.md for the table
    of commands, who sends them and which fields each one carries.
*/
#ifndef TG_ENVELOPE_H
#define TG_ENVELOPE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_event_type.h"

#define TG_PROTOCOL_VERSION 1

/* Bounds enforced by decode (and asserted by encode). */
#define TG_MAX_TOPIC         512    /* bytes of a topic / event name / URI */
#define TG_MAX_ID_STRING     128    /* instance ids, roles, user ids */
#define TG_MAX_TO_USERS      10000  /* entries of to_users */
#define TG_MAX_SUB_IDS       100000 /* subscription ids in one EVENT */
#define TG_MAX_FILTER_BYTES  65536  /* hard ceiling; the configured limit is lower */
#define TG_MAX_ERROR_TEXT    1024   /* REJECTED / SUBSCRIBE_ERROR message */
#define TG_MAX_STATS         128    /* counters in one HEARTBEAT */
#define TG_MAX_PROCESSES     1024   /* processes in one STATUS_REPLY */
#define TG_MAX_STAT_NAME     64
#define TG_MAX_JTI           128                 /* bytes of a token id (TOKEN_SPEND) */
#define TG_MAX_MONITOR_EVENT 32                  /* bytes of a MONITOR event name */
#define TG_MAX_ID            9007199254740992ULL /* 2^53: publication and subscription ids */
#define TG_MAX_CLIENT_ID     128                 /* bytes of a client_id */
#define TG_MAX_ACK_IDS       10000               /* pub_ids in one ACK */

typedef enum {
    TG_CMD_PUBLISH = 1,     /* publisher -> ingest: topic, to_users, [req], body */
    TG_CMD_REGISTER,        /* publisher/ctl -> ingest -> router -> peers: event_type, [req] */
    TG_CMD_ACCEPTED,        /* ingest -> ctl, router -> ingest: req, pub_id (PUBLISH) */
    TG_CMD_REJECTED,        /* ingest -> ctl, router -> ingest: req, error, message */
    TG_CMD_EVENT,           /* ingest -> router -> edge: pub_id, ts, topic, to_users,
                               audience + guaranteed (router -> edge only), body;
                               router -> edge: + the sub_ids frame */
    TG_CMD_HELLO,           /* edge/ingest/persist -> router: role, instance */
    TG_CMD_WELCOME,         /* router -> peer: instance (the router's) */
    TG_CMD_HEARTBEAT,       /* peer -> router: instance, stats;
                               router -> peer: instance (router's), known */
    TG_CMD_SUBSCRIBE,       /* edge -> router: req, topic, match, filter */
    TG_CMD_SUBSCRIBED,      /* router -> edge: req, sub_id */
    TG_CMD_SUBSCRIBE_ERROR, /* router -> edge: req, error, message */
    TG_CMD_UNSUBSCRIBE,     /* edge -> router: sub_id */
    TG_CMD_STATUS,          /* ctl -> router control socket: req */
    TG_CMD_STATUS_REPLY,    /* router -> ctl: req, processes */
    TG_CMD_TOKEN_SPEND,     /* edge -> router: jti, exp, [req] (no req = re-sent at resync);
                               answered ACCEPTED{req} or REJECTED{req, error} */
    TG_CMD_MONITOR,         /* any process -> router -> monitor PUB: role, instance, endpoint,
                               event, value, ts (a zmq_socket_monitor event) */
    TG_CMD_TAP,             /* router -> monitor PUB: topic, pub_id, ts, size, matched, edges,
                               body (one per routed event; droppable) */
    TG_CMD_STORE,           /* router -> persist: [req], expires_at, sub_ids (header);
                               the stored EVENT header frame, body */
    TG_CMD_REPLAY,          /* persist -> router -> edge: req, instance, sub_id;
                               the stored EVENT header frame, body */
    TG_CMD_REPLAY_END,      /* persist -> router -> edge: req, instance, sub_id, [pub_id] */
    TG_CMD_RESUME,          /* router -> persist: req, instance, sub_id, topic, match, [filter],
                               [client_id], [persistent], [since] */
    TG_CMD_MORE,            /* edge -> router -> persist: req, instance (replay credit) */
    TG_CMD_ACK,             /* edge -> router -> persist: client_id, sub_id, [pub_ids], [upto] */
} tg_command_t;

#define TG_CMD_LAST TG_CMD_ACK /* the highest command value */

typedef enum {
    TG_MATCH_EXACT = 0,
    TG_MATCH_PREFIX = 1,
    TG_MATCH_WILDCARD = 2,
} tg_match_t;

/* One named counter or gauge, as carried by HEARTBEAT and STATUS_REPLY. */
typedef struct {
    char name[TG_MAX_STAT_NAME];
    int64_t value;
} tg_stat_t;

/* One process as the router last heard of it (STATUS_REPLY). */
typedef struct {
    char *role;            /* "router", "ingest", "edge", "persist" */
    char *instance;        /* the process's instance id */
    uint64_t uptime_ms;    /* as reported by the process */
    uint64_t last_seen_ms; /* ms since the router last heard from it */
    tg_stat_t *stats;      /* owned array */
    size_t stats_count;
} tg_process_status_t;

/* A decoded (or to-be-encoded) internal message. Which fields are meaningful
   depends on `command` (see the enum above and docs/protocol.md); all others
   are zero/NULL. Every pointer is owned by the envelope and freed by
   tg_envelope_destroy(). */
typedef struct {
    tg_command_t command;
    uint64_t req;    /* request id chosen by the sender, 0 = none (EVENT: set by the
                        ingest on the acknowledged path of a guaranteed type) */
    char *topic;     /* PUBLISH, EVENT, SUBSCRIBE */
    char **to_users; /* PUBLISH, EVENT: NULL = everybody */
    size_t to_users_count;
    uint64_t pub_id;   /* EVENT, ACCEPTED: publication id in [1, 2^53] */
    uint64_t ts;       /* EVENT: µs since the Unix epoch */
    char *audience;    /* EVENT (router -> edge): the type's audience */
    bool guaranteed;   /* EVENT (router -> edge): the type's flag */
    uint64_t *sub_ids; /* EVENT (router -> edge, its own frame): matching subscriptions;
                          STORE (header, may be empty): the persist-held matches */
    size_t sub_ids_count;
    tg_event_type_t *event_type; /* REGISTER */
    tg_match_t match;            /* SUBSCRIBE */
    char *filter;                /* SUBSCRIBE: NULL = no filter ("" is carried as is) */
    uint64_t sub_id;             /* SUBSCRIBED, UNSUBSCRIBE, RESUME, REPLAY, REPLAY_END, ACK */
    char *error;                 /* REJECTED, SUBSCRIBE_ERROR: a URI */
    char *message;               /* REJECTED, SUBSCRIBE_ERROR: human text */
    char *role;                  /* HELLO */
    char *instance;              /* HELLO, WELCOME, HEARTBEAT; ACCEPTED/REJECTED (a RESUME's
                                    answer), RESUME, REPLAY, REPLAY_END, MORE: the edge */
    char *client_id;             /* SUBSCRIBE, UNSUBSCRIBE, RESUME, ACK: 1..TG_MAX_CLIENT_ID
                                    bytes; required with persistent */
    bool persistent;             /* SUBSCRIBE, RESUME: on the wire only when true */
    uint64_t since;              /* SUBSCRIBE, RESUME: replay after this pub_id, 0 = none */
    bool replay;                 /* SUBSCRIBED: a REPLAY stream follows (only when true) */
    uint64_t expires_at;         /* STORE: µs since the epoch, 0 = no ttl */
    uint64_t *pub_ids;           /* ACK: 1..TG_MAX_ACK_IDS ids (NULL = none) */
    size_t pub_ids_count;
    uint64_t upto;      /* ACK: cumulative, 0 = none (ACK needs pub_ids or upto) */
    bool known;         /* HEARTBEAT (router -> peer): peer is known */
    uint64_t uptime_ms; /* HEARTBEAT (peer -> router) */
    tg_stat_t *stats;   /* HEARTBEAT (peer -> router) */
    size_t stats_count;
    tg_process_status_t *processes; /* STATUS_REPLY */
    size_t processes_count;
    char *jti;            /* TOKEN_SPEND: the spent token's id */
    uint64_t exp;         /* TOKEN_SPEND: unix seconds until which the jti must be kept */
    char *endpoint;       /* MONITOR: the socket endpoint the event is about ("" allowed) */
    char *event_name;     /* MONITOR: "connected", "disconnected", ... (wire key "event") */
    int64_t value;        /* MONITOR: the event's value (errno, fd, reconnect interval) */
    uint64_t size;        /* TAP: body bytes */
    uint64_t matched;     /* TAP: subscription ids matched (wire key "sub_ids_count") */
    uint64_t edges;       /* TAP: edges the event was sent to */
    zframe_t *body;       /* PUBLISH, EVENT, TAP, STORE, REPLAY: msgpack map, opaque */
    zframe_t *stored;     /* STORE, REPLAY: the stored EVENT header frame, opaque (decode
                             checks it and fills topic, to_users, pub_id, ts, audience and
                             guaranteed from it) */
    zframe_t *raw_header; /* REPLAY, REPLAY_END as decoded: the header frame as received,
                             kept for tg_envelope_relay (encode ignores it) */
} tg_envelope_t;

/* Caller owns the result: a zeroed envelope for `command`. */
tg_envelope_t *tg_envelope_new(tg_command_t command);

/* Frees the envelope and everything it points to; safe on NULL and twice. */
void tg_envelope_destroy(tg_envelope_t **self_p);

/* Decodes a message whose routing frames (if any) were already popped.
   Takes ownership of *msg_p (destroys it and nulls the pointer) whatever the
   outcome. Returns a new envelope (caller owns), or NULL when the message is
   malformed; then `reason` (if not NULL) receives a short static description
   such as "unknown command" or "bad field: topic". Never asserts on bad
   bytes. The body frame is moved, not copied. */
tg_envelope_t *tg_envelope_decode(zmsg_t **msg_p, const char **reason);

/* Encodes self into a new message (caller owns). If self->body is set, the
   body frame is moved into the message and self->body becomes NULL, so the
   bytes are not copied; so is self->stored (STORE, REPLAY). An EVENT with
   an audience (router -> edge) gets its sub_ids frame (1..TG_MAX_SUB_IDS
   ids). Misuse (missing required field or frame) asserts. */
zmsg_t *tg_envelope_encode(tg_envelope_t *self);

/* The router's fan-out of one EVENT, encoded once and sent per edge.

   tg_envelope_event_header: the header frame every edge gets for `event`
   (an EVENT as decoded from an ingest: its pub_id, ts, topic, to_users),
   with the type's audience and guaranteed. `event` and `audience` are
   read, not kept. Caller owns the result.

   tg_envelope_event_send: sends one edge its EVENT, [routing_id]["EVENT"]
   [header][body][sub_ids], on the ROUTER `sock`. routing_id, header and
   body are borrowed and sent shared (zmq_msg_copy: a reference to the
   same bytes, none copied), the command from a constant; only the sub_ids
   frame (1..TG_MAX_SUB_IDS ids) is packed here. Non-blocking: 0, or -1
   when the edge is full or unknown (nothing was sent; the caller counts
   the drop). */
zframe_t *tg_envelope_event_header(const tg_envelope_t *event, const char *audience,
                                   bool guaranteed);
int tg_envelope_event_send(zsock_t *sock, zframe_t *routing_id, zframe_t *header, zframe_t *body,
                           const uint64_t *sub_ids, size_t count);

/* Sends self (a STORE or REPLAY whose stored and body are NULL) with the
   borrowed `stored` header and `body` frames shared, not copied: [routing_id]
   [command][header][stored][body] on `sock` (routing_id NULL for a DEALER).
   The caller keeps its frames (the router holds a pending event's until
   persist answers). Non-blocking: 0, or -1 when nothing was sent. */
int tg_envelope_send_frames(tg_envelope_t *self, zsock_t *sock, zframe_t *routing_id,
                            zframe_t *stored, zframe_t *body);

/* Forwards a decoded REPLAY or REPLAY_END unchanged to `routing_id` (borrowed)
   on the ROUTER `sock`: the header frame as received (raw_header), then the
   stored header and body for a REPLAY, all moved out of self (the bytes the
   edge gets are the bytes persist sent). Non-blocking: 0, or -1 when the
   peer is full or unknown (dropped; the caller counts it). */
int tg_envelope_relay(tg_envelope_t *self, zsock_t *sock, zframe_t *routing_id);

/* Encodes and sends on sock (non-blocking: ZMQ_DONTWAIT). Same ownership as
   tg_envelope_encode, and self is left intact otherwise. Returns 0, or -1 when
   the socket would block or the peer is unroutable (the message is dropped,
   the caller counts it). */
int tg_envelope_send(tg_envelope_t *self, zsock_t *sock);

/* Like tg_envelope_send, but first pushes `routing_id` (copied) so a ROUTER
   socket delivers to that peer. */
int tg_envelope_send_to(tg_envelope_t *self, zsock_t *sock, zframe_t *routing_id);

/* Name of a command ("EVENT"), or "?" */
const char *tg_command_name(tg_command_t command);

/* "exact" / "prefix" / "wildcard"; tg_match_parse returns 0 and sets *match,
   or -1 on an unknown string. */
const char *tg_match_name(tg_match_t match);
int tg_match_parse(const char *text, tg_match_t *match);

/* Appends (name, value) to self->stats (growing it); at most TG_MAX_STATS. */
void tg_envelope_add_stat(tg_envelope_t *self, const char *name, int64_t value);

#endif
