"""The publisher against real ZeroMQ sockets standing in for the ingest:
what arrives on the PULL socket is exactly what the gateway would read."""

import os
import threading
import time

from django.test import SimpleTestCase

import django_telegraphy as telegraphy
from django_telegraphy import publisher, registry
from helpers import AckIngest, PullIngest, free_ports, telegraphy_settings, wait_for


class Hello(telegraphy.Event):
    name = "djtest.pub.hello"
    fields = ["text", "n"]


class Shipped(telegraphy.Event):
    name = "djtest.pub.shipped"
    fields = ["order_id"]
    guaranteed = True
    ttl = 60


class PushTests(SimpleTestCase):
    def setUp(self):
        self.ingest = PullIngest()
        self.override = telegraphy_settings(INGEST=self.ingest.endpoint, REGISTER_INTERVAL=0)
        self.override.enable()
        self.addCleanup(lambda: self.ingest.close())
        self.addCleanup(self.override.disable)

    # The first send REGISTERs every declared type ahead of the PUBLISH, on
    # the same socket, then the PUBLISH carries topic, to_users and the body.
    def test_first_send_registers_every_declared_type_then_publishes(self):
        self.assertTrue(Hello(text="hé", n=1).send(to_users=["7", "alice"]))
        registers, publish = [], None
        while publish is None:
            cmd, header, body = self.ingest.recv()
            self.assertEqual(header["v"], 1)
            if cmd == "REGISTER":
                self.assertNotIn("req", header)
                registers.append(header["type"])
            else:
                publish = (cmd, header, body)
        names = {t["name"] for t in registers}
        self.assertEqual(names, {c.name for c in registry.all_types()})
        self.assertIn({"name": "djtest.pub.hello", "fields": ["n", "text"], "audience": "public", "ttl": 0,
                       "guaranteed": False, "client_publish": False}, registers)
        self.assertEqual(publish, ("PUBLISH", {"v": 1, "topic": "djtest.pub.hello", "to_users": ["7", "alice"]},
                                   {"text": "hé", "n": 1}))

    # Later sends do not register again; no to_users means no key (everybody).
    def test_later_sends_publish_only(self):
        Hello(text="a", n=1).send()
        self.ingest.recv_publish()
        Hello(text="b", n=2).send()
        cmd, header, body = self.ingest.recv()
        self.assertEqual((cmd, header, body), ("PUBLISH", {"v": 1, "topic": "djtest.pub.hello"}, {"text": "b", "n": 2}))

    # to_users accepts user objects (their pk) and an empty list (nobody).
    def test_to_users_takes_pks_and_empty_list(self):
        class U:
            pk = 42
        Hello(text="a", n=1).send(to_users=[U(), 5])
        self.assertEqual(self.ingest.recv_publish()[0]["to_users"], ["42", "5"])
        Hello(text="a", n=1).send(to_users=[])
        self.assertEqual(self.ingest.recv_publish()[0]["to_users"], [])

    # A type declared after the first send is registered before its own first send.
    def test_type_declared_later_is_registered_before_its_first_send(self):
        Hello(text="a", n=1).send()
        self.ingest.recv_publish()
        late = type("Late", (telegraphy.Event,), {"__module__": __name__, "name": "djtest.pub.late"})
        self.addCleanup(registry.remove, "djtest.pub.late")
        late(x=1).send()
        cmd, header, _ = self.ingest.recv()
        self.assertEqual((cmd, header["type"]["name"]), ("REGISTER", "djtest.pub.late"))
        self.assertEqual(self.ingest.recv()[1]["topic"], "djtest.pub.late")

    # REGISTER_INTERVAL: after it passes, the next send registers everything again.
    def test_types_are_registered_again_after_the_interval(self):
        with telegraphy_settings(INGEST=self.ingest.endpoint, REGISTER_INTERVAL=1.0):
            t = time.monotonic()
            Hello(text="a", n=1).send()
            first = [c for c, _, _ in self.ingest.drain(0.05)]
            self.assertIn("REGISTER", first)
            Hello(text="a", n=1).send()
            self.assertLess(time.monotonic() - t, 1.0, "test too slow to observe the interval")
            self.assertEqual([c for c, _, _ in self.ingest.drain(0.05)], ["PUBLISH"])
            time.sleep(max(0.0, t + 1.05 - time.monotonic()))  # the interval is the property under test
            Hello(text="a", n=1).send()
            again = [c for c, _, _ in self.ingest.drain(0.05)]
            self.assertEqual(again.count("REGISTER"), len(registry.all_types()))

    # When the ingest comes back (a new connection on the PUSH socket: it
    # restarted, perhaps with the router, and knows no types) the publisher
    # registers every type again before its next PUBLISH.
    def test_reconnection_to_a_restarted_ingest_registers_again(self):
        Hello(text="a", n=1).send()
        self.assertIn("REGISTER", [c for c, _, _ in self.ingest.drain(0.05)])
        endpoint = self.ingest.endpoint
        self.ingest.close()
        self.ingest = PullIngest.__new__(PullIngest)  # the same endpoint, bound again
        import zmq
        self.ingest.context = zmq.Context()
        self.ingest.socket = self.ingest.context.socket(zmq.PULL)
        self.ingest.socket.setsockopt(zmq.LINGER, 0)
        self.ingest.socket.bind(endpoint)
        self.ingest.endpoint = endpoint
        seen = []

        def registered_again():
            Hello(text="b", n=2).send()
            seen.extend(c for c, _, _ in self.ingest.drain(0.05))
            return "REGISTER" in seen
        wait_for("a REGISTER after the reconnection", registered_again, timeout=10)
        self.assertEqual(publisher.stats()["reconnects"], 1)

    # ENABLED = False: send() does nothing and returns False.
    def test_disabled_publisher_sends_nothing(self):
        with telegraphy_settings(INGEST=self.ingest.endpoint, ENABLED=False):
            self.assertFalse(Hello(text="a", n=1).send())
        self.assertEqual(self.ingest.drain(0.2), [])


