"""The real thing: Event.send() in Django -> real gateway (router, ingest,
edge from TELEGRAPHY_BIN_DIR) -> a WAMP subscriber (Debian's
python3-autobahn, ApplicationSession over asyncio) receives it."""

import asyncio
import datetime
import decimal
import time

from autobahn.wamp.types import SubscribeOptions
from django.test import SimpleTestCase

import django_telegraphy as telegraphy
from django_telegraphy import publisher
from helpers import telegraphy_settings  # noqa: I001 - puts tests/integration on sys.path first
from gateway import Gateway  # tests/integration/gateway.py, shared with the integration suite
from wamp_session import Inbox, open_session  # tests/integration/wamp_session.py


class Hello(telegraphy.Event):
    name = "djtest.e2e.hello"
    fields = ["text", "when", "price", "tags"]


class Shipped(telegraphy.Event):
    name = "djtest.e2e.shipped"
    fields = ["order_id"]
    guaranteed = True
    ttl = 60


async def wait_types(session, names, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        have = {t["name"] for t in await session.call("telegraphy.events.list")}
        if set(names) <= have:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the edge never listed {names}; it has {sorted(have)}")
        await asyncio.sleep(0.1)


class EndToEndTests(SimpleTestCase):
    def setUp(self):
        # persist: Shipped is guaranteed, and a guaranteed event is accepted
        # only once it is stored (DESIGN 2.6); without persist it is refused.
        self.gw = Gateway(persist=True).start()
        self.addCleanup(self.gw.stop)
        self.override = telegraphy_settings(INGEST=self.gw.ingest_ep, INGEST_ACK=self.gw.ack_ep, REGISTER_INTERVAL=0,
                                            ACK_TIMEOUT_MS=3000)
        self.override.enable()
        self.addCleanup(self.override.disable)

    # Fire-and-forget and guaranteed events from Django reach a subscriber
    # through the real gateway with their data serialized by the documented rule.
    def test_sent_events_reach_a_wamp_subscriber(self):
        when = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)

        async def scenario():
            session, transport = await open_session(self.gw.url)
            try:
                # The first send registers every declared type (to nobody).
                await asyncio.to_thread(Hello(text="-", when=when, price=0, tags=[]).send, to_users=[])
                await wait_types(session, [Hello.name])
                hello, shipped = Inbox(), Inbox()
                await session.subscribe(hello.handler, Hello.name, options=SubscribeOptions(details=True))
                queued = await asyncio.to_thread(
                    Hello(text="héllo ✓", when=when, price=decimal.Decimal("12.50"), tags={"b", "a"}).send)
                self.assertTrue(queued)
                (kwargs, details), = await hello.wait_count(1)
                self.assertEqual(kwargs, {"text": "héllo ✓", "when": "2026-11-26T12:00:00+00:00", "price": "12.50",
                                          "tags": ["a", "b"]})
                pub_id = await asyncio.to_thread(Shipped(order_id=7).send)
                self.assertTrue(1 <= pub_id <= 2**53)
                await wait_types(session, [Shipped.name])
                await session.subscribe(shipped.handler, Shipped.name, options=SubscribeOptions(details=True))
                pub_id = await asyncio.to_thread(Shipped(order_id=8).send)
                (kwargs, details), = await shipped.wait_count(1)
                self.assertEqual(kwargs, {"order_id": 8})
                self.assertEqual(details.publication, pub_id)
            finally:
                session.leave()
                transport.close()

        asyncio.run(scenario())

    # Router and ingest restart together (nobody remembers the types): the
    # publisher sees its PUSH socket reconnect, registers every type again,
    # and events reach the subscriber again (the edge resubscribes).
    def test_publisher_registers_again_after_router_and_ingest_restart(self):
        async def scenario():
            session, transport = await open_session(self.gw.url)
            try:
                await asyncio.to_thread(Hello(text="-", when=None, price=0, tags=[]).send, to_users=[])
                await wait_types(session, [Hello.name])
                inbox = Inbox()
                await session.subscribe(inbox.handler, Hello.name)
                await asyncio.to_thread(Hello(text="before", when=None, price=0, tags=[]).send)
                await inbox.wait_count(1)
                router, ingest = self.gw.procs[0], self.gw.procs[1]
                await asyncio.to_thread(ingest.stop)
                await asyncio.to_thread(router.stop)
                router.start()
                ingest.start()
                deadline = time.monotonic() + 30
                n = 0
                while len(inbox.items) < 2:
                    self.assertLess(time.monotonic(), deadline, "no event after the restart" + self.gw.log_report())
                    n += 1
                    await asyncio.to_thread(Hello(text=f"after {n}", when=None, price=0, tags=[]).send)
                    async with inbox.cond:
                        try:
                            await asyncio.wait_for(inbox.cond.wait_for(lambda: len(inbox.items) >= 2), 0.25)
                        except asyncio.TimeoutError:
                            pass
                self.assertTrue(inbox.items[1][0]["text"].startswith("after"))
                self.assertGreaterEqual(publisher.stats()["reconnects"], 1)
            finally:
                session.leave()
                transport.close()

        asyncio.run(scenario())
