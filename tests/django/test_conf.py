"""The exceptions seen from Django, and who forgets what when the TELEGRAPHY
setting changes (conf.py its cache, the publisher its sockets)."""

import json
import os
import subprocess
import sys

from django.core import exceptions as django_exceptions
from django.test import SimpleTestCase

import django_telegraphy as telegraphy
from django_telegraphy import conf, publisher, tokens
from helpers import REPO, telegraphy_settings


class ExceptionTests(SimpleTestCase):
    # The package's ImproperlyConfigured (here from ws_token without a
    # SECRET) is caught by `except django.core.exceptions.ImproperlyConfigured`
    # and by the package's base exception.
    def test_improperly_configured_is_caught_as_djangos_and_as_telegraphy_error(self):
        with telegraphy_settings(SECRET=None):
            try:
                tokens.ws_token(None)
            except django_exceptions.ImproperlyConfigured as e:
                caught = e
            else:
                self.fail("ws_token without a SECRET did not raise")
        self.assertIsInstance(caught, telegraphy.ImproperlyConfigured)
        self.assertIsInstance(caught, telegraphy.TelegraphyError)
        self.assertIn("SECRET", str(caught))


# conf.py alone (without the package's __init__, which imports the events
# and so the publisher): the settings module the publisher imports.
CONF_ALONE = r"""
import json, sys, types
package = types.ModuleType("django_telegraphy")
package.__path__ = [sys.argv[1]]
sys.modules["django_telegraphy"] = package
from django.conf import settings
settings.configure(TELEGRAPHY={"REALM": "before"})
from django.test.utils import override_settings
from django_telegraphy import conf
first = conf.get_config()["REALM"]
with override_settings(TELEGRAPHY={"REALM": "after"}):
    changed = conf.get_config()["REALM"]
print(json.dumps({"realms": [first, changed],
                  "modules": sorted(m for m in sys.modules if m.startswith("django_telegraphy"))}))
"""


class SettingChangedTests(SimpleTestCase):
    # conf.py imports nothing of the package (no conf <-> publisher cycle)
    # and forgets its cached settings on setting_changed by itself, the
    # publisher never imported (checked in a fresh interpreter).
    def test_conf_forgets_its_cache_on_setting_changed_without_importing_the_publisher(self):
        done = subprocess.run([sys.executable, "-c", CONF_ALONE, os.path.join(REPO, "django_telegraphy")],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": ""})
        self.assertEqual(done.returncode, 0, done.stderr)
        seen = json.loads(done.stdout)
        self.assertEqual(seen["realms"], ["before", "after"])
        self.assertEqual(seen["modules"], ["django_telegraphy", "django_telegraphy.conf"])

    # The publisher's sockets are forgotten by the publisher's own receiver:
    # conf's receiver leaves the publisher alone, and a TELEGRAPHY change
    # still gives the next send a new publisher made from the new settings.
    def test_publisher_forgets_its_sockets_by_its_own_receiver(self):
        before = publisher.get_publisher()
        conf.reload_config(setting="TELEGRAPHY")
        self.assertIs(publisher.get_publisher(), before)
        with telegraphy_settings(INGEST="tcp://127.0.0.1:1"):
            during = publisher.get_publisher()
            self.assertIsNot(during, before)
            self.assertEqual(during.config["INGEST"], "tcp://127.0.0.1:1")
        self.assertNotEqual(publisher.get_publisher().config["INGEST"], "tcp://127.0.0.1:1")
