"""Event declaration, instantiation and serialization (DESIGN §2.5)."""

import datetime
import decimal
import uuid
import zoneinfo

import msgpack
from django.test import SimpleTestCase, TestCase, override_settings
from django.utils.translation import gettext_lazy

import django_telegraphy as telegraphy
from django_telegraphy import registry
from django_telegraphy.exceptions import EventDataError, EventDefinitionError
from django_telegraphy.serialization import pack_body
from testapp.models import Item


class OrderShipped(telegraphy.Event):
    name = "djtest.order.shipped"
    fields = ["order_id", "carrier"]
    audience = telegraphy.AUTHENTICATED
    ttl = 300
    guaranteed = True


class AnyKeys(telegraphy.Event):
    name = "djtest.any_keys"


def declare(**attrs):
    return type("Declared", (telegraphy.Event,), {"__module__": __name__, **attrs})


class DeclarationTests(SimpleTestCase):
    # A declared class is in the registry under its name, with its type map.
    def test_declared_class_is_registered_with_its_type_map(self):
        self.assertIs(registry.get("djtest.order.shipped"), OrderShipped)
        self.assertEqual(OrderShipped.type_map(), {
            "name": "djtest.order.shipped", "fields": ["carrier", "order_id"], "audience": "authenticated",
            "ttl": 300, "guaranteed": True, "client_publish": False})

    # Without fields the type accepts any map, and REGISTER omits "fields".
    def test_type_without_fields_omits_fields_from_its_map(self):
        self.assertNotIn("fields", AnyKeys.type_map())
        self.assertEqual(AnyKeys(a=1, b=2).data, {"a": 1, "b": 2})

    # Names must be strict WAMP URIs: upper case, empty components, spaces,
    # hyphens, or over 512 bytes are refused when the class is declared.
    def test_name_that_is_not_a_strict_uri_is_refused_at_declaration(self):
        for bad in ["Shop.order", "shop..order", "shop.order.", ".shop", "shop order", "shop-order", "",
                    "a" * 513, "café.x", 42]:
            with self.subTest(name=bad), self.assertRaises(EventDefinitionError) as cm:
                declare(name=bad)
            self.assertIn("strict WAMP URI", str(cm.exception))
        declare(name="a" * 512)  # the bound itself is fine
        registry.remove("a" * 512)

    # An audience other than the four forms is refused, naming the class.
    def test_invalid_audience_is_refused_at_declaration(self):
        for bad in ["everyone", "group:", "group:two words", None, "STAFF"]:
            with self.subTest(audience=bad), self.assertRaises(EventDefinitionError) as cm:
                declare(name="djtest.bad_audience", audience=bad)
            self.assertIn("audience", str(cm.exception))
        self.assertIsNone(registry.get("djtest.bad_audience"))

    # groups(name) makes "group:NAME" and refuses names with spaces.
    def test_groups_builds_a_group_audience(self):
        self.assertEqual(telegraphy.groups("ops"), "group:ops")
        self.assertEqual(declare(name="djtest.ops_only", audience=telegraphy.groups("ops")).audience, "group:ops")
        registry.remove("djtest.ops_only")
        with self.assertRaises(EventDefinitionError):
            telegraphy.groups("two words")

    # ttl must be an integer in 0..31536000; flags must be booleans; fields a list.
    def test_bad_ttl_flags_and_fields_are_refused(self):
        for attrs in [{"ttl": -1}, {"ttl": 31536001}, {"ttl": 1.5}, {"ttl": True}, {"guaranteed": 1},
                      {"client_publish": "yes"}, {"fields": "order_id"}, {"fields": [""]}, {"fields": [1]}]:
            with self.subTest(attrs=attrs), self.assertRaises(EventDefinitionError):
                declare(name="djtest.bad_attrs", **attrs)

    # Two different classes may not claim one name.
    def test_duplicate_name_from_another_class_is_refused(self):
        with self.assertRaises(EventDefinitionError) as cm:
            type("Other", (telegraphy.Event,), {"__module__": "elsewhere", "name": "djtest.order.shipped"})
        self.assertIn("declared twice", str(cm.exception))

    # A subclass of a concrete event must declare its own name; name = None
    # makes an abstract base that is not registered.
    def test_inherited_name_is_refused_and_abstract_base_is_not_registered(self):
        with self.assertRaises(EventDefinitionError):
            type("Child", (OrderShipped,), {"__module__": __name__})
        base = declare(name=None, audience=telegraphy.STAFF)
        child = type("Child", (base,), {"__module__": __name__, "name": "djtest.child"})
        self.assertEqual(child.audience, "staff")
        self.assertIs(registry.get("djtest.child"), child)
        registry.remove("djtest.child")