class GatewayDownTests(SimpleTestCase):
    # With nothing listening, sends never block: each returns in well under
    # 50 ms; once QUEUE_SIZE messages wait, events are dropped and counted.
    def test_send_with_gateway_down_never_blocks_and_counts_drops(self):
        port, = free_ports(1)
        with telegraphy_settings(INGEST=f"tcp://127.0.0.1:{port}", QUEUE_SIZE=5, LINGER_MS=0):
            with self.assertLogs("django_telegraphy.publisher", "WARNING") as logs:
                results, slowest = [], 0.0
                for i in range(200):
                    t = time.monotonic()
                    results.append(Hello(text="x", n=i).send())
                    slowest = max(slowest, time.monotonic() - t)
            stats = publisher.stats()
        self.assertLess(slowest, 0.05)
        self.assertGreater(results.count(False), 150)
        self.assertEqual(stats["drops"], results.count(False))
        self.assertEqual(stats["sent"], results.count(True))
        # Rate-limited: one line for all these drops.
        self.assertEqual(len(logs.output), 1)
        self.assertIn("drop event=djtest.pub.hello", logs.output[0])


class ForkTests(SimpleTestCase):
    # A forked child gets its own sockets (a new publisher for its pid) and
    # its sends arrive; the parent's publisher is not touched.
    def test_forked_child_makes_its_own_publisher(self):
        ingest = PullIngest()
        self.addCleanup(ingest.close)
        with telegraphy_settings(INGEST=ingest.endpoint):
            Hello(text="parent", n=0).send()
            self.assertEqual(ingest.recv_publish()[1]["text"], "parent")
            parent = publisher.get_publisher()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    child = publisher.get_publisher()
                    ok = child is not parent and child.pid == os.getpid()
                    Hello(text="child", n=1).send()
                    child.close()
                    code = 0 if ok else 3
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.WEXITSTATUS(status), 0)
            self.assertEqual(ingest.recv_publish()[1], {"text": "child", "n": 1})
            self.assertIs(publisher.get_publisher(), parent)
            Hello(text="parent again", n=2).send()
            self.assertEqual(ingest.recv_publish()[1]["text"], "parent again")


