"""Model CUD events through transaction.on_commit, captured on a real PULL
socket standing in for the ingest."""

import decimal
import uuid

from django.contrib.auth.models import User
from django.db import transaction
from django.test import TransactionTestCase

import django_telegraphy as telegraphy
from django_telegraphy import registry
from helpers import PullIngest, telegraphy_settings
from testapp.models import Item, Note


class ModelEventTests(TransactionTestCase):
    def setUp(self):
        self.ingest = PullIngest()
        self.override = telegraphy_settings(INGEST=self.ingest.endpoint)
        self.override.enable()
        self.addCleanup(self.ingest.close)
        self.addCleanup(self.override.disable)
        self.classes = telegraphy.register_model(Item, fields=["title", "price", "uid", "owner"],
                                                 audience=telegraphy.AUTHENTICATED, ttl=30)
        self.addCleanup(telegraphy.unregister_model, Item)

    def published(self, timeout=0.3):
        return [(h["topic"], b) for c, h, b in self.ingest.drain(timeout) if c == "PUBLISH"]

    # register_model declares <app_label>.<model>.created|updated|deleted
    # with the given fields plus pk, audience and ttl.
    def test_register_model_declares_three_event_types(self):
        for action in ("created", "updated", "deleted"):
            cls = registry.get(f"testapp.item.{action}")
            self.assertIs(cls, self.classes[action])
            self.assertEqual(cls.type_map(), {"name": f"testapp.item.{action}", "fields": [
                "owner", "pk", "price", "title", "uid"], "audience": "authenticated", "ttl": 30,
                "guaranteed": False, "client_publish": False})

    # create, update and delete each emit one event after commit, with the
    # fields serialized by the documented rule (FK as id, Decimal and UUID strings).
    def test_create_update_delete_emit_one_event_each(self):
        owner = User.objects.create(username="ann")
        u = uuid.uuid4()
        item = Item.objects.create(title="first", price=decimal.Decimal("9.90"), uid=u, owner=owner)
        item.title = "second"
        item.save()
        pk = item.pk
        item.delete()
        self.assertEqual(self.published(), [
            ("testapp.item.created", {"pk": pk, "title": "first", "price": "9.90", "uid": str(u), "owner": owner.pk}),
            ("testapp.item.updated", {"pk": pk, "title": "second", "price": "9.90", "uid": str(u),
                                      "owner": owner.pk}),
            ("testapp.item.deleted", {"pk": pk, "title": "second", "price": "9.90", "uid": str(u),
                                      "owner": owner.pk}),
        ])

    # Inside a transaction the events wait for the commit.
    def test_events_wait_for_the_commit(self):
        with transaction.atomic():
            Item.objects.create(title="in tx")
            self.assertEqual(self.published(0.2), [])
        self.assertEqual([t for t, _ in self.published()], ["testapp.item.created"])

    # A rolled-back transaction emits nothing (creates, updates, deletes).
    def test_rollback_emits_nothing(self):
        kept = Item.objects.create(title="kept")
        self.published()
        with self.assertRaises(RuntimeError):
            with transaction.atomic():
                Item.objects.create(title="gone")
                kept.title = "changed"
                kept.save()
                kept.delete()
                raise RuntimeError("roll back")
        self.assertEqual(self.published(0.3), [])
        self.assertTrue(Item.objects.filter(title="kept").exists())

    # A rolled-back savepoint drops its events; the outer commit sends the rest.
    def test_rolled_back_savepoint_emits_only_the_outer_changes(self):
        with transaction.atomic():
            Item.objects.create(title="outer")
            try:
                with transaction.atomic():
                    Item.objects.create(title="inner")
                    raise RuntimeError
            except RuntimeError:
                pass
        self.assertEqual([b["title"] for _, b in self.published()], ["outer"])

    # Bulk operations: update() and bulk_create() emit nothing (no signals);
    # a queryset delete() emits one .deleted per row.
    def test_bulk_update_and_create_emit_nothing_queryset_delete_emits_per_row(self):
        Item.objects.bulk_create([Item(title="a"), Item(title="b")])
        Item.objects.all().update(title="c")
        self.assertEqual(self.published(0.3), [])
        Item.objects.all().delete()
        self.assertEqual([(t, b["title"]) for t, b in self.published()],
                         [("testapp.item.deleted", "c"), ("testapp.item.deleted", "c")])

    # TELEGRAPHY["MODELS"] in settings registered testapp.Note at startup.
    def test_models_setting_registers_at_startup(self):
        note = Note.objects.create(text="hi")
        self.assertEqual(self.published(), [("testapp.note.created", {"pk": note.pk, "text": "hi"})])
        self.assertEqual(registry.get("testapp.note.created").fields, ["pk", "text"])

    # to_users=callable(instance) addresses each model event.
    def test_to_users_callable_addresses_the_event(self):
        owner = User.objects.create(username="bob")
        telegraphy.register_model(Item, fields=["title"], to_users=lambda item: [item.owner] if item.owner else None)
        Item.objects.create(title="mine", owner=owner)
        Item.objects.create(title="everyone's")
        got = [(h.get("to_users"), b["title"]) for c, h, b in self.ingest.drain(0.3) if c == "PUBLISH"]
        self.assertEqual(got, [([str(owner.pk)], "mine"), (None, "everyone's")])

    # Loading fixtures (raw saves) emits nothing.
    def test_raw_saves_emit_nothing(self):
        from django.db.models.signals import post_save
        item = Item(title="raw")
        post_save.send(sender=Item, instance=item, created=True, raw=True, using="default")
        self.assertEqual(self.published(0.2), [])
