"""Python WAMP clients for the tests (Debian's python3-autobahn over
asyncio): a joined session and an inbox of events with a bounded wait.
Shared by tests/integration/test_python_autobahn.py and
tests/django/test_end_to_end.py."""

import asyncio
from urllib.parse import urlparse

from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer
from autobahn.wamp.types import ComponentConfig

REALM = "telegraphy"
SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer}


async def open_session(url, serializer="json", realm=REALM, timeout=10):
    """Joins a session; returns (session, transport). Raises if the router
    closes the session before it is joined (ABORT), with the close reason."""
    loop = asyncio.get_running_loop()
    joined = loop.create_future()

    class Session(ApplicationSession):
        async def onJoin(self, details):
            if not joined.done():
                joined.set_result(self)

        def onLeave(self, details):
            if not joined.done():
                joined.set_exception(ApplicationError(details.reason, details.message))
            self.disconnect()

    factory = WampWebSocketClientFactory(lambda: Session(ComponentConfig(realm=realm)), url=url,
                                         serializers=[SERIALIZERS[serializer]()])
    u = urlparse(url)
    transport, _ = await loop.create_connection(factory, u.hostname, u.port)
    try:
        return await asyncio.wait_for(joined, timeout), transport
    except BaseException:
        transport.close()
        raise


class Inbox:
    """Events delivered to one handler (pass `inbox.handler` to subscribe),
    with a bounded wait."""

    def __init__(self):
        self.items = []
        self.cond = asyncio.Condition()

    async def handler(self, *args, details=None, **kwargs):
        async with self.cond:
            self.items.append((kwargs, details))
            self.cond.notify_all()

    async def wait_count(self, n, timeout=10):
        async with self.cond:
            await asyncio.wait_for(self.cond.wait_for(lambda: len(self.items) >= n), timeout)
        return self.items
