#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer targets (tests/fuzz/seeds/<target>/).

Seeds are small valid messages, so a short fuzz run starts from inside the
decoders instead of spending its time on the first bytes. Re-run after a
protocol change: /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import json
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
COMMANDS = ["PUBLISH", "REGISTER", "ACCEPTED", "REJECTED", "EVENT", "HELLO", "WELCOME",
            "HEARTBEAT", "SUBSCRIBE", "SUBSCRIBED", "SUBSCRIBE_ERROR", "UNSUBSCRIBE",
            "STATUS", "STATUS_REPLY", "TOKEN_SPEND", "MONITOR", "TAP", "STORE", "REPLAY",
            "REPLAY_END", "RESUME", "MORE", "ACK"]
BODY = {"order_id": 7, "carrier": "dhl", "note": "caf\u00e9", "n": None,
        "nested": {"a": [1, 2.5, True]}, "big": 2**63 - 1, "neg": -2**63, "bin": b"\x00\x01"}


def envelope(command, header, body=None, *more):
    """fuzz_envelope's input: a byte selecting the command, then length-prefixed frames
    (the header, the body if any, then `more`: values packed one per frame)."""
    out = bytes([COMMANDS.index(command)])
    frames = [msgpack.packb(header)] + ([msgpack.packb(body)] if body is not None else [])
    for frame in frames + [msgpack.packb(value) for value in more]:
        out += struct.pack(">H", len(frame)) + frame
    return out


