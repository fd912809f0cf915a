"""{% telegraphy_scripts %} output."""

import json
import re

from django.contrib.auth.models import AnonymousUser, User
from django.template import Context, Template
from django.test import RequestFactory, TestCase

from django_telegraphy.tokens import verify_token
from helpers import telegraphy_settings

TEMPLATE = "{% load telegraphy %}{% telegraphy_scripts %}"


def render(user=None, with_request=True):
    context = {}
    if with_request:
        request = RequestFactory().get("/")
        request.user = user if user is not None else AnonymousUser()
        context["request"] = request
    return Template(TEMPLATE).render(Context(context))


def config_of(html):
    m = re.search(r'<script id="telegraphy-config" type="application/json">(.*?)</script>', html, re.S)
    assert m, html
    return json.loads(m.group(1)), m.group(1)


class TemplateTagTests(TestCase):
    # Three scripts in order: autobahn (classic), the JSON config, telegraphy.js (module).
    def test_renders_autobahn_config_and_module_in_order(self):
        html = render()
        a = html.index('<script src="/static/telegraphy/autobahn.min.js"></script>')
        c = html.index('id="telegraphy-config"')
        m = html.index('<script type="module" src="/static/telegraphy/telegraphy.js"></script>')
        self.assertLess(a, c)
        self.assertLess(c, m)

    # Anonymous users get the endpoint and realm but no token.
    def test_anonymous_user_gets_no_token(self):
        with telegraphy_settings(WS_URL="ws://example.test:9000/ws", REALM="realm1"):
            config, _ = config_of(render())
        self.assertEqual(config, {"url": "ws://example.test:9000/ws", "realm": "realm1", "token": None,
                                  "token_url": "/telegraphy/token/"})

    # No request in the context: the same, no error.
    def test_no_request_renders_without_token(self):
        self.assertIsNone(config_of(render(with_request=False))[0]["token"])

    # A logged-in user gets a fresh valid ws token for that user on each render.
    def test_authenticated_user_gets_a_fresh_token(self):
        user = User.objects.create(username="ann")
        t1 = config_of(render(user))[0]["token"]
        t2 = config_of(render(user))[0]["token"]
        self.assertNotEqual(t1, t2)
        self.assertEqual(verify_token(t1)["sub"], str(user.pk))

    # Values that could close the script element are escaped (<, >, &).
    def test_config_is_escaped_against_script_injection(self):
        with telegraphy_settings(WS_URL="ws://h/ws?a=</script><script>alert(1)</script>&b"):
            html = render()
            config, raw = config_of(html)
        self.assertNotIn("</script><script>", raw)
        self.assertIn("\\u003C/script\\u003E", raw)
        self.assertEqual(config["url"], "ws://h/ws?a=</script><script>alert(1)</script>&b")
        self.assertEqual(html.count("<script"), 3)
