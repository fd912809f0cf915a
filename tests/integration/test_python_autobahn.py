"""Debian's python3-autobahn (asyncio) against the real gateway.

Run with Debian's interpreter: /usr/bin/python3 -m unittest discover -s tests/integration -p 'test_python_*.py'
Contract: DESIGN.md §2.3 (subscriptions, EVENT kwargs, telegraphy.events.list, realms).
"""

import asyncio
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import SubscribeOptions  # noqa: E402

from gateway import Gateway  # noqa: E402
from wamp_session import Inbox, open_session  # noqa: E402

EXACT = "itest.py.order.shipped"
OTHER = "itest.py.order.created"
TYPED = "itest.py.typed"

# 64-bit integers, unicode, null, nesting, floats: Python's json and msgpack
# decoders keep all of them exactly, with either serializer.
KWARGS_TEXT = ('{"text": "h\\u00e9llo \\u2713 \\ud83d\\ude80", "n": null, "nested": {"a": [1, [2, {"b": "c"}]]},'
               ' "i64max": 9223372036854775807, "i64min": -9223372036854775808, "safe": 9007199254740991,'
               ' "f01": 0.1, "f15": 1.5, "yes": true}')
KWARGS = {"text": "héllo ✓ 🚀", "n": None, "nested": {"a": [1, [2, {"b": "c"}]]},
          "i64max": 2**63 - 1, "i64min": -(2**63), "safe": 2**53 - 1, "f01": 0.1, "f15": 1.5, "yes": True}

class PythonAutobahnTest(unittest.IsolatedAsyncioTestCase):
    gw = None

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()
        try:
            cls.gw.register(EXACT)
            cls.gw.register(OTHER)
            cls.gw.register(TYPED, "--fields", "order_id,carrier", "--ttl", "60")
        except Exception:
            cls.gw.stop(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()

    async def wait_types(self, session, names, timeout=10):
        """The edge learns registered types from the router asynchronously."""
        deadline = time.monotonic() + timeout
        while True:
            types = await session.call("telegraphy.events.list")
            have = {t["name"] for t in types}
            if set(names) <= have or time.monotonic() > deadline:
                return types
            await asyncio.sleep(0.1)

    async def check_subscribe_and_receive(self, serializer):
        session, transport = await open_session(self.gw.url, serializer)
        try:
            await self.wait_types(session, [EXACT, OTHER])
            exact, prefix = Inbox(), Inbox()
            sub_exact = await session.subscribe(exact.handler, EXACT, options=SubscribeOptions(details=True))
            sub_prefix = await session.subscribe(prefix.handler, "itest.py",
                                                 options=SubscribeOptions(match="prefix", details=True))
            self.assertNotEqual(sub_exact.id, sub_prefix.id)
            await asyncio.to_thread(self.gw.publish, EXACT, KWARGS_TEXT)
            await asyncio.to_thread(self.gw.publish, OTHER, {"k": "other"})
            (kw, details), = await exact.wait_count(1)
            self.assertEqual(kw, KWARGS)
            self.assertTrue(1 <= details.publication <= 2**53)
            items = await prefix.wait_count(2)
            self.assertEqual(items[0][0], KWARGS)
            self.assertEqual(items[0][1].topic, EXACT)
            self.assertEqual(items[1][0], {"k": "other"})
            self.assertEqual(items[1][1].topic, OTHER)
            self.assertEqual(items[0][1].publication, details.publication)
            self.assertGreater(items[1][1].publication, items[0][1].publication)
            self.assertEqual(len(exact.items), 1, "the exact subscription got only its topic")
        finally:
            session.leave()
            transport.close()

    # An exact and a prefix subscription (JSON) receive an event published
    # with telegraphy-ctl, kwargs exact (64-bit ints included), details.topic
    # on the prefix match, one publication id per event.
    async def test_json_session_receives_events_on_exact_and_prefix_subscriptions(self):
        await self.check_subscribe_and_receive("json")

    # The same with the msgpack serializer.
    async def test_msgpack_session_receives_events_on_exact_and_prefix_subscriptions(self):
        await self.check_subscribe_and_receive("msgpack")

    # telegraphy.events.list returns the registered types with their fields,
    # audience, ttl and guaranteed flag.
    async def test_events_list_returns_the_registered_types(self):
        session, transport = await open_session(self.gw.url, "msgpack")
        try:
            types = await self.wait_types(session, [EXACT, OTHER, TYPED])
            by_name = {t["name"]: t for t in types}
            for name in (EXACT, OTHER, TYPED):
                self.assertIn(name, by_name)
            typed = by_name[TYPED]
            self.assertEqual(sorted(typed["fields"]), ["carrier", "order_id"])
            self.assertEqual(typed["audience"], "public")
            self.assertEqual(typed["ttl"], 60)
            self.assertIs(typed["guaranteed"], False)
        finally:
            session.leave()
            transport.close()

    # An exact subscription to an unregistered type fails with
    # telegraphy.error.unknown_event.
    async def test_exact_subscription_to_unknown_type_is_an_error(self):
        session, transport = await open_session(self.gw.url, "json")
        try:
            with self.assertRaises(ApplicationError) as cm:
                await session.subscribe(lambda *a, **k: None, "itest.py.never.registered")
            self.assertEqual(cm.exception.error, "telegraphy.error.unknown_event")
        finally:
            session.leave()
            transport.close()

    # Another realm is refused with wamp.error.no_such_realm.
    async def test_wrong_realm_is_refused(self):
        with self.assertRaises(ApplicationError) as cm:
            await open_session(self.gw.url, "json", realm="not.telegraphy")
        self.assertEqual(cm.exception.error, "wamp.error.no_such_realm")


if __name__ == "__main__":
    unittest.main()