class AcknowledgedTests(SimpleTestCase):
    def run_with(self, answer, **overrides):
        ack = AckIngest(answer)
        self.addCleanup(ack.close)
        override = telegraphy_settings(INGEST_ACK=ack.endpoint, ACK_TIMEOUT_MS=300, **overrides)
        override.enable()
        self.addCleanup(override.disable)
        return ack

    # A guaranteed event is REGISTERed (acknowledged) first, then PUBLISHed
    # with a req; send() returns the pub_id of ACCEPTED.
    def test_guaranteed_send_returns_the_pub_id_once_accepted(self):
        ack = self.run_with(lambda cmd, h: ("ACCEPTED", {"pub_id": 99} if cmd == "PUBLISH" else {}))
        self.assertEqual(Shipped(order_id=7).send(to_users=["1"]), 99)
        (c1, h1), (c2, h2) = ack.requests
        self.assertEqual((c1, h1["type"]["name"], h1["type"]["guaranteed"]), ("REGISTER", "djtest.pub.shipped", True))
        self.assertEqual((c2, h2["topic"], h2["to_users"]), ("PUBLISH", "djtest.pub.shipped", ["1"]))
        self.assertNotEqual(h1["req"], h2["req"])
        self.assertEqual(Shipped(order_id=8).send(), 99)
        self.assertEqual([c for c, _ in ack.requests], ["REGISTER", "PUBLISH", "PUBLISH"])

    # A guaranteed send announces every declared type too, as a
    # fire-and-forget one does (the others on the PUSH): a site whose only
    # sends are guaranteed still lists all its types at the gateway.
    def test_guaranteed_send_registers_every_declared_type(self):
        pull = PullIngest()
        self.addCleanup(pull.close)
        self.run_with(lambda cmd, h: ("ACCEPTED", {"pub_id": 5} if cmd == "PUBLISH" else {}),
                      INGEST=pull.endpoint, REGISTER_INTERVAL=0)
        self.assertEqual(Shipped(order_id=7).send(), 5)
        names = set()
        while names != {c.name for c in registry.all_types()}:
            cmd, header, _ = pull.recv()
            self.assertEqual(cmd, "REGISTER")
            names.add(header["type"]["name"])

    # REJECTED raises TelegraphyDeliveryError carrying the gateway's error.
    def test_rejected_guaranteed_send_raises(self):
        def answer(cmd, header):
            if cmd == "REGISTER":
                return "ACCEPTED", {}
            return "REJECTED", {"error": "telegraphy.error.too_large", "message": "event body over 65536 bytes"}
        self.run_with(answer)
        with self.assertRaises(telegraphy.TelegraphyDeliveryError) as cm:
            Shipped(order_id=7).send()
        self.assertEqual(cm.exception.error, "telegraphy.error.too_large")
        self.assertIn("over 65536", str(cm.exception))
        self.assertEqual(publisher.stats()["rejected"], 1)

    # No answer within ACK_TIMEOUT_MS raises (error "timeout"), bounded in time.
    def test_unanswered_guaranteed_send_raises_after_the_timeout(self):
        self.run_with(lambda cmd, h: ("ACCEPTED", {}) if cmd == "REGISTER" else None)
        t = time.monotonic()
        with self.assertRaises(telegraphy.TelegraphyDeliveryError) as cm:
            Shipped(order_id=7).send()
        self.assertEqual(cm.exception.error, "timeout")
        self.assertLess(time.monotonic() - t, 2.0)

    # Nothing listening at all: the same timeout error, not a hang.
    def test_guaranteed_send_with_gateway_down_raises(self):
        port, = free_ports(1)
        with telegraphy_settings(INGEST_ACK=f"tcp://127.0.0.1:{port}", ACK_TIMEOUT_MS=200):
            with self.assertRaises(telegraphy.TelegraphyDeliveryError) as cm:
                Shipped(order_id=7).send()
        self.assertEqual(cm.exception.error, "timeout")

    # unknown_event (the gateway restarted and forgot the type): the type is
    # registered again and the event sent once more, which succeeds.
    def test_unknown_event_rejection_registers_again_and_retries_once(self):
        published = []

        def answer(cmd, header):
            if cmd == "REGISTER":
                return "ACCEPTED", {}
            published.append(header["req"])
            if len(published) == 2:
                return "REJECTED", {"error": "telegraphy.error.unknown_event", "message": "unknown event type"}
            return "ACCEPTED", {"pub_id": len(published)}
        ack = self.run_with(answer)
        self.assertEqual(Shipped(order_id=1).send(), 1)
        self.assertEqual(Shipped(order_id=2).send(), 3)
        self.assertEqual([c for c, _ in ack.requests], ["REGISTER", "PUBLISH", "PUBLISH", "REGISTER", "PUBLISH"])


class PathSeparationTests(SimpleTestCase):
    # A guaranteed send waiting for its ACCEPTED does not delay the
    # fire-and-forget sends of another thread: they are queued (and arrive)
    # while the acknowledged publish is still waiting for the ingest.
    def test_slow_acknowledged_publish_does_not_delay_fire_and_forget_sends_of_another_thread(self):
        publish_received, release = threading.Event(), threading.Event()

        def answer(cmd, header):
            if cmd == "PUBLISH":
                publish_received.set()
                release.wait(10)  # the slow ingest: answers once the test lets it
            return "ACCEPTED", {"pub_id": 5}

        pull = PullIngest()
        self.addCleanup(pull.close)
        ack = AckIngest(answer)
        self.addCleanup(ack.close)
        override = telegraphy_settings(INGEST=pull.endpoint, INGEST_ACK=ack.endpoint, ACK_TIMEOUT_MS=20000)
        override.enable()
        self.addCleanup(override.disable)
        self.addCleanup(release.set)  # runs first: nothing stays blocked if an assertion fails

        guaranteed = {}
        guaranteed_done = threading.Event()

        def send_guaranteed():
            try:
                guaranteed["result"] = Shipped(order_id=1).send()
            except Exception as e:  # noqa: BLE001 - reported by the assertion below
                guaranteed["result"] = e
            guaranteed_done.set()

        sent = []
        pushes_done = threading.Event()

        def send_fire_and_forget():
            sent.extend(Hello(text="meanwhile", n=i).send() for i in range(3))
            pushes_done.set()

        waiter = threading.Thread(target=send_guaranteed, daemon=True)
        waiter.start()
        self.addCleanup(waiter.join, 10)
        self.assertTrue(publish_received.wait(5), "the guaranteed PUBLISH never reached the ingest")
        self.assertFalse(guaranteed_done.is_set())

        sender = threading.Thread(target=send_fire_and_forget, daemon=True)
        sender.start()
        self.addCleanup(sender.join, 25)
        self.assertTrue(pushes_done.wait(5), "fire-and-forget sends waited for the acknowledged publish")
        self.assertFalse(guaranteed_done.is_set(), "the ingest answered before the test let it")
        self.assertEqual(sent, [True, True, True])
        self.assertEqual([pull.recv_publish()[1]["n"] for _ in range(3)], [0, 1, 2])

        release.set()
        self.assertTrue(guaranteed_done.wait(5))
        self.assertEqual(guaranteed["result"], 5)


