from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "board"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only registration here: every saved or deleted Item becomes
        # board.item.created / .updated / .deleted once its transaction
        # commits, with the keys pk (always added), title, room, created.
        # Guaranteed and retained for a day: a board tab that was closed
        # (its persistent subscription kept by the gateway) gets what it
        # missed, in order, once, when it is opened again.
        import django_telegraphy as telegraphy

        from .models import Item

        telegraphy.register_model(Item, fields=["title", "room", "created"], audience=telegraphy.PUBLIC,
                                  ttl=86400, guaranteed=True)
