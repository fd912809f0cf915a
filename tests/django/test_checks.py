"""System checks: stable ids, hints."""

from django.core import checks
from django.test import SimpleTestCase, override_settings

from django_telegraphy.checks import check_ingest_reachable, check_settings
from helpers import PullIngest, free_ports, telegraphy_settings


def ids(**overrides):
    with telegraphy_settings(**overrides):
        return [m.id for m in check_settings()]


class CheckTests(SimpleTestCase):
    # The test settings are clean.
    def test_valid_settings_pass(self):
        self.assertEqual(ids(), [])

    # The checks are registered with Django's framework.
    def test_checks_run_through_django(self):
        with telegraphy_settings(SECRET=""):
            self.assertIn("telegraphy.E001", [m.id for m in checks.run_checks()])

    # E001: no SECRET (missing, empty, not a string), with a hint on making one.
    def test_missing_secret_is_e001_with_a_hint(self):
        for value in (None, "", 42):
            self.assertEqual(ids(SECRET=value), ["telegraphy.E001"])
        with telegraphy_settings(SECRET=None):
            self.assertIn("token_urlsafe", check_settings()[0].hint)

    # W002: a short secret.
    def test_short_secret_is_w002(self):
        self.assertEqual(ids(SECRET="short"), ["telegraphy.W002"])

    # E002: malformed ZeroMQ endpoints and WS_URL.
    def test_malformed_endpoints_are_e002(self):
        for key, value in [("INGEST", "127.0.0.1:5560"), ("INGEST_ACK", "tcp://127.0.0.1:99999"),
                           ("ROUTER", "udp://x:1"), ("CONTROL", "tcp://:5"), ("WS_URL", "http://x/ws"),
                           ("WS_URL", "ws://x:port/ws")]:
            with self.subTest(key=key, value=value):
                self.assertEqual(ids(**{key: value}), ["telegraphy.E002"])
        self.assertEqual(ids(INGEST="ipc:///tmp/t.sock", ROUTER="inproc://r", CONTROL="tcp://127.0.0.1:*"), [])

    # E003: an unknown model in MODELS; E004: a bad entry.
    def test_unknown_model_is_e003_and_bad_entry_e004(self):
        self.assertEqual(ids(MODELS={"testapp.Nope": {}}), ["telegraphy.E003"])
        self.assertEqual(ids(MODELS=["nolabel"]), ["telegraphy.E003"])
        self.assertEqual(ids(MODELS={"testapp.Item": {"fields": ["title", "colour"]}}), ["telegraphy.E004"])
        self.assertEqual(ids(MODELS={"testapp.Item": {"audience": "all"}}), ["telegraphy.E004"])
        self.assertEqual(ids(MODELS={"testapp.Item": {"ttl": -1}}), ["telegraphy.E004"])
        self.assertEqual(ids(MODELS={"testapp.Item": {"fields": ["title", "owner"], "audience": "group:ops"}}), [])

    # E005: TELEGRAPHY not a dict, or a bad number.
    def test_bad_setting_types_are_e005(self):
        with override_settings(TELEGRAPHY=["x"]):
            self.assertEqual([m.id for m in check_settings()], ["telegraphy.E005"])
        self.assertEqual(ids(QUEUE_SIZE=0), ["telegraphy.E005"])

    # W001: an unknown key (a typo), listing the known ones.
    def test_unknown_key_is_w001(self):
        with telegraphy_settings(SECERT="x"):
            (m,) = check_settings()
        self.assertEqual(m.id, "telegraphy.W001")
        self.assertIn("SECERT", m.msg)
        self.assertIn("SECRET", m.hint)

    # W003: BIN_DIR that is not a directory.
    def test_missing_bin_dir_is_w003(self):
        self.assertEqual(ids(BIN_DIR="/nonexistent/telegraphy"), ["telegraphy.W003"])

    # W004 (deploy): the ingest does not accept connections; none when it does.
    def test_unreachable_ingest_is_w004_on_deploy(self):
        port, = free_ports(1)
        with telegraphy_settings(INGEST=f"tcp://127.0.0.1:{port}"):
            self.assertEqual([m.id for m in check_ingest_reachable()], ["telegraphy.W004"])
        ingest = PullIngest()
        self.addCleanup(ingest.close)
        with telegraphy_settings(INGEST=ingest.endpoint):
            self.assertEqual(check_ingest_reachable(), [])
