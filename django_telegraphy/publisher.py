"""The publisher: how events leave Django for the gateway's ingest.

- Fire-and-forget events go out on a ZeroMQ PUSH socket connected to
  TELEGRAPHY["INGEST"], made lazily on the first send in each process and
  made again after fork (the pid is checked on every send: gunicorn/uwsgi
  pre-fork workers each get their own). Its send high-water mark is
  QUEUE_SIZE and every send is non-blocking: when the queue is full (the
  gateway is down or slow) the event is dropped, `drops` is incremented and a
  log line is written at most once per DROP_LOG_INTERVAL seconds. A request
  never waits for the gateway.
- Guaranteed events go out on a DEALER socket to TELEGRAPHY["INGEST_ACK"]:
  PUBLISH{req} then wait for ACCEPTED{req, pub_id} at most ACK_TIMEOUT_MS.
  REJECTED or no answer raises TelegraphyDeliveryError: the caller knows, the
  event is never dropped silently. The path is multiplexed: any number of
  threads wait at once, each for its own req, over the one DEALER (so their
  events share the gateway's group commits); one of them at a time runs the
  socket for all (Publisher says how), and each times out on its own
  deadline. When a request times out and the ingest has answered nothing
  since it was sent (the link is dead), the DEALER is closed (linger 0) so
  no late copy is sent, and the other requests sent on it fail with it.
- The two paths share nothing but the ZeroMQ context: each has its own
  socket, lock, state and counters (Publisher says why), so a guaranteed
  send waiting for its ACCEPTED never delays a fire-and-forget send.
- Registration: before the first send every declared event type is sent as
  a REGISTER on the PUSH socket (ahead of the PUBLISH, same pipe, so the
  ingest knows it first). They are sent again (1) when the PUSH socket
  reconnects (a socket monitor reports a new connection: the ingest
  restarted, possibly with the router, and nobody remembers the types),
  (2) every REGISTER_INTERVAL seconds, and (3) on the ack path, over the
  DEALER with acknowledgement, before the first guaranteed send of a type
  and again after a REJECTED telegraphy.error.unknown_event (then the send is
  retried once, and the PUSH path registers every type again too: the
  ingest forgot them).
- Settings: the publisher connects its own `setting_changed` receiver
  (below): a change of TELEGRAPHY closes this process's sockets, and the
  next send makes new ones from the new settings. conf.py knows nothing of
  the publisher.
"""

import atexit
import logging
import os
import random
import threading
import time
from typing import Any, Dict, List, Optional

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from django.core.signals import setting_changed

from . import registry
from .conf import get_config
from .exceptions import TelegraphyDeliveryError
from .serialization import pack

logger = logging.getLogger("django_telegraphy.publisher")

DROP_LOG_INTERVAL = 10.0
UNKNOWN_EVENT = "telegraphy.error.unknown_event"
MAX_REQ = 2**53
# Flags as plain ints: send() with an enum combination costs an Enum.__or__.
_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.NOBLOCK | zmq.SNDMORE)
_POLLIN = int(zmq.POLLIN)
_PUBLISH = b"PUBLISH"