def write(target, name, data):
    folder = os.path.join(HERE, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


type_def = {"name": "shop.order.shipped", "fields": ["carrier", "order_id"], "audience": "public",
            "ttl": 300, "guaranteed": True, "client_publish": False}
envelopes = {
    "publish": envelope("PUBLISH", {"v": 1, "topic": "shop.order.shipped", "req": 3, "to_users": ["7"]}, BODY),
    "event": envelope("EVENT", {"v": 1, "pub_id": 1700000000000000, "ts": 1700000000000000,
                                "topic": "a.b", "to_users": ["7"]}, BODY),
    # router -> edge: the audience marks the sub_ids frame after the body
    "event_to_edge": envelope("EVENT", {"v": 1, "pub_id": 1700000000000000,
                                        "ts": 1700000000000000, "topic": "a.b",
                                        "audience": "public", "guaranteed": False},
                              BODY, [1, 2, 2**53]),
    "register": envelope("REGISTER", {"v": 1, "req": 1, "type": type_def}),
    "subscribe": envelope("SUBSCRIBE", {"v": 1, "req": 9, "topic": "a..c", "match": "wildcard"}),
    "heartbeat": envelope("HEARTBEAT", {"v": 1, "instance": "edge-1", "uptime_ms": 5,
                                        "stats": {"sessions": 3, "events_in": 10}}),
    "status_reply": envelope("STATUS_REPLY", {"v": 1, "req": 2, "processes": [
        {"role": "edge", "instance": "e1", "uptime_ms": 1, "last_seen_ms": 2, "stats": {"drops": 0}}]}),
    "token_spend": envelope("TOKEN_SPEND", {"v": 1, "req": 5, "jti": "AAECAwQFBgcICQoLDA0ODw",
                                            "exp": 1893456000}),
    "monitor": envelope("MONITOR", {"v": 1, "role": "edge", "instance": "edge-1",
                                    "endpoint": "tcp://127.0.0.1:5562", "event": "disconnected",
                                    "value": -1, "ts": 1700000000000000}),
    "tap": envelope("TAP", {"v": 1, "topic": "shop.order", "pub_id": 1700000000000000,
                            "ts": 1700000000000000, "size": 9, "sub_ids_count": 2, "edges": 1},
                    BODY),
    "rejected": envelope("REJECTED", {"v": 1, "req": 4, "error": "telegraphy.error.unknown_event",
                                      "message": "no such type"}),
}
edge_header = {"v": 1, "pub_id": 1700000000000000, "ts": 1700000000000000,
               "topic": "shop.order.shipped", "to_users": ["7"], "audience": "authenticated",
               "guaranteed": True}


def stored(command, header, body):
    """A STORE or REPLAY: the header, the stored EVENT header frame, the body."""
    out = bytes([COMMANDS.index(command)])
    for frame in [msgpack.packb(header), msgpack.packb(edge_header), msgpack.packb(body)]:
        out += struct.pack(">H", len(frame)) + frame
    return out


envelopes.update({
    "event_req": envelope("EVENT", {"v": 1, "req": 12, "pub_id": 1700000000000000,
                                    "ts": 1700000000000000, "topic": "shop.order.shipped"}, BODY),
    "store": stored("STORE", {"v": 1, "req": 21, "expires_at": 1700000300000000,
                              "sub_ids": [42, 43]}, BODY),
    "store_retained": stored("STORE", {"v": 1, "expires_at": 1700000300000000, "sub_ids": []},
                             BODY),
    "replay": stored("REPLAY", {"v": 1, "req": 9, "instance": "edge-1", "sub_id": 42}, BODY),
    "replay_end": envelope("REPLAY_END", {"v": 1, "req": 9, "instance": "edge-1", "sub_id": 42,
                                          "pub_id": 1700000000000000}),
    "resume": envelope("RESUME", {"v": 1, "req": 9, "instance": "edge-1", "sub_id": 42,
                                  "topic": "shop.order", "match": "prefix", "filter": "n > 1",
                                  "client_id": "c-1", "persistent": True, "since": 5}),
    "more": envelope("MORE", {"v": 1, "req": 9, "instance": "edge-1"}),
    "ack": envelope("ACK", {"v": 1, "client_id": "c-1", "sub_id": 42, "pub_ids": [5, 6],
                            "upto": 4}),
    "subscribe_persistent": envelope("SUBSCRIBE", {"v": 1, "req": 9, "topic": "a.b",
                                                   "match": "exact", "client_id": "c-1",
                                                   "persistent": True, "since": 3}),
    "subscribed_replay": envelope("SUBSCRIBED", {"v": 1, "req": 9, "sub_id": 42,
                                                 "replay": True}),
    "subscribe_error_gap": envelope("SUBSCRIBE_ERROR", {"v": 1, "req": 9,
                                                        "error": "telegraphy.error.gap",
                                                        "pub_id": 77}),
    "rejected_gap": envelope("REJECTED", {"v": 1, "req": 9, "error": "telegraphy.error.gap",
                                          "message": "gap", "pub_id": 77,
                                          "instance": "edge-1"}),
    "unsubscribe_client": envelope("UNSUBSCRIBE", {"v": 1, "sub_id": 42, "client_id": "c-1"}),
    "hello_persist": envelope("HELLO", {"v": 1, "role": "persist", "instance": "persist-1"}),
})

for name, data in envelopes.items():
    write("fuzz_envelope", name, data)

wamp = {
    "hello": [1, "telegraphy", {"roles": {"subscriber": {}}, "authmethods": ["anonymous"]}],
    "subscribe": [32, 1, {"match": "prefix", "_filter": "room == \"lobby\""}, "chat"],
    "unsubscribe": [34, 2, 12345],
    "call": [48, 3, {}, "telegraphy.events.list", [], {}],
    "publish": [16, 4, {"acknowledge": True}, "chat.message", [1], {"text": "hi"}],
    "goodbye": [6, {}, "wamp.close.close_realm"],
    "authenticate": [5, "v1.abc.def", {}],
}
for name, message in wamp.items():
    write("fuzz_wamp_json", name, json.dumps(message))
    write("fuzz_wamp_msgpack", name, msgpack.packb(message))
write("fuzz_body", "body", msgpack.packb(BODY))
write("fuzz_body", "empty", msgpack.packb({}))
write("fuzz_body", "deep", msgpack.packb({"a": {"b": {"c": [[[{"d": 1.5}]]]}}}))

# tg_body_to_json against its jansson reference: a body, and bodies with
# the values whose JSON text has rules of its own (reals, escapes,
# binary, int64 ends, a map large enough to sort its keys).
EDGE_BODY = {"f": [0.1, 1.0, -0.0, 1e300, 5e-324, 1e17, 1e-7],
             "s": "\x00\x1f\"\\/\x7f caf\u00e9 \u2028 \U0001F600", "": "",
             "b": [b"", b"\x00\xff", b"abc"], "i": [2**63 - 1, -2**63, -33, 255, 65536],
             "m": {f"k{i}": i for i in range(20)}, "n": [None, True, False, [], {}]}
write("fuzz_body_json", "body", msgpack.packb(BODY))
write("fuzz_body_json", "edge", msgpack.packb(EDGE_BODY))
write("fuzz_body_json", "float32", msgpack.packb({"f": 1.5, "g": 0.1, "h": -0.0}, use_single_float=True))

# tg_query: filter texts for the parser; for the evaluator a 2-byte filter
# length, the filter, then a msgpack body.
FILTERS = {
    "design": 'author.id == 42 and status in ["draft", "published"]',
    "not_startswith": 'not deleted and title startswith "Re:"',
    "contains_exists": 'tags contains "urgent" or exists(assignee)',
    "channel": "room == 'lobby'",
    "nested": "not (a.b[2].c >= -1.5e3 or (x != null and 7 < y)) and \"v\" in tags",
    "escapes": 'note == "caf\\u00e9 \\"q\\" \\n\\t\\ud83d\\ude00"',
    "numbers": "big in [9223372036854775807, -9223372036854775808, 0.1, 1e300, 1.0]",
    "error": "a == 'unterminated",
}
for name, text in FILTERS.items():
    write("fuzz_query_parse", name, text)
QUERY_BODY = {"author": {"id": 42}, "status": "draft", "tags": ["urgent", "x", 1.5],
              "title": "Re: hi", "deleted": False, "note": "caf\u00e9", "big": 2**63 - 1,
              "a": {"b": [0, 1, {"c": -2000}]}, "x": None, "y": 8, "room": "lobby"}
for name, text in FILTERS.items():
    raw = text.encode()
    write("fuzz_query_eval", name, struct.pack(">H", len(raw)) + raw + msgpack.packb(QUERY_BODY))

# tg_token: the shared vectors (tests/fixtures/token_vectors.json), in the
# three modes of fuzz_token: byte 0 = a whole token, 1 = payload JSON the
# target signs, 2 = a payload part the target signs.
with open(os.path.join(HERE, "..", "fixtures", "token_vectors.json"), encoding="utf-8") as f:
    token_vectors = json.load(f)
for i, vector in enumerate(token_vectors["vectors"]):
    token = vector["token"].encode("ascii")
    write("fuzz_token", f"token_{i}", b"\x00" + token)
    write("fuzz_token", f"payload_{i}", b"\x01" + vector["payload_json"].encode("utf-8"))
    write("fuzz_token", f"part_{i}", b"\x02" + token.split(b".")[1])
for i, vector in enumerate(token_vectors["bad"]):
    write("fuzz_token", f"bad_{i}", b"\x00" + vector["token"].encode("ascii"))