class InstantiationTests(SimpleTestCase):
    # Missing and unknown keys raise one error naming every one of them.
    def test_missing_and_unknown_keys_are_named(self):
        with self.assertRaises(EventDataError) as cm:
            OrderShipped(order_id=7, colour="red", size=3)
        text = str(cm.exception)
        self.assertIn("missing carrier", text)
        self.assertIn("unknown colour, size", text)
        self.assertIsInstance(cm.exception, TypeError)
        self.assertIsInstance(cm.exception, telegraphy.TelegraphyError)

    # Exactly the declared keys are accepted.
    def test_exact_keys_are_accepted(self):
        self.assertEqual(OrderShipped(order_id=7, carrier="dhl").data, {"order_id": 7, "carrier": "dhl"})

    # The base class itself cannot be instantiated as an event.
    def test_base_event_without_name_cannot_be_made(self):
        with self.assertRaises(EventDefinitionError):
            telegraphy.Event(a=1)


class Color:
    pass


@override_settings(TIME_ZONE="Europe/Paris", USE_TZ=True)
class SerializationTests(TestCase):
    def unpack(self, **data):
        return msgpack.unpackb(pack_body(data), raw=False)

    # Plain values travel as themselves (int64 bounds, unicode, nesting, floats).
    def test_plain_values_are_kept(self):
        data = {"n": None, "t": True, "i": -(2**63), "j": 2**63 - 1, "f": 0.1, "s": "héllo ✓ 🚀",
                "l": [1, [2, {"a": "b"}]], "m": {"k": {"x": None}}, "b": b"\x00\xff"}
        self.assertEqual(self.unpack(**data), data)

    # A body of only plain top-level values (packed without a converted
    # copy) has the same bytes as the converted one, at the int64 edges; a
    # value just past them still raises.
    def test_flat_plain_body_packs_like_the_converted_one(self):
        data = {"s": "héllo", "i": 2**63 - 1, "j": -(2**63), "f": 0.5, "t": False, "n": None}
        self.assertEqual(pack_body(data), msgpack.packb(data, use_bin_type=True))
        self.assertEqual(self.unpack(**data), data)
        with self.assertRaises(TypeError):
            pack_body({"s": "x", "j": -(2**63) - 1})

    # Aware datetimes keep their offset; naive ones are read in the default
    # time zone (Europe/Paris here: +01:00 in January); dates and times are ISO.
    def test_datetimes_dates_and_times_become_iso_8601(self):
        utc = datetime.timezone.utc
        aware = datetime.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=utc)
        body = self.unpack(aware=aware, naive=datetime.datetime(2026, 1, 2, 3, 4, 5), day=datetime.date(2026, 1, 2),
                           clock=datetime.time(13, 14, 15), tz_clock=datetime.time(13, 14, tzinfo=utc),
                           paris=datetime.datetime(2026, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")))
        self.assertEqual(body, {"aware": "2026-01-02T03:04:05.600000+00:00", "naive": "2026-01-02T03:04:05+01:00",
                                "day": "2026-01-02", "clock": "13:14:15", "tz_clock": "13:14:00+00:00",
                                "paris": "2026-07-01T12:00:00+02:00"})

    # Decimal and UUID become their exact strings; lazy strings are evaluated.
    def test_decimal_uuid_and_lazy_strings_become_strings(self):
        u = uuid.UUID("12345678-1234-5678-1234-567812345678")
        body = self.unpack(price=decimal.Decimal("12.50"), id=u, label=gettext_lazy("Hello"),
                           nested={"p": [decimal.Decimal("0.1")]})
        self.assertEqual(body, {"price": "12.50", "id": "12345678-1234-5678-1234-567812345678", "label": "Hello",
                                "nested": {"p": ["0.1"]}})

    # A model instance becomes its pk; tuples and sets become lists (sets sorted).
    def test_model_instances_become_pk_and_collections_become_lists(self):
        item = Item.objects.create(title="x")
        body = self.unpack(item=item, pair=(1, "a"), tags={"b", "c", "a"}, mixed={1, "a"})
        self.assertEqual(body["item"], item.pk)
        self.assertEqual(body["pair"], [1, "a"])
        self.assertEqual(body["tags"], ["a", "b", "c"])
        self.assertEqual(sorted(map(str, body["mixed"])), ["1", "a"])

    # Anything else raises a TypeError naming the path of the bad value.
    def test_unsupported_values_raise_naming_the_field(self):
        cases = [({"color": Color()}, "'color'", "Color"), ({"order": {"items": [1, 2, Color()]}}, "order.items[2]", ""),
                 ({"big": 2**63}, "'big'", "64-bit"), ({"nan": float("nan")}, "'nan'", "NaN"),
                 ({"m": {1: "x"}}, "'m'", "not a string")]
        for data, where, why in cases:
            with self.subTest(data=data), self.assertRaises(TypeError) as cm:
                pack_body(data)
            self.assertIn(where, str(cm.exception))
            self.assertIn(why, str(cm.exception))

    # Serialization errors surface from send_on_commit at once (before the commit).
    def test_send_on_commit_serializes_eagerly(self):
        with self.assertRaises(EventDataError):
            AnyKeys(x=Color()).send_on_commit()
