import uuid

from django.db import models


class Item(models.Model):
    """Registered in tests with register_model()."""

    title = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    uid = models.UUIDField(default=uuid.uuid4)
    owner = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        app_label = "testapp"


class Note(models.Model):
    """Registered through TELEGRAPHY["MODELS"] in settings.py."""

    text = models.CharField(max_length=100)

    class Meta:
        app_label = "testapp"