class Publisher:
    """One process's sockets to the ingest, in two paths that share only
    the ZeroMQ context. Fork-safe (checks the pid).

    Thread-safe, with one lock per path, because ZeroMQ sockets are not
    thread-safe and the two paths hold their lock for very different times:

    - `push_lock`: the fire-and-forget path. The PUSH socket, its monitor,
      the REGISTERs sent on it (`registered` ...), the drop log and
      `push_stats`. Held only for non-blocking work: every send is NOBLOCK.
    - `ack_lock`: the acknowledged path's state: the requests in flight
      (`pending`, by req, in send order), those not sent yet (`outbox`),
      who runs the DEALER (`leading`), the req numbers, `ack_stats`. Held
      only for bookkeeping, never across a round trip. The DEALER itself is
      touched by one thread at a time, the *leader*: the first thread with
      a request when nobody leads. It sends every queued request, polls the
      DEALER (and a wake-up pipe other threads write to when they queue a
      request while it sleeps), routes each reply to the thread waiting for
      its req (that thread sleeps on its own lock), fails the requests whose
      deadline passed, and once its own request is answered hands the
      socket to another waiting thread (or leaves it idle). So a request
      waits for its own answer only, never for other threads' round trips.
    - `context_lock`: making the shared context, the first time either path
      makes its socket.

    Order: close() takes `ack_lock` (waiting until nobody leads) then
    `push_lock`; the acknowledged path takes `push_lock` only while holding
    no other lock (to make the PUSH path register again after
    unknown_event), so the PUSH path never waits for an acknowledgement. The counters are separate per path (an increment is not
    atomic) and summed by counters().
    """

    def __init__(self, config: Dict[str, Any]):
        self.config = config
        self.pid = os.getpid()
        self.context_lock = threading.Lock()
        self.context: Optional[zmq.Context] = None
        # The fire-and-forget path, under push_lock.
        self.push_lock = threading.Lock()
        self.lock = self.push_lock  # its former name: bench/publishers/publish_telegraphy.py reads the monitor with it
        self.push: Optional[zmq.Socket] = None
        self.monitor: Optional[zmq.Socket] = None
        self.registered: set = set()  # names sent as REGISTER on the PUSH since the last (re)connect
        self.registered_version = -1  # registry.version() when every type was in `registered`
        self.register_at = 0.0
        self.connects = 0
        self.topic_headers: Dict[str, bytes] = {}  # name -> packed {"v": 1, "topic": name}: encoded once
        self.push_stats = {"sent": 0, "drops": 0, "registers": 0, "reconnects": 0}
        self.drop_logged_at = 0.0
        self.drops_unlogged = 0
        # The acknowledged path, under ack_lock (the DEALER: its leader only).
        self.ack_lock = threading.Lock()
        self.ack_idle = threading.Condition(self.ack_lock)  # notified when nobody leads any more
        self.dealer: Optional[zmq.Socket] = None
        self.pending: Dict[int, _Request] = {}  # req -> request in flight, in send order
        self.outbox: List[_Request] = []  # queued for the leader to send
        self.leading = False  # a thread runs the DEALER
        self.polling = False  # the leader sleeps in poll: write to the wake-up pipe
        self.woken = False  # a byte is in the wake-up pipe
        self.wake_r = self.wake_w = -1  # the wake-up pipe, made with the first request
        self.last_reply_at = 0.0  # monotonic time of the DEALER's last reply
        self.acknowledged: set = set()  # names the ingest ACCEPTED as REGISTER on the DEALER
        self.req = random.randint(1, 2**31)
        self.ack_stats = {"sent": 0, "registers": 0, "rejected": 0, "timeouts": 0}

    # -- sockets ------------------------------------------------------------

    def _zmq_context(self) -> zmq.Context:
        with self.context_lock:
            if self.context is None:
                self.context = zmq.Context()
            return self.context

    def _open_push(self) -> None:
        push = self._zmq_context().socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, int(self.config["QUEUE_SIZE"]))
        push.setsockopt(zmq.LINGER, int(self.config["LINGER_MS"]))
        self.monitor = push.get_monitor_socket(zmq.EVENT_CONNECTED)
        push.connect(self.config["INGEST"])
        self.push = push

    def _dealer(self) -> zmq.Socket:
        if self.dealer is None:
            self.dealer = self._zmq_context().socket(zmq.DEALER)
            self.dealer.setsockopt(zmq.LINGER, 0)
            self.dealer.connect(self.config["INGEST_ACK"])
        return self.dealer

    def _drop_dealer(self) -> None:
        if self.dealer is not None:
            self.dealer.close(linger=0)
            self.dealer = None

    def close(self) -> None:
        """Closes the sockets (queued events get LINGER_MS to leave). Waits
        for a guaranteed send in progress (ACK_TIMEOUT_MS at most). Does
        nothing in a forked child (the parent's sockets are not its own, and
        its locks may have been held by a parent thread at fork)."""
        if self.pid != os.getpid():
            return
        with self.ack_lock:
            deadline = time.monotonic() + int(self.config["ACK_TIMEOUT_MS"]) / 1000.0 + 1.0
            while self.leading and time.monotonic() < deadline:
                self.ack_idle.wait(max(0.001, deadline - time.monotonic()))
            self._drop_dealer()
            for fd in (self.wake_r, self.wake_w):
                if fd >= 0:
                    os.close(fd)
            self.wake_r = self.wake_w = -1
            self.woken = False
            with self.push_lock:
                if self.push is not None:
                    self.push.disable_monitor()
                    self.monitor.close(linger=0)
                    self.push.close()
                    self.push = self.monitor = None
                with self.context_lock:
                    if self.context is not None:
                        self.context.term()
                        self.context = None

    # -- the fire-and-forget path (push_lock) ----------------------------------

    def _forget_registrations(self) -> None:
        """Every type is sent as REGISTER on the PUSH again before its next
        PUBLISH. Under push_lock."""
        self.registered.clear()
        self.registered_version = -1

    def _note_connections(self) -> None:
        """Reads the PUSH socket's monitor: a connection after the first
        means the ingest came back, so every type is registered again.
        Asks ZMQ_EVENTS first: a receive that finds nothing raises, and an
        exception per send() would be its largest cost."""
        while self.monitor.getsockopt(zmq.EVENTS) & _POLLIN:
            try:
                recv_monitor_message(self.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            self.connects += 1
            if self.connects > 1:
                self.push_stats["reconnects"] += 1
                logger.info("telegraphy: ingest reconnected endpoint=%s, registering event types again",
                            self.config["INGEST"])
                self._forget_registrations()

    def _register_pending(self) -> None:
        interval = float(self.config["REGISTER_INTERVAL"] or 0)
        now = time.monotonic()
        if interval > 0 and now - self.register_at >= interval:
            self._forget_registrations()
        current = registry.version()
        if self.registered and self.registered_version == current:
            return  # the common case: nothing new to register
        pending = [c for c in registry.all_types() if c.name not in self.registered]
        if pending:
            self.register_at = now
        for cls in pending:
            try:
                self.push.send_multipart([b"REGISTER", pack({"v": 1, "type": cls.type_map()})], zmq.NOBLOCK)
            except zmq.Again:
                return  # queue full: retried on the next send
            self.registered.add(cls.name)
            self.push_stats["registers"] += 1
        self.registered_version = current

    def _publish_push(self, cls: type, to_users: Optional[List[str]], body: bytes) -> bool:
        """Under push_lock: never blocks."""
        if self.push is None:
            self._open_push()
        self._note_connections()
        self._register_pending()
        if to_users is None:
            header = self._topic_header(cls.name)
        else:
            header = pack(self._header(cls.name, to_users))
        # The three frames by hand (send_multipart's generality costs more
        # than the send): a multipart message is queued whole or not at all,
        # and only its first frame can meet the high-water mark, so Again can
        # only come from the first send.
        push = self.push
        try:
            push.send(_PUBLISH, _MORE_NOBLOCK)
        except zmq.Again:
            self._count_drop(cls.name)
            return False
        push.send(header, _MORE_NOBLOCK)
        push.send(body, _NOBLOCK)
        self.push_stats["sent"] += 1
        return True

    def _topic_header(self, name: str) -> bytes:
        """The packed header of an event to everyone allowed: the same bytes
        for every send of a type, so packed once."""
        frame = self.topic_headers.get(name)
        if frame is None:
            frame = self.topic_headers[name] = pack(self._header(name, None))
        return frame

    def _count_drop(self, name: str) -> None:
        self.push_stats["drops"] += 1
        self.drops_unlogged += 1
        now = time.monotonic()
        if now - self.drop_logged_at >= DROP_LOG_INTERVAL:
            logger.warning("telegraphy: drop event=%s reason=queue_full endpoint=%s drops=%d since_last_log=%d",
                           name, self.config["INGEST"], self.push_stats["drops"], self.drops_unlogged)
            self.drop_logged_at = now
            self.drops_unlogged = 0

    # -- the acknowledged path (ack_lock; the DEALER: its leader only) ---------

    def _next_req(self) -> int:
        with self.ack_lock:
            self.req = self.req % MAX_REQ + 1
            return self.req

    def _count(self, key: str) -> None:
        with self.ack_lock:
            self.ack_stats[key] += 1

    def _request(self, frames: List[bytes], req: int, what: str) -> Dict[str, Any]:
        """Sends frames (req: the one in their header) over the DEALER and
        waits for the ACCEPTED/REJECTED carrying the same req, while other
        threads' requests are in flight too. Returns the reply header plus
        "command". Raises TelegraphyDeliveryError on timeout."""
        timeout = int(self.config["ACK_TIMEOUT_MS"])
        me = _Request(req, frames, time.monotonic() + timeout / 1000.0, what, timeout)
        wake = lead = False
        with self.ack_lock:
            if self.wake_r < 0:
                self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self.pending[req] = me
            self.outbox.append(me)
            if not self.leading:
                self.leading = lead = True
            elif self.polling and not self.woken:
                self.woken = wake = True
        if wake:
            try:
                os.write(self.wake_w, b"w")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already
        while not lead:
            # A follower: answered, failed or promoted by the leader.
            if not me.wakeup.acquire(timeout=max(0.0, me.deadline - time.monotonic()) + 1.0):
                with self.ack_lock:  # the leader is stuck: fail on our own
                    if me.reply is None and me.error is None and not me.lead:
                        self._fail(me)
            with self.ack_lock:
                if me.reply is not None or me.error is not None:
                    break
                lead = me.lead
        if lead:
            self._lead(me)
        if me.error is not None:
            raise me.error
        return me.reply

    def _fail(self, request: "_Request") -> None:
        """Under ack_lock: request timed out (it leaves pending and outbox)."""
        self.pending.pop(request.req, None)
        if request.sent_at is None and request in self.outbox:
            self.outbox.remove(request)
        self.ack_stats["timeouts"] += 1
        request.error = TelegraphyDeliveryError(
            f"telegraphy: no answer from the ingest at {self.config['INGEST_ACK']} within {request.timeout_ms} ms "
            f"({request.what})", error="timeout")
        request.wakeup.release()

    def _expire(self, now: float) -> None:
        """Under ack_lock: fails every request whose deadline passed (pending
        is in deadline order). A request that got no answer while the ingest
        answered nothing since it was sent means a dead link: the DEALER goes
        (no late copy leaves it) with every request sent on it."""
        dead = False
        for request in list(self.pending.values()):
            if request.deadline > now:
                break
            if request.sent_at is not None and self.last_reply_at < request.sent_at:
                dead = True
            self._fail(request)
        if dead:
            for request in list(self.pending.values()):
                if request.sent_at is not None:
                    self._fail(request)
            self._drop_dealer()

    def _lead(self, me: "_Request") -> None:
        """Runs the DEALER for every thread until `me` is answered or
        failed: sends what is queued, routes replies by req, expires
        requests; then hands the socket to another waiting thread."""
        try:
            poller = dealer = None
            while True:
                with self.ack_lock:
                    self._expire(time.monotonic())
                    if me.reply is not None or me.error is not None:
                        return
                    out, self.outbox = self.outbox, []
                    if self.dealer is None or self.dealer is not dealer:
                        dealer = self._dealer()
                        poller = zmq.Poller()
                        poller.register(dealer, zmq.POLLIN)
                        poller.register(self.wake_r, zmq.POLLIN)
                    now = time.monotonic()
                    for request in out:
                        request.sent_at = now
                    first = next(iter(self.pending.values()))
                    wait_ms = max(1, int((first.deadline - now) * 1000) + 1)
                    self.polling = not out
                for request in out:
                    try:
                        dealer.send_multipart(request.frames, zmq.NOBLOCK)
                    except zmq.Again:
                        pass  # not connected and queue full: it times out
                if out:
                    wait_ms = 0  # replies first, then sleep
                events = dict(poller.poll(wait_ms))
                replies = []
                while dealer.getsockopt(zmq.EVENTS) & _POLLIN:
                    replies.append(dealer.recv_multipart(zmq.NOBLOCK))
                with self.ack_lock:
                    self.polling = False
                    if self.woken or self.wake_r in events:
                        self.woken = False
                        try:
                            os.read(self.wake_r, 4096)
                        except BlockingIOError:
                            pass
                    if replies:
                        self.last_reply_at = time.monotonic()
                    for reply in replies:
                        self._route(reply, me)
        finally:
            with self.ack_lock:
                self.polling = False
                if self.pending.pop(me.req, None) is me and me in self.outbox:  # left by an exception
                    self.outbox.remove(me)
                successor = next(iter(self.pending.values()), None)
                if successor is None:
                    self.leading = False
                    self.ack_idle.notify_all()
                else:
                    successor.lead = True
                    successor.wakeup.release()

    def _route(self, frames: List[bytes], me: "_Request") -> None:
        """Under ack_lock: one reply to the request carrying its req (a
        stale, unknown or undecodable reply is ignored)."""
        if len(frames) < 2:
            return
        try:
            header = msgpack.unpackb(frames[1], raw=False)
        except Exception:  # noqa: BLE001 - a bad reply is ignored like a stale one
            return
        if not isinstance(header, dict):
            return
        request = self.pending.pop(header.get("req"), None) if isinstance(header.get("req"), int) else None
        if request is None:
            return
        header["command"] = frames[0].decode("ascii", "replace")
        request.reply = header
        if request is not me:
            request.wakeup.release()

    def _register_acknowledged(self, cls: type) -> None:
        req = self._next_req()
        reply = self._request([b"REGISTER", pack({"v": 1, "req": req, "type": cls.type_map()})], req,
                              f"REGISTER {cls.name}")
        if reply["command"] != "ACCEPTED":
            self._count("rejected")
            raise TelegraphyDeliveryError(
                f"telegraphy: REGISTER {cls.name} rejected: {reply.get('error')} {reply.get('message', '')}",
                error=str(reply.get("error", "")), event=cls.name)
        self.acknowledged.add(cls.name)
        self._count("registers")

    def _publish_acknowledged(self, cls: type, header: Dict[str, Any], body: bytes) -> int:
        """Blocks for up to ACK_TIMEOUT_MS per round trip; other threads'
        round trips run at the same time."""
        # Every declared type is announced before the first send, whichever
        # path that send takes (DESIGN 2.5): the others go on the PUSH as
        # they would there (once per registry version: a set lookup after).
        with self.push_lock:
            if self.push is None:
                self._open_push()
            self._note_connections()
            self._register_pending()
        if cls.name not in self.acknowledged:
            self._register_acknowledged(cls)
        for attempt in (1, 2):
            header["req"] = self._next_req()
            reply = self._request([b"PUBLISH", pack(header), body], header["req"], f"PUBLISH {cls.name}")
            if reply["command"] == "ACCEPTED":
                self._count("sent")
                return int(reply.get("pub_id", 0))
            if reply.get("error") == UNKNOWN_EVENT and attempt == 1:
                # The gateway restarted and forgot every type: teach it this
                # one again now, and the others on both paths before use.
                self.acknowledged.clear()
                with self.push_lock:
                    self._forget_registrations()
                self._register_acknowledged(cls)
                continue
            self._count("rejected")
            raise TelegraphyDeliveryError(
                f"telegraphy: event {cls.name} rejected: {reply.get('error')}: {reply.get('message', '')}",
                error=str(reply.get("error", "")), event=cls.name)
        raise AssertionError("unreachable")

    # -- both ------------------------------------------------------------------

    def publish(self, cls: type, body: bytes, to_users: Optional[List[str]]) -> Any:
        """Sends one event (body: its msgpack map). See the module comment
        for the guarantees; returns True/False (queued/dropped) or the
        pub_id of a guaranteed event."""
        if not self.config.get("ENABLED", True):
            return False
        if cls.guaranteed:
            return self._publish_acknowledged(cls, self._header(cls.name, to_users), body)
        with self.push_lock:
            return self._publish_push(cls, to_users, body)

    @staticmethod
    def _header(name: str, to_users: Optional[List[str]]) -> Dict[str, Any]:
        header: Dict[str, Any] = {"v": 1, "topic": name}
        if to_users is not None:
            header["to_users"] = to_users
        return header

    def counters(self) -> Dict[str, int]:
        """Both paths' counters, summed where both count (sent, registers).
        Read without the locks: each value is one int, read whole."""
        push, ack = dict(self.push_stats), dict(self.ack_stats)
        return {"sent": push["sent"] + ack["sent"], "drops": push["drops"],
                "registers": push["registers"] + ack["registers"], "reconnects": push["reconnects"],
                "rejected": ack["rejected"], "timeouts": ack["timeouts"]}


class _Request:
    """One acknowledged request in flight: its req, frames and own deadline,
    its reply or error, and the lock its thread sleeps on (taken at once;
    released once, by the leader that answers, fails or promotes it)."""

    __slots__ = ("req", "frames", "deadline", "what", "timeout_ms", "sent_at", "reply", "error", "lead", "wakeup")

    def __init__(self, req: int, frames: List[bytes], deadline: float, what: str, timeout_ms: int):
        self.req = req
        self.frames = frames
        self.deadline = deadline
        self.what = what
        self.timeout_ms = timeout_ms
        self.sent_at: Optional[float] = None  # when the leader sent it; None while in the outbox
        self.reply: Optional[Dict[str, Any]] = None
        self.error: Optional[TelegraphyDeliveryError] = None
        self.lead = False  # promoted: its thread runs the DEALER next
        self.wakeup = threading.Lock()
        self.wakeup.acquire()


_lock = threading.Lock()
_publisher: Optional[Publisher] = None
_abandoned: List[Publisher] = []  # a parent's publisher after fork: never touched, never closed


def get_publisher() -> Publisher:
    """This process's publisher, made on first use and after fork."""
    global _publisher
    with _lock:
        if _publisher is None or _publisher.pid != os.getpid():
            if _publisher is not None:
                _abandoned.append(_publisher)
            _publisher = Publisher(get_config())
        return _publisher


def reset() -> None:
    """Closes and forgets this process's publisher (settings changed)."""
    global _publisher
    with _lock:
        old, _publisher = _publisher, None
    if old is not None:
        old.close()


def stats() -> Dict[str, int]:
    """Counters of this process's publisher: sent, drops, registers,
    reconnects, rejected, timeouts."""
    with _lock:
        return _publisher.counters() if _publisher is not None and _publisher.pid == os.getpid() else {}


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    """`setting_changed` receiver: the sockets were made from the old
    TELEGRAPHY, so they are closed; the next send makes new ones. conf.py's
    own receiver forgets the cached settings; it is connected first (this
    module imports conf), so it runs first, and the next publisher reads
    the new settings."""
    if setting == "TELEGRAPHY":
        reset()


setting_changed.connect(_setting_changed, dispatch_uid="telegraphy:publisher")
atexit.register(reset)
