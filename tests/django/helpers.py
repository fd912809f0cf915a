"""Shared test helpers: a real PULL socket standing in for the ingest (what
the publisher sends IS the wire), a fake acknowledged ingest (ROUTER), and
bounded waits."""

import os
import sys
import threading
import time

import msgpack
import zmq
from django.test import override_settings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.path.join(REPO, os.environ.get("TELEGRAPHY_BIN_DIR", "build-asan/bin"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from django.conf import settings  # noqa: E402

from gateway import free_ports, wait_for  # noqa: E402,F401 - tests/integration/gateway.py, re-exported


def telegraphy_settings(**overrides):
    """override_settings with TELEGRAPHY = the test settings + overrides."""
    return override_settings(TELEGRAPHY={**settings.TELEGRAPHY, **overrides})


class PullIngest:
    """Binds a PULL socket on a free loopback port and decodes what arrives:
    (command, header dict, body dict or None)."""

    def __init__(self):
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.PULL)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"

    def recv(self, timeout=5.0):
        if not self.socket.poll(int(timeout * 1000)):
            raise AssertionError(f"nothing arrived at {self.endpoint} within {timeout}s")
        frames = self.socket.recv_multipart()
        header = msgpack.unpackb(frames[1], raw=False)
        body = msgpack.unpackb(frames[2], raw=False) if len(frames) > 2 else None
        return frames[0].decode(), header, body

    def recv_publish(self, timeout=5.0):
        """The next PUBLISH, skipping REGISTERs."""
        deadline = time.monotonic() + timeout
        while True:
            cmd, header, body = self.recv(max(0.01, deadline - time.monotonic()))
            if cmd == "PUBLISH":
                return header, body

    def drain(self, timeout=0.2):
        """Everything that arrives until timeout passes with nothing new."""
        out = []
        while self.socket.poll(int(timeout * 1000)):
            out.append(self.recv(0))
        return out

    def close(self):
        self.socket.close(linger=0)
        self.context.term()


class AckIngest:
    """A fake acknowledged ingest: a ROUTER on a free port answering each
    request with answer(command, header) -> (reply command, reply header)
    or None (no answer), in a thread."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            if not self.socket.poll(50):
                continue
            frames = self.socket.recv_multipart()
            identity, cmd, header = frames[0], frames[1].decode(), msgpack.unpackb(frames[2], raw=False)
            self.requests.append((cmd, header))
            reply = self.answer(cmd, header)
            if reply is not None:
                self.socket.send_multipart([identity, reply[0].encode(),
                                            msgpack.packb({"v": 1, "req": header["req"], **reply[1]})])

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.socket.close(linger=0)
        self.context.term()
