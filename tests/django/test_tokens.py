"""ws tokens (DESIGN §2.4) against the shared vectors in
tests/fixtures/token_vectors.json (the C side checks the same file)."""

import base64
import hashlib
import hmac
import json
import os
import time

from django.contrib.auth.models import Group, User
from django.test import TestCase

from django_telegraphy import tokens
from django_telegraphy.tokens import TokenError, sign_payload, verify_token, ws_token
from helpers import REPO, telegraphy_settings

with open(os.path.join(REPO, "tests", "fixtures", "token_vectors.json"), encoding="utf-8") as f:
    VECTORS = json.load(f)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class VectorTests(TestCase):
    # Each vector's token is exactly v1.<b64url(payload_json)>.<b64url(HMAC)>,
    # recomputed here from the spec with hashlib, and sign_payload agrees.
    def test_vectors_follow_the_spec_and_sign_payload_reproduces_them(self):
        secret = VECTORS["secret"].encode()
        self.assertGreaterEqual(len(VECTORS["vectors"]), 4)
        for v in VECTORS["vectors"]:
            with self.subTest(v["description"]):
                part = b64(v["payload_json"].encode("utf-8"))
                mac = b64(hmac.new(secret, ("v1." + part).encode(), hashlib.sha256).digest())
                self.assertEqual(v["token"], f"v1.{part}.{mac}")
                self.assertNotIn("=", v["token"])
                self.assertEqual(json.loads(v["payload_json"]), v["payload"])
                self.assertEqual(sign_payload(v["payload"], VECTORS["secret"]), v["token"])

    # verify_token accepts every vector before its exp and returns its payload.
    def test_verify_accepts_vectors_before_expiry(self):
        for v in VECTORS["vectors"]:
            with self.subTest(v["description"]):
                got = verify_token(v["token"], VECTORS["secret"], now=v["payload"]["exp"] - 1, typ=None)
                self.assertEqual(got, v["payload"])

    # ... and refuses them at exp, and refuses every "bad" vector.
    def test_verify_refuses_expired_and_bad_tokens(self):
        v = VECTORS["vectors"][0]
        with self.assertRaisesMessage(TokenError, "expired"):
            verify_token(v["token"], VECTORS["secret"], now=v["payload"]["exp"])
        for bad in VECTORS["bad"]:
            with self.subTest(bad["description"]), self.assertRaises(TokenError):
                verify_token(bad["token"], VECTORS["secret"], now=0)


class WsTokenTests(TestCase):
    # A user's token carries typ, sub (pk as string), name, sorted groups
    # plus "staff"/"superuser", exp = now + TOKEN_TTL, a 128-bit jti.
    def test_user_token_payload(self):
        user = User.objects.create(username="zoë", is_staff=True, is_superuser=True)
        user.groups.add(Group.objects.create(name="ops"), Group.objects.create(name="editors"))
        with telegraphy_settings(TOKEN_TTL=90):
            before = int(time.time())
            token = ws_token(user)
            payload = verify_token(token)
        self.assertEqual(list(payload), ["typ", "sub", "name", "grp", "exp", "jti"])
        self.assertEqual((payload["typ"], payload["sub"], payload["name"]), ("ws", str(user.pk), "zoë"))
        self.assertEqual(payload["grp"], ["editors", "ops", "staff", "superuser"])
        self.assertIn(payload["exp"] - before, (90, 91))
        self.assertEqual(len(tokens.b64url_decode(payload["jti"])), 16)

    # ttl overrides TOKEN_TTL; two tokens never share a jti.
    def test_ttl_argument_and_unique_jti(self):
        user = User.objects.create(username="a")
        p1 = verify_token(ws_token(user, ttl=5))
        p2 = verify_token(ws_token(user, ttl=5))
        self.assertLessEqual(p1["exp"] - time.time(), 5)
        self.assertNotEqual(p1["jti"], p2["jti"])

    # A plain user has no groups; anonymous gets no sub.
    def test_plain_and_anonymous_users(self):
        from django.contrib.auth.models import AnonymousUser
        plain = verify_token(ws_token(User.objects.create(username="p")))
        self.assertEqual(plain["grp"], [])
        anon = verify_token(ws_token(AnonymousUser()))
        self.assertNotIn("sub", anon)

    # A token signed with another secret fails verification with ours.
    def test_token_of_another_secret_is_refused(self):
        token = ws_token(User.objects.create(username="x"), secret="other-secret")
        with self.assertRaisesMessage(TokenError, "bad signature"):
            verify_token(token)

    # No SECRET: minting raises a clear configuration error.
    def test_missing_secret_raises(self):
        from django_telegraphy.exceptions import ImproperlyConfigured
        with telegraphy_settings(SECRET=None), self.assertRaisesMessage(ImproperlyConfigured, "SECRET"):
            ws_token(User.objects.create(username="y"))
