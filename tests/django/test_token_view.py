"""The token view (django_telegraphy.urls): how telegraphy.js renews a
token the gateway refused, without a page reload."""

import json

from django.contrib.auth.models import AnonymousUser, User
from django.test import RequestFactory, TestCase
from django.urls import reverse

from django_telegraphy import views
from django_telegraphy.tokens import verify_token


class TokenViewTests(TestCase):
    def setUp(self):
        self.factory = RequestFactory()
        self.user = User.objects.create_user("carol", password="x", is_staff=True)

    def get(self, user):
        request = self.factory.get(reverse("telegraphy:token"))
        request.user = user
        return views.token(request)

    # A logged-in user gets a fresh, valid ws token of their own, and every
    # call gives another one (tokens are single-use).
    def test_an_authenticated_user_gets_a_fresh_ws_token(self):
        first = json.loads(self.get(self.user).content)["token"]
        second = json.loads(self.get(self.user).content)["token"]
        payload = verify_token(first)
        self.assertEqual(payload["typ"], "ws")
        self.assertEqual(payload["sub"], str(self.user.pk))
        self.assertIn("staff", payload["grp"])
        self.assertNotEqual(first, second)
        self.assertNotEqual(payload["jti"], verify_token(second)["jti"])

    # An anonymous visitor gets null: the client connects anonymously.
    def test_an_anonymous_user_gets_null(self):
        self.assertEqual(json.loads(self.get(AnonymousUser()).content), {"token": None})

    # Tokens must never be cached by the browser or a proxy.
    def test_the_response_is_never_cached(self):
        response = self.get(self.user)
        self.assertIn("no-store", response["Cache-Control"])

    # Only GET: the view changes nothing, and a form cannot post to it.
    def test_post_is_refused(self):
        request = self.factory.post(reverse("telegraphy:token"))
        request.user = self.user
        self.assertEqual(views.token(request).status_code, 405)

    # The page config names the view when the site routes it, so that
    # Telegraphy.fromPage() can renew tokens by itself.
    def test_the_page_config_names_the_token_url(self):
        from django_telegraphy.templatetags.telegraphy import page_config

        request = self.factory.get("/")
        request.user = self.user
        self.assertEqual(page_config(request)["token_url"], "/telegraphy/token/")
