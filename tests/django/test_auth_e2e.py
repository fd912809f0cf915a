"""The page token of {% telegraphy_scripts %} for a real Django user,
verified by a real edge (DESIGN §2.4): a python3-autobahn ApplicationSession
joins with authmethods ["ticket"] and answers the CHALLENGE with the token.
The edge gets the Django test settings' TELEGRAPHY["SECRET"] (--secret)."""

import asyncio
import time
from urllib.parse import urlparse

from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.serializer import JsonSerializer
from autobahn.wamp.types import ComponentConfig
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import TestCase

import helpers  # noqa: F401,I001 - puts tests/integration on sys.path first
from gateway import Gateway  # tests/integration/gateway.py
from django_telegraphy.tokens import sign_payload, user_payload
from test_templatetags import config_of, render

AUTH_FAILED = "wamp.error.authentication_failed"
OPS_TOPIC = "djtest.auth.ops.alert"


class Refused(Exception):
    def __init__(self, reason, message):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


async def ticket_session(url, token, authid=None, timeout=10):
    """Joins with ticket auth; returns (session, welcome details, transport),
    raises Refused with the ABORT's reason and message."""
    loop = asyncio.get_running_loop()
    joined = loop.create_future()

    class Session(ApplicationSession):
        def onConnect(self):
            self.join(self.config.realm, authmethods=["ticket"], authid=authid)

        def onChallenge(self, challenge):
            if challenge.method != "ticket":
                raise ApplicationError("test.unexpected_challenge", challenge.method)
            return token

        async def onJoin(self, details):
            if not joined.done():
                joined.set_result((self, details))

        def onLeave(self, details):
            if not joined.done():
                joined.set_exception(Refused(details.reason, details.message))
            self.disconnect()

    factory = WampWebSocketClientFactory(lambda: Session(ComponentConfig(realm="telegraphy")), url=url,
                                         serializers=[JsonSerializer()])
    u = urlparse(url)
    transport, _ = await loop.create_connection(factory, u.hostname, u.port)
    try:
        session, details = await asyncio.wait_for(joined, timeout)
        return session, details, transport
    except BaseException:
        transport.close()
        raise


def page_token(user):
    token = config_of(render(user))[0]["token"]
    assert token, "the template rendered no token for a logged-in user"
    return token


class TemplateTokenAcceptedByTheEdgeTests(TestCase):
    def setUp(self):
        self.gw = Gateway(edge_args=["--secret", settings.TELEGRAPHY["SECRET"]]).start()
        self.addCleanup(self.gw.stop)
        self.wait_ticket_auth()

    def wait_ticket_auth(self, timeout=15.0):
        """The router refuses token spends for 3 heartbeat intervals after it
        starts (docs/security.md): wait until a fresh ws token is accepted."""
        async def attempt():
            payload = {**user_payload(None), "sub": "probe", "name": "probe"}
            try:
                session, _, transport = await ticket_session(self.gw.url, sign_payload(payload))
            except Refused:
                return False
            session.leave()
            transport.close()
            return True

        deadline = time.monotonic() + timeout
        while not asyncio.run(attempt()):
            self.assertLess(time.monotonic(), deadline, "the edge never accepted a ws token" + self.gw.log_report())
            time.sleep(0.1)

    def welcome(self, token, authid=None):
        async def scenario():
            session, details, transport = await ticket_session(self.gw.url, token, authid)
            try:
                return details
            finally:
                session.leave()
                transport.close()
        return asyncio.run(scenario())

    # A plain user's page token opens a ticket session whose authid is the
    # user's primary key, with role "user" and a resume token.
    def test_template_token_of_a_user_is_accepted_with_the_user_id_as_authid(self):
        user = User.objects.create(username="ann")
        details = self.welcome(page_token(user), authid=str(user.pk))
        self.assertEqual(details.authid, str(user.pk))
        self.assertEqual(details.authrole, "user")
        self.assertEqual(details.authmethod, "ticket")
        self.assertIsInstance(details.authextra.get("client_id"), str)
        self.assertTrue(details.authextra.get("resume_token", "").startswith("v1."))

    # is_staff becomes the "staff" group in the token, and role "staff".
    def test_template_token_of_a_staff_user_gets_role_staff(self):
        user = User.objects.create(username="bob", is_staff=True)
        details = self.welcome(page_token(user))
        self.assertEqual(details.authid, str(user.pk))
        self.assertEqual(details.authrole, "staff")

    # The page token is single-use: the second join with it is refused.
    def test_template_token_cannot_be_used_twice(self):
        user = User.objects.create(username="cat")
        token = page_token(user)
        self.welcome(token)
        with self.assertRaises(Refused) as cm:
            self.welcome(token)
        self.assertEqual(cm.exception.reason, AUTH_FAILED)
        self.assertEqual(cm.exception.message, "authentication failed")

    # A Django group reaches the gateway: a member of "ops" may subscribe to
    # a group:ops event and receives it; a user outside the group is refused.
    def test_django_group_membership_opens_a_group_event(self):
        ops = Group.objects.create(name="ops")
        member = User.objects.create(username="dan")
        member.groups.add(ops)
        outsider = User.objects.create(username="eve")
        member_token, outsider_token = page_token(member), page_token(outsider)
        self.gw.register(OPS_TOPIC, "--audience", "group:ops")

        async def scenario():
            s1, _, t1 = await ticket_session(self.gw.url, member_token)
            s2, _, t2 = await ticket_session(self.gw.url, outsider_token)
            try:
                got = asyncio.Queue()
                # The edge learns the type from the router asynchronously.
                deadline = asyncio.get_running_loop().time() + 15
                while True:
                    names = {t["name"] for t in await s1.call("telegraphy.events.list")}
                    if OPS_TOPIC in names:
                        break
                    self.assertLess(asyncio.get_running_loop().time(), deadline, "the edge never listed the type")
                    await asyncio.sleep(0.1)
                await s1.subscribe(lambda **kw: got.put_nowait(kw), OPS_TOPIC)
                with self.assertRaises(ApplicationError) as cm:
                    await s2.subscribe(lambda **kw: None, OPS_TOPIC)
                self.assertEqual(cm.exception.error, "wamp.error.not_authorized")
                names2 = {t["name"] for t in await s2.call("telegraphy.events.list")}
                self.assertNotIn(OPS_TOPIC, names2)
                await asyncio.to_thread(self.gw.publish, OPS_TOPIC, {"level": "red"})
                self.assertEqual(await asyncio.wait_for(got.get(), 10), {"level": "red"})
            finally:
                for s, t in ((s1, t1), (s2, t2)):
                    s.leave()
                    t.close()

        asyncio.run(scenario())

