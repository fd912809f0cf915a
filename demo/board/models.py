"""The board's one model. Its create/update/delete events come from
django_telegraphy.register_model (apps.py), not from code in the views: an
item added in the admin or in `manage.py shell` is pushed the same way."""
from django.db import models

# Rooms are a plain field: a browser that wants one room subscribes with
# the filter `room == "lobby"`. Nothing about rooms is configured in the
# gateway (a "channel" is just a filter).
ROOMS = [
    ("lobby", "Lobby"),
    ("kitchen", "Kitchen"),
    ("garden", "Garden"),
]


class Item(models.Model):
    title = models.CharField(max_length=200)
    room = models.CharField(max_length=32, choices=ROOMS, default="lobby")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.room})"

    def as_json(self) -> dict:
        """The item as the page renders it: the same keys and value rules as
        its telegraphy events (datetime as an ISO 8601 string)."""
        return {"pk": self.pk, "title": self.title, "room": self.room, "created": self.created.isoformat()}
