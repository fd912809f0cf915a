/*  tg_wamp: WAMP v2 message codec for both serializers the edge speaks,
    wamp.2.json (jansson) and wamp.2.msgpack (msgpack-c).

    Client messages are decoded into a jansson array (msgpack is converted),
    then checked per message type into small structs: the edge never walks
    untrusted trees itself. Server messages are encoded from jansson values,
    except EVENT, the hot path, which is composed directly from the event's
    pre-rendered kwargs (raw msgpack bytes, or JSON text rendered once per
    event by tg_body_to_json).
*/
#ifndef TG_WAMP_H
#define TG_WAMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tg_buf.h"

typedef enum { TG_WAMP_JSON = 0, TG_WAMP_MSGPACK = 1 } tg_wamp_serializer_t;

enum {
    TG_WAMP_HELLO = 1,
    TG_WAMP_WELCOME = 2,
    TG_WAMP_ABORT = 3,
    TG_WAMP_CHALLENGE = 4,
    TG_WAMP_AUTHENTICATE = 5,
    TG_WAMP_GOODBYE = 6,
    TG_WAMP_ERROR = 8,
    TG_WAMP_PUBLISH = 16,
    TG_WAMP_PUBLISHED = 17,
    TG_WAMP_SUBSCRIBE = 32,
    TG_WAMP_SUBSCRIBED = 33,
    TG_WAMP_UNSUBSCRIBE = 34,
    TG_WAMP_UNSUBSCRIBED = 35,
    TG_WAMP_EVENT = 36,
    TG_WAMP_CALL = 48,
    TG_WAMP_RESULT = 50,
};

#define TG_WAMP_MAX_ID    9007199254740992LL /* 2^53 */
#define TG_WAMP_MAX_DEPTH 32                 /* nesting accepted from clients */

/* Decodes one client message. Returns a new JSON array (caller owns,
   json_decref) whose first element is an integer message type, or NULL with
   a short reason in err (e.g. "invalid JSON at column 12", "not an array",
   "invalid UTF-8"). For msgpack: maps with non-string keys, ext types and
   nesting over TG_WAMP_MAX_DEPTH are errors; binary becomes WAMP's JSON
   binary string; the one exception to "no ext" is msgpackr's `undefined`
   (fixext1, type 0, data 0, as wampy sends it), which reads as absent: a
   map entry holding it is dropped, elsewhere it becomes null. Never
   asserts on bad bytes.
   Both serializers, alike: the whole input must be strict UTF-8 (JSON) or
   hold only strict UTF-8 strings (msgpack); nesting is limited to
   TG_WAMP_MAX_DEPTH containers, the message array included, and checked
   before any tree is built; a repeated key in one object, a NUL in a key,
   an integer outside int64, a non-finite float and trailing bytes are
   errors. JSON "\u0000" is accepted in strings (WAMP binary). */
json_t *tg_wamp_decode(tg_wamp_serializer_t ser, const void *data, size_t size, char *err,
                       size_t errlen);

/* Message type of a decoded message (first element). */
int tg_wamp_type(const json_t *msg);

/* Parsed client messages. Pointers borrow from the decoded json_t, valid
   while it lives. Each parse returns 0, or -1 with a reason in err when the
   arity or a type is wrong (ids must be integers in [1, 2^53], URIs
   non-empty strings, dicts objects). */
typedef struct {
    const char *realm;
    json_t *details;     /* object */
    json_t *authmethods; /* array of strings or NULL */
    const char *authid;  /* or NULL */
} tg_wamp_hello_t;

typedef struct {
    const char *signature;
    json_t *extra;
} tg_wamp_authenticate_t;

typedef struct {
    json_t *details;
    const char *reason;
} tg_wamp_goodbye_t;

typedef struct {
    int64_t request;
    json_t *options; /* object */
    const char *topic;
    const char *match;  /* options.match or "exact" */
    const char *filter; /* options._filter or NULL */
} tg_wamp_subscribe_t;

typedef struct {
    int64_t request;
    int64_t subscription;
} tg_wamp_unsubscribe_t;

typedef struct {
    int64_t request;
    json_t *options;
    const char *topic;
    json_t *args;   /* array or NULL */
    json_t *kwargs; /* object or NULL */
} tg_wamp_publish_t;

typedef struct {
    int64_t request;
    json_t *options;
    const char *procedure;
    json_t *args;   /* array or NULL */
    json_t *kwargs; /* object or NULL */
} tg_wamp_call_t;

int tg_wamp_parse_hello(const json_t *msg, tg_wamp_hello_t *out, char *err, size_t errlen);
int tg_wamp_parse_authenticate(const json_t *msg, tg_wamp_authenticate_t *out, char *err,
                               size_t errlen);
int tg_wamp_parse_goodbye(const json_t *msg, tg_wamp_goodbye_t *out, char *err, size_t errlen);
int tg_wamp_parse_subscribe(const json_t *msg, tg_wamp_subscribe_t *out, char *err, size_t errlen);
int tg_wamp_parse_unsubscribe(const json_t *msg, tg_wamp_unsubscribe_t *out, char *err,
                              size_t errlen);
int tg_wamp_parse_publish(const json_t *msg, tg_wamp_publish_t *out, char *err, size_t errlen);
int tg_wamp_parse_call(const json_t *msg, tg_wamp_call_t *out, char *err, size_t errlen);

/* Encodes a server message given as a JSON array into out (appended after
   out's headroom). For msgpack, JSON integers become msgpack integers, reals
   floats, WAMP binary strings bin. Returns 0 or -1 (value not encodable). */
int tg_wamp_encode(tg_wamp_serializer_t ser, const json_t *msg, tg_buf_t *out);

/* Convenience builders for the messages the edge sends; each returns a new
   JSON array (caller owns). */
json_t *tg_wamp_welcome(int64_t session, json_t *details_stolen);
json_t *tg_wamp_abort(const char *reason, const char *message);
json_t *tg_wamp_goodbye(const char *reason);
json_t *tg_wamp_error(int request_type, int64_t request, const char *error, const char *message);
json_t *tg_wamp_subscribed(int64_t request, int64_t subscription);
json_t *tg_wamp_unsubscribed(int64_t request);
json_t *tg_wamp_result(int64_t request, json_t *args_stolen);

/* EVENT details flags of tg_wamp_encode_event. */
#define TG_WAMP_EVENT_GUARANTEED 1u /* "_guaranteed": true: an ack is expected */
#define TG_WAMP_EVENT_REPLAY     2u /* "_replay": true: delivered from storage */

/* The hot path: appends
     [36, sub_id, pub_id, {"topic": topic?, "ts": ts, "_guaranteed": true?, "_replay": true?},
      [], KWARGS]
   to out, where KWARGS is `kwargs` verbatim: raw msgpack map bytes for
   TG_WAMP_MSGPACK, JSON text for TG_WAMP_JSON. `topic` NULL = omitted (exact
   subscriptions); flags (TG_WAMP_EVENT_*) add the marked keys, absent
   otherwise. No JSON library call: the envelope is a handful of integers
   and one escaped string. */
void tg_wamp_encode_event(tg_wamp_serializer_t ser, uint64_t sub_id, uint64_t pub_id,
                          const char *topic, uint64_t ts, unsigned flags, const void *kwargs,
                          size_t kwargs_len, tg_buf_t *out);

#endif