class GatheringIngest:
    """A fake acknowledged ingest that ACCEPTs every REGISTER at once but
    answers PUBLISHes only once it holds `gather` of them, then all of them
    in reverse order (pub_id = 1000 + the order they arrived in), so each
    answer must be routed to its own waiter by req. `skip`: reqs (by
    arrival index) never answered."""

    def __init__(self, gather, skip=()):
        import msgpack
        import zmq
        self.msgpack, self.zmq = msgpack, zmq
        self.gather, self.skip = gather, set(skip)
        self.publishes = []  # (identity, header) in arrival order
        self.answered = threading.Event()
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.endpoint = f"tcp://127.0.0.1:{self.socket.bind_to_random_port('tcp://127.0.0.1')}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _reply(self, identity, command, header, **extra):
        self.socket.send_multipart([identity, command, self.msgpack.packb({"v": 1, "req": header["req"], **extra})])

    def _serve(self):
        while not self.stopping.is_set():
            if not self.socket.poll(50):
                continue
            identity, cmd, header = self.socket.recv_multipart()[:3]
            header = self.msgpack.unpackb(header, raw=False)
            if cmd == b"REGISTER":
                self._reply(identity, b"ACCEPTED", header)
                continue
            self.publishes.append((identity, header))
            if len(self.publishes) == self.gather:
                for i in reversed(range(self.gather)):
                    if i not in self.skip:
                        self._reply(self.publishes[i][0], b"ACCEPTED", self.publishes[i][1], pub_id=1000 + i)
                self.answered.set()

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.socket.close(linger=0)
        self.context.term()


class MultiplexedTests(SimpleTestCase):
    def gather(self, n, timeout_ms, skip=()):
        ingest = GatheringIngest(n, skip)
        self.addCleanup(ingest.close)
        override = telegraphy_settings(INGEST_ACK=ingest.endpoint, ACK_TIMEOUT_MS=timeout_ms)
        override.enable()
        self.addCleanup(override.disable)
        results = [None] * n

        def send(i):
            try:
                results[i] = Shipped(order_id=i).send()
            except Exception as e:  # noqa: BLE001 - checked by the test
                results[i] = e

        threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout_ms / 1000.0 + 5)
        self.assertFalse(any(t.is_alive() for t in threads), "a guaranteed send never returned")
        return ingest, results

    # N threads' guaranteed sends are in flight together over the one
    # DEALER: an ingest that answers nothing until it holds N PUBLISHes
    # gets all N (with one lock per round trip it would see one and the
    # rest would time out), and each thread gets the pub_id of its own req
    # although the answers come in reverse order.
    def test_guaranteed_sends_of_many_threads_are_in_flight_together(self):
        n = 16
        ingest, results = self.gather(n, timeout_ms=5000)
        self.assertTrue(ingest.answered.is_set(), f"the ingest saw {len(ingest.publishes)} of {n} at once")
        self.assertEqual(len({h["req"] for _, h in ingest.publishes}), n)
        self.assertEqual(sorted(results), [1000 + i for i in range(n)])
        self.assertEqual(publisher.stats()["sent"], n)

    # A waiter times out on its own: the one request the ingest never
    # answers raises "timeout" at its deadline while the other threads,
    # whose answers came, return their pub_ids (the link answered, so the
    # DEALER is kept).
    def test_one_unanswered_request_times_out_alone(self):
        n = 4
        ingest, results = self.gather(n, timeout_ms=1500, skip=(2,))
        errors = [r for r in results if isinstance(r, Exception)]
        self.assertEqual(len(errors), 1, results)
        self.assertEqual(errors[0].error, "timeout")
        self.assertEqual(sorted(r for r in results if not isinstance(r, Exception)), [1000, 1001, 1003])
        self.assertEqual(publisher.stats()["timeouts"], 1)
