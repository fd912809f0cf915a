#!/usr/bin/python3
"""Sends malformed traffic to the gateway's ZeroMQ endpoints (DESIGN §4:
every process survives any input on any socket).

Usage: zmq_garbage.py --router EP --control EP --ingest EP --ingest-ack EP [--raw]

For each endpoint it connects the socket type a real peer would use
(DEALER to the router and control ROUTER sockets and to the ingest's ack
ROUTER socket, PUSH to the ingest's PULL socket) and sends well-framed ZeroMQ
messages whose content is wrong: unknown commands, undecodable or mistyped
msgpack headers, a wrong protocol version, empty and huge frames. With --raw
it also writes bytes that are not ZMTP at all to each TCP port. Prints one
line per endpoint; exits 0 once everything was handed to the kernel.
Run it with Debian's /usr/bin/python3 (python3-zmq, python3-msgpack).
"""

import argparse
import random
import socket
import sys

import msgpack
import zmq

RNG = random.Random(42)


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


# Messages that no valid peer sends; none of them can register a peer.
COMMON = [
    [b"NOT_A_COMMAND", pack({"v": 1})],
    [b"\xff\xfe\x00"],
    [b""],
    [b"", b"", b"", b""],
    [b"EVENT"],
    [b"EVENT", b"\xc1\xc1\xc1"],
    [b"EVENT", pack([1, 2, 3])],
    [b"EVENT", pack({"v": 1, "pub_id": "one", "ts": -5, "topic": 7}), b"\x80"],
    [b"HELLO", pack({"v": 1, "role": 5, "instance": None})],
    [b"HELLO", pack({"v": 99, "role": "edge"})],
    [b"HELLO", b"\xdf\xff\xff\xff\xff"],  # map32 claiming 4 billion entries
    [b"SUBSCRIBE", pack({"v": 1, "req": "x", "topic": 5, "match": "sideways"})],
    [b"SUBSCRIBE", pack({"v": 1, "req": 1, "topic": "a" * 100000, "match": "exact"})],
    [b"UNSUBSCRIBE", pack({"v": 1, "sub_id": -1})],
    [b"HEARTBEAT", b""],
    [b"HEARTBEAT", pack({"v": 1, "instance": "\udcff".encode("utf-8", "surrogatepass")})],
    [b"REGISTER", pack({"v": 1, "event_type": {"name": "BAD NAME!!", "audience": 3}})],
    [b"REGISTER", b"\x91" * 2000],  # nested arrays, deeper than any limit
    [b"PUBLISH", pack({"v": 1, "topic": 123})],
    [b"PUBLISH", pack({"v": 1, "topic": "itest.badinput.tick"}), b"\xc1\xc1"],
    [b"PUBLISH", pack({"v": 1, "topic": "itest.badinput.tick"}), pack([1, 2])],
    [b"STATUS", b"\xc1"],
    [b"STATUS_REPLY", pack({"v": 1, "processes": "many"})],
    [b"ACCEPTED", pack({"v": 1, "req": 2**64 - 1})],
    [b"GARBAGE", RNG.randbytes(1 << 20)],
    [b"EVENT", pack({"v": 1}), RNG.randbytes(256), RNG.randbytes(256), RNG.randbytes(256)],
]


def send_zmq(ctx, kind, endpoint, messages):
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 3000)
    sock.setsockopt(zmq.SNDTIMEO, 3000)
    sock.connect(endpoint)
    sent = 0
    for msg in messages:
        sock.send_multipart(msg)
        sent += 1
    sock.close()  # linger: flushed to the peer before close returns
    return sent


def send_raw(endpoint):
    host, port = endpoint.replace("tcp://", "").rsplit(":", 1)
    payloads = [
        RNG.randbytes(4096),
        # A ZMTP signature followed by nonsense (bad version, huge length).
        b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x09\x09" + b"\xff" * 200,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for data in payloads:
        with socket.create_connection((host, int(port)), timeout=3) as s:
            # The peer may drop us at any point: that is a fine answer.
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(1)
                while s.recv(4096):
                    pass
            except OSError:
                pass
    return len(payloads)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--router", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--ingest", required=True)
    ap.add_argument("--ingest-ack", required=True)
    ap.add_argument("--raw", action="store_true")
    args = ap.parse_args()

    ctx = zmq.Context()
    targets = [
        ("router", zmq.DEALER, args.router),
        ("control", zmq.DEALER, args.control),
        ("ingest", zmq.PUSH, args.ingest),
        ("ingest-ack", zmq.DEALER, args.ingest_ack),
    ]
    for name, kind, endpoint in targets:
        n = send_zmq(ctx, kind, endpoint, COMMON)
        print(f"{name}: {n} malformed messages sent to {endpoint}")
    ctx.term()
    if args.raw:
        for name, _, endpoint in targets:
            n = send_raw(endpoint)
            print(f"{name}: {n} raw TCP garbage writes to {endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
